//! A model of the kernel paths hangtrail.ko records, as a trail generator
//! for the verdict tests (not part of the shipped library).
//!
//! The model runs a small machine: `nr` CPUs, each with a mode (running,
//! stuck with interrupts on, stuck with interrupts off, stopped or gone), a
//! watchdog hrtimer per running CPU every sample period (a `Sample` record,
//! the soft lockup detector, and the buddy hard-lockup detector checking
//! the next CPU every third tick), and the paths of 6.12/7.x as steps, each
//! writing exactly the records `rust/probes.rs`, `softlockup.rs`,
//! `hardlockup.rs`, `stop.rs` and `guard.rs` write there, with the per-CPU
//! flags of `phase.rs`:
//!
//! * the load (`hangtrail.ko` itself: header fields, point table in
//!   `plan.rs` order, the `start` record);
//! * the kdump crash path, x86_64 (`__crash_kexec` →
//!   `machine_crash_shutdown` → `native_machine_crash_shutdown` →
//!   `nmi_shootdown_cpus` → `kdump_nmi_callback` on each stopped CPU →
//!   `crash_save_cpu` → `machine_kexec`) and arm64 (`crash_smp_send_stop`,
//!   the stop IPI, or pseudo-NMI), with and without
//!   `crash_kexec_post_notifiers`, crash image loaded or not, the kexec lock
//!   busy, CPUs that fail to stop, stop handlers kprobes skipped, `panic=N`,
//!   a second panic;
//! * the soft lockup detector (reports repeating every `2 * thresh`, caller
//!   frames and name chunks, `softlockup_panic`, a report that hangs);
//! * the buddy hard-lockup detector (`hardlockup_panic`, the stuck CPU's
//!   context where an NMI reaches it);
//! * orderly endings: `reboot`, `poweroff`, `halt`, `kexec -e` (the reboot
//!   notifier sets `HDR_ENDED`; the task migrates to the reboot CPU, 0),
//!   sysrq-b, `rmmod`;
//! * the arm64 `kexec -p` load (`machine_kexec_post_load` window, cache
//!   maintenance storms, missed kretprobes).
//!
//! A case ends at any step of its path (a hang there) or after the last
//! one, with noise before it: samples, user points, storms that wrap the
//! rings, lockups the machine recovered from, a `watchdog_thresh` change at
//! run time, a torn newest record. The true verdict is known by
//! construction ([`Truth`]): where a path can end without leaving evidence
//! of where (a hang with every CPU silent), the model does not generate it.

#![allow(dead_code)]

use hangtrail::format::{
    Arch, Kind, Record, Role, HDR_CRASH_KERNEL_REACHED, HDR_CRASH_MARKS, HDR_ENDED,
    HDR_NMI_REACHES_IRQS_OFF, HDR_POST_NOTIFIERS, KEXEC_IMAGE_CRASH, KEXEC_IMAGE_DEFAULT, NO_POINT,
    PAYLOAD_LEN, POINT_REGISTERED, RECORD_SIZE, REC_CRASH_PHASE, REC_IDLE, REC_IRQS_OFF,
    REC_LOAD_PHASE, REC_STOPPED, REC_USER,
};
use hangtrail::synth::{Rng, TrailBuilder};

/// The verdict a case must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truth {
    /// `verdict_core::State::name()`.
    pub state: &'static str,
    /// `verdict_core::Reason::name()`.
    pub reason: Option<&'static str>,
    /// The verdict's CPU.
    pub cpu: Option<u32>,
}

/// How the machine ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// A panic (by sysrq-c or an oops), then the crash path.
    Panic,
    /// `softlockup_panic`: the soft lockup report, then a panic there.
    SoftLockupPanic,
    /// `hardlockup_panic`: the buddy detector's CPU panics.
    HardLockupPanic,
    /// A CPU stuck with interrupts on until the machine was reset.
    SoftLockup,
    /// The soft lockup report itself hung (printk) with interrupts off.
    ReportHang,
    /// A CPU stuck with interrupts off, found by the buddy detector.
    HardLockup,
    /// A CPU stuck with interrupts off, no detector.
    Silent,
    /// Two CPUs stuck: the truth is the one the rules pick.
    Tie(TieKind),
    /// An orderly reboot path.
    Reboot(RebootKind),
    /// The arm64 `kexec -p` load.
    Load,
    /// `rmmod`.
    Rmmod,
    /// A reset of a healthy machine (power cut, host reset).
    Reset,
}

/// Two stuck CPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TieKind {
    /// A reported soft lockup and a CPU stuck in samples only (later).
    SoftVsSamples,
    /// A reported hard lockup and a CPU stuck in samples only.
    HardVsSamples,
    /// Two reported soft lockups, the first stuck earlier.
    SoftVsSoft,
    /// Two CPUs stuck in samples only, the first earlier.
    SamplesVsSamples,
    /// A soft lockup recovered from, then a hard lockup in force.
    RecoveredThenHard,
}

/// Orderly reboot paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebootKind {
    /// `reboot`: `kernel_restart` … `machine_restart`.
    Restart,
    /// `poweroff`: `kernel_power_off`.
    PowerOff,
    /// `halt`: `kernel_halt`.
    Halt,
    /// `kexec -e`: `kernel_kexec` … `machine_kexec` (default image).
    KexecE,
    /// sysrq-b: `emergency_restart`.
    Emergency,
}

/// How a path step list ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HangMode {
    /// Runs to its end.
    Complete,
    /// Hangs after step `n` (0 = before the first).
    At(usize),
}

/// Everything a case is generated from (the seed picks it; shrinking
/// lowers it).
#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    pub arch: Arch,
    pub nr: u32,
    pub offline: Vec<u32>,
    pub ring: u32,
    pub nmi: bool,
    pub post_notifiers: bool,
    pub crash_loaded: bool,
    pub lock_busy: bool,
    pub crash_marks: bool,
    pub panic_timeout: i32,
    pub period0: u64,
    pub header_period: bool,
    pub period_change: Option<u64>,
    pub hard_detector: bool,
    pub users: u32,
    pub ending: Ending,
    pub hang: HangMode,
    pub fail_stop: u32,
    pub missed_save: bool,
    pub second_panic: bool,
    pub noise: Noise,
    pub marked: bool,
    pub busy_before_panic: bool,
}

/// Noise switches (each lowered to off when shrinking).
#[derive(Clone, Copy, Debug)]
pub struct Noise {
    pub periods: u32,
    pub user_points: bool,
    pub storm: bool,
    pub recovered_soft: bool,
    pub recovered_hard: bool,
    pub missed_samples: bool,
    pub torn: bool,
    pub load_before: bool,
    pub missed_post_load: u8,
}

impl Noise {
    pub const NONE: Noise = Noise {
        periods: 2,
        user_points: false,
        storm: false,
        recovered_soft: false,
        recovered_hard: false,
        missed_samples: false,
        torn: false,
        load_before: false,
        missed_post_load: 0,
    };
}

const PERIODS: [u64; 3] = [1_200_000_000, 4_000_000_000, 2_000_000_000];

