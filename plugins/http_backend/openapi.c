/* openapi.c -- the driver of the OpenAPI 3.0/3.1 to MCP conversion: the
 * public entry points of openapi.h. The pieces it drives are listed in
 * openapi_internal.h.
 *
 * Outline: the document and the options are checked first (-EINVAL with a
 * message). Every operation that is not x-mcp-hidden is then named (so names
 * are stable whatever the filters say), filtered, classified by route_map,
 * and converted (schemas to JSON Schema 2020-12 on the way, oa_schema.c).
 *
 * Memory: allocation failures set ctx.oom and the functions carry on with
 * NULLs (jansson's setters accept NULL values and fail); openapi_convert()
 * checks the flag once at the end and returns -ENOMEM. */
#define _POSIX_C_SOURCE 200809L

#include "openapi_internal.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 0: an OpenAPI 3 document; 1: a Swagger 2.0 one (converted first); or -EINVAL. */
static int check_doc(const json_t *doc, char *err, size_t n) {
  const json_t *v;
  const char *ver;
  if (!json_is_object(doc))
    return oa_fail(err, n, "the OpenAPI document is %s, not a JSON object", oa_type_name(doc));
  v = json_object_get(doc, "openapi");
  if (v == NULL) {
    v = json_object_get(doc, "swagger");
    if (v == NULL)
      return oa_fail(err, n, "no \"openapi\" field: not an OpenAPI 3 document");
    /* 2.0 unquoted in YAML is a number. */
    if (!(json_is_string(v) && strcmp(json_string_value(v), "2.0") == 0) &&
        !(json_is_number(v) && json_number_value(v) == 2.0))
      return oa_fail(err, n,
                     "Swagger version %.20s is not supported (2.0 is, and OpenAPI 3.0 and 3.1)",
                     json_is_string(v) ? json_string_value(v) : oa_type_name(v));
    ver = "2.0";
  } else {
    ver = json_string_value(v);
    if (ver == NULL)
      return oa_fail(err, n, "the \"openapi\" field is %s, not a version string", oa_type_name(v));
    if (strncmp(ver, "3.", 2) != 0)
      return oa_fail(err, n, "OpenAPI version \"%.20s\" is not supported (3.0 and 3.1 are)", ver);
  }
  v = json_object_get(doc, "paths");
  /* 3.1 made "paths" optional: a document of webhooks or components only. */
  if (v == NULL && strncmp(ver, "3.1", 3) == 0)
    return 0;
  if (!json_is_object(v))
    return oa_fail(err, n, "the document has no \"paths\" object%s%s", v != NULL ? ": it is " : "",
                   v != NULL ? oa_type_name(v) : "");
  return strcmp(ver, "2.0") == 0 ? 1 : 0;
}

/* Collects the operations (pass 1). */
static int collect(ctx *c, entry **out, size_t *n_out) {
  const json_t *paths = json_object_get(c->doc, "paths"), *item, *op;
  const char *path;
  entry *es = NULL;
  size_t n = 0, cap = 0;
  json_t *used = oa_chk(c, json_object());
  int m;
  json_object_foreach((json_t *)paths, path, item) {
    snprintf(c->where, sizeof(c->where), "path %.150s", path);
    if (path[0] != '/') {
      if (strncmp(path, "x-", 2) != 0)
        oa_warn(c, "does not start with '/'; ignored");
      continue;
    }
    item = oa_deref(c, item, "the path item");
    if (item == NULL)
      continue;
    if (!json_is_object(item)) {
      oa_warn(c, "the path item is %s, not an object; ignored", oa_type_name(item));
      continue;
    }
    for (m = 0; m < N_METHODS; m++) {
      char *base;
      op = json_object_get(item, OA_METHODS[m]);
      if (op == NULL)
        continue;
      oa_set_where(c, m, path);
      if (!json_is_object(op)) {
        oa_warn(c, "the operation is %s, not an object; ignored", oa_type_name(op));
        continue;
      }
      if (json_is_true(json_object_get(op, "x-mcp-hidden")))
        continue;
      if (n == cap) {
        entry *ne;
        cap = cap ? cap * 2 : 16;
        ne = realloc(es, cap * sizeof(*ne));
        if (ne == NULL) {
          c->oom = 1;
          break;
        }
        es = ne;
      }
      base = oa_base_name(c, op, path, m);
      es[n].path = path;
      es[n].item = item;
      es[n].op = op;
      es[n].m = m;
      es[n].name = base != NULL ? oa_final_name(c, base, used) : NULL;
      free(base);
      if (es[n].name == NULL)
        break;
      n++;
    }
    if (c->oom)
      break;
  }
  c->where[0] = '\0';
  json_decref(used);
  *out = es;
  *n_out = n;
  return c->oom ? -ENOMEM : 0;
}

