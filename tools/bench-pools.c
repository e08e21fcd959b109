/* tools/bench-pools.c -- hp's pools against glibc malloc, mimalloc and jemalloc, in one run.
 *
 * usage: bench-pools [--quick] [--reps N] [--only LIST] [--backends LIST] [--retries N]
 *                    [--no-wait] [-v]
 *   --quick      a smoke run of every workload on every back end in a few seconds
 *   --reps N     repetitions per figure (the median is reported); default 5 (quick: 3)
 *   --only LIST  comma-separated workloads: pair,batch,churn-small,churn-medium,churn-large,
 *                xthread,scale,rss,release (default: all)
 *   --backends LIST  comma-separated: hp,glibc,mimalloc,jemalloc (default: all built in)
 *   --retries N  run a workload again, up to N times, if other processes used more than 0.1
 *                CPU meanwhile (default 3; quick: 0)
 *   --no-wait    do not wait for a quiet machine before each workload
 *   -v           print every repetition, and hp's own statistics in the memory workloads
 *   --raw FILE   also write every median as one line of key=value pairs (workload, backend,
 *                value, unit, reps, load: other processes' CPUs), for `hp-dev report`
 * It prints the results as markdown tables (stdout) and its progress on stderr. It exits
 * non-zero if a back end is not what it claims, or a block did not keep what was written.
 *
 * Each workload is written once, against the back-end shim `backend` (alloc, free, name). The
 * timed loops are static inline functions instantiated once per back end (INSTANTIATE), so that
 * the calls in them are direct: hp_pool_alloc and mi_malloc are called as an embedder calls them;
 * glibc's and jemalloc's malloc, reached through dlsym, cost one indirect call (as a PLT does).
 *
 * Which malloc is which. Debian's libjemalloc and libmimalloc both export malloc and free, so
 * linking them makes the process's `malloc` one of them (symbol interposition). No measurement
 * calls plain malloc: glibc's malloc/free are looked up in libc.so.6's own handle, jemalloc's
 * in libjemalloc's handle, and mimalloc is called as mi_malloc/mi_free. verify_backends()
 * checks at start-up, by each allocator's own bookkeeping, that every back end is what it
 * claims (see there), and the run stops if one is not.
 *
 * Workloads (ns per operation: an alloc+free pair, or one churn step = one free + one alloc):
 *   pair      alloc+free of 32 B, same thread, in a tight loop
 *   batch     1000 random 8-128 B blocks allocated, then freed in the same (FIFO) order
 *   churn-*   ~64K blocks live, each step frees a random one and allocates a new random size:
 *             small 8-128 B, medium 129-2048 B, large 2049-65536 B
 *   xthread   one thread allocates 64 B blocks, another frees them (through an SPSC ring)
 *   scale     2 threads running thread-local pair / small churn vs 1 thread: throughput ratio
 *             (the churn keeps 4K blocks per thread live, so that it fits each core's L2 and
 *             measures the allocator rather than the shared L3 and memory of the machine)
 *   rss       churn 8-1000 B (every byte written): resident bytes over live requested bytes
 *   release   ~200 MB of 8-1000 B blocks freed in random order (and again in allocation
 *             order): resident bytes 1 s later, with no trim call, as % of the peak
 * Every block is written after allocation (its first 8 bytes; all its bytes in rss and
 * release), as a program would. The memory workloads run each back end in a fresh process
 * (this program re-executed with --child), so that one allocator's memory cannot serve or
 * pollute another's.
 */
#include <hp.h>
#include "bench-common.h"

#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#ifdef HAVE_MIMALLOC
#include <mimalloc.h>
#endif
#ifdef HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#ifndef BENCH_BUILDTYPE
#define BENCH_BUILDTYPE "unknown"
#endif
#ifndef BENCH_HP_DEBUG
#define BENCH_HP_DEBUG -1
#endif
#ifndef BENCH_HP_STATS
#define BENCH_HP_STATS -1
#endif

/* ====================================================================================
 *  Parameters
 * ==================================================================================== */

typedef struct params {
  int reps, child_reps;
  long pair_n;                   /* pairs per repetition */
  long batches;                  /* batches of BATCH per repetition */
  uint32_t churn_live;           /* live blocks in churn (a power of two, <= 65536) */
  long churn_steps[3];           /* steps per repetition: small, medium, large */
  long xthread_n;                /* pairs per repetition */
  long scale_pair_n, scale_churn_n; /* per thread */
  uint32_t scale_live;           /* live blocks per thread in the scaling churn */
  uint32_t rss_live;             /* live blocks in the rss workload (power of two) */
  long rss_steps;
  size_t release_bytes;          /* requested bytes allocated before freeing all */
  double release_wait_s;
} params;

static const params full_params = {
  .reps = 5, .child_reps = 3,
  .pair_n = 20000000, .batches = 20000,
  .churn_live = 65536, .churn_steps = { 4000000, 2000000, 200000 },
  .xthread_n = 5000000,
  .scale_pair_n = 20000000, .scale_churn_n = 4000000, .scale_live = 4096,
  .rss_live = 65536, .rss_steps = 2000000,
  .release_bytes = (size_t)200 << 20, .release_wait_s = 1.0,
};

static const params quick_params = {
  .reps = 3, .child_reps = 1,
  .pair_n = 300000, .batches = 300,
  .churn_live = 4096, .churn_steps = { 100000, 50000, 5000 },
  .xthread_n = 100000,
  .scale_pair_n = 300000, .scale_churn_n = 100000, .scale_live = 4096,
  .rss_live = 4096, .rss_steps = 50000,
  .release_bytes = (size_t)16 << 20, .release_wait_s = 1.0,
};

static params P;
static bool verbose, quick;

#define BATCH 1000
#define RING_SIZE 1024                   /* SPSC ring slots (a power of two) */

static _Noreturn void die(const char *fmt, const char *arg) {
  fprintf(stderr, "bench-pools: ");
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  exit(1);
}

/* Anonymous memory for the benchmark's own arrays, so that they come from no back end. */
static void *bench_map(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap failed: %s", strerror(errno));
  memset(p, 0, bytes);                    /* resident now: part of any RSS baseline */
  return p;
}

static void bench_unmap(void *p, size_t bytes) { munmap(p, bytes); }

/* ====================================================================================
 *  Back ends
 * ==================================================================================== */

typedef struct backend {
  const char *name;
  void *(*alloc)(size_t);
  void (*free)(void *);
  size_t (*usable)(void *);              /* usable size of a block (not on a timed path) */
} backend;

/* ---- hp: linked statically, called directly ---- */
static size_t hp_usable(void *p) { return hp_pool_usable_size(p); }
static const backend be_hp = { "hp", hp_pool_alloc, hp_pool_free, hp_usable };

