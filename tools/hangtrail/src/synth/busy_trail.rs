//! The benchmark's busy trail: a large x86_64 machine (256 CPUs by
//! default) with the built-in plan and 49 `probes=` points (the point
//! table full), every CPU hitting them until its ring wrapped, soft lockup
//! reports with caller frames whose names are stored as `Name` chunks,
//! watchdog samples, then a crash that stops every other CPU (a stop
//! context with its name chunks per CPU, two that failed to stop) and
//! reaches `machine_kexec` with the crash image (verdict: unconfirmed).
//!
//! About 82% of the records are probe hits and returns, 12% name chunks,
//! 5% soft lockup reports and frames.

use super::kernel_map::KernelMap;
use super::{Rng, TrailBuilder};
use crate::format::{
    ring_records_for, Arch, Kind, Role, KEXEC_IMAGE_CRASH, MAX_POINTS, NO_POINT, REC_CRASH_PHASE,
    REC_IDLE, REC_IRQS_OFF, REC_STOPPED, REC_USER,
};

/// The KASLR slide of the busy trail's kernel (a multiple of 2 MiB).
pub const SLIDE: u64 = 0x1e00_0000;

/// The built-in plan's points (function, role, kretprobe).
const PLAN: &[(&str, Role, bool)] = &[
    ("panic", Role::PanicEntry, false),
    ("__crash_kexec", Role::CrashKexec, false),
    ("native_machine_crash_shutdown", Role::CrashShutdown, false),
    ("nmi_shootdown_cpus", Role::CpuStop, true),
    ("crash_save_cpu", Role::CrashSaveCpu, false),
    ("machine_kexec", Role::MachineKexec, false),
    ("kdump_nmi_callback", Role::StopHandler, false),
    ("watchdog_timer_fn", Role::WatchdogTimer, false),
    ("softlockup_fn", Role::WatchdogTouch, false),
    ("add_taint", Role::SoftLockupTaint, false),
    ("kernel_restart", Role::Restart, false),
    ("emergency_restart", Role::EmergencyRestart, false),
    ("kernel_power_off", Role::PowerOff, false),
    ("kernel_kexec", Role::KernelKexec, false),
    (
        "nmi_trigger_cpumask_backtrace",
        Role::HardLockupCheck,
        false,
    ),
];

/// A busy trail and what went into it.
pub struct BusyTrail {
    /// The region image.
    pub image: Vec<u8>,
    /// CPUs.
    pub cpus: u32,
    /// Ring records per CPU.
    pub ring_records: u32,
    /// Records written (more than the rings hold: they wrapped).
    pub written: u64,
}

/// `name+0xoff/0xsize`, as the module stores it (`%pSb` without a module).
fn sym_text(map: &KernelMap, f: usize, off: u64) -> String {
    format!("{}+{:#x}/{:#x}", map.funcs[f].1, off, map.size(f))
}

