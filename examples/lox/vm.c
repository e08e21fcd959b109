/* examples/lox/vm.c -- the interpreter loop of hplox, calls, upvalues, classes, natives.
 *
 * Roots (all precise, see lxgc.h):
 *   - the value stack: one root range, [stack, stack + stack_range.count);
 *   - the closures of the call frames: a second root range, one slot per frame;
 *   - the open upvalues' list head, the globals' tables and a few strings: global roots.
 * The loop keeps sp, ip and the current function's constants in locals. Before anything
 * that can collect (an allocation, a call, a safe point) it publishes them -- SYNC: the
 * stack depth into the root range, the instruction's offset into its frame -- and after it
 * reloads them from the frame -- RELOAD: code and constants may have moved. An instruction
 * pointer is kept as an offset in every frame but the running one.
 * Safe points: at every backward jump (OP_LOOP) and call.
 */
#include "lox.h"

#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#define FRAMES_MAX 512
#define STACK_FRAMES (FRAMES_MAX * 256)        /* a call needs its frame start below this */
#define STACK_MAX (STACK_FRAMES + 65536)       /* slack: the temporaries of the top frame */

typedef struct CallFrame { uint32_t ip_off; Value *slots; } CallFrame;

static struct {
  Value *stack;
  lx_range stack_range;             /* count = depth, published at SYNC */
  ObjClosure **closures;            /* closures[i]: the function of frames[i] */
  lx_range frame_range;             /* count = number of frames */
  CallFrame frames[FRAMES_MAX];
  int nframes;
  ObjUpvalue *open_upvalues;        /* root */
  Table global_names;               /* name -> index (a number); root */
  ValArr *global_values;            /* root: UNDEF until defined */
  ValArr *global_list;              /* root: index -> name, for messages */
  int nglobals;
  ObjString *init_string;           /* root */
  ObjClass *stats_class;            /* root: the class of gcStats()'s result */
} vm;

/* ------------------------------------------------------------------------------------
 *  Globals
 * ------------------------------------------------------------------------------------ */

int global_slot(ObjString *name) {
  Value idx;
  if (table_get(&vm.global_names, name, &idx)) return (int)AS_NUMBER(idx);
  LX_ROOTS(fr, LX_SLOT(name));
  if ((uint64_t)vm.nglobals == vm.global_values->cap) {
    size_t cap = vm.global_values->cap * 2;
    ValArr *nv = new_valarr(cap);
    for (int i = 0; i < vm.nglobals; i++) lx_write(nv, &nv->v[i], vm.global_values->v[i]);
    for (size_t i = (size_t)vm.nglobals; i < cap; i++) nv->v[i] = UNDEF_VAL;
    vm.global_values = nv;
    ValArr *nl = new_valarr(cap);
    for (int i = 0; i < vm.nglobals; i++) lx_write(nl, &nl->v[i], vm.global_list->v[i]);
    vm.global_list = nl;
  }
  int i = vm.nglobals++;
  lx_write(vm.global_list, &vm.global_list->v[i], OBJ_VAL(name));
  table_set(NULL, &vm.global_names, name, NUMBER_VAL(i));
  LX_UNROOT(fr);
  if (i > UINT16_MAX) { fputs("hplox: too many global variables\n", stderr); exit(65); }
  return i;
}

/* ------------------------------------------------------------------------------------
 *  Natives
 * ------------------------------------------------------------------------------------ */

static Value native_clock(int argc, Value *args) {
  (void)argc; (void)args;
  return NUMBER_VAL((double)clock() / CLOCKS_PER_SEC);
}

static Value native_gc_collect(int argc, Value *args) {
  (void)argc; (void)args;
  lx_collect();
  return NIL_VAL;
}

static void set_field(ObjInstance **inst, const char *name, double v) {
  ObjString *key = str_copy(name, strlen(name));
  table_set(*inst, &(*inst)->fields, key, NUMBER_VAL(v));
}

