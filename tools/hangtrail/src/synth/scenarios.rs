//! Synthetic crash scenarios: the golden fixtures under
//! `tools/hangtrail/tests/fixtures/` that are not captured from real guests
//! are generated from these (see `tests/golden.rs`).

use super::{SymbolMap, TrailBuilder};
use crate::format::{
    Arch, Kind, Role, HDR_CRASH_KERNEL_REACHED, HDR_NMI_REACHES_IRQS_OFF, HDR_POST_NOTIFIERS,
    KEXEC_IMAGE_CRASH, KEXEC_IMAGE_DEFAULT, NO_POINT, POINT_MISSING, POINT_REFUSED,
    REC_CRASH_PHASE, REC_IDLE, REC_IRQS_OFF, REC_LOAD_PHASE, REC_STOPPED, REC_USER,
};

/// A generated fixture.
pub struct Scenario {
    /// Directory name under `tests/fixtures/`.
    pub name: &'static str,
    /// `trail.bin`.
    pub trail: Vec<u8>,
    /// `System.map`.
    pub system_map: String,
}

const C: u8 = REC_CRASH_PHASE;

const ARM64_BASE: u64 = 0xffff_8000_8001_0000;
const ARM64_SLIDE: u64 = 0x1f20_0000;
const X86_BASE: u64 = 0xffff_ffff_8100_0000;
const X86_SLIDE: u64 = 0x2c00_0000;

const ARM64_FUNCS: &[&str] = &[
    "_stext",
    "do_one_initcall",
    "do_init_module",
    "load_module",
    "panic",
    "__crash_kexec",
    "machine_crash_shutdown",
    "crash_smp_send_stop",
    "crash_save_cpu",
    "machine_kexec",
    "machine_kexec_post_load",
    "dcache_clean_inval_poc",
    "caches_clean_inval_pou",
    "icache_inval_pou",
    "add_taint",
    "watchdog_timer_fn",
    "softlockup_fn",
    "queued_spin_lock_slowpath",
    "do_idle",
    "el0_svc",
    "sysrq_handle_crash",
    "__handle_sysrq",
    "ipi_handler",
    "kexec_file_load",
    "emergency_restart",
    "hangtrail_panic_notify",
    "_etext",
];

const X86_FUNCS: &[&str] = &[
    "_stext",
    "panic",
    "__crash_kexec",
    "native_machine_crash_shutdown",
    "nmi_shootdown_cpus",
    "crash_save_cpu",
    "crash_nmi_callback",
    "machine_kexec",
    "do_idle",
    "default_idle",
    "ksys_write",
    "vfs_write",
    "sysrq_handle_crash",
    "watchdog_timer_fn",
    "kernel_kexec",
    "kdump_nmi_callback",
    "nmi_trigger_cpumask_backtrace",
    "test_lockup_irqs_off",
    "_etext",
];

/// A kernel image and its KASLR slide.
/// Point indexes of the crash path, registered in crash-path order.
struct CrashPath {
    panic: u16,
    ck: u16,
    shut: u16,
    stop: u16,
    save: u16,
    mk: u16,
}

struct Kernel {
    map: SymbolMap,
    slide: u64,
}

impl Kernel {
    fn arm64() -> Self {
        Self {
            map: SymbolMap::new(ARM64_BASE, 0x200, ARM64_FUNCS),
            slide: ARM64_SLIDE,
        }
    }

    fn x86_64() -> Self {
        Self {
            map: SymbolMap::new(X86_BASE, 0x300, X86_FUNCS),
            slide: X86_SLIDE,
        }
    }

    /// Runtime address of `name+off`.
    fn at(&self, name: &str, off: u64) -> u64 {
        self.map.addr(name) + self.slide + off
    }

    fn builder(&self, arch: Arch, nr_cpus: u32) -> TrailBuilder {
        let mut b = TrailBuilder::new(arch, nr_cpus, 32);
        b.release(match arch {
            Arch::Arm64 => "6.12.0-hangtrail-arm64",
            Arch::X86_64 => "6.12.0-hangtrail-x86",
        });
        b.reference("panic", self.at("panic", 0));
        b
    }

