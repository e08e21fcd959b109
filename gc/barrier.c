/* gc/barrier.c -- the snapshot-at-the-beginning part of the write barrier, and its logs.
 *
 * While a concurrent cycle marks, hp_write (include/hp.h) takes this path: it loads the
 * slot's old value, logs it if it names an old object (a young one is not part of the cycle,
 * gc/mark.h [black-alloc]), stores with release order (so that the marker, which loads slots
 * with acquire, sees the stored object's header and page), and then does what the
 * generational barrier does. That keeps [satb]: a snapshot edge cut by a store leaves its
 * target in a log.
 *
 * Each thread logs into a buffer of its own (HPC_SATB_LOG entries), with no atomic
 * read-modify-write; a full buffer is handed to the marker under log_mu (one lock per
 * HPC_SATB_LOG stores that log) and a fresh one taken. The finish pause takes every
 * thread's partial buffer. Two threads racing on one slot both load a value from before
 * either store, so the snapshot value is logged whichever store wins.
 */
#include "gc/collector.h"
#include "pools/platform/atomic.h"

/* Hands th's log (of `entries` real entries) to the marker, and takes a fresh one. */
static void flush(hpC_mutator *th, size_t entries) {
  hpC_mark *mk = &th->rt->gens.mk;
  if (th->satb != NULL && th->satb_len > 0) {
    pthread_mutex_lock(&mk->log_mu);
    hpC_vec_push(&mk->logs, (uintptr_t)th->satb);
    atomic_store_explicit(&mk->logged, atomic_load_explicit(&mk->logged, memory_order_relaxed) + entries,
                          memory_order_relaxed);
    pthread_mutex_unlock(&mk->log_mu);
    th->satb = NULL;
  }
  if (th->satb == NULL) {
    th->satb = hp_pool_alloc(HPC_SATB_LOG * sizeof(uintptr_t));
    hp_check(th->satb != NULL, "hp: out of memory for the write barrier's log");
  }
  th->satb_len = 0;
}

void hp_write_marking(hp_thread *t, void *obj, void *slot, void *value) {
  hpC_mutator *th = hpC_mutator_of(t);
  void *old = hpS_ptr_load((void **)slot, memory_order_acquire);
  if (hpP_contains(old) && (uintptr_t)old - t->young_lo >= t->young_size) {
    if (hp_unlikely(th->satb == NULL || th->satb_len == HPC_SATB_LOG)) flush(th, th->satb_len);
    th->satb[th->satb_len++] = (uintptr_t)old;
  }
  hpS_ptr_store((void **)slot, value, memory_order_release);
  if ((uintptr_t)value - t->young_lo < t->young_size && (uintptr_t)obj - t->young_lo >= t->young_size)
    hp_write_slow(t, obj, slot);
}

void hpC_barrier_set(hp_runtime *rt, bool on) {
  for (hpC_mutator *th = rt->threads; th; th = th->next) hpS_int_store(&th->pub.marking, on, memory_order_relaxed);
}

bool hpC_barrier_take(hp_runtime *rt, bool concurrent) {
  hpC_mark *mk = &rt->gens.mk;
  pthread_mutex_lock(&mk->log_mu);
  hpC_vec logs = mk->logs;
  mk->logs = (hpC_vec){ 0 };
  pthread_mutex_unlock(&mk->log_mu);
  for (size_t i = 0; i < logs.len; i++) {
    uintptr_t *log = (uintptr_t *)logs.items[i];
    hpC_mark_values(&rt->gens, log, HPC_SATB_LOG, concurrent);
    hp_pool_free(log);
  }
  hpC_vec_free(&logs);
  return logs.len > 0;
}

void hpC_barrier_drain(hp_runtime *rt) {
  hpC_mark *mk = &rt->gens.mk;
  for (hpC_mutator *th = rt->threads; th; th = th->next) {
    if (th->satb_len == 0) continue;
    hpC_mark_values(&rt->gens, th->satb, th->satb_len, false);
    atomic_store_explicit(&mk->logged, atomic_load_explicit(&mk->logged, memory_order_relaxed) + th->satb_len,
                          memory_order_relaxed);
    th->satb_len = 0;
  }
  hpC_barrier_take(rt, false);
}

void hpC_barrier_thread_gone(hpC_mutator *th) {
  if (th->satb_len > 0) {
    /* Its entries go to the marker like a full log: pad with NULL, which marks nothing. */
    size_t n = th->satb_len;
    for (size_t i = n; i < HPC_SATB_LOG; i++) th->satb[i] = 0;
    th->satb_len = HPC_SATB_LOG;
    flush(th, n);
  }
  hp_pool_free(th->satb);
  th->satb = NULL;
  th->satb_len = 0;
}
