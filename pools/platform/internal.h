/* pools/platform/internal.h -- what every internal file of hp includes first.
 *
 * Assertion tiers, from the build option debug_level (HP_DEBUG):
 *   HP_DEBUG >= 1  hp_check_api: API misuse by the embedder (cheap)
 *   HP_DEBUG >= 2  hp_assert:    internal invariants; double-free detection in the pools
 *   HP_DEBUG >= 3  hp_validate:  expensive whole-structure validators
 * hp_check is kept in every build (a few defensive checks whose failure would corrupt).
 * Failure calls hpS_fatal, which formats into a stack buffer, writes to stderr and aborts;
 * it never allocates.
 */
#ifndef HP_PLATFORM_INTERNAL_H
#define HP_PLATFORM_INTERNAL_H
#ifndef HP_BUILDING_HP
#error "internal header of hp: include <hp.h> instead"
#endif

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "hp.h"

#ifndef HP_DEBUG
#define HP_DEBUG 1
#endif
#ifndef HP_STATS
#define HP_STATS 1
#endif

#define hp_likely(c) __builtin_expect(!!(c), 1)
#define hp_unlikely(c) __builtin_expect(!!(c), 0)
#define hp_noinline __attribute__((noinline))
#define hp_cold __attribute__((cold, noinline))
#define hp_inline static inline __attribute__((always_inline))
#define HP_INTERNAL __attribute__((visibility("hidden")))

/* Aborts with a formatted message on stderr. Never allocates; never returns. */
HP_INTERNAL _Noreturn void hpS_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), cold));
/* Prints a warning on stderr (used by hp_config_from_env). Never allocates. */
HP_INTERNAL void hpS_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2), cold));

#define hp_check(c, ...) \
  do { if (hp_unlikely(!(c))) hpS_fatal(__VA_ARGS__); } while (0)
#define hp_fail_assert(e) hpS_fatal("hp: assertion failed: %s (%s:%d)", e, __FILE__, __LINE__)
#if HP_DEBUG >= 1
#define hp_check_api(c, ...) hp_check(c, __VA_ARGS__)
#else
#define hp_check_api(c, ...) ((void)0)
#endif
#if HP_DEBUG >= 2
#define hp_assert(e) do { if (hp_unlikely(!(e))) hp_fail_assert(#e); } while (0)
#else
#define hp_assert(e) ((void)0)
#endif
#if HP_DEBUG >= 3
#define hp_validate(e) hp_assert(e)
#else
#define hp_validate(e) ((void)0)
#endif

/* Relaxed single-writer counters: the owner thread updates them with a plain load and
 * store (no read-modify-write); other threads may read them at any time. */
#define hp_counter_add(c, n) \
  atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + (n), memory_order_relaxed)
#define hp_counter_get(c) atomic_load_explicit(&(c), memory_order_relaxed)

#define HP_KiB ((size_t)1 << 10)
#define HP_MiB ((size_t)1 << 20)
#define HP_GiB ((size_t)1 << 30)

#endif /* HP_PLATFORM_INTERNAL_H */
