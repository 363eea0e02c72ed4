// SPDX-License-Identifier: GPL-2.0

//! The verdict: where each CPU was when the trail ends, and what that says
//! about the machine. The one implementation both `hangtrail.ko` (its dmesg
//! line about the previous trail) and the userspace decoder use.
//!
//! Plain `no_std` core Rust, no allocation, no dependency but
//! [`crate::format`]: the caller provides one [`CpuState`] per CPU as scratch
//! (the module allocates it at init, the decoder in a `Vec`).
//!
//! Two steps, both linear in the region's slots:
//! 1. [`reconstruct`]: every valid record is read once, into its CPU's
//!    [`CpuState`] (records about another CPU, such as a stop map or a hard
//!    lockup, update that CPU's state in O(1)); then each CPU's few sample
//!    slots are read. Nothing looks at symbols: stuck and silent are judged
//!    on pcs, point roles and time.
//! 2. [`verdict`]: the crash CPU, the state and what was expected next.
//!
//! [`summary`] writes the one-line summary. See Documentation/decoder.rst
//! ("Verdict") for the rules.

use core::fmt::{self, Write};

use crate::format::{
    cstr, is_breadcrumb, Kind, Record, Role, Slot, Trail, HDR_CRASH_KERNEL_REACHED,
    HDR_CRASH_MARKS, HDR_ENDED, HDR_POST_NOTIFIERS, KEXEC_IMAGE_CRASH, KEXEC_IMAGE_DEFAULT,
    MAX_POINTS, NO_POINT, PAYLOAD_LEN, REC_CRASH_PHASE, REC_IDLE, REC_LOAD_PHASE, REC_STOPPED,
    REC_USER, SAMPLES_PER_CPU,
};

/// Watchdog sample period assumed when the header does not say (format v1)
/// and the samples do not show it: the hrtimer period at the default
/// `watchdog_thresh=10` (`2 * 10 s / 5`).
pub const DEFAULT_SAMPLE_PERIOD_NS: u64 = 4_000_000_000;
/// Shortest sample period believed when estimating it from the samples.
pub const MIN_SAMPLE_PERIOD_NS: u64 = 10_000_000;
/// A CPU is silent when it wrote no sample (nor a breadcrumb of its own)
/// for more than this many sample periods before the reference time.
pub const SILENT_PERIODS: u64 = 2;
/// Samples in a row (newest first) that make a CPU stuck.
pub const STUCK_SAMPLES: u32 = 3;
/// The pcs of a stuck run lie within this many bytes of each other: one
/// loop, whatever the symbols say.
pub const STUCK_PC_SPAN: u64 = 4096;

/// A step of the kdump crash path, in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Not on the crash path.
    #[default]
    None,
    /// `panic()` entry.
    Panic,
    /// `__crash_kexec`.
    CrashKexec,
    /// `machine_crash_shutdown`.
    CrashShutdown,
    /// Stopping the other CPUs.
    CpuStop,
    /// `crash_save_cpu` on the crash CPU.
    CrashSaveCpu,
    /// `machine_kexec`.
    MachineKexec,
    /// The crash kernel.
    Handoff,
}

impl Step {
    /// The step of a point role on the crash path.
    pub fn of_role(r: Role) -> Step {
        match r {
            Role::PanicEntry => Step::Panic,
            Role::CrashKexec => Step::CrashKexec,
            Role::CrashShutdown => Step::CrashShutdown,
            Role::CpuStop => Step::CpuStop,
            Role::CrashSaveCpu => Step::CrashSaveCpu,
            Role::MachineKexec => Step::MachineKexec,
            _ => Step::None,
        }
    }

    /// Where this step comes in the crash path the header describes:
    /// with `crash_kexec_post_notifiers` the CPU stop runs first, from
    /// `panic()` (`crash_smp_send_stop`), then the notifiers and
    /// `__crash_kexec`.
    pub fn rank(self, post_notifiers: bool) -> u8 {
        match (self, post_notifiers) {
            (Step::None, _) => 0,
            (Step::Panic, _) => 1,
            (Step::CpuStop, true) => 2,
            (Step::CrashKexec, true) => 3,
            (Step::CrashShutdown, true) => 4,
            (Step::CrashKexec, false) => 2,
            (Step::CrashShutdown, false) => 3,
            (Step::CpuStop, false) => 4,
            (Step::CrashSaveCpu, _) => 5,
            (Step::MachineKexec, _) => 6,
            (Step::Handoff, _) => 7,
        }
    }

    /// The step after this one in the header's order (see [`Step::rank`]).
    pub fn next_in(self, post_notifiers: bool) -> Step {
        if !post_notifiers {
            return self.next();
        }
        match self {
            Step::None => Step::Panic,
            Step::Panic => Step::CpuStop,
            Step::CpuStop => Step::CrashKexec,
            Step::CrashKexec => Step::CrashShutdown,
            Step::CrashShutdown => Step::CrashSaveCpu,
            s => s.next(),
        }
    }

    /// The step after this one (without post-notifiers).
    pub fn next(self) -> Step {
        match self {
            Step::None => Step::Panic,
            Step::Panic => Step::CrashKexec,
            Step::CrashKexec => Step::CrashShutdown,
            Step::CrashShutdown => Step::CpuStop,
            Step::CpuStop => Step::CrashSaveCpu,
            Step::CrashSaveCpu => Step::MachineKexec,
            Step::MachineKexec | Step::Handoff => Step::Handoff,
        }
    }

    /// The point role of this step.
    pub fn role(self) -> Option<Role> {
        Some(match self {
            Step::Panic => Role::PanicEntry,
            Step::CrashKexec => Role::CrashKexec,
            Step::CrashShutdown => Role::CrashShutdown,
            Step::CpuStop => Role::CpuStop,
            Step::CrashSaveCpu => Role::CrashSaveCpu,
            Step::MachineKexec => Role::MachineKexec,
            Step::None | Step::Handoff => return None,
        })
    }

    /// Stable name (JSON).
    pub fn name(self) -> &'static str {
        match self {
            Step::None => "none",
            Step::Panic => "panic-entry",
            Step::CrashKexec => "crash-kexec",
            Step::CrashShutdown => "crash-shutdown",
            Step::CpuStop => "cpu-stop",
            Step::CrashSaveCpu => "crash-save-cpu",
            Step::MachineKexec => "machine-kexec",
            Step::Handoff => "handoff",
        }
    }
}

