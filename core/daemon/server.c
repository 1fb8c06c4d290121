/* server.c -- wiring: the loop, the listener, routing, signals, and the
 * graceful stop. */
#include "daemon/server.h"

#include "plugin/host_api.h"
#include "net/http_util.h"
#include "mcp/protocol.h"
#include "daemon/sdnotify.h"
#include "lib/crash.h"
#include "lib/error.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <sys/random.h>
#include <fcntl.h>
#include <limits.h>
#include <llhttp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- routing ---------------------------------------------------------------- */

static void healthz(server *srv, http_req *req) {
  json_t *body, *plugins;
  mcpd_ctx *ctx;
  list_node *n;
  char *text;

  if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
    http_respond(req, 405, "Allow: GET, HEAD\r\nContent-Type: text/plain\r\n",
                 "405 Method Not Allowed: /healthz takes GET\n", 43);
    return;
  }
  plugins = json_array();
  for (n = srv->plugins.active.next; n != &srv->plugins.active; n = n->next) {
    ctx = list_entry(n, mcpd_ctx, link);
    json_array_append_new(plugins,
                          json_pack("{s:s,s:s}", "name", ctx->name, "version", ctx->version));
  }
  body = json_pack(
      "{s:s,s:s,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s?}", "status", "ok", "version", MCPD_VERSION,
      "uptime_s", (json_int_t)((uv_now(&srv->loop) - srv->started_ms) / 1000), "plugins", plugins,
      "tools", (json_int_t)srv->reg.lists[REG_TOOL].count, "resources",
      (json_int_t)(srv->reg.lists[REG_RESOURCE].count + srv->reg.lists[REG_TEMPLATE].count),
      "prompts", (json_int_t)srv->reg.lists[REG_PROMPT].count, "sessions",
      (json_int_t)srv->sessions.count, "connections", (json_int_t)srv->http.n_conns, "reloads",
      (json_int_t)srv->reloads, "reload_failures", (json_int_t)srv->reload_failures,
      "last_reload_error", srv->last_reload_error[0] ? srv->last_reload_error : NULL);
  text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  if (text == NULL)
    http_respond(req, 500, "Content-Type: text/plain\r\n", "out of memory\n", 14);
  else
    http_respond(req, 200, "Content-Type: application/json\r\nCache-Control: no-store\r\n", text,
                 strlen(text));
  free(text);
  json_decref(body);
}

static void metrics_page(server *srv, http_req *req) {
  metrics_gauges g;
  unsigned active = 0, draining = 0;
  list_node *n;
  buf out;

  if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
    http_respond(req, 405, "Allow: GET, HEAD\r\nContent-Type: text/plain\r\n",
                 "405 Method Not Allowed: /metrics takes GET\n", 43);
    return;
  }
  for (n = srv->plugins.active.next; n != &srv->plugins.active; n = n->next)
    active++;
  for (n = srv->plugins.draining.next; n != &srv->plugins.draining; n = n->next)
    draining++;
  memset(&g, 0, sizeof(g));
  g.uptime_s = (double)(uv_now(&srv->loop) - srv->started_ms) / 1000.0;
  g.version = MCPD_VERSION;
  g.connections = srv->http.n_conns;
  g.sessions = srv->sessions.count;
  g.streams_open = srv->mcp.hub.n_attached;
  g.streams_detached = srv->mcp.hub.n_streams - srv->mcp.hub.n_attached;
  g.calls_in_flight = srv->calls.n_live;
  g.plugins_active = active;
  g.plugins_draining = draining;
  g.reloads = srv->reloads;
  g.reload_failures = srv->reload_failures;
  g.connections_total = srv->http.stats.connections_total;
  g.connections_rejected = srv->http.stats.rejected_connections;
  g.http_parse_errors = srv->http.stats.parse_errors;
  g.connections_evicted = srv->http.stats.evicted_connections;
  g.streams_refused = srv->http.stats.refused_streams;
  g.slow_clients = srv->http.stats.slow_clients;
  g.tls = srv->http.tls != NULL;
  g.tls_handshakes = srv->http.stats.tls_handshakes;
  g.tls_handshake_failures = srv->http.stats.tls_handshake_failures;
  if (srv->have_auth && srv->cfg.auth != NULL) {
    g.auth = 1;
    g.auth_ok = srv->auth.stats.ok;
    g.auth_refused = srv->auth.stats.refused;
    g.auth_unavailable = srv->auth.stats.unavailable;
    g.auth_cache_hits = srv->auth.stats.cache_hits;
    g.auth_cache_entries = srv->auth.cache.count;
    g.auth_forbidden = srv->gate.stats.forbidden;
    g.auth_rate_limited = srv->gate.stats.rate_limited;
    g.auth_jwks_fetches = srv->auth.stats.jwks_fetches;
    g.auth_jwks_failures = srv->auth.stats.jwks_failures;
    g.auth_introspections = srv->auth.stats.introspections;
    g.auth_introspection_failures = srv->auth.stats.introspection_failures;
  }
  g.client_requests = srv->disp.stats.client_requests;
  g.client_request_timeouts = srv->disp.stats.client_request_timeouts;
  g.call_timeouts = srv->disp.stats.timeouts;
  g.cancellations = srv->disp.stats.cancellations;
  g.tasks = dispatch_task_count(&srv->disp);
  g.tasks_created = srv->disp.stats.tasks_created;
  g.tasks_refused = srv->disp.stats.tasks_refused;
  g.tasks_expired = srv->disp.stats.tasks_expired;
  g.backends = http_client_stats(&srv->http_client, &g.n_backends);
  memset(&out, 0, sizeof(out));
  if (metrics_render(&srv->metrics, &g, &out) < 0)
    http_respond(req, 500, "Content-Type: text/plain\r\n", "out of memory\n", 14);
  else
    http_respond(req, 200,
                 "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                 "Cache-Control: no-store\r\n",
                 out.data, out.len);
  buf_free(&out);
}

