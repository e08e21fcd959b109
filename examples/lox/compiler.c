/* examples/lox/compiler.c -- the scanner and the single-pass compiler (Pratt parser) of hplox.
 *
 * Source text is scanned on demand, one token of lookahead; each expression is parsed by
 * precedence climbing and emitted as byte code at once into the function being compiled.
 * Functions in progress are managed objects: each Compiler's `function` is rooted in a
 * shadow-stack frame for the time of its compilation, and anything a compiler allocates
 * (names, constants, grown code arrays) is stored into it at once, so nothing else needs a
 * root. Globals are resolved here to indices (global_slot in vm.c).
 */
#include "lox.h"

#include <stdlib.h>

/* ====================================================================================
 *  Scanner
 * ==================================================================================== */

typedef enum {
  T_LPAREN, T_RPAREN, T_LBRACE, T_RBRACE, T_COMMA, T_DOT, T_MINUS, T_PLUS, T_SEMI, T_SLASH,
  T_STAR, T_BANG, T_BANG_EQ, T_EQ, T_EQ_EQ, T_GT, T_GE, T_LT, T_LE,
  T_IDENT, T_STRING, T_NUMBER,
  T_AND, T_CLASS, T_ELSE, T_FALSE, T_FOR, T_FUN, T_IF, T_NIL, T_OR, T_PRINT, T_RETURN,
  T_SUPER, T_THIS, T_TRUE, T_VAR, T_WHILE,
  T_ERROR, T_EOF, T_COUNT_
} TokenType;

typedef struct Token { TokenType type; const char *start; int length; int line; } Token;

typedef struct Scanner { const char *start, *cur; int line; } Scanner;
static Scanner sc;

static Token make_token(TokenType type) {
  return (Token){ type, sc.start, (int)(sc.cur - sc.start), sc.line };
}
static Token error_token(const char *msg) { return (Token){ T_ERROR, msg, (int)strlen(msg), sc.line }; }
static bool at_end(void) { return *sc.cur == '\0'; }
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool match_char(char c) {
  if (*sc.cur != c) return false;
  sc.cur++;
  return true;
}

static void skip_space(void) {
  for (;;) {
    char c = *sc.cur;
    if (c == ' ' || c == '\t' || c == '\r') sc.cur++;
    else if (c == '\n') { sc.line++; sc.cur++; }
    else if (c == '/' && sc.cur[1] == '/') { while (*sc.cur != '\n' && !at_end()) sc.cur++; }
    else return;
  }
}

static TokenType keyword(void) {
  static const struct { const char *word; TokenType type; } kw[] = {
    {"and", T_AND}, {"class", T_CLASS}, {"else", T_ELSE}, {"false", T_FALSE}, {"for", T_FOR},
    {"fun", T_FUN}, {"if", T_IF}, {"nil", T_NIL}, {"or", T_OR}, {"print", T_PRINT},
    {"return", T_RETURN}, {"super", T_SUPER}, {"this", T_THIS}, {"true", T_TRUE},
    {"var", T_VAR}, {"while", T_WHILE},
  };
  size_t len = (size_t)(sc.cur - sc.start);
  for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
    if (strlen(kw[i].word) == len && memcmp(kw[i].word, sc.start, len) == 0) return kw[i].type;
  return T_IDENT;
}

static Token scan_token(void) {
  skip_space();
  sc.start = sc.cur;
  if (at_end()) return make_token(T_EOF);
  char c = *sc.cur++;
  if (is_alpha(c)) {
    while (is_alpha(*sc.cur) || is_digit(*sc.cur)) sc.cur++;
    return make_token(keyword());
  }
  if (is_digit(c)) {
    while (is_digit(*sc.cur)) sc.cur++;
    if (*sc.cur == '.' && is_digit(sc.cur[1])) {
      sc.cur++;
      while (is_digit(*sc.cur)) sc.cur++;
    }
    return make_token(T_NUMBER);
  }
  switch (c) {
  case '(': return make_token(T_LPAREN);
  case ')': return make_token(T_RPAREN);
  case '{': return make_token(T_LBRACE);
  case '}': return make_token(T_RBRACE);
  case ';': return make_token(T_SEMI);
  case ',': return make_token(T_COMMA);
  case '.': return make_token(T_DOT);
  case '-': return make_token(T_MINUS);
  case '+': return make_token(T_PLUS);
  case '/': return make_token(T_SLASH);
  case '*': return make_token(T_STAR);
  case '!': return make_token(match_char('=') ? T_BANG_EQ : T_BANG);
  case '=': return make_token(match_char('=') ? T_EQ_EQ : T_EQ);
  case '<': return make_token(match_char('=') ? T_LE : T_LT);
  case '>': return make_token(match_char('=') ? T_GE : T_GT);
  case '"':
    while (*sc.cur != '"' && !at_end()) {
      if (*sc.cur == '\n') sc.line++;
      sc.cur++;
    }
    if (at_end()) return error_token("Unterminated string.");
    sc.cur++;
    return make_token(T_STRING);
  }
  return error_token("Unexpected character.");
}

