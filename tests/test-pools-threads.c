/* tests/test-pools-threads.c -- the pools under many threads, with fixed seeds and thread
 * counts (2, 4, 8): blocks allocated on one thread and freed on another, threads that exit
 * while their blocks live on, pages adopted from exited threads, and the statistics read
 * while all this runs. Only <hp.h>.
 *
 * Every test checks contents (each block carries a pattern of its own tag), counts, and that
 * once all threads are joined and hp_pool_trim() has run, every block is accounted for and
 * every page is given back. Every test runs in a process of its own (fork mode).
 */
#include <hp.h>

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>

#include "test-common.h"

/* Mostly small and medium blocks, some large, a few huge. */
static size_t storm_size(t_rng *r) {
  unsigned x = (unsigned)(t_next(r) % 1000);
  if (x < 600) return t_range(r, 1, 128);
  if (x < 950) return t_range(r, 129, 2048);
  if (x < 998) return t_range(r, 2049, 16384);
  return t_range(r, 65537, 200000);
}

static void *xmalloc(size_t n) {
  void *p = calloc(1, n);
  ck_assert_ptr_nonnull(p);
  return p;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg) {
  ck_assert_int_eq(pthread_create(t, NULL, fn, arg), 0);
}

/* Verifies a block received from another thread and frees it, sized or not by its tag. */
static void check_and_free(void *p, size_t size, uint32_t tag) {
  size_t bad = t_check(p, size, tag);
  T_CHECK(bad == T_OK, "block %p (tag %u, %zu bytes) wrong at offset %zu", p, tag, size, bad);
  if (tag & 1) hp_pool_free_sized(p, size);
  else hp_pool_free(p);
}

/* After all threads are joined and hp_pool_trim() ran: every block counted as freed, no
 * page of any class kept, nothing committed in the free pool, `allocated` more allocations
 * than at s0, and `exited` more threads handed their pages over. */
static void expect_all_returned(const struct hp_pool_stats *s0, uint64_t allocated, uint64_t exited) {
  struct hp_pool_stats st;
  hp_pool_stats(&st);
  for (unsigned c = 0; c < st.nclasses; c++) {
    const struct hp_pool_class_stats *x = &st.classes[c];
    ck_assert_msg(x->blocks_in_use == 0 && x->allocs == x->frees && x->bytes_requested == 0,
                  "class %llu: %llu blocks in use (%llu allocs, %llu frees)",
                  (unsigned long long)x->block_size, (unsigned long long)x->blocks_in_use,
                  (unsigned long long)x->allocs, (unsigned long long)x->frees);
    ck_assert_msg(x->pages_used == 0 && x->pages_empty == 0, "class %llu: %llu pages used, %llu empty",
                  (unsigned long long)x->block_size, (unsigned long long)x->pages_used,
                  (unsigned long long)x->pages_empty);
  }
  ck_assert_uint_eq(st.tiers[HP_TIER_HUGE].blocks_in_use, 0);
  ck_assert_uint_eq(st.total.blocks_in_use, 0);
  ck_assert_uint_eq(st.total.bytes_committed, 0);
  ck_assert_uint_eq(st.total.bytes_resident, 0);
  ck_assert_uint_eq(st.pages_free_committed, 0);
  ck_assert_uint_eq(st.total.allocs - s0->total.allocs, allocated);
  ck_assert_uint_eq(st.total.frees - s0->total.frees, allocated);
  ck_assert_uint_eq(st.threads_abandoned - s0->threads_abandoned, exited);
}

/* ------------------------------------------------------------------------------------
 *  Producer / consumer
 * ------------------------------------------------------------------------------------ */

typedef struct item { void *p; uint32_t size, tag; } item;

enum { QCAP = 512, BATCH = 32 };

/* A bounded queue from one producer to one consumer under a mutex. */
typedef struct queue {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  item buf[QCAP];
  size_t head, tail;            /* tail - head items, at buf[head % QCAP]... */
  bool closed;
} queue;

