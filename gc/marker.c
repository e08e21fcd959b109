/* gc/marker.c -- the concurrent cycle of the old generation: what a due major collection
 * does, the start and finish pauses, the marker thread, pacing and mutator assists, and the
 * stress mode's cycle steps. The invariants are in gc/mark.h; doc/design.md, "The
 * concurrent cycle", tells the story.
 *
 * Modes (cfg.mark_mode): 0 every due major collection stops the world (and sweeps lazily);
 * 1 incremental: the cycle is marked in slices on the mutators' allocation slow paths; 2 a
 * marker thread marks (and sweeps) in the background, mutators assist only when they outrun
 * it; 3 (the default) is 2 on a machine with more than one core, else 1.
 *
 * A cycle:
 *   start pause   sweep what the last cycle left, promote every young object (a minor
 *                 collection with tenure age 0), mark the roots and the pinned objects, turn
 *                 the barrier's logging on in every thread.
 *   marking       the marker thread (or mutator slices) drains the mark stack and the full
 *                 barrier logs; minor collections run as usual (the marker stops for them).
 *                 When it finds nothing left it asks for the finish; the next mutator that
 *                 allocates out of its buffer runs it (the marker never stops the world
 *                 itself, so that it can always be stopped and joined).
 *   finish pause  drain every thread's log and the stack (objects with trace callbacks are
 *                 traced here), turn logging off, list the pages for the lazy sweep.
 *   sweeping      lazy (gc/sweep.c), and the marker thread sweeps what the allocator leaves.
 * Pacing: a cycle starts when the old generation (less what the sweep has still to free)
 * reaches `cycle_trigger`, three quarters of the way from what survived the last cycle to
 * the threshold of a stop-the-world collection. Past the threshold, every allocation slow
 * path assists with a slice; past twice it, or at the heap limit, the cycle is finished in
 * the pause of the next collection.
 */
#include "gc/collector.h"
#include "pools/platform/atomic.h"
#include "pools/platform/os.h"

#include <unistd.h>

#define HPC_MARKER_WORK 2048      /* work of one marker slice between safepoint polls */
#define HPC_ASSIST_WORK 4096      /* work of one mutator slice (an allocation slow path) */
#define HPC_SWEEP_PAGES 16        /* pages of one background sweep step */

/* ------------------------------------------------------------------------------------
 *  Thresholds
 * ------------------------------------------------------------------------------------ */

_Atomic bool hpC_weak_types_exist;

/* Whether due major collections stop the world: mode 0, or [stw-weak] (gc/mark.h). */
static bool stop_the_world(hp_runtime *rt) {
  hpC_mark *mk = &rt->gens.mk;
  return mk->mode == 0 || atomic_load_explicit(&hpC_weak_types_exist, memory_order_relaxed) ||
         atomic_load_explicit(&mk->finalizers, memory_order_relaxed);
}

unsigned hpC_mark_mode(const hp_runtime *rt) {
  unsigned m = rt->cfg.mark_mode;
  if (m == 3) m = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
  return m;
}

void hpC_set_thresholds(hp_runtime *rt, size_t live) {
  hpC_generations *h = &rt->gens;
  h->threshold_live = live;                            /* hpC_old_resize revises from it */
  size_t next = live / 100 * h->major_growth;          /* adaptive: gc/sizing.c */
  h->major_threshold = next > rt->cfg.major_min_size ? next : rt->cfg.major_min_size;
  h->cycle_trigger = live + (h->major_threshold - live) / 4 * 3;
}

/* The old generation's size as the pacing sees it: less the dead blocks not yet swept. */
static size_t old_size(const hpC_generations *h) { return h->old_bytes - h->mk.dead_bytes; }

bool hpC_cycle_due(hp_runtime *rt) {
  hpC_generations *h = &rt->gens;
  size_t old = old_size(h);
  if (stop_the_world(rt)) return old >= h->major_threshold;
  int phase = atomic_load_explicit(&h->mk.phase, memory_order_relaxed);
  if (phase == HPC_MARKING) return old / 2 > h->major_threshold;
  /* A start pause would sweep what is left first: let the sweep go on outside the pause
   * (mutators help, hpC_cycle_assist_slow) until the threshold itself is reached. */
  if (phase == HPC_SWEEPING) return old > h->major_threshold;
  return old > h->cycle_trigger;
}

