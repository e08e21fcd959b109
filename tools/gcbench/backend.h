/* tools/gcbench/backend.h -- the collector shim that gcbench's workloads are written against.
 *
 * The workloads (workloads.c) are compiled three times, into programs that never share a
 * process: -DBACKEND_HP (gcbench-hp: precise shadow-stack roots), -DBACKEND_HP
 * -DGB_NO_SHADOW_STACK (gcbench-hp-cons: no shadow stack at all, GB_ROOTS/GB_UNROOT are no-ops
 * and hp finds C locals by its conservative stack scan only, the way Boehm GC is used), and
 * -DBACKEND_BOEHM (gcbench-boehm). Boehm GC scans every writable mapping it believes is a
 * root, and hp's heap reservation is huge, so neither back end may see the other's memory
 * (and peak RSS is per back end).
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
 *   gb_collect_minor()         a minor collection (Boehm: a full one, it has no other)
 *   gb_init() / gb_report()    set-up; the statistics as one `key=value` list on stdout
 * Threads (every thread but the main one):
 *   gb_threads_init()          in the main thread, before the first other thread starts
 *                              (Boehm: GC_allow_register_threads; hp: nothing)
 *   gb_thread_begin() / gb_thread_end()   first and last thing a thread does: hp_thread_attach
 *                              / hp_thread_detach; Boehm: GC_register_my_thread /
 *                              GC_unregister_my_thread (gc.h with GC_THREADS, no redirects)
 *   gb_blocking_enter() / gb_blocking_leave()  around a wait (a barrier, pthread_join): hp's
 *                              blocking region, so that a collection does not wait for the
 *                              thread; nothing for Boehm, which stops threads with signals
 *   gb_safepoint()             hp_safepoint; nothing for Boehm
 * The allocating thread's hp_thread is a thread-local variable (gb_t).
 * Stack-scan and stop-the-world statistics (hp): gb_track_scan = true makes the event handler
 * read hp_gc_stats at the end of every collection and attribute the stack-scan time and
 * bytes to minor or major collections (outside the measured pause, but inside the stopped
 * world: workloads with many collections leave it off).
 * Pauses: every collection's pause is recorded (hp: its event handler, pause_ns; Boehm:
 * clock_gettime at GC_EVENT_START and GC_EVENT_END) into a buffer from malloc, which neither
 * collector scans, so that exact quantiles over all collections can be computed.
 * Pause logs, for tools/hp-gcplot and `hp-dev report`: hp writes its own with HP_GC_LOG=json
 * HP_GC_LOG_FILE=FILE; for Boehm, GCBENCH_PAUSE_LOG=FILE makes gb_report write every
 * collection in the same form (v, kind "full", number, start_ns, pause_ns; one JSON object
 * per line).
 */
#ifndef HP_TOOLS_GCBENCH_BACKEND_H
#define HP_TOOLS_GCBENCH_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

#ifdef GB_NO_SHADOW_STACK
#define GB_NAME "hp-cons"
#else
#define GB_NAME "hp"
#endif

typedef struct gb_type { hp_type t; } gb_type;
#define GB_TYPE(nm, sz, offs, n) \
  { { .name = (nm), .size = (sz), .flags = (n) ? 0 : HP_TYPE_LEAF, .noffsets = (n), .offsets = (offs) } }

static hp_runtime *gb_rt;
static __thread hp_thread *gb_t;
static int gb_rt_conservative;     /* cfg.conservative_stack as the runtime was made */
static hp_type gb_ptrs_type = { .name = "pointer array", .size = 0, .flags = HP_TYPE_ARRAY };
static hp_type gb_doubles_type = { .name = "double array", .size = 0, .flags = HP_TYPE_LEAF };
/* Pauses by kind, for the minor/major split (hp_gc_stats has its own histogram as well). */
static gb_pauses gb_minor_log, gb_major_log;
/* Stack-scan time and bytes by kind of collection (gb_track_scan). */
static bool gb_track_scan;
static uint64_t gb_scan_seen_ns, gb_scan_seen_bytes;
static uint64_t gb_scan_ns[2], gb_scan_bytes[2];

