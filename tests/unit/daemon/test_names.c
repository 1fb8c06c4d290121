/* test_names.c -- every core header compiles together with the system
 * headers whose names are most often taken (<syslog.h>'s LOG_*, <sys/queue.h>'s
 * LIST_*, <signal.h>, <netdb.h>, llhttp, libuv), in both orders. The list of
 * core headers is generated from every core/<layer>/ header, so a new header is
 * covered as soon as it exists; a clash is a compile error. */
#include <netdb.h>
#include <signal.h>
#include <sys/queue.h>
#include <syslog.h>

#include "all_core_headers.h"

#include <llhttp.h>
#include <uv.h>

#include "test.h"

int main(void) {
  /* The core's levels and syslog's are different names for different
   * scales; both stay usable side by side. */
  CHECK(LOGLVL_ERROR > LOGLVL_WARN && LOGLVL_WARN > LOGLVL_INFO && LOGLVL_INFO > LOGLVL_DEBUG);
  CHECK(LOG_ERR < LOG_WARNING && LOG_WARNING < LOG_INFO);
  CHECK(log_level_parse("error") == LOGLVL_ERROR);
  CHECK(strcmp(log_level_name(LOGLVL_WARN), "warn") == 0);
  TEST_MAIN_END();
}
