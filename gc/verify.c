/* gc/verify.c -- the heap verifier: walks every object of every space and checks the
 * invariants of gc/gc.h. It aborts on the first violation with a message naming the object,
 * the slot and the rule. Called after (and before) collections when cfg.verify is set, and
 * by hp_verify_heap. Costs a pass over the whole heap and a bitmap of young object starts.
 */
#include "gc/collector.h"

#include <string.h>

typedef struct verifier {
  hp_runtime *rt;
  hpC_generations *h;
  const char *when;
  uint64_t *young_starts;     /* one bit per 8 bytes of the young span: an object header */
  uint64_t *obj;              /* the object being checked */
  bool obj_old, holds_young;
  size_t objects, remembered;
  bool carded;                /* the object is a carded array (gc/gc.h, "Cards") */
  int phase;                  /* of the old generation (gc/mark.h) */
  uintptr_t card_lo;          /* where its array part starts (the fixed part is not carded) */
} verifier;

hp_cold static _Noreturn void fail(verifier *v, const char *what, const void *slot, const void *value) {
  const hp_type *t = NULL;
  if (v->obj) {
    unsigned id = hpC_type_id(*v->obj);
    if (id <= HPC_MAX_TYPES) t = hpC_types[id];
  }
  hpS_fatal("hp: heap verification failed %s: %s (object %p of type %s, slot %p, value %p)", v->when,
            what, v->obj ? (void *)(v->obj + 1) : NULL, t && t->name ? t->name : "?", slot, value);
}

static size_t young_bit(const verifier *v, uintptr_t a) { return (a - v->h->young_lo) / 8; }

static void check_slot(void **slot, void *ctx) {
  verifier *v = ctx;
  void *p = *slot;
  hpC_generations *h = v->h;
  if (!hpP_contains(p)) return;                       /* NULL, or not the heap's: ignored */
  uintptr_t hdr = (uintptr_t)p - 8;
  if (hpC_is_young(h, p)) {
    size_t b = young_bit(v, hdr);
    if (!((v->young_starts[b / 64] >> (b % 64)) & 1))
      fail(v, "a slot points into the young generation but not at a live object", slot, p);
    v->holds_young = true;
    if (v->carded && (uintptr_t)slot >= v->card_lo && !hpC_card_is_set(slot))
      fail(v, "a large array holds a young pointer in a slot whose card is clear: a store skipped hp_write", slot, p);
    return;
  }
  hpP_span *pg;
  void *start = hpP_block_of((void *)hdr, &pg);
  if (pg == NULL || pg->arena != HPP_ARENA_GC) return; /* unmanaged memory of the pools */
  if (start != (void *)hdr) fail(v, "a slot points into the old generation but not at an object", slot, p);
}

/* A weak slot or an ephemeron field: as a strong slot, and an old object it points to must be
 * allocated (not swept): the collection that freed it clears the slot. */
static void check_weak_slot(void **slot, void *ctx) {
  verifier *v = ctx;
  check_slot(slot, ctx);
  void *p = *slot;
  if (!hpP_contains(p) || hpC_is_young(v->h, p)) return;
  hpP_span *pg;
  uint64_t *hdr = hpP_block_of((uint64_t *)p - 1, &pg);
  if (pg == NULL || pg->arena != HPP_ARENA_GC || hdr != (uint64_t *)p - 1) return;
  uint32_t i = hpP_block_index(pg, hdr);
  if (!((hpP_span_bits(pg, HPP_BITS_ALLOC)[i >> 6] >> (i & 63)) & 1))
    fail(v, "a weak slot or ephemeron field points to a freed object (not cleared)", slot, p);
}

static void check_object(verifier *v, uint64_t *hdr, bool old) {
  uint64_t hw = *hdr;
  v->obj = hdr;
  if (hw & HPC_FORWARDED) fail(v, "a forwarding header outside a collection", hdr, (void *)(uintptr_t)hw);
  unsigned id = hpC_type_id(hw);
  if (id > HPC_MAX_TYPES || hpC_types[id] == NULL) fail(v, "unknown type id", hdr, (void *)(uintptr_t)hw);
  if (hpC_words(hw) == 0) fail(v, "an object of zero words", hdr, (void *)(uintptr_t)hw);
  if (id == 0) return;                                /* filler */
  const hp_type *t = hpC_types[id];
  if (hpC_bytes(hw) < t->size + 8) fail(v, "an object smaller than its type's fixed part", hdr, (void *)(uintptr_t)hw);
  v->objects++;
  v->obj_old = old;
  v->holds_young = false;
  v->carded = old && hpC_carded(hw, t);
  v->card_lo = (uintptr_t)(hdr + 1) + ((t->size + 7) & ~(size_t)7);
  hpC_trace(hdr, check_slot, v);
  if (hpC_type_weak[id]) {
    v->carded = false;
    hpC_weak_slots(hdr, check_weak_slot, v);
  }
  if (old && v->holds_young && !(hw & (HPC_REMEMBERED | HPC_PINNED)))
    fail(v, "an old object holds a young pointer but is not remembered: a store skipped hp_write", hdr, NULL);
  if (!old && (hw & HPC_REMEMBERED)) fail(v, "a young object is marked remembered", hdr, NULL);
  if ((hw & HPC_MARKED) && v->phase != HPC_MARKING) fail(v, "a mark bit left set outside a major collection", hdr, NULL);
  if (old && (hw & HPC_REMEMBERED)) v->remembered++;
}

