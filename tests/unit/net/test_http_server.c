/* test_http_server.c -- the HTTP server fed through a socketpair
 * (http_server_adopt()): obs-fold is refused wherever the bytes are split
 * between reads, a request without one is not refused wherever it is split,
 * and a client that pipelines and does not read is paused at
 * max_unread_bytes, then gets every answer once it reads. */
#include "net/http_server.h"

#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t loop;
static logger lg;
static unsigned requests_seen;
static size_t answer_len = 2; /* the body of every answer */

static void on_request(http_req *req, void *arg) {
  static char body[16384];
  (void)arg;
  requests_seen++;
  memset(body, 'x', sizeof(body));
  http_respond(req, 200, "Content-Type: text/plain\r\n", body, answer_len);
}

static void turns(int n) {
  while (n-- > 0)
    uv_run(&loop, UV_RUN_NOWAIT);
}

static void read_all(int fd, buf *out) {
  char tmp[65536];
  ssize_t k;
  while ((k = read(fd, tmp, sizeof(tmp))) > 0)
    CHECK_EQ_INT(buf_append(out, tmp, (size_t)k), 0);
}

static int on_closed;
static void closed_cb(http_server *hs) {
  (void)hs;
  on_closed = 1;
}

/* Sends req in two writes split at `at`, with loop turns between, and
 * returns the status of the first answer (0: none). */
static int status_split(const char *req, size_t at) {
  http_server hs;
  http_limits lim;
  buf out = {0};
  int sv[2], status = 0;
  size_t len = strlen(req);

  memset(&lim, 0, sizeof(lim));
  lim.max_header_bytes = 4096;
  lim.max_headers = 32;
  lim.max_body_bytes = 4096;
  lim.max_connections = 4;
  lim.max_pipelined = 4;
  lim.max_write_queue_bytes = 1 << 20;
  CHECK_EQ_INT(http_server_init(&hs, &loop, &lim, &lg, on_request, NULL), 0);
  CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  CHECK_EQ_INT(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
  CHECK_EQ_INT(http_server_adopt(&hs, sv[0]), 0);
  CHECK_EQ_INT(write(sv[1], req, at), (long long)at);
  turns(3);
  CHECK_EQ_INT(write(sv[1], req + at, len - at), (long long)(len - at));
  turns(3);
  read_all(sv[1], &out);
  if (out.len > 12 && memcmp(out.data, "HTTP/1.1 ", 9) == 0)
    status = atoi(out.data + 9);
  on_closed = 0;
  http_server_close(&hs, closed_cb);
  turns(8);
  CHECK(on_closed);
  http_server_free(&hs);
  close(sv[1]);
  buf_free(&out);
  return status;
}

/* Every split of each request gets `want`. */
static void every_split(const char *req, int want) {
  size_t at, len = strlen(req);
  for (at = 1; at < len; at++) {
    int got = status_split(req, at);
    if (got != want)
      fprintf(stderr, "split at %zu of %s: %d, want %d\n", at, req, got, want);
    CHECK_EQ_INT(got, want);
  }
}

static void test_fold_refused_at_every_split(void) {
  every_split("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
              400);
  every_split("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\t3\r\n\r\nabc", 400);
  every_split("GET /x HTTP/1.1\r\nHost: a\r\nX-A: one\r\n  two\r\n\r\n", 400);
}

static void test_no_fold_accepted_at_every_split(void) {
  /* Whitespace inside and around values, an empty value, a chunked body
   * with an extension, and a second request: nothing here is a fold. */
  every_split("POST /x HTTP/1.1\r\nHost: a\r\nX-A:  b \t c  \r\nX-E:\r\nX-F: \r\n"
              "Content-Length: 3\r\n\r\nabc",
              200);
  every_split("POST /x HTTP/1.1\r\nHost:\ta\r\nTransfer-Encoding:  chunked \r\n\r\n"
              "3;ext=1\r\nabc\r\n0\r\n\r\nGET /y HTTP/1.1\r\nHost: a\r\n\r\n",
              200);
}

static void test_transfer_encoding(void) {
  CHECK_EQ_INT(
      status_split("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n"
                   "\r\n0\r\n\r\n",
                   5),
      400);
  CHECK_EQ_INT(status_split("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n"
                            "\r\n0\r\n\r\n",
                            5),
               200);
}

/* 400 requests of 16 kB answers, never read: the server stops reading at
 * max_unread_bytes; once the client reads, every answer comes. */
static void test_unread_output_pauses(void) {
  static const char one[] = "GET /m HTTP/1.1\r\nHost: a\r\n\r\n";
  enum { N = 400 };
  http_server hs;
  http_limits lim;
  buf out = {0}, reqs = {0};
  int sv[2], i, answers = 0, spins;
  const char *p;

  memset(&lim, 0, sizeof(lim));
  lim.max_header_bytes = 4096;
  lim.max_headers = 32;
  lim.max_body_bytes = 4096;
  lim.max_connections = 4;
  lim.max_pipelined = 8;
  lim.max_write_queue_bytes = 1 << 20;
  lim.max_unread_bytes = 64 * 1024;
  answer_len = 16384;
  requests_seen = 0;
  CHECK_EQ_INT(http_server_init(&hs, &loop, &lim, &lg, on_request, NULL), 0);
  CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  CHECK_EQ_INT(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
  CHECK_EQ_INT(http_server_adopt(&hs, sv[0]), 0);
  for (i = 0; i < N; i++)
    CHECK_EQ_INT(buf_append(&reqs, one, sizeof(one) - 1), 0);
  CHECK_EQ_INT(write(sv[1], reqs.data, reqs.len), (long long)reqs.len);
  turns(50);
  /* Answered: what fits the socket buffers, the bound, and the requests
   * already in flight when it was passed. Far from all. */
  CHECK(requests_seen > 0);
  CHECK(requests_seen < N / 2);
  /* Now it reads: every answer arrives. */
  for (spins = 0; spins < 100000 && answers < N; spins++) {
    read_all(sv[1], &out);
    uv_run(&loop, UV_RUN_NOWAIT);
    answers = 0;
    for (p = out.data; p != NULL && (p = memmem(p, out.len - (size_t)(p - out.data),
                                                "HTTP/1.1 200 ", 13)) != NULL;
         p += 13)
      answers++;
  }
  CHECK_EQ_INT(answers, N);
  CHECK_EQ_INT(requests_seen, N);
  on_closed = 0;
  http_server_close(&hs, closed_cb);
  turns(8);
  CHECK(on_closed);
  http_server_free(&hs);
  close(sv[1]);
  buf_free(&out);
  buf_free(&reqs);
  answer_len = 2;
}

int main(void) {
  CHECK_EQ_INT(uv_loop_init(&loop), 0);
  log_init(&lg, LOGLVL_ERROR, 2);
  RUN(test_fold_refused_at_every_split);
  RUN(test_no_fold_accepted_at_every_split);
  RUN(test_transfer_encoding);
  RUN(test_unread_output_pauses);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  TEST_MAIN_END();
}
