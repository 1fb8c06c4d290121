/* test_registry.c -- the registry of tools, resources, resource templates
 * and prompts: adding each kind (what the entry and its listing object
 * hold, copies not borrowed pointers), duplicate keys (-EEXIST naming the
 * owner, one key space per kind), bad fields (-EINVAL with a message, the
 * registry unchanged), registry_check_free, registry_merge (all or
 * nothing), registry_take_ctx / registry_remove_ctx, registry_replace_ctx
 * (a new version's entries take the old one's places, so an identical one
 * changes no list; all or nothing), template matching in
 * registration order, the listing per protocol revision (fields gated by
 * revision, cached), and registry_lists_snapshot / registry_lists_compare
 * (which lists changed). */
#include "mcp/registry.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Two fake plugin versions: the registry only compares the pointers. */
static char ctx_a_mem, ctx_b_mem;
#define CTX_A ((mcpd_ctx *)(void *)&ctx_a_mem)
#define CTX_B ((mcpd_ctx *)(void *)&ctx_b_mem)

static int tool_fn(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  (void)call, (void)args, (void)data;
  *result = mcpd_result_text("x");
  return MCPD_OK;
}

static int res_fn(mcpd_call *call, const char *uri, const json_t *vars, void *data,
                  json_t **result) {
  (void)call, (void)vars, (void)data;
  *result = mcpd_contents_text(uri, NULL, "x");
  return MCPD_OK;
}

static int complete_fn(mcpd_call *call, const char *argument, const char *value,
                       const json_t *context, void *data, json_t **result) {
  (void)call, (void)argument, (void)value, (void)context, (void)data;
  *result = json_pack("{s:[]}", "values");
  return MCPD_OK;
}

static int add_tool(registry *r, mcpd_ctx *ctx, const char *owner, const char *name, char *err,
                    size_t n) {
  mcpd_tool t;
  memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.name = name;
  t.handler = tool_fn;
  return registry_add_tool(r, ctx, owner, &t, err, n);
}

static int add_resource(registry *r, mcpd_ctx *ctx, const char *owner, const char *uri) {
  char err[256];
  mcpd_resource res;
  memset(&res, 0, sizeof(res));
  res.struct_size = sizeof(res);
  res.uri = uri;
  res.name = "res";
  res.handler = res_fn;
  return registry_add_resource(r, ctx, owner, &res, err, sizeof(err));
}

static int add_template(registry *r, mcpd_ctx *ctx, const char *owner, const char *tpl,
                        void *data) {
  char err[256];
  mcpd_resource_template t;
  memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.uri_template = tpl;
  t.name = "tpl";
  t.handler = res_fn;
  t.data = data;
  return registry_add_template(r, ctx, owner, &t, err, sizeof(err));
}

static int add_prompt(registry *r, mcpd_ctx *ctx, const char *owner, const char *name) {
  char err[256];
  mcpd_prompt p;
  memset(&p, 0, sizeof(p));
  p.struct_size = sizeof(p);
  p.name = name;
  p.handler = tool_fn;
  return registry_add_prompt(r, ctx, owner, &p, err, sizeof(err));
}

static int has(const registry *r, enum reg_kind kind, const char *key) {
  return registry_get(r, kind, key, strlen(key)) != NULL;
}

static const char *key_at(const registry *r, enum reg_kind kind, size_t i) {
  return i < r->lists[kind].count ? r->lists[kind].items[i]->key : NULL;
}

/* ---- adding ---------------------------------------------------------------- */

static void test_add_tool(void) {
  registry r;
  char err[256] = "";
  json_t *in =
      json_loads("{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"integer\"}}}", 0, NULL);
  json_t *out = json_loads("{\"type\":\"object\"}", 0, NULL);
  json_t *ann = json_loads("{\"readOnlyHint\":true}", 0, NULL);
  int data = 0;
  mcpd_tool t;
  reg_tool *e;

  registry_init(&r);
  memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.name = "calc.add-1_x";
  t.title = "Add";
  t.description = "adds";
  t.input_schema = in;
  t.output_schema = out;
  t.annotations = ann;
  t.handler = tool_fn;
  t.tool_data = &data;
  CHECK_EQ_INT(registry_add_tool(&r, CTX_A, "alpha", &t, err, sizeof(err)), 0);
  /* Everything was copied: changing the plugin's JSON changes nothing. */
  json_object_set_new(in, "type", json_string("string"));
  json_object_set_new(ann, "readOnlyHint", json_false());
  e = (reg_tool *)registry_get(&r, REG_TOOL, "calc.add-1_x", strlen("calc.add-1_x"));
  CHECK(e != NULL);
  if (e != NULL) {
    CHECK_EQ_INT(e->e.kind, REG_TOOL);
    CHECK(e->e.ctx == CTX_A);
    CHECK_EQ_STR(e->e.owner, "alpha");
    CHECK(e->handler == tool_fn);
    CHECK(e->data == &data);
    CHECK_EQ_STR(json_string_value(json_object_get(e->input_schema, "type")), "object");
    CHECK(json_object_get(json_object_get(e->input_schema, "properties"), "x") != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(e->e.def, "name")), "calc.add-1_x");
    CHECK_EQ_STR(json_string_value(json_object_get(e->e.def, "title")), "Add");
    CHECK_EQ_STR(json_string_value(json_object_get(e->e.def, "description")), "adds");
    CHECK(json_equal(json_object_get(e->e.def, "outputSchema"), out));
    CHECK(json_is_true(json_object_get(json_object_get(e->e.def, "annotations"), "readOnlyHint")));
  }
  /* A lookup by length: the key need not be NUL-terminated. */
  CHECK(registry_get(&r, REG_TOOL, "calc.add-1_xyz", 12) == &e->e);
  CHECK(registry_get(&r, REG_TOOL, "calc", 4) == NULL);
  /* Keys are per kind. */
  CHECK(registry_get(&r, REG_PROMPT, "calc.add-1_x", 12) == NULL);

  /* No input schema: {"type":"object"}; no title: no "title". */
  CHECK_EQ_INT(add_tool(&r, CTX_A, "alpha", "plain", err, sizeof(err)), 0);
  e = (reg_tool *)registry_get(&r, REG_TOOL, "plain", 5);
  CHECK(e != NULL);
  if (e != NULL) {
    json_t *want = json_pack("{s:s}", "type", "object");
    CHECK(json_equal(e->input_schema, want));
    CHECK(json_equal(json_object_get(e->e.def, "inputSchema"), want));
    CHECK(json_object_get(e->e.def, "title") == NULL);
    CHECK(json_object_get(e->e.def, "outputSchema") == NULL);
    json_decref(want);
  }
  /* 128 characters is the longest name. */
  {
    char name[130];
    memset(name, 'n', 128);
    name[128] = '\0';
    CHECK_EQ_INT(add_tool(&r, CTX_A, "alpha", name, err, sizeof(err)), 0);
  }
  CHECK_EQ_INT(r.lists[REG_TOOL].count, 3);
  CHECK_EQ_STR(key_at(&r, REG_TOOL, 0), "calc.add-1_x");
  CHECK_EQ_STR(key_at(&r, REG_TOOL, 1), "plain");
  registry_free(&r);
  json_decref(in);
  json_decref(out);
  json_decref(ann);
}

