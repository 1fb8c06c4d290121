/* oa_operation.c -- one operation to an oa_operation: its parameters and
 * their argument names, the input schema, annotations, and whether it is a
 * tool, a resource or a resource template (with its URI). Pure. */
#define _POSIX_C_SOURCE 200809L

#include "openapi_internal.h"
#include "oa_chars.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* enum oa_location as in the document ("body" for both body kinds). */
static const char *const LOCATIONS[] = {"path", "query", "header", "cookie",
                                        "body", "body",  "server"};

typedef struct pitem {
  const json_t *p; /* the resolved parameter object; NULL for an undeclared path variable */
  const char *name;
  enum oa_location in;
  int level;      /* 0: from the path item, 1: from the operation */
  char *arg;      /* owned, once named */
  json_t *schema; /* owned: the argument's schema, once made */
  int json;       /* see oa_param.json */
  int merged;     /* one argument with the body property of the same name */
} pitem;

typedef struct pvec {
  pitem *v;
  size_t n, cap;
} pvec;

static void pv_free(pvec *pv) {
  size_t i;
  for (i = 0; i < pv->n; i++) {
    free(pv->v[i].arg);
    json_decref(pv->v[i].schema);
  }
  free(pv->v);
  memset(pv, 0, sizeof(*pv));
}

static pitem *pv_find(pvec *pv, const char *name, enum oa_location in) {
  size_t i;
  for (i = 0; i < pv->n; i++) {
    if (pv->v[i].in == in &&
        (in == OA_HEADER ? oa_ieq(pv->v[i].name, name) : strcmp(pv->v[i].name, name) == 0))
      return &pv->v[i];
  }
  return NULL;
}

static pitem *pv_add(ctx *c, pvec *pv) {
  if (pv->n == pv->cap) {
    size_t cap = pv->cap ? pv->cap * 2 : 8;
    pitem *nv = realloc(pv->v, cap * sizeof(*nv));
    if (nv == NULL) {
      c->oom = 1;
      return NULL;
    }
    pv->v = nv;
    pv->cap = cap;
  }
  memset(&pv->v[pv->n], 0, sizeof(pitem));
  return &pv->v[pv->n++];
}

/* Headers mcpd's HTTP client owns (framing, hop-by-hop, Cookie). */
static const char *const OWN_HEADERS[] = {"host",
                                          "content-length",
                                          "transfer-encoding",
                                          "connection",
                                          "keep-alive",
                                          "upgrade",
                                          "te",
                                          "trailer",
                                          "expect",
                                          "cookie",
                                          "proxy-authorization",
                                          "proxy-connection",
                                          NULL};

