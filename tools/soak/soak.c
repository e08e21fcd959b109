/* tools/soak/soak.c -- a long run of many mutator threads through the public API (<hp.h>).
 *
 *     soak [-seconds N] [-threads T] [-seed S]      (defaults: 60 s, 8 threads, seed 1)
 *
 * Each worker thread lives for a few sessions and exits; the main thread starts a new one
 * in its place until the time is up. A session attaches to the runtime, then for a few
 * hundred steps: builds lists and trees (every node holds its id and a checksum), drops
 * garbage, publishes a structure into a shared table (global roots) in place of an older
 * one, takes another thread's published structure and checks it node by node, pins and
 * unpins a node, sleeps inside a blocking region, waits for the table's lock inside one,
 * collects now and then -- and detaches. The heap is verified after every collection
 * (verify = 1, as HP_GC_VERIFY=1; HP_* variables are read too). At the end every published
 * structure is checked once more, and after a major collection hp_verify_heap must count
 * exactly the nodes the table holds. Any difference aborts with a message.
 * Prints one line: sessions, structures published and checked, collections, pause maximum.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hp.h>

typedef struct node { struct node *a, *b; uint64_t id, check; } node;
static const uint32_t node_offsets[] = { offsetof(node, a), offsetof(node, b) };
static hp_type node_type = { .name = "soak-node", .size = sizeof(node), .noffsets = 2, .offsets = node_offsets };
static hp_type blob_type = { .name = "soak-blob", .size = 0, .flags = HP_TYPE_LEAF };

static uint64_t mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("soak: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------------------
 *  Structures: a list (a = next) or a complete tree (a, b), node ids seed + k
 * ------------------------------------------------------------------------------------ */

enum { LIST, TREE };

static node *new_node(hp_thread *t, uint64_t id) {
  node *n = HP_NEW(t, &node_type);
  if (n == NULL) die("hp_new returned NULL");
  n->id = id;
  n->check = mix(id);
  return n;
}

static node *build_list(hp_thread *t, uint64_t seed, size_t len) {
  node *head = NULL, *c = NULL;
  HP_ROOTS(t, fr, HP_SLOT(head), HP_SLOT(c));
  for (size_t i = len; i-- > 0;) {
    c = new_node(t, seed + i);
    hp_write(t, c, &c->a, head);
    head = c;
  }
  HP_UNROOT(t, fr);
  return head;
}

static node *build_tree(hp_thread *t, uint64_t seed, unsigned depth, uint64_t k) {
  node *n = NULL, *c = NULL;
  HP_ROOTS(t, fr, HP_SLOT(n), HP_SLOT(c));
  n = new_node(t, seed + k);
  if (depth > 1) {
    c = build_tree(t, seed, depth - 1, 2 * k);
    hp_write(t, n, &n->a, c);
    c = build_tree(t, seed, depth - 1, 2 * k + 1);
    hp_write(t, n, &n->b, c);
  }
  HP_UNROOT(t, fr);
  return n;
}

static void check_node(const node *n, uint64_t id, const char *what) {
  if (n == NULL) die("%s: node %#llx missing", what, (unsigned long long)id);
  if (n->id != id || n->check != mix(id))
    die("%s: node %p holds id %#llx check %#llx, not %#llx", what, (const void *)n, (unsigned long long)n->id,
        (unsigned long long)n->check, (unsigned long long)id);
}

static size_t check_list(const node *n, uint64_t seed, size_t len) {
  for (size_t i = 0; i < len; i++, n = n->a) {
    check_node(n, seed + i, "list");
    if (n->b != NULL) die("list %#llx: cell %zu has b = %p", (unsigned long long)seed, i, (void *)n->b);
  }
  if (n != NULL) die("list %#llx is longer than %zu", (unsigned long long)seed, len);
  return len;
}

static size_t check_tree(const node *n, uint64_t seed, unsigned depth, uint64_t k) {
  check_node(n, seed + k, "tree");
  if (depth == 1) {
    if (n->a || n->b) die("tree %#llx: leaf %llu has children", (unsigned long long)seed, (unsigned long long)k);
    return 1;
  }
  return 1 + check_tree(n->a, seed, depth - 1, 2 * k) + check_tree(n->b, seed, depth - 1, 2 * k + 1);
}

typedef struct shape { int kind; uint64_t seed; size_t size; } shape;   /* size: length or depth */

static size_t shape_nodes(shape s) { return s.kind == LIST ? s.size : ((size_t)1 << s.size) - 1; }
static size_t check_shape(const node *n, shape s) {
  return s.kind == LIST ? check_list(n, s.seed, s.size) : check_tree(n, s.seed, (unsigned)s.size, 1);
}

