/* pools/pool.h -- the pools' internal interface (hpP_), used by the public pool API and by
 * the collector. The pools know nothing of objects: they hand out blocks and spans, keep
 * side bitmaps for their owners, and answer "which block holds this address".
 *
 * ====================================================================================
 *  Layout
 * ====================================================================================
 * All of hp's memory lives in one reservation R = [hpP_base, hpP_base + hpP_size),
 * aligned to and split in pages of HPP_PAGE = 64 KiB. A *span* is a run of pages with
 * one purpose; the descriptor of its first page describes it:
 *
 *   hpP_map[i]    0 if page i is in no span in use, else 1 + (index of its span's first page)
 *   hpP_pages[j]  the descriptor (hpP_span) of the span that starts at page j; its `kind` is
 *                 HPP_SPAN_BLOCKS only if j is the first page of a BLOCKS span in use (a span
 *                 given back loses the kind), so a free may read the descriptor of the block's
 *                 own page before the map: for a one-page span it is the span's (pool_free)
 *   hpP_bits(i,k) side bitmap k of page i: 4096 bits, one per 16-byte granule of the page
 *                 (for a span of blocks, the bitmaps of its first page hold one bit per block)
 *
 * All three are arrays in reserved, uncommitted memory: an entry costs memory only once it is
 * touched, and reading any entry is safe. So for ANY address a, hpP_span_of(a) is a range
 * check and one load, and hpP_block_of(a) adds one multiply: O(1), never touching memory that
 * is not mapped. This is also where the collector's card table and object-start bits live.
 *
 * Span kinds:  FREE    in the global pool (hpP_pages[j].kind == FREE only at a free span's
 *                      first page; its last page records the first in `free_first`)
 *              BLOCKS  blocks of one size class, owned by one heap (thread) or abandoned
 *              HUGE    one block of more than 64 KiB
 *              RAW     handed whole to a client (the collector's eden and survivor spaces)
 *
 * ====================================================================================
 *  Ownership and the free-block invariant of a BLOCKS span (page for short)
 * ====================================================================================
 * A page is owned by at most one heap; only the owner's thread touches `free`, `used`,
 * `reserved`, and the queue links. Any thread may push onto `remote`.
 *
 *   used + |free| + (capacity - reserved) == capacity          [page-count invariant]
 *
 * `used` counts blocks handed out that the owner has not yet seen come back; a block on the
 * remote list still counts as used until the owner takes the list (one atomic exchange-like
 * CAS that empties it: a single consumer, so there is no ABA).
 *
 * The remote word is (pointer to first block | flags), blocks being 16-byte aligned:
 *   HPP_FULL     the owner parked the page in its full queue and wants to hear of a free;
 *   HPP_PENDING  a freer cleared FULL (in the same CAS that pushed its block) and is
 *                pushing the page onto its owner's `pending` list; the owner clears it.
 * The owner sets FULL only while PENDING is clear, so a page is on at most one pending list.
 * A heap that is being abandoned waits for freers in flight (heap->notifiers) before it
 * drains its pending list for the last time; heaps are recycled, never freed.
 */
#ifndef HP_POOLS_POOL_H
#define HP_POOLS_POOL_H
#include "pools/platform/internal.h"
#include "pools/platform/atomic.h"
#include "pools/platform/list.h"

#define HPP_PAGE_SHIFT 16
#define HPP_PAGE ((size_t)1 << HPP_PAGE_SHIFT)     /* 64 KiB */
#define HPP_GRANULE 16                              /* minimum block size and alignment */
#define HPP_BITS_WORDS (HPP_PAGE / HPP_GRANULE / 64) /* 64 words = 4096 bits per page */
#define HPP_SMALL_MAX 128
#define HPP_MEDIUM_MAX 2048
#define HPP_LARGE_MAX 65536
#define HPP_CLASSES HP_POOL_CLASSES                 /* 8 small + 16 medium + 20 large */
#define HPP_MAX_SPAN_PAGES 16                       /* largest span of a size class */

enum { HPP_SPAN_FREE = 0, HPP_SPAN_BLOCKS, HPP_SPAN_HUGE, HPP_SPAN_RAW };
enum { HPP_BITS_ALLOC = 0, HPP_BITS_MARK = 1, HPP_BITS_AUX = 2, HPP_NBITMAPS = 3 };
/* Arenas separate the embedder's unmanaged blocks from the collector's old generation. */
enum { HPP_ARENA_PUBLIC = 0, HPP_ARENA_GC = 1, HPP_NARENAS = 2 };

