/* tools/gcbench/workloads.c -- the collector workloads, written once against the shim in
 * backend.h and built twice: gcbench-hp (-DBACKEND_HP) and gcbench-boehm (-DBACKEND_BOEHM).
 *
 * usage: gcbench-hp|gcbench-hp-cons|gcbench-boehm [--quick] [--threads N] [--depth D]
 *        [--gen-elems N] WORKLOAD
 *        WORKLOAD: gcbench, alloc, gen, stack, stackptr, mtalloc, mtgcbench, calib
 *        --gen-elems N: gen's table size (a power of two; 72 bytes live per element), for the
 *        report's pauses against live-heap size
 *
 * Runs one workload once, checks its result (exit 1 if wrong), and prints one line
 *   gcbench-result backend=hp workload=gcbench wall_ns=... rss_kb=... max_ns=... ...
 * that the driver (gcbench.c) parses. The line's keys are documented in gcbench.c.
 * hp's runtime takes its options from HP_* variables (hp_config_from_env): HP_GC_LOG=1
 * prints a line per collection; GCBENCH_HP_STATS=1 prints hp_gc_stats_print at the end.
 *
 * Workloads (written from their published descriptions):
 *   gcbench  Ellis, Kovac and Boehm's GCBench: a stretch tree of depth 18 built and dropped;
 *            a long-lived tree of depth 16 (built top-down) and an array of 500,000 doubles
 *            kept live; then for each depth d = 4, 6, ... 16, 2*TreeSize(18)/TreeSize(d)
 *            trees built top-down (allocate a node, then populate its children) and as many
 *            bottom-up (children first), each dropped at once. A node is two pointers and two
 *            ints (24 bytes: 32 with hp's header, 32 in Boehm's size class).
 *   alloc    N objects of 24 bytes (32 bytes in either heap) allocated, one field written,
 *            and dropped: the allocation fast path and the cost of collecting pure garbage.
 *   gen      a long-lived table: an array of 1M pointers (8 MB) to 1M objects of 56 bytes
 *            (64 MB), then M mutations, each replacing a random element with a new object
 *            (a young pointer stored into the old array: hp_write) while 10 short-lived
 *            32-byte objects, chained as a temporary list, stream through.
 *   stack    (stack-scan cost) recursion D frames deep (--depth), each frame with 14 words of
 *            integer locals, then K minor collections (Boehm: full ones) timed one by one at
 *            the bottom. The result line gives the stack depth in bytes, the pauses, and hp's
 *            stack-scan bytes and time over the K collections (scan_* keys).
 *   stackptr the same, each frame also holding a managed pointer to an object it allocated
 *            (in a shadow-stack frame too, for gcbench-hp): what the scan finds is pinned.
 *   mtalloc  N threads (--threads) each allocate alloc_mt_n objects of 24 bytes and drop them
 *            (one in 65,536 is kept on a per-thread list and checked at the end); the parallel
 *            phase is timed from a start barrier to the last join (phase_ns).
 *   mtgcbench the main thread builds GCBench's stretch tree (dropped), long-lived tree and array
 *            (kept by global roots); then N threads each run GCBench's per-thread part (for
 *            d = 4, 6, ... 16, NumIters(d) trees built top-down and as many bottom-up; the first
 *            of each is counted), timed from a start barrier to the last join.
 *   calib    no collector: N threads each zero 32 KiB chunks of a private 4 MiB buffer and store
 *            a word every 32 bytes, as much memory as mtalloc's threads allocate: the scaling
 *            the machine itself allows at that moment.
 * Every thread but the main one attaches (hp_thread_attach / GC_register_my_thread) and the
 * main thread waits for them inside a blocking region.
 */
#include "backend.h"

#include <pthread.h>
#include <stdbool.h>
#include <sys/resource.h>

/* ====================================================================================
 *  Parameters
 * ==================================================================================== */

typedef struct params {
  int stretch_depth, long_lived_depth, min_depth, max_depth;
  size_t array_size;                /* doubles kept live by gcbench */
  uint64_t alloc_n;                 /* objects allocated by alloc */
  uint32_t gen_elems;               /* elements of gen's table (a power of two) */
  uint64_t gen_mutations;
  int gen_garbage;                  /* short-lived objects per mutation */
  int stack_collections;            /* minor collections timed at the bottom of stack* */
  uint64_t alloc_mt_n;              /* objects allocated by each thread of mtalloc */
} params;

