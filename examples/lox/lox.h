/* examples/lox/lox.h -- hplox: values, objects, tables, the compiler and the VM.
 *
 * ====================================================================================
 *  Values: pointer-favouring NaN-boxing
 * ====================================================================================
 * A Value is 64 bits; an object pointer is stored as it is, so that every Value is a slot
 * word hp can read and update directly (doc/embedding.md section 3: NULL, an object, or a
 * word outside the heap):
 *   0                    nil (so a zeroed object holds nils)
 *   2, 3                 false, true
 *   4                    TOMB: a deleted hash-table key (never a Lox value)
 *   6                    UNDEF: a global that is declared but not yet defined
 *   8 .. 2^49-1          an object pointer (user addresses on x86-64 are below 2^47)
 *   >= 2^49              a number: its IEEE bits + 2^49 (NaNs made canonical first, so the
 *                        sum never wraps)
 * None of the non-pointer words falls in hp's heap, so the value stack is an hp_root_range,
 * value arrays are HP_TYPE_ARRAY objects and Value fields are plain offsets: no decoding
 * trace function anywhere. The barrier gets the Value itself: a number is never young.
 */
#ifndef LOX_LOX_H
#define LOX_LOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lxgc.h"

typedef uint64_t Value;

#define NUM_OFFSET ((uint64_t)1 << 49)
#define NIL_VAL ((Value)0)
#define FALSE_VAL ((Value)2)
#define TRUE_VAL ((Value)3)
#define TOMB_VAL ((Value)4)
#define UNDEF_VAL ((Value)6)

#define IS_NUMBER(v) ((v) >= NUM_OFFSET)
#define IS_OBJ(v) ((v) - 8 < NUM_OFFSET - 8)
#define IS_NIL(v) ((v) == NIL_VAL)
#define IS_BOOL(v) (((v) | 1) == TRUE_VAL)
#define IS_FALSEY(v) (((v) | 2) == 2)          /* nil or false */
#define BOOL_VAL(b) ((b) ? TRUE_VAL : FALSE_VAL)
#define OBJ_VAL(p) ((Value)(uintptr_t)(p))
#define AS_OBJ(v) ((Obj *)(uintptr_t)(v))

static inline double AS_NUMBER(Value v) {
  uint64_t bits = v - NUM_OFFSET;
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}
static inline Value NUMBER_VAL(double d) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  if (__builtin_expect(bits >= 0xfffe000000000000ull, 0)) bits = 0x7ff8000000000000ull;
  return bits + NUM_OFFSET;
}

/* ---- Objects ---- */
typedef enum {
  O_STRING = 1, O_FUNCTION, O_NATIVE, O_CLOSURE, O_UPVALUE, O_CLASS, O_INSTANCE, O_BOUND,
} ObjKind;

/* The first word of every Lox object: its kind, and for a string its hash. */
typedef struct Obj { uint32_t kind; uint32_t hash; } Obj;

#define OBJ_KIND(v) (AS_OBJ(v)->kind)
#define IS_KIND(v, k) (IS_OBJ(v) && OBJ_KIND(v) == (k))
#define IS_STRING(v) IS_KIND(v, O_STRING)
#define IS_CLASS(v) IS_KIND(v, O_CLASS)
#define IS_INSTANCE(v) IS_KIND(v, O_INSTANCE)
#define AS_STRING(v) ((ObjString *)AS_OBJ(v))
#define AS_CLOSURE(v) ((ObjClosure *)AS_OBJ(v))
#define AS_CLASS(v) ((ObjClass *)AS_OBJ(v))
#define AS_INSTANCE(v) ((ObjInstance *)AS_OBJ(v))

typedef struct ObjString { Obj obj; uint64_t length; char chars[]; } ObjString;   /* leaf; NUL-terminated */

/* Arrays the VM uses inside objects (never Lox values themselves). */
typedef struct Bytes { uint64_t cap; uint8_t data[]; } Bytes;                      /* leaf */
typedef struct Lines { uint64_t cap; int32_t line[]; } Lines;                       /* leaf */
typedef struct ValArr { uint64_t cap; Value v[]; } ValArr;                          /* every v[] a slot */

/* A hash table, inline in its owner: `entries` is a ValArr of 2 * (mask + 1) words, key then
 * value; key NIL = empty, TOMB = deleted, else an interned ObjString. Load <= 3/4. */
typedef struct Table { ValArr *entries; uint32_t count, mask; } Table;

typedef struct ObjFunction {
  Obj obj;
  ObjString *name;                  /* NULL for the script */
  Bytes *code;
  Lines *lines;
  ValArr *constants;
  int32_t arity, upvalue_count, code_count, const_count;
} ObjFunction;

typedef Value (*NativeFn)(int argc, Value *args);
typedef struct ObjNative { Obj obj; ObjString *name; NativeFn fn; int64_t arity; } ObjNative;

/* An upvalue is open while `location` points into the value stack; closed, location is NULL
 * and the value is in `closed` (an object moves, so it cannot point into itself). */
typedef struct ObjUpvalue {
  Obj obj;
  Value *location;
  Value closed;
  struct ObjUpvalue *next;          /* the open list, sorted by stack slot, innermost first */
} ObjUpvalue;

typedef struct ObjClosure {
  Obj obj;
  ObjFunction *function;
  uint64_t count;
  ObjUpvalue *upvalues[];           /* slots (HP_TYPE_ARRAY tail) */
} ObjClosure;

