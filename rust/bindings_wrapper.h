/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What hangtrail.ko needs from the kernel that the 6.12 `kernel` crate does
 * not provide. bindgen reads this against the target kernel's own headers
 * (see Kbuild), so struct layouts always match the kernel being built for.
 */
#include <linux/crash_dump.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/notifier.h>
#include <linux/panic.h>
#include <linux/panic_notifier.h>
#include <linux/random.h>
#include <linux/reboot.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/vmalloc.h>

/* One-line wrappers for static inline functions and macros: rust/helpers.c. */
int hangtrail_cpu(void);
u64 hangtrail_local_clock(void);
void hangtrail_wmb(void);
bool hangtrail_cpu_online(unsigned int cpu);
struct pt_regs *hangtrail_irq_regs(void);
unsigned long hangtrail_regs_pc(struct pt_regs *regs);
unsigned long hangtrail_regs_fp(struct pt_regs *regs);
unsigned long hangtrail_regs_arg0(struct pt_regs *regs);
unsigned long hangtrail_regs_return_value(struct pt_regs *regs);
bool hangtrail_user_mode(struct pt_regs *regs);
int hangtrail_current_pid(void);
bool hangtrail_current_is_idle(void);
const char *hangtrail_current_comm(void);
bool hangtrail_is_kdump_kernel(void);
void *hangtrail_ioremap(phys_addr_t addr, size_t size);
void hangtrail_iounmap(void *addr);
void hangtrail_local_irq_disable(void);
/* A macro from 7.x on (debugfs_create_file_full/_short by the fops' type). */
struct dentry *hangtrail_debugfs_create_file(const char *name, umode_t mode, struct dentry *parent,
					     void *data, const struct file_operations *fops);

/* Crash-stop contexts, kexec images, the load window, kernel settings. */
#include <linux/fcntl.h>
#include <linux/kexec.h>
unsigned long hangtrail_regs_sp(struct pt_regs *regs);
void *hangtrail_current(void);
unsigned int hangtrail_kimage_type(struct kimage *image);
bool hangtrail_regs_irqs_off(struct pt_regs *regs);
#ifdef CONFIG_ARM64
unsigned long hangtrail_regs_lr(struct pt_regs *regs);
#endif
struct kretprobe *hangtrail_kretprobe_of(struct kretprobe_instance *ri);
bool hangtrail_can_clean_cache(void);
void hangtrail_clean_cache(void *addr, size_t size);

/* The hard-lockup hook (hardlockup.rs) and caller frames (stacktrace.rs). */
#include <linux/cpumask.h>
#include <linux/stacktrace.h>
#ifdef CONFIG_X86_64
#include <asm/nmi.h>
#endif
unsigned long hangtrail_regs_arg1(struct pt_regs *regs);
bool hangtrail_cpumask_test(const struct cpumask *mask, unsigned int cpu);
bool hangtrail_in_nmi(void);
/* arm64 only: */
unsigned long hangtrail_strip_pac(unsigned long addr);
bool hangtrail_uses_irq_prio_masking(void);

/* Where the region is (reserve.rs): reserve_mem= by name, a device tree
 * reserved-memory node, and a vmap of System RAM pages for both. */
#include <linux/mm.h>
#include <linux/of.h>
#include <linux/of_reserved_mem.h>
struct page *hangtrail_pfn_to_page(unsigned long pfn);
bool hangtrail_pfn_valid(unsigned long pfn);
pgprot_t hangtrail_pgprot_kernel(void);
pgprot_t hangtrail_pgprot_writecombine(void);
pgprot_t hangtrail_pgprot_noncached(void);
struct device_node *hangtrail_of_find_compatible(const char *compat);
void hangtrail_of_node_put(struct device_node *np);
const char *hangtrail_of_node_name(struct device_node *np);
struct reserved_mem *hangtrail_of_reserved_mem_lookup(struct device_node *np);
