/* gc/major.c -- the major collection: all young objects are promoted (a minor collection
 * with tenure age 0), then the old generation is marked from the roots and swept.
 *
 * Marking uses an explicit stack (no recursion: a list of ten million objects needs a
 * stack of one entry), and prefetches each object's header as it is pushed, so that the
 * cache miss overlaps the work on the objects above it. Mark bits are the pools' MARK
 * bitmap, one bit per block; sweeping reads the ALLOC and MARK bitmaps only and never
 * touches a dead object.
 */
#include "runtime/runtime.h"

typedef struct marker {
  hp_runtime *rt;
  hpC_vec stack;              /* headers of marked objects not yet traced */
  size_t marked_bytes, marked_objects;
} marker;

static void mark_slot(void **slot, void *ctx) {
  marker *m = ctx;
  void *p = *slot;
  if (!hpP_contains(p)) return;
  uint64_t *hdr = (uint64_t *)p - 1;
  hpP_page *pg = hpP_span_of(hdr);
  if (pg == NULL || pg->arena != HPP_ARENA_GC) return;  /* not the collector's memory */
  uint32_t i = hpP_block_index(pg, hdr);
  if (HP_DEBUG >= 1 && hp_unlikely(hpP_block_at(pg, i) != hdr))
    hpR_fatal("hp: slot %p holds %p, which is not the start of an object", (void *)slot, p);
  uint64_t *bits = hpP_span_bits(pg, HPP_BITS_MARK);
  uint64_t bit = (uint64_t)1 << (i & 63);
  if (bits[i >> 6] & bit) return;
  bits[i >> 6] |= bit;
  __builtin_prefetch(hdr);
  hpC_vec_push(&m->stack, (uintptr_t)hdr);
}

static void mark(marker *m) {
  hpC_visit_roots(m->rt, mark_slot, m);
  while (m->stack.len > 0) {
    uint64_t *hdr = (uint64_t *)m->stack.items[--m->stack.len];
    m->marked_bytes += hpC_bytes(*hdr);
    m->marked_objects++;
    hpC_trace_with(hdr, mark_slot, m);
  }
  hpC_vec_free(&m->stack);
}

typedef struct sweeper {
  hpC_heap *h;
  size_t freed_objects, freed_bytes;
} sweeper;

static void sweep_page(hpP_page *pg, void *arg) {
  sweeper *s = arg;
  uint32_t bs = pg->block_size;   /* read first: the page may go back to the pool */
  size_t n = hpP_page_sweep(s->h->old, pg);
  s->freed_objects += n;
  s->freed_bytes += n * bs;
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

void hpC_major(hp_runtime *rt, hpC_cycle *cy) {
  hpC_heap *h = &rt->heap;
  hpC_minor(rt, true, cy);                 /* the young generation is empty afterwards */
  marker m = { .rt = rt };
  mark(&m);
  sweeper s = { .h = h };
  hpP_heap_foreach_page(h->old, sweep_page, &s);
  sweep_huge(&s);
  h->old_bytes -= s.freed_bytes;
  h->old_live_after_major = h->old_bytes;
  size_t next = h->old_bytes / 100 * rt->cfg.major_growth_percent;
  h->major_threshold = next > rt->cfg.major_min_size ? next : rt->cfg.major_min_size;
  cy->freed_objects += s.freed_objects;
  rt->stats.old_live = m.marked_bytes;
}
