/* tests/gc/test-gc-api.c -- the collector through its public API only (<hp.h>).
 *
 * Each test makes its runtime with t_runtime (tests/gc/gc-test.h), so that the whole file
 * also runs in stress mode (HP_TEST_STRESS=N: a collection every N allocations, the heap
 * verified after each). Assertions are about contents and counts: every object reachable
 * from a root keeps its fields and its pointer structure (checksums, ids, identity of shared
 * objects), and what is unreachable is reclaimed as the statistics say.
 */
#include "gc-test.h"

#include <stddef.h>

/* ------------------------------------------------------------------------------------
 *  Types
 * ------------------------------------------------------------------------------------ */

/* node: the vertex of the test graphs. check == t_mix(id) always. */
typedef struct node { struct node *a, *b; uint64_t id, check; } node;
static const uint32_t node_offsets[] = { offsetof(node, a), offsetof(node, b) };
static hp_type node_type = { .name = "node", .size = sizeof(node), .noffsets = 2, .offsets = node_offsets };

/* cell: a list cell of 16 bytes (24 with the header). */
typedef struct cell { struct cell *next; uint64_t value; } cell;
static const uint32_t cell_offsets[] = { offsetof(cell, next) };
static hp_type cell_type = { .name = "cell", .size = sizeof(cell), .noffsets = 1, .offsets = cell_offsets };

/* vec: a fixed prefix (a length and one pointer) followed by pointer slots. */
typedef struct vec { uint64_t len; void *meta; void *items[]; } vec;
static const uint32_t vec_offsets[] = { offsetof(vec, meta) };
static hp_type vec_type = { .name = "vec", .size = sizeof(vec), .flags = HP_TYPE_ARRAY, .noffsets = 1,
                            .offsets = vec_offsets };

/* svec: an array whose fixed part is 12 bytes: its slots start at 16. */
typedef struct svec { uint32_t len, tag, extra; } svec;
static hp_type svec_type = { .name = "svec", .size = 12, .flags = HP_TYPE_ARRAY };
static void **svec_items(svec *v) { return (void **)((char *)v + 16); }

/* str: a byte string, never traced. */
typedef struct str { uint64_t len; unsigned char bytes[]; } str;
static hp_type str_type = { .name = "str", .size = sizeof(str), .flags = HP_TYPE_LEAF };

/* blob: raw words of any size (0 included), never traced. */
static hp_type blob_type = { .name = "blob", .size = 0, .flags = HP_TYPE_LEAF };

/* chunk: a list cell with a payload, for the heap-limit tests. */
typedef struct chunk { struct chunk *next; void *payload; uint64_t id; } chunk;
static const uint32_t chunk_offsets[] = { offsetof(chunk, next), offsetof(chunk, payload) };
static hp_type chunk_type = { .name = "chunk", .size = sizeof(chunk), .noffsets = 2, .offsets = chunk_offsets };

/* tagged: values with a low tag bit (1: an integer; 0: a pointer or NULL), traced by a
 * callback that reports only the pointers; plus one fixed slot. */
#define TAGGED_N 6
typedef struct tagged { uint64_t n; void *fixed; uint64_t v[TAGGED_N]; } tagged;
static const uint32_t tagged_offsets[] = { offsetof(tagged, fixed) };
static unsigned long tagged_trace_calls;
static void tagged_trace(void *obj, hp_visit_fn visit, void *ctx) {
  tagged *o = obj;
  tagged_trace_calls++;
  for (uint64_t i = 0; i < o->n; i++)
    if ((o->v[i] & 1) == 0) visit((void **)&o->v[i], ctx);
}
static hp_type tagged_type = { .name = "tagged", .size = sizeof(tagged), .noffsets = 1, .offsets = tagged_offsets,
                               .trace = tagged_trace };

static void t_types(hp_runtime *rt) {
  hp_type *all[] = { &node_type, &cell_type, &vec_type, &svec_type, &str_type, &blob_type, &chunk_type, &tagged_type };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ck_assert_int_eq(hp_type_register(rt, all[i]), 0);
}

static node *new_node(hp_thread *t, uint64_t id) {
  node *p = HP_NEW(t, &node_type);
  ck_assert_ptr_nonnull(p);
  ck_assert_ptr_null(p->a);
  p->id = id;
  p->check = t_mix(id);
  return p;
}

static void check_node(const node *p, uint64_t id) {
  ck_assert_ptr_nonnull(p);
  ck_assert_uint_eq(p->id, id);
  ck_assert_uint_eq(p->check, t_mix(id));
}

/* A blob of `size` bytes whose words are t_mix(seed + i). */
static void *new_blob(hp_thread *t, size_t size, uint64_t seed) {
  uint64_t *b = hp_new(t, &blob_type, size);
  if (b == NULL) return NULL;
  for (size_t i = 0; i < size / 8; i++) b[i] = t_mix(seed + i);
  return b;
}

static bool blob_ok(const void *p, size_t size, uint64_t seed) {
  const uint64_t *b = p;
  if (hp_size(p) != ((size + 7) & ~(size_t)7)) return false;
  for (size_t i = 0; i < size / 8; i++)
    if (b[i] != t_mix(seed + i)) return false;
  return true;
}

/* ------------------------------------------------------------------------------------
 *  Roots of every kind, over a random graph
 * ------------------------------------------------------------------------------------
 * A model (edges by id) is kept beside the managed graph. Random steps allocate nodes into
 * roots, link reachable nodes (hp_write), cut links, drop and copy roots, and collect. After
 * each collection the graph reachable from the roots must equal the model's: same ids, same
 * edges, one object per id (sharing and cycles kept), and young objects moved by a minor
 * collection while old ones stayed. After a major collection hp_verify_heap counts exactly
 * the reachable nodes.
 */

enum { G_FRAME = 4, G_GLOBAL = 4, G_RANGE = 8, G_CB = 4, G_ROOTS = G_FRAME + G_GLOBAL + G_RANGE + G_CB };
static void *g_global[G_GLOBAL];
static void *g_range[G_RANGE];
static void *g_cb[G_CB];
static unsigned long g_cb_calls;

static void g_cb_fn(hp_visit_fn visit, void *ctx, void *data) {
  void **slots = data;
  g_cb_calls++;
  for (size_t i = 0; i < G_CB; i++) visit(&slots[i], ctx);
}

typedef struct graph {
  hp_thread *t;
  void **slots[G_ROOTS];
  int64_t root_id[G_ROOTS];
  int64_t *ma, *mb;            /* model edges by id, -1 for none */
  node **addr, **prev;         /* by id: where the last check found it; before a collection */
  int64_t *queue;
  uint8_t *seen;
  size_t nid, cap;
  size_t max_live, old_checked, young_checked;   /* what the checks covered */
} graph;

/* Walks the managed graph from the roots; checks it against the model. Returns the number
 * of reachable nodes. */
static size_t g_check(graph *g) {
  memset(g->addr, 0, g->nid * sizeof *g->addr);
  size_t head = 0, tail = 0;
  for (size_t r = 0; r < G_ROOTS; r++) {
    node *p = *g->slots[r];
    if (g->root_id[r] < 0) { ck_assert_ptr_null(p); continue; }
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p->id, (uint64_t)g->root_id[r]);
    if (g->addr[p->id] == NULL) { g->addr[p->id] = p; g->queue[tail++] = (int64_t)p->id; }
    ck_assert_ptr_eq(g->addr[p->id], p);
  }
  while (head < tail) {
    node *p = g->addr[g->queue[head++]];
    ck_assert_uint_lt(p->id, g->nid);
    ck_assert_uint_eq(p->check, t_mix(p->id));
    node *e[2] = { p->a, p->b };
    int64_t m[2] = { g->ma[p->id], g->mb[p->id] };
    for (int k = 0; k < 2; k++) {
      if (m[k] < 0) { ck_assert_ptr_null(e[k]); continue; }
      ck_assert_ptr_nonnull(e[k]);
      ck_assert_uint_eq(e[k]->id, (uint64_t)m[k]);
      if (g->addr[m[k]] == NULL) { g->addr[m[k]] = e[k]; g->queue[tail++] = m[k]; }
      ck_assert_msg(g->addr[m[k]] == e[k], "node %lld reached at two addresses", (long long)m[k]);
    }
  }
  /* The model's reachable set has the same size. */
  memset(g->seen, 0, g->nid);
  size_t mh = 0, mt = 0;
  for (size_t r = 0; r < G_ROOTS; r++)
    if (g->root_id[r] >= 0 && !g->seen[g->root_id[r]]) { g->seen[g->root_id[r]] = 1; g->queue[mt++] = g->root_id[r]; }
  while (mh < mt) {
    int64_t id = g->queue[mh++];
    int64_t m[2] = { g->ma[id], g->mb[id] };
    for (int k = 0; k < 2; k++)
      if (m[k] >= 0 && !g->seen[m[k]]) { g->seen[m[k]] = 1; g->queue[mt++] = m[k]; }
  }
  ck_assert_uint_eq(mt, tail);
  return tail;
}

/* A reachable node reached by a short random walk from a random root, or NULL. */
static node *g_pick(graph *g, t_rng *r) {
  size_t start = t_below(r, G_ROOTS);
  for (size_t k = 0; k < G_ROOTS; k++) {
    node *p = *g->slots[(start + k) % G_ROOTS];
    if (p == NULL) continue;
    for (size_t steps = t_below(r, 4); steps > 0; steps--) {
      node *n = (t_next(r) & 1) ? p->a : p->b;
      if (n == NULL) break;
      p = n;
    }
    return p;
  }
  return NULL;
}

static void g_collect(graph *g, hp_runtime *rt, hp_gc_kind kind) {
  size_t live = g_check(g);
  memcpy(g->prev, g->addr, g->nid * sizeof *g->addr);
  hp_collect(g->t, kind);
  ck_assert_uint_eq(g_check(g), live);
  if (live > g->max_live) g->max_live = live;
  for (size_t id = 0; id < g->nid; id++) {
    if (g->prev[id] == NULL) continue;
    if (t_is_young(g->t, g->prev[id])) {
      g->young_checked++;
      ck_assert_ptr_ne(g->addr[id], g->prev[id]);          /* young: copied (or promoted) */
    } else {
      g->old_checked++;
      ck_assert_ptr_eq(g->addr[id], g->prev[id]);          /* old: never moves */
    }
    if (kind == HP_GC_MAJOR) ck_assert(!t_is_young(g->t, g->addr[id]));   /* all promoted */
  }
  if (kind == HP_GC_MAJOR) ck_assert_uint_eq(hp_verify_heap(rt), live);
}

