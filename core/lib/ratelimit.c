/* ratelimit.c -- token buckets. */
#include "lib/ratelimit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct bucket {
  list_node link;
  uint64_t at_ms; /* when tokens was computed */
  double tokens;
  size_t len;
  char key[];
} bucket;

void ratelimit_init(ratelimit *rl, unsigned rate, unsigned burst, size_t max) {
  memset(rl, 0, sizeof(*rl));
  list_init(&rl->order);
  rl->max = max ? max : 1;
  ratelimit_set(rl, rate, burst);
}

void ratelimit_set(ratelimit *rl, unsigned rate, unsigned burst) {
  rl->rate = rate;
  rl->burst = burst ? burst : (rate * 2 > 0 ? rate * 2 : 1);
}

static void drop(ratelimit *rl, bucket *b) {
  strmap_remove(&rl->map, b->key, b->len);
  list_remove(&b->link);
  free(b);
  rl->count--;
}

int ratelimit_take(ratelimit *rl, const char *key, size_t len, uint64_t now_ms,
                   uint64_t *retry_ms) {
  bucket *b;
  if (rl->rate == 0)
    return 0;
  b = strmap_get(&rl->map, key, len);
  if (b != NULL) {
    double t = b->tokens + (double)(now_ms - b->at_ms) * rl->rate / 1000.0;
    b->tokens = t > rl->burst ? rl->burst : t;
    b->at_ms = now_ms;
    list_remove(&b->link);
  } else {
    /* The least recently used goes: most likely refilled by now. */
    while (rl->count >= rl->max)
      drop(rl, list_entry(rl->order.next, bucket, link));
    if ((b = malloc(sizeof(*b) + len + 1)) == NULL)
      return 0; /* never refuse a request for want of memory here */
    memcpy(b->key, key, len);
    b->key[len] = '\0';
    b->len = len;
    b->tokens = rl->burst;
    b->at_ms = now_ms;
    if (strmap_put(&rl->map, b->key, len, b) < 0) {
      free(b);
      return 0;
    }
    rl->count++;
  }
  list_insert_tail(&rl->order, &b->link);
  if (b->tokens >= 1.0) {
    b->tokens -= 1.0;
    return 0;
  }
  rl->limited_total++;
  *retry_ms = (uint64_t)((1.0 - b->tokens) * 1000.0 / rl->rate) + 1;
  return -EAGAIN;
}

int ratelimit_peek(const ratelimit *rl, const char *key, size_t len, uint64_t now_ms,
                   uint64_t *retry_ms) {
  const bucket *b = rl->rate ? strmap_get(&rl->map, key, len) : NULL;
  double t;
  if (b == NULL)
    return 0;
  t = b->tokens + (double)(now_ms - b->at_ms) * rl->rate / 1000.0;
  if (t >= 1.0)
    return 0;
  *retry_ms = (uint64_t)((1.0 - t) * 1000.0 / rl->rate) + 1;
  return -EAGAIN;
}

void ratelimit_free(ratelimit *rl) {
  while (!list_empty(&rl->order))
    drop(rl, list_entry(rl->order.next, bucket, link));
  strmap_free(&rl->map);
}
