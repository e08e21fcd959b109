/* tools/gcbench/gcbench.c -- hp's collector against Boehm GC, in one run.
 *
 * usage: gcbench [--quick] [--reps N] [--only LIST] [-v]
 *   --quick      a smoke run of every workload on both back ends (seconds; used by meson test)
 *   --reps N     repetitions per figure (the median of each figure is reported); default 5,
 *                quick 1
 *   --only LIST  comma-separated workloads: gcbench,alloc,gen (default: all)
 *   -v           print every repetition's raw result line
 *
 * Each repetition of each workload runs each back end in a fresh process: gcbench-hp and
 * gcbench-boehm, found next to this program (workloads.c built twice against backend.h).
 * So the back ends never share an address space (Boehm would otherwise scan hp's heap
 * reservation) and peak RSS (getrusage ru_maxrss) is one back end's. The back ends alternate
 * which goes first from one repetition to the next, so that drift hits both alike.
 *
 * A child prints one line of key=value pairs (see workloads.c and backend.h); the figures:
 *   wall_ns      the workload, from before the collector is initialised to its end
 *   cpu_ns       user + system CPU time of the whole child process (getrusage): on a busy
 *                machine it is inflated less than wall time by other processes' time slices
 *   gc_ns        time in collections. hp: hp_gc_stats gc_ns (stop-the-world pauses). Boehm: the
 *                sum of GC_EVENT_START..GC_EVENT_END; Boehm sweeps lazily during allocation, so
 *                part of its collection work is in its mutator time, not here
 *   pauses/max_ns/p50_ns/p99_ns   every collection's pause (exact quantiles, both kinds)
 *   minor_*      hp's minor collections only
 *   rss_kb       peak resident set of the process
 *   heap_bytes   heap size at the end (hp: heap_committed; Boehm: GC_get_heap_size)
 * The exit status is non-zero if a child fails (a workload checks its own result).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef GCBENCH_BUILDTYPE
#define GCBENCH_BUILDTYPE "unknown"
#endif
#ifndef GCBENCH_HP_DEBUG
#define GCBENCH_HP_DEBUG -1
#endif

enum { HP, BOEHM, NBACK };
static const char *const back_names[NBACK] = { "hp", "boehm" };
static const char *const workloads[] = { "gcbench", "alloc", "gen" };
#define NWORK 3
#define MAXREPS 51

/* The figures a result line may carry; a missing key reads as -1 (shown as "-"). */
#define FIGURES(X) \
  X(wall_ns) X(cpu_ns) X(gc_ns) X(ops) X(collections) X(minor) X(major) X(pauses) X(max_ns) X(p50_ns) \
  X(p99_ns) X(minor_max_ns) X(minor_p50_ns) X(minor_p99_ns) X(major_max_ns) X(rss_kb)     \
  X(heap_bytes) X(allocated_bytes) X(copied_bytes) X(promoted_bytes)
enum {
#define X(f) F_##f,
  FIGURES(X)
#undef X
  NFIG
};
static const char *const fig_names[NFIG] = {
#define X(f) #f,
  FIGURES(X)
#undef X
};

static int reps = 5;
static bool quick, verbose;
static char dir[PATH_MAX];
static char version[NBACK][32];