impl Config {
    /// The case of `seed`.
    pub fn from_seed(seed: u64) -> Config {
        let mut r = Rng::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed);
        let arch = if r.below(2) == 0 {
            Arch::X86_64
        } else {
            Arch::Arm64
        };
        let nr = match r.below(20) {
            0 => 1,
            1..=9 => 2 + r.below(3) as u32,
            10..=16 => 5 + r.below(12) as u32,
            _ => 17 + r.below(240) as u32,
        };
        let mut offline = Vec::new();
        if nr > 2 && r.below(5) == 0 {
            for _ in 0..1 + r.below(u64::from(nr / 3).max(1)) {
                let c = 1 + r.below(u64::from(nr - 1)) as u32;
                if !offline.contains(&c) {
                    offline.push(c);
                }
            }
        }
        let online = nr - offline.len() as u32;
        let nmi = arch == Arch::X86_64 || r.below(2) == 0;
        let ending = loop {
            let e = match r.below(24) {
                0..=5 => Ending::Panic,
                6 => Ending::SoftLockupPanic,
                7 => Ending::HardLockupPanic,
                8..=9 => Ending::SoftLockup,
                10 => Ending::ReportHang,
                11..=12 => Ending::HardLockup,
                13 => Ending::Silent,
                14..=15 => Ending::Tie(match r.below(5) {
                    0 => TieKind::SoftVsSamples,
                    1 => TieKind::HardVsSamples,
                    2 => TieKind::SoftVsSoft,
                    3 => TieKind::SamplesVsSamples,
                    _ => TieKind::RecoveredThenHard,
                }),
                16..=19 => Ending::Reboot(match r.below(5) {
                    0 => RebootKind::Restart,
                    1 => RebootKind::PowerOff,
                    2 => RebootKind::Halt,
                    3 => RebootKind::KexecE,
                    _ => RebootKind::Emergency,
                }),
                20..=21 => Ending::Load,
                22 => Ending::Rmmod,
                _ => Ending::Reset,
            };
            let needs_two = needs_three(e);
            let _ = matches!(
                e,
                Ending::HardLockup
                    | Ending::HardLockupPanic
                    | Ending::Silent
                    | Ending::Tie(_)
                    | Ending::ReportHang
            );
            if needs_two && online < 3 {
                continue;
            }
            if e == Ending::Load && arch != Arch::Arm64 {
                continue;
            }
            break e;
        };
        let hang = if r.below(3) == 0 {
            HangMode::Complete
        } else {
            HangMode::At(r.below(12) as usize)
        };
        let period0 = PERIODS[r.below(3) as usize];
        let period_change = (r.below(6) == 0).then(|| loop {
            let p = PERIODS[r.below(3) as usize];
            if p != period0 {
                break p;
            }
        });
        Config {
            seed,
            arch,
            nr,
            offline,
            ring: 64 + r.below(200) as u32,
            nmi,
            post_notifiers: r.below(3) == 0,
            crash_loaded: r.below(3) != 0,
            lock_busy: r.below(8) == 0,
            crash_marks: r.below(3) == 0,
            panic_timeout: match r.below(4) {
                0 => 0,
                1 => -1,
                _ => 1 + r.below(30) as i32,
            },
            period0,
            header_period: r.below(8) != 0,
            period_change,
            hard_detector: !matches!(ending, Ending::Silent) && r.below(6) != 0,
            users: r.below(4) as u32,
            ending,
            hang,
            fail_stop: if r.below(4) == 0 {
                1 + r.below(2) as u32
            } else {
                0
            },
            missed_save: r.below(8) == 0,
            second_panic: r.below(6) == 0,
            noise: Noise {
                periods: 2 + r.below(10) as u32,
                user_points: r.below(2) == 0,
                storm: r.below(4) == 0,
                recovered_soft: r.below(5) == 0,
                recovered_hard: r.below(6) == 0,
                missed_samples: r.below(4) == 0,
                torn: r.below(4) == 0,
                load_before: arch == Arch::Arm64 && r.below(3) == 0,
                missed_post_load: if r.below(4) == 0 {
                    1 + r.below(2) as u8
                } else {
                    0
                },
            },
            marked: r.below(2) == 0,
            busy_before_panic: r.below(3) == 0,
        }
    }
}

/// Endings that need three online CPUs (two stuck ones and a buddy).
pub fn needs_three(e: Ending) -> bool {
    matches!(
        e,
        Ending::HardLockup
            | Ending::HardLockupPanic
            | Ending::Silent
            | Ending::Tie(_)
            | Ending::ReportHang
    )
}

/// What a CPU is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Running normally: idle, user mode, or short kernel work.
    Normal,
    /// Looping at `pc` with interrupts on (task `pid`).
    Stuck { pc: u64, pid: u64 },
    /// Looping at `pc` with interrupts masked: no hrtimer, no samples.
    IrqsOff { pc: u64, pid: u64 },
    /// Stopped by the crash path or a reboot, offline, or reset.
    Off,
}

#[derive(Clone, Debug)]
struct Cpu {
    mode: Mode,
    online: bool,
    next_tick: u64,
    ticks: u64,
    last_touch: u64,
    next_report: u64,
    /// The buddy detector's saved count of the CPU it checks.
    buddy_saved: u64,
    warned: bool,
    /// `phase.rs` state: crash, stopped, saved.
    crash: bool,
    stopped: bool,
    saved: bool,
    /// The load task is current here.
    loading: bool,
    stuck_since: u64,
    reports: u32,
    hard_reported: bool,
}

/// Point indexes in plan order.
#[derive(Clone, Debug, Default)]
struct Points {
    panic: u16,
    ck: u16,
    shut: u16,
    save: u16,
    mk: u16,
    kk: u16,
    restart: u16,
    mrestart: u16,
    emerg: u16,
    poweroff: u16,
    halt: u16,
    wd: u16,
    touch: u16,
    taint: u16,
    hlc: u16,
    native_shut: u16,
    stop: u16,
    handler: u16,
    post_load: u16,
    sys_load: u16,
    dcache: u16,
    icache: u16,
    users: Vec<u16>,
    notifier: u16,
}

/// A generated case.
pub struct Case {
    pub config: Config,
    pub trail: Vec<u8>,
    pub truth: Truth,
    /// The steps taken, for a failure's reproduction.
    pub steps: Vec<String>,
    /// Facts the summary must not contradict.
    pub crash_loaded_record: Option<bool>,
    pub crash_cpu: Option<u32>,
    pub reboot_before_panic: bool,
    pub other_panic: Option<(u32, bool)>,
    /// For a crash-path hang: the step that should have come next.
    pub next: Option<Role>,
}

struct Sim {
    c: Config,
    b: TrailBuilder,
    r: Rng,
    cpus: Vec<Cpu>,
    p: Points,
    t: u64,
    period: u64,
    steps: Vec<String>,
    base: u64,
    flags: u32,
    stopper: Option<u32>,
    hard_panic_armed: bool,
    soft_panic_armed: bool,
    /// Set when a detector's panic fired (by `tick`).
    detector_panic: Option<u32>,
    missed_save_count: u32,
    kretprobe_stop: bool,
    crash_loaded_record: Option<bool>,
    reboot_seen: bool,
    reboot_before_panic: bool,
    other_panic: Option<(u32, bool)>,
    crash_cpu: Option<u32>,
    last_seq: u64,
    noise_active: bool,
    next: Option<Role>,
    report_hangs: Option<u32>,
}

const FUNC: u64 = 0x400;
// Function slots of the fake kernel image (index * FUNC from the base).
const F_IDLE: u64 = 40;
const F_BUSY: u64 = 41; // 41..=60: assorted kernel work
const F_DELAY: u64 = 61;
const F_LOOP: u64 = 62; // 62..=70: places CPUs get stuck
const F_PANIC_LOOP: u64 = 71;
const F_NOTIFIER: u64 = 72;
const F_SHUTDOWN: u64 = 73;
const USER_PC: u64 = 0x7f12_3400_0000;

impl Sim {
    fn new(c: Config) -> Sim {
        let mut r = Rng::new(c.seed ^ 0xa5a5_0000_1111);
        let base = match c.arch {
            Arch::X86_64 => 0xffff_ffff_8100_0000 + 0x20_0000 * (1 + r.below(64)),
            Arch::Arm64 => 0xffff_8000_8001_0000 + 0x1_0000 * (1 + r.below(64)),
        };
        let mut b = TrailBuilder::new(c.arch, c.nr, c.ring);
        b.release("6.12.0-model");
        b.reference("panic", base + FUNC);
        b.step_ns = 0;
        let cpus = (0..c.nr)
            .map(|i| {
                let online = !c.offline.contains(&i);
                Cpu {
                    mode: if online { Mode::Normal } else { Mode::Off },
                    online,
                    next_tick: 0,
                    ticks: 0,
                    last_touch: 0,
                    next_report: 0,
                    buddy_saved: u64::MAX,
                    warned: false,
                    crash: false,
                    stopped: false,
                    saved: false,
                    loading: false,
                    stuck_since: 0,
                    reports: 0,
                    hard_reported: false,
                }
            })
            .collect();
        let period = c.period0;
        Sim {
            b,
            r,
            cpus,
            p: Points::default(),
            t: 1_000_000_000,
            period,
            steps: Vec::new(),
            base,
            flags: 0,
            stopper: None,
            hard_panic_armed: false,
            soft_panic_armed: false,
            detector_panic: None,
            missed_save_count: 0,
            kretprobe_stop: true,
            crash_loaded_record: None,
            reboot_seen: false,
            reboot_before_panic: false,
            other_panic: None,
            crash_cpu: None,
            last_seq: 0,
            noise_active: false,
            next: None,
            report_hangs: None,
            c,
        }
    }

