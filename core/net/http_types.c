/* http_types.c -- the per-label statistics of outgoing HTTP requests. */
#include "net/http_types.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

http_client_label_stats *http_types_label(http_label_table *t, const char *label) {
  http_client_label_stats *s = strmap_get(&t->map, label, strlen(label));
  if (s != NULL)
    return s;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    http_client_label_stats **grown = realloc(t->all, cap * sizeof(*grown));
    if (grown == NULL)
      return NULL;
    t->all = grown;
    t->cap = cap;
  }
  s = calloc(1, sizeof(*s));
  if (s == NULL || (s->label = strdup(label)) == NULL ||
      strmap_put(&t->map, s->label, strlen(s->label), s) < 0) {
    if (s != NULL)
      free(s->label);
    free(s);
    return NULL;
  }
  t->all[t->n++] = s;
  return s;
}

void http_types_count(http_label_table *t, const char *label, int err, int status, double seconds) {
  http_client_label_stats *s = http_types_label(t, label);
  if (s == NULL)
    return;
  s->finished++;
  s->seconds += seconds;
  if (err == 0 && status >= 100 && status < 600)
    s->by_class[status / 100]++;
  else
    s->by_class[0]++;
  if (err == -ETIMEDOUT)
    s->timeouts++;
}

void http_types_free(http_label_table *t) {
  size_t i;
  for (i = 0; i < t->n; i++) {
    free(t->all[i]->label);
    free(t->all[i]);
  }
  free(t->all);
  strmap_free(&t->map);
  memset(t, 0, sizeof(*t));
}