/* mcpd's own pages check Origin and Host like the MCP endpoints: through
 * DNS rebinding, a web page could otherwise read what they tell about the
 * server. Returns 1, or 0 after answering the refusal. */
/* mcpd's own pages pass the Origin and Host checks (any_origin: the Host
 * check only), else the refusal is answered. 1 when the page may be
 * served. */
static int page_allowed(server *srv, http_req *req, int any_origin) {
  char msg[300];
  int status = any_origin ? mcp_http_check_host(&srv->mcp, req, msg, sizeof(msg) - 1)
                          : mcp_http_check(&srv->mcp, req, msg, sizeof(msg) - 1);
  if (status == 0)
    return 1;
  strcat(msg, "\n");
  http_respond(req, status, "Content-Type: text/plain; charset=utf-8\r\n", msg, strlen(msg));
  return 0;
}

static void metrics_resume(void *arg, http_req *req, principal *p);

/* /metrics while auth.protect_metrics is on: a valid token, with the
 * scope when one is named. 1 when the page may be served now. */
static int metrics_allowed(server *srv, http_req *req) {
  const auth_config *a = srv->cfg.auth;
  principal *p = NULL;
  int ok;
  if (a == NULL || !a->protect_metrics || !srv->have_auth)
    return 1;
  if (auth_gate_check(&srv->gate, req, "", metrics_resume, srv, &p) != AUTH_GATE_OK)
    return 0;
  ok = a->metrics_scope == NULL || principal_has_all(p, a->metrics_scope);
  if (!ok)
    auth_gate_forbid(&srv->gate, req, "", a->metrics_scope, "GET /metrics", 0, NULL);
  principal_unref(p);
  return ok;
}

static void metrics_resume(void *arg, http_req *req, principal *p) {
  server *srv = arg;
  const char *scope = srv->cfg.auth ? srv->cfg.auth->metrics_scope : NULL;
  if (scope != NULL && !principal_has_all(p, scope))
    auth_gate_forbid(&srv->gate, req, "", scope, "GET /metrics", 0, NULL);
  else
    metrics_page(srv, req);
}

/* Every finished request: counted, and logged unless access_log is off. */
static void on_done(const http_req *req, void *arg) {
  server *srv = arg;
  metrics_http(&srv->metrics, req->route, req->status);
  if (srv->cfg.access_log)
    access_log_add(&srv->access, req);
}

static void on_request(http_req *req, void *arg) {
  server *srv = arg;
  req->route = metrics_route(req->path, req->path_len);
  http_req_tag(req->tag_path, sizeof(req->tag_path), req->path, req->path_len);
  if (req->path_len == 4 && memcmp(req->path, "/mcp", 4) == 0) {
    mcp_http_handle(&srv->mcp, req);
  } else if (strcmp(req->path, "/sse") == 0) {
    legacy_sse_get(&srv->legacy, req, NULL);
  } else if (strcmp(req->path, "/messages") == 0 || strcmp(req->path, "/messages/") == 0) {
    legacy_sse_post(&srv->legacy, req);
  } else if (strcmp(req->path, "/healthz") == 0) {
    if (page_allowed(srv, req, 0))
      healthz(srv, req);
  } else if (strcmp(req->path, "/metrics") == 0) {
    if (page_allowed(srv, req, 0) && metrics_allowed(srv, req))
      metrics_page(srv, req);
  } else if (auth_gate_is_metadata(req)) {
    /* Public, for any origin: clients read it before they have a token,
     * browsers from their own origin. Host is still checked. */
    if (page_allowed(srv, req, 1))
      auth_gate_metadata(&srv->gate, req);
  } else {
    static const char body[] = "404 Not Found: the MCP endpoint is /mcp (or /sse for HTTP+SSE)\n";
    http_respond(req, 404, "Content-Type: text/plain; charset=utf-8\r\n", body, sizeof(body) - 1);
  }
}

static void on_session_removed(session_table *t, session *s, const char *why, void *arg) {
  server *srv = arg;
  (void)t;
  if (strcmp(why, "expired") == 0 || strcmp(why, "evicted") == 0)
    log_msg(&srv->log, LOGLVL_INFO,
            why[0] == 'e' && why[1] == 'x' ? "session_expired" : "session_evicted", "session=%s",
            s->id);
  mcp_http_session_removed(&srv->mcp, s);
}

