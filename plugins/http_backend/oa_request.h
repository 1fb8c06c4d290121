/* oa_request.h -- the two ends of a call: MCP arguments -> an HTTP request,
 * and an HTTP response -> an MCP tool result (or resource contents). Pure:
 * no I/O, no globals, unit tested in tests/unit/test_openapi.c. */
#ifndef HTTP_BACKEND_OA_REQUEST_H
#define HTTP_BACKEND_OA_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "openapi.h"

/* An HTTP request to make. All strings owned; free with oa_request_free(). */
typedef struct oa_request {
  char *method;   /* "GET" */
  char *target;   /* path + query, percent-encoded: "/items/a%2Fb?tag=x&tag=y" */
  char **headers; /* "Name: value" lines (header parameters, Cookie, Content-Type),
                     values checked for CR/LF */
  size_t n_headers;
  char *body; /* NULL when there is none */
  size_t body_len;
} oa_request;

/* Builds the request of op (borrowed) from args (borrowed; a JSON object that
 * passed the input schema, or NULL for none) into *out (the caller's; free
 * with oa_request_free()). base_path (borrowed; NULL, "" or e.g. "/api/v1")
 * is put before the path. Path and query values are percent-encoded (RFC 3986
 * unreserved characters kept; '/' encoded too, but where oa_param.keep says
 * otherwise; a value that makes a "." or ".." segment, or a path that starts
 * with "//", is refused), arrays and objects serialised
 * per style and explode; scalars as JSON texts without quotes for strings
 * (reals in their shortest form: 0.1, and 2 for 2.0); a missing optional
 * argument, or a null one for a parameter, is left out. Header values are
 * not encoded; cookie values keep RFC 6265 cookie-octets and %XX the rest.
 * Body: JSON (the body properties present, under their property names, as
 * one object, "{}" for a required body with none; or the whole-body argument),
 * form-urlencoded (arrays repeat the key, objects as JSON text),
 * multipart/form-data (a part per property; arrays of scalars a part per item,
 * other objects and arrays a JSON part; files from base64, with their
 * filename and mime_type; the boundary a hash of the content, never in it),
 * bytes (the "body" argument decoded from base64) or text (the "body"
 * argument as it is), with a Content-Type header from op->content_type (with
 * the boundary for multipart). Unknown arguments, and OA_SERVER ones, are
 * ignored here (see oa_server_url()).
 * A path or query argument may also be given under its variable name in
 * op->uri ("item%2Did" for "item-id"), so the variables of a resource
 * template match can be passed as args unchanged.
 * Returns 0, or -EINVAL with a message in err (a required argument missing, a
 * header value with CR, LF or another control character, a file or body that
 * is not base64, a mime_type that is not a media type), -ENOMEM. */
int oa_request_build(const oa_operation *op, const json_t *args, const char *base_path,
                     oa_request *out, char *err, size_t n);

/* A file argument may also be {"uri": a resource URI of this server,
 * "filename"?, "mime_type"?}: the plugin reads the resource, then replaces
 * the object's members with those oa_file_from_contents() gives, before
 * oa_request_build() (which refuses a "uri" it finds).
 * The first file argument of op in args (borrowed) given by URI: 1 with *file
 * (borrowed from args; its members may be replaced) and *arg (borrowed: the
 * argument's name); 0 when none is left; -EINVAL with a message in err for
 * one that also has content_base64, or whose uri is not a non-empty string. */
int oa_file_uri_next(const oa_operation *op, const json_t *args, json_t **file, const char **arg,
                     char *err, size_t n);

/* The file argument to send for file (borrowed; {"uri", "filename"?,
 * "mime_type"?} of argument arg) from what reading its resource gave
 * (result, borrowed: a ReadResourceResult): *out (a new ref)
 * {"content_base64", "filename"?, "mime_type"?} with the bytes of its one
 * content (a text's UTF-8, a blob's decoded bytes); the filename given, else
 * the URI's last path segment (percent-decoded; none when empty: the
 * field's name then); the mime_type given, else the content's mimeType. *bytes
 * is the file's size. 0; -EINVAL with a message in err (not one content, or
 * one with neither text nor blob, a blob that is not base64); -E2BIG with a
 * message when it is larger than max_bytes; -ENOMEM. */
