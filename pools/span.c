/* pools/span.c -- the reservation, the page map, and the global pool of free spans.
 *
 * Everything here runs under one mutex, the span lock: taking or returning a span happens
 * once per page-full of blocks (or per huge block), never per small allocation.
 *
 * Free spans are coalesced with their free neighbours and kept in bins by size (exact bins
 * for 1..32 pages, one bin per power of two above). A span that enters the pool is `dirty`
 * (it may be resident); the purger returns it to the OS (madvise) once it has stayed free
 * for HPP_PURGE_DELAY_MS, so memory falls back within about a second after a burst with no
 * call from the user (the purger thread, which calls hpP_purge, lives with the heaps in
 * pools/heap.c). hp_pool_trim() purges everything at once.
 *
 * This file calls nothing of the heaps: the span allocator is below them.
 */
#include "pools/pool.h"
#include "pools/platform/os.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define HPP_RESERVE_MAX ((size_t)64 << 30)   /* address space tried first: 64 GiB */
#define HPP_RESERVE_MIN ((size_t)1 << 30)
#define HPP_EXACT_BINS 32
#define HPP_NBINS 56

uintptr_t hpP_base;
size_t hpP_size;
_Atomic uint32_t *hpP_map;
hpP_span *hpP_pages;
uint64_t *hpP_bitmaps;
hpP_global_stats hpP_gstats;

static pthread_mutex_t span_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t npages_total;       /* pages in the reservation */
static size_t top;                /* pages at or above top were never handed out */
static hpP_span *bins[HPP_NBINS]; /* free spans: hpS_lists through next/prev */
static uint64_t bins_used;        /* bit b set iff bins[b] is not empty */

void hpP_lock(void) { pthread_mutex_lock(&span_lock); }
void hpP_unlock(void) { pthread_mutex_unlock(&span_lock); }

/* ------------------------------------------------------------------------------------
 *  The reservation
 * ------------------------------------------------------------------------------------ */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool init_ok;

static void init_reservation(void) {
  for (size_t size = HPP_RESERVE_MAX; size >= HPP_RESERVE_MIN; size /= 2) {
    size_t n = size >> HPP_PAGE_SHIFT;
    void *base = hpS_reserve(size, HPP_PAGE);
    if (base == NULL) continue;
    void *map = hpS_reserve(n * sizeof(uint32_t), 4096);
    void *pages = hpS_reserve(n * sizeof(hpP_span), 4096);
    void *bits = hpS_reserve(n * HPP_NBITMAPS * HPP_BITS_WORDS * sizeof(uint64_t), 4096);
    if (map == NULL || pages == NULL || bits == NULL) continue; /* rare: leave it mapped */
    hpP_map = map;
    hpP_pages = pages;
    hpP_bitmaps = bits;
    npages_total = n;
    /* Page 0 is never handed out, so that no span starts at hpP_base: a span index of 0
     * would be indistinguishable from "no span" in the map encoding otherwise. */
    top = 1;
    hpP_size = size;
    atomic_thread_fence(memory_order_release);
    hpP_base = (uintptr_t)base;
    init_ok = true;
    return;
  }
}

bool hpP_init(void) {
  pthread_once(&init_once, init_reservation);
  return init_ok;
}

/* ------------------------------------------------------------------------------------
 *  Free-span bins
 * ------------------------------------------------------------------------------------ */

static unsigned bin_of(size_t n) {
  if (n <= HPP_EXACT_BINS) return (unsigned)n - 1;
  unsigned b = HPP_EXACT_BINS + (unsigned)(63 - __builtin_clzll(n)) - 5; /* n in [2^k, 2^(k+1)) */
  return b < HPP_NBINS ? b : HPP_NBINS - 1;
}

static size_t index_of(const hpP_span *s) { return (size_t)(s - hpP_pages); }

static void bin_insert(hpP_span *s) {
  unsigned b = bin_of(s->npages);
  hpS_list_push(&bins[b], s);
  bins_used |= (uint64_t)1 << b;
}

static void bin_remove(hpP_span *s) {
  unsigned b = bin_of(s->npages);
  hpS_list_remove(&bins[b], s);
  if (bins[b] == NULL) bins_used &= ~((uint64_t)1 << b);
}

static void count_free(const hpP_span *s, int sign) {
  atomic_fetch_add_explicit(s->dirty ? &hpP_gstats.pages_free_dirty : &hpP_gstats.pages_free_clean,
                   sign * (int64_t)s->npages, memory_order_seq_cst);
}

/* Makes pages [first, first+n) a free span (not yet in a bin). */
static hpP_span *mark_free(size_t first, size_t n, bool dirty, uint64_t freed_at) {
  hpP_span *s = &hpP_pages[first];
  s->kind = HPP_SPAN_FREE;
  s->npages = (uint32_t)n;
  s->dirty = dirty;
  s->freed_at = freed_at;
  hpP_pages[first + n - 1].free_first = (uint32_t)first + 1;
  return s;
}

