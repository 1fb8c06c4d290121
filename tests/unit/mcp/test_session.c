/* test_session.c -- the session table: create / lookup / remove (the
 * on_remove hook runs first, with the reason), ids (32 hex digits after
 * the table's prefix, unique), the max-sessions rule (the least recently
 * active session without a hold is evicted; with every session held the
 * table is full, -EAGAIN), idle expiry on a real uv loop (idle sessions
 * go, held ones and recently found ones stay; idle_ms 0 never expires),
 * and session_table_close. */
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

  /* Order now c, a, d. c holds (a stream or a call): a goes instead. */
  c->holds = 1;
  CHECK_EQ_INT(session_create(&t, &e), 0);
  CHECK_EQ_INT(removed.n, 2);
  CHECK_EQ_STR(removed.id[1], id_a);
  CHECK(session_find(&t, c->id, strlen(c->id)) == c);

  /* session_touch marks activity too: order is now d, e, c -> touch d. */
  session_touch(&t, d);
  /* Every session held: full, and nobody is evicted. */
  d->holds = 1;
  e->holds = 2;
  CHECK_EQ_INT(session_create(&t, &f), -EAGAIN);
  CHECK(f == NULL);
  CHECK_EQ_INT(removed.n, 2);
  CHECK_EQ_INT(t.count, 3);
  CHECK_EQ_INT(t.evicted_total, 2);
  /* One hold released: that one goes (e, least recently active of the
   * free ones after c was found). */
  e->holds = 0;
  d->holds = 0;
  /* Order: e, c, d (c was found, d touched before). e goes first. */
  {
    char id_e[SESSION_ID_MAX + 1];
    snprintf(id_e, sizeof(id_e), "%s", e->id);
    CHECK_EQ_INT(session_create(&t, &f), 0);
    CHECK_EQ_STR(removed.id[2], id_e);
  }
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
  RUN(test_idle_expiry);
  RUN(test_no_expiry);
  RUN(test_expiry_turned_off);
  TEST_MAIN_END();
}
