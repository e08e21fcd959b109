/* tools/bench-runtimes.c -- how the cost of creating a runtime grows with the number of live
 * runtimes (issue 9, bug 5). Creates N runtimes (256 KiB eden, so that 30,000 fit the pools'
 * reservation), all kept alive, and prints the wall time of every batch of 2000 creations.
 * A creation that cost O(live runtimes) shows as batch times that grow linearly; O(1) as flat
 * ones.
 *
 *   build-release/tools/bench-runtimes [N]     (N = 30000 by default)
 */
#include <hp.h>

#include "bench-common.h"

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30000;
  hp_config c;
  hp_config_default(&c);
  c.eden_size = 256 * 1024;
  hp_runtime **rts = calloc((size_t)n, sizeof *rts);
  if (rts == NULL) return 1;
  printf("%8s %10s %14s\n", "live", "batch (s)", "us/creation");
  uint64_t t = bench_now_ns(), first = 0, last = 0;
  for (int i = 0; i < n; i++) {
    rts[i] = hp_runtime_new(&c);
    if (rts[i] == NULL) { perror("hp_runtime_new"); return 1; }
    hp_thread_detach(hp_main_thread(rts[i]));   /* one OS thread, attached to none */
    if ((i + 1) % 2000 == 0 || i + 1 == n) {
      uint64_t u = bench_now_ns(), d = u - t;
      int k = (i % 2000) + 1;
      printf("%8d %10.3f %14.1f\n", i + 1, d / 1e9, d / 1e3 / k);
      if (first == 0) first = d;
      last = d;
      t = u;
    }
  }
  printf("last batch / first batch: %.2f\n", (double)last / (double)first);
  return 0;
}
