/* tests/gc/test-gc-weak.c -- weak references, weak slots, ephemerons and finalizers through
 * the public API (<hp.h>), in minor and major collections, with promotion, pinning (hp_pin and
 * the conservative scan) and several mutator threads; the whole file also runs in stress mode
 * (HP_TEST_STRESS=50: a collection every 50 allocations, the heap verified after each, which
 * checks that no weak slot or ephemeron field points to a dead or moved object).
 *
 * What stress cannot change is asserted exactly: a weak slot whose object is unreachable is
 * NULL after the next collection that can see it (a minor one if the object was young, else
 * a major one); one whose object is kept equals the root that keeps it; a finalizer runs once.
 */
#include "gc-test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

/* ------------------------------------------------------------------------------------
 *  Types
 * ------------------------------------------------------------------------------------ */

typedef struct node { struct node *a, *b; uint64_t id, check; } node;
static const uint32_t node_offsets[] = { offsetof(node, a), offsetof(node, b) };
static hp_type node_type = { .name = "node", .size = sizeof(node), .noffsets = 2, .offsets = node_offsets };

/* A strong vector of pointers. */
typedef struct vec { uint64_t len; void *items[]; } vec;
static hp_type vec_type = { .name = "vec", .size = sizeof(vec), .flags = HP_TYPE_ARRAY };

/* A weak vector: its trailing words are weak slots (a weak-valued table). */
typedef struct wvec { uint64_t len; void *items[]; } wvec;
static hp_type wvec_type = { .name = "wvec", .size = sizeof(wvec), .flags = HP_TYPE_WEAK_ARRAY };

/* A record with one strong and two weak fixed slots. */
typedef struct wrec { void *strong; void *weak1; uint64_t id; void *weak2; } wrec;
static const uint32_t wrec_offsets[] = { offsetof(wrec, strong) };
static const uint32_t wrec_weak[] = { offsetof(wrec, weak1), offsetof(wrec, weak2) };
static hp_type wrec_type = { .name = "wrec", .size = sizeof(wrec), .noffsets = 1, .offsets = wrec_offsets,
                             .nweak = 2, .weak_offsets = wrec_weak };

/* An ephemeron table: a count, then (key, value) pairs. */
typedef struct etab { uint64_t n; struct { void *key, *value; } e[]; } etab;
static hp_type etab_type = { .name = "etab", .size = sizeof(etab), .flags = HP_TYPE_EPHEMERON_ARRAY };

/* A record with a fixed ephemeron pair after a strong slot. */
typedef struct erec { void *strong; void *key, *value; } erec;
static const uint32_t erec_offsets[] = { offsetof(erec, strong) };
static const uint32_t erec_eph[] = { offsetof(erec, key) };
static hp_type erec_type = { .name = "erec", .size = sizeof(erec), .noffsets = 1, .offsets = erec_offsets,
                             .nephemerons = 1, .ephemeron_offsets = erec_eph };

static void t_types(hp_runtime *rt) {
  hp_type *all[] = { &node_type, &vec_type, &wvec_type, &wrec_type, &etab_type, &erec_type };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ck_assert_int_eq(hp_type_register(rt, all[i]), 0);
}

static node *new_node(hp_thread *t, uint64_t id) {
  node *p = HP_NEW(t, &node_type);
  ck_assert_ptr_nonnull(p);
  p->id = id;
  p->check = t_mix(id);
  return p;
}

static void check_node(const node *p, uint64_t id) {
  ck_assert_ptr_nonnull(p);
  ck_assert_uint_eq(p->id, id);
  ck_assert_uint_eq(p->check, t_mix(id));
}

static void *new_array(hp_thread *t, const hp_type *type, size_t n) {
  uint64_t *v = hp_new(t, type, type->size + n * 8);
  ck_assert_ptr_nonnull(v);
  v[0] = n;
  return v;
}

/* The collection that sees whether p (the object of a weak slot) is reachable: a minor one
 * if it is young, else a major one. */
static hp_gc_kind kind_for(hp_thread *t, const void *p) { return t_is_young(t, p) ? HP_GC_MINOR : HP_GC_MAJOR; }

/* ------------------------------------------------------------------------------------
 *  Weak references
 * ------------------------------------------------------------------------------------ */

