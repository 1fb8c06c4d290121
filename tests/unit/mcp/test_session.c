/* test_session.c -- the session table: create / lookup / remove (the
 * on_remove hook runs first, with the reason), ids (32 hex digits after
 * the table's prefix, unique), the max-sessions rule (a session without a
 * hold is evicted: one never used since it was created first, else the
 * least recently active; with every session held the table is full,
 * -EAGAIN), the cap per client address (a client at its cap evicts only its
 * own sessions, -EDQUOT when all are held; a full table takes the client's
 * own unused sessions first, then anybody's unused ones, and keeps used
 * ones over newer unused ones), idle expiry on a real uv loop (idle
 * sessions go, held ones and recently found ones stay; idle_ms 0 never
 * expires), and session_table_close. */
#include "mcp/session.h"
#include "test.h"

#include <errno.h>
#include <string.h>

/* What on_remove saw. */
static struct {
  int n;
  char why[8][16];
  char id[8][SESSION_ID_MAX + 1];
  int table_ok;
} removed;

static void on_remove(session_table *t, session *s, const char *why, void *arg) {
  if (removed.n < 8) {
    snprintf(removed.why[removed.n], sizeof(removed.why[0]), "%s", why);
    snprintf(removed.id[removed.n], sizeof(removed.id[0]), "%s", s->id);
  }
  /* Still in the table while the hook runs. */
  removed.table_ok = arg == t && session_find(t, s->id, strlen(s->id)) == s;
  removed.n++;
}

static void reset_removed(void) {
  memset(&removed, 0, sizeof(removed));
}

static int is_hex_id(const char *s, size_t len) {
  size_t i;
  for (i = 0; i < len; i++) {
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  }
  return s[len] == '\0';
}

/* Runs the loop for about ms (a referenced timer keeps it alive: the
 * table's sweep timer is unreferenced). */
static void noop_cb(uv_timer_t *t) {
  (void)t;
}

