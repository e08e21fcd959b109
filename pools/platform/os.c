/* pools/platform/os.c -- the platform layer: virtual memory, clocks and the log file (Linux). */
#include "pools/platform/os.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

void *hpS_reserve(size_t size, size_t align) {
  size_t len = size + align;                       /* over-reserve, then trim to alignment */
  if (len < size) { errno = ENOMEM; return NULL; }
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return NULL;
  char *start = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
  if (start > p) munmap(p, (size_t)(start - p));
  char *end = start + size;
  if (end < p + len) munmap(end, (size_t)(p + len - end));
  return start;
}

int hpS_decommit(void *p, size_t size) {
  return madvise(p, size, MADV_DONTNEED) == 0 ? 0 : errno;
}

void hpS_hugepages(void *p, size_t size) {
#ifdef MADV_HUGEPAGE
  madvise(p, size, MADV_HUGEPAGE);
#else
  (void)p; (void)size;
#endif
}

size_t hpS_resident(const void *p, size_t size) {
  size_t ps = hpS_page_size();
  unsigned char vec[256];
  size_t resident = 0;
  const char *q = p;
  while (size > 0) {
    size_t n = size / ps;
    if (n > sizeof vec) n = sizeof vec;
    if (n == 0) n = 1;
    size_t len = n * ps < size ? n * ps : size;
    if (mincore((void *)q, len, vec) != 0) return resident;
    for (size_t i = 0; i < (len + ps - 1) / ps; i++) resident += (vec[i] & 1) ? ps : 0;
    q += len;
    size -= len;
  }
  return resident;
}

uint64_t hpS_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t hpS_thread_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

unsigned hpS_ncpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

size_t hpS_page_size(void) {
  static size_t ps;
  if (ps == 0) ps = (size_t)sysconf(_SC_PAGESIZE);
  return ps;
}

int hpS_open_log(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  return fd >= 0 ? fd : -errno;
}

int hpS_write_all(int fd, const void *p, size_t n) {
  for (size_t off = 0; off < n;) {
    ssize_t k = write(fd, (const char *)p + off, n - off);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return errno;
    if (k == 0) return EIO;
    off += (size_t)k;
  }
  return 0;
}

void hpS_close(int fd) { close(fd); }
