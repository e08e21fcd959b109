/* gc/gc.h -- the collector's internal interface (hpC_): objects, spaces, roots.
 *
 * ====================================================================================
 *  Header word (one per object, just before the body)
 * ====================================================================================
 *   bit 0       FORWARDED: the word is (address of the copy's header) | 1
 *   bit 1       REMEMBERED: an old object that is in the remembered set
 *   bit 2       PINNED: fixed in place in the young address range (gc/minor.c, "Pinning");
 *               with age 15 it was promoted in place and belongs to the old generation
 *   bit 3       MARKED: the mark bit of a pinned object (others use the pools' MARK bitmap);
 *               SCANNED in a minor collection's remembered-set scan (see HPC_SCANNED)
 *   bits 4-7    age: minor collections survived (0-15)
 *   bits 8-23   type id (1-65535; 0 is the filler that pads an unused buffer tail)
 *   bits 24-63  words of the object, header included (objects up to 8 TiB)
 * So an object's size never needs the embedder: (header >> 24) * 8 bytes.
 *
 * ====================================================================================
 *  Spaces
 * ====================================================================================
 * Young: one RAW span of the pools, [young_lo, young_lo + young_size) = eden | S0 | S1.
 *   Eden is handed out in thread allocation buffers (TLABs) by a bump of eden_top; a TLAB
 *   is zeroed when it is handed out, so hp_new never zeroes, and the pause never pays for
 *   clearing eden. From-space holds the survivors of the last minor collection, in
 *   [from_lo, from_top); to-space is the other survivor space, empty between collections.
 * Old: blocks of the collector's tracked pool heap (HPP_ARENA_GC): one object per block,
 *   header at the block start. The pools' ALLOC bit of a block says it holds an object; its
 *   MARK bit is the object's mark bit. Bodies above 64 KiB are HUGE spans (`huge` list).
 *
 * Invariants between collections:
 *   [young-parsable]  eden [eden_lo, eden_top) and from-space [from_lo, from_top) are
 *                     sequences of objects and fillers, once every TLAB is retired.
 *   [no-forwarding]   no reachable header is FORWARDED.
 *   [remembered]      every old object holding a young pointer has REMEMBERED set and is in
 *                     the remembered set; the write barrier keeps this (hp_write in
 *                     include/hp.h, hp_write_slow in gc/roots.c).
 *   [old-alloc]       an old object's block has its ALLOC bit set; MARK bits are all clear
 *                     outside a concurrent cycle (gc/mark.h says when they are not).
 *
 * A minor collection: roots, then remembered objects, are evacuated into to-space (age+1) or,
 * at the tenure age or when to-space is full, promoted into the old generation; to-space is
 * then scanned breadth-first (Cheney) and promoted objects from a work list. Its cost is the
 * live young data plus the remembered objects, whatever the size of the old generation.
 * A major collection first promotes all young objects (a minor collection with tenure age 0),
 * then marks the old generation from the roots with an explicit stack and sweeps it.
 */
#ifndef HP_GC_GC_H
#define HP_GC_GC_H
#include "pools/platform/internal.h"
#include "pools/platform/os.h"
#include "pools/pool.h"

#define HPC_FORWARDED ((uint64_t)1)
#define HPC_REMEMBERED ((uint64_t)2)
#define HPC_PINNED ((uint64_t)4)
#define HPC_MARKED ((uint64_t)8)
/* The same bit, under another name, while a minor collection scans the remembered set: an
 * object logged twice (two threads raced to remember it) is scanned once. Remembered objects
 * are old blocks, whose mark bits are in the MARK bitmap, so their header bit is clear then
 * (a concurrent cycle sets it only on pinned objects, which are never remembered: gc/mark.h),
 * and it is cleared before the scan ends. */
#define HPC_SCANNED HPC_MARKED
#define HPC_AGE_SHIFT 4
#define HPC_AGE_MASK ((uint64_t)15 << HPC_AGE_SHIFT)
#define HPC_AGE_PINNED_OLD 15   /* a PINNED object with this age was promoted in place */
/* The byte that fills dead young memory at HP_DEBUG >= 2. As a header, 0xE0E0... is neither
 * FORWARDED nor PINNED and names type 0xE0E0, which is never registered: a stale pointer to
 * it fails the type check instead of being followed. */
