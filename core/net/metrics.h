/* metrics.h -- counters and histograms for GET /metrics, in the Prometheus
 * text format. Recording is a few array increments on the hot path (no
 * allocation, no formatting); rendering walks them. Loop thread only. */
#ifndef MCPD_METRICS_H
#define MCPD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "net/http_client.h"
#include "lib/strmap.h"

/* The paths requests are counted by (everything else is "other"). */
enum metrics_route {
  ROUTE_OTHER,
  ROUTE_MCP,
  ROUTE_SSE,
  ROUTE_MESSAGES,
  ROUTE_HEALTHZ,
  ROUTE_METRICS,
  ROUTE_COUNT
};

#define METRICS_BUCKETS 14

typedef struct metrics_hist {
  uint64_t buckets[METRICS_BUCKETS]; /* counts per upper bound (not cumulative) */
  uint64_t count;
  double sum;
} metrics_hist;

typedef struct metrics_tool {
  char *name;
  metrics_hist latency;
  uint64_t errors; /* JSON-RPC errors and isError results */
} metrics_tool;

typedef struct metrics {
  uint64_t http[ROUTE_COUNT][600]; /* by route and status */
  uint64_t rpc[32][2];             /* by method index and outcome (ok, error) */
  strmap tool_map;                 /* name -> metrics_tool */
  metrics_tool **tools;
  size_t n_tools, cap_tools;
} metrics;

/* Values the owner knows and passes in when rendering. */
typedef struct metrics_gauges {
  double uptime_s;
  const char *version;
  uint64_t connections, sessions, streams_open, streams_detached, calls_in_flight;
  uint64_t plugins_active, plugins_draining, reloads, reload_failures;
  uint64_t connections_total, connections_rejected, http_parse_errors;
  uint64_t connections_evicted, streams_refused, slow_clients;
  uint64_t client_requests, client_request_timeouts, call_timeouts, cancellations;
  uint64_t tasks, tasks_created, tasks_refused, tasks_expired; /* 2026-07-28 tasks */
  int tls; /* the listener speaks TLS: its handshake counters are shown */
  uint64_t tls_handshakes, tls_handshake_failures;
  int auth; /* auth is on: its counters are shown */
  uint64_t auth_ok, auth_refused, auth_unavailable, auth_cache_hits, auth_cache_entries;
  uint64_t auth_forbidden, auth_rate_limited, auth_jwks_fetches, auth_jwks_failures;
  uint64_t auth_introspections, auth_introspection_failures;
  /* Plugins' outgoing HTTP requests, by label (borrowed). */
  http_client_label_stats *const *backends;
  size_t n_backends;
} metrics_gauges;

void metrics_init(metrics *m);
void metrics_free(metrics *m);

/* A finished HTTP response. */
void metrics_http(metrics *m, int route, int status);

/* An answered JSON-RPC request of this method (unknown names count as
 * "other"). */
void metrics_rpc(metrics *m, const char *method, int error);

/* An answered tool call: its latency in seconds and whether it failed. */
void metrics_tool_call(metrics *m, const char *tool, double seconds, int error);

/* Appends the whole exposition to out. Returns 0 or -ENOMEM. */
int metrics_render(const metrics *m, const metrics_gauges *g, buf *out);

/* The route of a path. */
int metrics_route(const char *path, size_t len);

#endif
