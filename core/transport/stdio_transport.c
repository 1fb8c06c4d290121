/* stdio_transport.c -- the stdio transport. Every message, request answers and
 * server-started ones alike, is one line of compact JSON on stdout, in the
 * order produced; stdout is written through libuv so a slow reader never
 * blocks the loop. Lines are handled in the order they come: while a batch
 * is dispatched across loop turns (batch.h), the input after it waits and
 * stdin is not read. */
#include "lib/json_read.h"
#include "lib/json_write.h"
#include "transport/listen.h"
#include "transport/stdio_transport.h"

#include "mcp/jsonrpc.h"
#include "mcp/modern.h"
#include "mcp/protocol.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A 2025-03-26 batch: its answers go out together, as one array. */
typedef struct stdio_batch {
  batch_job job; /* first: the runner hands this back; a slice a turn */
  stdio_transport *t;
  json_t *msgs; /* owned: the batch */
  json_t *responses;
  unsigned outstanding; /* answers still to come, +1 while dispatching */
} stdio_batch;

/* A request whose answer comes later. */
typedef struct stdio_req {
  mcp_sink sink; /* first: the dispatcher holds this */
  stdio_transport *t;
  stdio_batch *batch; /* NULL for a single request */
  mcpd_call *call;
  int pending, done;
  list_node link;
  session *own; /* a 2026-07-28 request's own session, freed with it */
} stdio_req;

static void req_free(stdio_transport *t, stdio_req *r) {
  if (r->own != NULL) {
    dispatch_session_closed(t->disp, r->own);
    session_free_detached(r->own);
  }
  free(r);
}

struct out_write {
  uv_write_t req;
  stdio_transport *t;
  char data[];
};

static void write_cb(uv_write_t *w, int status) {
  struct out_write *ow = (struct out_write *)w;
  stdio_transport *t = ow->t;
  t->writes--;
  if (status < 0 && status != UV_ECANCELED)
    log_msg(t->log, LOGLVL_WARN, "stdio_write_failed", "error=%s", uv_strerror(status));
  free(ow);
}

/* Writes msg as one line. */
static void write_line(stdio_transport *t, const json_t *msg) {
  struct out_write *ow;
  uv_buf_t b;

  if (msg == NULL || (t->wr == NULL && !t->file_out))
    return;
  buf_reset(&t->scratch);
  if (json_write(&t->scratch, msg) < 0 || buf_append(&t->scratch, "\n", 1) < 0)
    return;
  if (t->file_out) {
    /* A regular file never blocks for long: write it in place. */
    size_t off = 0;
    while (off < t->scratch.len) {
      ssize_t w = write(1, t->scratch.data + off, t->scratch.len - off);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return;
      off += (size_t)w;
    }
    t->lines_out++;
    return;
  }
  ow = malloc(sizeof(*ow) + t->scratch.len);
  if (ow == NULL)
    return;
  memcpy(ow->data, t->scratch.data, t->scratch.len);
  ow->t = t;
  b = uv_buf_init(ow->data, (unsigned)t->scratch.len);
  if (uv_write(&ow->req, t->wr, &b, 1, write_cb) < 0) {
    free(ow);
    return;
  }
  t->writes++;
  t->lines_out++;
}

static int channel_send(mcp_sink *sink, session *s, const json_t *msg, int final) {
  stdio_transport *t = (stdio_transport *)((char *)sink - offsetof(stdio_transport, channel));
  (void)s;
  (void) final;
  write_line(t, msg);
  return 0;
}

/* ---- subscriptions/listen (2026-07-28) ------------------------------------------ */

/* A listen shares stdout: its notifications carry its id, and it ends when
 * the client cancels it (notifications/cancelled naming it), or at
 * shutdown with its result. */
typedef struct stdio_listen {
  mcp_sink sink; /* first: the session's channel (s->out) */
  stdio_transport *t;
  session *s; /* owned, detached */
  json_t *id; /* owned */
  listen_filter f;
  list_node link;
} stdio_listen;

static int listen_send(mcp_sink *sink, session *s, const json_t *msg, int final) {
  stdio_listen *l = (stdio_listen *)sink;
  json_t *copy = listen_tagged(&l->f, msg, l->id);
  (void)s;
  (void) final;
  write_line(l->t, copy);
  json_decref(copy);
  return 0;
}

