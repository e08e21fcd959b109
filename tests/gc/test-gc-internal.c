/* tests/gc/test-gc-internal.c -- the collector seen from inside: header words, ages, the
 * remembered set, the spaces (gc/gc.h). Linked with the static library built with
 * HP_BUILDING_HP, so the internal headers and HP_DEBUG are those of the library.
 *
 * Runtimes come from t_runtime (tests/gc/gc-test.h) as in the API tests, so this file also
 * runs in stress mode.
 */
#include "gc-test.h"

#include "gc/collector.h"

#include <stddef.h>

typedef struct node { struct node *a, *b; uint64_t id; } node;
static const uint32_t node_offsets[] = { offsetof(node, a), offsetof(node, b) };
static hp_type node_type = { .name = "node", .size = sizeof(node), .noffsets = 2, .offsets = node_offsets };
static hp_type blob_type = { .name = "blob", .size = 0, .flags = HP_TYPE_LEAF };

/* ---- The fields of the young spaces these tests read, in one place (gc/gc.h, "Spaces").
 * Two layouts: plain bounds, or spaces made of runs around pinned objects (HPC_MARKED comes
 * with those); these tests pin nothing, so each space is one run and `top` its bump. ---- */
#ifdef HPC_MARKED
static uintptr_t eden_lo(const hp_runtime *rt) { return rt->gens.eden.lo; }
static uintptr_t eden_top(const hp_runtime *rt) { return rt->gens.eden.top; }
static uintptr_t eden_hi(const hp_runtime *rt) { return rt->gens.eden.hi; }
static uintptr_t from_lo(const hp_runtime *rt) { return rt->gens.from.lo; }
static uintptr_t from_top(const hp_runtime *rt) { return rt->gens.from.top; }
static uintptr_t to_lo(const hp_runtime *rt) { return rt->gens.to.lo; }
static uintptr_t to_hi(const hp_runtime *rt) { return rt->gens.to.hi; }
#else
static uintptr_t eden_lo(const hp_runtime *rt) { return rt->gens.eden_lo; }
static uintptr_t eden_top(const hp_runtime *rt) { return rt->gens.eden_top; }
static uintptr_t eden_hi(const hp_runtime *rt) { return rt->gens.eden_hi; }
static uintptr_t from_lo(const hp_runtime *rt) { return rt->gens.from_lo; }
static uintptr_t from_top(const hp_runtime *rt) { return rt->gens.from_top; }
static uintptr_t to_lo(const hp_runtime *rt) { return rt->gens.to_lo; }
static uintptr_t to_hi(const hp_runtime *rt) { return rt->gens.to_hi; }
#endif

static hp_runtime *make(hp_config *c) {
  hp_runtime *rt = t_runtime(c);
  ck_assert_int_eq(hp_type_register(rt, &node_type), 0);
  ck_assert_int_eq(hp_type_register(rt, &blob_type), 0);
  return rt;
}

static node *new_node(hp_thread *t, uint64_t id) {
  node *p = HP_NEW(t, &node_type);
  ck_assert_ptr_nonnull(p);
  p->id = id;
  return p;
}

static uint64_t hdr(const void *obj) { return *hpC_header(obj); }

/* The remembered set: the heap's, plus what the threads' barriers logged since the last
 * collection (merged into the heap's when the world stops). */
static size_t remset_len(hp_runtime *rt) {
  size_t n = rt->gens.remset.len;
  for (hpC_mutator *th = rt->threads; th; th = th->next) n += th->remset.len;
  return n;
}

static bool in_remset(hp_runtime *rt, const void *obj) {
  for (hpC_mutator *th = rt->threads; th; th = th->next)
    for (size_t i = 0; i < th->remset.len; i++)
      if (th->remset.items[i] == (uintptr_t)obj) return true;
  for (size_t i = 0; i < rt->gens.remset.len; i++)
    if (rt->gens.remset.items[i] == (uintptr_t)obj) return true;
  return false;
}

/* An old object: its header starts a block of the collector's pools heap. */
static bool is_old_object(hp_runtime *rt, const void *obj) {
  hpP_span *pg;
  return !hpC_is_young(&rt->gens, obj) && hpC_old_header_of(hpC_header(obj), &pg) == hpC_header(obj) &&
         pg != NULL && pg->arena == HPP_ARENA_GC;
}