/* ---- glibc: malloc/free of libc.so.6 itself, whatever the process's malloc is ---- */
static void *(*libc_malloc)(size_t);
static void (*libc_free)(void *);
static size_t (*libc_usable)(void *);
static struct mallinfo2 (*libc_mallinfo2)(void);
static void *glibc_alloc(size_t n) { return libc_malloc(n); }
static void glibc_free(void *p) { libc_free(p); }
static size_t glibc_usable(void *p) { return libc_usable(p); }
static const backend be_glibc = { "glibc", glibc_alloc, glibc_free, glibc_usable };

#ifdef HAVE_MIMALLOC
static size_t mimalloc_usable(void *p) { return mi_usable_size(p); }
static const backend be_mimalloc = { "mimalloc", mi_malloc, mi_free, mimalloc_usable };
#endif

#ifdef HAVE_JEMALLOC
/* jemalloc's malloc/free, looked up in libjemalloc's handle: its malloc has the tcache fast
 * path, which mallocx (the non-standard entry point) does not take in jemalloc 5.3. */
static void *(*je_malloc_fn)(size_t);
static void (*je_free_fn)(void *);
static size_t (*je_usable_fn)(void *);
static void *jemalloc_alloc(size_t n) { return je_malloc_fn(n); }
static void jemalloc_free(void *p) { je_free_fn(p); }
static size_t jemalloc_usable(void *p) { return je_usable_fn(p); }
static const backend be_jemalloc = { "jemalloc", jemalloc_alloc, jemalloc_free, jemalloc_usable };
#endif

/* Looks sym up in the shared object that defines `anchor`, and checks (dladdr) that the
 * result is defined in that object and not resolved elsewhere. */
static void *lookup_in(const void *anchor, const char *sym, const char **lib) {
  Dl_info info;
  if (!dladdr(anchor, &info) || info.dli_fname == NULL) die("dladdr failed for %s", sym);
  void *h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  if (h == NULL) die("dlopen(RTLD_NOLOAD) failed: %s", dlerror());
  void *f = dlsym(h, sym);
  if (f == NULL) die("dlsym failed for %s", sym);
  Dl_info fi;
  if (!dladdr(f, &fi) || strcmp(fi.dli_fname, info.dli_fname) != 0)
    die("%s was not resolved in the expected library", sym);
  if (lib) *lib = info.dli_fname;
  return f;
}

static const char *libc_path;
#ifdef HAVE_JEMALLOC
static const char *jemalloc_path;
#endif

static void setup_backends(void) {
  void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  if (libc == NULL) die("dlopen(libc.so.6) failed: %s", dlerror());
  void *anchor = dlsym(libc, "gnu_get_libc_version");
  libc_malloc = (void *(*)(size_t))lookup_in(anchor, "malloc", &libc_path);
  libc_free = (void (*)(void *))lookup_in(anchor, "free", NULL);
  libc_usable = (size_t (*)(void *))lookup_in(anchor, "malloc_usable_size", NULL);
  libc_mallinfo2 = (struct mallinfo2 (*)(void))lookup_in(anchor, "mallinfo2", NULL);
#ifdef HAVE_JEMALLOC
  je_malloc_fn = (void *(*)(size_t))lookup_in((const void *)mallctl, "malloc", &jemalloc_path);
  je_free_fn = (void (*)(void *))lookup_in((const void *)mallctl, "free", NULL);
  je_usable_fn = (size_t (*)(void *))lookup_in((const void *)mallctl, "malloc_usable_size", NULL);
#endif
}

/* ====================================================================================
 *  The timed loops, written once; instantiated per back end below
 * ==================================================================================== */

static _Noreturn BENCH_NOINLINE void out_of_memory(const backend *b) { die("%s: allocation failed", b->name); }

#define ALLOC(b, n, p)                                              \
  do {                                                              \
    (p) = (b)->alloc(n);                                            \
    if (__builtin_expect((p) == NULL, 0)) out_of_memory(b);         \
  } while (0)

/* 1. alloc+free of 32 B. */
BENCH_HOT void loop_pair(const backend *b, long n) {
  for (long k = 0; k < n; k++) {
    void *p;
    ALLOC(b, 32, p);
    *(uint64_t *)p = (uint64_t)k;
    b->free(p);
  }
}

/* 2. BATCH random 8-128 B blocks, then freed first-in first-out. */
BENCH_HOT void loop_batch(const backend *b, long batches, bench_rng *rng, void **slots) {
  bench_rng r = *rng;
  for (long k = 0; k < batches; k++) {
    for (int i = 0; i < BATCH; i++) {
      void *p;
      ALLOC(b, bench_range(bench_rand(&r), 8, 121), p);
      *(uint64_t *)p = (uint64_t)i;
      slots[i] = p;
    }
    for (int i = 0; i < BATCH; i++) b->free(slots[i]);
  }
  *rng = r;
}

/* 3. Churn: live[i] holds a block stamped i; a step replaces a random one. One draw gives
 * the slot (bits 16..31) and the size (bits 32..63). */
typedef struct churn {
  void **live;
  uint32_t n;                    /* live blocks, a power of two <= 65536 */
  uint32_t lo, span;             /* sizes in [lo, lo + span) */
  bench_rng rng;
} churn;

BENCH_HOT void loop_churn(const backend *b, churn *c, long steps) {
  void **live = c->live;
  uint32_t mask = c->n - 1, lo = c->lo, span = c->span;
  bench_rng rng = c->rng;
  for (long k = 0; k < steps; k++) {
    uint64_t r = bench_rand(&rng);
    uint32_t i = (uint32_t)(r >> 16) & mask;
    b->free(live[i]);
    void *p;
    ALLOC(b, bench_range(r, lo, span), p);
    *(uint64_t *)p = i;
    live[i] = p;
  }
  c->rng = rng;
}

/* 4. Producer/consumer through a single-producer single-consumer ring. Each side keeps a
 * private copy of the other's index and re-reads the shared one only when the ring looks
 * full (empty), so the indices' cache lines move once per batch, not per block. */
typedef struct ring {
  _Alignas(64) _Atomic uint64_t head;    /* written by the producer */
  _Alignas(64) _Atomic uint64_t tail;    /* written by the consumer */
  _Alignas(64) void *slot[RING_SIZE];
} ring;

BENCH_HOT void loop_produce(const backend *b, ring *rg, long n) {
  uint64_t head = 0, tail_seen = 0;
  for (long k = 0; k < n; k++) {
    void *p;
    ALLOC(b, 64, p);
    *(uint64_t *)p = (uint64_t)k;                    /* the message */
    while (head - tail_seen == RING_SIZE) {
      tail_seen = atomic_load_explicit(&rg->tail, memory_order_acquire);
      if (head - tail_seen == RING_SIZE) bench_pause();
    }
    rg->slot[head & (RING_SIZE - 1)] = p;
    atomic_store_explicit(&rg->head, ++head, memory_order_release);
  }
}

