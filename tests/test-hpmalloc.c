/* tests/test-hpmalloc.c -- the entry points of libhpmalloc.so (pools/malloc.c), linked into
 * this program so that its malloc, and Check's, and the C library's, are the pools'.
 *
 * Every test first checks that the malloc it calls is libhpmalloc's (dladdr), so that a
 * build that silently fell back to glibc's fails instead of passing.
 */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-common.h"

static void expect_hpmalloc(void) {
  Dl_info info;
  void *(*volatile m)(size_t) = malloc;
  ck_assert(dladdr((void *)m, &info) != 0);
  ck_assert_msg(info.dli_fname && strstr(info.dli_fname, "libhpmalloc"), "malloc is from %s", info.dli_fname);
  void *p = malloc(100);
  ck_assert_uint_eq(malloc_usable_size(p), 112);  /* the pools' class (glibc would say 104) */
  free(p);
}

static bool aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

START_TEST(alignments) {
  expect_hpmalloc();
  static const size_t aligns[] = { 8, 16, 32, 64, 128, 256, 4096, 65536, 1 << 20 };
  static const size_t sizes[] = { 0, 1, 24, 64, 100, 1000, 5000, 70000, 300000 };
  for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++) {
    for (size_t j = 0; j < sizeof sizes / sizeof *sizes; j++) {
      size_t a = aligns[i], n = sizes[j];
      void *p = NULL;
      ck_assert_int_eq(posix_memalign(&p, a, n), 0);
      T_CHECK(aligned(p, a) && malloc_usable_size(p) >= n, "posix_memalign(%zu, %zu) = %p", a, n, p);
      memset(p, 0x5A, n);
      free(p);
      p = aligned_alloc(a, n);
      T_CHECK(p && aligned(p, a), "aligned_alloc(%zu, %zu) = %p", a, n, p);
      free(p);
      p = memalign(a, n);
      T_CHECK(p && aligned(p, a), "memalign(%zu, %zu) = %p", a, n, p);
      free(p);
    }
  }
  size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  void *v = valloc(10);
  ck_assert(v && aligned(v, ps));
  void *pv = pvalloc(ps + 1);                     /* rounded up to two pages */
  ck_assert(pv && aligned(pv, ps) && malloc_usable_size(pv) >= 2 * ps);
  memset(pv, 1, 2 * ps);
  free(v);
  free(pv);
  for (int i = 0; i < 1000; i++) {                /* plain malloc: 16-byte aligned */
    void *p = malloc((size_t)i * 7);
    T_CHECK(aligned(p, 16), "malloc(%d) = %p", i * 7, p);
    free(p);
  }
}
END_TEST

/* Sizes the compiler cannot see (it rejects the constant ones it can prove too large). */
static volatile size_t v_max = SIZE_MAX, v_half = SIZE_MAX / 2, v_8th = SIZE_MAX / 8;

START_TEST(errors_and_errno) {
  expect_hpmalloc();
  void *p = (void *)1;
  errno = 0;
  ck_assert_int_eq(posix_memalign(&p, 24, 64), EINVAL);       /* not a power of two */
  ck_assert_int_eq(posix_memalign(&p, 4, 64), EINVAL);        /* below sizeof(void *) */
  ck_assert_ptr_eq(p, (void *)1);                             /* untouched on failure */
  ck_assert_int_eq(errno, 0);                                 /* result only, errno kept */
  ck_assert_int_eq(posix_memalign(&p, 64, v_half), ENOMEM);
  errno = 0;
  ck_assert_ptr_null(aligned_alloc(48, 64));
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_ptr_null(malloc(v_max - 100));
  ck_assert_int_eq(errno, ENOMEM);
  errno = 0;
  ck_assert_ptr_null(malloc((size_t)1 << 62));
  ck_assert_int_eq(errno, ENOMEM);
  errno = 0;
  ck_assert_ptr_null(calloc(v_8th, 16));               /* n * size overflows */
  ck_assert_int_eq(errno, ENOMEM);
  errno = 0;
  ck_assert_ptr_null(calloc(v_8th >> 27, v_8th >> 30));
  ck_assert_int_eq(errno, ENOMEM);
  void *q = malloc(10);
  errno = 0;
  ck_assert_ptr_null(reallocarray(q, v_half, 3));       /* overflow: q is kept */
  ck_assert_int_eq(errno, ENOMEM);
  errno = 0;
  ck_assert_ptr_null(realloc(q, v_max - 4096));
  ck_assert_int_eq(errno, ENOMEM);
  memset(q, 7, 10);                                           /* still ours */
  free(q);
  free(NULL);
  ck_assert_uint_eq(malloc_usable_size(NULL), 0);
  void *z = malloc(0);                                        /* a unique, freeable block */
  void *z2 = malloc(0);
  ck_assert(z && z2 && z != z2);
  free(z);
  free(z2);
}
END_TEST

