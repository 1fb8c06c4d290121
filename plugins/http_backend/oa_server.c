/* oa_server.c -- the server URL an operation's requests go to: servers[0] of the
 * operation, else of its path item, else of the document, with its variables
 * ({"region": {"default": "us", "enum": ["us", "eu"]}}), the configured
 * server_variables in place of their defaults, and per call the server_<name>
 * arguments of variables with enum choices. Pure: no I/O, no global state. */
#define _POSIX_C_SOURCE 200809L

#include "openapi_internal.h"
#include "oa_chars.h"
#include "oa_request.h"
#include "oa_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Whether a variable's value may go into a URL as it is: the document and the
 * settings are trusted, but a space or a control character would make a request
 * line that is not HTTP. */
static int value_ok(const char *v) {
  for (; *v; v++) {
    unsigned char ch = (unsigned char)*v;
    if (ch <= 0x20 || ch == 0x7f)
      return 0;
  }
  return 1;
}

/* {"url", "variables"} from the server object s (borrowed); NULL (with a warning)
 * when it is not one. */
static json_t *make_server(ctx *c, const json_t *s) {
  const char *url = json_string_value(json_object_get(s, "url")), *k;
  const json_t *vars = json_object_get(s, "variables"), *v, *over = c->opt->server_variables;
  json_t *out, *ov;
  if (url == NULL) {
    oa_warn(c, "servers[0] has no \"url\"; ignored");
    return NULL;
  }
  out = oa_chk(c, json_pack("{s:s,s:{}}", "url", url, "variables"));
  if (out == NULL)
    return NULL;
  ov = json_object_get(out, "variables");
  json_object_foreach((json_t *)vars, k, v) {
    const json_t *def = json_object_get(v, "default"), *en = json_object_get(v, "enum"), *x;
    const char *val = json_string_value(def);
    json_t *nv;
    size_t i;
    if (val == NULL || !value_ok(val)) {
      oa_warn(c, "server variable %.60s has no usable string default; ignored", k);
      continue;
    }
    if (json_is_string(json_object_get(over, k)))
      val = json_string_value(json_object_get(over, k));
    if (!value_ok(val)) {
      oa_warn(c,
              "server_variables: the value of %.60s has a space or control character; "
              "the default is used",
              k);
      val = json_string_value(def);
    }
    nv = oa_chk(c, json_pack("{s:s}", "default", val));
    if (json_is_array(en) && json_array_size(en) > 0) {
      json_t *list = oa_chk(c, json_array());
      int found = 0;
      json_array_foreach(en, i, x) {
        if (json_is_string(x) && value_ok(json_string_value(x))) {
          oa_apush(c, list, json_incref((json_t *)x));
          found |= strcmp(json_string_value(x), val) == 0;
        }
      }
      if (!found && json_object_get(over, k) != NULL)
        oa_warn(c, "server_variables: %.60s=%.60s is not one of the document's choices; used", k,
                val);
      if (!found)
        oa_apush(c, list, json_string(val));
      oa_oset(c, nv, "enum", list);
    }
    oa_oset(c, ov, k, nv);
  }
  return out;
}

/* servers[0] of the object o (borrowed), or NULL. */
static const json_t *first_server(const json_t *o) {
  const json_t *s = json_object_get(o, "servers");
  return json_is_array(s) ? json_array_get(s, 0) : NULL;
}

json_t *oa_op_server(ctx *c, const entry *e) {
  const json_t *s = first_server(e->op);
  if (s == NULL)
    s = first_server(e->item);
  if (s != NULL)
    return make_server(c, s);
  if (!c->doc_server_made && (s = first_server(c->doc)) != NULL) {
    const json_t *over = c->opt->server_variables, *vars = json_object_get(s, "variables");
    const char *k;
    json_t *v;
    char where[sizeof(c->where)];
    /* Said once, about the document. */
    memcpy(where, c->where, sizeof(where));
    snprintf(c->where, sizeof(c->where), "servers[0]");
    c->doc_server_made = 1; /* and its warnings said, once */
    c->doc_server = make_server(c, s);
    json_object_foreach((json_t *)over, k, v) {
      if (json_object_get(vars, k) == NULL)
        oa_warn(c, "server_variables: %.60s is not a variable of the server URL; ignored", k);
    }
    memcpy(c->where, where, sizeof(where));
  }
  return json_incref(c->doc_server);
}

/* The value args give the variable name (an OA_SERVER argument of op), or NULL. */
static const char *chosen(const oa_operation *op, const json_t *args, const char *name,
                          const json_t *var) {
  size_t i, j;
  const json_t *x;
  for (i = 0; i < op->n_params; i++) {
    const oa_param *p = &op->params[i];
    const char *v;
    if (p->in != OA_SERVER || strcmp(p->name, name) != 0)
      continue;
    v = json_string_value(json_object_get(args, p->arg));
    json_array_foreach(json_object_get(var, "enum"), j, x) {
      if (v != NULL && strcmp(json_string_value(x), v) == 0)
        return v;
    }
  }
  return NULL;
}

int oa_server_url(const oa_operation *op, const json_t *args, char **out, char *err, size_t n) {
  const json_t *vars;
  const char *p, *url;
  sbuf b = {0};
  *out = NULL;
  if (op == NULL || op->server == NULL)
    return oa_errf(err, n, -ENOENT, "the document names no server");
  url = json_string_value(json_object_get(op->server, "url"));
  vars = json_object_get(op->server, "variables");
  for (p = url; p != NULL && *p; p++) {
    const char *close, *v;
    char name[128];
    const json_t *var;
    if (*p != '{') {
      sb_putc(&b, *p);
      continue;
    }
    close = strchr(p, '}');
    if (close == NULL || (size_t)(close - p - 1) >= sizeof(name)) {
      sb_free(&b);
      return oa_errf(err, n, -EINVAL, "the server URL %s is malformed", url);
    }
    memcpy(name, p + 1, (size_t)(close - p - 1));
    name[close - p - 1] = '\0';
    var = json_object_get(vars, name);
    v = chosen(op, args, name, var);
    if (v == NULL)
      v = json_string_value(json_object_get(var, "default"));
    if (v == NULL) {
      sb_free(&b);
      return oa_errf(err, n, -EINVAL, "the server URL %s: variable %s has no value", url, name);
    }
    sb_puts(&b, v);
    p = close;
  }
  /* The operation's path starts with '/'. */
  while (b.len > 0 && b.p[b.len - 1] == '/')
    b.p[--b.len] = '\0';
  *out = sb_take(&b);
  return *out != NULL ? 0 : oa_errf(err, n, -ENOMEM, "out of memory");
}
