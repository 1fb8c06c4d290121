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

#include "oa_request.h"
#include "openapi.h"

static const mcpd_host *host;

#define MAX_BACKENDS   64
#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS   30000
#define DOC_MAX_BYTES  (64u << 20) /* an OpenAPI document, fetched or read */

struct backend;

/* One converted document. Tools point into it; calls hold a reference, so
 * a document replaced by a newer one lives until its last call is done. */
typedef struct api_gen {
  unsigned refs;
  oa_api api;
  struct op_ref *ops; /* one per api.ops[i] */
} api_gen;

/* What a tool's (or resource's) data points to. */
typedef struct op_ref {
  struct backend *b;
  api_gen *gen;
  const oa_operation *op;
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
  unsigned timeout_ms, connect_timeout_ms;
  size_t max_response_bytes;
  /* TLS and proxy (NULL: the defaults; see mcpd_http_request). */
  char *ca_file, *client_cert_file, *client_key_file, *proxy;
  int insecure_skip_verify;
  char fetch_why[400]; /* what went wrong with the document request */
  api_gen *gen;        /* the newest document converted, or NULL */
  api_gen *published;  /* the one whose operations are registered, or NULL */
  mcpd_http *fetching; /* the document request in flight */
  mcpd_timer *retry;
  unsigned retry_ms;
  unsigned failures;
} backend;

typedef struct plugin {
  mcpd_ctx *ctx;
  backend *backends;
  size_t n_backends;
  int live; /* init() has returned: changes go through update_begin() */
} plugin;

/* A call on its way to the backend. */
typedef struct pending {
  mcpd_call *call;
  op_ref *ref;
  mcpd_http *http;
  int resource;
  char *uri; /* resources: the URI asked for */
  int cancelled;
  char why[400]; /* what went wrong, from the host */
} pending;

/* ---- small helpers -------------------------------------------------------- */

static char *xstrdup(const char *s) {
  return s != NULL ? strdup(s) : NULL;
}

