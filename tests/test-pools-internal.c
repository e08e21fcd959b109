/* tests/test-pools-internal.c -- unit tests of the pools' internal interface (pools/pool.h):
 * size classes, the page map and block lookup, side bitmaps, tracked heaps and sweeping,
 * span walking, RAW spans, and the misuse checks of each debug level.
 *
 * Built against the static library with the internal headers (hp_internal_dep), so HP_DEBUG
 * is the library's own. Every test runs in a process of its own (fork mode, forced in main):
 * a class no earlier step of a test used has no page yet.
 */
#include "pools/pool.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "test-common.h"

static bool bit(const uint64_t *bits, uint32_t i) { return (bits[i >> 6] >> (i & 63)) & 1; }
static void set_bit(uint64_t *bits, uint32_t i) { bits[i >> 6] |= (uint64_t)1 << (i & 63); }

static size_t span_bytes(const hpP_span *pg) { return (size_t)pg->npages << HPP_PAGE_SHIFT; }

/* ------------------------------------------------------------------------------------
 *  Size classes
 * ------------------------------------------------------------------------------------ */

/* For every size 0..64 KiB, hpP_class_of gives the smallest class that holds it. */
START_TEST(class_of_is_smallest_fit) {
  for (size_t s = 0; s <= HPP_LARGE_MAX; s++) {
    unsigned c = hpP_class_of(s);
    T_CHECK(c < HPP_CLASSES, "size %zu: class %u", s, c);
    T_CHECK(hpP_class_size[c] >= s, "size %zu: class %u holds %u", s, c, hpP_class_size[c]);
    T_CHECK(c == 0 || hpP_class_size[c - 1] < s, "size %zu: class %u, but %u would do", s, c,
            hpP_class_size[c - 1]);
    if (s <= HPP_MEDIUM_MAX)
      T_CHECK(hpP_small_class[(s + HPP_GRANULE - 1) / HPP_GRANULE] == c, "size %zu: table", s);
    /* Rounding up wastes less than a fifth of the block once classes are 25% apart. */
    if (s > 64) T_CHECK(5 * (hpP_class_size[c] - s) < hpP_class_size[c], "size %zu wastes too much", s);
  }
}
END_TEST

/* The class table: increasing multiples of 16; neighbours at most 16 bytes or 25% apart;
 * tier boundaries where the header says; every span holds at least one block (four for the
 * large tier), has one bit per block in its first page's bitmaps, and leaves at most 2% of
 * itself unused at the tail. */