/* ------------------------------------------------------------------------------------ */

START_TEST(test_header_layout) {
  hp_runtime *rt = make(NULL);
  hp_thread *t = hp_main_thread(rt);
  static const size_t sizes[] = { 0, 1, 7, 8, 9, 16, 100, 4096, 8192, 8193, 70000 };
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    void *p = hp_new(t, &blob_type, sizes[i]);
    ck_assert_ptr_nonnull(p);
    uint64_t h = hdr(p);
    size_t words = (sizes[i] + 15) / 8;
    ck_assert_uint_eq(h, hpC_make_header(words, blob_type.id));   /* no flag, age 0 */
    ck_assert_uint_eq(hpC_words(h), words);
    ck_assert_uint_eq(hpC_type_id(h), blob_type.id);
    ck_assert_uint_eq(hpC_age(h), 0);
    ck_assert_uint_eq(hpC_bytes(h) - 8, hp_size(p));
    ck_assert(hpC_is_young(&rt->gens, p) == (sizes[i] <= 8192));
    if (sizes[i] > 8192) ck_assert(is_old_object(rt, p));
  }
  /* The header formula of hp.h for a JIT: (total_words << 24) | (type_id << 8). */
  node *n = new_node(t, 1);
  ck_assert_uint_eq(hdr(n), ((uint64_t)((sizeof(node) + 15) / 8) << 24) | ((uint64_t)node_type.id << 8));
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_age_bits) {
  hp_config c = t_config();
  c.tenure_age = 15;
  c.adaptive_tenure = false;
  hp_runtime *rt = make(&c);
  hp_thread *t = hp_main_thread(rt);
  node *x = NULL;
  HP_ROOTS(t, fr, HP_SLOT(x));
  x = new_node(t, 5);
  for (unsigned k = 1; k < 15; k++) {
    hp_collect(t, HP_GC_MINOR);
    ck_assert(hpC_is_young(&rt->gens, x));
    ck_assert_uint_eq(hpC_age(hdr(x)), k);
    ck_assert_uint_eq(hdr(x) & (HPC_FORWARDED | HPC_REMEMBERED | HPC_PINNED), 0);
    uintptr_t a = (uintptr_t)hpC_header(x);
    ck_assert(a >= from_lo(rt) && a < from_top(rt));   /* in from-space */
  }
  hp_collect(t, HP_GC_MINOR);
  ck_assert(is_old_object(rt, x));
  ck_assert_uint_eq(hpC_age(hdr(x)), 0);
  ck_assert_uint_eq(hdr(x), hpC_make_header((sizeof(node) + 15) / 8, node_type.id));
  ck_assert_uint_eq(x->id, 5);
  ck_assert_uint_eq(from_top(rt), from_lo(rt));
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_barrier_remembers_once) {
  T_NEED_WINDOW(2);
  hp_config c = t_config();
  c.tenure_age = 3;
  c.adaptive_tenure = false;
  hp_runtime *rt = make(&c);
  hp_thread *t = hp_main_thread(rt);
  node *old = NULL, *old2 = NULL, *yr = NULL;
  HP_ROOTS(t, fr, HP_SLOT(old), HP_SLOT(old2), HP_SLOT(yr));
  old = new_node(t, 1);
  old2 = new_node(t, 2);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(remset_len(rt), 0);
  /* Old into old: nothing remembered. */
  hp_write(t, old2, &old2->b, old);
  ck_assert_uint_eq(hdr(old2) & HPC_REMEMBERED, 0);
  /* Young into young: nothing remembered. */
  node *y2 = NULL;
  bool quiet = false;
  for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS && !quiet; attempt++) {
    yr = NULL;
    hp_collect(t, HP_GC_MAJOR);                  /* an earlier attempt's nodes: garbage */
    t_window w = t_window_open(rt);
    yr = new_node(t, 3);
    y2 = new_node(t, 4);
    quiet = t_window_quiet(&w);
  }
  ck_assert(quiet);
  hp_write(t, yr, &yr->a, y2);
  ck_assert_uint_eq(hdr(yr) & HPC_REMEMBERED, 0);
  /* Young into old: remembered, once however many stores. */
  hp_write(t, old, &old->a, yr->a);
  ck_assert(hdr(old) & HPC_REMEMBERED);
  ck_assert_uint_eq(remset_len(rt), 1);
  ck_assert(in_remset(rt, old));
  hp_write(t, old, &old->b, yr);
  hp_write(t, old, &old->a, yr->a);
  ck_assert_uint_eq(remset_len(rt), 1);
  ck_assert_uint_eq(hp_verify_heap(rt), 4);
  /* While the referents stay young, the holder stays remembered. */
  yr = NULL;
  for (unsigned k = 1; k < 3; k++) {
    hp_collect(t, HP_GC_MINOR);
    ck_assert(hpC_is_young(&rt->gens, old->a));
    ck_assert(hdr(old) & HPC_REMEMBERED);
    ck_assert_uint_eq(remset_len(rt), 1);
    ck_assert_uint_eq(old->a->id, 4);
    ck_assert_uint_eq(old->b->id, 3);
    ck_assert_ptr_eq(old->b->a, old->a);
  }
  hp_collect(t, HP_GC_MINOR);                    /* promoted: forgotten */
  ck_assert(!hpC_is_young(&rt->gens, old->a));
  ck_assert_uint_eq(hdr(old) & HPC_REMEMBERED, 0);
  ck_assert_uint_eq(remset_len(rt), 0);
  /* A young pointer overwritten with NULL: remembered until the next minor collection. */
  yr = new_node(t, 6);
  hp_write(t, old2, &old2->a, yr);
  ck_assert_uint_eq(remset_len(rt), 1);
  hp_write(t, old2, &old2->a, NULL);
  yr = NULL;
  hp_collect(t, HP_GC_MINOR);
  ck_assert_uint_eq(remset_len(rt), 0);
  ck_assert_uint_eq(hdr(old2) & HPC_REMEMBERED, 0);
  /* A major collection empties the remembered set. */
  yr = new_node(t, 7);
  hp_write(t, old2, &old2->a, yr);
  ck_assert_uint_eq(remset_len(rt), 1);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(remset_len(rt), 0);
  ck_assert_uint_eq(hdr(old2) & HPC_REMEMBERED, 0);
  ck_assert_uint_eq(old2->a->id, 7);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* An object promoted while it points to an object that stays young must be remembered by
 * the collector itself (no hp_write is involved). */
