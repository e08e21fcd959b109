/* examples/lox/strtab.c -- the string table: every string is interned here, so that equal
 * strings are one object and compare by address (table keys, ==).
 *
 * The VM reaches it only through strtab_find / strtab_add / strtab_count. It is an open-
 * addressing set of strings, one array of keys (a ValArr of its own type):
 *   EMPTY (UNDEF_VAL)  never used: ends a probe;
 *   NIL (0)            a string that was collected (its weak slot cleared): a tombstone,
 *                      probes go on past it and an insertion may reuse it;
 *   else               an interned ObjString.
 * With LOX_WEAK_STRINGS (hp with HP_TYPE_WEAK_ARRAY) the keys are weak slots: a string that
 * nothing else reaches is collected, and the collector clears its slot to NULL, with no
 * hook in the VM. Otherwise (Boehm GC, or hp without weak slots) they are strong and an
 * interned string lives as long as the VM. The array itself is a global root either way.
 * [strtab-load]: used (slots not EMPTY) <= 3/4 of the capacity.
 */
#include "lox.h"

#define EMPTY UNDEF_VAL

#ifdef LOX_WEAK_STRINGS
static lx_type keys_type = LX_TYPE_PLAIN("lox string table", sizeof(ValArr), LX_WEAK_ARRAY);
#else
static lx_type keys_type = LX_TYPE_PLAIN("lox string table", sizeof(ValArr), LX_ARRAY);
#endif

static ValArr *keys;           /* root */
static uint32_t mask, used;

lx_type *strtab_type(void) { return &keys_type; }

bool strtab_is_weak(void) {
#ifdef LOX_WEAK_STRINGS
  return true;
#else
  return false;
#endif
}

void strtab_init(void) { lx_root_add(&keys); }

ObjString *strtab_find(const char *chars, size_t len, uint32_t hash) {
  if (keys == NULL) return NULL;
  for (uint32_t i = hash & mask;; i = (i + 1) & mask) {
    Value k = keys->v[i];
    if (k == EMPTY) return NULL;
    if (k == NIL_VAL) continue;
    ObjString *s = AS_STRING(k);
    if (s->obj.hash == hash && s->length == len && memcmp(s->chars, chars, len) == 0) return s;
  }
}

/* Rehashes the live strings into an array with room for n. May collect: the caller roots
 * the string it is adding. */
static void grow(size_t n) {
  size_t cap = 64;
  while (cap * 3 / 4 < n) cap *= 2;
  ValArr *nk = lx_alloc(&keys_type, sizeof(ValArr) + cap * sizeof(Value));
  nk->cap = cap;
  for (size_t i = 0; i < cap; i++) nk->v[i] = EMPTY;         /* not a pointer: no barrier */
  uint32_t nmask = (uint32_t)cap - 1, live = 0;
  if (keys != NULL) {
    for (uint32_t i = 0; i <= mask; i++) {
      Value k = keys->v[i];
      if (k == EMPTY || k == NIL_VAL) continue;
      uint32_t j = AS_STRING(k)->obj.hash & nmask;
      while (nk->v[j] != EMPTY) j = (j + 1) & nmask;
      lx_write(nk, &nk->v[j], k);                             /* nk may be born old */
      live++;
    }
  }
  keys = nk;
  mask = nmask;
  used = live;
}

void strtab_add(ObjString *s) {
  if (keys == NULL || (used + 1) > (mask + 1) * 3 / 4) {
    LX_ROOTS(fr, LX_SLOT(s));
    grow((size_t)strtab_count() + 1);
    LX_UNROOT(fr);
  }
  uint32_t i = s->obj.hash & mask;
  while (keys->v[i] != EMPTY && keys->v[i] != NIL_VAL) i = (i + 1) & mask;
  if (keys->v[i] == EMPTY) used++;
  lx_write(keys, &keys->v[i], OBJ_VAL(s));
}

/* Interned strings alive now (a walk of the table: for statistics). */
size_t strtab_count(void) {
  size_t n = 0;
  if (keys == NULL) return 0;
  for (uint32_t i = 0; i <= mask; i++)
    if (keys->v[i] != EMPTY && keys->v[i] != NIL_VAL) n++;
  return n;
}
