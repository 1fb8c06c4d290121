/* host_api.h -- the mcpd_host table handed to plugins: the functions
 * behind it check their arguments and forward to the registry, the call
 * engine, the log and the worker pool. */
#ifndef MCPD_HOST_API_H
#define MCPD_HOST_API_H

#include "mcpd/plugin.h"

/* The host table (static, read-only, shared by every plugin). */
const mcpd_host *host_api_table(void);

/* Copies a plugin's struct of src_size bytes into dst (dst_size bytes, the
 * host's size) the way every ABI struct is read: a zeroed dst, min(sizes)
 * copied, a larger plugin struct accepted only if its extra tail is zero.
 * Returns 0, -EINVAL (smaller than min_size) or -E2BIG (non-zero tail). */
int host_api_normalize(void *dst, size_t dst_size, const void *src, size_t src_size,
                       size_t min_size);

#endif
