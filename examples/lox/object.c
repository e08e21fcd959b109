/* examples/lox/object.c -- hplox's object types, constructors, hash tables and printing.
 *
 * Every object is a managed object of the collector behind lxgc.h. Each type lists its
 * slots: Value and pointer fields by offset, value arrays and closures' upvalues as array
 * tails (LX_ARRAY); strings and byte code are leaves. Constructors may collect, so the
 * arguments they still need after their allocation are rooted in a frame (LX_ROOTS), and
 * every store into an older object goes through lx_write.
 */
#include "lox.h"

#include <stdlib.h>

/* ------------------------------------------------------------------------------------
 *  Types
 * ------------------------------------------------------------------------------------ */

static const uint32_t function_slots[] = {
  offsetof(ObjFunction, name), offsetof(ObjFunction, code), offsetof(ObjFunction, lines),
  offsetof(ObjFunction, constants),
};
static const uint32_t native_slots[] = { offsetof(ObjNative, name) };
static const uint32_t closure_slots[] = { offsetof(ObjClosure, function) };
static const uint32_t upvalue_slots[] = { offsetof(ObjUpvalue, closed), offsetof(ObjUpvalue, next) };
static const uint32_t class_slots[] = {
  offsetof(ObjClass, name), offsetof(ObjClass, init), offsetof(ObjClass, methods.entries),
};
static const uint32_t instance_slots[] = { offsetof(ObjInstance, klass), offsetof(ObjInstance, fields.entries) };
static const uint32_t bound_slots[] = { offsetof(ObjBound, receiver), offsetof(ObjBound, method) };

static lx_type string_type = LX_TYPE_PLAIN("lox string", sizeof(ObjString), LX_LEAF);
static lx_type bytes_type = LX_TYPE_PLAIN("lox bytes", sizeof(Bytes), LX_LEAF);
static lx_type lines_type = LX_TYPE_PLAIN("lox lines", sizeof(Lines), LX_LEAF);
static lx_type valarr_type = LX_TYPE_PLAIN("lox values", sizeof(ValArr), LX_ARRAY);
static lx_type function_type = LX_TYPE("lox function", sizeof(ObjFunction), 0, function_slots);
static lx_type native_type = LX_TYPE("lox native", sizeof(ObjNative), 0, native_slots);
static lx_type closure_type = LX_TYPE("lox closure", sizeof(ObjClosure), LX_ARRAY, closure_slots);
static lx_type upvalue_type = LX_TYPE("lox upvalue", sizeof(ObjUpvalue), 0, upvalue_slots);
static lx_type class_type = LX_TYPE("lox class", sizeof(ObjClass), 0, class_slots);
static lx_type instance_type = LX_TYPE("lox instance", sizeof(ObjInstance), 0, instance_slots);
static lx_type bound_type = LX_TYPE("lox bound method", sizeof(ObjBound), 0, bound_slots);

static lx_type *all_types[] = {
  &string_type, &bytes_type, &lines_type, &valarr_type, &function_type, &native_type,
  &closure_type, &upvalue_type, &class_type, &instance_type, &bound_type,
};

lx_type **object_types(size_t *n) {
  static lx_type *types[sizeof all_types / sizeof all_types[0] + 1];
  size_t k = 0;
  for (; k < sizeof all_types / sizeof all_types[0]; k++) types[k] = all_types[k];
  types[k++] = strtab_type();
  *n = k;
  return types;
}

/* ------------------------------------------------------------------------------------
 *  Constructors
 * ------------------------------------------------------------------------------------ */

/* FNV-1a, 32 bits. */
uint32_t str_hash(const char *s, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) { h ^= (uint8_t)s[i]; h *= 16777619u; }
  return h;
}

/* chars must not be inside a managed object: it is read after the allocation. */
ObjString *str_copy(const char *chars, size_t len) {
  uint32_t hash = str_hash(chars, len);
  ObjString *s = strtab_find(chars, len, hash);
  if (s != NULL) return s;
  s = lx_alloc(&string_type, sizeof(ObjString) + len + 1);
  s->obj.kind = O_STRING;
  s->obj.hash = hash;
  s->length = len;
  memcpy(s->chars, chars, len);
  s->chars[len] = '\0';
  LX_ROOTS(fr, LX_SLOT(s));
  strtab_add(s);
  LX_UNROOT(fr);
  return s;
}

