/* task.c -- the table of tasks. */
#include "mcp/task.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct task_client {
  char key[TASK_CLIENT_MAX];
  unsigned count;
  size_t bytes;
};

static int64_t now_unix_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void task_table_init(task_table *t, unsigned max, unsigned max_per_client, const char *prefix) {
  memset(t, 0, sizeof(*t));
  list_init(&t->order);
  t->max = max;
  t->max_per_client = max_per_client;
  t->max_bytes = t->max_bytes_per_client = (size_t)-1;
  if (prefix != NULL)
    snprintf(t->prefix, sizeof(t->prefix), "%s", prefix);
}

void task_table_configure(task_table *t, unsigned max, unsigned max_per_client, size_t max_bytes,
                          size_t max_bytes_per_client) {
  t->max = max;
  t->max_per_client = max_per_client;
  t->max_bytes = max_bytes;
  t->max_bytes_per_client = max_bytes_per_client;
}

int task_charge(task_table *t, task *k, size_t bytes) {
  task_client *c = k->client;
  if (c != NULL && c->bytes + bytes > t->max_bytes_per_client)
    return -EDQUOT;
  if (t->bytes + bytes > t->max_bytes)
    return -EAGAIN;
  if (c != NULL)
    c->bytes += bytes;
  t->bytes += bytes;
  k->bytes += bytes;
  return 0;
}

int task_new(task_table *t, const char *client, const uint8_t *owner, unsigned ttl_ms, uint64_t now,
             task **out) {
  static const char hex[] = "0123456789abcdef";
  unsigned char rnd[16];
  task_client *c;
  task *k;
  size_t plen = strlen(t->prefix), i, clen;

  *out = NULL;
  if (t->count >= t->max)
    return -EAGAIN;
  if (client == NULL)
    client = "";
  clen = strnlen(client, TASK_CLIENT_MAX - 1);
  c = strmap_get(&t->clients, client, clen);
  if (c != NULL && c->count >= t->max_per_client)
    return -EDQUOT;
  if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
    return errno ? -errno : -EIO;
  if ((k = calloc(1, sizeof(*k))) == NULL)
    return -ENOMEM;
  if (c == NULL) {
    if ((c = calloc(1, sizeof(*c))) == NULL) {
      free(k);
      return -ENOMEM;
    }
    memcpy(c->key, client, clen);
    if (strmap_put(&t->clients, c->key, clen, c) < 0) {
      free(c);
      free(k);
      return -ENOMEM;
    }
  }
  memcpy(k->id, t->prefix, plen);
  for (i = 0; i < sizeof(rnd); i++) {
    k->id[plen + 2 * i] = hex[rnd[i] >> 4];
    k->id[plen + 2 * i + 1] = hex[rnd[i] & 15];
  }
  k->id[plen + 32] = '\0';
  if (strmap_put(&t->map, k->id, plen + 32, k) < 0) {
    if (c->count == 0) {
      strmap_remove(&t->clients, c->key, clen);
      free(c);
    }
    free(k);
    return -ENOMEM;
  }
  c->count++;
  k->client = c;
  k->status = TASK_WORKING;
  k->created_ms = k->updated_ms = now_unix_ms();
  k->ttl_ms = ttl_ms;
  k->expires = now + ttl_ms;
  if (owner != NULL) {
    k->owned = 1;
    memcpy(k->owner, owner, sizeof(k->owner));
  }
  /* In order of expiry: from the tail, where a task with the same time to
   * live as the others belongs at once. */
  {
    list_node *at = t->order.prev;
    while (at != &t->order && list_entry(at, task, link)->expires > k->expires)
      at = at->prev;
    list_insert_tail(at->next, &k->link);
  }
  t->count++;
  *out = k;
  return 0;
}

task *task_find(task_table *t, const char *id, size_t len, const uint8_t *owner) {
  task *k = strmap_get(&t->map, id, len);
  if (k == NULL)
    return NULL;
  /* Another principal's task does not exist for this caller; nor does a
   * principal's for a caller without one. */
  if (k->owned != (owner != NULL) || (owner != NULL && memcmp(k->owner, owner, 32) != 0))
    return NULL;
  return k;
}

task *task_oldest(task_table *t) {
  return list_empty(&t->order) ? NULL : list_entry(t->order.next, task, link);
}

int task_terminal(enum task_status st) {
  return st == TASK_COMPLETED || st == TASK_FAILED || st == TASK_CANCELLED;
}

int task_set_status(task *k, enum task_status st, const char *message) {
  if (task_terminal(k->status))
    return 0;
  if (message != NULL) {
    char *copy = strdup(message);
    if (copy != NULL) {
      free(k->status_message);
      k->status_message = copy;
    }
  }
  k->updated_ms = now_unix_ms();
  if (k->status == st)
    return 0;
  k->status = st;
  return 1;
}

const char *task_status_name(enum task_status st) {
  static const char *const names[] = {"working", "input_required", "completed", "failed",
                                      "cancelled"};
  return names[st];
}

/* ISO 8601, UTC, with milliseconds. */
static json_t *iso_time(int64_t ms) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  char out[96];
  gmtime_r(&s, &tm);
  snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
  return json_string(out);
}

json_t *task_render(const task *k, unsigned poll_ms, int detailed, const json_t *input_requests) {
  json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:I}", "taskId", k->id, "status",
                        task_status_name(k->status), "createdAt", iso_time(k->created_ms),
                        "lastUpdatedAt", iso_time(k->updated_ms), "ttlMs", (json_int_t)k->ttl_ms);
  if (o == NULL)
    return NULL;
  if (poll_ms > 0)
    json_object_set_new(o, "pollIntervalMs", json_integer(poll_ms));
  if (k->status_message != NULL)
    json_object_set_new(o, "statusMessage", json_string(k->status_message));
  if (!detailed)
    return o;
  if (k->status == TASK_COMPLETED && k->result != NULL)
    json_object_set(o, "result", k->result);
  else if (k->status == TASK_FAILED && k->error != NULL)
    json_object_set(o, "error", k->error);
  else if (k->status == TASK_INPUT_REQUIRED)
    json_object_set_new(o, "inputRequests",
                        input_requests ? json_deep_copy(input_requests) : json_object());
  return o;
}

void task_remove(task_table *t, task *k) {
  task_client *c = k->client;
  strmap_remove(&t->map, k->id, strlen(k->id));
  list_remove(&k->link);
  t->count--;
  t->bytes -= k->bytes;
  if (c != NULL)
    c->bytes -= k->bytes;
  if (c != NULL && --c->count == 0) {
    strmap_remove(&t->clients, c->key, strlen(c->key));
    free(c);
  }
  free(k->status_message);
  json_decref(k->result);
  json_decref(k->error);
  free(k);
}

void task_table_free(task_table *t) {
  while (!list_empty(&t->order))
    task_remove(t, list_entry(t->order.next, task, link));
  strmap_free(&t->map);
  strmap_free(&t->clients);
}
