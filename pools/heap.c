/* pools/heap.c -- heaps (one per thread, plus the collector's), their pages, and the public
 * pool API.
 *
 * A heap keeps, per size class, a current page (the fast path pops its free list), further
 * pages that may have free blocks, and pages parked full. The fast paths are:
 *   alloc: load current page, pop its free list, count            (hpP_heap_alloc_class)
 *   free:  look the span up in the page map; if the caller owns it, push and count;
 *          otherwise push onto the page's remote list with one CAS (remote_free)
 * Everything else -- carving fresh blocks, taking remote frees, parking a full page, taking
 * a page from the global pool or adopting an abandoned one -- is in the named slow paths.
 * The invariants (page-count, remote word, pending lists) are stated in pools/pool.h.
 */
#include "pools/pool.h"
#include "pools/platform/os.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

hpP_span hpP_empty_page;          /* free == NULL, reserved == capacity == 0: never allocates */

static hpP_heap empty_heap = {
  .q = { [0 ... HPP_CLASSES - 1] = { .current = &hpP_empty_page } },
};
__thread hpP_heap *hpP_tls_heap __attribute__((tls_model("initial-exec"))) = &empty_heap;
hpP_heap *_Atomic hpP_all_heaps;

#define DEBUG_FRESH 0xA5   /* a block just handed out (HP_DEBUG >= 2) */
#define DEBUG_FREED 0xDF   /* a block given back */

/* ------------------------------------------------------------------------------------
 *  Queues
 * ------------------------------------------------------------------------------------ */

/* The avail queue: an hpS_list whose tail is kept, so that pages can be appended. */
static void avail_remove(hpP_queue *q, hpP_span *pg) {
  if (q->avail_tail == pg) q->avail_tail = pg->prev;
  hpS_list_remove(&q->avail, pg);
}

static void avail_push_back(hpP_queue *q, hpP_span *pg) {
  pg->next = NULL;
  pg->prev = q->avail_tail;
  if (q->avail_tail) q->avail_tail->next = pg;
  else q->avail = pg;
  q->avail_tail = pg;
}

static void avail_push_front(hpP_queue *q, hpP_span *pg) {
  hpS_list_push(&q->avail, pg);
  if (q->avail_tail == NULL) q->avail_tail = pg;
}

static hpP_span *avail_pop_front(hpP_queue *q) {
  hpP_span *pg = q->avail;
  if (pg) avail_remove(q, pg);
  return pg;
}

/* Makes pg (or &hpP_empty_page) the current page of q; pg is on no list. */
static void set_current(hpP_queue *q, hpP_span *pg) {
  if (q->current != &hpP_empty_page) q->current->current = 0;  /* the empty page is shared */
  q->current = pg;
  if (pg != &hpP_empty_page) pg->current = 1;
}

/* Removes pg from whichever queue of h holds it. */
static void queue_remove(hpP_heap *h, hpP_span *pg) {
  hpP_queue *q = &h->q[pg->cls];
  if (q->current == pg) set_current(q, &hpP_empty_page);
  else if (pg->in_full) hpS_list_remove(&q->full, pg);
  else avail_remove(q, pg);
  pg->in_full = 0;
}

/* Statistics: moves the page's counts into h's (the page leaves h; see pools/stats.c). The
 * blocks still in use stay counted on the page, for whoever owns it next. */
static void fold_counts(hpP_heap *h, hpP_span *pg) {
  if (!HP_STATS) return;
  hpP_lock();                   /* hp_pool_stats reads pages and heaps under it: no count seen
                                   twice or not at all */
  uint64_t used = atomic_load_explicit(&pg->used, memory_order_relaxed);
  uint64_t allocs = atomic_load_explicit(&pg->allocs, memory_order_relaxed);
  hpP_class_counters *c = &h->stats[pg->cls];
  hp_counter_add(c->allocs, allocs - used);
  hp_counter_add(c->req_bytes, atomic_load_explicit(&pg->req_bytes, memory_order_relaxed));
  atomic_store_explicit(&pg->allocs, used, memory_order_relaxed);
  atomic_store_explicit(&pg->req_bytes, 0, memory_order_relaxed);
  hpP_unlock();
}

/* ------------------------------------------------------------------------------------
 *  The purger: a thread that returns free spans to the OS after the purge delay and
 *  collects the remote frees of abandoned pages. Started on the first span given back;
 *  sleeps while there is nothing to do.
 * ------------------------------------------------------------------------------------ */

static pthread_mutex_t purger_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t purger_cv = PTHREAD_COND_INITIALIZER;
static _Atomic bool purger_started;
static bool purger_signalled;
static _Atomic size_t nabandoned;   /* changed under abandoned_mu; the purger reads it without */

static void *purger_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&purger_mu);
  for (;;) {
    bool work = atomic_load_explicit(&hpP_gstats.pages_free_dirty, memory_order_seq_cst) > 0 || atomic_load_explicit(&nabandoned, memory_order_seq_cst) > 0;
    if (!work && !purger_signalled) {
      pthread_cond_wait(&purger_cv, &purger_mu);            /* idle: sleep until a free */
    } else {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += HPP_PURGE_TICK_MS * 1000000L;
      if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
      pthread_cond_timedwait(&purger_cv, &purger_mu, &ts);
    }
    purger_signalled = false;
    pthread_mutex_unlock(&purger_mu);
    hpP_reclaim_abandoned();
    hpP_purge(false);
    pthread_mutex_lock(&purger_mu);
  }
  return NULL;
}

/* Starts the purger if it is not running, and tells it there is work. pthread_create may
 * allocate (as the process's malloc, the pools serve it): it runs with no lock held, and a
 * nested call meanwhile only signals. */
