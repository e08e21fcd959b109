/* tools/fuzz/fuzz-hp.c -- a fuzz harness for the pools and the collector, through <hp.h> only.
 *
 * One input (a byte string) is one program: the first bytes choose a configuration, every
 * following op byte (with its argument bytes) one call -- allocate an object into a root,
 * store a pointer with hp_write, copy and drop roots, register and unregister a global root,
 * shrink the root range, pin and unpin, collect, allocate and free pools blocks, misuse the
 * API in the ways that must fail with an errno -- and a model beside it says what must be
 * live and what each object holds. After every collection and at the end, everything the
 * model calls reachable (from the roots of every kind and from the pins) is walked and
 * checked: each object's id, checksum and size, each slot's target, one address per object
 * (sharing and cycles kept), pinned objects at their address; after a major collection
 * hp_verify_heap must count exactly the model's live objects. Every live pools block keeps a
 * pattern that is checked before it is freed and at each check. Any difference aborts
 * with a message naming the op and the object.
 *
 * Two ways to run it:
 *   - with libFuzzer (clang -fsanitize=fuzzer,address,undefined; `bash tools/hp-dev fuzz`):
 *     this file provides LLVMFuzzerTestOneInput, libFuzzer the main and the coverage;
 *   - without (any compiler; the meson test `fuzz-hp` of the ASan+UBSan build): a small
 *     driver of its own below generates random inputs and mutations of earlier ones (no
 *     coverage feedback) for a given time:
 *         fuzz-hp [-seconds N] [-seed S] [FILE...]
 *     FILEs are run once each (to replay a crash); on a failure the input is written to
 *     fuzz-hp-crash-<pid> in the current directory before the abort.
 * conservative_stack is off: the model is exact only for precise roots.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <hp.h>

/* ------------------------------------------------------------------------------------
 *  Objects and their model
 * ------------------------------------------------------------------------------------
 * "obj": a fixed part { id, check = mix(id) } and then nslots pointer slots (HP_TYPE_ARRAY).
 * "blob": a leaf of nwords words, word i = mix(id + i) (0 words: a zero-size object).
 * Model objects are numbered from 1; 0 is NULL. */

typedef struct obj { uint64_t id, check; void *slot[]; } obj;
static hp_type obj_type = { .name = "fuzz-obj", .size = sizeof(obj), .flags = HP_TYPE_ARRAY };
static hp_type blob_type = { .name = "fuzz-blob", .size = 0, .flags = HP_TYPE_LEAF };

static uint64_t mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

typedef struct mobj {
  bool blob;
  uint32_t n;             /* slots, or blob words */
  uint32_t *to;           /* model targets of the slots */
  uint64_t seen;          /* check epoch in which it was reached ... */
  void *addr;             /* ... and at which address */
} mobj;

enum { NROOTS = 16, NRANGE = 8, NCALLBACK = 4, NFRAME = 4, NGLOBALS = 4, NPINS = 16, NBLOCKS = 32 };

typedef struct fuzz {
  const uint8_t *in;
  size_t len, pos, op;
  hp_runtime *rt;
  hp_thread *t;
  mobj *objs;
  size_t nobjs, cap;
  /* roots[0..8): the range, [8..12): the callback's, [12..16): the harness's frame */
  void **roots;
  uint32_t mroots[NROOTS];
  hp_root_range range;
  void *globals[NGLOBALS];
  uint32_t mglobals[NGLOBALS];
  bool global_on[NGLOBALS];
  struct { void *addr; uint32_t m; } pins[NPINS];
  size_t npins;
  struct { unsigned char *p; size_t size; uint8_t seed; } blocks[NBLOCKS];
  uint64_t epoch;
  size_t live;
} fuzz;

static fuzz *cur;                             /* for the failure message */

static _Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz-hp: op %zu (byte %zu of %zu): ", cur ? cur->op : 0, cur ? cur->pos : 0, cur ? cur->len : 0);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

static uint8_t next(fuzz *f) { return f->pos < f->len ? f->in[f->pos++] : 0; }
static uint16_t next16(fuzz *f) { return (uint16_t)(next(f) | (unsigned)next(f) << 8); }

