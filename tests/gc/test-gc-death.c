/* tests/gc/test-gc-death.c -- misuse of the collector that must abort (SIGABRT), each
 * beside a control test that does the same thing correctly and must pass, so that a death
 * test cannot pass by dying of something else.
 *
 * Only <hp.h>. Checks that are API-misuse checks (hp_check_api) exist only when the library
 * is built with debug_level >= 1 (T_HP_DEBUG, from meson); their tests are registered only
 * then. The verifier's checks exist at every level.
 */
#include "gc-test.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

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

/* ------------------------------------------------------------------------------------
 *  Thread misuse: each ends in a message that names the thread and the call, never a hang
 * ------------------------------------------------------------------------------------
 * Each scenario runs twice: as a death test (Check's raise_signal), and through
 * t_abort_message, which also checks what it said. */

static pthread_barrier_t bar;
static _Atomic bool release_stuck;

/* ---- Calls that touch managed objects inside a blocking region (HP_DEBUG >= 1) ---- */

static void in_region(void *what) {
  hp_runtime *rt = make(0);
  hp_thread *t = hp_main_thread(rt);
  node *old = NULL;
  HP_ROOTS(t, fr, HP_SLOT(old));
  old = hp_new(t, &node_type, 9000);             /* born old (> large_object_size) */
  ck_assert(old != NULL && !t_is_young(t, old));
  node *y = young_node(t);
  hp_blocking_enter(t);
  if (strcmp(what, "hp_new") == 0) (void)HP_NEW(t, &node_type);
  if (strcmp(what, "hp_write") == 0) hp_write(t, old, &old->a, y);
  if (strcmp(what, "hp_collect") == 0) hp_collect(t, HP_GC_MINOR);
  if (strcmp(what, "hp_safepoint") == 0) hp_safepoint_slow(t);
  if (strcmp(what, "hp_pin") == 0) hp_pin(t, y);
  hp_blocking_leave(t);
  if (strcmp(what, "none") == 0) {                /* the control: the same calls outside */
    ck_assert_ptr_nonnull(HP_NEW(t, &node_type));
    hp_write(t, old, &old->a, y);
    hp_collect(t, HP_GC_MINOR);
    hp_safepoint_slow(t);
    ck_assert_int_eq(hp_pin(t, old->a), 0);
    HP_UNROOT(t, fr);
    hp_runtime_destroy(rt);
    return;
  }
  ck_abort_msg("%s inside a blocking region was accepted", (const char *)what);
}

START_TEST(death_new_in_region) { in_region("hp_new"); }
END_TEST
START_TEST(death_write_in_region) { in_region("hp_write"); }
END_TEST
START_TEST(death_collect_in_region) { in_region("hp_collect"); }
END_TEST
START_TEST(control_calls_outside_region) { in_region("none"); }
END_TEST

START_TEST(message_calls_in_region) {
  const char *calls[] = { "hp_new", "hp_write", "hp_collect", "hp_safepoint", "hp_pin" };
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    char *err = t_abort_message(in_region, (void *)calls[i]);
    char want[64];
    snprintf(want, sizeof want, "%s inside a blocking region", calls[i]);
    ck_assert_msg(strstr(err, want) != NULL, "%s: no \"%s\" in: %s", calls[i], want, err);
    free(err);
  }
}
END_TEST

/* ---- hp_runtime_destroy while another thread is attached ---- */

static hp_thread *waiter_t;

static void *attached_waiter(void *arg) {
  hp_runtime *rt = arg;
  pthread_setname_np(pthread_self(), "hp-waiter");
  hp_thread *t = hp_thread_attach(rt);
  ck_assert_ptr_nonnull(t);
  waiter_t = t;
  hp_blocking_enter(t);
  pthread_barrier_wait(&bar);                    /* attached */
  pthread_barrier_wait(&bar);                    /* the main thread is done */
  hp_blocking_leave(t);
  hp_thread_detach(t);
  return NULL;
}

