/* metrics.c -- counters and histograms for GET /metrics. */
#include "net/metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const route_names[ROUTE_COUNT] = {"other",     "/mcp",     "/sse",
                                                     "/messages", "/healthz", "/metrics"};

/* Methods counted by name: the MCP ones mcpd answers. */
static const char *const methods[] = {
    "other",
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

/* Latency bucket bounds, in seconds: 0.1 ms to 10 s. */
static const double bounds[METRICS_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                               0.025,  0.05,    0.1,    0.25,  1,      2.5,   10};

void metrics_init(metrics *m) {
  memset(m, 0, sizeof(*m));
}

void metrics_free(metrics *m) {
  size_t i;
  for (i = 0; i < m->n_tools; i++) {
    free(m->tools[i]->name);
    free(m->tools[i]);
  }
  free(m->tools);
  strmap_free(&m->tool_map);
  memset(m, 0, sizeof(*m));
}

int metrics_route(const char *path, size_t len) {
  int i;
  for (i = 1; i < ROUTE_COUNT; i++) {
    if (strlen(route_names[i]) == len && memcmp(path, route_names[i], len) == 0)
      return i;
  }
  if (len == 10 && memcmp(path, "/messages/", 10) == 0)
    return ROUTE_MESSAGES;
  return ROUTE_OTHER;
}

void metrics_http(metrics *m, int route, int status) {
  if (route < 0 || route >= ROUTE_COUNT || status < 100 || status > 599)
    return;
  m->http[route][status]++;
}

void metrics_rpc(metrics *m, const char *method, int error) {
  size_t i;
  for (i = 1; i < N_METHODS; i++) {
    if (strcmp(method, methods[i]) == 0)
      break;
  }
  m->rpc[i < N_METHODS ? i : 0][error ? 1 : 0]++;
}

void metrics_tool_call(metrics *m, const char *tool, double seconds, int error) {
  metrics_tool *t = strmap_get(&m->tool_map, tool, strlen(tool));
  int b;
  if (t == NULL) {
    /* Series stay for the life of the process, also for tools a reload
     * removed: Prometheus counters must not go backwards. */
    if (m->n_tools == m->cap_tools) {
      size_t cap = m->cap_tools ? m->cap_tools * 2 : 16;
      metrics_tool **nt = realloc(m->tools, cap * sizeof(*nt));
      if (nt == NULL)
        return;
      m->tools = nt;
      m->cap_tools = cap;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL || (t->name = strdup(tool)) == NULL ||
        strmap_put(&m->tool_map, t->name, strlen(t->name), t) < 0) {
      if (t != NULL)
        free(t->name);
      free(t);
      return;
    }
    m->tools[m->n_tools++] = t;
  }
  for (b = 0; b < METRICS_BUCKETS - 1 && seconds > bounds[b]; b++)
    ;
  if (seconds > bounds[METRICS_BUCKETS - 1])
    b = METRICS_BUCKETS; /* only +Inf */
  if (b < METRICS_BUCKETS)
    t->latency.buckets[b]++;
  t->latency.count++;
  t->latency.sum += seconds;
  if (error)
    t->errors++;
}

/* # HELP and # TYPE lines of a family. */
static int family(buf *out, const char *name, const char *type, const char *help) {
  return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int gauge(buf *out, const char *name, const char *help, double v) {
  if (family(out, name, "gauge", help) < 0)
    return -ENOMEM;
  return buf_printf(out, "%s %.15g\n", name, v);
}

static int counter(buf *out, const char *name, const char *help, uint64_t v) {
  if (family(out, name, "counter", help) < 0)
    return -ENOMEM;
  return buf_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

/* A label value with \\, " and newlines escaped, as the format wants. */
static int put_label(buf *out, const char *v) {
  int r = 0;
  for (; *v != '\0'; v++) {
    if (*v == '\\' || *v == '"')
      r |= buf_printf(out, "\\%c", *v);
    else if (*v == '\n')
      r |= buf_puts(out, "\\n");
    else
      r |= buf_append(out, v, 1);
  }
  return r;
}

/* Plugins' outgoing requests (the http_backend plugin's backends). */
static int backend_families(buf *out, const metrics_gauges *g) {
  static const char *const classes[6] = {"error", "1xx", "2xx", "3xx", "4xx", "5xx"};
  size_t i;
  int c, r;
  r = family(out, "mcpd_backend_requests_total", "counter",
             "Plugins' HTTP requests to backends, by backend and outcome (status class, or "
             "error: no response).");
  for (i = 0; i < g->n_backends; i++) {
    for (c = 0; c < 6; c++) {
      if (g->backends[i]->by_class[c] == 0 && c != 0 && c != 2)
        continue;
      r |= buf_puts(out, "mcpd_backend_requests_total{backend=\"");
      r |= put_label(out, g->backends[i]->label);
      r |= buf_printf(out, "\",outcome=\"%s\"} %llu\n", classes[c],
                      (unsigned long long)g->backends[i]->by_class[c]);
    }
  }
  r |= family(out, "mcpd_backend_timeouts_total", "counter",
              "Plugins' HTTP requests to backends that timed out, by backend.");
  for (i = 0; i < g->n_backends; i++) {
    r |= buf_puts(out, "mcpd_backend_timeouts_total{backend=\"");
    r |= put_label(out, g->backends[i]->label);
    r |= buf_printf(out, "\"} %llu\n", (unsigned long long)g->backends[i]->timeouts);
  }
  r |= family(out, "mcpd_backend_request_duration_seconds", "summary",
              "Time plugins' HTTP requests to backends took, by backend.");
  for (i = 0; i < g->n_backends; i++) {
    r |= buf_puts(out, "mcpd_backend_request_duration_seconds_sum{backend=\"");
    r |= put_label(out, g->backends[i]->label);
    r |= buf_printf(out, "\"} %.6f\n", g->backends[i]->seconds);
    r |= buf_puts(out, "mcpd_backend_request_duration_seconds_count{backend=\"");
    r |= put_label(out, g->backends[i]->label);
    r |= buf_printf(out, "\"} %llu\n", (unsigned long long)g->backends[i]->finished);
  }
  return r;
}

int metrics_render(const metrics *m, const metrics_gauges *g, buf *out) {
  size_t i;
  int r, s, b, any;

  r = family(out, "mcpd_build_info", "gauge", "The version of mcpd that runs, as a label.");
  r |= buf_printf(out, "mcpd_build_info{version=\"%s\"} 1\n", g->version);
  r |= gauge(out, "mcpd_uptime_seconds", "Seconds since mcpd started.", g->uptime_s);

  r |= family(out, "mcpd_http_requests_total", "counter",
              "HTTP requests answered, by path and status code.");
  for (i = 0; i < ROUTE_COUNT; i++) {
    for (s = 100; s < 600; s++) {
      if (m->http[i][s] != 0)
        r |= buf_printf(out, "mcpd_http_requests_total{path=\"%s\",status=\"%d\"} %llu\n",
                        route_names[i], s, (unsigned long long)m->http[i][s]);
    }
  }
  r |= family(out, "mcpd_jsonrpc_requests_total", "counter",
              "JSON-RPC requests answered, by method and outcome (ok or error).");
  for (i = 0; i < N_METHODS; i++) {
    for (s = 0; s < 2; s++) {
      if (m->rpc[i][s] != 0)
        r |= buf_printf(out, "mcpd_jsonrpc_requests_total{method=\"%s\",outcome=\"%s\"} %llu\n",
                        methods[i], s ? "error" : "ok", (unsigned long long)m->rpc[i][s]);
    }
  }
  r |= family(out, "mcpd_tool_call_duration_seconds", "histogram",
              "Time from a tools/call request to its answer, by tool.");
  for (i = 0; i < m->n_tools; i++) {
    const metrics_tool *t = m->tools[i];
    uint64_t cum = 0;
    for (b = 0; b < METRICS_BUCKETS; b++) {
      cum += t->latency.buckets[b];
      r |= buf_printf(out, "mcpd_tool_call_duration_seconds_bucket{tool=\"%s\",le=\"%g\"} %llu\n",
                      t->name, bounds[b], (unsigned long long)cum);
    }
    r |= buf_printf(out,
                    "mcpd_tool_call_duration_seconds_bucket{tool=\"%s\",le=\"+Inf\"} %llu\n"
                    "mcpd_tool_call_duration_seconds_sum{tool=\"%s\"} %.9f\n"
                    "mcpd_tool_call_duration_seconds_count{tool=\"%s\"} %llu\n",
                    t->name, (unsigned long long)t->latency.count, t->name, t->latency.sum, t->name,
                    (unsigned long long)t->latency.count);
  }
  r |= family(out, "mcpd_tool_call_errors_total", "counter",
              "Tool calls answered with a JSON-RPC error or an isError result, by tool.");
  for (i = 0, any = 0; i < m->n_tools; i++) {
    r |= buf_printf(out, "mcpd_tool_call_errors_total{tool=\"%s\"} %llu\n", m->tools[i]->name,
                    (unsigned long long)m->tools[i]->errors);
    any = 1;
  }
  (void)any;
  r |= gauge(out, "mcpd_connections_open", "Open HTTP connections.", (double)g->connections);
  r |= counter(out, "mcpd_connections_total", "HTTP connections accepted.", g->connections_total);
  r |= counter(out, "mcpd_connections_rejected_total",
               "Connections refused: 503 at limits.max_connections, 429 at "
               "limits.max_connections_per_client.",
               g->connections_rejected);
  r |= counter(out, "mcpd_connections_evicted_total",
               "Idle connections closed to admit a new one (server full, or the client's "
               "limits.max_connections_per_client).",
               g->connections_evicted);
  r |= counter(out, "mcpd_sse_streams_refused_total",
               "SSE streams refused at limits.max_streams_per_client (429).", g->streams_refused);
  r |= counter(out, "mcpd_slow_clients_closed_total",
               "Connections closed because their client did not read its responses.",
               g->slow_clients);
  if (g->tls) {
    r |= counter(out, "mcpd_tls_handshakes_total", "TLS handshakes completed.", g->tls_handshakes);
    r |= counter(out, "mcpd_tls_handshake_failures_total",
                 "TLS handshakes that failed: refused client certificate, no common protocol "
                 "or cipher, plain HTTP, or not completed within timeouts.tls_handshake_ms.",
                 g->tls_handshake_failures);
  }
  if (g->auth) {
    r |= family(out, "mcpd_auth_results_total", "counter",
                "Bearer tokens checked, by result: ok, refused (401), unavailable (503: the "
                "authorization server could not be reached).");
    r |= buf_printf(out,
                    "mcpd_auth_results_total{result=\"ok\"} %llu\n"
                    "mcpd_auth_results_total{result=\"refused\"} %llu\n"
                    "mcpd_auth_results_total{result=\"unavailable\"} %llu\n",
                    (unsigned long long)g->auth_ok, (unsigned long long)g->auth_refused,
                    (unsigned long long)g->auth_unavailable);
    r |= counter(out, "mcpd_auth_cache_hits_total", "Tokens found verified in the cache.",
                 g->auth_cache_hits);
    r |= gauge(out, "mcpd_auth_cache_entries", "Verified tokens in the cache.",
               (double)g->auth_cache_entries);
    r |= counter(out, "mcpd_auth_forbidden_total", "Requests refused for a missing scope (403).",
                 g->auth_forbidden);
    r |= counter(out, "mcpd_auth_rate_limited_total",
                 "Requests refused over a principal's rate or too many failed tokens (429).",
                 g->auth_rate_limited);
    r |= counter(out, "mcpd_auth_jwks_fetches_total", "Fetches of the JWT key set.",
                 g->auth_jwks_fetches);
    r |= counter(out, "mcpd_auth_jwks_failures_total", "Fetches of the JWT key set that failed.",
                 g->auth_jwks_failures);
    r |= counter(out, "mcpd_auth_introspections_total", "Token introspection requests.",
                 g->auth_introspections);
    r |= counter(out, "mcpd_auth_introspection_failures_total",
                 "Token introspection requests that failed (no answer, or not 200).",
                 g->auth_introspection_failures);
  }
  r |= counter(out, "mcpd_http_bad_requests_total",
               "Requests refused before routing (malformed, over a limit, too slow).",
               g->http_parse_errors);
  r |= gauge(out, "mcpd_sessions_open", "Live MCP sessions.", (double)g->sessions);
  r |= family(out, "mcpd_sse_streams", "gauge",
              "SSE streams, attached to a connection or detached awaiting resumption.");
  r |= buf_printf(out, "mcpd_sse_streams{state=\"attached\"} %llu\n",
                  (unsigned long long)g->streams_open);
  r |= buf_printf(out, "mcpd_sse_streams{state=\"detached\"} %llu\n",
                  (unsigned long long)g->streams_detached);
  r |= gauge(out, "mcpd_calls_in_flight", "Plugin calls not yet completed.",
             (double)g->calls_in_flight);
  r |= counter(out, "mcpd_call_timeouts_total", "Calls answered at timeouts.call_ms.",
               g->call_timeouts);
  r |= counter(out, "mcpd_cancellations_total", "Calls cancelled by notifications/cancelled.",
               g->cancellations);
  r |= gauge(out, "mcpd_tasks", "Tasks held (running or kept until their ttl).", (double)g->tasks);
  r |= counter(out, "mcpd_tasks_created_total", "Calls that became tasks.", g->tasks_created);
  r |= counter(out, "mcpd_tasks_refused_total",
               "Calls that could have become tasks but ran as plain calls (limits.max_tasks*).",
               g->tasks_refused);
  r |= counter(out, "mcpd_tasks_expired_total", "Tasks forgotten at timeouts.task_ttl_ms.",
               g->tasks_expired);
  r |= counter(out, "mcpd_client_requests_total",
               "Requests sent to clients for plugins (sampling, elicitation, roots).",
               g->client_requests);
  r |= counter(out, "mcpd_client_request_timeouts_total",
               "Requests to clients that got no answer in time.", g->client_request_timeouts);
  r |= family(out, "mcpd_plugin_generations", "gauge",
              "Loaded plugin versions: serving (active) or retired and finishing their calls "
              "(draining).");
  r |= buf_printf(out, "mcpd_plugin_generations{state=\"active\"} %llu\n",
                  (unsigned long long)g->plugins_active);
  r |= buf_printf(out, "mcpd_plugin_generations{state=\"draining\"} %llu\n",
                  (unsigned long long)g->plugins_draining);
  r |= backend_families(out, g);
  r |= counter(out, "mcpd_reloads_total", "Reloads (SIGHUP).", g->reloads);
  r |= counter(out, "mcpd_reload_failures_total",
               "Reloads with a refused configuration or a plugin that failed to load.",
               g->reload_failures);
  return r < 0 ? -ENOMEM : 0;
}