static uint32_t model_new(fuzz *f, bool blob, uint32_t n) {
  if (f->nobjs + 1 >= f->cap) {
    f->cap = f->cap ? 2 * f->cap : 256;
    f->objs = realloc(f->objs, f->cap * sizeof *f->objs);
    if (f->objs == NULL) fail("out of memory (model)");
  }
  uint32_t m = (uint32_t)++f->nobjs;
  f->objs[m] = (mobj){ .blob = blob, .n = n, .to = blob ? NULL : calloc(n ? n : 1, sizeof(uint32_t)) };
  if (!blob && f->objs[m].to == NULL) fail("out of memory (model)");
  return m;
}

/* ------------------------------------------------------------------------------------
 *  Checking
 * ------------------------------------------------------------------------------------ */

static void check_obj(fuzz *f, void *p, uint32_t m, const char *where);

static void check_ptr(fuzz *f, void *p, uint32_t m, const char *where) {
  if (m == 0) {
    if (p != NULL) fail("%s holds %p where the model has NULL", where, p);
    return;
  }
  if (p == NULL) fail("%s is NULL where the model has object %u", where, m);
  check_obj(f, p, m, where);
}

/* Iterative over the slots of obj objects (deep chains must not overflow the stack). */
static void check_obj(fuzz *f, void *p, uint32_t m, const char *where) {
  typedef struct { void *p; uint32_t m; } item;
  size_t cap = 64, n = 0;
  item *stack = malloc(cap * sizeof *stack);
  if (stack == NULL) fail("out of memory (check)");
  stack[n++] = (item){ p, m };
  while (n > 0) {
    item it = stack[--n];
    mobj *o = &f->objs[it.m];
    if (o->seen == f->epoch) {
      if (o->addr != it.p)
        fail("object %u reached at %p and at %p (from %s): one object, two addresses", it.m, o->addr, it.p, where);
      continue;
    }
    o->seen = f->epoch;
    o->addr = it.p;
    f->live++;
    if (o->blob) {
      if (hp_size(it.p) != (size_t)o->n * 8 || hp_type_of(f->rt, it.p) != &blob_type)
        fail("blob %u at %p: size %zu, type %p (model: %u words)", it.m, it.p, hp_size(it.p),
             (const void *)hp_type_of(f->rt, it.p), o->n);
      const uint64_t *w = it.p;
      for (uint32_t i = 0; i < o->n; i++)
        if (w[i] != mix(it.m * 65536ull + i)) fail("blob %u at %p: word %u is %#llx", it.m, it.p, i, (unsigned long long)w[i]);
      continue;
    }
    obj *x = it.p;
    if (hp_type_of(f->rt, x) != &obj_type || hp_size(x) != sizeof(obj) + (size_t)o->n * 8)
      fail("object %u at %p: type %p, size %zu (model: %u slots)", it.m, it.p, (const void *)hp_type_of(f->rt, x),
           hp_size(x), o->n);
    if (x->id != it.m || x->check != mix(it.m))
      fail("object %u at %p holds id %llu check %#llx", it.m, it.p, (unsigned long long)x->id, (unsigned long long)x->check);
    for (uint32_t i = 0; i < o->n; i++) {
      uint32_t to = o->to[i];
      if (to == 0) {
        if (x->slot[i] != NULL) fail("object %u slot %u holds %p, model NULL", it.m, i, x->slot[i]);
        continue;
      }
      if (x->slot[i] == NULL) fail("object %u slot %u is NULL, model object %u", it.m, i, to);
      if (n == cap) {
        cap *= 2;
        stack = realloc(stack, cap * sizeof *stack);
        if (stack == NULL) fail("out of memory (check)");
      }
      stack[n++] = (item){ x->slot[i], to };
    }
  }
  free(stack);
}

/* A pools block holds seed + offset in its first and last 128 bytes. */
static size_t pattern_at(size_t size, size_t k) { return k < 128 || size <= 256 ? k : size - 256 + k; }

static void check_blocks(fuzz *f) {
  for (size_t i = 0; i < NBLOCKS; i++) {
    unsigned char *p = f->blocks[i].p;
    if (p == NULL) continue;
    size_t size = f->blocks[i].size;
    for (size_t k = 0; k < size && k < 256; k++) {
      size_t at = pattern_at(size, k);
      if (p[at] != (uint8_t)(f->blocks[i].seed + at))
        fail("pools block %zu (%p, %zu bytes) was overwritten at %zu", i, (void *)p, size, at);
    }
  }
}

