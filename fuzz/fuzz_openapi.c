/* fuzz_openapi.c -- fuzzes the http_backend plugin's pure parts
 * (plugins/http_backend: the OpenAPI converter and the request and result
 * builders, compiled in directly as tests/unit/test_openapi.c does). The
 * input is an OpenAPI or Swagger 2.0 document, JSON or YAML as the plugin
 * tells them apart (oa_yaml.c; text that is neither is skipped). It is
 * converted twice (tools only, and GET as resources with a tool prefix);
 * an object "x-fuzz-options" in the document supplies route_map and the
 * include/exclude filters. For every operation produced, the request is
 * built with no arguments, {}, and two sets that give every parameter a
 * value from a fixed palette (strings with reserved and control
 * characters, numbers, booleans, null, arrays, objects), and the input
 * itself is turned into a result and into resource contents as a response
 * body. Checks: the documented return codes, the shape of each operation
 * (input schema an object, names and methods set), requests whose target
 * starts with the base path and whose header lines have no CR or LF, and
 * results with "content" and "isError"; ASan/UBSan and leak checks do
 * the rest. FUZZ_OPENAPI_SHOW=1 prints the operations and warnings. */
#include "oa_request.h"
#include "oa_yaml.h"
#include "openapi.h"

#include "fuzz.h"

#include <errno.h>

static json_t *palette;
static int show; /* FUZZ_OPENAPI_SHOW=1: print what the conversion gave, to check a seed */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  palette = json_loads("[\"a b/c?d=e&f#g\", 42, -2.5, true, null, [\"x\", 1, \"y z\"],"
                       "{\"k\": \"v\", \"n\": 1, \"o\": {\"p\": []}}, \"\", \"\\u00e9\\r\\n\","
                       "0.1, 1e300, \"%2F..%00\", [], {}, [[1], {\"a\": null}]]",
                       0, NULL);
  FUZZ_CHECK(palette != NULL);
  show = getenv("FUZZ_OPENAPI_SHOW") != NULL;
  return 0;
}

/* Every parameter of op with a palette value (shifted by k). */
static json_t *args_for(const oa_operation *op, size_t k) {
  json_t *args = json_object();
  size_t i;
  FUZZ_CHECK(args != NULL);
  for (i = 0; i < op->n_params; i++)
    json_object_set(args, op->params[i].arg,
                    json_array_get(palette, (i + k) % json_array_size(palette)));
  return args;
}

static void check_request(const oa_request *r, const char *base) {
  size_t i;
  FUZZ_CHECK(r->method != NULL && r->target != NULL);
  if (base != NULL)
    FUZZ_CHECK(strncmp(r->target, base, strlen(base)) == 0);
  FUZZ_CHECK(strpbrk(r->target, " \r\n") == NULL);
  for (i = 0; i < r->n_headers; i++) {
    FUZZ_CHECK(r->headers[i] != NULL && strchr(r->headers[i], ':') != NULL);
    FUZZ_CHECK(strpbrk(r->headers[i], "\r\n") == NULL);
  }
  FUZZ_CHECK(r->body != NULL || r->body_len == 0);
}

static void build(const oa_operation *op, const json_t *args, const char *base) {
  oa_request r;
  char err[200];
  int rc;
  memset(&r, 0, sizeof(r));
  err[0] = '\0';
  rc = oa_request_build(op, args, base, &r, err, sizeof(err));
  FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
  if (rc == 0)
    check_request(&r, base);
  else
    FUZZ_CHECK(rc == -ENOMEM || err[0] != '\0');
  oa_request_free(&r);
}

static void check_op(const oa_operation *op) {
  size_t i;
  FUZZ_CHECK(op->name != NULL && op->name[0] != '\0' && strlen(op->name) <= 64);
  FUZZ_CHECK(op->method != NULL && op->path != NULL && op->description != NULL);
  FUZZ_CHECK(json_is_object(op->input_schema));
  FUZZ_CHECK(op->output_schema == NULL || json_is_object(op->output_schema));
  FUZZ_CHECK(op->kind == OA_TOOL ? op->uri == NULL : op->uri != NULL);
  for (i = 0; i < op->n_params; i++)
    FUZZ_CHECK(op->params[i].arg != NULL && op->params[i].name != NULL);
}