static void add_params(ctx *c, pvec *pv, const json_t *list, int level) {
  size_t i;
  json_t *raw;
  if (list == NULL)
    return;
  if (!json_is_array(list)) {
    oa_warn(c, "%s parameters are %s, not an array; ignored",
            level ? "the operation's" : "the path's", oa_type_name(list));
    return;
  }
  json_array_foreach(list, i, raw) {
    char what[48];
    const json_t *p, *inv;
    const char *name, *in_s;
    int in;
    pitem *it;
    snprintf(what, sizeof(what), "parameter #%zu", i + 1);
    p = oa_deref(c, raw, what);
    if (p == NULL)
      continue;
    if (!json_is_object(p)) {
      oa_warn(c, "parameter #%zu is %s, not an object; ignored", i + 1, oa_type_name(p));
      continue;
    }
    name = json_string_value(json_object_get(p, "name"));
    inv = json_object_get(p, "in");
    in_s = json_string_value(inv);
    if (name == NULL || name[0] == '\0') {
      oa_warn(c, "parameter #%zu has no name; ignored", i + 1);
      continue;
    }
    for (in = 0; in < 4 && (in_s == NULL || strcmp(in_s, LOCATIONS[in]) != 0); in++)
      ;
    if (in == 4) {
      oa_warn(c, "parameter %.100s: \"in\" is not path, query, header or cookie; ignored", name);
      continue;
    }
    if (in == OA_HEADER &&
        (oa_ieq(name, "accept") || oa_ieq(name, "content-type") || oa_ieq(name, "authorization"))) {
      oa_warn(c,
              "header parameter %.100s ignored (OpenAPI says to ignore Accept, Content-Type "
              "and Authorization parameters)",
              name);
      continue;
    }
    if (in == OA_HEADER && c->opt->reserved_headers != NULL &&
        oa_in_list_ci(name, c->opt->reserved_headers)) {
      oa_warn(c, "header parameter %.100s ignored: mcpd sets that header (claim_headers)", name);
      continue;
    }
    if (in == OA_HEADER && oa_in_list_ci(name, OWN_HEADERS)) {
      oa_warn(c, "header parameter %.100s ignored: the HTTP client sets that header", name);
      continue;
    }
    if ((in == OA_HEADER || in == OA_COOKIE) && !oa_is_token(name)) {
      oa_warn(c, "%s parameter \"%.100s\" is not a valid %s name; ignored", LOCATIONS[in], name,
              LOCATIONS[in]);
      continue;
    }
    it = pv_find(pv, name, (enum oa_location)in);
    if (it != NULL) {
      /* The operation's parameters override the path's; a repeat within
       * one list is the document's mistake. */
      if (it->level == level)
        oa_warn(c, "parameter %.100s (%s) is declared twice; the last one is used", name, in_s);
    } else {
      it = pv_add(c, pv);
      if (it == NULL)
        return;
    }
    it->p = p;
    it->name = name;
    it->in = (enum oa_location)in;
    it->level = level;
  }
}

/* Checks the path template against the path parameters: an undeclared
 * {var} is added as a required string, a declared one missing from the
 * template is dropped. -1 when the template is malformed. */
static int match_template(ctx *c, const char *path, pvec *pv, sbuf *names) {
  const char *p, *open = NULL;
  size_t i, j;
  /* names: the variables, each NUL-terminated, one after another. */
  for (p = path; *p; p++) {
    if (*p == '{') {
      if (open != NULL)
        return -1;
      open = p;
    } else if (*p == '}') {
      if (open == NULL || p == open + 1)
        return -1;
      sb_putn(names, open + 1, (size_t)(p - open - 1));
      sb_putc(names, '\0');
      open = NULL;
    }
  }
  if (open != NULL)
    return -1;
  if (names->oom) {
    c->oom = 1;
    return -1;
  }
  for (i = 0; i < names->len; i += strlen(names->p + i) + 1) {
    const char *v = names->p + i;
    pitem *it;
    if (pv_find(pv, v, OA_PATH) != NULL)
      continue;
    oa_warn(c, "path parameter %.100s is not declared; taken as a required string", v);
    it = pv_add(c, pv);
    if (it == NULL)
      return -1;
    it->name = v;
    it->in = OA_PATH;
  }
  for (i = 0, j = 0; i < pv->n; i++) {
    pitem *it = &pv->v[i];
    if (it->in == OA_PATH) {
      size_t k;
      int found = 0;
      for (k = 0; k < names->len && !found; k += strlen(names->p + k) + 1)
        found = strcmp(names->p + k, it->name) == 0;
      if (!found) {
        oa_warn(c, "path parameter %.100s is not in the path; ignored", it->name);
        free(it->arg);
        json_decref(it->schema);
        continue;
      }
    }
    pv->v[j++] = *it;
  }
  pv->n = j;
  return 0;
}

/* Makes the property schema of a parameter; sets *json for a parameter
 * described by a JSON "content". */