typedef struct ObjClass {
  Obj obj;
  ObjString *name;
  Value init;                       /* the closure of init(), or nil */
  Table methods;
  uint64_t field_hint;              /* most fields any instance got: sizes the next one's table */
} ObjClass;

typedef struct ObjInstance { Obj obj; ObjClass *klass; Table fields; } ObjInstance;
typedef struct ObjBound { Obj obj; Value receiver; ObjClosure *method; } ObjBound;

/* ---- object.c ---- */
ObjString *str_copy(const char *chars, size_t len);      /* interned */
ObjString *str_concat(ObjString *a, ObjString *b);       /* interned */
uint32_t str_hash(const char *s, size_t len);
ObjFunction *new_function(void);
ObjNative *new_native(const char *name, NativeFn fn, int arity);
ObjClosure *new_closure(ObjFunction *fn);
ObjUpvalue *new_upvalue(Value *slot);
ObjClass *new_class(ObjString *name);
ObjInstance *new_instance(ObjClass *klass);
ObjBound *new_bound(Value receiver, ObjClosure *method);
ValArr *new_valarr(size_t cap);
Bytes *new_bytes(size_t cap);
Lines *new_lines(size_t cap);
void print_value(FILE *out, Value v);
/* Tables. table_get returns false if absent; table_set true if the key is new. owner is the
 * object holding the Table (for the barrier), or NULL for a root. May allocate: set. */
static inline bool table_get(Table *t, ObjString *key, Value *out);
static inline Value *table_find_slot(Table *t, ObjString *key);   /* the value slot, or NULL */
bool table_set(void *owner, Table *t, ObjString *key, Value v);
void table_copy_all(void *owner_to, Table *to, Table *from);
void table_reserve(void *owner, Table *t, size_t n);
void objects_init(void);
lx_type **object_types(size_t *n);


/* ---- Table look-ups, inline: the interpreter's field and method accesses ---- */
/* The entry index of key, or of the slot where it would go (the first tombstone seen, else
 * the empty slot that ended the probe). */
static inline uint32_t probe(const ValArr *e, uint32_t mask, ObjString *key) {
  uint32_t i = key->obj.hash & mask;
  uint32_t tomb = UINT32_MAX;
  for (;;) {
    Value k = e->v[2 * i];
    if (k == OBJ_VAL(key)) return i;
    if (k == NIL_VAL) return tomb != UINT32_MAX ? tomb : i;
    if (k == TOMB_VAL && tomb == UINT32_MAX) tomb = i;
    i = (i + 1) & mask;
  }
}

static inline bool table_get(Table *t, ObjString *key, Value *out) {
  if (t->entries == NULL) return false;
  uint32_t i = probe(t->entries, t->mask, key);
  if (t->entries->v[2 * i] != OBJ_VAL(key)) return false;
  *out = t->entries->v[2 * i + 1];
  return true;
}

static inline Value *table_find_slot(Table *t, ObjString *key) {
  if (t->entries == NULL) return NULL;
  uint32_t i = probe(t->entries, t->mask, key);
  if (t->entries->v[2 * i] != OBJ_VAL(key)) return NULL;
  return &t->entries->v[2 * i + 1];
}


/* ---- The string table (strtab.c): the seam where it becomes weak ---- */
ObjString *strtab_find(const char *chars, size_t len, uint32_t hash);
void strtab_add(ObjString *s);          /* may allocate (grows); s must be rooted by caller */
void strtab_init(void);
size_t strtab_count(void);          /* strings interned and alive */
bool strtab_is_weak(void);
lx_type *strtab_type(void);

/* ---- compiler.c ---- */
/* Compiles source into the function of a script; NULL after a compile error (reported on
 * stderr). */
ObjFunction *compile(const char *source);
extern int compile_errors;          /* errors reported so far, all compilations */

/* ---- vm.c ---- */
typedef enum { INTERPRET_OK, INTERPRET_COMPILE_ERROR, INTERPRET_RUNTIME_ERROR } InterpretResult;
void vm_init(void);
void vm_free(void);
InterpretResult interpret(const char *source);
/* The global variables: a name maps to an index (compile time); the VM reads values by index. */
int global_slot(ObjString *name);

/* ---- opcodes ---- */
typedef enum {
  OP_CONSTANT, OP_NIL, OP_TRUE, OP_FALSE, OP_POP,
  OP_GET_LOCAL, OP_SET_LOCAL, OP_GET_GLOBAL, OP_DEFINE_GLOBAL, OP_SET_GLOBAL,
  OP_GET_UPVALUE, OP_SET_UPVALUE, OP_GET_PROPERTY, OP_SET_PROPERTY, OP_GET_SUPER,
  OP_EQUAL, OP_GREATER, OP_LESS, OP_ADD, OP_SUBTRACT, OP_MULTIPLY, OP_DIVIDE,
  OP_NOT, OP_NEGATE, OP_PRINT, OP_JUMP, OP_JUMP_IF_FALSE, OP_LOOP,
  OP_CALL, OP_INVOKE, OP_SUPER_INVOKE, OP_CLOSURE, OP_CLOSE_UPVALUE, OP_RETURN,
  OP_CLASS, OP_INHERIT, OP_METHOD,
  OP_COUNT_
} OpCode;

#endif
