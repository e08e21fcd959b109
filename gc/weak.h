/* gc/weak.h -- weak slots, ephemerons and finalizers: what the collections call (hpC_weak_*,
 * hpC_fin_*). Included by gc/gc.h; the code is in gc/weak.c and gc/finalize.c, and
 * doc/design.md ("Weak references, ephemerons, finalizers") explains the whole.
 *
 * Weak holders. A type with weak slots or ephemeron pairs (hp_type's weak_offsets,
 * ephemeron_offsets, HP_TYPE_WEAK_ARRAY, HP_TYPE_EPHEMERON_ARRAY) has its byte set in
 * hpC_type_weak. Every collection records each such object it traces (a survivor, a
 * promoted or pinned object, a remembered one in a minor collection; a marked one in a major
 * collection) in `holders`, and fixes their weak slots once tracing is over: nothing walks the
 * heap to find them. An old holder whose weak slot points young is remembered like any old
 * object holding a young pointer ([remembered] covers weak slots and ephemeron fields).
 *
 * Ephemerons, in linear time. A pair whose key is reached (copied, pinned or old in a minor
 * collection; marked in a major one) has its value traced at once. Otherwise it is parked on
 * its key: the key gets a record (its header word, and a list of its parked pairs), and its
 * header word is replaced by the record's index. The collector reads the header of every
 * object it reaches anyway (a minor one before copying it, a major one before tracing it):
 * when it finds a record index there it puts the header back and moves the key's parked pairs
 * to the `ready` list, whose values are traced like the rest. So each pair is parked and
 * released at most once, whatever the order of a chain, with no hash table and no pass over
 * the pending pairs. What is still parked when tracing ends has a dead key: the pair is
 * cleared and the key's header put back.
 *   [ephemeron-parked] a header word holding a record index has, in a minor collection,
 *   REMEMBERED set (a young object that is neither forwarded nor pinned is never remembered),
 *   in a major one FORWARDED set (nothing is forwarded then) and the object's PINNED bit and
 *   mark bit (MARKED, pinned objects) kept; the index is bits 8-63. Only during tracing: after
 *   hpC_weak_fix no header holds an index.
 *
 * Finalizers. A thread registers into a buffer of its own, with no lock; the buffers are
 * handed over whenever the world stops. Registrations live in two lists by the object's
 * address (young range, old): a minor collection looks at the young one only. After tracing from the roots and fixing
 * the weak holders found so far (so weak slots to a finalizable object are cleared before its
 * finalizer runs), each registration whose object was not reached is moved to the queue and
 * its object traced, with a second round of fixing for the holders that tracing finds. The
 * queue is a root until hp_finalizers_run takes the entry.
 *
 * Memory. The lists and the table are pool memory kept from one collection to the next and
 * grown by doubling; a collection allocates only when they must grow, and aborts with a
 * message if the pools are exhausted then, as for its other bookkeeping (mark stack, remset).
 */
#ifndef HP_GC_WEAK_H
#define HP_GC_WEAK_H

/* hpC_type_weak[id]: nonzero when type id has weak slots or ephemeron pairs. */
extern HP_INTERNAL uint8_t hpC_type_weak[];


typedef struct hpC_pending { uintptr_t slot; size_t next; } hpC_pending;
typedef struct hpC_parked { uint64_t *hdr; uint64_t orig; size_t head; } hpC_parked;
typedef struct hpC_weak {
  hpC_generations *h;
  bool major;                 /* which bit marks a parked key ([ephemeron-parked]) */
  hpC_vec holders;            /* headers of weak holders traced in this collection */
  size_t fixed;               /* holders[0..fixed) are fixed already */
  hpC_parked *rec;            /* keys not reached, with parked pairs (hdr NULL: released) */
  size_t nrec, rec_cap;
  hpC_pending *pend;          /* parked pairs: key slot, next of the same key */
  size_t npend, pend_cap;
  size_t parked;              /* pairs parked and not released */
  hpC_vec ready;              /* key slots of released pairs, values not traced yet */
  uint64_t traced, nparked, cleared_pairs, cleared_weak;   /* this collection */
} hpC_weak;