static const params full_params = {
  .stretch_depth = 18, .long_lived_depth = 16, .min_depth = 4, .max_depth = 16,
  .array_size = 500000,
  .alloc_n = 100000000,
  .gen_elems = 1u << 20, .gen_mutations = 5000000, .gen_garbage = 10,
  .stack_collections = 200,
  .alloc_mt_n = 40000000,
};

static const params quick_params = {
  .stretch_depth = 16, .long_lived_depth = 14, .min_depth = 4, .max_depth = 14,
  .array_size = 100000,
  .alloc_n = 5000000,
  .gen_elems = 1u << 17, .gen_mutations = 600000, .gen_garbage = 10,
  .stack_collections = 20,
  .alloc_mt_n = 2000000,
};

static params P;
static bool quick;
static int nthreads = 1;                          /* --threads */
static int stack_depth;                           /* --depth */
static int live_mb;                               /* --live: oldtable's live heap (MB) */
static uint64_t phase_ns;                         /* the timed parallel phase, 0 if none */
static uint64_t stack_depth_bytes;                /* stack*: bytes between top and bottom frames */

static _Noreturn void fail(const char *what) {
  fprintf(stderr, "gcbench-%s: check failed: %s\n", GB_NAME, what);
  exit(1);
}

/* ====================================================================================
 *  Objects
 * ==================================================================================== */

typedef struct node {
  struct node *left, *right;
  int32_t i, j;
} node;
static const uint32_t node_offsets[] = { offsetof(node, left), offsetof(node, right) };
static gb_type node_type = GB_TYPE("node", sizeof(node), node_offsets, 2);

typedef struct elem {
  void *link;                       /* one of the permanent objects: an old-to-old pointer */
  int64_t key;
  int64_t data[5];
} elem;
static const uint32_t elem_offsets[] = { offsetof(elem, link) };
static gb_type elem_type = GB_TYPE("elem", sizeof(elem), elem_offsets, 1);

/* ====================================================================================
 *  GCBench
 * ==================================================================================== */

static long tree_size(int depth) { return (1L << (depth + 1)) - 1; }
static long num_iters(int depth) { return 2 * tree_size(P.stretch_depth) / tree_size(depth); }

/* Gives n (a node) two fresh children, recursively, to `depth` levels: top-down. n may be old
 * by the time its children are stored (a collection may run at any allocation), hence the
 * barrier. */
static void populate(int depth, node *n) {
  if (depth <= 0) return;
  depth--;
  GB_ROOTS(f, GB_SLOT(n));
  node *c = gb_new(&node_type);
  gb_write(n, &n->left, c);
  c = gb_new(&node_type);
  gb_write(n, &n->right, c);
  populate(depth, n->left);
  populate(depth, n->right);
  GB_UNROOT(f);
}

/* A tree of `depth` levels below its root, built bottom-up: children first. */
static node *make_tree(int depth) {
  if (depth <= 0) return gb_new(&node_type);
  node *l = make_tree(depth - 1), *r = NULL;
  GB_ROOTS(f, GB_SLOT(l), GB_SLOT(r));
  r = make_tree(depth - 1);
  node *n = gb_new(&node_type);
  n->left = l;                      /* initialising a fresh object: no barrier */
  n->right = r;
  GB_UNROOT(f);
  return n;
}

static long count_nodes(const node *n) {
  return n == NULL ? 0 : 1 + count_nodes(n->left) + count_nodes(n->right);
}

static node *long_lived_tree;
static double *long_lived_array;

static void time_construction(int depth) {
  long iters = num_iters(depth);
  for (long i = 0; i < iters; i++) populate(depth, gb_new(&node_type));
  for (long i = 0; i < iters; i++) {
    node *t = make_tree(depth);
    __asm__ volatile("" : : "r"(t));
  }
}

