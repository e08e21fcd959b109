/* gc/sizing.c -- how large eden, the survivor spaces, the threads' TLABs and the old
 * generation's threshold are: adapted, collection by collection, to what the program does.
 *
 * Eden. The young span is reserved once for the largest eden (eden_max) and its survivor
 * spaces; eden takes [eden_lo, eden_lo + size) of its region and each survivor space
 * hpC_survivor_bytes(size) of its own, next to young_mid where the two regions meet (one
 * ends there, the other starts there: together they touch the fewest huge pages), the rest
 * untouched. After each minor collection,
 * with decaying averages of the pause (the collector's CPU time for the collection: on a
 * shared machine the wall time also holds preemption) and of the pauses' share of the wall
 * time, stops included (cost):
 *   - pause over the goal (young_pause_goal_us), this one and on average: eden shrinks in
 *     proportion (to at most half): most pauses copy what a cycle's allocation left live,
 *     which a smaller eden makes smaller;
 *   - cost over minor_cost_percent while less than a tenth of eden survives and a pause twice
 *     as long would still meet the goal: eden doubles (collections come too often for what
 *     they find: a larger eden makes them rarer at the same price each);
 *   - below its initial size, with pauses under half the goal: eden doubles back towards it;
 *   - cost under a quarter of minor_cost_percent: eden halves towards its initial size
 *     (memory back).
 * Survivor spaces are survivor_percent of eden but never smaller than at eden's initial
 * size, and the tenure age rises as eden shrinks below it (up to 15; hpC_tenure_max): eden
 * shrinks to cut a pause, and neither survivors that overflow nor objects aged by more
 * frequent collections should be promoted earlier, in bytes allocated, than before.
 * Growth is bounded by eden_max, by the heap limit (the young generation at most a third of
 * it, and no growth once the heap holds half of it) and by eden_size per thread that
 * allocated in the last cycle: eden_size is what one thread's allocation may cycle through
 * (it should fit the caches: a 32 MiB eden makes mtalloc's single thread 1.5x slower than a
 * 4 MiB one on the machine of doc/benchmarks.md), and a single thread never grows it. What
 * the cap saves is the stops: n threads filling one thread's eden stop n times as often.
 * Resizing happens with the world stopped and eden empty; memory given up is decommitted
 * (but under pinned objects).
 *
 * TLABs. Each thread's TLAB size follows its allocation: the bytes it allocated in the last
 * cycle over HPC_TLAB_REFILLS, averaged with its previous size, within [HPC_TLAB_MIN,
 * HPC_TLAB_MAX] and at most an eighth of eden's share per allocating thread. A fast thread
 * refills rarely; a slow one holds little of eden unused at a collection.
 *
 * The old generation. A major collection comes when the old generation reaches major_growth
 * % of what survived the last one (or major_min_size). major_growth adapts to the measured
 * cost of major collections against major_gc_percent: a major that took more than that
 * share of the time since the previous one doubles the headroom (major_growth - 100), one
 * under half of it takes a quarter of the headroom away; within [110, major_growth_percent],
 * starting at the top: a heap whose major collections are cheap for the time it runs gets
 * tighter, one whose collections cost keeps its room. major_gc_percent 0 keeps it fixed.
 */
#include "gc/collector.h"
#include "pools/platform/os.h"

static size_t round_pages(size_t bytes) { return (bytes + HPP_PAGE - 1) & ~(HPP_PAGE - 1); }
static size_t max_z(size_t a, size_t b) { return a > b ? a : b; }
static size_t min_z(size_t a, size_t b) { return a < b ? a : b; }

size_t hpC_survivor_bytes(const hp_runtime *rt, size_t eden) {
  /* Not below their first size: a smaller eden must not promote what would die young. */
  if (eden < rt->gens.eden_init) eden = rt->gens.eden_init;
  return round_pages(eden / 100 * rt->cfg.survivor_percent);
}