START_TEST(test_roots_random_graph) {
  hp_config c = t_config();
  c.eden_size = 512 * T_KiB;                  /* many automatic collections as well */
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  void *f0 = NULL, *f1 = NULL, *f2 = NULL, *f3 = NULL;
  HP_ROOTS(t, frame, HP_SLOT(f0), HP_SLOT(f1), HP_SLOT(f2), HP_SLOT(f3));
  for (size_t i = 0; i < G_GLOBAL; i++) ck_assert_int_eq(hp_root_add(rt, &g_global[i]), 0);
  hp_root_range range = { g_range, G_RANGE };
  ck_assert_int_eq(hp_root_range_add(rt, &range), 0);
  ck_assert_int_eq(hp_root_callback_add(rt, g_cb_fn, g_cb), 0);

  size_t steps = t_big(1000000, 200000, 6000);
  graph g = { .t = t, .cap = steps + 1 };
  void **fs[G_FRAME] = { &f0, &f1, &f2, &f3 };
  size_t k = 0;
  for (size_t i = 0; i < G_FRAME; i++) g.slots[k++] = fs[i];
  for (size_t i = 0; i < G_GLOBAL; i++) g.slots[k++] = &g_global[i];
  for (size_t i = 0; i < G_RANGE; i++) g.slots[k++] = &g_range[i];
  for (size_t i = 0; i < G_CB; i++) g.slots[k++] = &g_cb[i];
  for (size_t i = 0; i < G_ROOTS; i++) g.root_id[i] = -1;
  g.ma = malloc(g.cap * sizeof *g.ma);
  g.mb = malloc(g.cap * sizeof *g.mb);
  g.addr = calloc(g.cap, sizeof *g.addr);
  g.prev = calloc(g.cap, sizeof *g.prev);
  g.queue = malloc(g.cap * sizeof *g.queue);
  g.seen = malloc(g.cap);
  ck_assert(g.ma && g.mb && g.addr && g.prev && g.queue && g.seen);

  t_rng r = { 42 };
  size_t minors = 0, majors = 0;
  for (size_t s = 0; s < steps; s++) {
    unsigned op = (unsigned)t_below(&r, 1000);
    if (op < 400) {                                         /* a new node, in a root or a node */
      size_t root = t_below(&r, G_ROOTS);
      node *p = new_node(t, g.nid);
      g.ma[g.nid] = g.mb[g.nid] = -1;
      node *x = g_pick(&g, &r);                             /* after the allocation */
      if (x) { p->a = x; g.ma[g.nid] = (int64_t)x->id; }  /* a fresh object: no barrier needed */
      node *holder = (op < 100) ? NULL : g_pick(&g, &r);
      if (holder && holder->b == NULL) {
        hp_write(t, holder, &holder->b, p);
        g.mb[holder->id] = (int64_t)g.nid++;
      } else if (holder && holder->a == NULL) {
        hp_write(t, holder, &holder->a, p);
        g.ma[holder->id] = (int64_t)g.nid++;
      } else {
        *g.slots[root] = p;
        g.root_id[root] = (int64_t)g.nid++;
      }
    } else if (op < 700) {                                  /* link two reachable nodes */
      node *x = g_pick(&g, &r), *y = g_pick(&g, &r);
      if (x && y) {
        if (t_next(&r) & 1) { hp_write(t, x, &x->a, y); g.ma[x->id] = (int64_t)y->id; }
        else { hp_write(t, x, &x->b, y); g.mb[x->id] = (int64_t)y->id; }
      }
    } else if (op < 750) {                                  /* cut a link */
      node *x = g_pick(&g, &r);
      if (x) {
        if (t_next(&r) & 1) { hp_write(t, x, &x->a, NULL); g.ma[x->id] = -1; }
        else { hp_write(t, x, &x->b, NULL); g.mb[x->id] = -1; }
      }
    } else if (op < 780) {                                  /* drop a root */
      size_t root = t_below(&r, G_ROOTS);
      *g.slots[root] = NULL;
      g.root_id[root] = -1;
    } else if (op < 800) {                                  /* copy a root */
      size_t from = t_below(&r, G_ROOTS), to = t_below(&r, G_ROOTS);
      *g.slots[to] = *g.slots[from];
      g.root_id[to] = g.root_id[from];
    } else if (op < 995) {                                  /* allocate garbage */
      for (size_t k = t_below(&r, 8); k > 0; k--) (void)new_node(t, 0);
    } else if (op < 998) {
      g_collect(&g, rt, HP_GC_MINOR);
      minors++;
    } else {
      g_collect(&g, rt, HP_GC_MAJOR);
      majors++;
    }
  }
  g_collect(&g, rt, HP_GC_MINOR);
  g_collect(&g, rt, HP_GC_MAJOR);
  ck_assert_uint_gt(minors, 10);
  ck_assert_uint_gt(majors, 2);
  ck_assert_uint_gt(g_cb_calls, minors + majors);
  ck_assert_uint_ge(g.max_live, 50);            /* the checks covered real structures */
  ck_assert_uint_gt(g.old_checked, t_stress() ? 10 : 10000);
  ck_assert_uint_gt(g.young_checked, t_stress() ? 10 : 10000);

  /* Every root kind unregistered: nothing is left. */
  for (size_t i = 0; i < G_GLOBAL; i++) ck_assert_int_eq(hp_root_remove(rt, &g_global[i]), 0);
  ck_assert_int_eq(hp_root_range_remove(rt, &range), 0);
  ck_assert_int_eq(hp_root_callback_remove(rt, g_cb_fn, g_cb), 0);
  HP_UNROOT(t, frame);
  ck_assert_ptr_null(t->frames);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  ck_assert_uint_eq(t_stats(rt).old_live_after_major, 0);
  free(g.ma); free(g.mb); free(g.addr); free(g.prev); free(g.queue); free(g.seen);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Each kind of root alone
 * ------------------------------------------------------------------------------------ */

/* A chain of n nodes (ids base..base+n-1) linked through `a`. */
static node *chain(hp_thread *t, size_t n, uint64_t base) {
  node *head = NULL;
  HP_ROOTS(t, fr, HP_SLOT(head));
  for (size_t i = n; i-- > 0;) {
    node *p = new_node(t, base + i);
    p->a = head;
    head = p;
  }
  HP_UNROOT(t, fr);
  return head;
}

static void check_chain(const node *p, size_t n, uint64_t base) {
  for (size_t i = 0; i < n; i++, p = p->a) check_node(p, base + i);
  ck_assert_ptr_null(p);
}

/* Collects `kind`; every node of the chain moved if it was young and stayed if it was old. */
static void collect_chain(hp_thread *t, node **head, size_t n, hp_gc_kind kind) {
  enum { MAX = 64 };
  ck_assert_uint_le(n, MAX);
  node *before[MAX];
  node *p = *head;
  for (size_t i = 0; i < n; i++, p = p->a) before[i] = p;
  hp_collect(t, kind);
  p = *head;
  for (size_t i = 0; i < n; i++, p = p->a) {
    if (t_is_young(t, before[i])) ck_assert_ptr_ne(p, before[i]);
    else ck_assert_ptr_eq(p, before[i]);
    if (kind == HP_GC_MAJOR) ck_assert(!t_is_young(t, p));
  }
}

static uint64_t nested(hp_thread *t, node **parent, int depth, int max) {
  node *mine = new_node(t, (uint64_t)depth);
  node *before = NULL;
  HP_ROOTS(t, fr, HP_SLOT(mine));
  if (parent) hp_write(t, mine, &mine->a, *parent);
  before = mine;
  uint64_t sum;
  if (depth < max) {
    sum = nested(t, &mine, depth + 1, max);
  } else {
    hp_collect(t, HP_GC_MINOR);
    hp_collect(t, HP_GC_MAJOR);
    hp_collect(t, HP_GC_MINOR);
    sum = 0;
  }
  check_node(mine, (uint64_t)depth);
  ck_assert(!t_is_young(t, mine));             /* the major collection promoted it */
  if (t_is_young(t, before)) ck_assert_ptr_ne(mine, before);
  if (parent) ck_assert_ptr_eq(mine->a, *parent);
  else ck_assert_ptr_null(mine->a);
  ck_assert_ptr_eq(t->frames, &fr);
  HP_UNROOT(t, fr);
  return sum + (uint64_t)depth;
}

START_TEST(test_roots_frames_nested) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  ck_assert_ptr_null(t->frames);
  ck_assert_uint_eq(nested(t, NULL, 0, 200), 200 * 201 / 2);
  ck_assert_ptr_null(t->frames);
  /* The frames are gone: the 201 nodes are garbage. */
  uint64_t freed = t_stats(rt).objects_freed;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 201);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_roots_frame) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  node *x = NULL, *y = NULL;
  HP_ROOTS(t, fr, HP_SLOT(x), HP_SLOT(y));
  x = chain(t, 20, 100);
  y = chain(t, 30, 200);
  hp_collect(t, HP_GC_MINOR);                  /* y, x: in the survivor space */
  check_chain(x, 20, 100);
  check_chain(y, 30, 200);
  collect_chain(t, &x, 20, HP_GC_MINOR);
  collect_chain(t, &y, 30, HP_GC_MAJOR);
  collect_chain(t, &x, 20, HP_GC_MINOR);
  check_chain(x, 20, 100);
  check_chain(y, 30, 200);
  ck_assert_uint_eq(hp_verify_heap(rt), 50);
  /* Clearing a framed local frees its chain; popping the frame frees the other. */
  uint64_t freed = t_stats(rt).objects_freed;
  y = NULL;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 30);
  check_chain(x, 20, 100);
  HP_UNROOT(t, fr);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 50);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  hp_runtime_destroy(rt);
}
END_TEST

static node *g_root1, *g_root2;

START_TEST(test_roots_global) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  ck_assert_int_eq(hp_root_add(rt, (void **)&g_root1), 0);
  ck_assert_int_eq(hp_root_add(rt, (void **)&g_root2), 0);
  g_root1 = chain(t, 10, 1000);
  g_root2 = chain(t, 40, 2000);
  collect_chain(t, &g_root1, 10, HP_GC_MINOR);
  collect_chain(t, &g_root2, 40, HP_GC_MINOR);
  collect_chain(t, &g_root1, 10, HP_GC_MAJOR);
  collect_chain(t, &g_root2, 40, HP_GC_MINOR);
  check_chain(g_root1, 10, 1000);
  check_chain(g_root2, 40, 2000);
  ck_assert_uint_eq(hp_verify_heap(rt), 50);

  ck_assert_int_eq(hp_root_remove(rt, (void **)&g_root1), 0);
  errno = 0;
  ck_assert_int_eq(hp_root_remove(rt, (void **)&g_root1), -1);
  ck_assert_int_eq(errno, ENOENT);
  uint64_t freed = t_stats(rt).objects_freed;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 10);
  ck_assert_uint_eq(hp_verify_heap(rt), 40);
  check_chain(g_root2, 40, 2000);
  ck_assert_int_eq(hp_root_remove(rt, (void **)&g_root2), 0);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 50);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  g_root1 = g_root2 = NULL;
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_roots_range) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  static void *a[32], *b[32];
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  hp_root_range r = { a, 0 };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  for (size_t i = 0; i < 20; i++) {             /* pushed the way a VM pushes values */
    node *p = new_node(t, i);
    a[r.count++] = p;
  }
  hp_collect(t, HP_GC_MINOR);
  for (size_t i = 0; i < 20; i++) check_node(a[i], i);

  /* Shrink the range: the slots above it are not roots any more and are not updated. */
  void *stale[20];
  memcpy(stale, a, sizeof stale);
  r.count = 12;
  hp_collect(t, HP_GC_MINOR);
  for (size_t i = 0; i < 12; i++) {
    check_node(a[i], i);
    if (t_is_young(t, stale[i])) ck_assert_ptr_ne(a[i], stale[i]);
  }
  for (size_t i = 12; i < 20; i++) ck_assert_ptr_eq(a[i], stale[i]);
  memset(a + 12, 0, 8 * sizeof *a);

  /* Old now; shrinking frees exactly the objects left out. */
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt), 12);
  uint64_t freed = t_stats(rt).objects_freed;
  r.count = 9;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 3);
  for (size_t i = 0; i < 9; i++) check_node(a[i], i);

  /* Move the range to another array (as a VM does when its stack grows). */
  memcpy(b, a, 9 * sizeof *a);
  memset(a, 0, sizeof a);
  r.base = b;
  for (size_t i = 9; i < 25; i++) {
    node *p = new_node(t, i);
    b[r.count++] = p;
  }
  hp_collect(t, HP_GC_MINOR);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 3);
  for (size_t i = 0; i < 25; i++) check_node(b[i], i);
  ck_assert_uint_eq(hp_verify_heap(rt), 25);

  /* count 0, then unregistered: all collectable. */
  r.count = 0;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 28);
  ck_assert_int_eq(hp_root_range_remove(rt, &r), 0);
  errno = 0;
  ck_assert_int_eq(hp_root_range_remove(rt, &r), -1);
  ck_assert_int_eq(errno, ENOENT);
  r.count = 25;                                 /* not registered: not read any more */
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  hp_runtime_destroy(rt);
}
END_TEST

typedef struct cb_set { node *slots[4]; unsigned long calls; } cb_set;
static void cb_set_fn(hp_visit_fn visit, void *ctx, void *data) {
  cb_set *s = data;
  s->calls++;
  for (size_t i = 0; i < 4; i++) visit((void **)&s->slots[i], ctx);
}

