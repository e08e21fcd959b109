/* gc/collector.h -- the collector's state (struct hp_runtime), its mutators (hpC_mutator),
 * the world stop and the collection bracket (hpC_).
 *
 * The collector owns its mutators: a thread attached to a runtime is an hpC_mutator
 * (gc/mutator.c: the registry, safe points, blocking regions, stopping the world), and every
 * collection runs inside one bracket (gc/collect.c: stop the world, retire the TLABs, events,
 * verification, the phase functions, statistics, restart). runtime/ creates and destroys the
 * state and reads it out; nothing below gc/ sees it.
 */
#ifndef HP_GC_COLLECTOR_H
#define HP_GC_COLLECTOR_H
#include "pools/platform/internal.h"
#include "gc/gc.h"
#include "pools/platform/list.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>

/* ====================================================================================
 *  Mutators (gc/mutator.c)
 * ==================================================================================== */

/* A thread's state, as the stop-the-world protocol sees it. */
enum { HPC_RUNNING, HPC_PARKED, HPC_BLOCKED };

/* The whole of a thread's state; the public hp_thread is its first member. Fields are the
 * thread's own, but for `state` and `next` (world_mu) and what the collector touches while
 * the thread is parked or blocked (TLAB, remset, tlabs, captured context). */
struct hpC_mutator {
  struct hp_thread pub;
  hp_runtime *rt;
  uintptr_t tlab_lo;              /* start of the current TLAB (bytes-allocated accounting) */
  _Atomic uint64_t allocated;     /* bytes of retired TLABs (the thread writes, stats read) */
  uint64_t stress_countdown;      /* allocations left before the next stress collection */
  size_t refill_need;             /* collecting for an allocation of this many bytes */
  size_t tlab_size;               /* bytes of its next TLAB (gc/sizing.c) */
  uint64_t allocated_at_gc;       /* `allocated` at the last collection */
  hpC_mutator *next, *prev;       /* in rt->threads (hpS_list), under world_mu */
  int state;                      /* HPC_*, under world_mu */
  hpC_vec remset;                 /* old objects this thread's barrier remembered */
  hpC_vec tlabs;                  /* (start, end) of the TLABs it took this cycle */
  hpC_finvec fin_new;             /* finalizers it registered since the last world stop */
  uintptr_t *satb;                /* the snapshot barrier's log (gc/barrier.c), HPC_SATB_LOG */
  size_t satb_len;
  uint64_t stress_finish_countdown;/* stress: allocations left before a marking cycle finishes */
  pthread_t self;
  bool collector_own;             /* the marker thread (gc/marker.c), not the embedder's */
  /* conservative roots: what the thread captured when it entered a collection */
  uintptr_t stack_hi;             /* the far end of its stack */
  uintptr_t scan_lo;              /* its innermost frame when captured */
  bool captured;
  unw_context_t ctx;              /* its registers when captured */
  /* hp_pin's argument (its header address) while hp_pin stops the world: a collection that
   * parks the thread meanwhile pins what it names, like a conservative root, so that hp_pin
   * can look it up again afterwards (gc/roots.c, is_object). 0 otherwise. */
  uintptr_t pin_word;
  /* Who the thread is, for diagnostics (hpC_mutator_describe), taken when it attached: its
   * kernel thread id, its name then, and the return address of the call that attached it
   * (hp_thread_attach, or hp_runtime_new for the main thread). */
  int tid;
  char name[16];
  void *attached_at;
  unsigned attach_count;          /* hp_thread_attach calls not undone yet by hp_thread_detach */
  hpC_mutator *own_next;          /* the same OS thread's mutators of other runtimes */
  size_t saved_large;             /* pub.large_object_size, while in a blocking region */
};

hp_inline hpC_mutator *hpC_mutator_of(hp_thread *t) { return (hpC_mutator *)t; }

/* Records the calling thread's stack end (at attach; gc/conservative.c). */
HP_INTERNAL void hpC_mutator_stack_init(hpC_mutator *th);
/* Captures the calling thread's registers and innermost frame into th; the frame that calls
 * it must stay live until the collection is over. A macro, so that the frame is the
 * caller's. */
