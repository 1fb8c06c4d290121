/* oa_schema.c -- schemas: OpenAPI 3.0/3.1 schemas to JSON Schema 2020-12.
 * A "#/components/schemas/X" reference becomes "#/$defs/X"; each component is
 * converted once per document (cached in the context, so a component's
 * warnings appear once) and a schema's "$defs" holds the transitive closure of
 * what it references, which is cycle-safe because a reference is never
 * followed during conversion, only recorded. Pure. */
#define _POSIX_C_SOURCE 200809L

#include "openapi_internal.h"
#include "oa_chars.h"

#include <stdio.h>
#include <string.h>

/* Keywords whose value is one schema, a list of schemas, or a map of them.
 * Only these are walked: "default", "enum", "examples"... are data. */
static const char *const SCHEMA_ONE[] = {"items",
                                         "additionalProperties",
                                         "not",
                                         "if",
                                         "then",
                                         "else",
                                         "contains",
                                         "propertyNames",
                                         "additionalItems",
                                         "unevaluatedProperties",
                                         "unevaluatedItems",
                                         "contentSchema",
                                         NULL};
static const char *const SCHEMA_LIST[] = {"allOf", "anyOf", "oneOf", "prefixItems", NULL};
static const char *const SCHEMA_MAP[] = {"properties", "patternProperties", "dependentSchemas",
                                         "$defs",      "definitions",       NULL};
/* OpenAPI keywords that are not JSON Schema (nullable and example are converted). */
static const char *const OPENAPI_ONLY[] = {"discriminator", "xml",     "externalDocs",
                                           "nullable",      "example", NULL};
/* Keywords that describe but do not constrain. */
static const char *const ANNOTATIONS[] = {"title",     "description", "default",
                                          "examples",  "deprecated",  "readOnly",
                                          "writeOnly", "$comment",    NULL};

static json_t *conv_ref(ctx *c, const char *ref, int depth) {
  sbuf name = {0};
  const json_t *target;
  json_t *r;
  size_t i;
  if (ref[0] != '#') {
    oa_warn(c,
            "reference \"%.100s\" is not local (external references are not supported); "
            "taken as {}",
            ref);
    return oa_chk(c, json_object());
  }
  if (oa_ref_name(ref, "#/components/schemas/", &name)) {
    if (json_object_get(c->schemas, name.p) == NULL) {
      oa_warn(c, "reference \"%.100s\" not found; taken as {}", ref);
      r = oa_chk(c, json_object());
    } else {
      r = oa_defs_ref(c, name.p);
    }
    sb_free(&name);
    return r;
  }
  c->oom |= name.oom;
  sb_free(&name);
  /* Another local pointer (into a component, a path...): inlined. */
  target = oa_resolve_pointer(c, ref);
  if (target == NULL) {
    oa_warn(c, "reference \"%.100s\" not found; taken as {}", ref);
    return oa_chk(c, json_object());
  }
  for (i = 0; i < c->n_inline; i++) {
    if (strcmp(c->inline_stack[i], ref) == 0)
      break;
  }
  if (i < c->n_inline || c->n_inline == MAX_INLINE) {
    oa_warn(c, "reference \"%.100s\" is recursive or nested too deeply; taken as {}", ref);
    return oa_chk(c, json_object());
  }
  c->inline_stack[c->n_inline++] = ref;
  r = oa_conv_schema(c, target, depth + 1);
  c->n_inline--;
  return r;
}

static int array_has_null(const json_t *a) {
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v) {
    if (json_is_null(v))
      return 1;
  }
  return 0;
}

static int is_null_schema(const json_t *s) {
  const json_t *t = json_object_get(s, "type");
  return json_is_object(s) && json_object_size(s) == 1 && json_is_string(t) &&
         strcmp(json_string_value(t), "null") == 0;
}

/* OpenAPI 3.0 "nullable: true" on the converted schema s (stolen); returns
 * the schema that also accepts null. A "type" is never added next to an
 * "anyOf": a composite schema is wrapped instead. */