    /// A registered point at `sym` or `sym+0xoff`.
    fn point(&self, b: &mut TrailBuilder, name: &str, role: Role) -> u16 {
        let (sym, off) = match name.split_once("+0x") {
            Some((s, o)) => (s, u64::from_str_radix(o, 16).unwrap_or(0)),
            None => (name, 0),
        };
        b.point(name, role, self.at(sym, off))
    }

    /// Registers the crash-path points (`shutdown` and `stop` differ per
    /// arch) in crash-path order.
    fn crash_path(&self, b: &mut TrailBuilder, shutdown: &str, stop: &str) -> CrashPath {
        CrashPath {
            panic: self.point(b, "panic", Role::PanicEntry),
            ck: self.point(b, "__crash_kexec", Role::CrashKexec),
            shut: self.point(b, shutdown, Role::CrashShutdown),
            stop: self.point(b, stop, Role::CpuStop),
            save: self.point(b, "crash_save_cpu", Role::CrashSaveCpu),
            mk: self.point(b, "machine_kexec", Role::MachineKexec),
        }
    }
}

/// x86_64, 2 CPUs: sysrq-c on CPU 1, the other CPU stopped by NMI, and the
/// crash kernel reached.
pub fn handoff() -> Scenario {
    let k = Kernel::x86_64();
    let mut b = k.builder(Arch::X86_64, 2);
    let CrashPath {
        panic,
        ck,
        shut,
        stop,
        save,
        mk,
    } = k.crash_path(
        &mut b,
        "native_machine_crash_shutdown",
        "nmi_shootdown_cpus",
    );
    let wd = k.point(&mut b, "watchdog_timer_fn", Role::WatchdogTimer);
    b.area.header.flags = HDR_CRASH_KERNEL_REACHED;
    b.record(0, Kind::Start, 0, 7, 0, NO_POINT);
    b.step_ns = 250_000_000;
    for i in 0..3 {
        b.probe(0, wd, 0, 0);
        b.sample(0, k.at("default_idle", 0x14), 0, REC_IDLE);
        b.probe(1, wd, 0, 0);
        if i < 2 {
            b.sample(1, k.at("vfs_write", 0x88), 1234, 0);
        } else {
            b.sample(1, 0x7f3a_1c20_4e10, 1234, REC_USER);
        }
    }
    b.step_ns = 40_000;
    b.probe(1, panic, 0xffff_ffff_8260_0000 + k.slide, C);
    b.probe(1, ck, 0, C);
    b.probe(1, shut, 0, C);
    b.probe(1, stop, 0, C);
    b.probe(0, save, 0, C);
    b.record(
        1,
        Kind::StopResult,
        k.at("nmi_shootdown_cpus", 0x9c),
        0,
        C,
        stop,
    );
    b.probe(1, save, 1, C);
    b.probe(1, mk, 0, C);
    Scenario {
        name: "synth-handoff-x86_64",
        trail: b.build(),
        system_map: k.map.system_map(),
    }
}

