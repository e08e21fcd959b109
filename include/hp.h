/* hp.h -- the public interface of hp, an embeddable garbage-collected object runtime.
 *
 * This header is the whole contract between hp and its embedder. Everything here is
 * prefixed hp_/HP_; nothing else in the library is visible from outside it.
 *
 * Layers (data flows down; doc/design.md, section 1):
 *   runtime (runtime/) -> collector (gc/) -> pools (pools/) -> platform (pools/platform/)
 *
 * This file holds:
 *   - version and attribute macros;
 *   - the pools: a lock-free, thread-caching allocator of unmanaged memory
 *     (hp_pool_alloc / hp_pool_free), the layer the old generation lives on;
 *   - the collector: runtimes, threads, types, allocation (hp_new), roots, the write
 *     barrier, pins, collections and their events.
 * Statistics structures are in <hp-stats.h>, which this header includes.
 */
#ifndef HP_H
#define HP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define HP_VERSION_MAJOR 0
#define HP_VERSION_MINOR 1
#define HP_VERSION_PATCH 0
#define HP_VERSION (HP_VERSION_MAJOR * 10000 + HP_VERSION_MINOR * 100 + HP_VERSION_PATCH)

/* The library is built with -fvisibility=hidden; only HP_API symbols are exported. */
#if defined(__GNUC__)
#define HP_API __attribute__((visibility("default")))
#else
#define HP_API
#endif

#if defined(__GNUC__)
#define HP_MALLOC_LIKE __attribute__((malloc, warn_unused_result))
#define HP_ALLOC_SIZE(n) __attribute__((alloc_size(n)))
#define HP_LIKELY(c) __builtin_expect(!!(c), 1)
#define HP_UNLIKELY(c) __builtin_expect(!!(c), 0)
#define HP_INLINE static inline __attribute__((always_inline))
#else
#define HP_INLINE static inline
#define HP_MALLOC_LIKE
#define HP_ALLOC_SIZE(n)
#define HP_LIKELY(c) (c)
#define HP_UNLIKELY(c) (c)
#endif

