/* test_openapi.c -- unit tests for plugins/http_backend/openapi.c,
 * oa_request.c and oauth_cc.c (built on their own: no mcpd core; the token
 * source runs against a fake host table). The OpenAPI documents are written
 * as JSON with ' for ", to keep the C strings readable. */
#define _POSIX_C_SOURCE 200809L
#include "oa_check.h"
#include "oa_request.h"
#include "oa_yaml.h"
#include "oauth_cc.h"
#include "openapi.h"
#include "test.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

/* ---- helpers ------------------------------------------------------------------ */

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

/* An OpenAPI document from its version, paths and components texts. */
static json_t *doc(const char *version, const char *paths, const char *components) {
  size_t n = strlen(paths) + strlen(components) + 200;
  char *buf = malloc(n);
  json_t *d;
  if (buf == NULL)
    abort();
  snprintf(buf, n,
           "{'openapi':'%s','info':{'title':'Shop','version':'1.2'},'paths':%s,"
           "'components':%s}",
           version, paths, components);
  d = J(buf);
  free(buf);
  return d;
}

static oa_options opts(void) {
  oa_options o;
  memset(&o, 0, sizeof(o));
  o.backend = "shop";
  return o;
}

static int convert(const char *version, const char *paths, const char *components,
                   const oa_options *o, oa_api *api) {
  json_t *d = doc(version, paths, components);
  oa_options def = opts();
  char err[256];
  int rc = openapi_convert(d, o != NULL ? o : &def, api, err, sizeof(err));
  if (rc != 0)
    fprintf(stderr, "openapi_convert: %d %s\n", rc, err);
  json_decref(d);
  return rc;
}

static const oa_operation *find_op(const oa_api *api, const char *name) {
  size_t i;
  for (i = 0; i < api->n_ops; i++) {
    if (strcmp(api->ops[i].name, name) == 0)
      return &api->ops[i];
  }
  return NULL;
}

/* The operation named name; when there is none, a failed check and an
 * empty operation (so that the checks after it fail instead of crashing). */
static const oa_operation *op_named(const oa_api *api, const char *name) {
  static const oa_operation none;
  size_t i;
  const oa_operation *op = find_op(api, name);
  test_checks++;
  if (op != NULL)
    return op;
  test_failures++;
  fprintf(stderr, "no operation named %s; have:", name);
  for (i = 0; i < api->n_ops; i++)
    fprintf(stderr, " %s", api->ops[i].name);
  fprintf(stderr, "\n");
  return &none;
}

static int has_warning(const oa_api *api, const char *needle) {
  size_t i;
  for (i = 0; i < api->n_warnings; i++) {
    if (strstr(api->warnings[i], needle) != NULL)
      return 1;
  }
  fprintf(stderr, "no warning with \"%s\"; have:\n", needle);
  for (i = 0; i < api->n_warnings; i++)
    fprintf(stderr, "  %s\n", api->warnings[i]);
  return 0;
}

/* The parameter of op for the argument arg; as op_named() when missing. */
static const oa_param *param_of(const oa_operation *op, const char *arg) {
  static const oa_param none = {NULL, NULL, (enum oa_location) - 1, 0, -1, -1, -1, 0, 0};
  size_t i;
  test_checks++;
  for (i = 0; i < op->n_params; i++) {
    if (strcmp(op->params[i].arg, arg) == 0)
      return &op->params[i];
  }
  test_failures++;
  fprintf(stderr, "%s has no argument %s\n", op->name ? op->name : "(none)", arg);
  return &none;
}

/* Whether v equals the JSON text (with ' for "); prints both when not. */
static int json_is(const json_t *v, const char *text) {
  json_t *want = J(text);
  int eq = v != NULL && json_equal((json_t *)v, want);
  if (!eq) {
    char *a = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *b = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(stderr, "  got:  %s\n  want: %s\n", a ? a : "(null)", b);
    free(a);
    free(b);
  }
  json_decref(want);
  return eq;
}

#define CHECK_JSON(v, text) CHECK(json_is((v), (text)))

static const json_t *prop(const oa_operation *op, const char *name) {
  return json_object_get(json_object_get(op->input_schema, "properties"), name);
}

/* ---- documents ------------------------------------------------------------------ */

/* FastAPI-style 3.1: generated ids, Optional as anyOf-with-null, a
 * self-referencing model, a parameter/body name clash. */
static const char *FASTAPI_PATHS =
    "{'/items/{item_id}':{"
    " 'get':{'operationId':'read_item_items__item_id__get','summary':'Read Item',"
    "  'description':'Get one item by id.',"
    "  'parameters':[{'name':'item_id','in':'path','required':true,"
    "                 'schema':{'type':'integer','title':'Item Id'},'description':'The id'},"
    "   {'name':'q','in':'query','required':false,"
    "    'schema':{'anyOf':[{'type':'string'},{'type':'null'}],'title':'Q'}}],"
    "  'responses':{'200':{'description':'ok','content':{'application/json':"
    "   {'schema':{'$ref':'#/components/schemas/Item'}}}}}},"
    " 'put':{'operationId':'update_item_items__item_id__put',"
    "  'parameters':[{'name':'item_id','in':'path','required':true,'schema':{'type':'integer'}}],"
    "  'requestBody':{'required':true,'content':{'application/json':"
    "   {'schema':{'$ref':'#/components/schemas/Item'}}}},"
    "  'responses':{'200':{'description':'ok','content':{'application/json':{'schema':{}}}}}}},"
    "'/items/':{'get':{'operationId':'list_items_items__get','responses':{'200':{"
    "  'description':'ok','content':{'application/json':{'schema':{'type':'array',"
    "  'items':{'$ref':'#/components/schemas/Item'}}}}}}}},"
    "'/mounted/x':{'post':{'operationId':'do_thing_other__prefix_post','responses':{}}},"
    "'/plain':{'get':{'operationId':'getPlain','responses':{}},"
    " 'post':{'summary':'Make a Plain thing!','responses':{}},"
    " 'delete':{'responses':{}}},"
    "'/things/{thing_id}':{'get':{'responses':{}}},"
    "'/custom':{'get':{'operationId':'x','x-mcp-name':'my custom/name','responses':{}},"
    " 'post':{'operationId':'secret','x-mcp-hidden':true,'responses':{}}},"
    "'/categories':{'post':{'operationId':'add_category_categories_post',"
    "  'requestBody':{'required':true,'content':{'application/json':{'schema':"
    "   {'$ref':'#/components/schemas/Category'}}}},"
    "  'responses':{'201':{'description':'ok','content':{'application/json':{'schema':"
    "   {'$ref':'#/components/schemas/Category'}}}}}}}}";

static const char *FASTAPI_COMPONENTS =
    "{'schemas':{"
    "'Item':{'type':'object','title':'Item','properties':{"
    "  'item_id':{'type':'integer','title':'Item Id'},'name':{'type':'string'},"
    "  'price':{'anyOf':[{'type':'number'},{'type':'null'}],'title':'Price'}},"
    " 'required':['item_id','name']},"
    "'Category':{'type':'object','properties':{'name':{'type':'string'},"
    "  'parent':{'anyOf':[{'$ref':'#/components/schemas/Category'},{'type':'null'}]},"
    "  'children':{'type':'array','items':{'$ref':'#/components/schemas/Category'}}},"
    " 'required':['name']},"
    "'Unused':{'type':'string'}}}";

/* ---- names ---------------------------------------------------------------------- */

static void test_names(void) {
  oa_api api;
  const oa_operation *op;
  CHECK_EQ_INT(convert("3.1.0", FASTAPI_PATHS, FASTAPI_COMPONENTS, NULL, &api), 0);
  CHECK_EQ_STR(api.title, "Shop");
  CHECK_EQ_STR(api.version, "1.2");
  /* FastAPI ids: the route's name. (op_named() is a check.) */
  op_named(&api, "read_item");
  op_named(&api, "update_item");
  op_named(&api, "list_items");
  op_named(&api, "add_category");
  /* Ends in _post but the path does not match: cut at the first "__". */
  op_named(&api, "do_thing_other");
  /* An ordinary id as is; then summary; then method and path. */
  op_named(&api, "getPlain");
  op_named(&api, "make_a_plain_thing");
  op_named(&api, "delete_plain");
  op_named(&api, "get_things_thing_id");
  /* x-mcp-name wins, sanitised; x-mcp-hidden skips. */
  op_named(&api, "my_custom_name");
  CHECK_EQ_INT(api.n_ops, 10);
  op = op_named(&api, "read_item");
  CHECK_EQ_STR(op->method, "GET");
  CHECK_EQ_STR(op->path, "/items/{item_id}");
  CHECK_EQ_STR(op->operation_id, "read_item_items__item_id__get");
  CHECK_EQ_STR(op->title, "Read Item");
  CHECK_EQ_STR(op->description, "Read Item\n\nGet one item by id.");
  CHECK_EQ_INT(op->kind, OA_TOOL);
  CHECK(op->uri == NULL);
  op = op_named(&api, "delete_plain");
  CHECK(op->title == NULL);
  CHECK_EQ_STR(op->description, "DELETE /plain");
  /* Document order: paths, then methods in get, put, post... order. */
  if (api.n_ops == 10) {
    CHECK_EQ_STR(api.ops[0].name, "read_item");
    CHECK_EQ_STR(api.ops[1].name, "update_item");
    CHECK_EQ_STR(api.ops[5].name, "make_a_plain_thing");
  }
  openapi_free(&api);
  openapi_free(&api); /* twice is fine */
}

static void test_long_names(void) {
  const char *paths =
      "{'/a':{'get':{'operationId':'this_is_a_very_long_operation_identifier_that_goes_on_and_on_"
      "and_on_forever_1','responses':{}},"
      " 'post':{'operationId':'this_is_a_very_long_operation_identifier_that_goes_on_and_on_"
      "and_on_forever_2','responses':{}},"
      " 'put':{'operationId':'list_things','responses':{}},"
      " 'delete':{'operationId':'list_things','responses':{}},"
      " 'patch':{'operationId':'list_things','responses':{}},"
      " 'head':{'operationId':'this_is_a_very_long_operation_identifier_that_goes_on_and_on_"
      "and_on_forever_1','responses':{}}}}";
  oa_api a1, a2;
  oa_options o = opts();
  size_t i;
  o.tool_prefix = "my shop_";
  CHECK_EQ_INT(convert("3.0.3", paths, "{}", &o, &a1), 0);
  CHECK_EQ_INT(convert("3.0.3", paths, "{}", &o, &a2), 0);
  CHECK_EQ_INT(a1.n_ops, 6);
  for (i = 0; i < a1.n_ops; i++) {
    const char *nm = a1.ops[i].name, *s;
    CHECK(strlen(nm) <= 64);
    CHECK(strncmp(nm, "my_shop_", 8) == 0);
    for (s = nm; *s; s++)
      CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *s));
    /* Stable: the same document gives the same names. */
    CHECK_EQ_STR(nm, a2.ops[i].name);
  }
  /* Cut names end in _ + 6 hex digits, and differ when the ids do. */
  CHECK_EQ_INT(strlen(a1.ops[0].name), 64);
  CHECK_EQ_INT(a1.ops[0].name[57], '_');
  CHECK(strspn(a1.ops[0].name + 58, "0123456789abcdef") == 6);
  CHECK(strcmp(a1.ops[0].name, a1.ops[2].name) != 0); /* ops[2] is the post */
  /* De-duplicated: the second list_things is list_things_2, the third _3. */
  CHECK_EQ_STR(a1.ops[1].name, "my_shop_list_things");
  CHECK_EQ_STR(a1.ops[3].name, "my_shop_list_things_2");
  CHECK_EQ_STR(a1.ops[5].name, "my_shop_list_things_3");
  /* A duplicate of a cut name: still at most 64, still unique. */
  CHECK_EQ_INT(strlen(a1.ops[4].name), 64);
  CHECK(strncmp(a1.ops[4].name + 62, "_2", 2) == 0);
  CHECK(strcmp(a1.ops[4].name, a1.ops[0].name) != 0);
  CHECK(has_warning(&a1, "already taken"));
  openapi_free(&a1);
  openapi_free(&a2);
}

/* ---- annotations ------------------------------------------------------------------- */

static void test_annotations(void) {
  const char *paths =
      "{'/r':{'get':{'operationId':'g','summary':'Get it','responses':{}},"
      "'put':{'operationId':'pu','responses':{}},'post':{'operationId':'po','responses':{}},"
      "'delete':{'operationId':'d','responses':{}},'options':{'operationId':'o','responses':{}},"
      "'head':{'operationId':'h','responses':{}},'patch':{'operationId':'pa','responses':{}},"
      "'trace':{'operationId':'t','responses':{}}},"
      "'/x':{'delete':{'operationId':'soft_delete','x-mcp-annotations':{'destructiveHint':false,"
      "'title':'Soft delete','openWorldHint':null,'custom':1},'responses':{}},"
      "'get':{'operationId':'bad_ann','x-mcp-annotations':'nope','responses':{}}}}";
  oa_api api;
  CHECK_EQ_INT(convert("3.0.3", paths, "{}", NULL, &api), 0);
  CHECK_JSON(op_named(&api, "g")->annotations,
             "{'title':'Get it','readOnlyHint':true,'idempotentHint':true,'openWorldHint':false}");
  CHECK_JSON(op_named(&api, "pu")->annotations,
             "{'readOnlyHint':false,'destructiveHint':true,'idempotentHint':true,"
             "'openWorldHint':false}");
  CHECK_JSON(op_named(&api, "po")->annotations,
             "{'readOnlyHint':false,'destructiveHint':false,'idempotentHint':false,"
             "'openWorldHint':false}");
  CHECK_JSON(op_named(&api, "d")->annotations,
             "{'readOnlyHint':false,'destructiveHint':true,'idempotentHint':true,"
             "'openWorldHint':false}");
  CHECK_JSON(op_named(&api, "o")->annotations,
             "{'readOnlyHint':false,'destructiveHint':false,'idempotentHint':true,"
             "'openWorldHint':false}");
  CHECK_JSON(op_named(&api, "h")->annotations,
             "{'readOnlyHint':true,'idempotentHint':true,'openWorldHint':false}");
  CHECK_JSON(op_named(&api, "pa")->annotations,
             "{'readOnlyHint':false,'destructiveHint':true,'idempotentHint':false,"
             "'openWorldHint':false}");
  CHECK_JSON(op_named(&api, "t")->annotations,
             "{'readOnlyHint':false,'destructiveHint':false,'idempotentHint':true,"
             "'openWorldHint':false}");
  /* x-mcp-annotations: key by key, null removes. */
  CHECK_JSON(op_named(&api, "soft_delete")->annotations,
             "{'readOnlyHint':false,'destructiveHint':false,'idempotentHint':true,"
             "'title':'Soft delete','custom':1}");
  CHECK(has_warning(&api, "GET /x: x-mcp-annotations is a string"));
  openapi_free(&api);
}

/* ---- input schemas ------------------------------------------------------------------ */

static void test_fastapi_schemas(void) {
  oa_api api;
  const oa_operation *op;
  CHECK_EQ_INT(convert("3.1.0", FASTAPI_PATHS, FASTAPI_COMPONENTS, NULL, &api), 0);
  op = op_named(&api, "read_item");
  /* 3.1: Optional stays an anyOf with null, no "type" injected; the
   * parameter's description is copied in. */
  CHECK_JSON(op->input_schema,
             "{'type':'object','properties':{"
             "'item_id':{'type':'integer','title':'Item Id','description':'The id'},"
             "'q':{'anyOf':[{'type':'string'},{'type':'null'}],'title':'Q'}},"
             "'required':['item_id']}");
  /* An object response: the output schema is the model itself. */
  CHECK_JSON(op->output_schema,
             "{'type':'object','title':'Item','properties':{"
             "'item_id':{'type':'integer','title':'Item Id'},'name':{'type':'string'},"
             "'price':{'anyOf':[{'type':'number'},{'type':'null'}],'title':'Price'}},"
             "'required':['item_id','name']}");
  CHECK_EQ_INT(op->output_wrapped, 0);

  /* The path parameter item_id and the body's item_id are the same integer:
   * one argument (the parameter's schema), two entries. */
  op = op_named(&api, "update_item");
  CHECK_JSON(op->input_schema,
             "{'type':'object','properties':{"
             "'item_id':{'type':'integer'},'name':{'type':'string'},"
             "'price':{'anyOf':[{'type':'number'},{'type':'null'}],'title':'Price'}},"
             "'required':['item_id','name']}");
  CHECK_EQ_INT(op->n_params, 4);
  CHECK_EQ_STR(op->params[0].arg, "item_id");
  CHECK_EQ_INT(op->params[0].in, OA_PATH);
  CHECK_EQ_STR(op->params[1].arg, "item_id");
  CHECK_EQ_INT(op->params[1].in, OA_BODY_PROP);
  CHECK_EQ_INT(op->body, OA_BODY_JSON);
  CHECK_EQ_INT(op->body_required, 1);
  CHECK_EQ_STR(op->content_type, "application/json");
  /* An empty response schema accepts anything: wrapped. */
  CHECK_JSON(op->output_schema,
             "{'type':'object','properties':{'result':{}},'required':['result']}");
  CHECK_EQ_INT(op->output_wrapped, 1);

  /* An array response is wrapped, and its $defs are the models it uses. */
  op = op_named(&api, "list_items");
  CHECK_JSON(op->output_schema,
             "{'type':'object','properties':{'result':{'type':'array','items':"
             "{'$ref':'#/$defs/Item'}}},'required':['result'],'$defs':{'Item':"
             "{'type':'object','title':'Item','properties':{"
             "'item_id':{'type':'integer','title':'Item Id'},'name':{'type':'string'},"
             "'price':{'anyOf':[{'type':'number'},{'type':'null'}],'title':'Price'}},"
             "'required':['item_id','name']}}}");
  CHECK_EQ_INT(op->output_wrapped, 1);
  CHECK_JSON(op->input_schema, "{'type':'object','properties':{}}");

  /* A self-referencing model: the body is spread into arguments and the
   * model itself is in $defs (and only what is used: no Item, no Unused). */
  op = op_named(&api, "add_category");
  CHECK_JSON(op->input_schema,
             "{'type':'object','properties':{'name':{'type':'string'},"
             "'parent':{'anyOf':[{'$ref':'#/$defs/Category'},{'type':'null'}]},"
             "'children':{'type':'array','items':{'$ref':'#/$defs/Category'}}},"
             "'required':['name'],'$defs':{'Category':{'type':'object','properties':{"
             "'name':{'type':'string'},"
             "'parent':{'anyOf':[{'$ref':'#/$defs/Category'},{'type':'null'}]},"
             "'children':{'type':'array','items':{'$ref':'#/$defs/Category'}}},"
             "'required':['name']}}}");
  CHECK(json_object_get(op->output_schema, "$defs") != NULL);
  CHECK(json_object_get(json_object_get(op->output_schema, "$defs"), "Category") != NULL);
  CHECK_EQ_INT(json_object_size(json_object_get(op->output_schema, "$defs")), 1);
  openapi_free(&api);
}

