/* gc/collect.c -- the collection bracket: stopping the world around a piece of work, TLAB
 * retirement, the collection with its events, verification, statistics and its figures for
 * the GC log (one hpC_results, handed to rt->on_cycle); and
 * the collector's state as a whole (init and destroy).
 */
#include "gc/collector.h"
#include "pools/platform/os.h"

#include <math.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------
 *  The collector's state
 * ------------------------------------------------------------------------------------ */

bool hpC_runtime_init(hp_runtime *rt, void *caller) {
  pthread_mutex_init(&rt->roots_mu, NULL);
  pthread_mutex_init(&rt->alloc_mu, NULL);
  pthread_mutex_init(&rt->world_mu, NULL);
  pthread_condattr_t ca;                               /* the stop's deadline: gc/stall.c */
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&rt->cv_stopped, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&rt->cv_resume, NULL);
  rt->created_ns = hpS_now_ns();
  rt->ncpus = hpS_ncpus();
  rt->stats.version = HP_GC_STATS_VERSION;
  if (!hpC_generations_init(rt)) return false;
  rt->main = hpC_mutator_new(rt, caller);
  if (rt->main == NULL) { hpC_generations_destroy(rt); return false; }
  hpC_runtime_register(rt);
  return true;
}

/* Other threads attached at destroy would use freed memory when they next call hp (or hang
 * the next collection): abort, naming them. Checked in every build: it is cheap, and the
 * alternative is a use after free far from its cause. */
static void check_no_others(hp_runtime *rt) {
  pthread_t me = pthread_self();
  unsigned others = 0;
  pthread_mutex_lock(&rt->world_mu);
  for (hpC_mutator *th = rt->threads; th; th = th->next)
    if (!pthread_equal(th->self, me) && !th->collector_own) others++;   /* the marker stops below */
  if (others == 0) { pthread_mutex_unlock(&rt->world_mu); return; }
  char who[256];
  for (hpC_mutator *th = rt->threads; th; th = th->next) {
    if (pthread_equal(th->self, me) || th->collector_own) continue;
    hpC_mutator_describe(th, who, sizeof who);
    hpS_warn("hp: hp_runtime_destroy(%p): %s is still attached%s", (void *)rt, who,
             th->state == HPC_BLOCKED ? " (inside a blocking region)" : "");
  }
  hpS_fatal("hp: hp_runtime_destroy(%p) with %u other thread%s still attached: each must call hp_thread_detach first",
            (void *)rt, others, others == 1 ? "" : "s");
}

void hpC_runtime_destroy(hp_runtime *rt) {
  hpC_marker_stop(rt);          /* first: a marker thread just started may not say it is ours yet */
  check_no_others(rt);
  if (rt->cfg.finalize_on_destroy) {                  /* on the caller, if it is attached */
    hpC_mutator *self = hpC_mutator_self(rt);
    if (self != NULL) hpC_fin_destroy(rt, &self->pub);
  }
  hpC_marker_stop(rt);          /* again: finalizers run above may have started one */
  hpC_runtime_unregister(rt);
  hpC_generations_destroy(rt);
  for (hpC_mutator *th = rt->threads, *n; th; th = n) { n = th->next; hpC_mutator_free(th); }
  hpC_vec_free(&rt->roots);
  hpC_vec_free(&rt->ranges);
  hpC_vec_free(&rt->pins);
  hp_pool_free(rt->callbacks);
  pthread_mutex_destroy(&rt->roots_mu);
  pthread_mutex_destroy(&rt->alloc_mu);
  pthread_mutex_destroy(&rt->world_mu);
  pthread_cond_destroy(&rt->cv_stopped);
  pthread_cond_destroy(&rt->cv_resume);
}

/* ------------------------------------------------------------------------------------
 *  TLABs
 * ------------------------------------------------------------------------------------ */

void hpC_tlab_retire(hpC_mutator *th) {
  hp_thread *t = &th->pub;
  if (t->tlab_end > t->tlab_cur) hpC_fill((void *)t->tlab_cur, t->tlab_end - t->tlab_cur);
  hp_counter_add(th->allocated, t->tlab_cur - th->tlab_lo);
  t->tlab_cur = t->tlab_end = th->tlab_lo = 0;
}