static void run_for(uv_loop_t *loop, uint64_t ms) {
  uv_timer_t t;
  uv_timer_init(loop, &t);
  uv_timer_start(&t, noop_cb, ms, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

static void close_table(uv_loop_t *loop, session_table *t) {
  session_table_close(t);
  uv_run(loop, UV_RUN_DEFAULT);
}

static void test_create_find_remove(void) {
  uv_loop_t loop;
  session_table t;
  session *a = NULL, *b = NULL;
  char id[SESSION_ID_MAX + 1];

  reset_removed();
  uv_loop_init(&loop);
  CHECK_EQ_INT(session_table_init(&t, &loop, 10, 0, on_remove, &t), 0);
  CHECK_EQ_INT(session_create(&t, &a), 0);
  CHECK_EQ_INT(session_create(&t, &b), 0);
  CHECK(a != NULL && b != NULL && a != b);
  if (a == NULL || b == NULL)
    return;
  CHECK_EQ_INT(strlen(a->id), SESSION_ID_LEN);
  CHECK(is_hex_id(a->id, SESSION_ID_LEN));
  CHECK(strcmp(a->id, b->id) != 0);
  CHECK_EQ_INT(t.count, 2);
  CHECK_EQ_INT(t.created_total, 2);
  /* A fresh session: no revision yet, no calls, empty capabilities. */
  CHECK_EQ_INT(a->version, -1);
  CHECK_EQ_INT(a->holds, 0);
  CHECK(json_is_object(a->client_capabilities) && json_object_size(a->client_capabilities) == 0);
  CHECK(a->client_info == NULL);
  CHECK(a->out == NULL);

  CHECK(session_find(&t, a->id, strlen(a->id)) == a);
  CHECK(session_find(&t, b->id, strlen(b->id)) == b);
  CHECK(session_find(&t, a->id, strlen(a->id) - 1) == NULL);
  CHECK(session_find(&t, "nope", 4) == NULL);
  CHECK(session_find(&t, "", 0) == NULL);

  snprintf(id, sizeof(id), "%s", a->id);
  session_remove(&t, a, "deleted");
  CHECK_EQ_INT(removed.n, 1);
  CHECK_EQ_STR(removed.why[0], "deleted");
  CHECK_EQ_STR(removed.id[0], id);
  CHECK(removed.table_ok);
  CHECK_EQ_INT(t.count, 1);
  CHECK(session_find(&t, id, strlen(id)) == NULL);
  CHECK(session_find(&t, b->id, strlen(b->id)) == b);

  /* Closing removes the rest, as "shutdown". */
  close_table(&loop, &t);
  CHECK_EQ_INT(removed.n, 2);
  CHECK_EQ_STR(removed.why[1], "shutdown");
  CHECK_EQ_INT(t.count, 0);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

static void test_prefix(void) {
  uv_loop_t loop;
  session_table t;
  session *s = NULL;

  reset_removed();
  uv_loop_init(&loop);
  session_table_init(&t, &loop, 10, 0, on_remove, &t);
  snprintf(t.prefix, sizeof(t.prefix), "%s", "eu-west-1.node7"); /* the longest: 15 */
  CHECK_EQ_INT(session_create(&t, &s), 0);
  if (s != NULL) {
    CHECK_EQ_INT(strlen(s->id), SESSION_PREFIX_MAX + SESSION_ID_LEN);
    CHECK(strncmp(s->id, "eu-west-1.node7", 15) == 0);
    CHECK(is_hex_id(s->id + 15, SESSION_ID_LEN));
    CHECK(session_find(&t, s->id, strlen(s->id)) == s);
    /* The random part alone is not the id. */
    CHECK(session_find(&t, s->id + 15, SESSION_ID_LEN) == NULL);
  }
  t.prefix[0] = '\0';
  CHECK_EQ_INT(session_create(&t, &s), 0);
  if (s != NULL)
    CHECK_EQ_INT(strlen(s->id), SESSION_ID_LEN);
  close_table(&loop, &t);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

static void test_eviction(void) {
  uv_loop_t loop;
  session_table t;
  session *a, *b, *c, *d, *e, *f = NULL;
  char id_b[SESSION_ID_MAX + 1], id_a[SESSION_ID_MAX + 1];

  reset_removed();
  uv_loop_init(&loop);
  session_table_init(&t, &loop, 3, 0, on_remove, &t);
  CHECK_EQ_INT(session_create(&t, &a), 0);
  CHECK_EQ_INT(session_create(&t, &b), 0);
  CHECK_EQ_INT(session_create(&t, &c), 0);
  snprintf(id_a, sizeof(id_a), "%s", a->id);
  snprintf(id_b, sizeof(id_b), "%s", b->id);
  /* a is found again: b is now the least recently active. */
  CHECK(session_find(&t, a->id, strlen(a->id)) == a);
  CHECK_EQ_INT(session_create(&t, &d), 0);
  CHECK_EQ_INT(removed.n, 1);
  CHECK_EQ_STR(removed.why[0], "evicted");
  CHECK_EQ_STR(removed.id[0], id_b);
  CHECK_EQ_INT(t.evicted_total, 1);
  CHECK_EQ_INT(t.count, 3);
  CHECK(session_find(&t, id_b, strlen(id_b)) == NULL);

  /* Order now c, a, d; c and d were never used. c holds (a stream or a
   * call): d goes, newer than a but never used, while a was. */
  c->holds = 1;
  {
    char id_d[SESSION_ID_MAX + 1];
    snprintf(id_d, sizeof(id_d), "%s", d->id);
    CHECK_EQ_INT(session_create(&t, &e), 0);
    CHECK_EQ_INT(removed.n, 2);
    CHECK_EQ_STR(removed.id[1], id_d);
  }
  CHECK(session_find(&t, a->id, strlen(a->id)) == a);

  /* session_touch marks activity (and use) too: order c, a, e -> touch e. */
  session_touch(&t, e);
  /* Every session held: full, and nobody is evicted. */
  a->holds = 1;
  e->holds = 2;
  CHECK_EQ_INT(session_create(&t, &f), -EAGAIN);
  CHECK(f == NULL);
  CHECK_EQ_INT(removed.n, 2);
  CHECK_EQ_INT(t.count, 3);
  CHECK_EQ_INT(t.evicted_total, 2);
  /* Holds released: all used now but c (held), so the least recently
   * active of the free ones goes: a. */
  e->holds = 0;
  a->holds = 0;
  CHECK_EQ_INT(session_create(&t, &f), 0);
  CHECK_EQ_STR(removed.id[2], id_a);
  c->holds = 0;
  /* A larger max (as after a reload) lets the table grow again. */
  t.max = 4;
  CHECK_EQ_INT(session_create(&t, &f), 0);
  CHECK_EQ_INT(removed.n, 3);
  CHECK_EQ_INT(t.count, 4);
  close_table(&loop, &t);
  CHECK_EQ_INT(t.created_total, 7);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

/* Whether the session with this id is still in the table (without marking
 * it active, which session_find() would). */
static int present(session_table *t, const char *id) {
  return strmap_get(&t->map, id, strlen(id)) != NULL;
}

static void test_per_client(void) {
  uv_loop_t loop;
  session_table t;
  session *x[7] = {0}, *y = NULL, *z1 = NULL, *z2 = NULL, *z3 = NULL, *w = NULL, *v = NULL, *n;
  char id[8][SESSION_ID_MAX + 1];
  session_client *cx;
  int i;

  reset_removed();
  uv_loop_init(&loop);
  session_table_init(&t, &loop, 10, 0, on_remove, &t);
  CHECK_EQ_INT(t.max_per_client, 10); /* no cap of its own until set */
  t.max_per_client = 3;
  for (i = 1; i <= 3; i++) {
    CHECK_EQ_INT(session_create_for(&t, "10.0.0.1", &x[i]), 0);
    snprintf(id[i], sizeof(id[i]), "%s", x[i]->id);
  }
  cx = x[1]->client;
  CHECK(cx != NULL && x[2]->client == cx && x[3]->client == cx);
  CHECK_EQ_STR(cx->addr, "10.0.0.1");
  CHECK_EQ_INT(cx->count, 3);
  CHECK_EQ_INT(t.clients.count, 1);

  /* At its cap, the client evicts its own oldest session no request has
   * used (x2), not x1, which was used. */
  CHECK(session_find(&t, id[1], strlen(id[1])) == x[1]);
  CHECK_EQ_INT(session_create_for(&t, "10.0.0.1", &x[4]), 0);
  CHECK_EQ_INT(removed.n, 1);
  CHECK_EQ_STR(removed.id[0], id[2]);
  CHECK_EQ_STR(removed.why[0], "evicted");
  CHECK_EQ_INT(cx->count, 3);
  CHECK_EQ_INT(t.count, 3);

  /* Its unused ones held: its used one goes. */
  x[3]->holds = 1;
  x[4]->holds = 1;
  CHECK_EQ_INT(session_create_for(&t, "10.0.0.1", &x[5]), 0);
  CHECK_EQ_INT(removed.n, 2);
  CHECK_EQ_STR(removed.id[1], id[1]);
  /* All held: refused with -EDQUOT, and nobody else pays. */
  x[5]->holds = 1;
  n = NULL;
  CHECK_EQ_INT(session_create_for(&t, "10.0.0.1", &n), -EDQUOT);
  CHECK(n == NULL);
  CHECK_EQ_INT(removed.n, 2);
  CHECK_EQ_INT(cx->count, 3);
  /* Another address is not affected, nor is a session with no address. */
  CHECK_EQ_INT(session_create_for(&t, "10.0.0.2", &y), 0);
  CHECK_EQ_INT(session_create(&t, &n), 0);
  CHECK(n != NULL && n->client == NULL);
  session_remove(&t, n, "deleted");
  CHECK_EQ_INT(t.clients.count, 2);

  /* A full table (6): y was used, the z's come from a third address. */
  CHECK(session_find(&t, y->id, strlen(y->id)) == y);
  t.max = 6;
  CHECK_EQ_INT(session_create_for(&t, "10.0.0.3", &z1), 0);
  CHECK_EQ_INT(session_create_for(&t, "10.0.0.3", &z2), 0);
  CHECK(session_find(&t, z1->id, strlen(z1->id)) == z1);
  snprintf(id[6], sizeof(id[6]), "%s", z2->id);
  CHECK_EQ_INT(t.count, 6);
  reset_removed();
  /* A newcomer: anybody's oldest unused idle session goes (z2: x3..x5
   * are held, y and z1 were used). */
  CHECK_EQ_INT(session_create_for(&t, "10.0.0.4", &w), 0);
  CHECK_EQ_INT(removed.n, 1);
  CHECK_EQ_STR(removed.id[0], id[6]);
  CHECK(present(&t, y->id) && present(&t, z1->id));
  /* z1's client again: the newcomer's unused session goes before z1's
   * own used one. */
  snprintf(id[7], sizeof(id[7]), "%s", w->id);
  CHECK_EQ_INT(session_create_for(&t, "10.0.0.3", &z3), 0);
  CHECK_EQ_INT(removed.n, 2);
  CHECK_EQ_STR(removed.id[1], id[7]);
  CHECK(present(&t, z1->id) && present(&t, y->id));
  CHECK_EQ_INT(t.clients.count, 3); /* 10.0.0.4 left with its last session */
  /* Now z3 is z1's client's own unused session: it goes first. */
  snprintf(id[7], sizeof(id[7]), "%s", z3->id);
  CHECK_EQ_INT(session_create_for(&t, "10.0.0.3", &n), 0);
  CHECK_EQ_STR(removed.id[2], id[7]);
  CHECK(present(&t, z1->id));

  /* A cap of one: the client's only session is evicted for its next one
   * (the client's entry goes and comes back). */
  t.max = 100;
  t.max_per_client = 1;
  CHECK_EQ_INT(session_create_for(&t, "10.0.0.9", &v), 0);
  snprintf(id[0], sizeof(id[0]), "%s", v->id);
  CHECK_EQ_INT(session_create_for(&t, "10.0.0.9", &n), 0);
  CHECK(n != NULL && n->client != NULL && n->client->count == 1);
  CHECK(!present(&t, id[0]));

  /* An address longer than the key is cut, the same way each time: the
   * second session of it counts against the first's cap. */
  {
    char long_addr[100];
    memset(long_addr, 'a', sizeof(long_addr) - 1);
    long_addr[sizeof(long_addr) - 1] = '\0';
    CHECK_EQ_INT(session_create_for(&t, long_addr, &n), 0);
    CHECK_EQ_INT(strlen(n->client->addr), SESSION_CLIENT_MAX - 1);
    snprintf(id[0], sizeof(id[0]), "%s", n->id);
    CHECK_EQ_INT(session_create_for(&t, long_addr, &v), 0);
    CHECK(!present(&t, id[0]));
    CHECK_EQ_INT(v->client->count, 1);
  }

  for (i = 3; i <= 5; i++)
    x[i]->holds = 0;
  close_table(&loop, &t);
  CHECK_EQ_INT(t.count, 0);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

/* Finds the session in arg every 40 ms: it is active. */
static struct {
  session_table *t;
  char id[SESSION_ID_MAX + 1];
  int found;
} pinger;

static void ping_cb(uv_timer_t *tm) {
  (void)tm;
  if (session_find(pinger.t, pinger.id, strlen(pinger.id)) != NULL)
    pinger.found++;
}

static void test_idle_expiry(void) {
  uv_loop_t loop;
  session_table t;
  uv_timer_t ping;
  session *idle, *held, *busy;
  char id_idle[SESSION_ID_MAX + 1], id_held[SESSION_ID_MAX + 1];
  int i;

  reset_removed();
  uv_loop_init(&loop);
  session_table_init(&t, &loop, 100, 200, on_remove, &t);
  uv_update_time(&loop);
  CHECK_EQ_INT(session_create(&t, &idle), 0);
  CHECK_EQ_INT(session_create(&t, &held), 0);
  CHECK_EQ_INT(session_create(&t, &busy), 0);
  snprintf(id_idle, sizeof(id_idle), "%s", idle->id);
  snprintf(id_held, sizeof(id_held), "%s", held->id);
  held->holds = 1;
  pinger.t = &t;
  snprintf(pinger.id, sizeof(pinger.id), "%s", busy->id);
  pinger.found = 0;
  uv_timer_init(&loop, &ping);
  uv_timer_start(&ping, ping_cb, 40, 40);
  uv_unref((uv_handle_t *)&ping);

  /* Nothing goes before idle_ms. */
  run_for(&loop, 100);
  CHECK_EQ_INT(removed.n, 0);
  CHECK_EQ_INT(t.count, 3);

  run_for(&loop, 500);
  CHECK_EQ_INT(removed.n, 1);
  CHECK_EQ_STR(removed.why[0], "expired");
  CHECK_EQ_STR(removed.id[0], id_idle);
  CHECK_EQ_INT(t.expired_total, 1);
  CHECK(session_find(&t, id_idle, strlen(id_idle)) == NULL);
  CHECK(pinger.found > 5);
  /* The held one stayed, and was not touched by anybody but the sweep. */
  CHECK_EQ_INT(t.count, 2);

  /* Its hold released, it expires too; the busy one stays. */
  held->holds = 0;
  for (i = 0; i < 10 && removed.n < 2; i++)
    run_for(&loop, 100);
  CHECK_EQ_INT(removed.n, 2);
  CHECK_EQ_STR(removed.why[1], "expired");
  CHECK_EQ_STR(removed.id[1], id_held);
  CHECK_EQ_INT(t.count, 1);
  CHECK(session_find(&t, pinger.id, strlen(pinger.id)) != NULL);

  /* Pings stop: the last one expires as well. */
  uv_timer_stop(&ping);
  for (i = 0; i < 10 && removed.n < 3; i++)
    run_for(&loop, 100);
  CHECK_EQ_INT(removed.n, 3);
  CHECK_EQ_INT(t.count, 0);
  CHECK_EQ_INT(t.expired_total, 3);
  uv_close((uv_handle_t *)&ping, NULL);
  close_table(&loop, &t);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

static void test_no_expiry(void) {
  uv_loop_t loop;
  session_table t;
  session *s;

  reset_removed();
  uv_loop_init(&loop);
  session_table_init(&t, &loop, 10, 0, on_remove, &t);
  CHECK(!uv_is_active((uv_handle_t *)&t.sweep));
  CHECK_EQ_INT(session_create(&t, &s), 0);
  run_for(&loop, 250);
  CHECK_EQ_INT(removed.n, 0);
  CHECK_EQ_INT(t.count, 1);
  /* The sweep timer does not keep the loop alive (a table with expiry
   * and nothing else: uv_run returns at once). */
  {
    uv_loop_t l2;
    session_table t2;
    uint64_t before;
    uv_loop_init(&l2);
    session_table_init(&t2, &l2, 10, 60000, NULL, NULL);
    CHECK(uv_is_active((uv_handle_t *)&t2.sweep));
    uv_update_time(&l2);
    before = uv_now(&l2);
    CHECK_EQ_INT(uv_run(&l2, UV_RUN_DEFAULT), 0);
    CHECK(uv_now(&l2) - before < 50);
    session_table_close(&t2);
    uv_run(&l2, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&l2), 0);
  }
  close_table(&loop, &t);
  CHECK_EQ_INT(removed.n, 1);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

/* The daemon applies a reloaded config by setting the table's fields
 * (server_apply_config: sessions.idle_ms = cfg.session_idle_ms). idle_ms
 * 0 means "sessions never expire" (session.h), so turning expiry off must
 * not expire anybody. */
static void test_expiry_turned_off(void) {
  uv_loop_t loop;
  session_table t;
  session *s;

  reset_removed();
  uv_loop_init(&loop);
  session_table_init(&t, &loop, 10, 60000, on_remove, &t);
  CHECK_EQ_INT(session_create(&t, &s), 0);
  t.idle_ms = 0; /* a reload turned expiry off */
  run_for(&loop, 1200);
  CHECK_EQ_INT(removed.n, 0);
  CHECK_EQ_INT(t.count, 1);
  CHECK_EQ_INT(t.expired_total, 0);
  close_table(&loop, &t);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

int main(void) {
  RUN(test_create_find_remove);
  RUN(test_prefix);
  RUN(test_eviction);
  RUN(test_per_client);
  RUN(test_idle_expiry);
  RUN(test_no_expiry);
  RUN(test_expiry_turned_off);
  TEST_MAIN_END();
}
