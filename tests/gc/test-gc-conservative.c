/* tests/gc/test-gc-conservative.c -- conservative stack scanning and pinning (gc/conservative.c,
 * gc/minor.c "Pinning", gc/young.c).
 *
 * Most tests use only <hp.h>: managed pointers held nowhere but in C locals (several frames
 * deep, in callee-saved registers, behind a pointer to a local, only as an interior pointer),
 * integers that look like pointers into free memory, how long a stack word keeps garbage, the
 * statistics, and hp_pin/hp_unpin. The section "Inside" reads header bits and spaces through
 * gc/gc.h, and so the program links the internal build.
 *
 * What a test can say about the stack. A local that the test still reads after a collection
 * is live, and the compiler keeps it in a register or a stack slot: the collector must find it.
 * The converse is not certain: a dead copy of a pointer may linger in a spill slot, in a
 * callee-saved register, or below the stack pointer, and keep its object. Tests that check
 * that garbage goes away therefore keep the objects' addresses only in globals (which are not
 * scanned), XORed with T_KEY so that they do not even look like pointers, allocate in noinline
 * helpers, and call t_forget() -- which zeroes the dead stack below the caller and the
 * callee-saved registers -- before the collection that must free them.
 *
 * Runtimes are made with t_runtime_as_is and cfg.conservative_stack set by each test (on for
 * everything but the hp_pin tests, which run both ways), in stress mode under HP_TEST_STRESS
 * like every gc test. Assertions that count exactly what was pinned or freed are made where
 * stress collections cannot add to the count, and say so.
 */
#include "gc-test.h"

#include "gc/collector.h"

#include <stddef.h>

#if !defined(__x86_64__)
#error "the conservative scan (gc/conservative.c) and these tests are for x86-64"
#endif

#if T_SANITIZER
/* ASan's fake stacks move locals off the thread's stack, where no conservative scan can see
 * them: run with real frames whatever ASAN_OPTIONS says (the option is read at startup). */
const char *__asan_default_options(void) { return "detect_stack_use_after_return=0:detect_leaks=0"; }
#endif

/* ------------------------------------------------------------------------------------
 *  Keeping values live, and forgetting dead ones
 * ------------------------------------------------------------------------------------ */

#define T_NOINLINE __attribute__((noinline))
/* The value must be in a register here; nothing forces it into memory. */
#define T_KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")
/* Addresses kept where the collector cannot see them: XORed with T_KEY they are no longer in
 * the canonical address range, so no scan takes them for pointers. */
#define T_KEY ((uintptr_t)0xA5C3000000000000ull)
static inline uintptr_t t_enc(const void *p) { return (uintptr_t)p ^ T_KEY; }
static inline void *t_dec(uintptr_t e) { return (void *)(e ^ T_KEY); }

/* Zeroes the 64 KiB of stack below the caller's frame (everything below t_clear_stack's
 * return address): whatever dead frames left there is gone before the next call lays its
 * frames over it. In assembly, since a C function's own frame (saved registers, sanitizer red
 * zones) would leave the words just below the caller untouched. */
void t_clear_stack(void);
__asm__(".text\n"
        ".p2align 4\n"
        ".type t_clear_stack, @function\n"
        "t_clear_stack:\n"
        ".cfi_startproc\n"
        "leaq -65536(%rsp), %rdi\n"
        "movl $8192, %ecx\n"
        "xorl %eax, %eax\n"
        "cld\n"
        "rep stosq\n"
        "ret\n"
        ".cfi_endproc\n"
        ".size t_clear_stack, .-t_clear_stack\n");

/* t_forget(): t_clear_stack, then zero the callee-saved registers and the vector registers of
 * the calling function (the compiler saves around the asm whatever it still needs there), so
 * that the only pointers left are those the function still uses. */
#define t_forget()                                                                           \
  do {                                                                                       \
    t_clear_stack();                                                                         \
    __asm__ volatile("xorl %%ebx, %%ebx\n\txorl %%r12d, %%r12d\n\txorl %%r13d, %%r13d\n\t"   \
                     "xorl %%r14d, %%r14d\n\txorl %%r15d, %%r15d\n\t"                        \
                     "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t" \
                     "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t" \
                     "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"                        \
                     ::: "rbx", "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3",  \
                     "xmm4", "xmm5", "xmm6", "xmm7", "memory");                              \
  } while (0)

/* void t_call_in_regs(void *fn, hp_thread *t, int kind, uintptr_t enc[6], uintptr_t key):
 * loads enc[i] ^ key into rbx, rbp, r12, r13, r14 and r15, calls fn(t, kind) with those
 * values nowhere else, then stores the six registers back into enc, XORed with key again.
 * So during fn the six pointers live only in callee-saved registers (and wherever fn's own
 * frames save them): what the collector finds of them, it finds through the captured context
 * and the unwinder (gc/conservative.c), or in the save slots of frames above its own. */
void t_call_in_regs(void *fn, hp_thread *t, int kind, uintptr_t *enc, uintptr_t key);
__asm__(".text\n"
        ".p2align 4\n"
        ".type t_call_in_regs, @function\n"
        "t_call_in_regs:\n"
        ".cfi_startproc\n"
        "pushq %rbp\n.cfi_adjust_cfa_offset 8\n.cfi_rel_offset %rbp, 0\n"
        "pushq %rbx\n.cfi_adjust_cfa_offset 8\n.cfi_rel_offset %rbx, 0\n"
        "pushq %r12\n.cfi_adjust_cfa_offset 8\n.cfi_rel_offset %r12, 0\n"
        "pushq %r13\n.cfi_adjust_cfa_offset 8\n.cfi_rel_offset %r13, 0\n"
        "pushq %r14\n.cfi_adjust_cfa_offset 8\n.cfi_rel_offset %r14, 0\n"
        "pushq %r15\n.cfi_adjust_cfa_offset 8\n.cfi_rel_offset %r15, 0\n"
        "subq $24, %rsp\n.cfi_adjust_cfa_offset 24\n"     /* 16-byte aligned for the call */
        "movq %rcx, 0(%rsp)\n"                            /* enc */
        "movq %r8, 8(%rsp)\n"                             /* key */
        "movq %rdi, %rax\n"                               /* fn */
        "movq %rsi, %rdi\n"                               /* t */
        "movl %edx, %esi\n"                               /* kind */
        "movq 0(%rcx), %rbx\n xorq %r8, %rbx\n"
        "movq 8(%rcx), %rbp\n xorq %r8, %rbp\n"
        "movq 16(%rcx), %r12\n xorq %r8, %r12\n"
        "movq 24(%rcx), %r13\n xorq %r8, %r13\n"
        "movq 32(%rcx), %r14\n xorq %r8, %r14\n"
        "movq 40(%rcx), %r15\n xorq %r8, %r15\n"
        "xorl %ecx, %ecx\n xorl %edx, %edx\n xorl %r8d, %r8d\n"
        "callq *%rax\n"
        "movq 0(%rsp), %rcx\n movq 8(%rsp), %r8\n"
        "xorq %r8, %rbx\n movq %rbx, 0(%rcx)\n"
        "xorq %r8, %rbp\n movq %rbp, 8(%rcx)\n"
        "xorq %r8, %r12\n movq %r12, 16(%rcx)\n"
        "xorq %r8, %r13\n movq %r13, 24(%rcx)\n"
        "xorq %r8, %r14\n movq %r14, 32(%rcx)\n"
        "xorq %r8, %r15\n movq %r15, 40(%rcx)\n"
        "addq $24, %rsp\n.cfi_adjust_cfa_offset -24\n"
        "popq %r15\n.cfi_adjust_cfa_offset -8\n.cfi_restore %r15\n"
        "popq %r14\n.cfi_adjust_cfa_offset -8\n.cfi_restore %r14\n"
        "popq %r13\n.cfi_adjust_cfa_offset -8\n.cfi_restore %r13\n"
        "popq %r12\n.cfi_adjust_cfa_offset -8\n.cfi_restore %r12\n"
        "popq %rbx\n.cfi_adjust_cfa_offset -8\n.cfi_restore %rbx\n"
        "popq %rbp\n.cfi_adjust_cfa_offset -8\n.cfi_restore %rbp\n"
        "ret\n"
        ".cfi_endproc\n"
        ".size t_call_in_regs, .-t_call_in_regs\n");

/* The address of a local of main(): every test's frames are below it. */
static uintptr_t main_frame;

/* ------------------------------------------------------------------------------------
 *  Types and objects
 * ------------------------------------------------------------------------------------ */

/* node: check == t_mix(id) always. */
typedef struct node { struct node *a, *b; uint64_t id, check; } node;
static const uint32_t node_offsets[] = { offsetof(node, a), offsetof(node, b) };
static hp_type node_type = { .name = "node", .size = sizeof(node), .noffsets = 2, .offsets = node_offsets };
/* blob: raw words t_mix(seed + i), never traced. */
static hp_type blob_type = { .name = "blob", .size = 0, .flags = HP_TYPE_LEAF };
/* big: a pointer and a payload; large enough to be old at birth. */
enum { BIG_SIZE = 9000 };
typedef struct big { struct big *next; node *child; uint64_t id, words[]; } big;
static const uint32_t big_offsets[] = { offsetof(big, next), offsetof(big, child) };
static hp_type big_type = { .name = "big", .size = sizeof(big), .noffsets = 2, .offsets = big_offsets };

static const size_t NODE_BYTES = (sizeof(node) + 15) & ~(size_t)7;    /* 40 */

static void t_types(hp_runtime *rt) {
  ck_assert_int_eq(hp_type_register(rt, &node_type), 0);
  ck_assert_int_eq(hp_type_register(rt, &blob_type), 0);
  ck_assert_int_eq(hp_type_register(rt, &big_type), 0);
}

static node *new_node(hp_thread *t, uint64_t id) {
  node *p = HP_NEW(t, &node_type);
  ck_assert_ptr_nonnull(p);
  p->id = id;
  p->check = t_mix(id);
  return p;
}

static bool node_ok(const node *p, uint64_t id) {
  return p != NULL && p->id == id && p->check == t_mix(id);
}

static void *new_blob(hp_thread *t, size_t size, uint64_t seed) {
  uint64_t *b = hp_new(t, &blob_type, size);
  ck_assert_ptr_nonnull(b);
  for (size_t i = 0; i < size / 8; i++) b[i] = t_mix(seed + i);
  return b;
}

static bool blob_ok(const void *p, size_t size, uint64_t seed) {
  const uint64_t *b = p;
  if (hp_size(p) != ((size + 7) & ~(size_t)7)) return false;
  for (size_t i = 0; i < size / 8; i++)
    if (b[i] != t_mix(seed + i)) return false;
  return true;
}

static big *new_big(hp_thread *t, uint64_t id) {
  big *g = hp_new(t, &big_type, BIG_SIZE);
  ck_assert_ptr_nonnull(g);
  g->id = id;
  for (size_t i = 0; i < (BIG_SIZE - sizeof(big)) / 8; i++) g->words[i] = t_mix(id * 4096 + i);
  return g;
}

static bool big_ok(const big *g, uint64_t id) {
  if (g == NULL || g->id != id || hp_size(g) != BIG_SIZE) return false;
  for (size_t i = 0; i < (BIG_SIZE - sizeof(big)) / 8; i++)
    if (g->words[i] != t_mix(id * 4096 + i)) return false;
  return true;
}

/* A runtime with conservative scanning as asked (tests of hp_pin run both ways). */
static hp_runtime *make(hp_config *c, bool conservative) {
  hp_config d = c ? *c : t_config();
  d.conservative_stack = conservative;
  hp_runtime *rt = t_runtime_as_is(&d);
  t_types(rt);
  return rt;
}

/* Checks on objects known only by their encoded address, made out of line: the decoded
 * pointer lives in this frame and its registers only, which t_forget() wipes afterwards. */
