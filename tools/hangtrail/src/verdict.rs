//! The decoder's view of the verdict: the shared core
//! ([`crate::verdict_core`], the same code `hangtrail.ko` runs) plus the
//! decoded records and their names. Nothing here decides anything: the
//! state, the CPU, the last record and what comes next are the core's.

use std::fmt;

use crate::decode::{Decoded, Rec};
use crate::format::{Kind, Record, Trail};
use crate::symbols::Sym;
use crate::verdict_core::{self as core_v, has};
pub use crate::verdict_core::{
    CpuState, Facts, Namer, Next, PeriodSource, Reason, State, Step, TrailNamer,
};

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

/// A CPU whose newest samples sit in one place with one task.
#[derive(Clone, Debug)]
pub struct Stuck {
    /// The CPU.
    pub cpu: u32,
    /// The function of the newest sample, if known (a name only).
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

/// A CPU online after the CPU stop that was never seen stopped.
#[derive(Clone, Debug)]
pub struct StaleCpu {
    /// The CPU.
    pub cpu: u32,
    /// Its last breadcrumb.
    pub last: Option<Rec>,
    /// Its last sample.
    pub last_sample: Option<Rec>,
}

/// One CPU as reconstructed, with its records decoded.
#[derive(Clone, Debug)]
pub struct CpuView {
    /// The CPU.
    pub cpu: u32,
    /// The core's reconstruction.
    pub state: CpuState,
    /// Its first crash-path record.
    pub entry: Option<Rec>,
    /// Its newest breadcrumb.
    pub last: Option<Rec>,
    /// Where it was stopped.
    pub stop: Option<Rec>,
    /// Its own saved context (a CPU on the crash path).
    pub context: Option<Rec>,
    /// Its hard-lockup context.
    pub lockup: Option<Rec>,
    /// Its newest sample.
    pub last_sample: Option<Rec>,
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
    /// The core's verdict, as computed.
    pub core: core_v::Verdict,
    /// The one-line summary the module prints for this trail (names from
    /// the trail alone).
    pub summary: String,
    /// The same line with the decoder's names (symbols).
    pub line: String,
}

/// Finds the decoded record that is `r`.
pub fn find<'a>(d: &'a Decoded, r: &Record) -> Option<&'a Rec> {
    if !has(r) {
        return None;
    }
    let list = if r.kind == Kind::Sample as u8 {
        &d.samples
    } else {
        &d.records
    };
    let i = list.partition_point(|x| x.seq() < r.seq);
    list[i..]
        .iter()
        .take_while(|x| x.seq() == r.seq)
        .find(|x| x.raw == *r)
}

/// Names records with the decoder's symbols, else as the module would.
struct DecodedNamer<'a, 'b> {
    d: &'a Decoded,
    t: &'a Trail<'b>,
}

impl Namer for DecodedNamer<'_, '_> {
    fn name(&self, r: &Record, w: &mut dyn fmt::Write) -> fmt::Result {
        match find(self.d, r) {
            Some(x) if x.sym.is_some() => w.write_str(&x.location()),
            Some(x) if x.kind != Kind::PanicNotifier => w.write_str(&x.location()),
            _ => TrailNamer(self.t).name(r, w),
        }
    }
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

/// Runs the core on `t` and attaches the decoded records: the verdict, the
/// per-CPU views, stale and stuck CPUs.
pub fn build(t: &Trail<'_>, d: &Decoded) -> (Verdict, Vec<CpuView>, Vec<StaleCpu>, Vec<Stuck>) {
    let mut cpus = vec![CpuState::EMPTY; t.header.nr_cpus as usize];
    let v = core_v::analyze(t, &mut cpus);
    let get = |r: &Record| find(d, r).cloned();
    let mut next = String::new();
    let _ = core_v::write_next(t, v.next, &mut next);
    let mut summary = String::new();
    let _ = core_v::summary(t, &v, &cpus, &TrailNamer(t), &mut summary);
    let mut line = String::from("verdict: ");
    let _ = core_v::summary(t, &v, &cpus, &DecodedNamer { d, t }, &mut line);
    let verdict = Verdict {
        state: v.state,
        reason: v.reason,
        cpu: v.cpu,
        last: get(&v.last),
        next_expected: (v.next != Next::None).then_some(next),
        core: v,
        summary,
        line,
    };
    let mut views = Vec::new();
    let mut stale = Vec::new();
    let mut stuck = Vec::new();
    for (i, c) in cpus.iter().enumerate() {
        if !c.seen() && !c.still_online && !has(&c.hard_lockup) {
            continue;
        }
        let cpu = i as u32;
        let view = CpuView {
            cpu,
            state: *c,
            entry: get(&c.entry),
            last: get(&c.last),
            stop: get(&c.stop),
            context: get(&c.own_context),
            lockup: get(&c.lockup_ctx),
            last_sample: get(&c.last_sample),
        };
        if c.stale {
            stale.push(StaleCpu {
                cpu,
                last: view.last.clone(),
                last_sample: view.last_sample.clone(),
            });
        }
        if let (true, Some(s)) = (c.stuck > 0, view.last_sample.clone()) {
            stuck.push(Stuck {
                cpu,
                sym: s.sym.clone(),
                pc: s.pc(),
                pid: s.arg(),
                count: c.stuck as usize,
                last: s,
            });
        }
        views.push(view);
    }
    (verdict, views, stale, stuck)
}
