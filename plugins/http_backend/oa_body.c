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
  if (media == NULL)
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

/* The body: sets o->body, o->content_type, o->body_required; fills props
 * (name -> schema) and req, or *whole. -1 when the operation must be
 * skipped (a required body of a type that cannot be sent). */
int oa_body_schema(ctx *c, const json_t *op, oa_operation *o, json_t **props, json_t **req,
                   json_t **whole) {
  const json_t *rb = json_object_get(op, "requestBody"), *content, *media, *s, *desc;
  const char *key;
  json_t *conv, *top;
  char buf[128];
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
  key = json_media_key(content, NULL);
  o->body = OA_BODY_JSON;
  if (key == NULL) {
    key = json_media_key(content, "application/x-www-form-urlencoded");
    o->body = OA_BODY_FORM;
  }
  if (key == NULL) {
    const char *first = json_object_iter_key(json_object_iter((json_t *)content));
    o->body = OA_BODY_NONE;
    if (required) {
      oa_warn(c,
              "the request body is %.60s%s, which cannot be sent (JSON and form bodies can); "
              "operation skipped",
              first, json_object_size(content) > 1 ? " (or others)" : "");
      return -1;
    }
    oa_warn(c, "the optional request body is %.60s%s, which cannot be sent; calls send no body",
            first, json_object_size(content) > 1 ? " (or others)" : "");
    return 0;
  }
  o->content_type = oa_xstrdup(c, oa_media_type(key, buf, sizeof(buf)));
  o->body_required = required;
  media = json_object_get(content, key);
  s = json_object_get(media, "schema");
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
    json_decref(conv);
  } else {
    json_decref(*props);
    json_decref(*req);
    *props = *req = NULL;
    if (json_is_boolean(conv)) {
      int t = json_is_true(conv);
      json_decref(conv);
      conv = oa_chk(c, t ? json_object() : json_pack("{s:{}}", "not"));
    }
    desc = json_object_get(rb, "description");
    if (json_is_string(desc) && conv != NULL && !oa_has_key(conv, "description"))
      oa_oset(c, conv, "description", json_incref((json_t *)desc));
    *whole = conv;
  }
  json_decref(top);
  return 0;
}