/* ====================================================================================
 *  Compiler state
 * ==================================================================================== */

typedef struct Parser { Token cur, prev; bool had_error, panic; } Parser;

typedef struct Local { Token name; int depth; bool captured; } Local;
typedef struct UpRef { uint8_t index; bool is_local; } UpRef;
typedef enum { FK_FUNCTION, FK_INIT, FK_METHOD, FK_SCRIPT } FunKind;

#define MAX_LOCALS 256
#define MAX_UPVALUES 256

typedef struct Compiler {
  struct Compiler *enclosing;
  ObjFunction *function;            /* rooted (a shadow-stack frame) while compiling */
  FunKind kind;
  Local locals[MAX_LOCALS];
  int nlocals;
  UpRef upvalues[MAX_UPVALUES];
  int depth;
} Compiler;

typedef struct ClassCompiler { struct ClassCompiler *enclosing; bool has_super; } ClassCompiler;

static Parser parser;
static Compiler *current;
static ClassCompiler *current_class;

/* ---- Errors ---- */
int compile_errors;                 /* errors reported, all compilations (for the fuzz driver) */

static void error_at(Token *tok, const char *msg) {
  if (parser.panic) return;
  parser.panic = true;
  compile_errors++;
  fprintf(stderr, "[line %d] Error", tok->line);
  if (tok->type == T_EOF) fputs(" at end", stderr);
  else if (tok->type != T_ERROR) fprintf(stderr, " at '%.*s'", tok->length, tok->start);
  fprintf(stderr, ": %s\n", msg);
  parser.had_error = true;
}
static void error(const char *msg) { error_at(&parser.prev, msg); }
static void error_cur(const char *msg) { error_at(&parser.cur, msg); }

static void advance(void) {
  parser.prev = parser.cur;
  for (;;) {
    parser.cur = scan_token();
    if (parser.cur.type != T_ERROR) break;
    error_cur(parser.cur.start);
  }
}
static void consume(TokenType type, const char *msg) {
  if (parser.cur.type == type) { advance(); return; }
  error_cur(msg);
}
static bool check(TokenType type) { return parser.cur.type == type; }
static bool match(TokenType type) {
  if (!check(type)) return false;
  advance();
  return true;
}

/* ---- Emitting ---- */
static int cur_line(void) { return parser.prev.line; }

/* Appends one byte to the current function's code, growing its arrays (which may collect:
 * the function is reloaded from its rooted compiler). */
static void emit(uint8_t b) {
  ObjFunction *f = current->function;
  if (f->code == NULL || (uint64_t)f->code_count == f->code->cap) {
    size_t cap = f->code ? f->code->cap * 2 : 32;
    Bytes *nb = new_bytes(cap);
    f = current->function;
    if (f->code) memcpy(nb->data, f->code->data, (size_t)f->code_count);
    lx_write(f, &f->code, nb);
    Lines *nl = new_lines(cap);
    f = current->function;
    if (f->lines) memcpy(nl->line, f->lines->line, (size_t)f->code_count * sizeof(int32_t));
    lx_write(f, &f->lines, nl);
  }
  f->code->data[f->code_count] = b;
  f->lines->line[f->code_count] = cur_line();
  f->code_count++;
}
static void emit2(uint8_t a, uint8_t b) { emit(a); emit(b); }
static void emit_u16(uint8_t op, int v) { emit(op); emit((uint8_t)(v >> 8)); emit((uint8_t)v); }