static void purger_wake(void) {
  static _Atomic bool starting;
  if (!atomic_load_explicit(&purger_started, memory_order_acquire) && !atomic_exchange_explicit(&starting, true, memory_order_seq_cst)) {
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&tid, &attr, purger_main, NULL) == 0) {
      atomic_store_explicit(&purger_started, true, memory_order_release);
      pthread_setname_np(tid, "hp-purger");
    }
    pthread_attr_destroy(&attr);
    atomic_store_explicit(&starting, false, memory_order_seq_cst);
  }
  pthread_mutex_lock(&purger_mu);
  if (!purger_signalled) {
    purger_signalled = true;
    pthread_cond_signal(&purger_cv);
  }
  pthread_mutex_unlock(&purger_mu);
}

/* Gives span s back to the global pool; the purger returns it to the OS later. */
static void span_release(hpP_span *s) {
  hpP_span_free(s, false);
  purger_wake();
}

/* ------------------------------------------------------------------------------------
 *  Abandoned pages: pages of heaps whose thread exited, with blocks still in use. A list
 *  per arena and class under abandoned_mu; a heap that needs a page adopts one, and the
 *  purger gives back those that became empty. The holder of abandoned_mu acts as the owner
 *  of the pages on the lists (they have none, and adopting one takes the lock).
 * ------------------------------------------------------------------------------------ */

static pthread_mutex_t abandoned_mu = PTHREAD_MUTEX_INITIALIZER;
static hpP_span *abandoned[HPP_NARENAS][HPP_CLASSES];   /* hpS_lists */
hpP_class_counters hpP_orphan_stats[HPP_NARENAS][HPP_CLASSES];

static void abandoned_push(hpP_span *pg) {
  pthread_mutex_lock(&abandoned_mu);
  hpS_list_push(&abandoned[pg->arena][pg->cls], pg);
  atomic_fetch_add_explicit(&nabandoned, 1, memory_order_seq_cst);
  pthread_mutex_unlock(&abandoned_mu);
  purger_wake();      /* its blocks may be freed later: the purger collects them */
}

/* A page worth adopting has a free block, an uncarved one, or a remote free. */
static bool has_room(const hpP_span *pg) {
  return pg->free != NULL || pg->local_free != NULL || pg->reserved < pg->capacity ||
         (atomic_load_explicit(&pg->remote, memory_order_relaxed) & ~HPP_REMOTE_FLAGS) != 0;
}

static hpP_span *abandoned_take(int arena, unsigned cls, hpP_heap *adopter) {
  if (atomic_load_explicit(&nabandoned, memory_order_relaxed) == 0) return NULL;
  hpP_span *pg = NULL;
  pthread_mutex_lock(&abandoned_mu);
  int looked = 0;
  for (hpP_span *p = abandoned[arena][cls]; p && looked < 16; p = p->next, looked++) {
    if (has_room(p)) { pg = p; break; }
  }
  if (pg) {
    hpS_list_remove(&abandoned[arena][cls], pg);
    atomic_fetch_sub_explicit(&nabandoned, 1, memory_order_seq_cst);
    atomic_store_explicit(&pg->owner, adopter, memory_order_release);
  }
  pthread_mutex_unlock(&abandoned_mu);
  return pg;
}

void hpP_reclaim_abandoned(void) {
  if (atomic_load_explicit(&nabandoned, memory_order_seq_cst) == 0) return;
  pthread_mutex_lock(&abandoned_mu);
  for (int a = 0; a < HPP_NARENAS; a++) {
    for (unsigned c = 0; c < HPP_CLASSES; c++) {
      hpP_span *next;
      for (hpP_span *pg = abandoned[a][c]; pg; pg = next) {
        next = pg->next;
        hpP_collect_remote(pg);
        if (hpP_page_releasable(pg)) {
          hpS_list_remove(&abandoned[a][c], pg);
          atomic_fetch_sub_explicit(&nabandoned, 1, memory_order_seq_cst);
          if (HP_STATS) {                       /* the page's counts outlive it (stats.c) */
            hpP_lock();
            hp_counter_add(hpP_orphan_stats[a][c].allocs, atomic_load_explicit(&pg->allocs, memory_order_relaxed));
            hp_counter_add(hpP_orphan_stats[a][c].req_bytes, atomic_load_explicit(&pg->req_bytes, memory_order_relaxed));
            hpP_unlock();
          }
          hpP_span_free(pg, false);
        }
      }
    }
  }
  pthread_mutex_unlock(&abandoned_mu);
}

/* ------------------------------------------------------------------------------------
 *  Debug support: the ALLOC bitmap and fill patterns
 * ------------------------------------------------------------------------------------ */

/* The ALLOC bitmap has one writer at a time (the page's owner; for the collector's heap,
 * whoever holds its lock or the world stopped) but readers anywhere (hpP_block_of, the
 * collector's background sweep): relaxed atomic loads and stores, plain moves on x86. At
 * HP_DEBUG >= 2 a freeing thread that does not own the page reads the ALLOC word too (see
 * remote_free), and the owner's updates of it are read-modify-writes. */
static bool bit_get(const uint64_t *bits, uint32_t i) { return (hpS_word_load(&bits[i >> 6], memory_order_relaxed) >> (i & 63)) & 1; }
static void bit_set(uint64_t *bits, uint32_t i) {
  uint64_t m = (uint64_t)1 << (i & 63);
  if (HP_DEBUG >= 2) hpS_word_fetch_or(&bits[i >> 6], m, memory_order_relaxed);
  else hpP_bit_set_1w(bits, i);
}
static void bit_clear(uint64_t *bits, uint32_t i) {
  uint64_t m = (uint64_t)1 << (i & 63), *w = &bits[i >> 6];
  if (HP_DEBUG >= 2) hpS_word_fetch_and(w, ~m, memory_order_relaxed);
  else hpS_word_store(w, hpS_word_load(w, memory_order_relaxed) & ~m, memory_order_relaxed);
}

