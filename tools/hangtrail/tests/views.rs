//! `decode --trace-event F` and `--svg F` on the real guest trails: the
//! trace-event JSON is valid for its format and holds every record; the SVG
//! is well-formed XML naming each CPU and the verdict's record; the output
//! files are refused or replaced as Documentation/decoder.rst says.

mod common;
use common::{hangtrail, stderr};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hangtrail::synth::{fix_header_csum, scenarios};
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creates scratch dir");
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The `guest-*` fixtures: real trails from the QEMU guests, each with the
/// kallsyms of its boot.
fn guests() -> Vec<PathBuf> {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&fx)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("guest-"))
                && p.join("trail.bin").is_file()
                && p.join("kallsyms").is_file()
        })
        .collect();
    v.sort();
    assert!(v.len() >= 10, "guest fixtures: {v:?}");
    v
}

/// `decode --json --kallsyms kallsyms` plus `extra`, on a guest fixture:
/// the decoded document (the usual output, which the options leave as it
/// is).
fn decode_guest(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["decode", "--json", "--kallsyms"];
    let ks = dir.join("kallsyms");
    let trail = dir.join("trail.bin");
    args.push(s(&ks));
    args.extend_from_slice(extra);
    args.push(s(&trail));
    let o = hangtrail(&args);
    assert_eq!(o.status.code(), Some(0), "{dir:?}: {}", stderr(&o));
    assert_eq!(
        o.stdout,
        std::fs::read(dir.join("expected.json")).expect("expected.json"),
        "{dir:?}: the report is what it is without the options"
    );
    serde_json::from_slice(&o.stdout).expect("JSON")
}

/// What the trace-event format requires of each event, by phase: `name`,
/// `ph`, `ts`, `pid`, `tid`; `dur` for complete events; scope `g`, `p` or
/// `t` for instants; `args.name` for the naming metadata events.
fn check_event(e: &Value) -> Result<(), String> {
    let o = e.as_object().ok_or("not an object")?;
    for k in ["name", "ph", "ts", "pid", "tid"] {
        if !o.contains_key(k) {
            return Err(format!("no {k}"));
        }
    }
    if !e["name"].is_string() || !e["ts"].is_number() {
        return Err("name or ts of the wrong type".into());
    }
    if !e["pid"].is_u64() || !e["tid"].is_u64() {
        return Err("pid/tid not integers".into());
    }
    if e.get("args").is_some_and(|a| !a.is_object()) {
        return Err("args not an object".into());
    }
    match e["ph"].as_str().ok_or("ph not a string")? {
        "X" => {
            let dur = e["dur"].as_f64().ok_or("X without dur")?;
            if dur.is_nan() || dur < 0.0 {
                return Err(format!("negative dur {dur}"));
            }
        }
        "i" | "I" => {
            if !matches!(e["s"].as_str(), Some("g" | "p" | "t")) {
                return Err("instant without scope g/p/t".into());
            }
        }
        "M" => match e["name"].as_str() {
            Some("process_name" | "thread_name") => {
                if !e["args"]["name"].is_string() {
                    return Err("metadata without args.name".into());
                }
            }
            Some("thread_sort_index" | "process_sort_index") => {
                if !e["args"]["sort_index"].is_i64() {
                    return Err("sort index not an integer".into());
                }
            }
            n => return Err(format!("unknown metadata {n:?}")),
        },
        ph => return Err(format!("unexpected phase {ph}")),
    }
    let ts = e["ts"].as_f64().ok_or("ts")?;
    if !ts.is_finite() || ts < 0.0 {
        return Err(format!("ts {ts}"));
    }
    Ok(())
}

/// The trace-event document is valid: the JSON Object Format, each event
/// with what its phase requires.
fn validate(doc: &Value) -> Vec<Value> {
    assert_eq!(doc["displayTimeUnit"], "ns");
    let events = doc["traceEvents"].as_array().expect("traceEvents").clone();
    for e in &events {
        if let Err(why) = check_event(e) {
            panic!("{why}: {e}");
        }
    }
    events
}

/// The event validator itself refuses what the format does not allow.
#[test]
fn the_validator_refuses_bad_events() {
    let good =
        serde_json::json!({"name": "a", "ph": "X", "ts": 1.0, "dur": 2.0, "pid": 1, "tid": 0});
    assert_eq!(check_event(&good), Ok(()));
    for (k, v) in [
        ("dur", Value::Null),
        ("ph", "Q".into()),
        ("ts", "1".into()),
        ("tid", (-1).into()),
    ] {
        let mut e = good.clone();
        e[k] = v;
        assert!(check_event(&e).is_err(), "{e}");
    }
    let mut e = good.clone();
    e.as_object_mut().expect("object").remove("pid");
    assert!(check_event(&e).is_err());
    let i = serde_json::json!({"name": "a", "ph": "i", "ts": 1.0, "pid": 1, "tid": 0, "s": "x"});
    assert!(check_event(&i).is_err());
}

