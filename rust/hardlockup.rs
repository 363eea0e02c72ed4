// SPDX-License-Identifier: GPL-2.0

//! The hard-lockup hook: which CPU the hard-lockup detector found stuck with
//! interrupts masked, and, where an NMI reaches it, where that CPU was.
//!
//! 6.12's buddy detector (`kernel/watchdog_buddy.c`, the one TCG guests have:
//! no PMU) runs in each CPU's watchdog hrtimer and checks the next CPU:
//! `watchdog_hardlockup_check(cpu)` prints "Watchdog detected hard LOCKUP on
//! cpu N" and asks that CPU for its backtrace, `trigger_single_cpu_backtrace`
//! → `arch_trigger_cpumask_backtrace` → `nmi_trigger_cpumask_backtrace(mask,
//! -1, raise)`, the plan's `HardLockupCheck` point. Called from
//! `watchdog_hardlockup_check` with no excluded CPU, it is the detection
//! (the caller is the return address at the probed entry, where
//! `arch_trigger_cpumask_backtrace` tail-calls, else found in the kernel's
//! stack walk; that walk cannot cross an optimized kprobe's trampoline on
//! an ORC kernel, hence both): a `HardLockup` record per CPU in the
//! mask, written on the detecting CPU, and a request left pending for that
//! CPU. Other callers (sysrq-l, RCU stalls, the detector's all-CPU dump,
//! which excludes the stuck CPU) only leave the point's usual probe record.
//!
//! The stuck CPU answers the request in NMI context, where an NMI reaches it;
//! `nmi_cpu_backtrace` (and x86's `nmi_cpu_backtrace_handler`) are
//! `NOKPROBE_SYMBOL`, so:
//! - x86_64: the backtrace NMI runs every `NMI_LOCAL` handler. Ours is
//!   registered first in the list and, on a CPU with a pending request,
//!   records a `LockupContext` from the NMI's regs; it returns `NMI_DONE`,
//!   so the kernel's own handler still takes the NMI and prints its
//!   backtrace, and no NMI counts twice (which would swallow the next one).
//! - arm64 with pseudo-NMI in use: the backtrace IPI is an NMI whose handler
//!   is `ipi_handler` (static, but out of line: it is registered by
//!   pointer). Our kprobe there records from `get_irq_regs()` (set by the
//!   arm64 IRQ entry) when in NMI context with a request pending.
//! - arm64 without pseudo-NMI: the IPI is an ordinary interrupt that the CPU
//!   takes only once it unmasks interrupts, no longer stuck: nothing is
//!   recorded (not in NMI), and the header's `HDR_NMI_REACHES_IRQS_OFF` is
//!   clear, so the trail says that pc was out of reach.
//!
//! A request stays pending for the detector's own wait (10 s) and is used
//! once. Not hooked: the perf NMI detector, which reports its own CPU from
//! the NMI without a backtrace request.

use crate::bindings;
use crate::format::{self, Kind, Role};
use crate::probes::{live, phase, record, Live};
use crate::region::{Crumb, MAX_CPUS};
use crate::softlockup::write_name;
use crate::stacktrace::Walk;
use core::sync::atomic::{AtomicU64, Ordering};

/// How long a backtrace request stays pending: `nmi_trigger_cpumask_backtrace`
/// waits 10 s for the answers; a little more for clock skew between CPUs.
const PENDING_NS: u64 = 12_000_000_000;

/// `local_clock()` of the detector's pending backtrace request per CPU
/// (0 = none).
static PENDING: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// What `sprint_symbol` says for an address inside the detector.
const DETECTOR: &[u8] = b"watchdog_hardlockup_check+";

