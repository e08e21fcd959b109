/* examples/pools-demo.c -- hp's pools as an embedder sees them: allocate blocks of every
 * tier, free some from another thread, and print the statistics. */
#include <hp.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define N 20000

static void *blocks[N];

static void *free_half(void *arg) {
  (void)arg;
  for (int i = 0; i < N; i += 2) hp_pool_free(blocks[i]);   /* frees from another thread */
  return NULL;
}

int main(void) {
  printf("hp %d.%d.%d pools demo\n", HP_VERSION_MAJOR, HP_VERSION_MINOR, HP_VERSION_PATCH);
  for (int i = 0; i < N; i++) {
    size_t size = (i % 10 == 0) ? 3000 + (size_t)i : 8 + (size_t)(i % 120);
    blocks[i] = hp_pool_alloc(size);
    memset(blocks[i], i & 0xff, size);
  }
  void *huge = hp_pool_alloc(1 << 20);
  void *line = hp_pool_alloc_aligned(100, 64);
  printf("a 100-byte block aligned to 64: %p (usable %zu bytes)\n", line, hp_pool_usable_size(line));

  pthread_t t;
  pthread_create(&t, NULL, free_half, NULL);
  pthread_join(t, NULL);
  printf("\nafter %d allocations and %d frees from another thread:\n", N + 2, N / 2);
  hp_pool_stats_print(stdout);

  for (int i = 1; i < N; i += 2) hp_pool_free(blocks[i]);
  hp_pool_free(huge);
  hp_pool_free(line);
  size_t returned = hp_pool_trim();
  printf("\nafter freeing everything and hp_pool_trim() (%zu bytes returned to the OS):\n", returned);
  hp_pool_stats_print(stdout);
  return 0;
}
