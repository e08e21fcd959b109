/* tools/weakbench/workloads.c -- weak tables, finalizers and ephemeron chains, built twice:
 * weakbench-hp (-DBACKEND_HP) and weakbench-boehm (-DBACKEND_BOEHM). The driver (driver.c)
 * runs them side by side; each run is one process and prints one line of key=value pairs.
 *
 * usage: weakbench-X WORKLOAD [N] [ROUNDS] [K]
 *   table N R     a weak-keyed table of N entries, R rounds: every round fills it with N fresh
 *                 keys (each with a fresh value), keeps one key in 10 in a strong array, drops
 *                 the rest, collects, and checks that exactly the kept entries remain.
 *                 hp: an ephemeron table (HP_TYPE_EPHEMERON_ARRAY: pairs in one object), the
 *                 collection a major one (table_minor: a minor one, the keys being young).
 *                 Boehm: the keys in an atomic array, each slot a disappearing link
 *                 (GC_general_register_disappearing_link), the values in a scanned array and
 *                 cleared by the program when their key's link is: weak keys with strongly held
 *                 values, not ephemerons (Boehm has none; a value that referenced its key would
 *                 keep it). Figures: pause_ns (median collection), ns per entry per collection,
 *                 round_ns (fill + collect + check).
 *   final N       allocate and drop N finalizable objects (registered one by one), running the
 *                 queue every 4096 allocations and collecting at the end until all N finalizers
 *                 ran; timed from the start of the process (the heap grows from nothing).
 *                 final_warm: the same, timed on a second round in the same process. hp: hp_finalizer_register + hp_finalizers_run; Boehm:
 *                 GC_register_finalizer_no_order, finalize_on_demand + GC_invoke_finalizers.
 *   chain N R K   (hp only) K ephemeron chains of N/K pairs each (the value of one pair is the
 *                 key of the next) in one table of N pairs, each in the worst order, their heads
 *                 rooted; R major collections; pause_ns is the median. The same N with K = 1 and
 *                 K = 10 is the linearity test: one chain 10 times as long, same heap.
 *                 chain_flat: the same N pairs with every key rooted, no chain.
 * Times: wall (pause_ns, ns_per_*) and CPU time of the process (pause_cpu_ns, cpu_ns_per_*),
 * which a shared machine inflates less.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the whole process (all threads: Boehm's parallel markers count too). On a
 * shared machine it is not inflated by the time other processes hold the CPU, as wall time
 * is. */
static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static uint64_t *g_pause_cpu;      /* per round, like pause[] */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}
static uint64_t median(uint64_t *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_u64);
  return n ? v[n / 2] : 0;
}

/* Boehm scans the C stack conservatively: a stale word may keep a dropped key or two. */
#if defined(BACKEND_BOEHM)
#define EXTRA_OK 16
#else
#define EXTRA_OK 0
#endif

static void fail(const char *what) {
  fprintf(stderr, "weakbench: %s\n", what);
  exit(1);
}

typedef struct obj { void *ref; uint64_t id; } obj;
static size_t g_finalized;

#if defined(BACKEND_HP)
/* ==================================================================================== hp */
#include <hp.h>
#define NAME "hp"
static hp_runtime *rt;
static hp_thread *t;
static const uint32_t obj_offsets[] = { 0 };
static hp_type obj_type = { .name = "obj", .size = sizeof(obj), .noffsets = 1, .offsets = obj_offsets };
static hp_type ptrs_type = { .name = "ptrs", .size = 0, .flags = HP_TYPE_ARRAY };
static hp_type etab_type = { .name = "etab", .size = 0, .flags = HP_TYPE_EPHEMERON_ARRAY };

static void init(void) {
  hp_config c;
  hp_config_default(&c);
  c.conservative_stack = false;            /* every local is rooted */
  if (hp_config_from_env(&c) != 0) exit(2);
  rt = hp_runtime_new(&c);
  if (rt == NULL) fail("hp_runtime_new");
  t = hp_main_thread(rt);
  if (hp_type_register(rt, &obj_type) || hp_type_register(rt, &ptrs_type) || hp_type_register(rt, &etab_type))
    fail("hp_type_register");
}