static void emit_return(void) {
  if (current->kind == FK_INIT) emit2(OP_GET_LOCAL, 0);
  else emit(OP_NIL);
  emit(OP_RETURN);
}

/* Adds v to the current function's constants; its index (a byte). */
static uint8_t make_constant(Value v) {
  LX_ROOTS(fr, LX_SLOT(v));
  ObjFunction *f = current->function;
  if (f->constants == NULL || (uint64_t)f->const_count == f->constants->cap) {
    size_t cap = f->constants ? f->constants->cap * 2 : 8;
    ValArr *na = new_valarr(cap);
    f = current->function;
    for (int i = 0; i < f->const_count; i++) lx_write(na, &na->v[i], f->constants->v[i]);
    lx_write(f, &f->constants, na);
  }
  lx_write(f->constants, &f->constants->v[f->const_count], v);
  int idx = f->const_count++;
  LX_UNROOT(fr);
  if (idx > UINT8_MAX) {
    error("Too many constants in one chunk.");
    return 0;
  }
  return (uint8_t)idx;
}

static void emit_constant(Value v) { emit2(OP_CONSTANT, make_constant(v)); }

static int emit_jump(uint8_t op) {
  emit(op); emit(0xff); emit(0xff);
  return current->function->code_count - 2;
}
static void patch_jump(int at) {
  int jump = current->function->code_count - at - 2;
  if (jump > UINT16_MAX) error("Too much code to jump over.");
  current->function->code->data[at] = (uint8_t)(jump >> 8);
  current->function->code->data[at + 1] = (uint8_t)jump;
}
static void emit_loop(int start) {
  emit(OP_LOOP);
  int off = current->function->code_count - start + 2;
  if (off > UINT16_MAX) error("Loop body too large.");
  emit((uint8_t)(off >> 8));
  emit((uint8_t)off);
}

/* ---- Compilers ----
 * init_compiler allocates the function; the caller roots &c->function (in its own scope,
 * since a frame lives in the scope that declares it) before anything else allocates. */
static void init_compiler(Compiler *c, FunKind kind) {
  c->enclosing = current;
  c->function = NULL;
  c->kind = kind;
  c->nlocals = 0;
  c->depth = 0;
  c->function = new_function();
  current = c;
  Local *l = &c->locals[c->nlocals++];
  l->depth = 0;
  l->captured = false;
  if (kind != FK_FUNCTION) { l->name.start = "this"; l->name.length = 4; }
  else { l->name.start = ""; l->name.length = 0; }
}

static void name_function(Compiler *c) {
  ObjString *name = str_copy(parser.prev.start, (size_t)parser.prev.length);
  lx_write(c->function, &c->function->name, name);
}

static ObjFunction *end_compiler(void) {
  emit_return();
  ObjFunction *f = current->function;
  current = current->enclosing;
  return f;
}

static void begin_scope(void) { current->depth++; }
static void end_scope(void) {
  current->depth--;
  while (current->nlocals > 0 && current->locals[current->nlocals - 1].depth > current->depth) {
    emit(current->locals[current->nlocals - 1].captured ? OP_CLOSE_UPVALUE : OP_POP);
    current->nlocals--;
  }
}

/* ====================================================================================
 *  Expressions
 * ==================================================================================== */

typedef enum {
  P_NONE, P_ASSIGN, P_OR, P_AND, P_EQUALITY, P_COMPARISON, P_TERM, P_FACTOR, P_UNARY, P_CALL,
  P_PRIMARY
} Prec;

typedef void (*ParseFn)(bool can_assign);
typedef struct Rule { ParseFn prefix, infix; Prec prec; } Rule;
static const Rule *rule_of(TokenType t);
static void expression(void);
static void statement(void);
static void declaration(void);

static void parse_prec(Prec prec) {
  advance();
  ParseFn prefix = rule_of(parser.prev.type)->prefix;
  if (prefix == NULL) { error("Expect expression."); return; }
  bool can_assign = prec <= P_ASSIGN;
  prefix(can_assign);
  while (prec <= rule_of(parser.cur.type)->prec) {
    advance();
    rule_of(parser.prev.type)->infix(can_assign);
  }
  if (can_assign && match(T_EQ)) error("Invalid assignment target.");
}

