/* registry.c -- the tools, resources, templates and prompts of plugins.
 * All four kinds share the entry header and the list/map machinery; only
 * building an entry and freeing its extras differ. */
#include "mcp/registry.h"

#include "lib/principal.h"
#include "lib/schema.h"
#include "lib/uri_template.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[REG_KINDS] = {"tool", "resource", "resource template",
                                                  "prompt"};

void registry_init(registry *r) {
  memset(r, 0, sizeof(*r));
}

static int list_reserve(reg_list *l, size_t extra) {
  size_t cap = l->cap ? l->cap : 16;
  reg_entry **items;
  while (cap < l->count + extra)
    cap *= 2;
  if (cap == l->cap)
    return 0;
  items = realloc(l->items, cap * sizeof(*items));
  if (items == NULL)
    return -ENOMEM;
  l->items = items;
  l->cap = cap;
  return 0;
}

/* Copies a plugin's required_scopes (NULL-terminated alternatives, each
 * space-separated scope-tokens) into e->scopes_any. */
static int copy_scopes(reg_entry *e, const char *const *alts, char *err, size_t n) {
  size_t i, len = 1;
  char *p;
  if (alts == NULL)
    return 0;
  for (i = 0; alts[i] != NULL; i++) {
    const char *s = alts[i];
    if (i >= 64) {
      snprintf(err, n, "\"%s\": required_scopes has more than 64 alternatives", e->key);
      return -EINVAL;
    }
    for (; *s; s++) {
      if (*s != ' ' && !principal_scope_valid(s, 1)) {
        snprintf(err, n, "\"%s\": required_scopes[%zu] is not space-separated scopes", e->key, i);
        return -EINVAL;
      }
    }
    len += strlen(alts[i]) + 2;
  }
  if (i == 0)
    return 0;
  if ((e->scopes_any = p = malloc(len)) == NULL) {
    snprintf(err, n, "out of memory");
    return -ENOMEM;
  }
  for (i = 0; alts[i] != NULL; i++) {
    size_t l = strlen(alts[i]);
    /* An empty set (any valid token will do) is kept as " ": the packed
     * list ends at the first empty string. */
    if (l == 0)
      memcpy(p, " ", (l = 1) + 1);
    else
      memcpy(p, alts[i], l + 1);
    p += l + 1;
  }
  *p = '\0';
  return 0;
}

static void entry_free(reg_entry *e) {
  int i;
  if (e == NULL)
    return;
  for (i = 0; i < PROTO_COUNT; i++)
    json_decref(e->listed[i]);
  json_decref(e->def);
  free(e->key);
  free(e->scopes_any);
  switch (e->kind) {
  case REG_TOOL:
    json_decref(((reg_tool *)e)->input_schema);
    break;
  case REG_TEMPLATE:
    uritpl_free(((reg_template *)e)->tpl);
    break;
  case REG_PROMPT:
    json_decref(((reg_prompt *)e)->arguments);
    break;
  default:
    break;
  }
  free(e);
}

/* Puts a built entry into r: key free, map and list updated. */
static int insert(registry *r, reg_entry *e, char *err, size_t n) {
  strmap *map = &r->maps[e->kind];
  reg_list *l = &r->lists[e->kind];
  const reg_entry *other = strmap_get(map, e->key, strlen(e->key));
  if (other != NULL) {
    snprintf(err, n, "%s \"%s\" is already registered by plugin \"%s\"", kind_names[e->kind],
             e->key, other->owner);
    entry_free(e);
    return -EEXIST;
  }
  if (list_reserve(l, 1) < 0 || strmap_put(map, e->key, strlen(e->key), e) < 0) {
    snprintf(err, n, "out of memory");
    entry_free(e);
    return -ENOMEM;
  }
  l->items[l->count++] = e;
  return 0;
}