static uint64_t run_gcbench(void) {
  gb_register(&node_type);
  gb_track_scan = getenv("GCBENCH_NO_SCAN_SPLIT") == NULL;  /* minor/major split of hp's scan */
  gb_root(&long_lived_tree);
  gb_root(&long_lived_array);
  node *stretch = make_tree(P.stretch_depth);            /* built, then dropped */
  if (count_nodes(stretch) != tree_size(P.stretch_depth)) fail("stretch tree size");
  stretch = NULL;

  long_lived_tree = gb_new(&node_type);
  populate(P.long_lived_depth, long_lived_tree);
  long_lived_array = gb_new_doubles(P.array_size);
  for (size_t i = 0; i < P.array_size; i++) long_lived_array[i] = 1.0 / (double)(i + 1);

  uint64_t nodes = (uint64_t)tree_size(P.stretch_depth) + (uint64_t)tree_size(P.long_lived_depth);
  for (int d = P.min_depth; d <= P.max_depth; d += 2) {
    time_construction(d);
    nodes += 2 * (uint64_t)num_iters(d) * (uint64_t)tree_size(d);
  }

  if (count_nodes(long_lived_tree) != tree_size(P.long_lived_depth)) fail("long-lived tree size");
  for (size_t i = 0; i < P.array_size; i += 997)
    if (long_lived_array[i] != 1.0 / (double)(i + 1)) fail("long-lived array contents");
  return nodes;
}

/* ====================================================================================
 *  Allocation rate
 * ==================================================================================== */

static uint64_t run_alloc(void) {
  gb_register(&node_type);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < P.alloc_n; i++) {
    node *n = gb_new(&node_type);
    n->i = (int32_t)i;
    sum += (uint64_t)n->j;                                /* zeroed: 0 */
    __asm__ volatile("" : : "r"(n));
  }
  if (sum != 0) fail("objects are not zeroed");
  return P.alloc_n;
}

/* ====================================================================================
 *  Generational: a long-lived table mutated at random under a stream of garbage
 * ==================================================================================== */

#define GEN_PERM 1024                                     /* permanent objects elements link to */

static void **gen_table;
static void **gen_perm;

/* xorshift64* (Vigna); a value in [0, n) for n a power of two. */
static inline uint64_t rng_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t run_gen(void) {
  gb_register(&node_type);
  gb_register(&elem_type);
  gb_root(&gen_table);
  gb_root(&gen_perm);
  uint32_t n = P.gen_elems;
  uint32_t *expect = malloc(n * sizeof *expect);          /* not managed, not scanned */
  if (expect == NULL) fail("malloc");

  gen_perm = gb_new_ptrs(GEN_PERM);
  for (uint32_t k = 0; k < GEN_PERM; k++) {
    node *p = gb_new(&node_type);
    p->i = (int32_t)k;
    gb_write(gen_perm, &gen_perm[k], p);
  }
  gen_table = gb_new_ptrs(n);
  for (uint32_t k = 0; k < n; k++) {
    elem *e = gb_new(&elem_type);
    e->key = k;
    e->link = gen_perm[k % GEN_PERM];
    e->data[1] = k % GEN_PERM;
    gb_write(gen_table, &gen_table[k], e);
    expect[k] = k;
  }

  uint64_t rng = 0x9E3779B97F4A7C15ull;
  node *tmp = NULL;
  GB_ROOTS(f, GB_SLOT(tmp));
  for (uint64_t m = 0; m < P.gen_mutations; m++) {
    tmp = NULL;                                           /* a short-lived temporary list */
    for (int g = 0; g < P.gen_garbage; g++) {
      node *x = gb_new(&node_type);
      x->left = tmp;
      x->i = g;
      tmp = x;
    }
    uint64_t r = rng_next(&rng);
    uint32_t k = (uint32_t)(r >> 32) & (n - 1);
    elem *e = gb_new(&elem_type);
    e->key = (int64_t)(n + m);
    e->link = gen_perm[(r >> 8) % GEN_PERM];
    e->data[0] = tmp->i;                                  /* read the list: it was live */
    e->data[1] = (int64_t)((r >> 8) % GEN_PERM);
    gb_write(gen_table, &gen_table[k], e);
    expect[k] = (uint32_t)(n + m);
  }
  tmp = NULL;
  GB_UNROOT(f);

  for (uint32_t k = 0; k < n; k++) {
    elem *e = gen_table[k];
    if (e == NULL || e->key != expect[k]) fail("table contents");
    if (e->link != gen_perm[e->data[1]]) fail("element link");
    if (((node *)e->link)->i != e->data[1]) fail("permanent object");
  }
  free(expect);
  return P.gen_mutations;
}


