/* modern.c -- the 2026-07-28 request envelope. */
#include "mcp/modern.h"

#include "lib/b64url.h"
#include "mcp/protocol.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const json_t *meta_of(const jsonrpc_msg *m) {
  const json_t *meta = json_object_get(m->params, "_meta");
  return json_is_object(meta) ? meta : NULL;
}

int modern_claimed(const jsonrpc_msg *m, const char *hdr_version, size_t len) {
  int v;
  if (hdr_version != NULL) {
    v = protocol_parse(hdr_version, len);
    if (v < 0 || PROTO_IS_MODERN(v))
      return 1; /* a revision no legacy client sends: modern, or -32022 */
    return 0;
  }
  return m->kind == JSONRPC_REQUEST && json_object_get(meta_of(m), MODERN_META_VERSION) != NULL;
}

int modern_method_known(const char *method, int modern) {
  static const char *const both[] = {
      "tools/list",     "tools/call",   "resources/list", "resources/templates/list",
      "resources/read", "prompts/list", "prompts/get",    "completion/complete"};
  size_t i;
  for (i = 0; i < sizeof(both) / sizeof(both[0]); i++) {
    if (strcmp(method, both[i]) == 0)
      return 1;
  }
  if (strcmp(method, "server/discover") == 0 || strcmp(method, "subscriptions/listen") == 0 ||
      strcmp(method, "tasks/get") == 0 || strcmp(method, "tasks/update") == 0 ||
      strcmp(method, "tasks/cancel") == 0)
    return modern; /* tasks: the extension of 2026-07-28 (the legacy era's differ) */
  return !modern;  /* initialize, ping, logging/setLevel, resources/(un)subscribe */
}

static int fail(modern_err *err, int status, int code, const char *msg) {
  err->status = status;
  err->code = code;
  err->data = NULL;
  snprintf(err->message, sizeof(err->message), "%s", msg);
  return -1;
}

/* A header value as sent: plain visible ASCII, or "=?base64?...?=" for
 * anything else (decoded into buf). Returns the length, or -1. */
static long header_value(const char *v, size_t len, char *buf, size_t n) {
  static const char pre[] = "=?base64?", post[] = "?=";
  size_t plen = sizeof(pre) - 1, qlen = sizeof(post) - 1, b64;
  int got;
  if (len >= plen + qlen && memcmp(v, pre, plen) == 0 && memcmp(v + len - qlen, post, qlen) == 0) {
    size_t i, pad = 0;
    b64 = len - plen - qlen;
    if (b64 % 4 != 0 || b64 / 4 * 3 >= n)
      return -1;
    /* Strict: the alphabet, and '=' only as the last one or two. */
    for (i = 0; i < b64; i++) {
      char c = v[plen + i];
      if (c == '=') {
        pad++;
        continue;
      }
      if (pad > 0 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '+' || c == '/'))
        return -1;
    }
    if (pad > 2)
      return -1;
    got = EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)v + plen, (int)b64);
    if (got < 0)
      return -1;
    /* EVP_DecodeBlock counts the padding as bytes. */
    if (b64 >= 1 && v[plen + b64 - 1] == '=')
      got--;
    if (b64 >= 2 && v[plen + b64 - 2] == '=')
      got--;
    buf[got] = '\0';
    return got;
  }
  if (len >= n)
    return -1;
  memcpy(buf, v, len);
  buf[len] = '\0';
  /* Surrounding whitespace is the transport's, not the value's. */
  while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
    buf[--len] = '\0';
  return (long)len;
}

static int header_equals(const char *hv, size_t hl, const char *want) {
  char buf[1024];
  long n = header_value(hv, hl, buf, sizeof(buf));
  const char *p = buf;
  if (n < 0 || want == NULL)
    return 0;
  while (*p == ' ' || *p == '\t')
    p++;
  return strcmp(p, want) == 0;
}

