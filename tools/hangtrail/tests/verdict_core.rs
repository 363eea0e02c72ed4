//! One verdict implementation: on every fixture, the decoder's verdict is
//! the shared core's (`rust/verdict.rs`, what `hangtrail.ko` runs for its
//! dmesg line), the one-line summary the module would print is the
//! decoder's `verdict.summary` (also in the golden `expected.json`), and
//! symbols change nothing but names.

use std::fs;
use std::path::{Path, PathBuf};

use hangtrail::decode::{decode, Decoded, Options};
use hangtrail::format::Trail;
use hangtrail::symbols::{Source, SymbolTable};
use hangtrail::verdict_core::{self, CpuState, TrailNamer};

fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .expect("fixtures")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.join("trail.bin").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 15, "fixtures missing: {dirs:?}");
    dirs
}

fn symbols(dir: &Path) -> Option<SymbolTable> {
    let (file, source) = if dir.join("kallsyms").exists() {
        ("kallsyms", Source::Kallsyms)
    } else {
        ("System.map", Source::SystemMap)
    };
    let text = fs::read_to_string(dir.join(file)).ok()?;
    Some(SymbolTable::parse(&text, source).expect("symbol file parses"))
}

/// What the module computes: the core on the bytes, its summary line.
fn module_line(bytes: &[u8]) -> (verdict_core::Verdict, String) {
    let t = Trail::parse(bytes).expect("parses");
    let mut cpus = vec![CpuState::EMPTY; t.header.nr_cpus as usize];
    let v = verdict_core::analyze(&t, &mut cpus);
    let mut line = String::new();
    verdict_core::summary(&t, &v, &cpus, &TrailNamer(&t), &mut line).expect("writes");
    (v, line)
}

fn key(d: &Decoded) -> (String, Option<u32>, Option<u64>, Option<String>, String) {
    let v = &d.verdict;
    (
        v.state.name().to_string(),
        v.cpu,
        v.last.as_ref().map(|r| r.seq()),
        v.next_expected.clone(),
        v.summary.clone(),
    )
}

#[test]
fn decoder_verdict_is_the_module_verdict_on_every_fixture() {
    for dir in fixture_dirs() {
        let name = dir.display();
        let bytes = fs::read(dir.join("trail.bin")).expect("reads");
        let (core, line) = module_line(&bytes);
        let table = symbols(&dir);
        let d = decode(
            &bytes,
            &Options {
                symbols: table.as_ref(),
                ..Options::default()
            },
        )
        .expect("decodes");
        assert_eq!(d.verdict.summary, line, "{name}");
        assert_eq!(d.verdict.state, core.state, "{name}");
        assert_eq!(d.verdict.cpu, core.cpu, "{name}");
        assert_eq!(
            d.verdict.last.as_ref().map(|r| r.raw),
            (core.last.seq != 0).then_some(core.last),
            "{name}"
        );
        // The binary's golden output carries the same line.
        let json: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("expected.json")).expect("expected.json"))
                .expect("JSON");
        assert_eq!(json["verdict"]["summary"], line.as_str(), "{name}");
        assert_eq!(json["verdict"]["state"], core.state.name(), "{name}");

        // Symbols never change the verdict, only names.
        let bare = decode(&bytes, &Options::default()).expect("decodes");
        assert_eq!(key(&bare), key(&d), "{name}: symbols changed the verdict");
        assert_eq!(bare.stale_cpus.len(), d.stale_cpus.len(), "{name}");
        assert_eq!(
            bare.stuck
                .iter()
                .map(|s| (s.cpu, s.count))
                .collect::<Vec<_>>(),
            d.stuck.iter().map(|s| (s.cpu, s.count)).collect::<Vec<_>>(),
            "{name}"
        );
    }
}