json_t *oa_apply_nullable(ctx *c, json_t *s) {
  json_t *type = json_object_get(s, "type"), *en = json_object_get(s, "enum"), *any, *outer, *v;
  const char *k;
  void *tmp;
  size_t i;
  int composite = oa_has_key(s, "$ref") || oa_has_key(s, "allOf") || oa_has_key(s, "anyOf") ||
                  oa_has_key(s, "oneOf") || oa_has_key(s, "not") || oa_has_key(s, "if") ||
                  oa_has_key(s, "const");
  if (!composite) {
    if (json_is_string(type) && strcmp(json_string_value(type), "null") != 0) {
      oa_oset(c, s, "type", json_pack("[ss]", json_string_value(type), "null"));
    } else if (json_is_array(type)) {
      json_array_foreach(type, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "null") == 0)
          break;
      }
      if (i == json_array_size(type))
        oa_apush(c, type, json_string("null"));
    }
    if (json_is_array(en) && !array_has_null(en))
      oa_apush(c, en, json_null());
    return s;
  }
  /* {"anyOf":[...]} alone: one more branch. */
  any = json_object_get(s, "anyOf");
  if (json_is_array(any) && !oa_has_key(s, "type")) {
    int only_any = 1;
    json_object_foreach(s, k, v) {
      if (strcmp(k, "anyOf") != 0 && !oa_in_list(k, ANNOTATIONS))
        only_any = 0;
    }
    if (only_any) {
      json_array_foreach(any, i, v) {
        if (is_null_schema(v))
          return s;
      }
      oa_apush(c, any, json_pack("{s:s}", "type", "null"));
      return s;
    }
  }
  /* Wrap, keeping the annotations outside. */
  outer = oa_chk(c, json_object());
  if (outer == NULL) {
    json_decref(s);
    return NULL;
  }
  json_object_foreach_safe(s, tmp, k, v) {
    if (oa_in_list(k, ANNOTATIONS)) {
      oa_oset(c, outer, k, json_incref(v));
      json_object_del(s, k);
    }
  }
  oa_oset(c, outer, "anyOf", json_pack("[o{s:s}]", s, "type", "null"));
  return outer;
}

static json_t *conv_list(ctx *c, const json_t *a, int depth) {
  json_t *out = oa_chk(c, json_array()), *v;
  size_t i;
  json_array_foreach(a, i, v) oa_apush(c, out, oa_conv_schema(c, v, depth + 1));
  return out;
}

/* A converted copy of the schema s (a new reference; NULL only when out of
 * memory). Anything that is not a schema becomes {} with a warning. */
json_t *oa_conv_schema(ctx *c, const json_t *s, int depth) {
  json_t *out, *v, *inlined = NULL;
  const json_t *min_v = json_object_get(s, "minimum"), *max_v = json_object_get(s, "maximum");
  const char *k;
  int drop_min = 0, drop_max = 0;
  if (json_is_boolean(s))
    return oa_chk(c, json_boolean(json_is_true(s)));
  if (!json_is_object(s)) {
    oa_warn(c, "a schema is %s, not an object; taken as {}", oa_type_name(s));
    return oa_chk(c, json_object());
  }
  if (depth > MAX_SCHEMA_DEPTH) {
    oa_warn(c, "a schema is nested more than %d levels deep; the deeper part is taken as {}",
            MAX_SCHEMA_DEPTH);
    return oa_chk(c, json_object());
  }
  out = oa_chk(c, json_object());
  if (out == NULL)
    return NULL;
  json_object_foreach((json_t *)s, k, v) {
    if (strcmp(k, "$ref") == 0) {
      json_t *r;
      if (!json_is_string(v)) {
        oa_warn(c, "a $ref is %s, not a string; ignored", oa_type_name(v));
        continue;
      }
      r = conv_ref(c, json_string_value(v), depth);
      if (r != NULL && json_is_object(r) && oa_has_key(r, "$ref") && json_object_size(r) == 1) {
        oa_oset(c, out, "$ref", json_incref(json_object_get(r, "$ref")));
        json_decref(r);
      } else if (r != NULL && json_is_object(r) && json_object_size(r) == 0) {
        json_decref(r);
      } else {
        inlined = r; /* merged below */
      }
    } else if (strncmp(k, "x-", 2) == 0 || oa_in_list(k, OPENAPI_ONLY)) {
      if (strcmp(k, "example") == 0 && !oa_has_key(s, "examples"))
        oa_oset(c, out, "examples", json_pack("[O]", v));
    } else if (strcmp(k, "exclusiveMinimum") == 0 || strcmp(k, "exclusiveMaximum") == 0) {
      /* 3.0: a boolean that modifies minimum/maximum; JSON Schema: a number. */
      int is_min = strcmp(k, "exclusiveMinimum") == 0;
      const json_t *bound = is_min ? min_v : max_v;
      if (json_is_number(v)) {
        oa_oset(c, out, k, json_deep_copy(v));
      } else if (json_is_true(v) && json_is_number(bound)) {
        oa_oset(c, out, k, json_deep_copy(bound));
        if (is_min)
          drop_min = 1;
        else
          drop_max = 1;
      }
    } else if (oa_in_list(k, SCHEMA_ONE)) {
      if (json_is_array(v) && strcmp(k, "items") == 0)
        oa_oset(c, out, "prefixItems", conv_list(c, v, depth));
      else
        oa_oset(c, out, k, oa_conv_schema(c, v, depth + 1));
    } else if (oa_in_list(k, SCHEMA_LIST)) {
      if (json_is_array(v))
        oa_oset(c, out, k, conv_list(c, v, depth));
      else
        oa_warn(c, "\"%s\" is %s, not an array of schemas; dropped", k, oa_type_name(v));
    } else if (oa_in_list(k, SCHEMA_MAP)) {
      if (json_is_object(v)) {
        json_t *m = oa_chk(c, json_object()), *sub;
        const char *name;
        json_object_foreach(v, name, sub) oa_oset(c, m, name, oa_conv_schema(c, sub, depth + 1));
        oa_oset(c, out, k, m);
      } else {
        oa_warn(c, "\"%s\" is %s, not an object of schemas; dropped", k, oa_type_name(v));
      }
    } else {
      oa_oset(c, out, k, json_deep_copy(v));
    }
  }
  if (drop_min)
    json_object_del(out, "minimum");
  if (drop_max)
    json_object_del(out, "maximum");
  if (inlined != NULL) {
    /* An inlined reference next to other keywords: both apply. */
    if (json_object_size(out) == 0) {
      json_decref(out);
      out = inlined;
    } else {
      json_t *all = json_object_get(out, "allOf");
      if (json_is_array(all))
        oa_apush(c, all, inlined);
      else
        oa_oset(c, out, "allOf", json_pack("[o]", inlined));
    }
  }
  if (json_is_true(json_object_get(s, "nullable")) && out != NULL)
    out = oa_apply_nullable(c, out);
  return out;
}