/* ====================================================================================
 *  Old table: a large, mostly-live old generation under steady old-to-young stores
 * ==================================================================================== */

/* A table of records, about --live MB in all, each record holding a chain of OT_CHAIN fresh
 * nodes; 3 records per slot are made in all, each replacing a record at random: almost
 * everything allocated survives its minor collections, and the table (old) receives a young
 * pointer at every step. */
#define OT_CHAIN 8
typedef struct rec {
  node *chain;
  int64_t key, sum;
} rec;
static const uint32_t rec_offsets[] = { offsetof(rec, chain) };
static gb_type rec_type = GB_TYPE("rec", sizeof(rec), rec_offsets, 1);
static void **ot_table;

static rec *ot_record(int64_t key) {
  node *c = NULL;
  rec *r = NULL;
  GB_ROOTS(f, GB_SLOT(c), GB_SLOT(r));
  for (int j = 0; j < OT_CHAIN; j++) {
    node *x = gb_new(&node_type);
    x->left = c;                                          /* a fresh object: no barrier */
    x->i = j;
    x->j = (int32_t)key;
    c = x;
  }
  r = gb_new(&rec_type);
  r->chain = c;
  r->key = key;
  r->sum = key * OT_CHAIN;
  GB_UNROOT(f);
  return r;
}

static uint64_t run_oldtable(void) {
  gb_register(&node_type);
  gb_register(&rec_type);
  gb_root(&ot_table);
  /* Bytes per record: 9 objects of 32 bytes (header included) and the table slot. */
  size_t mb = live_mb > 0 ? (size_t)live_mb : quick ? 16 : 70;
  size_t n = (mb << 20) / (32 * (OT_CHAIN + 1) + 8);
  int64_t *expect = malloc(n * sizeof *expect);           /* not managed, not scanned */
  if (expect == NULL) fail("malloc");
  ot_table = gb_new_ptrs(n);
  for (size_t k = 0; k < n; k++) {
    rec *r = ot_record((int64_t)k);
    gb_write(ot_table, &ot_table[k], r);
    expect[k] = (int64_t)k;
  }
  uint64_t rng = 0x9E3779B97F4A7C15ull, steps = 3 * (uint64_t)n;
  for (uint64_t m = 0; m < steps; m++) {
    size_t k = (size_t)(rng_next(&rng) % n);
    int64_t key = (int64_t)(n + m);
    rec *r = ot_record(key);
    gb_write(ot_table, &ot_table[k], r);
    expect[k] = key;
  }
  for (size_t k = 0; k < n; k++) {
    rec *r = ot_table[k];
    if (r == NULL || r->key != expect[k]) fail("table contents");
    int64_t sum = 0;
    int len = 0;
    for (node *x = r->chain; x; x = x->left, len++) sum += x->j == (int32_t)r->key ? 1 : 0;
    if (len != OT_CHAIN || sum != OT_CHAIN) fail("record chain");
  }
  free(expect);
  return n + steps;
}

/* ====================================================================================
 *  Stack-scan cost: a deep stack, then minor collections
 * ==================================================================================== */

#define STACK_LOCALS 14

static uintptr_t stack_top;                       /* the address of a local of the top frame */
static gb_pauses stack_pauses;                    /* the K collections at the bottom */
static uint64_t stack_first_ns;                   /* the first of them (eden candidates) */
static uint64_t stack_scan_bytes, stack_scan_ns;  /* hp's counters over the K collections */

__attribute__((noinline)) static uint64_t stack_bottom(void) {
  volatile char here;
  stack_depth_bytes = stack_top - (uintptr_t)&here;
  uint64_t b0, n0, b1, n1;
  gb_stack_stats(&b0, &n0);
  size_t first = gb_log.len;
  for (int k = 0; k < P.stack_collections; k++) gb_collect_minor();
  gb_stack_stats(&b1, &n1);
  /* The pauses as each collector logs them (hp: pause_ns; Boehm: GC_EVENT_START..END). */
  if (gb_log.len - first != (size_t)P.stack_collections) fail("one logged pause per collection");
  stack_first_ns = gb_log.ns[first];
  for (size_t k = first; k < gb_log.len; k++) gb_pauses_add(&stack_pauses, gb_log.ns[k]);
  stack_scan_bytes = b1 - b0;
  stack_scan_ns = n1 - n0;
  return 1;
}