static void listen_free(stdio_transport *t, stdio_listen *l) {
  list_remove(&l->link);
  t->n_listens--;
  dispatch_listen_remove(t->disp, l->s);
  dispatch_session_closed(t->disp, l->s);
  session_free_detached(l->s);
  json_decref(l->id);
  free(l);
}

/* Opens the listen m in s (stolen). */
static void listen_begin(stdio_transport *t, const jsonrpc_msg *m, session *s) {
  json_t *ack = NULL, *err = NULL;
  listen_filter f;
  stdio_listen *l;

  /* One client, but each listen holds a session: as many as one address may
   * hold streams over HTTP. */
  if (t->n_listens >= t->cfg->max_streams_per_client) {
    err = jsonrpc_error(m->id, JSONRPC_INTERNAL_ERROR,
                        "too many listens open (limits.max_streams_per_client): cancel one first",
                        NULL);
  } else if (listen_open(t->disp, m, s, &f, &ack, &err) == 0 &&
             (l = calloc(1, sizeof(*l))) != NULL) {
    l->sink.send = listen_send;
    l->t = t;
    l->s = s;
    l->id = json_incref((json_t *)m->id);
    l->f = f;
    s->out = &l->sink;
    list_insert_tail(&t->listens, &l->link);
    t->n_listens++;
    dispatch_listen_add(t->disp, s);
    write_line(t, ack);
    json_decref(ack);
    dispatch_listen_snapshot(t->disp, s);
    return;
  } else if (err == NULL) {
    err = jsonrpc_error(m->id, JSONRPC_INTERNAL_ERROR, "out of memory", NULL);
  }
  json_decref(ack);
  write_line(t, err);
  json_decref(err);
  session_free_detached(s);
}

/* notifications/cancelled naming a listen ends it (no answer, as for any
 * cancelled request). Returns 1 when it named one. */
static int listen_cancel(stdio_transport *t, const jsonrpc_msg *m) {
  const json_t *id = json_object_get(m->params, "requestId");
  list_node *n;
  if (id == NULL || strcmp(m->method, "notifications/cancelled") != 0)
    return 0;
  for (n = t->listens.next; n != &t->listens; n = n->next) {
    stdio_listen *l = list_entry(n, stdio_listen, link);
    if (json_equal(l->id, (json_t *)id)) {
      listen_free(t, l);
      return 1;
    }
  }
  return 0;
}

static void batch_release(stdio_transport *t, stdio_batch *b) {
  if (--b->outstanding > 0)
    return;
  if (json_array_size(b->responses) > 0)
    write_line(t, b->responses);
  json_decref(b->responses);
  json_decref(b->msgs);
  free(b);
}

static int req_send(mcp_sink *sink, session *s, const json_t *msg, int final) {
  stdio_req *r = (stdio_req *)sink;
  (void)s;
  if (final && r->batch != NULL) {
    if (msg != NULL)
      json_array_append(r->batch->responses, (json_t *)msg);
    batch_release(r->t, r->batch);
  } else {
    write_line(r->t, msg); /* notifications and requests go out at once */
  }
  if (final && r->pending) {
    list_remove(&r->link);
    req_free(r->t, r);
  } else if (final) {
    r->done = 1; /* answered while it was dispatched */
  }
  return 0;
}

/* Dispatches one message; its answer goes to batch (if any) or out. */
static void handle_msg(stdio_transport *t, const json_t *msg, stdio_batch *batch) {
  json_t *resp = NULL;
  jsonrpc_msg m;
  mcpd_call *call = NULL;
  stdio_req *r = calloc(1, sizeof(*r));

  if (r == NULL)
    return;
  jsonrpc_classify(msg, &m);
  r->sink.send = req_send;
  r->t = t;
  r->batch = batch;
  if (batch == NULL && m.kind == JSONRPC_REQUEST && modern_claimed(&m, NULL, 0)) {
    /* 2026-07-28 on stdio: the envelope, no headers; a session of its own. */
    modern_req mr;
    modern_err err;
    if (modern_check(&m, NULL, &mr, &err) < 0) {
      resp = modern_error_response(&m, &err); /* takes err.data */
      write_line(t, resp);
      json_decref(resp);
      free(r);
      return;
    }
    if ((r->own = session_new_detached(mr.version, mr.capabilities)) == NULL) {
      free(r);
      return;
    }
    if (strcmp(m.method, "subscriptions/listen") == 0) {
      listen_begin(t, &m, r->own);
      free(r);
      return;
    }
    r->own->log_level = mr.log_level ? dispatch_log_level(mr.log_level) : 8;
    if (r->own->log_level < 0)
      r->own->log_level = 8;
  }
  if (m.kind == JSONRPC_NOTIFICATION && batch == NULL && listen_cancel(t, &m)) {
    free(r);
    return;
  }
  if (batch != NULL)
    batch->outstanding++;
  if (dispatch_message(t->disp, r->own ? r->own : t->s, &m, &r->sink, &resp, &call) ==
          DISPATCH_PENDING &&
      !r->done) {
    r->call = call;
    r->pending = 1;
    list_insert_tail(&t->reqs, &r->link);
    return;
  }
  if (!r->done) {
    /* Answered at once (or not at all, for a notification). */
    if (batch != NULL) {
      if (resp != NULL)
        json_array_append(batch->responses, resp);
      batch->outstanding--;
    } else {
      write_line(t, resp);
    }
  }
  json_decref(resp);
  req_free(t, r);
}

