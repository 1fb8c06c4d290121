/* test_oa_yaml.c -- unit tests for how http_backend reads documents: YAML
 * (plugins/http_backend/oa_yaml.c: how scalars resolve, keys, anchors and
 * their bound, what is refused) and Swagger 2.0 (oa_swagger2.c: the OpenAPI
 * 3.0 document it becomes, and its warnings). Built with just those modules
 * and the converter's context helpers; test_openapi.c runs Swagger 2.0
 * documents through the whole converter. */
#define _POSIX_C_SOURCE 200809L
#include "oa_yaml.h"
#include "openapi_internal.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>

/* Parses text; returns the value (owned) or NULL, with the code in *rc and
 * the message in err. */
static json_t *Y(const char *text, int *rc, char *err, size_t n) {
  json_t *v = NULL;
  *rc = oa_yaml_parse(text, strlen(text), &v, err, n);
  return v;
}

/* The compact JSON text of the YAML text, or "ERR <code>: <message>". */
static char *yjson(const char *text) {
  char err[300], *s;
  int rc;
  json_t *v = Y(text, &rc, err, sizeof(err));
  if (v == NULL) {
    s = malloc(strlen(err) + 32);
    if (s != NULL)
      sprintf(s, "ERR %d: %s", rc, err);
    return s;
  }
  s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(v);
  return s;
}

#define CHECK_YAML(text, want)                                                                     \
  do {                                                                                             \
    char *got_ = yjson(text);                                                                      \
    CHECK_EQ_STR(got_, want);                                                                      \
    free(got_);                                                                                    \
  } while (0)

static void test_scalars(void) {
  /* YAML 1.2 core: null, booleans, numbers... */
  CHECK_YAML("[~, null, Null, NULL, ]", "[null,null,null,null]");
  CHECK_YAML("a:\nb: ~", "{\"a\":null,\"b\":null}");
  CHECK_YAML("[true, True, TRUE, false, False, FALSE]", "[true,true,true,false,false,false]");
  CHECK_YAML("[0, -7, +12, 007, 0o17, 0x1F, 0xff]", "[0,-7,12,7,15,31,255]");
  CHECK_YAML("[1.5, -0.25, .5, 1., 1e3, 2.5E-1, +1.0]", "[1.5,-0.25,0.5,1.0,1000.0,0.25,1.0]");
  /* ... and everything YAML 1.1 would have read otherwise stays a string. */
  CHECK_YAML("[on, off, yes, no, On, Y, n]", "[\"on\",\"off\",\"yes\",\"no\",\"On\",\"Y\",\"n\"]");
  CHECK_YAML("[2020-01-01, 2001-12-14t21:59:43.10-05:00, 12:30:00, 1_000, 0b101, 010:20]",
             "[\"2020-01-01\",\"2001-12-14t21:59:43.10-05:00\",\"12:30:00\",\"1_000\","
             "\"0b101\",\"010:20\"]");
  CHECK_YAML("[.inf, -.Inf, .nan, 1e999, 0x, 0o8, 1.2.3, 3.0.3]",
             "[\".inf\",\"-.Inf\",\".nan\",\"1e999\",\"0x\",\"0o8\",\"1.2.3\",\"3.0.3\"]");
  CHECK_YAML("[nULL, tRUE, ~x]", "[\"nULL\",\"tRUE\",\"~x\"]");
  /* A decimal past long long is still a number, as JSON readers take it. */
  CHECK_YAML("18446744073709551615", "1.8446744073709552e19");
  /* Quoted and block scalars are strings, whatever they look like. */
  CHECK_YAML("['true', \"1\", '~', \"null\", \"\"]", "[\"true\",\"1\",\"~\",\"null\",\"\"]");
  CHECK_YAML("a: |\n  12\nb: >\n  true\n", "{\"a\":\"12\\n\",\"b\":\"true\\n\"}");
  /* Explicit tags. */
  CHECK_YAML("[!!str 12, !!str true, ! 3, !!int '42', !!float 2, !!bool \"false\", !!null '']",
             "[\"12\",\"true\",\"3\",42,2.0,false,null]");
  CHECK_YAML("!!int abc", "ERR -22: line 1: \"abc\" is not a valid !!int");
  CHECK_YAML("!custom 12", "12");
  /* Escapes and UTF-8. */
  CHECK_YAML("\"caf\\u00e9 \\t\"", "\"café \\t\"");
  CHECK_YAML("a: \"x\\0y\"", "ERR -22: line 1: a string holds a NUL byte (\\0), which mcpd does "
                             "not accept");
}