#define HPP_FULL ((uintptr_t)1)
#define HPP_PENDING ((uintptr_t)2)
#define HPP_REMOTE_FLAGS ((uintptr_t)15)

typedef struct hpP_block { struct hpP_block *next; } hpP_block;
typedef struct hpP_heap hpP_heap;

typedef struct hpP_span {
  /* --- line 0: what every free reads; fixed while the span is in use (span lock) --- */
  _Alignas(64) uint8_t kind;    /* HPP_SPAN_*; BLOCKS only at the first page of a BLOCKS span */
  uint8_t cls;                  /* size class (BLOCKS) */
  uint8_t arena;                /* HPP_ARENA_* */
  /* a byte of its own: read by any thread (hpP_block_of) while the owner writes its other
   * fields, and bit-fields in one byte are one memory location */
  uint8_t tracked;              /* ALLOC bitmap kept exactly (collector pages, HP_DEBUG >= 2) */
  uint8_t dirty : 1;            /* FREE: may be resident (not yet returned to the OS) */
  uint32_t npages;              /* pages in the span */
  uint32_t block_size;          /* bytes per block (HUGE: 0, the block is the whole span) */
  uint32_t capacity;            /* blocks in the span */
  uint64_t div_mul;             /* block index of offset o = (o * div_mul) >> 40; 0 for HUGE */
  _Atomic(hpP_heap *) owner;    /* NULL while abandoned */
  uint32_t free_first;          /* FREE: at a free span's LAST page, 1 + its first page */
  uint64_t freed_at;            /* FREE: when it entered the global pool (ns) */
  union {                       /* by kind: */
    uintptr_t client;           /*   RAW: the client's word; BLOCKS: the owner heap's
                                     (0 when the page is made) */
    size_t huge_requested;      /*   HUGE: bytes requested, for the statistics */
  };
  _Atomic uint8_t huge_freed;   /* HUGE: set by the first free (a second one is reported) */
  /* --- line 1: the owner's --- */
  _Alignas(64) hpP_block *free; /* blocks ready to hand out (the allocation fast path pops) */
  hpP_block *local_free;        /* blocks the owner freed (the free fast path pushes); they
                                   become `free` when it runs out (mimalloc's sharding: no
                                   store-to-load chain between a free and the next alloc) */
  _Atomic uint32_t used;        /* see the page-count invariant (owner writes; stats read) */
  _Atomic uint32_t reserved;    /* blocks carved so far; the rest were never touched */
  _Atomic uint64_t allocs;      /* statistics: blocks handed out from this page by its owner */
  _Atomic uint64_t req_bytes;   /*   and the bytes requested for them (folded into the heap's
                                     counters when the page leaves it: see pools/stats.c) */
  struct hpP_span *next, *prev; /* in the owner's queue, or a global list */
  uint8_t in_full;              /* owner: parked in the full queue */
  uint8_t current;              /* owner: the current page of its class */
  /* --- line 2: written by other threads --- */
  _Alignas(64) _Atomic(uintptr_t) remote; /* blocks freed by other threads | FULL | PENDING */
  struct hpP_span *pending_next;/* link in the owner's pending list (see HPP_PENDING) */
} hpP_span;                     /* three cache lines: freers read line 0 and write line 2,
                                   the owner's fast paths write line 1; neighbouring pages
                                   belong to different threads (no false sharing) */

/* Per size class of a heap: the page to allocate from, the further pages that may have free
 * blocks (first in, first out: a page that gets a block back goes to the tail, and gathers
 * more frees before it comes up again), and the pages parked full. */
typedef struct hpP_queue {
  hpP_span *current;            /* never NULL: &hpP_empty_page when there is none */
  hpP_span *avail, *avail_tail; /* further pages that may have free blocks (hpS_list, with
                                   the tail kept for appending: heap.c, avail_*) */
  hpP_span *full;               /* pages with no free block, waiting for a free (hpS_list) */
} hpP_queue;

/* Statistics of one class in one heap, written by the owner only (hp_counter_add), in slow
 * paths: the fast paths count on the page (allocs, req_bytes), and a page's counts move here
 * when it leaves the heap. Frees are allocs minus the blocks in use (pools/stats.c). */
typedef struct hpP_class_counters {
  _Atomic uint64_t allocs, req_bytes, frees_sized, req_freed;
} hpP_class_counters;