/// What one CPU did, from every record about it. `Record::seq == 0` means
/// "none" for the record fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuState {
    /// Valid ring records written by this CPU.
    pub records: u32,
    /// Valid samples of this CPU.
    pub samples: u32,
    /// Its first own record on the crash path: it entered the crash path.
    pub entry: Record,
    /// How far along the crash path its own records got.
    pub furthest: Step,
    /// The crash-path steps its own records show (bit `1 << Step as u8`).
    pub steps: u16,
    /// Its newest breadcrumb (`format::is_breadcrumb`).
    pub last: Record,
    /// Its newest `crash_save_cpu` hit (progress if it entered the crash
    /// path, its stop otherwise).
    pub save: Record,
    /// Its first `__crash_kexec` hit.
    pub crash_kexec: Record,
    /// Its newest panic-notifier record.
    pub notifier: Record,
    /// Its newest `CrashLoaded` record.
    pub crash_loaded: Record,
    /// Its newest `KexecImage` record.
    pub kexec_image: Record,
    /// Its first reboot record (restart, emergency restart, power-off,
    /// `kernel_kexec`, or a `KexecImage` of the default image).
    pub reboot: Record,
    /// Where it was stopped: its `StopContext` (pc, sp, lr), else the
    /// record its stop handler wrote.
    pub stop: Record,
    /// A CPU on the crash path: the `StopContext` it wrote for itself (the
    /// crash CPU's saved context), not flagged stopped.
    pub own_context: Record,
    /// Named by a stop map / still-online record: online after the CPU stop
    /// and not seen stopped by the crash CPU.
    pub still_online: bool,
    /// Online after the stop, never seen stopped, and every stop-handler
    /// run was recorded: it failed to stop.
    pub stale: bool,
    /// Online after the stop and never seen stopped, but some stop-handler
    /// runs went unrecorded (kprobes skipped them): it may have stopped
    /// unseen. Unknown, not stale.
    pub stop_unknown: bool,
    /// The `HardLockup` record naming it.
    pub hard_lockup: Record,
    /// Its context from the hard-lockup backtrace NMI.
    pub lockup_ctx: Record,
    /// Its newest sample.
    pub last_sample: Record,
    /// Time of its newest sign of running on its own (sample or
    /// breadcrumb, not a stop-handler or NMI record).
    pub alive_ns: u64,
    /// Samples in its newest stuck run (0 if not stuck).
    pub stuck: u32,
    /// Lowest and highest pc of the stuck run.
    pub stuck_pc_lo: u64,
    /// See `stuck_pc_lo`.
    pub stuck_pc_hi: u64,
    /// Silent for this long before the reference time (0: not silent).
    pub silent_ns: u64,
    /// Smallest gap between two of its samples (0: fewer than two).
    pub min_gap_ns: u64,
    /// Its newest soft lockup report.
    pub soft: Record,
    /// That report is still in force: no sample after it shows the CPU
    /// running normally again (idle, user mode, or another task).
    pub soft_in_force: bool,
    /// Its newest hard lockup report is still in force: it did not run
    /// on its own after it.
    pub hard_in_force: bool,
    /// The oldest sample of its stuck run (0 if not stuck).
    pub stuck_since: u64,
    /// Its newest steady sample gap: the newest two consecutive gaps that
    /// agree within a quarter (0: none).
    pub steady_gap_ns: u64,
    /// Time of the newest sample of that steady pair.
    pub steady_at: u64,
    /// Time of its newest sample that is idle, user mode, or outside a
    /// kexec load window (0: none): the load task was not running there.
    pub free_ns: u64,
}

/// Whether a record field holds a record.
pub fn has(r: &Record) -> bool {
    r.seq != 0
}

impl CpuState {
    /// Nothing seen yet.
    pub const EMPTY: CpuState = CpuState {
        records: 0,
        samples: 0,
        entry: EMPTY_RECORD,
        furthest: Step::None,
        steps: 0,
        last: EMPTY_RECORD,
        save: EMPTY_RECORD,
        crash_kexec: EMPTY_RECORD,
        notifier: EMPTY_RECORD,
        crash_loaded: EMPTY_RECORD,
        kexec_image: EMPTY_RECORD,
        reboot: EMPTY_RECORD,
        stop: EMPTY_RECORD,
        own_context: EMPTY_RECORD,
        still_online: false,
        stale: false,
        stop_unknown: false,
        hard_lockup: EMPTY_RECORD,
        lockup_ctx: EMPTY_RECORD,
        last_sample: EMPTY_RECORD,
        alive_ns: 0,
        stuck: 0,
        stuck_pc_lo: 0,
        stuck_pc_hi: 0,
        silent_ns: 0,
        min_gap_ns: 0,
        soft: EMPTY_RECORD,
        soft_in_force: false,
        hard_in_force: false,
        stuck_since: 0,
        steady_gap_ns: 0,
        steady_at: 0,
        free_ns: 0,
    };

    /// It entered the crash path itself.
    pub fn entered(&self) -> bool {
        has(&self.entry)
    }

    /// It was seen stopped by the crash path.
    pub fn stopped(&self) -> bool {
        has(&self.stop)
    }

    /// It fell silent.
    pub fn silent(&self) -> bool {
        self.silent_ns != 0
    }

    /// Any valid record or sample of it.
    pub fn seen(&self) -> bool {
        self.records != 0 || self.samples != 0
    }
}

const EMPTY_RECORD: Record = Record {
    seq: 0,
    ts_ns: 0,
    pc: 0,
    arg: 0,
    cpu: 0,
    kind: 0,
    flags: 0,
    point: NO_POINT,
    payload: [0; PAYLOAD_LEN],
    csum: 0,
};

/// The machine's state when the trail ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum State {
    /// No valid record at all.
    #[default]
    Empty,
    /// The crash kernel marked the trail: kdump was reached.
    Handoff,
    /// The crash CPU reached `machine_kexec` with the crash image, and
    /// nothing marked the crash kernel's arrival.
    Unconfirmed,
    /// The machine hung (see [`Reason`]).
    Hung,
    /// A panic with no crash kernel loaded.
    NoKdump,
    /// An orderly reboot, `kexec -e`, or a panic timeout.
    Rebooted,
    /// Nothing says the machine crashed or hung.
    NoCrash,
}

impl State {
    /// Stable name (JSON).
    pub fn name(self) -> &'static str {
        match self {
            State::Empty => "empty",
            State::Handoff => "handoff",
            State::Unconfirmed => "unconfirmed",
            State::Hung => "hung",
            State::NoKdump => "no-kdump",
            State::Rebooted => "rebooted",
            State::NoCrash => "no-crash",
        }
    }
}

/// Why the state is `hung`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The crash path started and did not finish.
    CrashPath,
    /// `kexec -p` (the load) never returned.
    KexecLoad,
    /// The hard-lockup detector found a CPU stuck.
    HardLockup,
    /// The soft lockup detector reported a CPU stuck, and it stayed so.
    SoftLockup,
    /// A CPU's samples show it stuck in one place.
    StuckSamples,
    /// A CPU stopped writing samples while the others went on.
    Silent,
}

impl Reason {
    /// Stable name (JSON).
    pub fn name(self) -> &'static str {
        match self {
            Reason::CrashPath => "crash-path",
            Reason::KexecLoad => "kexec-load",
            Reason::HardLockup => "hard-lockup",
            Reason::SoftLockup => "soft-lockup",
            Reason::StuckSamples => "stuck-samples",
            Reason::Silent => "silent",
        }
    }
}

