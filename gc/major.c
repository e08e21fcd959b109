/* gc/major.c -- the full major collection, with the world stopped throughout: all young
 * objects are promoted (a minor collection with tenure age 0), then the old generation is
 * marked from the roots (gc/mark.c) and its dead objects freed (gc/sweep.c): in the pause,
 * or lazily after it. hp_collect(HP_GC_MAJOR) and the out-of-memory policy run it; a due
 * major collection runs it (lazily swept) only in mark_mode 0, and otherwise starts or
 * finishes a concurrent cycle (gc/marker.c).
 */
#include "gc/collector.h"

/* Pinned objects that were not marked are dead: their room goes back to the young spaces.
 * Returns how many. */
static size_t sweep_pinned(hpC_generations *h) {
  hpC_vec *v = &h->pinned;
  size_t kept = 0, freed = 0;
  for (size_t i = 0; i < v->len; i++) {
    uint64_t *hdr = (uint64_t *)v->items[i];
    if (*hdr & HPC_MARKED) {
      *hdr &= ~HPC_MARKED;
      v->items[kept++] = v->items[i];
    } else {
      freed++;
      h->pinned_bytes -= hpC_bytes(*hdr);
    }
  }
  v->len = kept;
  return freed;
}

void hpC_major(hp_runtime *rt, hpC_results *cy, bool lazy) {
  hp_assert(hpC_in_collection());
  hpC_generations *h = &rt->gens;
  hpC_mark *mk = &h->mk;
  hpC_cycle_abandon(rt);                   /* a concurrent cycle that was marking */
  hpC_sweep_all(h);                        /* what the last one left unswept */
  hpC_minor(rt, true, cy);                 /* the young generation is empty afterwards */
  uint64_t t = hpS_now_ns();
  hpC_mark_reset_counts(h);
  hpC_mark_full(rt);                       /* with weak slots, ephemerons and finalizers */
  hpC_phase(cy, mark, &t);
  cy->freed_objects += sweep_pinned(h);
  cy->freed_objects += lazy ? hpC_sweep_begin(h) : hpC_sweep_now(h);
  hpC_phase(cy, sweep, &t);
  hpC_young_reset(h);                      /* around the pinned objects still alive */
  hpC_space_reset(&h->from, &h->pinned);
  hpC_set_thresholds(rt, mk->marked_block_bytes + mk->marked_huge_bytes);
  cy->marked = mk->marked_bytes;
  cy->marked_objects = mk->marked_blocks;
  hpC_phase(cy, reset, &t);
  h->old_object_bytes = h->old_live_after_major = mk->marked_bytes;
  h->young_live = 0;
  hp_validate(hpC_space_valid(&h->eden) && hpC_space_valid(&h->from) && hpC_remset_valid(h) &&
              (lazy || hpC_old_pages_valid(h)));
}
