/* gc/minor.c -- the minor collection: copying eden and from-space into to-space
 * breadth-first (Cheney), promoting by age into the old generation.
 *
 * Work comes from these places, in this order:
 *   conservative roots  words of the threads' stacks and registers (gc/conservative.c):
 *                       the young objects they hit are pinned, that is promoted in place;
 *   explicit pins       hp_pin'd objects, pinned in the same way;
 *   roots               every root slot that points into the young generation;
 *   pinned objects      all of them, old and new: the barrier cannot see stores into them;
 *   remembered set      every old object that held a young pointer (invariant [remembered]);
 *   the scan            to-space, run by run (Cheney), and the stack of objects promoted in
 *                       this collection, until both are empty.
 * Evacuating an object copies it and leaves a forwarding header behind, so each object is
 * copied once however many slots point to it. The cost is the live young bytes plus the
 * remembered and pinned objects: nothing here walks the old generation.
 */
#include "gc/collector.h"
#include "pools/platform/os.h"

#include <stdlib.h>
#include <string.h>

typedef struct minor {
  hp_runtime *rt;
  hpC_generations *h;
  hpC_space *to;
  hpC_vec promoted;           /* headers of objects promoted (or pinned) and not yet scanned */
  bool promote_all;
  unsigned tenure;
  bool points_young;          /* set when a visited slot is left pointing to a young object */
  hpC_vec newly_pinned;       /* pinned now and not in the pinned list before */
  size_t copied, promoted_bytes, pinned_bytes;
  size_t age_bytes[16];       /* bytes copied to to-space, by new age */
  size_t scan_run;            /* Cheney's scan pointer: run and address (scan() resumes it) */
  uintptr_t scan_at;
} minor;

#define BAD_YOUNG_POINTER "hp: slot %p holds %p, which points into the young generation but not at " \
                          "a live object (a stale pointer kept across a collection?)"

/* Copies `bytes` (a multiple of 8): a word loop for the small objects that dominate, where
 * a call to memcpy costs more than the copy. */
hp_inline void copy_words(uint64_t *dst, const uint64_t *src, size_t bytes) {
  if (bytes <= 128) {
    for (size_t i = 0; i < bytes / 8; i++) dst[i] = src[i];
  } else {
    memcpy(dst, src, bytes);
  }
}

/* Copies the object at hdr (header word hw) to to-space or the old generation; returns its new
 * body. */
static void *copy(minor *c, uint64_t *hdr, uint64_t hw) {
  size_t bytes = hpC_bytes(hw);
  hp_assert(!(hw & (HPC_FORWARDED | HPC_PINNED | HPC_REMEMBERED)) && bytes >= 8);
  unsigned age = hpC_age(hw) + 1;
  hpC_space *to = c->to;
  uint64_t *dst;
  if (!c->promote_all && age < c->tenure &&
      (to->limit - to->top >= bytes || hpC_space_advance(to, bytes))) {
    dst = (uint64_t *)to->top;
    to->top += bytes;
    c->copied += bytes;
    c->age_bytes[age] += bytes;
    copy_words(dst, hdr, bytes);
    *dst = (hw & ~HPC_AGE_MASK) | ((uint64_t)age << HPC_AGE_SHIFT);
    hpC_set_start(c->h, dst);
  } else {
    dst = hpC_old_alloc(c->h, bytes);
    hp_check(dst != NULL, "hp: out of memory while promoting %zu bytes (address space exhausted)", bytes);
    copy_words(dst, hdr, bytes);
    *dst = hw & ~HPC_AGE_MASK;
    c->promoted_bytes += bytes;
    hpC_vec_push(&c->promoted, (uintptr_t)dst);
  }
  *hdr = (uint64_t)(uintptr_t)dst | HPC_FORWARDED;
  return dst + 1;
}

