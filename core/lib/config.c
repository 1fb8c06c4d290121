/* config.c -- the daemon's configuration. */
#include "lib/config.h"

#include "lib/cidr.h"
#include "lib/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Numeric settings, table-driven so the file format, the checks and the
 * README stay in step. */
enum num_kind { NUM_UNSIGNED, NUM_SIZE };

struct num_setting {
  const char *section; /* "limits" or "timeouts" */
  const char *key;
  enum num_kind kind;
  size_t offset;
  unsigned long long min, max;
};

#define U(sec, key, field, lo, hi)                                                                 \
  { sec, key, NUM_UNSIGNED, offsetof(config, field), lo, hi }
#define Z(sec, key, field, lo, hi)                                                                 \
  { sec, key, NUM_SIZE, offsetof(config, field), lo, hi }

static const struct num_setting num_settings[] = {
    Z("limits", "max_body_bytes", max_body_bytes, 1024, 1ULL << 31),
    Z("limits", "max_header_bytes", max_header_bytes, 1024, 1 << 20),
    U("limits", "max_headers", max_headers, 8, 1000),
    U("limits", "max_connections", max_connections, 1, 1000000),
    U("limits", "max_connections_per_client", max_connections_per_client, 1, 1000000),
    U("limits", "max_streams_per_client", max_streams_per_client, 1, 1000000),
    Z("limits", "max_unread_bytes", max_unread_bytes, 4096, 1ULL << 32),
    U("limits", "max_pipelined_requests", max_pipelined, 1, 1024),
    U("limits", "max_sessions", max_sessions, 1, 10000000),
    U("limits", "max_sessions_per_client", max_sessions_per_client, 1, 10000000),
    U("limits", "page_size", page_size, 1, 100000),
    Z("limits", "max_write_queue_bytes", max_write_queue_bytes, 65536, 1ULL << 32),
    U("limits", "max_calls_per_session", max_calls_per_session, 1, 100000),
    U("limits", "max_batch_messages", max_batch_messages, 1, 100000),
    Z("limits", "max_json_values", max_json_values, 16, 100000000),
    U("limits", "max_workers_per_session", max_workers_per_session, 0, 1024),
    U("limits", "sse_replay_events", sse_replay_events, 1, 100000),
    U("limits", "max_sessions_per_principal", max_sessions_per_principal, 1, 10000000),
    U("limits", "principal_rate_per_s", principal_rate_per_s, 0, 1000000),
    U("limits", "principal_burst", principal_burst, 0, 10000000),
    U("limits", "max_tasks", max_tasks, 1, 1000000),
    U("limits", "max_tasks_per_client", max_tasks_per_client, 1, 1000000),
    Z("limits", "max_task_bytes", max_task_bytes, 65536, 1ULL << 40),
    Z("limits", "max_task_bytes_per_client", max_task_bytes_per_client, 65536, 1ULL << 40),
    U("timeouts", "header_ms", header_timeout_ms, 0, 86400000),
    U("timeouts", "request_ms", request_timeout_ms, 0, 86400000),
    U("timeouts", "keepalive_ms", keepalive_timeout_ms, 0, 86400000),
    U("timeouts", "send_ms", send_timeout_ms, 0, 86400000),
    U("timeouts", "session_idle_ms", session_idle_ms, 0, 604800000),
    U("timeouts", "call_ms", call_timeout_ms, 0, 86400000),
    U("timeouts", "sse_keepalive_ms", sse_keepalive_ms, 0, 3600000),
    U("timeouts", "shutdown_ms", shutdown_timeout_ms, 0, 3600000),
    U("timeouts", "drain_ms", drain_timeout_ms, 0, 86400000),
    U("timeouts", "client_request_ms", client_request_ms, 1, 86400000),
    U("timeouts", "sse_retry_ms", sse_retry_ms, 0, 3600000),
    U("timeouts", "sse_poll_ms", sse_poll_ms, 0, 3600000),
    U("timeouts", "sse_resume_ms", sse_resume_ms, 0, 86400000),
    U("timeouts", "sse_stall_ms", sse_stall_ms, 0, 86400000),
    U("timeouts", "tls_handshake_ms", tls_handshake_timeout_ms, 0, 3600000),
    U("timeouts", "task_ttl_ms", task_ttl_ms, 1000, 604800000),
    U("timeouts", "task_poll_ms", task_poll_ms, 10, 3600000),
    U("timeouts", "list_ttl_ms", list_ttl_ms, 0, 86400000),
};

