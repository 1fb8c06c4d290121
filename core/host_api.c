/* host_api.c -- the mcpd_host table handed to plugins. Every entry checks
 * the handles it is given (magic numbers catch a stale or foreign pointer)
 * before it forwards to the module that does the work. */
#include "host_api.h"

#include "call.h"
#include "dispatch.h"
#include "error.h"
#include "log.h"
#include "plugin_loader.h"
#include "registry.h"
#include "server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int host_api_normalize(void *dst, size_t dst_size, const void *src, size_t src_size,
                       size_t min_size) {
  const unsigned char *p = src;
  size_t i;

  if (src_size < min_size)
    return -EINVAL;
  memset(dst, 0, dst_size);
  if (src_size > dst_size) {
    /* A newer plugin: fields this host does not know must be unused. */
    for (i = dst_size; i < src_size; i++) {
      if (p[i] != 0)
        return -E2BIG;
    }
    src_size = dst_size;
  }
  memcpy(dst, src, src_size);
  return 0;
}

static int ctx_ok(const mcpd_ctx *ctx) {
  return ctx != NULL && ctx->magic == CTX_MAGIC;
}

/* Registration: only inside init(), structs normalised to this host. */
static int begin_register(mcpd_ctx *ctx, const void *obj, const char *what) {
  if (!ctx_ok(ctx) || obj == NULL)
    return -EINVAL;
  if (!ctx->in_init) {
    log_msg(&ctx->srv->log, LOG_ERROR, "plugin_register_refused",
            "plugin=%s what=%s reason=\"registration is only allowed during init()\"", ctx->name,
            what);
    return -EPERM;
  }
  return 0;
}

static int reg_result(mcpd_ctx *ctx, int r, const char *what, const char *err) {
  char esc[600];
  if (r < 0)
    snprintf(ctx->last_refusal, sizeof(ctx->last_refusal), "%s", err);
  if (r < 0)
    log_msg(&ctx->srv->log, LOG_ERROR, "plugin_register_refused", "plugin=%s what=%s reason=%s",
            ctx->name, what, log_escape(err, esc, sizeof(esc)));
  return r;
}

static int norm(mcpd_ctx *ctx, void *dst, size_t dst_size, size_t min_size, const void *src,
                const char *what) {
  uint32_t size, flags;
  int r;
  memcpy(&size, src, sizeof(size));
  r = host_api_normalize(dst, dst_size, src, size, min_size);
  if (r < 0)
    return reg_result(ctx, r, what,
                      r == -EINVAL ? "struct_size is smaller than any known version of the struct"
                                   : "the struct has fields this mcpd does not know");
  memcpy(&flags, (const char *)dst + sizeof(uint32_t), sizeof(flags));
  if (flags != 0)
    return reg_result(ctx, -EINVAL, what, "unknown bits in flags");
  return 0;
}

static int h_register_tool(mcpd_ctx *ctx, const mcpd_tool *tool) {
  mcpd_tool t;
  char err[512];
  int r = begin_register(ctx, tool, "tool");
  if (r < 0 || (r = norm(ctx, &t, sizeof(t), MCPD_TOOL_SIZE_V1_0, tool, "tool")) < 0)
    return r;
  r = t.name != NULL
          ? registry_check_free(&ctx->srv->reg, REG_TOOL, t.name, ctx->replaces, err, sizeof(err))
          : 0;
  if (r == 0)
    r = registry_add_tool(&ctx->staged, ctx, ctx->name, &t, err, sizeof(err));
  if (r == 0)
    ctx->n_tools++;
  return reg_result(ctx, r, "tool", err);
}

static int h_register_resource(mcpd_ctx *ctx, const mcpd_resource *res) {
  mcpd_resource t;
  char err[512];
  int r = begin_register(ctx, res, "resource");
  if (r < 0 || (r = norm(ctx, &t, sizeof(t), MCPD_RESOURCE_SIZE_V1_0, res, "resource")) < 0)
    return r;
  r = t.uri != NULL ? registry_check_free(&ctx->srv->reg, REG_RESOURCE, t.uri, ctx->replaces, err,
                                          sizeof(err))
                    : 0;
  if (r == 0)
    r = registry_add_resource(&ctx->staged, ctx, ctx->name, &t, err, sizeof(err));
  if (r == 0)
    ctx->n_resources++;
  return reg_result(ctx, r, "resource", err);
}

static int h_register_template(mcpd_ctx *ctx, const mcpd_resource_template *tmpl) {
  mcpd_resource_template t;
  char err[512];
  int r = begin_register(ctx, tmpl, "resource_template");
  if (r < 0 || (r = norm(ctx, &t, sizeof(t), MCPD_RESOURCE_TEMPLATE_SIZE_V1_0, tmpl,
                         "resource_template")) < 0)
    return r;
  r = t.uri_template != NULL ? registry_check_free(&ctx->srv->reg, REG_TEMPLATE, t.uri_template,
                                                   ctx->replaces, err, sizeof(err))
                             : 0;
  if (r == 0)
    r = registry_add_template(&ctx->staged, ctx, ctx->name, &t, err, sizeof(err));
  if (r == 0)
    ctx->n_templates++;
  return reg_result(ctx, r, "resource_template", err);
}

