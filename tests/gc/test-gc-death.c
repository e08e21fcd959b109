/* tests/gc/test-gc-death.c -- misuse of the collector that must abort (SIGABRT), each
 * beside a control test that does the same thing correctly and must pass, so that a death
 * test cannot pass by dying of something else.
 *
 * Only <hp.h>. Checks that are API-misuse checks (hp_check_api) exist only when the library
 * is built with debug_level >= 1 (T_HP_DEBUG, from meson); their tests are registered only
 * then. The verifier's checks exist at every level.
 */
#include "gc-test.h"

#include <signal.h>
#include <stddef.h>

typedef struct node { struct node *a, *b; uint64_t id; } node;
static const uint32_t node_offsets[] = { offsetof(node, a), offsetof(node, b) };
static hp_type node_type = { .name = "node", .size = sizeof(node), .noffsets = 2, .offsets = node_offsets };
static hp_type leaf_type = { .name = "leaf", .size = 16, .flags = HP_TYPE_LEAF };
static hp_type unregistered_type = { .name = "unregistered", .size = 16 };

static hp_runtime *make(unsigned verify) {
  hp_config c = t_config();
  c.verify = verify;
  hp_runtime *rt = t_runtime(&c);
  ck_assert_int_eq(hp_type_register(rt, &node_type), 0);
  ck_assert_int_eq(hp_type_register(rt, &leaf_type), 0);
  return rt;
}

/* An old node (promoted by a major collection), rooted in *slot. */
static node *old_node(hp_thread *t, node **slot) {
  *slot = HP_NEW(t, &node_type);
  ck_assert_ptr_nonnull(*slot);
  (*slot)->id = 1;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert(!t_is_young(t, *slot));
  return *slot;
}

/* A fresh young node; no collection can run between its allocation and the caller's use. */
static node *young_node(hp_thread *t) {
  node *y = HP_NEW(t, &node_type);
  ck_assert_ptr_nonnull(y);
  ck_assert(t_is_young(t, y));
  y->id = 2;
  return y;
}

/* ---- A store of a young pointer into an old object without hp_write ---- */

static void missing_barrier(unsigned verify, bool use_barrier, bool verify_by_hand) {
  hp_runtime *rt = make(verify);
  hp_thread *t = hp_main_thread(rt);
  node *old = NULL;
  HP_ROOTS(t, fr, HP_SLOT(old));
  old_node(t, &old);
  node *y = young_node(t);
  if (use_barrier) hp_write(t, old, &old->a, y);
  else old->a = y;                               /* the bug under test */
  if (verify_by_hand) ck_assert_uint_eq(hp_verify_heap(rt), 2);
  hp_collect(t, HP_GC_MINOR);
  /* Reached only with the barrier: the young node survived through the remembered set. */
  ck_assert(use_barrier);
  ck_assert_ptr_nonnull(old->a);
  ck_assert_uint_eq(old->a->id, 2);
  ck_assert_uint_eq(hp_verify_heap(rt), 2);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}

START_TEST(death_barrier_verify2) { missing_barrier(2, false, false); }
END_TEST
START_TEST(control_barrier_verify2) { missing_barrier(2, true, false); }
END_TEST
START_TEST(death_barrier_verify1) { missing_barrier(1, false, false); }
END_TEST
START_TEST(death_barrier_verify_heap) { missing_barrier(0, false, true); }
END_TEST
START_TEST(control_barrier_verify_heap) { missing_barrier(0, true, true); }
END_TEST

/* The same into a large object, old from birth. */
static void missing_barrier_large(bool use_barrier) {
  hp_runtime *rt = make(2);
  hp_thread *t = hp_main_thread(rt);
  hp_type big = { .name = "big", .size = 16, .flags = HP_TYPE_ARRAY };
  ck_assert_int_eq(hp_type_register(rt, &big), 0);
  void **v = hp_new(t, &big, 16 + 2000 * sizeof(void *));
  ck_assert_ptr_nonnull(v);
  HP_ROOTS(t, fr, HP_SLOT(v));
  ck_assert(!t_is_young(t, v));
  node *y = young_node(t);
  if (use_barrier) hp_write(t, v, &v[2 + 1000], y);
  else v[2 + 1000] = y;
  hp_collect(t, HP_GC_MINOR);
  ck_assert(use_barrier);
  ck_assert_uint_eq(((node *)v[2 + 1000])->id, 2);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}

START_TEST(death_barrier_large) { missing_barrier_large(false); }
END_TEST
START_TEST(control_barrier_large) { missing_barrier_large(true); }
END_TEST

/* ---- API misuse (debug_level >= 1) ---- */