static void test_add_other_kinds(void) {
  registry r;
  char err[256] = "";
  json_t *ann = json_loads("{\"priority\":0.5}", 0, NULL);
  json_t *args =
      json_loads("[{\"name\":\"topic\",\"required\":true},{\"name\":\"tone\"}]", 0, NULL);
  int data = 0, cdata = 0;
  mcpd_resource res;
  mcpd_resource_template tpl;
  mcpd_prompt p;
  reg_resource *re;
  reg_template *te;
  reg_prompt *pe;

  registry_init(&r);
  memset(&res, 0, sizeof(res));
  res.struct_size = sizeof(res);
  res.uri = "file:///etc/motd";
  res.name = "motd";
  res.title = "Message of the day";
  res.mime_type = "text/plain";
  res.annotations = ann;
  res.handler = res_fn;
  res.data = &data;
  CHECK_EQ_INT(registry_add_resource(&r, CTX_A, "alpha", &res, err, sizeof(err)), 0);
  re = (reg_resource *)registry_get(&r, REG_RESOURCE, "file:///etc/motd", 16);
  CHECK(re != NULL);
  if (re != NULL) {
    CHECK_EQ_STR(json_string_value(json_object_get(re->e.def, "uri")), "file:///etc/motd");
    CHECK_EQ_STR(json_string_value(json_object_get(re->e.def, "name")), "motd");
    CHECK_EQ_STR(json_string_value(json_object_get(re->e.def, "mimeType")), "text/plain");
    CHECK(json_equal(json_object_get(re->e.def, "annotations"), ann));
    CHECK(re->handler == res_fn && re->data == &data);
  }

  memset(&tpl, 0, sizeof(tpl));
  tpl.struct_size = sizeof(tpl);
  tpl.uri_template = "db://tables/{table}";
  tpl.name = "table";
  tpl.description = "a table";
  tpl.handler = res_fn;
  tpl.data = &data;
  tpl.complete = complete_fn;
  tpl.complete_data = &cdata;
  CHECK_EQ_INT(registry_add_template(&r, CTX_A, "alpha", &tpl, err, sizeof(err)), 0);
  te = (reg_template *)registry_get(&r, REG_TEMPLATE, "db://tables/{table}", 19);
  CHECK(te != NULL);
  if (te != NULL) {
    CHECK_EQ_STR(json_string_value(json_object_get(te->e.def, "uriTemplate")),
                 "db://tables/{table}");
    CHECK(json_object_get(te->e.def, "uri") == NULL);
    CHECK(te->complete == complete_fn && te->complete_data == &cdata);
    CHECK(te->tpl != NULL);
  }

  memset(&p, 0, sizeof(p));
  p.struct_size = sizeof(p);
  p.name = "summarise";
  p.arguments = args;
  p.handler = tool_fn;
  p.complete = complete_fn;
  CHECK_EQ_INT(registry_add_prompt(&r, CTX_B, "beta", &p, err, sizeof(err)), 0);
  json_array_clear(args); /* copied, not borrowed */
  pe = (reg_prompt *)registry_get(&r, REG_PROMPT, "summarise", 9);
  CHECK(pe != NULL);
  if (pe != NULL) {
    CHECK_EQ_INT(json_array_size(pe->arguments), 2);
    CHECK_EQ_INT(json_array_size(json_object_get(pe->e.def, "arguments")), 2);
    CHECK_EQ_STR(pe->e.owner, "beta");
    CHECK(pe->complete == complete_fn);
  }
  /* No arguments: [] kept, none listed. */
  CHECK_EQ_INT(add_prompt(&r, CTX_B, "beta", "bare"), 0);
  pe = (reg_prompt *)registry_get(&r, REG_PROMPT, "bare", 4);
  CHECK(pe != NULL);
  if (pe != NULL) {
    CHECK(json_is_array(pe->arguments) && json_array_size(pe->arguments) == 0);
    CHECK(json_object_get(pe->e.def, "arguments") == NULL);
  }
  CHECK_EQ_INT(r.lists[REG_RESOURCE].count, 1);
  CHECK_EQ_INT(r.lists[REG_TEMPLATE].count, 1);
  CHECK_EQ_INT(r.lists[REG_PROMPT].count, 2);
  CHECK_EQ_INT(r.lists[REG_TOOL].count, 0);
  registry_free(&r);
  json_decref(ann);
  json_decref(args);
}

