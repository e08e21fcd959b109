/* gc/alloc.c -- the spaces, types, and allocation: TLABs in eden, large objects in the old
 * generation, and the out-of-memory policy.
 *
 * Out of memory, in this order (the one policy, also in doc/embedding.md):
 *   1. eden full: a minor collection (a major one when the old generation is due), retry;
 *   2. still no room, or the heap limit reached: a forced major collection, retry;
 *   3. the embedder's out-of-memory handler; if it returns true, one more retry;
 *   4. NULL. The heap is intact and the runtime fully usable.
 */
#include "runtime/runtime.h"
#include "runtime/os.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

/* ------------------------------------------------------------------------------------
 *  Vectors for the collector's bookkeeping
 * ------------------------------------------------------------------------------------ */

void hpC_vec_push_slow(hpC_vec *v, uintptr_t x) {
  size_t cap = v->cap ? v->cap * 2 : 256;
  uintptr_t *items = hp_pool_alloc(cap * sizeof *items);
  hp_check(items != NULL, "hp: out of memory for the collector's own bookkeeping (%zu entries)", cap);
  if (v->len) memcpy(items, v->items, v->len * sizeof *items);
  hp_pool_free(v->items);
  v->items = items;
  v->cap = cap;
  v->items[v->len++] = x;
}

void hpC_vec_free(hpC_vec *v) {
  hp_pool_free(v->items);
  v->items = NULL;
  v->len = v->cap = 0;
}

bool hpC_vec_remove(hpC_vec *v, uintptr_t x) {
  for (size_t i = 0; i < v->len; i++) {
    if (v->items[i] == x) {
      v->items[i] = v->items[--v->len];
      return true;
    }
  }
  return false;
}

/* ------------------------------------------------------------------------------------
 *  Types
 * ------------------------------------------------------------------------------------ */

static hp_type filler = { .name = "(filler)", .flags = HP_TYPE_LEAF };
const hp_type *hpC_types[HPC_MAX_TYPES + 1] = { [0] = &filler };
_Atomic uint32_t hpC_ntypes = 1;
static pthread_mutex_t types_mu = PTHREAD_MUTEX_INITIALIZER;

int hp_type_register(hp_runtime *rt, hp_type *type) {
  (void)rt;
  for (uint32_t i = 0; i < type->noffsets; i++) {
    if (type->offsets[i] % 8 != 0 || (size_t)type->offsets[i] + 8 > type->size) { errno = EINVAL; return -1; }
  }
  pthread_mutex_lock(&types_mu);
  uint32_t n = atomic_load(&hpC_ntypes);
  if (type->id != 0 && type->id < n && hpC_types[type->id] == type) {
    pthread_mutex_unlock(&types_mu);
    return 0;                                   /* registered already (maybe by another runtime) */
  }
  if (n > HPC_MAX_TYPES) { pthread_mutex_unlock(&types_mu); errno = ENOSPC; return -1; }
  type->id = n;
  hpC_types[n] = type;
  atomic_store(&hpC_ntypes, n + 1);
  pthread_mutex_unlock(&types_mu);
  return 0;
}

void hpC_bad_type(unsigned id) {
  hpR_fatal("hp: object with unregistered type id %u (was hp_type_register called for its "
            "type? or is the header overwritten?)", id);
}

const hp_type *hpC_type(unsigned id) {
  const hp_type *t = id <= HPC_MAX_TYPES ? hpC_types[id] : NULL;
  if (t == NULL) hpC_bad_type(id);
  return t;
}

const hp_type *hp_type_of(hp_runtime *rt, const void *obj) {
  (void)rt;
  return hpC_type(hpC_type_id(__atomic_load_n(hpC_header(obj), __ATOMIC_RELAXED)));
}
/* Relaxed atomic loads: another thread's barrier may be setting the REMEMBERED bit. */
size_t hp_size(const void *obj) { return hpC_bytes(__atomic_load_n(hpC_header(obj), __ATOMIC_RELAXED)) - 8; }

/* ------------------------------------------------------------------------------------
 *  Spaces
 * ------------------------------------------------------------------------------------ */

static size_t round_pages(size_t bytes) { return (bytes + HPP_PAGE - 1) & ~(HPP_PAGE - 1); }

