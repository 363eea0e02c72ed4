// SPDX-License-Identifier: GPL-2.0
/*
 * One-line wrappers for static inline kernel functions and macros that the
 * Rust side cannot call directly. No logic belongs here.
 */
#include "bindings_wrapper.h"
#include <linux/cpumask.h>
#include <linux/ftrace.h>
#include <linux/irqflags.h>
#include <linux/sched/clock.h>
#include <linux/smp.h>

u64 htbench_local_clock(void) { return local_clock(); }
unsigned long htbench_irq_save(void) { unsigned long f; local_irq_save(f); return f; }
void htbench_irq_restore(unsigned long flags) { local_irq_restore(flags); }
void htbench_irq_disable(void) { local_irq_disable(); }
int htbench_cpu(void) { return raw_smp_processor_id(); }
unsigned int htbench_online_cpus(void) { return num_online_cpus(); }
void htbench_on_each_cpu(void (*func)(void *info), void *info) { on_each_cpu(func, info, 1); }
unsigned int htbench_mcount_insn_size(void) { return MCOUNT_INSN_SIZE; }
