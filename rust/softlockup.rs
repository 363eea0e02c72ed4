// SPDX-License-Identifier: GPL-2.0

//! The soft lockup hook.
//!
//! Three points of `kernel/watchdog.c` (see `plan.rs`):
//! - `watchdog_timer_fn`, the detector's per-CPU hrtimer: every run stores a
//!   cheap *sample* (the pc it interrupted) in the CPU's sample slots, so a
//!   CPU stuck at one pc shows even when the report itself never finishes
//!   (printk can be what hangs);
//! - `softlockup_fn`, its stopper work: the CPU was alive then (the
//!   watchdog's own touch timestamp, which is static, is mirrored here);
//! - `add_taint(TAINT_SOFTLOCKUP)`, reached after the report: the soft lockup
//!   record with the interrupted pc, the stuck duration, comm/pid, and the
//!   first caller frames (from the kernel's own unwinder, `stacktrace.rs`),
//!   each symbolized now so that a pc inside a module still decodes after
//!   the reboot.

use crate::bindings;
use crate::format::{self, Kind, PAYLOAD_LEN};
use crate::probes::{phase, record, Live};
use crate::region::{Crumb, MAX_CPUS};
use crate::stacktrace::Walk;
use core::ffi::c_int;
use core::sync::atomic::{AtomicU64, Ordering};

/// At least `KSYM_SYMBOL_LEN` (a C expression bindgen cannot evaluate; about
/// 640 bytes on 6.x), what `sprint_symbol` may write.
pub(crate) const SYMBOL_LEN: usize = 1024;

/// Caller frames recorded with a soft lockup.
const FRAMES: usize = 6;

/// `local_clock()` of the last `softlockup_fn` run per CPU (0 = never).
static TOUCHED: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

fn this_cpu() -> usize {
    // SAFETY: no preconditions.
    unsafe { bindings::hangtrail_cpu() as usize }
}

/// `watchdog_timer_fn` entry: sample the interrupted pc.
pub(crate) fn on_timer(live: &Live, _regs: *mut bindings::pt_regs) -> c_int {
    // SAFETY: we run in the hrtimer's hard interrupt, so the irq regs are
    // those of the interrupted context (or null).
    let irq = unsafe { bindings::hangtrail_irq_regs() };
    if irq.is_null() {
        return 0;
    }
    // SAFETY: `irq` is non-null and valid for the interrupt's duration; the
    // task helpers read `current`, valid in any context.
    let (pc, user, pid, idle) = unsafe {
        (
            bindings::hangtrail_regs_pc(irq) as u64,
            bindings::hangtrail_user_mode(irq),
            bindings::hangtrail_current_pid() as u64,
            bindings::hangtrail_current_is_idle(),
        )
    };
    let mut c = Crumb::new(Kind::Sample, live.point_of(format::Role::WatchdogTimer), pc, pid);
    c.flags = phase()
        | if idle { format::REC_IDLE } else { 0 }
        | if user { format::REC_USER } else { 0 };
    live.writer.sample(&c);
    0
}

/// `softlockup_fn` entry: this CPU's watchdog was touched.
pub(crate) fn on_touch() -> c_int {
    if let Some(t) = TOUCHED.get(this_cpu()) {
        // SAFETY: no preconditions.
        t.store(unsafe { bindings::hangtrail_local_clock() }, Ordering::Relaxed);
    }
    0
}

/// `add_taint` entry: a soft lockup record when the taint is TAINT_SOFTLOCKUP.
pub(crate) fn on_taint(live: &Live, point: u16, regs: *mut bindings::pt_regs) -> c_int {
    // SAFETY: `regs` is the probed context's register set.
    if unsafe { bindings::hangtrail_regs_arg0(regs) } != bindings::TAINT_SOFTLOCKUP as usize {
        return 0;
    }
    // SAFETY: as in `on_timer`: the watchdog hrtimer's interrupt is running.
    let irq = unsafe { bindings::hangtrail_irq_regs() };
    if irq.is_null() {
        return 0;
    }
    // SAFETY: no preconditions.
    let now = unsafe { bindings::hangtrail_local_clock() };
    let touched = TOUCHED.get(this_cpu()).map_or(0, |t| t.load(Ordering::Relaxed));
    let stuck_ns = if touched != 0 { now.saturating_sub(touched) } else { 0 };

    // SAFETY: `irq` is valid for the interrupt's duration; `current` and its
    // comm (a fixed 16-byte array) are valid in any context.
    let (pc, pid, comm) = unsafe {
        (
            bindings::hangtrail_regs_pc(irq) as u64,
            bindings::hangtrail_current_pid() as u32,
            core::slice::from_raw_parts(bindings::hangtrail_current_comm(), 16),
        )
    };
    let mut c = Crumb::new(Kind::SoftLockup, point, pc, stuck_ns);
    c.flags = phase();
    c.payload[..16].copy_from_slice(comm);
    c.payload[16..20].copy_from_slice(&pid.to_le_bytes());
    let seq = record(live, &c);
    write_name(live, seq, pc);

    // Walked from here, through the kprobe and the hrtimer interrupt, to
    // the interrupted context at `pc` and on to its callers.
    let walk = Walk::here();
    for (depth, ret) in walk.callers_of(pc).take(FRAMES).enumerate() {
        let mut f = Crumb::new(Kind::Frame, point, ret, depth as u64);
        f.flags = phase();
        let seq = record(live, &f);
        write_name(live, seq, ret);
    }
    0
}

/// Stores `pc`'s symbol (`name+0xoff/0xsize [module]`) as `Name` records
/// owned by record `owner`: kallsyms is there now, the module may not be
/// after the reboot.
pub(crate) fn write_name(live: &Live, owner: u64, pc: u64) {
    if owner == 0 {
        return;
    }
    let mut text = [0u8; SYMBOL_LEN];
    // SAFETY: `text` has KSYM_SYMBOL_LEN bytes, what sprint_symbol requires;
    // it only looks the address up, whatever it is.
    let len = unsafe { bindings::sprint_symbol(text.as_mut_ptr(), pc as usize) };
    let len = (len.max(0) as usize).min(text.len());
    for (i, chunk) in text[..len].chunks(PAYLOAD_LEN).enumerate().take(8) {
        let mut c = Crumb::new(Kind::Name, i as u16, pc, owner);
        c.flags = phase();
        c.payload[..chunk.len()].copy_from_slice(chunk);
        record(live, &c);
    }
}