START_TEST(test_weak_young_cleared_by_minor) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  void *w = NULL;
  node *n = NULL;
  HP_ROOTS(t, fr, HP_SLOT(w), HP_SLOT(n));
  size_t minors = 0;
  for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS; attempt++) {
    n = new_node(t, 7);
    w = hp_weak_new(t, n);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_eq(hp_weak_get(t, w), n);
    void *target = hp_weak_get(t, w);
    n = NULL;
    hp_gc_kind k = kind_for(t, target);
    struct hp_gc_stats before = t_stats(rt);
    hp_collect(t, k);
    ck_assert_ptr_null(hp_weak_get(t, w));
    ck_assert_uint_ge(t_stats(rt).weak_cleared, before.weak_cleared + 1);
    if (k == HP_GC_MINOR) minors++;
  }
  ck_assert_uint_gt(minors, 0);                /* stress can promote the target only so often */
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_weak_follows_moves) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  void *w = NULL;
  node *n = new_node(t, 42);
  HP_ROOTS(t, fr, HP_SLOT(w), HP_SLOT(n));
  w = hp_weak_new(t, n);
  bool moved = false;
  for (int i = 0; i < 20; i++) {                /* past the tenure age: promoted */
    node *before = n;
    hp_collect(t, HP_GC_MINOR);
    if (n != before) moved = true;
    ck_assert_ptr_eq(hp_weak_get(t, w), n);
    check_node(n, 42);
  }
  ck_assert(moved);
  ck_assert(!t_is_young(t, n));
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_ptr_eq(hp_weak_get(t, w), n);
  check_node(n, 42);
  n = NULL;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_ptr_null(hp_weak_get(t, w));
  ck_assert_uint_gt(hp_verify_heap(rt), 0);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* An old weak reference (promoted by a major collection) set to a young object through
 * hp_weak_set: the barrier remembers it, a minor collection clears or updates it. */
START_TEST(test_weak_old_holder_young_target) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  void *w1 = NULL, *w2 = NULL;
  node *keep = NULL;
  HP_ROOTS(t, fr, HP_SLOT(w1), HP_SLOT(w2), HP_SLOT(keep));
  w1 = hp_weak_new(t, NULL);
  w2 = hp_weak_new(t, NULL);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert(!t_is_young(t, w1) && !t_is_young(t, w2));
  for (int round = 0; round < 8; round++) {
    node *dead = new_node(t, 100 + (uint64_t)round);
    hp_weak_set(t, w1, dead);
    dead = NULL;
    keep = new_node(t, 200 + (uint64_t)round);
    hp_weak_set(t, w2, keep);
    hp_gc_kind k = kind_for(t, hp_weak_get(t, w1));
    hp_collect(t, k);
    ck_assert_ptr_null(hp_weak_get(t, w1));
    ck_assert_ptr_eq(hp_weak_get(t, w2), keep);
    check_node(keep, 200 + (uint64_t)round);
    ck_assert_uint_gt(hp_verify_heap(rt), 0);
  }
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* Weak slots declared in a type: a weak vector (trailing words) and fixed weak offsets. */
START_TEST(test_weak_slots_in_type) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  const size_t n = 300;
  wvec *wv = NULL;
  vec *strong = NULL;
  wrec *r = NULL;
  node *x = NULL;
  HP_ROOTS(t, fr, HP_SLOT(wv), HP_SLOT(strong), HP_SLOT(r), HP_SLOT(x));
  wv = new_array(t, &wvec_type, n);
  strong = new_array(t, &vec_type, n);
  for (size_t i = 0; i < n; i++) {
    x = new_node(t, i);
    hp_write(t, wv, &wv->items[i], x);
    if (i % 3 == 0) hp_write(t, strong, &strong->items[i], x);
  }
  r = HP_NEW(t, &wrec_type);
  ck_assert_ptr_nonnull(r);
  r->id = 99;
  x = new_node(t, 1000);
  hp_write(t, r, &r->strong, x);
  hp_write(t, r, &r->weak1, x);                   /* kept by the strong slot */
  x = new_node(t, 1001);
  hp_write(t, r, &r->weak2, x);                   /* only weak */
  x = NULL;
  for (int k = 0; k < 3; k++) {
    hp_collect(t, k == 1 ? HP_GC_MINOR : HP_GC_MAJOR);
    for (size_t i = 0; i < n; i++) {
      if (i % 3 == 0) {
        ck_assert_ptr_eq(wv->items[i], strong->items[i]);
        check_node(wv->items[i], i);
      } else {
        ck_assert_ptr_null(wv->items[i]);
      }
    }
    ck_assert_ptr_eq(r->weak1, r->strong);
    check_node(r->weak1, 1000);
    ck_assert_ptr_null(r->weak2);
    ck_assert_uint_eq(r->id, 99);
  }
  /* Dropping the strong vector empties the weak one at the next major collection. */
  strong = NULL;
  hp_collect(t, HP_GC_MAJOR);
  for (size_t i = 0; i < n; i++) ck_assert_ptr_null(wv->items[i]);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* hp_pin: a pinned target never moves; the weak slot keeps its address until the object is
 * unpinned and unreachable. */
