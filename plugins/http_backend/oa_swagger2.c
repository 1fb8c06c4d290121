/* oa_swagger2.c -- a Swagger 2.0 document as the OpenAPI 3.0 document it
 * stands for, so the rest of the converter reads one shape:
 *   definitions, parameters, responses  -> components.schemas, .parameters, .responses
 *                                          (and their $refs rewritten)
 *   a body parameter                    -> requestBody, one content per consumes type
 *   formData parameters                 -> requestBody of an object, multipart/form-data
 *                                          or application/x-www-form-urlencoded as
 *                                          consumes says (type: file: string/binary)
 *   type, items, collectionFormat, ...  -> schema, style and explode
 *   a response's schema and examples    -> content, one per produces type
 *   host, basePath, schemes             -> servers
 *   securityDefinitions                 -> components.securitySchemes (oauth2 flows
 *                                          renamed)
 * Whatever has no 3.0 form is said in a warning. Pure (see openapi_internal.h). */
#define _POSIX_C_SOURCE 200809L

#include "openapi_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* JSON's own media type: what consumes and produces default to (Swagger
 * says the global lists apply; with none, JSON is what APIs send). */
static const char *const JSON_TYPE = "application/json";

/* A borrowed value of doc as a new reference the caller owns: parts that
 * need no change are shared, never changed afterwards. */
static json_t *share(const json_t *v) {
  return json_incref((json_t *)v);
}

/* ---- schemas ---------------------------------------------------------------------- */

/* "#/definitions/X" -> "#/components/schemas/X", and so for parameters and
 * responses; any other reference as it is. A new string (NULL: out of memory). */
static json_t *conv_ref(const char *ref) {
  static const struct {
    const char *from, *to;
  } map[] = {{"#/definitions/", "#/components/schemas/"},
             {"#/parameters/", "#/components/parameters/"},
             {"#/responses/", "#/components/responses/"}};
  size_t i;
  for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
    size_t k = strlen(map[i].from);
    if (strncmp(ref, map[i].from, k) == 0) {
      sbuf b = {0};
      char *s;
      json_t *j;
      sb_puts(&b, map[i].to);
      sb_puts(&b, ref + k);
      s = sb_take(&b);
      j = s != NULL ? json_string(s) : NULL;
      free(s);
      return j;
    }
  }
  return json_string(ref);
}

/* A copy of the Swagger schema (or any value inside one) v, in 3.0 terms:
 * references rewritten, type: file as binary strings, x-nullable as
 * nullable, a discriminator's property name as a discriminator object. */
static json_t *conv_schema(ctx *c, const json_t *v, int depth) {
  const char *k;
  json_t *x, *out;
  size_t i;
  if (depth > 2 * MAX_SCHEMA_DEPTH) {
    oa_warn(c, "a schema nested deeper than %d levels; cut there", 2 * MAX_SCHEMA_DEPTH);
    return oa_chk(c, json_object());
  }
  if (json_is_array(v)) {
    out = oa_chk(c, json_array());
    json_array_foreach(v, i, x) oa_apush(c, out, conv_schema(c, x, depth + 1));
    return out;
  }
  if (!json_is_object(v))
    return share(v);
  out = oa_chk(c, json_object());
  json_object_foreach((json_t *)v, k, x) {
    if (strcmp(k, "$ref") == 0 && json_is_string(x))
      oa_oset(c, out, k, oa_chk(c, conv_ref(json_string_value(x))));
    else if (strcmp(k, "type") == 0 && json_is_string(x) &&
             strcmp(json_string_value(x), "file") == 0) {
      oa_oset(c, out, "type", oa_chk(c, json_string("string")));
      oa_oset(c, out, "format", oa_chk(c, json_string("binary")));
    } else if (strcmp(k, "format") == 0 && oa_has_key(out, "format"))
      continue; /* a file's binary wins */
    else if (strcmp(k, "x-nullable") == 0 && json_is_boolean(x))
      oa_oset(c, out, "nullable", share(x));
    else if (strcmp(k, "discriminator") == 0 && json_is_string(x))
      oa_oset(c, out, k, oa_chk(c, json_pack("{sO}", "propertyName", x)));
    else
      oa_oset(c, out, k, conv_schema(c, x, depth + 1));
  }
  return out;
}

