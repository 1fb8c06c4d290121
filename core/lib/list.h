/* list.h -- an intrusive, circular, doubly-linked list with a sentinel
 * head (as in libuv's queue and Linux's list_head). Embed a list_node in
 * each member; the head is a list_node of its own. O(1) insert and remove,
 * no allocation. A removed node points at itself, so removing twice is
 * harmless. */
#ifndef MCPD_LIST_H
#define MCPD_LIST_H

#include <stddef.h>

typedef struct list_node {
  struct list_node *prev, *next;
} list_node;

/* The struct of type `type` whose member `member` is node. */
#define list_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

/* Iterates over the nodes of head; the current node may be removed. */
#define list_foreach_safe(n, tmp, head)                                                            \
  for ((n) = (head)->next, (tmp) = (n)->next; (n) != (head); (n) = (tmp), (tmp) = (n)->next)

static inline void list_init(list_node *n) {
  n->prev = n->next = n;
}

static inline int list_empty(const list_node *head) {
  return head->next == head;
}

static inline void list_insert_tail(list_node *head, list_node *n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}

static inline void list_insert_head(list_node *head, list_node *n) {
  n->next = head->next;
  n->prev = head;
  head->next->prev = n;
  head->next = n;
}

static inline void list_remove(list_node *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = n;
}

#endif
