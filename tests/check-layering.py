#!/usr/bin/env python3
"""tests/check-layering.py -- the layering rule of doc/design.md ("Layers"), checked.

The library's folders are layers, bottom up:
    pools/platform/  (hpS_)  OS calls, fatal errors, assertion tiers, small containers
    pools/           (hpP_)  spans, pages, the pool heaps
    gc/              (hpC_)  the collector: objects, spaces, mutators, collections
    runtime/         (hpR_)  the facade: runtimes, configuration, handlers, statistics
A file may include, name and call only its own layer and the layers below it (and the
public headers of include/). Three checks, and a fourth on the atomics dialect:
  includes  every #include "..." of a library file resolves to its own layer or a lower
            one (or include/); an include of an unknown folder fails too;
  prefixes  no code of a layer (comments and strings aside) names a higher layer's prefix
            (hpC_, HPC_, ...);
  symbols   (with --library) no object file of the static library has an undefined symbol
            that an object of a higher layer defines: this covers the public hp_ functions,
            which carry no layer prefix.
  atomics   pools/ (with its platform), gc/ and runtime/ use C11 atomics with an explicit order only:
            no GCC __atomic builtin, no atomic_* call without _explicit (doc/design.md).
--self-test runs the checks on a small tree with one violation of each kind and fails
unless each is found.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

LAYERS = [  # (folder, rank, prefixes); the most specific folder first
    ("pools/platform", 0, ("hpS_", "HPS_")),
    ("pools", 1, ("hpP_", "HPP_")),
    ("gc", 2, ("hpC_", "HPC_")),
    ("runtime", 3, ("hpR_", "HPR_")),
]
NAMES = {rank: folder for folder, rank, _ in LAYERS}
PUBLIC = "include"
# Folders held to one atomics dialect (C11, explicit orders).
EXPLICIT_ATOMICS = ("pools/", "gc/", "runtime/")
IMPLICIT = re.compile(r"\b(__atomic_\w+|atomic_(load|store|exchange|compare_exchange_weak|"
                      r"compare_exchange_strong|fetch_add|fetch_sub|fetch_or|fetch_and|fetch_xor))\s*\(")


def layer_of(path):
    """The rank of a repository-relative path, None for include/, -1 for anything else."""
    path = path.replace(os.sep, "/")
    if path.startswith(PUBLIC + "/"):
        return None
    for folder, rank, _ in LAYERS:
        if path.startswith(folder + "/"):
            return rank
    return -1


def sources(root):
    for folder, _, _ in LAYERS:
        top = os.path.join(root, folder)
        for d, _, files in os.walk(top):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    p = os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
                    # a file belongs to its most specific folder only
                    yield p


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', text)


def check_sources(root):
    errors = []
    seen = set()
    for path in sources(root):
        if path in seen:
            continue
        seen.add(path)
        rank = layer_of(path)
        with open(os.path.join(root, path), encoding="utf-8") as f:
            text = f.read()
        for n, line in enumerate(text.splitlines(), 1):
            m = re.match(r'\s*#\s*include\s*"([^"]+)"', line)
            if not m:
                continue
            inc = m.group(1)
            target = inc if "/" in inc else None
            if target is None:  # "hp.h": the public headers, or a file beside this one
                if os.path.exists(os.path.join(root, PUBLIC, inc)):
                    continue
                target = os.path.join(os.path.dirname(path), inc)
            t = layer_of(target)
            if t is None:
                continue
            if t == -1:
                errors.append(f"{path}:{n}: includes \"{inc}\", which is in no layer")
            elif t > rank:
                errors.append(f"{path}:{n}: includes \"{inc}\": {NAMES[rank]}/ is below {NAMES[t]}/")
        code = strip_comments(text)
        if path.startswith(EXPLICIT_ATOMICS):
            for n, line in enumerate(code.splitlines(), 1):
                m = IMPLICIT.search(line)
                if m:
                    errors.append(f"{path}:{n}: {m.group(1)}: C11 atomics with an explicit order only")
        for folder, t, prefixes in LAYERS:
            if t <= rank:
                continue
            for n, line in enumerate(code.splitlines(), 1):
                for p in prefixes:
                    m = re.search(r"\b" + p + r"\w+", line)
                    if m:
                        errors.append(f"{path}:{n}: names {m.group(0)} of {folder}/, a higher layer")
    return errors


def member_layer(member):
    """The layer of an object file of the static library, from meson's name for it
    (pools_platform_os.c.o is pools/platform/os.c)."""
    name = member.replace("_", "/")
    best = -1
    for folder, rank, _ in LAYERS:
        if name.startswith(folder + "/"):
            return rank
    return best


def check_symbols(library):
    out = subprocess.run(["nm", "-A", "--defined-only", "-g", library], capture_output=True,
                         text=True, check=True).stdout
    defined = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        member = parts[0].split(":")[-2] if parts[0].count(":") >= 2 else parts[0].rstrip(":")
        defined[parts[-1]] = member
    out = subprocess.run(["nm", "-A", "-u", library], capture_output=True, text=True,
                         check=True).stdout
    errors = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        member = parts[0].split(":")[-2] if parts[0].count(":") >= 2 else parts[0].rstrip(":")
        sym = parts[-1]
        if sym not in defined:
            continue
        lo, hi = member_layer(member), member_layer(defined[sym])
        if lo == -1 or hi == -1:
            errors.append(f"{member}: calls {sym} of {defined[sym]}: an object in no layer")
        elif hi > lo:
            errors.append(f"{member}: calls {sym}, defined in {defined[sym]} ({NAMES[hi]}/, "
                          f"above {NAMES[lo]}/)")
    return errors


def self_test():
    with tempfile.TemporaryDirectory() as root:
        files = {
            "include/hp.h": "int hp_top(void);\n",
            "pools/platform/base.h": "/* platform */\n",
            "pools/low.c": '#include "hp.h"\n#include "gc/gc.h"\nint hpP_low(void) { return hp_top(); }\n',
            "pools/named.c": '#include "pools/platform/base.h"\n/* hpC_ in a comment is fine */\n'
                             'int hpP_named(void) { return HPC_THING; }\n',
            "gc/gc.h": "/* gc */\n",
            "gc/racy.c": "int hpC_racy(int *p) { return __atomic_load_n(p, 0) + atomic_load(p); }\n",
            "runtime/top.c": '#include "hp.h"\nint hp_top(void) { return 1; }\n',
        }
        for p, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, p)), exist_ok=True)
            with open(os.path.join(root, p), "w") as f:
                f.write(text)
        errors = check_sources(root)
        want = ["pools/low.c:2: includes", "pools/named.c:3: names HPC_THING",
                "gc/racy.c:1: __atomic_load_n"]
        ok = all(any(e.startswith(w) for e in errors) for w in want) and len(errors) == 3
        objs = []
        for p in ("pools/low.c", "runtime/top.c"):
            o = os.path.join(root, p.replace("/", "_") + ".o")
            subprocess.run(["cc", "-c", "-I", os.path.join(root, "include"), "-I", root,
                            "-o", o, os.path.join(root, p)], check=True)
            objs.append(o)
        lib = os.path.join(root, "libx.a")
        subprocess.run(["ar", "rc", lib] + objs, check=True)
        sym_errors = check_symbols(lib)
        ok = ok and len(sym_errors) == 1 and "hp_top" in sym_errors[0]
        for e in errors + sym_errors:
            print("self-test found:", e)
        if not ok:
            print("check-layering: the self-test did not find exactly the planted violations")
            return 1
        print("check-layering: the self-test found every planted violation")
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    ap.add_argument("--library", help="the static library, for the symbol check")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    errors = check_sources(a.root)
    if a.library:
        errors += check_symbols(a.library)
    for e in errors:
        print(e)
    if errors:
        print(f"check-layering: {len(errors)} upward dependencies (doc/design.md, \"Layers\")")
        return 1
    print("check-layering: every include, name and call goes down the layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
