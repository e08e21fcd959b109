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
 *
 * Conservative-only roots: a test program compiled with -DT_CONSERVATIVE_ONLY (meson builds
 * test-gc-api.c, test-gc-internal.c and test-gc-death.c a second time that way, registered
 * as gc-<name>-conservative) has no shadow stack: HP_ROOTS and HP_UNROOT do nothing, so a managed pointer in a C local is found only by
 * the conservative scan of the stack and registers, and t_runtime turns
 * cfg.conservative_stack on. Global roots, ranges and callbacks stay precise. A test whose
 * point is that a young object moves, or that counts exactly what is copied, promoted or
 * freed, cannot hold when whatever a stack word points to is pinned; such tests are listed
 * with the reason in t_conservative_skips below and are not added to the suite (a line on
 * stderr names each). Everything else runs unchanged.
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
#include <signal.h>
#include <sys/wait.h>
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

/* ------------------------------------------------------------------------------------
 *  Conservative-only roots (see the top of this file)
 * ------------------------------------------------------------------------------------ */

#ifdef T_CONSERVATIVE_ONLY
#define T_CONSERVATIVE true
/* No shadow stack: the frame is declared (tests may name it) but never linked, and the
 * locals' addresses are not taken (sizeof does not evaluate them), so the compiler keeps the
 * locals wherever it likes, or nowhere once they are dead. */
#undef HP_ROOTS
#undef HP_UNROOT
#define HP_ROOTS(t, name, ...) \
  hp_frame name = { NULL, 0, NULL }; (void)(t); (void)name; (void)sizeof((void **[]){ __VA_ARGS__ })
#define HP_UNROOT(t, name) ((void)(t), (void)(name))

/* Tests that cannot hold when every object a stack word points to is pinned, by name (the
 * START_TEST name, in any of the gc test programs), with the reason. Every other test of every
 * program runs unchanged. */
static const struct { const char *name, *why; } t_conservative_skips[] = {
  /* test-gc-api.c: a pinned young object does not move, and is promoted in place (it stays in
   * the young address range and counts in pinned_held, not in bytes_promoted or old_live). */
  { "test_roots_random_graph", "g_collect checks that every young node moved at a minor collection" },
  { "test_roots_frames_nested", "checks t->frames == &fr (there are no frames), that young nodes moved and "
                                "that a major collection took them out of the young range" },
  { "test_roots_frame", "collect_chain checks that young nodes moved (its before[] array pins them)" },
  { "test_roots_global", "collect_chain checks that young nodes moved (its before[] array pins them)" },
  { "test_roots_range", "checks that young range slots moved (its stale[] array pins them)" },
  { "test_roots_callback", "collect_chain checks that young nodes moved (its before[] array pins them)" },
  { "test_stats_promoted_identity", "young_live + bytes_promoted == bytes allocated: pinned bytes are neither" },
  { "test_stats_old_live_exact", "x is never read after the collection, so it is dead to the compiler and "
                                 "only the frame kept the chain's head" },
  { "test_tenure_exact_age", "checks that x moves at each minor collection and leaves the young range at "
                             "the tenure age; x is pinned" },
  { "test_old_to_young_barrier", "checks that holder leaves the young range at a major collection and "
                                 "that holder->a moves; both are pinned" },
  { "test_deep_list", "old_live >= all cells and bytes_promoted == all cells: the cells named by stack "
                      "words are pinned (pinned_held)" },
  { "test_trace_tagged", "checks that o->v[2] moved; the test's own copy v2 pins it" },
  { "test_heap_limit_list", "hp_verify_heap == 0 after head = NULL: a dead chunk pointer left in a "
                            "callee-saved register or spill slot keeps part of the list" },
  { "test_verify_count", "exact live counts after x = NULL: x and y are dead to the compiler, so the "
                         "counts depend on what the frame kept" },
  /* test-gc-internal.c */
  { "test_age_bits", "checks the age of a young node at each minor collection in from-space; it is pinned" },
  { "test_barrier_remembers_once", "old and old2 are pinned old (in the young range): the barrier does not "
                                   "remember them, pinned objects are traced at each minor collection" },
  { "test_promoted_points_young", "checks that a is promoted out of the young range; it is pinned" },
  { "test_promoted_points_young_rooted", "checks that a is promoted out of the young range; it is pinned" },
  { "test_overflow_promotes_young_ages", "young_live == the bytes of the blobs in the young range: a blob "
                                        "named by a stack word is pinned there without being copied" },
  { "test_large_and_huge_objects", "exact huge-object count after dropping two: a stale word keeps one" },
  { "test_zero_size_at_eden_end", "checks that z is copied; named by a local, z must be pinned instead "
                                  "(test-gc-conservative.c tests that)" },
  { "test_dead_young_poisoned", "reads the dead object through a local after the collection: that local "
                                "keeps it alive (pinned), so nothing is poisoned" },
  /* test-gc-death.c: old_node() expects a major collection to take the node out of the young
   * range; a node in a local is pinned old instead, and a missing barrier on a pinned object is
   * harmless (pinned objects are traced at every minor collection), so nothing dies. */
  { "death_barrier_verify2", "the old node is pinned" },
  { "control_barrier_verify2", "the old node is pinned" },
  { "death_barrier_verify1", "the old node is pinned" },
  { "death_barrier_verify_heap", "the old node is pinned" },
  { "control_barrier_verify_heap", "the old node is pinned" },
  { "death_stale_pointer", "the \"stale\" local y is a conservative root: it keeps the node alive and "
                           "pinned, so it is not stale and nothing dies" },
};