static json_t *param_schema(ctx *c, const pitem *it, int *json) {
  const json_t *p = it->p, *s, *content, *v;
  json_t *out;
  *json = 0;
  if (p == NULL)
    return oa_chk(c, json_pack("{s:s}", "type", "string"));
  s = json_object_get(p, "schema");
  content = json_object_get(p, "content");
  if (s != NULL) {
    out = oa_conv_schema(c, s, 0);
  } else if (json_is_object(content) && json_object_size(content) > 0) {
    const char *mt;
    char buf[128];
    void *iter = json_object_iter((json_t *)content);
    mt = json_object_iter_key(iter);
    v = json_object_iter_value(iter);
    *json = oa_is_json_media(oa_media_type(mt, buf, sizeof(buf)));
    s = json_object_get(v, "schema");
    out = s != NULL ? oa_conv_schema(c, s, 0) : oa_chk(c, json_object());
  } else {
    oa_warn(c, "parameter %.100s has no schema; taken as a string", it->name);
    out = oa_chk(c, json_pack("{s:s}", "type", "string"));
  }
  if (json_is_boolean(out)) {
    int t = json_is_true(out);
    json_decref(out);
    out = oa_chk(c, t ? json_object() : json_pack("{s:{}}", "not"));
  }
  if (out == NULL)
    return NULL;
  v = json_object_get(p, "description");
  if (json_is_string(v))
    oa_oset(c, out, "description", json_incref((json_t *)v));
  if (json_is_true(json_object_get(p, "deprecated")))
    oa_oset(c, out, "deprecated", json_true());
  if (!oa_has_key(out, "examples")) {
    v = json_object_get(p, "example");
    if (v != NULL) {
      oa_oset(c, out, "examples", json_pack("[O]", v));
    } else if (json_is_object(v = json_object_get(p, "examples"))) {
      json_t *ex = oa_chk(c, json_array()), *e;
      const char *k;
      json_object_foreach((json_t *)v, k, e) {
        const json_t *val = json_object_get(e, "value");
        if (val != NULL)
          oa_apush(c, ex, json_deep_copy(val));
      }
      if (json_array_size(ex) > 0)
        oa_oset(c, out, "examples", ex);
      else
        json_decref(ex);
    }
  }
  return out;
}

static void param_style(ctx *c, const pitem *it, oa_param *op) {
  static const char *const names[] = {"simple",     "form",  "spaceDelimited", "pipeDelimited",
                                      "deepObject", "label", "matrix",         NULL};
  const char *st = json_string_value(json_object_get(it->p, "style"));
  const json_t *ex = json_object_get(it->p, "explode");
  int s;
  op->style = it->in == OA_QUERY || it->in == OA_COOKIE ? OA_STYLE_FORM : OA_STYLE_SIMPLE;
  if (st != NULL) {
    int ok;
    for (s = 0; names[s] != NULL && strcmp(names[s], st) != 0; s++)
      ;
    switch (it->in) {
    case OA_PATH:
      ok = s == OA_STYLE_SIMPLE || s == OA_STYLE_LABEL || s == OA_STYLE_MATRIX;
      break;
    case OA_QUERY:
      ok = s == OA_STYLE_FORM || s == OA_STYLE_SPACE || s == OA_STYLE_PIPE || s == OA_STYLE_DEEP;
      break;
    case OA_HEADER:
      ok = s == OA_STYLE_SIMPLE;
      break;
    default:
      ok = s == OA_STYLE_FORM;
      break;
    }
    if (ok)
      op->style = (enum oa_style)s;
    else
      oa_warn(c, "parameter %.100s: style \"%.40s\" is not valid in %s; the default is used",
              it->name, st, LOCATIONS[it->in]);
  }
  op->explode = json_is_boolean(ex) ? json_is_true(ex) : op->style == OA_STYLE_FORM;
  /* Where the document says a value may hold '/' (GitHub's branch, path and
   * ref), or reserved characters, they are sent as they are. */
  op->keep = OA_KEEP_NONE;
  if (it->in == OA_PATH && json_is_true(json_object_get(it->p, "x-multi-segment")))
    op->keep = OA_KEEP_SLASH;
  if ((it->in == OA_PATH || it->in == OA_QUERY) &&
      json_is_true(json_object_get(it->p, "allowReserved")))
    op->keep = OA_KEEP_RESERVED;
}