/* Records that block b of pg was handed out (tracked pages). */
static void track_alloc(hpP_span *pg, void *b) {
  uint32_t i = hpP_block_index(pg, b);
  uint64_t *bits = hpP_span_bits(pg, HPP_BITS_ALLOC);
  if (bit_get(bits, i)) hpS_fatal("hp: pool block %p handed out twice (corrupt free list)", b);
  bit_set(bits, i);
  if (HP_DEBUG >= 2)   /* a new life: its next remote free is its first (see remote_free) */
    hpS_word_fetch_and(&hpP_span_bits(pg, HPP_BITS_AUX)[i >> 6], ~((uint64_t)1 << (i & 63)), memory_order_seq_cst);
  if (HP_DEBUG >= 2 && pg->arena == HPP_ARENA_PUBLIC) memset(b, DEBUG_FRESH, pg->block_size);
}

/* Records that block b of pg came back to its owner (tracked pages). */
static void track_free(hpP_span *pg, void *b, const char *how) {
  uint32_t i = hpP_block_index(pg, b);
  uint64_t *bits = hpP_span_bits(pg, HPP_BITS_ALLOC);
  if (!bit_get(bits, i)) hpS_fatal("hp: double free of pool block %p (%s)", b, how);
  bit_clear(bits, i);
  if (HP_DEBUG >= 2 && pg->block_size > sizeof(hpP_block))
    memset((char *)b + sizeof(hpP_block), DEBUG_FREED, pg->block_size - sizeof(hpP_block));
}

/* ------------------------------------------------------------------------------------
 *  Pages: setting up, carving, taking remote frees
 * ------------------------------------------------------------------------------------ */

static void page_init(hpP_heap *h, hpP_span *pg, unsigned cls) {
  uint32_t bs = hpP_class_size[cls];
  hpP_lock();                  /* the fixed fields are written under the span lock (pool.h): */
  pg->cls = (uint8_t)cls;      /* hp_pool_stats reads them while walking the spans */
  pg->arena = h->arena;
  pg->block_size = bs;
  pg->capacity = (uint32_t)(((size_t)pg->npages << HPP_PAGE_SHIFT) / bs);
  pg->div_mul = (((uint64_t)1 << 40) + bs - 1) / bs;
  pg->tracked = h->tracked || HP_DEBUG >= 2;
  hpP_unlock();
  pg->free = pg->local_free = NULL;
  pg->in_full = pg->current = 0;
  pg->client = 0;
  atomic_store_explicit(&pg->used, 0, memory_order_relaxed);
  atomic_store_explicit(&pg->allocs, 0, memory_order_relaxed);
  atomic_store_explicit(&pg->req_bytes, 0, memory_order_relaxed);
  atomic_store_explicit(&pg->reserved, 0, memory_order_relaxed);
  atomic_store_explicit(&pg->remote, 0, memory_order_relaxed);
  if (pg->tracked) memset(hpP_span_bits(pg, 0), 0, HPP_NBITMAPS * HPP_BITS_WORDS * sizeof(uint64_t));
  atomic_store_explicit(&pg->owner, h, memory_order_release);
}

/* Carves the next blocks of pg into its free list: about 4 KiB worth, at least one, so that
 * a page's memory is touched only as it is used. Requires pg->free == NULL. */
static void page_extend(hpP_span *pg) {
  uint32_t r = atomic_load_explicit(&pg->reserved, memory_order_relaxed);
  hp_assert(pg->free == NULL && r < pg->capacity);
  uint32_t n = 4096 / pg->block_size;
  if (n == 0) n = 1;
  if (n > pg->capacity - r) n = pg->capacity - r;
  char *start = (char *)hpP_block_at(pg, r);
  size_t bs = pg->block_size;
  for (uint32_t i = 0; i + 1 < n; i++) ((hpP_block *)(start + i * bs))->next = (hpP_block *)(start + (i + 1) * bs);
  ((hpP_block *)(start + (size_t)(n - 1) * bs))->next = NULL;
  pg->free = (hpP_block *)start;
  atomic_store_explicit(&pg->reserved, r + n, memory_order_relaxed);
}

size_t hpP_collect_remote(hpP_span *pg) {
  uintptr_t old = atomic_load_explicit(&pg->remote, memory_order_relaxed);
  if ((old & ~HPP_REMOTE_FLAGS) == 0) return 0;
  while (!atomic_compare_exchange_weak_explicit(&pg->remote, &old, old & HPP_REMOTE_FLAGS,
                                                memory_order_acquire, memory_order_relaxed)) {}
  hpP_block *list = (hpP_block *)(old & ~HPP_REMOTE_FLAGS), *tail = list;
  size_t n = 1;
  if (pg->tracked) track_free(pg, list, "freed by another thread");
  while (tail->next) {
    tail = tail->next;
    n++;
    if (pg->tracked) track_free(pg, tail, "freed by another thread");
  }
  tail->next = pg->free;
  pg->free = list;
  hp_assert(n <= atomic_load_explicit(&pg->used, memory_order_relaxed));   /* page-count invariant */
  hp_counter_add(pg->used, -(uint32_t)n);
  return n;
}

/* ------------------------------------------------------------------------------------
 *  Pending pages: notifications that a page parked full got a remote free
 * ------------------------------------------------------------------------------------ */

/* Takes h's pending list. Each page on it loses its PENDING bit; one of h's own that is
 * parked full goes back among the pages to allocate from. */
