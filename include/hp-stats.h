/* hp-stats.h -- versioned statistics structures of hp. Included by <hp.h>.
 *
 * Each structure starts with a version field that the library sets; a new field is only
 * ever added at the end, with the version raised, so a program compiled against an older
 * header still reads what it knows.
 */
#ifndef HP_STATS_H
#define HP_STATS_H

#include <stddef.h>
#include <stdint.h>

#define HP_POOL_STATS_VERSION 1
#define HP_POOL_CLASSES 44      /* size classes of the small, medium and large tiers */
#define HP_POOL_TIERS 4         /* small, medium, large, huge */

enum hp_pool_tier { HP_TIER_SMALL, HP_TIER_MEDIUM, HP_TIER_LARGE, HP_TIER_HUGE };

/* Counters of one size class or one tier. Blocks freed by another thread count as in use
 * until their owner takes its remote list (at its next allocation slow path). */
struct hp_pool_class_stats {
  uint64_t block_size;         /* bytes per block (0 for a tier) */
  uint64_t blocks_in_use;      /* allocated and not freed */
  uint64_t bytes_in_use;       /* blocks_in_use * block_size */
  uint64_t bytes_requested;    /* live bytes as asked for: exact when blocks are freed with
                                  hp_pool_free_sized, otherwise live blocks times the mean
                                  request of the class */
  uint64_t allocs, frees;      /* cumulative operations */
  uint64_t pages_used;         /* 64 KiB pages in spans holding at least one live block */
  uint64_t pages_empty;        /* pages of spans with no live block, kept by a thread */
  uint64_t bytes_committed;    /* bytes of the class's spans that may be resident */
  uint64_t bytes_resident;     /* of those, resident now (mincore) */
  double fragmentation;        /* (committed - requested) / requested; 0 when nothing live */
};

struct hp_pool_stats {
  uint32_t version;            /* HP_POOL_STATS_VERSION */
  uint32_t nclasses;           /* HP_POOL_CLASSES */
  struct hp_pool_class_stats classes[HP_POOL_CLASSES];
  struct hp_pool_class_stats tiers[HP_POOL_TIERS];
  struct hp_pool_class_stats total;
  uint64_t pages_free_committed; /* free pages in the global pool, not yet returned */
  uint64_t pages_returned;       /* free pages returned to the OS (madvise), current */
  uint64_t bytes_returned_total; /* cumulative bytes returned to the OS */
  uint64_t bytes_reserved;       /* the address range reserved for all of hp's memory */
  uint64_t threads_abandoned;    /* threads that exited and handed their pages over */
};


#define HP_GC_STATS_VERSION 3
#define HP_PAUSE_BUCKETS 192   /* 8 per doubling from 1 us: bucket i holds pauses up to
                                  1 us * 2^((i+1)/8) */

/* Pauses of one kind of collection. */
struct hp_gc_pause_stats {
  uint64_t count;
  uint64_t total_ns, last_ns, max_ns;
  uint64_t p50_ns, p99_ns;       /* from the histogram: within 9% */
  uint32_t histogram[HP_PAUSE_BUCKETS];
};

struct hp_gc_stats {
  uint32_t version;              /* HP_GC_STATS_VERSION */
  uint32_t reserved0;
  uint64_t minor_count, major_count;
  uint64_t bytes_allocated;      /* all bytes ever allocated by hp_new (headers included) */
  uint64_t bytes_allocated_large;/* of those, straight into the old generation */
  uint64_t bytes_copied;         /* copied young -> survivor, all minor collections */
  uint64_t bytes_promoted;       /* copied young -> old */
  uint64_t bytes_pinned;         /* young bytes pinned in place, all collections */
  uint64_t young_live;           /* bytes copied into the survivor space by the last minor
                                    collection (0 after a major one) */
  uint64_t old_live;             /* bytes in the old generation after the last collection
                                    (after a major: exactly the marked bytes) */
  uint64_t old_live_after_major; /* bytes that survived the last major collection */
  uint64_t objects_freed;        /* old objects swept, all major collections */
  uint64_t heap_committed;       /* bytes of eden, survivors and old-generation spans */
  uint64_t heap_resident;        /* of those, resident now */
  uint32_t tenure_age;           /* the age at which objects are promoted now */
  uint32_t reserved1;
  struct hp_gc_pause_stats minor, major;
  uint64_t gc_ns, total_ns;      /* time in collections; since the runtime was made */
  uint64_t pinned_objects;       /* objects pinned in place in the young range now */
  uint64_t pinned_held;          /* their bytes: young memory that pinning holds back */
  uint64_t pinned_pages;         /* 64 KiB pages of the young range holding pinned objects */
  uint64_t stack_bytes_scanned;  /* conservative roots: stack bytes scanned, all collections */
  uint64_t stack_scan_ns;        /* and the time it took */
  uint64_t stop_ns_total;        /* time to stop the other threads at safe points, */
  uint64_t stop_ns_last;         /*   summed over all collections, the last one, */
  uint64_t stop_ns_max;          /*   and the longest */
  /* version 2: weak references, ephemerons, finalizers (all collections) */
  uint64_t weak_cleared;         /* weak slots cleared (their object died) */
  uint64_t ephemerons_traced;    /* ephemeron pairs met by collections */
  uint64_t ephemerons_parked;    /* of those, met with their key not (yet) reached */
  uint64_t ephemerons_cleared;   /* pairs cleared (their key died) */
  uint64_t finalizers_queued;    /* registrations whose object was found unreachable */
  uint64_t finalizers_run;       /* finalizers run by hp_finalizers_run */
  uint64_t finalizers_pending;   /* queued, not yet run (now) */
  uint64_t finalizers_registered;/* registered, object not yet found unreachable (now) */
  uint64_t weak_ns;              /* time clearing and updating weak slots and ephemerons */
  uint64_t finalize_ns;          /* time finding finalizable objects and keeping them alive */
  /* version 3: concurrent major cycles (doc/design.md, "The concurrent cycle"). Their start
   * pause counts as a minor collection above (it promotes everything), their finish pause
   * as a major one. */
  uint64_t cycles_started, cycles;   /* cycles started; finished */
  uint64_t cycle_start_ns_last, cycle_start_ns_max;    /* start pauses */
  uint64_t cycle_finish_ns_last, cycle_finish_ns_max;  /* finish pauses */
  uint64_t cycle_mark_ns_last;       /* last cycle: from its start pause to its finish pause */
  uint64_t cycle_marker_work_last;   /*   slots and objects traced by the marker thread, */
  uint64_t cycle_assist_work_last;   /*   by mutators (incremental slices and assists), */
  uint64_t cycle_bytes_marked_last;  /*   bytes of the objects it traced, */
  uint64_t cycle_logged_last;        /*   entries of the barrier's logs */
  uint64_t cycle_logged_total;       /* barrier log entries, all cycles */
  uint64_t sweep_ns;                 /* time sweeping outside the pauses' own sweeps, all cycles */
  uint64_t eden_size;            /* bytes of eden now (adaptive_eden: it follows the program) */
  uint64_t eden_size_max;        /* the largest eden chosen so far */
  uint64_t tlab_size;            /* the largest TLAB size chosen so far (32 KiB at first) */
};

#endif /* HP_STATS_H */
