/* runtime/runtime.c -- runtimes: creation and destruction, the handlers, and the version.
 * The state they create is the collector's (gc/collector.h). */
#include "runtime/runtime.h"

#include <errno.h>
#include <string.h>

hp_runtime *hp_runtime_new(const hp_config *cfg) {
  hp_config c;
  if (cfg) c = *cfg;
  else hp_config_default(&c);
  if (!hpR_config_check(&c)) { errno = EINVAL; return NULL; }
  hp_runtime *rt = hp_pool_alloc(sizeof *rt);
  if (rt == NULL) return NULL;
  memset(rt, 0, sizeof *rt);
  rt->cfg = c;
  int err = hpR_gclog_open(rt);
  if (err != 0) { hp_pool_free(rt); errno = err; return NULL; }
  if (!hpC_runtime_init(rt, __builtin_return_address(0))) { hpR_gclog_close(rt); hp_pool_free(rt); errno = ENOMEM; return NULL; }
  return rt;
}

void hp_runtime_destroy(hp_runtime *rt) {
  if (rt == NULL) return;
  hpC_runtime_destroy(rt);
  hpR_gclog_close(rt);
  hp_pool_free(rt);
}

hp_thread *hp_main_thread(hp_runtime *rt) { return &rt->main->pub; }
hp_runtime *hp_thread_runtime(hp_thread *t) { return hpC_mutator_of(t)->rt; }

void hp_set_oom_handler(hp_runtime *rt, hp_oom_fn fn, void *data) { rt->oom = fn; rt->oom_data = data; }
void hp_set_gc_event_handler(hp_runtime *rt, hp_gc_event_fn fn, void *data) {
  rt->on_event = fn;
  rt->event_data = data;
}

int hp_version(void) { return HP_VERSION; }