static const char *RECURSIVE_COMPONENTS =
    "{'schemas':{"
    "'Node':{'type':'object','properties':{'value':{'type':'string'},"
    "  'children':{'type':'array','items':{'$ref':'#/components/schemas/Node'}}},"
    " 'required':['value']},"
    "'A':{'type':'object','properties':{'b':{'$ref':'#/components/schemas/B'}}},"
    "'B':{'type':'object','properties':{'a':{'$ref':'#/components/schemas/A'},"
    "  'n':{'$ref':'#/components/schemas/Node'}}},"
    "'Tree':{'type':'object','properties':{'root':{'$ref':'#/components/schemas/Node'}}},"
    "'Alias':{'$ref':'#/components/schemas/Tree'},"
    "'Loop':{'type':'object','properties':{'self':{'$ref':'#/components/schemas/Loop/properties/"
    "self'}}},"
    "'Unused':{'type':'string'}},"
    "'parameters':{'P1':{'$ref':'#/components/parameters/P2'},"
    "  'P2':{'$ref':'#/components/parameters/P1'}}}";

static void test_recursive(void) {
  const char *paths =
      "{'/nodes':{'post':{'operationId':'add_node','requestBody':{'required':true,'content':{"
      "  'application/json':{'schema':{'$ref':'#/components/schemas/Node'}}}},"
      "  'responses':{'200':{'description':'x','content':{'application/json':{'schema':"
      "  {'$ref':'#/components/schemas/Alias'}}}}}}},"
      "'/ab':{'post':{'operationId':'ab','requestBody':{'content':{'application/json':{"
      "  'schema':{'$ref':'#/components/schemas/A'}}}},'responses':{}}},"
      "'/loop':{'get':{'operationId':'loop','parameters':[{'$ref':'#/components/parameters/P1'},"
      "  {'name':'l','in':'query','schema':{'$ref':'#/components/schemas/Loop'}}],"
      "  'responses':{}}}}";
  oa_api api;
  const oa_operation *op;
  const json_t *defs;
  CHECK_EQ_INT(convert("3.0.3", paths, RECURSIVE_COMPONENTS, NULL, &api), 0);
  op = op_named(&api, "add_node");
  CHECK_JSON(op->input_schema,
             "{'type':'object','properties':{'value':{'type':'string'},"
             "'children':{'type':'array','items':{'$ref':'#/$defs/Node'}}},"
             "'required':['value'],'$defs':{'Node':{'type':'object','properties':{"
             "'value':{'type':'string'},'children':{'type':'array','items':"
             "{'$ref':'#/$defs/Node'}}},'required':['value']}}}");
  /* Alias -> Tree: an object, inlined at the top; Node in $defs. Output
   * schemas are loosened: a property that is not required may be null. */
  CHECK_JSON(op->output_schema,
             "{'type':'object','properties':{'root':{'anyOf':[{'$ref':'#/$defs/Node'},"
             "{'type':'null'}]}},'$defs':{'Node':{'type':'object','properties':{'value':"
             "{'type':'string'},'children':{'type':['array','null'],'items':"
             "{'$ref':'#/$defs/Node'}}},'required':['value']}}}");
  /* Mutual recursion A <-> B, and B uses Node: all three, nothing else. */
  op = op_named(&api, "ab");
  defs = json_object_get(op->input_schema, "$defs");
  CHECK_EQ_INT(json_object_size(defs), 3);
  CHECK(json_object_get(defs, "A") && json_object_get(defs, "B") && json_object_get(defs, "Node"));
  CHECK(json_object_get(json_object_get(op->input_schema, "required"), 0) == NULL);
  /* A circular parameter reference and a self-including pointer: warnings. */
  op = op_named(&api, "loop");
  CHECK_EQ_INT(op->n_params, 1);
  CHECK(has_warning(&api, "GET /loop: parameter #1: the references from"));
  CHECK(has_warning(&api, "schema Loop: reference \"#/components/schemas/Loop/properties/self\" "
                          "is recursive"));
  openapi_free(&api);
}

static void test_openapi30_conversion(void) {
  const char *components =
      "{'schemas':{'Pet':{'type':'object','required':['name','id'],'properties':{"
      " 'name':{'type':'string','nullable':true,'example':'Rex'},"
      " 'kind':{'type':'string','enum':['cat','dog'],'nullable':true},"
      " 'owner':{'$ref':'#/components/schemas/Owner','nullable':true,'description':'who'},"
      " 'age':{'type':'integer','minimum':0,'exclusiveMinimum':true,'maximum':30,"
      "        'exclusiveMaximum':false},"
      " 'weight':{'type':'number','exclusiveMaximum':true,'maximum':99.5},"
      " 'tags':{'type':'array','items':{'type':'string'},'xml':{'wrapped':true}},"
      " 'meta':{'allOf':[{'$ref':'#/components/schemas/Owner'}],'nullable':true},"
      " 'alt':{'anyOf':[{'type':'string'},{'type':'integer'}],'nullable':true},"
      " 'id':{'type':'string','readOnly':true},"
      " 'anything':{'nullable':true,'description':'any'},"
      " 'data':{'type':'object','default':{'nullable':true,'$ref':'not a schema'}}},"
      " 'discriminator':{'propertyName':'kind'},'externalDocs':{'url':'x'},'x-internal':true},"
      "'Owner':{'type':'object','properties':{'n':{'type':'string','nullable':true}}}}}";
  const char *paths =
      "{'/pets':{'post':{'operationId':'add_pet','requestBody':{'required':true,'content':{"
      "  'application/json':{'schema':{'$ref':'#/components/schemas/Pet'}}}},"
      "  'parameters':[{'name':'limit','in':'query','schema':{'type':'integer','nullable':true},"
      "   'example':5}],"
      "  'responses':{'200':{'description':'x','content':{'application/json':{'schema':"
      "   {'$ref':'#/components/schemas/Pet'}}}}}}}}";
  oa_api api;
  const oa_operation *op;
  CHECK_EQ_INT(convert("3.0.3", paths, components, NULL, &api), 0);
  op = op_named(&api, "add_pet");
  CHECK_JSON(prop(op, "limit"), "{'type':['integer','null'],'examples':[5]}");
  CHECK_JSON(prop(op, "name"), "{'type':['string','null'],'examples':['Rex']}");
  CHECK_JSON(prop(op, "kind"), "{'type':['string','null'],'enum':['cat','dog',null]}");
  CHECK_JSON(prop(op, "owner"),
             "{'description':'who','anyOf':[{'$ref':'#/$defs/Owner'},{'type':'null'}]}");
  CHECK_JSON(prop(op, "age"), "{'type':'integer','exclusiveMinimum':0,'maximum':30}");
  CHECK_JSON(prop(op, "weight"), "{'type':'number','exclusiveMaximum':99.5}");
  CHECK_JSON(prop(op, "tags"), "{'type':'array','items':{'type':'string'}}");
  CHECK_JSON(prop(op, "meta"), "{'anyOf':[{'allOf':[{'$ref':'#/$defs/Owner'}]},{'type':'null'}]}");
  CHECK_JSON(prop(op, "alt"), "{'anyOf':[{'type':'string'},{'type':'integer'},{'type':'null'}]}");
  CHECK_JSON(prop(op, "anything"), "{'description':'any'}");
  /* default is data, not a schema: left alone. */
  CHECK_JSON(prop(op, "data"),
             "{'type':'object','default':{'nullable':true,'$ref':'not a schema'}}");
  /* readOnly properties are not sent (nor required). */
  CHECK(prop(op, "id") == NULL);
  CHECK_JSON(json_object_get(op->input_schema, "required"), "['name']");
  /* Inside $defs too. */
  CHECK_JSON(json_object_get(op->input_schema, "$defs"),
             "{'Owner':{'type':'object','properties':{'n':{'type':['string','null']}}}}");
  /* The output keeps readOnly properties; the OpenAPI-only keywords go. */
  CHECK_JSON(json_object_get(json_object_get(op->output_schema, "properties"), "id"),
             "{'type':'string','readOnly':true}");
  CHECK(json_object_get(op->output_schema, "discriminator") == NULL);
  CHECK(json_object_get(op->output_schema, "externalDocs") == NULL);
  CHECK(json_object_get(op->output_schema, "x-internal") == NULL);
  CHECK_JSON(json_object_get(op->output_schema, "required"), "['name','id']");
  openapi_free(&api);
}

static void test_params_and_bodies(void) {
  const char *paths =
      "{'/t/{tenant}/items':{"
      " 'parameters':[{'name':'tenant','in':'path','required':true,'schema':{'type':'string'}},"
      "   {'$ref':'#/components/parameters/Verbose'},"
      "   {'name':'trace','in':'header','schema':{'type':'string'},'description':'path level'}],"
      " 'get':{'operationId':'list','parameters':["
      "   {'name':'trace','in':'header','schema':{'type':'string'},'description':'op level'},"
      "   {'name':'id','in':'query','schema':{'type':'string'}},"
      "   {'name':'id','in':'header','schema':{'type':'string'}},"
      "   {'name':'Accept','in':'header','schema':{'type':'string'}},"
      "   {'name':'Content-Length','in':'header','schema':{'type':'string'}},"
      "   {'name':'sid','in':'cookie','required':true},"
      "   {'name':'nowhere','in':'body'},'not an object',"
      "   {'name':'ghost','in':'path','schema':{'type':'string'}}],"
      "  'responses':{}}},"
      "'/bulk/{x}':{'post':{'operationId':'bulk','requestBody':{'$ref':"
      "  '#/components/requestBodies/Ints'},'responses':{'default':{'description':'x'}}}},"
      "'/choice':{'post':{'operationId':'choice','parameters':[{'name':'body','in':'query',"
      "  'schema':{'type':'integer'}}],'requestBody':{'content':{'application/json':{'schema':"
      "  {'oneOf':[{'type':'string'},{'type':'integer'}]}}}},'responses':{}}},"
      "'/color':{'post':{'operationId':'color','requestBody':{'required':true,'content':{"
      "  'application/json':{'schema':{'$ref':'#/components/schemas/Color'}}}},'responses':{}}},"
      "'/dict':{'post':{'operationId':'dict','requestBody':{'required':true,'content':{"
      "  'application/json':{'schema':{'type':'object','additionalProperties':"
      "  {'type':'integer'}}}}},'responses':{}}},"
      "'/mixed':{'post':{'operationId':'mixed','requestBody':{'required':true,'content':{"
      "  'application/json':{'schema':{'type':'object','properties':{'a':{'type':'string'}},"
      "  'additionalProperties':{'type':'string'}}}}},'responses':{}}},"
      "'/merged':{'patch':{'operationId':'merged','requestBody':{'content':{"
      "  'application/merge-patch+json':{'schema':{'allOf':["
      "   {'$ref':'#/components/schemas/Base'},{'type':'object','properties':{"
      "   'extra':{'type':'boolean'}},'required':['extra']}]}}}},'responses':{}}},"
      "'/form':{'post':{'operationId':'form','requestBody':{'required':true,'content':{"
      "  'application/x-www-form-urlencoded':{'schema':{'type':'object','properties':{"
      "  'a':{'type':'integer'},'b':{'type':'string'}},'required':['a']}}}},'responses':{}}},"
      "'/upload':{'post':{'operationId':'upload','requestBody':{'required':true,'content':{"
      "  'multipart/form-data':{'schema':{'type':'object'}}}},'responses':{}}},"
      "'/maybe':{'post':{'operationId':'maybe','requestBody':{'content':{"
      "  'application/octet-stream':{}}},'responses':{}}}}";
  const char *components =
      "{'parameters':{'Verbose':{'name':'verbose','in':'query','schema':{'type':'boolean'}}},"
      "'requestBodies':{'Ints':{'required':true,'description':'The numbers','content':{"
      "  'application/json':{'schema':{'type':'array','items':{'type':'integer'}}}}}},"
      "'schemas':{'Color':{'type':'string','enum':['red','green']},"
      "  'Base':{'type':'object','properties':{'name':{'type':'string'}},'required':['name']}}}";
  oa_api api;
  const oa_operation *op;
  CHECK_EQ_INT(convert("3.0.3", paths, components, NULL, &api), 0);
  op = op_named(&api, "list");
  /* Path-level and operation-level merged (the operation wins), a $ref'd
   * parameter, the same name in two places renamed, ignored headers. */
  CHECK_JSON(op->input_schema, "{'type':'object','properties':{"
                               "'tenant':{'type':'string'},'verbose':{'type':'boolean'},"
                               "'id__query':{'type':'string'},"
                               "'trace':{'type':'string','description':'op level'},"
                               "'id__header':{'type':'string'},'sid':{'type':'string'}},"
                               "'required':['tenant','sid']}");
  CHECK_EQ_INT(op->n_params, 6);
  CHECK_EQ_INT(param_of(op, "sid")->in, OA_COOKIE);
  CHECK_EQ_INT(param_of(op, "sid")->style, OA_STYLE_FORM);
  CHECK_EQ_INT(param_of(op, "trace")->in, OA_HEADER);
  CHECK_EQ_INT(param_of(op, "verbose")->explode, 1);
  CHECK_EQ_INT(op->body, OA_BODY_NONE);
  CHECK(op->content_type == NULL);
  CHECK(has_warning(&api, "header parameter Accept ignored"));
  CHECK(has_warning(&api, "header parameter Content-Length ignored"));
  CHECK(has_warning(&api, "parameter sid has no schema; taken as a string"));
  CHECK(has_warning(&api, "parameter nowhere: \"in\" is not"));
  CHECK(has_warning(&api, "parameter #8 is a string, not an object"));
  CHECK(has_warning(&api, "path parameter ghost is not in the path"));

  /* A non-object body is one "body" argument; an undeclared {x}. */
  op = op_named(&api, "bulk");
  CHECK_JSON(op->input_schema,
             "{'type':'object','properties':{'x':{'type':'string'},'body':{'type':'array',"
             "'items':{'type':'integer'},'description':'The numbers'}},"
             "'required':['x','body']}");
  CHECK_EQ_INT(param_of(op, "body")->in, OA_BODY_WHOLE);
  CHECK(has_warning(&api, "path parameter x is not declared"));
  CHECK(op->output_schema == NULL);
  /* A union body; the query parameter named body is renamed. */
  op = op_named(&api, "choice");
  CHECK_JSON(op->input_schema, "{'type':'object','properties':{'body__query':{'type':'integer'},"
                               "'body':{'oneOf':[{'type':'string'},{'type':'integer'}]}}}");
  /* A bare $ref to a non-object schema. */
  op = op_named(&api, "color");
  CHECK_JSON(op->input_schema,
             "{'type':'object','properties':{'body':{'$ref':'#/$defs/Color'}},"
             "'required':['body'],'$defs':{'Color':{'type':'string','enum':['red','green']}}}");
  /* A free-form object cannot be spread: whole. */
  op = op_named(&api, "dict");
  CHECK_JSON(prop(op, "body"), "{'type':'object','additionalProperties':{'type':'integer'}}");
  /* Declared properties plus extra ones: spreading would lose the extras. */
  op = op_named(&api, "mixed");
  CHECK_JSON(op->input_schema,
             "{'type':'object','properties':{'body':{'type':'object','properties':{'a':"
             "{'type':'string'}},'additionalProperties':{'type':'string'}}},'required':['body']}");
  /* allOf merged; an optional body requires nothing; the +json type kept. */
  op = op_named(&api, "merged");
  CHECK_JSON(op->input_schema, "{'type':'object','properties':{'name':{'type':'string'},"
                               "'extra':{'type':'boolean'}}}");
  CHECK_EQ_STR(op->content_type, "application/merge-patch+json");
  CHECK_EQ_INT(op->body_required, 0);
  /* Form-only bodies are sent as forms. */
  op = op_named(&api, "form");
  CHECK_EQ_INT(op->body, OA_BODY_FORM);
  CHECK_EQ_STR(op->content_type, "application/x-www-form-urlencoded");
  CHECK_JSON(json_object_get(op->input_schema, "required"), "['a']");
  /* A multipart body without named parts cannot be sent: skipped; an
   * optional octet-stream one is a base64 "body" argument. */
  CHECK_EQ_INT(api.n_ops, 9);
  CHECK(has_warning(&api, "POST /upload: the multipart/form-data body is not an object with "
                          "properties"));
  op = op_named(&api, "maybe");
  CHECK_EQ_INT(op->body, OA_BODY_BINARY);
  CHECK_EQ_STR(op->content_type, "application/octet-stream");
  CHECK_EQ_STR(json_string_value(json_object_get(prop(op, "body"), "contentEncoding")), "base64");
  openapi_free(&api);
}

