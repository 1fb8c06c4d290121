/* test_schema.c -- unit tests for core/schema.c. Schemas and instances are
 * written as JSON with ' for ", to keep the C strings readable. */
#include "lib/schema.h"
#include "test.h"

#include <errno.h>

static json_t *parse(const char *text) {
  char buf[1024];
  size_t i;
  json_t *j;
  for (i = 0; text[i] != '\0' && i < sizeof(buf) - 1; i++)
    buf[i] = text[i] == '\'' ? '"' : text[i];
  buf[i] = '\0';
  j = json_loads(buf, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  if (j == NULL)
    fprintf(stderr, "bad test JSON: %s\n", buf);
  return j;
}

/* The message for instance against schema, or "ok" when it is valid. */
static const char *why(const char *schema, const char *instance) {
  static char err[256];
  json_t *s = parse(schema), *v = parse(instance);
  int r;
  CHECK(s != NULL && v != NULL);
  r = schema_validate(s, v, err, sizeof(err));
  CHECK(r == 0 || r == -EINVAL);
  CHECK(r != 0 || err[0] == '\0');
  CHECK(r == 0 || err[0] != '\0');
  json_decref(s);
  json_decref(v);
  return r == 0 ? "ok" : err;
}

static void test_header_examples(void) {
  const char *s = "{'type':'object','required':['text'],'properties':{'text':{'type':'string'},"
                  "'items':{'items':{'minimum':0}},'mode':{'enum':['fast','slow']}},"
                  "'additionalProperties':false}";
  CHECK_EQ_STR(why(s, "{'text':'hi','items':[0,1],'mode':'slow'}"), "ok");
  CHECK_EQ_STR(why(s, "{'text':5}"), "/text: expected string, got integer");
  CHECK_EQ_STR(why(s, "{}"), "missing required property \"text\"");
  CHECK_EQ_STR(why(s, "{'text':'a','items':[0,1,-3]}"), "/items/2: must be >= 0");
  CHECK_EQ_STR(why(s, "{'text':'a','mode':'medium'}"), "/mode: must be one of \"fast\", \"slow\"");
  CHECK_EQ_STR(why(s, "{'text':'a','x':1}"),
               "/x: unexpected property (additionalProperties is false)");
}

static void test_type(void) {
  CHECK_EQ_STR(why("{'type':'object'}", "{}"), "ok");
  CHECK_EQ_STR(why("{'type':'object'}", "[]"), "expected object, got array");
  CHECK_EQ_STR(why("{'type':'array'}", "[]"), "ok");
  CHECK_EQ_STR(why("{'type':'array'}", "{}"), "expected array, got object");
  CHECK_EQ_STR(why("{'type':'string'}", "''"), "ok");
  CHECK_EQ_STR(why("{'type':'string'}", "true"), "expected string, got boolean");
  CHECK_EQ_STR(why("{'type':'boolean'}", "false"), "ok");
  CHECK_EQ_STR(why("{'type':'boolean'}", "null"), "expected boolean, got null");
  CHECK_EQ_STR(why("{'type':'null'}", "null"), "ok");
  CHECK_EQ_STR(why("{'type':'null'}", "0"), "expected null, got integer");
  CHECK_EQ_STR(why("{'type':['string','null']}", "null"), "ok");
  CHECK_EQ_STR(why("{'type':['string','null']}", "1"), "expected string or null, got integer");
  /* Names we do not know never reject. */
  CHECK_EQ_STR(why("{'type':'any'}", "1"), "ok");
}

static void test_integer_vs_real(void) {
  CHECK_EQ_STR(why("{'type':'integer'}", "2"), "ok");
  CHECK_EQ_STR(why("{'type':'integer'}", "2.0"), "ok");
  CHECK_EQ_STR(why("{'type':'integer'}", "-0.0"), "ok");
  CHECK_EQ_STR(why("{'type':'integer'}", "1e300"), "ok");
  CHECK_EQ_STR(why("{'type':'integer'}", "2.5"), "expected integer, got number");
  CHECK_EQ_STR(why("{'type':'integer'}", "'2'"), "expected integer, got string");
  CHECK_EQ_STR(why("{'type':'number'}", "2"), "ok");
  CHECK_EQ_STR(why("{'type':'number'}", "2.5"), "ok");
  CHECK_EQ_STR(why("{'type':'number'}", "'2'"), "expected number, got string");
  CHECK_EQ_STR(why("{'type':'string'}", "2.5"), "expected string, got number");
  CHECK_EQ_STR(why("{'type':'string'}", "2.0"), "expected string, got number");
}

static void test_enum_const(void) {
  CHECK_EQ_STR(why("{'enum':[1,'a',null,{'k':[1]}]}", "'a'"), "ok");
  CHECK_EQ_STR(why("{'enum':[1,'a',null,{'k':[1]}]}", "{'k':[1.0]}"), "ok");
  CHECK_EQ_STR(why("{'enum':[1,'a',null]}", "1.0"), "ok");
  CHECK_EQ_STR(why("{'enum':[1,'a',null,0.5]}", "2"), "must be one of 1, \"a\", null, 0.5");
  CHECK_EQ_STR(why("{'enum':[]}", "2"), "no value is allowed (enum is empty)");
  CHECK_EQ_STR(why("{'const':'x'}", "'x'"), "ok");
  CHECK_EQ_STR(why("{'const':'x'}", "'y'"), "must be \"x\"");
  CHECK_EQ_STR(why("{'const':3}", "3.0"), "ok");
  CHECK_EQ_STR(why("{'const':null}", "null"), "ok");
  CHECK_EQ_STR(why("{'const':null}", "0"), "must be null");
  CHECK_EQ_STR(why("{'const':[1,{'a':true}]}", "[1,{'a':false}]"), "must be [1,{\"a\":true}]");
}

static void test_numbers(void) {
  CHECK_EQ_STR(why("{'minimum':0}", "0"), "ok");
  CHECK_EQ_STR(why("{'minimum':0}", "-1"), "must be >= 0");
  CHECK_EQ_STR(why("{'minimum':0.5}", "0"), "must be >= 0.5");
  CHECK_EQ_STR(why("{'minimum':0.5}", "1"), "ok");
  CHECK_EQ_STR(why("{'maximum':10}", "10.0"), "ok");
  CHECK_EQ_STR(why("{'maximum':10}", "10.5"), "must be <= 10");
  CHECK_EQ_STR(why("{'exclusiveMinimum':0}", "0.1"), "ok");
  CHECK_EQ_STR(why("{'exclusiveMinimum':0}", "0"), "must be > 0");
  CHECK_EQ_STR(why("{'exclusiveMaximum':1.5}", "1"), "ok");
  CHECK_EQ_STR(why("{'exclusiveMaximum':1.5}", "1.5"), "must be < 1.5");
  /* Draft 4: a boolean that makes minimum and maximum exclusive. */
  CHECK_EQ_STR(why("{'minimum':0,'exclusiveMinimum':true}", "0"), "must be > 0");
  CHECK_EQ_STR(why("{'minimum':0,'exclusiveMinimum':false}", "0"), "ok");
  CHECK_EQ_STR(why("{'maximum':9,'exclusiveMaximum':true}", "9"), "must be < 9");
  CHECK_EQ_STR(why("{'maximum':9,'exclusiveMaximum':true}", "8.9"), "ok");
  /* Integers compare exactly beyond 2^53, where doubles would be equal. */
  CHECK_EQ_STR(why("{'exclusiveMaximum':9007199254740993}", "9007199254740992"), "ok");
  CHECK_EQ_STR(why("{'exclusiveMaximum':9007199254740993}", "9007199254740993"),
               "must be < 9007199254740993");
  /* Bounds apply to numbers only. */
  CHECK_EQ_STR(why("{'minimum':5}", "'abc'"), "ok");
}

static void test_multiple_of(void) {
  CHECK_EQ_STR(why("{'multipleOf':5}", "10"), "ok");
  CHECK_EQ_STR(why("{'multipleOf':5}", "-15"), "ok");
  CHECK_EQ_STR(why("{'multipleOf':5}", "7"), "must be a multiple of 5");
  CHECK_EQ_STR(why("{'multipleOf':5}", "10.0"), "ok");
  CHECK_EQ_STR(why("{'multipleOf':2}", "4.5"), "must be a multiple of 2");
  CHECK_EQ_STR(why("{'multipleOf':0.1}", "0.3"), "ok");
  CHECK_EQ_STR(why("{'multipleOf':0.01}", "19.99"), "ok");
  CHECK_EQ_STR(why("{'multipleOf':0.1}", "0.35"), "must be a multiple of 0.1");
  CHECK_EQ_STR(why("{'multipleOf':0.5}", "4"), "ok");
  CHECK_EQ_STR(why("{'multipleOf':1}", "-9223372036854775808"), "ok");
  /* A non-positive multipleOf is not a valid schema: ignored. */
  CHECK_EQ_STR(why("{'multipleOf':0}", "3"), "ok");
}

static void test_strings(void) {
  CHECK_EQ_STR(why("{'minLength':2}", "'ab'"), "ok");
  CHECK_EQ_STR(why("{'minLength':2}", "'a'"), "must be at least 2 characters long");
  CHECK_EQ_STR(why("{'maxLength':1}", "'ab'"), "must be at most 1 character long");
  /* Code points, not bytes: é is 2 bytes, 日本語 is 9, the emoji 4. */
  CHECK_EQ_STR(why("{'maxLength':3}", "'h\\u00e9\\u00e9'"), "ok");
  CHECK_EQ_STR(why("{'maxLength':3}", "'\\u65e5\\u672c\\u8a9e'"), "ok");
  CHECK_EQ_STR(why("{'maxLength':3}", "'\\u65e5\\u672c\\u8a9ex'"),
               "must be at most 3 characters long");
  CHECK_EQ_STR(why("{'minLength':2}", "'\\ud83d\\ude00'"), "must be at least 2 characters long");
  CHECK_EQ_STR(why("{'minLength':2,'maxLength':2}", "'\\ud83d\\ude00\\ud83d\\ude00'"), "ok");
  CHECK_EQ_STR(why("{'maxLength':2}", "'a\\u0000b'"), "must be at most 2 characters long");
  CHECK_EQ_STR(why("{'maxLength':2.0}", "'abc'"), "must be at most 2 characters long");
  CHECK_EQ_STR(why("{'minLength':3}", "12"), "ok");
}

static void test_arrays(void) {
  CHECK_EQ_STR(why("{'minItems':2}", "[1,2]"), "ok");
  CHECK_EQ_STR(why("{'minItems':2}", "[1]"), "must have at least 2 items");
  CHECK_EQ_STR(why("{'maxItems':1}", "[1,2]"), "must have at most 1 item");
  CHECK_EQ_STR(why("{'uniqueItems':true}", "[1,'1',[1],{'a':1},{'a':2}]"), "ok");
  CHECK_EQ_STR(why("{'uniqueItems':true}", "[1,2,1]"), "items must be unique (0 and 2 are equal)");
  CHECK_EQ_STR(why("{'uniqueItems':true}", "[{'a':[1]},{'a':[1]}]"),
               "items must be unique (0 and 1 are equal)");
  CHECK_EQ_STR(why("{'uniqueItems':false}", "[1,1]"), "ok");
  CHECK_EQ_STR(why("{'items':{'type':'string'}}", "['a','b']"), "ok");
  CHECK_EQ_STR(why("{'items':{'type':'string'}}", "['a',2]"), "/1: expected string, got integer");
  CHECK_EQ_STR(why("{'prefixItems':[{'type':'string'},{'type':'integer'}]}", "['a',1,true]"), "ok");
  CHECK_EQ_STR(why("{'prefixItems':[{'type':'string'}],'items':{'type':'integer'}}", "['a',1,'b']"),
               "/2: expected integer, got string");
  CHECK_EQ_STR(why("{'prefixItems':[{'type':'string'}],'items':false}", "['a']"), "ok");
  CHECK_EQ_STR(why("{'prefixItems':[{'type':'string'}],'items':false}", "['a',1]"),
               "/1: unexpected item (items is false)");
  /* Draft 7 tuple form. */
  CHECK_EQ_STR(why("{'items':[{'type':'string'}],'additionalItems':false}", "[1]"),
               "/0: expected string, got integer");
  CHECK_EQ_STR(why("{'items':[{'type':'string'}],'additionalItems':false}", "['a',1]"),
               "/1: unexpected item (additionalItems is false)");
  CHECK_EQ_STR(why("{'items':[{'type':'string'}]}", "['a',1]"), "ok");
}

static void test_objects(void) {
  const char *addr = "{'properties':{'address':{'type':'object','required':['street','zip'],"
                     "'properties':{'zip':{'type':'string','maxLength':5}}}}}";
  CHECK_EQ_STR(why(addr, "{'address':{'street':'x','zip':'12345'}}"), "ok");
  CHECK_EQ_STR(why(addr, "{'address':{'street':'x'}}"),
               "/address: missing required property \"zip\"");
  CHECK_EQ_STR(why(addr, "{'address':{'street':'x','zip':'123456'}}"),
               "/address/zip: must be at most 5 characters long");
  CHECK_EQ_STR(why("{'required':['a']}", "[]"), "ok");
  CHECK_EQ_STR(why("{'minProperties':1}", "{}"), "must have at least 1 property");
  CHECK_EQ_STR(why("{'maxProperties':1}", "{'a':1,'b':2}"), "must have at most 1 property");
  CHECK_EQ_STR(why("{'maxProperties':2}", "{'a':1,'b':2}"), "ok");
  CHECK_EQ_STR(
      why("{'properties':{'a':{}},'additionalProperties':{'type':'integer'}}", "{'a':'x','b':1}"),
      "ok");
  CHECK_EQ_STR(
      why("{'properties':{'a':{}},'additionalProperties':{'type':'integer'}}", "{'a':'x','b':'y'}"),
      "/b: expected integer, got string");
  CHECK_EQ_STR(why("{'additionalProperties':false}", "{}"), "ok");
  /* patternProperties is not evaluated, so additionalProperties stands down. */
  CHECK_EQ_STR(why("{'patternProperties':{'^x':{}},'additionalProperties':false}", "{'xy':1}"),
               "ok");
  CHECK_EQ_STR(why("{'patternProperties':{},'additionalProperties':false}", "{'x':1}"),
               "/x: unexpected property (additionalProperties is false)");
}

static void test_pointer_escaping(void) {
  const char *s = "{'properties':{'a/b':{'properties':{'t~x':{'items':{'type':'string'}}}}}}";
  CHECK_EQ_STR(why(s, "{'a/b':{'t~x':['ok',7]}}"), "/a~1b/t~0x/1: expected string, got integer");
  CHECK_EQ_STR(why("{'additionalProperties':false}", "{'~/':1}"),
               "/~0~1: unexpected property (additionalProperties is false)");
}

static void test_combinators(void) {
  CHECK_EQ_STR(why("{'allOf':[{'type':'integer'},{'minimum':3}]}", "4"), "ok");
  CHECK_EQ_STR(why("{'allOf':[{'type':'integer'},{'minimum':3}]}", "2"), "must be >= 3");
  CHECK_EQ_STR(why("{'properties':{'x':{'anyOf':[{'type':'string'},{'minimum':3}]}}}", "{'x':5}"),
               "ok");
  CHECK_EQ_STR(why("{'properties':{'x':{'anyOf':[{'type':'string'},{'minimum':3}]}}}", "{'x':1}"),
               "/x: must match at least one schema in anyOf");
  CHECK_EQ_STR(why("{'oneOf':[{'type':'integer'},{'type':'string'}]}", "1"), "ok");
  CHECK_EQ_STR(why("{'oneOf':[{'type':'integer'},{'minimum':0}]}", "1"),
               "must match exactly one schema in oneOf (matched 2)");
  CHECK_EQ_STR(why("{'oneOf':[{'type':'integer'},{'type':'string'}]}", "null"),
               "must match exactly one schema in oneOf (matched 0)");
  CHECK_EQ_STR(why("{'not':{'type':'null'}}", "1"), "ok");
  CHECK_EQ_STR(why("{'not':{'type':'null'}}", "null"), "must not match the schema in not");
  /* A failed branch leaves no message behind. */
  CHECK_EQ_STR(why("{'anyOf':[{'type':'string'},{}],'minimum':1}", "0"), "must be >= 1");
}

static void test_boolean_schemas(void) {
  char err[64];
  CHECK_EQ_STR(why("true", "{'any':1}"), "ok");
  CHECK_EQ_STR(why("false", "1"), "not allowed (schema is false)");
  CHECK_EQ_STR(why("{'properties':{'x':false}}", "{'y':1}"), "ok");
  CHECK_EQ_STR(why("{'properties':{'x':false}}", "{'x':1}"), "/x: not allowed (schema is false)");
  CHECK_EQ_STR(why("{'not':true}", "1"), "must not match the schema in not");
  CHECK_EQ_STR(why("{'not':false}", "1"), "ok");
  CHECK_EQ_INT(schema_validate(NULL, json_null(), err, sizeof(err)), 0);
  /* Unknown keywords and non-schema values are ignored. */
  CHECK_EQ_STR(why("{'format':'email','pattern':'^x$','title':'t','default':1}", "'abc'"), "ok");
  CHECK_EQ_STR(why("{'properties':{'x':5}}", "{'x':1}"), "ok");
}

static void test_ref(void) {
  const char *defs = "{'$defs':{'pos':{'type':'integer','minimum':0},'a/b':{'type':'string'},"
                     "'t~x':{'type':'null'},'s p':{'const':1}},'definitions':{'old':{'const':2}},"
                     "'properties':{'n':{'$ref':'#/$defs/pos'},'s':{'$ref':'#/$defs/a~1b'},"
                     "'t':{'$ref':'#/$defs/t~0x'},'sp':{'$ref':'#/$defs/s%20p'},"
                     "'o':{'$ref':'#/definitions/old'},"
                     "'m':{'$ref':'#/$defs/pos','maximum':5}}}";
  CHECK_EQ_STR(why(defs, "{'n':1,'s':'x','t':null,'sp':1,'o':2,'m':5}"), "ok");
  CHECK_EQ_STR(why(defs, "{'n':-1}"), "/n: must be >= 0");
  CHECK_EQ_STR(why(defs, "{'s':1}"), "/s: expected string, got integer");
  CHECK_EQ_STR(why(defs, "{'t':1}"), "/t: expected null, got integer");
  CHECK_EQ_STR(why(defs, "{'sp':2}"), "/sp: must be 1");
  CHECK_EQ_STR(why(defs, "{'o':1}"), "/o: must be 2");
  /* $ref siblings apply too (2020-12). */
  CHECK_EQ_STR(why(defs, "{'m':6}"), "/m: must be <= 5");
  CHECK_EQ_STR(why(defs, "{'m':-1}"), "/m: must be >= 0");
  /* A pointer to an array element, and one to a string (not a schema). */
  CHECK_EQ_STR(
      why("{'anyOf':[{'type':'null'}],'properties':{'x':{'$ref':'#/anyOf/0'}}}", "{'x':1}"),
      "/x: expected null, got integer");
  CHECK_EQ_STR(why("{'properties':{'x':{'$ref':'#/properties/x/$ref'}}}", "{'x':1}"), "ok");
  /* What we cannot resolve accepts anything. */
  CHECK_EQ_STR(why("{'$ref':'#/$defs/nope'}", "1"), "ok");
  CHECK_EQ_STR(why("{'$ref':'#/anyOf/01','anyOf':[{},{}]}", "1"), "ok");
  CHECK_EQ_STR(why("{'$ref':'https://example.com/s.json#/$defs/x'}", "1"), "ok");
  CHECK_EQ_STR(why("{'$ref':'#anchor'}", "1"), "ok");
}

static void test_recursive_ref(void) {
  const char *tree = "{'type':'object','properties':{'value':{'type':'integer'},"
                     "'children':{'type':'array','items':{'$ref':'#'}}}}";
  CHECK_EQ_STR(why(tree, "{'value':1,'children':[{'value':2},{'children':[]}]}"), "ok");
  CHECK_EQ_STR(why(tree, "{'children':[{},{'children':[{'value':'x'}]}]}"),
               "/children/1/children/0/value: expected integer, got string");
  /* Cycles terminate at the depth limit, even under not or anyOf. */
  CHECK_EQ_STR(why("{'$ref':'#'}", "1"), "schema too deeply nested");
  CHECK_EQ_STR(
      why("{'$defs':{'a':{'$ref':'#/$defs/b'},'b':{'$ref':'#/$defs/a'}},'$ref':'#/$defs/a'}", "{}"),
      "schema too deeply nested");
  CHECK_EQ_STR(why("{'not':{'$ref':'#'}}", "1"), "schema too deeply nested");
  CHECK_EQ_STR(why("{'anyOf':[{'$ref':'#'},{}]}", "1"), "schema too deeply nested");
}

/* A chain of levels nested "properties" schemas, ending in type string,
 * and an instance as deep whose leaf is 5. */
static int nested(int levels, char *err, size_t n) {
  json_t *s = json_pack("{s:s}", "type", "string"), *v = json_integer(5);
  int i, r;
  for (i = 0; i < levels; i++) {
    s = json_pack("{s:{s:o}}", "properties", "a", s);
    v = json_pack("{s:o}", "a", v);
  }
  r = schema_validate(s, v, err, n);
  json_decref(s);
  json_decref(v);
  return r;
}

static void test_depth_limit(void) {
  char err[512];
  CHECK_EQ_INT(nested(64, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, ": expected string, got integer") != NULL);
  CHECK_EQ_INT(strncmp(err, "/a/a/a/", 7), 0);
  CHECK_EQ_INT(nested(65, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "schema too deeply nested");
}

static void test_err_buffer(void) {
  json_t *s = parse("{'enum':['\\u00e9\\u00e9\\u00e9']}"), *v = json_integer(1), *js;
  char err[20];
  size_t i;
  CHECK_EQ_INT(schema_validate(s, v, NULL, 0), -EINVAL);
  CHECK_EQ_INT(schema_validate(s, v, err, 1), -EINVAL);
  CHECK_EQ_STR(err, "");
  /* "must be one of \"" is 16 bytes, then 2-byte characters: a cut must
   * drop a partial one, so the message stays valid UTF-8. */
  for (i = 2; i <= sizeof(err); i++) {
    memset(err, 'x', sizeof(err));
    CHECK_EQ_INT(schema_validate(s, v, err, i), -EINVAL);
    CHECK(strlen(err) < i);
    js = json_string(err);
    CHECK(js != NULL);
    json_decref(js);
  }
  CHECK_EQ_INT(schema_validate(s, v, err, 18), -EINVAL);
  CHECK_EQ_STR(err, "must be one of \"");
  CHECK_EQ_INT(schema_validate(s, v, err, 19), -EINVAL);
  CHECK_EQ_STR(err, "must be one of \"\xc3\xa9");
  CHECK_EQ_INT(schema_validate(s, NULL, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "missing value");
  /* A valid instance leaves an empty message. */
  CHECK_EQ_INT(schema_validate(json_true(), v, err, sizeof(err)), 0);
  CHECK_EQ_STR(err, "");
  json_decref(s);
  json_decref(v);
}

static int input(const char *schema, char *err, size_t n) {
  json_t *s = parse(schema);
  int r = schema_check_input_schema(s, err, n);
  json_decref(s);
  return r;
}

static void test_check_input_schema(void) {
  char err[128];
  CHECK_EQ_INT(input("{'type':'object'}", err, sizeof(err)), 0);
  CHECK_EQ_INT(input("{'type':'object','properties':{'a':{}},'required':['a']}", err, sizeof(err)),
               0);
  CHECK_EQ_INT(schema_check_input_schema(NULL, err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "inputSchema must be an object");
  CHECK_EQ_INT(input("[]", err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "inputSchema must be an object");
  CHECK_EQ_INT(input("{}", err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "inputSchema \"type\" must be \"object\"");
  CHECK_EQ_INT(input("{'type':'string'}", err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "inputSchema \"type\" must be \"object\"");
  CHECK_EQ_INT(input("{'type':'object','properties':[]}", err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "inputSchema \"properties\" must be an object");
  CHECK_EQ_INT(input("{'type':'object','required':'a'}", err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "inputSchema \"required\" must be an array of strings");
  CHECK_EQ_INT(input("{'type':'object','required':['a',1]}", err, sizeof(err)), -EINVAL);
  CHECK_EQ_STR(err, "inputSchema \"required\" must be an array of strings");
  CHECK_EQ_INT(input("{}", NULL, 0), -EINVAL);
}

int main(void) {
  RUN(test_header_examples);
  RUN(test_type);
  RUN(test_integer_vs_real);
  RUN(test_enum_const);
  RUN(test_numbers);
  RUN(test_multiple_of);
  RUN(test_strings);
  RUN(test_arrays);
  RUN(test_objects);
  RUN(test_pointer_escaping);
  RUN(test_combinators);
  RUN(test_boolean_schemas);
  RUN(test_ref);
  RUN(test_recursive_ref);
  RUN(test_depth_limit);
  RUN(test_err_buffer);
  RUN(test_check_input_schema);
  TEST_MAIN_END();
}
