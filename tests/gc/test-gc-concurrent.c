/* tests/gc/test-gc-concurrent.c -- the concurrent major cycle (gc/mark.h, gc/marker.c): the
 * snapshot barrier against the lost-object race, young pointers stored into old objects and
 * minor collections during marking, pins and conservative roots during marking, lazy
 * sweeping, mutator threads storing into a shared old table while the marker thread runs,
 * the stress mode's start/finish steps, and a weak reference made during a cycle.
 *
 * The first tests drive one cycle step by step from inside (incremental mode, no marker
 * thread, no stress: hpC_collect with the internal kinds, mark slices of a chosen size, the
 * mark bits read directly), so that the interleaving they test is the one that happens. The
 * thread and stress tests use t_runtime and run in the stress variants too.
 */
#include "gc-test.h"

#include "gc/collector.h"

#include <pthread.h>
#include <stddef.h>

typedef struct node { struct node *a, *b; uint64_t id; } node;
static const uint32_t node_offsets[] = { offsetof(node, a), offsetof(node, b) };
static hp_type node_type = { .name = "node", .size = sizeof(node), .noffsets = 2, .offsets = node_offsets };
/* A table of pointer slots, born old (over large_object_size), not carded (under 64 KiB). */
enum { TABLE_SLOTS = 2048 };
static hp_type table_type = { .name = "table", .size = 0, .flags = HP_TYPE_ARRAY };

static node *new_node(hp_thread *t, uint64_t id) {
  node *p = HP_NEW(t, &node_type);
  ck_assert_ptr_nonnull(p);
  p->id = id;
  return p;
}

/* A runtime whose cycles the test drives itself: incremental marking (no marker thread), no
 * stress, precise roots, the verifier after every pause. */
static hp_runtime *driven(void) {
  hp_config c = t_config();
  c.mark_mode = 1;
  c.conservative_stack = false;
  c.verify = 1;
  hp_runtime *rt = hp_runtime_new(&c);
  ck_assert_ptr_nonnull(rt);
  ck_assert_int_eq(hp_type_register(rt, &node_type), 0);
  ck_assert_int_eq(hp_type_register(rt, &table_type), 0);
  rt->gens.mk.manual = true;                       /* no assists: the test runs the slices */
  return rt;
}

static int phase(hp_runtime *rt) { return atomic_load(&rt->gens.mk.phase); }

/* The mark bit of an old object. */
static bool marked(const void *obj) {
  uint64_t *hdr = hpC_header(obj);
  hpP_span *pg = hpP_span_of(hdr);
  uint32_t i = hpP_block_index(pg, hdr);
  return (hpP_span_bits(pg, HPP_BITS_MARK)[i >> 6] >> (i & 63)) & 1;
}

static void start_cycle(hp_runtime *rt, hp_thread *t) {
  ck_assert_int_eq(phase(rt), HPC_IDLE);
  ck_assert(hpC_collect(rt, hpC_mutator_of(t), HPC_GC_STEP));
  ck_assert_int_eq(phase(rt), HPC_MARKING);
  ck_assert_int_ne(t->marking, 0);
}

static void finish_cycle(hp_runtime *rt, hp_thread *t) {
  ck_assert(hpC_collect(rt, hpC_mutator_of(t), HPC_GC_FINISH));
  ck_assert_int_ne(phase(rt), HPC_MARKING);
  ck_assert_int_eq(t->marking, 0);
}

/* One slice of marking of `budget` work, as the marker or an assist does it; true when the
 * stack is empty. */
static bool slice(hp_runtime *rt, size_t budget) {
  pthread_mutex_lock(&rt->gens.mk.mu);
  hpC_barrier_take(rt, true);
  bool empty = hpC_mark_slice(&rt->gens, true, false, budget, NULL);
  pthread_mutex_unlock(&rt->gens.mk.mu);
  return empty;
}

static void sweep_all(hp_runtime *rt) {
  pthread_mutex_lock(&rt->alloc_mu);
  hpC_sweep_all(&rt->gens);
  pthread_mutex_unlock(&rt->alloc_mu);
  ck_assert_int_eq(phase(rt), HPC_IDLE);
}

/* ------------------------------------------------------------------------------------
 *  The lost-object race
 * ------------------------------------------------------------------------------------ */

