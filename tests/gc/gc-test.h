/* tests/gc/gc-test.h -- what the collector's test programs share: how a test makes its
 * runtime (plain, or in stress mode from the environment), the scale of loops, and a few
 * object types with their checksums.
 *
 * Only the C library, Check and <hp.h>: the API test that includes this sees nothing else
 * of hp.
 *
 * Stress: when HP_TEST_STRESS=N is set (meson registers every gc test a second time with
 * N = 50), every runtime a test makes has cfg.stress = N and cfg.verify >= 1, so that a
 * collection runs every N allocations, minor and major in turn, and the heap is verified
 * after each. A test must pass either way: its exact assertions hold whatever collections
 * the allocations trigger, or are made only over a "quiet" window in which no collection
 * ran (t_window_*).
 *
 * Scale: loops are sized by t_big(plain, sanitizer, stress): the count for a plain build,
 * for a sanitizer build (detected at compile time), and under stress, where every
 * collection also verifies the whole heap.
 */
#ifndef HP_TESTS_GC_TEST_H
#define HP_TESTS_GC_TEST_H

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hp.h>

/* Check's ck_assert_* send a checkpoint to the parent process (one write(2)) for every
 * assertion that passes; these tests check millions of fields, which made that the whole
 * cost of a run. Here a passing assertion costs nothing; a failure is reported as before
 * (a crash is reported at the last explicit mark_point(), and hp's own abort message names
 * the problem). */
#undef ck_assert_msg
#define ck_assert_msg(expr, ...) \
  ((expr) ? (void)0 : _ck_assert_failed(__FILE__, __LINE__, "Assertion '" #expr "' failed", ##__VA_ARGS__))

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define T_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define T_SANITIZER 1
#endif
#endif
#ifndef T_SANITIZER
#define T_SANITIZER 0
#endif

/* The library's debug_level, passed by tests/gc/meson.build. */
#ifndef T_HP_DEBUG
#define T_HP_DEBUG 1
#endif

#define T_KiB ((size_t)1 << 10)
#define T_MiB ((size_t)1 << 20)

/* ------------------------------------------------------------------------------------
 *  Runtimes
 * ------------------------------------------------------------------------------------ */

/* N of HP_TEST_STRESS, or 0. */
static inline unsigned t_stress(void) {
  const char *s = getenv("HP_TEST_STRESS");
  if (s == NULL || *s == '\0') return 0;
  long v = strtol(s, NULL, 10);
  return v > 0 ? (unsigned)v : 0;
}

/* A config with the defaults (to be adjusted by the test before t_runtime). */
static inline hp_config t_config(void) {
  hp_config c;
  hp_config_default(&c);
  return c;
}

/* Makes the test's runtime from cfg (NULL: defaults), in stress mode if HP_TEST_STRESS is
 * set. Fails the test if it cannot be made. Roots are precise: the tests count exactly what
 * survives and which objects move, which a conservative scan of the C stack would blur (an
 * old address left in a dead stack slot keeps its object alive and pinned), so
 * conservative_stack is off here. */
static inline hp_runtime *t_runtime(const hp_config *cfg) {
  hp_config c = cfg ? *cfg : t_config();
  c.conservative_stack = false;
  unsigned n = t_stress();
  if (n) {
    c.stress = n;
    if (c.verify < 1) c.verify = 1;
  }
  hp_runtime *rt = hp_runtime_new(&c);
  ck_assert_msg(rt != NULL, "hp_runtime_new failed: errno %d", errno);
  return rt;
}

/* Loop sizes: plain build, sanitizer build, stress mode (the smallest that applies). */
static inline size_t t_big(size_t plain, size_t sanitizer, size_t stress) {
  size_t n = T_SANITIZER ? sanitizer : plain;
  if (t_stress() && stress < n) n = stress;
  return n;
}

/* ------------------------------------------------------------------------------------
 *  Where an object is
 * ------------------------------------------------------------------------------------ */

static inline bool t_is_young(const hp_thread *t, const void *p) {
  return (uintptr_t)p - t->young_lo < t->young_size;
}

static inline uint64_t t_gc_count(hp_runtime *rt) {
  struct hp_gc_stats st;
  hp_gc_stats(rt, &st);
  return st.minor_count + st.major_count;
}

static inline struct hp_gc_stats t_stats(hp_runtime *rt) {
  struct hp_gc_stats st;
  hp_gc_stats(rt, &st);
  return st;
}

/* A quiet window: t_window_quiet is true if no collection ran since t_window_open. Tests
 * that need to know exactly what is in the young generation allocate in a window and try
 * again (a bounded number of times) when a stress collection interrupted it. */
typedef struct t_window { hp_runtime *rt; uint64_t count; } t_window;
#define T_WINDOW_ATTEMPTS 16
/* Whether a window of n allocations can be quiet at all: HP_TEST_STRESS=N collects at every
 * N-th allocation. A test that needs one returns early (and says so) when it cannot. */
static inline bool t_can_window(size_t n) { return t_stress() == 0 || t_stress() > n; }
#define T_NEED_WINDOW(n)                                                                     \
  do {                                                                                       \
    if (!t_can_window(n)) {                                                                  \
      fprintf(stderr, "%s: not run: HP_TEST_STRESS=%u leaves no quiet window of %zu allocations\n", \
              __func__, t_stress(), (size_t)(n));                                            \
      return;                                                                                \
    }                                                                                        \
  } while (0)
static inline t_window t_window_open(hp_runtime *rt) { return (t_window){ rt, t_gc_count(rt) }; }
static inline bool t_window_quiet(const t_window *w) { return t_gc_count(w->rt) == w->count; }

/* Object bytes (header included) of a body of `size` bytes, as hp_new lays it out. */
static inline size_t t_obj_bytes(size_t size) { return (size + 15) & ~(size_t)7; }

/* ------------------------------------------------------------------------------------
 *  A value generator (splitmix64) and mixing
 * ------------------------------------------------------------------------------------ */

static inline uint64_t t_mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

typedef struct t_rng { uint64_t s; } t_rng;
static inline uint64_t t_next(t_rng *r) { return t_mix(r->s++); }
static inline size_t t_below(t_rng *r, size_t n) { return (size_t)(t_next(r) % (uint64_t)n); }

/* ------------------------------------------------------------------------------------
 *  Capturing stderr (warnings, the gc log)
 * ------------------------------------------------------------------------------------ */

typedef struct t_capture { int saved; FILE *f; } t_capture;

static inline t_capture t_capture_begin(void) {
  t_capture c;
  fflush(stderr);
  c.f = tmpfile();
  ck_assert_ptr_nonnull(c.f);
  c.saved = dup(2);
  ck_assert_int_ge(c.saved, 0);
  ck_assert_int_ge(dup2(fileno(c.f), 2), 0);
  return c;
}

/* Restores stderr; returns what was written (malloc'd, NUL-terminated). */
static inline char *t_capture_end(t_capture *c) {
  fflush(stderr);
  ck_assert_int_ge(dup2(c->saved, 2), 0);
  close(c->saved);
  long n = ftell(c->f);
  ck_assert_int_ge(n, 0);
  char *s = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(s);
  rewind(c->f);
  size_t r = fread(s, 1, (size_t)n, c->f);
  s[r] = '\0';
  fclose(c->f);
  return s;
}

static inline size_t t_count_substr(const char *s, const char *sub) {
  size_t n = 0, len = strlen(sub);
  for (const char *p = strstr(s, sub); p; p = strstr(p + len, sub)) n++;
  return n;
}

#endif /* HP_TESTS_GC_TEST_H */
