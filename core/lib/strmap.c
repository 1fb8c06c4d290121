/* strmap.c -- a string-keyed hash table (open addressing, linear probing,
 * backward-shift deletion so no tombstones pile up). */
#include "lib/strmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint64_t strmap_hash(const char *key, size_t len) {
  uint64_t h = 1469598103934665603ULL;
  size_t i;
  for (i = 0; i < len; i++) {
    h ^= (unsigned char)key[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static size_t find(const strmap *m, const char *key, size_t len, uint64_t h) {
  size_t mask = m->cap - 1;
  size_t i = (size_t)h & mask;
  for (;;) {
    const strmap_slot *s = &m->slots[i];
    if (s->key == NULL)
      return i;
    if (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0)
      return i;
    i = (i + 1) & mask;
  }
}

void *strmap_get(const strmap *m, const char *key, size_t len) {
  size_t i;
  if (m->count == 0)
    return NULL;
  i = find(m, key, len, strmap_hash(key, len));
  return m->slots[i].key ? m->slots[i].value : NULL;
}

static int grow(strmap *m) {
  size_t cap = m->cap ? m->cap * 2 : 16, i;
  strmap_slot *old = m->slots;
  size_t old_cap = m->cap;
  strmap_slot *slots = calloc(cap, sizeof(*slots));
  if (slots == NULL)
    return -ENOMEM;
  m->slots = slots;
  m->cap = cap;
  for (i = 0; i < old_cap; i++) {
    if (old[i].key != NULL)
      slots[find(m, old[i].key, old[i].key_len, old[i].hash)] = old[i];
  }
  free(old);
  return 0;
}

int strmap_put(strmap *m, const char *key, size_t len, void *value) {
  uint64_t h = strmap_hash(key, len);
  size_t i;
  /* Keep the load factor under 3/4. */
  if ((m->count + 1) * 4 > m->cap * 3 && grow(m) < 0)
    return -ENOMEM;
  i = find(m, key, len, h);
  if (m->slots[i].key != NULL)
    return -EEXIST;
  m->slots[i].key = key;
  m->slots[i].key_len = len;
  m->slots[i].hash = h;
  m->slots[i].value = value;
  m->count++;
  return 0;
}

void *strmap_remove(strmap *m, const char *key, size_t len) {
  size_t mask, i, j;
  void *value;
  if (m->count == 0)
    return NULL;
  mask = m->cap - 1;
  i = find(m, key, len, strmap_hash(key, len));
  if (m->slots[i].key == NULL)
    return NULL;
  value = m->slots[i].value;
  m->count--;
  /* Shift later members of the probe run back into the hole. */
  j = i;
  for (;;) {
    size_t home;
    j = (j + 1) & mask;
    if (m->slots[j].key == NULL)
      break;
    home = (size_t)m->slots[j].hash & mask;
    /* Move j to i unless its home lies cyclically in (i, j]. */
    if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  memset(&m->slots[i], 0, sizeof(m->slots[i]));
  return value;
}

void strmap_free(strmap *m) {
  free(m->slots);
  m->slots = NULL;
  m->cap = 0;
  m->count = 0;
}
