/* test_oa_tasks.c -- task support in the http_backend plugin (the 2026-07-28 tasks
 * extension): the settings "tasks" and "task_operations" (oa_task_settings()), which
 * task support each tool gets from them and from the document's "x-mcp-task"
 * (openapi_convert(): task_operations, then x-mcp-task, then tasks), and the call
 * meta-tool's in tools_mode "search" (oa_meta_task_support()). The JSON is written with
 * ' for ", to keep the C strings readable. */
#define _POSIX_C_SOURCE 200809L

#include "oa_meta.h"
#include "openapi.h"
#include "test.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *J(const char *text) {
  size_t i, n = strlen(text);
  char *buf = malloc(n + 1);
  json_error_t e;
  json_t *j;
  if (buf == NULL)
    abort();
  for (i = 0; i <= n; i++)
    buf[i] = text[i] == '\'' ? '"' : text[i];
  j = json_loads(buf, JSON_DECODE_ANY, &e);
  if (j == NULL) {
    fprintf(stderr, "bad test JSON (%s at %d): %s\n", e.text, e.position, buf);
    abort();
  }
  free(buf);
  return j;
}

/* Five operations: one for each value of x-mcp-task, a bad one, and one without. */
static const char PATHS[] =
    "{'openapi':'3.0.3','info':{'title':'Reports','version':'1'},'paths':{"
    "'/reports/{id}':{'get':{'operationId':'getReport','x-mcp-task':'forbidden',"
    "'parameters':[{'name':'id','in':'path','required':true,'schema':{'type':'string'}}],"
    "'responses':{'200':{'description':'ok'}}}},"
    "'/export':{'post':{'operationId':'exportAll','x-mcp-task':'optional',"
    "'responses':{'200':{'description':'ok'}}}},"
    "'/items':{'get':{'operationId':'listItems','responses':{'200':{'description':'ok'}}}},"
    "'/slow':{'post':{'operationId':'slowThing','x-mcp-task':'required',"
    "'responses':{'200':{'description':'ok'}}}},"
    "'/bad':{'get':{'operationId':'badThing','x-mcp-task':'sometimes',"
    "'responses':{'200':{'description':'ok'}}}}}}";

static oa_options opts(void) {
  oa_options o;
  memset(&o, 0, sizeof(o));
  o.backend = "shop";
  return o;
}

/* Converts PATHS with o; the return value of openapi_convert() (err: its message). */
static int convert(const oa_options *o, oa_api *api, char *err, size_t n) {
  json_t *d = J(PATHS);
  int rc = openapi_convert(d, o, api, err, n);
  json_decref(d);
  return rc;
}

/* The task support of the operation named name, or -1 when there is none. */
static int task_of(const oa_api *api, const char *name) {
  size_t i;
  for (i = 0; i < api->n_ops; i++) {
    if (strcmp(api->ops[i].name, name) == 0)
      return api->ops[i].task_support;
  }
  fprintf(stderr, "no operation %s\n", name);
  return -1;
}

static int has_warning(const oa_api *api, const char *needle) {
  size_t i;
  for (i = 0; i < api->n_warnings; i++) {
    if (strstr(api->warnings[i], needle) != NULL)
      return 1;
  }
  return 0;
}

/* oa_task_settings() on the backend settings text; *task_default starts at -1. */
static int settings(const char *text, int *task_default, char *err, size_t n) {
  json_t *b = J(text);
  int rc;
  *task_default = -1;
  err[0] = '\0';
  rc = oa_task_settings(b, task_default, err, n);
  json_decref(b);
  return rc;
}

