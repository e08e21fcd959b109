/* gc/stall.c -- when stopping the world takes too long, and how threads are named in
 * messages.
 *
 * A collection waits for every other attached thread to reach a safe point. A thread that
 * waits for something (a lock, a join, a sleep, a read) outside hp_blocking_enter/leave,
 * or computes for long without hp_safepoint, holds every collection up -- with no sign of
 * why, since the waiting thread is inside hp. So the wait has a deadline (stop_deadline_ms,
 * default 5 s): past it, the threads that have not stopped are printed once on stderr, with
 * how long the stop has waited and where each thread was attached; then the wait goes on,
 * or hp aborts (stop_deadline_abort). 0 waits silently, as before.
 * The deadline is kept apart from how the wait itself is done: hpC_stop_world calls
 * hpC_stall_wait where it would wait on cv_stopped, whatever it does between waits.
 * Nothing here allocates; it runs with world_mu held.
 */
#include "gc/collector.h"
#include "pools/platform/os.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>

void hpC_mutator_describe(const hpC_mutator *th, char *buf, size_t size) {
  Dl_info info;
  if (th->attached_at != NULL && dladdr(th->attached_at, &info) != 0 && info.dli_fname != NULL) {
    if (info.dli_sname != NULL)
      snprintf(buf, size, "thread %d \"%s\" (attached at %p: %s+%#lx in %s)", th->tid, th->name, th->attached_at,
               info.dli_sname, (unsigned long)((uintptr_t)th->attached_at - (uintptr_t)info.dli_saddr), info.dli_fname);
    else
      snprintf(buf, size, "thread %d \"%s\" (attached at %p: %s+%#lx)", th->tid, th->name, th->attached_at,
               info.dli_fname, (unsigned long)((uintptr_t)th->attached_at - (uintptr_t)info.dli_fbase));
  } else {
    snprintf(buf, size, "thread %d \"%s\" (attached at %p)", th->tid, th->name, th->attached_at);
  }
}

void hpC_stall_begin(hpC_stall *s) {
  s->t0 = hpS_now_ns();
  s->reported = false;
}

static void report(hp_runtime *rt, hpC_mutator *collector, hpC_stall *s) {
  char who[256] = "a thread that is not attached (fork)";
  double waited = (double)(hpS_now_ns() - s->t0) / 1e9;
  if (collector != NULL) hpC_mutator_describe(collector, who, sizeof who);
  hpS_warn("hp: a collection requested by %s has waited %.3f s for %u thread%s to reach a safe point:", who,
           waited, rt->nrunning - 1, rt->nrunning - 1 == 1 ? "" : "s");
  for (hpC_mutator *th = rt->threads; th; th = th->next) {
    if (th == collector || th->state != HPC_RUNNING) continue;
    hpC_mutator_describe(th, who, sizeof who);
    hpS_warn("hp:   %s: running for %.3f s since the stop began, not at a safe point", who, waited);
  }
  hpS_warn("hp: a thread that waits (lock, join, sleep, I/O) outside hp_blocking_enter/hp_blocking_leave, or "
           "runs long without hp_safepoint, holds up every collection; %s (stop_deadline_ms = %u)",
           rt->cfg.stop_deadline_abort ? "aborting" : "still waiting", rt->cfg.stop_deadline_ms);
  s->reported = true;
  if (rt->cfg.stop_deadline_abort)
    hpS_fatal("hp: the world stop passed its deadline (%u ms) with %u thread%s not at a safe point",
              rt->cfg.stop_deadline_ms, rt->nrunning - 1, rt->nrunning - 1 == 1 ? "" : "s");
}

void hpC_stall_wait(hp_runtime *rt, hpC_mutator *th, hpC_stall *s) {
  if (rt->cfg.stop_deadline_ms == 0 || s->reported) {
    pthread_cond_wait(&rt->cv_stopped, &rt->world_mu);
    return;
  }
  uint64_t deadline = s->t0 + (uint64_t)rt->cfg.stop_deadline_ms * 1000000u;
  struct timespec ts = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };
  /* cv_stopped waits on CLOCK_MONOTONIC, hpS_now_ns's clock (hpC_runtime_init). */
  if (pthread_cond_timedwait(&rt->cv_stopped, &rt->world_mu, &ts) == ETIMEDOUT && rt->nrunning > 1 &&
      hpS_now_ns() >= deadline)
    report(rt, th, s);
}