static void promoted_points_young(bool young_also_rooted) {
  T_NEED_WINDOW(1);
  hp_config c = t_config();
  c.tenure_age = 2;
  c.adaptive_tenure = false;
  hp_runtime *rt = make(&c);
  hp_thread *t = hp_main_thread(rt);
  node *a = NULL, *b = NULL;
  HP_ROOTS(t, fr, HP_SLOT(b), HP_SLOT(a));       /* b's slot is visited first */
  bool quiet = false;
  for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS && !quiet; attempt++) {
    a = new_node(t, 1);
    hp_collect(t, HP_GC_MINOR);                  /* a: age 1 */
    ck_assert_uint_eq(hpC_age(hdr(a)), 1);
    t_window w = t_window_open(rt);
    b = new_node(t, 2);
    quiet = t_window_quiet(&w);
  }
  ck_assert(quiet);
  a->a = b;                                      /* a is young: no barrier needed */
  ck_assert_uint_eq(hdr(a) & HPC_REMEMBERED, 0);
  if (!young_also_rooted) b = NULL;
  hp_collect(t, HP_GC_MINOR);                    /* a promoted, b copied (age 1) */
  ck_assert(is_old_object(rt, a));
  ck_assert(hpC_is_young(&rt->gens, a->a));
  ck_assert_uint_eq(hpC_age(hdr(a->a)), 1);
  ck_assert(hdr(a) & HPC_REMEMBERED);
  ck_assert(in_remset(rt, a));
  ck_assert_uint_eq(remset_len(rt), 1);
  if (young_also_rooted) ck_assert_ptr_eq(b, a->a);
  ck_assert_uint_eq(hp_verify_heap(rt), 2);
  b = NULL;
  hp_collect(t, HP_GC_MINOR);                    /* b reachable only through a */
  ck_assert(!hpC_is_young(&rt->gens, a->a));
  ck_assert_uint_eq(a->a->id, 2);
  ck_assert_uint_eq(hdr(a) & HPC_REMEMBERED, 0);
  ck_assert_uint_eq(remset_len(rt), 0);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}