#undef U
#undef Z

int config_set_string(char **field, const char *value) {
  char *copy = NULL;
  if (value != NULL) {
    copy = strdup(value);
    if (copy == NULL)
      return -ENOMEM;
  }
  free(*field);
  *field = copy;
  return 0;
}

int config_init(config *c) {
  memset(c, 0, sizeof(*c));
  c->listen_port = 8000;
  c->log_level = LOGLVL_INFO;
  c->access_log = 1;
  c->worker_threads = 4;
  c->max_body_bytes = 4u << 20;
  c->max_header_bytes = 16u << 10;
  c->max_headers = 100;
  c->max_connections = 1024;
  /* A quarter of the connections, half of them streams: one address
   * cannot lock the others out, and a NAT of clients still fits. */
  c->max_connections_per_client = 256;
  c->max_streams_per_client = 128;
  c->max_unread_bytes = 1u << 20;
  c->max_pipelined = 16;
  c->max_sessions = 10000;
  /* A tenth of the table: a flood from one address cannot evict the
   * others' sessions, and many clients behind one NAT still fit. */
  c->max_sessions_per_client = 1000;
  c->page_size = 100;
  c->max_write_queue_bytes = 8u << 20;
  c->max_calls_per_session = 128;
  /* Enough for any real client; each message of a batch is a request. */
  c->max_batch_messages = 100;
  /* Building and freeing a value costs up to ~150 ns: 100,000 bound one
   * body's hold on the loop to ~15 ms, and few real calls come near it. */
  c->max_json_values = 100000;
  c->max_workers_per_session = 0; /* worker_threads - 1: one is left for the others */
  c->header_timeout_ms = 10000;
  c->request_timeout_ms = 30000;
  c->keepalive_timeout_ms = 60000;
  c->send_timeout_ms = 30000;
  c->session_idle_ms = 30 * 60 * 1000;
  c->call_timeout_ms = 5 * 60 * 1000;
  /* A task outlives its request, so it holds memory for a client that may
   * never come back: an hour, and a cap per client, bound what it holds. */
  c->task_ttl_ms = 60 * 60 * 1000;
  c->task_poll_ms = 1000;
  c->max_tasks = 10000;
  c->max_tasks_per_client = 100;
  c->max_task_bytes = 512u << 20;
  c->max_task_bytes_per_client = 32u << 20;
  c->sse_keepalive_ms = 15000;
  c->shutdown_timeout_ms = 10000;
  c->drain_timeout_ms = 60000;
  c->client_request_ms = 60000;
  c->sse_retry_ms = 1000;
  c->sse_poll_ms = 0;
  c->sse_resume_ms = 60000;
  c->sse_stall_ms = 60000;
  c->tls_handshake_timeout_ms = 10000;
  c->sse_replay_events = 64;
  c->max_sessions_per_principal = 1000;
  c->plugins = json_object();
  c->empty = json_object();
  if (config_set_string(&c->listen_host, "127.0.0.1") < 0 || c->plugins == NULL ||
      c->empty == NULL) {
    config_free(c);
    return -ENOMEM;
  }
  return 0;
}

static void free_list(char ***list, size_t *n) {
  size_t i;
  for (i = 0; i < *n; i++)
    free((*list)[i]);
  free(*list);
  *list = NULL;
  *n = 0;
}

void config_free(config *c) {
  free(c->listen_host);
  free(c->plugins_dir);
  free(c->runtime_dir);
  free(c->state_dir);
  free(c->instructions);
  free(c->tls_cert_file);
  free(c->tls_key_file);
  free(c->tls_client_ca_file);
  auth_config_free(c->auth);
  json_decref(c->auth_json);
  free(c->public_url);
  free_list(&c->trusted_proxies, &c->n_trusted_proxies);
  free_list(&c->allowed_origins, &c->n_allowed_origins);
  free_list(&c->allowed_hosts, &c->n_allowed_hosts);
  json_decref(c->plugins);
  json_decref(c->empty);
  memset(c, 0, sizeof(*c));
}

