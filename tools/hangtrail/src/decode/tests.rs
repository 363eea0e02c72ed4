//! Decoder unit tests on trails built with `synth` (the real format types).

use super::*;
use crate::format::{
    HDR_CRASH_KERNEL_REACHED, HDR_ENDED, HDR_RELEASED, HEADER_SIZE, MAGIC, NO_POINT, PAYLOAD_LEN,
    POINT_MISSING, POINT_REFUSED, VERSION,
};
use crate::render;
use crate::symbols::{Source, SymbolTable};
use crate::synth::{fix_header_csum, fix_record_csum, Rng, SymbolMap, TrailBuilder};
use crate::verdict::{Reason, State};

const BASE: u64 = 0xffff_ffff_8100_0000;
const SLIDE: u64 = 0x3e00_0000;

const FUNCS: &[&str] = &[
    "_stext",
    "panic",
    "__crash_kexec",
    "native_machine_crash_shutdown",
    "nmi_shootdown_cpus",
    "crash_save_cpu",
    "machine_kexec",
    "machine_kexec_post_load",
    "icache_inval_pou",
    "caches_clean_inval_pou",
    "atomic_notifier_call_chain",
    "do_idle",
    "spin_forever",
    "do_one_initcall",
    "_etext",
];

fn kernel() -> SymbolMap {
    SymbolMap::new(BASE, 0x400, FUNCS)
}

/// Runtime address of `name+off` in a boot with slide `SLIDE`.
fn at(name: &str, off: u64) -> u64 {
    kernel().addr(name) + SLIDE + off
}

fn builder(nr_cpus: u32) -> TrailBuilder {
    let mut b = TrailBuilder::new(Arch::X86_64, nr_cpus, 16);
    b.release("6.12.0-test");
    b.reference("panic", at("panic", 0));
    b
}

fn point(b: &mut TrailBuilder, name: &str, role: Role) -> u16 {
    let (sym, off) = match name.split_once("+0x") {
        Some((s, o)) => (s, u64::from_str_radix(o, 16).expect("hex")),
        None => (name, 0),
    };
    b.point(name, role, at(sym, off))
}

fn map() -> SymbolTable {
    SymbolTable::parse(&kernel().system_map(), Source::SystemMap).expect("map parses")
}

fn dec(img: &[u8]) -> Decoded {
    decode(img, &Options::default()).expect("decodes")
}

fn dec_with(img: &[u8], t: &SymbolTable) -> Decoded {
    decode(
        img,
        &Options {
            symbols: Some(t),
            ..Options::default()
        },
    )
    .expect("decodes")
}

fn text(d: &Decoded) -> String {
    let mut out = Vec::new();
    render::text(d, "test", &mut out).expect("renders");
    String::from_utf8(out).expect("utf-8")
}

fn json(d: &Decoded) -> serde_json::Value {
    let mut out = Vec::new();
    render::json(d, &mut out).expect("renders");
    serde_json::from_slice(&out).expect("valid JSON")
}

fn rec(d: &Decoded, seq: u64) -> &Rec {
    d.records
        .iter()
        .chain(&d.samples)
        .find(|r| r.seq() == seq)
        .unwrap_or_else(|| panic!("seq {seq} not decoded"))
}

fn sym(d: &Decoded, seq: u64) -> String {
    rec(d, seq).location()
}

// ------------------------------------------------------------ kinds --