START_TEST(test_roots_callback) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  static cb_set A, B;
  memset(&A, 0, sizeof A);
  memset(&B, 0, sizeof B);
  ck_assert_int_eq(hp_root_callback_add(rt, cb_set_fn, &A), 0);
  ck_assert_int_eq(hp_root_callback_add(rt, cb_set_fn, &B), 0);
  for (size_t i = 0; i < 4; i++) {
    A.slots[i] = chain(t, 3, 10 * i);
    B.slots[i] = chain(t, 2, 1000 + 10 * i);
  }
  B.slots[3] = A.slots[0];                      /* shared: one object, seen from both */
  unsigned long calls = A.calls;
  collect_chain(t, &A.slots[1], 3, HP_GC_MINOR);
  ck_assert_uint_gt(A.calls, calls);
  ck_assert_uint_gt(B.calls, 0);
  collect_chain(t, &A.slots[2], 3, HP_GC_MAJOR);
  collect_chain(t, &B.slots[0], 2, HP_GC_MINOR);
  for (size_t i = 0; i < 4; i++) check_chain(A.slots[i], 3, 10 * i);
  for (size_t i = 0; i < 3; i++) check_chain(B.slots[i], 2, 1000 + 10 * i);
  ck_assert_ptr_eq(B.slots[3], A.slots[0]);
  ck_assert_uint_eq(hp_verify_heap(rt), 12 + 6);

  /* Removing A frees its chains but the one B shares. */
  ck_assert_int_eq(hp_root_callback_remove(rt, cb_set_fn, &A), 0);
  errno = 0;
  ck_assert_int_eq(hp_root_callback_remove(rt, cb_set_fn, &A), -1);
  ck_assert_int_eq(errno, ENOENT);
  calls = A.calls;
  uint64_t freed = t_stats(rt).objects_freed;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(A.calls, calls);            /* not called any more */
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 9);
  check_chain(B.slots[3], 3, 0);
  ck_assert_uint_eq(hp_verify_heap(rt), 9);
  ck_assert_int_eq(hp_root_callback_remove(rt, cb_set_fn, &B), 0);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 18);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Reclamation as the statistics show it
 * ------------------------------------------------------------------------------------ */

START_TEST(test_stats_young_reclaim) {
  T_NEED_WINDOW(35);
  hp_config c = t_config();
  c.adaptive_tenure = false;
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  enum { LIVE = 20, DEAD = 15 };
  static void *keep[LIVE];
  memset(keep, 0, sizeof keep);
  hp_root_range r = { keep, LIVE };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  const size_t nb = t_obj_bytes(sizeof(node));

  /* Start empty, then allocate live and dead nodes in a window without a collection. */
  bool quiet = false;
  for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS && !quiet; attempt++) {
    memset(keep, 0, sizeof keep);
    hp_collect(t, HP_GC_MAJOR);
    t_window w = t_window_open(rt);
    for (size_t i = 0; i < LIVE + DEAD; i++) {
      node *p = new_node(t, i);
      if (i % 7 < 4 && i / 7 * 4 + i % 7 < LIVE) keep[i / 7 * 4 + i % 7] = p;
    }
    quiet = t_window_quiet(&w);
  }
  ck_assert_msg(quiet, "no quiet window for 35 allocations (HP_TEST_STRESS too small?)");
  struct hp_gc_stats s0 = t_stats(rt);
  ck_assert_uint_eq(s0.young_live, 0);
  hp_collect(t, HP_GC_MINOR);
  struct hp_gc_stats s1 = t_stats(rt);
  ck_assert_uint_eq(s1.young_live, LIVE * nb);                 /* only the live ones copied */
  ck_assert_uint_eq(s1.bytes_copied - s0.bytes_copied, LIVE * nb);
  ck_assert_uint_eq(s1.bytes_promoted, s0.bytes_promoted);
  ck_assert_uint_eq(s1.objects_freed, s0.objects_freed);      /* young garbage is not "freed" */
  for (size_t i = 0; i < LIVE; i++) {
    ck_assert(t_is_young(t, keep[i]));
    check_node(keep[i], i / 4 * 7 + i % 4);
  }
  ck_assert_uint_eq(hp_verify_heap(rt), LIVE);                 /* eden is empty */

  /* Drop half; the next minor copies only the rest. */
  for (size_t i = 0; i < LIVE; i += 2) keep[i] = NULL;
  hp_collect(t, HP_GC_MINOR);
  struct hp_gc_stats s2 = t_stats(rt);
  ck_assert_uint_eq(s2.young_live, LIVE / 2 * nb);
  ck_assert_uint_eq(s2.bytes_copied - s1.bytes_copied, LIVE / 2 * nb);

  /* A major collection promotes the survivors: young_live 0, promoted = their bytes. */
  hp_collect(t, HP_GC_MAJOR);
  struct hp_gc_stats s3 = t_stats(rt);
  ck_assert_uint_eq(s3.young_live, 0);
  ck_assert_uint_eq(s3.bytes_promoted - s2.bytes_promoted, LIVE / 2 * nb);
  ck_assert_uint_eq(s3.objects_freed, s2.objects_freed);
  ck_assert_uint_gt(s3.old_live, 0);
  for (size_t i = 1; i < LIVE; i += 2) { ck_assert(!t_is_young(t, keep[i])); check_node(keep[i], i / 4 * 7 + i % 4); }

  /* Old garbage is counted in objects_freed, and old_live shrinks. */
  for (size_t i = 1; i < LIVE; i += 4) keep[i] = NULL;
  hp_collect(t, HP_GC_MAJOR);
  struct hp_gc_stats s4 = t_stats(rt);
  ck_assert_uint_eq(s4.objects_freed - s3.objects_freed, LIVE / 4);
  ck_assert_uint_lt(s4.old_live, s3.old_live);
  ck_assert_uint_eq(hp_verify_heap(rt), LIVE / 4);
  hp_runtime_destroy(rt);
}
END_TEST

/* What survives: every live object is either in the survivor space or was promoted once. */
START_TEST(test_stats_promoted_identity) {
  hp_config c = t_config();
  c.eden_size = 256 * T_KiB;
  c.large_object_size = 64 * T_KiB;
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  cell *head = NULL;
  HP_ROOTS(t, fr, HP_SLOT(head));
  size_t n = t_big(200000, 50000, 3000);
  for (size_t i = 0; i < n; i++) {              /* all live: nothing is promoted then dies */
    cell *p = HP_NEW(t, &cell_type);
    ck_assert_ptr_nonnull(p);
    p->next = head;
    p->value = i;
    head = p;
  }
  hp_collect(t, HP_GC_MINOR);
  struct hp_gc_stats s = t_stats(rt);
  const size_t cb = t_obj_bytes(sizeof(cell));
  ck_assert_uint_eq(s.young_live + s.bytes_promoted, n * cb);
  ck_assert_uint_eq(s.bytes_allocated, n * cb);
  hp_collect(t, HP_GC_MAJOR);
  s = t_stats(rt);
  ck_assert_uint_eq(s.bytes_promoted, n * cb);
  ck_assert_uint_eq(s.young_live, 0);
  ck_assert_uint_eq(s.objects_freed, 0);
  size_t k = 0;
  for (cell *p = head; p; p = p->next, k++) ck_assert_uint_eq(p->value, n - 1 - k);
  ck_assert_uint_eq(k, n);
  HP_UNROOT(t, fr);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed, n);
  hp_runtime_destroy(rt);
}
END_TEST

/* hp-stats.h: "old_live: bytes in the old generation after the last collection (after a
 * major: exactly the marked bytes)". */
START_TEST(test_stats_old_live_exact) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  node *x = NULL;
  HP_ROOTS(t, fr, HP_SLOT(x));
  x = chain(t, 50, 0);                          /* 50 nodes of 40 bytes */
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt), 50);
  struct hp_gc_stats s = t_stats(rt);
  ck_assert_uint_eq(s.old_live, 50 * t_obj_bytes(sizeof(node)));
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_stats_objects_freed_sizes) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  /* Small, medium, large (old at birth) and huge (> 64 KiB) objects. */
  static const size_t sizes[] = { 8, 100, 1500, 6000, 9000, 40000, 70000, 300000 };
  enum { NS = sizeof sizes / sizeof sizes[0], PER = 5 };
  static void *slots[NS * PER];
  memset(slots, 0, sizeof slots);
  hp_root_range r = { slots, NS * PER };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  for (size_t i = 0; i < NS * PER; i++) {
    void *b = new_blob(t, sizes[i % NS], i * 1000);
    ck_assert_ptr_nonnull(b);
    slots[i] = b;
  }
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt), NS * PER);
  uint64_t freed = t_stats(rt).objects_freed;
  uint64_t old0 = t_stats(rt).old_live;
  for (size_t i = 0; i < NS * PER; i += 2) slots[i] = NULL;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, (NS * PER + 1) / 2);
  ck_assert_uint_lt(t_stats(rt).old_live, old0);
  ck_assert_uint_eq(hp_verify_heap(rt), NS * PER / 2);
  for (size_t i = 1; i < NS * PER; i += 2) ck_assert(blob_ok(slots[i], sizes[i % NS], i * 1000));
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_stats_bytes_allocated) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  static const size_t sizes[] = { 0, 1, 8, 13, 64, 1000, 8192, 8193, 20000, 100000 };
  struct hp_gc_stats s0 = t_stats(rt);
  size_t total = 0, large = 0;
  for (int round = 0; round < 50; round++)
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      void *p = hp_new(t, &blob_type, sizes[i]);
      ck_assert_ptr_nonnull(p);
      ck_assert_uint_eq(hp_size(p), (sizes[i] + 7) & ~(size_t)7);
      total += t_obj_bytes(sizes[i]);
      if (sizes[i] > 8192) large += t_obj_bytes(sizes[i]);
      if (round % 10 == 9 && i == 0) hp_collect(t, round % 20 == 19 ? HP_GC_MAJOR : HP_GC_MINOR);
    }
  struct hp_gc_stats s1 = t_stats(rt);
  ck_assert_uint_eq(s1.bytes_allocated - s0.bytes_allocated, total);
  ck_assert_uint_eq(s1.bytes_allocated_large - s0.bytes_allocated_large, large);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Ages and promotion
 * ------------------------------------------------------------------------------------ */

START_TEST(test_tenure_exact_age) {
  T_NEED_WINDOW(2);
  static const unsigned ages[] = { 1, 2, 3, 6, 15 };
  for (size_t k = 0; k < sizeof ages / sizeof ages[0]; k++) {
    unsigned n = ages[k];
    hp_config c = t_config();
    c.adaptive_tenure = false;
    c.tenure_age = n;
    hp_runtime *rt = t_runtime(&c);
    t_types(rt);
    hp_thread *t = hp_main_thread(rt);
    ck_assert_uint_eq(t_stats(rt).tenure_age, n);
    node *x = NULL;
    HP_ROOTS(t, fr, HP_SLOT(x));
    bool quiet = false;
    for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS && !quiet; attempt++) {
      t_window w = t_window_open(rt);
      x = new_node(t, 77);
      node *b = new_node(t, 78);
      quiet = t_window_quiet(&w);
      if (quiet) x->b = b;                      /* x is fresh: no barrier needed */
    }
    ck_assert(quiet);
    ck_assert(t_is_young(t, x));
    const size_t nb = t_obj_bytes(sizeof(node));
    for (unsigned i = 1; i < n; i++) {          /* n - 1 collections in the survivor space */
      node *before = x;
      struct hp_gc_stats s0 = t_stats(rt);
      hp_collect(t, HP_GC_MINOR);
      struct hp_gc_stats s1 = t_stats(rt);
      ck_assert_msg(t_is_young(t, x), "tenure %u: old after %u minor collections", n, i);
      ck_assert_ptr_ne(x, before);
      ck_assert_uint_eq(s1.bytes_promoted, s0.bytes_promoted);
      ck_assert_uint_eq(s1.young_live, 2 * nb);
      check_node(x, 77);
      check_node(x->b, 78);
    }
    struct hp_gc_stats s0 = t_stats(rt);
    hp_collect(t, HP_GC_MINOR);                 /* the n-th */
    struct hp_gc_stats s1 = t_stats(rt);
    ck_assert_msg(!t_is_young(t, x), "tenure %u: still young after %u minor collections", n, n);
    ck_assert(!t_is_young(t, x->b));
    ck_assert_uint_eq(s1.bytes_promoted - s0.bytes_promoted, 2 * nb);
    ck_assert_uint_eq(s1.young_live, 0);
    node *old = x, *oldb = x->b;
    for (int i = 0; i < 5; i++) hp_collect(t, i == 2 ? HP_GC_MAJOR : HP_GC_MINOR);
    ck_assert_ptr_eq(x, old);
    ck_assert_ptr_eq(x->b, oldb);
    check_node(x, 77);
    check_node(x->b, 78);
    HP_UNROOT(t, fr);
    hp_runtime_destroy(rt);
  }
}
END_TEST