int modern_check(const jsonrpc_msg *m, const modern_headers *h, modern_req *out, modern_err *err) {
  const json_t *meta = meta_of(m), *pv, *caps, *info, *level, *name = NULL;
  const char *name_field = NULL;
  json_t *supported;
  char msg[200];
  int v;

  memset(out, 0, sizeof(*out));
  if (m->method == NULL)
    return fail(err, 400, JSONRPC_INVALID_REQUEST, "Invalid Request: a request needs a method");
  if (strcmp(m->method, "initialize") == 0 && meta == NULL)
    return fail(err, 400, MODERN_ERROR_HEADER_MISMATCH,
                "initialize belongs to the legacy era and cannot carry MCP-Protocol-Version "
                "2026-07-28");
  pv = json_object_get(meta, MODERN_META_VERSION);
  caps = json_object_get(meta, MODERN_META_CAPABILITIES);
  info = json_object_get(meta, MODERN_META_CLIENT_INFO);
  level = json_object_get(meta, MODERN_META_LOG_LEVEL);
  if (!json_is_string(pv) || !json_is_object(caps) || (info != NULL && !json_is_object(info)) ||
      (level != NULL && !json_is_string(level)))
    return fail(err, 400, JSONRPC_INVALID_PARAMS,
                "Invalid params: a 2026-07-28 request needs params._meta with "
                "\"" MODERN_META_VERSION "\" (a string) and \"" MODERN_META_CAPABILITIES
                "\" (an object)");
  if (h != NULL && h->version != NULL &&
      !header_equals(h->version, h->version_len, json_string_value(pv)))
    return fail(err, 400, MODERN_ERROR_HEADER_MISMATCH,
                "Header mismatch: MCP-Protocol-Version differs from params._meta's protocol "
                "version");
  if (h != NULL && h->method != NULL && !header_equals(h->method, h->method_len, m->method))
    return fail(err, 400, MODERN_ERROR_HEADER_MISMATCH,
                "Header mismatch: Mcp-Method differs from the request's method");
  v = protocol_parse(json_string_value(pv), json_string_length(pv));
  if (v < 0 || !PROTO_IS_MODERN(v)) {
    fail(err, 400, MODERN_ERROR_UNSUPPORTED_VERSION, "Unsupported protocol version");
    supported = json_pack("{s:[s],s:s}", "supported", protocol_name(PROTO_2026_07_28), "requested",
                          json_string_value(pv));
    err->data = supported;
    return -1;
  }
  if (h != NULL && h->version == NULL)
    return fail(err, 400, MODERN_ERROR_HEADER_MISMATCH,
                "Header mismatch: the MCP-Protocol-Version header is required");
  if (h != NULL && h->method == NULL)
    return fail(err, 400, MODERN_ERROR_HEADER_MISMATCH,
                "Header mismatch: the Mcp-Method header is required");
  if (strcmp(m->method, "tools/call") == 0 || strcmp(m->method, "prompts/get") == 0)
    name_field = "name";
  else if (strcmp(m->method, "resources/read") == 0)
    name_field = "uri";
  else if (strncmp(m->method, "tasks/", 6) == 0 && modern_method_known(m->method, 1))
    name_field = "taskId"; /* routes a task's requests to the instance holding it */
  if (h != NULL && name_field != NULL) {
    name = json_object_get(m->params, name_field);
    if (h->name == NULL) {
      snprintf(msg, sizeof(msg), "Header mismatch: %s needs the Mcp-Name header", m->method);
      return fail(err, 400, MODERN_ERROR_HEADER_MISMATCH, msg);
    }
    if (json_is_string(name) && !header_equals(h->name, h->name_len, json_string_value(name))) {
      snprintf(msg, sizeof(msg), "Header mismatch: Mcp-Name differs from params.%s", name_field);
      return fail(err, 400, MODERN_ERROR_HEADER_MISMATCH, msg);
    }
  }
  out->version = v;
  out->capabilities = caps;
  out->client_info = info;
  out->log_level = level ? json_string_value(level) : NULL;
  return 0;
}

/* ---- requestState ---------------------------------------------------------- */

static int mac(const unsigned char *key, const char *data, size_t len,
               unsigned char out[EVP_MAX_MD_SIZE], size_t *out_len) {
  return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, MODERN_STATE_KEY_LEN,
                   (const unsigned char *)data, len, out, EVP_MAX_MD_SIZE, out_len) != NULL
             ? 0
             : -1;
}