int oa_file_from_contents(const char *arg, const json_t *file, const json_t *result,
                          size_t max_bytes, json_t **out, size_t *bytes, char *err, size_t n);

void oa_request_free(oa_request *r);

/* The URL prefix of op's requests when they go to the document's server (see
 * oa_operation.server): its url with each {variable} replaced by the argument
 * "server_<name>" in args (borrowed; may be NULL) when op has one and it is one of the
 * choices, else the variable's default; without a trailing '/'. *out is a new string
 * the caller frees. 0; -ENOENT (op has no server), -EINVAL (a variable without a
 * value) with a message in err; -ENOMEM. The result may be relative ("/v1"): the
 * caller resolves it. */
int oa_server_url(const oa_operation *op, const json_t *args, char **out, char *err, size_t n);

/* Limits and switches for turning a response into a result. */
typedef struct oa_result_opts {
  int structured;        /* the session is at 2025-06-18 or later: give structuredContent */
  size_t max_error_body; /* bytes of an error body kept in the message (default 1000) */
  int *mismatch;         /* NULL, or set to 1 when a 2xx JSON answer did not match the
                            operation's output schema (it was then sent as text only) */
} oa_result_opts;

/* The tool result (a new ref) for a response to op (borrowed, may be NULL):
 * status, the Content-Type value (borrowed, may be NULL) and the body
 * (borrowed, may be NULL when len is 0). opts may be NULL (defaults). The
 * result always has "content" and "isError".
 *   2xx JSON (application/json, +json; or no Content-Type and a body that is
 *     a JSON object or array): a text copy of the JSON without whitespace
 *     (numbers exactly as the server wrote them), and when opts->structured
 *     and the operation has an output schema, structuredContent (wrapped in
 *     "result" when op->output_wrapped; left out when not wrapped and the
 *     body is not an object, or when it does not match the output schema,
 *     checked with oa_check(): clients reject structuredContent that does not
 *     match); a JSON body that does not parse is text.
 *   2xx image types (not SVG): image content (base64); other 2xx: text
 *     (invalid UTF-8 replaced by U+FFFD); an empty body (204...): text
 *     "HTTP 204 No Content (no content)". With opts->structured and a
 *     wrapped output schema, these (but images) also get structuredContent
 *     {"result": <the text, or null for no body>}: clients reject a
 *     successful result without structuredContent from a tool with an
 *     output schema (the converter gives no output schema to a response
 *     that may be something else than JSON, so this is for servers that
 *     answer other than documented).
 *   otherwise: isError true, text "HTTP <status> <reason>: <body>", the body
 *     (a JSON body without whitespace) cut to max_error_body bytes at a
 *     character boundary, then "... (cut; N bytes in all)"; for 401 and 403
 *     the body is replaced by "(body withheld)".
 * Returns NULL only on allocation failure. */
json_t *oa_result(const oa_operation *op, int status, const char *content_type, const char *body,
                  size_t len, const oa_result_opts *opts);

/* The resources/read contents array element for a resource or template
 * operation: {"uri":uri,"mimeType":...,"text":...} or "blob" (base64) for
 * non-text types. Text types: text/..., JSON, XML, YAML, JavaScript (invalid
 * UTF-8 replaced); without a Content-Type, a body that is valid UTF-8 is
 * text (no mimeType), any other is an application/octet-stream blob. The
 * mimeType is the media type without parameters. All arguments borrowed. A
 * new ref, NULL on allocation failure. */
json_t *oa_contents(const char *uri, const char *content_type, const char *body, size_t len);

#endif
