/* examples/lox/lxgc.h -- the memory layer of hplox: allocation, roots, barrier, safe points.
 *
 * The VM is written once against this interface; it has two implementations, chosen when
 * the program is built:
 *   LOX_GC_HP     (gc-hp.c, hplox)          hp: precise, moving, generational. Types are
 *                 hp_types, the value stack is a root range, stores go through hp_write, C
 *                 locals that hold objects across an allocation are in shadow-stack frames.
 *   LOX_GC_BOEHM  (gc-boehm.c, hplox-boehm) Boehm GC in its default mode: conservative,
 *                 non-moving, no barrier; frames and ranges compile to nothing, the root
 *                 arrays are allocated uncollectable (scanned), globals in .bss are scanned.
 * What the VM may assume of both (and what it must do for hp):
 *   - lx_alloc returns a zeroed body, or exits with "out of memory"; any object may move at
 *     any lx_alloc, lx_safepoint_slow or lx_collect (hp) -- so every object pointer held in a
 *     C local across one of them is in an LX_ROOTS frame or is reloaded from a root;
 *   - every store of a Value or object pointer into an object goes through lx_write, except
 *     the initialising stores into a small object allocated since the last allocation (an
 *     array above hp's large_object_size, 8 KiB, is born old: copying into it takes the
 *     barrier too);
 *   - a Value is a valid slot word for hp as it is (see value encoding in lox.h).
 */
#ifndef LOX_LXGC_H
#define LOX_LXGC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { LX_LEAF = 1u << 0, LX_ARRAY = 1u << 1, LX_WEAK_ARRAY = 1u << 2 };   /* = HP_TYPE_* */

/* What --gc-stats and gcStats() report, the same fields for both collectors. */
typedef struct lx_gc_summary {
  uint64_t collections, minor, major;
  uint64_t gc_ns, max_pause_ns, p99_pause_ns, total_ns;
  uint64_t bytes_allocated, heap_bytes;
  uint64_t peak_heap;               /* hp: the most bytes in use seen at a collection's start or
                                       end; Boehm: its heap size (which hardly ever shrinks) */
} lx_gc_summary;

#if defined(LOX_GC_HP)
#include <hp.h>

/* hp has weak array slots (HP_TYPE_WEAK_ARRAY) since its statistics' version 2: the string
 * table is then weak (strtab.c). Decided here, from the header, so that the program always
 * matches the hp it is compiled against. */
#if HP_GC_STATS_VERSION >= 2
#define LOX_WEAK_STRINGS 1
#endif

typedef hp_type lx_type;
#define LX_TYPE(nm, sz, fl, offs) \
  { .name = (nm), .size = (sz), .flags = (fl), .noffsets = sizeof(offs) / sizeof(uint32_t), .offsets = (offs) }
#define LX_TYPE_PLAIN(nm, sz, fl) { .name = (nm), .size = (sz), .flags = (fl) }
typedef hp_root_range lx_range;

extern hp_thread *lx_thread;
void lx_out_of_memory(size_t size);

/* Allocates `size` bytes (>= t->size) of type t, zeroed. May collect. */
static inline void *lx_alloc(lx_type *t, size_t size) {
  void *p = hp_new(lx_thread, t, size);
  if (HP_UNLIKELY(p == NULL)) lx_out_of_memory(size);
  return p;
}
/* Stores v (a Value or object pointer) into slot of obj: hp's barrier (store + two compares). */
#define lx_write(obj, slot, v) hp_write(lx_thread, (obj), (void *)(slot), (void *)(uintptr_t)(v))
#define LX_ROOTS(name, ...) HP_ROOTS(lx_thread, name, __VA_ARGS__)
#define LX_UNROOT(name) HP_UNROOT(lx_thread, name)
#define LX_SLOT(p) HP_SLOT(p)
/* One load and a branch: whether a collection waits for this thread. */
static inline bool lx_safepoint_pending(void) {
  return HP_UNLIKELY(__atomic_load_n(&lx_thread->safepoint, __ATOMIC_RELAXED) != 0);
}
static inline void lx_safepoint_slow(void) { hp_safepoint_slow(lx_thread); }

#elif defined(LOX_GC_BOEHM)

typedef struct lx_type { const char *name; size_t size; uint32_t flags; const uint32_t *offsets; } lx_type;
#define LX_TYPE(nm, sz, fl, offs) { .name = (nm), .size = (sz), .flags = (fl), .offsets = (offs) }
#define LX_TYPE_PLAIN(nm, sz, fl) { .name = (nm), .size = (sz), .flags = (fl) }
typedef struct lx_range { void **base; size_t count; } lx_range;

void *lx_alloc_boehm(lx_type *t, size_t size);
static inline void *lx_alloc(lx_type *t, size_t size) { return lx_alloc_boehm(t, size); }
static inline void lx_store_word(void *slot, uint64_t v) { memcpy(slot, &v, sizeof v); }
#define lx_write(obj, slot, v) ((void)(obj), lx_store_word((slot), (uint64_t)(uintptr_t)(v)))
#define LX_ROOTS(name, ...) ((void)0)
#define LX_UNROOT(name) ((void)0)
#define LX_SLOT(p) ((void **)(void *)&(p))
static inline bool lx_safepoint_pending(void) { return false; }
static inline void lx_safepoint_slow(void) {}

#else
#error "define LOX_GC_HP or LOX_GC_BOEHM"
#endif

/* Sets up the collector (options from HP_* for hp; conservative stack scanning off unless
 * HP_CONSERVATIVE=1) and registers the types. Exits on failure. */
void lx_init(lx_type **types, size_t ntypes);
void lx_shutdown(void);
/* Memory for root arrays (the value stack, the frames' closures): not collected, scanned
 * through lx_range_add (hp) or as a whole (Boehm). Zeroed. */
void *lx_alloc_roots(size_t bytes);
void lx_range_add(lx_range *r);
/* A global variable holding an object pointer or a Value. */
void lx_root_add(void *slot);
/* A full collection now. */
void lx_collect(void);
void lx_summary(lx_gc_summary *s);
/* The collector's own statistics table, then one `gc-summary:` line of lx_gc_summary. */
void lx_stats_print(FILE *out);
const char *lx_gc_name(void);

#endif