static void destroy_attached(void *arg) {
  bool detach_first = arg != NULL;
  hp_runtime *rt = make(0);
  pthread_barrier_init(&bar, NULL, 2);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, attached_waiter, rt), 0);
  pthread_barrier_wait(&bar);
  if (!detach_first) hp_runtime_destroy(rt);      /* the misuse: the waiter is attached */
  pthread_barrier_wait(&bar);
  ck_assert_int_eq(pthread_join(th, NULL), 0);
  hp_runtime_destroy(rt);
  ck_assert(detach_first);
}

/* hp_thread_detach of another thread's handle (HP_DEBUG >= 1). */
static void detach_other(void *arg) {
  (void)arg;
  hp_runtime *rt = make(0);
  pthread_barrier_init(&bar, NULL, 2);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, attached_waiter, rt), 0);
  pthread_barrier_wait(&bar);
  hp_thread_detach(waiter_t);                    /* the misuse */
  ck_abort_msg("hp_thread_detach of another thread's handle was accepted");
}

START_TEST(death_detach_other) { detach_other(NULL); }
END_TEST
START_TEST(message_detach_other) {
  char *err = t_abort_message(detach_other, NULL);
  ck_assert_msg(strstr(err, "hp_thread_detach from thread") && strstr(err, "of the handle of thread") &&
                strstr(err, "\"hp-waiter\""), "message: %s", err);
  free(err);
}
END_TEST

START_TEST(death_destroy_attached) { destroy_attached(NULL); }
END_TEST
START_TEST(control_destroy_detached) { destroy_attached(""); }
END_TEST
START_TEST(message_destroy_attached) {
  char *err = t_abort_message(destroy_attached, NULL);
  ck_assert_msg(strstr(err, "hp_runtime_destroy") && strstr(err, "\"hp-waiter\"") && strstr(err, "still attached") &&
                strstr(err, "inside a blocking region") && strstr(err, "attached at"), "message: %s", err);
  free(err);
}
END_TEST

/* ---- A thread that never reaches a safe point: the world stop's deadline ---- */

static void *stuck(void *arg) {
  hp_runtime *rt = arg;
  pthread_setname_np(pthread_self(), "hp-stuck");
  hp_thread *t = hp_thread_attach(rt);
  ck_assert_ptr_nonnull(t);
  pthread_barrier_wait(&bar);                    /* a wait while attached, outside a region: */
  while (!atomic_load(&release_stuck)) {         /* the misuse under test */
    struct timespec ts = { 0, 1000000 };
    nanosleep(&ts, NULL);
  }
  hp_safepoint(t);
  hp_thread_detach(t);
  return NULL;
}

static hp_runtime *deadline_runtime(unsigned ms, bool abort_after) {
  hp_config c = t_config();
  c.stop_deadline_ms = ms;
  c.stop_deadline_abort = abort_after;
  hp_runtime *rt = t_runtime(&c);
  ck_assert_int_eq(hp_type_register(rt, &node_type), 0);
  return rt;
}

static void stop_deadline_abort(void *arg) {
  (void)arg;
  hp_runtime *rt = deadline_runtime(100, true);
  atomic_store(&release_stuck, false);
  pthread_barrier_init(&bar, NULL, 2);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, stuck, rt), 0);
  pthread_barrier_wait(&bar);
  hp_collect(hp_main_thread(rt), HP_GC_MINOR);   /* waits for "hp-stuck": aborts at 100 ms */
  ck_abort_msg("the world stop did not abort at its deadline");
}

START_TEST(death_stop_deadline) { stop_deadline_abort(NULL); }
END_TEST
START_TEST(message_stop_deadline) {
  char *err = t_abort_message(stop_deadline_abort, NULL);
  ck_assert_msg(strstr(err, "has waited") && strstr(err, "1 thread to reach a safe point") &&
                strstr(err, "\"hp-stuck\"") && strstr(err, "not at a safe point") && strstr(err, "attached at") &&
                strstr(err, "passed its deadline (100 ms)"), "message: %s", err);
  free(err);
}
END_TEST

/* Without abort: the report comes once, the wait goes on, and the collection ends when the
 * thread comes back. A thread that is not attached watches stderr and releases it. */
