/* oa_route.c -- which operations become what: the options are checked,
 * route_map rules compiled, and each operation filtered (include/exclude
 * operations and tags) and classified by the first matching rule; and
 * whether a tool's calls may run as tasks (task_operations, x-mcp-task).
 * Pure. */
#define _POSIX_C_SOURCE 200809L

#include "openapi_internal.h"
#include "oa_chars.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_strings(const json_t *v, const char *what, char *err, size_t n) {
  size_t i;
  json_t *s;
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_array(v))
    return oa_fail(err, n, "%s must be an array of strings, not %s", what, oa_type_name(v));
  json_array_foreach(v, i, s) {
    if (!json_is_string(s))
      return oa_fail(err, n, "%s[%zu] must be a string, not %s", what, i, oa_type_name(s));
  }
  return 0;
}

static int method_index(const char *s) {
  int m;
  for (m = 0; m < N_METHODS; m++) {
    if (oa_ieq(s, OA_METHODS[m]))
      return m;
  }
  return -1;
}

static int compile_rules(ctx *c, char *err, size_t n) {
  static const char *const keys[] = {"methods", "pattern", "tags", "type", NULL};
  static const char *const types[] = {"tool", "resource", "resource_template", "exclude", NULL};
  const json_t *rm = c->opt->route_map, *r, *v;
  size_t i, j;
  if (rm == NULL || json_is_null(rm))
    return 0;
  if (!json_is_array(rm))
    return oa_fail(err, n, "route_map must be an array of rules, not %s", oa_type_name(rm));
  if (json_array_size(rm) == 0)
    return 0;
  c->rules = calloc(json_array_size(rm), sizeof(rule));
  if (c->rules == NULL)
    return -ENOMEM;
  json_array_foreach(rm, i, r) {
    rule *ru = &c->rules[i];
    const char *k, *t;
    int ti;
    if (!json_is_object(r))
      return oa_fail(err, n, "route_map[%zu] must be an object, not %s", i, oa_type_name(r));
    json_object_foreach((json_t *)r, k, v) {
      if (!oa_in_list(k, keys))
        return oa_fail(
            err, n, "route_map[%zu]: unknown key \"%.60s\" (expected methods, pattern, tags, type)",
            i, k);
    }
    t = json_string_value(json_object_get(r, "type"));
    for (ti = 0; t != NULL && types[ti] != NULL && strcmp(types[ti], t) != 0; ti++)
      ;
    if (t == NULL || types[ti] == NULL)
      return oa_fail(err, n,
                     "route_map[%zu]: \"type\" must be \"tool\", \"resource\", "
                     "\"resource_template\" or \"exclude\"",
                     i);
    ru->type = ti == 0 ? R_TOOL : ti == 1 ? R_RESOURCE : ti == 2 ? R_TEMPLATE : R_EXCLUDE;
    v = json_object_get(r, "methods");
    if (v == NULL || (json_is_string(v) && strcmp(json_string_value(v), "*") == 0)) {
      ru->methods = (1u << N_METHODS) - 1;
    } else if (json_is_array(v)) {
      json_t *m;
      json_array_foreach(v, j, m) {
        int mi = json_is_string(m) ? method_index(json_string_value(m)) : -1;
        if (mi < 0)
          return oa_fail(err, n, "route_map[%zu].methods[%zu] is not an HTTP method", i, j);
        ru->methods |= 1u << mi;
      }
    } else {
      return oa_fail(err, n, "route_map[%zu].methods must be \"*\" or an array of methods", i);
    }
    v = json_object_get(r, "tags");
    if (v != NULL) {
      char what[48];
      snprintf(what, sizeof(what), "route_map[%zu].tags", i);
      if (check_strings(v, what, err, n) != 0)
        return -EINVAL;
      ru->tags = v;
    }
    v = json_object_get(r, "pattern");
    if (v != NULL) {
      int rc;
      if (!json_is_string(v))
        return oa_fail(err, n, "route_map[%zu].pattern must be a string", i);
      rc = regcomp(&ru->re, json_string_value(v), REG_EXTENDED | REG_NOSUB);
      if (rc != 0) {
        char msg[128];
        regerror(rc, &ru->re, msg, sizeof(msg));
        return oa_fail(err, n, "route_map[%zu].pattern \"%.80s\" does not compile: %s", i,
                       json_string_value(v), msg);
      }
      ru->has_re = 1;
    }
    c->n_rules = i + 1;
  }
  return 0;
}

