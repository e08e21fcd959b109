/* gc/mutator.c -- the collector's mutators: attach and detach, safepoints, blocking regions, and
 * stopping the world for a collection.
 *
 * The protocol (all state under world_mu):
 *   - An attached thread is RUNNING, PARKED (waiting at a safe point for a collection to end)
 *     or BLOCKED (in a blocking region, or detaching). nrunning counts the RUNNING ones.
 *   - A thread that wants a collection sets `stopping`, raises every thread's safepoint flag,
 *     and waits until it is the only RUNNING thread. It collects with world_mu released, then
 *     clears `stopping` and wakes everyone (cv_resume).
 *   - A thread that wants a collection while another one is stopping the world parks instead,
 *     and is done when that collection is: two requests at once give one collection and never
 *     a deadlock, since nobody waits for world_mu while holding anything a collector needs.
 *   - Before a thread stops running it captures its registers and innermost frame
 *     (hpC_capture) in a frame that stays live while it is stopped, for the conservative scan.
 *   - A BLOCKED thread does not hold up a collection. Leaving the region waits while one runs.
 * The safepoint flag is the only thing a running thread reads without the mutex: a relaxed
 * load in hp_safepoint, an inline check (hp.h). Threads that allocate poll in hp_new's slow
 * path, that is at least once per TLAB.
 *
 * Cheap stops. A minor collection of a small eden lasts tens of microseconds, about what it
 * costs to put a thread to sleep on a condition variable and wake it again; so both waits
 * of the protocol spin first, with world_mu released, for at most stop_spin_us:
 *   - the collector, until nrunning falls to 1 (the others reach their safe points within
 *     one TLAB's worth of allocation);
 *   - a parked thread, until `stopping` is cleared (the collection is over).
 * Only then do they sleep (cv_stopped, cv_resume: one broadcast wakes every sleeper). A spin
 * runs only where a core is free for it: at most ncpus - 1 parked threads spin at once
 * (`spinners`; the collector has the remaining core), and the collector does not spin
 * while more threads must reach a safe point than there are other cores, since spinning
 * would take the core one of them needs. With one core nobody spins. Spins that time out
 * shorten the next ones (spin_unlocked). `stopping` and
 * `nrunning` are written under world_mu with release stores, so that a spinner may read
 * them without it; what it sees is checked again under world_mu.
 */
#include "gc/collector.h"
#include "pools/platform/atomic.h"
#include "pools/platform/os.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static void set_flags(hp_runtime *rt, int v) {
  for (hpC_mutator *th = rt->threads; th; th = th->next) hpS_int_store(&th->pub.safepoint, v, memory_order_release);
}

/* nrunning and stopping change under world_mu, with release stores for the spinners. */
static void set_running(hp_runtime *rt, unsigned n) { hpS_uint_store(&rt->nrunning, n, memory_order_release); }
static void set_stopping(hp_runtime *rt, bool v) { hpS_bool_store(&rt->stopping, v, memory_order_release); }

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Spins, with world_mu released, while the running count (`stopping` if is_bool) is above
 * `bound`, for at most spin_us. world_mu held on entry and on return; the caller checks
 * again under it. The budget adapts: a spin that times out halves it (down to a sixteenth
 * of stop_spin_us), one that succeeds adds a quarter back: on a machine whose other cores
 * are busy with other processes, the thread waited for is not running and spinning only
 * takes a core from it. */
static void spin_unlocked(hp_runtime *rt, bool is_bool, unsigned bound) {
  uint64_t budget = rt->spin_us ? rt->spin_us : rt->cfg.stop_spin_us;
  pthread_mutex_unlock(&rt->world_mu);
  uint64_t deadline = 0;
  bool done = false;
  for (unsigned i = 0;; i++) {
    unsigned v = is_bool ? hpS_bool_load(&rt->stopping, memory_order_acquire)
                         : hpS_uint_load(&rt->nrunning, memory_order_acquire);
    if (v <= bound) { done = true; break; }
    if ((i & 63) == 0) {                               /* the clock every 64 rounds */
      uint64_t now = hpS_now_ns();
      if (deadline == 0) deadline = now + budget * 1000;
      else if (now >= deadline) break;
    }
    cpu_relax();
  }
  pthread_mutex_lock(&rt->world_mu);
  unsigned max = rt->cfg.stop_spin_us, min = max / 16 ? max / 16 : 1;
  unsigned b = rt->spin_us ? rt->spin_us : max;
  b = done ? b + (max / 4 ? max / 4 : 1) : b / 2;
  rt->spin_us = b > max ? max : b < min ? min : b;
}

