/* test_task.c -- the table of tasks: ids (the table's prefix, then 32 hex
 * digits, unique), the caps (-EAGAIN when the table is full, -EDQUOT when
 * one client holds its limit, while another client still gets one; a
 * removed task frees its client's place), who may see a task (its owner
 * only; an unowned task only callers without a principal), status moves (a
 * terminal status sticks), expiry order, and the wire shape of a task in
 * each status (what tasks/get and CreateTaskResult carry, and what they
 * must not). */
#include "mcp/task.h"
#include "test.h"

#include <errno.h>
#include <string.h>

static int is_hex(const char *s, size_t len) {
  size_t i;
  for (i = 0; i < len; i++) {
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  }
  return s[len] == '\0';
}

static void test_ids(void) {
  task_table t;
  task *a, *b;
  task_table_init(&t, 10, 10, "i1-");
  CHECK_EQ_INT(task_new(&t, "127.0.0.1", NULL, 60000, 1000, &a), 0);
  CHECK_EQ_INT(task_new(&t, "127.0.0.1", NULL, 60000, 1000, &b), 0);
  CHECK(strncmp(a->id, "i1-", 3) == 0 && strlen(a->id) == 35 && is_hex(a->id + 3, 32));
  CHECK(strcmp(a->id, b->id) != 0);
  CHECK(task_find(&t, a->id, strlen(a->id), NULL) == a);
  CHECK(task_find(&t, a->id, strlen(a->id) - 1, NULL) == NULL);
  CHECK_EQ_INT(a->status, TASK_WORKING);
  CHECK_EQ_INT(a->expires, 61000);
  CHECK(task_oldest(&t) == a);
  task_remove(&t, a);
  CHECK(task_oldest(&t) == b);
  CHECK_EQ_INT(t.count, 1);
  task_table_free(&t);
  CHECK_EQ_INT(t.count, 0);
}

static void test_caps(void) {
  task_table t;
  task *k[4], *x;
  task_table_init(&t, 3, 2, "");
  CHECK_EQ_INT(task_new(&t, "10.0.0.2", NULL, 1000, 0, &k[0]), 0);
  CHECK_EQ_INT(task_new(&t, "10.0.0.2", NULL, 1000, 0, &k[1]), 0);
  /* The attacker's third is refused; the victim still gets one. */
  CHECK_EQ_INT(task_new(&t, "10.0.0.2", NULL, 1000, 0, &x), -EDQUOT);
  CHECK(x == NULL);
  CHECK_EQ_INT(task_new(&t, "10.0.0.1", NULL, 1000, 0, &k[2]), 0);
  /* The table is full for everyone. */
  CHECK_EQ_INT(task_new(&t, "10.0.0.3", NULL, 1000, 0, &x), -EAGAIN);
  task_remove(&t, k[0]);
  CHECK_EQ_INT(task_new(&t, "10.0.0.2", NULL, 1000, 0, &k[3]), 0);
  /* A reload lowers the caps: what is there stays, nothing new fits. */
  task_table_configure(&t, 3, 1, 1000, 1000);
  CHECK_EQ_INT(task_new(&t, "10.0.0.1", NULL, 1000, 0, &x), -EAGAIN);
  task_table_configure(&t, 10, 1, 1000, 1000);
  CHECK_EQ_INT(task_new(&t, "10.0.0.1", NULL, 1000, 0, &x), -EDQUOT);
  CHECK_EQ_INT(task_new(&t, "10.0.0.4", NULL, 1000, 0, &x), 0);
  task_table_free(&t);
}

static void test_bytes_and_expiry_order(void) {
  task_table t;
  task *a, *b, *c, *late;
  task_table_init(&t, 10, 10, NULL);
  task_table_configure(&t, 10, 10, 1000, 600);
  CHECK_EQ_INT(task_new(&t, "10.0.0.1", NULL, 5000, 0, &a), 0);
  CHECK_EQ_INT(task_new(&t, "10.0.0.1", NULL, 5000, 0, &b), 0);
  CHECK_EQ_INT(task_new(&t, "10.0.0.2", NULL, 5000, 0, &c), 0);
  CHECK_EQ_INT(task_charge(&t, a, 400), 0);
  /* The client's budget is 600: 400 + 300 is over it, nothing counted. */
  CHECK_EQ_INT(task_charge(&t, b, 300), -EDQUOT);
  CHECK_EQ_INT(b->bytes, 0);
  CHECK_EQ_INT(task_charge(&t, b, 200), 0);
  /* Another client has its own, but all together stay under 1000. */
  CHECK_EQ_INT(task_charge(&t, c, 500), -EAGAIN);
  CHECK_EQ_INT(task_charge(&t, c, 400), 0);
  CHECK_EQ_INT(t.bytes, 1000);
  task_remove(&t, a);
  CHECK_EQ_INT(t.bytes, 600);
  CHECK_EQ_INT(task_charge(&t, b, 400), 0); /* a's share freed */
  /* A shorter time to live (a reload) goes before the longer ones. */
  CHECK_EQ_INT(task_new(&t, "10.0.0.3", NULL, 100, 10, &late), 0);
  CHECK(task_oldest(&t) == late);
  task_table_free(&t);
  CHECK_EQ_INT(t.bytes, 0);
}