static void batch_run(batch_job *job, const json_t *msg) {
  stdio_batch *b = (stdio_batch *)job;
  handle_msg(b->t, msg, b);
}

static void resume_input(stdio_transport *t);

/* The batch's last slice ran: the input after it goes on. */
static void batch_done(batch_job *job) {
  stdio_batch *b = (stdio_batch *)job;
  stdio_transport *t = b->t;
  t->running = NULL;
  batch_release(t, b); /* the dispatching hold */
  resume_input(t);
}

static void handle_line(stdio_transport *t, const char *p, size_t len) {
  json_read_limits lim;
  json_read_error je;
  json_t *msg, *resp;
  stdio_batch *batch;

  while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t'))
    len--;
  if (len == 0)
    return;
  t->lines_in++;
  lim.max_values = t->cfg->max_json_values;
  lim.max_elements = t->cfg->max_batch_messages;
  if (json_read_limited(p, len, &lim, &msg, &je) == -E2BIG) {
    char text[200];
    if (je.over == JSON_READ_OVER_ELEMENTS)
      snprintf(text, sizeof(text),
               "the batch has more than %u messages, the limit (limits.max_batch_messages): send "
               "it in smaller batches",
               t->cfg->max_batch_messages);
    else
      snprintf(text, sizeof(text),
               "the message has more than %zu JSON values, the limit (limits.max_json_values)",
               t->cfg->max_json_values);
    resp = jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST, text, NULL);
    write_line(t, resp);
    json_decref(resp);
    return;
  }
  if (msg == NULL) {
    char text[300];
    snprintf(text, sizeof(text), "Parse error: %s (column %d)", je.text, je.column);
    resp = jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, text, NULL);
    write_line(t, resp);
    json_decref(resp);
    return;
  }
  if (!json_is_array(msg)) {
    handle_msg(t, msg, NULL);
    json_decref(msg);
    return;
  }
  if (t->s->version != PROTO_2025_03_26 || json_array_size(msg) == 0) {
    resp = jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST,
                         json_array_size(msg) == 0
                             ? "empty batch"
                             : "JSON-RPC batches are only accepted in sessions that negotiated "
                               "2025-03-26",
                         NULL);
    write_line(t, resp);
    json_decref(resp);
    json_decref(msg);
    return;
  }
  batch = calloc(1, sizeof(*batch));
  if (batch == NULL || (batch->responses = json_array()) == NULL) {
    free(batch);
    json_decref(msg);
    return;
  }
  batch->t = t;
  batch->msgs = msg;
  batch->outstanding = 1; /* held while dispatching */
  batch->job.msgs = msg;
  batch->job.run = batch_run;
  batch->job.done = batch_done;
  if (batch_start(&t->batches, &batch->job) == 0)
    batch_release(t, batch);
  else
    t->running = batch;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)h;
  b->base = malloc(suggested);
  b->len = b->base ? suggested : 0;
}