START_TEST(class_table_is_well_formed) {
  ck_assert_uint_eq(HPP_CLASSES, 44);
  ck_assert_uint_eq(hpP_class_size[0], HPP_GRANULE);
  ck_assert_uint_eq(hpP_class_size[7], HPP_SMALL_MAX);
  ck_assert_uint_eq(hpP_class_size[23], HPP_MEDIUM_MAX);
  ck_assert_uint_eq(hpP_class_size[HPP_CLASSES - 1], HPP_LARGE_MAX);
  ck_assert_uint_eq(HPP_BITS_WORDS * 64, HPP_PAGE / HPP_GRANULE);
  for (unsigned c = 0; c < HPP_CLASSES; c++) {
    uint32_t bs = hpP_class_size[c];
    ck_assert_uint_eq(bs % HPP_GRANULE, 0);
    if (c > 0) {
      uint32_t p = hpP_class_size[c - 1];
      ck_assert_uint_gt(bs, p);
      uint32_t gap = p / 4 > 16 ? p / 4 : 16;
      ck_assert_msg(bs - p <= gap, "classes %u and %u are more than 25%% apart", p, bs);
      if (p >= 64) ck_assert_uint_le((uint64_t)bs * 4, (uint64_t)p * 5);
    }
    int tier = bs <= HPP_SMALL_MAX ? HP_TIER_SMALL : bs <= HPP_MEDIUM_MAX ? HP_TIER_MEDIUM : HP_TIER_LARGE;
    ck_assert_int_eq(hpP_tier_of_class(c), tier);
    unsigned pages = hpP_class_pages[c];
    ck_assert_uint_ge(pages, 1);
    ck_assert_uint_le(pages, HPP_MAX_SPAN_PAGES);
    if (tier != HP_TIER_LARGE) ck_assert_uint_eq(pages, 1);
    size_t span = (size_t)pages << HPP_PAGE_SHIFT, cap = span / bs, tail = span - cap * bs;
    ck_assert_uint_ge(cap, tier == HP_TIER_LARGE ? 4 : 1);
    ck_assert_uint_le(cap, HPP_BITS_WORDS * 64);
    ck_assert_msg(tail * 50 <= span, "class %u: %zu of %zu bytes of its span unused", bs, tail, span);
  }
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Lookup: hpP_span_of, hpP_block_of, hpP_block_index
 * ------------------------------------------------------------------------------------ */

/* One block of every class (the first of a fresh span): the span describes it; every byte
 * of the block maps to its start; across the whole span, every granule maps to the block it
 * is in if that block was carved (and, on a tracked page, is allocated), else to NULL; the
 * block index is exact at every byte offset. */
START_TEST(block_of_every_class) {
  for (unsigned c = 0; c < HPP_CLASSES; c++) {
    uint32_t bs = hpP_class_size[c];
    uint8_t *b = hp_pool_alloc(bs);
    ck_assert_ptr_nonnull(b);
    hpP_span *pg = hpP_span_of(b);
    ck_assert_ptr_nonnull(pg);
    ck_assert_int_eq(pg->kind, HPP_SPAN_BLOCKS);
    ck_assert_uint_eq(pg->cls, c);
    ck_assert_uint_eq(pg->block_size, bs);
    ck_assert_uint_eq(pg->arena, HPP_ARENA_PUBLIC);
    ck_assert_uint_eq(pg->npages, hpP_class_pages[c]);
    ck_assert_uint_eq(pg->capacity, span_bytes(pg) / bs);
    ck_assert_uint_eq(pg->tracked, HP_DEBUG >= 2);
    ck_assert_ptr_eq(atomic_load(&pg->owner), hpP_tls_heap);
    ck_assert_uint_eq(atomic_load(&pg->used), 1);
    uint8_t *start = hpP_span_start(pg);
    ck_assert_uint_eq((uintptr_t)start % HPP_PAGE, 0);
    ck_assert_ptr_eq(b, start);                         /* the first block of a fresh span */
    uint32_t reserved = atomic_load(&pg->reserved);
    ck_assert_uint_ge(reserved, 1);
    ck_assert_uint_le(reserved, pg->capacity);
    ck_assert_uint_eq(reserved, 4096 / bs > 1 ? 4096 / bs : 1);   /* carved ~4 KiB at a time */

    uint8_t *b2 = hp_pool_alloc(bs);                    /* the second block of the span */
    ck_assert_ptr_eq(b2, start + bs);
    for (uint32_t off = 0; off < bs; off++) {
      hpP_span *sp = NULL;
      T_CHECK(hpP_block_of(b + off, &sp) == b && sp == pg, "class %u: block_of(b + %u)", bs, off);
    }
    for (uint32_t off = 0; off < bs; off++)
      T_CHECK(hpP_block_of(b2 + off, NULL) == b2, "class %u: block_of(b2 + %u)", bs, off);
    reserved = atomic_load(&pg->reserved);
    for (size_t off = 0; off < span_bytes(pg); off++)
      T_CHECK(hpP_block_index(pg, start + off) == off / bs, "class %u: index of offset %zu", bs, off);
    for (size_t off = 0; off < span_bytes(pg); off += HPP_GRANULE) {
      uint32_t i = (uint32_t)(off / bs);
      void *want = i < reserved ? start + (size_t)i * bs : NULL;
      if (pg->tracked && i > 1) want = NULL;            /* only blocks 0 and 1 are allocated */
      T_CHECK(hpP_span_of(start + off) == pg, "class %u: span_of offset %zu", bs, off);
      T_CHECK(hpP_block_of(start + off, NULL) == want, "class %u: block_of offset %zu", bs, off);
      T_CHECK(i >= pg->capacity || hpP_block_at(pg, i) == start + (size_t)i * bs, "block_at %u", i);
    }
    ck_assert_ptr_ne(hpP_span_of(start + span_bytes(pg)), pg);
  }
}
END_TEST

/* A huge block: one span; every address inside the requested bytes maps to its start. */
START_TEST(block_of_huge) {
  size_t size = 200000;
  uint8_t *b = hp_pool_alloc(size);
  hpP_span *pg = hpP_span_of(b);
  ck_assert_ptr_nonnull(pg);
  ck_assert_int_eq(pg->kind, HPP_SPAN_HUGE);
  ck_assert_uint_eq(pg->npages, 4);
  ck_assert_ptr_eq(hpP_span_start(pg), b);
  for (size_t off = 0; off < size; off += 7) {
    hpP_span *sp = NULL;
    T_CHECK(hpP_block_of(b + off, &sp) == b && sp == pg, "offset %zu", off);
  }
  ck_assert_ptr_eq(hpP_block_of(b + size - 1, NULL), b);
  ck_assert_ptr_eq(hpP_span_of(b + 4 * HPP_PAGE - 1), pg);
  ck_assert_ptr_ne(hpP_span_of(b + 4 * HPP_PAGE), pg);
  hp_pool_free(b);
  ck_assert_ptr_null(hpP_span_of(b));                   /* freed at once */
  ck_assert_ptr_null(hpP_block_of(b + 100, NULL));
}
END_TEST

static int a_global;

/* Addresses in no span: outside the reservation, in page 0, far past the pages ever handed
 * out, in a freed span, and nonsense values. */
START_TEST(lookup_outside_is_null) {
  ck_assert(hpP_init());
  void *keep = hp_pool_alloc(64);
  ck_assert_ptr_nonnull(keep);
  ck_assert_uint_eq(hpP_base % HPP_PAGE, 0);
  ck_assert_uint_ge(hpP_size, (size_t)1 << 30);
  int local = 0;
  void *m = malloc(64);
  const void *addrs[] = {
    NULL, (void *)1, (void *)(uintptr_t)-1, (void *)(uintptr_t)-16, (void *)(uintptr_t)4096,
    (void *)hpP_base, (void *)(hpP_base + 8), (void *)(hpP_base + HPP_PAGE - 1),       /* page 0 */
    (void *)(hpP_base - 1), (void *)(hpP_base - HPP_PAGE),                             /* below */
    (void *)(hpP_base + hpP_size), (void *)(hpP_base + hpP_size + HPP_PAGE),            /* above */
    (void *)(hpP_base + hpP_size - 1), (void *)(hpP_base + hpP_size - HPP_PAGE),        /* last page */
    (void *)(hpP_base + hpP_size / 2), (void *)(hpP_base + hpP_size / 2 + 12345),       /* past top */
    &local, m, &a_global,
  };
  for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
    hpP_span *sp = (hpP_span *)&sp;
    ck_assert_msg(hpP_span_of(addrs[i]) == NULL, "span_of(%p)", addrs[i]);
    ck_assert_msg(hpP_block_of(addrs[i], &sp) == NULL && sp == NULL, "block_of(%p)", addrs[i]);
    ck_assert_uint_eq(hp_pool_usable_size(addrs[i]), 0);
  }
  ck_assert(!hpP_contains((void *)(hpP_base - 1)));
  ck_assert(hpP_contains((void *)hpP_base));
  ck_assert(hpP_contains((void *)(hpP_base + hpP_size - 1)));
  ck_assert(!hpP_contains((void *)(hpP_base + hpP_size)));
  free(m);
  hp_pool_free(keep);
}
END_TEST