struct hpP_heap {
  hpP_queue q[HPP_CLASSES];
  uint8_t arena;
  bool tracked;                 /* keep the ALLOC bitmap exact on every alloc and free */
  bool in_use;
  _Atomic(hpP_span *) pending;  /* pages that left the full state by a remote free */
  _Atomic uint32_t notifiers;   /* freers between reading a page's owner and pushing */
  hpP_heap *next_heap;          /* all heaps ever made (never freed) */
  hpP_heap *next_recycled;      /* while not in use: the next one of its kind (heap.c) */
  hpP_class_counters stats[HPP_CLASSES];
  /* Tracked heaps: asked for blocks of class cls before a fresh page is taken (the
   * collector's lazy sweep); true when it made some available. NULL: none. */
  bool (*refill)(hpP_heap *h, unsigned cls, void *arg);
  void *refill_arg;
};

/* ---- The reservation and the page map ---- */
extern HP_INTERNAL uintptr_t hpP_base;
extern HP_INTERNAL size_t hpP_size;
extern HP_INTERNAL _Atomic uint32_t *hpP_map;
extern HP_INTERNAL hpP_span *hpP_pages;
extern HP_INTERNAL uint64_t *hpP_bitmaps;
extern HP_INTERNAL hpP_span hpP_empty_page;

/* Sets up the reservation once (thread-safe); false if it could not be made. */
HP_INTERNAL bool hpP_init(void);

hp_inline size_t hpP_index(const void *p) { return ((uintptr_t)p - hpP_base) >> HPP_PAGE_SHIFT; }
hp_inline bool hpP_contains(const void *p) { return (uintptr_t)p - hpP_base < hpP_size; }
hp_inline uint8_t *hpP_span_start(const hpP_span *pg) {
  return (uint8_t *)(hpP_base + ((size_t)(pg - hpP_pages) << HPP_PAGE_SHIFT));
}

/* The span that holds address p, or NULL (p outside the reservation or in no span in use).
 * Any address is safe to ask about. */
hp_inline hpP_span *hpP_span_of(const void *p) {
  if (!hpP_contains(p)) return NULL;
  uint32_t m = atomic_load_explicit(&hpP_map[hpP_index(p)], memory_order_relaxed);
  return m ? &hpP_pages[m - 1] : NULL;
}

/* Side bitmap k of page index i (4096 bits). */
hp_inline uint64_t *hpP_bits(size_t page_index, int k) {
  return hpP_bitmaps + (page_index * HPP_NBITMAPS + (size_t)k) * HPP_BITS_WORDS;
}
hp_inline uint64_t *hpP_span_bits(const hpP_span *pg, int k) { return hpP_bits((size_t)(pg - hpP_pages), k); }

/* Index of the block of span pg that holds p (p inside the span). */
hp_inline uint32_t hpP_block_index(const hpP_span *pg, const void *p) {
  uint64_t off = (uint64_t)((const uint8_t *)p - hpP_span_start(pg));
  return (uint32_t)((off * pg->div_mul) >> 40);
}
hp_inline void *hpP_block_at(const hpP_span *pg, uint32_t i) {
  return hpP_span_start(pg) + (size_t)i * pg->block_size;
}

/* Where the block that holds p starts, or NULL when p is in no block that was ever handed
 * out: outside every span, in a RAW span, in a page's unused tail, or in a block never
 * carved. On a tracked page (collector pages; all pages when HP_DEBUG >= 2) also NULL when
 * the block is free. The span is stored in *span if span is not NULL. */
HP_INTERNAL void *hpP_block_of(const void *p, hpP_span **span);

/* A page with no live block and no notification in flight (its descriptor may be reused). */
hp_inline bool hpP_page_releasable(hpP_span *pg) {
  return atomic_load_explicit(&pg->used, memory_order_relaxed) == 0 &&
         (atomic_load_explicit(&pg->remote, memory_order_acquire) & HPP_PENDING) == 0;
}

/* ---- Size classes ---- */
extern HP_INTERNAL const uint32_t hpP_class_size[HPP_CLASSES];
extern HP_INTERNAL const uint8_t hpP_class_pages[HPP_CLASSES];
extern HP_INTERNAL const uint8_t hpP_small_class[HPP_MEDIUM_MAX / HPP_GRANULE + 1];
/* The class for `size` (size <= HPP_LARGE_MAX). */
hp_inline unsigned hpP_class_of(size_t size) {
  if (hp_likely(size <= HPP_MEDIUM_MAX)) return hpP_small_class[(size + HPP_GRANULE - 1) / HPP_GRANULE];
  unsigned b = 63u - (unsigned)__builtin_clzll((unsigned long long)(size - 1)); /* 2^b < size <= 2^(b+1) */
  unsigned step = (unsigned)((size - 1) >> (b - 2)) & 3u;                       /* quarter within */
  return 24u + (b - 11u) * 4u + step;
}
HP_INTERNAL int hpP_tier_of_class(unsigned cls);

