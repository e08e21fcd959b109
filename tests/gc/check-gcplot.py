"""tests/gc/check-gcplot.py -- tools/hp-gcplot on a log made now by test-gc-log.

usage: python3 check-gcplot.py TEST-GC-LOG HP-GCPLOT WORKDIR

1. Runs test-gc-log's JSON case with HP_TEST_GCLOG_KEEP, which checks the log against
   hp_gc_stats and leaves it in WORKDIR.
2. Plots it (alone, then twice side by side with labels and a size): each PNG must exist, be
   a PNG of exactly the size asked for, and hold a picture (more than a few distinct bytes
   in its decoded pixels), and the summary table must count the log's records.
3. Malformed logs (not JSON, a missing field, a wrong type, a newer version, no records, a
   missing file) must each fail with exit status 1 and "FILE:LINE: ..." naming the right
   line, with no Python traceback.
Prints "N passed, N failed" and exits non-zero if any check failed.
"""
import os
import shutil
import struct
import subprocess
import sys
import zlib

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s" % what)


def png_info(path):
    """(width, height, decoded pixel bytes) of a PNG, or None if it is not one."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    return w, h, zlib.decompress(idat)


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    return p.returncode, p.stdout, p.stderr


def main():
    test_exe, gcplot, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    log = os.path.join(work, "run.log")

    env = dict(os.environ, HP_TEST_GCLOG_KEEP=log, CK_RUN_CASE="json")
    rc, out, err = run([test_exe], env)
    check(rc == 0, "test-gc-log (json case) passes: %s%s" % (out, err))
    with open(log) as f:
        nrec = sum(1 for line in f if line.strip())
    check(nrec >= 10, "the log has records (%d)" % nrec)

    def plots_ok(prefix, size, nlogs):
        for name in ("timeline", "pauses", "heap"):
            path = "%s-%s.png" % (prefix, name)
            if not os.path.exists(path):
                check(False, "%s written" % path)
                continue
            info = png_info(path)
            check(info is not None, "%s is a PNG" % path)
            if info is None:
                continue
            w, h, pixels = info
            check((w, h) == size, "%s is %dx%d, not %dx%d" % (path, w, h, size[0], size[1]))
            check(os.path.getsize(path) > 5000, "%s is %d bytes" % (path, os.path.getsize(path)))
            check(len(set(pixels)) > 16, "%s holds a picture (%d distinct bytes)" % (path, len(set(pixels))))

    prefix = os.path.join(work, "one")
    rc, out, err = run([gcplot, log, "-o", prefix])
    check(rc == 0 and "Traceback" not in err, "hp-gcplot on one log: rc %d: %s" % (rc, err))
    check("| run.log | %d |" % nrec in out, "the summary counts %d records: %s" % (nrec, out))
    plots_ok(prefix, (1400, 520), 1)

    prefix = os.path.join(work, "two")
    rc, out, err = run([gcplot, log, log, "--label", "first", "--label", "second", "--size", "1000x450",
                        "--title", "test", "-o", prefix])
    check(rc == 0 and "Traceback" not in err, "hp-gcplot on two logs: rc %d: %s" % (rc, err))
    check("| first |" in out and "| second |" in out, "both labels in the summary: %s" % out)
    plots_ok(prefix, (1000, 450), 2)

    with open(log) as f:
        lines = [l for l in f.read().split("\n") if l.strip()]

    def bad(name, body, want, line=None):
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(body)
        rc, out, err = run([gcplot, path, "-o", os.path.join(work, "bad")])
        where = "%s:%d:" % (path, line) if line else path + ":"
        check(rc == 1, "%s: exit status %d, not 1" % (name, rc))
        check("Traceback" not in err, "%s: no traceback: %s" % (name, err))
        check(where in err and want in err, "%s: the error names %s and says %r: %s" % (name, where, want, err))

    bad("notjson.log", "\n".join(lines[:2] + ["this is not json"] + lines[2:]) + "\n", "not JSON", 3)
    bad("nofield.log", "\n".join(lines[:4] + [lines[4].replace('"pause_ns":', '"pause":')] + lines[5:]) + "\n",
        'no field "pause_ns"', 5)
    bad("badtype.log", "\n".join([lines[0].replace('"kind":"minor"', '"kind":7')
                                  .replace('"kind":"major"', '"kind":7')] + lines[1:]) + "\n",
        'field "kind" is 7', 1)
    bad("array.log", lines[0] + "\n[1, 2]\n", "not a JSON object", 2)
    bad("version.log", lines[0] + "\n" + lines[1].replace('"v":1', '"v":99') + "\n", "log version 99", 2)
    bad("empty.log", "\n\n", "no records")
    missing = os.path.join(work, "missing.log")
    rc, out, err = run([gcplot, missing])
    check(rc == 1 and "cannot read" in err and missing in err and "Traceback" not in err,
          "a missing file: rc %d: %s" % (rc, err))

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