START_TEST(test_weak_pinned_hp_pin) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  void *w = NULL, *e = NULL;
  node *n = NULL, *v = NULL;
  HP_ROOTS(t, fr, HP_SLOT(w), HP_SLOT(e), HP_SLOT(n), HP_SLOT(v));
  n = new_node(t, 5);
  v = new_node(t, 6);
  w = hp_weak_new(t, n);
  e = hp_ephemeron_new(t, n, v);
  ck_assert_int_eq(hp_pin(t, n), 0);
  node *at = n;
  n = v = NULL;
  for (int i = 0; i < 4; i++) {
    hp_collect(t, i % 2 ? HP_GC_MAJOR : HP_GC_MINOR);
    ck_assert_ptr_eq(hp_weak_get(t, w), at);
    ck_assert_ptr_eq(hp_ephemeron_key(t, e), at);
    check_node(at, 5);
    check_node(hp_ephemeron_value(t, e), 6);
  }
  ck_assert_int_eq(hp_unpin(t, at), 0);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_ptr_null(hp_weak_get(t, w));
  ck_assert_ptr_null(hp_ephemeron_key(t, e));
  ck_assert_ptr_null(hp_ephemeron_value(t, e));
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* The conservative scan: an object named by a C local (and no precise root) is pinned for the
 * collection: weak slots and ephemeron keys to it keep its address. */
static node *volatile g_cons_local;
__attribute__((noinline)) static void cons_collect(hp_thread *t, hp_gc_kind k, node *keep) {
  node *volatile local = keep;                    /* on this frame's stack */
  hp_collect(t, k);
  g_cons_local = local;
}

