/* examples/lox/gc-hp.c -- hplox's memory layer on hp (see lxgc.h).
 *
 * One runtime, the main thread. Options come from hp's defaults, with conservative stack
 * scanning off (every root of the VM is precise), then from HP_* variables through
 * hp_config_from_env: HP_CONSERVATIVE=1 turns the scan back on, HP_GC_STRESS=N collects
 * every N allocations, HP_GC_VERIFY=1 verifies the heap after each collection.
 */
#include "lxgc.h"

#include <stdlib.h>

_Static_assert((int)LX_LEAF == (int)HP_TYPE_LEAF && (int)LX_ARRAY == (int)HP_TYPE_ARRAY, "lx flags are hp's");
#ifdef LOX_WEAK_STRINGS
_Static_assert((int)LX_WEAK_ARRAY == (int)HP_TYPE_WEAK_ARRAY, "lx flags are hp's");
#endif

hp_thread *lx_thread;
static hp_runtime *rt;

void lx_out_of_memory(size_t size) {
  fprintf(stderr, "hplox: out of memory (an object of %zu bytes)\n", size);
  exit(70);
}

static uint64_t peak_heap;           /* the heap in use before each collection, at most */

static void on_gc_event(hp_runtime *r, const hp_gc_event *ev, void *data) {
  (void)r; (void)data;
  uint64_t used = ev->end ? ev->heap_after : ev->heap_before;
  if (used > peak_heap) peak_heap = used;
}

void lx_init(lx_type **types, size_t ntypes) {
  hp_config cfg;
  hp_config_default(&cfg);
  cfg.conservative_stack = false;
  hp_config_from_env(&cfg);             /* a bad value is reported and left as it was */
  rt = hp_runtime_new(&cfg);
  if (rt == NULL) { perror("hplox: hp_runtime_new"); exit(70); }
  lx_thread = hp_main_thread(rt);
  hp_set_gc_event_handler(rt, on_gc_event, NULL);
  for (size_t i = 0; i < ntypes; i++) {
    if (hp_type_register(rt, types[i]) != 0) { perror("hplox: hp_type_register"); exit(70); }
  }
}

void lx_shutdown(void) {
  hp_runtime_destroy(rt);
  rt = NULL;
}

void *lx_alloc_roots(size_t bytes) {
  void *p = calloc(1, bytes);
  if (p == NULL) lx_out_of_memory(bytes);
  return p;
}

void lx_range_add(lx_range *r) {
  if (hp_root_range_add(rt, r) != 0) lx_out_of_memory(sizeof *r);
}

void lx_root_add(void *slot) {
  if (hp_root_add(rt, (void **)slot) != 0) lx_out_of_memory(sizeof(void *));
}

void lx_collect(void) { hp_collect(lx_thread, HP_GC_MAJOR); }

void lx_summary(lx_gc_summary *s) {
  struct hp_gc_stats st;
  hp_gc_stats(rt, &st);
  struct hp_gc_pause_stats all = { 0 };               /* both kinds, for the p99 */
  for (int i = 0; i < HP_PAUSE_BUCKETS; i++) all.histogram[i] = st.minor.histogram[i] + st.major.histogram[i];
  all.count = st.minor.count + st.major.count;
  all.max_ns = st.minor.max_ns > st.major.max_ns ? st.minor.max_ns : st.major.max_ns;
  *s = (lx_gc_summary){
    .collections = st.minor_count + st.major_count,
    .minor = st.minor_count,
    .major = st.major_count,
    .gc_ns = st.gc_ns,
    .max_pause_ns = st.minor.max_ns > st.major.max_ns ? st.minor.max_ns : st.major.max_ns,
    .p99_pause_ns = all.count ? hp_gc_pause_quantile(&all, 0.99) : 0,
    .total_ns = st.total_ns,
    .bytes_allocated = st.bytes_allocated,
    .heap_bytes = st.heap_committed,
    .peak_heap = peak_heap,
  };
}

const char *lx_gc_name(void) { return "hp"; }

void lx_stats_print(FILE *out) {
  hp_gc_stats_print(rt, out);
  lx_gc_summary s;
  lx_summary(&s);
  fprintf(out, "peak heap in use (at the start or end of a collection): %llu bytes\n",
          (unsigned long long)s.peak_heap);
  fprintf(out, "gc-summary: gc=%s collections=%llu minor=%llu major=%llu gc_ms=%.3f max_pause_ms=%.3f "
          "p99_pause_ms=%.3f allocated=%llu heap=%llu peak_heap=%llu\n", lx_gc_name(),
          (unsigned long long)s.collections, (unsigned long long)s.minor, (unsigned long long)s.major,
          s.gc_ns / 1e6, s.max_pause_ns / 1e6, s.p99_pause_ns / 1e6,
          (unsigned long long)s.bytes_allocated, (unsigned long long)s.heap_bytes,
          (unsigned long long)s.peak_heap);
}