/* ---- parameters --------------------------------------------------------------------- */

/* The keys of a Swagger parameter (or items object) that are its schema. */
static const char *const SCHEMA_KEYS[] = {
    "type",     "format",           "items",     "default",    "maximum",    "exclusiveMaximum",
    "minimum",  "exclusiveMinimum", "maxLength", "minLength",  "pattern",    "maxItems",
    "minItems", "uniqueItems",      "enum",      "multipleOf", "x-nullable",
};

/* The schema of a non-body parameter p (or of an items object): a new
 * reference. */
static json_t *param_schema(ctx *c, const json_t *p, int depth) {
  json_t *s = oa_chk(c, json_object()), *conv;
  size_t i;
  for (i = 0; i < sizeof(SCHEMA_KEYS) / sizeof(SCHEMA_KEYS[0]); i++) {
    const json_t *v = json_object_get(p, SCHEMA_KEYS[i]);
    if (v == NULL)
      continue;
    if (strcmp(SCHEMA_KEYS[i], "items") == 0 && json_is_object(v) && depth < MAX_SCHEMA_DEPTH)
      oa_oset(c, s, "items",
              oa_has_key(v, "$ref") ? conv_schema(c, v, 0) : param_schema(c, v, depth + 1));
    else
      oa_oset(c, s, SCHEMA_KEYS[i], share(v));
  }
  /* type: file, x-nullable and the rest, in one place. */
  conv = conv_schema(c, s, 0);
  json_decref(s);
  return conv;
}

/* Style and explode from collectionFormat (default csv) for an array
 * parameter in "in". */
static void set_style(ctx *c, json_t *out, const json_t *p, const char *in) {
  const char *cf = json_string_value(json_object_get(p, "collectionFormat"));
  const char *style = NULL;
  int explode = 0;
  int query = strcmp(in, "query") == 0;
  if (cf == NULL || strcmp(cf, "csv") == 0)
    style = query || strcmp(in, "cookie") == 0 ? "form" : "simple";
  else if (strcmp(cf, "multi") == 0 && query) {
    style = "form";
    explode = 1;
  } else if (strcmp(cf, "ssv") == 0 && query)
    style = "spaceDelimited";
  else if (strcmp(cf, "pipes") == 0 && query)
    style = "pipeDelimited";
  else {
    oa_warn(c,
            "parameter %.80s: collectionFormat \"%.20s\" in %s has no OpenAPI 3 form; sent "
            "comma-separated",
            json_string_value(json_object_get(p, "name")), cf, in);
    style = query ? "form" : "simple";
  }
  oa_oset(c, out, "style", oa_chk(c, json_string(style)));
  oa_oset(c, out, "explode", json_boolean(explode));
}

/* A path, query, header parameter p as a 3.0 parameter: a new reference. */
static json_t *conv_param(ctx *c, const json_t *p) {
  static const char *const keep[] = {
      "name", "in", "description", "required", "allowEmptyValue", "deprecated"};
  const char *k, *in = json_string_value(json_object_get(p, "in"));
  json_t *out = oa_chk(c, json_object()), *v, *schema;
  size_t i;
  for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
    const json_t *x = json_object_get(p, keep[i]);
    if (x != NULL)
      oa_oset(c, out, keep[i], share(x));
  }
  json_object_foreach((json_t *)p, k, v) {
    if (strncmp(k, "x-", 2) == 0 && strcmp(k, "x-nullable") != 0)
      oa_oset(c, out, k, share(v));
  }
  schema = param_schema(c, p, 0);
  if (json_is_string(json_object_get(p, "type")) &&
      strcmp(json_string_value(json_object_get(p, "type")), "array") == 0 && in != NULL)
    set_style(c, out, p, in);
  oa_oset(c, out, "schema", schema);
  return out;
}

