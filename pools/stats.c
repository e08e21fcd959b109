/* pools/stats.c -- hp_pool_stats: per-class counters summed over all heaps, and a walk over
 * the spans for pages, committed and resident bytes.
 *
 * The fast paths count on the page they allocate from (allocs, req_bytes: the owner's cache
 * line, no other memory touched); a page's counts move into its heap's per-class counters when
 * the page leaves the heap (given back, abandoned, destroyed), the counts of the blocks still
 * in use staying with the page. So a class's allocations are its heaps' counters plus its
 * pages', and its frees are allocations minus the blocks in use (the pages' `used`): a free
 * counts nothing. Counters are written by their owner with plain loads and stores; summing
 * them while other threads run gives a figure that is exact once those threads are quiet.
 */
#include "pools/pool.h"
#include "pools/platform/os.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct walk {
  struct hp_pool_stats *st;
  uint64_t huge_committed, huge_resident, huge_pages;
  uint64_t allocs[HPP_CLASSES], req[HPP_CLASSES], used[HPP_CLASSES];  /* the pages' counts */
} walk;

static bool visit(hpP_span *s, void *arg) {
  walk *w = arg;
  if (s->arena != HPP_ARENA_PUBLIC) return true;
  size_t bytes = (size_t)s->npages << HPP_PAGE_SHIFT;
  if (s->kind == HPP_SPAN_HUGE) {
    w->huge_pages += s->npages;
    w->huge_committed += bytes;
    w->huge_resident += hpS_resident(hpP_span_start(s), bytes);
    return true;
  }
  if (s->kind != HPP_SPAN_BLOCKS) return true;
  struct hp_pool_class_stats *c = &w->st->classes[s->cls];
  /* allocs before used, acquire (the owner writes them the other way round, releasing):
   * allocs - used never exceeds the true frees of the page */
  w->allocs[s->cls] += atomic_load_explicit(&s->allocs, memory_order_acquire);
  uint32_t used = atomic_load_explicit(&s->used, memory_order_acquire);
  w->used[s->cls] += used;
  w->req[s->cls] += atomic_load_explicit(&s->req_bytes, memory_order_relaxed);
  if (used > 0) c->pages_used += s->npages;
  else c->pages_empty += s->npages;
  /* Carving touches blocks in order, so what may be resident ends at the last carved block. */
  size_t touched = (size_t)atomic_load_explicit(&s->reserved, memory_order_relaxed) * s->block_size;
  size_t ps = hpS_page_size();
  touched = (touched + ps - 1) / ps * ps;
  if (touched > bytes) touched = bytes;
  c->bytes_committed += touched;
  if (touched) c->bytes_resident += hpS_resident(hpP_span_start(s), touched);
  return true;
}

static void add_into(struct hp_pool_class_stats *to, const struct hp_pool_class_stats *c) {
  to->blocks_in_use += c->blocks_in_use;
  to->bytes_in_use += c->bytes_in_use;
  to->bytes_requested += c->bytes_requested;
  to->allocs += c->allocs;
  to->frees += c->frees;
  to->pages_used += c->pages_used;
  to->pages_empty += c->pages_empty;
  to->bytes_committed += c->bytes_committed;
  to->bytes_resident += c->bytes_resident;
}

static void fragmentation(struct hp_pool_class_stats *c) {
  c->fragmentation = c->bytes_requested
      ? ((double)c->bytes_committed - (double)c->bytes_requested) / (double)c->bytes_requested : 0.0;
}

/* One class's counts: its pages' (from the walk) plus its heaps' and the orphans'. Called
 * with the span lock held, so that pages and heaps are seen at one instant (fold_counts). */
static void class_counts(struct hp_pool_stats *st, const walk *w, unsigned c) {
  static uint64_t frees_seen[HPP_CLASSES];   /* the largest count of frees reported */
  uint64_t allocs = w->allocs[c], req = w->req[c], frees_sized = 0, req_freed = 0;
  for (hpP_heap *h = atomic_load_explicit(&hpP_all_heaps, memory_order_seq_cst); h; h = h->next_heap) {
    if (h->arena != HPP_ARENA_PUBLIC) continue;
    allocs += hp_counter_get(h->stats[c].allocs);
    req += hp_counter_get(h->stats[c].req_bytes);
    frees_sized += hp_counter_get(h->stats[c].frees_sized);
    req_freed += hp_counter_get(h->stats[c].req_freed);
  }
  allocs += hp_counter_get(hpP_orphan_stats[HPP_ARENA_PUBLIC][c].allocs);
  req += hp_counter_get(hpP_orphan_stats[HPP_ARENA_PUBLIC][c].req_bytes);
  uint64_t in_use = w->used[c];
  /* allocs - in_use may fall short of the true count by the allocations in flight in other
   * threads, never exceed it: reporting the largest figure seen keeps frees monotonic and
   * exact once the threads are quiet. */
  uint64_t frees = allocs > in_use ? allocs - in_use : 0;
  if (frees < frees_seen[c]) frees = frees_seen[c];
  frees_seen[c] = frees;
  struct hp_pool_class_stats *cs = &st->classes[c];
  cs->block_size = hpP_class_size[c];
  cs->allocs = allocs;
  cs->frees = frees;
  cs->blocks_in_use = in_use;
  cs->bytes_in_use = cs->blocks_in_use * cs->block_size;
  /* Requested bytes of the live blocks: exact for sized frees; an unsized free is taken to
   * have freed the class's mean request. */
  double mean = allocs ? (double)req / (double)allocs : 0.0;
  double live = (double)req - (double)req_freed - (double)(frees - frees_sized) * mean;
  cs->bytes_requested = live > 0 && cs->blocks_in_use ? (uint64_t)(live + 0.5) : 0;
}