/* The characters are joined in C memory first, so that an existing string costs no
 * allocation at all. */
ObjString *str_concat(ObjString *a, ObjString *b) {
  size_t len = a->length + b->length;
  char small[256];
  char *buf = len <= sizeof small ? small : malloc(len);
  if (buf == NULL) { fputs("hplox: out of memory\n", stderr); exit(70); }
  memcpy(buf, a->chars, a->length);
  memcpy(buf + a->length, b->chars, b->length);
  ObjString *s = str_copy(buf, len);
  if (buf != small) free(buf);
  return s;
}

ValArr *new_valarr(size_t cap) {
  ValArr *a = lx_alloc(&valarr_type, sizeof(ValArr) + cap * sizeof(Value));
  a->cap = cap;
  return a;
}

Bytes *new_bytes(size_t cap) {
  Bytes *b = lx_alloc(&bytes_type, sizeof(Bytes) + cap);
  b->cap = cap;
  return b;
}

Lines *new_lines(size_t cap) {
  Lines *l = lx_alloc(&lines_type, sizeof(Lines) + cap * sizeof(int32_t));
  l->cap = cap;
  return l;
}

ObjFunction *new_function(void) {
  ObjFunction *f = lx_alloc(&function_type, sizeof *f);
  f->obj.kind = O_FUNCTION;
  return f;
}

ObjNative *new_native(const char *name, NativeFn fn, int arity) {
  ObjString *n = str_copy(name, strlen(name));
  LX_ROOTS(fr, LX_SLOT(n));
  ObjNative *nat = lx_alloc(&native_type, sizeof *nat);
  LX_UNROOT(fr);
  nat->obj.kind = O_NATIVE;
  nat->name = n;
  nat->fn = fn;
  nat->arity = arity;
  return nat;
}

ObjClosure *new_closure(ObjFunction *fn) {
  LX_ROOTS(fr, LX_SLOT(fn));
  size_t n = (size_t)fn->upvalue_count;
  ObjClosure *c = lx_alloc(&closure_type, sizeof *c + n * sizeof(ObjUpvalue *));
  LX_UNROOT(fr);
  c->obj.kind = O_CLOSURE;
  c->function = fn;
  c->count = n;
  return c;
}

ObjUpvalue *new_upvalue(Value *slot) {
  ObjUpvalue *u = lx_alloc(&upvalue_type, sizeof *u);
  u->obj.kind = O_UPVALUE;
  u->location = slot;
  return u;
}

ObjClass *new_class(ObjString *name) {
  LX_ROOTS(fr, LX_SLOT(name));
  ObjClass *k = lx_alloc(&class_type, sizeof *k);
  LX_UNROOT(fr);
  k->obj.kind = O_CLASS;
  k->name = name;
  return k;
}

ObjInstance *new_instance(ObjClass *klass) {
  LX_ROOTS(fr, LX_SLOT(klass));
  ObjInstance *i = lx_alloc(&instance_type, sizeof *i);
  i->obj.kind = O_INSTANCE;
  i->klass = klass;
  if (klass->field_hint > 0) {              /* the fields the class's instances usually get */
    LX_ROOTS(fr2, LX_SLOT(i));
    table_reserve(i, &i->fields, klass->field_hint);
    LX_UNROOT(fr2);
  }
  LX_UNROOT(fr);
  return i;
}

ObjBound *new_bound(Value receiver, ObjClosure *method) {
  LX_ROOTS(fr, LX_SLOT(receiver), LX_SLOT(method));
  ObjBound *b = lx_alloc(&bound_type, sizeof *b);
  LX_UNROOT(fr);
  b->obj.kind = O_BOUND;
  b->receiver = receiver;
  b->method = method;
  return b;
}

/* ------------------------------------------------------------------------------------
 *  Hash tables (keys: interned strings, compared by address)
 * ------------------------------------------------------------------------------------ */

/* Re-derives a table pointer after an allocation: owner may have moved. */
#define TABLE_AT(owner, off, root) ((owner) ? (Table *)((char *)(owner) + (off)) : (root))

