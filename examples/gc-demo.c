/* examples/gc-demo.c -- embedding hp's collector: a runtime, two object types, precise roots
 * in shadow-stack frames, a global root, the write barrier, a second thread, and statistics.
 *
 * It builds a long-lived binary tree and a stream of short-lived lists on two threads, then
 * checks the tree and prints what the collector did.
 */
#include <hp.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* A tree node: two managed pointers at fixed offsets, and a number. */
typedef struct node { struct node *left, *right; long value; } node;
static const uint32_t node_slots[] = { offsetof(node, left), offsetof(node, right) };
static hp_type node_type = { .name = "node", .size = sizeof(node), .noffsets = 2, .offsets = node_slots };

/* A string: bytes only, never traced; its size is given at allocation. */
static hp_type string_type = { .name = "string", .size = 0, .flags = HP_TYPE_LEAF };

static hp_runtime *rt;
static node *tree;                              /* a global root */

/* Builds a tree of the given depth. Every local that holds a managed pointer across an
 * allocation is in a frame: allocation may move young objects. */
static node *build(hp_thread *t, int depth, long *next) {
  node *n = HP_NEW(t, &node_type);
  n->value = (*next)++;
  if (depth == 0) return n;
  HP_ROOTS(t, frame, HP_SLOT(n));
  node *child = build(t, depth - 1, next);
  hp_write(t, n, &n->left, child);              /* n may be old by now: use the barrier */
  child = build(t, depth - 1, next);
  hp_write(t, n, &n->right, child);
  HP_UNROOT(t, frame);
  return n;
}

static long sum(const node *n) { return n ? n->value + sum(n->left) + sum(n->right) : 0; }

/* Short-lived garbage: strings that nothing keeps. */
static void *churn(void *arg) {
  (void)arg;
  hp_thread *t = hp_thread_attach(rt);
  char *s = NULL;
  HP_ROOTS(t, frame, HP_SLOT(s));
  for (int i = 0; i < 2000000; i++) {
    s = hp_new(t, &string_type, 48);
    snprintf(s, 48, "garbage %d", i);
    hp_safepoint(t);                            /* a collection may want this thread */
  }
  HP_UNROOT(t, frame);
  hp_thread_detach(t);
  return NULL;
}

int main(void) {
  hp_config cfg;
  hp_config_default(&cfg);
  hp_config_from_env(&cfg);                     /* HP_GC_LOG=1, HP_EDEN_SIZE=8M, ... */
  rt = hp_runtime_new(&cfg);
  if (rt == NULL) { perror("hp_runtime_new"); return 1; }
  hp_thread *t = hp_main_thread(rt);
  hp_type_register(rt, &node_type);
  hp_type_register(rt, &string_type);
  hp_root_add(rt, (void **)&tree);

  pthread_t other;
  pthread_create(&other, NULL, churn, NULL);
  long next = 0;
  tree = build(t, 18, &next);                   /* 524,287 nodes */
  hp_blocking_enter(t);                         /* waiting: no collection waits for us */
  pthread_join(other, NULL);
  hp_blocking_leave(t);
  hp_collect(t, HP_GC_MAJOR);

  long expect = (next - 1) * next / 2, got = sum(tree);
  printf("tree of %ld nodes, sum %ld (%s)\n", next, got, got == expect ? "intact" : "CORRUPT");
  hp_gc_stats_print(rt, stdout);
  hp_runtime_destroy(rt);
  return got == expect ? 0 : 1;
}