/* Evacuates (or finds the copy of) the young object that *slot points to, p. */
static void visit_young(minor *c, void **slot, void *p) {
  hpC_generations *h = c->h;
  uintptr_t a = (uintptr_t)p;
  uint64_t *hdr = (uint64_t *)p - 1;
  if (a - c->to->lo < c->to->hi - c->to->lo && hpC_is_start(h, hdr)) {
    c->points_young = true;                            /* copied in this collection */
    return;
  }
  uint64_t hw = *hdr;
  void *np;
  if (hw & HPC_FORWARDED) {
    np = (uint64_t *)(uintptr_t)(hw & ~HPC_FORWARDED) + 1;
    /* This collection forwards into to-space or the old generation, never into from-space:
     * such a header is left from an earlier collection, and p is a stale pointer. */
    hp_check_api((uintptr_t)np - h->from.lo >= h->from.hi - h->from.lo, BAD_YOUNG_POINTER, (void *)slot, p);
  } else if (hw & HPC_PINNED) {
    np = p;                                            /* stays: old, in place */
  } else {
    if (hp_unlikely(hw & HPC_REMEMBERED)) hw = hpC_weak_unpark(&h->weak, hdr, hw);  /* [ephemeron-parked] */
    hp_check_api(hpC_words(hw) != 0 && hpC_types[hpC_type_id(hw)] != NULL, BAD_YOUNG_POINTER, (void *)slot, p);
    np = copy(c, hdr, hw);
  }
  *slot = np;
  if (hpC_is_young(h, np)) c->points_young = true;
}

/* The visitor of the whole minor collection, inlined into every tracing loop: a slot that
 * does not point into the young generation costs one compare. */
hp_inline void visit_slot(void **slot, void *ctx) {
  minor *c = ctx;
  void *p = *slot;
  hpC_generations *h = c->h;
  if (hp_likely(!hpC_is_young(h, p))) return;
  visit_young(c, slot, p);
}

static void visit(void **slot, void *ctx) { visit_slot(slot, ctx); }

/* After tracing an object: its weak slots and ephemeron pairs, if its type has any. */
hp_inline void trace_weak(minor *c, uint64_t *hdr) {
  if (hp_unlikely(hpC_type_weak[hpC_type_id(*hdr)])) hpC_weak_trace(&c->h->weak, hdr, visit, c);
}

/* ------------------------------------------------------------------------------------
 *  Pinning
 * ------------------------------------------------------------------------------------ */

/* Pinned objects come in two kinds, told apart by their age field (gc/gc.h):
 *   pinned young  found by a conservative root or hp_pin at this collection: not moved,
 *                 traced as a root, aged. At the next collection it is unpinned first and
 *                 pinned again only if found again; otherwise it is evacuated like any young
 *                 object if reachable, and its hole is free after that collection.
 *   pinned old    pinned young that reached the tenure age (or met a major collection):
 *                 promoted in place, traced at every minor collection, freed by a major one.
 * So a word that happens to look like a pointer holds its object for one collection only. */

static bool pinned_old(uint64_t hw) { return hpC_age(hw) == HPC_AGE_PINNED_OLD; }

static void pin(minor *c, uint64_t *hdr) {
  *hdr |= HPC_PINNED;
  c->pinned_bytes += hpC_bytes(*hdr);
  /* New ones wait in their own list: the pinned list must stay sorted for lookups. */
  if (hpC_pinned_object_of(c->h, (uintptr_t)hdr) != hdr) hpC_vec_push(&c->newly_pinned, (uintptr_t)hdr);
}

static void pin_candidate(hp_runtime *rt, uintptr_t w, void *ctx) {
  minor *c = ctx;
  (void)rt;
  if (!hpC_is_young(c->h, (void *)w)) return;          /* old objects never move */
  uint64_t *hdr = hpC_young_object_of(c->h, w);
  if (hdr != NULL && !(*hdr & HPC_PINNED)) pin(c, hdr);
  if (hdr != NULL && (uintptr_t)hdr != w) return;     /* inside an object: no zero-size one */
  hdr = hpC_zero_size_before(c->h, w);
  if (hdr != NULL && !(*hdr & HPC_PINNED)) pin(c, hdr);
}

/* Unpins last collection's pinned young objects, pins what the stacks and hp_pin name now,
 * and queues every pinned object to be traced. The list keeps the unpinned ones until the
 * end of the collection: their holes stay out of to-space while they may be evacuated. */
