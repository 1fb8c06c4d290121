/* oa_body.c -- an operation's message bodies: the request body becomes
 * arguments (its properties, or one "body" argument) and the first 2xx JSON
 * response the output schema. Pure. */
#define _POSIX_C_SOURCE 200809L

#include "openapi_internal.h"
#include "oa_chars.h"

#include <stdlib.h>
#include <string.h>

/* The 2xx response of op with the lowest code above after ("2XX" counts as
 * 300: after the explicit codes), not resolved; NULL when there is none.
 * *code gets its code. */
static const json_t *success_response(const json_t *op, int after, int *code) {
  const json_t *rs = json_object_get(op, "responses"), *best = NULL, *v;
  const char *k;
  *code = 1000;
  if (!json_is_object(rs))
    return NULL;
  json_object_foreach((json_t *)rs, k, v) {
    int cd;
    if (k[0] == '2' && k[1] >= '0' && k[1] <= '9' && k[2] >= '0' && k[2] <= '9' && !k[3])
      cd = atoi(k);
    else if (k[0] == '2' && (k[1] == 'X' || k[1] == 'x') && (k[2] == 'X' || k[2] == 'x') && !k[3])
      cd = 300;
    else
      continue;
    if (cd > after && cd < *code) {
      *code = cd;
      best = v;
    }
  }
  return best;
}

/* The key of the JSON media type in content (application/json first), or
 * NULL. */
static const char *json_media_key(const json_t *content, const char *want_form) {
  const char *k, *found = NULL;
  json_t *v;
  char buf[128];
  json_object_foreach((json_t *)content, k, v) {
    const char *mt = oa_media_type(k, buf, sizeof(buf));
    if (want_form != NULL) {
      if (strcmp(mt, want_form) == 0)
        return k;
    } else if (strcmp(mt, "application/json") == 0) {
      return k;
    } else if (found == NULL && oa_ends_with(mt, "+json")) {
      found = k;
    }
  }
  return found;
}

/* Loosens an output schema (in place) the way real backends need: a
 * property that is not required may also be null. Frameworks serialise an
 * absent optional field as null while their documents do not say so
 * (FastAPI with pydantic 1: Optional[X] = None is {"$ref": X}, not
 * nullable), and strict clients reject a result that does not match the
 * tool's output schema. Inputs are left strict. */
static void loosen_output(ctx *c, json_t *s, int depth) {
  static const char *const one[] = {"items", "additionalProperties", "not", NULL};
  static const char *const list[] = {"allOf", "anyOf", "oneOf", "prefixItems", NULL};
  json_t *props, *req, *v, *sub;
  const char *k;
  size_t i, j;
  if (!json_is_object(s) || depth > MAX_SCHEMA_DEPTH)
    return;
  props = json_object_get(s, "properties");
  req = json_object_get(s, "required");
  if (json_is_object(props)) {
    json_object_foreach(props, k, v) {
      int required = 0;
      json_array_foreach(req, j, sub) {
        if (json_is_string(sub) && strcmp(json_string_value(sub), k) == 0)
          required = 1;
      }
      loosen_output(c, v, depth + 1);
      if (!required && json_is_object(v))
        json_object_set_new(props, k, oa_apply_nullable(c, json_incref(v)));
    }
  }
  for (i = 0; one[i] != NULL; i++)
    loosen_output(c, json_object_get(s, one[i]), depth + 1);
  for (i = 0; list[i] != NULL; i++) {
    json_array_foreach(json_object_get(s, list[i]), j, sub) loosen_output(c, sub, depth + 1);
  }
  v = json_object_get(s, "$defs");
  if (json_is_object(v)) {
    json_object_foreach(v, k, sub) loosen_output(c, sub, depth + 1);
  }
}

/* The output schema: from the first 2xx response (by code) with a JSON
 * body schema, unless that response may also be something else than JSON;
 * o->mime_type from the first 2xx response's first media type. */
