#!/usr/bin/env bash
# tests/hpmalloc/programs.sh LIB -- real Debian programs run with LD_PRELOAD=LIB
# (libhpmalloc.so) and their results checked: python3, git, gcc, sqlite3. Each program must
# also show that the pools served it: malloc_usable_size(malloc(100)) is 112 under the pools
# (glibc says 104), asked through python3's ctypes in the preloaded process.
set -euo pipefail
lib=$(readlink -f "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
run() { LD_PRELOAD="$lib" "$@"; }

# 0. The preload takes effect.
got=$(run python3 -c 'import ctypes; c = ctypes.CDLL(None); c.malloc.restype = ctypes.c_void_p; c.malloc_usable_size.argtypes = [ctypes.c_void_p]; print(c.malloc_usable_size(c.malloc(100)))')
[ "$got" = 112 ] || fail "the preloaded malloc is not the pools' (usable size of 100 B: $got)"

# 1. python3: dict and list churn, strings, a known result.
got=$(run python3 "$here/churn.py")
want=$(python3 "$here/churn.py")                 # the same script with glibc's malloc
[ "$got" = "$want" ] || fail "python3: '$got', without the preload '$want'"
case "$got" in "checksum "*) ;; *) fail "python3: unexpected output '$got'";; esac

# 2. git: a repository with history, built and read back.
export GIT_AUTHOR_NAME=hp GIT_AUTHOR_EMAIL=hp@example.invalid GIT_COMMITTER_NAME=hp \
       GIT_COMMITTER_EMAIL=hp@example.invalid GIT_CONFIG_NOSYSTEM=1 HOME="$work"
run git init -q repo
for i in $(seq 1 15); do
  seq 1 $((i * 100)) > repo/file$((i % 7)).txt
  run git -C repo add -A
  run git -C repo commit -q -m "commit $i"
done
[ "$(run git -C repo rev-list --count HEAD)" = 15 ] || fail "git: commit count"
run git -C repo gc -q --aggressive
run git -C repo fsck --strict 2>/dev/null || fail "git fsck"
[ "$(run git -C repo show HEAD:file1.txt | wc -l)" = 1500 ] || fail "git show"
[ "$(run git -C repo log --format=%s | head -1)" = "commit 15" ] || fail "git log"

# 3. gcc: compile and run a program (the compiler's own allocation under the pools).
cat > prog.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#define N 100000
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(void) {
  int *v = malloc(N * sizeof *v);
  unsigned x = 12345;
  for (int i = 0; i < N; i++) { x = x * 1103515245u + 12345u; v[i] = (int)(x >> 8) % 1000000; }
  qsort(v, N, sizeof *v, cmp);
  long long s = 0;
  for (int i = 0; i < N; i += 1000) s += v[i];
  printf("%lld\n", s);
  free(v);
  return 0;
}
C
run gcc -O2 -Wall -o prog prog.c
gcc -O2 -o prog-ref prog.c
[ "$(run ./prog)" = "$(./prog-ref)" ] || fail "gcc: the program's output differs"

# 3b. g++: C++'s operator new and delete reach the pools through malloc and free (libstdc++
# calls them), and the aligned new through aligned_alloc.
cat > newdel.cc <<'CC'
#include <malloc.h>
#include <cstdio>
#include <map>
#include <new>
#include <string>
#include <vector>
struct alignas(64) Wide { char b[64]; };
int main() {
  char *p = new char[100];
  Wide *w = new Wide[3];
  std::map<int, std::string> m;
  for (int i = 0; i < 100000; i++) m[i * 7 % 100003] = std::to_string(i);
  std::vector<std::string> v;
  for (auto &kv : m) v.push_back(kv.second + "!");
  long sum = 0;
  for (auto &s : v) sum += (long)s.size();
  std::printf("%zu %d %ld\n", malloc_usable_size(p), (int)(((unsigned long)w) % 64), sum);
  delete[] w;
  delete[] p;
  return 0;
}
CC
run g++ -O2 -o newdel newdel.cc
got=$(run ./newdel)
[ "$got" = "112 0 588890" ] || fail "g++: '$got' (usable size of new char[100], alignment of new Wide, checksum)"

# 4. sqlite3: a generated database, queried.
{
  echo "create table t(id integer primary key, name text, v real);"
  echo "begin;"
  for i in $(seq 1 5000); do echo "insert into t(name, v) values('name$i', $i.5);"; done
  echo "commit;"
  echo "create index t_name on t(name);"
} > gen.sql
run sqlite3 db.sqlite < gen.sql
got=$(run sqlite3 db.sqlite "select count(*), sum(v), max(name) from t where id % 3 = 0;")
[ "$got" = "1666|4166666.0|name999" ] || fail "sqlite3: '$got'"
got=$(run sqlite3 db.sqlite "select group_concat(name, ',') from (select name from t order by v desc limit 3);")
[ "$got" = "name5000,name4999,name4998" ] || fail "sqlite3 order: '$got'"

echo "all programs ran under $lib"