START_TEST(test_tenure_adaptive) {
  T_NEED_WINDOW(5);
  hp_config c = t_config();
  c.eden_size = 1 * T_MiB;                       /* survivor spaces of 256 KiB */
  c.large_object_size = 64 * T_KiB;
  c.tenure_age = 6;
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  enum { N = 5, SIZE = 36 * 1024 };             /* 180 KiB: more than half a survivor space */
  static void *keep[N];
  memset(keep, 0, sizeof keep);
  hp_root_range r = { keep, N };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  bool quiet = false;
  for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS && !quiet; attempt++) {
    memset(keep, 0, sizeof keep);
    hp_collect(t, HP_GC_MAJOR);
    t_window w = t_window_open(rt);
    for (size_t i = 0; i < N; i++) keep[i] = new_blob(t, SIZE, i << 20);
    quiet = t_window_quiet(&w);
  }
  ck_assert(quiet);
  ck_assert_uint_eq(t_stats(rt).tenure_age, 6);
  hp_collect(t, HP_GC_MINOR);
  for (size_t i = 0; i < N; i++) { ck_assert(t_is_young(t, keep[i])); ck_assert(blob_ok(keep[i], SIZE, i << 20)); }
  ck_assert_uint_eq(t_stats(rt).tenure_age, 1);  /* age 1 fills more than half: lowered */
  struct hp_gc_stats s0 = t_stats(rt);
  hp_collect(t, HP_GC_MINOR);                     /* so the next one promotes them */
  struct hp_gc_stats s1 = t_stats(rt);
  for (size_t i = 0; i < N; i++) { ck_assert(!t_is_young(t, keep[i])); ck_assert(blob_ok(keep[i], SIZE, i << 20)); }
  ck_assert_uint_eq(s1.bytes_promoted - s0.bytes_promoted, N * t_obj_bytes(SIZE));
  ck_assert_uint_eq(s1.tenure_age, 6);           /* nothing survived in to-space: back up */
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_survivor_overflow) {
  T_NEED_WINDOW(24);
  hp_config c = t_config();
  c.eden_size = 1 * T_MiB;
  c.survivor_percent = 1;                        /* one 64 KiB page per survivor space */
  c.tenure_age = 15;
  c.adaptive_tenure = false;
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  enum { N0 = 150, TOPUP = 24, MAX = N0 + 8 * TOPUP, SIZE = 4000 };
  static void *keep[MAX];
  static void *before[MAX];
  memset(keep, 0, sizeof keep);
  hp_root_range r = { keep, 0 };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  for (size_t i = 0; i < N0; i++) {
    keep[i] = new_blob(t, SIZE, i * 7919);
    ck_assert_ptr_nonnull(keep[i]);
    r.count++;
  }
  /* Under stress, make sure the last TOPUP objects (96 KiB) are still in eden. */
  bool quiet = false;
  for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS && !quiet; attempt++) {
    t_window w = t_window_open(rt);
    for (size_t i = 0; i < TOPUP; i++) {
      keep[r.count] = new_blob(t, SIZE, r.count * 7919);
      ck_assert_ptr_nonnull(keep[r.count]);
      r.count++;
    }
    quiet = t_window_quiet(&w);
  }
  ck_assert(quiet);
  const size_t N = r.count;
  size_t young_before = 0;
  for (size_t i = 0; i < N; i++) young_before += t_is_young(t, keep[i]);
  memcpy(before, keep, sizeof keep);
  struct hp_gc_stats s0 = t_stats(rt);
  hp_collect(t, HP_GC_MINOR);
  struct hp_gc_stats s1 = t_stats(rt);
  size_t young = 0, promoted = 0, young_bytes = 0;
  for (size_t i = 0; i < N; i++) {
    ck_assert(blob_ok(keep[i], SIZE, i * 7919));
    if (t_is_young(t, keep[i])) { young++; young_bytes += t_obj_bytes(SIZE); }
    else if (t_is_young(t, before[i])) promoted++;
    if (t_is_young(t, before[i])) ck_assert_ptr_ne(keep[i], before[i]);
    else ck_assert_ptr_eq(keep[i], before[i]);
  }
  /* With tenure 15 nothing is old enough: what was promoted overflowed to-space. */
  ck_assert_uint_gt(young_before, 64 * 1024 / t_obj_bytes(SIZE));
  ck_assert_uint_gt(promoted, 0);
  ck_assert_uint_gt(young, 0);
  ck_assert_uint_le(young_bytes, 64 * 1024);
  ck_assert_uint_eq(s1.young_live, young_bytes);
  ck_assert_uint_eq(s1.bytes_promoted - s0.bytes_promoted, promoted * t_obj_bytes(SIZE));
  /* Later collections keep everything intact; the survivors age in place. */
  for (int i = 0; i < 6; i++) hp_collect(t, i == 3 ? HP_GC_MAJOR : HP_GC_MINOR);
  for (size_t i = 0; i < N; i++) ck_assert(blob_ok(keep[i], SIZE, i * 7919));
  ck_assert_uint_eq(hp_verify_heap(rt), N);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_large_objects_never_move) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  static const size_t sizes[] = { 8193, 12000, 65536, 70000, 1 << 20 };
  enum { NS = sizeof sizes / sizeof sizes[0] };
  static void *big[NS], *at[NS];
  memset(big, 0, sizeof big);
  hp_root_range r = { big, NS };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  for (size_t i = 0; i < NS; i++) {
    big[i] = new_blob(t, sizes[i], i << 24);
    ck_assert_ptr_nonnull(big[i]);
    ck_assert(!t_is_young(t, big[i]));          /* born old */
    ck_assert_ptr_eq(hp_type_of(rt, big[i]), &blob_type);
    at[i] = big[i];
  }
  /* A large pointer array, old at birth: young stores into it go through hp_write. */
  size_t nslots = 2000;
  vec *v = hp_new(t, &vec_type, sizeof(vec) + nslots * sizeof(void *));
  ck_assert_ptr_nonnull(v);
  ck_assert(!t_is_young(t, v));
  HP_ROOTS(t, fr, HP_SLOT(v));
  vec *vat = v;
  v->len = nslots;
  for (size_t i = 0; i < nslots; i += 3) {
    node *p = new_node(t, i);
    hp_write(t, v, &v->items[i], p);
  }
  node *m = new_node(t, 99999);
  hp_write(t, v, &v->meta, m);
  for (int k = 0; k < 30; k++) {
    hp_collect(t, k % 7 == 6 ? HP_GC_MAJOR : HP_GC_MINOR);
    ck_assert_ptr_eq(v, vat);
    for (size_t i = 0; i < NS; i++) ck_assert_ptr_eq(big[i], at[i]);
    for (size_t i = 0; i < nslots; i++) {
      if (i % 3 == 0) check_node(v->items[i], i);
      else ck_assert_ptr_null(v->items[i]);
    }
    check_node(v->meta, 99999);
  }
  for (size_t i = 0; i < NS; i++) ck_assert(blob_ok(big[i], sizes[i], i << 24));
  ck_assert_uint_eq(hp_size(v), sizeof(vec) + nslots * sizeof(void *));
  ck_assert_uint_eq(hp_verify_heap(rt), NS + 1 + (nslots + 2) / 3 + 1);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_old_to_young_barrier) {
  T_NEED_WINDOW(7);
  hp_config c = t_config();
  c.adaptive_tenure = false;
  c.tenure_age = 4;
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  node *holder = NULL;
  HP_ROOTS(t, fr, HP_SLOT(holder));
  holder = new_node(t, 1);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert(!t_is_young(t, holder));
  node *old_at = holder;
  /* The young nodes are reachable only through the old holder (made again if a stress
   * collection aged them meanwhile). */
  bool quiet = false;
  for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS && !quiet; attempt++) {
    hp_write(t, holder, &holder->a, NULL);       /* an earlier attempt's nodes: garbage */
    hp_write(t, holder, &holder->b, NULL);
    hp_collect(t, HP_GC_MAJOR);
    t_window w = t_window_open(rt);
    node *y = new_node(t, 2);
    hp_write(t, holder, &holder->a, y);
    y = new_node(t, 3);
    hp_write(t, holder, &holder->b, y);
    y = chain(t, 5, 10);
    hp_write(t, holder->b, &holder->b->a, y);   /* holder->b may have moved: re-read */
    quiet = t_window_quiet(&w);
  }
  ck_assert(quiet);
  for (unsigned i = 1; i < 4; i++) {
    node *a = holder->a;
    hp_collect(t, HP_GC_MINOR);
    ck_assert_ptr_eq(holder, old_at);
    ck_assert(t_is_young(t, holder->a));
    ck_assert_ptr_ne(holder->a, a);
    check_node(holder->a, 2);
    check_node(holder->b, 3);
    check_chain(holder->b->a, 5, 10);
  }
  hp_collect(t, HP_GC_MINOR);                   /* the 4th: promoted */
  ck_assert(!t_is_young(t, holder->a));
  ck_assert(!t_is_young(t, holder->b));
  check_node(holder->a, 2);
  check_chain(holder->b->a, 5, 10);
  ck_assert_uint_eq(hp_verify_heap(rt), 8);

  /* Cutting the old-to-old links frees them at the next major collection. */
  uint64_t freed = t_stats(rt).objects_freed;
  hp_write(t, holder, &holder->b, NULL);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 6);
  /* An old object pointing to young ones across many rounds of allocation. */
  for (size_t round = 0; round < 20; round++) {
    node *p = new_node(t, 1000 + round);
    hp_write(t, p, &p->a, holder->a);
    hp_write(t, holder, &holder->a, p);          /* holder -> newest -> ... -> node 2 */
    for (size_t k = 0; k < 200; k++) (void)new_node(t, 0);   /* garbage */
    hp_collect(t, round % 5 == 4 ? HP_GC_MAJOR : HP_GC_MINOR);
    node *q = holder->a;
    for (size_t k = round + 1; k-- > 0; q = q->a) check_node(q, 1000 + k);
    check_node(q, 2);
  }
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Deep structures
 * ------------------------------------------------------------------------------------ */

START_TEST(test_deep_list) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  size_t n = t_big(10000000, 1000000, 20000);
  cell *head = NULL;
  HP_ROOTS(t, fr, HP_SLOT(head));
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    cell *p = HP_NEW(t, &cell_type);
    if (p == NULL) ck_abort_msg("hp_new failed at %zu", i);
    p->next = head;                             /* a fresh object: no barrier */
    p->value = t_mix(i);
    sum += p->value * (i + 1);
    head = p;
  }
  hp_collect(t, HP_GC_MAJOR);
  uint64_t got = 0;
  size_t k = 0;
  for (cell *p = head; p; p = p->next, k++) got += p->value * (n - k);
  ck_assert_uint_eq(k, n);
  ck_assert_uint_eq(got, sum);
  struct hp_gc_stats s = t_stats(rt);
  ck_assert_uint_eq(s.young_live, 0);
  ck_assert_uint_ge(s.old_live, n * t_obj_bytes(sizeof(cell)));
  ck_assert_uint_eq(s.bytes_promoted, n * t_obj_bytes(sizeof(cell)));
  ck_assert_uint_eq(hp_verify_heap(rt), n);
  /* Cut it in the middle: exactly the tail is freed. */
  cell *mid = head;
  for (size_t i = 0; i < n / 2 - 1; i++) mid = mid->next;
  uint64_t freed = s.objects_freed;
  hp_write(t, mid, &mid->next, NULL);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, n - n / 2);
  k = 0;
  for (cell *p = head; p; p = p->next, k++) ck_assert_uint_eq(p->value, t_mix(n - 1 - k));
  ck_assert_uint_eq(k, n / 2);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* A balanced binary tree of depth d built bottom-up; checksum over shape and values. */