static void pin_roots(minor *c) {
  hp_runtime *rt = c->rt;
  hpC_generations *h = c->h;
  for (size_t i = 0; i < h->pinned.len; i++) {
    uint64_t *hdr = (uint64_t *)h->pinned.items[i];
    if (!pinned_old(*hdr)) *hdr &= ~HPC_PINNED;
  }
  if (rt->cfg.conservative_stack) hpC_conservative_roots(rt, pin_candidate, c);
  hpC_pin_words(rt, pin_candidate, c);
  /* An object pinned by hp_pin is promoted in place at once: it may stay pinned for long,
   * and once old it never moves, even after hp_unpin. */
  for (size_t i = 0; i < rt->pins.len; i++) {
    uint64_t *hdr = hpC_header((void *)rt->pins.items[i]);
    if (!hpC_in_young_span(h, (uintptr_t)hdr)) continue;
    if (!(*hdr & HPC_PINNED)) pin(c, hdr);
    *hdr = (*hdr & ~HPC_AGE_MASK) | ((uint64_t)HPC_AGE_PINNED_OLD << HPC_AGE_SHIFT);
  }
  if (c->newly_pinned.len) {
    for (size_t i = 0; i < c->newly_pinned.len; i++) hpC_vec_push(&h->pinned, c->newly_pinned.items[i]);
    qsort(h->pinned.items, h->pinned.len, sizeof(uintptr_t), hpC_cmp_word);
    hpC_vec_free(&c->newly_pinned);
  }
  for (size_t i = 0; i < h->pinned.len; i++)
    if (*(uint64_t *)h->pinned.items[i] & HPC_PINNED) hpC_vec_push(&c->promoted, h->pinned.items[i]);
}

/* After the scan: pinned young objects age, and at the tenure age (or in a major
 * collection) are promoted in place; the unpinned ones leave the list (they were evacuated,
 * or are garbage). */
static void settle_pinned(minor *c) {
  hpC_generations *h = c->h;
  size_t kept = 0, bytes = 0;
  for (size_t i = 0; i < h->pinned.len; i++) {
    uint64_t *hdr = (uint64_t *)h->pinned.items[i];
    uint64_t hw = *hdr;
    if (!(hw & HPC_PINNED)) continue;
    if (!pinned_old(hw)) {
      /* The configured age, not the adaptive one (which may be 1): a word seen at one
       * collection must not promote its object, and what it holds, in place at once. */
      unsigned age = hpC_age(hw) + 1;
      if (c->promote_all || age >= c->rt->cfg.tenure_age) age = HPC_AGE_PINNED_OLD;
      *hdr = (hw & ~HPC_AGE_MASK) | ((uint64_t)age << HPC_AGE_SHIFT);
    }
    bytes += hpC_bytes(hw);
    h->pinned.items[kept++] = (uintptr_t)hdr;
  }
  h->pinned.len = kept;
  h->pinned_bytes = bytes;
}

/* ------------------------------------------------------------------------------------
 *  The scan
 * ------------------------------------------------------------------------------------ */

/* Card granules pass through a pipeline of HPC_CARD_DEPTH: a granule's slot line is
 * prefetched when it enters, the young headers its slots point to at half depth, and its
 * slots are visited when it leaves. Dirty cards of a large table are scattered: one miss on
 * the slot and one on its referent each, which now overlap across cards instead of only
 * within one bitmap word. */
#define HPC_CARD_DEPTH 16

typedef struct card_pipe {
  uintptr_t q[HPC_CARD_DEPTH];
  size_t pushed, done;
  uintptr_t lo, hi;                  /* the array part of the object */
  bool any;                          /* a visited card still points young */
} card_pipe;

static void card_fetch(minor *c, const card_pipe *p, uintptr_t g) {
  for (uintptr_t s = g; s < g + HPP_GRANULE; s += 8)
    if (s >= p->lo && s < p->hi && hpC_is_young(c->h, *(void **)s)) __builtin_prefetch(*(char **)s - 8, 1);
}

