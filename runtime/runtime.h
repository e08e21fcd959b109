/* runtime/runtime.h -- the facade above the collector (hpR_): runtime creation and
 * destruction, configuration and the option table, handlers, statistics read-out and
 * printing. The state is the collector's (gc/collector.h); runtime/ only reads and sets it.
 */
#ifndef HP_RUNTIME_RUNTIME_H
#define HP_RUNTIME_RUNTIME_H
#include "pools/platform/internal.h"
#include "runtime/options.h"
#include "gc/collector.h"

/* Whether every option of c is in its range, with a warning for each that is not. */
HP_INTERNAL bool hpR_config_check(const hp_config *c);
/* The GC log (runtime/gclog.c). Opens the log's file when rt->cfg asks for a log and sets
 * rt->on_cycle and rt->log_fd; returns 0, or an errno value (with a message on stderr) when
 * the file cannot be opened. */
HP_INTERNAL int hpR_gclog_open(hp_runtime *rt);
/* Closes the file, if the runtime opened one. */
HP_INTERNAL void hpR_gclog_close(hp_runtime *rt);

#endif