/// arm64, 4 CPUs: a module function spins with interrupts on, the soft
/// lockup detector fires on CPU 2 and panics (softlockup_panic=1); the CPU
/// stop works but CPU 2 hangs in I-cache maintenance before machine_kexec.
pub fn softlockup_hung() -> Scenario {
    let k = Kernel::arm64();
    let mut b = k.builder(Arch::Arm64, 4);
    let CrashPath {
        panic,
        ck,
        shut,
        stop,
        save,
        mk,
    } = k.crash_path(&mut b, "machine_crash_shutdown", "crash_smp_send_stop");
    let taint = k.point(&mut b, "add_taint", Role::SoftLockupTaint);
    let wd = k.point(&mut b, "watchdog_timer_fn", Role::WatchdogTimer);
    let pou1 = k.point(&mut b, "caches_clean_inval_pou+0x5c", Role::User);
    k.point(&mut b, "caches_clean_inval_pou+0x68", Role::User);
    b.point_with(
        "flush_icache_range",
        Role::CacheIcache,
        0,
        0,
        POINT_MISSING,
        0,
    );
    b.point_with(
        "dcache_clean_inval_poc+0x4",
        Role::CacheDcache,
        0,
        4,
        POINT_REFUSED,
        -22,
    );
    let _ = mk;
    b.record(0, Kind::Start, 0, 12, 0, NO_POINT);
    // The module's spinning function: a module address, gone after reboot.
    let mod_pc = 0xffff_8000_7b00_102c;
    b.step_ns = 500_000_000;
    for i in 0..8u64 {
        for cpu in [0, 1, 3] {
            b.sample(cpu, k.at("do_idle", 0x1f0), 0, REC_IDLE);
        }
        b.sample(2, mod_pc + (i % 2) * 4, 321, 0);
        if i % 4 == 3 {
            b.probe(2, wd, 0, 0);
        }
    }
    b.step_ns = 20_000;
    b.probe(2, taint, 14, 0);
    let sl = b.softlockup(2, mod_pc, 22_012_000_000, "insmod", 321, 0);
    b.name(2, sl, "test_wait+0x2c/0x50 [test_lockup]", 0);
    let f0 = b.record(2, Kind::Frame, 0xffff_8000_7b00_10c4, 0, 0, NO_POINT);
    b.name(2, f0, "test_init+0x44/0x80 [test_lockup]", 0);
    b.record(
        2,
        Kind::Frame,
        k.at("do_one_initcall", 0x58),
        1,
        0,
        NO_POINT,
    );
    b.record(2, Kind::Frame, k.at("do_init_module", 0x60), 2, 0, NO_POINT);
    b.record(2, Kind::Frame, k.at("load_module", 0x1a8), 3, 0, NO_POINT);
    b.probe(2, panic, 0, C);
    b.probe(2, ck, 0, C);
    b.probe(2, shut, 0, C);
    b.probe(2, stop, 0, C);
    for cpu in [0, 1, 3] {
        b.probe(cpu, save, u64::from(cpu), C);
    }
    b.record(
        2,
        Kind::StopResult,
        k.at("crash_smp_send_stop", 0xd4),
        0,
        C,
        stop,
    );
    b.probe(2, save, 2, C);
    b.probe(2, pou1, 0, C);
    Scenario {
        name: "synth-softlockup-hung-arm64",
        trail: b.build(),
        system_map: k.map.system_map(),
    }
}

/// arm64, 4 CPUs: sysrq-c on CPU 0 while CPU 3 spins on a lock with
/// interrupts masked; CPU 3 never stops, CPU 0 hangs before machine_kexec.
pub fn stale_cpu() -> Scenario {
    let k = Kernel::arm64();
    let mut b = k.builder(Arch::Arm64, 4);
    let CrashPath {
        panic,
        ck,
        shut,
        stop,
        save,
        ..
    } = k.crash_path(&mut b, "machine_crash_shutdown", "crash_smp_send_stop");
    let wd = k.point(&mut b, "watchdog_timer_fn", Role::WatchdogTimer);
    let pou = k.point(&mut b, "caches_clean_inval_pou+0x5c", Role::User);
    b.area.header.online_cpus = 4;
    b.record(0, Kind::Start, 0, 8, 0, NO_POINT);
    b.step_ns = 300_000_000;
    for _ in 0..8 {
        for cpu in [0, 1, 2] {
            b.sample(cpu, k.at("do_idle", 0x1f0), 0, REC_IDLE);
        }
        b.sample(3, k.at("queued_spin_lock_slowpath", 0x94), 77, 0);
    }
    b.probe(3, wd, 0, 0);
    b.step_ns = 30_000;
    b.record(
        0,
        Kind::Probe,
        k.at("sysrq_handle_crash", 0),
        0,
        0,
        NO_POINT,
    );
    b.probe(0, panic, 0, C);
    b.probe(0, ck, 0, C);
    b.probe(0, shut, 0, C);
    b.probe(0, stop, 0, C);
    b.probe(1, save, 1, C);
    b.probe(2, save, 2, C);
    b.record(
        0,
        Kind::StopResult,
        k.at("crash_smp_send_stop", 0xd4),
        1,
        C,
        stop,
    );
    b.record(
        0,
        Kind::StillOnline,
        k.at("crash_smp_send_stop", 0xe0),
        3,
        C,
        stop,
    );
    b.probe(0, save, 0, C);
    b.probe(0, pou, 0, C);
    Scenario {
        name: "synth-stale-cpu-arm64",
        trail: b.build(),
        system_map: k.map.system_map(),
    }
}

