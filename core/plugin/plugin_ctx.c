/* plugin_ctx.c -- the reference count of a loaded plugin version. */
#include "plugin/plugin_ctx.h"

#include <stddef.h>

void plugin_ref(mcpd_ctx *ctx) {
  ctx->refs++;
}

void plugin_unref(mcpd_ctx *ctx) {
  if (--ctx->refs > 0 || !ctx->retired)
    return;
  if (ctx->on_idle != NULL)
    ctx->on_idle(ctx);
}

const char *plugin_name(const mcpd_ctx *ctx) {
  return ctx->name;
}

const char *plugin_version(const mcpd_ctx *ctx) {
  return ctx->version;
}