static void test_settings(void) {
  char err[300];
  int t;
  CHECK_EQ_INT(oa_task_parse("forbidden"), OA_TASK_FORBIDDEN);
  CHECK_EQ_INT(oa_task_parse("optional"), OA_TASK_OPTIONAL);
  CHECK_EQ_INT(oa_task_parse("required"), OA_TASK_REQUIRED);
  CHECK_EQ_INT(oa_task_parse("Optional"), -1);
  CHECK_EQ_INT(oa_task_parse(""), -1);
  CHECK_EQ_INT(oa_task_parse(NULL), -1);

  /* Absent: forbidden. */
  CHECK_EQ_INT(settings("{'name':'shop'}", &t, err, sizeof(err)), 0);
  CHECK_EQ_INT(t, OA_TASK_FORBIDDEN);
  CHECK_EQ_INT(settings("{'tasks':'forbidden'}", &t, err, sizeof(err)), 0);
  CHECK_EQ_INT(t, OA_TASK_FORBIDDEN);
  CHECK_EQ_INT(settings("{'tasks':'optional'}", &t, err, sizeof(err)), 0);
  CHECK_EQ_INT(t, OA_TASK_OPTIONAL);
  CHECK_EQ_INT(settings("{'tasks':'required'}", &t, err, sizeof(err)), 0);
  CHECK_EQ_INT(t, OA_TASK_REQUIRED);
  CHECK_EQ_INT(settings("{'tasks':'optional','task_operations':{'getReport':'optional',"
                        "'exportAll':'required','listItems':'forbidden'}}",
                        &t, err, sizeof(err)),
               0);
  CHECK_EQ_INT(t, OA_TASK_OPTIONAL);
  CHECK_EQ_INT(settings("{'task_operations':{}}", &t, err, sizeof(err)), 0);

  /* Bad values. */
  CHECK_EQ_INT(settings("{'tasks':'sometimes'}", &t, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "tasks must be \"forbidden\", \"optional\" or \"required\"");
  CHECK_EQ_INT(settings("{'tasks':true}", &t, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "tasks must be \"forbidden\", \"optional\" or \"required\"");
  CHECK_EQ_INT(settings("{'tasks':null}", &t, err, sizeof(err)), -EINVAL);
  CHECK_EQ_INT(settings("{'task_operations':{'getReport':'maybe'}}", &t, err, sizeof(err)),
               -EINVAL);
  CHECK_EQ_STR(
      err, "task_operations: \"getReport\" must be \"forbidden\", \"optional\" or \"required\"");
  CHECK_EQ_INT(settings("{'task_operations':{'getReport':1}}", &t, err, sizeof(err)), -EINVAL);
  CHECK_EQ_INT(settings("{'task_operations':['getReport']}", &t, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "task_operations must be an object of operationIds or tool names and "
                    "\"forbidden\", \"optional\" or \"required\", not an array");
}

static void test_precedence(void) {
  char err[300];
  oa_options o = opts();
  json_t *ops;
  oa_api api;

  /* The document alone: x-mcp-task, else forbidden; a bad value is a warning. */
  CHECK_EQ_INT(convert(&o, &api, err, sizeof(err)), 0);
  CHECK_EQ_INT(task_of(&api, "getReport"), OA_TASK_FORBIDDEN);
  CHECK_EQ_INT(task_of(&api, "exportAll"), OA_TASK_OPTIONAL);
  CHECK_EQ_INT(task_of(&api, "listItems"), OA_TASK_FORBIDDEN);
  CHECK_EQ_INT(task_of(&api, "slowThing"), OA_TASK_REQUIRED);
  CHECK_EQ_INT(task_of(&api, "badThing"), OA_TASK_FORBIDDEN);
  CHECK(has_warning(&api, "GET /bad: x-mcp-task must be \"forbidden\", \"optional\" or "
                          "\"required\"; ignored"));
  openapi_free(&api);

  /* The backend's "tasks" is for the operations the document says nothing (valid) of. */
  o.task_default = OA_TASK_OPTIONAL;
  CHECK_EQ_INT(convert(&o, &api, err, sizeof(err)), 0);
  CHECK_EQ_INT(task_of(&api, "getReport"), OA_TASK_FORBIDDEN);
  CHECK_EQ_INT(task_of(&api, "exportAll"), OA_TASK_OPTIONAL);
  CHECK_EQ_INT(task_of(&api, "listItems"), OA_TASK_OPTIONAL);
  CHECK_EQ_INT(task_of(&api, "slowThing"), OA_TASK_REQUIRED);
  CHECK_EQ_INT(task_of(&api, "badThing"), OA_TASK_OPTIONAL);
  openapi_free(&api);

  /* task_operations wins over both, by operationId, final name or name without the
   * prefix. */
  o = opts();
  o.tool_prefix = "shop_";
  o.task_default = OA_TASK_REQUIRED;
  ops = J("{'getReport':'optional','shop_exportAll':'forbidden','slowThing':'optional',"
          "'listItems':'forbidden'}");
  o.task_operations = ops;
  CHECK_EQ_INT(convert(&o, &api, err, sizeof(err)), 0);
  CHECK_EQ_INT(task_of(&api, "shop_getReport"), OA_TASK_OPTIONAL);
  CHECK_EQ_INT(task_of(&api, "shop_exportAll"), OA_TASK_FORBIDDEN);
  CHECK_EQ_INT(task_of(&api, "shop_listItems"), OA_TASK_FORBIDDEN);
  CHECK_EQ_INT(task_of(&api, "shop_slowThing"), OA_TASK_OPTIONAL);
  CHECK_EQ_INT(task_of(&api, "shop_badThing"), OA_TASK_REQUIRED);
  openapi_free(&api);
  json_decref(ops);

  /* A name that matches no operation is an error, naming the key; one that a filter
   * leaves out is not. */
  o = opts();
  ops = J("{'getReport':'optional','getRepotr':'required'}");
  o.task_operations = ops;
  CHECK_EQ_INT(convert(&o, &api, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "task_operations: \"getRepotr\" matches no operation of the document");
  CHECK_EQ_INT(api.n_ops, 0);
  json_decref(ops);
  ops = J("{'getReport':'optional'}");
  o.task_operations = ops;
  o.exclude_operations = J("['getReport']");
  CHECK_EQ_INT(convert(&o, &api, err, sizeof(err)), 0);
  CHECK_EQ_INT(api.n_ops, 4);
  openapi_free(&api);
  json_decref((json_t *)o.exclude_operations);
  json_decref(ops);

  /* The converter checks the values too. */
  o = opts();
  ops = J("{'getReport':'later'}");
  o.task_operations = ops;
  CHECK_EQ_INT(convert(&o, &api, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(
      err, "task_operations: \"getReport\" must be \"forbidden\", \"optional\" or \"required\"");
  json_decref(ops);
  o = opts();
  o.task_default = 3;
  CHECK_EQ_INT(convert(&o, &api, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "tasks must be \"forbidden\", \"optional\" or \"required\"");

  /* Only tools run as tasks: a resource's is 0 whatever the settings say. */
  o = opts();
  o.get_as_resources = 1;
  o.task_default = OA_TASK_OPTIONAL;
  CHECK_EQ_INT(convert(&o, &api, err, sizeof(err)), 0);
  CHECK_EQ_INT(task_of(&api, "listItems"), OA_TASK_FORBIDDEN);
  CHECK_EQ_INT(task_of(&api, "exportAll"), OA_TASK_OPTIONAL);
  openapi_free(&api);
}

static void test_meta_task_support(void) {
  char err[300];
  oa_options o = opts();
  json_t *ops;
  oa_api api;

  /* Any tool that may run as a task: the call meta-tool may. */
  CHECK_EQ_INT(convert(&o, &api, err, sizeof(err)), 0);
  CHECK_EQ_INT(oa_meta_task_support(&api), OA_TASK_OPTIONAL);
  openapi_free(&api);
  /* None: forbidden. */
  ops = J("{'exportAll':'forbidden','slowThing':'forbidden'}");
  o.task_operations = ops;
  CHECK_EQ_INT(convert(&o, &api, err, sizeof(err)), 0);
  CHECK_EQ_INT(oa_meta_task_support(&api), OA_TASK_FORBIDDEN);
  openapi_free(&api);
  json_decref(ops);
  /* Every one requires it: required. */
  o = opts();
  o.task_default = OA_TASK_REQUIRED;
  ops = J("{'getReport':'required'}");
  o.task_operations = ops;
  o.exclude_operations = J("['exportAll']");
  CHECK_EQ_INT(convert(&o, &api, err, sizeof(err)), 0);
  CHECK_EQ_INT(oa_meta_task_support(&api), OA_TASK_REQUIRED);
  openapi_free(&api);
  json_decref((json_t *)o.exclude_operations);
  json_decref(ops);
  /* No tools at all: forbidden. */
  memset(&api, 0, sizeof(api));
  CHECK_EQ_INT(oa_meta_task_support(&api), OA_TASK_FORBIDDEN);
}

int main(void) {
  RUN(test_settings);
  RUN(test_precedence);
  RUN(test_meta_task_support);
  TEST_MAIN_END();
}