/* ------------------------------------------------------------------------------------
 *  The marker thread
 * ------------------------------------------------------------------------------------ */

static void wake(hpC_mark *mk) {
  pthread_mutex_lock(&mk->wake_mu);
  mk->work++;
  pthread_cond_signal(&mk->wake_cv);
  pthread_mutex_unlock(&mk->wake_mu);
}

/* One slice of marking (under mu): the full logs, then the stack. True when both are empty. */
static bool mark_slice(hp_runtime *rt, size_t budget, uint64_t *counter) {
  hpC_mark *mk = &rt->gens.mk;
  size_t work = 0;
  pthread_mutex_lock(&mk->mu);
  bool empty = false;
  if (atomic_load_explicit(&mk->phase, memory_order_relaxed) == HPC_MARKING) {
    bool logs = hpC_barrier_take(rt, true);
    empty = hpC_mark_slice(&rt->gens, true, false, budget, &work) && !logs;
    *counter += work;
  }
  pthread_mutex_unlock(&mk->mu);
  return empty;
}

/* Does what there is to do until the old generation is idle, or the runtime goes. */
static void marker_run(hp_runtime *rt, hpC_mutator *th) {
  hpC_generations *h = &rt->gens;
  hpC_mark *mk = &h->mk;
  while (!atomic_load_explicit(&mk->quit, memory_order_relaxed)) {
    int phase = atomic_load_explicit(&mk->phase, memory_order_relaxed);
    if (phase == HPC_MARKING) {
      if (atomic_load_explicit(&mk->finish_wanted, memory_order_relaxed)) return;
      uint64_t t0 = hpS_now_ns();
      uint64_t done = 0;
      bool empty = mark_slice(rt, HPC_MARKER_WORK, &done);
      pthread_mutex_lock(&mk->mu);
      mk->marker_work += done;
      mk->concurrent_ns += hpS_now_ns() - t0;
      pthread_mutex_unlock(&mk->mu);
      if (empty) { atomic_store_explicit(&mk->finish_wanted, true, memory_order_relaxed); return; }
    } else if (phase == HPC_SWEEPING) {
      pthread_mutex_lock(&rt->alloc_mu);
      bool done = hpC_sweep_some(h, HPC_SWEEP_PAGES);
      pthread_mutex_unlock(&rt->alloc_mu);
      if (done) return;
    } else {
      return;
    }
    if (hpS_int_load(&th->pub.safepoint, memory_order_relaxed)) hpC_mutator_poll(th);
  }
}

static void *marker_main(void *arg) {
  hp_runtime *rt = arg;
  hpC_mark *mk = &rt->gens.mk;
  hpC_mutator *th = hpC_mutator_new(rt, (void *)marker_main);
  hp_check(th != NULL, "hp: no memory for the marker thread's state");
  th->collector_own = true;                                    /* before it can be stopped */
  uint64_t seen = 0;
  for (;;) {
    hpC_mutator_block(th);                                       /* a collection need not wait for us */
    pthread_mutex_lock(&mk->wake_mu);
    while (!atomic_load_explicit(&mk->quit, memory_order_relaxed) && mk->work == seen)
      pthread_cond_wait(&mk->wake_cv, &mk->wake_mu);
    seen = mk->work;
    pthread_mutex_unlock(&mk->wake_mu);
    hpC_mutator_unblock(th);
    if (atomic_load_explicit(&mk->quit, memory_order_relaxed)) break;
    marker_run(rt, th);
  }
  hp_thread_detach(&th->pub);
  return NULL;
}

void hpC_marker_stop(hp_runtime *rt) {
  hpC_mark *mk = &rt->gens.mk;
  if (!mk->thread_started) return;
  pthread_mutex_lock(&mk->wake_mu);
  atomic_store_explicit(&mk->quit, true, memory_order_relaxed);
  pthread_cond_signal(&mk->wake_cv);
  pthread_mutex_unlock(&mk->wake_mu);
  pthread_join(mk->thread, NULL);
  mk->thread_started = false;
}

/* In a fork child: the marker thread did not fork, and may have held the marker's locks.
 * The next cycle that wants a marker starts one. The child has only the forking thread. */