/* ---- stopping --------------------------------------------------------------- */

/* After the shutdown deadline cancelled what was running: how long the
 * cancelled calls get to complete and their answers to go out. */
#define STOP_GRACE_MS 500

static void stop_plugin_timers(server *srv) {
  list_node *lists[2] = {&srv->plugins.active, &srv->plugins.draining}, *n;
  int i;
  for (i = 0; i < 2; i++) {
    for (n = lists[i]->next; n != lists[i]; n = n->next)
      host_api_stop_timers(list_entry(n, mcpd_ctx, link));
  }
}

static void close_rest(server *srv) {
  unsigned stuck;
  if (srv->have_auth)
    auth_verifier_close(&srv->auth); /* requests waiting for their tokens are answered */
  legacy_sse_close(&srv->legacy);
  if (srv->have_stdio)
    stdio_close(&srv->stdio);
  session_table_close(&srv->sessions);
  mcp_http_close(&srv->mcp);
  call_cancel_all(&srv->calls);
  /* Plugins' HTTP requests end with -ESHUTDOWN and their timers stop:
   * neither may keep a plugin loaded past this point. */
  http_client_close(&srv->http_client);
  stop_plugin_timers(srv);
  /* Nor may work that still waits for its session's share of the pool. */
  host_api_cancel_work(&srv->penv);
  /* A plugin may have completed from its cancel callback: process it. */
  call_engine_drain(&srv->calls);
  stuck = plugin_unload_all(&srv->penv);
  if (stuck > 0) {
    /* A plugin thread may still complete a call: tearing the loop down
     * under it would crash. Leave now instead. */
    log_msg(&srv->log, LOGLVL_WARN, "exit_with_calls_running", "plugins=%u", stuck);
    _exit(srv->exit_code);
  }
  plugin_set_close(&srv->plugins);
  dispatch_close(&srv->disp);
  call_engine_close(&srv->calls);
  uv_close((uv_handle_t *)&srv->sig_term, NULL);
  uv_close((uv_handle_t *)&srv->sig_int, NULL);
  uv_close((uv_handle_t *)&srv->sig_hup, NULL);
  uv_close((uv_handle_t *)&srv->stop_timer, NULL);
  access_log_close(&srv->access);
}

static void http_closed(http_server *hs) {
  server *srv = (server *)((char *)hs - offsetof(server, http));
  close_rest(srv);
}

/* Polls until in-flight calls and open responses are done, or the
 * deadline passes; then closes everything. */
static void stop_tick(uv_timer_t *t) {
  server *srv = t->data;
  /* Wait for calls in flight and for responses still being written (drain
   * closes each connection once its last response is out). */
  int busy = srv->calls.n_live > 0 || (srv->have_http && srv->http.n_conns > 0) ||
             (srv->have_stdio && stdio_busy(&srv->stdio));
  if (busy && uv_now(&srv->loop) < srv->stop_deadline)
    return;
  if (srv->calls.n_live > 0 && !srv->stop_cancelled) {
    log_msg(&srv->log, LOGLVL_WARN, "shutdown_deadline", "calls_cancelled=%u", srv->calls.n_live);
    call_cancel_all(&srv->calls);
    /* Plugins complete cancelled calls asynchronously, and their answers
     * still have to be written: a short grace before closing. */
    srv->stop_cancelled = 1;
    srv->stop_deadline = uv_now(&srv->loop) + STOP_GRACE_MS;
    return;
  }
  uv_timer_stop(t);
  if (srv->have_http)
    http_server_close(&srv->http, http_closed);
  else
    close_rest(srv);
}

static void begin_stop(server *srv, const char *why) {
  if (srv->stopping)
    return;
  srv->stopping = 1;
  sdnotify("STOPPING=1");
  log_msg(&srv->log, LOGLVL_INFO, "shutting_down", "signal=%s in_flight=%u connections=%u", why,
          srv->calls.n_live, srv->http.n_conns);
  if (srv->have_http) {
    http_server_stop_listening(&srv->http);
    http_server_drain(&srv->http);
  }
  if (srv->have_stdio)
    stdio_drain(&srv->stdio);
  mcp_http_drain(&srv->mcp);
  srv->stop_deadline = uv_now(&srv->loop) + srv->cfg.shutdown_timeout_ms;
  uv_timer_start(&srv->stop_timer, stop_tick, 0, 50);
}

static void on_signal(uv_signal_t *h, int signum) {
  server *srv = h->data;
  if (signum == SIGHUP) {
    if (!srv->stopping) {
      sdnotify_reloading();
      if (srv->on_reload != NULL)
        srv->on_reload(srv);
      sdnotify("READY=1");
    }
    return;
  }
  if (srv->stopping) {
    log_msg(&srv->log, LOGLVL_WARN, "shutdown_forced", "signal=%s",
            signum == SIGINT ? "INT" : "TERM");
    _exit(1);
  }
  begin_stop(srv, signum == SIGINT ? "INT" : "TERM");
}