/* gcStats(): an instance of GcStats with the collector's figures as fields. */
static Value native_gc_stats(int argc, Value *args) {
  (void)argc; (void)args;
  lx_gc_summary s;
  lx_summary(&s);
  ObjInstance *inst = new_instance(vm.stats_class);
  LX_ROOTS(fr, LX_SLOT(inst));
  set_field(&inst, "collections", (double)s.collections);
  set_field(&inst, "minor", (double)s.minor);
  set_field(&inst, "major", (double)s.major);
  set_field(&inst, "gcMs", (double)s.gc_ns / 1e6);
  set_field(&inst, "maxPauseMs", (double)s.max_pause_ns / 1e6);
  set_field(&inst, "allocated", (double)s.bytes_allocated);
  set_field(&inst, "heap", (double)s.heap_bytes);
  set_field(&inst, "strings", (double)strtab_count());
  LX_UNROOT(fr);
  return OBJ_VAL(inst);
}

static void define_native(const char *name, NativeFn fn, int arity) {
  ObjNative *n = new_native(name, fn, arity);
  LX_ROOTS(fr, LX_SLOT(n));
  int slot = global_slot(n->name);
  lx_write(vm.global_values, &vm.global_values->v[slot], OBJ_VAL(n));
  LX_UNROOT(fr);
}

/* ------------------------------------------------------------------------------------
 *  Set-up
 * ------------------------------------------------------------------------------------ */

void vm_init(void) {
  size_t n;
  lx_type **types = object_types(&n);
  lx_init(types, n);
  vm.stack = lx_alloc_roots(STACK_MAX * sizeof(Value));
  vm.stack_range = (lx_range){ (void **)vm.stack, 0 };
  lx_range_add(&vm.stack_range);
  vm.closures = lx_alloc_roots(FRAMES_MAX * sizeof(ObjClosure *));
  vm.frame_range = (lx_range){ (void **)vm.closures, 0 };
  lx_range_add(&vm.frame_range);
  lx_root_add(&vm.open_upvalues);
  lx_root_add(&vm.global_names.entries);
  lx_root_add(&vm.global_values);
  lx_root_add(&vm.global_list);
  lx_root_add(&vm.init_string);
  lx_root_add(&vm.stats_class);
  strtab_init();
  vm.global_values = new_valarr(64);
  for (int i = 0; i < 64; i++) vm.global_values->v[i] = UNDEF_VAL;
  vm.global_list = new_valarr(64);
  vm.init_string = str_copy("init", 4);
  ObjString *sn = str_copy("GcStats", 7);
  vm.stats_class = new_class(sn);
  define_native("clock", native_clock, 0);
  define_native("gcCollect", native_gc_collect, 0);
  define_native("gcStats", native_gc_stats, 0);
}

void vm_free(void) { lx_shutdown(); }

/* ------------------------------------------------------------------------------------
 *  Errors
 * ------------------------------------------------------------------------------------ */

/* Prints the message and the stack trace, innermost first; frames[].ip_off must be current. */
static void runtime_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  for (int i = vm.nframes - 1; i >= 0; i--) {
    ObjFunction *f = vm.closures[i]->function;
    uint32_t at = vm.frames[i].ip_off ? vm.frames[i].ip_off - 1 : 0;
    fprintf(stderr, "[line %d] in ", f->lines->line[at]);
    if (f->name == NULL) fputs("script\n", stderr);
    else fprintf(stderr, "%s()\n", f->name->chars);
  }
  vm.nframes = 0;
  vm.frame_range.count = 0;
  vm.stack_range.count = 0;
  vm.open_upvalues = NULL;
}

/* ------------------------------------------------------------------------------------
 *  Upvalues
 * ------------------------------------------------------------------------------------ */

static ObjUpvalue *capture_upvalue(Value *local) {
  ObjUpvalue *prev = NULL, *u = vm.open_upvalues;
  while (u != NULL && u->location > local) { prev = u; u = u->next; }
  if (u != NULL && u->location == local) return u;
  LX_ROOTS(fr, LX_SLOT(prev));
  ObjUpvalue *nu = new_upvalue(local);
  LX_UNROOT(fr);
  nu->next = prev ? prev->next : vm.open_upvalues;   /* nu is the newest object: no barrier */
  if (prev == NULL) vm.open_upvalues = nu;
  else lx_write(prev, &prev->next, nu);
  return nu;
}

