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
  hp_thread *t = &th->pub;
  hpC_tlab_retire(th);
  /* Under stress the TLAB holds just the object, so that every allocation comes back here. */
  size_t want = rt->cfg.stress ? need : HPC_TLAB_SIZE, size;
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

void *hp_new_slow(hp_thread *t, const hp_type *type, size_t size) {
  hpC_mutator *th = hpC_mutator_of(t);
  hp_runtime *rt = th->rt;
  hp_check_api(type->id != 0 && type->id <= HPC_MAX_TYPES && hpC_types[type->id] == type,
               "hp: hp_new with type \"%s\" that is not registered (hp_type_register)",
               type->name ? type->name : "?");
  hp_check_api(size >= type->size, "hp: hp_new(%s): size %zu is below the type's fixed size %zu",
               type->name ? type->name : "?", size, type->size);
  if (size > ((size_t)1 << 42)) { errno = ENOMEM; return NULL; }
  size_t bytes = (size + 15) & ~(size_t)7;
  bool large = size > rt->cfg.large_object_size;

  hp_safepoint(t);                                     /* a collection may be waiting for us */
  if (rt->cfg.stress) {
    /* Torture: every allocation comes here (the TLAB is kept empty); collect every N. */
    if (--th->stress_countdown == 0) {
      th->stress_countdown = rt->cfg.stress;
      bool major = atomic_fetch_xor_explicit(&rt->stress_major_next, 1, memory_order_relaxed);
      hpC_collect(rt, th, major ? HP_GC_MAJOR : HP_GC_MINOR);
    }
  }

  bool due, ours = false;
  void *p = try_alloc(rt, th, bytes, large, &due);
  if (p == NULL) {                                      /* 1. the usual collection */
    ours = collect_for(rt, th, due ? HP_GC_MAJOR : HP_GC_MINOR, bytes, large);
    p = try_alloc(rt, th, bytes, large, &due);
  }
  /* If we only joined another thread's collection, others may have filled eden again before
   * we got to it: while eden has a run long enough and the heap is under its limit, collect
   * again. Each round frees eden; a collection of our own reserves our buffer first. */
  while (p == NULL && !ours && !large && bytes <= rt->gens.eden.max_run && !over_limit(rt)) {
    ours = collect_for(rt, th, due ? HP_GC_MAJOR : HP_GC_MINOR, bytes, large);
    p = try_alloc(rt, th, bytes, large, &due);
  }
  if (p == NULL) {                                      /* 2. a forced major collection */
    collect_for(rt, th, HP_GC_MAJOR, bytes, large);
    p = try_alloc(rt, th, bytes, large, &due);
  }
  bool born_old = false;
  if (p == NULL && !large) {
    /* Pinned objects cut eden into runs too short for this object, or other threads keep
     * filling it: it is born old instead -- after a major collection, so whether one is
     * "due" again no longer matters; only the heap limit does. */
    p = large_alloc(rt, bytes, false, &due);
    born_old = p != NULL;
  }
  if (p == NULL && rt->oom && rt->oom(rt, size, rt->oom_data)) {  /* 3. the embedder */
    collect_for(rt, th, HP_GC_MAJOR, bytes, large);   /* what the handler let go of is garbage only now */
    p = try_alloc(rt, th, bytes, large, &due);
  }
  if (p == NULL) { errno = ENOMEM; return NULL; }        /* 4. */

  *(uint64_t *)p = hpC_make_header(bytes / 8, type->id);
  if (born_old) {
    /* The embedder may initialise it without the barrier, as any new object: it starts
     * remembered, so the next minor collection scans it whatever it was given. */
    *(uint64_t *)p |= HPC_REMEMBERED;
    hpC_vec_push(&th->remset, (uintptr_t)((uint64_t *)p + 1));
    if (hpC_carded(*(uint64_t *)p, type)) hpC_cards_mark(hpC_card_lo(p, type), (uintptr_t)p + bytes);
  }
  return (uint64_t *)p + 1;
}
