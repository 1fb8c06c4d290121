/* test_authz.c -- scopes per tool, resource and prompt: the order of
 * precedence (the first matching auth.scopes rule, then the plugin's
 * required_scopes alternatives, then auth.scopes.default), the "need" text,
 * the transports' per-message check (tools/call, prompts/get,
 * resources/read and subscribe, templates), and scopes_supported. */
#include "lib/auth_config.h"
#include "lib/principal.h"
#include "mcp/authz.h"
#include "mcp/jsonrpc.h"
#include "mcp/registry.h"
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char ctx_mem;
#define CTX ((mcpd_ctx *)(void *)&ctx_mem)

static int tool_fn(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  (void)call, (void)args, (void)data;
  *result = NULL;
  return MCPD_OK;
}

static int res_fn(mcpd_call *call, const char *uri, const json_t *vars, void *data,
                  json_t **result) {
  (void)call, (void)uri, (void)vars, (void)data;
  *result = NULL;
  return MCPD_OK;
}

static int complete_fn(mcpd_call *call, const char *argument, const char *value,
                       const json_t *context, void *data, json_t **result) {
  (void)call, (void)argument, (void)value, (void)context, (void)data;
  *result = NULL;
  return MCPD_OK;
}

static void add_tool(registry *r, const char *name, const char *const *scopes) {
  char err[256] = "";
  mcpd_tool t;
  memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.name = name;
  t.handler = tool_fn;
  t.required_scopes = scopes;
  CHECK_EQ_INT(registry_add_tool(r, CTX, "plug", &t, err, sizeof(err)), 0);
  CHECK_EQ_STR(err, "");
}

static void add_resource(registry *r, const char *uri, const char *const *scopes) {
  char err[256] = "";
  mcpd_resource res;
  memset(&res, 0, sizeof(res));
  res.struct_size = sizeof(res);
  res.uri = uri;
  res.name = "res";
  res.handler = res_fn;
  res.required_scopes = scopes;
  CHECK_EQ_INT(registry_add_resource(r, CTX, "plug", &res, err, sizeof(err)), 0);
}

static void add_template(registry *r, const char *tpl, const char *const *scopes) {
  char err[256] = "";
  mcpd_resource_template t;
  memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.uri_template = tpl;
  t.name = "tpl";
  t.handler = res_fn;
  t.complete = complete_fn;
  t.required_scopes = scopes;
  CHECK_EQ_INT(registry_add_template(r, CTX, "plug", &t, err, sizeof(err)), 0);
}

static void add_prompt(registry *r, const char *name) {
  char err[256] = "";
  mcpd_prompt p;
  memset(&p, 0, sizeof(p));
  p.struct_size = sizeof(p);
  p.name = name;
  p.handler = tool_fn;
  p.complete = complete_fn;
  CHECK_EQ_INT(registry_add_prompt(r, CTX, "plug", &p, err, sizeof(err)), 0);
}

static auth_config *cfg_of(const char *text) {
  json_t *v = json_loads(text, 0, NULL);
  auth_config *c = NULL;
  char err[300] = "";
  CHECK(v != NULL);
  CHECK_EQ_INT(auth_config_parse(v, &c, err, sizeof(err)), 0);
  if (err[0] != '\0')
    fprintf(stderr, "  (config: %s)\n", err);
  json_decref(v);
  return c;
}

static principal *who(const char *scope) {
  principal_init in;
  memset(&in, 0, sizeof(in));
  in.kind = PRINCIPAL_JWT;
  in.subject = "alice";
  in.issuer = "https://idp.example";
  in.scope = scope;
  return principal_new(&in);
}

#define TOKENS "\"tokens\":[{\"name\":\"t\",\"token\":\"tok_abcdefghijklmnop\"}]"

/* The registry most tests use. */
static const char *const s_read[] = {"items:read", NULL};
static const char *const s_delete[] = {"items:write admin", "root", NULL};
static const char *const s_files[] = {"files:read", NULL};
static const char *const s_db[] = {"db:read", NULL};

static void fill(registry *r) {
  registry_init(r);
  add_tool(r, "read_item", s_read);
  add_tool(r, "delete_item", s_delete);
  add_tool(r, "plain", NULL);
  add_tool(r, "danger_zap", s_read);
  add_resource(r, "file:///a", s_files);
  add_resource(r, "file:///open", NULL);
  add_template(r, "db://tables/{table}", s_db);
  add_prompt(r, "greet");
}

static const reg_entry *entry(const registry *r, enum reg_kind kind, const char *key) {
  const reg_entry *e = registry_get(r, kind, key, strlen(key));
  CHECK(e != NULL);
  return e;
}