/// `"0x..."` of a record's integer pc.
fn pc_hex(r: &Value) -> String {
    format!("{:#x}", r["pc"].as_u64().expect("pc"))
}

/// Every guest trail: the JSON validates, every decoded record and sample
/// is one event carrying its seq, CPU, time, pc, kind, name and flags, each
/// CPU is a track named `CPU N`, and the verdict is a global marker.
#[test]
fn trace_event_round_trips_the_guest_trails() {
    let out = scratch("views-trace");
    for dir in guests() {
        let f = out.join("trace.json");
        let decoded = decode_guest(&dir, &["--trace-event", s(&f)]);
        let doc: Value =
            serde_json::from_slice(&std::fs::read(&f).expect("written")).expect("trace JSON");
        let events = validate(&doc);

        let mut by_key: HashMap<(u64, bool), Vec<&Value>> = HashMap::new();
        for e in events.iter().filter(|e| e["args"]["seq"].is_u64()) {
            let key = (
                e["args"]["seq"].as_u64().expect("seq"),
                e["args"]["kind"] == "sample",
            );
            by_key.entry(key).or_default().push(e);
        }
        let records: Vec<&Value> = decoded["records"]
            .as_array()
            .expect("records")
            .iter()
            .chain(decoded["samples"].as_array().expect("samples"))
            .collect();
        assert_eq!(
            by_key.values().map(Vec::len).sum::<usize>(),
            records.len(),
            "{dir:?}: one event per record"
        );
        let mut cpus = std::collections::BTreeSet::new();
        for r in &records {
            let key = (r["seq"].as_u64().expect("seq"), r["kind"] == "sample");
            let found = by_key.get(&key).map_or(&[][..], Vec::as_slice);
            assert_eq!(found.len(), 1, "{dir:?}: {r}");
            let e = found[0];
            let a = &e["args"];
            assert_eq!(a["cpu"], r["cpu"], "{dir:?}: {e}");
            assert_eq!(e["tid"], r["cpu"], "{dir:?}: {e}");
            assert_eq!(a["ts_ns"], r["ts_ns"], "{dir:?}: {e}");
            let ts_ns = r["ts_ns"].as_u64().expect("ts_ns") as f64;
            assert!(
                (e["ts"].as_f64().expect("ts") - ts_ns / 1000.0).abs() < 1e-3,
                "{dir:?}: {e}"
            );
            assert_eq!(a["kind"], r["kind"], "{dir:?}: {e}");
            assert_eq!(a["pc"].as_str(), Some(pc_hex(r).as_str()), "{dir:?}: {e}");
            assert_eq!(a["symbol"], r["symbol"], "{dir:?}: {e}");
            assert_eq!(a["offset"], r["offset"], "{dir:?}: {e}");
            assert_eq!(a["flags"], r["flags"], "{dir:?}: {e}");
            assert_eq!(a["point"], r["point"], "{dir:?}: {e}");
            let ph = e["ph"].as_str().expect("ph");
            if r["kind"] == "sample" {
                assert_eq!((ph, &e["s"]), ("i", &Value::from("t")), "{dir:?}: {e}");
            }
            if r["kind"] == "probe" {
                assert_eq!(ph, "X", "{dir:?}: a point is a span: {e}");
            }
            if r["symbol"].is_string() && r["kind"] == "probe" {
                let want = format!(
                    "{}+{:#x}",
                    r["symbol"].as_str().expect("symbol"),
                    r["offset"].as_u64().expect("offset")
                );
                assert!(
                    e["name"].as_str().is_some_and(|n| n.starts_with(&want)),
                    "{dir:?}: {e}"
                );
            }
            cpus.insert(r["cpu"].as_u64().expect("cpu"));
        }
        for cpu in cpus {
            assert!(
                events.iter().any(|e| e["ph"] == "M"
                    && e["name"] == "thread_name"
                    && e["tid"] == cpu
                    && e["args"]["name"] == format!("CPU {cpu}")),
                "{dir:?}: track of CPU {cpu}"
            );
        }
        let v = &decoded["verdict"];
        let marks: Vec<&Value> = events.iter().filter(|e| e["cat"] == "verdict").collect();
        assert_eq!(marks.len(), 1, "{dir:?}");
        let m = marks[0];
        assert_eq!(
            (&m["ph"], &m["s"], &m["name"]),
            (&"i".into(), &"g".into(), &v["line"]),
            "{dir:?}: {m}"
        );
        assert_eq!(m["args"]["state"], v["state"], "{dir:?}");
        assert_eq!(m["args"]["last_seq"], v["last"]["seq"], "{dir:?}");
        if v["last"].is_object() {
            let want = where_of(&v["last"]);
            assert!(
                m["args"]["last"]
                    .as_str()
                    .is_some_and(|l| l.contains(&want)),
                "{dir:?}: {m} does not name {want}"
            );
            assert_eq!(
                m["ts"].as_f64(),
                Some(v["last"]["ts_ns"].as_u64().expect("ts") as f64 / 1000.0),
                "{dir:?}"
            );
        }
    }
}

