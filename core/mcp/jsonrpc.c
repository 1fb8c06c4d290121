/* jsonrpc.c -- JSON-RPC 2.0 messages. */
#include "mcp/jsonrpc.h"

#include "lib/utf8.h"

#include <stdlib.h>
#include <string.h>

static int valid_id(const json_t *id) {
  /* MCP: a string or an integer, never null. */
  return json_is_string(id) || json_is_integer(id);
}

enum jsonrpc_kind jsonrpc_classify(const json_t *v, jsonrpc_msg *out) {
  const json_t *version, *method, *id, *params;

  memset(out, 0, sizeof(*out));
  out->root = v;
  out->kind = JSONRPC_INVALID;
  if (!json_is_object(v)) {
    out->error_message = "a JSON-RPC message must be a JSON object";
    return out->kind;
  }
  id = json_object_get(v, "id");
  if (id != NULL && valid_id(id))
    out->id = id;
  version = json_object_get(v, "jsonrpc");
  if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0) {
    out->error_message = "\"jsonrpc\" must be \"2.0\"";
    return out->kind;
  }
  if (id != NULL && !valid_id(id)) {
    out->error_message = "\"id\" must be a string or an integer";
    return out->kind;
  }
  method = json_object_get(v, "method");
  if (method != NULL) {
    if (!json_is_string(method) || json_string_length(method) == 0) {
      out->error_message = "\"method\" must be a non-empty string";
      return out->kind;
    }
    params = json_object_get(v, "params");
    if (params != NULL && !json_is_object(params) && !json_is_array(params)) {
      out->error_message = "\"params\" must be an object";
      return out->kind;
    }
    out->method = json_string_value(method);
    out->params = params;
    out->kind = id != NULL ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
    return out->kind;
  }
  if (id != NULL &&
      (json_object_get(v, "result") != NULL) != (json_object_get(v, "error") != NULL)) {
    out->kind = JSONRPC_RESPONSE;
    return out->kind;
  }
  out->error_message = id != NULL ? "a response needs exactly one of \"result\" and \"error\""
                                  : "a request needs a \"method\"";
  return out->kind;
}

json_t *jsonrpc_result(const json_t *id, json_t *result) {
  json_t *msg = json_object();
  if (msg == NULL || result == NULL) {
    json_decref(msg);
    json_decref(result);
    return NULL;
  }
  if (json_object_set_new(msg, "jsonrpc", json_string("2.0")) < 0 ||
      json_object_set(msg, "id", (json_t *)id) < 0 ||
      json_object_set_new(msg, "result", result) < 0) {
    json_decref(msg);
    return NULL;
  }
  return msg;
}

/* A JSON string of message, with each byte that is not part of valid UTF-8
 * replaced by U+FFFD: a message cut to fit a buffer, or a plugin's, may end
 * inside a sequence, and jansson refuses such a string (the response would
 * be lost). New ref; NULL when out of memory. */
static json_t *message_string(const char *message) {
  const unsigned char *p = (const unsigned char *)message;
  const unsigned char *end = p + strlen(message);
  json_t *s = json_string(message);
  char *fixed, *q;
  size_t n;
  if (s != NULL)
    return s;
  fixed = malloc((size_t)(end - p) * 3 + 1);
  if (fixed == NULL)
    return NULL;
  for (q = fixed; p < end; p += n ? n : 1) {
    n = *p < 0x80 ? 1 : utf8_len(p, end);
    if (n > 0) {
      memcpy(q, p, n);
      q += n;
    } else {
      memcpy(q, "\xEF\xBF\xBD", 3);
      q += 3;
    }
  }
  *q = '\0';
  s = json_string(fixed);
  free(fixed);
  return s;
}

json_t *jsonrpc_error(const json_t *id, int code, const char *message, json_t *data) {
  json_t *text = message_string(message ? message : "error");
  json_t *err = text ? json_pack("{s:i,s:o}", "code", code, "message", text) : NULL;
  json_t *msg;
  if (err == NULL) {
    json_decref(data);
    return NULL;
  }
  if (data != NULL)
    json_object_set_new(err, "data", data);
  msg = json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? (json_t *)id : json_null(), "error",
                  err);
  return msg;
}

json_t *jsonrpc_notification(const char *method, json_t *params) {
  json_t *msg = json_pack("{s:s,s:s}", "jsonrpc", "2.0", "method", method);
  if (msg == NULL) {
    json_decref(params);
    return NULL;
  }
  if (params != NULL)
    json_object_set_new(msg, "params", params);
  return msg;
}