/* ---- start-up --------------------------------------------------------------- */

/* The default plugin directory: ./plugins next to the binary when it runs
 * from a build tree, else the installed location. */
static void default_plugins_dir(char *out, size_t n) {
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  struct stat st;
  if (len > 0) {
    char *slash;
    exe[len] = '\0';
    slash = strrchr(exe, '/');
    if (slash != NULL && (size_t)(slash - exe) + sizeof("/plugins") <= n) {
      memcpy(out, exe, (size_t)(slash - exe));
      memcpy(out + (slash - exe), "/plugins", sizeof("/plugins"));
      if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
        return;
    }
  }
  snprintf(out, n, "%s", MCPD_DEFAULT_PLUGIN_DIR);
}

static int is_loopback_host(const char *host) {
  return http_util_is_loopback_name(host, strlen(host));
}

static const call_plugin_ops plugin_ops = {
    .ref = plugin_ref,
    .unref = plugin_unref,
    .name = plugin_name,
    .version = plugin_version,
};

static const char *const list_methods[REG_LISTS] = {
    "notifications/tools/list_changed",
    "notifications/resources/list_changed",
    "notifications/prompts/list_changed",
};

void server_notify_lists(server *srv, const int changed[REG_LISTS]) {
  int k;
  for (k = 0; k < REG_LISTS; k++)
    if (changed[k])
      dispatch_notify_all(&srv->disp, list_methods[k]);
}

/* A plugin changed its registrations after init(). */
static void lists_changed(plugin_env *env, const int changed[REG_LISTS]) {
  server_notify_lists(env->arg, changed);
}

/* The parts both serving and --check need: loop, log, registry, calls,
 * plugins. plugin_error: see plugin_env (NULL when serving). */
static int init_core(server *srv, config *cfg,
                     void (*plugin_error)(plugin_env *env, const char *plugin, const char *msg)) {
  char dir[PATH_MAX], threads[16];
  plugin_scan_result scan;
  int r;

  memset(srv, 0, sizeof(*srv));
  srv->cfg = *cfg;
  memset(cfg, 0, sizeof(*cfg));
  log_init(&srv->log, srv->cfg.log_level, 2);
  /* Before any plugin code runs and before the worker pool starts. */
  r = crash_install(2);
  if (r < 0)
    log_msg(&srv->log, LOGLVL_WARN, "crash_handlers_not_installed", "error=%s", error_strerror(r));
  /* The worker pool is sized on first use, from the environment. */
  snprintf(threads, sizeof(threads), "%u", srv->cfg.worker_threads);
  setenv("UV_THREADPOOL_SIZE", threads, 1);
  r = uv_loop_init(&srv->loop);
  if (r < 0) {
    log_msg(&srv->log, LOGLVL_ERROR, "loop_init_failed", "error=%s", uv_strerror(r));
    return r;
  }
  srv->have_loop = 1;
  srv->started_ms = uv_now(&srv->loop);
  http_client_init(&srv->http_client, &srv->loop, &srv->log, NULL);
  registry_init(&srv->reg);
  metrics_init(&srv->metrics);
  /* Sessions come first: the dispatcher walks them for notifications. */
  session_table_init(&srv->sessions, &srv->loop, srv->cfg.max_sessions, srv->cfg.session_idle_ms,
                     on_session_removed, srv);
  srv->sessions.max_per_client = srv->cfg.max_sessions_per_client;
  memcpy(srv->sessions.prefix, srv->cfg.session_id_prefix, sizeof(srv->sessions.prefix));
  srv->have_sessions = 1;
  r = dispatch_init(&srv->disp, &srv->loop, &srv->reg, &srv->calls, &srv->sessions, &srv->cfg,
                    &srv->log);
  if (r < 0)
    return r;
  srv->disp.metrics = &srv->metrics;
  if (srv->cfg.have_state_key)
    memcpy(srv->disp.state_key, srv->cfg.state_key, sizeof(srv->disp.state_key));
  call_engine_set_plugin_ops(&srv->calls, &plugin_ops);
  srv->have_calls = 1;
  if (srv->cfg.plugins_dir == NULL) {
    default_plugins_dir(dir, sizeof(dir));
    if (config_set_string(&srv->cfg.plugins_dir, dir) < 0)
      return -ENOMEM;
  }
  config_runtime_dir(&srv->cfg, dir, sizeof(dir));
  if (config_set_string(&srv->cfg.runtime_dir, dir) < 0)
    return -ENOMEM;
  srv->penv.loop = &srv->loop;
  srv->penv.log = &srv->log;
  srv->penv.reg = &srv->reg;
  srv->penv.calls = &srv->calls;
  srv->penv.http = &srv->http_client;
  srv->penv.cfg = &srv->cfg;
  srv->penv.stopping = &srv->stopping;
  srv->penv.lists_changed = lists_changed;
  srv->penv.plugin_error = plugin_error;
  srv->penv.arg = srv;
  srv->penv.plugins = &srv->plugins;
  srv->penv.disp = &srv->disp; /* whose work host->queue_work() queues */
  r = plugin_set_init(&srv->penv, srv->cfg.runtime_dir, srv->cfg.drain_timeout_ms);
  if (r < 0)
    return r;
  srv->have_plugins = 1;
  return plugin_scan(&srv->penv, srv->cfg.plugins_dir, &scan);
}