/* Returns the number of blocks whose message was not the expected one. */
BENCH_HOT long loop_consume(const backend *b, ring *rg, long n) {
  uint64_t tail = 0, head_seen = 0;
  long bad = 0;
  for (long k = 0; k < n; k++) {
    while (tail == head_seen) {
      head_seen = atomic_load_explicit(&rg->head, memory_order_acquire);
      if (tail == head_seen) bench_pause();
    }
    void *p = rg->slot[tail & (RING_SIZE - 1)];
    bad += *(uint64_t *)p != (uint64_t)k;            /* read the message, then free */
    b->free(p);
    atomic_store_explicit(&rg->tail, ++tail, memory_order_release);
  }
  return bad;
}

typedef struct impl {
  const backend *b;
  bool on;                                          /* selected and available */
  void (*pair)(long n);
  void (*batch)(long batches, bench_rng *rng, void **slots);
  void (*churn)(churn *c, long steps);
  void (*produce)(ring *rg, long n);
  long (*consume)(ring *rg, long n);
} impl;

#define INSTANTIATE(B)                                                                        \
  static BENCH_NOINLINE void pair_##B(long n) { loop_pair(&be_##B, n); }                      \
  static BENCH_NOINLINE void batch_##B(long k, bench_rng *r, void **s) { loop_batch(&be_##B, k, r, s); } \
  static BENCH_NOINLINE void churn_##B(churn *c, long n) { loop_churn(&be_##B, c, n); }       \
  static BENCH_NOINLINE void produce_##B(ring *rg, long n) { loop_produce(&be_##B, rg, n); }  \
  static BENCH_NOINLINE long consume_##B(ring *rg, long n) { return loop_consume(&be_##B, rg, n); }

#define IMPL(B) { &be_##B, true, pair_##B, batch_##B, churn_##B, produce_##B, consume_##B }

INSTANTIATE(hp)
INSTANTIATE(glibc)
#ifdef HAVE_MIMALLOC
INSTANTIATE(mimalloc)
#endif
#ifdef HAVE_JEMALLOC
INSTANTIATE(jemalloc)
#endif

static impl impls[] = {
  IMPL(hp),
  IMPL(glibc),
#ifdef HAVE_MIMALLOC
  IMPL(mimalloc),
#endif
#ifdef HAVE_JEMALLOC
  IMPL(jemalloc),
#endif
};
#define NB ((int)(sizeof impls / sizeof impls[0]))

static const impl *impl_named(const char *name) {
  for (int i = 0; i < NB; i++) if (strcmp(impls[i].b->name, name) == 0) return &impls[i];
  return NULL;
}

/* ====================================================================================
 *  Verifying that each back end is what it claims
 * ==================================================================================== */

/* glibc: bytes its main arena and mmapped chunks hold (its own bookkeeping). */
static size_t glibc_in_use(void) {
  struct mallinfo2 mi = libc_mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

#ifdef HAVE_JEMALLOC
/* jemalloc: stats.allocated, refreshed; SIZE_MAX when statistics are compiled out. */
static size_t jemalloc_in_use(void) {
  uint64_t epoch = 1;
  size_t sz = sizeof epoch, allocated = 0;
  if (mallctl("epoch", &epoch, &sz, &epoch, sz) != 0) return SIZE_MAX;
  sz = sizeof allocated;
  if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0) return SIZE_MAX;
  return allocated;
}
#endif

/* For every back end: allocate 4 MiB and a 32-byte block through the shim, and check with
 * each allocator's own bookkeeping that exactly the claimed one serves them:
 *   glibc     mallinfo2() (glibc's own statistics) grows by >= 4 MiB for glibc only;
 *   jemalloc  stats.allocated grows by >= 4 MiB for jemalloc only;
 *   mimalloc  mi_is_in_heap_region() is true for mimalloc's blocks only;
 *   hp        hp_pool_usable_size() is non-zero (the block is in hp's reservation) for hp only.
 * Also reports which library the process's own `malloc` resolves to. Exits on a mismatch. */
static void verify_backends(FILE *out) {
  const size_t big = (size_t)4 << 20;
  for (int i = 0; i < NB; i++) {
    const backend *b = impls[i].b;
    size_t g0 = glibc_in_use();
#ifdef HAVE_JEMALLOC
    size_t j0 = jemalloc_in_use();
#endif
    void *p = b->alloc(big), *q = b->alloc(32);
    if (p == NULL || q == NULL) die("%s: verification allocation failed", b->name);
    memset(p, 1, big);
    bool is_glibc = glibc_in_use() >= g0 + big;
    bool is_hp = hp_pool_usable_size(p) != 0 && hp_pool_usable_size(q) != 0;
    bool claims = true;
    claims &= is_glibc == (b == &be_glibc);
    claims &= is_hp == (b == &be_hp);
#ifdef HAVE_JEMALLOC
    size_t j1 = jemalloc_in_use();
    bool is_je = j0 != SIZE_MAX && j1 >= j0 + big;
    if (j0 != SIZE_MAX) claims &= is_je == (b == &be_jemalloc);
#endif
#ifdef HAVE_MIMALLOC
    bool is_mi = mi_is_in_heap_region(p) && mi_is_in_heap_region(q);
    claims &= is_mi == (b == &be_mimalloc);
#endif
    if (!claims) die("%s: the blocks do not come from the claimed allocator", b->name);
    if (b->usable(q) < 32) die("%s: usable size below the request", b->name);
    if (verbose)
      fprintf(out, "  %-8s 32 B block at %p, usable %zu B\n", b->name, q, b->usable(q));
    b->free(q);
    b->free(p);
  }
  Dl_info info;
  void *proc_malloc = dlsym(RTLD_DEFAULT, "malloc");
  const char *who = dladdr(proc_malloc, &info) && info.dli_fname ? info.dli_fname : "?";
  fprintf(out, "Back ends verified (each allocator's own bookkeeping saw exactly its blocks): "
               "glibc = %s malloc via dlsym", libc_path);
#ifdef HAVE_JEMALLOC
  fprintf(out, ", jemalloc = %s malloc via dlsym", jemalloc_path);
#endif
#ifdef HAVE_MIMALLOC
  fprintf(out, ", mimalloc = mi_malloc");
#endif
  fprintf(out, ", hp = hp_pool_alloc (static). The process's own malloc is %s's.\n", who);
}

/* ====================================================================================
 *  Running the workloads
 * ==================================================================================== */

enum {
  W_PAIR, W_BATCH, W_CHURN_S, W_CHURN_M, W_CHURN_L, W_XTHREAD, W_SCALE_PAIR, W_SCALE_CHURN,
  W_RSS, W_RELEASE, W_RELEASE_MIB, W_RELEASE_FIFO, W_RELEASE_FIFO_MIB, NW
};
static double result[NW][8];            /* median per workload and back end; NAN: not run */
static long integrity_errors;