/* ---- duplicates -------------------------------------------------------------- */

static void test_duplicates(void) {
  registry r;
  char err[256] = "";
  reg_entry *e;

  registry_init(&r);
  CHECK_EQ_INT(add_tool(&r, CTX_A, "alpha", "echo", err, sizeof(err)), 0);
  err[0] = '\0';
  CHECK_EQ_INT(add_tool(&r, CTX_B, "beta", "echo", err, sizeof(err)), -EEXIST);
  CHECK(strstr(err, "\"echo\"") != NULL);
  CHECK(strstr(err, "plugin \"alpha\"") != NULL);
  /* The same plugin may not register a name twice either. */
  err[0] = '\0';
  CHECK_EQ_INT(add_tool(&r, CTX_A, "alpha", "echo", err, sizeof(err)), -EEXIST);
  CHECK(strstr(err, "tool \"echo\" is already registered by plugin \"alpha\"") != NULL);
  e = registry_get(&r, REG_TOOL, "echo", 4);
  CHECK(e != NULL && e->ctx == CTX_A);
  CHECK_EQ_INT(r.lists[REG_TOOL].count, 1);

  CHECK_EQ_INT(add_resource(&r, CTX_A, "alpha", "x://1"), 0);
  CHECK_EQ_INT(add_resource(&r, CTX_B, "beta", "x://1"), -EEXIST);
  CHECK_EQ_INT(add_template(&r, CTX_A, "alpha", "x://{id}", NULL), 0);
  CHECK_EQ_INT(add_template(&r, CTX_B, "beta", "x://{id}", NULL), -EEXIST);
  CHECK_EQ_INT(add_prompt(&r, CTX_A, "alpha", "p"), 0);
  CHECK_EQ_INT(add_prompt(&r, CTX_B, "beta", "p"), -EEXIST);
  /* Kinds have their own key spaces. */
  CHECK_EQ_INT(add_prompt(&r, CTX_B, "beta", "echo"), 0);
  CHECK_EQ_INT(add_template(&r, CTX_B, "beta", "x://1", NULL), 0);
  CHECK_EQ_INT(r.lists[REG_RESOURCE].count, 1);
  CHECK_EQ_INT(r.lists[REG_TEMPLATE].count, 2);
  CHECK_EQ_INT(r.lists[REG_PROMPT].count, 2);

  /* registry_check_free */
  err[0] = '\0';
  CHECK_EQ_INT(registry_check_free(&r, REG_TOOL, "free", NULL, err, sizeof(err)), 0);
  CHECK_EQ_INT(registry_check_free(&r, REG_TOOL, "echo", CTX_A, err, sizeof(err)), 0);
  CHECK_EQ_INT(registry_check_free(&r, REG_TOOL, "echo", CTX_B, err, sizeof(err)), -EEXIST);
  CHECK(strstr(err, "plugin \"alpha\"") != NULL);
  err[0] = '\0';
  CHECK_EQ_INT(registry_check_free(&r, REG_RESOURCE, "x://1", NULL, err, sizeof(err)), -EEXIST);
  CHECK(strstr(err, "resource \"x://1\"") != NULL);
  registry_free(&r);
}

/* ---- bad fields ---------------------------------------------------------------- */

/* Adds t and expects -EINVAL with `why` in the message and r unchanged. */
static void expect_bad_tool(registry *r, const mcpd_tool *t, const char *why) {
  char err[256] = "";
  size_t before = r->lists[REG_TOOL].count;
  int rc = registry_add_tool(r, CTX_A, "alpha", t, err, sizeof(err));
  CHECK_EQ_INT(rc, -EINVAL);
  if (strstr(err, why) == NULL)
    fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err, why);
  CHECK(strstr(err, why) != NULL);
  CHECK_EQ_INT(r->lists[REG_TOOL].count, before);
}

static void test_bad_tools(void) {
  registry r;
  mcpd_tool t;
  char long_name[131];
  json_t *str_schema = json_loads("{\"type\":\"string\"}", 0, NULL);
  json_t *bad_props = json_loads("{\"type\":\"object\",\"properties\":[]}", 0, NULL);
  json_t *arr = json_array();

  registry_init(&r);
  memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.handler = tool_fn;
  t.name = NULL;
  expect_bad_tool(&r, &t, "tool name \"(null)\"");
  t.name = "";
  expect_bad_tool(&r, &t, "is not 1 to 128 characters");
  t.name = "has space";
  expect_bad_tool(&r, &t, "is not 1 to 128 characters");
  t.name = "slash/no";
  expect_bad_tool(&r, &t, "is not 1 to 128 characters");
  memset(long_name, 'n', 129);
  long_name[129] = '\0';
  t.name = long_name;
  expect_bad_tool(&r, &t, "is not 1 to 128 characters");
  t.name = "ok";
  t.handler = NULL;
  expect_bad_tool(&r, &t, "tool \"ok\" has no handler");
  t.handler = tool_fn;
  t.input_schema = str_schema;
  expect_bad_tool(&r, &t, "inputSchema \"type\" must be \"object\"");
  t.input_schema = bad_props;
  expect_bad_tool(&r, &t, "\"properties\" must be an object");
  t.input_schema = NULL;
  t.output_schema = str_schema;
  expect_bad_tool(&r, &t, "outputSchema must be an object");
  t.output_schema = NULL;
  t.annotations = arr;
  expect_bad_tool(&r, &t, "annotations must be an object");
  t.annotations = NULL;
  t.title = "\xff\xfe bad utf-8";
  expect_bad_tool(&r, &t, "valid UTF-8");
  t.title = NULL;
  t.description = "\xc3";
  expect_bad_tool(&r, &t, "valid UTF-8");
  t.description = NULL;
  /* After all those, the name is still free. */
  CHECK(!has(&r, REG_TOOL, "ok"));
  {
    char err[256];
    CHECK_EQ_INT(registry_add_tool(&r, CTX_A, "alpha", &t, err, sizeof(err)), 0);
  }
  CHECK(has(&r, REG_TOOL, "ok"));
  registry_free(&r);
  json_decref(str_schema);
  json_decref(bad_props);
  json_decref(arr);
}

