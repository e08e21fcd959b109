/* tools/bench-common.h -- what hp's benchmark programs share: a clock, a fixed-seed PRNG,
 * medians, resident memory, and a spin hint. Header-only; every function is static.
 *
 * Measurement rules the benchmarks follow:
 *   - each figure is the median of several repetitions (the machines we run on are noisy);
 *   - back ends are interleaved repetition by repetition, so that drift hits all alike;
 *   - random choices come from one xorshift64* stream with a fixed seed, drawn inside the
 *     timed loop, so every back end pays the same cost for them.
 */
#ifndef HP_TOOLS_BENCH_COMMON_H
#define HP_TOOLS_BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/resource.h>

#define BENCH_HOT static inline __attribute__((always_inline))
#define BENCH_NOINLINE __attribute__((noinline))

/* Monotonic time in nanoseconds. */
static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Keeps the compiler from proving a pointer unused (and so the allocation removable),
 * at the cost of nothing: no instruction is emitted. */
#define bench_escape(p) __asm__ volatile("" : : "r"(p))

/* A spin-wait hint. */
static inline void bench_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  __asm__ volatile("" ::: "memory");
#endif
}

/* ---- xorshift64* (Vigna): 3 shifts, 3 xors, 1 multiply per draw ---- */
typedef struct bench_rng { uint64_t s; } bench_rng;

static inline bench_rng bench_rng_seed(uint64_t seed) {
  bench_rng r = { seed ? seed : 0x9E3779B97F4A7C15ull };
  return r;
}

BENCH_HOT uint64_t bench_rand(bench_rng *r) {
  uint64_t x = r->s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

/* A value in [lo, lo + span) from the high 32 bits of a draw r (multiply-shift: no
 * division on the timed path). */
BENCH_HOT uint32_t bench_range(uint64_t r, uint32_t lo, uint32_t span) {
  return lo + (uint32_t)(((r >> 32) * span) >> 32);
}

/* ---- medians ---- */
static int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of v[0..n) (n >= 1); v is left sorted. */
static inline double bench_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- resident memory ---- */
/* Anonymous resident bytes of this process: /proc/self/statm's resident minus its shared
 * (file-backed) pages. File pages are left out because they come and go with the page
 * cache (this machine runs a reclaim daemon that pages out file pages), not with the heap.
 * Reads with open/read into a stack buffer: it allocates nothing. */
static inline size_t bench_rss_anon(void) {
  char buf[256];
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  unsigned long size = 0, resident = 0, shared = 0;
  if (sscanf(buf, "%lu %lu %lu", &size, &resident, &shared) != 3) return 0;
  return (size_t)(resident - shared) * (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- other load on the machine ---- */
/* CPU time used by everything on the machine (/proc/stat) and by this process and its reaped
 * children (getrusage), at one instant. bench_other_load(a, b) is the number of CPUs' worth of
 * work that OTHER processes did between a and b: near 0 on a quiet machine. */
typedef struct bench_load { double busy_s, own_s, wall_s; } bench_load;

static inline bench_load bench_load_now(void) {
  bench_load l = { 0, 0, (double)bench_now_ns() / 1e9 };
  char buf[512];
  int fd = open("/proc/stat", O_RDONLY);
  if (fd >= 0) {
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unsigned long long v[8] = { 0 };
    if (n > 0) {
      buf[n] = 0;
      if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                 &v[4], &v[5], &v[6], &v[7]) == 8)
        l.busy_s = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
    }
  }
  struct rusage self, kids;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  l.own_s = (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) +
            (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) / 1e6;
  return l;
}

static inline double bench_other_load(bench_load a, bench_load b) {
  double wall = b.wall_s - a.wall_s;
  if (wall <= 0) return 0;
  double other = (b.busy_s - a.busy_s) - (b.own_s - a.own_s);
  return other > 0 ? other / wall : 0;
}

#endif /* HP_TOOLS_BENCH_COMMON_H */