#define HPC_DEAD_YOUNG 0xE0
#define HPC_TYPE_SHIFT 8
#define HPC_TYPE_MASK ((uint64_t)0xffff << HPC_TYPE_SHIFT)
#define HPC_WORDS_SHIFT 24
#define HPC_MAX_TYPES 65535
#define HPC_TLAB_SIZE ((size_t)32 << 10)       /* a thread's first TLAB */
#define HPC_TLAB_MIN ((size_t)4 << 10)         /* the bounds of adaptive TLAB sizes */
#define HPC_TLAB_MAX ((size_t)256 << 10)
#define HPC_TLAB_REFILLS 64                    /* refills per thread per cycle aimed at */

typedef struct hpC_generations hpC_generations;
typedef struct hpC_mutator hpC_mutator;

hp_inline uint64_t *hpC_header(const void *body) { return (uint64_t *)body - 1; }
hp_inline size_t hpC_words(uint64_t hw) { return (size_t)(hw >> HPC_WORDS_SHIFT); }
hp_inline size_t hpC_bytes(uint64_t hw) { return hpC_words(hw) * 8; }
hp_inline unsigned hpC_type_id(uint64_t hw) { return (unsigned)((hw & HPC_TYPE_MASK) >> HPC_TYPE_SHIFT); }
hp_inline unsigned hpC_age(uint64_t hw) { return (unsigned)((hw & HPC_AGE_MASK) >> HPC_AGE_SHIFT); }
hp_inline uint64_t hpC_make_header(size_t words, unsigned type_id) {
  return ((uint64_t)words << HPC_WORDS_SHIFT) | ((uint64_t)type_id << HPC_TYPE_SHIFT);
}
/* A filler covering `bytes` (>= 8) of unused space, so that a space stays parsable. */
hp_inline void hpC_fill(void *at, size_t bytes) { *(uint64_t *)at = hpC_make_header(bytes / 8, 0); }

/* A growable array of words, on the pools (for the collector's own bookkeeping). */
typedef struct hpC_vec { uintptr_t *items; size_t len, cap; } hpC_vec;
/* Doubles v's capacity; false (v unchanged) when the pools have no memory. */
HP_INTERNAL bool hpC_vec_grow(hpC_vec *v);
/* Appends x; aborts when out of memory (the collector's bookkeeping has no way back). */
HP_INTERNAL void hpC_vec_push_slow(hpC_vec *v, uintptr_t x);
hp_inline void hpC_vec_push(hpC_vec *v, uintptr_t x) {
  if (hp_unlikely(v->len == v->cap)) { hpC_vec_push_slow(v, x); return; }
  v->items[v->len++] = x;
}
/* Appends x; false (v unchanged) when out of memory: for what the embedder registers. */
hp_inline bool hpC_vec_try_push(hpC_vec *v, uintptr_t x) {
  if (hp_unlikely(v->len == v->cap) && !hpC_vec_grow(v)) return false;
  v->items[v->len++] = x;
  return true;
}
HP_INTERNAL void hpC_vec_free(hpC_vec *v);
/* Removes the first item equal to x; false if absent. */
HP_INTERNAL bool hpC_vec_remove(hpC_vec *v, uintptr_t x);
/* The qsort comparator of words (addresses) in ascending order; also sorts (start, end)
 * pairs by their start. */
HP_INTERNAL int hpC_cmp_word(const void *a, const void *b);

#include "gc/weak.h"
#include "gc/mark.h"             /* the old generation's mark and sweep (hpC_mark) */

/* A space of the young generation (eden, or one survivor semispace): its range, less the
 * objects pinned in it, is a sorted list of free runs, handed out by a bump in order.
 * [young-parsable]: runs[0..run) are sequences of objects and fillers up to their ends,
 * runs[run] up to top. */