START_TEST(test_weak_pinned_conservative) {
  hp_config c = t_config();
  c.conservative_stack = true;
  hp_runtime *rt = t_runtime_as_is(&c);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  void *w = NULL, *e = NULL;
  HP_ROOTS(t, fr, HP_SLOT(w), HP_SLOT(e));
  node *n = new_node(t, 11);
  w = hp_weak_new(t, n);
  e = hp_ephemeron_new(t, n, NULL);
  node *at = hp_weak_get(t, w);
  for (int i = 0; i < 4; i++) {
    cons_collect(t, i % 2 ? HP_GC_MAJOR : HP_GC_MINOR, at);
    ck_assert_ptr_eq(g_cons_local, at);
    ck_assert_ptr_eq(hp_weak_get(t, w), at);      /* pinned: not moved, not cleared */
    ck_assert_ptr_eq(hp_ephemeron_key(t, e), at);
    check_node(at, 11);
  }
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Ephemerons
 * ------------------------------------------------------------------------------------ */

/* The value refers back to the key: the pair must not keep itself alive. */
START_TEST(test_ephemeron_value_refers_to_key) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  void *e = NULL;
  node *k = NULL, *v = NULL;
  HP_ROOTS(t, fr, HP_SLOT(e), HP_SLOT(k), HP_SLOT(v));
  for (int round = 0; round < 4; round++) {
    k = new_node(t, 1);
    v = new_node(t, 2);
    v->a = k;
    e = hp_ephemeron_new(t, k, v);
    if (round >= 2) hp_collect(t, HP_GC_MAJOR);    /* the same with everything old */
    /* While the key is rooted, the value lives. */
    v = NULL;
    hp_collect(t, HP_GC_MINOR);
    ck_assert_ptr_eq(hp_ephemeron_key(t, e), k);
    node *val = hp_ephemeron_value(t, e);
    check_node(val, 2);
    ck_assert_ptr_eq(val->a, k);
    const void *key = k;
    k = NULL;
    hp_collect(t, kind_for(t, key));
    ck_assert_ptr_null(hp_ephemeron_key(t, e));
    ck_assert_ptr_null(hp_ephemeron_value(t, e));
  }
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* A fixed ephemeron pair in a record, beside a strong slot. */
START_TEST(test_ephemeron_fixed_pair) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  erec *r = NULL;
  node *k = NULL, *x = NULL;
  HP_ROOTS(t, fr, HP_SLOT(r), HP_SLOT(k), HP_SLOT(x));
  r = HP_NEW(t, &erec_type);
  ck_assert_ptr_nonnull(r);
  k = new_node(t, 1);
  x = new_node(t, 2);
  hp_write(t, r, &r->key, k);
  hp_write(t, r, &r->value, x);
  x = new_node(t, 3);
  hp_write(t, r, &r->strong, x);
  x = NULL;
  hp_collect(t, HP_GC_MINOR);
  ck_assert_ptr_eq(r->key, k);
  check_node(r->value, 2);
  check_node(r->strong, 3);
  k = NULL;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_ptr_null(r->key);
  ck_assert_ptr_null(r->value);
  check_node(r->strong, 3);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* A chain through values (pair i: key K_i, value K_{i+1}) laid out in the worst order for a
 * pass-until-no-change algorithm (pair i at index n-1-i). It lives while K_0 is rooted; each
 * collection meets each pair once and parks each at most once (linear); dropping K_0 clears
 * every pair. */
START_TEST(test_ephemeron_chain) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  const size_t n = t_big(100000, 20000, 1500);
  etab *tab = NULL;
  node *head = NULL, *cur = NULL, *next = NULL;
  HP_ROOTS(t, fr, HP_SLOT(tab), HP_SLOT(head), HP_SLOT(cur), HP_SLOT(next));
  tab = new_array(t, &etab_type, 2 * n);
  tab->n = n;
  head = cur = new_node(t, 0);
  for (size_t i = 0; i < n; i++) {
    next = new_node(t, i + 1);
    hp_write(t, tab, &tab->e[n - 1 - i].key, cur);
    hp_write(t, tab, &tab->e[n - 1 - i].value, next);
    cur = next;
  }
  cur = next = NULL;
  for (int k = 0; k < 4; k++) {
    struct hp_gc_stats b = t_stats(rt);
    hp_collect(t, k % 2 ? HP_GC_MAJOR : HP_GC_MINOR);
    struct hp_gc_stats a = t_stats(rt);
    /* A major collection starts with a minor one (the promotion): one or two passes. */
    uint64_t passes = k % 2 ? 2 : 1;
    ck_assert_uint_le(a.ephemerons_traced - b.ephemerons_traced, passes * n);
    ck_assert_uint_le(a.ephemerons_parked - b.ephemerons_parked, passes * n);
    ck_assert_uint_eq(a.ephemerons_cleared, b.ephemerons_cleared);
    node *p = head;
    for (size_t i = 0; i < n; i++) {
      ck_assert_ptr_eq(tab->e[n - 1 - i].key, p);
      check_node(p, i);
      p = tab->e[n - 1 - i].value;
    }
    check_node(p, n);
  }
  head = NULL;
  struct hp_gc_stats b = t_stats(rt);
  hp_collect(t, HP_GC_MAJOR);
  struct hp_gc_stats a = t_stats(rt);
  ck_assert_uint_eq(a.ephemerons_cleared - b.ephemerons_cleared, n);
  for (size_t i = 0; i < n; i++) {
    ck_assert_ptr_null(tab->e[i].key);
    ck_assert_ptr_null(tab->e[i].value);
  }
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* A cycle: pair i holds (K_i, K_{i+1 mod m}). Rooting any key keeps all; none: all cleared. */
START_TEST(test_ephemeron_cycle) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  const size_t m = 64;
  etab *tab = NULL;
  vec *keys = NULL;
  node *x = NULL;
  HP_ROOTS(t, fr, HP_SLOT(tab), HP_SLOT(keys), HP_SLOT(x));
  for (int round = 0; round < 2; round++) {
    tab = new_array(t, &etab_type, 2 * m);
    tab->n = m;
    keys = new_array(t, &vec_type, m);
    for (size_t i = 0; i < m; i++) {
      x = new_node(t, i);
      hp_write(t, keys, &keys->items[i], x);
    }
    for (size_t i = 0; i < m; i++) {
      hp_write(t, tab, &tab->e[i].key, keys->items[i]);
      hp_write(t, tab, &tab->e[i].value, keys->items[(i + 1) % m]);
    }
    x = keys->items[(size_t)round * 17 % m];     /* one key rooted */
    keys = NULL;
    hp_collect(t, round ? HP_GC_MAJOR : HP_GC_MINOR);
    for (size_t i = 0; i < m; i++) {
      check_node(tab->e[i].key, i);
      ck_assert_ptr_eq(tab->e[i].value, tab->e[(i + 1) % m].key);
    }
    x = NULL;
    hp_collect(t, HP_GC_MAJOR);
    for (size_t i = 0; i < m; i++) {
      ck_assert_ptr_null(tab->e[i].key);
      ck_assert_ptr_null(tab->e[i].value);
    }
  }
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* A weak-keyed table of young keys in an old table: a minor collection clears the dead keys'
 * entries and updates the live ones (the barrier remembered the table). */
START_TEST(test_ephemeron_table_minor) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  const size_t m = 200;
  etab *tab = NULL;
  vec *keep = NULL;
  node *k = NULL, *v = NULL;
  HP_ROOTS(t, fr, HP_SLOT(tab), HP_SLOT(keep), HP_SLOT(k), HP_SLOT(v));
  tab = new_array(t, &etab_type, 2 * m);
  keep = new_array(t, &vec_type, m);
  hp_collect(t, HP_GC_MAJOR);                     /* both old */
  for (size_t i = 0; i < m; i++) {
    k = new_node(t, i);
    v = new_node(t, 1000 + i);
    v->a = k;                                     /* the value refers back to its key */
    hp_write(t, tab, &tab->e[i].key, k);
    hp_write(t, tab, &tab->e[i].value, v);
    if (i % 2 == 0) hp_write(t, keep, &keep->items[i], k);
  }
  k = v = NULL;
  /* Under stress some keys may have been promoted since: a major collection decides those. */
  hp_collect(t, HP_GC_MINOR);
  hp_collect(t, HP_GC_MAJOR);
  for (size_t i = 0; i < m; i++) {
    if (i % 2 == 0) {
      ck_assert_ptr_eq(tab->e[i].key, keep->items[i]);
      node *val = tab->e[i].value;
      check_node(val, 1000 + i);
      ck_assert_ptr_eq(val->a, tab->e[i].key);
    } else {
      ck_assert_ptr_null(tab->e[i].key);
      ck_assert_ptr_null(tab->e[i].value);
    }
  }
  ck_assert_uint_gt(hp_verify_heap(rt), 0);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Finalizers
 * ------------------------------------------------------------------------------------ */

static void count_fn(hp_thread *t, void *obj, void *data) {
  (void)t;
  unsigned char *counts = data;
  node *n = obj;
  ck_assert_uint_eq(n->check, t_mix(n->id));     /* valid while it runs */
  counts[n->id]++;
}

START_TEST(test_finalizers_million) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  const size_t n = t_big(1000000, 100000, 3000);
  unsigned char *counts = calloc(n, 1);
  ck_assert_ptr_nonnull(counts);
  size_t ran = 0;
  for (size_t i = 0; i < n; i++) {
    node *x = new_node(t, i);
    ck_assert_int_eq(hp_finalizer_register(t, x, count_fn, counts), 0);
    if (i % 4096 == 0) ran += hp_finalizers_run(t, 0);
  }
  for (int round = 0; round < 4 && ran < n; round++) {
    hp_collect(t, HP_GC_MAJOR);
    ran += hp_finalizers_run(t, 0);
  }
  ck_assert_uint_eq(ran, n);
  for (size_t i = 0; i < n; i++) ck_assert_uint_eq(counts[i], 1);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_finalizers_run(t, 0), 0);
  struct hp_gc_stats st = t_stats(rt);
  ck_assert_uint_eq(st.finalizers_queued, n);
  ck_assert_uint_eq(st.finalizers_run, n);
  ck_assert_uint_eq(st.finalizers_pending, 0);
  ck_assert_uint_eq(st.finalizers_registered, 0);
  free(counts);
  hp_runtime_destroy(rt);
}
END_TEST

