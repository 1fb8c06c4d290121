/* openapi.h -- turns an OpenAPI 3.0/3.1 document (JSON, parsed with jansson)
 * into MCP operations: tool names, input and output JSON Schemas,
 * annotations, and the map from each tool argument back to where it goes in
 * the HTTP request. Pure: no I/O, no globals, no mcpd types, so it is unit
 * tested on its own (tests/unit/test_openapi.c). */
#ifndef HTTP_BACKEND_OPENAPI_H
#define HTTP_BACKEND_OPENAPI_H

#include <jansson.h>
#include <stddef.h>

/* Where an argument goes. */
enum oa_location {
  OA_PATH,       /* a {name} in the path template */
  OA_QUERY,      /* ?name=value */
  OA_HEADER,     /* name: value */
  OA_COOKIE,     /* Cookie: name=value */
  OA_BODY_PROP,  /* one property of an object body */
  OA_BODY_WHOLE, /* the whole body (a non-object body: array, scalar, union) */
  OA_SERVER      /* a variable of the operation's server URL, chosen per call (an "enum"
                    one); name is the variable, arg "server_<name>" */
};

/* Characters a path or query value keeps unencoded besides RFC 3986 unreserved. */
enum oa_keep {
  OA_KEEP_NONE,    /* everything else is %XX ('/' too) */
  OA_KEEP_SLASH,   /* path, "x-multi-segment: true": '/' kept (a value spans segments) */
  OA_KEEP_RESERVED /* "allowReserved: true": in a path the sub-delims, ':', '@' and '/'; in
                      a query the same but '&', '=', '+' (they change the query's shape).
                      '?', '#', '[', ']' and '%' are always encoded */
};

/* Serialisation of a parameter (OpenAPI "style"). LABEL (".a.b") and MATRIX
 * (";x=a;x=b") are path styles. */
enum oa_style {
  OA_STYLE_SIMPLE,
  OA_STYLE_FORM,
  OA_STYLE_SPACE,
  OA_STYLE_PIPE,
  OA_STYLE_DEEP,
  OA_STYLE_LABEL,
  OA_STYLE_MATRIX
};

typedef struct oa_param {
  char *arg;  /* owned: the argument name in the input schema. Unique, but for a
                 path or query parameter merged with the body property of the same
                 name and a compatible schema: both entries carry the one argument
                 and the value goes to both places. A clash of different ones
                 renames the parameter, e.g. "item_id__path" */
  char *name; /* owned: the name in the request (path/query/header/cookie
                 name, or the body property; "body" for OA_BODY_WHOLE) */
  enum oa_location in;
  enum oa_style style; /* defaults: path/header simple, query/cookie form */
  int explode;         /* defaults: form 1, others 0 */
  int required;        /* path parameters always */
  int json;            /* a parameter with a JSON "content" instead of a "schema": the
                          value is sent as its JSON text (then encoded), not per style */
  enum oa_keep keep;   /* path and query values: see enum oa_keep */
  int file;            /* multipart body properties: 1 a file, 2 an array of files; the
                          argument is {"content_base64", "filename"?, "mime_type"?} */
} oa_param;

/* Whether a tool's calls may run as tasks: the values of MCPD_TASK_* in mcpd/plugin.h. */
enum oa_task { OA_TASK_FORBIDDEN = 0, OA_TASK_OPTIONAL = 1, OA_TASK_REQUIRED = 2 };

/* What an operation becomes. */
enum oa_kind { OA_TOOL, OA_RESOURCE, OA_TEMPLATE };

/* Body encodings the request builder knows. */
enum oa_body {
  OA_BODY_NONE,
  OA_BODY_JSON,      /* application/json and every "+json" type */
  OA_BODY_FORM,      /* application/x-www-form-urlencoded */
  OA_BODY_MULTIPART, /* multipart/form-data: the properties as parts, files base64 */
  OA_BODY_BINARY,    /* application/octet-stream (or another non-text type): the "body"
                        argument is the bytes in base64 */
  OA_BODY_TEXT       /* text/plain (and other text types): the "body" argument is the text */
};

