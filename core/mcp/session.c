/* session.c -- MCP sessions. The table keeps sessions in least-recently-
 * active order, so expiring idle ones looks only at the head of a list. Two
 * more lists serve eviction: the sessions no request has used since they
 * were created (a flood of initializes leaves nothing else), and each
 * client address's own sessions. */
#include "mcp/session.h"

#include "lib/b64url.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

/* How far eviction looks along a list for a session without a hold: a
 * bound on the work one initialize can cause. Held sessions are few at the
 * head of a list, since the sweep moves them to the tail. */
#define EVICT_LOOK 64

void session_touch(session_table *t, session *s) {
  s->last_active = uv_now(t->loop);
  list_remove(&s->lru);
  list_insert_tail(&t->lru, &s->lru);
  list_remove(&s->fresh); /* used now: no longer first to go */
  if (s->client != NULL) {
    list_remove(&s->by_client);
    list_insert_tail(&s->client->sessions, &s->by_client);
  }
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
      session_bury(t, s);
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
  t->max_per_client = max;
  list_init(&t->lru);
  list_init(&t->fresh);
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

/* The first session without a hold (no stream, no call) among the first
 * EVICT_LOOK of list head, whose nodes are the member at offset off of a
 * session; with fresh_only, only one no request has used yet. NULL when
 * there is none. */
static session *idle_in(list_node *head, size_t off, int fresh_only) {
  list_node *n;
  unsigned looked = 0;
  for (n = head->next; n != head && looked < EVICT_LOOK; n = n->next, looked++) {
    session *s = (session *)((char *)n - off);
    if (s->holds == 0 && (!fresh_only || !list_empty(&s->fresh)))
      return s;
  }
  return NULL;
}

/* Evicts s to make room (its client gets 404 and initializes again). */
static void evict(session_table *t, session *s) {
  t->evicted_total++;
  session_bury(t, s); /* its signed id must not bring it back here */
  session_remove(t, s, "evicted");
}

/* Makes room for a new session of client c (NULL: no address). Returns 0,
 * or -EDQUOT / -EAGAIN when nothing may go (see session_create_for()). */
static int make_room(session_table *t, session_client *c) {
  const size_t by_lru = offsetof(session, lru), by_fresh = offsetof(session, fresh),
               by_client = offsetof(session, by_client);
  session *s = NULL;

  if (c != NULL && c->count >= t->max_per_client) {
    /* At its own cap, a client makes room among its own sessions only. */
    s = idle_in(&c->sessions, by_client, 1);
    if (s == NULL)
      s = idle_in(&c->sessions, by_client, 0);
    if (s == NULL)
      return -EDQUOT;
  } else if (t->count >= t->max) {
    if (c != NULL)
      s = idle_in(&c->sessions, by_client, 1);
    if (s == NULL)
      s = idle_in(&t->fresh, by_fresh, 0);
    if (s == NULL && c != NULL)
      s = idle_in(&c->sessions, by_client, 0);
    if (s == NULL)
      s = idle_in(&t->lru, by_lru, 0);
    if (s == NULL)
      return -EAGAIN;
  }
  if (s != NULL)
    evict(t, s);
  return 0;
}

/* The entry of address addr (cut as it is kept); NULL when it has no
 * session. */
static session_client *client_find(session_table *t, const char *addr) {
  return strmap_get(&t->clients, addr, strnlen(addr, SESSION_CLIENT_MAX - 1));
}

/* The entry of address addr, made when absent (not counted yet). NULL when
 * out of memory. */
static session_client *client_get(session_table *t, const char *addr) {
  size_t len = strnlen(addr, SESSION_CLIENT_MAX - 1);
  session_client *c = strmap_get(&t->clients, addr, len);
  if (c != NULL)
    return c;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  memcpy(c->addr, addr, len);
  list_init(&c->sessions);
  if (strmap_put(&t->clients, c->addr, len, c) < 0) {
    free(c);
    return NULL;
  }
  return c;
}

/* Forgets the entry of an address with no session left. */
static void client_release(session_table *t, session_client *c) {
  if (c == NULL || c->count > 0)
    return;
  strmap_remove(&t->clients, c->addr, strlen(c->addr));
  free(c);
}

int session_refusal_log_due(session_table *t, unsigned *quiet) {
  uint64_t now = uv_now(t->loop);
  if (t->refused_log_ms != 0 && now - t->refused_log_ms < 1000) {
    t->refused_quiet++;
    return 0;
  }
  t->refused_log_ms = now != 0 ? now : 1;
  *quiet = t->refused_quiet;
  t->refused_quiet = 0;
  return 1;
}

int session_create(session_table *t, session **out) {
  return session_create_for(t, NULL, out);
}

int session_create_for(session_table *t, const char *client, session **out) {
  static const char hex[] = "0123456789abcdef";
  unsigned char rnd[SESSION_ID_LEN / 2];
  session_client *c = NULL;
  session *s;
  size_t i, plen;
  ssize_t got;
  int r;

  /* An eviction may free the client's entry (its last session): look it
   * up again afterwards. */
  r = make_room(t, client != NULL ? client_find(t, client) : NULL);
  if (r < 0)
    return r;
  if (client != NULL && (c = client_get(t, client)) == NULL)
    return -ENOMEM;
  do {
    got = getrandom(rnd, sizeof(rnd), 0);
  } while (got < 0 && errno == EINTR);
  if (got != (ssize_t)sizeof(rnd)) {
    r = got < 0 ? -errno : -EIO;
    client_release(t, c);
    return r;
  }
  s = calloc(1, sizeof(*s));
  if (s == NULL) {
    client_release(t, c);
    return -ENOMEM;
  }
  plen = strlen(t->prefix);
  memcpy(s->id, t->prefix, plen);
  for (i = 0; i < sizeof(rnd); i++) {
    s->id[plen + 2 * i] = hex[rnd[i] >> 4];
    s->id[plen + 2 * i + 1] = hex[rnd[i] & 15];
  }
  s->id[plen + SESSION_ID_LEN] = '\0';
  s->version = -1;
  list_init(&s->lru);
  list_init(&s->fresh);
  list_init(&s->by_client);
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
    client_release(t, c);
    return -ENOMEM;
  }
  t->count++;
  t->created_total++;
  s->last_active = uv_now(t->loop);
  list_insert_tail(&t->lru, &s->lru);
  list_insert_tail(&t->fresh, &s->fresh);
  if (c != NULL) {
    s->client = c;
    c->count++;
    list_insert_tail(&c->sessions, &s->by_client);
  }
  *out = s;
  return 0;
}