static void expression(void) { parse_prec(P_ASSIGN); }

static uint8_t name_constant(Token *name) {
  return make_constant(OBJ_VAL(str_copy(name->start, (size_t)name->length)));
}

static bool same_name(const Token *a, const Token *b) {
  return a->length == b->length && memcmp(a->start, b->start, (size_t)a->length) == 0;
}

static int resolve_local(Compiler *c, Token *name) {
  for (int i = c->nlocals - 1; i >= 0; i--) {
    if (same_name(name, &c->locals[i].name)) {
      if (c->locals[i].depth == -1) error("Can't read local variable in its own initializer.");
      return i;
    }
  }
  return -1;
}

static int add_upvalue(Compiler *c, uint8_t index, bool is_local) {
  int n = c->function->upvalue_count;
  for (int i = 0; i < n; i++)
    if (c->upvalues[i].index == index && c->upvalues[i].is_local == is_local) return i;
  if (n == MAX_UPVALUES) {
    error("Too many closure variables in function.");
    return 0;
  }
  c->upvalues[n].is_local = is_local;
  c->upvalues[n].index = index;
  return c->function->upvalue_count++;
}

static int resolve_upvalue(Compiler *c, Token *name) {
  if (c->enclosing == NULL) return -1;
  int local = resolve_local(c->enclosing, name);
  if (local != -1) {
    c->enclosing->locals[local].captured = true;
    return add_upvalue(c, (uint8_t)local, true);
  }
  int up = resolve_upvalue(c->enclosing, name);
  if (up != -1) return add_upvalue(c, (uint8_t)up, false);
  return -1;
}

static int global_index(Token *name) {
  return global_slot(str_copy(name->start, (size_t)name->length));
}

static void named_variable(Token name, bool can_assign) {
  int arg = resolve_local(current, &name);
  uint8_t get, set;
  if (arg != -1) { get = OP_GET_LOCAL; set = OP_SET_LOCAL; }
  else if ((arg = resolve_upvalue(current, &name)) != -1) { get = OP_GET_UPVALUE; set = OP_SET_UPVALUE; }
  else {
    int g = global_index(&name);
    if (can_assign && match(T_EQ)) { expression(); emit_u16(OP_SET_GLOBAL, g); }
    else emit_u16(OP_GET_GLOBAL, g);
    return;
  }
  if (can_assign && match(T_EQ)) { expression(); emit2(set, (uint8_t)arg); }
  else emit2(get, (uint8_t)arg);
}

static void variable(bool can_assign) { named_variable(parser.prev, can_assign); }

static Token synthetic(const char *text) { return (Token){ T_IDENT, text, (int)strlen(text), 0 }; }

static void number(bool can_assign) {
  (void)can_assign;
  emit_constant(NUMBER_VAL(strtod(parser.prev.start, NULL)));
}

static void string(bool can_assign) {
  (void)can_assign;
  emit_constant(OBJ_VAL(str_copy(parser.prev.start + 1, (size_t)parser.prev.length - 2)));
}

static void literal(bool can_assign) {
  (void)can_assign;
  switch (parser.prev.type) {
  case T_FALSE: emit(OP_FALSE); break;
  case T_TRUE: emit(OP_TRUE); break;
  default: emit(OP_NIL); break;
  }
}

static void grouping(bool can_assign) {
  (void)can_assign;
  expression();
  consume(T_RPAREN, "Expect ')' after expression.");
}

static void unary(bool can_assign) {
  (void)can_assign;
  TokenType op = parser.prev.type;
  parse_prec(P_UNARY);
  emit(op == T_MINUS ? OP_NEGATE : OP_NOT);
}

static void binary(bool can_assign) {
  (void)can_assign;
  TokenType op = parser.prev.type;
  parse_prec((Prec)(rule_of(op)->prec + 1));
  switch (op) {
  case T_BANG_EQ: emit2(OP_EQUAL, OP_NOT); break;
  case T_EQ_EQ: emit(OP_EQUAL); break;
  case T_GT: emit(OP_GREATER); break;
  case T_GE: emit2(OP_LESS, OP_NOT); break;
  case T_LT: emit(OP_LESS); break;
  case T_LE: emit2(OP_GREATER, OP_NOT); break;
  case T_PLUS: emit(OP_ADD); break;
  case T_MINUS: emit(OP_SUBTRACT); break;
  case T_STAR: emit(OP_MULTIPLY); break;
  case T_SLASH: emit(OP_DIVIDE); break;
  default: break;
  }
}