/* authz_allows for entry (kind, key) with principal scopes, and need. */
static int allows(const auth_config *cfg, const registry *r, enum reg_kind kind, const char *key,
                  const char *scopes, char *need, size_t n) {
  principal *p = who(scopes);
  const reg_entry *e = entry(r, kind, key);
  int ok;
  if (need != NULL && n > 0)
    snprintf(need, n, "untouched");
  ok = e ? authz_allows(cfg, p, e, key, need, n) : -1;
  principal_unref(p);
  return ok;
}

static void test_registry_scopes(void) {
  registry r;
  const reg_entry *e;
  fill(&r);
  e = entry(&r, REG_TOOL, "delete_item");
  CHECK(e != NULL && e->scopes_any != NULL &&
        memcmp(e->scopes_any, "items:write admin\0root\0", 24) == 0);
  e = entry(&r, REG_TOOL, "plain");
  CHECK(e != NULL && e->scopes_any == NULL);
  registry_free(&r);
}

static void test_precedence(void) {
  registry r;
  char need[128];
  auth_config *cfg =
      cfg_of("{" TOKENS ",\"scopes\":{\"required\":[\"mcp\"],\"default\":[\"basic\"],"
             "\"rules\":[{\"tools\":\"danger_*\",\"scopes\":[\"danger\"]},"
             "{\"tools\":\"read_item\",\"scopes\":[\"override\",\"x\"]},"
             "{\"tools\":\"*\",\"scopes\":[\"never-reached-for-read\"]},"
             "{\"resources\":\"file:///open\",\"scopes\":[]},"
             "{\"prompts\":\"greet\",\"scopes\":[\"prompts\"]}]}}");
  fill(&r);
  if (cfg == NULL)
    return;

  /* A rule beats the plugin's scopes: items:read is not enough... */
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "read_item", "items:read", need, sizeof(need)), 0);
  CHECK_EQ_STR(need, "mcp override x");
  /* ...and the rule's scopes are, without the plugin's. */
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "read_item", "x override", need, sizeof(need)), 1);
  CHECK_EQ_STR(need, "untouched");
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "read_item", "override", need, sizeof(need)), 0);
  CHECK_EQ_STR(need, "mcp override x");
  /* The first matching rule wins (danger_* before *). */
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "danger_zap", "items:read", need, sizeof(need)), 0);
  CHECK_EQ_STR(need, "mcp danger");
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "danger_zap", "danger", need, sizeof(need)), 1);
  CHECK_EQ_INT(
      allows(cfg, &r, REG_TOOL, "danger_zap", "never-reached-for-read", need, sizeof(need)), 0);
  /* The catch-all rule then covers the rest of the tools. */
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "plain", "basic", need, sizeof(need)), 0);
  CHECK_EQ_STR(need, "mcp never-reached-for-read");
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "delete_item", "root", need, sizeof(need)), 0);
  /* Rules of one kind do not touch another: resources use the plugin's. */
  CHECK_EQ_INT(
      allows(cfg, &r, REG_RESOURCE, "file:///a", "never-reached-for-read", need, sizeof(need)), 0);
  CHECK_EQ_STR(need, "mcp files:read");
  CHECK_EQ_INT(allows(cfg, &r, REG_RESOURCE, "file:///a", "files:read", need, sizeof(need)), 1);
  /* A rule with [] lets any valid token through, default or not. */
  CHECK_EQ_INT(allows(cfg, &r, REG_RESOURCE, "file:///open", NULL, need, sizeof(need)), 1);
  /* Prompts (no plugin scopes): their rule. */
  CHECK_EQ_INT(allows(cfg, &r, REG_PROMPT, "greet", "basic", need, sizeof(need)), 0);
  CHECK_EQ_STR(need, "mcp prompts");
  CHECK_EQ_INT(allows(cfg, &r, REG_PROMPT, "greet", "prompts", need, sizeof(need)), 1);
  auth_config_free(cfg);
  registry_free(&r);
}