/* Takes free span s out of the pool: it stops being findable as a neighbour. */
static void unmark_free(hpP_span *s) {
  bin_remove(s);
  count_free(s, -1);
  hpP_pages[index_of(s) + s->npages - 1].free_first = 0;
}

/* Inserts pages [first, first+n) into the pool, merged with free neighbours. */
static void insert_coalesced(size_t first, size_t n, bool dirty, uint64_t now) {
  if (first > 1) {
    uint32_t f = hpP_pages[first - 1].free_first;
    if (f != 0) {
      hpP_span *left = &hpP_pages[f - 1];
      if (left->kind == HPP_SPAN_FREE && f - 1 + left->npages == first) {
        unmark_free(left);
        dirty |= left->dirty;
        n += left->npages;
        first = f - 1;
        left->kind = HPP_SPAN_FREE; /* stays the first page of the merged span */
      }
    }
  }
  size_t right = first + n;
  if (right < top) {
    hpP_span *r = &hpP_pages[right];
    if (r->kind == HPP_SPAN_FREE && hpP_map[right] == 0 && r->npages > 0 &&
        hpP_pages[right + r->npages - 1].free_first == right + 1) {
      unmark_free(r);
      dirty |= r->dirty;
      n += r->npages;
      r->kind = HPP_SPAN_RAW; /* no longer a first page */
      r->npages = 0;
    }
  }
  hpP_span *s = mark_free(first, n, dirty, now);
  bin_insert(s);
  count_free(s, +1);
}

/* ------------------------------------------------------------------------------------
 *  Taking and returning spans
 * ------------------------------------------------------------------------------------ */

static void map_span(size_t first, size_t n, uint32_t value) {
  for (size_t i = 0; i < n; i++) atomic_store_explicit(&hpP_map[first + i], value, memory_order_relaxed);
}

/* Carves [at, at+n) out of the free span s (removed from its bin already) and gives the
 * rest back. */
static void carve(hpP_span *s, size_t at, size_t n) {
  size_t first = index_of(s), end = first + s->npages;
  bool dirty = s->dirty;
  uint64_t t = s->freed_at;
  s->kind = HPP_SPAN_RAW;
  if (at > first) { hpP_span *l = mark_free(first, at - first, dirty, t); bin_insert(l); count_free(l, +1); }
  if (at + n < end) { hpP_span *r = mark_free(at + n, end - at - n, dirty, t); bin_insert(r); count_free(r, +1); }
}

static size_t align_up(size_t i, size_t a) { return (i + a - 1) / a * a; }

/* Spans looked at per bin that may hold spans too small for the request: a bound, so that a
 * request costs O(1) whatever the number of free spans (issue 9, bug 5: a first-fit scan of
 * every bin made each aligned request walk all the free spans too small for it). */
#define HPP_FIT_PROBES 8

/* Whether free span s can hold npages aligned to align_pages (in address pages); *at is
 * where the span would start. */
static bool fits(const hpP_span *s, size_t npages, size_t align_pages, size_t base_pages, size_t *at) {
  size_t i = index_of(s);
  size_t a = align_up(base_pages + i, align_pages) - base_pages;
  if (a + npages > i + s->npages) return false;
  *at = a;
  return true;
}

/* The lowest non-empty bin at or above b, or HPP_NBINS. */
static unsigned next_bin(unsigned b) {
  if (b >= HPP_NBINS) return HPP_NBINS;
  uint64_t m = bins_used >> b;
  return m ? b + (unsigned)__builtin_ctzll(m) : HPP_NBINS;
}

/* A free span for npages aligned to align_pages, or NULL. Span lock held. Any span of at
 * least need = npages + align_pages - 1 pages fits; smaller ones may, depending on where they
 * start. So: the bins below need's are probed (a few spans each, best fit first); then the
 * first span of the lowest non-empty bin of spans that all fit (exact bins hold one size; a
 * power-of-two bin [2^k, 2^(k+1)) is probed, and the next one wholly fits). */
static hpP_span *find_fit(size_t npages, size_t align_pages, size_t base_pages, size_t *at) {
  size_t need = npages + align_pages - 1;
  unsigned lo = bin_of(npages), hi = bin_of(need);
  for (unsigned b = next_bin(lo); b <= hi && b < HPP_NBINS; b = next_bin(b + 1)) {
    int probes = 0;
    for (hpP_span *s = bins[b]; s && probes < HPP_FIT_PROBES; s = s->next, probes++) {
      hpP_gstats.span_probes++;
      if (fits(s, npages, align_pages, base_pages, at)) return s;
    }
  }
  unsigned b = next_bin(hi + 1);
  if (b < HPP_NBINS) {
    hpP_gstats.span_probes++;
    if (fits(bins[b], npages, align_pages, base_pages, at)) return bins[b];
    hp_assert(!"a span of a bin above need's does not fit");
  }
  return NULL;
}