static const char *const churn_names[3] = { "churn-small", "churn-medium", "churn-large" };
static const char *const workload_names[NW] = {
  "pair", "batch", "churn-small", "churn-medium", "churn-large", "xthread", "scale-pair", "scale-churn",
  "rss", "release", "", "release-fifo", "",
};
static const uint32_t churn_lo[3] = { 8, 129, 2049 }, churn_hi[3] = { 128, 2048, 65536 };

/* ---- a quiet machine ----
 * The machines we run on are shared. Before each workload (full runs) the program waits up to
 * a minute for a second in which other processes use < 5% of a CPU, and a workload during
 * which they used more than 0.1 CPU is run again (up to `retries` times). Whatever happens,
 * the other load seen during the kept run of each workload is reported with the results. */
static int retries = -1;                    /* -1: the default (3, or 0 with --quick) */
static bool no_wait;
static double other_load[NW + 1];

static bool wait_quiet(int max_s) {
  for (int i = 0; i < max_s; i++) {
    bench_load a = bench_load_now();
    struct timespec ts = { 1, 0 };
    nanosleep(&ts, NULL);
    if (bench_other_load(a, bench_load_now()) < 0.05) return true;
    if (i == 0) fprintf(stderr, "bench-pools: waiting for the machine to be quiet...\n");
  }
  return false;
}

/* Runs one workload (fn), as described above; w indexes other_load. The memory workloads
 * (w >= W_RSS) measure bytes, not time: they are not repeated. */
static void run_workload(int w, const char *name, void (*fn)(void)) {
  int tries = 1 + (w >= W_RSS ? 0 : retries >= 0 ? retries : quick ? 0 : 3);
  for (int t = 0; t < tries; t++) {
    if (!quick && !no_wait && !wait_quiet(60)) fprintf(stderr, "bench-pools: the machine stayed busy\n");
    bench_load a = bench_load_now();
    fn();
    double other = bench_other_load(a, bench_load_now());
    other_load[w] = other;
    if (!quick || verbose)
      fprintf(stderr, "bench-pools: %-13s done; other processes used %.2f CPUs meanwhile%s\n", name, other,
              other > 0.1 && t + 1 < tries ? ": running it again" : "");
    if (other <= 0.1) break;
  }
}

static void print_reps(const char *what, int bi, const double *v, int n) {
  if (!verbose) return;
  fprintf(stderr, "  %-14s %-8s", what, impls[bi].b->name);
  for (int i = 0; i < n; i++) fprintf(stderr, " %.2f", v[i]);
  fputc('\n', stderr);
}

/* Fills c with n blocks of [lo, hi] bytes from back end b (untimed). */
static void churn_init(const backend *b, churn *c, uint32_t n, uint32_t lo, uint32_t hi, uint64_t seed) {
  c->live = bench_map(n * sizeof(void *));
  c->n = n;
  c->lo = lo;
  c->span = hi - lo + 1;
  c->rng = bench_rng_seed(seed);
  for (uint32_t i = 0; i < n; i++) {
    void *p = b->alloc(bench_range(bench_rand(&c->rng), lo, c->span));
    if (p == NULL) out_of_memory(b);
    *(uint64_t *)p = i;
    c->live[i] = p;
  }
}

/* Checks every live block's stamp (two live blocks sharing memory would show), frees all. */
static void churn_done(const backend *b, churn *c) {
  for (uint32_t i = 0; i < c->n; i++) {
    if (*(uint64_t *)c->live[i] != i) integrity_errors++;
    b->free(c->live[i]);
  }
  bench_unmap(c->live, c->n * sizeof(void *));
}

/* Runs fn for every repetition and selected back end, interleaved; stores the medians. */
static void run_interleaved(int w, const char *name, double (*fn)(int bi, int rep, void *arg), void *arg) {
  double v[8][64];
  for (int rep = 0; rep < P.reps; rep++)
    for (int bi = 0; bi < NB; bi++)
      if (impls[bi].on) v[bi][rep] = fn(bi, rep, arg);
  for (int bi = 0; bi < NB; bi++) {
    if (!impls[bi].on) continue;
    print_reps(name, bi, v[bi], P.reps);
    result[w][bi] = bench_median(v[bi], P.reps);
  }
}

static double do_pair(int bi, int rep, void *arg) {
  (void)rep; (void)arg;
  uint64_t t0 = bench_now_ns();
  impls[bi].pair(P.pair_n);
  return (double)(bench_now_ns() - t0) / (double)P.pair_n;
}

static double do_batch(int bi, int rep, void *arg) {
  (void)arg;
  void *slots[BATCH];
  bench_rng r = bench_rng_seed(0x1234 + (uint64_t)rep);
  uint64_t t0 = bench_now_ns();
  impls[bi].batch(P.batches, &r, slots);
  return (double)(bench_now_ns() - t0) / ((double)P.batches * BATCH);
}

typedef struct churn_arg { int tier; churn c[8]; } churn_arg;

static double do_churn(int bi, int rep, void *arg) {
  (void)rep;
  churn_arg *a = arg;
  long steps = P.churn_steps[a->tier];
  uint64_t t0 = bench_now_ns();
  impls[bi].churn(&a->c[bi], steps);
  return (double)(bench_now_ns() - t0) / (double)steps;
}

static void run_churn(int tier) {
  static churn_arg a;
  a.tier = tier;
  /* Fill every back end first, then warm up (two full replacements of the live set on
   * average), then time repetitions interleaved: each is a stretch of steady-state churn. */
  for (int bi = 0; bi < NB; bi++) {
    if (!impls[bi].on) continue;
    churn_init(impls[bi].b, &a.c[bi], P.churn_live, churn_lo[tier], churn_hi[tier], 0xC0FFEE + (uint64_t)tier);
    impls[bi].churn(&a.c[bi], 2 * (long)P.churn_live);
  }
  run_interleaved(W_CHURN_S + tier, churn_names[tier], do_churn, &a);
  for (int bi = 0; bi < NB; bi++)
    if (impls[bi].on) churn_done(impls[bi].b, &a.c[bi]);
}

/* ---- threads ---- */
/* Pins the calling thread to CPU `i` modulo the CPUs online: the workloads measure the
 * allocators, not the scheduler's placement (a new thread starts on its parent's CPU and
 * may share it for milliseconds before it is migrated). */
