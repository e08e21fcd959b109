/* tests/gc/test-gc-log.c -- the GC log (<hp.h> only): the JSON records of a run with two
 * threads against hp_gc_stats of the same run, the text line, the log file's errors, and the
 * options in the environment.
 *
 * With HP_TEST_GCLOG_KEEP=PATH the JSON test writes its log there and leaves it (the plot test,
 * tests/gc/check-gcplot.py, runs this program so and plots the log); otherwise in a temporary
 * file that it removes.
 */
#include "gc-test.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct node { struct node *next; long value; } node;
static const uint32_t node_slots[] = { offsetof(node, next) };
static hp_type node_type = { .name = "log node", .size = sizeof(node), .noffsets = 1, .offsets = node_slots };

/* Every field of a version-1 record, in the order the writer prints them (doc/options.md). */
static const char *const fields[] = {
  "v", "kind", "number", "start_ns", "pause_ns", "stop_ns", "threads", "threads_waited", "heap_before",
  "heap_after", "committed", "eden", "copied", "promoted", "pinned", "marked", "marked_objects",
  "freed_objects", "tenure", "weak_cleared", "ephemerons_traced", "ephemerons_cleared", "finalizers_queued",
  "concurrent_ns", "phases_ns",
};
#define NFIELDS (sizeof fields / sizeof fields[0])
static const char *const phases[] = { "stop", "retire", "roots", "remembered", "copy", "weak", "reset", "mark",
                                      "sweep", "verify" };
#define NPHASES (sizeof phases / sizeof phases[0])

/* The value of "name": in the record (an unsigned number), failing the test if absent. */
static uint64_t field(const char *rec, const char *name) {
  char key[64];
  snprintf(key, sizeof key, "\"%s\":", name);
  const char *p = strstr(rec, key);
  ck_assert_msg(p != NULL, "no field %s in %s", name, rec);
  p += strlen(key);
  ck_assert_msg(*p >= '0' && *p <= '9', "field %s is not a number in %s", name, rec);
  return strtoull(p, NULL, 10);
}

static size_t count_keys(const char *rec) { return t_count_substr(rec, "\":"); }

/* ---- a second thread that allocates, so that collections stop it ---- */
typedef struct helper { hp_runtime *rt; _Atomic bool stop; _Atomic bool attached; long made; } helper;

static void *helper_body(void *arg) {
  helper *h = arg;
  hp_thread *t = hp_thread_attach(h->rt);
  ck_assert_ptr_nonnull(t);
  node *keep = NULL;
  HP_ROOTS(t, fr, HP_SLOT(keep));
  atomic_store_explicit(&h->attached, true, memory_order_release);
  while (!atomic_load_explicit(&h->stop, memory_order_acquire)) {
    node *n = HP_NEW(t, &node_type);
    n->value = h->made++;
    if (h->made % 64 == 0) { hp_write(t, n, &n->next, keep); keep = n; }
    if (h->made % 100000 == 0) keep = NULL;
  }
  HP_UNROOT(t, fr);
  hp_thread_detach(t);
  return NULL;
}

/* Weak references to objects that die, held by global roots; finalizers on such objects. */
#define NWEAK 16
static void *weak_slots[NWEAK];
static void on_final(hp_thread *t, void *obj, void *data) { (void)t; (void)obj; (void)data; }

/* Reads the whole file (malloc'd, NUL-terminated). */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *s = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(s);
  size_t r = fread(s, 1, (size_t)n, f);
  s[r] = 0;
  fclose(f);
  return s;
}