START_TEST(test_promoted_points_young) { promoted_points_young(false); }
END_TEST
START_TEST(test_promoted_points_young_rooted) { promoted_points_young(true); }
END_TEST

START_TEST(test_overflow_promotes_young_ages) {
  hp_config c = t_config();
  c.eden_size = 1 * T_MiB;
  c.survivor_percent = 1;
  c.tenure_age = 15;
  c.adaptive_tenure = false;
  hp_runtime *rt = make(&c);
  hp_thread *t = hp_main_thread(rt);
  ck_assert_uint_eq(to_hi(rt) - to_lo(rt), 64 * T_KiB);
  enum { N = 200, SIZE = 1000 };
  static void *keep[N];
  memset(keep, 0, sizeof keep);
  hp_root_range r = { keep, N };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  for (size_t i = 0; i < N; i++) {
    uint64_t *p = hp_new(t, &blob_type, SIZE);
    ck_assert_ptr_nonnull(p);
    p[0] = i;
    keep[i] = p;
  }
  hp_collect(t, HP_GC_MINOR);
  size_t old = 0, young = 0;
  for (size_t i = 0; i < N; i++) {
    ck_assert_uint_eq(*(uint64_t *)keep[i], i);
    if (hpC_is_young(&rt->gens, keep[i])) {
      young++;
      ck_assert_uint_ge(hpC_age(hdr(keep[i])), 1);
      ck_assert_uint_lt(hpC_age(hdr(keep[i])), 15);
    } else {
      old++;
      ck_assert(is_old_object(rt, keep[i]));
      ck_assert_uint_eq(hpC_age(hdr(keep[i])), 0);
    }
  }
  ck_assert_uint_gt(old, 0);                     /* promoted long before age 15 */
  ck_assert_uint_gt(young, 0);
  ck_assert_uint_le(from_top(rt) - from_lo(rt), 64 * T_KiB);
  ck_assert_uint_eq(rt->gens.young_live, young * t_obj_bytes(SIZE));   /* the rest is the filler closing to-space */
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_large_and_huge_objects) {
  hp_runtime *rt = make(NULL);
  hp_thread *t = hp_main_thread(rt);
  enum { N = 6 };
  static void *big[N];
  memset(big, 0, sizeof big);
  hp_root_range r = { big, N };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  static const size_t sizes[N] = { 9000, 30000, 65000, 66000, 200000, 3 << 20 };
  hp_collect(t, HP_GC_MAJOR);
  size_t huge0 = rt->gens.huge.len, huge = 0;
  for (size_t i = 0; i < N; i++) {
    big[i] = hp_new(t, &blob_type, sizes[i]);
    ck_assert_ptr_nonnull(big[i]);
    ck_assert(is_old_object(rt, big[i]));
    if (t_obj_bytes(sizes[i]) > HPP_LARGE_MAX) huge++;
  }
  ck_assert_uint_eq(rt->gens.huge.len - huge0, huge);
  for (size_t i = 0; i < N; i++) {
    if (t_obj_bytes(sizes[i]) <= HPP_LARGE_MAX) continue;
    bool found = false;
    for (size_t k = 0; k < rt->gens.huge.len; k++) found |= rt->gens.huge.items[k] == (uintptr_t)hpC_header(big[i]);
    ck_assert(found);
  }
  struct hp_gc_stats st = t_stats(rt);
  hpC_generations *h = &rt->gens;                /* eden and survivors at their sizes now */
  ck_assert_uint_eq(st.heap_committed, (h->eden.hi - h->eden.lo) + (h->from.hi - h->from.lo) +
                                       (h->to.hi - h->to.lo) + h->old_bytes);
  big[4] = big[5] = NULL;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(rt->gens.huge.len, huge0 + huge - 2);
  ck_assert_uint_eq(hp_verify_heap(rt), 4);
  hp_runtime_destroy(rt);
}
END_TEST

