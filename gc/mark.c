/* gc/mark.c -- marking the old generation: the mark bits, the mark stack and its tracer, the
 * roots of a major collection, and black allocation. Used in the pauses (full major
 * collections, the start and finish of a concurrent cycle) and outside them, in slices, by
 * the marker thread or a mutator (gc/marker.c). The invariants are in gc/mark.h.
 *
 * Mark bits are the pools' MARK bitmap, one bit per block (a pinned object's is the MARKED
 * bit of its header). The stack holds headers of marked objects not yet traced; a large
 * pointer array is traced HPC_CHUNK slots at a time, the rest pushed back as a cursor (its
 * end, then the next slot | 1), so that a slice never runs long. Objects pass through a small
 * FIFO between the stack and the tracer, prefetched as they enter it: by the time one is
 * traced its header has had HPC_PREFETCH objects' worth of work to arrive. (A prefetch at push
 * time is too early when one array pushes a million children.)
 *
 * Outside a pause ("concurrent"): slots and headers are read with atomic loads (a slot with
 * acquire, pairing with hp_write's release store, so that an object's page and header are
 * visible before its address is), mark bits are set with an atomic OR, and an object whose
 * type has a trace callback is only marked: the embedder's callback may read fields the
 * mutator is writing, so the finish pause traces it (`later`).
 */
#include "gc/collector.h"
#include "pools/platform/atomic.h"
#include "pools/platform/os.h"

#include <string.h>

#define HPC_PREFETCH 16
#define HPC_CHUNK 512

typedef struct tracer {
  hpC_generations *h;
  hpC_mark *mk;
  bool concurrent;            /* outside a pause (see the top of this file) */
  bool young_pinned;          /* a young pointer is a pinned object (after a promotion of all),
                                 else young pointers are not followed ([pinned-roots]) */
  bool weak;                  /* a full collection: weak holders and ephemerons (gc/weak.h) */
  size_t work;                /* slots visited and objects traced */
} tracer;

/* ------------------------------------------------------------------------------------
 *  Marking one reference
 * ------------------------------------------------------------------------------------ */

static void mark_pinned(tracer *tr, uint64_t *hdr) {
  if (*hdr & HPC_MARKED) return;
  *hdr |= HPC_MARKED;
  hpC_vec_push(&tr->mk->stack, (uintptr_t)hdr);
}

/* Sets the mark bit of block i of pg; false if it was set already. */
hp_inline bool set_mark(bool concurrent, hpP_span *pg, uint32_t i) {
  uint64_t *w = &hpP_span_bits(pg, HPP_BITS_MARK)[i >> 6], bit = (uint64_t)1 << (i & 63);
  if (concurrent) {
    if (hpS_word_load(w, memory_order_relaxed) & bit) return false;
    return !(hpS_word_fetch_or(w, bit, memory_order_relaxed) & bit);
  }
  if (*w & bit) return false;
  *w |= bit;
  return true;
}

hp_inline void mark_ref(tracer *tr, void *p) {
  if (!hpP_contains(p)) return;
  uint64_t *hdr = (uint64_t *)p - 1;
  hpC_generations *h = tr->h;
  if (hpC_is_young(h, p)) {
    if (!tr->young_pinned) return;
    if (HP_DEBUG >= 1 && !(*hdr & HPC_PINNED))
      hpS_fatal("hp: %p is a young object that is not pinned, after promotion", p);
    mark_pinned(tr, hdr);
    return;
  }
  hpP_span *pg = hpP_span_of(hdr);
  if (pg == NULL || atomic_load_explicit(&pg->owner, memory_order_relaxed) != h->old)
    return;                                            /* not this collector's memory */
  uint32_t i = hpP_block_index(pg, hdr);
  if (HP_DEBUG >= 1 && hp_unlikely(hpP_block_at(pg, i) != hdr))
    hpS_fatal("hp: a slot holds %p, which is not the start of an object", p);
  if (!set_mark(tr->concurrent, pg, i)) return;
  hpC_mark *mk = tr->mk;
  if (pg->kind == HPP_SPAN_HUGE) {
    mk->marked_huge_bytes += (size_t)pg->npages << HPP_PAGE_SHIFT;
  } else {
    mk->marked_blocks++;
    mk->marked_block_bytes += pg->block_size;
  }
  hpC_vec_push(&mk->stack, (uintptr_t)hdr);
}

static void visit_slot(void **slot, void *ctx) {
  tracer *tr = ctx;
  mark_ref(tr, tr->concurrent ? hpS_ptr_load(slot, memory_order_acquire) : *slot);
}

/* ------------------------------------------------------------------------------------
 *  Tracing
 * ------------------------------------------------------------------------------------ */

/* Visits the slots [s, end) of an array, HPC_CHUNK at most; the rest goes back as a cursor. */
static void scan_range(tracer *tr, void **s, void **end) {
  if (end - s > HPC_CHUNK) {
    hpC_vec_push(&tr->mk->stack, (uintptr_t)end);
    hpC_vec_push(&tr->mk->stack, (uintptr_t)(s + HPC_CHUNK) | 1);
    end = s + HPC_CHUNK;
  }
  tr->work += (size_t)(end - s);
  if (tr->concurrent) {
    for (; s < end; s++) mark_ref(tr, hpS_ptr_load(s, memory_order_acquire));
  } else {
    for (; s < end; s++) mark_ref(tr, *s);
  }
}

