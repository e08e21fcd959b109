#!/usr/bin/env python3
"""tools/bench-malloc.py -- real programs with their allocator swapped by LD_PRELOAD: glibc
(no preload), mimalloc (libmimalloc.so), jemalloc (libjemalloc.so) and hp (libhpmalloc.so).
Wall time and peak RSS (the largest ru_maxrss of the program's processes), median of REPS
runs, the allocators interleaved run by run. Prints a Markdown table.

  python3 tools/bench-malloc.py BUILD_DIR [--reps N] [--only python,gcc,sqlite,redis]

Programs (all with deterministic work; the output of each run is checked against glibc's):
  python  tests/hpmalloc/churn.py with 60 rounds: dicts and lists of strings built and dropped
  gcc     cc1 compiling a generated C file of 1000 functions at -O2
  sqlite  sqlite3 inserting 200,000 rows in one transaction, indexing, querying
  redis   redis-server on 127.0.0.1 (a free port), redis-benchmark -n 200000 SET/GET/LPUSH/
          LPOP with 3-100 byte values against it; the server's allocator is the one swapped
          (only the server is preloaded; time = the benchmark's wall time)
"""
import os, resource, shutil, socket, statistics, subprocess, sys, tempfile, time

def find_lib(names):
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib"):
        for n in names:
            p = os.path.join(d, n)
            if os.path.exists(p):
                return p
    return None

def children_maxrss_kib():
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

def run_once(cmd, env, cwd, stdin=None):
    """Runs cmd in a fresh child (a python3 -c wrapper, so that ru_maxrss is this run's only)."""
    wrapper = ("import resource,subprocess,sys,time,json\n"
               "t=time.monotonic()\n"
               "r=subprocess.run(json.loads(sys.argv[1]),stdin=open(sys.argv[2]) if sys.argv[2] else None,"
               "stdout=subprocess.PIPE,stderr=subprocess.PIPE)\n"
               "t=time.monotonic()-t\n"
               "u=resource.getrusage(resource.RUSAGE_CHILDREN)\n"
               "m=u.ru_maxrss\n"
               "sys.stdout.write(json.dumps([r.returncode,t,m,u.ru_utime+u.ru_stime,r.stdout.decode(errors='replace')[-2000:],"
               "r.stderr.decode(errors='replace')[-2000:]]))\n")
    import json
    out = subprocess.run(["/usr/bin/python3", "-c", wrapper, json.dumps(cmd), stdin or ""],
                         env=env, cwd=cwd, stdout=subprocess.PIPE, check=True).stdout
    rc, t, m, cpu, so, se = json.loads(out)
    if rc != 0:
        raise RuntimeError("%s failed (%d): %s" % (cmd, rc, se))
    return t, m, cpu, so

def gen_c(path, nfun=1000):
    with open(path, "w") as f:
        f.write("#include <string.h>\nstruct s { int a[8]; double d; struct s *next; };\n")
        for i in range(nfun):
            f.write("int f%d(struct s *p, int n) { int r = %d; for (int i = 0; i < n; i++) {"
                    " if (p->a[i %% 8] > %d) r += p->a[(i + %d) %% 8] * %d; else r ^= i << %d;"
                    " p = p->next ? p->next : p; } switch (r %% 5) { case 0: return r + %d;"
                    " case 1: return r - f%d(p, n - 1); default: return r * 3; } }\n"
                    % (i, i, i % 97, i % 5, i % 13 + 1, i % 7, i, max(i - 1, 0)))
        f.write("int main(void) { return 0; }\n")

def gen_sql(path, rows=200000):
    with open(path, "w") as f:
        f.write("create table t(id integer primary key, name text, v real, tag text);\nbegin;\n")
        for i in range(rows):
            f.write("insert into t(name, v, tag) values('name%d', %d.25, '%s');\n" % (i, i % 1000, "x" * (i % 40)))
        f.write("commit;\ncreate index t_name on t(name);\ncreate index t_v on t(v, tag);\n")
        f.write("select count(*), sum(v), max(name) from t where v > 500;\n")
        f.write("select tag, count(*) from t group by tag order by 2 desc limit 3;\n")

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p