/* ---- Heaps ---- */
/* The calling thread's heap of the public arena; made on first use. */
extern HP_INTERNAL __thread hpP_heap *hpP_tls_heap __attribute__((tls_model("initial-exec")));
HP_INTERNAL hpP_heap *hpP_thread_heap_slow(void);
/* A heap not tied to a thread: the caller serialises its use (the collector uses one under
 * its lock, tracked so that the ALLOC bitmap says which blocks hold objects). */
HP_INTERNAL hpP_heap *hpP_heap_new(int arena, bool tracked);
/* Hands all pages of h over (abandoned) and recycles h. */
HP_INTERNAL void hpP_heap_abandon(hpP_heap *h);

HP_INTERNAL void *hpP_alloc_slow(hpP_heap *h, unsigned cls);
HP_INTERNAL void *hpP_alloc_counted_slow(hpP_heap *h, unsigned cls, size_t size);
HP_INTERNAL void hpP_free_slow(hpP_heap *h, hpP_span *pg);

/* Allocates a block of class cls from the untracked heap h of the caller's thread.
 * Budget: one load of the current page, one pop, one increment. */
hp_inline void *hpP_heap_alloc_class(hpP_heap *h, unsigned cls) {
  hpP_span *pg = h->q[cls].current;
  hpP_block *b = pg->free;
  if (hp_unlikely(b == NULL || HP_DEBUG >= 2)) return hpP_alloc_slow(h, cls);
  pg->free = b->next;
  hp_counter_add(pg->used, 1);
  return b;
}

/* Sets bit i of a bitmap that has one writer at a time and readers anywhere (the ALLOC
 * bitmap): a relaxed load and store, no read-modify-write. */
hp_inline void hpP_bit_set_1w(uint64_t *bits, uint32_t i) {
  uint64_t *w = &bits[i >> 6];
  hpS_word_store(w, hpS_word_load(w, memory_order_relaxed) | (uint64_t)1 << (i & 63), memory_order_relaxed);
}

/* The same, counting the allocation and its requested size on the page (the public API). */
hp_inline void *hpP_heap_alloc_counted(hpP_heap *h, unsigned cls, size_t size) {
  hpP_span *pg = h->q[cls].current;
  hpP_block *b = pg->free;
  if (hp_unlikely(b == NULL || HP_DEBUG >= 2)) return hpP_alloc_counted_slow(h, cls, size);
  pg->free = b->next;
  hp_counter_add(pg->used, 1);
  if (HP_STATS) {   /* after `used`, released: a reader never sees more allocs than uses */
    hp_counter_add(pg->req_bytes, size);
    atomic_store_explicit(&pg->allocs, atomic_load_explicit(&pg->allocs, memory_order_relaxed) + 1,
                          memory_order_release);
  }
  return b;
}

/* Allocates a block of class cls from the tracked heap h (the collector's), setting its
 * ALLOC bit. A page's never-used tail is taken by a bump rather than carved into a free list
 * first, so that a promoted object's block is touched once, by the copy.
 * Budget: a pop or a bump, one multiply, one bit set. */
hp_inline void *hpP_tracked_alloc_class(hpP_heap *h, unsigned cls) {
  hpP_span *pg = h->q[cls].current;
  hpP_block *b = pg->free;
  uint32_t i;
  if (hp_likely(b != NULL && HP_DEBUG < 2)) {
    pg->free = b->next;
    i = hpP_block_index(pg, b);
  } else {
    i = atomic_load_explicit(&pg->reserved, memory_order_relaxed);
    if (hp_unlikely(b != NULL || i >= pg->capacity || HP_DEBUG >= 2)) return hpP_alloc_slow(h, cls);
    atomic_store_explicit(&pg->reserved, i + 1, memory_order_relaxed);
    b = hpP_block_at(pg, i);
  }
  hp_counter_add(pg->used, 1);
  hpP_bit_set_1w(hpP_span_bits(pg, HPP_BITS_ALLOC), i);
  return b;
}

/* Allocates `size` bytes from heap h of any kind (tracked or not), huge sizes included;
 * NULL with errno = ENOMEM. The collector's entry point. */
HP_INTERNAL void *hpP_heap_alloc(hpP_heap *h, size_t size);