typedef struct watch { FILE *f; } watch;
static void *watcher(void *arg) {
  watch *w = arg;
  char buf[8192];
  for (;;) {
    ssize_t n = pread(fileno(w->f), buf, sizeof buf - 1, 0);
    if (n > 0) {
      buf[n] = '\0';
      if (strstr(buf, "still waiting")) break;
    }
    struct timespec ts = { 0, 2000000 };
    nanosleep(&ts, NULL);
  }
  struct timespec ts = { 0, 300000000 };         /* 3 deadlines more: no second report */
  nanosleep(&ts, NULL);
  atomic_store(&release_stuck, true);
  return NULL;
}

START_TEST(test_stop_deadline_waits_on) {
  hp_runtime *rt = deadline_runtime(100, false);
  hp_thread *t = hp_main_thread(rt);
  atomic_store(&release_stuck, false);
  pthread_barrier_init(&bar, NULL, 2);
  pthread_t th, wt;
  ck_assert_int_eq(pthread_create(&th, NULL, stuck, rt), 0);
  pthread_barrier_wait(&bar);
  uint64_t before = t_gc_count(rt);
  t_capture cap = t_capture_begin();
  watch w = { cap.f };
  ck_assert_int_eq(pthread_create(&wt, NULL, watcher, &w), 0);
  hp_collect(t, HP_GC_MINOR);
  ck_assert_int_eq(pthread_join(wt, NULL), 0);
  char *err = t_capture_end(&cap);
  ck_assert_uint_eq(t_gc_count(rt), before + 1);
  ck_assert_msg(t_count_substr(err, "has waited") == 1 && strstr(err, "\"hp-stuck\"") && strstr(err, "still waiting"),
                "report: %s", err);
  free(err);
  hp_blocking_enter(t);
  ck_assert_int_eq(pthread_join(th, NULL), 0);
  hp_blocking_leave(t);
  hp_runtime_destroy(rt);
}
END_TEST

/* stop_deadline_ms = 0: the wait is silent, as before the option (and abort does not apply). */
static void *release_later(void *arg) {
  (void)arg;
  struct timespec ts = { 0, 300000000 };
  nanosleep(&ts, NULL);
  atomic_store(&release_stuck, true);
  return NULL;
}

START_TEST(test_stop_deadline_off) {
  hp_runtime *rt = deadline_runtime(0, true);
  hp_thread *t = hp_main_thread(rt);
  atomic_store(&release_stuck, false);
  pthread_barrier_init(&bar, NULL, 2);
  pthread_t th, rel;
  ck_assert_int_eq(pthread_create(&th, NULL, stuck, rt), 0);
  pthread_barrier_wait(&bar);
  t_capture cap = t_capture_begin();
  ck_assert_int_eq(pthread_create(&rel, NULL, release_later, NULL), 0);
  hp_collect(t, HP_GC_MINOR);
  char *err = t_capture_end(&cap);
  ck_assert_msg(strstr(err, "has waited") == NULL, "a report with the deadline off: %s", err);
  free(err);
  hp_blocking_enter(t);
  ck_assert_int_eq(pthread_join(rel, NULL), 0);
  ck_assert_int_eq(pthread_join(th, NULL), 0);
  hp_blocking_leave(t);
  hp_runtime_destroy(rt);
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
  tc = tcase_create("threads");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, control_calls_outside_region);
  tcase_add_test(tc, control_destroy_detached);
  tcase_add_test_raise_signal(tc, death_destroy_attached, SIGABRT);
  tcase_add_test(tc, message_destroy_attached);
  tcase_add_test_raise_signal(tc, death_stop_deadline, SIGABRT);
  tcase_add_test(tc, message_stop_deadline);
  tcase_add_test(tc, test_stop_deadline_waits_on);
  tcase_add_test(tc, test_stop_deadline_off);
  if (T_HP_DEBUG >= 1) {
    tcase_add_test_raise_signal(tc, death_new_in_region, SIGABRT);
    tcase_add_test_raise_signal(tc, death_write_in_region, SIGABRT);
    tcase_add_test_raise_signal(tc, death_collect_in_region, SIGABRT);
    tcase_add_test(tc, message_calls_in_region);
    tcase_add_test_raise_signal(tc, death_detach_other, SIGABRT);
    tcase_add_test(tc, message_detach_other);
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