static void close_upvalues(Value *last) {
  while (vm.open_upvalues != NULL && vm.open_upvalues->location >= last) {
    ObjUpvalue *u = vm.open_upvalues;
    lx_write(u, &u->closed, *u->location);
    u->location = NULL;
    vm.open_upvalues = u->next;
    u->next = NULL;                                  /* storing NULL needs no barrier */
  }
}

/* ------------------------------------------------------------------------------------
 *  The loop
 * ------------------------------------------------------------------------------------ */

static inline bool values_equal(Value a, Value b) {
  if (IS_NUMBER(a) && IS_NUMBER(b)) return AS_NUMBER(a) == AS_NUMBER(b);
  return a == b;
}

static InterpretResult run(void) {
  CallFrame *frame;
  ObjClosure *cl;                  /* reloaded after every possible collection */
  uint8_t *code;
  Value *k, *G;
  uint8_t *ip;
  Value *sp = vm.stack + vm.stack_range.count;
  Value *slots;
  Value callee;                    /* call_value's operands: set by OP_CALL and OP_INVOKE */
  int argc;

#define SYNC() (frame->ip_off = (uint32_t)(ip - code), vm.stack_range.count = (size_t)(sp - vm.stack))
#define RELOAD()                                                                 \
  do {                                                                           \
    frame = &vm.frames[vm.nframes - 1];                                          \
    cl = vm.closures[vm.nframes - 1];                                            \
    code = cl->function->code->data;                                             \
    k = cl->function->constants ? cl->function->constants->v : NULL;             \
    G = vm.global_values->v;                                                     \
    ip = code + frame->ip_off;                                                   \
    slots = frame->slots;                                                        \
  } while (0)
#define READ_BYTE() (*ip++)
#define READ_U16() (ip += 2, (uint16_t)((ip[-2] << 8) | ip[-1]))
#define PUSH(v) (*sp++ = (v))
#define POP() (*--sp)
#define PEEK(n) (sp[-1 - (n)])
#define ERROR(...)                                                               \
  do { SYNC(); runtime_error(__VA_ARGS__); return INTERPRET_RUNTIME_ERROR; } while (0)
#define SAFEPOINT()                                                              \
  do { if (lx_safepoint_pending()) { SYNC(); lx_safepoint_slow(); RELOAD(); } } while (0)
#define NUM_BINARY(expr)                                                         \
  do {                                                                           \
    Value b_ = sp[-1], a_ = sp[-2];                                              \
    if (!IS_NUMBER(a_) || !IS_NUMBER(b_)) ERROR("Operands must be numbers.");   \
    double a = AS_NUMBER(a_), b = AS_NUMBER(b_);                                 \
    sp[-2] = (expr);                                                             \
    sp--;                                                                        \
  } while (0)

  /* Pushes a frame for closure c called with argc arguments (below sp); false after an
   * error. The caller has SYNCed. */
#define CALL_CLOSURE(c, argc)                                                    \
  do {                                                                           \
    ObjClosure *c_ = (c);                                                        \
    if ((argc) != c_->function->arity)                                           \
      ERROR("Expected %d arguments but got %d.", c_->function->arity, (argc));  \
    if (vm.nframes == FRAMES_MAX || sp - vm.stack > STACK_FRAMES)               \
      ERROR("Stack overflow.");                                                  \
    vm.frames[vm.nframes] = (CallFrame){ 0, sp - (argc) - 1 };                   \
    vm.closures[vm.nframes] = c_;                                                \
    vm.frame_range.count = (size_t)++vm.nframes;                                 \
    RELOAD();                                                                    \
  } while (0)

  RELOAD();

  static void *const labels[OP_COUNT_] = {
    [OP_CONSTANT] = &&op_constant, [OP_NIL] = &&op_nil, [OP_TRUE] = &&op_true,
    [OP_FALSE] = &&op_false, [OP_POP] = &&op_pop, [OP_GET_LOCAL] = &&op_get_local,
    [OP_SET_LOCAL] = &&op_set_local, [OP_GET_GLOBAL] = &&op_get_global,
    [OP_DEFINE_GLOBAL] = &&op_define_global, [OP_SET_GLOBAL] = &&op_set_global,
    [OP_GET_UPVALUE] = &&op_get_upvalue, [OP_SET_UPVALUE] = &&op_set_upvalue,
    [OP_GET_PROPERTY] = &&op_get_property, [OP_SET_PROPERTY] = &&op_set_property,
    [OP_GET_SUPER] = &&op_get_super, [OP_EQUAL] = &&op_equal, [OP_GREATER] = &&op_greater,
    [OP_LESS] = &&op_less, [OP_ADD] = &&op_add, [OP_SUBTRACT] = &&op_subtract,
    [OP_MULTIPLY] = &&op_multiply, [OP_DIVIDE] = &&op_divide, [OP_NOT] = &&op_not,
    [OP_NEGATE] = &&op_negate, [OP_PRINT] = &&op_print, [OP_JUMP] = &&op_jump,
    [OP_JUMP_IF_FALSE] = &&op_jump_if_false, [OP_LOOP] = &&op_loop, [OP_CALL] = &&op_call,
    [OP_INVOKE] = &&op_invoke, [OP_SUPER_INVOKE] = &&op_super_invoke,
    [OP_CLOSURE] = &&op_closure, [OP_CLOSE_UPVALUE] = &&op_close_upvalue,
    [OP_RETURN] = &&op_return, [OP_CLASS] = &&op_class, [OP_INHERIT] = &&op_inherit,
    [OP_METHOD] = &&op_method,
  };
#define DISPATCH() goto *labels[READ_BYTE()]

  DISPATCH();

op_constant: PUSH(k[READ_BYTE()]); DISPATCH();
op_nil: PUSH(NIL_VAL); DISPATCH();
op_true: PUSH(TRUE_VAL); DISPATCH();
op_false: PUSH(FALSE_VAL); DISPATCH();
op_pop: sp--; DISPATCH();
op_get_local: PUSH(slots[READ_BYTE()]); DISPATCH();
op_set_local: slots[READ_BYTE()] = sp[-1]; DISPATCH();
op_get_global: {
  uint16_t i = READ_U16();
  Value v = G[i];
  if (v == UNDEF_VAL) ERROR("Undefined variable '%s'.", AS_STRING(vm.global_list->v[i])->chars);
  PUSH(v);
  DISPATCH();
}
op_define_global: {
  uint16_t i = READ_U16();
  lx_write(vm.global_values, &G[i], POP());
  DISPATCH();
}
op_set_global: {
  uint16_t i = READ_U16();
  if (G[i] == UNDEF_VAL) ERROR("Undefined variable '%s'.", AS_STRING(vm.global_list->v[i])->chars);
  lx_write(vm.global_values, &G[i], sp[-1]);
  DISPATCH();
}
op_get_upvalue: {
  ObjUpvalue *u = cl->upvalues[READ_BYTE()];
  PUSH(u->location ? *u->location : u->closed);
  DISPATCH();
}
op_set_upvalue: {
  ObjUpvalue *u = cl->upvalues[READ_BYTE()];
  if (u->location) *u->location = sp[-1];
  else lx_write(u, &u->closed, sp[-1]);
  DISPATCH();
}
op_get_property: {
  Value r = sp[-1];
  ObjString *name = AS_STRING(k[READ_BYTE()]);
  if (!IS_INSTANCE(r)) ERROR("Only instances have properties.");
  ObjInstance *inst = AS_INSTANCE(r);
  Value *f = table_find_slot(&inst->fields, name);
  if (f != NULL) { sp[-1] = *f; DISPATCH(); }
  Value m;
  if (!table_get(&inst->klass->methods, name, &m)) ERROR("Undefined property '%s'.", name->chars);
  SYNC();
  ObjBound *b = new_bound(r, AS_CLOSURE(m));
  RELOAD();
  sp[-1] = OBJ_VAL(b);
  DISPATCH();
}
op_set_property: {
  Value r = sp[-2];
  ObjString *name = AS_STRING(k[READ_BYTE()]);
  if (!IS_INSTANCE(r)) ERROR("Only instances have fields.");
  ObjInstance *inst = AS_INSTANCE(r);
  Value *f = table_find_slot(&inst->fields, name);
  if (f != NULL) {
    lx_write(inst->fields.entries, f, sp[-1]);
  } else {
    SYNC();
    table_set(inst, &inst->fields, name, sp[-1]);
    RELOAD();
    inst = AS_INSTANCE(sp[-2]);
    if (inst->fields.count > inst->klass->field_hint) inst->klass->field_hint = inst->fields.count;
  }
  sp[-2] = sp[-1];
  sp--;
  DISPATCH();
}
op_get_super: {
  ObjString *name = AS_STRING(k[READ_BYTE()]);
  ObjClass *super = AS_CLASS(POP());
  Value m;
  if (!table_get(&super->methods, name, &m)) ERROR("Undefined property '%s'.", name->chars);
  SYNC();
  ObjBound *b = new_bound(sp[-1], AS_CLOSURE(m));
  RELOAD();
  sp[-1] = OBJ_VAL(b);
  DISPATCH();
}
op_equal: sp[-2] = BOOL_VAL(values_equal(sp[-2], sp[-1])); sp--; DISPATCH();
op_greater: NUM_BINARY(BOOL_VAL(a > b)); DISPATCH();
op_less: NUM_BINARY(BOOL_VAL(a < b)); DISPATCH();
op_add: {
  Value b = sp[-1], a = sp[-2];
  if (IS_NUMBER(a) && IS_NUMBER(b)) {
    sp[-2] = NUMBER_VAL(AS_NUMBER(a) + AS_NUMBER(b));
  } else if (IS_STRING(a) && IS_STRING(b)) {
    SYNC();
    ObjString *s = str_concat(AS_STRING(a), AS_STRING(b));
    RELOAD();
    sp[-2] = OBJ_VAL(s);
  } else {
    ERROR("Operands must be two numbers or two strings.");
  }
  sp--;
  DISPATCH();
}
op_subtract: NUM_BINARY(NUMBER_VAL(a - b)); DISPATCH();
op_multiply: NUM_BINARY(NUMBER_VAL(a * b)); DISPATCH();
op_divide: NUM_BINARY(NUMBER_VAL(a / b)); DISPATCH();
op_not: sp[-1] = BOOL_VAL(IS_FALSEY(sp[-1])); DISPATCH();
op_negate:
  if (!IS_NUMBER(sp[-1])) ERROR("Operand must be a number.");
  sp[-1] = NUMBER_VAL(-AS_NUMBER(sp[-1]));
  DISPATCH();
op_print:
  print_value(stdout, POP());
  fputc('\n', stdout);
  DISPATCH();
op_jump: { uint16_t off = READ_U16(); ip += off; DISPATCH(); }
op_jump_if_false: { uint16_t off = READ_U16(); if (IS_FALSEY(sp[-1])) ip += off; DISPATCH(); }
op_loop: { uint16_t off = READ_U16(); ip -= off; SAFEPOINT(); DISPATCH(); }

op_call: {
  argc = READ_BYTE();
  SAFEPOINT();
  callee = PEEK(argc);
  SYNC();
  goto call_value;
call_value:
  if (!IS_OBJ(callee)) ERROR("Can only call functions and classes.");
  switch (OBJ_KIND(callee)) {
  case O_CLOSURE: CALL_CLOSURE(AS_CLOSURE(callee), argc); DISPATCH();
  case O_NATIVE: {
    ObjNative *n = (ObjNative *)AS_OBJ(callee);
    if (argc != n->arity) ERROR("Expected %d arguments but got %d.", (int)n->arity, argc);
    Value r = n->fn(argc, sp - argc);
    RELOAD();
    sp -= argc + 1;
    PUSH(r);
    DISPATCH();
  }
  case O_CLASS: {
    ObjInstance *inst = new_instance(AS_CLASS(callee));
    RELOAD();
    sp[-1 - argc] = OBJ_VAL(inst);
    ObjClass *klass = inst->klass;
    if (klass->init != NIL_VAL) { CALL_CLOSURE(AS_CLOSURE(klass->init), argc); DISPATCH(); }
    if (argc != 0) ERROR("Expected 0 arguments but got %d.", argc);
    DISPATCH();
  }
  case O_BOUND: {
    ObjBound *b = (ObjBound *)AS_OBJ(callee);
    sp[-1 - argc] = b->receiver;
    CALL_CLOSURE(b->method, argc);
    DISPATCH();
  }
  default: ERROR("Can only call functions and classes.");
  }
}
op_invoke: {
  SAFEPOINT();
  ObjString *name = AS_STRING(k[READ_BYTE()]);
  argc = READ_BYTE();
  Value r = PEEK(argc);
  if (!IS_INSTANCE(r)) ERROR("Only instances have methods.");
  ObjInstance *inst = AS_INSTANCE(r);
  SYNC();
  Value *f = table_find_slot(&inst->fields, name);
  if (f != NULL) { callee = sp[-1 - argc] = *f; goto call_value; }
  Value m;
  if (!table_get(&inst->klass->methods, name, &m)) ERROR("Undefined property '%s'.", name->chars);
  CALL_CLOSURE(AS_CLOSURE(m), argc);
  DISPATCH();
}
op_super_invoke: {
  SAFEPOINT();
  ObjString *name = AS_STRING(k[READ_BYTE()]);
  argc = READ_BYTE();
  ObjClass *super = AS_CLASS(POP());
  SYNC();
  Value m;
  if (!table_get(&super->methods, name, &m)) ERROR("Undefined property '%s'.", name->chars);
  CALL_CLOSURE(AS_CLOSURE(m), argc);
  DISPATCH();
}
op_closure: {
  ObjFunction *fn = (ObjFunction *)AS_OBJ(k[READ_BYTE()]);
  SYNC();
  ObjClosure *c = new_closure(fn);
  RELOAD();
  PUSH(OBJ_VAL(c));                       /* rooted on the stack while upvalues are made */
  for (uint64_t i = 0; i < c->count; i++) {
    uint8_t is_local = READ_BYTE(), index = READ_BYTE();
    ObjUpvalue *u;
    if (is_local) {
      SYNC();
      u = capture_upvalue(slots + index);
      RELOAD();
    } else {
      u = cl->upvalues[index];
    }
    c = AS_CLOSURE(sp[-1]);
    lx_write(c, &c->upvalues[i], u);
  }
  DISPATCH();
}
op_close_upvalue: close_upvalues(sp - 1); sp--; DISPATCH();
op_return: {
  Value result = POP();
  close_upvalues(slots);
  vm.frame_range.count = (size_t)--vm.nframes;
  if (vm.nframes == 0) {
    vm.stack_range.count = 0;
    return INTERPRET_OK;
  }
  sp = slots;
  PUSH(result);
  RELOAD();
  DISPATCH();
}
op_class: {
  ObjString *name = AS_STRING(k[READ_BYTE()]);
  SYNC();
  ObjClass *c = new_class(name);
  RELOAD();
  PUSH(OBJ_VAL(c));
  DISPATCH();
}
op_inherit: {
  Value super = sp[-2];
  if (!IS_CLASS(super)) ERROR("Superclass must be a class.");
  SYNC();
  ObjClass *sub = AS_CLASS(sp[-1]);
  table_reserve(sub, &sub->methods, AS_CLASS(super)->methods.count);   /* may move both */
  RELOAD();
  sub = AS_CLASS(sp[-1]);
  table_copy_all(sub, &sub->methods, &AS_CLASS(sp[-2])->methods);      /* allocates nothing */
  lx_write(sub, &sub->init, AS_CLASS(sp[-2])->init);
  sp--;
  DISPATCH();
}
op_method: {
  uint8_t ni = READ_BYTE();
  SYNC();
  ObjClass *c = AS_CLASS(sp[-2]);
  table_set(c, &c->methods, AS_STRING(k[ni]), sp[-1]);
  RELOAD();
  c = AS_CLASS(sp[-2]);
  if (AS_STRING(k[ni]) == vm.init_string) lx_write(c, &c->init, sp[-1]);
  sp--;
  DISPATCH();
}
#undef SYNC
#undef RELOAD
}

InterpretResult interpret(const char *source) {
  ObjFunction *fn = compile(source);
  if (fn == NULL) return INTERPRET_COMPILE_ERROR;
  Value *sp = vm.stack;
  sp[0] = OBJ_VAL(fn);
  vm.stack_range.count = 1;
  ObjClosure *c = new_closure(fn);
  sp[0] = OBJ_VAL(c);
  vm.frames[0] = (CallFrame){ 0, vm.stack };
  vm.closures[0] = c;
  vm.nframes = 1;
  vm.frame_range.count = 1;
  return run();
}