/// What should have come next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Next {
    /// Nothing to say.
    #[default]
    None,
    /// The next `user` point in the same function (index).
    Point(u16),
    /// A crash-path step.
    Step(Step),
    /// The return of `machine_kexec_post_load`.
    PostLoadReturn,
}

/// How the sample period was found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PeriodSource {
    /// The header's `sample_period_ns`.
    Header,
    /// The smallest gap between two samples of one CPU.
    Samples,
    /// [`DEFAULT_SAMPLE_PERIOD_NS`].
    #[default]
    Default,
}

impl PeriodSource {
    /// Stable name (JSON).
    pub fn name(self) -> &'static str {
        match self {
            PeriodSource::Header => "header",
            PeriodSource::Samples => "samples",
            PeriodSource::Default => "default",
        }
    }
}

/// Facts about the whole trail, gathered by [`reconstruct`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts {
    /// Valid ring records and samples.
    pub valid: u64,
    /// Newest timestamp of any valid record or sample.
    pub end_ns: u64,
    /// The newest breadcrumb of any CPU.
    pub last: Record,
    /// Newest `Return` of the kexec-post-load point.
    pub post_load_return: Record,
    /// Some record says a kexec image was being loaded.
    pub load_seen: bool,
    /// The newest breadcrumb written inside a kexec load window.
    pub load_last: Record,
    /// The newest end of a load window: the return of
    /// `machine_kexec_post_load` or of a load syscall.
    pub load_end: Record,
    /// The crash CPU's `StopResult` (others still online).
    pub stop_result: Record,
    /// Stop-handler runs that kprobes skipped (from stop maps).
    pub stop_unknown: u32,
    /// The sample period silence is judged against.
    pub period_ns: u64,
    /// Where `period_ns` came from.
    pub period_source: PeriodSource,
}

/// The verdict.
#[derive(Clone, Copy, Debug, Default)]
pub struct Verdict {
    /// The state.
    pub state: State,
    /// Why it is `hung`.
    pub reason: Option<Reason>,
    /// The CPU the verdict is about.
    pub cpu: Option<u32>,
    /// Its newest breadcrumb (else its newest sample).
    pub last: Record,
    /// What should have followed.
    pub next: Next,
    /// The CPU that entered the crash path first and got furthest.
    pub crash_cpu: Option<u32>,
    /// How far it got.
    pub furthest: Step,
    /// Another CPU that entered the crash path after the crash CPU (a
    /// later panic), the first.
    pub later_panic: Option<u32>,
    /// Another CPU that entered the crash path before the crash CPU but
    /// got less far, the first.
    pub earlier_panic: Option<u32>,
    /// The crash CPU's `__crash_kexec` returned with a crash image loaded
    /// (`kexec_trylock` failed: a kexec load or `kexec -e` held the lock).
    pub kexec_busy: bool,
    /// The reboot record, if the state is `rebooted` or one was seen.
    pub reboot: Record,
    /// The crash CPU's `CrashLoaded` answer: `Some(false)` = no crash image.
    pub crash_loaded: Option<bool>,
    /// Time silence is measured up to: the crash-path entry, else the end.
    pub ref_ns: u64,
    /// Trail-wide facts.
    pub facts: Facts,
}

fn role_of(t: &Trail<'_>, r: &Record) -> Option<Role> {
    if r.point == NO_POINT || r.kind == Kind::Name as u8 {
        return None;
    }
    Role::from_u8(t.point(r.point as usize)?.role)
}

fn newer(slot: &mut Record, r: &Record) {
    if r.seq > slot.seq {
        *slot = *r;
    }
}

fn older(slot: &mut Record, r: &Record) {
    if !has(slot) || r.seq < slot.seq {
        *slot = *r;
    }
}

fn is_reboot_role(r: Role) -> bool {
    matches!(
        r,
        Role::Restart | Role::EmergencyRestart | Role::PowerOff | Role::KernelKexec
    )
}