/* Check's _tcase_add_test, less the tests listed above (tcase_add_test and
 * tcase_add_test_raise_signal both come here). */
static inline void t_tcase_add_test(TCase *tc, const TTest *tf, int signal) {
  for (size_t i = 0; i < sizeof t_conservative_skips / sizeof t_conservative_skips[0]; i++) {
    if (strcmp(tf->name, t_conservative_skips[i].name) == 0) {
      fprintf(stderr, "%s: not run with conservative-only roots: %s\n", tf->name, t_conservative_skips[i].why);
      return;
    }
  }
  _tcase_add_test(tc, tf, signal, 0, 0, 1);
}
#undef tcase_add_test
#undef tcase_add_test_raise_signal
#define tcase_add_test(tc, tf) t_tcase_add_test((tc), (tf), 0)
#define tcase_add_test_raise_signal(tc, tf, signal) t_tcase_add_test((tc), (tf), (signal))
#else
#define T_CONSERVATIVE false
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

/* A config with the defaults (to be adjusted by the test before t_runtime), but for the
 * sizing policies, which adapt to measured time (gc/sizing.c): the tests place and count
 * objects exactly, so they run with a fixed eden and a fixed old-generation growth. The
 * policies are tested with given measurements (test-gc-internal.c, test_sizing_*). */
static inline hp_config t_config(void) {
  hp_config c;
  hp_config_default(&c);
  c.adaptive_eden = false;
  c.major_gc_percent = 0;
  return c;
}

/* Makes a runtime from cfg (NULL: defaults) with cfg's conservative_stack as it is, in stress
 * mode if HP_TEST_STRESS is set. Fails the test if it cannot be made. The conservative tests
 * (test-gc-conservative.c) make theirs with this. */
static inline hp_runtime *t_runtime_as_is(const hp_config *cfg) {
  hp_config c = cfg ? *cfg : t_config();
  unsigned n = t_stress();
  if (n) {
    c.stress = n;
    if (c.verify < 1) c.verify = 1;
  }
  /* HP_TEST_MARK_MODE and HP_TEST_STRESS_FINISH (the incremental variants of tests/gc): how
   * due major collections run, and when a stress cycle finishes. */
  const char *mm = getenv("HP_TEST_MARK_MODE"), *sf = getenv("HP_TEST_STRESS_FINISH");
  if (mm && *mm) c.mark_mode = (unsigned)strtoul(mm, NULL, 10);
  if (sf && *sf) c.stress_finish = (unsigned)strtoul(sf, NULL, 10);
  hp_runtime *rt = hp_runtime_new(&c);
  ck_assert_msg(rt != NULL, "hp_runtime_new failed: errno %d", errno);
  return rt;
}

/* Makes the test's runtime from cfg (NULL: defaults), as t_runtime_as_is. Roots are precise:
 * the tests count exactly what survives and which objects move, which a conservative scan of
 * the C stack would blur (an old address left in a dead stack slot keeps its object alive and
 * pinned), so conservative_stack is off here -- except in the conservative-only build, where
 * it is the only way C locals are found. */
static inline hp_runtime *t_runtime(const hp_config *cfg) {
  hp_config c = cfg ? *cfg : t_config();
  c.conservative_stack = T_CONSERVATIVE;
  return t_runtime_as_is(&c);
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

/* Runs fn(arg) in a child process of its own with stderr going to a pipe, and asserts that
 * the child died of SIGABRT. Returns what it wrote on stderr (malloc'd), for the test to
 * check the message: a death test that also says why it died. */
static inline char *t_abort_message(void (*fn)(void *), void *arg) {
  int fd[2];
  fflush(stderr);
  ck_assert_int_eq(pipe(fd), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    close(fd[0]);
    dup2(fd[1], 2);
    fn(arg);
    _exit(0);
  }
  close(fd[1]);
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  ck_assert_ptr_nonnull(buf);
  for (;;) {
    if (len + 1 == cap) {
      buf = realloc(buf, cap *= 2);
      ck_assert_ptr_nonnull(buf);
    }
    ssize_t n = read(fd[0], buf + len, cap - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  close(fd[0]);
  int st;
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "expected an abort; status %#x, stderr: %s", st, buf);
  return buf;
}

static inline size_t t_count_substr(const char *s, const char *sub) {
  size_t n = 0, len = strlen(sub);
  for (const char *p = strstr(s, sub); p; p = strstr(p + len, sub)) n++;
  return n;
}

#endif /* HP_TESTS_GC_TEST_H */
