/* tests/test-pools-api.c -- the pools as an embedder sees them: this file includes only
 * <hp.h> (and the C library).
 *
 * Every test runs in a process of its own (Check's fork mode, forced in main), so each starts
 * with fresh pools: statistics are compared against a snapshot taken at the start of the test,
 * and a size class no earlier step of the test used starts empty.
 */
#include <hp.h>

#include <check.h>
#include <errno.h>
#include <signal.h>

#include "test-common.h"

/* The most a request of s bytes may be rounded up to: below 64 KiB neighbouring classes are
 * at most 16 bytes or 25% apart; above, a block is whole 64 KiB pages. */
static size_t max_usable(size_t s) {
  if (s <= 65536) return s + (s / 4 > 16 ? s / 4 : 16);
  return (s + 65535) & ~(size_t)65535;
}

/* The class whose block size is the usable size of a block of `size` bytes. */
static unsigned class_of_block(const struct hp_pool_stats *st, const void *p) {
  size_t u = hp_pool_usable_size(p);
  for (unsigned c = 0; c < st->nclasses; c++)
    if (st->classes[c].block_size == u) return c;
  ck_abort_msg("no class has block size %zu", u);
  return 0;
}

/* ------------------------------------------------------------------------------------
 *  Sizes and alignment
 * ------------------------------------------------------------------------------------ */

START_TEST(version_matches_header) {
  ck_assert_int_eq(hp_version(), HP_VERSION);
  ck_assert_int_eq(HP_VERSION, HP_VERSION_MAJOR * 10000 + HP_VERSION_MINOR * 100 + HP_VERSION_PATCH);
}
END_TEST

/* Every size 0..4096, then every 61st up to 70,000: a 16-byte aligned block whose usable size
 * covers the request and is not rounded up by more than the class spacing; all blocks held
 * at once, filled to their usable size, read back intact. */
START_TEST(every_size_gets_a_block) {
  size_t cap = 4097 + (70000 - 4097) / 61 + 8, n = 0;
  size_t *sz = malloc(cap * sizeof *sz);
  void **p = malloc(cap * sizeof *p);
  ck_assert(sz && p);
  for (size_t s = 0; s <= 4096; s++) sz[n++] = s;
  for (size_t s = 4097; s <= 70000; s += 61) sz[n++] = s;
  sz[n++] = 65535; sz[n++] = 65536; sz[n++] = 65537; sz[n++] = 70000;

  struct hp_pool_stats s0, s1;
  hp_pool_stats(&s0);
  for (size_t i = 0; i < n; i++) {
    p[i] = hp_pool_alloc(sz[i]);
    T_CHECK(p[i] != NULL, "hp_pool_alloc(%zu) failed", sz[i]);
    T_CHECK((uintptr_t)p[i] % 16 == 0, "hp_pool_alloc(%zu) = %p not 16-aligned", sz[i], p[i]);
    size_t u = hp_pool_usable_size(p[i]);
    T_CHECK(u >= sz[i] && u <= max_usable(sz[i]), "size %zu: usable %zu", sz[i], u);
    if (sz[i] > 65536) T_CHECK(u == max_usable(sz[i]), "size %zu: usable %zu", sz[i], u); /* whole pages */
    t_fill(p[i], u, (uint32_t)i);
  }
  for (size_t i = 0; i < n; i++)
    T_CHECK(t_check(p[i], hp_pool_usable_size(p[i]), (uint32_t)i) == T_OK,
            "block %zu (size %zu) was overwritten", i, sz[i]);
  hp_pool_stats(&s1);
  ck_assert_uint_eq(s1.total.allocs - s0.total.allocs, n);
  ck_assert_uint_eq(s1.total.blocks_in_use - s0.total.blocks_in_use, n);
  for (size_t i = 0; i < n; i++) {
    if (i & 1) hp_pool_free_sized(p[i], sz[i]);
    else hp_pool_free(p[i]);
  }
  hp_pool_stats(&s1);
  ck_assert_uint_eq(s1.total.frees - s0.total.frees, n);
  ck_assert_uint_eq(s1.total.blocks_in_use, s0.total.blocks_in_use);
  ck_assert_uint_eq(s1.total.bytes_in_use, s0.total.bytes_in_use);
  free(sz);
  free(p);
}
END_TEST