/// Reads every valid record once into `cpus` (`cpus[i]` for CPU `i`; CPUs
/// beyond `cpus.len()` are ignored) and returns the trail-wide facts.
pub fn reconstruct(t: &Trail<'_>, cpus: &mut [CpuState]) -> Facts {
    for c in cpus.iter_mut() {
        *c = CpuState::EMPTY;
    }
    let h = &t.header;
    let v2 = h.version >= 2;
    let nr = (h.nr_cpus as usize).min(cpus.len());
    let mut f = Facts::default();
    // Sample slots come first in the region: once one is past the end of
    // the input, every later slot is too.
    let mut cut = false;
    'samples: for (cpu, c) in cpus[..nr].iter_mut().enumerate() {
        let mut buf = [EMPTY_RECORD; SAMPLES_PER_CPU];
        let mut n = 0;
        for i in 0..(h.samples_per_cpu as usize).min(SAMPLES_PER_CPU) {
            match t.sample_slot(cpu as u32, i as u32) {
                Slot::Valid(r) => {
                    buf[n] = r;
                    n += 1;
                }
                Slot::Missing => {
                    cut = true;
                    samples_done(c, &mut buf[..n], &mut f);
                    break 'samples;
                }
                _ => {}
            }
        }
        samples_done(c, &mut buf[..n], &mut f);
    }
    if !cut {
        let roles = point_roles(t);
        'rings: for cpu in 0..nr {
            for i in 0..h.ring_records {
                let r = match t.ring_slot(cpu as u32, i) {
                    Slot::Valid(r) => r,
                    Slot::Missing => break 'rings,
                    _ => continue,
                };
                f.valid += 1;
                f.end_ns = f.end_ns.max(r.ts_ns);
                ring_record(&roles, cpus, nr, cpu, &r, v2, &mut f);
            }
        }
    }
    // Per CPU: what its crash_save_cpu meant, whether it is stale.
    for c in cpus[..nr].iter_mut() {
        // machine_kexec as the only crash-path step, without this CPU's own
        // crash flag (v2) or a panic notifier: `kexec -e` (after
        // kernel_kexec, or with the default image; v1 cannot tell them
        // apart otherwise), a reboot, not the crash path.
        let mk = 1 << Step::MachineKexec as u16;
        let only_kexec = c.steps & !(1 << Step::None as u16 | mk) == 0 && c.steps & mk != 0;
        let own_flag = v2 && c.entry.flags & REC_CRASH_PHASE != 0;
        if only_kexec && !own_flag && !has(&c.notifier) && !has(&c.crash_loaded) {
            if !has(&c.reboot) {
                c.reboot = c.entry;
            }
            c.entry = EMPTY_RECORD;
            c.furthest = Step::None;
            c.steps = 0;
        }
        if has(&c.save) {
            if c.entered() {
                c.furthest = c.furthest.max(Step::CrashSaveCpu);
                c.alive_ns = c.alive_ns.max(c.save.ts_ns);
            } else if !has(&c.stop) {
                c.stop = c.save;
            }
        }
        // A CPU on the crash path that was not stopped: a stop context it
        // wrote is its own saved context (the crash CPU's), not a stop.
        if c.entered() && has(&c.stop) && c.stop.flags & REC_STOPPED == 0 {
            if c.stop.kind == Kind::StopContext as u8 {
                c.own_context = c.stop;
            }
            c.stop = EMPTY_RECORD;
        }
        let unseen = c.still_online && !c.stopped();
        c.stale = unseen && f.stop_unknown == 0;
        c.stop_unknown = unseen && f.stop_unknown > 0;
    }
    // Per CPU: how far along the crash path, in the header's order.
    let post = h.flags & HDR_POST_NOTIFIERS != 0;
    for c in cpus[..nr].iter_mut() {
        let mut furthest = Step::None;
        for st in [
            Step::Panic,
            Step::CrashKexec,
            Step::CrashShutdown,
            Step::CpuStop,
            Step::CrashSaveCpu,
            Step::MachineKexec,
        ] {
            let done = c.steps & (1 << st as u16) != 0
                || (st == Step::CrashSaveCpu && c.entered() && has(&c.save));
            if done && st.rank(post) > furthest.rank(post) {
                furthest = st;
            }
        }
        if c.entered() {
            c.furthest = furthest;
        }
        // A hard lockup report is in force while the CPU did not run on
        // its own after it.
        c.hard_in_force = has(&c.hard_lockup) && c.alive_ns <= c.hard_lockup.ts_ns;
    }
    // A soft lockup report is in force unless a later sample of its CPU
    // shows it running normally again: idle, user mode, another task.
    if !cut {
        for (cpu, c) in cpus[..nr].iter_mut().enumerate() {
            if !has(&c.soft) {
                continue;
            }
            let p = &c.soft.payload;
            let pid = u64::from(u32::from_le_bytes([p[16], p[17], p[18], p[19]]));
            let mut moved_on = false;
            for i in 0..(h.samples_per_cpu as usize).min(SAMPLES_PER_CPU) {
                if let Slot::Valid(r) = t.sample_slot(cpu as u32, i as u32) {
                    if r.seq > c.soft.seq && (r.flags & (REC_IDLE | REC_USER) != 0 || r.arg != pid) {
                        moved_on = true;
                    }
                }
            }
            c.soft_in_force = !moved_on;
        }
    }
    // The sample period: the header's, unless the samples' steady period
    // disagrees with it (`watchdog_thresh` changed at run time: the header
    // holds the value at load). The steady period of the CPU sampled last
    // is the newest.
    let steady = cpus[..nr]
        .iter()
        .filter(|c| c.steady_gap_ns != 0)
        .max_by_key(|c| c.steady_at)
        .map(|c| c.steady_gap_ns);
    let hp = h.sample_period_ns;
    if v2 && hp != 0 && steady.is_none_or(|g| g.abs_diff(hp) <= hp / 4) {
        f.period_ns = hp;
        f.period_source = PeriodSource::Header;
    } else if let (true, Some(g)) = (v2, steady) {
        f.period_ns = g;
        f.period_source = PeriodSource::Samples;
    } else {
        let gap = cpus[..nr]
            .iter()
            .map(|c| c.min_gap_ns)
            .filter(|&g| g >= MIN_SAMPLE_PERIOD_NS)
            .min();
        match gap {
            Some(g) => {
                f.period_ns = g;
                f.period_source = PeriodSource::Samples;
            }
            None => {
                f.period_ns = DEFAULT_SAMPLE_PERIOD_NS;
                f.period_source = PeriodSource::Default;
            }
        }
    }
    f
}

/// Sorts a CPU's samples by seq and judges them: newest, smallest gap,
/// the stuck run.
fn samples_done(c: &mut CpuState, s: &mut [Record], f: &mut Facts) {
    // Insertion sort: at most SAMPLES_PER_CPU records.
    for i in 1..s.len() {
        let mut j = i;
        while j > 0 && s[j - 1].seq > s[j].seq {
            s.swap(j - 1, j);
            j -= 1;
        }
    }
    c.samples = s.len() as u32;
    f.valid += s.len() as u64;
    let Some(newest) = s.last().copied() else {
        return;
    };
    c.last_sample = newest;
    for r in s.iter() {
        f.end_ns = f.end_ns.max(r.ts_ns);
        c.alive_ns = c.alive_ns.max(r.ts_ns);
        if r.flags & (REC_IDLE | REC_USER) != 0 || r.flags & REC_LOAD_PHASE == 0 {
            c.free_ns = c.free_ns.max(r.ts_ns);
        }
    }
    for w in s.windows(2) {
        let gap = w[1].ts_ns.saturating_sub(w[0].ts_ns);
        if gap > 0 && (c.min_gap_ns == 0 || gap < c.min_gap_ns) {
            c.min_gap_ns = gap;
        }
    }
    // The newest two consecutive gaps that agree: the period the hrtimer
    // runs at now (a missed sample doubles one gap, a `watchdog_thresh`
    // change restarts the timer with another period).
    let mut i = s.len();
    while i >= 3 {
        let g1 = s[i - 1].ts_ns.saturating_sub(s[i - 2].ts_ns);
        let g2 = s[i - 2].ts_ns.saturating_sub(s[i - 3].ts_ns);
        if g1 >= MIN_SAMPLE_PERIOD_NS && g2 >= MIN_SAMPLE_PERIOD_NS && g1.abs_diff(g2) <= g1.max(g2) / 4 {
            c.steady_gap_ns = g1.max(g2);
            c.steady_at = s[i - 1].ts_ns;
            break;
        }
        i -= 1;
    }
    let busy = |r: &Record| r.flags & (REC_IDLE | REC_USER) == 0;
    if !busy(&newest) {
        return;
    }
    let (mut lo, mut hi, mut n) = (newest.pc, newest.pc, 0u32);
    for r in s.iter().rev() {
        let (l, h) = (lo.min(r.pc), hi.max(r.pc));
        if !busy(r) || r.arg != newest.arg || h - l > STUCK_PC_SPAN {
            break;
        }
        (lo, hi, n) = (l, h, n + 1);
    }
    if n >= STUCK_SAMPLES {
        c.stuck = n;
        c.stuck_pc_lo = lo;
        c.stuck_pc_hi = hi;
        c.stuck_since = s[s.len() - n as usize].ts_ns;
    }
}

/// The role byte of every point (0xff: none), read once: a point entry is
/// 256 bytes, too much to copy per record.
fn point_roles(t: &Trail<'_>) -> [u8; MAX_POINTS] {
    let mut roles = [0xff; MAX_POINTS];
    for (i, p) in t.points().enumerate().take(MAX_POINTS) {
        roles[i] = p.role;
    }
    roles
}

fn role_in(roles: &[u8; MAX_POINTS], r: &Record) -> Option<Role> {
    if r.kind == Kind::Name as u8 {
        return None;
    }
    Role::from_u8(*roles.get(r.point as usize)?)
}