session *session_find(session_table *t, const char *id, size_t len) {
  session *s = strmap_get(&t->map, id, len);
  if (s != NULL)
    session_touch(t, s);
  return s;
}

session *session_find_owned(session_table *t, const char *id, size_t len, const uint8_t *owner) {
  session *s = strmap_get(&t->map, id, len);
  if (s == NULL)
    return NULL;
  /* Another principal's session, or one made before auth was turned on,
   * is not there for this caller: not touched, not even its activity. */
  if (owner != NULL && (!s->owned || memcmp(s->owner, owner, sizeof(s->owner)) != 0))
    return NULL;
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
  list_remove(&s->fresh);
  list_remove(&s->by_client);
  if (s->client != NULL) {
    s->client->count--;
    client_release(t, s->client);
  }
  t->count--;
  json_decref(s->client_capabilities);
  json_decref(s->client_info);
  json_decref(s->subscriptions);
  free(s);
}

session *session_new_detached(int version, const json_t *capabilities) {
  session *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->version = version;
  s->initialized = 1;
  list_init(&s->lru);
  list_init(&s->fresh);
  list_init(&s->by_client);
  list_init(&s->calls);
  list_init(&s->requests);
  list_init(&s->streams);
  /* The request's own object, shared: nothing changes a client's
   * capabilities. Resource subscriptions: a listen makes the set. */
  s->client_capabilities = capabilities ? json_incref((json_t *)capabilities) : json_object();
  if (s->client_capabilities == NULL) {
    session_free_detached(s);
    return NULL;
  }
  return s;
}