static void gb_on_event(hp_runtime *rt, const hp_gc_event *ev, void *data) {
  (void)data;
  if (!ev->end) return;
  gb_pauses_add(&gb_log, ev->pause_ns);
  gb_pauses_add(ev->kind == HP_GC_MINOR ? &gb_minor_log : &gb_major_log, ev->pause_ns);
  if (gb_track_scan) {
    /* The counters only move inside collections: what moved since the last event's read is
     * this collection's. (A major collection scans twice: its promoting minor and marking.) */
    struct hp_gc_stats s;
    hp_gc_stats(rt, &s);
    gb_scan_ns[ev->kind] += s.stack_scan_ns - gb_scan_seen_ns;
    gb_scan_bytes[ev->kind] += s.stack_bytes_scanned - gb_scan_seen_bytes;
    gb_scan_seen_ns = s.stack_scan_ns;
    gb_scan_seen_bytes = s.stack_bytes_scanned;
  }
}

static void gb_register(gb_type *ty) {
  if (hp_type_register(gb_rt, &ty->t) != 0) { perror("gcbench: hp_type_register"); exit(2); }
}

/* hp_new returns NULL only when memory is exhausted after a full collection (include/hp.h),
 * after calling this handler. No workload comes near exhaustion, so a call is reported and
 * ends the run (exit 3) rather than letting the workload store into NULL. With
 * GCBENCH_OOM_RETRY=1 the handler asks hp to try again instead (up to 100 times per thread),
 * which keeps a measurement going; the result line counts the calls (oom_calls). */
static unsigned long gb_oom_calls;
static __thread unsigned gb_oom_streak;
static bool gb_on_oom(hp_runtime *rt, size_t size, void *data) {
  (void)rt; (void)data;
  unsigned long n = __atomic_add_fetch(&gb_oom_calls, 1, __ATOMIC_RELAXED);
  if (getenv("GCBENCH_OOM_RETRY") && ++gb_oom_streak < 100) return true;
  fprintf(stderr, "%s: hp_new(%zu bytes) failed: the out-of-memory handler was called (call %lu) with the "
          "heap far from any limit\n", GB_NAME, size, n);
  fflush(stderr);
  _exit(3);
}

/* A runtime with hp's defaults (which include conservative stack scanning since d3fb902; the
 * workloads root every local precisely, so HP_CONSERVATIVE=0 measures precise roots alone),
 * then HP_* from the environment (HP_GC_LOG=1, HP_EDEN_SIZE=..., HP_CONSERVATIVE=0).
 * gcbench-hp-cons has no shadow stack: it needs conservative scanning and forces it on. */
static void gb_init(void) {
  hp_config c;
  hp_config_default(&c);
  if (hp_config_from_env(&c) != 0) exit(2);
#ifdef GB_NO_SHADOW_STACK
  if (!c.conservative_stack) fprintf(stderr, "gcbench-hp-cons: HP_CONSERVATIVE=0 ignored (no shadow stack)\n");
  c.conservative_stack = true;
#endif
  gb_rt = hp_runtime_new(&c);
  if (gb_rt == NULL) { perror("gcbench: hp_runtime_new"); exit(2); }
  gb_rt_conservative = c.conservative_stack;
  gb_t = hp_main_thread(gb_rt);
  hp_set_gc_event_handler(gb_rt, gb_on_event, NULL);
  hp_set_oom_handler(gb_rt, gb_on_oom, NULL);
  if (hp_type_register(gb_rt, &gb_ptrs_type) != 0 || hp_type_register(gb_rt, &gb_doubles_type) != 0) {
    perror("gcbench: hp_type_register");
    exit(2);
  }
}

GB_INLINE void *gb_new(const gb_type *ty) { return hp_new(gb_t, &ty->t, ty->t.size); }
static inline void **gb_new_ptrs(size_t n) { return hp_new(gb_t, &gb_ptrs_type, n * sizeof(void *)); }
static inline double *gb_new_doubles(size_t n) { return hp_new(gb_t, &gb_doubles_type, n * sizeof(double)); }