int config_set_listen(config *c, const char *spec, char *err, size_t n) {
  const char *colon, *host_start, *host_end;
  char *end, *host;
  long port;

  if (spec[0] == '[') {
    host_end = strchr(spec, ']');
    if (host_end == NULL || host_end[1] != ':') {
      snprintf(err, n, "listen address \"%s\": expected [IPv6]:PORT", spec);
      return -EINVAL;
    }
    host_start = spec + 1;
    colon = host_end + 1;
  } else {
    colon = strrchr(spec, ':');
    if (colon == NULL) {
      snprintf(err, n, "listen address \"%s\": expected HOST:PORT", spec);
      return -EINVAL;
    }
    host_start = spec;
    host_end = colon;
    if (memchr(spec, ':', (size_t)(colon - spec)) != NULL) {
      snprintf(err, n, "listen address \"%s\": write IPv6 addresses as [ADDR]:PORT", spec);
      return -EINVAL;
    }
  }
  errno = 0;
  port = strtol(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 0 || port > 65535) {
    snprintf(err, n, "listen address \"%s\": port must be a number from 0 to 65535", spec);
    return -EINVAL;
  }
  if (host_end == host_start) {
    host = strdup("0.0.0.0");
  } else {
    host = strndup(host_start, (size_t)(host_end - host_start));
  }
  if (host == NULL)
    return -ENOMEM;
  free(c->listen_host);
  c->listen_host = host;
  c->listen_port = (int)port;
  return 0;
}

static int string_list(const json_t *v, const char *key, char ***out, size_t *out_n, char *err,
                       size_t n) {
  size_t i, count;
  char **list;

  if (!json_is_array(v)) {
    snprintf(err, n, "\"%s\" must be an array of strings", key);
    return -EINVAL;
  }
  count = json_array_size(v);
  list = calloc(count ? count : 1, sizeof(*list));
  if (list == NULL)
    return -ENOMEM;
  for (i = 0; i < count; i++) {
    const json_t *s = json_array_get(v, i);
    if (!json_is_string(s) || json_string_length(s) == 0) {
      snprintf(err, n, "\"%s\"[%zu] must be a non-empty string", key, i);
      free_list(&list, &i);
      return -EINVAL;
    }
    list[i] = strdup(json_string_value(s));
    if (list[i] == NULL) {
      free_list(&list, &i);
      return -ENOMEM;
    }
  }
  free_list(out, out_n);
  *out = list;
  *out_n = count;
  return 0;
}

/* "tls": {"cert_file", "key_file", "client_ca_file"}. Only the shape is
 * checked here (no I/O in this layer); the files are read by the daemon. */
static int apply_tls(config *c, const json_t *obj, char *err, size_t n) {
  const char *key;
  const json_t *v;
  int r;

  if (!json_is_object(obj)) {
    snprintf(err, n, "\"tls\" must be an object with \"cert_file\" and \"key_file\"");
    return -EINVAL;
  }
  json_object_foreach((json_t *)obj, key, v) {
    static const char *const keys[] = {"cert_file", "key_file", "client_ca_file"};
    char **fields[] = {&c->tls_cert_file, &c->tls_key_file, &c->tls_client_ca_file};
    size_t i = 0;
    while (i < 3 && strcmp(key, keys[i]) != 0)
      i++;
    if (i == 3) {
      if (key[0] == '_')
        continue;
      snprintf(err, n, "unknown setting \"tls.%s\"", key);
      return -EINVAL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
      snprintf(err, n, "\"tls.%s\" must be a non-empty string (a file name)", key);
      return -EINVAL;
    }
    if ((r = config_set_string(fields[i], json_string_value(v))) < 0)
      return r;
  }
  return 0;
}