static void test_bad_others(void) {
  registry r;
  char err[256];
  mcpd_resource res;
  mcpd_resource_template tpl;
  mcpd_prompt p;
  json_t *arr = json_array();
  static const struct {
    const char *args, *why;
  } bad_args[] = {
      {"{}", "arguments must be an array"},
      {"[3]", "arguments[0] needs a \"name\" string"},
      {"[{\"name\":\"\"}]", "arguments[0] needs a \"name\" string"},
      {"[{\"name\":\"a\"},{\"title\":\"b\"}]", "arguments[1] needs a \"name\" string"},
      {"[{\"name\":\"a\",\"required\":\"yes\"}]", "arguments[0].required must be a boolean"},
      {"[{\"name\":\"a\"},{\"name\":\"a\"}]", "argument \"a\" appears twice"},
  };
  size_t i;

  registry_init(&r);
  memset(&res, 0, sizeof(res));
  res.struct_size = sizeof(res);
  res.name = "n";
  res.handler = res_fn;
  CHECK_EQ_INT(registry_add_resource(&r, CTX_A, "alpha", &res, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "needs a uri and a name") != NULL);
  res.uri = "";
  CHECK_EQ_INT(registry_add_resource(&r, CTX_A, "alpha", &res, err, sizeof(err)), -EINVAL);
  res.uri = "x://1";
  res.name = NULL;
  CHECK_EQ_INT(registry_add_resource(&r, CTX_A, "alpha", &res, err, sizeof(err)), -EINVAL);
  res.name = "n";
  res.handler = NULL;
  CHECK_EQ_INT(registry_add_resource(&r, CTX_A, "alpha", &res, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "has no handler") != NULL);
  res.handler = res_fn;
  res.annotations = arr;
  CHECK_EQ_INT(registry_add_resource(&r, CTX_A, "alpha", &res, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "annotations must be an object") != NULL);
  res.annotations = NULL;
  res.mime_type = "\xff";
  CHECK_EQ_INT(registry_add_resource(&r, CTX_A, "alpha", &res, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "UTF-8") != NULL);
  CHECK_EQ_INT(r.lists[REG_RESOURCE].count, 0);
  CHECK(!has(&r, REG_RESOURCE, "x://1"));

  memset(&tpl, 0, sizeof(tpl));
  tpl.struct_size = sizeof(tpl);
  tpl.name = "t";
  tpl.handler = res_fn;
  CHECK_EQ_INT(registry_add_template(&r, CTX_A, "alpha", &tpl, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "needs a uri_template and a name") != NULL);
  tpl.uri_template = "x://{unclosed";
  err[0] = '\0';
  CHECK_EQ_INT(registry_add_template(&r, CTX_A, "alpha", &tpl, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "resource template \"x://{unclosed\": ") != NULL);
  CHECK(strlen(err) > strlen("resource template \"x://{unclosed\": "));
  tpl.uri_template = "x://{}";
  CHECK_EQ_INT(registry_add_template(&r, CTX_A, "alpha", &tpl, err, sizeof(err)), -EINVAL);
  tpl.uri_template = "x://{id}";
  tpl.handler = NULL;
  CHECK_EQ_INT(registry_add_template(&r, CTX_A, "alpha", &tpl, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "has no handler") != NULL);
  tpl.handler = res_fn;
  tpl.annotations = arr;
  CHECK_EQ_INT(registry_add_template(&r, CTX_A, "alpha", &tpl, err, sizeof(err)), -EINVAL);
  tpl.annotations = NULL;
  tpl.title = "\xff";
  CHECK_EQ_INT(registry_add_template(&r, CTX_A, "alpha", &tpl, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "UTF-8") != NULL);
  CHECK_EQ_INT(r.lists[REG_TEMPLATE].count, 0);

  memset(&p, 0, sizeof(p));
  p.struct_size = sizeof(p);
  p.handler = tool_fn;
  p.name = "bad name";
  CHECK_EQ_INT(registry_add_prompt(&r, CTX_A, "alpha", &p, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "prompt name \"bad name\"") != NULL);
  p.name = "p";
  p.handler = NULL;
  CHECK_EQ_INT(registry_add_prompt(&r, CTX_A, "alpha", &p, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "has no handler") != NULL);
  p.handler = tool_fn;
  for (i = 0; i < sizeof(bad_args) / sizeof(bad_args[0]); i++) {
    json_t *a = json_loads(bad_args[i].args, JSON_DECODE_ANY, NULL);
    p.arguments = a;
    err[0] = '\0';
    CHECK_EQ_INT(registry_add_prompt(&r, CTX_A, "alpha", &p, err, sizeof(err)), -EINVAL);
    if (strstr(err, bad_args[i].why) == NULL)
      fprintf(stderr, "  case %zu: \"%s\" lacks \"%s\"\n", i, err, bad_args[i].why);
    CHECK(strstr(err, bad_args[i].why) != NULL);
    json_decref(a);
  }
  p.arguments = NULL;
  CHECK_EQ_INT(r.lists[REG_PROMPT].count, 0);
  CHECK(!has(&r, REG_PROMPT, "p"));
  registry_free(&r);
  json_decref(arr);
}