typedef struct hpC_run { uintptr_t lo, hi; } hpC_run;
typedef struct hpC_space {
  uintptr_t lo, hi;                       /* the whole space */
  hpC_run *runs;
  size_t nruns, run;                      /* run: the one being filled */
  uintptr_t top, limit;                   /* bump pointer in runs[run] and its end */
  size_t free_bytes;                      /* bytes of all runs */
  size_t max_run;                         /* bytes of the longest run */
} hpC_space;

struct hpC_generations {
  /* young */
  hpP_span *young_span;
  uintptr_t young_lo, young_hi;
  hpC_space eden, from, to;               /* `to` is empty between collections */
  /* Eden's bump pointer and the end of its run, shared by all threads: a TLAB is one CAS on
   * eden_cursor; moving to the next run takes alloc_mu. eden.top/limit mirror them while
   * the world is stopped (hpC_eden_sync / hpC_eden_publish). */
  _Atomic uintptr_t eden_cursor, eden_limit;
  hpC_vec tlabs;                          /* (start, end) of every TLAB handed out this cycle */
  uint64_t *starts;                       /* a bit per young word: an object starts there (to- and
                                             from-space, set as objects are copied) */
  /* objects pinned in place: they stay in the young address range but belong to the old
   * generation (promoted in place); sorted headers. See gc/conservative.c. */
  hpC_vec pinned;
  size_t pinned_bytes;
  /* old */
  hpP_heap *old;
  hpC_vec huge;                           /* headers of objects in HUGE spans */
  size_t old_bytes;                       /* bytes of old objects' blocks (what they cost) */
  size_t old_object_bytes;                /* bytes of old objects themselves (old_live) */
  size_t young_live;                      /* bytes copied into the survivors at the last minor */
  size_t old_live_after_major;
  size_t major_threshold;                 /* a major collection when old_bytes passes it */
  size_t cycle_trigger;                   /* a concurrent cycle starts when it passes this */
  hpC_mark mk;                            /* marking and sweeping (gc/mark.h) */
  /* remembered set: bodies of old objects with REMEMBERED set */
  hpC_vec remset;
  unsigned tenure;                        /* current tenure age */
  /* weak slots, ephemerons, finalizers (gc/weak.h) */
  hpC_weak weak;
  hpC_fin fin;
  /* sizing (gc/sizing.c): eden and the survivors may take [eden_min, eden_max] bytes of
   * their reserved regions; eden.hi and to.hi say how much they take now */
  size_t eden_init, eden_min, eden_max, surv_max;
  uintptr_t young_mid;                    /* where the survivor spaces meet: one ends there,
                                             the other starts there */
  size_t eden_peak;                       /* the largest eden chosen */
  size_t tlab_peak;                       /* the largest TLAB size chosen */
  unsigned alloc_threads;                 /* threads that allocated in the last cycle */
  uint64_t last_gc_end_ns;                /* when the last collection ended */
  double pause_avg_ns, cost_avg;          /* decaying averages of minor pauses and of their
                                             share of the time */
  uint64_t last_major_end_ns;             /* the old generation's growth policy */
  size_t threshold_live;                  /* what the last major found live (hpC_set_thresholds) */
  unsigned major_growth;                  /* % of what survived at which the next major comes */
};

/* Hands thread th a fresh TLAB of at least `need` bytes; false when eden is full. */
HP_INTERNAL bool hpC_tlab_refill(hp_runtime *rt, hpC_mutator *th, size_t need);

/* ---- Young spaces (gc/young.c) ---- */
/* Takes between need and want bytes of eden for a TLAB: its start, with *got set; 0 when
 * eden is full. Lock-free but for moving to the next run (under alloc_mu). */
HP_INTERNAL uintptr_t hpC_eden_grab(hp_runtime *rt, size_t need, size_t want, size_t *got);
HP_INTERNAL void hpC_eden_sync(hpC_generations *h);
HP_INTERNAL void hpC_eden_publish(hpC_generations *h);
/* Recomputes the runs of s: its range less the pinned objects in it; empties it. */
HP_INTERNAL void hpC_space_reset(hpC_space *s, const hpC_vec *pinned);
/* Moves to the next run with at least `need` bytes, filling what is left behind; false (and
 * no change) when there is none. */