static const size_t align_sizes[] = {
  0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 1000, 2047, 2048, 2049,
  4095, 4096, 4097, 10000, 32768, 65535, 65536, 65537, 100000,
  (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 << 20,
};
#define NALIGN_SIZES (sizeof align_sizes / sizeof align_sizes[0])

/* hp_pool_alloc_aligned for 32 B .. 1 MiB alignments and sizes across all tiers: the address
 * is a multiple of the alignment, the usable size covers the request, and blocks held at once
 * do not overlap. Alignments up to 16 give ordinary 16-aligned blocks. */
START_TEST(aligned_blocks) {
  static const size_t aligns[] = { 1, 2, 4, 8, 16, 32, 64, 128, 4096, 65536, 1 << 20 };
  enum { NA = sizeof aligns / sizeof aligns[0] };
  void *p[NA][NALIGN_SIZES];
  for (size_t a = 0; a < NA; a++) {
    for (size_t k = 0; k < NALIGN_SIZES; k++) {
      size_t al = aligns[a], s = align_sizes[k];
      void *b = hp_pool_alloc_aligned(s, al);
      ck_assert_msg(b != NULL, "hp_pool_alloc_aligned(%zu, %zu) failed", s, al);
      size_t want = al < 16 ? 16 : al;
      ck_assert_msg((uintptr_t)b % want == 0, "hp_pool_alloc_aligned(%zu, %zu) = %p", s, al, b);
      ck_assert_msg(hp_pool_usable_size(b) >= s, "size %zu align %zu: usable %zu", s, al,
                    hp_pool_usable_size(b));
      t_fill(b, s, (uint32_t)(a * 1000 + k));
      p[a][k] = b;
    }
  }
  for (size_t a = 0; a < NA; a++)
    for (size_t k = 0; k < NALIGN_SIZES; k++)
      ck_assert_msg(t_check(p[a][k], align_sizes[k], (uint32_t)(a * 1000 + k)) == T_OK,
                    "aligned block %zu/%zu overwritten", aligns[a], align_sizes[k]);
  struct hp_pool_stats s0, s1;
  hp_pool_stats(&s0);
  for (size_t a = 0; a < NA; a++)
    for (size_t k = 0; k < NALIGN_SIZES; k++) hp_pool_free(p[a][k]);
  hp_pool_stats(&s1);
  ck_assert_uint_eq(s1.total.frees - s0.total.frees, NA * NALIGN_SIZES);
  ck_assert_uint_eq(s0.total.blocks_in_use - s1.total.blocks_in_use, NA * NALIGN_SIZES);
}
END_TEST

/* An alignment that is not a power of two is refused with EINVAL, and nothing is counted. */
START_TEST(aligned_bad_alignment_is_einval) {
  static const size_t bad[] = { 0, 3, 5, 6, 7, 12, 24, 48, 96, 100, 1000, 4097, 65535, 65537,
                                3 << 20, SIZE_MAX, ((size_t)1 << 40) + 1 };
  static const size_t sizes[] = { 0, 1, 16, 100, 5000, 70000 };
  struct hp_pool_stats s0, s1;
  hp_pool_stats(&s0);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
      errno = 0;
      void *b = hp_pool_alloc_aligned(sizes[k], bad[i]);
      ck_assert_msg(b == NULL, "hp_pool_alloc_aligned(%zu, %zu) = %p", sizes[k], bad[i], b);
      ck_assert_msg(errno == EINVAL, "align %zu: errno %d, not EINVAL", bad[i], errno);
    }
  }
  hp_pool_stats(&s1);
  ck_assert_uint_eq(s1.total.allocs, s0.total.allocs);
  ck_assert_uint_eq(s1.total.blocks_in_use, s0.total.blocks_in_use);
}
END_TEST

/* Sizes (and alignments) that cannot be served give NULL with ENOMEM; nothing is counted and
 * the pools still serve ordinary requests afterwards. */
START_TEST(impossible_sizes_are_enomem) {
  static const size_t sizes[] = { SIZE_MAX, SIZE_MAX - 100, SIZE_MAX / 2, (size_t)1 << 62,
                                  (size_t)1 << 48, (size_t)1 << 40 };
  struct hp_pool_stats s0, s1;
  void *warm = hp_pool_alloc(100);
  ck_assert_ptr_nonnull(warm);
  hp_pool_stats(&s0);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    errno = 0;
    void *b = hp_pool_alloc(sizes[i]);
    ck_assert_msg(b == NULL && errno == ENOMEM, "hp_pool_alloc(%zu) = %p errno %d", sizes[i], b, errno);
    static const size_t aligns[] = { 32, 64, 4096, 65536, 1 << 20 };
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
      errno = 0;
      b = hp_pool_alloc_aligned(sizes[i], aligns[a]);
      ck_assert_msg(b == NULL && errno == ENOMEM, "hp_pool_alloc_aligned(%zu, %zu) = %p errno %d",
                    sizes[i], aligns[a], b, errno);
    }
  }
  /* An alignment larger than any address range the pools can have. */
  errno = 0;
  ck_assert_ptr_null(hp_pool_alloc_aligned(16, (size_t)1 << 62));
  ck_assert_int_eq(errno, ENOMEM);
  hp_pool_stats(&s1);
  ck_assert_uint_eq(s1.total.allocs, s0.total.allocs);
  ck_assert_uint_eq(s1.total.blocks_in_use, s0.total.blocks_in_use);
  ck_assert_uint_eq(s1.tiers[HP_TIER_HUGE].allocs, s0.tiers[HP_TIER_HUGE].allocs);

  void *b = hp_pool_alloc(1 << 20);
  ck_assert_ptr_nonnull(b);
  t_fill(b, 1 << 20, 7);
  ck_assert(t_check(b, 1 << 20, 7) == T_OK);
  hp_pool_free(b);
  hp_pool_free(warm);
}
END_TEST