/* Whether two argument schemas describe the same values: equal but for the
 * keywords that only describe (title, description, examples...). */
static int same_values(ctx *c, const json_t *a, const json_t *b) {
  static const char *const notes[] = {"title",    "description", "examples",
                                      "example",  "$comment",    "deprecated",
                                      "readOnly", "writeOnly",   NULL};
  json_t *x, *y;
  size_t i;
  int eq;
  if (!json_is_object(a) || !json_is_object(b))
    return 0;
  x = oa_chk(c, json_copy((json_t *)a));
  y = oa_chk(c, json_copy((json_t *)b));
  for (i = 0; notes[i] != NULL; i++) {
    json_object_del(x, notes[i]);
    json_object_del(y, notes[i]);
  }
  eq = x != NULL && y != NULL && json_equal(x, y);
  json_decref(x);
  json_decref(y);
  return eq;
}

static int arg_taken(const json_t *props, const pvec *pv, const char *a) {
  size_t i;
  if (oa_has_key(props, a))
    return 1;
  for (i = 0; i < pv->n; i++) {
    if (pv->v[i].arg != NULL && pv->v[i].arg[0] != '\0' && strcmp(pv->v[i].arg, a) == 0)
      return 1;
  }
  return 0;
}

/* Names the parameters' arguments: the parameter's name, or on a clash with
 * a body property or another parameter "<name>__<in>" (then a number). A path
 * or query parameter and a body property (body_names: name -> schema) of the
 * same name and values are the same thing said twice (the id in the path and
 * in the object): one argument, sent to both places. */
static void name_args(ctx *c, pvec *pv, const json_t *body_names) {
  size_t i, j;
  for (i = 0; i < pv->n; i++) {
    free(pv->v[i].arg);
    pv->v[i].arg = NULL;
    pv->v[i].merged = 0;
  }
  for (i = 0; i < pv->n; i++) {
    pitem *it = &pv->v[i];
    int clash = oa_has_key(body_names, it->name), twice = 0;
    sbuf b = {0};
    unsigned k;
    for (j = 0; j < pv->n; j++)
      twice |= j != i && strcmp(pv->v[j].name, it->name) == 0;
    if (clash && !twice && (it->in == OA_PATH || it->in == OA_QUERY) &&
        same_values(c, it->schema, json_object_get(body_names, it->name))) {
      it->arg = oa_xstrdup(c, it->name);
      it->merged = 1;
      if (it->arg == NULL)
        return;
      continue;
    }
    clash |= twice;
    if (clash)
      sb_printf(&b, "%s__%s", it->name, LOCATIONS[it->in]);
    else
      sb_puts(&b, it->name);
    for (k = 2; !b.oom && arg_taken(body_names, pv, b.p); k++) {
      b.len = 0;
      if (clash)
        sb_printf(&b, "%s__%s_%u", it->name, LOCATIONS[it->in], k);
      else
        sb_printf(&b, "%s_%u", it->name, k);
    }
    it->arg = sb_take(&b);
    if (it->arg == NULL) {
      c->oom = 1;
      return;
    }
    if (clash)
      oa_warn(c, "%s parameter %.100s is argument %.100s (the name is used twice)",
              LOCATIONS[it->in], it->name, it->arg);
  }
}

static int add_param(ctx *c, oa_operation *o, const char *arg, const char *name,
                     enum oa_location in) {
  oa_param *p = &o->params[o->n_params++];
  memset(p, 0, sizeof(*p));
  p->arg = oa_xstrdup(c, arg);
  p->name = oa_xstrdup(c, name);
  p->in = in;
  p->style = in == OA_QUERY || in == OA_COOKIE ? OA_STYLE_FORM : OA_STYLE_SIMPLE;
  p->explode = p->style == OA_STYLE_FORM;
  return c->oom ? -1 : 0;
}

