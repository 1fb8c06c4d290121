/* http_backend.c -- the bundled plugin that turns REST backends described
 * by OpenAPI documents into MCP tools (and, if asked, resources), and
 * forwards each call to its backend with the host's asynchronous HTTP
 * client. The conversion is openapi.c, the request and result mapping
 * oa_request.c; this file is the glue: settings, fetching the documents
 * (again on SIGHUP, and in the background while a backend is down),
 * registering what they describe, and the calls themselves.
 *
 * Settings (the "http_backend" object of mcpd's config):
 *   {"backends": [{"name": "shop", "base_url": "http://127.0.0.1:8001",
 *                  "openapi": "/openapi.json", ...}]}
 * See the README ("Wrapping an HTTP backend") for every key. */
#define _POSIX_C_SOURCE 200809L
#include <mcpd/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "oa_chars.h"
#include "oa_heap.h"
#include "oa_meta.h"
#include "oa_request.h"
#include "oa_slim.h"
#include "oa_yaml.h"
#include "oauth_cc.h"
#include "openapi.h"

static const mcpd_host *host;

/* openapi.h knows no mcpd type: its enum oa_task has the values of MCPD_TASK_*. */
_Static_assert(OA_TASK_FORBIDDEN == MCPD_TASK_FORBIDDEN && OA_TASK_OPTIONAL == MCPD_TASK_OPTIONAL &&
                   OA_TASK_REQUIRED == MCPD_TASK_REQUIRED,
               "enum oa_task");

#define MAX_BACKENDS   64
#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS   30000
#define SLIM_MIN_BYTES (1u << 20) /* documents slimmed before parsing (oa_slim.h) */
/* max_document_bytes' default. GitHub's REST description with every $ref
 * inlined (api.github.com.deref.json) is 73 MB and loads; 128 MiB leaves it
 * room to grow while still stopping a runaway download. */
#define DOC_MAX_DEFAULT (128u << 20)

struct backend;

/* One converted document. Tools point into it; calls hold a reference, so
 * a document replaced by a newer one lives until its last call is done. */
typedef struct api_gen {
  unsigned refs;
  oa_api api;
  struct op_ref *ops; /* one per api.ops[i] */
  oa_meta *meta;      /* tools_mode search: the tools behind the meta-tools, else NULL */
} api_gen;

/* tools_mode. */
enum { TOOLS_ALL, TOOLS_SEARCH, TOOLS_AUTO };

/* What a tool's (or resource's) data points to. */
typedef struct op_ref {
  struct backend *b;
  api_gen *gen;
  const oa_operation *op;
  int mismatch_logged; /* an answer did not match the output schema: said once */
} op_ref;

typedef struct backend {
  struct plugin *pl;
  char *name;
  char *origin;    /* "http://host:port" or "https://host:port" */
  char *base_path; /* "" or "/api" (no trailing slash) */
  char *openapi;   /* as configured */
  char *spec_url;  /* the document's URL when fetched over HTTP, else NULL */
  char *spec_file; /* the document's file when local, else NULL */
  json_t *options; /* the conversion options, kept for oa_options */
  char *tool_prefix;
  int get_as_resources;
  char **forward; /* header names to copy from the MCP client's request */
  size_t n_forward;
  char **headers; /* "Name: value" lines sent with every request */
  size_t n_headers;
  int security_scopes; /* OpenAPI "security" -> the tools' required_scopes */
  char *scope_prefix;  /* put before each of those scopes; "" for none */
  char **claim_names;  /* claim_headers: header names (NULL-terminated: the converter's
                          reserved_headers) and the claim each is taken from */
  char **claim_keys;
  size_t n_claims;
  oauth_cc *cc; /* "oauth2": the backend's own token, or NULL */
  unsigned timeout_ms, connect_timeout_ms;
  size_t max_response_bytes;
  int output_schemas;        /* 0: tools have no outputSchema */
  int read_only;             /* 1: only GET and HEAD operations */
  int use_servers;           /* no base_url: requests go to the document's servers[0] */
  size_t max_document_bytes; /* the OpenAPI document, fetched or read */
  /* TLS and proxy (NULL: the defaults; see mcpd_http_request). */
  char *ca_file, *client_cert_file, *client_key_file, *proxy;
  int insecure_skip_verify;
  char fetch_why[400];       /* what went wrong with the document request */
  int tools_mode;            /* TOOLS_ALL, TOOLS_SEARCH or TOOLS_AUTO */
  int task_default;          /* "tasks": an enum oa_task (task_operations: in options) */
  unsigned search_threshold; /* auto: search above this many tools */
  char meta_prefix[72];      /* the meta-tools' prefix: tool_prefix, else "<name>_" */
  api_gen *gen;              /* the newest document converted, or NULL */
  api_gen *published;        /* the one whose operations are registered, or NULL */
  mcpd_http *fetching;       /* the document request in flight */
  mcpd_timer *retry;
  unsigned retry_ms;
  unsigned failures;
} backend;

typedef struct plugin {
  mcpd_ctx *ctx;
  backend *backends;
  size_t n_backends;
  int live; /* init() has returned: changes go through update_begin() */
  /* A large document's tree, freed on the loop's next turn: see spend_document(). */
  json_t *spent;
  oa_heap_load spent_heap;
  mcpd_timer *spent_timer;
} plugin;

/* A call on its way to the backend. The request is kept whole until the call
 * completes: a 401 to a backend token is sent once more with a new one. */
typedef struct pending {
  mcpd_call *call;
  op_ref *ref;
  mcpd_http *http;
  oauth_cc_wait *wait; /* waiting for the backend's token */
  int resource;
  char *uri; /* resources: the URI asked for */
  int cancelled;
  int retried;        /* sent again after a 401 already */
  oa_request rq;      /* owned */
  char *url;          /* owned */
  const char **lines; /* n_lines header lines (into rq, the backend and extra), then
                         a slot for auth_line */
  size_t n_lines;
  char **extra; /* owned: forwarded and claim header lines */
  size_t n_extra;
  char *auth_line; /* owned: "Authorization: Bearer <token>", or NULL */
  char *token;     /* owned: the backend token the request carries, or NULL */
  char why[400];   /* what went wrong, from the host */
} pending;

/* ---- small helpers -------------------------------------------------------- */

static char *xstrdup(const char *s) {
  return s != NULL ? strdup(s) : NULL;
}

static void gen_unref(api_gen *g) {
  if (g == NULL || --g->refs > 0)
    return;
  openapi_free(&g->api);
  oa_meta_free(g->meta);
  free(g->ops);
  free(g);
}

static void free_lines(char **v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* ---- settings ---------------------------------------------------------------- */

static int bad(char *err, size_t n, const char *fmt, const char *a, const char *b) {
  snprintf(err, n, fmt, a, b);
  return -EINVAL;
}

/* Expands ${VAR} from the environment in s. Returns a new string, or NULL
 * with a message (a variable that is not set is an error: a credential
 * silently sent empty is worse). */
static char *expand_env(const char *s, const char *what, char *err, size_t n) {
  size_t cap = strlen(s) + 1, len = 0;
  char *out = malloc(cap);
  while (out != NULL && *s != '\0') {
    const char *add = s;
    size_t add_len = 1;
    char name[128];
    if (s[0] == '$' && s[1] == '{') {
      const char *end = strchr(s + 2, '}');
      size_t nl = end ? (size_t)(end - s - 2) : 0;
      if (end == NULL || nl == 0 || nl >= sizeof(name)) {
        snprintf(err, n, "bad ${...} in %s", what);
        free(out);
        return NULL;
      }
      memcpy(name, s + 2, nl);
      name[nl] = '\0';
      add = getenv(name);
      if (add == NULL) {
        snprintf(err, n, "environment variable %s (used in %s) is not set", name, what);
        free(out);
        return NULL;
      }
      add_len = strlen(add);
      s = end + 1;
    } else {
      s++;
    }
    if (len + add_len + 1 > cap) {
      char *grown;
      cap = (len + add_len + 1) * 2;
      grown = realloc(out, cap);
      if (grown == NULL) {
        free(out);
        return NULL;
      }
      out = grown;
    }
    memcpy(out + len, add, add_len);
    len += add_len;
  }
  if (out != NULL)
    out[len] = '\0';
  return out;
}

static int string_array(const json_t *v, const char *key, const char *bname, char ***out,
                        size_t *n_out, char *err, size_t n) {
  size_t i;
  json_t *item;
  *out = NULL;
  *n_out = 0;
  if (v == NULL)
    return 0;
  if (!json_is_array(v))
    return bad(err, n, "backend %s: \"%s\" must be an array of strings", bname, key);
  *out = calloc(json_array_size(v) + 1, sizeof(char *));
  if (*out == NULL)
    return -ENOMEM;
  json_array_foreach(v, i, item) {
    if (!json_is_string(item) || json_string_length(item) == 0)
      return bad(err, n, "backend %s: \"%s\" must be an array of strings", bname, key);
    (*out)[i] = strdup(json_string_value(item));
    if ((*out)[i] == NULL)
      return -ENOMEM;
    *n_out = i + 1;
  }
  return 0;
}

static unsigned uint_setting(const json_t *o, const char *key, unsigned def, unsigned lo,
                             unsigned hi, const char *bname, int *bad_out, char *err, size_t n) {
  const json_t *v = json_object_get(o, key);
  if (v == NULL)
    return def;
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
    char range[64];
    snprintf(range, sizeof(range), "%s must be an integer from %u to %u", key, lo, hi);
    bad(err, n, "backend %s: %s", bname, range);
    *bad_out = 1;
    return def;
  }
  return (unsigned)json_integer_value(v);
}

/* A file setting: a readable PEM file. Sets *out (owned) or leaves it NULL. */
static int pem_setting(const json_t *o, const char *key, const char *bname, char **out, char *err,
                       size_t n) {
  const json_t *v = json_object_get(o, key);
  char head[4096];
  size_t got;
  FILE *f;
  if (v == NULL)
    return 0;
  if (!json_is_string(v) || json_string_value(v)[0] == '\0') {
    snprintf(err, n, "backend %s: \"%s\" must be the path of a PEM file", bname, key);
    return -EINVAL;
  }
  f = fopen(json_string_value(v), "rb");
  if (f == NULL) {
    snprintf(err, n, "backend %s: %s %s: %s", bname, key, json_string_value(v), strerror(errno));
    return -EINVAL;
  }
  got = fread(head, 1, sizeof(head) - 1, f);
  fclose(f);
  head[got] = '\0';
  if (strstr(head, "-----BEGIN ") == NULL) {
    snprintf(err, n, "backend %s: %s %s is not a PEM file (no -----BEGIN line)", bname, key,
             json_string_value(v));
    return -EINVAL;
  }
  *out = strdup(json_string_value(v));
  return *out != NULL ? 0 : -ENOMEM;
}

