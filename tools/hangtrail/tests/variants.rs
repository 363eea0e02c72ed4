//! Fixtures made by editing real guest trails: each one a situation a user
//! can meet that a verdict rule must get right (Documentation/decoder.rst,
//! "Verdict"). This file is the edit script: every variant starts from a
//! `guest-*` fixture's `trail.bin`, deletes, changes or adds a few records
//! (re-checksummed with `synth::fix_record_csum` / `fix_header_csum`), and
//! must equal `tests/fixtures/variant-*/trail.bin`, which `tests/golden.rs`
//! then decodes like any other fixture. `HANGTRAIL_BLESS=1 cargo test --test
//! variants` rewrites them (and copies the source fixture's `kallsyms`).
//!
//! Each variant also asserts its verdict here, so the rule it challenges is
//! spelled out next to the edit.

use std::fs;
use std::path::{Path, PathBuf};

use hangtrail::decode::{decode, Decoded, Options};
use hangtrail::format::{
    Kind, Record, Role, Slot, Trail, HDR_CRASH_KERNEL_REACHED, HDR_CRASH_MARKS, HDR_ENDED,
    NO_POINT, RECORD_SIZE, REC_CRASH_PHASE, V1_POINTS_OFFSET, V1_POINT_SIZE,
};
use hangtrail::symbols::{Source, SymbolTable};
use hangtrail::synth::{fix_header_csum, fix_record_csum};
use hangtrail::verdict::{Reason, State};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn bless() -> bool {
    std::env::var_os("HANGTRAIL_BLESS").is_some_and(|v| v != "0" && !v.is_empty())
}

/// A real trail being edited.
struct Image {
    bytes: Vec<u8>,
}

impl Image {
    fn load(fixture: &str) -> Self {
        let p = fixtures().join(fixture).join("trail.bin");
        Self {
            bytes: fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        }
    }

    fn trail(&self) -> Trail<'_> {
        Trail::parse(&self.bytes).expect("a real trail parses")
    }

    /// Byte offset of the ring record with sequence number `seq`.
    fn offset(&self, seq: u64) -> usize {
        let t = self.trail();
        let h = t.header;
        for cpu in 0..h.nr_cpus {
            for i in 0..h.ring_records {
                if let Slot::Valid(r) = t.ring_slot(cpu, i) {
                    if r.seq == seq {
                        return h.ring_offset(cpu) + i as usize * RECORD_SIZE;
                    }
                }
            }
        }
        panic!("seq {seq} not in the trail");
    }

    /// Empties the slot of `seq` (as if never written).
    fn delete(&mut self, seq: u64) {
        let o = self.offset(seq);
        self.bytes[o..o + RECORD_SIZE].fill(0);
    }

    fn max_seq(&self) -> (u64, u64) {
        let t = self.trail();
        let h = t.header;
        let (mut seq, mut ts) = (0, 0);
        for cpu in 0..h.nr_cpus {
            for i in 0..h.ring_records {
                if let Slot::Valid(r) = t.ring_slot(cpu, i) {
                    seq = seq.max(r.seq);
                    ts = ts.max(r.ts_ns);
                }
            }
            for i in 0..h.samples_per_cpu {
                if let Slot::Valid(r) = t.sample_slot(cpu, i) {
                    seq = seq.max(r.seq);
                    ts = ts.max(r.ts_ns);
                }
            }
        }
        (seq, ts)
    }

    /// Appends `r` to its CPU's ring in a free slot, `after_ns` after the
    /// newest record, with the next seq. Returns the seq.
    fn add(&mut self, mut r: Record, after_ns: u64) -> u64 {
        let (seq, ts) = self.max_seq();
        r.seq = seq + 1;
        r.ts_ns = ts + after_ns;
        let t = self.trail();
        let slot = (0..t.header.ring_records)
            .find(|&i| t.ring_slot(r.cpu, i) == Slot::Empty)
            .expect("a free slot");
        let o = t.header.ring_offset(r.cpu) + slot as usize * RECORD_SIZE;
        r.csum = r.compute_csum();
        self.bytes[o..o + RECORD_SIZE].copy_from_slice(r.as_bytes());
        r.seq
    }

    /// Index and runtime address of the point named `name`.
    fn point(&self, name: &str) -> (u16, u64) {
        let t = self.trail();
        let found = t
            .points()
            .enumerate()
            .find(|(_, p)| hangtrail::format::cstr(&p.name) == name.as_bytes())
            .map(|(i, p)| (i as u16, p.addr));
        found.unwrap_or_else(|| panic!("no point {name}"))
    }

    /// Clears header flags and reseals the header.
    fn clear_header_flags(&mut self, flags: u32) {
        self.edit_header_flags(|v| v & !flags);
    }

    /// Sets header flags and reseals the header.
    fn set_header_flags(&mut self, flags: u32) {
        self.edit_header_flags(|v| v | flags);
    }

    fn edit_header_flags(&mut self, f: impl Fn(u32) -> u32) {
        let v = u32::from_le_bytes(self.bytes[48..52].try_into().expect("4 bytes"));
        self.bytes[48..52].copy_from_slice(&f(v).to_le_bytes());
        fix_header_csum(&mut self.bytes);
    }

    /// Renames a v1 point and gives it another role (a kernel whose plan
    /// had that point), resealing the header.
    fn retag_v1_point(&mut self, index: u16, name: &str, role: Role) {
        let o = V1_POINTS_OFFSET + usize::from(index) * V1_POINT_SIZE;
        let n = &mut self.bytes[o..o + 40];
        n.fill(0);
        n[..name.len()].copy_from_slice(name.as_bytes());
        self.bytes[o + 48] = role as u8;
        fix_header_csum(&mut self.bytes);
    }
}