static void test_owner(void) {
  task_table t;
  uint8_t alice[32], bob[32];
  task *a, *n;
  memset(alice, 'a', sizeof(alice));
  memset(bob, 'b', sizeof(bob));
  task_table_init(&t, 10, 10, NULL);
  CHECK_EQ_INT(task_new(&t, "alice", alice, 1000, 0, &a), 0);
  CHECK_EQ_INT(task_new(&t, "anon", NULL, 1000, 0, &n), 0);
  CHECK(task_find(&t, a->id, strlen(a->id), alice) == a);
  CHECK(task_find(&t, a->id, strlen(a->id), bob) == NULL);
  CHECK(task_find(&t, a->id, strlen(a->id), NULL) == NULL);
  CHECK(task_find(&t, n->id, strlen(n->id), NULL) == n);
  CHECK(task_find(&t, n->id, strlen(n->id), alice) == NULL);
  task_table_free(&t);
}

static void test_status(void) {
  task_table t;
  task *k;
  task_table_init(&t, 10, 10, NULL);
  CHECK_EQ_INT(task_new(&t, "", NULL, 1000, 0, &k), 0);
  CHECK_EQ_INT(task_set_status(k, TASK_INPUT_REQUIRED, NULL), 1);
  CHECK_EQ_INT(task_set_status(k, TASK_INPUT_REQUIRED, NULL), 0);
  CHECK_EQ_INT(task_set_status(k, TASK_WORKING, "3 of 10"), 1);
  CHECK_EQ_STR(k->status_message, "3 of 10");
  CHECK_EQ_INT(task_set_status(k, TASK_CANCELLED, NULL), 1);
  CHECK(task_terminal(k->status));
  /* Terminal sticks: a late completion does not revive it. */
  CHECK_EQ_INT(task_set_status(k, TASK_COMPLETED, "late"), 0);
  CHECK_EQ_INT(k->status, TASK_CANCELLED);
  CHECK_EQ_STR(k->status_message, "3 of 10");
  CHECK_EQ_STR(task_status_name(TASK_INPUT_REQUIRED), "input_required");
  task_table_free(&t);
}

static void test_render(void) {
  task_table t;
  task *k;
  json_t *o, *asks = json_pack("{s:{s:s}}", "confirm", "method", "elicitation/create");
  task_table_init(&t, 10, 10, NULL);
  CHECK_EQ_INT(task_new(&t, "", NULL, 60000, 0, &k), 0);

  o = task_render(k, 500, 0, NULL);
  CHECK_EQ_STR(json_string_value(json_object_get(o, "taskId")), k->id);
  CHECK_EQ_STR(json_string_value(json_object_get(o, "status")), "working");
  CHECK_EQ_INT(json_integer_value(json_object_get(o, "ttlMs")), 60000);
  CHECK_EQ_INT(json_integer_value(json_object_get(o, "pollIntervalMs")), 500);
  CHECK(strlen(json_string_value(json_object_get(o, "createdAt"))) == 24);
  CHECK(json_string_value(json_object_get(o, "createdAt"))[10] == 'T');
  CHECK(json_object_get(o, "lastUpdatedAt") != NULL);
  CHECK(json_object_get(o, "ttl") == NULL && json_object_get(o, "pollInterval") == NULL);
  CHECK(json_object_get(o, "requestState") == NULL && json_object_get(o, "result") == NULL);
  json_decref(o);

  task_set_status(k, TASK_INPUT_REQUIRED, NULL);
  o = task_render(k, 0, 1, asks);
  CHECK(json_object_get(o, "pollIntervalMs") == NULL);
  CHECK_EQ_STR(json_string_value(json_object_get(
                   json_object_get(json_object_get(o, "inputRequests"), "confirm"), "method")),
               "elicitation/create");
  json_decref(o);
  /* Not detailed (a CreateTaskResult): no inputRequests. */
  o = task_render(k, 0, 0, asks);
  CHECK(json_object_get(o, "inputRequests") == NULL);
  json_decref(o);

  k->result = json_pack("{s:[]}", "content");
  task_set_status(k, TASK_COMPLETED, NULL);
  o = task_render(k, 0, 1, asks);
  CHECK(json_is_array(json_object_get(json_object_get(o, "result"), "content")));
  CHECK(json_object_get(o, "inputRequests") == NULL && json_object_get(o, "error") == NULL);
  json_decref(o);
  json_decref(asks);
  task_table_free(&t);
}

int main(void) {
  RUN(test_ids);
  RUN(test_caps);
  RUN(test_bytes_and_expiry_order);
  RUN(test_owner);
  RUN(test_status);
  RUN(test_render);
  TEST_MAIN_END();
}