void hpC_marker_forget(hp_runtime *rt) {
  hpC_mark *mk = &rt->gens.mk;
  pthread_mutex_init(&mk->mu, NULL);
  pthread_mutex_init(&mk->log_mu, NULL);
  pthread_mutex_init(&mk->wake_mu, NULL);
  pthread_cond_init(&mk->wake_cv, NULL);
  mk->thread_started = false;
  if (mk->mode == 2) mk->mode = 1;  /* the child marks in slices: no thread made after a fork */
}

/* ------------------------------------------------------------------------------------
 *  The pauses
 * ------------------------------------------------------------------------------------ */

static void cycle_start(hp_runtime *rt, hpC_results *cy) {
  hpC_generations *h = &rt->gens;
  hpC_mark *mk = &h->mk;
  if (atomic_load_explicit(&mk->phase, memory_order_relaxed) == HPC_SWEEPING) hpC_sweep_all(h);
  hpC_minor(rt, true, cy);                               /* the young generation is empty now */
  hpC_mark_reset_counts(h);
  mk->marker_work = mk->assist_work = mk->concurrent_ns = 0;
  atomic_store_explicit(&mk->logged, 0, memory_order_relaxed);
  atomic_store_explicit(&mk->finish_wanted, false, memory_order_relaxed);
  hpC_mark_roots(rt, true);
  atomic_store_explicit(&mk->phase, HPC_MARKING, memory_order_relaxed);
  mk->black = true;
  hpC_barrier_set(rt, true);
  mk->cycle_started_ns = hpS_now_ns();
  rt->stats.cycles_started++;
  if (mk->mode == 2) {
    if (!mk->thread_started) {
      atomic_store_explicit(&mk->quit, false, memory_order_relaxed);
      mk->thread_started = pthread_create(&mk->thread, NULL, marker_main, rt) == 0;
      if (!mk->thread_started) mk->mode = 1;             /* no thread: mark on the mutators */
    }
    if (mk->thread_started) wake(mk);
  }
}

static void cycle_finish(hp_runtime *rt, hpC_results *cy) {
  hpC_generations *h = &rt->gens;
  hpC_mark *mk = &h->mk;
  struct hp_gc_stats *st = &rt->stats;
  pthread_mutex_lock(&mk->mu);                           /* no one else holds it in a pause */
  uint64_t t0 = hpS_now_ns();
  hpC_barrier_drain(rt);
  hpC_mark_finish(h, false);
  hpC_barrier_set(rt, false);
  for (size_t i = 0; i < h->pinned.len; i++) *(uint64_t *)h->pinned.items[i] &= ~HPC_MARKED;
  size_t freed = hpC_sweep_begin(h);
  cy->freed_objects += freed;
  size_t live = mk->marked_block_bytes + mk->marked_huge_bytes + mk->black_block_bytes + mk->black_huge_bytes;
  hpC_set_thresholds(rt, live);
  h->old_object_bytes = h->old_live_after_major = mk->marked_bytes + mk->black_bytes;
  st->cycles++;
  st->cycle_mark_ns_last = t0 - mk->cycle_started_ns;
  st->cycle_marker_work_last = mk->marker_work;
  st->cycle_assist_work_last = mk->assist_work;
  st->cycle_bytes_marked_last = mk->marked_bytes;
  st->cycle_logged_last = atomic_load_explicit(&mk->logged, memory_order_relaxed);
  st->cycle_logged_total += st->cycle_logged_last;
  atomic_store_explicit(&mk->finish_wanted, false, memory_order_relaxed);
  pthread_mutex_unlock(&mk->mu);
  if (mk->thread_started) wake(mk);                      /* sweeping */
}

void hpC_cycle_abandon(hp_runtime *rt) {
  hpC_generations *h = &rt->gens;
  hpC_mark *mk = &h->mk;
  if (atomic_load_explicit(&mk->phase, memory_order_relaxed) != HPC_MARKING) return;
  for (hpC_mutator *th = rt->threads; th; th = th->next) th->satb_len = 0;
  pthread_mutex_lock(&mk->log_mu);
  for (size_t i = 0; i < mk->logs.len; i++) hp_pool_free((void *)mk->logs.items[i]);
  hpC_vec_free(&mk->logs);
  pthread_mutex_unlock(&mk->log_mu);
  hpC_mark_abandon(h);
  hpC_barrier_set(rt, false);
  atomic_store_explicit(&mk->phase, HPC_IDLE, memory_order_relaxed);
  mk->black = false;
  atomic_store_explicit(&mk->finish_wanted, false, memory_order_relaxed);
}

