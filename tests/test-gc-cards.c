/* tests/test-gc-cards.c -- the cards of large pointer arrays (gc/gc.h, "Cards"): an old
 * HP_TYPE_ARRAY object above 64 KiB is remembered by the slot. Sees the internals. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>

#include "gc/collector.h"

typedef struct box { long v; } box;
static hp_type box_type = { .name = "box", .size = sizeof(box), .flags = HP_TYPE_LEAF };
/* A table: a fixed part with one slot (`first`) and a count, then the slots. */
typedef struct table { struct box *first; long n; struct box *slot[]; } table;
static const uint32_t table_fixed[] = { 0 };
static hp_type table_type = { .name = "table", .size = 16, .flags = HP_TYPE_ARRAY,
                              .noffsets = 1, .offsets = table_fixed };

#define NSLOTS (1 << 16)                     /* 512 KiB of slots: a HUGE span */

static hp_runtime *make(unsigned verify) {
  hp_config c;
  hp_config_default(&c);
  c.adaptive_eden = false;                    /* exact counts: no sizing by measured time */
  c.major_gc_percent = 0;
  c.conservative_stack = false;               /* exact counts */
  c.verify = verify;
  c.adaptive_tenure = false;
  c.tenure_age = 3;
  hp_runtime *rt = hp_runtime_new(&c);
  ck_assert_ptr_nonnull(rt);
  ck_assert_int_eq(hp_type_register(rt, &box_type), 0);
  ck_assert_int_eq(hp_type_register(rt, &table_type), 0);
  return rt;
}

static table *new_table(hp_thread *t) {
  table *tb = hp_new(t, &table_type, sizeof(table) + NSLOTS * sizeof(box *));
  ck_assert_ptr_nonnull(tb);
  ck_assert(!hpC_is_young(&hp_thread_runtime(t)->gens, tb));          /* born old */
  tb->n = NSLOTS;
  return tb;
}

/* The number of marked granules (cards) over the slots. */
static size_t set_cards(const table *tb) {
  size_t n = 0;
  uintptr_t last = 0;
  for (long i = 0; i < NSLOTS; i++) {
    uintptr_t g = (uintptr_t)&tb->slot[i] / 16;
    if (g != last && hpC_card_is_set(&tb->slot[i])) n++;
    last = g;
  }
  return n;
}

static box *new_box(hp_thread *t, long v) {
  box *b = HP_NEW(t, &box_type);
  b->v = v;
  return b;
}

/* Young objects stored through the barrier survive minors; only the stored slots' cards are
 * set, and they clear once what they point to is old. */
START_TEST(test_cards_keep_young_alive) {
  hp_runtime *rt = make(1);
  hp_thread *t = hp_main_thread(rt);
  table *tb = new_table(t);
  ck_assert_int_eq(hp_root_add(rt, (void **)&tb), 0);
  ck_assert_uint_eq(set_cards(tb), 0);
  for (long i = 0; i < NSLOTS; i += 1000) hp_write(t, tb, &tb->slot[i], new_box(t, i));
  hp_write(t, tb, &tb->first, new_box(t, -1));
  /* 66 stored slots, each in its own 16-byte granule (1000 slots apart). */
  ck_assert_uint_eq(set_cards(tb), (NSLOTS + 999) / 1000);
  for (int round = 0; round < 2; round++) {
    hp_collect(t, HP_GC_MINOR);
    ck_assert_uint_eq(set_cards(tb), (NSLOTS + 999) / 1000);   /* still young: still marked */
    for (long i = 0; i < NSLOTS; i++) {
      if (i % 1000 == 0) {
        ck_assert(hpC_is_young(&rt->gens, tb->slot[i]));
        ck_assert_int_eq(tb->slot[i]->v, i);
      } else {
        ck_assert_ptr_null(tb->slot[i]);
      }
    }
    ck_assert_int_eq(tb->first->v, -1);
  }
  hp_collect(t, HP_GC_MINOR);                 /* the third: promoted at tenure age 3 */
  ck_assert_uint_eq(set_cards(tb), 0);
  ck_assert_uint_eq(rt->gens.remset.len, 0);
  for (long i = 0; i < NSLOTS; i += 1000) {
    ck_assert(!hpC_is_young(&rt->gens, tb->slot[i]));
    ck_assert_int_eq(tb->slot[i]->v, i);
  }
  ck_assert_uint_eq(hp_verify_heap(rt), 1 + (NSLOTS + 999) / 1000 + 1);
  hp_runtime_destroy(rt);
}
END_TEST

/* A minor collection visits only the marked granules: a young pointer written without the
 * barrier into an unmarked slot is not seen (here the verifier, before collecting, reports
 * it); one written next to a barriered slot, in the same granule, is. */
static void skip_barrier(void) {
  hp_runtime *rt = make(2);
  hp_thread *t = hp_main_thread(rt);
  table *tb = new_table(t);
  ck_assert_int_eq(hp_root_add(rt, (void **)&tb), 0);
  hp_write(t, tb, &tb->slot[100], new_box(t, 100));
  tb->slot[5000] = new_box(t, 5000);          /* no barrier: its card stays clear */
  hp_collect(t, HP_GC_MINOR);                 /* the verifier aborts */
}

START_TEST(death_card_skipped) { skip_barrier(); }
END_TEST

START_TEST(test_same_granule_is_scanned) {
  hp_runtime *rt = make(0);
  hp_thread *t = hp_main_thread(rt);
  table *tb = new_table(t);
  ck_assert_int_eq(hp_root_add(rt, (void **)&tb), 0);
  /* The header is at a 64 KiB boundary, so slot[0] is at +24: slots 1 and 2 share a granule. */
  ck_assert_uint_eq(((uintptr_t)&tb->slot[1]) / 16, ((uintptr_t)&tb->slot[2]) / 16);
  hp_write(t, tb, &tb->slot[1], new_box(t, 1));
  tb->slot[2] = new_box(t, 2);                /* same card: seen */
  hp_collect(t, HP_GC_MINOR);
  ck_assert_int_eq(tb->slot[1]->v, 1);
  ck_assert_int_eq(tb->slot[2]->v, 2);
  ck_assert(hpC_card_is_set(&tb->slot[1]));
  hp_runtime_destroy(rt);
}
END_TEST

int main(void) {
  Suite *s = suite_create("gc-cards");
  TCase *tc = tcase_create("cards");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_cards_keep_young_alive);
  tcase_add_test(tc, test_same_granule_is_scanned);
  tcase_add_test_raise_signal(tc, death_card_skipped, SIGABRT);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_FORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