static void q_init(queue *q) {
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
  q->head = q->tail = 0;
  q->closed = false;
}

static void q_push(queue *q, const item *it, size_t n) {
  pthread_mutex_lock(&q->mu);
  while (n > 0) {
    while (q->tail - q->head == QCAP) pthread_cond_wait(&q->cv, &q->mu);
    while (n > 0 && q->tail - q->head < QCAP) { q->buf[q->tail++ % QCAP] = *it++; n--; }
    pthread_cond_broadcast(&q->cv);
  }
  pthread_mutex_unlock(&q->mu);
}

static void q_close(queue *q) {
  pthread_mutex_lock(&q->mu);
  q->closed = true;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

/* Takes up to max items; 0 once the queue is closed and empty. */
static size_t q_pop(queue *q, item *out, size_t max) {
  pthread_mutex_lock(&q->mu);
  while (q->tail == q->head && !q->closed) pthread_cond_wait(&q->cv, &q->mu);
  size_t n = 0;
  while (n < max && q->head < q->tail) out[n++] = q->buf[q->head++ % QCAP];
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
  return n;
}

typedef struct pc_pair {
  queue q;
  size_t n;                     /* blocks to pass */
  uint64_t seed;
  uint32_t tag0;
  size_t received;              /* consumer: blocks verified and freed */
  uint64_t bytes;
} pc_pair;

static void *producer(void *arg) {
  pc_pair *pp = arg;
  t_rng r = { pp->seed };
  item batch[BATCH];
  size_t nb = 0;
  for (size_t i = 0; i < pp->n; i++) {
    size_t size = storm_size(&r);
    void *p = (i % 7 == 3) ? hp_pool_alloc_aligned(size, 64) : hp_pool_alloc(size);
    T_CHECK(p != NULL, "hp_pool_alloc(%zu)", size);
    T_CHECK(i % 7 != 3 || (uintptr_t)p % 64 == 0, "%p not aligned", p);
    uint32_t tag = pp->tag0 + (uint32_t)i;
    t_fill(p, size, tag);
    batch[nb++] = (item){ p, (uint32_t)size, tag };
    if (nb == BATCH) { q_push(&pp->q, batch, nb); nb = 0; }
  }
  q_push(&pp->q, batch, nb);
  q_close(&pp->q);
  return NULL;
}

static void *consumer(void *arg) {
  pc_pair *pp = arg;
  item got[BATCH * 2];
  uint32_t next = pp->tag0;
  size_t n;
  while ((n = q_pop(&pp->q, got, BATCH * 2)) > 0) {
    for (size_t i = 0; i < n; i++) {
      T_CHECK(got[i].tag == next, "block %u arrived when %u was due", got[i].tag, next);
      next++;
      check_and_free(got[i].p, got[i].size, got[i].tag);
      pp->received++;
      pp->bytes += got[i].size;
    }
  }
  return NULL;
}

/* threads/2 producers, each passing its blocks through a queue to its own consumer, which
 * checks each block's contents and order and frees it. */
START_TEST(producer_consumer) {
  int threads = 2 << _i;                                /* 2, 4, 8 */
  int pairs = threads / 2;
  size_t total = t_scaled(300000, 4000);
  struct hp_pool_stats s0;
  hp_pool_stats(&s0);
  pc_pair *pp = xmalloc((size_t)pairs * sizeof *pp);
  pthread_t *t = xmalloc((size_t)threads * sizeof *t);
  for (int k = 0; k < pairs; k++) {
    q_init(&pp[k].q);
    pp[k].n = total / (size_t)pairs;
    pp[k].seed = 1000u * (uint64_t)threads + (uint64_t)k;
    pp[k].tag0 = (uint32_t)k << 24;
    start(&t[2 * k], consumer, &pp[k]);
    start(&t[2 * k + 1], producer, &pp[k]);
  }
  for (int k = 0; k < threads; k++) pthread_join(t[k], NULL);
  uint64_t passed = 0;
  for (int k = 0; k < pairs; k++) {
    ck_assert_uint_eq(pp[k].received, pp[k].n);
    passed += pp[k].received;
  }
  hp_pool_trim();
  /* Consumers only free: they never made a heap, so only producers hand pages over. */
  expect_all_returned(&s0, passed, (uint64_t)pairs);
  free(pp);
  free(t);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  All to all
 * ------------------------------------------------------------------------------------ */

typedef struct node { struct node *next; void *p; uint32_t size, tag; } node;

typedef struct inbox {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  node *head;
} inbox;

typedef struct a2a {
  int threads;
  size_t per_thread;
  inbox *in;
  node **nodes;                 /* nodes[i][k]: thread i's k-th block */
  size_t *expected, *received;
  _Atomic int *done;            /* threads that finished sending */
} a2a;

typedef struct a2a_arg { a2a *w; int id; } a2a_arg;

static int dest_of(int id, size_t k, int threads) {
  return (id + 1 + (int)(k % (size_t)(threads - 1))) % threads;
}

static void send_list(inbox *in, node *first, node *last) {
  pthread_mutex_lock(&in->mu);
  last->next = in->head;
  in->head = first;
  pthread_cond_signal(&in->cv);
  pthread_mutex_unlock(&in->mu);
}

/* Takes the inbox whole; waits for something if `wait`. */
static node *take_all(inbox *in, bool wait) {
  pthread_mutex_lock(&in->mu);
  while (wait && in->head == NULL) pthread_cond_wait(&in->cv, &in->mu);
  node *n = in->head;
  in->head = NULL;
  pthread_mutex_unlock(&in->mu);
  return n;
}

static size_t consume(node *n) {
  size_t c = 0;
  for (node *next; n; n = next) {
    next = n->next;
    check_and_free(n->p, n->size, n->tag);
    c++;
  }
  return c;
}

static void *a2a_thread(void *arg) {
  a2a_arg *a = arg;
  a2a *w = a->w;
  int id = a->id, T = w->threads;
  t_rng r = { 77 + (uint64_t)id * 1000 + (uint64_t)T };
  node *first[8] = { 0 }, *last[8] = { 0 };
  size_t pending[8] = { 0 }, got = 0;
  for (size_t k = 0; k < w->per_thread; k++) {
    size_t size = storm_size(&r);
    void *p = hp_pool_alloc(size);
    T_CHECK(p != NULL, "hp_pool_alloc(%zu)", size);
    node *nd = &w->nodes[id][k];
    nd->p = p;
    nd->size = (uint32_t)size;
    nd->tag = (uint32_t)((size_t)id * w->per_thread + k);
    t_fill(p, size, nd->tag);
    int d = dest_of(id, k, T);
    nd->next = first[d];
    first[d] = nd;
    if (last[d] == NULL) last[d] = nd;
    if (++pending[d] == 16) {
      send_list(&w->in[d], first[d], last[d]);
      first[d] = last[d] = NULL;
      pending[d] = 0;
    }
    if (k % 64 == 63) got += consume(take_all(&w->in[id], false));
  }
  for (int d = 0; d < T; d++)
    if (first[d]) send_list(&w->in[d], first[d], last[d]);
  while (got < w->expected[id]) got += consume(take_all(&w->in[id], true));
  w->received[id] = got;
  atomic_fetch_add(w->done, 1);
  return NULL;
}

/* Every thread allocates and fills blocks and sends each to one of the others, which checks
 * and frees it: every thread frees blocks of every other, including threads that have
 * already finished and exited. */
START_TEST(all_to_all) {
  int T = 2 << _i;                                      /* 2, 4, 8 */
  a2a w = { .threads = T, .per_thread = t_scaled(240000, 3000) / (size_t)T };
  _Atomic int done = 0;
  w.done = &done;
  w.in = xmalloc((size_t)T * sizeof *w.in);
  w.nodes = xmalloc((size_t)T * sizeof *w.nodes);
  w.expected = xmalloc((size_t)T * sizeof *w.expected);
  w.received = xmalloc((size_t)T * sizeof *w.received);
  for (int i = 0; i < T; i++) {
    pthread_mutex_init(&w.in[i].mu, NULL);
    pthread_cond_init(&w.in[i].cv, NULL);
    w.nodes[i] = xmalloc(w.per_thread * sizeof(node));
    for (size_t k = 0; k < w.per_thread; k++) w.expected[dest_of(i, k, T)]++;
  }
  struct hp_pool_stats s0;
  hp_pool_stats(&s0);
  pthread_t t[8];
  a2a_arg args[8];
  for (int i = 0; i < T; i++) { args[i] = (a2a_arg){ &w, i }; start(&t[i], a2a_thread, &args[i]); }
  for (int i = 0; i < T; i++) pthread_join(t[i], NULL);
  ck_assert_int_eq(done, T);
  for (int i = 0; i < T; i++) {
    ck_assert_uint_eq(w.received[i], w.expected[i]);
    ck_assert_ptr_null(w.in[i].head);
  }
  hp_pool_trim();
  expect_all_returned(&s0, (uint64_t)T * w.per_thread, (uint64_t)T);
  for (int i = 0; i < T; i++) free(w.nodes[i]);
  free(w.in); free(w.nodes); free(w.expected); free(w.received);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Threads that exit with live blocks
 * ------------------------------------------------------------------------------------ */

typedef struct orphan_job {
  void **p;
  uint32_t *size;
  size_t n, from, to;
  uint64_t seed;
} orphan_job;

static void *orphan_alloc(void *arg) {
  orphan_job *j = arg;
  t_rng r = { j->seed };
  for (size_t i = 0; i < j->n; i++) {
    size_t s = (i % 500 == 0) ? t_range(&r, 65537, 300000) : t_range(&r, 16, 4096);
    j->p[i] = hp_pool_alloc(s);
    T_CHECK(j->p[i] != NULL, "hp_pool_alloc(%zu)", s);
    j->size[i] = (uint32_t)s;
    memset(j->p[i], 0, s);                              /* touch it all */
    t_fill(j->p[i], s, (uint32_t)i);
  }
  return NULL;                                          /* exits with all of them live */
}

static void *orphan_free(void *arg) {
  orphan_job *j = arg;
  for (size_t i = j->from; i < j->to; i++) check_and_free(j->p[i], j->size[i], (uint32_t)i);
  return NULL;
}

static void warm_up(void) {
  void *h = hp_pool_alloc(1 << 20);
  hp_pool_free(h);
  hp_pool_trim();
}

/* A thread allocates ~64 MB and exits with all of it live: its pages are handed over, the
 * blocks stay intact and counted. Four other threads check and free them. With hp_pool_trim
 * (_i == 0), or with no call at all (_i == 1: the purger collects the frees of the exited
 * thread's pages and returns them), every block ends up counted as freed, every page is
 * given back, and the process's resident size falls back to where it was. */
START_TEST(exited_thread_blocks_freed_elsewhere) {
  bool trim = _i == 0;
  orphan_job j = { .n = t_scaled(32000, 2000), .seed = 99 };
  j.p = xmalloc(j.n * sizeof *j.p);
  j.size = xmalloc(j.n * sizeof *j.size);
  warm_up();
  struct hp_pool_stats s0, s1;
  hp_pool_stats(&s0);
  size_t base = t_rss();

  pthread_t t;
  start(&t, orphan_alloc, &j);
  pthread_join(t, NULL);
  size_t peak = t_rss();
  hp_pool_stats(&s1);
  ck_assert_uint_eq(s1.threads_abandoned - s0.threads_abandoned, 1);
  ck_assert_uint_eq(s1.total.allocs - s0.total.allocs, j.n);
  ck_assert_uint_eq(s1.total.blocks_in_use - s0.total.blocks_in_use, j.n);
  uint64_t bytes = 0;
  for (size_t i = 0; i < j.n; i++) bytes += hp_pool_usable_size(j.p[i]);
  ck_assert_uint_eq(s1.total.bytes_in_use - s0.total.bytes_in_use, bytes);
  ck_assert_uint_ge(peak, base + bytes / 2);

  orphan_job part[4];
  pthread_t ft[4];
  for (int k = 0; k < 4; k++) {
    part[k] = j;
    part[k].from = j.n * (size_t)k / 4;
    part[k].to = j.n * (size_t)(k + 1) / 4;
    start(&ft[k], orphan_free, &part[k]);
  }
  for (int k = 0; k < 4; k++) pthread_join(ft[k], NULL);

  size_t after = 0;
  if (trim) {
    hp_pool_trim();
    after = t_rss();
  } else {
    /* The exited thread's pages are collected and returned by the purger: wait for it. */
    double t0 = t_now();
    for (;;) {
      hp_pool_stats(&s1);
      after = t_rss();
      if (s1.total.blocks_in_use == s0.total.blocks_in_use && s1.total.pages_used == 0 &&
          s1.pages_free_committed == 0 && (T_TSAN || after <= base + 4 * T_MiB + bytes / 32))
        break;
      ck_assert_msg(t_now() - t0 < 20.0, "after 20 s: %llu blocks, %llu pages in use, %llu free pages committed, RSS %zu -> %zu MiB",
                    (unsigned long long)s1.total.blocks_in_use, (unsigned long long)s1.total.pages_used,
                    (unsigned long long)s1.pages_free_committed, base >> 20, after >> 20);
      t_sleep_ms(100);
    }
    hp_pool_trim();                                     /* for the common check below */
  }
  if (!T_TSAN)
    ck_assert_msg(after <= base + 4 * T_MiB + bytes / 32, "RSS %zu MiB before, %zu MiB with the blocks, %zu KiB after",
                  base >> 20, peak >> 20, after >> 10);
  expect_all_returned(&s0, j.n, 1);
  free(j.p);
  free(j.size);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Adoption of an exited thread's pages, reuse of remotely freed blocks
 * ------------------------------------------------------------------------------------ */

enum { ADOPT_N = 1000, ADOPT_SIZE = 256 };

typedef struct adopt {
  void *a[ADOPT_N];             /* thread A's blocks; the odd ones stay live */
  void *b[ADOPT_N / 2];         /* thread B's */
} adopt;

static void *adopt_a(void *arg) {
  adopt *x = arg;
  for (int i = 0; i < ADOPT_N; i++) {
    x->a[i] = hp_pool_alloc(ADOPT_SIZE);
    T_CHECK(x->a[i] != NULL, "block %d", i);
    t_fill(x->a[i], ADOPT_SIZE, (uint32_t)i);
  }
  for (int i = 0; i < ADOPT_N; i += 2) hp_pool_free(x->a[i]);
  return NULL;
}

static void *adopt_b(void *arg) {
  adopt *x = arg;
  for (int i = 0; i < ADOPT_N / 2; i++) {
    x->b[i] = hp_pool_alloc(ADOPT_SIZE);
    T_CHECK(x->b[i] != NULL, "block %d", i);
    t_fill(x->b[i], ADOPT_SIZE, (uint32_t)(100000 + i));
  }
  return NULL;
}

static bool in_pages(void *const *set, size_t n, const void *p) {
  for (size_t i = 0; i < n; i++)
    if (((uintptr_t)set[i] >> 16) == ((uintptr_t)p >> 16)) return true;
  return false;
}

/* Thread A fills four pages of the 256-byte class, frees every other block and exits.
 * Thread B then allocates 500 blocks of that class: all of them come from A's pages (adopted,
 * not fresh ones), none is one of A's live blocks, and A's live blocks are intact. */
START_TEST(exited_thread_pages_are_adopted) {
  static adopt x;
  struct hp_pool_stats s0;
  hp_pool_stats(&s0);
  pthread_t t;
  start(&t, adopt_a, &x);
  pthread_join(t, NULL);
  start(&t, adopt_b, &x);
  pthread_join(t, NULL);
  for (int i = 0; i < ADOPT_N / 2; i++) {
    T_CHECK(in_pages(x.a, ADOPT_N, x.b[i]), "B's block %d (%p) is not in a page of A", i, x.b[i]);
    for (int k = 1; k < ADOPT_N; k += 2) T_CHECK(x.b[i] != x.a[k], "B got A's live block %p", x.a[k]);
  }
  for (int k = 1; k < ADOPT_N; k += 2)
    T_CHECK(t_check(x.a[k], ADOPT_SIZE, (uint32_t)k) == T_OK, "A's block %d overwritten", k);
  for (int i = 0; i < ADOPT_N / 2; i++)
    T_CHECK(t_check(x.b[i], ADOPT_SIZE, (uint32_t)(100000 + i)) == T_OK, "B's block %d overwritten", i);
  for (int k = 1; k < ADOPT_N; k += 2) hp_pool_free(x.a[k]);
  for (int i = 0; i < ADOPT_N / 2; i++) hp_pool_free(x.b[i]);
  hp_pool_trim();
  expect_all_returned(&s0, ADOPT_N + ADOPT_N / 2, 2);
}
END_TEST

enum { ROUND_N = 256, ROUNDS = 4 };                      /* one full page of 256-byte blocks */

static void *free_all(void *arg) {
  void **p = arg;
  for (int i = 0; i < ROUND_N; i++) {
    T_CHECK(t_check(p[i], 256, (uint32_t)i) == T_OK, "block %d overwritten", i);
    hp_pool_free(p[i]);
  }
  return NULL;
}

/* The main thread fills one page; another thread frees all of it; the main thread allocates
 * as many again and gets exactly the same blocks back (taken from the remote list). Round
 * after round, so that blocks are freed remotely more than once in their page's life. */
START_TEST(remotely_freed_blocks_are_reused) {
  void *p[ROUND_N], *first[ROUND_N];
  struct hp_pool_stats s0, s1;
  hp_pool_stats(&s0);
  for (int round = 0; round < ROUNDS; round++) {
    for (int i = 0; i < ROUND_N; i++) {
      p[i] = hp_pool_alloc(256);
      T_CHECK(p[i] != NULL, "block %d", i);
      t_fill(p[i], 256, (uint32_t)i);
    }
    if (round == 0) {
      memcpy(first, p, sizeof p);
      for (int i = 1; i < ROUND_N; i++)                 /* one page */
        T_CHECK(((uintptr_t)p[i] >> 16) == ((uintptr_t)p[0] >> 16), "block %d in another page", i);
    } else {
      void *a[ROUND_N], *b[ROUND_N];
      memcpy(a, p, sizeof p);
      memcpy(b, first, sizeof p);
      qsort(a, ROUND_N, sizeof a[0], t_cmp_ptr);
      qsort(b, ROUND_N, sizeof b[0], t_cmp_ptr);
      ck_assert_msg(memcmp(a, b, sizeof a) == 0, "round %d: not the same blocks", round);
    }
    hp_pool_stats(&s1);
    ck_assert_uint_eq(s1.total.blocks_in_use - s0.total.blocks_in_use, ROUND_N);
    pthread_t t;
    start(&t, free_all, p);
    pthread_join(t, NULL);
  }
  for (int i = 0; i < ROUND_N; i++) p[i] = hp_pool_alloc(256);
  for (int i = 0; i < ROUND_N; i++) hp_pool_free(p[i]);
  hp_pool_trim();
  expect_all_returned(&s0, (ROUNDS + 1) * ROUND_N, 0);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Statistics read while threads run
 * ------------------------------------------------------------------------------------ */

typedef struct reader { _Atomic bool stop; size_t snapshots; } reader;

static void *stats_reader(void *arg) {
  reader *rd = arg;
  struct hp_pool_stats prev, st;
  hp_pool_stats(&prev);
  while (!atomic_load(&rd->stop)) {
    hp_pool_stats(&st);
    T_CHECK(st.version == HP_POOL_STATS_VERSION && st.nclasses == HP_POOL_CLASSES, "version");
    for (unsigned c = 0; c < st.nclasses; c++) {
      const struct hp_pool_class_stats *x = &st.classes[c], *y = &prev.classes[c];
      T_CHECK(x->allocs >= y->allocs && x->frees >= y->frees, "class %u: counters went back", c);
      T_CHECK(x->bytes_in_use == x->blocks_in_use * x->block_size, "class %u", c);
    }
    T_CHECK(st.total.allocs >= prev.total.allocs, "total allocs went back");
    prev = st;
    rd->snapshots++;
  }
  return NULL;
}

/* An all-to-all storm of four threads while a fifth reads the statistics over and over:
 * counters never go backwards, and once everything is joined the totals are exact. */
START_TEST(stats_while_threads_run) {
  int T = 4;
  a2a w = { .threads = T, .per_thread = t_scaled(100000, 2000) / (size_t)T };
  _Atomic int done = 0;
  w.done = &done;
  w.in = xmalloc((size_t)T * sizeof *w.in);
  w.nodes = xmalloc((size_t)T * sizeof *w.nodes);
  w.expected = xmalloc((size_t)T * sizeof *w.expected);
  w.received = xmalloc((size_t)T * sizeof *w.received);
  for (int i = 0; i < T; i++) {
    pthread_mutex_init(&w.in[i].mu, NULL);
    pthread_cond_init(&w.in[i].cv, NULL);
    w.nodes[i] = xmalloc(w.per_thread * sizeof(node));
    for (size_t k = 0; k < w.per_thread; k++) w.expected[dest_of(i, k, T)]++;
  }
  struct hp_pool_stats s0;
  hp_pool_stats(&s0);
  reader rd = { .stop = false };
  pthread_t rt, t[4];
  start(&rt, stats_reader, &rd);
  a2a_arg args[4];
  for (int i = 0; i < T; i++) { args[i] = (a2a_arg){ &w, i }; start(&t[i], a2a_thread, &args[i]); }
  for (int i = 0; i < T; i++) pthread_join(t[i], NULL);
  atomic_store(&rd.stop, true);
  pthread_join(rt, NULL);
  ck_assert_uint_ge(rd.snapshots, 1);
  for (int i = 0; i < T; i++) ck_assert_uint_eq(w.received[i], w.expected[i]);
  hp_pool_trim();
  expect_all_returned(&s0, (uint64_t)T * w.per_thread, (uint64_t)T);
  for (int i = 0; i < T; i++) free(w.nodes[i]);
  free(w.in); free(w.nodes); free(w.expected); free(w.received);
}
END_TEST

/* ------------------------------------------------------------------------------------ */

static Suite *suite(void) {
  Suite *s = suite_create("pools-threads");
  TCase *tc = tcase_create("storms");
  tcase_set_timeout(tc, 240);
  tcase_add_loop_test(tc, producer_consumer, 0, 3);
  tcase_add_loop_test(tc, all_to_all, 0, 3);
  suite_add_tcase(s, tc);

  tc = tcase_create("exits");
  tcase_set_timeout(tc, 240);
  tcase_add_loop_test(tc, exited_thread_blocks_freed_elsewhere, 0, 2);
  tcase_add_test(tc, exited_thread_pages_are_adopted);
  tcase_add_test(tc, remotely_freed_blocks_are_reused);
  suite_add_tcase(s, tc);

  tc = tcase_create("stats");
  tcase_set_timeout(tc, 240);
  tcase_add_test(tc, stats_while_threads_run);
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