/* The HTTP limits as the config says. */
static void http_limits_from(const config *c, http_limits *lim) {
  memset(lim, 0, sizeof(*lim));
  lim->max_header_bytes = c->max_header_bytes;
  lim->max_headers = c->max_headers;
  lim->max_body_bytes = c->max_body_bytes;
  lim->max_connections = c->max_connections;
  lim->max_conns_per_client = c->max_connections_per_client;
  lim->max_streams_per_client = c->max_streams_per_client;
  lim->max_unread_bytes = c->max_unread_bytes;
  lim->max_pipelined = c->max_pipelined;
  lim->max_write_queue_bytes = c->max_write_queue_bytes;
  lim->header_timeout_ms = c->header_timeout_ms;
  lim->request_timeout_ms = c->request_timeout_ms;
  lim->keepalive_timeout_ms = c->keepalive_timeout_ms;
  lim->send_timeout_ms = c->send_timeout_ms;
  lim->tls_handshake_timeout_ms = c->tls_handshake_timeout_ms;
}

int server_tls_load(const config *cfg, tls_ctx **out, char *err, size_t n) {
  *out = NULL;
  if (cfg->tls_cert_file == NULL)
    return 0;
  return tls_ctx_new(cfg->tls_cert_file, cfg->tls_key_file, cfg->tls_client_ca_file, out, err, n);
}

void server_apply_config(server *srv) {
  if (srv->cfg.have_state_key) {
    memcpy(srv->disp.state_key, srv->cfg.state_key, sizeof(srv->disp.state_key));
    memcpy(srv->sessions.sign_key, srv->cfg.state_key, sizeof(srv->sessions.sign_key));
  }
  atomic_store(&srv->log.level, srv->cfg.log_level);
  http_limits_from(&srv->cfg, &srv->http.limits);
  srv->sessions.max = srv->cfg.max_sessions;
  srv->sessions.max_per_client =
      srv->cfg.auth ? srv->cfg.max_sessions_per_principal : srv->cfg.max_sessions_per_client;
  session_table_set_idle(&srv->sessions, srv->cfg.session_idle_ms);
  if (srv->have_auth)
    auth_gate_apply(&srv->gate, &srv->cfg);
  memcpy(srv->sessions.prefix, srv->cfg.session_id_prefix, sizeof(srv->sessions.prefix));
  srv->plugins.drain_ms = srv->cfg.drain_timeout_ms;
  mcp_http_apply_config(&srv->mcp);
}

static void install_signals(server *srv) {
  signal(SIGPIPE, SIG_IGN);
  uv_signal_init(&srv->loop, &srv->sig_term);
  uv_signal_init(&srv->loop, &srv->sig_int);
  uv_signal_init(&srv->loop, &srv->sig_hup);
  srv->sig_term.data = srv->sig_int.data = srv->sig_hup.data = srv;
  uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
  uv_signal_start(&srv->sig_int, on_signal, SIGINT);
  uv_signal_start(&srv->sig_hup, on_signal, SIGHUP);
  uv_timer_init(&srv->loop, &srv->stop_timer);
  srv->stop_timer.data = srv;
}

static void stdio_eof(void *arg) {
  begin_stop(arg, "EOF");
}

/* The key that signs session ids (and, without state_key, requestStates):
 * state_key, else the key file made once in the state directory, so that a
 * restart keeps every client's session; else one for this process only. */
static void load_state_key(server *srv) {
  char dir[460], path[512], tmp[560], hex[65];
  unsigned char key[32];
  int fd, i, ok = 0;
  ssize_t got;
  if (srv->cfg.have_state_key) {
    memcpy(srv->sessions.sign_key, srv->cfg.state_key, sizeof(key));
    srv->sessions.signing = 1;
    return;
  }
  config_state_dir(&srv->cfg, dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/state.key", dir);
  if (dir[0] != '\0') {
    char *p;
    /* mkdir -p, 0700: the key is a secret. */
    for (p = dir + 1; *p; p++) {
      if (*p == '/') {
        *p = '\0';
        mkdir(dir, 0700);
        *p = '/';
      }
    }
    mkdir(dir, 0700);
    /* Written whole under another name, then linked into place: two
     * instances starting at once both end up reading the same key. */
    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      if (getrandom(key, sizeof(key), 0) == (ssize_t)sizeof(key)) {
        for (i = 0; i < 32; i++)
          snprintf(hex + 2 * i, 3, "%02x", key[i]);
        got = write(fd, hex, 64);
        if (close(fd) == 0 && got == 64)
          (void)!link(tmp, path); /* fails when it exists: theirs is the key */
      } else {
        close(fd);
      }
      unlink(tmp);
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      got = read(fd, hex, 64);
      close(fd);
      hex[got > 0 ? got : 0] = '\0';
      if (got == 64 && strspn(hex, "0123456789abcdef") == 64) {
        for (i = 0; i < 32; i++) {
          unsigned b;
          sscanf(hex + 2 * i, "%2x", &b);
          key[i] = (unsigned char)b;
        }
        ok = 1;
      }
    }
  }
  if (!ok) {
    log_msg(&srv->log, LOGLVL_WARN, "state_key_ephemeral",
            "file=%s reason=\"cannot read or make it: sessions will not survive a restart; set "
            "state_dir or state_key\"",
            dir[0] ? path : "-");
    if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
      return;
  }
  memcpy(srv->sessions.sign_key, key, sizeof(key));
  memcpy(srv->disp.state_key, key, sizeof(key));
  srv->sessions.signing = 1;
  OPENSSL_cleanse(key, sizeof(key));
  OPENSSL_cleanse(hex, sizeof(hex));
}