/* ---- merge, take, remove ------------------------------------------------------ */

static void test_merge(void) {
  registry dst, src, empty;
  char err[256];

  registry_init(&dst);
  registry_init(&src);
  registry_init(&empty);
  CHECK_EQ_INT(add_tool(&dst, CTX_A, "alpha", "a", err, sizeof(err)), 0);
  CHECK_EQ_INT(add_resource(&dst, CTX_A, "alpha", "r://a"), 0);
  CHECK_EQ_INT(add_tool(&src, CTX_B, "beta", "b", err, sizeof(err)), 0);
  CHECK_EQ_INT(add_tool(&src, CTX_B, "beta", "c", err, sizeof(err)), 0);
  CHECK_EQ_INT(add_prompt(&src, CTX_B, "beta", "p"), 0);
  CHECK_EQ_INT(add_resource(&src, CTX_B, "beta", "r://a"), 0); /* taken in dst */

  /* A conflict in a later kind: nothing of any kind moves. */
  CHECK_EQ_INT(registry_merge(&dst, &src), -EEXIST);
  CHECK_EQ_INT(dst.lists[REG_TOOL].count, 1);
  CHECK(!has(&dst, REG_TOOL, "b") && !has(&dst, REG_TOOL, "c"));
  CHECK(!has(&dst, REG_PROMPT, "p"));
  CHECK(registry_get(&dst, REG_RESOURCE, "r://a", 5)->ctx == CTX_A);
  CHECK_EQ_INT(src.lists[REG_TOOL].count, 2);
  CHECK(has(&src, REG_TOOL, "b") && has(&src, REG_PROMPT, "p") && has(&src, REG_RESOURCE, "r://a"));

  /* Without the conflict it all moves, after dst's own, in src's order. */
  registry_remove_ctx(&dst, CTX_A);
  CHECK_EQ_INT(dst.lists[REG_RESOURCE].count, 0);
  CHECK_EQ_INT(add_tool(&dst, CTX_A, "alpha", "a", err, sizeof(err)), 0);
  CHECK_EQ_INT(registry_merge(&dst, &src), 0);
  CHECK_EQ_INT(dst.lists[REG_TOOL].count, 3);
  CHECK_EQ_STR(key_at(&dst, REG_TOOL, 0), "a");
  CHECK_EQ_STR(key_at(&dst, REG_TOOL, 1), "b");
  CHECK_EQ_STR(key_at(&dst, REG_TOOL, 2), "c");
  CHECK(has(&dst, REG_TOOL, "c") && has(&dst, REG_PROMPT, "p") && has(&dst, REG_RESOURCE, "r://a"));
  CHECK(registry_get(&dst, REG_TOOL, "b", 1)->ctx == CTX_B);
  CHECK_EQ_INT(src.lists[REG_TOOL].count, 0);
  CHECK_EQ_INT(src.lists[REG_PROMPT].count, 0);
  CHECK(!has(&src, REG_TOOL, "b"));
  /* src is reusable after a merge. */
  CHECK_EQ_INT(add_tool(&src, CTX_B, "beta", "d", err, sizeof(err)), 0);
  CHECK(has(&src, REG_TOOL, "d"));
  /* Merging an empty registry (no lists allocated) is a no-op. */
  CHECK_EQ_INT(registry_merge(&dst, &empty), 0);
  CHECK_EQ_INT(dst.lists[REG_TOOL].count, 3);
  registry_free(&src);
  registry_free(&dst);
  registry_free(&empty);
}

static void test_take_remove(void) {
  registry r, into;
  char err[256];
  int i;

  registry_init(&r);
  registry_init(&into);
  /* Interleaved owners, enough to grow the lists. */
  for (i = 0; i < 40; i++) {
    char name[16];
    snprintf(name, sizeof(name), "t%02d", i);
    CHECK_EQ_INT(
        add_tool(&r, i % 2 ? CTX_B : CTX_A, i % 2 ? "beta" : "alpha", name, err, sizeof(err)), 0);
  }
  CHECK_EQ_INT(add_resource(&r, CTX_A, "alpha", "r://a"), 0);
  CHECK_EQ_INT(add_template(&r, CTX_B, "beta", "r://{x}", NULL), 0);
  CHECK_EQ_INT(add_prompt(&r, CTX_A, "alpha", "pa"), 0);

  registry_take_ctx(&r, CTX_A, &into);
  CHECK_EQ_INT(r.lists[REG_TOOL].count, 20);
  CHECK_EQ_INT(into.lists[REG_TOOL].count, 20);
  CHECK_EQ_STR(key_at(&r, REG_TOOL, 0), "t01");
  CHECK_EQ_STR(key_at(&r, REG_TOOL, 19), "t39");
  CHECK_EQ_STR(key_at(&into, REG_TOOL, 0), "t00");
  CHECK_EQ_STR(key_at(&into, REG_TOOL, 19), "t38");
  CHECK(!has(&r, REG_TOOL, "t00") && has(&into, REG_TOOL, "t00"));
  CHECK(has(&r, REG_TOOL, "t01") && !has(&into, REG_TOOL, "t01"));
  CHECK(!has(&r, REG_RESOURCE, "r://a") && has(&into, REG_RESOURCE, "r://a"));
  CHECK(has(&r, REG_TEMPLATE, "r://{x}"));
  CHECK(!has(&r, REG_PROMPT, "pa") && has(&into, REG_PROMPT, "pa"));
  /* The moved names are free in r again. */
  CHECK_EQ_INT(add_tool(&r, CTX_B, "beta", "t00", err, sizeof(err)), 0);

  registry_remove_ctx(&r, CTX_B);
  for (i = 0; i < REG_KINDS; i++)
    CHECK_EQ_INT(r.lists[i].count, 0);
  CHECK(!has(&r, REG_TOOL, "t01") && !has(&r, REG_TEMPLATE, "r://{x}"));
  /* A ctx with nothing registered: nothing happens. */
  registry_remove_ctx(&into, CTX_B);
  CHECK_EQ_INT(into.lists[REG_TOOL].count, 20);
  /* Back again with merge. */
  CHECK_EQ_INT(registry_merge(&r, &into), 0);
  CHECK_EQ_INT(r.lists[REG_TOOL].count, 20);
  CHECK(has(&r, REG_TOOL, "t38"));
  registry_free(&r);
  registry_free(&into);
}