/* Visits the slots of granule g; its card stays marked only while one still points young. */
static void card_visit(minor *c, card_pipe *p, uintptr_t g) {
  c->points_young = false;
  for (uintptr_t s = g; s < g + HPP_GRANULE; s += 8)
    if (s >= p->lo && s < p->hi) visit_slot((void **)s, c);
  if (c->points_young) {
    p->any = true;
    return;
  }
  size_t off = (g & (HPP_PAGE - 1)) / HPP_GRANULE;
  hpP_bits(hpP_index((void *)g), HPP_BITS_AUX)[off / 64] &= ~((uint64_t)1 << (off % 64));
}

static void card_push(minor *c, card_pipe *p, uintptr_t g) {
  if (p->pushed - p->done == HPC_CARD_DEPTH) card_visit(c, p, p->q[p->done++ % HPC_CARD_DEPTH]);
  p->q[p->pushed % HPC_CARD_DEPTH] = g;
  __builtin_prefetch((void *)g);
  if (p->pushed >= HPC_CARD_DEPTH / 2) card_fetch(c, p, p->q[(p->pushed - HPC_CARD_DEPTH / 2) % HPC_CARD_DEPTH]);
  p->pushed++;
}

static void card_drain(minor *c, card_pipe *p) {
  size_t from = p->pushed >= HPC_CARD_DEPTH / 2 ? p->pushed - HPC_CARD_DEPTH / 2 : 0;
  if (from < p->done) from = p->done;
  for (size_t i = from; i < p->pushed; i++) card_fetch(c, p, p->q[i % HPC_CARD_DEPTH]);
  while (p->done < p->pushed) card_visit(c, p, p->q[p->done++ % HPC_CARD_DEPTH]);
}

/* Visits the fixed slots of a carded array and the slots of its marked cards; a card stays
 * marked while one of its slots still points young. Clean cards cost a zero test per 64. */
static void scan_cards(minor *c, uint64_t *hdr, const hp_type *t) {
  char *body = (char *)(hdr + 1);
  for (uint32_t i = 0; i < t->noffsets; i++) visit_slot((void **)(body + t->offsets[i]), c);
  card_pipe p = { .lo = hpC_card_lo(hdr, t), .hi = (uintptr_t)hdr + hpC_bytes(*hdr), .any = c->points_young };
  for (uintptr_t page = (uintptr_t)hdr & ~(HPP_PAGE - 1); page < p.hi; page += HPP_PAGE) {
    const uint64_t *bits = hpP_bits(hpP_index((void *)page), HPP_BITS_AUX);
    for (size_t w = 0; w < HPP_BITS_WORDS; w++)
      for (uint64_t m = bits[w]; m; m &= m - 1)
        card_push(c, &p, page + (w * 64 + (unsigned)__builtin_ctzll(m)) * HPP_GRANULE);
  }
  card_drain(c, &p);
  c->points_young = p.any;
}

/* Scans the remembered set: each object is traced, and stays remembered only if it still
 * holds a young pointer afterwards. */
static void scan_remembered(minor *c) {
  hpC_vec *rs = &c->h->remset;
  size_t n = rs->len, kept = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t *hdr = hpC_header((void *)rs->items[i]);
    if (*hdr & HPC_SCANNED) continue;                  /* logged twice (two threads raced) */
    *hdr &= ~HPC_REMEMBERED;
    c->points_young = false;
    const hp_type *t = hpC_types[hpC_type_id(*hdr)];
    if (hpC_carded(*hdr, t)) scan_cards(c, hdr, t);
    else hpC_trace_with(hdr, visit_slot, c);
    trace_weak(c, hdr);
    if (c->points_young) {
      *hdr |= HPC_REMEMBERED | HPC_SCANNED;            /* seen, until the loop ends */
      rs->items[kept++] = rs->items[i];
    }
  }
  for (size_t i = 0; i < kept; i++) *hpC_header((void *)rs->items[i]) &= ~HPC_SCANNED;
  /* Objects remembered since (promoted ones) were appended after n: keep them too. */
  for (size_t i = n; i < rs->len; i++) rs->items[kept++] = rs->items[i];
  rs->len = kept;
}