static void test_keys(void) {
  /* Keys are strings as written: responses' "200" is the key "200". */
  CHECK_YAML("200: ok\n404: missing\n", "{\"200\":\"ok\",\"404\":\"missing\"}");
  CHECK_YAML("true: 1\n~: 2\n1.50: 3\n0x10: 4\n'5': 5\n",
             "{\"true\":1,\"~\":2,\"1.50\":3,\"0x10\":4,\"5\":5}");
  CHECK_YAML("{a: 1, b: {c: [1, {d: e}]}}", "{\"a\":1,\"b\":{\"c\":[1,{\"d\":\"e\"}]}}");
  /* Document order is kept. */
  CHECK_YAML("z: 1\na: 2\nm: 3\n", "{\"z\":1,\"a\":2,\"m\":3}");
  CHECK_YAML("a: 1\nb: 2\na: 3\n", "ERR -22: line 3: duplicate key \"a\"");
  CHECK_YAML("x:\n  '200': a\n  200: b\n", "ERR -22: line 3: duplicate key \"200\"");
  CHECK_YAML("? [a, b]\n: c\n",
             "ERR -22: line 1: a mapping key must be a scalar (complex keys are not supported)");
  CHECK_YAML("? {a: 1}\n: c\n",
             "ERR -22: line 1: a mapping key must be a scalar (complex keys are not supported)");
  CHECK_YAML("\"a\\0b\": 1", "ERR -22: line 1: a string holds a NUL byte (\\0), which mcpd does "
                             "not accept");
}

static void test_anchors(void) {
  CHECK_YAML("a: &x {t: 1}\nb: *x\n", "{\"a\":{\"t\":1},\"b\":{\"t\":1}}");
  CHECK_YAML("a: &n 12\nb: [*n, *n]\n", "{\"a\":12,\"b\":[12,12]}");
  CHECK_YAML("- &k name\n- {*k : 1}\n", "[\"name\",{\"name\":1}]");
  CHECK_YAML("- &k 200\n- {*k : ok}\n", "[200,{\"200\":\"ok\"}]");
  /* A later anchor of the same name wins from there on. */
  CHECK_YAML("[&a 1, *a, &a 2, *a]", "[1,1,2,2]");
  /* Merge keys: the mapping's own keys win, earlier merges beat later ones. */
  CHECK_YAML(
      "base: &b {x: 1, y: 2}\nother: &o {y: 3, z: 4}\n"
      "m: {<<: [*b, *o], x: 9}\n",
      "{\"base\":{\"x\":1,\"y\":2},\"other\":{\"y\":3,\"z\":4},\"m\":{\"x\":9,\"y\":2,\"z\":4}}");
  CHECK_YAML("m: {x: 1, <<: {x: 2, w: 3}}", "{\"m\":{\"x\":1,\"w\":3}}");
  CHECK_YAML("m: {'<<': 1}", "{\"m\":{\"<<\":1}}");
  CHECK_YAML("m: {<<: 1}",
             "ERR -22: line 1: a merge key (<<) needs a mapping or a list of mappings");
  CHECK_YAML("a: *nowhere",
             "ERR -22: line 1: the alias *nowhere names no anchor before it (an alias inside the "
             "node it names would make a cycle)");
  /* A node cannot hold itself. */
  CHECK_YAML("a: &s [1, *s]",
             "ERR -22: line 1: the alias *s names no anchor before it (an alias inside the node "
             "it names would make a cycle)");
  CHECK_YAML("- &m [1]\n- {*m : 1}\n",
             "ERR -22: line 2: a mapping key must be a scalar, and *m is not");
}