static const char *build(const oa_api *api, const char *name, const char *args_text,
                         const char *base);
static oa_request last_req;

static void test_outputs(void) {
  const char *paths =
      "{'/o1':{'get':{'operationId':'o1','responses':{"
      "  'default':{'description':'x','content':{'application/json':{'schema':{}}}},"
      "  '200':{'description':'x','content':{'text/plain':{'schema':{'type':'string'}}}},"
      "  '201':{'$ref':'#/components/responses/Created'}}}},"
      "'/o2':{'get':{'operationId':'o2','responses':{'2XX':{'description':'x','content':{"
      "  'application/json':{'schema':{'type':'string','format':'binary'}}}}}}},"
      "'/o3':{'get':{'operationId':'o3','responses':{'204':{'description':'none'},"
      "  '200':{'$ref':'#/components/responses/Missing'}}}},"
      "'/o4':{'post':{'operationId':'o4','responses':{'200':{'description':'x','content':{"
      "  'application/json':{'schema':{'type':'object','nullable':true,'properties':{"
      "  'a':{'type':'integer'}}}}}}}}},"
      "'/logo':{'get':{'operationId':'logo','responses':{'200':{'description':'x','content':{"
      "  'application/json':{'schema':{}},'image/png':{}}}}}}}";
  const char *components =
      "{'responses':{'Created':{'description':'made','content':{'application/vnd.x+json':{"
      "  'schema':{'properties':{'id':{'type':'integer'}}}}}}}}";
  oa_api api;
  const oa_operation *op;
  CHECK_EQ_INT(convert("3.0.3", paths, components, NULL, &api), 0);
  /* The first 2xx with JSON, through a components/responses reference. */
  op = op_named(&api, "o1");
  CHECK_JSON(op->output_schema,
             "{'type':'object','properties':{'id':{'type':['integer','null']}}}");
  CHECK_EQ_INT(op->output_wrapped, 0);
  CHECK_EQ_STR(op->mime_type, "text/plain");
  op = op_named(&api, "o2");
  CHECK_JSON(op->output_schema, "{'type':'object','properties':{'result':{'type':'string',"
                                "'format':'binary'}},'required':['result']}");
  op = op_named(&api, "o3");
  CHECK(op->output_schema == NULL && op->mime_type == NULL);
  CHECK(has_warning(&api, "GET /o3: a success response: reference "
                          "\"#/components/responses/Missing\" not found"));
  /* A nullable object may be null: wrapped. */
  op = op_named(&api, "o4");
  CHECK_JSON(op->output_schema,
             "{'type':'object','properties':{'result':{'type':['object','null'],'properties':{"
             "'a':{'type':['integer','null']}}}},'required':['result']}");
  CHECK_EQ_INT(op->output_wrapped, 1);
  /* JSON or an image (FastAPI's responses={200: {"content": {"image/png": {}}}}):
   * no output schema, or an image result would be rejected. */
  op = op_named(&api, "logo");
  CHECK(op->output_schema == NULL);
  CHECK_EQ_STR(op->mime_type, "application/json");
  CHECK(has_warning(&api, "GET /logo: no output schema: the 200 response can also be image/png"));
  openapi_free(&api);
}

/* ---- filters, route maps, resources --------------------------------------------------- */

static const char *FILTER_PATHS =
    "{'/a':{'get':{'operationId':'listA','tags':['public'],'responses':{}}},"
    "'/b':{'get':{'operationId':'listB','tags':['admin'],'responses':{}}},"
    "'/c':{'post':{'operationId':'makeC','tags':['public','write'],'responses':{}}},"
    "'/d':{'delete':{'operationId':'delD','x-mcp-name':'remove_d','responses':{}}}}";

static size_t filtered(oa_options *o, char *names, size_t n) {
  oa_api api;
  size_t i, k;
  names[0] = '\0';
  if (convert("3.0.3", FILTER_PATHS, "{}", o, &api) != 0)
    return (size_t)-1;
  for (i = 0; i < api.n_ops; i++) {
    k = strlen(names);
    snprintf(names + k, n - k, "%s%s", i ? "," : "", api.ops[i].name);
  }
  k = api.n_ops;
  openapi_free(&api);
  return k;
}

static void test_filters(void) {
  char names[256];
  oa_options o = opts();
  json_t *inc_ops = J("['listA','shop_makeC','remove_d']"), *exc_ops = J("['makeC']");
  json_t *pub = J("['public']"), *admin = J("['admin']"), *del = J("['delD']");
  json_t *typo = J("['nope']"), *empty = J("[]");
  oa_api api;

  /* By operationId, final name, final name without the prefix. */
  o.tool_prefix = "shop_";
  o.include_operations = inc_ops;
  filtered(&o, names, sizeof(names));
  CHECK_EQ_STR(names, "shop_listA,shop_makeC,shop_remove_d");
  /* Exclude wins over include. */
  o = opts();
  o.include_tags = pub;
  o.exclude_operations = exc_ops;
  filtered(&o, names, sizeof(names));
  CHECK_EQ_STR(names, "listA");
  o = opts();
  o.exclude_tags = admin;
  filtered(&o, names, sizeof(names));
  CHECK_EQ_STR(names, "listA,makeC,remove_d");
  /* Two include lists: either one. */
  o = opts();
  o.include_tags = admin;
  o.include_operations = del;
  filtered(&o, names, sizeof(names));
  CHECK_EQ_STR(names, "listB,remove_d");
  /* An empty include list is no filter. */
  o = opts();
  o.include_tags = empty;
  filtered(&o, names, sizeof(names));
  CHECK_EQ_STR(names, "listA,listB,makeC,remove_d");
  /* A name that matches nothing: warned about. */
  o = opts();
  o.exclude_operations = typo;
  CHECK_EQ_INT(convert("3.0.3", FILTER_PATHS, "{}", &o, &api), 0);
  CHECK_EQ_INT(api.n_ops, 4);
  CHECK(has_warning(&api, "exclude_operations: \"nope\" matches no operation"));
  openapi_free(&api);
  json_decref(inc_ops);
  json_decref(exc_ops);
  json_decref(pub);
  json_decref(admin);
  json_decref(del);
  json_decref(typo);
  json_decref(empty);
}

static const char *RESOURCE_PATHS =
    "{'/items':{'get':{'operationId':'items','parameters':[{'name':'page','in':'query',"
    "  'schema':{'type':'integer'}}],'responses':{'200':{'description':'x','content':{"
    "  'application/json; charset=utf-8':{'schema':{'type':'array'}}}}}},"
    " 'post':{'operationId':'add','responses':{}}},"
    "'/items/{item-id}':{'get':{'operationId':'item','parameters':[{'name':'item-id',"
    "  'in':'path','required':true,'schema':{'type':'string'}}],'responses':{'200':{"
    "  'description':'x','content':{'text/csv':{}}}}}},"
    "'/search':{'get':{'operationId':'search','parameters':["
    "  {'name':'q','in':'query','required':true,'schema':{'type':'string'}},"
    "  {'name':'limit','in':'query','schema':{'type':'integer'}}],'responses':{}}},"
    "'/secure':{'get':{'operationId':'secure','parameters':[{'name':'X-Key','in':'header',"
    "  'required':true,'schema':{'type':'string'}}],'responses':{}}},"
    "'/admin/users':{'get':{'operationId':'users','tags':['admin'],'responses':{}}},"
    "'/reports/{id}':{'get':{'operationId':'report','tags':['report','pdf'],"
    "  'parameters':[{'name':'id','in':'path','required':true,'schema':{'type':'string'}},"
    "   {'name':'id','in':'query','schema':{'type':'string'}}],'responses':{}},"
    " 'delete':{'operationId':'drop_report','tags':['report'],'responses':{}}}}";

static void test_resources(void) {
  oa_options o = opts();
  oa_api api;
  const oa_operation *op;
  json_t *rules;

  o.get_as_resources = 1;
  CHECK_EQ_INT(convert("3.0.3", RESOURCE_PATHS, "{}", &o, &api), 0);
  op = op_named(&api, "items");
  CHECK_EQ_INT(op->kind, OA_RESOURCE);
  CHECK_EQ_STR(op->uri, "api://shop/items");
  CHECK_EQ_STR(op->mime_type, "application/json");
  op = op_named(&api, "item");
  CHECK_EQ_INT(op->kind, OA_TEMPLATE);
  CHECK_EQ_STR(op->uri, "api://shop/items/{item%2Did}");
  CHECK_EQ_STR(op->mime_type, "text/csv");
  /* The variables of a resources/read match work as arguments. */
  CHECK_EQ_STR(build(&api, "item", "{'item%2Did':'x/y'}", "/api"), "GET /api/items/x%2Fy");
  CHECK_EQ_STR(build(&api, "item", "{'item-id':'z'}", ""), "GET /items/z");
  CHECK_EQ_STR(build(&api, "search", "{'q':'a b','limit':'5'}", ""), "GET /search?q=a%20b&limit=5");
  oa_request_free(&last_req);
  op = op_named(&api, "search"); /* required query: a template */
  CHECK_EQ_INT(op->kind, OA_TEMPLATE);
  CHECK_EQ_STR(op->uri, "api://shop/search{?q,limit}");
  op = op_named(&api, "secure"); /* a URI cannot carry a header */
  CHECK_EQ_INT(op->kind, OA_TOOL);
  CHECK(op->uri == NULL);
  CHECK(has_warning(&api, "GET /secure: cannot be a resource: argument X-Key is required"));
  CHECK_EQ_INT(op_named(&api, "add")->kind, OA_TOOL);
  op = op_named(&api, "report"); /* renamed variables in the URI */
  CHECK_EQ_STR(op->uri, "api://shop/reports/{id__path}{?id__query}");
  openapi_free(&api);

  /* route_map: first match wins; then the defaults. */
  rules = J("[{'methods':['GET'],'pattern':'^/admin','type':'exclude'},"
            "{'methods':'*','tags':['report','pdf'],'type':'resource'},"
            "{'methods':['delete'],'tags':['report'],'type':'exclude'},"
            "{'pattern':'^/items$','type':'resource_template'},"
            "{'methods':['GET'],'pattern':'^/search','type':'tool'}]");
  o = opts();
  o.route_map = rules;
  o.get_as_resources = 1;
  CHECK_EQ_INT(convert("3.0.3", RESOURCE_PATHS, "{}", &o, &api), 0);
  CHECK_EQ_INT(api.n_ops, 6);
  CHECK(find_op(&api, "users") == NULL);
  CHECK(find_op(&api, "drop_report") == NULL);
  CHECK_EQ_INT(op_named(&api, "report")->kind, OA_TEMPLATE);
  op = op_named(&api, "items"); /* forced template: its query parameters */
  CHECK_EQ_INT(op->kind, OA_TEMPLATE);
  CHECK_EQ_STR(op->uri, "api://shop/items{?page}");
  /* POST /items matched resource_template but has no parameters. */
  CHECK_EQ_INT(op_named(&api, "add")->kind, OA_RESOURCE);
  CHECK_EQ_INT(op_named(&api, "search")->kind, OA_TOOL);
  CHECK_EQ_INT(op_named(&api, "item")->kind, OA_TEMPLATE); /* default */
  openapi_free(&api);
  json_decref(rules);
}

/* ---- bad input ------------------------------------------------------------------------- */

static int convert_err(const char *doc_text, const oa_options *o, char *err, size_t n) {
  json_t *d = J(doc_text);
  oa_options def = opts();
  oa_api api;
  int rc = openapi_convert(d, o != NULL ? o : &def, &api, err, n);
  CHECK(api.n_ops == 0); /* no document here has operations */
  CHECK(rc == 0 || (api.ops == NULL && api.warnings == NULL));
  openapi_free(&api);
  json_decref(d);
  return rc;
}