static void hex32(const unsigned char *k, char out[65]) {
  static const char hex[] = "0123456789abcdef";
  int i;
  for (i = 0; i < 32; i++) {
    out[2 * i] = hex[k[i] >> 4];
    out[2 * i + 1] = hex[k[i] & 15];
  }
  out[64] = '\0';
}

char *modern_state_make(const unsigned char key[MODERN_STATE_KEY_LEN], const char *method,
                        const char *name, const unsigned char *principal, const json_t *answers,
                        long long now_s) {
  unsigned char tag[EVP_MAX_MD_SIZE];
  char who[65] = "", *payload, *out;
  size_t plen, tlen, o;
  json_t *j;
  if (principal != NULL)
    hex32(principal, who);
  j = json_pack("{s:i,s:I,s:s,s:s,s:s,s:O}", "v", 1, "x", (json_int_t)(now_s + MODERN_STATE_TTL_S),
                "m", method, "n", name ? name : "", "p", who, "a",
                answers ? answers : json_object());
  payload = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(j);
  if (payload == NULL)
    return NULL;
  plen = strlen(payload);
  out = malloc(plen * 4 / 3 + 8 + 2 * EVP_MAX_MD_SIZE);
  if (out == NULL) {
    free(payload);
    return NULL;
  }
  o = b64url_encode((const unsigned char *)payload, plen, out);
  free(payload);
  if (mac(key, out, o, tag, &tlen) < 0) {
    free(out);
    return NULL;
  }
  out[o++] = '.';
  b64url_encode(tag, tlen, out + o);
  return out;
}

int modern_state_open(const unsigned char key[MODERN_STATE_KEY_LEN], const char *state,
                      const char *method, const char *name, const unsigned char *principal,
                      long long now_s, json_t **answers) {
  const char *dot = strrchr(state, '.');
  unsigned char tag[EVP_MAX_MD_SIZE], given[EVP_MAX_MD_SIZE + 4], *payload;
  char who[65] = "";
  size_t tlen, plen;
  long glen, got;
  json_t *j, *a;
  int r = -EBADMSG;

  *answers = NULL;
  if (dot == NULL || strlen(dot + 1) > 2 * EVP_MAX_MD_SIZE ||
      mac(key, state, (size_t)(dot - state), tag, &tlen) < 0)
    return -EBADMSG;
  glen = b64url_decode(dot + 1, strlen(dot + 1), given, sizeof(given));
  /* Compared in constant time: the time taken says nothing of the tag. */
  if (glen != (long)tlen || CRYPTO_memcmp(given, tag, tlen) != 0)
    return -EBADMSG;
  plen = (size_t)(dot - state);
  if ((payload = malloc(plen + 4)) == NULL)
    return -ENOMEM;
  got = b64url_decode(state, plen, payload, plen + 4);
  j = got < 0 ? NULL : json_loadb((const char *)payload, (size_t)got, JSON_REJECT_DUPLICATES, NULL);
  free(payload);
  if (principal != NULL)
    hex32(principal, who);
  a = json_object_get(j, "a");
  if (!json_is_object(j) || json_integer_value(json_object_get(j, "v")) != 1 || !json_is_object(a))
    r = -EBADMSG;
  else if (json_integer_value(json_object_get(j, "x")) < now_s)
    r = -ETIMEDOUT;
  else if (strcmp(json_string_value(json_object_get(j, "m"))
                      ? json_string_value(json_object_get(j, "m"))
                      : "",
                  method) != 0 ||
           strcmp(json_string_value(json_object_get(j, "n"))
                      ? json_string_value(json_object_get(j, "n"))
                      : "",
                  name ? name : "") != 0 ||
           strcmp(json_string_value(json_object_get(j, "p"))
                      ? json_string_value(json_object_get(j, "p"))
                      : "",
                  who) != 0)
    r = -EPERM;
  else {
    *answers = json_incref(a);
    r = 0;
  }
  json_decref(j);
  return r;
}