/// arm64, 2 CPUs: `kexec -p` hangs in the I-cache maintenance of
/// `machine_kexec_post_load`; the machine was reset from there.
pub fn kexec_load_hang() -> Scenario {
    let k = Kernel::arm64();
    let mut b = k.builder(Arch::Arm64, 2);
    k.point(&mut b, "panic", Role::PanicEntry);
    k.point(&mut b, "machine_kexec", Role::MachineKexec);
    let post = k.point(&mut b, "machine_kexec_post_load", Role::KexecPostLoad);
    b.kretprobe(post);
    let dc = k.point(&mut b, "dcache_clean_inval_poc", Role::CacheDcache);
    let ic = k.point(&mut b, "icache_inval_pou", Role::CacheIcache);
    b.record(0, Kind::Start, 0, 5, 0, NO_POINT);
    b.step_ns = 10_000;
    b.record(1, Kind::Probe, k.at("kexec_file_load", 0), 0, 0, NO_POINT);
    b.probe(1, post, 0, REC_LOAD_PHASE);
    b.probe(1, dc, 0, REC_LOAD_PHASE);
    b.probe(1, ic, 0, REC_LOAD_PHASE);
    b.sample(1, k.at("icache_inval_pou", 0x1c), 402, 0);
    Scenario {
        name: "synth-kexec-load-hang-arm64",
        trail: b.build(),
        system_map: k.map.system_map(),
    }
}

/// x86_64, 2 CPUs: a quiet trail with no crash, captured from a copy cut
/// short, with a torn and a corrupt record.
pub fn no_crash_damaged() -> Scenario {
    let k = Kernel::x86_64();
    let mut b = k.builder(Arch::X86_64, 2);
    let w = k.point(&mut b, "vfs_write+0x10", Role::User);
    let ks = k.point(&mut b, "ksys_write", Role::User);
    b.kretprobe(ks);
    k.point(&mut b, "panic", Role::PanicEntry);
    b.record(0, Kind::Start, 0, 3, 0, NO_POINT);
    b.step_ns = 1_000_000;
    for i in 0..6u64 {
        let cpu = (i % 2) as u32;
        b.record(cpu, Kind::Probe, k.at("ksys_write", 0), 3, 0, ks);
        b.probe(cpu, w, 3, 0);
        b.record(cpu, Kind::Return, k.at("ksys_write", 0), 12, 0, ks);
    }
    for cpu in 0..2 {
        b.sample(cpu, k.at("default_idle", 0x14), 0, REC_IDLE);
        b.sample(cpu, 0x5555_5555_4000, 900, REC_USER);
    }
    let torn = b.probe(1, w, 3, 0);
    let bad = b.probe(0, w, 3, 0);
    let mut img = b.build();
    if let Some((cpu, slot)) = b.slot_of(torn) {
        let o = b.ring_slot_offset(cpu, slot);
        img[o..o + 8].fill(0); // seq cleared, body written: torn
    }
    if let Some((cpu, slot)) = b.slot_of(bad) {
        let o = b.ring_slot_offset(cpu, slot);
        img[o + 16] ^= 0x40; // a flipped pc bit: checksum mismatch
    }
    // Cut short in CPU 1's ring.
    let cut = b.ring_slot_offset(1, 20);
    img.truncate(cut);
    Scenario {
        name: "synth-no-crash-damaged-x86_64",
        trail: img,
        system_map: k.map.system_map(),
    }
}

/// x86_64, 2 CPUs: loaded, nothing written yet.
pub fn empty() -> Scenario {
    let k = Kernel::x86_64();
    let mut b = k.builder(Arch::X86_64, 2);
    k.point(&mut b, "panic", Role::PanicEntry);
    k.point(&mut b, "machine_kexec", Role::MachineKexec);
    Scenario {
        name: "synth-empty-x86_64",
        trail: b.build(),
        system_map: k.map.system_map(),
    }
}

