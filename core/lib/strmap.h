/* strmap.h -- a string-keyed hash table (open addressing, linear probing). */
#ifndef MCPD_STRMAP_H
#define MCPD_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap_slot {
  const char *key; /* borrowed: the value usually owns it */
  size_t key_len;
  uint64_t hash;
  void *value;
} strmap_slot;

/* Zero-initialise. Keys are borrowed: each must stay valid and unchanged
 * while it is in the map (store a pointer into the value it maps to). */
typedef struct strmap {
  strmap_slot *slots;
  size_t cap; /* a power of two, or 0 */
  size_t count;
} strmap;

/* Returns the value for key[0..len), or NULL. */
void *strmap_get(const strmap *m, const char *key, size_t len);

/* Maps key to value (non-NULL). Returns 0, -EEXIST (key present; nothing
 * changes) or -ENOMEM. */
int strmap_put(strmap *m, const char *key, size_t len, void *value);

/* Removes key; returns its value or NULL when absent. */
void *strmap_remove(strmap *m, const char *key, size_t len);

/* Frees the table (not keys or values). */
void strmap_free(strmap *m);

/* 64-bit FNV-1a. */
uint64_t strmap_hash(const char *key, size_t len);

#endif