T_NOINLINE static bool enc_node_ok(uintptr_t e, uint64_t id) { return node_ok(t_dec(e), id); }
T_NOINLINE static bool enc_child_ok(uintptr_t e, uint64_t id) { return node_ok(((node *)t_dec(e))->a, id); }
T_NOINLINE static bool enc_blob_ok(uintptr_t e, size_t size, uint64_t seed) { return blob_ok(t_dec(e), size, seed); }
T_NOINLINE static int enc_unpin(hp_thread *t, uintptr_t e) { return hp_unpin(t, t_dec(e)); }

/* Allocates about `bytes` of garbage of mixed sizes (16 B - 3 KiB). If `pinned` is not 0, it
 * is a pinned object's body, encoded: checks that no new object overlaps it and that each is
 * zeroed. Returns the number of objects. Under a conservative scan the last few may be pinned
 * by stale words: callers that count exactly make no garbage. */
T_NOINLINE static size_t churn(hp_thread *t, size_t bytes, uintptr_t pinned) {
  uintptr_t lo = 0, hi = 0;
  if (pinned) {
    lo = (uintptr_t)t_dec(pinned) - 8;
    hi = lo + 8 + hp_size(t_dec(pinned));
  }
  size_t n = 0;
  for (size_t done = 0; done < bytes; n++) {
    size_t sz = 16 + (n * 7919) % 3000;
    unsigned char *p = hp_new(t, &blob_type, sz);
    ck_assert_ptr_nonnull(p);
    if (lo < hi) {
      uintptr_t a = (uintptr_t)p - 8, e = (uintptr_t)p + ((sz + 7) & ~(size_t)7);
      ck_assert_msg(e <= lo || a >= hi, "a new object [%#lx, %#lx) overlaps the pinned object [%#lx, %#lx)",
                    (unsigned long)a, (unsigned long)e, (unsigned long)lo, (unsigned long)hi);
      for (size_t i = 0; i < sz; i++) ck_assert_msg(p[i] == 0, "a new object is not zeroed");
    }
    memset(p, 0xC5, sz);
    done += sz + 8;
  }
  return n;
}

/* ------------------------------------------------------------------------------------
 *  Objects held only in C locals
 * ------------------------------------------------------------------------------------ */

enum { DEEP = 48 };

/* One frame per level: a node (id 1000 + depth) whose `a` is the parent's node and whose `b`
 * is a young blob reachable only through it. The deepest level collects (minor, major, minor)
 * with garbage in between; every level then checks its own node. Returns the levels checked. */
T_NOINLINE static size_t deep(hp_thread *t, hp_runtime *rt, int depth, node *parent) {
  node *p = new_node(t, 1000 + (uint64_t)depth);
  p->a = parent;                                  /* fresh: no collection since hp_new */
  void *b = new_blob(t, 24 + (size_t)depth * 8, (uint64_t)depth << 20);
  hp_write(t, p, &p->b, b);                        /* p may be pinned by now (stress) */
  b = NULL;
  size_t n;
  if (depth < DEEP) {
    n = deep(t, rt, depth + 1, p);
  } else {
    hp_collect(t, HP_GC_MINOR);
    struct hp_gc_stats s = t_stats(rt);
    ck_assert_uint_ge(s.pinned_objects, DEEP + 1);  /* every level's node, at least */
    churn(t, 2 * T_MiB, 0);                         /* eden reused twice over */
    hp_collect(t, HP_GC_MAJOR);
    churn(t, 2 * T_MiB, 0);
    hp_collect(t, HP_GC_MINOR);
    ck_assert_uint_ge(t_stats(rt).pinned_objects, DEEP + 1);
    ck_assert_uint_ge(hp_verify_heap(rt), 2 * (DEEP + 1));
    n = 0;
  }
  ck_assert_msg(node_ok(p, 1000 + (uint64_t)depth), "depth %d: node damaged", depth);
  ck_assert_ptr_eq(p->a, parent);                  /* the parent's node did not move */
  ck_assert_msg(blob_ok(p->b, 24 + (size_t)depth * 8, (uint64_t)depth << 20), "depth %d: blob damaged", depth);
  ck_assert_ptr_eq(hp_type_of(rt, p), &node_type);
  T_KEEP(p);
  T_KEEP(parent);
  return n + 1;
}