    fn f(&self, slot: u64) -> u64 {
        self.base + slot * FUNC
    }

    fn step(&mut self, s: String) {
        self.steps.push(format!(
            "+{:.3}s {s}",
            (self.t - 1_000_000_000) as f64 / 1e9
        ));
    }

    fn online(&self) -> Vec<u32> {
        (0..self.c.nr)
            .filter(|&i| self.cpus[i as usize].online)
            .collect()
    }

    fn running(&self) -> Vec<u32> {
        (0..self.c.nr)
            .filter(|&i| matches!(self.cpus[i as usize].mode, Mode::Normal))
            .collect()
    }

    fn pick(&mut self, from: &[u32]) -> u32 {
        from[self.r.below(from.len() as u64) as usize]
    }

    /// `phase::flags()` on `cpu`, for a record of the task there.
    fn phase(&self, cpu: u32) -> u8 {
        let c = &self.cpus[cpu as usize];
        (if c.crash { REC_CRASH_PHASE } else { 0 })
            | (if c.stopped { REC_STOPPED } else { 0 })
            | (if c.loading { REC_LOAD_PHASE } else { 0 })
    }

    // ---- records, as the module writes them ----

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        cpu: u32,
        kind: Kind,
        point: u16,
        pc: u64,
        arg: u64,
        flags: u8,
        payload: [u8; PAYLOAD_LEN],
    ) -> u64 {
        self.t += 1_000 + self.r.below(3_000);
        self.b.now_ns = self.t;
        let seq = self.b.push(Record {
            cpu,
            kind: kind as u8,
            pc,
            arg,
            flags,
            point,
            payload,
            ..Record::default()
        });
        self.last_seq = seq;
        seq
    }

    fn probe(&mut self, cpu: u32, point: u16, arg: u64) -> u64 {
        let pc = self.b.point_addr(point);
        let fl = self.phase(cpu);
        self.push(cpu, Kind::Probe, point, pc, arg, fl, [0; PAYLOAD_LEN])
    }

    fn ret(&mut self, cpu: u32, point: u16, value: u64) -> u64 {
        let pc = self.b.point_addr(point);
        let fl = self.phase(cpu);
        self.push(cpu, Kind::Return, point, pc, value, fl, [0; PAYLOAD_LEN])
    }

    /// `softlockup::write_name`: name chunks of `pc` for record `owner`.
    fn names(&mut self, cpu: u32, owner: u64, pc: u64, flags: u8) {
        let text = format!("fn_{:x}+0x{:x}/0x400", (pc - self.base) / FUNC, pc % FUNC);
        for (i, chunk) in text.as_bytes().chunks(PAYLOAD_LEN).enumerate() {
            let mut payload = [0u8; PAYLOAD_LEN];
            payload[..chunk.len()].copy_from_slice(chunk);
            self.push(cpu, Kind::Name, i as u16, pc, owner, flags, payload);
        }
    }

    fn context_flags(&self, cpu: u32) -> (u64, u8) {
        match self.cpus[cpu as usize].mode {
            Mode::Stuck { pc, .. } => (pc, 0),
            Mode::IrqsOff { pc, .. } => (pc, REC_IRQS_OFF),
            _ => match self.r.clone().below(3) {
                0 => (self.f(F_IDLE) + 0x12, REC_IDLE),
                1 => (USER_PC + 0x40, REC_USER),
                _ => (self.f(F_BUSY + 3) + 0x30, 0),
            },
        }
    }

    fn sample(&mut self, cpu: u32) {
        let phase = self.phase(cpu);
        let (pc, pid, fl) = match self.cpus[cpu as usize].mode {
            Mode::Stuck { pc, pid } => (pc + self.r.below(4) * 4, pid, 0),
            _ => match self.r.below(10) {
                0..=4 => (self.f(F_IDLE) + 0x12, 0, REC_IDLE),
                5..=6 => (
                    USER_PC + self.r.below(0x10000),
                    1000 + self.r.below(30000),
                    REC_USER,
                ),
                _ => (
                    self.base + (F_BUSY + self.r.below(20)) * FUNC + self.r.below(0x300),
                    // A new task each time: running normally is never a
                    // stuck run.
                    40_000 + self.r.below(20_000),
                    0,
                ),
            },
        };
        let wd = self.p.wd;
        self.b.now_ns = self.t;
        self.last_seq = self.b.sample(cpu, pc, pid, phase | fl);
        let _ = wd;
    }

    // ---- time ----

    /// Runs every running CPU's watchdog hrtimer up to `until`.
    fn run_until(&mut self, until: u64) {
        loop {
            let mut next: Option<(u64, u32)> = None;
            for (i, c) in self.cpus.iter().enumerate() {
                if matches!(c.mode, Mode::Normal | Mode::Stuck { .. })
                    && c.next_tick <= until
                    && next.is_none_or(|(t, _)| c.next_tick < t)
                {
                    next = Some((c.next_tick, i as u32));
                }
            }
            let Some((t, cpu)) = next else { break };
            self.t = self.t.max(t);
            self.tick(cpu);
            if self.detector_panic.is_some() {
                return;
            }
        }
        self.t = self.t.max(until);
    }

    fn run_periods(&mut self, n: f64) {
        let until = self.t + (n * self.period as f64) as u64;
        self.run_until(until);
    }

    /// `watchdog_timer_fn` on `cpu`.
    fn tick(&mut self, cpu: u32) {
        let i = cpu as usize;
        let period = self.period;
        self.cpus[i].next_tick = self.t + period;
        self.cpus[i].ticks += 1;
        let missed = self.noise_active && self.c.noise.missed_samples && self.r.below(23) == 0;
        if !missed {
            self.sample(cpu);
        }
        match self.cpus[i].mode {
            Mode::Normal => self.cpus[i].last_touch = self.t,
            Mode::Stuck { pc, pid } => {
                // The soft lockup detector: after 2 * thresh (5 periods)
                // without a touch, then every 2 * thresh.
                let due = self.cpus[i].last_touch + 5 * period;
                if self.t >= due && self.report_hangs == Some(cpu) {
                    // The report hangs in printk (a user point on its way),
                    // interrupts off: no soft lockup record.
                    if let Some(&u) = self.p.users.first() {
                        self.probe(cpu, u, 0);
                    }
                    let d = self.f(F_DELAY);
                    self.set_irqs_off(cpu, d, pid);
                    self.step(format!("CPU {cpu}: the soft lockup report hangs"));
                    return;
                }
                if self.t >= due && self.t >= self.cpus[i].next_report {
                    self.cpus[i].next_report = self.t + 5 * period;
                    self.soft_report(cpu, pc, pid);
                    if self.soft_panic_armed {
                        self.detector_panic = Some(cpu);
                        return;
                    }
                }
            }
            _ => {}
        }
        // The buddy detector: every third tick, the next CPU.
        if self.c.hard_detector && self.cpus[i].ticks.is_multiple_of(3) {
            let online = self.online();
            if online.len() >= 2 {
                let pos = online.iter().position(|&x| x == cpu).unwrap_or(0);
                let x = online[(pos + 1) % online.len()];
                let xi = x as usize;
                let ticks = self.cpus[xi].ticks;
                let stuck = matches!(self.cpus[xi].mode, Mode::IrqsOff { .. });
                if ticks == self.cpus[i].buddy_saved && stuck {
                    if !self.cpus[xi].warned {
                        self.cpus[xi].warned = true;
                        self.hard_report(cpu, x);
                        if self.hard_panic_armed {
                            self.detector_panic = Some(cpu);
                            return;
                        }
                    }
                } else if ticks != self.cpus[i].buddy_saved {
                    self.cpus[xi].warned = false;
                }
                self.cpus[i].buddy_saved = ticks;
            }
        }
    }

    /// `softlockup::on_taint`: the report on the stuck CPU itself.
    fn soft_report(&mut self, cpu: u32, pc: u64, pid: u64) {
        let i = cpu as usize;
        let stuck = self.t - self.cpus[i].last_touch;
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..6].copy_from_slice(b"looper");
        payload[16..20].copy_from_slice(&(pid as u32).to_le_bytes());
        let fl = self.phase(cpu);
        let taint = self.p.taint;
        let seq = self.push(cpu, Kind::SoftLockup, taint, pc, stuck, fl, payload);
        self.names(cpu, seq, pc, fl);
        for depth in 0..1 + self.r.below(6) {
            let ret = self.f(F_BUSY + depth) + 0x44;
            let s = self.push(cpu, Kind::Frame, taint, ret, depth, fl, [0; PAYLOAD_LEN]);
            self.names(cpu, s, ret, fl);
        }
        self.cpus[i].reports += 1;
        self.step(format!(
            "soft lockup report on CPU {cpu} (stuck {:.1} s)",
            stuck as f64 / 1e9
        ));
    }

    /// `hardlockup::on_trigger` on the detecting CPU, then the stuck CPU's
    /// context from the backtrace NMI where one reaches it.
    fn hard_report(&mut self, det: u32, x: u32) {
        let hlc = self.p.hlc;
        let pc = self.b.point_addr(hlc);
        let fl = self.phase(det);
        self.push(
            det,
            Kind::HardLockup,
            hlc,
            pc,
            u64::from(x),
            fl,
            [0; PAYLOAD_LEN],
        );
        if self.c.nmi {
            if let Mode::IrqsOff { pc: xpc, .. } = self.cpus[x as usize].mode {
                let mut payload = [0u8; PAYLOAD_LEN];
                payload[..8].copy_from_slice(&(self.f(F_BUSY) + 0x10).to_le_bytes());
                let xfl = self.phase(x) | REC_IRQS_OFF;
                let seq = self.push(
                    x,
                    Kind::LockupContext,
                    hlc,
                    xpc,
                    0xffff_c900_0000_0000,
                    xfl,
                    payload,
                );
                self.names(x, seq, xpc, xfl);
            }
        }
        self.cpus[x as usize].hard_reported = true;
        self.step(format!("hard lockup of CPU {x} detected on CPU {det}"));
    }

    // ---- the load of hangtrail.ko ----

    fn load_module(&mut self) {
        let arch = self.c.arch;
        let mut fidx = 1u64;
        let mut pt = |b: &mut TrailBuilder, name: &str, role: Role, kret: bool| {
            let addr = self.base + fidx * FUNC;
            fidx += 1;
            let i = b.point(name, role, addr);
            if kret {
                b.kretprobe(i);
            }
            i
        };
        let b = &mut self.b;
        let mut p = Points {
            panic: pt(b, "panic", Role::PanicEntry, false),
            ck: pt(b, "__crash_kexec", Role::CrashKexec, false),
            shut: pt(b, "machine_crash_shutdown", Role::CrashShutdown, false),
            save: pt(b, "crash_save_cpu", Role::CrashSaveCpu, false),
            mk: pt(b, "machine_kexec", Role::MachineKexec, false),
            kk: pt(b, "kernel_kexec", Role::KernelKexec, false),
            restart: pt(b, "kernel_restart", Role::Restart, false),
            mrestart: pt(b, "machine_restart", Role::Restart, false),
            emerg: pt(b, "emergency_restart", Role::EmergencyRestart, false),
            poweroff: pt(b, "kernel_power_off", Role::PowerOff, false),
            halt: pt(b, "kernel_halt", Role::PowerOff, false),
            wd: pt(b, "watchdog_timer_fn", Role::WatchdogTimer, false),
            touch: pt(b, "softlockup_fn", Role::WatchdogTouch, false),
            taint: pt(b, "add_taint", Role::SoftLockupTaint, false),
            hlc: pt(
                b,
                "nmi_trigger_cpumask_backtrace",
                Role::HardLockupCheck,
                false,
            ),
            ..Points::default()
        };
        match arch {
            Arch::X86_64 => {
                p.native_shut = pt(
                    b,
                    "native_machine_crash_shutdown",
                    Role::CrashShutdown,
                    false,
                );
                p.stop = pt(b, "nmi_shootdown_cpus", Role::CpuStop, true);
                p.handler = pt(b, "kdump_nmi_callback", Role::StopHandler, false);
                p.post_load = NO_POINT;
                p.sys_load = NO_POINT;
                p.dcache = NO_POINT;
                p.icache = NO_POINT;
            }
            Arch::Arm64 => {
                p.native_shut = NO_POINT;
                p.stop = pt(b, "crash_smp_send_stop", Role::CpuStop, true);
                p.handler = NO_POINT;
                p.post_load = pt(b, "machine_kexec_post_load", Role::KexecPostLoad, true);
                p.sys_load = pt(b, "__arm64_sys_kexec_file_load", Role::KexecLoad, true);
                pt(b, "__arm64_sys_kexec_load", Role::KexecLoad, true);
                p.dcache = pt(b, "dcache_clean_inval_poc", Role::CacheDcache, false);
                p.icache = pt(b, "caches_clean_inval_pou", Role::CacheIcache, false);
                pt(b, "icache_inval_pou", Role::CacheIcache, false);
            }
        }
        for u in 0..self.c.users {
            let name = format!("do_work_{u}+0x{:x}", 0x10 * (u + 1));
            let addr = self.base + (F_BUSY + 15) * FUNC + 0x10 * u64::from(u + 1);
            p.users.push(b.point(&name, Role::User, addr));
        }
        let i = b.point_with(
            "panic_notifier_list",
            Role::PanicNotifier,
            self.base + F_NOTIFIER * FUNC,
            0,
            POINT_REGISTERED,
            0,
        );
        p.notifier = i;
        let h = &mut b.area.header;
        h.start_ns = self.t;
        h.online_cpus = self.c.nr - self.c.offline.len() as u32;
        h.sample_period_ns = if self.c.header_period {
            self.c.period0
        } else {
            0
        };
        h.panic_timeout = self.c.panic_timeout;
        if self.c.nmi {
            self.flags |= HDR_NMI_REACHES_IRQS_OFF;
        }
        if self.c.post_notifiers {
            self.flags |= HDR_POST_NOTIFIERS;
        }
        if self.c.crash_marks {
            self.flags |= HDR_CRASH_MARKS;
        }
        let registered = u64::from(b.area.header.nr_points);
        self.p = p;
        let cpu = self.pick(&self.online());
        self.push(
            cpu,
            Kind::Start,
            NO_POINT,
            0,
            registered,
            0,
            [0; PAYLOAD_LEN],
        );
        // The watchdog hrtimers run on every online CPU, out of phase.
        for i in 0..self.c.nr as usize {
            self.cpus[i].next_tick = self.t + self.r.below(self.period);
            self.cpus[i].last_touch = self.t;
        }
        self.step(format!(
            "load: {} CPUs ({} offline), ring {}",
            self.c.nr,
            self.c.offline.len(),
            self.c.ring
        ));
    }

    // ---- noise ----

    fn user_point(&mut self, cpu: u32) {
        if self.p.users.is_empty() {
            return;
        }
        let u = self.p.users[self.r.below(self.p.users.len() as u64) as usize];
        let rv = self.r.next_u64();
        self.probe(cpu, u, rv >> 16);
    }

    fn noise_phase(&mut self) {
        let n = self.c.noise;
        let periods = n.periods;
        let mut recovered_soft = n.recovered_soft && self.online().len() >= 2;
        let mut recovered_hard =
            n.recovered_hard && self.online().len() >= 2 && self.c.hard_detector;
        let mut storm = n.storm;
        let mut load = n.load_before;
        self.noise_active = true;
        for k in 0..periods {
            self.run_periods(1.0);
            if n.user_points && !self.running().is_empty() {
                for _ in 0..1 + self.r.below(3) {
                    let run = self.running();
                    let cpu = self.pick(&run);
                    self.user_point(cpu);
                }
            }
            if storm && k >= 1 && !self.running().is_empty() && !self.p.users.is_empty() {
                storm = false;
                let run = self.running();
                let cpu = self.pick(&run);
                let u = self.p.users[0];
                let count = u64::from(self.c.ring) + self.r.below(u64::from(self.c.ring) * 2);
                for _ in 0..count {
                    self.probe(cpu, u, 7);
                }
                self.step(format!("storm of {count} records on CPU {cpu}"));
            }
            if recovered_soft && k + 1 < periods {
                recovered_soft = false;
                let run = self.running();
                let x = self.pick(&run);
                let rv = self.r.below(4);
                self.soft_lockup_episode(x, 6.0 + rv as f64, true);
            }
            if recovered_hard && k + 1 < periods {
                recovered_hard = false;
                let run = self.running();
                let x = self.pick(&run);
                let rv = self.r.below(3);
                self.hard_lockup_episode(x, 7.0 + rv as f64, true);
            }
            if load && k + 1 < periods {
                load = false;
                let run = self.running();
                let l = self.pick(&run);
                self.kexec_load(l, HangMode::Complete, n.missed_post_load);
            }
        }
        self.noise_active = false;
        if let Some(p) = self.c.period_change {
            // `watchdog_thresh` written at run time: every hrtimer restarts
            // with the new period. Three periods of it before anything else.
            self.period = p;
            for i in 0..self.c.nr as usize {
                self.cpus[i].next_tick = self.t + p;
            }
            self.step(format!(
                "watchdog_thresh changed: sample period {:.1} s",
                p as f64 / 1e9
            ));
            self.run_periods(3.5);
        }
    }

    /// A CPU stuck with interrupts on for `periods`, then (if `recover`)
    /// running normally again for a while.
    fn soft_lockup_episode(&mut self, x: u32, periods: f64, recover: bool) {
        let rv = self.r.below(8);
        let pc = self.f(F_LOOP + rv) + 0x20;
        let pid = 100 + self.r.below(5000);
        self.set_stuck(x, pc, pid);
        self.step(format!("CPU {x} stuck (interrupts on) at {pc:#x}"));
        self.run_periods(periods);
        if recover {
            self.cpus[x as usize].mode = Mode::Normal;
            self.cpus[x as usize].last_touch = self.t;
            self.step(format!("CPU {x} recovered"));
            self.run_periods(3.0);
        }
    }

    fn set_irqs_off(&mut self, x: u32, pc: u64, pid: u64) {
        let c = &mut self.cpus[x as usize];
        c.mode = Mode::IrqsOff { pc, pid };
        c.hard_reported = false;
    }

    fn set_stuck(&mut self, x: u32, pc: u64, pid: u64) {
        let c = &mut self.cpus[x as usize];
        c.mode = Mode::Stuck { pc, pid };
        c.stuck_since = self.t;
        c.next_report = 0;
        c.reports = 0;
    }

    /// A CPU stuck with interrupts off for `periods`; recovers if asked.
    fn hard_lockup_episode(&mut self, x: u32, periods: f64, recover: bool) {
        let rv = self.r.below(8);
        let pc = self.f(F_LOOP + rv) + 0x40;
        self.cpus[x as usize].mode = Mode::IrqsOff { pc, pid: 7 };
        self.cpus[x as usize].hard_reported = false;
        self.cpus[x as usize].stuck_since = self.t;
        self.step(format!("CPU {x} stuck (interrupts off) at {pc:#x}"));
        self.run_periods(periods);
        if recover {
            let c = &mut self.cpus[x as usize];
            c.mode = Mode::Normal;
            c.next_tick = self.t + 1_000_000;
            c.last_touch = self.t;
            self.step(format!("CPU {x} recovered"));
            self.run_periods(3.0);
        }
    }

    // ---- kexec -p load (arm64) ----

    /// Returns whether it hung.
    fn kexec_load(&mut self, l: u32, hang: HangMode, missed: u8) -> bool {
        let hang_at = match hang {
            HangMode::Complete => usize::MAX,
            HangMode::At(n) => n % 4,
        };
        let pid = 900 + self.r.below(100);
        let sys = self.p.sys_load;
        let post = self.p.post_load;
        self.probe(l, sys, 0);
        self.step(format!("kexec -p load on CPU {l}"));
        if hang_at == 0 {
            // Hung before machine_kexec_post_load: no window yet. Not
            // generated (nothing says where); run on as a completed load.
        }
        // machine_kexec_post_load entry: load_begin, then its record.
        self.cpus[l as usize].loading = true;
        self.probe(l, post, 0);
        let pages = 2 + self.r.below(40);
        for k in 0..pages {
            let pt = if k % 2 == 0 {
                self.p.dcache
            } else {
                self.p.icache
            };
            self.probe(l, pt, 0xffff_0000_1000_0000 + k * 0x1000);
            if hang_at == 1 && k == pages / 2 {
                let pc = self.b.point_addr(pt) + 0x24;
                self.set_stuck(l, pc, pid);
                self.step(format!("load hangs in cache maintenance on CPU {l}"));
                let periods = 1.0 + self.r.below(12) as f64;
                self.run_periods(periods);
                return true;
            }
            if k % 8 == 7 {
                self.run_periods(0.05);
            }
        }
        // The post-load kretprobe (its record carries the load flag), then
        // load_end; the syscall's return.
        let missed_post = missed >= 1;
        let missed_sys = missed >= 2;
        if !missed_post {
            self.ret(l, post, 0);
            self.cpus[l as usize].loading = false;
        }
        if !missed_sys {
            self.ret(l, sys, 0);
            self.cpus[l as usize].loading = false;
        }
        self.step(format!(
            "load done (kretprobes missed: post-load {missed_post}, syscall {missed_sys})"
        ));
        if missed_sys {
            // The window never closed: the task went back to user mode and
            // exited; the CPU idled.
            self.cpus[l as usize].loading = false;
            self.run_periods(3.5);
        }
        false
    }

    // ---- the crash path ----

    /// The CPU stop (`nmi_shootdown_cpus` / `crash_smp_send_stop`), its
    /// handler on each other CPU, its return and stop map.
    fn cpu_stop(&mut self, c: u32, second: bool) {
        let stop = self.p.stop;
        self.probe(c, stop, 0);
        if second {
            // arm64: crash_smp_send_stop again from machine_crash_shutdown:
            // returns at once.
            self.ret(c, stop, 0);
            self.stop_map(c);
            return;
        }
        self.missed_save_count = 0;
        let mut fails = self.c.fail_stop;
        for y in 0..self.c.nr {
            let yi = y as usize;
            if y == c || !self.cpus[yi].online {
                continue;
            }
            let irqs_off = matches!(self.cpus[yi].mode, Mode::IrqsOff { .. });
            // The stop IPI reaches a CPU with interrupts masked only by NMI.
            let unreachable = irqs_off && !self.c.nmi;
            let fails_here = unreachable
                || (fails > 0 && irqs_off)
                || (fails > 0
                    && self.r.below(4) == 0
                    && !matches!(self.cpus[yi].mode, Mode::Normal));
            if fails_here {
                fails = fails.saturating_sub(1);
                self.step(format!("CPU {y} fails to stop"));
                continue;
            }
            let (pc, cfl) = self.context_flags(y);
            // Marked stopped before its records (phase::mark_stopped).
            self.cpus[yi].stopped = true;
            if self.c.arch == Arch::X86_64 {
                let h = self.p.handler;
                self.probe(y, h, 0);
            }
            let missed = self.c.missed_save && self.missed_save_count == 0 && self.r.below(2) == 0;
            if missed {
                self.missed_save_count += 1;
                self.step(format!(
                    "CPU {y} stopped, its crash_save_cpu skipped by kprobes"
                ));
            } else {
                let save = self.p.save;
                self.probe(y, save, 0);
                let mut payload = [0u8; PAYLOAD_LEN];
                payload[..8].copy_from_slice(&(self.f(F_BUSY) + 0x8).to_le_bytes());
                let fl = self.phase(y) | cfl;
                self.push(
                    y,
                    Kind::StopContext,
                    save,
                    pc,
                    0xffff_c900_0001_0000,
                    fl,
                    payload,
                );
                self.cpus[yi].saved = true;
            }
            self.cpus[yi].mode = Mode::Off;
            if self.c.arch == Arch::Arm64 {
                // A stopped CPU marks itself offline.
                self.cpus[yi].online = false;
            }
        }
        self.t += 1_000_000 + self.r.below(900_000_000);
        self.ret(c, stop, 0);
        self.stop_map(c);
        self.step(format!("CPU {c}: CPU stop returned"));
    }

    fn stop_map(&mut self, c: u32) {
        let unseen: Vec<u32> = (0..self.c.nr)
            .filter(|&y| y != c && !self.cpus[y as usize].saved && self.cpus[y as usize].online)
            .collect();
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..4].copy_from_slice(&self.missed_save_count.to_le_bytes());
        payload[4..8].copy_from_slice(&(unseen.len() as u32).to_le_bytes());
        let fl = self.phase(c);
        let stop = self.p.stop;
        let mut words: Vec<(u64, u64)> = Vec::new();
        for &y in &unseen {
            let first = u64::from(y / 64 * 64);
            match words.iter_mut().find(|(f, _)| *f == first) {
                Some(w) => w.1 |= 1 << (y % 64),
                None => words.push((first, 1 << (y % 64))),
            }
        }
        if words.is_empty() {
            words.push((0, 0));
        }
        for (first, mask) in words {
            self.push(c, Kind::StopMap, stop, mask, first, fl, payload);
        }
    }

    /// The panic on `c`, step by step; returns the truth.
    fn crash_path(&mut self, c: u32, hang: HangMode) -> Truth {
        self.crash_cpu = Some(c);
        let x86 = self.c.arch == Arch::X86_64;
        let post = self.c.post_notifiers;
        let loaded = self.c.crash_loaded;
        let busy = self.c.lock_busy && loaded;
        let hang_at = match hang {
            HangMode::Complete => usize::MAX,
            HangMode::At(n) => n,
        };
        let mut k = 0usize;
        let hung = |k: usize| k >= hang_at;
        self.next = Some(if post {
            Role::CpuStop
        } else {
            Role::CrashKexec
        });
        let hung_truth = Truth {
            state: "hung",
            reason: Some("crash-path"),
            cpu: Some(c),
        };
        // panic(): interrupts off; enter_crash before its record.
        self.cpus[c as usize].crash = true;
        self.cpus[c as usize].mode = Mode::IrqsOff {
            pc: self.f(F_PANIC_LOOP),
            pid: 1,
        };
        let panic = self.p.panic;
        self.probe(c, panic, 0xdead);
        self.step(format!("CPU {c}: panic (post-notifiers {post}, crash image loaded {loaded}, kexec lock busy {busy})"));
        // Other CPUs run on for a moment.
        let rv = self.r.below(30_000_000);
        self.run_until(self.t + rv);
        if self.c.second_panic {
            let run = self.running();
            if !run.is_empty() {
                let d = self.pick(&run);
                self.cpus[d as usize].crash = true;
                self.cpus[d as usize].mode = Mode::IrqsOff {
                    pc: self.f(F_PANIC_LOOP),
                    pid: 2,
                };
                let p = self.p.panic;
                self.probe(d, p, 0xbeef);
                self.other_panic = Some((d, true));
                self.step(format!("CPU {d}: a second panic (panic_smp_self_stop)"));
            }
        }
        if hung(k) {
            return self.crash_hang(hung_truth);
        }
        k += 1;
        let mut stopped_early = false;
        if post {
            // panic_other_cpus_shutdown(true): crash_smp_send_stop.
            self.stopper = Some(c);
            self.cpu_stop(c, false);
            stopped_early = true;
            self.next = Some(Role::CrashKexec);
            if hung(k) {
                return self.crash_hang(hung_truth);
            }
            k += 1;
            self.notifier(c);
            if hung(k) {
                return self.crash_hang(hung_truth);
            }
            k += 1;
        }
        // __crash_kexec: enter_stopper, crash-loaded, its probe.
        self.stopper = Some(c);
        let ck = self.p.ck;
        let pc = self.b.point_addr(ck);
        let fl = self.phase(c);
        self.push(
            c,
            Kind::CrashLoaded,
            ck,
            pc,
            u64::from(loaded),
            fl,
            [0; PAYLOAD_LEN],
        );
        self.crash_loaded_record = Some(loaded);
        self.probe(c, ck, 0);
        if loaded && !busy {
            self.next = Some(Role::CrashShutdown);
            if hung(k) {
                return self.crash_hang(hung_truth);
            }
            k += 1;
            let shut = self.p.shut;
            self.probe(c, shut, 0);
            if x86 {
                let ns = self.p.native_shut;
                self.probe(c, ns, 0);
            }
            self.next = Some(if stopped_early {
                Role::CrashSaveCpu
            } else {
                Role::CpuStop
            });
            if hung(k) {
                return self.crash_hang(hung_truth);
            }
            k += 1;
            if !stopped_early {
                self.cpu_stop(c, false);
            } else if !x86 {
                self.cpu_stop(c, true);
            }
            self.next = Some(Role::CrashSaveCpu);
            if hung(k) {
                return self.crash_hang(hung_truth);
            }
            k += 1;
            // crash_save_cpu of the crash CPU: its own context.
            let save = self.p.save;
            self.probe(c, save, 0);
            let mut payload = [0u8; PAYLOAD_LEN];
            payload[..8].copy_from_slice(&(self.f(F_BUSY) + 0x8).to_le_bytes());
            let fl = self.phase(c);
            let pc = self.b.point_addr(self.p.ck) + 0x80;
            self.push(
                c,
                Kind::StopContext,
                save,
                pc,
                0xffff_c900_0002_0000,
                fl,
                payload,
            );
            self.cpus[c as usize].saved = true;
            self.next = Some(Role::MachineKexec);
            if hung(k) {
                return self.crash_hang(hung_truth);
            }
            k += 1;
            let mk = self.p.mk;
            let fl = self.phase(c);
            self.push(
                c,
                Kind::KexecImage,
                mk,
                0xffff_8880_1234_0000,
                KEXEC_IMAGE_CRASH,
                fl,
                [0; PAYLOAD_LEN],
            );
            self.probe(c, mk, 0xffff_8880_1234_0000);
            self.step(format!("CPU {c}: machine_kexec with the crash image"));
            self.next = None;
            // The hand-off: the crash kernel marks the trail if it loads
            // hangtrail (always with crash_marks=1).
            let reached = !hung(k);
            let marks = reached && (self.c.crash_marks || self.c.marked);
            if marks {
                self.flags |= HDR_CRASH_KERNEL_REACHED;
                self.step("crash kernel reached, marked the trail".into());
                return Truth {
                    state: "handoff",
                    reason: None,
                    cpu: Some(c),
                };
            }
            self.step(format!("no crash kernel mark (reached {reached})"));
            return if self.c.crash_marks {
                hung_truth
            } else {
                Truth {
                    state: "unconfirmed",
                    reason: None,
                    cpu: Some(c),
                }
            };
        }
        // __crash_kexec returned: nothing loaded, or kexec_trylock failed.
        self.next = if loaded {
            Some(Role::CrashShutdown)
        } else {
            None
        };
        self.step(format!("CPU {c}: __crash_kexec returned"));
        let no_kdump = Truth {
            state: "no-kdump",
            reason: None,
            cpu: Some(c),
        };
        // With a crash image loaded, only a later record shows it returned.
        let returned_truth = |seen: bool| {
            if !loaded || seen {
                no_kdump
            } else {
                hung_truth
            }
        };
        if hung(k) {
            return self.crash_hang(returned_truth(false));
        }
        k += 1;
        if !post {
            // smp_send_stop: not probed; the others just stop.
            for y in 0..self.c.nr as usize {
                if y as u32 != c && !matches!(self.cpus[y].mode, Mode::IrqsOff { .. }) {
                    self.cpus[y].mode = Mode::Off;
                }
            }
            self.notifier(c);
            if hung(k) {
                return self.crash_hang(no_kdump);
            }
        }
        // panic_timeout.
        if self.c.panic_timeout != 0 {
            self.t +=
                1_000_000 + u64::try_from(self.c.panic_timeout.max(0)).unwrap_or(0) * 1_000_000_000;
            let e = self.p.emerg;
            self.probe(c, e, 0);
            self.reboot_seen = true;
            self.step(format!(
                "CPU {c}: emergency_restart (panic={})",
                self.c.panic_timeout
            ));
            return no_kdump;
        }
        // The panic loop: interrupts on, mdelay forever.
        let pc = self.f(F_DELAY) + 0x30;
        self.set_stuck(c, pc, 1);
        self.cpus[c as usize].next_tick = self.t + self.r.below(self.period);
        self.cpus[c as usize].last_touch = u64::MAX / 4; // touch_softlockup_watchdog in the loop
        self.step(format!("CPU {c}: panic loop (panic=0)"));
        let periods = self.r.below(6) as f64;
        self.run_periods(periods);
        returned_truth(periods >= 1.0 || !post)
    }

    fn notifier(&mut self, c: u32) {
        let n = self.p.notifier;
        let fl = self.phase(c);
        let pc = self.f(1);
        self.push(c, Kind::PanicNotifier, n, pc, 0, fl, [0; PAYLOAD_LEN]);
        self.step(format!("CPU {c}: panic notifier"));
    }

    /// The crash CPU hung (interrupts off): the others run on until a
    /// reset, unless stopped.
    fn crash_hang(&mut self, truth: Truth) -> Truth {
        self.step("hang".into());
        let periods = self.r.below(8) as f64;
        self.hard_panic_armed = false;
        self.soft_panic_armed = false;
        self.run_periods(periods);
        truth
    }

    // ---- reboots ----

    fn reboot(&mut self, kind: RebootKind, hang: HangMode) -> Truth {
        let run = self.running();
        let r = self.pick(&run);
        let pid = 1;
        let (entry, name) = match kind {
            RebootKind::Restart => (self.p.restart, "restart"),
            RebootKind::PowerOff => (self.p.poweroff, "power-off"),
            RebootKind::Halt => (self.p.halt, "halt"),
            RebootKind::KexecE => (self.p.kk, "kexec -e"),
            RebootKind::Emergency => (self.p.emerg, "emergency restart"),
        };
        self.probe(r, entry, 0);
        self.reboot_seen = true;
        self.step(format!("CPU {r}: {name} begins"));
        let rebooted = Truth {
            state: "rebooted",
            reason: None,
            cpu: Some(r),
        };
        if kind == RebootKind::Emergency {
            return rebooted;
        }
        let hang_at = match hang {
            HangMode::Complete => usize::MAX,
            HangMode::At(n) => n % 3,
        };
        // 0: hangs before the reboot notifier; 1: after it (HDR_ENDED set).
        if hang_at >= 1 {
            self.flags |= HDR_ENDED;
            self.step("reboot notifier: trail ended in order".into());
        }
        if hang_at <= 1 {
            // device_shutdown hangs: busy with interrupts on (the soft
            // lockup detector reports it after 5 periods), or with
            // interrupts off (the buddy detector finds it).
            let irqs_off = self.c.hard_detector && self.online().len() >= 2 && self.r.below(3) == 0;
            let pc = self.f(F_SHUTDOWN) + 0x18;
            if irqs_off {
                self.set_irqs_off(r, pc, pid);
                self.step(format!("CPU {r}: device shutdown hangs, interrupts off"));
                let rv = self.r.below(4);
                self.run_periods(7.5 + rv as f64);
                return Truth {
                    state: "hung",
                    reason: Some("hard-lockup"),
                    cpu: Some(r),
                };
            }
            self.set_stuck(r, pc, pid);
            self.step(format!("CPU {r}: device shutdown hangs, interrupts on"));
            let periods = 3.5 + self.r.below(10) as f64;
            self.run_periods(periods);
            let reported = self.cpus[r as usize].reports > 0;
            return Truth {
                state: "hung",
                reason: Some(if reported {
                    "soft-lockup"
                } else {
                    "stuck-samples"
                }),
                cpu: Some(r),
            };
        }
        self.flags |= HDR_ENDED;
        let rv = self.r.below(self.period / 2);
        self.run_until(self.t + rv);
        // migrate_to_reboot_cpu: CPU 0 if online.
        let rc = if self.cpus[0].online { 0 } else { r };
        match kind {
            RebootKind::Restart => {
                let m = self.p.mrestart;
                self.probe(rc, m, 0);
            }
            RebootKind::KexecE => {
                let mk = self.p.mk;
                let fl = self.phase(rc);
                self.push(
                    rc,
                    Kind::KexecImage,
                    mk,
                    0xffff_8880_5678_0000,
                    KEXEC_IMAGE_DEFAULT,
                    fl,
                    [0; PAYLOAD_LEN],
                );
                self.probe(rc, mk, 0xffff_8880_5678_0000);
            }
            _ => {}
        }
        self.step(format!("CPU {rc}: {name} completes"));
        rebooted
    }

    // ---- the whole case ----

    fn run(mut self) -> Case {
        self.load_module();
        self.noise_phase();
        let online = self.online();
        let truth = match self.c.ending {
            Ending::Panic => {
                let run = self.running();
                let c = self.pick(&run);
                if self.c.busy_before_panic {
                    // The task that panics looped first (a test module's
                    // work, an oops in a busy loop): its samples sit in one
                    // place.
                    let pc = self.f(F_LOOP + 7) + 0x10;
                    self.set_stuck(c, pc, 4321);
                    self.step(format!("CPU {c} busy in one loop"));
                    self.run_periods(3.2);
                }
                self.crash_path(c, self.c.hang)
            }
            Ending::SoftLockupPanic => {
                let run = self.running();
                let x = self.pick(&run);
                self.soft_panic_armed = true;
                let pc = self.f(F_LOOP + 1) + 0x20;
                self.set_stuck(x, pc, 333);
                self.step(format!("CPU {x} stuck (softlockup_panic=1)"));
                self.run_periods(12.0);
                let c = self.detector_panic.take().unwrap_or(x);
                self.soft_panic_armed = false;
                self.crash_path(c, self.c.hang)
            }
            Ending::HardLockupPanic => {
                let run = self.running();
                let x = self.pick(&run);
                self.hard_panic_armed = true;
                let pc = self.f(F_LOOP + 2) + 0x40;
                self.set_irqs_off(x, pc, 9);
                self.step(format!(
                    "CPU {x} stuck, interrupts off (hardlockup_panic=1)"
                ));
                self.run_periods(9.0);
                self.hard_panic_armed = false;
                match self.detector_panic.take() {
                    Some(d) => self.crash_path(d, self.c.hang),
                    None => {
                        // No detector: the silent CPU is the verdict.
                        self.run_periods(3.5);
                        Truth {
                            state: "hung",
                            reason: Some("silent"),
                            cpu: Some(x),
                        }
                    }
                }
            }
            Ending::SoftLockup => {
                let run = self.running();
                let x = self.pick(&run);
                let periods = 3.5 + self.r.below(11) as f64;
                self.soft_lockup_episode(x, periods, false);
                let reported = self.cpus[x as usize].reports > 0;
                Truth {
                    state: "hung",
                    reason: Some(if reported {
                        "soft-lockup"
                    } else {
                        "stuck-samples"
                    }),
                    cpu: Some(x),
                }
            }
            Ending::ReportHang => {
                // Stuck until the soft lockup report is due; the report
                // hangs (see `tick`).
                let run = self.running();
                let x = self.pick(&run);
                let pc = self.f(F_LOOP + 3) + 0x20;
                self.report_hangs = Some(x);
                self.set_stuck(x, pc, 54);
                self.step(format!("CPU {x} stuck (interrupts on) at {pc:#x}"));
                self.run_periods(6.0);
                let rv = self.r.below(6);
                self.run_periods(2.5 + rv as f64);
                let reason = if self.cpus[x as usize].hard_reported {
                    "hard-lockup"
                } else {
                    "stuck-samples"
                };
                Truth {
                    state: "hung",
                    reason: Some(reason),
                    cpu: Some(x),
                }
            }
            Ending::HardLockup | Ending::Silent => {
                let run = self.running();
                let x = self.pick(&run);
                let periods = 3.5 + self.r.below(8) as f64;
                self.hard_lockup_episode(x, periods, false);
                let reason = if self.cpus[x as usize].hard_reported {
                    "hard-lockup"
                } else {
                    "silent"
                };
                Truth {
                    state: "hung",
                    reason: Some(reason),
                    cpu: Some(x),
                }
            }
            Ending::Tie(kind) => self.tie(kind),
            Ending::Reboot(kind) => self.reboot(kind, self.c.hang),
            Ending::Load => {
                let run = self.running();
                let l = self.pick(&run);
                let hang = match self.c.hang {
                    HangMode::At(n) if n % 2 == 0 => HangMode::At(1),
                    _ => HangMode::Complete,
                };
                if self.kexec_load(l, hang, self.c.noise.missed_post_load) {
                    Truth {
                        state: "hung",
                        reason: Some("kexec-load"),
                        cpu: Some(l),
                    }
                } else {
                    self.run_periods(1.5);
                    Truth {
                        state: "no-crash",
                        reason: None,
                        cpu: None,
                    }
                }
            }
            Ending::Rmmod => {
                self.run_periods(1.0);
                self.flags |= HDR_ENDED;
                self.step("rmmod".into());
                Truth {
                    state: "no-crash",
                    reason: None,
                    cpu: None,
                }
            }
            Ending::Reset => {
                let rv = self.r.below(3);
                self.run_periods(1.0 + rv as f64);
                self.step("reset".into());
                Truth {
                    state: "no-crash",
                    reason: None,
                    cpu: None,
                }
            }
        };
        let _ = online;
        // The record being written when the reset hit: torn.
        let mut torn_at = None;
        if self.c.noise.torn && !self.running().is_empty() && !self.p.users.is_empty() {
            let run = self.running();
            let cpu = self.pick(&run);
            self.user_point(cpu);
            torn_at = self.b.slot_of(self.last_seq);
            self.step(format!("torn record on CPU {cpu}"));
        }
        self.b.area.header.flags |= self.flags;
        let mut trail = self.b.build();
        if let Some((cpu, slot)) = torn_at {
            let o = self.b.ring_slot_offset(cpu, slot);
            trail[o..o + 8].fill(0);
            // Part of the body not yet written either.
            trail[o + 40..o + RECORD_SIZE].fill(0);
        }
        let mut truth = truth;
        if matches!(truth.state, "no-crash") {
            truth.cpu = None;
        }
        Case {
            next: if truth.reason == Some("crash-path") {
                self.next
            } else {
                None
            },
            reboot_before_panic: self.reboot_before_panic,
            other_panic: self.other_panic,
            crash_cpu: self.crash_cpu,
            crash_loaded_record: self.crash_loaded_record,
            config: self.c,
            trail,
            truth,
            steps: self.steps,
        }
    }

    fn tie(&mut self, kind: TieKind) -> Truth {
        let run = self.running();
        let x = self.pick(&run);
        let rest: Vec<u32> = run.iter().copied().filter(|&y| y != x).collect();
        let y = self.pick(&rest);
        let pc_x = self.f(F_LOOP + 4) + 0x20;
        let pc_y = self.f(F_LOOP + 6) + 0x20;
        let hung = |reason| Truth {
            state: "hung",
            reason: Some(reason),
            cpu: Some(x),
        };
        match kind {
            TieKind::SoftVsSamples => {
                // x reported; y stuck later, too short for a report.
                self.set_stuck(x, pc_x, 501);
                self.step(format!("CPU {x} stuck"));
                self.run_periods(2.0);
                self.set_stuck(y, pc_y, 502);
                self.step(format!("CPU {y} stuck"));
                self.run_periods(4.2);
                hung(if self.cpus[x as usize].reports > 0 {
                    "soft-lockup"
                } else {
                    "stuck-samples"
                })
            }
            TieKind::HardVsSamples => {
                self.set_irqs_off(x, pc_x, 7);
                self.step(format!("CPU {x} stuck, interrupts off"));
                self.run_periods(1.0);
                self.set_stuck(y, pc_y, 503);
                self.step(format!("CPU {y} stuck"));
                self.run_periods(4.2);
                if !self.cpus[x as usize].hard_reported {
                    self.run_periods(3.0);
                }
                if self.cpus[x as usize].hard_reported {
                    hung("hard-lockup")
                } else {
                    // No detector: y's word (or samples) outranks x's silence.
                    let why = if self.cpus[y as usize].reports > 0 {
                        "soft-lockup"
                    } else {
                        "stuck-samples"
                    };
                    Truth {
                        state: "hung",
                        reason: Some(why),
                        cpu: Some(y),
                    }
                }
            }
            TieKind::SoftVsSoft => {
                self.set_stuck(x, pc_x, 504);
                self.step(format!("CPU {x} stuck"));
                self.run_periods(2.5);
                self.set_stuck(y, pc_y, 505);
                self.step(format!("CPU {y} stuck"));
                self.run_periods(6.5);
                hung("soft-lockup")
            }
            TieKind::SamplesVsSamples => {
                self.set_stuck(x, pc_x, 506);
                self.step(format!("CPU {x} stuck"));
                self.run_periods(1.3);
                self.set_stuck(y, pc_y, 507);
                self.step(format!("CPU {y} stuck"));
                self.run_periods(3.3);
                hung(if self.cpus[x as usize].reports > 0 {
                    "soft-lockup"
                } else {
                    "stuck-samples"
                })
            }
            TieKind::RecoveredThenHard => {
                // y's soft lockup is history; x's hard lockup is in force.
                self.soft_lockup_episode(y, 6.5, true);
                self.hard_lockup_episode(x, 7.5, false);
                hung(if self.cpus[x as usize].hard_reported {
                    "hard-lockup"
                } else {
                    "silent"
                })
            }
        }
    }
}