/* A billion laughs: ten levels of ten aliases of the level below. */
static void test_alias_bound(void) {
  char *text = malloc(4096), err[300];
  json_t *v;
  size_t len = 0;
  int lvl, i, rc;
  const char *big;
  if (text == NULL)
    abort();
  len += (size_t)sprintf(text + len, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
  for (lvl = 1; lvl < 10; lvl++) {
    len += (size_t)sprintf(text + len, "l%d: &l%d [", lvl, lvl);
    for (i = 0; i < 10; i++)
      len += (size_t)sprintf(text + len, "%s*l%d", i ? ", " : "", lvl - 1);
    len += (size_t)sprintf(text + len, "]\n");
  }
  rc = oa_yaml_parse(text, len, &v, err, sizeof(err));
  CHECK_EQ_INT(rc, -E2BIG);
  CHECK(v == NULL);
  CHECK(strstr(err, "billion laughs") != NULL);
  /* Four levels (90,000 strings) stay within the bound: shared, not copied. */
  *strstr(text, "l5:") = '\0';
  rc = oa_yaml_parse(text, strlen(text), &v, err, sizeof(err));
  CHECK_EQ_INT(rc, 0);
  CHECK(json_array_get(json_object_get(v, "l4"), 0) == json_object_get(v, "l3"));
  json_decref(v);
  free(text);
  /* A big block used many times is fine when the document is big too. */
  big = "base: &b {a: 1, b: 2, c: 3}\nuse: [*b, *b, *b, *b, *b, *b, *b, *b]\n";
  CHECK_YAML(big, "{\"base\":{\"a\":1,\"b\":2,\"c\":3},\"use\":[{\"a\":1,\"b\":2,\"c\":3},"
                  "{\"a\":1,\"b\":2,\"c\":3},{\"a\":1,\"b\":2,\"c\":3},{\"a\":1,\"b\":2,\"c\":3},"
                  "{\"a\":1,\"b\":2,\"c\":3},{\"a\":1,\"b\":2,\"c\":3},{\"a\":1,\"b\":2,\"c\":3},"
                  "{\"a\":1,\"b\":2,\"c\":3}]}");
}

static void test_refused(void) {
  char err[300], *deep;
  json_t *v;
  int rc, i;
  CHECK_YAML("a: 1\n---\nb: 2\n",
             "ERR -22: line 2: a second YAML document (after \"---\"): one document only");
  CHECK_YAML("", "ERR -22: line 1: no YAML document in the text");
  CHECK_YAML("# only a comment\n", "ERR -22: line 2: no YAML document in the text");
  CHECK_YAML("---\na: 1\n...\n", "{\"a\":1}");
  v = Y("a: b: c", &rc, err, sizeof(err));
  CHECK(v == NULL);
  CHECK_EQ_INT(rc, -EINVAL);
  CHECK(strstr(err, "line 1: mapping values are not allowed") != NULL);
  v = Y("a:\n  - x\n y: 1\n", &rc, err, sizeof(err));
  CHECK(v == NULL && rc == -EINVAL && strncmp(err, "line ", 5) == 0);
  v = Y("a: \"\xff\"", &rc, err, sizeof(err));
  CHECK(v == NULL && rc == -EINVAL);
  /* Nesting is bounded (and costs no C stack). */
  deep = malloc(2 * 5000 + 1);
  if (deep == NULL)
    abort();
  for (i = 0; i < 5000; i++) {
    deep[i] = '[';
    deep[5000 + i] = ']';
  }
  deep[10000] = '\0';
  v = Y(deep, &rc, err, sizeof(err));
  CHECK(v == NULL);
  CHECK_EQ_STR(err, "line 1: nested deeper than 1000 levels");
  free(deep);
}

static void test_documents(void) {
  char err[400];
  json_t *v;
  const char *twin_yaml = "openapi: 3.1.0\ninfo: {title: t, version: '1.0'}\npaths: {}\n";
  const char *twin_json = "\xEF\xBB\xBF\n  {\"openapi\": \"3.1.0\", \"info\": {\"title\": \"t\", "
                          "\"version\": \"1.0\"}, \"paths\": {}}";
  json_t *a, *b;
  CHECK_EQ_INT(oa_yaml_parse_document(twin_yaml, strlen(twin_yaml), &a, err, sizeof(err)), 0);
  CHECK_EQ_INT(oa_yaml_parse_document(twin_json, strlen(twin_json), &b, err, sizeof(err)), 0);
  CHECK(a != NULL && b != NULL && json_equal(a, b));
  json_decref(a);
  json_decref(b);
  /* '{' first: JSON, and its errors are JSON's. */
  CHECK_EQ_INT(oa_yaml_parse_document("{openapi: 3.1.0}", 16, &v, err, sizeof(err)), -EINVAL);
  CHECK(strncmp(err, "the document is not JSON (it starts with '{'): ", 47) == 0);
  CHECK_EQ_INT(oa_yaml_parse_document("openapi: [", 10, &v, err, sizeof(err)), -EINVAL);
  CHECK(strncmp(err,
                "the document is not valid YAML (it does not start with '{', so it is read "
                "as YAML): line ",
                89) == 0);
  CHECK_EQ_INT(oa_yaml_parse_document("<!DOCTYPE html>\n<html>", 22, &v, err, sizeof(err)),
               -EINVAL);
  CHECK_EQ_STR(err, "the document is neither a JSON object nor a YAML mapping (it starts with "
                    "\"<!DOCTYPE html> <html>\")");
  CHECK_EQ_INT(oa_yaml_parse_document("[1]", 3, &v, err, sizeof(err)), -EINVAL);
  CHECK(v == NULL);
}

/* ---- Swagger 2.0 ------------------------------------------------------------------------ */

/* JSON text with ' for ". */
static json_t *J(const char *text) {
  char *buf = strdup(text), *q;
  json_error_t e;
  json_t *j;
  if (buf == NULL)
    abort();
  for (q = buf; *q; q++)
    *q = *q == '\'' ? '"' : *q;
  j = json_loads(buf, 0, &e);
  if (j == NULL) {
    fprintf(stderr, "bad test JSON (%s at %d)\n", e.text, e.position);
    abort();
  }
  free(buf);
  return j;
}

static json_t *YAML(const char *text) {
  char err[300];
  json_t *v = NULL;
  if (oa_yaml_parse_document(text, strlen(text), &v, err, sizeof(err)) != 0) {
    fprintf(stderr, "bad test YAML: %s\n", err);
    abort();
  }
  return v;
}

static const char SWAGGER_PETS[] =
    "swagger: 2.0\n"
    "info: {title: Pets, version: '1'}\n"
    "host: pets.example.com\n"
    "basePath: /v1\n"
    "schemes: [https, http]\n"
    "consumes: [application/json]\n"
    "produces: [application/json]\n"
    "securityDefinitions:\n"
    "  key: {type: apiKey, name: X-Key, in: header}\n"
    "  basic: {type: basic, description: users}\n"
    "  code: {type: oauth2, flow: accessCode, authorizationUrl: 'https://a/auth',\n"
    "         tokenUrl: 'https://a/token', scopes: {read: r, write: w}}\n"
    "  app: {type: oauth2, flow: application, tokenUrl: 'https://a/token', scopes: {}}\n"
    "  imp: {type: oauth2, flow: implicit, authorizationUrl: 'https://a/auth', scopes: {}}\n"
    "  pw: {type: oauth2, flow: password, tokenUrl: 'https://a/token'}\n"
    "parameters:\n"
    "  limit: {name: limit, in: query, type: integer, maximum: 100}\n"
    "  petBody: {name: pet, in: body, required: true, schema: {$ref: '#/definitions/Pet'}}\n"
    "responses:\n"
    "  NotFound: {description: gone, schema: {$ref: '#/definitions/Error'}}\n"
    "definitions:\n"
    "  Pet:\n"
    "    type: object\n"
    "    required: [name]\n"
    "    discriminator: kind\n"
    "    properties:\n"
    "      name: {type: string}\n"
    "      kind: {type: string}\n"
    "      tag: {type: string, x-nullable: true}\n"
    "      owner: {$ref: '#/definitions/Owner'}\n"
    "  Owner: {type: object, properties: {id: {type: integer}}}\n"
    "  Error: {type: object, properties: {message: {type: string}}}\n"
    "paths:\n"
    "  /pets:\n"
    "    parameters:\n"
    "      - {name: X-Trace, in: header, type: string}\n"
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
    "        200:\n"
    "          description: ok\n"
    "          schema: {type: array, items: {$ref: '#/definitions/Pet'}}\n"
    "          examples: {application/json: [{name: a}]}\n"
    "        404: {$ref: '#/responses/NotFound'}\n"
    "    post:\n"
    "      operationId: addPet\n"
    "      parameters: [{$ref: '#/parameters/petBody'}]\n"
    "      responses: {201: {description: made, headers: {Location: {type: string}}}}\n"
    "  /pets/{id}:\n"
    "    parameters: [{name: id, in: path, required: true, type: string}]\n"
    "    put:\n"
    "      operationId: renamePet\n"
    "      consumes: [application/x-www-form-urlencoded]\n"
    "      parameters:\n"
    "        - {name: id, in: path, required: true, type: integer}\n"
    "        - {name: name, in: formData, type: string, required: true}\n"
    "        - {name: nick, in: formData, type: array, items: {type: string}}\n"
    "      responses: {204: {description: done}}\n"
    "    post:\n"
    "      operationId: uploadPhoto\n"
    "      consumes: [multipart/form-data]\n"
    "      produces: [text/plain]\n"
    "      parameters:\n"
    "        - {name: photo, in: formData, type: file, required: true}\n"
    "        - {name: note, in: formData, type: string}\n"
    "      responses: {200: {description: ok, schema: {type: string}}}\n";

/* The OpenAPI 3.0 document SWAGGER_PETS stands for. */
static const char SWAGGER_PETS_30[] =
    "{'openapi':'3.0.3','info':{'title':'Pets','version':'1'},"
    "'servers':[{'url':'https://pets.example.com/v1'},{'url':'http://pets.example.com/v1'}],"
    "'paths':{"
    " '/pets':{"
    "  'get':{'operationId':'listPets','security':[{'code':['read']}],"
    "   'parameters':["
    "    {'name':'X-Trace','in':'header','schema':{'type':'string'}},"
    "    {'name':'limit','in':'query','schema':{'type':'integer','maximum':100}},"
    "    {'name':'tags','in':'query','style':'form','explode':true,"
    "     'schema':{'type':'array','items':{'type':'string'}}},"
    "    {'name':'ids','in':'query','style':'form','explode':false,"
    "     'schema':{'type':'array','items':{'type':'integer'}}},"
    "    {'name':'sep','in':'query','style':'pipeDelimited','explode':false,"
    "     'schema':{'type':'array','items':{'type':'string'}}}],"
    "   'responses':{"
    "    '200':{'description':'ok','content':{'application/json':{"
    "     'schema':{'type':'array','items':{'$ref':'#/components/schemas/Pet'}},"
    "     'example':[{'name':'a'}]}}},"
    "    '404':{'$ref':'#/components/responses/NotFound'}}},"
    "  'post':{'operationId':'addPet',"
    "   'parameters':[{'name':'X-Trace','in':'header','schema':{'type':'string'}}],"
    "   'requestBody':{'required':true,'x-codegen-request-body-name':'pet',"
    "    'content':{'application/json':{'schema':{'$ref':'#/components/schemas/Pet'}}}},"
    "   'responses':{'201':{'description':'made',"
    "    'headers':{'Location':{'schema':{'type':'string'}}}}}}},"
    " '/pets/{id}':{"
    "  'put':{'operationId':'renamePet',"
    "   'parameters':[{'name':'id','in':'path','required':true,'schema':{'type':'integer'}}],"
    "   'requestBody':{'required':true,'content':{'application/x-www-form-urlencoded':{"
    "    'schema':{'type':'object','required':['name'],'properties':{'name':{'type':'string'},"
    "     'nick':{'type':'array','items':{'type':'string'}}}},"
    "    'encoding':{'nick':{'style':'form','explode':false}}}}},"
    "   'responses':{'204':{'description':'done'}}},"
    "  'post':{'operationId':'uploadPhoto',"
    "   'parameters':[{'name':'id','in':'path','required':true,'schema':{'type':'string'}}],"
    "   'requestBody':{'required':true,'content':{'multipart/form-data':{"
    "    'schema':{'type':'object','required':['photo'],'properties':{"
    "     'photo':{'type':'string','format':'binary'},'note':{'type':'string'}}}}}},"
    "   'responses':{'200':{'description':'ok',"
    "    'content':{'text/plain':{'schema':{'type':'string'}}}}}}}},"
    "'components':{"
    " 'schemas':{"
    "  'Pet':{'type':'object','required':['name'],'discriminator':{'propertyName':'kind'},"
    "   'properties':{'name':{'type':'string'},'kind':{'type':'string'},"
    "    'tag':{'type':'string','nullable':true},'owner':{'$ref':'#/components/schemas/Owner'}}},"
    "  'Owner':{'type':'object','properties':{'id':{'type':'integer'}}},"
    "  'Error':{'type':'object','properties':{'message':{'type':'string'}}}},"
    " 'parameters':{'limit':{'name':'limit','in':'query',"
    "  'schema':{'type':'integer','maximum':100}}},"
    " 'responses':{'NotFound':{'description':'gone','content':{'application/json':{"
    "  'schema':{'$ref':'#/components/schemas/Error'}}}}},"
    " 'securitySchemes':{"
    "  'key':{'type':'apiKey','name':'X-Key','in':'header'},"
    "  'basic':{'type':'http','scheme':'basic','description':'users'},"
    "  'code':{'type':'oauth2','flows':{'authorizationCode':{'authorizationUrl':'https://a/auth',"
    "   'tokenUrl':'https://a/token','scopes':{'read':'r','write':'w'}}}},"
    "  'app':{'type':'oauth2','flows':{'clientCredentials':{'tokenUrl':'https://a/token',"
    "   'scopes':{}}}},"
    "  'imp':{'type':'oauth2','flows':{'implicit':{'authorizationUrl':'https://a/auth',"
    "   'scopes':{}}}},"
    "  'pw':{'type':'oauth2','flows':{'password':{'tokenUrl':'https://a/token','scopes':{}}}}}}}";

static void free_warnings(oa_api *api) {
  size_t i;
  for (i = 0; i < api->n_warnings; i++)
    free(api->warnings[i]);
  free(api->warnings);
  memset(api, 0, sizeof(*api));
}

/* Converts the Swagger document text; *api gets the warnings. */
static json_t *swagger(const char *text, oa_api *api) {
  json_t *sw = YAML(text), *conv;
  ctx c;
  memset(&c, 0, sizeof(c));
  memset(api, 0, sizeof(*api));
  c.doc = sw;
  c.out = api;
  conv = oa_swagger2_convert(&c, sw);
  json_decref(sw); /* what conv shares it holds a reference to */
  return conv;
}

static void test_swagger2(void) {
  json_t *want = J(SWAGGER_PETS_30), *conv;
  oa_api api;
  char *text;

  conv = swagger(SWAGGER_PETS, &api);
  CHECK(conv != NULL && json_equal(conv, want));
  if (conv != NULL && !json_equal(conv, want)) {
    text = json_dumps(conv, JSON_COMPACT | JSON_SORT_KEYS);
    fprintf(stderr, "converted: %s\n", text);
    free(text);
  }
  CHECK_EQ_INT(api.n_warnings, 0);
  json_decref(conv);
  json_decref(want);
  free_warnings(&api);

  /* No host: a relative server; no schemes: https. */
  conv = swagger("swagger: '2.0'\nbasePath: /api\npaths: {}\n", &api);
  want = J("{'openapi':'3.0.3','servers':[{'url':'/api'}],'paths':{},'components':{}}");
  CHECK(conv != NULL && json_equal(conv, want));
  json_decref(conv);
  json_decref(want);
  conv = swagger("swagger: '2.0'\nhost: h:8080\npaths: {}\n", &api);
  CHECK_EQ_STR(json_string_value(
                   json_object_get(json_array_get(json_object_get(conv, "servers"), 0), "url")),
               "https://h:8080");
  json_decref(conv);

  /* Only formData and no consumes: a form, or multipart with a file. */
  conv = swagger("swagger: '2.0'\npaths:\n  /a:\n    post:\n      parameters:\n"
                 "        - {name: n, in: formData, type: string}\n"
                 "      responses: {}\n"
                 "  /b:\n    post:\n      parameters:\n"
                 "        - {name: f, in: formData, type: file}\n"
                 "        - {name: tags, in: formData, type: array, items: {type: string},"
                 " collectionFormat: multi}\n"
                 "      responses: {}\n",
                 &api);
  want = J("{'/a':{'post':{'requestBody':{'content':{'application/x-www-form-urlencoded':{"
           "  'schema':{'type':'object','properties':{'n':{'type':'string'}}}}}},"
           "  'responses':{}}},"
           " '/b':{'post':{'requestBody':{'content':{'multipart/form-data':{"
           "  'schema':{'type':'object','properties':{'f':{'type':'string','format':'binary'},"
           "   'tags':{'type':'array','items':{'type':'string'}}}},"
           "  'encoding':{'tags':{'style':'form','explode':true}}}}},"
           "  'responses':{}}}}");
  CHECK(conv != NULL && json_equal(json_object_get(conv, "paths"), want));
  json_decref(conv);
  json_decref(want);

  /* What has no 3.0 form is said. */
  conv = swagger("swagger: '2.0'\n"
                 "securityDefinitions: {odd: {type: oauth2, flow: device}, k: {type: jwt}}\n"
                 "paths:\n  /x:\n    get:\n      parameters:\n"
                 "        - {name: a, in: query, type: array, items: {type: string},"
                 " collectionFormat: tsv}\n"
                 "        - {$ref: '#/parameters/none'}\n"
                 "        - {name: b1, in: body, schema: {type: object}}\n"
                 "        - {name: b2, in: body, schema: {type: object}}\n"
                 "      responses: {200: {description: ok}}\n",
                 &api);
  CHECK(conv != NULL);
  CHECK_EQ_INT(api.n_warnings, 5);
  if (api.n_warnings == 5) {
    CHECK_EQ_STR(api.warnings[0], "GET /x: parameter a: collectionFormat \"tsv\" in query has no "
                                  "OpenAPI 3 form; sent comma-separated");
    CHECK_EQ_STR(api.warnings[1],
                 "GET /x: the parameter reference #/parameters/none goes nowhere; left out");
    CHECK_EQ_STR(api.warnings[2], "GET /x: a second body parameter; left out");
    CHECK_EQ_STR(api.warnings[3], "securityDefinitions odd: oauth2 flow \"device\" is not a "
                                  "Swagger 2.0 flow; left out");
    CHECK_EQ_STR(api.warnings[4], "securityDefinitions k: type \"jwt\" is not a Swagger 2.0 "
                                  "security scheme; left out");
  }
  json_decref(conv);
  free_warnings(&api);
}

int main(void) {
  RUN(test_scalars);
  RUN(test_keys);
  RUN(test_anchors);
  RUN(test_alias_bound);
  RUN(test_refused);
  RUN(test_documents);
  RUN(test_swagger2);
  TEST_MAIN_END();
}