/* After a collection, eden and from-space parse: objects and fillers back to back. */
START_TEST(test_young_parsable) {
  T_NEED_WINDOW(40);
  hp_runtime *rt = make(NULL);
  hp_thread *t = hp_main_thread(rt);
  node *keep = NULL;
  HP_ROOTS(t, fr, HP_SLOT(keep));
  size_t allocated = 0;
  bool quiet = false;
  for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS && !quiet; attempt++) {
    hp_collect(t, HP_GC_MINOR);
    t_window w = t_window_open(rt);
    allocated = 0;
    for (size_t i = 0; i < 40; i++, allocated++) {
      void *p = hp_new(t, &blob_type, (i * 97) % 3000);
      ck_assert_ptr_nonnull(p);
    }
    quiet = t_window_quiet(&w);
  }
  ck_assert(quiet);
  hpC_retire_tlabs(rt);
  size_t objects = 0, fillers = 0;
  for (uintptr_t a = eden_lo(rt); a < eden_top(rt);) {
    uint64_t w = *(uint64_t *)a;
    ck_assert_uint_gt(hpC_words(w), 0);
    ck_assert_uint_eq(w & HPC_FORWARDED, 0);
    if (hpC_type_id(w) == 0) fillers++;
    else { objects++; ck_assert_uint_eq(hpC_type_id(w), blob_type.id); }
    a += hpC_bytes(w);
    ck_assert_uint_le(a, eden_top(rt));
  }
  ck_assert_uint_eq(objects, allocated);
  if (t_stress() == 0) ck_assert_uint_ge(fillers, 1);   /* the retired TLAB's tail */
  ck_assert_uint_eq(hp_verify_heap(rt), allocated);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* With HP_DEBUG >= 2 a minor collection fills dead young memory with HPC_DEAD_YOUNG (0xE0). */