/* Everything the model calls reachable is where it should be; returns the live count. */
static size_t check_all(fuzz *f) {
  f->epoch++;
  f->live = 0;
  char where[64];
  for (unsigned i = 0; i < NROOTS; i++) {
    snprintf(where, sizeof where, "root %u", i);
    check_ptr(f, f->roots[i], f->mroots[i], where);
  }
  for (unsigned i = 0; i < NGLOBALS; i++) {
    snprintf(where, sizeof where, "global %u", i);
    check_ptr(f, f->globals[i], f->mglobals[i], where);
  }
  for (size_t i = 0; i < f->npins; i++) {
    snprintf(where, sizeof where, "pin %zu", i);
    check_ptr(f, f->pins[i].addr, f->pins[i].m, where);
  }
  check_blocks(f);
  return f->live;
}

/* ------------------------------------------------------------------------------------
 *  Ops
 * ------------------------------------------------------------------------------------ */

static void callback_roots(hp_visit_fn visit, void *ctx, void *data) {
  void **slots = data;
  for (unsigned i = 0; i < NCALLBACK; i++) visit(&slots[i], ctx);
}

static size_t obj_slots(fuzz *f) {
  uint8_t b = next(f);
  if (b == 255) return 1024 + next16(f) % 9000;   /* old at once (> large_object_size), some carded */
  return b % 12;
}

static void collect(fuzz *f, hp_gc_kind kind) {
  hp_collect(f->t, kind);
  size_t live = check_all(f);
  if (kind == HP_GC_MAJOR) {
    size_t n = hp_verify_heap(f->rt);
    if (n != live) fail("after a major collection hp_verify_heap counts %zu objects, the model %zu live", n, live);
  }
}

static void pool_free_block(fuzz *f, size_t i) {
  if (f->blocks[i].p == NULL) return;
  check_blocks(f);
  hp_pool_free(f->blocks[i].p);
  f->blocks[i].p = NULL;
}

static void pool_alloc_block(fuzz *f, size_t i, size_t size, size_t align) {
  pool_free_block(f, i);
  unsigned char *p = align ? hp_pool_alloc_aligned(size, align) : hp_pool_alloc(size);
  if (p == NULL) fail("hp_pool_alloc(%zu, align %zu) failed: errno %d", size, align, errno);
  if (align && ((uintptr_t)p & (align - 1))) fail("hp_pool_alloc_aligned(%zu, %zu) = %p", size, align, (void *)p);
  if (((uintptr_t)p & 15) != 0) fail("hp_pool_alloc(%zu) = %p is not 16-byte aligned", size, (void *)p);
  if (hp_pool_usable_size(p) < size) fail("hp_pool_usable_size(%p) = %zu < %zu", (void *)p, hp_pool_usable_size(p), size);
  uint8_t seed = next(f);
  for (size_t k = 0; k < size && k < 256; k++) p[pattern_at(size, k)] = (uint8_t)(seed + pattern_at(size, k));
  f->blocks[i].p = p;
  f->blocks[i].size = size;
  f->blocks[i].seed = seed;
}

/* Root slots past the range's count are no roots: an op's target is moved to the callback's
 * and the frame's slots instead. */
static unsigned live_root(const fuzz *f, unsigned i) {
  return i < NRANGE && i >= f->range.count ? NRANGE + i % (NROOTS - NRANGE) : i;
}

