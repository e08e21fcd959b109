/* gc/weak.c -- weak slots and ephemerons: the types that declare them, the weak-reference and
 * ephemeron objects of the API, and the bookkeeping a collection keeps of the weak holders it
 * traces and of the ephemeron pairs whose key it has not reached yet (gc/weak.h says how).
 */
#include "gc/collector.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

uint8_t hpC_type_weak[HPC_MAX_TYPES + 1];

/* ------------------------------------------------------------------------------------
 *  Types
 * ------------------------------------------------------------------------------------ */

bool hpC_weak_type_check(const hp_type *t) {
  uint32_t arrays = t->flags & (HP_TYPE_ARRAY | HP_TYPE_WEAK_ARRAY | HP_TYPE_EPHEMERON_ARRAY);
  if (arrays & (arrays - 1)) return false;            /* at most one kind of trailing words */
  bool weak = t->nweak || t->nephemerons || (t->flags & (HP_TYPE_WEAK_ARRAY | HP_TYPE_EPHEMERON_ARRAY));
  if (weak && (t->flags & HP_TYPE_LEAF)) return false;
  for (uint32_t i = 0; i < t->nweak; i++)
    if (t->weak_offsets[i] % 8 != 0 || (size_t)t->weak_offsets[i] + 8 > t->size) return false;
  for (uint32_t i = 0; i < t->nephemerons; i++)
    if (t->ephemeron_offsets[i] % 8 != 0 || (size_t)t->ephemeron_offsets[i] + 16 > t->size) return false;
  return true;
}

void hpC_weak_type_set(const hp_type *t) {
  hpC_type_weak[t->id] = t->nweak || t->nephemerons || (t->flags & (HP_TYPE_WEAK_ARRAY | HP_TYPE_EPHEMERON_ARRAY));
  if (hpC_type_weak[t->id]) atomic_store_explicit(&hpC_weak_types_exist, true, memory_order_relaxed);   /* gc/mark.h */
}

/* The trailing words of an object of type t: [*lo, *hi). */
hp_inline void tail(uint64_t *hdr, const hp_type *t, void ***lo, void ***hi) {
  *lo = (void **)((char *)(hdr + 1) + ((t->size + 7) & ~(size_t)7));
  *hi = (void **)((char *)hdr + hpC_bytes(*hdr));
}

void hpC_weak_slots(uint64_t *hdr, hp_visit_fn visit, void *ctx) {
  const hp_type *t = hpC_types[hpC_type_id(*hdr)];
  char *body = (char *)(hdr + 1);
  for (uint32_t i = 0; i < t->nweak; i++) visit((void **)(body + t->weak_offsets[i]), ctx);
  for (uint32_t i = 0; i < t->nephemerons; i++) {
    visit((void **)(body + t->ephemeron_offsets[i]), ctx);
    visit((void **)(body + t->ephemeron_offsets[i] + 8), ctx);
  }
  if (t->flags & (HP_TYPE_WEAK_ARRAY | HP_TYPE_EPHEMERON_ARRAY)) {
    void **s, **end;
    tail(hdr, t, &s, &end);
    for (; s < end; s++) visit(s, ctx);
  }
}

/* ------------------------------------------------------------------------------------
 *  Parked pairs: a record per key not reached, its header word swapped for the record's index
 * ------------------------------------------------------------------------------------ */

static void *grow(void *old, size_t len, size_t cap, size_t size) {
  void *p = hp_pool_alloc(cap * size);
  hp_check(p != NULL, "hp: out of memory for the collector's ephemeron records (%zu entries)", cap);
  if (len) memcpy(p, old, len * size);
  hp_pool_free(old);
  return p;
}

/* ------------------------------------------------------------------------------------
 *  Whether the collection has reached an object
 * ------------------------------------------------------------------------------------ */

/* A minor collection: old objects count as reached; a young one if it was copied (its
 * forwarding header, or it is a copy in to-space) or is pinned. */
hp_inline void *minor_live(hpC_generations *h, void *p) {
  if (!hpC_is_young(h, p)) return p;
  uint64_t *hdr = (uint64_t *)p - 1;
  if ((uintptr_t)p - h->to.lo < h->to.hi - h->to.lo && hpC_is_start(h, hdr)) return p;
  uint64_t hw = *hdr;
  if (hw & HPC_FORWARDED) return (uint64_t *)(uintptr_t)(hw & ~HPC_FORWARDED) + 1;
  return (hw & HPC_PINNED) ? p : NULL;
}

/* A major collection: marked (memory that is not this collector's counts as reached). */
hp_inline void *major_live(hpC_generations *h, void *p) {
  if (!hpP_contains(p)) return p;
  uint64_t *hdr = (uint64_t *)p - 1;
  if (hpC_is_young(h, p)) return (*hdr & HPC_MARKED) ? p : NULL;     /* pinned */
  hpP_span *pg = hpP_span_of(hdr);
  if (pg == NULL || atomic_load_explicit(&pg->owner, memory_order_relaxed) != h->old) return p;
  uint32_t i = hpP_block_index(pg, hdr);
  return (hpP_span_bits(pg, HPP_BITS_MARK)[i >> 6] >> (i & 63)) & 1 ? p : NULL;
}

