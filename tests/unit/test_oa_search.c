/* test_oa_search.c -- big APIs in the http_backend plugin: the tokenizer and
 * BM25F ranking (oa_search.c), the meta-tools' pure parts (oa_meta.c) on a
 * small hand-made API, and what loading a large document goes through: the
 * slim copy of its text (oa_slim.c) and the heap around it (oa_heap.c). */
#define _POSIX_C_SOURCE 200809L

#include "oa_heap.h"
#include "oa_meta.h"
#include "oa_search.h"
#include "oa_slim.h"
#include "test.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct words {
  char buf[512];
} words;

static void collect(void *arg, const char *tok, size_t len) {
  words *w = arg;
  CHECK_EQ_INT(strlen(tok), len);
  if (w->buf[0] != '\0')
    strcat(w->buf, " ");
  strcat(w->buf, tok);
}

static const char *toks(const char *text) {
  static words w;
  w.buf[0] = '\0';
  oa_tokenize(text, collect, &w);
  return w.buf;
}

static void test_tokenizer(void) {
  CHECK_EQ_STR(toks("listIssuesForRepo"), "list issue repository");
  CHECK_EQ_STR(toks("get_branch_protection"), "get branch protect");
  CHECK_EQ_STR(toks("/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
               "repository owner repository pull pull number merge");
  CHECK_EQ_STR(toks("HTTPServer code-scanning"), "http server code scan");
  CHECK_EQ_STR(toks("Get the user's public information"), "get user public informat");
  /* Plurals fold to one word, and stop words go. */
  CHECK_EQ_STR(toks("repositories branches statuses issues"), "repository branch status issue");
  CHECK_EQ_STR(toks("a to of the"), "");
  /* Abbreviations are spelled out, on both sides. */
  CHECK_EQ_STR(toks("open a PR in an org"), "open pull request organizat");
  CHECK_EQ_STR(toks("starred assignees"), "star assign");
  CHECK_EQ_INT(oa_tokenize(NULL, collect, &(words){{0}}), 0);
  CHECK_EQ_INT(oa_tokenize("", collect, &(words){{0}}), 0);
  /* A word longer than the limit is cut, not overflowed. */
  CHECK_EQ_INT(strlen(toks("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz")),
               OA_SEARCH_TOKEN_MAX);
}

static void add(oa_search *s, const char *name, const char *summary, const char *desc,
                const char *path, const char *tags, const char *method) {
  const char *f[OA_SF_COUNT] = {name, summary, desc, path, tags, method, NULL};
  CHECK_EQ_INT(oa_search_add(s, f), 0);
}

static void test_ranking(void) {
  oa_search *s = oa_search_new();
  oa_search_hit h[5];
  unsigned char allowed[4] = {1, 0, 1, 1};
  int n;
  add(s, "issues_create", "Create an issue", "Any user with pull access can create an issue.",
      "/repos/{owner}/{repo}/issues", "issues", "POST");
  add(s, "issues_list_for_repo", "List repository issues", "Issues of a repository.",
      "/repos/{owner}/{repo}/issues", "issues", "GET");
  add(s, "repos_get", "Get a repository", "The repository, with its parent and source.",
      "/repos/{owner}/{repo}", "repos", "GET");
  add(s, "pulls_merge", "Merge a pull request", "Merges a pull request into the base branch.",
      "/repos/{owner}/{repo}/pulls/{pull_number}/merge", "pulls", "PUT");
  oa_search_finish(s);
  CHECK_EQ_INT(oa_search_docs(s), 4);
  CHECK(oa_search_terms(s) > 10);

  /* The method's verbs count: "create" prefers the POST. */
  n = oa_search_query(s, "create a new issue", NULL, h, 5);
  CHECK(n >= 2);
  CHECK_EQ_INT(h[0].doc, 0);
  n = oa_search_query(s, "list the issues of a repo", NULL, h, 5);
  CHECK(n >= 1);
  CHECK_EQ_INT(h[0].doc, 1);
  /* Scores fall, best first. */
  CHECK(n < 2 || h[0].score >= h[1].score);
  n = oa_search_query(s, "merge my PR", NULL, h, 5);
  CHECK(n >= 1);
  CHECK_EQ_INT(h[0].doc, 3);
  /* A rare word outweighs a common one (IDF). */
  n = oa_search_query(s, "repository parent", NULL, h, 5);
  CHECK_EQ_INT(h[0].doc, 2);
  /* max bounds the hits. */
  CHECK_EQ_INT(oa_search_query(s, "repository", NULL, h, 2), 2);
  /* A filter keeps only allowed documents. */
  n = oa_search_query(s, "list issues", allowed, h, 5);
  CHECK(n >= 1);
  CHECK(h[0].doc != 1);
  /* Unknown words: nothing, or the allowed documents in order. */
  CHECK_EQ_INT(oa_search_query(s, "zebra", NULL, h, 5), 0);
  n = oa_search_query(s, "", allowed, h, 5);
  CHECK_EQ_INT(n, 3);
  CHECK_EQ_INT(h[0].doc, 0);
  CHECK_EQ_INT(h[2].doc, 3);
  oa_search_free(s);
  oa_search_free(NULL);
}

/* A two-operation API as openapi_convert() would give it. */
static void make_api(oa_api *api) {
  static oa_param params[2];
  memset(api, 0, sizeof(*api));
  api->n_ops = 2;
  api->ops = calloc(2, sizeof(oa_operation));
  api->ops[0].kind = OA_TOOL;
  api->ops[0].name = strdup("gh_issues_create");
  api->ops[0].title = strdup("Create an issue");
  api->ops[0].description = strdup("Create an issue\n\nAnyone with pull access can.");
  api->ops[0].method = strdup("POST");
  api->ops[0].path = strdup("/repos/{owner}/{repo}/issues");
  api->ops[0].input_schema =
      json_loads("{\"type\":\"object\",\"properties\":{\"owner\":{\"type\":\"string\"},"
                 "\"title\":{\"type\":[\"string\",\"integer\"]},\"labels\":{\"type\":\"array\"},"
                 "\"milestone\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}},"
                 "\"required\":[\"owner\",\"title\"]}",
                 0, NULL);
  api->ops[0].output_schema = json_pack("{s:s}", "type", "object");
  params[0].arg = "owner";
  params[1].arg = "title";
  api->ops[0].params = params;
  api->ops[0].n_params = 2;
  api->ops[1].kind = OA_TOOL;
  api->ops[1].name = strdup("gh_meta_root");
  api->ops[1].description = strdup("GET /");
  api->ops[1].method = strdup("GET");
  api->ops[1].path = strdup("/");
  api->ops[1].input_schema = json_pack("{s:s}", "type", "object");
}

static void free_api(oa_api *api) {
  size_t i;
  for (i = 0; i < api->n_ops; i++) {
    oa_operation *o = &api->ops[i];
    free(o->name);
    free(o->title);
    free(o->description);
    free(o->method);
    free(o->path);
    json_decref(o->input_schema);
    json_decref(o->output_schema);
  }
  free(api->ops);
}

static const char *text_of(const json_t *result) {
  return json_string_value(
      json_object_get(json_array_get(json_object_get(result, "content"), 0), "text"));
}

static void test_meta(void) {
  oa_api api;
  oa_meta *m;
  json_t *doc = json_loads("{\"paths\":{\"/repos/{owner}/{repo}/issues\":{\"post\":{\"tags\":"
                           "[\"issues\",\"Planning\"]}},\"/\":{\"get\":{\"tags\":[\"meta\"]}}}}",
                           0, NULL);
  json_t *args, *r, *parsed;
  char err[200], name[64];
  make_api(&api);
  CHECK_EQ_INT(oa_meta_build(&api, doc, &m), 0);
  CHECK_EQ_INT(oa_meta_count(m), 2);
  /* Lean: the trees are gone, the text stays with the index. */
  CHECK(api.ops[0].input_schema == NULL && api.ops[0].output_schema == NULL);
  oa_meta_name(OA_META_CALL, "gh_", name, sizeof(name));
  CHECK_EQ_STR(name, "gh_call_operation");
  CHECK_EQ_INT(oa_meta_find(m, &api, "gh_meta_root"), 1);
  CHECK_EQ_INT(oa_meta_find(m, &api, "nope"), -1);

  /* Search, with a tag filter (any case). */
  args = json_pack("{s:s}", "query", "new issue");
  r = oa_meta_search(m, &api, args);
  parsed = json_loads(text_of(r), 0, NULL);
  CHECK_EQ_STR(json_string_value(
                   json_object_get(json_array_get(json_object_get(parsed, "results"), 0), "name")),
               "gh_issues_create");
  CHECK(json_object_get(r, "isError") == NULL);
  json_decref(parsed);
  json_decref(r);
  json_decref(args);
  args = json_pack("{s:s,s:[s]}", "query", "", "tags", "planning");
  r = oa_meta_search(m, &api, args);
  parsed = json_loads(text_of(r), 0, NULL);
  CHECK_EQ_INT(json_array_size(json_object_get(parsed, "results")), 1);
  json_decref(parsed);
  json_decref(r);
  json_decref(args);
  args = json_pack("{s:i}", "query", 3);
  r = oa_meta_search(m, &api, args);
  CHECK(json_is_true(json_object_get(r, "isError")));
  json_decref(r);
  json_decref(args);

  /* Describe gives the whole input schema back. */
  args = json_pack("{s:s}", "name", "gh_issues_create");
  r = oa_meta_describe(m, &api, args, "gh_search_operations");
  parsed = json_loads(text_of(r), 0, NULL);
  CHECK_EQ_STR(json_string_value(json_object_get(parsed, "method")), "POST");
  CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(parsed, "inputSchema"), "required")),
               2);
  json_decref(parsed);
  json_decref(r);
  json_decref(args);
  args = json_pack("{s:s}", "name", "gh_nope");
  r = oa_meta_describe(m, &api, args, "gh_search_operations");
  CHECK(strstr(text_of(r), "gh_search_operations") != NULL);
  json_decref(r);
  json_decref(args);

  /* Arguments: required, unknown names, top-level types. */
  args = json_pack("{s:s,s:i,s:[]}", "owner", "o", "title", 5, "labels");
  CHECK_EQ_INT(oa_meta_check_args(m, &api, 0, args, err, sizeof(err)), 0);
  json_decref(args);
  args = json_pack("{s:s,s:s,s:n}", "owner", "o", "title", "t", "milestone");
  CHECK_EQ_INT(oa_meta_check_args(m, &api, 0, args, err, sizeof(err)), 0);
  json_decref(args);
  args = json_pack("{s:s}", "owner", "o");
  CHECK_EQ_INT(oa_meta_check_args(m, &api, 0, args, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "\"title\" is required") != NULL);
  json_decref(args);
  args = json_pack("{s:s,s:s,s:s}", "owner", "o", "title", "t", "colour", "red");
  CHECK_EQ_INT(oa_meta_check_args(m, &api, 0, args, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "colour") != NULL);
  json_decref(args);
  args = json_pack("{s:i,s:s}", "owner", 1, "title", "t");
  CHECK_EQ_INT(oa_meta_check_args(m, &api, 0, args, err, sizeof(err)), -EINVAL);
  CHECK(strstr(err, "\"owner\" must be of type \"string\"") != NULL);
  json_decref(args);
  CHECK_EQ_INT(oa_meta_check_args(m, &api, 1, NULL, err, sizeof(err)), 0);

  oa_meta_free(m);
  free_api(&api);
  json_decref(doc);
}

