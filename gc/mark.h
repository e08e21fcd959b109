/* gc/mark.h -- the old generation's mark: the mark stack and its tracer (gc/mark.c), lazy
 * sweeping (gc/sweep.c), the snapshot barrier's logs (gc/barrier.c) and the concurrent
 * cycle with its marker thread (gc/marker.c). doc/design.md, "The concurrent cycle", says
 * why; the invariants are stated here once.
 *
 * ====================================================================================
 *  Phases of the old generation (hpC_mark.phase)
 * ====================================================================================
 *   IDLE      no MARK bit is set anywhere; the barrier logs nothing.
 *   MARKING   a cycle is under way. It began in a pause (the start pause) that promoted
 *             every young object and marked what the roots and the pinned objects name.
 *   SWEEPING  marking is over (the finish pause); pages listed in `sweep` still hold the
 *             dead blocks of the cycle (ALLOC set, MARK clear), freed as the allocator or
 *             the marker thread gets to them.
 *
 * [satb]         While MARKING, every object that was reachable when the cycle began (the
 *                snapshot) is marked by its end: it is marked, or reachable from a gray
 *                object (on the stack) through slots that still hold their snapshot value,
 *                or named by a barrier log. hp_write logs a slot's old value before every
 *                store (hp_write_marking), so cutting a snapshot edge logs its target.
 * [black-alloc]  While MARKING, every old object allocated -- promoted by a minor
 *                collection, born old, huge, turned pinned-old -- is marked at once and never
 *                traced: its referents were themselves allocated since the start, or were
 *                reachable at the start ([satb] covers them). Young objects are not part of
 *                the cycle at all: the start pause emptied the young generation, so every
 *                young object was allocated since, and the minor collections deal with them.
 * [pinned-roots] Pinned objects are roots of a concurrent cycle (marked and traced in the
 *                start pause); the marker never follows a young pointer. Only a full
 *                (stop-the-world) major collection frees dead pinned objects.
 * [stw-weak]     Weak slots, ephemerons and finalizers (gc/weak.h) are processed only with
 *                the world stopped throughout: once any type with weak slots exists in the
 *                process (hpC_weak_types_exist) or a finalizer was registered with the runtime
 *                (mk.finalizers), due major collections are full ones (as in mark_mode 0), and
 *                a cycle that is marking then is given up at its next step. hp_weak_get has
 *                no barrier, so a concurrent mark could not see what it hands out.
 * [unswept]      While SWEEPING, a page with `client == HPC_UNSWEPT` has the cycle's MARK
 *                bits: an unmarked allocated block there is dead (never read: not by the
 *                verifier, the conservative scan nor the remembered set), and a block
 *                allocated there is marked, so that its sweep keeps it. Sweeping is over
 *                before the next cycle marks anything.
 *
 * Ownership. The mark stack belongs to whoever holds `mu` (the marker thread, a mutator
 * assisting, or a pause); MARK bits are set with an atomic OR while MARKING (the marker
 * and black allocation race on a word), plainly in pauses. The marker thread is an attached
 * thread of the runtime: it stops at the world stop like a mutator, so it never runs during
 * a pause (minor collections move young objects and write old slots only then).
 */
#ifndef HP_GC_MARK_H
#define HP_GC_MARK_H
#include "pools/platform/internal.h"
#include "pools/pool.h"

#include <pthread.h>

enum { HPC_IDLE = 0, HPC_MARKING = 1, HPC_SWEEPING = 2 };
#define HPC_UNSWEPT ((uintptr_t)1)      /* pg->client of a BLOCKS page waiting for its sweep */
#define HPC_SATB_LOG 1024               /* entries of a thread's barrier log */

/* Included by gc/gc.h after hpC_vec: the types below are part of hpC_generations. */

typedef struct hpC_mark {
  _Atomic int phase;                    /* HPC_*: changed in pauses, SWEEPING -> IDLE under alloc_mu */
  bool black;                           /* [black-alloc]: phase == MARKING (read by allocations) */
  /* the mark (under mu, or in a pause) */
  pthread_mutex_t mu;
  hpC_vec stack;                        /* gray headers; array cursors (| 1) */
  hpC_vec later;                        /* objects of types with a trace callback: traced
                                           in the finish pause (the callback is the embedder's) */
  size_t marked_bytes, marked_blocks;   /* object bytes traced; blocks (not huge/pinned) marked */
  size_t marked_block_bytes;            /* their block sizes */
  size_t marked_huge_bytes;             /* spans of huge objects marked */
  size_t black_bytes, black_blocks, black_block_bytes, black_huge_bytes;   /* allocated black */
  unsigned mode;                        /* hpC_mark_mode: 0 stop-the-world, 1 slices, 2 thread */
  bool manual;                          /* tests drive the cycle: no assists, no sweep steps */
  _Atomic bool finish_wanted;           /* the marker found nothing left to mark */
  _Atomic bool finalizers;              /* [stw-weak]: hp_finalizer_register was called */
  /* barrier logs handed over by threads (under log_mu) */
  pthread_mutex_t log_mu;
  hpC_vec logs;                         /* full logs (HPC_SATB_LOG entries each) */
  _Atomic size_t logged;                /* entries logged this cycle (log_mu or pause) */
  /* sweeping (under alloc_mu, or in a pause) */
  hpC_vec sweep[HPP_CLASSES];           /* pages left to sweep, by class */
  size_t sweep_left;                    /* pages still to sweep */
  size_t dead_bytes;                    /* bytes of the dead blocks they hold */
  /* the marker thread */
  pthread_mutex_t wake_mu;
  pthread_cond_t wake_cv;
  bool thread_started;
  _Atomic bool quit;
  uint64_t work;                        /* bumped (under wake_mu) when there is work */
  pthread_t thread;
  /* the cycle's figures */
  uint64_t cycle_started_ns;
  uint64_t marker_work, assist_work;    /* slots and objects traced by the marker / mutators */
  uint64_t concurrent_ns, sweep_ns;
} hpC_mark;

/* [stw-weak]: some type of the process has weak slots or ephemeron pairs. */
extern HP_INTERNAL _Atomic bool hpC_weak_types_exist;

#endif /* HP_GC_MARK_H */