/// `HDR_NMI_REACHES_IRQS_OFF` when an NMI reaches a CPU with interrupts
/// masked: x86_64 always; arm64 when pseudo-NMI (GIC priority masking) is
/// in use, which takes `CONFIG_ARM64_PSEUDO_NMI` and
/// `irqchip.gicv3_pseudo_nmi=1`.
pub(crate) fn header_flags() -> u32 {
    #[cfg(CONFIG_ARM64)]
    // SAFETY: reads a CPU capability, final after boot.
    let reaches = unsafe { bindings::hangtrail_uses_irq_prio_masking() };
    #[cfg(not(CONFIG_ARM64))]
    let reaches = true;
    if reaches {
        format::HDR_NMI_REACHES_IRQS_OFF
    } else {
        0
    }
}

/// The `HardLockupCheck` point was hit (`nmi_trigger_cpumask_backtrace`
/// entry, `regs` its registers). Returns whether this was the detector's
/// request, recorded here; if not, the caller writes the usual probe record.
pub(crate) fn on_trigger(live: &Live, point: u16, addr: u64, regs: *mut bindings::pt_regs) -> bool {
    // SAFETY: `regs` is the probed context's register set: the arguments
    // `(const struct cpumask *mask, int exclude_cpu, ...)`.
    let (mask, exclude) = unsafe {
        (
            bindings::hangtrail_regs_arg0(regs) as *const bindings::cpumask,
            bindings::hangtrail_regs_arg1(regs) as i32,
        )
    };
    if mask.is_null() || exclude != -1 || !from_detector(regs) {
        return false;
    }
    // SAFETY: no preconditions.
    let (me, now) = unsafe {
        (
            bindings::hangtrail_cpu() as usize,
            bindings::hangtrail_local_clock(),
        )
    };
    // SAFETY: reading an exported variable set at boot.
    let nr = (unsafe { bindings::nr_cpu_ids } as usize).min(MAX_CPUS);
    for cpu in (0..nr).filter(|&cpu| cpu != me) {
        // SAFETY: `mask` is the caller's cpumask, valid for the call; `cpu`
        // < nr_cpu_ids.
        if !unsafe { bindings::hangtrail_cpumask_test(mask, cpu as u32) } {
            continue;
        }
        let mut c = Crumb::new(Kind::HardLockup, point, addr, cpu as u64);
        c.flags = phase();
        record(live, &c);
        PENDING[cpu].store(now.max(1), Ordering::Release);
    }
    true
}

/// Whether the probed function (at its entry, `regs`) was called from
/// `watchdog_hardlockup_check`: its return address, or any address of the
/// kernel's walk of this stack.
fn from_detector(regs: *mut bindings::pt_regs) -> bool {
    let mut text = [0u8; crate::softlockup::SYMBOL_LEN];
    let mut in_detector = |a: u64| {
        // SAFETY: `text` has KSYM_SYMBOL_LEN bytes; the lookup takes any
        // address.
        let n = unsafe { bindings::sprint_symbol(text.as_mut_ptr(), a as usize) };
        text[..(n.max(0) as usize).min(text.len())].starts_with(DETECTOR)
    };
    in_detector(entry_return_address(regs)) || Walk::here().entries().any(in_detector)
}

/// The return address of a function probed at its entry: arm64 x30.
#[cfg(CONFIG_ARM64)]
fn entry_return_address(regs: *mut bindings::pt_regs) -> u64 {
    // SAFETY: `regs` is the probed context's register set.
    unsafe { bindings::hangtrail_regs_lr(regs) as u64 }
}

/// The return address of a function probed at its entry: x86_64 the word
/// at its sp (0 if unreadable).
#[cfg(not(CONFIG_ARM64))]
fn entry_return_address(regs: *mut bindings::pt_regs) -> u64 {
    let mut ra = 0u64;
    // SAFETY: `regs` is the probed context's register set; the copy reads 8
    // bytes at its sp into `ra` and fails instead of faulting.
    let err = unsafe {
        let sp = bindings::hangtrail_regs_sp(regs);
        bindings::copy_from_kernel_nofault(
            core::ptr::addr_of_mut!(ra).cast(),
            sp as *const core::ffi::c_void,
            core::mem::size_of::<u64>(),
        )
    };
    if err == 0 {
        ra
    } else {
        0
    }
}