START_TEST(test_locals_deep) {
  hp_config c = t_config();
  c.eden_size = 1 * T_MiB;
  hp_runtime *rt = make(&c, true);
  hp_thread *t = hp_main_thread(rt);
  ck_assert_uint_eq(deep(t, rt, 0, NULL), DEEP + 1);
  /* The frames are gone: after one minor and one major collection nothing is left, and the
   * pinned nodes (old since the major one) were freed by it. */
  uint64_t freed = t_stats(rt).objects_freed;
  t_forget();
  hp_collect(t, HP_GC_MINOR);
  hp_collect(t, HP_GC_MAJOR);
  struct hp_gc_stats s = t_stats(rt);
  ck_assert_uint_ge(s.objects_freed - freed, 2 * (DEEP + 1));   /* nodes and their blobs */
  ck_assert_uint_eq(s.pinned_objects, 0);
  ck_assert_uint_eq(s.pinned_held, 0);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* Twelve live nodes at once across collections, each with a young child: more than there are
 * callee-saved registers, so some live in registers and the rest in spill slots. */
T_NOINLINE static void many_live(hp_thread *t, hp_runtime *rt, hp_gc_kind kind) {
  node *n0 = new_node(t, 0), *n1 = new_node(t, 1), *n2 = new_node(t, 2), *n3 = new_node(t, 3);
  node *n4 = new_node(t, 4), *n5 = new_node(t, 5), *n6 = new_node(t, 6), *n7 = new_node(t, 7);
  node *n8 = new_node(t, 8), *n9 = new_node(t, 9), *n10 = new_node(t, 10), *n11 = new_node(t, 11);
  node *all[12] = { n0, n1, n2, n3, n4, n5, n6, n7, n8, n9, n10, n11 };
  for (int i = 0; i < 12; i++) {
    node *ch = new_node(t, 100 + (uint64_t)i);
    hp_write(t, all[i], &all[i]->a, ch);           /* all[i] may be pinned by now (stress) */
  }
  memset(all, 0, sizeof all);                       /* from here on: the twelve locals only */
  __asm__ volatile("" : : "r"(all) : "memory");
  hp_collect(t, kind);
  churn(t, 3 * T_MiB, 0);
  hp_collect(t, kind == HP_GC_MINOR ? HP_GC_MAJOR : HP_GC_MINOR);
  churn(t, 1 * T_MiB, 0);
  node *back[12] = { n0, n1, n2, n3, n4, n5, n6, n7, n8, n9, n10, n11 };
  for (int i = 0; i < 12; i++) {
    ck_assert_msg(node_ok(back[i], (uint64_t)i), "node %d damaged", i);
    ck_assert_msg(node_ok(back[i]->a, 100 + (uint64_t)i), "child of node %d damaged", i);
    ck_assert_ptr_eq(hp_type_of(rt, back[i]), &node_type);
  }
  ck_assert_uint_ge(t_stats(rt).pinned_objects, 12);
  T_KEEP(n0); T_KEEP(n1); T_KEEP(n2); T_KEEP(n3); T_KEEP(n4); T_KEEP(n5);
  T_KEEP(n6); T_KEEP(n7); T_KEEP(n8); T_KEEP(n9); T_KEEP(n10); T_KEEP(n11);
}

START_TEST(test_locals_many_live) {
  hp_config c = t_config();
  c.eden_size = 1 * T_MiB;
  hp_runtime *rt = make(&c, true);
  hp_thread *t = hp_main_thread(rt);
  many_live(t, rt, HP_GC_MINOR);
  many_live(t, rt, HP_GC_MAJOR);
  hp_runtime_destroy(rt);
}
END_TEST

/* Six nodes allocated here, returned only encoded (enc), each with a young child. */
T_NOINLINE static void six_nodes(hp_thread *t, uintptr_t enc[6], uintptr_t child[6]) {
  for (int i = 0; i < 6; i++) {
    node *p = new_node(t, 10 + (uint64_t)i);
    node *ch = new_node(t, 20 + (uint64_t)i);
    hp_write(t, p, &p->a, ch);
    enc[i] = t_enc(p);
    child[i] = t_enc(ch);
  }
}

T_NOINLINE static void check_six(hp_thread *t, const uintptr_t enc[6], const uintptr_t child[6], hp_gc_kind kind) {
  for (int i = 0; i < 6; i++) {
    node *p = t_dec(enc[i]);
    ck_assert_msg(node_ok(p, 10 + (uint64_t)i), "node %d (held in a register) damaged", i);
    ck_assert_msg(node_ok(p->a, 20 + (uint64_t)i), "child %d damaged", i);
    /* The children were reachable only through the pinned nodes: traced, and moved. */
    if (!t_stress()) ck_assert_ptr_ne(p->a, t_dec(child[i]));
    if (kind == HP_GC_MAJOR) ck_assert(!t_is_young(t, p->a));
  }
}

/* Managed pointers in callee-saved registers only, across hp_collect called straight from
 * assembly (t_call_in_regs): the scan must recover them from the captured registers and the
 * unwound frames. */
START_TEST(test_locals_registers_only) {
  hp_runtime *rt = make(NULL, true);
  hp_thread *t = hp_main_thread(rt);
  static const hp_gc_kind kinds[] = { HP_GC_MINOR, HP_GC_MAJOR };
  for (int k = 0; k < 2; k++) {
    uintptr_t enc[6], child[6], before[6];
    six_nodes(t, enc, child);
    memcpy(before, enc, sizeof enc);
    struct hp_gc_stats s0 = t_stats(rt);
    t_forget();
    t_call_in_regs((void *)hp_collect, t, (int)kinds[k], enc, T_KEY);
    struct hp_gc_stats s1 = t_stats(rt);
    /* Found: pinned in place (the registers were not updated, and need not be). */
    for (int i = 0; i < 6; i++) ck_assert_uint_eq(enc[i], before[i]);
    ck_assert_uint_ge(s1.pinned_objects, 6);
    ck_assert_uint_ge(s1.bytes_pinned - s0.bytes_pinned, 6 * NODE_BYTES);
    check_six(t, enc, child, kinds[k]);
    ck_assert_uint_ge(hp_verify_heap(rt), 12);
    /* After the major collection the nodes are pinned old: kept through minor collections
     * with nothing pointing to them, freed by the next major one. */
    if (kinds[k] == HP_GC_MAJOR) {
      /* Eden handed out again (but under stress, where allocation runs major collections
       * too, only minor collections without allocation). */
      if (!t_stress()) churn(t, 8 * T_MiB, 0);
      for (int i = 0; i < 3; i++) hp_collect(t, HP_GC_MINOR);
      for (int i = 0; i < 6; i++) {
        ck_assert_msg(enc_node_ok(enc[i], 10 + (uint64_t)i), "pinned old node %d", i);
        ck_assert_msg(enc_child_ok(enc[i], 20 + (uint64_t)i), "pinned old node %d's child", i);
      }
      uint64_t freed = t_stats(rt).objects_freed;
      t_forget();
      hp_collect(t, HP_GC_MAJOR);
      ck_assert_uint_ge(t_stats(rt).objects_freed - freed, 12);
      ck_assert_uint_eq(t_stats(rt).pinned_objects, 0);
      ck_assert_uint_eq(hp_verify_heap(rt), 0);
    }
  }
  hp_runtime_destroy(rt);
}
END_TEST

/* A struct on the stack holding the pointers, reached by the callee through its address. */
typedef struct holder { uint64_t tag; node *p; uint64_t tag2; big *g; node *arr[3]; } holder;

/* Fills *h; enc gets the addresses, encoded. */
T_NOINLINE static void fill_holder(hp_thread *t, holder *h, uintptr_t enc[6]) {
  h->tag = 0x1111;
  h->p = new_node(t, 501);
  h->g = new_big(t, 502);                          /* old at birth */
  node *c = new_node(t, 503);
  hp_write(t, h->g, &h->g->child, c);
  for (int i = 0; i < 3; i++) h->arr[i] = new_node(t, 510 + (uint64_t)i);
  h->tag2 = 0x2222;
  uintptr_t e[6] = { t_enc(h->p), t_enc(h->g), t_enc(h->g->child), t_enc(h->arr[0]), t_enc(h->arr[1]),
                     t_enc(h->arr[2]) };
  memcpy(enc, e, sizeof e);
}

T_NOINLINE static void collect_via(hp_thread *t, holder *h, hp_gc_kind kind) {
  hp_collect(t, kind);
  churn(t, 6 * T_MiB, 0);
  hp_collect(t, HP_GC_MINOR);
  __asm__ volatile("" : : "r"(h) : "memory");
}

START_TEST(test_locals_behind_pointer) {
  hp_config c = t_config();
  c.eden_size = 1 * T_MiB;
  hp_runtime *rt = make(&c, true);
  hp_thread *t = hp_main_thread(rt);
  holder h;
  uintptr_t enc[6];
  fill_holder(t, &h, enc);
  t_forget();
  collect_via(t, &h, HP_GC_MINOR);
  collect_via(t, &h, HP_GC_MAJOR);
  ck_assert_uint_eq(h.tag, 0x1111);
  ck_assert_uint_eq(h.tag2, 0x2222);
  ck_assert_ptr_eq(h.p, t_dec(enc[0]));
  ck_assert_ptr_eq(h.g, t_dec(enc[1]));
  ck_assert(node_ok(h.p, 501));
  ck_assert(big_ok(h.g, 502));
  ck_assert(node_ok(h.g->child, 503));             /* reachable through the old big only */
  if (!t_stress()) ck_assert_ptr_ne(h.g->child, t_dec(enc[2]));   /* young then: moved */
  for (int i = 0; i < 3; i++) {
    ck_assert_ptr_eq(h.arr[i], t_dec(enc[3 + i]));
    ck_assert(node_ok(h.arr[i], 510 + (uint64_t)i));
  }
  __asm__ volatile("" : : "r"(&h) : "memory");
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Interior pointers
 * ------------------------------------------------------------------------------------ */

enum { NINT = 7 };
static const size_t int_sizes[NINT] = { 8, 100, 4000, 4000, 20000, 20000, 300000 };
/* Where the pointer into blob i points: the middle, or (odd i) the last byte. */
static size_t int_off(size_t i) { return (i % 2) ? int_sizes[i] - 1 : int_sizes[i] / 2 + 3; }

/* Allocates the blobs and returns only pointers into them: the body never leaves here. */
T_NOINLINE static void interior_blobs(hp_thread *t, char *ip[NINT]) {
  for (size_t i = 0; i < NINT; i++) {
    char *b = new_blob(t, int_sizes[i], 7000 + i * 100000);
    ip[i] = b + int_off(i);
  }
}

START_TEST(test_interior_pointers) {
  hp_config c = t_config();
  c.eden_size = 1 * T_MiB;
  hp_runtime *rt = make(&c, true);
  hp_thread *t = hp_main_thread(rt);
  char *ip[NINT];
  interior_blobs(t, ip);
  t_forget();
  struct hp_gc_stats s0 = t_stats(rt);
  hp_collect(t, HP_GC_MINOR);
  struct hp_gc_stats s1 = t_stats(rt);
  /* The three young ones (8, 100 and 4000 bytes) are pinned. */
  ck_assert_uint_ge(s1.pinned_objects, 3);
  ck_assert_uint_ge(s1.bytes_pinned - s0.bytes_pinned, t_obj_bytes(8) + t_obj_bytes(100) + t_obj_bytes(4000));
  for (int round = 0; round < 4; round++) {
    churn(t, 3 * T_MiB, 0);
    hp_collect(t, round == 1 ? HP_GC_MAJOR : HP_GC_MINOR);
    for (size_t i = 0; i < NINT; i++) {
      size_t off = int_off(i);
      char *b = ip[i] - off;
      ck_assert_msg(blob_ok(b, int_sizes[i], 7000 + i * 100000), "blob %zu (%zu bytes) held by an interior "
                    "pointer at +%zu was not kept", i, int_sizes[i], off);
      ck_assert_msg(hp_type_of(rt, b) == &blob_type, "blob %zu: type %s", i, hp_type_of(rt, b)->name);
    }
  }
  /* Gone with the pointers: one major collection frees them all. */
  memset(ip, 0, sizeof ip);
  __asm__ volatile("" : : "r"(ip) : "memory");
  t_forget();
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).pinned_objects, 0);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* An object in the survivor space (copied there by a precise root) found through an interior
 * pointer only: the lookup goes through from-space's object-start bits. */
static void *g_slot;

/* Returns a pointer 200 bytes into the blob, the only one that leaves here. */
T_NOINLINE static char *survivor_blob(hp_thread *t) {
  g_slot = new_blob(t, 480, 4242);
  hp_collect(t, HP_GC_MINOR);                       /* copied into the survivor space */
  ck_assert(t_is_young(t, g_slot));
  char *ip = (char *)g_slot + 200;
  g_slot = NULL;                                    /* the precise root lets go */
  return ip;
}

T_NOINLINE static bool survivor_blob_ok(const char *ip) { return blob_ok(ip - 200, 480, 4242); }

START_TEST(test_interior_pointer_survivor) {
  hp_config c = t_config();
  c.tenure_age = 15;
  c.adaptive_tenure = false;
  hp_runtime *rt = make(&c, true);
  hp_thread *t = hp_main_thread(rt);
  ck_assert_int_eq(hp_root_add(rt, &g_slot), 0);
  char *ip = survivor_blob(t);
  t_forget();
  hp_collect(t, HP_GC_MINOR);
  ck_assert_uint_ge(t_stats(rt).pinned_objects, 1);
  churn(t, 10 * T_MiB, 0);
  hp_collect(t, HP_GC_MINOR);
  ck_assert(survivor_blob_ok(ip));
  T_KEEP(ip);
  ck_assert_int_eq(hp_root_remove(rt, &g_slot), 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Words that point at no object
 * ------------------------------------------------------------------------------------ */

enum { NLIVE = 8 };
static void *g_live[NLIVE];
static void *g_tmp[3];
static uintptr_t g_garbage[3];

T_NOINLINE static void make_old_live(hp_thread *t) {
  g_live[4] = new_big(t, 4);
  g_live[5] = new_big(t, 5);
  g_live[6] = new_blob(t, 200000, 6 << 20);         /* a huge span */
  g_tmp[0] = new_big(t, 90);                        /* to be freed */
  g_tmp[1] = new_big(t, 91);
  g_tmp[2] = new_blob(t, 200000, 92 << 20);
  for (int i = 0; i < 3; i++) g_garbage[i] = t_enc(g_tmp[i]);
}

T_NOINLINE static void make_young_live(hp_thread *t) {
  for (int i = 0; i < 4; i++) g_live[i] = new_node(t, (uint64_t)i);
  g_live[7] = new_node(t, 7);
}

T_NOINLINE static void check_live(hp_runtime *rt) {
  for (int i = 0; i < 4; i++) ck_assert(node_ok(g_live[i], (uint64_t)i));
  ck_assert(node_ok(g_live[7], 7));
  ck_assert(big_ok(g_live[4], 4));
  ck_assert(big_ok(g_live[5], 5));
  ck_assert(blob_ok(g_live[6], 200000, 6 << 20));
  ck_assert_uint_eq(hp_verify_heap(rt), NLIVE);
}

START_TEST(test_words_into_free_space) {
  hp_config c = t_config();
  c.eden_size = 1 * T_MiB;                          /* survivor spaces of 256 KiB */
  c.tenure_age = 15;
  c.adaptive_tenure = false;
  c.adaptive_eden = false;                          /* the young range is just these three */
  hp_runtime *rt = make(&c, true);
  hp_thread *t = hp_main_thread(rt);
  /* The young range is eden (1 MiB), S0, S1 (256 KiB each). Its bounds are kept as offsets
   * until the words are made: the start of eden or of a survivor space is the header of the
   * first object there, and a word pointing at a header keeps its object like any other. */
  const size_t S0 = T_MiB, S1 = S0 + 256 * T_KiB, END = S1 + 256 * T_KiB;
  ck_assert_uint_eq(t->young_size - 8, END);
  hp_root_range live = { g_live, NLIVE }, tmp = { g_tmp, 3 };
  ck_assert_int_eq(hp_root_range_add(rt, &live), 0);
  ck_assert_int_eq(hp_root_range_add(rt, &tmp), 0);

  /* Old objects, three of them freed: their blocks (and the huge span) are free memory. */
  make_old_live(t);
  uint64_t freed = t_stats(rt).objects_freed;
  memset(g_tmp, 0, sizeof g_tmp);
  t_forget();
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 3);
  for (int i = 0; i < 3; i++) {                     /* not objects any more */
    errno = 0;
    ck_assert_int_eq(hp_pin(t, t_dec(g_garbage[i])), -1);
    ck_assert_int_eq(errno, EINVAL);
  }
  /* Young survivors in from-space; which of S0/S1 that is, their address says. */
  make_young_live(t);
  t_forget();
  hp_collect(t, HP_GC_MINOR);
  ck_assert(t_is_young(t, g_live[0]));
  size_t from = (uintptr_t)g_live[0] - t->young_lo >= S1 ? S1 : S0, to = from == S0 ? S1 : S0;
  for (int i = 0; i < 4; i++) ck_assert_uint_lt((uintptr_t)g_live[i] - t->young_lo - from, 256 * T_KiB);
  check_live(rt);

  /* Unmanaged blocks of the pools. */
  char *pool_small = hp_pool_alloc(64), *pool_huge = hp_pool_alloc(300000), *pool_freed = hp_pool_alloc(48);
  ck_assert(pool_small && pool_huge && pool_freed);
  memset(pool_small, 0x5A, 64);
  hp_pool_free(pool_freed);
  /* Eden: the allocation mark is the end of the current buffer (no buffer: eden is empty). */
  (void)new_node(t, 999);                           /* garbage: a buffer now exists */
  uintptr_t tlab_cur = t->tlab_cur, tlab_end = t->tlab_end;
  uintptr_t young_lo = t->young_lo, young_hi = young_lo + END;   /* dead once w is made */

  enum { SURV = 8 };                               /* where the survivor words start */
  /* (Not tlab_cur itself, nor tlab_end, which under stress is the same: the end of the last
   * object is where the body of a zero-size object after it would be, and a word there may
   * keep the object before it.) */
  uintptr_t w[] = {
    tlab_cur + 8, tlab_cur + 16, tlab_cur + 100,   /* past the top of the current buffer */
    tlab_end + 8, tlab_end + 64, tlab_end + 4096,  /* past eden's allocation mark */
    young_lo + T_MiB - 8, young_lo + T_MiB - 1,    /* the end of eden */
    young_lo + from + 200 * T_KiB, young_lo + from + 256 * T_KiB - 8,   /* the survivor space's free tail */
    young_lo + to, young_lo + to + 8, young_lo + to + 100 * T_KiB,     /* the empty survivor space */
    young_hi, young_hi + 1, young_hi + 7,          /* just past the young span */
    young_lo - 8, young_lo - 1,                    /* just before it */
    (uintptr_t)t_dec(g_garbage[0]), (uintptr_t)t_dec(g_garbage[0]) + 8, (uintptr_t)t_dec(g_garbage[0]) + 4000,
    (uintptr_t)t_dec(g_garbage[1]) + BIG_SIZE - 1, /* free blocks of the old generation */
    (uintptr_t)t_dec(g_garbage[2]), (uintptr_t)t_dec(g_garbage[2]) + 150000,   /* a freed huge span */
    (uintptr_t)g_live[4] + BIG_SIZE + 64,          /* a live block's slack (9000 in 10240) */
    (uintptr_t)g_live[6] + 200000 + 4096,          /* a huge span's unused pages */
    (uintptr_t)pool_small, (uintptr_t)pool_small + 32, (uintptr_t)pool_huge + 5000,
    (uintptr_t)pool_freed, 0, 1, 8, 4096,
  };
  enum { NW = sizeof w / sizeof w[0] };
  uintptr_t wcopy[NW];
  memcpy(wcopy, w, sizeof w);
  __asm__ volatile("" : : "r"(w) : "memory");      /* the words are on the stack from here */

  uintptr_t prev[4];
  for (int i = 0; i < 4; i++) prev[i] = t_enc(g_live[i]);
  t_forget();
  struct hp_gc_stats s0s = t_stats(rt);
  hp_collect(t, HP_GC_MINOR);
  struct hp_gc_stats s1s = t_stats(rt);
  ck_assert_uint_eq(s1s.bytes_pinned, s0s.bytes_pinned);   /* nothing was pinned */
  if (!t_stress()) {
    ck_assert_uint_eq(s1s.pinned_objects, 0);
    for (int i = 0; i < 4; i++) ck_assert_uint_ne(t_enc(g_live[i]), prev[i]);   /* copied as usual */
  }
  check_live(rt);
  /* The survivors were copied into the other survivor space: point the survivor words at
   * the free parts of the new layout. */
  from = (uintptr_t)g_live[0] - t->young_lo >= S1 ? S1 : S0;
  to = from == S0 ? S1 : S0;
  for (int i = 0; i < 4; i++) ck_assert_uint_lt((uintptr_t)g_live[i] - t->young_lo - from, 256 * T_KiB);
  w[SURV + 0] = t->young_lo + from + 200 * T_KiB;
  w[SURV + 1] = t->young_lo + from + 256 * T_KiB - 8;
  w[SURV + 2] = t->young_lo + to;
  w[SURV + 3] = t->young_lo + to + 8;
  w[SURV + 4] = t->young_lo + to + 100 * T_KiB;
  memcpy(wcopy, w, sizeof w);
  __asm__ volatile("" : : "r"(w) : "memory");
  t_forget();
  hp_collect(t, HP_GC_MAJOR);
  struct hp_gc_stats s2s = t_stats(rt);
  ck_assert_uint_eq(s2s.objects_freed, s1s.objects_freed);   /* nothing to free, nothing revived */
  ck_assert_uint_eq(s2s.bytes_pinned, s1s.bytes_pinned);
  check_live(rt);
  hp_collect(t, HP_GC_MINOR);
  check_live(rt);
  ck_assert_int_eq(memcmp(w, wcopy, sizeof w), 0);
  for (size_t i = 0; i < 64; i++) ck_assert_uint_eq((unsigned char)pool_small[i], 0x5A);
  /* The freed old blocks are handed out again, intact. */
  for (int i = 0; i < 4; i++) {
    big *g = new_big(t, 300 + (uint64_t)i);
    ck_assert(big_ok(g, 300 + (uint64_t)i));
  }
  __asm__ volatile("" : : "r"(w) : "memory");
  hp_pool_free(pool_small);
  hp_pool_free(pool_huge);
  ck_assert_int_eq(hp_root_range_remove(rt, &live), 0);
  ck_assert_int_eq(hp_root_range_remove(rt, &tmp), 0);
  memset(g_live, 0, sizeof g_live);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  How long a word keeps garbage
 * ------------------------------------------------------------------------------------
 * gc/minor.c: a word keeps a young object pinned for the collection that saw it; if the word
 * is gone at the next collection, the object is unpinned (and, unreachable, dropped). A word
 * seen by a major collection promotes the object in place (pinned old): it is then freed by
 * the first major collection after the word is gone. */

enum { NG = 5 };
static uintptr_t g_enc[NG];

T_NOINLINE static void garbage_nodes(hp_thread *t, uint64_t base) {
  for (int i = 0; i < NG; i++) g_enc[i] = t_enc(new_node(t, base + (uint64_t)i));
}

START_TEST(test_garbage_bound_young) {
  hp_runtime *rt = make(NULL, true);
  hp_thread *t = hp_main_thread(rt);
  garbage_nodes(t, 50);
  uintptr_t w[NG];                                  /* interior words: +16 into each node */
  for (int i = 0; i < NG; i++) w[i] = (uintptr_t)t_dec(g_enc[i]) + 16;
  __asm__ volatile("" : : "r"(w) : "memory");
  t_forget();
  struct hp_gc_stats s0 = t_stats(rt);
  hp_collect(t, HP_GC_MINOR);
  struct hp_gc_stats s1 = t_stats(rt);
  ck_assert_uint_ge(s1.pinned_objects, NG);
  ck_assert_uint_ge(s1.bytes_pinned - s0.bytes_pinned, NG * NODE_BYTES);
  if (!t_stress()) {
    ck_assert_uint_eq(s1.pinned_objects, NG);
    ck_assert_uint_eq(s1.pinned_held, NG * NODE_BYTES);
    ck_assert_uint_eq(s1.bytes_pinned - s0.bytes_pinned, NG * NODE_BYTES);
  }
  for (int i = 0; i < NG; i++) ck_assert(enc_node_ok(g_enc[i], 50 + (uint64_t)i));
  /* The words go: the next minor collection lets the nodes go. */
  memset(w, 0, sizeof w);
  __asm__ volatile("" : : "r"(w) : "memory");
  t_forget();
  hp_collect(t, HP_GC_MINOR);
  struct hp_gc_stats s2 = t_stats(rt);
  ck_assert_uint_eq(s2.pinned_objects, 0);
  ck_assert_uint_eq(s2.pinned_held, 0);
  ck_assert_uint_eq(s2.pinned_pages, 0);
  ck_assert_uint_eq(s2.bytes_pinned, s1.bytes_pinned);
  ck_assert_uint_eq(s2.young_live, 0);              /* dropped, not copied */
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  hp_runtime_destroy(rt);
}
END_TEST

START_TEST(test_garbage_bound_old) {
  hp_runtime *rt = make(NULL, true);
  hp_thread *t = hp_main_thread(rt);
  garbage_nodes(t, 60);
  uintptr_t w[NG];
  for (int i = 0; i < NG; i++) w[i] = (uintptr_t)t_dec(g_enc[i]) + (i % 2 ? 0 : 31);   /* start, last byte */
  __asm__ volatile("" : : "r"(w) : "memory");
  t_forget();
  uint64_t freed0 = t_stats(rt).objects_freed;
  hp_collect(t, HP_GC_MAJOR);                       /* pinned old now */
  ck_assert_uint_ge(t_stats(rt).pinned_objects, NG);
  ck_assert_uint_eq(t_stats(rt).objects_freed, freed0);
  /* The words go. Minor collections keep pinned old objects (only a major one frees old
   * objects); the next major collection frees exactly the five. */
  memset(w, 0, sizeof w);
  __asm__ volatile("" : : "r"(w) : "memory");
  t_forget();
  hp_collect(t, HP_GC_MINOR);
  ck_assert_uint_ge(t_stats(rt).pinned_objects, NG);
  for (int i = 0; i < NG; i++) ck_assert(enc_node_ok(g_enc[i], 60 + (uint64_t)i));
  if (!t_stress()) ck_assert_uint_eq(hp_verify_heap(rt), NG);
  t_forget();
  hp_collect(t, HP_GC_MAJOR);
  struct hp_gc_stats s = t_stats(rt);
  if (!t_stress()) ck_assert_uint_eq(s.objects_freed - freed0, NG);
  ck_assert_uint_ge(s.objects_freed - freed0, NG);
  ck_assert_uint_eq(s.pinned_objects, 0);
  ck_assert_uint_eq(s.pinned_held, 0);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  A pinned object in the nursery
 * ------------------------------------------------------------------------------------ */

/* A 512-byte blob named by a local stays where it is through minor and major collections
 * while eden is handed out again and again around it, and no new object ever overlaps it. */
START_TEST(test_pinned_never_overlapped) {
  hp_config c = t_config();
  c.eden_size = 256 * T_KiB;
  c.tenure_age = 3;
  c.adaptive_tenure = false;
  hp_runtime *rt = make(&c, true);
  hp_thread *t = hp_main_thread(rt);
  (void)churn(t, 100 * T_KiB, 0);                /* somewhere inside eden */
  uint64_t *p = new_blob(t, 512, 0xABCD);
  struct hp_gc_stats s0 = t_stats(rt);
  for (int round = 0; round < 24; round++) {
    hp_collect(t, round % 8 == 7 ? HP_GC_MAJOR : HP_GC_MINOR);
    ck_assert_uint_ge(t_stats(rt).pinned_objects, 1);
    churn(t, 600 * T_KiB, t_enc(p));                 /* eden twice over, around p */
    ck_assert(blob_ok(p, 512, 0xABCD));
    ck_assert_ptr_eq(hp_type_of(rt, p), &blob_type);
  }
  struct hp_gc_stats s1 = t_stats(rt);
  ck_assert_uint_ge(s1.minor_count - s0.minor_count, 21);   /* the churn collected as well */
  ck_assert_uint_ge(s1.pinned_pages, 1);
  ck_assert_uint_ge(s1.pinned_held, t_obj_bytes(512));
  T_KEEP(p);
  hp_runtime_destroy(rt);
}
END_TEST

/* Allocates a node `id` into x->a; returns its address, encoded. */
T_NOINLINE static uintptr_t attach_child(hp_thread *t, node *x, uint64_t id) {
  node *ch = new_node(t, id);
  hp_write(t, x, &x->a, ch);
  return t_enc(ch);
}

/* x->a is node `id`; not at `moved_from` (encoded) if that is not 0; old if `old`. */
T_NOINLINE static bool child_check(hp_thread *t, const node *x, uint64_t id, uintptr_t moved_from, bool old) {
  if (!node_ok(x->a, id)) return false;
  if (moved_from && x->a == t_dec(moved_from)) return false;
  return !old || !t_is_young(t, x->a);
}

/* Referenced by a local and by a shadow-stack frame at once: pinned, and the frame's slot
 * keeps pointing at it (the collector does not "move" it under the frame). Its young child,
 * reachable only through it, is evacuated and its field updated. */
START_TEST(test_both_roots) {
  hp_config c = t_config();
  c.tenure_age = 15;
  c.adaptive_tenure = false;
  hp_runtime *rt = make(&c, true);
  hp_thread *t = hp_main_thread(rt);
  node *x = NULL;
  HP_ROOTS(t, fr, HP_SLOT(x));
  x = new_node(t, 77);
  uintptr_t ch_at = attach_child(t, x, 78);
  node *copy = x;                                   /* a conservative word besides the frame */
  for (int i = 0; i < 6; i++) {
    t_forget();                                     /* no stale copy of x->a is left */
    hp_collect(t, i == 4 ? HP_GC_MAJOR : HP_GC_MINOR);
    ck_assert_ptr_eq(x, copy);
    ck_assert(node_ok(x, 77));
    ck_assert(child_check(t, x, 78, i == 0 && !t_stress() ? ch_at : 0, i >= 4));
  }
  ck_assert_uint_ge(t_stats(rt).pinned_objects, 1);
  ck_assert(t_is_young(t, x));                      /* promoted in place */
  T_KEEP(copy);
  HP_UNROOT(t, fr);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  hp_pin / hp_unpin (both with and without conservative scanning)
 * ------------------------------------------------------------------------------------ */

static void *g_pinned;

/* hp.h: hp_pin returns -1/EINVAL only "if obj is not a managed object". A fresh object in
 * eden is one -- the common case: allocate a buffer, pin it, hand it to read(). */
START_TEST(test_pin_fresh_object) {
  for (int cons = 0; cons < 2; cons++) {
    hp_runtime *rt = make(NULL, cons);
    hp_thread *t = hp_main_thread(rt);
    void *b = new_blob(t, 256, 1);
    ck_assert(t_is_young(t, b));
    errno = 0;
    int r = hp_pin(t, b);
    ck_assert_msg(r == 0, "%s: hp_pin of a fresh eden object: %d, errno %d", cons ? "conservative" : "precise",
                  r, errno);
    hp_collect(t, HP_GC_MINOR);
    ck_assert(blob_ok(b, 256, 1));
    ck_assert_int_eq(hp_unpin(t, b), 0);
    hp_runtime_destroy(rt);
  }
}
END_TEST

/* The pin tests below pin young objects that have survived one minor collection (they are in
 * the survivor space), so that they do not depend on test_pin_fresh_object. */

START_TEST(test_pin_keeps_address) {
  for (int cons = 0; cons < 2; cons++) {
    hp_config c = t_config();
    c.eden_size = 1 * T_MiB;
    hp_runtime *rt = make(&c, cons);
    hp_thread *t = hp_main_thread(rt);
    ck_assert_int_eq(hp_root_add(rt, &g_pinned), 0);
    g_pinned = new_node(t, 5);
    (void)attach_child(t, g_pinned, 6);
    hp_collect(t, HP_GC_MINOR);
    ck_assert(t_is_young(t, g_pinned));
    uintptr_t at = t_enc(g_pinned);
    ck_assert_int_eq(hp_pin(t, g_pinned), 0);
    for (int i = 0; i < 20; i++) {
      churn(t, 2 * T_MiB, 0);
      hp_collect(t, i % 6 == 5 ? HP_GC_MAJOR : HP_GC_MINOR);
      ck_assert_uint_eq(t_enc(g_pinned), at);       /* the root was not moved either */
      ck_assert(node_ok(g_pinned, 5));
      ck_assert(node_ok(((node *)g_pinned)->a, 6));
    }
    ck_assert(t_is_young(t, g_pinned));             /* in place, in the young range */
    ck_assert_int_eq(hp_unpin(t, g_pinned), 0);
    /* Pinned through a major collection: promoted in place, it never moves again. */
    for (int i = 0; i < 4; i++) {
      churn(t, 2 * T_MiB, 0);
      hp_collect(t, HP_GC_MINOR);
      ck_assert_uint_eq(t_enc(g_pinned), at);
      ck_assert(node_ok(g_pinned, 5));
    }
    g_pinned = NULL;
    ck_assert_int_eq(hp_root_remove(rt, &g_pinned), 0);
    hp_runtime_destroy(rt);
  }
}
END_TEST

/* hp.h: "A young object is promoted in place at the next collection; its address never
 * changes." So after one collection under hp_pin, hp_unpin does not let it move. */
START_TEST(test_pin_promoted_at_next_collection) {
  for (int cons = 0; cons < 2; cons++) {
    hp_config c = t_config();
    c.tenure_age = 6;
    c.adaptive_tenure = false;
    hp_runtime *rt = make(&c, cons);
    hp_thread *t = hp_main_thread(rt);
    ck_assert_int_eq(hp_root_add(rt, &g_pinned), 0);
    g_pinned = new_node(t, 15);
    hp_collect(t, HP_GC_MINOR);
    ck_assert(t_is_young(t, g_pinned));
    uintptr_t at = t_enc(g_pinned);
    ck_assert_int_eq(hp_pin(t, g_pinned), 0);
    if (cons) t_forget();
    hp_collect(t, HP_GC_MINOR);                     /* the next collection: promoted in place */
    ck_assert_uint_eq(t_enc(g_pinned), at);
    ck_assert_int_eq(hp_unpin(t, g_pinned), 0);
    if (cons) t_forget();
    hp_collect(t, HP_GC_MINOR);
    ck_assert_msg(t_enc(g_pinned) == at, "%s: a pinned object moved after hp_unpin (%p -> %p): it was not "
                  "promoted in place at the collection after hp_pin", cons ? "conservative" : "precise",
                  t_dec(at), g_pinned);
    ck_assert(node_ok(g_pinned, 15));
    g_pinned = NULL;
    ck_assert_int_eq(hp_root_remove(rt, &g_pinned), 0);
    hp_runtime_destroy(rt);
  }
}
END_TEST

/* Pinned (twice) and referenced by nothing else: kept alive in place; unpinned, freed. */
T_NOINLINE static uintptr_t pinned_only(hp_thread *t) {
  g_pinned = new_blob(t, 1000, 31337);
  hp_collect(t, HP_GC_MINOR);                       /* young, in the survivor space */
  void *b = g_pinned;
  g_pinned = NULL;
  ck_assert_int_eq(hp_pin(t, b), 0);
  ck_assert_int_eq(hp_pin(t, b), 0);                /* pins nest */
  return t_enc(b);
}

START_TEST(test_pin_only_reference_nested) {
  for (int cons = 0; cons < 2; cons++) {
    hp_config c = t_config();
    c.eden_size = 1 * T_MiB;
    hp_runtime *rt = make(&c, cons);
    hp_thread *t = hp_main_thread(rt);
    ck_assert_int_eq(hp_root_add(rt, &g_pinned), 0);
    uintptr_t e = pinned_only(t);
    for (int i = 0; i < 10; i++) {
      t_forget();
      hp_collect(t, i % 4 == 3 ? HP_GC_MAJOR : HP_GC_MINOR);
      churn(t, 2 * T_MiB, e);
      ck_assert(enc_blob_ok(e, 1000, 31337));
    }
    t_forget();
    hp_collect(t, HP_GC_MAJOR);
    ck_assert_uint_eq(hp_verify_heap(rt), 1);        /* the pinned blob, alone */
    ck_assert_uint_eq(t_stats(rt).pinned_objects, 1);
    ck_assert_uint_eq(t_stats(rt).pinned_held, t_obj_bytes(1000));
    /* One hp_unpin of two: still pinned. */
    ck_assert_int_eq(enc_unpin(t, e), 0);
    t_forget();
    hp_collect(t, HP_GC_MAJOR);
    ck_assert_uint_eq(hp_verify_heap(rt), 1);
    ck_assert(enc_blob_ok(e, 1000, 31337));
    /* The second: freed by the next major collection. */
    uint64_t freed = t_stats(rt).objects_freed;
    ck_assert_int_eq(enc_unpin(t, e), 0);
    t_forget();
    hp_collect(t, HP_GC_MAJOR);
    ck_assert_msg(t_stats(rt).objects_freed - freed == 1, "%s: freed %llu", cons ? "conservative" : "precise",
                  (unsigned long long)(t_stats(rt).objects_freed - freed));
    ck_assert_uint_eq(t_stats(rt).pinned_objects, 0);
    ck_assert_uint_eq(hp_verify_heap(rt), 0);
    errno = 0;
    ck_assert_int_eq(enc_unpin(t, e), -1);           /* no pin left */
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(hp_root_remove(rt, &g_pinned), 0);
    hp_runtime_destroy(rt);
  }
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  An old object at the young span's end
 * ------------------------------------------------------------------------------------
 * The young range is [young_lo, young_hi + 8) (gc/gc.h, [young-range]), so the header of an
 * old object in the first page after the young span sits at young_hi, inside that range
 * although the object is old. Where the pools put spans depends on what came before, so the
 * layout is forced: one-page RAW spans are carved until the pages [young_hi, young_hi + k)
 * that a page of the big objects' class needs are all ours (every free hole below is then
 * ours too), those k are given back, and the runtime's old heap, asking for k pages, gets
 * exactly them. A runtime whose young_hi was taken by something else is kept (its spans stay
 * taken) and another is made.
 */
typedef struct t_at_end { hp_runtime *rt, *spare[8]; size_t nspare; big *obj; } t_at_end;

static bool force_old_at_young_end(t_at_end *r, bool conservative) {
  size_t k = hpP_class_pages[hpP_class_of(t_obj_bytes(BIG_SIZE))];
  enum { MAX_SPANS = 1 << 16 };
  static hpP_span *carved[MAX_SPANS];
  size_t n = 0;
  hp_runtime *rt = make(NULL, conservative);
  hpC_generations *h = &rt->gens;
  uintptr_t want = h->young_hi;
  bool ours = false;
  while (n < MAX_SPANS) {
    bool all_taken = true;
    for (size_t i = 0; i < k; i++)
      if (hpP_span_of((void *)(want + i * HPP_PAGE)) == NULL) all_taken = false;
    if (all_taken) break;
    carved[n] = hpP_span_alloc(1, 1, HPP_SPAN_RAW, NULL);
    ck_assert_ptr_nonnull(carved[n]);
    n++;
  }
  ours = true;
  for (size_t i = 0; i < k; i++) {
    hpP_span *pg = hpP_span_of((void *)(want + i * HPP_PAGE));
    bool mine = false;
    for (size_t j = 0; j < n && !mine; j++) mine = carved[j] == pg;
    ours = ours && mine;
  }
  if (ours) {
    for (size_t j = 0; j < n; j++) {
      uintptr_t a = (uintptr_t)hpP_span_start(carved[j]);
      if (a >= want && a < want + k * HPP_PAGE) { hpP_raw_free(carved[j]); carved[j] = NULL; }
    }
    /* The first big object of a fresh old heap takes a fresh page: ours. */
    static void *keep;
    if (keep == NULL) ck_assert_int_eq(hp_root_add(rt, &keep), 0);
    keep = new_big(hp_main_thread(rt), 77);
    ck_assert(!t_is_young(hp_main_thread(rt), keep));
    r->obj = keep;
    keep = NULL;
    hp_root_remove(rt, &keep);
  }
  for (size_t j = 0; j < n; j++) if (carved[j]) hpP_raw_free(carved[j]);
  if (ours && (uintptr_t)hpC_header(r->obj) == want) { r->rt = rt; return true; }
  r->spare[r->nspare++] = rt;
  return false;
}

/* Makes r->rt with r->obj, a big old object whose header is at young_hi (or fails). */
static void old_at_young_end(t_at_end *r, bool conservative) {
  memset(r, 0, sizeof *r);
  while (r->nspare < 8)
    if (force_old_at_young_end(r, conservative)) return;
  ck_abort_msg("could not place an old object at the young span's end in 8 runtimes");
}

static void old_at_young_end_free(t_at_end *r) {
  hp_runtime_destroy(r->rt);
  for (size_t i = 0; i < r->nspare; i++) hp_runtime_destroy(r->spare[i]);
}

/* hp_pin accepts it, keeps it alive and in place; the lookups find it by its header and its
 * body. (hp_pin refused it: it looked the header up as a young address.) */
START_TEST(test_pin_old_at_young_end) {
  t_at_end r;
  old_at_young_end(&r, false);
  hp_thread *t = hp_main_thread(r.rt);
  hpC_generations *h = &r.rt->gens;
  uint64_t *hdr = hpC_header(r.obj);
  ck_assert_ptr_eq(hpC_object_of(h, (uintptr_t)hdr), hdr);
  ck_assert_ptr_eq(hpC_object_of(h, (uintptr_t)r.obj), hdr);
  ck_assert_ptr_eq(hpC_object_of(h, (uintptr_t)r.obj + 100), hdr);
  ck_assert_int_eq(hp_pin(t, r.obj), 0);
  for (int i = 0; i < 2; i++) {
    hp_collect(t, HP_GC_MINOR);
    hp_collect(t, HP_GC_MAJOR);
  }
  ck_assert(big_ok(r.obj, 77));                     /* kept by the pin alone */
  ck_assert(!(*hdr & HPC_PINNED));                  /* old: not taken into the pinned list */
  ck_assert_uint_eq(t_stats(r.rt).pinned_objects, 0);
  ck_assert_uint_eq(hp_verify_heap(r.rt), 1);
  ck_assert_int_eq(hp_unpin(t, r.obj), 0);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(r.rt), 0);
  old_at_young_end_free(&r);
}
END_TEST

/* A stack word equal to its header address (the only word that names it) keeps it alive
 * through major collections. */
T_NOINLINE static void hold_header_word(hp_runtime *rt, uintptr_t eh) {
  volatile uintptr_t word = (uintptr_t)t_dec(eh);
  hp_collect(hp_main_thread(rt), HP_GC_MAJOR);
  hp_collect(hp_main_thread(rt), HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt), 1);
  ck_assert(big_ok((void *)(word + 8), 77));
}

START_TEST(test_conservative_old_at_young_end) {
  t_at_end r;
  old_at_young_end(&r, true);
  uintptr_t eh = t_enc(hpC_header(r.obj));
  r.obj = NULL;
  t_forget();
  hold_header_word(r.rt, eh);
  old_at_young_end_free(&r);
}
END_TEST

START_TEST(test_pin_errors) {
  hp_runtime *rt = make(NULL, false);
  hp_thread *t = hp_main_thread(rt);
  static node *x;
  static void *old_slot;
  ck_assert_int_eq(hp_root_add(rt, &old_slot), 0);
  old_slot = new_big(t, 1);
  ck_assert_int_eq(hp_root_add(rt, (void **)&x), 0);
  x = new_node(t, 1);
  hp_collect(t, HP_GC_MINOR);                       /* young, in the survivor space */
  ck_assert(t_is_young(t, x));
  int local = 0;
  void *pool = hp_pool_alloc(64), *heap = malloc(64);
  ck_assert(pool && heap);
  struct { const char *what; void *p; int err; } bad[] = {
    { "NULL", NULL, EINVAL },
    { "an interior pointer", (char *)x + 8, EINVAL },
    { "a pointer to the header", (char *)x - 8, EINVAL },
    { "the end of the object", (char *)x + sizeof(node), EINVAL },
    { "an old object's interior", (char *)old_slot + 16, EINVAL },
    { "a stack address", &local, EINVAL },
    { "a pools block", pool, EINVAL },
    { "a malloc block", heap, EINVAL },
    { "eden past the allocation mark", (void *)(t->tlab_end + 64), EINVAL },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    errno = 0;
    ck_assert_msg(hp_pin(t, bad[i].p) == -1, "hp_pin(%s) accepted", bad[i].what);
    ck_assert_msg(errno == bad[i].err, "hp_pin(%s): errno %d", bad[i].what, errno);
  }
  /* hp_unpin of what is not pinned. */
  errno = 0;
  ck_assert_int_eq(hp_unpin(t, x), -1);
  ck_assert_int_eq(errno, ENOENT);
  errno = 0;
  ck_assert_int_eq(hp_unpin(t, NULL), -1);
  ck_assert_int_eq(errno, ENOENT);
  /* Old objects can be pinned too (they never move; the pin keeps them alive). One whose
   * header sits at young_hi was refused: test_pin_old_at_young_end forces that layout. */
  ck_assert_int_eq(hp_pin(t, old_slot), 0);
  ck_assert_int_eq(hp_pin(t, x), 0);
  ck_assert_int_eq(hp_unpin(t, x), 0);
  errno = 0;
  ck_assert_int_eq(hp_unpin(t, x), -1);
  ck_assert_int_eq(errno, ENOENT);
  void *old = old_slot;
  old_slot = NULL;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert(big_ok(old, 1));                        /* kept by the pin alone */
  ck_assert_uint_eq(hp_verify_heap(rt), 2);         /* and x, rooted */
  ck_assert_int_eq(hp_unpin(t, old), 0);
  x = NULL;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  ck_assert_int_eq(hp_root_remove(rt, (void **)&x), 0);
  hp_pool_free(pool);
  free(heap);
  hp_runtime_destroy(rt);
}
END_TEST

/* Young memory that looks like an object but is none: a header-like word inside a blob's
 * body, and a young object that died at the last minor collection (its header still there,
 * but for debug_level >= 2 which poisons dead young memory). hp_pin must refuse both: pinning
 * either would make the collector trace whatever words follow as an object's slots. */
T_NOINLINE static uintptr_t dead_young_node(hp_thread *t) { return t_enc(new_node(t, 4)); }

START_TEST(test_pin_rejects_lookalikes) {
  hp_runtime *rt = make(NULL, false);
  hp_thread *t = hp_main_thread(rt);
  static void *keep;
  ck_assert_int_eq(hp_root_add(rt, &keep), 0);
  uint64_t *b = hp_new(t, &blob_type, 64);
  ck_assert_ptr_nonnull(b);
  keep = b;
  b[1] = ((uint64_t)(t_obj_bytes(sizeof(node)) / 8) << 24) | ((uint64_t)node_type.id << 8);   /* a node's header */
  hp_collect(t, HP_GC_MINOR);                       /* b is in the survivor space now */
  b = keep;
  ck_assert_uint_eq(b[1] >> 24, t_obj_bytes(sizeof(node)) / 8);
  errno = 0;
  int r = hp_pin(t, &b[2]);
  ck_assert_msg(r == -1 && errno == EINVAL, "hp_pin(a word inside a blob that follows a header-like word): %d, "
                "errno %d", r, errno);
  uintptr_t dead = dead_young_node(t);
  hp_collect(t, HP_GC_MINOR);                       /* nothing refers to it: gone */
  errno = 0;
  r = hp_pin(t, t_dec(dead));
  ck_assert_msg(r == -1 && errno == EINVAL, "hp_pin(a young object that died at the last collection): %d, "
                "errno %d", r, errno);
  keep = NULL;
  ck_assert_int_eq(hp_root_remove(rt, &keep), 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* A pinned byte array filled by read() from a pipe, in pieces, with collections and
 * allocation between the pieces: the data arrives where the array is, and stays. */
START_TEST(test_pin_read_from_pipe) {
  enum { LEN = 4096, PIECE = 512 };
  for (int cons = 0; cons < 2; cons++) {
    for (int rooted = 0; rooted < 2; rooted++) {
      hp_config c = t_config();
      c.eden_size = 1 * T_MiB;
      hp_runtime *rt = make(&c, cons);
      hp_thread *t = hp_main_thread(rt);
      ck_assert_int_eq(hp_root_add(rt, &g_pinned), 0);
      g_pinned = hp_new(t, &blob_type, LEN);
      ck_assert_ptr_nonnull(g_pinned);
      hp_collect(t, HP_GC_MINOR);                   /* into the survivor space */
      ck_assert(t_is_young(t, g_pinned));
      uintptr_t at = t_enc(g_pinned);
      ck_assert_int_eq(hp_pin(t, g_pinned), 0);
      if (!rooted) g_pinned = NULL;                 /* the pin is all that keeps it */
      unsigned char *buf = t_dec(at);
      int fd[2];
      ck_assert_int_eq(pipe(fd), 0);
      unsigned char src[PIECE];
      for (size_t off = 0; off < LEN; off += PIECE) {
        hp_collect(t, off % (4 * PIECE) == 3 * PIECE ? HP_GC_MAJOR : HP_GC_MINOR);
        churn(t, 1536 * T_KiB, at);
        for (size_t i = 0; i < PIECE; i++) src[i] = (unsigned char)t_mix(off + i);
        ck_assert_int_eq(write(fd[1], src, PIECE), PIECE);
        ck_assert_int_eq(read(fd[0], buf + off, PIECE), PIECE);
        if (rooted) ck_assert_ptr_eq(g_pinned, buf);
      }
      hp_collect(t, HP_GC_MINOR);
      hp_collect(t, HP_GC_MAJOR);
      for (size_t i = 0; i < LEN; i++) ck_assert_msg(buf[i] == (unsigned char)t_mix(i), "byte %zu", i);
      ck_assert_ptr_eq(hp_type_of(rt, buf), &blob_type);
      ck_assert_uint_eq(hp_size(buf), LEN);
      close(fd[0]);
      close(fd[1]);
      ck_assert_int_eq(hp_unpin(t, buf), 0);
      g_pinned = NULL;
      ck_assert_int_eq(hp_root_remove(rt, &g_pinned), 0);
      hp_runtime_destroy(rt);
    }
  }
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Statistics
 * ------------------------------------------------------------------------------------ */

static void *g_three[3];

/* Without conservative scanning: no stack bytes, no time; what hp_pin pins, counted exactly. */
START_TEST(test_stats_precise) {
  hp_config c = t_config();
  c.tenure_age = 3;
  c.adaptive_tenure = false;
  hp_runtime *rt = make(&c, false);
  hp_thread *t = hp_main_thread(rt);
  hp_root_range r = { g_three, 3 };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  static const size_t sizes[3] = { 100, 1000, 6000 };
  for (int i = 0; i < 3; i++) g_three[i] = new_blob(t, sizes[i], (uint64_t)i << 30);
  for (int i = 0; i < 3; i++) ck_assert(t_is_young(t, g_three[i]));
  hp_collect(t, HP_GC_MINOR);
  hp_collect(t, HP_GC_MAJOR);                       /* now old (not pinned: nothing was) */
  for (int i = 0; i < 3; i++) g_three[i] = new_blob(t, sizes[i], (uint64_t)i << 30);
  hp_collect(t, HP_GC_MINOR);                       /* young, age 1, in the survivor space */
  struct hp_gc_stats s0 = t_stats(rt);
  ck_assert_uint_eq(s0.stack_bytes_scanned, 0);
  ck_assert_uint_eq(s0.stack_scan_ns, 0);
  ck_assert_uint_eq(s0.bytes_pinned, 0);
  ck_assert_uint_eq(s0.pinned_objects, 0);
  size_t held = 0;
  for (int i = 0; i < 3; i++) { ck_assert_int_eq(hp_pin(t, g_three[i]), 0); held += t_obj_bytes(sizes[i]); }
  /* The pages they cover (64 KiB each), counted once. */
  uintptr_t pages[6];
  size_t npages = 0;
  for (int i = 0; i < 3; i++) {
    uintptr_t a = (uintptr_t)g_three[i] - 8, e = a + t_obj_bytes(sizes[i]) - 1;
    for (uintptr_t pg = a >> 16; pg <= e >> 16; pg++) {
      bool seen = false;
      for (size_t k = 0; k < npages; k++) seen |= pages[k] == pg;
      if (!seen) pages[npages++] = pg;
    }
  }
  hp_collect(t, HP_GC_MINOR);                       /* pinned young, age 2 */
  struct hp_gc_stats s1 = t_stats(rt);
  ck_assert_uint_eq(s1.pinned_objects, 3);
  ck_assert_uint_eq(s1.pinned_held, held);
  ck_assert_uint_eq(s1.pinned_pages, npages);
  ck_assert_uint_eq(s1.bytes_pinned, held);
  hp_collect(t, HP_GC_MINOR);                       /* at the tenure age at the latest: old */
  hp_collect(t, HP_GC_MINOR);
  struct hp_gc_stats s2 = t_stats(rt);
  ck_assert_uint_ge(s2.bytes_pinned, held);
  ck_assert_uint_le(s2.bytes_pinned, 2 * held);     /* held or 2 * held: see test_pin_promoted_at_next_collection */
  ck_assert_uint_eq(s2.pinned_objects, 3);
  ck_assert_uint_eq(s2.pinned_held, held);
  hp_collect(t, HP_GC_MINOR);                       /* promoted in place: not pinned anew */
  ck_assert_uint_eq(t_stats(rt).bytes_pinned, s2.bytes_pinned);
  for (int i = 0; i < 3; i++) ck_assert(blob_ok(g_three[i], sizes[i], (uint64_t)i << 30));
  /* Unpinned but alive: promoted in place, they stay (the first three, old garbage, go);
   * dead: gone at the next major collection. */
  for (int i = 0; i < 3; i++) ck_assert_int_eq(hp_unpin(t, g_three[i]), 0);
  uint64_t freed = t_stats(rt).objects_freed;
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(t_stats(rt).objects_freed - freed, 3);
  ck_assert_uint_eq(t_stats(rt).pinned_objects, 3);
  for (int i = 0; i < 3; i++) ck_assert(blob_ok(g_three[i], sizes[i], (uint64_t)i << 30));
  freed = t_stats(rt).objects_freed;
  memset(g_three, 0, sizeof g_three);
  hp_collect(t, HP_GC_MAJOR);
  struct hp_gc_stats s3 = t_stats(rt);
  ck_assert_uint_eq(s3.objects_freed - freed, 3);
  ck_assert_uint_eq(s3.pinned_objects, 0);
  ck_assert_uint_eq(s3.pinned_held, 0);
  ck_assert_uint_eq(s3.pinned_pages, 0);
  ck_assert_uint_eq(s3.stack_bytes_scanned, 0);
  ck_assert_uint_eq(s3.stack_scan_ns, 0);
  ck_assert_uint_eq(hp_verify_heap(rt), 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* With it: each collection scans at least the stack between the collection and main(), and
 * that many bytes more from deeper down; what a local names is pinned and counted. */
T_NOINLINE static uint64_t scanned_at_depth(hp_thread *t, hp_runtime *rt, int depth, uintptr_t *frame) {
  volatile char pad[256];
  pad[0] = (char)depth;
  if (depth > 0) {
    uint64_t r = scanned_at_depth(t, rt, depth - 1, frame);
    __asm__ volatile("" : : "r"(pad) : "memory");
    return r;
  }
  *frame = (uintptr_t)__builtin_frame_address(0);
  uint64_t b0 = t_stats(rt).stack_bytes_scanned;
  hp_collect(t, HP_GC_MINOR);
  __asm__ volatile("" : : "r"(pad) : "memory");
  return t_stats(rt).stack_bytes_scanned - b0;
}

START_TEST(test_stats_conservative) {
  hp_runtime *rt = make(NULL, true);
  hp_thread *t = hp_main_thread(rt);
  struct hp_gc_stats s0 = t_stats(rt);
  ck_assert_uint_eq(s0.stack_bytes_scanned, 0);
  ck_assert_uint_eq(s0.stack_scan_ns, 0);
  node *x = new_node(t, 3);
  hp_collect(t, HP_GC_MINOR);
  struct hp_gc_stats s1 = t_stats(rt);
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  ck_assert_uint_gt(main_frame, here);
  ck_assert_uint_ge(s1.stack_bytes_scanned - s0.stack_bytes_scanned, main_frame - here);
  ck_assert_uint_gt(s1.stack_scan_ns, 0);
  ck_assert_uint_ge(s1.pinned_objects, 1);
  ck_assert_uint_ge(s1.pinned_held, NODE_BYTES);
  ck_assert_uint_ge(s1.pinned_pages, 1);
  ck_assert_uint_ge(s1.bytes_pinned, NODE_BYTES);
  ck_assert(node_ok(x, 3));
  T_KEEP(x);
  /* 100 frames of 256 bytes more. */
  uintptr_t frame = 0;
  uint64_t deep = scanned_at_depth(t, rt, 100, &frame);
  ck_assert_uint_ge(deep, main_frame - frame);
  ck_assert_uint_ge(main_frame - frame, 100 * 256);
  uint64_t shallow = scanned_at_depth(t, rt, 0, &frame);
  ck_assert_uint_ge(deep, shallow + 100 * 256);
  /* Scanning goes on collection after collection: totals only grow. */
  struct hp_gc_stats s2 = t_stats(rt);
  hp_collect(t, HP_GC_MAJOR);
  struct hp_gc_stats s3 = t_stats(rt);
  ck_assert_uint_gt(s3.stack_bytes_scanned, s2.stack_bytes_scanned);
  ck_assert_uint_ge(s3.stack_scan_ns, s2.stack_scan_ns);
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Two runtimes on one thread
 * ------------------------------------------------------------------------------------
 * The thread's stack holds pointers into both heaps; a collection of one runtime must not
 * touch the other's objects (the old generations of all runtimes share the pools' GC arena,
 * whose MARK bitmap is the mark bit). */

/* The mark bit of an old object: its block's bit in the pools' MARK bitmap. */
static bool mark_bit(const void *obj) {
  const uint64_t *hd = hpC_header(obj);
  hpP_span *pg = hpP_span_of(hd);
  ck_assert_ptr_nonnull(pg);
  uint32_t i = hpP_block_index(pg, hd);
  return (hpP_span_bits(pg, HPP_BITS_MARK)[i / 64] >> (i % 64)) & 1;
}

START_TEST(test_two_runtimes_one_stack) {
  hp_runtime *rt1 = make(NULL, true), *rt2 = make(NULL, true);
  hp_thread *t1 = hp_main_thread(rt1), *t2 = hp_main_thread(rt2);
  big *g2 = new_big(t2, 2);                          /* old at birth, in rt2 */
  node *n2 = new_node(t2, 22);
  hp_write(t2, g2, &g2->child, n2);
  n2 = NULL;
  hp_collect(t2, HP_GC_MAJOR);                       /* the child: old in rt2 too */
  ck_assert(!t_is_young(t2, g2->child));
  big *g1 = new_big(t1, 1);
  for (int i = 0; i < 3; i++) {
    hp_collect(t1, HP_GC_MAJOR);                     /* g2 is on this stack too */
    ck_assert_msg(!mark_bit(g2), "rt1's major collection set the mark bit of rt2's object %p", (void *)g2);
    ck_assert_msg(!mark_bit(g2->child), "rt1's major collection marked rt2's object %p", (void *)g2->child);
    ck_assert(big_ok(g1, 1));
    ck_assert(big_ok(g2, 2));
    ck_assert(node_ok(g2->child, 22));
    ck_assert_uint_eq(hp_verify_heap(rt2), 2);       /* no mark bit of rt1's left in rt2 */
    uint64_t freed = t_stats(rt2).objects_freed;
    hp_collect(t2, HP_GC_MAJOR);
    ck_assert_msg(t_stats(rt2).objects_freed == freed, "rt2's major collection freed %llu live objects",
                  (unsigned long long)(t_stats(rt2).objects_freed - freed));
    ck_assert(node_ok(g2->child, 22));
    ck_assert_uint_eq(hp_verify_heap(rt2), 2);
    ck_assert_uint_eq(hp_verify_heap(rt1), 1);
  }
  T_KEEP(g1);
  T_KEEP(g2);
  hp_runtime_destroy(rt1);
  hp_runtime_destroy(rt2);
}
END_TEST

/* ------------------------------------------------------------------------------------
 *  Inside (gc/gc.h)
 * ------------------------------------------------------------------------------------ */

static uint64_t hdr(const void *obj) { return *hpC_header(obj); }

static bool in_pinned_list(hp_runtime *rt, const void *obj) {
  for (size_t i = 0; i < rt->gens.pinned.len; i++)
    if (rt->gens.pinned.items[i] == (uintptr_t)hpC_header(obj)) return true;
  return false;
}

T_NOINLINE static bool enc_in_pinned_list(hp_runtime *rt, uintptr_t e) { return in_pinned_list(rt, t_dec(e)); }

/* Whether [a, e) overlaps a free run of space s. */
static bool in_runs(const hpC_space *s, uintptr_t a, uintptr_t e) {
  for (size_t r = 0; r < s->nruns; r++)
    if (a < s->runs[r].hi && e > s->runs[r].lo) return true;
  return false;
}

static void check_outside_runs(hp_runtime *rt, const void *obj) {
  uintptr_t a = (uintptr_t)hpC_header(obj), e = a + hpC_bytes(hdr(obj));
  ck_assert(!in_runs(&rt->gens.eden, a, e));
  ck_assert(!in_runs(&rt->gens.from, a, e));
  ck_assert(!in_runs(&rt->gens.to, a, e));
}

T_NOINLINE static uintptr_t pinned_young_then_old(hp_runtime *rt, hp_thread *t) {
  node *x = new_node(t, 9);
  hp_collect(t, HP_GC_MINOR);
  ck_assert_uint_eq(hdr(x) & (HPC_PINNED | HPC_FORWARDED | HPC_MARKED | HPC_REMEMBERED), HPC_PINNED);
  ck_assert_uint_eq(hpC_age(hdr(x)), 1);
  ck_assert(in_pinned_list(rt, x));
  check_outside_runs(rt, x);
  hp_collect(t, HP_GC_MINOR);
  ck_assert_uint_eq(hpC_age(hdr(x)), 2);
  hp_collect(t, HP_GC_MINOR);                       /* the tenure age: promoted in place */
  ck_assert_uint_eq(hpC_age(hdr(x)), HPC_AGE_PINNED_OLD);
  ck_assert(hdr(x) & HPC_PINNED);
  hp_collect(t, HP_GC_MINOR);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hpC_age(hdr(x)), HPC_AGE_PINNED_OLD);
  ck_assert_uint_eq(hdr(x) & (HPC_PINNED | HPC_MARKED), HPC_PINNED);
  ck_assert(hpC_is_young(&rt->gens, x));
  ck_assert(in_pinned_list(rt, x));
  check_outside_runs(rt, x);
  ck_assert(node_ok(x, 9));
  /* A fresh one meeting a major collection at once is pinned old at once. */
  node *y = new_node(t, 10);
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(hpC_age(hdr(y)), HPC_AGE_PINNED_OLD);
  ck_assert(hdr(y) & HPC_PINNED);
  ck_assert(node_ok(y, 10));
  T_KEEP(x);
  T_KEEP(y);
  return t_enc(x);                                   /* x, y: dead from here */
}

START_TEST(test_inside_pinned_header) {
  T_NEED_WINDOW(2);
  hp_config c = t_config();
  c.tenure_age = 3;
  c.adaptive_tenure = false;
  hp_runtime *rt = make(&c, true);
  hp_thread *t = hp_main_thread(rt);
  uintptr_t x = pinned_young_then_old(rt, t);
  t_forget();
  hp_collect(t, HP_GC_MINOR);
  ck_assert(enc_in_pinned_list(rt, x));             /* old: only a major collection frees it */
  t_forget();
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_uint_eq(rt->gens.pinned.len, 0);
  ck_assert_uint_eq(rt->gens.pinned_bytes, 0);
  /* Its room is eden's again. */
  uintptr_t a = (uintptr_t)hpC_header(t_dec(x));
  ck_assert(in_runs(&rt->gens.eden, a, a + NODE_BYTES));
  hp_runtime_destroy(rt);
}
END_TEST

/* Pinned young, then no longer named: unpinned and dropped at the next minor collection,
 * its room free again. */
T_NOINLINE static uintptr_t pinned_young_once(hp_runtime *rt, hp_thread *t) {
  node *x = new_node(t, 11);
  hp_collect(t, HP_GC_MINOR);
  ck_assert(hdr(x) & HPC_PINNED);
  ck_assert(in_pinned_list(rt, x));
  T_KEEP(x);
  return t_enc(x);
}

START_TEST(test_inside_pinned_young_released) {
  hp_runtime *rt = make(NULL, true);
  hp_thread *t = hp_main_thread(rt);
  uintptr_t x = pinned_young_once(rt, t);
  t_forget();
  hp_collect(t, HP_GC_MINOR);
  ck_assert(!enc_in_pinned_list(rt, x));
  ck_assert_uint_eq(rt->gens.pinned.len, 0);
  uintptr_t a = (uintptr_t)hpC_header(t_dec(x));
  ck_assert(in_runs(&rt->gens.eden, a, a + NODE_BYTES) || in_runs(&rt->gens.to, a, a + NODE_BYTES));
  hp_runtime_destroy(rt);
}
END_TEST

/* hpC_object_of, the lookup behind every conservative word and hp_pin, on addresses of every
 * kind, at a point where the spaces are as a collection sees them (buffers retired). */
START_TEST(test_inside_object_of) {
  T_NEED_WINDOW(4);
  hp_config c = t_config();
  c.tenure_age = 15;
  c.adaptive_tenure = false;
  hp_runtime *rt = make(&c, false);
  hp_thread *t = hp_main_thread(rt);
  hpC_generations *h = &rt->gens;
  static void *keep[6];
  hp_root_range r = { keep, 6 };
  ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
  keep[0] = new_node(t, 1);                         /* -> from-space */
  keep[1] = new_big(t, 2);                          /* old block */
  keep[2] = new_blob(t, 200000, 3);                 /* huge */
  keep[4] = new_big(t, 5);                          /* freed below */
  hp_collect(t, HP_GC_MINOR);
  void *freed_big = keep[4];
  keep[4] = NULL;
  hp_collect(t, HP_GC_MAJOR);                       /* keep[0] promoted: make another */
  keep[0] = new_node(t, 1);
  hp_collect(t, HP_GC_MINOR);
  keep[5] = new_node(t, 6);
  hp_collect(t, HP_GC_MINOR);
  ck_assert_int_eq(hp_pin(t, keep[5]), 0);
  hp_collect(t, HP_GC_MINOR);                       /* keep[5] pinned */
  bool quiet = false;
  for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS && !quiet; attempt++) {
    t_window w = t_window_open(rt);
    keep[3] = new_blob(t, 104, 4);                  /* in eden */
    quiet = t_window_quiet(&w);
  }
  ck_assert(quiet);
  hpC_retire_tlabs(rt);                            /* as at a collection */
  struct { const char *what; void *obj; } yes[] = {
    { "from-space", keep[0] }, { "old block", keep[1] }, { "huge", keep[2] }, { "eden", keep[3] },
    { "pinned", keep[5] },
  };
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    uintptr_t b = (uintptr_t)yes[i].obj, hd = b - 8, end = hd + hpC_bytes(hdr(yes[i].obj));
    ck_assert_msg(hpC_object_of(h, b) == (uint64_t *)hd, "%s: body", yes[i].what);
    ck_assert_msg(hpC_object_of(h, b + 5) == (uint64_t *)hd, "%s: interior", yes[i].what);
    ck_assert_msg(hpC_object_of(h, end - 1) == (uint64_t *)hd, "%s: last byte", yes[i].what);
    ck_assert_msg(hpC_object_of(h, hd) == (uint64_t *)hd, "%s: header (%p, young_hi %p)", yes[i].what,
                  (void *)hd, (void *)h->young_hi);
  }
  ck_assert(hdr(keep[5]) & HPC_PINNED);
  ck_assert_uint_lt((uintptr_t)keep[0] - h->from.lo, h->from.hi - h->from.lo);
  hpP_span *pg = hpP_span_of(keep[1]);
  ck_assert_ptr_nonnull(pg);
  uintptr_t no[] = {
    h->eden.top, h->eden.top + 8, h->eden.hi - 8,   /* past eden's allocation mark */
    h->from.top, h->from.top + 64, h->from.hi - 8,  /* from-space's free tail */
    h->to.lo, h->to.lo + 8, h->to.hi - 8,           /* to-space */
    /* just past the young span: nothing, unless a span of the pools starts there (then an
     * old object may: test_pin_old_at_young_end) */
    hpP_span_of((void *)h->young_hi) ? 0 : h->young_hi, hpP_span_of((void *)h->young_hi) ? 0 : h->young_hi + 1,
    hpP_span_of((void *)h->young_hi) ? 0 : h->young_hi + 7,
    (uintptr_t)freed_big, (uintptr_t)freed_big + 100,   /* a free old block */
    (uintptr_t)keep[1] + BIG_SIZE + 8,              /* the block's slack */
    (uintptr_t)hpP_span_start(pg) + (size_t)pg->capacity * pg->block_size - 8,   /* a block never handed out */
    (uintptr_t)keep[2] + 200000 + 8,                /* the huge span's tail */
    (uintptr_t)&r, 0, 4096,
  };
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    ck_assert_msg(hpC_object_of(h, no[i]) == NULL, "word %zu (%#lx) taken for an object", i, (unsigned long)no[i]);
  ck_assert_uint_lt(atomic_load(&pg->reserved), pg->capacity);
  ck_assert_int_eq(hp_unpin(t, keep[5]), 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* A zero-size object's body pointer is the address just past its header: the address of
 * whatever comes next (another object's header, the end of eden, the start of a survivor
 * space, the end of its old block). A word that names it must keep it, and hp_pin must take
 * it (test_pin_zero_size). */
T_NOINLINE static void *zero_size_pair(hp_thread *t) {
  void *z = hp_new(t, &blob_type, 0);
  ck_assert_ptr_nonnull(z);
  void *next = new_blob(t, 64, 1);                  /* right after z, in the same buffer */
  ck_assert_ptr_eq(next, (char *)z + 8);
  return z;
}

START_TEST(test_inside_zero_size_local) {
  T_NEED_WINDOW(2);
  hp_runtime *rt = make(NULL, true);
  hp_thread *t = hp_main_thread(rt);
  void *z = NULL;
  bool quiet = false;
  for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS && !quiet; attempt++) {
    t_window w = t_window_open(rt);
    z = zero_size_pair(t);
    quiet = t_window_quiet(&w);
  }
  ck_assert(quiet);
  t_forget();
  hp_collect(t, HP_GC_MINOR);
  ck_assert_msg(hdr(z) & HPC_PINNED, "a zero-size object named by a local was not pinned (header %#llx; the "
                "object after it, whose header is at %p, was taken instead)", (unsigned long long)hdr(z), z);
  ck_assert(in_pinned_list(rt, z));
  churn(t, 8 * T_MiB, 0);
  ck_assert_uint_eq(hp_size(z), 0);
  ck_assert_ptr_eq(hp_type_of(rt, z), &blob_type);
  T_KEEP(z);
  hp_runtime_destroy(rt);
}
END_TEST

/* The same in the old generation: a zero-size old object (8 bytes in a 16-byte block) named
 * only by a local survives a major collection. */
static void *g_zero;

T_NOINLINE static void *old_zero_size(hp_thread *t) {
  g_zero = hp_new(t, &blob_type, 0);
  ck_assert_ptr_nonnull(g_zero);
  hp_collect(t, HP_GC_MAJOR);                       /* promoted (or pinned, under stress) */
  void *z = g_zero;
  g_zero = NULL;
  return z;
}

START_TEST(test_zero_size_old_local) {
  hp_runtime *rt = make(NULL, true);
  hp_thread *t = hp_main_thread(rt);
  ck_assert_int_eq(hp_root_add(rt, &g_zero), 0);
  void *z = old_zero_size(t);                       /* from here, only this local names it */
  uint64_t freed = t_stats(rt).objects_freed;
  t_forget();
  hp_collect(t, HP_GC_MAJOR);
  ck_assert_msg(t_stats(rt).objects_freed == freed, "a zero-size old object named by a local was freed");
  ck_assert_uint_eq(hp_verify_heap(rt), 1);
  ck_assert_uint_eq(hp_size(z), 0);
  ck_assert_ptr_eq(hp_type_of(rt, z), &blob_type);
  T_KEEP(z);
  ck_assert_int_eq(hp_root_remove(rt, &g_zero), 0);
  hp_runtime_destroy(rt);
}
END_TEST

/* hp_pin of a zero-size object, here one in the survivor space followed by another object. */
static void *g_pair[2];

START_TEST(test_pin_zero_size) {
  T_NEED_WINDOW(2);
  for (int cons = 0; cons < 2; cons++) {
    hp_runtime *rt = make(NULL, cons);
    hp_thread *t = hp_main_thread(rt);
    hp_root_range r = { g_pair, 2 };
    ck_assert_int_eq(hp_root_range_add(rt, &r), 0);
    bool quiet = false;
    for (int attempt = 0; attempt < T_WINDOW_ATTEMPTS && !quiet; attempt++) {
      t_window w = t_window_open(rt);
      g_pair[0] = hp_new(t, &blob_type, 0);
      g_pair[1] = new_blob(t, 64, 1);
      quiet = t_window_quiet(&w);
    }
    ck_assert(quiet);
    hp_collect(t, HP_GC_MINOR);                     /* copied in slot order: adjacent again */
    if (!cons || (char *)g_pair[1] == (char *)g_pair[0] + 8) {
      ck_assert_ptr_eq(g_pair[1], (char *)g_pair[0] + 8);
      ck_assert(t_is_young(t, g_pair[0]));
    }
    errno = 0;
    int rc = hp_pin(t, g_pair[0]);
    ck_assert_msg(rc == 0, "%s: hp_pin of a zero-size object: %d, errno %d", cons ? "conservative" : "precise",
                  rc, errno);
    ck_assert_int_eq(hp_unpin(t, g_pair[0]), 0);
    ck_assert_int_eq(hp_root_range_remove(rt, &r), 0);
    memset(g_pair, 0, sizeof g_pair);
    hp_runtime_destroy(rt);
  }
}
END_TEST

/* Pinned objects spread through eden leave only runs shorter than the largest object eden
 * takes (large_object_size): such an object must still be allocated, not refused. */
enum { NSPREAD = 48 };
T_NOINLINE static void spread_pins(hp_thread *t, node *keep[NSPREAD]) {
  for (int i = 0; i < NSPREAD; i++) {
    keep[i] = new_node(t, (uint64_t)i);
    (void)hp_new(t, &blob_type, 5000);              /* garbage: 5 KiB between the pins */
  }
}

START_TEST(test_fragmented_eden_medium_object) {
  hp_config c = t_config();
  c.eden_size = 256 * T_KiB;
  c.large_object_size = 8 * T_KiB;
  hp_runtime *rt = make(&c, true);
  hp_thread *t = hp_main_thread(rt);
  node *keep[NSPREAD];
  hp_collect(t, HP_GC_MINOR);
  spread_pins(t, keep);
  hp_collect(t, HP_GC_MAJOR);                       /* pinned old, every 5 KiB or so */
  ck_assert_uint_ge(rt->gens.pinned.len, NSPREAD);
  size_t longest = 0;
  for (size_t i = 0; i < rt->gens.eden.nruns; i++)
    if (rt->gens.eden.runs[i].hi - rt->gens.eden.runs[i].lo > longest) longest = rt->gens.eden.runs[i].hi - rt->gens.eden.runs[i].lo;
  /* The situation under test: no run of eden holds an 8 KiB object. */
  if (longest >= t_obj_bytes(8000)) {
    fprintf(stderr, "%s: not run: a run of %zu bytes is left\n", __func__, longest);
    hp_runtime_destroy(rt);
    return;
  }
  errno = 0;
  void *m = hp_new(t, &blob_type, 8000);
  ck_assert_msg(m != NULL, "hp_new of 8000 bytes failed (errno %d), the heap nearly empty: eden is cut into "
                "runs of at most %zu bytes by pinned objects", errno, longest);
  for (int i = 0; i < NSPREAD; i++) ck_assert(node_ok(keep[i], (uint64_t)i));
  __asm__ volatile("" : : "r"(keep) : "memory");
  hp_runtime_destroy(rt);
}
END_TEST

/* ------------------------------------------------------------------------------------ */

static Suite *suite(void) {
  Suite *s = suite_create("gc-conservative");
  struct { const char *name; const TTest *fn; double timeout; } tests[] = {
#define T(f, to) { #f, f, to }
    T(test_locals_deep, 120), T(test_locals_many_live, 120), T(test_locals_registers_only, 120),
    T(test_locals_behind_pointer, 120), T(test_interior_pointers, 120), T(test_interior_pointer_survivor, 120),
    T(test_words_into_free_space, 120), T(test_garbage_bound_young, 60), T(test_garbage_bound_old, 60),
    T(test_pinned_never_overlapped, 300), T(test_both_roots, 60),
    T(test_pin_fresh_object, 60), T(test_pin_keeps_address, 120), T(test_pin_promoted_at_next_collection, 60),
    T(test_pin_only_reference_nested, 120), T(test_pin_errors, 60), T(test_pin_old_at_young_end, 60), T(test_conservative_old_at_young_end, 60), T(test_pin_rejects_lookalikes, 60), T(test_pin_read_from_pipe, 120),
    T(test_stats_precise, 60), T(test_stats_conservative, 60), T(test_two_runtimes_one_stack, 60),
    T(test_inside_pinned_header, 60), T(test_inside_pinned_young_released, 60), T(test_inside_object_of, 60),
    T(test_inside_zero_size_local, 60), T(test_zero_size_old_local, 60), T(test_pin_zero_size, 60),
    T(test_fragmented_eden_medium_object, 60),
#undef T
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    TCase *tc = tcase_create(tests[i].name);
    tcase_set_timeout(tc, tests[i].timeout);
    tcase_add_test(tc, tests[i].fn);
    suite_add_tcase(s, tc);
  }
  return s;
}

int main(void) {
  volatile char here = 0;
  main_frame = (uintptr_t)&here;
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