static void pin_to_cpu(int i) {
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (ncpu < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(i % (int)ncpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* ---- cross-thread: producer and consumer ---- */
static ring the_ring;
typedef struct xt_arg {
  const impl *im;
  ring *rg;
  long n, bad;
  bool producer;
  pthread_barrier_t *bar;
  uint64_t t0, t1;
} xt_arg;

static void *xt_main(void *p) {
  xt_arg *a = p;
  pin_to_cpu(a->producer ? 0 : 1);
  pthread_barrier_wait(a->bar);
  a->t0 = bench_now_ns();
  if (a->producer) a->im->produce(a->rg, a->n);
  else a->bad = a->im->consume(a->rg, a->n);
  a->t1 = bench_now_ns();
  return NULL;
}

/* ns per pair: from the first thread's start to the last one's end. */
static double do_xthread(int bi, int rep, void *arg) {
  (void)rep; (void)arg;
  ring *rg = &the_ring;
  atomic_store(&rg->head, 0);
  atomic_store(&rg->tail, 0);
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, 2);
  xt_arg pa = { &impls[bi], rg, P.xthread_n, 0, true, &bar, 0, 0 };
  xt_arg ca = { &impls[bi], rg, P.xthread_n, 0, false, &bar, 0, 0 };
  pthread_t tp, tc;
  if (pthread_create(&tc, NULL, xt_main, &ca) || pthread_create(&tp, NULL, xt_main, &pa))
    die("%s", "pthread_create failed");
  pthread_join(tp, NULL);
  pthread_join(tc, NULL);
  pthread_barrier_destroy(&bar);
  integrity_errors += ca.bad;
  uint64_t t0 = pa.t0 < ca.t0 ? pa.t0 : ca.t0, t1 = pa.t1 > ca.t1 ? pa.t1 : ca.t1;
  return (double)(t1 - t0) / (double)P.xthread_n;
}

/* ---- scaling: T threads on thread-local work ---- */
typedef struct sc_arg {
  const impl *im;
  int cpu;
  bool churn;
  long n;
  uint64_t seed;
  pthread_barrier_t *bar;
  uint64_t t0, t1;
} sc_arg;

static void *sc_main(void *p) {
  sc_arg *a = p;
  churn c;
  pin_to_cpu(a->cpu);
  if (a->churn) {
    churn_init(a->im->b, &c, P.scale_live, 8, 128, a->seed);
    a->im->churn(&c, 2 * (long)P.scale_live);
  }
  pthread_barrier_wait(a->bar);
  a->t0 = bench_now_ns();
  if (a->churn) a->im->churn(&c, a->n);
  else a->im->pair(a->n);
  a->t1 = bench_now_ns();
  if (a->churn) churn_done(a->im->b, &c);
  return NULL;
}

/* Wall time of T threads each doing n operations (from the common start to the last end). */
static double scale_wall(const impl *im, bool churn_work, int T, long n) {
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, (unsigned)T);
  sc_arg a[2];
  pthread_t t[2];
  for (int i = 0; i < T; i++) {
    a[i] = (sc_arg){ im, i, churn_work, n, 0xABCDEF + (uint64_t)i * 7919, &bar, 0, 0 };
    if (pthread_create(&t[i], NULL, sc_main, &a[i])) die("%s", "pthread_create failed");
  }
  uint64_t t0 = UINT64_MAX, t1 = 0;
  for (int i = 0; i < T; i++) {
    pthread_join(t[i], NULL);
    if (a[i].t0 < t0) t0 = a[i].t0;
    if (a[i].t1 > t1) t1 = a[i].t1;
  }
  pthread_barrier_destroy(&bar);
  return (double)(t1 - t0);
}

/* Throughput of 2 threads over 1 thread: 2 * wall(1) / wall(2). */
static double do_scale(int bi, int rep, void *arg) {
  bool churn_work = arg != NULL;
  long n = churn_work ? P.scale_churn_n : P.scale_pair_n;
  double w1, w2;
  if (rep % 2 == 0) { w1 = scale_wall(&impls[bi], churn_work, 1, n); w2 = scale_wall(&impls[bi], churn_work, 2, n); }
  else { w2 = scale_wall(&impls[bi], churn_work, 2, n); w1 = scale_wall(&impls[bi], churn_work, 1, n); }
  return 2.0 * w1 / w2;
}

/* ====================================================================================
 *  The memory workloads: one fresh process per back end and repetition
 * ==================================================================================== */

/* Child: churn 8-1000 B with every byte written; prints "live_requested live_usable rss". */
static int child_rss(const backend *b) {
  uint32_t n = P.rss_live, mask = n - 1;
  void **live = bench_map(n * sizeof(void *));
  uint32_t *size = bench_map(n * sizeof(uint32_t));
  b->free(b->alloc(64));                              /* the allocator's fixed set-up */
  size_t base = bench_rss_anon();
  bench_rng rng = bench_rng_seed(0x5EED);
  uint64_t live_bytes = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t s = bench_range(bench_rand(&rng), 8, 993);
    void *p = b->alloc(s);
    if (p == NULL) out_of_memory(b);
    memset(p, (int)i, s);
    live[i] = p;
    size[i] = s;
    live_bytes += s;
  }
  for (long k = 0; k < P.rss_steps; k++) {
    uint64_t r = bench_rand(&rng);
    uint32_t i = (uint32_t)(r >> 16) & mask, s = bench_range(r, 8, 993);
    b->free(live[i]);
    live_bytes -= size[i];
    void *p = b->alloc(s);
    if (p == NULL) out_of_memory(b);
    memset(p, (int)k, s);
    live[i] = p;
    size[i] = s;
    live_bytes += s;
  }
  size_t rss = bench_rss_anon() - base;
  uint64_t usable = 0;
  for (uint32_t i = 0; i < n; i++) usable += b->usable(live[i]);
  printf("%llu %llu %zu", (unsigned long long)live_bytes, (unsigned long long)usable, rss);
  if (b == &be_hp) {
    struct hp_pool_stats st;
    hp_pool_stats(&st);
    printf(" %llu %llu %llu %llu %llu", (unsigned long long)st.total.bytes_in_use,
           (unsigned long long)st.total.bytes_committed, (unsigned long long)st.total.bytes_resident,
           (unsigned long long)st.total.pages_used, (unsigned long long)st.pages_free_committed);
  }
  printf("\n");
  for (uint32_t i = 0; i < n; i++) b->free(live[i]);
  return 0;
}

/* Child: allocates ~release_bytes of 8-1000 B blocks (every byte written), frees them all in
 * random order (or in allocation order if fifo), waits; prints "peak rss_just_after
 * rss_after_wait" (bytes over baseline). */