void session_free_detached(session *s) {
  if (s == NULL)
    return;
  json_decref(s->task_watch);
  json_decref(s->client_capabilities);
  json_decref(s->client_info);
  json_decref(s->subscriptions);
  free(s);
}

/* ---- signed ids ------------------------------------------------------------- */

/* The signed part, before base64url: a format byte, 16 random bytes, the
 * version, capability bits, the expiry (8 bytes, big-endian), an owner
 * flag and the owner's key. */
enum {
  CAP_SAMPLING = 1,
  CAP_ELICIT_FORM = 2,
  CAP_ELICIT_URL = 4,
  CAP_ROOTS = 8,
  CAP_ROOTS_CHANGED = 16
};
#define SIGNED_HEAD 28
#define SIGNED_MAC  16

static int sign_mac(const session_table *t, const unsigned char *p, size_t n,
                    unsigned char out[SIGNED_MAC]) {
  unsigned char full[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, t->sign_key, SESSION_KEY_LEN, p, n, full,
                sizeof(full), &len) == NULL ||
      len < SIGNED_MAC)
    return -1;
  memcpy(out, full, SIGNED_MAC);
  return 0;
}

int session_sign(session_table *t, session *s, int64_t expires_s) {
  unsigned char p[SIGNED_HEAD + 32 + SIGNED_MAC];
  const json_t *caps = s->client_capabilities, *el = json_object_get(caps, "elicitation");
  const json_t *roots = json_object_get(caps, "roots");
  char id[SESSION_ID_MAX + 1];
  size_t n = SIGNED_HEAD, plen, i;
  ssize_t got;

  if (!t->signing || s->version < 0 || s->version > 255)
    return -EINVAL;
  p[0] = 1;
  do {
    got = getrandom(p + 1, 16, 0);
  } while (got < 0 && errno == EINTR);
  if (got != 16)
    return -EIO;
  p[17] = (unsigned char)s->version;
  p[18] =
      (unsigned char)((json_object_get(caps, "sampling") ? CAP_SAMPLING : 0) |
                      (el != NULL && (json_object_size(el) == 0 || json_object_get(el, "form"))
                           ? CAP_ELICIT_FORM
                           : 0) |
                      (json_object_get(el, "url") ? CAP_ELICIT_URL : 0) | (roots ? CAP_ROOTS : 0) |
                      (json_is_true(json_object_get(roots, "listChanged")) ? CAP_ROOTS_CHANGED
                                                                           : 0));
  for (i = 0; i < 8; i++)
    p[19 + i] = (unsigned char)((uint64_t)expires_s >> (56 - 8 * i));
  p[27] = (unsigned char)s->owned;
  if (s->owned) {
    memcpy(p + SIGNED_HEAD, s->owner, 32);
    n += 32;
  }
  if (sign_mac(t, p, n, p + n) < 0)
    return -EIO;
  plen = strlen(t->prefix);
  memcpy(id, t->prefix, plen);
  b64url_encode(p, n + SIGNED_MAC, id + plen);
  strmap_remove(&t->map, s->id, strlen(s->id));
  memcpy(s->id, id, strlen(id) + 1);
  if (strmap_put(&t->map, s->id, strlen(s->id), s) < 0)
    return -ENOMEM; /* cannot happen: the slot just freed takes it */
  return 0;
}