#ifdef __cplusplus
extern "C" {
#endif

#include "hp-stats.h"

/* The library's version, HP_VERSION as compiled into it. */
HP_API int hp_version(void);

/* ==================================================================================
 *  Pools: unmanaged memory
 * ==================================================================================
 * Blocks come in size classes spaced 16 bytes apart up to 128 B and at most 25% apart
 * above, grouped in four tiers:
 *   small  (<= 128 B, 16-byte steps), medium (129 B - 2 KiB, 4 classes per doubling),
 *   large  (2 KiB - 64 KiB, 4 classes per doubling), huge (> 64 KiB, whole 64 KiB pages).
 * Any thread may allocate and free any block. Each thread allocates from pages of its
 * own, with no lock and no atomic read-modify-write; a block freed by another thread is
 * pushed onto its page's remote list, which the owner takes whole. When a thread exits
 * its pages are handed over, and its blocks may still be freed from anywhere.
 * Empty pages return to the OS about half a second after they become empty, without any
 * call; hp_pool_trim() returns everything free at once.
 * Every block is at least 16-byte aligned. Blocks are not zeroed.
 */

/* Allocates a block of at least `size` bytes. Size 0 gives a valid, unique block.
 * Returns NULL with errno = ENOMEM when the size cannot be served (too large, or the
 * pools' address range is exhausted). Never calls any handler. */
HP_API HP_MALLOC_LIKE HP_ALLOC_SIZE(1) void *hp_pool_alloc(size_t size);

/* As hp_pool_alloc, with the block aligned to `align`, a power of two (any size;
 * 64 for a cache line). Returns NULL with errno = EINVAL if align is not a power of two,
 * ENOMEM as above. The block is freed with hp_pool_free like any other. */
HP_API HP_MALLOC_LIKE void *hp_pool_alloc_aligned(size_t size, size_t align);

/* Frees a block from hp_pool_alloc*. NULL is a no-op. Any thread may free any block.
 * With HP_DEBUG >= 2, a double free or a pointer the pools never handed out aborts with
 * a message naming the address and the reason; at lower levels it is undefined. */
HP_API void hp_pool_free(void *ptr);

/* As hp_pool_free; `size` must be the size asked for (or anything up to the usable
 * size). It lets the statistics count requested bytes exactly. */
HP_API void hp_pool_free_sized(void *ptr, size_t size);

/* The number of usable bytes in the block `ptr` (>= the size asked for). 0 for NULL. */
HP_API size_t hp_pool_usable_size(const void *ptr);

/* Returns every free page to the OS now, including the calling thread's cached empty
 * pages. Returns the number of bytes given back. */
HP_API size_t hp_pool_trim(void);

/* Fills `st` with the pools' statistics (see <hp-stats.h>); sets st->version.
 * Costs a walk over the pools' page descriptors: call it to report, not on a hot path. */
HP_API void hp_pool_stats(struct hp_pool_stats *st);

/* Writes a human-readable table of hp_pool_stats to `out` (a FILE *). */
HP_API void hp_pool_stats_print(void *out);


/* ==================================================================================
 *  The collector: runtime, threads, types, allocation
 * ==================================================================================
 * A runtime (hp_runtime) owns one garbage-collected heap. Each thread that allocates or
 * touches managed objects is attached to it and gets an hp_thread, passed to every call.
 * Any number of threads may be attached; each allocates from buffers of its own, and a
 * collection stops them all at safe points (hp_safepoint, hp_new's slow path, blocking
 * regions).
 *
 * Objects. hp_new returns a pointer to the object's body; one 8-byte header word sits just
 * before it. The embedder describes each kind of object with an hp_type, registered once.
 * A managed pointer always points to the start of an object's body. Objects move: a young
 * object is copied at a minor collection, so the embedder keeps every managed pointer where
 * the collector can see and update it: in an object field, a shadow-stack frame, or a global
 * root. See doc/embedding.md.
 */

typedef struct hp_runtime hp_runtime;
typedef struct hp_thread hp_thread;
typedef struct hp_config hp_config;

/* A visitor receives the address of one slot holding a managed pointer (or NULL, or a value
 * outside the heap, which is ignored) and may update it. */
typedef void (*hp_visit_fn)(void **slot, void *ctx);
/* Reports every managed pointer slot of obj to visit(slot, ctx). */
typedef void (*hp_trace_fn)(void *obj, hp_visit_fn visit, void *ctx);

enum {
  HP_TYPE_LEAF = 1u << 0,     /* holds no managed pointers: never traced */
  HP_TYPE_ARRAY = 1u << 1,    /* every word of the body from `size` to the end is a slot */
  /* Every word of the body from `size` to the end is a weak slot (a weak-valued table
   * without one object per entry; see "Weak references" below). Not with HP_TYPE_ARRAY. */
  HP_TYPE_WEAK_ARRAY = 1u << 2,
  /* The words of the body from `size` to the end are (key, value) pairs with ephemeron
   * semantics: an ephemeron table (see "Ephemerons" below). Not with the two above. */
  HP_TYPE_EPHEMERON_ARRAY = 1u << 3,
};

/* The description of a kind of object. Fill it in, register it with hp_type_register, and
 * keep it alive (and unchanged) as long as the runtime lives.
 * Slots are found, in this order: the `noffsets` fixed `offsets` (bytes from the body start,
 * multiples of 8), then with HP_TYPE_ARRAY the trailing words, then `trace` if not NULL.
 * Weak slots and ephemeron pairs are declared apart (the fields after `id`, zero by default)
 * and never reported by `offsets` or `trace`. */
typedef struct hp_type {
  const char *name;           /* for diagnostics */
  size_t size;                /* bytes of the fixed part of the body */
  uint32_t flags;             /* HP_TYPE_* */
  uint32_t noffsets;
  const uint32_t *offsets;
  hp_trace_fn trace;
  uint32_t id;                /* set by hp_type_register; 0 before */
  uint32_t nweak;             /* weak slots in the fixed part: byte offsets, multiples of 8 */
  const uint32_t *weak_offsets;
  uint32_t nephemerons;       /* ephemeron pairs in the fixed part: the offset of each key; */
  const uint32_t *ephemeron_offsets;  /* its value is the next word */
} hp_type;

/* Registers type (sets type->id). Returns 0, or -1 with errno = ENOSPC past 65,535 types,
 * EINVAL for a malformed type (offset outside the fixed part or not 8-aligned). */
HP_API int hp_type_register(hp_runtime *rt, hp_type *type);

/* ---- Configuration: every option declared once, see doc/options.md ---- */
/* hp_config.gc_log: one human line per collection, or one JSON object per line (fields in
 * doc/options.md, "The GC log"). */
enum { HP_GC_LOG_OFF = 0, HP_GC_LOG_TEXT = 1, HP_GC_LOG_JSON = 2 };
struct hp_config {
  size_t eden_size;           /* bytes of eden (default 4 MiB); the first size when adaptive */
  bool adaptive_eden;         /* resize eden by its pauses and their cost (true) */
  size_t eden_max_size;       /* ... up to this many bytes (16 MiB) */
  unsigned young_pause_goal_us; /* shrink eden while minor pauses are longer (1000) */
  unsigned minor_cost_percent;  /* grow eden while minors take more of the time (5) */
  unsigned survivor_percent;  /* each survivor space, as % of eden (default 25) */
  unsigned tenure_age;        /* minor collections survived before promotion, 1-15 (6) */
  bool adaptive_tenure;       /* lower the age when survivors fill half their space (true) */
  size_t large_object_size;   /* bodies above this go straight to the old generation (8 KiB) */
  size_t heap_limit;          /* bytes of heap; 0: the pools' whole reservation (0) */
  unsigned major_growth_percent; /* major collection when the old generation has grown to
                                    at most this % of what survived the last one (200);
                                    the growth used adapts to major_gc_percent */
  unsigned major_gc_percent;  /* growth adapts to majors taking this % of the time (5; 0: fixed) */
  size_t major_min_size;      /* ... but not before it holds this many bytes (16 MiB) */
  unsigned stress;            /* collect every N allocations, minor and major in turn (0) */
  unsigned verify;            /* 1: verify the heap after each collection; 2: also before (0) */
  unsigned gc_log;            /* log every collection: HP_GC_LOG_OFF, _TEXT or _JSON (OFF) */
  const char *gc_log_file;    /* the log's file (truncated), NULL: stderr (NULL) */
  bool conservative_stack;    /* scan C stacks and registers conservatively (true) */
  bool finalize_on_destroy;   /* hp_runtime_destroy runs pending finalizers (false: drops) */
  unsigned mark_mode;         /* due major collections: 0 stop the world, 1 incremental, 2 a
                                 marker thread, 3 auto: 2 with several cores, else 1 (3) */
  unsigned stress_finish;     /* stress: finish a marking cycle after M allocations (0) */
  unsigned stop_deadline_ms;  /* a world stop waiting this long reports on stderr the threads
                                 that have not reached a safe point (5000; 0: never) */
  bool stop_deadline_abort;   /* ... and then aborts instead of waiting on (false) */
  unsigned stop_spin_us;      /* world stop: spin this long before sleeping, where a core is
                                 free for it (50) */
};

/* Fills c with the compiled-in defaults. */
HP_API void hp_config_default(hp_config *c);
/* Reads HP_* environment variables into c (HP_EDEN_SIZE=8M, HP_GC_LOG=json, HP_GC_STRESS=N...;
 * sizes take K/M/G suffixes). A bad value is reported on stderr and left unchanged.
 * Returns the number of variables that were rejected. The library never reads the
 * environment unless this is called. */
HP_API int hp_config_from_env(hp_config *c);

/* ---- Threads ---- */
/* Attaches the calling thread to rt; it may then allocate and touch managed objects. Returns
 * NULL with errno = ENOMEM. Waits while a collection runs. A thread attached already (the
 * main thread included) gets its handle again: one handle per thread and runtime, and one
 * more hp_thread_detach to pair with this call. */
HP_API hp_thread *hp_thread_attach(hp_runtime *rt);
/* Undoes one hp_thread_attach of the calling thread; the last one detaches it (its shadow
 * stack must be empty). Its objects live on. A thread that exits attached is detached when
 * it exits (with a warning at HP_DEBUG >= 1). */
HP_API void hp_thread_detach(hp_thread *t);

/* Around a system call or long native work that touches no managed object: a collection
 * does not wait for a thread inside the region (its stack and registers are scanned as they
 * were at hp_blocking_enter). hp_blocking_leave waits while a collection runs. hp_new,
 * hp_write's slow path, hp_collect, hp_pin and hp_safepoint abort inside a region at
 * HP_DEBUG >= 1 (the region sets t->large_object_size to 0 meanwhile, so that hp_new checks). */
HP_API void hp_blocking_enter(hp_thread *t);
HP_API void hp_blocking_leave(hp_thread *t);

/* Makes a runtime; cfg NULL means defaults. NULL with errno on failure (EINVAL: an option out
 * of range, reported on stderr; ENOMEM). The calling thread is attached: hp_main_thread. */
HP_API hp_runtime *hp_runtime_new(const hp_config *cfg);
/* Frees all memory of the runtime. No thread may use it any more; no thread but the caller
 * may be attached (it aborts naming them otherwise). */
HP_API void hp_runtime_destroy(hp_runtime *rt);
/* The thread that created the runtime. */
HP_API hp_thread *hp_main_thread(hp_runtime *rt);
HP_API hp_runtime *hp_thread_runtime(hp_thread *t);

/* Called when an allocation cannot be served even after a full collection. It may free
 * memory the embedder holds (drop caches, unregister roots) and return true to have the
 * allocation tried once more, or return false: hp_new then returns NULL. */
typedef bool (*hp_oom_fn)(hp_runtime *rt, size_t size, void *data);
HP_API void hp_set_oom_handler(hp_runtime *rt, hp_oom_fn fn, void *data);

/* ---- Shadow stack: precise roots in C locals ---- */
/* A frame lists addresses of local variables that hold managed pointers. Frames live on
 * the C stack and are linked through the thread; push on entry, pop (in LIFO order) before
 * returning. The collector reads and updates the locals through these addresses. */
typedef struct hp_frame {
  struct hp_frame *prev;
  size_t count;
  void **const *slots;
} hp_frame;

/* The part of hp_thread that inline fast paths read. Do not write it (but `frames`, through
 * HP_ROOTS and HP_UNROOT). */
struct hp_thread {
  uintptr_t tlab_cur, tlab_end;  /* this thread's allocation buffer in eden */
  size_t large_object_size;
  uintptr_t young_lo;            /* [young_lo, young_lo + young_size): eden and survivors */
  size_t young_size;
  hp_frame *frames;              /* top of the shadow stack */
  int safepoint;                 /* nonzero: a collection waits for this thread */
  int marking;                   /* nonzero: a concurrent major cycle is marking (hp_write) */
};

HP_API void hp_safepoint_slow(hp_thread *t);
/* A safe point: if a collection is waiting for this thread, take part in it (stop, be
 * scanned, resume). Call it at backward branches and calls of an interpreter loop: one
 * load and a branch. Managed pointers in locals must be rooted here, as at hp_new. */
HP_INLINE void hp_safepoint(hp_thread *t) {
  if (HP_UNLIKELY(__atomic_load_n(&t->safepoint, __ATOMIC_RELAXED))) hp_safepoint_slow(t);
}

/* HP_ROOTS(t, name, &a, &b, ...) pushes a frame `name` for the locals a, b, ...;
 * HP_UNROOT(t, name) pops it. */
#define HP_ROOTS(t, name, ...)                                                   \
  void **const name##_slots_[] = { __VA_ARGS__ };                                \
  hp_frame name = { (t)->frames, sizeof(name##_slots_) / sizeof(void **), name##_slots_ }; \
  (t)->frames = &name
#define HP_UNROOT(t, name) ((t)->frames = (name).prev)
/* The address of a local of any pointer type, as a slot for HP_ROOTS. */
#define HP_SLOT(p) ((void **)(void *)&(p))

/* ---- Global roots ---- */
/* Every registration below (hp_root_add, hp_root_range_add, hp_root_callback_add, hp_pin)
 * returns 0, or -1 with errno = ENOMEM when its table cannot grow; it then changes nothing. */
/* Registers the address of a variable that holds a managed pointer (or NULL). */
HP_API int hp_root_add(hp_runtime *rt, void **slot);
/* Unregisters it; returns 0, or -1 (errno = ENOENT) if it was not registered. */
HP_API int hp_root_remove(hp_runtime *rt, void **slot);
/* A range of slots whose base and length the embedder may change at any time between
 * collections (a VM's value stack): the collector reads base and count when it runs. */
typedef struct hp_root_range { void **base; size_t count; } hp_root_range;
HP_API int hp_root_range_add(hp_runtime *rt, hp_root_range *range);
HP_API int hp_root_range_remove(hp_runtime *rt, hp_root_range *range);
/* A callback that reports roots the embedder keeps its own way: it calls visit(slot, ctx)
 * for each. */
typedef void (*hp_roots_fn)(hp_visit_fn visit, void *ctx, void *data);
HP_API int hp_root_callback_add(hp_runtime *rt, hp_roots_fn fn, void *data);
HP_API int hp_root_callback_remove(hp_runtime *rt, hp_roots_fn fn, void *data);

/* ---- Pinning ---- */
/* Fixes obj in place and keeps it alive until the matching hp_unpin: for a buffer handed to
 * foreign code (a read() into a managed byte array). Pins nest. A young object is promoted
 * in place at the next collection; its address never changes. Returns 0 (-1 with EINVAL if
 * obj is not a managed object, ENOMEM if the pin table cannot grow). Objects that a thread's stack or registers point to are
 * pinned the same way, for one collection at a time, when cfg.conservative_stack is on.
 * For an object in another thread's allocation buffer hp_pin stops the world, so it is a
 * safe point -- but one that never moves obj: a collection it waits through pins obj in
 * place first. */
HP_API int hp_pin(hp_thread *t, void *obj);
/* Undoes one hp_pin; returns 0, or -1 with ENOENT if obj is not pinned. */
HP_API int hp_unpin(hp_thread *t, void *obj);

/* ---- Allocation ---- */
HP_API void *hp_new_slow(hp_thread *t, const hp_type *type, size_t size);

/* Allocates an object of `type` whose body is `size` bytes (>= type->size; variable-size
 * objects pass their whole size) and returns its body, zeroed. Returns NULL only when memory
 * is exhausted after a full collection and the out-of-memory handler (see doc/embedding.md).
 * Fast path: a bump in the thread's buffer, two compares, one header store. Bodies above
 * large_object_size go to the old generation and never move. */
HP_INLINE void *hp_new(hp_thread *t, const hp_type *type, size_t size) {
  size_t bytes = (size + 15) & ~(size_t)7;          /* header + body, in whole words */
  uintptr_t p = t->tlab_cur;
  if (HP_LIKELY(size <= t->large_object_size && bytes <= t->tlab_end - p)) {
    t->tlab_cur = p + bytes;
    *(uint64_t *)p = ((uint64_t)(bytes >> 3) << 24) | ((uint64_t)type->id << 8);
    return (void *)(p + 8);
  }
  return hp_new_slow(t, type, size);
}
#define HP_NEW(t, type) hp_new((t), (type), (type)->size)

/* The body size of an object, as passed to hp_new rounded up to 8. */
HP_API size_t hp_size(const void *obj);
/* The type of an object. */
HP_API const hp_type *hp_type_of(hp_runtime *rt, const void *obj);

/* ---- The write barrier ---- */
HP_API void hp_write_slow(hp_thread *t, void *obj, void *slot);
HP_API void hp_write_marking(hp_thread *t, void *obj, void *slot, void *value);

/* Stores `value` into the slot `slot` of the managed object `obj`. Every store of a managed
 * pointer into a managed object goes through it, except a store into an object allocated
 * since the last safe point at which a collection could run (an object still in eden with no
 * collection in between: e.g. initialising a fresh object). It records old-to-young pointers
 * (the object, once per collection cycle) so that a minor collection finds them, and while a
 * concurrent major cycle marks, the value it overwrites (snapshot at the beginning).
 * Fast path: one load and a branch (not marking), the store, two range compares. A JIT
 * emits the same: see "The write barrier for a JIT" below. */
HP_INLINE void hp_write(hp_thread *t, void *obj, void *slot, void *value) {
  if (HP_UNLIKELY(__atomic_load_n(&t->marking, __ATOMIC_RELAXED))) {
    hp_write_marking(t, obj, slot, value);
    return;
  }
  __atomic_store_n((void **)slot, value, __ATOMIC_RELEASE);
  if (HP_UNLIKELY((uintptr_t)value - t->young_lo < t->young_size &&
                  (uintptr_t)obj - t->young_lo >= t->young_size))
    hp_write_slow(t, obj, slot);
}

/* ---- Collections ---- */
typedef enum hp_gc_kind { HP_GC_MINOR = 0, HP_GC_MAJOR = 1 } hp_gc_kind;
/* Runs a collection now. Returns 0. */
HP_API int hp_collect(hp_thread *t, hp_gc_kind kind);

/* Statistics: see struct hp_gc_stats in <hp-stats.h>. */
HP_API void hp_gc_stats(hp_runtime *rt, struct hp_gc_stats *st);
/* p in [0,1]: the pause (ns) at that quantile of a kind's pauses, from the histogram. */
HP_API uint64_t hp_gc_pause_quantile(const struct hp_gc_pause_stats *p, double q);
HP_API void hp_gc_stats_print(hp_runtime *rt, void *out);

/* An event at the start and the end of every collection. */
typedef struct hp_gc_event {
  hp_gc_kind kind;
  bool end;                   /* false: about to start; true: finished */
  uint64_t number;            /* collections of this kind so far, this one included */
  uint64_t pause_ns;          /* at end */
  uint64_t heap_before, heap_after;  /* bytes in use */
  uint64_t promoted, copied;  /* bytes, at end */
} hp_gc_event;
typedef void (*hp_gc_event_fn)(hp_runtime *rt, const hp_gc_event *ev, void *data);
HP_API void hp_set_gc_event_handler(hp_runtime *rt, hp_gc_event_fn fn, void *data);

/* What a JIT needs to emit hp_new's and hp_write's fast paths itself: the offsets of the
 * hp_thread fields above are public, and the header word is
 *   (total_words << 24) | (type_id << 8)      total_words = (body_bytes + 15) / 8 rounded down
 * (see doc/design.md, "Header word").
 *
 * The write barrier for a JIT (hp_barrier_info): for a store of `value` into slot `slot` of
 * object `obj` by thread t, emit exactly
 *   1. load the 32-bit int at t + offsetof(hp_thread, marking); if nonzero, call
 *      hp_write_marking(t, obj, slot, value) and skip steps 2-3 (it stores);
 *   2. store value to slot: a plain store on x86-64 (release order: on weakly ordered
 *      machines a store-release, e.g. stlr on AArch64);
 *   3. if (value - young_lo) < young_size and (obj - young_lo) >= young_size (unsigned,
 *      fields young_lo and young_size of hp_thread), call hp_write_slow(t, obj, slot).
 * The marking flag changes only while the thread is stopped at a safe point, so it may be
 * kept in a register between safe points, but not across one. */

/* ---- Weak references ----
 * A weak slot holds a managed pointer (or NULL) that does not keep its object alive: after
 * the collection that finds the object unreachable (a minor one for a young object) the slot
 * reads NULL; while the object lives the slot follows its moves. Stores into a weak slot of
 * an existing object go through hp_write, like any other. Pinned objects do not move: a weak
 * slot to one stays as it is while it lives. Two forms: an hp_weak object (one weak slot),
 * and weak slots declared in a type (weak_offsets, HP_TYPE_WEAK_ARRAY). */
/* A new weak reference to target (NULL allowed); NULL when memory is exhausted. */
HP_API void *hp_weak_new(hp_thread *t, void *target);
/* Its target, or NULL once the target has been collected. A load: no lock, no barrier. */
HP_INLINE void *hp_weak_get(hp_thread *t, const void *w) { (void)t; return *(void *const *)w; }
HP_API void hp_weak_set(hp_thread *t, void *w, void *target);

/* ---- Ephemerons ----
 * An ephemeron pair (key, value): the value is kept alive by the pair only while the key is
 * reachable otherwise (not through values of ephemerons whose keys are not); once the key is
 * unreachable both fields read NULL. Chains and cycles resolve: the cost is linear in the
 * pairs and the live objects. A key that is NULL or not a managed pointer counts as live (the
 * value is held strongly). An ephemeron table is an object of a type with
 * HP_TYPE_EPHEMERON_ARRAY: its trailing words are pairs (an open-addressing weak-keyed table
 * needs no object per entry). Stores go through hp_write. */
HP_API void *hp_ephemeron_new(hp_thread *t, void *key, void *value);
HP_INLINE void *hp_ephemeron_key(hp_thread *t, const void *e) { (void)t; return ((void *const *)e)[0]; }
HP_INLINE void *hp_ephemeron_value(hp_thread *t, const void *e) { (void)t; return ((void *const *)e)[1]; }

/* ---- Finalizers ----
 * hp_finalizer_register arranges for fn(t, obj, data) to run once obj is unreachable: the
 * collection that finds it so (a minor one for a young object) clears the weak slots and the
 * ephemerons whose key it is, keeps obj and everything it references alive, and queues the
 * finalizer. Finalizers run only when the embedder calls hp_finalizers_run, never inside a
 * collection. obj is valid while fn runs (root it across an allocation, as any pointer);
 * storing it somewhere reachable resurrects it for good: it is not finalized again unless
 * registered again. Each registration runs at most once. At hp_runtime_destroy the queued
 * and still registered finalizers are dropped, or run with cfg.finalize_on_destroy. */
typedef void (*hp_finalizer_fn)(hp_thread *t, void *obj, void *data);
/* Returns 0, or -1 with errno = EINVAL (obj NULL or fn NULL), ENOMEM. */
HP_API int hp_finalizer_register(hp_thread *t, void *obj, hp_finalizer_fn fn, void *data);
/* Runs up to max queued finalizers (0: all, including those queued while they run) on the
 * calling thread, in the order they were queued; returns how many ran. Any attached thread,
 * any number at once. A finalizer must return (not longjmp out): they are taken off the queue
 * 32 at a time. */
HP_API size_t hp_finalizers_run(hp_thread *t, size_t max);
/* The number of finalizers queued and not yet run: a cheap poll for a safe point. */
HP_API size_t hp_finalizers_pending(hp_runtime *rt);

/* ---- Heap checking ---- */
/* Walks the whole heap and checks every invariant (doc/design.md); aborts with a message on
 * the first violation. Returns the number of objects checked. */
HP_API size_t hp_verify_heap(hp_runtime *rt);

#ifdef __cplusplus
}
#endif
#endif /* HP_H */
