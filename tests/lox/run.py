#!/usr/bin/env python3
"""tests/lox/run.py INTERPRETER [DIR]: runs hplox's own Lox test programs.

For each NAME.lox in DIR (default: this file's directory):
  NAME.out     the exact standard output expected;
  NAME.err     the exact standard error expected (absent: it must be empty);
  NAME.status  "CODE" the exit status expected (absent: 0); "CODE repl" feeds the file to
               the REPL on standard input instead of passing it as an argument.
Prints one line per failure and `N passed, M failed`; exits 1 if anything failed.
"""
import os
import subprocess
import sys


def read(path, default=None):
    if not os.path.exists(path):
        return default
    with open(path, "rb") as f:
        return f.read().decode("utf-8")


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    interp = os.path.abspath(argv[1])
    here = argv[2] if len(argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    passed = failed = 0
    for name in sorted(os.listdir(here)):
        if not name.endswith(".lox"):
            continue
        base = os.path.join(here, name[:-4])
        status = (read(base + ".status", "0").split() or ["0"])
        want_code = int(status[0])
        repl = "repl" in status[1:]
        want_out = read(base + ".out", "")
        want_err = read(base + ".err", "")
        src = os.path.join(here, name)
        try:
            if repl:
                with open(src, "rb") as stdin:
                    p = subprocess.run([interp], stdin=stdin, capture_output=True, timeout=120)
            else:
                p = subprocess.run([interp, src], stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=120)
        except subprocess.TimeoutExpired:
            print("FAIL %s: timed out" % name)
            failed += 1
            continue
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        problems = []
        if p.returncode != want_code:
            problems.append("exit status %d, expected %d" % (p.returncode, want_code))
        if out != want_out:
            problems.append("stdout %r, expected %r" % (out, want_out))
        if err != want_err:
            problems.append("stderr %r, expected %r" % (err, want_err))
        if problems:
            failed += 1
            print("FAIL %s: %s" % (name, "; ".join(problems)))
        else:
            passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
