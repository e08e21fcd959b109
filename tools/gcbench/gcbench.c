/* tools/gcbench/gcbench.c -- hp's collector against Boehm GC, in one run.
 *
 * usage: gcbench [--quick] [--reps N] [--only LIST] [--threads LIST] [-v]
 *   --quick        a smoke run of every workload on every back end (seconds; used by meson test)
 *   --reps N       repetitions per figure (the median of each figure is reported); default 5,
 *                  quick 1
 *   --only LIST    comma-separated groups: gcbench,alloc,gen,stack,mtalloc,mtgcbench (default:
 *                  all)
 *   --threads LIST thread counts of the multi-threaded groups (default 1,2,4; quick 1,2)
 *   --live LIST    live heap sizes (MB) of the oldtable group (default 70,300; quick 16)
 *   -v             print every repetition's raw result line
 *
 * Variants: a program and the environment it runs with.
 *   hp          gcbench-hp: precise shadow-stack roots, hp's default configuration (which scans
 *               the stacks conservatively as well); HP_CONSERVATIVE is removed from its
 *               environment
 *   hp-noscan   gcbench-hp with HP_CONSERVATIVE=0: precise roots only
 *   hp-cons     gcbench-hp-cons: no shadow stack at all, conservative stack scanning only (as
 *               Boehm GC is used)
 *   boehm       gcbench-boehm, default settings (GC_MARKERS removed from its environment)
 *   boehm-1m    gcbench-boehm with GC_MARKERS=1: no parallel marker (multi-threaded groups)
 *   calib       gcbench-hp's `calib` workload: the same threads writing the same memory as
 *               mtalloc without any collector, interleaved with mtalloc's runs, so that its
 *               scaling shows what the machine allowed at that time
 * Groups: a workload, with an argument (thread count, stack depth), and its variants.
 *   gcbench     GCBench: hp, hp-noscan, hp-cons, boehm
 *   alloc, gen  hp, boehm (as in doc/benchmarks-gc.md)
 *   stack       workloads stack and stackptr at depths 0, 1000, 10000: hp, hp-noscan, hp-cons
 *               (stackptr only), boehm
 *   mtalloc     per thread count: hp, boehm, calib
 *   mtgcbench   per thread count: hp, hp-noscan, hp-cons, boehm, boehm-1m
 *   oldtable    per live size: a large mostly-live old generation under old-to-young stores
 *               (workloads.c): hp, hp-stw (HP_MARK_MODE=0: stop-the-world majors), boehm
 *
 * Each repetition of each (group, variant) runs in a fresh process, found next to this
 * program (workloads.c built three times against backend.h). So the back ends never share an
 * address space (Boehm would otherwise scan hp's heap reservation) and peak RSS (getrusage
 * ru_maxrss) is one process's. Within a group the variants take turns going first from one
 * repetition to the next, so that drift hits them alike.
 *
 * A child prints one line of key=value pairs (see workloads.c and backend.h); the figures:
 *   wall_ns      the workload, from before the collector is initialised to its end
 *   cpu_ns       user + system CPU time of the whole child process, all threads (getrusage):
 *                on a busy machine it is inflated less than wall time by other processes
 *   phase_ns     multi-threaded workloads: from the start barrier to the last join
 *   gc_ns        time in collections. hp: hp_gc_stats gc_ns (stop-the-world pauses). Boehm: the
 *                sum of GC_EVENT_START..GC_EVENT_END; Boehm sweeps lazily during allocation, so
 *                part of its collection work is in its mutator time, not here
 *   pauses/max_ns/p50_ns/p99_ns   every collection's pause (exact quantiles, both kinds)
 *   minor_*, major_*   hp's minor / major collections only
 *   stack_bytes, stack_scan_ns, minor_scan_*, major_scan_*   hp's conservative stack scan
 *   stop_*       hp: time to stop the other threads at safe points (hp_gc_stats stop_ns_*)
 *   rss_kb       peak resident set of the process
 *   heap_bytes   heap size at the end (hp: heap_committed; Boehm: GC_get_heap_size)
 * Load: for every group the driver reads /proc/stat before and after, and prints how many
 * CPUs other processes kept busy meanwhile (busy CPU time minus its children's, over the
 * elapsed time): on a 2-CPU machine, anything above ~0.2 means contended figures.
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

/* ---- variants ---- */
enum { V_HP, V_HPNC, V_HPCONS, V_BOEHM, V_BOEHM1, V_CALIB, V_HPSTW, NVAR };
static const struct variant {
  const char *name, *exe;
  const char *set;            /* NAME=VALUE to set, or NULL */
  const char *unset;          /* a variable to remove, or NULL */
  const char *workload;       /* runs this workload instead of the group's, or NULL */
} var[NVAR] = {
  [V_HP] = { "hp", "gcbench-hp", NULL, "HP_CONSERVATIVE" },
  [V_HPNC] = { "hp-noscan", "gcbench-hp", "HP_CONSERVATIVE=0", NULL },
  [V_HPCONS] = { "hp-cons", "gcbench-hp-cons", NULL, "HP_CONSERVATIVE" },
  [V_BOEHM] = { "boehm", "gcbench-boehm", NULL, "GC_MARKERS" },
  [V_BOEHM1] = { "boehm-1m", "gcbench-boehm", "GC_MARKERS=1", NULL },
  [V_CALIB] = { "calib", "gcbench-hp", NULL, NULL, "calib" },
  [V_HPSTW] = { "hp-stw", "gcbench-hp", "HP_MARK_MODE=0", NULL },
};
#define VBIT(v) (1u << (v))
static bool is_hp(int v) { return v == V_HP || v == V_HPNC || v == V_HPCONS || v == V_HPSTW; }

/* ---- figures: what a result line may carry; a missing key reads as -1 (shown as "-") ---- */
#define FIGURES(X) \
  X(wall_ns) X(cpu_ns) X(phase_ns) X(threads) X(gc_ns) X(ops) X(collections) X(minor) X(major)   \
  X(pauses) X(max_ns) X(p50_ns) X(p99_ns) X(minor_max_ns) X(minor_p50_ns) X(minor_p99_ns)          \
  X(major_max_ns) X(major_p50_ns) X(major_p99_ns) X(minor_total_ns) X(major_total_ns) X(rss_kb)   \
  X(heap_bytes) X(allocated_bytes) X(copied_bytes) X(promoted_bytes) X(pinned_bytes)              \
  X(conservative) X(stack_bytes) X(stack_scan_ns) X(minor_scan_ns) X(minor_scan_bytes)            \
  X(major_scan_ns) X(major_scan_bytes) X(stop_total_ns) X(stop_mean_ns) X(stop_max_ns)            \
  X(depth) X(stack_depth_bytes) X(coll_first_ns) X(coll_mean_ns) X(coll_p50_ns)                    \
  X(scan_bytes_per_coll) X(scan_ns_per_coll) X(parallel_markers) X(oom_calls)                     \
  X(cycles) X(cycle_start_max_ns) X(cycle_finish_max_ns)   \
  X(eden_bytes) X(eden_max_bytes) X(tlab_bytes)
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