START_TEST(test_json_against_stats) {
  const char *keep = getenv("HP_TEST_GCLOG_KEEP");
  char path[256];
  if (keep && *keep) {
    snprintf(path, sizeof path, "%s", keep);
  } else {
    snprintf(path, sizeof path, "/tmp/hp-test-gclog-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
  }
  hp_config c = t_config();
  c.gc_log = HP_GC_LOG_JSON;
  c.gc_log_file = path;
  c.eden_size = 512 * T_KiB;               /* many collections from a short run */
  c.major_min_size = 2 * T_MiB;
  hp_runtime *rt = t_runtime(&c);
  hp_type_register(rt, &node_type);
  hp_thread *t = hp_main_thread(rt);

  helper h = { .rt = rt };
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, helper_body, &h), 0);
  while (!atomic_load_explicit(&h.attached, memory_order_acquire)) hp_safepoint(t);

  /* A list that grows and is dropped now and then: copies, promotions, major collections;
   * weak references and finalizers on objects that die (i % 8 != 0: not in the list). */
  node *list = NULL, *tmp = NULL;
  HP_ROOTS(t, fr, HP_SLOT(list), HP_SLOT(tmp));
  for (size_t k = 0; k < NWEAK; k++) ck_assert_int_eq(hp_root_add(rt, &weak_slots[k]), 0);
  size_t n = t_big(600000, 300000, 20000);   /* 14 to 28 edens' worth from this thread alone */
  for (size_t i = 0; i < n; i++) {
    node *x = HP_NEW(t, &node_type);
    x->value = (long)i;
    if (i % 1000 == 1) {
      tmp = x;
      weak_slots[i / 1000 % NWEAK] = hp_weak_new(t, tmp);
      ck_assert_ptr_nonnull(weak_slots[i / 1000 % NWEAK]);
      x = tmp = NULL;
    }
    if (i % 5000 == 3) {
      tmp = x;
      ck_assert_int_eq(hp_finalizer_register(t, tmp, on_final, NULL), 0);
      x = tmp = NULL;
    }
    if (x != NULL && i % 8 == 0) { hp_write(t, x, &x->next, list); list = x; }
    if (i % 200000 == 199999 && i + 1 < n) list = NULL;   /* the last list stays */
  }
  hp_collect(t, HP_GC_MINOR);
  hp_collect(t, HP_GC_MAJOR);
  atomic_store_explicit(&h.stop, true, memory_order_release);
  hp_blocking_enter(t);
  pthread_join(th, NULL);
  hp_blocking_leave(t);
  hp_collect(t, HP_GC_MINOR);              /* alone: no other thread */
  hp_collect(t, HP_GC_MAJOR);              /* the last: nothing allocates after it */
  HP_UNROOT(t, fr);
  struct hp_gc_stats s = t_stats(rt);
  for (size_t k = 0; k < NWEAK; k++) ck_assert_ptr_null(hp_weak_get(t, weak_slots[k]));   /* all died */
  hp_runtime_destroy(rt);                  /* closes the file */
  memset(weak_slots, 0, sizeof weak_slots);

  char *log = slurp(path);
  uint64_t nrec = 0, nminor = 0, nmajor = 0, copied = 0, promoted = 0, pinned = 0, freed = 0, pause = 0,
           stop = 0, minor_max = 0, major_max = 0, last_end = 0, with_helper = 0, weak = 0, eph = 0, fin = 0;
  const char *last = NULL;
  for (char *line = log, *eol; *line; line = eol + 1) {
    eol = strchr(line, '\n');
    ck_assert_msg(eol != NULL, "the log does not end in a newline");
    *eol = 0;
    nrec++;
    ck_assert_msg(line[0] == '{' && eol[-1] == '}', "record %llu is not an object: %s", (unsigned long long)nrec, line);
    /* Every field, once, in order; nothing else but the phases. */
    const char *at = line;
    for (size_t f = 0; f < NFIELDS; f++) {
      char key[64];
      snprintf(key, sizeof key, "\"%s\":", fields[f]);
      const char *p = strstr(at, key);
      ck_assert_msg(p != NULL, "record %llu: field %s missing or out of order: %s", (unsigned long long)nrec, fields[f], line);
      at = p + strlen(key);
    }
    ck_assert_uint_eq(count_keys(line), NFIELDS + NPHASES);
    ck_assert_uint_eq(field(line, "v"), 1);
    bool minor = strstr(line, "\"kind\":\"minor\"") != NULL;
    ck_assert_msg(minor || strstr(line, "\"kind\":\"major\"") != NULL, "record %llu: bad kind: %s", (unsigned long long)nrec, line);
    uint64_t number = field(line, "number");
    ck_assert_uint_eq(number, minor ? ++nminor : ++nmajor);
    uint64_t start = field(line, "start_ns"), p = field(line, "pause_ns");
    ck_assert_msg(start >= last_end, "record %llu starts before the last one ended", (unsigned long long)nrec);
    last_end = start + p;
    uint64_t st = field(line, "stop_ns");
    ck_assert_uint_le(st, p);
    uint64_t phase_sum = 0;
    for (size_t k = 0; k < NPHASES; k++) phase_sum += field(strstr(line, "\"phases_ns\":"), phases[k]);
    ck_assert_uint_le(phase_sum, p);       /* the phases are parts of the pause */
    if (minor) {
      ck_assert_uint_eq(field(line, "marked"), 0);
      ck_assert_uint_eq(field(strstr(line, "\"phases_ns\":"), "mark"), 0);
    }
    uint64_t threads = field(line, "threads");
    ck_assert_uint_le(threads, 1);
    ck_assert_uint_le(field(line, "threads_waited"), threads);
    with_helper += threads;
    ck_assert_uint_eq(field(line, "eden"), 512 * T_KiB);
    ck_assert_uint_le(field(line, "heap_after"), field(line, "committed"));
    copied += field(line, "copied");
    promoted += field(line, "promoted");
    pinned += field(line, "pinned");
    freed += field(line, "freed_objects");
    weak += field(line, "weak_cleared");
    eph += field(line, "ephemerons_traced");
    fin += field(line, "finalizers_queued");
    pause += p;
    stop += st;
    if (minor && p > minor_max) minor_max = p;
    if (!minor && p > major_max) major_max = p;
    last = line;
  }
  ck_assert_ptr_nonnull(last);
  /* The same run, counted by hp_gc_stats. */
  ck_assert_uint_eq(nminor, s.minor_count);
  ck_assert_uint_eq(nmajor, s.major_count);
  ck_assert_uint_eq(nrec, s.minor_count + s.major_count);
  ck_assert_uint_ge(s.minor_count, 4);     /* the two requested, and at least two for eden */
  ck_assert_uint_ge(s.major_count, 2);
  ck_assert_uint_eq(copied, s.bytes_copied);
  ck_assert_uint_eq(promoted, s.bytes_promoted);
  ck_assert_uint_eq(pinned, s.bytes_pinned);
  ck_assert_uint_eq(freed, s.objects_freed);
  ck_assert_uint_eq(weak, s.weak_cleared);
  ck_assert_uint_ge(weak, NWEAK);          /* at least the last NWEAK, held to the end */
  ck_assert_uint_eq(eph, s.ephemerons_traced);
  ck_assert_uint_eq(fin, s.finalizers_queued);
  ck_assert_uint_ge(fin, 1);
  ck_assert_uint_eq(pause, s.gc_ns);
  ck_assert_uint_eq(stop, s.stop_ns_total);
  ck_assert_uint_eq(minor_max, s.minor.max_ns);
  ck_assert_uint_eq(major_max, s.major.max_ns);
  ck_assert_uint_le(last_end, s.total_ns);
  ck_assert_uint_ge(with_helper, 2);       /* the collections before the join saw the helper */
  /* The last record is the last major collection, and nothing ran after it. */
  ck_assert_msg(strstr(last, "\"kind\":\"major\"") != NULL, "the last record is not the major collection");
  ck_assert_uint_eq(field(last, "threads"), 0);
  ck_assert_uint_eq(field(last, "marked"), s.old_live_after_major);
  ck_assert_uint_eq(field(last, "committed"), s.heap_committed);
  ck_assert_uint_eq(field(last, "tenure"), s.tenure_age);
  ck_assert_uint_gt(field(last, "marked_objects"), 0);
  /* Live: the list's nodes and the NWEAK weak references (one slot each). */
  ck_assert_uint_eq(field(last, "marked"), (field(last, "marked_objects") - NWEAK) * t_obj_bytes(sizeof(node)) +
                                               NWEAK * t_obj_bytes(sizeof(void *)));
  free(log);
  if (!(keep && *keep)) unlink(path);
}
END_TEST