/// The text of `node` and its descendants.
fn text_of(n: roxmltree::Node) -> String {
    n.descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect()
}

/// `symbol+0xoff` of a record, or its pc.
fn where_of(r: &Value) -> String {
    match r["symbol"].as_str() {
        Some(sym) => format!("{sym}+{:#x}", r["offset"].as_u64().expect("offset")),
        None => pc_hex(r),
    }
}

/// Every guest trail: the SVG parses, is self-contained, names each CPU
/// and labels the verdict's record (`verdict: ... symbol+0xoff`), with the
/// verdict line as its title.
#[test]
fn svg_names_each_cpu_and_the_verdicts_point() {
    let out = scratch("views-svg");
    for dir in guests() {
        let f = out.join("picture.svg");
        let decoded = decode_guest(&dir, &["--svg", s(&f)]);
        let text = std::fs::read_to_string(&f).expect("written, UTF-8");
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        for n in doc.descendants().filter(|n| n.is_element()) {
            assert!(
                !matches!(
                    n.tag_name().name(),
                    "script" | "image" | "foreignObject" | "use"
                ),
                "{dir:?}: {:?}",
                n.tag_name()
            );
            for a in n.attributes() {
                assert_ne!(a.name(), "href", "{dir:?}: no links out");
            }
        }
        assert!(
            !text.contains("@import") && !text.contains("@font-face") && !text.contains("url(")
        );

        let texts: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(text_of)
            .collect();
        let mut cpus: Vec<u64> = decoded["cpus"]
            .as_array()
            .expect("cpus")
            .iter()
            .map(|c| c["cpu"].as_u64().expect("cpu"))
            .chain(
                decoded["records"]
                    .as_array()
                    .expect("records")
                    .iter()
                    .map(|r| r["cpu"].as_u64().expect("cpu")),
            )
            .collect();
        cpus.sort_unstable();
        cpus.dedup();
        assert!(!cpus.is_empty());
        for cpu in &cpus {
            assert!(
                texts.contains(&format!("CPU {cpu}")),
                "{dir:?}: no lane for CPU {cpu}"
            );
        }
        let v = &decoded["verdict"];
        let title = root
            .children()
            .find(|n| n.has_tag_name("title"))
            .map(text_of);
        assert_eq!(title.as_deref(), v["line"].as_str(), "{dir:?}");
        if v["last"].is_object() && v["cpu"].is_u64() {
            let want = where_of(&v["last"]);
            let label: Vec<String> = doc
                .descendants()
                .filter(|n| n.attribute("class") == Some("verdict-point"))
                .map(text_of)
                .collect();
            assert_eq!(label.len(), 1, "{dir:?}");
            assert!(
                label[0].starts_with("verdict: ") && label[0].ends_with(&want),
                "{dir:?}: {label:?} does not name {want}"
            );
            // In the verdict CPU's lane.
            let lane = doc
                .descendants()
                .find(|n| n.attribute("id") == Some(&*format!("cpu{}", v["cpu"])))
                .expect("the verdict CPU's lane");
            assert!(lane
                .descendants()
                .any(|n| n.attribute("class") == Some("verdict-point")));
        }
    }
}

