/* tests/test-common.h -- helpers shared by the test programs: a seeded generator, the
 * iteration scale, fill patterns, the process's resident memory, and sleeping.
 *
 * Only the C library: a test of the public API that includes this still sees nothing of hp
 * but <hp.h>.
 *
 * Scale: iteration counts are multiplied by t_scale(), 1 in a plain build, smaller under a
 * sanitizer (which runs 5-20x slower), and multiplied again by HP_TEST_SCALE if set
 * (e.g. HP_TEST_SCALE=4 for a longer soak, 0.1 for a quick run).
 */
#ifndef HP_TESTS_COMMON_H
#define HP_TESTS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define T_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define T_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif
#ifndef T_TSAN
#define T_TSAN 0
#endif
#ifndef T_ASAN
#define T_ASAN 0
#endif

/* Check's ck_assert_* records the location of every assertion that passes (a write to its
 * message file in fork mode); in loops over thousands of values use T_CHECK, which costs only
 * the comparison and fails the same way (ck_abort_msg). The file must include <check.h>. */
#define T_CHECK(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

#define T_KiB ((size_t)1 << 10)
#define T_MiB ((size_t)1 << 20)

/* ---- Iteration scale ---- */

static inline double t_scale(void) {
  double s = T_TSAN ? 0.1 : T_ASAN ? 0.25 : 1.0;
  const char *e = getenv("HP_TEST_SCALE");
  if (e && *e) {
    double m = strtod(e, NULL);
    if (m > 0) s *= m;
  }
  return s;
}

/* n scaled, at least lo. */
static inline size_t t_scaled(size_t n, size_t lo) {
  double v = (double)n * t_scale();
  size_t r = (size_t)v;
  return r < lo ? lo : r;
}

/* ---- A seeded generator (splitmix64): the same seed gives the same run ---- */

typedef struct t_rng { uint64_t s; } t_rng;

static inline uint64_t t_next(t_rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline size_t t_range(t_rng *r, size_t lo, size_t hi) {
  return lo + (size_t)(t_next(r) % (uint64_t)(hi - lo + 1));
}

static inline void t_shuffle(t_rng *r, size_t *a, size_t n) {
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)(t_next(r) % i);
    size_t t = a[i - 1]; a[i - 1] = a[j]; a[j] = t;
  }
}

/* ---- Fill patterns: every 4-byte word of a block holds a function of the block's tag and
 * the word's position, so a block that overlaps another, or that the pools scribbled on,
 * reads back wrong. Blocks are 16-byte aligned. ---- */

static inline uint32_t t_word(uint32_t tag, size_t j) {
  return tag * 0x9E3779B1u + (uint32_t)j * 0x85EBCA77u + 1u;
}

static inline void t_fill(void *p, size_t n, uint32_t tag) {
  uint32_t *w = p;
  size_t words = n / 4;
  for (size_t j = 0; j < words; j++) w[j] = t_word(tag, j);
  unsigned char *c = p;
  for (size_t j = words * 4; j < n; j++) c[j] = (unsigned char)(tag ^ j);
}

/* Returns the offset of the first byte that is wrong, or (size_t)-1 if all are right. */
static inline size_t t_check(const void *p, size_t n, uint32_t tag) {
  const uint32_t *w = p;
  size_t words = n / 4;
  for (size_t j = 0; j < words; j++)
    if (w[j] != t_word(tag, j)) return j * 4;
  const unsigned char *c = p;
  for (size_t j = words * 4; j < n; j++)
    if (c[j] != (unsigned char)(tag ^ j)) return j;
  return (size_t)-1;
}

#define T_OK ((size_t)-1)

/* ---- The process ---- */

/* Resident bytes of this process (/proc/self/statm), or 0 if it cannot be read. */
static inline size_t t_rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL) return 0;
  unsigned long size = 0, resident = 0;
  int n = fscanf(f, "%lu %lu", &size, &resident);
  fclose(f);
  if (n != 2) return 0;
  return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static inline void t_sleep_ms(unsigned ms) {
  struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

static inline double t_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int t_cmp_ptr(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

#endif /* HP_TESTS_COMMON_H */