START_TEST(test_text_to_file) {
  char path[] = "/tmp/hp-test-gclog-text-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "old contents\n", 13), 13);   /* the runtime truncates the file */
  close(fd);
  hp_config c = t_config();
  c.gc_log = HP_GC_LOG_TEXT;
  c.gc_log_file = path;
  hp_runtime *rt = t_runtime(&c);
  hp_thread *t = hp_main_thread(rt);
  struct hp_gc_stats s0 = t_stats(rt);     /* stress mode may collect at any allocation */
  hp_collect(t, HP_GC_MINOR);
  hp_collect(t, HP_GC_MAJOR);
  struct hp_gc_stats s = t_stats(rt);
  hp_runtime_destroy(rt);
  char *log = slurp(path);
  ck_assert_ptr_null(strstr(log, "old contents"));
  ck_assert_uint_eq(t_count_substr(log, "\n"), s.minor_count + s.major_count);
  char want[64];
  snprintf(want, sizeof want, "[hp gc] minor #%llu pause ", (unsigned long long)s0.minor_count + 1);
  ck_assert_msg(strstr(log, want) != NULL, "no \"%s\" in: %s", want, log);
  snprintf(want, sizeof want, "[hp gc] major #%llu pause ", (unsigned long long)s0.major_count + 1);
  ck_assert_msg(strstr(log, want) != NULL, "no \"%s\" in: %s", want, log);
  ck_assert_ptr_null(strchr(log, '{'));
  free(log);
  unlink(path);
}
END_TEST