bool hpC_heap_init(hp_runtime *rt) {
  hpC_heap *h = &rt->heap;
  size_t eden = round_pages(rt->cfg.eden_size);
  size_t surv = round_pages(eden / 100 * rt->cfg.survivor_percent);
  size_t total = eden + 2 * surv;
  /* 2 MiB aligned, with transparent huge pages: eden is touched all the time, and a huge
   * page saves 511 page faults and TLB misses of 4 KiB ones. */
  h->young_span = hpP_span_alloc(total >> HPP_PAGE_SHIFT, (2 * HP_MiB) >> HPP_PAGE_SHIFT, HPP_SPAN_RAW, NULL);
  if (h->young_span == NULL) return false;
  h->young_lo = (uintptr_t)hpP_page_start(h->young_span);
  hpS_hugepages((void *)h->young_lo, total);
  h->young_hi = h->young_lo + total;
  h->eden.lo = h->young_lo;
  h->eden.hi = h->from.lo = h->eden.lo + eden;
  h->from.hi = h->to.lo = h->from.lo + surv;
  h->to.hi = h->to.lo + surv;
  hpC_space_reset(&h->eden, &h->pinned);
  hpC_space_reset(&h->from, &h->pinned);
  hpC_space_reset(&h->to, &h->pinned);
  hpC_eden_publish(h);
  h->starts = hp_pool_alloc(total / 64);
  h->old = hpP_heap_new(HPP_ARENA_GC, true);
  if (h->old == NULL || h->starts == NULL) { hpC_heap_destroy(rt); return false; }
  memset(h->starts, 0, total / 64);
  h->tenure = rt->cfg.tenure_age;
  h->major_threshold = rt->cfg.major_min_size;
  return true;
}

void hpC_heap_destroy(hp_runtime *rt) {
  hpC_heap *h = &rt->heap;
  for (size_t i = 0; i < h->huge.len; i++) hpP_huge_free_span(hpP_span_of((void *)h->huge.items[i]));
  hpC_vec_free(&h->huge);
  hpC_vec_free(&h->remset);
  hpC_vec_free(&h->tlabs);
  hpC_vec_free(&h->pinned);
  hp_pool_free(h->eden.runs);
  hp_pool_free(h->from.runs);
  hp_pool_free(h->to.runs);
  hp_pool_free(h->starts);
  if (h->old) hpP_heap_destroy(h->old);
  if (h->young_span) hpP_raw_free(h->young_span);
  memset(h, 0, sizeof *h);
}

size_t hpC_heap_size(hp_runtime *rt) {
  hpC_heap *h = &rt->heap;
  return (h->young_hi - h->young_lo) + h->old_bytes;
}

uint64_t *hpC_old_header_of(const void *p, hpP_page **span) {
  return hpP_block_of(p, span);
}

void *hpC_old_alloc_slow(hpC_heap *h, size_t bytes) {
  void *b = hpP_huge_alloc(bytes, 0, HPP_ARENA_GC);
  if (b == NULL) return NULL;
  hpP_page *pg = hpP_span_of(b);
  atomic_store_explicit(&pg->owner, h->old, memory_order_relaxed);  /* whose object: see hpC_object_of */
  for (size_t i = 0; i < pg->npages; i++)                            /* no stale cards */
    memset(hpP_bits(hpP_index(b) + i, HPP_BITS_AUX), 0, HPP_BITS_WORDS * sizeof(uint64_t));
  hpC_vec_push(&h->huge, (uintptr_t)b);
  hpP_span_bits(pg, HPP_BITS_ALLOC)[0] |= 1;
  h->old_bytes += (size_t)pg->npages << HPP_PAGE_SHIFT;
  h->old_object_bytes += bytes;
  return b;
}

/* ------------------------------------------------------------------------------------
 *  Allocation slow path
 * ------------------------------------------------------------------------------------ */

/* Hands the thread a fresh TLAB from eden; false when eden is full. */
bool hpC_tlab_refill(hp_runtime *rt, hpR_thread *th, size_t need) {
  hp_thread *t = &th->pub;
  if (t->tlab_end > t->tlab_cur) hpC_fill((void *)t->tlab_cur, t->tlab_end - t->tlab_cur);
  hp_counter_add(th->allocated, t->tlab_cur - th->tlab_lo);
  t->tlab_cur = t->tlab_end = th->tlab_lo = 0;
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
  *due = hpR_major_due(rt);
  if (!(respect_due && *due) && !(rt->cfg.heap_limit && hpC_heap_size(rt) + bytes > rt->cfg.heap_limit)) {
    p = hpC_old_alloc(&rt->heap, bytes);
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
  bool over = hpC_heap_size(rt) > rt->cfg.heap_limit;
  pthread_mutex_unlock(&rt->alloc_mu);
  return over;
}

/* One attempt without collecting: the header address or NULL. *due is set when a major
 * collection is due. */
static void *try_alloc(hp_runtime *rt, hpR_thread *th, size_t bytes, bool large, bool *due) {
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
      *due = hpR_major_due(rt);
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
static bool collect_for(hp_runtime *rt, hpR_thread *th, hp_gc_kind kind, size_t bytes, bool large) {
  th->refill_need = large ? 0 : bytes;
  bool ours = hpR_collect(rt, th, kind);
  th->refill_need = 0;
  return ours;
}

void *hp_new_slow(hp_thread *t, const hp_type *type, size_t size) {
  hpR_thread *th = hpR_thread_of(t);
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
      bool major = __atomic_fetch_xor(&rt->stress_major_next, 1, __ATOMIC_RELAXED);
      hpR_collect(rt, th, major ? HP_GC_MAJOR : HP_GC_MINOR);
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
  while (p == NULL && !ours && !large && bytes <= rt->heap.eden.max_run && !over_limit(rt)) {
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