/* One frame: integer locals the scan must read and reject, and with `ptrs` a managed object
 * that only this frame holds (checked on the way back up: it must have survived every
 * collection unmoved or moved, with its contents). */
__attribute__((noinline)) static uint64_t stack_frame(int depth, bool ptrs) {
  volatile uint64_t loc[STACK_LOCALS];
  for (int i = 0; i < STACK_LOCALS; i++) loc[i] = (uint64_t)depth * STACK_LOCALS + (uint64_t)i;
  node *obj = NULL;
  GB_ROOTS(f, GB_SLOT(obj));
  if (ptrs) {
    obj = gb_new(&node_type);
    obj->i = depth;
    obj->j = ~depth;
  }
  uint64_t r = depth > 0 ? stack_frame(depth - 1, ptrs) : stack_bottom();
  if (ptrs && (obj->i != depth || obj->j != ~depth)) fail("an object held by a stack frame");
  for (int i = 0; i < STACK_LOCALS; i++) r += loc[i];
  GB_UNROOT(f);
  return r;
}

static uint64_t run_stack(bool ptrs) {
  gb_register(&node_type);
  volatile char top;
  stack_top = (uintptr_t)&top;
  uint64_t r = stack_frame(stack_depth, ptrs);
  /* sum over frames d = 0..D of sum_i (d*L + i), plus 1 from the bottom */
  uint64_t d1 = (uint64_t)stack_depth + 1, L = STACK_LOCALS;
  uint64_t expect = 1 + L * L * ((uint64_t)stack_depth * d1 / 2) + d1 * (L * (L - 1) / 2);
  if (r != expect) fail("stack frame locals");
  return (uint64_t)P.stack_collections;
}

/* ====================================================================================
 *  Threads
 * ==================================================================================== */

typedef struct worker {
  pthread_t tid;
  int id;
  uint64_t ops;                     /* objects (mtalloc) or nodes (mtgcbench) allocated */
  bool ok;
} worker;

static pthread_barrier_t start_barrier;

/* Runs body on nthreads attached threads, all released at once; returns the sum of their
 * ops. The main thread waits in a blocking region: hp's collections do not wait for it. */
static uint64_t run_threads(void *(*body)(void *)) {
  worker *w = calloc((size_t)nthreads, sizeof *w);
  if (w == NULL) fail("calloc");
  gb_threads_init();
  if (pthread_barrier_init(&start_barrier, NULL, (unsigned)nthreads + 1) != 0) fail("pthread_barrier_init");
  for (int i = 0; i < nthreads; i++) {
    w[i].id = i;
    if (pthread_create(&w[i].tid, NULL, body, &w[i]) != 0) fail("pthread_create");
  }
  gb_blocking_enter();
  pthread_barrier_wait(&start_barrier);
  uint64_t t0 = gb_now_ns();
  for (int i = 0; i < nthreads; i++) pthread_join(w[i].tid, NULL);
  phase_ns = gb_now_ns() - t0;
  gb_blocking_leave();
  pthread_barrier_destroy(&start_barrier);
  uint64_t ops = 0;
  for (int i = 0; i < nthreads; i++) {
    if (!w[i].ok) fail("a thread's check");
    ops += w[i].ops;
  }
  free(w);
  return ops;
}

/* The start of a worker: attach, then wait for the others outside the heap. */
static void worker_start(void) {
  gb_thread_begin();
  gb_blocking_enter();
  pthread_barrier_wait(&start_barrier);
  gb_blocking_leave();
}

/* ---- mtalloc ---- */

#define MT_KEEP_EVERY 65536

static void *mt_alloc_body(void *arg) {
  worker *w = arg;
  worker_start();
  uint64_t n = P.alloc_mt_n, sum = 0;
  node *keep = NULL;                                     /* every 65,536th object, chained */
  GB_ROOTS(f, GB_SLOT(keep));
  for (uint64_t i = 0; i < n; i++) {
    node *x = gb_new(&node_type);
    x->i = (int32_t)i;
    sum += (uint64_t)x->j;                                /* zeroed: 0 */
    if ((i & (MT_KEEP_EVERY - 1)) == 0) {
      x->left = keep;                                     /* x is new: no barrier */
      keep = x;
    }
    __asm__ volatile("" : : "r"(x));
  }
  uint64_t expect_i = (n - 1) & ~(uint64_t)(MT_KEEP_EVERY - 1), count = 0;
  bool ok = sum == 0;
  for (node *x = keep; x; x = x->left, count++) {
    if ((uint64_t)(uint32_t)x->i != (uint32_t)expect_i) ok = false;
    expect_i -= MT_KEEP_EVERY;
  }
  if (count != (n + MT_KEEP_EVERY - 1) / MT_KEEP_EVERY) ok = false;
  keep = NULL;
  GB_UNROOT(f);
  w->ops = n;
  w->ok = ok;
  gb_thread_end();
  return NULL;
}