/* What the auth section turned on, in one line. Never a secret. */
static void auth_summary(const auth_config *a, char *out, size_t n) {
  snprintf(out, n, "tokens=%zu jwt=%s%s%s introspection=%s scopes_required=\"%s\" rules=%zu",
           a->n_tokens, a->jwt ? "on issuer=" : "off", a->jwt ? a->jwt_issuer : "",
           a->jwt ? (a->jwks_url ? " jwks=url" : " jwks=file") : "",
           a->introspection ? "on" : "off", a->scopes_required, a->n_rules);
}

static void log_auth(server *srv) {
  char what[700], esc[800];
  auth_summary(srv->cfg.auth, what, sizeof(what));
  log_msg(&srv->log, LOGLVL_INFO, "auth_ready", "%s", log_escape(what, esc, sizeof(esc)));
  if (srv->cfg.tls_cert_file == NULL && !is_loopback_host(srv->cfg.listen_host))
    log_msg(&srv->log, LOGLVL_WARN, "auth_plain_http",
            "reason=\"bearer tokens cross the network in clear text: serve HTTPS (tls) or put a "
            "TLS proxy in front\"");
}

int server_init(server *srv, config *cfg, const config_args *args) {
  http_limits lim;
  int r;

  r = init_core(srv, cfg, NULL);
  srv->args = *args;
  if (r < 0 && r != -ENOENT && r != -ENOTDIR && r != -EACCES)
    return r;
  log_msg(&srv->log, LOGLVL_INFO, "plugins_ready",
          "dir=%s loaded=%u failed=%u tools=%zu resources=%zu templates=%zu", srv->cfg.plugins_dir,
          srv->plugins.count, srv->plugins.failed, srv->reg.lists[REG_TOOL].count,
          srv->reg.lists[REG_RESOURCE].count, srv->reg.lists[REG_TEMPLATE].count);
  mcp_http_init(&srv->mcp, &srv->loop, &srv->disp, &srv->sessions, &srv->cfg, &srv->log,
                is_loopback_host(srv->cfg.listen_host));
  srv->have_mcp = 1;
  legacy_sse_init(&srv->legacy, &srv->mcp);
  if (!args->stdio) {
    char err[1024], esc[1100];
    r = auth_verifier_init(&srv->auth, &srv->loop, &srv->http_client, &srv->log);
    if (r < 0)
      return r;
    r = auth_gate_init(&srv->gate, &srv->loop, &srv->cfg, &srv->auth, &srv->reg, &srv->log,
                       srv->cfg.tls_cert_file != NULL, is_loopback_host(srv->cfg.listen_host));
    srv->have_auth = 1;
    if (r < 0)
      return r;
    if (auth_verifier_apply(&srv->auth, srv->cfg.auth, err, sizeof(err)) < 0) {
      log_msg(&srv->log, LOGLVL_ERROR, "auth_failed", "reason=%s",
              log_escape(err, esc, sizeof(esc)));
      return -EINVAL;
    }
    srv->mcp.gate = &srv->gate;
    load_state_key(srv);
    srv->sessions.max_per_client =
        srv->cfg.auth ? srv->cfg.max_sessions_per_principal : srv->cfg.max_sessions_per_client;
    if (srv->cfg.auth != NULL)
      log_auth(srv);
  }
  if (args->stdio) {
    r = stdio_start(&srv->stdio, &srv->loop, &srv->disp, &srv->sessions, &srv->cfg, &srv->log,
                    stdio_eof, srv);
    if (r < 0)
      return r;
    srv->have_stdio = 1;
    install_signals(srv);
    sdnotify("READY=1");
    return 0;
  }
  http_limits_from(&srv->cfg, &lim);
  r = http_server_init(&srv->http, &srv->loop, &lim, &srv->log, on_request, srv);
  if (r < 0)
    return r;
  srv->have_http = 1;
  srv->http.on_done = on_done;
  access_log_init(&srv->access, &srv->loop, &srv->log);
  if (srv->cfg.tls_cert_file != NULL) {
    char err[1024], esc[1100], what[512];
    tls_ctx *tls;
    r = server_tls_load(&srv->cfg, &tls, err, sizeof(err));
    if (r < 0) {
      log_msg(&srv->log, LOGLVL_ERROR, "tls_failed", "reason=%s",
              log_escape(err, esc, sizeof(esc)));
      return r;
    }
    tls_ctx_describe(tls, what, sizeof(what));
    log_msg(&srv->log, LOGLVL_INFO, "tls_ready", "%s", what);
    http_server_set_tls(&srv->http, tls);
  }
  r = http_server_listen(&srv->http, srv->cfg.listen_host, srv->cfg.listen_port, srv->bound,
                         sizeof(srv->bound));
  if (r < 0) {
    log_msg(&srv->log, LOGLVL_ERROR, "listen_failed", "address=%s:%d error=%s",
            srv->cfg.listen_host, srv->cfg.listen_port,
            r == -EINVAL ? "not an IP address (use an IPv4/IPv6 literal or localhost)"
                         : uv_strerror(r));
    return r;
  }
  install_signals(srv);
  log_msg(&srv->log, LOGLVL_INFO, "listening", "address=%s endpoint=%s://%s/mcp version=%s",
          srv->bound, srv->http.tls != NULL ? "https" : "http", srv->bound, MCPD_VERSION);
  sdnotify("READY=1");
  return 0;
}

