/* tools/gcbench/workloads.c -- the collector workloads, written once against the shim in
 * backend.h and built twice: gcbench-hp (-DBACKEND_HP) and gcbench-boehm (-DBACKEND_BOEHM).
 *
 * usage: gcbench-hp|gcbench-boehm [--quick] WORKLOAD      WORKLOAD: gcbench, alloc, gen
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
 */
#include "backend.h"

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
} params;

static const params full_params = {
  .stretch_depth = 18, .long_lived_depth = 16, .min_depth = 4, .max_depth = 16,
  .array_size = 500000,
  .alloc_n = 100000000,
  .gen_elems = 1u << 20, .gen_mutations = 5000000, .gen_garbage = 10,
};

static const params quick_params = {
  .stretch_depth = 16, .long_lived_depth = 14, .min_depth = 4, .max_depth = 14,
  .array_size = 100000,
  .alloc_n = 5000000,
  .gen_elems = 1u << 17, .gen_mutations = 600000, .gen_garbage = 10,
};

static params P;
static bool quick;

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
 *  Main
 * ==================================================================================== */

int main(int argc, char **argv) {
  P = full_params;
  const char *workload = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) { P = quick_params; quick = true; }
    else if (argv[i][0] != '-' && workload == NULL) workload = argv[i];
    else { fprintf(stderr, "usage: %s [--quick] gcbench|alloc|gen\n", argv[0]); return 2; }
  }
  if (workload == NULL) { fprintf(stderr, "usage: %s [--quick] gcbench|alloc|gen\n", argv[0]); return 2; }

  uint64_t t0 = gb_now_ns();
  gb_init();
  uint64_t ops;
  if (strcmp(workload, "gcbench") == 0) ops = run_gcbench();
  else if (strcmp(workload, "alloc") == 0) ops = run_alloc();
  else if (strcmp(workload, "gen") == 0) ops = run_gen();
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
  gb_report(stdout);
  printf("\n");
  return 0;
}