/* Inside a span but in no block handed out: blocks not carved yet, and the tail of a span
 * past its last block. */
START_TEST(lookup_uncarved_and_tail_is_null) {
  /* 640-byte class: the first allocation carves 6 blocks (4 KiB) of 102. */
  uint8_t *b = hp_pool_alloc(600);
  hpP_span *pg = hpP_span_of(b);
  ck_assert_uint_eq(pg->block_size, 640);
  uint32_t reserved = atomic_load(&pg->reserved);
  ck_assert_uint_lt(reserved, pg->capacity);
  uint8_t *start = hpP_span_start(pg);
  for (uint32_t i = reserved; i < pg->capacity; i++) {
    T_CHECK(hpP_span_of(start + (size_t)i * 640 + 1) == pg, "block %u", i);
    T_CHECK(hpP_block_of(start + (size_t)i * 640, NULL) == NULL, "block %u", i);
    T_CHECK(hpP_block_of(start + (size_t)i * 640 + 639, NULL) == NULL, "block %u", i);
  }
  /* 1280-byte class: 51 blocks leave 256 bytes at the end of the page. Carve them all. */
  void *blocks[51];
  for (int i = 0; i < 51; i++) blocks[i] = hp_pool_alloc(1280);
  pg = hpP_span_of(blocks[0]);
  ck_assert_uint_eq(pg->capacity, 51);
  ck_assert_uint_eq(atomic_load(&pg->reserved), 51);
  start = hpP_span_start(pg);
  for (size_t off = 51 * 1280; off < HPP_PAGE; off++)
    T_CHECK(hpP_span_of(start + off) == pg && hpP_block_of(start + off, NULL) == NULL, "offset %zu", off);
  ck_assert_ptr_eq(hpP_block_of(start + 51 * 1280 - 1, NULL), start + 50 * 1280);
  for (int i = 0; i < 51; i++) hp_pool_free(blocks[i]);
  hp_pool_free(b);
}
END_TEST

/* On a tracked page a free block is not a block: the collector's tracked heap (freed by a
 * sweep), and with HP_DEBUG >= 2 every page of the pools (freed by hp_pool_free). */