/* ---- request bodies ------------------------------------------------------------------- */

/* One content entry {"schema": schema} per media type of types (an array of
 * strings; JSON when empty), into a new "content" object. schema borrowed. */
static json_t *contents(ctx *c, const json_t *types, const json_t *schema) {
  json_t *content = oa_chk(c, json_object()), *t;
  size_t i;
  int any = 0;
  json_array_foreach(types, i, t) {
    const char *mt = json_string_value(t);
    if (mt == NULL)
      continue;
    oa_oset(c, content, mt,
            oa_chk(c, schema ? json_pack("{sO}", "schema", schema) : json_object()));
    any = 1;
  }
  if (!any)
    oa_oset(c, content, JSON_TYPE,
            oa_chk(c, schema ? json_pack("{sO}", "schema", schema) : json_object()));
  return content;
}

/* The requestBody of a body parameter p. */
static json_t *body_request(ctx *c, const json_t *p, const json_t *consumes) {
  json_t *rb = oa_chk(c, json_object()), *schema;
  const json_t *v;
  if ((v = json_object_get(p, "description")) != NULL)
    oa_oset(c, rb, "description", share(v));
  if (json_is_true(json_object_get(p, "required")))
    oa_oset(c, rb, "required", json_true());
  schema = conv_schema(c, json_object_get(p, "schema"), 0);
  if (json_object_get(p, "schema") == NULL)
    oa_warn(c, "the body parameter has no schema; any JSON value is taken");
  oa_oset(c, rb, "content", contents(c, consumes, schema));
  json_decref(schema);
  /* Where generators keep the name 3.0 has no place for. */
  if ((v = json_object_get(p, "name")) != NULL)
    oa_oset(c, rb, "x-codegen-request-body-name", share(v));
  return rb;
}

/* The requestBody of the formData parameters form (an array, borrowed). */
static json_t *form_request(ctx *c, const json_t *form, const json_t *consumes) {
  static const char *const types[] = {"multipart/form-data", "application/x-www-form-urlencoded"};
  json_t *schema = oa_chk(c, json_object()), *props = oa_chk(c, json_object());
  json_t *req = oa_chk(c, json_array()), *enc = oa_chk(c, json_object());
  json_t *rb = oa_chk(c, json_object()), *content = oa_chk(c, json_object()), *p;
  size_t i;
  int file = 0, any = 0;
  json_array_foreach(form, i, p) {
    const char *name = json_string_value(json_object_get(p, "name"));
    const char *type = json_string_value(json_object_get(p, "type"));
    json_t *s;
    if (name == NULL)
      continue;
    s = param_schema(c, p, 0);
    if (json_object_get(p, "description") != NULL)
      oa_oset(c, s, "description", share(json_object_get(p, "description")));
    oa_oset(c, props, name, s);
    if (json_is_true(json_object_get(p, "required")))
      oa_apush(c, req, oa_chk(c, json_string(name)));
    if (type != NULL && strcmp(type, "file") == 0)
      file = 1;
    if (type != NULL && strcmp(type, "array") == 0) {
      const char *cf = json_string_value(json_object_get(p, "collectionFormat"));
      int multi = cf != NULL && strcmp(cf, "multi") == 0;
      oa_oset(c, enc, name, oa_chk(c, json_pack("{sssb}", "style", "form", "explode", multi)));
    }
  }
  oa_oset(c, schema, "type", oa_chk(c, json_string("object")));
  oa_oset(c, schema, "properties", props);
  if (json_array_size(req) > 0)
    oa_oset(c, schema, "required", json_incref(req));
  for (i = 0; i < 2; i++) {
    if (!oa_str_in(consumes, types[i]))
      continue;
    oa_oset(c, content, types[i], oa_chk(c, json_pack("{sO}", "schema", schema)));
    if (json_object_size(enc) > 0)
      oa_oset(c, json_object_get(content, types[i]), "encoding", json_incref(enc));
    any = 1;
  }
  if (!any) {
    /* consumes names neither: a file needs multipart, anything else goes as a form. */
    const char *t = file ? types[0] : types[1];
    oa_oset(c, content, t, oa_chk(c, json_pack("{sO}", "schema", schema)));
    if (json_object_size(enc) > 0)
      oa_oset(c, json_object_get(content, t), "encoding", json_incref(enc));
  }
  oa_oset(c, rb, "content", content);
  if (json_array_size(req) > 0)
    oa_oset(c, rb, "required", json_true());
  json_decref(schema);
  json_decref(req);
  json_decref(enc);
  return rb;
}

