/* gc/roots.c -- the roots: shadow-stack frames of every thread, registered global slots and
 * ranges, and the embedder's root callbacks; and the write barrier's slow path, which keeps
 * the remembered set (invariant [remembered] in gc/gc.h). */
#include "gc/collector.h"
#include "pools/platform/atomic.h"

#include <errno.h>
#include <pthread.h>

/* ------------------------------------------------------------------------------------
 *  Registries
 * ------------------------------------------------------------------------------------ */

/* The registries change under rt->roots_mu; a collection reads them with the world stopped,
 * that is while no attached thread is inside these functions. A registration that finds no
 * memory for its table returns -1 with ENOMEM and changes nothing. */
static int vec_add(hp_runtime *rt, hpC_vec *v, uintptr_t x) {
  pthread_mutex_lock(&rt->roots_mu);
  bool ok = hpC_vec_try_push(v, x);
  pthread_mutex_unlock(&rt->roots_mu);
  if (ok) return 0;
  errno = ENOMEM;
  return -1;
}

static int vec_remove(hp_runtime *rt, hpC_vec *v, uintptr_t x) {
  pthread_mutex_lock(&rt->roots_mu);
  bool found = hpC_vec_remove(v, x);
  pthread_mutex_unlock(&rt->roots_mu);
  if (found) return 0;
  errno = ENOENT;
  return -1;
}

int hp_root_add(hp_runtime *rt, void **slot) {
  hp_check_api(slot != NULL, "hp: hp_root_add(NULL)");
  return vec_add(rt, &rt->roots, (uintptr_t)slot);
}

int hp_root_remove(hp_runtime *rt, void **slot) { return vec_remove(rt, &rt->roots, (uintptr_t)slot); }

int hp_root_range_add(hp_runtime *rt, hp_root_range *range) {
  hp_check_api(range != NULL, "hp: hp_root_range_add(NULL)");
  return vec_add(rt, &rt->ranges, (uintptr_t)range);
}

int hp_root_range_remove(hp_runtime *rt, hp_root_range *range) {
  return vec_remove(rt, &rt->ranges, (uintptr_t)range);
}

int hp_root_callback_add(hp_runtime *rt, hp_roots_fn fn, void *data) {
  hp_check_api(fn != NULL, "hp: hp_root_callback_add(NULL)");
  pthread_mutex_lock(&rt->roots_mu);
  if (rt->ncallbacks == rt->callbacks_cap) {
    size_t cap = rt->callbacks_cap ? rt->callbacks_cap * 2 : 8;
    hpC_callback *c = hp_pool_alloc(cap * sizeof *c);
    if (c == NULL) { pthread_mutex_unlock(&rt->roots_mu); errno = ENOMEM; return -1; }
    for (size_t i = 0; i < rt->ncallbacks; i++) c[i] = rt->callbacks[i];
    hp_pool_free(rt->callbacks);
    rt->callbacks = c;
    rt->callbacks_cap = cap;
  }
  rt->callbacks[rt->ncallbacks++] = (hpC_callback){ fn, data };
  pthread_mutex_unlock(&rt->roots_mu);
  return 0;
}

int hp_root_callback_remove(hp_runtime *rt, hp_roots_fn fn, void *data) {
  pthread_mutex_lock(&rt->roots_mu);
  for (size_t i = 0; i < rt->ncallbacks; i++) {
    if (rt->callbacks[i].fn == fn && rt->callbacks[i].data == data) {
      rt->callbacks[i] = rt->callbacks[--rt->ncallbacks];
      pthread_mutex_unlock(&rt->roots_mu);
      return 0;
    }
  }
  pthread_mutex_unlock(&rt->roots_mu);
  errno = ENOENT;
  return -1;
}

typedef struct eden_lookup { uintptr_t a; uint64_t *hdr; } eden_lookup;

static void find_in_eden(hp_runtime *rt, void *arg) {
  eden_lookup *l = arg;
  l->hdr = hpC_young_object_of(&rt->gens, l->a);
}

/* Whether obj is the body of an object of rt, asked by thread th while it runs. Pinned
 * objects, from-space and the old generation change only while the world is stopped, and
 * th's own TLABs are its own: those are checked at once. For an eden object of another
 * thread, whose TLAB records th may not read now, the world is stopped. The header word
 * (obj - 8) is looked up, not obj: the body of a zero-size object is where the next
 * object starts.
 * Stopping the world may instead park th through another thread's collection, which could
 * move obj. So th names the header address in pin_word first: that collection pins what
 * it names, as it would a conservative root (hpC_pin_words), and the lookup is done
 * again -- obj is then a pinned object, or was none. */