void hpC_sizing_init(hp_runtime *rt) {
  hpC_generations *h = &rt->gens;
  const hp_config *c = &rt->cfg;
  size_t init = round_pages(c->eden_size), max = init, min = init;
  if (c->adaptive_eden) {
    /* At most four times the configured size: the young span is reserved at its largest, and
     * a program that makes many small runtimes (small eden_size) must not run the pools'
     * reservation out of address space with room it will never grow into. */
    max = max_z(init, min_z(round_pages(c->eden_max_size), 4 * init));
    /* The whole young generation at its largest within a third of the heap limit. */
    if (c->heap_limit) {
      size_t per = 100 + 2 * (size_t)c->survivor_percent;
      size_t cap = round_pages(c->heap_limit / 3 / per * 100);
      max = max_z(init, min_z(max, cap));
    }
    /* A large object must fit four times over (the configuration check's rule, at any size). */
    min = min_z(init, max_z(max_z((size_t)256 << 10, round_pages(init / 8)), round_pages(4 * c->large_object_size)));
  }
  h->eden_init = h->eden_peak = init;
  h->eden_min = min;
  h->eden_max = max;
  h->surv_max = hpC_survivor_bytes(rt, max);
  h->major_growth = c->major_growth_percent;
}

/* Gives back the pages of [lo, hi) that hold no pinned object. */
static void decommit_free(hpC_generations *h, uintptr_t lo, uintptr_t hi) {
  size_t page = hpS_page_size();
  uintptr_t at = lo;
  for (size_t i = 0; i <= h->pinned.len; i++) {
    uintptr_t plo = hi, phi = hi;
    if (i < h->pinned.len) {
      plo = h->pinned.items[i];
      phi = plo + hpC_bytes(*(uint64_t *)plo);
      if (phi <= lo) continue;
      if (plo >= hi) { plo = phi = hi; }
    }
    uintptr_t a = (at + page - 1) & ~(page - 1), b = plo & ~(page - 1);
    if (b > a) (void)hpS_decommit((void *)a, b - a);    /* a hint: failure costs memory only */
    if (phi > at) at = phi;
    if (at >= hi) break;
  }
}

static void set_eden(hp_runtime *rt, size_t bytes) {
  hpC_generations *h = &rt->gens;
  size_t old = h->eden.hi - h->eden.lo, surv = hpC_survivor_bytes(rt, bytes);
  uintptr_t to_lo = h->to.lo, to_hi = h->to.hi;
  h->eden.hi = h->eden.lo + bytes;
  /* To-space is empty now; it ends at young_mid or starts there. */
  if (h->to.hi == h->young_mid) h->to.lo = h->young_mid - surv;
  else h->to.hi = h->young_mid + surv;
  if (bytes < old) decommit_free(h, h->eden.lo + bytes, h->eden.lo + old);
  if (h->to.lo > to_lo) decommit_free(h, to_lo, h->to.lo);
  if (h->to.hi < to_hi) decommit_free(h, h->to.hi, to_hi);
  if (bytes > h->eden_peak) h->eden_peak = bytes;
  hpC_young_reset(h);
}