/* a (rooted) is traced while b, at the end of a long chain, is not yet reached; x hangs off
 * b only. The mutator moves x from b to a: x is then reachable only from an object the
 * marker is done with. With hp_write the overwritten b->a is logged and x survives; with
 * plain stores (the control, `barrier` false) x is left unmarked -- which is what the
 * barrier is there to prevent, and shows that this test can fail. */
static void lost_object(bool barrier) {
  hp_runtime *rt = driven();
  hp_thread *t = hp_main_thread(rt);
  node *a = NULL, *c = NULL, *b = NULL, *x = NULL;
  HP_ROOTS(t, fr, HP_SLOT(a), HP_SLOT(c), HP_SLOT(b), HP_SLOT(x));
  a = new_node(t, 1);
  hp_write(t, a, &a->b, new_node(t, 2));          /* d: marked once a is traced */
  b = new_node(t, 3);
  x = new_node(t, 777);
  hp_write(t, b, &b->a, x);
  c = b;
  for (uint64_t i = 0; i < 3000; i++) {           /* c -> ... -> b: b is marked late */
    node *n = new_node(t, 10 + i);
    hp_write(t, n, &n->a, c);
    c = n;
  }
  hp_collect(t, HP_GC_MAJOR);                     /* everything old */
  ck_assert(!t_is_young(t, a) && !t_is_young(t, b) && !t_is_young(t, x));
  node *bb = b, *xx = x;
  b = x = NULL;                                   /* b and x: reachable through c only */
  start_cycle(rt, t);
  ck_assert(marked(a) && marked(c) && !marked(bb) && !marked(xx));
  size_t slices = 0;
  while (!marked(a->b)) { ck_assert(!slice(rt, 1)); slices++; }
  ck_assert(!marked(bb));                         /* a is black, b still white */
  ck_assert(!marked(xx));
  if (barrier) {
    hp_write(t, a, &a->a, xx);
    hp_write(t, bb, &bb->a, NULL);
  } else {
    a->a = xx;                                    /* what a missing barrier would do */
    bb->a = NULL;
  }
  while (!slice(rt, 64)) {}
  finish_cycle(rt, t);
  ck_assert(marked(bb));
  if (barrier) {
    ck_assert(marked(xx));
    ck_assert_uint_ge(t_stats(rt).cycle_logged_last, 1);
    sweep_all(rt);
    ck_assert_uint_eq(a->a->id, 777);
    ck_assert_uint_eq(hp_verify_heap(rt), 3000 + 4);
  } else {
    ck_assert(!marked(xx));                       /* lost: its block would be swept */
    a->a = NULL;                                  /* undo, so that the heap stays sound */
    sweep_all(rt);
    ck_assert_uint_eq(hp_verify_heap(rt), 3000 + 3);
  }
  ck_assert_uint_eq(t_stats(rt).cycles, 1);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}

START_TEST(test_lost_object_race) { lost_object(true); }
END_TEST

START_TEST(test_lost_object_without_barrier) { lost_object(false); }
END_TEST

/* ------------------------------------------------------------------------------------
 *  Young pointers into old objects, and minor collections, during marking
 * ------------------------------------------------------------------------------------ */

