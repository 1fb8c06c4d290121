/* crash.h -- one log line when mcpd dies of a fatal signal (SIGSEGV,
 * SIGBUS, SIGABRT, SIGFPE, SIGILL), naming the plugin code that was
 * running on the thread that crashed:
 *   ts=... level=fatal event=crash signal=SIGSEGV plugin=boom version=1.0
 *     tool=explode thread=worker addr=0x0
 * then the signal is raised again with its default action, so the process
 * still dies the way it would have (a core dump where enabled, and
 * systemd's Restart=on-failure brings it back).
 *
 * Whoever calls into plugin code marks it with crash_enter()/crash_leave()
 * around the call. The mark is thread-local: the one piece of state outside
 * the server struct, because a signal handler has no other way to find
 * out what its thread was doing. */
#ifndef MCPD_CRASH_H
#define MCPD_CRASH_H

/* What a thread is running. Every string is borrowed and must stay valid
 * until crash_leave(); NULL prints as "-". */
typedef struct crash_scope {
  const char *plugin;
  const char *version;
  const char *kind; /* "tool", "resource", "prompt", "completion", "work", "init", ... */
  const char *name; /* the tool, URI, ... */
  const struct crash_scope *prev;
} crash_scope;

/* Installs the handlers (with an alternate stack for the calling thread,
 * so a stack overflow there is reported too). log_fd is where the line
 * goes (stderr: 2). Call once, from the loop thread, before any worker
 * thread starts: that thread is reported as thread=loop, every other one
 * as thread=worker. Returns 0 or a negative errno. */
int crash_install(int log_fd);

/* Marks s (borrowed, usually on the caller's stack) as what this thread
 * runs, until crash_leave(s). Scopes nest. Any thread. */
void crash_enter(crash_scope *s);
void crash_leave(const crash_scope *s);

/* What this thread runs now (borrowed, valid until its crash_leave()), or
 * NULL. */
const crash_scope *crash_current(void);

#endif