/* Marks the cards of the slots of a promoted carded array that still point young. */
static void mark_young_cards(hpC_generations *h, uint64_t *hdr, const hp_type *t) {
  uintptr_t hi = (uintptr_t)hdr + hpC_bytes(*hdr);
  for (uintptr_t s = hpC_card_lo(hdr, t); s < hi; s += 8)
    if (hpC_is_young(h, *(void **)s)) hpC_cards_mark(s, s + 8);
}

/* Traces the promoted and pinned objects waiting on the stack. A promoted object left
 * holding a young pointer is remembered; a pinned one needs not be (all are traced anyway). */
static bool scan_promoted(minor *c) {
  if (c->promoted.len == 0) return false;
  while (c->promoted.len > 0) {
    uint64_t *hdr = (uint64_t *)c->promoted.items[--c->promoted.len];
    c->points_young = false;
    hpC_trace_with(hdr, visit_slot, c);
    trace_weak(c, hdr);
    if (c->points_young && !(*hdr & (HPC_REMEMBERED | HPC_PINNED))) {
      *hdr |= HPC_REMEMBERED;
      hpC_vec_push(&c->h->remset, (uintptr_t)(hdr + 1));
      const hp_type *t = hpC_types[hpC_type_id(*hdr)];
      if (hpC_carded(*hdr, t)) mark_young_cards(c->h, hdr, t);   /* [cards] */
    }
  }
  return true;
}

/* The scan's look-ahead: the young referents of the objects up to HPC_SCAN_AHEAD bytes
 * past the scan point are prefetched before the scan reaches them. Their headers are what
 * the scan misses on (two thirds of GCBench's minor collection time was that one load).
 * Only the slots the type declares (fixed offsets, array part) are looked at: an embedder's
 * trace callback runs once per object, in the scan proper. */
#define HPC_SCAN_AHEAD 256

static void prefetch_referents(minor *c, const uint64_t *hdr) {
  uint64_t hw = *hdr;
  const hp_type *type = hpC_types[hpC_type_id(hw)];
  if (type == NULL || (type->flags & HP_TYPE_LEAF)) return;
  char *body = (char *)(hdr + 1);
  for (uint32_t i = 0; i < type->noffsets; i++) {
    void *p = *(void **)(body + type->offsets[i]);
    if (hpC_is_young(c->h, p)) __builtin_prefetch((char *)p - 8, 1);
  }
  if (type->flags & HP_TYPE_ARRAY) {
    void **slot = (void **)(body + ((type->size + 7) & ~(size_t)7));
    void **end = (void **)((char *)hdr + hpC_bytes(hw));
    for (int n = 0; slot < end && n < 8; slot++, n++)   /* the first few: the rest stream */
      if (hpC_is_young(c->h, *slot)) __builtin_prefetch((char *)*slot - 8, 1);
  }
}

/* Cheney's loop over to-space, run by run, interleaved with the promoted objects and the
 * values of released ephemerons; it resumes where it stopped when called again. */
static void scan(minor *c) {
  hpC_space *to = c->to;
  size_t r = c->scan_run;
  uintptr_t s = c->scan_at, ahead = s;
  for (;;) {
    while (r < to->nruns) {
      /* The end moves while we scan: tracing copies more objects into to-space. */
      uintptr_t end;
      while (s < (end = r == to->run ? to->top : to->runs[r].hi)) {
        while (ahead < end && ahead < s + HPC_SCAN_AHEAD) {
          const uint64_t *ph = (const uint64_t *)ahead;
          ahead += hpC_bytes(*ph);
          prefetch_referents(c, ph);
        }
        uint64_t *hdr = (uint64_t *)s;
        s += hpC_bytes(*hdr);
        hpC_trace_with(hdr, visit_slot, c);
        trace_weak(c, hdr);
      }
      if (r >= to->run) break;                        /* caught up with the copying */
      if (++r < to->nruns) s = ahead = to->runs[r].lo;
    }
    bool more = scan_promoted(c);
    if (hpC_weak_drain(&c->h->weak, visit, c)) more = true;
    if (!more) break;
  }
  c->scan_run = r;
  c->scan_at = s;
}