static void gen_unref(api_gen *g) {
  if (g == NULL || --g->refs > 0)
    return;
  openapi_free(&g->api);
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
static char *expand_env(const char *s, char *err, size_t n) {
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
        snprintf(err, n, "bad ${...} in a header value");
        free(out);
        return NULL;
      }
      memcpy(name, s + 2, nl);
      name[nl] = '\0';
      add = getenv(name);
      if (add == NULL) {
        snprintf(err, n, "environment variable %s (used in a header) is not set", name);
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
      "ca_file",
      "client_cert_file",
      "client_key_file",
      "insecure_skip_verify",
      "proxy",
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
  if (url == NULL)
    return bad(err, n, "backend %s: \"base_url\" is required (e.g. \"http://127.0.0.1:8001\")%s",
               name, "");
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
  spec = json_string_value(json_object_get(o, "openapi"));
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
      val = expand_env(json_string_value(hv), err, n);
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
  if (isbad)
    return -EINVAL;
  r = parse_tls(b, o, name, err, n);
  if (r < 0)
    return r;
  /* The conversion options, checked now by a dry run on an empty document
   * (a bad route_map rule is a settings error, not a fetch error). */
  b->options = json_object();
  if (b->options == NULL)
    return -ENOMEM;
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
    memset(&opt, 0, sizeof(opt));
    opt.backend = b->name;
    opt.tool_prefix = b->tool_prefix;
    opt.include_operations = json_object_get(b->options, "include_operations");
    opt.exclude_operations = json_object_get(b->options, "exclude_operations");
    opt.include_tags = json_object_get(b->options, "include_tags");
    opt.exclude_tags = json_object_get(b->options, "exclude_tags");
    opt.route_map = json_object_get(b->options, "route_map");
    opt.get_as_resources = b->get_as_resources;
    r = doc ? openapi_convert(doc, &opt, &api, err, n) : -ENOMEM;
    json_decref(doc);
    openapi_free(&api);
    if (r < 0) {
      char msg[400];
      snprintf(msg, sizeof(msg), "%s", err);
      return bad(err, n, "backend %s: %s", name, msg);
    }
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
  gen_unref(b->gen);
  gen_unref(b->published);
}

/* ---- calls ---------------------------------------------------------------------- */

static void pending_free(pending *p) {
  gen_unref(p->ref->gen);
  free(p->uri);
  free(p);
}

static const char *header_of(const mcpd_http_response *resp, const char *name) {
  return mcpd_http_header(resp, name);
}

/* A failed exchange as the model should read it. */
static void transport_error(const backend *b, int err, const char *why, char *msg, size_t n) {
  /* TLS and proxy failures, and timeouts in the handshake, only the host
   * can put in words. */
  if (why != NULL && why[0] != '\0' &&
      (err == -EKEYREJECTED || err == -ECONNABORTED || err == -EINVAL ||
       (err == -EPROTO && strncasecmp(b->origin, "https://", 8) == 0) ||
       (err == -ETIMEDOUT && strstr(why, "TLS") != NULL) ||
       (err == -ECONNREFUSED && strstr(why, "proxy") != NULL) || err == -EIO)) {
    snprintf(msg, n, "backend %s (%s): %s", b->name, b->origin, why);
    return;
  }
  switch (err) {
  case -ETIMEDOUT:
    snprintf(msg, n, "backend %s did not answer within %u ms (or did not accept the connection)",
             b->name, b->timeout_ms);
    break;
  case -ECONNREFUSED:
    snprintf(msg, n, "backend %s refused the connection (is %s up?)", b->name, b->origin);
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
             b->origin);
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
    memset(&opts, 0, sizeof(opts));
    opts.structured = 1; /* mcpd drops it for sessions that predate it */
    opts.max_error_body = 1000;
    result = oa_result(ref->op, resp->status, header_of(resp, "content-type"), resp->body,
                       resp->body_len, &opts);
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
  if (p->http != NULL)
    host->http_cancel(p->http); /* on_response() completes the call */
}

/* Sends the request of ref built from args; the call completes later. */
static int start_call(mcpd_call *call, op_ref *ref, const json_t *args, const char *uri,
                      json_t **result) {
  backend *b = ref->b;
  oa_request rq;
  mcpd_http_request hr;
  const char **lines = NULL;
  size_t n_lines = 0, i, url_len;
  char err[300], *url = NULL;
  pending *p = NULL;
  int r;

  memset(&rq, 0, sizeof(rq));
  r = oa_request_build(ref->op, args, b->base_path, &rq, err, sizeof(err));
  if (r < 0) {
    if (r == -ENOMEM)
      return -ENOMEM;
    if (uri != NULL)
      return host->fail(call, -EINVAL, err) == 0 ? MCPD_PENDING : -EINVAL;
    *result = mcpd_result_error(err);
    return MCPD_OK;
  }
  url_len = strlen(b->origin) + strlen(rq.target) + 1;
  url = malloc(url_len);
  lines = calloc(rq.n_headers + b->n_headers + b->n_forward + 1, sizeof(*lines));
  p = calloc(1, sizeof(*p));
  if (url == NULL || lines == NULL || p == NULL || (uri != NULL && (p->uri = strdup(uri)) == NULL))
    goto oom;
  snprintf(url, url_len, "%s%s", b->origin, rq.target);
  lines[n_lines++] = "Accept: application/json, */*;q=0.5";
  for (i = 0; i < b->n_headers; i++)
    lines[n_lines++] = b->headers[i];
  for (i = 0; i < rq.n_headers; i++)
    lines[n_lines++] = rq.headers[i];
  /* The client's headers, only those the settings name. */
  {
    char **fw = calloc(b->n_forward + 1, sizeof(char *));
    if (fw == NULL)
      goto oom;
    for (i = 0; i < b->n_forward; i++) {
      const char *v = host->call_header(call, b->forward[i]);
      size_t len;
      if (v == NULL)
        continue;
      len = strlen(b->forward[i]) + strlen(v) + 3;
      fw[i] = malloc(len);
      if (fw[i] == NULL)
        continue;
      snprintf(fw[i], len, "%s: %s", b->forward[i], v);
      lines[n_lines++] = fw[i];
    }
    memset(&hr, 0, sizeof(hr));
    hr.struct_size = sizeof(hr);
    hr.method = rq.method;
    hr.url = url;
    hr.headers = lines;
    hr.n_headers = n_lines;
    hr.body = rq.body;
    hr.body_len = rq.body_len;
    hr.timeout_ms = b->timeout_ms;
    hr.connect_timeout_ms = b->connect_timeout_ms;
    hr.max_response_bytes = b->max_response_bytes;
    hr.label = b->name;
    set_transport(b, &hr, p->why, sizeof(p->why));
    p->call = call;
    p->ref = ref;
    p->resource = uri != NULL;
    ref->gen->refs++;
    r = host->http_request(b->pl->ctx, &hr, on_response, p, &p->http);
    free_lines(fw, b->n_forward);
  }
  free(url);
  free(lines);
  oa_request_free(&rq);
  if (r < 0) {
    char msg[400];
    ref->gen->refs--;
    free(p->uri);
    free(p);
    snprintf(msg, sizeof(msg), "backend %s: the request could not be sent: %s", b->name,
             host->strerror(r));
    if (uri != NULL)
      return host->fail(call, -EIO, msg) == 0 ? MCPD_PENDING : -EIO;
    *result = mcpd_result_error(msg);
    return MCPD_OK;
  }
  host->on_cancel(call, on_cancel, p);
  return MCPD_PENDING;
oom:
  free(url);
  free(lines);
  if (p != NULL)
    free(p->uri);
  free(p);
  oa_request_free(&rq);
  return -ENOMEM;
}

static int tool_handler(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  return start_call(call, data, args, NULL, result);
}

static int resource_handler(mcpd_call *call, const char *uri, const json_t *vars, void *data,
                            json_t **result) {
  return start_call(call, data, vars, uri, result);
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
    r = key_seen(keys->templates, op->uri) ? -EEXIST
                                           : host->register_resource_template(pl->ctx, &tpl);
  }
  if (r < 0)
    host->log(pl->ctx, MCPD_LOG_WARNING, "backend=%s operation %s %s skipped: %s", ref->b->name,
              op->method, op->path, host->strerror(r));
  return r;
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
    for (j = 0; g != NULL && j < g->api.n_ops; j++)
      register_op(pl, &g->ops[j], &keys);
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

/* Whether text that is not JSON is a YAML OpenAPI document: its first
 * line that is not blank, a comment or "---" starts with "openapi:" or
 * "swagger:". */
static int looks_like_yaml(const char *text, size_t len) {
  size_t i = 0;
  while (i < len) {
    size_t end = i;
    while (end < len && text[end] != '\n')
      end++;
    while (i < end && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
      i++;
    if (i < end && text[i] != '#' && !(end - i >= 3 && memcmp(text + i, "---", 3) == 0))
      return (end - i >= 8 && memcmp(text + i, "openapi:", 8) == 0) ||
             (end - i >= 8 && memcmp(text + i, "swagger:", 8) == 0) ||
             (end - i >= 10 && memcmp(text + i, "\"openapi\":", 10) == 0);
    i = end + 1;
  }
  return 0;
}

/* Converts a fetched (or read) document and puts it in service. Returns
 * 0, or a negative error with a message in err. */
static int take_document(backend *b, const char *text, size_t len, char *err, size_t n) {
  json_error_t je;
  json_t *doc = json_loadb(text, len, 0, &je);
  oa_options opt;
  api_gen *g;
  size_t i;
  int r;

  if (doc == NULL) {
    if (looks_like_yaml(text, len))
      snprintf(err, n,
               "the OpenAPI document is YAML; mcpd reads JSON documents only (serve or point "
               "\"openapi\" at its JSON form, e.g. converted with yq -o=json)");
    else
      snprintf(err, n, "the OpenAPI document is not JSON: %s (line %d)", je.text, je.line);
    return -EINVAL;
  }
  g = calloc(1, sizeof(*g));
  if (g == NULL) {
    json_decref(doc);
    return -ENOMEM;
  }
  memset(&opt, 0, sizeof(opt));
  opt.backend = b->name;
  opt.tool_prefix = b->tool_prefix;
  opt.include_operations = json_object_get(b->options, "include_operations");
  opt.exclude_operations = json_object_get(b->options, "exclude_operations");
  opt.include_tags = json_object_get(b->options, "include_tags");
  opt.exclude_tags = json_object_get(b->options, "exclude_tags");
  opt.route_map = json_object_get(b->options, "route_map");
  opt.get_as_resources = b->get_as_resources;
  r = openapi_convert(doc, &opt, &g->api, err, n);
  json_decref(doc);
  if (r < 0) {
    openapi_free(&g->api);
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
  host->log(b->pl->ctx, MCPD_LOG_INFO,
            "backend=%s document=%s title=\"%s\" version=\"%s\" operations=%zu warnings=%zu",
            b->name, b->openapi, g->api.title ? g->api.title : "",
            g->api.version ? g->api.version : "", g->api.n_ops, g->api.n_warnings);
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
    snprintf(why, sizeof(why), "%s is larger than %u MiB", b->spec_url, DOC_MAX_BYTES >> 20);
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
  int r;
  if (f == NULL) {
    snprintf(err, n, "cannot open %s: %s", b->spec_file, strerror(errno));
    return -errno;
  }
  do {
    if (len > DOC_MAX_BYTES) {
      fclose(f);
      free(text);
      snprintf(err, n, "%s is larger than %u MiB", b->spec_file, DOC_MAX_BYTES >> 20);
      return -E2BIG;
    }
    if (len + 65536 > cap) {
      char *grown;
      /* Room for one byte past the limit, to see a file that passes it. */
      cap = (len + 65536) * 2 > DOC_MAX_BYTES + 1 ? DOC_MAX_BYTES + 1 : (len + 65536) * 2;
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
  hr.max_response_bytes = DOC_MAX_BYTES;
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
  (void)ctx;
  if (pl == NULL)
    return;
  /* SIGHUP: fetch every document again; an unchanged list is not news. */
  for (i = 0; i < pl->n_backends; i++) {
    backend *b = &pl->backends[i];
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
