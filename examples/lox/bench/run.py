#!/usr/bin/env python3
"""examples/lox/bench/run.py [--runs N] [--build DIR] [BENCH...]: hplox against hplox-boehm
against lua5.4, side by side, on the scripts of this folder (NAME.lox and NAME.lua).

Each program runs N times (default 3) in turn, interleaved; for each figure the median is
kept: wall time, CPU time (user + system) and peak RSS (from /usr/bin/time), and for the two
hplox builds the collector's figures from --gc-stats (time in collections, max and p99 pause,
collections). Outputs are compared: the three must print the same (numbers as %g). Prints
a Markdown table and the ratios; the machine load (uptime) before and after.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHES = ["binary_trees", "instantiation", "method_call", "strings", "zoo", "fib"]


def run_timed(cmd):
    """Runs cmd under /usr/bin/time; returns (wall s, cpu s = user + sys, stdout, peak RSS KiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", tf.name] + cmd,
                           capture_output=True)
        if p.returncode != 0:
            sys.exit("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.decode()[-500:]))
        wall, user, sys_, rss = tf.read().split()[-4:]
    return float(wall), float(user) + float(sys_), p.stdout.decode(), int(rss)


def gc_summary(out):
    m = re.search(r"^gc-summary: (.*)$", out, re.M)
    if not m:
        return {}, out
    fields = dict(kv.split("=") for kv in m.group(1).split())
    program_out = out[: out.find("minor:")] if "minor:" in out else out[: out.find("Boehm GC")]
    return fields, program_out


def normalise(text):
    # Lua prints integers without %g; compare numbers as %g.
    def fix(tok):
        try:
            return "%g" % float(tok)
        except ValueError:
            return tok
    return [fix(line.strip()) for line in text.strip().splitlines()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "..", "build"))
    ap.add_argument("benches", nargs="*", default=BENCHES)
    a = ap.parse_args()
    hplox = os.path.join(a.build, "examples", "lox", "hplox")
    boehm = os.path.join(a.build, "examples", "lox", "hplox-boehm")
    lua = "lua5.4"
    print("load before:", os.getloadavg())
    rows = []
    for b in a.benches:
        lox, luasrc = os.path.join(HERE, b + ".lox"), os.path.join(HERE, b + ".lua")
        res = {"hp": [], "boehm": [], "lua": []}
        outs = {}
        for _ in range(a.runs):
            for name, cmd in (("hp", [hplox, "--gc-stats", lox]), ("boehm", [boehm, "--gc-stats", lox]),
                              ("lua", [lua, luasrc])):
                wall, cpu, out, rss = run_timed(cmd)
                gc, prog = gc_summary(out)
                outs[name] = normalise(prog)
                res[name].append((wall, rss, gc, cpu))
        if not (outs["hp"] == outs["boehm"] == outs["lua"]):
            sys.exit("%s: outputs differ: %r" % (b, outs))
        med = {}
        for name, rs in res.items():
            m = {"wall": statistics.median(r[0] for r in rs), "rss": statistics.median(r[1] for r in rs) / 1024,
                 "cpu": statistics.median(r[3] for r in rs)}
            if name != "lua":
                for key in ("gc_ms", "max_pause_ms", "p99_pause_ms", "collections"):
                    m[key] = statistics.median(float(r[2][key]) for r in rs)
            med[name] = m
        rows.append((b, med))
    print("load after:", os.getloadavg())
    print()
    print("| script | wall s: hplox / boehm / lua | cpu s: hplox / boehm / lua | boehm/hplox wall, cpu | "
          "lua/hplox wall, cpu | GC ms hplox / boehm | max pause ms hplox / boehm | p99 pause ms hplox / boehm | "
          "collections hplox / boehm | peak RSS MiB hplox / boehm / lua |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for b, m in rows:
        h, g, l = m["hp"], m["boehm"], m["lua"]
        print("| %s | %.2f / %.2f / %.2f | %.2f / %.2f / %.2f | %.2f, %.2f | %.2f, %.2f | %.0f / %.0f | %.2f / %.2f | "
              "%.2f / %.2f | %d / %d | %.0f / %.0f / %.0f |" % (
                  b, h["wall"], g["wall"], l["wall"], h["cpu"], g["cpu"], l["cpu"],
                  g["wall"] / h["wall"], g["cpu"] / h["cpu"], l["wall"] / h["wall"], l["cpu"] / h["cpu"],
                  h["gc_ms"], g["gc_ms"], h["max_pause_ms"], g["max_pause_ms"], h["p99_pause_ms"],
                  g["p99_pause_ms"], h["collections"], g["collections"], h["rss"], g["rss"], l["rss"]))


if __name__ == "__main__":
    main()