void hpC_mutator_hand_over(hpC_mutator *th) {
  hpC_generations *h = &th->rt->gens;
  for (size_t i = 0; i < th->remset.len; i++) hpC_vec_push(&h->remset, th->remset.items[i]);
  for (size_t i = 0; i < th->tlabs.len; i++) hpC_vec_push(&h->tlabs, th->tlabs.items[i]);
  th->remset.len = th->tlabs.len = 0;
  hpC_fin_hand_over(&h->fin, h, &th->fin_new);
}

void hpC_retire_tlabs(hp_runtime *rt) {
  hpC_generations *h = &rt->gens;
  unsigned allocating = 0;
  for (hpC_mutator *th = rt->threads; th; th = th->next) {
    hpC_tlab_retire(th);
    /* Its next TLABs sized by what it allocated in this cycle (gc/sizing.c). */
    uint64_t now = hp_counter_get(th->allocated), cycle = now - th->allocated_at_gc;
    th->allocated_at_gc = now;
    th->tlab_size = hpC_tlab_size_for(rt, th->tlab_size, cycle);
    if (th->tlab_size > h->tlab_peak) h->tlab_peak = th->tlab_size;
    if (cycle > 0) allocating++;
    /* What the thread's barrier remembered, and the TLABs it took, go to the heap. */
    hpC_mutator_hand_over(th);
  }
  h->alloc_threads = allocating;
  if (h->tlabs.len > 2) qsort(h->tlabs.items, h->tlabs.len / 2, 2 * sizeof(uintptr_t), hpC_cmp_word);
  hpC_eden_sync(h);
}

/* ------------------------------------------------------------------------------------
 *  Stopping the world around a piece of work
 * ------------------------------------------------------------------------------------ */

/* Set while this thread runs a collection (for the calls an event handler may make). */
static __thread bool in_collection;

bool hpC_in_collection(void) { return in_collection; }

bool hpC_with_world_stopped(hp_runtime *rt, hpC_mutator *th, bool retry,
                            void (*work)(hp_runtime *rt, void *arg), void *arg) {
  hpC_capture(th);
  while (!hpC_stop_world(rt, th)) {                    /* joined another thread's collection */
    if (!retry) {
      th->captured = false;
      return false;
    }
  }
  in_collection = true;
  hpC_retire_tlabs(rt);
  work(rt, arg);
  in_collection = false;
  hpC_start_world(rt);
  th->captured = false;
  return true;
}

/* ------------------------------------------------------------------------------------
 *  Collections
 * ------------------------------------------------------------------------------------ */

bool hpC_major_due(hp_runtime *rt) {
  if (hpC_cycle_due(rt)) return true;                /* gc/marker.c: the pacing */
  return rt->cfg.heap_limit && hpC_committed(rt) >= rt->cfg.heap_limit;
}

static unsigned pause_bucket(uint64_t ns) {
  if (ns < 1000) return 0;
  double b = 8.0 * log2((double)ns / 1000.0);
  unsigned i = (unsigned)b;
  return i < HP_PAUSE_BUCKETS ? i : HP_PAUSE_BUCKETS - 1;
}

static void record_pause(struct hp_gc_pause_stats *p, uint64_t ns) {
  p->count++;
  p->total_ns += ns;
  p->last_ns = ns;
  if (ns > p->max_ns) p->max_ns = ns;
  p->histogram[pause_bucket(ns)]++;
}

size_t hpC_in_use(hp_runtime *rt) {
  hpC_generations *h = &rt->gens;
  return hpC_space_used(&h->eden) + hpC_space_used(&h->from) + h->pinned_bytes + h->old_bytes;
}

/* One collection, as the bracket runs it. */
typedef struct collection {
  hpC_mutator *th;                /* the thread collecting */
  hp_gc_kind kind;                /* as asked for (HP_GC_* or an internal HPC_GC_* kind) */
  int plan;                       /* what it does (HPC_DID_*, gc/marker.c) */
  hp_gc_kind counted;             /* what it counts as: a cycle's start as a minor collection,
                                     its finish as a major one */
  uint64_t t0;                    /* when it was asked for: the pause includes the stop */
  uint64_t number;                /* of this kind, from 1 */
  hp_gc_event ev;                 /* what the event handler is told */
  hpC_results res;
  uint64_t weak0[4];              /* weak and finalizer counts before it (for the GC log) */
  uint64_t work_ns;               /* a minor's phases in the collector's CPU time (sizing) */
} collection;

