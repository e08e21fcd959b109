/* gc/conservative.c -- conservative roots: every word of each mutator thread's registers and
 * stack that points into a managed object (at its start or anywhere inside it) keeps that
 * object alive and, since the word may not be a pointer at all, fixes it in place.
 *
 * Capture. A thread records its registers with libunwind's unw_getcontext into its own
 * hpC_mutator, and the address of its innermost frame, at the moment it enters a collection
 * (hpC_capture). The collector then scans:
 *   - the captured register context (callee-saved registers of the innermost frame);
 *   - the callee-saved registers of the innermost HPC_UNWIND_FRAMES frames, as the unwinder
 *     (unw_step / unw_get_reg) recovers them: a value that lived only in a register;
 *   - every aligned word of the stack from the innermost frame to the thread's stack end
 *     (pthread_getattr_np), which holds whatever the deeper frames spilled -- but for the
 *     slots of the thread's shadow-stack frames: precise roots, which need no pinning.
 * Words are filtered by one range check against the pools' reservation; the rest are looked
 * up with hpC_young_object_of (young) or the page map (old): O(1) for old objects, at most one
 * TLAB parse for eden. Free blocks, fillers, tails of buffers, space between objects and
 * unmapped memory are rejected without touching memory outside the heap.
 *
 * Pinning. A young object found this way is promoted in place: it gets the PINNED bit, joins
 * the sorted list h->pinned, and from then on belongs to the old generation although it sits
 * in the young address range; eden and the survivor spaces are allocated around it as runs
 * (gc/young.c). Every minor collection traces all pinned objects (the write barrier cannot
 * tell them from young objects); a major collection frees those no longer reachable.
 * The memory pinning holds back is the pinned objects' own bytes, plus at most one run per
 * pinned object that was too short for the allocation that wanted it, until the next major
 * collection after the object dies.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "gc/collector.h"
#include "pools/platform/os.h"

#include <pthread.h>
#include <string.h>

#define HPC_UNWIND_FRAMES 16

/* The top of the calling OS thread's stack, found once per thread: for the main thread
 * pthread_getattr_np reads /proc/self/maps, whose length grows with the mappings, so asking
 * it at every attach made runtime creation quadratic in the number of live runtimes. */
static __thread uintptr_t stack_hi_cached;

void hpC_mutator_stack_init(hpC_mutator *th) {
  pthread_attr_t attr;
  void *addr;
  size_t size;
  th->stack_hi = stack_hi_cached;
  if (th->stack_hi != 0) return;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  if (pthread_attr_getstack(&attr, &addr, &size) == 0) th->stack_hi = (uintptr_t)addr + size;
  pthread_attr_destroy(&attr);
  stack_hi_cached = th->stack_hi;
}

/* Scans [lo, hi) word by word. It reads stack memory that the compiler's sanitizers see as
 * out of bounds (red zones between locals): they must not instrument it. */
__attribute__((no_sanitize_address, no_sanitize_thread, noinline))
static size_t scan_words(hp_runtime *rt, uintptr_t lo, uintptr_t hi, const uint64_t *skip,
                         hpC_candidate_fn fn, void *ctx) {
  size_t n = 0;
  uintptr_t base = hpP_base, size = hpP_size;          /* in registers for the loop */
  lo = (lo + 7) & ~(uintptr_t)7;
  for (const volatile uintptr_t *p = (const uintptr_t *)lo; (uintptr_t)p + 8 <= hi; p++) {
    uintptr_t w = *p;
    if (w - base < size) {
      size_t k = ((uintptr_t)p - lo) / 8;
      if (skip && ((skip[k / 64] >> (k % 64)) & 1)) continue;   /* a precise root's slot */
      fn(rt, w, ctx);
      n++;
    }
  }
  return n;
}

/* A bitmap over the words of [lo, hi) that are slots of th's shadow-stack frames: those are
 * precise roots, updated if their object moves, so the scan must not pin what they hold.
 * NULL when th has no frame slot there (or no memory for the map: then they are pinned too). */
