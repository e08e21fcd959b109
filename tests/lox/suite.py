#!/usr/bin/env python3
"""tests/lox/suite.py INTERPRETER SOURCE_ROOT: runs the Lox conformance suite
(SOURCE_ROOT/../shared/lox/run_tests.py, the clox set) on INTERPRETER. Exit 77 (skipped)
when the suite is not there; otherwise the runner's status, which is 0 only when every test
passed."""
import os
import subprocess
import sys

interp, root = sys.argv[1], sys.argv[2]
runner = os.path.join(root, "..", "shared", "lox", "run_tests.py")
if not os.path.isfile(runner):
    print("no Lox suite at %s: skipped" % runner)
    sys.exit(77)
p = subprocess.run([sys.executable, runner, "-j", "2", "--timeout", "300", interp])
sys.exit(p.returncode)