/* Size 0 gives valid blocks, all distinct and not overlapping. */
START_TEST(size_zero_blocks_are_distinct) {
  enum { N = 5000 };
  void **p = malloc(N * sizeof *p);
  for (size_t i = 0; i < N; i++) {
    p[i] = (i % 5 == 4) ? hp_pool_alloc_aligned(0, 64) : hp_pool_alloc(0);
    T_CHECK(p[i] != NULL && hp_pool_usable_size(p[i]) >= 1, "size-0 block %zu", i);
    t_fill(p[i], hp_pool_usable_size(p[i]), (uint32_t)i);
  }
  for (size_t i = 0; i < N; i++)
    T_CHECK(t_check(p[i], hp_pool_usable_size(p[i]), (uint32_t)i) == T_OK, "block %zu overwritten", i);
  void **q = malloc(N * sizeof *q);
  memcpy(q, p, N * sizeof *q);
  qsort(q, N, sizeof *q, t_cmp_ptr);
  for (size_t i = 1; i < N; i++)
    T_CHECK((uintptr_t)q[i - 1] + hp_pool_usable_size(q[i - 1]) <= (uintptr_t)q[i],
            "size-0 blocks %p and %p overlap", q[i - 1], q[i]);
  for (size_t i = 0; i < N; i++) hp_pool_free(p[i]);
  free(p);
  free(q);
}
END_TEST