static void and_(bool can_assign) {
  (void)can_assign;
  int end = emit_jump(OP_JUMP_IF_FALSE);
  emit(OP_POP);
  parse_prec(P_AND);
  patch_jump(end);
}

static void or_(bool can_assign) {
  (void)can_assign;
  int else_jump = emit_jump(OP_JUMP_IF_FALSE);
  int end = emit_jump(OP_JUMP);
  patch_jump(else_jump);
  emit(OP_POP);
  parse_prec(P_OR);
  patch_jump(end);
}

static uint8_t arguments(void) {
  int n = 0;
  if (!check(T_RPAREN)) {
    do {
      expression();
      if (n == 255) error("Can't have more than 255 arguments.");
      n++;
    } while (match(T_COMMA));
  }
  consume(T_RPAREN, "Expect ')' after arguments.");
  return (uint8_t)n;
}

static void call(bool can_assign) {
  (void)can_assign;
  uint8_t n = arguments();
  emit2(OP_CALL, n);
}

static void dot(bool can_assign) {
  consume(T_IDENT, "Expect property name after '.'.");
  uint8_t name = name_constant(&parser.prev);
  if (can_assign && match(T_EQ)) {
    expression();
    emit2(OP_SET_PROPERTY, name);
  } else if (match(T_LPAREN)) {
    uint8_t n = arguments();
    emit2(OP_INVOKE, name);
    emit(n);
  } else {
    emit2(OP_GET_PROPERTY, name);
  }
}

static void this_(bool can_assign) {
  (void)can_assign;
  if (current_class == NULL) { error("Can't use 'this' outside of a class."); return; }
  variable(false);
}

static void super_(bool can_assign) {
  (void)can_assign;
  if (current_class == NULL) error("Can't use 'super' outside of a class.");
  else if (!current_class->has_super) error("Can't use 'super' in a class with no superclass.");
  consume(T_DOT, "Expect '.' after 'super'.");
  consume(T_IDENT, "Expect superclass method name.");
  uint8_t name = name_constant(&parser.prev);
  named_variable(synthetic("this"), false);
  if (match(T_LPAREN)) {
    uint8_t n = arguments();
    named_variable(synthetic("super"), false);
    emit2(OP_SUPER_INVOKE, name);
    emit(n);
  } else {
    named_variable(synthetic("super"), false);
    emit2(OP_GET_SUPER, name);
  }
}

static const Rule rules[T_COUNT_] = {
  [T_LPAREN] = { grouping, call, P_CALL },
  [T_DOT] = { NULL, dot, P_CALL },
  [T_MINUS] = { unary, binary, P_TERM },
  [T_PLUS] = { NULL, binary, P_TERM },
  [T_SLASH] = { NULL, binary, P_FACTOR },
  [T_STAR] = { NULL, binary, P_FACTOR },
  [T_BANG] = { unary, NULL, P_NONE },
  [T_BANG_EQ] = { NULL, binary, P_EQUALITY },
  [T_EQ_EQ] = { NULL, binary, P_EQUALITY },
  [T_GT] = { NULL, binary, P_COMPARISON },
  [T_GE] = { NULL, binary, P_COMPARISON },
  [T_LT] = { NULL, binary, P_COMPARISON },
  [T_LE] = { NULL, binary, P_COMPARISON },
  [T_IDENT] = { variable, NULL, P_NONE },
  [T_STRING] = { string, NULL, P_NONE },
  [T_NUMBER] = { number, NULL, P_NONE },
  [T_AND] = { NULL, and_, P_AND },
  [T_OR] = { NULL, or_, P_OR },
  [T_FALSE] = { literal, NULL, P_NONE },
  [T_TRUE] = { literal, NULL, P_NONE },
  [T_NIL] = { literal, NULL, P_NONE },
  [T_THIS] = { this_, NULL, P_NONE },
  [T_SUPER] = { super_, NULL, P_NONE },
};

static const Rule *rule_of(TokenType t) { return &rules[t]; }