HP_INTERNAL bool hpC_space_advance(hpC_space *s, size_t need);
/* Bytes handed out of s (fillers included). */
HP_INTERNAL size_t hpC_space_used(const hpC_space *s);
/* Calls fn on every object and filler of s, in address order. */
HP_INTERNAL void hpC_space_walk(const hpC_space *s, void (*fn)(uint64_t *hdr, void *arg), void *arg);
/* The header of the young object (not a filler) that contains address a, or NULL. Eden is
 * parsed from the start of the TLAB that holds a (at most one TLAB's worth of objects),
 * from-space found through the start bits, pinned objects by binary search. */
HP_INTERNAL uint64_t *hpC_young_object_of(hpC_generations *h, uintptr_t a);
/* The eden object that holds a, parsed from the TLAB records `tlabs` (sorted pairs). */
HP_INTERNAL uint64_t *hpC_eden_object_in(const hpC_vec *tlabs, uintptr_t a);
/* The pinned object that contains a, or NULL. */
HP_INTERNAL uint64_t *hpC_pinned_object_of(const hpC_generations *h, uintptr_t a);
hp_inline void hpC_set_start(hpC_generations *h, const void *hdr) {
  size_t w = ((uintptr_t)hdr - h->young_lo) / 8;
  h->starts[w / 64] |= (uint64_t)1 << (w % 64);
}
hp_inline bool hpC_is_start(const hpC_generations *h, const void *hdr) {
  size_t w = ((uintptr_t)hdr - h->young_lo) / 8;
  return (h->starts[w / 64] >> (w % 64)) & 1;
}

/* ---- Types ----
 * Type ids are process-wide (one table for all runtimes), so that a static hp_type can be
 * registered with any number of runtimes. Id 0 is the filler. Entries are written once,
 * under a lock, before any object of the type exists. */
extern HP_INTERNAL const hp_type *hpC_types[HPC_MAX_TYPES + 1];
extern HP_INTERNAL _Atomic uint32_t hpC_ntypes;
HP_INTERNAL const hp_type *hpC_type(unsigned id);
hp_cold HP_INTERNAL _Noreturn void hpC_bad_type(unsigned id);

/* ---- Sizing (gc/sizing.c) ---- */
typedef struct hpC_results hpC_results;
/* Sets the bounds of eden (eden_init/min/max, surv_max) from the configuration. */
HP_INTERNAL void hpC_sizing_init(hp_runtime *rt);
/* Bytes of each survivor space for an eden of `eden` bytes. */
HP_INTERNAL size_t hpC_survivor_bytes(const hp_runtime *rt, size_t eden);
/* After a minor collection that paused `pause_ns` (wall time, the stop included), whose
 * work took work_ns of CPU time, and that ended at now_ns (world stopped, eden empty):
 * resizes eden and to-space by the adaptive policy. */
HP_INTERNAL void hpC_young_resize(hp_runtime *rt, const hpC_results *cy, uint64_t pause_ns, uint64_t work_ns,
                                  uint64_t now_ns);
/* The most minor collections an object survives before promotion: tenure_age, and more
 * while eden is below its initial size, so that what dies young still dies young. */
HP_INTERNAL unsigned hpC_tenure_max(const hp_runtime *rt);
/* After a major collection: the old generation's next threshold, from the cost measured. */
HP_INTERNAL void hpC_old_resize(hp_runtime *rt, uint64_t pause_ns, uint64_t now_ns);
/* The TLAB size for a thread that allocated `cycle_bytes` in the last cycle, whose TLAB
 * size was `cur`. */
HP_INTERNAL size_t hpC_tlab_size_for(const hp_runtime *rt, size_t cur, uint64_t cycle_bytes);

