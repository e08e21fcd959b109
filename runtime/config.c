/* runtime/config.c -- defaults, range checks and environment parsing of hp_config, all made
 * from the one option table in runtime/options.h. */
#include "runtime/runtime.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void hp_config_default(hp_config *c) {
  memset(c, 0, sizeof *c);
#define X(kind, field, env, def, lo, hi, desc) c->field = def;
  HP_OPTIONS(X)
#undef X
}

/* A function, not an expression, so that a bound of 0 draws no always-true warning. */
static bool in_range(unsigned long long v, unsigned long long lo, unsigned long long hi) {
  return v >= lo && v <= hi;
}

/* The range checks, one per kind of option: false (and a warning) when out of range. */
static bool check_number(const char *field, unsigned long long v, unsigned long long lo, unsigned long long hi) {
  if (in_range(v, lo, hi)) return true;
  hpS_warn("hp: option %s = %llu is outside [%llu, %llu]", field, v, lo, hi);
  return false;
}
#define check_size check_number
#define check_uint check_number
#define check_bool check_number
#define check_enum check_number
static bool check_string(const char *field, const char *v, unsigned long long lo, unsigned long long hi) {
  (void)field; (void)v; (void)lo; (void)hi;
  return true;
}

bool hpR_config_check(const hp_config *c) {
  bool ok = true;
#define X(kind, field, env, def, lo, hi, desc) ok &= check_##kind(#field, c->field, (lo), (hi));
  HP_OPTIONS(X)
#undef X
  size_t young = c->eden_size + 2 * (c->eden_size / 100 * c->survivor_percent);
  if (ok && c->heap_limit != 0 && c->heap_limit < young + young / 2) {
    hpS_warn("hp: option heap_limit = %zu leaves no room: the young generation alone takes %zu",
             c->heap_limit, young);
    ok = false;
  }
  if (ok && c->large_object_size > c->eden_size / 4) {
    hpS_warn("hp: option large_object_size = %zu must be at most a quarter of eden_size", c->large_object_size);
    ok = false;
  }
  return ok;
}

/* Parses a decimal number with an optional K, M or G suffix (powers of 1024): digits first,
 * nothing else anywhere. strtoull alone would skip leading white space and accept a sign,
 * negating in unsigned arithmetic (" -1" would be 2^64 - 1). */
static bool parse_number(const char *s, bool sizes, unsigned long long *out) {
  if (*s < '0' || *s > '9') return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s) return false;
  if (sizes && *end) {
    unsigned shift = 0;
    switch (*end) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      default: return false;
    }
    if (v > (~0ull >> shift)) return false;
    v <<= shift;
    end++;
    if (*end == 'B' || *end == 'b') end++;
  }
  if (*end) return false;
  *out = v;
  return true;
}

/* The parsers of the environment, one per kind: true and *out set, or false. */
static bool parse_size(const char *s, unsigned long long lo, unsigned long long hi, size_t *out) {
  unsigned long long v;
  if (!parse_number(s, true, &v) || !in_range(v, lo, hi)) return false;
  *out = (size_t)v;
  return true;
}
static bool parse_uint(const char *s, unsigned long long lo, unsigned long long hi, unsigned *out) {
  unsigned long long v;
  if (!parse_number(s, false, &v) || !in_range(v, lo, hi)) return false;
  *out = (unsigned)v;
  return true;
}
static bool parse_bool(const char *s, unsigned long long lo, unsigned long long hi, bool *out) {
  unsigned long long v;
  if (!parse_number(s, false, &v) || !in_range(v, lo, hi)) return false;
  *out = v != 0;
  return true;
}
/* A number, or the name of a value (names[v]). */
static bool parse_enum(const char *s, const char *const *names, unsigned long long lo, unsigned long long hi,
                       unsigned *out) {
  for (unsigned v = 0; names[v] != NULL; v++)
    if (strcmp(s, names[v]) == 0 && in_range(v, lo, hi)) { *out = v; return true; }
  return parse_uint(s, lo, hi, out);
}
/* The pointer into the environment is kept: it lives as long as the variable is not set
 * again, and the runtime reads it only when it is made. */
static bool parse_string(const char *s, unsigned long long lo, unsigned long long hi, const char **out) {
  (void)lo; (void)hi;
  if (*s == 0) return false;
  *out = s;
  return true;
}
#define PARSE_size(field, s, lo, hi, out) parse_size(s, lo, hi, out)
#define PARSE_uint(field, s, lo, hi, out) parse_uint(s, lo, hi, out)
#define PARSE_bool(field, s, lo, hi, out) parse_bool(s, lo, hi, out)
#define PARSE_string(field, s, lo, hi, out) parse_string(s, lo, hi, out)
#define PARSE_enum(field, s, lo, hi, out) \
  parse_enum(s, (const char *const[])HP_OPTION_NAMES_##field, lo, hi, out)
#define EXPECTED_size "a size (K/M/G suffix allowed)"
#define EXPECTED_uint "a number"
#define EXPECTED_bool "0 or 1"
#define EXPECTED_enum "a number or a name"
#define EXPECTED_string "a non-empty path"

int hp_config_from_env(hp_config *c) {
  int rejected = 0;
#define X(kind, field, env, def, lo, hi, desc)                                               \
  {                                                                                         \
    const char *s = getenv(env);                                                            \
    if (s != NULL && !PARSE_##kind(field, s, (lo), (hi), &c->field)) {                      \
      hpS_warn("hp: ignoring %s=%s: expected %s in [%llu, %llu]", env, s, EXPECTED_##kind,   \
               (unsigned long long)(lo), (unsigned long long)(hi));                          \
      rejected++;                                                                           \
    }                                                                                       \
  }
  HP_OPTIONS(X)
#undef X
  return rejected;
}
