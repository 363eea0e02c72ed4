//! The `hangtrail` binary: exit codes, error messages, and `--vmlinux`.

mod common;
use common::{hangtrail, stderr};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hangtrail::format::{Arch, Kind, Role, NO_POINT};
use hangtrail::synth::{fix_header_csum, scenarios, TrailBuilder};

/// A scratch directory for this test, under the target dir.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).expect("creates scratch dir");
    dir
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("writes");
    p
}

/// `decode --json --vmlinux VMLINUX TRAIL`, which must succeed.
fn decode_json_with_vmlinux(vmlinux: &Path, trail: &Path) -> serde_json::Value {
    let o = hangtrail(&[
        "decode",
        "--json",
        "--vmlinux",
        vmlinux.to_str().expect("utf-8"),
        trail.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("JSON")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn usage_errors_exit_2() {
    let dir = scratch("usage");
    let t = write(&dir, "t.bin", scenarios::empty().trail);
    let t = t.to_str().expect("utf-8 path");
    for args in [
        vec![],
        vec!["decode"],
        vec!["decode", "--bogus", t],
        vec!["decode", "--kallsyms", "a", "--system-map", "b", t],
        vec!["decode", "--devmem", "0x1000:4K", t],
        vec!["decode", "--devmem", "nonsense"],
        vec!["frobnicate", t],
    ] {
        let o = hangtrail(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    let o = hangtrail(&["decode", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("--system-map"));
}

#[test]
fn decoded_trails_exit_0() {
    let dir = scratch("ok");
    for s in scenarios::all() {
        let t = write(&dir, &format!("{}.bin", s.name), &s.trail);
        let m = write(&dir, &format!("{}.map", s.name), &s.system_map);
        let o = hangtrail(&[
            "decode",
            "--system-map",
            m.to_str().expect("utf-8"),
            t.to_str().expect("utf-8"),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", s.name, stderr(&o));
        assert!(stdout(&o)
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("verdict: ")));
        // Without symbols too.
        let o = hangtrail(&["decode", "--json", t.to_str().expect("utf-8")]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", s.name, stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
        assert!(v["verdict"]["state"].is_string());
    }
}

fn expect_input_error(file: &Path, want: &str) {
    let f = file.to_str().expect("utf-8");
    let o = hangtrail(&["decode", f]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.starts_with(&format!("hangtrail: error: {f}: ")) && e.contains(want),
        "{e:?} does not say {want:?}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn input_errors_exit_3() {
    let dir = scratch("input");
    let good = scenarios::handoff().trail;
    expect_input_error(&dir.join("does-not-exist"), "No such file");
    expect_input_error(
        &write(&dir, "short", &good[..100]),
        "shorter than a hangtrail header",
    );
    expect_input_error(&write(&dir, "zero", vec![0u8; 8192]), "no hangtrail magic");
    let mut bad = good.clone();
    bad[0] = b'X';
    expect_input_error(&write(&dir, "magic", &bad), "no hangtrail magic");
    let mut bad = good.clone();
    bad[8] = 9; // version
    fix_header_csum(&mut bad);
    expect_input_error(
        &write(&dir, "version", &bad),
        "newer hangtrail format version",
    );
    let mut bad = good.clone();
    bad[80] ^= 1;
    expect_input_error(&write(&dir, "csum", &bad), "header checksum mismatch");
    let mut bad = good;
    bad[40..44].copy_from_slice(&u32::MAX.to_le_bytes()); // ring_records
    fix_header_csum(&mut bad);
    expect_input_error(&write(&dir, "geometry", &bad), "inconsistent");
}

#[test]
fn devmem_errors_exit_3() {
    // Physical page 0 is never a trail; without /dev/mem (or without
    // permission) the open fails. Either way: exit 3 with the source named.
    let o = hangtrail(&["decode", "--devmem", "0x0:4K"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("hangtrail: error: /dev/mem@0x0+0x1000: "));
}

#[test]
fn symbol_errors_exit_4() {
    let dir = scratch("symbols");
    let s = scenarios::handoff();
    let t = write(&dir, "t.bin", &s.trail);
    let t = t.to_str().expect("utf-8");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--system-map".into(),
                dir.join("nope").display().to_string(),
            ],
            "No such file",
        ),
        (
            vec![
                "--system-map".into(),
                write(&dir, "noref.map", "ffffffff81000000 T other\n")
                    .display()
                    .to_string(),
            ],
            "reference symbol `panic`",
        ),
        (
            vec![
                "--kallsyms".into(),
                write(&dir, "zero.ks", "0000000000000000 T panic\n")
                    .display()
                    .to_string(),
            ],
            "all symbol addresses are zero",
        ),
        (
            vec![
                "--kallsyms".into(),
                write(&dir, "junk.ks", "hello\nworld\n")
                    .display()
                    .to_string(),
            ],
            "no text symbols",
        ),
        (
            vec![
                "--vmlinux".into(),
                write(&dir, "not-elf", "hello").display().to_string(),
            ],
            "not an ELF file",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["decode"];
        all.extend(args.iter().map(String::as_str));
        all.push(t);
        let o = hangtrail(&all);
        assert_eq!(o.status.code(), Some(4), "{all:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.starts_with(&format!("hangtrail: error: {}: ", args[1])) && e.contains(want),
            "{e:?} does not say {want:?}"
        );
    }
}

#[test]
fn truncated_copy_decodes_with_missing_slots() {
    let dir = scratch("truncated");
    let s = scenarios::stale_cpu();
    let t = write(&dir, "t.bin", &s.trail[..s.trail.len() - 64 * 40]);
    let o = hangtrail(&["decode", "--json", t.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["missing_slots"], 40);
}

// ---------------------------------------------------------- vmlinux --
//
// The test binary itself stands in for a vmlinux: it is an ELF with a symbol
// table and DWARF, loaded at a random address (PIE), which is just what
// KASLR does to a kernel.

#[no_mangle]
#[inline(never)]
pub extern "C" fn hangtrail_test_anchor() -> u64 {
    std::hint::black_box(7)
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn hangtrail_test_target(x: u64) -> u64 {
    std::hint::black_box(x.wrapping_mul(3).rotate_left(5)) ^ hangtrail_test_inlined(x) ^ x
}

/// Inlined into `hangtrail_test_target`: its code there has an inline
/// frame in the DWARF, as `addr2line -i` shows it.
#[inline(always)]
fn hangtrail_test_inlined(x: u64) -> u64 {
    std::hint::black_box(std::hint::black_box(x) ^ 0x5a5a)
}

#[test]
fn vmlinux_gives_lines_and_instructions() {
    let Some(arch) = Arch::native() else {
        return;
    };
    let exe = std::env::current_exe().expect("test binary path");
    assert_eq!(
        hangtrail_test_target(hangtrail_test_anchor()),
        7u64.wrapping_mul(3).rotate_left(5) ^ (7 ^ 0x5a5a) ^ 7
    );
    // The PIE is loaded at a page-aligned base; a kernel's KASLR slide is a
    // multiple of 2 MiB (64 KiB on arm64), which the decoder checks. So the
    // trail says the functions ran at their link addresses + 1 GiB.
    let elf = hangtrail::debuginfo::DebugInfo::open(&exe).expect("opens itself");
    let slide = 1u64 << 30;
    let link = |n: &str| elf.symbols.address_of(n).expect("own symbol");
    let anchor = link("hangtrail_test_anchor") + slide;
    let target = link("hangtrail_test_target") + slide;

    let mut b = TrailBuilder::new(arch, 1, 16);
    b.reference("hangtrail_test_anchor", anchor);
    let p = b.point("hangtrail_test_target", Role::User, target);
    b.probe(0, p, 0, 0);
    b.record(0, Kind::PanicNotifier, target, 0, 0, NO_POINT);
    let dir = scratch("vmlinux");
    let t = write(&dir, "t.bin", b.build());

    let v = decode_json_with_vmlinux(&exe, &t);
    assert_eq!(v["header"]["symbols"], "vmlinux");
    for r in v["records"].as_array().expect("records") {
        assert_eq!(r["symbol"], "hangtrail_test_target", "{r}");
        assert_eq!(r["offset"], 0, "{r}");
        let loc = r["location"].as_str().unwrap_or_default();
        // In a release build the first instruction may belong to inlined
        // core code, so any Rust file:line is the right answer.
        assert!(loc.contains(".rs:"), "location {loc:?}");
        assert!(r["insn"].as_str().is_some_and(|i| !i.is_empty()), "{r}");
    }

    // The human report shows both, and the vmlinux's ref symbol must exist.
    let o = hangtrail(&[
        "decode",
        "--vmlinux",
        exe.to_str().expect("utf-8"),
        t.to_str().expect("utf-8"),
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("hangtrail_test_target+0x0") && out.contains(" at ") && out.contains(" | "),
        "{out}"
    );

    let mut b2 = TrailBuilder::new(arch, 1, 16);
    b2.reference("no_such_symbol_anywhere", anchor);
    let t2 = write(&dir, "t2.bin", b2.build());
    let o = hangtrail(&[
        "decode",
        "--vmlinux",
        exe.to_str().expect("utf-8"),
        t2.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("no_such_symbol_anywhere"));
}

/// An arm64 kallsyms against an x86_64 trail: the slide computed from
/// `panic` is garbage and the points are not where the file says. An error
/// naming the file, unless forced; forced, every name from it is marked.
#[test]
fn symbols_from_another_kernel_are_refused() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let trail = fx.join("guest-stale-cpu-x86_64/trail.bin");
    let wrong = fx.join("guest-stale-cpu-arm64/kallsyms");
    let (t, k) = (
        trail.to_str().expect("utf-8"),
        wrong.to_str().expect("utf-8"),
    );
    let o = hangtrail(&["decode", "--kallsyms", k, t]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.starts_with(&format!(
            "hangtrail: error: {k}: does not belong to this trail"
        )),
        "{e}"
    );
    assert!(o.stdout.is_empty());

    let o = hangtrail(&["decode", "--json", "--force-symbols", "--kallsyms", k, t]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert!(v["warnings"][0]
        .as_str()
        .is_some_and(|w| w.contains("does not belong to this trail")));
    let from_file: Vec<&serde_json::Value> = v["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter(|r| r["symbol"].is_string())
        .collect();
    assert!(!from_file.is_empty());
    assert!(
        from_file.iter().all(|r| r["unverified"] == true),
        "every name from the file is marked"
    );
    // Point names come from the trail: still trusted.
    let probe = &v["records"].as_array().expect("records")[1];
    assert_eq!(
        (&probe["symbol"], &probe["unverified"]),
        (&"panic".into(), &false.into())
    );
    let o = hangtrail(&["decode", "--force-symbols", "--kallsyms", k, t]);
    assert!(stdout(&o).contains("?"), "text marks the names");

    // The right kallsyms passes the check.
    let right = fx.join("guest-stale-cpu-x86_64/kallsyms");
    let o = hangtrail(&["decode", "--kallsyms", right.to_str().expect("utf-8"), t]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// `decode -` reads standard input; no more than the header's region size
/// is read, whatever follows.
#[test]
fn stdin_and_bounded_input() {
    use std::io::Write as _;
    use std::process::Stdio;
    let s = scenarios::handoff();
    let mut input = s.trail.clone();
    input.extend(std::iter::repeat_n(0xa5u8, 1 << 20)); // junk after the region
    let mut child = Command::new(env!("CARGO_BIN_EXE_hangtrail"))
        .args(["decode", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || {
        // The decoder may stop reading early: a broken pipe is fine.
        let _ = stdin.write_all(&input);
    });
    let o = child.wait_with_output().expect("waits");
    feeder.join().expect("feeder");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["header"]["input_len"], s.trail.len());
    assert_eq!(v["schema"], 2);
    assert_eq!(v["verdict"]["state"], "handoff");

    let dir = scratch("bounded");
    let mut big = s.trail.clone();
    big.extend(std::iter::repeat_n(0u8, 4096));
    let f = write(&dir, "big.bin", &big);
    let o = hangtrail(&["decode", "--json", f.to_str().expect("utf-8")]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["header"]["input_len"], s.trail.len());
}

/// `--vmlinux` names like `addr2line -i`: a pc inside inlined code shows
/// the inlined function and the function it is inlined into; a caller
/// frame (a return address) is looked up at pc - 1.
#[test]
fn vmlinux_shows_inline_frames_and_looks_up_frames_at_pc_minus_1() {
    let Some(arch) = Arch::native() else {
        return;
    };
    let exe = std::env::current_exe().expect("test binary path");
    let elf = hangtrail::debuginfo::DebugInfo::open(&exe).expect("opens itself");
    let slide = 1u64 << 30;
    let link = |n: &str| elf.symbols.address_of(n).expect("own symbol");
    let start = link("hangtrail_test_target");
    let inlined = (start..start + 512)
        .find(|&a| {
            elf.inline_frames(a).first().is_some_and(|(f, _)| {
                f.as_deref()
                    .is_some_and(|f| f.contains("hangtrail_test_inlined"))
            })
        })
        .expect("an address inside the inlined helper");
    let mut b = TrailBuilder::new(arch, 1, 16);
    b.reference(
        "hangtrail_test_anchor",
        link("hangtrail_test_anchor") + slide,
    );
    b.record(0, Kind::Probe, inlined + slide, 0, 0, NO_POINT);
    // A return address at the very start of a function: the call was the
    // last instruction of whatever precedes it.
    b.record(0, Kind::Frame, start + slide, 0, 0, NO_POINT);
    let dir = scratch("inline");
    let t = write(&dir, "t.bin", b.build());
    let v = decode_json_with_vmlinux(&exe, &t);
    let r = &v["records"][0];
    assert_eq!(r["symbol"], "hangtrail_test_target", "{r}");
    let chain = r["inlined"].as_array().expect("inlined");
    assert!(chain.len() >= 2, "{r}");
    assert!(
        chain[0]["function"]
            .as_str()
            .is_some_and(|f| f.contains("hangtrail_test_inlined")),
        "{r}"
    );
    assert!(
        chain[1]["function"]
            .as_str()
            .is_some_and(|f| f.contains("hangtrail_test_target")),
        "{r}"
    );
    let f = &v["records"][1];
    assert_eq!(f["kind"], "frame");
    assert_ne!(
        f["symbol"], "hangtrail_test_target",
        "looked up at pc - 1: {f}"
    );
}

// ---------------------------------------------------------------- save --

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `save --previous PREVIOUS --dir DIR` plus `extra`.
fn save(previous: &Path, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "save",
        "--previous",
        previous.to_str().expect("utf-8"),
        "--dir",
        dir.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    hangtrail(&args)
}

/// `NAME=value` fields of a native-protocol datagram's one-line values.
fn journal_field<'a>(datagram: &'a str, name: &str) -> Option<&'a str> {
    datagram
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
}

/// A real guest's trail (a stall after lapic_shutdown, x86_64), saved with
/// that boot's kallsyms: the files are what `decode` says of it, the journal
/// entry carries the verdict, and a second run changes nothing.
#[test]
fn save_a_guest_trail_once() {
    let fx = fixture("guest-v2-shootdown-stall-x86_64");
    let dir = scratch("save-guest");
    let state = dir.join("state");
    let _ = std::fs::remove_dir_all(&state);
    let sock = dir.join("journal");
    let _ = std::fs::remove_file(&sock);
    let rx = std::os::unix::net::UnixDatagram::bind(&sock).expect("binds");
    rx.set_nonblocking(true).expect("nonblocking");
    let ks = fx.join("kallsyms");
    let args = [
        "--kallsyms",
        ks.to_str().expect("utf-8"),
        "--journal-socket",
        sock.to_str().expect("utf-8"),
    ];
    let prev = fx.join("trail.bin");
    let o = save(&prev, &state, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let id = "b6a717cdf39670048819d7c7c1fbda15";
    let saved = state.join(id);
    assert!(
        stdout(&o).starts_with(&format!(
            "hangtrail: saved {}: hung on CPU 0",
            saved.display()
        )),
        "{}",
        stdout(&o)
    );
    let read = |p: &Path| std::fs::read(p).expect("reads");
    assert_eq!(read(&saved.join("previous.bin")), read(&prev));
    assert_eq!(
        read(&saved.join("decode.json")),
        read(&fx.join("expected.json"))
    );
    // decode.txt is expected.txt but for the input's name on line 1.
    let txt = String::from_utf8(read(&saved.join("decode.txt"))).expect("utf-8");
    let want = String::from_utf8(read(&fx.join("expected.txt"))).expect("utf-8");
    assert_eq!(
        txt.split_once('\n').map(|x| x.1),
        want.split_once('\n').map(|x| x.1)
    );

    let mut buf = vec![0u8; 65536];
    let n = rx.recv(&mut buf).expect("one journal entry");
    let d = String::from_utf8_lossy(&buf[..n]).into_owned();
    for (k, v) in [
        ("MESSAGE_ID", "2c74ffa988ab48559b0f0484357b5783"),
        ("PRIORITY", "3"),
        ("HANGTRAIL_VERDICT", "hung"),
        ("HANGTRAIL_REASON", "crash-path"),
        ("HANGTRAIL_CPU", "0"),
        ("HANGTRAIL_PC", "0xffffffff8cc3cae0"),
        ("HANGTRAIL_SYMBOL", "lapic_shutdown+0x0"),
        ("HANGTRAIL_BOOT_ID", id),
        ("HANGTRAIL_DIR", saved.to_str().expect("utf-8")),
    ] {
        assert_eq!(journal_field(&d, k), Some(v), "{k} in {d}");
    }
    assert!(journal_field(&d, "MESSAGE")
        .is_some_and(|m| m
            .starts_with("hangtrail: previous boot stopped: hung on CPU 0 after lapic_shutdown")));

    // Second run: exit 0, nothing written, nothing logged.
    let before = read(&saved.join("decode.txt"));
    let o = save(&prev, &state, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("nothing to do"), "{}", stdout(&o));
    assert_eq!(read(&saved.join("decode.txt")), before);
    assert!(rx.recv(&mut buf).is_err(), "a second journal entry");
    assert_eq!(std::fs::read_dir(&state).expect("lists").count(), 1);
}

#[test]
fn save_exit_codes() {
    let dir = scratch("save-codes");
    let state = dir.join("state");
    let _ = std::fs::remove_dir_all(&state);
    let quiet = ["--no-journal", "--no-kallsyms"];

    // 3: nothing to save; nothing created.
    let o = save(&dir.join("nope/previous"), &state, &quiet);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("no previous trail"), "{}", stderr(&o));
    assert!(!state.exists());

    // 4: a corrupt header is kept raw, once; still 4 the second time.
    let mut bad = scenarios::handoff().trail;
    bad[80] ^= 1;
    let t = write(&dir, "bad.bin", &bad);
    for kept in ["kept raw in", "already kept in"] {
        let o = save(&t, &state, &quiet);
        assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("header checksum mismatch"),
            "{}",
            stderr(&o)
        );
        assert!(stderr(&o).contains(kept), "{}", stderr(&o));
    }
    let kept: Vec<_> = std::fs::read_dir(&state).expect("lists").collect();
    assert_eq!(kept.len(), 1);
    let kept = kept[0].as_ref().expect("entry").path();
    assert_eq!(
        std::fs::read(kept.join("previous.bin")).expect("reads"),
        bad
    );

    // 5: the state dir cannot be made (a file is in the way).
    let good = write(&dir, "good.bin", scenarios::handoff().trail);
    let o = save(&good, &good.join("state"), &quiet);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("hangtrail: error: "),
        "{}",
        stderr(&o)
    );

    // 0 with a warning: no journal listening is not a failure.
    let o = save(
        &good,
        &state,
        &["--no-kallsyms", "--journal-socket", "/nonexistent/socket"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: journal /nonexistent/socket"));

    // Usage errors stay 2.
    let o = hangtrail(&["save", "--bogus"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Every synthetic trail and truncations of it: `save` never panics (exit
/// 101) or crashes, whatever the bytes.
#[test]
fn save_never_panics() {
    let dir = scratch("save-fuzz");
    let state = dir.join("state");
    let _ = std::fs::remove_dir_all(&state);
    for s in scenarios::all() {
        for cut in [s.trail.len(), 20480 + 64 * 3 + 5, 20480, 300, 1] {
            let t = write(&dir, "t.bin", &s.trail[..cut.min(s.trail.len())]);
            let o = save(&t, &state, &["--no-journal", "--no-kallsyms"]);
            assert!(
                matches!(o.status.code(), Some(0 | 4)),
                "{} cut {cut}: {:?} {}",
                s.name,
                o.status,
                stderr(&o)
            );
        }
    }
}

/// A fake `release` parameter reading `held`, in `dir`.
fn held(dir: &Path) -> PathBuf {
    write(dir, "release", "held\n")
}

/// One datagram from `rx`, as text; `None` if nothing came.
fn recv(rx: &std::os::unix::net::UnixDatagram) -> Option<String> {
    let mut buf = vec![0u8; 65536];
    let n = rx.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// The state dir cannot be written (a regular file is in the way: root
/// cannot write there either). With a journal listening, the entry says so
/// and carries the verdict, and the trail is released (exit code 5 all the
/// same); with none, the trail stays held. Nothing is left on disk.
#[test]
fn save_unwritable_is_released_once_the_journal_has_it() {
    let fx = fixture("guest-v2-shootdown-stall-x86_64");
    let dir = scratch("save-unwritable");
    let prev = fx.join("trail.bin");
    let blocker = write(&dir, "blocker", "a file, not a directory");
    let state = blocker.join("state");
    let sock = dir.join("journal");
    let _ = std::fs::remove_file(&sock);
    let rx = std::os::unix::net::UnixDatagram::bind(&sock).expect("binds");
    rx.set_nonblocking(true).expect("nonblocking");
    let release = held(&dir);
    let ks = fx.join("kallsyms");
    let args = |journal: &str| {
        vec![
            "--kallsyms".to_string(),
            ks.to_str().expect("utf-8").into(),
            journal.into(),
            "--kmsg".into(),
            "/nonexistent/kmsg".into(),
            "--release".into(),
            "--release-file".into(),
            release.to_str().expect("utf-8").into(),
        ]
    };
    let run = |extra: &[String]| {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        save(&prev, &state, &extra)
    };
    let mut a = args("--journal-socket");
    a.insert(3, sock.to_str().expect("utf-8").into());
    let o = run(&a);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let err = format!("{}: Not a directory (os error 20)", state.display());
    assert_eq!(
        stderr(&o),
        format!(
            "hangtrail: error: could not save the trail ({err}); its verdict is in the \
             journal: released, hangtrail.ko's next load records\n"
        )
    );
    assert_eq!(stdout(&o), "");
    assert_eq!(std::fs::read(&release).expect("reads"), b"release\n");
    let d = recv(&rx).expect("one journal entry");
    for (k, v) in [
        ("MESSAGE_ID", "2c74ffa988ab48559b0f0484357b5783"),
        ("PRIORITY", "3"),
        ("HANGTRAIL_VERDICT", "hung"),
        ("HANGTRAIL_REASON", "crash-path"),
        ("HANGTRAIL_CPU", "0"),
        ("HANGTRAIL_PC", "0xffffffff8cc3cae0"),
        ("HANGTRAIL_SYMBOL", "lapic_shutdown+0x0"),
        ("HANGTRAIL_BOOT_ID", "b6a717cdf39670048819d7c7c1fbda15"),
        ("HANGTRAIL_SAVE_ERROR", &err),
    ] {
        assert_eq!(journal_field(&d, k), Some(v), "{k} in {d}");
    }
    assert_eq!(journal_field(&d, "HANGTRAIL_DIR"), None, "{d}");
    let m = journal_field(&d, "MESSAGE").expect("MESSAGE");
    assert!(
        m.starts_with("hangtrail: previous boot stopped: hung on CPU 0 after lapic_shutdown")
            && m.ends_with(&format!("; the trail was not saved: {err}")),
        "{m}"
    );
    assert!(recv(&rx).is_none(), "a second journal entry");

    // Nobody listening, or --no-journal: the verdict is nowhere, the trail
    // stays held.
    for (journal, why) in [
        (
            vec!["--journal-socket".to_string(), "/nonexistent/socket".into()],
            "journal /nonexistent/socket: No such file or directory (os error 2)",
        ),
        (vec!["--no-journal".to_string()], "no journal: --no-journal"),
    ] {
        std::fs::write(&release, "held\n").expect("writes");
        let mut a = args(&journal[0]);
        if let Some(j) = journal.get(1) {
            a.insert(3, j.clone());
        }
        let o = run(&a);
        assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
        assert_eq!(
            stderr(&o),
            format!(
                "hangtrail: error: could not save the trail ({err}); the journal did not take \
                 it either ({why}): the trail stays held, nothing records until it is saved or \
                 released (echo release > {})\n",
                release.display()
            )
        );
        assert_eq!(std::fs::read(&release).expect("reads"), b"held\n");
    }
    // Not held (the module not loaded): no word of holding.
    let _ = std::fs::remove_file(&release);
    let o = run(&args("--no-journal"));
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).ends_with("(no journal: --no-journal)\n"),
        "{}",
        stderr(&o)
    );
    assert!(!release.exists());
    assert!(recv(&rx).is_none(), "an entry without a journal");
    let mut left: Vec<_> = std::fs::read_dir(&dir)
        .expect("lists")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["blocker", "journal"]);
}

/// A trail that does not parse: the entry carries the module's verdict line
/// from the kernel log, and the trail is released, kept raw now or before
/// (exit code 4 all the same); if it cannot even be kept raw, released once
/// the journal has that line, held without one.
#[test]
fn save_unparsed_takes_the_dmesg_verdict_and_is_released() {
    let dir = scratch("save-unparsed-dmesg");
    let state = dir.join("state");
    let _ = std::fs::remove_dir_all(&state);
    let mut bad = scenarios::handoff().trail;
    bad[80] ^= 1;
    let prev = write(&dir, "bad.bin", &bad);
    let line = "previous boot stopped: hung on CPU 1 after inject_stall (next expected: \
                crash_save_cpu); crash kernel not reached; stuck: CPU 1";
    let kmsg = write(
        &dir,
        "kmsg",
        format!(
            "6,1,10,-;hangtrail: previous boot stopped: an earlier load's\n\
             6,2,20,-;hangtrail: {line}\n SUBSYSTEM=x\n\
             4,3,30,-;hangtrail: holding the trail of a boot that did not end in order\n"
        ),
    );
    let sock = dir.join("journal");
    let _ = std::fs::remove_file(&sock);
    let rx = std::os::unix::net::UnixDatagram::bind(&sock).expect("binds");
    rx.set_nonblocking(true).expect("nonblocking");
    let release = held(&dir);
    let run = |state: &Path, kmsg: &Path| {
        save(
            &prev,
            state,
            &[
                "--no-kallsyms",
                "--journal-socket",
                sock.to_str().expect("utf-8"),
                "--kmsg",
                kmsg.to_str().expect("utf-8"),
                "--release",
                "--release-file",
                release.to_str().expect("utf-8"),
            ],
        )
    };
    for kept in ["kept raw in", "already kept in"] {
        std::fs::write(&release, "held\n").expect("writes");
        let o = run(&state, &kmsg);
        assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
        assert!(stderr(&o).contains(kept), "{}", stderr(&o));
        assert_eq!(
            stdout(&o),
            "hangtrail: released the held trail: hangtrail.ko's next load records\n"
        );
        assert_eq!(std::fs::read(&release).expect("reads"), b"release\n");
    }
    let d = recv(&rx).expect("one journal entry");
    assert!(recv(&rx).is_none(), "an entry for a trail already kept");
    assert_eq!(journal_field(&d, "HANGTRAIL_DMESG"), Some(line), "{d}");
    assert_eq!(journal_field(&d, "HANGTRAIL_VERDICT"), Some("unparsed"));
    assert_eq!(journal_field(&d, "PRIORITY"), Some("4"));
    let m = journal_field(&d, "MESSAGE").expect("MESSAGE");
    assert!(
        m.starts_with(&format!(
            "hangtrail: {line}; the trail does not parse (header checksum mismatch"
        )),
        "{m}"
    );

    // Cannot be kept raw either: released, the journal having the line.
    let blocked = prev.join("state");
    std::fs::write(&release, "held\n").expect("writes");
    let o = run(&blocked, &kmsg);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let err = format!("{}: Not a directory (os error 20)", blocked.display());
    assert!(
        stderr(&o).ends_with(&format!(
            "; could not keep it raw ({err}); its verdict is in the journal: released, \
             hangtrail.ko's next load records\n"
        )),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&release).expect("reads"), b"release\n");
    let d = recv(&rx).expect("one journal entry");
    assert_eq!(journal_field(&d, "HANGTRAIL_DMESG"), Some(line), "{d}");
    assert_eq!(
        journal_field(&d, "HANGTRAIL_SAVE_ERROR"),
        Some(err.as_str())
    );
    assert_eq!(journal_field(&d, "PRIORITY"), Some("3"));

    // No verdict line: the entry goes out, the trail stays held.
    std::fs::write(&release, "held\n").expect("writes");
    let o = run(&blocked, Path::new("/dev/null"));
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("its journal entry has no verdict")
            && stderr(&o).contains("the trail stays held"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&release).expect("reads"), b"held\n");
    let d = recv(&rx).expect("one journal entry");
    assert_eq!(journal_field(&d, "HANGTRAIL_DMESG"), None, "{d}");
    assert_eq!(
        journal_field(&d, "HANGTRAIL_SAVE_ERROR"),
        Some(err.as_str())
    );
}
