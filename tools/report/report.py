"""tools/report/report.py -- the benchmark report: hp against its anchors, as tables and PNGs.

usage (through tools/hp-dev, which installs the packages and builds the release tree first):
    bash tools/hp-dev report [--full] [--reps N] [--out DIR]
    /usr/bin/python3 tools/report/report.py --build BUILDDIR [--full] [--reps N] [--out DIR]

Runs, each program in a fresh process, the variants of a figure taking turns at going first:
  - tools/gcbench's workloads (gcbench, alloc, gen, mtalloc, mtgcbench) on hp and Boehm GC, with
    every collection's pause logged (hp: HP_GC_LOG=json; Boehm: GCBENCH_PAUSE_LOG);
  - gen at several table sizes: pause percentiles against the live heap;
  - tools/bench-pools (hp, glibc, mimalloc, jemalloc) several times (--raw);
  - hplox, hplox-boehm and lua5.4 on the Lox benchmark scripts, when hplox is built
    (examples/lox/bench/*.lox, with NAME.lua beside them for Lua; quick mode: binary_trees and
    instantiation only).
and writes DIR/index.md (default doc/report) with the tables, the PNGs, the machine, the date,
the commit and the command; the raw logs go to DIR/raw/ (not committed). Figures are medians of
N runs with the min-max range; the load that other processes put on the machine is measured
for every section (/proc/stat, less this program's own children) and printed beside it.
Quick mode (the default) takes a few minutes; --full runs the workloads at full size.
"""
import argparse
import datetime
import importlib.machinery
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
QUICK_LOX = {"binary_trees.lox", "instantiation.lox"}
ROOT = os.path.dirname(os.path.dirname(HERE))


