/* gc/generations.c -- the collector's heap: the young span and its three spaces, the old
 * generation's pool heap and its huge objects, created and destroyed with the runtime. */
#include "gc/collector.h"
#include "pools/platform/os.h"

#include <string.h>

bool hpC_generations_init(hp_runtime *rt) {
  hpC_generations *h = &rt->gens;
  pthread_mutex_init(&h->mk.mu, NULL);
  pthread_mutex_init(&h->mk.log_mu, NULL);
  pthread_mutex_init(&h->mk.wake_mu, NULL);
  pthread_cond_init(&h->mk.wake_cv, NULL);
  hpC_sizing_init(rt);
  /* Reserved for the largest eden and survivors (gc/sizing.c); they start smaller. */
  size_t eden = h->eden_max, surv = h->surv_max, s0 = hpC_survivor_bytes(rt, h->eden_init);
  /* Adaptive, the survivor spaces' first sizes are centred on a huge page: offset `mid`
   * is s0 past a 2 MiB boundary (padding the reservation by less than 2 MiB). */
  size_t mid = eden + surv;
  if (h->eden_max > h->eden_init) mid = ((mid - s0 + 2 * HP_MiB - 1) & ~(2 * HP_MiB - 1)) + s0;
  size_t total = mid + surv;
  /* 2 MiB aligned, with transparent huge pages: eden is touched all the time, and a huge
   * page saves 511 page faults and TLB misses of 4 KiB ones. */
  h->young_span = hpP_span_alloc(total >> HPP_PAGE_SHIFT, (2 * HP_MiB) >> HPP_PAGE_SHIFT, HPP_SPAN_RAW, NULL);
  if (h->young_span == NULL) return false;
  h->young_lo = (uintptr_t)hpP_span_start(h->young_span);
  hpS_hugepages((void *)h->young_lo, total);
  h->young_hi = h->young_lo + total;
  /* [eden's region | from's region | to's region]; in use: eden from its start, the
   * survivor spaces on either side of young_mid (gc/sizing.c), so that the two touch
   * the fewest huge pages whatever their size. */
  h->young_mid = h->young_lo + mid;
  h->eden.lo = h->young_lo;
  h->eden.hi = h->eden.lo + h->eden_init;               /* the sizes in use, at first */
  h->from.lo = h->young_mid - s0;
  h->from.hi = h->to.lo = h->young_mid;
  h->to.hi = h->young_mid + s0;
  hpC_space_reset(&h->eden, &h->pinned);
  hpC_space_reset(&h->from, &h->pinned);
  hpC_space_reset(&h->to, &h->pinned);
  hpC_eden_publish(h);
  h->starts = hp_pool_alloc(total / 64);
  h->old = hpP_heap_new(HPP_ARENA_GC, true);
  if (h->old == NULL || h->starts == NULL) { hpC_generations_destroy(rt); return false; }
  memset(h->starts, 0, total / 64);
  h->tenure = rt->cfg.tenure_age;
  hpC_set_thresholds(rt, 0);
  h->mk.mode = hpC_mark_mode(rt);
  hpC_sweep_init(h);
  return true;
}

void hpC_generations_destroy(hp_runtime *rt) {
  hpC_generations *h = &rt->gens;
  hpC_mark *mk = &h->mk;
  hpC_vec_free(&mk->stack);
  hpC_vec_free(&mk->later);
  for (size_t i = 0; i < mk->logs.len; i++) hp_pool_free((void *)mk->logs.items[i]);
  hpC_vec_free(&mk->logs);
  for (unsigned c = 0; c < HPP_CLASSES; c++) hpC_vec_free(&mk->sweep[c]);
  pthread_mutex_destroy(&mk->mu);
  pthread_mutex_destroy(&mk->log_mu);
  pthread_mutex_destroy(&mk->wake_mu);
  pthread_cond_destroy(&mk->wake_cv);
  if (h->old) h->old->refill = NULL;
  for (size_t i = 0; i < h->huge.len; i++) hpP_huge_free_span(hpP_span_of((void *)h->huge.items[i]));
  hpC_vec_free(&h->huge);
  hpC_vec_free(&h->remset);
  hpC_vec_free(&h->tlabs);
  hpC_vec_free(&h->pinned);
  hpC_weak_free(&h->weak);
  hpC_fin_free(&h->fin);
  hp_pool_free(h->eden.runs);
  hp_pool_free(h->from.runs);
  hp_pool_free(h->to.runs);
  hp_pool_free(h->starts);
  if (h->old) hpP_heap_destroy(h->old);
  if (h->young_span) hpP_raw_free(h->young_span);
  memset(h, 0, sizeof *h);
}

size_t hpC_committed(hp_runtime *rt) {
  hpC_generations *h = &rt->gens;
  return (h->eden.hi - h->eden.lo) + (h->from.hi - h->from.lo) + (h->to.hi - h->to.lo) + h->old_bytes;
}

uint64_t *hpC_old_header_of(const void *p, hpP_span **span) {
  return hpP_block_of(p, span);
}

void *hpC_old_alloc_slow(hpC_generations *h, size_t bytes) {
  hp_assert(bytes > HPP_LARGE_MAX);
  void *b = hpP_huge_alloc(bytes, 0, HPP_ARENA_GC);
  if (b == NULL) return NULL;
  hpP_span *pg = hpP_span_of(b);
  atomic_store_explicit(&pg->owner, h->old, memory_order_relaxed);  /* whose object: see hpC_object_of */
  for (size_t i = 0; i < pg->npages; i++)                            /* no stale cards */
    memset(hpP_bits(hpP_index(b) + i, HPP_BITS_AUX), 0, HPP_BITS_WORDS * sizeof(uint64_t));
  hpC_vec_push(&h->huge, (uintptr_t)b);
  hpP_bit_set_1w(hpP_span_bits(pg, HPP_BITS_ALLOC), 0);
  h->old_bytes += (size_t)pg->npages << HPP_PAGE_SHIFT;
  h->old_object_bytes += bytes;
  if (atomic_load_explicit(&h->mk.phase, memory_order_relaxed) == HPC_MARKING) hpC_alloc_black(h, b, bytes);
  return b;
}
