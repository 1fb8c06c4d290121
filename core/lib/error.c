/* error.c -- error codes. strerror(3) is not guaranteed thread-safe, and
 * plugins call host->strerror from their own threads, hence this table. */
#include "lib/error.h"

#include <errno.h>

#define ERROR_MAP(XX)                                                                              \
  XX(EPERM, "operation not permitted")                                                             \
  XX(ENOENT, "no such file, entry or resource")                                                    \
  XX(EINTR, "interrupted")                                                                         \
  XX(EIO, "input/output error")                                                                    \
  XX(E2BIG, "too large")                                                                           \
  XX(ENOEXEC, "not a loadable plugin")                                                             \
  XX(EBADF, "bad file descriptor")                                                                 \
  XX(EAGAIN, "try again")                                                                          \
  XX(ENOMEM, "out of memory")                                                                      \
  XX(EACCES, "permission denied")                                                                  \
  XX(EFAULT, "bad address")                                                                        \
  XX(EBUSY, "busy")                                                                                \
  XX(EEXIST, "already exists")                                                                     \
  XX(ENOTDIR, "not a directory")                                                                   \
  XX(EISDIR, "is a directory")                                                                     \
  XX(EINVAL, "invalid argument")                                                                   \
  XX(EMFILE, "too many open files")                                                                \
  XX(ENOSPC, "no space left")                                                                      \
  XX(EPIPE, "broken pipe")                                                                         \
  XX(ERANGE, "out of range")                                                                       \
  XX(ENOSYS, "not implemented")                                                                    \
  XX(ENOTSUP, "not supported")                                                                     \
  XX(EPROTO, "protocol error")                                                                     \
  XX(EBADMSG, "malformed message")                                                                 \
  XX(EOVERFLOW, "value too large")                                                                 \
  XX(EADDRINUSE, "address already in use")                                                         \
  XX(EADDRNOTAVAIL, "address not available")                                                       \
  XX(ECONNRESET, "connection reset")                                                               \
  XX(ECONNREFUSED, "connection refused")                                                           \
  XX(ETIMEDOUT, "timed out")                                                                       \
  XX(EALREADY, "already completed")                                                                \
  XX(ECANCELED, "cancelled")                                                                       \
  XX(ESHUTDOWN, "shutting down")                                                                   \
  XX(EPROTONOSUPPORT, "protocol not supported")                                                    \
  XX(EHOSTUNREACH, "host unreachable")                                                             \
  XX(ENETUNREACH, "network unreachable")                                                           \
  XX(EKEYREJECTED, "certificate rejected")                                                         \
  XX(ECONNABORTED, "connection aborted")                                                           \
  XX(ESTALE, "out of service")                                                                     \
  XX(ENAMETOOLONG, "name too long")

const char *error_strerror(int err) {
  if (err == 0)
    return "success";
  switch (-err) {
#define XX(code, text)                                                                             \
  case code:                                                                                       \
    return text;
    ERROR_MAP(XX)
#undef XX
  default:
    return "unknown error";
  }
}

const char *error_name(int err) {
  switch (-err) {
#define XX(code, text)                                                                             \
  case code:                                                                                       \
    return #code;
    ERROR_MAP(XX)
#undef XX
  default:
    return "EUNKNOWN";
  }
}