/* A new entry of kind with its header filled (key copied, def empty). */
static reg_entry *entry_new(size_t size, enum reg_kind kind, const char *key, mcpd_ctx *ctx,
                            const char *owner) {
  reg_entry *e = calloc(1, size);
  if (e == NULL)
    return NULL;
  e->kind = kind;
  e->ctx = ctx;
  e->owner = owner;
  e->key = strdup(key);
  e->def = json_object();
  if (e->key == NULL || e->def == NULL) {
    entry_free(e);
    return NULL;
  }
  return e;
}

/* Sets key to a copy of s when s is non-empty; -EINVAL for invalid UTF-8. */
static int set_str(json_t *obj, const char *key, const char *s) {
  if (s == NULL || *s == '\0')
    return 0;
  return json_object_set_new(obj, key, json_string(s)) < 0 ? -EINVAL : 0;
}

static int set_json(json_t *obj, const char *key, const json_t *v) {
  json_t *copy;
  if (v == NULL)
    return 0;
  copy = json_deep_copy(v);
  if (copy == NULL)
    return -ENOMEM;
  return json_object_set_new(obj, key, copy) < 0 ? -ENOMEM : 0;
}

static int valid_name(const char *s) {
  size_t i;
  for (i = 0; s[i] != '\0'; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return 0;
  }
  return i >= 1 && i <= 128;
}

static int is_object_schema(const json_t *s) {
  const json_t *type = json_object_get(s, "type");
  return json_is_object(s) && json_is_string(type) &&
         strcmp(json_string_value(type), "object") == 0;
}

/* Fills the display fields all kinds share; -EINVAL for invalid UTF-8. */
static int describe(reg_entry *e, const char *name, const char *title, const char *description) {
  return set_str(e->def, "name", name) < 0 || set_str(e->def, "title", title) < 0 ||
                 set_str(e->def, "description", description) < 0
             ? -EINVAL
             : 0;
}

int registry_add_tool(registry *r, mcpd_ctx *ctx, const char *owner, const mcpd_tool *t, char *err,
                      size_t n) {
  reg_tool *e;
  char why[256];
  int rc;

  if (t->name == NULL || !valid_name(t->name)) {
    snprintf(err, n, "tool name \"%s\" is not 1 to 128 characters of A-Z a-z 0-9 _ - .",
             t->name ? t->name : "(null)");
    return -EINVAL;
  }
  if (t->handler == NULL) {
    snprintf(err, n, "tool \"%s\" has no handler", t->name);
    return -EINVAL;
  }
  if (t->input_schema != NULL && schema_check_input_schema(t->input_schema, why, sizeof(why)) < 0) {
    snprintf(err, n, "tool \"%s\": %s", t->name, why);
    return -EINVAL;
  }
  if (t->output_schema != NULL && !is_object_schema(t->output_schema)) {
    snprintf(err, n, "tool \"%s\": outputSchema must be an object with \"type\": \"object\"",
             t->name);
    return -EINVAL;
  }
  if (t->annotations != NULL && !json_is_object(t->annotations)) {
    snprintf(err, n, "tool \"%s\": annotations must be an object", t->name);
    return -EINVAL;
  }
  e = (reg_tool *)entry_new(sizeof(*e), REG_TOOL, t->name, ctx, owner);
  if (e == NULL)
    goto nomem;
  if (describe(&e->e, t->name, t->title, t->description) < 0) {
    entry_free(&e->e);
    snprintf(err, n, "tool \"%s\": title and description must be valid UTF-8", t->name);
    return -EINVAL;
  }
  if ((t->input_schema != NULL ? set_json(e->e.def, "inputSchema", t->input_schema)
                               : json_object_set_new(e->e.def, "inputSchema",
                                                     json_pack("{s:s}", "type", "object"))) < 0 ||
      set_json(e->e.def, "outputSchema", t->output_schema) < 0 ||
      set_json(e->e.def, "annotations", t->annotations) < 0) {
    entry_free(&e->e);
    goto nomem;
  }
  e->input_schema = json_incref(json_object_get(e->e.def, "inputSchema"));
  if (t->task_support > MCPD_TASK_REQUIRED) {
    entry_free(&e->e);
    snprintf(err, n,
             "tool \"%s\": task_support %u is not MCPD_TASK_FORBIDDEN, _OPTIONAL or "
             "_REQUIRED",
             t->name, t->task_support);
    return -EINVAL;
  }
  e->task_support = (int)t->task_support;
  e->handler = t->handler;
  e->data = t->tool_data;
  if ((rc = copy_scopes(&e->e, t->required_scopes, err, n)) < 0) {
    entry_free(&e->e);
    return rc;
  }
  return insert(r, &e->e, err, n);
nomem:
  snprintf(err, n, "out of memory");
  return -ENOMEM;
}

