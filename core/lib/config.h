/* config.h -- the daemon's configuration: defaults, the JSON config file,
 * and command-line overrides. Pure: no sockets, no loop. */
#ifndef MCPD_CONFIG_H
#define MCPD_CONFIG_H

#include <stddef.h>
#include <jansson.h>

#include "lib/auth_config.h"

typedef struct config {
  char *listen_host;          /* owned; "127.0.0.1", "::1", "0.0.0.0", "localhost" */
  int listen_port;            /* 0 = an ephemeral port (logged at start) */
  char *plugins_dir;          /* owned; NULL = the built-in default */
  char *runtime_dir;          /* owned; NULL = the default (see config_runtime_dir) */
  char *state_dir;            /* owned; NULL = the default (see config_state_dir) */
  int log_level;              /* enum log_level */
  int access_log;             /* a log line per HTTP request */
  char session_id_prefix[16]; /* put before every new Mcp-Session-Id; "" = none */
  char *instructions;         /* owned; NULL = none; sent in the initialize result */

  char **allowed_origins; /* owned; exact origins allowed besides loopback ones */
  size_t n_allowed_origins;
  char **allowed_hosts; /* owned; Host names allowed besides loopback ones */
  size_t n_allowed_hosts;
  unsigned worker_threads;

  /* limits */
  size_t max_body_bytes;
  size_t max_header_bytes;
  unsigned max_headers;
  unsigned max_connections;
  unsigned max_connections_per_client; /* of one client address (an IPv6 /64) */
  unsigned max_streams_per_client;     /* SSE GET streams of one client address */
  size_t max_unread_bytes;             /* a connection's unread output before it is paused */
  unsigned max_pipelined;
  unsigned max_sessions;
  unsigned max_sessions_per_client; /* of one client address (an IPv6 /64) */
  unsigned page_size;
  size_t max_write_queue_bytes;
  unsigned max_calls_per_session;
  unsigned max_batch_messages;      /* in one JSON-RPC batch */
  size_t max_json_values;           /* in one message (a batch counts whole) */
  unsigned max_workers_per_session; /* of the worker pool; 0: worker_threads - 1 */
  unsigned sse_replay_events;
  unsigned max_sessions_per_principal; /* while auth is on, instead of per client */
  unsigned principal_rate_per_s;       /* requests a second per principal (per address
                                          when auth is off); 0: no limit */
  unsigned principal_burst;            /* 0: twice the rate */
  unsigned max_tasks;                  /* tool calls running or kept as tasks */
  unsigned max_tasks_per_client;       /* of one principal (auth on) or client address */
  size_t max_task_bytes;               /* results and errors tasks keep, all together */
  size_t max_task_bytes_per_client;    /* ... of one client's tasks */

  /* timeouts, in milliseconds; 0 disables one */
  unsigned header_timeout_ms;
  unsigned request_timeout_ms;
  unsigned keepalive_timeout_ms;
  unsigned send_timeout_ms;
  unsigned session_idle_ms;
  unsigned call_timeout_ms;
  unsigned sse_keepalive_ms;
  unsigned shutdown_timeout_ms;
  unsigned drain_timeout_ms;
  unsigned client_request_ms;
  unsigned sse_retry_ms;
  unsigned sse_poll_ms;
  unsigned sse_resume_ms;
  unsigned sse_stall_ms; /* an SSE stream whose queued output does not move is closed */
  unsigned tls_handshake_timeout_ms;
  unsigned task_ttl_ms;  /* a task runs and is kept at most this long from its creation */
  unsigned task_poll_ms; /* the polling interval tasks suggest (pollIntervalMs) */
  unsigned list_ttl_ms;  /* how long 2026-07-28 clients may reuse a list (ttlMs) */

  /* HTTPS: all NULL for plain HTTP. The files are read (and checked) by the
   * daemon, at start, for --check and on every reload. */
  char *tls_cert_file;      /* owned; PEM: the certificate, then intermediates */
  char *tls_key_file;       /* owned; PEM, unencrypted */
  char *tls_client_ca_file; /* owned; NULL: no client certificates */

  /* Authentication of MCP clients: NULL when off (anyone who reaches the
   * port may call). auth_json is the section as written, to tell on a
   * reload whether it changed. */
  auth_config *auth; /* owned */
  json_t *auth_json; /* owned ref; NULL when off */
  /* The URL clients reach mcpd at ("https://mcp.example.com", maybe with a
   * path prefix), for the absolute URLs mcpd sends; NULL: from the request. */
  char *public_url; /* owned; no trailing "/" */
  /* Signs what clients carry back (2026-07-28 requestState): instances that
   * share it can each resume what another began. Without it, a key made at
   * start serves this process only. */
  unsigned char state_key[32];
  int have_state_key;
  char **trusted_proxies; /* owned; addresses or CIDRs whose X-Forwarded-* count */
  size_t n_trusted_proxies;

  json_t *plugins; /* owned ref: object, plugin name -> its config object */
  json_t *empty;   /* owned ref: {} handed to plugins that have no config */
} config;