fn probe(cpu: u32, point: u16, pc: u64, flags: u8) -> Record {
    Record {
        cpu,
        kind: Kind::Probe as u8,
        pc,
        point,
        flags,
        ..Record::default()
    }
}

/// One variant: its directory, the fixture it edits, the edited bytes.
struct Variant {
    name: &'static str,
    from: &'static str,
    image: Image,
}

/// x86_64 stale-cpu, the crash CPU hangs after the NMI stop: CPU 1 ran the
/// NMI callback (crash_save_cpu) and is stopped; CPU 0 never got to its own
/// crash_save_cpu. The verdict is about CPU 0, not the last writer.
fn shootdown_hang() -> Variant {
    let mut i = Image::load("guest-stale-cpu-x86_64");
    i.clear_header_flags(HDR_CRASH_KERNEL_REACHED);
    for seq in 24..=28 {
        i.delete(seq);
    }
    Variant {
        name: "variant-shootdown-hang-x86_64",
        from: "guest-stale-cpu-x86_64",
        image: i,
    }
}

/// stall-reset, then a later panic on a CPU that failed to stop: CPU 1's
/// crash_save_cpu is gone (it never took the stop) and it panics after CPU
/// 0 reached machine_kexec. The verdict stays on CPU 0; CPU 1's panic is
/// reported as a later panic.
fn late_panic() -> Variant {
    let mut i = Image::load("guest-stall-reset-x86_64");
    i.delete(8);
    let (panic, addr) = i.point("panic");
    i.add(probe(1, panic, addr, REC_CRASH_PHASE), 2_000_000);
    Variant {
        name: "variant-late-panic-x86_64",
        from: "guest-stall-reset-x86_64",
        image: i,
    }
}

/// report-hang with CPU 1's samples simply stopping ~6 s before CPU 0's:
/// no breadcrumb, no stuck run (the pid changes between samples). Only the
/// silence says CPU 1 hung with interrupts masked.
fn silent_cpu() -> Variant {
    let mut i = Image::load("guest-report-hang-x86_64");
    i.delete(20); // print_modules
    let t = i.trail();
    let h = t.header;
    let mut offs = Vec::new();
    for s in 0..h.samples_per_cpu {
        if let Slot::Valid(r) = t.sample_slot(1, s) {
            offs.push((r.seq, h.samples_offset(1) + s as usize * RECORD_SIZE));
        }
    }
    offs.sort_unstable();
    for (n, (_, o)) in offs.into_iter().enumerate() {
        let mut r = Record::from_bytes(i.bytes[o..o + RECORD_SIZE].try_into().expect("64"));
        if r.arg != 0 {
            r.arg += n as u64 % 2; // 54, 55, 54, ...: a different task each time
        }
        i.bytes[o..o + RECORD_SIZE].copy_from_slice(r.as_bytes());
        fix_record_csum(&mut i.bytes, o);
    }
    Variant {
        name: "variant-silent-cpu-x86_64",
        from: "guest-report-hang-x86_64",
        image: i,
    }
}

/// panic -> __crash_kexec -> panic notifier: __crash_kexec returned, so no
/// crash image was loaded. Not "next expected: __crash_kexec" (backwards).
fn notifier_after_crash_kexec() -> Variant {
    let mut i = Image::load("guest-stall-reset-x86_64");
    for seq in 6..=13 {
        i.delete(seq);
    }
    let (_, panic_addr) = i.point("panic");
    i.add(
        Record {
            cpu: 0,
            kind: Kind::PanicNotifier as u8,
            pc: panic_addr + 0x1a0,
            flags: REC_CRASH_PHASE,
            point: NO_POINT,
            ..Record::default()
        },
        3_000_000,
    );
    Variant {
        name: "variant-no-kdump-x86_64",
        from: "guest-stall-reset-x86_64",
        image: i,
    }
}