static void record_start(uint64_t *hdr, void *arg) {
  verifier *v = arg;
  if (hpC_type_id(*hdr) == 0) return;                 /* fillers are no objects */
  size_t b = young_bit(v, (uintptr_t)hdr);
  v->young_starts[b / 64] |= (uint64_t)1 << (b % 64);
}

static void check_young(uint64_t *hdr, void *arg) {
  verifier *v = arg;
  if (*hdr & HPC_PINNED) fail(v, "a pinned object inside a free run of a young space", hdr, NULL);
  check_object(v, hdr, false);
}

static void check_old_page(hpP_span *pg, void *arg) {
  verifier *v = arg;
  const uint64_t *alloc = hpP_span_bits(pg, HPP_BITS_ALLOC), *mark = hpP_span_bits(pg, HPP_BITS_MARK);
  uint32_t reserved = atomic_load_explicit(&pg->reserved, memory_order_relaxed);
  bool unswept = v->phase == HPC_SWEEPING && pg->client == HPC_UNSWEPT;
  for (uint32_t i = 0; i < reserved; i++) {
    bool marked = (mark[i / 64] >> (i % 64)) & 1;
    if (marked && v->phase == HPC_IDLE) fail(v, "a mark bit left set outside a major collection", hpP_block_at(pg, i), NULL);
    if (marked && v->phase == HPC_SWEEPING && !unswept) fail(v, "a mark bit left set on a swept page", hpP_block_at(pg, i), NULL);
    if (!((alloc[i / 64] >> (i % 64)) & 1)) continue;
    if (unswept && !marked) continue;                 /* dead, waiting for its sweep: never read */
    uint64_t *hdr = hpP_block_at(pg, i);
    if (hpC_bytes(*hdr) > pg->block_size) fail(v, "an old object larger than its block", hdr, NULL);
    check_object(v, hdr, true);
  }
}

size_t hpC_verify(hp_runtime *rt, const char *when) {
  hpC_generations *h = &rt->gens;
  verifier v = { .rt = rt, .h = h, .when = when, .phase = atomic_load_explicit(&h->mk.phase, memory_order_relaxed) };
  size_t words = ((h->young_hi - h->young_lo) / 8 + 63) / 64;
  v.young_starts = hp_pool_alloc(words * 8);
  hp_check(v.young_starts != NULL, "hp: no memory for the heap verifier");
  memset(v.young_starts, 0, words * 8);
  hpC_space_walk(&h->eden, record_start, &v);
  hpC_space_walk(&h->from, record_start, &v);
  for (size_t i = 0; i < h->pinned.len; i++) {
    uint64_t *hdr = (uint64_t *)h->pinned.items[i];
    v.obj = hdr;
    if (!(*hdr & HPC_PINNED)) fail(&v, "an object in the pinned list without its PINNED bit", hdr, NULL);
    if (i > 0 && h->pinned.items[i - 1] + hpC_bytes(*(uint64_t *)h->pinned.items[i - 1]) > (uintptr_t)hdr)
      fail(&v, "pinned objects out of order or overlapping", hdr, NULL);
    record_start(hdr, &v);
  }
  hpC_space_walk(&h->eden, check_young, &v);
  hpC_space_walk(&h->from, check_young, &v);
  for (size_t i = 0; i < h->pinned.len; i++) check_object(&v, (uint64_t *)h->pinned.items[i], true);
  hpP_heap_foreach_page(h->old, check_old_page, &v);
  for (size_t i = 0; i < h->huge.len; i++) check_object(&v, (uint64_t *)h->huge.items[i], true);
  /* Every remembered object is in the remembered set. */
  for (size_t i = 0; i < h->remset.len; i++) {
    uint64_t *hdr = hpC_header((void *)h->remset.items[i]);
    v.obj = hdr;
    if (!(*hdr & HPC_REMEMBERED)) fail(&v, "an object in the remembered set without its REMEMBERED bit", hdr, NULL);
  }
  v.obj = NULL;
  if (v.remembered != h->remset.len) fail(&v, "remembered objects and the remembered set differ in number", NULL, NULL);
  hp_pool_free(v.young_starts);
  return v.objects;
}