/* Fills c with the defaults (documented in the README). Returns 0 or
 * -ENOMEM. */
int config_init(config *c);

/* Reads and applies a JSON config file over c. Unknown keys, wrong types and
 * out-of-range values are errors. Returns 0, or a negative error with a
 * message naming the file, line or key in err (size n). */
int config_load_file(config *c, const char *path, char *err, size_t n);

/* Applies a parsed config object (borrowed) over c. Same errors. */
int config_apply_json(config *c, const json_t *root, char *err, size_t n);

/* Sets listen_host/listen_port from "HOST:PORT", "[V6]:PORT" or ":PORT".
 * Returns 0 or -EINVAL with a message. */
int config_set_listen(config *c, const char *spec, char *err, size_t n);

/* Replaces a string field (copied). Returns 0 or -ENOMEM. */
int config_set_string(char **field, const char *value);

/* Returns the plugin's config object (borrowed; an empty object when the
 * config has none for it). Never NULL. */
const json_t *config_plugin(const config *c, const char *plugin_name);

/* The directory for plugin copies: runtime_dir, else $RUNTIME_DIRECTORY
 * (systemd), else $XDG_RUNTIME_DIR/mcpd, else /tmp/mcpd-<uid>. Writes it
 * into out (size n). */
void config_runtime_dir(const config *c, char *out, size_t n);

/* One --openapi of the command line and the --base-url after it: a backend
 * of the http_backend plugin. Strings are borrowed. */
typedef struct config_openapi {
  const char *openapi;  /* an http(s):// or file: URL (see config_openapi_source) */
  const char *base_url; /* NULL: where the document's servers say */
} config_openapi;

/* Records one command-line option in list (cap entries, *count in use):
 * --openapi (is_base_url 0) starts a new entry, --base-url (1) sets the
 * latest one's base_url. value is borrowed and kept. Returns 0, or -EINVAL
 * with a message in err (size n): a --base-url before any --openapi, a
 * second --base-url for one --openapi, more than cap. */
int config_openapi_arg(config_openapi *list, size_t *count, size_t cap, int is_base_url,
                       const char *value, char *err, size_t n);

/* What --openapi ARG gives http_backend as "openapi": an http://, https://
 * or file: URL as it is, any other ARG is a local file, written as file://
 * and its absolute path (made against cwd when relative; a leading "./" is
 * dropped). Writes into out (size n); returns 0, or -ENAMETOOLONG. */
int config_openapi_source(const char *arg, const char *cwd, char *out, size_t n);

/* The directory for state kept across restarts (the session signing key
 * when there is no state_key): state_dir, else $STATE_DIRECTORY (systemd),
 * else $XDG_STATE_HOME/mcpd, else $HOME/.local/state/mcpd; "" when none
 * can be named. Writes it into out (size n). */
void config_state_dir(const config *c, char *out, size_t n);

/* What the command line said, applied over the config file each time the
 * configuration is built (at start and on every reload). Strings are
 * borrowed. */
typedef struct config_args {
  const char *config_file; /* NULL: no file */
  const char *listen;      /* NULL: from the file */
  const char *plugins_dir;
  int log_level;        /* -1: from the file */
  int stdio;            /* serve stdin/stdout instead of HTTP */
  const char *tls_cert; /* NULL: from the file */
  const char *tls_key;
  const char *tls_client_ca;
  /* Backends appended to plugins.http_backend.backends, each named after
   * its document's host (and port) or file name, made unique. */
  const config_openapi *openapi; /* borrowed array */
  size_t n_openapi;
} config_args;

/* Builds the configuration from the file and the command line into *out
 * (initialised here; the caller frees it). Returns 0, or a negative error
 * with a message in err (size n). */
int config_build(const config_args *args, config *out, char *err, size_t n);

/* Frees everything c owns. */
void config_free(config *c);

#endif