void oa_output_schema(ctx *c, const json_t *op, oa_operation *o) {
  const json_t *resp, *content, *media = NULL;
  json_t *conv, *top;
  char buf[128];
  int code = 0;
  while (media == NULL && (resp = success_response(op, code, &code)) != NULL) {
    const char *key;
    resp = oa_deref(c, resp, "a success response");
    content = json_object_get(resp, "content");
    if (!json_is_object(content))
      continue;
    if (o->mime_type == NULL && json_object_size(content) > 0) {
      oa_media_type(json_object_iter_key(json_object_iter((json_t *)content)), buf, sizeof(buf));
      if (buf[0] != '\0')
        o->mime_type = oa_xstrdup(c, buf);
    }
    key = json_media_key(content, NULL);
    media = key != NULL ? json_object_get(content, key) : NULL;
    if (!json_is_object(media) || json_object_get(media, "schema") == NULL)
      media = NULL;
  }
  if (media == NULL || c->opt->no_output_schemas)
    return;
  /* A response that may also be an image, text...: clients reject a result
   * without structuredContent when the tool declares an output schema. */
  {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)content, k, v) {
      if (!oa_is_json_media(oa_media_type(k, buf, sizeof(buf)))) {
        oa_warn(c, "no output schema: the %d response can also be %.60s", code, k);
        return;
      }
    }
  }
  conv = oa_conv_schema(c, json_object_get(media, "schema"), 0);
  if (conv == NULL)
    return;
  top = oa_deref_top(c, oa_chk(c, json_deep_copy(conv)));
  if (oa_is_object_schema(top)) {
    if (!oa_has_key(top, "type"))
      oa_oset(c, top, "type", json_string("object"));
    json_decref(conv);
    o->output_schema = top;
  } else {
    json_decref(top);
    o->output_schema = oa_chk(c, json_pack("{s:s,s:{s:o},s:[s]}", "type", "object", "properties",
                                           "result", conv, "required", "result"));
    o->output_wrapped = 1;
  }
  if (o->output_schema != NULL) {
    json_t *defs;
    oa_add_defs(c, o->output_schema);
    /* The $defs are shared with other schemas: loosen a copy of them. */
    defs = json_object_get(o->output_schema, "$defs");
    if (defs != NULL)
      oa_oset(c, o->output_schema, "$defs", oa_chk(c, json_deep_copy(defs)));
    loosen_output(c, o->output_schema, 0);
  }
}

/* How a request body of media type mt (from oa_media_type()) is sent, or
 * OA_BODY_NONE when mcpd cannot send it. *ct gets the Content-Type to send
 * (mt, or a concrete type for a wildcard). */
static enum oa_body body_kind(const char *mt, const char **ct) {
  *ct = mt;
  if (oa_is_json_media(mt))
    return OA_BODY_JSON;
  if (strcmp(mt, "application/x-www-form-urlencoded") == 0)
    return OA_BODY_FORM;
  if (strcmp(mt, "multipart/form-data") == 0)
    return OA_BODY_MULTIPART;
  if (strncmp(mt, "multipart/", 10) == 0 || mt[0] == '\0' || strchr(mt, '/') == NULL)
    return OA_BODY_NONE; /* mixed, related...: parts this does not know how to name */
  if (strcmp(mt, "text/*") == 0) {
    *ct = "text/plain";
    return OA_BODY_TEXT;
  }
  if (strcmp(mt, "*/*") == 0 || strcmp(mt, "application/*") == 0) {
    *ct = "application/octet-stream";
    return OA_BODY_BINARY;
  }
  if (strchr(mt, '*') != NULL)
    return OA_BODY_NONE; /* a partial wildcard: which type the bytes are, only the caller knows */
  if (strncmp(mt, "text/", 5) == 0 || oa_ends_with(mt, "+xml") ||
      strcmp(mt, "application/xml") == 0 || oa_ends_with(mt, "+yaml") ||
      strcmp(mt, "application/yaml") == 0 || strcmp(mt, "application/x-ndjson") == 0 ||
      strcmp(mt, "application/graphql") == 0 || strcmp(mt, "application/sql") == 0)
    return OA_BODY_TEXT;
  return OA_BODY_BINARY;
}

/* The key of the media type in content that is sent best (JSON, form, multipart,
 * text, bytes: the first of each kind in the document), or NULL. */