/* NULL is a no-op for both frees and has usable size 0; nothing is counted. */
START_TEST(free_null_is_noop) {
  void *keep = hp_pool_alloc(40);
  struct hp_pool_stats s0, s1;
  hp_pool_stats(&s0);
  hp_pool_free(NULL);
  hp_pool_free_sized(NULL, 0);
  hp_pool_free_sized(NULL, 100);
  ck_assert_uint_eq(hp_pool_usable_size(NULL), 0);
  hp_pool_stats(&s1);
  ck_assert_uint_eq(s1.total.frees, s0.total.frees);
  ck_assert_uint_eq(s1.total.allocs, s0.total.allocs);
  ck_assert_uint_eq(s1.total.blocks_in_use, s0.total.blocks_in_use);
  ck_assert_uint_eq(s1.total.blocks_in_use, 1);
  hp_pool_free(keep);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Many blocks, reuse
 * ------------------------------------------------------------------------------------ */

/* A size from every tier: mostly small, some medium, a few large, rare huge. */
static size_t mixed_size(t_rng *r) {
  unsigned x = (unsigned)(t_next(r) % 1000);
  if (x < 700) return t_range(r, 0, 128);
  if (x < 950) return t_range(r, 129, 2048);
  if (x < 998) return t_range(r, 2049, 65536);
  return t_range(r, 65537, 300000);
}

/* 100k blocks of mixed sizes, each filled with its own pattern, all read back intact; half
 * freed in random order and replaced, everything read back again, then all freed: the
 * counters come back to where they started. */
START_TEST(many_mixed_blocks_do_not_overlap) {
  size_t n = t_scaled(100000, 2000);
  t_rng r = { 42 };
  size_t *sz = malloc(n * sizeof *sz), *order = malloc(n * sizeof *order);
  uint32_t *tag = malloc(n * sizeof *tag);
  void **p = malloc(n * sizeof *p);
  ck_assert(sz && order && tag && p);
  struct hp_pool_stats s0, s1;
  hp_pool_stats(&s0);
  for (size_t i = 0; i < n; i++) {
    sz[i] = mixed_size(&r);
    tag[i] = (uint32_t)i;
    p[i] = hp_pool_alloc(sz[i]);
    T_CHECK(p[i] != NULL, "hp_pool_alloc(%zu)", sz[i]);
    t_fill(p[i], sz[i], tag[i]);
    order[i] = i;
  }
  for (size_t i = 0; i < n; i++)
    T_CHECK(t_check(p[i], sz[i], tag[i]) == T_OK, "block %zu (%zu B) overwritten", i, sz[i]);

  t_shuffle(&r, order, n);
  for (size_t k = 0; k < n / 2; k++) {
    size_t i = order[k];
    if (k & 1) hp_pool_free(p[i]);
    else hp_pool_free_sized(p[i], sz[i]);
  }
  for (size_t k = n / 2; k < n; k++) {
    size_t i = order[k];
    T_CHECK(t_check(p[i], sz[i], tag[i]) == T_OK, "block %zu overwritten after frees", i);
  }
  for (size_t k = 0; k < n / 2; k++) {
    size_t i = order[k];
    sz[i] = mixed_size(&r);
    tag[i] = (uint32_t)(n + k);
    p[i] = hp_pool_alloc(sz[i]);
    T_CHECK(p[i] != NULL, "hp_pool_alloc(%zu)", sz[i]);
    t_fill(p[i], sz[i], tag[i]);
  }
  for (size_t i = 0; i < n; i++)
    T_CHECK(t_check(p[i], sz[i], tag[i]) == T_OK, "block %zu overwritten after reuse", i);

  hp_pool_stats(&s1);
  ck_assert_uint_eq(s1.total.allocs - s0.total.allocs, n + n / 2);
  ck_assert_uint_eq(s1.total.frees - s0.total.frees, n / 2);
  ck_assert_uint_eq(s1.total.blocks_in_use - s0.total.blocks_in_use, n);

  t_shuffle(&r, order, n);
  for (size_t k = 0; k < n; k++) hp_pool_free(p[order[k]]);
  hp_pool_stats(&s1);
  ck_assert_uint_eq(s1.total.blocks_in_use, s0.total.blocks_in_use);
  ck_assert_uint_eq(s1.total.bytes_in_use, s0.total.bytes_in_use);
  ck_assert_uint_eq(s1.total.frees - s0.total.frees, n + n / 2);
  free(sz); free(order); free(tag); free(p);
}
END_TEST

/* Allocates k blocks of `size`, frees those with index % stride == 0 (in an order from rng),
 * then allocates as many again of size2 (same class), plus the blocks the page had prepared
 * but not handed out yet (it prepares about 4 KiB at a time, and hands those out before the
 * blocks freed since): every freed block is among the new ones, and the others are blocks
 * never handed out before. k blocks of a fresh class fit in its first span. */
static void check_reuse(size_t size, size_t size2, size_t k, size_t stride) {
  size_t slack = 4096 / size + 1;
  void **p = malloc(k * sizeof *p), **freed = malloc(k * sizeof *p), **again = malloc((k + slack) * sizeof *p);
  for (size_t i = 0; i < k; i++) {
    p[i] = hp_pool_alloc(size);
    ck_assert_ptr_nonnull(p[i]);
    t_fill(p[i], size, (uint32_t)i);
  }
  size_t nf = 0;
  for (size_t i = 0; i < k; i += stride) freed[nf++] = p[i];
  /* free in reverse, so that a LIFO list would not hand them back in allocation order only */
  for (size_t j = nf; j-- > 0;) hp_pool_free(freed[j]);
  size_t na = 0, found = 0;
  for (; na < nf + slack && found < nf; na++) {
    again[na] = hp_pool_alloc(size2);
    ck_assert_ptr_nonnull(again[na]);
    bool was_freed = false;
    for (size_t j = 0; j < nf && !was_freed; j++) was_freed = again[na] == freed[j];
    if (was_freed) { found++; continue; }
    for (size_t i = 0; i < k; i++) T_CHECK(again[na] != p[i], "size %zu: a block in use handed out", size);
  }
  for (size_t i = 0; i < k; i++)
    if (i % stride != 0) ck_assert(t_check(p[i], size, (uint32_t)i) == T_OK);
  ck_assert_msg(found == nf, "size %zu: %zu of %zu freed blocks reused in %zu allocations", size, found, nf, na);
  for (size_t i = 0; i < k; i++) if (i % stride != 0) hp_pool_free(p[i]);
  for (size_t j = 0; j < na; j++) hp_pool_free(again[j]);
  free(p); free(freed); free(again);
}

/* Freeing blocks and then allocating the same class gives back the freed addresses. */
START_TEST(freed_blocks_are_reused) {

  check_reuse(40, 33, 500, 2);             /* small */
  check_reuse(1000, 1000, 32, 1);          /* medium: all of them */
  check_reuse(300, 290, 150, 3);           /* medium */
  check_reuse(10000, 9000, 10, 2);         /* large */
  check_reuse(60000, 65536, 4, 1);         /* large: the 64 KiB class */
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Statistics
 * ------------------------------------------------------------------------------------ */

static void check_sums(const struct hp_pool_stats *st) {
  struct hp_pool_class_stats t[3] = { { 0 } };
  uint64_t prev = 0;
  for (unsigned c = 0; c < st->nclasses; c++) {
    const struct hp_pool_class_stats *x = &st->classes[c];
    ck_assert_uint_gt(x->block_size, prev);
    prev = x->block_size;
    ck_assert_uint_eq(x->bytes_in_use, x->blocks_in_use * x->block_size);
    ck_assert_uint_eq(x->blocks_in_use, x->allocs - x->frees);
    int tier = x->block_size <= 128 ? 0 : x->block_size <= 2048 ? 1 : 2;
    t[tier].blocks_in_use += x->blocks_in_use;
    t[tier].bytes_in_use += x->bytes_in_use;
    t[tier].allocs += x->allocs;
    t[tier].frees += x->frees;
    t[tier].pages_used += x->pages_used;
    t[tier].bytes_committed += x->bytes_committed;
  }
  ck_assert_uint_eq(prev, 65536);
  uint64_t total_blocks = 0, total_allocs = 0, total_bytes = 0;
  for (int k = 0; k < 3; k++) {
    ck_assert_uint_eq(st->tiers[k].blocks_in_use, t[k].blocks_in_use);
    ck_assert_uint_eq(st->tiers[k].bytes_in_use, t[k].bytes_in_use);
    ck_assert_uint_eq(st->tiers[k].allocs, t[k].allocs);
    ck_assert_uint_eq(st->tiers[k].frees, t[k].frees);
    ck_assert_uint_eq(st->tiers[k].pages_used, t[k].pages_used);
    ck_assert_uint_eq(st->tiers[k].bytes_committed, t[k].bytes_committed);
  }
  for (int k = 0; k < HP_POOL_TIERS; k++) {
    total_blocks += st->tiers[k].blocks_in_use;
    total_allocs += st->tiers[k].allocs;
    total_bytes += st->tiers[k].bytes_in_use;
  }
  ck_assert_uint_eq(st->total.blocks_in_use, total_blocks);
  ck_assert_uint_eq(st->total.allocs, total_allocs);
  ck_assert_uint_eq(st->total.bytes_in_use, total_bytes);
}

/* After K allocations of one class the counters move by exactly K; sized frees keep
 * bytes_requested exact; unsized ones count the class's mean request; huge blocks are
 * counted in the huge tier; the classes add up to the tiers and the tiers to the total. */
START_TEST(stats_count_exactly) {
  enum { K = 1000 };
  struct hp_pool_stats s0, s1;
  hp_pool_stats(&s0);
  ck_assert_uint_eq(s0.version, HP_POOL_STATS_VERSION);
  ck_assert_uint_eq(s0.nclasses, HP_POOL_CLASSES);
  ck_assert_uint_ge(s0.bytes_reserved, (uint64_t)1 << 30);
  check_sums(&s0);

  void *p[K];
  size_t sz[K];
  uint64_t req = 0;
  for (size_t i = 0; i < K; i++) {
    sz[i] = 97 + i % 16;                   /* 97..112: one class */
    req += sz[i];
    p[i] = hp_pool_alloc(sz[i]);
    ck_assert_ptr_nonnull(p[i]);
    memset(p[i], 0x5A, sz[i]);
  }
  unsigned c = class_of_block(&s0, p[0]);
  uint64_t bs = s0.classes[c].block_size;
  ck_assert_uint_eq(bs, hp_pool_usable_size(p[K - 1]));
  ck_assert_uint_eq(s0.classes[c].allocs, 0);      /* a fresh class (fork mode) */
  hp_pool_stats(&s1);
  check_sums(&s1);
  const struct hp_pool_class_stats *a = &s0.classes[c], *b = &s1.classes[c];
  ck_assert_uint_eq(b->allocs - a->allocs, K);
  ck_assert_uint_eq(b->frees - a->frees, 0);
  ck_assert_uint_eq(b->blocks_in_use - a->blocks_in_use, K);
  ck_assert_uint_eq(b->bytes_in_use - a->bytes_in_use, K * bs);
  ck_assert_uint_eq(b->bytes_requested, req);
  ck_assert_uint_ge(b->pages_used * 65536, K * bs);
  ck_assert_uint_ge(b->bytes_committed, K * bs);
  ck_assert_uint_le(b->bytes_committed, b->pages_used * 65536);
  ck_assert_uint_ge(b->bytes_resident + 2 * 4096, K * bs);
  double frag = ((double)b->bytes_committed - (double)req) / (double)req;
  ck_assert_msg(b->fragmentation > 0.0 && b->fragmentation > frag - 1e-9 && b->fragmentation < frag + 1e-9,
                "fragmentation %f, want %f", b->fragmentation, frag);
  ck_assert_uint_eq(s1.tiers[HP_TIER_SMALL].allocs - s0.tiers[HP_TIER_SMALL].allocs, K);
  ck_assert_uint_eq(s1.total.blocks_in_use - s0.total.blocks_in_use, K);
  ck_assert_uint_eq(s1.total.bytes_in_use - s0.total.bytes_in_use, K * bs);

  /* Sized frees of the even ones: requested bytes stay exact. */
  uint64_t live = req;
  for (size_t i = 0; i < K; i += 2) { hp_pool_free_sized(p[i], sz[i]); live -= sz[i]; }
  hp_pool_stats(&s1);
  check_sums(&s1);
  ck_assert_uint_eq(b->frees - a->frees, K / 2);
  ck_assert_uint_eq(b->blocks_in_use - a->blocks_in_use, K / 2);
  ck_assert_uint_eq(b->bytes_in_use - a->bytes_in_use, K / 2 * bs);
  ck_assert_uint_eq(b->bytes_requested, live);
  for (size_t i = 1; i < K; i += 2) hp_pool_free_sized(p[i], sz[i]);
  hp_pool_stats(&s1);
  ck_assert_uint_eq(b->blocks_in_use, a->blocks_in_use);
  ck_assert_uint_eq(b->bytes_in_use, a->bytes_in_use);
  ck_assert_uint_eq(b->bytes_requested, 0);
  ck_assert_uint_eq(b->frees - a->frees, K);
  ck_assert_uint_eq(b->pages_used, 0);

  /* Unsized frees: each counts as the class's mean request. */
  enum { K2 = 400 };
  void *q[K2];
  uint64_t req2 = 0;
  for (size_t i = 0; i < K2; i++) { q[i] = hp_pool_alloc(129 + i % 32); req2 += 129 + i % 32; }
  unsigned c2 = class_of_block(&s0, q[0]);
  ck_assert_uint_eq(s0.classes[c2].allocs, 0);
  for (size_t i = 0; i < K2; i += 2) hp_pool_free(q[i]);
  hp_pool_stats(&s1);
  ck_assert_uint_eq(s1.classes[c2].blocks_in_use, K2 / 2);
  uint64_t est = s1.classes[c2].bytes_requested;
  ck_assert_msg(est + 1 >= req2 / 2 && est <= req2 / 2 + 1, "estimate %llu, want %llu",
                (unsigned long long)est, (unsigned long long)(req2 / 2));
  for (size_t i = 1; i < K2; i += 2) hp_pool_free(q[i]);
  hp_pool_stats(&s1);
  ck_assert_uint_eq(s1.classes[c2].blocks_in_use, 0);
  ck_assert_uint_eq(s1.classes[c2].bytes_requested, 0);

  /* Huge blocks: whole pages, the request counted exactly. */
  hp_pool_stats(&s0);
  void *h = hp_pool_alloc(200000);
  ck_assert_ptr_nonnull(h);
  memset(h, 1, 200000);
  hp_pool_stats(&s1);
  check_sums(&s1);
  const struct hp_pool_class_stats *ha = &s0.tiers[HP_TIER_HUGE], *hb = &s1.tiers[HP_TIER_HUGE];
  ck_assert_uint_eq(hb->allocs - ha->allocs, 1);
  ck_assert_uint_eq(hb->blocks_in_use - ha->blocks_in_use, 1);
  ck_assert_uint_eq(hb->bytes_in_use - ha->bytes_in_use, 4 * 65536);
  ck_assert_uint_eq(hb->bytes_requested - ha->bytes_requested, 200000);
  ck_assert_uint_eq(hb->pages_used - ha->pages_used, 4);
  ck_assert_uint_eq(hb->bytes_committed - ha->bytes_committed, 4 * 65536);
  ck_assert_uint_ge(hb->bytes_resident - ha->bytes_resident, 200000 / 4096 * 4096);
  hp_pool_free(h);
  hp_pool_stats(&s1);
  ck_assert_uint_eq(hb->frees - ha->frees, 1);
  ck_assert_uint_eq(hb->blocks_in_use, ha->blocks_in_use);
  ck_assert_uint_eq(hb->bytes_in_use, ha->bytes_in_use);
  ck_assert_uint_eq(hb->bytes_requested, ha->bytes_requested);
  ck_assert_uint_eq(hb->pages_used, ha->pages_used);
}
END_TEST

/* hp_pool_stats_print writes a row per class in use and the tier and total rows. */
START_TEST(stats_print_lists_classes_in_use) {
  void *p[10];
  for (int i = 0; i < 10; i++) p[i] = hp_pool_alloc(3000);    /* the 3072-byte class */
  FILE *f = tmpfile();
  ck_assert_ptr_nonnull(f);
  hp_pool_stats_print(f);
  rewind(f);
  char line[512];
  bool cls = false, total = false, huge = false;
  while (fgets(line, sizeof line, f)) {
    unsigned long long bs, blocks;
    if (sscanf(line, "%llu %llu", &bs, &blocks) == 2 && bs == 3072) { cls = true; ck_assert_uint_eq(blocks, 10); }
    if (strncmp(line, "total", 5) == 0) total = true;
    if (strncmp(line, "huge", 4) == 0) huge = true;
  }
  fclose(f);
  ck_assert(cls && total && huge);
  for (int i = 0; i < 10; i++) hp_pool_free(p[i]);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Memory goes back to the OS
 * ------------------------------------------------------------------------------------ */

typedef struct burst {
  void **p;
  size_t n, cap, bytes;
} burst;

/* Allocates about `bytes` of small and medium blocks and writes all of them. The pointer
 * array is made (and touched) first, so that it is part of the baseline. */
static void burst_make(burst *b, size_t bytes) {
  b->cap = bytes / 256 + 16;
  b->p = malloc(b->cap * sizeof *b->p);
  ck_assert_ptr_nonnull(b->p);
  memset(b->p, 0, b->cap * sizeof *b->p);
  b->n = 0;
  b->bytes = 0;
}

static void burst_fill(burst *b, size_t bytes, uint64_t seed) {
  t_rng r = { seed };
  while (b->bytes < bytes && b->n < b->cap) {
    size_t s = t_range(&r, 16, 2048);
    void *p = hp_pool_alloc(s);
    T_CHECK(p != NULL, "hp_pool_alloc(%zu)", s);
    size_t u = hp_pool_usable_size(p);
    memset(p, (int)(b->n & 0xff) | 1, u);
    b->p[b->n++] = p;
    b->bytes += u;
  }
}

static void burst_free(burst *b, uint64_t seed) {
  t_rng r = { seed };
  for (size_t i = b->n; i > 1; i--) {       /* free in random order */
    size_t j = (size_t)(t_next(&r) % i);
    void *t = b->p[i - 1]; b->p[i - 1] = b->p[j]; b->p[j] = t;
  }
  for (size_t i = 0; i < b->n; i++) hp_pool_free(b->p[i]);
  b->n = 0;
}

/* Warms the pools up (reservation, thread heap, purger thread) so that the baseline taken
 * next includes their fixed costs. */
static void warm_up(void) {
  void *p[64];
  for (int i = 0; i < 64; i++) p[i] = hp_pool_alloc((size_t)i * 37);
  for (int i = 0; i < 64; i++) hp_pool_free(p[i]);
  void *h = hp_pool_alloc(1 << 20);
  hp_pool_free(h);
  hp_pool_trim();
}

/* How far above the baseline the process may stay once the burst is returned: a few MiB,
 * plus the page descriptors and side bitmaps of the pages the burst used (about 2.5% of the
 * burst when the ALLOC bitmap is kept, in debug builds), which stay committed. */
static size_t rss_slack(size_t burst_bytes) { return 4 * T_MiB + burst_bytes / 32; }

static size_t burst_bytes(void) { return t_scaled(200 * T_MiB, 32 * T_MiB); }

/* Counters of the pools' empty and free pages after everything was freed. */
static void expect_nothing_used(const struct hp_pool_stats *st) {
  for (unsigned c = 0; c < st->nclasses; c++) {
    ck_assert_msg(st->classes[c].pages_used == 0, "class %llu: %llu pages used",
                  (unsigned long long)st->classes[c].block_size, (unsigned long long)st->classes[c].pages_used);
    ck_assert_uint_eq(st->classes[c].blocks_in_use, 0);
  }
}

/* A thread keeps at most one empty span per class (its current one): one page for the
 * classes up to 2 KiB, which are all the burst uses. */
static void expect_one_empty_page_per_class(const struct hp_pool_stats *st) {
  for (unsigned c = 0; c < st->nclasses; c++)
    if (st->classes[c].block_size <= 2048)
      ck_assert_msg(st->classes[c].pages_empty <= 1, "class %llu: %llu empty pages kept",
                    (unsigned long long)st->classes[c].block_size,
                    (unsigned long long)st->classes[c].pages_empty);
}

/* ~200 MB of small and medium blocks, written, freed; hp_pool_trim() gives every page back:
 * no page of any class is kept, the free pool holds no resident page, the pools' resident
 * bytes are 0, and the process's resident size falls back to within a few MiB of where it
 * was before the burst. */
START_TEST(rss_falls_after_trim) {
  size_t want = burst_bytes();
  burst b;
  burst_make(&b, want);
  warm_up();
  struct hp_pool_stats s0, s1;
  hp_pool_stats(&s0);
  size_t base = t_rss();
  ck_assert_uint_gt(base, 0);
  burst_fill(&b, want, 1);
  size_t peak = t_rss();
  hp_pool_stats(&s1);
  ck_assert_msg(peak >= base + want * 3 / 4, "burst of %zu MiB: RSS %zu -> %zu MiB", want >> 20,
                base >> 20, peak >> 20);
  ck_assert_uint_ge(s1.total.bytes_resident, want * 9 / 10);
  burst_free(&b, 2);

  hp_pool_stats(&s1);
  expect_nothing_used(&s1);
  expect_one_empty_page_per_class(&s1);

  size_t returned = hp_pool_trim();
  hp_pool_stats(&s1);
  expect_nothing_used(&s1);
  for (unsigned c = 0; c < s1.nclasses; c++) ck_assert_uint_eq(s1.classes[c].pages_empty, 0);
  ck_assert_uint_eq(s1.total.bytes_resident, 0);
  ck_assert_uint_eq(s1.total.bytes_committed, 0);
  ck_assert_uint_eq(s1.pages_free_committed, 0);
  ck_assert_uint_ge(s1.bytes_returned_total - s0.bytes_returned_total, want);
  ck_assert_uint_le(returned, s1.bytes_returned_total - s0.bytes_returned_total);
  size_t after = t_rss();
  if (!T_TSAN)                              /* TSan keeps the shadow of returned pages */
    ck_assert_msg(after <= base + rss_slack(want), "RSS %zu MiB before, %zu MiB peak, %zu KiB after trim",
                  base >> 20, peak >> 20, after >> 10);
  free(b.p);
}
END_TEST

/* The same burst with no call: the purger gives the pages back on its own, about half a
 * second after they become empty. Waits up to 20 s (sanitizers, loaded machines); what is
 * checked is that it happens, not how fast. */
START_TEST(rss_falls_without_trim) {
  size_t want = burst_bytes();
  burst b;
  burst_make(&b, want);
  warm_up();
  struct hp_pool_stats s0, s1;
  hp_pool_stats(&s0);
  size_t base = t_rss();
  burst_fill(&b, want, 3);
  size_t peak = t_rss();
  ck_assert_uint_ge(peak, base + want * 3 / 4);
  burst_free(&b, 4);
  hp_pool_stats(&s1);
  expect_nothing_used(&s1);
  expect_one_empty_page_per_class(&s1);

  double t0 = t_now();
  size_t after = 0;
  bool ok = false;
  t_sleep_ms(1500);
  for (;;) {
    hp_pool_stats(&s1);
    after = t_rss();
    ok = s1.pages_free_committed == 0 && (T_TSAN || after <= base + rss_slack(want));
    if (ok || t_now() - t0 > 20.0) break;
    t_sleep_ms(100);
  }
  ck_assert_msg(ok, "after %.1f s: %llu free pages still committed; RSS %zu MiB before, %zu MiB peak, %zu KiB now",
                t_now() - t0, (unsigned long long)s1.pages_free_committed, base >> 20, peak >> 20, after >> 10);
  /* Only the current page of each class the burst used may still be there (empty). */
  expect_one_empty_page_per_class(&s1);
  uint64_t kept = 0;
  for (unsigned c = 0; c < s1.nclasses; c++) kept += s1.classes[c].pages_empty;
  ck_assert_uint_le(s1.total.bytes_resident, kept * 65536);
  ck_assert_uint_ge(s1.bytes_returned_total - s0.bytes_returned_total, want - kept * 65536);
  free(b.p);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Misuse that aborts in every build
 * ------------------------------------------------------------------------------------ */

static char static_buf[256];

START_TEST(free_of_stack_address_aborts) {
  void *keep = hp_pool_alloc(64);           /* the pools are set up */
  char buf[64];
  memset(buf, 1, sizeof buf);
  (void)keep;
  hp_pool_free(buf + 16);
}
END_TEST

START_TEST(free_of_malloc_address_aborts) {
  void *keep = hp_pool_alloc(64);
  void *m = malloc(100);
  (void)keep;
  hp_pool_free(m);
}
END_TEST

START_TEST(free_of_static_address_aborts) {
  void *keep = hp_pool_alloc(64);
  (void)keep;
  hp_pool_free_sized(static_buf + 32, 16);
}
END_TEST

START_TEST(free_of_small_integer_aborts) {
  void *keep = hp_pool_alloc(64);
  (void)keep;
  hp_pool_free((void *)(uintptr_t)4096);
}
END_TEST

/* ------------------------------------------------------------------------------------ */

static Suite *suite(void) {
  Suite *s = suite_create("pools-api");
  TCase *tc = tcase_create("sizes");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, version_matches_header);
  tcase_add_test(tc, every_size_gets_a_block);
  tcase_add_test(tc, aligned_blocks);
  tcase_add_test(tc, aligned_bad_alignment_is_einval);
  tcase_add_test(tc, impossible_sizes_are_enomem);
  tcase_add_test(tc, size_zero_blocks_are_distinct);
  tcase_add_test(tc, free_null_is_noop);
  suite_add_tcase(s, tc);

  tc = tcase_create("blocks");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, many_mixed_blocks_do_not_overlap);
  tcase_add_test(tc, freed_blocks_are_reused);
  suite_add_tcase(s, tc);

  tc = tcase_create("stats");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, stats_count_exactly);
  tcase_add_test(tc, stats_print_lists_classes_in_use);
  suite_add_tcase(s, tc);

  tc = tcase_create("rss");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, rss_falls_after_trim);
  tcase_add_test(tc, rss_falls_without_trim);
  suite_add_tcase(s, tc);

  tc = tcase_create("misuse");
  tcase_set_timeout(tc, 60);
  tcase_add_test_raise_signal(tc, free_of_stack_address_aborts, SIGABRT);
  tcase_add_test_raise_signal(tc, free_of_malloc_address_aborts, SIGABRT);
  tcase_add_test_raise_signal(tc, free_of_static_address_aborts, SIGABRT);
  tcase_add_test_raise_signal(tc, free_of_small_integer_aborts, SIGABRT);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_set_fork_status(sr, CK_FORK);     /* one process per test: fresh pools each time */
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
