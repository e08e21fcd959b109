/* examples/lox/main.c -- hplox: `hplox [--gc-stats] [FILE]`. With a file, runs it (exit 65 on
 * a compile error, 70 on a runtime error); without, a REPL that reads a line at a time.
 * --gc-stats prints the collector's statistics on stdout at exit. */
#include "lox.h"

#include <stdlib.h>

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) { fprintf(stderr, "hplox: could not open \"%s\".\n", path); exit(74); }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  rewind(f);
  char *buf = malloc((size_t)size + 1);
  if (buf == NULL) { fprintf(stderr, "hplox: not enough memory to read \"%s\".\n", path); exit(74); }
  size_t n = fread(buf, 1, (size_t)size, f);
  if (n < (size_t)size) { fprintf(stderr, "hplox: could not read \"%s\".\n", path); exit(74); }
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static void repl(void) {
  char line[4096];
  for (;;) {
    fputs("> ", stdout);
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL) { fputc('\n', stdout); break; }
    interpret(line);
    fflush(stdout);
  }
}

int main(int argc, char **argv) {
  bool stats = false;
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--gc-stats") == 0) stats = true;
    else if (path == NULL && argv[i][0] != '-') path = argv[i];
    else { fputs("Usage: hplox [--gc-stats] [path]\n", stderr); return 64; }
  }
  vm_init();
  int status = 0;
  if (path == NULL) {
    repl();
  } else {
    char *source = read_file(path);
    InterpretResult r = interpret(source);
    free(source);
    if (r == INTERPRET_COMPILE_ERROR) status = 65;
    if (r == INTERPRET_RUNTIME_ERROR) status = 70;
  }
  fflush(stdout);
  if (stats) lx_stats_print(stdout);
  vm_free();
  return status;
}