static bool is_object(hp_runtime *rt, hpC_mutator *th, void *obj) {
  if (obj == NULL || ((uintptr_t)obj & 7) != 0) return false;
  hpC_generations *h = &rt->gens;
  uint64_t *hdr = hpC_header(obj);
  if (!hpC_in_young_span(h, (uintptr_t)hdr)) return hpC_object_of(h, (uintptr_t)hdr) == hdr;
  uintptr_t a = (uintptr_t)hdr;
  for (;;) {
    if (hpC_pinned_object_of(h, a) == hdr) return true;
    if (a < h->eden.lo || a >= h->eden.hi) return hpC_young_object_of(h, a) == hdr;
    if (a >= atomic_load_explicit(&h->eden_cursor, memory_order_acquire)) return false;    /* not handed out in this cycle */
    if (hpC_eden_object_in(&th->tlabs, a) == hdr) return true;
    for (size_t i = 0; i + 1 < th->tlabs.len; i += 2)
      if (a >= th->tlabs.items[i] && a < th->tlabs.items[i + 1]) return false;   /* ours: no */
    /* Another thread's buffer: its records are merged only when the world stops. hp_pin is
     * rare enough to stop it. */
    eden_lookup l = { .a = a };
    th->pin_word = a;
    bool stopped = hpC_with_world_stopped(rt, th, false, find_in_eden, &l);
    th->pin_word = 0;
    if (stopped) return l.hdr == hdr;
    /* Parked through another thread's collection, which pinned a if it was an object. */
  }
}

void hpC_pin_words(hp_runtime *rt, hpC_candidate_fn fn, void *ctx) {
  for (hpC_mutator *th = rt->threads; th; th = th->next)
    if (th->pin_word != 0) fn(rt, th->pin_word, ctx);
}

int hp_pin(hp_thread *t, void *obj) {
  hp_runtime *rt = hpC_mutator_of(t)->rt;
  hpC_check_not_blocked(hpC_mutator_of(t), "hp_pin");
  if (!is_object(rt, hpC_mutator_of(t), obj)) { errno = EINVAL; return -1; }
  return vec_add(rt, &rt->pins, (uintptr_t)obj);
}

int hp_unpin(hp_thread *t, void *obj) { return vec_remove(hpC_mutator_of(t)->rt, &hpC_mutator_of(t)->rt->pins, (uintptr_t)obj); }

/* ------------------------------------------------------------------------------------
 *  Enumeration
 * ------------------------------------------------------------------------------------ */

void hpC_visit_roots(hp_runtime *rt, hp_visit_fn visit, void *ctx) {
  for (hpC_mutator *th = rt->threads; th; th = th->next)
    for (hp_frame *f = th->pub.frames; f; f = f->prev)
      for (size_t i = 0; i < f->count; i++) visit(f->slots[i], ctx);
  for (size_t i = 0; i < rt->roots.len; i++) visit((void **)rt->roots.items[i], ctx);
  for (size_t i = 0; i < rt->ranges.len; i++) {
    hp_root_range *r = (hp_root_range *)rt->ranges.items[i];
    for (size_t j = 0; j < r->count; j++) visit(&r->base[j], ctx);
  }
  for (size_t i = 0; i < rt->ncallbacks; i++) rt->callbacks[i].fn(visit, ctx, rt->callbacks[i].data);
  hpC_fin_roots(&rt->gens.fin, visit, ctx);            /* queued finalizers' objects */
}

/* ------------------------------------------------------------------------------------
 *  Tracing one object
 * ------------------------------------------------------------------------------------ */

void hpC_trace(uint64_t *hdr, hp_visit_fn visit, void *ctx) { hpC_trace_with(hdr, visit, ctx); }

/* ------------------------------------------------------------------------------------
 *  The write barrier's slow path
 * ------------------------------------------------------------------------------------ */

void hpC_cards_mark(uintptr_t lo, uintptr_t hi) {
  for (uintptr_t g = lo & ~(uintptr_t)(HPP_GRANULE - 1); g < hi; g += HPP_GRANULE) {
    size_t off = (g & (HPP_PAGE - 1)) / HPP_GRANULE;
    hpS_word_fetch_or(&hpP_bits(hpP_index((void *)g), HPP_BITS_AUX)[off / 64], (uint64_t)1 << (off % 64),
                      memory_order_relaxed);
  }
}

/* obj (old) now holds a young pointer in slot: remember it, once per collection cycle, in
 * the thread's own log (merged into the heap's remembered set when the world stops), and for
 * a large pointer array also the slot's card (gc/gc.h, "Cards"). Two threads may race to
 * remember one object: the bit is set atomically, and should both log it, the minor
 * collection skips the second entry. */
void hp_write_slow(hp_thread *t, void *obj, void *slot) {
  hpC_mutator *th = hpC_mutator_of(t);
  uint64_t *hdr = hpC_header(obj);
  hpC_check_not_blocked(th, "hp_write");
  /* First: whatever the word before a non-object holds (bit 1 set looks REMEMBERED) must not
   * decide anything. */
  hp_check_api(hpC_old_header_of(hdr, NULL) == hdr,
               "hp: hp_write(%p): the object is not a managed object", obj);
  uint64_t hw = hpS_word_load(hdr, memory_order_relaxed);
  if (hpC_bytes(hw) > HPP_LARGE_MAX && hpC_carded(hw, hpC_type(hpC_type_id(hw)))) {
    size_t off = ((uintptr_t)slot & (HPP_PAGE - 1)) / HPP_GRANULE;
    uint64_t *word = &hpP_bits(hpP_index(slot), HPP_BITS_AUX)[off / 64], bit = (uint64_t)1 << (off % 64);
    if (!(hpS_word_load(word, memory_order_relaxed) & bit)) hpS_word_fetch_or(word, bit, memory_order_relaxed);
  }
  if (hw & HPC_REMEMBERED) return;
  if (hpS_word_fetch_or(hdr, HPC_REMEMBERED, memory_order_relaxed) & HPC_REMEMBERED) return;
  hpC_vec_push(&th->remset, (uintptr_t)obj);
}