hpP_span *hpP_span_alloc(size_t npages, size_t align_pages, int kind, bool *zeroed) {
  if (!hpP_init() || npages == 0 || npages > npages_total) { errno = ENOMEM; return NULL; }
  if (align_pages == 0) align_pages = 1;
  /* Alignment is of addresses; hpP_base is only HPP_PAGE aligned. */
  size_t base_pages = hpP_base >> HPP_PAGE_SHIFT;
  hpP_lock();
  size_t at = 0;
  bool was_dirty = false;
  hpP_span *found = find_fit(npages, align_pages, base_pages, &at);
  hpP_gstats.span_allocs++;
  if (found) {
    was_dirty = found->dirty;
    unmark_free(found);
    carve(found, at, npages);
  } else {
    at = align_up(base_pages + top, align_pages) - base_pages;
    if (at + npages > npages_total) { hpP_unlock(); errno = ENOMEM; return NULL; }
    if (at > top) insert_coalesced(top, at - top, false, 0);
    top = at + npages;
  }
  hpP_span *s = &hpP_pages[at];
  memset(s, 0, sizeof *s);
  s->kind = (uint8_t)kind;
  s->npages = (uint32_t)npages;
  map_span(at, npages, (uint32_t)at + 1);
  hpP_unlock();
  if (zeroed) *zeroed = !was_dirty;
  return s;
}

void hpP_span_free(hpP_span *s, bool now) {
  size_t first = index_of(s), n = s->npages;
  if (now) {
    size_t bytes = n << HPP_PAGE_SHIFT;
    hpS_decommit(hpP_span_start(s), bytes);
    atomic_fetch_add_explicit(&hpP_gstats.bytes_returned, bytes, memory_order_seq_cst);
  }
  hpP_lock();
  map_span(first, n, 0);
  s->kind = HPP_SPAN_RAW;       /* no longer BLOCKS: see the page-descriptor rule in pool.h */
  insert_coalesced(first, n, !now, hpS_now_ns());
  hpP_unlock();
}

/* ------------------------------------------------------------------------------------
 *  Purging: returning free spans to the OS
 * ------------------------------------------------------------------------------------ */

size_t hpP_purge(bool force) {
  if (!hpP_init()) return 0;
  size_t returned = 0;
  uint64_t delay = (uint64_t)HPP_PURGE_DELAY_MS * 1000000u;
  hpP_lock();
  for (;;) {
    uint64_t now = hpS_now_ns();
    hpP_span *victim = NULL;
    for (unsigned b = 0; b < HPP_NBINS && !victim; b++)
      for (hpP_span *s = bins[b]; s; s = s->next)
        if (s->dirty && (force || now - s->freed_at >= delay)) { victim = s; break; }
    if (!victim) break;
    /* Take it out of the pool while the lock is dropped for the system call; marked RAW, it
     * is no neighbour to coalesce with meanwhile. */
    size_t first = index_of(victim), n = victim->npages;
    unmark_free(victim);
    victim->kind = HPP_SPAN_RAW;
    hpP_unlock();
    hpS_decommit(hpP_span_start(victim), n << HPP_PAGE_SHIFT);
    returned += n << HPP_PAGE_SHIFT;
    hpP_lock();
    insert_coalesced(first, n, false, now);
  }
  hpP_unlock();
  atomic_fetch_add_explicit(&hpP_gstats.bytes_returned, returned, memory_order_seq_cst);
  return returned;
}

/* ------------------------------------------------------------------------------------
 *  Walking
 * ------------------------------------------------------------------------------------ */

void hpP_foreach_span(bool (*fn)(hpP_span *span, void *arg), void *arg) {
  if (!hpP_init()) return;
  hpP_lock();
  hpP_foreach_span_locked(fn, arg);
  hpP_unlock();
}

void hpP_foreach_span_locked(bool (*fn)(hpP_span *span, void *arg), void *arg) {
  for (size_t i = 1; i < top;) {
    uint32_t m = atomic_load_explicit(&hpP_map[i], memory_order_relaxed);
    if (m == 0) {
      hpP_span *s = &hpP_pages[i];
      i += (s->kind == HPP_SPAN_FREE && s->npages) ? s->npages : 1;
      continue;
    }
    hpP_span *s = &hpP_pages[m - 1];
    i = m - 1 + s->npages;
    if (!fn(s, arg)) break;
  }
}
