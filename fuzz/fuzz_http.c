/* fuzz_http.c -- fuzzes the HTTP request path in process: the input is
 * the byte stream a client sends on one connection (pipelined requests,
 * chunked bodies, anything), written into one end of a Unix socketpair
 * whose other end the real server reads (http_server_adopt(): the same
 * read callback, llhttp parser, limits and response queue as an accepted
 * TCP connection). Requests are routed as the daemon routes them: /mcp to
 * the Streamable HTTP transport, /sse and /messages to the HTTP+SSE one,
 * over the fuzz_core registry and dispatcher, so the MCP handlers and the
 * dispatcher run too.
 *
 * Input conventions, to reach what a single write could not:
 *   - each 0xFF byte is a pause: it is dropped, and the loop runs a turn
 *     before the rest is written, so requests arrive in pieces (a body
 *     split across reads) and earlier answers (a session) exist;
 *   - "@sid" after a pause is replaced by the id of the session most
 *     recently active at that point (ids are random otherwise);
 *   - a 0xFE byte hangs up: the client half-closes right there, before
 *     the server had a turn to answer, and the rest is not sent (what was
 *     in flight is aborted).
 * Otherwise the client half-closes a few turns after the input (queued
 * completions are answered first). Then the server is closed. Oracle, besides ASan/UBSan: what the
 * server wrote back parses as a sequence of HTTP/1.1 responses (llhttp in response mode; only a
 * truncated last response is allowed, and inputs with HEAD requests are not checked, since their
 * responses have no body). FUZZ_HTTP_SHOW=1 in the environment prints what the server wrote, to
 * check a seed. */
#include "lib/buf.h"
#include "mcp/session.h"
#include "net/http_server.h"
#include "transport/legacy_sse.h"
#include "transport/mcp_http.h"

#include "fuzz.h"
#include "fuzz_core.h"

#include <errno.h>
#include <fcntl.h>
#include <llhttp.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAUSES    16
#define TAIL_TURNS    6  /* after the input: queued completions, then EOF */
#define CLOSE_TURNS   16 /* for the server's handles to close */
#define MAX_OUTPUT    (1 << 20)
#define SID_TOKEN     "@sid"
#define SID_TOKEN_LEN 4

static fuzz_core core;
static mcp_http mcp;
static legacy_sse legacy;
static http_limits limits;
static int show_output; /* FUZZ_HTTP_SHOW=1: print what the server wrote */

static void on_request(http_req *req, void *arg) {
  (void)arg;
  req->route = metrics_route(req->path, req->path_len);
  http_req_tag(req->tag_path, sizeof(req->tag_path), req->path, req->path_len);
  if (req->path_len == 4 && memcmp(req->path, "/mcp", 4) == 0) {
    mcp_http_handle(&mcp, req);
  } else if (strcmp(req->path, "/sse") == 0) {
    legacy_sse_get(&legacy, req, NULL);
  } else if (strcmp(req->path, "/messages") == 0 || strcmp(req->path, "/messages/") == 0) {
    legacy_sse_post(&legacy, req);
  } else {
    static const char body[] = "404 Not Found\n";
    http_respond(req, 404, "Content-Type: text/plain\r\n", body, sizeof(body) - 1);
  }
}

static void on_done(const http_req *req, void *arg) {
  (void)arg;
  metrics_http(&core.metrics, req->route, req->status);
}

static void on_session_removed(session_table *t, session *s, const char *why, void *arg) {
  (void)t;
  (void)why;
  (void)arg;
  mcp_http_session_removed(&mcp, s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_core_init(&core, on_session_removed, NULL);
  core.cfg.max_body_bytes = 8192;
  core.cfg.sse_replay_events = 4;
  mcp_http_init(&mcp, &core.loop, &core.disp, &core.sessions, &core.cfg, &core.log, 1);
  legacy_sse_init(&legacy, &mcp);
  limits.max_header_bytes = 4096;
  limits.max_headers = 32;
  limits.max_body_bytes = core.cfg.max_body_bytes;
  limits.max_connections = 4;
  limits.max_pipelined = 4;
  limits.max_write_queue_bytes = 64 * 1024;
  /* Timeouts stay 0 (off): the loop only runs non-blocking turns. */
  show_output = getenv("FUZZ_HTTP_SHOW") != NULL;
  return 0;
}

/* Reads what the server wrote so far into out (kept up to MAX_OUTPUT). */
static void drain(int fd, buf *out) {
  char tmp[16384];
  ssize_t n;
  while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
    if (out->len + (size_t)n <= MAX_OUTPUT)
      FUZZ_CHECK(buf_append(out, tmp, (size_t)n) == 0);
  }
}