/* ca_file, client_cert_file, client_key_file, insecure_skip_verify, proxy. */
static int parse_tls(backend *b, const json_t *o, const char *name, char *err, size_t n) {
  const json_t *v;
  int r;
  if ((r = pem_setting(o, "ca_file", name, &b->ca_file, err, n)) < 0 ||
      (r = pem_setting(o, "client_cert_file", name, &b->client_cert_file, err, n)) < 0 ||
      (r = pem_setting(o, "client_key_file", name, &b->client_key_file, err, n)) < 0)
    return r;
  if (b->client_key_file != NULL && b->client_cert_file == NULL)
    return bad(err, n, "backend %s: client_key_file needs client_cert_file%s", name, "");
  v = json_object_get(o, "insecure_skip_verify");
  if (v != NULL && !json_is_boolean(v))
    return bad(err, n, "backend %s: \"insecure_skip_verify\" must be true or false%s", name, "");
  b->insecure_skip_verify = json_is_true(v);
  v = json_object_get(o, "proxy");
  if (v != NULL) {
    const char *p = json_string_value(v);
    if (p == NULL ||
        (p[0] != '\0' && strncasecmp(p, "http://", 7) != 0 && strncasecmp(p, "https://", 8) != 0 &&
         strncasecmp(p, "socks5://", 9) != 0 && strncasecmp(p, "socks5h://", 10) != 0))
      return bad(err, n,
                 "backend %s: \"proxy\" must be a URL like \"http://proxy:3128\", or \"\" for "
                 "none%s",
                 name, "");
    if (strpbrk(p, " \t\r\n") != NULL)
      return bad(err, n, "backend %s: \"proxy\" has a space or line break%s", name, "");
    b->proxy = strdup(p);
    if (b->proxy == NULL)
      return -ENOMEM;
  }
  if (host->abi_minor < 3 &&
      (strncasecmp(b->origin, "https://", 8) == 0 ||
       (b->spec_url && strncasecmp(b->spec_url, "https://", 8) == 0) || b->ca_file ||
       b->client_cert_file || b->proxy || b->insecure_skip_verify))
    return bad(err, n,
               "backend %s: https:// and the TLS and proxy settings need mcpd with plugin "
               "ABI 1.3 or later%s",
               name, "");
  return 0;
}

/* The backend's TLS and proxy settings, and an error buffer, on a request. */
static void set_transport(const backend *b, mcpd_http_request *hr, char *why, size_t why_n) {
  hr->ca_file = b->ca_file;
  hr->client_cert_file = b->client_cert_file;
  hr->client_key_file = b->client_key_file;
  hr->proxy = b->proxy;
  if (b->insecure_skip_verify)
    hr->flags |= MCPD_HTTP_INSECURE_SKIP_VERIFY;
  why[0] = '\0';
  hr->error = why;
  hr->error_size = why_n;
}

/* Whether the "Name: value" line is for the header name (any case). */
static int line_is(const char *line, const char *name) {
  size_t len = strlen(name);
  return strncasecmp(line, name, len) == 0 && line[len] == ':';
}

static int forwards_authorization(const backend *b) {
  size_t i;
  for (i = 0; i < b->n_forward; i++) {
    if (strcasecmp(b->forward[i], "authorization") == 0)
      return 1;
  }
  return 0;
}

/* The client's token is for mcpd alone (design: never token passthrough). */
static int check_forwarding(const backend *b, mcpd_ctx *ctx, char *err, size_t n) {
  if (forwards_authorization(b) && MCPD_HOST_HAS(host, auth_enabled) && host->auth_enabled(ctx))
    return bad(err, n,
               "backend %s: forward_headers names authorization, but mcpd authenticates its "
               "clients (auth): the client's token is never forwarded; give the backend its own "
               "credentials (\"headers\" or \"oauth2\")%s",
               b->name, "");
  return 0;
}

/* security_scopes, scope_prefix. */
static int parse_scopes(backend *b, const json_t *o, const char *name, char *err, size_t n) {
  const json_t *v = json_object_get(o, "security_scopes");
  if (v != NULL && !json_is_boolean(v))
    return bad(err, n, "backend %s: \"security_scopes\" must be true or false%s", name, "");
  b->security_scopes = v == NULL || json_is_true(v);
  v = json_object_get(o, "scope_prefix");
  if (v != NULL && (!json_is_string(v) || !oa_scope_prefix_ok(json_string_value(v))))
    return bad(err, n,
               "backend %s: \"scope_prefix\" must be a string without spaces, quotes or "
               "backslashes%s",
               name, "");
  b->scope_prefix = strdup(v != NULL ? json_string_value(v) : "");
  return b->scope_prefix != NULL ? 0 : -ENOMEM;
}

/* claim_headers: {"X-User-Id": "sub"}. After forward_headers and headers. */
static int parse_claims(backend *b, const json_t *o, const char *name, char *err, size_t n) {
  const json_t *v = json_object_get(o, "claim_headers"), *cv;
  const char *hk;
  size_t i;
  if (v == NULL)
    return 0;
  if (!json_is_object(v))
    return bad(err, n, "backend %s: \"claim_headers\" must be an object of header: claim%s", name,
               "");
  if (!MCPD_HOST_HAS(host, call_principal))
    return bad(err, n,
               "backend %s: claim_headers needs mcpd with plugin ABI 1.3 or later (the caller's "
               "claims, call_principal)%s",
               name, "");
  b->claim_names = calloc(json_object_size(v) + 1, sizeof(char *));
  b->claim_keys = calloc(json_object_size(v) + 1, sizeof(char *));
  if (b->claim_names == NULL || b->claim_keys == NULL)
    return -ENOMEM;
  json_object_foreach((json_t *)v, hk, cv) {
    if (!oa_is_token(hk) || !json_is_string(cv) || json_string_length(cv) == 0)
      return bad(err, n,
                 "backend %s: claim_headers: \"%s\" needs a header name and the name of a "
                 "claim",
                 name, hk);
    for (i = 0; i < b->n_forward; i++) {
      if (strcasecmp(b->forward[i], hk) == 0)
        return bad(err, n, "backend %s: claim_headers: %s is also in forward_headers", name, hk);
    }
    for (i = 0; i < b->n_headers; i++) {
      if (line_is(b->headers[i], hk))
        return bad(err, n, "backend %s: claim_headers: %s is also in headers", name, hk);
    }
    if (strcasecmp(hk, "authorization") == 0 || strcasecmp(hk, "proxy-authorization") == 0 ||
        strcasecmp(hk, "host") == 0 || strcasecmp(hk, "cookie") == 0 ||
        strcasecmp(hk, "content-type") == 0 || strcasecmp(hk, "content-length") == 0)
      return bad(err, n, "backend %s: claim_headers: %s cannot carry a claim", name, hk);
    b->claim_names[b->n_claims] = strdup(hk);
    b->claim_keys[b->n_claims] = strdup(json_string_value(cv));
    b->n_claims++;
    if (b->claim_names[b->n_claims - 1] == NULL || b->claim_keys[b->n_claims - 1] == NULL)
      return -ENOMEM;
  }
  return 0;
}

static void prepare_token_request(void *arg, mcpd_http_request *hr, char *why, size_t why_n) {
  set_transport(arg, hr, why, why_n);
}

/* "oauth2": the backend's own token by client credentials. After headers,
 * forward_headers, the timeouts and the TLS settings. */
static int parse_oauth2(backend *b, const json_t *o, const char *name, char *err, size_t n) {
  static const char *const known[] = {"token_url", "client_id", "client_secret",
                                      "scopes",    "resource",  "auth_method"};
  const json_t *v = json_object_get(o, "oauth2"), *x;
  const char *key, *url, *id, *method, *resource = NULL;
  char *secret = NULL, *scope = NULL;
  oauth_cc_settings st;
  size_t i, len = 0;
  if (v == NULL)
    return 0;
  if (!json_is_object(v))
    return bad(err, n, "backend %s: \"oauth2\" must be an object%s", name, "");
  json_object_foreach((json_t *)v, key, x) {
    int found = 0;
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
      found |= strcmp(key, known[i]) == 0;
    if (!found && key[0] != '_')
      return bad(err, n, "backend %s: oauth2: unknown setting \"%s\"", name, key);
  }
  for (i = 0; i < b->n_headers; i++) {
    if (line_is(b->headers[i], "authorization"))
      return bad(err, n,
                 "backend %s: \"oauth2\" and an Authorization header in \"headers\" cannot "
                 "both be set%s",
                 name, "");
  }
  if (forwards_authorization(b))
    return bad(err, n,
               "backend %s: \"oauth2\" and forward_headers authorization cannot both be set%s",
               name, "");
  url = json_string_value(json_object_get(v, "token_url"));
  if (url == NULL ||
      (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) ||
      strpbrk(url, "# \t\r\n") != NULL)
    return bad(err, n, "backend %s: oauth2.token_url must be an http:// or https:// URL%s", name,
               "");
  if (strncasecmp(url, "http://", 7) == 0 && strncmp(url + 7, "127.", 4) != 0 &&
      strncmp(url + 7, "[::1]", 5) != 0 && strncasecmp(url + 7, "localhost", 9) != 0)
    host->log(b->pl->ctx, MCPD_LOG_WARNING,
              "backend=%s oauth2.token_url is http:// to another host: the client secret and "
              "the tokens cross the network unencrypted (use https://)",
              name);
  if (strncasecmp(url, "https://", 8) == 0 && host->abi_minor < 3)
    return bad(err, n, "backend %s: an https:// oauth2.token_url needs mcpd with plugin ABI 1.3%s",
               name, "");
  id = json_string_value(json_object_get(v, "client_id"));
  if (id == NULL || id[0] == '\0')
    return bad(err, n, "backend %s: oauth2.client_id is required (a string)%s", name, "");
  x = json_object_get(v, "client_secret");
  if (!json_is_string(x) || json_string_length(x) == 0)
    return bad(err, n, "backend %s: oauth2.client_secret is required (a string, e.g. %s)", name,
               "\"${SHOP_CLIENT_SECRET}\"");
  method = json_string_value(json_object_get(v, "auth_method"));
  if (json_object_get(v, "auth_method") != NULL &&
      (method == NULL ||
       (strcmp(method, "client_secret_basic") != 0 && strcmp(method, "client_secret_post") != 0)))
    return bad(err, n,
               "backend %s: oauth2.auth_method must be \"client_secret_basic\" or "
               "\"client_secret_post\"%s",
               name, "");
  x = json_object_get(v, "resource");
  if (x != NULL && !json_is_null(x)) {
    resource = json_string_value(x);
    if (resource == NULL || resource[0] == '\0' || strpbrk(resource, " \t\r\n") != NULL)
      return bad(err, n, "backend %s: oauth2.resource must be a URL or null%s", name, "");
  }
  x = json_object_get(v, "scopes");
  if (x != NULL) {
    const json_t *sc;
    if (!json_is_array(x))
      return bad(err, n, "backend %s: oauth2.scopes must be an array of scopes%s", name, "");
    json_array_foreach(x, i, sc) {
      if (!json_is_string(sc) || !oa_scope_prefix_ok(json_string_value(sc)) ||
          json_string_length(sc) == 0)
        return bad(err, n,
                   "backend %s: oauth2.scopes must be an array of scopes (no spaces, quotes or "
                   "backslashes)%s",
                   name, "");
      len += json_string_length(sc) + 1;
    }
    scope = calloc(len + 1, 1);
    if (scope == NULL)
      return -ENOMEM;
    json_array_foreach(x, i, sc) {
      if (i > 0)
        strcat(scope, " ");
      strcat(scope, json_string_value(sc));
    }
  }
  {
    char msg[300];
    secret = expand_env(json_string_value(json_object_get(v, "client_secret")),
                        "oauth2.client_secret", msg, sizeof(msg));
    if (secret == NULL) {
      free(scope);
      return bad(err, n, "backend %s: %s", name, msg);
    }
  }
  memset(&st, 0, sizeof(st));
  st.label = name;
  st.token_url = url;
  st.client_id = id;
  st.client_secret = secret;
  st.scope = scope;
  st.resource = resource;
  st.post = method != NULL && strcmp(method, "client_secret_post") == 0;
  st.timeout_ms = b->timeout_ms;
  st.connect_timeout_ms = b->connect_timeout_ms;
  st.prepare = prepare_token_request;
  st.prepare_arg = b;
  b->cc = oauth_cc_new(host, b->pl->ctx, &st);
  memset(secret, 0, strlen(secret));
  free(secret);
  free(scope);
  return b->cc != NULL ? 0 : -ENOMEM;
}