/// Samples every `period` on `cpus` for `n` rounds: idle on all but
/// `busy`, which runs `pc` as `pid`.
fn rounds(
    b: &mut TrailBuilder,
    cpus: &[u32],
    n: usize,
    idle: u64,
    busy: Option<(u32, u64, u64, u8)>,
) {
    for _ in 0..n {
        for &cpu in cpus {
            match busy {
                Some((c, pc, pid, flags)) if c == cpu => b.sample(cpu, pc, pid, flags),
                _ => b.sample(cpu, idle, 0, REC_IDLE),
            };
        }
    }
}

/// x86_64 v2, 2 CPUs: `kexec -e` into a loaded kernel. machine_kexec is
/// hit, but after kernel_kexec and with the default image: a reboot.
pub fn kexec_reboot() -> Scenario {
    let k = Kernel::x86_64();
    let mut b = k.builder(Arch::X86_64, 2);
    let CrashPath { mk, .. } = k.crash_path(
        &mut b,
        "native_machine_crash_shutdown",
        "nmi_shootdown_cpus",
    );
    let kk = k.point(&mut b, "kernel_kexec", Role::KernelKexec);
    b.area.header.sample_period_ns = 1_200_000_000;
    b.record(0, Kind::Start, 0, 7, 0, NO_POINT);
    b.step_ns = 600_000_000;
    rounds(&mut b, &[0, 1], 4, k.at("default_idle", 0x14), None);
    b.step_ns = 50_000;
    b.probe(1, kk, 0, 0);
    b.probe(1, mk, 0, 0);
    b.record(
        1,
        Kind::KexecImage,
        0xffff_8880_0123_4000,
        KEXEC_IMAGE_DEFAULT,
        0,
        mk,
    );
    Scenario {
        name: "synth-kexec-reboot-x86_64",
        trail: b.build(),
        system_map: k.map.system_map(),
    }
}

/// arm64 v2, 2 CPUs, `panic=1`, no crash kernel loaded: panic, __crash_kexec
/// says nothing is loaded, the panic notifier runs, the panic timeout
/// restarts the machine.
pub fn no_kdump() -> Scenario {
    let k = Kernel::arm64();
    let mut b = k.builder(Arch::Arm64, 2);
    let CrashPath { panic, ck, .. } =
        k.crash_path(&mut b, "machine_crash_shutdown", "crash_smp_send_stop");
    let pn = k.point(&mut b, "hangtrail_panic_notify", Role::PanicNotifier);
    let er = k.point(&mut b, "emergency_restart", Role::EmergencyRestart);
    b.area.header.sample_period_ns = 1_200_000_000;
    b.area.header.panic_timeout = 1;
    b.record(0, Kind::Start, 0, 8, 0, NO_POINT);
    b.step_ns = 600_000_000;
    rounds(&mut b, &[0, 1], 4, k.at("do_idle", 0x1f0), None);
    b.step_ns = 30_000;
    b.record(
        1,
        Kind::Probe,
        k.at("sysrq_handle_crash", 0),
        0,
        0,
        NO_POINT,
    );
    b.probe(1, panic, 0, C);
    b.probe(1, ck, 0, C);
    b.record(1, Kind::CrashLoaded, k.at("__crash_kexec", 0x2c), 0, C, ck);
    b.probe(1, pn, 0, C);
    b.step_ns = 1_000_000_000;
    b.probe(1, er, 0, C);
    Scenario {
        name: "synth-no-kdump-arm64",
        trail: b.build(),
        system_map: k.map.system_map(),
    }
}

