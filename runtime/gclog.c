/* runtime/gclog.c -- the GC log: one record per collection, as a human line
 * (HP_GC_LOG=text) or as one JSON object per line (HP_GC_LOG=json), on stderr or in the
 * file HP_GC_LOG_FILE.
 *
 * The collection bracket hands over one hpC_results (gc/gc.h) through rt->on_cycle, with the
 * world still stopped. Nothing here allocates or takes a lock: a record is formatted into a
 * buffer on the stack and written with one write(2), so that records from several runtimes
 * sharing a file (O_APPEND) or stderr do not interleave.
 *
 * The JSON fields are the table below, in order; adding a field is one line there and one in
 * doc/options.md ("The GC log"). Raise HPR_GCLOG_VERSION when a field changes meaning or
 * goes; a field added at the end keeps the version (readers ignore what they do not know).
 */
#include "runtime/runtime.h"
#include "pools/platform/os.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HPR_GCLOG_VERSION 1

static const char *kind_name(hp_gc_kind k) { return k == HP_GC_MINOR ? "minor" : "major"; }

/* X(kind, "name", value): kind u (an unsigned integer), s (a string without quotes or
 * backslashes) or phases (the phase times, an object). Units are in the names: _ns
 * nanoseconds, bytes everywhere else unless said. */
#define GCLOG_FIELDS(X)                                                                     \
  X(u, "v", HPR_GCLOG_VERSION)                                                              \
  X(s, "kind", kind_name(cy->kind))                                                        \
  X(u, "number", cy->number)                                                                \
  X(u, "start_ns", cy->start_ns)                                                            \
  X(u, "pause_ns", cy->pause_ns)                                                            \
  X(u, "stop_ns", cy->stop_ns)                                                              \
  X(u, "threads", cy->threads)                                                              \
  X(u, "threads_waited", cy->threads_waited)                                                \
  X(u, "heap_before", cy->heap_before)                                                      \
  X(u, "heap_after", cy->heap_after)                                                        \
  X(u, "committed", cy->committed)                                                          \
  X(u, "eden", cy->eden)                                                                    \
  X(u, "copied", cy->copied)                                                                \
  X(u, "promoted", cy->promoted)                                                            \
  X(u, "pinned", cy->pinned)                                                                \
  X(u, "marked", cy->marked)                                                                \
  X(u, "marked_objects", cy->marked_objects)                                                \
  X(u, "freed_objects", cy->freed_objects)                                                  \
  X(u, "tenure", cy->tenure)                                                                \
  X(u, "weak_cleared", cy->weak_cleared)                                                    \
  X(u, "ephemerons_traced", cy->ephemerons_traced)                                          \
  X(u, "ephemerons_cleared", cy->ephemerons_cleared)                                        \
  X(u, "finalizers_queued", cy->finalizers_queued)                                          \
  X(u, "concurrent_ns", cy->concurrent_ns)                                                  \
  X(phases, "phases_ns", cy->phase_ns)

static const char *const phase_names[HPC_NPHASES] = {
#define X(name) #name,
  HPC_PHASES(X)
#undef X
};

/* ---- A record being formatted: a fixed buffer; what does not fit is cut (never the case
 * with the fields above, well under half of it). ---- */
typedef struct buf { char s[2048]; size_t len; } buf;

static void put(buf *b, const char *s, size_t n) {
  if (n > sizeof b->s - 1 - b->len) n = sizeof b->s - 1 - b->len;   /* keep room for '\n' */
  memcpy(b->s + b->len, s, n);
  b->len += n;
}
static void put_str(buf *b, const char *s) { put(b, s, strlen(s)); }
static void put_dec(buf *b, uint64_t v) {
  char d[20];
  int n = 0;
  do { d[sizeof d - 1 - n++] = (char)('0' + v % 10); v /= 10; } while (v);
  put(b, d + sizeof d - n, (size_t)n);
}
static void put_key(buf *b, const char *name) {
  put_str(b, b->len > 1 ? ",\"" : "\"");
  put_str(b, name);
  put_str(b, "\":");
}
static void put_u(buf *b, const char *name, uint64_t v) { put_key(b, name); put_dec(b, v); }
static void put_s(buf *b, const char *name, const char *v) {
  put_key(b, name);
  put_str(b, "\"");
  put_str(b, v);
  put_str(b, "\"");
}
static void put_phases(buf *b, const char *name, const uint64_t *ns) {
  put_key(b, name);
  for (unsigned i = 0; i < HPC_NPHASES; i++) {
    put_str(b, i ? ",\"" : "{\"");
    put_str(b, phase_names[i]);
    put_str(b, "\":");
    put_dec(b, ns[i]);
  }
  put_str(b, "}");
}

/* Writes the whole record; an error is ignored (a log must not stop the program). */
static void emit(int fd, buf *b) {
  b->s[b->len++] = '\n';
  int saved = errno;
  (void)hpS_write_all(fd, b->s, b->len);
  errno = saved;
}

static void write_json(hp_runtime *rt, const hpC_results *cy) {
  buf b = { .len = 0 };
  put_str(&b, "{");
#define X(kind, name, value) put_##kind(&b, name, value);
  GCLOG_FIELDS(X)
#undef X
  put_str(&b, "}");
  emit(rt->log_fd, &b);
}

/* The human line (the default log): snprintf of integers and %.3f does not allocate. */
static void write_text(hp_runtime *rt, const hpC_results *cy) {
  buf b;
  int n = snprintf(b.s, sizeof b.s - 1,
                   "[hp gc] %s #%llu pause %.3f ms, heap %zuK -> %zuK (committed %zuK), copied %zuK, "
                   "promoted %zuK, weak cleared %llu, ephemerons %llu (cleared %llu), finalizers queued %llu, "
                   "stop %.3f ms",
                   kind_name(cy->kind), (unsigned long long)cy->number, (double)cy->pause_ns / 1e6,
                   cy->heap_before >> 10, cy->heap_after >> 10, cy->committed >> 10, cy->copied >> 10,
                   cy->promoted >> 10, (unsigned long long)cy->weak_cleared,
                   (unsigned long long)cy->ephemerons_traced, (unsigned long long)cy->ephemerons_cleared,
                   (unsigned long long)cy->finalizers_queued, (double)cy->stop_ns / 1e6);
  if (n < 0) return;
  b.len = (size_t)n < sizeof b.s - 1 ? (size_t)n : sizeof b.s - 2;
  emit(rt->log_fd, &b);
}

int hpR_gclog_open(hp_runtime *rt) {
  rt->log_fd = -1;
  rt->on_cycle = NULL;
  if (rt->cfg.gc_log == HP_GC_LOG_OFF) return 0;
  const char *path = rt->cfg.gc_log_file;
  if (path == NULL) {
    rt->log_fd = STDERR_FILENO;
  } else {
    int fd = hpS_open_log(path);
    if (fd < 0) {
      hpS_warn("hp: cannot open the GC log file %s: %s", path, strerror(-fd));
      return -fd;
    }
    rt->log_fd = fd;
  }
  rt->on_cycle = rt->cfg.gc_log == HP_GC_LOG_JSON ? write_json : write_text;
  return 0;
}

void hpR_gclog_close(hp_runtime *rt) {
  if (rt->log_fd >= 0 && rt->log_fd != STDERR_FILENO) hpS_close(rt->log_fd);
  rt->log_fd = -1;
  rt->on_cycle = NULL;
}
