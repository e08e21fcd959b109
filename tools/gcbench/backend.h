/* tools/gcbench/backend.h -- the collector shim that gcbench's workloads are written against.
 *
 * The workloads (workloads.c) are compiled twice, once with -DBACKEND_HP and once with
 * -DBACKEND_BOEHM, into two programs (gcbench-hp, gcbench-boehm) that never share a process:
 * Boehm GC scans every writable mapping it believes is a root, and hp's heap reservation is
 * huge, so neither back end may see the other's memory (and peak RSS is per back end).
 *
 * What a workload may use (every name starts gb_/GB_):
 *   gb_type T = GB_TYPE("name", size, offsets, n)  a fixed-size object with n pointer fields
 *   gb_register(&T)            once, after gb_init
 *   gb_new(&T)                 a zeroed object of T
 *   gb_new_ptrs(n)             a zeroed array of n managed pointers
 *   gb_new_doubles(n)          an uninitialised array of n doubles (holds no pointers)
 *   GB_ROOTS(f, GB_SLOT(a), ...) / GB_UNROOT(f)   a shadow-stack frame for locals (hp); nothing
 *                              for Boehm, which scans the C stack conservatively
 *   gb_root(&global)           a global that holds a managed pointer (Boehm scans .data/.bss)
 *   gb_write(obj, &obj->f, v)  a pointer store into an object that may be old: hp_write for hp,
 *                              a plain store for Boehm (no barrier in its default mode). Storing
 *                              into an object allocated since the last allocation is a plain
 *                              store in both.
 *   gb_collect()               a full collection
 *   gb_init() / gb_report()    set-up; the statistics as one `key=value` list on stdout
 * Pauses: every collection's pause is recorded (hp: its event handler, pause_ns; Boehm:
 * clock_gettime at GC_EVENT_START and GC_EVENT_END) into a buffer from malloc, which neither
 * collector scans, so that exact quantiles over all collections can be computed.
 */
#ifndef HP_TOOLS_GCBENCH_BACKEND_H
#define HP_TOOLS_GCBENCH_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GB_INLINE static inline __attribute__((always_inline))

static inline uint64_t gb_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the pause log (both back ends) ---- */
typedef struct gb_pauses {
  uint64_t *ns;               /* malloc'ed: invisible to both collectors */
  size_t len, cap;
  uint64_t total_ns;
} gb_pauses;
static gb_pauses gb_log;

static void gb_pauses_add(gb_pauses *l, uint64_t ns) {
  if (l->len == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 65536;
    uint64_t *p = realloc(l->ns, cap * sizeof *p);
    if (p == NULL) { fprintf(stderr, "gcbench: out of memory for the pause log\n"); exit(2); }
    l->ns = p;
    l->cap = cap;
  }
  l->ns[l->len++] = ns;
  l->total_ns += ns;
}

static int gb_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* The exact q-quantile (nearest rank) of v[0..n), which it sorts; 0 when n is 0. */
static uint64_t gb_quantile(uint64_t *v, size_t n, double q) {
  if (n == 0) return 0;
  qsort(v, n, sizeof *v, gb_cmp_u64);
  size_t rank = (size_t)(q * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1];
}

/* ====================================================================================
 *  hp
 * ==================================================================================== */
#if defined(BACKEND_HP)
#include <hp.h>

#define GB_NAME "hp"

typedef struct gb_type { hp_type t; } gb_type;
#define GB_TYPE(nm, sz, offs, n) \
  { { .name = (nm), .size = (sz), .flags = (n) ? 0 : HP_TYPE_LEAF, .noffsets = (n), .offsets = (offs) } }

static hp_runtime *gb_rt;
static hp_thread *gb_t;
static hp_type gb_ptrs_type = { .name = "pointer array", .size = 0, .flags = HP_TYPE_ARRAY };
static hp_type gb_doubles_type = { .name = "double array", .size = 0, .flags = HP_TYPE_LEAF };
/* Pauses by kind, for the minor/major split (hp_gc_stats has its own histogram as well). */
static gb_pauses gb_minor_log;

static void gb_on_event(hp_runtime *rt, const hp_gc_event *ev, void *data) {
  (void)rt; (void)data;
  if (!ev->end) return;
  gb_pauses_add(&gb_log, ev->pause_ns);
  if (ev->kind == HP_GC_MINOR) gb_pauses_add(&gb_minor_log, ev->pause_ns);
}

static void gb_register(gb_type *ty) {
  if (hp_type_register(gb_rt, &ty->t) != 0) { perror("gcbench: hp_type_register"); exit(2); }
}

/* A runtime with hp's defaults (which include conservative stack scanning since d3fb902; the
 * workloads root every local precisely, so HP_CONSERVATIVE=0 measures precise roots alone),
 * then HP_* from the environment (HP_GC_LOG=1, HP_EDEN_SIZE=..., HP_CONSERVATIVE=0). */
static void gb_init(void) {
  hp_config c;
  hp_config_default(&c);
  if (hp_config_from_env(&c) != 0) exit(2);
  gb_rt = hp_runtime_new(&c);
  if (gb_rt == NULL) { perror("gcbench: hp_runtime_new"); exit(2); }
  gb_t = hp_main_thread(gb_rt);
  hp_set_gc_event_handler(gb_rt, gb_on_event, NULL);
  if (hp_type_register(gb_rt, &gb_ptrs_type) != 0 || hp_type_register(gb_rt, &gb_doubles_type) != 0) {
    perror("gcbench: hp_type_register");
    exit(2);
  }
}