/* The TLS settings belong together: a certificate needs its key. */
static int check_tls(const config *c, char *err, size_t n) {
  if ((c->tls_cert_file == NULL) != (c->tls_key_file == NULL)) {
    snprintf(err, n, "tls: %s is set but not %s (HTTPS needs both)",
             c->tls_cert_file ? "cert_file" : "key_file",
             c->tls_cert_file ? "key_file" : "cert_file");
    return -EINVAL;
  }
  if (c->tls_client_ca_file != NULL && c->tls_cert_file == NULL) {
    snprintf(err, n, "tls: client_ca_file needs cert_file and key_file");
    return -EINVAL;
  }
  return 0;
}

/* "state_key": 64 hexadecimal digits, or "${NAME}" for an environment
 * variable holding them (openssl rand -hex 32). Never echoed. */
static int apply_state_key(config *c, const json_t *v, char *err, size_t n) {
  const char *s = json_string_value(v), *hex = s;
  size_t i, len;
  char name[128];
  if (s != NULL && (len = strlen(s)) > 3 && s[0] == '$' && s[1] == '{' && s[len - 1] == '}' &&
      len - 3 < sizeof(name)) {
    memcpy(name, s + 2, len - 3);
    name[len - 3] = '\0';
    if ((hex = getenv(name)) == NULL) {
      snprintf(err, n, "\"state_key\": environment variable %s is not set", name);
      return -EINVAL;
    }
  }
  if (hex == NULL || strlen(hex) != 64 || strspn(hex, "0123456789abcdefABCDEF") != 64) {
    snprintf(err, n,
             "\"state_key\" must be 64 hexadecimal digits (openssl rand -hex 32), or "
             "\"${VAR}\" naming an environment variable that holds them");
    return -EINVAL;
  }
  for (i = 0; i < 32; i++) {
    unsigned b;
    sscanf(hex + 2 * i, "%2x", &b);
    c->state_key[i] = (unsigned char)b;
  }
  c->have_state_key = 1;
  return 0;
}

/* "public_url": "https://host[:port][/prefix]". */
static int apply_public_url(config *c, const json_t *v, char *err, size_t n) {
  const char *s = json_string_value(v);
  size_t len = s ? strlen(s) : 0;
  const char *host;
  int r;
  host = s == NULL                            ? NULL
         : strncasecmp(s, "https://", 8) == 0 ? s + 8
         : strncasecmp(s, "http://", 7) == 0  ? s + 7
                                              : NULL;
  if (host == NULL || host[0] == '\0' || host[0] == '/' || strpbrk(s, "?# \"'\\") != NULL ||
      len > 200) {
    snprintf(err, n, "\"public_url\" must look like https://host[:port][/prefix]");
    return -EINVAL;
  }
  while (len > 0 && s[len - 1] == '/')
    len--; /* "https://x/" and "https://x" are the same base */
  if ((r = config_set_string(&c->public_url, s)) < 0)
    return r;
  c->public_url[len] = '\0';
  return 0;
}

/* With auth on, tokens are checked against this server's URL. When it is
 * not configured it comes from the request's Host, which is safe only
 * while Host is checked (a loopback listener, or allowed_hosts). */
static int is_loopback_host(const char *h) {
  return strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0 || strncmp(h, "127.", 4) == 0;
}

static int check_auth(const config *c, char *err, size_t n) {
  size_t i;
  int host_checked = is_loopback_host(c->listen_host) || c->n_allowed_hosts > 0;
  for (i = 0; i < c->n_allowed_hosts; i++) {
    if (strcmp(c->allowed_hosts[i], "*") == 0)
      host_checked = 0;
  }
  if (c->auth == NULL || !auth_config_oauth(c->auth) || c->auth->resource != NULL ||
      c->public_url != NULL || host_checked ||
      (c->auth->jwt && c->auth->jwt_audience != NULL && !c->auth->introspection))
    return 0;
  snprintf(err, n,
           "auth: tokens are checked against this server's URL, and mcpd cannot trust the Host "
           "header on %s: set auth.resource (e.g. \"https://mcp.example.com/mcp\"), public_url, "
           "or allowed_hosts",
           c->listen_host);
  return -EINVAL;
}