START_TEST(calloc_is_zero) {
  expect_hpmalloc();
  /* Dirty the blocks first, so that a calloc that did not clear would be seen. */
  static const size_t sizes[] = { 1, 16, 100, 2048, 5000, 65536, 200000, 3 << 20 };
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    for (int round = 0; round < 3; round++) {
      unsigned char *d = malloc(sizes[i]);
      memset(d, 0xEE, sizes[i]);
      free(d);
      unsigned char *c = calloc(sizes[i], 1);
      ck_assert_ptr_nonnull(c);
      for (size_t k = 0; k < sizes[i]; k++) T_CHECK(c[k] == 0, "calloc(%zu): byte %zu is %d", sizes[i], k, c[k]);
      free(c);
    }
  }
  int *a = calloc(1000, sizeof(int));
  for (int i = 0; i < 1000; i++) T_CHECK(a[i] == 0, "%d", i);
  free(a);
}
END_TEST

/* realloc keeps the contents through growth by doubling, by small steps, and shrinking;
 * the growth crosses every tier (small, medium, large, huge). */
START_TEST(realloc_contents) {
  expect_hpmalloc();
  unsigned char *p = NULL;
  size_t n = 0;
  for (size_t want = 1; want <= (8u << 20); want = want * 2 + 3) {
    p = realloc(p, want);
    ck_assert_ptr_nonnull(p);
    for (size_t k = 0; k < n; k++) T_CHECK(p[k] == (unsigned char)(k * 31 + 7), "size %zu: byte %zu", want, k);
    for (size_t k = n; k < want; k++) p[k] = (unsigned char)(k * 31 + 7);
    n = want;
  }
  for (size_t want = n; want > 10; want = want / 3) {        /* shrinking */
    p = realloc(p, want);
    for (size_t k = 0; k < want; k++) T_CHECK(p[k] == (unsigned char)(k * 31 + 7), "shrink %zu: byte %zu", want, k);
  }
  char *s = NULL;                                              /* a string grown a byte at a time */
  for (int i = 0; i < 5000; i++) {
    s = realloc(s, (size_t)i + 2);
    s[i] = (char)('a' + i % 26);
    s[i + 1] = 0;
  }
  for (int i = 0; i < 5000; i++) T_CHECK(s[i] == (char)('a' + i % 26), "byte %d", i);
  free(s);
  ck_assert_ptr_null(realloc(p, 0));                           /* frees, as glibc does */
  void *r = realloc(NULL, 50);                                 /* malloc */
  ck_assert(r && malloc_usable_size(r) >= 50);
  r = reallocarray(r, 100, 10);
  ck_assert(r && malloc_usable_size(r) >= 1000);
  free(r);
}
END_TEST

/* Blocks freed by a thread other than the one that allocated them, after that thread has
 * exited; threads cancelled while they hold blocks; each block keeps its contents. */
#define XT_N 2000
static void *alloc_many(void *arg) {
  (void)arg;
  uint32_t **p = malloc(XT_N * sizeof *p);
  for (uint32_t i = 0; i < XT_N; i++) {
    p[i] = malloc(16 + (i % 300));
    p[i][0] = i;
  }
  return p;
}

