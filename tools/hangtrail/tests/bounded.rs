//! Linear and bounded: trails with very many stop records or CPUs decode in
//! bounded time (no pass quadratic in CPUs or stop records).

use std::time::{Duration, Instant};

use hangtrail::decode::{decode, Options};
use hangtrail::format::{Arch, Kind, Role, MAX_CPUS, NO_POINT, REC_CRASH_PHASE, REC_STOPPED};
use hangtrail::render;
use hangtrail::synth::TrailBuilder;

/// Decode + both renderers; asserts the time bound (generous: debug builds
/// on a shared 2-core machine; the old decoder took 15 s on the first).
fn timed(img: &[u8], bound: Duration) -> hangtrail::decode::Decoded {
    let t0 = Instant::now();
    let d = decode(img, &Options::default()).expect("decodes");
    render::json(&d, &mut std::io::sink()).expect("json");
    render::text(&d, "t", &mut std::io::sink()).expect("text");
    let took = t0.elapsed();
    assert!(took < bound, "took {took:?}");
    d
}

#[test]
fn sixty_four_thousand_stop_records() {
    let n = 65_536u32;
    let mut b = TrailBuilder::new(Arch::X86_64, 2, n + 64);
    let panic = b.point("panic", Role::PanicEntry, 0xffff_ffff_8100_0000);
    let stop = b.point("nmi_shootdown_cpus", Role::CpuStop, 0xffff_ffff_8100_1000);
    b.probe(0, panic, 0, REC_CRASH_PHASE);
    for i in 0..n {
        if i % 2 == 0 {
            b.record(
                0,
                Kind::StillOnline,
                0,
                u64::from(i % 3),
                REC_CRASH_PHASE,
                stop,
            );
        } else {
            b.stop_map(0, u64::from(i) * 64, u64::MAX, 0, 64, REC_CRASH_PHASE);
        }
    }
    let d = timed(&b.build(), Duration::from_secs(10));
    assert_eq!(d.records.len() as u32, n + 1);
    assert_eq!(d.stale_cpus.iter().map(|s| s.cpu).collect::<Vec<_>>(), [1]);
}

#[test]
fn max_cpus_all_stopped_and_sampled() {
    let mut b = TrailBuilder::new(Arch::Arm64, MAX_CPUS, 16);
    let panic = b.point("panic", Role::PanicEntry, 0xffff_8000_8001_0000);
    let save = b.point("crash_save_cpu", Role::CrashSaveCpu, 0xffff_8000_8002_0000);
    b.step_ns = 1_000_000;
    for cpu in 0..MAX_CPUS {
        b.sample(cpu, 0xffff_8000_8003_0000, 0, 0);
    }
    b.probe(0, panic, 0, REC_CRASH_PHASE);
    for cpu in 1..MAX_CPUS {
        b.probe(cpu, save, 0, REC_STOPPED);
        b.context(
            cpu,
            Kind::StopContext,
            0xffff_8000_8004_0000,
            0,
            0,
            REC_STOPPED,
        );
        if cpu % 2 == 0 {
            b.record(cpu, Kind::Probe, 0x1000, 0, 0, NO_POINT);
        }
    }
    for w in 0..u64::from(MAX_CPUS / 64) {
        b.stop_map(0, w * 64, 0, 0, 0, REC_CRASH_PHASE);
    }
    let d = timed(&b.build(), Duration::from_secs(10));
    assert_eq!(d.cpus.len(), MAX_CPUS as usize);
    assert!(d.cpus[1..].iter().all(|c| c.state.stopped()));
    assert!(d.stale_cpus.is_empty());
    assert_eq!(d.verdict.cpu, Some(0));
}