/* Waits until no collection is under way (a spin, then cv_resume). world_mu held. The
 * collector has a core; at most ncpus - 1 waiters spin, one on each other core. */
static void wait_resume_locked(hp_runtime *rt) {
  if (rt->stopping && rt->cfg.stop_spin_us && rt->spinners + 1 < rt->ncpus) {
    rt->spinners++;
    spin_unlocked(rt, true, 0);
    rt->spinners--;
  }
  while (rt->stopping) pthread_cond_wait(&rt->cv_resume, &rt->world_mu);
}

/* Parks th until the collection under way is over. world_mu held. */
static void park_locked(hp_runtime *rt, hpC_mutator *th) {
  th->state = HPC_PARKED;
  set_running(rt, rt->nrunning - 1);
  pthread_cond_broadcast(&rt->cv_stopped);
  /* Not "until this epoch ends": when one collection follows another before we wake, the
   * second collector counted us as stopped already, so we must stay stopped for it too. */
  wait_resume_locked(rt);
  th->state = HPC_RUNNING;
  set_running(rt, rt->nrunning + 1);
}

hpC_mutator *hpC_mutator_self(hp_runtime *rt) {
  pthread_t me = pthread_self();
  pthread_mutex_lock(&rt->world_mu);
  hpC_mutator *th = rt->threads;
  while (th && !pthread_equal(th->self, me)) th = th->next;
  pthread_mutex_unlock(&rt->world_mu);
  return th;
}

bool hpC_stop_world(hp_runtime *rt, hpC_mutator *th) {
  hp_assert(th->captured && th->state == HPC_RUNNING);
  pthread_mutex_lock(&rt->world_mu);
  if (rt->stopping) {                                  /* someone else is collecting: join it */
    park_locked(rt, th);
    pthread_mutex_unlock(&rt->world_mu);
    return false;
  }
  uint64_t t0 = hpS_now_ns();
  set_stopping(rt, true);
  rt->epoch++;
  rt->collector = th;
  set_flags(rt, 1);
  rt->stop_waited = rt->nrunning - 1;                  /* for the GC log */
  /* Spin only while the threads to wait for have a core each besides ours. */
  if (rt->nrunning > 1 && rt->nrunning <= rt->ncpus && rt->cfg.stop_spin_us) spin_unlocked(rt, false, 1);
  hpC_stall s;
  hpC_stall_begin(&s);
  while (rt->nrunning > 1) hpC_stall_wait(rt, th, &s);   /* with its deadline (gc/stall.c) */
  rt->stopped_ns = hpS_now_ns();
  uint64_t stop = rt->stopped_ns - t0;
  struct hp_gc_stats *st = &rt->stats;
  st->stop_ns_total += stop;
  st->stop_ns_last = stop;
  if (stop > st->stop_ns_max) st->stop_ns_max = stop;
  pthread_mutex_unlock(&rt->world_mu);
  return true;
}

void hpC_start_world(hp_runtime *rt) {
  pthread_mutex_lock(&rt->world_mu);
  set_flags(rt, 0);
  set_stopping(rt, false);
  rt->collector = NULL;
  pthread_cond_broadcast(&rt->cv_resume);
  pthread_mutex_unlock(&rt->world_mu);
}

/* The check of the calls that touch managed objects: none may come from inside a blocking
 * region, where a collection may run at any moment (and the thread does not count as running:
 * taking part in one from there would corrupt the count). */
#define check_running(th, call)                                                             \
  hp_check_api((th)->state != HPC_BLOCKED, "hp: %s inside a blocking region (thread %d \"%s\"): "   \
               "no managed object may be touched between hp_blocking_enter and hp_blocking_leave", \
               call, (th)->tid, (th)->name)

void hpC_check_not_blocked(hpC_mutator *th, const char *call) { check_running(th, call); }

void hp_safepoint_slow(hp_thread *t) {
  hpC_mutator *th = hpC_mutator_of(t);
  hp_runtime *rt = th->rt;
  check_running(th, "hp_safepoint");
  hpC_capture(th);
  pthread_mutex_lock(&rt->world_mu);
  if (rt->stopping && rt->collector != th) park_locked(rt, th);
  pthread_mutex_unlock(&rt->world_mu);
  th->captured = false;
}

/* The thread stops running: a collection may go on without it. world_mu not held. */
static void stop_running(hpC_mutator *th) {
  hp_runtime *rt = th->rt;
  pthread_mutex_lock(&rt->world_mu);
  th->state = HPC_BLOCKED;
  set_running(rt, rt->nrunning - 1);
  pthread_cond_broadcast(&rt->cv_stopped);
  pthread_mutex_unlock(&rt->world_mu);
}

