//! The verdict against the model of the kernel's paths (`tests/model`):
//! generated trails with a known true verdict, with fixed seeds, and the
//! real guest trails' shapes checked against what the model generates.
//!
//! A failing case prints its seed, its configuration shrunk to the
//! smallest one that still fails (fewer CPUs, no noise), and the steps the
//! model took, so it can be rerun alone:
//! `HANGTRAIL_MODEL_SEED=N cargo test --release -p hangtrail --test model_verdict`.
//!
//! Audit: each rule the docs state (Documentation/decoder.rst "Verdict",
//! format.rst, the comments of rust/format.rs) and the test that covers it.
//!
//! | rule (where stated)                                              | test |
//! |------------------------------------------------------------------|------|
//! | crash CPU: furthest, then first in (decoder.rst)                 | model: `Ending::Panic` + `second_panic` |
//! | furthest step and next expected follow the header's order, with post-notifiers the CPU stop before `__crash_kexec` (decoder.rst, format.rst role 4) | model: `post_notifiers`, `case.next` checked below |
//! | crash-loaded 0 → no-kdump (format.rst kind 11)                    | model: `crash_loaded` false |
//! | `__crash_kexec` returned with a crash image (kexec_trylock failed) → no-kdump, never "no crash kernel loaded" (decoder.rst) | model: `lock_busy`; summary checked below |
//! | reboot after the panic → "then …" only when later (decoder.rst)  | model: `panic_timeout`; summary checked below |
//! | later panic only for a later entry (decoder.rst)                 | model: `second_panic`; summary checked below |
//! | handoff / unconfirmed / crash_marks (decoder.rst, HDR_CRASH_MARKS) | model: `crash_marks`, `marked`; verdict_core.rs, variants.rs |
//! | stopped, failed to stop, stop unknown (format.rst kind 14)        | model: `fail_stop`, `missed_save`; verdict_core.rs `v2_stop_evidence_per_cpu` |
//! | a kexec load window ends at the return of `machine_kexec_post_load` or of the load syscall (format.rst role 20, REC_LOAD_PHASE) | model: `Ending::Load` with `missed_post_load` 1 and 2 |
//! | reports outrank samples; in force unless recovered; ties by the earliest stuck (decoder.rst) | model: `Ending::Tie`, `recovered_soft`, `recovered_hard` |
//! | an orderly ending counts only if it ended (decoder.rst)           | model: `Ending::Reboot` with a hang |
//! | HDR_ENDED without a reboot record: no hang rule (format.rs)       | model: `Ending::Rmmod`; variants.rs `an_ended_trail_is_no_hang` |
//! | sample period: the header's unless the samples disagree (format.rst sample_period_ns) | model: `period_change`, `header_period` |
//! | silent: more than 2 periods before the reference time (decoder.rst) | model: `Ending::Silent` |
//! | symbols never change the verdict (decoder.rst)                    | verdict_core.rs, variants.rs |

mod model;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use hangtrail::format::Trail;
use hangtrail::verdict_core::{self, CpuState, Next, Step, TrailNamer};
use model::{generate, shape, Case, Config, Noise, Shape, Truth};

/// Generated cases per run.
const CASES: u64 = 10_240;

struct Got {
    truth: Truth,
    summary: String,
    next: Next,
}

fn judge(bytes: &[u8]) -> Got {
    let t = Trail::parse(bytes).expect("a generated trail parses");
    let mut cpus = vec![CpuState::EMPTY; t.header.nr_cpus as usize];
    let v = verdict_core::analyze(&t, &mut cpus);
    let mut summary = String::new();
    verdict_core::summary(&t, &v, &cpus, &TrailNamer(&t), &mut summary).expect("writes");
    Got {
        truth: Truth {
            state: v.state.name(),
            reason: v.reason.map(|r| r.name()),
            cpu: if v.state.name() == "no-crash" {
                None
            } else {
                v.cpu
            },
        },
        summary,
        next: v.next,
    }
}

/// What is wrong with the verdict of `case`, if anything.
fn check(case: &Case) -> Option<String> {
    let got = judge(&case.trail);
    if got.truth != case.truth {
        return Some(format!(
            "verdict {:?}, want {:?}; summary: {}",
            got.truth, case.truth, got.summary
        ));
    }
    let s = &got.summary;
    if case.crash_loaded_record == Some(true) && s.contains("no crash kernel loaded") {
        return Some(format!(
            "says no crash kernel loaded, the record says 1: {s}"
        ));
    }
    if let Some((d, later)) = case.other_panic {
        let want = format!("later panic on CPU {d}");
        if later != s.contains(&want) && case.truth.cpu != Some(d) {
            return Some(format!(
                "later panic of CPU {d} (later: {later}) misreported: {s}"
            ));
        }
    }
    if let Some(role) = case.next {
        let want = Step::of_role(role);
        if got.next != Next::Step(want) && !matches!(got.next, Next::Point(_)) {
            return Some(format!("next expected {:?}, want {want:?}: {s}", got.next));
        }
    }
    if s.contains("; then ") && case.truth.state != "no-kdump" {
        return Some(format!("'then' outside no-kdump: {s}"));
    }
    None
}

