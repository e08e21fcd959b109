/* gc/alloc.c -- allocation: TLABs in eden, large objects in the old generation, and the
 * out-of-memory policy.
 *
 * Out of memory, in this order (the one policy, also in doc/embedding.md):
 *   1. eden full: a minor collection (a major one when the old generation is due), retry;
 *   2. still no room, or the heap limit reached: a forced major collection, retry;
 *   3. the embedder's out-of-memory handler; if it returns true, one more retry;
 *   4. NULL. The heap is intact and the runtime fully usable.
 */
#include "gc/collector.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

/* Hands the thread a fresh TLAB from eden; false when eden is full. */
bool hpC_tlab_refill(hp_runtime *rt, hpC_mutator *th, size_t need) {
  hp_assert(th->rt == rt && need >= 8 && need % 8 == 0);
  hp_thread *t = &th->pub;
  hpC_tlab_retire(th);
  /* Under stress the TLAB holds just the object, so that every allocation comes back here. */
  size_t want = rt->cfg.stress ? need : th->tlab_size, size;
  if (want < need) want = need;
  uintptr_t lo = hpC_eden_grab(rt, need, want, &size);
  if (lo == 0) return false;
  hpC_vec_push(&th->tlabs, lo);               /* so that a conservative root can find its object */
  hpC_vec_push(&th->tlabs, lo + size);
  memset((void *)lo, 0, size);                /* the bulk clear: hp_new never zeroes */
  th->tlab_lo = t->tlab_cur = lo;
  t->tlab_end = lo + size;
  return true;
}

/* Allocates `bytes` (header included) in the old generation, zeroed; NULL when the heap
 * limit or the pools say no, or, if respect_due, when a major collection should come first
 * (*due set). */
static void *large_alloc(hp_runtime *rt, size_t bytes, bool respect_due, bool *due) {
  pthread_mutex_lock(&rt->alloc_mu);
  void *p = NULL;
  if (rt->cfg.heap_limit && hpC_committed(rt) + bytes > rt->cfg.heap_limit) hpC_sweep_all(&rt->gens);
  *due = hpC_major_due(rt);
  if (!(respect_due && *due) && !(rt->cfg.heap_limit && hpC_committed(rt) + bytes > rt->cfg.heap_limit)) {
    p = hpC_old_alloc(&rt->gens, bytes);
    if (p != NULL) {
      rt->bytes_allocated += bytes;
      rt->stats.bytes_allocated_large += bytes;
    }
  }
  pthread_mutex_unlock(&rt->alloc_mu);
  if (p) memset(p, 0, bytes);
  return p;
}

static bool over_limit(hp_runtime *rt) {
  if (rt->cfg.heap_limit == 0) return false;
  pthread_mutex_lock(&rt->alloc_mu);
  if (hpC_committed(rt) > rt->cfg.heap_limit) hpC_sweep_all(&rt->gens);   /* dead blocks first */
  bool over = hpC_committed(rt) > rt->cfg.heap_limit;
  pthread_mutex_unlock(&rt->alloc_mu);
  return over;
}

/* One attempt without collecting: the header address or NULL. *due is set when a major
 * collection is due. */
static void *try_alloc(hp_runtime *rt, hpC_mutator *th, size_t bytes, bool large, bool *due) {
  if (large) return large_alloc(rt, bytes, true, due);
  hp_thread *t = &th->pub;
  *due = false;
  if (bytes > t->tlab_end - t->tlab_cur) {
    /* Over the heap limit even after collecting: eden must not fill up again, since the next
     * minor collection would promote into an old generation that has no room. */
    if (over_limit(rt) || !hpC_tlab_refill(rt, th, bytes)) {
      /* Only now, with eden full, does it matter which collection comes next: the lock that
       * reads it is not taken on every TLAB refill, which all threads do. */
      pthread_mutex_lock(&rt->alloc_mu);
      *due = hpC_major_due(rt);
      pthread_mutex_unlock(&rt->alloc_mu);
      return NULL;
    }
  }
  void *p = (void *)t->tlab_cur;
  t->tlab_cur += bytes;
  return p;
}

/* A collection for an allocation of `bytes`: the collecting thread takes its buffer before
 * the others resume, so that under contention it does not find eden full again. */
static bool collect_for(hp_runtime *rt, hpC_mutator *th, hp_gc_kind kind, size_t bytes, bool large) {
  th->refill_need = large ? 0 : bytes;
  bool ours = hpC_collect(rt, th, kind);
  th->refill_need = 0;
  return ours;
}

/* One allocation that hp_new_slow works on. */
typedef struct request {
  hpC_mutator *th;
  size_t size;                    /* the body, as asked */
  size_t bytes;                   /* the object, header included */
  bool large;                     /* born in the old generation */
  bool due;                       /* the last attempt found a major collection due */
} request;

static void *attempt(hp_runtime *rt, request *r) { return try_alloc(rt, r->th, r->bytes, r->large, &r->due); }

static bool collect_for_request(hp_runtime *rt, request *r, hp_gc_kind kind) {
  return collect_for(rt, r->th, kind, r->bytes, r->large);
}

