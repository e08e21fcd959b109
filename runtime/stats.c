/* runtime/stats.c -- the statistics read out (hp_gc_stats) and printed, and the pause
 * quantiles. The collector writes them (gc/collect.c, gc/mutator.c); this reads them with
 * no collection running. */
#include "runtime/runtime.h"
#include "pools/platform/os.h"

#include <math.h>
#include <stdio.h>

uint64_t hp_gc_pause_quantile(const struct hp_gc_pause_stats *p, double q) {
  if (p->count == 0) return 0;
  uint64_t rank = (uint64_t)ceil(q * (double)p->count);
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < HP_PAUSE_BUCKETS; i++) {
    seen += p->histogram[i];
    if (seen >= rank) {
      uint64_t upper = (uint64_t)(1000.0 * exp2((double)(i + 1) / 8.0));
      return upper < p->max_ns ? upper : p->max_ns;
    }
  }
  return p->max_ns;
}

/* Reads the statistics with no collection running (or from inside one, for an event
 * handler). */
static void read_stats(hp_runtime *rt, void *arg) {
  struct hp_gc_stats *out = arg;
  *out = rt->stats;
  hpC_generations *h = &rt->gens;
  uint64_t allocated = rt->bytes_allocated;
  pthread_t me = pthread_self();
  for (hpC_mutator *th = rt->threads; th; th = th->next) {
    allocated += hp_counter_get(th->allocated);
    /* The caller's own buffer counts too; other threads' count once they retire theirs. */
    if (pthread_equal(th->self, me)) allocated += th->pub.tlab_cur - th->tlab_lo;
  }
  out->bytes_allocated = allocated;
  out->young_live = h->young_live;
  out->old_live = h->old_object_bytes;
  out->old_live_after_major = h->old_live_after_major;
  out->sweep_ns = h->mk.sweep_ns;
  out->heap_committed = hpC_committed(rt);
  out->heap_resident = hpS_resident((void *)h->young_lo, h->young_hi - h->young_lo) + h->old_bytes;
  out->pinned_objects = h->pinned.len;
  out->pinned_held = h->pinned_bytes;
  uintptr_t last_page = 0;
  for (size_t i = 0; i < h->pinned.len; i++) {
    uintptr_t lo = h->pinned.items[i] >> HPP_PAGE_SHIFT;
    uintptr_t hi = (h->pinned.items[i] + hpC_bytes(*(uint64_t *)h->pinned.items[i]) - 1) >> HPP_PAGE_SHIFT;
    if (lo <= last_page && last_page != 0) lo = last_page + 1;
    if (hi >= lo) out->pinned_pages += hi - lo + 1;
    if (hi > last_page) last_page = hi;
  }
  out->tenure_age = h->tenure;
  out->eden_size = h->eden.hi - h->eden.lo;
  out->eden_size_max = h->eden_peak;
  out->tlab_size = h->tlab_peak > HPC_TLAB_SIZE ? h->tlab_peak : HPC_TLAB_SIZE;
  out->minor.p50_ns = hp_gc_pause_quantile(&out->minor, 0.5);
  out->minor.p99_ns = hp_gc_pause_quantile(&out->minor, 0.99);
  out->major.p50_ns = hp_gc_pause_quantile(&out->major, 0.5);
  out->major.p99_ns = hp_gc_pause_quantile(&out->major, 0.99);
  out->total_ns = hpS_now_ns() - rt->created_ns;
  /* Registrations: those handed over, and the caller's own (others' are theirs until the world
   * stops). */
  out->finalizers_registered = h->fin.young.len + h->fin.old.len;
  for (hpC_mutator *th = rt->threads; th; th = th->next)
    if (pthread_equal(th->self, me)) out->finalizers_registered += th->fin_new.len;
  pthread_mutex_lock(&rt->roots_mu);                   /* hp_finalizers_run */
  out->finalizers_run = h->fin.run;
  out->finalizers_pending = h->fin.queue.len - h->fin.head;
  pthread_mutex_unlock(&rt->roots_mu);
}

void hp_gc_stats(hp_runtime *rt, struct hp_gc_stats *out) {
  if (hpC_in_collection()) { read_stats(rt, out); return; }
  hpC_with_world_quiet(rt, read_stats, out);
}

static void print_pauses(FILE *f, const char *name, const struct hp_gc_pause_stats *p) {
  fprintf(f, "%s: %llu collections, pause total %.3f ms, last %.3f ms, max %.3f ms, p50 %.3f ms, p99 %.3f ms\n",
          name, (unsigned long long)p->count, (double)p->total_ns / 1e6, (double)p->last_ns / 1e6,
          (double)p->max_ns / 1e6, (double)p->p50_ns / 1e6, (double)p->p99_ns / 1e6);
}

void hp_gc_stats_print(hp_runtime *rt, void *out) {
  FILE *f = out ? out : stderr;
  struct hp_gc_stats s;
  hp_gc_stats(rt, &s);
  print_pauses(f, "minor", &s.minor);
  print_pauses(f, "major", &s.major);
  fprintf(f, "allocated %llu bytes (%llu large); copied %llu, promoted %llu; old live %llu, "
          "young live %llu; committed %llu; tenure age %u; GC time %.1f%% of %.3f s\n",
          (unsigned long long)s.bytes_allocated, (unsigned long long)s.bytes_allocated_large,
          (unsigned long long)s.bytes_copied, (unsigned long long)s.bytes_promoted,
          (unsigned long long)s.old_live, (unsigned long long)s.young_live,
          (unsigned long long)s.heap_committed, s.tenure_age,
          s.total_ns ? 100.0 * (double)s.gc_ns / (double)s.total_ns : 0.0, (double)s.total_ns / 1e9);
}
