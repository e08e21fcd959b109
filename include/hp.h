/* hp.h -- the public interface of hp, an embeddable garbage-collected object runtime.
 *
 * This header is the whole contract between hp and its embedder. Everything here is
 * prefixed hp_/HP_; nothing else in the library is visible from outside it.
 *
 * Layers (data flows down):  hp_new -> collector (gc/) -> pools (pools/) -> OS (runtime/)
 *
 * This file holds:
 *   - version and attribute macros;
 *   - the pools: a lock-free, thread-caching allocator of unmanaged memory
 *     (hp_pool_alloc / hp_pool_free), the layer the old generation lives on.
 * Statistics structures are in <hp-stats.h>, which this header includes.
 */
#ifndef HP_H
#define HP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define HP_VERSION_MAJOR 0
#define HP_VERSION_MINOR 1
#define HP_VERSION_PATCH 0
#define HP_VERSION (HP_VERSION_MAJOR * 10000 + HP_VERSION_MINOR * 100 + HP_VERSION_PATCH)

/* The library is built with -fvisibility=hidden; only HP_API symbols are exported. */
#if defined(__GNUC__)
#define HP_API __attribute__((visibility("default")))
#else
#define HP_API
#endif

#if defined(__GNUC__)
#define HP_MALLOC_LIKE __attribute__((malloc, warn_unused_result))
#define HP_ALLOC_SIZE(n) __attribute__((alloc_size(n)))
#define HP_LIKELY(c) __builtin_expect(!!(c), 1)
#define HP_UNLIKELY(c) __builtin_expect(!!(c), 0)
#else
#define HP_MALLOC_LIKE
#define HP_ALLOC_SIZE(n)
#define HP_LIKELY(c) (c)
#define HP_UNLIKELY(c) (c)
#endif

#ifdef __cplusplus
extern "C" {
#endif

#include "hp-stats.h"

/* The library's version, HP_VERSION as compiled into it. */
HP_API int hp_version(void);

/* ==================================================================================
 *  Pools: unmanaged memory
 * ==================================================================================
 * Blocks come in size classes spaced at most 25% apart, grouped in four tiers:
 *   small  (<= 128 B, 16-byte steps), medium (129 B - 2 KiB, 4 classes per doubling),
 *   large  (2 KiB - 64 KiB, 4 classes per doubling), huge (> 64 KiB, whole 64 KiB pages).
 * Any thread may allocate and free any block. Each thread allocates from pages of its
 * own, with no lock and no atomic read-modify-write; a block freed by another thread is
 * pushed onto its page's remote list, which the owner takes whole. When a thread exits
 * its pages are handed over, and its blocks may still be freed from anywhere.
 * Empty pages return to the OS about half a second after they become empty, without any
 * call; hp_pool_trim() returns everything free at once.
 * Every block is at least 16-byte aligned. Blocks are not zeroed.
 */

/* Allocates a block of at least `size` bytes. Size 0 gives a valid, unique block.
 * Returns NULL with errno = ENOMEM when the size cannot be served (too large, or the
 * pools' address range is exhausted). Never calls any handler. */
HP_API HP_MALLOC_LIKE HP_ALLOC_SIZE(1) void *hp_pool_alloc(size_t size);

/* As hp_pool_alloc, with the block aligned to `align`, a power of two (any size;
 * 64 for a cache line). Returns NULL with errno = EINVAL if align is not a power of two,
 * ENOMEM as above. The block is freed with hp_pool_free like any other. */
HP_API HP_MALLOC_LIKE void *hp_pool_alloc_aligned(size_t size, size_t align);

/* Frees a block from hp_pool_alloc*. NULL is a no-op. Any thread may free any block.
 * With HP_DEBUG >= 2, a double free or a pointer the pools never handed out aborts with
 * a message naming the address and the reason; at lower levels it is undefined. */
HP_API void hp_pool_free(void *ptr);

/* As hp_pool_free; `size` must be the size asked for (or anything up to the usable
 * size). It lets the statistics count requested bytes exactly. */
HP_API void hp_pool_free_sized(void *ptr, size_t size);

/* The number of usable bytes in the block `ptr` (>= the size asked for). 0 for NULL. */
HP_API size_t hp_pool_usable_size(const void *ptr);

/* Returns every free page to the OS now, including the calling thread's cached empty
 * pages. Returns the number of bytes given back. */
HP_API size_t hp_pool_trim(void);

/* Fills `st` with the pools' statistics (see <hp-stats.h>); sets st->version.
 * Costs a walk over the pools' page descriptors: call it to report, not on a hot path. */
HP_API void hp_pool_stats(struct hp_pool_stats *st);

/* Writes a human-readable table of hp_pool_stats to `out` (a FILE *). */
HP_API void hp_pool_stats_print(void *out);

#ifdef __cplusplus
}
#endif
#endif /* HP_H */