hp_inline void *live(const hpC_weak *w, void *p) { return w->major ? major_live(w->h, p) : minor_live(w->h, p); }

void *hpC_weak_live(hpC_weak *w, void *p) { return live(w, p); }

/* [ephemeron-parked]: the bit that marks a header word holding a record index. */
hp_inline uint64_t parked_bit(const hpC_weak *w) { return w->major ? HPC_FORWARDED : HPC_REMEMBERED; }

static void park(hpC_weak *w, void **kslot, uint64_t *khdr) {
  if (w->npend == w->pend_cap) {
    size_t cap = w->pend_cap ? 2 * w->pend_cap : 1024;
    w->pend = grow(w->pend, w->npend, cap, sizeof *w->pend);
    w->pend_cap = cap;
  }
  uint64_t hw = *khdr;
  size_t r;
  if (hw & parked_bit(w)) {
    r = (size_t)(hw >> 8);
  } else {
    if (w->nrec == w->rec_cap) {
      size_t cap = w->rec_cap ? 2 * w->rec_cap : 1024;
      w->rec = grow(w->rec, w->nrec, cap, sizeof *w->rec);
      w->rec_cap = cap;
    }
    r = w->nrec++;
    w->rec[r] = (hpC_parked){ khdr, hw, SIZE_MAX };
    /* A pinned object keeps its PINNED bit (marking checks it) and its mark bit. */
    *khdr = ((uint64_t)r << 8) | parked_bit(w) | (w->major ? hw & HPC_PINNED : 0);
  }
  size_t e = w->npend++;
  w->pend[e] = (hpC_pending){ (uintptr_t)kslot, w->rec[r].head };
  w->rec[r].head = e;
  w->parked++;
  w->nparked++;
}

uint64_t hpC_weak_unpark(hpC_weak *w, uint64_t *hdr, uint64_t hw) {
  hpC_parked *rec = &w->rec[hw >> 8];
  hp_assert((size_t)(hw >> 8) < w->nrec && rec->hdr == hdr);
  uint64_t orig = rec->orig | (hw & HPC_MARKED);     /* marked since it was parked */
  *hdr = orig;
  rec->hdr = NULL;
  for (size_t e = rec->head; e != SIZE_MAX; e = w->pend[e].next) {
    hpC_vec_push(&w->ready, w->pend[e].slot);
    w->parked--;
  }
  return orig;
}

/* ------------------------------------------------------------------------------------
 *  A collection's passes
 * ------------------------------------------------------------------------------------ */

void hpC_weak_begin(hpC_weak *w, hpC_generations *h, bool major) {
  w->h = h;
  w->major = major;
  w->holders.len = 0;
  w->fixed = 0;
  w->traced = w->nparked = w->cleared_pairs = w->cleared_weak = 0;
}

hp_inline void pair(hpC_weak *w, void **kslot, hp_visit_fn visit, void *ctx) {
  void *k = *kslot;
  w->traced++;
  if (k != NULL && hpP_contains(k)) {
    void *nk = live(w, k);
    if (nk == NULL) { park(w, kslot, hpC_header(k)); return; }
    *kslot = nk;
  }
  visit(kslot + 1, ctx);
}

void hpC_weak_trace(hpC_weak *w, uint64_t *hdr, hp_visit_fn visit, void *ctx) {
  hpC_vec_push(&w->holders, (uintptr_t)hdr);
  const hp_type *t = hpC_types[hpC_type_id(*hdr)];
  char *body = (char *)(hdr + 1);
  for (uint32_t i = 0; i < t->nephemerons; i++) pair(w, (void **)(body + t->ephemeron_offsets[i]), visit, ctx);
  if (t->flags & HP_TYPE_EPHEMERON_ARRAY) {
    void **s, **end;
    tail(hdr, t, &s, &end);
    for (; s + 2 <= end; s += 2) pair(w, s, visit, ctx);
  }
}

bool hpC_weak_drain(hpC_weak *w, hp_visit_fn visit, void *ctx) {
  if (w->ready.len == 0) return false;
  while (w->ready.len > 0) {
    void **kslot = (void **)w->ready.items[--w->ready.len];
    void *nk = live(w, *kslot);                        /* reached: its copy, in a minor one */
    hp_assert(nk != NULL);
    if (hp_unlikely(nk == NULL)) { kslot[0] = kslot[1] = NULL; continue; }   /* never: but no dangling value */
    *kslot = nk;
    visit(kslot + 1, ctx);
  }
  return true;
}

typedef struct fixer {
  hpC_weak *w;
  bool minor;                 /* a minor collection: remember old holders left pointing young */
  bool young;                 /* a fixed slot of this holder points young */
} fixer;