static void drain_pending(hpP_heap *h) {
  if (atomic_load_explicit(&h->pending, memory_order_relaxed) == NULL) return;
  hpP_span *pg = atomic_exchange_explicit(&h->pending, NULL, memory_order_acquire);
  while (pg) {
    hpP_span *next = pg->pending_next;
    bool mine = atomic_load_explicit(&pg->owner, memory_order_relaxed) == h;
    atomic_fetch_and_explicit(&pg->remote, ~HPP_PENDING, memory_order_release);
    if (mine) hpP_free_slow(h, pg);
    pg = next;
  }
}

/* Parks pg, which has no free block, in the full queue; asks to be told of a remote free.
 * Returns false (and does not park) if remote frees arrived meanwhile. */
static bool park_full(hpP_heap *h, hpP_span *pg) {
  uintptr_t old = atomic_load_explicit(&pg->remote, memory_order_acquire);
  for (;;) {
    if ((old & ~HPP_REMOTE_FLAGS) != 0) return false;
    if (old & (HPP_PENDING | HPP_FULL)) break;  /* a notification is on its way, or FULL is
                                                   still set from an earlier parking */
    if (atomic_compare_exchange_weak_explicit(&pg->remote, &old, old | HPP_FULL,
                                              memory_order_acq_rel, memory_order_relaxed)) break;
  }
  hpP_queue *q = &h->q[pg->cls];
  if (q->current == pg) set_current(q, &hpP_empty_page);
  else avail_remove(q, pg);
  pg->in_full = 1;
  hpS_list_push(&q->full, pg);
  return true;
}

/* Takes pg out of the full queue after a local free put a block on it: to the tail of
 * avail, so that it gathers more frees before it is allocated from again. FULL is left set
 * (cleared lazily): a remote free then sends one notification that drain_pending finds
 * needless, which costs less than an atomic here on every unpark. */
static void unpark(hpP_heap *h, hpP_span *pg) {
  hpP_queue *q = &h->q[pg->cls];
  hpS_list_remove(&q->full, pg);
  pg->in_full = 0;
  avail_push_back(q, pg);
}

/* ------------------------------------------------------------------------------------
 *  Allocation slow path
 * ------------------------------------------------------------------------------------ */

static hpP_heap *thread_heap(void);

/* Pops a block from pg (which has one), tracking it when the page is tracked. */
static void *page_pop(hpP_span *pg) {
  hpP_block *b = pg->free;
  pg->free = b->next;
  hp_counter_add(pg->used, 1);
  if (pg->tracked) track_alloc(pg, b);
  return b;
}

void *hpP_alloc_slow(hpP_heap *h, unsigned cls) {
  if (hp_unlikely(h == &empty_heap)) {
    h = thread_heap();
    if (h == NULL) { errno = ENOMEM; return NULL; }
  }
  hpP_queue *q = &h->q[cls];
  for (;;) {
    hpP_span *pg = q->current;
    if (pg != &hpP_empty_page) {
      if (pg->free) return page_pop(pg);
      if (pg->local_free) {                     /* the owner's own frees, oldest last */
        pg->free = pg->local_free;
        pg->local_free = NULL;
        return page_pop(pg);
      }
      if (hpP_collect_remote(pg) > 0) return page_pop(pg);
      if (atomic_load_explicit(&pg->reserved, memory_order_relaxed) < pg->capacity) {
        page_extend(pg);
        return page_pop(pg);
      }
      if (!park_full(h, pg)) continue;          /* a remote free came in: take it */
    }
    drain_pending(h);
    pg = avail_pop_front(q);
    if (pg == NULL && h->refill && h->refill(h, cls, h->refill_arg)) continue;   /* lazy sweep */
    if (pg == NULL) {
      pg = abandoned_take(h->arena, cls, h);
      if (pg == NULL) {
        pg = hpP_span_alloc(hpP_class_pages[cls], 1, HPP_SPAN_BLOCKS, NULL);
        if (pg == NULL) return NULL;            /* errno = ENOMEM */
        page_init(h, pg, cls);
      }
    }
    set_current(q, pg);
    hpP_collect_remote(pg);
  }
}

hp_noinline void *hpP_alloc_counted_slow(hpP_heap *h, unsigned cls, size_t size) {
  void *b = hpP_alloc_slow(h, cls);
  if (HP_STATS && b != NULL) {                  /* from the current page of the caller's heap */
    hpP_span *pg = hpP_tls_heap->q[cls].current;
    hp_counter_add(pg->req_bytes, size);
    atomic_store_explicit(&pg->allocs, atomic_load_explicit(&pg->allocs, memory_order_relaxed) + 1,
                          memory_order_release);
  }
  return b;
}

void *hpP_heap_alloc(hpP_heap *h, size_t size) {
  if (size > HPP_LARGE_MAX) return hpP_huge_alloc(size, 0, h->arena);
  return hpP_alloc_slow(h, hpP_class_of(size));
}

/* ------------------------------------------------------------------------------------
 *  Free
 * ------------------------------------------------------------------------------------ */

/* A page of h became empty, or a block landed on a page parked full (locally, or remotely
 * and we heard of it). An empty page goes back to the global pool unless it is the class's
 * current page (kept: the next allocation reuses it) or a notification about it is still on
 * a pending list (its descriptor must stay until that list is drained). */
void hpP_free_slow(hpP_heap *h, hpP_span *pg) {
  if (pg->in_full) unpark(h, pg);
  if (!hpP_page_releasable(pg) || pg->current) return;
  queue_remove(h, pg);
  fold_counts(h, pg);
  atomic_store_explicit(&pg->owner, NULL, memory_order_relaxed);
  span_release(pg);
}

