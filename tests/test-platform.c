/* tests/test-platform.c -- the platform layer's small containers and atomics
 * (pools/platform/): the intrusive doubly-linked list and the plain-word atomics.
 * Built against the internal headers (hp_internal_dep).
 */
#include "pools/platform/atomic.h"
#include "pools/platform/list.h"

#include <check.h>
#include <stdlib.h>

typedef struct node { struct node *next, *prev; int v; } node;

/* The values of the list from its head, and checks every back link on the way. */
static int walk(node *head, int *out, int max) {
  int n = 0;
  for (node *p = head, *before = NULL; p; before = p, p = p->next) {
    ck_assert_ptr_eq(p->prev, before);
    ck_assert_int_lt(n, max);
    out[n++] = p->v;
  }
  return n;
}

/* Pushes go to the front; removing the middle, the head and the last node each keeps both
 * directions linked, and leaves the removed node unlinked. */
START_TEST(test_list_push_remove) {
  node a = { .v = 1 }, b = { .v = 2 }, c = { .v = 3 };
  node *head = NULL;
  int got[4];
  ck_assert_int_eq(walk(head, got, 4), 0);
  hpS_list_push(&head, &a);
  hpS_list_push(&head, &b);
  hpS_list_push(&head, &c);
  ck_assert_int_eq(walk(head, got, 4), 3);
  ck_assert_int_eq(got[0], 3);
  ck_assert_int_eq(got[1], 2);
  ck_assert_int_eq(got[2], 1);
  hpS_list_remove(&head, &b);                          /* the middle */
  ck_assert_ptr_null(b.next);
  ck_assert_ptr_null(b.prev);
  ck_assert_int_eq(walk(head, got, 4), 2);
  ck_assert_int_eq(got[0], 3);
  ck_assert_int_eq(got[1], 1);
  hpS_list_remove(&head, &c);                          /* the head */
  ck_assert_ptr_eq(head, &a);
  ck_assert_int_eq(walk(head, got, 4), 1);
  hpS_list_push(&head, &b);
  hpS_list_remove(&head, &a);                          /* the last */
  ck_assert_ptr_eq(head, &b);
  ck_assert_ptr_null(b.next);
  hpS_list_remove(&head, &b);
  ck_assert_ptr_null(head);
}
END_TEST

/* The list macros evaluate their node argument once. */
START_TEST(test_list_node_evaluated_once) {
  node n[2] = { { .v = 1 }, { .v = 2 } };
  node *head = NULL;
  int i = 0;
  hpS_list_push(&head, &n[i++]);
  ck_assert_int_eq(i, 1);
  hpS_list_push(&head, &n[i++]);
  ck_assert_int_eq(i, 2);
  ck_assert_ptr_eq(head, &n[1]);
  i = 1;
  hpS_list_remove(&head, &n[i--]);
  ck_assert_int_eq(i, 0);
  ck_assert_ptr_eq(head, &n[0]);
  ck_assert_ptr_null(n[0].prev);
}
END_TEST

/* A plain word through the atomic view: or returns the word before and sets the bits. */
START_TEST(test_word_atomics) {
  uint64_t w = 0x10;
  ck_assert_uint_eq(hpS_word_fetch_or(&w, 0x3, memory_order_relaxed), 0x10);
  ck_assert_uint_eq(w, 0x13);
  ck_assert_uint_eq(hpS_word_load(&w, memory_order_acquire), 0x13);
  int flag = 0;
  hpS_int_store(&flag, 7, memory_order_release);
  ck_assert_int_eq(flag, 7);
}
END_TEST

int main(void) {
  Suite *s = suite_create("platform");
  TCase *tc = tcase_create("containers");
  tcase_add_test(tc, test_list_push_remove);
  tcase_add_test(tc, test_list_node_evaluated_once);
  tcase_add_test(tc, test_word_atomics);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
