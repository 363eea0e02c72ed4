/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What htbench.ko needs from the kernel that the 6.12 `kernel` crate does not
 * provide; bindgen reads it against the target kernel's own headers (Kbuild).
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/uaccess.h>

/* The probed function: target.c. */
u64 htbench_target(u64 x);

/* One-line wrappers for static inline functions and macros: helpers.c. */
u64 htbench_local_clock(void);
unsigned long htbench_irq_save(void);
void htbench_irq_restore(unsigned long flags);
void htbench_irq_disable(void);
int htbench_cpu(void);
unsigned int htbench_online_cpus(void);
void htbench_on_each_cpu(void (*func)(void *info), void *info);
unsigned int htbench_mcount_insn_size(void);
