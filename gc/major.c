/* gc/major.c -- the major collection: all young objects are promoted (a minor collection
 * with tenure age 0), then the old generation is marked from the roots and swept.
 *
 * Marking uses an explicit stack (no recursion: a list of ten million objects needs a
 * stack of one entry), and prefetches each object's header a few objects before it is
 * traced (a FIFO of HPC_PREFETCH between the stack and the tracer), so that the cache
 * misses overlap. Mark bits are the pools' MARK
 * bitmap, one bit per block; sweeping reads the ALLOC and MARK bitmaps only and never
 * touches a dead object.
 */
#include "gc/collector.h"
#include "pools/platform/os.h"

#define HPC_PREFETCH 16

typedef struct marker {
  hp_runtime *rt;
  hpC_vec stack;              /* headers of marked objects not yet traced */
  size_t marked_bytes, marked_objects;
} marker;

/* Marks a pinned object (in the young range: its mark bit is in its header). */
static void mark_pinned(marker *m, uint64_t *hdr) {
  if (*hdr & HPC_MARKED) return;
  *hdr |= HPC_MARKED;
  hpC_vec_push(&m->stack, (uintptr_t)hdr);
}

/* Marks the object at hdr, which is the start of a block of the collector's pages. */
static void mark_block(marker *m, hpP_page *pg, uint64_t *hdr) {
  uint32_t i = hpP_block_index(pg, hdr);
  uint64_t *bits = hpP_span_bits(pg, HPP_BITS_MARK);
  uint64_t bit = (uint64_t)1 << (i & 63);
  if (bits[i >> 6] & bit) return;
  bits[i >> 6] |= bit;
  hpC_vec_push(&m->stack, (uintptr_t)hdr);
}

static void mark_slot(void **slot, void *ctx) {
  marker *m = ctx;
  void *p = *slot;
  if (!hpP_contains(p)) return;
  uint64_t *hdr = (uint64_t *)p - 1;
  if (hpC_is_young(&m->rt->gens, p)) {               /* after the promotion: pinned only */
    hp_check_api(*hdr & HPC_PINNED, "hp: slot %p holds %p, a young object that is not pinned, after promotion",
                 (void *)slot, p);
    mark_pinned(m, hdr);
    return;
  }
  hpP_page *pg = hpP_span_of(hdr);
  if (pg == NULL || atomic_load_explicit(&pg->owner, memory_order_relaxed) != m->rt->gens.old)
    return;                                            /* not this collector's memory */
  uint32_t i = hpP_block_index(pg, hdr);
  hp_check_api(hpP_block_at(pg, i) == hdr, "hp: slot %p holds %p, which is not the start of an object",
               (void *)slot, p);
  mark_block(m, pg, hdr);
}

/* A conservative root: any object that holds the word is marked. */
static void mark_object(marker *m, uint64_t *hdr) {
  if (*hdr & HPC_PINNED) mark_pinned(m, hdr);
  else mark_block(m, hpP_span_of(hdr), hdr);
}

static void mark_candidate(hp_runtime *rt, uintptr_t w, void *ctx) {
  uint64_t *hdr = hpC_object_of(&rt->gens, w);
  if (hdr != NULL) mark_object(ctx, hdr);
  hdr = hpC_zero_size_before(&rt->gens, w);
  if (hdr != NULL) mark_object(ctx, hdr);
}

static void drain(marker *m);

static void mark(marker *m) {
  hp_runtime *rt = m->rt;
  hpC_generations *h = &rt->gens;
  hpC_weak_begin(&h->weak, h, true);
  hpC_visit_roots(rt, mark_slot, m);
  if (rt->cfg.conservative_stack) hpC_conservative_roots(rt, mark_candidate, m);
  for (size_t i = 0; i < rt->pins.len; i++) {
    void *body = (void *)rt->pins.items[i];
    mark_slot(&body, m);
  }
  drain(m);
  /* As in a minor collection: weak slots first, then the finalizable objects (gc/weak.h). */
  uint64_t t0 = hpS_now_ns();
  hpC_weak_fix(&h->weak);
  uint64_t t1 = hpS_now_ns();
  if (hpC_fin_scan(&h->fin, h, true, mark_slot, m)) {
    drain(m);
    hpC_weak_fix(&h->weak);
  }
  rt->stats.weak_ns += t1 - t0;
  rt->stats.finalize_ns += hpS_now_ns() - t1;
  hpC_weak_end(&h->weak, &rt->stats);
  rt->stats.finalizers_queued += h->fin.queued;
  h->fin.queued = 0;
  hpC_vec_free(&m->stack);
}

