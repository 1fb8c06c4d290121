/* oa_meta.c -- the meta-tools of tools_mode "search" (see oa_meta.h). */
#define _POSIX_C_SOURCE 200809L

#include "oa_meta.h"
#include "oa_search.h"
#include "sbuf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct meta_op {
  size_t op;    /* index in api->ops */
  char *schema; /* owned: the input schema as compact JSON */
  char *tags;   /* owned: the tags, each followed by '\n'; "" for none */
} meta_op;

struct oa_meta {
  oa_search *index; /* document i is ops[i] */
  meta_op *ops;
  size_t n;
};

static const char *const SUFFIX[OA_META_COUNT] = {"search_operations", "describe_operation",
                                                  "call_operation"};

/* An operation's tags from the document, "a\nb\n". */
static char *tags_of(const json_t *paths, const oa_operation *op) {
  const json_t *item = json_object_get(paths, op->path), *tags, *t;
  char method[16];
  sbuf b = {0};
  size_t i;
  for (i = 0; op->method[i] != '\0' && i + 1 < sizeof(method); i++)
    method[i] = (char)(op->method[i] | 0x20);
  method[i] = '\0';
  tags = json_object_get(json_object_get(item, method), "tags");
  json_array_foreach(tags, i, t) {
    const char *s = json_string_value(t);
    if (s != NULL && strchr(s, '\n') == NULL) {
      sb_puts(&b, s);
      sb_putc(&b, '\n');
    }
  }
  sb_putc(&b, '\0');
  return sb_take(&b);
}

/* The argument names, space-separated, for the index. */
static char *args_of(const oa_operation *op) {
  sbuf b = {0};
  size_t i;
  for (i = 0; i < op->n_params; i++) {
    sb_puts(&b, op->params[i].arg);
    sb_putc(&b, ' ');
  }
  sb_putc(&b, '\0');
  return sb_take(&b);
}

static int index_op(oa_meta *m, const oa_operation *op, const char *tags) {
  const char *fields[OA_SF_COUNT];
  char *args = args_of(op), *tag_words = strdup(tags), *p;
  int r;
  if (args == NULL || tag_words == NULL) {
    free(args);
    free(tag_words);
    return -ENOMEM;
  }
  for (p = tag_words; *p; p++) {
    if (*p == '\n')
      *p = ' ';
  }
  fields[OA_SF_NAME] = op->name;
  fields[OA_SF_SUMMARY] = op->title;
  fields[OA_SF_DESC] = op->description;
  fields[OA_SF_PATH] = op->path;
  fields[OA_SF_TAGS] = tag_words;
  fields[OA_SF_METHOD] = op->method;
  fields[OA_SF_ARGS] = args;
  r = oa_search_add(m->index, fields);
  free(args);
  free(tag_words);
  return r;
}

int oa_meta_build(oa_api *api, const json_t *doc, oa_meta **out) {
  const json_t *paths = json_object_get(doc, "paths");
  oa_meta *m = calloc(1, sizeof(*m));
  size_t i;
  *out = NULL;
  if (m == NULL)
    return -ENOMEM;
  m->index = oa_search_new();
  m->ops = calloc(api->n_ops + 1, sizeof(*m->ops));
  if (m->index == NULL || m->ops == NULL)
    goto oom;
  for (i = 0; i < api->n_ops; i++) {
    oa_operation *op = &api->ops[i];
    meta_op *mo;
    if (op->kind != OA_TOOL)
      continue;
    mo = &m->ops[m->n++];
    mo->op = i;
    mo->schema = json_dumps(op->input_schema, JSON_COMPACT);
    mo->tags = tags_of(paths, op);
    if (mo->schema == NULL || mo->tags == NULL || index_op(m, op, mo->tags) < 0)
      goto oom;
  }
  oa_search_finish(m->index);
  /* Lean: the schema trees (and the "$defs" they share) go; requests and
   * results need the parameters, not the schemas. */
  for (i = 0; i < api->n_ops; i++) {
    oa_operation *op = &api->ops[i];
    json_decref(op->input_schema);
    json_decref(op->output_schema);
    json_decref(op->annotations);
    op->input_schema = op->output_schema = op->annotations = NULL;
  }
  *out = m;
  return 0;
oom:
  oa_meta_free(m);
  return -ENOMEM;
}

size_t oa_meta_count(const oa_meta *m) {
  return m->n;
}

void oa_meta_name(enum oa_meta_tool t, const char *prefix, char *buf, size_t n) {
  snprintf(buf, n, "%s%s", prefix, SUFFIX[t]);
}

