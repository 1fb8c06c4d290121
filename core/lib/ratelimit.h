/* ratelimit.h -- token buckets keyed by a string (a principal, or a client
 * address): rate per second, up to burst at once. The table is bounded:
 * when it is full, the least recently used bucket goes (a client unheard
 * from the longest, whose bucket has most likely refilled). Loop thread
 * only; time is passed in. */
#ifndef MCPD_RATELIMIT_H
#define MCPD_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/list.h"
#include "lib/strmap.h"

typedef struct ratelimit {
  strmap map;
  list_node order; /* buckets, least recently used first */
  size_t count, max;
  unsigned rate;  /* tokens a second; 0: no limit */
  unsigned burst; /* bucket size */
  uint64_t limited_total;
} ratelimit;

/* An empty table of at most max buckets; rate 0 turns it off. */
void ratelimit_init(ratelimit *rl, unsigned rate, unsigned burst, size_t max);

/* Changes the rate and burst (a reload); buckets are kept. */
void ratelimit_set(ratelimit *rl, unsigned rate, unsigned burst);

/* Takes one token from key's bucket (len bytes) at now_ms. Returns 0, or
 * -EAGAIN with *retry_ms (how long until a token is there) when empty. */
int ratelimit_take(ratelimit *rl, const char *key, size_t len, uint64_t now_ms, uint64_t *retry_ms);

/* Whether key's bucket is empty at now_ms, without taking anything: 0, or
 * -EAGAIN with *retry_ms. */
int ratelimit_peek(const ratelimit *rl, const char *key, size_t len, uint64_t now_ms,
                   uint64_t *retry_ms);

/* Frees every bucket. */
void ratelimit_free(ratelimit *rl);

#endif