static void *alloc_and_sleep(void *arg) {
  void **slot = arg;
  *slot = malloc(1000);
  memset(*slot, 3, 1000);
  for (;;) pause();                                           /* cancelled here */
  return NULL;
}

START_TEST(threads_exit_and_cancel) {
  expect_hpmalloc();
  for (int round = 0; round < 10; round++) {
    pthread_t t;
    void *res;
    ck_assert_int_eq(pthread_create(&t, NULL, alloc_many, NULL), 0);
    pthread_join(t, &res);                                     /* it has exited */
    uint32_t **p = res;
    for (uint32_t i = 0; i < XT_N; i++) {
      T_CHECK(p[i][0] == i, "block %u", i);
      free(p[i]);
    }
    free(p);
    void *held = NULL;
    ck_assert_int_eq(pthread_create(&t, NULL, alloc_and_sleep, &held), 0);
    while (__atomic_load_n(&held, __ATOMIC_ACQUIRE) == NULL) usleep(100);
    usleep(1000);
    pthread_cancel(t);
    pthread_join(t, NULL);
    unsigned char *h = held;
    for (int k = 0; k < 1000; k++) T_CHECK(h[k] == 3, "byte %d", k);
    free(held);
  }
}
END_TEST

/* fork while another thread allocates in a loop: the child allocates and frees (its locks
 * were not left held by the thread that did not fork), and so does the parent after. */
static _Atomic bool stop_churn;
static void *churn(void *arg) {
  (void)arg;
  void *keep[64] = { 0 };
  for (uint64_t i = 0; !atomic_load(&stop_churn); i++) {
    free(keep[i % 64]);
    keep[i % 64] = malloc(16 + (i * 37) % 70000);
  }
  for (int i = 0; i < 64; i++) free(keep[i]);
  return NULL;
}

START_TEST(fork_while_allocating) {
  expect_hpmalloc();
  pthread_t t;
  atomic_store(&stop_churn, false);
  ck_assert_int_eq(pthread_create(&t, NULL, churn, NULL), 0);
  for (int round = 0; round < 20; round++) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
      void *p[1000];
      for (int i = 0; i < 1000; i++) { p[i] = malloc((size_t)i * 50 + 1); memset(p[i], 1, (size_t)i * 50 + 1); }
      for (int i = 0; i < 1000; i++) free(p[i]);
      pthread_t u;                                             /* threads work in the child too */
      if (pthread_create(&u, NULL, alloc_many, NULL) != 0) _exit(2);
      void *res;
      pthread_join(u, &res);
      _exit(((uint32_t **)res)[XT_N - 1][0] == XT_N - 1 ? 0 : 3);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %d", round, status);
  }
  atomic_store(&stop_churn, true);
  pthread_join(t, NULL);
}
END_TEST

/* dlopen and dlclose allocate in the loader; a library loaded afterwards calls our malloc. */
START_TEST(dlopen_library) {
  expect_hpmalloc();
  for (int i = 0; i < 20; i++) {
    void *h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "dlopen: %s", dlerror());
    char *(*strdup_fn)(const char *) = (char *(*)(const char *))dlsym(RTLD_DEFAULT, "strdup");
    char *s = strdup_fn("allocated by the C library's strdup");
    ck_assert_uint_eq(malloc_usable_size(s), 48);             /* 37 bytes: the pools' 48 class */
    free(s);
    ck_assert_int_eq(dlclose(h), 0);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("hpmalloc");
  TCase *tc = tcase_create("entry points");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, alignments);
  tcase_add_test(tc, errors_and_errno);
  tcase_add_test(tc, calloc_is_zero);
  tcase_add_test(tc, realloc_contents);
  suite_add_tcase(s, tc);
  tc = tcase_create("process");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, threads_exit_and_cancel);
  tcase_add_test(tc, fork_while_allocating);
  tcase_add_test(tc, dlopen_library);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_set_fork_status(sr, CK_FORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