/// The picture in Documentation/decoder.rst is what the CLI draws for its
/// fixture (`HANGTRAIL_BLESS=1` redraws it).
#[test]
fn documentation_picture_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/guest-v2-shootdown-stall-x86_64");
    let doc = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../Documentation/images/shootdown-stall-x86_64.svg");
    let out = scratch("views-doc");
    let f = out.join("picture.svg");
    decode_guest(&dir, &["--svg", s(&f)]);
    let got = std::fs::read(&f).expect("written");
    if std::env::var_os("HANGTRAIL_BLESS").is_some() {
        std::fs::write(&doc, &got).expect("blesses");
    }
    assert!(
        std::fs::read(&doc).ok() == Some(got),
        "{} is out of date: HANGTRAIL_BLESS=1 cargo test --release -p hangtrail --test views",
        doc.display()
    );
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("lists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Refusals write nothing (exit 5, the file named); an existing file is
/// replaced, leaving no temporary file.
#[test]
fn output_files_are_refused_or_replaced() {
    let dir = scratch("views-files");
    let trail = dir.join("t.bin");
    let bytes = scenarios::stale_cpu().trail;
    std::fs::write(&trail, &bytes).expect("writes");
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    let svg = dir.join("p.svg");
    let json = dir.join("p.json");
    let missing = dir.join("no/such/p.svg");

    let refused: Vec<(Vec<&str>, &Path, &str)> = vec![
        (
            vec!["--svg", s(&sub), "--trace-event", s(&json)],
            &sub,
            "is a directory",
        ),
        (
            vec!["--trace-event", s(&sub), "--svg", s(&svg)],
            &sub,
            "is a directory",
        ),
        (vec!["--svg", s(&missing)], &missing, "directory"),
        (vec!["--svg", s(&trail)], &trail, "refusing to overwrite"),
        (
            vec!["--svg", s(&svg), "--trace-event", s(&svg)],
            &svg,
            "both",
        ),
        (vec!["--svg", "-"], Path::new("-"), "standard output"),
    ];
    for (opts, what, why) in refused {
        let mut args = vec!["decode"];
        args.extend_from_slice(&opts);
        args.push(s(&trail));
        let o = hangtrail(&args);
        assert_eq!(o.status.code(), Some(5), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.starts_with(&format!("hangtrail: error: {}: ", what.display())) && e.contains(why),
            "{args:?}: {e}"
        );
        assert!(o.stdout.is_empty(), "{args:?}");
        assert_eq!(listing(&dir), ["sub", "t.bin"], "{args:?}: nothing written");
        assert_eq!(listing(&sub), Vec::<String>::new());
        assert_eq!(std::fs::read(&trail).expect("reads"), bytes);
    }

    // An existing file is replaced, whole.
    std::fs::write(&svg, "old").expect("writes");
    std::fs::write(&json, "old").expect("writes");
    let o = hangtrail(&[
        "decode",
        "--svg",
        s(&svg),
        "--trace-event",
        s(&json),
        s(&trail),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("verdict: "));
    assert!(std::fs::read_to_string(&svg)
        .expect("reads")
        .starts_with("<?xml"));
    let _: Value = serde_json::from_slice(&std::fs::read(&json).expect("reads")).expect("JSON");
    assert_eq!(listing(&dir), ["p.json", "p.svg", "sub", "t.bin"]);
}

/// A trail that does not parse: exit 3, no files. A copy cut short, and
/// every synthetic scenario cut anywhere: exit 0 or 3, never a panic, and
/// when 0, both files valid.
#[test]
fn bad_and_short_trails() {
    let dir = scratch("views-bad");
    let svg = dir.join("p.svg");
    let json = dir.join("p.json");
    let mut bad = scenarios::handoff().trail;
    bad[80] ^= 1;
    let t = dir.join("bad.bin");
    std::fs::write(&t, &bad).expect("writes");
    let o = hangtrail(&["decode", "--svg", s(&svg), "--trace-event", s(&json), s(&t)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("header checksum mismatch"));
    assert!(!svg.exists() && !json.exists());

    let mut bad = scenarios::handoff().trail;
    bad[8] = 9;
    fix_header_csum(&mut bad);
    std::fs::write(&t, &bad).expect("writes");
    let o = hangtrail(&["decode", "--svg", s(&svg), s(&t)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(!svg.exists());

    let guest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/guest-v2-shootdown-stall-x86_64/trail.bin");
    let mut inputs: Vec<(String, Vec<u8>)> = vec![];
    let g = std::fs::read(guest).expect("reads");
    for cut in [g.len() / 2, 20480 + 64 * 3 + 5] {
        inputs.push((format!("guest cut {cut}"), g[..cut].to_vec()));
    }
    for sc in scenarios::all() {
        for cut in [
            sc.trail.len(),
            sc.trail.len() * 3 / 4,
            20480 + 64 * 5 + 7,
            300,
        ] {
            inputs.push((
                format!("{} cut {cut}", sc.name),
                sc.trail[..cut.min(sc.trail.len())].to_vec(),
            ));
        }
    }
    for (name, bytes) in inputs {
        std::fs::write(&t, &bytes).expect("writes");
        let _ = std::fs::remove_file(&svg);
        let _ = std::fs::remove_file(&json);
        let o = hangtrail(&["decode", "--svg", s(&svg), "--trace-event", s(&json), s(&t)]);
        match o.status.code() {
            Some(0) => {
                let doc: Value = serde_json::from_slice(&std::fs::read(&json).expect("reads"))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                validate(&doc);
                let text = std::fs::read_to_string(&svg).expect("reads");
                roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            Some(3) => {
                assert!(stderr(&o).starts_with("hangtrail: error: "), "{name}");
                assert!(!svg.exists() && !json.exists(), "{name}");
            }
            c => panic!("{name}: exit {c:?}: {}", stderr(&o)),
        }
    }
}