static void at_eof(stdio_transport *t) {
  if (t->eof)
    return;
  t->eof = 1;
  log_msg(t->log, LOGLVL_INFO, "stdio_eof", "lines_in=%llu lines_out=%llu",
          (unsigned long long)t->lines_in, (unsigned long long)t->lines_out);
  if (t->on_eof != NULL)
    t->on_eof(t->arg);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void fs_read_next(stdio_transport *t);

/* Splits input into lines and handles each complete one. Behind a batch
 * still dispatching, the rest waits in t->held and reading pauses. */
static void feed(stdio_transport *t, const char *p, const char *end) {
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    if (t->running != NULL) {
      /* At most one read's worth: reading stops until the batch is done. */
      if (buf_append(&t->held, p, (size_t)(end - p)) < 0)
        log_msg(t->log, LOGLVL_ERROR, "stdio_input_lost", "bytes=%zu reason=out_of_memory",
                (size_t)(end - p));
      if (t->rd != NULL && !t->paused)
        uv_read_stop(t->rd);
      t->paused = 1;
      return;
    }
    if (t->skipping) {
      if (nl != NULL)
        t->skipping = 0;
    } else if (buf_append(&t->line, p, (size_t)(stop - p)) < 0) {
      json_t *resp = jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST,
                                   "message too large (limits.max_body_bytes)", NULL);
      log_msg(t->log, LOGLVL_WARN, "stdio_line_too_long", "limit=%zu", t->line.limit);
      write_line(t, resp);
      json_decref(resp);
      buf_reset(&t->line);
      t->skipping = nl == NULL;
    } else if (nl != NULL) {
      handle_line(t, t->line.data, t->line.len);
      buf_reset(&t->line);
    }
    p = nl ? nl + 1 : end;
  }
}

/* After a batch: the input that waited behind it, then reading again. */
static void resume_input(stdio_transport *t) {
  buf held = t->held;
  if (t->eof || t->closing)
    return; /* stopping: what waited is not read */
  memset(&t->held, 0, sizeof(t->held));
  feed(t, held.data, held.data + held.len);
  buf_free(&held);
  if (t->running != NULL || !t->paused || t->eof || t->closing)
    return;
  t->paused = 0;
  if (t->rd != NULL)
    uv_read_start(t->rd, alloc_cb, read_cb);
  else
    fs_read_next(t);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  stdio_transport *t = s->data;
  if (nread > 0)
    feed(t, b->base, b->base + nread);
  free(b->base);
  if (nread < 0) {
    uv_read_stop(s);
    if (t->line.len > 0) /* a last line without its newline */
      handle_line(t, t->line.data, t->line.len);
    buf_reset(&t->line);
    at_eof(t);
  }
}

#define FS_CHUNK 65536

/* stdin from a file ended (or cannot be read on). */
static void fs_input_end(stdio_transport *t) {
  if (t->line.len > 0)
    handle_line(t, t->line.data, t->line.len);
  buf_reset(&t->line);
  at_eof(t);
}

static void fs_read_cb(uv_fs_t *req) {
  stdio_transport *t = req->data;
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  t->fs_reading = 0;
  if (n > 0 && !t->eof) {
    feed(t, t->fs_buf, t->fs_buf + n);
    if (t->paused)
      return; /* resume_input() reads on */
    if (!t->eof && !t->closing) {
      fs_read_next(t);
      return;
    }
  }
  fs_input_end(t);
}

static void fs_read_next(stdio_transport *t) {
  uv_buf_t b = uv_buf_init(t->fs_buf, FS_CHUNK);
  t->fs_reading = uv_fs_read(t->loop, &t->fs_req, 0, &b, 1, -1, fs_read_cb) == 0;
  if (!t->fs_reading)
    fs_input_end(t);
}

/* Opens fd as a stream: a pipe (or socket) or a terminal. *file is set for
 * a regular file (no stream). */
static uv_stream_t *open_fd(uv_loop_t *loop, int fd, uv_pipe_t *pipe, uv_tty_t *tty, int readable,
                            int *file) {
  *file = 0;
  switch (uv_guess_handle(fd)) {
  case UV_TTY:
    if (uv_tty_init(loop, tty, fd, readable) < 0)
      return NULL;
    return (uv_stream_t *)tty;
  case UV_NAMED_PIPE:
  case UV_TCP:
    if (uv_pipe_init(loop, pipe, 0) < 0)
      return NULL;
    if (uv_pipe_open(pipe, fd) < 0) {
      uv_close((uv_handle_t *)pipe, NULL);
      return NULL;
    }
    return (uv_stream_t *)pipe;
  case UV_FILE:
    *file = 1;
    return NULL;
  default:
    return NULL;
  }
}

