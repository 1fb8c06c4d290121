/* jsonrpc.c -- JSON-RPC 2.0 messages. */
#include "mcp/jsonrpc.h"

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

json_t *jsonrpc_error(const json_t *id, int code, const char *message, json_t *data) {
  json_t *err = json_pack("{s:i,s:s}", "code", code, "message", message ? message : "error");
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