/* Counts the embedder's threads attached besides the collector (the world is stopped). */
static unsigned other_threads(hp_runtime *rt, hpC_mutator *self) {
  unsigned n = 0;
  for (hpC_mutator *th = rt->threads; th; th = th->next) n += th != self && !th->collector_own;
  return n;
}

/* The start event, and verification before (cfg.verify >= 2). The figures of the world stop
 * (hpC_with_world_stopped stopped it, then retired the TLABs) go into the results. */
static void announce(hp_runtime *rt, collection *co) {
  struct hp_gc_stats *st = &rt->stats;
  hpC_results *r = &co->res;
  uint64_t t = hpS_now_ns();
  co->number = (co->counted == HP_GC_MINOR ? st->minor_count : st->major_count) + 1;
  co->weak0[0] = st->weak_cleared;
  co->weak0[1] = st->ephemerons_traced;
  co->weak0[2] = st->ephemerons_cleared;
  co->weak0[3] = st->finalizers_queued;
  r->kind = co->counted;
  r->number = co->number;
  r->start_ns = co->t0 - rt->created_ns;
  r->stop_ns = st->stop_ns_last;
  r->threads = other_threads(rt, co->th);
  r->threads_waited = rt->stop_waited;
  r->phase_ns[HPC_PHASE_stop] = rt->stopped_ns - co->t0;
  r->phase_ns[HPC_PHASE_retire] = t - rt->stopped_ns;
  r->heap_before = hpC_in_use(rt);
  r->eden = rt->gens.eden.hi - rt->gens.eden.lo;
  co->ev = (hp_gc_event){ .kind = co->counted, .end = false, .number = co->number, .heap_before = r->heap_before };
  if (rt->on_event) rt->on_event(rt, &co->ev, rt->event_data);
  t = hpS_now_ns();
  if (rt->cfg.verify >= 2) hpC_verify(rt, "before a collection");
  hpC_phase(r, verify, &t);
}

/* Whether eden's size follows measurements (gc/sizing.c): not in stress mode, whose
 * collections are forced at every Nth allocation and say nothing of the program (and the
 * two clock reads per collection would cost it 7% at N = 1). */
static bool sizes_adapt(const hp_runtime *rt) { return rt->cfg.adaptive_eden && rt->cfg.stress == 0; }

/* The phases of gc/minor.c, gc/major.c or a cycle's (gc/marker.c), and verification after
 * (cfg.verify, or tier 3): so the verifier also runs at the end of every concurrent cycle. */
static void run_phases(hp_runtime *rt, collection *co) {
  /* CPU time for the sizing policy: on a shared machine the pause also holds whatever
   * preempted the collector, which no eden size changes. Plain minors only: a cycle's start
   * pause also marks the roots. */
  uint64_t cpu0 = sizes_adapt(rt) && co->plan == HPC_DID_MINOR ? hpS_thread_cpu_ns() : 0;
  hpC_cycle_run(rt, co->plan, &co->res);
  co->work_ns = cpu0 ? hpS_thread_cpu_ns() - cpu0 : 0;
  uint64_t t = hpS_now_ns();
  if (rt->cfg.verify >= 1 || HP_DEBUG >= 3) hpC_verify(rt, "after a collection");
  hpC_phase(&co->res, verify, &t);
}

/* The pause and the results into the statistics and the end event. */
static void account(hp_runtime *rt, collection *co) {
  struct hp_gc_stats *st = &rt->stats;
  uint64_t pause = hpS_now_ns() - co->t0;
  if (co->counted == HP_GC_MINOR) { st->minor_count++; record_pause(&st->minor, pause); }
  else { st->major_count++; record_pause(&st->major, pause); }
  if (co->plan == HPC_DID_START) {
    st->cycle_start_ns_last = pause;
    if (pause > st->cycle_start_ns_max) st->cycle_start_ns_max = pause;
  } else if (co->plan == HPC_DID_FINISH || co->plan == HPC_DID_MINOR_FINISH) {
    st->cycle_finish_ns_last = pause;
    if (pause > st->cycle_finish_ns_max) st->cycle_finish_ns_max = pause;
  }
  st->gc_ns += pause;
  st->bytes_copied += co->res.copied;
  st->bytes_promoted += co->res.promoted;
  st->bytes_pinned += co->res.pinned;
  st->objects_freed += co->res.freed_objects;
  co->res.pause_ns = pause;
  co->res.heap_after = hpC_in_use(rt);
  co->res.committed = hpC_committed(rt);
  co->res.tenure = rt->gens.tenure;
  co->res.weak_cleared = st->weak_cleared - co->weak0[0];
  co->res.ephemerons_traced = st->ephemerons_traced - co->weak0[1];
  co->res.ephemerons_cleared = st->ephemerons_cleared - co->weak0[2];
  co->res.finalizers_queued = st->finalizers_queued - co->weak0[3];
  co->ev.end = true;
  co->ev.pause_ns = pause;
  co->ev.heap_after = co->res.heap_after;
  co->ev.promoted = co->res.promoted;
  co->ev.copied = co->res.copied;
}