static obj *new_obj(uint64_t id) {
  obj *o = HP_NEW(t, &obj_type);
  if (o == NULL) fail("out of memory");
  o->id = id;
  return o;
}

static void **new_ptrs(const hp_type *ty, size_t n) {
  void **v = hp_new(t, ty, n * sizeof(void *));
  if (v == NULL) fail("out of memory");
  return v;
}

static void table(size_t n, size_t rounds, hp_gc_kind kind, uint64_t *pause, uint64_t *round) {
  void **tab = NULL, **keep = NULL;
  obj *k = NULL, *v = NULL;
  HP_ROOTS(t, fr, HP_SLOT(tab), HP_SLOT(keep), HP_SLOT(k), HP_SLOT(v));
  tab = new_ptrs(&etab_type, 2 * n);
  keep = new_ptrs(&ptrs_type, n / 10 + 1);
  hp_collect(t, HP_GC_MAJOR);              /* both old, as a long-lived table is */
  for (size_t r = 0; r < rounds; r++) {
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
      k = new_obj(i);
      v = new_obj(i + 1);
      hp_write(t, tab, &tab[2 * i], k);
      hp_write(t, tab, &tab[2 * i + 1], v);
      if (i % 10 == 0) hp_write(t, keep, &keep[i / 10], k);
    }
    k = v = NULL;
    uint64_t t1 = now_ns(), c1 = cpu_ns();
    hp_collect(t, kind);
    pause[r] = now_ns() - t1;
    g_pause_cpu[r] = cpu_ns() - c1;
    size_t extra = 0;
    for (size_t i = 0; i < n; i++) {
      void *key = tab[2 * i];
      if (i % 10 == 0 && key != keep[i / 10]) fail("table: a kept entry died");
      if (i % 10 != 0 && key != NULL && ++extra > EXTRA_OK) fail("table: a dropped entry survived");
      if (key && ((obj *)tab[2 * i + 1])->id != i + 1) fail("table: a wrong value");
    }
    round[r] = now_ns() - t0;
  }
  HP_UNROOT(t, fr);
}

static void fin_fn(hp_thread *th, void *o, void *data) {
  (void)th; (void)data;
  if (((obj *)o)->id == UINT64_MAX) fail("final: bad object");
  g_finalized++;
}

static void final(size_t n) {
  for (size_t i = 0; i < n; i++) {
    obj *o = new_obj(i);
    if (hp_finalizer_register(t, o, fin_fn, NULL) != 0) fail("hp_finalizer_register");
    if (i % 4096 == 0) hp_finalizers_run(t, 0);
  }
  for (int i = 0; i < 8 && g_finalized < n; i++) {
    hp_collect(t, HP_GC_MAJOR);
    hp_finalizers_run(t, 0);
  }
}

/* k chains of n / k pairs in one table of n pairs, each laid out in the worst order (pair i
 * of a chain, key K_i and value K_i+1, at its index m-1-i); flat: no chain, every key rooted. */