/* Torture (cfg.stress): every allocation comes here (the TLAB is kept empty); collect every
 * N: minor and major in turn, where "major" starts a concurrent cycle or finishes the one
 * marking (a full collection in mark_mode 0). With stress_finish M, a marking cycle is
 * finished after M allocations of a thread instead (its major turns are minor ones). */
static void stress_tick(hp_runtime *rt, hpC_mutator *th) {
  if (rt->cfg.stress_finish && --th->stress_finish_countdown == 0) {
    th->stress_finish_countdown = rt->cfg.stress_finish;
    hpC_collect(rt, th, HPC_GC_FINISH);
  }
  if (--th->stress_countdown != 0) return;
  th->stress_countdown = rt->cfg.stress;
  bool major = atomic_fetch_xor_explicit(&rt->stress_major_next, 1, memory_order_relaxed);
  bool marking = atomic_load_explicit(&rt->gens.mk.phase, memory_order_relaxed) == HPC_MARKING;
  hpC_collect(rt, th, !major || (rt->cfg.stress_finish && marking) ? HP_GC_MINOR : HPC_GC_STEP);
}

/* 1. The usual collection (when a major one is due: the next step of a concurrent cycle,
 * gc/marker.c), and a retry. If we only joined another
 * thread's collection, others may have filled eden again before we got to it: while eden
 * has a run long enough and the heap is under its limit, collect again. Each round frees
 * eden; a collection of our own reserves our buffer first. */
static void *after_collection(hp_runtime *rt, request *r) {
  bool ours = collect_for_request(rt, r, r->due ? HPC_GC_AUTO : HP_GC_MINOR);
  void *p = attempt(rt, r);
  while (p == NULL && !ours && !r->large && r->bytes <= rt->gens.eden.max_run && !over_limit(rt)) {
    ours = collect_for_request(rt, r, r->due ? HPC_GC_AUTO : HP_GC_MINOR);
    p = attempt(rt, r);
  }
  return p;
}

/* 2. A forced major collection, and a retry. */
static void *after_major(hp_runtime *rt, request *r) {
  collect_for_request(rt, r, HP_GC_MAJOR);
  return attempt(rt, r);
}

/* Pinned objects cut eden into runs too short for this object, or other threads keep
 * filling it: it is born old instead -- after a major collection, so whether one is "due"
 * again no longer matters; only the heap limit does. */
static void *born_old(hp_runtime *rt, request *r) { return large_alloc(rt, r->bytes, false, &r->due); }

/* 3. The embedder's handler; if it let go of something, that is garbage only after one more
 * major collection. */
static void *after_oom_handler(hp_runtime *rt, request *r) {
  if (rt->oom == NULL || !rt->oom(rt, r->size, rt->oom_data)) return NULL;
  return after_major(rt, r);
}

/* The header; an object born old starts remembered, since the embedder may initialise it
 * without the barrier, as any new object: the next minor collection scans it whatever it
 * was given. */
static void *init_object(hpC_mutator *th, const hp_type *type, uint64_t *hdr, size_t bytes, bool old) {
  *hdr = hpC_make_header(bytes / 8, type->id);
  if (old) {
    *hdr |= HPC_REMEMBERED;
    hpC_vec_push(&th->remset, (uintptr_t)(hdr + 1));
    if (hpC_carded(*hdr, type)) hpC_cards_mark(hpC_card_lo(hdr, type), (uintptr_t)hdr + bytes);
  }
  return hdr + 1;
}

void *hp_new_slow(hp_thread *t, const hp_type *type, size_t size) {
  hpC_mutator *th = hpC_mutator_of(t);
  hp_runtime *rt = th->rt;
  hpC_check_not_blocked(th, "hp_new");
  hp_check_api(type->id != 0 && type->id <= HPC_MAX_TYPES && hpC_types[type->id] == type,
               "hp: hp_new with type \"%s\" that is not registered (hp_type_register)",
               type->name ? type->name : "?");
  hp_check_api(size >= type->size, "hp: hp_new(%s): size %zu is below the type's fixed size %zu",
               type->name ? type->name : "?", size, type->size);
  hp_assert(th->state == HPC_RUNNING && t->tlab_cur <= t->tlab_end);
  if (size > ((size_t)1 << 42)) { errno = ENOMEM; return NULL; }
  request r = { .th = th, .size = size, .bytes = (size + 15) & ~(size_t)7,
                .large = size > rt->cfg.large_object_size };

  hp_safepoint(t);                                     /* a collection may be waiting for us */
  if (rt->cfg.stress) stress_tick(rt, th);
  hpC_cycle_assist(rt, th, &rt->gens);                 /* a concurrent cycle: help, or finish it */

  /* The out-of-memory policy (top of this file). */
  void *p = attempt(rt, &r);
  if (p == NULL) p = after_collection(rt, &r);         /* 1. */
  if (p == NULL) p = after_major(rt, &r);              /* 2. */
  bool old = false;
  if (p == NULL && !r.large) {
    p = born_old(rt, &r);
    old = p != NULL;
  }
  if (p == NULL) p = after_oom_handler(rt, &r);        /* 3. */
  if (p == NULL) { errno = ENOMEM; return NULL; }      /* 4. */
  return init_object(th, type, p, r.bytes, old);
}