START_TEST(test_file_cannot_open) {
  hp_config c = t_config();
  c.gc_log = HP_GC_LOG_JSON;
  c.gc_log_file = "/nonexistent-hp-dir/gc.log";
  t_capture cap = t_capture_begin();
  errno = 0;
  hp_runtime *rt = hp_runtime_new(&c);
  int err = errno;
  char *msg = t_capture_end(&cap);
  ck_assert_ptr_null(rt);
  ck_assert_int_eq(err, ENOENT);
  ck_assert_msg(strstr(msg, "cannot open the GC log file /nonexistent-hp-dir/gc.log") != NULL, "message: %s", msg);
  ck_assert_msg(strstr(msg, strerror(ENOENT)) != NULL, "message: %s", msg);
  free(msg);
  /* Off, the file is not touched. */
  c.gc_log = HP_GC_LOG_OFF;
  rt = hp_runtime_new(&c);
  ck_assert_ptr_nonnull(rt);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_env) {
  hp_config c = t_config();
  ck_assert_uint_eq(c.gc_log, HP_GC_LOG_OFF);
  ck_assert_ptr_null(c.gc_log_file);
  static const struct { const char *s; unsigned v; } ok[] = {
    { "json", HP_GC_LOG_JSON }, { "text", HP_GC_LOG_TEXT }, { "off", HP_GC_LOG_OFF },
    { "2", HP_GC_LOG_JSON }, { "1", HP_GC_LOG_TEXT }, { "0", HP_GC_LOG_OFF },
  };
  unsetenv("HP_GC_LOG_FILE");
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    setenv("HP_GC_LOG", ok[i].s, 1);
    c.gc_log = 7;
    ck_assert_int_eq(hp_config_from_env(&c), 0);
    ck_assert_uint_eq(c.gc_log, ok[i].v);
  }
  static const char *const bad[] = { "3", "JSON", "yes", "", "jsonx" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    setenv("HP_GC_LOG", bad[i], 1);
    c.gc_log = HP_GC_LOG_TEXT;
    t_capture cap = t_capture_begin();
    ck_assert_int_eq(hp_config_from_env(&c), 1);
    char *msg = t_capture_end(&cap);
    ck_assert_msg(strstr(msg, "HP_GC_LOG") != NULL, "message: %s", msg);
    free(msg);
    ck_assert_uint_eq(c.gc_log, HP_GC_LOG_TEXT);
  }
  unsetenv("HP_GC_LOG");
  setenv("HP_GC_LOG_FILE", "/tmp/some.log", 1);
  ck_assert_int_eq(hp_config_from_env(&c), 0);
  ck_assert_str_eq(c.gc_log_file, "/tmp/some.log");
  setenv("HP_GC_LOG_FILE", "", 1);
  t_capture cap = t_capture_begin();
  ck_assert_int_eq(hp_config_from_env(&c), 1);
  free(t_capture_end(&cap));
  ck_assert_str_eq(c.gc_log_file, "/tmp/some.log");
  unsetenv("HP_GC_LOG_FILE");
  /* Out of range in a config: refused. */
  c = t_config();
  c.gc_log = 3;
  cap = t_capture_begin();
  ck_assert_ptr_null(hp_runtime_new(&c));
  char *msg = t_capture_end(&cap);
  ck_assert_msg(strstr(msg, "gc_log") != NULL, "message: %s", msg);
  free(msg);
}
END_TEST

int main(void) {
  Suite *s = suite_create("gc-log");
  TCase *tc = tcase_create("json");
  tcase_add_test(tc, test_json_against_stats);
  tcase_set_timeout(tc, 120);
  suite_add_tcase(s, tc);
  tc = tcase_create("other");
  tcase_add_test(tc, test_text_to_file);
  tcase_add_test(tc, test_file_cannot_open);
  tcase_add_test(tc, test_env);
  tcase_set_timeout(tc, 60);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
