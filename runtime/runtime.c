/* runtime/runtime.c -- runtimes and threads, collections with their statistics, events and
 * log lines. */
#include "runtime/runtime.h"
#include "runtime/os.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------
 *  Runtime and threads
 * ------------------------------------------------------------------------------------ */

hp_runtime *hp_runtime_new(const hp_config *cfg) {
  hp_config c;
  if (cfg) c = *cfg;
  else hp_config_default(&c);
  if (!hpR_config_check(&c)) { errno = EINVAL; return NULL; }
  hp_runtime *rt = hp_pool_alloc(sizeof *rt);
  if (rt == NULL) return NULL;
  memset(rt, 0, sizeof *rt);
  rt->cfg = c;
  pthread_mutex_init(&rt->lock, NULL);
  pthread_mutex_init(&rt->alloc_mu, NULL);
  pthread_mutex_init(&rt->world_mu, NULL);
  pthread_cond_init(&rt->cv_stopped, NULL);
  pthread_cond_init(&rt->cv_resume, NULL);
  rt->created_ns = hpS_now_ns();
  rt->stats.version = HP_GC_STATS_VERSION;
  if (!hpC_heap_init(rt)) { hp_pool_free(rt); errno = ENOMEM; return NULL; }
  rt->main = hpR_thread_new(rt);
  if (rt->main == NULL) { hpC_heap_destroy(rt); hp_pool_free(rt); errno = ENOMEM; return NULL; }
  return rt;
}

void hp_runtime_destroy(hp_runtime *rt) {
  if (rt == NULL) return;
  hpC_heap_destroy(rt);
  for (hpR_thread *th = rt->threads, *n; th; th = n) { n = th->next; hpR_thread_free(th); }
  hpC_vec_free(&rt->roots);
  hpC_vec_free(&rt->ranges);
  hpC_vec_free(&rt->pins);
  hp_pool_free(rt->callbacks);
  pthread_mutex_destroy(&rt->lock);
  pthread_mutex_destroy(&rt->alloc_mu);
  pthread_mutex_destroy(&rt->world_mu);
  pthread_cond_destroy(&rt->cv_stopped);
  pthread_cond_destroy(&rt->cv_resume);
  hp_pool_free(rt);
}

hp_thread *hp_main_thread(hp_runtime *rt) { return &rt->main->pub; }
hp_runtime *hp_thread_runtime(hp_thread *t) { return hpR_thread_of(t)->rt; }

void hp_set_oom_handler(hp_runtime *rt, hp_oom_fn fn, void *data) { rt->oom = fn; rt->oom_data = data; }
void hp_set_gc_event_handler(hp_runtime *rt, hp_gc_event_fn fn, void *data) {
  rt->on_event = fn;
  rt->event_data = data;
}

static int cmp_tlab(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

void hpR_retire_tlabs(hp_runtime *rt) {
  hpC_heap *h = &rt->heap;
  for (hpR_thread *th = rt->threads; th; th = th->next) {
    hp_thread *t = &th->pub;
    if (t->tlab_end > t->tlab_cur) hpC_fill((void *)t->tlab_cur, t->tlab_end - t->tlab_cur);
    hp_counter_add(th->allocated, t->tlab_cur - th->tlab_lo);
    t->tlab_cur = t->tlab_end = th->tlab_lo = 0;
    /* What the thread's barrier remembered, and the TLABs it took, go to the heap. */
    for (size_t i = 0; i < th->remset.len; i++) hpC_vec_push(&h->remset, th->remset.items[i]);
    for (size_t i = 0; i < th->tlabs.len; i++) hpC_vec_push(&h->tlabs, th->tlabs.items[i]);
    th->remset.len = th->tlabs.len = 0;
  }
  if (h->tlabs.len > 2) qsort(h->tlabs.items, h->tlabs.len / 2, 2 * sizeof(uintptr_t), cmp_tlab);
  hpC_eden_sync(h);
}

/* ------------------------------------------------------------------------------------
 *  Collections
 * ------------------------------------------------------------------------------------ */

bool hpR_major_due(hp_runtime *rt) {
  hpC_heap *h = &rt->heap;
  if (h->old_bytes >= h->major_threshold) return true;
  return rt->cfg.heap_limit && hpC_heap_size(rt) >= rt->cfg.heap_limit;
}

static unsigned pause_bucket(uint64_t ns) {
  if (ns < 1000) return 0;
  double b = 8.0 * log2((double)ns / 1000.0);
  unsigned i = (unsigned)b;
  return i < HP_PAUSE_BUCKETS ? i : HP_PAUSE_BUCKETS - 1;
}

uint64_t hp_gc_pause_quantile(const struct hp_gc_pause_stats *p, double q) {
  if (p->count == 0) return 0;
  uint64_t rank = (uint64_t)ceil(q * (double)p->count);
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < HP_PAUSE_BUCKETS; i++) {
    seen += p->histogram[i];
    if (seen >= rank) {
      uint64_t upper = (uint64_t)(1000.0 * exp2((double)(i + 1) / 8.0));
      return upper < p->max_ns ? upper : p->max_ns;
    }
  }
  return p->max_ns;
}

