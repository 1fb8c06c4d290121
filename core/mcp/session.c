/* session.c -- MCP sessions. The table keeps sessions in least-recently-
 * active order, so expiring idle ones looks only at the head of a list. */
#include "mcp/session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void session_touch(session_table *t, session *s) {
  s->last_active = uv_now(t->loop);
  list_remove(&s->lru);
  list_insert_tail(&t->lru, &s->lru);
}

static void sweep_cb(uv_timer_t *timer) {
  session_table *t = timer->data;
  uint64_t now = uv_now(t->loop);
  session *s;

  if (t->idle_ms == 0) /* turned off by a reload: nothing expires */
    return;
  /* Each turn removes the head or moves it to the tail as active, so this
   * ends after at most count turns. */
  while (!list_empty(&t->lru)) {
    s = list_entry(t->lru.next, session, lru);
    if (now - s->last_active < t->idle_ms)
      break;
    if (s->holds > 0) {
      session_touch(t, s); /* an open stream or a call in flight is activity */
    } else {
      t->expired_total++;
      session_remove(t, s, "expired");
    }
  }
}

int session_table_init(session_table *t, uv_loop_t *loop, unsigned max, uint64_t idle_ms,
                       session_remove_cb on_remove, void *arg) {
  memset(t, 0, sizeof(*t));
  t->loop = loop;
  t->max = max;
  t->idle_ms = idle_ms;
  t->on_remove = on_remove;
  t->arg = arg;
  list_init(&t->lru);
  uv_timer_init(loop, &t->sweep);
  t->sweep.data = t;
  session_table_set_idle(t, idle_ms);
  return 0;
}

void session_table_set_idle(session_table *t, uint64_t idle_ms) {
  uint64_t period;
  t->idle_ms = idle_ms;
  uv_timer_stop(&t->sweep);
  if (idle_ms == 0 || uv_is_closing((uv_handle_t *)&t->sweep))
    return;
  /* Check a few times per idle period, at most once a second. */
  period = idle_ms / 4;
  if (period < 100)
    period = 100;
  if (period > 1000)
    period = 1000;
  uv_timer_start(&t->sweep, sweep_cb, period, period);
  uv_unref((uv_handle_t *)&t->sweep);
}

/* Makes room when the table is full: the least recently active session
 * with no stream and no call goes (its client gets 404 and initializes
 * again), so idle sessions cannot lock new clients out. */
static int evict_one(session_table *t) {
  list_node *n;
  unsigned looked = 0;
  for (n = t->lru.next; n != &t->lru && looked < 64; n = n->next, looked++) {
    session *s = list_entry(n, session, lru);
    if (s->holds == 0) {
      t->evicted_total++;
      session_remove(t, s, "evicted");
      return 0;
    }
  }
  return -1;
}

int session_create(session_table *t, session **out) {
  static const char hex[] = "0123456789abcdef";
  unsigned char rnd[SESSION_ID_LEN / 2];
  session *s;
  size_t i, plen;
  ssize_t got;

  if (t->count >= t->max && evict_one(t) < 0)
    return -EAGAIN;
  do {
    got = getrandom(rnd, sizeof(rnd), 0);
  } while (got < 0 && errno == EINTR);
  if (got != (ssize_t)sizeof(rnd))
    return got < 0 ? -errno : -EIO;
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return -ENOMEM;
  plen = strlen(t->prefix);
  memcpy(s->id, t->prefix, plen);
  for (i = 0; i < sizeof(rnd); i++) {
    s->id[plen + 2 * i] = hex[rnd[i] >> 4];
    s->id[plen + 2 * i + 1] = hex[rnd[i] & 15];
  }
  s->id[plen + SESSION_ID_LEN] = '\0';
  s->version = -1;
  list_init(&s->lru);
  list_init(&s->calls);
  list_init(&s->requests);
  list_init(&s->streams);
  s->client_capabilities = json_object();
  s->subscriptions = json_object();
  if (s->client_capabilities == NULL || s->subscriptions == NULL ||
      strmap_put(&t->map, s->id, strlen(s->id), s) < 0) {
    json_decref(s->client_capabilities);
    json_decref(s->subscriptions);
    free(s);
    return -ENOMEM;
  }
  t->count++;
  t->created_total++;
  s->last_active = uv_now(t->loop);
  list_insert_tail(&t->lru, &s->lru);
  *out = s;
  return 0;
}

session *session_find(session_table *t, const char *id, size_t len) {
  session *s = strmap_get(&t->map, id, len);
  if (s != NULL)
    session_touch(t, s);
  return s;
}

void session_remove(session_table *t, session *s, const char *why) {
  /* Closing a stream may end its session too (HTTP+SSE): the removal that
   * closed it is already on the way. */
  if (s->removing)
    return;
  s->removing = 1;
  if (t->on_remove != NULL)
    t->on_remove(t, s, why, t->arg);
  strmap_remove(&t->map, s->id, strlen(s->id));
  list_remove(&s->lru);
  t->count--;
  json_decref(s->client_capabilities);
  json_decref(s->client_info);
  json_decref(s->subscriptions);
  free(s);
}

void session_table_close(session_table *t) {
  while (!list_empty(&t->lru))
    session_remove(t, list_entry(t->lru.next, session, lru), "shutdown");
  strmap_free(&t->map);
  if (!uv_is_closing((uv_handle_t *)&t->sweep))
    uv_close((uv_handle_t *)&t->sweep, NULL);
}
