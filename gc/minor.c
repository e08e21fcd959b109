/* gc/minor.c -- the minor collection: copying eden and from-space into to-space
 * breadth-first (Cheney), promoting by age into the old generation.
 *
 * Work comes from three places, in this order:
 *   roots            every root slot that points into the young generation;
 *   remembered set   every old object that held a young pointer (invariant [remembered]);
 *   the scan         to-space from `scan` to `to_top` (Cheney), and the stack of objects
 *                    promoted in this collection, until both are empty.
 * Evacuating an object copies it and leaves a forwarding header behind, so each object is
 * copied once however many slots point to it. The cost is the live young bytes plus the
 * remembered objects' slots: nothing here walks the old generation.
 */
#include "runtime/runtime.h"

#include <string.h>

typedef struct minor {
  hp_runtime *rt;
  hpC_heap *h;
  uintptr_t to_top;
  hpC_vec promoted;           /* headers of objects promoted and not yet scanned */
  bool promote_all;
  unsigned tenure;
  bool points_young;          /* set when a visited slot is left pointing to a young object */
  size_t copied, promoted_bytes;
  size_t age_bytes[16];       /* bytes copied to to-space, by new age */
} minor;

hp_cold static void bad_young_pointer(void **slot, void *p) {
  hpR_fatal("hp: slot %p holds %p, which points into the young generation but not at a live "
            "object (a stale pointer kept across a collection?)", (void *)slot, p);
}

/* Copies `bytes` (a multiple of 8): a word loop for the small objects that dominate, where
 * a call to memcpy costs more than the copy. */
hp_inline void copy_words(uint64_t *dst, const uint64_t *src, size_t bytes) {
  if (bytes <= 128) {
    for (size_t i = 0; i < bytes / 8; i++) dst[i] = src[i];
  } else {
    memcpy(dst, src, bytes);
  }
}

/* Copies the object at hdr (header h) to to-space or the old generation; returns its new
 * body. */
static void *copy(minor *c, uint64_t *hdr, uint64_t h) {
  size_t bytes = hpC_bytes(h);
  unsigned age = hpC_age(h) + 1;
  uint64_t *dst;
  if (!c->promote_all && age < c->tenure && c->to_top + bytes <= c->h->to_hi) {
    dst = (uint64_t *)c->to_top;
    c->to_top += bytes;
    c->copied += bytes;
    c->age_bytes[age] += bytes;
    copy_words(dst, hdr, bytes);
    *dst = (h & ~HPC_AGE_MASK) | ((uint64_t)age << HPC_AGE_SHIFT);
  } else {
    dst = hpC_old_alloc(c->h, bytes);
    hp_check(dst != NULL, "hp: out of memory while promoting %zu bytes (address space exhausted)", bytes);
    copy_words(dst, hdr, bytes);
    *dst = h & ~HPC_AGE_MASK;
    c->promoted_bytes += bytes;
    hpC_vec_push(&c->promoted, (uintptr_t)dst);
  }
  *hdr = (uint64_t)(uintptr_t)dst | HPC_FORWARDED;
  return dst + 1;
}

static void visit(void **slot, void *ctx) {
  minor *c = ctx;
  void *p = *slot;
  hpC_heap *h = c->h;
  if (!hpC_is_young(h, p)) return;
  uintptr_t a = (uintptr_t)p;
  if (a - h->to_lo < h->to_hi - h->to_lo) {            /* already copied: a slot seen twice */
    c->points_young = true;
    return;
  }
  if (HP_DEBUG >= 1 && !((a > h->eden_lo && a <= h->eden_top) || (a > h->from_lo && a <= h->from_top)))
    bad_young_pointer(slot, p);
  uint64_t *hdr = (uint64_t *)p - 1;
  uint64_t hw = *hdr;
  void *np = (hw & HPC_FORWARDED) ? (void *)((uint64_t *)(uintptr_t)(hw & ~HPC_FORWARDED) + 1) : copy(c, hdr, hw);
  *slot = np;
  if (hpC_is_young(h, np)) c->points_young = true;
}

/* Scans the remembered set: each object is traced, and stays remembered only if it still
 * holds a young pointer afterwards. */
static void scan_remembered(minor *c) {
  hpC_vec *rs = &c->h->remset;
  size_t n = rs->len, kept = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t *hdr = hpC_header((void *)rs->items[i]);
    *hdr &= ~HPC_REMEMBERED;
    c->points_young = false;
    hpC_trace_with(hdr, visit, c);
    if (c->points_young) {
      *hdr |= HPC_REMEMBERED;
      rs->items[kept++] = rs->items[i];
    }
  }
  /* Objects remembered since (promoted ones) were appended after n: keep them too. */
  for (size_t i = n; i < rs->len; i++) rs->items[kept++] = rs->items[i];
  rs->len = kept;
}

/* Cheney's loop over to-space, interleaved with the promoted objects. */
static void scan(minor *c) {
  uintptr_t s = c->h->to_lo;
  for (;;) {
    while (s < c->to_top) {
      uint64_t *hdr = (uint64_t *)s;
      s += hpC_bytes(*hdr);
      hpC_trace_with(hdr, visit, c);
    }
    if (c->promoted.len == 0) break;
    while (c->promoted.len > 0) {
      uint64_t *hdr = (uint64_t *)c->promoted.items[--c->promoted.len];
      c->points_young = false;
      hpC_trace_with(hdr, visit, c);
      if (c->points_young && !(*hdr & HPC_REMEMBERED)) {
        *hdr |= HPC_REMEMBERED;
        hpC_vec_push(&c->h->remset, (uintptr_t)(hdr + 1));
      }
    }
  }
}

/* HotSpot's rule: the tenure age is the first age at which the survivors of that age and
 * younger fill more than half of a survivor space, but no more than the configured age. */
static unsigned adapt_tenure(minor *c) {
  unsigned max = c->rt->cfg.tenure_age;
  if (!c->rt->cfg.adaptive_tenure) return max;
  size_t desired = (c->h->to_hi - c->h->to_lo) / 2, total = 0;
  for (unsigned age = 1; age < 16; age++) {
    total += c->age_bytes[age];
    if (total > desired) return age < max ? age : max;
  }
  return max;
}

void hpC_minor(hp_runtime *rt, bool promote_all, hpC_cycle *cy) {
  hpC_heap *h = &rt->heap;
  minor c = { .rt = rt, .h = h, .to_top = h->to_lo, .promote_all = promote_all, .tenure = h->tenure };

  hpC_visit_roots(rt, visit, &c);
  scan_remembered(&c);
  scan(&c);
  hpC_vec_free(&c.promoted);

  /* Eden and from-space now hold only garbage and forwarding headers. */
  if (HP_DEBUG >= 2) {
    memset((void *)h->eden_lo, 0xE7, h->eden_top - h->eden_lo);
    memset((void *)h->from_lo, 0xE7, h->from_top - h->from_lo);
  }
  h->eden_top = h->eden_lo;
  uintptr_t lo = h->from_lo, hi = h->from_hi;
  h->from_lo = h->to_lo;
  h->from_top = c.to_top;
  h->from_hi = h->to_hi;
  h->to_lo = lo;
  h->to_hi = hi;
  h->tenure = adapt_tenure(&c);

  cy->copied += c.copied;
  cy->promoted += c.promoted_bytes;
}