static void record_pause(struct hp_gc_pause_stats *p, uint64_t ns) {
  p->count++;
  p->total_ns += ns;
  p->last_ns = ns;
  if (ns > p->max_ns) p->max_ns = ns;
  p->histogram[pause_bucket(ns)]++;
}

static size_t heap_in_use(hp_runtime *rt) {
  hpC_heap *h = &rt->heap;
  return hpC_space_used(&h->eden) + hpC_space_used(&h->from) + h->pinned_bytes + h->old_bytes;
}

/* Set while this thread runs a collection (for the calls an event handler may make). */
static __thread bool in_collection;

bool hpR_collect(hp_runtime *rt, hpR_thread *th, hp_gc_kind kind) {
  hp_check_api(!in_collection, "hp: a collection was requested during a collection "
                               "(from a trace function or an event handler?)");
  uint64_t t0 = hpS_now_ns();
  hpR_capture(th);
  if (!hpR_stop_world(rt, th)) {                       /* joined another thread's collection */
    th->captured = false;
    return false;
  }
  in_collection = true;
  hpR_retire_tlabs(rt);
  struct hp_gc_stats *st = &rt->stats;
  uint64_t number = (kind == HP_GC_MINOR ? st->minor_count : st->major_count) + 1;
  size_t before = heap_in_use(rt);
  hp_gc_event ev = { .kind = kind, .end = false, .number = number, .heap_before = before };
  if (rt->on_event) rt->on_event(rt, &ev, rt->event_data);
  if (rt->cfg.verify >= 2) hpC_verify(rt, "before a collection");

  hpC_cycle cy = { 0 };
  if (kind == HP_GC_MINOR) hpC_minor(rt, false, &cy);
  else hpC_major(rt, &cy);

  if (rt->cfg.verify >= 1 || HP_DEBUG >= 3) hpC_verify(rt, "after a collection");   /* tier 3 */
  uint64_t pause = hpS_now_ns() - t0;
  if (kind == HP_GC_MINOR) { st->minor_count++; record_pause(&st->minor, pause); }
  else { st->major_count++; record_pause(&st->major, pause); }
  st->gc_ns += pause;
  st->bytes_copied += cy.copied;
  st->bytes_promoted += cy.promoted;
  st->bytes_pinned += cy.pinned;
  st->objects_freed += cy.freed_objects;
  size_t after = heap_in_use(rt);
  ev.end = true;
  ev.pause_ns = pause;
  ev.heap_after = after;
  ev.promoted = cy.promoted;
  ev.copied = cy.copied;
  if (rt->cfg.gc_log)
    hpR_warn("[hp gc] %s #%llu pause %.3f ms, heap %zuK -> %zuK (committed %zuK), copied %zuK, promoted %zuK%s",
             kind == HP_GC_MINOR ? "minor" : "major", (unsigned long long)number, (double)pause / 1e6,
             before >> 10, after >> 10, hpC_heap_size(rt) >> 10, cy.copied >> 10, cy.promoted >> 10,
             kind == HP_GC_MAJOR ? "" : "");
  if (rt->on_event) rt->on_event(rt, &ev, rt->event_data);
  rt->last_kind = kind;
  /* Collecting for an allocation: take the buffer before the others resume (collect_for),
   * unless the heap is over its limit, where eden must not fill again (try_alloc). */
  if (th->refill_need && !(rt->cfg.heap_limit && hpC_heap_size(rt) > rt->cfg.heap_limit))
    (void)hpC_tlab_refill(rt, th, th->refill_need);
  in_collection = false;
  hpR_start_world(rt);
  th->captured = false;
  return true;
}

int hp_collect(hp_thread *t, hp_gc_kind kind) {
  hp_check_api(kind == HP_GC_MINOR || kind == HP_GC_MAJOR, "hp: hp_collect: unknown kind %d", (int)kind);
  hpR_thread *th = hpR_thread_of(t);
  /* Joining another thread's collection does for a minor request, and for a major one if
   * that collection was major too. */
  while (!hpR_collect(th->rt, th, kind) && kind == HP_GC_MAJOR && th->rt->last_kind != HP_GC_MAJOR) {}
  return 0;
}

/* ------------------------------------------------------------------------------------
 *  Statistics
 * ------------------------------------------------------------------------------------ */

/* Reads the statistics with no collection running (or from inside one, for an event
 * handler). */