/* Writes len bytes to fd (non-blocking; the server reads between turns). */
static void put(int fd, const char *p, size_t len, buf *out) {
  int spins = 0;
  while (len > 0 && spins++ < 64) {
    ssize_t n = write(fd, p, len);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
    } else {
      uv_run(&core.loop, UV_RUN_NOWAIT);
      drain(fd, out);
    }
  }
}

/* The piece [p, end) with SID_TOKEN replaced by the newest session's id. */
static void put_piece(int fd, const char *p, const char *end, buf *out) {
  const char *sid = NULL;
  if (!list_empty(&core.sessions.lru))
    sid = list_entry(core.sessions.lru.prev, session, lru)->id;
  while (p < end) {
    const char *tok = sid ? memmem(p, (size_t)(end - p), SID_TOKEN, SID_TOKEN_LEN) : NULL;
    if (tok == NULL) {
      put(fd, p, (size_t)(end - p), out);
      return;
    }
    put(fd, p, (size_t)(tok - p), out);
    put(fd, sid, strlen(sid), out);
    p = tok + SID_TOKEN_LEN;
  }
}

static int on_closed_flag;
static void on_server_closed(http_server *hs) {
  (void)hs;
  on_closed_flag = 1;
}

/* The server's output must be well-framed HTTP/1.1 responses. */
static void check_responses(const buf *out) {
  llhttp_t parser;
  llhttp_settings_t settings;
  llhttp_errno_t err;
  if (out->len == 0 || out->len >= MAX_OUTPUT)
    return;
  llhttp_settings_init(&settings);
  llhttp_init(&parser, HTTP_RESPONSE, &settings);
  err = llhttp_execute(&parser, out->data, out->len);
  if (err != HPE_OK && err != HPE_PAUSED_UPGRADE) {
    fprintf(stderr, "bad response framing: %s (%s) at offset %zu of:\n%.*s\n",
            llhttp_errno_name(err), llhttp_get_error_reason(&parser),
            (size_t)(llhttp_get_error_pos(&parser) - out->data), (int)out->len, out->data);
    FUZZ_CHECK(!"the server's output is not a sequence of HTTP responses");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size;
  const char *hangup = memchr(p, 0xFE, size);
  http_server hs;
  buf out = {0};
  int sv[2], pauses = 0, turn;

  FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  FUZZ_CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
  FUZZ_CHECK(http_server_init(&hs, &core.loop, &limits, &core.log, on_request, NULL) == 0);
  hs.on_done = on_done;
  FUZZ_CHECK(http_server_adopt(&hs, sv[0]) == 0);

  /* The input up to a hang-up, in pieces at each 0xFF. */
  if (hangup != NULL)
    end = hangup;
  while (p < end) {
    const char *pause = memchr(p, 0xFF, (size_t)(end - p));
    const char *stop = pause ? pause : end;
    put_piece(sv[1], p, stop, &out);
    p = pause ? pause + 1 : end;
    if (pause != NULL && pauses++ < MAX_PAUSES) {
      uv_run(&core.loop, UV_RUN_NOWAIT);
      drain(sv[1], &out);
    }
  }
  /* Let it answer (queued completions take a turn), then half-close. */
  if (hangup != NULL)
    shutdown(sv[1], SHUT_WR);
  for (turn = 0; turn < TAIL_TURNS && hs.n_conns > 0; turn++) {
    if (turn == TAIL_TURNS / 2 && hangup == NULL)
      shutdown(sv[1], SHUT_WR);
    uv_run(&core.loop, UV_RUN_NOWAIT);
    drain(sv[1], &out);
  }
  on_closed_flag = 0;
  http_server_close(&hs, on_server_closed);
  for (turn = 0; turn < CLOSE_TURNS && !on_closed_flag; turn++)
    uv_run(&core.loop, UV_RUN_NOWAIT);
  FUZZ_CHECK(on_closed_flag);
  http_server_free(&hs);
  drain(sv[1], &out);
  close(sv[1]);

  fuzz_core_remove_sessions(&core);
  fuzz_core_cancel_calls(&core);
  FUZZ_CHECK(core.calls.n_live == 0);
  if (show_output)
    fprintf(stderr, "---- server output (%zu bytes) ----\n%.*s\n----\n", out.len, (int)out.len,
            out.data ? out.data : "");
  if (memmem(data, size, "HEAD", 4) == NULL)
    check_responses(&out);
  buf_free(&out);
  return 0;
}