static json_t *annotations(ctx *c, const json_t *op, int m, const char *summary) {
  json_t *a = oa_chk(c, json_object()), *v;
  const json_t *over = json_object_get(op, "x-mcp-annotations");
  const char *k;
  int ro = m == M_GET || m == M_HEAD;
  if (summary != NULL)
    oa_oset(c, a, "title", json_string(summary));
  oa_oset(c, a, "readOnlyHint", json_boolean(ro));
  if (!ro)
    oa_oset(c, a, "destructiveHint", json_boolean(m == M_DELETE || m == M_PUT || m == M_PATCH));
  oa_oset(c, a, "idempotentHint", json_boolean(m != M_POST && m != M_PATCH));
  oa_oset(c, a, "openWorldHint", json_false());
  if (over != NULL && !json_is_object(over))
    oa_warn(c, "x-mcp-annotations is %s, not an object; ignored", oa_type_name(over));
  json_object_foreach((json_t *)over, k, v) {
    if (json_is_null(v))
      json_object_del(a, k);
    else
      oa_oset(c, a, k, json_deep_copy(v));
  }
  return a;
}

/* Appends s to b as a URI template variable name. */
static void put_varname(sbuf *b, const char *s) {
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (oa_is_alnum(ch) || ch == '_')
      sb_putc(b, (char)ch);
    else
      sb_printf(b, "%%%02X", ch);
  }
}

static char *make_uri(ctx *c, const oa_operation *o, int with_query) {
  sbuf b = {0};
  const char *p;
  size_t i;
  int first = 1;
  char *r;
  sb_printf(&b, "api://%s", c->opt->backend);
  for (p = o->path; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch == '{') {
      const char *close = strchr(p, '}');
      for (i = 0; i < o->n_params; i++) {
        const oa_param *pa = &o->params[i];
        if (pa->in == OA_PATH && strlen(pa->name) == (size_t)(close - p - 1) &&
            strncmp(pa->name, p + 1, (size_t)(close - p - 1)) == 0)
          break;
      }
      sb_putc(&b, '{');
      if (i < o->n_params) /* match_template() made sure it is there */
        put_varname(&b, o->params[i].arg);
      sb_putc(&b, '}');
      p = close;
    } else if (oa_is_unreserved(ch) || strchr("!$&'()*+,;=:@/%", ch) != NULL) {
      sb_putc(&b, (char)ch);
    } else {
      sb_printf(&b, "%%%02X", ch);
    }
  }
  for (i = 0; with_query && i < o->n_params; i++) {
    if (o->params[i].in != OA_QUERY)
      continue;
    sb_puts(&b, first ? "{?" : ",");
    put_varname(&b, o->params[i].arg);
    first = 0;
  }
  if (!first)
    sb_putc(&b, '}');
  r = sb_take(&b);
  if (r == NULL)
    c->oom = 1;
  return r;
}

void oa_op_free(oa_operation *o) {
  size_t i;
  free(o->name);
  free(o->title);
  free(o->description);
  free(o->method);
  free(o->path);
  free(o->operation_id);
  json_decref(o->input_schema);
  json_decref(o->output_schema);
  json_decref(o->annotations);
  json_decref(o->server);
  for (i = 0; i < o->n_params; i++) {
    free(o->params[i].arg);
    free(o->params[i].name);
  }
  free(o->params);
  free(o->content_type);
  free(o->uri);
  free(o->mime_type);
  oa_scopes_free(o->required_scopes);
  memset(o, 0, sizeof(*o));
}