/// Takes this CPU's pending request, if one is younger than `PENDING_NS`.
fn take_pending() -> bool {
    // SAFETY: no preconditions.
    let cpu = unsafe { bindings::hangtrail_cpu() } as usize;
    let Some(p) = PENDING.get(cpu) else {
        return false;
    };
    if p.load(Ordering::Acquire) == 0 {
        return false;
    }
    let t = p.swap(0, Ordering::AcqRel);
    // SAFETY: no preconditions.
    let now = unsafe { bindings::hangtrail_local_clock() };
    t != 0 && now.saturating_sub(t) <= PENDING_NS
}

/// Records the stuck CPU's own context, interrupted at `regs`, with its
/// pc's symbol. On this CPU, in NMI context.
fn record_context(live: &Live, regs: *mut bindings::pt_regs) {
    // SAFETY: `regs` is the interrupted context's register set, valid while
    // the NMI runs; `current` is valid in any context.
    let (pc, sp, irqs_off, user, idle) = unsafe {
        (
            bindings::hangtrail_regs_pc(regs) as u64,
            bindings::hangtrail_regs_sp(regs) as u64,
            bindings::hangtrail_regs_irqs_off(regs),
            bindings::hangtrail_user_mode(regs),
            bindings::hangtrail_current_is_idle(),
        )
    };
    let lr = return_address(regs, pc);
    let mut c = Crumb::new(
        Kind::LockupContext,
        live.point_of(Role::HardLockupCheck),
        pc,
        sp,
    );
    c.flags = phase()
        | if irqs_off { format::REC_IRQS_OFF } else { 0 }
        | if user { format::REC_USER } else { 0 }
        | if idle { format::REC_IDLE } else { 0 };
    c.payload[..8].copy_from_slice(&lr.to_le_bytes());
    let seq = record(live, &c);
    if !user {
        write_name(live, seq, pc);
    }
}

/// The interrupted context's return address: arm64 its x30 (PAC stripped).
#[cfg(CONFIG_ARM64)]
fn return_address(regs: *mut bindings::pt_regs, _pc: u64) -> u64 {
    // SAFETY: as in `record_context`.
    unsafe { bindings::hangtrail_regs_lr(regs) as u64 }
}

/// The interrupted context's return address: x86_64 its first caller, from
/// the kernel's unwinder (0 in user mode or if the walk does not reach it).
#[cfg(not(CONFIG_ARM64))]
fn return_address(regs: *mut bindings::pt_regs, pc: u64) -> u64 {
    // SAFETY: as in `record_context`.
    if unsafe { bindings::hangtrail_user_mode(regs) } {
        return 0;
    }
    Walk::here().callers_of(pc).next().unwrap_or(0)
}

/// Registers what runs on the stuck CPU (x86_64: the NMI handler, arm64: the
/// `ipi_handler` kprobe). Returns whether it is in place; without it, the
/// hard-lockup records still name the CPU.
pub(crate) fn start() -> bool {
    arch::start()
}

/// Undoes `start`; waits for a running handler. Idempotent.
pub(crate) fn stop() {
    arch::stop()
}

#[cfg(CONFIG_X86_64)]
mod arch {
    use super::{live, record_context, take_pending};
    use crate::bindings;
    use core::cell::UnsafeCell;
    use core::ffi::{c_int, c_uint};
    use core::sync::atomic::{AtomicBool, Ordering};

    /// The handler's name: `unregister_nmi_handler` finds it by name.
    const NAME: &core::ffi::CStr = c"hangtrail";

    struct Action(UnsafeCell<bindings::nmiaction>);
    // SAFETY: the kernel owns the action while registered (REGISTERED set);
    // it is written only before registration and after unregistration, from
    // module init/exit.
    unsafe impl Sync for Action {}

    // SAFETY: all-zero is a valid `nmiaction` (pointers null, integers 0).
    static ACTION: Action = Action(UnsafeCell::new(unsafe { core::mem::zeroed() }));
    static REGISTERED: AtomicBool = AtomicBool::new(false);

