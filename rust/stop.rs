// SPDX-License-Identifier: GPL-2.0

//! Every CPU at the crash stop: the context `crash_save_cpu` saves for the
//! vmcore (`StopContext`), and after the stop, which CPUs were not seen
//! stopping (`StopMap`).
//!
//! `crash_save_cpu(regs, cpu)` runs on every CPU the stop reached (x86_64
//! from the shootdown NMI, arm64 from the crash-stop IPI) and on the crash
//! CPU itself: its `regs` are exactly what the kernel writes into that CPU's
//! `NT_PRSTATUS` note, so the pc/sp recorded here are the vmcore's.

use crate::bindings;
use crate::format::{self, Kind, Role, REC_IDLE, REC_IRQS_OFF, REC_USER};
use crate::phase;
use crate::probes::{record, Live};
use crate::region::Crumb;
use core::sync::atomic::{AtomicU64, Ordering};

/// `crash_save_cpu`'s kprobe `nmissed` when the stop began.
static MISSED_AT_STOP: AtomicU64 = AtomicU64::new(0);

/// The CPU stop begins (its entry probe): remember how many
/// `crash_save_cpu` hits kprobes had skipped so far.
pub(crate) fn begin(live: &Live) {
    MISSED_AT_STOP.store(save_cpu_missed(live), Ordering::Relaxed);
}

fn save_cpu_missed(live: &Live) -> u64 {
    live.probes()
        .iter()
        .find(|p| p.point.role == Role::CrashSaveCpu as u8)
        .map_or(0, |p| p.nmissed())
}

/// `crash_save_cpu` entry (after its `Probe` record, which marked a
/// stopped CPU as such): the saved context.
pub(crate) fn on_save_cpu(live: &Live, point: u16, regs: *mut bindings::pt_regs) {
    phase::mark_saved();
    // SAFETY: `regs` is the probed context's register set; its first
    // argument is the `struct pt_regs *` being saved, valid for the call.
    let saved = unsafe { bindings::hangtrail_regs_arg0(regs) } as *mut bindings::pt_regs;
    if saved.is_null() {
        return;
    }
    // SAFETY: `saved` is the kernel's own saved register set (non-null);
    // `current` is valid in any context.
    let (pc, sp, user, irqs_off, idle) = unsafe {
        (
            bindings::hangtrail_regs_pc(saved) as u64,
            bindings::hangtrail_regs_sp(saved) as u64,
            bindings::hangtrail_user_mode(saved),
            bindings::hangtrail_regs_irqs_off(saved),
            bindings::hangtrail_current_is_idle(),
        )
    };
    let mut c = Crumb::new(Kind::StopContext, point, pc, sp);
    c.flags = phase::flags()
        | if user { REC_USER } else { 0 }
        | if irqs_off { REC_IRQS_OFF } else { 0 }
        | if idle { REC_IDLE } else { 0 };
    c.payload[..8].copy_from_slice(&return_address(saved, pc, user).to_le_bytes());
    record(live, &c);
}

/// arm64: x30 (PAC stripped).
#[cfg(CONFIG_ARM64)]
fn return_address(regs: *mut bindings::pt_regs, _pc: u64, _user: bool) -> u64 {
    // SAFETY: `regs` is valid (see `on_save_cpu`).
    unsafe { bindings::hangtrail_regs_lr(regs) as u64 }
}

/// x86_64: the interrupted context's caller. Without frame pointers (ORC,
/// the distribution default) from the kernel's unwinder, which crosses the
/// NMI entry of a stopped CPU (0 where the walk does not reach `pc`: the
/// crash CPU's own `crash_setup_regs` context); with frame pointers
/// `[rbp + 8]`, read without faulting. 0 in user mode.
#[cfg(not(CONFIG_ARM64))]
fn return_address(regs: *mut bindings::pt_regs, pc: u64, user: bool) -> u64 {
    if user {
        return 0;
    }
    if !cfg!(CONFIG_FRAME_POINTER) {
        return crate::stacktrace::Walk::here().callers_of(pc).next().unwrap_or(0);
    }
    // SAFETY: `regs` is valid (see `on_save_cpu`).
    let fp = unsafe { bindings::hangtrail_regs_fp(regs) } as u64;
    if fp == 0 || fp % 8 != 0 {
        return 0;
    }
    let mut ret = 0u64;
    // SAFETY: reads 8 bytes into `ret`; a bad `fp` makes the copy fail
    // instead of faulting.
    let err = unsafe {
        bindings::copy_from_kernel_nofault(
            (&mut ret as *mut u64).cast(),
            (fp + 8) as usize as *const _,
            core::mem::size_of::<u64>(),
        )
    };
    if err != 0 {
        0
    } else {
        ret
    }
}

/// The CPU stop returned (its kretprobe, on the CPU that sent it): one
/// `StopMap` record per 64 CPUs holding a CPU online and not seen stopped,
/// or one empty record.
pub(crate) fn record_map(live: &Live, point: u16) {
    let me = phase::this_cpu();
    // SAFETY: reading an exported variable set at boot.
    let nr = (unsafe { bindings::nr_cpu_ids } as u32).min(format::MAX_CPUS);
    let unknown = save_cpu_missed(live).saturating_sub(MISSED_AT_STOP.load(Ordering::Relaxed));
    let unseen = |cpu: u32| {
        // SAFETY: `cpu` < nr_cpu_ids.
        cpu != me && !phase::saved(cpu) && unsafe { bindings::hangtrail_cpu_online(cpu) }
    };
    let total = (0..nr).filter(|&cpu| unseen(cpu)).count() as u32;
    let mut payload = [0u8; format::PAYLOAD_LEN];
    payload[..4].copy_from_slice(&(unknown.min(u32::MAX as u64) as u32).to_le_bytes());
    payload[4..8].copy_from_slice(&total.to_le_bytes());
    let mut written = false;
    for first in (0..nr).step_by(64) {
        let mask = (first..nr.min(first + 64))
            .filter(|&cpu| unseen(cpu))
            .fold(0u64, |m, cpu| m | 1 << (cpu - first));
        if mask != 0 {
            write_map(live, point, first, mask, payload);
            written = true;
        }
    }
    if !written {
        write_map(live, point, 0, 0, payload);
    }
}

fn write_map(live: &Live, point: u16, first: u32, mask: u64, payload: [u8; format::PAYLOAD_LEN]) {
    let mut c = Crumb::new(Kind::StopMap, point, mask, first as u64);
    c.flags = phase::flags();
    c.payload = payload;
    record(live, &c);
}