static uint64_t run_mtalloc(void) {
  gb_register(&node_type);
  return run_threads(mt_alloc_body);
}

/* ---- calib: the machine's own scaling, no collector ---- */

/* What mtalloc's allocation does to memory, without a collector: each thread zeroes 32 KiB
 * chunks of a private 4 MiB buffer (malloc'ed: neither collector sees it) and stores one word
 * every 32 bytes, as many chunks as mtalloc's objects fill. Run with the same thread counts
 * it gives the scaling this machine allows at that moment (other processes included). */
static void *calib_body(void *arg) {
  worker *w = arg;
  pthread_barrier_wait(&start_barrier);                   /* not attached: never touches the heap */
  size_t size = (size_t)4 << 20, chunk = (size_t)32 << 10;
  char *buf = malloc(size);
  if (buf == NULL) { w->ok = false; return NULL; }
  uint64_t chunks = P.alloc_mt_n * 32 / chunk, sum = 0;
  for (uint64_t i = 0; i < chunks; i++) {
    char *c = buf + (i * chunk) % size;
    memset(c, 0, chunk);
    for (size_t k = 0; k < chunk; k += 32) *(volatile uint64_t *)(c + k) = k;
    sum += *(volatile uint64_t *)(c + chunk - 32);
  }
  free(buf);
  w->ops = chunks * (chunk / 32);
  w->ok = sum == chunks * (chunk - 32);
  return NULL;
}

static uint64_t run_calib(void) { return run_threads(calib_body); }

/* ---- mtgcbench ---- */

/* Builds one tree top-down and returns whether it has the right size (when asked). */
static bool top_down_checked(int depth, bool check) {
  node *root = NULL;
  GB_ROOTS(f, GB_SLOT(root));
  root = gb_new(&node_type);
  populate(depth, root);
  bool ok = !check || count_nodes(root) == tree_size(depth);
  GB_UNROOT(f);
  return ok;
}

static void *mt_gcbench_body(void *arg) {
  worker *w = arg;
  worker_start();
  bool ok = true;
  uint64_t nodes = 0;
  for (int d = P.min_depth; d <= P.max_depth; d += 2) {
    long iters = num_iters(d);
    for (long i = 0; i < iters; i++) ok &= top_down_checked(d, i == 0);
    for (long i = 0; i < iters; i++) {
      node *t = make_tree(d);
      if (i == 0 && count_nodes(t) != tree_size(d)) ok = false;
      __asm__ volatile("" : : "r"(t));
    }
    nodes += 2 * (uint64_t)iters * (uint64_t)tree_size(d);
  }
  w->ops = nodes;
  w->ok = ok;
  gb_thread_end();
  return NULL;
}

static uint64_t run_mtgcbench(void) {
  gb_register(&node_type);
  gb_track_scan = getenv("GCBENCH_NO_SCAN_SPLIT") == NULL;
  gb_root(&long_lived_tree);
  gb_root(&long_lived_array);
  node *stretch = make_tree(P.stretch_depth);            /* built, then dropped */
  if (count_nodes(stretch) != tree_size(P.stretch_depth)) fail("stretch tree size");
  stretch = NULL;
  long_lived_tree = gb_new(&node_type);
  populate(P.long_lived_depth, long_lived_tree);
  long_lived_array = gb_new_doubles(P.array_size);
  for (size_t i = 0; i < P.array_size; i++) long_lived_array[i] = 1.0 / (double)(i + 1);

  uint64_t nodes = run_threads(mt_gcbench_body);

  if (count_nodes(long_lived_tree) != tree_size(P.long_lived_depth)) fail("long-lived tree size");
  for (size_t i = 0; i < P.array_size; i += 997)
    if (long_lived_array[i] != 1.0 / (double)(i + 1)) fail("long-lived array contents");
  return nodes + (uint64_t)tree_size(P.stretch_depth) + (uint64_t)tree_size(P.long_lived_depth);
}