/* A pointer to a young object kept across a minor collection in an unregistered local. */
static void stale_pointer(bool rooted) {
  hp_runtime *rt = make(0);
  hp_thread *t = hp_main_thread(rt);
  node *keep = NULL;
  HP_ROOTS(t, fr, HP_SLOT(keep));
  node *y = young_node(t);
  if (rooted) keep = y;
  hp_collect(t, HP_GC_MINOR);                    /* y moves (or dies) */
  keep = rooted ? keep : y;                      /* unrooted: a stale address */
  hp_collect(t, HP_GC_MINOR);                    /* the collector finds it in a root */
  ck_assert(rooted);
  ck_assert_uint_eq(keep->id, 2);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}

START_TEST(death_stale_pointer) { stale_pointer(false); }
END_TEST
START_TEST(control_stale_pointer) { stale_pointer(true); }
END_TEST

static void collect_in_handler(hp_runtime *rt, const hp_gc_event *ev, void *data) {
  (*(int *)data)++;
  if (!ev->end) hp_collect(hp_main_thread(rt), HP_GC_MAJOR);   /* a collection during a collection */
}
static void count_events(hp_runtime *rt, const hp_gc_event *ev, void *data) {
  (void)rt; (void)ev;
  (*(int *)data)++;
}

static void nested_collection(bool nested) {
  hp_runtime *rt = make(0);
  hp_thread *t = hp_main_thread(rt);
  static int calls;
  calls = 0;
  hp_set_gc_event_handler(rt, nested ? collect_in_handler : count_events, &calls);
  hp_collect(t, HP_GC_MINOR);
  ck_assert(!nested);
  ck_assert_int_eq(calls, 2);
  hp_runtime_destroy(rt);
}

START_TEST(death_collect_in_event_handler) { nested_collection(true); }
END_TEST
START_TEST(control_collect_in_event_handler) { nested_collection(false); }
END_TEST

/* The first allocation of a runtime takes the slow path, which checks the type. */
START_TEST(death_unregistered_type) {
  hp_runtime *rt = make(0);
  void *p = HP_NEW(hp_main_thread(rt), &unregistered_type);
  ck_abort_msg("hp_new with an unregistered type returned %p", p);
}
END_TEST

START_TEST(death_size_below_type) {
  hp_runtime *rt = make(0);
  void *p = hp_new(hp_main_thread(rt), &leaf_type, 8);
  ck_abort_msg("hp_new below the type's size returned %p", p);
}
END_TEST

START_TEST(death_write_into_non_object) {
  hp_runtime *rt = make(0);
  hp_thread *t = hp_main_thread(rt);
  static void *fake[4];                          /* not a managed object */
  node *y = young_node(t);
  hp_write(t, &fake[1], &fake[1], y);
  ck_abort_msg("hp_write into an unmanaged object was accepted");
}
END_TEST

/* The word before this fake object has bit 1 set, the REMEMBERED bit of a real header: the
 * barrier's "already remembered" early return must not run before the check. */
START_TEST(death_write_into_remembered_lookalike) {
  hp_runtime *rt = make(0);
  hp_thread *t = hp_main_thread(rt);
  static uint64_t fake[4] = { 2, 0, 0, 0 };
  node *y = young_node(t);
  hp_write(t, &fake[1], &fake[1], y);
  ck_abort_msg("hp_write into an unmanaged object whose word before has bit 1 set was accepted");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("gc-death");
  TCase *tc = tcase_create("barrier");
  tcase_set_timeout(tc, 60);
  tcase_add_test_raise_signal(tc, death_barrier_verify2, SIGABRT);
  tcase_add_test(tc, control_barrier_verify2);
  tcase_add_test_raise_signal(tc, death_barrier_verify1, SIGABRT);
  tcase_add_test_raise_signal(tc, death_barrier_verify_heap, SIGABRT);
  tcase_add_test(tc, control_barrier_verify_heap);
  tcase_add_test_raise_signal(tc, death_barrier_large, SIGABRT);
  tcase_add_test(tc, control_barrier_large);
  suite_add_tcase(s, tc);
  tc = tcase_create("api");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, control_stale_pointer);
  tcase_add_test(tc, control_collect_in_event_handler);
  /* A stale pointer to a dead young object reads a plausible header unless dead young memory
   * is poisoned (0xE0), which debug_level >= 2 does. */
  if (T_HP_DEBUG >= 2) tcase_add_test_raise_signal(tc, death_stale_pointer, SIGABRT);
  if (T_HP_DEBUG >= 1) {
    tcase_add_test_raise_signal(tc, death_collect_in_event_handler, SIGABRT);
    tcase_add_test_raise_signal(tc, death_unregistered_type, SIGABRT);
    tcase_add_test_raise_signal(tc, death_size_below_type, SIGABRT);
    tcase_add_test_raise_signal(tc, death_write_into_non_object, SIGABRT);
    tcase_add_test_raise_signal(tc, death_write_into_remembered_lookalike, SIGABRT);
  }
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_set_fork_status(sr, CK_FORK);          /* death tests need a child process */
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
