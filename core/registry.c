/* registry.c -- the tools, resources and resource templates of plugins. */
#include "registry.h"

#include "schema.h"
#include "uri_template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *entry_key(const reg_list *l, enum reg_kind k, size_t i);
static void free_tool(reg_tool *e);
static void free_resource(reg_resource *e);
static void free_template(reg_template *e);

void registry_init(registry *r) {
  memset(r, 0, sizeof(*r));
}

static int list_push(reg_list *l, void *item) {
  if (l->count == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    void **items = realloc(l->items, cap * sizeof(*items));
    if (items == NULL)
      return -ENOMEM;
    l->items = items;
    l->cap = cap;
  }
  l->items[l->count++] = item;
  return 0;
}

static int valid_tool_name(const char *s) {
  size_t i;
  for (i = 0; s[i] != '\0'; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return 0;
  }
  return i >= 1 && i <= 128;
}

/* Sets key to a copy of s when s is non-empty. */
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

static void clear_listed(json_t **listed) {
  int i;
  for (i = 0; i < PROTO_COUNT; i++)
    json_decref(listed[i]);
}

int registry_add_tool(registry *r, mcpd_ctx *ctx, const char *owner, const mcpd_tool *t, char *err,
                      size_t n) {
  reg_tool *e, *other;
  json_t *def = NULL;
  char why[256];

  if (t->name == NULL || !valid_tool_name(t->name)) {
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
  if (t->output_schema != NULL &&
      (!json_is_object(t->output_schema) ||
       !json_is_string(json_object_get(t->output_schema, "type")) ||
       strcmp(json_string_value(json_object_get(t->output_schema, "type")), "object") != 0)) {
    snprintf(err, n, "tool \"%s\": outputSchema must be an object with \"type\": \"object\"",
             t->name);
    return -EINVAL;
  }
  if (t->annotations != NULL && !json_is_object(t->annotations)) {
    snprintf(err, n, "tool \"%s\": annotations must be an object", t->name);
    return -EINVAL;
  }
  other = strmap_get(&r->tool_by_name, t->name, strlen(t->name));
  if (other != NULL) {
    snprintf(err, n, "tool \"%s\" is already registered by plugin \"%s\"", t->name, other->owner);
    return -EEXIST;
  }
  e = calloc(1, sizeof(*e));
  def = json_object();
  if (e == NULL || def == NULL)
    goto nomem;
  e->def = def;
  if (set_str(def, "name", t->name) < 0 || set_str(def, "title", t->title) < 0 ||
      set_str(def, "description", t->description) < 0)
    goto bad_utf8;
  if (t->input_schema != NULL) {
    if (set_json(def, "inputSchema", t->input_schema) < 0)
      goto nomem;
  } else if (json_object_set_new(def, "inputSchema", json_pack("{s:s}", "type", "object")) < 0) {
    goto nomem;
  }
  if (set_json(def, "outputSchema", t->output_schema) < 0 ||
      set_json(def, "annotations", t->annotations) < 0)
    goto nomem;
  e->input_schema = json_incref(json_object_get(def, "inputSchema"));
  e->name = strdup(t->name);
  if (e->name == NULL)
    goto nomem;
  e->handler = t->handler;
  e->data = t->tool_data;
  e->ctx = ctx;
  e->owner = owner;
  if (strmap_put(&r->tool_by_name, e->name, strlen(e->name), e) < 0)
    goto nomem;
  if (list_push(&r->tools, e) < 0) {
    strmap_remove(&r->tool_by_name, e->name, strlen(e->name));
    goto nomem;
  }
  return 0;

bad_utf8:
  snprintf(err, n, "tool \"%s\": title and description must be valid UTF-8", t->name);
  if (e != NULL) {
    json_decref(e->def);
    free(e);
  }
  return -EINVAL;
nomem:
  if (e != NULL) {
    json_decref(e->input_schema);
    json_decref(e->def);
    free(e->name);
    free(e);
  } else {
    json_decref(def);
  }
  snprintf(err, n, "out of memory");
  return -ENOMEM;
}

/* The common part of resources and templates. */
static json_t *resource_def(const char *key, const char *value, const char *name, const char *title,
                            const char *description, const char *mime, const json_t *annotations) {
  json_t *def = json_object();
  if (def == NULL)
    return NULL;
  if (set_str(def, key, value) < 0 || set_str(def, "name", name) < 0 ||
      set_str(def, "title", title) < 0 || set_str(def, "description", description) < 0 ||
      set_str(def, "mimeType", mime) < 0 || set_json(def, "annotations", annotations) < 0) {
    json_decref(def);
    return NULL;
  }
  return def;
}

int registry_add_resource(registry *r, mcpd_ctx *ctx, const char *owner, const mcpd_resource *res,
                          char *err, size_t n) {
  reg_resource *e, *other;

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
  other = strmap_get(&r->resource_by_uri, res->uri, strlen(res->uri));
  if (other != NULL) {
    snprintf(err, n, "resource \"%s\" is already registered by plugin \"%s\"", res->uri,
             other->owner);
    return -EEXIST;
  }
  e = calloc(1, sizeof(*e));
  if (e == NULL)
    goto nomem;
  e->def = resource_def("uri", res->uri, res->name, res->title, res->description, res->mime_type,
                        res->annotations);
  if (e->def == NULL) {
    free(e);
    snprintf(err, n, "resource \"%s\": strings must be valid UTF-8", res->uri);
    return -EINVAL;
  }
  e->uri = strdup(res->uri);
  e->handler = res->handler;
  e->data = res->data;
  e->ctx = ctx;
  e->owner = owner;
  if (e->uri == NULL || strmap_put(&r->resource_by_uri, e->uri, strlen(e->uri), e) < 0)
    goto nomem_e;
  if (list_push(&r->resources, e) < 0) {
    strmap_remove(&r->resource_by_uri, e->uri, strlen(e->uri));
    goto nomem_e;
  }
  return 0;
nomem_e:
  json_decref(e->def);
  free(e->uri);
  free(e);
nomem:
  snprintf(err, n, "out of memory");
  return -ENOMEM;
}

int registry_add_template(registry *r, mcpd_ctx *ctx, const char *owner,
                          const mcpd_resource_template *t, char *err, size_t n) {
  reg_template *e, *other;
  struct uritpl *tpl = NULL;
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
  other = strmap_get(&r->template_by_text, t->uri_template, strlen(t->uri_template));
  if (other != NULL) {
    snprintf(err, n, "resource template \"%s\" is already registered by plugin \"%s\"",
             t->uri_template, other->owner);
    return -EEXIST;
  }
  rc = uritpl_parse(t->uri_template, &tpl, why, sizeof(why));
  if (rc < 0) {
    snprintf(err, n, "resource template \"%s\": %s", t->uri_template,
             rc == -ENOMEM ? "out of memory" : why);
    return rc;
  }
  e = calloc(1, sizeof(*e));
  if (e == NULL) {
    uritpl_free(tpl);
    snprintf(err, n, "out of memory");
    return -ENOMEM;
  }
  e->tpl = tpl;
  e->def = resource_def("uriTemplate", t->uri_template, t->name, t->title, t->description,
                        t->mime_type, t->annotations);
  e->uri_template = strdup(t->uri_template);
  e->handler = t->handler;
  e->data = t->data;
  e->ctx = ctx;
  e->owner = owner;
  if (e->def == NULL || e->uri_template == NULL ||
      strmap_put(&r->template_by_text, e->uri_template, strlen(e->uri_template), e) < 0)
    goto fail;
  if (list_push(&r->templates, e) < 0) {
    strmap_remove(&r->template_by_text, e->uri_template, strlen(e->uri_template));
    goto fail;
  }
  return 0;
fail:
  json_decref(e->def);
  free(e->uri_template);
  uritpl_free(e->tpl);
  free(e);
  snprintf(err, n, "out of memory or invalid UTF-8");
  return -ENOMEM;
}

static void free_tool(reg_tool *e) {
  clear_listed(e->listed);
  json_decref(e->input_schema);
  json_decref(e->def);
  free(e->name);
  free(e);
}

static void free_resource(reg_resource *e) {
  clear_listed(e->listed);
  json_decref(e->def);
  free(e->uri);
  free(e);
}

static void free_template(reg_template *e) {
  clear_listed(e->listed);
  json_decref(e->def);
  free(e->uri_template);
  uritpl_free(e->tpl);
  free(e);
}

/* Moves the entries of ctx in list l (keyed in map) to list to. */
static void take(reg_list *l, strmap *map, enum reg_kind k, mcpd_ctx *ctx, reg_list *to,
                 strmap *to_map) {
  size_t i, o;
  for (i = o = 0; i < l->count; i++) {
    void *e = l->items[i];
    mcpd_ctx *owner = k == REG_TOOL       ? ((reg_tool *)e)->ctx
                      : k == REG_RESOURCE ? ((reg_resource *)e)->ctx
                                          : ((reg_template *)e)->ctx;
    const char *key = entry_key(l, k, i);
    if (owner != ctx) {
      l->items[o++] = e;
      continue;
    }
    strmap_remove(map, key, strlen(key));
    /* Moving out never fails the caller: an entry that cannot be kept in
     * `to` is freed instead. */
    if (list_push(to, e) < 0 || strmap_put(to_map, key, strlen(key), e) < 0) {
      if (to->count > 0 && to->items[to->count - 1] == e)
        to->count--;
      if (k == REG_TOOL)
        free_tool(e);
      else if (k == REG_RESOURCE)
        free_resource(e);
      else
        free_template(e);
    }
  }
  l->count = o;
}

void registry_take_ctx(registry *r, mcpd_ctx *ctx, registry *into) {
  take(&r->tools, &r->tool_by_name, REG_TOOL, ctx, &into->tools, &into->tool_by_name);
  take(&r->resources, &r->resource_by_uri, REG_RESOURCE, ctx, &into->resources,
       &into->resource_by_uri);
  take(&r->templates, &r->template_by_text, REG_TEMPLATE, ctx, &into->templates,
       &into->template_by_text);
}

void registry_remove_ctx(registry *r, mcpd_ctx *ctx) {
  registry gone;
  registry_init(&gone);
  registry_take_ctx(r, ctx, &gone);
  registry_free(&gone);
}

reg_tool *registry_tool(const registry *r, const char *name, size_t len) {
  return strmap_get(&r->tool_by_name, name, len);
}

reg_resource *registry_resource(const registry *r, const char *uri, size_t len) {
  return strmap_get(&r->resource_by_uri, uri, len);
}

reg_template *registry_match_template(const registry *r, const char *uri, json_t **vars) {
  size_t i;
  for (i = 0; i < r->templates.count; i++) {
    reg_template *e = r->templates.items[i];
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

static const json_t *listed(json_t **cache, const json_t *def, int version) {
  if (version < 0 || version >= PROTO_COUNT)
    version = PROTO_LATEST;
  if (cache[version] == NULL)
    cache[version] = gate(def, version);
  return cache[version];
}

const json_t *registry_tool_json(reg_tool *t, int version) {
  return listed(t->listed, t->def, version);
}

const json_t *registry_resource_json(reg_resource *res, int version) {
  return listed(res->listed, res->def, version);
}

const json_t *registry_template_json(reg_template *t, int version) {
  return listed(t->listed, t->def, version);
}

int registry_check_free(const registry *r, enum reg_kind kind, const char *key,
                        const mcpd_ctx *ignore, char *err, size_t n) {
  size_t len = strlen(key);
  const mcpd_ctx *ctx = NULL;
  const char *owner = NULL, *what = "";

  switch (kind) {
  case REG_TOOL: {
    const reg_tool *e = strmap_get(&r->tool_by_name, key, len);
    if (e != NULL)
      ctx = e->ctx, owner = e->owner, what = "tool";
    break;
  }
  case REG_RESOURCE: {
    const reg_resource *e = strmap_get(&r->resource_by_uri, key, len);
    if (e != NULL)
      ctx = e->ctx, owner = e->owner, what = "resource";
    break;
  }
  case REG_TEMPLATE: {
    const reg_template *e = strmap_get(&r->template_by_text, key, len);
    if (e != NULL)
      ctx = e->ctx, owner = e->owner, what = "resource template";
    break;
  }
  }
  if (ctx == NULL || ctx == ignore)
    return 0;
  snprintf(err, n, "%s \"%s\" is already registered by plugin \"%s\"", what, key, owner);
  return -EEXIST;
}

/* Grows a list to hold extra more items. */
static int list_reserve(reg_list *l, size_t extra) {
  size_t cap = l->cap ? l->cap : 16;
  void **items;
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

/* The key of entry i of a list of kind k. */
static const char *entry_key(const reg_list *l, enum reg_kind k, size_t i) {
  switch (k) {
  case REG_TOOL:
    return ((const reg_tool *)l->items[i])->name;
  case REG_RESOURCE:
    return ((const reg_resource *)l->items[i])->uri;
  default:
    return ((const reg_template *)l->items[i])->uri_template;
  }
}

/* Puts the keys of src's list into map, undoing them all on failure. */
static int map_all(strmap *map, const reg_list *src, enum reg_kind k) {
  size_t i, j;
  for (i = 0; i < src->count; i++) {
    const char *key = entry_key(src, k, i);
    int r = strmap_put(map, key, strlen(key), src->items[i]);
    if (r < 0) {
      for (j = 0; j < i; j++) {
        key = entry_key(src, k, j);
        strmap_remove(map, key, strlen(key));
      }
      return r;
    }
  }
  return 0;
}

static void unmap_all(strmap *map, const reg_list *src, enum reg_kind k) {
  size_t i;
  for (i = 0; i < src->count; i++) {
    const char *key = entry_key(src, k, i);
    strmap_remove(map, key, strlen(key));
  }
}

static void append_all(reg_list *dst, reg_list *src) {
  if (src->count == 0)
    return; /* src->items may be NULL, which memcpy may not get */
  memcpy(dst->items + dst->count, src->items, src->count * sizeof(*src->items));
  dst->count += src->count;
  src->count = 0;
}

int registry_merge(registry *dst, registry *src) {
  char err[256];
  size_t i;
  int r;

  for (i = 0; i < src->tools.count; i++)
    if (registry_check_free(dst, REG_TOOL, entry_key(&src->tools, REG_TOOL, i), NULL, err,
                            sizeof(err)) < 0)
      return -EEXIST;
  for (i = 0; i < src->resources.count; i++)
    if (registry_check_free(dst, REG_RESOURCE, entry_key(&src->resources, REG_RESOURCE, i), NULL,
                            err, sizeof(err)) < 0)
      return -EEXIST;
  for (i = 0; i < src->templates.count; i++)
    if (registry_check_free(dst, REG_TEMPLATE, entry_key(&src->templates, REG_TEMPLATE, i), NULL,
                            err, sizeof(err)) < 0)
      return -EEXIST;
  if (list_reserve(&dst->tools, src->tools.count) < 0 ||
      list_reserve(&dst->resources, src->resources.count) < 0 ||
      list_reserve(&dst->templates, src->templates.count) < 0)
    return -ENOMEM;
  r = map_all(&dst->tool_by_name, &src->tools, REG_TOOL);
  if (r == 0) {
    r = map_all(&dst->resource_by_uri, &src->resources, REG_RESOURCE);
    if (r == 0) {
      r = map_all(&dst->template_by_text, &src->templates, REG_TEMPLATE);
      if (r < 0)
        unmap_all(&dst->resource_by_uri, &src->resources, REG_RESOURCE);
    }
    if (r < 0)
      unmap_all(&dst->tool_by_name, &src->tools, REG_TOOL);
  }
  if (r < 0)
    return r;
  append_all(&dst->tools, &src->tools);
  append_all(&dst->resources, &src->resources);
  append_all(&dst->templates, &src->templates);
  strmap_free(&src->tool_by_name);
  strmap_free(&src->resource_by_uri);
  strmap_free(&src->template_by_text);
  return 0;
}

json_t *registry_snapshot(const registry *r, enum reg_kind kind) {
  json_t *arr = json_array();
  size_t i;
  if (arr == NULL)
    return NULL;
  if (kind == REG_TOOL) {
    for (i = 0; i < r->tools.count; i++)
      json_array_append(arr, ((reg_tool *)r->tools.items[i])->def);
  } else {
    for (i = 0; i < r->resources.count; i++)
      json_array_append(arr, ((reg_resource *)r->resources.items[i])->def);
    for (i = 0; i < r->templates.count; i++)
      json_array_append(arr, ((reg_template *)r->templates.items[i])->def);
  }
  return arr;
}

void registry_free(registry *r) {
  size_t i;
  for (i = 0; i < r->tools.count; i++)
    free_tool(r->tools.items[i]);
  for (i = 0; i < r->resources.count; i++)
    free_resource(r->resources.items[i]);
  for (i = 0; i < r->templates.count; i++)
    free_template(r->templates.items[i]);
  free(r->tools.items);
  free(r->resources.items);
  free(r->templates.items);
  strmap_free(&r->tool_by_name);
  strmap_free(&r->resource_by_uri);
  strmap_free(&r->template_by_text);
  memset(r, 0, sizeof(*r));
}