/* Adds to set the names of the components that the converted schema s
 * references directly ("#/$defs/X"). */
static void collect_refs(ctx *c, const json_t *s, json_t *set) {
  const char *k;
  json_t *v, *sub;
  size_t i;
  if (!json_is_object(s))
    return;
  v = json_object_get(s, "$ref");
  if (json_is_string(v)) {
    sbuf name = {0};
    if (oa_ref_name(json_string_value(v), "#/$defs/", &name))
      oa_oset(c, set, name.p, json_true());
    c->oom |= name.oom;
    sb_free(&name);
  }
  json_object_foreach((json_t *)s, k, v) {
    if (oa_in_list(k, SCHEMA_ONE)) {
      collect_refs(c, v, set);
    } else if (oa_in_list(k, SCHEMA_LIST) && json_is_array(v)) {
      json_array_foreach(v, i, sub) collect_refs(c, sub, set);
    } else if (oa_in_list(k, SCHEMA_MAP) && json_is_object(v)) {
      const char *name;
      json_object_foreach(v, name, sub) collect_refs(c, sub, set);
    }
  }
}

/* The converted component schema name (borrowed from the cache), converted
 * on first use; NULL when the document has no such schema. */
static const json_t *component(ctx *c, const char *name) {
  const json_t *src;
  json_t *conv, *deps;
  char saved[sizeof(c->where)];
  conv = json_object_get(c->comp, name);
  if (conv != NULL)
    return conv;
  src = json_object_get(c->schemas, name);
  if (src == NULL)
    return NULL;
  memcpy(saved, c->where, sizeof(saved));
  snprintf(c->where, sizeof(c->where), "schema %.100s", name);
  conv = oa_conv_schema(c, src, 0);
  memcpy(c->where, saved, sizeof(saved));
  deps = oa_chk(c, json_object());
  collect_refs(c, conv, deps);
  oa_oset(c, c->comp_deps, name, deps);
  oa_oset(c, c->comp, name, conv);
  return conv;
}

/* The "$defs" for a schema: every component it references, transitively.
 * A new object, or NULL when there are none. Its members are the cached
 * component schemas themselves (one more reference each), not copies: a
 * large API would otherwise hold a copy of most of its schemas per
 * operation. */
static json_t *closure(ctx *c, const json_t *schema) {
  json_t *seen = oa_chk(c, json_object()), *queue = oa_chk(c, json_array()), *defs = NULL, *v;
  const char *k;
  size_t i;
  collect_refs(c, schema, seen);
  json_object_foreach(seen, k, v) oa_apush(c, queue, json_string(k));
  for (i = 0; !c->oom && i < json_array_size(queue); i++) {
    const char *name = json_string_value(json_array_get(queue, i));
    const json_t *deps;
    if (component(c, name) == NULL)
      continue;
    deps = json_object_get(c->comp_deps, name);
    json_object_foreach((json_t *)deps, k, v) {
      if (!oa_has_key(seen, k)) {
        oa_oset(c, seen, k, json_true());
        oa_apush(c, queue, json_string(k));
      }
    }
  }
  if (json_array_size(queue) > 0 && !c->oom) {
    defs = oa_chk(c, json_object());
    json_array_foreach(queue, i, v) {
      const json_t *comp = component(c, json_string_value(v));
      /* Shared by every operation that uses it: converted once, read-only. */
      if (comp != NULL)
        oa_oset(c, defs, json_string_value(v), json_incref((json_t *)comp));
    }
  }
  json_decref(seen);
  json_decref(queue);
  return defs;
}