static void test_malformed(void) {
  char err[256];
  const char *ok = "{'openapi':'3.0.0','paths':{}}";
  oa_options o = opts();
  json_t *v;
  CHECK_EQ_INT(convert_err("[1,2]", NULL, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "the OpenAPI document is an array, not a JSON object");
  CHECK_EQ_INT(convert_err("'hello'", NULL, err, sizeof(err)), -EINVAL);
  CHECK_EQ_INT(convert_err("{'openapi':'3.0.0'}", NULL, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "the document has no \"paths\" object");
  CHECK_EQ_INT(convert_err("{'openapi':'3.0.0','paths':[]}", NULL, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "the document has no \"paths\" object: it is an array");
  CHECK_EQ_INT(convert_err("{'openapi':'2.0','paths':{}}", NULL, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "OpenAPI version \"2.0\" is not supported (3.0 and 3.1 are)");
  CHECK_EQ_INT(convert_err("{'swagger':'1.2','paths':{}}", NULL, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "Swagger version 1.2 is not supported (2.0 is, and OpenAPI 3.0 and 3.1)");
  CHECK_EQ_INT(convert_err("{'swagger':'2.0'}", NULL, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "the document has no \"paths\" object");
  CHECK_EQ_INT(convert_err("{'swagger':'2.0','paths':{}}", NULL, err, sizeof(err)), 0);
  CHECK_EQ_INT(convert_err("{'swagger':2.0,'paths':{}}", NULL, err, sizeof(err)), 0);
  CHECK_EQ_INT(convert_err("{'openapi':3.1,'paths':{}}", NULL, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "the \"openapi\" field is a number, not a version string");
  CHECK_EQ_INT(convert_err("{'paths':{}}", NULL, err, sizeof(err)), -EINVAL);
  CHECK_EQ_INT(convert_err(ok, NULL, err, sizeof(err)), 0);
  CHECK_EQ_STR(err, "");

  /* Options. */
  o.backend = NULL;
  CHECK_EQ_INT(convert_err(ok, &o, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "the backend name is missing");
  o.backend = "my api";
  CHECK_EQ_INT(convert_err(ok, &o, err, sizeof(err)), -EINVAL);
  o = opts();
  v = J("'listA'");
  o.include_operations = v;
  CHECK_EQ_INT(convert_err(ok, &o, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "include_operations must be an array of strings, not a string");
  json_decref(v);
  o = opts();
  v = J("['a',1]");
  o.exclude_tags = v;
  CHECK_EQ_INT(convert_err(ok, &o, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "exclude_tags[1] must be a string, not a number");
  json_decref(v);
  o = opts();
  v = J("[{'type':'tool'},{'pattern':'([a-z','type':'tool'}]");
  o.route_map = v;
  CHECK_EQ_INT(convert_err(ok, &o, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "route_map[1].pattern \"([a-z\" does not compile: ") == err);
  json_decref(v);
  v = J("[{'type':'prompt'}]");
  o.route_map = v;
  CHECK_EQ_INT(convert_err(ok, &o, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "route_map[0]: \"type\" must be") != NULL);
  json_decref(v);
  v = J("[{'type':'tool','method':['GET']}]");
  o.route_map = v;
  CHECK_EQ_INT(convert_err(ok, &o, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "route_map[0]: unknown key \"method\"") != NULL);
  json_decref(v);
  v = J("[{'type':'tool','methods':['FETCH']}]");
  o.route_map = v;
  CHECK_EQ_INT(convert_err(ok, &o, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "route_map[0].methods[0] is not an HTTP method");
  json_decref(v);
  v = J("{'type':'tool'}");
  o.route_map = v;
  CHECK_EQ_INT(convert_err(ok, &o, err, sizeof(err)), -EINVAL);
  json_decref(v);
  v = J("['x']");
  o.route_map = v;
  CHECK_EQ_INT(convert_err(ok, &o, err, sizeof(err)), -EINVAL);
  json_decref(v);
  CHECK_EQ_INT(openapi_convert(NULL, NULL, NULL, err, sizeof(err)), -EINVAL);
}

/* Wrong types everywhere: every value of a document replaced in turn by
 * each of a few wrong values must convert (or fail cleanly), and whatever
 * comes out must build requests and results. Run under ASan. */
static size_t fuzz_runs;

static void exercise(const json_t *d) {
  static const char *const arg_texts[] = {
      "{}",
      "{'item_id':'a/b','q':[1,{'x':null}],'body':{'k':[true]},'name':'n','price':1.5,"
      "'tenant':{'a':'b'},'sid':'x','trace':['a','b'],'x':'1','id__query':2}",
  };
  oa_options o = opts();
  oa_api api;
  char err[256];
  json_t *rules = J("[{'methods':['GET'],'pattern':'^/i','type':'resource'},{'type':'tool'}]");
  size_t i, k;
  o.route_map = rules;
  o.get_as_resources = 1;
  o.tool_prefix = "p_";
  if (openapi_convert(d, &o, &api, err, sizeof(err)) == 0) {
    for (i = 0; i < api.n_ops; i++) {
      for (k = 0; k < sizeof(arg_texts) / sizeof(arg_texts[0]); k++) {
        json_t *args = J(arg_texts[k]), *r;
        oa_request req;
        oa_result_opts ro = {1, 10, NULL};
        if (oa_request_build(&api.ops[i], args, "/base", &req, err, sizeof(err)) == 0)
          oa_request_free(&req);
        r = oa_result(&api.ops[i], 200, "application/json", "[1]", 3, &ro);
        CHECK(r != NULL);
        json_decref(r);
        json_decref(args);
      }
    }
    openapi_free(&api);
  }
  json_decref(rules);
  fuzz_runs++;
}

static void mutate(json_t *root, json_t *node, int depth) {
  static const char *const bad[] = {"null", "7",    "'x'",  "[]",
                                    "{}",   "true", "[{}]", "{'$ref':'#/components/schemas/Item'}"};
  json_t *values[8], *child;
  size_t i, k, n_bad = sizeof(bad) / sizeof(bad[0]);
  const char *key;
  void *tmp;
  if (depth > 12)
    return;
  for (k = 0; k < n_bad; k++)
    values[k] = J(bad[k]);
  if (json_is_object(node)) {
    json_object_foreach_safe(node, tmp, key, child) {
      json_incref(child);
      for (k = 0; k < n_bad; k++) {
        json_object_set(node, key, values[k]);
        exercise(root);
      }
      json_object_set(node, key, child);
      mutate(root, child, depth + 1);
      json_decref(child);
    }
  } else if (json_is_array(node)) {
    for (i = 0; i < json_array_size(node); i++) {
      child = json_incref(json_array_get(node, i));
      for (k = 0; k < n_bad; k++) {
        json_array_set(node, i, values[k]);
        exercise(root);
      }
      json_array_set(node, i, child);
      mutate(root, child, depth + 1);
      json_decref(child);
    }
  }
  for (k = 0; k < n_bad; k++)
    json_decref(values[k]);
}

static void test_fuzz(void) {
  json_t *d = doc("3.0.3", FASTAPI_PATHS, FASTAPI_COMPONENTS);
  const char *deep_start = "{'type':'object','properties':{'x':";
  size_t i, n = 200, len;
  char *deep;
  oa_api api;
  mutate(d, d, 0);
  CHECK(fuzz_runs > 1000);
  json_decref(d);
  d = doc("3.0.3",
          "{'/r':{'parameters':'no','get':{'parameters':[1,'x',null,{'in':5}],"
          "'requestBody':[],'responses':[]},'put':'x','post':{'requestBody':{"
          "'content':{'application/json':5}},'responses':{'200':7}},"
          "'patch':{'requestBody':{'content':{'application/json':{'schema':"
          "{'properties':5,'required':'x','allOf':{},'items':[1],'nullable':true}}}}}},"
          "'/x/{a}/{':{'get':{}},'/y/{}':{'get':{}},'nope':{},'x-ext':{},'/z':7}",
          "{'schemas':[]}");
  CHECK_EQ_INT(convert("3.0.3", "{}", "{}", NULL, &api), 0);
  openapi_free(&api);
  exercise(d);
  json_decref(d);
  /* A schema nested deeper than the converter follows. */
  len = strlen(deep_start) * n + 2 * n + 256;
  deep = malloc(len);
  if (deep != NULL) {
    char *p = deep;
    p += sprintf(p, "{'/d':{'post':{'requestBody':{'content':{'application/json':{'schema':");
    for (i = 0; i < n; i++)
      p += sprintf(p, "%s", deep_start);
    p += sprintf(p, "{}");
    for (i = 0; i < n; i++)
      p += sprintf(p, "}}");
    sprintf(p, "}}}}}}");
    CHECK_EQ_INT(convert("3.1.0", deep, "{}", NULL, &api), 0);
    CHECK(has_warning(&api, "nested more than"));
    openapi_free(&api);
    free(deep);
  }
}

/* ---- requests ----------------------------------------------------------------------------- */

static const char *REQUEST_PATHS =
    "{'/files/{path}':{'get':{'operationId':'files','parameters':["
    " {'name':'path','in':'path','required':true,'schema':{'type':'string'}},"
    " {'name':'tags','in':'query','schema':{'type':'array','items':{'type':'string'}}},"
    " {'name':'ids','in':'query','explode':false,'schema':{'type':'array'}},"
    " {'name':'sp','in':'query','style':'spaceDelimited','schema':{'type':'array'}},"
    " {'name':'pp','in':'query','style':'pipeDelimited','schema':{'type':'array'}},"
    " {'name':'filter','in':'query','style':'deepObject','explode':true,"
    "  'schema':{'type':'object'}},"
    " {'name':'flag','in':'query','schema':{'type':'boolean'}},"
    " {'name':'n','in':'query','schema':{'type':'number'}},"
    " {'name':'r','in':'query','schema':{'type':'number'}},"
    " {'name':'obj','in':'query','schema':{'type':'object'}},"
    " {'name':'flat','in':'query','explode':false,'schema':{'type':'object'}},"
    " {'name':'j','in':'query','content':{'application/json':{'schema':{'type':'object'}}}},"
    " {'name':'skip','in':'query','schema':{'type':'string'}},"
    " {'name':'X-Trace','in':'header','schema':{'type':'array'}},"
    " {'name':'X-Req','in':'header','required':true,'schema':{'type':'string'}},"
    " {'name':'session','in':'cookie','schema':{'type':'string'}},"
    " {'name':'theme','in':'cookie','schema':{'type':'string'}}],'responses':{}}},"
    "'/m/{lab}/{mat}/{labx}/{matx}/{obj}':{'get':{'operationId':'styles','parameters':["
    " {'name':'lab','in':'path','required':true,'style':'label','schema':{'type':'array'}},"
    " {'name':'mat','in':'path','required':true,'style':'matrix','schema':{'type':'array'}},"
    " {'name':'labx','in':'path','required':true,'style':'label','explode':true},"
    " {'name':'matx','in':'path','required':true,'style':'matrix','explode':true},"
    " {'name':'obj','in':'path','required':true,'explode':true,'schema':{'type':'object'}}],"
    " 'responses':{}}},"
    "'/form':{'post':{'operationId':'form','requestBody':{'required':true,'content':{"
    "  'application/x-www-form-urlencoded':{'schema':{'type':'object','properties':{"
    "  'a':{'type':'integer'},'b':{'type':'string'},'tags':{'type':'array'},"
    "  'o':{'type':'object'}}}}}},'responses':{}}},"
    "'/patch':{'patch':{'operationId':'patch','requestBody':{'content':{"
    "  'application/merge-patch+json':{'schema':{'type':'object','properties':{"
    "  'name':{'type':'string'},'note':{'type':['string','null']}}}}}},'responses':{}}},"
    "'/req':{'post':{'operationId':'req','requestBody':{'required':true,'content':{"
    "  'application/json':{'schema':{'type':'object','properties':{'x':{'type':'integer'}}}}}},"
    "  'responses':{}}},"
    "'/bulk':{'post':{'operationId':'bulk','requestBody':{'required':true,'content':{"
    "  'application/json':{'schema':{'type':'array','items':{'type':'number'}}}}},"
    "  'responses':{}}}}";

/* Builds op's request from the args text; returns the target or the error. */
static char req_text[4096];

static const char *build(const oa_api *api, const char *name, const char *args_text,
                         const char *base) {
  const oa_operation *op = op_named(api, name);
  json_t *args = J(args_text);
  char err[256];
  int rc;
  oa_request_free(&last_req);
  if (op->name == NULL) {
    json_decref(args);
    return "(no op)";
  }
  rc = oa_request_build(op, args, base, &last_req, err, sizeof(err));
  json_decref(args);
  if (rc != 0) {
    CHECK_EQ_INT(rc, -EINVAL);
    snprintf(req_text, sizeof(req_text), "error: %s", err);
    return req_text;
  }
  snprintf(req_text, sizeof(req_text), "%s %s", last_req.method, last_req.target);
  return req_text;
}

static const char *header(size_t i) {
  return i < last_req.n_headers ? last_req.headers[i] : "(none)";
}

static void test_requests(void) {
  oa_api api;
  CHECK_EQ_INT(convert("3.0.3", REQUEST_PATHS, "{}", NULL, &api), 0);

  CHECK_EQ_STR(build(&api, "files",
                     "{'path':'a/b c~\\u00e9','X-Req':'r1','tags':['x','y z'],'ids':[1,2],"
                     "'sp':['a','b'],'pp':['a','b'],'filter':{'color':'red','size':{'min':1}},"
                     "'flag':true,'n':2.0,'r':0.1,'obj':{'k':'v','k2':1},"
                     "'flat':{'k':'v','k2':false},'j':{'a':[1]},'skip':null,"
                     "'X-Trace':['t1','t2'],'session':'abc def;','theme':'dark',"
                     "'unknown':'ignored'}",
                     "/api/v1"),
               "GET /api/v1/files/a%2Fb%20c~%C3%A9?tags=x&tags=y%20z&ids=1,2&sp=a%20b&pp=a%7Cb"
               "&filter%5Bcolor%5D=red&filter%5Bsize%5D%5Bmin%5D=1&flag=true&n=2&r=0.1"
               "&k=v&k2=1&flat=k,v,k2,false&j=%7B%22a%22%3A%5B1%5D%7D");
  CHECK_EQ_INT(last_req.n_headers, 3);
  CHECK_EQ_STR(header(0), "X-Trace: t1,t2");
  CHECK_EQ_STR(header(1), "X-Req: r1");
  CHECK_EQ_STR(header(2), "Cookie: session=abc%20def%3B; theme=dark");
  CHECK(last_req.body == NULL && last_req.body_len == 0);

  /* Path values that would change which resource is meant: refused. */
  CHECK_EQ_STR(build(&api, "files", "{'path':'..','X-Req':'r'}", "/api"),
               "error: path parameter values may not make a \".\" or \"..\" segment");
  CHECK_EQ_STR(build(&api, "files", "{'path':'.','X-Req':'r'}", ""),
               "error: path parameter values may not make a \".\" or \"..\" segment");
  CHECK_EQ_STR(build(&api, "files", "{'path':'','X-Req':'r'}", ""),
               "error: path parameter \"path\" is empty");
  /* Dots inside a value are only characters; a slash is encoded. */
  CHECK_EQ_STR(build(&api, "files", "{'path':'.../a.b','X-Req':'r'}", ""), "GET /files/...%2Fa.b");
  CHECK_EQ_STR(build(&api, "files", "{'path':'../x','X-Req':'r'}", ""), "GET /files/..%2Fx");

  /* Missing required arguments, named. */
  CHECK_EQ_STR(build(&api, "files", "{'X-Req':'r'}", ""),
               "error: missing required argument \"path\"");
  CHECK_EQ_STR(build(&api, "files", "{'path':'p'}", ""),
               "error: missing required argument \"X-Req\"");
  CHECK_EQ_STR(build(&api, "files", "{'path':'p','X-Req':null}", ""),
               "error: missing required argument \"X-Req\"");
  /* CR/LF in a header value. */
  CHECK(strstr(build(&api, "files", "{'path':'p','X-Req':'a\\r\\nEvil: 1'}", ""),
               "header value cannot contain CR, LF") != NULL);
  CHECK(strstr(build(&api, "files", "{'path':'p','X-Req':'ok','X-Trace':['a\\nb']}", ""),
               "error:") != NULL);
  /* A base path with a trailing slash; a number as a path value. */
  CHECK_EQ_STR(build(&api, "files", "{'path':12.5,'X-Req':7}", "/v2/"), "GET /v2/files/12.5");
  CHECK_EQ_STR(header(0), "X-Req: 7");

  CHECK_EQ_STR(build(&api, "styles",
                     "{'lab':['a','b'],'mat':['x','y'],'labx':['a','b'],'matx':['x','y'],"
                     "'obj':{'k':'v','w':'z'}}",
                     NULL),
               "GET /m/.a,b/;mat=x,y/.a.b/;matx=x;matx=y/k=v,w=z");

  /* Form body. */
  CHECK_EQ_STR(build(&api, "form", "{'a':1,'b':'x y&z','tags':['p','q'],'o':{'k':1}}", ""),
               "POST /form");
  CHECK_EQ_STR(header(0), "Content-Type: application/x-www-form-urlencoded");
  CHECK_EQ_STR(last_req.body, "a=1&b=x+y%26z&tags=p&tags=q&o=%7B%22k%22%3A1%7D");
  CHECK_EQ_INT(last_req.body_len, strlen(last_req.body));
  /* JSON bodies: the media type of the document, null kept, optional body
   * with nothing in it left out, required body without arguments is {}. */
  CHECK_EQ_STR(build(&api, "patch", "{'name':'n\\u00e9\\\"','note':null,'other':1}", ""),
               "PATCH /patch");
  CHECK_EQ_STR(header(0), "Content-Type: application/merge-patch+json");
  CHECK_EQ_STR(last_req.body, "{\"name\":\"n\xc3\xa9\\\"\",\"note\":null}");
  CHECK_EQ_STR(build(&api, "patch", "{}", ""), "PATCH /patch");
  CHECK(last_req.body == NULL && last_req.n_headers == 0);
  CHECK_EQ_STR(build(&api, "req", "{}", ""), "POST /req");
  CHECK_EQ_STR(last_req.body, "{}");
  CHECK_EQ_STR(build(&api, "bulk", "{'body':[1,2.5,0.1]}", ""), "POST /bulk");
  CHECK_EQ_STR(last_req.body, "[1,2.5,0.1]");
  CHECK_EQ_STR(header(0), "Content-Type: application/json");
  CHECK_EQ_STR(build(&api, "bulk", "{}", ""), "error: missing required argument \"body\"");
  oa_request_free(&last_req);
  openapi_free(&api);

  /* The merged item_id: one value, in the path and in the body. */
  CHECK_EQ_INT(convert("3.1.0", FASTAPI_PATHS, FASTAPI_COMPONENTS, NULL, &api), 0);
  CHECK_EQ_STR(build(&api, "update_item", "{'item_id':5,'name':'x'}", ""), "PUT /items/5");
  CHECK_EQ_STR(last_req.body, "{\"item_id\":5,\"name\":\"x\"}");
  CHECK_EQ_STR(build(&api, "read_item", "{'item_id':3,'q':'a+b=c'}", ""),
               "GET /items/3?q=a%2Bb%3Dc");
  oa_request_free(&last_req);
  openapi_free(&api);
}

/* ---- results -------------------------------------------------------------------------------- */

static json_t *result(const oa_operation *op, int status, const char *ct, const char *body,
                      int structured, size_t max) {
  oa_result_opts ro;
  ro.structured = structured;
  ro.max_error_body = max;
  ro.mismatch = NULL;
  return oa_result(op, status, ct, body, body != NULL ? strlen(body) : 0, &ro);
}

static const char *text_of(const json_t *r) {
  return json_string_value(
      json_object_get(json_array_get(json_object_get(r, "content"), 0), "text"));
}

static void test_results(void) {
  oa_api api;
  const oa_operation *item, *list, *upd;
  json_t *r;
  const char png[] = "\x89PNG\r\n\x1a\n";
  CHECK_EQ_INT(convert("3.1.0", FASTAPI_PATHS, FASTAPI_COMPONENTS, NULL, &api), 0);
  item = op_named(&api, "read_item");
  list = op_named(&api, "list_items");
  upd = op_named(&api, "update_item");

  /* 2xx JSON: compact text (numbers as sent) and structuredContent. */
  r = result(item, 200, "application/json; charset=utf-8",
             "{\n  \"item_id\": 1,\n  \"name\": \"a b\",\n  \"price\": 19.99\n}", 1, 0);
  CHECK_JSON(r, "{'content':[{'type':'text','text':'{\\'item_id\\':1,\\'name\\':\\'a b\\',"
                "\\'price\\':19.99}'}],'isError':false,'structuredContent':{'item_id':1,"
                "'name':'a b','price':19.99}}");
  json_decref(r);
  /* Not structured for older sessions. */
  r = result(item, 200, "application/json", "{\"item_id\":1}", 0, 0);
  CHECK(json_object_get(r, "structuredContent") == NULL);
  CHECK_EQ_STR(text_of(r), "{\"item_id\":1}");
  json_decref(r);
  /* Wrapped output. */
  r = result(list, 200, "application/problem+json", "[ {\"item_id\": 2, \"name\" : \"x y\"} ]", 1,
             0);
  CHECK_JSON(json_object_get(r, "structuredContent"), "{'result':[{'item_id':2,'name':'x y'}]}");
  CHECK_EQ_STR(text_of(r), "[{\"item_id\":2,\"name\":\"x y\"}]");
  json_decref(r);
  /* An object schema and a non-object body: text only. */
  r = result(item, 200, "application/json", "null", 1, 0);
  CHECK(json_object_get(r, "structuredContent") == NULL);
  CHECK_EQ_STR(text_of(r), "null");
  json_decref(r);
  /* Broken JSON is text. */
  r = result(item, 200, "application/json", "{\"a\":", 1, 0);
  CHECK(json_object_get(r, "structuredContent") == NULL);
  CHECK_EQ_STR(text_of(r), "{\"a\":");
  json_decref(r);
  /* No Content-Type, a body that looks like JSON; no operation. */
  r = result(NULL, 200, NULL, " {\"a\": 1}", 1, 0);
  CHECK_EQ_STR(text_of(r), "{\"a\":1}");
  json_decref(r);
  /* Non-JSON text; invalid UTF-8 replaced. */
  r = result(upd, 200, "text/plain", "caf\xc3\xa9 \xff\xfe ok \xe2\x82", 0, 0);
  CHECK_EQ_STR(text_of(r), "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd ok \xef\xbf\xbd");
  CHECK(json_object_get(r, "structuredContent") == NULL);
  json_decref(r);
  /* A wrapped ({}) output schema and a text answer: structured all the
   * same, or clients reject the result. Not for an object schema. */
  r = result(upd, 200, "text/plain", "plain words", 1, 0);
  CHECK_JSON(r, "{'content':[{'type':'text','text':'plain words'}],'isError':false,"
                "'structuredContent':{'result':'plain words'}}");
  json_decref(r);
  r = result(item, 200, "text/plain", "plain words", 1, 0);
  CHECK(json_object_get(r, "structuredContent") == NULL);
  json_decref(r);
  r = result(NULL, 200, "text/plain", "\xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80", 0, 0);
  CHECK_EQ_STR(text_of(r), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
                           "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  json_decref(r);
  /* An image. */
  r = oa_result(item, 200, "image/PNG", png, sizeof(png) - 1, NULL);
  CHECK_JSON(r, "{'content':[{'type':'image','data':'iVBORw0KGgo=','mimeType':'image/png'}],"
                "'isError':false}");
  json_decref(r);
  /* No content. */
  r = result(upd, 204, NULL, NULL, 1, 0);
  CHECK_JSON(r, "{'content':[{'type':'text','text':'HTTP 204 No Content (no content)'}],"
                "'isError':false,'structuredContent':{'result':null}}");
  json_decref(r);
  /* An object schema and no content: no structured form, so an error that
   * says why (a client rejects a success without structuredContent). */
  r = result(item, 202, NULL, "", 1, 0);
  CHECK_EQ_STR(text_of(r), "HTTP 202 Accepted (no content)");
  CHECK(json_is_true(json_object_get(r, "isError")));
  CHECK(json_object_get(r, "structuredContent") == NULL);
  json_decref(r);
  r = result(item, 202, NULL, "", 0, 0);
  CHECK_JSON(r, "{'content':[{'type':'text','text':'HTTP 202 Accepted (no content)'}],"
                "'isError':false}");
  json_decref(r);
  /* Errors: status, reason, body cut at a character boundary. */
  r = result(item, 404, "text/plain", "not h\xc3\xa9re at all", 1, 6);
  CHECK_JSON(r, "{'content':[{'type':'text','text':'HTTP 404 Not Found: not h... (cut; 16 "
                "bytes in all)'}],'isError':true}");
  json_decref(r);
  r = result(item, 404, "text/plain", "not h\xc3\xa9re", 1, 0);
  CHECK_EQ_STR(text_of(r), "HTTP 404 Not Found: not h\xc3\xa9re");
  json_decref(r);
  r = result(item, 422, "application/json", "{\n \"detail\": [\"bad\"]\n}", 1, 0);
  CHECK_EQ_STR(text_of(r), "HTTP 422 Unprocessable Content: {\"detail\":[\"bad\"]}");
  CHECK(json_object_get(r, "structuredContent") == NULL);
  CHECK(json_is_true(json_object_get(r, "isError")));
  json_decref(r);
  r = result(item, 401, "application/json", "{\"token\":\"secret\"}", 1, 0);
  CHECK_EQ_STR(text_of(r), "HTTP 401 Unauthorized: (body withheld)");
  json_decref(r);
  r = result(item, 403, "text/plain", "secret", 1, 0);
  CHECK_EQ_STR(text_of(r), "HTTP 403 Forbidden: (body withheld)");
  json_decref(r);
  r = result(item, 599, NULL, "", 1, 0);
  CHECK_EQ_STR(text_of(r), "HTTP 599");
  json_decref(r);
  r = result(item, 302, NULL, NULL, 1, 0);
  CHECK_EQ_STR(text_of(r), "HTTP 302 Found");
  CHECK(json_is_true(json_object_get(r, "isError")));
  json_decref(r);
  openapi_free(&api);
}

static void test_contents(void) {
  json_t *c;
  const char bin[] = "\x00\x01\xff";
  c = oa_contents("api://shop/items", "text/plain; charset=utf-8", "hi \xff", 4);
  CHECK_JSON(c, "{'uri':'api://shop/items','mimeType':'text/plain','text':'hi \\ufffd'}");
  json_decref(c);
  c = oa_contents("api://shop/x", "application/vnd.api+json", "{\"a\":1}", 7);
  CHECK_JSON(c,
             "{'uri':'api://shop/x','mimeType':'application/vnd.api+json','text':'{\\'a\\':1}'}");
  json_decref(c);
  c = oa_contents("api://shop/x", "application/xml", "<a/>", 4);
  CHECK_EQ_STR(json_string_value(json_object_get(c, "text")), "<a/>");
  json_decref(c);
  c = oa_contents("api://shop/x", "image/png", bin, 3);
  CHECK_JSON(c, "{'uri':'api://shop/x','mimeType':'image/png','blob':'AAH/'}");
  json_decref(c);
  c = oa_contents("api://shop/x", "application/pdf", "%PDF", 4);
  CHECK_JSON(c, "{'uri':'api://shop/x','mimeType':'application/pdf','blob':'JVBERg=='}");
  json_decref(c);
  c = oa_contents("api://shop/x", NULL, bin, 3);
  CHECK_JSON(c, "{'uri':'api://shop/x','mimeType':'application/octet-stream','blob':'AAH/'}");
  json_decref(c);
  c = oa_contents("api://shop/x", NULL, "plain", 5);
  CHECK_JSON(c, "{'uri':'api://shop/x','text':'plain'}");
  json_decref(c);
  c = oa_contents("api://shop/x", "text/plain", NULL, 0);
  CHECK_JSON(c, "{'uri':'api://shop/x','mimeType':'text/plain','text':''}");
  json_decref(c);
}

/* ---- allocation failures ------------------------------------------------------------------ */

static long alloc_budget = -1; /* jansson allocations left; -1: no limit */

static void *limited_malloc(size_t n) {
  if (alloc_budget == 0)
    return NULL;
  if (alloc_budget > 0)
    alloc_budget--;
  return malloc(n);
}

/* Everything an api holds, as one JSON text (made with the normal
 * allocator). */
static char *fingerprint(const oa_api *api) {
  json_t *all = json_array();
  char *s;
  size_t i, j;
  for (i = 0; i < api->n_ops; i++) {
    const oa_operation *op = &api->ops[i];
    json_t *ps = json_array();
    for (j = 0; j < op->n_params; j++)
      json_array_append_new(ps,
                            json_pack("[ssiiiii]", op->params[j].arg, op->params[j].name,
                                      op->params[j].in, op->params[j].style, op->params[j].explode,
                                      op->params[j].required, op->params[j].json));
    json_array_append_new(
        all, json_pack("{s:s,s:s?,s:s,s:O,s:O?,s:O,s:o,s:s?,s:s?,s:i,s:i}", "name", op->name,
                       "title", op->title, "description", op->description, "in", op->input_schema,
                       "out", op->output_schema, "ann", op->annotations, "ps", ps, "uri", op->uri,
                       "mime", op->mime_type, "kind", op->kind, "body", op->body));
  }
  for (i = 0; i < api->n_warnings; i++)
    json_array_append_new(all, json_string(api->warnings[i]));
  s = json_dumps(all, JSON_COMPACT);
  json_decref(all);
  return s;
}

static void test_out_of_memory(void) {
  json_t *d = doc("3.0.3", FASTAPI_PATHS, RECURSIVE_COMPONENTS);
  json_t *d2 = doc("3.1.0", FASTAPI_PATHS, FASTAPI_COMPONENTS);
  json_t *rules = J("[{'methods':['GET'],'pattern':'^/items/$','type':'resource'}]");
  json_t *args = J("{'item_id__path':'a/b','item_id':5,'name':'x','price':0.5}");
  oa_options o = opts();
  oa_api api;
  char err[256], *want, *got;
  long k;
  int rc, failures = 0, completed, doc_i;
  o.route_map = rules;
  o.tool_prefix = "p_";
  CHECK_EQ_INT(openapi_convert(d2, &o, &api, err, sizeof(err)), 0);
  want = fingerprint(&api);
  openapi_free(&api);
  /* d has dangling references to Item and Category: more warnings. */
  CHECK_EQ_INT(openapi_convert(d, &o, &api, err, sizeof(err)), 0);
  openapi_free(&api);
  /* Fail the first allocation, then the second... until one run needs no
   * more than it is given; for both documents. */
  json_set_alloc_funcs(limited_malloc, free);
  for (doc_i = 0; doc_i < 2; doc_i++) {
    completed = 0;
    for (k = 0; k < 100000 && !completed; k++) {
      alloc_budget = k;
      rc = openapi_convert(doc_i ? d : d2, &o, &api, err, sizeof(err));
      CHECK(rc == 0 || rc == -ENOMEM);
      if (rc == -ENOMEM) {
        failures++;
        CHECK(api.ops == NULL && api.warnings == NULL);
        CHECK_EQ_STR(err, "out of memory");
        continue;
      }
      completed = 1;
      alloc_budget = -1;
      if (doc_i == 0) {
        /* Not one allocation failed unnoticed. */
        got = fingerprint(&api);
        CHECK(got != NULL && strcmp(got, want) == 0);
        free(got);
      }
      openapi_free(&api);
    }
    CHECK(completed);
  }
  CHECK(failures > 1000);
  /* Requests and results fail cleanly too. */
  alloc_budget = -1;
  json_set_alloc_funcs(malloc, free);
  CHECK_EQ_INT(openapi_convert(d2, &o, &api, err, sizeof(err)), 0);
  json_set_alloc_funcs(limited_malloc, free);
  for (k = 0; k < 200; k++) {
    const oa_operation *op = find_op(&api, "p_update_item");
    oa_request rq;
    json_t *r;
    oa_result_opts ro = {1, 0, NULL};
    alloc_budget = k;
    r = oa_result(op, 200, "application/json", "{\"item_id\": 1}", 14, &ro);
    json_decref(r);
    alloc_budget = k;
    r = oa_contents("api://x", "image/png", "abc", 3);
    json_decref(r);
    alloc_budget = k;
    r = oa_result(op, 500, "application/json", "{\"e\": 1}", 8, &ro);
    json_decref(r);
    alloc_budget = k;
    if (oa_request_build(op, args, "/b", &rq, err, sizeof(err)) == 0)
      oa_request_free(&rq);
  }
  alloc_budget = -1;
  json_set_alloc_funcs(malloc, free);
  openapi_free(&api);
  free(want);
  json_decref(d);
  json_decref(d2);
  json_decref(rules);
  json_decref(args);
}

/* ---- security -> required scopes -------------------------------------------------- */

/* Whether op's required_scopes are exactly want (NULL-terminated; NULL: none);
 * prints both when not. */
static int scopes_are(const oa_operation *op, const char *const *want) {
  size_t i, n = 0;
  int eq;
  if (want == NULL || op->required_scopes == NULL) {
    eq = want == NULL && op->required_scopes == NULL;
  } else {
    for (i = 0; want[i] != NULL && op->required_scopes[i] != NULL; i++) {
      if (strcmp(want[i], op->required_scopes[i]) != 0)
        break;
    }
    eq = want[i] == NULL && op->required_scopes[i] == NULL;
  }
  if (!eq) {
    fprintf(stderr, "  %s: got", op->name ? op->name : "(none)");
    for (n = 0; op->required_scopes != NULL && op->required_scopes[n] != NULL; n++)
      fprintf(stderr, " \"%s\"", op->required_scopes[n]);
    fprintf(stderr, "%s; want", op->required_scopes == NULL ? " NULL" : "");
    for (n = 0; want != NULL && want[n] != NULL; n++)
      fprintf(stderr, " \"%s\"", want[n]);
    fprintf(stderr, "%s\n", want == NULL ? " NULL" : "");
  }
  return eq;
}

/* The schemes every security test document has. */
#define SCHEMES                                                                                    \
  "'securitySchemes':{"                                                                            \
  "'oauth':{'type':'oauth2','flows':{'clientCredentials':{'tokenUrl':'https://as/token',"          \
  "'scopes':{'items:read':'','items:write':'','admin':''}}}},"                                     \
  "'oidc':{'type':'openIdConnect','openIdConnectUrl':'https://as/.well-known/"                     \
  "openid-configuration'},"                                                                        \
  "'key':{'type':'apiKey','in':'header','name':'X-Api-Key'},"                                      \
  "'basic':{'type':'http','scheme':'bearer'},"                                                     \
  "'alias':{'$ref':'#/components/securitySchemes/oauth'}}"

static int convert_doc(const char *text, const oa_options *o, oa_api *api) {
  json_t *d = J(text);
  char err[256];
  int rc = openapi_convert(d, o, api, err, sizeof(err));
  if (rc != 0)
    fprintf(stderr, "openapi_convert: %d %s\n", rc, err);
  json_decref(d);
  return rc;
}

static void test_security_scopes(void) {
  static const char *const read[] = {"items:read", NULL};
  static const char *const write_admin[] = {"items:write admin", NULL};
  static const char *const two[] = {"items:write", "admin items:read", NULL};
  static const char *const any[] = {"", NULL};
  static const char *const strict[] = {"items:write", NULL};
  static const char *const mixed[] = {"admin", NULL};
  static const char *const prefixed[] = {"shop:items:write shop:admin", NULL};
  static const char *const aliased[] = {"admin", NULL};
  const char *text =
      "{'openapi':'3.1.0','info':{'title':'t','version':'1'},"
      "'security':[{'oauth':['items:read']}],"
      "'paths':{"
      "'/inherit':{'get':{'operationId':'inherit'}},"
      "'/own':{'post':{'operationId':'own','security':[{'oauth':['items:write','admin']}]}},"
      "'/public':{'get':{'operationId':'public','security':[]}},"
      "'/either':{'put':{'operationId':'either',"
      "  'security':[{'oauth':['items:write']},{'oidc':['admin'],'oauth':['items:read']}]}},"
      "'/anytoken':{'get':{'operationId':'anytoken','security':[{'oauth':[]}]}},"
      "'/anon':{'get':{'operationId':'anon','security':[{}]}},"
      "'/keyonly':{'get':{'operationId':'keyonly','security':[{'key':[]},{'basic':[]}]}},"
      "'/keyoroauth':{'get':{'operationId':'keyoroauth',"
      "  'security':[{'key':[]},{'oauth':['items:write']}]}},"
      "'/"
      "keyandoauth':{'get':{'operationId':'keyandoauth','security':[{'key':[],'oauth':['admin']}]}}"
      ","
      "'/alias':{'get':{'operationId':'alias','security':[{'alias':['admin']}]}},"
      "'/unknown':{'get':{'operationId':'unknown','security':[{'nosuch':['x']}]}},"
      "'/badscope':{'get':{'operationId':'badscope','security':[{'oauth':['a b']}]}},"
      "'/badlist':{'get':{'operationId':'badlist','security':{'oauth':['a']}}}"
      "},'components':{" SCHEMES "}}";
  oa_options o = opts();
  oa_api api;

  o.security_scopes = 1;
  CHECK_EQ_INT(convert_doc(text, &o, &api), 0);
  /* The document's security unless the operation has its own. */
  CHECK(scopes_are(op_named(&api, "inherit"), read));
  /* One requirement object: all of its scopes (AND). */
  CHECK(scopes_are(op_named(&api, "own"), write_admin));
  /* security: [] -> no scopes. */
  CHECK(scopes_are(op_named(&api, "public"), NULL));
  /* Objects are alternatives (OR); oauth2 and openIdConnect both count. */
  CHECK(scopes_are(op_named(&api, "either"), two));
  /* An oauth2 scheme with no scopes, or {}: any valid token. */
  CHECK(scopes_are(op_named(&api, "anytoken"), any));
  CHECK(scopes_are(op_named(&api, "anon"), any));
  /* apiKey and http schemes are the backend's own credentials: ignored; an
   * alternative of only those is none, so it cannot widen the tool's access. */
  CHECK(scopes_are(op_named(&api, "keyonly"), NULL));
  CHECK(scopes_are(op_named(&api, "keyoroauth"), strict));
  CHECK(scopes_are(op_named(&api, "keyandoauth"), mixed));
  /* A scheme by $ref. */
  CHECK(scopes_are(op_named(&api, "alias"), aliased));
  /* A scheme the document does not define: a warning, ignored. */
  CHECK(scopes_are(op_named(&api, "unknown"), NULL));
  CHECK(has_warning(&api, "GET /unknown: security scheme nosuch is not in "
                          "components.securitySchemes; ignored"));
  /* A scope that cannot be one, or a malformed security: the operation is
   * skipped (a tool never loses a scope it needs). */
  CHECK(find_op(&api, "badscope") == NULL);
  CHECK(has_warning(&api, "GET /badscope: scope a b of oauth is not a scope"));
  CHECK(find_op(&api, "badlist") == NULL);
  CHECK(has_warning(&api, "GET /badlist: \"security\" is an object, not an array"));
  openapi_free(&api);

  /* scope_prefix goes before every scope. */
  o.scope_prefix = "shop:";
  CHECK_EQ_INT(convert_doc(text, &o, &api), 0);
  CHECK(scopes_are(op_named(&api, "own"), prefixed));
  CHECK(scopes_are(op_named(&api, "anytoken"), any));
  openapi_free(&api);

  /* security_scopes off: no scopes anywhere, and nothing skipped. */
  o.security_scopes = 0;
  CHECK_EQ_INT(convert_doc(text, &o, &api), 0);
  CHECK(scopes_are(op_named(&api, "own"), NULL));
  CHECK(scopes_are(op_named(&api, "inherit"), NULL));
  CHECK(find_op(&api, "badscope") != NULL);
  openapi_free(&api);

  /* Resources and templates get them too. */
  o.security_scopes = 1;
  o.scope_prefix = NULL;
  o.get_as_resources = 1;
  CHECK_EQ_INT(convert("3.1.0",
                       "{'/items/{id}':{'get':{'operationId':'item','security':[{'oauth':"
                       "['items:read']}],'parameters':[{'name':'id','in':'path','required':true,"
                       "'schema':{'type':'string'}}]}},"
                       "'/stats':{'get':{'operationId':'stats','security':[{'oauth':"
                       "['items:read']}]}}}",
                       "{" SCHEMES "}", &o, &api),
               0);
  CHECK_EQ_INT(op_named(&api, "item")->kind, OA_TEMPLATE);
  CHECK(scopes_are(op_named(&api, "item"), read));
  CHECK_EQ_INT(op_named(&api, "stats")->kind, OA_RESOURCE);
  CHECK(scopes_are(op_named(&api, "stats"), read));
  openapi_free(&api);

  CHECK(oa_scope_prefix_ok(NULL));
  CHECK(oa_scope_prefix_ok(""));
  CHECK(oa_scope_prefix_ok("shop:"));
  CHECK(!oa_scope_prefix_ok("a b"));
  CHECK(!oa_scope_prefix_ok("a\"b"));
  CHECK(!oa_scope_prefix_ok("a\\b"));
  CHECK(!oa_scope_prefix_ok("caf\xc3\xa9"));
}

/* Header parameters the plugin sets itself (claim_headers) are not
 * arguments: the model cannot spoof them. */
static void test_reserved_headers(void) {
  static const char *const reserved[] = {"x-user-id", "X-Tenant", NULL};
  oa_options o = opts();
  oa_api api;
  const oa_operation *op;
  const json_t *props;
  o.reserved_headers = reserved;
  CHECK_EQ_INT(
      convert("3.1.0",
              "{'/me':{'get':{'operationId':'me','parameters':["
              "{'name':'X-User-Id','in':'header','required':true,'schema':{'type':'string'}},"
              "{'name':'x-tenant','in':'header','schema':{'type':'string'}},"
              "{'name':'X-Trace','in':'header','schema':{'type':'string'}},"
              "{'name':'x-user-id','in':'query','schema':{'type':'string'}}]}}}",
              "{}", &o, &api),
      0);
  op = op_named(&api, "me");
  props = json_object_get(op->input_schema, "properties");
  CHECK(json_object_get(props, "X-User-Id") == NULL);
  CHECK(json_object_get(props, "x-tenant") == NULL);
  CHECK(json_object_get(props, "X-Trace") != NULL);
  CHECK(json_object_get(props, "x-user-id") != NULL); /* a query parameter: kept */
  CHECK(json_object_get(op->input_schema, "required") == NULL);
  CHECK(has_warning(&api, "GET /me: header parameter X-User-Id ignored: mcpd sets that header"));
  CHECK(has_warning(&api, "GET /me: header parameter x-tenant ignored"));
  openapi_free(&api);
}

/* ---- oauth_cc: the backend's token, against a fake host ---------------------------- */

/* A request the fake host was asked to make; answered by the test. */
struct mcpd_http {
  int live;
  char url[256];
  char body[512];
  char auth[256];
  mcpd_http_fn cb;
  void *arg;
};
static struct mcpd_http fake_reqs[16];
static int fake_n;
static int fake_fail; /* http_request returns this when set */
static char fake_log[1024];

static int fake_http_request(mcpd_ctx *ctx, const mcpd_http_request *hr, mcpd_http_fn cb, void *arg,
                             mcpd_http **handle) {
  struct mcpd_http *h;
  size_t i;
  (void)ctx;
  if (fake_fail)
    return fake_fail;
  h = &fake_reqs[fake_n++];
  memset(h, 0, sizeof(*h));
  h->live = 1;
  snprintf(h->url, sizeof(h->url), "%s", hr->url);
  snprintf(h->body, sizeof(h->body), "%.*s", (int)hr->body_len, (const char *)hr->body);
  for (i = 0; i < hr->n_headers; i++) {
    if (strncmp(hr->headers[i], "Authorization: ", 15) == 0)
      snprintf(h->auth, sizeof(h->auth), "%s", hr->headers[i] + 15);
  }
  CHECK(hr->ca_file != NULL && strcmp(hr->ca_file, "/etc/ca.pem") == 0); /* from prepare */
  h->cb = cb;
  h->arg = arg;
  *handle = h;
  return 0;
}

static void fake_log_fn(mcpd_ctx *ctx, int level, const char *fmt, ...) {
  va_list ap;
  size_t len = strlen(fake_log);
  (void)ctx;
  (void)level;
  va_start(ap, fmt);
  vsnprintf(fake_log + len, sizeof(fake_log) - len, fmt, ap);
  va_end(ap);
}

static const char *fake_strerror(int err) {
  return err == -ECONNREFUSED ? "connection refused" : "some error";
}

static void fake_answer(int i, int err, int status, const char *body) {
  static const char *const hd[] = {"content-type: application/json"};
  mcpd_http_response r;
  CHECK(fake_reqs[i].live);
  fake_reqs[i].live = 0;
  r.status = status;
  r.headers = hd;
  r.n_headers = 1;
  r.body = body;
  r.body_len = strlen(body);
  fake_reqs[i].cb(fake_reqs[i].arg, err, err ? NULL : &r);
}

static void fake_prepare(void *arg, mcpd_http_request *hr, char *why, size_t n) {
  hr->ca_file = arg;
  why[0] = '\0';
  hr->error = why;
  hr->error_size = n;
}

/* What a wait got. */
typedef struct got {
  int calls, err;
  char token[64], why[128];
} got;

static void got_cb(void *arg, int err, const char *token, const char *why) {
  got *g = arg;
  g->calls++;
  g->err = err;
  snprintf(g->token, sizeof(g->token), "%s", token ? token : "");
  snprintf(g->why, sizeof(g->why), "%s", why ? why : "");
}

static void test_oauth_cc(void) {
  mcpd_host h;
  oauth_cc_settings st;
  oauth_cc *cc;
  oauth_cc_wait *w1, *w2, *w3;
  got g1, g2, g3;
  const char *tok;
  char why[128];
  struct timespec ten_ms = {0, 10000000};

  memset(&h, 0, sizeof(h));
  h.struct_size = sizeof(h);
  h.abi_major = 1;
  h.abi_minor = 3;
  h.log = fake_log_fn;
  h.strerror = fake_strerror;
  h.http_request = fake_http_request;
  memset(&st, 0, sizeof(st));
  st.label = "shop";
  st.token_url = "https://as.example/token";
  st.client_id = "shop:1";
  st.client_secret = "s3cret/+ x";
  st.scope = "items:read items:write";
  st.resource = "https://api.example/";
  st.prepare = fake_prepare;
  st.prepare_arg = "/etc/ca.pem";
  cc = oauth_cc_new(&h, NULL, &st);
  CHECK(cc != NULL);
  if (cc == NULL)
    return;
  memset(&g1, 0, sizeof(g1));
  memset(&g2, 0, sizeof(g2));
  memset(&g3, 0, sizeof(g3));

  /* Single flight: three callers, one request; one leaves the wait list. */
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), OAUTH_CC_PENDING);
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g2, &w2, why, sizeof(why)), OAUTH_CC_PENDING);
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g3, &w3, why, sizeof(why)), OAUTH_CC_PENDING);
  CHECK_EQ_INT(fake_n, 1);
  CHECK_EQ_INT(oauth_cc_requests(cc), 1);
  oauth_cc_cancel(w2);
  CHECK_EQ_STR(fake_reqs[0].url, "https://as.example/token");
  /* RFC 6749: the form, and Basic with both parts form-encoded first. */
  CHECK_EQ_STR(fake_reqs[0].body, "grant_type=client_credentials&scope=items%3Aread+items%3Awrite"
                                  "&resource=https%3A%2F%2Fapi.example%2F");
  /* base64("shop%3A1:s3cret%2F%2B+x") */
  CHECK_EQ_STR(fake_reqs[0].auth, "Basic c2hvcCUzQTE6czNjcmV0JTJGJTJCK3g=");
  fake_answer(0, 0, 200, "access_token=AT1"); /* not JSON: no token */
  CHECK_EQ_INT(g1.calls, 1);
  CHECK_EQ_INT(g2.calls, 0);
  CHECK_EQ_INT(g3.calls, 1);
  CHECK(g1.err < 0);
  CHECK_EQ_STR(g1.why, "HTTP 200 with a body that is not a JSON object");

  /* A good answer: kept (no expires_in: 300 s), given at once afterwards. */
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), OAUTH_CC_PENDING);
  fake_answer(1, 0, 200, "{\"access_token\":\"AT1\",\"token_type\":\"Bearer\"}");
  CHECK_EQ_INT(g1.calls, 2);
  CHECK_EQ_INT(g1.err, 0);
  CHECK_EQ_STR(g1.token, "AT1");
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), 0);
  CHECK_EQ_STR(tok, "AT1");
  CHECK_EQ_INT(fake_n, 2);

  /* A 401 to an older token leaves the current one; to the current one, it goes. */
  oauth_cc_invalidate(cc, "AT0");
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), 0);
  oauth_cc_invalidate(cc, "AT1");
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), OAUTH_CC_PENDING);
  CHECK_EQ_INT(fake_n, 3);

  /* Failures say what, never the secret: an OAuth error code, a transport error. */
  fake_answer(2, 0, 401, "{\"error\":\"invalid_client\",\"error_description\":\"s3cret/+ x\"}");
  CHECK_EQ_STR(g1.why, "HTTP 401 invalid_client");
  CHECK(strstr(fake_log, "backend=shop no access token from token_url: HTTP 401 invalid_client") !=
        NULL);
  CHECK(strstr(fake_log, "s3cret") == NULL);
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), OAUTH_CC_PENDING);
  fake_answer(3, 0, 500, "<html>\"bad\" s3cret</html>");
  CHECK_EQ_STR(g1.why, "HTTP 500");
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), OAUTH_CC_PENDING);
  fake_answer(4, -ECONNREFUSED, 0, "");
  CHECK_EQ_STR(g1.why, "connection refused");
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), OAUTH_CC_PENDING);
  fake_answer(5, 0, 200, "{\"access_token\":\"AT 2\"}");
  CHECK_EQ_STR(g1.why, "HTTP 200 without a usable access_token");
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), OAUTH_CC_PENDING);
  fake_answer(6, 0, 200, "{\"access_token\":\"AT2\",\"token_type\":\"DPoP\"}");
  CHECK_EQ_STR(g1.why, "token_type DPoP is not Bearer");

  /* A short-lived token is renewed early (here at half its life). */
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), OAUTH_CC_PENDING);
  fake_answer(7, 0, 200, "{\"access_token\":\"AT3\",\"expires_in\":0.004}");
  CHECK_EQ_STR(g1.token, "AT3");
  nanosleep(&ten_ms, NULL);
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), OAUTH_CC_PENDING);
  fake_answer(8, 0, 200, "{\"access_token\":\"AT4\",\"expires_in\":3600}");
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), 0);
  CHECK_EQ_STR(tok, "AT4");

  /* A request that cannot be sent: the host's error, no wait. */
  oauth_cc_invalidate(cc, "AT4");
  fake_fail = -ESHUTDOWN;
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), -ESHUTDOWN);
  CHECK(w1 == NULL);
  fake_fail = 0;
  oauth_cc_free(cc);

  /* client_secret_post: the credentials in the form, no Authorization. */
  st.post = 1;
  st.scope = NULL;
  st.resource = NULL;
  cc = oauth_cc_new(&h, NULL, &st);
  CHECK(cc != NULL);
  if (cc == NULL)
    return;
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), OAUTH_CC_PENDING);
  CHECK_EQ_STR(fake_reqs[fake_n - 1].body,
               "grant_type=client_credentials&client_id=shop%3A1&client_secret=s3cret%2F%2B+x");
  CHECK_EQ_STR(fake_reqs[fake_n - 1].auth, "");
  oauth_cc_cancel(w1);
  fake_answer(fake_n - 1, 0, 200, "{\"access_token\":\"AT5\"}"); /* nobody waits: kept */
  CHECK_EQ_INT(oauth_cc_get(cc, &tok, got_cb, &g1, &w1, why, sizeof(why)), 0);
  CHECK_EQ_STR(tok, "AT5");
  oauth_cc_free(cc);
}