/* results[w][b][fig][rep] */
static double results[NWORK][NBACK][NFIG][MAXREPS];

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(const double *v, int n) {
  double s[MAXREPS];
  memcpy(s, v, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, cmp_double);
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Parses "key=value" pairs of a result line into fig[] (and the version). */
static void parse(const char *line, double *fig, char *ver) {
  for (int f = 0; f < NFIG; f++) fig[f] = -1;
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", line);
  for (char *save = NULL, *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
    char *eq = strchr(tok, '=');
    if (eq == NULL) continue;
    *eq = 0;
    if (strcmp(tok, "version") == 0) { snprintf(ver, 32, "%s", eq + 1); continue; }
    for (int f = 0; f < NFIG; f++)
      if (strcmp(tok, fig_names[f]) == 0) fig[f] = strtod(eq + 1, NULL);
  }
}

/* Runs one back end on one workload in a child process; fills fig[]. false if it failed. */
static bool run_child(int b, const char *workload, double *fig) {
  char exe[PATH_MAX + 32];
  snprintf(exe, sizeof exe, "%s/gcbench-%s", dir, back_names[b]);
  int fds[2];
  if (pipe(fds) != 0) { perror("gcbench: pipe"); return false; }
  pid_t pid = fork();
  if (pid < 0) { perror("gcbench: fork"); return false; }
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    char *argv[4] = { exe, (char *)workload, NULL, NULL };
    if (quick) { argv[1] = "--quick"; argv[2] = (char *)workload; }
    execv(exe, argv);
    fprintf(stderr, "gcbench: cannot run %s: %s\n", exe, strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  FILE *in = fdopen(fds[0], "r");
  char line[4096];
  bool got = false;
  while (fgets(line, sizeof line, in)) {
    if (strncmp(line, "gcbench-result ", 15) == 0) {
      parse(line, fig, version[b]);
      got = true;
      if (verbose) fprintf(stdout, "  %s", line);
    } else {
      fputs(line, stdout);
    }
  }
  fclose(in);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !got) {
    fprintf(stderr, "gcbench: %s %s failed (status %d)\n", back_names[b], workload, status);
    return false;
  }
  return true;
}

/* The 1-minute load average, or -1: a figure taken on a busy machine is worth less. */
static double loadavg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

/* ---- printing ---- */

static double med(int w, int b, int f) { return median(results[w][b][f], reps); }

static void cell(char *out, size_t n, double v, double scale, const char *fmt) {
  if (v < 0) snprintf(out, n, "-");
  else snprintf(out, n, fmt, v / scale);
}

/* One table row: the figure for both back ends and hp/Boehm. */
static void row(int w, const char *label, int f, double scale, const char *fmt) {
  double h = med(w, HP, f), b = med(w, BOEHM, f);
  char hs[32], bs[32], rs[32];
  cell(hs, sizeof hs, h, scale, fmt);
  cell(bs, sizeof bs, b, scale, fmt);
  if (h >= 0 && b > 0) snprintf(rs, sizeof rs, "%.3f", h / b);
  else snprintf(rs, sizeof rs, "-");
  printf("| %-28s | %12s | %12s | %9s |\n", label, hs, bs, rs);
}

static void print_table(int w) {
  printf("\n### %s (median of %d)\n\n", workloads[w], reps);
  printf("| %-28s | %12s | %12s | %9s |\n", "figure", "hp", "boehm", "hp/boehm");
  printf("|%s|%s|%s|%s|\n", "------------------------------", "-------------:", "-------------:", "----------:");
  row(w, "wall time (ms)", F_wall_ns, 1e6, "%.1f");
  if (reps > 1) {
    char r[NBACK][48];
    for (int b = 0; b < NBACK; b++) {
      double lo = results[w][b][F_wall_ns][0], hi = lo;
      for (int i = 1; i < reps; i++) {
        double v = results[w][b][F_wall_ns][i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
      snprintf(r[b], sizeof r[b], "%.0f-%.0f", lo / 1e6, hi / 1e6);
    }
    printf("| %-28s | %12s | %12s | %9s |\n", "  range over repetitions", r[HP], r[BOEHM], "");
  }
  row(w, "CPU time, process (ms)", F_cpu_ns, 1e6, "%.1f");
  if (strcmp(workloads[w], "alloc") == 0) {
    /* ns per allocation and M allocations per second, whole run (collections included) */
    double h = med(w, HP, F_wall_ns) / med(w, HP, F_ops), b = med(w, BOEHM, F_wall_ns) / med(w, BOEHM, F_ops);
    printf("| %-28s | %12.2f | %12.2f | %9.3f |\n", "ns per allocation", h, b, h / b);
    printf("| %-28s | %12.1f | %12.1f | %9.3f |\n", "M allocations/s", 1e3 / h, 1e3 / b, b / h);
  }
  if (strcmp(workloads[w], "gen") == 0) {
    double h = med(w, HP, F_wall_ns) / med(w, HP, F_ops), b = med(w, BOEHM, F_wall_ns) / med(w, BOEHM, F_ops);
    printf("| %-28s | %12.1f | %12.1f | %9.3f |\n", "ns per mutation (all phases)", h, b, h / b);
  }
  row(w, "GC time (ms)", F_gc_ns, 1e6, "%.1f");
  row(w, "collections", F_collections, 1, "%.0f");
  row(w, "  minor", F_minor, 1, "%.0f");
  row(w, "  major / full", F_major, 1, "%.0f");
  row(w, "max pause (ms)", F_max_ns, 1e6, "%.3f");
  row(w, "p99 pause (ms)", F_p99_ns, 1e6, "%.3f");
  row(w, "p50 pause (ms)", F_p50_ns, 1e6, "%.3f");
  row(w, "hp minor max pause (ms)", F_minor_max_ns, 1e6, "%.3f");
  row(w, "hp minor p99 pause (ms)", F_minor_p99_ns, 1e6, "%.3f");
  row(w, "hp major max pause (ms)", F_major_max_ns, 1e6, "%.3f");
  row(w, "peak RSS (MiB)", F_rss_kb, 1024, "%.1f");
  row(w, "heap at end (MiB)", F_heap_bytes, 1048576, "%.1f");
  row(w, "allocated (MiB)", F_allocated_bytes, 1048576, "%.0f");
  row(w, "hp copied to survivors (MiB)", F_copied_bytes, 1048576, "%.0f");
  row(w, "hp promoted (MiB)", F_promoted_bytes, 1048576, "%.0f");
}

/* One target line: `value` against `goal` (value >= goal when `at_least`); `info` marks a
 * line that is not a target itself but explains one. */
static void target_line(const char *what, double value, double goal, bool at_least, const char *unit,
                        bool info) {
  bool met = at_least ? value >= goal : value <= goal;
  char v[32], g[32];
  snprintf(v, sizeof v, "%.2f%s", value, unit);
  snprintf(g, sizeof g, "%s %.2f%s", at_least ? ">=" : "<=", goal, unit);
  printf("| %-58s | %10s | %10s | %-7s |\n", what, v, g, info ? (met ? "(met)" : "(missed)") : met ? "met" : "MISSED");
}
#define target(what, value, goal, at_least, unit) target_line(what, value, goal, at_least, unit, false)

int main(int argc, char **argv) {
  bool only[NWORK] = { true, true, true };
  bool reps_set = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = true;
    else if (strcmp(argv[i], "-v") == 0) verbose = true;
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) { reps = atoi(argv[++i]); reps_set = true; }
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      for (int w = 0; w < NWORK; w++) only[w] = strstr(argv[i + 1], workloads[w]) != NULL;
      i++;
    } else {
      fprintf(stderr, "usage: gcbench [--quick] [--reps N] [--only gcbench,alloc,gen] [-v]\n");
      return 2;
    }
  }
  if (quick && !reps_set) reps = 1;
  if (reps < 1 || reps > MAXREPS) { fprintf(stderr, "gcbench: --reps must be 1..%d\n", MAXREPS); return 2; }

  ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
  if (n <= 0) { perror("gcbench: /proc/self/exe"); return 2; }
  dir[n] = 0;
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;

  struct utsname u;
  uname(&u);
  time_t now = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  printf("gcbench: hp against Boehm GC, %s, %d repetition(s), %s, %s %s, %ld CPUs, load %.2f, "
         "build %s (HP_DEBUG %d)\n", quick ? "QUICK smoke run" : "full run", reps, date, u.sysname,
         u.release, sysconf(_SC_NPROCESSORS_ONLN), loadavg(), GCBENCH_BUILDTYPE, GCBENCH_HP_DEBUG);
  fflush(stdout);

  bool ok = true;
  for (int w = 0; w < NWORK; w++) {
    if (!only[w]) continue;
    for (int r = 0; r < reps; r++) {
      for (int k = 0; k < NBACK; k++) {
        int b = (r + k) % NBACK;                         /* alternate which goes first */
        double fig[NFIG];
        if (!run_child(b, workloads[w], fig)) { ok = false; continue; }
        for (int f = 0; f < NFIG; f++) results[w][b][f][r] = fig[f];
      }
    }
  }
  if (!ok) { fprintf(stderr, "gcbench: a child failed\n"); return 1; }

  printf("\nhp %s, Boehm GC %s; each back end in its own process; figures are medians; load at the "
         "end %.2f (a wall time well above the CPU time means other processes took the CPU).\n",
         version[HP], version[BOEHM], loadavg());
  for (int w = 0; w < NWORK; w++)
    if (only[w]) print_table(w);

  printf("\n### targets%s\n\n", quick ? " (quick run: sizes too small to judge)" : "");
  printf("| %-58s | %10s | %10s | %-7s |\n", "target", "measured", "goal", "");
  printf("|%s|%s|%s|%s|\n", "------------------------------------------------------------",
         "-----------:", "-----------:", "---------");
  if (only[0]) {
    target("GCBench: Boehm wall / hp wall", med(0, BOEHM, F_wall_ns) / med(0, HP, F_wall_ns), 2, true, "x");
    target("GCBench: hp peak RSS / Boehm peak RSS", med(0, HP, F_rss_kb) / med(0, BOEHM, F_rss_kb), 1, false, "x");
  }
  for (int w = 0; w < NWORK; w++) {
    if (!only[w] || med(w, HP, F_minor) <= 0) continue;
    char what[80];
    snprintf(what, sizeof what, "%s: hp minor p99 pause (ms)", workloads[w]);
    target(what, med(w, HP, F_minor_p99_ns) / 1e6, 1, false, "");
  }
  if (only[1])
    target("alloc: hp allocations/s / Boehm allocations/s", med(1, BOEHM, F_wall_ns) / med(1, HP, F_wall_ns), 5, true, "x");
  if (only[2]) {
    target("gen: Boehm max pause / hp max pause", med(2, BOEHM, F_max_ns) / med(2, HP, F_max_ns), 20, true, "x");
    target_line("gen, for reference: Boehm max pause / hp minor max pause",
                med(2, BOEHM, F_max_ns) / med(2, HP, F_minor_max_ns), 20, true, "x", true);
    target("gen: Boehm wall / hp wall", med(2, BOEHM, F_wall_ns) / med(2, HP, F_wall_ns), 3, true, "x");
  }
  return 0;
}