/* tools_mode, search_threshold; after tool_prefix. */
static int parse_tools_mode(backend *b, const json_t *o, const char *name, char *err, size_t n) {
  const json_t *v = json_object_get(o, "tools_mode");
  const char *m = json_string_value(v), *p;
  size_t i = 0;
  int isbad = 0;
  if (v == NULL || (m != NULL && strcmp(m, "auto") == 0))
    b->tools_mode = TOOLS_AUTO;
  else if (m != NULL && strcmp(m, "all") == 0)
    b->tools_mode = TOOLS_ALL;
  else if (m != NULL && strcmp(m, "search") == 0)
    b->tools_mode = TOOLS_SEARCH;
  else
    return bad(err, n, "backend %s: \"tools_mode\" must be \"all\", \"search\" or \"auto\"%s", name,
               "");
  b->search_threshold = uint_setting(o, "search_threshold", 100, 0, 1000000, name, &isbad, err, n);
  if (isbad)
    return -EINVAL;
  /* Meta-tool names must not clash between backends: without a tool_prefix,
   * the backend's name is theirs. */
  p = b->tool_prefix != NULL && b->tool_prefix[0] != '\0' ? b->tool_prefix : name;
  for (; *p != '\0' && i + 2 < sizeof(b->meta_prefix) - 20; p++)
    b->meta_prefix[i++] =
        oa_is_alnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.' ? *p : '_';
  if (b->tool_prefix == NULL || b->tool_prefix[0] == '\0')
    b->meta_prefix[i++] = '_';
  b->meta_prefix[i] = '\0';
  return 0;
}

/* The conversion options of b (pointing into b). */
static void fill_options(const backend *b, oa_options *opt) {
  memset(opt, 0, sizeof(*opt));
  opt->backend = b->name;
  opt->tool_prefix = b->tool_prefix;
  opt->include_operations = json_object_get(b->options, "include_operations");
  opt->exclude_operations = json_object_get(b->options, "exclude_operations");
  opt->include_tags = json_object_get(b->options, "include_tags");
  opt->exclude_tags = json_object_get(b->options, "exclude_tags");
  opt->route_map = json_object_get(b->options, "route_map");
  opt->get_as_resources = b->get_as_resources;
  opt->security_scopes = b->security_scopes;
  opt->scope_prefix = b->scope_prefix;
  opt->reserved_headers = b->n_claims > 0 ? (const char *const *)b->claim_names : NULL;
  opt->no_output_schemas = !b->output_schemas;
  opt->read_only = b->read_only;
  opt->server_variables = json_object_get(b->options, "server_variables");
  opt->server_args = b->use_servers;
  opt->task_default = b->task_default;
  opt->task_operations = json_object_get(b->options, "task_operations");
}

static int parse_backend(plugin *pl, backend *b, const json_t *o, char *err, size_t n) {
  static const char *const known[] = {
      "name",
      "base_url",
      "openapi",
      "tool_prefix",
      "include_operations",
      "exclude_operations",
      "include_tags",
      "exclude_tags",
      "route_map",
      "get_as_resources",
      "forward_headers",
      "headers",
      "timeout_ms",
      "connect_timeout_ms",
      "max_response_bytes",
      "max_document_bytes",
      "ca_file",
      "client_cert_file",
      "client_key_file",
      "insecure_skip_verify",
      "proxy",
      "security_scopes",
      "scope_prefix",
      "claim_headers",
      "oauth2",
      "output_schemas",
      "read_only",
      "server_variables",
      "tools_mode",
      "search_threshold",
      "tasks",
      "task_operations",
  };
  const char *key, *name, *url, *spec, *slash;
  const json_t *v;
  int r, isbad = 0;
  size_t i, scheme_len = 0;

  b->pl = pl;
  if (!json_is_object(o))
    return bad(err, n, "every entry of \"backends\" must be an object%s%s", "", "");
  name = json_string_value(json_object_get(o, "name"));
  if (name == NULL || name[0] == '\0' || strlen(name) > 64 ||
      strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
          strlen(name))
    return bad(err, n,
               "every backend needs a \"name\" of 1 to 64 characters of A-Z a-z 0-9 _ -%s%s", "",
               "");
  json_object_foreach((json_t *)o, key, v) {
    int found = 0;
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
      found |= strcmp(key, known[i]) == 0;
    if (!found && key[0] != '_')
      return bad(err, n, "backend %s: unknown setting \"%s\"", name, key);
  }
  b->name = strdup(name);
  url = json_string_value(json_object_get(o, "base_url"));
  spec = json_string_value(json_object_get(o, "openapi"));
  /* Without base_url the requests go to the document's servers[0] (its
   * variables filled in), so the document must be found without it. */
  b->use_servers = json_object_get(o, "base_url") == NULL && spec != NULL && spec[0] != '/';
  if (url == NULL && !b->use_servers)
    return bad(err, n,
               "backend %s: \"base_url\" is required (e.g. \"http://127.0.0.1:8001\"), unless "
               "\"openapi\" is a URL or a file whose servers say where the API is%s",
               name, "");
  if (b->use_servers)
    url = "http://servers.invalid"; /* not used: see server_prefix() */
  if (strncasecmp(url, "https://", 8) == 0)
    scheme_len = 8;
  else if (strncasecmp(url, "http://", 7) == 0)
    scheme_len = 7;
  if (scheme_len == 0 || url[scheme_len] == '\0' || url[scheme_len] == '/' ||
      strpbrk(url, "?# \t\r\n") != NULL)
    return bad(err, n,
               "backend %s: base_url must look like http[s]://host[:port][/base/path] (no query, "
               "fragment or spaces), not %s",
               name, url);
  slash = strchr(url + scheme_len, '/');
  b->origin = slash ? strndup(url, (size_t)(slash - url)) : strdup(url);
  b->base_path = strdup(slash ? slash : "");
  if (b->origin == NULL || b->base_path == NULL)
    return -ENOMEM;
  for (i = strlen(b->base_path); i > 0 && b->base_path[i - 1] == '/'; i--)
    b->base_path[i - 1] = '\0';
  if (json_object_get(o, "openapi") != NULL && spec == NULL)
    return bad(err, n, "backend %s: \"openapi\" must be a string%s", name, "");
  b->openapi = strdup(spec ? spec : "/openapi.json");
  if (b->openapi == NULL)
    return -ENOMEM;
  /* A path on the backend, a URL, or a local file. */
  if (b->openapi[0] == '/') {
    size_t len = strlen(b->origin) + strlen(b->base_path) + strlen(b->openapi) + 1;
    b->spec_url = malloc(len);
    if (b->spec_url == NULL)
      return -ENOMEM;
    snprintf(b->spec_url, len, "%s%s%s", b->origin, b->base_path, b->openapi);
  } else if (strncasecmp(b->openapi, "http://", 7) == 0 ||
             strncasecmp(b->openapi, "https://", 8) == 0) {
    b->spec_url = strdup(b->openapi);
  } else {
    const char *f = b->openapi;
    if (strncmp(f, "file://", 7) == 0)
      f += 7;
    else if (strncmp(f, "file:", 5) == 0)
      f += 5;
    b->spec_file = strdup(f);
  }
  if (b->spec_url == NULL && b->spec_file == NULL)
    return -ENOMEM;
  v = json_object_get(o, "tool_prefix");
  if (v != NULL && !json_is_string(v))
    return bad(err, n, "backend %s: \"tool_prefix\" must be a string%s", name, "");
  b->tool_prefix = xstrdup(json_string_value(v));
  v = json_object_get(o, "get_as_resources");
  if (v != NULL && !json_is_boolean(v))
    return bad(err, n, "backend %s: \"get_as_resources\" must be true or false%s", name, "");
  b->get_as_resources = json_is_true(v);
  v = json_object_get(o, "output_schemas");
  if (v != NULL && !json_is_boolean(v))
    return bad(err, n, "backend %s: \"output_schemas\" must be true or false%s", name, "");
  b->output_schemas = v == NULL || json_is_true(v);
  v = json_object_get(o, "read_only");
  if (v != NULL && !json_is_boolean(v))
    return bad(err, n, "backend %s: \"read_only\" must be true or false%s", name, "");
  b->read_only = json_is_true(v);
  r = string_array(json_object_get(o, "forward_headers"), "forward_headers", name, &b->forward,
                   &b->n_forward, err, n);
  if (r < 0)
    return r;
  for (i = 0; i < b->n_forward; i++) {
    if (strpbrk(b->forward[i], " :\r\n") != NULL)
      return bad(err, n, "backend %s: forward_headers: \"%s\" is not a header name", name,
                 b->forward[i]);
  }
  v = json_object_get(o, "headers");
  if (v != NULL) {
    const char *hk;
    const json_t *hv;
    if (!json_is_object(v))
      return bad(err, n, "backend %s: \"headers\" must be an object of name: value%s", name, "");
    b->headers = calloc(json_object_size(v) + 1, sizeof(char *));
    if (b->headers == NULL)
      return -ENOMEM;
    json_object_foreach((json_t *)v, hk, hv) {
      char *val, *line;
      size_t len;
      if (!json_is_string(hv) || strpbrk(hk, " :\r\n") != NULL || hk[0] == '\0')
        return bad(err, n, "backend %s: headers: \"%s\" needs a string value and a plain name",
                   name, hk);
      val = expand_env(json_string_value(hv), "a header", err, n);
      if (val == NULL)
        return -EINVAL;
      if (strpbrk(val, "\r\n") != NULL) {
        free(val);
        return bad(err, n, "backend %s: headers: the value of %s has a line break", name, hk);
      }
      len = strlen(hk) + strlen(val) + 3;
      line = malloc(len);
      if (line != NULL)
        snprintf(line, len, "%s: %s", hk, val);
      free(val);
      if (line == NULL)
        return -ENOMEM;
      b->headers[b->n_headers++] = line;
    }
  }
  b->timeout_ms = uint_setting(o, "timeout_ms", 30000, 1, 3600000, name, &isbad, err, n);
  if (!isbad)
    b->connect_timeout_ms =
        uint_setting(o, "connect_timeout_ms", 5000, 1, 600000, name, &isbad, err, n);
  if (!isbad)
    b->max_response_bytes =
        uint_setting(o, "max_response_bytes", 10u << 20, 1024, 1u << 30, name, &isbad, err, n);
  if (!isbad)
    b->max_document_bytes = uint_setting(o, "max_document_bytes", DOC_MAX_DEFAULT, 1024, 1u << 30,
                                         name, &isbad, err, n);
  if (isbad)
    return -EINVAL;
  r = parse_tls(b, o, name, err, n);
  if (r == 0)
    r = check_forwarding(b, pl->ctx, err, n);
  if (r == 0)
    r = parse_scopes(b, o, name, err, n);
  if (r == 0)
    r = parse_claims(b, o, name, err, n);
  if (r == 0)
    r = parse_oauth2(b, o, name, err, n);
  if (r == 0)
    r = parse_tools_mode(b, o, name, err, n);
  if (r < 0)
    return r;
  if (oa_task_settings(o, &b->task_default, err, n) < 0) {
    char msg[300];
    snprintf(msg, sizeof(msg), "%s", err);
    return bad(err, n, "backend %s: %s", name, msg);
  }
  /* The conversion options, checked now by a dry run on an empty document
   * (a bad route_map rule is a settings error, not a fetch error). */
  b->options = json_object();
  if (b->options == NULL)
    return -ENOMEM;
  v = json_object_get(o, "server_variables");
  if (v != NULL) {
    const char *vk;
    const json_t *vv;
    if (!json_is_object(v))
      return bad(err, n, "backend %s: \"server_variables\" must be an object of name: value%s",
                 name, "");
    json_object_foreach((json_t *)v, vk, vv) {
      if (!json_is_string(vv))
        return bad(err, n, "backend %s: server_variables: \"%s\" needs a string value", name, vk);
    }
    if (!b->use_servers)
      host->log(pl->ctx, MCPD_LOG_WARNING,
                "backend=%s server_variables are ignored: base_url says where requests go", name);
    json_object_set(b->options, "server_variables", (json_t *)v);
  }
  {
    static const char *const opt_keys[] = {"include_operations", "exclude_operations",
                                           "include_tags", "exclude_tags", "route_map"};
    json_t *doc;
    oa_options opt;
    oa_api api;
    for (i = 0; i < sizeof(opt_keys) / sizeof(opt_keys[0]); i++) {
      v = json_object_get(o, opt_keys[i]);
      if (v != NULL && !json_is_array(v))
        return bad(err, n, "backend %s: \"%s\" must be an array", name, opt_keys[i]);
      if (v != NULL)
        json_object_set(b->options, opt_keys[i], (json_t *)v);
    }
    doc = json_pack("{s:s,s:{s:s,s:s},s:{}}", "openapi", "3.1.0", "info", "title", "check",
                    "version", "0", "paths");
    memset(&api, 0, sizeof(api));
    fill_options(b, &opt);
    r = doc ? openapi_convert(doc, &opt, &api, err, n) : -ENOMEM;
    json_decref(doc);
    openapi_free(&api);
    if (r < 0) {
      char msg[400];
      snprintf(msg, sizeof(msg), "%s", err);
      return bad(err, n, "backend %s: %s", name, msg);
    }
    /* Its names are checked against each document (after the dry run, which has none). */
    v = json_object_get(o, "task_operations");
    if (v != NULL)
      json_object_set(b->options, "task_operations", (json_t *)v);
  }
  b->retry_ms = RETRY_FIRST_MS;
  return 0;
}

