/* pools/malloc.c -- libhpmalloc.so: the C library's allocation functions on hp's pools, for
 * LD_PRELOAD or linking (doc/embedding.md, "hp's pools as the process allocator").
 *
 * Built only into libhpmalloc.so (with the pools and the platform, nothing of the collector),
 * whose version script exports these functions and nothing else: its copy of the pools is
 * its own, and never interposes a libhp.so loaded beside it.
 *
 * What a process allocator must survive, and how:
 *   - allocation before any constructor: nothing here needs initialising; the pools set
 *     themselves up on the first allocation (pthread_once) and call no allocation function
 *     while doing so, nor while holding a lock (pools/heap.c: purger_wake);
 *   - threads: each gets its heap on its first allocation; at exit its pages are handed over
 *     (abandoned) and adopted or given back later, so memory freed after its thread exited
 *     is fine; a thread that allocates again in a later thread-key destructor gets a heap again;
 *   - fork: the pools hold every lock of theirs across fork (pthread_atfork in pools/heap.c);
 *   - pointers that are not the pools' (the dynamic loader's bootstrap allocator hands out a
 *     few before the program's malloc is bound): free ignores them (they are leaked; there is
 *     no allocator to give them back to), realloc copies what can be known of them -- nothing
 *     -- so it refuses them with a fatal error naming the pointer, and malloc_usable_size
 *     reports 0.
 * C++: libstdc++'s operator new and delete call malloc and free, so they come here too.
 */
#include "pools/pool.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define HPM_EXPORT __attribute__((visibility("default")))

/* A pointer the pools did not hand out (outside the reservation). */
hp_inline bool foreign(const void *p) { return p != NULL && !hpP_contains(p); }

HPM_EXPORT void *malloc(size_t size) { return hp_pool_alloc(size); }

HPM_EXPORT void free(void *p) {
  if (hp_unlikely(foreign(p))) return;   /* see the header: leaked, never handed to anyone */
  hp_pool_free(p);
}

HPM_EXPORT void cfree(void *p) { free(p); }

HPM_EXPORT void *calloc(size_t n, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) { errno = ENOMEM; return NULL; }
  if (bytes > HPP_LARGE_MAX) {            /* a huge block: often fresh pages, zero already */
    bool zeroed = false;
    void *p = hpP_huge_alloc_z(bytes, 0, HPP_ARENA_PUBLIC, &zeroed);
    if (p != NULL && !zeroed) memset(p, 0, bytes);
    return p;
  }
  void *p = hp_pool_alloc(bytes);
  if (p != NULL) memset(p, 0, bytes);
  return p;
}

HPM_EXPORT size_t malloc_usable_size(void *p) {
  if (p == NULL || foreign(p)) return 0;
  return hp_pool_usable_size(p);
}

HPM_EXPORT void *realloc(void *p, size_t size) {
  if (p == NULL) return hp_pool_alloc(size);
  if (hp_unlikely(foreign(p)))
    hpS_fatal("libhpmalloc: realloc(%p): not a block of hp's pools (allocated before they were the "
              "process's malloc?)", p);
  if (size == 0) {                        /* glibc's behaviour: free, return NULL */
    hp_pool_free(p);
    return NULL;
  }
  size_t have = hp_pool_usable_size(p);
  /* Stay when it fits and would not waste more than half (a shrink by a few bytes, or growth
   * within the block's class). */
  if (size <= have && size >= have / 2) return p;
  void *q = hp_pool_alloc(size);
  if (q == NULL) return NULL;             /* errno = ENOMEM; p is untouched */
  memcpy(q, p, size < have ? size : have);
  hp_pool_free(p);
  return q;
}

HPM_EXPORT void *reallocarray(void *p, size_t n, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) { errno = ENOMEM; return NULL; }
  return realloc(p, bytes);
}

HPM_EXPORT int posix_memalign(void **out, size_t align, size_t size) {
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
  int saved = errno;
  void *p = hp_pool_alloc_aligned(size, align);
  if (p == NULL) {
    int e = errno;
    errno = saved;                        /* posix_memalign reports through its result only */
    return e == EINVAL ? EINVAL : ENOMEM;
  }
  *out = p;
  return 0;
}

HPM_EXPORT void *aligned_alloc(size_t align, size_t size) {
  return hp_pool_alloc_aligned(size, align);  /* EINVAL unless align is a power of two */
}

HPM_EXPORT void *memalign(size_t align, size_t size) { return hp_pool_alloc_aligned(size, align); }

static size_t os_page(void) {
  static size_t page;
  if (page == 0) page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}

HPM_EXPORT void *valloc(size_t size) { return hp_pool_alloc_aligned(size, os_page()); }

HPM_EXPORT void *pvalloc(size_t size) {
  size_t ps = os_page(), rounded;
  if (__builtin_add_overflow(size, ps - 1, &rounded)) { errno = ENOMEM; return NULL; }
  rounded &= ~(ps - 1);
  return hp_pool_alloc_aligned(rounded ? rounded : ps, ps);
}