static node *tree(hp_thread *t, int d, uint64_t id) {
  node *p = new_node(t, id);
  if (d == 0) return p;
  HP_ROOTS(t, fr, HP_SLOT(p));
  node *l = tree(t, d - 1, 2 * id);
  hp_write(t, p, &p->a, l);
  node *r = tree(t, d - 1, 2 * id + 1);
  hp_write(t, p, &p->b, r);
  HP_UNROOT(t, fr);
  return p;
}

static size_t tree_check(const node *p, int d, uint64_t id) {
  check_node(p, id);
  if (d == 0) { ck_assert_ptr_null(p->a); ck_assert_ptr_null(p->b); return 1; }
  return 1 + tree_check(p->a, d - 1, 2 * id) + tree_check(p->b, d - 1, 2 * id + 1);
}

START_TEST(test_deep_tree) {
  hp_config c = t_config();
  c.eden_size = 1 * T_MiB;
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  int d = (int)t_big(18, 16, 10);
  node *root = NULL;
  HP_ROOTS(t, fr, HP_SLOT(root));
  root = tree(t, d, 1);
  size_t n = ((size_t)1 << (d + 1)) - 1;
  ck_assert_uint_eq(tree_check(root, d, 1), n);
  hp_collect(t, HP_GC_MINOR);
  ck_assert_uint_eq(tree_check(root, d, 1), n);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(tree_check(root, d, 1), n);
  ck_assert_uint_eq(hp_verify_heap(rt), n);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Variable sizes, tracing, types
 * ------------------------------------------------------------------------------------ */

static str *new_str(hp_thread *t, size_t len, uint64_t seed) {
  str *s = hp_new(t, &str_type, sizeof(str) + len);
  ck_assert_ptr_nonnull(s);
  s->len = len;
  for (size_t i = 0; i < len; i++) s->bytes[i] = (unsigned char)t_mix(seed + i);
  return s;
}

START_TEST(test_variable_size) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  enum { NV = 24 };
  static vec *vs[NV];
  static svec *ss[4];
  memset(vs, 0, sizeof vs);
  memset(ss, 0, sizeof ss);
  hp_root_range r = { (void **)vs, NV }, r2 = { (void **)ss, 4 };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  ck_assert_int_eq(hp_root_range_add(rt, &r2), 0);
  size_t objects = 0;
  for (size_t i = 0; i < NV; i++) {
    size_t n = i * i * 3;                      /* 0 .. 1587 slots: some vecs are large */
    vec *v = hp_new(t, &vec_type, sizeof(vec) + n * sizeof(void *));
    ck_assert_ptr_nonnull(v);
    v->len = n;
    vs[i] = v;
    objects++;
    for (size_t j = 0; j < n; j++) {
      str *s = new_str(t, (i + j) % 61, i * 100000 + j);
      hp_write(t, vs[i], &vs[i]->items[j], s);   /* vs[i] may be old (large) or have moved */
      objects++;
    }
    node *m = new_node(t, i);
    hp_write(t, vs[i], &vs[i]->meta, m);
    objects++;
  }
  for (size_t i = 0; i < 4; i++) {
    size_t n = 5 + i;
    svec *v = hp_new(t, &svec_type, 12 + 4 + n * sizeof(void *));
    ck_assert_ptr_nonnull(v);
    v->len = (uint32_t)n;
    v->tag = 0xC0FFEE;
    v->extra = (uint32_t)i;
    ss[i] = v;
    objects++;
    for (size_t j = 0; j < n; j++) {
      node *p = new_node(t, 500 + 10 * i + j);
      hp_write(t, ss[i], &svec_items(ss[i])[j], p);
      objects++;
    }
  }
  for (int round = 0; round < 6; round++) {
    hp_collect(t, round == 3 ? HP_GC_MAJOR : HP_GC_MINOR);
    for (size_t i = 0; i < NV; i++) {
      vec *v = vs[i];
      size_t n = i * i * 3;
      ck_assert_ptr_eq(hp_type_of(rt, v), &vec_type);
      ck_assert_uint_eq(hp_size(v), sizeof(vec) + n * sizeof(void *));
      ck_assert_uint_eq(v->len, n);
      check_node(v->meta, i);
      ck_assert_ptr_eq(hp_type_of(rt, v->meta), &node_type);
      for (size_t j = 0; j < n; j++) {
        const str *s = v->items[j];
        size_t len = (i + j) % 61;
        ck_assert_ptr_eq(hp_type_of(rt, s), &str_type);
        ck_assert_uint_eq(hp_size(s), (sizeof(str) + len + 7) & ~(size_t)7);
        ck_assert_uint_eq(s->len, len);
        for (size_t b = 0; b < len; b++) ck_assert_uint_eq(s->bytes[b], (unsigned char)t_mix(i * 100000 + j + b));
      }
    }
    for (size_t i = 0; i < 4; i++) {
      svec *v = ss[i];
      ck_assert_uint_eq(hp_size(v), 16 + (5 + i) * sizeof(void *));
      ck_assert_uint_eq(v->len, 5 + i);
      ck_assert_uint_eq(v->tag, 0xC0FFEE);
      ck_assert_uint_eq(v->extra, i);
      for (size_t j = 0; j < 5 + i; j++) check_node(svec_items(v)[j], 500 + 10 * i + j);
    }
  }
  ck_assert_uint_eq(hp_verify_heap(rt), objects);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_trace_tagged) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  tagged *o = NULL, *old = NULL;
  HP_ROOTS(t, fr, HP_SLOT(o), HP_SLOT(old));
  old = HP_NEW(t, &tagged_type);
  ck_assert_ptr_nonnull(old);
  hp_collect(t, HP_GC_MAJOR);                   /* one old, one young */
  o = HP_NEW(t, &tagged_type);
  ck_assert_ptr_nonnull(o);
  /* Integers that look like heap addresses plus the tag bit: the trace must skip them. */
  uint64_t ints[TAGGED_N] = {
    1, ((uint64_t)t->young_lo + 64) | 1, 0, ((uint64_t)(uintptr_t)old + 8) | 1, 12345u << 1 | 1, 0 };
  o->n = old->n = TAGGED_N;                     /* plain stores: no pointers yet */
  for (size_t i = 0; i < TAGGED_N; i++) o->v[i] = old->v[i] = ints[i];
  for (size_t i = 0; i < TAGGED_N; i++) {       /* pointers in slots 2 and 5 of each */
    if (ints[i] != 0) continue;
    node *p = new_node(t, 10 + i);
    hp_write(t, o, &o->v[i], p);
    p = new_node(t, 20 + i);
    hp_write(t, old, &old->v[i], p);
  }
  node *f = new_node(t, 30);
  hp_write(t, o, &o->fixed, f);
  f = new_node(t, 31);
  hp_write(t, old, &old->fixed, f);
  f = NULL;
  unsigned long calls = tagged_trace_calls;
  for (int round = 0; round < 8; round++) {
    uintptr_t v2 = (uintptr_t)o->v[2];
    hp_collect(t, round % 4 == 3 ? HP_GC_MAJOR : HP_GC_MINOR);
    if (t_is_young(t, (void *)v2)) ck_assert_uint_ne(o->v[2], v2);   /* updated through the trace */
    tagged *xs[2] = { o, old };
    for (int k = 0; k < 2; k++) {
      tagged *x = xs[k];
      ck_assert_uint_eq(x->n, TAGGED_N);
      for (size_t i = 0; i < TAGGED_N; i++) {
        if (ints[i] != 0) ck_assert_uint_eq(x->v[i], ints[i]);
        else check_node((node *)(uintptr_t)x->v[i], (k ? 20 : 10) + i);
      }
      check_node(x->fixed, k ? 31 : 30);
    }
  }
  ck_assert_uint_gt(tagged_trace_calls, calls);
  ck_assert_uint_eq(hp_verify_heap(rt), 2 + 4 + 2);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_types_register) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  uint32_t id = node_type.id;
  ck_assert_uint_ne(id, 0);
  ck_assert_int_eq(hp_type_register(rt, &node_type), 0);      /* again: the same id */
  ck_assert_uint_eq(node_type.id, id);
  ck_assert_uint_ne(cell_type.id, node_type.id);
  static const uint32_t odd[] = { 4 }, past[] = { 16 };
  hp_type bad1 = { .name = "bad1", .size = 16, .noffsets = 1, .offsets = odd };
  hp_type bad2 = { .name = "bad2", .size = 16, .noffsets = 1, .offsets = past };
  errno = 0;
  ck_assert_int_eq(hp_type_register(rt, &bad1), -1);
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_int_eq(hp_type_register(rt, &bad2), -1);
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_uint_eq(bad1.id, 0);
  static void *objs[5];
  memset(objs, 0, sizeof objs);
  hp_root_range r = { objs, 5 };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  objs[0] = HP_NEW(t, &node_type);
  objs[1] = HP_NEW(t, &cell_type);
  objs[2] = hp_new(t, &str_type, 21);
  objs[3] = hp_new(t, &blob_type, 0);
  objs[4] = hp_new(t, &blob_type, 20000);
  const hp_type *types[] = { &node_type, &cell_type, &str_type, &blob_type, &blob_type };
  const size_t sizes[] = { sizeof(node), sizeof(cell), 24, 0, 20000 };
  hp_collect(t, HP_GC_MINOR);
  for (size_t i = 0; i < 5; i++) {
    ck_assert_ptr_nonnull(objs[i]);
    ck_assert_ptr_eq(hp_type_of(rt, objs[i]), types[i]);
    ck_assert_uint_eq(hp_size(objs[i]), sizes[i]);
  }
  ck_assert_int_eq(hp_version(), HP_VERSION);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_zero_size_objects) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  enum { N = 64 };
  static void *z[N];
  memset(z, 0, sizeof z);
  hp_root_range r = { z, N };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  for (size_t i = 0; i < N; i++) {
    z[i] = hp_new(t, &blob_type, 0);
    ck_assert_ptr_nonnull(z[i]);
    if (i % 2) (void)new_blob(t, 24, i);         /* garbage between them */
  }
  for (int round = 0; round < 6; round++) {
    hp_collect(t, round == 4 ? HP_GC_MAJOR : HP_GC_MINOR);
    for (size_t i = 0; i < N; i++) {
      ck_assert_ptr_eq(hp_type_of(rt, z[i]), &blob_type);
      ck_assert_uint_eq(hp_size(z[i]), 0);
      for (size_t j = 0; j < i; j++) ck_assert_ptr_ne(z[i], z[j]);   /* still distinct */
    }
  }
  ck_assert_uint_eq(hp_verify_heap(rt), N);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_new_is_zeroed) {
  hp_config c = t_config();
  c.eden_size = 256 * T_KiB;
  c.large_object_size = 16 * T_KiB;
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  size_t checked = 0;
  for (int round = 0; round < 20; round++) {
    /* Dirty eden (and old blocks) with garbage, then collect it away. */
    for (size_t i = 0; i < 400; i++) {
      size_t sz = 8 + (i * 37) % 3000;
      unsigned char *p = hp_new(t, &blob_type, sz);
      ck_assert_ptr_nonnull(p);
      memset(p, 0xA5, sz);
    }
    unsigned char *big = hp_new(t, &blob_type, 20000);
    ck_assert_ptr_nonnull(big);
    memset(big, 0xA5, 20000);
    hp_collect(t, round % 3 == 2 ? HP_GC_MAJOR : HP_GC_MINOR);
    for (size_t i = 0; i < 300; i++) {
      size_t sz = 8 + (i * 53) % 4000;
      const unsigned char *p = hp_new(t, &blob_type, sz);
      ck_assert_ptr_nonnull(p);
      for (size_t b = 0; b < sz; b++) ck_assert_uint_eq(p[b], 0);
      checked++;
    }
    const unsigned char *b2 = hp_new(t, &blob_type, 20000);
    ck_assert_ptr_nonnull(b2);
    for (size_t b = 0; b < 20000; b++) ck_assert_uint_eq(b2[b], 0);
    node *n = HP_NEW(t, &node_type);
    ck_assert(n->a == NULL && n->b == NULL && n->id == 0 && n->check == 0);
  }
  ck_assert_uint_eq(checked, 6000);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  The heap limit and the out-of-memory handler
 * ------------------------------------------------------------------------------------ */

static int oom_calls;
static size_t oom_last_size;
static bool oom_refuse(hp_runtime *rt, size_t size, void *data) {
  (void)rt; (void)data;
  oom_calls++;
  oom_last_size = size;
  return false;
}

enum { PAYLOAD = 4000 };

/* Grows the list at *head by chunks with payloads until hp_new fails; returns how many were
 * linked. Every stored pointer goes through hp_write (a collection may run at each hp_new). */
static size_t grow_until_null(hp_thread *t, chunk **head, size_t first_id, size_t max) {
  chunk *cur = NULL;
  HP_ROOTS(t, fr, HP_SLOT(cur));
  size_t n = 0;
  for (; n < max; n++) {
    cur = HP_NEW(t, &chunk_type);
    if (cur == NULL) break;
    cur->id = first_id + n;
    void *pl = new_blob(t, PAYLOAD, (first_id + n) * PAYLOAD);
    if (pl == NULL) break;
    hp_write(t, cur, &cur->payload, pl);
    hp_write(t, cur, &cur->next, *head);
    *head = cur;
  }
  HP_UNROOT(t, fr);
  return n;
}

static size_t check_chunks(const chunk *p, size_t last_id) {
  size_t n = 0;
  for (; p; p = p->next, n++) {
    ck_assert_uint_eq(p->id, last_id - n);
    ck_assert_msg(blob_ok(p->payload, PAYLOAD, p->id * PAYLOAD), "payload of chunk %zu damaged", (size_t)p->id);
  }
  return n;
}

START_TEST(test_heap_limit_list) {
  hp_config c = t_config();
  c.heap_limit = 64 * T_MiB;
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  oom_calls = 0;
  hp_set_oom_handler(rt, oom_refuse, NULL);
  chunk *head = NULL;
  HP_ROOTS(t, fr, HP_SLOT(head));
  errno = 0;
  size_t n = grow_until_null(t, &head, 0, SIZE_MAX);
  ck_assert_int_eq(errno, ENOMEM);
  ck_assert_int_eq(oom_calls, 1);
  ck_assert_uint_gt(n * (PAYLOAD + 48), 32 * T_MiB);            /* it did use the heap */
  ck_assert_uint_le(n * (PAYLOAD + 48), 64 * T_MiB);
  ck_assert_uint_eq(check_chunks(head, n - 1), n);
  /* The limit is kept but for what one minor collection may promote past it. */
  ck_assert_uint_le(t_stats(rt).heap_committed, c.heap_limit + t->young_size);
  hp_collect(t, HP_GC_MINOR);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(check_chunks(head, n - 1), n);
  ck_assert_uint_eq(hp_verify_heap(rt), 2 * n);
  /* Full again: still NULL, the handler asked once more. */
  errno = 0;
  size_t more = grow_until_null(t, &head, n, SIZE_MAX);
  ck_assert_int_eq(errno, ENOMEM);
  ck_assert_int_eq(oom_calls, 2);
  n += more;
  ck_assert_uint_eq(check_chunks(head, n - 1), n);
  /* Drop everything: the heap is usable again. */
  head = NULL;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  size_t again = grow_until_null(t, &head, 0, n / 2);
  ck_assert_uint_eq(again, n / 2);
  ck_assert_int_eq(oom_calls, 2);
  ck_assert_uint_eq(check_chunks(head, n / 2 - 1), n / 2);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_heap_limit_large) {
  hp_config c = t_config();
  c.heap_limit = 64 * T_MiB;
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  oom_calls = 0;
  hp_set_oom_handler(rt, oom_refuse, NULL);
  enum { MAX = 8192, SIZE = 32 * 1024 };
  static void *slots[MAX];
  memset(slots, 0, sizeof slots);
  hp_root_range r = { slots, 0 };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  errno = 0;
  for (;;) {
    ck_assert_uint_lt(r.count, MAX);
    void *p = new_blob(t, SIZE, r.count << 16);
    if (p == NULL) break;
    ck_assert(!t_is_young(t, p));
    slots[r.count++] = p;
  }
  ck_assert_int_eq(errno, ENOMEM);
  ck_assert_int_eq(oom_calls, 1);
  ck_assert_uint_eq(oom_last_size, SIZE);
  size_t n = r.count;
  ck_assert_uint_gt(n * SIZE, 32 * T_MiB);
  ck_assert_uint_le(n * SIZE, 64 * T_MiB);
  for (size_t i = 0; i < n; i++) ck_assert(blob_ok(slots[i], SIZE, i << 16));
  ck_assert_uint_eq(hp_verify_heap(rt), n);
  ck_assert_uint_le(t_stats(rt).heap_committed, c.heap_limit);   /* large objects: exact */
  /* Free half: as many fit again. */
  r.count = n / 2;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt), n / 2);
  for (size_t i = n / 2; i < n; i++) {
    slots[i] = new_blob(t, SIZE, i << 16);
    ck_assert_ptr_nonnull(slots[i]);
    r.count++;
  }
  ck_assert_int_eq(oom_calls, 1);
  for (size_t i = 0; i < n; i++) ck_assert(blob_ok(slots[i], SIZE, i << 16));
  hp_runtime_destroy(rt);
}
END_TEST

