/* many.c -- a small plugin for the reload benchmark, built many times
 * with -DNAME=\"pNN\": two tools and a resource, all named after it. */
#include <mcpd/plugin.h>

#include <stdio.h>

static const mcpd_host *host;

static int answer(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  *result = mcpd_result_text(NAME);
  return MCPD_OK;
}

static int read_it(mcpd_call *call, const char *uri, const json_t *vars, void *data,
                   json_t **result) {
  *result = mcpd_contents_text(uri, "text/plain", NAME);
  return MCPD_OK;
}

static int init(mcpd_ctx *ctx, const mcpd_host *h, const json_t *config, void **state) {
  json_t *schema =
      json_pack("{s:s,s:{s:{s:s}}}", "type", "object", "properties", "q", "type", "string");
  mcpd_tool a = {.struct_size = sizeof(a),
                 .name = NAME "_a",
                 .description = "a",
                 .input_schema = schema,
                 .handler = answer};
  mcpd_tool b = {.struct_size = sizeof(b),
                 .name = NAME "_b",
                 .description = "b",
                 .input_schema = schema,
                 .handler = answer};
  mcpd_resource r = {
      .struct_size = sizeof(r), .uri = "bench://" NAME, .name = NAME, .handler = read_it};
  int rc;
  host = h;
  rc = host->register_tool(ctx, &a);
  if (rc == 0)
    rc = host->register_tool(ctx, &b);
  if (rc == 0)
    rc = host->register_resource(ctx, &r);
  json_decref(schema);
  return rc;
}

static const mcpd_plugin desc = {MCPD_PLUGIN_HEADER, .name = NAME, .version = "1", .init = init};
MCPD_PLUGIN_DEFINE(desc)
