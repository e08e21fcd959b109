/* pools/platform/atomic.h -- C11 atomic access to plain words (hpS_).
 *
 * hp uses one atomics dialect: C11 <stdatomic.h> with an explicit memory order on every
 * access. Variables that are always shared are declared _Atomic. Some words are plain by
 * nature and atomic only at times: an object's header word (written plainly by hp_new and
 * by the collector with the world stopped, but set by racing write barriers), the words of
 * the pools' side bitmaps (the collector's cards and mark bits), the public hp_thread's
 * safepoint and marking flags (plain ints of include/hp.h, read with relaxed loads inline),
 * the pointer slots of objects while a concurrent cycle marks, and the world stop's counters
 * (written under world_mu, read by spinning threads). Those are
 * accessed through these functions, the one place where a plain word is viewed as _Atomic;
 * the assertions make sure the two have the same size and alignment.
 */
#ifndef HP_PLATFORM_ATOMIC_H
#define HP_PLATFORM_ATOMIC_H
#include "pools/platform/internal.h"

_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t) &&
               _Alignof(_Atomic uint64_t) == _Alignof(uint64_t),
               "a plain 64-bit word must be usable as an atomic one");
_Static_assert(sizeof(_Atomic int) == sizeof(int) && _Alignof(_Atomic int) == _Alignof(int),
               "a plain int must be usable as an atomic one");

hp_inline uint64_t hpS_word_load(const uint64_t *w, memory_order mo) {
  return atomic_load_explicit((_Atomic uint64_t *)(uintptr_t)w, mo);
}
hp_inline void hpS_word_store(uint64_t *w, uint64_t v, memory_order mo) {
  atomic_store_explicit((_Atomic uint64_t *)w, v, mo);
}
/* Clears `bits` in *w; returns the word before. */
hp_inline uint64_t hpS_word_fetch_and(uint64_t *w, uint64_t bits, memory_order mo) {
  return atomic_fetch_and_explicit((_Atomic uint64_t *)w, bits, mo);
}
/* Sets `bits` in *w; returns the word before. */
hp_inline uint64_t hpS_word_fetch_or(uint64_t *w, uint64_t bits, memory_order mo) {
  return atomic_fetch_or_explicit((_Atomic uint64_t *)w, bits, mo);
}
hp_inline void hpS_int_store(int *w, int v, memory_order mo) {
  atomic_store_explicit((_Atomic int *)w, v, mo);
}
hp_inline int hpS_int_load(const int *w, memory_order mo) {
  return atomic_load_explicit((_Atomic int *)(uintptr_t)w, mo);
}
/* A managed object's pointer slot, which the concurrent marker reads while mutators store
 * (gc/mark.c, gc/barrier.c). */
_Static_assert(sizeof(void *_Atomic) == sizeof(void *) && _Alignof(void *_Atomic) == _Alignof(void *),
               "a plain pointer must be usable as an atomic one");
hp_inline void *hpS_ptr_load(void *const *p, memory_order mo) {
  return atomic_load_explicit((void *_Atomic *)(uintptr_t)p, mo);
}
hp_inline void hpS_ptr_store(void **p, void *v, memory_order mo) {
  atomic_store_explicit((void *_Atomic *)p, v, mo);
}

/* The world stop's `nrunning` and `stopping` (gc/mutator.c): written under a mutex, read by
 * spinners without it. */
_Static_assert(sizeof(_Atomic unsigned) == sizeof(unsigned) && _Alignof(_Atomic unsigned) == _Alignof(unsigned),
               "a plain unsigned must be usable as an atomic one");
_Static_assert(sizeof(_Atomic bool) == sizeof(bool) && _Alignof(_Atomic bool) == _Alignof(bool),
               "a plain bool must be usable as an atomic one");
hp_inline unsigned hpS_uint_load(const unsigned *w, memory_order mo) {
  return atomic_load_explicit((_Atomic unsigned *)(uintptr_t)w, mo);
}
hp_inline void hpS_uint_store(unsigned *w, unsigned v, memory_order mo) {
  atomic_store_explicit((_Atomic unsigned *)w, v, mo);
}
hp_inline bool hpS_bool_load(const bool *w, memory_order mo) {
  return atomic_load_explicit((_Atomic bool *)(uintptr_t)w, mo);
}
hp_inline void hpS_bool_store(bool *w, bool v, memory_order mo) {
  atomic_store_explicit((_Atomic bool *)w, v, mo);
}

#endif /* HP_PLATFORM_ATOMIC_H */