GB_INLINE void *gb_new(const gb_type *ty) { return hp_new(gb_t, &ty->t, ty->t.size); }
static inline void **gb_new_ptrs(size_t n) { return hp_new(gb_t, &gb_ptrs_type, n * sizeof(void *)); }
static inline double *gb_new_doubles(size_t n) { return hp_new(gb_t, &gb_doubles_type, n * sizeof(double)); }

#define GB_ROOTS(f, ...) HP_ROOTS(gb_t, f, __VA_ARGS__)
#define GB_UNROOT(f) HP_UNROOT(gb_t, f)
#define GB_SLOT(p) HP_SLOT(p)
#define gb_root(pp) hp_root_add(gb_rt, (void **)(void *)(pp))

GB_INLINE void gb_write(void *obj, void *slot, void *value) { hp_write(gb_t, obj, slot, value); }
static inline void gb_collect(void) { hp_collect(gb_t, HP_GC_MAJOR); }

static inline const char *gb_version(void) {
  static char v[32];
  int n = hp_version();
  snprintf(v, sizeof v, "%d.%d.%d", n / 10000, n / 100 % 100, n % 100);
  return v;
}

/* Back-end statistics, appended to the result line. */
static void gb_report(FILE *out) {
  struct hp_gc_stats s;
  hp_gc_stats(gb_rt, &s);
  uint64_t minor_p99 = gb_quantile(gb_minor_log.ns, gb_minor_log.len, 0.99);
  uint64_t minor_p50 = gb_quantile(gb_minor_log.ns, gb_minor_log.len, 0.50);
  fprintf(out, " collections=%llu minor=%llu major=%llu gc_ns=%llu minor_max_ns=%llu"
          " minor_p50_ns=%llu minor_p99_ns=%llu major_max_ns=%llu heap_bytes=%llu"
          " allocated_bytes=%llu copied_bytes=%llu promoted_bytes=%llu tenure=%u",
          (unsigned long long)(s.minor_count + s.major_count), (unsigned long long)s.minor_count,
          (unsigned long long)s.major_count, (unsigned long long)s.gc_ns,
          (unsigned long long)s.minor.max_ns, (unsigned long long)minor_p50,
          (unsigned long long)minor_p99, (unsigned long long)s.major.max_ns,
          (unsigned long long)s.heap_committed, (unsigned long long)s.bytes_allocated,
          (unsigned long long)s.bytes_copied, (unsigned long long)s.bytes_promoted, s.tenure_age);
  if (getenv("GCBENCH_HP_STATS")) hp_gc_stats_print(gb_rt, stderr);
}

/* ====================================================================================
 *  Boehm GC (default settings: GC_INIT, GC_MALLOC, GC_MALLOC_ATOMIC, no incremental mode)
 * ==================================================================================== */
#elif defined(BACKEND_BOEHM)
#include <gc.h>

#define GB_NAME "boehm"

typedef struct gb_type {
  size_t size;
  int atomic;
  const uint32_t *offsets;    /* unused: Boehm scans every word of a GC_MALLOC object */
} gb_type;
#define GB_TYPE(nm, sz, offs, n) { .size = (sz), .atomic = (n) == 0, .offsets = (offs) }

static uint64_t gb_gc_start;
static uint64_t gb_collections;

static void GC_CALLBACK gb_on_event(GC_EventType e) {
  if (e == GC_EVENT_START) {
    gb_gc_start = gb_now_ns();
  } else if (e == GC_EVENT_END) {
    gb_pauses_add(&gb_log, gb_now_ns() - gb_gc_start);
    gb_collections++;
  }
}

static void gb_register(gb_type *ty) { (void)ty; }
static void gb_init(void) {
  GC_INIT();
  GC_start_performance_measurement();
  GC_set_on_collection_event(gb_on_event);
}

GB_INLINE void *gb_new(const gb_type *ty) { return ty->atomic ? GC_MALLOC_ATOMIC(ty->size) : GC_MALLOC(ty->size); }
static inline void **gb_new_ptrs(size_t n) { return GC_MALLOC(n * sizeof(void *)); }
static inline double *gb_new_doubles(size_t n) { return GC_MALLOC_ATOMIC(n * sizeof(double)); }

#define GB_ROOTS(f, ...) ((void)0)
#define GB_UNROOT(f) ((void)0)
#define GB_SLOT(p) (&(p))
#define gb_root(pp) ((void)(pp))

GB_INLINE void gb_write(void *obj, void *slot, void *value) { (void)obj; *(void **)slot = value; }
static inline void gb_collect(void) { GC_gcollect(); }

static inline const char *gb_version(void) {
  static char v[32];
  snprintf(v, sizeof v, "%d.%d.%d", GC_VERSION_MAJOR, GC_VERSION_MINOR, GC_VERSION_MICRO);
  return v;
}

static void gb_report(FILE *out) {
  fprintf(out, " collections=%llu minor=0 major=%llu gc_ns=%llu gc_ms_boehm=%lu heap_bytes=%zu"
          " allocated_bytes=%zu", (unsigned long long)gb_collections,
          (unsigned long long)gb_collections, (unsigned long long)gb_log.total_ns,
          GC_get_full_gc_total_time(), GC_get_heap_size(), GC_get_total_bytes());
}

#else
#error "define BACKEND_HP or BACKEND_BOEHM"
#endif

#endif /* HP_TOOLS_GCBENCH_BACKEND_H */