session *session_restore(session_table *t, const char *id, size_t len, const uint8_t *owner,
                         const char *client, int64_t now_s) {
  unsigned char p[SIGNED_HEAD + 32 + SIGNED_MAC + 4], mac[SIGNED_MAC];
  /* The signed part has one of two lengths; before it is the prefix of
   * whichever instance made it (a routing hint, not signed). */
  static const size_t lens[2] = {B64URL_LEN(SIGNED_HEAD + SIGNED_MAC),
                                 B64URL_LEN(SIGNED_HEAD + 32 + SIGNED_MAC)};
  size_t n, i, k;
  uint64_t exp = 0;
  long got = -1;
  session *s;
  json_t *caps;

  if (!t->signing || len > SESSION_ID_MAX)
    return NULL;
  for (k = 0; k < 2 && got < 0; k++) {
    if (len >= lens[k] && len - lens[k] <= SESSION_PREFIX_MAX)
      got = b64url_decode(id + len - lens[k], lens[k], p, sizeof(p));
    if (got >= 0 &&
        got != (long)(k == 0 ? SIGNED_HEAD + SIGNED_MAC : SIGNED_HEAD + 32 + SIGNED_MAC))
      got = -1;
  }
  if (got < 0)
    return NULL;
  n = (size_t)got - SIGNED_MAC;
  if (p[0] != 1 || sign_mac(t, p, n, mac) < 0 || CRYPTO_memcmp(mac, p + n, SIGNED_MAC) != 0)
    return NULL;
  for (i = 0; i < 8; i++)
    exp = exp << 8 | p[19 + i];
  if ((int64_t)exp < now_s || (p[27] != 0) != (n == SIGNED_HEAD + 32) ||
      (p[27] != 0) != (owner != NULL) ||
      (owner != NULL && CRYPTO_memcmp(owner, p + SIGNED_HEAD, 32) != 0) || p[17] >= 8)
    return NULL;
  if (t->n_tombstones > 0 && strmap_get(&t->tombstones, id, len) != NULL)
    return NULL;
  if (session_create_for(t, client, &s) < 0)
    return NULL;
  strmap_remove(&t->map, s->id, strlen(s->id));
  memcpy(s->id, id, len);
  s->id[len] = '\0';
  if (strmap_put(&t->map, s->id, len, s) < 0) {
    session_remove(t, s, "failed_restore");
    return NULL;
  }
  s->version = p[17];
  s->initialized = 1;
  caps = json_object();
  if (p[18] & CAP_SAMPLING)
    json_object_set_new(caps, "sampling", json_object());
  if (p[18] & (CAP_ELICIT_FORM | CAP_ELICIT_URL)) {
    json_t *el = json_object();
    if (p[18] & CAP_ELICIT_FORM)
      json_object_set_new(el, "form", json_object());
    if (p[18] & CAP_ELICIT_URL)
      json_object_set_new(el, "url", json_object());
    json_object_set_new(caps, "elicitation", el);
  }
  if (p[18] & CAP_ROOTS)
    json_object_set_new(caps, "roots",
                        json_pack("{s:b}", "listChanged", (p[18] & CAP_ROOTS_CHANGED) != 0));
  if (caps != NULL) {
    json_decref(s->client_capabilities);
    s->client_capabilities = caps;
  }
  if (p[27]) {
    memcpy(s->owner, p + SIGNED_HEAD, 32);
    s->owned = 1;
  }
  t->restored_total++;
  return s;
}

typedef struct tombstone {
  list_node link;
  size_t len;
  char id[];
} tombstone;

void session_bury(session_table *t, const session *s) {
  size_t len = strlen(s->id);
  tombstone *b;
  if (!t->signing || strmap_get(&t->tombstones, s->id, len) != NULL ||
      (b = malloc(sizeof(*b) + len + 1)) == NULL)
    return;
  if (t->n_tombstones == 0)
    list_init(&t->tombstone_order);
  while (t->n_tombstones >= SESSION_TOMBSTONES) {
    tombstone *old = list_entry(t->tombstone_order.next, tombstone, link);
    strmap_remove(&t->tombstones, old->id, old->len);
    list_remove(&old->link);
    free(old);
    t->n_tombstones--;
  }
  b->len = len;
  memcpy(b->id, s->id, len + 1);
  if (strmap_put(&t->tombstones, b->id, len, b) < 0) {
    free(b);
    return;
  }
  list_insert_tail(&t->tombstone_order, &b->link);
  t->n_tombstones++;
}

void session_table_close(session_table *t) {
  while (t->n_tombstones > 0) {
    tombstone *old = list_entry(t->tombstone_order.next, tombstone, link);
    list_remove(&old->link);
    free(old);
    t->n_tombstones--;
  }
  strmap_free(&t->tombstones);
  while (!list_empty(&t->lru))
    session_remove(t, list_entry(t->lru.next, session, lru), "shutdown");
  strmap_free(&t->map);
  strmap_free(&t->clients);
  if (!uv_is_closing((uv_handle_t *)&t->sweep))
    uv_close((uv_handle_t *)&t->sweep, NULL);
}
