/* jsonrpc.h -- JSON-RPC 2.0 messages: classifying what a client sent and
 * building what goes back. Pure: jansson only. */
#ifndef MCPD_JSONRPC_H
#define MCPD_JSONRPC_H

#include <jansson.h>

/* Standard JSON-RPC error codes, and the MCP ones mcpd uses. */
#define JSONRPC_PARSE_ERROR          (-32700)
#define JSONRPC_INVALID_REQUEST      (-32600)
#define JSONRPC_METHOD_NOT_FOUND     (-32601)
#define JSONRPC_INVALID_PARAMS       (-32602)
#define JSONRPC_INTERNAL_ERROR       (-32603)
#define MCP_ERROR_RESOURCE_NOT_FOUND (-32002)
#define MCP_ERROR_SESSION_NOT_FOUND  (-32001)
#define MCP_ERROR_BAD_REQUEST        (-32000)
/* A caller without the scope an entry needs (the HTTP answer is 403; MCP
 * defines no code of its own for it). */
#define MCP_ERROR_FORBIDDEN (-32000)

enum jsonrpc_kind {
  JSONRPC_REQUEST,      /* method and id */
  JSONRPC_NOTIFICATION, /* method, no id */
  JSONRPC_RESPONSE,     /* id and result or error: a client's answer */
  JSONRPC_INVALID       /* anything else; see error_message */
};

/* A classified message. Every pointer is borrowed from the message it was
 * made from and lives as long as it. */
typedef struct jsonrpc_msg {
  enum jsonrpc_kind kind;
  const json_t *root;
  const json_t *id;          /* string or integer; NULL for notifications and when invalid */
  const char *method;        /* NULL for responses */
  const json_t *params;      /* object or array; NULL when absent */
  const char *error_message; /* for JSONRPC_INVALID: why (static string) */
} jsonrpc_msg;

/* Classifies one message (borrowed). Never fails: a message that is not
 * valid JSON-RPC 2.0 is JSONRPC_INVALID, with id set when it had a usable
 * one (so the error response can carry it). */
enum jsonrpc_kind jsonrpc_classify(const json_t *v, jsonrpc_msg *out);

/* {"jsonrpc":"2.0","id":id,"result":result}: a new ref. id is borrowed
 * (its type is kept: "7" stays a string, 7 a number); result is stolen.
 * NULL when out of memory (result is released). */
json_t *jsonrpc_result(const json_t *id, json_t *result);

/* {"jsonrpc":"2.0","id":id|null,"error":{"code":..,"message":..,"data":..}}:
 * a new ref. id borrowed (NULL gives "id": null); message copied; data
 * stolen, may be NULL. */
json_t *jsonrpc_error(const json_t *id, int code, const char *message, json_t *data);

/* {"jsonrpc":"2.0","method":method,"params":params}: a new ref. method is
 * copied; params stolen, may be NULL (omitted). */
json_t *jsonrpc_notification(const char *method, json_t *params);

#endif