def load_gcplot():
    loader = importlib.machinery.SourceFileLoader("hp_gcplot", os.path.join(ROOT, "tools", "hp-gcplot"))
    spec = importlib.util.spec_from_loader("hp_gcplot", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


gcplot = load_gcplot()


def die(msg):
    print("report: %s" % msg, file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
#  The machine, the load
# ---------------------------------------------------------------------------------------------

def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // (1024 * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return "%s, %d CPUs, %d GiB, Linux %s" % (cpu, os.cpu_count() or 0, mem, platform.release())


def busy_s():
    """Busy CPU seconds of the whole machine so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    hz = os.sysconf("SC_CLK_TCK")
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / hz


def own_s():
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = resource.getrusage(resource.RUSAGE_SELF)
    return c.ru_utime + c.ru_stime + s.ru_utime + s.ru_stime


class Load:
    """Other processes' CPUs busy between start and stop: (machine busy - ours) / elapsed."""

    def __init__(self):
        self.t0, self.b0, self.o0 = time.monotonic(), busy_s(), own_s()
        self.l0 = os.getloadavg()[0]

    def stop(self):
        el = time.monotonic() - self.t0
        other = (busy_s() - self.b0 - (own_s() - self.o0)) / el if el > 0 else 0
        self.other = max(other, 0.0)
        self.l1 = os.getloadavg()[0]
        self.elapsed = el
        return self

    def text(self):
        return "other processes kept %.2f CPUs busy (1-min load average %.2f -> %.2f, %.0f s)" % (
            self.other, self.l0, self.l1, self.elapsed)


# ---------------------------------------------------------------------------------------------
#  Running programs
# ---------------------------------------------------------------------------------------------

# Peak RSS: a child's ru_maxrss (getrusage or wait4) starts from the RSS of the process it was
# forked from (Linux keeps the high-water mark across exec), here this Python program with
# matplotlib, tens of MiB. GNU time's child is forked from time, which is small: its %M is the
# child's own.
GNU_TIME = "/usr/bin/time"


def run(cmd, env_add=None, env_del=(), timeout=1800, stdout=True):
    """Runs cmd; returns (stdout, wall seconds, peak RSS in KiB or None). Dies if it fails."""
    env = dict(os.environ)
    for k in env_del:
        env.pop(k, None)
    env.update(env_add or {})
    rss_file = None
    if os.access(GNU_TIME, os.X_OK):
        rss_file = os.path.join(RAW_DIR[0], "rss.txt")
        cmd = [GNU_TIME, "-f", "%M", "-o", rss_file] + list(cmd)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE if stdout else subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=env, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        die("%s took more than %d s" % (" ".join(cmd), timeout))
    wall = time.monotonic() - t0
    if p.returncode != 0:
        die("%s failed (status %d):\n%s%s" % (" ".join(cmd), p.returncode, (out or "")[-2000:], err[-2000:]))
    rss = None
    if rss_file:
        try:
            with open(rss_file) as f:
                rss = float(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            rss = None
    return out or "", wall, rss


RAW_DIR = ["/tmp"]


def parse_kv(line, prefix):
    d = {}
    for tok in line[len(prefix):].split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            try:
                d[k] = float(v)
            except ValueError:
                d[k] = v
    return d


def med_range(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def fmt_mr(mr, scale=1.0, digits=1):
    if mr is None:
        return "—"
    m, lo, hi = (x / scale for x in mr)
    f = "%%.%df" % digits
    return (f + " [" + f + "–" + f + "]") % (m, lo, hi)


def quantile(v, q):
    v = sorted(v)
    return gcplot.quantile(v, q) if v else 0


# ---------------------------------------------------------------------------------------------
#  The report
# ---------------------------------------------------------------------------------------------

class Report:
    def __init__(self, a):
        self.a = a
        self.build = os.path.abspath(a.build)
        self.out = os.path.abspath(a.out)
        self.raw = os.path.join(self.out, "raw")
        self.full = a.full
        self.reps = a.reps or (5 if a.full else 3)
        self.md = []
        self.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.machine = machine()
        try:
            self.commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=10", "HEAD"], capture_output=True,
                                         text=True).stdout.strip() or "unknown"
            dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True).stdout.strip()
            if dirty:
                self.commit += " (with uncommitted changes)"
        except OSError:
            self.commit = "unknown"
        self.command = a.command or "python3 tools/report/report.py " + " ".join(sys.argv[1:])
        self.gcb = os.path.join(self.build, "tools", "gcbench")
        for exe in ("gcbench-hp", "gcbench-boehm"):
            if not os.access(os.path.join(self.gcb, exe), os.X_OK):
                die("%s/%s is missing: build with Boehm GC (libgc-dev) and -Dbenchmarks=enabled" % (self.gcb, exe))
        self.plt = gcplot.import_pyplot()
        shutil.rmtree(self.raw, ignore_errors=True)
        os.makedirs(self.raw)
        RAW_DIR[0] = self.raw
        self.versions = {}

    # ---- figures ----
    def stamp(self, fig):
        fig.text(0.005, 0.003, "%s · %s · hp %s · %s" % (self.machine, self.date, self.commit, self.command),
                 fontsize=7, color="dimgray", ha="left", va="bottom")

    def save(self, fig, name, caption, load):
        path = os.path.join(self.out, name)
        self.stamp(fig)
        fig.savefig(path, dpi=100)
        self.plt.close(fig)
        self.md.append("![%s](%s)\n" % (caption, name))
        self.md.append("*%s. %s; %s.*\n" % (caption, self.meta_line(), load.text()))

    def meta_line(self):
        return "%s, %s, commit %s, `%s`" % (self.machine, self.date, self.commit, self.command)

    def figure(self, ncols, w=1400, h=520):
        fig, axes = self.plt.subplots(1, ncols, figsize=(w / 100, h / 100), dpi=100, squeeze=False,
                                      layout="constrained")
        fig.get_layout_engine().set(h_pad=0.15)
        return fig, axes[0]

    # ---- the collector against Boehm GC ----
    def gc_child(self, backend, workload, rep, threads=0, extra=()):
        exe = os.path.join(self.gcb, "gcbench-" + backend)
        tag = "%s%s%s-%s-%d" % (workload, "-t%d" % threads if threads else "", "".join(extra).replace("--", "-"),
                                backend, rep)
        log = os.path.join(self.raw, tag + ".log")
        cmd = [exe] + ([] if self.full else ["--quick"])
        if threads:
            cmd += ["--threads", str(threads)]
        cmd += list(extra) + [workload]
        if backend == "hp":
            env = {"HP_GC_LOG": "json", "HP_GC_LOG_FILE": log}
            env_del = ("HP_CONSERVATIVE", "GCBENCH_PAUSE_LOG")
        else:
            env = {"GCBENCH_PAUSE_LOG": log}
            env_del = ("GC_MARKERS", "HP_GC_LOG")
        out, wall, rss = run(cmd, env, env_del)
        res = None
        for line in out.splitlines():
            if line.startswith("gcbench-result "):
                res = parse_kv(line, "gcbench-result ")
        if res is None:
            die("%s printed no result line" % " ".join(cmd))
        self.versions[backend] = res.get("version")
        res["rss_kb"] = rss                           # not the child's own figure: see run()
        res["log"] = gcplot.read_log(log) if os.path.exists(log) and os.path.getsize(log) > 0 else []
        res["log_path"] = log
        return res

    def gc_group(self, workload, threads=0, extra=(), backends=("hp", "boehm")):
        """Runs every back end `reps` times, taking turns going first; {backend: [results]}."""
        res = {b: [] for b in backends}
        for r in range(self.reps):
            order = list(backends[r % len(backends):]) + list(backends[:r % len(backends)])
            for b in order:
                res[b].append(self.gc_child(b, workload, r, threads, extra))
            print("report: %s%s rep %d done" % (workload, " threads %d" % threads if threads else "", r + 1),
                  file=sys.stderr)
        return res

    def pause_table_rows(self, name, res):
        rows = []
        for b, rs in res.items():
            pauses = [rec["pause_ns"] for x in rs for rec in x["log"]]
            wall = med_range([x["wall_ns"] for x in rs])
            cpu = med_range([x["cpu_ns"] for x in rs])
            rss = med_range([x["rss_kb"] for x in rs])
            ncol = med_range([len(x["log"]) for x in rs])
            rows.append("| %s | %s | %s | %s | %s | %s | %.3f | %.3f | %.3f | %s |" % (
                name, b, fmt_mr(wall, 1e6), fmt_mr(cpu, 1e6), fmt_mr(ncol, 1, 0),
                "%.1f" % (sum(pauses) / len(rs) / 1e6) if rs else "—",
                quantile(pauses, 0.5) / 1e6, quantile(pauses, 0.99) / 1e6, max(pauses, default=0) / 1e6,
                fmt_mr(rss, 1024)))
        return rows

    def section_gc(self):
        load = Load()
        groups = {}
        for wl in ("gcbench", "alloc", "gen"):
            groups[wl] = self.gc_group(wl)
        load.stop()
        self.md.append("## The collector against Boehm GC: pauses\n")
        self.md.append("tools/gcbench's workloads (%s sizes; doc/benchmarks.md describes them), hp with its "
                       "defaults (precise shadow-stack roots and the conservative stack scan) and Boehm GC with "
                       "its defaults, each run in a process of its own, %d runs each, the two taking turns at going "
                       "first. Pauses are every collection of all runs: hp's from its GC log (`HP_GC_LOG=json`), "
                       "Boehm's from `GC_EVENT_START` to `GC_EVENT_END` (Boehm sweeps lazily, in the allocator, so "
                       "part of its collection work is outside its pauses). Times are medians of the runs with "
                       "[min–max]; %s.\n" % ("full" if self.full else "quick (`--quick`)", self.reps, load.text()))
        self.md.append("| workload | collector | wall (ms) | CPU (ms) | collections | GC time per run (ms) "
                       "| p50 pause (ms) | p99 pause (ms) | max pause (ms) | peak RSS (MiB) |")
        self.md.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        for wl, res in groups.items():
            self.md += self.pause_table_rows(wl, res)
        self.md.append("")
        # the pause distributions, one panel per workload
        fig, axes = self.figure(len(groups))
        for ax, (wl, res) in zip(axes, groups.items()):
            allp = [rec["pause_ns"] / 1e6 for rs in res.values() for x in rs for rec in x["log"]]
            lo, hi = max(min(allp), 1e-3), max(allp)
            nb = 36
            bins = [lo * (hi / lo) ** (i / nb) * (0.999 if i == 0 else 1.001 if i == nb else 1) for i in range(nb + 1)]
            for b, color in (("hp", "tab:blue"), ("boehm", "tab:orange")):
                p = [max(rec["pause_ns"] / 1e6, 1e-3) for x in res[b] for rec in x["log"]]
                label = "%s: %d pauses, p50 %.3g, p99 %.3g, max %.3g ms" % (
                    "hp" if b == "hp" else "Boehm GC", len(p), quantile(p, 0.5), quantile(p, 0.99), max(p))
                ax.hist(p, bins=bins, histtype="stepfilled" if b == "hp" else "step", alpha=0.6 if b == "hp" else 1,
                        linewidth=1.5, color=color, label=label)
                ax.axvline(quantile(p, 0.99), color=color, linestyle="--", linewidth=1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title("%s (%d runs)" % (wl, self.reps))
            ax.set_xlabel("pause (ms, log scale); dashed: p99")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(loc="upper right", fontsize="x-small")
        axes[0].set_ylabel("collections (log scale)")
        from matplotlib import ticker
        for ax in axes:
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: "%g" % v))
            ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        fig.suptitle("Pause distributions: hp against Boehm GC (tools/gcbench workloads)")
        self.save(fig, "pauses.png", "Pause distributions, hp against Boehm GC, per workload", load)
        # what hp-gcplot shows, on one run of gen
        sums, out = gcplot.plot_all([groups["gen"]["hp"][0]["log_path"], groups["gen"]["boehm"][0]["log_path"]],
                                    os.path.join(self.out, "gen"), ["hp", "Boehm GC"], (1400, 480),
                                    "gen, first run (tools/hp-gcplot)")
        self.md.append("What `tools/hp-gcplot` draws from a GC log, here the first run of gen on each collector "
                       "(`tools/hp-gcplot raw/gen-hp-0.log raw/gen-boehm-0.log --label hp --label 'Boehm GC'`; "
                       "Boehm's log has no heap figures):\n")
        for name in ("timeline", "pauses", "heap"):
            self.md.append("![gen: %s](gen-%s.png)\n" % (name, name))
        self.md.append("*%s; %s.*\n" % (self.meta_line(), load.text()))

    def section_live(self):
        sizes = [1 << 14, 1 << 16, 1 << 18, 1 << 20] if not self.full else [1 << 16, 1 << 18, 1 << 20, 1 << 21, 1 << 22]
        load = Load()
        rows = []
        for n in sizes:
            res = self.gc_group("gen", extra=("--gen-elems", str(n)))
            live = n * (64 + 8) / 2**20                       # elements and the table's slots
            pts = {}
            for b, rs in res.items():
                for kind in ("minor", "major", "full"):
                    p = [rec["pause_ns"] / 1e6 for x in rs for rec in x["log"] if rec["kind"] == kind]
                    if p:
                        pts[(b, kind)] = (quantile(p, 0.5), quantile(p, 0.99), max(p), len(p))
            marked = [max((rec.get("marked", 0) for rec in x["log"]), default=0) for x in res["hp"]]
            rows.append((n, live, pts, med_range(marked), {b: med_range([x["wall_ns"] for x in rs]) for b, rs in res.items()}))
        load.stop()
        self.md.append("## Pauses against live-heap size\n")
        self.md.append("gen (a table of N pointers to N 64-byte objects kept live, mutated with young objects "
                       "stored into it, and short-lived garbage streaming through) at several N, %d runs each; "
                       "live heap = 72 bytes per element (hp's largest marked size in a major collection, median, "
                       "beside it). Percentiles over all collections of all runs; %s.\n" % (self.reps, load.text()))
        self.md.append("| live (MiB) | hp marked (MiB) | hp minor p50 / p99 / max (ms) | hp major p50 / max (ms) "
                       "| Boehm p50 / p99 / max (ms) | hp wall (ms) | Boehm wall (ms) |")
        self.md.append("|--:|--:|--:|--:|--:|--:|--:|")

        def cell(p, parts):
            if p is None:
                return "—"
            return " / ".join("%.3f" % p[i] for i in parts) + " (%d)" % p[3]
        for n, live, pts, marked, walls in rows:
            self.md.append("| %.1f | %s | %s | %s | %s | %s | %s |" % (
                live, fmt_mr(marked, 2**20), cell(pts.get(("hp", "minor")), (0, 1, 2)),
                cell(pts.get(("hp", "major")), (0, 2)), cell(pts.get(("boehm", "full")), (0, 1, 2)),
                fmt_mr(walls["hp"], 1e6), fmt_mr(walls["boehm"], 1e6)))
        self.md.append("\n(In parentheses: the number of collections.)\n")
        fig, axes = self.figure(1, 1100, 560)
        ax = axes[0]
        xs = [r[1] for r in rows]
        for (b, kind), color, name in ((("hp", "minor"), "tab:blue", "hp minor"), (("hp", "major"), "tab:red", "hp major"),
                                       (("boehm", "full"), "tab:orange", "Boehm GC")):
            for i, (q, style, marker) in enumerate((("p50", ":", "o"), ("p99", "--", "s"), ("max", "-", "^"))):
                if kind == "major" and q == "p99":
                    continue
                ys = [r[2][(b, kind)][i] if (b, kind) in r[2] else float("nan") for r in rows]
                ax.plot(xs, ys, linestyle=style, marker=marker, color=color, label="%s %s" % (name, q))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("live heap (MiB, log scale)")
        ax.set_ylabel("pause (ms, log scale)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small", ncol=3)
        ax.set_title("Pause percentiles against live-heap size (gen, %d runs per size)" % self.reps)
        self.save(fig, "pauses-vs-live.png", "Pause percentiles against live-heap size, hp against Boehm GC", load)

    def section_threads(self):
        threads = [1, 2, 4] if self.full else [1, 2]
        load = Load()
        data = {}
        for wl in ("mtalloc", "mtgcbench"):
            for t in threads:
                data[(wl, t)] = self.gc_group(wl, threads=t)
        load.stop()
        self.md.append("## Throughput against thread count\n")
        self.md.append("mtalloc (each thread allocates and drops small objects) and mtgcbench (GCBench's per-thread "
                       "part on every thread, shared long-lived data), timed from a start barrier to the last join; "
                       "objects per second, median of %d runs [min–max]. The machine has %d CPUs; %s.\n" % (
                           self.reps, os.cpu_count() or 0, load.text()))
        self.md.append("| workload | threads | collector | M objects/s | collections | max pause (ms) |")
        self.md.append("|---|--:|---|--:|--:|--:|")
        fig, axes = self.figure(2, 1300, 520)
        for ax, wl in zip(axes, ("mtalloc", "mtgcbench")):
            for b, color in (("hp", "tab:blue"), ("boehm", "tab:orange")):
                meds, los, his = [], [], []
                for t in threads:
                    rs = data[(wl, t)][b]
                    mr = med_range([x["ops"] / x["phase_ns"] * 1e3 for x in rs if x.get("phase_ns", 0) > 0])
                    meds.append(mr[0])
                    los.append(mr[0] - mr[1])
                    his.append(mr[2] - mr[0])
                    pauses = [rec["pause_ns"] for x in rs for rec in x["log"]]
                    self.md.append("| %s | %d | %s | %s | %s | %.2f |" % (
                        wl, t, b, fmt_mr(mr, 1, 2), fmt_mr(med_range([len(x["log"]) for x in rs]), 1, 0),
                        max(pauses, default=0) / 1e6))
                ax.errorbar(threads, meds, yerr=[los, his], marker="o", capsize=4, color=color,
                            label="hp" if b == "hp" else "Boehm GC")
            ax.set_xticks(threads)
            ax.set_xlabel("threads")
            ax.set_ylabel("M objects allocated per second")
            ax.set_ylim(bottom=0)
            ax.set_title("%s: median of %d runs, bars min–max" % (wl, self.reps))
            ax.grid(True, alpha=0.3)
            ax.legend()
        fig.suptitle("Throughput against thread count")
        self.md.append("")
        self.save(fig, "threads.png", "Throughput against thread count, hp against Boehm GC", load)

    # ---- the pools ----
    def section_pools(self):
        exe = os.path.join(self.build, "tools", "bench-pools")
        if not os.access(exe, os.X_OK):
            self.md.append("## The pools\n\nbench-pools is not built: no figures.\n")
            return
        runs = self.reps
        load = Load()
        results, header = [], ""
        for r in range(runs):
            raw = os.path.join(self.raw, "pools-%d.txt" % r)
            cmd = [exe, "--raw", raw] + (["--quick"] if not self.full else ["--reps", "5"]) + ["--no-wait", "--retries", "0"]
            out, _, _ = run(cmd)
            header = out.splitlines()[0:2]
            with open(raw) as f:
                results.append([parse_kv(l, "bench-pools-result ") for l in f if l.startswith("bench-pools-result ")])
            print("report: bench-pools run %d done" % (r + 1), file=sys.stderr)
        load.stop()
        workloads = ["pair", "batch", "churn-small", "churn-medium", "churn-large", "xthread"]
        backends = []
        for x in results[0]:
            if x["backend"] not in backends:
                backends.append(x["backend"])
        table = {}
        for rr in results:
            for x in rr:
                table.setdefault((x["workload"], x["backend"]), []).append(x["value"])
        self.md.append("## The pools against glibc, mimalloc and jemalloc\n")
        self.md.append("tools/bench-pools (%s), run %d times; each run reports medians of its own repetitions, and "
                       "the figures here are the median of the runs [min–max]. %s; %s.\n" % (
                           "`--quick`" if not self.full else "`--reps 5`", runs, "; ".join(h.strip() for h in header),
                           load.text()))
        self.md.append("| workload (ns per operation) | " + " | ".join(backends) + " |")
        self.md.append("|---|" + "--:|" * len(backends))
        for wl in workloads:
            self.md.append("| %s | %s |" % (wl, " | ".join(fmt_mr(med_range(table.get((wl, b), [])), 1, 1) for b in backends)))
        for wl, what in (("scale-pair", "2 threads / 1 thread, pair (x)"), ("scale-churn", "2 threads / 1 thread, churn (x)"),
                         ("rss", "RSS over live bytes (%)"), ("release", "resident 1 s after freeing all (% of peak)")):
            self.md.append("| %s | %s |" % (what, " | ".join(fmt_mr(med_range(table.get((wl, b), [])), 1, 2) for b in backends)))
        self.md.append("")
        fig, axes = self.figure(1, 1400, 540)
        ax = axes[0]
        width = 0.8 / len(backends)
        colors = {"hp": "tab:blue", "glibc": "tab:gray", "mimalloc": "tab:green", "jemalloc": "tab:purple"}
        for i, b in enumerate(backends):
            meds, lo, hi = [], [], []
            for wl in workloads:
                mr = med_range(table.get((wl, b), [])) or (float("nan"),) * 3
                meds.append(mr[0])
                lo.append(mr[0] - mr[1])
                hi.append(mr[2] - mr[0])
            xs = [k + (i - (len(backends) - 1) / 2) * width for k in range(len(workloads))]
            ax.bar(xs, meds, width, yerr=[lo, hi], capsize=3, label=b, color=colors.get(b))
        ax.set_xticks(range(len(workloads)))
        ax.set_xticklabels(["pair 32 B", "batch 8–128 B", "churn 8–128 B", "churn 129–2048 B", "churn 2–64 KiB",
                            "cross-thread 64 B"])
        ax.set_yscale("log")
        ax.set_ylabel("ns per operation (log scale; lower is better)")
        ax.set_title("The pools: ns per operation, median of %d runs, bars min–max" % runs)
        ax.grid(True, axis="y", which="both", alpha=0.3)
        ax.legend()
        self.save(fig, "pools.png", "The pools against glibc, mimalloc and jemalloc, ns per operation", load)

    # ---- hplox ----
    def section_lox(self):
        lox = os.path.join(self.build, "examples", "lox", "hplox")
        if not os.access(lox, os.X_OK):
            self.md.append("## hplox\n\nNot in this report: %s is not built (examples/lox is not in this tree, or "
                           "was not built).\n" % os.path.relpath(lox, ROOT))
            return
        bench = os.path.join(ROOT, "examples", "lox", "bench")
        scripts = sorted(os.path.join(bench, f) for f in os.listdir(bench) if f.endswith(".lox")) \
            if os.path.isdir(bench) else []
        if not scripts:
            self.md.append("## hplox\n\nNot in this report: no benchmark scripts (examples/lox/bench/*.lox).\n")
            return
        if not self.full:                             # quick: the allocation-heavy scripts only
            quick = [s for s in scripts if os.path.basename(s) in QUICK_LOX]
            scripts = quick or scripts[:2]
        boehm = os.path.join(self.build, "examples", "lox", "hplox-boehm")
        lua = shutil.which("lua5.4")
        progs = [("hplox", [lox, "--gc-stats"])]
        if os.access(boehm, os.X_OK):
            progs.append(("hplox-boehm", [boehm, "--gc-stats"]))
        load = Load()
        res = {}
        for s in scripts:
            name = os.path.splitext(os.path.basename(s))[0]
            luas = os.path.splitext(s)[0] + ".lua"
            ps = list(progs) + ([("lua5.4", [lua])] if lua and os.path.exists(luas) else [])
            for r in range(self.reps):
                order = ps[r % len(ps):] + ps[:r % len(ps)]
                for pname, cmd in order:
                    log = os.path.join(self.raw, "lox-%s-%s-%d.log" % (name, pname, r))
                    env = {"HP_GC_LOG": "json", "HP_GC_LOG_FILE": log} if pname == "hplox" else {}
                    out, wall, rss = run(cmd + [luas if pname == "lua5.4" else s], env, ("HP_GC_LOG", "HP_GC_LOG_FILE"))
                    gc = {}
                    for line in out.splitlines():
                        if line.startswith("gc-summary: "):
                            gc = parse_kv(line, "gc-summary: ")
                    pauses = [x["pause_ns"] for x in gcplot.read_log(log)] if os.path.exists(log) and os.path.getsize(log) else []
                    res.setdefault((name, pname), []).append((wall, rss, gc, pauses))
            print("report: lox %s done" % name, file=sys.stderr)
        load.stop()
        self.md.append("## hplox against hplox-boehm and Lua 5.4\n")
        self.md.append(("Quick mode: the allocation-heavy scripts only (%s); `--full` runs them all. " % ", ".join(
            sorted(QUICK_LOX)) if not self.full else "") +
                       "The Lox benchmark scripts of examples/lox/bench on hplox (the VM on hp), hplox-boehm (the same "
                       "VM on Boehm GC) and Debian's lua5.4 (the same algorithms in Lua, NAME.lua beside NAME.lox), %d "
                       "runs each, taking turns. Wall time of the whole process and peak RSS (GNU time), median "
                       "[min–max]; the collectors' figures from `--gc-stats` (medians); %s. "
                       "`bash tools/hp-dev bench-lox` (examples/lox/bench/run.py) also checks that the three print "
                       "the same.\n" % (self.reps, load.text()))
        self.md.append("| script | program | wall (s) | peak RSS (MiB) | collections | GC time (ms) | p99 pause (ms) "
                       "| max pause (ms) |")
        self.md.append("|---|---|--:|--:|--:|--:|--:|--:|")
        names = sorted({k[0] for k in res})

        def gcmed(rs, key, digits):
            v = [float(r[2][key]) for r in rs if key in r[2]]
            return ("%%.%df" % digits) % statistics.median(v) if v else "—"
        for n in names:
            for pname in ("hplox", "hplox-boehm", "lua5.4"):
                rs = res.get((n, pname))
                if not rs:
                    continue
                self.md.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    n, pname, fmt_mr(med_range([r[0] for r in rs]), 1, 3),
                    fmt_mr(med_range([r[1] for r in rs]), 1024, 1), gcmed(rs, "collections", 0),
                    gcmed(rs, "gc_ms", 1), gcmed(rs, "p99_pause_ms", 3), gcmed(rs, "max_pause_ms", 3)))
        self.md.append("")
        fig, axes = self.figure(2, 1400, 520)
        pn = [p for p in ("hplox", "hplox-boehm", "lua5.4") if any((n, p) in res for n in names)]
        width = 0.8 / len(pn)
        colors = {"hplox": "tab:blue", "hplox-boehm": "tab:orange", "lua5.4": "tab:gray"}
        for ax, (what, get, ylabel) in zip(axes, (
                ("wall time", lambda r: r[0], "wall time (s; lower is better)"),
                ("max pause", lambda r: float(r[2].get("max_pause_ms", "nan")), "max pause (ms, log scale)"))):
            for i, p in enumerate(pn):
                if what == "max pause" and p == "lua5.4":
                    continue
                meds = [statistics.median([get(r) for r in res[(n, p)]]) if (n, p) in res else float("nan")
                        for n in names]
                ax.bar([k + (i - (len(pn) - 1) / 2) * width for k in range(len(names))], meds, width, label=p,
                       color=colors[p])
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels(names, rotation=15)
            ax.set_ylabel(ylabel)
            if what == "max pause":
                ax.set_yscale("log")
            ax.set_title("Lox scripts: %s, median of %d runs" % (what, self.reps))
            ax.grid(True, axis="y", which="both", alpha=0.3)
            ax.legend()
        self.save(fig, "lox.png", "hplox against hplox-boehm and Lua 5.4: wall time and max pause per script", load)

    def write(self, sections_load):
        head = ["# hp benchmark report\n",
                "Made by `%s` on %s; commit %s; %s. hp %s against Boehm GC %s. %s mode: %s. Each figure is the "
                "median of %d runs with its [min–max] range; the load other processes put on the machine was "
                "measured for each section and is printed beside it: %s.\n" % (
                    self.command, self.date, self.commit, self.machine, self.versions.get("hp", "?"),
                    self.versions.get("boehm", "?"), "Full" if self.full else "Quick",
                    "the workloads at full size" if self.full else "the workloads' `--quick` sizes (a few minutes in "
                    "all); `bash tools/hp-dev report --full` runs them at full size", self.reps, sections_load.text()),
                "How to read it, and the benchmarks' own detailed tables: [doc/benchmarks.md](../benchmarks.md). "
                "Raw logs of this run were in `raw/` (not committed); `tools/hp-gcplot` plots any of them.\n"]
        if sections_load.other > 0.2:
            head.append("**The machine was shared during this run** (other processes kept %.2f CPUs busy on "
                        "average): times are inflated and noisy; ratios between collectors measured in the same run "
                        "hold better than absolute figures.\n" % sections_load.other)
        with open(os.path.join(self.out, "index.md"), "w") as f:
            f.write("\n".join(head + self.md) + "\n")