int oa_check_options(ctx *c, char *err, size_t n) {
  const oa_options *o = c->opt;
  const char *s;
  if (o->backend == NULL || o->backend[0] == '\0')
    return oa_fail(err, n, "the backend name is missing");
  for (s = o->backend; *s; s++) {
    if (!oa_is_unreserved((unsigned char)*s))
      return oa_fail(err, n,
                     "backend name \"%.60s\" cannot be used in a URI (letters, digits, '-', '.', "
                     "'_', '~')",
                     o->backend);
  }
  if (check_strings(o->include_operations, "include_operations", err, n) != 0 ||
      check_strings(o->exclude_operations, "exclude_operations", err, n) != 0 ||
      check_strings(o->include_tags, "include_tags", err, n) != 0 ||
      check_strings(o->exclude_tags, "exclude_tags", err, n) != 0 ||
      oa_check_task_options(c, err, n) != 0)
    return -EINVAL;
  return compile_rules(c, err, n);
}

static int op_in(ctx *c, const json_t *list, const entry *e) {
  size_t pl = strlen(c->prefix);
  return oa_str_in(list, json_string_value(json_object_get(e->op, "operationId"))) ||
         oa_str_in(list, e->name) ||
         (pl > 0 && strncmp(e->name, c->prefix, pl) == 0 && oa_str_in(list, e->name + pl));
}

/* Whether op has a tag in list (all = every tag of list). */
static int tags_match(const json_t *list, const json_t *op, int all) {
  const json_t *tags = json_object_get(op, "tags");
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    int has = json_is_array(tags) && oa_str_in(tags, json_string_value(v));
    if (has && !all)
      return 1;
    if (!has && all)
      return 0;
  }
  return all;
}

static int nonempty(const json_t *list) {
  return json_is_array(list) && json_array_size(list) > 0;
}

int oa_filtered_out(ctx *c, const entry *e) {
  const oa_options *o = c->opt;
  if (o->read_only && e->m != M_GET && e->m != M_HEAD)
    return 1;
  if (op_in(c, o->exclude_operations, e) || tags_match(o->exclude_tags, e->op, 0))
    return 1;
  if (nonempty(o->include_operations) || nonempty(o->include_tags))
    return !(op_in(c, o->include_operations, e) || tags_match(o->include_tags, e->op, 0));
  return 0;
}

int oa_route_type(ctx *c, const entry *e) {
  size_t i;
  for (i = 0; i < c->n_rules; i++) {
    const rule *r = &c->rules[i];
    if (!(r->methods & (1u << e->m)))
      continue;
    if (r->has_re && regexec(&r->re, e->path, 0, NULL, 0) != 0)
      continue;
    if (r->tags != NULL && !tags_match(r->tags, e->op, 1))
      continue;
    return r->type;
  }
  return R_NONE;
}

/* Warns about filter entries that match nothing (a typo keeps a tool). */
void oa_check_filter_names(ctx *c, const entry *es, size_t n) {
  const json_t *lists[4] = {c->opt->include_operations, c->opt->exclude_operations,
                            c->opt->include_tags, c->opt->exclude_tags};
  static const char *const names[4] = {"include_operations", "exclude_operations", "include_tags",
                                       "exclude_tags"};
  int l;
  size_t i, j;
  json_t *v;
  for (l = 0; l < 4; l++) {
    json_array_foreach(lists[l], i, v) {
      json_t *one = json_pack("[O]", v);
      if (one == NULL) {
        c->oom = 1;
        return;
      }
      for (j = 0; j < n; j++) {
        if (l < 2 ? op_in(c, one, &es[j]) : tags_match(one, es[j].op, 0))
          break;
      }
      json_decref(one);
      if (j == n)
        oa_warn(c, "%s: \"%.100s\" matches no operation", names[l], json_string_value(v));
    }
  }
}

