// SPDX-License-Identifier: GPL-2.0
/*
 * One-line wrappers for static inline kernel functions and macros that the
 * Rust side cannot call directly, the way the kernel's rust/helpers/ does it.
 * No logic belongs here.
 */
#include "bindings_wrapper.h"
#include <linux/crash_dump.h>
#include <linux/io.h>
#include <linux/irqflags.h>
#include <linux/kprobes.h>
#include <linux/libnvdimm.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <asm/irq_regs.h>
#include <asm/ptrace.h>

int hangtrail_cpu(void) { return raw_smp_processor_id(); }
u64 hangtrail_local_clock(void) { return local_clock(); }
void hangtrail_wmb(void) { wmb(); }
bool hangtrail_cpu_online(unsigned int cpu) { return cpu_online(cpu); }
struct pt_regs *hangtrail_irq_regs(void) { return get_irq_regs(); }
unsigned long hangtrail_regs_pc(struct pt_regs *regs) { return instruction_pointer(regs); }
unsigned long hangtrail_regs_fp(struct pt_regs *regs) { return frame_pointer(regs); }
unsigned long hangtrail_regs_arg0(struct pt_regs *regs) { return regs_get_kernel_argument(regs, 0); }
unsigned long hangtrail_regs_return_value(struct pt_regs *regs) { return regs_return_value(regs); }
bool hangtrail_user_mode(struct pt_regs *regs) { return user_mode(regs); }
int hangtrail_current_pid(void) { return task_pid_nr(current); }
bool hangtrail_current_is_idle(void) { return is_idle_task(current); }
const char *hangtrail_current_comm(void) { return current->comm; }
bool hangtrail_is_kdump_kernel(void) { return is_kdump_kernel(); }
void *hangtrail_ioremap(phys_addr_t addr, size_t size) { return (void __force *)ioremap(addr, size); }
void hangtrail_iounmap(void *addr) { iounmap((void __iomem __force *)addr); }
void hangtrail_local_irq_disable(void) { local_irq_disable(); }
struct dentry *hangtrail_debugfs_create_file(const char *name, umode_t mode, struct dentry *parent,
					     void *data, const struct file_operations *fops)
{
	return debugfs_create_file(name, mode, parent, data, fops);
}

/* Crash-stop contexts, kexec images, the load window. */
#include <linux/kexec.h>
unsigned long hangtrail_regs_sp(struct pt_regs *regs) { return kernel_stack_pointer(regs); }
void *hangtrail_current(void) { return current; }
unsigned int hangtrail_kimage_type(struct kimage *image) { return image->type; }
#ifdef CONFIG_ARM64
bool hangtrail_regs_irqs_off(struct pt_regs *regs) { return !interrupts_enabled(regs); }
unsigned long hangtrail_regs_lr(struct pt_regs *regs) { return ptrauth_strip_kernel_insn_pac(procedure_link_pointer(regs)); }
#else
bool hangtrail_regs_irqs_off(struct pt_regs *regs) { return regs_irqs_disabled(regs); }
#endif
struct kretprobe *hangtrail_kretprobe_of(struct kretprobe_instance *ri) { return get_kretprobe(ri); }
bool hangtrail_can_clean_cache(void) { return IS_ENABLED(CONFIG_ARCH_HAS_PMEM_API); }
void hangtrail_clean_cache(void *addr, size_t size) { arch_wb_cache_pmem(addr, size); }

/* The hard-lockup hook (hardlockup.rs) and caller frames (stacktrace.rs). */
#include <linux/cpumask.h>
#include <linux/hardirq.h>
unsigned long hangtrail_regs_arg1(struct pt_regs *regs) { return regs_get_kernel_argument(regs, 1); }
bool hangtrail_cpumask_test(const struct cpumask *mask, unsigned int cpu) { return cpumask_test_cpu(cpu, mask); }
bool hangtrail_in_nmi(void) { return in_nmi(); }
#ifdef CONFIG_ARM64
#include <asm/cpufeature.h>
unsigned long hangtrail_strip_pac(unsigned long addr) { return ptrauth_strip_kernel_insn_pac(addr); }
bool hangtrail_uses_irq_prio_masking(void) { return system_uses_irq_prio_masking(); }
#endif

/* Where the region is (reserve.rs). */
#include <linux/mm.h>
#include <linux/of.h>
#include <linux/of_reserved_mem.h>
struct page *hangtrail_pfn_to_page(unsigned long pfn) { return pfn_to_page(pfn); }
bool hangtrail_pfn_valid(unsigned long pfn) { return pfn_valid(pfn); }
pgprot_t hangtrail_pgprot_kernel(void) { return PAGE_KERNEL; }
pgprot_t hangtrail_pgprot_writecombine(void) { return pgprot_writecombine(PAGE_KERNEL); }
pgprot_t hangtrail_pgprot_noncached(void) { return pgprot_noncached(PAGE_KERNEL); }
struct device_node *hangtrail_of_find_compatible(const char *compat) { return of_find_compatible_node(NULL, NULL, compat); }
void hangtrail_of_node_put(struct device_node *np) { of_node_put(np); }
const char *hangtrail_of_node_name(struct device_node *np) { return of_node_full_name(np); }
struct reserved_mem *hangtrail_of_reserved_mem_lookup(struct device_node *np) { return of_reserved_mem_lookup(np); }
