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

#endif