static void trace(tracer *tr, uint64_t *hdr) {
  uint64_t h = tr->concurrent ? hpS_word_load(hdr, memory_order_relaxed) : *hdr;
  if (tr->weak && hp_unlikely(h & HPC_FORWARDED)) h = hpC_weak_unpark(&tr->h->weak, hdr, h);  /* [ephemeron-parked] */
  const hp_type *type = hpC_types[hpC_type_id(h)];
  if (hp_unlikely(type == NULL)) hpC_bad_type(hpC_type_id(h));
  tr->work++;
  if (type->trace && tr->concurrent) {                 /* the finish pause traces it */
    hpC_vec_push(&tr->mk->later, (uintptr_t)hdr);
    return;
  }
  if (!(h & HPC_PINNED)) tr->mk->marked_bytes += hpC_bytes(h);   /* pinned: pinned_held */
  if (tr->weak && hp_unlikely(hpC_type_weak[hpC_type_id(h)])) hpC_weak_trace(&tr->h->weak, hdr, visit_slot, tr);
  if (type->flags & HP_TYPE_LEAF) return;
  char *body = (char *)(hdr + 1);
  for (uint32_t i = 0; i < type->noffsets; i++) visit_slot((void **)(body + type->offsets[i]), tr);
  tr->work += type->noffsets;
  if (type->flags & HP_TYPE_ARRAY)
    scan_range(tr, (void **)(body + ((type->size + 7) & ~(size_t)7)), (void **)((char *)hdr + hpC_bytes(h)));
  if (type->trace) type->trace(body, visit_slot, tr);
}

/* Traces until the stack is empty or `budget` work is done; true when empty. */
static bool drain(tracer *tr, size_t budget) {
  hpC_vec *st = &tr->mk->stack;
  uint64_t *fifo[HPC_PREFETCH];
  unsigned head = 0, n = 0;
  for (;;) {
    while (n < HPC_PREFETCH && st->len > 0) {
      uintptr_t e = st->items[st->len - 1];
      if (e & 1) {                                     /* an array cursor: end below it */
        st->len -= 2;
        scan_range(tr, (void **)(e & ~(uintptr_t)1), (void **)st->items[st->len]);
        continue;
      }
      st->len--;
      __builtin_prefetch((void *)e);
      fifo[(head + n++) % HPC_PREFETCH] = (uint64_t *)e;
    }
    if (n == 0) {
      /* The values of ephemerons whose keys were reached since (gc/weak.h). */
      if (tr->weak && hpC_weak_drain(&tr->h->weak, visit_slot, tr)) continue;
      return true;
    }
    uint64_t *hdr = fifo[head];
    head = (head + 1) % HPC_PREFETCH;
    n--;
    trace(tr, hdr);
    if (tr->work >= budget) {
      while (n > 0) {                                  /* the rest waits on the stack */
        hpC_vec_push(st, (uintptr_t)fifo[head]);
        head = (head + 1) % HPC_PREFETCH;
        n--;
      }
      return st->len == 0;
    }
  }
}

/* ------------------------------------------------------------------------------------
 *  Entry points
 * ------------------------------------------------------------------------------------ */

static void mark_candidate(hp_runtime *rt, uintptr_t w, void *ctx) {
  tracer *tr = ctx;
  uint64_t *hdrs[2] = { hpC_object_of(&rt->gens, w), hpC_zero_size_before(&rt->gens, w) };
  for (int k = 0; k < 2; k++) {
    if (hdrs[k] == NULL) continue;
    if (*hdrs[k] & HPC_PINNED) mark_pinned(tr, hdrs[k]);
    else mark_ref(tr, hdrs[k] + 1);
  }
}

void hpC_mark_roots(hp_runtime *rt, bool pinned_roots) {
  tracer tr = { .h = &rt->gens, .mk = &rt->gens.mk, .young_pinned = true };
  hpC_visit_roots(rt, visit_slot, &tr);
  if (rt->cfg.conservative_stack) hpC_conservative_roots(rt, mark_candidate, &tr);
  hpC_pin_words(rt, mark_candidate, &tr);               /* hp_pin calls parked here */
  for (size_t i = 0; i < rt->pins.len; i++) mark_ref(&tr, (void *)rt->pins.items[i]);
  if (pinned_roots)                                    /* [pinned-roots] */
    for (size_t i = 0; i < rt->gens.pinned.len; i++) mark_pinned(&tr, (uint64_t *)rt->gens.pinned.items[i]);
}

void hpC_mark_value(hpC_generations *h, void *p, bool concurrent) {
  tracer tr = { .h = h, .mk = &h->mk, .concurrent = concurrent };
  mark_ref(&tr, p);
}