static chunk *reserve;
static bool oom_drop_reserve(hp_runtime *rt, size_t size, void *data) {
  (void)rt; (void)size; (void)data;
  oom_calls++;
  if (reserve == NULL) return false;
  reserve = NULL;                                /* the embedder drops a cache... */
  return true;                                   /* ...and asks for the retry */
}

/* hp.h: the handler "may free memory the embedder holds (drop caches, unregister roots) and
 * return true to have the allocation tried once more". */
START_TEST(test_oom_handler_frees) {
  hp_config c = t_config();
  c.heap_limit = 64 * T_MiB;
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  oom_calls = 0;
  hp_set_oom_handler(rt, oom_drop_reserve, NULL);
  ck_assert_int_eq(hp_root_add(rt, (void **)&reserve), 0);
  reserve = NULL;
  size_t nres = grow_until_null(t, &reserve, 0, 4000);        /* about 16 MiB of cache */
  ck_assert_uint_eq(nres, 4000);
  chunk *head = NULL;
  HP_ROOTS(t, fr, HP_SLOT(head));
  chunk *cur = NULL;
  HP_ROOTS(t, fr2, HP_SLOT(cur));
  size_t n = 0;
  bool retried_ok = false;
  for (;;) {
    int calls = oom_calls;
    cur = HP_NEW(t, &chunk_type);
    if (calls == 0 && oom_calls == 1) retried_ok = cur != NULL;
    if (cur == NULL) break;
    cur->id = n;
    int calls2 = oom_calls;
    void *pl = new_blob(t, PAYLOAD, n * PAYLOAD);
    if (calls2 == 0 && oom_calls == 1) retried_ok = pl != NULL;
    if (pl == NULL) break;
    hp_write(t, cur, &cur->payload, pl);
    hp_write(t, cur, &cur->next, head);
    head = cur;
    n++;
  }
  ck_assert_ptr_null(reserve);
  ck_assert_msg(retried_ok, "the allocation retried after the handler freed its cache failed");
  ck_assert_int_eq(oom_calls, 2);
  ck_assert_uint_gt(n, 4000);                    /* the cache's room was used */
  ck_assert_uint_eq(check_chunks(head, n - 1), n);
  HP_UNROOT(t, fr2);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Configuration
 * ------------------------------------------------------------------------------------ */

START_TEST(test_config_defaults) {
  hp_config c;
  memset(&c, 0xFF, sizeof c);
  hp_config_default(&c);
  ck_assert_uint_eq(c.eden_size, 4 * T_MiB);
  ck_assert_uint_eq(c.survivor_percent, 25);
  ck_assert_uint_eq(c.tenure_age, 6);
  ck_assert(c.adaptive_tenure);
  ck_assert_uint_eq(c.large_object_size, 8 * T_KiB);
  ck_assert_uint_eq(c.heap_limit, 0);
  ck_assert_uint_eq(c.major_growth_percent, 200);
  ck_assert_uint_eq(c.major_gc_percent, 5);
  ck_assert(c.adaptive_eden);
  ck_assert_uint_eq(c.eden_max_size, 16 * T_MiB);
  ck_assert_uint_eq(c.young_pause_goal_us, 5000);
  ck_assert_uint_eq(c.minor_cost_percent, 5);
  ck_assert_uint_eq(c.stop_spin_us, 50);
  ck_assert_uint_eq(c.major_min_size, 16 * T_MiB);
  ck_assert_uint_eq(c.stress, 0);
  ck_assert_uint_eq(c.verify, 0);
  ck_assert(!c.gc_log);
  ck_assert(c.conservative_stack);
  /* NULL means the defaults. */
  hp_runtime *rt = hp_runtime_new(NULL);
  ck_assert_ptr_nonnull(rt);
  hp_thread *t = hp_main_thread(rt);
  ck_assert_ptr_eq(hp_thread_runtime(t), rt);
  ck_assert_uint_eq(t->large_object_size, 8 * T_KiB);
  /* Reserved for the largest eden (16 MiB) and two 25% survivor spaces, padded so that the
   * first survivor spaces (1 MiB each) share one huge page, + the end word; in use at
   * first: 4 MiB of eden and 1 MiB of each survivor space. */
  ck_assert_uint_eq(t->young_size, 16 * T_MiB + 1 * T_MiB + 2 * 4 * T_MiB + 8);   /* + padding */
  ck_assert_uint_eq(t_stats(rt).eden_size, 4 * T_MiB);
  ck_assert_uint_eq(t_stats(rt).eden_size_max, 4 * T_MiB);
  ck_assert_uint_eq(t_stats(rt).tlab_size, 32 * T_KiB);
  ck_assert_uint_eq(t_stats(rt).tenure_age, 6);
  ck_assert_uint_eq(t_stats(rt).version, HP_GC_STATS_VERSION);
  ck_assert_uint_eq(t_stats(rt).heap_committed, 6 * T_MiB);
  hp_runtime_destroy(rt);
}
END_TEST

static const char *const option_vars[] = {
  "HP_EDEN_SIZE", "HP_SURVIVOR_PERCENT", "HP_TENURE_AGE", "HP_ADAPTIVE_TENURE", "HP_LARGE_OBJECT_SIZE",
  "HP_HEAP_LIMIT", "HP_MAJOR_GROWTH", "HP_MAJOR_MIN_SIZE", "HP_GC_STRESS", "HP_GC_VERIFY", "HP_GC_LOG", "HP_GC_LOG_FILE",
  "HP_CONSERVATIVE", "HP_MARK_MODE", "HP_GC_STRESS_FINISH", "HP_ADAPTIVE_EDEN", "HP_EDEN_MAX_SIZE",
  "HP_YOUNG_PAUSE_GOAL_US", "HP_MINOR_COST", "HP_MAJOR_COST", "HP_STOP_SPIN_US",
};

START_TEST(test_config_env) {
  for (size_t i = 0; i < sizeof option_vars / sizeof option_vars[0]; i++) unsetenv(option_vars[i]);
  hp_config c = t_config();
  ck_assert_int_eq(hp_config_from_env(&c), 0);                 /* nothing set: unchanged */
  hp_config d = t_config();
  ck_assert_int_eq(memcmp(&c, &d, sizeof c), 0);

  setenv("HP_EDEN_SIZE", "8M", 1);
  setenv("HP_LARGE_OBJECT_SIZE", "16k", 1);
  setenv("HP_HEAP_LIMIT", "1G", 1);
  setenv("HP_MAJOR_MIN_SIZE", "512KB", 1);
  setenv("HP_SURVIVOR_PERCENT", "10", 1);
  setenv("HP_TENURE_AGE", "3", 1);
  setenv("HP_ADAPTIVE_TENURE", "0", 1);
  setenv("HP_MAJOR_GROWTH", "150", 1);
  setenv("HP_GC_STRESS", "7", 1);
  setenv("HP_GC_VERIFY", "2", 1);
  setenv("HP_GC_LOG", "1", 1);
  setenv("HP_ADAPTIVE_EDEN", "1", 1);            /* t_config turns it off */
  setenv("HP_EDEN_MAX_SIZE", "32M", 1);
  setenv("HP_YOUNG_PAUSE_GOAL_US", "500", 1);
  setenv("HP_MINOR_COST", "10", 1);
  setenv("HP_MAJOR_COST", "2", 1);
  setenv("HP_STOP_SPIN_US", "0", 1);
  ck_assert_int_eq(hp_config_from_env(&c), 0);
  ck_assert(c.adaptive_eden);
  ck_assert_uint_eq(c.eden_max_size, 32 * T_MiB);
  ck_assert_uint_eq(c.young_pause_goal_us, 500);
  ck_assert_uint_eq(c.minor_cost_percent, 10);
  ck_assert_uint_eq(c.major_gc_percent, 2);
  ck_assert_uint_eq(c.stop_spin_us, 0);
  ck_assert_uint_eq(c.eden_size, 8 * T_MiB);
  ck_assert_uint_eq(c.large_object_size, 16 * T_KiB);
  ck_assert_uint_eq(c.heap_limit, (size_t)1 << 30);
  ck_assert_uint_eq(c.major_min_size, 512 * T_KiB);
  ck_assert_uint_eq(c.survivor_percent, 10);
  ck_assert_uint_eq(c.tenure_age, 3);
  ck_assert(!c.adaptive_tenure);
  ck_assert_uint_eq(c.major_growth_percent, 150);
  ck_assert_uint_eq(c.stress, 7);
  ck_assert_uint_eq(c.verify, 2);
  ck_assert(c.gc_log);
  hp_config good = c;

  /* Bad values: each reported, each left unchanged. */
  setenv("HP_EDEN_SIZE", "12Q", 1);              /* unknown suffix */
  setenv("HP_TENURE_AGE", "16", 1);              /* out of range */
  setenv("HP_SURVIVOR_PERCENT", "10K", 1);       /* not a size: no suffix */
  setenv("HP_GC_LOG", "yes", 1);
  setenv("HP_HEAP_LIMIT", "-5", 1);
  setenv("HP_MAJOR_GROWTH", "100", 1);           /* below 110 */
  setenv("HP_LARGE_OBJECT_SIZE", "", 1);
  setenv("HP_MAJOR_MIN_SIZE", "99999999999999G", 1);   /* overflows */
  t_capture cap = t_capture_begin();
  int rejected = hp_config_from_env(&c);
  char *err = t_capture_end(&cap);
  ck_assert_int_eq(rejected, 8);
  ck_assert_int_eq(memcmp(&c, &good, sizeof c), 0);
  const char *names[] = { "HP_EDEN_SIZE", "HP_TENURE_AGE", "HP_SURVIVOR_PERCENT", "HP_GC_LOG", "HP_HEAP_LIMIT",
                          "HP_MAJOR_GROWTH", "HP_LARGE_OBJECT_SIZE", "HP_MAJOR_MIN_SIZE" };
  for (size_t i = 0; i < 8; i++) ck_assert_msg(strstr(err, names[i]) != NULL, "no warning about %s in: %s", names[i], err);
  ck_assert_uint_eq(t_count_substr(err, "\n"), 8);
  free(err);

  /* Signs and white space anywhere are rejected: strtoull skips leading blanks and wraps a
   * negated value (" -1" was 2^64-1, no limit at all). */
  const char *signed_values[] = { " -1", "\t-1", "+8M", " 8M", "8M ", "-0", "\n1G", "8 M" };
  for (size_t i = 0; i < sizeof option_vars / sizeof option_vars[0]; i++) unsetenv(option_vars[i]);
  for (size_t i = 0; i < sizeof signed_values / sizeof signed_values[0]; i++) {
    setenv("HP_HEAP_LIMIT", signed_values[i], 1);
    setenv("HP_TENURE_AGE", signed_values[i], 1);
    cap = t_capture_begin();
    rejected = hp_config_from_env(&c);
    err = t_capture_end(&cap);
    ck_assert_msg(rejected == 2, "\"%s\": %d rejected: %s", signed_values[i], rejected, err);
    ck_assert_msg(memcmp(&c, &good, sizeof c) == 0, "\"%s\" changed the configuration", signed_values[i]);
    free(err);
  }
  unsetenv("HP_HEAP_LIMIT");
  unsetenv("HP_TENURE_AGE");

  /* The parsed configuration makes a working runtime. */
  for (size_t i = 0; i < sizeof option_vars / sizeof option_vars[0]; i++) unsetenv(option_vars[i]);
  good.heap_limit = 0;
  good.gc_log = false;
  hp_runtime *rt = t_runtime(&good);
  /* Reserved for a 32 MiB eden; in use, 8 MiB and survivors of 10% rounded to 64 KiB. */
  /* survivors meet 832 KiB past the 2 MiB boundary at 36 MiB; to-space's region follows */
  ck_assert_uint_eq(hp_main_thread(rt)->young_size, 36 * T_MiB + 832 * T_KiB + 3328 * T_KiB + 8);
  ck_assert_uint_eq(t_stats(rt).heap_committed, 8 * T_MiB + 2 * 832 * T_KiB);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_config_invalid) {
  struct { const char *name; hp_config c; } bad[16];
  size_t n = 0;
#define BAD(field, value) do { bad[n].name = #field; bad[n].c = t_config(); bad[n].c.field = (value); n++; } while (0)
  BAD(eden_size, 100 * T_KiB);
  BAD(survivor_percent, 0);
  BAD(survivor_percent, 101);
  BAD(tenure_age, 0);
  BAD(tenure_age, 16);
  BAD(large_object_size, 100);
  BAD(large_object_size, 2 * T_MiB);            /* more than a quarter of eden */
  BAD(major_growth_percent, 109);
  BAD(verify, 3);
  BAD(eden_max_size, 100 * T_KiB);
  BAD(young_pause_goal_us, 9);
  BAD(minor_cost_percent, 0);
  BAD(major_gc_percent, 101);
  BAD(stop_spin_us, 100001);
#undef BAD
  for (size_t i = 0; i < n; i++) {
    t_capture cap = t_capture_begin();
    errno = 0;
    hp_runtime *rt = hp_runtime_new(&bad[i].c);
    int e = errno;
    char *err = t_capture_end(&cap);
    ck_assert_msg(rt == NULL, "%s: accepted", bad[i].name);
    ck_assert_int_eq(e, EINVAL);
    ck_assert_msg(strstr(err, bad[i].name) != NULL, "%s: not named in: %s", bad[i].name, err);
    free(err);
  }
  /* The edges of the ranges are accepted. */
  hp_config c = t_config();
  c.eden_size = 256 * T_KiB;
  c.large_object_size = 64 * T_KiB;
  c.survivor_percent = 100;
  c.tenure_age = 15;
  c.adaptive_eden = false;                      /* the young span is eden's size */
  hp_runtime *rt = t_runtime(&c);
  ck_assert_uint_eq(hp_main_thread(rt)->young_size, 3 * 256 * T_KiB + 8);
  hp_runtime_destroy(rt);
  c.tenure_age = 1;
  c.survivor_percent = 1;
  rt = t_runtime(&c);
  ck_assert_uint_eq(hp_main_thread(rt)->young_size, 256 * T_KiB + 2 * 64 * T_KiB + 8);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Events, log, pauses, verification
 * ------------------------------------------------------------------------------------ */

typedef struct ev_log { size_t n, dropped; hp_gc_event ev[1 << 16]; } ev_log;
static ev_log evlog;
static void on_event(hp_runtime *rt, const hp_gc_event *ev, void *data) {
  (void)rt;
  ev_log *l = data;
  if (l->n < sizeof l->ev / sizeof l->ev[0]) l->ev[l->n++] = *ev;
  else l->dropped++;
}

/* Checks that the log is start/end pairs numbered in sequence per kind from first[kind]. */
static void check_pairs(const ev_log *l, uint64_t first[2], uint64_t *sum_promoted, uint64_t *sum_copied) {
  ck_assert_uint_eq(l->dropped, 0);
  ck_assert_uint_eq(l->n % 2, 0);
  uint64_t next[2] = { first[0], first[1] };
  for (size_t i = 0; i < l->n; i += 2) {
    const hp_gc_event *s = &l->ev[i], *e = &l->ev[i + 1];
    ck_assert(!s->end);
    ck_assert(e->end);
    ck_assert_int_eq(s->kind, e->kind);
    ck_assert(s->kind == HP_GC_MINOR || s->kind == HP_GC_MAJOR);
    ck_assert_uint_eq(s->number, next[s->kind]);
    ck_assert_uint_eq(e->number, next[s->kind]);
    next[s->kind]++;
    ck_assert_uint_eq(e->heap_before, s->heap_before);
    if (s->kind == HP_GC_MAJOR) ck_assert_uint_eq(e->copied, 0);
    *sum_promoted += e->promoted;
    *sum_copied += e->copied;
  }
  first[0] = next[0];
  first[1] = next[1];
}

START_TEST(test_events) {
  hp_config c = t_config();
  c.eden_size = 256 * T_KiB;
  c.adaptive_eden = false;                      /* young_size is what eden and survivors take */
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  memset(&evlog, 0, sizeof evlog);
  hp_set_gc_event_handler(rt, on_event, &evlog);
  cell *head = NULL;
  HP_ROOTS(t, fr, HP_SLOT(head));
  for (size_t i = 0; i < 30000; i++) {          /* automatic collections */
    cell *p = HP_NEW(t, &cell_type);
    ck_assert_ptr_nonnull(p);
    p->next = (i % 3) ? head : NULL;
    head = p;
  }
  struct hp_gc_stats s = t_stats(rt);
  ck_assert_uint_gt(s.minor_count, 0);
  uint64_t first[2] = { 1, 1 }, promoted = 0, copied = 0;
  check_pairs(&evlog, first, &promoted, &copied);
  ck_assert_uint_eq(evlog.n, 2 * (s.minor_count + s.major_count));
  ck_assert_uint_eq(first[0] - 1, s.minor_count);
  ck_assert_uint_eq(first[1] - 1, s.major_count);
  ck_assert_uint_eq(promoted, s.bytes_promoted);
  ck_assert_uint_eq(copied, s.bytes_copied);

  /* An explicit sequence: exactly these events, in this order. */
  evlog.n = 0;
  static const hp_gc_kind seq[] = { HP_GC_MINOR, HP_GC_MINOR, HP_GC_MAJOR, HP_GC_MINOR, HP_GC_MAJOR, HP_GC_MAJOR };
  enum { NSEQ = sizeof seq / sizeof seq[0] };
  for (size_t i = 0; i < NSEQ; i++) hp_collect(t, seq[i]);
  ck_assert_uint_eq(evlog.n, 2 * NSEQ);
  for (size_t i = 0; i < NSEQ; i++) ck_assert_int_eq(evlog.ev[2 * i].kind, seq[i]);
  check_pairs(&evlog, first, &promoted, &copied);
  struct hp_gc_stats s2 = t_stats(rt);
  ck_assert_uint_eq(s2.minor_count - s.minor_count, 3);
  ck_assert_uint_eq(s2.major_count - s.major_count, 3);
  ck_assert_uint_eq(promoted, s2.bytes_promoted);
  ck_assert_uint_eq(copied, s2.bytes_copied);
  /* After a major collection the young generation is empty. */
  const hp_gc_event *last = &evlog.ev[evlog.n - 1];
  /* Old blocks only -- and, with conservative roots, what a stale stack word pinned in the
   * young range (pinned_held): with conservative-only roots that depends on the frame. */
  ck_assert_uint_eq(last->heap_after, s2.heap_committed - (t->young_size - 8) + s2.pinned_held);
  ck_assert_uint_eq(s2.eden_size, 256 * T_KiB);
  ck_assert_uint_ge(last->heap_after, s2.old_live);
  ck_assert_uint_ge(last->heap_before, last->heap_after);

  /* Without a handler nothing is recorded. */
  hp_set_gc_event_handler(rt, NULL, NULL);
  evlog.n = 0;
  hp_collect(t, HP_GC_MINOR);
  ck_assert_uint_eq(evlog.n, 0);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_gc_log) {
  hp_config c = t_config();
  c.gc_log = true;
  hp_runtime *rt = t_runtime(&c);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  node *x = NULL;
  HP_ROOTS(t, fr, HP_SLOT(x));
  t_capture cap0 = t_capture_begin();
  x = chain(t, 60, 0);                          /* any stress collections log here */
  free(t_capture_end(&cap0));
  struct hp_gc_stats s = t_stats(rt);
  t_capture cap = t_capture_begin();
  hp_collect(t, HP_GC_MINOR);
  hp_collect(t, HP_GC_MAJOR);
  hp_collect(t, HP_GC_MINOR);
  char *log = t_capture_end(&cap);
  ck_assert_uint_eq(t_count_substr(log, "\n"), 3);
  ck_assert_uint_eq(t_count_substr(log, "[hp gc] minor #"), 2);
  ck_assert_uint_eq(t_count_substr(log, "[hp gc] major #"), 1);
  char want[64];
  snprintf(want, sizeof want, "minor #%llu ", (unsigned long long)s.minor_count + 2);
  ck_assert_msg(strstr(log, want) != NULL, "no \"%s\" in: %s", want, log);
  snprintf(want, sizeof want, "major #%llu ", (unsigned long long)s.major_count + 1);
  ck_assert_msg(strstr(log, want) != NULL, "no \"%s\" in: %s", want, log);
  free(log);
  check_chain(x, 60, 0);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

static void check_pauses(const struct hp_gc_pause_stats *p, uint64_t count) {
  ck_assert_uint_eq(p->count, count);
  uint64_t h = 0;
  for (size_t i = 0; i < HP_PAUSE_BUCKETS; i++) h += p->histogram[i];
  ck_assert_uint_eq(h, count);
  ck_assert_uint_ge(p->max_ns, p->last_ns);
  ck_assert_uint_ge(p->total_ns, p->max_ns);
  ck_assert_uint_le(p->p50_ns, p->p99_ns);
  ck_assert_uint_le(p->p99_ns, p->max_ns);
  ck_assert_uint_eq(hp_gc_pause_quantile(p, 1.0), p->max_ns);
  ck_assert_uint_le(hp_gc_pause_quantile(p, 0.0), p->p50_ns);
  ck_assert_uint_eq(hp_gc_pause_quantile(p, 0.5), p->p50_ns);
  if (count > 0) ck_assert_uint_gt(p->max_ns, 0);
}

START_TEST(test_pause_stats) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  struct hp_gc_stats s = t_stats(rt);
  check_pauses(&s.minor, s.minor_count);
  check_pauses(&s.major, s.major_count);
  struct hp_gc_pause_stats empty;
  memset(&empty, 0, sizeof empty);
  ck_assert_uint_eq(hp_gc_pause_quantile(&empty, 0.5), 0);
  node *x = NULL;
  HP_ROOTS(t, fr, HP_SLOT(x));
  x = chain(t, 60, 0);
  s = t_stats(rt);
  uint64_t m0 = s.minor_count, M0 = s.major_count;
  for (int i = 0; i < 40; i++) hp_collect(t, i % 5 == 4 ? HP_GC_MAJOR : HP_GC_MINOR);
  s = t_stats(rt);
  ck_assert_uint_eq(s.minor_count - m0, 32);
  ck_assert_uint_eq(s.major_count - M0, 8);
  check_pauses(&s.minor, s.minor_count);
  check_pauses(&s.major, s.major_count);
  ck_assert_uint_eq(s.gc_ns, s.minor.total_ns + s.major.total_ns);
  ck_assert_uint_ge(s.total_ns, s.gc_ns);
  /* The printed report names both kinds. */
  FILE *f = tmpfile();
  ck_assert_ptr_nonnull(f);
  hp_gc_stats_print(rt, f);
  long len = ftell(f);
  ck_assert_int_gt(len, 0);
  char buf[4096];
  rewind(f);
  size_t got = fread(buf, 1, sizeof buf - 1, f);
  buf[got] = '\0';
  fclose(f);
  ck_assert_ptr_nonnull(strstr(buf, "minor"));
  ck_assert_ptr_nonnull(strstr(buf, "major"));
  check_chain(x, 60, 0);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_verify_count) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  node *x = NULL, *y = NULL;
  vec *v = NULL;
  HP_ROOTS(t, fr, HP_SLOT(x), HP_SLOT(y), HP_SLOT(v));
  x = chain(t, 37, 0);
  v = hp_new(t, &vec_type, sizeof(vec) + 10 * sizeof(void *));
  ck_assert_ptr_nonnull(v);
  for (size_t i = 0; i < 10; i++) {
    str *s = new_str(t, i * 10, i);
    hp_write(t, v, &v->items[i], s);
  }
  ck_assert_uint_eq(hp_verify_heap(rt), 48);    /* everything is live, wherever it is */
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt), 48);
  y = chain(t, 5, 100);                         /* young */
  ck_assert_uint_eq(hp_verify_heap(rt), 53);
  hp_collect(t, HP_GC_MINOR);
  ck_assert_uint_eq(hp_verify_heap(rt), 53);
  x = NULL;                                     /* old garbage stays until a major */
  hp_collect(t, HP_GC_MINOR);
  ck_assert_uint_eq(hp_verify_heap(rt), 53);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt), 16);
  v = NULL;
  y = NULL;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* Two runtimes at once, sharing the static types: each heap keeps its own objects, roots
 * and statistics. */
