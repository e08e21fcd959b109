/* gc/young.c -- the spaces of the young generation as runs around pinned objects, and the
 * lookup of the young object that holds an address.
 *
 * A pinned object stays where it is (gc/conservative.c); the space around it keeps working
 * as a bump allocator over the free runs between pinned objects. Runs are recomputed at
 * every collection from the sorted list of pinned objects, so pinning holds back exactly the
 * pinned bytes, plus, at most once per pinned object, a run too short for what was asked.
 */
#include "gc/collector.h"

#include <pthread.h>
#include <string.h>

/* ------------------------------------------------------------------------------------
 *  Runs
 * ------------------------------------------------------------------------------------ */

/* The first pinned object whose end is above a (binary search over sorted headers). */
static size_t first_pinned_after(const hpC_vec *pinned, uintptr_t a) {
  size_t lo = 0, hi = pinned->len;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    uintptr_t h = pinned->items[mid];
    if (h + hpC_bytes(*(uint64_t *)h) <= a) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

void hpC_space_reset(hpC_space *s, const hpC_vec *pinned) {
  size_t first = first_pinned_after(pinned, s->lo), n = 0;
  for (size_t i = first; i < pinned->len && pinned->items[i] < s->hi; i++) n++;
  size_t cap = n + 1;
  hp_pool_free(s->runs);
  s->runs = hp_pool_alloc(cap * sizeof *s->runs);
  hp_check(s->runs != NULL, "hp: no memory for the young generation's runs");
  size_t nr = 0;
  uintptr_t at = s->lo;
  s->free_bytes = 0;
  s->max_run = 0;
  for (size_t i = first; i < first + n; i++) {
    uintptr_t h = pinned->items[i], end = h + hpC_bytes(*(uint64_t *)h);
    if (h > at) {
      s->runs[nr++] = (hpC_run){ at, h };
      s->free_bytes += h - at;
      if (h - at > s->max_run) s->max_run = h - at;
    }
    if (end > at) at = end;
  }
  if (at < s->hi) {
    s->runs[nr++] = (hpC_run){ at, s->hi };
    s->free_bytes += s->hi - at;
    if (s->hi - at > s->max_run) s->max_run = s->hi - at;
  }
  s->nruns = nr;
  s->run = 0;
  s->top = nr ? s->runs[0].lo : s->lo;
  s->limit = nr ? s->runs[0].hi : s->lo;
  hp_validate(hpC_space_valid(s));
}

bool hpC_space_advance(hpC_space *s, size_t need) {
  hp_assert(need % 8 == 0 && s->run <= s->nruns);
  /* Find a run first: when none fits, nothing changes, and smaller objects may still use
   * what is left of the current one. */
  size_t r = s->run + 1;
  while (r < s->nruns && s->runs[r].hi - s->runs[r].lo < need) r++;
  if (s->run >= s->nruns || r >= s->nruns) return false;
  if (s->limit > s->top) hpC_fill((void *)s->top, s->limit - s->top);
  for (size_t k = s->run + 1; k < r; k++)                /* too short: closed off, parsable */
    hpC_fill((void *)s->runs[k].lo, s->runs[k].hi - s->runs[k].lo);
  s->run = r;
  s->top = s->runs[r].lo;
  s->limit = s->runs[r].hi;
  return true;
}

size_t hpC_space_used(const hpC_space *s) {
  size_t used = 0;
  for (size_t r = 0; r < s->run && r < s->nruns; r++) used += s->runs[r].hi - s->runs[r].lo;
  if (s->run < s->nruns) used += s->top - s->runs[s->run].lo;
  return used;
}

void hpC_space_walk(const hpC_space *s, void (*fn)(uint64_t *hdr, void *arg), void *arg) {
  for (size_t r = 0; r <= s->run && r < s->nruns; r++) {
    uintptr_t a = s->runs[r].lo, end = r == s->run ? s->top : s->runs[r].hi;
    while (a < end) {
      uint64_t *hdr = (uint64_t *)a;
      size_t bytes = hpC_bytes(*hdr);
      if (bytes == 0 || (*hdr & HPC_FORWARDED))
        hpS_fatal("hp: the young generation does not parse at %p (header %#llx)", (void *)a,
                  (unsigned long long)*hdr);
      fn(hdr, arg);
      a += bytes;
    }
  }
}

/* ------------------------------------------------------------------------------------
 *  Eden, shared by the threads
 * ------------------------------------------------------------------------------------ */

void hpC_eden_sync(hpC_generations *h) {
  uintptr_t c = atomic_load_explicit(&h->eden_cursor, memory_order_relaxed);   /* world stopped */
  if (c <= h->eden.limit) h->eden.top = c;
}

void hpC_eden_publish(hpC_generations *h) {
  /* Cursor first: a thread that sees the new cursor with the old limit finds no room and
   * takes the lock; one that sees the old cursor cannot CAS it any more (the CAS, on the
   * cursor itself, needs no order with the limit). */
  atomic_store_explicit(&h->eden_cursor, h->eden.top, memory_order_release);
  atomic_store_explicit(&h->eden_limit, h->eden.limit, memory_order_release);
}

uintptr_t hpC_eden_grab(hp_runtime *rt, size_t need, size_t want, size_t *got) {
  hp_assert(need % 8 == 0 && need <= want);
  hpC_generations *h = &rt->gens;
  for (;;) {
    uintptr_t top = atomic_load_explicit(&h->eden_cursor, memory_order_acquire);
    uintptr_t lim = atomic_load_explicit(&h->eden_limit, memory_order_acquire);
    if (top <= lim && lim - top >= need) {
      size_t take = lim - top < want ? lim - top : want;
      if (atomic_compare_exchange_weak_explicit(&h->eden_cursor, &top, top + take, memory_order_acq_rel,
                                                memory_order_acquire)) {
        *got = take;
        return top;
      }
      continue;
    }
    /* This run is used up: move on, under the lock, and claim what is left of it so that
     * nobody else carves it while we fill it. */
    pthread_mutex_lock(&rt->alloc_mu);
    top = atomic_load_explicit(&h->eden_cursor, memory_order_acquire);
    lim = atomic_load_explicit(&h->eden_limit, memory_order_acquire);
    if (top <= lim && lim - top >= need) { pthread_mutex_unlock(&rt->alloc_mu); continue; }
    uintptr_t rest = atomic_exchange_explicit(&h->eden_cursor, lim, memory_order_acq_rel);
    h->eden.top = rest <= lim ? rest : lim;
    bool ok = hpC_space_advance(&h->eden, need);
    hpC_eden_publish(h);
    pthread_mutex_unlock(&rt->alloc_mu);
    if (!ok) return 0;
  }
}

/* ------------------------------------------------------------------------------------
 *  Which young object holds an address
 * ------------------------------------------------------------------------------------ */

uint64_t *hpC_pinned_object_of(const hpC_generations *h, uintptr_t a) {
  size_t i = first_pinned_after(&h->pinned, a);
  if (i == h->pinned.len) return NULL;
  uintptr_t hdr = h->pinned.items[i];
  return hdr <= a ? (uint64_t *)hdr : NULL;
}

/* Eden: the TLAB that holds a, parsed from its start. TLABs are recorded in address order. */
uint64_t *hpC_eden_object_in(const hpC_vec *tlabs, uintptr_t a) {
  size_t n = tlabs->len / 2, lo = 0, hi = n;
  const uintptr_t *t = tlabs->items;
  while (lo < hi) {                                 /* the last TLAB starting at or below a */
    size_t mid = (lo + hi) / 2;
    if (t[2 * mid] <= a) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return NULL;
  uintptr_t p = t[2 * (lo - 1)], end = t[2 * (lo - 1) + 1];
  if (a >= end) return NULL;
  while (p < end) {
    uint64_t hw = *(uint64_t *)p;
    size_t bytes = hpC_bytes(hw);
    if (bytes == 0) return NULL;                    /* the unused part of a live TLAB */
    if (a < p + bytes) return hpC_type_id(hw) != 0 ? (uint64_t *)p : NULL;
    p += bytes;
  }
  return NULL;
}

/* From-space: the nearest object start at or below a, from the start bits. */
static uint64_t *from_object_of(hpC_generations *h, uintptr_t a) {
  size_t w = (a - h->young_lo) / 8, first = (h->from.lo - h->young_lo) / 8;
  size_t word = w / 64;
  uint64_t bits = h->starts[word] & (~(uint64_t)0 >> (63 - w % 64));
  while (bits == 0) {
    if (word * 64 <= first) return NULL;
    bits = h->starts[--word];
  }
  size_t start = word * 64 + 63 - (size_t)__builtin_clzll(bits);
  if (start < first) return NULL;
  uint64_t *hdr = (uint64_t *)(h->young_lo + start * 8);
  return a < (uintptr_t)hdr + hpC_bytes(*hdr) ? hdr : NULL;
}

uint64_t *hpC_young_object_of(hpC_generations *h, uintptr_t a) {
  uint64_t *p = hpC_pinned_object_of(h, a);
  if (p) return p;
  if (a >= h->eden.lo && a < h->eden.hi) return hpC_eden_object_in(&h->tlabs, a);
  if (a >= h->from.lo && a < h->from.hi) return from_object_of(h, a);
  return NULL;                                      /* to-space is empty between collections */
}