/* ---- responses -------------------------------------------------------------------------- */

static json_t *conv_response(ctx *c, const json_t *r, const json_t *produces) {
  const char *k;
  json_t *out, *v;
  if (json_is_string(json_object_get(r, "$ref")))
    return oa_chk(
        c, json_pack("{so}", "$ref", conv_ref(json_string_value(json_object_get(r, "$ref")))));
  if (!json_is_object(r))
    return share(r);
  out = oa_chk(c, json_object());
  v = json_object_get(r, "description");
  oa_oset(c, out, "description", json_is_string(v) ? share(v) : oa_chk(c, json_string("")));
  if (json_object_get(r, "schema") != NULL) {
    json_t *schema = conv_schema(c, json_object_get(r, "schema"), 0);
    oa_oset(c, out, "content", contents(c, produces, schema));
    json_decref(schema);
  }
  v = json_object_get(r, "examples");
  if (json_is_object(v)) {
    json_t *content = json_object_get(out, "content"), *ex;
    json_object_foreach(v, k, ex) {
      json_t *media = json_object_get(content, k);
      if (media != NULL)
        oa_oset(c, media, "example", share(ex));
    }
  }
  v = json_object_get(r, "headers");
  if (json_is_object(v)) {
    json_t *hs = oa_chk(c, json_object()), *h;
    json_object_foreach(v, k, h) {
      json_t *nh = oa_chk(c, json_object());
      if (json_object_get(h, "description") != NULL)
        oa_oset(c, nh, "description", share(json_object_get(h, "description")));
      oa_oset(c, nh, "schema", param_schema(c, h, 0));
      oa_oset(c, hs, k, nh);
    }
    oa_oset(c, out, "headers", hs);
  }
  json_object_foreach((json_t *)r, k, v) {
    if (strncmp(k, "x-", 2) == 0)
      oa_oset(c, out, k, share(v));
  }
  return out;
}

static json_t *conv_responses(ctx *c, const json_t *rs, const json_t *produces) {
  const char *k;
  json_t *out = oa_chk(c, json_object()), *r;
  json_object_foreach((json_t *)rs, k, r) {
    oa_oset(c, out, k, strncmp(k, "x-", 2) == 0 ? share(r) : conv_response(c, r, produces));
  }
  return out;
}

/* ---- operations ---------------------------------------------------------------------------- */

/* A parameter of the operation, or of its path item: $refs to the
 * document's "parameters" followed (one hop; NULL with a warning when it
 * goes nowhere). */
static const json_t *param_at(ctx *c, const json_t *p) {
  const char *ref = json_string_value(json_object_get(p, "$ref"));
  sbuf name = {0};
  const json_t *found = NULL;
  if (ref == NULL)
    return json_is_object(p) ? p : NULL;
  if (oa_ref_name(ref, "#/parameters/", &name) && name.p != NULL)
    found = json_object_get(json_object_get(c->doc, "parameters"), name.p);
  sb_free(&name);
  if (!json_is_object(found))
    oa_warn(c, "the parameter reference %.100s goes nowhere; left out", ref);
  return json_is_object(found) ? found : NULL;
}