/* The fields resources and templates share. */
static int describe_resource(reg_entry *e, const char *key_field, const char *name,
                             const char *title, const char *description, const char *mime,
                             const json_t *annotations) {
  if (set_str(e->def, key_field, e->key) < 0 || describe(e, name, title, description) < 0 ||
      set_str(e->def, "mimeType", mime) < 0)
    return -EINVAL;
  return set_json(e->def, "annotations", annotations);
}

int registry_add_resource(registry *r, mcpd_ctx *ctx, const char *owner, const mcpd_resource *res,
                          char *err, size_t n) {
  reg_resource *e;
  int rc;

  if (res->uri == NULL || res->uri[0] == '\0' || res->name == NULL || res->name[0] == '\0') {
    snprintf(err, n, "a resource needs a uri and a name");
    return -EINVAL;
  }
  if (res->handler == NULL) {
    snprintf(err, n, "resource \"%s\" has no handler", res->uri);
    return -EINVAL;
  }
  if (res->annotations != NULL && !json_is_object(res->annotations)) {
    snprintf(err, n, "resource \"%s\": annotations must be an object", res->uri);
    return -EINVAL;
  }
  e = (reg_resource *)entry_new(sizeof(*e), REG_RESOURCE, res->uri, ctx, owner);
  if (e == NULL) {
    snprintf(err, n, "out of memory");
    return -ENOMEM;
  }
  rc = describe_resource(&e->e, "uri", res->name, res->title, res->description, res->mime_type,
                         res->annotations);
  if (rc < 0) {
    entry_free(&e->e);
    snprintf(err, n, "resource \"%s\": %s", res->uri,
             rc == -EINVAL ? "strings must be valid UTF-8" : "out of memory");
    return rc;
  }
  e->cache_ttl_ms = res->cache_ttl_ms;
  e->handler = res->handler;
  e->data = res->data;
  if ((rc = copy_scopes(&e->e, res->required_scopes, err, n)) < 0) {
    entry_free(&e->e);
    return rc;
  }
  return insert(r, &e->e, err, n);
}

int registry_add_template(registry *r, mcpd_ctx *ctx, const char *owner,
                          const mcpd_resource_template *t, char *err, size_t n) {
  reg_template *e;
  char why[200];
  int rc;

  if (t->uri_template == NULL || t->uri_template[0] == '\0' || t->name == NULL ||
      t->name[0] == '\0') {
    snprintf(err, n, "a resource template needs a uri_template and a name");
    return -EINVAL;
  }
  if (t->handler == NULL) {
    snprintf(err, n, "resource template \"%s\" has no handler", t->uri_template);
    return -EINVAL;
  }
  if (t->annotations != NULL && !json_is_object(t->annotations)) {
    snprintf(err, n, "resource template \"%s\": annotations must be an object", t->uri_template);
    return -EINVAL;
  }
  e = (reg_template *)entry_new(sizeof(*e), REG_TEMPLATE, t->uri_template, ctx, owner);
  if (e == NULL) {
    snprintf(err, n, "out of memory");
    return -ENOMEM;
  }
  rc = uritpl_parse(t->uri_template, &e->tpl, why, sizeof(why));
  if (rc == 0)
    rc = describe_resource(&e->e, "uriTemplate", t->name, t->title, t->description, t->mime_type,
                           t->annotations);
  if (rc < 0) {
    snprintf(err, n, "resource template \"%s\": %s", t->uri_template,
             rc == -ENOMEM ? "out of memory" : (e->tpl ? "strings must be valid UTF-8" : why));
    entry_free(&e->e);
    return rc;
  }
  e->cache_ttl_ms = t->cache_ttl_ms;
  e->handler = t->handler;
  e->data = t->data;
  e->complete = t->complete;
  e->complete_data = t->complete_data;
  if ((rc = copy_scopes(&e->e, t->required_scopes, err, n)) < 0) {
    entry_free(&e->e);
    return rc;
  }
  return insert(r, &e->e, err, n);
}