/// An emergency restart (sysrq-b, a panic timeout) while CPU 1 is stuck:
/// the report-hang trail from a kernel whose plan probed
/// `emergency_restart`, hit on CPU 0 after the stuck samples.
fn rebooted() -> Variant {
    let mut i = Image::load("guest-report-hang-x86_64");
    i.delete(20);
    let (idx, addr) = i.point("print_modules");
    i.retag_v1_point(idx, "emergency_restart", Role::EmergencyRestart);
    i.add(probe(0, idx, addr, 0), 1_000_000);
    Variant {
        name: "variant-rebooted-x86_64",
        from: "guest-report-hang-x86_64",
        image: i,
    }
}

fn variants() -> Vec<Variant> {
    vec![
        shootdown_hang(),
        late_panic(),
        silent_cpu(),
        notifier_after_crash_kexec(),
        rebooted(),
    ]
}

fn kallsyms(from: &str) -> SymbolTable {
    let text = fs::read_to_string(fixtures().join(from).join("kallsyms")).expect("kallsyms");
    SymbolTable::parse(&text, Source::Kallsyms).expect("parses")
}

fn dec(v: &Variant, t: Option<&SymbolTable>) -> Decoded {
    decode(
        &v.image.bytes,
        &Options {
            symbols: t,
            ..Options::default()
        },
    )
    .expect("decodes")
}