static void test_plugin_and_default(void) {
  registry r;
  char need[128];
  auth_config *cfg = cfg_of("{" TOKENS ",\"scopes\":{\"required\":[\"mcp\",\"mcp:2\"],"
                            "\"default\":[\"basic\",\"more\"]}}");
  fill(&r);
  if (cfg == NULL)
    return;
  /* Alternatives: any one whole set. */
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "delete_item", "root", need, sizeof(need)), 1);
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "delete_item", "admin items:write", need, sizeof(need)),
               1);
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "delete_item", "items:write", need, sizeof(need)), 0);
  CHECK_EQ_STR(need, "mcp mcp:2 items:write admin"); /* required + the first set */
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "delete_item", "admin", need, sizeof(need)), 0);
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "delete_item", "basic more", need, sizeof(need)), 0);
  /* Plugin scopes beat the default: the default is neither needed nor enough. */
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "read_item", "items:read", need, sizeof(need)), 1);
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "read_item", "basic more", need, sizeof(need)), 0);
  CHECK_EQ_STR(need, "mcp mcp:2 items:read");
  /* No rule and no plugin scopes: the default, all of it. */
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "plain", "basic more", need, sizeof(need)), 1);
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "plain", "basic", need, sizeof(need)), 0);
  CHECK_EQ_STR(need, "mcp mcp:2 basic more");
  CHECK_EQ_INT(allows(cfg, &r, REG_PROMPT, "greet", "more", need, sizeof(need)), 0);
  CHECK_EQ_STR(need, "mcp mcp:2 basic more");
  /* A template, matched by the URI read. */
  CHECK_EQ_INT(allows(cfg, &r, REG_TEMPLATE, "db://tables/{table}", "db:read", need, sizeof(need)),
               1);
  /* The need text is cut to fit, and may be left out. */
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "plain", "", need, 8), 0);
  CHECK_EQ_STR(need, "mcp mcp");
  CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "plain", "", NULL, 0), 0);
  auth_config_free(cfg);

  /* Empty required: no leading space; empty default: any valid token. */
  cfg = cfg_of("{" TOKENS "}");
  if (cfg != NULL) {
    CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "delete_item", "x", need, sizeof(need)), 0);
    CHECK_EQ_STR(need, "items:write admin");
    CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "plain", NULL, need, sizeof(need)), 1);
    CHECK_EQ_INT(allows(cfg, &r, REG_PROMPT, "greet", NULL, need, sizeof(need)), 1);
  }
  /* The need text names required too, even when the principal holds it. */
  auth_config_free(cfg);
  cfg = cfg_of("{" TOKENS ",\"scopes\":{\"required\":[\"mcp\"],\"default\":[\"d\"]}}");
  if (cfg != NULL) {
    CHECK_EQ_INT(allows(cfg, &r, REG_TOOL, "plain", "mcp", need, sizeof(need)), 0);
    CHECK_EQ_STR(need, "mcp d");
  }
  auth_config_free(cfg);
  registry_free(&r);
}

static void test_off(void) {
  registry r;
  char need[64] = "untouched";
  auth_config *cfg = cfg_of("{" TOKENS ",\"scopes\":{\"default\":[\"basic\"]}}");
  principal *p = who(NULL);
  fill(&r);
  /* No auth config, or no principal (stdio): allowed. */
  CHECK_EQ_INT(
      authz_allows(NULL, p, entry(&r, REG_TOOL, "delete_item"), "delete_item", need, sizeof(need)),
      1);
  CHECK_EQ_INT(authz_allows(cfg, NULL, entry(&r, REG_TOOL, "delete_item"), "delete_item", need,
                            sizeof(need)),
               1);
  CHECK_EQ_STR(need, "untouched");
  CHECK_EQ_INT(
      authz_allows(cfg, p, entry(&r, REG_TOOL, "delete_item"), "delete_item", need, sizeof(need)),
      0);
  principal_unref(p);
  auth_config_free(cfg);
  registry_free(&r);
}

/* authz_check_message for the JSON text of one message, principal scopes. */
static int check_msg(const auth_config *cfg, const registry *r, const char *scopes,
                     const char *text, char *need, size_t n, char *what, size_t wn) {
  json_t *v = json_loads(text, 0, NULL);
  jsonrpc_msg m;
  principal *p = scopes ? who(scopes) : NULL;
  int rc;
  CHECK(v != NULL);
  jsonrpc_classify(v, &m);
  snprintf(need, n, "untouched");
  snprintf(what, wn, "untouched");
  rc = authz_check_message(cfg, r, p, &m, need, n, what, wn);
  principal_unref(p);
  json_decref(v);
  return rc;
}

#define CALL(method, params)                                                                       \
  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" method "\",\"params\":" params "}"