/* The slim copy of text as a C string ("NULL" when there is none). */
static const char *slimmed(const char *text) {
  static char buf[512];
  size_t n = 0;
  char *s = oa_slim_json(text, strlen(text), &n);
  if (s == NULL)
    return "NULL";
  memcpy(buf, s, n);
  buf[n] = '\0';
  oa_slim_free(s, strlen(text));
  return buf;
}

static void test_slim(void) {
  /* Whitespace goes, strings (with their escapes and spaces) stay. */
  CHECK_EQ_STR(slimmed(" {\n  \"a b\" : [ 1 , 2 ],\n  \"c\": \"x \\\" }\" }\n"),
               "{\"a b\":[1,2],\"c\":\"x \\\" }\"}");
  /* components.examples is emptied; "examples" elsewhere is kept. */
  CHECK_EQ_STR(slimmed("{\"components\": {\"examples\": {\"e\": {\"value\": \"}]\"}}, "
                       "\"schemas\": {\"examples\": {\"type\": \"string\"}}}, \"paths\": "
                       "{\"examples\": {}}}"),
               "{\"components\":{\"examples\":{},\"schemas\":{\"examples\":{\"type\":"
               "\"string\"}}},\"paths\":{\"examples\":{}}}");
  /* Two numbers stay two: invalid JSON does not become valid. */
  CHECK_EQ_STR(slimmed("{\"a\": 1 2}"), "{\"a\":1 2}");
  CHECK_EQ_STR(slimmed("{\"a\": tru e}"), "{\"a\":tru e}");
  /* What the scan cannot follow is left to the parser. */
  CHECK_EQ_STR(slimmed("{\"a\": \"open}"), "NULL");
  CHECK_EQ_STR(slimmed("{\"a\": [1}"), "NULL");
  CHECK_EQ_STR(slimmed("{\"a\": 1}}"), "NULL");
  CHECK_EQ_STR(slimmed("[1]"), "NULL");
  CHECK_EQ_STR(slimmed("openapi: 3.1.0"), "NULL");
  CHECK_EQ_STR(slimmed(""), "NULL");
  /* A NUL byte, which the parser reads differently in different places. */
  {
    size_t n = 0;
    CHECK(oa_slim_json("{\"a\": [1, 2\n\0]}", 14, &n) == NULL);
  }
}

