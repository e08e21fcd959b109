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

bool hpR_config_check(const hp_config *c) {
  bool ok = true;
#define X(kind, field, env, def, lo, hi, desc)                                               \
  if (!in_range((unsigned long long)c->field, (lo), (hi))) {                               \
    hpS_warn("hp: option %s = %llu is outside [%llu, %llu]", #field,                         \
             (unsigned long long)c->field, (unsigned long long)(lo), (unsigned long long)(hi)); \
    ok = false;                                                                             \
  }
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

#define KIND_IS_size 1
#define KIND_IS_uint 0
#define KIND_IS_bool 0

int hp_config_from_env(hp_config *c) {
  int rejected = 0;
#define X(kind, field, env, def, lo, hi, desc)                                               \
  {                                                                                         \
    const char *s = getenv(env);                                                            \
    unsigned long long v;                                                                   \
    if (s != NULL) {                                                                        \
      if (parse_number(s, KIND_IS_##kind, &v) && in_range(v, (lo), (hi))) {                 \
        c->field = (__typeof__(c->field))v;                                                 \
      } else {                                                                              \
        hpS_warn("hp: ignoring %s=%s: expected %s in [%llu, %llu]", env, s,                  \
                 KIND_IS_##kind ? "a size (K/M/G suffix allowed)" : "a number",             \
                 (unsigned long long)(lo), (unsigned long long)(hi));                        \
        rejected++;                                                                         \
      }                                                                                     \
    }                                                                                       \
  }
  HP_OPTIONS(X)
#undef X
  return rejected;
}