int hpC_cycle_plan(hp_runtime *rt, hp_gc_kind kind) {
  hpC_generations *h = &rt->gens;
  bool marking = atomic_load_explicit(&h->mk.phase, memory_order_relaxed) == HPC_MARKING;
  if (kind == HP_GC_MINOR) return HPC_DID_MINOR;
  if (kind == HP_GC_MAJOR) return HPC_DID_MAJOR;
  if (stop_the_world(rt)) {                             /* a cycle marking is given up */
    if (kind == HPC_GC_FINISH) return marking ? HPC_DID_MAJOR : HPC_DID_NOTHING;
    return kind == HPC_GC_STEP || marking ? HPC_DID_MAJOR : HPC_DID_MAJOR_LAZY;
  }
  if (kind == HPC_GC_FINISH) return marking ? HPC_DID_FINISH : HPC_DID_NOTHING;
  if (!marking) return HPC_DID_START;
  if (kind == HPC_GC_STEP) return HPC_DID_FINISH;
  /* Due while marking: the mutator outran the marker by far, or the heap is at its limit. */
  return HPC_DID_MINOR_FINISH;
}

void hpC_cycle_run(hp_runtime *rt, int plan, hpC_results *cy) {
  switch (plan) {
  case HPC_DID_MINOR: hpC_minor(rt, false, cy); break;
  case HPC_DID_MAJOR: hpC_major(rt, cy, false); break;
  case HPC_DID_MAJOR_LAZY: hpC_major(rt, cy, true); break;
  case HPC_DID_START: cycle_start(rt, cy); break;
  case HPC_DID_FINISH: cycle_finish(rt, cy); break;
  case HPC_DID_MINOR_FINISH: hpC_minor(rt, false, cy); cycle_finish(rt, cy); break;
  default: break;
  }
}

/* ------------------------------------------------------------------------------------
 *  Mutators: assists and the finish request
 * ------------------------------------------------------------------------------------ */

void hpC_cycle_assist_slow(hp_runtime *rt, hpC_mutator *th) {
  hpC_generations *h = &rt->gens;
  hpC_mark *mk = &h->mk;
  int phase = atomic_load_explicit(&mk->phase, memory_order_relaxed);
  if (mk->manual) return;
  if (phase == HPC_SWEEPING) {
    /* In mode 1 nobody else sweeps in the background; in mode 2 the marker does, and a
     * mutator helps once the next cycle is wanted, so that its start pause has none left. */
    pthread_mutex_lock(&rt->alloc_mu);
    if (mk->mode == 1 || old_size(h) >= h->cycle_trigger) hpC_sweep_some(h, rt->cfg.stress ? 1 : 4);
    pthread_mutex_unlock(&rt->alloc_mu);
    return;
  }
  if (phase != HPC_MARKING) return;
  if (atomic_load_explicit(&mk->finish_wanted, memory_order_relaxed)) {
    hpC_collect(rt, th, HPC_GC_FINISH);
    return;
  }
  pthread_mutex_lock(&rt->alloc_mu);                     /* old_bytes: allocators, sweeper */
  bool behind = old_size(h) >= h->major_threshold;
  pthread_mutex_unlock(&rt->alloc_mu);
  if (mk->mode == 2 && !behind) return;                  /* the marker keeps up */
  size_t budget = rt->cfg.stress ? 64 : behind ? 4 * HPC_ASSIST_WORK : HPC_ASSIST_WORK;
  uint64_t done = 0;
  uint64_t t0 = hpS_now_ns();
  bool empty = mark_slice(rt, budget, &done);
  pthread_mutex_lock(&mk->mu);
  mk->assist_work += done;
  mk->concurrent_ns += hpS_now_ns() - t0;
  pthread_mutex_unlock(&mk->mu);
  if (empty && mk->mode == 1) hpC_collect(rt, th, HPC_GC_FINISH);
  else if (empty) atomic_store_explicit(&mk->finish_wanted, true, memory_order_relaxed);
}
