/* pools/list.h -- the pools' intrusive doubly-linked list of span descriptors, through their
 * `next` and `prev` fields: the heaps' page queues, the abandoned pages, the free-span bins.
 *
 * A list is a head and a tail; an element is on at most one list at a time, and its links
 * are NULL when it is on none. Every operation is O(1). The caller serialises access (the
 * owner thread, or the lock that guards the list).
 */
#ifndef HP_POOLS_LIST_H
#define HP_POOLS_LIST_H

typedef struct hpP_list {
  hpP_span *head, *tail;
} hpP_list;

hp_inline bool hpP_list_empty(const hpP_list *l) { return l->head == NULL; }

hp_inline void hpP_list_push_front(hpP_list *l, hpP_span *x) {
  x->prev = NULL;
  x->next = l->head;
  if (l->head) l->head->prev = x;
  else l->tail = x;
  l->head = x;
}

hp_inline void hpP_list_push_back(hpP_list *l, hpP_span *x) {
  x->next = NULL;
  x->prev = l->tail;
  if (l->tail) l->tail->next = x;
  else l->head = x;
  l->tail = x;
}

hp_inline void hpP_list_remove(hpP_list *l, hpP_span *x) {
  if (x->prev) x->prev->next = x->next;
  else l->head = x->next;
  if (x->next) x->next->prev = x->prev;
  else l->tail = x->prev;
  x->next = x->prev = NULL;
}

/* Removes and returns the first element, or NULL. */
hp_inline hpP_span *hpP_list_pop_front(hpP_list *l) {
  hpP_span *x = l->head;
  if (x) hpP_list_remove(l, x);
  return x;
}

#endif /* HP_POOLS_LIST_H */
