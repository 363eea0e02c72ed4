//! The conclusions: soft lockup facts, stuck samples, CPUs that failed to
//! stop, and the verdict with what was expected next.

use std::collections::BTreeSet;

use crate::decode::{Decoded, Rec};
use crate::format::{Kind, Role, HDR_CRASH_KERNEL_REACHED, REC_LOAD_PHASE};
use crate::symbols::Sym;

/// Samples in a row in one function, with one pid, that make a CPU "stuck".
pub const STUCK_SAMPLES: usize = 3;

/// The soft lockup detector's report.
#[derive(Clone, Debug)]
pub struct SoftLockup {
    /// The `SoftLockup` record (cpu, interrupted pc).
    pub rec: Rec,
    /// How long the CPU was stuck, ns (0 if unknown).
    pub duration_ns: u64,
    /// Task name.
    pub comm: String,
    /// Task pid.
    pub pid: u32,
    /// Caller frames, nearest first.
    pub frames: Vec<Rec>,
}

/// A CPU whose last samples all sit in one function with one task.
#[derive(Clone, Debug)]
pub struct Stuck {
    /// The CPU.
    pub cpu: u32,
    /// The function, if known.
    pub sym: Option<Sym>,
    /// pc of the newest sample.
    pub pc: u64,
    /// pid of the task.
    pub pid: u64,
    /// Samples in the run.
    pub count: usize,
    /// The newest sample.
    pub last: Rec,
}

/// A CPU still online after the CPU stop that never reached crash_save_cpu.
#[derive(Clone, Debug)]
pub struct StaleCpu {
    /// CPU id (from the `StillOnline` record's arg).
    pub cpu: u64,
    /// Its last breadcrumb.
    pub last: Option<Rec>,
    /// Its last sample.
    pub last_sample: Option<Rec>,
}

/// The overall state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum State {
    /// No valid records at all.
    #[default]
    Empty,
    /// The crash kernel was reached.
    Handoff,
    /// The machine hung (crash path started, stuck CPU, or kexec load hang).
    Hung,
    /// Nothing says the machine crashed.
    NoCrash,
}

impl State {
    /// `empty`, `handoff`, `hung` or `no-crash`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Handoff => "handoff",
            Self::Hung => "hung",
            Self::NoCrash => "no-crash",
        }
    }
}

/// Why a trail is `hung`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The crash path started and the crash kernel was not reached.
    CrashPath,
    /// A CPU's samples show it stuck in one function.
    StuckSamples,
    /// The last breadcrumb is from `kexec -p` load, which never returned.
    KexecLoad,
}

impl Reason {
    /// `crash-path`, `stuck-samples` or `kexec-load`.
    pub fn name(self) -> &'static str {
        match self {
            Self::CrashPath => "crash-path",
            Self::StuckSamples => "stuck-samples",
            Self::KexecLoad => "kexec-load",
        }
    }
}

/// Where the machine was when the trail ends.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// The state.
    pub state: State,
    /// Why it is `hung`.
    pub reason: Option<Reason>,
    /// The CPU the verdict is about.
    pub cpu: Option<u32>,
    /// The record it was last seen at.
    pub last: Option<Rec>,
    /// What should have come next.
    pub next_expected: Option<String>,
}

fn last_breadcrumb_on(d: &Decoded, cpu: u32) -> Option<&Rec> {
    d.records
        .iter()
        .rev()
        .find(|r| r.cpu() == cpu && r.is_breadcrumb())
}

/// The last soft lockup report and its caller frames.
pub fn softlockup(d: &Decoded) -> Option<SoftLockup> {
    let sl = d
        .records
        .iter()
        .rev()
        .find(|r| r.kind == Kind::SoftLockup)?;
    let mut frames: Vec<Rec> = d
        .records
        .iter()
        .filter(|r| r.cpu() == sl.cpu() && r.seq() > sl.seq())
        .take_while(|r| r.kind != Kind::SoftLockup)
        .filter(|r| r.kind == Kind::Frame)
        .cloned()
        .collect();
    frames.sort_by_key(|r| (r.arg(), r.seq()));
    let p = &sl.raw.payload;
    Some(SoftLockup {
        rec: sl.clone(),
        duration_ns: sl.arg(),
        comm: crate::decode::printable(crate::format::cstr(&p[..16])),
        pid: u32::from_le_bytes([p[16], p[17], p[18], p[19]]),
        frames,
    })
}

/// CPUs whose newest [`STUCK_SAMPLES`] or more samples are all non-idle,
/// kernel-mode, in the same function (same pc without symbols), same pid.
pub fn stuck_samples(d: &Decoded) -> Vec<Stuck> {
    let cpus: BTreeSet<u32> = d.samples.iter().map(Rec::cpu).collect();
    let key = |r: &Rec| match &r.sym {
        Some(s) => (Some((s.name.clone(), s.module.clone())), 0),
        None => (None, r.pc()),
    };
    let mut out = Vec::new();
    for cpu in cpus {
        let mut newest = d.samples.iter().rev().filter(|r| r.cpu() == cpu);
        let Some(last) = newest.next() else { continue };
        if !last.is_busy_kernel() {
            continue;
        }
        let k = key(last);
        let count = 1 + newest
            .take_while(|r| r.is_busy_kernel() && r.arg() == last.arg() && key(r) == k)
            .count();
        if count >= STUCK_SAMPLES {
            out.push(Stuck {
                cpu,
                sym: last.sym.clone(),
                pc: last.pc(),
                pid: last.arg(),
                count,
                last: last.clone(),
            });
        }
    }
    out
}

