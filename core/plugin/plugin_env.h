/* plugin_env.h -- what the plugin layer gets from the daemon: the loop,
 * the log, the registry and call engine it registers into and runs calls
 * on, the outgoing HTTP client, the settings, and one callback upward. The
 * plugin layer never sees the server struct. Loop thread only. */
#ifndef MCPD_PLUGIN_ENV_H
#define MCPD_PLUGIN_ENV_H

#include <uv.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "mcp/call.h"
#include "mcp/dispatch.h"
#include "mcp/registry.h"
#include "net/http_client.h"

typedef struct plugin_env plugin_env;
struct plugin_set;

struct plugin_env {
  /* Borrowed from the daemon; each outlives the environment. */
  uv_loop_t *loop;
  const logger *log;
  registry *reg;       /* the registry in service */
  call_engine *calls;  /* where calls run */
  http_client *http;   /* plugins' outgoing HTTP (host->http_request) */
  const config *cfg;   /* the settings; each plugin's own object comes from it */
  const int *stopping; /* non-zero once mcpd is stopping: no new work */
  /* Upward: a plugin changed its registrations after init() (update_commit),
   * and changed[k] says which of the REG_LISTS lists changed. The daemon
   * decides whom to tell. */
  void (*lists_changed)(plugin_env *env, const int changed[REG_LISTS]);
  /* Upward, NULL unless set: a plugin logged a line at error level or
   * above (host->log). `mcpd --check` sets it, so that a plugin can fail
   * the check with its reasons, such as http_backend's documents that do
   * not load. ANY thread (host->log is); plugin and msg are borrowed for
   * the call. */
  void (*plugin_error)(plugin_env *env, const char *plugin, const char *msg);
  void *arg;                  /* the daemon's */
  struct plugin_set *plugins; /* the loaded versions (the daemon's) */
  /* The dispatcher (borrowed; NULL in tests): the call whose handler runs
   * (dispatch.running) tells host->queue_work() which session the work is
   * for, so that no session holds more than its share of the pool. */
  const dispatch *disp;
  /* host_api.c's own: the sessions with work in the pool or waiting for
   * it (session id -> its record), and the one whose after_work runs. */
  strmap work_owners;
  void *work_current;
};

#endif