void hpC_mutator_block(hpC_mutator *th) { stop_running(th); }
void hpC_mutator_unblock(hpC_mutator *th) { hp_blocking_leave(&th->pub); }

void hpC_mutator_poll(hpC_mutator *th) {
  hp_runtime *rt = th->rt;
  pthread_mutex_lock(&rt->world_mu);
  if (rt->stopping && rt->collector != th) park_locked(rt, th);
  pthread_mutex_unlock(&rt->world_mu);
}

/* The frame of hp_blocking_enter is gone once it returns, but the frames above it (the
 * caller's) are what must be scanned: scan_lo covers them. The embedder must not touch
 * managed objects inside the region, so the registers captured here stay right. */
void hp_blocking_enter(hp_thread *t) {
  hpC_mutator *th = hpC_mutator_of(t);
  hp_check_api(th->state == HPC_RUNNING, "hp: hp_blocking_enter: the thread is already in a blocking region");
#if HP_DEBUG >= 1
  /* Every hp_new of a non-empty body takes the slow path, which checks the state. */
  th->saved_large = t->large_object_size;
  t->large_object_size = 0;
#endif
  hpC_capture(th);
  stop_running(th);
}

void hp_blocking_leave(hp_thread *t) {
  hpC_mutator *th = hpC_mutator_of(t);
  hp_runtime *rt = th->rt;
  hp_check_api(th->state == HPC_BLOCKED, "hp: hp_blocking_leave without hp_blocking_enter");
  pthread_mutex_lock(&rt->world_mu);
  wait_resume_locked(rt);
  th->state = HPC_RUNNING;
  set_running(rt, rt->nrunning + 1);
  th->captured = false;
  pthread_mutex_unlock(&rt->world_mu);
#if HP_DEBUG >= 1
  t->large_object_size = th->saved_large;
#endif
}

/* An attached, running caller needs no waiting: no collection can run until it stops. Any
 * other caller waits for a collection under way to end (it is not one that the collection
 * waits for, so this cannot deadlock), and holds world_mu so that none starts meanwhile. */
void hpC_with_world_quiet(hp_runtime *rt, void (*fn)(hp_runtime *rt, void *arg), void *arg) {
  hpC_mutator *self = hpC_mutator_self(rt);
  bool running = self != NULL && self->state == HPC_RUNNING;
  if (running) hp_safepoint_slow(&self->pub);          /* take part in one that waits for us */
  /* world_mu either way: fn may walk the thread list, which attach and detach change (and
   * free) under it. A running caller may hold it: a collector waiting for this thread waits
   * in pthread_cond_wait, without it. */
  pthread_mutex_lock(&rt->world_mu);
  if (!running)
    while (rt->stopping) pthread_cond_wait(&rt->cv_resume, &rt->world_mu);
  pthread_mutex_lock(&rt->alloc_mu);
  fn(rt, arg);
  pthread_mutex_unlock(&rt->alloc_mu);
  pthread_mutex_unlock(&rt->world_mu);
}

/* ------------------------------------------------------------------------------------
 *  Attach and detach
 * ------------------------------------------------------------------------------------ */

/* The calling thread's mutators, one per runtime it is attached to, linked by own_next. The
 * key's value is the list too, so that a thread that exits attached runs on_thread_exit. */
static _Thread_local hpC_mutator *own;
static pthread_key_t own_key;
static pthread_once_t own_once = PTHREAD_ONCE_INIT;

static void on_thread_exit(void *list);
static void own_key_init(void) { hp_check(pthread_key_create(&own_key, on_thread_exit) == 0, "hp: no thread key left"); }

static void own_add(hpC_mutator *th) {
  pthread_once(&own_once, own_key_init);
  th->own_next = own;
  own = th;
  pthread_setspecific(own_key, own);
}

static void own_remove(hpC_mutator *th) {
  hpC_mutator **p = &own;
  while (*p && *p != th) p = &(*p)->own_next;
  if (*p) *p = th->own_next;
  pthread_once(&own_once, own_key_init);
  pthread_setspecific(own_key, own);
}

