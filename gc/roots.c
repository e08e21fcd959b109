/* gc/roots.c -- the roots: shadow-stack frames of every thread, registered global slots and
 * ranges, and the embedder's root callbacks; and the write barrier's slow path, which keeps
 * the remembered set (invariant [remembered] in gc/gc.h). */
#include "runtime/runtime.h"

#include <errno.h>

/* ------------------------------------------------------------------------------------
 *  Registries
 * ------------------------------------------------------------------------------------ */

int hp_root_add(hp_runtime *rt, void **slot) {
  hp_check_api(slot != NULL, "hp: hp_root_add(NULL)");
  hpC_vec_push(&rt->roots, (uintptr_t)slot);
  return 0;
}

int hp_root_remove(hp_runtime *rt, void **slot) {
  if (hpC_vec_remove(&rt->roots, (uintptr_t)slot)) return 0;
  errno = ENOENT;
  return -1;
}

int hp_root_range_add(hp_runtime *rt, hp_root_range *range) {
  hp_check_api(range != NULL, "hp: hp_root_range_add(NULL)");
  hpC_vec_push(&rt->ranges, (uintptr_t)range);
  return 0;
}

int hp_root_range_remove(hp_runtime *rt, hp_root_range *range) {
  if (hpC_vec_remove(&rt->ranges, (uintptr_t)range)) return 0;
  errno = ENOENT;
  return -1;
}

int hp_root_callback_add(hp_runtime *rt, hp_roots_fn fn, void *data) {
  hp_check_api(fn != NULL, "hp: hp_root_callback_add(NULL)");
  if (rt->ncallbacks == rt->callbacks_cap) {
    size_t cap = rt->callbacks_cap ? rt->callbacks_cap * 2 : 8;
    hpR_callback *c = hp_pool_alloc(cap * sizeof *c);
    if (c == NULL) { errno = ENOMEM; return -1; }
    for (size_t i = 0; i < rt->ncallbacks; i++) c[i] = rt->callbacks[i];
    hp_pool_free(rt->callbacks);
    rt->callbacks = c;
    rt->callbacks_cap = cap;
  }
  rt->callbacks[rt->ncallbacks++] = (hpR_callback){ fn, data };
  return 0;
}

int hp_root_callback_remove(hp_runtime *rt, hp_roots_fn fn, void *data) {
  for (size_t i = 0; i < rt->ncallbacks; i++) {
    if (rt->callbacks[i].fn == fn && rt->callbacks[i].data == data) {
      rt->callbacks[i] = rt->callbacks[--rt->ncallbacks];
      return 0;
    }
  }
  errno = ENOENT;
  return -1;
}

int hp_pin(hp_thread *t, void *obj) {
  hp_runtime *rt = hpR_thread_of(t)->rt;
  if (obj == NULL || hpC_object_of(&rt->heap, (uintptr_t)obj) != hpC_header(obj)) { errno = EINVAL; return -1; }
  hpC_vec_push(&rt->pins, (uintptr_t)obj);
  return 0;
}

int hp_unpin(hp_thread *t, void *obj) {
  hp_runtime *rt = hpR_thread_of(t)->rt;
  if (hpC_vec_remove(&rt->pins, (uintptr_t)obj)) return 0;
  errno = ENOENT;
  return -1;
}

/* ------------------------------------------------------------------------------------
 *  Enumeration
 * ------------------------------------------------------------------------------------ */

void hpC_visit_roots(hp_runtime *rt, hp_visit_fn visit, void *ctx) {
  for (hpR_thread *th = rt->threads; th; th = th->next)
    for (hp_frame *f = th->pub.frames; f; f = f->prev)
      for (size_t i = 0; i < f->count; i++) visit(f->slots[i], ctx);
  for (size_t i = 0; i < rt->roots.len; i++) visit((void **)rt->roots.items[i], ctx);
  for (size_t i = 0; i < rt->ranges.len; i++) {
    hp_root_range *r = (hp_root_range *)rt->ranges.items[i];
    for (size_t j = 0; j < r->count; j++) visit(&r->base[j], ctx);
  }
  for (size_t i = 0; i < rt->ncallbacks; i++) rt->callbacks[i].fn(visit, ctx, rt->callbacks[i].data);
}

/* ------------------------------------------------------------------------------------
 *  Tracing one object
 * ------------------------------------------------------------------------------------ */

void hpC_trace(uint64_t *hdr, hp_visit_fn visit, void *ctx) { hpC_trace_with(hdr, visit, ctx); }

/* ------------------------------------------------------------------------------------
 *  The write barrier's slow path
 * ------------------------------------------------------------------------------------ */

/* obj (old) now holds a young pointer: remember it, once per collection cycle. */
void hp_write_slow(hp_thread *t, void *obj) {
  hp_runtime *rt = hpR_thread_of(t)->rt;
  uint64_t *hdr = hpC_header(obj);
  if (*hdr & HPC_REMEMBERED) return;
  hp_check_api(hpC_old_header_of(hdr, NULL) == hdr,
               "hp: hp_write(%p): the object is not a managed object", obj);
  *hdr |= HPC_REMEMBERED;
  hpC_vec_push(&rt->heap.remset, (uintptr_t)obj);
}