void hpC_mark_values(hpC_generations *h, const uintptr_t *v, size_t n, bool concurrent) {
  tracer tr = { .h = h, .mk = &h->mk, .concurrent = concurrent };
  for (size_t i = 0; i < n; i++) mark_ref(&tr, (void *)v[i]);
}

bool hpC_mark_slice(hpC_generations *h, bool concurrent, bool young_pinned, size_t budget, size_t *work) {
  tracer tr = { .h = h, .mk = &h->mk, .concurrent = concurrent, .young_pinned = young_pinned };
  bool empty = drain(&tr, budget);
  if (work) *work += tr.work;
  return empty;
}

void hpC_mark_full(hp_runtime *rt) {
  hpC_generations *h = &rt->gens;
  hpC_mark *mk = &h->mk;
  tracer tr = { .h = h, .mk = mk, .young_pinned = true, .weak = true };
  hpC_weak_begin(&h->weak, h, true);
  hpC_visit_roots(rt, visit_slot, &tr);
  if (rt->cfg.conservative_stack) hpC_conservative_roots(rt, mark_candidate, &tr);
  hpC_pin_words(rt, mark_candidate, &tr);               /* hp_pin calls parked here */
  for (size_t i = 0; i < rt->pins.len; i++) mark_ref(&tr, (void *)rt->pins.items[i]);
  drain(&tr, SIZE_MAX);
  /* As in a minor collection: weak slots first, then the finalizable objects (gc/weak.h). */
  uint64_t t0 = hpS_now_ns();
  hpC_weak_fix(&h->weak);
  uint64_t t1 = hpS_now_ns();
  if (hpC_fin_scan(&h->fin, h, true, visit_slot, &tr)) {
    drain(&tr, SIZE_MAX);
    hpC_weak_fix(&h->weak);
  }
  rt->stats.weak_ns += t1 - t0;
  rt->stats.finalize_ns += hpS_now_ns() - t1;
  hpC_weak_end(&h->weak, &rt->stats);
  rt->stats.finalizers_queued += h->fin.queued;
  h->fin.queued = 0;
  hpC_vec_free(&mk->stack);
}

void hpC_mark_finish(hpC_generations *h, bool young_pinned) {
  hpC_mark *mk = &h->mk;
  tracer tr = { .h = h, .mk = mk, .young_pinned = young_pinned };
  for (;;) {
    drain(&tr, SIZE_MAX);
    if (mk->later.len == 0) break;
    while (mk->later.len > 0) trace(&tr, (uint64_t *)mk->later.items[--mk->later.len]);
  }
  hpC_vec_free(&mk->stack);
  hpC_vec_free(&mk->later);
}

void hpC_alloc_black(hpC_generations *h, void *b, size_t bytes) {
  hpP_span *pg = hpP_span_of(b);
  int phase = atomic_load_explicit(&h->mk.phase, memory_order_relaxed);
  if (phase == HPC_MARKING) {
    hpC_mark *mk = &h->mk;
    uint32_t i = hpP_block_index(pg, b);
    hpS_word_fetch_or(&hpP_span_bits(pg, HPP_BITS_MARK)[i >> 6], (uint64_t)1 << (i & 63), memory_order_relaxed);
    mk->black_bytes += bytes;
    if (pg->kind == HPP_SPAN_HUGE) {
      mk->black_huge_bytes += (size_t)pg->npages << HPP_PAGE_SHIFT;
    } else {
      mk->black_blocks++;
      mk->black_block_bytes += pg->block_size;
    }
  } else if (phase == HPC_SWEEPING && pg->kind == HPP_SPAN_BLOCKS && pg->client == HPC_UNSWEPT) {
    uint32_t i = hpP_block_index(pg, b);                 /* [unswept]: its sweep keeps it */
    hpP_span_bits(pg, HPP_BITS_MARK)[i >> 6] |= (uint64_t)1 << (i & 63);
  }
}

/* Clears every mark of pg (a page of the old heap). */
static void clear_page_marks(hpP_span *pg, void *arg) {
  (void)arg;
  memset(hpP_span_bits(pg, HPP_BITS_MARK), 0, HPP_BITS_WORDS * sizeof(uint64_t));
}

void hpC_mark_abandon(hpC_generations *h) {
  hpC_mark *mk = &h->mk;
  hpP_heap_foreach_page(h->old, clear_page_marks, NULL);
  for (size_t i = 0; i < h->huge.len; i++) hpP_span_bits(hpP_span_of((void *)h->huge.items[i]), HPP_BITS_MARK)[0] = 0;
  for (size_t i = 0; i < h->pinned.len; i++) *(uint64_t *)h->pinned.items[i] &= ~HPC_MARKED;
  hpC_vec_free(&mk->stack);
  hpC_vec_free(&mk->later);
}

void hpC_mark_reset_counts(hpC_generations *h) {
  hpC_mark *mk = &h->mk;
  mk->marked_bytes = mk->marked_blocks = mk->marked_block_bytes = mk->marked_huge_bytes = 0;
  mk->black_bytes = mk->black_blocks = mk->black_block_bytes = mk->black_huge_bytes = 0;
}