START_TEST(test_young_into_old_while_marking) {
  hp_runtime *rt = driven();
  hp_thread *t = hp_main_thread(rt);
  enum { N = 400 };
  node *list = NULL, *y = NULL;
  HP_ROOTS(t, fr, HP_SLOT(list), HP_SLOT(y));
  for (uint64_t i = 0; i < N; i++) {
    node *n = new_node(t, i);
    hp_write(t, n, &n->b, list);
    list = n;
  }
  hp_collect(t, HP_GC_MAJOR);
  start_cycle(rt, t);
  uint64_t minors = t_stats(rt).minor_count;
  size_t i = 0;
  for (node *n = list; n; n = n->b, i++) {
    y = new_node(t, 100000 + n->id);               /* young, stored into an old node */
    node *z = new_node(t, 200000 + n->id);
    hp_write(t, y, &y->a, z);
    hp_write(t, n, &n->a, y);
    if (i % 50 == 49) {
      hp_collect(t, HP_GC_MINOR);                  /* promotes some: black */
      ck_assert_int_eq(phase(rt), HPC_MARKING);
      if (!t_is_young(t, n->a)) ck_assert(marked(n->a));
    }
    if (i % 7 == 0) slice(rt, 16);
  }
  ck_assert_uint_ge(t_stats(rt).minor_count - minors, N / 50);
  hp_collect(t, HP_GC_MINOR);
  finish_cycle(rt, t);
  sweep_all(rt);
  for (node *n = list; n; n = n->b) {
    ck_assert_uint_eq(n->a->id, 100000 + n->id);
    ck_assert_uint_eq(n->a->a->id, 200000 + n->id);
  }
  ck_assert_uint_eq(hp_verify_heap(rt), 3 * N);
  /* A second cycle finds the same: nothing was lost or kept twice. */
  start_cycle(rt, t);
  while (!slice(rt, 1000)) {}
  finish_cycle(rt, t);
  sweep_all(rt);
  ck_assert_uint_eq(hp_verify_heap(rt), 3 * N);
  ck_assert_uint_eq(t_stats(rt).cycles, 2);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* Garbage made during a cycle lives through it (it was in the snapshot, or allocated
 * black) and dies at the next; garbage from before the cycle dies in it. */
START_TEST(test_cycle_frees_what_died) {
  hp_runtime *rt = driven();
  hp_thread *t = hp_main_thread(rt);
  enum { N = 1000 };
  node *keep = NULL, *drop = NULL;
  HP_ROOTS(t, fr, HP_SLOT(keep), HP_SLOT(drop));
  for (uint64_t i = 0; i < N; i++) {
    node *n = new_node(t, i);
    hp_write(t, n, &n->a, i % 2 ? keep : drop);
    if (i % 2) keep = n;
    else drop = n;
  }
  hp_collect(t, HP_GC_MAJOR);
  drop = NULL;                                     /* N/2 old objects die before the cycle */
  uint64_t freed0 = t_stats(rt).objects_freed;
  start_cycle(rt, t);
  while (!slice(rt, 100)) {}
  hp_write(t, keep, &keep->a, NULL);               /* N/2 - 1 die during it */
  finish_cycle(rt, t);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed0, N / 2);
  ck_assert_int_eq(phase(rt), HPC_SWEEPING);       /* the pages wait for their sweep */
  sweep_all(rt);
  ck_assert_uint_eq(hp_verify_heap(rt), N / 2);
  start_cycle(rt, t);
  finish_cycle(rt, t);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed0, N - 1);
  sweep_all(rt);
  ck_assert_uint_eq(hp_verify_heap(rt), 1);
  ck_assert_uint_eq(keep->id, N - 1);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Pins and conservative roots during marking
 * ------------------------------------------------------------------------------------ */

static __attribute__((noinline)) uint64_t read_id(node *volatile *p) { return (*p)->id; }