    /// An `NMI_LOCAL` handler: a CPU with a pending backtrace request
    /// records its interrupted context. Never claims the NMI.
    unsafe extern "C" fn on_nmi(_cmd: c_uint, regs: *mut bindings::pt_regs) -> c_int {
        if let Some(live) = live() {
            if !regs.is_null() && take_pending() {
                record_context(live, regs);
            }
        }
        bindings::NMI_DONE as c_int
    }

    pub(super) fn start() -> bool {
        let a = ACTION.0.get();
        // SAFETY: not registered (REGISTERED is false), so nothing else uses
        // the action; the list head points at itself, as the kernel's
        // `register_nmi_handler` macro sets it up.
        let err = unsafe {
            (*a).handler = Some(on_nmi);
            (*a).flags = bindings::NMI_FLAG_FIRST as _;
            (*a).name = NAME.as_ptr().cast();
            let list = core::ptr::addr_of_mut!((*a).list);
            (*list).next = list;
            (*list).prev = list;
            bindings::__register_nmi_handler(bindings::NMI_LOCAL as _, a)
        };
        REGISTERED.store(err == 0, Ordering::Release);
        err == 0
    }

    pub(super) fn stop() {
        if REGISTERED.swap(false, Ordering::AcqRel) {
            // SAFETY: registered by `start`; unregistering waits (RCU) for
            // a handler still running.
            unsafe {
                bindings::unregister_nmi_handler(bindings::NMI_LOCAL as _, NAME.as_ptr().cast())
            };
        }
    }
}

#[cfg(CONFIG_ARM64)]
mod arch {
    use super::{live, record_context, take_pending};
    use crate::bindings;
    use core::cell::UnsafeCell;
    use core::ffi::c_int;
    use core::sync::atomic::{AtomicBool, Ordering};

    struct Probe(UnsafeCell<bindings::kprobe>);
    // SAFETY: the kernel owns the kprobe while registered (REGISTERED set);
    // it is written only before registration, from module init.
    unsafe impl Sync for Probe {}

    // SAFETY: all-zero is a valid `kprobe`.
    static PROBE: Probe = Probe(UnsafeCell::new(unsafe { core::mem::zeroed() }));
    static REGISTERED: AtomicBool = AtomicBool::new(false);

    /// `ipi_handler` entry: in NMI context (a pseudo-NMI IPI), a CPU with a
    /// pending backtrace request records the context the IPI interrupted.
    unsafe extern "C" fn on_ipi(
        _kp: *mut bindings::kprobe,
        _regs: *mut bindings::pt_regs,
    ) -> c_int {
        // SAFETY: no preconditions.
        if !unsafe { bindings::hangtrail_in_nmi() } {
            return 0;
        }
        if let Some(live) = live() {
            // SAFETY: the arm64 IRQ entry set the irq regs for this
            // (pseudo-NMI) interrupt: the context it interrupted.
            let irq = unsafe { bindings::hangtrail_irq_regs() };
            if !irq.is_null() && take_pending() {
                record_context(live, irq);
            }
        }
        0
    }

    pub(super) fn start() -> bool {
        let p = PROBE.0.get();
        // SAFETY: not registered, so nothing else uses the kprobe; it is a
        // static, so it stays put while registered.
        let err = unsafe {
            core::ptr::write_bytes(p, 0, 1);
            (*p).symbol_name = c"ipi_handler".as_ptr().cast();
            (*p).pre_handler = Some(on_ipi);
            bindings::register_kprobe(p)
        };
        REGISTERED.store(err == 0, Ordering::Release);
        err == 0
    }

    pub(super) fn stop() {
        if REGISTERED.swap(false, Ordering::AcqRel) {
            // SAFETY: registered by `start`; unregistering waits for a
            // handler still running.
            unsafe { bindings::unregister_kprobe(PROBE.0.get()) };
        }
    }
}