static void read_stats(hp_runtime *rt, struct hp_gc_stats *out) {
  *out = rt->stats;
  hpC_heap *h = &rt->heap;
  uint64_t allocated = rt->bytes_allocated;
  pthread_t me = pthread_self();
  for (hpR_thread *th = rt->threads; th; th = th->next) {
    allocated += hp_counter_get(th->allocated);
    /* The caller's own buffer counts too; other threads' count once they retire theirs. */
    if (pthread_equal(th->self, me)) allocated += th->pub.tlab_cur - th->tlab_lo;
  }
  out->bytes_allocated = allocated;
  out->young_live = h->young_live;
  out->old_live = h->old_object_bytes;
  out->old_live_after_major = h->old_live_after_major;
  out->heap_committed = hpC_heap_size(rt);
  out->heap_resident = hpS_resident((void *)h->young_lo, h->young_hi - h->young_lo) + h->old_bytes;
  out->pinned_objects = h->pinned.len;
  out->pinned_held = h->pinned_bytes;
  uintptr_t last_page = 0;
  for (size_t i = 0; i < h->pinned.len; i++) {
    uintptr_t lo = h->pinned.items[i] >> HPP_PAGE_SHIFT;
    uintptr_t hi = (h->pinned.items[i] + hpC_bytes(*(uint64_t *)h->pinned.items[i]) - 1) >> HPP_PAGE_SHIFT;
    if (lo <= last_page && last_page != 0) lo = last_page + 1;
    if (hi >= lo) out->pinned_pages += hi - lo + 1;
    if (hi > last_page) last_page = hi;
  }
  out->tenure_age = h->tenure;
  out->minor.p50_ns = hp_gc_pause_quantile(&out->minor, 0.5);
  out->minor.p99_ns = hp_gc_pause_quantile(&out->minor, 0.99);
  out->major.p50_ns = hp_gc_pause_quantile(&out->major, 0.5);
  out->major.p99_ns = hp_gc_pause_quantile(&out->major, 0.99);
  out->total_ns = hpS_now_ns() - rt->created_ns;
}

/* An attached, running caller needs no waiting: no collection can run until it stops. Any
 * other caller waits for a collection under way to end (it is not one that the collection
 * waits for, so this cannot deadlock), and holds world_mu so that none starts meanwhile. */
void hp_gc_stats(hp_runtime *rt, struct hp_gc_stats *out) {
  if (in_collection) { read_stats(rt, out); return; }
  hpR_thread *self = hpR_self(rt);
  bool running = self != NULL && self->state == HPR_RUNNING;
  if (running) hp_safepoint_slow(&self->pub);          /* take part in one that waits for us */
  /* world_mu either way: read_stats walks the thread list, which attach and detach change
   * (and free) under it. A running caller may hold it: a collector waiting for this thread
   * waits in pthread_cond_wait, without it. */
  pthread_mutex_lock(&rt->world_mu);
  if (!running)
    while (rt->stopping) pthread_cond_wait(&rt->cv_resume, &rt->world_mu);
  pthread_mutex_lock(&rt->alloc_mu);
  read_stats(rt, out);
  pthread_mutex_unlock(&rt->alloc_mu);
  pthread_mutex_unlock(&rt->world_mu);
}

size_t hp_verify_heap(hp_runtime *rt) {
  if (in_collection) return hpC_verify(rt, "(hp_verify_heap)");
  hpR_thread *th = hpR_self(rt);
  hp_check_api(th != NULL, "hp: hp_verify_heap from a thread not attached to the runtime");
  hpR_capture(th);
  while (!hpR_stop_world(rt, th)) {}
  in_collection = true;
  hpR_retire_tlabs(rt);
  size_t n = hpC_verify(rt, "(hp_verify_heap)");
  in_collection = false;
  hpR_start_world(rt);
  th->captured = false;
  return n;
}

static void print_pauses(FILE *f, const char *name, const struct hp_gc_pause_stats *p) {
  fprintf(f, "%s: %llu collections, pause total %.3f ms, last %.3f ms, max %.3f ms, p50 %.3f ms, p99 %.3f ms\n",
          name, (unsigned long long)p->count, (double)p->total_ns / 1e6, (double)p->last_ns / 1e6,
          (double)p->max_ns / 1e6, (double)p->p50_ns / 1e6, (double)p->p99_ns / 1e6);
}

void hp_gc_stats_print(hp_runtime *rt, void *out) {
  FILE *f = out ? out : stderr;
  struct hp_gc_stats s;
  hp_gc_stats(rt, &s);
  print_pauses(f, "minor", &s.minor);
  print_pauses(f, "major", &s.major);
  fprintf(f, "allocated %llu bytes (%llu large); copied %llu, promoted %llu; old live %llu, "
          "young live %llu; committed %llu; tenure age %u; GC time %.1f%% of %.3f s\n",
          (unsigned long long)s.bytes_allocated, (unsigned long long)s.bytes_allocated_large,
          (unsigned long long)s.bytes_copied, (unsigned long long)s.bytes_promoted,
          (unsigned long long)s.old_live, (unsigned long long)s.young_live,
          (unsigned long long)s.heap_committed, s.tenure_age,
          s.total_ns ? 100.0 * (double)s.gc_ns / (double)s.total_ns : 0.0, (double)s.total_ns / 1e9);
}
