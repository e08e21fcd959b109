/* examples/lox/fuzz.c -- a fuzz target for hplox's scanner and compiler.
 *
 * LLVMFuzzerTestOneInput compiles one input (it is never run: a random program may loop for
 * ever) and checks that it ends either in a function or in at least one error message.
 * Built with clang -fsanitize=fuzzer,address -DLOX_LIBFUZZER (by hand: the command is in
 * doc/embedding.md, section 13), libFuzzer drives it; otherwise main() below is a
 * self-contained driver for the test suite:
 *   lox-fuzz [-n ITERATIONS] [-s SEED] [SEED_FILE...]
 * Each iteration is a random token stream, or a seed file mutated (bytes flipped, inserted,
 * deleted, token runs spliced in). Deterministic for a given seed; the sanitizer builds
 * catch memory errors, the collector's stress mode (HP_GC_STRESS) moves every object.
 */
#include "lox.h"

#include <stdlib.h>

static bool started;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!started) {
    vm_init();
    started = true;
  }
  char *src = malloc(size + 1);
  if (src == NULL) return 0;
  memcpy(src, data, size);
  src[size] = '\0';                  /* a NUL inside ends the source, as in a file */
  int before = compile_errors;
  ObjFunction *f = compile(src);
  if ((f == NULL) != (compile_errors > before)) {
    fprintf(stdout, "lox-fuzz: compile() returned %s with %d error(s) for input:\n%s\n",
            f ? "a function" : "NULL", compile_errors - before, src);
    abort();
  }
  free(src);
  return 0;
}

#ifndef LOX_LIBFUZZER
static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static size_t below(size_t n) { return n ? (size_t)(next() % n) : 0; }

static const char *const words[] = {
  "(", ")", "{", "}", ",", ".", "-", "+", ";", "/", "*", "!", "!=", "=", "==", ">", ">=", "<",
  "<=", "and", "class", "else", "false", "for", "fun", "if", "nil", "or", "print", "return",
  "super", "this", "true", "var", "while", "a", "b", "c", "init", "f", "A", "B", "x", "1",
  "2.5", "0", "\"s\"", "\"", "\n", " ", "//", "@", "<", "\"multi\nline\"",
};
#define NWORDS (sizeof words / sizeof words[0])

typedef struct Buf { char *p; size_t len, cap; } Buf;
static void put(Buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (b->p == NULL) { fputs("lox-fuzz: out of memory\n", stderr); exit(1); }
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}
static void put_tokens(Buf *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const char *w = words[below(NWORDS)];
    put(b, w, strlen(w));
    put(b, " ", below(3) == 0 ? 0 : 1);
  }
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  Buf b = { 0 };
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) put(&b, chunk, n);
  fclose(f);
  *len = b.len;
  return b.p;
}

int main(int argc, char **argv) {
  long iterations = 20000;
  char *seeds[256];
  size_t seed_len[256];
  int nseeds = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) iterations = atol(argv[++i]);
    else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) rng = strtoull(argv[++i], NULL, 0) | 1;
    else if (nseeds < 256) {
      seeds[nseeds] = slurp(argv[i], &seed_len[nseeds]);
      if (seeds[nseeds] == NULL) { fprintf(stderr, "lox-fuzz: cannot read %s\n", argv[i]); return 2; }
      nseeds++;
    }
  }
  if (getenv("LOX_FUZZ_VERBOSE") == NULL && freopen("/dev/null", "w", stderr) == NULL) return 2;
  long failed_compiles = 0, compiled = 0;
  for (long it = 0; it < iterations; it++) {
    Buf b = { 0 };
    if (nseeds == 0 || below(4) == 0) {
      put_tokens(&b, 1 + below(60));
    } else {
      int s = (int)below((size_t)nseeds);
      put(&b, seeds[s], seed_len[s]);
      for (size_t m = 1 + below(4); m > 0; m--) {
        size_t at = below(b.len + 1);
        switch (below(4)) {
        case 0: if (b.len) b.p[below(b.len)] ^= (char)(1u << below(8)); break;     /* flip */
        case 1: if (b.len > at) { size_t n = below(b.len - at + 1); memmove(b.p + at, b.p + at + n, b.len - at - n); b.len -= n; } break;
        case 2: {                                                                  /* splice */
          Buf t = { 0 };
          put(&t, b.p + at, b.len - at);
          b.len = at;
          put_tokens(&b, 1 + below(8));
          put(&b, t.p ? t.p : "", t.len);
          free(t.p);
          break;
        }
        default: { char c = (char)(1 + below(126)); put(&b, &c, 1); break; }       /* append */
        }
      }
    }
    put(&b, "", 0);
    int before = compile_errors;
    LLVMFuzzerTestOneInput((const uint8_t *)b.p, b.len);
    if (compile_errors > before) failed_compiles++;
    else compiled++;
    free(b.p);
  }
  printf("lox-fuzz: %ld inputs, %ld compiled, %ld rejected with errors\n", iterations, compiled, failed_compiles);
  for (int i = 0; i < nseeds; i++) free(seeds[i]);
  vm_free();
  return 0;
}
#endif