#[test]
fn every_kind_decodes() {
    let t = map();
    let mut b = builder(2);
    let p = point(&mut b, "panic", Role::PanicEntry);
    let mk = point(&mut b, "machine_kexec", Role::MachineKexec);
    b.kretprobe(mk);
    let start = b.record(0, Kind::Start, 0, 2, 0, NO_POINT);
    let probe = b.probe(0, p, 0xdead, REC_CRASH_PHASE);
    let ret = b.record(
        0,
        Kind::Return,
        at("machine_kexec", 0),
        0xfffffffffffffff0,
        0,
        mk,
    );
    let sl = b.softlockup(
        1,
        at("spin_forever", 0x18),
        23_500_000_000,
        "spinner",
        4242,
        0,
    );
    let fr = b.record(1, Kind::Frame, at("do_one_initcall", 0x40), 0, 0, NO_POINT);
    let pn = b.record(
        0,
        Kind::PanicNotifier,
        at("atomic_notifier_call_chain", 0x30),
        0,
        0,
        NO_POINT,
    );
    let sr = b.record(
        0,
        Kind::StopResult,
        at("nmi_shootdown_cpus", 0x80),
        1,
        REC_CRASH_PHASE,
        NO_POINT,
    );
    let so = b.record(
        0,
        Kind::StillOnline,
        at("nmi_shootdown_cpus", 0x90),
        1,
        REC_CRASH_PHASE,
        NO_POINT,
    );
    let sa = b.sample(1, at("spin_forever", 0x10), 4242, 0);
    b.name(1, fr, "do_one_initcall+0x40/0x100", 0);
    let d = dec_with(&b.build(), &t);
    assert_eq!(d.counts.valid, 11);
    assert_eq!(rec(&d, start).kind, Kind::Start);
    assert_eq!(sym(&d, probe), "panic+0x0");
    assert_eq!(rec(&d, probe).arg(), 0xdead);
    assert_eq!(rec(&d, ret).kind, Kind::Return);
    assert_eq!(sym(&d, ret), "machine_kexec+0x0");
    assert_eq!(sym(&d, sl), "spin_forever+0x18");
    assert_eq!(sym(&d, fr), "do_one_initcall+0x40");
    assert_eq!(sym(&d, pn), "atomic_notifier_call_chain+0x30");
    assert_eq!(rec(&d, sr).arg(), 1);
    assert_eq!(rec(&d, so).kind, Kind::StillOnline);
    assert_eq!(rec(&d, sa).area, Area::Samples);
    assert_eq!(sym(&d, sa), "spin_forever+0x10");
    assert!(d.records.iter().any(|r| r.kind == Kind::Name));

    let s = d.softlockup.as_ref().expect("soft lockup");
    assert_eq!(
        (s.rec.cpu(), s.duration_ns, s.pid),
        (1, 23_500_000_000, 4242)
    );
    assert_eq!(s.comm, "spinner");
    assert_eq!(s.frames.len(), 1);

    let out = text(&d);
    for want in [
        "start ",
        "points=2",
        "probe ",
        "arg0=0xdead",
        "return ",
        "ret=0xfffffffffffffff0",
        "softlockup ",
        "stuck 23.500 s, comm \"spinner\" pid 4242",
        "frame ",
        "#0",
        "panic-notifier ",
        "stop-result ",
        "others still online: 1",
        "still-online ",
        "CPU 1 still online",
        "pid 4242",
        "CPU 1 stuck for 23.500 s in spin_forever+0x18, task \"spinner\" (pid 4242)",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    let j = json(&d);
    let kinds: Vec<&str> = j["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["kind"].as_str().expect("kind"))
        .collect();
    for k in [
        "start",
        "probe",
        "return",
        "softlockup",
        "frame",
        "name",
        "panic-notifier",
        "stop-result",
        "still-online",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert_eq!(j["samples"][0]["kind"], "sample");
    assert_eq!(j["softlockup"]["comm"], "spinner");
    assert_eq!(j["softlockup"]["frames"][0]["symbol"], "do_one_initcall");
}

#[test]
fn flags_are_reported() {
    let mut b = builder(1);
    let p = point(&mut b, "machine_kexec_post_load", Role::KexecPostLoad);
    let load = b.probe(0, p, 0, REC_LOAD_PHASE);
    let crash = b.record(0, Kind::Probe, at("panic", 0), 0, REC_CRASH_PHASE, NO_POINT);
    let idle = b.sample(0, at("do_idle", 4), 0, REC_IDLE);
    let user = b.sample(0, 0x4000_1000, 77, REC_USER);
    let d = dec(&b.build());
    assert!(rec(&d, load).has(REC_LOAD_PHASE));
    assert!(rec(&d, crash).has(REC_CRASH_PHASE));
    let out = text(&d);
    assert!(out.contains("machine_kexec_post_load+0x0 [load]"), "{out}");
    assert!(out.contains("[crash]"), "{out}");
    assert!(out.contains("[idle]"), "{out}");
    assert!(out.contains("0x40001000 [user]"), "{out}");
    let j = json(&d);
    let flags = |seq: u64| -> Vec<String> {
        let all = j["records"]
            .as_array()
            .into_iter()
            .chain(j["samples"].as_array())
            .flatten();
        let r = all.into_iter().find(|r| r["seq"] == seq).expect("record");
        r["flags"]
            .as_array()
            .expect("flags")
            .iter()
            .map(|f| f.as_str().expect("str").to_string())
            .collect()
    };
    assert_eq!(flags(load), ["load"]);
    assert_eq!(flags(crash), ["crash"]);
    assert_eq!(flags(idle), ["idle"]);
    assert_eq!(flags(user), ["user"]);
}

#[test]
fn user_samples_are_not_symbolized() {
    let t = map();
    let mut b = builder(1);
    // A user pc that happens to fall inside the kernel's range must still
    // not get a kernel name.
    let s = b.sample(0, at("do_idle", 8), 5, REC_USER);
    let d = dec_with(&b.build(), &t);
    assert_eq!(rec(&d, s).sym, None);
}

// ------------------------------------------------------- name chunks --

#[test]
fn name_chunks_name_their_owner() {
    let mut b = builder(2);
    let mod_pc = 0xffff_ffff_c012_302c;
    let sl = b.softlockup(1, mod_pc, 0, "insmod", 1, 0);
    // Interleave another CPU's record between the chunks.
    b.name(1, sl, "test_wait+0x2c/0x50 [test_lockup]", 0);
    b.record(0, Kind::Probe, at("panic", 0), 0, 0, NO_POINT);
    let fr = b.record(1, Kind::Frame, 0xffff_ffff_c012_3100, 0, 0, NO_POINT);
    b.name(
        1,
        fr,
        "a_function_with_a_very_long_name_that_spans_chunks+0x20/0x40 [m]",
        0,
    );
    let sample = b.sample(1, mod_pc + 8, 1, 0);
    let d = dec(&b.build());
    let s = rec(&d, sl).sym.as_ref().expect("named");
    assert_eq!((&*s.name, s.offset), ("test_wait", 0x2c));
    assert_eq!(s.module.as_deref(), Some("test_lockup"));
    assert_eq!(
        sym(&d, fr),
        "a_function_with_a_very_long_name_that_spans_chunks+0x20 [m]"
    );
    // A sample inside a function named by chunks gets that name too.
    assert_eq!(sym(&d, sample), "test_wait+0x34 [test_lockup]");
}

#[test]
fn name_chunk_edge_cases() {
    let mut b = builder(1);
    // Exactly one chunk's worth of text: a second, all-NUL chunk follows.
    let exact = b.record(0, Kind::Frame, 0x1000, 0, 0, NO_POINT);
    assert_eq!("abcdefghij+0x10 [mm]".len(), PAYLOAD_LEN);
    b.name(0, exact, "abcdefghij+0x10 [mm]", 0);
    // A gap: chunk 1 lost, so the text is not trusted.
    let gap = b.record(0, Kind::Frame, 0x2000, 0, 0, NO_POINT);
    let mut p0 = [0u8; PAYLOAD_LEN];
    p0.copy_from_slice(b"another_long_functio");
    let mut p2 = [0u8; PAYLOAD_LEN];
    p2[..5].copy_from_slice(b"[mod]");
    for (point, payload) in [(0, p0), (2, p2)] {
        b.push(Record {
            kind: Kind::Name as u8,
            arg: gap,
            point,
            payload,
            ..Record::default()
        });
    }
    // Garbage text is ignored.
    let junk = b.record(0, Kind::Frame, 0x3000, 0, 0, NO_POINT);
    b.name(0, junk, "\u{fffd}not a symbol", 0);
    // A duplicate chunk 0: the first one wins.
    let dup = b.record(0, Kind::Frame, 0x4000, 0, 0, NO_POINT);
    b.name(0, dup, "first+0x4", 0);
    b.name(0, dup, "second+0x8", 0);
    let d = dec(&b.build());
    assert_eq!(sym(&d, exact), "abcdefghij+0x10 [mm]");
    assert_eq!(rec(&d, gap).sym, None);
    assert_eq!(rec(&d, junk).sym, None);
    assert_eq!(sym(&d, dup), "first+0x4");
    // Name records themselves are never symbolized.
    assert!(d
        .records
        .iter()
        .filter(|r| r.kind == Kind::Name)
        .all(|r| r.sym.is_none()));
}

// ------------------------------------------------- symbols and KASLR --

#[test]
fn kaslr_slide_is_undone() {
    let t = map();
    let mut b = builder(1);
    let s = b.record(
        0,
        Kind::PanicNotifier,
        at("do_one_initcall", 0x44),
        0,
        0,
        NO_POINT,
    );
    let d = dec_with(&b.build(), &t);
    assert_eq!(d.slide, Some(SLIDE));
    assert_eq!(sym(&d, s), "do_one_initcall+0x44");
    assert!(text(&d).contains("KASLR slide 0x3e000000 against system-map"));
    assert_eq!(json(&d)["header"]["slide"], SLIDE);

    // Another boot: a different slide, the same System.map.
    let mut b2 = builder(1);
    b2.reference("panic", kernel().addr("panic") + 0x1000_0000);
    let s2 = b2.record(
        0,
        Kind::PanicNotifier,
        kernel().addr("do_idle") + 0x1000_0000 + 8,
        0,
        0,
        NO_POINT,
    );
    let d2 = dec_with(&b2.build(), &t);
    assert_eq!(d2.slide, Some(0x1000_0000));
    assert_eq!(sym(&d2, s2), "do_idle+0x8");
}

#[test]
fn system_map_and_kallsyms_agree_on_vmlinux_pcs() {
    let k = kernel();
    // kallsyms of the boot that wrote the trail: runtime addresses, plus a
    // module's symbols.
    let mut kallsyms = String::new();
    for (a, n) in &k.funcs {
        kallsyms.push_str(&format!("{:016x} T {n}\n", a + SLIDE));
    }
    kallsyms.push_str("ffffffffc0120000 t mod_spin\t[spinmod]\n");
    kallsyms.push_str("ffffffffc0120100 t mod_init\t[spinmod]\n");
    let ks = SymbolTable::parse(&kallsyms, Source::Kallsyms).expect("kallsyms");
    let sm = map();

    let mut b = builder(1);
    let v = b.record(
        0,
        Kind::PanicNotifier,
        at("crash_save_cpu", 0x20),
        0,
        0,
        NO_POINT,
    );
    let m = b.record(
        0,
        Kind::PanicNotifier,
        0xffff_ffff_c012_0010,
        0,
        0,
        NO_POINT,
    );
    let img = b.build();
    let a = dec_with(&img, &sm);
    let c = dec_with(&img, &ks);
    assert_eq!(c.slide, Some(0));
    assert_eq!(sym(&a, v), "crash_save_cpu+0x20");
    assert_eq!(sym(&c, v), "crash_save_cpu+0x20");
    // Only kallsyms of the same boot knows the module.
    assert_eq!(rec(&a, m).sym, None);
    assert_eq!(sym(&c, m), "mod_spin+0x10 [spinmod]");
    assert_eq!(json(&c)["header"]["symbols"], "kallsyms");

    // kallsyms from another boot: module symbols skipped.
    let mut other = String::new();
    for (a, n) in &k.funcs {
        other.push_str(&format!("{:016x} T {n}\n", a + 0x200000));
    }
    other.push_str("ffffffffc0120000 t mod_spin\t[spinmod]\n");
    let ko = SymbolTable::parse(&other, Source::Kallsyms).expect("kallsyms");
    let o = dec_with(&img, &ko);
    assert_eq!(o.slide, Some(SLIDE - 0x200000));
    assert_eq!(sym(&o, v), "crash_save_cpu+0x20");
    assert_eq!(rec(&o, m).sym, None);
}

#[test]
fn missing_reference_symbol_is_an_error() {
    let t = SymbolTable::parse("ffffffff81000000 T other\n", Source::SystemMap).expect("parses");
    let b = builder(1);
    let e = decode(
        &b.build(),
        &Options {
            symbols: Some(&t),
            ..Options::default()
        },
    )
    .err();
    assert_eq!(
        e,
        Some(Error::Symbols(SymbolError::MissingRef("panic".into())))
    );
}

#[test]
fn symbols_are_checked_against_the_points_and_the_slide() {
    let t = map();
    let opts = |force| Options {
        symbols: Some(&t),
        force_symbols: force,
        ..Options::default()
    };
    // Good: the points sit at their symbols under a 2 MiB-aligned slide.
    let mut b = builder(1);
    let ck = point(&mut b, "__crash_kexec", Role::CrashKexec);
    b.probe(0, ck, 0, REC_CRASH_PHASE);
    assert!(decode(&b.build(), &opts(false)).is_ok());
    // A point that is not where the file says.
    let mut b = builder(1);
    b.point(
        "machine_kexec",
        Role::MachineKexec,
        at("machine_kexec", 0x100),
    );
    let e = decode(&b.build(), &opts(false)).err();
    assert!(
        matches!(&e, Some(Error::Symbols(SymbolError::Mismatch(w))) if w.contains("machine_kexec")),
        "{e:?}"
    );
    // A slide that KASLR cannot produce (4 KiB aligned) with every point
    // consistent with it: still refused.
    let mut b = builder(1);
    b.reference("panic", at("panic", 0) + 0x1000);
    let e = decode(&b.build(), &opts(false)).err();
    assert!(
        matches!(&e, Some(Error::Symbols(SymbolError::Mismatch(w))) if w.contains("not a multiple")),
        "{e:?}"
    );
    // Forced: decoded, with a warning and every file name marked.
    b.sample(0, at("do_idle", 0x1000 + 4), 0, REC_IDLE);
    let d = decode(&b.build(), &opts(true)).expect("forced");
    assert!(d.warnings.iter().any(|w| w.contains("--force-symbols")));
    assert!(d.samples[0].unverified);
    assert_eq!(d.samples[0].location(), "?do_idle+0x4");
}

/// x86_64 kernels with IBT (Debian's stock ones) start functions with
/// `endbr64`, and the kernel moves a kprobe asked for at +0 past it: such a
/// point ran at symbol + 4. Only there: not for a point asked for at an
/// offset, not 8 bytes in, not on arm64.
#[test]
fn an_entry_point_past_endbr64_is_at_its_symbol_on_x86_64_only() {
    let t = map();
    let opts = Options {
        symbols: Some(&t),
        ..Options::default()
    };
    let trail = |arch, name: &str, role, addr| {
        let mut b = TrailBuilder::new(arch, 1, 16);
        b.release("7.3.4+deb13-amd64");
        b.reference("panic", at("panic", 0));
        let p = b.point(name, role, addr);
        b.probe(0, p, 0, REC_CRASH_PHASE);
        b.build()
    };
    let mismatch = |img: &[u8]| {
        matches!(decode(img, &opts).err(), Some(Error::Symbols(SymbolError::Mismatch(w)))
            if w.contains("machine_kexec"))
    };
    let mk = at("machine_kexec", 0);
    let d = decode(
        &trail(Arch::X86_64, "machine_kexec", Role::MachineKexec, mk + 4),
        &opts,
    )
    .expect("+4 past endbr64 is machine_kexec's entry");
    // Named as the point was asked for: the function's entry.
    assert_eq!(sym(&d, d.records[0].seq()), "machine_kexec+0x0");
    assert!(mismatch(&trail(
        Arch::X86_64,
        "machine_kexec",
        Role::MachineKexec,
        mk + 8
    )));
    assert!(mismatch(&trail(
        Arch::X86_64,
        "machine_kexec+0x10",
        Role::User,
        mk + 0x14
    )));
    assert!(mismatch(&trail(
        Arch::Arm64,
        "machine_kexec",
        Role::MachineKexec,
        mk + 4
    )));
}

#[test]
fn frames_are_looked_up_at_pc_minus_1() {
    let t = map();
    let mut b = builder(1);
    // A return address at the first byte of do_idle: the call it returns
    // from was the last instruction of the function before it.
    let f = b.record(0, Kind::Frame, at("do_idle", 0), 0, 0, NO_POINT);
    let s = b.record(0, Kind::Probe, at("do_idle", 0), 0, 0, NO_POINT);
    let d = dec_with(&b.build(), &t);
    assert_eq!(sym(&d, f), "atomic_notifier_call_chain+0x400");
    assert_eq!(
        sym(&d, s),
        "do_idle+0x0",
        "other pcs are looked up as they are"
    );
}

#[test]
fn empty_reference_name_warns_and_assumes_no_slide() {
    let t = map();
    let mut b = builder(1);
    b.reference("", 0);
    let s = b.record(
        0,
        Kind::PanicNotifier,
        kernel().addr("do_idle") + 4,
        0,
        0,
        NO_POINT,
    );
    let d = dec_with(&b.build(), &t);
    assert_eq!(d.slide, Some(0));
    assert_eq!(sym(&d, s), "do_idle+0x4");
    assert!(d.warnings.iter().any(|w| w.contains("no reference symbol")));
}

#[test]
fn points_name_probes_without_symbols() {
    let mut b = builder(1);
    let p = point(&mut b, "caches_clean_inval_pou+0x5c", Role::User);
    let f = point(&mut b, "machine_kexec", Role::MachineKexec);
    b.kretprobe(f);
    let pr = b.probe(0, p, 0, 0);
    // A kretprobe's Return carries the function address.
    let ret = b.record(0, Kind::Return, at("machine_kexec", 0), 0, 0, f);
    // A probe pc a little past the point (e.g. a post-handler): offset
    // follows the pc.
    let off = b.record(0, Kind::Probe, at("caches_clean_inval_pou", 0x60), 0, 0, p);
    // Not a probe: no point name, and no symbol file.
    let other = b.record(0, Kind::PanicNotifier, at("panic", 4), 0, 0, NO_POINT);
    let d = dec(&b.build());
    assert_eq!(d.slide, None);
    assert_eq!(sym(&d, pr), "caches_clean_inval_pou+0x5c");
    assert_eq!(sym(&d, ret), "machine_kexec+0x0");
    assert_eq!(sym(&d, off), "caches_clean_inval_pou+0x60");
    assert_eq!(rec(&d, other).sym, None);
    assert_eq!(rec(&d, other).location(), format!("{:#x}", at("panic", 4)));
}

#[test]
fn point_table_statuses() {
    let mut b = builder(1);
    point(&mut b, "panic", Role::PanicEntry);
    b.point_with(
        "flush_icache_range",
        Role::CacheIcache,
        0,
        0,
        POINT_MISSING,
        0,
    );
    b.point_with("do_idle+0x4", Role::User, 0, 4, POINT_REFUSED, -22);
    b.point_with("odd", Role::User, 0, 0, 77, 0);
    let d = dec(&b.build());
    let out = text(&d);
    assert!(out.contains("registered"), "{out}");
    assert!(out.contains("missing"), "{out}");
    assert!(out.contains("refused (-22)"), "{out}");
    let j = json(&d);
    assert_eq!(j["points"][1]["status"], "missing");
    assert_eq!(j["points"][2]["status"], "refused");
    assert_eq!(j["points"][2]["errno"], -22);
    assert_eq!(j["points"][3]["status"], "unknown");
    assert_eq!(j["points"][0]["role"], "panic-entry");
}

// ------------------------------------------------------ corruptions --

fn sample_trail() -> (TrailBuilder, Vec<u64>) {
    let mut b = builder(2);
    let p = point(&mut b, "panic", Role::PanicEntry);
    let mut seqs = Vec::new();
    for i in 0..10u64 {
        seqs.push(b.probe((i % 2) as u32, p, i, 0));
    }
    (b, seqs)
}

fn header_err(img: &[u8]) -> HeaderError {
    match decode(img, &Options::default()) {
        Err(Error::Header(e)) => e,
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(_) => panic!("decoded a corrupt header"),
    }
}

#[test]
fn truncated_header() {
    let (b, _) = sample_trail();
    let img = b.build();
    assert_eq!(header_err(&img[..HEADER_SIZE - 1]), HeaderError::Truncated);
    assert_eq!(header_err(&img[..4]), HeaderError::Truncated);
    assert_eq!(header_err(&[]), HeaderError::Truncated);
    let e = Error::Header(HeaderError::Truncated).to_string();
    assert!(e.contains("shorter than a hangtrail header"), "{e}");
}

#[test]
fn truncated_region_decodes_the_rest() {
    let (b, seqs) = sample_trail();
    let img = b.build();
    // Cut in the middle of CPU 1's ring, mid-record.
    let cut = b.ring_slot_offset(1, 3) + 10;
    let d = dec(&img[..cut]);
    // CPU 0 (5 records) and CPU 1's first 3 survive.
    assert_eq!(d.records.len(), 8);
    assert_eq!(d.counts.missing, 16 - 3);
    assert!(d.warnings.iter().any(|w| w.contains("13 slots missing")));
    assert_eq!(json(&d)["missing_slots"], 13);
    assert!(d.records.iter().all(|r| seqs.contains(&r.seq())));
    // Cut right after the header: every slot missing, still a trail.
    let d = dec(&img[..HEADER_SIZE]);
    assert_eq!(d.counts.missing, 2 * (16 + 8));
    assert_eq!(d.verdict.state, State::Empty);
}

#[test]
fn zero_filled_and_random_bytes_are_not_trails() {
    assert_eq!(header_err(&vec![0u8; 65536]), HeaderError::BadMagic);
    let mut rng = Rng::new(7);
    let junk: Vec<u8> = (0..65536).map(|_| rng.next_u64() as u8).collect();
    assert_eq!(header_err(&junk), HeaderError::BadMagic);
}

#[test]
fn wrong_magic() {
    let (b, _) = sample_trail();
    let mut img = b.build();
    img[0] ^= 1;
    assert_eq!(header_err(&img), HeaderError::BadMagic);
    // Even with a fixed-up checksum.
    fix_header_csum(&mut img);
    assert_eq!(header_err(&img), HeaderError::BadMagic);
    assert_eq!(&MAGIC.to_le_bytes(), b"HANGTRL1");
}

#[test]
fn newer_version() {
    let (mut b, _) = sample_trail();
    b.area.header.version = VERSION + 1;
    let img = b.build();
    assert_eq!(header_err(&img), HeaderError::NewerVersion(VERSION + 1));
    let msg = Error::Header(HeaderError::NewerVersion(VERSION + 1)).to_string();
    assert!(msg.contains("newer"), "{msg}");
    assert!(msg.contains(&format!("version {}", VERSION + 1)), "{msg}");
}

#[test]
fn header_checksum_mismatch() {
    let (b, _) = sample_trail();
    let mut img = b.build();
    img[100] ^= 0x20; // inside `release`
    assert_eq!(header_err(&img), HeaderError::BadChecksum);
}

#[test]
fn bad_geometry() {
    let (mut b, _) = sample_trail();
    b.area.header.ring_records = 1 << 30; // more than region_size holds
    assert_eq!(header_err(&b.build()), HeaderError::BadGeometry);
}

#[test]
fn huge_claimed_region_is_counted_not_walked() {
    let (mut b, _) = sample_trail();
    b.area.header.nr_cpus = crate::format::MAX_CPUS;
    b.area.header.region_size = 1 << 45;
    b.area.header.ring_records = 1 << 28;
    let img = b.build_header_only();
    let d = dec(&img);
    let cpus = u64::from(crate::format::MAX_CPUS);
    assert_eq!(
        d.counts.missing,
        cpus * (1 << 28) + cpus * 8,
        "every slot counted missing"
    );
}

#[test]
fn record_checksum_mismatch_marks_only_that_slot() {
    let (b, seqs) = sample_trail();
    let mut img = b.build();
    let (cpu, slot) = b.slot_of(seqs[4]).expect("slot");
    img[b.ring_slot_offset(cpu, slot) + 24] ^= 1; // arg
    let d = dec(&img);
    assert_eq!(d.records.len(), 9);
    assert!(!d.records.iter().any(|r| r.seq() == seqs[4]));
    assert_eq!(
        d.invalid,
        [BadSlot {
            cpu,
            area: Area::Ring,
            slot,
            reason: "invalid"
        }]
    );
    let j = json(&d);
    assert_eq!(j["invalid"][0]["reason"], "invalid");
    assert_eq!(j["invalid"][0]["area"], "ring");
    assert_eq!(j["invalid"][0]["cpu"], cpu);
    assert_eq!(j["invalid"][0]["slot"], slot);
    assert!(text(&d).contains(&format!("CPU {cpu} ring slot {slot}: invalid")));
}

#[test]
fn torn_record() {
    let (b, seqs) = sample_trail();
    let mut img = b.build();
    let (cpu, slot) = b.slot_of(seqs[9]).expect("slot");
    let o = b.ring_slot_offset(cpu, slot);
    img[o..o + 8].fill(0);
    let d = dec(&img);
    assert_eq!(d.records.len(), 9);
    assert_eq!(d.counts.torn, 1);
    assert_eq!(
        d.invalid,
        [BadSlot {
            cpu,
            area: Area::Ring,
            slot,
            reason: "torn"
        }]
    );
    // The verdict ignores it: the last valid breadcrumb is seq 9.
    assert_eq!(d.verdict.last.as_ref().map(Rec::seq), Some(seqs[8]));
}

#[test]
fn torn_sample() {
    let mut b = builder(1);
    b.sample(0, 0x1234, 1, 0);
    let mut img = b.build();
    let o = b.sample_slot_offset(0, 0);
    img[o..o + 8].fill(0);
    let d = dec(&img);
    assert!(d.samples.is_empty());
    assert_eq!(
        d.invalid,
        [BadSlot {
            cpu: 0,
            area: Area::Samples,
            slot: 0,
            reason: "torn"
        }]
    );
    assert_eq!(json(&d)["invalid"][0]["area"], "samples");
}

#[test]
fn record_in_the_wrong_cpus_ring() {
    let (b, seqs) = sample_trail();
    let mut img = b.build();
    // Copy a valid CPU 0 record into an empty slot of CPU 1's ring.
    let (cpu, slot) = b.slot_of(seqs[0]).expect("slot");
    assert_eq!(cpu, 0);
    let from = b.ring_slot_offset(0, slot);
    let to = b.ring_slot_offset(1, 10);
    let r: Vec<u8> = img[from..from + RECORD_SIZE].to_vec();
    img[to..to + RECORD_SIZE].copy_from_slice(&r);
    let d = dec(&img);
    assert_eq!(d.records.len(), 10, "the original still decodes");
    assert_eq!(
        d.invalid,
        [BadSlot {
            cpu: 1,
            area: Area::Ring,
            slot: 10,
            reason: "invalid"
        }]
    );
}

#[test]
fn unknown_kind() {
    let (b, seqs) = sample_trail();
    let mut img = b.build();
    let (cpu, slot) = b.slot_of(seqs[2]).expect("slot");
    let o = b.ring_slot_offset(cpu, slot);
    img[o + 36] = 99;
    fix_record_csum(&mut img, o);
    let d = dec(&img);
    assert_eq!(d.records.len(), 9);
    assert_eq!(
        d.invalid,
        [BadSlot {
            cpu,
            area: Area::Ring,
            slot,
            reason: "invalid"
        }]
    );
}

#[test]
fn valid_record_with_out_of_range_point() {
    let (b, seqs) = sample_trail();
    let mut img = b.build();
    let (cpu, slot) = b.slot_of(seqs[3]).expect("slot");
    let o = b.ring_slot_offset(cpu, slot);
    img[o + 38..o + 40].copy_from_slice(&40u16.to_le_bytes());
    fix_record_csum(&mut img, o);
    let d = dec(&img);
    assert_eq!(d.records.len(), 10);
    assert_eq!(rec(&d, seqs[3]).point, None);
    assert_eq!(json(&d)["records"][3]["point"], serde_json::Value::Null);
}

// --------------------------------------------------------- verdicts --

struct Path {
    b: TrailBuilder,
    panic: u16,
    ck: u16,
    shut: u16,
    stop: u16,
    save: u16,
    mk: u16,
    pou: u16,
    pou2: u16,
}

fn crash_points(nr_cpus: u32) -> Path {
    let mut b = builder(nr_cpus);
    Path {
        panic: point(&mut b, "panic", Role::PanicEntry),
        ck: point(&mut b, "__crash_kexec", Role::CrashKexec),
        shut: point(&mut b, "native_machine_crash_shutdown", Role::CrashShutdown),
        stop: point(&mut b, "nmi_shootdown_cpus", Role::CpuStop),
        save: point(&mut b, "crash_save_cpu", Role::CrashSaveCpu),
        mk: point(&mut b, "machine_kexec", Role::MachineKexec),
        pou: point(&mut b, "caches_clean_inval_pou+0x5c", Role::User),
        pou2: point(&mut b, "caches_clean_inval_pou+0x68", Role::User),
        b,
    }
}

fn verdict_line(d: &Decoded) -> String {
    text(d).lines().last().expect("a line").to_string()
}

#[test]
fn verdict_empty() {
    let p = crash_points(2);
    let d = dec(&p.b.build());
    assert_eq!(d.verdict.state, State::Empty);
    assert_eq!(verdict_line(&d), "verdict: empty trail");
    let j = json(&d);
    assert_eq!(j["verdict"]["state"], "empty");
    assert_eq!(j["verdict"]["cpu"], serde_json::Value::Null);
    assert_eq!(j["verdict"]["last"], serde_json::Value::Null);
    assert_eq!(j["verdict"]["next_expected"], serde_json::Value::Null);
}

#[test]
fn verdict_handoff() {
    let mut p = crash_points(2);
    p.b.area.header.flags = HDR_CRASH_KERNEL_REACHED;
    p.b.probe(1, p.panic, 0, REC_CRASH_PHASE);
    p.b.probe(0, p.save, 0, REC_CRASH_PHASE);
    p.b.probe(1, p.mk, 0, REC_CRASH_PHASE);
    let d = dec(&p.b.build());
    assert_eq!(d.verdict.state, State::Handoff);
    assert_eq!(d.verdict.cpu, Some(1));
    assert_eq!(
        verdict_line(&d),
        "verdict: handoff: crash kernel reached after machine_kexec+0x0 on CPU 1"
    );
    assert!(text(&d).contains("flags:       crash kernel reached"));
    assert_eq!(json(&d)["header"]["crash_kernel_reached"], true);
}

#[test]
fn guard_flags_are_shown() {
    // A crashed boot's trail: held by the next load.
    let mut p = crash_points(2);
    p.b.probe(1, p.panic, 0, REC_CRASH_PHASE);
    let d = dec(&p.b.build());
    assert!(text(&d).contains("held by the next load"));
    assert_eq!(json(&d)["header"]["released"], false);
    assert_eq!(json(&d)["header"]["ended"], false);
    // Released: not held any more; the verdict does not change.
    p.b.area.header.flags = HDR_RELEASED;
    let r = dec(&p.b.build());
    assert!(text(&r).contains("released") && !text(&r).contains("held by"));
    assert_eq!(json(&r)["header"]["released"], true);
    assert_eq!(r.verdict.state, d.verdict.state);
    // Ended in order (rmmod, orderly reboot).
    p.b.area.header.flags = HDR_ENDED;
    let e = dec(&p.b.build());
    assert!(text(&e).contains("ended in order") && !text(&e).contains("held by"));
    assert_eq!(json(&e)["header"]["ended"], true);
}

#[test]
fn verdict_hung_on_the_crash_path() {
    let mut p = crash_points(4);
    p.b.probe(2, p.panic, 0, REC_CRASH_PHASE);
    p.b.probe(2, p.ck, 0, REC_CRASH_PHASE);
    p.b.probe(2, p.shut, 0, REC_CRASH_PHASE);
    p.b.probe(2, p.stop, 0, REC_CRASH_PHASE);
    // Another CPU's later crash-phase record does not move the verdict off
    // the CPU of the last crash-path record... which is this one.
    p.b.probe(0, p.save, 0, REC_CRASH_PHASE);
    p.b.probe(2, p.save, 2, REC_CRASH_PHASE);
    p.b.probe(2, p.pou, 0, REC_CRASH_PHASE);
    let d = dec(&p.b.build());
    assert_eq!(
        (d.verdict.state, d.verdict.reason),
        (State::Hung, Some(Reason::CrashPath))
    );
    assert_eq!(
        verdict_line(&d),
        "verdict: hung on CPU 2 after caches_clean_inval_pou+0x5c \
         (next expected: caches_clean_inval_pou+0x68); crash kernel not reached"
    );
}

#[test]
fn next_expected_follows_the_crash_path() {
    let mut p = crash_points(1);
    p.b.probe(0, p.panic, 0, REC_CRASH_PHASE);
    p.b.probe(0, p.ck, 0, REC_CRASH_PHASE);
    let d = dec(&p.b.build());
    assert_eq!(
        d.verdict.next_expected.as_deref(),
        Some("native_machine_crash_shutdown")
    );
    p.b.probe(0, p.shut, 0, REC_CRASH_PHASE);
    p.b.probe(0, p.stop, 0, REC_CRASH_PHASE);
    p.b.probe(0, p.save, 0, REC_CRASH_PHASE);
    let d = dec(&p.b.build());
    assert_eq!(d.verdict.next_expected.as_deref(), Some("machine_kexec"));
    // The last User point in its function: the next crash-path step after
    // the furthest one this CPU reached.
    p.b.probe(0, p.pou2, 0, REC_CRASH_PHASE);
    let d = dec(&p.b.build());
    assert_eq!(
        verdict_line(&d),
        "verdict: hung on CPU 0 after caches_clean_inval_pou+0x68 \
         (next expected: machine_kexec); crash kernel not reached"
    );
    p.b.probe(0, p.mk, 0, REC_CRASH_PHASE);
    let d = dec(&p.b.build());
    assert_eq!(
        d.verdict.next_expected.as_deref(),
        Some("crash kernel handoff")
    );
}

#[test]
fn next_expected_names_the_role_without_a_point() {
    let mut b = builder(1);
    let panic = point(&mut b, "panic", Role::PanicEntry);
    b.probe(0, panic, 0, REC_CRASH_PHASE);
    let d = dec(&b.build());
    assert_eq!(d.verdict.next_expected.as_deref(), Some("crash-kexec"));
}

#[test]
fn crash_phase_flag_alone_starts_the_crash_path() {
    let mut b = builder(2);
    let pn = b.record(
        1,
        Kind::PanicNotifier,
        at("atomic_notifier_call_chain", 0),
        0,
        REC_CRASH_PHASE,
        NO_POINT,
    );
    b.record(0, Kind::Probe, at("do_idle", 0), 0, 0, NO_POINT);
    let d = dec(&b.build());
    // v2: the flag is CPU 1's own; the notifier ran without
    // crash_kexec_post_notifiers, so __crash_kexec had nothing to kexec.
    assert_eq!((d.verdict.state, d.verdict.cpu), (State::NoKdump, Some(1)));
    assert_eq!(d.verdict.last.as_ref().map(Rec::seq), Some(pn));
    assert_eq!(
        verdict_line(&d),
        "verdict: no-kdump: panic on CPU 1 with no crash kernel loaded \
         (last: the panic notifier)"
    );
    // With crash_kexec_post_notifiers the notifiers come first: still on
    // the way to __crash_kexec.
    b.area.header.flags = crate::format::HDR_POST_NOTIFIERS;
    let d = dec(&b.build());
    assert_eq!((d.verdict.state, d.verdict.cpu), (State::Hung, Some(1)));
    assert_eq!(d.verdict.next_expected.as_deref(), Some("crash-kexec"));
}

#[test]
fn machine_kexec_alone_is_a_kexec_reboot_not_the_crash_path() {
    // No panic, no __crash_kexec, no crash flag of its own: `kexec -e`.
    let mut p = crash_points(2);
    p.b.probe(1, p.mk, 0, 0);
    let d = dec(&p.b.build());
    assert_eq!(
        (d.verdict.state, d.verdict.core.crash_cpu),
        (State::Rebooted, None)
    );
    assert_eq!(
        verdict_line(&d),
        "verdict: rebooted: kexec -e at machine_kexec+0x0 on CPU 1"
    );
    // With the CPU's own crash flag (v2) it is the crash path.
    let mut p = crash_points(2);
    p.b.probe(1, p.mk, 0, REC_CRASH_PHASE);
    let d = dec(&p.b.build());
    assert_eq!(d.verdict.state, State::Unconfirmed);
}

#[test]
fn verdict_hung_from_stuck_samples_without_softlockup() {
    let t = map();
    let mut b = builder(2);
    b.record(0, Kind::Start, 0, 0, 0, NO_POINT);
    let last_bc = b.record(1, Kind::Probe, at("do_one_initcall", 0), 0, 0, NO_POINT);
    for i in 0..3 {
        b.sample(0, at("do_idle", 4), 0, REC_IDLE);
        b.sample(1, at("spin_forever", 0x10 + 4 * i), 99, 0);
    }
    let img = b.build();
    let d = dec_with(&img, &t);
    assert_eq!(d.stuck.len(), 1);
    assert_eq!(
        (d.stuck[0].cpu, d.stuck[0].count, d.stuck[0].pid),
        (1, 3, 99)
    );
    assert_eq!(
        (d.verdict.state, d.verdict.reason),
        (State::Hung, Some(Reason::StuckSamples))
    );
    assert_eq!(d.verdict.cpu, Some(1));
    assert_eq!(d.verdict.last.as_ref().map(Rec::seq), Some(last_bc));
    assert!(text(&d).contains("CPU 1: stuck: last 3 samples in spin_forever (pid 99)"));
    assert_eq!(json(&d)["stuck_samples"][0]["symbol"], "spin_forever");
    // Without symbols: the same verdict (pcs within STUCK_PC_SPAN), no name.
    let d2 = dec(&img);
    assert_eq!(d2.stuck.len(), 1);
    assert_eq!(d2.stuck[0].sym, None);
    assert_eq!(
        (d2.verdict.state, d2.verdict.reason, d2.verdict.cpu),
        (d.verdict.state, d.verdict.reason, d.verdict.cpu)
    );
}

#[test]
fn stuck_needs_same_pid_busy_and_three_in_a_row() {
    let mut b = builder(3);
    // CPU 0: same pc, pids differ.
    for pid in [1, 2, 1] {
        b.sample(0, 0x5000, pid, 0);
    }
    // CPU 1: newest sample idle.
    for f in [0, 0, 0, REC_IDLE] {
        b.sample(1, 0x6000, 3, f);
    }
    // CPU 2: same pid, but the newest pcs are 16 KiB apart: not one loop.
    for pc in [0x7000, 0x7100, 0xb000, 0x7000] {
        b.sample(2, pc, 4, 0);
    }
    let d = dec(&b.build());
    assert!(d.stuck.is_empty(), "{:?}", d.stuck);
    assert_eq!(d.verdict.state, State::NoCrash);
    assert_eq!(
        verdict_line(&d),
        "verdict: no crash recorded (no breadcrumbs)"
    );

    // Without any breadcrumb the stuck sample itself is "last".
    let mut b = builder(1);
    for _ in 0..4 {
        b.sample(0, 0x8000, 5, 0);
    }
    let d = dec(&b.build());
    assert_eq!(d.verdict.state, State::Hung);
    assert_eq!(d.verdict.last.as_ref().map(|r| r.kind), Some(Kind::Sample));
    assert_eq!(
        verdict_line(&d),
        "verdict: hung on CPU 0 after 0x8000; stuck: last 4 samples within 0x8000..0x8000"
    );
}

#[test]
fn verdict_hung_in_kexec_load() {
    let mut b = builder(1);
    let post = point(&mut b, "machine_kexec_post_load", Role::KexecPostLoad);
    b.kretprobe(post);
    let ic = point(&mut b, "icache_inval_pou", Role::CacheIcache);
    b.probe(0, post, 0, REC_LOAD_PHASE);
    b.probe(0, ic, 0, REC_LOAD_PHASE);
    let d = dec(&b.build());
    assert_eq!(
        (d.verdict.state, d.verdict.reason),
        (State::Hung, Some(Reason::KexecLoad))
    );
    assert_eq!(
        verdict_line(&d),
        "verdict: hung on CPU 0 after icache_inval_pou+0x0 \
         (next expected: return from machine_kexec_post_load); kexec -p load did not return"
    );
    // It returned: a completed load is not a hang.
    b.record(
        0,
        Kind::Return,
        at("machine_kexec_post_load", 0),
        0,
        REC_LOAD_PHASE,
        post,
    );
    let d = dec(&b.build());
    assert_eq!(d.verdict.state, State::NoCrash);
    assert_eq!(
        verdict_line(&d),
        "verdict: no crash recorded (last: machine_kexec_post_load+0x0 on CPU 0)"
    );
}

#[test]
fn stale_cpus_are_listed() {
    let mut p = crash_points(4);
    p.b.sample(3, 0x9000, 12, 0);
    let wd = p.b.record(3, Kind::Probe, at("do_idle", 0), 0, 0, NO_POINT);
    p.b.probe(0, p.panic, 0, REC_CRASH_PHASE);
    p.b.probe(1, p.save, 1, REC_CRASH_PHASE);
    p.b.record(0, Kind::StopResult, 0, 2, REC_CRASH_PHASE, p.stop);
    p.b.record(0, Kind::StillOnline, 0, 2, REC_CRASH_PHASE, p.stop);
    p.b.record(0, Kind::StillOnline, 0, 3, REC_CRASH_PHASE, p.stop);
    // CPU 2 made it to crash_save_cpu late: not stale.
    p.b.probe(2, p.save, 2, REC_CRASH_PHASE);
    let d = dec(&p.b.build());
    assert_eq!(d.stale_cpus.len(), 1);
    let s = &d.stale_cpus[0];
    assert_eq!(s.cpu, 3);
    assert_eq!(s.last.as_ref().map(Rec::seq), Some(wd));
    assert_eq!(s.last_sample.as_ref().map(Rec::pc), Some(0x9000));
    let out = text(&d);
    assert!(out.contains("CPUs that failed to stop:"), "{out}");
    assert!(out.contains("  CPU 3: last breadcrumb"), "{out}");
    let j = json(&d);
    assert_eq!(j["stale_cpus"][0]["cpu"], 3);
    assert_eq!(j["stale_cpus"][0]["last_sample"]["pc"], 0x9000);
}

#[test]
fn records_sorted_by_seq_across_cpus_and_ring_wrap() {
    let mut b = builder(2);
    // 40 records on CPU 0 wrap its 16-slot ring.
    for i in 0..40 {
        b.record(i % 2, Kind::Probe, 0x1000 + u64::from(i), 0, 0, NO_POINT);
    }
    let d = dec(&b.build());
    let seqs: Vec<u64> = d.records.iter().map(Rec::seq).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(seqs, sorted);
    assert_eq!(seqs.len(), 32);
    assert_eq!(seqs[0], 9, "the oldest 8 were overwritten");
}

#[test]
fn time_is_relative_to_trail_start() {
    let mut b = builder(1);
    b.now_ns = b.area.header.start_ns - 1_500_000;
    b.record(0, Kind::Probe, 0x1, 0, 0, NO_POINT);
    b.now_ns = b.area.header.start_ns + 2_000_123_456;
    b.record(0, Kind::Probe, 0x1, 0, 0, NO_POINT);
    let d = dec(&b.build());
    let out = text(&d);
    assert!(out.contains("-0.001500"), "{out}");
    assert!(out.contains("+2.000123"), "{out}");
    assert_eq!(json(&d)["records"][0]["rel_ns"], -1_500_000);
}

#[test]
fn region_text_cannot_drive_the_terminal() {
    let mut b = builder(1);
    let p = b.point("evil\n\x1b[2Jname", Role::User, 0x1000);
    b.release("6.12\x1b]0;title\x07");
    b.probe(0, p, 0, 0);
    b.softlockup(0, 0x2000, 1, "a\rb", 1, 0);
    let d = dec(&b.build());
    let out = text(&d);
    assert!(!out.contains('\x1b') && !out.contains('\r'), "{out:?}");
    assert!(out.contains("evil\\x0a\\x1b[2Jname"), "{out}");
    assert!(out.contains("comm \"a\\x0db\""), "{out}");
    assert_eq!(d.release(), "6.12\\x1b]0;title\\x07");
}
