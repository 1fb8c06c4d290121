/* registry.h -- the tools, resources and resource templates that plugins
 * registered, with lookup by name and URI and their listing form for each
 * protocol revision. Strings and schemas are copies owned by the registry,
 * so nothing points into a plugin's memory. Loop thread only. */
#ifndef MCPD_REGISTRY_H
#define MCPD_REGISTRY_H

#include <jansson.h>
#include <stddef.h>

#include "mcpd/plugin.h"
#include "protocol.h"
#include "strmap.h"

struct uritpl;

typedef struct reg_tool {
  char *name;
  json_t *input_schema;        /* owned; never NULL */
  json_t *def;                 /* owned: the full Tool object (newest revision) */
  json_t *listed[PROTO_COUNT]; /* owned, made on first use: Tool per revision */
  mcpd_tool_fn handler;
  void *data;
  mcpd_ctx *ctx;
  const char *owner; /* borrowed: the plugin's name, which outlives the entry */
} reg_tool;

typedef struct reg_resource {
  char *uri;
  json_t *def;
  json_t *listed[PROTO_COUNT];
  mcpd_resource_fn handler;
  void *data;
  mcpd_ctx *ctx;
  const char *owner;
} reg_resource;

typedef struct reg_template {
  char *uri_template;
  struct uritpl *tpl;
  json_t *def;
  json_t *listed[PROTO_COUNT];
  mcpd_resource_fn handler;
  void *data;
  mcpd_ctx *ctx;
  const char *owner;
} reg_template;

/* A growable array of pointers to one kind of entry. */
typedef struct reg_list {
  void **items;
  size_t count, cap;
} reg_list;

typedef struct registry {
  reg_list tools, resources, templates;
  strmap tool_by_name;
  strmap resource_by_uri;
  strmap template_by_text;
} registry;

void registry_init(registry *r);

/* Adds an entry for ctx. owner (the plugin's name) is borrowed and must
 * outlive the entry. The struct is borrowed and already normalised to the
 * host's size; everything it points to is copied. Returns 0; -EINVAL with a
 * message in err (size n) for a bad field; -EEXIST when the name, URI or
 * template is taken (err names the owner); -ENOMEM. */
int registry_add_tool(registry *r, mcpd_ctx *ctx, const char *owner, const mcpd_tool *t, char *err,
                      size_t n);
int registry_add_resource(registry *r, mcpd_ctx *ctx, const char *owner, const mcpd_resource *res,
                          char *err, size_t n);
int registry_add_template(registry *r, mcpd_ctx *ctx, const char *owner,
                          const mcpd_resource_template *t, char *err, size_t n);

/* What kind of entry a key names. */
enum reg_kind { REG_TOOL, REG_RESOURCE, REG_TEMPLATE };

/* Returns 0 if key (a tool name, a resource URI or a template text) is free
 * in r, or held only by ignore (the version being replaced); else -EEXIST
 * with a message naming the owner in err (size n). */
int registry_check_free(const registry *r, enum reg_kind kind, const char *key,
                        const mcpd_ctx *ignore, char *err, size_t n);

/* Moves every entry of src into dst, after dst's own, in src's order, and
 * leaves src empty. All or nothing: returns 0, -EEXIST (a key of src is
 * taken in dst) or -ENOMEM, and then nothing moved. */
int registry_merge(registry *dst, registry *src);

/* A JSON array of the listing objects of r's tools (REG_TOOL) or of its
 * resources and templates (REG_RESOURCE), in order: compare two snapshots
 * to know whether a list changed. New ref; NULL when out of memory. */
json_t *registry_snapshot(const registry *r, enum reg_kind kind);

/* Moves every entry of ctx from r into into (appended). */
void registry_take_ctx(registry *r, mcpd_ctx *ctx, registry *into);

/* Removes (and frees) every entry of ctx. */
void registry_remove_ctx(registry *r, mcpd_ctx *ctx);

/* Lookups; the entries are borrowed and live until removed. */
reg_tool *registry_tool(const registry *r, const char *name, size_t len);
reg_resource *registry_resource(const registry *r, const char *uri, size_t len);

/* Finds the first template, in registration order, that matches uri, and
 * sets *vars to a new ref of its variables. NULL when none matches. */
reg_template *registry_match_template(const registry *r, const char *uri, json_t **vars);

/* The listing object of an entry for a protocol revision: borrowed, cached.
 * NULL when out of memory. */
const json_t *registry_tool_json(reg_tool *t, int version);
const json_t *registry_resource_json(reg_resource *res, int version);
const json_t *registry_template_json(reg_template *t, int version);

/* Frees everything. */
void registry_free(registry *r);

#endif