/* Pushes b onto pg's remote list; if the owner parked the page full, tells it. Lock-free:
 * producers only push, and the single consumer takes the whole list. */
static void remote_free(hpP_span *pg, hpP_block *b) {
  if (HP_DEBUG >= 2) {
    /* Two remote frees of one block would make the list a cycle: catch the second here. A
     * block the owner has already taken back has its ALLOC bit clear (until it is handed out
     * again, which clears its AUX bit too). The AUX bit of a public page means "on the remote
     * list, or collected from it, since it was last handed out"; free_block checks it. */
    uint32_t i = hpP_block_index(pg, b);
    if (!bit_get(hpP_span_bits(pg, HPP_BITS_ALLOC), i))
      hpS_fatal("hp: double free of pool block %p (freed by its owner, then by another thread)", (void *)b);
    uint64_t *w = &hpP_span_bits(pg, HPP_BITS_AUX)[i >> 6];
    uint64_t m = (uint64_t)1 << (i & 63);
    if (hpS_word_fetch_or(w, m, memory_order_seq_cst) & m) hpS_fatal("hp: double free of pool block %p (freed twice by other threads)", (void *)b);
    memset((char *)b + sizeof(hpP_block), DEBUG_FREED, pg->block_size - sizeof(hpP_block));
  }
  uintptr_t old = atomic_load_explicit(&pg->remote, memory_order_relaxed), nw;
  bool notify;
  do {
    b->next = (hpP_block *)(old & ~HPP_REMOTE_FLAGS);
    nw = (uintptr_t)b | (old & HPP_PENDING);
    notify = (old & HPP_FULL) != 0;
    if (notify) nw |= HPP_PENDING;
    /* acq_rel: a freer that clears FULL takes over from the owner's park_full and writes
     * pg->pending_next, which the owner read (drain_pending) before it parked the page. */
  } while (!atomic_compare_exchange_weak_explicit(&pg->remote, &old, nw,
                                                  memory_order_acq_rel, memory_order_relaxed));
  if (!notify) return;
  /* We cleared FULL and set PENDING: push the page onto its owner's pending list. The owner
   * may be abandoning its pages right now; `notifiers` lets it wait for us (see pool.h). */
  for (;;) {
    hpP_heap *h = atomic_load_explicit(&pg->owner, memory_order_seq_cst);
    if (h == NULL) {                           /* abandoned: nobody to tell */
      atomic_fetch_and_explicit(&pg->remote, ~HPP_PENDING, memory_order_seq_cst);
      return;
    }
    atomic_fetch_add_explicit(&h->notifiers, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&pg->owner, memory_order_seq_cst) == h) {
      hpP_span *head = atomic_load_explicit(&h->pending, memory_order_relaxed);
      do pg->pending_next = head;
      while (!atomic_compare_exchange_weak_explicit(&h->pending, &head, pg,
                                                    memory_order_release, memory_order_relaxed));
      atomic_fetch_sub_explicit(&h->notifiers, 1, memory_order_seq_cst);
      return;
    }
    atomic_fetch_sub_explicit(&h->notifiers, 1, memory_order_seq_cst);
  }
}

static void huge_free(hpP_span *pg, void *p, size_t size);

hp_cold static void bad_free(const void *p, const char *why) {
  hpS_fatal("hp: hp_pool_free(%p): %s", p, why);
}

/* Frees p, a block of BLOCKS span pg, from any thread. */
hp_inline void free_block(hpP_span *pg, void *p, size_t size) {
  hpP_heap *h = hpP_tls_heap;
  hpP_block *b = p;
  if (HP_DEBUG >= 2 && hpP_block_at(pg, hpP_block_index(pg, p)) != p)
    bad_free(p, "not the start of a block (interior pointer?)");
  if (hp_likely(atomic_load_explicit(&pg->owner, memory_order_relaxed) == h)) {
    if (HP_DEBUG >= 2 && pg->arena == HPP_ARENA_PUBLIC && bit_get(hpP_span_bits(pg, HPP_BITS_AUX), hpP_block_index(pg, b)))
      hpS_fatal("hp: double free of pool block %p (freed by another thread, then by its owner)", p);
    if (HP_DEBUG >= 2 || pg->tracked) track_free(pg, b, "freed by its owner");
    b->next = pg->local_free;
    pg->local_free = b;
    uint32_t used = atomic_load_explicit(&pg->used, memory_order_relaxed) - 1;
    atomic_store_explicit(&pg->used, used, memory_order_relaxed);
    if (HP_STATS && size) {                     /* hp_pool_free_sized only */
      hpP_class_counters *c = &h->stats[pg->cls];
      hp_counter_add(c->frees_sized, 1);
      hp_counter_add(c->req_freed, size);
    }
    /* The slow path when the page may go back (empty and not current), or leaves the full
     * queue. In a pair of alloc and free the page is current: no call. */
    if (hp_unlikely((used == 0 && !pg->current) || pg->in_full)) hpP_free_slow(h, pg);
  } else {
    remote_free(pg, b);
  }
}

void hpP_free_block(hpP_span *pg, void *p) { free_block(pg, p, 0); }

/* The public free of anything but a block of a one-page span. */
hp_noinline static void pool_free_slow(void *p, size_t size) {
  if (p == NULL) return;
  hpP_span *pg = hpP_span_of(p);
  if (hp_likely(pg != NULL && pg->kind == HPP_SPAN_BLOCKS)) {
    if (HP_DEBUG >= 1 && hp_unlikely(pg->arena != HPP_ARENA_PUBLIC))
      bad_free(p, "a block of the collector's heap, not of hp_pool_alloc");
    free_block(pg, p, size);
  } else if (pg != NULL && pg->kind == HPP_SPAN_HUGE) {
    huge_free(pg, p, size);
  } else {
    bad_free(p, pg == NULL ? "not a block of the pools (never allocated, or freed span)"
                           : "not a block of the pools (collector space)");
  }
}

