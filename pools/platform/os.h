/* pools/platform/os.h -- hp's platform layer (hpS_). Every OS call of the library goes through
 * here and reports failure as an error code, never by aborting. */
#ifndef HP_PLATFORM_OS_H
#define HP_PLATFORM_OS_H
#include "pools/platform/internal.h"

/* Reserves `size` bytes of address space aligned to `align` (a power of two), readable
 * and writable but not committed (MAP_NORESERVE): a page costs memory only once touched.
 * Returns NULL and sets errno on failure. */
HP_INTERNAL void *hpS_reserve(size_t size, size_t align);
/* Gives the pages of [p, p+size) back to the OS; they read as zero afterwards.
 * Returns 0 or an errno value. */
HP_INTERNAL int hpS_decommit(void *p, size_t size);
/* Asks for transparent huge pages over [p, p+size) (a hint; errors are ignored). */
HP_INTERNAL void hpS_hugepages(void *p, size_t size);
/* The number of bytes of [p, p+size) resident in memory now (mincore); p page-aligned. */
HP_INTERNAL size_t hpS_resident(const void *p, size_t size);
/* Monotonic time in nanoseconds. */
HP_INTERNAL uint64_t hpS_now_ns(void);
/* Opens `path` for appending (created 0644, truncated first): a descriptor, or -errno. */
HP_INTERNAL int hpS_open_log(const char *path);
/* Writes all of [p, p+n) to fd, retrying after signals: 0, or an errno value. */
HP_INTERNAL int hpS_write_all(int fd, const void *p, size_t n);
HP_INTERNAL void hpS_close(int fd);
/* CPU time of the calling thread in nanoseconds (a system call: not for fast paths). */
HP_INTERNAL uint64_t hpS_thread_cpu_ns(void);
/* The number of processors online (at least 1). */
HP_INTERNAL unsigned hpS_ncpus(void);
/* The OS page size. */
HP_INTERNAL size_t hpS_page_size(void);

#endif