/// x86_64 v2, 2 CPUs: CPU 1 spins with interrupts masked; its samples stop,
/// the hard-lockup detector on CPU 0 finds it and the backtrace NMI records
/// where it spins. No panic (hardlockup_panic=0); the machine was reset.
pub fn hard_lockup() -> Scenario {
    let k = Kernel::x86_64();
    let mut b = k.builder(Arch::X86_64, 2);
    k.crash_path(
        &mut b,
        "native_machine_crash_shutdown",
        "nmi_shootdown_cpus",
    );
    let hl = k.point(
        &mut b,
        "nmi_trigger_cpumask_backtrace",
        Role::HardLockupCheck,
    );
    b.area.header.sample_period_ns = 1_200_000_000;
    b.area.header.flags = HDR_NMI_REACHES_IRQS_OFF;
    b.record(0, Kind::Start, 0, 7, 0, NO_POINT);
    b.step_ns = 600_000_000;
    rounds(&mut b, &[0, 1], 3, k.at("default_idle", 0x14), None);
    // CPU 1 masks interrupts: only CPU 0 samples from here.
    rounds(&mut b, &[0], 8, k.at("default_idle", 0x14), None);
    b.step_ns = 20_000;
    b.probe(0, hl, 0, 0);
    b.record(0, Kind::HardLockup, 0, 1, 0, hl);
    let spin = k.at("test_lockup_irqs_off", 0x22);
    b.context(
        1,
        Kind::LockupContext,
        spin,
        0xffff_c900_0001_3e80,
        k.at("test_lockup_irqs_off", 0x90),
        REC_IRQS_OFF,
    );
    Scenario {
        name: "synth-hard-lockup-x86_64",
        trail: b.build(),
        system_map: k.map.system_map(),
    }
}

/// arm64 v2, 4 CPUs, crash_kexec_post_notifiers: the notifier runs before
/// __crash_kexec; CPUs 1 and 2 stop and record their context, CPU 3's stop
/// handler was skipped by kprobes (unknown); the crash CPU reaches
/// machine_kexec with the crash image and nothing marks the crash kernel.
pub fn post_notifiers() -> Scenario {
    let k = Kernel::arm64();
    let mut b = k.builder(Arch::Arm64, 4);
    let CrashPath {
        panic,
        ck,
        shut,
        stop,
        save,
        mk,
    } = k.crash_path(&mut b, "machine_crash_shutdown", "crash_smp_send_stop");
    let pn = k.point(&mut b, "hangtrail_panic_notify", Role::PanicNotifier);
    b.area.header.sample_period_ns = 1_200_000_000;
    b.area.header.flags = HDR_POST_NOTIFIERS;
    b.record(0, Kind::Start, 0, 8, 0, NO_POINT);
    b.step_ns = 300_000_000;
    rounds(
        &mut b,
        &[0, 1, 2, 3],
        4,
        k.at("do_idle", 0x1f0),
        Some((2, 0xaaaa_dead_0010, 88, REC_USER)),
    );
    b.step_ns = 30_000;
    b.probe(0, panic, 0, C);
    b.probe(0, pn, 0, C);
    b.probe(0, ck, 0, C);
    b.record(0, Kind::CrashLoaded, k.at("__crash_kexec", 0x2c), 1, C, ck);
    b.probe(0, shut, 0, C);
    b.probe(0, stop, 0, C);
    for cpu in [1, 2] {
        b.probe(cpu, save, u64::from(cpu), REC_STOPPED);
        b.context(
            cpu,
            Kind::StopContext,
            k.at("ipi_handler", 0x40 * u64::from(cpu)),
            0xffff_8000_8400_3e00,
            k.at("do_idle", 0x1f4),
            REC_STOPPED,
        );
    }
    b.record(
        0,
        Kind::StopResult,
        k.at("crash_smp_send_stop", 0xd4),
        1,
        C,
        stop,
    );
    b.stop_map(0, 0, 1 << 3, 1, 1, C);
    b.probe(0, save, 0, C);
    b.context(
        0,
        Kind::StopContext,
        k.at("crash_save_cpu", 0),
        0xffff_8000_8400_3c00,
        k.at("machine_crash_shutdown", 0x3c),
        C,
    );
    b.probe(0, mk, 0, C);
    b.record(
        0,
        Kind::KexecImage,
        0xffff_0000_0165_ec00,
        KEXEC_IMAGE_CRASH,
        C,
        mk,
    );
    Scenario {
        name: "synth-post-notifiers-arm64",
        trail: b.build(),
        system_map: k.map.system_map(),
    }
}

/// Every synthetic scenario.
pub fn all() -> Vec<Scenario> {
    vec![
        handoff(),
        softlockup_hung(),
        stale_cpu(),
        kexec_load_hang(),
        no_crash_damaged(),
        empty(),
        kexec_reboot(),
        no_kdump(),
        hard_lockup(),
        post_notifiers(),
    ]
}