static int apply_section(config *c, const json_t *obj, const char *section, char *err, size_t n) {
  const char *key;
  const json_t *v;
  size_t i;

  if (!json_is_object(obj)) {
    snprintf(err, n, "\"%s\" must be an object", section);
    return -EINVAL;
  }
  json_object_foreach((json_t *)obj, key, v) {
    const struct num_setting *s = NULL;
    json_int_t x;
    for (i = 0; i < sizeof(num_settings) / sizeof(num_settings[0]); i++) {
      if (strcmp(num_settings[i].section, section) == 0 && strcmp(num_settings[i].key, key) == 0) {
        s = &num_settings[i];
        break;
      }
    }
    if (s == NULL) {
      snprintf(err, n, "unknown setting \"%s.%s\"", section, key);
      return -EINVAL;
    }
    if (!json_is_integer(v)) {
      snprintf(err, n, "\"%s.%s\" must be an integer", section, key);
      return -EINVAL;
    }
    x = json_integer_value(v);
    if (x < 0 || (unsigned long long)x < s->min || (unsigned long long)x > s->max) {
      snprintf(err, n, "\"%s.%s\" must be between %llu and %llu", section, key, s->min, s->max);
      return -EINVAL;
    }
    if (s->kind == NUM_SIZE)
      *(size_t *)((char *)c + s->offset) = (size_t)x;
    else
      *(unsigned *)((char *)c + s->offset) = (unsigned)x;
  }
  return 0;
}

