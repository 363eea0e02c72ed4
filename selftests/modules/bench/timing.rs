// SPDX-License-Identifier: GPL-2.0

//! The timed loop: calls of `htbench_target`, interrupts masked, timed with
//! `local_clock()`; repeated, reported as the minimum and the median per-call
//! time in picoseconds. One untimed loop of `iters` calls goes first, so that
//! what a configuration writes to (its buffer, the region) has been touched
//! once (QEMU backs guest RAM with host pages on first touch); it also sizes
//! the timed loops: as many calls as fit in `budget_ns`, at most `iters`, at
//! least `MIN_ITERS`. Short loops, many of them: on a loaded host the minimum
//! is a loop that no host preemption hit. `all_cpus` runs the same loop on
//! every online CPU at once (started together from `on_each_cpu`).

use crate::bindings;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;

/// Most repeats of one measurement.
pub(crate) const MAX_REPEAT: usize = 64;
/// Most CPUs of an all-CPU run (the guests have 2 to 8).
pub(crate) const MAX_CPUS: usize = 256;
/// Fewest calls in a timed loop.
pub(crate) const MIN_ITERS: u32 = 16;

/// Calls per timed loop: as many as fit in `budget_ns` at `ps` per call.
fn sized(iters: u32, budget_ns: u32, ps: u64) -> u32 {
    let fit = (budget_ns as u64 * 1000) / ps.max(1);
    fit.clamp(MIN_ITERS as u64, iters.max(MIN_ITERS) as u64) as u32
}

/// Min and median of a measurement, picoseconds per call.
#[derive(Clone, Copy)]
pub(crate) struct Figure {
    pub(crate) min: u64,
    pub(crate) median: u64,
}

fn figure(v: &mut [u64]) -> Figure {
    v.sort_unstable();
    Figure { min: v[0], median: v[v.len() / 2] }
}

/// One timed loop on this CPU, interrupts masked: picoseconds per call.
fn timed_loop(iters: u32) -> u64 {
    let mut acc = 0u64;
    // SAFETY: masking interrupts on this CPU, restored below; the target is
    // a plain function with no preconditions.
    let ps = unsafe {
        let flags = bindings::htbench_irq_save();
        let t0 = bindings::htbench_local_clock();
        for i in 0..iters as u64 {
            acc = acc.wrapping_add(bindings::htbench_target(i));
        }
        let t1 = bindings::htbench_local_clock();
        bindings::htbench_irq_restore(flags);
        t1.saturating_sub(t0).saturating_mul(1000) / iters.max(1) as u64
    };
    core::hint::black_box(acc);
    ps
}

/// `repeat` timed loops on this CPU.
pub(crate) fn one_cpu(iters: u32, budget_ns: u32, repeat: usize) -> Figure {
    let mut v = [0u64; MAX_REPEAT];
    let n = repeat.clamp(1, MAX_REPEAT);
    let calls = sized(iters, budget_ns, timed_loop(iters));
    for x in &mut v[..n] {
        *x = timed_loop(calls);
    }
    figure(&mut v[..n])
}

/// Shared by the CPUs of one all-CPU round.
struct Round {
    iters: u32,
    cpus: u32,
    arrived: AtomicU32,
    late: AtomicU32,
    ps: [AtomicU64; MAX_CPUS],
}

/// Runs on every CPU from `on_each_cpu` (interrupts masked): waits for the
/// others so that the loops overlap, then runs the timed loop.
unsafe extern "C" fn round_on_cpu(info: *mut core::ffi::c_void) {
    // SAFETY: `info` is the `Round` that `all_cpus` passed, alive until
    // `on_each_cpu` returns, which waits for every CPU.
    let r = unsafe { &*(info as *const Round) };
    r.arrived.fetch_add(1, Ordering::AcqRel);
    let mut spins = 0u64;
    while r.arrived.load(Ordering::Acquire) < r.cpus {
        core::hint::spin_loop();
        spins += 1;
        if spins > 2_000_000_000 {
            r.late.fetch_add(1, Ordering::Relaxed);
            break;
        }
    }
    // SAFETY: no preconditions.
    let cpu = unsafe { bindings::htbench_cpu() } as usize;
    if let Some(slot) = r.ps.get(cpu) {
        slot.store(timed_loop(r.iters), Ordering::Relaxed);
    }
}

/// An all-CPU measurement: per round, the mean over CPUs of each CPU's
/// per-call time; min and median over rounds, and each CPU's median.
pub(crate) struct AllCpus {
    pub(crate) figure: Figure,
    pub(crate) cpus: u32,
    pub(crate) per_cpu: KVec<u64>,
}

pub(crate) fn all_cpus(iters: u32, budget_ns: u32, repeat: usize) -> Result<AllCpus> {
    // SAFETY: no preconditions.
    let cpus = unsafe { bindings::htbench_online_cpus() };
    if cpus as usize > MAX_CPUS {
        return Err(E2BIG);
    }
    let n = repeat.clamp(1, MAX_REPEAT);
    let mut means = [0u64; MAX_REPEAT];
    let mut per_cpu_runs = KVec::from_elem(0u64, cpus as usize * n, GFP_KERNEL)?;
    // Round 0 is the untimed one, of `iters` calls; it sizes the others.
    let mut calls = iters;
    for k in 0..=n {
        let round = KBox::new(
            Round {
                iters: calls,
                cpus,
                arrived: AtomicU32::new(0),
                late: AtomicU32::new(0),
                ps: [const { AtomicU64::new(0) }; MAX_CPUS],
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `round` outlives the call, which waits for every CPU.
        unsafe { bindings::htbench_on_each_cpu(Some(round_on_cpu), &*round as *const Round as *mut _) };
        if round.late.load(Ordering::Relaxed) != 0 {
            pr_err!("htbench: a CPU never joined the all-CPU round\n");
            return Err(EAGAIN);
        }
        let Some(k) = k.checked_sub(1) else {
            let slowest = round.ps[..cpus as usize].iter().map(|p| p.load(Ordering::Relaxed)).max();
            calls = sized(iters, budget_ns, slowest.unwrap_or(0));
            continue;
        };
        // Online CPUs are 0..cpus in the guests (no hotplug during a run).
        let mut sum = 0u64;
        for cpu in 0..cpus as usize {
            let ps = round.ps[cpu].load(Ordering::Relaxed);
            per_cpu_runs[cpu * n + k] = ps;
            sum += ps;
        }
        means[k] = sum / cpus.max(1) as u64;
    }
    let mut per_cpu = KVec::with_capacity(cpus as usize, GFP_KERNEL)?;
    for cpu in 0..cpus as usize {
        per_cpu.push(figure(&mut per_cpu_runs[cpu * n..(cpu + 1) * n]).median, GFP_KERNEL)?;
    }
    Ok(AllCpus { figure: figure(&mut means[..n]), cpus, per_cpu })
}