typedef struct oa_operation {
  enum oa_kind kind;
  char *name;            /* owned: the tool (or resource) name: [A-Za-z0-9_.-], at most
                            64 characters, unique in the api, with the prefix. Names are
                            given before filtering (over every operation that is not
                            x-mcp-hidden), so a name does not change when a filter does */
  char *title;           /* owned; the summary, or NULL */
  char *description;     /* owned; summary + "\n\n" + description (either may be absent);
                            never NULL ("METHOD /path" when the document has neither) */
  char *method;          /* owned; upper case: "GET" */
  char *path;            /* owned; the path template as in the document: "/items/{item_id}" */
  char *operation_id;    /* owned; NULL when absent */
  json_t *input_schema;  /* owned; {"type":"object","properties":{...},"required":[...],
                            "$defs":{...}} (only the $defs it uses). The members of
                            "$defs" are shared between operations (reference-counted):
                            treat both schemas as read-only */
  json_t *output_schema; /* owned; from the first 2xx response (by code) with an
                            application/json or +json schema, or NULL (also NULL when
                            that response may be another type too, e.g. an image);
                            always "type":"object" (a non-object response is wrapped as
                            {"type":"object","properties":{"result":<schema>}}) */
  int output_wrapped;    /* 1 when output_schema wraps the response in "result" */
  json_t *annotations;   /* owned; ToolAnnotations: readOnlyHint, destructiveHint,
                            idempotentHint, openWorldHint false, title; overridden by
                            x-mcp-annotations */
  oa_param *params;      /* owned array: path, query, header and cookie parameters (in that
                            order), then the body properties or the whole-body argument,
                            then the server variables (OA_SERVER) */
  size_t n_params;
  enum oa_body body; /* how the body is sent */
  int body_required;
  char *content_type; /* owned; the body's media type as sent in Content-Type
                         ("application/json", "application/merge-patch+json",
                         "application/x-www-form-urlencoded", "multipart/form-data" (the
                         request adds its boundary), "text/plain", and for a wildcard
                         "application/octet-stream"); NULL without a body */
  char *uri;          /* owned; resources and templates: "api://<backend>/items/{item_id}"
                         (RFC 6570 level 1; query parameters as {?a,b}); NULL for tools.
                         The variables are the argument names (oa_param.arg), with bytes
                         other than [A-Za-z0-9_] percent-encoded ("x-id" -> {x%2Did});
                         oa_request_build() accepts either spelling */
  char *mime_type;    /* owned; the media type of the first 2xx response's first content
                         (for resources), or NULL */
  /* Owned; with oa_options.security_scopes: a NULL-terminated list of alternatives, each
   * the space-separated scopes one OpenAPI security requirement object needs (all of
   * them), as mcpd_tool.required_scopes wants it; "" for a requirement that names no
   * scope (any valid token). NULL: no scopes ("security" absent or [], only apiKey/http
   * schemes, or the option off). See openapi_convert(). */
  char **required_scopes;
  /* Owned reference, shared between operations (read-only): {"url": the servers[0].url
   * in effect (the operation's, else the path item's, else the document's), "variables":
   * {name: {"default": string, "enum": [strings]?}}} with server_variables applied to
   * the defaults; NULL when the document names no server. See oa_server_url(). */
  json_t *server;
  /* Tools only (0 otherwise): whether a call may run as a task (the 2026-07-28 tasks
   * extension), an enum oa_task: see oa_options.task_default. */
  int task_support;
} oa_operation;