static void backend_free(backend *b) {
  free(b->name);
  free(b->origin);
  free(b->base_path);
  free(b->openapi);
  free(b->spec_url);
  free(b->spec_file);
  free(b->tool_prefix);
  free(b->ca_file);
  free(b->client_cert_file);
  free(b->client_key_file);
  free(b->proxy);
  json_decref(b->options);
  free_lines(b->forward, b->n_forward);
  free_lines(b->headers, b->n_headers);
  free(b->scope_prefix);
  free_lines(b->claim_names, b->n_claims);
  free_lines(b->claim_keys, b->n_claims);
  oauth_cc_free(b->cc);
  gen_unref(b->gen);
  gen_unref(b->published);
}

/* ---- calls ---------------------------------------------------------------------- */

static void pending_free(pending *p) {
  gen_unref(p->ref->gen);
  free(p->uri);
  oa_request_free(&p->rq);
  free(p->url);
  free(p->lines);
  free_lines(p->extra, p->n_extra);
  if (p->auth_line != NULL)
    memset(p->auth_line, 0, strlen(p->auth_line));
  free(p->auth_line);
  if (p->token != NULL)
    memset(p->token, 0, strlen(p->token));
  free(p->token);
  free(p);
}

static const char *header_of(const mcpd_http_response *resp, const char *name) {
  return mcpd_http_header(resp, name);
}

/* A failed exchange as the model should read it. */

/* Where the backend is, for messages: its base_url, or (when the document's
 * servers say where the API is) the document's address. */
static const char *backend_where(const backend *b) {
  return b->use_servers && b->spec_url != NULL ? b->spec_url : b->origin;
}

static void transport_error(const backend *b, int err, const char *why, char *msg, size_t n) {
  /* TLS and proxy failures, and timeouts in the handshake, only the host
   * can put in words. */
  if (why != NULL && why[0] != '\0' &&
      (err == -EKEYREJECTED || err == -ECONNABORTED || err == -EINVAL ||
       (err == -EPROTO && strncasecmp(b->origin, "https://", 8) == 0) ||
       (err == -ETIMEDOUT && strstr(why, "TLS") != NULL) ||
       (err == -ECONNREFUSED && strstr(why, "proxy") != NULL) || err == -EIO)) {
    snprintf(msg, n, "backend %s (%s): %s", b->name, backend_where(b), why);
    return;
  }
  switch (err) {
  case -ETIMEDOUT:
    snprintf(msg, n, "backend %s did not answer within %u ms (or did not accept the connection)",
             b->name, b->timeout_ms);
    break;
  case -ECONNREFUSED:
    snprintf(msg, n, "backend %s refused the connection (is %s up?)", b->name, backend_where(b));
    break;
  case -E2BIG:
    snprintf(msg, n, "backend %s answered more than max_response_bytes (%zu bytes)", b->name,
             b->max_response_bytes);
    break;
  case -EPROTO:
    snprintf(msg, n, "backend %s answered something that is not HTTP", b->name);
    break;
  case -ECONNRESET:
    snprintf(msg, n, "backend %s closed the connection before answering", b->name);
    break;
  case -EHOSTUNREACH:
    snprintf(msg, n, "backend %s: the host of %s did not resolve or cannot be reached", b->name,
             backend_where(b));
    break;
  case -EAGAIN:
    snprintf(msg, n, "backend %s: too many requests already waiting for a connection", b->name);
    break;
  case -ECANCELED:
    snprintf(msg, n, "the call was cancelled");
    break;
  default:
    snprintf(msg, n, "backend %s: %s", b->name, host->strerror(err));
  }
}

/* Completes p's call with a failure the model reads (a resource read gets a
 * JSON-RPC error), and frees p. */
static void finish_error(pending *p, int err, const char *msg) {
  if (p->resource)
    host->fail(p->call, err, msg);
  else
    host->complete(p->call, mcpd_result_error(msg));
  pending_free(p);
}

static void on_response(void *arg, int err, const mcpd_http_response *resp);
static void on_token(void *arg, int err, const char *token, const char *why);

/* Sends p's request (again), with token (borrowed) when the backend has
 * oauth2. Completes the call itself when it cannot be sent. */
static void send_request(pending *p, const char *token) {
  backend *b = p->ref->b;
  mcpd_http_request hr;
  size_t n = p->n_lines;
  int r;

  if (token != NULL) {
    size_t len = strlen(token);
    char *t = strdup(token), *line = malloc(len + sizeof("Authorization: Bearer "));
    if (t == NULL || line == NULL) {
      free(t);
      free(line);
      finish_error(p, -ENOMEM, "out of memory");
      return;
    }
    snprintf(line, len + sizeof("Authorization: Bearer "), "Authorization: Bearer %s", token);
    free(p->token);
    free(p->auth_line);
    p->token = t;
    p->auth_line = line;
    p->lines[n++] = line;
  }
  memset(&hr, 0, sizeof(hr));
  hr.struct_size = sizeof(hr);
  hr.method = p->rq.method;
  hr.url = p->url;
  hr.headers = p->lines;
  hr.n_headers = n;
  hr.body = p->rq.body;
  hr.body_len = p->rq.body_len;
  hr.timeout_ms = b->timeout_ms;
  hr.connect_timeout_ms = b->connect_timeout_ms;
  hr.max_response_bytes = b->max_response_bytes;
  hr.label = b->name;
  set_transport(b, &hr, p->why, sizeof(p->why));
  r = host->http_request(b->pl->ctx, &hr, on_response, p, &p->http);
  if (r < 0) {
    char msg[400];
    p->http = NULL;
    snprintf(msg, sizeof(msg), "backend %s: the request could not be sent: %s", b->name,
             host->strerror(r));
    finish_error(p, -EIO, msg);
  }
}

static void token_failed(pending *p, const char *why) {
  char msg[600];
  snprintf(msg, sizeof(msg), "backend %s: no access token from token_url: %s", p->ref->b->name,
           why);
  finish_error(p, -EIO, msg);
}

/* Sends p's request once the backend's token is there (at once when it is
 * kept). Without oauth2, sends it now. */
static void with_token(pending *p) {
  backend *b = p->ref->b;
  const char *token;
  char why[300];
  int r;
  if (b->cc == NULL) {
    send_request(p, NULL);
    return;
  }
  why[0] = '\0';
  r = oauth_cc_get(b->cc, &token, on_token, p, &p->wait, why, sizeof(why));
  if (r == 0)
    send_request(p, token);
  else if (r < 0)
    token_failed(p, why[0] ? why : host->strerror(r));
  /* OAUTH_CC_PENDING: on_token() goes on */
}

static void on_token(void *arg, int err, const char *token, const char *why) {
  pending *p = arg;
  p->wait = NULL;
  if (err != 0)
    token_failed(p, why);
  else
    send_request(p, token);
}