/* Checks a prompt's argument array: objects with a unique string name. */
static int check_prompt_args(const json_t *args, char *why, size_t n) {
  size_t i, j;
  if (!json_is_array(args)) {
    snprintf(why, n, "arguments must be an array");
    return -EINVAL;
  }
  for (i = 0; i < json_array_size(args); i++) {
    const json_t *a = json_array_get(args, i), *name = json_object_get(a, "name");
    const json_t *req = json_object_get(a, "required");
    if (!json_is_object(a) || !json_is_string(name) || json_string_length(name) == 0) {
      snprintf(why, n, "arguments[%zu] needs a \"name\" string", i);
      return -EINVAL;
    }
    if (req != NULL && !json_is_boolean(req)) {
      snprintf(why, n, "arguments[%zu].required must be a boolean", i);
      return -EINVAL;
    }
    for (j = 0; j < i; j++) {
      if (json_equal(name, json_object_get(json_array_get(args, j), "name"))) {
        snprintf(why, n, "argument \"%s\" appears twice", json_string_value(name));
        return -EINVAL;
      }
    }
  }
  return 0;
}

int registry_add_prompt(registry *r, mcpd_ctx *ctx, const char *owner, const mcpd_prompt *p,
                        char *err, size_t n) {
  reg_prompt *e;
  char why[200];

  if (p->name == NULL || !valid_name(p->name)) {
    snprintf(err, n, "prompt name \"%s\" is not 1 to 128 characters of A-Z a-z 0-9 _ - .",
             p->name ? p->name : "(null)");
    return -EINVAL;
  }
  if (p->handler == NULL) {
    snprintf(err, n, "prompt \"%s\" has no handler", p->name);
    return -EINVAL;
  }
  if (p->arguments != NULL && check_prompt_args(p->arguments, why, sizeof(why)) < 0) {
    snprintf(err, n, "prompt \"%s\": %s", p->name, why);
    return -EINVAL;
  }
  e = (reg_prompt *)entry_new(sizeof(*e), REG_PROMPT, p->name, ctx, owner);
  if (e == NULL) {
    snprintf(err, n, "out of memory");
    return -ENOMEM;
  }
  e->arguments = p->arguments ? json_deep_copy(p->arguments) : json_array();
  if (describe(&e->e, p->name, p->title, p->description) < 0 || e->arguments == NULL ||
      (json_array_size(e->arguments) > 0 &&
       json_object_set(e->e.def, "arguments", e->arguments) < 0)) {
    entry_free(&e->e);
    snprintf(err, n, "prompt \"%s\": out of memory or invalid UTF-8", p->name);
    return -EINVAL;
  }
  e->handler = p->handler;
  e->data = p->data;
  e->complete = p->complete;
  e->complete_data = p->complete_data;
  return insert(r, &e->e, err, n);
}

int registry_check_free(const registry *r, enum reg_kind kind, const char *key,
                        const mcpd_ctx *ignore, char *err, size_t n) {
  const reg_entry *e = strmap_get(&r->maps[kind], key, strlen(key));
  if (e == NULL || e->ctx == ignore)
    return 0;
  snprintf(err, n, "%s \"%s\" is already registered by plugin \"%s\"", kind_names[kind], key,
           e->owner);
  return -EEXIST;
}

