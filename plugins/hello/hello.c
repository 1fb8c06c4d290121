/* hello.c -- the example plugin, and the README's tutorial.
 *
 *   echo {text}             a synchronous tool
 *   count {n, delay_ms}     blocking work on a worker thread, with progress
 *                           reports and cancellation
 *   hello://readme          a static resource
 *   hello://greet/{name}    a resource template
 *
 * Configuration (optional): "plugins": {"hello": {"greeting": "Hi"}} */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <mcpd/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Each loaded copy of a plugin has its own statics. */
static const mcpd_host *host;
static char greeting[64] = "Hello";

/* echo: answers at once, on the loop thread. */
static int echo(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  /* args was checked against the input schema: "text" is a string. */
  *result = mcpd_result_text(json_string_value(json_object_get(args, "text")));
  return MCPD_OK;
}

/* count: the work blocks, so it runs on a worker thread. */
struct count_job {
  mcpd_call *call;
  json_int_t n, delay_ms, reached;
};

static void count_work(void *arg) { /* worker thread */
  struct count_job *job = arg;
  json_int_t i;
  for (i = 1; i <= job->n && !host->is_cancelled(job->call); i++) {
    struct timespec ts = {job->delay_ms / 1000, (job->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    job->reached = i;
    host->progress(job->call, (double)i, (double)job->n, NULL);
  }
}

static void count_done(void *arg, int status) { /* loop thread */
  struct count_job *job = arg;
  char text[64];
  if (status < 0) {
    host->fail(job->call, status, "count did not run");
  } else {
    snprintf(text, sizeof(text), "counted to %lld", (long long)job->reached);
    host->complete(job->call, mcpd_result_text(text));
  }
  free(job);
}

static int count(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  struct count_job *job = calloc(1, sizeof(*job));
  const json_t *delay = json_object_get(args, "delay_ms");
  int r;
  if (job == NULL)
    return -ENOMEM;
  job->call = call;
  job->n = json_integer_value(json_object_get(args, "n"));
  job->delay_ms = delay ? json_integer_value(delay) : 100;
  r = host->queue_work(host->call_ctx(call), count_work, count_done, job);
  if (r < 0) {
    free(job);
    return r;
  }
  return MCPD_PENDING; /* count_done completes the call */
}

static int readme(mcpd_call *call, const char *uri, const json_t *vars, void *data,
                  json_t **result) {
  *result = mcpd_contents_text(uri, "text/plain",
                               "This is mcpd's example plugin. Try the echo and count tools, "
                               "or read hello://greet/{name}.");
  return MCPD_OK;
}

static int greet(mcpd_call *call, const char *uri, const json_t *vars, void *data,
                 json_t **result) {
  char text[256];
  snprintf(text, sizeof(text), "%s, %s!", greeting,
           json_string_value(json_object_get(vars, "name")));
  *result = mcpd_contents_text(uri, "text/plain", text);
  return MCPD_OK;
}

static int hello_init(mcpd_ctx *ctx, const mcpd_host *h, const json_t *config, void **state) {
  const json_t *g = json_object_get(config, "greeting");
  json_t *echo_schema, *count_schema, *read_only;
  int r;

  host = h;
  if (json_is_string(g))
    snprintf(greeting, sizeof(greeting), "%s", json_string_value(g));

  echo_schema =
      json_pack("{s:s, s:{s:{s:s, s:s}}, s:[s]}", "type", "object", "properties", "text", "type",
                "string", "description", "The text to send back", "required", "text");
  count_schema =
      json_pack("{s:s, s:{s:{s:s, s:i, s:i}, s:{s:s, s:i, s:i}}, s:[s]}", "type", "object",
                "properties", "n", "type", "integer", "minimum", 1, "maximum", 1000, "delay_ms",
                "type", "integer", "minimum", 0, "maximum", 10000, "required", "n");
  read_only = json_pack("{s:b}", "readOnlyHint", 1);

  mcpd_tool echo_tool = {
      .struct_size = sizeof(mcpd_tool),
      .name = "echo",
      .title = "Echo",
      .description = "Returns the text it is given.",
      .input_schema = echo_schema,
      .annotations = read_only,
      .handler = echo,
  };
  mcpd_tool count_tool = {
      .struct_size = sizeof(mcpd_tool),
      .name = "count",
      .title = "Count",
      .description = "Counts from 1 to n on a worker thread, waiting delay_ms (default 100) "
                     "between numbers, and reports progress.",
      .input_schema = count_schema,
      .annotations = read_only,
      .handler = count,
  };
  mcpd_resource readme_res = {
      .struct_size = sizeof(mcpd_resource),
      .uri = "hello://readme",
      .name = "readme",
      .description = "What this plugin does",
      .mime_type = "text/plain",
      .handler = readme,
  };
  mcpd_resource_template greet_tpl = {
      .struct_size = sizeof(mcpd_resource_template),
      .uri_template = "hello://greet/{name}",
      .name = "greeting",
      .description = "A greeting for {name}",
      .mime_type = "text/plain",
      .handler = greet,
  };

  /* The readme never changes while the plugin is loaded: 2026-07-28 clients
   * may keep a read for an hour (ABI 1.3; an older host would refuse the
   * field, so only when it has 1.3's functions). */
  if (MCPD_HOST_HAS(host, call_principal))
    readme_res.cache_ttl_ms = 60 * 60 * 1000;

  /* The host copies what it keeps, so the schemas can go right after. */
  r = host->register_tool(ctx, &echo_tool);
  if (r == 0)
    r = host->register_tool(ctx, &count_tool);
  if (r == 0)
    r = host->register_resource(ctx, &readme_res);
  if (r == 0)
    r = host->register_resource_template(ctx, &greet_tpl);
  json_decref(echo_schema);
  json_decref(count_schema);
  json_decref(read_only);
  return r;
}

static const mcpd_plugin hello_plugin = {
    MCPD_PLUGIN_HEADER, .name = "hello",
    .version = "1.0.0", .description = "Example tools and resources",
    .init = hello_init,
};

MCPD_PLUGIN_DEFINE(hello_plugin)