/* Whether the parameters a and b are the same (name and in). */
static int same_param(const json_t *a, const json_t *b) {
  const char *na = json_string_value(json_object_get(a, "name"));
  const char *nb = json_string_value(json_object_get(b, "name"));
  const char *ia = json_string_value(json_object_get(a, "in"));
  const char *ib = json_string_value(json_object_get(b, "in"));
  return na != NULL && nb != NULL && ia != NULL && ib != NULL && strcmp(na, nb) == 0 &&
         strcmp(ia, ib) == 0;
}

static json_t *conv_op(ctx *c, const json_t *op, const json_t *item_params, const json_t *consumes,
                       const json_t *produces) {
  const json_t *lists[2] = {item_params, json_object_get(op, "parameters")};
  json_t *out = oa_chk(c, json_object()), *params = oa_chk(c, json_array());
  json_t *form = oa_chk(c, json_array()), *v;
  const json_t *body = NULL, *p;
  const char *k;
  size_t l, i, j;

  if (json_is_array(json_object_get(op, "consumes")))
    consumes = json_object_get(op, "consumes");
  if (json_is_array(json_object_get(op, "produces")))
    produces = json_object_get(op, "produces");
  json_object_foreach((json_t *)op, k, v) {
    if (strcmp(k, "parameters") != 0 && strcmp(k, "responses") != 0 && strcmp(k, "consumes") != 0 &&
        strcmp(k, "produces") != 0 && strcmp(k, "schemes") != 0)
      oa_oset(c, out, k, share(v));
  }
  for (l = 0; l < 2; l++) {
    json_array_foreach(lists[l], i, v) {
      const char *in;
      int overridden = 0;
      p = param_at(c, v);
      if (p == NULL)
        continue;
      /* An operation's parameter replaces its path item's of the same name and place. */
      for (j = 0; l == 0 && j < json_array_size(lists[1]); j++) {
        const json_t *q = param_at(c, json_array_get(lists[1], j));
        overridden |= q != NULL && same_param(p, q);
      }
      if (overridden)
        continue;
      in = json_string_value(json_object_get(p, "in"));
      if (in == NULL) {
        oa_warn(c, "a parameter has no \"in\"; left out");
      } else if (strcmp(in, "body") == 0) {
        if (body != NULL)
          oa_warn(c, "a second body parameter; left out");
        else
          body = p;
      } else if (strcmp(in, "formData") == 0)
        oa_apush(c, form, share(p));
      else
        oa_apush(c, params, conv_param(c, p));
    }
  }
  if (json_array_size(params) > 0)
    oa_oset(c, out, "parameters", json_incref(params));
  if (body != NULL) {
    if (json_array_size(form) > 0)
      oa_warn(c, "both a body and formData parameters; the formData ones are left out");
    oa_oset(c, out, "requestBody", body_request(c, body, consumes));
  } else if (json_array_size(form) > 0)
    oa_oset(c, out, "requestBody", form_request(c, form, consumes));
  v = json_object_get(op, "responses");
  oa_oset(c, out, "responses",
          json_is_object(v) ? conv_responses(c, v, produces) : oa_chk(c, json_object()));
  json_decref(params);
  json_decref(form);
  return out;
}

static json_t *conv_paths(ctx *c, const json_t *paths, const json_t *consumes,
                          const json_t *produces) {
  const char *path, *k;
  json_t *out = oa_chk(c, json_object()), *item, *v;
  json_object_foreach((json_t *)paths, path, item) {
    json_t *ni;
    int m;
    if (!json_is_object(item)) {
      oa_oset(c, out, path, share(item));
      continue;
    }
    ni = oa_chk(c, json_object());
    json_object_foreach(item, k, v) {
      int is_method = 0;
      for (m = 0; m < N_METHODS; m++)
        is_method |= strcmp(k, OA_METHODS[m]) == 0;
      if (is_method && json_is_object(v)) {
        for (m = 0; strcmp(k, OA_METHODS[m]) != 0; m++)
          ;
        oa_set_where(c, m, path);
        oa_oset(c, ni, k, conv_op(c, v, json_object_get(item, "parameters"), consumes, produces));
      } else if (strcmp(k, "parameters") != 0)
        oa_oset(c, ni, k, share(v));
    }
    oa_oset(c, out, path, ni);
  }
  c->where[0] = '\0';
  return out;
}