/* Closes what init_core() opened (the loop must run afterwards to finish
 * closing the handles). */
static void close_core(server *srv) {
  if (srv->have_sessions)
    session_table_close(&srv->sessions);
  if (srv->have_loop) {
    http_client_close(&srv->http_client);
    if (srv->have_plugins)
      stop_plugin_timers(srv);
  }
  if (srv->have_plugins) {
    plugin_unload_all(&srv->penv);
    plugin_set_close(&srv->plugins);
  }
  if (srv->have_calls) {
    dispatch_close(&srv->disp);
    call_engine_close(&srv->calls);
  }
}

void server_abort(server *srv) {
  if (srv->have_auth)
    auth_verifier_close(&srv->auth);
  if (srv->have_mcp)
    mcp_http_close(&srv->mcp);
  close_core(srv);
  if (srv->have_http)
    http_server_close(&srv->http, NULL);
  access_log_close(&srv->access);
  if (srv->have_loop) {
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    uv_loop_close(&srv->loop);
  }
  http_server_free(&srv->http);
  if (srv->have_loop)
    http_client_free(&srv->http_client);
  if (srv->have_auth)
    auth_gate_free(&srv->gate);
  registry_free(&srv->reg);
  metrics_free(&srv->metrics);
  config_free(&srv->cfg);
}

int server_run(server *srv) {
  int r;
  uv_run(&srv->loop, UV_RUN_DEFAULT);
  r = uv_loop_close(&srv->loop);
  if (r < 0)
    log_msg(&srv->log, LOGLVL_WARN, "loop_close_busy", "error=%s", uv_strerror(r));
  http_server_free(&srv->http);
  http_client_free(&srv->http_client);
  if (srv->have_auth)
    auth_gate_free(&srv->gate);
  registry_free(&srv->reg);
  metrics_free(&srv->metrics);
  log_msg(&srv->log, LOGLVL_INFO, "stopped", NULL);
  config_free(&srv->cfg);
  return srv->exit_code;
}

/* --check waits this long for plugins' HTTP requests. */
#define CHECK_WAIT_MS 15000

/* Lines plugins log at error level that --check prints; more are counted. */
#define CHECK_MAX_ERRORS 32

/* A --check run: the server, and what plugins said was wrong meanwhile. */
typedef struct check_run {
  server srv;
  uv_timer_t wait; /* bounds the wait for plugins' fetches; closed with the loop */
  uv_mutex_t lock; /* host->log may be called from any thread */
  unsigned n_errors, more_errors;
  struct {
    char plugin[65];
    char msg[512];
  } errors[CHECK_MAX_ERRORS];
} check_run;

static void check_timeout(uv_timer_t *t) {
  (void)t; /* stopping is all it does: the wait loop sees it inactive */
}

/* A plugin logged an error during --check: the check fails, and says it. */
static void check_plugin_error(plugin_env *env, const char *plugin, const char *msg) {
  check_run *c = (check_run *)((char *)env - offsetof(server, penv) - offsetof(check_run, srv));
  uv_mutex_lock(&c->lock);
  if (c->n_errors < CHECK_MAX_ERRORS) {
    snprintf(c->errors[c->n_errors].plugin, sizeof(c->errors[0].plugin), "%s", plugin);
    snprintf(c->errors[c->n_errors].msg, sizeof(c->errors[0].msg), "%s", msg);
    c->n_errors++;
  } else {
    c->more_errors++;
  }
  uv_mutex_unlock(&c->lock);
}

