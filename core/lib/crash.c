/* crash.c -- the fatal-signal line. The handler uses only async-signal-safe
 * calls (write, clock_gettime, syscall, sigaction, raise) and formats by
 * hand: no printf, no malloc, no locks. */
#include "lib/crash.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Thread_local const crash_scope *current;

/* Set once by crash_install() before any other thread exists; only read
 * afterwards. */
static int crash_fd = 2;
static long loop_tid;

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};

void crash_enter(crash_scope *s) {
  s->prev = current;
  current = s;
}

void crash_leave(const crash_scope *s) {
  current = s->prev;
}

const crash_scope *crash_current(void) {
  return current;
}

/* A line being built in a fixed buffer; anything past its end is dropped. */
typedef struct line {
  char b[1024];
  size_t n;
} line;

static void put(line *l, const char *s) {
  for (; s != NULL && *s != '\0' && l->n < sizeof(l->b) - 1; s++)
    l->b[l->n++] = *s;
}

/* A value from a plugin: spaces, quotes, '=' and control bytes become '_'
 * so the line stays one line of key=value fields; NULL or "" is "-". */
static void put_value(line *l, const char *s) {
  size_t k;
  if (s == NULL || *s == '\0') {
    put(l, "-");
    return;
  }
  for (k = 0; s[k] != '\0' && k < 200 && l->n < sizeof(l->b) - 1; k++) {
    unsigned char c = (unsigned char)s[k];
    l->b[l->n++] = c <= ' ' || c == '"' || c == '=' || c == 0x7f ? '_' : (char)c;
  }
}

static void put_uint(line *l, uint64_t v, unsigned width, unsigned base) {
  char d[24];
  unsigned k = 0;
  do {
    d[k++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v != 0 && k < sizeof(d));
  while (k < width && k < sizeof(d))
    d[k++] = '0';
  while (k > 0 && l->n < sizeof(l->b) - 1)
    l->b[l->n++] = d[--k];
}

/* ts= as log.c writes it, from the days since 1970 without gmtime() (not
 * async-signal-safe). */
static void put_time(line *l) {
  struct timespec ts;
  int64_t days, rem, y, m, d, era, doe, yoe, doy, mp;
  clock_gettime(CLOCK_REALTIME, &ts);
  days = ts.tv_sec / 86400;
  rem = ts.tv_sec % 86400;
  /* Howard Hinnant's civil_from_days. */
  days += 719468;
  era = (days >= 0 ? days : days - 146096) / 146097;
  doe = days - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  put(l, "ts=");
  put_uint(l, (uint64_t)y, 4, 10);
  put(l, "-");
  put_uint(l, (uint64_t)m, 2, 10);
  put(l, "-");
  put_uint(l, (uint64_t)d, 2, 10);
  put(l, "T");
  put_uint(l, (uint64_t)(rem / 3600), 2, 10);
  put(l, ":");
  put_uint(l, (uint64_t)(rem / 60 % 60), 2, 10);
  put(l, ":");
  put_uint(l, (uint64_t)(rem % 60), 2, 10);
  put(l, ".");
  put_uint(l, (uint64_t)(ts.tv_nsec / 1000000), 3, 10);
  put(l, "Z ");
}

static const char *signal_name(int sig) {
  switch (sig) {
  case SIGSEGV:
    return "SIGSEGV";
  case SIGBUS:
    return "SIGBUS";
  case SIGABRT:
    return "SIGABRT";
  case SIGFPE:
    return "SIGFPE";
  case SIGILL:
    return "SIGILL";
  default:
    return "?";
  }
}

static void on_fatal(int sig, siginfo_t *si, void *uctx) {
  int saved = errno;
  const crash_scope *s = current;
  line l;
  ssize_t k;
  size_t off = 0;
  (void)uctx;

  l.n = 0;
  put_time(&l);
  put(&l, "level=fatal event=crash signal=");
  put(&l, signal_name(sig));
  if (s != NULL) {
    put(&l, " plugin=");
    put_value(&l, s->plugin);
    put(&l, " version=");
    put_value(&l, s->version);
    put(&l, " ");
    put(&l, s->kind != NULL ? s->kind : "in");
    put(&l, "=");
    put_value(&l, s->name);
  } else {
    put(&l, " plugin=-");
  }
  put(&l, " thread=");
  put(&l, syscall(SYS_gettid) == loop_tid ? "loop" : "worker");
  if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL) {
    put(&l, " addr=0x");
    put_uint(&l, (uint64_t)(uintptr_t)si->si_addr, 1, 16);
  }
  put(&l, "\n");
  while (off < l.n && ((k = write(crash_fd, l.b + off, l.n - off)) > 0 || errno == EINTR))
    off += k > 0 ? (size_t)k : 0;
  errno = saved;
  /* SA_RESETHAND put the default action back: raised again, the signal is
   * delivered when this handler returns, and the process dies of it. */
  raise(sig);
}

int crash_install(int log_fd) {
  static char alt[64 * 1024]; /* written only by the kernel, on a crash */
  struct sigaction sa;
  stack_t st;
  size_t i;

  crash_fd = log_fd;
  loop_tid = syscall(SYS_gettid);
  memset(&st, 0, sizeof(st));
  st.ss_sp = alt;
  st.ss_size = sizeof(alt);
  if (sigaltstack(&st, NULL) < 0)
    return -errno;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
    if (sigaction(fatal_signals[i], &sa, NULL) < 0)
      return -errno;
  return 0;
}