static const char *best_media(const json_t *content, enum oa_body *kind, const char **ct, char *buf,
                              size_t n) {
  static const enum oa_body order[] = {OA_BODY_JSON, OA_BODY_FORM, OA_BODY_MULTIPART, OA_BODY_TEXT,
                                       OA_BODY_BINARY};
  const char *k, *t;
  json_t *v;
  size_t i;
  const char *json_key = json_media_key(content, NULL);
  if (json_key != NULL) {
    *kind = OA_BODY_JSON;
    *ct = oa_media_type(json_key, buf, n);
    return json_key;
  }
  for (i = 1; i < sizeof(order) / sizeof(order[0]); i++) {
    json_object_foreach((json_t *)content, k, v) {
      if (body_kind(oa_media_type(k, buf, n), &t) == order[i]) {
        *kind = order[i];
        *ct = t;
        return k;
      }
    }
  }
  return NULL;
}

/* Whether the converted property schema s describes a file: a string of bytes
 * (OpenAPI 3.0 format: binary, 3.1 contentMediaType without contentEncoding). */
static int is_file_schema(const json_t *s) {
  const char *f = json_string_value(json_object_get(s, "format"));
  const json_t *t = json_object_get(s, "type");
  if (t != NULL && !(json_is_string(t) && strcmp(json_string_value(t), "string") == 0))
    return 0;
  return (f != NULL && strcmp(f, "binary") == 0) ||
         (json_object_get(s, "contentMediaType") != NULL &&
          json_object_get(s, "contentEncoding") == NULL);
}

/* The argument schema of a file part. */
static json_t *file_schema(ctx *c, const json_t *orig) {
  const json_t *d = json_object_get(orig, "description");
  sbuf b = {0};
  json_t *s;
  if (json_is_string(d))
    sb_printf(&b, "%s\n\n", json_string_value(d));
  sb_puts(&b, "A file: {\"content_base64\": its bytes in base64} or {\"uri\": a resource URI "
              "of this server, e.g. from resources/list}, exactly one of the two, with "
              "\"filename\": its name (optional; default the URI's last segment, else the "
              "field's name), \"mime_type\": its media type (optional; default the resource's "
              "mimeType, else application/octet-stream). Sent as a part of a "
              "multipart/form-data body.");
  if (b.oom) {
    c->oom = 1;
    sb_free(&b);
    return NULL;
  }
  s = oa_chk(c, json_pack("{s:s,s:s,s:{s:{s:s,s:s},s:{s:s},s:{s:s},s:{s:s}},s:b}", "type", "object",
                          "description", b.p, "properties", "content_base64", "type", "string",
                          "contentEncoding", "base64", "uri", "type", "string", "filename", "type",
                          "string", "mime_type", "type", "string", "additionalProperties", 0));
  sb_free(&b);
  return s;
}

int oa_file_arg(const json_t *s) {
  const json_t *b64 = json_object_get(json_object_get(s, "properties"), "content_base64");
  const char *t = json_string_value(json_object_get(s, "type"));
  if (t != NULL && strcmp(t, "array") == 0)
    return oa_file_arg(json_object_get(s, "items")) == 1 ? 2 : 0;
  return b64 != NULL && json_is_false(json_object_get(s, "additionalProperties")) &&
         json_is_string(json_object_get(b64, "contentEncoding"));
}

/* multipart/form-data: file properties (and arrays of files) get the file argument
 * schema. */
static void multipart_props(ctx *c, json_t *props) {
  const char *k;
  json_t *v;
  json_object_foreach(props, k, v) {
    const json_t *items = json_object_get(v, "items");
    const char *t = json_string_value(json_object_get(v, "type"));
    if (is_file_schema(v)) {
      json_object_set_new(props, k, file_schema(c, v));
    } else if (t != NULL && strcmp(t, "array") == 0 && is_file_schema(items)) {
      json_t *f = file_schema(c, items);
      json_t *arr = oa_chk(c, json_deep_copy(v));
      oa_oset(c, arr, "items", f);
      json_object_set_new(props, k, arr);
    }
  }
}

/* The body: sets o->body, o->content_type, o->body_required; fills props
 * (name -> schema) and req, or *whole. -1 when the operation must be
 * skipped (a body of a type that cannot be sent: a tool never drops an
 * argument, so it gets no tool at all). */