START_TEST(test_pins_and_conservative_while_marking) {
  hp_config c = t_config();
  c.mark_mode = 1;
  c.conservative_stack = true;
  c.verify = 1;
  hp_runtime *rt = hp_runtime_new(&c);
  ck_assert_ptr_nonnull(rt);
  ck_assert_int_eq(hp_type_register(rt, &node_type), 0);
  rt->gens.mk.manual = true;
  hp_thread *t = hp_main_thread(rt);
  node *r = NULL, *p = NULL;
  HP_ROOTS(t, fr, HP_SLOT(r), HP_SLOT(p));
  r = new_node(t, 1);
  hp_write(t, r, &r->a, new_node(t, 5));
  hp_write(t, r, &r->b, new_node(t, 6));
  hp_collect(t, HP_GC_MAJOR);
  start_cycle(rt, t);
  /* A young object pinned during marking points to an old one that the heap lets go of. */
  p = new_node(t, 7);
  ck_assert_int_eq(hp_pin(t, p), 0);
  hp_write(t, p, &p->a, r->a);
  hp_write(t, r, &r->a, NULL);
  /* An old object held only by a C local. */
  node *volatile q = r->b;
  hp_write(t, r, &r->b, NULL);
  for (int i = 0; i < 3; i++) {
    for (int k = 0; k < 100; k++) (void)new_node(t, 1000 + k);
    hp_collect(t, HP_GC_MINOR);                    /* p is pinned, promoted in place */
    slice(rt, 8);
  }
  ck_assert(t_is_young(t, p));
  finish_cycle(rt, t);
  sweep_all(rt);
  ck_assert_uint_eq(p->id, 7);
  ck_assert_uint_eq(p->a->id, 5);
  ck_assert_uint_eq(read_id(&q), 6);
  hp_verify_heap(rt);
  ck_assert_int_eq(hp_unpin(t, p), 0);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Mutator threads and the marker thread
 * ------------------------------------------------------------------------------------ */

typedef struct shared { hp_runtime *rt; void **table; uint64_t seed; size_t iters; } shared;

/* A record: three nodes whose ids follow from the key. */
static node *new_record(hp_thread *t, uint64_t key) {
  node *r = NULL, *n = NULL;
  HP_ROOTS(t, fr, HP_SLOT(r), HP_SLOT(n));
  r = new_node(t, key);
  n = new_node(t, t_mix(key));
  hp_write(t, r, &r->a, n);
  n = new_node(t, key ^ 0x5555);
  hp_write(t, r->a, &r->a->a, n);
  HP_UNROOT(t, fr);
  return r;
}

static void check_record(const node *r) {
  if (r == NULL) return;
  ck_assert_uint_eq(r->a->id, t_mix(r->id));
  ck_assert_uint_eq(r->a->a->id, r->id ^ 0x5555);
}

static void *storer(void *arg) {
  shared *s = arg;
  hp_thread *t = hp_thread_attach(s->rt);
  ck_assert_ptr_nonnull(t);
  t_rng rng = { s->seed };
  for (size_t i = 0; i < s->iters; i++) {
    node *r = new_record(t, t_next(&rng));
    void **table = s->table;                       /* old: it never moves */
    size_t k = t_below(&rng, TABLE_SLOTS);
    hp_write(t, table, &table[k], r);
    check_record(__atomic_load_n(&table[t_below(&rng, TABLE_SLOTS)], __ATOMIC_ACQUIRE));
    if (i % 64 == 0) hp_safepoint(t);
  }
  hp_thread_detach(t);
  return NULL;
}

START_TEST(test_threads_share_old_table) {
  hp_config c = t_config();
  c.mark_mode = 2;
  c.eden_size = 256 * T_KiB;
  c.major_min_size = 256 * T_KiB;                  /* cycles come often */
  hp_runtime *rt = t_runtime(&c);
  ck_assert_int_eq(hp_type_register(rt, &node_type), 0);
  ck_assert_int_eq(hp_type_register(rt, &table_type), 0);
  hp_thread *t = hp_main_thread(rt);
  void **table = hp_new(t, &table_type, TABLE_SLOTS * sizeof(void *));
  ck_assert_ptr_nonnull(table);
  ck_assert(!t_is_young(t, table));
  ck_assert_int_eq(hp_root_add(rt, (void **)&table), 0);
  enum { NT = 4 };
  pthread_t th[NT];
  shared s[NT];
  size_t iters = t_big(60000, 6000, 1500);
  hp_blocking_enter(t);                            /* the main thread does not hold them up */
  for (int i = 0; i < NT; i++) {
    s[i] = (shared){ rt, table, 1000 + (uint64_t)i * 7919, iters };
    ck_assert_int_eq(pthread_create(&th[i], NULL, storer, &s[i]), 0);
  }
  for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
  hp_blocking_leave(t);
  for (size_t k = 0; k < TABLE_SLOTS; k++) check_record(table[k]);
  hp_collect(t, HP_GC_MAJOR);
  for (size_t k = 0; k < TABLE_SLOTS; k++) check_record(table[k]);
  struct hp_gc_stats st = t_stats(rt);
  ck_assert_uint_gt(st.cycles_started, 0);
  ck_assert_uint_gt(st.cycles, 0);
  ck_assert_uint_gt(hp_verify_heap(rt), 0);
  ck_assert_int_eq(hp_root_remove(rt, (void **)&table), 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Stress: cycles started every N allocations and finished every M
 * ------------------------------------------------------------------------------------ */

START_TEST(test_stress_cycles) {
  hp_config c = t_config();
  c.stress = 7;
  c.stress_finish = 5;
  c.verify = 1;
  c.mark_mode = 1;
  c.conservative_stack = false;
  hp_runtime *rt = hp_runtime_new(&c);
  ck_assert_ptr_nonnull(rt);
  ck_assert_int_eq(hp_type_register(rt, &node_type), 0);
  hp_thread *t = hp_main_thread(rt);
  enum { N = 64 };
  node *ring[N] = { 0 };
  node *tmp = NULL;
  HP_ROOTS(t, fr, HP_SLOT(tmp));
  hp_root_range range = { (void **)ring, N };
  ck_assert_int_eq(hp_root_range_add(rt, &range), 0);
  t_rng rng = { 42 };
  uint64_t expect[N] = { 0 };
  size_t iters = t_big(6000, 1500, 1500);
  for (size_t i = 0; i < iters; i++) {
    size_t k = t_below(&rng, N);
    if (ring[k] == NULL) ring[k] = new_node(t, k);
    tmp = new_node(t, i + 1000000);
    hp_write(t, tmp, &tmp->a, ring[k]->b);            /* the older record stays reachable */
    hp_write(t, ring[k], &ring[k]->b, tmp);           /* overwrites a value, often old */
    expect[k] = i;
    for (size_t j = 0; j < N; j++) {
      if (ring[j] == NULL) continue;
      ck_assert_uint_eq(ring[j]->id, j);
      ck_assert_uint_eq(ring[j]->b->id, expect[j] + 1000000);
    }
  }
  struct hp_gc_stats st = t_stats(rt);
  ck_assert_uint_gt(st.cycles, 10);
  ck_assert_uint_gt(st.cycle_logged_total, 0);
  ck_assert_int_eq(hp_root_range_remove(rt, &range), 0);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Weak references across a cycle ([stw-weak] in gc/mark.h)
 * ------------------------------------------------------------------------------------ */

/* A weak reference made while a cycle marks: the cycle is given up at its next step for a
 * full collection, which clears the weak slot of what died and keeps the other. (Last in the
 * list: once a weak type exists in the process, due collections stop the world.) */
START_TEST(test_weak_across_cycle) {
  hp_runtime *rt = driven();
  hp_thread *t = hp_main_thread(rt);
  node *keep = NULL, *drop = NULL;
  void *wk = NULL, *wd = NULL;
  HP_ROOTS(t, fr, HP_SLOT(keep), HP_SLOT(drop), HP_SLOT(wk), HP_SLOT(wd));
  keep = new_node(t, 11);
  drop = new_node(t, 22);
  hp_collect(t, HP_GC_MAJOR);                      /* both old */
  start_cycle(rt, t);
  wk = hp_weak_new(t, keep);
  wd = hp_weak_new(t, drop);
  ck_assert_ptr_nonnull(wk);
  ck_assert_ptr_nonnull(wd);
  drop = NULL;
  uint64_t majors = t_stats(rt).major_count;
  finish_cycle(rt, t);                             /* a full collection instead */
  ck_assert_int_eq(phase(rt), HPC_IDLE);
  ck_assert_uint_eq(t_stats(rt).major_count - majors, 1);
  ck_assert_uint_eq(t_stats(rt).cycles, 0);        /* given up, not finished */
  ck_assert_ptr_eq(hp_weak_get(t, wk), keep);
  ck_assert_ptr_null(hp_weak_get(t, wd));
  ck_assert_uint_eq(((node *)hp_weak_get(t, wk))->id, 11);
  /* From now on a due collection stops the world: no cycle starts. */
  ck_assert(hpC_collect(rt, hpC_mutator_of(t), HPC_GC_STEP));
  ck_assert_int_eq(phase(rt), HPC_IDLE);
  ck_assert_uint_gt(hp_verify_heap(rt), 0);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

int main(void) {
  Suite *s = suite_create("gc-concurrent");
  struct { const char *name; const TTest *fn; int timeout; } tests[] = {
#define T(f, to) { #f, f, to }
    T(test_lost_object_race, 60), T(test_lost_object_without_barrier, 60),
    T(test_young_into_old_while_marking, 60), T(test_cycle_frees_what_died, 60),
    T(test_pins_and_conservative_while_marking, 60), T(test_threads_share_old_table, 300),
    T(test_stress_cycles, 120), T(test_weak_across_cycle, 60),
#undef T
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    TCase *tc = tcase_create(tests[i].name);
    tcase_set_timeout(tc, tests[i].timeout);
    tcase_add_test(tc, tests[i].fn);
    suite_add_tcase(s, tc);
  }
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