static void set_kind(ctx *c, oa_operation *o, int rt, int m) {
  size_t i;
  int path_params = 0, query_params = 0, required_query = 0;
  const char *blocker = NULL;
  if (rt == R_NONE)
    rt = c->opt->get_as_resources && m == M_GET ? R_RESOURCE : R_TOOL;
  if (rt == R_TOOL)
    return;
  for (i = 0; i < o->n_params; i++) {
    const oa_param *p = &o->params[i];
    path_params += p->in == OA_PATH;
    query_params += p->in == OA_QUERY;
    required_query += p->in == OA_QUERY && p->required;
    if (p->required && blocker == NULL && p->in != OA_PATH && p->in != OA_QUERY)
      blocker = p->arg;
  }
  if (blocker == NULL && o->body_required)
    blocker = "body";
  if (blocker != NULL) {
    oa_warn(c,
            "cannot be a resource: argument %.100s is required and a URI cannot carry it; "
            "made a tool",
            blocker);
    return;
  }
  if (path_params > 0 || required_query > 0 || (rt == R_TEMPLATE && query_params > 0)) {
    o->kind = OA_TEMPLATE;
    o->uri = make_uri(c, o, 1);
  } else {
    o->kind = OA_RESOURCE;
    o->uri = make_uri(c, o, 0);
  }
}

/* The arguments that choose a server variable's value among its enum choices:
 * "server_<name>", optional (the default applies without it). */
static void add_server_args(ctx *c, oa_operation *o, const json_t *vars, json_t *in_props) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)vars, k, v) {
    const json_t *en = json_object_get(v, "enum");
    const char *def = json_string_value(json_object_get(v, "default"));
    sbuf arg = {0}, desc = {0};
    json_t *s;
    if (json_array_size(en) < 2)
      continue; /* no choice to make */
    sb_puts(&arg, "server_");
    oa_sanitize_into(&arg, k, strlen(k), 0);
    sb_printf(&desc, "Which server the request goes to: the variable {%s} of %s (default %s).", k,
              json_string_value(json_object_get(o->server, "url")), def);
    if (arg.oom || desc.oom) {
      c->oom = 1;
    } else if (oa_has_key(in_props, arg.p)) {
      oa_warn(c, "server variable %.60s: the argument %.80s is taken; the default is used", k,
              arg.p);
    } else if (add_param(c, o, arg.p, k, OA_SERVER) == 0) {
      s = oa_chk(c, json_pack("{s:s,s:O,s:s,s:s}", "type", "string", "enum", en, "default", def,
                              "description", desc.p));
      oa_oset(c, in_props, arg.p, s);
    }
    sb_free(&arg);
    sb_free(&desc);
  }
}

/* Converts one operation into o. 0, or -1 when it is skipped (with a
 * warning) or memory ran out (c->oom). */
