// SPDX-License-Identifier: GPL-2.0

//! Per-CPU phase: the `REC_CRASH_PHASE` / `REC_STOPPED` / `REC_LOAD_PHASE`
//! flags a record carries describe the CPU (or task) that writes it, never a
//! global switch.
//!
//! - crash: this CPU entered the crash path itself (`panic`,
//!   `__crash_kexec`, the panic notifier);
//! - stopped: this CPU was stopped by it (its crash-stop handler ran here,
//!   sent by another CPU);
//! - load: the current task is inside a kexec load (from
//!   `machine_kexec_post_load` entry to its return, or to the load
//!   syscall's return if that kretprobe was missed). Interrupts taken while
//!   that task runs count as its own (a watchdog sample then shows the
//!   load's pc): a context check cannot tell them apart on x86_64, where a
//!   kprobe's int3 handler itself runs as an NMI.
//!
//! Lock-free: per-CPU atomic bytes sized `format::MAX_CPUS`, callable from
//! any context including NMI.

use crate::bindings;
use crate::format::{REC_CRASH_PHASE, REC_LOAD_PHASE, REC_STOPPED};
use crate::region::MAX_CPUS;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU8, Ordering};

/// Internal state bit (not a record flag): this CPU ran `crash_save_cpu`.
const SAVED: u8 = 1 << 7;
const _: () = assert!(SAVED & (REC_CRASH_PHASE | REC_STOPPED | REC_LOAD_PHASE) == 0);

/// Per-CPU `REC_CRASH_PHASE | REC_STOPPED | SAVED`.
static STATE: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(0) }; MAX_CPUS];

/// The CPU that sends the crash stop (`__crash_kexec`'s, or the CPU-stop
/// point's CPU); `NONE` before the crash path.
static STOPPER: AtomicU32 = AtomicU32::new(NONE);
const NONE: u32 = u32::MAX;

/// The task inside a kexec load, or null.
static LOAD_TASK: AtomicPtr<core::ffi::c_void> = AtomicPtr::new(core::ptr::null_mut());

/// This CPU's id.
pub(crate) fn this_cpu() -> u32 {
    // SAFETY: no preconditions; the id may be stale if we migrate, which only
    // attributes the state to the CPU we just left (handlers do not migrate).
    unsafe { bindings::hangtrail_cpu() as u32 }
}

fn state(cpu: u32) -> Option<&'static AtomicU8> {
    STATE.get(cpu as usize)
}

fn current() -> *mut core::ffi::c_void {
    // SAFETY: `current` is valid in any context.
    unsafe { bindings::hangtrail_current() }
}

/// The phase flags of a record written now, on this CPU, by this context.
pub(crate) fn flags() -> u8 {
    let mut f = state(this_cpu()).map_or(0, |s| s.load(Ordering::Relaxed)) & (REC_CRASH_PHASE | REC_STOPPED);
    let load = LOAD_TASK.load(Ordering::Relaxed);
    if !load.is_null() && load == current() {
        f |= REC_LOAD_PHASE;
    }
    f
}

/// This CPU entered the crash path (`panic`, the panic notifier).
pub(crate) fn enter_crash() {
    if let Some(s) = state(this_cpu()) {
        s.fetch_or(REC_CRASH_PHASE, Ordering::Relaxed);
    }
}

/// This CPU runs the crash stop (`__crash_kexec`, the CPU-stop point): it
/// entered the crash path, and the CPUs it stops are the others.
pub(crate) fn enter_stopper() {
    enter_crash();
    STOPPER.store(this_cpu(), Ordering::Relaxed);
}

/// Whether this CPU is one that the crash path stops (a stopper is known
/// and it is another CPU).
pub(crate) fn is_stopped_cpu() -> bool {
    let s = STOPPER.load(Ordering::Relaxed);
    s != NONE && s != this_cpu()
}

/// This CPU's crash-stop handler runs (or `crash_save_cpu` on a stopped
/// CPU): its records from now on carry `REC_STOPPED`.
pub(crate) fn mark_stopped() {
    if let Some(s) = state(this_cpu()) {
        s.fetch_or(REC_STOPPED, Ordering::Relaxed);
    }
}

/// This CPU ran `crash_save_cpu` (its registers are in the vmcore notes).
pub(crate) fn mark_saved() {
    if let Some(s) = state(this_cpu()) {
        s.fetch_or(SAVED, Ordering::Relaxed);
    }
}

/// Whether `cpu` ran `crash_save_cpu`.
pub(crate) fn saved(cpu: u32) -> bool {
    state(cpu).is_some_and(|s| s.load(Ordering::Relaxed) & SAVED != 0)
}

/// The current task starts a kexec load (`machine_kexec_post_load` entry).
pub(crate) fn load_begin() {
    LOAD_TASK.store(current(), Ordering::Relaxed);
}

/// The current task's kexec load ended (the post-load kretprobe, or the
/// load syscall's return): closes the window if it is this task's.
pub(crate) fn load_end() {
    let me = current();
    let _ = LOAD_TASK.compare_exchange(me, core::ptr::null_mut(), Ordering::Relaxed, Ordering::Relaxed);
}