START_TEST(lookup_freed_block_on_tracked_page_is_null) {
  hpP_heap *h = hpP_heap_new(HPP_ARENA_GC, true);
  ck_assert_ptr_nonnull(h);
  uint8_t *a = hpP_heap_alloc(h, 100), *b = hpP_heap_alloc(h, 100);
  hpP_span *pg = hpP_span_of(a);
  ck_assert_ptr_eq(hpP_span_of(b), pg);
  ck_assert(pg->tracked);
  ck_assert_uint_eq(pg->arena, HPP_ARENA_GC);
  ck_assert_ptr_eq(hpP_block_of(a + 50, NULL), a);
  ck_assert_ptr_eq(hpP_block_of(b + 111, NULL), b);
  uint64_t *alloc = hpP_span_bits(pg, HPP_BITS_ALLOC), *mark = hpP_span_bits(pg, HPP_BITS_MARK);
  uint32_t ia = hpP_block_index(pg, a), ib = hpP_block_index(pg, b);
  ck_assert(bit(alloc, ia) && bit(alloc, ib));
  set_bit(mark, ib);
  ck_assert_uint_eq(hpP_page_sweep(h, pg), 1);          /* a was not marked */
  ck_assert(!bit(alloc, ia) && bit(alloc, ib) && !bit(mark, ib));
  ck_assert_ptr_null(hpP_block_of(a, NULL));
  ck_assert_ptr_null(hpP_block_of(a + 99, NULL));
  ck_assert_ptr_eq(hpP_block_of(b, NULL), b);
  ck_assert_ptr_eq(hpP_span_of(a), pg);                 /* the page is still in use */

#if HP_DEBUG >= 2
  uint8_t *x = hp_pool_alloc(48), *y = hp_pool_alloc(48);
  hpP_span *px = hpP_span_of(x);
  ck_assert(px->tracked);
  ck_assert_ptr_eq(hpP_block_of(x + 47, NULL), x);
  hp_pool_free(x);
  ck_assert_ptr_eq(hpP_span_of(x), px);
  ck_assert_ptr_null(hpP_block_of(x, NULL));
  ck_assert_ptr_null(hpP_block_of(x + 47, NULL));
  ck_assert_ptr_eq(hpP_block_of(y + 1, NULL), y);
  ck_assert(!bit(hpP_span_bits(px, HPP_BITS_ALLOC), hpP_block_index(px, x)));
  ck_assert(bit(hpP_span_bits(px, HPP_BITS_ALLOC), hpP_block_index(px, y)));
  hp_pool_free(y);
#endif
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Side bitmaps
 * ------------------------------------------------------------------------------------ */

/* The bitmaps are laid out page after page, HPP_NBITMAPS of 4096 bits each; a span's bitmaps
 * are its first page's, which hold one bit per block even for a span of several pages. */
START_TEST(bitmaps_are_per_page) {
  ck_assert(hpP_init());
  ck_assert_ptr_eq(hpP_bits(0, 0), hpP_bitmaps);
  static const size_t pages[] = { 1, 2, 3, 7, 1000, 123457 };
  for (size_t n = 0; n < sizeof pages / sizeof pages[0]; n++) {
    size_t i = pages[n];
    for (int k = 0; k < HPP_NBITMAPS; k++) {
      ck_assert_ptr_eq(hpP_bits(i, k), hpP_bitmaps + (i * HPP_NBITMAPS + (size_t)k) * HPP_BITS_WORDS);
      if (k + 1 < HPP_NBITMAPS) ck_assert_ptr_eq(hpP_bits(i, k) + HPP_BITS_WORDS, hpP_bits(i, k + 1));
    }
    ck_assert_ptr_eq(hpP_bits(i, HPP_NBITMAPS - 1) + HPP_BITS_WORDS, hpP_bits(i + 1, 0));
  }

  /* A tracked heap: two full pages of the 48-byte class, and a 3-page span of 5120-byte
   * blocks. Each page's ALLOC bitmap has exactly its own blocks' bits. */
  hpP_heap *h = hpP_heap_new(HPP_ARENA_GC, true);
  enum { CAP48 = HPP_PAGE / 48 };
  uint8_t *first = hpP_heap_alloc(h, 48);
  hpP_span *p1 = hpP_span_of(first);
  ck_assert_uint_eq(p1->capacity, CAP48);
  for (uint32_t i = 1; i < CAP48 + 10; i++) ck_assert_ptr_nonnull(hpP_heap_alloc(h, 48));
  hpP_span *p2 = h->q[hpP_class_of(48)].current;
  ck_assert_ptr_ne(p2, p1);
  size_t i1 = hpP_index(hpP_span_start(p1)), i2 = hpP_index(hpP_span_start(p2));
  ck_assert_ptr_eq(hpP_span_bits(p1, HPP_BITS_ALLOC), hpP_bits(i1, HPP_BITS_ALLOC));
  ck_assert_ptr_eq(hpP_span_bits(p2, HPP_BITS_MARK), hpP_bits(i2, HPP_BITS_MARK));
  uint64_t *a1 = hpP_bits(i1, HPP_BITS_ALLOC), *a2 = hpP_bits(i2, HPP_BITS_ALLOC);
  for (uint32_t i = 0; i < HPP_BITS_WORDS * 64; i++) {
    T_CHECK(bit(a1, i) == (i < CAP48), "page 1 bit %u", i);
    T_CHECK(bit(a2, i) == (i < 10), "page 2 bit %u", i);
  }

  void *big[38];
  for (int i = 0; i < 38; i++) big[i] = hpP_heap_alloc(h, 5000);
  hpP_span *ps = hpP_span_of(big[0]);
  ck_assert_uint_eq(ps->npages, 3);
  ck_assert_uint_eq(ps->capacity, 38);
  size_t is = hpP_index(hpP_span_start(ps));
  for (int i = 0; i < 38; i++) {
    ck_assert_ptr_eq(hpP_span_of(big[i]), ps);
    ck_assert_uint_eq(hpP_block_index(ps, big[i]), (uint32_t)i);
  }
  for (uint32_t i = 0; i < HPP_BITS_WORDS * 64; i++) {
    T_CHECK(bit(hpP_bits(is, HPP_BITS_ALLOC), i) == (i < 38), "bit %u", i);
    T_CHECK(!bit(hpP_bits(is + 1, HPP_BITS_ALLOC), i), "second page bit %u", i);
    T_CHECK(!bit(hpP_bits(is + 2, HPP_BITS_ALLOC), i), "third page bit %u", i);
  }
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Sweeping a tracked heap
 * ------------------------------------------------------------------------------------ */

typedef struct sweep_walk {
  hpP_heap *h;
  hpP_span *seen[64];
  size_t nseen, freed;
  bool sweep;
} sweep_walk;

static void sweep_fn(hpP_span *pg, void *arg) {
  sweep_walk *w = arg;
  ck_assert_uint_lt(w->nseen, 64);
  w->seen[w->nseen++] = pg;
  if (w->sweep) w->freed += hpP_page_sweep(w->h, pg);
}

static bool seen(const sweep_walk *w, const hpP_span *pg) {
  int n = 0;
  for (size_t i = 0; i < w->nseen; i++) n += w->seen[i] == pg;
  ck_assert_int_le(n, 1);
  return n == 1;
}

/* Four pages of the 48-byte class in a tracked heap: three full, the current one with 100
 * blocks. Marks: none on page 1, every third block on page 2, all of page 3, two blocks of
 * page 4. A sweep through hpP_heap_foreach_page frees exactly the unmarked blocks, clears
 * their ALLOC bits and all MARK bits, gives page 1 (now empty) back, and a second sweep frees
 * nothing. The heap then reuses the swept blocks. */
START_TEST(sweep_frees_exactly_the_unmarked) {
  hpP_heap *h = hpP_heap_new(HPP_ARENA_GC, true);
  ck_assert_ptr_nonnull(h);
  enum { CAP = HPP_PAGE / 48, N = 3 * CAP + 100 };
  uint8_t **b = malloc(N * sizeof *b);
  for (size_t i = 0; i < N; i++) {
    b[i] = hpP_heap_alloc(h, 48);
    T_CHECK(b[i] != NULL, "block %zu", i);
    memset(b[i], (int)(i & 0x7f), 48);
  }
  hpP_span *pg[4];
  for (int k = 0; k < 4; k++) {
    pg[k] = hpP_span_of(b[(size_t)k * CAP]);
    ck_assert_ptr_nonnull(pg[k]);
    for (int j = 0; j < k; j++) ck_assert_ptr_ne(pg[j], pg[k]);
  }
  ck_assert_ptr_eq(h->q[hpP_class_of(48)].current, pg[3]);
  for (size_t i = 0; i < N; i++) {
    hpP_span *p = pg[i / CAP];
    T_CHECK(hpP_span_of(b[i]) == p, "block %zu", i);
    T_CHECK(hpP_block_index(p, b[i]) == i % CAP, "block %zu", i);
    T_CHECK(bit(hpP_span_bits(p, HPP_BITS_ALLOC), (uint32_t)(i % CAP)), "block %zu", i);
  }

  bool *marked = calloc(N, sizeof *marked);
  size_t nmarked = 0, per_page[4] = { 0 };
  for (size_t i = 0; i < N; i++) {
    size_t k = i / CAP, j = i % CAP;
    bool m = k == 1 ? j % 3 == 0 : k == 2 ? true : k == 3 ? (j == 0 || j == 50) : false;
    if (m) {
      marked[i] = true;
      nmarked++;
      per_page[k]++;
      set_bit(hpP_span_bits(pg[k], HPP_BITS_MARK), (uint32_t)j);
    }
  }
  ck_assert_uint_eq(per_page[1], (CAP + 2) / 3);

  /* A walk without sweeping visits the four pages once each. */
  sweep_walk w = { .h = h };
  hpP_heap_foreach_page(h, sweep_fn, &w);
  ck_assert_uint_eq(w.nseen, 4);
  for (int k = 0; k < 4; k++) ck_assert(seen(&w, pg[k]));

  w = (sweep_walk){ .h = h, .sweep = true };
  hpP_heap_foreach_page(h, sweep_fn, &w);
  ck_assert_uint_eq(w.nseen, 4);
  ck_assert_uint_eq(w.freed, N - nmarked);

  ck_assert_ptr_null(hpP_span_of(b[0]));                /* page 1 was emptied: given back */
  ck_assert_ptr_null(hpP_block_of(b[CAP - 1], NULL));
  for (int k = 1; k < 4; k++) {
    ck_assert_ptr_eq(hpP_span_of(b[(size_t)k * CAP]), pg[k]);
    ck_assert_uint_eq(atomic_load(&pg[k]->used), per_page[k]);
    const uint64_t *mark = hpP_span_bits(pg[k], HPP_BITS_MARK);
    for (uint32_t j = 0; j < HPP_BITS_WORDS * 64; j++) T_CHECK(!bit(mark, j), "page %d mark %u", k, j);
  }
  for (size_t i = CAP; i < N; i++) {
    hpP_span *p = pg[i / CAP];
    bool alloc = bit(hpP_span_bits(p, HPP_BITS_ALLOC), (uint32_t)(i % CAP));
    T_CHECK(alloc == marked[i], "block %zu: ALLOC %d, marked %d", i, alloc, marked[i]);
    T_CHECK(hpP_block_of(b[i] + 47, NULL) == (marked[i] ? b[i] : NULL), "block %zu", i);
    if (marked[i])                                      /* survivors are untouched */
      for (int j = 0; j < 48; j++) T_CHECK(b[i][j] == (i & 0x7f), "block %zu byte %d", i, j);
  }

  /* Nothing is unmarked any more: a second sweep frees nothing. */
  w = (sweep_walk){ .h = h, .sweep = true };
  hpP_heap_foreach_page(h, sweep_fn, &w);
  ck_assert_uint_eq(w.nseen, 3);
  ck_assert_uint_eq(w.freed, nmarked);                  /* MARK bits were cleared: all die */
  for (int k = 1; k < 4; k++) ck_assert_uint_eq(atomic_load(&pg[k]->used), 0);

  /* The current page keeps its free blocks: the next allocations reuse them. */
  uint8_t *again = hpP_heap_alloc(h, 48);
  ck_assert_ptr_eq(hpP_span_of(again), pg[3]);
  ck_assert(bit(hpP_span_bits(pg[3], HPP_BITS_ALLOC), hpP_block_index(pg[3], again)));
  ck_assert_ptr_eq(hpP_block_of(again + 10, NULL), again);
  free(marked);
  free(b);
}
END_TEST

/* The collector's arena is not in the public statistics. */
START_TEST(collector_arena_not_in_public_stats) {
  struct hp_pool_stats s0, s1;
  hp_pool_stats(&s0);
  hpP_heap *h = hpP_heap_new(HPP_ARENA_GC, true);
  for (int i = 0; i < 1000; i++) T_CHECK(hpP_heap_alloc(h, 64 + (size_t)i) != NULL, "block %d", i);
  void *huge = hpP_heap_alloc(h, 300000);
  ck_assert_ptr_nonnull(huge);
  ck_assert_uint_eq(hpP_span_of(huge)->arena, HPP_ARENA_GC);
  hp_pool_stats(&s1);
  ck_assert_uint_eq(s1.total.allocs, s0.total.allocs);
  ck_assert_uint_eq(s1.total.blocks_in_use, s0.total.blocks_in_use);
  ck_assert_uint_eq(s1.total.pages_used, s0.total.pages_used);
  ck_assert_uint_eq(s1.total.bytes_committed, s0.total.bytes_committed);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Spans: walking, RAW spans
 * ------------------------------------------------------------------------------------ */

typedef struct span_walk {
  hpP_span *s[4096];
  size_t n, stop_after;
} span_walk;

static bool span_fn(hpP_span *s, void *arg) {
  span_walk *w = arg;
  ck_assert_uint_lt(w->n, 4096);
  w->s[w->n++] = s;
  return w->stop_after == 0 || w->n < w->stop_after;
}

static size_t count_in(const span_walk *w, const hpP_span *s) {
  size_t n = 0;
  for (size_t i = 0; i < w->n; i++) n += w->s[i] == s;
  return n;
}

/* hpP_foreach_span visits every span in use once, in address order, each with all its pages
 * mapped to it; freed spans are no longer visited; returning false stops the walk. */
START_TEST(foreach_span_visits_spans_in_use) {
  void *small = hp_pool_alloc(16), *medium = hp_pool_alloc(1000), *large = hp_pool_alloc(20000);
  void *huge = hp_pool_alloc(1 << 20), *huge2 = hp_pool_alloc(70000);
  bool zeroed = false;
  hpP_span *raw = hpP_raw_alloc(3, 0xC0FFEE, &zeroed);
  ck_assert_ptr_nonnull(raw);
  hpP_span *known[] = { hpP_span_of(small), hpP_span_of(medium), hpP_span_of(large),
                        hpP_span_of(huge), hpP_span_of(huge2), raw };
  int kinds[] = { HPP_SPAN_BLOCKS, HPP_SPAN_BLOCKS, HPP_SPAN_BLOCKS, HPP_SPAN_HUGE, HPP_SPAN_HUGE, HPP_SPAN_RAW };

  static span_walk w;
  w.n = 0; w.stop_after = 0;
  hpP_foreach_span(span_fn, &w);
  for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
    ck_assert_ptr_nonnull(known[k]);
    ck_assert_int_eq(known[k]->kind, kinds[k]);
    ck_assert_uint_eq(count_in(&w, known[k]), 1);
  }
  uintptr_t end = 0;
  for (size_t i = 0; i < w.n; i++) {
    hpP_span *s = w.s[i];
    uintptr_t a = (uintptr_t)hpP_span_start(s);
    ck_assert_uint_ge(a, end);                          /* ordered, not overlapping */
    ck_assert_uint_gt(a, hpP_base);                     /* never page 0 */
    ck_assert_int_ne(s->kind, HPP_SPAN_FREE);
    ck_assert_uint_ge(s->npages, 1);
    for (uint32_t j = 0; j < s->npages; j++) ck_assert_ptr_eq(hpP_span_of((void *)(a + j * HPP_PAGE)), s);
    end = a + span_bytes(s);
  }

  static span_walk w1;
  w1.n = 0; w1.stop_after = 2;
  hpP_foreach_span(span_fn, &w1);
  ck_assert_uint_eq(w1.n, 2);
  ck_assert_ptr_eq(w1.s[0], w.s[0]);
  ck_assert_ptr_eq(w1.s[1], w.s[1]);

  hp_pool_free(huge);
  hpP_raw_free(raw);
  static span_walk w2;
  w2.n = 0; w2.stop_after = 0;
  hpP_foreach_span(span_fn, &w2);
  ck_assert_uint_eq(w2.n, w.n - 2);
  ck_assert_uint_eq(count_in(&w2, known[3]), 0);
  ck_assert_uint_eq(count_in(&w2, raw), 0);
  ck_assert_uint_eq(count_in(&w2, known[4]), 1);
  hp_pool_free(small); hp_pool_free(medium); hp_pool_free(large); hp_pool_free(huge2);
}
END_TEST

/* A RAW span belongs to its client: mapped, but no block is in it; fresh memory is reported
 * zeroed; memory given back and returned to the OS reads zero when it is reported zeroed. */
START_TEST(raw_spans) {
  bool zeroed = false;
  hpP_span *raw = hpP_raw_alloc(3, 0xC0FFEE, &zeroed);
  ck_assert_ptr_nonnull(raw);
  ck_assert_int_eq(raw->kind, HPP_SPAN_RAW);
  ck_assert_uint_eq(raw->npages, 3);
  ck_assert_uint_eq(raw->client, 0xC0FFEE);
  uint8_t *m = hpP_span_start(raw);
  ck_assert(zeroed);                                    /* never used: fresh from the OS */
  for (size_t off = 0; off < 3 * HPP_PAGE; off += 512)
    T_CHECK(m[off] == 0 && hpP_span_of(m + off) == raw && hpP_block_of(m + off, NULL) == NULL, "offset %zu", off);
  ck_assert_uint_eq(hp_pool_usable_size(m), 0);
  memset(m, 0xAB, 3 * HPP_PAGE);
  hpP_raw_free(raw);
  ck_assert_ptr_null(hpP_span_of(m));
  hp_pool_trim();                                       /* returned to the OS */
  hpP_span *again = hpP_raw_alloc(3, 1, &zeroed);
  ck_assert_ptr_nonnull(again);
  uint8_t *m2 = hpP_span_start(again);
  if (zeroed)
    for (size_t off = 0; off < 3 * HPP_PAGE; off++) T_CHECK(m2[off] == 0, "offset %zu not zero", off);
  ck_assert_ptr_eq(m2, m);                              /* the same pages, first fit */
  ck_assert(zeroed);
  hpP_raw_free(again);
}
END_TEST

/* Span allocation costs O(1) in the number of free spans (issue 9, bug 5): with 2000 free
 * spans that cannot hold an aligned request, the request looks at a bounded number of them
 * (a first-fit scan looked at all 2000) and still returns an aligned span of fresh pages. */
START_TEST(aligned_span_alloc_is_bounded) {
  enum { N = 2000, GAP = 5, SEP = 3, WANT = 4, ALIGN = 32 };
  ck_assert(hpP_init());
  size_t base_pages = hpP_base >> HPP_PAGE_SHIFT;
  /* Pad so that every gap starts at 2 mod 8 (address pages): a 5-page gap then holds no
   * 4-page span aligned to 32 pages (it would have to start at 0 or 31 mod 32). */
  for (int guard = 0; guard < 8; guard++) {
    hpP_span *probe = hpP_raw_alloc(1, 0, NULL);
    ck_assert_ptr_nonnull(probe);
    if ((base_pages + (size_t)(probe - hpP_pages) + 1) % 8 == 2) break;
  }
  static hpP_span *gap[N], *sep[N];
  for (int i = 0; i < N; i++) {
    gap[i] = hpP_raw_alloc(GAP, 0, NULL);
    sep[i] = hpP_raw_alloc(SEP, 0, NULL);
    ck_assert(gap[i] && sep[i]);
    T_CHECK((base_pages + (size_t)(gap[i] - hpP_pages)) % 8 == 2, "gap %d at %zu", i, (size_t)(gap[i] - hpP_pages));
  }
  for (int i = 0; i < N; i++) hpP_raw_free(gap[i]);
  hpP_lock();
  uint64_t probes0 = hpP_gstats.span_probes, allocs0 = hpP_gstats.span_allocs;
  hpP_unlock();
  hpP_span *s = hpP_span_alloc(WANT, ALIGN, HPP_SPAN_RAW, NULL);
  ck_assert_ptr_nonnull(s);
  hpP_lock();
  uint64_t probes = hpP_gstats.span_probes - probes0, allocs = hpP_gstats.span_allocs - allocs0;
  hpP_unlock();
  ck_assert_uint_eq(allocs, 1);
  ck_assert_msg(probes <= 16, "one aligned request looked at %llu free spans", (unsigned long long)probes);
  ck_assert_uint_eq(((uintptr_t)hpP_span_start(s) >> HPP_PAGE_SHIFT) % ALIGN, 0);
  ck_assert_uint_eq(s->npages, WANT);
  ck_assert(s > sep[N - 1]);                    /* above every gap: none could hold it */
  for (int i = 0; i < N; i++) T_CHECK(hpP_span_of(hpP_span_start(sep[i])) == sep[i], "separator %d", i);
  /* A request that a gap holds takes one, looking at one span. */
  hpP_lock();
  probes0 = hpP_gstats.span_probes;
  hpP_unlock();
  hpP_span *g = hpP_span_alloc(GAP, 1, HPP_SPAN_RAW, NULL);
  hpP_lock();
  probes = hpP_gstats.span_probes - probes0;
  hpP_unlock();
  ck_assert_uint_eq(probes, 1);
  ck_assert_uint_eq(g->npages, GAP);
  bool was_gap = false;
  for (int i = 0; i < N; i++) was_gap |= g == gap[i];
  ck_assert(was_gap);
}
END_TEST

/* Heaps are recycled last in, first out, without a scan of the heaps in use. */
START_TEST(heaps_recycled_lifo) {
  enum { N = 500 };
  static hpP_heap *h[N];
  for (int i = 0; i < N; i++) { h[i] = hpP_heap_new(HPP_ARENA_GC, true); ck_assert_ptr_nonnull(h[i]); }
  for (int i = 0; i < N; i++) for (int j = 0; j < i; j++) T_CHECK(h[i] != h[j], "heap %d twice", i);
  hpP_heap_destroy(h[100]);
  hpP_heap_destroy(h[7]);
  ck_assert_ptr_eq(hpP_heap_new(HPP_ARENA_GC, true), h[7]);
  ck_assert_ptr_eq(hpP_heap_new(HPP_ARENA_GC, true), h[100]);
  hpP_heap *fresh = hpP_heap_new(HPP_ARENA_GC, true);
  for (int i = 0; i < N; i++) T_CHECK(fresh != h[i], "heap in use handed out again (%d)", i);
  hpP_heap *pub = hpP_heap_new(HPP_ARENA_PUBLIC, false);   /* another kind: never a GC heap */
  for (int i = 0; i < N; i++) T_CHECK(pub != h[i], "a collector heap recycled as a public one");
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Misuse
 * ------------------------------------------------------------------------------------ */

/* Every build: addresses inside the reservation that are in no block. */
START_TEST(free_in_page_zero_aborts) {
  ck_assert_ptr_nonnull(hp_pool_alloc(64));
  hp_pool_free((void *)(hpP_base + 64));
}
END_TEST

START_TEST(free_past_top_aborts) {
  ck_assert_ptr_nonnull(hp_pool_alloc(64));
  hp_pool_free((void *)(hpP_base + hpP_size / 2));
}
END_TEST

START_TEST(free_in_raw_span_aborts) {
  hpP_span *raw = hpP_raw_alloc(1, 0, NULL);
  ck_assert_ptr_nonnull(raw);
  hp_pool_free(hpP_span_start(raw) + 256);
}
END_TEST

#if HP_DEBUG >= 1
START_TEST(free_of_collector_block_aborts) {
  hpP_heap *h = hpP_heap_new(HPP_ARENA_GC, true);
  void *b = hpP_heap_alloc(h, 64);
  ck_assert_ptr_nonnull(b);
  hp_pool_free(b);
}
END_TEST
#endif

#if HP_DEBUG >= 2
START_TEST(double_free_aborts) {
  void *keep = hp_pool_alloc(64), *b = hp_pool_alloc(64);
  (void)keep;
  hp_pool_free(b);
  hp_pool_free(b);
}
END_TEST

START_TEST(double_free_sized_aborts) {
  void *keep = hp_pool_alloc(3000), *b = hp_pool_alloc(3000);
  (void)keep;
  hp_pool_free_sized(b, 3000);
  hp_pool_free_sized(b, 3000);
}
END_TEST

START_TEST(interior_free_aborts) {
  uint8_t *b = hp_pool_alloc(64);
  hp_pool_free(b + 16);
}
END_TEST

START_TEST(interior_free_of_large_aborts) {
  uint8_t *b = hp_pool_alloc(20000);
  hp_pool_free(b + 4096);
}
END_TEST

START_TEST(interior_free_of_huge_aborts) {
  uint8_t *b = hp_pool_alloc(300000);
  hp_pool_free(b + HPP_PAGE);
}
END_TEST

START_TEST(double_free_of_huge_aborts) {
  void *b = hp_pool_alloc(300000);
  hp_pool_free(b);
  hp_pool_free(b);
}
END_TEST

/* A block of a page in use that was never handed out. */
START_TEST(free_of_block_never_handed_out_aborts) {
  uint8_t *b = hp_pool_alloc(64);
  hp_pool_free(b + 64 * 3);
}
END_TEST

static void *free_twice(void *p) {
  hp_pool_free(p);
  hp_pool_free(p);
  return NULL;
}

/* Freed twice by a thread that does not own it: caught before the remote list turns into a
 * cycle. */
START_TEST(remote_double_free_aborts) {
  void *keep = hp_pool_alloc(64), *b = hp_pool_alloc(64);
  (void)keep;
  pthread_t t;
  pthread_create(&t, NULL, free_twice, b);
  pthread_join(t, NULL);
}
END_TEST

/* A double free split across threads, in either order (issue 9, bug 3). Each case runs the
 * double free in a child whose stderr is a pipe: the child first writes the block's address,
 * then must die of SIGABRT with "double free of pool block <address>" on stderr. */
static void *free_once(void *p) {
  hp_pool_free(p);
  return NULL;
}

static void free_on_other_thread(void *b) {
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, free_once, b), 0);
  pthread_join(t, NULL);
}

static void expect_double_free_report(bool owner_first) {
  int fd[2];
  ck_assert_int_eq(pipe(fd), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    dup2(fd[1], 2);
    close(fd[0]);
    void *keep = hp_pool_alloc(64), *b = hp_pool_alloc(64);  /* keep: the page stays in use */
    (void)keep;
    fprintf(stderr, "block %p\n", b);
    fflush(stderr);
    if (owner_first) { hp_pool_free(b); free_on_other_thread(b); }
    else { free_on_other_thread(b); hp_pool_free(b); }
    _exit(0);                                  /* not reported: the test fails */
  }
  close(fd[1]);
  char out[4096];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof out - 1 && (r = read(fd[0], out + n, sizeof out - 1 - n)) > 0) n += (size_t)r;
  out[n] = 0;
  close(fd[0]);
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                "the second free was not reported (child status %d); output:\n%s", status, out);
  void *b = NULL;
  ck_assert_int_eq(sscanf(out, "block %p", &b), 1);
  char want[64];
  snprintf(want, sizeof want, "double free of pool block %p", b);
  ck_assert_msg(strstr(out, want) != NULL, "expected \"%s\" in:\n%s", want, out);
  ck_assert_msg(strstr(out, owner_first ? "by its owner, then by another thread"
                                        : "by another thread, then by its owner") != NULL,
                "the message does not say the order: %s", out);
}

