/* stdio_transport.h -- the stdio transport: newline-delimited JSON-RPC on stdin and
 * stdout (logs stay on stderr), one session for the life of the process,
 * for clients that launch mcpd as a subprocess (`mcpd --stdio`). Loop
 * thread only. */
#ifndef MCPD_STDIO_TRANSPORT_H
#define MCPD_STDIO_TRANSPORT_H

#include <stdint.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "mcp/dispatch.h"
#include "lib/list.h"
#include "lib/log.h"
#include "mcp/session.h"
#include "transport/batch.h"

struct stdio_batch;

typedef struct stdio_transport {
  uv_loop_t *loop;
  uv_pipe_t in, out;
  uv_tty_t in_tty, out_tty;
  uv_stream_t *rd, *wr;  /* whichever of the above is in use */
  int file_in, file_out; /* redirected from/to a regular file instead */
  uv_fs_t fs_req;        /* reading stdin from a file */
  char *fs_buf;
  int fs_reading;
  dispatch *disp;
  session_table *sessions;
  session *s;
  const config *cfg;
  const logger *log;
  mcp_sink channel; /* the session's channel: stdout */
  buf line;         /* the line being read */
  buf scratch;
  int skipping;                /* an over-long line: drop it up to its newline */
  batch_runner batches;        /* batches dispatched a slice a turn */
  struct stdio_batch *running; /* the batch still dispatching: input waits */
  buf held;                    /* input read behind it */
  int paused;                  /* reading stopped until it is done */
  unsigned writes;             /* uv_write requests in flight */
  list_node reqs;              /* requests whose answer is still to come */
  list_node listens;           /* 2026-07-28 subscriptions/listen, each on stdout */
  unsigned n_listens;
  void (*on_eof)(void *arg);
  void *arg;
  int closing, eof;
  uint64_t lines_in, lines_out;
} stdio_transport;

/* Starts reading stdin and owns stdout (each a pipe, a terminal or a
 * regular file). on_eof(arg) runs once stdin ends (the caller stops the
 * daemon). Returns 0, or a negative error when stdin or stdout is something
 * else. */
int stdio_start(stdio_transport *t, uv_loop_t *loop, dispatch *d, session_table *sessions,
                const config *cfg, const logger *lg, void (*on_eof)(void *arg), void *arg);

/* Stops reading; requests still waiting are cancelled. */
void stdio_drain(stdio_transport *t);

/* Returns 1 while output is still being written. */
int stdio_busy(const stdio_transport *t);

/* Closes the handles (after stdio_drain and once not busy). */
void stdio_close(stdio_transport *t);

#endif