/* ------------------------------------------------------------------------------------
 *  The shared table: global roots and their shapes, under table_mu
 * ------------------------------------------------------------------------------------ */

enum { TABLE = 128 };
static void *table[TABLE];
static shape shapes[TABLE];
static hp_root_range table_range = { table, TABLE };
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;

static hp_runtime *rt;
static double deadline;
static _Atomic uint64_t n_sessions, n_published, n_checked, n_nodes_checked, n_pins, n_seq;

/* Takes table_mu inside a blocking region: a collection does not wait for a thread that
 * waits for the lock. The holder neither allocates nor reaches a safe point. */
static void table_lock(hp_thread *t) {
  hp_blocking_enter(t);
  pthread_mutex_lock(&table_mu);
  hp_blocking_leave(t);
}

typedef struct worker { uint64_t seed; unsigned sessions; } worker;

static void session(hp_thread *t, uint64_t *rng) {
  node *mine = NULL, *other = NULL, *tmp = NULL;
  HP_ROOTS(t, fr, HP_SLOT(mine), HP_SLOT(other), HP_SLOT(tmp));
  unsigned steps = 100 + (unsigned)(mix((*rng)++) % 400);
  for (unsigned s = 0; s < steps && now() < deadline; s++) {
    uint64_t r = mix((*rng)++);
    shape sh;
    switch (r % 10) {
      case 0: case 1: case 2: {                       /* build, check, publish */
        sh.seed = (atomic_fetch_add(&n_seq, 1) + 1) << 24;
        if (r & 16) { sh.kind = TREE; sh.size = 1 + (r >> 8) % 10; mine = build_tree(t, sh.seed, (unsigned)sh.size, 1); }
        else { sh.kind = LIST; sh.size = 1 + (r >> 8) % 2000; mine = build_list(t, sh.seed, sh.size); }
        check_shape(mine, sh);
        unsigned slot = (unsigned)((r >> 32) % TABLE);
        table_lock(t);
        table[slot] = mine;                           /* a global root: no barrier */
        shapes[slot] = sh;
        pthread_mutex_unlock(&table_mu);
        atomic_fetch_add(&n_published, 1);
        mine = NULL;
        break;
      }
      case 3: case 4: {                               /* take one and check it */
        unsigned slot = (unsigned)((r >> 32) % TABLE);
        table_lock(t);
        other = table[slot];
        sh = shapes[slot];
        pthread_mutex_unlock(&table_mu);
        if (other == NULL) break;
        /* Checked outside the lock: the structure is immutable and `other` is rooted. A
         * minor collection now and then in between moves it under our feet. */
        if (r & 32) hp_collect(t, HP_GC_MINOR);
        atomic_fetch_add(&n_nodes_checked, check_shape(other, sh));
        atomic_fetch_add(&n_checked, 1);
        other = NULL;
        break;
      }
      case 5: {                                       /* garbage, some of it large */
        for (unsigned i = 0; i < 64; i++) {
          size_t size = (r >> (i % 32)) & 1 ? 8 * (1 + i) : (i == 7 ? 12 * 1024 : 24);
          uint64_t *b = hp_new(t, &blob_type, size);
          if (b == NULL) die("hp_new(blob) returned NULL");
          b[0] = r;
        }
        break;
      }
      case 6: {                                       /* pin a fresh node, collect, check */
        tmp = new_node(t, 0xC0FFEEull << 24 | (r & 0xffffff));
        node *at = tmp;
        if (hp_pin(t, tmp) != 0) die("hp_pin: errno %d", errno);
        if (r & 64) hp_collect(t, HP_GC_MINOR);
        if (tmp != at) die("a pinned node moved from %p to %p", (void *)at, (void *)tmp);
        check_node(tmp, 0xC0FFEEull << 24 | (r & 0xffffff), "pinned");
        if (hp_unpin(t, tmp) != 0) die("hp_unpin: errno %d", errno);
        atomic_fetch_add(&n_pins, 1);
        tmp = NULL;
        break;
      }
      case 7: {                                       /* block: a short sleep */
        hp_blocking_enter(t);
        struct timespec ts = { 0, (long)(r % 200000) };
        nanosleep(&ts, NULL);
        hp_blocking_leave(t);
        break;
      }
      case 8:
        hp_collect(t, (r & 0xff) < 16 ? HP_GC_MAJOR : HP_GC_MINOR);
        break;
      case 9:
        for (unsigned i = 0; i < 1000; i++) hp_safepoint(t);
        break;
    }
  }
  HP_UNROOT(t, fr);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  uint64_t rng = w->seed;
  for (unsigned i = 0; i < w->sessions && now() < deadline; i++) {
    hp_thread *t = hp_thread_attach(rt);
    if (t == NULL) die("hp_thread_attach: errno %d", errno);
    session(t, &rng);
    hp_thread_detach(t);
    atomic_fetch_add(&n_sessions, 1);
  }
  return NULL;
}