/* ---- the document ---------------------------------------------------------------------------- */

/* d[key] (3.0 requires the URLs of a flow: "" when the document has none). */
static json_t *url_of(ctx *c, const json_t *d, const char *key) {
  const json_t *v = json_object_get(d, key);
  return json_is_string(v) ? share(v) : oa_chk(c, json_string(""));
}

static json_t *conv_security(ctx *c, const json_t *defs) {
  static const char *const flows[][2] = {{"implicit", "implicit"},
                                         {"password", "password"},
                                         {"application", "clientCredentials"},
                                         {"accessCode", "authorizationCode"}};
  const char *name, *k;
  json_t *out = oa_chk(c, json_object()), *d, *v;
  json_object_foreach((json_t *)defs, name, d) {
    const char *type = json_string_value(json_object_get(d, "type"));
    json_t *s = oa_chk(c, json_object());
    snprintf(c->where, sizeof(c->where), "securityDefinitions %.100s", name);
    if (type != NULL && strcmp(type, "basic") == 0) {
      oa_oset(c, s, "type", oa_chk(c, json_string("http")));
      oa_oset(c, s, "scheme", oa_chk(c, json_string("basic")));
    } else if (type != NULL && strcmp(type, "apiKey") == 0) {
      oa_oset(c, s, "type", oa_chk(c, json_string("apiKey")));
      if (json_object_get(d, "name") != NULL)
        oa_oset(c, s, "name", share(json_object_get(d, "name")));
      if (json_object_get(d, "in") != NULL)
        oa_oset(c, s, "in", share(json_object_get(d, "in")));
    } else if (type != NULL && strcmp(type, "oauth2") == 0) {
      const char *flow = json_string_value(json_object_get(d, "flow"));
      json_t *f = oa_chk(c, json_object());
      size_t i;
      for (i = 0; flow != NULL && i < sizeof(flows) / sizeof(flows[0]); i++) {
        if (strcmp(flow, flows[i][0]) == 0)
          break;
      }
      if (flow == NULL || i == sizeof(flows) / sizeof(flows[0])) {
        oa_warn(c, "oauth2 flow \"%.30s\" is not a Swagger 2.0 flow; left out", flow ? flow : "");
        json_decref(f);
        json_decref(s);
        continue;
      }
      if (strcmp(flow, "implicit") == 0 || strcmp(flow, "accessCode") == 0)
        oa_oset(c, f, "authorizationUrl", url_of(c, d, "authorizationUrl"));
      if (strcmp(flow, "implicit") != 0)
        oa_oset(c, f, "tokenUrl", url_of(c, d, "tokenUrl"));
      v = json_object_get(d, "scopes");
      oa_oset(c, f, "scopes", json_is_object(v) ? share(v) : oa_chk(c, json_object()));
      oa_oset(c, s, "type", oa_chk(c, json_string("oauth2")));
      oa_oset(c, s, "flows", oa_chk(c, json_pack("{so}", flows[i][1], f)));
    } else {
      oa_warn(c, "type \"%.30s\" is not a Swagger 2.0 security scheme; left out", type ? type : "");
      json_decref(s);
      continue;
    }
    json_object_foreach(d, k, v) {
      if (strcmp(k, "description") == 0 || strncmp(k, "x-", 2) == 0)
        oa_oset(c, s, k, share(v));
    }
    oa_oset(c, out, name, s);
  }
  c->where[0] = '\0';
  return out;
}