int registry_merge(registry *dst, registry *src) {
  char err[256];
  size_t i;
  int k, j, r = 0;

  for (k = 0; k < REG_KINDS; k++) {
    for (i = 0; i < src->lists[k].count; i++) {
      if (registry_check_free(dst, k, src->lists[k].items[i]->key, NULL, err, sizeof(err)) < 0)
        return -EEXIST;
    }
    if (list_reserve(&dst->lists[k], src->lists[k].count) < 0)
      return -ENOMEM;
  }
  /* Map every key, undoing them all if one fails. */
  for (k = 0; k < REG_KINDS && r == 0; k++) {
    for (i = 0; i < src->lists[k].count; i++) {
      reg_entry *e = src->lists[k].items[i];
      r = strmap_put(&dst->maps[k], e->key, strlen(e->key), e);
      if (r < 0) {
        size_t m;
        for (m = 0; m < i; m++)
          strmap_remove(&dst->maps[k], src->lists[k].items[m]->key,
                        strlen(src->lists[k].items[m]->key));
        for (j = 0; j < k; j++)
          for (m = 0; m < src->lists[j].count; m++)
            strmap_remove(&dst->maps[j], src->lists[j].items[m]->key,
                          strlen(src->lists[j].items[m]->key));
        break;
      }
    }
  }
  if (r < 0)
    return r;
  for (k = 0; k < REG_KINDS; k++) {
    reg_list *d = &dst->lists[k], *s = &src->lists[k];
    if (s->count > 0) /* s->items may be NULL, which memcpy may not get */
      memcpy(d->items + d->count, s->items, s->count * sizeof(*s->items));
    d->count += s->count;
    s->count = 0;
    strmap_free(&src->maps[k]);
  }
  return 0;
}

void registry_take_ctx(registry *r, mcpd_ctx *ctx, registry *into) {
  size_t i, o;
  int k;
  for (k = 0; k < REG_KINDS; k++) {
    reg_list *l = &r->lists[k];
    for (i = o = 0; i < l->count; i++) {
      reg_entry *e = l->items[i];
      if (e->ctx != ctx) {
        l->items[o++] = e;
        continue;
      }
      strmap_remove(&r->maps[k], e->key, strlen(e->key));
      /* Moving out never fails the caller: an entry `into` cannot take is
       * freed instead. */
      if (list_reserve(&into->lists[k], 1) < 0 ||
          strmap_put(&into->maps[k], e->key, strlen(e->key), e) < 0) {
        entry_free(e);
        continue;
      }
      into->lists[k].items[into->lists[k].count++] = e;
    }
    l->count = o;
  }
}

/* Moves the last n items of l to index at, keeping their order. */
static void move_tail_to(reg_list *l, size_t at, size_t n) {
  reg_entry **tmp;
  size_t from = l->count - n;
  if (n == 0 || at >= from)
    return;
  tmp = malloc(n * sizeof(*tmp));
  if (tmp == NULL) {
    /* No room to do it at once: one entry at a time, in place. */
    size_t i;
    for (i = 0; i < n; i++) {
      reg_entry *e = l->items[from + i];
      memmove(l->items + at + i + 1, l->items + at + i, (from - at) * sizeof(*tmp));
      l->items[at + i] = e;
    }
    return;
  }
  memcpy(tmp, l->items + from, n * sizeof(*tmp));
  memmove(l->items + at + n, l->items + at, (from - at) * sizeof(*tmp));
  memcpy(l->items + at, tmp, n * sizeof(*tmp));
  free(tmp);
}

