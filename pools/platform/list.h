/* pools/platform/list.h -- the intrusive doubly-linked list, header-only (hpS_list_).
 *
 * A list is a head pointer (NULL when empty) to nodes of any struct type with members
 * `next` and `prev` of that type: NULL-terminated both ways, the first node's prev NULL.
 * The operations are macros so that they serve every such type without casts; each
 * evaluates its arguments once but for `head`, which must have no side effects.
 * A node not on any list has next == prev == NULL (hpS_list_remove leaves it so).
 */
#ifndef HP_PLATFORM_LIST_H
#define HP_PLATFORM_LIST_H

/* Pushes node at the front of the list *head. O(1). */
#define hpS_list_push(head, node)                                                           \
  do {                                                                                      \
    __typeof__(node) hpS_n_ = (node);                                                       \
    hpS_n_->prev = NULL;                                                                    \
    hpS_n_->next = *(head);                                                                 \
    if (*(head)) (*(head))->prev = hpS_n_;                                                  \
    *(head) = hpS_n_;                                                                       \
  } while (0)

/* Unlinks node, which is on the list *head. O(1). */
#define hpS_list_remove(head, node)                                                         \
  do {                                                                                      \
    __typeof__(node) hpS_n_ = (node);                                                       \
    if (hpS_n_->prev) hpS_n_->prev->next = hpS_n_->next;                                    \
    else *(head) = hpS_n_->next;                                                            \
    if (hpS_n_->next) hpS_n_->next->prev = hpS_n_->prev;                                    \
    hpS_n_->next = hpS_n_->prev = NULL;                                                     \
  } while (0)

#endif /* HP_PLATFORM_LIST_H */