/* ---- task support ------------------------------------------------------------------ */

int oa_task_parse(const char *s) {
  static const char *const names[] = {"forbidden", "optional", "required"};
  int t;
  for (t = 0; s != NULL && t < 3; t++) {
    if (strcmp(s, names[t]) == 0)
      return t; /* OA_TASK_FORBIDDEN, _OPTIONAL, _REQUIRED */
  }
  return -1;
}

static int check_task_operations(const json_t *v, char *err, size_t n) {
  const char *k;
  json_t *t;
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_object(v))
    return oa_fail(err, n,
                   "task_operations must be an object of operationIds or tool names and "
                   "\"forbidden\", \"optional\" or \"required\", not %s",
                   oa_type_name(v));
  json_object_foreach((json_t *)v, k, t) {
    if (oa_task_parse(json_string_value(t)) < 0)
      return oa_fail(err, n,
                     "task_operations: \"%.100s\" must be \"forbidden\", \"optional\" or "
                     "\"required\"",
                     k);
  }
  return 0;
}

int oa_task_settings(const json_t *backend, int *task_default, char *err, size_t n) {
  const json_t *v = json_object_get(backend, "tasks");
  int t = v == NULL ? OA_TASK_FORBIDDEN : oa_task_parse(json_string_value(v));
  if (t < 0)
    return oa_fail(err, n, "tasks must be \"forbidden\", \"optional\" or \"required\"");
  if (task_default != NULL)
    *task_default = t;
  return check_task_operations(json_object_get(backend, "task_operations"), err, n);
}

int oa_check_task_options(ctx *c, char *err, size_t n) {
  int t = c->opt->task_default;
  if (t != OA_TASK_FORBIDDEN && t != OA_TASK_OPTIONAL && t != OA_TASK_REQUIRED)
    return oa_fail(err, n, "tasks must be \"forbidden\", \"optional\" or \"required\"");
  return check_task_operations(c->opt->task_operations, err, n);
}

/* Whether the name k of task_operations names the entry e. */
static int task_names(ctx *c, const char *k, const entry *e) {
  size_t pl = strlen(c->prefix);
  const char *id = json_string_value(json_object_get(e->op, "operationId"));
  return strcmp(e->name, k) == 0 || (id != NULL && strcmp(id, k) == 0) ||
         (pl > 0 && strncmp(e->name, c->prefix, pl) == 0 && strcmp(e->name + pl, k) == 0);
}

int oa_check_task_names(ctx *c, const entry *es, size_t n_es, char *err, size_t n) {
  const char *k;
  json_t *v;
  size_t j;
  if (!json_is_object(c->opt->task_operations))
    return 0;
  json_object_foreach((json_t *)c->opt->task_operations, k, v) {
    for (j = 0; j < n_es && !task_names(c, k, &es[j]); j++)
      ;
    if (j == n_es)
      return oa_fail(err, n, "task_operations: \"%.100s\" matches no operation of the document", k);
  }
  return 0;
}

int oa_task_support(ctx *c, const entry *e) {
  const json_t *x = NULL;
  const char *k;
  json_t *v;
  int t;
  /* The settings first: the final name, the name without the prefix, the operationId. */
  if (json_is_object(c->opt->task_operations)) {
    json_object_foreach((json_t *)c->opt->task_operations, k, v) {
      if (task_names(c, k, e)) {
        x = v;
        break;
      }
    }
  }
  if (x != NULL && (t = oa_task_parse(json_string_value(x))) >= 0)
    return t;
  x = json_object_get(e->op, "x-mcp-task");
  if (x != NULL) {
    if ((t = oa_task_parse(json_string_value(x))) >= 0)
      return t;
    oa_warn(c, "x-mcp-task must be \"forbidden\", \"optional\" or \"required\"; ignored");
  }
  return c->opt->task_default;
}