/* ====================================================================================
 *  Declarations and statements
 * ==================================================================================== */

static void add_local(Token name) {
  if (current->nlocals == MAX_LOCALS) { error("Too many local variables in function."); return; }
  Local *l = &current->locals[current->nlocals++];
  l->name = name;
  l->depth = -1;
  l->captured = false;
}

static void declare_variable(void) {
  if (current->depth == 0) return;
  Token *name = &parser.prev;
  for (int i = current->nlocals - 1; i >= 0; i--) {
    Local *l = &current->locals[i];
    if (l->depth != -1 && l->depth < current->depth) break;
    if (same_name(name, &l->name)) error("Already a variable with this name in this scope.");
  }
  add_local(*name);
}

/* Parses a variable name; for a global, its index, else 0. */
static int parse_variable(const char *msg) {
  consume(T_IDENT, msg);
  declare_variable();
  if (current->depth > 0) return 0;
  return global_index(&parser.prev);
}

static void mark_initialized(void) {
  if (current->depth == 0) return;
  current->locals[current->nlocals - 1].depth = current->depth;
}

static void define_variable(int global) {
  if (current->depth > 0) { mark_initialized(); return; }
  emit_u16(OP_DEFINE_GLOBAL, global);
}

static void block(void) {
  while (!check(T_RBRACE) && !check(T_EOF)) declaration();
  consume(T_RBRACE, "Expect '}' after block.");
}

static void function(FunKind kind) {
  Compiler c;
  init_compiler(&c, kind);
  LX_ROOTS(fr, LX_SLOT(c.function));
  name_function(&c);
  begin_scope();
  consume(T_LPAREN, "Expect '(' after function name.");
  if (!check(T_RPAREN)) {
    do {
      current->function->arity++;
      if (current->function->arity > 255) error_cur("Can't have more than 255 parameters.");
      int p = parse_variable("Expect parameter name.");
      define_variable(p);
    } while (match(T_COMMA));
  }
  consume(T_RPAREN, "Expect ')' after parameters.");
  consume(T_LBRACE, "Expect '{' before function body.");
  block();
  ObjFunction *f = end_compiler();
  uint8_t k = make_constant(OBJ_VAL(f));      /* f is still rooted through c.function */
  emit2(OP_CLOSURE, k);
  for (int i = 0; i < c.function->upvalue_count; i++) {
    emit(c.upvalues[i].is_local ? 1 : 0);
    emit(c.upvalues[i].index);
  }
  LX_UNROOT(fr);
}

static void method(void) {
  consume(T_IDENT, "Expect method name.");
  uint8_t name = name_constant(&parser.prev);
  FunKind kind = FK_METHOD;
  if (parser.prev.length == 4 && memcmp(parser.prev.start, "init", 4) == 0) kind = FK_INIT;
  function(kind);
  emit2(OP_METHOD, name);
}

static void class_declaration(void) {
  consume(T_IDENT, "Expect class name.");
  Token class_name = parser.prev;
  uint8_t name = name_constant(&parser.prev);
  declare_variable();
  int global = current->depth > 0 ? 0 : global_index(&class_name);
  emit2(OP_CLASS, name);
  define_variable(global);

  ClassCompiler cc = { current_class, false };
  current_class = &cc;
  if (match(T_LT)) {
    consume(T_IDENT, "Expect superclass name.");
    variable(false);
    if (same_name(&class_name, &parser.prev)) error("A class can't inherit from itself.");
    begin_scope();
    add_local(synthetic("super"));
    define_variable(0);
    named_variable(class_name, false);
    emit(OP_INHERIT);
    cc.has_super = true;
  }
  named_variable(class_name, false);
  consume(T_LBRACE, "Expect '{' before class body.");
  while (!check(T_RBRACE) && !check(T_EOF)) method();
  consume(T_RBRACE, "Expect '}' after class body.");
  emit(OP_POP);
  if (cc.has_super) end_scope();
  current_class = cc.enclosing;
}

static void fun_declaration(void) {
  int global = parse_variable("Expect function name.");
  mark_initialized();
  function(FK_FUNCTION);
  define_variable(global);
}

static void var_declaration(void) {
  int global = parse_variable("Expect variable name.");
  if (match(T_EQ)) expression();
  else emit(OP_NIL);
  consume(T_SEMI, "Expect ';' after variable declaration.");
  define_variable(global);
}