/* The keys of kind in r, in order, joined by spaces, into out. */
static const char *keys(const registry *r, enum reg_kind kind, char *out, size_t n) {
  size_t i, len = 0;
  out[0] = '\0';
  for (i = 0; i < r->lists[kind].count && len < n; i++)
    len += (size_t)snprintf(out + len, n - len, "%s%s", i ? " " : "", r->lists[kind].items[i]->key);
  return out;
}

static void test_replace(void) {
  static char ctx_c_mem, ctx_d_mem;
  mcpd_ctx *c = (mcpd_ctx *)(void *)&ctx_c_mem, *d = (mcpd_ctx *)(void *)&ctx_d_mem;
  registry r, staged, taken;
  json_t *before[REG_LISTS];
  int changed[REG_LISTS];
  char err[256], list[256];

  registry_init(&r);
  registry_init(&staged);
  registry_init(&taken);
  /* alpha's tools, then beta's; beta also has a resource, alpha none. */
  CHECK_EQ_INT(add_tool(&r, CTX_A, "alpha", "a1", err, sizeof(err)), 0);
  CHECK_EQ_INT(add_tool(&r, CTX_A, "alpha", "a2", err, sizeof(err)), 0);
  CHECK_EQ_INT(add_tool(&r, CTX_B, "beta", "b1", err, sizeof(err)), 0);
  CHECK_EQ_INT(add_resource(&r, CTX_B, "beta", "r://b"), 0);
  CHECK_EQ_INT(add_resource(&r, CTX_A, "alpha", "r://a"), 0);

  /* A new version of alpha registering the same: every list as it was. */
  CHECK_EQ_INT(add_tool(&staged, c, "alpha", "a1", err, sizeof(err)), 0);
  CHECK_EQ_INT(add_tool(&staged, c, "alpha", "a2", err, sizeof(err)), 0);
  CHECK_EQ_INT(add_resource(&staged, c, "alpha", "r://a"), 0);
  registry_lists_snapshot(&r, before);
  CHECK_EQ_INT(registry_replace_ctx(&r, CTX_A, &staged, &taken), 0);
  registry_lists_compare(&r, before, changed);
  CHECK(!changed[REG_LIST_TOOLS] && !changed[REG_LIST_RESOURCES] && !changed[REG_LIST_PROMPTS]);
  CHECK_EQ_STR(keys(&r, REG_TOOL, list, sizeof(list)), "a1 a2 b1");
  CHECK_EQ_STR(keys(&r, REG_RESOURCE, list, sizeof(list)), "r://b r://a");
  CHECK(registry_get(&r, REG_TOOL, "a2", 2)->ctx == c);
  CHECK_EQ_INT(taken.lists[REG_TOOL].count, 2);
  CHECK(registry_get(&taken, REG_TOOL, "a1", 2)->ctx == CTX_A);
  CHECK_EQ_INT(staged.lists[REG_TOOL].count, 0);
  registry_free(&taken);
  registry_init(&taken);

  /* Fewer and more entries, and a kind the old one had none of: the new
   * ones start where the old ones did; a new kind goes last. */
  CHECK_EQ_INT(add_tool(&staged, d, "alpha", "a3", err, sizeof(err)), 0);
  CHECK_EQ_INT(add_prompt(&staged, d, "alpha", "pa"), 0);
  CHECK_EQ_INT(registry_replace_ctx(&r, c, &staged, &taken), 0);
  CHECK_EQ_STR(keys(&r, REG_TOOL, list, sizeof(list)), "a3 b1");
  CHECK_EQ_STR(keys(&r, REG_RESOURCE, list, sizeof(list)), "r://b");
  CHECK_EQ_STR(keys(&r, REG_PROMPT, list, sizeof(list)), "pa");
  CHECK(!has(&r, REG_TOOL, "a1") && has(&taken, REG_TOOL, "a1"));
  registry_free(&taken);
  registry_init(&taken);

  /* A key another plugin holds: -EEXIST, and r is exactly as it was. */
  CHECK_EQ_INT(add_tool(&staged, c, "alpha", "x", err, sizeof(err)), 0);
  CHECK_EQ_INT(add_tool(&staged, c, "alpha", "b1", err, sizeof(err)), 0);
  CHECK_EQ_INT(registry_replace_ctx(&r, d, &staged, &taken), -EEXIST);
  CHECK_EQ_STR(keys(&r, REG_TOOL, list, sizeof(list)), "a3 b1");
  CHECK_EQ_STR(keys(&r, REG_PROMPT, list, sizeof(list)), "pa");
  CHECK(registry_get(&r, REG_TOOL, "a3", 2)->ctx == d);
  CHECK(registry_get(&r, REG_TOOL, "b1", 2)->ctx == CTX_B);
  CHECK_EQ_INT(staged.lists[REG_TOOL].count, 2);
  CHECK_EQ_INT(taken.lists[REG_TOOL].count, 0);
  registry_free(&staged);
  registry_init(&staged);

  /* No old version: a plain merge, after r's own. */
  CHECK_EQ_INT(add_tool(&staged, c, "gamma", "g", err, sizeof(err)), 0);
  CHECK_EQ_INT(registry_replace_ctx(&r, NULL, &staged, &taken), 0);
  CHECK_EQ_STR(keys(&r, REG_TOOL, list, sizeof(list)), "a3 b1 g");
  registry_free(&r);
  registry_free(&staged);
  registry_free(&taken);
}