int main(int argc, char **argv) {
  double seconds = 60;
  unsigned nthreads = 8;
  uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "-seconds") == 0) seconds = atof(argv[i + 1]);
    else if (strcmp(argv[i], "-threads") == 0) nthreads = (unsigned)atoi(argv[i + 1]);
    else if (strcmp(argv[i], "-seed") == 0) seed = strtoull(argv[i + 1], NULL, 0);
    else { fprintf(stderr, "usage: soak [-seconds N] [-threads T] [-seed S]\n"); return 2; }
  }
  if (nthreads == 0 || nthreads > 256) nthreads = 8;
  hp_config c;
  hp_config_default(&c);
  c.verify = 1;
  c.eden_size = 1 << 20;
  c.conservative_stack = false;
  if (hp_config_from_env(&c) != 0) return 2;
  rt = hp_runtime_new(&c);
  if (rt == NULL) die("hp_runtime_new: errno %d", errno);
  if (hp_type_register(rt, &node_type) != 0 || hp_type_register(rt, &blob_type) != 0) die("hp_type_register");
  if (hp_root_range_add(rt, &table_range) != 0) die("hp_root_range_add");
  hp_thread *main_t = hp_main_thread(rt);
  double t0 = now();
  deadline = t0 + seconds;

  pthread_t *th = calloc(nthreads, sizeof *th);
  worker *w = calloc(nthreads, sizeof *w);
  bool *running = calloc(nthreads, sizeof *running);
  if (!th || !w || !running) die("out of memory");
  uint64_t started = 0;
  /* The main thread waits (joins) in a blocking region; a new worker takes each place. */
  hp_blocking_enter(main_t);
  while (now() < deadline) {
    for (unsigned i = 0; i < nthreads; i++) {
      if (running[i]) {
        if (pthread_tryjoin_np(th[i], NULL) != 0) continue;
        running[i] = false;
      }
      if (now() >= deadline) break;
      uint64_t k = started++;
      w[i] = (worker){ .seed = mix(seed * 1000003 + k), .sessions = 1 + (unsigned)(k % 4) };
      if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0) die("pthread_create");
      running[i] = true;
    }
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    nanosleep(&ts, NULL);
  }
  for (unsigned i = 0; i < nthreads; i++)
    if (running[i] && pthread_join(th[i], NULL) != 0) die("pthread_join");
  hp_blocking_leave(main_t);

  /* Every published structure, then the exact count of what is live. */
  size_t nodes = 0;
  for (unsigned i = 0; i < TABLE; i++)
    if (table[i] != NULL) nodes += check_shape(table[i], shapes[i]);
  hp_collect(main_t, HP_GC_MAJOR);
  size_t expect = 0;
  for (unsigned i = 0; i < TABLE; i++)
    if (table[i] != NULL) { check_shape(table[i], shapes[i]); expect += shape_nodes(shapes[i]); }
  size_t counted = hp_verify_heap(rt);
  if (counted != expect || nodes != expect)
    die("after a major collection hp_verify_heap counts %zu objects; the table holds %zu nodes", counted, expect);
  struct hp_gc_stats st;
  hp_gc_stats(rt, &st);
  printf("soak: %.0f s, %u threads: %llu threads started, %llu sessions, %llu structures published, "
         "%llu checked (%llu nodes), %llu pins; %llu minor and %llu major collections (verified), "
         "pause max %.3f / %.3f ms; at the end %zu nodes live, all checked: ok\n",
         now() - t0, nthreads, (unsigned long long)started, (unsigned long long)n_sessions,
         (unsigned long long)n_published, (unsigned long long)n_checked, (unsigned long long)n_nodes_checked,
         (unsigned long long)n_pins, (unsigned long long)st.minor_count, (unsigned long long)st.major_count,
         (double)st.minor.max_ns / 1e6, (double)st.major.max_ns / 1e6, expect);
  hp_root_range_remove(rt, &table_range);
  hp_runtime_destroy(rt);
  free(th);
  free(w);
  free(running);
  return 0;
}