#define hpC_capture(th)                                                                     \
  do {                                                                                      \
    unw_getcontext(&(th)->ctx);                                                             \
    (th)->scan_lo = (uintptr_t)__builtin_frame_address(0);                                  \
    (th)->captured = true;                                                                  \
  } while (0)

/* For a thread of the collector's own (the marker, gc/marker.c): leaves the running threads
 * without capturing anything for the conservative scan, comes back (waiting out a
 * collection), and stops at the world stop if one waits for it. */
HP_INTERNAL void hpC_mutator_block(hpC_mutator *th);
HP_INTERNAL void hpC_mutator_unblock(hpC_mutator *th);
HP_INTERNAL void hpC_mutator_poll(hpC_mutator *th);
/* Makes the state of the calling thread and links it (waiting out a collection);
 * attached_at is the return address of the API call that attaches it. */
HP_INTERNAL hpC_mutator *hpC_mutator_new(hp_runtime *rt, void *attached_at);
/* Frees the state of a thread that is no longer linked (the caller's own, or at destroy). */
HP_INTERNAL void hpC_mutator_free(hpC_mutator *th);
/* Aborts at HP_DEBUG >= 1 if th is inside a blocking region: `call` touches managed objects. */
HP_INTERNAL void hpC_check_not_blocked(hpC_mutator *th, const char *call);
/* "thread 1234 "name" (attached at 0x... main+0x1c in ./prog)", for messages. */
HP_INTERNAL void hpC_mutator_describe(const hpC_mutator *th, char *buf, size_t size);

/* The deadline of a world stop (gc/stall.c): hpC_stop_world waits for the other threads with
 * hpC_stall_wait, which past cfg.stop_deadline_ms reports once on stderr the threads that
 * have not reached a safe point, then waits on (or aborts, cfg.stop_deadline_abort). */
typedef struct hpC_stall { uint64_t t0; bool reported; } hpC_stall;
HP_INTERNAL void hpC_stall_begin(hpC_stall *s);
/* One wait on cv_stopped (world_mu held, th the collector, NULL for a thread that is not
 * attached): returns when woken, or at the deadline after the report. */
HP_INTERNAL void hpC_stall_wait(hp_runtime *rt, hpC_mutator *th, hpC_stall *s);
/* The calling thread's state in rt, or NULL if it is not attached. */
HP_INTERNAL hpC_mutator *hpC_mutator_self(hp_runtime *rt);
/* Gives back th's TLAB: its remainder becomes a filler (eden stays parsable) and its bytes
 * are counted in th->allocated. th is the caller, or stopped. */
HP_INTERNAL void hpC_tlab_retire(hpC_mutator *th);
/* Hands what th's barrier remembered and the TLABs it took over to the heap. World stopped,
 * or alloc_mu held with no collection possible (detach). */
HP_INTERNAL void hpC_mutator_hand_over(hpC_mutator *th);

/* Stops every other attached thread at a safe point (true), or, when another thread got there
 * first, parks th until that collection is over (false). th must have captured its context. */
HP_INTERNAL bool hpC_stop_world(hp_runtime *rt, hpC_mutator *th);
HP_INTERNAL void hpC_start_world(hp_runtime *rt);
/* Runs fn(rt, arg) with no collection running and the thread list fixed (world_mu and
 * alloc_mu held): for reading the collector's state from outside a collection. An attached,
 * running caller first takes part in a collection that waits for it. */
HP_INTERNAL void hpC_with_world_quiet(hp_runtime *rt, void (*fn)(hp_runtime *rt, void *arg), void *arg);

/* ====================================================================================
 *  The collector's state
 * ==================================================================================== */

typedef struct hpC_callback { hp_roots_fn fn; void *data; } hpC_callback;