static void collect_stopped(hp_runtime *rt, void *arg) {
  collection *co = arg;
  hpC_mutator *th = co->th;
  co->plan = hpC_cycle_plan(rt, co->kind);
  if (co->plan == HPC_DID_NOTHING) return;             /* a cycle's finish that came too late */
  co->counted = co->plan == HPC_DID_MINOR || co->plan == HPC_DID_START ? HP_GC_MINOR : HP_GC_MAJOR;
  announce(rt, co);
  run_phases(rt, co);
  account(rt, co);
  if (rt->on_cycle) rt->on_cycle(rt, &co->res);        /* the GC log, set by the runtime */
  if (rt->on_event) rt->on_event(rt, &co->ev, rt->event_data);
  rt->last_kind = co->plan == HPC_DID_MAJOR ? HP_GC_MAJOR : HP_GC_MINOR;   /* a full one, or not */
  /* The spaces' sizes for the next cycle, from what this collection cost (gc/sizing.c). */
  uint64_t end = hpS_now_ns();
  if (co->plan == HPC_DID_MINOR) {
    if (sizes_adapt(rt)) hpC_young_resize(rt, &co->res, co->ev.pause_ns, co->work_ns, end);
  } else if (co->counted == HP_GC_MAJOR) {
    hpC_old_resize(rt, co->ev.pause_ns, end);
  }
  /* Collecting for an allocation: take the buffer before the others resume (collect_for),
   * unless the heap is over its limit, where eden must not fill again (try_alloc). */
  if (th->refill_need && !(rt->cfg.heap_limit && hpC_committed(rt) > rt->cfg.heap_limit))
    (void)hpC_tlab_refill(rt, th, th->refill_need);
}

bool hpC_collect(hp_runtime *rt, hpC_mutator *th, hp_gc_kind kind) {
  hp_check_api(!in_collection, "hp: a collection was requested during a collection "
                               "(from a trace function or an event handler?)");
  hp_assert(th->state == HPC_RUNNING);
  collection co = { .th = th, .kind = kind, .t0 = hpS_now_ns() };
  return hpC_with_world_stopped(rt, th, false, collect_stopped, &co);
}

int hp_collect(hp_thread *t, hp_gc_kind kind) {
  hp_check_api(kind == HP_GC_MINOR || kind == HP_GC_MAJOR, "hp: hp_collect: unknown kind %d", (int)kind);
  hpC_mutator *th = hpC_mutator_of(t);
  hpC_check_not_blocked(th, "hp_collect");
  /* Joining another thread's collection does for a minor request, and for a major one if
   * that collection was major too. */
  while (!hpC_collect(th->rt, th, kind) && kind == HP_GC_MAJOR && th->rt->last_kind != HP_GC_MAJOR) {}
  return 0;
}

/* ------------------------------------------------------------------------------------
 *  Verification on demand
 * ------------------------------------------------------------------------------------ */

typedef struct verification { size_t objects; } verification;

static void verify_stopped(hp_runtime *rt, void *arg) {
  ((verification *)arg)->objects = hpC_verify(rt, "(hp_verify_heap)");
}

size_t hp_verify_heap(hp_runtime *rt) {
  if (in_collection) return hpC_verify(rt, "(hp_verify_heap)");
  hpC_mutator *th = hpC_mutator_self(rt);
  hp_check_api(th != NULL, "hp: hp_verify_heap from a thread not attached to the runtime");
  verification v = { 0 };
  hpC_with_world_stopped(rt, th, true, verify_stopped, &v);
  return v.objects;
}