/* ---- Spaces ---- */
HP_INTERNAL bool hpC_generations_init(hp_runtime *rt);
HP_INTERNAL void hpC_generations_destroy(hp_runtime *rt);
/* [young-range]: the young range of body pointers is [young_lo, young_hi + 8): one word
 * past the span, so that the body pointer of a zero-size object at the very end (== young_hi)
 * is young too. No other managed pointer can fall in that word: a body is never at a block's
 * start. Headers and other addresses are tested against the span (hpC_in_young_span). */
hp_inline size_t hpC_young_size(const hpC_generations *h) { return h->young_hi - h->young_lo + 8; }
hp_inline bool hpC_is_young(const hpC_generations *h, const void *p) {
  return (uintptr_t)p - h->young_lo < hpC_young_size(h);
}
/* For an address that is not a body pointer -- a header, or any word a conservative scan
 * finds -- the young span itself, [young_lo, young_hi): the first page after the span may
 * hold an old object whose header is at young_hi. */
hp_inline bool hpC_in_young_span(const hpC_generations *h, uintptr_t a) {
  return a - h->young_lo < h->young_hi - h->young_lo;
}
/* The old object whose header starts the block that holds p, or NULL. */
HP_INTERNAL uint64_t *hpC_old_header_of(const void *p, hpP_span **span);
/* gc/mark.h [black-alloc] and [unswept]: b was just allocated in the old heap. */
HP_INTERNAL void hpC_alloc_black(hpC_generations *h, void *b, size_t bytes);
/* Allocates an old-generation object of `bytes` (header included), not zeroed; NULL if the
 * pools are exhausted. */
HP_INTERNAL void *hpC_old_alloc_slow(hpC_generations *h, size_t bytes);
hp_inline void *hpC_old_alloc(hpC_generations *h, size_t bytes) {
  if (hp_unlikely(bytes > HPP_LARGE_MAX)) return hpC_old_alloc_slow(h, bytes);
  unsigned cls = hpP_class_of(bytes);
  void *b = hpP_tracked_alloc_class(h->old, cls);
  if (hp_likely(b != NULL)) {
    h->old_bytes += hpP_class_size[cls];
    h->old_object_bytes += bytes;
    if (hp_unlikely(atomic_load_explicit(&h->mk.phase, memory_order_relaxed) != HPC_IDLE))
      hpC_alloc_black(h, b, bytes);
  }
  return b;
}
/* Bytes committed by the heap now (eden and survivor spaces at their current sizes + old
 * blocks). */
HP_INTERNAL size_t hpC_committed(hp_runtime *rt);

/* ---- Tracing ---- */
/* Calls visit on each managed slot of the object with header at hdr. Inlined into each
 * collector loop with its own visitor, so that visit is a direct (inlined) call there. */
hp_inline void hpC_trace_with(uint64_t *hdr, hp_visit_fn visit, void *ctx) {
  uint64_t hw = *hdr;
  const hp_type *type = hpC_types[hpC_type_id(hw)];
  if (hp_unlikely(type == NULL)) hpC_bad_type(hpC_type_id(hw));
  if (type->flags & HP_TYPE_LEAF) return;                /* fillers (id 0) are leaves */
  char *body = (char *)(hdr + 1);
  for (uint32_t i = 0; i < type->noffsets; i++) visit((void **)(body + type->offsets[i]), ctx);
  if (type->flags & HP_TYPE_ARRAY) {
    void **slot = (void **)(body + ((type->size + 7) & ~(size_t)7));
    void **end = (void **)((char *)hdr + hpC_bytes(hw));
    for (; slot < end; slot++) visit(slot, ctx);
  }
  if (type->trace) type->trace(body, visit, ctx);
}
HP_INTERNAL void hpC_trace(uint64_t *hdr, hp_visit_fn visit, void *ctx);
/* Calls visit on every root slot (threads' frames, global roots, ranges, callbacks). */
HP_INTERNAL void hpC_visit_roots(hp_runtime *rt, hp_visit_fn visit, void *ctx);

/* ---- Collections (world stopped, TLABs retired) ---- */
/* The phases of a collection, in order; a major collection runs the minor ones first (its
 * promotion). Adding a phase is one line here (the GC log prints them by these names). */