static uint64_t *frame_slots(hpC_mutator *th, uintptr_t lo, uintptr_t hi) {
  lo = (lo + 7) & ~(uintptr_t)7;
  size_t words = (hi - lo) / 8;
  uint64_t *map = NULL;
  for (hp_frame *f = th->pub.frames; f; f = f->prev) {
    for (size_t i = 0; i < f->count; i++) {
      uintptr_t a = (uintptr_t)f->slots[i];
      if (a < lo || a >= hi || (a & 7)) continue;
      if (map == NULL) {
        map = hp_pool_alloc((words + 63) / 64 * 8);
        if (map == NULL) return NULL;
        memset(map, 0, (words + 63) / 64 * 8);
      }
      size_t k = (a - lo) / 8;
      map[k / 64] |= (uint64_t)1 << (k % 64);
    }
  }
  return map;
}

/* The callee-saved registers of the innermost frames, as the unwinder recovers them. */
static void scan_frames(hp_runtime *rt, hpC_mutator *th, hpC_candidate_fn fn, void *ctx) {
  static const int regs[] = { UNW_X86_64_RBX, UNW_X86_64_RBP, UNW_X86_64_R12, UNW_X86_64_R13,
                              UNW_X86_64_R14, UNW_X86_64_R15 };
  unw_cursor_t cur;
  if (unw_init_local(&cur, &th->ctx) != 0) return;
  for (int f = 0; f < HPC_UNWIND_FRAMES; f++) {
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
      unw_word_t v;
      if (unw_get_reg(&cur, regs[i], &v) == 0 && hpP_contains((void *)(uintptr_t)v)) fn(rt, (uintptr_t)v, ctx);
    }
    if (unw_step(&cur) <= 0) break;
  }
}

size_t hpC_conservative_roots(hp_runtime *rt, hpC_candidate_fn fn, void *ctx) {
  size_t bytes = 0;
  uint64_t t0 = hpS_now_ns();
  for (hpC_mutator *th = rt->threads; th; th = th->next) {
    if (!th->captured || th->stack_hi == 0) continue;
    scan_words(rt, (uintptr_t)&th->ctx, (uintptr_t)(&th->ctx + 1), NULL, fn, ctx);
    scan_frames(rt, th, fn, ctx);
    uint64_t *skip = frame_slots(th, th->scan_lo, th->stack_hi);
    scan_words(rt, th->scan_lo, th->stack_hi, skip, fn, ctx);
    hp_pool_free(skip);
    bytes += th->stack_hi - th->scan_lo;
  }
  rt->stats.stack_scan_ns += hpS_now_ns() - t0;
  rt->stats.stack_bytes_scanned += bytes;
  return bytes;
}

/* The object that holds address a (young, pinned or old) in this runtime's heap, or NULL.
 * The owner test keeps out the other runtimes' old objects (their pages' owner is their
 * own collector heap). */
uint64_t *hpC_object_of(hpC_generations *h, uintptr_t a) {
  if (hpC_in_young_span(h, a)) return hpC_young_object_of(h, a);
  hpP_span *pg;
  uint64_t *hdr = hpP_block_of((void *)a, &pg);
  if (hdr == NULL || atomic_load_explicit(&pg->owner, memory_order_relaxed) != h->old) return NULL;
  size_t bytes = hpC_bytes(*hdr);
  /* Not the block's slack; but the body pointer of a zero-size object is just past it. */
  return a < (uintptr_t)hdr + bytes || (bytes == 8 && a == (uintptr_t)hdr + 8) ? hdr : NULL;
}

uint64_t *hpC_zero_size_before(hpC_generations *h, uintptr_t a) {
  if ((a & 7) != 0 || !hpC_in_young_span(h, a - 8)) return NULL;
  uint64_t *hdr = hpC_young_object_of(h, a - 8);
  return hdr != NULL && (uintptr_t)hdr == a - 8 && hpC_bytes(*hdr) == 8 ? hdr : NULL;
}
