/* tools/weakbench/driver.c -- weakbench: weak tables, finalizers and ephemeron chains, hp
 * against Boehm GC in one run (the programs weakbench-hp and weakbench-boehm, found next to
 * this one; each run is a fresh process, the back ends take turns going first).
 *
 * usage: weakbench [--quick] [--reps N]
 * Prints Markdown tables of medians over N repetitions (default 5; quick: 1 and small sizes)
 * and the ratios; the exit status is non-zero if a run fails (each checks its own result).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXREPS 51

static char dir[4096];

/* Runs exe with args, returns its output line (static buffer) or NULL. */
static const char *run(const char *exe, const char *w, const char *n, const char *rounds, const char *k) {
  static char line[4096];
  char path[8192];
  snprintf(path, sizeof path, "%s/%s", dir, exe);
  int fd[2];
  if (pipe(fd) != 0) return NULL;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    execl(path, path, w, n, rounds, k, (char *)NULL);
    _exit(127);
  }
  close(fd[1]);
  FILE *f = fdopen(fd[0], "r");
  line[0] = '\0';
  if (f == NULL || fgets(line, sizeof line, f) == NULL) line[0] = '\0';
  if (f) fclose(f);
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "weakbench: %s %s %s %s failed (status %d)\n", exe, w, n, rounds, status);
    return NULL;
  }
  return line;
}