/// Every state (and every hung reason) has a fixture, and each fixture's
/// verdict is the one its story calls for.
#[test]
fn each_fixture_has_the_verdict_of_its_story() {
    let want: &[(&str, &str, Option<&str>, Option<u32>)] = &[
        (
            "guest-report-hang-arm64",
            "hung",
            Some("stuck-samples"),
            Some(1),
        ),
        (
            "guest-report-hang-x86_64",
            "hung",
            Some("stuck-samples"),
            Some(1),
        ),
        ("guest-softlockup-kdump-arm64", "handoff", None, Some(1)),
        ("guest-softlockup-kdump-x86_64", "handoff", None, Some(1)),
        ("guest-stale-cpu-arm64", "handoff", None, Some(0)),
        ("guest-stale-cpu-x86_64", "handoff", None, Some(0)),
        ("guest-stall-reset-arm64", "unconfirmed", None, Some(0)),
        ("guest-stall-reset-x86_64", "unconfirmed", None, Some(0)),
        (
            "guest-user-points-x86_64",
            "hung",
            Some("crash-path"),
            Some(0),
        ),
        // v2 trails from the scenarios of the same names.
        (
            "guest-v2-hard-lockup-x86_64",
            "hung",
            Some("hard-lockup"),
            Some(1),
        ),
        ("guest-v2-kexec-reboot-x86_64", "rebooted", None, Some(0)),
        ("guest-v2-no-kdump-x86_64", "no-kdump", None, Some(0)),
        (
            "guest-v2-shootdown-stall-x86_64",
            "hung",
            Some("crash-path"),
            Some(0),
        ),
        ("guest-v2-softlockup-kdump-x86_64", "handoff", None, Some(1)),
        ("guest-v2-stall-reset-arm64", "unconfirmed", None, Some(0)),
        ("synth-empty-x86_64", "empty", None, None),
        ("synth-handoff-x86_64", "handoff", None, Some(1)),
        (
            "synth-hard-lockup-x86_64",
            "hung",
            Some("hard-lockup"),
            Some(1),
        ),
        (
            "synth-kexec-load-hang-arm64",
            "hung",
            Some("kexec-load"),
            Some(1),
        ),
        ("synth-kexec-reboot-x86_64", "rebooted", None, Some(1)),
        ("synth-no-crash-damaged-x86_64", "no-crash", None, Some(1)),
        ("synth-no-kdump-arm64", "no-kdump", None, Some(1)),
        ("synth-post-notifiers-arm64", "unconfirmed", None, Some(0)),
        (
            "synth-softlockup-hung-arm64",
            "hung",
            Some("crash-path"),
            Some(2),
        ),
        ("synth-stale-cpu-arm64", "hung", Some("crash-path"), Some(0)),
        ("variant-late-panic-x86_64", "unconfirmed", None, Some(0)),
        ("variant-no-kdump-x86_64", "no-kdump", None, Some(0)),
        ("variant-rebooted-x86_64", "rebooted", None, Some(0)),
        (
            "variant-shootdown-hang-x86_64",
            "hung",
            Some("crash-path"),
            Some(0),
        ),
        ("variant-silent-cpu-x86_64", "hung", Some("silent"), Some(1)),
    ];
    let dirs = fixture_dirs();
    assert_eq!(dirs.len(), want.len(), "a fixture without a story here");
    for (dir, &(name, state, reason, cpu)) in dirs.iter().zip(want) {
        assert!(dir.ends_with(name), "{} vs {name}", dir.display());
        let bytes = fs::read(dir.join("trail.bin")).expect("reads");
        let (v, _) = module_line(&bytes);
        assert_eq!(
            (v.state.name(), v.reason.map(|r| r.name()), v.cpu),
            (state, reason, cpu),
            "{name}"
        );
    }
}

/// v2 stop evidence, per CPU: stop contexts of stopped CPUs, the crash
/// CPU's own context (not a stop), a CPU whose stop handler went unrecorded
/// (not seen stopped, maybe stopped), the post-notifiers order.
#[test]
fn v2_stop_evidence_per_cpu() {
    let s = hangtrail::synth::scenarios::post_notifiers();
    let d = decode(&s.trail, &Options::default()).expect("decodes");
    let c = |i: u32| &d.cpus.iter().find(|c| c.cpu == i).expect("cpu").state;
    assert!(
        !c(0).stopped() && c(0).own_context.seq != 0,
        "crash CPU: own context"
    );
    for i in [1, 2] {
        assert!(c(i).stopped() && c(i).stop.kind == hangtrail::format::Kind::StopContext as u8);
        assert!(!c(i).entered());
    }
    // A stop-handler run went unrecorded: CPU 3 may have stopped unseen,
    // so it is unknown, not stale.
    assert!(c(3).stop_unknown && !c(3).stale);
    assert!(d.stale_cpus.is_empty());
    assert_eq!(d.verdict.core.crash_loaded, Some(true));
    assert_eq!(
        d.verdict.next_expected.as_deref(),
        Some("crash kernel handoff")
    );
}

/// arm64 without pseudo-NMI (v2 header flag clear): the CPU that failed to
/// stop has no context, and the trail says its pc is out of reach; with
/// the flag set it would be a missing record instead.
#[test]
fn an_unreachable_pc_is_said_so() {
    let s = hangtrail::synth::scenarios::stale_cpu();
    let d = decode(&s.trail, &Options::default()).expect("decodes");
    let mut text = Vec::new();
    hangtrail::render::text(&d, "t", &mut text).expect("renders");
    let text = String::from_utf8(text).expect("utf-8");
    assert!(
        text.lines()
            .any(|l| l.starts_with("  CPU 3:") && l.contains("out of reach")),
        "{text}"
    );
    let mut bytes = s.trail.clone();
    bytes[48] |= hangtrail::format::HDR_NMI_REACHES_IRQS_OFF as u8;
    hangtrail::synth::fix_header_csum(&mut bytes);
    let d = decode(&bytes, &Options::default()).expect("decodes");
    let mut text = Vec::new();
    hangtrail::render::text(&d, "t", &mut text).expect("renders");
    assert!(!String::from_utf8(text)
        .expect("utf-8")
        .contains("out of reach"));
}