json_t *oa_meta_input_schema(enum oa_meta_tool t) {
  switch (t) {
  case OA_META_SEARCH:
    return json_pack("{s:s,s:{s:{s:s,s:s},s:{s:[ss],s:{s:s},s:s},s:{s:s,s:i,s:i,s:s}},s:[s]}",
                     "type", "object", "properties", "query", "type", "string", "description",
                     "what you want to do, in words", "tags", "type", "array", "string", "items",
                     "type", "string", "description", "only operations with one of these tags",
                     "limit", "type", "integer", "minimum", 1, "maximum", OA_META_LIMIT_MAX,
                     "description", "how many results (default 10)", "required", "query");
  case OA_META_DESCRIBE:
    return json_pack("{s:s,s:{s:{s:s,s:s}},s:[s]}", "type", "object", "properties", "name", "type",
                     "string", "description", "the operation's name, from the search", "required",
                     "name");
  default:
    return json_pack("{s:s,s:{s:{s:s,s:s},s:{s:s,s:s}},s:[s]}", "type", "object", "properties",
                     "name", "type", "string", "description", "the operation's name", "arguments",
                     "type", "object", "description",
                     "the operation's arguments, as its input schema says", "required", "name");
  }
}

char *oa_meta_description(enum oa_meta_tool t, const char *prefix, const char *title,
                          size_t count) {
  sbuf b = {0};
  switch (t) {
  case OA_META_SEARCH:
    sb_printf(&b,
              "Search the %zu operations of the %s%s%sAPI by words (and tags): returns the best "
              "matches, each with its name, summary, method and path. Then %s%s gives one's "
              "arguments and %s%s runs it.",
              count, title ? "\"" : "", title ? title : "", title ? "\" " : "", prefix,
              SUFFIX[OA_META_DESCRIBE], prefix, SUFFIX[OA_META_CALL]);
    break;
  case OA_META_DESCRIBE:
    sb_printf(&b,
              "Describe one operation found with %s%s: its description, method, path and the "
              "full JSON Schema of its arguments.",
              prefix, SUFFIX[OA_META_SEARCH]);
    break;
  default:
    sb_printf(&b,
              "Call one operation by name with its arguments (see %s%s). Required arguments, "
              "unknown names and top-level types are checked here; the backend checks the rest.",
              prefix, SUFFIX[OA_META_DESCRIBE]);
    break;
  }
  return sb_take(&b);
}

long oa_meta_find(const oa_meta *m, const oa_api *api, const char *name) {
  size_t i;
  if (name == NULL)
    return -1;
  for (i = 0; i < m->n; i++) {
    if (strcmp(api->ops[m->ops[i].op].name, name) == 0)
      return (long)m->ops[i].op;
  }
  return -1;
}

static json_t *text_result(json_t *value, int is_error) {
  char *s = value != NULL ? json_dumps(value, JSON_COMPACT | JSON_REAL_PRECISION(5)) : NULL;
  json_t *r = s != NULL ? json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", s) : NULL;
  free(s);
  json_decref(value);
  if (r != NULL && is_error)
    json_object_set_new(r, "isError", json_true());
  return r;
}

static json_t *error_result(const char *msg) {
  json_t *r =
      json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", msg, "isError", 1);
  return r;
}

static int has_tag(const char *tags, const char *tag) {
  size_t n = strlen(tag);
  const char *p = tags;
  while (*p) {
    const char *end = strchr(p, '\n');
    if ((size_t)(end - p) == n && strncasecmp(p, tag, n) == 0)
      return 1;
    p = end + 1;
  }
  return 0;
}

json_t *oa_meta_search(const oa_meta *m, const oa_api *api, const json_t *args) {
  const json_t *q = json_object_get(args, "query"), *tags = json_object_get(args, "tags"), *t;
  const json_t *lim = json_object_get(args, "limit");
  unsigned char *allowed = NULL;
  oa_search_hit hits[OA_META_LIMIT_MAX];
  json_t *list, *out;
  size_t limit = OA_META_LIMIT_DEFAULT, i, k;
  int n;
  if (!json_is_string(q))
    return error_result("\"query\" is required: a string of words");
  if (lim != NULL) {
    if (!json_is_integer(lim) || json_integer_value(lim) < 1 ||
        json_integer_value(lim) > OA_META_LIMIT_MAX)
      return error_result("\"limit\" must be an integer from 1 to 50");
    limit = (size_t)json_integer_value(lim);
  }
  if (json_is_string(tags) || (json_is_array(tags) && json_array_size(tags) > 0)) {
    allowed = calloc(m->n + 1, 1);
    if (allowed == NULL)
      return NULL;
    for (i = 0; i < m->n; i++) {
      if (json_is_string(tags)) {
        allowed[i] = (unsigned char)has_tag(m->ops[i].tags, json_string_value(tags));
        continue;
      }
      json_array_foreach(tags, k, t) {
        if (json_is_string(t) && has_tag(m->ops[i].tags, json_string_value(t)))
          allowed[i] = 1;
      }
    }
  } else if (tags != NULL && !json_is_array(tags)) {
    return error_result("\"tags\" must be an array of strings");
  }
  n = oa_search_query(m->index, json_string_value(q), allowed, hits, limit);
  free(allowed);
  if (n < 0)
    return NULL;
  list = json_array();
  for (i = 0; list != NULL && i < (size_t)n; i++) {
    const oa_operation *op = &api->ops[m->ops[hits[i].doc].op];
    json_array_append_new(list, json_pack("{s:s,s:s?,s:s,s:s,s:f}", "name", op->name, "summary",
                                          op->title, "method", op->method, "path", op->path,
                                          "score", round(hits[i].score * 100) / 100));
  }
  out = json_pack("{s:o,s:I}", "results", list, "operations", (json_int_t)m->n);
  return text_result(out, 0);
}