/// Generates the case of `c`.
pub fn generate(c: &Config) -> Case {
    Sim::new(c.clone()).run()
}

/// A case's shape: what a real trail's story is made of, read from its
/// records alone (no verdict code), comparable between the model's trails
/// and the captured guest trails (v1 or v2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shape {
    pub arch: u32,
    /// The crash-path roles reached by the CPU that panicked, in role
    /// order: 1 panic .. 6 machine_kexec (empty without a panic).
    pub crash_roles: Vec<u8>,
    pub panic_notifier: bool,
    pub reached: bool,
    pub soft_lockup: bool,
    pub hard_lockup: bool,
    pub reboot_roles: Vec<u8>,
    pub load: bool,
    pub stopped_cpu: bool,
    pub stuck_cpu: bool,
}

/// The shape of a trail.
pub fn shape(bytes: &[u8]) -> Shape {
    use hangtrail::format::{Slot, Trail};
    let t = Trail::parse(bytes).expect("parses");
    let h = t.header;
    let roles: Vec<u8> = t.points().map(|p| p.role).collect();
    let role = |r: &Record| {
        if r.point == NO_POINT || r.kind == Kind::Name as u8 {
            None
        } else {
            roles.get(r.point as usize).copied()
        }
    };
    let mut s = Shape {
        arch: h.arch,
        crash_roles: Vec::new(),
        panic_notifier: false,
        reached: h.flags & HDR_CRASH_KERNEL_REACHED != 0,
        soft_lockup: false,
        hard_lockup: false,
        reboot_roles: Vec::new(),
        load: false,
        stopped_cpu: false,
        stuck_cpu: false,
    };
    let mut panic_cpu = None;
    let mut recs = Vec::new();
    for cpu in 0..h.nr_cpus {
        for i in 0..h.ring_records {
            if let Slot::Valid(r) = t.ring_slot(cpu, i) {
                recs.push(r);
            }
        }
    }
    recs.sort_by_key(|r| r.seq);
    for r in &recs {
        if r.kind == Kind::Probe as u8
            && role(r) == Some(Role::PanicEntry as u8)
            && panic_cpu.is_none()
        {
            panic_cpu = Some(r.cpu);
        }
    }
    let mk_default = recs
        .iter()
        .any(|r| r.kind == Kind::KexecImage as u8 && r.arg == KEXEC_IMAGE_DEFAULT);
    for r in &recs {
        let k = r.kind;
        match role(r) {
            // crash_save_cpu counts for the panic CPU only.
            Some(x @ 1..=6) if k == Kind::Probe as u8 && Some(r.cpu) == panic_cpu => {
                s.crash_roles.push(x)
            }
            Some(5) if k == Kind::Probe as u8 => s.stopped_cpu = true,
            Some(14) => s.stopped_cpu = true,
            Some(x @ 15..=18) if k == Kind::Probe as u8 => s.reboot_roles.push(x),
            _ => {}
        }
        if role(r) == Some(Role::MachineKexec as u8)
            && panic_cpu.is_none()
            && mk_default
            && !s.reboot_roles.contains(&6)
        {
            s.reboot_roles.push(6);
        }
        s.panic_notifier |= k == Kind::PanicNotifier as u8;
        s.soft_lockup |= k == Kind::SoftLockup as u8;
        s.hard_lockup |= k == Kind::HardLockup as u8;
        s.load |= r.flags & REC_LOAD_PHASE != 0;
    }
    s.crash_roles.sort_unstable();
    s.crash_roles.dedup();
    s.reboot_roles.sort_unstable();
    s.reboot_roles.dedup();
    // A CPU whose newest three samples are busy, one pid, one place.
    for cpu in 0..h.nr_cpus {
        let mut v: Vec<Record> = (0..h.samples_per_cpu)
            .filter_map(|i| match t.sample_slot(cpu, i) {
                Slot::Valid(r) => Some(r),
                _ => None,
            })
            .collect();
        v.sort_by_key(|r| r.seq);
        let tail = &v[v.len().saturating_sub(3)..];
        if tail.len() == 3
            && tail
                .iter()
                .all(|r| r.flags & (REC_IDLE | REC_USER) == 0 && r.arg == tail[0].arg)
            && tail.iter().all(|r| r.pc.abs_diff(tail[0].pc) < 4096)
        {
            s.stuck_cpu = true;
        }
    }
    s
}