static void on_response(void *arg, int err, const mcpd_http_response *resp) {
  pending *p = arg;
  const op_ref *ref = p->ref;
  json_t *result;
  char msg[400];

  p->http = NULL;
  if (err != 0) {
    transport_error(ref->b, err, p->why, msg, sizeof(msg));
    if (err != -ECANCELED)
      host->log(ref->b->pl->ctx, MCPD_LOG_WARNING, "backend=%s op=%s error=\"%s\"", ref->b->name,
                ref->op->name, msg);
    if (p->resource)
      host->fail(p->call, err == -ETIMEDOUT ? -ETIMEDOUT : -EIO, msg);
    else
      host->complete(p->call, mcpd_result_error(msg));
    pending_free(p);
    return;
  }
  if (resp->status == 401 && p->token != NULL && !p->retried && !p->cancelled) {
    /* The backend refused its token (expired early, revoked): a new one, and
     * the same request once more. A second 401 is the answer. */
    p->retried = 1;
    oauth_cc_invalidate(ref->b->cc, p->token);
    host->log(ref->b->pl->ctx, MCPD_LOG_INFO,
              "backend=%s op=%s answered 401 to its token: fetching a new one", ref->b->name,
              ref->op->name);
    with_token(p);
    return;
  }
  if (p->resource) {
    if (resp->status >= 200 && resp->status < 300) {
      json_t *item =
          oa_contents(p->uri, header_of(resp, "content-type"), resp->body, resp->body_len);
      result = item ? json_pack("{s:[o]}", "contents", item) : NULL;
      if (result != NULL)
        host->complete(p->call, result);
      else
        host->fail(p->call, -ENOMEM, NULL);
    } else if (resp->status == 404) {
      host->fail(p->call, -ENOENT, NULL);
    } else {
      snprintf(msg, sizeof(msg), "backend %s answered HTTP %d", ref->b->name, resp->status);
      host->fail(p->call, -EIO, msg);
    }
  } else {
    oa_result_opts opts;
    int mismatch = 0;
    memset(&opts, 0, sizeof(opts));
    opts.structured = 1; /* mcpd drops it for sessions that predate it */
    opts.max_error_body = 1000;
    opts.mismatch = &mismatch;
    result = oa_result(ref->op, resp->status, header_of(resp, "content-type"), resp->body,
                       resp->body_len, &opts);
    if (mismatch && !p->ref->mismatch_logged) {
      p->ref->mismatch_logged = 1; /* once per tool and document */
      host->log(ref->b->pl->ctx, MCPD_LOG_WARNING,
                "backend=%s tool=%s answered HTTP %d with something that does not match its "
                "output schema: sent as text (an error result) without structuredContent",
                ref->b->name, ref->op->name, resp->status);
    }
    if (result != NULL)
      host->complete(p->call, result);
    else
      host->fail(p->call, -ENOMEM, NULL);
  }
  pending_free(p);
}

static void on_cancel(mcpd_call *call, void *arg) {
  pending *p = arg;
  (void)call;
  p->cancelled = 1;
  if (p->wait != NULL) {
    /* Leaves the token's wait list; the token request goes on for others. */
    oauth_cc_cancel(p->wait);
    p->wait = NULL;
    finish_error(p, -ECANCELED, "the call was cancelled");
  } else if (p->http != NULL) {
    host->http_cancel(p->http); /* on_response() completes the call */
  }
}

/* Whether a claim's value can go in a header as it is: visible ASCII and
 * inner spaces only. */
static int header_safe(const char *v) {
  size_t i, len = strlen(v);
  for (i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)v[i];
    if (ch < 0x20 || ch > 0x7e)
      return 0;
  }
  return len == 0 || (v[0] != ' ' && v[len - 1] != ' ');
}

/* Appends the claim_headers lines of the call's caller to p->extra and
 * p->lines. 0, -ENOMEM, or -EPERM with msg (a claim that cannot be sent). */
static int add_claims(pending *p, backend *b, mcpd_call *call, char *msg, size_t n) {
  const mcpd_principal *who;
  const json_t *claims;
  size_t i;
  if (b->n_claims == 0 || !MCPD_HOST_HAS(host, call_principal))
    return 0;
  who = host->call_principal(call);
  if (who == NULL || !MCPD_PRINCIPAL_HAS(who, claims) || !json_is_object(who->claims))
    return 0;
  claims = who->claims;
  for (i = 0; i < b->n_claims; i++) {
    const json_t *v = json_object_get(claims, b->claim_keys[i]);
    char num[32], *line;
    const char *val;
    size_t len;
    if (json_is_string(v)) {
      val = json_string_value(v);
      if (strlen(val) != json_string_length(v) || !header_safe(val)) {
        snprintf(msg, n, "claim \"%s\" cannot be sent as a header", b->claim_keys[i]);
        return -EPERM;
      }
    } else if (json_is_integer(v)) {
      snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
      val = num;
    } else {
      continue; /* missing, or not a string or integer: left out */
    }
    len = strlen(b->claim_names[i]) + strlen(val) + 3;
    line = malloc(len);
    if (line == NULL)
      return -ENOMEM;
    snprintf(line, len, "%s: %s", b->claim_names[i], val);
    p->extra[p->n_extra++] = line;
    p->lines[p->n_lines++] = line;
  }
  return 0;
}

/* The message of a server URL that cannot be used. */
static void bad_server_msg(char *err, size_t n, const char *name, const char *u, int file) {
  int k = snprintf(err, n, "backend %s: the document's server URL \"", name);
  if (k >= 0 && (size_t)k < n)
    snprintf(err + k, n - (size_t)k, "%.120s\" is not an http(s) URL%s; set base_url", u,
             file ? " (and the document is a file)" : "");
}

/* Where op's requests go for args when the backend has no base_url: the
 * document's server URL, made absolute against the document's own URL when
 * it is a path ("/v1"; no servers at all is "/"). A new string, or NULL with
 * a message in err. */
static char *server_prefix(const backend *b, const oa_operation *op, const json_t *args, char *err,
                           size_t n) {
  char *u = NULL, *abs;
  const char *host_end;
  size_t olen;
  if (op->server != NULL && oa_server_url(op, args, &u, err, n) < 0)
    return NULL;
  if (u == NULL && (u = strdup("")) == NULL) {
    snprintf(err, n, "out of memory");
    return NULL;
  }
  if (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0)
    return u;
  if ((u[0] != '\0' && u[0] != '/') || b->spec_url == NULL) {
    bad_server_msg(err, n, b->name, u, b->spec_url == NULL);
    free(u);
    return NULL;
  }
  host_end = strchr(strstr(b->spec_url, "://") + 3, '/');
  olen = host_end != NULL ? (size_t)(host_end - b->spec_url) : strlen(b->spec_url);
  abs = malloc(olen + strlen(u) + 1);
  if (abs != NULL)
    snprintf(abs, olen + strlen(u) + 1, "%.*s%s", (int)olen, b->spec_url, u);
  else
    snprintf(err, n, "out of memory");
  free(u);
  return abs;
}

/* Builds the request of ref from args and sends it (after getting the
 * backend's token); the call completes later. fwd (borrowed; NULL while
 * the handler runs) holds the headers to forward, taken while it ran. */
static int start_call(mcpd_call *call, op_ref *ref, const json_t *args, const char *uri,
                      const json_t *fwd, json_t **result) {
  backend *b = ref->b;
  size_t i, url_len;
  char err[300], *server = NULL;
  pending *p;
  int r;

  p = calloc(1, sizeof(*p));
  if (p == NULL)
    return -ENOMEM;
  p->call = call;
  p->ref = ref;
  p->resource = uri != NULL;
  ref->gen->refs++;
  r = oa_request_build(ref->op, args, b->base_path, &p->rq, err, sizeof(err));
  if (r < 0) {
    pending_free(p);
    if (r == -ENOMEM)
      return -ENOMEM;
    if (uri != NULL)
      return host->fail(call, -EINVAL, err) == 0 ? MCPD_PENDING : -EINVAL;
    *result = mcpd_result_error(err);
    return MCPD_OK;
  }
  if (b->use_servers && (server = server_prefix(b, ref->op, args, err, sizeof(err))) == NULL) {
    pending_free(p);
    if (uri != NULL)
      return host->fail(call, -EIO, err) == 0 ? MCPD_PENDING : -EIO;
    *result = mcpd_result_error(err);
    return MCPD_OK;
  }
  url_len = strlen(server != NULL ? server : b->origin) + strlen(p->rq.target) + 1;
  p->url = malloc(url_len);
  /* Accept, headers, the request's, forwarded, claims, then Authorization. */
  p->lines = calloc(1 + b->n_headers + p->rq.n_headers + b->n_forward + b->n_claims + 2,
                    sizeof(*p->lines));
  p->extra = calloc(b->n_forward + b->n_claims + 1, sizeof(char *));
  if (p->url == NULL || p->lines == NULL || p->extra == NULL ||
      (uri != NULL && (p->uri = strdup(uri)) == NULL))
    goto oom;
  snprintf(p->url, url_len, "%s%s", server != NULL ? server : b->origin, p->rq.target);
  free(server);
  server = NULL;
  p->lines[p->n_lines++] = "Accept: application/json, */*;q=0.5";
  for (i = 0; i < b->n_headers; i++)
    p->lines[p->n_lines++] = b->headers[i];
  for (i = 0; i < p->rq.n_headers; i++)
    p->lines[p->n_lines++] = p->rq.headers[i];
  /* The client's headers, only those the settings name. */
  for (i = 0; i < b->n_forward; i++) {
    const char *v = fwd != NULL ? json_string_value(json_object_get(fwd, b->forward[i]))
                                : host->call_header(call, b->forward[i]);
    size_t len;
    char *line;
    if (v == NULL)
      continue;
    len = strlen(b->forward[i]) + strlen(v) + 3;
    line = malloc(len);
    if (line == NULL)
      goto oom;
    snprintf(line, len, "%s: %s", b->forward[i], v);
    p->extra[p->n_extra++] = line;
    p->lines[p->n_lines++] = line;
  }
  r = add_claims(p, b, call, err, sizeof(err));
  if (r == -ENOMEM)
    goto oom;
  if (r < 0) {
    pending_free(p);
    if (uri != NULL)
      return host->fail(call, -EIO, err) == 0 ? MCPD_PENDING : -EIO;
    *result = mcpd_result_error(err);
    return MCPD_OK;
  }
  /* A call cancelled already runs on_cancel() right here: nothing is in
   * flight yet, so it only marks p. */
  host->on_cancel(call, on_cancel, p);
  if (p->cancelled)
    finish_error(p, -ECANCELED, "the call was cancelled");
  else
    with_token(p);
  return MCPD_PENDING;
oom:
  free(server);
  pending_free(p);
  return -ENOMEM;
}

/* ---- files given by resource URI ------------------------------------------------ */

/* What one call's files given by {"uri"} may hold in all, read from resources. */
#define FILE_URI_MAX_BYTES (32u << 20)

/* A tool call whose file arguments are being read from resources, one after
 * the other, before its request is built and sent. */
typedef struct file_reads {
  mcpd_call *call;
  op_ref *ref;     /* holds a reference on ref->gen */
  json_t *args;    /* owned: a copy of the arguments, each file replaced once read */
  json_t *file;    /* borrowed from args: the file being read */
  const char *arg; /* its argument's name (borrowed from ref->op) */
  json_t *fwd;     /* owned: the headers to forward, taken while the handler ran */
  size_t used;     /* bytes of the files read so far */
} file_reads;