START_TEST(test_dead_young_poisoned) {
  T_NEED_WINDOW(1);
  hp_runtime *rt = make(NULL);
  hp_thread *t = hp_main_thread(rt);
  bool quiet = false;
  uint64_t *dead = NULL;
  for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS && !quiet; attempt++) {
    hp_collect(t, HP_GC_MINOR);
    t_window w = t_window_open(rt);
    dead = hp_new(t, &blob_type, 64);
    ck_assert_ptr_nonnull(dead);
    memset(dead, 0x11, 64);
    quiet = t_window_quiet(&w);
  }
  ck_assert(quiet);
  hp_collect(t, HP_GC_MINOR);
  const unsigned char *b = (const unsigned char *)dead - 8;
  for (size_t i = 0; i < 72; i++) {
    if (HP_DEBUG >= 2) ck_assert_uint_eq(b[i], HPC_DEAD_YOUNG);
  }
  /* Memory handed out again is zero. */
  unsigned char *p = hp_new(t, &blob_type, 64);
  for (size_t i = 0; i < 64; i++) ck_assert_uint_eq(p[i], 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* Allocates until the next zero-size object would end exactly at eden_hi; false if a
 * collection kept getting in the way. */
static bool fill_eden_to_end(hp_runtime *rt, hp_thread *t) {
  for (int i = 0; i < 100000; i++) {
    uintptr_t cur = t->tlab_cur, end = t->tlab_end;
    if (cur == 0) { ck_assert_ptr_nonnull(hp_new(t, &blob_type, 8)); continue; }
    size_t rem = eden_hi(rt) - cur;
    if (rem == 8) return true;
    size_t tl = end - cur;
    if (tl == 8) { ck_assert_ptr_nonnull(hp_new(t, &blob_type, 0)); continue; }
    size_t room = tl >= 16 ? tl : rem;
    size_t body = room - 16;
    if (body > 64 * T_KiB) body = 64 * T_KiB;
    ck_assert_ptr_nonnull(hp_new(t, &blob_type, body));
  }
  return false;
}

/* A zero-size object's body pointer is the address just past its header; when that object
 * ends eden, the pointer equals eden_hi, which is also to_lo when to-space is the survivor
 * space that follows eden. The collector must still copy it. */
START_TEST(test_zero_size_at_eden_end) {
  T_NEED_WINDOW(10);
  hp_config c = t_config();
  c.eden_size = 256 * T_KiB;
  c.large_object_size = 64 * T_KiB;
  c.adaptive_eden = false;                       /* eden's region ends where to-space starts */
  hp_runtime *rt = make(&c);
  hp_thread *t = hp_main_thread(rt);
  void *z = NULL;
  HP_ROOTS(t, fr, HP_SLOT(z));
  bool placed = false;
  int filled = 0;
  for (int attempt = 0; attempt < 50 && !placed; attempt++) {
    z = NULL;
    if (to_lo(rt) != eden_hi(rt)) hp_collect(t, HP_GC_MINOR);
    if (to_lo(rt) != eden_hi(rt)) continue;
    if (!fill_eden_to_end(rt, t)) continue;
    filled++;                                    /* 8 bytes of eden left */
    z = hp_new(t, &blob_type, 0);
    ck_assert_ptr_nonnull(z);
    placed = (uintptr_t)z == eden_hi(rt) && to_lo(rt) == eden_hi(rt);
  }
  /* Either the allocator never lets an object end at eden_hi (then there is no hazard and z
   * is elsewhere), or z sits there and the collection must copy it. */
  ck_assert_uint_gt(filled, 0);
  void *before = z;
  hp_collect(t, HP_GC_MINOR);
  if (placed) ck_assert_msg(z != before, "the zero-size object at eden's end was not copied (slot still %p == old to_lo)", before);
  ck_assert(hpC_is_young(&rt->gens, hpC_header(z)));
  ck_assert_uint_eq(hpC_type_id(hdr(z)), blob_type.id);
  ck_assert_uint_eq(hp_size(z), 0);
  ck_assert_uint_eq(hp_verify_heap(rt), 1);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_tenure_matches_stats) {
  hp_config c = t_config();
  c.eden_size = 1 * T_MiB;
  c.large_object_size = 64 * T_KiB;
  hp_runtime *rt = make(&c);
  hp_thread *t = hp_main_thread(rt);
  ck_assert_uint_eq(rt->gens.tenure, 6);
  static void *keep[8];
  memset(keep, 0, sizeof keep);
  hp_root_range r = { keep, 8 };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  for (int round = 0; round < 10; round++) {
    for (size_t i = 0; i < 8; i++) keep[i] = (round % 3 == 0 || i < 2) ? hp_new(t, &blob_type, 20000) : NULL;
    hp_collect(t, HP_GC_MINOR);
    ck_assert_uint_eq(t_stats(rt).tenure_age, rt->gens.tenure);
    ck_assert_uint_ge(rt->gens.tenure, 1);
    ck_assert_uint_le(rt->gens.tenure, 6);
  }
  hp_runtime_destroy(rt);
}
END_TEST

/* ---- The sizing policies (gc/sizing.c), fed with given measurements ---- */

/* One minor collection's measurements: `pause_us` and `work_us` long, after `interval_us`
 * of mutator time, with `copied` bytes surviving, as the bracket reports them. */
static void feed_minor(hp_runtime *rt, uint64_t interval_us, uint64_t pause_us, uint64_t work_us, size_t copied) {
  hpC_generations *h = &rt->gens;
  hpC_results res = { .copied = copied };
  uint64_t now = h->last_gc_end_ns + (interval_us + pause_us) * 1000;
  hpC_young_resize(rt, &res, pause_us * 1000, work_us * 1000, now);
}

static size_t eden_of(hp_runtime *rt) { return rt->gens.eden.hi - rt->gens.eden.lo; }
static size_t to_of(hp_runtime *rt) { return rt->gens.to.hi - rt->gens.to.lo; }

START_TEST(test_sizing_eden) {
  hp_config c = t_config();
  c.adaptive_eden = true;
  c.eden_size = 1 * T_MiB;
  c.eden_max_size = 4 * T_MiB;
  c.large_object_size = 64 * T_KiB;
  c.young_pause_goal_us = 1000;
  c.minor_cost_percent = 5;
  hp_runtime *rt = make(&c);
  hp_thread *t = hp_main_thread(rt);
  hpC_generations *h = &rt->gens;
  ck_assert_uint_eq(h->eden_init, 1 * T_MiB);
  ck_assert_uint_eq(h->eden_max, 4 * T_MiB);
  ck_assert_uint_eq(h->eden_min, 256 * T_KiB);
  ck_assert_uint_eq(h->surv_max, 1 * T_MiB);
  hp_collect(t, HP_GC_MINOR);                   /* eden empty; from here the measurements are ours */
  ck_assert_uint_eq(eden_of(rt), 1 * T_MiB);
  h->last_gc_end_ns = 1000000000;
  h->pause_avg_ns = 0;

  /* Collections half of the time, nothing surviving: eden grows, but not for one thread. */
  h->alloc_threads = 1;
  feed_minor(rt, 100, 100, 100, 0);
  ck_assert_uint_eq(eden_of(rt), 1 * T_MiB);
  h->alloc_threads = 2;
  feed_minor(rt, 100, 100, 100, 0);
  ck_assert_uint_eq(eden_of(rt), 2 * T_MiB);
  ck_assert_uint_eq(to_of(rt), 512 * T_KiB);     /* 25% of eden */
  ck_assert_uint_eq(t_stats(rt).heap_committed, 2 * T_MiB + to_of(rt) + (h->from.hi - h->from.lo) + h->old_bytes);
  h->alloc_threads = 8;
  feed_minor(rt, 100, 100, 100, 0);
  ck_assert_uint_eq(eden_of(rt), 4 * T_MiB);
  feed_minor(rt, 100, 100, 100, 0);
  ck_assert_uint_eq(eden_of(rt), 4 * T_MiB);     /* eden_max */
  ck_assert_uint_eq(t_stats(rt).eden_size_max, 4 * T_MiB);

  /* Each regime below starts with fresh averages (the policy decays them over collections). */
  /* Much surviving: no growth, however often (and the cap of two threads' eden). */
  h->alloc_threads = 2;
  h->pause_avg_ns = 0;
  feed_minor(rt, 100, 100, 100, 3 * T_MiB);
  ck_assert_uint_eq(eden_of(rt), 2 * T_MiB);
  /* A long pause that is not the collector's work (it was preempted): no shrinking. */
  h->pause_avg_ns = 0;
  feed_minor(rt, 100000, 3000, 100, 0);
  ck_assert_uint_eq(eden_of(rt), 2 * T_MiB);

  /* Work over the goal: eden shrinks, at most by half, never below eden_min; the survivor
   * spaces keep their first size and the tenure age rises. */
  h->pause_avg_ns = 0;
  feed_minor(rt, 1000, 3000, 3000, 0);
  ck_assert_uint_eq(eden_of(rt), 1 * T_MiB);
  feed_minor(rt, 1000, 3000, 3000, 0);
  ck_assert_uint_eq(eden_of(rt), 512 * T_KiB);
  ck_assert_uint_eq(to_of(rt), 256 * T_KiB);
  ck_assert_uint_eq(hpC_tenure_max(rt), 12);
  feed_minor(rt, 1000, 3000, 3000, 0);
  ck_assert_uint_eq(eden_of(rt), 256 * T_KiB);
  feed_minor(rt, 1000, 3000, 3000, 0);
  ck_assert_uint_eq(eden_of(rt), 256 * T_KiB);   /* eden_min */
  ck_assert_uint_eq(hpC_tenure_max(rt), 15);
  /* Short work again: back towards the first size, and no further. */
  h->pause_avg_ns = 0;
  feed_minor(rt, 100000, 100, 100, 0);
  ck_assert_uint_eq(eden_of(rt), 512 * T_KiB);
  feed_minor(rt, 100000, 100, 100, 0);
  ck_assert_uint_eq(eden_of(rt), 1 * T_MiB);
  feed_minor(rt, 100000, 100, 100, 0);
  ck_assert_uint_eq(eden_of(rt), 1 * T_MiB);
  ck_assert_uint_eq(hpC_tenure_max(rt), 6);

  /* Cheap collections above the first size: eden halves back to it. */
  h->alloc_threads = 4;
  h->pause_avg_ns = 0;
  feed_minor(rt, 100, 100, 100, 0);
  feed_minor(rt, 100, 100, 100, 0);
  ck_assert_uint_eq(eden_of(rt), 4 * T_MiB);
  h->pause_avg_ns = 0;
  feed_minor(rt, 1000000, 10, 10, 0);
  ck_assert_uint_eq(eden_of(rt), 2 * T_MiB);
  feed_minor(rt, 1000000, 10, 10, 0);
  ck_assert_uint_eq(eden_of(rt), 1 * T_MiB);
  feed_minor(rt, 1000000, 10, 10, 0);
  ck_assert_uint_eq(eden_of(rt), 1 * T_MiB);

  /* The resized spaces work: fill eden through collections, keep some, verify. */
  static void *keep[64];
  memset(keep, 0, sizeof keep);
  hp_root_range r = { keep, 64 };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  h->alloc_threads = 2;
  feed_minor(rt, 100, 100, 100, 0);
  ck_assert_uint_eq(eden_of(rt), 2 * T_MiB);
  for (int i = 0; i < 20000; i++) {
    node *n = new_node(t, (uint64_t)i);
    if (i % 313 == 0) keep[(i / 313) % 64] = n;
  }
  hp_collect(t, HP_GC_MINOR);
  for (int k = 0; k < 64; k++)
    if (keep[k]) ck_assert_uint_eq(((node *)keep[k])->id % 313, 0);
  ck_assert_uint_gt(hp_verify_heap(rt), 0);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_sizing_tlab_and_old) {
  hp_config c = t_config();
  c.adaptive_eden = true;
  c.eden_size = 1 * T_MiB;
  c.large_object_size = 64 * T_KiB;
  c.major_gc_percent = 5;
  hp_runtime *rt = make(&c);
  hpC_generations *h = &rt->gens;
  /* TLABs: the mean of the size and a 64th of the cycle's allocation, within the bounds and
   * an eighth of eden's share per allocating thread. */
  h->alloc_threads = 1;
  ck_assert_uint_eq(hpC_tlab_size_for(rt, 32 * T_KiB, 4 * T_MiB), 48 * T_KiB);
  ck_assert_uint_eq(hpC_tlab_size_for(rt, 32 * T_KiB, 0), 16 * T_KiB);
  ck_assert_uint_eq(hpC_tlab_size_for(rt, 4 * T_KiB, 0), 4 * T_KiB);
  ck_assert_uint_eq(hpC_tlab_size_for(rt, 32 * T_KiB, (uint64_t)1 << 30), 128 * T_KiB);  /* 1 MiB / 8 */
  h->alloc_threads = 4;
  ck_assert_uint_eq(hpC_tlab_size_for(rt, 32 * T_KiB, (uint64_t)1 << 30), 32 * T_KiB);
  /* The old generation: growth starts at major_growth_percent, loses a quarter of its
   * headroom after a cheap major collection, doubles it after a costly one. */
  ck_assert_uint_eq(h->major_growth, 200);
  uint64_t now = 1000000000;
  hpC_old_resize(rt, 1000000, now);              /* the first: nothing to compare with */
  ck_assert_uint_eq(h->major_growth, 200);
  now += 1000000000;
  hpC_old_resize(rt, 1000000, now);              /* 0.1% of the time */
  ck_assert_uint_eq(h->major_growth, 175);
  now += 1000000000;
  hpC_old_resize(rt, 1000000, now);
  ck_assert_uint_eq(h->major_growth, 157);
  now += 1000000000;
  hpC_old_resize(rt, 30000000, now);             /* 3%: between half the target and it */
  ck_assert_uint_eq(h->major_growth, 157);
  now += 1000000000;
  hpC_old_resize(rt, 100000000, now);            /* 10% */
  ck_assert_uint_eq(h->major_growth, 200);       /* 214, capped */
  ck_assert_uint_eq(h->major_threshold, 16 * T_MiB);   /* major_min_size */
  rt->cfg.major_gc_percent = 0;                  /* fixed */
  now += 1000000000;
  hpC_old_resize(rt, 1000000, now);
  ck_assert_uint_eq(h->major_growth, 200);
  hp_runtime_destroy(rt);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("gc-internal");
  TCase *tc = tcase_create("internal");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_header_layout);
  tcase_add_test(tc, test_age_bits);
  tcase_add_test(tc, test_barrier_remembers_once);
  tcase_add_test(tc, test_promoted_points_young);
  tcase_add_test(tc, test_promoted_points_young_rooted);
  tcase_add_test(tc, test_overflow_promotes_young_ages);
  tcase_add_test(tc, test_large_and_huge_objects);
  tcase_add_test(tc, test_young_parsable);
  tcase_add_test(tc, test_dead_young_poisoned);
  tcase_add_test(tc, test_zero_size_at_eden_end);
  tcase_add_test(tc, test_tenure_matches_stats);
  tcase_add_test(tc, test_sizing_eden);
  tcase_add_test(tc, test_sizing_tlab_and_old);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
