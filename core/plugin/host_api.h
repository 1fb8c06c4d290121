/* host_api.h -- the mcpd_host table handed to plugins: the functions
 * behind it check their arguments and forward to the registry, the call
 * engine, the log and the worker pool. */
#ifndef MCPD_HOST_API_H
#define MCPD_HOST_API_H

#include "mcpd/plugin.h"

struct plugin_env;

/* The host table (static, read-only, shared by every plugin). */
const mcpd_host *host_api_table(void);

/* Copies a plugin's struct of src_size bytes into dst (dst_size bytes, the
 * host's size) the way every ABI struct is read: a zeroed dst, min(sizes)
 * copied, a larger plugin struct accepted only if its extra tail is zero.
 * Returns 0, -EINVAL (smaller than min_size) or -E2BIG (non-zero tail). */
/* The plugin version ctx went into service: the HTTP requests and timers it
 * started in init() now keep it loaded. */
void host_api_activated(mcpd_ctx *ctx);

/* ctx is being unloaded (init() failed, or it never went into service):
 * its HTTP requests and timers are dropped without their callbacks. */
void host_api_forget(mcpd_ctx *ctx);

/* ctx was retired and its drain deadline passed: its timers stop without
 * their callbacks and its HTTP requests are cancelled (callbacks with
 * -ECANCELED), so a plugin retrying something forever cannot keep an old
 * version loaded; timer_start() and http_request() then say -ESTALE. */
void host_api_abandon(mcpd_ctx *ctx);

/* Stops ctx's timers without their callbacks (mcpd is stopping). */
void host_api_stop_timers(mcpd_ctx *ctx);

/* mcpd is stopping: work still waiting for its session's share of the
 * worker pool never starts; its after_work runs now with -ECANCELED (work
 * already in the pool finishes as usual). env is borrowed. Loop thread. */
void host_api_cancel_work(struct plugin_env *env);

int host_api_normalize(void *dst, size_t dst_size, const void *src, size_t src_size,
                       size_t min_size);

#endif
