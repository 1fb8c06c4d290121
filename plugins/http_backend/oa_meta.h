/* oa_meta.h -- tools_mode "search": a backend's tools served as three meta-tools
 * instead of one tool per operation (a big API's list would not fit a model's
 * context): search the operations (oa_search.h), describe one (its input
 * schema), and call one by name. This module holds what those need and builds
 * their results; http_backend.c registers them and sends the calls.
 *
 * It also keeps the API lean: oa_meta_build() turns every tool's input schema
 * into compact JSON text (parsed again only when one is described or called)
 * and drops the operations' schema trees, which a large document otherwise keeps
 * in memory many times over.
 *
 * Pure: no I/O, no global state. An oa_meta is built once, then read-only:
 * its functions may run on any thread. Pointer arguments are borrowed unless a
 * comment says otherwise. */
#ifndef HTTP_BACKEND_OA_META_H
#define HTTP_BACKEND_OA_META_H

#include "openapi.h"

#include <jansson.h>
#include <stddef.h>

/* The three meta-tools, in the order they are registered. */
enum oa_meta_tool { OA_META_SEARCH, OA_META_DESCRIBE, OA_META_CALL, OA_META_COUNT };

#define OA_META_LIMIT_DEFAULT 10
#define OA_META_LIMIT_MAX     50

typedef struct oa_meta oa_meta;

/* Builds the index of api's tools (operations of kind OA_TOOL), with their tags
 * from doc (the document api was converted from; its "paths"), and makes api
 * lean: each tool's input_schema becomes text kept here, and every operation's
 * input_schema, output_schema and annotations are released (set to NULL; api
 * must then only be used for requests and results, which do not need them). Sets
 * *out (owned; oa_meta_free()). 0 or -ENOMEM (api is then unchanged or partly
 * lean, still usable for requests). */
int oa_meta_build(oa_api *api, const json_t *doc, oa_meta **out);

/* The number of tools behind the meta-tools. */
size_t oa_meta_count(const oa_meta *m);

/* The name of meta-tool t for prefix ("gh_": "gh_search_operations"), into buf
 * (the caller's, size n; cut to fit). */
void oa_meta_name(enum oa_meta_tool t, const char *prefix, char *buf, size_t n);

/* Meta-tool t's input schema (a new reference) and description (a new string the
 * caller frees), naming the others by prefix; title (NULL: none) and count say
 * what the API is. NULL when out of memory. */
json_t *oa_meta_input_schema(enum oa_meta_tool t);
char *oa_meta_description(enum oa_meta_tool t, const char *prefix, const char *title, size_t count);

/* The operation named name among m's tools: its index in api->ops, or -1. */
long oa_meta_find(const oa_meta *m, const oa_api *api, const char *name);

/* The search meta-tool: a tool result (a new reference) for args {"query",
 * "tags"?, "limit"?}: the best matches, each with name, summary, method, path and
 * score, as JSON text. An error result for bad arguments. NULL when out of
 * memory. */
json_t *oa_meta_search(const oa_meta *m, const oa_api *api, const json_t *args);

/* The describe meta-tool: a tool result (a new reference) for args {"name"}: the
 * operation's name, summary, description, method, path and full input schema
 * (with its "$defs"), as JSON text; an error result naming the search tool
 * (search_name) when there is no such operation. NULL when out of memory. */
json_t *oa_meta_describe(const oa_meta *m, const oa_api *api, const json_t *args,
                         const char *search_name);

/* Checks the arguments of a call to the operation api->ops[index] against the top
 * level of its input schema: every required argument present, no argument the
 * schema does not name, each of a type it allows. Nested values and keywords
 * beyond "type" are the backend's to check. 0, or -EINVAL with a message in err
 * (the caller's, size n); -ENOMEM. */
int oa_meta_check_args(const oa_meta *m, const oa_api *api, long index, const json_t *args,
                       char *err, size_t n);

/* The task support of the call meta-tool (an enum oa_task), the most permissive of api's
 * tools: optional when any of them may run as a task (then one that forbids it may too
 * through the meta-tool: its call is the same asynchronous HTTP request either way),
 * required only when every one requires it, else forbidden. */
int oa_meta_task_support(const oa_api *api);

void oa_meta_free(oa_meta *m);

#endif