/* ---- templates ------------------------------------------------------------------- */

static void test_match_template(void) {
  registry r;
  int first = 1, second = 2;
  json_t *vars = NULL;
  reg_template *t;

  registry_init(&r);
  CHECK(registry_match_template(&r, "db://tables/x", &vars) == NULL);
  CHECK_EQ_INT(add_template(&r, CTX_A, "alpha", "db://tables/{table}", &first), 0);
  CHECK_EQ_INT(add_template(&r, CTX_B, "beta", "db://{+rest}", &second), 0);

  t = registry_match_template(&r, "db://tables/users", &vars);
  CHECK(t != NULL && t->data == &first);
  CHECK_EQ_STR(json_string_value(json_object_get(vars, "table")), "users");
  json_decref(vars);
  vars = NULL;
  /* Percent-decoded. */
  t = registry_match_template(&r, "db://tables/a%20b", &vars);
  CHECK(t != NULL && t->data == &first);
  CHECK_EQ_STR(json_string_value(json_object_get(vars, "table")), "a b");
  json_decref(vars);
  vars = NULL;
  /* {table} takes no '/': the second template matches. */
  t = registry_match_template(&r, "db://tables/a/b", &vars);
  CHECK(t != NULL && t->data == &second);
  CHECK_EQ_STR(json_string_value(json_object_get(vars, "rest")), "tables/a/b");
  CHECK_EQ_INT(json_object_size(vars), 1);
  json_decref(vars);
  vars = NULL;
  CHECK(registry_match_template(&r, "http://tables/x", &vars) == NULL);
  CHECK(vars == NULL);
  /* Registration order decides: after the first goes, the second matches. */
  registry_remove_ctx(&r, CTX_A);
  t = registry_match_template(&r, "db://tables/users", &vars);
  CHECK(t != NULL && t->data == &second);
  json_decref(vars);
  registry_free(&r);
}

/* ---- listings --------------------------------------------------------------------- */

static void test_listing(void) {
  registry r;
  char err[256];
  json_t *out = json_loads("{\"type\":\"object\"}", 0, NULL);
  json_t *ann = json_loads("{\"readOnlyHint\":true}", 0, NULL);
  mcpd_tool t;
  mcpd_resource res;
  reg_entry *e;
  const json_t *l;
  int v;

  registry_init(&r);
  memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.name = "full";
  t.title = "Full";
  t.description = "d";
  t.output_schema = out;
  t.annotations = ann;
  t.handler = tool_fn;
  CHECK_EQ_INT(registry_add_tool(&r, CTX_A, "alpha", &t, err, sizeof(err)), 0);
  e = registry_get(&r, REG_TOOL, "full", 4);
  CHECK(e != NULL);
  if (e == NULL)
    return;

  l = registry_listing(e, PROTO_2024_11_05);
  CHECK(l != NULL);
  CHECK_EQ_STR(json_string_value(json_object_get(l, "name")), "full");
  CHECK_EQ_STR(json_string_value(json_object_get(l, "description")), "d");
  CHECK(json_object_get(l, "inputSchema") != NULL);
  CHECK(json_object_get(l, "title") == NULL);
  CHECK(json_object_get(l, "outputSchema") == NULL);
  CHECK(json_object_get(l, "annotations") == NULL);

  l = registry_listing(e, PROTO_2025_03_26);
  CHECK(json_object_get(l, "annotations") != NULL);
  CHECK(json_object_get(l, "title") == NULL);
  CHECK(json_object_get(l, "outputSchema") == NULL);

  for (v = PROTO_2025_06_18; v < PROTO_COUNT; v++) {
    l = registry_listing(e, v);
    CHECK(json_object_get(l, "annotations") != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(l, "title")), "Full");
    CHECK(json_equal(json_object_get(l, "outputSchema"), out));
    CHECK(json_equal(l, e->def));
  }
  /* Cached per revision; an unknown revision means the newest. */
  CHECK(registry_listing(e, PROTO_2024_11_05) == registry_listing(e, PROTO_2024_11_05));
  CHECK(registry_listing(e, -1) == registry_listing(e, PROTO_LATEST));
  CHECK(registry_listing(e, PROTO_COUNT) == registry_listing(e, PROTO_LATEST));
  /* The gating never touches the full definition. */
  CHECK(json_object_get(e->def, "title") != NULL);
  CHECK(json_object_get(e->def, "annotations") != NULL);

  memset(&res, 0, sizeof(res));
  res.struct_size = sizeof(res);
  res.uri = "r://1";
  res.name = "one";
  res.title = "One";
  res.annotations = ann;
  res.handler = res_fn;
  CHECK_EQ_INT(registry_add_resource(&r, CTX_A, "alpha", &res, err, sizeof(err)), 0);
  e = registry_get(&r, REG_RESOURCE, "r://1", 5);
  l = registry_listing(e, PROTO_2024_11_05);
  CHECK_EQ_STR(json_string_value(json_object_get(l, "uri")), "r://1");
  CHECK(json_object_get(l, "title") == NULL && json_object_get(l, "annotations") == NULL);
  l = registry_listing(e, PROTO_2025_06_18);
  CHECK(json_object_get(l, "title") != NULL && json_object_get(l, "annotations") != NULL);
  registry_free(&r);
  json_decref(out);
  json_decref(ann);
}