static int h_register_prompt(mcpd_ctx *ctx, const mcpd_prompt *prompt) {
  mcpd_prompt t;
  char err[512];
  int r = begin_register(ctx, prompt, "prompt");
  if (r < 0 || (r = norm(ctx, &t, sizeof(t), MCPD_PROMPT_SIZE_V1_1, prompt, "prompt")) < 0)
    return r;
  r = t.name != NULL
          ? registry_check_free(&ctx->srv->reg, REG_PROMPT, t.name, ctx->replaces, err, sizeof(err))
          : 0;
  if (r == 0)
    r = registry_add_prompt(&ctx->staged, ctx, ctx->name, &t, err, sizeof(err));
  if (r == 0)
    ctx->n_prompts++;
  return reg_result(ctx, r, "prompt", err);
}

static void h_log(mcpd_ctx *ctx, int level, const char *fmt, ...) {
  char msg[2048], esc[2200];
  int lv;
  va_list ap;

  if (!ctx_ok(ctx) || fmt == NULL)
    return;
  /* Eight MCP levels onto the daemon's four. */
  lv = level <= MCPD_LOG_DEBUG     ? LOG_DEBUG
       : level <= MCPD_LOG_NOTICE  ? LOG_INFO
       : level == MCPD_LOG_WARNING ? LOG_WARN
                                   : LOG_ERROR;
  if (!log_enabled(&ctx->srv->log, lv))
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  log_msg(&ctx->srv->log, lv, "plugin_log", "plugin=%s msg=%s", ctx->name,
          log_escape(msg, esc, sizeof(esc)));
}

static int h_complete(mcpd_call *call, json_t *result) {
  return call_complete(call, result);
}

static int h_fail(mcpd_call *call, int err, const char *message) {
  return call_fail(call, err, message);
}

static int h_progress(mcpd_call *call, double progress, double total, const char *message) {
  return call_progress(call, progress, total, message);
}

static int h_notify_log(mcpd_call *call, int level, const char *logger_name, json_t *data) {
  return call_notify_log(call, level, logger_name, data);
}

static int h_is_cancelled(const mcpd_call *call) {
  return call_is_cancelled(call);
}

static int h_on_cancel(mcpd_call *call, mcpd_cancel_fn cb, void *arg) {
  return call_on_cancel(call, cb, arg);
}

/* Work queued by a plugin keeps the plugin loaded until after_work ran. */
struct work_item {
  uv_work_t req;
  mcpd_ctx *ctx;
  mcpd_work_fn work;
  mcpd_after_work_fn after;
  void *arg;
};

static void work_cb(uv_work_t *req) {
  struct work_item *w = (struct work_item *)req;
  w->work(w->arg);
}

static void after_work_cb(uv_work_t *req, int status) {
  struct work_item *w = (struct work_item *)req;
  mcpd_ctx *ctx = w->ctx;
  if (w->after != NULL)
    w->after(w->arg, status == UV_ECANCELED ? -ECANCELED : 0);
  free(w);
  plugin_unref(ctx);
}

static int h_queue_work(mcpd_ctx *ctx, mcpd_work_fn work, mcpd_after_work_fn after, void *arg) {
  struct work_item *w;
  int r;
  if (!ctx_ok(ctx) || work == NULL)
    return -EINVAL;
  /* A failed init() unloads the plugin at once: no work may be pending. */
  if (ctx->in_init)
    return -EPERM;
  if (ctx->srv->stopping)
    return -ESHUTDOWN;
  w = calloc(1, sizeof(*w));
  if (w == NULL)
    return -ENOMEM;
  w->ctx = ctx;
  w->work = work;
  w->after = after;
  w->arg = arg;
  plugin_ref(ctx);
  r = uv_queue_work(&ctx->srv->loop, &w->req, work_cb, after_work_cb);
  if (r < 0) {
    plugin_unref(ctx);
    free(w);
    return r;
  }
  return 0;
}

static int h_notify_resource_updated(mcpd_ctx *ctx, const char *uri) {
  if (!ctx_ok(ctx) || uri == NULL)
    return -EINVAL;
  return call_engine_resource_updated(&ctx->srv->calls, uri);
}

static int h_request(mcpd_call *call, const char *method, json_t *params, unsigned timeout_ms,
                     mcpd_response_fn cb, void *arg) {
  return dispatch_client_request(call, method, params, timeout_ms, cb, arg);
}

static const json_t *h_call_client_capabilities(const mcpd_call *call) {
  return dispatch_client_capabilities(call);
}

static const char *h_strerror(int err) {
  return error_strerror(err);
}

static mcpd_ctx *h_call_ctx(const mcpd_call *call) {
  if (call == NULL || call->magic != CALL_MAGIC)
    return NULL;
  return call->ctx;
}

static const mcpd_host host_table = {
    .struct_size = sizeof(mcpd_host),
    .abi_major = MCPD_ABI_MAJOR,
    .abi_minor = MCPD_ABI_MINOR,
    .register_tool = h_register_tool,
    .register_resource = h_register_resource,
    .register_resource_template = h_register_template,
    .log = h_log,
    .complete = h_complete,
    .fail = h_fail,
    .progress = h_progress,
    .notify_log = h_notify_log,
    .is_cancelled = h_is_cancelled,
    .on_cancel = h_on_cancel,
    .queue_work = h_queue_work,
    .strerror = h_strerror,
    .call_ctx = h_call_ctx,
    /* 1.1 */
    .register_prompt = h_register_prompt,
    .notify_resource_updated = h_notify_resource_updated,
    .request = h_request,
    .call_client_capabilities = h_call_client_capabilities,
};

const mcpd_host *host_api_table(void) {
  return &host_table;
}