def run_redis(env_server, cwd):
    port = free_port()
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--daemonize", "no", "--dir", cwd],
                           env=env_server, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        t = time.monotonic()
        subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", "200000", "-r", "100000",
                        "-d", "100", "-P", "16", "-q", "-t", "set,get,lpush,lpop"],
                       check=True, stdout=subprocess.DEVNULL, env={"PATH": os.environ["PATH"]})
        t = time.monotonic() - t
        with open("/proc/%d/status" % srv.pid) as f:
            hwm = [int(l.split()[1]) for l in f if l.startswith("VmHWM:")][0]
        with open("/proc/%d/stat" % srv.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # the server's
        return t, hwm, cpu, ""
    finally:
        srv.terminate()
        srv.wait()

def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        sys.exit(2)
    build = os.path.abspath(args[0])
    reps, only = 5, None
    if "--reps" in args: reps = int(args[args.index("--reps") + 1])
    if "--only" in args: only = args[args.index("--only") + 1].split(",")
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    hp = os.path.join(build, "libhpmalloc.so")
    allocs = [("glibc", None), ("mimalloc", find_lib(["libmimalloc.so.2", "libmimalloc.so"])),
              ("jemalloc", find_lib(["libjemalloc.so.2", "libjemalloc.so"])), ("hp", hp)]
    allocs = [(n, l) for n, l in allocs if n == "glibc" or (l and os.path.exists(l))]
    work = tempfile.mkdtemp(prefix="bench-malloc-")
    try:
        gen_c(os.path.join(work, "big.c"))
        gen_sql(os.path.join(work, "gen.sql"))
        churn = os.path.join(root, "tests", "hpmalloc", "churn.py")
        progs = [
            ("python", "python3 churn script, 60 rounds", ["/usr/bin/python3", churn, "60"], None),
            ("gcc", "gcc -O2 -c, 1000 generated functions", ["gcc", "-O2", "-c", "-o", "big.o", "big.c"], None),
            ("sqlite", "sqlite3, 200K inserts + 2 indexes + queries",
             ["sh", "-c", "rm -f db.sqlite && sqlite3 db.sqlite < gen.sql"], None),
        ]
        if shutil.which("redis-server") and shutil.which("redis-benchmark"):
            progs.append(("redis", "redis-server under redis-benchmark, 200K requests x 4 tests, loopback", None, None))
        if only: progs = [p for p in progs if p[0] in only]
        print("load before: %s" % open("/proc/loadavg").read().strip(), file=sys.stderr)
        res = {}
        for key, desc, cmd, _ in progs:
            ref = None
            for r in range(reps):
                for name, lib in allocs:
                    env = dict(os.environ)
                    env.pop("LD_PRELOAD", None)
                    if lib: env["LD_PRELOAD"] = lib
                    if cmd is None:
                        t, m, cpu, out = run_redis(env, work)
                    else:
                        t, m, cpu, out = run_once(cmd, env, work)
                        if key == "gcc": out = ""
                        if ref is None: ref = out
                        elif out != ref: raise RuntimeError("%s under %s: output differs" % (key, name))
                    res.setdefault((key, name), []).append((t, m, cpu))
            print("done %s" % key, file=sys.stderr)
        names = [n for n, _ in allocs]
        print("| program | measure | " + " | ".join(names) + " | hp / best other |")
        print("|---" * (len(names) + 3) + "|")
        for key, desc, _, _ in progs:
            for i, what, scale, fmt in ((0, "wall s", 1.0, "%.3f"), (2, "CPU s", 1.0, "%.3f"), (1, "peak RSS MiB", 1024.0, "%.1f")):
                v = {n: statistics.median(x[i] for x in res[(key, n)]) / scale for n in names}
                best = min(v[n] for n in names if n != "hp")
                print("| %s | %s | %s | %.2f |" % (desc, what, " | ".join(fmt % v[n] for n in names), v["hp"] / best))
        print("load after: %s" % open("/proc/loadavg").read().strip(), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