/* Frees a HUGE span of any arena (the collector's sweep). */
HP_INTERNAL void hpP_huge_free_span(hpP_span *pg);
/* Gives every page of h back to the global pool, live blocks or not, and recycles h (the
 * collector's heap when its runtime is destroyed). */
HP_INTERNAL void hpP_heap_destroy(hpP_heap *h);

/* Huge blocks and whole spans. */
HP_INTERNAL void *hpP_huge_alloc(size_t size, size_t align, int arena);
/* The same; *zeroed (if not NULL) says whether the block's memory is known to be zero (pages
 * fresh from the OS or returned to it since: libhpmalloc's calloc then clears nothing). */
HP_INTERNAL void *hpP_huge_alloc_z(size_t size, size_t align, int arena, bool *zeroed);
/* A RAW span of npages pages for a client (the collector); NULL with errno on failure.
 * Its memory is zero if *zeroed is set on return. */
HP_INTERNAL hpP_span *hpP_raw_alloc(size_t npages, uintptr_t client, bool *zeroed);
HP_INTERNAL void hpP_raw_free(hpP_span *span);

/* Frees block b of span pg from any thread; the public free after lookup and checks. */
HP_INTERNAL void hpP_free_block(hpP_span *pg, void *b);

/* ---- The global span pool (span.c) ---- */
/* Takes a span of npages pages aligned to align_pages pages; NULL with errno = ENOMEM. */
HP_INTERNAL hpP_span *hpP_span_alloc(size_t npages, size_t align_pages, int kind, bool *zeroed);
/* Gives a span back to the global pool; it is returned to the OS after the purge delay,
 * or at once if `now`. */
HP_INTERNAL void hpP_span_free(hpP_span *span, bool now);
/* Returns free memory to the OS; all of it if force, else what has waited the delay.
 * Returns the bytes returned. */
HP_INTERNAL size_t hpP_purge(bool force);
#define HPP_PURGE_DELAY_MS 500                /* a free span is returned after this long */
#define HPP_PURGE_TICK_MS 250                 /* the purger's period while there is work */

/* ---- Abandoned pages (heap.c) ---- */
/* Collects remote frees of abandoned pages and releases the empty ones. */
HP_INTERNAL void hpP_reclaim_abandoned(void);
/* Moves the remote frees of pg onto its free list (caller acts as pg's owner). Returns how
 * many. */
HP_INTERNAL size_t hpP_collect_remote(hpP_span *pg);
/* The counts of abandoned pages that were given back with no owner (abandoned_mu held). */
extern HP_INTERNAL hpP_class_counters hpP_orphan_stats[HPP_NARENAS][HPP_CLASSES];

/* ---- For the collector: pages of a tracked heap (world stopped, or the heap's user) ---- */
/* Calls fn on every BLOCKS page of h. fn may call hpP_page_sweep on the page. */
HP_INTERNAL void hpP_heap_foreach_page(hpP_heap *h, void (*fn)(hpP_span *pg, void *arg), void *arg);
/* Frees every block of pg (a page of tracked heap h) whose ALLOC bit is set and MARK bit
 * clear, then clears the MARK bits. A page left empty goes back to the global pool unless it
 * is the current page of its class. Returns the number of blocks freed. */
HP_INTERNAL size_t hpP_page_sweep(hpP_heap *h, hpP_span *pg);

/* Global counters kept by the span layer (atomic: slow paths only). */
typedef struct hpP_global_stats {
  _Atomic int64_t huge_blocks[HPP_NARENAS], huge_bytes[HPP_NARENAS];
  _Atomic uint64_t huge_allocs[HPP_NARENAS], huge_frees[HPP_NARENAS], huge_req[HPP_NARENAS];
  _Atomic int64_t pages_free_dirty, pages_free_clean;
  _Atomic uint64_t bytes_returned;
  _Atomic uint64_t threads_abandoned;
  uint64_t span_allocs, span_probes;   /* span lock held: requests, free spans looked at */
} hpP_global_stats;
extern HP_INTERNAL hpP_global_stats hpP_gstats;
extern HP_INTERNAL hpP_heap *_Atomic hpP_all_heaps;

/* Span lock: serialises the global pool and the page map. */
HP_INTERNAL void hpP_lock(void);
HP_INTERNAL void hpP_unlock(void);
/* Visits every span in use (under the span lock); stops when fn returns false. */
HP_INTERNAL void hpP_foreach_span(bool (*fn)(hpP_span *span, void *arg), void *arg);
HP_INTERNAL void hpP_foreach_span_locked(bool (*fn)(hpP_span *span, void *arg), void *arg);

#endif /* HP_POOLS_POOL_H */
