/* gc/vec.c -- growable arrays of words on the pools, for the collector's own bookkeeping
 * (hpC_vec, gc/gc.h). */
#include "gc/gc.h"

#include <string.h>

bool hpC_vec_grow(hpC_vec *v) {
  size_t cap = v->cap ? v->cap * 2 : 256;
  uintptr_t *items = hp_pool_alloc(cap * sizeof *items);
  if (items == NULL) return false;
  if (v->len) memcpy(items, v->items, v->len * sizeof *items);
  hp_pool_free(v->items);
  v->items = items;
  v->cap = cap;
  return true;
}

void hpC_vec_push_slow(hpC_vec *v, uintptr_t x) {
  hp_check(hpC_vec_grow(v), "hp: out of memory for the collector's own bookkeeping (%zu entries)",
           v->cap ? v->cap * 2 : 256);
  v->items[v->len++] = x;
}

void hpC_vec_free(hpC_vec *v) {
  hp_pool_free(v->items);
  v->items = NULL;
  v->len = v->cap = 0;
}

bool hpC_vec_remove(hpC_vec *v, uintptr_t x) {
  for (size_t i = 0; i < v->len; i++) {
    if (v->items[i] == x) {
      v->items[i] = v->items[--v->len];
      return true;
    }
  }
  return false;
}

int hpC_cmp_word(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}
