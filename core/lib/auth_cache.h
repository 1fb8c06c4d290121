/* auth_cache.h -- tokens verified recently, by the SHA-256 of the token:
 * a hit skips the signature check or the introspection round trip. Each
 * entry lives until the token expires or the cache's own limit, whichever
 * comes first; the least recently used goes when the cache is full. A
 * negative entry remembers a refusal for a short while (introspection
 * floods of made-up tokens). Loop thread only; time is passed in. */
#ifndef MCPD_AUTH_CACHE_H
#define MCPD_AUTH_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/list.h"
#include "lib/principal.h"
#include "lib/strmap.h"

typedef struct auth_cache {
  strmap map;    /* digest -> entry */
  list_node lru; /* least recently used first */
  size_t count, max;
  uint64_t hits, misses;
} auth_cache;

/* An empty cache of at most max entries (0: never stores). */
void auth_cache_init(auth_cache *c, size_t max);

/* The principal cached for digest at time now_s (borrowed: the cache keeps
 * its reference; take one to keep it), with *reason 0; or NULL with
 * *reason an AUTH_R_* code for a negative entry, or 0 for a miss. Expired
 * entries are dropped here. */
principal *auth_cache_get(auth_cache *c, const uint8_t digest[32], int64_t now_s, int *reason);

/* Caches p (a reference is taken) for digest until expires_s (Unix s).
 * Replaces an entry for the same digest. No-op when max is 0. Returns 0 or
 * -ENOMEM. */
int auth_cache_put(auth_cache *c, const uint8_t digest[32], principal *p, int64_t expires_s);

/* Remembers refusal reason for digest until expires_s. */
int auth_cache_put_negative(auth_cache *c, const uint8_t digest[32], int reason, int64_t expires_s);

/* Drops digest's entry, if any. */
void auth_cache_remove(auth_cache *c, const uint8_t digest[32]);

/* Drops every entry (a reload changed the auth section). */
void auth_cache_clear(auth_cache *c);

/* Changes the bound, dropping the least recently used entries above it. */
void auth_cache_set_max(auth_cache *c, size_t max);

/* auth_cache_clear() and frees the table. */
void auth_cache_free(auth_cache *c);

#endif