int config_apply_json(config *c, const json_t *root, char *err, size_t n) {
  const char *key;
  const json_t *v;
  int r;

  if (!json_is_object(root)) {
    snprintf(err, n, "the configuration must be a JSON object");
    return -EINVAL;
  }
  json_object_foreach((json_t *)root, key, v) {
    if (strcmp(key, "listen") == 0) {
      if (!json_is_string(v)) {
        snprintf(err, n, "\"listen\" must be a string like \"127.0.0.1:8000\"");
        return -EINVAL;
      }
      r = config_set_listen(c, json_string_value(v), err, n);
    } else if (strcmp(key, "state_dir") == 0) {
      if (!json_is_string(v) || json_string_length(v) == 0) {
        snprintf(err, n, "\"state_dir\" must be a non-empty string");
        return -EINVAL;
      }
      r = config_set_string(&c->state_dir, json_string_value(v));
    } else if (strcmp(key, "plugins_dir") == 0 || strcmp(key, "instructions") == 0 ||
               strcmp(key, "runtime_dir") == 0) {
      if (!json_is_string(v) || json_string_length(v) == 0) {
        snprintf(err, n, "\"%s\" must be a non-empty string", key);
        return -EINVAL;
      }
      r = config_set_string(key[0] == 'p'   ? &c->plugins_dir
                            : key[0] == 'r' ? &c->runtime_dir
                                            : &c->instructions,
                            json_string_value(v));
    } else if (strcmp(key, "log_level") == 0) {
      int level = json_is_string(v) ? log_level_parse(json_string_value(v)) : -1;
      if (level < 0) {
        snprintf(err, n, "\"log_level\" must be one of \"debug\", \"info\", \"warn\", \"error\"");
        return -EINVAL;
      }
      c->log_level = level;
      r = 0;
    } else if (strcmp(key, "access_log") == 0) {
      if (!json_is_boolean(v)) {
        snprintf(err, n, "\"access_log\" must be true or false");
        return -EINVAL;
      }
      c->access_log = json_is_true(v);
      r = 0;
    } else if (strcmp(key, "session_id_prefix") == 0) {
      const char *p = json_is_string(v) ? json_string_value(v) : NULL;
      size_t len = p ? strlen(p) : 0;
      if (p == NULL || len >= sizeof(c->session_id_prefix) ||
          strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len) {
        snprintf(err, n,
                 "\"session_id_prefix\" must be a string of at most %zu characters of A-Z a-z "
                 "0-9 . _ -",
                 sizeof(c->session_id_prefix) - 1);
        return -EINVAL;
      }
      memcpy(c->session_id_prefix, p, len + 1);
      r = 0;
    } else if (strcmp(key, "allowed_origins") == 0) {
      r = string_list(v, key, &c->allowed_origins, &c->n_allowed_origins, err, n);
    } else if (strcmp(key, "allowed_hosts") == 0) {
      r = string_list(v, key, &c->allowed_hosts, &c->n_allowed_hosts, err, n);
    } else if (strcmp(key, "worker_threads") == 0) {
      if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1024) {
        snprintf(err, n, "\"worker_threads\" must be an integer between 1 and 1024");
        return -EINVAL;
      }
      c->worker_threads = (unsigned)json_integer_value(v);
      r = 0;
    } else if (strcmp(key, "tls") == 0) {
      r = apply_tls(c, v, err, n);
    } else if (strcmp(key, "auth") == 0) {
      auth_config *a;
      r = auth_config_parse(v, &a, err, n);
      if (r == 0) {
        auth_config_free(c->auth);
        json_decref(c->auth_json);
        c->auth = a;
        c->auth_json = json_deep_copy(v);
        r = c->auth_json ? 0 : -ENOMEM;
      }
    } else if (strcmp(key, "state_key") == 0) {
      r = apply_state_key(c, v, err, n);
    } else if (strcmp(key, "public_url") == 0) {
      r = apply_public_url(c, v, err, n);
    } else if (strcmp(key, "trusted_proxies") == 0) {
      r = string_list(v, key, &c->trusted_proxies, &c->n_trusted_proxies, err, n);
      for (size_t i = 0; r == 0 && i < c->n_trusted_proxies; i++) {
        cidr block;
        if (cidr_parse(c->trusted_proxies[i], &block) < 0) {
          snprintf(err, n, "trusted_proxies[%zu]: \"%.60s\" is not an address or CIDR", i,
                   c->trusted_proxies[i]);
          r = -EINVAL;
        }
      }
    } else if (strcmp(key, "limits") == 0 || strcmp(key, "timeouts") == 0) {
      r = apply_section(c, v, key, err, n);
    } else if (strcmp(key, "plugins") == 0) {
      const char *name;
      const json_t *pc;
      if (!json_is_object(v)) {
        snprintf(err, n, "\"plugins\" must be an object of plugin name -> settings");
        return -EINVAL;
      }
      json_object_foreach((json_t *)v, name, pc) {
        if (!json_is_object(pc)) {
          snprintf(err, n, "\"plugins.%s\" must be an object", name);
          return -EINVAL;
        }
      }
      json_decref(c->plugins);
      c->plugins = json_deep_copy(v);
      r = c->plugins ? 0 : -ENOMEM;
    } else if (key[0] == '_' || strcmp(key, "comment") == 0) {
      r = 0; /* "_comment"-style keys let users annotate a JSON file */
    } else {
      snprintf(err, n, "unknown setting \"%s\"", key);
      return -EINVAL;
    }
    if (r < 0)
      return r;
  }
  return 0;
}