/// Smaller versions of `c` (fewer CPUs, less noise), most reduced first.
fn shrinks(c: &Config) -> Vec<Config> {
    let mut out = Vec::new();
    let mut quiet = c.clone();
    quiet.noise = Noise::NONE;
    quiet.users = 0;
    quiet.period_change = None;
    for nr in [1, 2, 3, 4, 8] {
        let online = nr - c.offline.iter().filter(|&&x| x < nr).count() as u32;
        if nr >= c.nr || (model::needs_three(c.ending) && online < 3) {
            continue;
        }
        for base in [&quiet, c] {
            let mut s = base.clone();
            s.nr = nr;
            s.offline.retain(|&x| x < nr);
            out.push(s);
        }
    }
    if format!("{quiet:?}") != format!("{c:?}") {
        out.push(quiet);
    }
    out
}

fn report(case: &Case, why: &str) -> String {
    let mut best = (case.config.clone(), why.to_string(), case.steps.clone());
    // Keep the first smaller configuration that still fails, and retry
    // from it until none does.
    loop {
        let mut smaller = None;
        for s in shrinks(&best.0) {
            let c = generate(&s);
            if let Some(w) = check(&c) {
                smaller = Some((s, w, c.steps));
                break;
            }
        }
        match smaller {
            Some(b) => best = b,
            None => break,
        }
    }
    format!(
        "seed {} fails: {why}\nminimal reproduction: {:#?}\n  fails: {}\n  steps:\n    {}",
        case.config.seed,
        best.0,
        best.1,
        best.2.join("\n    ")
    )
}

#[test]
fn generated_trails_get_the_true_verdict() {
    let seeds: Vec<u64> = match std::env::var("HANGTRAIL_MODEL_SEED") {
        Ok(s) => vec![s.parse().expect("a seed")],
        Err(_) => (1..=CASES).collect(),
    };
    let mut failures = Vec::new();
    let mut states = BTreeSet::new();
    for &seed in &seeds {
        let case = generate(&Config::from_seed(seed));
        states.insert((case.truth.state, case.truth.reason));
        if let Some(why) = check(&case) {
            failures.push(report(&case, &why));
            if failures.len() >= 5 {
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing (first shown):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    if seeds.len() > 1 {
        // Every ending the model knows is generated.
        for want in [
            ("handoff", None),
            ("unconfirmed", None),
            ("no-kdump", None),
            ("rebooted", None),
            ("no-crash", None),
            ("hung", Some("crash-path")),
            ("hung", Some("kexec-load")),
            ("hung", Some("hard-lockup")),
            ("hung", Some("soft-lockup")),
            ("hung", Some("stuck-samples")),
            ("hung", Some("silent")),
        ] {
            assert!(states.contains(&want), "no case ends {want:?}: {states:?}");
        }
    }
}

/// The model is a model of the kernel: the same seed gives the same trail,
/// and a case's trail is what the truth says it is (a change to the
/// generator that breaks either shows here first).
#[test]
fn the_model_is_deterministic() {
    for seed in [1, 77, 4242] {
        let a = generate(&Config::from_seed(seed));
        let b = generate(&Config::from_seed(seed));
        assert_eq!(a.trail, b.trail, "seed {seed}");
        assert_eq!(a.truth, b.truth, "seed {seed}");
    }
}

/// Each captured guest trail's shape (what its records say happened, read
/// without the verdict code) is one the model generates.
#[test]
fn every_real_scenario_is_a_shape_the_model_generates() {
    let mut shapes: BTreeSet<Shape> = BTreeSet::new();
    for seed in 1..=CASES {
        shapes.insert(shape(&generate(&Config::from_seed(seed)).trail));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut missing = Vec::new();
    let mut n = 0;
    for e in fs::read_dir(&root).expect("fixtures") {
        let dir = e.expect("entry").path();
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if !name.starts_with("guest-") {
            continue;
        }
        n += 1;
        let bytes = fs::read(dir.join("trail.bin")).expect("reads");
        let s = shape(&bytes);
        if !shapes.contains(&s) {
            missing.push(format!("{name}: {s:?}"));
        }
    }
    assert!(n >= 15, "guest fixtures missing");
    assert!(
        missing.is_empty(),
        "shapes the model never generates:\n{}",
        missing.join("\n")
    );
}