/* A young finalizable object is queued by a minor collection. */
START_TEST(test_finalizer_young_minor) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  unsigned char counts[1] = { 0 };
  size_t minors = 0;
  for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS; attempt++) {
    counts[0] = 0;
    node *x = new_node(t, 0);
    ck_assert_int_eq(hp_finalizer_register(t, x, count_fn, counts), 0);
    hp_gc_kind k = kind_for(t, x);
    x = NULL;
    hp_collect(t, k);
    ck_assert_uint_eq(hp_finalizers_pending(rt), 1);
    ck_assert_uint_eq(hp_finalizers_run(t, 0), 1);
    ck_assert_uint_eq(counts[0], 1);
    if (k == HP_GC_MINOR) minors++;
  }
  ck_assert_uint_gt(minors, 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* An object kept past the tenure age: minor collections never queue it (old), a major one does
 * once it is dropped. */
START_TEST(test_finalizer_promoted) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  unsigned char counts[1] = { 0 };
  node *x = new_node(t, 0);
  HP_ROOTS(t, fr, HP_SLOT(x));
  ck_assert_int_eq(hp_finalizer_register(t, x, count_fn, counts), 0);
  for (int i = 0; i < 20; i++) {
    hp_collect(t, HP_GC_MINOR);
    ck_assert_uint_eq(hp_finalizers_pending(rt), 0);
  }
  ck_assert(!t_is_young(t, x));
  ck_assert_uint_eq(t_stats(rt).finalizers_registered, 1);
  x = NULL;
  hp_collect(t, HP_GC_MINOR);
  ck_assert_uint_eq(hp_finalizers_pending(rt), 0);    /* old: a minor collection cannot tell */
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_finalizers_pending(rt), 1);
  ck_assert_uint_eq(hp_finalizers_run(t, 0), 1);
  ck_assert_uint_eq(counts[0], 1);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* Pinned finalizable objects: hp_pin keeps one alive (and in place) until hp_unpin, and a
 * stack word (the conservative scan) keeps one while it is there. */
