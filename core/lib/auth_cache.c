/* auth_cache.c -- verified tokens by digest. */
#include "lib/auth_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct cache_entry {
  char digest[32]; /* the map's key */
  principal *p;    /* NULL for a negative entry */
  int reason;
  int64_t expires_s;
  list_node link;
} cache_entry;

void auth_cache_init(auth_cache *c, size_t max) {
  memset(c, 0, sizeof(*c));
  list_init(&c->lru);
  c->max = max;
}

static void drop(auth_cache *c, cache_entry *e) {
  strmap_remove(&c->map, e->digest, sizeof(e->digest));
  list_remove(&e->link);
  principal_unref(e->p);
  free(e);
  c->count--;
}

principal *auth_cache_get(auth_cache *c, const uint8_t digest[32], int64_t now_s, int *reason) {
  cache_entry *e = c->count ? strmap_get(&c->map, (const char *)digest, 32) : NULL;
  *reason = 0;
  if (e == NULL || e->expires_s <= now_s) {
    if (e != NULL)
      drop(c, e);
    c->misses++;
    return NULL;
  }
  c->hits++;
  list_remove(&e->link);
  list_insert_tail(&c->lru, &e->link);
  if (e->p == NULL)
    *reason = e->reason;
  return e->p;
}

static int put(auth_cache *c, const uint8_t digest[32], principal *p, int reason,
               int64_t expires_s) {
  cache_entry *e;
  if (c->max == 0)
    return 0;
  auth_cache_remove(c, digest);
  while (c->count >= c->max)
    drop(c, list_entry(c->lru.next, cache_entry, link));
  if ((e = calloc(1, sizeof(*e))) == NULL)
    return -ENOMEM;
  memcpy(e->digest, digest, 32);
  e->p = principal_ref(p);
  e->reason = reason;
  e->expires_s = expires_s;
  if (strmap_put(&c->map, e->digest, sizeof(e->digest), e) < 0) {
    principal_unref(e->p);
    free(e);
    return -ENOMEM;
  }
  list_insert_tail(&c->lru, &e->link);
  c->count++;
  return 0;
}

int auth_cache_put(auth_cache *c, const uint8_t digest[32], principal *p, int64_t expires_s) {
  return put(c, digest, p, 0, expires_s);
}

int auth_cache_put_negative(auth_cache *c, const uint8_t digest[32], int reason,
                            int64_t expires_s) {
  return put(c, digest, NULL, reason, expires_s);
}

void auth_cache_remove(auth_cache *c, const uint8_t digest[32]) {
  cache_entry *e = c->count ? strmap_get(&c->map, (const char *)digest, 32) : NULL;
  if (e != NULL)
    drop(c, e);
}

void auth_cache_clear(auth_cache *c) {
  while (!list_empty(&c->lru))
    drop(c, list_entry(c->lru.next, cache_entry, link));
}

void auth_cache_set_max(auth_cache *c, size_t max) {
  c->max = max;
  while (c->count > max)
    drop(c, list_entry(c->lru.next, cache_entry, link));
}

void auth_cache_free(auth_cache *c) {
  auth_cache_clear(c);
  strmap_free(&c->map);
}