fn ring_record(
    roles: &[u8; MAX_POINTS],
    cpus: &mut [CpuState],
    nr: usize,
    cpu: usize,
    r: &Record,
    v2: bool,
    f: &mut Facts,
) {
    let kind = Kind::from_u8(r.kind);
    let role = role_in(roles, r);
    let stopped = r.flags & REC_STOPPED != 0;
    // Records about another CPU.
    match kind {
        Some(Kind::StillOnline) => {
            if let Some(c) = cpus[..nr].get_mut(r.arg as usize) {
                c.still_online = true;
            }
        }
        Some(Kind::StopMap) => {
            let mut mask = r.pc;
            while mask != 0 {
                let bit = u64::from(mask.trailing_zeros());
                mask &= mask - 1;
                if let Some(c) = r
                    .arg
                    .checked_add(bit)
                    .and_then(|i| cpus[..nr].get_mut(i as usize))
                {
                    c.still_online = true;
                }
            }
            let p = &r.payload;
            f.stop_unknown = f
                .stop_unknown
                .max(u32::from_le_bytes([p[0], p[1], p[2], p[3]]));
        }
        Some(Kind::HardLockup) => {
            if let Some(c) = cpus[..nr].get_mut(r.arg as usize) {
                newer(&mut c.hard_lockup, r);
            }
        }
        _ => {}
    }
    let c = &mut cpus[cpu];
    c.records += 1;
    if is_breadcrumb(r) {
        newer(&mut c.last, r);
        newer(&mut f.last, r);
    }
    if r.flags & REC_LOAD_PHASE != 0 || role == Some(Role::KexecPostLoad) {
        f.load_seen = true;
    }
    if kind == Some(Kind::Return) && role == Some(Role::KexecPostLoad) {
        newer(&mut f.post_load_return, r);
    }
    // A load window ends at the return of machine_kexec_post_load, or at
    // the load syscall's when that kretprobe was missed.
    if kind == Some(Kind::Return) && matches!(role, Some(Role::KexecPostLoad | Role::KexecLoad)) {
        newer(&mut f.load_end, r);
    } else if r.flags & REC_LOAD_PHASE != 0 && is_breadcrumb(r) {
        newer(&mut f.load_last, r);
    }
    if kind == Some(Kind::SoftLockup) {
        newer(&mut c.soft, r);
    }
    // Stop-side records: written by a CPU the crash path stopped, from its
    // stop handler or an NMI. They say where it was, not that it ran.
    let stop_side = stopped
        || matches!(kind, Some(Kind::StopContext | Kind::LockupContext))
        || role == Some(Role::StopHandler);
    match kind {
        // The context beats the handler's other records.
        Some(Kind::StopContext) if c.stop.kind != Kind::StopContext as u8 || r.seq > c.stop.seq => {
            c.stop = *r;
        }
        Some(Kind::LockupContext) => newer(&mut c.lockup_ctx, r),
        Some(Kind::StopResult) => newer(&mut f.stop_result, r),
        _ => {}
    }
    if stop_side {
        if kind != Some(Kind::LockupContext) && !has(&c.stop) {
            c.stop = *r;
        }
        return;
    }
    if role == Some(Role::CrashSaveCpu) {
        // Progress or stop: decided once it is known whether it entered.
        newer(&mut c.save, r);
        return;
    }
    // Name chunks and caller frames belong to the record they describe
    // (a lockup context's from an NMI included): not signs of running.
    if matches!(kind, Some(Kind::Name | Kind::Frame)) {
        return;
    }
    c.alive_ns = c.alive_ns.max(r.ts_ns);
    let mut step = match (kind, role) {
        (Some(Kind::Probe | Kind::Return), Some(role)) => Step::of_role(role),
        _ => Step::None,
    };
    match kind {
        Some(Kind::PanicNotifier) => {
            newer(&mut c.notifier, r);
            step = step.max(Step::Panic);
        }
        Some(Kind::CrashLoaded) => {
            newer(&mut c.crash_loaded, r);
            step = step.max(Step::CrashKexec);
        }
        Some(Kind::KexecImage) => {
            newer(&mut c.kexec_image, r);
            if r.arg == KEXEC_IMAGE_DEFAULT {
                older(&mut c.reboot, r);
            } else if r.arg == KEXEC_IMAGE_CRASH {
                step = step.max(Step::MachineKexec);
            }
        }
        _ => {}
    }
    if role == Some(Role::PanicNotifier) && kind == Some(Kind::Probe) {
        newer(&mut c.notifier, r);
        step = step.max(Step::Panic);
    }
    if role.is_some_and(is_reboot_role) {
        older(&mut c.reboot, r);
    }
    if step == Step::CrashKexec && kind == Some(Kind::Probe) {
        older(&mut c.crash_kexec, r);
    }
    // v1: the crash flag was global; v2: it is this CPU's own.
    let flagged = v2 && r.flags & REC_CRASH_PHASE != 0;
    if step != Step::None || flagged {
        older(&mut c.entry, r);
        c.furthest = c.furthest.max(step);
        c.steps |= 1 << step as u16;
    }
}

