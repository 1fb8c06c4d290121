/* registry.h -- the tools, resources, resource templates and prompts that
 * plugins registered, with lookup by key (name, URI or template text) and
 * their listing form for each protocol revision. Strings and schemas are
 * copies owned by the registry, so nothing points into a plugin's memory.
 * Loop thread only. */
#ifndef MCPD_REGISTRY_H
#define MCPD_REGISTRY_H

#include <jansson.h>
#include <stddef.h>

#include "mcpd/plugin.h"
#include "mcp/protocol.h"
#include "lib/strmap.h"

struct uritpl;

/* The kinds of entry; each has its own key space. */
enum reg_kind { REG_TOOL, REG_RESOURCE, REG_TEMPLATE, REG_PROMPT, REG_KINDS };

/* What every entry has. */
typedef struct reg_entry {
  enum reg_kind kind;
  char *key;                   /* tool or prompt name, resource URI, template text */
  json_t *def;                 /* the full listing object (newest revision) */
  json_t *listed[PROTO_COUNT]; /* made on first use: the listing per revision */
  mcpd_ctx *ctx;               /* the plugin version that registered it */
  const char *owner;           /* borrowed: the plugin's name, which outlives the entry */
  /* The scopes the plugin says a caller needs (required_scopes, 1.3):
   * alternatives packed as "a b\0c\0\0" (each a set that must all be
   * held); NULL: none named. Owned. */
  char *scopes_any;
} reg_entry;

typedef struct reg_tool {
  reg_entry e;
  json_t *input_schema; /* owned; never NULL */
  int task_support;     /* MCPD_TASK_* */
  mcpd_tool_fn handler;
  void *data;
} reg_tool;

typedef struct reg_resource {
  reg_entry e;
  unsigned cache_ttl_ms; /* the read results' ttlMs (2026-07-28) */
  mcpd_resource_fn handler;
  void *data;
} reg_resource;

typedef struct reg_template {
  reg_entry e;
  struct uritpl *tpl;
  unsigned cache_ttl_ms;
  mcpd_resource_fn handler;
  void *data;
  mcpd_complete_fn complete;
  void *complete_data;
} reg_template;

typedef struct reg_prompt {
  reg_entry e;
  json_t *arguments; /* owned: the argument array ([] when none) */
  mcpd_tool_fn handler;
  void *data;
  mcpd_complete_fn complete;
  void *complete_data;
} reg_prompt;

/* A growable array of entries of one kind, in registration order. */
typedef struct reg_list {
  reg_entry **items;
  size_t count, cap;
} reg_list;

typedef struct registry {
  reg_list lists[REG_KINDS];
  strmap maps[REG_KINDS];
} registry;

void registry_init(registry *r);

/* Adds an entry for ctx. owner (the plugin's name) is borrowed and must
 * outlive the entry. The struct is borrowed and already normalised to the
 * host's size; everything it points to is copied. Returns 0; -EINVAL with
 * a message in err (size n) for a bad field; -EEXIST when the key is taken
 * in r (err names the owner); -ENOMEM. */
int registry_add_tool(registry *r, mcpd_ctx *ctx, const char *owner, const mcpd_tool *t, char *err,
                      size_t n);
int registry_add_resource(registry *r, mcpd_ctx *ctx, const char *owner, const mcpd_resource *res,
                          char *err, size_t n);
int registry_add_template(registry *r, mcpd_ctx *ctx, const char *owner,
                          const mcpd_resource_template *t, char *err, size_t n);
int registry_add_prompt(registry *r, mcpd_ctx *ctx, const char *owner, const mcpd_prompt *p,
                        char *err, size_t n);

/* Returns 0 if key is free in r for kind, or held only by ignore (the
 * version being replaced); else -EEXIST with a message naming the owner. */
int registry_check_free(const registry *r, enum reg_kind kind, const char *key,
                        const mcpd_ctx *ignore, char *err, size_t n);

/* Moves every entry of src into dst, after dst's own, in src's order, and
 * leaves src empty. All or nothing: returns 0, -EEXIST (a key of src is
 * taken in dst) or -ENOMEM, and then nothing moved. */
int registry_merge(registry *dst, registry *src);

/* Moves every entry of ctx from r into into (appended). */
void registry_take_ctx(registry *r, mcpd_ctx *ctx, registry *into);

/* Puts src's entries in place of old's: old's entries move from r into
 * taken (an empty registry), src's move into r where old's first entry of each kind
 * was (after r's own where old had none), in src's order, and src is left
 * empty. A version that registers what its predecessor did so leaves every
 * list as it was (no reordering, no list_changed). old may be NULL (a plain
 * registry_merge()). All or nothing: returns 0, or -EEXIST / -ENOMEM with
 * r as it was (old's entries back in their places) and src untouched. */
int registry_replace_ctx(registry *r, mcpd_ctx *old, registry *src, registry *taken);

/* Removes (and frees) every entry of ctx. */
void registry_remove_ctx(registry *r, mcpd_ctx *ctx);

/* Looks an entry up by kind and key; NULL when absent. Borrowed: it lives
 * until removed. */
reg_entry *registry_get(const registry *r, enum reg_kind kind, const char *key, size_t len);

/* Finds the first template, in registration order, that matches uri, and
 * sets *vars to a new ref of its variables. NULL when none matches. */
reg_template *registry_match_template(const registry *r, const char *uri, json_t **vars);

/* The listing object of an entry for a protocol revision: borrowed,
 * cached. NULL when out of memory. */
const json_t *registry_listing(reg_entry *e, int version);

/* A JSON array of the listing objects of the given kinds, in order:
 * compare two snapshots to know whether a list changed. kinds is a bit
 * set of (1 << kind). New ref; NULL when out of memory. */
json_t *registry_snapshot(const registry *r, unsigned kinds);

/* The lists clients can be told changed: tools, resources (with
 * templates), prompts. */
enum reg_list_id { REG_LIST_TOOLS, REG_LIST_RESOURCES, REG_LIST_PROMPTS, REG_LISTS };

/* Takes a snapshot of each list into snap (new refs; NULL when out of
 * memory), to compare after a change with registry_lists_compare(). */
void registry_lists_snapshot(const registry *r, json_t *snap[REG_LISTS]);

/* Compares the lists with before (released and set NULL) and sets
 * changed[k]. A missing snapshot counts as a change. */
void registry_lists_compare(const registry *r, json_t *before[REG_LISTS], int changed[REG_LISTS]);

/* Frees everything. */
void registry_free(registry *r);

#endif