/// Builds a busy trail filling a region of `region` bytes for `cpus` CPUs
/// with pcs in `map`'s functions.
pub fn build(map: &KernelMap, region: u64, cpus: u32, seed: u64) -> BusyTrail {
    let ring = ring_records_for(region, cpus).expect("region large enough for the CPUs");
    let mut b = TrailBuilder::new(Arch::X86_64, cpus, ring);
    let mut rng = Rng::new(seed);
    let at = |name: &str| map.addr(name) + SLIDE;
    b.release("6.12.0-busy-amd64");
    b.reference("panic", at("panic"));
    b.area.header.flags = crate::format::HDR_NMI_REACHES_IRQS_OFF;
    b.area.header.sample_period_ns = 4_000_000_000;
    let mut pt = std::collections::HashMap::new();
    for &(name, role, kret) in PLAN {
        let i = b.point(name, role, at(name));
        if kret {
            b.kretprobe(i);
        }
        pt.insert(name, i);
    }
    // `probes=` points: functions at random, some at an offset inside,
    // every third with a kretprobe too.
    let mut user = Vec::new();
    while (b.area.header.nr_points as usize) < MAX_POINTS {
        let f = rng.below(map.funcs.len() as u64) as usize;
        let off = if rng.below(2) == 0 {
            0
        } else {
            (rng.below(map.size(f).max(1)) & !3).min(0xfff)
        };
        let name = if off == 0 {
            map.funcs[f].1.clone()
        } else {
            format!("{}+{off:#x}", map.funcs[f].1)
        };
        let i = b.point(&name, Role::User, map.funcs[f].0 + SLIDE + off);
        let kret = off == 0 && user.len() % 3 == 0;
        if kret {
            b.kretprobe(i);
        }
        user.push((i, f, kret));
    }
    let pc_in = |rng: &mut Rng, f: usize| map.funcs[f].0 + SLIDE + rng.below(map.size(f));
    let random_fn = |rng: &mut Rng| rng.below(map.funcs.len() as u64) as usize;

    b.record(
        0,
        Kind::Start,
        0,
        u64::from(b.area.header.nr_points),
        0,
        NO_POINT,
    );
    b.step_ns = 37;
    // Until every ring wrapped once and a quarter.
    let total = u64::from(ring) * u64::from(cpus) * 5 / 4;
    let mut per_cpu = vec![0u32; cpus as usize];
    let wd = pt["watchdog_timer_fn"];
    let mut written = 0;
    while written < total {
        let cpu = rng.below(u64::from(cpus)) as u32;
        let n = &mut per_cpu[cpu as usize];
        *n += 1;
        written += 1;
        if n.is_multiple_of(96) {
            // A soft lockup report: the record, 4 caller frames, names.
            let f = random_fn(&mut rng);
            let pc = pc_in(&mut rng, f);
            let seq = b.softlockup(
                cpu,
                pc,
                22_000_000_000,
                "kworker/u512:3",
                4242,
                REC_IRQS_OFF,
            );
            let off = pc - map.funcs[f].0 - SLIDE;
            b.name(cpu, seq, &sym_text(map, f, off), 0);
            for depth in 0..4 {
                let f = random_fn(&mut rng);
                let ret = pc_in(&mut rng, f);
                let seq = b.record(cpu, Kind::Frame, ret, depth, 0, NO_POINT);
                let off = ret - map.funcs[f].0 - SLIDE;
                b.name(cpu, seq, &sym_text(map, f, off), 0);
                written += 3;
            }
            written += 3;
            continue;
        }
        if n.is_multiple_of(32) {
            let f = random_fn(&mut rng);
            let flags = [0, REC_IDLE, REC_USER, 0][rng.below(4) as usize];
            let pc = pc_in(&mut rng, f);
            b.sample(cpu, pc, 1000 + u64::from(cpu), flags);
            b.probe(cpu, wd, 0, 0);
            continue;
        }
        let (i, f, kret) = user[rng.below(user.len() as u64) as usize];
        if kret && rng.below(3) == 0 {
            b.record(
                cpu,
                Kind::Return,
                map.funcs[f].0 + SLIDE,
                rng.next_u64() >> 40,
                0,
                i,
            );
        } else {
            b.probe(cpu, i, rng.next_u64() >> 16, 0);
        }
    }

    // The crash: sysrq-c on CPU 3, every other CPU stopped by NMI (its
    // stop context named), two CPUs never seen stopped, a hang in
    // machine_kexec.
    let crash = 3 % cpus;
    let c = REC_CRASH_PHASE;
    b.step_ns = 1_000;
    b.probe(crash, pt["panic"], 0, c);
    b.record(
        crash,
        Kind::CrashLoaded,
        at("__crash_kexec"),
        1,
        c,
        pt["__crash_kexec"],
    );
    b.probe(crash, pt["__crash_kexec"], 0, c);
    b.probe(crash, pt["native_machine_crash_shutdown"], 0, c);
    b.probe(crash, pt["nmi_shootdown_cpus"], 0, c);
    let stale = [cpus - 1, cpus - 2];
    for cpu in (0..cpus).filter(|&x| x != crash && !stale.contains(&x)) {
        let s = c | REC_STOPPED;
        b.probe(cpu, pt["kdump_nmi_callback"], 0, s);
        let f = random_fn(&mut rng);
        let pc = pc_in(&mut rng, f);
        let seq = b.context(
            cpu,
            Kind::StopContext,
            pc,
            0xffff_c900_0000_0000,
            pc + 0x40,
            s,
        );
        b.name(cpu, seq, &sym_text(map, f, pc - map.funcs[f].0 - SLIDE), s);
        b.probe(cpu, pt["crash_save_cpu"], 0, s);
    }
    let mut mask = 0u64;
    for s in stale {
        if s / 64 == stale[0] / 64 {
            mask |= 1 << (s % 64);
        }
    }
    b.stop_map(crash, u64::from(stale[0] / 64 * 64), mask, 0, 2, c);
    b.record(
        crash,
        Kind::Return,
        at("nmi_shootdown_cpus"),
        0,
        c,
        pt["nmi_shootdown_cpus"],
    );
    b.probe(crash, pt["crash_save_cpu"], 0, c);
    b.record(
        crash,
        Kind::KexecImage,
        0xffff_8880_0420_0000,
        KEXEC_IMAGE_CRASH,
        c,
        pt["machine_kexec"],
    );
    b.probe(crash, pt["machine_kexec"], 0, c);
    BusyTrail {
        image: b.build(),
        cpus,
        ring_records: ring,
        written,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, Options};
    use crate::symbols::{Source, SymbolTable};
    use crate::verdict::State;

    #[test]
    fn busy_trail_decodes() {
        let map = KernelMap::generate(0xffff_ffff_8100_0000, 20_000, 3);
        let t = build(&map, 4 << 20, 64, 5);
        let table = SymbolTable::parse(&map.system_map, Source::SystemMap).expect("parses");
        let opts = Options {
            symbols: Some(&table),
            ..Options::default()
        };
        let d = decode(&t.image, &opts).expect("decodes");
        assert_eq!(d.slide, Some(SLIDE));
        assert_eq!(d.counts.torn + d.counts.invalid, 0);
        assert!(d.records.len() as u64 > u64::from(t.ring_records) * 60);
        assert!(d.records.iter().any(|r| r.kind == Kind::Name));
        // Every record named, by a point, a chunk or the map.
        let unnamed: Vec<_> = d
            .records
            .iter()
            .filter(|r| r.sym.is_none())
            .map(|r| r.kind)
            .collect();
        assert!(
            unnamed.iter().all(|k| matches!(
                k,
                Kind::Name | Kind::Start | Kind::StopMap | Kind::KexecImage
            )),
            "{unnamed:?}"
        );
        assert_eq!(d.verdict.state, State::Unconfirmed, "{}", d.verdict.line);
        assert_eq!(d.stale_cpus.len(), 2, "{}", d.verdict.line);
    }
}