/* The public free; size is the requested size or 0 when unknown. */
hp_inline void pool_free(void *p, size_t size) {
  /* The descriptor of p's own page first: for a block of a one-page span (every small and
   * medium class) it is the span's, and the free reads no page map (one dependent load).
   * kind == BLOCKS only at the first page of a BLOCKS span (pool.h); anything else, p == NULL
   * included (it is outside the reservation), goes through the map. */
  uintptr_t off = (uintptr_t)p - hpP_base;
  if (hp_likely(off < hpP_size)) {
    hpP_span *pg = &hpP_pages[off >> HPP_PAGE_SHIFT];
    if (hp_likely(pg->kind == HPP_SPAN_BLOCKS && (HP_DEBUG < 1 || pg->arena == HPP_ARENA_PUBLIC))) {
      free_block(pg, p, size);
      return;
    }
  }
  pool_free_slow(p, size);
}

void hp_pool_free(void *p) { pool_free(p, 0); }
void hp_pool_free_sized(void *p, size_t size) { pool_free(p, size ? size : 1); }

/* ------------------------------------------------------------------------------------
 *  Huge blocks: whole spans, returned to the OS when freed
 * ------------------------------------------------------------------------------------ */

void *hpP_huge_alloc(size_t size, size_t align, int arena) { return hpP_huge_alloc_z(size, align, arena, NULL); }

void *hpP_huge_alloc_z(size_t size, size_t align, int arena, bool *zeroed) {
  if (!hpP_init() || size > hpP_size || align > hpP_size) { errno = ENOMEM; return NULL; }
  size_t npages = (size + HPP_PAGE - 1) >> HPP_PAGE_SHIFT;
  if (npages == 0) npages = 1;
  hpP_span *pg = hpP_span_alloc(npages, align > HPP_PAGE ? align >> HPP_PAGE_SHIFT : 1, HPP_SPAN_HUGE, zeroed);
  if (pg == NULL) return NULL;
  hpP_lock();                                  /* fixed fields: see page_init */
  pg->arena = (uint8_t)arena;
  pg->capacity = 1;
  pg->block_size = 0;                          /* the span size is npages * HPP_PAGE */
  pg->div_mul = 0;                             /* every offset is in block 0 */
  pg->huge_requested = size;
  hpP_unlock();
  atomic_store_explicit(&pg->used, 1, memory_order_relaxed);
  atomic_store_explicit(&pg->reserved, 1, memory_order_relaxed);
  atomic_store_explicit(&pg->huge_freed, 0, memory_order_relaxed);
  atomic_fetch_add_explicit(&hpP_gstats.huge_blocks[arena], 1, memory_order_seq_cst);
  atomic_fetch_add_explicit(&hpP_gstats.huge_bytes[arena], (int64_t)(npages << HPP_PAGE_SHIFT), memory_order_seq_cst);
  atomic_fetch_add_explicit(&hpP_gstats.huge_allocs[arena], 1, memory_order_seq_cst);
  atomic_fetch_add_explicit(&hpP_gstats.huge_req[arena], size, memory_order_seq_cst);
  return hpP_span_start(pg);
}

static void huge_free(hpP_span *pg, void *p, size_t size) {
  (void)size;
  if (p != hpP_span_start(pg)) bad_free(p, "interior pointer into a huge block");
  if (atomic_exchange_explicit(&pg->huge_freed, 1, memory_order_seq_cst) != 0) bad_free(p, "double free of a huge block");
  int a = pg->arena;
  atomic_fetch_sub_explicit(&hpP_gstats.huge_blocks[a], 1, memory_order_seq_cst);
  atomic_fetch_sub_explicit(&hpP_gstats.huge_bytes[a], (int64_t)((size_t)pg->npages << HPP_PAGE_SHIFT), memory_order_seq_cst);
  atomic_fetch_add_explicit(&hpP_gstats.huge_frees[a], 1, memory_order_seq_cst);
  atomic_fetch_sub_explicit(&hpP_gstats.huge_req[a], pg->huge_requested, memory_order_seq_cst);
  hpP_span_free(pg, true);
}

hpP_span *hpP_raw_alloc(size_t npages, uintptr_t client, bool *zeroed) {
  hpP_span *pg = hpP_span_alloc(npages, 1, HPP_SPAN_RAW, zeroed);
  if (pg) pg->client = client;
  return pg;
}

void hpP_raw_free(hpP_span *span) { span_release(span); }

/* ------------------------------------------------------------------------------------
 *  Lookup
 * ------------------------------------------------------------------------------------ */

void *hpP_block_of(const void *p, hpP_span **span) {
  hpP_span *pg = hpP_span_of(p);
  if (span) *span = pg;
  if (pg == NULL) return NULL;
  if (pg->kind == HPP_SPAN_HUGE) {
    const uint8_t *start = hpP_span_start(pg);
    return (const uint8_t *)p < start + pg->huge_requested ? (void *)start : NULL;
  }
  if (pg->kind != HPP_SPAN_BLOCKS) return NULL;
  uint32_t i = hpP_block_index(pg, p);
  if (i >= atomic_load_explicit(&pg->reserved, memory_order_relaxed)) return NULL;
  if (pg->tracked && !bit_get(hpP_span_bits(pg, HPP_BITS_ALLOC), i)) return NULL;
  return hpP_block_at(pg, i);
}

/* ------------------------------------------------------------------------------------
 *  Heaps: made, recycled, abandoned
 * ------------------------------------------------------------------------------------ */