/// The verdict from the reconstruction (`cpus` as filled by
/// [`reconstruct`]). Also marks silent CPUs in `cpus`.
pub fn verdict(t: &Trail<'_>, cpus: &mut [CpuState], f: &Facts) -> Verdict {
    let h = &t.header;
    let nr = (h.nr_cpus as usize).min(cpus.len());
    let cpus = &mut cpus[..nr];
    let post = h.flags & HDR_POST_NOTIFIERS != 0;
    let mut v = Verdict {
        facts: *f,
        ..Verdict::default()
    };
    // The crash CPU: furthest along the crash path (in the header's
    // order); of equals, the first in.
    let mut crash: Option<usize> = None;
    for (i, c) in cpus.iter().enumerate() {
        if !c.entered() {
            continue;
        }
        let better = match crash {
            None => true,
            Some(j) => {
                let (a, b) = (c.furthest.rank(post), cpus[j].furthest.rank(post));
                a > b || (a == b && c.entry.seq < cpus[j].entry.seq)
            }
        };
        if better {
            crash = Some(i);
        }
    }
    if let Some(ci) = crash {
        // The crash CPU does the stopping: never one that failed to stop.
        cpus[ci].stale = false;
        cpus[ci].stop_unknown = false;
        let entry = cpus[ci].entry.seq;
        let other = |later: bool| {
            cpus.iter()
                .enumerate()
                .filter(|&(i, c)| i != ci && c.entered() && (c.entry.seq > entry) == later)
                .min_by_key(|(_, c)| c.entry.seq)
                .map(|(i, _)| i as u32)
        };
        v.later_panic = other(true);
        v.earlier_panic = other(false);
        v.crash_cpu = Some(ci as u32);
        v.furthest = cpus[ci].furthest;
        v.ref_ns = cpus[ci].entry.ts_ns;
        let cl = &cpus[ci].crash_loaded;
        if has(cl) {
            v.crash_loaded = Some(cl.arg != 0);
        }
    } else {
        v.ref_ns = f.end_ns;
    }
    // Silent CPUs: samples (and own breadcrumbs) stop well before the
    // reference time.
    let limit = f.period_ns.saturating_mul(SILENT_PERIODS);
    for c in cpus.iter_mut() {
        c.silent_ns = 0;
        if c.samples > 0 && c.alive_ns < v.ref_ns && v.ref_ns - c.alive_ns > limit {
            c.silent_ns = v.ref_ns - c.alive_ns;
        }
    }
    // The first reboot record of any CPU, and the first after the crash
    // CPU's entry.
    let mut reboot = EMPTY_RECORD;
    let mut reboot_after = EMPTY_RECORD;
    let entry_seq = crash.map_or(0, |ci| cpus[ci].entry.seq);
    for c in cpus.iter() {
        if has(&c.reboot) {
            older(&mut reboot, &c.reboot);
            if c.reboot.seq > entry_seq {
                older(&mut reboot_after, &c.reboot);
            }
        }
    }
    v.reboot = if crash.is_some() && has(&reboot_after) {
        reboot_after
    } else {
        reboot
    };

    if f.valid == 0 {
        return v;
    }
    let at = |v: &mut Verdict, cpus: &[CpuState], cpu: usize| {
        v.cpu = Some(cpu as u32);
        let c = &cpus[cpu];
        v.last = if has(&c.last) { c.last } else { c.last_sample };
    };
    if h.flags & HDR_CRASH_KERNEL_REACHED != 0 {
        v.state = State::Handoff;
        match crash {
            Some(ci) => at(&mut v, cpus, ci),
            None if has(&f.last) => at(&mut v, cpus, f.last.cpu as usize),
            None => {}
        }
        return v;
    }
    if let Some(ci) = crash {
        at(&mut v, cpus, ci);
        let c = &cpus[ci];
        let ck = &c.crash_kexec;
        // __crash_kexec returned: the notifiers ran after it (without
        // post-notifiers), or the crash CPU went on to a reboot or to
        // panic()'s final loop (its samples) with nothing further on the
        // crash path.
        let after_ck = |r: &Record| has(ck) && r.seq > ck.seq;
        let returned = (after_ck(&c.notifier) && !post)
            || (c.furthest == Step::CrashKexec && (after_ck(&c.reboot) || after_ck(&c.last_sample)));
        let nothing_loaded = !f.load_seen
            && v.crash_loaded != Some(true)
            && !has(&c.kexec_image)
            && c.furthest.rank(post) < Step::CrashKexec.rank(post)
            && (has(&c.notifier) && !post || has(&reboot_after));
        if v.crash_loaded == Some(false) || returned || nothing_loaded {
            v.kexec_busy = returned && v.crash_loaded == Some(true);
            v.state = State::NoKdump;
            return v;
        }
        if has(&reboot_after) {
            v.state = State::Rebooted;
            return v;
        }
        v.next = next_expected(t, &v.last, c.furthest, true);
        // With post-notifiers the notifiers run after the CPU stop: one
        // that ran means __crash_kexec is next, stop recorded or not.
        if post && has(&c.notifier) && v.next == Next::Step(Step::CpuStop) {
            v.next = Next::Step(Step::CrashKexec);
        }
        let default_image = has(&c.kexec_image) && c.kexec_image.arg == KEXEC_IMAGE_DEFAULT;
        // Without a mark the handoff is unconfirmed, unless the crash kernel
        // was set up to leave one (crash_marks=1).
        v.state = if c.furthest == Step::MachineKexec
            && v.next == Next::Step(Step::Handoff)
            && !default_image
            && h.flags & HDR_CRASH_MARKS == 0
        {
            State::Unconfirmed
        } else {
            State::Hung
        };
        v.reason = (v.state == State::Hung).then_some(Reason::CrashPath);
        return v;
    }
    let l = f.last;
    let hung = |v: &mut Verdict, cpus: &[CpuState], cpu: usize, why: Reason| {
        at(v, cpus, cpu);
        v.state = State::Hung;
        v.reason = Some(why);
        v.next = next_expected(t, &v.last, Step::None, false);
        if why == Reason::HardLockup {
            // Where the NMI found it beats its older breadcrumbs.
            let ctx = cpus[cpu].lockup_ctx;
            if has(&ctx) && ctx.ts_ns >= v.last.ts_ns {
                v.last = ctx;
            }
        }
    };
    // With a reboot begun, only what shows the machine stuck after it
    // counts: then the reboot did not end, it hung (the rules below).
    let after = if has(&reboot) { reboot } else { EMPTY_RECORD };
    if !has(&reboot) && h.flags & HDR_ENDED != 0 {
        // Ended in order (rmmod): the machine went on after whatever its
        // samples show (a vCPU the host starved, a long stop_machine), so
        // no hang rule applies.
        v.state = State::NoCrash;
        if has(&l) {
            v.cpu = Some(l.cpu);
            v.last = l;
        }
        return v;
    }
    // A kexec load window still open at the end, and its CPU did not go
    // back to idle or user mode well after it (both kretprobes missed
    // leave no end).
    let ll = f.load_last;
    let went_on = |c: &CpuState| c.free_ns > ll.ts_ns.saturating_add(limit);
    if !has(&reboot)
        && has(&ll)
        && f.load_end.seq < ll.seq
        && !cpus.get(ll.cpu as usize).is_some_and(went_on)
    {
        hung(&mut v, cpus, ll.cpu as usize, Reason::KexecLoad);
        return v;
    }
    // The kernel's own reports still in force outrank the samples; of
    // several, the CPU stuck first (a soft lockup report's own duration,
    // the last sign of a hard-locked CPU running).
    let mut best: Option<(usize, u64, Reason)> = None;
    for (i, c) in cpus.iter().enumerate() {
        let hard = c.hard_in_force && c.hard_lockup.seq > after.seq;
        let soft = c.soft_in_force && c.soft.seq > after.seq;
        let since = if hard {
            if c.alive_ns != 0 { c.alive_ns } else { c.hard_lockup.ts_ns }
        } else if soft {
            c.soft.ts_ns.saturating_sub(c.soft.arg)
        } else {
            continue;
        };
        let why = if hard { Reason::HardLockup } else { Reason::SoftLockup };
        if best.is_none_or(|(_, s, _)| since < s) {
            best = Some((i, since, why));
        }
    }
    if let Some((i, _, why)) = best {
        hung(&mut v, cpus, i, why);
        v.reboot = after;
        return v;
    }
    // Samples stuck in one place: the run that began first, then the
    // longest.
    let mut stuck: Option<usize> = None;
    for (i, c) in cpus.iter().enumerate() {
        if c.stuck == 0 || (has(&after) && c.stuck_since <= after.ts_ns) {
            continue;
        }
        let better = stuck.is_none_or(|b| {
            let o = &cpus[b];
            c.stuck_since < o.stuck_since || (c.stuck_since == o.stuck_since && c.stuck > o.stuck)
        });
        if better {
            stuck = Some(i);
        }
    }
    if let Some(i) = stuck {
        hung(&mut v, cpus, i, Reason::StuckSamples);
        v.reboot = after;
        return v;
    }
    if has(&reboot) {
        v.state = State::Rebooted;
        at(&mut v, cpus, reboot.cpu as usize);
        return v;
    }
    let mut silent: Option<usize> = None;
    for (i, c) in cpus.iter().enumerate() {
        if c.silent_ns > 0 && silent.is_none_or(|b| c.silent_ns > cpus[b].silent_ns) {
            silent = Some(i);
        }
    }
    if let Some(i) = silent {
        hung(&mut v, cpus, i, Reason::Silent);
        return v;
    }
    v.state = State::NoCrash;
    if has(&l) {
        v.cpu = Some(l.cpu);
        v.last = l;
    }
    v
}

