/* openapi_internal.h -- what the pieces of the OpenAPI converter share:
 *   openapi.c       the driver (openapi_convert(), openapi_free())
 *   oa_ctx.c        the conversion context: allocation failures, warnings, errors
 *   oa_ref.c        JSON pointers and $ref resolution
 *   oa_schema.c     schemas: OpenAPI -> JSON Schema, components and "$defs"
 *   oa_names.c      tool names
 *   oa_route.c      options, filters and route_map: which operations, as what;
 *                   task support (task_operations, x-mcp-task)
 *   oa_body.c       an operation's request body and its output schema
 *   oa_operation.c  one operation: parameters, arguments, input schema, kind
 *   oa_security.c   one operation's "security" as the scopes its tool needs
 *   oa_swagger2.c   a Swagger 2.0 document as the OpenAPI 3.0 one it stands for
 *   oa_server.c     the server URL an operation's requests go to, and its variables
 * Not installed, not used outside the plugin.
 *
 * Everything here is pure: no I/O and no global state (the tables are
 * constant). State lives in the ctx the caller passes, so a conversion may
 * run on any thread, one ctx per conversion. Unless a comment says
 * otherwise, pointer arguments are borrowed (read, not kept past the call)
 * and allocation failures set c->oom instead of being returned (see
 * openapi.c). */
#ifndef HTTP_BACKEND_OPENAPI_INTERNAL_H
#define HTTP_BACKEND_OPENAPI_INTERNAL_H

#include "openapi.h"
#include "sbuf.h"

#include <jansson.h>
#include <regex.h>
#include <stddef.h>

#define MAX_SCHEMA_DEPTH 64  /* nested schemas (and inlined references) */
#define MAX_INLINE       16  /* nested inlined non-component references */
#define MAX_REF_HOPS     16  /* $ref -> $ref -> ... for parameters, bodies, responses */
#define MAX_WARNINGS     500 /* more are counted, not kept */

/* What route_map (or the defaults) make of an operation. */
enum { R_TOOL, R_RESOURCE, R_TEMPLATE, R_EXCLUDE, R_NONE };

/* HTTP methods, in path item order; indexes into OA_METHODS. */
#define N_METHODS 8
enum { M_GET, M_PUT, M_POST, M_DELETE, M_OPTIONS, M_HEAD, M_PATCH, M_TRACE };
extern const char *const OA_METHODS[N_METHODS];    /* "get", ... */
extern const char *const OA_METHODS_UP[N_METHODS]; /* "GET", ... */

typedef struct rule {
  unsigned methods; /* bit (1 << M_x) per method */
  int has_re;
  regex_t re;
  const json_t *tags; /* borrowed array of strings, or NULL */
  int type;           /* R_TOOL .. R_EXCLUDE */
} rule;

typedef struct ctx {
  const json_t *doc;
  const json_t *schemas; /* components.schemas, or NULL */
  const oa_options *opt;
  const char *prefix; /* the sanitised tool_prefix ("" for none) */
  int oom;
  char where[192]; /* "GET /items" or "schema Item": what warnings are about */
  oa_api *out;
  size_t cap_warnings, dropped_warnings, cap_ops;
  json_t *comp;      /* component name -> converted schema */
  json_t *comp_deps; /* component name -> object used as a set of component names */
  const char *inline_stack[MAX_INLINE];
  size_t n_inline;
  rule *rules;
  size_t n_rules;
  json_t *doc_server; /* the document's servers[0] as oa_operation.server, made once */
  int doc_server_made;
} ctx;

/* One operation of the document (pass 1). */
typedef struct entry {
  const char *path;
  const json_t *item; /* the path item */
  const json_t *op;
  int m;
  char *name; /* owned; final */
} entry;

/* ---- oa_ctx.c: the context ------------------------------------------------------ */

/* Returns j (a new reference, passed through: the caller owns it), setting
 * c->oom when it is NULL (a failed jansson constructor). Pure. */
json_t *oa_chk(ctx *c, json_t *j);

/* o[k] = v, stealing v (NULL: an earlier allocation failure, only
 * recorded). o and k borrowed. Pure. */
void oa_oset(ctx *c, json_t *o, const char *k, json_t *v);

/* Appends v (stolen) to a (borrowed); as oa_oset(). Pure. */
void oa_apush(ctx *c, json_t *a, json_t *v);

/* A new copy of s (borrowed), owned by the caller; NULL for NULL (or, with
 * c->oom set, when out of memory). Pure. */