/* How a route_map rule or the defaults classify an operation. */
typedef struct oa_options {
  const char *backend;              /* borrowed; required; the backend's name (for URIs) */
  const char *tool_prefix;          /* borrowed; NULL or "" for none; put before every name */
  const json_t *include_operations; /* borrowed arrays of strings, or NULL: operationIds or */
  const json_t *exclude_operations; /* final tool names */
  const json_t *include_tags;
  const json_t *exclude_tags;
  const json_t *route_map; /* borrowed; NULL or an array of rules, first match wins:
                              {"methods":["GET",...] or "*", "pattern":"<POSIX ERE on the
                              path template>", "tags":[...] (all must be present),
                              "type":"tool"|"resource"|"resource_template"|"exclude"} */
  int get_as_resources;    /* GET without path parameters -> resource, GET with ->
                              resource template, others tools (after route_map) */
  int security_scopes;     /* 1: fill oa_operation.required_scopes from "security" */
  /* Borrowed; NULL or "": put before every scope. */
  const char *scope_prefix;
  /* Borrowed; NULL or a NULL-terminated list of header names (any case) the plugin sets
   * itself: header parameters of these names are left out of the arguments, so the
   * model cannot set them. */
  const char *const *reserved_headers;
  int no_output_schemas; /* 1: no output schemas (output_schemas: false) */
  int read_only;         /* 1: only GET and HEAD operations (the others are left out) */
  /* Borrowed; NULL or an object of strings: values for the server URL's variables
   * instead of their defaults (a name the document does not declare, or a value outside
   * its enum, is an error). */
  const json_t *server_variables;
  /* 1: every variable of the server URL with "enum" choices becomes an optional
   * argument "server_<name>" (a string of those choices; the default, or the
   * server_variables value, when absent). Only when the caller sends requests to the
   * server URL (oa_server_url()). */
  int server_args;
  /* Task support of the tools (an enum oa_task; the values of MCPD_TASK_*): an
   * operation's entry in task_operations, else its "x-mcp-task" ("forbidden",
   * "optional" or "required"; another value is a warning and ignored), else
   * task_default. */
  int task_default;
  /* Borrowed; NULL or an object: operationId, final tool name or final name without
   * tool_prefix -> "forbidden" | "optional" | "required". A name that matches no
   * operation of the document (before filters) is an error (-EINVAL), like a bad
   * value. */
  const json_t *task_operations;
} oa_options;
/* Filters: an operation is dropped when it matches exclude_operations or has a tag in
 * exclude_tags; otherwise, when include_operations or include_tags is a non-empty array,
 * it is kept only if it matches one of them (the union of the two). An operation matches a
 * name when its operationId, its final name, or its final name without tool_prefix equals
 * it. A resource or template that would need a required header, cookie or body argument
 * (which a URI cannot carry) stays a tool, with a warning. */

typedef struct oa_api {
  oa_operation *ops; /* owned array, in document order (paths, then methods in
                        get, put, post, delete, options, head, patch, trace order) */
  size_t n_ops;
  char **warnings; /* owned: what was skipped or changed and why, one line each
                      ("GET /x: parameter y has no schema, taken as a string") */
  size_t n_warnings;
  char *title;   /* owned; info.title or NULL */
  char *version; /* owned; info.version or NULL */
} oa_api;

/* Scopes (security_scopes): an operation's "security", else the document's, is a list of
 * requirement objects, each an alternative; of each object only the schemes of type
 * oauth2 and openIdConnect in components.securitySchemes count (apiKey, http and
 * mutualTLS are the backend's own credentials), their scope lists joined with spaces.
 * An object with none of those schemes is no alternative; one whose oauth2 lists are
 * empty (or {}) is "" (any valid token). A scope that is not an RFC 6749 scope-token
 * skips the operation with a warning: a tool must not lose a scope it needs. */

/* Converts doc (borrowed) with opt (borrowed). On success fills *out (free
 * it with openapi_free()) and returns 0. A Swagger 2.0 document is converted to
 * OpenAPI 3.0 first (oa_swagger2.c); a 3.1 document without "paths" gives no
 * operations and a warning. Returns -EINVAL with a message in
 * err (size n) when doc is not such a document or an option is
 * malformed (a bad route_map rule, a pattern that does not compile), -ENOMEM
 * on allocation failure. A single bad operation never fails the whole
 * document: it is skipped with a warning. */
int openapi_convert(const json_t *doc, const oa_options *opt, oa_api *out, char *err, size_t n);

/* Frees what openapi_convert() filled in (safe on a zeroed struct). */
void openapi_free(oa_api *api);

/* Whether prefix (borrowed; NULL or "" too) may be put before scopes: an RFC 6749
 * scope-token. Pure. */
int oa_scope_prefix_ok(const char *prefix);

/* "forbidden", "optional", "required" as an enum oa_task; -1 for anything else (NULL
 * too). Pure. */
int oa_task_parse(const char *s);

/* A backend's settings object (borrowed): checks "tasks" (absent: forbidden) and the
 * values of "task_operations" (an object of "forbidden" | "optional" | "required"), and
 * sets *task_default. 0, or -EINVAL with a message in err (size n), e.g. 'tasks must be
 * "forbidden", "optional" or "required"'. The names of task_operations are checked
 * against the document by openapi_convert(). Pure. */
int oa_task_settings(const json_t *backend, int *task_default, char *err, size_t n);

#endif