struct hp_runtime {
  hp_config cfg;
  hpC_generations gens;
  pthread_mutex_t roots_mu;       /* the root registries (roots, ranges, callbacks) and pins */
  pthread_mutex_t alloc_mu;       /* eden's runs and old-generation allocation by mutators */
  /* threads and the stop-the-world protocol (gc/mutator.c) */
  pthread_mutex_t world_mu;
  pthread_cond_t cv_stopped;      /* a thread stopped running (parked, blocked, detached) */
  pthread_cond_t cv_resume;       /* a collection ended */
  bool stopping;                  /* a collection is under way or waiting for threads */
  uint64_t epoch;                 /* collections started */
  unsigned nrunning;              /* attached threads in HPC_RUNNING */
  unsigned ncpus;                 /* processors online (who may spin: gc/mutator.c) */
  unsigned spinners;              /* parked threads spinning for the end of a collection */
  unsigned spin_us;               /* the spin budget now, <= stop_spin_us (0: not set yet) */
  hpC_mutator *collector;         /* the thread collecting, while stopping */
  unsigned stop_waited;           /* threads running when the last stop was requested, */
  uint64_t stopped_ns;            /*   and when the last of them stopped (hpS_now_ns) */
  hpC_mutator *threads;
  hpC_mutator *main;
  /* roots */
  hpC_vec roots;                  /* void ** */
  hpC_vec ranges;                 /* hp_root_range * */
  hpC_callback *callbacks;
  size_t ncallbacks, callbacks_cap;
  /* handlers */
  hp_oom_fn oom;
  void *oom_data;
  hp_gc_event_fn on_event;
  void *event_data;
  /* the GC log: set by the runtime (runtime/gclog.c) when a log is on, called by the
   * bracket at the end of every collection with the world still stopped */
  void (*on_cycle)(hp_runtime *rt, const hpC_results *cy);
  int log_fd;                     /* where the log writes; -1 when off */
  /* statistics */
  struct hp_gc_stats stats;
  uint64_t created_ns;
  uint64_t bytes_allocated;       /* of detached threads, and direct allocations (alloc_mu) */
  hp_gc_kind last_kind;           /* of the last collection */
  _Atomic int stress_major_next;  /* stress mode: minor and major in turn */
  hpC_vec pins;                   /* bodies pinned by hp_pin (a multiset) */
  hp_runtime *all_next, *all_prev;  /* every live runtime, for fork (gc/mutator.c) */
};

/* Initialises the collector's state of rt (zeroed, cfg set and checked): locks, the heap and
 * the main thread's mutator (attached at `caller`, hp_runtime_new's return address). False
 * (and nothing to destroy) when memory is short. */
HP_INTERNAL bool hpC_runtime_init(hp_runtime *rt, void *caller);
/* Enters rt in (and takes it out of) the list of live runtimes that fork() brings to a
 * quiet point, and whose child forgets the threads that did not fork (gc/mutator.c). */
HP_INTERNAL void hpC_runtime_register(hp_runtime *rt);
HP_INTERNAL void hpC_runtime_unregister(hp_runtime *rt);
/* Frees all of it; rt itself stays the caller's. Aborts, naming them, if threads other than
 * the caller are still attached. */
HP_INTERNAL void hpC_runtime_destroy(hp_runtime *rt);

/* ====================================================================================
 *  The collection bracket (gc/collect.c)
 * ==================================================================================== */

/* Runs work(rt, arg) with the world stopped by th and every TLAB retired, th's context
 * captured (in this function's frame, live while work runs) and hpC_in_collection() true.
 * When another thread is stopping the world already, th joins that collection (parks until
 * it is over) and then, if retry, tries again; without retry it returns false at once and
 * work is not run. */
HP_INTERNAL bool hpC_with_world_stopped(hp_runtime *rt, hpC_mutator *th, bool retry,
                                        void (*work)(hp_runtime *rt, void *arg), void *arg);
/* Whether the calling thread is running a collection (for the calls an event handler may
 * make). */
HP_INTERNAL bool hpC_in_collection(void);
/* Runs a collection of `kind` now, on behalf of thread th (the caller holds no lock). If
 * another thread is collecting already, th joins that collection instead (parks until it is
 * over) and false is returned. */
HP_INTERNAL bool hpC_collect(hp_runtime *rt, hpC_mutator *th, hp_gc_kind kind);
/* Gives back every thread's TLAB remainder (filled), so that eden is parsable. */
HP_INTERNAL void hpC_retire_tlabs(hp_runtime *rt);
/* Whether the old generation has grown enough for a major collection. */
HP_INTERNAL bool hpC_major_due(hp_runtime *rt);
/* Bytes of live young data plus the old generation's blocks (what an event reports). */
HP_INTERNAL size_t hpC_in_use(hp_runtime *rt);

#endif /* HP_GC_COLLECTOR_H */