static void test_heap(void) {
  oa_heap_load h;
  char *p, *q;
  size_t i;
  /* A small document changes nothing. */
  oa_heap_load_begin(1000, 0, &h);
  CHECK_EQ_INT(h.active, 0);
  oa_heap_load_release(&h);
  oa_heap_load_end(&h);
  /* A large one: the heap keeps working through and after it. */
  oa_heap_load_begin((size_t)8 << 20, 1, &h);
  CHECK_EQ_INT(h.active, 1);
  p = malloc(1000);
  CHECK(p != NULL);
  for (i = 0; p != NULL && i < 1000; i++)
    p[i] = (char)i;
  oa_heap_load_release(&h);
  free(p);
  oa_heap_load_end(&h);
  CHECK(h.lo == NULL && h.active == 0);
  q = malloc(64);
  CHECK(q != NULL);
  free(q);
  p = oa_heap_buffer((size_t)3 << 20);
  CHECK(p != NULL);
  if (p != NULL) {
    p[0] = 'a';
    p[(3 << 20) - 1] = 'z';
  }
  oa_heap_buffer_free(p, (size_t)3 << 20);
  oa_heap_buffer_free(NULL, 10);
}

int main(void) {
  RUN(test_slim);
  RUN(test_heap);
  RUN(test_tokenizer);
  RUN(test_ranking);
  RUN(test_meta);
  TEST_MAIN_END();
}