char *oa_xstrdup(ctx *c, const char *s);

/* Sets what warnings are about: "<METHOD> <path>" (path borrowed, copied).
 * Pure. */
void oa_set_where(ctx *c, int m, const char *path);

/* Adds the warning line "<where>: <message>" to c->out (a new string the
 * api owns). fmt borrowed. Pure. */
void oa_warn(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes the message into err (the caller's, size n; may be NULL) and
 * returns -EINVAL. Pure. */
int oa_fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "an object", "a string"...: a static string describing v's type (v
 * borrowed). Pure. */
const char *oa_type_name(const json_t *v);

/* Whether the object o (borrowed; any value) has the key k. Pure. */
int oa_has_key(const json_t *o, const char *k);

/* Whether the array list (borrowed; any value) holds the string s (NULL:
 * never). Pure. */
int oa_str_in(const json_t *list, const char *s);

/* ---- oa_ref.c: JSON pointers and references -------------------------------------- */

/* Resolves the local reference ref ("#/components/schemas/A", "#/paths/~1x")
 * in c->doc: a borrowed pointer into the document, or NULL when it is not
 * local or not found. Pure. */
const json_t *oa_resolve_pointer(ctx *c, const char *ref);

/* When ref is exactly "<prefix><one pointer token>", puts the decoded token
 * into name (the caller's buffer; a C string without NUL bytes) and returns
 * 1; else 0. Pure. */
int oa_ref_name(const char *ref, const char *prefix, sbuf *name);

/* {"$ref": "#/$defs/<name>"} with name escaped as a JSON pointer in a URI
 * fragment: a new reference (NULL when out of memory). Pure. */
json_t *oa_defs_ref(ctx *c, const char *name);

/* Follows $ref chains from v (to components/parameters, requestBodies,
 * responses or any local pointer): a borrowed pointer into the document (v
 * itself when it is no reference). NULL, with a warning about what, when a
 * reference is not a string, cannot be resolved, or the chain is too long
 * or circular. Pure. */
const json_t *oa_deref(ctx *c, const json_t *v, const char *what);

/* ---- oa_schema.c: schemas ---------------------------------------------------------- */

/* A converted copy of the OpenAPI schema s: a new reference, NULL only when
 * out of memory. Anything that is not a schema becomes {} with a warning.
 * Pure. */
json_t *oa_conv_schema(ctx *c, const json_t *s, int depth);

/* Applies "nullable: true" to the converted schema s (stolen); returns the
 * schema that also accepts null (a new reference: s or a wrapper around it;
 * NULL when out of memory). Pure. */
json_t *oa_apply_nullable(ctx *c, json_t *s);

/* Puts into the converted schema (borrowed, modified) its "$defs": the
 * components it uses, transitively (shared, read-only). Pure. */
void oa_add_defs(ctx *c, json_t *schema);

/* When the converted schema s (stolen) is a reference to a component with
 * only annotations beside it, returns a copy of the component's top level
 * (a new reference); else s itself. Pure. */
json_t *oa_deref_top(ctx *c, json_t *s);

/* Whether the converted top-level schema s (borrowed) describes a JSON
 * object. Pure. */
int oa_is_object_schema(const json_t *s);

/* Merges the properties and required names of the object schema s (and of
 * its allOf members) into props and req (borrowed, modified). 0 when s is
 * not an object schema that can be spread into arguments without losing
 * anything. Pure. */
int oa_merge_object(ctx *c, const json_t *s, json_t *props, json_t *req, int depth);

/* ---- oa_names.c: names ------------------------------------------------------------- */

/* Appends n bytes of s (borrowed) to b (the caller's) with characters
 * outside [A-Za-z0-9_.-] as '_' and runs of '_' collapsed. Pure. */
void oa_sanitize_into(sbuf *b, const char *s, size_t n, int lowercase);

/* The name of the operation op (method m at path) before the prefix, cut
 * and de-duplication: a new string the caller owns (NULL when out of
 * memory). Pure. */
char *oa_base_name(ctx *c, const json_t *op, const char *path, int m);

/* c->prefix + base, cut to 64 bytes with a hash of the whole, then made
 * unique in used (borrowed; the name is added to it) with "_2", "_3"...: a
 * new string the caller owns (NULL when out of memory). Pure. */
char *oa_final_name(ctx *c, const char *base, json_t *used);

/* ---- oa_route.c: options, filters, route_map ---------------------------------------- */

/* Checks c->opt and compiles its route_map into c->rules (owned by c, freed
 * by the driver). 0, -EINVAL with a message in err (size n), or -ENOMEM.
 * Pure. */
int oa_check_options(ctx *c, char *err, size_t n);

/* Warns about filter entries that match none of the n entries es
 * (borrowed). Pure. */
void oa_check_filter_names(ctx *c, const entry *es, size_t n);

/* Whether the filters (and read_only) drop the entry e (borrowed). Pure. */
int oa_filtered_out(ctx *c, const entry *e);

/* What the first matching route_map rule makes of e (borrowed): R_TOOL ..
 * R_EXCLUDE, or R_NONE. Pure. */
int oa_route_type(ctx *c, const entry *e);

/* Checks c->opt's task_default and the values of its task_operations. 0, or -EINVAL
 * with a message in err (size n). Pure. */
int oa_check_task_options(ctx *c, char *err, size_t n);

/* Checks that every name of c->opt->task_operations names one of the n_es entries es
 * (borrowed; every operation that is not x-mcp-hidden, before filters): 0, or -EINVAL
 * with a message in err (size n). Pure. */
int oa_check_task_names(ctx *c, const entry *es, size_t n_es, char *err, size_t n);

/* The task support of the tool e (borrowed) becomes: its task_operations entry, else
 * its "x-mcp-task" (a bad value is a warning), else task_default. Pure. */
int oa_task_support(ctx *c, const entry *e);

/* ---- oa_body.c: request body, output schema ------------------------------------------ */

/* The request body of op (borrowed): sets o->body, o->content_type and
 * o->body_required; fills *props (name -> schema) and *req, or *whole (new
 * references the caller owns; left alone when there is no body). -1 when
 * the operation must be skipped (a body, required or not, of a type that
 * cannot be sent, with a warning). Pure. */
int oa_body_schema(ctx *c, const json_t *op, oa_operation *o, json_t **props, json_t **req,
                   json_t **whole);

/* For a multipart body property's argument schema s (borrowed): 1 when it is the file
 * argument oa_body_schema() made ({"content_base64", "filename", "mime_type"}), 2 for
 * an array of them, else 0. Pure. */
int oa_file_arg(const json_t *s);

/* Sets o->output_schema (owned by o) from the first 2xx response of op
 * (borrowed) with a JSON body schema, and o->mime_type. Pure. */
void oa_output_schema(ctx *c, const json_t *op, oa_operation *o);

/* ---- oa_operation.c: one operation ---------------------------------------------------- */

/* Converts the entry e (borrowed) into o (the caller's; zeroed first) as
 * the route type rt. 0, and o->name is e->name (the caller then sets
 * e->name to NULL: the operation owns it); or -1 when it is skipped (with a
 * warning) or memory ran out (c->oom), o then empty. Pure. */
int oa_convert_op(ctx *c, const entry *e, int rt, oa_operation *o);

/* Frees what o (the caller's) owns and zeroes it. Pure. */
void oa_op_free(oa_operation *o);

/* ---- oa_security.c: scopes ---------------------------------------------------------- */

/* Sets o->required_scopes (owned by o; NULL for none) from the "security" of op
 * (borrowed), else of the document, when c->opt->security_scopes. 0, or -1 when the
 * operation must be skipped (with a warning: a malformed requirement or a scope that
 * is not a scope-token) or memory ran out (c->oom). Pure. */
int oa_security_scopes(ctx *c, const json_t *op, oa_operation *o);

/* Frees a list from oa_security_scopes() (NULL is fine). Pure. */
void oa_scopes_free(char **v);

/* ---- oa_swagger2.c: Swagger 2.0 ---------------------------------------------------------- */

/* The Swagger 2.0 document doc (borrowed; its "swagger" checked by the caller) as an
 * OpenAPI 3.0 document: a new reference the caller owns, which shares (by reference
 * count) the parts that need no change with doc; neither may be changed afterwards.
 * Warns about what has no 3.0 form. NULL when out of memory (c->oom set). Pure. */
json_t *oa_swagger2_convert(ctx *c, const json_t *doc);

/* ---- oa_server.c: the server URL ----------------------------------------------------- */

/* The server of the entry e (borrowed): a new reference to the shared object
 * oa_operation.server describes, from the operation's, else the path item's, else the
 * document's servers[0] (the document's made once, in c->doc_server); NULL when none
 * names one. Warns once about server_variables the document does not declare. Pure. */
json_t *oa_op_server(ctx *c, const entry *e);

#endif