def main():
    ap = argparse.ArgumentParser(prog="report", description="hp's benchmark report (doc/report/index.md)")
    ap.add_argument("--build", required=True, help="a release build tree with the benchmarks")
    ap.add_argument("--full", action="store_true", help="the workloads at full size (long)")
    ap.add_argument("--reps", type=int, help="runs per figure (default 3, full 5)")
    ap.add_argument("--out", default=os.path.join(ROOT, "doc", "report"), help="where to write (default doc/report)")
    ap.add_argument("--command", help="the command to print on every figure")
    ap.add_argument("--only", help="comma-separated sections: gc,live,threads,pools,lox (default: all)")
    a = ap.parse_args()
    if a.reps is not None and not 1 <= a.reps <= 51:
        die("--reps must be 1..51")
    os.makedirs(a.out, exist_ok=True)
    try:
        rep = Report(a)
    except gcplot.LogError as e:
        die(str(e))
    only = set((a.only or "gc,live,threads,pools,lox").split(","))
    total = Load()
    try:
        for name in ("gc", "live", "threads", "pools", "lox"):
            if name in only:
                getattr(rep, "section_" + name)()
    except gcplot.LogError as e:
        die(str(e))
    total.stop()
    rep.write(total)
    print("report: wrote %s (%s)" % (os.path.join(rep.out, "index.md"), total.text()), file=sys.stderr)


if __name__ == "__main__":
    main()