int modern_check_param_headers(const json_t *input_schema, const json_t *args,
                               const char *(*get)(void *ctx, const char *name, size_t *len),
                               void *ctx, modern_err *err) {
  const json_t *props = json_object_get(input_schema, "properties"), *prop;
  const char *pname;
  char header[128], buf[1024], msg[200];
  json_object_foreach((json_t *)props, pname, prop) {
    const char *hname = json_string_value(json_object_get(prop, "x-mcp-header"));
    const json_t *arg = json_object_get(args, pname);
    const char *hv;
    size_t hl;
    long n;
    if (hname == NULL || arg == NULL || json_is_null(arg))
      continue;
    snprintf(header, sizeof(header), "mcp-param-%s", hname);
    hv = get(ctx, header, &hl);
    if (hv == NULL) {
      snprintf(msg, sizeof(msg), "Header mismatch: the Mcp-Param-%.60s header is required", hname);
      return fail(err, 400, MODERN_ERROR_HEADER_MISMATCH, msg);
    }
    n = header_value(hv, hl, buf, sizeof(buf));
    if (n >= 0) {
      const char *p = buf;
      while (*p == ' ' || *p == '\t')
        p++;
      if (json_is_string(arg)    ? strcmp(p, json_string_value(arg)) == 0
          : json_is_boolean(arg) ? strcmp(p, json_is_true(arg) ? "true" : "false") == 0
          : json_is_number(arg)  ? strtod(p, NULL) == json_number_value(arg) && *p != '\0'
                                 : 0)
        continue;
    }
    snprintf(msg, sizeof(msg), "Header mismatch: Mcp-Param-%.60s does not match argument %.60s",
             hname, pname);
    return fail(err, 400, MODERN_ERROR_HEADER_MISMATCH, msg);
  }
  return 0;
}

json_t *modern_error_response(const jsonrpc_msg *m, const modern_err *err) {
  return jsonrpc_error(m->id, err->code, err->message, err->data);
}

int modern_consts_init(modern_consts *c, const char *server_version) {
  c->server_info = json_pack("{s:s,s:s}", "name", "mcpd", "version", server_version);
  c->meta = c->server_info ? json_pack("{s:O}", MODERN_META_SERVER_INFO, c->server_info) : NULL;
  c->complete = json_string("complete");
  c->zero = json_integer(0);
  c->public_scope = json_string("public");
  c->private_scope = json_string("private");
  if (c->meta == NULL || c->complete == NULL || c->zero == NULL || c->public_scope == NULL ||
      c->private_scope == NULL) {
    modern_consts_free(c);
    return -1;
  }
  return 0;
}

void modern_consts_free(modern_consts *c) {
  json_decref(c->server_info);
  json_decref(c->meta);
  json_decref(c->complete);
  json_decref(c->zero);
  json_decref(c->public_scope);
  json_decref(c->private_scope);
  memset(c, 0, sizeof(*c));
}

void modern_decorate(json_t *resp, const char *method, const modern_consts *c, int private_scope) {
  static const char *const cached[] = {"tools/list",     "prompts/list",
                                       "resources/list", "resources/templates/list",
                                       "resources/read", "server/discover"};
  json_t *result = json_object_get(resp, "result"), *meta, *type;
  size_t i;
  if (!json_is_object(result))
    return;
  /* The values every response carries are shared, never changed: a
   * response costs its own keys only. */
  if ((type = json_object_get(result, "resultType")) == NULL)
    json_object_set(result, "resultType", type = c->complete);
  meta = json_object_get(result, "_meta");
  if (json_is_object(meta))
    json_object_set(meta, MODERN_META_SERVER_INFO, c->server_info);
  else
    json_object_set(result, "_meta", c->meta);
  if (type != c->complete && strcmp(json_string_value(type), "complete") != 0)
    return; /* no cache hints on an input_required result */
  for (i = 0; method != NULL && i < sizeof(cached) / sizeof(cached[0]); i++) {
    if (strcmp(method, cached[i]) == 0) {
      if (json_object_get(result, "ttlMs") == NULL)
        json_object_set(result, "ttlMs", c->zero);
      if (json_object_get(result, "cacheScope") == NULL)
        json_object_set(result, "cacheScope", private_scope ? c->private_scope : c->public_scope);
      break;
    }
  }
}