/* Starts a collection's weak bookkeeping (major: which bit marks a parked key). */
HP_INTERNAL void hpC_weak_begin(hpC_weak *w, hpC_generations *h, bool major);
/* Whether the collection has reached p (a managed pointer, not NULL): its current address
 * (a minor collection moves objects), or NULL. Old objects count as reached in a minor
 * collection, memory that is not the collector's always. */
HP_INTERNAL void *hpC_weak_live(hpC_weak *w, void *p);
/* A weak holder was traced: records it and handles its ephemeron pairs, tracing the values
 * of those whose keys are live (visit), parking the others. */
HP_INTERNAL void hpC_weak_trace(hpC_weak *w, uint64_t *hdr, hp_visit_fn visit, void *ctx);
/* A parked key (its header word hw holds a record index) is reached: puts its header word
 * back (returned) and makes its pairs ready. */
HP_INTERNAL uint64_t hpC_weak_unpark(hpC_weak *w, uint64_t *hdr, uint64_t hw);
/* Traces the values of the ready pairs; false when there were none. */
HP_INTERNAL bool hpC_weak_drain(hpC_weak *w, hp_visit_fn visit, void *ctx);
/* Tracing is over: fixes the holders recorded since the last call (clears what died, updates
 * what moved), forgets the parked pairs. In a minor collection an old holder left pointing
 * young is remembered. */
HP_INTERNAL void hpC_weak_fix(hpC_weak *w);
/* Ends the collection: adds its counts to the statistics. */
HP_INTERNAL void hpC_weak_end(hpC_weak *w, struct hp_gc_stats *st);
HP_INTERNAL void hpC_weak_free(hpC_weak *w);
/* Calls visit on every weak slot and every ephemeron key and value slot of the object. */
HP_INTERNAL void hpC_weak_slots(uint64_t *hdr, hp_visit_fn visit, void *ctx);
/* Sets hpC_type_weak[type->id]; false (EINVAL) for a malformed weak declaration. */
HP_INTERNAL bool hpC_weak_type_check(const hp_type *type);
HP_INTERNAL void hpC_weak_type_set(const hp_type *type);

/* ---- Finalizers (gc/finalize.c) ---- */
typedef struct hpC_final { void *obj; hp_finalizer_fn fn; void *data; } hpC_final;
typedef struct hpC_finvec { hpC_final *items; size_t len, cap; } hpC_finvec;
typedef struct hpC_fin {
  hpC_finvec young, old;      /* registered, by where the object is */
  hpC_finvec queue;           /* found unreachable; queue[head..len) not run yet */
  size_t head;
  uint64_t queued;            /* this collection */
  uint64_t run;               /* finalizers taken by hp_finalizers_run (rt->roots_mu) */
} hpC_fin;
/* Visits the queued objects (roots until their finalizer is taken). */
HP_INTERNAL void hpC_fin_roots(hpC_fin *f, hp_visit_fn visit, void *ctx);
/* After tracing from the roots and the first hpC_weak_fix: updates the registrations whose
 * object was reached (moving those that left the young range to the old list) and queues the
 * others, visiting their objects (visit). major: both lists, else the young one. Returns
 * whether any was queued (the caller then traces again). */
HP_INTERNAL bool hpC_fin_scan(hpC_fin *f, hpC_generations *h, bool major, hp_visit_fn visit, void *ctx);
HP_INTERNAL void hpC_fin_free(hpC_fin *f);
/* Moves a thread's new registrations into the lists (world stopped, or at detach). */
HP_INTERNAL void hpC_fin_hand_over(hpC_fin *f, hpC_generations *h, hpC_finvec *mine);
/* hp_runtime_destroy with cfg.finalize_on_destroy: runs the queued finalizers and those still
 * registered, on thread t. */
HP_INTERNAL void hpC_fin_destroy(hp_runtime *rt, hp_thread *t);

#endif /* HP_GC_WEAK_H */