/// CPUs named by `StillOnline` records that never wrote a record at a
/// `crash_save_cpu` point.
pub fn stale_cpus(d: &Decoded) -> Vec<StaleCpu> {
    let online: BTreeSet<u64> = d
        .records
        .iter()
        .filter(|r| r.kind == Kind::StillOnline)
        .map(Rec::arg)
        .collect();
    let saved: BTreeSet<u64> = d
        .records
        .iter()
        .filter(|r| d.role(r) == Some(Role::CrashSaveCpu))
        .map(|r| u64::from(r.cpu()))
        .collect();
    online
        .difference(&saved)
        .map(|&cpu| {
            let c = u32::try_from(cpu).ok();
            StaleCpu {
                cpu,
                last: c.and_then(|c| last_breadcrumb_on(d, c)).cloned(),
                last_sample: c
                    .and_then(|c| d.samples.iter().rev().find(|r| r.cpu() == c))
                    .cloned(),
            }
        })
        .collect()
}

/// Display name of the crash-path step with rank `rank`.
fn rank_name(d: &Decoded, rank: u8) -> Option<String> {
    if rank > Role::MachineKexec.crash_path_rank()? {
        return Some("crash kernel handoff".into());
    }
    let role = (0..=u8::MAX)
        .filter_map(Role::from_u8)
        .find(|r| r.crash_path_rank() == Some(rank))?;
    Some(
        d.points
            .iter()
            .find(|p| p.role == Some(role) && p.registered())
            .map_or_else(|| role.name().to_string(), |p| p.name.clone()),
    )
}

/// What should have followed `last`.
fn next_expected(d: &Decoded, last: &Rec) -> Option<String> {
    let role = d.role(last);
    if role == Some(Role::User) {
        if let Some(s) = &last.sym {
            let next = d
                .points
                .iter()
                .filter(|p| p.role == Some(Role::User) && p.registered())
                .filter(|p| p.symbol() == &*s.name && u64::from(p.offset) > s.offset)
                .min_by_key(|p| p.offset);
            if let Some(p) = next {
                return Some(p.name.clone());
            }
        }
    }
    if let Some(rank) = role.and_then(Role::crash_path_rank) {
        return rank_name(d, rank + 1);
    }
    if last.has(REC_LOAD_PHASE) {
        let post_load = d
            .points
            .iter()
            .find(|p| p.role == Some(Role::KexecPostLoad))
            .map_or("machine_kexec_post_load", |p| p.symbol());
        return Some(format!("return from {post_load}"));
    }
    // Off the ranked path (e.g. a cache maintenance point): the step after
    // the furthest one this CPU reached.
    let reached = d
        .records
        .iter()
        .filter(|r| r.cpu() == last.cpu() && r.seq() <= last.seq())
        .filter_map(|r| d.role(r)?.crash_path_rank())
        .max()?;
    rank_name(d, reached + 1)
}

/// The verdict; see Documentation/decoder.rst.
pub fn verdict(d: &Decoded) -> Verdict {
    if d.records.is_empty() && d.samples.is_empty() {
        return Verdict::default();
    }
    let last_crash = d.records.iter().rev().find(|r| d.is_crash_path(r));
    let last_bc = d.records.iter().rev().find(|r| r.is_breadcrumb());
    if d.header.flags & HDR_CRASH_KERNEL_REACHED != 0 {
        let last = last_crash.or(last_bc);
        return Verdict {
            state: State::Handoff,
            reason: None,
            cpu: last.map(Rec::cpu),
            last: last.cloned(),
            next_expected: None,
        };
    }
    let hung = |reason, last: Option<&Rec>| {
        let last = last.cloned();
        Verdict {
            state: State::Hung,
            reason: Some(reason),
            cpu: last.as_ref().map(Rec::cpu),
            next_expected: last.as_ref().and_then(|l| next_expected(d, l)),
            last,
        }
    };
    if let Some(c) = last_crash {
        return hung(
            Reason::CrashPath,
            last_breadcrumb_on(d, c.cpu()).or(Some(c)),
        );
    }
    if let Some(s) = d
        .stuck
        .iter()
        .max_by_key(|s| (s.count, std::cmp::Reverse(s.cpu)))
    {
        let mut v = hung(
            Reason::StuckSamples,
            last_breadcrumb_on(d, s.cpu).or(Some(&s.last)),
        );
        v.cpu = Some(s.cpu);
        return v;
    }
    if let Some(l) = last_bc.filter(|l| l.has(REC_LOAD_PHASE)) {
        let returned = d.records.iter().any(|r| {
            r.kind == Kind::Return && r.seq() >= l.seq() && d.role(r) == Some(Role::KexecPostLoad)
        });
        if !returned {
            return hung(Reason::KexecLoad, Some(l));
        }
    }
    Verdict {
        state: State::NoCrash,
        reason: None,
        cpu: last_bc.map(Rec::cpu),
        last: last_bc.cloned(),
        next_expected: None,
    }
}