/* Frees fr (owned by the caller) and what it holds. LOOP. */
static void file_reads_free(file_reads *fr) {
  gen_unref(fr->ref->gen);
  json_decref(fr->args);
  json_decref(fr->fwd);
  free(fr);
}

static void on_file_read(mcpd_call *call, int status, const json_t *result, void *arg);

/* Completes call with result (stolen), or -ENOMEM when it is NULL. */
static void complete_or_fail(mcpd_call *call, json_t *result) {
  if (result != NULL)
    host->complete(call, result);
  else
    host->fail(call, -ENOMEM, NULL);
}

/* Reads fr's next file given by URI, or, when none is left, sends the
 * request. 0 (fr is the callback's or freed), or -ENOMEM / -EINVAL with a
 * message in err (fr is the caller's). */
static int read_next_file(file_reads *fr, char *err, size_t n) {
  json_t *res = NULL;
  int r = oa_file_uri_next(fr->ref->op, fr->args, &fr->file, &fr->arg, err, n);
  if (r > 0) {
    const char *uri = json_string_value(json_object_get(fr->file, "uri"));
    r = host->read_resource(fr->call, uri, on_file_read, fr);
    if (r < 0)
      snprintf(err, n, "argument \"%s\": resource %s could not be read: %s", fr->arg, uri,
               host->strerror(r));
    return r == -ENOMEM ? r : r < 0 ? -EINVAL : 0;
  }
  if (r < 0)
    return r;
  r = start_call(fr->call, fr->ref, fr->args, NULL, fr->fwd, &res);
  if (r == MCPD_OK)
    complete_or_fail(fr->call, res);
  else if (r < 0)
    host->fail(fr->call, r, NULL);
  file_reads_free(fr);
  return 0;
}

/* host->read_resource()'s callback (result borrowed; arg the file_reads,
 * which is freed here unless the next read or the request takes it). LOOP. */
static void on_file_read(mcpd_call *call, int status, const json_t *result, void *arg) {
  file_reads *fr = arg;
  const char *uri = json_string_value(json_object_get(fr->file, "uri"));
  const char *why = json_string_value(json_object_get(result, "message"));
  const char *scope = json_string_value(json_object_get(json_object_get(result, "data"), "scope"));
  char err[600];
  json_t *f = NULL;
  size_t size;
  int r;

  switch (status) {
  case 0:
    r = oa_file_from_contents(fr->arg, fr->file, result, FILE_URI_MAX_BYTES - fr->used, &f, &size,
                              err, sizeof(err));
    if (r == 0 && (json_object_clear(fr->file) != 0 || json_object_update(fr->file, f) != 0))
      r = -ENOMEM;
    json_decref(f);
    if (r == 0) {
      fr->used += size;
      r = read_next_file(fr, err, sizeof(err));
    }
    if (r == 0)
      return;
    if (r == -ENOMEM)
      snprintf(err, sizeof(err), "out of memory");
    break;
  case -ENOENT:
    snprintf(err, sizeof(err), "argument \"%s\": resource %s not found", fr->arg, uri);
    break;
  case -EACCES:
    snprintf(err, sizeof(err), "argument \"%s\": resource %s needs scope %s", fr->arg, uri,
             scope != NULL ? scope : "(one the caller lacks)");
    break;
  case -ECANCELED:
    snprintf(err, sizeof(err), "the call was cancelled");
    break;
  default:
    snprintf(err, sizeof(err), "argument \"%s\": resource %s could not be read: %s", fr->arg, uri,
             why != NULL ? why : host->strerror(status));
  }
  complete_or_fail(call, mcpd_result_error(err));
  file_reads_free(fr);
}

/* A copy of the headers the backend forwards from the MCP client's request
 * (they can be read only while the handler runs). A new ref, or NULL. */
static json_t *forwarded_now(const backend *b, mcpd_call *call) {
  json_t *o = json_object();
  size_t i;
  for (i = 0; o != NULL && i < b->n_forward; i++) {
    const char *v = host->call_header(call, b->forward[i]);
    if (v != NULL && json_object_set_new(o, b->forward[i], json_string_nocheck(v)) != 0) {
      json_decref(o);
      o = NULL;
    }
  }
  return o;
}

/* A tool call: when file arguments are given by resource URI, reads them
 * first (host->read_resource()), then builds and sends the request. */
static int begin_call(mcpd_call *call, op_ref *ref, const json_t *args, json_t **result) {
  file_reads *fr;
  json_t *file;
  const char *arg;
  char err[600];
  int r = oa_file_uri_next(ref->op, args, &file, &arg, err, sizeof(err));
  if (r == 0)
    return start_call(call, ref, args, NULL, NULL, result);
  if (r > 0 && !MCPD_HOST_HAS(host, read_resource)) {
    snprintf(err, sizeof(err),
             "argument \"%s\": this mcpd cannot read resources for a file; give content_base64",
             arg);
    r = -EINVAL;
  }
  if (r < 0) {
    *result = mcpd_result_error(err);
    return *result != NULL ? MCPD_OK : -ENOMEM;
  }
  fr = calloc(1, sizeof(*fr));
  if (fr == NULL)
    return -ENOMEM;
  fr->call = call;
  fr->ref = ref;
  ref->gen->refs++;
  fr->args = json_deep_copy(args);
  fr->fwd = forwarded_now(ref->b, call);
  if (fr->args == NULL || fr->fwd == NULL) {
    file_reads_free(fr);
    return -ENOMEM;
  }
  r = read_next_file(fr, err, sizeof(err));
  if (r < 0) {
    file_reads_free(fr);
    if (r == -ENOMEM)
      return r;
    *result = mcpd_result_error(err);
    return *result != NULL ? MCPD_OK : -ENOMEM;
  }
  return MCPD_PENDING;
}

static int tool_handler(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  return begin_call(call, data, args, result);
}

static int resource_handler(mcpd_call *call, const char *uri, const json_t *vars, void *data,
                            json_t **result) {
  return start_call(call, data, vars, uri, NULL, result);
}

/* ---- tools_mode search: the meta-tools ------------------------------------------- */

/* The published document of a meta-tool's backend, when it is in search mode. */
static api_gen *meta_gen(void *data, json_t **result) {
  backend *b = data;
  api_gen *g = b->published;
  if (g == NULL || g->meta == NULL) {
    *result = mcpd_result_error("the backend's operations are not loaded yet; try again later");
    return NULL;
  }
  return g;
}

static int meta_search_handler(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  api_gen *g = meta_gen(data, result);
  (void)call;
  if (g == NULL)
    return MCPD_OK;
  *result = oa_meta_search(g->meta, &g->api, args);
  return *result != NULL ? MCPD_OK : -ENOMEM;
}

static int meta_describe_handler(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  backend *b = data;
  api_gen *g = meta_gen(data, result);
  char search[100];
  (void)call;
  if (g == NULL)
    return MCPD_OK;
  oa_meta_name(OA_META_SEARCH, b->meta_prefix, search, sizeof(search));
  *result = oa_meta_describe(g->meta, &g->api, args, search);
  return *result != NULL ? MCPD_OK : -ENOMEM;
}

/* Whether the caller holds one alternative of scopes (as oa_operation's
 * required_scopes). The host checks a tool's own scopes; behind the call
 * meta-tool, each operation's are checked here. */
static int scopes_held(const mcpd_principal *who, char *const *alts) {
  size_t i, k;
  for (i = 0; alts[i] != NULL; i++) {
    const char *p = alts[i];
    int all = 1;
    while (*p != '\0' && all) {
      size_t len = strcspn(p, " ");
      int found = 0;
      for (k = 0; k < who->n_scopes && !found; k++)
        found = strlen(who->scopes[k]) == len && strncmp(who->scopes[k], p, len) == 0;
      all = found || len == 0;
      p += len + (p[len] == ' ');
    }
    if (all)
      return 1;
  }
  return 0;
}

static int meta_call_handler(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  backend *b = data;
  api_gen *g = meta_gen(data, result);
  const char *name = json_string_value(json_object_get(args, "name"));
  const json_t *a = json_object_get(args, "arguments");
  json_t *empty = NULL;
  char err[300], msg[600], other[100];
  long i;
  int r;
  if (g == NULL)
    return MCPD_OK;
  i = oa_meta_find(g->meta, &g->api, name);
  if (i < 0) {
    oa_meta_name(OA_META_SEARCH, b->meta_prefix, other, sizeof(other));
    snprintf(msg, sizeof(msg), "no operation is named \"%.100s\"; find names with %s",
             name ? name : "", other);
    *result = mcpd_result_error(msg);
    return MCPD_OK;
  }
  if (g->api.ops[i].required_scopes != NULL && MCPD_HOST_HAS(host, call_principal)) {
    const mcpd_principal *who = host->call_principal(call);
    if (who != NULL && !scopes_held(who, g->api.ops[i].required_scopes)) {
      snprintf(msg, sizeof(msg), "operation %.100s needs a token with the scopes %.200s", name,
               g->api.ops[i].required_scopes[0]);
      *result = mcpd_result_error(msg);
      return MCPD_OK;
    }
  }
  r = oa_meta_check_args(g->meta, &g->api, i, a, err, sizeof(err));
  if (r == -ENOMEM)
    return r;
  if (r < 0) {
    oa_meta_name(OA_META_DESCRIBE, b->meta_prefix, other, sizeof(other));
    snprintf(msg, sizeof(msg), "%.100s: %.300s (its arguments: %.99s)", name, err, other);
    *result = mcpd_result_error(msg);
    return MCPD_OK;
  }
  if (a == NULL && (a = empty = json_object()) == NULL)
    return -ENOMEM;
  r = begin_call(call, &g->ops[i], a, result);
  json_decref(empty);
  return r;
}

/* ---- registering what the documents describe ------------------------------------- */

/* The keys one publish() registered so far, by kind: a key two backends
 * share is settled here, because during init() a registration the host
 * refuses keeps the whole plugin out of service. */
typedef struct published_keys {
  json_t *tools, *resources, *templates; /* objects used as sets */
} published_keys;

/* Whether key is in set (and if not, puts it there). */
static int key_seen(json_t *set, const char *key) {
  if (json_object_get(set, key) != NULL)
    return 1;
  json_object_set_new(set, key, json_true());
  return 0;
}