/* ---- Swagger 2.0 and documents without paths ---------------------------------------- */

static json_t *YAML(const char *text) {
  char err[300];
  json_t *v = NULL;
  if (oa_yaml_parse_document(text, strlen(text), &v, err, sizeof(err)) != 0) {
    fprintf(stderr, "bad test YAML: %s\n", err);
    abort();
  }
  return v;
}

/* A Swagger 2.0 document in YAML, end to end (the conversion itself is checked
 * field by field in test_oa_yaml.c). */
static void test_swagger2(void) {
  json_t *sw = YAML(
      "swagger: 2.0\n"
      "info: {title: Pets, version: '1'}\n"
      "securityDefinitions:\n"
      "  code: {type: oauth2, flow: accessCode, authorizationUrl: 'https://a/auth',\n"
      "         tokenUrl: 'https://a/token', scopes: {read: r}}\n"
      "parameters:\n"
      "  limit: {name: limit, in: query, type: integer, maximum: 100}\n"
      "definitions:\n"
      "  Pet: {type: object, required: [name], properties: {name: {type: string},\n"
      "        owner: {$ref: '#/definitions/Owner'}}}\n"
      "  Owner: {type: object, properties: {id: {type: integer}}}\n"
      "paths:\n"
      "  /pets:\n"
      "    get:\n"
      "      operationId: listPets\n"
      "      security: [{code: [read]}]\n"
      "      parameters:\n"
      "        - $ref: '#/parameters/limit'\n"
      "        - {name: tags, in: query, type: array, items: {type: string}, collectionFormat: "
      "multi}\n"
      "        - {name: ids, in: query, type: array, items: {type: integer}}\n"
      "        - {name: sep, in: query, type: array, items: {type: string}, collectionFormat: "
      "pipes}\n"
      "      responses:\n"
      "        200: {description: ok, schema: {type: array, items: {$ref: '#/definitions/Pet'}}}\n"
      "    post:\n"
      "      operationId: addPet\n"
      "      parameters: [{name: pet, in: body, required: true, schema: {$ref: "
      "'#/definitions/Pet'}}]\n"
      "      responses: {201: {description: made}}\n"
      "  /pets/{id}:\n"
      "    parameters: [{name: id, in: path, required: true, type: string}]\n"
      "    put:\n"
      "      operationId: renamePet\n"
      "      consumes: [application/x-www-form-urlencoded]\n"
      "      parameters:\n"
      "        - {name: id, in: path, required: true, type: integer}\n"
      "        - {name: name, in: formData, type: string, required: true}\n"
      "      responses: {204: {description: done}}\n");
  oa_api api;
  oa_options o = opts();
  char err[256];
  size_t i;

  o.security_scopes = 1;
  CHECK_EQ_INT(openapi_convert(sw, &o, &api, err, sizeof(err)), 0);
  CHECK_EQ_INT(api.n_ops, 3);
  CHECK_EQ_INT(api.n_warnings, 0);
  if (api.n_ops == 3) {
    const oa_operation *list = &api.ops[0], *add = &api.ops[1], *ren = &api.ops[2];
    const json_t *props = json_object_get(list->input_schema, "properties");
    CHECK_EQ_STR(list->name, "listPets");
    CHECK_EQ_STR(add->name, "addPet");
    CHECK_EQ_STR(ren->name, "renamePet");
    CHECK_EQ_STR(api.title, "Pets");
    for (i = 0; i < list->n_params; i++) {
      if (strcmp(list->params[i].name, "tags") == 0)
        CHECK(list->params[i].style == OA_STYLE_FORM && list->params[i].explode == 1);
      if (strcmp(list->params[i].name, "ids") == 0)
        CHECK(list->params[i].style == OA_STYLE_FORM && list->params[i].explode == 0);
      if (strcmp(list->params[i].name, "sep") == 0)
        CHECK(list->params[i].style == OA_STYLE_PIPE);
    }
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(props, "limit"), "maximum")),
                 100);
    CHECK(list->output_schema != NULL && list->output_wrapped);
    CHECK(list->required_scopes != NULL && list->required_scopes[0] != NULL &&
          strcmp(list->required_scopes[0], "read") == 0 && list->required_scopes[1] == NULL);
    /* The body's object spread into arguments, its $refs into $defs. */
    CHECK_EQ_INT(add->body, OA_BODY_JSON);
    CHECK(json_object_get(json_object_get(add->input_schema, "properties"), "name") != NULL);
    CHECK(json_object_get(json_object_get(add->input_schema, "$defs"), "Owner") != NULL);
    /* formData as a form; the operation's id (an integer) replaces the path item's. */
    CHECK_EQ_INT(ren->body, OA_BODY_FORM);
    CHECK_EQ_STR(ren->content_type, "application/x-www-form-urlencoded");
    CHECK_EQ_STR(
        json_string_value(json_object_get(
            json_object_get(json_object_get(ren->input_schema, "properties"), "id"), "type")),
        "integer");
  }
  openapi_free(&api);
  json_decref(sw);
}