static double field(const char *line, const char *key) {
  char k[64];
  snprintf(k, sizeof k, " %s=", key);
  const char *p = strstr(line, k);
  return p ? strtod(p + strlen(k), NULL) : -1;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct job { const char *exe, *w, *n, *rounds, *k; const char *keys[3]; double med[3]; } job;

/* Runs the jobs reps times, taking turns, and sets their medians. */
static bool measure(job *jobs, int njobs, int reps) {
  double v[8][3][MAXREPS];
  for (int r = 0; r < reps; r++) {
    for (int k = 0; k < njobs; k++) {
      int j = (k + r) % njobs;
      const char *line = run(jobs[j].exe, jobs[j].w, jobs[j].n, jobs[j].rounds, jobs[j].k);
      if (line == NULL) return false;
      for (int f = 0; f < 3 && jobs[j].keys[f]; f++) v[j][f][r] = field(line, jobs[j].keys[f]);
    }
  }
  for (int j = 0; j < njobs; j++)
    for (int f = 0; f < 3 && jobs[j].keys[f]; f++) {
      qsort(v[j][f], (size_t)reps, sizeof(double), cmp_d);
      jobs[j].med[f] = v[j][f][reps / 2];
    }
  return true;
}

int main(int argc, char **argv) {
  bool quick = false;
  int reps = 5;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) { quick = true; reps = 1; }
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
  }
  if (reps < 1 || reps > MAXREPS) reps = 5;
  snprintf(dir, sizeof dir, "%s", argv[0]);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0'; else strcpy(dir, ".");
  bool ok = true;

  const char *tn = quick ? "20000" : "100000", *tr = quick ? "2" : "10";
  job table[] = {
    { "weakbench-hp", "table", tn, tr, "1", { "pause_ns", "pause_cpu_ns", "round_ns_per_entry" }, { 0 } },
    { "weakbench-hp", "table_minor", tn, tr, "1", { "pause_ns", "pause_cpu_ns", "round_ns_per_entry" }, { 0 } },
    { "weakbench-boehm", "table", tn, tr, "1", { "pause_ns", "pause_cpu_ns", "round_ns_per_entry" }, { 0 } },
  };
  double n = atof(tn);
  if (measure(table, 3, reps)) {
    printf("### Weak-keyed table churn: %s entries, %s rounds, 1 in 10 kept (median of %d)\n\n", tn, tr, reps);
    printf("| back end | collection | pause (ms) | ns per entry per collection | CPU ns per entry per collection "
           "| round ns per entry | pause vs Boehm (wall, CPU) |\n|---|---|---|---|---|---|---|\n");
    const char *what[] = { "major (ephemeron table)", "minor (ephemeron table)", "full (disappearing links, weak keys only)" };
    for (int j = 0; j < 3; j++)
      printf("| %s | %s | %.3f | %.2f | %.2f | %.1f | %.2fx, %.2fx |\n", table[j].exe + 10, what[j],
             table[j].med[0] / 1e6, table[j].med[0] / n, table[j].med[1] / n, table[j].med[2],
             table[2].med[0] / table[j].med[0], table[2].med[1] / table[j].med[1]);
    printf("\n");
  } else ok = false;

  const char *fn = quick ? "100000" : "1000000";
  job fin[] = {
    { "weakbench-hp", "final", fn, "1", "1", { "ns_per_object", "cpu_ns_per_object", NULL }, { 0 } },
    { "weakbench-boehm", "final", fn, "1", "1", { "ns_per_object", "cpu_ns_per_object", NULL }, { 0 } },
    { "weakbench-hp", "final_warm", fn, "1", "1", { "ns_per_object", "cpu_ns_per_object", NULL }, { 0 } },
    { "weakbench-boehm", "final_warm", fn, "1", "1", { "ns_per_object", "cpu_ns_per_object", NULL }, { 0 } },
  };
  if (measure(fin, 4, reps)) {
    printf("### Finalizer throughput: %s finalizable objects allocated and dropped (median of %d)\n\n", fn, reps);
    printf("| back end | process | ns per finalized object | CPU ns per finalized object | vs Boehm (wall, CPU) |\n"
           "|---|---|---|---|---|\n");
    for (int j = 0; j < 4; j++)
      printf("| %s | %s | %.1f | %.1f | %.2fx, %.2fx |\n", fin[j].exe + 10, j < 2 ? "cold (from start)" : "warm (second round)",
             fin[j].med[0], fin[j].med[1], fin[j | 1].med[0] / fin[j].med[0], fin[j | 1].med[1] / fin[j].med[1]);
    printf("\n");
  } else ok = false;

  const char *big = quick ? "20000" : "100000", *small = quick ? "2000" : "10000", *cr = quick ? "2" : "9";
  job chain[] = {
    { "weakbench-hp", "chain", big, cr, "1", { "pause_ns", "pause_cpu_ns", NULL }, { 0 } },
    { "weakbench-hp", "chain", big, cr, "10", { "pause_ns", "pause_cpu_ns", NULL }, { 0 } },
    { "weakbench-hp", "chain_flat", big, cr, "1", { "pause_ns", "pause_cpu_ns", NULL }, { 0 } },
    { "weakbench-hp", "chain", small, cr, "1", { "pause_ns", "pause_cpu_ns", NULL }, { 0 } },
  };
  if (measure(chain, 4, reps)) {
    printf("### Ephemeron chains, worst order, hp major collection (median of %d; Boehm has no ephemerons)\n\n", reps);
    printf("| pairs | layout | pause (ms) | CPU (ms) |\n|---|---|---|---|\n");
    const char *lay[] = { "one chain", "10 chains of a tenth", "flat: no chain, every key rooted", "one chain" };
    for (int j = 0; j < 4; j++)
      printf("| %s | %s | %.3f | %.3f |\n", chain[j].n, lay[j], chain[j].med[0] / 1e6, chain[j].med[1] / 1e6);
    printf("\nlinearity, same heap: t(1 chain of %s) / t(10 chains of %s) = %.2f wall, %.2f CPU (target <= 2)\n",
           big, small, chain[0].med[0] / chain[1].med[0], chain[0].med[1] / chain[1].med[1]);
    printf("against a heap 10 times smaller: t(%s) / (10 x t(%s)) = %.2f wall, %.2f CPU\n", big, small,
           chain[0].med[0] / (10 * chain[3].med[0]), chain[0].med[1] / (10 * chain[3].med[1]));
  } else ok = false;
  return ok ? 0 : 1;
}
