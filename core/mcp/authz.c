/* authz.c -- scopes per entry. */
#include "mcp/authz.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const auth_rule *rule_for(const auth_config *cfg, enum reg_kind kind, const char *key) {
  size_t i;
  enum auth_rule_kind want = kind == REG_TOOL     ? AUTH_RULE_TOOLS
                             : kind == REG_PROMPT ? AUTH_RULE_PROMPTS
                                                  : AUTH_RULE_RESOURCES;
  for (i = 0; i < cfg->n_rules; i++) {
    if (cfg->rules[i].kind == want && fnmatch(cfg->rules[i].pattern, key, 0) == 0)
      return &cfg->rules[i];
  }
  return NULL;
}

/* need = required + " " + set, cut to fit. */
static void write_need(const auth_config *cfg, const char *set, char *need, size_t n) {
  if (need == NULL || n == 0)
    return;
  snprintf(need, n, "%s%s%s", cfg->scopes_required, cfg->scopes_required[0] && set[0] ? " " : "",
           set);
}

int authz_allows(const auth_config *cfg, const principal *p, const reg_entry *e, const char *key,
                 char *need, size_t n) {
  const auth_rule *rule;
  const char *alt;
  if (cfg == NULL || p == NULL)
    return 1;
  rule = cfg->n_rules ? rule_for(cfg, e->kind, key) : NULL;
  if (rule != NULL) {
    if (principal_has_all(p, rule->scope))
      return 1;
    write_need(cfg, rule->scope, need, n);
    return 0;
  }
  if (e->scopes_any != NULL) {
    /* Alternatives, as an OpenAPI security list: any one set will do. */
    for (alt = e->scopes_any; *alt; alt += strlen(alt) + 1) {
      if (principal_has_all(p, alt))
        return 1;
    }
    write_need(cfg, e->scopes_any, need, n);
    return 0;
  }
  if (principal_has_all(p, cfg->scopes_default))
    return 1;
  write_need(cfg, cfg->scopes_default, need, n);
  return 0;
}

int authz_check_message(const auth_config *cfg, const registry *reg, const principal *p,
                        const jsonrpc_msg *m, char *need, size_t n, char *what, size_t wn) {
  const char *method = m->method, *key;
  const char *field;
  enum reg_kind kind;
  reg_entry *e;
  json_t *vars = NULL;
  int ok;

  if (cfg == NULL || p == NULL || method == NULL)
    return 0;
  if (strcmp(method, "tools/call") == 0) {
    kind = REG_TOOL;
    field = "name";
  } else if (strcmp(method, "prompts/get") == 0) {
    kind = REG_PROMPT;
    field = "name";
  } else if (strcmp(method, "resources/read") == 0 || strcmp(method, "resources/subscribe") == 0) {
    kind = REG_RESOURCE;
    field = "uri";
  } else if (strcmp(method, "completion/complete") == 0) {
    /* The suggestions of a prompt or template are its own: the same
     * scopes as using it. */
    const json_t *ref = json_object_get(m->params, "ref");
    const char *type = json_string_value(json_object_get(ref, "type"));
    if (type == NULL)
      return 0;
    kind = strcmp(type, "ref/prompt") == 0 ? REG_PROMPT : REG_TEMPLATE;
    key = json_string_value(json_object_get(ref, kind == REG_PROMPT ? "name" : "uri"));
    e = key ? registry_get(reg, kind, key, strlen(key)) : NULL;
    if (e == NULL || authz_allows(cfg, p, e, key, need, n))
      return 0;
    snprintf(what, wn, "%s %.100s", method, key);
    return -EACCES;
  } else {
    return 0;
  }
  key = json_string_value(json_object_get(m->params, field));
  if (key == NULL)
    return 0; /* the dispatcher answers the bad request */
  e = registry_get(reg, kind, key, strlen(key));
  if (e == NULL && kind == REG_RESOURCE) {
    reg_template *t = registry_match_template(reg, key, &vars);
    json_decref(vars);
    e = t ? &t->e : NULL;
  }
  if (e == NULL)
    return 0; /* unknown: the dispatcher says so, to anyone with a valid token */
  ok = authz_allows(cfg, p, e, key, need, n);
  if (!ok) {
    snprintf(what, wn, "%s %.100s", method, key);
    return -EACCES;
  }
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds each scope of the space-separated set to arr (duplicates too). */
static void add_set(json_t *arr, const char *set) {
  while (set && *set) {
    size_t len = strcspn(set, " ");
    if (len > 0)
      json_array_append_new(arr, json_stringn(set, len));
    set += len;
    set += strspn(set, " ");
  }
}

json_t *authz_scopes_supported(const auth_config *cfg, const registry *reg) {
  json_t *all = json_array(), *out = json_array();
  const char **v;
  size_t i, k, count;
  if (all == NULL || out == NULL)
    goto fail;
  if (cfg->scopes_supported != NULL) {
    for (i = 0; i < cfg->n_supported; i++)
      json_array_append_new(out, json_string(cfg->scopes_supported[i]));
    json_decref(all);
    return out;
  }
  add_set(all, cfg->scopes_required);
  add_set(all, cfg->scopes_default);
  for (i = 0; i < cfg->n_rules; i++)
    add_set(all, cfg->rules[i].scope);
  for (k = 0; k < REG_KINDS; k++) {
    for (i = 0; i < reg->lists[k].count; i++) {
      const char *alt = reg->lists[k].items[i]->scopes_any;
      for (; alt && *alt; alt += strlen(alt) + 1)
        add_set(all, alt);
    }
  }
  count = json_array_size(all);
  if ((v = malloc((count + 1) * sizeof(*v))) == NULL)
    goto fail;
  for (i = 0; i < count; i++)
    v[i] = json_string_value(json_array_get(all, i));
  qsort(v, count, sizeof(*v), cmp_str);
  for (i = 0; i < count; i++) {
    if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
      json_array_append_new(out, json_string(v[i]));
  }
  free(v);
  json_decref(all);
  return out;
fail:
  json_decref(all);
  json_decref(out);
  return NULL;
}