int oa_convert_op(ctx *c, const entry *e, int rt, oa_operation *o) {
  pvec pv = {0};
  sbuf vars = {0}, desc = {0};
  json_t *props = NULL, *req = NULL, *whole = NULL, *in_props, *in_req, *body_names;
  const json_t *server_vars;
  const char *summary = json_string_value(json_object_get(e->op, "summary"));
  const char *description = json_string_value(json_object_get(e->op, "description"));
  const char *id = json_string_value(json_object_get(e->op, "operationId"));
  const char *up = OA_METHODS_UP[e->m];
  size_t i, n_alloc;
  int loc, rc = -1;

  memset(o, 0, sizeof(*o));
  o->name = e->name;
  o->method = oa_xstrdup(c, up);
  o->path = oa_xstrdup(c, e->path);
  o->operation_id = oa_xstrdup(c, id);
  if (summary != NULL && summary[0] != '\0')
    o->title = oa_xstrdup(c, summary);
  else
    summary = NULL;
  if (description != NULL && description[0] == '\0')
    description = NULL;
  if (summary != NULL)
    sb_puts(&desc, summary);
  if (summary != NULL && description != NULL)
    sb_puts(&desc, "\n\n");
  if (description != NULL)
    sb_puts(&desc, description);
  if (summary == NULL && description == NULL)
    sb_printf(&desc, "%s %s", up, e->path);
  o->description = sb_take(&desc);
  if (o->description == NULL)
    c->oom = 1;

  add_params(c, &pv, json_object_get(e->item, "parameters"), 0);
  add_params(c, &pv, json_object_get(e->op, "parameters"), 1);
  if (match_template(c, e->path, &pv, &vars) != 0) {
    if (!c->oom)
      oa_warn(c, "the path template is malformed; operation skipped");
    goto done;
  }
  if (oa_body_schema(c, e->op, o, &props, &req, &whole) != 0)
    goto done;
  for (i = 0; i < pv.n; i++)
    pv.v[i].schema = param_schema(c, &pv.v[i], &pv.v[i].json);
  o->server = oa_op_server(c, e);
  server_vars = c->opt->server_args ? json_object_get(o->server, "variables") : NULL;

  /* Arguments: parameters (renamed on a clash), then the body. */
  body_names = oa_chk(c, json_object());
  if (whole != NULL)
    oa_oset(c, body_names, "body", json_true());
  else if (props != NULL)
    json_object_update(body_names, props);
  name_args(c, &pv, body_names);
  json_decref(body_names);
  if (c->oom)
    goto done;
  n_alloc =
      pv.n + (whole != NULL ? 1 : 0) + json_object_size(props) + json_object_size(server_vars);
  o->params = calloc(n_alloc ? n_alloc : 1, sizeof(oa_param));
  in_props = oa_chk(c, json_object());
  in_req = oa_chk(c, json_array());
  o->input_schema = oa_chk(c, json_pack("{s:s}", "type", "object"));
  oa_oset(c, o->input_schema, "properties", in_props);
  if (o->params == NULL || c->oom) {
    c->oom = 1;
    json_decref(in_req);
    goto done;
  }
  for (loc = OA_PATH; loc <= OA_COOKIE; loc++) {
    for (i = 0; i < pv.n; i++) {
      pitem *it = &pv.v[i];
      oa_param *p;
      int required;
      if (it->in != (enum oa_location)loc)
        continue;
      if (add_param(c, o, it->arg, it->name, it->in) != 0)
        break;
      p = &o->params[o->n_params - 1];
      required = it->in == OA_PATH || json_is_true(json_object_get(it->p, "required"));
      p->required = required;
      param_style(c, it, p);
      oa_oset(c, in_props, it->arg, json_incref(it->schema));
      p->json = it->json;
      if (required)
        oa_apush(c, in_req, json_string(it->arg));
    }
  }
  if (whole != NULL) {
    if (add_param(c, o, "body", "body", OA_BODY_WHOLE) == 0) {
      o->params[o->n_params - 1].required = o->body_required;
      oa_oset(c, in_props, "body", json_incref(whole));
      if (o->body_required)
        oa_apush(c, in_req, json_string("body"));
    }
  } else if (props != NULL) {
    const char *k;
    json_t *v;
    size_t j;
    json_t *r;
    json_object_foreach(props, k, v) {
      if (add_param(c, o, k, k, OA_BODY_PROP) != 0)
        break;
      o->params[o->n_params - 1].required = oa_str_in(req, k);
      if (o->body == OA_BODY_MULTIPART)
        o->params[o->n_params - 1].file = oa_file_arg(v);
      /* A merged parameter keeps its schema (it has the parameter's words). */
      if (!oa_has_key(in_props, k))
        oa_oset(c, in_props, k, json_incref(v));
    }
    json_array_foreach(req, j, r) {
      if (!oa_str_in(in_req, json_string_value(r)))
        oa_apush(c, in_req, json_incref(r));
    }
  }
  add_server_args(c, o, server_vars, in_props);
  if (json_array_size(in_req) > 0)
    oa_oset(c, o->input_schema, "required", in_req);
  else
    json_decref(in_req);
  oa_add_defs(c, o->input_schema);
  oa_output_schema(c, e->op, o);
  o->annotations = annotations(c, e->op, e->m, summary);
  set_kind(c, o, rt, e->m);
  if (oa_security_scopes(c, e->op, o) != 0)
    goto done;
  rc = c->oom ? -1 : 0;
done:
  if (rc != 0) {
    o->name = NULL; /* still the entry's */
    oa_op_free(o);
  }
  json_decref(props);
  json_decref(req);
  json_decref(whole);
  pv_free(&pv);
  sb_free(&vars);
  return rc;
}