hpC_mutator *hpC_mutator_new(hp_runtime *rt, void *attached_at) {
  hpC_mutator *th = hp_pool_alloc(sizeof *th);
  if (th == NULL) return NULL;
  memset(th, 0, sizeof *th);
  th->rt = rt;
  th->pub.large_object_size = rt->cfg.large_object_size;
  th->pub.young_lo = rt->gens.young_lo;
  th->pub.young_size = hpC_young_size(&rt->gens);
  th->stress_countdown = rt->cfg.stress;
  th->stress_finish_countdown = rt->cfg.stress_finish;
  th->tlab_size = HPC_TLAB_SIZE;
  th->self = pthread_self();
  th->tid = (int)gettid();
  if (pthread_getname_np(th->self, th->name, sizeof th->name) != 0) th->name[0] = '\0';
  th->attached_at = attached_at;
  th->attach_count = 1;
  hpC_mutator_stack_init(th);
  pthread_mutex_lock(&rt->world_mu);
  while (rt->stopping) pthread_cond_wait(&rt->cv_resume, &rt->world_mu);
  th->state = HPC_RUNNING;
  /* The barrier logs while a cycle marks (the flag changes only with the world stopped). */
  th->pub.marking = atomic_load_explicit(&rt->gens.mk.phase, memory_order_relaxed) == HPC_MARKING;
  hpS_list_push(&rt->threads, th);
  set_running(rt, rt->nrunning + 1);
  pthread_mutex_unlock(&rt->world_mu);
  own_add(th);
  return th;
}

void hpC_mutator_free(hpC_mutator *th) {
  hp_pool_free(th->satb);
  if (pthread_equal(th->self, pthread_self())) own_remove(th);
  hpC_vec_free(&th->remset);
  hpC_vec_free(&th->tlabs);
  hp_pool_free(th->fin_new.items);
  hp_pool_free(th);
}

/* A thread attached already gets its handle again, with one more attach to undo: a thread
 * has one mutator per runtime, never two. */
hp_thread *hp_thread_attach(hp_runtime *rt) {
  for (hpC_mutator *m = own; m; m = m->own_next) {
    if (m->rt == rt) {
      m->attach_count++;
      return &m->pub;
    }
  }
  hpC_mutator *th = hpC_mutator_new(rt, __builtin_return_address(0));
  return th ? &th->pub : NULL;
}

/* Unlinks th, the calling thread's mutator, running or blocked, and frees it. */
static void unlink_mutator(hpC_mutator *th) {
  hp_runtime *rt = th->rt;
  if (th->state == HPC_RUNNING) {
    hpC_capture(th);                                   /* in case a collection scans us now */
    stop_running(th);
  }
  pthread_mutex_lock(&rt->world_mu);
  while (rt->stopping) pthread_cond_wait(&rt->cv_resume, &rt->world_mu);
  /* No collection can start while we hold world_mu: hand what the thread holds over. */
  hpC_tlab_retire(th);
  pthread_mutex_lock(&rt->alloc_mu);
  rt->bytes_allocated += hp_counter_get(th->allocated);
  hpC_mutator_hand_over(th);
  pthread_mutex_unlock(&rt->alloc_mu);
  hpC_barrier_thread_gone(th);                         /* its barrier log, to the marker */
  hpS_list_remove(&rt->threads, th);
  if (rt->main == th) rt->main = NULL;
  pthread_mutex_unlock(&rt->world_mu);
  hpC_mutator_free(th);
}

void hp_thread_detach(hp_thread *t) {
  hpC_mutator *th = hpC_mutator_of(t);
  hp_check_api(pthread_equal(th->self, pthread_self()),
               "hp: hp_thread_detach from thread %d of the handle of thread %d \"%s\": a thread detaches itself",
               (int)gettid(), th->tid, th->name);
  hp_check_api(th->state == HPC_RUNNING, "hp: hp_thread_detach inside a blocking region");
  if (--th->attach_count > 0) return;                  /* attached more than once */
  hp_check_api(t->frames == NULL, "hp: hp_thread_detach with shadow-stack frames still pushed");
  unlink_mutator(th);
}

/* The thread exits with mutators still attached (the key's destructor): each is detached, as
 * hp_thread_detach would, so that no collection waits for a thread that is gone. Its
 * shadow-stack frames, if any, were on the stack that is gone: they are dropped. */
static void on_thread_exit(void *list) {
  own = list;
  while (own != NULL) {
    hpC_mutator *th = own;
    if (HP_DEBUG >= 1) {
      char who[256];
      hpC_mutator_describe(th, who, sizeof who);
      hpS_warn("hp: %s exited while attached to runtime %p (%s%s): detached now; call hp_thread_detach before "
               "the thread ends", who, (void *)th->rt, th->state == HPC_BLOCKED ? "inside a blocking region" : "running",
               th->pub.frames ? ", with shadow-stack frames pushed" : "");
    }
    th->pub.frames = NULL;
    unlink_mutator(th);                                /* removes it from `own` */
  }
  pthread_setspecific(own_key, NULL);
}