/* Traces what is marked and not traced yet, and the values of released ephemerons. */
static void drain(marker *m) {
  hpC_weak *w = &m->rt->gens.weak;
  /* Objects pass through a small FIFO between the stack and the tracer, prefetched as they
   * enter it: by the time one is traced, its header has had HPC_PREFETCH objects' worth of
   * work to arrive. (A prefetch at push time is too early when one array pushes a million
   * children: most are evicted again before they are popped.) */
  uint64_t *fifo[HPC_PREFETCH];
  unsigned head = 0, n = 0;
  for (;;) {
    if (n == 0 && m->stack.len == 0 && !hpC_weak_drain(w, mark_slot, m)) break;
    while (n < HPC_PREFETCH && m->stack.len > 0) {
      uint64_t *hdr = (uint64_t *)m->stack.items[--m->stack.len];
      __builtin_prefetch(hdr);
      fifo[(head + n++) % HPC_PREFETCH] = hdr;
    }
    if (n == 0) break;
    uint64_t *hdr = fifo[head];
    head = (head + 1) % HPC_PREFETCH;
    n--;
    uint64_t hw = *hdr;
    if (hp_unlikely(hw & HPC_FORWARDED)) hw = hpC_weak_unpark(w, hdr, hw);   /* [ephemeron-parked] */
    if (!(hw & HPC_PINNED)) m->marked_bytes += hpC_bytes(hw);   /* pinned: pinned_held */
    m->marked_objects++;
    hpC_trace_with(hdr, mark_slot, m);
    if (hp_unlikely(hpC_type_weak[hpC_type_id(hw)])) hpC_weak_trace(w, hdr, mark_slot, m);
  }
}

/* Drops the remembered objects that are about to be swept: after the promotion the set holds
 * only objects that point to pinned ones, and a dead one must not outlive its block. */
static void filter_remembered(hpC_generations *h) {
  hpC_vec *rs = &h->remset;
  size_t kept = 0;
  for (size_t i = 0; i < rs->len; i++) {
    uint64_t *hdr = hpC_header((void *)rs->items[i]);
    hpP_page *pg = hpP_span_of(hdr);
    uint32_t b = hpP_block_index(pg, hdr);
    if ((hpP_span_bits(pg, HPP_BITS_MARK)[b >> 6] >> (b & 63)) & 1) rs->items[kept++] = rs->items[i];
  }
  rs->len = kept;
}

typedef struct sweeper {
  hpC_generations *h;
  size_t freed_objects, freed_bytes;
} sweeper;

static void sweep_page(hpP_page *pg, void *arg) {
  sweeper *s = arg;
  uint32_t bs = pg->block_size;   /* read first: the page may go back to the pool */
  size_t n = hpP_page_sweep(s->h->old, pg);
  s->freed_objects += n;
  s->freed_bytes += n * bs;
}

/* Pinned objects that were not marked are dead: their room goes back to the young spaces. */
static void sweep_pinned(sweeper *s) {
  hpC_vec *v = &s->h->pinned;
  size_t kept = 0;
  for (size_t i = 0; i < v->len; i++) {
    uint64_t *hdr = (uint64_t *)v->items[i];
    if (*hdr & HPC_MARKED) {
      *hdr &= ~HPC_MARKED;
      v->items[kept++] = v->items[i];
    } else {
      s->freed_objects++;
      s->h->pinned_bytes -= hpC_bytes(*hdr);
    }
  }
  v->len = kept;
}

static void sweep_huge(sweeper *s) {
  hpC_vec *v = &s->h->huge;
  size_t kept = 0;
  for (size_t i = 0; i < v->len; i++) {
    hpP_page *pg = hpP_span_of((void *)v->items[i]);
    uint64_t *bits = hpP_span_bits(pg, HPP_BITS_MARK);
    if (bits[0] & 1) {
      bits[0] &= ~(uint64_t)1;
      v->items[kept++] = v->items[i];
    } else {
      s->freed_objects++;
      s->freed_bytes += (size_t)pg->npages << HPP_PAGE_SHIFT;
      hpP_huge_free_span(pg);
    }
  }
  v->len = kept;
}

void hpC_major(hp_runtime *rt, hpC_results *cy) {
  hp_assert(hpC_in_collection());
  hpC_generations *h = &rt->gens;
  hpC_minor(rt, true, cy);                 /* the young generation is empty afterwards */
  uint64_t t = hpS_now_ns();
  marker m = { .rt = rt };
  mark(&m);
  hpC_phase(cy, mark, &t);
  filter_remembered(h);
  sweeper s = { .h = h };
  hpP_heap_foreach_page(h->old, sweep_page, &s);
  sweep_huge(&s);
  sweep_pinned(&s);
  hpC_phase(cy, sweep, &t);
  hpC_young_reset(h);                      /* around the pinned objects still alive */
  hpC_space_reset(&h->from, &h->pinned);
  h->old_bytes -= s.freed_bytes;
  size_t next = h->old_bytes / 100 * h->major_growth;   /* hpC_old_resize may revise it */
  h->major_threshold = next > rt->cfg.major_min_size ? next : rt->cfg.major_min_size;
  cy->freed_objects += s.freed_objects;
  cy->marked = m.marked_bytes;
  cy->marked_objects = m.marked_objects;
  hpC_phase(cy, reset, &t);
  h->old_object_bytes = h->old_live_after_major = m.marked_bytes;
  h->young_live = 0;
  hp_validate(hpC_space_valid(&h->eden) && hpC_space_valid(&h->from) && hpC_remset_valid(h) &&
              hpC_old_pages_valid(h));
}