#define HPC_PHASES(X)                                                                       \
  X(stop)        /* stopping the other threads at safe points */                            \
  X(retire)      /* taking back the threads' TLABs and remembered sets */                   \
  X(roots)       /* pinning (conservative roots, hp_pin) and the precise roots */           \
  X(remembered)  /* the remembered set and cards */                                         \
  X(copy)        /* Cheney's scan of to-space and the promoted objects */                   \
  X(weak)        /* minor: weak slots, ephemerons, finalizable objects (gc/weak.h) */        \
  X(reset)       /* settling pinned objects, the flip, resetting the young spaces */        \
  X(mark)        /* major: marking the old generation */                                    \
  X(sweep)       /* major: sweeping it */                                                   \
  X(verify)      /* the heap verifier (HP_GC_VERIFY) */
enum {
#define X(name) HPC_PHASE_##name,
  HPC_PHASES(X)
#undef X
  HPC_NPHASES
};

/* One collection's figures: filled by the collection (copied ... marked, phase times) and by
 * its bracket (the rest), then handed to the GC log and the event handler. */
typedef struct hpC_results {
  size_t copied, promoted, pinned;        /* bytes */
  size_t freed_objects;
  size_t marked, marked_objects;          /* major: old bytes and objects marked live */
  uint64_t phase_ns[HPC_NPHASES];
  /* the bracket's */
  hp_gc_kind kind;
  uint64_t number;                        /* collections of this kind, this one included */
  uint64_t start_ns;                      /* since the runtime was made */
  uint64_t pause_ns, stop_ns;             /* the whole pause; of it, stopping the threads */
  unsigned threads, threads_waited;       /* others attached; of them, running at the request */
  unsigned tenure;                        /* the tenure age after the collection */
  size_t heap_before, heap_after;         /* bytes in use */
  size_t committed, eden;                 /* bytes of the heap after, of eden */
  /* weak references and finalizers (this collection's share of hp_gc_stats') */
  uint64_t weak_cleared, ephemerons_traced, ephemerons_cleared, finalizers_queued;
  /* filled by what is still to come (0 until then): concurrent marking */
  uint64_t concurrent_ns;                 /* marking outside the pause, for this cycle */
} hpC_results;
/* Adds the time since *t to phase `ph` of cy and moves *t to now. */
#define hpC_phase(cy, ph, t)                                                                \
  do {                                                                                      \
    uint64_t now_ = hpS_now_ns();                                                           \
    (cy)->phase_ns[HPC_PHASE_##ph] += now_ - *(t);                                          \
    *(t) = now_;                                                                            \
  } while (0)
HP_INTERNAL void hpC_minor(hp_runtime *rt, bool promote_all, hpC_results *cy);
/* Recomputes eden's and to-space's runs around the pinned objects and forgets the TLABs. */
HP_INTERNAL void hpC_young_reset(hpC_generations *h);
/* A full major collection, stopping the world throughout: any concurrent cycle is abandoned
 * first. With `lazy`, the pages are swept afterwards (gc/sweep.c), else in the pause. */
HP_INTERNAL void hpC_major(hp_runtime *rt, hpC_results *cy, bool lazy);

/* ---- Marking (gc/mark.c) ---- */
/* Marks from the roots, conservative roots and hp_pin list (a pause, after a promotion of
 * all); with pinned_roots also every pinned object (gc/mark.h, [pinned-roots]). */
HP_INTERNAL void hpC_mark_roots(hp_runtime *rt, bool pinned_roots);
/* The mark of a full major collection (after a promotion of all): the roots, then tracing,
 * weak slots, ephemerons and finalizers (gc/weak.h). */
HP_INTERNAL void hpC_mark_full(hp_runtime *rt);
/* Marks (and pushes) what each of v[0..n) names. */
HP_INTERNAL void hpC_mark_values(hpC_generations *h, const uintptr_t *v, size_t n, bool concurrent);
/* Traces from the stack until it is empty (true) or `budget` work is done; adds the work done
 * to *work. Under mk.mu or in a pause. */
HP_INTERNAL bool hpC_mark_slice(hpC_generations *h, bool concurrent, bool young_pinned, size_t budget, size_t *work);
/* Marks to completion (a pause), the objects left for the pause included; frees the stack. */
HP_INTERNAL void hpC_mark_finish(hpC_generations *h, bool young_pinned);
/* Clears every mark and the stack (a cycle given up, in a pause). */
HP_INTERNAL void hpC_mark_abandon(hpC_generations *h);
HP_INTERNAL void hpC_mark_reset_counts(hpC_generations *h);

/* ---- Sweeping (gc/sweep.c; under alloc_mu or in a pause) ---- */
HP_INTERNAL void hpC_sweep_init(hpC_generations *h);
/* At the end of a mark: drops dead remembered objects, frees dead huge objects, lists the
 * pages to sweep; returns the number of dead objects. */
HP_INTERNAL size_t hpC_sweep_begin(hpC_generations *h);
/* The same, sweeping every page at once (a full collection that is not lazy). */
HP_INTERNAL size_t hpC_sweep_now(hpC_generations *h);
/* Sweeps up to `pages` pages; true when none is left. */
HP_INTERNAL bool hpC_sweep_some(hpC_generations *h, size_t pages);
HP_INTERNAL void hpC_sweep_all(hpC_generations *h);
HP_INTERNAL void hpC_sweep_done(hpC_generations *h);

/* ---- The barrier's logs (gc/barrier.c) ---- */
/* Turns logging on or off in every thread (a pause). */
HP_INTERNAL void hpC_barrier_set(hp_runtime *rt, bool on);
/* Marks what the full logs name (under mk.mu or in a pause); true if there were any. */
HP_INTERNAL bool hpC_barrier_take(hp_runtime *rt, bool concurrent);
/* Marks what every log names, the threads' partial ones included (a pause). */
HP_INTERNAL void hpC_barrier_drain(hp_runtime *rt);
/* Thread th leaves: its partial log goes to the marker. */
HP_INTERNAL void hpC_barrier_thread_gone(hpC_mutator *th);

/* ---- The concurrent cycle (gc/marker.c) ----
 * Internal kinds of hpC_collect, besides HP_GC_MINOR and HP_GC_MAJOR (a full collection): */
#define HPC_GC_AUTO ((hp_gc_kind)2)     /* a major collection is due */
#define HPC_GC_STEP ((hp_gc_kind)3)     /* stress: start a cycle, or finish the one marking */
#define HPC_GC_FINISH ((hp_gc_kind)4)   /* finish the cycle, if one is marking */
/* What a pause does. START counts as a minor collection (it is one, promoting everything),
 * the FINISH ones and MAJOR ones as major collections. */
enum { HPC_DID_NOTHING, HPC_DID_MINOR, HPC_DID_MAJOR, HPC_DID_MAJOR_LAZY, HPC_DID_START,
       HPC_DID_FINISH, HPC_DID_MINOR_FINISH };
HP_INTERNAL unsigned hpC_mark_mode(const hp_runtime *rt);
HP_INTERNAL int hpC_cycle_plan(hp_runtime *rt, hp_gc_kind kind);
HP_INTERNAL void hpC_cycle_run(hp_runtime *rt, int plan, hpC_results *cy);
HP_INTERNAL void hpC_cycle_abandon(hp_runtime *rt);
/* Whether the old generation calls for the next step of a cycle (or, in mode 0, a major
 * collection); the heap limit aside (hpC_major_due). */
HP_INTERNAL bool hpC_cycle_due(hp_runtime *rt);
HP_INTERNAL void hpC_set_thresholds(hp_runtime *rt, size_t live);
/* In an allocation slow path, with the world running: assist, sweep, or run the finish. */
HP_INTERNAL void hpC_cycle_assist_slow(hp_runtime *rt, hpC_mutator *th);
hp_inline void hpC_cycle_assist(hp_runtime *rt, hpC_mutator *th, hpC_generations *h) {
  if (hp_unlikely(atomic_load_explicit(&h->mk.phase, memory_order_relaxed) != HPC_IDLE)) hpC_cycle_assist_slow(rt, th);
}
HP_INTERNAL void hpC_marker_stop(hp_runtime *rt);
/* In a fork child, where the marker thread is gone: its locks made anew, none running, and
 * marking in slices on the mutators from then on (mark_mode 1). */
HP_INTERNAL void hpC_marker_forget(hp_runtime *rt);

/* ---- Cards of large pointer arrays ----
 * An old HP_TYPE_ARRAY object without a trace callback that is larger than 64 KiB (so alone
 * in a HUGE span) is remembered by the slot, not only as a whole: the barrier also sets the
 * bit of the slot's 16-byte granule in the AUX bitmap of the slot's page, and a minor
 * collection visits only the slots of marked granules (plus the fixed part). A store into a
 * 1-million-slot table then costs a minor collection two slots, not the table.
 * [cards]: every slot of such an object that holds a young pointer has its granule's bit. */
hp_inline bool hpC_carded(uint64_t hw, const hp_type *t) {
  return hpC_bytes(hw) > HPP_LARGE_MAX && (t->flags & HP_TYPE_ARRAY) && t->trace == NULL;
}
/* Marks the cards of [lo, hi): for a carded array that became old without the barrier
 * (promoted with young referents, or born old). */
HP_INTERNAL void hpC_cards_mark(uintptr_t lo, uintptr_t hi);
/* The array part of a carded object (where cards apply). */
hp_inline uintptr_t hpC_card_lo(const uint64_t *hdr, const hp_type *t) {
  return (uintptr_t)(hdr + 1) + ((t->size + 7) & ~(size_t)7);
}
hp_inline bool hpC_card_is_set(const void *slot) {
  size_t off = ((uintptr_t)slot & (HPP_PAGE - 1)) / HPP_GRANULE;
  return (hpP_bits(hpP_index(slot), HPP_BITS_AUX)[off / 64] >> (off % 64)) & 1;
}

/* ---- Conservative roots (gc/conservative.c) ---- */
/* Receives one word that falls inside the pools' reservation. */
typedef void (*hpC_candidate_fn)(hp_runtime *rt, uintptr_t word, void *ctx);
/* Calls fn for every such word in the captured registers and stacks of all threads that
 * have captured them; returns the stack bytes scanned. */
HP_INTERNAL size_t hpC_conservative_roots(hp_runtime *rt, hpC_candidate_fn fn, void *ctx);
/* Calls fn for the word each thread inside hp_pin has named (see gc/roots.c, is_object):
 * treated as a conservative root by every collection, whatever conservative_stack says. */
HP_INTERNAL void hpC_pin_words(hp_runtime *rt, hpC_candidate_fn fn, void *ctx);
/* The managed object (young, pinned or old) that holds address a, or NULL. */
HP_INTERNAL uint64_t *hpC_object_of(hpC_generations *h, uintptr_t a);
/* A word equal to a young object's header address may also be the body pointer of a
 * zero-size object just before it: that object, or NULL. */
HP_INTERNAL uint64_t *hpC_zero_size_before(hpC_generations *h, uintptr_t a);

/* ---- Verification (gc/verify.c) ---- */
/* Checks every invariant over the whole heap; aborts on the first violation. */
HP_INTERNAL size_t hpC_verify(hp_runtime *rt, const char *when);
/* Validators of one structure each, for hp_validate (HP_DEBUG >= 3): each returns true or
 * aborts with a message that names what is wrong. */
/* s's runs: sorted, disjoint, inside s, their byte counts right; the bump pointer inside
 * the current run. */
HP_INTERNAL bool hpC_space_valid(const hpC_space *s);
/* The remembered set between collections: every entry the body of an old (or pinned old)
 * object with REMEMBERED set and no forwarding. */
HP_INTERNAL bool hpC_remset_valid(const hpC_generations *h);
/* Every page of the old generation: the collector's arena, owned by its heap, and each
 * allocated block an object of a registered type that fits the block, with its mark bit
 * clear. Between collections. */
HP_INTERNAL bool hpC_old_pages_valid(hpC_generations *h);

#endif /* HP_GC_GC_H */