static int register_op(plugin *pl, op_ref *ref, published_keys *keys) {
  const oa_operation *op = ref->op;
  char name[80];
  int r = -EEXIST, k;

  if (op->kind == OA_TOOL) {
    mcpd_tool t;
    memset(&t, 0, sizeof(t));
    t.struct_size = sizeof(t);
    t.title = op->title;
    t.description = op->description;
    t.input_schema = op->input_schema;
    t.output_schema = op->output_schema;
    t.annotations = op->annotations;
    t.handler = tool_handler;
    t.tool_data = ref;
    if (MCPD_HOST_HAS(host, call_principal)) { /* an older host refuses the fields */
      t.required_scopes = (const char *const *)op->required_scopes;
      t.task_support = (uint32_t)op->task_support; /* enum oa_task is MCPD_TASK_* */
    }
    /* A name another backend of this plugin took: the next free suffix.
     * One another plugin has is refused by the host: later (an update) the
     * next suffix is tried; in init() the refusal keeps this plugin out of
     * service anyway, so no more are tried. */
    for (k = 1; k <= 9 && r == -EEXIST; k++) {
      if (k == 1)
        snprintf(name, sizeof(name), "%s", op->name);
      else
        snprintf(name, sizeof(name), "%.60s_%d", op->name, k);
      if (key_seen(keys->tools, name))
        continue;
      t.name = name;
      r = host->register_tool(pl->ctx, &t);
      if (r == -EEXIST && !pl->live)
        break;
    }
    if (r == 0 && k > 2)
      host->log(pl->ctx, MCPD_LOG_WARNING,
                "backend=%s tool %s was taken by another backend or plugin: registered as %s "
                "(set tool_prefix to keep names apart)",
                ref->b->name, op->name, name);
  } else if (op->kind == OA_RESOURCE) {
    mcpd_resource res;
    memset(&res, 0, sizeof(res));
    res.struct_size = sizeof(res);
    res.uri = op->uri;
    res.name = op->name;
    res.title = op->title;
    res.description = op->description;
    res.mime_type = op->mime_type;
    res.handler = resource_handler;
    res.data = ref;
    if (MCPD_HOST_HAS(host, call_principal))
      res.required_scopes = (const char *const *)op->required_scopes;
    r = key_seen(keys->resources, op->uri) ? -EEXIST : host->register_resource(pl->ctx, &res);
  } else {
    mcpd_resource_template tpl;
    memset(&tpl, 0, sizeof(tpl));
    tpl.struct_size = sizeof(tpl);
    tpl.uri_template = op->uri;
    tpl.name = op->name;
    tpl.title = op->title;
    tpl.description = op->description;
    tpl.mime_type = op->mime_type;
    tpl.handler = resource_handler;
    tpl.data = ref;
    if (MCPD_HOST_HAS(host, call_principal))
      tpl.required_scopes = (const char *const *)op->required_scopes;
    r = key_seen(keys->templates, op->uri) ? -EEXIST
                                           : host->register_resource_template(pl->ctx, &tpl);
  }
  if (r < 0)
    host->log(pl->ctx, MCPD_LOG_WARNING, "backend=%s operation %s %s skipped: %s", ref->b->name,
              op->method, op->path, host->strerror(r));
  return r;
}

/* tools_mode search: b's three meta-tools, for its newest document. Their data is b:
 * a call looks at b->published, the document whose tools are in service. */
static void register_meta(plugin *pl, backend *b, published_keys *keys) {
  static const mcpd_tool_fn handlers[OA_META_COUNT] = {meta_search_handler, meta_describe_handler,
                                                       meta_call_handler};
  int t, r;
  for (t = 0; t < OA_META_COUNT; t++) {
    mcpd_tool tool;
    char name[100];
    json_t *schema = oa_meta_input_schema((enum oa_meta_tool)t), *ann;
    char *desc = oa_meta_description((enum oa_meta_tool)t, b->meta_prefix, b->gen->api.title,
                                     oa_meta_count(b->gen->meta));
    /* Search and describe only read; a call may do anything. */
    ann = t == OA_META_CALL ? json_pack("{s:b,s:b}", "readOnlyHint", 0, "openWorldHint", 0)
                            : json_pack("{s:b,s:b}", "readOnlyHint", 1, "openWorldHint", 0);
    oa_meta_name((enum oa_meta_tool)t, b->meta_prefix, name, sizeof(name));
    memset(&tool, 0, sizeof(tool));
    tool.struct_size = sizeof(tool);
    tool.name = name;
    tool.description = desc;
    tool.input_schema = schema;
    tool.annotations = ann;
    tool.handler = handlers[t];
    tool.tool_data = b;
    if (t == OA_META_CALL && MCPD_HOST_HAS(host, call_principal)) /* a 1.3 field */
      tool.task_support = (uint32_t)oa_meta_task_support(&b->gen->api);
    r = schema == NULL || desc == NULL || ann == NULL ? -ENOMEM
        : key_seen(keys->tools, name)                 ? -EEXIST
                                                      : host->register_tool(pl->ctx, &tool);
    if (r < 0)
      host->log(pl->ctx, MCPD_LOG_WARNING, "backend=%s tool %s not registered: %s", b->name, name,
                host->strerror(r));
    json_decref(schema);
    json_decref(ann);
    free(desc);
  }
}

/* Registers the operations of every backend that has a document. During
 * init() straight away; later as one update that replaces the old set. */
static void publish(plugin *pl) {
  published_keys keys;
  size_t i, j;
  int r;
  if (pl->live && (r = host->update_begin(pl->ctx)) < 0) {
    if (r != -ESTALE) /* -ESTALE: a reload replaced this version; the new one serves */
      host->log(pl->ctx, MCPD_LOG_ERROR, "cannot update the tool list: %s", host->strerror(r));
    return;
  }
  keys.tools = json_object();
  keys.resources = json_object();
  keys.templates = json_object();
  for (i = 0; i < pl->n_backends; i++) {
    api_gen *g = pl->backends[i].gen;
    if (g != NULL && g->meta != NULL)
      register_meta(pl, &pl->backends[i], &keys);
    for (j = 0; g != NULL && j < g->api.n_ops; j++) {
      if (g->meta == NULL || g->api.ops[j].kind != OA_TOOL) /* search: behind the meta-tools */
        register_op(pl, &g->ops[j], &keys);
    }
  }
  json_decref(keys.tools);
  json_decref(keys.resources);
  json_decref(keys.templates);
  if (pl->live && (r = host->update_commit(pl->ctx)) < 0) {
    host->log(pl->ctx, MCPD_LOG_ERROR, "the new tool list was refused: %s", host->strerror(r));
    return; /* the registered set still points into the published documents */
  }
  /* The registry now points into the newest documents: they must live as
   * long as it does (and the calls on them). */
  for (i = 0; i < pl->n_backends; i++) {
    backend *b = &pl->backends[i];
    if (b->published != b->gen) {
      if (b->gen != NULL)
        b->gen->refs++;
      gen_unref(b->published);
      b->published = b->gen;
    }
  }
}

/* Frees the tree spend_document() kept and undoes its heap settings. */
static void flush_spent(plugin *pl) {
  if (pl->spent_timer != NULL) {
    host->timer_stop(pl->spent_timer);
    pl->spent_timer = NULL;
  }
  if (pl->spent == NULL)
    return;
  oa_heap_load_release(&pl->spent_heap);
  json_decref(pl->spent);
  pl->spent = NULL;
  oa_heap_load_end(&pl->spent_heap); /* the tree's pages back to the system */
}

static void spent_fired(void *arg) {
  plugin *pl = arg;
  pl->spent_timer = NULL;
  flush_spent(pl);
}

/* Frees doc (stolen) and ends heap's load. In search mode (later), a large
 * document's tree, which takes tens of milliseconds to free, goes on the loop's
 * next turn, after its tools are in service (the next take_document() frees it
 * first if sooner). One tool per operation frees it now: the registry's copies
 * of the schemas then reuse its memory. */
static void spend_document(plugin *pl, json_t *doc, oa_heap_load *heap, int later) {
  if (later && heap->active &&
      host->timer_start(pl->ctx, 0, spent_fired, pl, &pl->spent_timer) == 0) {
    pl->spent = doc;
    pl->spent_heap = *heap;
    return;
  }
  pl->spent_timer = NULL;
  oa_heap_load_release(heap);
  json_decref(doc);
  oa_heap_load_end(heap);
}

/* The operations a document has, before filters (tools_mode auto decides on
 * this first, so that a big API is converted once, without output schemas). */
static size_t doc_operations(const json_t *doc) {
  static const char *const methods[] = {"get",     "put",  "post",  "delete",
                                        "options", "head", "patch", "trace"};
  const json_t *item;
  const char *path;
  size_t n = 0, m;
  json_object_foreach(json_object_get(doc, "paths"), path, item) {
    for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
      n += json_is_object(json_object_get(item, methods[m]));
  }
  return n;
}

static size_t count_tools(const oa_api *api) {
  size_t i, n = 0;
  for (i = 0; i < api->n_ops; i++)
    n += api->ops[i].kind == OA_TOOL;
  return n;
}

/* Converts a fetched (or read) document and puts it in service. Returns
 * 0, or a negative error with a message in err. */
static int take_document(backend *b, const char *text, size_t len, char *err, size_t n) {
  json_t *doc;
  oa_options opt;
  api_gen *g;
  size_t i;
  int r, search, no_output;
  oa_heap_load heap;
  char *slim = NULL;
  size_t slim_len = 0;

  flush_spent(b->pl); /* the heap settings are the process's: one load at a time */
  /* Only large documents: the copy costs a pass and a buffer. */
  if (len >= SLIM_MIN_BYTES)
    slim = oa_slim_json(text, len, &slim_len);
  oa_heap_load_begin(slim != NULL ? slim_len : len, slim != NULL, &heap);
  r = oa_yaml_parse_document(slim != NULL ? slim : text, slim != NULL ? slim_len : len, &doc, err,
                             n);
  if (r < 0 && slim != NULL) /* say what is wrong where the original has it */
    r = oa_yaml_parse_document(text, len, &doc, err, n);
  oa_slim_free(slim, len);
  g = r == 0 ? calloc(1, sizeof(*g)) : NULL;
  if (g == NULL) {
    json_decref(doc);
    oa_heap_load_end(&heap);
    return r < 0 ? r : -ENOMEM;
  }
  fill_options(b, &opt);
  no_output = opt.no_output_schemas;
  search = b->tools_mode == TOOLS_SEARCH ||
           (b->tools_mode == TOOLS_AUTO && doc_operations(doc) > b->search_threshold);
  /* Search mode sends no outputSchema: converting them would be wasted. */
  opt.no_output_schemas = no_output || search;
  r = openapi_convert(doc, &opt, &g->api, err, n);
  if (r == 0 && search && b->tools_mode == TOOLS_AUTO &&
      count_tools(&g->api) <= b->search_threshold) {
    /* The filters left few enough: one tool each after all. */
    openapi_free(&g->api);
    opt.no_output_schemas = no_output;
    search = 0;
    r = openapi_convert(doc, &opt, &g->api, err, n);
  }
  if (r == 0 && search && (r = oa_meta_build(&g->api, doc, &g->meta)) < 0)
    snprintf(err, n, "out of memory");
  spend_document(b->pl, doc, &heap, g->meta != NULL);
  if (r < 0) {
    openapi_free(&g->api);
    oa_meta_free(g->meta);
    free(g);
    return r;
  }
  g->ops = calloc(g->api.n_ops + 1, sizeof(*g->ops));
  if (g->ops == NULL) {
    openapi_free(&g->api);
    free(g);
    return -ENOMEM;
  }
  for (i = 0; i < g->api.n_ops; i++) {
    g->ops[i].b = b;
    g->ops[i].gen = g;
    g->ops[i].op = &g->api.ops[i];
  }
  for (i = 0; i < g->api.n_warnings; i++)
    host->log(b->pl->ctx, MCPD_LOG_WARNING, "backend=%s %s", b->name, g->api.warnings[i]);
  if (b->use_servers && g->api.n_ops > 0) {
    /* Said now rather than on every call: the document names no usable server. */
    char why[300], *u = server_prefix(b, &g->api.ops[0], NULL, why, sizeof(why));
    if (u == NULL)
      host->log(b->pl->ctx, MCPD_LOG_WARNING, "%s", why);
    free(u);
  }
  host->log(b->pl->ctx, MCPD_LOG_INFO,
            "backend=%s document=%s title=\"%s\" version=\"%s\" operations=%zu warnings=%zu%s",
            b->name, b->openapi, g->api.title ? g->api.title : "",
            g->api.version ? g->api.version : "", g->api.n_ops, g->api.n_warnings,
            g->meta != NULL ? " tools_mode=search" : "");
  g->refs = 1;
  gen_unref(b->gen);
  b->gen = g;
  b->failures = 0;
  b->retry_ms = RETRY_FIRST_MS;
  return 0;
}