static void run(fuzz *f) {
  f->op = 0;
  for (; f->pos < f->len; f->op++) {
    uint8_t op = next(f);
    unsigned a = live_root(f, next(f) % NROOTS), b;
    switch (op % 20) {
      case 0: case 1: case 2: {                          /* allocate an obj into root a */
        size_t n = obj_slots(f);
        obj *x = hp_new(f->t, &obj_type, sizeof(obj) + n * 8);
        if (x == NULL) fail("hp_new(obj, %zu slots) returned NULL", n);
        uint32_t m = model_new(f, false, (uint32_t)n);
        for (size_t i = 0; i < n; i++)
          if (x->slot[i] != NULL) fail("a new object's slot %zu is %p, not zeroed", i, x->slot[i]);
        x->id = m;
        x->check = mix(m);
        f->roots[a] = x;
        f->mroots[a] = m;
        break;
      }
      case 3: {                                           /* allocate a blob into root a */
        uint8_t s = next(f);
        size_t words = s == 255 ? 1200 + next16(f) % 2000 : s % 40;
        uint64_t *w = hp_new(f->t, &blob_type, words * 8);
        if (w == NULL) fail("hp_new(blob, %zu words) returned NULL", words);
        uint32_t m = model_new(f, true, (uint32_t)words);
        for (size_t i = 0; i < words; i++) {
          if (w[i] != 0) fail("a new blob's word %zu is not zeroed", i);
          w[i] = mix(m * 65536ull + i);
        }
        f->roots[a] = w;
        f->mroots[a] = m;
        break;
      }
      case 4: case 5: case 6: {                           /* roots[a]->slot[k] = roots[b] */
        b = next(f) % NROOTS;
        uint8_t k = next(f);
        uint32_t m = f->mroots[a];
        if (m == 0 || f->objs[m].blob || f->objs[m].n == 0) break;
        uint32_t i = k % f->objs[m].n;
        obj *x = f->roots[a];
        hp_write(f->t, x, &x->slot[i], f->roots[b]);
        f->objs[m].to[i] = f->mroots[b];
        break;
      }
      case 7: {                                           /* roots[a] = roots[a]->slot[k] */
        uint8_t k = next(f);
        uint32_t m = f->mroots[a];
        if (m == 0 || f->objs[m].blob || f->objs[m].n == 0) break;
        uint32_t i = k % f->objs[m].n;
        f->roots[a] = ((obj *)f->roots[a])->slot[i];
        f->mroots[a] = f->objs[m].to[i];
        break;
      }
      case 8:                                             /* copy, drop a root */
        b = next(f) % NROOTS;
        f->roots[a] = f->roots[b];
        f->mroots[a] = f->mroots[b];
        break;
      case 9:
        f->roots[a] = NULL;
        f->mroots[a] = 0;
        break;
      case 10: {                                          /* global roots */
        unsigned g = a % NGLOBALS;
        b = next(f) % NROOTS;
        if (!f->global_on[g]) {
          if (hp_root_add(f->rt, &f->globals[g]) != 0) fail("hp_root_add: errno %d", errno);
          f->global_on[g] = true;
        }
        f->globals[g] = f->roots[b];
        f->mglobals[g] = f->mroots[b];
        break;
      }
      case 11: {
        unsigned g = a % NGLOBALS;
        b = next(f) % NROOTS;
        b = live_root(f, b);
        if (f->global_on[g] && (next(f) & 1)) {           /* load it into a root */
          f->roots[b] = f->globals[g];
          f->mroots[b] = f->mglobals[g];
        } else if (f->global_on[g]) {                     /* unregister: the variable is dead */
          if (hp_root_remove(f->rt, &f->globals[g]) != 0) fail("hp_root_remove: errno %d", errno);
          f->global_on[g] = false;
          f->globals[g] = NULL;
          f->mglobals[g] = 0;
        } else {
          errno = 0;
          if (hp_root_remove(f->rt, &f->globals[g]) != -1 || errno != ENOENT)
            fail("hp_root_remove of an unregistered slot: not ENOENT (errno %d)", errno);
        }
        break;
      }
      case 12: {                                          /* shrink or grow the range */
        size_t n = a % (NRANGE + 1);
        for (size_t i = n; i < NRANGE; i++) { f->roots[i] = NULL; f->mroots[i] = 0; }
        f->range.count = n;
        break;
      }
      case 13: {                                          /* pin roots[a] */
        if (f->mroots[a] == 0 || f->npins == NPINS) break;
        if (hp_pin(f->t, f->roots[a]) != 0) fail("hp_pin(object %u at %p): errno %d", f->mroots[a], f->roots[a], errno);
        f->pins[f->npins].addr = f->roots[a];
        f->pins[f->npins].m = f->mroots[a];
        f->npins++;
        break;
      }
      case 14: {                                          /* unpin one */
        if (f->npins == 0) {
          errno = 0;
          if (f->mroots[a] != 0 && (hp_unpin(f->t, f->roots[a]) != -1 || errno != ENOENT))
            fail("hp_unpin of an object never pinned: not ENOENT (errno %d)", errno);
          break;
        }
        size_t i = a % f->npins;
        if (hp_unpin(f->t, f->pins[i].addr) != 0) fail("hp_unpin(%p): errno %d", f->pins[i].addr, errno);
        f->pins[i] = f->pins[--f->npins];
        break;
      }
      case 15: {                                          /* what hp_pin must refuse */
        uint32_t m = f->mroots[a];
        void *bad = NULL;
        switch (next(f) % 3) {
          case 0:                                         /* inside an object (not its end) */
            if (m != 0 && (!f->objs[m].blob || f->objs[m].n >= 2)) bad = (char *)f->roots[a] + 8;
            break;
          case 1: bad = f->blocks[a % NBLOCKS].p; break;  /* a pools block */
          case 2: bad = &f->range; break;                 /* static memory */
        }
        if (bad == NULL) break;
        errno = 0;
        if (hp_pin(f->t, bad) != -1 || errno != EINVAL) fail("hp_pin(%p, a non-object) accepted (errno %d)", bad, errno);
        break;
      }
      case 16: collect(f, HP_GC_MINOR); break;
      case 17: if ((next(f) & 7) == 0) collect(f, HP_GC_MAJOR); else collect(f, HP_GC_MINOR); break;
      case 18: {                                          /* pools */
        uint8_t s = next(f);
        size_t size = s < 128 ? s : s < 192 ? (size_t)(s - 127) * 128 : s < 250 ? (size_t)(s - 191) * 2048
                                                                               : 65536 + (size_t)next16(f) * 8;
        size_t align = (next(f) & 3) == 0 ? (size_t)16 << (next(f) % 10) : 0;
        pool_alloc_block(f, a + (op & 16), size, align);
        break;
      }
      case 19: pool_free_block(f, (a + (op & 16)) % NBLOCKS); break;
    }
  }
}