/* The huge tier: the global counters and the walk's pages. */
static void huge_counts(struct hp_pool_stats *st, const walk *w) {
  struct hp_pool_class_stats *hg = &st->tiers[HP_TIER_HUGE];
  hg->allocs = atomic_load_explicit(&hpP_gstats.huge_allocs[HPP_ARENA_PUBLIC], memory_order_seq_cst);
  hg->frees = atomic_load_explicit(&hpP_gstats.huge_frees[HPP_ARENA_PUBLIC], memory_order_seq_cst);
  hg->blocks_in_use = (uint64_t)atomic_load_explicit(&hpP_gstats.huge_blocks[HPP_ARENA_PUBLIC], memory_order_seq_cst);
  hg->bytes_in_use = (uint64_t)atomic_load_explicit(&hpP_gstats.huge_bytes[HPP_ARENA_PUBLIC], memory_order_seq_cst);
  hg->bytes_requested = atomic_load_explicit(&hpP_gstats.huge_req[HPP_ARENA_PUBLIC], memory_order_seq_cst);
  hg->pages_used = w->huge_pages;
  hg->bytes_committed = w->huge_committed;
  hg->bytes_resident = w->huge_resident;
}

/* The classes into their tiers, the tiers into the total, and the pools' global figures. */
static void totals(struct hp_pool_stats *st) {
  for (unsigned c = 0; c < HPP_CLASSES; c++) {
    fragmentation(&st->classes[c]);
    add_into(&st->tiers[hpP_tier_of_class(c)], &st->classes[c]);
  }
  for (int t = 0; t < HP_POOL_TIERS; t++) {
    fragmentation(&st->tiers[t]);
    add_into(&st->total, &st->tiers[t]);
  }
  fragmentation(&st->total);
  st->pages_free_committed = (uint64_t)atomic_load_explicit(&hpP_gstats.pages_free_dirty, memory_order_seq_cst);
  st->pages_returned = (uint64_t)atomic_load_explicit(&hpP_gstats.pages_free_clean, memory_order_seq_cst);
  st->bytes_returned_total = atomic_load_explicit(&hpP_gstats.bytes_returned, memory_order_seq_cst);
  st->bytes_reserved = hpP_size;
  st->threads_abandoned = atomic_load_explicit(&hpP_gstats.threads_abandoned, memory_order_seq_cst);
}

void hp_pool_stats(struct hp_pool_stats *st) {
  memset(st, 0, sizeof *st);
  st->version = HP_POOL_STATS_VERSION;
  st->nclasses = HPP_CLASSES;
  if (!hpP_init()) return;
  static walk w;                  /* large; hp_pool_stats is not reentrant (hpP_foreach_span's */
  memset(&w, 0, sizeof w);        /* lock serialises the walks, this static the callers) */
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&mu);
  w.st = st;
  hpP_lock();                                /* pages and heaps at one instant (fold_counts) */
  hpP_foreach_span_locked(visit, &w);
  for (unsigned c = 0; c < HPP_CLASSES; c++) class_counts(st, &w, c);
  hpP_unlock();
  pthread_mutex_unlock(&mu);
  huge_counts(st, &w);
  totals(st);
}

static void print_row(FILE *f, const char *name, const struct hp_pool_class_stats *c) {
  fprintf(f, "%-8s %10llu %12llu %12llu %10llu %6llu %6llu %12llu %12llu %7.1f%%\n", name,
          (unsigned long long)c->blocks_in_use, (unsigned long long)c->bytes_in_use,
          (unsigned long long)c->bytes_requested, (unsigned long long)c->allocs,
          (unsigned long long)c->pages_used, (unsigned long long)c->pages_empty,
          (unsigned long long)c->bytes_committed, (unsigned long long)c->bytes_resident,
          100.0 * c->fragmentation);
}

void hp_pool_stats_print(void *out) {
  FILE *f = out ? out : stderr;
  struct hp_pool_stats st;
  hp_pool_stats(&st);
  fprintf(f, "%-8s %10s %12s %12s %10s %6s %6s %12s %12s %8s\n", "class", "blocks", "in use",
          "requested", "allocs", "pages", "empty", "committed", "resident", "frag");
  char name[32];
  for (unsigned c = 0; c < st.nclasses; c++) {
    if (st.classes[c].allocs == 0) continue;
    snprintf(name, sizeof name, "%llu", (unsigned long long)st.classes[c].block_size);
    print_row(f, name, &st.classes[c]);
  }
  static const char *tier[] = { "small", "medium", "large", "huge" };
  for (int t = 0; t < HP_POOL_TIERS; t++) print_row(f, tier[t], &st.tiers[t]);
  print_row(f, "total", &st.total);
  fprintf(f, "free pool: %llu pages committed, %llu returned; %llu bytes returned in all; "
          "%llu threads handed their pages over\n",
          (unsigned long long)st.pages_free_committed, (unsigned long long)st.pages_returned,
          (unsigned long long)st.bytes_returned_total, (unsigned long long)st.threads_abandoned);
}