static void test_snapshots(void) {
  registry r;
  json_t *snap[REG_LISTS], *all;
  int changed[REG_LISTS], k;
  char err[256];

  registry_init(&r);
  CHECK_EQ_INT(add_tool(&r, CTX_A, "alpha", "a", err, sizeof(err)), 0);
  CHECK_EQ_INT(add_resource(&r, CTX_A, "alpha", "r://1"), 0);
  CHECK_EQ_INT(add_prompt(&r, CTX_A, "alpha", "p"), 0);

  /* Nothing changed. */
  registry_lists_snapshot(&r, snap);
  for (k = 0; k < REG_LISTS; k++)
    CHECK(snap[k] != NULL);
  CHECK_EQ_INT(json_array_size(snap[REG_LIST_TOOLS]), 1);
  memset(changed, 0x55, sizeof(changed));
  registry_lists_compare(&r, snap, changed);
  for (k = 0; k < REG_LISTS; k++) {
    CHECK_EQ_INT(changed[k], 0);
    CHECK(snap[k] == NULL);
  }

  /* A tool added: only the tools list changed. */
  registry_lists_snapshot(&r, snap);
  CHECK_EQ_INT(add_tool(&r, CTX_B, "beta", "b", err, sizeof(err)), 0);
  registry_lists_compare(&r, snap, changed);
  CHECK_EQ_INT(changed[REG_LIST_TOOLS], 1);
  CHECK_EQ_INT(changed[REG_LIST_RESOURCES], 0);
  CHECK_EQ_INT(changed[REG_LIST_PROMPTS], 0);

  /* A template counts as the resources list. */
  registry_lists_snapshot(&r, snap);
  CHECK_EQ_INT(add_template(&r, CTX_B, "beta", "r://{x}", NULL), 0);
  registry_lists_compare(&r, snap, changed);
  CHECK_EQ_INT(changed[REG_LIST_TOOLS], 0);
  CHECK_EQ_INT(changed[REG_LIST_RESOURCES], 1);
  CHECK_EQ_INT(changed[REG_LIST_PROMPTS], 0);

  /* Replacing an entry by an equal one is no change; a different one is. */
  registry_lists_snapshot(&r, snap);
  registry_remove_ctx(&r, CTX_B);
  CHECK_EQ_INT(add_tool(&r, CTX_A, "alpha", "b", err, sizeof(err)), 0);
  CHECK_EQ_INT(add_template(&r, CTX_A, "alpha", "r://{x}", NULL), 0);
  registry_lists_compare(&r, snap, changed);
  for (k = 0; k < REG_LISTS; k++)
    CHECK_EQ_INT(changed[k], 0);
  registry_lists_snapshot(&r, snap);
  registry_remove_ctx(&r, CTX_A);
  CHECK_EQ_INT(add_prompt(&r, CTX_B, "beta", "p"), 0);
  registry_lists_compare(&r, snap, changed);
  CHECK_EQ_INT(changed[REG_LIST_TOOLS], 1);
  CHECK_EQ_INT(changed[REG_LIST_RESOURCES], 1);
  CHECK_EQ_INT(changed[REG_LIST_PROMPTS], 0);

  /* A missing snapshot counts as a change. */
  registry_lists_snapshot(&r, snap);
  json_decref(snap[REG_LIST_PROMPTS]);
  snap[REG_LIST_PROMPTS] = NULL;
  registry_lists_compare(&r, snap, changed);
  CHECK_EQ_INT(changed[REG_LIST_TOOLS], 0);
  CHECK_EQ_INT(changed[REG_LIST_PROMPTS], 1);

  /* registry_snapshot with a kind mask. */
  CHECK_EQ_INT(add_tool(&r, CTX_B, "beta", "t", err, sizeof(err)), 0);
  all = registry_snapshot(&r, (1u << REG_TOOL) | (1u << REG_PROMPT));
  CHECK_EQ_INT(json_array_size(all), 2);
  CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(all, 0), "name")), "t");
  CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(all, 1), "name")), "p");
  json_decref(all);
  all = registry_snapshot(&r, 0);
  CHECK_EQ_INT(json_array_size(all), 0);
  json_decref(all);
  registry_free(&r);
}

int main(void) {
  RUN(test_add_tool);
  RUN(test_add_other_kinds);
  RUN(test_duplicates);
  RUN(test_bad_tools);
  RUN(test_bad_others);
  RUN(test_merge);
  RUN(test_take_remove);
  RUN(test_replace);
  RUN(test_match_template);
  RUN(test_listing);
  RUN(test_snapshots);
  TEST_MAIN_END();
}