static void test_check_message(void) {
  registry r;
  char need[128], what[128];
  auth_config *cfg =
      cfg_of("{" TOKENS ",\"scopes\":{\"required\":[\"mcp\"],\"default\":[\"basic\"],"
             "\"rules\":[{\"resources\":\"db://tables/secret*\","
             "\"scopes\":[\"secret\"]}]}}");
  fill(&r);
  if (cfg == NULL)
    return;

  CHECK_EQ_INT(check_msg(cfg, &r, "items:write", CALL("tools/call", "{\"name\":\"delete_item\"}"),
                         need, sizeof(need), what, sizeof(what)),
               -EACCES);
  CHECK_EQ_STR(need, "mcp items:write admin");
  CHECK_EQ_STR(what, "tools/call delete_item");
  CHECK_EQ_INT(check_msg(cfg, &r, "root", CALL("tools/call", "{\"name\":\"delete_item\"}"), need,
                         sizeof(need), what, sizeof(what)),
               0);
  CHECK_EQ_STR(what, "untouched");
  /* A notification is checked as well as a request. */
  CHECK_EQ_INT(check_msg(cfg, &r, "x",
                         "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":"
                         "\"plain\"}}",
                         need, sizeof(need), what, sizeof(what)),
               -EACCES);
  CHECK_EQ_STR(what, "tools/call plain");

  CHECK_EQ_INT(check_msg(cfg, &r, "x", CALL("prompts/get", "{\"name\":\"greet\"}"), need,
                         sizeof(need), what, sizeof(what)),
               -EACCES);
  CHECK_EQ_STR(need, "mcp basic");
  CHECK_EQ_STR(what, "prompts/get greet");
  CHECK_EQ_INT(check_msg(cfg, &r, "basic", CALL("prompts/get", "{\"name\":\"greet\"}"), need,
                         sizeof(need), what, sizeof(what)),
               0);

  CHECK_EQ_INT(check_msg(cfg, &r, "basic", CALL("resources/read", "{\"uri\":\"file:///a\"}"), need,
                         sizeof(need), what, sizeof(what)),
               -EACCES);
  CHECK_EQ_STR(need, "mcp files:read");
  CHECK_EQ_STR(what, "resources/read file:///a");
  CHECK_EQ_INT(check_msg(cfg, &r, "files:read", CALL("resources/read", "{\"uri\":\"file:///a\"}"),
                         need, sizeof(need), what, sizeof(what)),
               0);
  CHECK_EQ_INT(check_msg(cfg, &r, "basic", CALL("resources/subscribe", "{\"uri\":\"file:///a\"}"),
                         need, sizeof(need), what, sizeof(what)),
               -EACCES);
  CHECK_EQ_STR(what, "resources/subscribe file:///a");

  /* A URI matched by a template: the template's scopes, and rules on the URI. */
  CHECK_EQ_INT(check_msg(cfg, &r, "basic",
                         CALL("resources/read", "{\"uri\":\"db://tables/users\"}"), need,
                         sizeof(need), what, sizeof(what)),
               -EACCES);
  CHECK_EQ_STR(need, "mcp db:read");
  CHECK_EQ_STR(what, "resources/read db://tables/users");
  CHECK_EQ_INT(check_msg(cfg, &r, "db:read",
                         CALL("resources/read", "{\"uri\":\"db://tables/users\"}"), need,
                         sizeof(need), what, sizeof(what)),
               0);
  CHECK_EQ_INT(check_msg(cfg, &r, "db:read",
                         CALL("resources/read", "{\"uri\":\"db://tables/secret_pay\"}"), need,
                         sizeof(need), what, sizeof(what)),
               -EACCES);
  CHECK_EQ_STR(need, "mcp secret");
  CHECK_EQ_STR(what, "resources/read db://tables/secret_pay");
  CHECK_EQ_INT(check_msg(cfg, &r, "secret",
                         CALL("resources/read", "{\"uri\":\"db://tables/secret_pay\"}"), need,
                         sizeof(need), what, sizeof(what)),
               0);

  /* What names nothing that needs a scope passes (the dispatcher answers). */
  CHECK_EQ_INT(check_msg(cfg, &r, "x", CALL("tools/call", "{\"name\":\"no_such_tool\"}"), need,
                         sizeof(need), what, sizeof(what)),
               0);
  CHECK_EQ_STR(what, "untouched");
  CHECK_EQ_INT(check_msg(cfg, &r, "x", CALL("resources/read", "{\"uri\":\"other://x\"}"), need,
                         sizeof(need), what, sizeof(what)),
               0);
  CHECK_EQ_INT(check_msg(cfg, &r, "x", CALL("prompts/get", "{\"name\":\"nope\"}"), need,
                         sizeof(need), what, sizeof(what)),
               0);
  CHECK_EQ_INT(check_msg(cfg, &r, "x", CALL("tools/call", "{\"name\":7}"), need, sizeof(need), what,
                         sizeof(what)),
               0);
  CHECK_EQ_INT(check_msg(cfg, &r, "x", CALL("tools/call", "[\"delete_item\"]"), need, sizeof(need),
                         what, sizeof(what)),
               0);
  CHECK_EQ_INT(
      check_msg(cfg, &r, "x", CALL("tools/list", "{}"), need, sizeof(need), what, sizeof(what)), 0);
  CHECK_EQ_INT(check_msg(cfg, &r, "x", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", need,
                         sizeof(need), what, sizeof(what)),
               0);
  /* Tools and prompts are separate name spaces. */
  CHECK_EQ_INT(check_msg(cfg, &r, "x", CALL("prompts/get", "{\"name\":\"delete_item\"}"), need,
                         sizeof(need), what, sizeof(what)),
               0);
  /* No principal, or no config: nothing to check. */
  CHECK_EQ_INT(check_msg(cfg, &r, NULL, CALL("tools/call", "{\"name\":\"delete_item\"}"), need,
                         sizeof(need), what, sizeof(what)),
               0);
  CHECK_EQ_INT(check_msg(NULL, &r, "x", CALL("tools/call", "{\"name\":\"delete_item\"}"), need,
                         sizeof(need), what, sizeof(what)),
               0);
  /* what is cut to fit. */
  CHECK_EQ_INT(check_msg(cfg, &r, "x", CALL("tools/call", "{\"name\":\"delete_item\"}"), need,
                         sizeof(need), what, 12),
               -EACCES);
  CHECK_EQ_STR(what, "tools/call ");
  auth_config_free(cfg);
  registry_free(&r);
}