static void results(const oa_operation *op, const uint8_t *data, size_t size, size_t k) {
  static const int statuses[] = {200, 201, 204, 401, 404, 500};
  static const char *const types[] = {"application/json",
                                      "application/problem+json; charset=utf-8",
                                      "image/png",
                                      "image/svg+xml",
                                      "text/plain; charset=latin1",
                                      NULL};
  oa_result_opts ro;
  json_t *r;
  memset(&ro, 0, sizeof(ro));
  ro.structured = (int)(k & 1);
  ro.max_error_body = k % 3 == 0 ? 0 : 16;
  r = oa_result(op, statuses[k % 6], types[(k / 6) % 6], (const char *)data, size, &ro);
  FUZZ_CHECK(r != NULL);
  FUZZ_CHECK(json_is_array(json_object_get(r, "content")));
  FUZZ_CHECK(json_is_boolean(json_object_get(r, "isError")));
  json_decref(r);
  r = oa_contents(op->uri ? op->uri : "api://x", types[k % 6], (const char *)data, size);
  FUZZ_CHECK(r != NULL);
  json_decref(r);
}

static void convert(const json_t *doc, const uint8_t *data, size_t size, int variant) {
  const json_t *fo = json_object_get(doc, "x-fuzz-options");
  oa_options o;
  oa_api api;
  char err[256];
  size_t i;
  int rc;

  memset(&o, 0, sizeof(o));
  o.backend = "fuzz";
  if (variant == 1) {
    o.tool_prefix = "p_";
    o.get_as_resources = 1;
    o.route_map = json_object_get(fo, "route_map");
    o.include_operations = json_object_get(fo, "include_operations");
    o.exclude_operations = json_object_get(fo, "exclude_operations");
    o.include_tags = json_object_get(fo, "include_tags");
    o.exclude_tags = json_object_get(fo, "exclude_tags");
  }
  memset(&api, 0, sizeof(api));
  err[0] = '\0';
  rc = openapi_convert(doc, &o, &api, err, sizeof(err));
  FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
  if (show)
    fprintf(stderr, "variant %d: rc %d %s, %zu operations, %zu warnings\n", variant, rc, err,
            api.n_ops, api.n_warnings);
  for (i = 0; show && i < api.n_warnings; i++)
    fprintf(stderr, "  warning: %s\n", api.warnings[i]);
  for (i = 0; show && i < api.n_ops; i++)
    fprintf(stderr, "  %s %s %s -> %s (kind %d) %s\n", api.ops[i].name, api.ops[i].method,
            api.ops[i].path, api.ops[i].uri ? api.ops[i].uri : "", (int)api.ops[i].kind,
            api.ops[i].content_type ? api.ops[i].content_type : "");
  if (rc != 0) {
    FUZZ_CHECK(rc == -ENOMEM || err[0] != '\0');
    openapi_free(&api);
    return;
  }
  for (i = 0; i < api.n_warnings; i++)
    FUZZ_CHECK(api.warnings[i] != NULL);
  for (i = 0; i < api.n_ops && i < 64; i++) {
    const oa_operation *op = &api.ops[i];
    json_t *a1 = args_for(op, i), *a2 = args_for(op, i + 7), *empty = json_object();
    check_op(op);
    build(op, NULL, NULL);
    build(op, empty, "/api/v1");
    build(op, a1, NULL);
    build(op, a2, "/base");
    results(op, data, size, i + (size_t)variant);
    json_decref(a1);
    json_decref(a2);
    json_decref(empty);
  }
  openapi_free(&api);
  openapi_free(&api); /* freeing twice is allowed */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *doc;
  char err[300];
  int rc = oa_yaml_parse_document((const char *)data, size, &doc, err, sizeof(err));
  FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM);
  FUZZ_CHECK(rc != 0 || json_is_object(doc));
  if (rc != 0)
    return 0;
  convert(doc, data, size, 0);
  convert(doc, data, size, 1);
  json_decref(doc);
  return 0;
}