START_TEST(test_finalizer_pinned) {
  hp_runtime *rt = t_runtime(NULL);                 /* precise: only hp_pin holds it */
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  unsigned char counts[2] = { 0, 0 };
  node *p = new_node(t, 0);
  ck_assert_int_eq(hp_finalizer_register(t, p, count_fn, counts), 0);
  ck_assert_int_eq(hp_pin(t, p), 0);
  node *at = p;
  p = NULL;
  for (int i = 0; i < 4; i++) {
    hp_collect(t, i % 2 ? HP_GC_MAJOR : HP_GC_MINOR);
    ck_assert_uint_eq(hp_finalizers_run(t, 0), 0);
    check_node(at, 0);                              /* not moved */
  }
  ck_assert_int_eq(hp_unpin(t, at), 0);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_finalizers_run(t, 0), 1);
  ck_assert_uint_eq(counts[0], 1);
  hp_runtime_destroy(rt);

  hp_config c = t_config();
  c.conservative_stack = true;
  rt = t_runtime_as_is(&c);
  t = hp_main_thread(rt);
  t_types(rt);
  node *s = new_node(t, 1);
  ck_assert_int_eq(hp_finalizer_register(t, s, count_fn, counts), 0);
  for (int i = 0; i < 4; i++) {
    cons_collect(t, i % 2 ? HP_GC_MAJOR : HP_GC_MINOR, s);
    ck_assert_ptr_eq(g_cons_local, s);              /* pinned by the scan: the same address */
    ck_assert_uint_eq(hp_finalizers_run(t, 0), 0);
    check_node(s, 1);
  }
  g_cons_local = NULL;
  hp_runtime_destroy(rt);
  ck_assert_uint_eq(counts[1], 0);                  /* dropped at destroy (the default) */
}
END_TEST

/* Resurrection: the finalizer stores the object in a global root. It lives on, is not
 * finalized again, and is finalized again once registered again. Weak references and
 * ephemerons to it were cleared before the finalizer ran. */
static void *g_saved;
static void *g_weak_seen;
static int g_resurrect_runs;
static void *g_w, *g_e;
static void resurrect_fn(hp_thread *t, void *obj, void *data) {
  (void)data;
  g_resurrect_runs++;
  g_weak_seen = hp_weak_get(t, g_w);
  ck_assert_ptr_null(hp_ephemeron_key(t, g_e));
  ck_assert_ptr_null(hp_ephemeron_value(t, g_e));
  check_node(obj, 77);
  g_saved = obj;
}

START_TEST(test_finalizer_resurrection) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  g_saved = g_w = g_e = NULL;
  g_resurrect_runs = 0;
  ck_assert_int_eq(hp_root_add(rt, &g_saved), 0);
  ck_assert_int_eq(hp_root_add(rt, &g_w), 0);
  ck_assert_int_eq(hp_root_add(rt, &g_e), 0);
  node *x = new_node(t, 77), *v = NULL;
  HP_ROOTS(t, fr, HP_SLOT(x), HP_SLOT(v));
  v = new_node(t, 78);
  hp_write(t, x, &x->a, v);                        /* x may be old by now (stress) */
  v = new_node(t, 79);
  g_w = hp_weak_new(t, x);
  g_e = hp_ephemeron_new(t, x, v);
  ck_assert_int_eq(hp_finalizer_register(t, x, resurrect_fn, NULL), 0);
  x = v = NULL;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_ptr_null(hp_weak_get(t, g_w));        /* cleared before the finalizer runs */
  ck_assert_uint_eq(hp_finalizers_pending(rt), 1);
  g_weak_seen = (void *)1;
  ck_assert_uint_eq(hp_finalizers_run(t, 0), 1);
  ck_assert_ptr_null(g_weak_seen);
  ck_assert_ptr_nonnull(g_saved);
  for (int i = 0; i < 3; i++) {
    hp_collect(t, i % 2 ? HP_GC_MINOR : HP_GC_MAJOR);
    ck_assert_uint_eq(hp_finalizers_run(t, 0), 0);
  }
  ck_assert_int_eq(g_resurrect_runs, 1);
  check_node(g_saved, 77);
  check_node(((node *)g_saved)->a, 78);           /* what it references was kept too */
  /* Registered again: finalized again. */
  ck_assert_int_eq(hp_finalizer_register(t, g_saved, resurrect_fn, NULL), 0);
  hp_weak_set(t, g_w, g_saved);
  g_saved = NULL;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_finalizers_run(t, 0), 1);
  ck_assert_int_eq(g_resurrect_runs, 2);
  ck_assert_ptr_null(g_weak_seen);
  check_node(g_saved, 77);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* A finalizer that allocates and registers another finalizer. */
static int g_second_runs;
static void second_fn(hp_thread *t, void *obj, void *data) {
  (void)t;
  (void)data;
  check_node(obj, 501);
  g_second_runs++;
}
static void first_fn(hp_thread *t, void *obj, void *data) {
  (void)data;
  check_node(obj, 500);
  HP_ROOTS(t, fr, HP_SLOT(obj));
  for (int i = 0; i < 100; i++) (void)new_node(t, 9);   /* garbage: may collect */
  node *y = new_node(t, 501);
  y->a = obj;                                     /* references the finalized object */
  ck_assert_int_eq(hp_finalizer_register(t, y, second_fn, NULL), 0);
  HP_UNROOT(t, fr);
}

