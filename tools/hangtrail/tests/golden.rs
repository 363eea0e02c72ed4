//! Golden tests: every directory under `tests/fixtures/` holds a `trail.bin`,
//! optionally a `System.map` (or a `kallsyms`, which wins), and the expected
//! outputs of
//!
//! ```text
//! hangtrail decode [--system-map System.map] trail.bin          > expected.txt
//! hangtrail decode --json [--system-map System.map] trail.bin   > expected.json
//! ```
//!
//! run from inside the directory. New directories are picked up
//! automatically. `HANGTRAIL_BLESS=1 cargo test --test golden` rewrites the
//! expected files, and regenerates the `synth-*` fixtures from
//! `hangtrail::synth::scenarios`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn bless() -> bool {
    std::env::var_os("HANGTRAIL_BLESS").is_some_and(|v| v != "0" && !v.is_empty())
}

/// Compares `actual` with the file at `path`, or rewrites it when blessing.
fn check(path: &Path, actual: &[u8], failures: &mut Vec<String>) {
    if bless() {
        fs::write(path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    match fs::read(path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => failures.push(format!(
            "{} differs (HANGTRAIL_BLESS=1 to accept):\n{}",
            path.display(),
            first_difference(&expected, actual)
        )),
        Err(e) => failures.push(format!(
            "{}: {e} (run with HANGTRAIL_BLESS=1 to create)",
            path.display()
        )),
    }
}

/// The first differing line with a little context, or a size note for
/// binary files.
fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let (Ok(e), Ok(a)) = (std::str::from_utf8(expected), std::str::from_utf8(actual)) else {
        return format!(
            "binary: {} bytes expected, {} actual",
            expected.len(),
            actual.len()
        );
    };
    let (e, a): (Vec<&str>, Vec<&str>) = (e.lines().collect(), a.lines().collect());
    let i = e.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let from = i.saturating_sub(2);
    let mut out = format!("first difference at line {}:\n", i + 1);
    for l in e.iter().skip(from).take(6) {
        out.push_str(&format!("-{l}\n"));
    }
    for l in a.iter().skip(from).take(6) {
        out.push_str(&format!("+{l}\n"));
    }
    out
}

fn run(dir: &Path, json: bool) -> (Vec<u8>, i32) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hangtrail"));
    cmd.current_dir(dir).arg("decode");
    if json {
        cmd.arg("--json");
    }
    if dir.join("kallsyms").exists() {
        cmd.args(["--kallsyms", "kallsyms"]);
    } else if dir.join("System.map").exists() {
        cmd.args(["--system-map", "System.map"]);
    }
    cmd.arg("trail.bin");
    let out = cmd.output().expect("runs hangtrail");
    assert!(
        out.stderr.is_empty(),
        "{}: stderr: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.stdout, out.status.code().unwrap_or(-1))
}

#[test]
fn golden_fixtures() {
    let root = fixtures_dir();
    let mut failures = Vec::new();

    // The synthetic fixtures must match their generators.
    for s in hangtrail::synth::scenarios::all() {
        let dir = root.join(s.name);
        if bless() {
            fs::create_dir_all(&dir).expect("creates fixture dir");
        }
        check(&dir.join("trail.bin"), &s.trail, &mut failures);
        check(
            &dir.join("System.map"),
            s.system_map.as_bytes(),
            &mut failures,
        );
    }

    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .expect("tests/fixtures exists")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.join("trail.bin").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no fixtures found");
    for dir in &dirs {
        for json in [false, true] {
            let (out, code) = run(dir, json);
            if code != 0 {
                failures.push(format!("{}: exit code {code}", dir.display()));
                continue;
            }
            let name = if json {
                "expected.json"
            } else {
                "expected.txt"
            };
            check(&dir.join(name), &out, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("{} fixtures checked", dirs.len());
}
