/* runtime/options.h -- every option of the collector, declared once.
 *
 * X(kind, field, env, default, min, max, description)
 *   kind: size (bytes, K/M/G suffixes in the environment), uint, bool (0/1), enum (a number
 *   or one of the names HP_OPTION_NAMES_<field>, in the order of their values), or string
 *   (a path; min and max unused).
 * The table makes hp_config_default, the range checks of hp_runtime_new, and
 * hp_config_from_env; doc/options.md lists the same table for users.
 */
#ifndef HP_RUNTIME_OPTIONS_H
#define HP_RUNTIME_OPTIONS_H

#define HP_OPTIONS(X)                                                                       \
  X(size, eden_size, "HP_EDEN_SIZE", 4 * HP_MiB, 256 * HP_KiB, 4 * HP_GiB,                  \
    "bytes of eden, where objects are born (at first, when adaptive)")                     \
  X(bool, adaptive_eden, "HP_ADAPTIVE_EDEN", 1, 0, 1,                                       \
    "resize eden after each minor collection by its pause and its cost")                   \
  X(size, eden_max_size, "HP_EDEN_MAX_SIZE", 16 * HP_MiB, 256 * HP_KiB, 4 * HP_GiB,         \
    "the largest eden the adaptive policy may choose (eden_size to 4 x eden_size)")        \
  X(uint, young_pause_goal_us, "HP_YOUNG_PAUSE_GOAL_US", 5000, 10, 10000000,               \
    "adaptive eden: shrink eden while minor pauses take longer than this")                 \
  X(uint, minor_cost_percent, "HP_MINOR_COST", 5, 1, 100,                                   \
    "adaptive eden: grow eden while minor collections take more than this % of the time")  \
  X(uint, survivor_percent, "HP_SURVIVOR_PERCENT", 25, 1, 100,                              \
    "size of each survivor space, in % of eden")                                            \
  X(uint, tenure_age, "HP_TENURE_AGE", 6, 1, 15,                                            \
    "minor collections an object survives before promotion (the most, when adaptive)")     \
  X(bool, adaptive_tenure, "HP_ADAPTIVE_TENURE", 1, 0, 1,                                   \
    "lower the tenure age while survivors fill more than half of their space")             \
  X(size, large_object_size, "HP_LARGE_OBJECT_SIZE", 8 * HP_KiB, 256, 1 * HP_GiB,          \
    "bodies above this size are allocated in the old generation and never move")           \
  X(size, heap_limit, "HP_HEAP_LIMIT", 0, 0, SIZE_MAX,                                      \
    "most bytes the heap may commit (0: no limit but the address reservation)")            \
  X(uint, major_growth_percent, "HP_MAJOR_GROWTH", 200, 110, 100000,                        \
    "the most the old generation grows between major collections, in % of what survived")  \
  X(uint, major_gc_percent, "HP_MAJOR_COST", 5, 0, 100,                                     \
    "adapt the old generation's growth to major collections taking this % of the time (0: fixed)") \
  X(size, major_min_size, "HP_MAJOR_MIN_SIZE", 16 * HP_MiB, 0, SIZE_MAX,                   \
    "no major collection (but on demand or at the heap limit) below this old size")        \
  X(uint, mark_mode, "HP_MARK_MODE", 3, 0, 3,                                               \
    "due major collections: 0 stop the world, 1 incremental slices on the mutators, "      \
    "2 a concurrent marker thread, 3 auto (2 with more than one core, else 1)")            \
  X(uint, stress, "HP_GC_STRESS", 0, 0, 1000000000,                                         \
    "torture: collect every N allocations, minor and major in turn (0: off)")              \
  X(uint, stress_finish, "HP_GC_STRESS_FINISH", 0, 0, 1000000000,                           \
    "torture: finish a marking cycle after M allocations of a thread (0: at the next major turn)") \
  X(uint, verify, "HP_GC_VERIFY", 0, 0, 2,                                                  \
    "verify the heap: 1 after every collection, 2 before and after")                       \
  X(enum, gc_log, "HP_GC_LOG", HP_GC_LOG_OFF, HP_GC_LOG_OFF, HP_GC_LOG_JSON,               \
    "log every collection: off, text (a line) or json (an object per line)")               \
  X(string, gc_log_file, "HP_GC_LOG_FILE", NULL, 0, 0,                                      \
    "the GC log's file, truncated when the runtime is made (NULL: stderr)")                \
  X(bool, conservative_stack, "HP_CONSERVATIVE", 1, 0, 1,                                   \
    "scan thread stacks and registers conservatively; what they point to is pinned")        \
  X(bool, finalize_on_destroy, "HP_FINALIZE_ON_DESTROY", 0, 0, 1,                           \
    "hp_runtime_destroy runs the pending finalizers (queued, then still registered)")      \
  X(uint, stop_deadline_ms, "HP_STOP_DEADLINE", 5000, 0, 3600000,                           \
    "ms a world stop waits before it reports the threads not at a safe point (0: never)")  \
  X(bool, stop_deadline_abort, "HP_STOP_DEADLINE_ABORT", 0, 0, 1,                           \
    "past the stop deadline, abort after the report instead of waiting on")   \
  X(uint, stop_spin_us, "HP_STOP_SPIN_US", 50, 0, 100000,                                   \
    "world stop: microseconds a waiting thread spins before it sleeps (0: sleep at once)")

/* The names of an enum option's values, from 0. */
#define HP_OPTION_NAMES_gc_log { "off", "text", "json", NULL }

#endif
