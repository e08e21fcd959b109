/* examples/lox/gc-boehm.c -- hplox's memory layer on Boehm GC (hplox-boehm, for benchmarks).
 *
 * Boehm GC in its default, conservative mode: GC_MALLOC for objects with slots,
 * GC_MALLOC_ATOMIC for leaves (strings, byte code), no barrier. The root arrays are
 * uncollectable objects, which Boehm scans; the VM's globals are in .bss, which it scans
 * too, as it scans the C stack. Pauses are timed at GC_EVENT_START / GC_EVENT_END.
 */
#define GC_THREADS 1
#define GC_NO_THREAD_REDIRECTS 1
#include <gc/gc.h>

#include "lxgc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t start_ns, pause_start, gc_ns, max_pause, ncollections;
static uint64_t *pauses;                 /* malloc: not scanned */
static size_t npauses, cap_pauses;

static void GC_CALLBACK on_event(GC_EventType e) {
  if (e == GC_EVENT_START) {
    pause_start = now_ns();
  } else if (e == GC_EVENT_END) {
    uint64_t p = now_ns() - pause_start;
    gc_ns += p;
    ncollections++;
    if (p > max_pause) max_pause = p;
    if (npauses == cap_pauses) {
      size_t cap = cap_pauses ? cap_pauses * 2 : 1024;
      uint64_t *np = realloc(pauses, cap * sizeof *np);
      if (np == NULL) return;
      pauses = np;
      cap_pauses = cap;
    }
    pauses[npauses++] = p;
  }
}

void lx_init(lx_type **types, size_t ntypes) {
  (void)types; (void)ntypes;
  GC_INIT();
  GC_set_on_collection_event(on_event);
  start_ns = now_ns();
}

void lx_shutdown(void) {}

void *lx_alloc_boehm(lx_type *t, size_t size) {
  void *p;
  if (t->flags & LX_LEAF) {
    p = GC_MALLOC_ATOMIC(size);
    if (p != NULL) memset(p, 0, size);
  } else {
    p = GC_MALLOC(size);
  }
  if (p == NULL) { fprintf(stderr, "hplox: out of memory (an object of %zu bytes)\n", size); exit(70); }
  return p;
}

void *lx_alloc_roots(size_t bytes) {
  void *p = GC_MALLOC_UNCOLLECTABLE(bytes);
  if (p == NULL) { fputs("hplox: out of memory\n", stderr); exit(70); }
  return p;
}

void lx_range_add(lx_range *r) { (void)r; }
void lx_root_add(void *slot) { (void)slot; }
void lx_collect(void) { GC_gcollect(); }

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

void lx_summary(lx_gc_summary *s) {
  uint64_t p99 = 0;
  if (npauses > 0) {
    qsort(pauses, npauses, sizeof *pauses, cmp_u64);
    p99 = pauses[(size_t)((double)(npauses - 1) * 0.99)];
  }
  *s = (lx_gc_summary){
    .collections = ncollections, .minor = 0, .major = ncollections, .gc_ns = gc_ns,
    .max_pause_ns = max_pause, .p99_pause_ns = p99, .total_ns = now_ns() - start_ns,
    .bytes_allocated = GC_get_total_bytes(), .heap_bytes = GC_get_heap_size(),
    .peak_heap = GC_get_heap_size(),        /* Boehm's heap hardly ever shrinks: its peak */
  };
}

const char *lx_gc_name(void) { return "boehm"; }

void lx_stats_print(FILE *out) {
  lx_gc_summary s;
  lx_summary(&s);
  fprintf(out, "Boehm GC %d.%d.%d: %llu collections, %.3f ms in collections (max pause %.3f ms, "
          "p99 %.3f ms), %llu bytes allocated, heap %llu bytes\n",
          GC_VERSION_MAJOR, GC_VERSION_MINOR, GC_VERSION_MICRO,
          (unsigned long long)s.collections, s.gc_ns / 1e6, s.max_pause_ns / 1e6, s.p99_pause_ns / 1e6,
          (unsigned long long)s.bytes_allocated, (unsigned long long)s.heap_bytes);
  fprintf(out, "gc-summary: gc=%s collections=%llu minor=%llu major=%llu gc_ms=%.3f max_pause_ms=%.3f "
          "p99_pause_ms=%.3f allocated=%llu heap=%llu peak_heap=%llu\n", lx_gc_name(),
          (unsigned long long)s.collections, (unsigned long long)s.minor, (unsigned long long)s.major,
          s.gc_ns / 1e6, s.max_pause_ns / 1e6, s.p99_pause_ns / 1e6,
          (unsigned long long)s.bytes_allocated, (unsigned long long)s.heap_bytes,
          (unsigned long long)s.peak_heap);
}