/* ---- groups and jobs ---- */
enum { G_GCBENCH, G_ALLOC, G_GEN, G_STACK, G_MTALLOC, G_MTGCBENCH, G_OLDTABLE, NGROUPKIND };
static const char *const group_names[NGROUPKIND] = { "gcbench", "alloc", "gen", "stack", "mtalloc", "mtgcbench",
                                                     "oldtable" };

#define MAXREPS 51
#define MAXGROUPS 32
#define MAXTHREADS 8
typedef struct group {
  int kind;                   /* G_* */
  const char *workload;       /* the child's workload argument */
  int threads, depth;         /* --threads / --depth of the child (0: not passed) */
  unsigned variants;          /* VBIT set */
  double load;                /* other processes' CPUs busy during the group */
  double load1_start, load1_end;
  double res[NVAR][NFIG][MAXREPS];
} group;

static group groups[MAXGROUPS];
static int ngroups;
static int reps = 5;
static bool quick, verbose;
static char dir[PATH_MAX];
static char version[NVAR][32];
static const int stack_depths[] = { 0, 1000, 10000 };
#define NDEPTHS 3
static int thread_list[MAXTHREADS], nthread_list;
static int live_list[MAXTHREADS], nlive_list;      /* oldtable: live heap sizes (MB) */

static group *add_group(int kind, const char *workload, int threads, int depth, unsigned variants) {
  if (ngroups == MAXGROUPS) { fprintf(stderr, "gcbench: too many groups\n"); exit(2); }
  group *g = &groups[ngroups++];
  g->kind = kind;
  g->workload = workload;
  g->threads = threads;
  g->depth = depth;
  g->variants = variants;
  return g;
}

static group *find_group(int kind, const char *workload, int threads, int depth) {
  for (int i = 0; i < ngroups; i++) {
    group *g = &groups[i];
    if (g->kind == kind && strcmp(g->workload, workload) == 0 && g->threads == threads && g->depth == depth)
      return g;
  }
  return NULL;
}

/* ---- statistics ---- */

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

/* The median of a figure over the repetitions; -1 if missing or the group is absent. */
static double med(const group *g, int v, int f) {
  if (g == NULL || !(g->variants & VBIT(v))) return -1;
  return median(g->res[v][f], reps);
}

/* The median over repetitions of num/den (each repetition's own ratio), times scale. */
static double med_ratio(const group *g, int v, int num, int den, double scale) {
  if (g == NULL || !(g->variants & VBIT(v))) return -1;
  double r[MAXREPS];
  for (int i = 0; i < reps; i++) {
    double a = g->res[v][num][i], b = g->res[v][den][i];
    if (a < 0 || b <= 0) return -1;
    r[i] = a / b * scale;
  }
  return median(r, reps);
}

/* ---- running the children ---- */

/* Parses "key=value" pairs of a result line into fig[] (and the version). */
static void parse(const char *line, double *fig, char *ver) {
  for (int f = 0; f < NFIG; f++) fig[f] = -1;
  char buf[8192];
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

/* Runs one variant on one group in a child process; fills fig[]. false if it failed. */
static bool run_child(int v, const group *g, double *fig) {
  char exe[PATH_MAX + 32], targ[16], darg[16], larg[16];
  snprintf(larg, sizeof larg, "%d", g->depth);
  snprintf(exe, sizeof exe, "%s/%s", dir, var[v].exe);
  snprintf(targ, sizeof targ, "%d", g->threads);
  snprintf(darg, sizeof darg, "%d", g->depth);
  char *argv[10];
  int n = 0;
  argv[n++] = exe;
  if (quick) argv[n++] = "--quick";
  if (g->threads > 0) { argv[n++] = "--threads"; argv[n++] = targ; }
  if (g->kind == G_STACK) { argv[n++] = "--depth"; argv[n++] = darg; }
  if (g->kind == G_OLDTABLE) { argv[n++] = "--live"; argv[n++] = larg; }
  argv[n++] = (char *)(var[v].workload ? var[v].workload : g->workload);
  argv[n] = NULL;
  int fds[2];
  if (pipe(fds) != 0) { perror("gcbench: pipe"); return false; }
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) { perror("gcbench: fork"); return false; }
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    if (var[v].unset) unsetenv(var[v].unset);
    if (var[v].set) putenv((char *)var[v].set);
    execv(exe, argv);
    fprintf(stderr, "gcbench: cannot run %s: %s\n", exe, strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  FILE *in = fdopen(fds[0], "r");
  char line[8192];
  bool got = false;
  while (fgets(line, sizeof line, in)) {
    if (strncmp(line, "gcbench-result ", 15) == 0) {
      parse(line, fig, version[v]);
      got = true;
      if (verbose) fprintf(stdout, "  [%s] %s", var[v].name, line);
    } else {
      fputs(line, stdout);
    }
  }
  fclose(in);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (got && fig[F_oom_calls] > 0)
    fprintf(stderr, "gcbench: %s %s (threads %d): hp called the out-of-memory handler %.0f times "
            "(GCBENCH_OOM_RETRY)\n", var[v].name, g->workload, g->threads, fig[F_oom_calls]);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !got) {
    fprintf(stderr, "gcbench: %s %s (threads %d, depth %d) failed (status %d)\n", var[v].name,
            g->workload, g->threads, g->depth, status);
    return false;
  }
  return true;
}

/* The 1-minute load average, or -1. */
static double loadavg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

/* Busy CPU time of the whole machine so far (ns), from /proc/stat's "cpu" line. */
static double machine_busy_ns(void) {
  unsigned long long u = 0, ni = 0, sy = 0, id = 0, io = 0, irq = 0, sirq = 0, st = 0;
  FILE *f = fopen("/proc/stat", "r");
  if (f == NULL) return -1;
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &u, &ni, &sy, &id, &io, &irq, &sirq, &st);
  fclose(f);
  if (n < 7) return -1;
  double hz = (double)sysconf(_SC_CLK_TCK);
  return (double)(u + ni + sy + irq + sirq + st) / hz * 1e9;
}

