/* runtime/runtime.h -- the runtime object: configuration, threads, roots, statistics, and
 * the orchestration of collections (hpR_). */
#ifndef HP_RUNTIME_RUNTIME_H
#define HP_RUNTIME_RUNTIME_H
#include "runtime/internal.h"
#include "runtime/options.h"
#include "gc/gc.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>

/* A thread's state, as the stop-the-world protocol sees it (runtime/threads.c). */
enum { HPR_RUNNING, HPR_PARKED, HPR_BLOCKED };

/* The whole of a thread's state; the public hp_thread is its first member. Fields are the
 * thread's own, but for `state` and `next` (world_mu) and what the collector touches while
 * the thread is parked or blocked (TLAB, remset, tlabs, captured context). */
struct hpR_thread {
  struct hp_thread pub;
  hp_runtime *rt;
  uintptr_t tlab_lo;              /* start of the current TLAB (bytes-allocated accounting) */
  _Atomic uint64_t allocated;     /* bytes of retired TLABs (the thread writes, stats read) */
  uint64_t stress_countdown;      /* allocations left before the next stress collection */
  size_t refill_need;             /* collecting for an allocation of this many bytes */
  hpR_thread *next;
  int state;                      /* HPR_*, under world_mu */
  hpC_vec remset;                 /* old objects this thread's barrier remembered */
  hpC_vec tlabs;                  /* (start, end) of the TLABs it took this cycle */
  pthread_t self;
  /* conservative roots: what the thread captured when it entered a collection */
  uintptr_t stack_hi;             /* the far end of its stack */
  uintptr_t scan_lo;              /* its innermost frame when captured */
  bool captured;
  unw_context_t ctx;              /* its registers when captured */
};

/* Records the calling thread's stack end (at attach). */
HP_INTERNAL void hpR_thread_stack_init(hpR_thread *th);
/* Captures the calling thread's registers and innermost frame into th; the frame that calls
 * it must stay live until the collection is over. A macro, so that the frame is the
 * caller's. */
#define hpR_capture(th)                                                                     \
  do {                                                                                      \
    unw_getcontext(&(th)->ctx);                                                             \
    (th)->scan_lo = (uintptr_t)__builtin_frame_address(0);                                  \
    (th)->captured = true;                                                                  \
  } while (0)

typedef struct hpR_callback { hp_roots_fn fn; void *data; } hpR_callback;

struct hp_runtime {
  hp_config cfg;
  hpC_heap heap;
  pthread_mutex_t lock;           /* the root registries and pins */
  pthread_mutex_t alloc_mu;       /* eden's runs and old-generation allocation by mutators */
  /* threads and the stop-the-world protocol (runtime/threads.c) */
  pthread_mutex_t world_mu;
  pthread_cond_t cv_stopped;      /* a thread stopped running (parked, blocked, detached) */
  pthread_cond_t cv_resume;       /* a collection ended */
  bool stopping;                  /* a collection is under way or waiting for threads */
  uint64_t epoch;                 /* collections started */
  unsigned nrunning;              /* attached threads in HPR_RUNNING */
  hpR_thread *collector;          /* the thread collecting, while stopping */
  hpR_thread *threads;
  hpR_thread *main;
  /* roots */
  hpC_vec roots;                  /* void ** */
  hpC_vec ranges;                 /* hp_root_range * */
  hpR_callback *callbacks;
  size_t ncallbacks, callbacks_cap;
  /* handlers */
  hp_oom_fn oom;
  void *oom_data;
  hp_gc_event_fn on_event;
  void *event_data;
  /* statistics */
  struct hp_gc_stats stats;
  uint64_t created_ns;
  uint64_t bytes_allocated;       /* of detached threads, and direct allocations (alloc_mu) */
  hp_gc_kind last_kind;           /* of the last collection */
  int stress_major_next;          /* stress mode: minor and major in turn */
  hpC_vec pins;                   /* bodies pinned by hp_pin (a multiset) */
};

hp_inline hpR_thread *hpR_thread_of(hp_thread *t) { return (hpR_thread *)t; }

HP_INTERNAL bool hpR_config_check(const hp_config *c);
/* Runs a collection of `kind` now, on behalf of thread th (the caller holds no lock). If
 * another thread is collecting already, th joins that collection instead (parks until it is
 * over) and false is returned. */
HP_INTERNAL bool hpR_collect(hp_runtime *rt, hpR_thread *th, hp_gc_kind kind);
/* Stops every other attached thread at a safe point (true), or, when another thread got there
 * first, parks th until that collection is over (false). th must have captured its context. */
HP_INTERNAL bool hpR_stop_world(hp_runtime *rt, hpR_thread *th);
HP_INTERNAL void hpR_start_world(hp_runtime *rt);
/* Makes the state of a new thread and links it (waiting out a collection). */
HP_INTERNAL hpR_thread *hpR_thread_new(hp_runtime *rt);
HP_INTERNAL void hpR_thread_free(hpR_thread *th);
/* The calling thread's state in rt, or NULL if it is not attached. */
HP_INTERNAL hpR_thread *hpR_self(hp_runtime *rt);
/* Gives back every thread's TLAB remainder (filled), so that eden is parsable. */
HP_INTERNAL void hpR_retire_tlabs(hp_runtime *rt);
/* Whether the old generation has grown enough for a major collection. */
HP_INTERNAL bool hpR_major_due(hp_runtime *rt);

#endif