static void test_no_paths(void) {
  oa_api api;
  oa_options o = opts();
  char err[256];
  json_t *d = J("{'openapi':'3.1.0','info':{'title':'hooks','version':'1'},"
                "'webhooks':{'newPet':{'post':{'responses':{'200':{'description':'ok'}}}}}}");
  CHECK_EQ_INT(openapi_convert(d, &o, &api, err, sizeof(err)), 0);
  CHECK_EQ_INT(api.n_ops, 0);
  CHECK_EQ_INT(api.n_warnings, 1);
  if (api.n_warnings == 1)
    CHECK_EQ_STR(api.warnings[0], "no \"paths\" (an OpenAPI 3.1 document of webhooks, which are "
                                  "calls the API makes, not ones it takes): no tools");
  openapi_free(&api);
  json_decref(d);
  d = J("{'openapi':'3.1.0','components':{}}");
  CHECK_EQ_INT(openapi_convert(d, &o, &api, err, sizeof(err)), 0);
  CHECK(api.n_warnings == 1 && strstr(api.warnings[0], "components only") != NULL);
  openapi_free(&api);
  json_decref(d);
  /* 3.0 still needs them. */
  d = J("{'openapi':'3.0.3','webhooks':{}}");
  CHECK_EQ_INT(openapi_convert(d, &o, &api, err, sizeof(err)), -EINVAL);
  json_decref(d);
}