/* completion/complete of a prompt or resource template needs the scopes of
 * using it: its suggestions (table names, say) are its own. */
static void test_completion_checked(void) {
  registry r;
  char need[128], what[128];
  auth_config *cfg = cfg_of("{" TOKENS ",\"scopes\":{\"default\":[\"basic\"]}}");
  fill(&r);
  if (cfg == NULL)
    return;
  CHECK_EQ_INT(
      check_msg(cfg, &r, "x",
                CALL("completion/complete", "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"greet\"},"
                                            "\"argument\":{\"name\":\"a\",\"value\":\"\"}}"),
                need, sizeof(need), what, sizeof(what)),
      -EACCES);
  CHECK_EQ_INT(
      check_msg(cfg, &r, "x",
                CALL("completion/complete",
                     "{\"ref\":{\"type\":\"ref/resource\",\"uri\":\"db://tables/{table}\"},"
                     "\"argument\":{\"name\":\"table\",\"value\":\"\"}}"),
                need, sizeof(need), what, sizeof(what)),
      -EACCES);
  auth_config_free(cfg);
  registry_free(&r);
}

static void test_scopes_supported(void) {
  registry r;
  auth_config *cfg =
      cfg_of("{" TOKENS ",\"scopes\":{\"required\":[\"mcp\",\"basic\"],\"default\":[\"basic\"],"
             "\"rules\":[{\"tools\":\"x\",\"scopes\":[\"zeta\",\"admin\"]},"
             "{\"prompts\":\"y\",\"scopes\":[]}]}}");
  json_t *got;
  char *text;
  fill(&r);
  if (cfg == NULL)
    return;
  got = authz_scopes_supported(cfg, &r);
  text = json_dumps(got, JSON_COMPACT);
  CHECK_EQ_STR(text, "[\"admin\",\"basic\",\"db:read\",\"files:read\",\"items:read\","
                     "\"items:write\",\"mcp\",\"root\",\"zeta\"]");
  free(text);
  json_decref(got);
  auth_config_free(cfg);

  /* Configured: exactly that list, in its order. */
  cfg = cfg_of("{" TOKENS ",\"scopes\":{\"supported\":[\"z\",\"a\",\"m\"],\"default\":[\"d\"]}}");
  if (cfg != NULL) {
    got = authz_scopes_supported(cfg, &r);
    text = json_dumps(got, JSON_COMPACT);
    CHECK_EQ_STR(text, "[\"z\",\"a\",\"m\"]");
    free(text);
    json_decref(got);
  }
  auth_config_free(cfg);
  registry_free(&r);

  /* Nothing named anywhere: an empty list. */
  registry_init(&r);
  cfg = cfg_of("{" TOKENS "}");
  if (cfg != NULL) {
    got = authz_scopes_supported(cfg, &r);
    CHECK(json_is_array(got) && json_array_size(got) == 0);
    json_decref(got);
  }
  auth_config_free(cfg);
  registry_free(&r);
}

int main(void) {
  RUN(test_registry_scopes);
  RUN(test_precedence);
  RUN(test_plugin_and_default);
  RUN(test_off);
  RUN(test_check_message);
  RUN(test_scopes_supported);
  RUN(test_completion_checked);
  TEST_MAIN_END();
}