int stdio_start(stdio_transport *t, uv_loop_t *loop, dispatch *d, session_table *sessions,
                const config *cfg, const logger *lg, void (*on_eof)(void *arg), void *arg) {
  int r;
  memset(t, 0, sizeof(*t));
  t->loop = loop;
  t->disp = d;
  t->sessions = sessions;
  t->cfg = cfg;
  t->log = lg;
  t->on_eof = on_eof;
  t->arg = arg;
  t->line.limit = cfg->max_body_bytes;
  list_init(&t->reqs);
  list_init(&t->listens);
  t->channel.send = channel_send;
  t->rd = open_fd(loop, 0, &t->in, &t->in_tty, 1, &t->file_in);
  t->wr = open_fd(loop, 1, &t->out, &t->out_tty, 0, &t->file_out);
  if ((t->rd == NULL && !t->file_in) || (t->wr == NULL && !t->file_out) ||
      (t->file_in && (t->fs_buf = malloc(FS_CHUNK)) == NULL)) {
    log_msg(lg, LOGLVL_ERROR, "stdio_unusable",
            "reason=\"--stdio needs stdin and stdout to be pipes, a terminal or files\"");
    r = -EBADF;
    goto fail;
  }
  r = session_create(sessions, &t->s);
  if (r < 0) {
    log_msg(lg, LOGLVL_ERROR, "stdio_session_failed", "error=%s", uv_strerror(r));
    goto fail;
  }
  r = batch_runner_init(&t->batches, loop);
  if (r < 0)
    goto fail;
  t->s->holds++; /* the only session: it lives as long as the process */
  t->s->out = &t->channel;
  if (t->rd != NULL) {
    t->rd->data = t;
    uv_read_start(t->rd, alloc_cb, read_cb);
  } else {
    uv_buf_t b = uv_buf_init(t->fs_buf, FS_CHUNK);
    t->fs_req.data = t;
    t->fs_reading = uv_fs_read(loop, &t->fs_req, 0, &b, 1, -1, fs_read_cb) == 0;
  }
  log_msg(lg, LOGLVL_INFO, "stdio_ready", "session=%s", t->s->id);
  return 0;

fail:
  if (t->rd != NULL)
    uv_close((uv_handle_t *)t->rd, NULL);
  if (t->wr != NULL)
    uv_close((uv_handle_t *)t->wr, NULL);
  t->rd = t->wr = NULL;
  free(t->fs_buf);
  t->fs_buf = NULL;
  return r;
}

void stdio_drain(stdio_transport *t) {
  /* Listens end gracefully, with their result. */
  while (!list_empty(&t->listens)) {
    stdio_listen *l = list_entry(t->listens.next, stdio_listen, link);
    json_t *done = listen_result(l->id);
    write_line(t, done);
    json_decref(done);
    listen_free(t, l);
  }
  if (t->rd != NULL && !t->eof)
    uv_read_stop(t->rd);
  if (t->fs_reading)
    uv_cancel((uv_req_t *)&t->fs_req);
  t->eof = 1;
}

int stdio_busy(const stdio_transport *t) {
  return t->writes > 0 || t->fs_reading || t->running != NULL;
}

void stdio_close(stdio_transport *t) {
  if (t->closing)
    return;
  t->closing = 1;
  batch_runner_close(&t->batches);
  if (t->running != NULL) {
    stdio_batch *b = t->running;
    t->running = NULL;
    batch_release(t, b); /* the dispatching hold: the rest is never run */
  }
  while (!list_empty(&t->listens))
    listen_free(t, list_entry(t->listens.next, stdio_listen, link));
  while (!list_empty(&t->reqs)) {
    stdio_req *r = list_entry(t->reqs.next, stdio_req, link);
    list_remove(&r->link);
    dispatch_abandon(t->disp, r->call);
    if (r->batch != NULL)
      batch_release(t, r->batch); /* the answers it has go out with it */
    req_free(t, r);
  }
  if (t->s != NULL) {
    t->s->out = NULL;
    t->s->holds--;
  }
  if (t->rd != NULL)
    uv_close((uv_handle_t *)t->rd, NULL);
  if (t->wr != NULL)
    uv_close((uv_handle_t *)t->wr, NULL);
  buf_free(&t->line);
  buf_free(&t->held);
  buf_free(&t->scratch);
  free(t->fs_buf);
  t->fs_buf = NULL;
}