static pthread_mutex_t heaps_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t heap_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static uint8_t *meta_cur, *meta_end;   /* heap structures are carved from RAW spans */

/* Heaps not in use, by arena and trackedness, linked through next_recycled: taking one is
 * O(1) however many heaps are in use (a scan of all heaps made runtime creation quadratic in
 * the number of live runtimes, each of which holds a tracked heap). Under heaps_mu. */
static hpP_heap *recycled[HPP_NARENAS][2];

static void heap_recycle(hpP_heap *h) {
  pthread_mutex_lock(&heaps_mu);
  h->in_use = false;
  h->next_recycled = recycled[h->arena][h->tracked];
  recycled[h->arena][h->tracked] = h;
  pthread_mutex_unlock(&heaps_mu);
}

/* fork: every lock of the pools is taken around it, so that the child finds none held by a
 * thread it does not have (its own malloc may run in the pools). Lock order: heaps_mu,
 * abandoned_mu, the span lock, purger_mu. The child has no purger: the next free starts one. */
static void fork_prepare(void) {
  pthread_mutex_lock(&heaps_mu);
  pthread_mutex_lock(&abandoned_mu);
  hpP_lock();
  pthread_mutex_lock(&purger_mu);
}

static void fork_parent(void) {
  pthread_mutex_unlock(&purger_mu);
  hpP_unlock();
  pthread_mutex_unlock(&abandoned_mu);
  pthread_mutex_unlock(&heaps_mu);
}