/// Both steps: [`reconstruct`] then [`verdict`].
pub fn analyze(t: &Trail<'_>, cpus: &mut [CpuState]) -> Verdict {
    let f = reconstruct(t, cpus);
    verdict(t, cpus, &f)
}

/// The symbol part of a point name (before `+`).
fn symbol_part(name: &[u8]) -> &[u8] {
    match name.iter().position(|&b| b == b'+') {
        Some(i) => &name[..i],
        None => name,
    }
}

/// What should have followed `last`, given the furthest crash-path step its
/// CPU reached.
pub fn next_expected(t: &Trail<'_>, last: &Record, furthest: Step, crash: bool) -> Next {
    // The order of the header's crash path (post-notifiers: the CPU stop
    // first).
    let post = t.header.flags & HDR_POST_NOTIFIERS != 0;
    if !has(last) {
        return if crash {
            Next::Step(furthest.next_in(post))
        } else {
            Next::None
        };
    }
    // The next user point in the same function.
    if role_of(t, last) == Some(Role::User) {
        if let Some(lp) = t.point(last.point as usize) {
            let sym = symbol_part(cstr(&lp.name));
            let mut best: Option<(u32, u16)> = None;
            for (i, p) in t.points().enumerate() {
                let s = symbol_part(cstr(&p.name));
                if p.role == Role::User as u8
                    && p.status == crate::format::POINT_REGISTERED
                    && s == sym
                    && p.offset > lp.offset
                    && best.is_none_or(|(o, _)| p.offset < o)
                {
                    best = Some((p.offset, i as u16));
                }
            }
            if let Some((_, i)) = best {
                return Next::Point(i);
            }
        }
    }
    if crash {
        let from = if furthest == Step::None { Step::Panic } else { furthest };
        return Next::Step(from.next_in(post));
    }
    if last.flags & REC_LOAD_PHASE != 0 {
        return Next::PostLoadReturn;
    }
    Next::None
}

/// Names records in the summary.
pub trait Namer {
    /// Writes a name for `r` (its point, symbol or pc).
    fn name(&self, r: &Record, w: &mut dyn Write) -> fmt::Result;
}

/// Names records from the trail alone: name chunks, the point table, else
/// the raw pc. What the module uses.
pub struct TrailNamer<'a, 'b>(pub &'a Trail<'b>);

/// Writes printable ASCII of `b`, other bytes as `?`.
pub fn write_text(w: &mut dyn Write, b: &[u8]) -> fmt::Result {
    for &c in b {
        w.write_char(if (0x20..0x7f).contains(&c) {
            c as char
        } else {
            '?'
        })?;
    }
    Ok(())
}

impl Namer for TrailNamer<'_, '_> {
    fn name(&self, r: &Record, w: &mut dyn Write) -> fmt::Result {
        let t = self.0;
        if r.kind == Kind::PanicNotifier as u8 && r.point == NO_POINT {
            return w.write_str("the panic notifier");
        }
        // A context record's `point` is the point that asked for it (the
        // stop, the backtrace request): it is named by its pc, not by that.
        let by_pc = [Kind::SoftLockup, Kind::StopContext, Kind::LockupContext]
            .iter()
            .any(|&k| r.kind == k as u8);
        if r.point == NO_POINT || by_pc {
            let mut buf = [0u8; 96];
            let n = t.name_text(r.seq, &mut buf);
            if n > 0 {
                // `name+0xoff/0xsize [mod]`: drop the size.
                let text = &buf[..n];
                let end = text.iter().position(|&b| b == b'/').unwrap_or(n);
                write_text(w, &text[..end])?;
                if let Some(m) = text.iter().position(|&b| b == b' ') {
                    write_text(w, &text[m..])?;
                }
                return Ok(());
            }
            return write!(w, "pc {:#x}", r.pc);
        }
        match t.point(r.point as usize) {
            Some(p) => {
                write_text(w, cstr(&p.name))?;
                if r.kind == Kind::Return as u8 {
                    w.write_str(" (returned)")?;
                }
                Ok(())
            }
            None => write!(w, "pc {:#x}", r.pc),
        }
    }
}

/// Writes what `n` names: a point name, a step's first registered point
/// (else its role), `crash kernel handoff`.
pub fn write_next(t: &Trail<'_>, n: Next, w: &mut dyn Write) -> fmt::Result {
    match n {
        Next::None => Ok(()),
        Next::Point(i) => match t.point(i as usize) {
            Some(p) => write_text(w, cstr(&p.name)),
            None => w.write_str("?"),
        },
        Next::Step(Step::Handoff) => w.write_str("crash kernel handoff"),
        Next::Step(s) => {
            let Some(role) = s.role() else {
                return w.write_str(s.name());
            };
            for p in t.points() {
                if p.role == role as u8 && p.status == crate::format::POINT_REGISTERED {
                    return write_text(w, symbol_part(cstr(&p.name)));
                }
            }
            w.write_str(role.name())
        }
        Next::PostLoadReturn => {
            w.write_str("return from ")?;
            for p in t.points() {
                if p.role == Role::KexecPostLoad as u8 {
                    return write_text(w, symbol_part(cstr(&p.name)));
                }
            }
            w.write_str("machine_kexec_post_load")
        }
    }
}

/// Seconds with milliseconds, from ns.
struct Secs(u64);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:03} s",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000 / 1_000_000
        )
    }
}

fn write_cpu_list(
    w: &mut dyn Write,
    cpus: &[CpuState],
    label: &str,
    want: impl Fn(&CpuState) -> bool,
    what: impl Fn(&CpuState, &mut dyn Write) -> fmt::Result,
) -> fmt::Result {
    let mut first = true;
    for (i, c) in cpus.iter().enumerate() {
        if !want(c) {
            continue;
        }
        w.write_str(if first { "; " } else { ", " })?;
        if first {
            w.write_str(label)?;
            w.write_str(" ")?;
        }
        first = false;
        write!(w, "CPU {i}")?;
        what(c, w)?;
    }
    Ok(())
}

