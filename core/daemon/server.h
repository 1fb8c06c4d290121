/* server.h -- the one server struct: every piece of mutable state of the
 * daemon lives here, owned by the loop thread. */
#ifndef MCPD_SERVER_H
#define MCPD_SERVER_H

#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "daemon/access_log.h"
#include "mcp/call.h"
#include "lib/config.h"
#include "mcp/dispatch.h"
#include "net/http_client.h"
#include "net/auth.h"
#include "net/http_server.h"
#include "transport/auth_gate.h"
#include "transport/legacy_sse.h"
#include "lib/log.h"
#include "net/metrics.h"
#include "transport/mcp_http.h"
#include "plugin/plugin_env.h"
#include "plugin/plugin_loader.h"
#include "mcp/registry.h"
#include "mcp/session.h"
#include "transport/stdio_transport.h"

#include "lib/version.h"

typedef struct server server;

struct server {
  uv_loop_t loop;
  config cfg;
  config_args args; /* the command line, re-applied on each reload */
  /* SIGHUP: set by main.c (reload_run), so the server does not depend on
   * the reload module above it. NULL: SIGHUP is ignored. */
  int (*on_reload)(server *srv);
  logger log;
  registry reg;
  plugin_env penv;    /* the plugin layer's view of the server */
  plugin_set plugins; /* the loaded plugin versions */
  call_engine calls;
  dispatch disp;
  session_table sessions;
  mcp_http mcp;
  legacy_sse legacy;
  stdio_transport stdio;
  http_server http;
  char bound[80]; /* "127.0.0.1:8000" */
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_timer_t stop_timer;
  uint64_t stop_deadline; /* loop time when in-flight calls get cancelled */
  uint64_t started_ms;
  uint64_t reloads, reload_failures;
  char last_reload_error[512]; /* "" when the last reload went well */
  metrics metrics;
  access_log access;       /* request lines (HTTP only) */
  http_client http_client; /* plugins' outgoing HTTP (host->http_request) */
  auth_verifier auth;      /* bearer tokens -> principals (the "auth" section) */
  auth_gate gate;          /* the HTTP side of it, for every route that needs it */
  int stopping;
  int stop_cancelled; /* the shutdown deadline passed and calls were cancelled */
  int exit_code;
  /* What server_init() got through, for server_abort(). */
  unsigned have_loop : 1, have_calls : 1, have_plugins : 1, have_sessions : 1, have_mcp : 1,
      have_http : 1, have_stdio : 1, have_auth : 1;
};

/* Sets the server up from cfg (stolen: the server owns it from now on):
 * loads the plugins, binds the listener. args (borrowed, must outlive the
 * server) is how SIGHUP rebuilds the configuration. Returns 0, or a
 * negative error that has been logged. */
int server_init(server *srv, config *cfg, const config_args *args);

/* Pushes the settings in srv->cfg that can change while running (log level,
 * limits, timeouts) into the modules that copied them. */
void server_apply_config(server *srv);

/* Sends list_changed for each list with changed[k] set to every session
 * that has a channel for it. */
void server_notify_lists(server *srv, const int changed[REG_LISTS]);

/* Reads and checks the TLS files cfg names (borrowed) into *out (owned;
 * NULL when cfg has no tls settings). Returns 0, or a negative error with
 * a sentence naming the setting and the file in err (size n). */
int server_tls_load(const config *cfg, tls_ctx **out, char *err, size_t n);

/* Undoes a server_init() that failed, freeing everything. */
void server_abort(server *srv);

/* Runs the loop until SIGTERM/SIGINT have finished a graceful stop.
 * Returns the process exit code. */
int server_run(server *srv);

/* Loads the configuration's plugins without serving, prints what would be
 * served to out, and returns 0 if everything loaded (for --check). */
int server_check(config *cfg, FILE *out);

#endif