void openapi_free(oa_api *api) {
  size_t i;
  if (api == NULL)
    return;
  for (i = 0; i < api->n_ops; i++)
    oa_op_free(&api->ops[i]);
  free(api->ops);
  for (i = 0; i < api->n_warnings; i++)
    free(api->warnings[i]);
  free(api->warnings);
  free(api->title);
  free(api->version);
  memset(api, 0, sizeof(*api));
}

int openapi_convert(const json_t *doc, const oa_options *opt, oa_api *out, char *err, size_t n) {
  ctx c;
  entry *es = NULL;
  size_t n_es = 0, i;
  const json_t *info, *comps;
  char *prefix = NULL;
  json_t *swagger = NULL; /* the 3.0 form of a Swagger 2.0 doc */
  int rc;

  if (err != NULL && n > 0)
    err[0] = '\0';
  if (out == NULL || opt == NULL)
    return oa_fail(err, n, "no output or no options");
  memset(out, 0, sizeof(*out));
  memset(&c, 0, sizeof(c));
  c.doc = doc;
  c.opt = opt;
  c.out = out;
  rc = check_doc(doc, err, n);
  if (rc == 1) {
    c.doc = doc = swagger = oa_swagger2_convert(&c, doc);
    rc = swagger != NULL ? 0 : -ENOMEM;
    if (rc == -ENOMEM)
      oa_fail(err, n, "out of memory");
  }
  if (rc == 0)
    rc = oa_check_options(&c, err, n);
  if (rc != 0)
    goto cleanup;
  if (json_object_get(doc, "paths") == NULL)
    oa_warn(&c, "no \"paths\" (an OpenAPI 3.1 document of %s): no tools",
            json_object_size(json_object_get(doc, "webhooks")) > 0
                ? "webhooks, which are calls the API makes, not ones it takes"
                : "components only");
  comps = json_object_get(doc, "components");
  c.schemas = json_object_get(comps, "schemas");
  if (!json_is_object(c.schemas))
    c.schemas = NULL;
  c.comp = oa_chk(&c, json_object());
  c.comp_deps = oa_chk(&c, json_object());
  if (opt->tool_prefix != NULL && opt->tool_prefix[0] != '\0') {
    sbuf b = {0};
    oa_sanitize_into(&b, opt->tool_prefix, strlen(opt->tool_prefix), 0);
    prefix = sb_take(&b);
    if (prefix == NULL)
      c.oom = 1;
  }
  c.prefix = prefix != NULL ? prefix : "";
  info = json_object_get(doc, "info");
  out->title = oa_xstrdup(&c, json_string_value(json_object_get(info, "title")));
  out->version = oa_xstrdup(&c, json_string_value(json_object_get(info, "version")));

  if (!c.oom && collect(&c, &es, &n_es) == 0) {
    oa_check_filter_names(&c, es, n_es);
    if ((rc = oa_check_task_names(&c, es, n_es, err, n)) != 0)
      goto cleanup;
    for (i = 0; i < n_es && !c.oom; i++) {
      entry *e = &es[i];
      int rt;
      if (oa_filtered_out(&c, e))
        continue;
      rt = oa_route_type(&c, e);
      if (rt == R_EXCLUDE)
        continue;
      if (out->n_ops == c.cap_ops) {
        size_t cap = c.cap_ops ? c.cap_ops * 2 : 16;
        oa_operation *no = realloc(out->ops, cap * sizeof(*no));
        if (no == NULL) {
          c.oom = 1;
          break;
        }
        out->ops = no;
        c.cap_ops = cap;
      }
      oa_set_where(&c, e->m, e->path);
      if (oa_convert_op(&c, e, rt, &out->ops[out->n_ops]) == 0) {
        if (out->ops[out->n_ops].kind == OA_TOOL)
          out->ops[out->n_ops].task_support = oa_task_support(&c, e);
        out->n_ops++;
        e->name = NULL; /* now the operation's */
      }
    }
    c.where[0] = '\0';
    if (c.dropped_warnings > 0) {
      size_t d = c.dropped_warnings;
      c.dropped_warnings = 0;
      out->n_warnings--; /* room for the summary line */
      free(out->warnings[out->n_warnings]);
      oa_warn(&c, "%zu more warnings not shown", d + 1);
    }
  }
  rc = c.oom ? -ENOMEM : 0;
  if (rc == -ENOMEM)
    oa_fail(err, n, "out of memory");

cleanup:
  for (i = 0; i < n_es; i++)
    free(es[i].name);
  free(es);
  for (i = 0; i < c.n_rules; i++) {
    if (c.rules[i].has_re)
      regfree(&c.rules[i].re);
  }
  free(c.rules);
  json_decref(c.comp);
  json_decref(c.comp_deps);
  json_decref(c.doc_server);
  json_decref(swagger);
  free(prefix);
  if (rc != 0)
    openapi_free(out);
  return rc;
}
