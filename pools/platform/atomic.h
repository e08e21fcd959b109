/* pools/platform/atomic.h -- C11 atomic access to plain words (hpS_).
 *
 * hp uses one atomics dialect: C11 <stdatomic.h> with an explicit memory order on every
 * access. Variables that are always shared are declared _Atomic. Some words are plain by
 * nature and atomic only at times: an object's header word (written plainly by hp_new and
 * by the collector with the world stopped, but set by racing write barriers), the words of
 * the pools' side bitmaps (the collector's cards), and the public hp_thread's safepoint
 * flag (a plain int of include/hp.h, read with a relaxed load by hp_safepoint). Those are
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
/* Sets `bits` in *w; returns the word before. */
hp_inline uint64_t hpS_word_fetch_or(uint64_t *w, uint64_t bits, memory_order mo) {
  return atomic_fetch_or_explicit((_Atomic uint64_t *)w, bits, mo);
}
hp_inline void hpS_int_store(int *w, int v, memory_order mo) {
  atomic_store_explicit((_Atomic int *)w, v, mo);
}

#endif /* HP_PLATFORM_ATOMIC_H */