/* ---- issue 16: parameters, bodies that are not JSON, outputs ---------------------------- */

static void test_param_rules(void) {
  const char *paths =
      "{'/repos/{owner}/contents/{path}':{'get':{'operationId':'contents','parameters':["
      "  {'name':'owner','in':'path','required':true,'schema':{'type':'string'}},"
      "  {'name':'path','in':'path','required':true,'x-multi-segment':true,"
      "   'schema':{'type':'string'}},"
      "  {'name':'q','in':'query','allowReserved':true,'schema':{'type':'string'}}],"
      "  'responses':{}}},"
      "'/{rest}':{'get':{'operationId':'rest','parameters':[{'name':'rest','in':'path',"
      "  'required':true,'x-multi-segment':true,'schema':{'type':'string'}}],'responses':{}}},"
      "'/r/{v}':{'get':{'operationId':'reserved','parameters':[{'name':'v','in':'path',"
      "  'required':true,'allowReserved':true,'schema':{'type':'string'}}],'responses':{}}},"
      "'/shared/{id}':{'parameters':["
      "   {'name':'id','in':'path','required':true,'schema':{'type':'integer'}},"
      "   {'name':'limit','in':'query','description':'path level','schema':{'type':'integer'}}],"
      " 'get':{'operationId':'shared_get','parameters':[{'name':'limit','in':'query',"
      "   'description':'op level','schema':{'type':'string'}}],'responses':{}},"
      " 'post':{'operationId':'shared_post','requestBody':{'content':{"
      "   'application/vnd.api+json':{'schema':{'type':'object','properties':{"
      "   'data':{'type':'object'}}}}}},'responses':{}}},"
      "'/same':{'post':{'operationId':'same','parameters':["
      "   {'name':'id','in':'query','required':true,'schema':{'type':'string'},"
      "    'description':'The id'},"
      "   {'name':'n','in':'query','schema':{'type':'integer'}}],"
      "  'requestBody':{'required':true,'content':{'application/json':{'schema':{"
      "   'type':'object','properties':{'id':{'type':'string','title':'Id'},"
      "   'n':{'type':'string'},'other':{'type':'boolean'}},'required':['id','n']}}}},"
      "  'responses':{}}}}";
  oa_api api;
  const oa_operation *op;
  CHECK_EQ_INT(convert("3.0.3", paths, "{}", NULL, &api), 0);

  /* x-multi-segment keeps '/', nothing else; the others still encode it. */
  op = op_named(&api, "contents");
  CHECK_EQ_INT(param_of(op, "path")->keep, OA_KEEP_SLASH);
  CHECK_EQ_INT(param_of(op, "owner")->keep, OA_KEEP_NONE);
  CHECK_EQ_INT(param_of(op, "q")->keep, OA_KEEP_RESERVED);
  CHECK_EQ_STR(build(&api, "contents", "{'owner':'a/b','path':'docs/sub dir/x.md'}", ""),
               "GET /repos/a%2Fb/contents/docs/sub%20dir/x.md");
  /* Never out of its place: no dot segments, no '?' or '#'. */
  CHECK_EQ_STR(build(&api, "contents", "{'owner':'o','path':'a/../../admin'}", ""),
               "error: path parameter values may not make a \".\" or \"..\" segment");
  CHECK_EQ_STR(build(&api, "contents", "{'owner':'o','path':'./x'}", ""),
               "error: path parameter values may not make a \".\" or \"..\" segment");
  CHECK_EQ_STR(build(&api, "contents", "{'owner':'o','path':'a/b?x=1#f'}", ""),
               "GET /repos/o/contents/a/b%3Fx%3D1%23f");
  CHECK_EQ_STR(build(&api, "rest", "{'rest':'/evil.example/x'}", ""),
               "error: path parameter values may not start the path with \"//\"");
  CHECK_EQ_STR(build(&api, "rest", "{'rest':'a/b'}", "/api"), "GET /api/a/b");
  /* allowReserved: sub-delims, ':', '@', '/' kept; '?', '#', '[', ']', '%' not. In a
   * query '&', '=' and '+' stay encoded too (they would make other parameters). */
  CHECK_EQ_STR(build(&api, "reserved", "{'v':'a:b@c!$&\\u0027()*+,;=/d?e#f[g]%'}", ""),
               "GET /r/a:b@c!$&'()*+,;=/d%3Fe%23f%5Bg%5D%25");
  CHECK_EQ_STR(build(&api, "contents", "{'owner':'o','path':'p','q':'a/b?c:d&e=f+g#h'}", ""),
               "GET /repos/o/contents/p?q=a/b?c:d%26e%3Df%2Bg%23h");

  /* Path-level parameters: shared by both operations, overridden by the operation's
   * parameter of the same name and place. */
  op = op_named(&api, "shared_get");
  CHECK_JSON(op->input_schema, "{'type':'object','properties':{'id':{'type':'integer'},"
                               "'limit':{'type':'string','description':'op level'}},"
                               "'required':['id']}");
  op = op_named(&api, "shared_post");
  CHECK_JSON(prop(op, "limit"), "{'type':'integer','description':'path level'}");
  /* An application/...+json body is JSON, sent with its own media type. */
  CHECK_EQ_INT(op->body, OA_BODY_JSON);
  CHECK_EQ_STR(op->content_type, "application/vnd.api+json");
  CHECK_EQ_STR(build(&api, "shared_post", "{'id':3,'limit':2,'data':{'a':1}}", ""),
               "POST /shared/3?limit=2");
  CHECK_EQ_STR(header(0), "Content-Type: application/vnd.api+json");
  CHECK_EQ_STR(last_req.body, "{\"data\":{\"a\":1}}");

  /* The same parameter in the query and the body is one argument, sent to both; a
   * different one of the same name (integer and string) is renamed. */
  op = op_named(&api, "same");
  CHECK_JSON(op->input_schema,
             "{'type':'object','properties':{'id':{'type':'string','description':'The id'},"
             "'n__query':{'type':'integer'},'n':{'type':'string'},'other':{'type':'boolean'}},"
             "'required':['id','n']}");
  CHECK(has_warning(&api, "POST /same: query parameter n is argument n__query"));
  CHECK_EQ_STR(build(&api, "same", "{'id':'x y','n__query':1,'n':'2'}", ""),
               "POST /same?id=x%20y&n=1");
  CHECK_EQ_STR(last_req.body, "{\"id\":\"x y\",\"n\":\"2\"}");
  CHECK_EQ_STR(build(&api, "same", "{'n':'2'}", ""), "error: missing required argument \"id\"");
  oa_request_free(&last_req);
  openapi_free(&api);
}

static void test_server_variables(void) {
  const char *text =
      "{'openapi':'3.1.0','info':{'title':'S','version':'1'},"
      "'servers':[{'url':'https://{region}.api.test/{version}','variables':{"
      "  'region':{'default':'us','enum':['us','eu']},'version':{'default':'v1'},"
      "  'bad':{'enum':['x']}}},{'url':'https://other.test'}],"
      "'paths':{'/items':{'get':{'operationId':'items','responses':{}}},"
      "'/special':{'servers':[{'url':'http://{h}:8080','variables':{'h':{'default':'localhost',"
      "  'enum':['localhost','127.0.0.1']}}}],"
      "  'get':{'operationId':'special','responses':{}},"
      "  'post':{'operationId':'own','servers':[{'url':'/relative'}],'responses':{}}}}}";
  json_t *d = J(text), *args;
  oa_options o = opts();
  json_t *over = J("{'version':'v2','nope':'x'}");
  oa_api api;
  char err[256], *url;
  const oa_operation *op;

  o.server_args = 1;
  o.server_variables = over;
  CHECK_EQ_INT(openapi_convert(d, &o, &api, err, sizeof(err)), 0);
  op = op_named(&api, "items");
  /* Defaults, with the settings' value in place of one; an enum variable is an
   * optional argument, a variable without choices is not. */
  CHECK_JSON(op->server, "{'url':'https://{region}.api.test/{version}','variables':{"
                         "'region':{'default':'us','enum':['us','eu']},"
                         "'version':{'default':'v2'}}}");
  CHECK_JSON(json_object_get(prop(op, "server_region"), "enum"), "['us','eu']");
  CHECK_EQ_STR(json_string_value(json_object_get(prop(op, "server_region"), "default")), "us");
  CHECK(prop(op, "server_version") == NULL);
  CHECK(json_object_get(op->input_schema, "required") == NULL);
  CHECK_EQ_INT(param_of(op, "server_region")->in, OA_SERVER);
  CHECK(has_warning(&api, "server_variables: nope is not a variable"));
  CHECK(has_warning(&api, "server variable bad has no usable string default"));
  CHECK_EQ_INT(oa_server_url(op, NULL, &url, err, sizeof(err)), 0);
  CHECK_EQ_STR(url, "https://us.api.test/v2");
  free(url);
  args = J("{'server_region':'eu'}");
  CHECK_EQ_INT(oa_server_url(op, args, &url, err, sizeof(err)), 0);
  CHECK_EQ_STR(url, "https://eu.api.test/v2");
  free(url);
  json_decref(args);
  /* A value that is not a choice is not used (the input schema refuses it). */
  args = J("{'server_region':'evil.test/x'}");
  CHECK_EQ_INT(oa_server_url(op, args, &url, err, sizeof(err)), 0);
  CHECK_EQ_STR(url, "https://us.api.test/v2");
  free(url);
  json_decref(args);
  /* The server argument goes nowhere else in the request. */
  CHECK_EQ_STR(build(&api, "items", "{'server_region':'eu'}", ""), "GET /items");
  /* The path item's servers, then the operation's, win over the document's. */
  op = op_named(&api, "special");
  args = J("{'server_h':'127.0.0.1'}");
  CHECK_EQ_INT(oa_server_url(op, args, &url, err, sizeof(err)), 0);
  CHECK_EQ_STR(url, "http://127.0.0.1:8080");
  free(url);
  json_decref(args);
  op = op_named(&api, "own");
  CHECK_EQ_INT(oa_server_url(op, NULL, &url, err, sizeof(err)), 0);
  CHECK_EQ_STR(url, "/relative");
  free(url);
  CHECK(prop(op, "server_h") == NULL);
  openapi_free(&api);

  /* Without server_args (a base_url decides): no arguments; a value outside the
   * choices from the settings is used, with a warning. */
  json_decref(over);
  over = J("{'region':'ap'}");
  o.server_args = 0;
  o.server_variables = over;
  CHECK_EQ_INT(openapi_convert(d, &o, &api, err, sizeof(err)), 0);
  op = op_named(&api, "items");
  CHECK(prop(op, "server_region") == NULL);
  CHECK(has_warning(&api, "server_variables: region=ap is not one of the document's choices"));
  CHECK_EQ_INT(oa_server_url(op, NULL, &url, err, sizeof(err)), 0);
  CHECK_EQ_STR(url, "https://ap.api.test/v1");
  free(url);
  openapi_free(&api);
  json_decref(over);
  json_decref(d);

  /* A document server without a URL: said once, not per operation. */
  d = J("{'openapi':'3.0.3','info':{'title':'S','version':'1'},'servers':[{}],'paths':{"
        "'/a':{'get':{'responses':{}}},'/b':{'get':{'responses':{}}}}}");
  o = opts();
  CHECK_EQ_INT(openapi_convert(d, &o, &api, err, sizeof(err)), 0);
  {
    size_t k, said = 0;
    for (k = 0; k < api.n_warnings; k++)
      said += strstr(api.warnings[k], "servers[0]: servers[0] has no \"url\"") != NULL;
    CHECK_EQ_INT(said, 1);
  }
  CHECK(api.n_ops == 2 && api.ops[0].server == NULL && api.ops[1].server == NULL);
  openapi_free(&api);
  json_decref(d);

  /* No servers at all. */
  CHECK_EQ_INT(
      convert("3.0.3", "{'/x':{'get':{'operationId':'x','responses':{}}}}", "{}", NULL, &api), 0);
  op = op_named(&api, "x");
  CHECK(op->server == NULL);
  CHECK_EQ_INT(oa_server_url(op, NULL, &url, err, sizeof(err)), -ENOENT);
  CHECK(url == NULL);
  openapi_free(&api);
  oa_request_free(&last_req);
}

/* Whether last_req's body holds the n bytes at s. */
static int body_has(const char *s, size_t n) {
  size_t i;
  for (i = 0; last_req.body != NULL && i + n <= last_req.body_len; i++) {
    if (memcmp(last_req.body + i, s, n) == 0)
      return 1;
  }
  return 0;
}

/* The multipart body of last_req with its boundary replaced by "B". */
static const char *multipart_text(void) {
  static char out[4096];
  const char *ct = NULL, *b;
  size_t i, j = 0, blen;
  for (i = 0; i < last_req.n_headers; i++) {
    if (strncmp(last_req.headers[i], "Content-Type: multipart/form-data; boundary=", 44) == 0)
      ct = last_req.headers[i];
  }
  if (ct == NULL || last_req.body == NULL)
    return "(no multipart body)";
  b = ct + 44;
  blen = strlen(b);
  for (i = 0; i < last_req.body_len && j + 2 < sizeof(out);) {
    if (i + blen <= last_req.body_len && memcmp(last_req.body + i, b, blen) == 0) {
      out[j++] = 'B';
      i += blen;
    } else {
      out[j++] = last_req.body[i++];
    }
  }
  out[j] = '\0';
  return out;
}

