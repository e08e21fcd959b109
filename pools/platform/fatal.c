/* pools/platform/fatal.c -- fatal errors and warnings. Nothing here allocates. */
#include "pools/platform/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void vsay(const char *fmt, va_list ap) {
  char buf[512];
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  if (n < 0) return;
  if ((size_t)n > sizeof buf - 2) n = (int)sizeof buf - 2;
  buf[n++] = '\n';
  ssize_t w = write(2, buf, (size_t)n);
  (void)w;
}

void hpS_fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay(fmt, ap);
  va_end(ap);
  abort();
}

void hpS_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay(fmt, ap);
  va_end(ap);
}