static void chain(size_t n, size_t k, size_t rounds, int flat, uint64_t *pause) {
  void **tab = NULL, **keys = NULL, **heads = NULL;
  obj *cur = NULL, *next = NULL;
  HP_ROOTS(t, fr, HP_SLOT(tab), HP_SLOT(keys), HP_SLOT(heads), HP_SLOT(cur), HP_SLOT(next));
  size_t m = n / k;
  tab = new_ptrs(&etab_type, 2 * n);
  heads = new_ptrs(&ptrs_type, k);
  if (flat) keys = new_ptrs(&ptrs_type, n);
  for (size_t c = 0; c < k; c++) {
    cur = new_obj(0);
    hp_write(t, heads, &heads[c], cur);
    for (size_t i = 0; i < m; i++) {
      next = new_obj(i + 1);
      size_t at = c * m + (m - 1 - i);
      hp_write(t, tab, &tab[2 * at], cur);
      hp_write(t, tab, &tab[2 * at + 1], next);
      if (flat) hp_write(t, keys, &keys[c * m + i], cur);
      cur = next;
    }
  }
  cur = next = NULL;
  for (size_t r = 0; r < rounds; r++) {
    uint64_t t0 = now_ns(), c0 = cpu_ns();
    hp_collect(t, HP_GC_MAJOR);
    pause[r] = now_ns() - t0;
    g_pause_cpu[r] = cpu_ns() - c0;
  }
  for (size_t c = 0; c < k; c++) {
    obj *p = heads[c];
    for (size_t i = 0; i < m; i++) {
      size_t at = c * m + (m - 1 - i);
      if (tab[2 * at] != p) fail("chain: broken");
      p = tab[2 * at + 1];
    }
    if (p == NULL || p->id != m) fail("chain: broken end");
  }
  HP_UNROOT(t, fr);
}

static void report(void) {
  struct hp_gc_stats s;
  hp_gc_stats(rt, &s);
  printf(" gc_ns=%llu collections=%llu ephemerons_parked=%llu ephemerons_cleared=%llu weak_ns=%llu finalize_ns=%llu", (unsigned long long)s.gc_ns,
         (unsigned long long)(s.minor_count + s.major_count), (unsigned long long)s.ephemerons_parked,
         (unsigned long long)s.ephemerons_cleared, (unsigned long long)s.weak_ns, (unsigned long long)s.finalize_ns);
}

#elif defined(BACKEND_BOEHM)
/* ================================================================================= Boehm */
#include <gc.h>
#define NAME "boehm"

static void init(void) {
  GC_INIT();
  GC_set_finalize_on_demand(1);
}

static obj *new_obj(uint64_t id) {
  obj *o = GC_MALLOC(sizeof(obj));
  if (o == NULL) fail("out of memory");
  o->id = id;
  return o;
}

static void table(size_t n, size_t rounds, int kind, uint64_t *pause, uint64_t *round) {
  (void)kind;
  void **keys = GC_MALLOC_ATOMIC(n * sizeof(void *));   /* not scanned: the links are weak */
  void **vals = GC_MALLOC(n * sizeof(void *));
  void **keep = GC_MALLOC((n / 10 + 1) * sizeof(void *));
  if (!keys || !vals || !keep) fail("out of memory");
  memset(keys, 0, n * sizeof(void *));
  for (size_t r = 0; r < rounds; r++) {
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
      if (keys[i]) GC_unregister_disappearing_link(&keys[i]);
      obj *k = new_obj(i);
      keys[i] = k;
      if (GC_general_register_disappearing_link(&keys[i], k) == GC_NO_MEMORY) fail("out of memory");
      vals[i] = new_obj(i + 1);
      if (i % 10 == 0) keep[i / 10] = k;
    }
    uint64_t t1 = now_ns(), c1 = cpu_ns();
    GC_gcollect();
    pause[r] = now_ns() - t1;
    g_pause_cpu[r] = cpu_ns() - c1;
    size_t extra = 0;
    for (size_t i = 0; i < n; i++) {
      void *key = keys[i];
      if (key == NULL) vals[i] = NULL;        /* the program clears the value of a dead key */
      if (i % 10 == 0 && key != keep[i / 10]) fail("table: a kept entry died");
      if (i % 10 != 0 && key != NULL && ++extra > EXTRA_OK) fail("table: a dropped entry survived");
      if (key && ((obj *)vals[i])->id != i + 1) fail("table: a wrong value");
    }
    round[r] = now_ns() - t0;
  }
}

static void GC_CALLBACK fin_fn(void *o, void *data) {
  (void)data;
  if (((obj *)o)->id == UINT64_MAX) fail("final: bad object");
  g_finalized++;
}