/* ------------------------------------------------------------------------------------
 *  Validators of one structure (hp_validate, HP_DEBUG >= 3)
 * ------------------------------------------------------------------------------------ */

bool hpC_space_valid(const hpC_space *s) {
  size_t free_bytes = 0, max_run = 0;
  uintptr_t at = s->lo;
  for (size_t r = 0; r < s->nruns; r++) {
    uintptr_t lo = s->runs[r].lo, hi = s->runs[r].hi;
    if (lo < at || hi <= lo || hi > s->hi)
      hpS_fatal("hp: space [%p, %p): run %zu [%p, %p) is empty, out of order or outside it",
                (void *)s->lo, (void *)s->hi, r, (void *)lo, (void *)hi);
    free_bytes += hi - lo;
    if (hi - lo > max_run) max_run = hi - lo;
    at = hi;
  }
  if (free_bytes != s->free_bytes || max_run != s->max_run)
    hpS_fatal("hp: space [%p, %p): runs of %zu bytes (longest %zu), but it counts %zu (longest %zu)",
              (void *)s->lo, (void *)s->hi, free_bytes, max_run, s->free_bytes, s->max_run);
  if (s->run < s->nruns && (s->top < s->runs[s->run].lo || s->top > s->limit || s->limit != s->runs[s->run].hi))
    hpS_fatal("hp: space [%p, %p): bump pointer %p or limit %p outside run %zu [%p, %p)", (void *)s->lo,
              (void *)s->hi, (void *)s->top, (void *)s->limit, s->run, (void *)s->runs[s->run].lo,
              (void *)s->runs[s->run].hi);
  return true;
}

bool hpC_remset_valid(const hpC_generations *h) {
  for (size_t i = 0; i < h->remset.len; i++) {
    uint64_t *hdr = hpC_header((void *)h->remset.items[i]);
    uint64_t hw = *hdr;
    bool pinned = hpC_is_young(h, hdr + 1);            /* the body: [young-range] */
    if (!(hw & HPC_REMEMBERED) || (hw & (HPC_FORWARDED | HPC_SCANNED)))
      hpS_fatal("hp: remembered set entry %zu: object %p has header %#llx (REMEMBERED clear, or "
                "FORWARDED or SCANNED set)", i, (void *)(hdr + 1), (unsigned long long)hw);
    if (pinned ? !(hw & HPC_PINNED) || hpC_age(hw) != HPC_AGE_PINNED_OLD : hpC_old_header_of(hdr, NULL) != hdr)
      hpS_fatal("hp: remembered set entry %zu: %p is not an old object", i, (void *)(hdr + 1));
  }
  return true;
}

typedef struct page_check { hpC_generations *h; } page_check;

static void validate_old_page(hpP_span *pg, void *arg) {
  hpC_generations *h = ((page_check *)arg)->h;
  if (pg->arena != HPP_ARENA_GC || atomic_load_explicit(&pg->owner, memory_order_relaxed) != h->old)
    hpS_fatal("hp: old-generation page %p is in arena %u, or not owned by the collector's heap",
              hpP_span_start(pg), (unsigned)pg->arena);
  const uint64_t *alloc = hpP_span_bits(pg, HPP_BITS_ALLOC), *mark = hpP_span_bits(pg, HPP_BITS_MARK);
  uint32_t reserved = atomic_load_explicit(&pg->reserved, memory_order_relaxed);
  int phase = atomic_load_explicit(&h->mk.phase, memory_order_relaxed);
  bool unswept = phase == HPC_SWEEPING && pg->client == HPC_UNSWEPT;   /* gc/mark.h [unswept] */
  for (uint32_t i = 0; i < reserved; i++) {
    uint64_t *hdr = hpP_block_at(pg, i);
    bool marked = (mark[i / 64] >> (i % 64)) & 1;
    if (marked && !unswept && phase != HPC_MARKING)
      hpS_fatal("hp: old-generation block %p has its mark bit set between collections", (void *)hdr);
    if (!((alloc[i / 64] >> (i % 64)) & 1)) continue;
    if (unswept && !marked) continue;                 /* dead, waiting for its sweep */
    uint64_t hw = *hdr;
    unsigned id = hpC_type_id(hw);
    if ((hw & HPC_FORWARDED) || id == 0 || hpC_types[id] == NULL || hpC_bytes(hw) > pg->block_size ||
        hpC_bytes(hw) < 8)
      hpS_fatal("hp: old-generation block %p (of %u bytes) holds no valid object: header %#llx",
                (void *)hdr, (unsigned)pg->block_size, (unsigned long long)hw);
  }
}

bool hpC_old_pages_valid(hpC_generations *h) {
  page_check pc = { .h = h };
  hpP_heap_foreach_page(h->old, validate_old_page, &pc);
  return true;
}
