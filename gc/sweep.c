/* gc/sweep.c -- sweeping the old generation off the pause, lazily.
 *
 * At the end of a mark (gc/mark.h, [unswept]) the pause only lists the old heap's pages by
 * size class and flags each one unswept (pg->client = HPC_UNSWEPT); dead huge objects are
 * freed there and then (a few spans), and the dead remembered objects leave the remembered
 * set. The pages are then swept by bitmaps (pools' hpP_page_sweep: ALLOC & ~MARK, 64 blocks
 * a word) when
 *   - the old heap's allocator runs out of blocks of a class (the pools call `refill`, which
 *     sweeps pages of that class until one gives back a block), as Boehm GC and mimalloc do;
 *   - the marker thread, or in single-core mode a mutator's allocation slow path, sweeps a
 *     few pages at a time while nothing else is to be done (hpC_sweep_some);
 *   - the next mark begins (hpC_sweep_all, in that pause: usually nothing is left by then).
 * All of it under alloc_mu or in a pause, as every use of the old heap. The number of dead
 * objects is known at the end of the mark (blocks in use less blocks marked), so
 * objects_freed counts them then, whenever their blocks are swept.
 */
#include "gc/collector.h"
#include "pools/platform/os.h"

static size_t sweep_page(hpC_generations *h, hpP_span *pg) {
  pg->client = 0;
  uint32_t bs = pg->block_size;                       /* read first: the page may go back */
  size_t n = hpP_page_sweep(h->old, pg);
  h->old_bytes -= n * bs;
  h->mk.dead_bytes -= n * bs;
  return n;
}

/* The pools' hook: pages of class cls until one frees a block; false if none is left. */
static bool refill(hpP_heap *ph, unsigned cls, void *arg) {
  hpC_generations *h = arg;
  (void)ph;
  if (atomic_load_explicit(&h->mk.phase, memory_order_relaxed) != HPC_SWEEPING) return false;
  hpC_vec *v = &h->mk.sweep[cls];
  uint64_t t0 = v->len ? hpS_now_ns() : 0;
  bool got = false;
  while (v->len > 0 && !got) {
    hpP_span *pg = (hpP_span *)v->items[--v->len];
    h->mk.sweep_left--;
    got = sweep_page(h, pg) > 0;
  }
  if (t0) h->mk.sweep_ns += hpS_now_ns() - t0;
  if (h->mk.sweep_left == 0) hpC_sweep_done(h);
  return got;
}

void hpC_sweep_init(hpC_generations *h) {
  h->old->refill = refill;
  h->old->refill_arg = h;
}

static void list_page(hpP_span *pg, void *arg) {
  hpC_generations *h = arg;
  pg->client = HPC_UNSWEPT;
  hpC_vec_push(&h->mk.sweep[pg->cls], (uintptr_t)pg);
  h->mk.sweep_left++;
}

/* Drops the remembered objects that are about to be swept: a dead one must not outlive its
 * block, and its slots are no longer kept up to date. */
static void filter_remembered(hpC_generations *h) {
  hpC_vec *rs = &h->remset;
  size_t kept = 0;
  for (size_t i = 0; i < rs->len; i++) {
    uint64_t *hdr = hpC_header((void *)rs->items[i]);
    hpP_span *pg = hpP_span_of(hdr);
    uint32_t b = hpP_block_index(pg, hdr);
    if ((hpP_span_bits(pg, HPP_BITS_MARK)[b >> 6] >> (b & 63)) & 1) rs->items[kept++] = rs->items[i];
  }
  rs->len = kept;
}

static size_t sweep_huge(hpC_generations *h) {
  hpC_vec *v = &h->huge;
  size_t kept = 0, freed = 0;
  for (size_t i = 0; i < v->len; i++) {
    hpP_span *pg = hpP_span_of((void *)v->items[i]);
    uint64_t *bits = hpP_span_bits(pg, HPP_BITS_MARK);
    if (bits[0] & 1) {
      bits[0] &= ~(uint64_t)1;
      v->items[kept++] = v->items[i];
    } else {
      freed++;
      h->old_bytes -= (size_t)pg->npages << HPP_PAGE_SHIFT;
      hpP_huge_free_span(pg);
    }
  }
  v->len = kept;
  return freed;
}

/* Used blocks of a page and their bytes (for the count of the dead). */
static void count_used(hpP_span *pg, void *arg) {
  size_t *c = arg, n = atomic_load_explicit(&pg->used, memory_order_relaxed);
  c[0] += n;
  c[1] += n * pg->block_size;
}

size_t hpC_sweep_begin(hpC_generations *h) {
  hpC_mark *mk = &h->mk;
  hp_assert(mk->sweep_left == 0);
  filter_remembered(h);
  size_t freed = sweep_huge(h), used[2] = { 0, 0 };
  hpP_heap_foreach_page(h->old, count_used, used);
  hpP_heap_foreach_page(h->old, list_page, h);
  hp_assert(used[0] >= mk->marked_blocks + mk->black_blocks);
  freed += used[0] - mk->marked_blocks - mk->black_blocks;
  mk->dead_bytes = used[1] - mk->marked_block_bytes - mk->black_block_bytes;
  atomic_store_explicit(&mk->phase, mk->sweep_left ? HPC_SWEEPING : HPC_IDLE, memory_order_relaxed);
  mk->black = false;
  return freed;
}

typedef struct eager { hpC_generations *h; size_t freed; } eager;

static void sweep_now_page(hpP_span *pg, void *arg) {
  eager *e = arg;
  uint32_t bs = pg->block_size;                       /* read first: the page may go back */
  size_t n = hpP_page_sweep(e->h->old, pg);
  e->h->old_bytes -= n * bs;
  e->freed += n;
}

size_t hpC_sweep_now(hpC_generations *h) {
  hpC_mark *mk = &h->mk;
  hp_assert(mk->sweep_left == 0);
  filter_remembered(h);
  eager e = { h, sweep_huge(h) };
  hpP_heap_foreach_page(h->old, sweep_now_page, &e);
  atomic_store_explicit(&mk->phase, HPC_IDLE, memory_order_relaxed);
  mk->black = false;
  return e.freed;
}

void hpC_sweep_done(hpC_generations *h) {
  for (unsigned c = 0; c < HPP_CLASSES; c++) hpC_vec_free(&h->mk.sweep[c]);
  hp_assert(h->mk.dead_bytes == 0);
  h->mk.dead_bytes = 0;
  atomic_store_explicit(&h->mk.phase, HPC_IDLE, memory_order_relaxed);
}

bool hpC_sweep_some(hpC_generations *h, size_t pages) {
  hpC_mark *mk = &h->mk;
  if (atomic_load_explicit(&mk->phase, memory_order_relaxed) != HPC_SWEEPING) return true;
  uint64_t t0 = hpS_now_ns();
  for (unsigned c = 0; c < HPP_CLASSES && pages > 0; c++) {
    hpC_vec *v = &mk->sweep[c];
    while (v->len > 0 && pages > 0) {
      sweep_page(h, (hpP_span *)v->items[--v->len]);
      mk->sweep_left--;
      pages--;
    }
  }
  mk->sweep_ns += hpS_now_ns() - t0;
  if (mk->sweep_left > 0) return false;
  hpC_sweep_done(h);
  return true;
}

void hpC_sweep_all(hpC_generations *h) { hpC_sweep_some(h, SIZE_MAX); }