static void fetch(backend *b);

static void retry_fired(void *arg) {
  backend *b = arg;
  b->retry = NULL;
  fetch(b);
}

/* The document could not be had: keep what is served, try again later. */
static void fetch_failed(backend *b, const char *why) {
  int rc = 0;
  b->failures++;
  if (b->retry == NULL)
    rc = host->timer_start(b->pl->ctx, b->retry_ms, retry_fired, b, &b->retry);
  if (rc == -ESTALE || rc == -ESHUTDOWN) {
    b->retry = NULL; /* this version is out of service: nothing to retry for */
    return;
  }
  /* The first failure of a backend with no tools yet is an error: its
   * tools are missing (and `mcpd --check` fails on it). Retries, and a
   * backend that keeps its old tools, only warn. */
  host->log(b->pl->ctx, b->gen == NULL && b->failures == 1 ? MCPD_LOG_ERROR : MCPD_LOG_WARNING,
            "backend=%s document=%s not loaded (attempt %u): %s; %s in %u ms", b->name, b->openapi,
            b->failures, why, b->gen ? "keeping the tools it had, trying again" : "trying again",
            b->retry_ms);
  if (rc < 0)
    b->retry = NULL;
  b->retry_ms = b->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : b->retry_ms * 2;
}

static void on_document(void *arg, int err, const mcpd_http_response *resp) {
  backend *b = arg;
  char why[400];
  b->fetching = NULL;
  if (err == -ESHUTDOWN || err == -ECANCELED)
    return;
  if (err == -E2BIG) {
    snprintf(why, sizeof(why), "%s is larger than max_document_bytes (%zu bytes)", b->spec_url,
             b->max_document_bytes);
    fetch_failed(b, why);
    return;
  }
  if (err != 0) {
    transport_error(b, err, b->fetch_why, why, sizeof(why));
    fetch_failed(b, why);
    return;
  }
  if (resp->status != 200) {
    snprintf(why, sizeof(why), "%s answered HTTP %d", b->spec_url, resp->status);
    fetch_failed(b, why);
    return;
  }
  if (take_document(b, resp->body, resp->body_len, why, sizeof(why)) < 0) {
    fetch_failed(b, why);
    return;
  }
  publish(b->pl);
}

/* Reads a local document. Returns 0 or a negative error with a message. */
static int read_file(backend *b, char *err, size_t n) {
  FILE *f = fopen(b->spec_file, "rb");
  char *text = NULL;
  size_t len = 0, cap = 0, got;
  struct stat st;
  int r;
  if (f == NULL) {
    snprintf(err, n, "cannot open %s: %s", b->spec_file, strerror(errno));
    return -errno;
  }
  /* A large file of known size: one buffer of it, of huge pages (oa_heap.h). A
   * file that grew meanwhile is read again below. */
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= SLIM_MIN_BYTES &&
      (size_t)st.st_size <= b->max_document_bytes) {
    size_t size = (size_t)st.st_size + 1;
    char *buf = oa_heap_buffer(size);
    len = buf != NULL ? fread(buf, 1, size, f) : size;
    if (len < size) {
      fclose(f);
      r = take_document(b, buf, len, err, n);
      oa_heap_buffer_free(buf, size);
      return r;
    }
    oa_heap_buffer_free(buf, size);
    rewind(f);
    len = 0;
  }
  do {
    if (len > b->max_document_bytes) {
      fclose(f);
      free(text);
      snprintf(err, n, "%s is larger than max_document_bytes (%zu bytes)", b->spec_file,
               b->max_document_bytes);
      return -E2BIG;
    }
    if (len + 65536 > cap) {
      char *grown;
      /* Room for one byte past the limit, to see a file that passes it. */
      cap = (len + 65536) * 2 > b->max_document_bytes + 1 ? b->max_document_bytes + 1
                                                          : (len + 65536) * 2;
      grown = realloc(text, cap);
      if (grown == NULL) {
        fclose(f);
        free(text);
        return -ENOMEM;
      }
      text = grown;
    }
    got = fread(text + len, 1, cap - len, f);
    len += got;
  } while (got > 0);
  fclose(f);
  r = take_document(b, text ? text : "", len, err, n);
  free(text);
  return r;
}

static void fetch(backend *b) {
  mcpd_http_request hr;
  char why[400];
  int r;
  if (b->spec_file != NULL) {
    if (read_file(b, why, sizeof(why)) < 0)
      fetch_failed(b, why);
    else if (b->pl->live)
      publish(b->pl);
    return;
  }
  if (b->fetching != NULL)
    return; /* one at a time */
  memset(&hr, 0, sizeof(hr));
  hr.struct_size = sizeof(hr);
  hr.method = "GET";
  hr.url = b->spec_url;
  hr.headers = (const char *const *)b->headers;
  hr.n_headers = b->n_headers;
  hr.timeout_ms = b->timeout_ms;
  hr.connect_timeout_ms = b->connect_timeout_ms;
  hr.max_response_bytes = b->max_document_bytes;
  hr.label = b->name;
  set_transport(b, &hr, b->fetch_why, sizeof(b->fetch_why));
  r = host->http_request(b->pl->ctx, &hr, on_document, b, &b->fetching);
  if (r < 0) {
    snprintf(why, sizeof(why), "the request could not be sent: %s", host->strerror(r));
    b->fetching = NULL;
    fetch_failed(b, why);
  }
}

/* ---- the plugin ------------------------------------------------------------------ */

static void plugin_free(plugin *pl) {
  size_t i;
  if (pl == NULL)
    return;
  /* The host has dropped the plugin's timers by now: only the tree is left. */
  pl->spent_timer = NULL;
  flush_spent(pl);
  for (i = 0; i < pl->n_backends; i++)
    backend_free(&pl->backends[i]);
  free(pl->backends);
  free(pl);
}

static int backend_init(mcpd_ctx *ctx, const mcpd_host *h, const json_t *config, void **state) {
  const json_t *list = json_object_get(config, "backends"), *item;
  const char *key;
  const json_t *v;
  char err[600];
  plugin *pl;
  size_t i, j;
  int r = 0;

  host = h;
  if (!MCPD_HOST_HAS(h, call_header)) {
    h->log(ctx, MCPD_LOG_ERROR, "needs mcpd with plugin ABI 1.2 or later");
    return -ENOTSUP;
  }
  json_object_foreach((json_t *)config, key, v) {
    if (strcmp(key, "backends") != 0 && key[0] != '_') {
      h->log(ctx, MCPD_LOG_ERROR, "unknown setting \"%s\" (expected \"backends\")", key);
      return -EINVAL;
    }
  }
  if (list == NULL) {
    h->log(ctx, MCPD_LOG_INFO, "no backends configured (plugins.http_backend.backends)");
    *state = NULL;
    return 0;
  }
  if (!json_is_array(list) || json_array_size(list) > MAX_BACKENDS) {
    h->log(ctx, MCPD_LOG_ERROR, "\"backends\" must be an array of at most %d objects",
           MAX_BACKENDS);
    return -EINVAL;
  }
  pl = calloc(1, sizeof(*pl));
  if (pl == NULL)
    return -ENOMEM;
  pl->ctx = ctx;
  pl->backends = calloc(json_array_size(list) + 1, sizeof(backend));
  if (pl->backends == NULL) {
    free(pl);
    return -ENOMEM;
  }
  json_array_foreach(list, i, item) {
    err[0] = '\0';
    pl->n_backends = i + 1;
    r = parse_backend(pl, &pl->backends[i], item, err, sizeof(err));
    if (r < 0)
      break;
    for (j = 0; j < i; j++) {
      if (strcmp(pl->backends[j].name, pl->backends[i].name) == 0) {
        snprintf(err, sizeof(err), "two backends are named %s", pl->backends[i].name);
        r = -EINVAL;
      }
    }
    if (r < 0)
      break;
  }
  if (r < 0) {
    h->log(ctx, MCPD_LOG_ERROR, "%s", err[0] ? err : h->strerror(r));
    plugin_free(pl);
    return r;
  }
  for (i = 0; i < pl->n_backends; i++) {
    if (pl->backends[i].insecure_skip_verify)
      h->log(ctx, MCPD_LOG_WARNING,
             "backend=%s insecure_skip_verify is on: the certificate of %s is NOT checked, so "
             "anyone on the path can read and change its requests (for development only)",
             pl->backends[i].name, pl->backends[i].origin);
  }
  /* Local documents are read now; remote ones arrive later (the request
   * leaves once the plugin is in service). */
  for (i = 0; i < pl->n_backends; i++)
    fetch(&pl->backends[i]);
  publish(pl);
  pl->live = 1;
  *state = pl;
  return 0;
}

static void backend_reload(mcpd_ctx *ctx, void *state) {
  plugin *pl = state;
  size_t i;
  if (pl == NULL)
    return;
  /* SIGHUP: fetch every document again; an unchanged list is not news. */
  for (i = 0; i < pl->n_backends; i++) {
    backend *b = &pl->backends[i];
    char err[400];
    /* A reload may have turned auth on; the host withholds the client's
     * Authorization then anyway, so this is only said. */
    if (check_forwarding(b, ctx, err, sizeof(err)) < 0)
      host->log(ctx, MCPD_LOG_ERROR, "%s", err);
    if (b->retry != NULL) {
      host->timer_stop(b->retry);
      b->retry = NULL;
    }
    b->retry_ms = RETRY_FIRST_MS;
    fetch(b);
  }
}

static void backend_shutdown(mcpd_ctx *ctx, void *state) {
  (void)ctx;
  plugin_free(state);
}

static const mcpd_plugin descriptor = {
    MCPD_PLUGIN_HEADER,
    .name = "http_backend",
    .version = "1.0.0",
    .description = "REST backends described by OpenAPI documents, as MCP tools",
    .init = backend_init,
    .shutdown = backend_shutdown,
    .reload = backend_reload,
};

MCPD_PLUGIN_DEFINE(descriptor)
