/* error.h -- error codes. Every function of the core that can fail returns
 * 0 (or a positive count) on success and a negative errno value on failure,
 * as libuv does; error_strerror() describes one. */
#ifndef MCPD_ERROR_H
#define MCPD_ERROR_H

/* Returns a static, thread-safe description of err (a negative errno value,
 * or 0 for "success"). Unknown codes give "unknown error". */
const char *error_strerror(int err);

/* Returns the symbolic name of err ("EINVAL"), or "EUNKNOWN". */
const char *error_name(int err);

#endif