/* Gives t room for n entries (capacity a power of two, load <= 3/4), rehashing. */
static void grow(void *owner, Table *t, size_t n) {
  size_t cap = 4;                          /* two fields in 64 bytes */
  while (cap * 3 / 4 < n) cap *= 2;
  size_t off = owner ? (size_t)((char *)t - (char *)owner) : 0;
  Table *root = t;
  LX_ROOTS(fr, LX_SLOT(owner));
  ValArr *ne = new_valarr(2 * cap);
  LX_UNROOT(fr);
  t = TABLE_AT(owner, off, root);
  ValArr *old = t->entries;
  uint32_t mask = (uint32_t)cap - 1, count = 0;
  if (old != NULL) {
    for (size_t i = 0; i <= t->mask; i++) {
      Value k = old->v[2 * i];
      if (k == NIL_VAL || k == TOMB_VAL) continue;
      uint32_t j = probe(ne, mask, (ObjString *)AS_OBJ(k));
      lx_write(ne, &ne->v[2 * j], k);      /* a large ne is born old: the barrier */
      lx_write(ne, &ne->v[2 * j + 1], old->v[2 * i + 1]);
      count++;
    }
  }
  if (owner) lx_write(owner, &t->entries, ne);
  else t->entries = ne;
  t->count = count;
  t->mask = mask;
}

void table_reserve(void *owner, Table *t, size_t n) {
  if (t->entries == NULL || (t->mask + 1) * 3 / 4 < n) grow(owner, t, n);
}

bool table_set(void *owner, Table *t, ObjString *key, Value v) {
  if (t->entries == NULL || (t->count + 1) > (t->mask + 1) * 3 / 4) {
    size_t off = owner ? (size_t)((char *)t - (char *)owner) : 0;
    Table *root = t;
    LX_ROOTS(fr, LX_SLOT(owner), LX_SLOT(key), LX_SLOT(v));
    grow(owner, t, t->count + 1);
    LX_UNROOT(fr);
    t = TABLE_AT(owner, off, root);
  }
  ValArr *e = t->entries;
  uint32_t i = probe(e, t->mask, key);
  Value k = e->v[2 * i];
  bool is_new = k != OBJ_VAL(key);
  if (is_new) {
    if (k == NIL_VAL) t->count++;          /* a reused tombstone is counted already */
    lx_write(e, &e->v[2 * i], OBJ_VAL(key));
  }
  lx_write(e, &e->v[2 * i + 1], v);
  return is_new;
}

/* Copies every entry of from into to (inheritance: before the subclass's own methods). The
 * caller has given `to` room for them (table_reserve), so that nothing is allocated: from
 * lives in an object too, and would move. */
void table_copy_all(void *owner_to, Table *to, Table *from) {
  if (from->entries == NULL) return;
  for (uint32_t i = 0; i <= from->mask; i++) {
    ValArr *e = from->entries;
    Value k = e->v[2 * i];
    if (k == NIL_VAL || k == TOMB_VAL) continue;
    table_set(owner_to, to, (ObjString *)AS_OBJ(k), e->v[2 * i + 1]);
  }
}

/* ------------------------------------------------------------------------------------
 *  Printing
 * ------------------------------------------------------------------------------------ */

static void print_function(FILE *out, ObjFunction *f) {
  if (f->name == NULL) fputs("<script>", out);
  else fprintf(out, "<fn %s>", f->name->chars);
}

void print_value(FILE *out, Value v) {
  if (IS_NUMBER(v)) { fprintf(out, "%g", AS_NUMBER(v)); return; }
  if (v == NIL_VAL) { fputs("nil", out); return; }
  if (v == TRUE_VAL) { fputs("true", out); return; }
  if (v == FALSE_VAL) { fputs("false", out); return; }
  switch (OBJ_KIND(v)) {
  case O_STRING: fwrite(AS_STRING(v)->chars, 1, AS_STRING(v)->length, out); break;
  case O_FUNCTION: print_function(out, (ObjFunction *)AS_OBJ(v)); break;
  case O_NATIVE: fputs("<native fn>", out); break;
  case O_CLOSURE: print_function(out, AS_CLOSURE(v)->function); break;
  case O_UPVALUE: fputs("upvalue", out); break;
  case O_CLASS: fputs(AS_CLASS(v)->name->chars, out); break;
  case O_INSTANCE: fprintf(out, "%s instance", AS_INSTANCE(v)->klass->name->chars); break;
  case O_BOUND: print_function(out, ((ObjBound *)AS_OBJ(v))->method->function); break;
  default: fputs("<?>", out); break;
  }
}
