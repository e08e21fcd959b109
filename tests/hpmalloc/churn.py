# tests/hpmalloc/churn.py -- an allocation-heavy python3 script with a deterministic output:
# dicts and lists built and dropped, strings joined and split, a checksum printed.
import random
import sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15

rng = random.Random(20261204)
total = 0
for rnd in range(rounds):
    d = {}
    for i in range(20000):
        k = "k%d_%d" % (rnd, rng.randrange(100000))
        d[k] = [i, str(i) * (i % 7), {"x": i}]
    lst = sorted(d.items())[: 5000]
    total += sum(len(v[1]) + v[0] for _, v in lst)
    s = ",".join(k for k, _ in lst)
    total += len(s.split(","))
    del d, lst, s
print("checksum", total)