/* Files given by resource URI: finding them, and what a read gives to send. */
static void test_file_uris(const oa_operation *op) {
  json_t *args = J("{'title':'t','file':{'content_base64':'aGk='},"
                   "'more':[{'content_base64':'AA=='},{'uri':'test://dir/a%20b.txt?v=1',"
                   "'mime_type':'text/csv'},{'uri':'test://x/','filename':'f.bin'}]}");
  json_t *file = NULL, *out = NULL, *res;
  const char *arg = NULL;
  char err[300];
  size_t bytes;

  /* The first one given by URI, borrowed from args. */
  CHECK_EQ_INT(oa_file_uri_next(op, args, &file, &arg, err, sizeof(err)), 1);
  CHECK_EQ_STR(arg, "more");
  CHECK(file == json_array_get(json_object_get(args, "more"), 1));
  /* A text: its UTF-8 bytes; the URI's last segment, decoded; the mime_type given wins. */
  res = J("{'contents':[{'uri':'test://dir/a%20b.txt','mimeType':'text/plain',"
          "'text':'caf\u00e9'}]}");
  CHECK_EQ_INT(oa_file_from_contents(arg, file, res, 100, &out, &bytes, err, sizeof(err)), 0);
  CHECK_JSON(out, "{'content_base64':'Y2Fmw6k=','filename':'a b.txt','mime_type':'text/csv'}");
  CHECK_EQ_INT(bytes, 5);
  /* More than the bytes left: refused, naming the resource. */
  json_decref(out);
  CHECK_EQ_INT(oa_file_from_contents(arg, file, res, 4, &out, &bytes, err, sizeof(err)), -E2BIG);
  CHECK(out == NULL);
  CHECK_EQ_STR(err, "argument \"more\": resource test://dir/a%20b.txt?v=1 is 5 bytes, more than "
                    "the 4 bytes left for files read from resources in one call");
  json_decref(res);
  /* Replaced, the next one is found. */
  json_object_clear(file);
  json_object_set_new(file, "content_base64", json_string("AA=="));
  CHECK_EQ_INT(oa_file_uri_next(op, args, &file, &arg, err, sizeof(err)), 1);
  CHECK(file == json_array_get(json_object_get(args, "more"), 2));
  /* A blob: as it is (decoded when sent); its mimeType; the filename given. */
  res = J("{'contents':[{'uri':'test://x/','mimeType':'image/png','blob':'iVBO\\nRw=='}]}");
  CHECK_EQ_INT(oa_file_from_contents(arg, file, res, 100, &out, &bytes, err, sizeof(err)), 0);
  CHECK_JSON(out, "{'content_base64':'iVBO\\nRw==','filename':'f.bin','mime_type':'image/png'}");
  CHECK_EQ_INT(bytes, 4);
  json_decref(out);
  json_decref(res);
  /* No filename given and no last segment: none (the field's name is sent). */
  json_object_del(file, "filename");
  res = J("{'contents':[{'uri':'test://x/','blob':''}]}");
  CHECK_EQ_INT(oa_file_from_contents(arg, file, res, 100, &out, &bytes, err, sizeof(err)), 0);
  CHECK_JSON(out, "{'content_base64':''}");
  CHECK_EQ_INT(bytes, 0);
  json_decref(out);
  json_decref(res);
  /* What cannot be a file. */
  res = J("{'contents':[]}");
  CHECK_EQ_INT(oa_file_from_contents(arg, file, res, 100, &out, &bytes, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "argument \"more\": resource test://x/ has 0 contents; a file is one");
  json_decref(res);
  res = J("{'contents':[{'uri':'test://x/','blob':'a*=='}]}");
  CHECK_EQ_INT(oa_file_from_contents(arg, file, res, 100, &out, &bytes, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "argument \"more\": resource test://x/ has a blob that is not base64");
  json_decref(res);
  res = J("{'contents':[{'uri':'test://x/'}]}");
  CHECK_EQ_INT(oa_file_from_contents(arg, file, res, 100, &out, &bytes, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "argument \"more\": resource test://x/ has neither text nor blob");
  json_decref(res);
  /* Both forms in one file; then none left. */
  json_object_set_new(file, "content_base64", json_string("AA=="));
  CHECK_EQ_INT(oa_file_uri_next(op, args, &file, &arg, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "argument \"more\": give content_base64 or uri, not both");
  json_object_del(file, "uri");
  CHECK_EQ_INT(oa_file_uri_next(op, args, &file, &arg, err, sizeof(err)), 0);
  json_decref(args);
}

static void test_bodies_not_json(void) {
  const char *paths =
      "{'/upload':{'post':{'operationId':'upload','requestBody':{'required':true,'content':{"
      "  'multipart/form-data':{'schema':{'type':'object','properties':{"
      "   'title':{'type':'string'},'count':{'type':'integer'},"
      "   'tags':{'type':'array','items':{'type':'string'}},"
      "   'meta':{'type':'object','properties':{'k':{'type':'string'}}},"
      "   'file':{'type':'string','format':'binary','description':'The document'},"
      "   'more':{'type':'array','items':{'type':'string','format':'binary'}}},"
      "   'required':['file']}}}},'responses':{}}},"
      "'/avatar':{'put':{'operationId':'avatar','requestBody':{'content':{"
      "  'multipart/form-data':{'schema':{'type':'object','properties':{"
      "   'img':{'type':'string','contentMediaType':'image/png'},"
      "   'b64text':{'type':'string','contentEncoding':'base64'}}}}}},'responses':{}}},"
      "'/blob':{'post':{'operationId':'blob','requestBody':{'required':true,'content':{"
      "  'application/octet-stream':{'schema':{'type':'string','format':'binary'}}}},"
      "  'responses':{}}},"
      "'/note':{'post':{'operationId':'note','requestBody':{'required':true,"
      "  'description':'The note','content':{'text/plain':{'schema':{'type':'string'}}}},"
      "  'responses':{}}},"
      "'/prefer':{'post':{'operationId':'prefer','requestBody':{'content':{"
      "  'application/xml':{},'application/json':{'schema':{'type':'object','properties':{"
      "  'a':{'type':'integer'}}}}}},'responses':{}}},"
      "'/xml':{'post':{'operationId':'xml','requestBody':{'content':{'application/xml':{}}},"
      "  'responses':{}}},"
      "'/mixed':{'post':{'operationId':'mixed','requestBody':{'content':{"
      "  'multipart/mixed':{'schema':{'type':'object'}}}},'responses':{}}},"
      "'/img':{'post':{'operationId':'img','requestBody':{'content':{'image/*':{}}},"
      "  'responses':{}}},"
      "'/any':{'post':{'operationId':'anything','requestBody':{'content':{'*/*':{}}},"
      "  'responses':{}}}}";
  oa_api api;
  const oa_operation *op;
  CHECK_EQ_INT(convert("3.1.0", paths, "{}", NULL, &api), 0);

  /* multipart/form-data: fields are parts; files take base64 in an object. */
  op = op_named(&api, "upload");
  CHECK_EQ_INT(op->body, OA_BODY_MULTIPART);
  CHECK_EQ_STR(op->content_type, "multipart/form-data");
  CHECK_EQ_INT(param_of(op, "file")->file, 1);
  CHECK_EQ_INT(param_of(op, "more")->file, 2);
  CHECK_EQ_INT(param_of(op, "title")->file, 0);
  CHECK_JSON(json_object_get(prop(op, "file"), "properties"),
             "{'content_base64':{'type':'string','contentEncoding':'base64'},"
             "'uri':{'type':'string'},'filename':{'type':'string'},'mime_type':{'type':'string'}}");
  /* Exactly one of content_base64 and uri: the plugin says which is wrong (a tool error),
   * so the schema requires neither. */
  CHECK(json_object_get(prop(op, "file"), "required") == NULL);
  CHECK(strstr(json_string_value(json_object_get(prop(op, "file"), "description")),
               "The document\n\nA file: {\"content_base64\"") != NULL);
  CHECK_JSON(json_object_get(op->input_schema, "required"), "['file']");
  CHECK(json_object_get(json_object_get(json_object_get(prop(op, "more"), "items"), "properties"),
                        "content_base64") != NULL);
  CHECK_EQ_STR(build(&api, "upload",
                     "{'title':'Q3 \\\"report\\\"','count':2,'tags':['a','b'],'meta':{'k':'v'},"
                     "'file':{'content_base64':'aGVsbG8=','filename':'r.txt',"
                     "'mime_type':'text/plain'},"
                     "'more':[{'content_base64':'AAEC'},{'content_base64':'//8'}]}",
                     ""),
               "POST /upload");
  CHECK_EQ_STR(multipart_text(),
               "--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nQ3 \"report\"\r\n"
               "--B\r\nContent-Disposition: form-data; name=\"count\"\r\n\r\n2\r\n"
               "--B\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\na\r\n"
               "--B\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nb\r\n"
               "--B\r\nContent-Disposition: form-data; name=\"meta\"\r\n"
               "Content-Type: application/json\r\n\r\n{\"k\":\"v\"}\r\n"
               "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.txt\"\r\n"
               "Content-Type: text/plain\r\n\r\nhello\r\n"
               "--B\r\nContent-Disposition: form-data; name=\"more\"; filename=\"more\"\r\n"
               "Content-Type: application/octet-stream\r\n\r\n\x00\x01\x02\r\n"
               "--B\r\nContent-Disposition: form-data; name=\"more\"; filename=\"more\"\r\n"
               "Content-Type: application/octet-stream\r\n\r\n\xff\xff\r\n--B--\r\n");
  /* (The check above stops at the NUL: the bytes after it are checked here.) */
  CHECK(body_has("\r\n\r\n\x00\x01\x02\r\n--", 10));
  CHECK(body_has("\r\n\r\n\xff\xff\r\n--mcpd-", 14));
  CHECK(body_has("\r\n--mcpd-", 9) && !body_has("\x00\x01\x02\x00", 4));
  CHECK(strncmp(header(0), "Content-Type: multipart/form-data; boundary=mcpd-", 49) == 0);
  /* Bad input is refused, never sent half. */
  CHECK_EQ_STR(build(&api, "upload", "{'file':{'content_base64':'not base64!'}}", ""),
               "error: argument \"file\": content_base64 is not base64");
  CHECK_EQ_STR(build(&api, "upload",
                     "{'file':{'content_base64':'aGk=','mime_type':'text/plain\\r\\nX: 1'}}", ""),
               "error: argument \"file\": mime_type \"text/plain\r\nX: 1\" is not a media type");
  /* A file name with a quote or a line break cannot break out of its header. */
  CHECK_EQ_STR(
      build(&api, "upload", "{'file':{'content_base64':'aGk=','filename':'a\\\"\\r\\nb'}}", ""),
      "POST /upload");
  CHECK(strstr(multipart_text(), "filename=\"a%22%0D%0Ab\"\r\n") != NULL);
  /* A file given by resource URI must be read first; never both forms, never neither. */
  CHECK_EQ_STR(build(&api, "upload", "{'file':{'uri':'test://x'}}", ""),
               "error: argument \"file\": this mcpd cannot read resources for a file; give "
               "content_base64");
  CHECK_EQ_STR(build(&api, "upload", "{'file':{'uri':'test://x','content_base64':'aGk='}}", ""),
               "error: argument \"file\": give content_base64 or uri, not both");
  CHECK_EQ_STR(build(&api, "upload", "{'file':{}}", ""),
               "error: argument \"file\": a file is {\"content_base64\": \"...\"} or "
               "{\"uri\": \"...\"}");
  test_file_uris(op_named(&api, "upload"));
  /* 3.1: contentMediaType is a file; contentEncoding base64 is text. */
  op = op_named(&api, "avatar");
  CHECK_EQ_INT(param_of(op, "img")->file, 1);
  CHECK_EQ_INT(param_of(op, "b64text")->file, 0);
  CHECK_EQ_STR(build(&api, "avatar", "{}", ""), "PUT /avatar");
  CHECK(last_req.body == NULL);

  /* application/octet-stream: base64 in "body", bytes on the wire. */
  op = op_named(&api, "blob");
  CHECK_EQ_INT(op->body, OA_BODY_BINARY);
  CHECK_JSON(op->input_schema,
             "{'type':'object','properties':{'body':{'type':'string','contentEncoding':'base64',"
             "'description':'The request body (application/octet-stream): its bytes in "
             "base64.'}},'required':['body']}");
  CHECK_EQ_STR(build(&api, "blob", "{'body':'AAEC/w=='}", ""), "POST /blob");
  CHECK_EQ_INT(last_req.body_len, 4);
  CHECK(memcmp(last_req.body, "\x00\x01\x02\xff", 4) == 0);
  CHECK_EQ_STR(header(0), "Content-Type: application/octet-stream");
  CHECK_EQ_STR(build(&api, "blob", "{'body':'AAE*'}", ""),
               "error: argument \"body\" is not base64");
  CHECK_EQ_STR(build(&api, "blob", "{}", ""), "error: missing required argument \"body\"");
  /* text/plain: the text as it is. */
  op = op_named(&api, "note");
  CHECK_EQ_INT(op->body, OA_BODY_TEXT);
  CHECK_JSON(prop(op, "body"), "{'type':'string','description':'The note\\n\\nThe request body "
                               "(text/plain), as text.'}");
  CHECK_EQ_STR(build(&api, "note", "{'body':'caf\\u00e9 {not json}'}", ""), "POST /note");
  CHECK_EQ_STR(last_req.body, "caf\xc3\xa9 {not json}");
  CHECK_EQ_STR(header(0), "Content-Type: text/plain");
  /* JSON is preferred when there is a choice; XML alone is text. */
  CHECK_EQ_INT(op_named(&api, "prefer")->body, OA_BODY_JSON);
  CHECK_EQ_INT(op_named(&api, "xml")->body, OA_BODY_TEXT);
  CHECK_EQ_STR(op_named(&api, "xml")->content_type, "application/xml");
  CHECK_EQ_INT(op_named(&api, "anything")->body, OA_BODY_BINARY);
  CHECK_EQ_STR(op_named(&api, "anything")->content_type, "application/octet-stream");
  /* What cannot be sent gets no tool (even when optional), and a warning naming it. */
  CHECK(find_op(&api, "mixed") == NULL);
  CHECK(find_op(&api, "img") == NULL);
  CHECK(has_warning(&api, "POST /mixed: the request body is multipart/mixed, which mcpd cannot "
                          "send"));
  CHECK(has_warning(&api, "POST /img: the request body is image/*"));
  CHECK_EQ_INT(api.n_ops, 7);
  oa_request_free(&last_req);
  openapi_free(&api);
}

static void test_output_check(void) {
  json_t *s = J("{'type':'object','properties':{'id':{'type':'integer','minimum':1},"
                "'name':{'type':'string','minLength':2,'maxLength':3},"
                "'tags':{'type':'array','items':{'type':'string'},'uniqueItems':true},"
                "'when':{'type':'string','format':'date-time'},"
                "'code':{'type':'string','pattern':'^[A-Z]\\\\d{2}$'},"
                "'kind':{'enum':['a','b',null]},"
                "'child':{'anyOf':[{'$ref':'#/$defs/Node'},{'type':'null'}]},"
                "'one':{'oneOf':[{'type':'integer'},{'type':'number','minimum':10}]}},"
                "'required':['id'],'additionalProperties':false,"
                "'$defs':{'Node':{'type':'object','properties':{'v':{'type':'string'}},"
                "'required':['v']}}}");
  static const char *const good[] = {
      "{'id':1}",
      "{'id':2.0,'name':'\\u00e9\\u00e9\\u00e9'}",
      "{'id':1,'tags':['a','b'],'when':'2024-02-29T23:59:59.5+01:00','code':'A12'}",
      "{'id':1,'kind':null,'child':{'v':'x'},'one':5}",
      "{'id':1,'child':null,'one':10.5}",
  };
  static const char *const bad[] = {
      "{}",
      "{'id':0}",
      "{'id':1.5}",
      "{'id':'1'}",
      "{'id':1,'extra':1}",
      "{'id':1,'name':'abcd'}",
      "{'id':1,'tags':['a','a']}",
      "{'id':1,'when':'2023-02-29T00:00:00Z'}",
      "{'id':1,'when':'2024-01-01T00:00:00'}",
      "{'id':1,'when':'2024-01-01T23:59:60Z'}",
      "{'id':1,'code':'a12'}",
      "{'id':1,'kind':'c'}",
      "{'id':1,'child':{'w':1}}",
      "{'id':1,'one':12}",
      "[1]",
  };
  size_t i;
  for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    json_t *v = J(good[i]);
    if (!oa_check(s, v))
      fprintf(stderr, "  should match: %s\n", good[i]);
    CHECK(oa_check(s, v));
    json_decref(v);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    json_t *v = J(bad[i]);
    if (oa_check(s, v))
      fprintf(stderr, "  should not match: %s\n", bad[i]);
    CHECK(!oa_check(s, v));
    json_decref(v);
  }
  json_decref(s);
  /* What it cannot decide is a mismatch: a lookahead, an unknown reference. */
  {
    json_t *p = J("{'type':'string','pattern':'^(?=a)'}"), *r = J("{'$ref':'#/$defs/Nope'}");
    json_t *v = J("'abc'");
    CHECK(!oa_check(p, v));
    CHECK(!oa_check(r, v));
    CHECK(oa_check(json_true(), v));
    json_decref(p);
    json_decref(r);
    json_decref(v);
  }
}

static void test_output_results(void) {
  oa_api api;
  const oa_operation *item, *list;
  oa_result_opts ro = {1, 0, NULL};
  int mismatch = 0;
  json_t *r;
  oa_options o = opts();
  CHECK_EQ_INT(convert("3.1.0", FASTAPI_PATHS, FASTAPI_COMPONENTS, NULL, &api), 0);
  item = op_named(&api, "read_item");
  list = op_named(&api, "list_items");
  ro.mismatch = &mismatch;
  /* A matching answer: structured, no flag. */
  r = oa_result(item, 200, "application/json", "{\"item_id\":1,\"name\":\"a\",\"price\":null}",
                strlen("{\"item_id\":1,\"name\":\"a\",\"price\":null}"), &ro);
  CHECK(json_object_get(r, "structuredContent") != NULL);
  CHECK(json_is_false(json_object_get(r, "isError")));
  CHECK_EQ_INT(mismatch, 0);
  json_decref(r);
  /* One that does not match: the JSON as text, a note, isError (so a client that
   * checks does not throw), no structuredContent, and the flag for the log. */
  r = oa_result(item, 200, "application/json", "{\"item_id\":\"one\",\"name\":\"a\"}",
                strlen("{\"item_id\":\"one\",\"name\":\"a\"}"), &ro);
  CHECK(json_object_get(r, "structuredContent") == NULL);
  CHECK(json_is_true(json_object_get(r, "isError")));
  CHECK_EQ_STR(text_of(r), "{\"item_id\":\"one\",\"name\":\"a\"}");
  CHECK_EQ_INT(json_array_size(json_object_get(r, "content")), 2);
  CHECK_EQ_INT(mismatch, 1);
  json_decref(r);
  mismatch = 0;
  r = oa_result(list, 200, "application/json", "[{\"name\":\"no id\"}]",
                strlen("[{\"name\":\"no id\"}]"), &ro);
  CHECK(json_object_get(r, "structuredContent") == NULL);
  CHECK_EQ_INT(mismatch, 1);
  json_decref(r);
  /* Sessions without structured content never check. */
  mismatch = 0;
  ro.structured = 0;
  r = oa_result(item, 200, "application/json", "{\"item_id\":\"one\"}",
                strlen("{\"item_id\":\"one\"}"), &ro);
  CHECK(json_is_false(json_object_get(r, "isError")));
  CHECK_EQ_INT(mismatch, 0);
  json_decref(r);
  openapi_free(&api);

  /* output_schemas: false and read_only: true. */
  o.no_output_schemas = 1;
  o.read_only = 1;
  CHECK_EQ_INT(convert("3.1.0", FASTAPI_PATHS, FASTAPI_COMPONENTS, &o, &api), 0);
  CHECK(find_op(&api, "read_item") != NULL && find_op(&api, "read_item")->output_schema == NULL);
  CHECK(find_op(&api, "list_items") != NULL && find_op(&api, "list_items")->output_schema == NULL);
  CHECK(find_op(&api, "update_item") == NULL);
  CHECK(find_op(&api, "add_category") == NULL);
  CHECK(find_op(&api, "make_a_plain_thing") == NULL);
  CHECK_EQ_INT(api.n_ops, 5);
  openapi_free(&api);
}

int main(void) {
  RUN(test_names);
  RUN(test_long_names);
  RUN(test_annotations);
  RUN(test_fastapi_schemas);
  RUN(test_recursive);
  RUN(test_openapi30_conversion);
  RUN(test_params_and_bodies);
  RUN(test_outputs);
  RUN(test_filters);
  RUN(test_resources);
  RUN(test_malformed);
  RUN(test_requests);
  RUN(test_results);
  RUN(test_contents);
  RUN(test_security_scopes);
  RUN(test_reserved_headers);
  RUN(test_oauth_cc);
  RUN(test_swagger2);
  RUN(test_no_paths);
  RUN(test_param_rules);
  RUN(test_server_variables);
  RUN(test_bodies_not_json);
  RUN(test_output_check);
  RUN(test_output_results);
  RUN(test_fuzz);
  RUN(test_out_of_memory);
  TEST_MAIN_END();
}