#ifdef GB_NO_SHADOW_STACK
#define GB_ROOTS(f, ...) ((void)0)
#define GB_UNROOT(f) ((void)0)
#else
#define GB_ROOTS(f, ...) HP_ROOTS(gb_t, f, __VA_ARGS__)
#define GB_UNROOT(f) HP_UNROOT(gb_t, f)
#endif
#define GB_SLOT(p) HP_SLOT(p)
/* Global roots are registered in every mode: hp does not scan .data/.bss. */
#define gb_root(pp) hp_root_add(gb_rt, (void **)(void *)(pp))

GB_INLINE void gb_write(void *obj, void *slot, void *value) { hp_write(gb_t, obj, slot, value); }
static inline void gb_collect(void) { hp_collect(gb_t, HP_GC_MAJOR); }
static inline void gb_collect_minor(void) { hp_collect(gb_t, HP_GC_MINOR); }
GB_INLINE void gb_safepoint(void) { hp_safepoint(gb_t); }

static void gb_threads_init(void) {}
static void gb_thread_begin(void) {
  gb_t = hp_thread_attach(gb_rt);
  if (gb_t == NULL) { perror("gcbench: hp_thread_attach"); exit(2); }
}
static void gb_thread_end(void) {
  hp_thread_detach(gb_t);
  gb_t = NULL;
}
static void gb_blocking_enter(void) { hp_blocking_enter(gb_t); }
static void gb_blocking_leave(void) { hp_blocking_leave(gb_t); }

/* Stack bytes scanned and scan time so far (hp_gc_stats). */
static void gb_stack_stats(uint64_t *bytes, uint64_t *ns) {
  struct hp_gc_stats s;
  hp_gc_stats(gb_rt, &s);
  *bytes = s.stack_bytes_scanned;
  *ns = s.stack_scan_ns;
}

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
  uint64_t major_p99 = gb_quantile(gb_major_log.ns, gb_major_log.len, 0.99);
  uint64_t major_p50 = gb_quantile(gb_major_log.ns, gb_major_log.len, 0.50);
  fprintf(out, " collections=%llu minor=%llu major=%llu gc_ns=%llu minor_max_ns=%llu"
          " minor_p50_ns=%llu minor_p99_ns=%llu major_max_ns=%llu heap_bytes=%llu"
          " allocated_bytes=%llu copied_bytes=%llu promoted_bytes=%llu tenure=%u",
          (unsigned long long)(s.minor_count + s.major_count), (unsigned long long)s.minor_count,
          (unsigned long long)s.major_count, (unsigned long long)s.gc_ns,
          (unsigned long long)s.minor.max_ns, (unsigned long long)minor_p50,
          (unsigned long long)minor_p99, (unsigned long long)s.major.max_ns,
          (unsigned long long)s.heap_committed, (unsigned long long)s.bytes_allocated,
          (unsigned long long)s.bytes_copied, (unsigned long long)s.bytes_promoted, s.tenure_age);
  uint64_t n = s.minor_count + s.major_count;
  fprintf(out, " oom_calls=%lu", gb_oom_calls);
  fprintf(out, " conservative=%d major_p50_ns=%llu major_p99_ns=%llu minor_total_ns=%llu"
          " major_total_ns=%llu pinned_bytes=%llu stack_bytes=%llu stack_scan_ns=%llu"
          " stop_total_ns=%llu stop_mean_ns=%llu stop_max_ns=%llu",
          gb_rt_conservative, (unsigned long long)major_p50, (unsigned long long)major_p99,
          (unsigned long long)s.minor.total_ns, (unsigned long long)s.major.total_ns,
          (unsigned long long)s.bytes_pinned, (unsigned long long)s.stack_bytes_scanned,
          (unsigned long long)s.stack_scan_ns, (unsigned long long)s.stop_ns_total,
          (unsigned long long)(n ? s.stop_ns_total / n : 0), (unsigned long long)s.stop_ns_max);
  fprintf(out, " cycles=%llu cycle_start_max_ns=%llu cycle_finish_max_ns=%llu", (unsigned long long)s.cycles,
          (unsigned long long)s.cycle_start_ns_max, (unsigned long long)s.cycle_finish_ns_max);
  fprintf(out, " eden_bytes=%llu eden_max_bytes=%llu tlab_bytes=%llu", (unsigned long long)s.eden_size,
          (unsigned long long)s.eden_size_max, (unsigned long long)s.tlab_size);
  if (gb_track_scan)
    fprintf(out, " minor_scan_ns=%llu minor_scan_bytes=%llu major_scan_ns=%llu major_scan_bytes=%llu",
            (unsigned long long)gb_scan_ns[HP_GC_MINOR], (unsigned long long)gb_scan_bytes[HP_GC_MINOR],
            (unsigned long long)gb_scan_ns[HP_GC_MAJOR], (unsigned long long)gb_scan_bytes[HP_GC_MAJOR]);
  if (getenv("GCBENCH_HP_STATS")) hp_gc_stats_print(gb_rt, stderr);
}