/* HotSpot's rule: the tenure age is the first age at which the survivors of that age and
 * younger fill more than half of a survivor space, but no more than the configured age. */
static unsigned adapt_tenure(minor *c) {
  unsigned max = hpC_tenure_max(c->rt);
  if (!c->rt->cfg.adaptive_tenure) return max;
  size_t desired = (c->to->hi - c->to->lo) / 2, total = 0;
  for (unsigned age = 1; age < 16; age++) {
    total += c->age_bytes[age];
    if (total > desired) return age < max ? age : max;
  }
  return max;
}

/* Fills the free runs of s with HPC_DEAD_YOUNG (HP_DEBUG >= 2). */
static void poison_runs(const hpC_space *s) {
  for (size_t r = 0; r < s->nruns; r++) memset((void *)s->runs[r].lo, HPC_DEAD_YOUNG, s->runs[r].hi - s->runs[r].lo);
}

void hpC_young_reset(hpC_generations *h) {
  hpC_space_reset(&h->eden, &h->pinned);
  hpC_space_reset(&h->to, &h->pinned);
  if (HP_DEBUG >= 2) { poison_runs(&h->eden); poison_runs(&h->to); }
  h->tlabs.len = 0;
  hpC_eden_publish(h);
}

void hpC_minor(hp_runtime *rt, bool promote_all, hpC_results *cy) {
  hp_assert(hpC_in_collection());
  hpC_generations *h = &rt->gens;
  minor c = { .rt = rt, .h = h, .to = &h->to, .promote_all = promote_all, .tenure = h->tenure };
  uint64_t tp = hpS_now_ns();                 /* the phases' clock (hpC_phase) */
  memset(h->starts + (h->to.lo - h->young_lo) / 512, 0, (h->to.hi - h->to.lo) / 64);

  hpC_weak_begin(&h->weak, h, false);
  pin_roots(&c);                 /* before anything moves: lookups parse the spaces */
  hpC_space_reset(&h->to, &h->pinned);
  c.scan_run = 0;
  c.scan_at = h->to.nruns ? h->to.runs[0].lo : 0;
  hpC_visit_roots(rt, visit, &c);
  hpC_phase(cy, roots, &tp);
  scan_remembered(&c);
  hpC_phase(cy, remembered, &tp);
  scan(&c);
  hpC_phase(cy, copy, &tp);
  /* Weak slots to what was not reached are cleared before its finalizer is queued; then the
   * finalizable objects are kept, with what they reach (gc/weak.h). */
  uint64_t t0 = hpS_now_ns();
  hpC_weak_fix(&h->weak);
  uint64_t t1 = hpS_now_ns();
  if (hpC_fin_scan(&h->fin, h, false, visit, &c)) {
    scan(&c);
    hpC_weak_fix(&h->weak);
  }
  rt->stats.weak_ns += t1 - t0;
  rt->stats.finalize_ns += hpS_now_ns() - t1;
  hpC_weak_end(&h->weak, &rt->stats);
  rt->stats.finalizers_queued += h->fin.queued;
  h->fin.queued = 0;
  hpC_phase(cy, weak, &tp);
  hpC_vec_free(&c.promoted);
  settle_pinned(&c);

  /* Flip: to-space holds the survivors; eden and from-space are free but for pinned objects. */
  hpC_space t = h->from;
  h->from = h->to;
  h->to = t;
  hpC_young_reset(h);
  h->tenure = adapt_tenure(&c);
  hpC_phase(cy, reset, &tp);

  h->young_live = c.copied;
  cy->copied += c.copied;
  cy->promoted += c.promoted_bytes;
  cy->pinned += c.pinned_bytes;
  hp_validate(hpC_space_valid(&h->eden) && hpC_space_valid(&h->from) && hpC_remset_valid(h) &&
              hpC_old_pages_valid(h));
}