START_TEST(test_finalizer_registers_another) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  g_second_runs = 0;
  node *x = new_node(t, 500);
  ck_assert_int_eq(hp_finalizer_register(t, x, first_fn, NULL), 0);
  x = NULL;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_finalizers_run(t, 0), 1);
  for (int i = 0; i < 3 && g_second_runs == 0; i++) {
    hp_collect(t, HP_GC_MAJOR);
    hp_finalizers_run(t, 0);
  }
  ck_assert_int_eq(g_second_runs, 1);
  ck_assert_uint_eq(t_stats(rt).finalizers_run, 2);
  hp_runtime_destroy(rt);
}
END_TEST

/* Pending finalizers at hp_runtime_destroy: dropped by default, run with finalize_on_destroy
 * (queued ones and still registered ones). */
static int g_destroy_runs;
static void destroy_fn(hp_thread *t, void *obj, void *data) {
  (void)t;
  (void)data;
  check_node(obj, 3);
  g_destroy_runs++;
}

START_TEST(test_finalizers_at_destroy) {
  for (int option = 0; option < 2; option++) {
    hp_config c = t_config();
    c.finalize_on_destroy = option;
    hp_runtime *rt = t_runtime(&c);
    hp_thread *t = hp_main_thread(rt);
    t_types(rt);
    g_destroy_runs = 0;
    node *queued = new_node(t, 3);
    ck_assert_int_eq(hp_finalizer_register(t, queued, destroy_fn, NULL), 0);
    queued = NULL;
    hp_collect(t, HP_GC_MAJOR);
    ck_assert_uint_eq(hp_finalizers_pending(rt), 1);
    node *live = new_node(t, 3);
    HP_ROOTS(t, fr, HP_SLOT(live));
    ck_assert_int_eq(hp_finalizer_register(t, live, destroy_fn, NULL), 0);
    ck_assert_uint_eq(t_stats(rt).finalizers_registered, 1);
    HP_UNROOT(t, fr);
    hp_runtime_destroy(rt);
    ck_assert_int_eq(g_destroy_runs, option ? 2 : 0);
  }
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Several mutator threads
 * ------------------------------------------------------------------------------------ */

enum { MT_THREADS = 4 };
typedef struct mt_ctx { hp_runtime *rt; unsigned w; size_t rounds; unsigned char *counts; size_t per; } mt_ctx;
static _Atomic size_t g_mt_ran;

static void mt_fn(hp_thread *t, void *obj, void *data) {
  (void)t;
  unsigned char *counts = data;
  node *n = obj;
  ck_assert_uint_eq(n->check, t_mix(n->id));
  __atomic_fetch_add(&counts[n->id], 1, __ATOMIC_RELAXED);
  atomic_fetch_add(&g_mt_ran, 1);
}

static void *mt_run(void *arg) {
  mt_ctx *x = arg;
  hp_thread *t = hp_thread_attach(x->rt);
  ck_assert_ptr_nonnull(t);
  wvec *weak = NULL;
  vec *strong = NULL;
  node *n = NULL;
  HP_ROOTS(t, fr, HP_SLOT(weak), HP_SLOT(strong), HP_SLOT(n));
  const size_t m = 64;
  for (size_t r = 0; r < x->rounds; r++) {
    weak = new_array(t, &wvec_type, m);
    strong = new_array(t, &vec_type, m);
    for (size_t i = 0; i < m; i++) {
      uint64_t id = (uint64_t)x->w * x->per + r * m + i;
      n = new_node(t, id);
      ck_assert_int_eq(hp_finalizer_register(t, n, mt_fn, x->counts), 0);
      hp_write(t, weak, &weak->items[i], n);
      if (i % 2 == 0) hp_write(t, strong, &strong->items[i], n);
    }
    n = NULL;
    hp_collect(t, r % 3 == 2 ? HP_GC_MAJOR : HP_GC_MINOR);
    /* The other threads' collections may have run too: kept ones are intact; the others are
     * NULL once a collection that sees them ran -- a major one surely. */
    hp_collect(t, HP_GC_MAJOR);
    for (size_t i = 0; i < m; i++) {
      if (i % 2 == 0) {
        ck_assert_ptr_eq(weak->items[i], strong->items[i]);
        check_node(weak->items[i], (uint64_t)x->w * x->per + r * m + i);
      } else {
        ck_assert_ptr_null(weak->items[i]);
      }
    }
    hp_finalizers_run(t, 0);
  }
  HP_UNROOT(t, fr);
  hp_thread_detach(t);
  return NULL;
}

START_TEST(test_threads_weak_and_finalizers) {
  hp_runtime *rt = t_runtime(NULL);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  const size_t rounds = t_big(20, 6, 3), per = rounds * 64;
  unsigned char *counts = calloc(MT_THREADS * per, 1);
  ck_assert_ptr_nonnull(counts);
  atomic_store(&g_mt_ran, 0);
  mt_ctx ctx[MT_THREADS];
  pthread_t th[MT_THREADS];
  hp_blocking_enter(t);
  for (unsigned i = 0; i < MT_THREADS; i++) {
    ctx[i] = (mt_ctx){ rt, i, rounds, counts, per };
    ck_assert_int_eq(pthread_create(&th[i], NULL, mt_run, &ctx[i]), 0);
  }
  for (unsigned i = 0; i < MT_THREADS; i++) pthread_join(th[i], NULL);
  hp_blocking_leave(t);
  /* Every object is unreachable now: two major collections queue the rest. */
  hp_collect(t, HP_GC_MAJOR);
  hp_finalizers_run(t, 0);
  hp_collect(t, HP_GC_MAJOR);
  hp_finalizers_run(t, 0);
  ck_assert_uint_eq(atomic_load(&g_mt_ran), MT_THREADS * per);
  for (size_t i = 0; i < MT_THREADS * per; i++) ck_assert_uint_eq(counts[i], 1);
  free(counts);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Types, statistics, the log
 * ------------------------------------------------------------------------------------ */

START_TEST(test_weak_types_register) {
  hp_runtime *rt = t_runtime(NULL);
  static const uint32_t bad_off[] = { 4 }, out_off[] = { 16 }, ok_off[] = { 8 };
  hp_type bad1 = { .name = "b1", .size = 16, .nweak = 1, .weak_offsets = bad_off };
  hp_type bad2 = { .name = "b2", .size = 16, .nweak = 1, .weak_offsets = out_off };
  hp_type bad3 = { .name = "b3", .size = 16, .nephemerons = 1, .ephemeron_offsets = ok_off };
  hp_type bad4 = { .name = "b4", .size = 8, .flags = HP_TYPE_ARRAY | HP_TYPE_WEAK_ARRAY };
  hp_type bad5 = { .name = "b5", .size = 8, .flags = HP_TYPE_LEAF | HP_TYPE_EPHEMERON_ARRAY };
  hp_type *bad[] = { &bad1, &bad2, &bad3, &bad4, &bad5 };
  for (size_t i = 0; i < 5; i++) {
    errno = 0;
    ck_assert_int_eq(hp_type_register(rt, bad[i]), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_uint_eq(bad[i]->id, 0);
  }
  hp_type good = { .name = "g", .size = 24, .nweak = 1, .weak_offsets = ok_off, .nephemerons = 1,
                   .ephemeron_offsets = ok_off };
  ck_assert_int_eq(hp_type_register(rt, &good), 0);
  ck_assert_int_eq(hp_finalizer_register(hp_main_thread(rt), NULL, count_fn, NULL), -1);
  ck_assert_int_eq(errno, EINVAL);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_weak_stats_and_log) {
  hp_config c = t_config();
  c.gc_log = true;
  hp_runtime *rt = t_runtime(&c);
  hp_thread *t = hp_main_thread(rt);
  t_types(rt);
  ck_assert_uint_eq(t_stats(rt).version, HP_GC_STATS_VERSION);
  ck_assert_uint_ge(HP_GC_STATS_VERSION, 2);
  void *w = NULL;
  HP_ROOTS(t, fr, HP_SLOT(w));
  t_capture cap = t_capture_begin();
  w = hp_weak_new(t, new_node(t, 1));
  hp_collect(t, HP_GC_MAJOR);
  char *log = t_capture_end(&cap);
  ck_assert_ptr_null(hp_weak_get(t, w));
  ck_assert_uint_ge(t_count_substr(log, ", weak cleared 1,"), 1);
  free(log);
  struct hp_gc_stats st = t_stats(rt);
  ck_assert_uint_ge(st.weak_cleared, 1);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------ */

static Suite *suite(void) {
  Suite *s = suite_create("gc-weak");
  struct { const char *name; const TTest *fn; double timeout; } tests[] = {
#define T(f, to) { #f, f, to }
    T(test_weak_young_cleared_by_minor, 60), T(test_weak_follows_moves, 60),
    T(test_weak_old_holder_young_target, 60), T(test_weak_slots_in_type, 60),
    T(test_weak_pinned_hp_pin, 60), T(test_weak_pinned_conservative, 60),
    T(test_ephemeron_value_refers_to_key, 60), T(test_ephemeron_fixed_pair, 60),
    T(test_ephemeron_chain, 300), T(test_ephemeron_cycle, 60), T(test_ephemeron_table_minor, 60),
    T(test_finalizers_million, 300), T(test_finalizer_young_minor, 60), T(test_finalizer_promoted, 60),
    T(test_finalizer_pinned, 60),
    T(test_finalizer_resurrection, 60), T(test_finalizer_registers_another, 60),
    T(test_finalizers_at_destroy, 60), T(test_threads_weak_and_finalizers, 300),
    T(test_weak_types_register, 60), T(test_weak_stats_and_log, 60),
#undef T
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    TCase *tc = tcase_create(tests[i].name);
    tcase_set_timeout(tc, tests[i].timeout);
    tcase_add_test(tc, tests[i].fn);
    suite_add_tcase(s, tc);
  }
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