/* ====================================================================================
 *  Boehm GC (default settings: GC_INIT, GC_MALLOC, GC_MALLOC_ATOMIC, no incremental mode)
 * ==================================================================================== */
#elif defined(BACKEND_BOEHM)
/* Debian's libgc is built with thread support (and the parallel marker): declare the thread
 * API. No redirects: threads are plain pthreads that register themselves
 * (GC_allow_register_threads + GC_register_my_thread), as hp's threads attach themselves.
 * Nothing changes for a program that never calls gb_threads_init. */
#define GC_THREADS 1
#define GC_NO_THREAD_REDIRECTS 1
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
static uint64_t gb_init_ns;
static gb_pauses gb_ev_start, gb_ev_pause;   /* GCBENCH_PAUSE_LOG: in order, unsorted */

static void GC_CALLBACK gb_on_event(GC_EventType e) {
  if (e == GC_EVENT_START) {
    gb_gc_start = gb_now_ns();
  } else if (e == GC_EVENT_END) {
    uint64_t pause = gb_now_ns() - gb_gc_start;
    gb_pauses_add(&gb_log, pause);
    gb_pauses_add(&gb_ev_start, gb_gc_start - gb_init_ns);
    gb_pauses_add(&gb_ev_pause, pause);
    gb_collections++;
  }
}

/* Writes GCBENCH_PAUSE_LOG, if set (see the top of this file). */
static void gb_write_pause_log(void) {
  const char *path = getenv("GCBENCH_PAUSE_LOG");
  if (path == NULL || *path == 0) return;
  FILE *f = fopen(path, "w");
  if (f == NULL) { perror(path); exit(2); }
  for (size_t i = 0; i < gb_ev_pause.len; i++)
    fprintf(f, "{\"v\":1,\"kind\":\"full\",\"number\":%zu,\"start_ns\":%llu,\"pause_ns\":%llu}\n", i + 1,
            (unsigned long long)gb_ev_start.ns[i], (unsigned long long)gb_ev_pause.ns[i]);
  if (fclose(f) != 0) { perror(path); exit(2); }
}

static void gb_register(gb_type *ty) { (void)ty; }
static void gb_init(void) {
  gb_init_ns = gb_now_ns();
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
static inline void gb_collect_minor(void) { GC_gcollect(); }
GB_INLINE void gb_safepoint(void) {}

/* May start the parallel marker threads (GC_get_parallel() says how many extra ones). */
static void gb_threads_init(void) { GC_allow_register_threads(); }
static void gb_thread_begin(void) {
  struct GC_stack_base sb;
  if (GC_get_stack_base(&sb) != GC_SUCCESS || GC_register_my_thread(&sb) != GC_SUCCESS) {
    fprintf(stderr, "gcbench: GC_register_my_thread failed\n");
    exit(2);
  }
}
static void gb_thread_end(void) { GC_unregister_my_thread(); }
static void gb_blocking_enter(void) {}
static void gb_blocking_leave(void) {}
static bool gb_track_scan;
static void gb_stack_stats(uint64_t *bytes, uint64_t *ns) { *bytes = *ns = 0; }

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
  fprintf(out, " parallel_markers=%d", GC_get_parallel());
  gb_write_pause_log();
}

#else
#error "define BACKEND_HP or BACKEND_BOEHM"
#endif

#endif /* HP_TOOLS_GCBENCH_BACKEND_H */
