/* gc/finalize.c -- finalizers: registrations, what a collection does with those whose object
 * it did not reach (gc/weak.h, "Finalizers"), and the queue the embedder runs.
 *
 * A thread registers into its own buffer (hpC_mutator.fin_new, no lock), handed over to the
 * young and old lists when the world stops or the thread detaches; the lists change only then
 * (world stopped, or world_mu and alloc_mu held). The queue changes under rt->roots_mu
 * (hp_finalizers_run) or with the world stopped (a collection appends to it).
 */
#include "gc/collector.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static bool push(hpC_finvec *v, hpC_final x) {
  if (v->len == v->cap) {
    size_t cap = v->cap ? 2 * v->cap : 256;
    hpC_final *items = hp_pool_alloc(cap * sizeof *items);
    if (items == NULL) return false;
    if (v->len) memcpy(items, v->items, v->len * sizeof *items);
    hp_pool_free(v->items);
    v->items = items;
    v->cap = cap;
  }
  v->items[v->len++] = x;
  return true;
}

static void push_gc(hpC_finvec *v, hpC_final x) {
  hp_check(push(v, x), "hp: out of memory for the finalizer queue (%zu entries)", v->len);
}

void hpC_fin_roots(hpC_fin *f, hp_visit_fn visit, void *ctx) {
  for (size_t i = f->head; i < f->queue.len; i++) visit(&f->queue.items[i].obj, ctx);
}

/* Updates or queues the registrations of v; young: v is the young list (survivors that left
 * the young range move to the old one). */
static void scan_list(hpC_fin *f, hpC_finvec *v, hpC_generations *h, bool young) {
  size_t kept = 0;
  for (size_t i = 0; i < v->len; i++) {
    hpC_final r = v->items[i];
    void *np = hpC_weak_live(&h->weak, r.obj);
    if (np == NULL) {
      push_gc(&f->queue, r);
      f->queued++;
      continue;
    }
    r.obj = np;
    if (young && !hpC_is_young(h, np)) push_gc(&f->old, r);
    else v->items[kept++] = r;
  }
  v->len = kept;
}

bool hpC_fin_scan(hpC_fin *f, hpC_generations *h, bool major, hp_visit_fn visit, void *ctx) {
  size_t first = f->queue.len;
  scan_list(f, &f->young, h, !major);
  if (major) scan_list(f, &f->old, h, false);
  /* Kept alive only now: a registration reached only from another finalizable object is
   * queued in the same round (no order among them). */
  for (size_t i = first; i < f->queue.len; i++) visit(&f->queue.items[i].obj, ctx);
  return f->queue.len > first;
}

void hpC_fin_free(hpC_fin *f) {
  hp_pool_free(f->young.items);
  hp_pool_free(f->old.items);
  hp_pool_free(f->queue.items);
  memset(f, 0, sizeof *f);
}

/* ------------------------------------------------------------------------------------
 *  The API
 * ------------------------------------------------------------------------------------ */

void hpC_fin_hand_over(hpC_fin *f, hpC_generations *h, hpC_finvec *mine) {
  for (size_t i = 0; i < mine->len; i++)
    push_gc(hpC_is_young(h, mine->items[i].obj) ? &f->young : &f->old, mine->items[i]);
  mine->len = 0;
}

int hp_finalizer_register(hp_thread *t, void *obj, hp_finalizer_fn fn, void *data) {
  if (obj == NULL || fn == NULL) { errno = EINVAL; return -1; }
  if (!push(&hpC_mutator_of(t)->fin_new, (hpC_final){ obj, fn, data })) { errno = ENOMEM; return -1; }
  _Atomic bool *used = &hpC_mutator_of(t)->rt->gens.mk.finalizers;   /* gc/mark.h, [stw-weak] */
  if (!atomic_load_explicit(used, memory_order_relaxed)) atomic_store_explicit(used, true, memory_order_relaxed);
  return 0;
}

/* Takes up to n queued finalizers into out, under one lock; returns how many. */
static size_t take(hp_runtime *rt, hpC_final *out, size_t n) {
  hpC_fin *f = &rt->gens.fin;
  pthread_mutex_lock(&rt->roots_mu);
  size_t k = f->queue.len - f->head;
  if (k > n) k = n;
  if (k) memcpy(out, &f->queue.items[f->head], k * sizeof *out);
  f->head += k;
  if (f->head == f->queue.len) f->head = f->queue.len = 0;
  f->run += k;
  pthread_mutex_unlock(&rt->roots_mu);
  return k;
}

#define HPC_FIN_BATCH 32

size_t hp_finalizers_run(hp_thread *t, size_t max) {
  hp_runtime *rt = hpC_mutator_of(t)->rt;
  size_t n = 0;
  /* A batch is taken off the queue at once: its objects are rooted here, in a frame of their
   * own, until their finalizers have run (a finalizer may collect). */
  hpC_final batch[HPC_FIN_BATCH];
  void **slots[HPC_FIN_BATCH];
  for (size_t i = 0; i < HPC_FIN_BATCH; i++) slots[i] = &batch[i].obj;
  for (;;) {
    size_t want = max == 0 || max - n > HPC_FIN_BATCH ? HPC_FIN_BATCH : max - n;
    if (want == 0) break;
    size_t k = take(rt, batch, want);
    if (k == 0) break;
    hp_frame fr = { t->frames, k, slots };
    t->frames = &fr;
    for (size_t i = 0; i < k; i++) {
      void *obj = batch[i].obj;
      batch[i].obj = NULL;                  /* run: no longer held by the batch */
      HP_ROOTS(t, one, &obj);
      batch[i].fn(t, obj, batch[i].data);
      HP_UNROOT(t, one);
    }
    t->frames = fr.prev;
    n += k;
  }
  return n;
}

size_t hp_finalizers_pending(hp_runtime *rt) {
  pthread_mutex_lock(&rt->roots_mu);
  size_t n = rt->gens.fin.queue.len - rt->gens.fin.head;
  pthread_mutex_unlock(&rt->roots_mu);
  return n;
}

/* At hp_runtime_destroy with cfg.finalize_on_destroy: the queued finalizers, then those of
 * the objects still registered (the program is ending: they will not become unreachable),
 * then whatever those registered, for a bounded number of rounds. */
void hpC_fin_destroy(hp_runtime *rt, hp_thread *t) {
  hpC_fin *f = &rt->gens.fin;
  for (int round = 0; round < 16; round++) {
    hp_finalizers_run(t, 0);
    pthread_mutex_lock(&rt->roots_mu);
    for (hpC_mutator *th = rt->threads; th; th = th->next) hpC_fin_hand_over(f, &rt->gens, &th->fin_new);
    size_t moved = 0;
    hpC_finvec *lists[2] = { &f->young, &f->old };
    for (int l = 0; l < 2; l++) {
      for (size_t i = 0; i < lists[l]->len; i++) {
        push_gc(&f->queue, lists[l]->items[i]);
        moved++;
      }
      lists[l]->len = 0;
    }
    pthread_mutex_unlock(&rt->roots_mu);
    if (moved == 0 && f->head == f->queue.len) break;
  }
}