/// What kind of reboot record `r` is.
pub fn reboot_kind(t: &Trail<'_>, r: &Record) -> &'static str {
    match Kind::from_u8(r.kind) {
        Some(Kind::KexecImage) => "kexec -e",
        _ => match role_of(t, r) {
            Some(Role::EmergencyRestart) => "emergency restart",
            Some(Role::PowerOff) => "power-off",
            Some(Role::KernelKexec | Role::MachineKexec) => "kexec -e",
            _ => "restart",
        },
    }
}

/// A reboot beside the verdict: `; then X at Y` when it came after the
/// crash CPU's entry (or the hang), `; during X at Y on CPU N, which did
/// not end` when the machine was found stuck after it began.
fn write_reboot(
    t: &Trail<'_>,
    v: &Verdict,
    cpus: &[CpuState],
    n: &dyn Namer,
    w: &mut dyn Write,
) -> fmt::Result {
    let r = &v.reboot;
    if !has(r) {
        return Ok(());
    }
    let entry = v
        .crash_cpu
        .and_then(|c| cpus.get(c as usize))
        .map_or(0, |c| c.entry.seq);
    if v.crash_cpu.is_some() && r.seq > entry {
        if v.state == State::NoKdump {
            write!(w, "; then {} at ", reboot_kind(t, r))?;
            return n.name(r, w);
        }
        return Ok(());
    }
    write!(w, "; during {} at ", reboot_kind(t, r))?;
    n.name(r, w)?;
    write!(w, " on CPU {}, which did not end", r.cpu)
}

/// The one-line summary of a verdict (no trailing newline). `n` names
/// records; the module passes [`TrailNamer`], the decoder a namer that
/// uses symbols.
pub fn summary(
    t: &Trail<'_>,
    v: &Verdict,
    cpus: &[CpuState],
    n: &dyn Namer,
    w: &mut dyn Write,
) -> fmt::Result {
    let nr = (t.header.nr_cpus as usize).min(cpus.len());
    let cpus = &cpus[..nr];
    let cpu = v.cpu.unwrap_or(0);
    let last = |w: &mut dyn Write| -> fmt::Result {
        if has(&v.last) {
            n.name(&v.last, w)
        } else {
            w.write_str("?")
        }
    };
    match v.state {
        State::Empty => w.write_str("empty trail")?,
        State::Handoff => {
            w.write_str("handoff: crash kernel reached")?;
            if has(&v.last) {
                w.write_str(" after ")?;
                last(w)?;
                write!(w, " on CPU {cpu}")?;
            }
        }
        State::Unconfirmed => {
            write!(w, "unconfirmed: CPU {cpu} reached ")?;
            last(w)?;
            w.write_str(
                " with the crash image, but the crash kernel's arrival was not recorded \
                 (to confirm, load hangtrail.ko in the kdump initramfs)",
            )?;
        }
        State::Hung => {
            write!(w, "hung on CPU {cpu} after ")?;
            last(w)?;
            if v.next != Next::None {
                w.write_str(" (next expected: ")?;
                write_next(t, v.next, w)?;
                w.write_str(")")?;
            }
            match v.reason {
                Some(Reason::StuckSamples) => {
                    let c = &cpus[cpu as usize];
                    write!(
                        w,
                        "; stuck: last {} samples within {:#x}..{:#x}",
                        c.stuck, c.stuck_pc_lo, c.stuck_pc_hi
                    )?;
                }
                Some(Reason::Silent) => {
                    let c = &cpus[cpu as usize];
                    write!(w, "; silent for {} (interrupts masked?)", Secs(c.silent_ns))?;
                }
                Some(Reason::HardLockup) => w.write_str("; hard lockup detected")?,
                Some(Reason::SoftLockup) => w.write_str("; soft lockup reported")?,
                Some(Reason::KexecLoad) => w.write_str("; kexec -p load did not return")?,
                _ => {}
            }
            if v.crash_cpu.is_some() {
                w.write_str("; crash kernel not reached")?;
            }
            write_reboot(t, v, cpus, n, w)?;
        }
        State::NoKdump => {
            if v.kexec_busy {
                // The crash-loaded record says 1: __crash_kexec returned
                // because kexec_trylock failed.
                write!(
                    w,
                    "no-kdump: panic on CPU {cpu}; __crash_kexec returned with a crash kernel \
                     loaded (kexec_trylock failed: a kexec load or kexec -e held the lock)"
                )?;
            } else {
                write!(
                    w,
                    "no-kdump: panic on CPU {cpu} with no crash kernel loaded"
                )?;
            }
            if v.last.seq != v.reboot.seq {
                w.write_str(" (last: ")?;
                last(w)?;
                w.write_str(")")?;
            }
            write_reboot(t, v, cpus, n, w)?;
        }
        State::Rebooted => {
            w.write_str("rebooted: ")?;
            let r = &v.reboot;
            write!(w, "{} at ", reboot_kind(t, r))?;
            n.name(r, w)?;
            write!(w, " on CPU {}", r.cpu)?;
            if let Some(c) = v.crash_cpu {
                write!(w, " after a panic on CPU {c}")?;
            }
        }
        State::NoCrash => {
            w.write_str("no crash recorded")?;
            if has(&v.last) {
                w.write_str(" (last: ")?;
                last(w)?;
                write!(w, " on CPU {cpu})")?;
            } else {
                w.write_str(" (no breadcrumbs)")?;
            }
        }
    }
    if let Some(p) = v.later_panic {
        write!(w, "; later panic on CPU {p}")?;
    }
    if let Some(p) = v.earlier_panic {
        write!(w, "; earlier panic on CPU {p}")?;
    }
    // With stop-handler runs that kprobes skipped, a CPU not seen stopped
    // may have stopped: it is unknown, not stale.
    let unknown = v.facts.stop_unknown;
    write_cpu_list(w, cpus, "failed to stop:", |c| c.stale, |_, _| Ok(()))?;
    write_cpu_list(w, cpus, "stop unknown:", |c| c.stop_unknown, |_, _| Ok(()))?;
    if unknown > 0 {
        write!(w, "; stop handler unrecorded {unknown} times")?;
    }
    let is_reason_cpu = |c: &CpuState, r: Reason| {
        v.reason == Some(r) && v.cpu.is_some_and(|x| core::ptr::eq(c, &cpus[x as usize]))
    };
    write_cpu_list(
        w,
        cpus,
        "silent:",
        |c| c.silent() && !is_reason_cpu(c, Reason::Silent),
        |c, w| write!(w, " ({})", Secs(c.silent_ns)),
    )?;
    write_cpu_list(
        w,
        cpus,
        "stuck:",
        |c| c.stuck > 0 && !is_reason_cpu(c, Reason::StuckSamples),
        |_, _| Ok(()),
    )?;
    write_cpu_list(
        w,
        cpus,
        "hard lockup:",
        |c| has(&c.hard_lockup) && !is_reason_cpu(c, Reason::HardLockup),
        |_, _| Ok(()),
    )
}

/// A fixed buffer that collects a summary (truncating when full).
pub struct LineBuf {
    /// The bytes.
    pub buf: [u8; 512],
    /// Bytes used.
    pub len: usize,
}

impl LineBuf {
    /// Empty.
    pub const fn new() -> Self {
        Self {
            buf: [0; 512],
            len: 0,
        }
    }

    /// The text so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Default for LineBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let b = s.as_bytes();
        let n = b.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
        Ok(())
    }
}