static void fuzz_one(const uint8_t *data, size_t size) {
  fuzz f = { .in = data, .len = size };
  cur = &f;
  hp_config c;
  hp_config_default(&c);
  uint8_t c0 = next(&f), c1 = next(&f);
  c.eden_size = (size_t)256 << 10 << (c0 % 3);
  c.large_object_size = 8 << 10;
  c.tenure_age = 1 + (c0 >> 2) % 15;
  c.adaptive_tenure = (c0 >> 6) & 1;
  c.survivor_percent = 10 + c1 % 40;
  c.stress = (c1 & 0x80) ? 1 + (c1 >> 2) % 31 : 0;
  c.verify = c.stress ? 1 : 0;
  c.conservative_stack = false;
  f.rt = hp_runtime_new(&c);
  if (f.rt == NULL) fail("hp_runtime_new: errno %d", errno);
  f.t = hp_main_thread(f.rt);
  if (hp_type_register(f.rt, &obj_type) != 0 || hp_type_register(f.rt, &blob_type) != 0) fail("hp_type_register");
  void *roots[NROOTS] = { 0 };
  f.roots = roots;
  f.range = (hp_root_range){ roots, NRANGE };
  if (hp_root_range_add(f.rt, &f.range) != 0) fail("hp_root_range_add");
  if (hp_root_callback_add(f.rt, callback_roots, roots + NRANGE) != 0) fail("hp_root_callback_add");
  HP_ROOTS(f.t, frame, &roots[12], &roots[13], &roots[14], &roots[15]);
  run(&f);
  collect(&f, HP_GC_MINOR);
  collect(&f, HP_GC_MAJOR);
  /* Everything dropped: nothing is left but what the pins hold. */
  for (unsigned i = 0; i < NROOTS; i++) { roots[i] = NULL; f.mroots[i] = 0; }
  for (unsigned i = 0; i < NGLOBALS; i++) { f.globals[i] = NULL; f.mglobals[i] = 0; }
  collect(&f, HP_GC_MAJOR);
  while (f.npins > 0) {
    f.npins--;
    if (hp_unpin(f.t, f.pins[f.npins].addr) != 0) fail("hp_unpin at the end: errno %d", errno);
  }
  collect(&f, HP_GC_MAJOR);
  if (hp_verify_heap(f.rt) != 0) fail("objects left after everything was dropped");
  HP_UNROOT(f.t, frame);
  for (unsigned i = 0; i < NGLOBALS; i++)
    if (f.global_on[i]) hp_root_remove(f.rt, &f.globals[i]);
  for (size_t i = 0; i < NBLOCKS; i++) pool_free_block(&f, i);
  hp_runtime_destroy(f.rt);
  for (size_t i = 1; i <= f.nobjs; i++) free(f.objs[i].to);
  free(f.objs);
  cur = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_one(data, size);
  return 0;
}