START_TEST(test_two_runtimes) {
  hp_runtime *rt1 = t_runtime(NULL), *rt2 = t_runtime(NULL);
  t_types(rt1);
  t_types(rt2);
  hp_thread *t1 = hp_main_thread(rt1), *t2 = hp_main_thread(rt2);
  ck_assert_ptr_ne(t1, t2);
  ck_assert_uint_ne(t1->young_lo, t2->young_lo);
  node *x1 = NULL, *x2 = NULL;
  HP_ROOTS(t1, fr1, HP_SLOT(x1));
  HP_ROOTS(t2, fr2, HP_SLOT(x2));
  x1 = chain(t1, 30, 0);
  x2 = chain(t2, 45, 1000);
  for (int i = 0; i < 6; i++) {
    hp_collect(t1, i % 3 == 2 ? HP_GC_MAJOR : HP_GC_MINOR);
    hp_collect(t2, i % 2 ? HP_GC_MAJOR : HP_GC_MINOR);
    check_chain(x1, 30, 0);
    check_chain(x2, 45, 1000);
  }
  ck_assert_uint_eq(hp_verify_heap(rt1), 30);
  ck_assert_uint_eq(hp_verify_heap(rt2), 45);
  x1 = NULL;
  uint64_t f2 = t_stats(rt2).objects_freed;
  hp_collect(t1, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt1), 0);
  ck_assert_uint_eq(t_stats(rt2).objects_freed, f2);
  check_chain(x2, 45, 1000);
  HP_UNROOT(t2, fr2);
  HP_UNROOT(t1, fr1);
  hp_runtime_destroy(rt1);
  hp_collect(t2, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt2), 0);
  hp_runtime_destroy(rt2);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Registrations when memory is exhausted
 * ------------------------------------------------------------------------------------
 * Every registration (global root, range, callback, pin) returns -1 with ENOMEM when its
 * table cannot grow, and leaves the runtime as it was. The pools' whole reservation is taken
 * by hp_pool_alloc, largest blocks first (the reservation is address space: this commits
 * nothing but the blocks' first words), in this test's own process.
 */

typedef struct t_hoard { void **blocks; size_t n, cap; } t_hoard;

static void hoard_all(t_hoard *h) {
  for (size_t size = (size_t)1 << 36; size >= 16; size /= 2) {
    for (;;) {
      void *b = hp_pool_alloc(size);
      if (b == NULL) break;
      if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 4096;
        h->blocks = realloc(h->blocks, h->cap * sizeof *h->blocks);
        ck_assert_ptr_nonnull(h->blocks);
      }
      h->blocks[h->n++] = b;
    }
  }
}