int server_check(config *cfg, FILE *out) {
  check_run *c = calloc(1, sizeof(*c));
  server *srv;
  mcpd_ctx *ctx;
  list_node *n;
  size_t i;
  unsigned errors, waiting = 0;
  int r, ok, k, auth_failed = 0;
  char auth_err[1024] = "";

  if (c == NULL || uv_mutex_init(&c->lock) < 0) {
    free(c);
    return 1;
  }
  srv = &c->srv;
  r = init_core(srv, cfg, check_plugin_error);
  /* The key set is fetched like the plugins' documents: a jwks_url that
   * does not answer with keys fails the check. */
  if (r >= 0 && srv->cfg.auth != NULL &&
      auth_verifier_init(&srv->auth, &srv->loop, &srv->http_client, &srv->log) == 0) {
    srv->have_auth = 1;
    if (auth_verifier_apply(&srv->auth, srv->cfg.auth, auth_err, sizeof(auth_err)) < 0)
      auth_failed = 1;
  }
  /* Plugins may fetch what their tools come from (http_backend's
   * documents): let that finish, within bounds, so the list is complete
   * and a document that does not load fails the check (its plugin logs
   * an error). */
  if (r >= 0 && srv->http_client.n_live > 0) {
    /* Not on the stack: the close completes in a later uv_run(). */
    uv_timer_t *t = &c->wait;
    uv_timer_init(&srv->loop, t);
    uv_timer_start(t, check_timeout, CHECK_WAIT_MS, 0);
    while (srv->http_client.n_live > 0 && uv_is_active((uv_handle_t *)t))
      uv_run(&srv->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)t, NULL);
    waiting = srv->http_client.n_live;
  }
  uv_mutex_lock(&c->lock);
  errors = c->n_errors + c->more_errors;
  ok = r >= 0 && srv->plugins.failed == 0 && errors == 0 && waiting == 0;
  if (srv->cfg.auth != NULL) {
    char what[700];
    auth_summary(srv->cfg.auth, what, sizeof(what));
    fprintf(out, "auth: %s\n", what);
    if (auth_failed) {
      fprintf(out, "error: %s\n", auth_err);
      ok = 0;
    } else if (srv->have_auth && srv->cfg.auth->jwt) {
      if (srv->auth.keys == NULL) {
        fprintf(out, "error: auth.jwt: no key set from %s (see the log)\n",
                srv->cfg.auth->jwks_url ? srv->cfg.auth->jwks_url : "jwks_file");
        ok = 0;
      } else {
        auth_keyset_describe(srv->auth.keys, what, sizeof(what));
        fprintf(out, "auth: jwt keys=%zu (%s)\n", auth_keyset_count(srv->auth.keys), what);
        if (auth_keyset_count(srv->auth.keys) == 0) {
          fprintf(out, "error: auth.jwt: the key set has no key mcpd can use with the allowed "
                       "algorithms\n");
          ok = 0;
        }
      }
    }
  }
  if (srv->cfg.tls_cert_file != NULL) {
    char err[1024], what[512];
    tls_ctx *tls;
    if (server_tls_load(&srv->cfg, &tls, err, sizeof(err)) < 0) {
      fprintf(out, "error: %s\n", err);
      ok = 0;
    } else {
      tls_ctx_describe(tls, what, sizeof(what));
      fprintf(out, "tls: %s\n", what);
      tls_ctx_free(tls);
    }
  }
  fprintf(out, "plugins directory: %s\n", srv->cfg.plugins_dir ? srv->cfg.plugins_dir : "?");
  for (n = srv->plugins.active.next; n != &srv->plugins.active; n = n->next) {
    ctx = list_entry(n, mcpd_ctx, link);
    fprintf(out, "plugin %s %s (%s)\n", ctx->name, ctx->version, ctx->path);
  }
  for (k = 0; k < REG_KINDS; k++) {
    static const char *const what[REG_KINDS] = {"tool", "resource", "resource template", "prompt"};
    for (i = 0; i < srv->reg.lists[k].count; i++) {
      const reg_entry *e = srv->reg.lists[k].items[i];
      fprintf(out, "%s %s (plugin %s)\n", what[k], e->key, e->owner);
    }
  }
  for (i = 0; i < c->n_errors; i++)
    fprintf(out, "error: plugin %s: %s\n", c->errors[i].plugin, c->errors[i].msg);
  if (c->more_errors > 0)
    fprintf(out, "error: %u more error(s) from plugins: see the log\n", c->more_errors);
  if (waiting > 0)
    fprintf(out, "error: %u HTTP request(s) of plugins still unanswered after %d ms\n", waiting,
            CHECK_WAIT_MS);
  fprintf(out, "%s: %u plugin(s) loaded, %u failed", ok ? "ok" : "FAILED", srv->plugins.count,
          srv->plugins.failed);
  if (errors > 0)
    fprintf(out, ", %u error(s) reported by plugins", errors);
  fprintf(out, "\n");
  uv_mutex_unlock(&c->lock);
  if (srv->have_auth)
    auth_verifier_close(&srv->auth);
  close_core(srv);
  if (srv->have_loop) {
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    uv_loop_close(&srv->loop);
  }
  if (srv->have_loop)
    http_client_free(&srv->http_client);
  registry_free(&srv->reg);
  metrics_free(&srv->metrics);
  config_free(&srv->cfg);
  uv_mutex_destroy(&c->lock);
  free(c);
  return ok ? 0 : 1;
}