int oa_body_schema(ctx *c, const json_t *op, oa_operation *o, json_t **props, json_t **req,
                   json_t **whole) {
  const json_t *rb = json_object_get(op, "requestBody"), *content, *media, *s, *desc;
  const char *key, *ct = NULL;
  json_t *conv, *top;
  char buf[128];
  enum oa_body kind = OA_BODY_NONE;
  int required;
  if (rb == NULL)
    return 0;
  rb = oa_deref(c, rb, "the request body");
  if (rb == NULL)
    return 0;
  if (!json_is_object(rb)) {
    oa_warn(c, "the request body is %s, not an object; ignored", oa_type_name(rb));
    return 0;
  }
  required = json_is_true(json_object_get(rb, "required"));
  content = json_object_get(rb, "content");
  if (!json_is_object(content) || json_object_size(content) == 0) {
    oa_warn(c, "the request body has no content; ignored");
    return 0;
  }
  key = best_media(content, &kind, &ct, buf, sizeof(buf));
  if (key == NULL) {
    const char *first = json_object_iter_key(json_object_iter((json_t *)content));
    oa_warn(c,
            "the request body is %.60s%s, which mcpd cannot send (JSON, form, multipart/form-data, "
            "text and bytes it can); operation skipped",
            first, json_object_size(content) > 1 ? " (or others)" : "");
    return -1;
  }
  o->body = kind;
  o->content_type = oa_xstrdup(c, ct);
  o->body_required = required;
  media = json_object_get(content, key);
  s = json_object_get(media, "schema");
  desc = json_object_get(rb, "description");
  if (kind == OA_BODY_TEXT || kind == OA_BODY_BINARY) {
    sbuf b = {0};
    if (json_is_string(desc))
      sb_printf(&b, "%s\n\n", json_string_value(desc));
    if (kind == OA_BODY_TEXT)
      sb_printf(&b, "The request body (%s), as text.", ct);
    else
      sb_printf(&b, "The request body (%s): its bytes in base64.", ct);
    *whole = b.oom ? NULL : oa_chk(c, json_pack("{s:s,s:s}", "type", "string", "description", b.p));
    if (*whole != NULL && kind == OA_BODY_BINARY)
      oa_oset(c, *whole, "contentEncoding", json_string("base64"));
    c->oom |= b.oom;
    sb_free(&b);
    return 0;
  }
  conv = s != NULL ? oa_conv_schema(c, s, 0) : oa_chk(c, json_object());
  if (conv == NULL)
    return 0;
  top = oa_deref_top(c, oa_chk(c, json_deep_copy(conv)));
  *props = oa_chk(c, json_object());
  *req = oa_chk(c, json_array());
  if (oa_merge_object(c, top, *props, *req, 0) && json_object_size(*props) > 0) {
    /* Properties that the server sets are not sent. */
    const char *k;
    json_t *v;
    void *tmp;
    size_t i;
    json_object_foreach_safe(*props, tmp, k, v) {
      if (json_is_true(json_object_get(v, "readOnly")))
        json_object_del(*props, k);
    }
    for (i = json_array_size(*req); i-- > 0;) {
      const char *r = json_string_value(json_array_get(*req, i));
      if (!required || !oa_has_key(*props, r))
        json_array_remove(*req, i);
    }
    if (kind == OA_BODY_MULTIPART)
      multipart_props(c, *props);
    json_decref(conv);
  } else if (kind == OA_BODY_MULTIPART) {
    /* Parts need names: a body that is no object with properties has none. */
    json_decref(*props);
    json_decref(*req);
    *props = *req = NULL;
    json_decref(conv);
    json_decref(top);
    oa_warn(c, "the multipart/form-data body is not an object with properties, so its parts "
               "have no names; operation skipped");
    return -1;
  } else {
    json_decref(*props);
    json_decref(*req);
    *props = *req = NULL;
    if (json_is_boolean(conv)) {
      int t = json_is_true(conv);
      json_decref(conv);
      conv = oa_chk(c, t ? json_object() : json_pack("{s:{}}", "not"));
    }
    if (json_is_string(desc) && conv != NULL && !oa_has_key(conv, "description"))
      oa_oset(c, conv, "description", json_incref((json_t *)desc));
    *whole = conv;
  }
  json_decref(top);
  return 0;
}