void hpC_young_resize(hp_runtime *rt, const hpC_results *cy, uint64_t pause_ns, uint64_t work_ns,
                      uint64_t now_ns) {
  hpC_generations *h = &rt->gens;
  uint64_t start = now_ns - pause_ns;
  uint64_t interval = h->last_gc_end_ns && start > h->last_gc_end_ns ? start - h->last_gc_end_ns : 0;
  h->last_gc_end_ns = now_ns;
  if (!rt->cfg.adaptive_eden || interval == 0) return;
  /* The goal is about the work (CPU time: what eden's size changes), the cost about the
   * whole pause with its stop (what the mutators lose). */
  double pause = (double)(work_ns ? work_ns : pause_ns);
  double cost = (double)pause_ns / (double)(pause_ns + interval);
  if (h->pause_avg_ns == 0) { h->pause_avg_ns = pause; h->cost_avg = cost; }
  h->pause_avg_ns += 0.25 * (pause - h->pause_avg_ns);
  h->cost_avg += 0.25 * (cost - h->cost_avg);

  size_t cur = h->eden.hi - h->eden.lo, next = cur;
  double goal = (double)rt->cfg.young_pause_goal_us * 1000.0, target = rt->cfg.minor_cost_percent / 100.0;
  double survived = (double)(cy->copied + cy->promoted) / (double)cur;
  if (pause > goal && h->pause_avg_ns > goal) {
    double f = goal * 0.75 / h->pause_avg_ns;
    next = (size_t)((double)cur * (f < 0.5 ? 0.5 : f));
  } else if (h->cost_avg > target && survived < 0.10 && 2 * h->pause_avg_ns < goal) {
    next = cur * 2;
  } else if (cur < h->eden_init && 2 * h->pause_avg_ns < goal) {
    next = min_z(cur * 2, h->eden_init);               /* shrunk for pauses that are gone */
  } else if (h->cost_avg < target / 4 && cur > h->eden_init) {
    next = max_z(cur / 2, h->eden_init);
  }
  size_t per_threads = h->eden_init * (h->alloc_threads ? h->alloc_threads : 1);
  size_t cap = min_z(h->eden_max, per_threads);
  if (next > cap) next = max_z(cap, min_z(cur, cap));
  /* With a heap limit, eden grows only while the heap stays within half of it: the room is
   * the old generation's first. */
  if (next > cur && rt->cfg.heap_limit) {
    size_t more = (next - cur) + 2 * (hpC_survivor_bytes(rt, next) - hpC_survivor_bytes(rt, cur));
    if (hpC_committed(rt) + more > rt->cfg.heap_limit / 2) next = cur;
  }
  if (next < h->eden_min) next = h->eden_min;
  next = round_pages(next);
  if (next == cur) return;
  set_eden(rt, next);
  /* The next decisions are about the new size: start the averages afresh. */
  h->pause_avg_ns = 0;
}

unsigned hpC_tenure_max(const hp_runtime *rt) {
  const hpC_generations *h = &rt->gens;
  size_t eden = h->eden.hi - h->eden.lo;
  size_t age = eden < h->eden_init ? rt->cfg.tenure_age * h->eden_init / eden : rt->cfg.tenure_age;
  return age < 15 ? (unsigned)age : 15;
}

void hpC_old_resize(hp_runtime *rt, uint64_t pause_ns, uint64_t now_ns) {
  hpC_generations *h = &rt->gens;
  uint64_t start = now_ns - pause_ns, last = h->last_major_end_ns;
  h->last_major_end_ns = now_ns;
  h->last_gc_end_ns = now_ns;
  unsigned max = rt->cfg.major_growth_percent, g = h->major_growth;
  if (rt->cfg.major_gc_percent != 0 && last != 0 && start > last) {
    double cost = (double)pause_ns / (double)(now_ns - last), target = rt->cfg.major_gc_percent / 100.0;
    if (cost > target) g = 100 + 2 * (g - 100);
    else if (cost < target / 2) g = g - (g - 100) / 4;
  }
  if (g > max) g = max;
  if (g < 110) g = 110 < max ? 110 : max;
  h->major_growth = g;
  hpC_set_thresholds(rt, h->threshold_live);           /* the trigger of a cycle too */
}

size_t hpC_tlab_size_for(const hp_runtime *rt, size_t cur, uint64_t cycle_bytes) {
  const hpC_generations *h = &rt->gens;
  size_t want = (size_t)(cycle_bytes / HPC_TLAB_REFILLS);
  size_t next = (cur + want) / 2;
  size_t share = (h->eden.hi - h->eden.lo) / 8 / (h->alloc_threads ? h->alloc_threads : 1);
  if (next > share) next = share;
  if (next > HPC_TLAB_MAX) next = HPC_TLAB_MAX;
  if (next < HPC_TLAB_MIN) next = HPC_TLAB_MIN;
  return (next + HPC_TLAB_MIN - 1) & ~(HPC_TLAB_MIN - 1);
}