static json_t *servers(ctx *c, const json_t *doc) {
  const char *host = json_string_value(json_object_get(doc, "host"));
  const char *base = json_string_value(json_object_get(doc, "basePath"));
  const json_t *schemes = json_object_get(doc, "schemes"), *s;
  json_t *out = oa_chk(c, json_array());
  size_t i;
  if (base == NULL)
    base = "";
  if (host == NULL) {
    if (base[0] != '\0')
      oa_apush(c, out, oa_chk(c, json_pack("{ss}", "url", base)));
    return out;
  }
  json_array_foreach(schemes, i, s) {
    sbuf b = {0};
    char *url;
    if (!json_is_string(s))
      continue;
    sb_printf(&b, "%s://%s%s", json_string_value(s), host, base);
    url = sb_take(&b);
    oa_apush(c, out, oa_chk(c, url ? json_pack("{ss}", "url", url) : NULL));
    free(url);
  }
  if (json_array_size(out) == 0) {
    /* No schemes: the one the document came by; HTTPS is the likely one. */
    sbuf b = {0};
    char *url;
    sb_printf(&b, "https://%s%s", host, base);
    url = sb_take(&b);
    oa_apush(c, out, oa_chk(c, url ? json_pack("{ss}", "url", url) : NULL));
    free(url);
  }
  return out;
}

json_t *oa_swagger2_convert(ctx *c, const json_t *doc) {
  const json_t *consumes = json_object_get(doc, "consumes");
  const json_t *produces = json_object_get(doc, "produces");
  json_t *out = oa_chk(c, json_object()), *comp = oa_chk(c, json_object()), *v, *x;
  const char *k, *name;

  oa_oset(c, out, "openapi", oa_chk(c, json_string("3.0.3")));
  json_object_foreach((json_t *)doc, k, v) {
    if (strcmp(k, "info") == 0 || strcmp(k, "tags") == 0 || strcmp(k, "externalDocs") == 0 ||
        strcmp(k, "security") == 0 || strncmp(k, "x-", 2) == 0)
      oa_oset(c, out, k, share(v));
  }
  v = servers(c, doc);
  if (json_array_size(v) > 0)
    oa_oset(c, out, "servers", v);
  else
    json_decref(v);
  oa_oset(c, out, "paths", conv_paths(c, json_object_get(doc, "paths"), consumes, produces));

  if (json_is_object(json_object_get(doc, "definitions"))) {
    json_t *schemas = oa_chk(c, json_object());
    json_object_foreach(json_object_get(doc, "definitions"), name, x) {
      snprintf(c->where, sizeof(c->where), "definitions %.100s", name);
      oa_oset(c, schemas, name, conv_schema(c, x, 0));
    }
    oa_oset(c, comp, "schemas", schemas);
  }
  if (json_is_object(json_object_get(doc, "parameters"))) {
    /* Body and formData parameters have no place here: operations inline them. */
    json_t *ps = oa_chk(c, json_object());
    json_object_foreach(json_object_get(doc, "parameters"), name, x) {
      const char *in = json_string_value(json_object_get(x, "in"));
      if (in != NULL && strcmp(in, "body") != 0 && strcmp(in, "formData") != 0)
        oa_oset(c, ps, name, conv_param(c, x));
    }
    oa_oset(c, comp, "parameters", ps);
  }
  if (json_is_object(json_object_get(doc, "responses")))
    oa_oset(c, comp, "responses", conv_responses(c, json_object_get(doc, "responses"), produces));
  if (json_is_object(json_object_get(doc, "securityDefinitions")))
    oa_oset(c, comp, "securitySchemes",
            conv_security(c, json_object_get(doc, "securityDefinitions")));
  c->where[0] = '\0';
  oa_oset(c, out, "components", comp);
  if (c->oom) {
    json_decref(out);
    return NULL;
  }
  return out;
}