/* A weak slot or an ephemeron key: cleared if its object died, else its current address. */
hp_inline bool fix_slot(fixer *f, void **slot) {
  void *p = *slot;
  if (p == NULL || !hpP_contains(p)) return true;
  void *np = live(f->w, p);
  *slot = np;
  if (f->minor && np && hpC_is_young(f->w->h, np)) f->young = true;
  return np != NULL;
}

hp_inline void fix_weak(fixer *f, void **slot) {
  if (!fix_slot(f, slot)) f->w->cleared_weak++;
}

/* A pair was either still parked (cleared already, from its key's record), or its key was
 * reached and its key slot updated then, and its value traced: nothing to read but the two
 * words, for [remembered]. */
hp_inline void fix_pair(fixer *f, void **kslot) {
  if (f->minor && (hpC_is_young(f->w->h, kslot[0]) || hpC_is_young(f->w->h, kslot[1]))) f->young = true;
}

void hpC_weak_fix(hpC_weak *w) {
  hpC_generations *h = w->h;
  fixer f = { .w = w, .minor = !w->major };
  /* What is still parked has a dead key: its pairs are cleared and its header word comes back. */
  for (size_t r = 0; r < w->nrec; r++) {
    hpC_parked *rec = &w->rec[r];
    if (rec->hdr == NULL) continue;
    for (size_t e = rec->head; e != SIZE_MAX; e = w->pend[e].next) {
      void **kslot = (void **)w->pend[e].slot;
      kslot[0] = kslot[1] = NULL;
      w->cleared_pairs++;
    }
    *rec->hdr = rec->orig;
  }
  w->nrec = w->npend = w->parked = 0;
  w->ready.len = 0;
  for (size_t i = w->fixed; i < w->holders.len; i++) {
    uint64_t *hdr = (uint64_t *)w->holders.items[i];
    const hp_type *t = hpC_types[hpC_type_id(*hdr)];
    char *body = (char *)(hdr + 1);
    f.young = false;
    for (uint32_t k = 0; k < t->nweak; k++) fix_weak(&f, (void **)(body + t->weak_offsets[k]));
    for (uint32_t k = 0; k < t->nephemerons; k++) fix_pair(&f, (void **)(body + t->ephemeron_offsets[k]));
    if (t->flags & (HP_TYPE_WEAK_ARRAY | HP_TYPE_EPHEMERON_ARRAY)) {
      void **s, **end;
      tail(hdr, t, &s, &end);
      if (t->flags & HP_TYPE_WEAK_ARRAY) for (; s < end; s++) fix_weak(&f, s);
      else for (; s + 2 <= end; s += 2) fix_pair(&f, s);
    }
    /* [remembered]: an old holder left pointing young. Pinned ones are traced anyway. */
    if (f.young && !hpC_is_young(h, body) && !(*hdr & HPC_REMEMBERED)) {   /* the body: [young-range] */
      *hdr |= HPC_REMEMBERED;
      hpC_vec_push(&h->remset, (uintptr_t)body);
    }
  }
  w->fixed = w->holders.len;
}

void hpC_weak_end(hpC_weak *w, struct hp_gc_stats *st) {
  st->weak_cleared += w->cleared_weak;
  st->ephemerons_traced += w->traced;
  st->ephemerons_parked += w->nparked;
  st->ephemerons_cleared += w->cleared_pairs;
}

void hpC_weak_free(hpC_weak *w) {
  hpC_vec_free(&w->holders);
  hpC_vec_free(&w->ready);
  hp_pool_free(w->rec);
  hp_pool_free(w->pend);
  memset(w, 0, sizeof *w);
}

/* ------------------------------------------------------------------------------------
 *  The API's weak-reference and ephemeron objects
 * ------------------------------------------------------------------------------------ */

static const uint32_t first_word[] = { 0 };
static hp_type weak_type = { .name = "hp_weak", .size = 8, .nweak = 1, .weak_offsets = first_word };
static hp_type ephemeron_type = { .name = "hp_ephemeron", .size = 16, .nephemerons = 1, .ephemeron_offsets = first_word };
static pthread_once_t types_once = PTHREAD_ONCE_INIT;

static void register_types(void) {
  hp_check(hp_type_register(NULL, &weak_type) == 0 && hp_type_register(NULL, &ephemeron_type) == 0,
           "hp: no type id left for the weak-reference and ephemeron types");
}

void *hp_weak_new(hp_thread *t, void *target) {
  pthread_once(&types_once, register_types);
  HP_ROOTS(t, fr, &target);
  void **w = HP_NEW(t, &weak_type);
  HP_UNROOT(t, fr);
  if (w) hp_write(t, w, w, target);                   /* born old when eden is cut too short */
  return w;
}

void hp_weak_set(hp_thread *t, void *w, void *target) { hp_write(t, w, w, target); }

void *hp_ephemeron_new(hp_thread *t, void *key, void *value) {
  pthread_once(&types_once, register_types);
  HP_ROOTS(t, fr, &key, &value);
  void **e = HP_NEW(t, &ephemeron_type);
  HP_UNROOT(t, fr);
  if (e) {
    hp_write(t, e, &e[0], key);
    hp_write(t, e, &e[1], value);
  }
  return e;
}