static void hoard_free(t_hoard *h) {
  for (size_t i = 0; i < h->n; i++) hp_pool_free(h->blocks[i]);
  free(h->blocks);
  *h = (t_hoard){ 0 };
}

static void noop_roots(hp_visit_fn visit, void *ctx, void *data) { (void)visit; (void)ctx; (void)data; }

START_TEST(test_registration_oom) {
  hp_runtime *rt = t_runtime(NULL);
  t_types(rt);
  hp_thread *t = hp_main_thread(rt);
  static void *slot;
  static hp_root_range range;
  node *x = new_node(t, 7);                       /* in this thread's own buffer */
  slot = x;
  t_hoard h = { 0 };
  hoard_all(&h);
  ck_assert_uint_gt(h.n, 0);
  errno = 0;
  ck_assert_int_eq(hp_root_add(rt, &slot), -1);
  ck_assert_int_eq(errno, ENOMEM);
  errno = 0;
  ck_assert_int_eq(hp_root_range_add(rt, &range), -1);
  ck_assert_int_eq(errno, ENOMEM);
  errno = 0;
  ck_assert_int_eq(hp_root_callback_add(rt, noop_roots, NULL), -1);
  ck_assert_int_eq(errno, ENOMEM);
  errno = 0;
  ck_assert_int_eq(hp_pin(t, x), -1);
  ck_assert_int_eq(errno, ENOMEM);
  hoard_free(&h);
  /* Nothing was registered: removing fails, and a collection does not keep or fix x. */
  errno = 0;
  ck_assert_int_eq(hp_root_remove(rt, &slot), -1);
  ck_assert_int_eq(errno, ENOENT);
  errno = 0;
  ck_assert_int_eq(hp_root_range_remove(rt, &range), -1);
  ck_assert_int_eq(errno, ENOENT);
  errno = 0;
  ck_assert_int_eq(hp_root_callback_remove(rt, noop_roots, NULL), -1);
  ck_assert_int_eq(errno, ENOENT);
  errno = 0;
  ck_assert_int_eq(hp_unpin(t, x), -1);
  ck_assert_int_eq(errno, ENOENT);
  /* With memory back, the same calls work. */
  ck_assert_int_eq(hp_root_add(rt, &slot), 0);
  ck_assert_int_eq(hp_pin(t, x), 0);
  hp_collect(t, HP_GC_MINOR);
  ck_assert_ptr_eq(slot, x);                      /* pinned: not moved */
  check_node(slot, 7);
  ck_assert_int_eq(hp_unpin(t, x), 0);
  ck_assert_int_eq(hp_root_remove(rt, &slot), 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------ */

static Suite *suite(void) {
  Suite *s = suite_create("gc-api");
  TCase *tc;
  struct { const char *name; const TTest *fn; double timeout; } tests[] = {
#define T(f, to) { #f, f, to }
    T(test_roots_random_graph, 300), T(test_roots_frames_nested, 60), T(test_roots_frame, 60),
    T(test_roots_global, 60), T(test_roots_range, 60), T(test_roots_callback, 60),
    T(test_stats_young_reclaim, 60), T(test_stats_promoted_identity, 120), T(test_stats_old_live_exact, 60),
    T(test_stats_objects_freed_sizes, 60), T(test_stats_bytes_allocated, 60),
    T(test_tenure_exact_age, 60), T(test_tenure_adaptive, 60), T(test_survivor_overflow, 60),
    T(test_large_objects_never_move, 120), T(test_old_to_young_barrier, 60),
    T(test_deep_list, 600), T(test_deep_tree, 300),
    T(test_variable_size, 120), T(test_trace_tagged, 60), T(test_types_register, 60),
    T(test_zero_size_objects, 60), T(test_new_is_zeroed, 120),
    T(test_heap_limit_list, 300), T(test_heap_limit_large, 300), T(test_oom_handler_frees, 300),
    T(test_config_defaults, 60), T(test_config_env, 60), T(test_config_invalid, 60),
    T(test_events, 120), T(test_gc_log, 60), T(test_pause_stats, 60), T(test_verify_count, 60),
    T(test_two_runtimes, 60), T(test_registration_oom, 120),
#undef T
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    tc = tcase_create(tests[i].name);
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