static void fork_child(void) {
  pthread_mutex_init(&purger_mu, NULL);
  pthread_cond_init(&purger_cv, NULL);
  purger_signalled = false;
  atomic_store_explicit(&purger_started, false, memory_order_seq_cst);
  hpP_unlock();
  pthread_mutex_init(&abandoned_mu, NULL);
  pthread_mutex_init(&heaps_mu, NULL);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

static hpP_heap *heap_get(int arena, bool tracked) {
  if (!hpP_init()) return NULL;
  pthread_once(&atfork_once, register_atfork);
  pthread_mutex_lock(&heaps_mu);
  hpP_heap *h = recycled[arena][tracked];
  if (h) { recycled[arena][tracked] = h->next_recycled; h->refill = NULL; }
  else {
    size_t sz = (sizeof(hpP_heap) + 63) & ~(size_t)63;
    if (meta_cur == NULL || (size_t)(meta_end - meta_cur) < sz) {
      hpP_span *span = hpP_raw_alloc(1, 0, NULL);
      if (span == NULL) { pthread_mutex_unlock(&heaps_mu); return NULL; }
      meta_cur = hpP_span_start(span);
      meta_end = meta_cur + HPP_PAGE;
    }
    h = (hpP_heap *)meta_cur;
    meta_cur += sz;
    memset(h, 0, sizeof *h);
    for (unsigned c = 0; c < HPP_CLASSES; c++) h->q[c].current = &hpP_empty_page;
    h->arena = (uint8_t)arena;
    h->tracked = tracked;
    h->next_heap = atomic_load_explicit(&hpP_all_heaps, memory_order_seq_cst);
    atomic_store_explicit(&hpP_all_heaps, h, memory_order_seq_cst);
  }
  h->in_use = true;
  pthread_mutex_unlock(&heaps_mu);
  return h;
}

hpP_heap *hpP_heap_new(int arena, bool tracked) { return heap_get(arena, tracked); }

static void abandon_page(hpP_heap *h, hpP_span *pg, hpP_span **keep) {
  /* Stop asking for notifications, and take what was freed remotely so far. */
  uintptr_t old = atomic_load_explicit(&pg->remote, memory_order_seq_cst);
  while (!atomic_compare_exchange_weak_explicit(&pg->remote, &old, old & ~HPP_FULL, memory_order_seq_cst, memory_order_seq_cst)) {}
  hpP_collect_remote(pg);
  fold_counts(h, pg);
  pg->in_full = pg->current = 0;
  pg->next = *keep;
  *keep = pg;
}

void hpP_heap_abandon(hpP_heap *h) {
  hpP_span *pages = NULL;
  for (unsigned c = 0; c < HPP_CLASSES; c++) {
    hpP_queue *q = &h->q[c];
    if (q->current != &hpP_empty_page) abandon_page(h, q->current, &pages);
    q->current = &hpP_empty_page;
    for (hpP_span *pg = q->avail, *n; pg; pg = n) { n = pg->next; abandon_page(h, pg, &pages); }
    for (hpP_span *pg = q->full, *n; pg; pg = n) { n = pg->next; abandon_page(h, pg, &pages); }
    q->avail = q->avail_tail = q->full = NULL;
  }
  for (hpP_span *pg = pages; pg; pg = pg->next) atomic_store_explicit(&pg->owner, NULL, memory_order_seq_cst);
  while (atomic_load_explicit(&h->notifiers, memory_order_seq_cst) != 0) {}     /* freers between owner check and push */
  drain_pending(h);                              /* none of these pages is h's any more */
  for (hpP_span *pg = pages, *n; pg; pg = n) {
    n = pg->next;
    pg->next = NULL;
    if (hpP_page_releasable(pg)) span_release(pg);
    else abandoned_push(pg);
  }
  if (h->arena == HPP_ARENA_PUBLIC && !h->tracked) atomic_fetch_add_explicit(&hpP_gstats.threads_abandoned, 1, memory_order_seq_cst);
  heap_recycle(h);
}

static void thread_exit(void *arg) {
  hpP_heap *h = arg;
  hpP_tls_heap = &empty_heap;
  hpP_heap_abandon(h);
}

static void make_key(void) { pthread_key_create(&heap_key, thread_exit); }

static hpP_heap *thread_heap(void) {
  if (hpP_tls_heap != &empty_heap) return hpP_tls_heap;
  pthread_once(&key_once, make_key);
  hpP_heap *h = heap_get(HPP_ARENA_PUBLIC, false);
  if (h == NULL) return NULL;
  pthread_setspecific(heap_key, h);
  hpP_tls_heap = h;
  return h;
}

hpP_heap *hpP_thread_heap_slow(void) { return thread_heap(); }

/* ------------------------------------------------------------------------------------
 *  For the collector: walking and sweeping the pages of a tracked heap
 * ------------------------------------------------------------------------------------ */

void hpP_heap_foreach_page(hpP_heap *h, void (*fn)(hpP_span *, void *), void *arg) {
  for (unsigned c = 0; c < HPP_CLASSES; c++) {
    hpP_queue *q = &h->q[c];
    hpP_span *n;
    if (q->current != &hpP_empty_page) fn(q->current, arg);
    for (hpP_span *pg = q->avail; pg; pg = n) { n = pg->next; fn(pg, arg); }
    for (hpP_span *pg = q->full; pg; pg = n) { n = pg->next; fn(pg, arg); }
  }
}

size_t hpP_page_sweep(hpP_heap *h, hpP_span *pg) {
  uint64_t *alloc = hpP_span_bits(pg, HPP_BITS_ALLOC), *mark = hpP_span_bits(pg, HPP_BITS_MARK);
  uint32_t words = (atomic_load_explicit(&pg->reserved, memory_order_relaxed) + 63) / 64;
  size_t freed = 0;
  for (uint32_t w = 0; w < words; w++) {
    uint64_t dead = alloc[w] & ~mark[w];
    mark[w] = 0;
    while (dead) {
      uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(dead);
      dead &= dead - 1;
      hpP_block *b = hpP_block_at(pg, i);
      track_free(pg, b, "swept");
      b->next = pg->free;
      pg->free = b;
      freed++;
    }
  }
  if (freed) {
    hp_counter_add(pg->used, -(uint32_t)freed);
    hpP_free_slow(h, pg);
  }
  return freed;
}

/* ------------------------------------------------------------------------------------
 *  The public allocation API
 * ------------------------------------------------------------------------------------ */

void *hp_pool_alloc(size_t size) {
  if (hp_likely(size <= HPP_LARGE_MAX)) return hpP_heap_alloc_counted(hpP_tls_heap, hpP_class_of(size), size);
  return hpP_huge_alloc(size, 0, HPP_ARENA_PUBLIC);
}

void *hp_pool_alloc_aligned(size_t size, size_t align) {
  if (align == 0 || (align & (align - 1)) != 0) { errno = EINVAL; return NULL; }
  if (align <= HPP_GRANULE) return hp_pool_alloc(size);
  if (size <= HPP_LARGE_MAX && align <= HPP_LARGE_MAX) {
    /* Spans start on 64 KiB boundaries, so every block of a class whose size is a multiple
     * of align is aligned. */
    for (unsigned cls = hpP_class_of(size); cls < HPP_CLASSES; cls++) {
      if (hpP_class_size[cls] % align == 0) return hpP_heap_alloc_counted(hpP_tls_heap, cls, size);
    }
  }
  return hpP_huge_alloc(size, align, HPP_ARENA_PUBLIC);
}

size_t hp_pool_usable_size(const void *p) {
  if (p == NULL) return 0;
  hpP_span *pg = hpP_span_of(p);
  if (pg == NULL) return 0;
  if (pg->kind == HPP_SPAN_BLOCKS) return pg->block_size;
  if (pg->kind == HPP_SPAN_HUGE) return ((size_t)pg->npages << HPP_PAGE_SHIFT) - (size_t)((const uint8_t *)p - hpP_span_start(pg));
  return 0;
}

/* The owner's pass over all its pages: takes their remote frees and gives back every page
 * left empty, the current ones included. */
static void heap_trim(hpP_heap *h) {
  drain_pending(h);
  for (unsigned c = 0; c < HPP_CLASSES; c++) {
    hpP_queue *q = &h->q[c];
    hpP_span *cur = q->current;
    set_current(q, &hpP_empty_page);             /* so that free_slow may release it */
    if (cur != &hpP_empty_page) avail_push_front(q, cur);
    for (hpP_span **list = &q->avail; list != NULL; list = (list == &q->avail ? &q->full : NULL)) {
      hpP_span *n;
      for (hpP_span *pg = *list; pg; pg = n) {
        n = pg->next;
        hpP_collect_remote(pg);
        hpP_free_slow(h, pg);
      }
    }
  }
}

size_t hp_pool_trim(void) {
  if (hpP_tls_heap != &empty_heap) heap_trim(hpP_tls_heap);
  hpP_reclaim_abandoned();
  return hpP_purge(true);
}

/* ------------------------------------------------------------------------------------
 *  For the collector: freeing a huge block, and a whole heap
 * ------------------------------------------------------------------------------------ */

void hpP_huge_free_span(hpP_span *pg) { huge_free(pg, hpP_span_start(pg), 0); }

static void release_page(hpP_span *pg, void *arg) {
  fold_counts(arg, pg);
  atomic_store_explicit(&pg->owner, NULL, memory_order_relaxed);
  atomic_store_explicit(&pg->remote, 0, memory_order_relaxed);
  span_release(pg);
}

void hpP_heap_destroy(hpP_heap *h) {
  hpP_heap_foreach_page(h, release_page, h);
  for (unsigned c = 0; c < HPP_CLASSES; c++) h->q[c] = (hpP_queue){ .current = &hpP_empty_page };
  heap_recycle(h);
}