static void run_group(group *g, bool *ok) {
  g->load1_start = loadavg();
  double busy0 = machine_busy_ns(), t0 = 0, ours = 0;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  t0 = (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
  int vs[NVAR], nv = 0;
  for (int v = 0; v < NVAR; v++)
    if (g->variants & VBIT(v)) vs[nv++] = v;
  for (int r = 0; r < reps; r++) {
    for (int k = 0; k < nv; k++) {
      int v = vs[(r + k) % nv];                        /* alternate which goes first */
      double fig[NFIG];
      if (!run_child(v, g, fig)) { *ok = false; for (int f = 0; f < NFIG; f++) fig[f] = -1; }
      for (int f = 0; f < NFIG; f++) g->res[v][f][r] = fig[f];
      if (fig[F_cpu_ns] > 0) ours += fig[F_cpu_ns];
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double el = (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec - t0;
  double busy1 = machine_busy_ns();
  g->load = busy0 >= 0 && busy1 >= 0 && el > 0 ? (busy1 - busy0 - ours) / el : -1;
  if (g->load < 0 && busy0 >= 0) g->load = 0;
  g->load1_end = loadavg();
}

/* ---- printing ---- */

static void cell(char *out, size_t n, double v, double scale, const char *fmt) {
  if (v < 0) snprintf(out, n, "-");
  else snprintf(out, n, fmt, v / scale);
}

static void load_note(const group *g) {
  printf("\n(other processes kept %.2f CPUs busy meanwhile; 1-min load average %.2f -> %.2f)\n",
         g->load, g->load1_start, g->load1_end);
}

/* One table row over the group's variants, then each hp variant / Boehm. */
static void row(const group *g, const char *label, int f, double scale, const char *fmt) {
  char s[32];
  printf("| %-30s |", label);
  for (int v = 0; v < NVAR; v++)
    if (g->variants & VBIT(v)) {
      cell(s, sizeof s, med(g, v, f), scale, fmt);
      printf(" %11s |", s);
    }
  double b = med(g, V_BOEHM, f);
  for (int v = 0; v < NVAR; v++)
    if ((g->variants & VBIT(v)) && is_hp(v) && (g->variants & VBIT(V_BOEHM))) {
      double h = med(g, v, f);
      if (h >= 0 && b > 0) printf(" %9.3f |", h / b);
      else printf(" %9s |", "-");
    }
  printf("\n");
}

static void header(const group *g) {
  printf("| %-30s |", "figure");
  for (int v = 0; v < NVAR; v++)
    if (g->variants & VBIT(v)) printf(" %11s |", var[v].name);
  for (int v = 0; v < NVAR; v++)
    if ((g->variants & VBIT(v)) && is_hp(v) && (g->variants & VBIT(V_BOEHM))) {
      char s[32];
      snprintf(s, sizeof s, "%s/boehm", var[v].name);
      printf(" %9s |", s);
    }
  printf("\n|--------------------------------|");
  for (int v = 0; v < NVAR; v++)
    if (g->variants & VBIT(v)) printf("------------:|");
  for (int v = 0; v < NVAR; v++)
    if ((g->variants & VBIT(v)) && is_hp(v) && (g->variants & VBIT(V_BOEHM))) printf("----------:|");
  printf("\n");
}

static void print_table(const group *g) {
  printf("\n### %s (median of %d)\n\n", g->workload, reps);
  header(g);
  row(g, "wall time (ms)", F_wall_ns, 1e6, "%.1f");
  if (reps > 1) {
    printf("| %-30s |", "  range over repetitions");
    for (int v = 0; v < NVAR; v++)
      if (g->variants & VBIT(v)) {
        double lo = g->res[v][F_wall_ns][0], hi = lo;
        for (int i = 1; i < reps; i++) {
          double x = g->res[v][F_wall_ns][i];
          lo = x < lo ? x : lo;
          hi = x > hi ? x : hi;
        }
        char r[48];
        snprintf(r, sizeof r, "%.0f-%.0f", lo / 1e6, hi / 1e6);
        printf(" %11s |", r);
      }
    for (int v = 0; v < NVAR; v++)
      if ((g->variants & VBIT(v)) && is_hp(v) && (g->variants & VBIT(V_BOEHM))) printf(" %9s |", "");
    printf("\n");
  }
  row(g, "CPU time, process (ms)", F_cpu_ns, 1e6, "%.1f");
  if (g->kind == G_ALLOC || g->kind == G_GEN) {
    printf("| %-30s |", g->kind == G_ALLOC ? "ns per allocation" : "ns per mutation (all phases)");
    for (int v = 0; v < NVAR; v++)
      if (g->variants & VBIT(v)) printf(" %11.2f |", med_ratio(g, v, F_wall_ns, F_ops, 1));
    double b = med_ratio(g, V_BOEHM, F_wall_ns, F_ops, 1);
    for (int v = 0; v < NVAR; v++)
      if ((g->variants & VBIT(v)) && is_hp(v)) printf(" %9.3f |", med_ratio(g, v, F_wall_ns, F_ops, 1) / b);
    printf("\n");
  }
  row(g, "GC time (ms)", F_gc_ns, 1e6, "%.1f");
  row(g, "collections", F_collections, 1, "%.0f");
  row(g, "  minor", F_minor, 1, "%.0f");
  row(g, "  major / full", F_major, 1, "%.0f");
  row(g, "max pause (ms)", F_max_ns, 1e6, "%.3f");
  row(g, "p99 pause (ms)", F_p99_ns, 1e6, "%.3f");
  row(g, "p50 pause (ms)", F_p50_ns, 1e6, "%.3f");
  row(g, "hp minor max pause (ms)", F_minor_max_ns, 1e6, "%.3f");
  row(g, "hp minor p99 pause (ms)", F_minor_p99_ns, 1e6, "%.3f");
  row(g, "hp major max pause (ms)", F_major_max_ns, 1e6, "%.3f");
  row(g, "hp concurrent cycles", F_cycles, 1, "%.0f");
  row(g, "hp cycle start max pause (ms)", F_cycle_start_max_ns, 1e6, "%.3f");
  row(g, "hp cycle finish max pause (ms)", F_cycle_finish_max_ns, 1e6, "%.3f");
  row(g, "peak RSS (MiB)", F_rss_kb, 1024, "%.1f");
  row(g, "heap at end (MiB)", F_heap_bytes, 1048576, "%.1f");
  row(g, "allocated (MiB)", F_allocated_bytes, 1048576, "%.0f");
  row(g, "hp copied to survivors (MiB)", F_copied_bytes, 1048576, "%.0f");
  row(g, "hp promoted (MiB)", F_promoted_bytes, 1048576, "%.0f");
  row(g, "hp pinned by the scan (KiB)", F_pinned_bytes, 1024, "%.0f");
  load_note(g);
}

static void scan_row(const char *label, const group *g, double (*fn)(const group *, int), const char *fmt) {
  printf("| %-44s |", label);
  for (int v = 0; v < NVAR; v++)
    if ((g->variants & VBIT(v)) && is_hp(v)) {
      double x = fn(g, v);
      char s[32];
      if (x < 0) snprintf(s, sizeof s, "-");
      else snprintf(s, sizeof s, fmt, x);
      printf(" %11s |", s);
    }
  printf("\n");
}
static double sc_bytes_total(const group *g, int v) { return med(g, v, F_stack_bytes) < 0 ? -1 : med(g, v, F_stack_bytes) / 1024; }
static double sc_bytes_per(const group *g, int v) { return med_ratio(g, v, F_stack_bytes, F_collections, 1.0 / 1024); }
static double sc_ns_total(const group *g, int v) { return med(g, v, F_stack_scan_ns) < 0 ? -1 : med(g, v, F_stack_scan_ns) / 1e6; }
static double sc_us_per_kib(const group *g, int v) { return med_ratio(g, v, F_stack_scan_ns, F_stack_bytes, 1024 / 1e3); }
static double sc_minor_total(const group *g, int v) { return med(g, v, F_minor_total_ns) < 0 ? -1 : med(g, v, F_minor_total_ns) / 1e6; }
static double sc_minor_scan(const group *g, int v) { return med(g, v, F_minor_scan_ns) < 0 ? -1 : med(g, v, F_minor_scan_ns) / 1e6; }
static double sc_minor_share(const group *g, int v) { return med_ratio(g, v, F_minor_scan_ns, F_minor_total_ns, 100); }
static double sc_minor_per(const group *g, int v) { return med_ratio(g, v, F_minor_scan_ns, F_minor, 1e-3); }
static double sc_major_share(const group *g, int v) { return med_ratio(g, v, F_major_scan_ns, F_major_total_ns, 100); }
static double sc_gc_share(const group *g, int v) { return med_ratio(g, v, F_stack_scan_ns, F_gc_ns, 100); }

static void print_scan_table(const group *g, const char *title) {
  printf("\n#### %s: hp's conservative stack scan (median of %d)\n\n", title, reps);
  printf("| %-44s |", "figure");
  for (int v = 0; v < NVAR; v++)
    if ((g->variants & VBIT(v)) && is_hp(v)) printf(" %11s |", var[v].name);
  printf("\n|----------------------------------------------|");
  for (int v = 0; v < NVAR; v++)
    if ((g->variants & VBIT(v)) && is_hp(v)) printf("------------:|");
  printf("\n");
  scan_row("stack scanned, all collections (KiB)", g, sc_bytes_total, "%.0f");
  scan_row("stack scanned per collection (KiB)", g, sc_bytes_per, "%.2f");
  scan_row("scan time, all collections (ms)", g, sc_ns_total, "%.3f");
  scan_row("scan cost (us per KiB scanned)", g, sc_us_per_kib, "%.3f");
  scan_row("scan time per minor collection (us)", g, sc_minor_per, "%.2f");
  scan_row("minor pauses, total (ms)", g, sc_minor_total, "%.2f");
  scan_row("  of which stack scanning (ms)", g, sc_minor_scan, "%.3f");
  scan_row("  share of minor pause time scanning (%)", g, sc_minor_share, "%.2f");
  scan_row("share of major pause time scanning (%)", g, sc_major_share, "%.2f");
  scan_row("share of all GC time scanning (%)", g, sc_gc_share, "%.2f");
}

/* Stack-scan micro-benchmark: one table over depths and variants. */
static void print_stack_tables(void) {
  static const char *const wl[2] = { "stack", "stackptr" };
  printf("\n### stack: minor collections under a deep stack (median of %d; per collection)\n\n", reps);
  printf("`stack`: every frame holds %s; `stackptr`: each frame also holds one managed pointer to an "
         "object it allocated. hp-noscan: the same frames, precise roots only (no scan). Boehm: "
         "full collections (it has no other), for reference. scan us/KiB = hp's stack_scan_ns / "
         "stack_bytes_scanned over the timed collections (fixed costs included); marginal = the p50 "
         "pause's growth over depth 0 per KiB of stack added.\n\n", "14 words of integer locals");
  printf("| workload | depth | variant | stack (KiB) | scanned/coll (KiB) | pause p50 (us) | pause mean (us) "
         "| first (us) | scan/coll, mean (us) | scan us/KiB | p50 - depth 0 (us) | marginal us/KiB |\n");
  printf("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (int w = 0; w < 2; w++)
    for (int v = 0; v < NVAR; v++)
      for (int d = 0; d < NDEPTHS; d++) {
        const group *g = find_group(G_STACK, wl[w], 0, stack_depths[d]);
        const group *g0 = find_group(G_STACK, wl[w], 0, 0);
        if (g == NULL || !(g->variants & VBIT(v))) continue;
        double kib = med(g, v, F_stack_depth_bytes) / 1024;
        double scanned = med(g, v, F_scan_bytes_per_coll) / 1024;
        double p50 = med(g, v, F_coll_p50_ns) / 1e3, first = med(g, v, F_coll_first_ns) / 1e3;
        double scan = med(g, v, F_scan_ns_per_coll) / 1e3;
        double per = med_ratio(g, v, F_scan_ns_per_coll, F_scan_bytes_per_coll, 1024 / 1e3);
        double base = g0 ? med(g0, v, F_coll_p50_ns) / 1e3 : -1;
        double kib0 = g0 ? med(g0, v, F_stack_depth_bytes) / 1024 : -1;
        bool scans = is_hp(v) && v != V_HPNC;              /* hp-noscan and Boehm: no scan figures */
        char scannedS[32], scanS[32], perS[32], marg[32], margk[32];
        cell(scannedS, sizeof scannedS, scans ? scanned : -1, 1, "%.1f");
        cell(scanS, sizeof scanS, scans ? scan : -1, 1, "%.1f");
        cell(perS, sizeof perS, scans ? per : -1, 1, "%.4f");
        if (base >= 0 && stack_depths[d] > 0) {
          snprintf(marg, sizeof marg, "%.1f", p50 - base);
          snprintf(margk, sizeof margk, "%.4f", (p50 - base) / (kib - kib0));
        } else {
          snprintf(marg, sizeof marg, "-");
          snprintf(margk, sizeof margk, "-");
        }
        printf("| %s | %d | %s | %.0f | %s | %.1f | %.1f | %.1f | %s | %s | %s | %s |\n", wl[w], stack_depths[d],
               var[v].name, kib, scannedS, p50, med(g, v, F_coll_mean_ns) / 1e3, first, scanS, perS, marg, margk);
      }
}

static void print_mtalloc(void) {
  printf("\n### mtalloc: threads allocating 32-byte objects and dropping them (median of %d)\n\n", reps);
  printf("Each thread allocates the same number of objects; throughput = all threads' objects / the "
         "parallel phase (start barrier to last join); CPU efficiency = CPU ns per object at 1 thread / "
         "at N threads (1.00: no extra work per object). `calib` (no collector): each thread writes the "
         "same memory as its mtalloc objects (32 KiB memsets and a store per 32 bytes): the scaling "
         "the machine allowed at the time. Boehm: GC_allow_register_threads starts its parallel marker "
         "(markers = 1 + GC_get_parallel()).\n\n");
  printf("| threads | variant | phase (ms) | CPU (ms) | M objects/s | vs 1 thread | CPU efficiency | collections "
         "| GC time (ms) | peak RSS (MiB) | Boehm markers | others' CPUs |\n");
  printf("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (int t = 0; t < nthread_list; t++) {
    const group *g = find_group(G_MTALLOC, "mtalloc", thread_list[t], 0);
    const group *g1 = find_group(G_MTALLOC, "mtalloc", 1, 0);
    if (g == NULL) continue;
    for (int v = 0; v < NVAR; v++) {
      if (!(g->variants & VBIT(v))) continue;
      int w = v == V_CALIB ? 0 : 1;
      double thr = med_ratio(g, v, F_ops, F_phase_ns, 1e3);
      double thr1 = g1 ? med_ratio(g1, v, F_ops, F_phase_ns, 1e3) : -1;
      double cpo = med_ratio(g, v, F_cpu_ns, F_ops, 1), cpo1 = g1 ? med_ratio(g1, v, F_cpu_ns, F_ops, 1) : -1;
      char sc[32], ef[32], mk[32], name[32];
      if (thr1 > 0) snprintf(sc, sizeof sc, "%.2fx", thr / thr1);
      else snprintf(sc, sizeof sc, "-");
      if (cpo1 > 0) snprintf(ef, sizeof ef, "%.2f", cpo1 / cpo);
      else snprintf(ef, sizeof ef, "-");
      if (med(g, v, F_parallel_markers) >= 0) snprintf(mk, sizeof mk, "1+%.0f", med(g, v, F_parallel_markers));
      else snprintf(mk, sizeof mk, "-");
      snprintf(name, sizeof name, "%s", w == 0 ? "calib (no GC)" : var[v].name);
      char col[32], gct[32];
      cell(col, sizeof col, w == 0 ? -1 : med(g, v, F_collections), 1, "%.0f");
      cell(gct, sizeof gct, w == 0 ? -1 : med(g, v, F_gc_ns), 1e6, "%.1f");
      printf("| %d | %s | %.1f | %.1f | %.1f | %s | %s | %s | %s | %.1f | %s | %.2f |\n", thread_list[t], name,
             med(g, v, F_phase_ns) / 1e6, med(g, v, F_cpu_ns) / 1e6, thr, sc, ef, col, gct,
             med(g, v, F_rss_kb) / 1024, mk, g->load);
    }
  }
}

static void print_mtgcbench(void) {
  printf("\n### mtgcbench: GCBench's per-thread part on N threads, shared long-lived data (median of %d)\n\n", reps);
  printf("Whole = the process (serial set-up: stretch tree, long-lived tree and array, then the threads); "
         "phase = start barrier to last join. Ratios: Boehm (default) / this variant.\n\n");
  printf("| threads | variant | whole (ms) | phase (ms) | CPU (ms) | boehm/this wall | boehm/this CPU "
         "| collections | GC time (ms) | max pause (ms) | peak RSS (MiB) | Boehm markers |\n");
  printf("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (int t = 0; t < nthread_list; t++) {
    const group *g = find_group(G_MTGCBENCH, "mtgcbench", thread_list[t], 0);
    if (g == NULL) continue;
    double bw = med(g, V_BOEHM, F_wall_ns), bc = med(g, V_BOEHM, F_cpu_ns);
    for (int v = 0; v < NVAR; v++) {
      if (!(g->variants & VBIT(v))) continue;
      char mk[32];
      if (med(g, v, F_parallel_markers) >= 0) snprintf(mk, sizeof mk, "1+%.0f", med(g, v, F_parallel_markers));
      else snprintf(mk, sizeof mk, "-");
      printf("| %d | %s | %.1f | %.1f | %.1f | %.2fx | %.2fx | %.0f | %.1f | %.2f | %.1f | %s |\n", thread_list[t],
             var[v].name, med(g, v, F_wall_ns) / 1e6, med(g, v, F_phase_ns) / 1e6, med(g, v, F_cpu_ns) / 1e6,
             bw / med(g, v, F_wall_ns), bc / med(g, v, F_cpu_ns), med(g, v, F_collections), med(g, v, F_gc_ns) / 1e6,
             med(g, v, F_max_ns) / 1e6, med(g, v, F_rss_kb) / 1024, mk);
    }
  }
  for (int t = 0; t < nthread_list; t++) {
    const group *g = find_group(G_MTGCBENCH, "mtgcbench", thread_list[t], 0);
    if (g) printf("\n(%d threads: other processes kept %.2f CPUs busy; load average %.2f -> %.2f)", thread_list[t],
                  g->load, g->load1_start, g->load1_end);
  }
  printf("\n");
}

/* hp's stop-the-world times and pause distributions in the multi-threaded groups. */
static void print_stops(void) {
  printf("\n### hp: stopping the world and pauses, by thread count (median of %d)\n\n", reps);
  printf("stop = from a collection's request until every other attached thread is parked at a safe "
         "point (hp_gc_stats stop_ns_*; mean over all collections). Pauses include the stop.\n\n");
  printf("| workload | threads | variant | minor+major | stop mean (us) | stop max (us) | minor p50 (ms) "
         "| minor p99 (ms) | minor max (ms) | major p50 (ms) | major p99 (ms) | major max (ms) |\n");
  printf("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (int k = G_MTALLOC; k <= G_MTGCBENCH; k++)
    for (int v = 0; v < NVAR; v++)
      for (int t = 0; t < nthread_list; t++) {
        const group *g = find_group(k, group_names[k], thread_list[t], 0);
        if (g == NULL || !is_hp(v) || !(g->variants & VBIT(v))) continue;
        char maj[3][32];
        int majf[3] = { F_major_p50_ns, F_major_p99_ns, F_major_max_ns };
        for (int i = 0; i < 3; i++) cell(maj[i], sizeof maj[i], med(g, v, F_major) > 0 ? med(g, v, majf[i]) : -1, 1e6, "%.3f");
        printf("| %s | %d | %s | %.0f+%.0f | %.2f | %.1f | %.3f | %.3f | %.3f | %s | %s | %s |\n", group_names[k],
               thread_list[t], var[v].name, med(g, v, F_minor), med(g, v, F_major), med(g, v, F_stop_mean_ns) / 1e3,
               med(g, v, F_stop_max_ns) / 1e3, med(g, v, F_minor_p50_ns) / 1e6, med(g, v, F_minor_p99_ns) / 1e6,
               med(g, v, F_minor_max_ns) / 1e6, maj[0], maj[1], maj[2]);
      }
}

/* The young generation per workload: the eden size the adaptive policy chose, how often
 * minor collections came, their pauses, and how fast they copied (one collector thread:
 * bytes copied and promoted per second of minor pause, i.e. per core). */
static void young_row(const group *g, int v, const char *label) {
  double wall = med(g, v, F_wall_ns), minors = med(g, v, F_minor), total = med(g, v, F_minor_total_ns);
  double moved = med(g, v, F_copied_bytes) + med(g, v, F_promoted_bytes);
  char eden[32], peak[32], tlab[32];
  cell(eden, sizeof eden, med(g, v, F_eden_bytes), 1048576.0, "%.2f");
  cell(peak, sizeof peak, med(g, v, F_eden_max_bytes), 1048576.0, "%.2f");
  cell(tlab, sizeof tlab, med(g, v, F_tlab_bytes), 1024.0, "%.0f");
  printf("| %s | %s | %s | %s | %s | %.0f | %.0f | %.3f | %.3f | %.3f | %.0f |\n", label, var[v].name, peak, eden,
         tlab, minors, wall > 0 ? minors / (wall / 1e9) : -1, med(g, v, F_minor_p50_ns) / 1e6,
         med(g, v, F_minor_p99_ns) / 1e6, med(g, v, F_minor_max_ns) / 1e6,
         total > 0 ? moved / 1048576.0 / (total / 1e9) : -1);
}

static void print_young(void) {
  printf("\n### hp: the young generation by workload (median of %d)\n\n", reps);
  printf("eden: the largest size the adaptive policy chose, and the size at the end (after the worker threads "
         "detached); TLAB: the largest per-thread TLAB size chosen; copy rate: bytes copied and promoted "
         "per second of minor pause (one collector thread).\n\n");
  printf("| workload | variant | eden max (MiB) | eden at end (MiB) | TLAB (KiB) | minors | minors/s | minor p50 (ms) "
         "| minor p99 (ms) | minor max (ms) | copy rate (MB/s per core) |\n");
  printf("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (int i = 0; i < ngroups; i++) {
    const group *g = &groups[i];
    char label[64];
    if (g->kind == G_STACK) continue;
    if (g->threads > 0) snprintf(label, sizeof label, "%s, %d thread%s", g->workload, g->threads, g->threads > 1 ? "s" : "");
    else snprintf(label, sizeof label, "%s", g->workload);
    for (int v = 0; v < NVAR; v++)
      if (is_hp(v) && (g->variants & VBIT(v)) && med(g, v, F_minor) > 0) young_row(g, v, label);
  }
}

/* One target line: `value` against `goal` (value >= goal when `at_least`); `info` marks a
 * line that is not a target itself but explains one. */
static void target_line(const char *what, double value, double goal, bool at_least, const char *unit,
                        bool info) {
  if (value < 0 || value != value) return;
  bool met = at_least ? value >= goal : value <= goal;
  char v[32], g[32];
  snprintf(v, sizeof v, "%.2f%s", value, unit);
  snprintf(g, sizeof g, "%s %.2f%s", at_least ? ">=" : "<=", goal, unit);
  printf("| %-62s | %10s | %10s | %-8s |\n", what, v, g, info ? (met ? "(met)" : "(missed)") : met ? "met" : "MISSED");
}
#define target(what, value, goal, at_least, unit) target_line(what, value, goal, at_least, unit, false)

static void parse_list(const char *s, int *out, int *n, int max) {
  *n = 0;
  for (const char *p = s; *p && *n < max;) {
    out[(*n)++] = atoi(p);
    p = strchr(p, ',');
    if (p == NULL) break;
    p++;
  }
}

int main(int argc, char **argv) {
  bool only[NGROUPKIND];
  for (int k = 0; k < NGROUPKIND; k++) only[k] = true;
  bool reps_set = false, threads_set = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = true;
    else if (strcmp(argv[i], "-v") == 0) verbose = true;
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) { reps = atoi(argv[++i]); reps_set = true; }
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      parse_list(argv[++i], thread_list, &nthread_list, MAXTHREADS);
      threads_set = true;
    } else if (strcmp(argv[i], "--live") == 0 && i + 1 < argc) {
      parse_list(argv[++i], live_list, &nlive_list, MAXTHREADS);
    } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      /* whole comma-separated names: "gcbench" must not select mtgcbench */
      char buf[256];
      snprintf(buf, sizeof buf, ",%s,", argv[i + 1]);
      for (int k = 0; k < NGROUPKIND; k++) {
        char key[32];
        snprintf(key, sizeof key, ",%s,", group_names[k]);
        only[k] = strstr(buf, key) != NULL;
      }
      i++;
    } else {
      fprintf(stderr, "usage: gcbench [--quick] [--reps N] [--only gcbench,alloc,gen,stack,mtalloc,mtgcbench,oldtable] "
                      "[--threads 1,2,4] [--live 70,300] [-v]\n");
      return 2;
    }
  }
  if (quick && !reps_set) reps = 1;
  if (nlive_list == 0) {
    if (quick) parse_list("16", live_list, &nlive_list, MAXTHREADS);
    else parse_list("70,300", live_list, &nlive_list, MAXTHREADS);
  }
  if (!threads_set) {
    if (quick) parse_list("1,2", thread_list, &nthread_list, MAXTHREADS);
    else parse_list("1,2,4", thread_list, &nthread_list, MAXTHREADS);
  }
  if (reps < 1 || reps > MAXREPS) { fprintf(stderr, "gcbench: --reps must be 1..%d\n", MAXREPS); return 2; }
  for (int t = 0; t < nthread_list; t++)
    if (thread_list[t] < 1 || thread_list[t] > 64) { fprintf(stderr, "gcbench: bad thread count\n"); return 2; }

  ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
  if (n <= 0) { perror("gcbench: /proc/self/exe"); return 2; }
  dir[n] = 0;
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;

  /* The groups, in running order. */
  unsigned hp3 = VBIT(V_HP) | VBIT(V_HPNC) | VBIT(V_HPCONS);
  if (only[G_GCBENCH]) add_group(G_GCBENCH, "gcbench", 0, 0, hp3 | VBIT(V_BOEHM));
  if (only[G_ALLOC]) add_group(G_ALLOC, "alloc", 0, 0, VBIT(V_HP) | VBIT(V_BOEHM));
  if (only[G_GEN]) add_group(G_GEN, "gen", 0, 0, VBIT(V_HP) | VBIT(V_BOEHM));
  if (only[G_STACK])
    for (int d = 0; d < NDEPTHS; d++) {
      add_group(G_STACK, "stack", 0, stack_depths[d], VBIT(V_HP) | VBIT(V_HPNC) | VBIT(V_BOEHM));
      add_group(G_STACK, "stackptr", 0, stack_depths[d], hp3 | VBIT(V_BOEHM));
    }
  if (only[G_MTALLOC])
    for (int t = 0; t < nthread_list; t++)
      add_group(G_MTALLOC, "mtalloc", thread_list[t], 0, VBIT(V_HP) | VBIT(V_BOEHM) | VBIT(V_CALIB));
  if (only[G_MTGCBENCH])
    for (int t = 0; t < nthread_list; t++)
      add_group(G_MTGCBENCH, "mtgcbench", thread_list[t], 0, hp3 | VBIT(V_BOEHM) | VBIT(V_BOEHM1));
  if (only[G_OLDTABLE])
    for (int l = 0; l < nlive_list; l++)
      add_group(G_OLDTABLE, "oldtable", 0, live_list[l], VBIT(V_HP) | VBIT(V_HPSTW) | VBIT(V_BOEHM));

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
  for (int i = 0; i < ngroups; i++) run_group(&groups[i], &ok);
  if (!ok) { fprintf(stderr, "gcbench: a child failed\n"); return 1; }

  now = time(NULL);
  strftime(date, sizeof date, "%H:%M UTC", gmtime(&now));
  printf("\nhp %s, Boehm GC %s; each variant in its own process; figures are medians; ended %s, load "
         "average %.2f (a wall time well above the CPU time means other processes took the CPU).\n",
         version[V_HP][0] ? version[V_HP] : version[V_HPCONS], version[V_BOEHM], date, loadavg());
  printf("Variants: hp = precise shadow-stack roots, default config (conservative scan on); hp-noscan = "
         "precise roots only (HP_CONSERVATIVE=0); hp-cons = no shadow stack, conservative scan only; "
         "boehm = Boehm GC defaults; boehm-1m = GC_MARKERS=1.\n");

  const group *gb = find_group(G_GCBENCH, "gcbench", 0, 0);
  const group *ga = find_group(G_ALLOC, "alloc", 0, 0);
  const group *gg = find_group(G_GEN, "gen", 0, 0);
  if (gb) {
    print_table(gb);
    print_scan_table(gb, "gcbench");
  }
  if (ga) print_table(ga);
  if (gg) print_table(gg);
  if (only[G_STACK]) print_stack_tables();
  if (only[G_MTALLOC]) print_mtalloc();
  if (only[G_MTGCBENCH]) {
    print_mtgcbench();
    for (int t = 0; t < nthread_list; t++) {
      const group *g = find_group(G_MTGCBENCH, "mtgcbench", thread_list[t], 0);
      char title[64];
      snprintf(title, sizeof title, "mtgcbench, %d thread%s", thread_list[t], thread_list[t] > 1 ? "s" : "");
      if (g) print_scan_table(g, title);
    }
  }
  if (only[G_MTALLOC] || only[G_MTGCBENCH]) print_stops();
  if (only[G_OLDTABLE]) {
    for (int l = 0; l < nlive_list; l++) {
      const group *g = find_group(G_OLDTABLE, "oldtable", 0, live_list[l]);
      if (g == NULL) continue;
      printf("\n#### oldtable, %d MB live (hp = concurrent cycles, hp-stw = HP_MARK_MODE=0)\n", live_list[l]);
      print_table(g);
    }
    printf("\n### oldtable: pauses against the live heap (ms; median of %d)\n\n", reps);
    printf("| live (MB) | variant | p50 | p99 | max | wall (ms) | peak RSS (MiB) |\n|---:|---|---:|---:|---:|---:|---:|\n");
    for (int l = 0; l < nlive_list; l++) {
      const group *g = find_group(G_OLDTABLE, "oldtable", 0, live_list[l]);
      if (g == NULL) continue;
      const int vs[] = { V_HP, V_HPSTW, V_BOEHM };
      for (int i = 0; i < 3; i++)
        printf("| %d | %s | %.3f | %.3f | %.3f | %.0f | %.1f |\n", live_list[l], var[vs[i]].name,
               med(g, vs[i], F_p50_ns) / 1e6, med(g, vs[i], F_p99_ns) / 1e6, med(g, vs[i], F_max_ns) / 1e6,
               med(g, vs[i], F_wall_ns) / 1e6, med(g, vs[i], F_rss_kb) / 1024);
    }
  }
  print_young();

  printf("\n### targets%s\n\n", quick ? " (quick run: sizes too small to judge)" : "");
  printf("| %-62s | %10s | %10s | %-8s |\n", "target", "measured", "goal", "");
  printf("|%s|%s|%s|%s|\n", "----------------------------------------------------------------",
         "-----------:", "-----------:", "----------");
  if (gb) {
    target("GCBench: Boehm wall / hp wall", med(gb, V_BOEHM, F_wall_ns) / med(gb, V_HP, F_wall_ns), 2, true, "x");
    target("GCBench: hp peak RSS / Boehm peak RSS", med(gb, V_HP, F_rss_kb) / med(gb, V_BOEHM, F_rss_kb), 1, false, "x");
    target("GCBench conservative-only: Boehm wall / hp-cons wall",
           med(gb, V_BOEHM, F_wall_ns) / med(gb, V_HPCONS, F_wall_ns), 1.5, true, "x");
    target_line("  the same in CPU time", med(gb, V_BOEHM, F_cpu_ns) / med(gb, V_HPCONS, F_cpu_ns), 1.5, true, "x", true);
    target("GCBench conservative-only: hp-cons peak RSS / Boehm peak RSS",
           med(gb, V_HPCONS, F_rss_kb) / med(gb, V_BOEHM, F_rss_kb), 1, false, "x");
  }
  const group *all[] = { gb, ga, gg };
  for (int i = 0; i < 3; i++) {
    if (all[i] == NULL || med(all[i], V_HP, F_minor) <= 0) continue;
    char what[80];
    snprintf(what, sizeof what, "%s: hp minor p99 pause (ms)", all[i]->workload);
    target(what, med(all[i], V_HP, F_minor_p99_ns) / 1e6, 1, false, "");
  }
  if (ga)
    target("alloc: hp allocations/s / Boehm allocations/s", med(ga, V_BOEHM, F_wall_ns) / med(ga, V_HP, F_wall_ns), 5, true, "x");
  for (int l = 0; l < nlive_list && only[G_OLDTABLE]; l++) {
    const group *g = find_group(G_OLDTABLE, "oldtable", 0, live_list[l]);
    if (g == NULL) continue;
    char what[80];
    snprintf(what, sizeof what, "oldtable %d MB: hp max pause (ms)", live_list[l]);
    target(what, med(g, V_HP, F_max_ns) / 1e6, 5, false, "");
    snprintf(what, sizeof what, "oldtable %d MB: Boehm max pause / hp max pause", live_list[l]);
    target(what, med(g, V_BOEHM, F_max_ns) / med(g, V_HP, F_max_ns), 50, true, "x");
    snprintf(what, sizeof what, "oldtable %d MB: hp wall / hp-stw wall", live_list[l]);
    target(what, med(g, V_HP, F_wall_ns) / med(g, V_HPSTW, F_wall_ns), 1.1, false, "x");
    snprintf(what, sizeof what, "oldtable %d MB: Boehm wall / hp wall", live_list[l]);
    target(what, med(g, V_BOEHM, F_wall_ns) / med(g, V_HP, F_wall_ns), 2, true, "x");
    target_line("  the same in CPU time", med(g, V_BOEHM, F_cpu_ns) / med(g, V_HP, F_cpu_ns), 2, true, "x", true);
    snprintf(what, sizeof what, "oldtable %d MB: hp peak RSS / Boehm peak RSS", live_list[l]);
    target(what, med(g, V_HP, F_rss_kb) / med(g, V_BOEHM, F_rss_kb), 1, false, "x");
  }
  if (gb) target("GCBench: hp max pause (ms)", med(gb, V_HP, F_max_ns) / 1e6, 5, false, "");
  if (gg) {
    target("gen: Boehm max pause / hp max pause", med(gg, V_BOEHM, F_max_ns) / med(gg, V_HP, F_max_ns), 20, true, "x");
    target_line("gen, for reference: Boehm max pause / hp minor max pause",
                med(gg, V_BOEHM, F_max_ns) / med(gg, V_HP, F_minor_max_ns), 20, true, "x", true);
    target("gen: Boehm wall / hp wall", med(gg, V_BOEHM, F_wall_ns) / med(gg, V_HP, F_wall_ns), 3, true, "x");
  }
  const group *m1 = find_group(G_MTALLOC, "mtalloc", 1, 0), *m2 = find_group(G_MTALLOC, "mtalloc", 2, 0);
  if (m1 && m2) {
    target("mtalloc: hp throughput, 2 threads / 1 thread",
           med_ratio(m2, V_HP, F_ops, F_phase_ns, 1) / med_ratio(m1, V_HP, F_ops, F_phase_ns, 1), 1.9, true, "x");
    target_line("  Boehm, for reference",
                med_ratio(m2, V_BOEHM, F_ops, F_phase_ns, 1) / med_ratio(m1, V_BOEHM, F_ops, F_phase_ns, 1), 1.9, true,
                "x", true);
    target_line("  the machine (calib, no GC), for reference",
                med_ratio(m2, V_CALIB, F_ops, F_phase_ns, 1) / med_ratio(m1, V_CALIB, F_ops, F_phase_ns, 1), 1.9, true,
                "x", true);
    target_line("  hp CPU efficiency, 2 threads (CPU per object, 1T / 2T)",
                med_ratio(m1, V_HP, F_cpu_ns, F_ops, 1) / med_ratio(m2, V_HP, F_cpu_ns, F_ops, 1), 0.95, true, "", true);
  }
  for (int t = 0; t < nthread_list; t++) {
    const group *g = find_group(G_MTGCBENCH, "mtgcbench", thread_list[t], 0);
    if (g == NULL) continue;
    char what[80];
    snprintf(what, sizeof what, "mtgcbench, %d thread%s: Boehm wall / hp wall", thread_list[t], thread_list[t] > 1 ? "s" : "");
    target(what, med(g, V_BOEHM, F_wall_ns) / med(g, V_HP, F_wall_ns), 2, true, "x");
    target_line("  the same in CPU time", med(g, V_BOEHM, F_cpu_ns) / med(g, V_HP, F_cpu_ns), 2, true, "x", true);
    target_line("  hp-noscan: Boehm wall / hp-noscan wall", med(g, V_BOEHM, F_wall_ns) / med(g, V_HPNC, F_wall_ns), 2,
                true, "x", true);
    target_line("  hp-cons: Boehm wall / hp-cons wall", med(g, V_BOEHM, F_wall_ns) / med(g, V_HPCONS, F_wall_ns), 2,
                true, "x", true);
  }

  /* The young generation's targets (issue 13). */
  printf("\n### targets of the young generation\n\n");
  printf("| %-62s | %10s | %10s | %-8s |\n", "target", "measured", "goal", "");
  printf("|%s|%s|%s|%s|\n", "----------------------------------------------------------------",
         "-----------:", "-----------:", "----------");
  const group *m4 = find_group(G_MTALLOC, "mtalloc", 4, 0);
  if (m1 && m2) {
    target("mtalloc: hp throughput, 2 threads / 1 thread",
           med_ratio(m2, V_HP, F_ops, F_phase_ns, 1) / med_ratio(m1, V_HP, F_ops, F_phase_ns, 1), 1.9, true, "x");
    if (m4)
      target("mtalloc: hp throughput, 4 threads / 2 threads",
             med_ratio(m4, V_HP, F_ops, F_phase_ns, 1) / med_ratio(m2, V_HP, F_ops, F_phase_ns, 1), 1, true, "x");
  }
  const group *t1 = find_group(G_MTGCBENCH, "mtgcbench", 1, 0), *t2 = find_group(G_MTGCBENCH, "mtgcbench", 2, 0);
  const group *t4 = find_group(G_MTGCBENCH, "mtgcbench", 4, 0);
  if (t1 && t2) {
    target("mtgcbench: hp throughput, 2 threads / 1 thread",
           med_ratio(t2, V_HP, F_ops, F_phase_ns, 1) / med_ratio(t1, V_HP, F_ops, F_phase_ns, 1), 1.7, true, "x");
    target_line("  hp-noscan", med_ratio(t2, V_HPNC, F_ops, F_phase_ns, 1) / med_ratio(t1, V_HPNC, F_ops, F_phase_ns, 1),
                1.7, true, "x", true);
    if (t4)
      target("mtgcbench: hp throughput, 4 threads / 2 threads",
             med_ratio(t4, V_HP, F_ops, F_phase_ns, 1) / med_ratio(t2, V_HP, F_ops, F_phase_ns, 1), 1, true, "x");
  }
  if (gb) {
    target("GCBench, precise roots: hp-noscan wall / Boehm wall",
           med(gb, V_HPNC, F_wall_ns) / med(gb, V_BOEHM, F_wall_ns), 0.4, false, "x");
    target("GCBench, precise roots: hp-noscan peak RSS / Boehm peak RSS",
           med(gb, V_HPNC, F_rss_kb) / med(gb, V_BOEHM, F_rss_kb), 1, false, "x");
    target("GCBench, conservative scan on: hp wall / Boehm wall", med(gb, V_HP, F_wall_ns) / med(gb, V_BOEHM, F_wall_ns),
           0.5, false, "x");
    target("GCBench: hp-noscan minor p99 pause (ms)", med(gb, V_HPNC, F_minor_p99_ns) / 1e6, 1, false, "");
    target_line("  hp (scan on)", med(gb, V_HP, F_minor_p99_ns) / 1e6, 1, false, "", true);
  }
  if (gg) {
    target("gen (mixed): hp minor p99 pause (ms)", med(gg, V_HP, F_minor_p99_ns) / 1e6, 5, false, "");
    target("gen (mixed): hp minor p50 pause (ms)", med(gg, V_HP, F_minor_p50_ns) / 1e6, 2, false, "");
    target("gen (mixed): hp peak RSS / Boehm peak RSS", med(gg, V_HP, F_rss_kb) / med(gg, V_BOEHM, F_rss_kb), 1, false,
           "x");
  }
  return 0;
}
