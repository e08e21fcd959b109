/* gc/types.c -- the process-wide type table: registration, lookup, and the size and type of
 * an object as the embedder asks for them. */
#include "gc/gc.h"
#include "pools/platform/atomic.h"

#include <errno.h>
#include <pthread.h>

static hp_type filler = { .name = "(filler)", .flags = HP_TYPE_LEAF };
const hp_type *hpC_types[HPC_MAX_TYPES + 1] = { [0] = &filler };
_Atomic uint32_t hpC_ntypes = 1;
static pthread_mutex_t types_mu = PTHREAD_MUTEX_INITIALIZER;

int hp_type_register(hp_runtime *rt, hp_type *type) {
  (void)rt;
  for (uint32_t i = 0; i < type->noffsets; i++) {
    if (type->offsets[i] % 8 != 0 || (size_t)type->offsets[i] + 8 > type->size) { errno = EINVAL; return -1; }
  }
  if (!hpC_weak_type_check(type)) { errno = EINVAL; return -1; }
  pthread_mutex_lock(&types_mu);
  uint32_t n = atomic_load_explicit(&hpC_ntypes, memory_order_relaxed);   /* types_mu held */
  if (type->id != 0 && type->id < n && hpC_types[type->id] == type) {
    pthread_mutex_unlock(&types_mu);
    return 0;                                   /* registered already (maybe by another runtime) */
  }
  if (n > HPC_MAX_TYPES) { pthread_mutex_unlock(&types_mu); errno = ENOSPC; return -1; }
  type->id = n;
  hpC_weak_type_set(type);
  hpC_types[n] = type;
  atomic_store_explicit(&hpC_ntypes, n + 1, memory_order_release);     /* hpC_types[n] first */
  pthread_mutex_unlock(&types_mu);
  return 0;
}

void hpC_bad_type(unsigned id) {
  hpS_fatal("hp: object with unregistered type id %u (was hp_type_register called for its "
            "type? or is the header overwritten?)", id);
}

const hp_type *hpC_type(unsigned id) {
  const hp_type *t = id <= HPC_MAX_TYPES ? hpC_types[id] : NULL;
  if (t == NULL) hpC_bad_type(id);
  return t;
}

const hp_type *hp_type_of(hp_runtime *rt, const void *obj) {
  (void)rt;
  return hpC_type(hpC_type_id(hpS_word_load(hpC_header(obj), memory_order_relaxed)));
}
/* Relaxed atomic loads: another thread's barrier may be setting the REMEMBERED bit. */
size_t hp_size(const void *obj) { return hpC_bytes(hpS_word_load(hpC_header(obj), memory_order_relaxed)) - 8; }