/* ------------------------------------------------------------------------------------
 *  fork(): the child goes on with the forking thread alone
 * ------------------------------------------------------------------------------------
 * Before fork, the forking thread stops the world of each runtime as a collection would
 * (taking part first in one that waits for it) and holds it stopped with its three locks,
 * so the child's copy is consistent; the parent then lets go. In the child, the mutators of
 * every other thread -- gone there, and each stopped at a safe point or blocked -- are
 * handed over like a detach and forgotten, and the condition variables, which may count
 * waiters that do not exist in the child, are made anew. */

static pthread_mutex_t all_mu = PTHREAD_MUTEX_INITIALIZER;
static hp_runtime *all;                            /* every live runtime, by all_next */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static hpC_mutator *mine(hp_runtime *rt) {
  for (hpC_mutator *m = own; m; m = m->own_next)
    if (m->rt == rt) return m;
  return NULL;
}

/* Stops rt's world on behalf of the forking thread (attached or not) and keeps it stopped,
 * its locks held: every other thread is parked at a safe point or blocked, so nothing is half
 * done -- no object half written, no buffer taken and not yet recorded. */
static void hold(hp_runtime *rt) {
  hpC_mutator *self = mine(rt);
  bool running = self != NULL && self->state == HPC_RUNNING;
  if (running) hpC_capture(self);                    /* this frame is live until the fork */
  pthread_mutex_lock(&rt->world_mu);
  while (rt->stopping) {
    if (running) park_locked(rt, self);
    else pthread_cond_wait(&rt->cv_resume, &rt->world_mu);
  }
  set_stopping(rt, true);
  rt->collector = self;
  set_flags(rt, 1);
  hpC_stall s;
  hpC_stall_begin(&s);
  while (rt->nrunning > (running ? 1u : 0u)) hpC_stall_wait(rt, self, &s);
  pthread_mutex_lock(&rt->alloc_mu);
  pthread_mutex_lock(&rt->roots_mu);
}

static void release(hp_runtime *rt) {
  hpC_mutator *self = mine(rt);
  if (self != NULL) self->captured = false;
  set_flags(rt, 0);
  set_stopping(rt, false);
  rt->collector = NULL;
  pthread_cond_broadcast(&rt->cv_resume);
  pthread_mutex_unlock(&rt->roots_mu);
  pthread_mutex_unlock(&rt->alloc_mu);
  pthread_mutex_unlock(&rt->world_mu);
}

static void before_fork(void) {
  pthread_mutex_lock(&all_mu);
  for (hp_runtime *rt = all; rt; rt = rt->all_next) hold(rt);
}

static void after_fork_parent(void) {
  for (hp_runtime *rt = all; rt; rt = rt->all_next) release(rt);
  pthread_mutex_unlock(&all_mu);
}

static void after_fork_child(void) {
  pthread_t me = pthread_self();
  for (hp_runtime *rt = all; rt; rt = rt->all_next) {
    for (hpC_mutator *th = rt->threads, *n; th; th = n) {
      n = th->next;
      if (pthread_equal(th->self, me)) continue;
      hpC_tlab_retire(th);                             /* as hp_thread_detach would */
      rt->bytes_allocated += hp_counter_get(th->allocated);
      hpC_mutator_hand_over(th);
      if (th->state == HPC_RUNNING) rt->nrunning--;
      if (rt->main == th) rt->main = NULL;
      hpS_list_remove(&rt->threads, th);
      hpC_mutator_free(th);                            /* not ours: no `own` list to leave */
    }
    hpC_marker_forget(rt);                             /* the marker thread did not fork */
    rt->spinners = 0;                                  /* nor did any thread spinning to resume */
    pthread_cond_init(&rt->cv_resume, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rt->cv_stopped, &ca);
    pthread_condattr_destroy(&ca);
    release(rt);
  }
  pthread_mutex_unlock(&all_mu);
}

static void fork_init(void) {
  hp_check(pthread_atfork(before_fork, after_fork_parent, after_fork_child) == 0, "hp: pthread_atfork failed");
}

void hpC_runtime_register(hp_runtime *rt) {
  pthread_once(&fork_once, fork_init);
  pthread_mutex_lock(&all_mu);
  rt->all_next = all;
  rt->all_prev = NULL;
  if (all) all->all_prev = rt;
  all = rt;
  pthread_mutex_unlock(&all_mu);
}

void hpC_runtime_unregister(hp_runtime *rt) {
  pthread_mutex_lock(&all_mu);
  if (rt->all_prev) rt->all_prev->all_next = rt->all_next;
  else all = rt->all_next;
  if (rt->all_next) rt->all_next->all_prev = rt->all_prev;
  pthread_mutex_unlock(&all_mu);
}