/* Puts the schema's "$defs" (the components it uses) into it. */
void oa_add_defs(ctx *c, json_t *schema) {
  json_t *defs = closure(c, schema), *old;
  if (defs == NULL)
    return;
  old = json_object_get(schema, "$defs");
  if (json_is_object(old)) {
    json_object_update_missing(defs, old);
  }
  oa_oset(c, schema, "$defs", defs);
}

/* When the converted schema s (stolen) is a reference to a component with
 * nothing but annotations beside it, returns a copy of the component's top
 * level (the annotations beside the reference win), following aliases; else
 * s itself. Used for bodies and responses, whose top level is spread into
 * arguments or must be "type":"object". */
json_t *oa_deref_top(ctx *c, json_t *s) {
  int hops;
  for (hops = 0; hops < MAX_REF_HOPS && json_is_object(s); hops++) {
    json_t *r = json_object_get(s, "$ref"), *copy, *v;
    const json_t *comp;
    const char *k;
    sbuf name = {0};
    int plain = 1;
    if (!json_is_string(r))
      break;
    json_object_foreach(s, k, v) {
      if (strcmp(k, "$ref") != 0 && !oa_in_list(k, ANNOTATIONS))
        plain = 0;
    }
    if (!plain || !oa_ref_name(json_string_value(r), "#/$defs/", &name)) {
      sb_free(&name);
      break;
    }
    comp = component(c, name.p);
    sb_free(&name);
    if (comp == NULL)
      break;
    copy = oa_chk(c, json_deep_copy(comp));
    if (copy == NULL || !json_is_object(copy)) {
      json_decref(copy);
      break;
    }
    json_object_foreach(s, k, v) {
      if (strcmp(k, "$ref") != 0)
        oa_oset(c, copy, k, json_incref(v));
    }
    json_decref(s);
    s = copy;
  }
  return s;
}

/* Whether a converted top-level schema describes a JSON object. */
int oa_is_object_schema(const json_t *s) {
  const json_t *t = json_object_get(s, "type");
  if (!json_is_object(s))
    return 0;
  if (json_is_string(t))
    return strcmp(json_string_value(t), "object") == 0;
  return t == NULL && json_is_object(json_object_get(s, "properties")) && !oa_has_key(s, "anyOf") &&
         !oa_has_key(s, "oneOf") && !oa_has_key(s, "not") && !oa_has_key(s, "allOf") &&
         !oa_has_key(s, "$ref");
}

/* Merges the properties and required names of the object schema s (and of
 * its allOf members) into props and req. 0 when s is not an object schema
 * that can be spread into arguments without losing anything. */
int oa_merge_object(ctx *c, const json_t *s, json_t *props, json_t *req, int depth) {
  static const char *const allowed[] = {"type",
                                        "properties",
                                        "required",
                                        "allOf",
                                        "title",
                                        "description",
                                        "examples",
                                        "default",
                                        "$comment",
                                        "deprecated",
                                        "additionalProperties",
                                        NULL};
  const json_t *t = json_object_get(s, "type"), *p = json_object_get(s, "properties"),
               *all = json_object_get(s, "allOf"), *ap = json_object_get(s, "additionalProperties");
  const char *k;
  json_t *v;
  size_t i;
  if (!json_is_object(s) || depth > 8)
    return 0;
  json_object_foreach((json_t *)s, k, v) {
    if (!oa_in_list(k, allowed))
      return 0;
  }
  if (t != NULL && !(json_is_string(t) && strcmp(json_string_value(t), "object") == 0))
    return 0;
  if (ap != NULL && !json_is_false(ap))
    return 0; /* extra properties would have no argument */
  if (t == NULL && p == NULL && all == NULL)
    return 0;
  if (p != NULL && !json_is_object(p))
    return 0;
  if (all != NULL && !json_is_array(all))
    return 0;
  json_array_foreach(all, i, v) {
    json_t *m = oa_deref_top(c, json_incref(v));
    int ok = oa_merge_object(c, m, props, req, depth + 1);
    json_decref(m);
    if (!ok)
      return 0;
  }
  json_object_foreach((json_t *)p, k, v) {
    json_t *old = json_object_get(props, k);
    if (old != NULL)
      oa_oset(c, props, k, json_pack("{s:[OO]}", "allOf", old, v));
    else
      oa_oset(c, props, k, json_incref(v));
  }
  json_array_foreach(json_object_get(s, "required"), i, v) {
    size_t j;
    json_t *w;
    if (!json_is_string(v))
      continue;
    json_array_foreach(req, j, w) {
      if (json_equal(v, w))
        break;
    }
    if (j == json_array_size(req))
      oa_apush(c, req, json_incref(v));
  }
  return 1;
}