static int child_release(const backend *b, bool fifo) {
  bench_rng rng = bench_rng_seed(0xFEED), r2 = rng;
  size_t n = 0, total = 0;
  while (total < P.release_bytes) { total += bench_range(bench_rand(&r2), 8, 993); n++; }
  void **ptr = bench_map(n * sizeof(void *));
  b->free(b->alloc(64));
  size_t base = bench_rss_anon();
  for (size_t i = 0; i < n; i++) {
    uint32_t s = bench_range(bench_rand(&rng), 8, 993);
    void *p = b->alloc(s);
    if (p == NULL) out_of_memory(b);
    memset(p, (int)i, s);
    ptr[i] = p;
  }
  size_t peak = bench_rss_anon() - base;
  for (size_t i = n - 1; i > 0 && !fifo; i--) {      /* Fisher-Yates */
    size_t j = (size_t)(((bench_rand(&rng) >> 32) * (i + 1)) >> 32);
    void *t = ptr[i]; ptr[i] = ptr[j]; ptr[j] = t;
  }
  for (size_t i = 0; i < n; i++) b->free(ptr[i]);
  uint64_t t_freed = bench_now_ns();
  size_t after0 = bench_rss_anon();
  after0 = after0 > base ? after0 - base : 0;
  uint64_t wake = t_freed + (uint64_t)(P.release_wait_s * 1e9);
  struct timespec ts = { (time_t)(wake / 1000000000u), (long)(wake % 1000000000u) };
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
  size_t after1 = bench_rss_anon();
  after1 = after1 > base ? after1 - base : 0;
  printf("%zu %zu %zu\n", peak, after0, after1);
  return 0;
}

/* Spawns this program as a child for (workload, back end); returns its stdout's read end. */
static int spawn_child(const char *what, const char *backend_name, pid_t *pid) {
  int fd[2];
  if (pipe(fd) != 0) die("pipe: %s", strerror(errno));
  fflush(NULL);
  *pid = fork();
  if (*pid < 0) die("fork: %s", strerror(errno));
  if (*pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    char *argv[] = { (char *)"bench-pools", (char *)"--child", (char *)what, (char *)backend_name,
                     (char *)(quick ? "--quick" : "--full"), NULL };
    execv("/proc/self/exe", argv);
    _exit(127);
  }
  close(fd[1]);
  return fd[0];
}