static void expression_statement(void) {
  expression();
  consume(T_SEMI, "Expect ';' after expression.");
  emit(OP_POP);
}

static void for_statement(void) {
  begin_scope();
  consume(T_LPAREN, "Expect '(' after 'for'.");
  if (match(T_SEMI)) {}
  else if (match(T_VAR)) var_declaration();
  else expression_statement();
  int loop_start = current->function->code_count;
  int exit_jump = -1;
  if (!match(T_SEMI)) {
    expression();
    consume(T_SEMI, "Expect ';' after loop condition.");
    exit_jump = emit_jump(OP_JUMP_IF_FALSE);
    emit(OP_POP);
  }
  if (!match(T_RPAREN)) {
    int body_jump = emit_jump(OP_JUMP);
    int incr_start = current->function->code_count;
    expression();
    emit(OP_POP);
    consume(T_RPAREN, "Expect ')' after for clauses.");
    emit_loop(loop_start);
    loop_start = incr_start;
    patch_jump(body_jump);
  }
  statement();
  emit_loop(loop_start);
  if (exit_jump != -1) {
    patch_jump(exit_jump);
    emit(OP_POP);
  }
  end_scope();
}

static void if_statement(void) {
  consume(T_LPAREN, "Expect '(' after 'if'.");
  expression();
  consume(T_RPAREN, "Expect ')' after condition.");
  int then_jump = emit_jump(OP_JUMP_IF_FALSE);
  emit(OP_POP);
  statement();
  int else_jump = emit_jump(OP_JUMP);
  patch_jump(then_jump);
  emit(OP_POP);
  if (match(T_ELSE)) statement();
  patch_jump(else_jump);
}

static void print_statement(void) {
  expression();
  consume(T_SEMI, "Expect ';' after value.");
  emit(OP_PRINT);
}

static void return_statement(void) {
  if (current->kind == FK_SCRIPT) error("Can't return from top-level code.");
  if (match(T_SEMI)) { emit_return(); return; }
  if (current->kind == FK_INIT) error("Can't return a value from an initializer.");
  expression();
  consume(T_SEMI, "Expect ';' after return value.");
  emit(OP_RETURN);
}

static void while_statement(void) {
  int loop_start = current->function->code_count;
  consume(T_LPAREN, "Expect '(' after 'while'.");
  expression();
  consume(T_RPAREN, "Expect ')' after condition.");
  int exit_jump = emit_jump(OP_JUMP_IF_FALSE);
  emit(OP_POP);
  statement();
  emit_loop(loop_start);
  patch_jump(exit_jump);
  emit(OP_POP);
}

static void synchronize(void) {
  parser.panic = false;
  while (parser.cur.type != T_EOF) {
    if (parser.prev.type == T_SEMI) return;
    switch (parser.cur.type) {
    case T_CLASS: case T_FUN: case T_VAR: case T_FOR: case T_IF: case T_WHILE: case T_PRINT:
    case T_RETURN:
      return;
    default: break;
    }
    advance();
  }
}

static void declaration(void) {
  if (match(T_CLASS)) class_declaration();
  else if (match(T_FUN)) fun_declaration();
  else if (match(T_VAR)) var_declaration();
  else statement();
  if (parser.panic) synchronize();
}

static void statement(void) {
  if (match(T_PRINT)) print_statement();
  else if (match(T_FOR)) for_statement();
  else if (match(T_IF)) if_statement();
  else if (match(T_RETURN)) return_statement();
  else if (match(T_WHILE)) while_statement();
  else if (match(T_LBRACE)) { begin_scope(); block(); end_scope(); }
  else expression_statement();
}

ObjFunction *compile(const char *source) {
  sc.start = sc.cur = source;
  sc.line = 1;
  parser.had_error = parser.panic = false;
  current = NULL;
  current_class = NULL;
  Compiler c;
  init_compiler(&c, FK_SCRIPT);
  LX_ROOTS(fr, LX_SLOT(c.function));
  advance();
  while (!match(T_EOF)) declaration();
  ObjFunction *f = end_compiler();
  LX_UNROOT(fr);
  return parser.had_error ? NULL : f;
}