START_TEST(owner_then_remote_double_free_is_reported) { expect_double_free_report(true); }
END_TEST

START_TEST(remote_then_owner_double_free_is_reported) { expect_double_free_report(false); }
END_TEST
#endif

/* ------------------------------------------------------------------------------------ */

static Suite *suite(void) {
  Suite *s = suite_create("pools-internal");
  TCase *tc = tcase_create("classes");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, class_of_is_smallest_fit);
  tcase_add_test(tc, class_table_is_well_formed);
  suite_add_tcase(s, tc);

  tc = tcase_create("lookup");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, block_of_every_class);
  tcase_add_test(tc, block_of_huge);
  tcase_add_test(tc, lookup_outside_is_null);
  tcase_add_test(tc, lookup_uncarved_and_tail_is_null);
  tcase_add_test(tc, lookup_freed_block_on_tracked_page_is_null);
  suite_add_tcase(s, tc);

  tc = tcase_create("tracked");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, bitmaps_are_per_page);
  tcase_add_test(tc, sweep_frees_exactly_the_unmarked);
  tcase_add_test(tc, collector_arena_not_in_public_stats);
  suite_add_tcase(s, tc);

  tc = tcase_create("spans");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, foreach_span_visits_spans_in_use);
  tcase_add_test(tc, raw_spans);
  tcase_add_test(tc, aligned_span_alloc_is_bounded);
  tcase_add_test(tc, heaps_recycled_lifo);
  suite_add_tcase(s, tc);

  tc = tcase_create("misuse");
  tcase_set_timeout(tc, 60);
  tcase_add_test_raise_signal(tc, free_in_page_zero_aborts, SIGABRT);
  tcase_add_test_raise_signal(tc, free_past_top_aborts, SIGABRT);
  tcase_add_test_raise_signal(tc, free_in_raw_span_aborts, SIGABRT);
#if HP_DEBUG >= 1
  tcase_add_test_raise_signal(tc, free_of_collector_block_aborts, SIGABRT);
#endif
#if HP_DEBUG >= 2
  tcase_add_test_raise_signal(tc, double_free_aborts, SIGABRT);
  tcase_add_test_raise_signal(tc, double_free_sized_aborts, SIGABRT);
  tcase_add_test_raise_signal(tc, interior_free_aborts, SIGABRT);
  tcase_add_test_raise_signal(tc, interior_free_of_large_aborts, SIGABRT);
  tcase_add_test_raise_signal(tc, interior_free_of_huge_aborts, SIGABRT);
  tcase_add_test_raise_signal(tc, double_free_of_huge_aborts, SIGABRT);
  tcase_add_test_raise_signal(tc, free_of_block_never_handed_out_aborts, SIGABRT);
  tcase_add_test_raise_signal(tc, remote_double_free_aborts, SIGABRT);
  tcase_add_test(tc, owner_then_remote_double_free_is_reported);
  tcase_add_test(tc, remote_then_owner_double_free_is_reported);
#endif
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