/* Reads a child's line of numbers; returns how many were read. */
static int reap_child(int fd, pid_t pid, double *v, int max) {
  char buf[512];
  size_t len = 0;
  ssize_t n;
  while ((n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
  close(fd);
  buf[len] = 0;
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("a child failed: %s", buf);
  int k = 0;
  char *s = buf, *end;
  while (k < max) {
    double x = strtod(s, &end);
    if (end == s) break;
    v[k++] = x;
    s = end;
  }
  return k;
}

static void run_rss(void) {
  double ov[8][16];
  for (int rep = 0; rep < P.child_reps; rep++) {
    for (int bi = 0; bi < NB; bi++) {
      if (!impls[bi].on) continue;
      pid_t pid;
      int fd = spawn_child("rss", impls[bi].b->name, &pid);
      double v[8];
      int k = reap_child(fd, pid, v, 8);
      if (k < 3) die("%s", "bad output from the rss child");
      ov[bi][rep] = 100.0 * (v[2] - v[0]) / v[0];
      if (verbose) {
        fprintf(stderr, "  rss %-8s live %.1f MiB, usable %.1f MiB (+%.1f%%), resident %.1f MiB (+%.1f%%)\n",
                impls[bi].b->name, v[0] / 1048576, v[1] / 1048576, 100 * (v[1] - v[0]) / v[0],
                v[2] / 1048576, ov[bi][rep]);
        if (k >= 8)
          fprintf(stderr, "      hp stats: in use %.1f MiB, committed %.1f MiB, resident %.1f MiB, "
                          "%.0f pages used, %.0f free pages committed\n",
                  v[3] / 1048576, v[4] / 1048576, v[5] / 1048576, v[6], v[7]);
      }
    }
  }
  for (int bi = 0; bi < NB; bi++)
    if (impls[bi].on) result[W_RSS][bi] = bench_median(ov[bi], P.child_reps);
}

static bool release_fifo;

static void run_release(void) {
  double pct[8][16], mib[8][16];
  const char *what = release_fifo ? "release-fifo" : "release";
  int w = release_fifo ? W_RELEASE_FIFO : W_RELEASE;
  for (int rep = 0; rep < P.child_reps; rep++) {
    /* Quick mode runs the back ends side by side: the run is mostly the 1 s wait. */
    pid_t pid[8] = { 0 };
    int fd[8] = { 0 };
    for (int bi = 0; bi < NB; bi++) {
      if (!impls[bi].on) continue;
      fd[bi] = spawn_child(what, impls[bi].b->name, &pid[bi]);
      if (!quick) {
        double v[3];
        if (reap_child(fd[bi], pid[bi], v, 3) != 3) die("%s", "bad output from the release child");
        pct[bi][rep] = 100.0 * v[2] / v[0];
        mib[bi][rep] = v[2] / 1048576;
        if (verbose)
          fprintf(stderr, "  %s %-8s peak %.1f MiB, just after free %.1f MiB, %.1f s later %.2f MiB\n",
                  what, impls[bi].b->name, v[0] / 1048576, v[1] / 1048576, P.release_wait_s, v[2] / 1048576);
      }
    }
    if (quick) {
      for (int bi = 0; bi < NB; bi++) {
        if (!impls[bi].on) continue;
        double v[3];
        if (reap_child(fd[bi], pid[bi], v, 3) != 3) die("%s", "bad output from the release child");
        pct[bi][rep] = 100.0 * v[2] / v[0];
        mib[bi][rep] = v[2] / 1048576;
      }
    }
  }
  for (int bi = 0; bi < NB; bi++) {
    if (!impls[bi].on) continue;
    result[w][bi] = bench_median(pct[bi], P.child_reps);
    result[w + 1][bi] = bench_median(mib[bi], P.child_reps);
  }
}

/* The workloads as run_workload takes them. */
static void run_pair(void) { run_interleaved(W_PAIR, "pair", do_pair, NULL); }
static void run_batch(void) { run_interleaved(W_BATCH, "batch", do_batch, NULL); }
static void run_churn_small(void) { run_churn(0); }
static void run_churn_medium(void) { run_churn(1); }
static void run_churn_large(void) { run_churn(2); }
static void run_xthread(void) { run_interleaved(W_XTHREAD, "xthread", do_xthread, NULL); }
static void run_scale_pair(void) { run_interleaved(W_SCALE_PAIR, "scale-pair", do_scale, NULL); }
static void run_scale_churn(void) { run_interleaved(W_SCALE_CHURN, "scale-churn", do_scale, (void *)1); }

/* ====================================================================================
 *  Report
 * ==================================================================================== */

static void fmt_value(char *buf, size_t n, double v, const char *unit) {
  if (isnan(v)) snprintf(buf, n, "—");
  else if (strcmp(unit, "x") == 0) snprintf(buf, n, "%.2fx", v);
  else if (strcmp(unit, "%") == 0) snprintf(buf, n, "%.1f%%", v);
  else if (v < 100) snprintf(buf, n, "%.1f", v);
  else snprintf(buf, n, "%.0f", v);
}

static void print_row(const char *label, int w, const char *unit, bool ratios) {
  bool any = false;
  for (int bi = 0; bi < NB; bi++) any |= impls[bi].on && !isnan(result[w][bi]);
  if (!any) return;
  printf("| %s |", label);
  char buf[64];
  for (int bi = 0; bi < NB; bi++) {
    fmt_value(buf, sizeof buf, impls[bi].on ? result[w][bi] : NAN, unit);
    if ((w == W_RELEASE || w == W_RELEASE_FIFO) && impls[bi].on && !isnan(result[w][bi])) {
      size_t l = strlen(buf);
      snprintf(buf + l, sizeof buf - l, " (%.1f MiB)", result[w + 1][bi]);
    }
    printf(" %s |", buf);
  }
  for (int bi = 1; bi < NB; bi++) {
    double hp = result[w][0], o = result[w][bi];
    if (ratios && impls[0].on && impls[bi].on && !isnan(hp) && !isnan(o) && o > 0) printf(" %.2f |", hp / o);
    else printf(" — |");
  }
  printf("\n");
}

static const char *verdict(bool ok) { return ok ? "met" : "**missed**"; }

static void print_targets(void) {
  const double *r;
  int gl = -1, mi = -1, je = -1;
  for (int bi = 0; bi < NB; bi++) {
    if (!impls[bi].on) continue;
    if (impls[bi].b == &be_glibc) gl = bi;
#ifdef HAVE_MIMALLOC
    if (impls[bi].b == &be_mimalloc) mi = bi;
#endif
#ifdef HAVE_JEMALLOC
    if (impls[bi].b == &be_jemalloc) je = bi;
#endif
  }
  if (!impls[0].on) return;
  printf("\n| target | hp | verdict |\n|---|---|---|\n");
  r = result[W_PAIR];
  if (!isnan(r[0])) printf("| alloc+free pair <= 4 ns | %.2f ns | %s |\n", r[0], verdict(r[0] <= 4));
  for (int t = 0; t < 3; t++) {
    r = result[W_CHURN_S + t];
    if (isnan(r[0]) || gl < 0) continue;
    double best = INFINITY;
    if (mi >= 0) best = fmin(best, r[mi]);
    if (je >= 0) best = fmin(best, r[je]);
    bool ok = isinf(best) || r[0] <= best;
    printf("| %s: no slower than mimalloc and jemalloc | %.1f ns (glibc/hp %.2fx, best other/hp %.2fx) | %s |\n",
           t == 0 ? "churn 8-128 B" : t == 1 ? "churn 129-2048 B" : "churn 2049-65536 B", r[0], r[gl] / r[0],
           best / r[0], verdict(ok));
  }
  r = result[W_XTHREAD];
  if (!isnan(r[0])) printf("| cross-thread free <= 25 ns per pair | %.1f ns | %s |\n", r[0], verdict(r[0] <= 25));
  r = result[W_SCALE_PAIR];
  if (!isnan(r[0])) printf("| 2 threads >= 1.9x one thread (pair) | %.2fx | %s |\n", r[0], verdict(r[0] >= 1.9));
  r = result[W_SCALE_CHURN];
  if (!isnan(r[0])) printf("| 2 threads >= 1.9x one thread (churn 8-128 B) | %.2fx | %s |\n", r[0], verdict(r[0] >= 1.9));
  r = result[W_RSS];
  if (!isnan(r[0])) printf("| RSS over live bytes <= 10%% (churn 8-1000 B) | %.1f%% | %s |\n", r[0], verdict(r[0] <= 10));
  r = result[W_RELEASE];
  if (!isnan(r[0])) printf("| <= 5%% of peak resident 1 s after freeing all, no call | %.1f%% (%.1f MiB) | %s |\n",
                           r[0], result[W_RELEASE_MIB][0], verdict(r[0] <= 5));
}

static void print_report(void) {
  char churn_live[32];
  if (P.churn_live >= 1024) snprintf(churn_live, sizeof churn_live, "%uK", P.churn_live / 1024);
  else snprintf(churn_live, sizeof churn_live, "%u", P.churn_live);
  printf("\n| workload |");
  for (int bi = 0; bi < NB; bi++) printf(" %s |", impls[bi].b->name);
  for (int bi = 1; bi < NB; bi++) printf(" hp/%s |", impls[bi].b->name);
  printf("\n|---|");
  for (int bi = 0; bi < 2 * NB - 1; bi++) printf("---|");
  printf("\n");
  char label[160];
  print_row("alloc+free pair, 32 B, same thread (ns)", W_PAIR, "ns", true);
  print_row("batch of 1000 blocks 8–128 B, freed FIFO (ns per pair)", W_BATCH, "ns", true);
  snprintf(label, sizeof label, "churn 8–128 B, %s live (ns per step)", churn_live);
  print_row(label, W_CHURN_S, "ns", true);
  snprintf(label, sizeof label, "churn 129–2048 B, %s live (ns per step)", churn_live);
  print_row(label, W_CHURN_M, "ns", true);
  snprintf(label, sizeof label, "churn 2049–65536 B, %s live (ns per step)", churn_live);
  print_row(label, W_CHURN_L, "ns", true);
  print_row("one thread allocates, another frees, 64 B (ns per pair)", W_XTHREAD, "ns", true);
  print_row("2 threads / 1 thread throughput, pair", W_SCALE_PAIR, "x", false);
  snprintf(label, sizeof label, "2 threads / 1 thread throughput, churn 8–128 B, %uK live per thread",
           P.scale_live / 1024);
  print_row(label, W_SCALE_CHURN, "x", false);
  snprintf(label, sizeof label, "RSS over live bytes, churn 8–1000 B, %uK live", P.rss_live / 1024);
  print_row(label, W_RSS, "%", false);
  snprintf(label, sizeof label, "RSS left %.0f s after freeing all of a %zu MiB heap in random order, no trim call (%% of peak)",
           P.release_wait_s, P.release_bytes >> 20);
  print_row(label, W_RELEASE, "%", false);
  snprintf(label, sizeof label, "the same, freed in allocation order (%% of peak)");
  print_row(label, W_RELEASE_FIFO, "%", false);
  printf("\nns per operation (median of %d; memory rows: median of %d processes); "
         "hp/x < 1 means hp is faster.\n", P.reps, P.child_reps);
  print_targets();
}

static void print_header(void) {
  char date[64], cpu[128] = "?";
  time_t t = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[256];
    while (fgets(line, sizeof line, f))
      if (strncmp(line, "model name", 10) == 0) {
        char *c = strchr(line, ':');
        if (c) { snprintf(cpu, sizeof cpu, "%s", c + 2); cpu[strcspn(cpu, "\n")] = 0; }
        break;
      }
    fclose(f);
  }
  double load[3] = { 0, 0, 0 };
  getloadavg(load, 3);
  struct utsname u;
  uname(&u);
  printf("bench-pools%s, %s: %s, %ld CPUs, Linux %s, load %.2f\n", quick ? " --quick" : "", date, cpu,
         sysconf(_SC_NPROCESSORS_ONLN), u.release, load[0]);
  printf("hp %d.%d.%d (build %s, debug_level %d, stats %d); glibc %s", hp_version() / 10000,
         hp_version() / 100 % 100, hp_version() % 100, BENCH_BUILDTYPE, BENCH_HP_DEBUG, BENCH_HP_STATS,
         gnu_get_libc_version());
#ifdef HAVE_MIMALLOC
  printf("; mimalloc %d.%d.%d", mi_version() / 100, mi_version() / 10 % 10, mi_version() % 10);
#endif
#ifdef HAVE_JEMALLOC
  const char *jv = "?";
  size_t sz = sizeof jv;
  mallctl("version", (void *)&jv, &sz, NULL, 0);
  printf("; jemalloc %.*s", (int)strcspn(jv, "-_"), jv);
#endif
  printf("\n");
}

/* ====================================================================================
 *  main
 * ==================================================================================== */

static bool listed(const char *list, const char *name) {
  if (list == NULL) return true;
  size_t n = strlen(name);
  for (const char *s = list; *s;) {
    const char *e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len == n && strncmp(s, name, n) == 0) return true;
    if (!e) break;
    s = e + 1;
  }
  return false;
}