int config_load_file(config *c, const char *path, char *err, size_t n) {
  json_error_t je;
  json_t *root;
  char inner[256];
  int r;

  root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (root == NULL) {
    if (je.line < 0 || je.position == 0)
      snprintf(err, n, "%s: %s", path, je.text);
    else
      snprintf(err, n, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    return -EINVAL;
  }
  inner[0] = '\0';
  r = config_apply_json(c, root, inner, sizeof(inner));
  json_decref(root);
  if (r < 0)
    snprintf(err, n, "%s: %s", path, r == -ENOMEM ? "out of memory" : inner);
  return r;
}

void config_runtime_dir(const config *c, char *out, size_t n) {
  const char *env;
  if (c->runtime_dir != NULL) {
    snprintf(out, n, "%s", c->runtime_dir);
  } else if ((env = getenv("RUNTIME_DIRECTORY")) != NULL && *env == '/') {
    /* systemd's RuntimeDirectory= may list several, colon-separated. */
    snprintf(out, n, "%.*s", (int)strcspn(env, ":"), env);
  } else if ((env = getenv("XDG_RUNTIME_DIR")) != NULL && *env == '/') {
    snprintf(out, n, "%s/mcpd", env);
  } else {
    snprintf(out, n, "/tmp/mcpd-%u", (unsigned)getuid());
  }
}

void config_state_dir(const config *c, char *out, size_t n) {
  const char *env;
  if (c->state_dir != NULL)
    snprintf(out, n, "%s", c->state_dir);
  else if ((env = getenv("STATE_DIRECTORY")) != NULL && *env == '/')
    snprintf(out, n, "%.*s", (int)strcspn(env, ":"), env);
  else if ((env = getenv("XDG_STATE_HOME")) != NULL && *env == '/')
    snprintf(out, n, "%s/mcpd", env);
  else if ((env = getenv("HOME")) != NULL && *env == '/')
    snprintf(out, n, "%s/.local/state/mcpd", env);
  else
    snprintf(out, n, "%s", "");
}

const json_t *config_plugin(const config *c, const char *plugin_name) {
  const json_t *pc = json_object_get(c->plugins, plugin_name);
  return pc ? pc : c->empty;
}

/* ---- --openapi ------------------------------------------------------------ */

static int is_http_url(const char *s) {
  return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

int config_openapi_arg(config_openapi *list, size_t *count, size_t cap, int is_base_url,
                       const char *value, char *err, size_t n) {
  config_openapi *last = *count > 0 ? &list[*count - 1] : NULL;
  if (!is_base_url) {
    if (*count >= cap) {
      snprintf(err, n, "--openapi: at most %zu backends", cap);
      return -EINVAL;
    }
    list[*count].openapi = value;
    list[*count].base_url = NULL;
    (*count)++;
  } else if (last == NULL) {
    snprintf(err, n,
             "--base-url %.200s: no --openapi before it (a --base-url sets the base URL of "
             "the --openapi it follows)",
             value);
    return -EINVAL;
  } else if (last->base_url != NULL) {
    snprintf(err, n, "--base-url %.200s: --openapi %.200s already has --base-url %.200s", value,
             last->openapi, last->base_url);
    return -EINVAL;
  } else {
    last->base_url = value;
  }
  return 0;
}

int config_openapi_source(const char *arg, const char *cwd, char *out, size_t n) {
  size_t len = strlen(cwd);
  int k;
  if (is_http_url(arg) || strncmp(arg, "file:", 5) == 0) {
    k = snprintf(out, n, "%s", arg);
  } else if (arg[0] == '/') {
    k = snprintf(out, n, "file://%s", arg);
  } else {
    while (arg[0] == '.' && arg[1] == '/')
      for (arg += 2; arg[0] == '/'; arg++)
        ;
    k = snprintf(out, n, "file://%s%s%s", cwd, len > 0 && cwd[len - 1] == '/' ? "" : "/", arg);
  }
  return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

/* A backend's name from its document: the URL's host and port, else the
 * file's name without its extension; runs of characters other than
 * A-Z a-z 0-9 - become one "_". At most n - 1 characters. */
static void openapi_name(const char *src, char *out, size_t n) {
  const char *s, *end, *at;
  size_t i = 0;
  if (is_http_url(src)) {
    s = strstr(src, "://") + 3;
    end = s + strcspn(s, "/?#");
    while ((at = memchr(s, '@', (size_t)(end - s))) != NULL) /* user:password@ */
      s = at + 1;
  } else {
    s = strrchr(src, '/');
    s = s != NULL ? s + 1 : strncmp(src, "file:", 5) == 0 ? src + 5 : src;
    end = strrchr(s, '.');
    if (end == NULL || end == s)
      end = s + strlen(s);
  }
  for (; s < end && i + 1 < n; s++) {
    char ch = *s;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '-'))
      ch = '_';
    if (ch != '_' || (i > 0 && out[i - 1] != '_'))
      out[i++] = ch;
  }
  while (i > 0 && out[i - 1] == '_')
    i--;
  out[i] = '\0';
  if (i == 0)
    snprintf(out, n, "api");
}

static int backend_named(const json_t *backends, const char *name) {
  size_t i;
  const json_t *b;
  json_array_foreach(backends, i, b) {
    const char *other = json_string_value(json_object_get(b, "name"));
    if (other != NULL && strcmp(other, name) == 0)
      return 1;
  }
  return 0;
}

/* Appends the --openapi backends to plugins.http_backend.backends (made
 * when the file has none). */
static int add_openapi(config *c, const config_args *args, char *err, size_t n) {
  json_t *hb, *list, *b;
  char base[57], name[72];
  size_t i;
  unsigned k;

  if (args->n_openapi == 0)
    return 0;
  hb = json_object_get(c->plugins, "http_backend");
  if (hb == NULL && (json_object_set_new(c->plugins, "http_backend", json_object()) < 0 ||
                     (hb = json_object_get(c->plugins, "http_backend")) == NULL))
    return -ENOMEM;
  list = json_object_get(hb, "backends");
  if (list == NULL && (json_object_set_new(hb, "backends", json_array()) < 0 ||
                       (list = json_object_get(hb, "backends")) == NULL))
    return -ENOMEM;
  if (!json_is_array(list)) {
    snprintf(err, n,
             "config: \"plugins.http_backend.backends\" must be an array (--openapi adds "
             "to it)");
    return -EINVAL;
  }
  for (i = 0; i < args->n_openapi; i++) {
    const config_openapi *o = &args->openapi[i];
    if (o->base_url != NULL && !is_http_url(o->base_url)) {
      snprintf(err, n, "--base-url %.200s: not an http:// or https:// URL", o->base_url);
      return -EINVAL;
    }
    openapi_name(o->openapi, base, sizeof(base));
    snprintf(name, sizeof(name), "%s", base);
    for (k = 2; backend_named(list, name); k++)
      snprintf(name, sizeof(name), "%s_%u", base, k);
    b = json_object();
    if (b == NULL || json_array_append_new(list, b) < 0 ||
        json_object_set_new(b, "name", json_string(name)) < 0)
      return -ENOMEM;
    if (json_object_set_new(b, "openapi", json_string(o->openapi)) < 0 ||
        (o->base_url != NULL && json_object_set_new(b, "base_url", json_string(o->base_url)) < 0)) {
      snprintf(err, n, "--openapi %.200s (or its --base-url): not UTF-8 text", o->openapi);
      return -EINVAL;
    }
  }
  return 0;
}

int config_build(const config_args *args, config *out, char *err, size_t n) {
  char why[1024];
  int r = config_init(out);
  if (r < 0) {
    snprintf(err, n, "out of memory");
    return r;
  }
  if (args->config_file != NULL &&
      (r = config_load_file(out, args->config_file, why, sizeof(why))) < 0) {
    snprintf(err, n, "config: %s", why);
    goto fail;
  }
  if (args->listen != NULL && (r = config_set_listen(out, args->listen, why, sizeof(why))) < 0) {
    snprintf(err, n, "--listen: %s", why);
    goto fail;
  }
  if (args->plugins_dir != NULL &&
      (r = config_set_string(&out->plugins_dir, args->plugins_dir)) < 0)
    goto fail;
  if (args->log_level >= 0)
    out->log_level = args->log_level;
  if ((args->tls_cert != NULL &&
       (r = config_set_string(&out->tls_cert_file, args->tls_cert)) < 0) ||
      (args->tls_key != NULL && (r = config_set_string(&out->tls_key_file, args->tls_key)) < 0) ||
      (args->tls_client_ca != NULL &&
       (r = config_set_string(&out->tls_client_ca_file, args->tls_client_ca)) < 0))
    goto fail;
  if ((r = add_openapi(out, args, why, sizeof(why))) < 0) {
    snprintf(err, n, "%s", r == -ENOMEM ? "out of memory" : why);
    goto fail;
  }
  if ((r = check_tls(out, why, sizeof(why))) < 0 || (r = check_auth(out, why, sizeof(why))) < 0) {
    snprintf(err, n, "%s%s", args->config_file ? "config: " : "", why);
    goto fail;
  }
  return 0;
fail:
  config_free(out);
  return r;
}