/* ------------------------------------------------------------------------------------
 *  The driver of its own (without libFuzzer)
 * ------------------------------------------------------------------------------------ */
#ifndef HP_FUZZ_LIBFUZZER

static const uint8_t *crash_data;
static size_t crash_len;

static void on_abort(int sig) {
  char name[64];
  snprintf(name, sizeof name, "fuzz-hp-crash-%d", (int)getpid());
  int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    if (write(fd, crash_data, crash_len) < 0) {}
    close(fd);
    static const char msg[] = "fuzz-hp: the input is in ";
    if (write(2, msg, sizeof msg - 1) < 0 || write(2, name, strlen(name)) < 0 || write(2, "\n", 1) < 0) {}
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

static uint64_t rng;
static uint64_t rnd(void) { return mix(rng++); }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { POOL = 64, MAXLEN = 4096 };

int main(int argc, char **argv) {
  double seconds = 10;
  uint64_t seed = 1;
  int files = 0;
  signal(SIGABRT, on_abort);
  signal(SIGSEGV, on_abort);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
    else if (strcmp(argv[i], "-seed") == 0 && i + 1 < argc) seed = strtoull(argv[++i], NULL, 0);
    else {
      FILE *fp = fopen(argv[i], "rb");
      if (fp == NULL) { perror(argv[i]); return 2; }
      static uint8_t buf[1 << 20];
      size_t n = fread(buf, 1, sizeof buf, fp);
      fclose(fp);
      crash_data = buf;
      crash_len = n;
      fuzz_one(buf, n);
      printf("fuzz-hp: %s: ok\n", argv[i]);
      files++;
    }
  }
  if (files) return 0;
  rng = seed;
  static uint8_t pool[POOL][MAXLEN];
  static size_t pool_len[POOL];
  size_t npool = 0;
  static uint8_t in[MAXLEN];
  uint64_t execs = 0, bytes = 0;
  double t0 = now();
  while (now() - t0 < seconds) {
    size_t len;
    if (npool == 0 || rnd() % 4 == 0) {                 /* a fresh random program */
      len = 2 + rnd() % (rnd() % 8 == 0 ? MAXLEN - 2 : 512);
      for (size_t i = 0; i < len; i++) in[i] = (uint8_t)rnd();
    } else {                                            /* a mutation of an earlier one */
      size_t k = rnd() % npool;
      len = pool_len[k];
      memcpy(in, pool[k], len);
      for (unsigned m = 1 + rnd() % 8; m > 0; m--) {
        size_t at = rnd() % len;
        switch (rnd() % 5) {
          case 0: in[at] ^= (uint8_t)(1u << (rnd() % 8)); break;
          case 1: in[at] = (uint8_t)rnd(); break;
          case 2:                                       /* duplicate a run (repeat ops) */
            if (len < MAXLEN / 2) {
              size_t n = 1 + rnd() % (len - at);
              memmove(in + at + n, in + at, len - at);
              len += n;
            }
            break;
          case 3:                                       /* delete a run */
            if (len > 4) {
              size_t n = 1 + rnd() % ((len - at) / 2 + 1);
              if (at + n > len) n = len - at;
              memmove(in + at, in + at + n, len - at - n);
              len -= n;
            }
            break;
          case 4: {                                     /* splice in another program's part */
            size_t j = rnd() % npool, from = rnd() % pool_len[j], n = 1 + rnd() % 64;
            if (from + n > pool_len[j]) n = pool_len[j] - from;
            if (at + n > MAXLEN) n = MAXLEN - at;
            memcpy(in + at, pool[j] + from, n);
            if (at + n > len) len = at + n;
            break;
          }
        }
      }
    }
    crash_data = in;
    crash_len = len;
    fuzz_one(in, len);
    execs++;
    bytes += len;
    size_t k = npool < POOL ? npool++ : rnd() % POOL;
    memcpy(pool[k], in, len);
    pool_len[k] = len;
  }
  printf("fuzz-hp: %llu inputs (%llu bytes) in %.0f s, seed %llu: no failure\n", (unsigned long long)execs,
         (unsigned long long)bytes, now() - t0, (unsigned long long)seed);
  return 0;
}
#endif
