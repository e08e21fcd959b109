/* examples/lox/strtab.c -- the string table: every string is interned here, so that equal
 * strings are one object and compare by address (table keys, ==).
 *
 * This file is the seam where the table becomes weak: the VM reaches it only through
 * strtab_find / strtab_add. Today it is a strong table, a Table whose entries array is a
 * global root, so an interned string lives as long as the VM. With hp's weak slots it
 * becomes a table whose keys the collector clears when nothing else reaches them; only
 * this file changes.
 */
#include "lox.h"

static Table strings;          /* key: the string; value: nil */

void strtab_init(void) { lx_root_add(&strings.entries); }

ObjString *strtab_find(const char *chars, size_t len, uint32_t hash) {
  ValArr *e = strings.entries;
  if (e == NULL) return NULL;
  uint32_t mask = strings.mask;
  for (uint32_t i = hash & mask;; i = (i + 1) & mask) {
    Value k = e->v[2 * i];
    if (k == NIL_VAL) return NULL;
    if (k == TOMB_VAL) continue;
    ObjString *s = AS_STRING(k);
    if (s->obj.hash == hash && s->length == len && memcmp(s->chars, chars, len) == 0) return s;
  }
}

void strtab_add(ObjString *s) { table_set(NULL, &strings, s, NIL_VAL); }

size_t strtab_count(void) { return strings.count; }