static void final(size_t n) {
  for (size_t i = 0; i < n; i++) {
    obj *o = new_obj(i);
    GC_register_finalizer_no_order(o, fin_fn, NULL, NULL, NULL);
    if (i % 4096 == 0) GC_invoke_finalizers();
  }
  for (int i = 0; i < 8 && g_finalized + EXTRA_OK < n; i++) {
    GC_gcollect();
    GC_invoke_finalizers();
  }
}

static void chain(size_t n, size_t k, size_t rounds, int flat, uint64_t *pause) {
  (void)n; (void)k; (void)rounds; (void)flat; (void)pause;
  fail("chain: Boehm GC has no ephemerons");
}

static void report(void) { printf(" collections=%zu", (size_t)GC_get_gc_no()); }
#else
#error "define BACKEND_HP or BACKEND_BOEHM"
#endif

/* hp: exactly n. Boehm: a stale stack word may keep a few objects, whose finalizers then run
 * in the next round (final_warm). */
static bool finalized_ok(size_t n) { return g_finalized + EXTRA_OK >= n && g_finalized <= n + EXTRA_OK; }

int main(int argc, char **argv) {
  if (argc < 2) fail("usage: weakbench-X table|table_minor|final|final_warm|chain|chain_flat [N] [ROUNDS] [K]");
  const char *w = argv[1];
  size_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
  size_t rounds = argc > 3 ? strtoull(argv[3], NULL, 10) : 10;
  size_t k = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
  if (n == 0 || rounds == 0 || rounds > 1000 || k == 0 || n % k != 0) fail("bad N, ROUNDS or K");
  uint64_t *pause = calloc(rounds, sizeof *pause), *round = calloc(rounds, sizeof *round);
  g_pause_cpu = calloc(rounds, sizeof *g_pause_cpu);
  if (!pause || !round || !g_pause_cpu) fail("out of memory");
  uint64_t c0 = cpu_ns();
  uint64_t t0 = now_ns();
  init();
  printf("backend=%s workload=%s n=%zu", NAME, w, n);
  if (strcmp(w, "table") == 0 || strcmp(w, "table_minor") == 0) {
#if defined(BACKEND_HP)
    table(n, rounds, strcmp(w, "table") == 0 ? HP_GC_MAJOR : HP_GC_MINOR, pause, round);
#else
    table(n, rounds, 0, pause, round);
#endif
    uint64_t p = median(pause, rounds), r = median(round, rounds);
    uint64_t pc = median(g_pause_cpu, rounds);
    printf(" pause_ns=%llu ns_per_entry=%.2f round_ns=%llu round_ns_per_entry=%.2f pause_cpu_ns=%llu"
           " cpu_ns_per_entry=%.2f", (unsigned long long)p, (double)p / (double)n, (unsigned long long)r,
           (double)r / (double)n, (unsigned long long)pc, (double)pc / (double)n);
  } else if (strcmp(w, "final") == 0 || strcmp(w, "final_warm") == 0) {
    if (strcmp(w, "final_warm") == 0) {            /* a first round warms the heap up, untimed */
      final(n);
      if (!finalized_ok(n)) fail("final: not every finalizer ran once");
      g_finalized = 0;
      t0 = now_ns();
      c0 = cpu_ns();
    }
    final(n);
    if (!finalized_ok(n)) fail("final: not every finalizer ran once");
    uint64_t wall = now_ns() - t0, cpu = cpu_ns() - c0;
    printf(" finalized=%zu ns_per_object=%.2f cpu_ns_per_object=%.2f", g_finalized, (double)wall / (double)n,
           (double)cpu / (double)n);
  } else if (strcmp(w, "chain") == 0 || strcmp(w, "chain_flat") == 0) {
    chain(n, k, rounds, strcmp(w, "chain_flat") == 0, pause);
    printf(" chains=%zu pause_ns=%llu pause_cpu_ns=%llu", k, (unsigned long long)median(pause, rounds),
           (unsigned long long)median(g_pause_cpu, rounds));
  } else {
    fail("unknown workload");
  }
  printf(" wall_ns=%llu", (unsigned long long)(now_ns() - t0));
  report();
  printf("\n");
  return 0;
}