json_t *oa_meta_describe(const oa_meta *m, const oa_api *api, const json_t *args,
                         const char *search_name) {
  const char *name = json_string_value(json_object_get(args, "name"));
  long i = oa_meta_find(m, api, name);
  const oa_operation *op;
  json_t *schema;
  size_t k;
  char msg[300];
  if (i < 0) {
    snprintf(msg, sizeof(msg), "no operation is named \"%.100s\"; find names with %.80s",
             name ? name : "", search_name);
    return error_result(msg);
  }
  op = &api->ops[i];
  for (k = 0; k < m->n && m->ops[k].op != (size_t)i; k++)
    ;
  schema = json_loads(m->ops[k].schema, 0, NULL);
  if (schema == NULL)
    return NULL;
  return text_result(json_pack("{s:s,s:s?,s:s,s:s,s:s,s:o}", "name", op->name, "summary", op->title,
                               "description", op->description, "method", op->method, "path",
                               op->path, "inputSchema", schema),
                     0);
}

/* Whether v is of the JSON Schema type name. */
static int type_is(const json_t *v, const char *name) {
  if (strcmp(name, "string") == 0)
    return json_is_string(v);
  if (strcmp(name, "integer") == 0)
    return json_is_integer(v) ||
           (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)));
  if (strcmp(name, "number") == 0)
    return json_is_number(v);
  if (strcmp(name, "boolean") == 0)
    return json_is_boolean(v);
  if (strcmp(name, "array") == 0)
    return json_is_array(v);
  if (strcmp(name, "object") == 0)
    return json_is_object(v);
  if (strcmp(name, "null") == 0)
    return json_is_null(v);
  return 1;
}

static int type_ok(const json_t *schema, const json_t *v) {
  const json_t *t = json_object_get(schema, "type"), *x;
  size_t i;
  if (json_is_string(t))
    return type_is(v, json_string_value(t));
  if (!json_is_array(t))
    return 1; /* anyOf, $ref...: the backend's to check */
  json_array_foreach(t, i, x) {
    if (json_is_string(x) && type_is(v, json_string_value(x)))
      return 1;
  }
  return 0;
}

int oa_meta_check_args(const oa_meta *m, const oa_api *api, long index, const json_t *args,
                       char *err, size_t n) {
  json_t *schema = NULL, *props, *req, *v;
  const char *k;
  size_t i;
  int r = 0;
  (void)api;
  for (i = 0; i < m->n && m->ops[i].op != (size_t)index; i++)
    ;
  if (i == m->n)
    return -EINVAL;
  if (args != NULL && !json_is_object(args)) {
    snprintf(err, n, "\"arguments\" must be an object");
    return -EINVAL;
  }
  schema = json_loads(m->ops[i].schema, 0, NULL);
  if (schema == NULL)
    return -ENOMEM;
  props = json_object_get(schema, "properties");
  req = json_object_get(schema, "required");
  json_object_foreach((json_t *)args, k, v) {
    const json_t *ps = json_object_get(props, k);
    if (ps == NULL) {
      snprintf(err, n, "the operation has no argument \"%.80s\"", k);
      r = -EINVAL;
      break;
    }
    if (!type_ok(ps, v)) {
      char *t = json_dumps(json_object_get(ps, "type"), JSON_ENCODE_ANY | JSON_COMPACT);
      snprintf(err, n, "argument \"%.80s\" must be of type %.60s", k, t ? t : "?");
      free(t);
      r = -EINVAL;
      break;
    }
  }
  json_array_foreach(req, i, v) {
    if (r == 0 && json_is_string(v) && json_object_get(args, json_string_value(v)) == NULL) {
      snprintf(err, n, "argument \"%.80s\" is required", json_string_value(v));
      r = -EINVAL;
    }
  }
  json_decref(schema);
  return r;
}

void oa_meta_free(oa_meta *m) {
  size_t i;
  if (m == NULL)
    return;
  for (i = 0; i < m->n; i++) {
    free(m->ops[i].schema);
    free(m->ops[i].tags);
  }
  free(m->ops);
  oa_search_free(m->index);
  free(m);
}

int oa_meta_task_support(const oa_api *api) {
  size_t i, tools = 0, tasks = 0, required = 0;
  for (i = 0; i < api->n_ops; i++) {
    if (api->ops[i].kind != OA_TOOL)
      continue;
    tools++;
    tasks += api->ops[i].task_support != OA_TASK_FORBIDDEN;
    required += api->ops[i].task_support == OA_TASK_REQUIRED;
  }
  if (tools > 0 && required == tools)
    return OA_TASK_REQUIRED;
  return tasks > 0 ? OA_TASK_OPTIONAL : OA_TASK_FORBIDDEN;
}