/* ====================================================================================
 *  Main
 * ==================================================================================== */

int main(int argc, char **argv) {
  P = full_params;
  const char *workload = NULL;
  unsigned long gen_elems = 0;                          /* --gen-elems: 0, the default */
  static const char usage[] = "usage: %s [--quick] [--threads N] [--depth D] [--gen-elems 2^k, 1024..2^26] "
                              "[--live MB] gcbench|alloc|gen|stack|stackptr|mtalloc|mtgcbench|calib|oldtable\n";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) { P = quick_params; quick = true; }
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) nthreads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc) stack_depth = atoi(argv[++i]);
    else if (strcmp(argv[i], "--gen-elems") == 0 && i + 1 < argc) gen_elems = strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--live") == 0 && i + 1 < argc) live_mb = atoi(argv[++i]);
    else if (argv[i][0] != '-' && workload == NULL) workload = argv[i];
    else { fprintf(stderr, usage, argv[0]); return 2; }
  }
  if (workload == NULL || nthreads < 1 || nthreads > 64 || stack_depth < 0 || stack_depth > 100000 ||
      (gen_elems != 0 && (gen_elems < 1024 || gen_elems > (1ul << 26) || (gen_elems & (gen_elems - 1))))) {
    fprintf(stderr, usage, argv[0]);
    return 2;
  }
  if (gen_elems) P.gen_elems = (uint32_t)gen_elems;

  uint64_t t0 = gb_now_ns();
  gb_init();
  uint64_t ops;
  if (strcmp(workload, "gcbench") == 0) ops = run_gcbench();
  else if (strcmp(workload, "alloc") == 0) ops = run_alloc();
  else if (strcmp(workload, "gen") == 0) ops = run_gen();
  else if (strcmp(workload, "stack") == 0) ops = run_stack(false);
  else if (strcmp(workload, "stackptr") == 0) ops = run_stack(true);
  else if (strcmp(workload, "mtalloc") == 0) ops = run_mtalloc();
  else if (strcmp(workload, "calib") == 0) ops = run_calib();
  else if (strcmp(workload, "mtgcbench") == 0) ops = run_mtgcbench();
  else if (strcmp(workload, "oldtable") == 0) ops = run_oldtable();
  else { fprintf(stderr, "%s: unknown workload %s\n", argv[0], workload); return 2; }
  uint64_t wall = gb_now_ns() - t0;

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  size_t npauses = gb_log.len;
  uint64_t p50 = gb_quantile(gb_log.ns, npauses, 0.50);
  uint64_t p99 = gb_quantile(gb_log.ns, npauses, 0.99);
  uint64_t max = npauses ? gb_log.ns[npauses - 1] : 0;   /* sorted by gb_quantile */
  uint64_t cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
                 (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
  printf("gcbench-result backend=%s version=%s workload=%s quick=%d wall_ns=%llu cpu_ns=%llu ops=%llu"
         " rss_kb=%ld pauses=%zu max_ns=%llu p50_ns=%llu p99_ns=%llu",
         GB_NAME, gb_version(), workload, quick,
         (unsigned long long)wall, (unsigned long long)cpu, (unsigned long long)ops, ru.ru_maxrss, npauses,
         (unsigned long long)max, (unsigned long long)p50, (unsigned long long)p99);
  printf(" threads=%d phase_ns=%llu", nthreads, (unsigned long long)phase_ns);
  if (stack_pauses.len) {
    uint64_t total = stack_pauses.total_ns;
    size_t k = stack_pauses.len;
    printf(" depth=%d stack_depth_bytes=%llu coll_first_ns=%llu coll_mean_ns=%llu coll_p50_ns=%llu"
           " scan_bytes_per_coll=%llu scan_ns_per_coll=%llu",
           stack_depth, (unsigned long long)stack_depth_bytes, (unsigned long long)stack_first_ns,
           (unsigned long long)(total / k), (unsigned long long)gb_quantile(stack_pauses.ns, k, 0.5),
           (unsigned long long)(stack_scan_bytes / k), (unsigned long long)(stack_scan_ns / k));
  }
  gb_report(stdout);
  printf("\n");
  return 0;
}