#[test]
fn variants_match_their_fixtures() {
    let mut failures = Vec::new();
    for v in variants() {
        let dir = fixtures().join(v.name);
        if bless() {
            fs::create_dir_all(&dir).expect("mkdir");
            fs::write(dir.join("trail.bin"), &v.image.bytes).expect("writes");
            fs::copy(
                fixtures().join(v.from).join("kallsyms"),
                dir.join("kallsyms"),
            )
            .expect("copies kallsyms");
            continue;
        }
        match fs::read(dir.join("trail.bin")) {
            Ok(b) if b == v.image.bytes => {}
            _ => failures.push(format!(
                "{}: trail.bin is not the edit of {} (HANGTRAIL_BLESS=1)",
                v.name, v.from
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn variant(name: &str) -> (Variant, Decoded) {
    let v = variants()
        .into_iter()
        .find(|v| v.name == name)
        .expect("variant");
    let t = kallsyms(v.from);
    let d = dec(&v, Some(&t));
    // Rule: symbols never change the verdict.
    let bare = dec(&v, None);
    assert_eq!(
        (
            bare.verdict.state,
            bare.verdict.cpu,
            bare.verdict.last.as_ref().map(|r| r.seq()),
            &bare.verdict.next_expected,
            &bare.verdict.summary
        ),
        (
            d.verdict.state,
            d.verdict.cpu,
            d.verdict.last.as_ref().map(|r| r.seq()),
            &d.verdict.next_expected,
            &d.verdict.summary
        ),
        "{name}: symbols changed the verdict"
    );
    (v, d)
}

#[test]
fn crash_cpu_hung_after_the_nmi_stop() {
    let (_, d) = variant("variant-shootdown-hang-x86_64");
    let v = &d.verdict;
    assert_eq!(
        (v.state, v.reason, v.cpu),
        (State::Hung, Some(Reason::CrashPath), Some(0))
    );
    assert_eq!(
        v.last.as_ref().map(|r| r.location()).as_deref(),
        Some("native_machine_crash_shutdown+0x0")
    );
    assert_eq!(v.next_expected.as_deref(), Some("crash_save_cpu"));
    let cpu1 = d.cpus.iter().find(|c| c.cpu == 1).expect("CPU 1");
    assert!(cpu1.state.stopped() && !cpu1.state.entered());
    assert!(d.stale_cpus.is_empty());
}

#[test]
fn a_later_panic_is_not_the_verdict() {
    let (_, d) = variant("variant-late-panic-x86_64");
    let v = &d.verdict;
    assert_eq!((v.state, v.cpu), (State::Unconfirmed, Some(0)));
    assert_eq!(
        v.last.as_ref().map(|r| r.location()).as_deref(),
        Some("machine_kexec+0x0")
    );
    assert_eq!(v.next_expected.as_deref(), Some("crash kernel handoff"));
    assert_eq!(v.core.later_panic, Some(1));
    assert_eq!(d.stale_cpus.iter().map(|s| s.cpu).collect::<Vec<_>>(), [1]);
    assert!(
        v.summary
            .contains("; later panic on CPU 1; failed to stop: CPU 1"),
        "{}",
        v.summary
    );
}

#[test]
fn a_silent_cpu_is_a_hang() {
    let (_, d) = variant("variant-silent-cpu-x86_64");
    let v = &d.verdict;
    assert!(d.stuck.is_empty(), "no stuck run: the pid changes");
    assert_eq!(
        (v.state, v.reason, v.cpu),
        (State::Hung, Some(Reason::Silent), Some(1))
    );
    assert_eq!(
        v.last.as_ref().map(|r| r.location()).as_deref(),
        Some("delay_tsc+0x48")
    );
    let cpu1 = d.cpus.iter().find(|c| c.cpu == 1).expect("CPU 1");
    assert!(
        cpu1.state.silent_ns > 5_000_000_000,
        "{}",
        cpu1.state.silent_ns
    );
}

#[test]
fn notifier_after_crash_kexec_means_no_kdump() {
    let (_, d) = variant("variant-no-kdump-x86_64");
    let v = &d.verdict;
    assert_eq!((v.state, v.cpu), (State::NoKdump, Some(0)));
    assert_eq!(
        v.next_expected, None,
        "nothing is expected after __crash_kexec returned"
    );
    assert_eq!(
        v.last.as_ref().map(|r| r.location()).as_deref(),
        Some("panic+0x1a0")
    );
    assert_eq!(
        v.summary,
        "no-kdump: panic on CPU 0 with no crash kernel loaded (last: the panic notifier)"
    );
}

#[test]
fn an_emergency_restart_is_a_reboot() {
    let (_, d) = variant("variant-rebooted-x86_64");
    let v = &d.verdict;
    assert_eq!(v.state, State::Rebooted);
    assert!(
        v.summary
            .starts_with("rebooted: emergency restart at emergency_restart on CPU 0"),
        "{}",
        v.summary
    );
    assert!(
        v.summary.contains("stuck: CPU 1"),
        "the stuck CPU is still listed: {}",
        v.summary
    );
}

/// A trail that ended in order (rmmod, or an orderly reboot: `HDR_ENDED`) is
/// no hang, whatever its samples show. The rule's defeat: the same trails
/// without the flag are hangs (stuck samples; a silent CPU).
#[test]
fn an_ended_trail_is_no_hang() {
    let stuck = Variant {
        name: "report-hang, ended",
        from: "guest-report-hang-x86_64",
        image: Image::load("guest-report-hang-x86_64"),
    };
    for (mut v, reason) in [
        (stuck, Reason::StuckSamples),
        (silent_cpu(), Reason::Silent),
    ] {
        let before = dec(&v, None).verdict;
        assert_eq!(
            (before.state, before.reason),
            (State::Hung, Some(reason)),
            "{}",
            v.name
        );
        v.image.set_header_flags(HDR_ENDED);
        let after = dec(&v, None).verdict;
        assert_eq!(
            (after.state, after.reason),
            (State::NoCrash, None),
            "{}",
            v.name
        );
    }
}

/// A trail that reached `machine_kexec` with the crash image and has no
/// crash kernel mark is unconfirmed, unless the crash kernel was set up to
/// leave one (`crash_marks=1`, `HDR_CRASH_MARKS`): then it hung there. The
/// rule's defeat: with the mark there the flag changes nothing (handoff).
#[test]
fn crash_marks_turns_an_unconfirmed_handoff_into_a_hang() {
    for from in ["guest-stall-reset-x86_64", "guest-v2-stall-reset-arm64"] {
        let mut v = Variant {
            name: from,
            from,
            image: Image::load(from),
        };
        let before = dec(&v, None).verdict;
        assert_eq!(before.state, State::Unconfirmed, "{from}");
        v.image.set_header_flags(HDR_CRASH_MARKS);
        let after = dec(&v, None).verdict;
        assert_eq!(
            (
                after.state,
                after.reason,
                after.cpu,
                after.last.map(|l| l.raw.pc)
            ),
            (
                State::Hung,
                Some(Reason::CrashPath),
                before.cpu,
                before.last.map(|l| l.raw.pc)
            ),
            "{from}"
        );
        v.image
            .set_header_flags(HDR_CRASH_MARKS | HDR_CRASH_KERNEL_REACHED);
        assert_eq!(
            dec(&v, None).verdict.state,
            State::Handoff,
            "{from}: marked"
        );
    }
}