int registry_replace_ctx(registry *r, mcpd_ctx *old, registry *src, registry *taken) {
  size_t at[REG_KINDS], added[REG_KINDS], i;
  int k, rc;

  for (k = 0; k < REG_KINDS; k++) {
    at[k] = SIZE_MAX;
    for (i = 0; old != NULL && i < r->lists[k].count && at[k] == SIZE_MAX; i++) {
      if (r->lists[k].items[i]->ctx == old)
        at[k] = i; /* nothing before it moves when old's entries leave */
    }
    added[k] = src->lists[k].count;
  }
  if (old != NULL)
    registry_take_ctx(r, old, taken);
  rc = registry_merge(r, src);
  if (rc < 0) {
    if (old != NULL) {
      for (k = 0; k < REG_KINDS; k++)
        added[k] = taken->lists[k].count;
      if (registry_merge(r, taken) == 0) /* back as it was */
        for (k = 0; k < REG_KINDS; k++)
          if (at[k] != SIZE_MAX)
            move_tail_to(&r->lists[k], at[k], added[k]);
    }
    return rc;
  }
  for (k = 0; k < REG_KINDS; k++)
    if (at[k] != SIZE_MAX)
      move_tail_to(&r->lists[k], at[k], added[k]);
  return 0;
}

void registry_remove_ctx(registry *r, mcpd_ctx *ctx) {
  registry gone;
  registry_init(&gone);
  registry_take_ctx(r, ctx, &gone);
  registry_free(&gone);
}

reg_entry *registry_get(const registry *r, enum reg_kind kind, const char *key, size_t len) {
  return strmap_get(&r->maps[kind], key, len);
}

reg_template *registry_match_template(const registry *r, const char *uri, json_t **vars) {
  const reg_list *l = &r->lists[REG_TEMPLATE];
  size_t i;
  for (i = 0; i < l->count; i++) {
    reg_template *e = (reg_template *)l->items[i];
    if (uritpl_match(e->tpl, uri, vars) == 1)
      return e;
  }
  return NULL;
}

/* Fields each revision knows (protocol digest 3.6): title arrived in
 * 2025-06-18 along with outputSchema; annotations in 2025-03-26. */
static json_t *gate(const json_t *def, int version) {
  json_t *v = json_copy((json_t *)def); /* shallow: values are shared, read-only */
  if (v == NULL)
    return NULL;
  if (version < PROTO_2025_06_18) {
    json_object_del(v, "title");
    json_object_del(v, "outputSchema");
  }
  if (version < PROTO_2025_03_26)
    json_object_del(v, "annotations");
  return v;
}

const json_t *registry_listing(reg_entry *e, int version) {
  if (version < 0 || version >= PROTO_COUNT)
    version = PROTO_LATEST;
  if (e->listed[version] == NULL)
    e->listed[version] = gate(e->def, version);
  return e->listed[version];
}

json_t *registry_snapshot(const registry *r, unsigned kinds) {
  json_t *arr = json_array();
  size_t i;
  int k;
  if (arr == NULL)
    return NULL;
  for (k = 0; k < REG_KINDS; k++) {
    if (!(kinds & (1u << k)))
      continue;
    for (i = 0; i < r->lists[k].count; i++)
      json_array_append(arr, r->lists[k].items[i]->def);
  }
  return arr;
}

void registry_free(registry *r) {
  size_t i;
  int k;
  for (k = 0; k < REG_KINDS; k++) {
    for (i = 0; i < r->lists[k].count; i++)
      entry_free(r->lists[k].items[i]);
    free(r->lists[k].items);
    strmap_free(&r->maps[k]);
  }
  memset(r, 0, sizeof(*r));
}

static const unsigned list_kinds[REG_LISTS] = {
    1u << REG_TOOL,
    (1u << REG_RESOURCE) | (1u << REG_TEMPLATE),
    1u << REG_PROMPT,
};

void registry_lists_snapshot(const registry *r, json_t *snap[REG_LISTS]) {
  int k;
  for (k = 0; k < REG_LISTS; k++)
    snap[k] = registry_snapshot(r, list_kinds[k]);
}

void registry_lists_compare(const registry *r, json_t *before[REG_LISTS], int changed[REG_LISTS]) {
  int k;
  for (k = 0; k < REG_LISTS; k++) {
    json_t *after = registry_snapshot(r, list_kinds[k]);
    /* Out of memory for a snapshot: say it changed rather than miss it. */
    changed[k] = before[k] == NULL || after == NULL || !json_equal(before[k], after);
    json_decref(before[k]);
    json_decref(after);
    before[k] = NULL;
  }
}