/* --raw FILE: the medians, one line each (see the top of this file). */
static void print_raw(const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL) die("cannot write %s", path);
  static const char *const units[NW] = { "ns", "ns", "ns", "ns", "ns", "ns", "x", "x", "%", "%", "MiB", "%", "MiB" };
  for (int w = 0; w < NW; w++)
    for (int bi = 0; bi < NB; bi++) {
      if (!impls[bi].on || isnan(result[w][bi])) continue;
      const char *name = workload_names[w][0] ? workload_names[w] : w == W_RELEASE_MIB ? "release-mib" : "release-fifo-mib";
      int load_w = w == W_RELEASE_MIB || w == W_RELEASE_FIFO_MIB ? w - 1 : w;
      fprintf(f, "bench-pools-result workload=%s backend=%s value=%.4f unit=%s reps=%d load=%.3f\n", name,
              impls[bi].b->name, result[w][bi], units[w], w >= W_RSS ? P.child_reps : P.reps, other_load[load_w]);
    }
  if (fclose(f) != 0) die("cannot write %s", path);
}

static void usage(void) {
  fprintf(stderr, "usage: bench-pools [--quick] [--reps N] [--only LIST] [--backends LIST] [--retries N] [--no-wait] [-v]\n"
                  "                   [--raw FILE]\n"
                  "  workloads: pair,batch,churn-small,churn-medium,churn-large,xthread,scale,rss,release\n"
                  "  back ends:");
  for (int bi = 0; bi < NB; bi++) fprintf(stderr, " %s", impls[bi].b->name);
  fprintf(stderr, "\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *only = NULL, *backends = NULL, *raw = NULL;
  int reps = 0;
  P = full_params;
  setup_backends();
  if (argc >= 4 && strcmp(argv[1], "--child") == 0) {
    if (argc >= 5 && strcmp(argv[4], "--quick") == 0) P = quick_params;
    const impl *im = impl_named(argv[3]);
    if (im == NULL) die("unknown back end %s", argv[3]);
    if (strcmp(argv[2], "rss") == 0) return child_rss(im->b);
    if (strcmp(argv[2], "release") == 0) return child_release(im->b, false);
    if (strcmp(argv[2], "release-fifo") == 0) return child_release(im->b, true);
    die("unknown child workload %s", argv[2]);
  }
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = true;
    else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) verbose = true;
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
    else if (strcmp(argv[i], "--backends") == 0 && i + 1 < argc) backends = argv[++i];
    else if (strcmp(argv[i], "--retries") == 0 && i + 1 < argc) retries = atoi(argv[++i]);
    else if (strcmp(argv[i], "--no-wait") == 0) no_wait = true;
    else if (strcmp(argv[i], "--raw") == 0 && i + 1 < argc) raw = argv[++i];
    else usage();
  }
  if (quick) P = quick_params;
  if (reps > 0) P.reps = P.child_reps = reps > 64 ? 64 : reps;
  if (P.child_reps > 16) P.child_reps = 16;
  for (int bi = 0; bi < NB; bi++) impls[bi].on = listed(backends, impls[bi].b->name);
  for (int w = 0; w < NW; w++)
    for (int bi = 0; bi < 8; bi++) result[w][bi] = NAN;

  bench_load run_start = bench_load_now();
  print_header();
  verify_backends(stdout);
  if (listed(only, "pair")) run_workload(W_PAIR, "pair", run_pair);
  if (listed(only, "batch")) run_workload(W_BATCH, "batch", run_batch);
  if (listed(only, "churn-small")) run_workload(W_CHURN_S, "churn-small", run_churn_small);
  if (listed(only, "churn-medium")) run_workload(W_CHURN_M, "churn-medium", run_churn_medium);
  if (listed(only, "churn-large")) run_workload(W_CHURN_L, "churn-large", run_churn_large);
  if (listed(only, "xthread")) run_workload(W_XTHREAD, "xthread", run_xthread);
  if (listed(only, "scale")) {
    run_workload(W_SCALE_PAIR, "scale-pair", run_scale_pair);
    run_workload(W_SCALE_CHURN, "scale-churn", run_scale_churn);
  }
  if (listed(only, "rss")) run_workload(W_RSS, "rss", run_rss);
  if (listed(only, "release")) {
    run_workload(W_RELEASE, "release", run_release);
    release_fifo = true;
    run_workload(W_RELEASE_FIFO, "release-fifo", run_release);
  }
  print_report();
  if (raw) print_raw(raw);
  double worst = 0;
  printf("\nOther processes' load during each workload (CPUs):");
  for (int w = 0; w < NW; w++) {
    if (isnan(result[w][0]) && isnan(result[w][1])) continue;
    if (w == W_RELEASE_MIB || w == W_RELEASE_FIFO_MIB) continue;
    printf(" %s %.2f;", workload_names[w], other_load[w]);
    if (other_load[w] > worst) worst = other_load[w];
  }
  printf("%s\n", worst > 0.1 ? " the machine was not quiet: figures marked by it are noisy." : " quiet.");
  printf("Run took %.0f s.\n", bench_load_now().wall_s - run_start.wall_s);
  if (integrity_errors) {
    fprintf(stderr, "bench-pools: %ld blocks did not hold what was written to them\n", integrity_errors);
    return 1;
  }
  return 0;
}
