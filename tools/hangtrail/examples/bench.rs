//! Decoder throughput on a large synthetic trail.
//!
//! ```text
//! cargo run --release --example bench -- [--case busy|friendly] [--short]
//!     [--system-map F] [--mib N] [--cpus N] [--runs N]
//!     [--max-decode-ratio R] [--max-text-ratio R] [--keep DIR]
//! ```
//!
//! `--case busy` (the default): a 64 MiB region of 256 CPUs, probe-heavy,
//! with name chunks (`synth::busy_trail`), and a real-size System.map
//! (`synth::kernel_map`: ~255k lines, ~240k text symbols).
//! `--case friendly`: 8 CPUs, no points, no name chunks, 100k `fn_<i>`
//! symbols (the first benchmark's case). `--short`: 8 MiB, 3 runs (what
//! `make check` runs).
//!
//! Both files are written to a temporary directory, then, in rounds (each
//! measurement once per round, best of `--runs` rounds):
//!
//! * baseline: map the trail and verify every slot's checksum: the least
//!   any decoder does, on the same bytes;
//! * decode: map the trail, read and parse the System.map, decode,
//!   symbolize, verdict (what `hangtrail decode` does before printing);
//! * decode+text / decode+json: the same plus rendering into memory;
//! * CLI: the release binary end to end, output to /dev/null (if built).
//!
//! Prints a table, then lines for scripts:
//!
//! ```text
//! decoder records/s decode: 5400000
//! decoder records/s text: 3100000
//! decoder ratio decode/baseline: 5.1
//! decoder ratio text/baseline: 8.8
//! ```
//!
//! With `--max-decode-ratio`/`--max-text-ratio`, exits 1 when a ratio is
//! above its bound: a ratio of two times from the same rounds, on the same
//! bytes, which a loaded machine slows alike (Documentation/bench.rst).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hangtrail::decode::{decode, Decoded, Options};
use hangtrail::format::{
    ring_records_for, Arch, Kind, Record, Role, Trail, NO_POINT, RECORD_SIZE, REC_CRASH_PHASE,
    REC_IDLE, REC_USER,
};
use hangtrail::input;
use hangtrail::render;
use hangtrail::symbols::{Source, SymbolTable};
use hangtrail::synth::kernel_map::KernelMap;
use hangtrail::synth::{busy_trail, Rng, SymbolMap, TrailBuilder};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Case {
    /// 256 CPUs, probe-heavy, name chunks, real-size System.map.
    Busy,
    /// 8 CPUs, no points, no name chunks, 100k `fn_<i>` symbols.
    Friendly,
}

#[derive(Parser)]
struct Args {
    /// Which trail.
    #[arg(long, value_enum, default_value_t = Case::Busy)]
    case: Case,
    /// The short version `make check` runs (8 MiB, 3 rounds).
    #[arg(long)]
    short: bool,
    /// Use this System.map's text symbols instead of generated ones.
    #[arg(long)]
    system_map: Option<PathBuf>,
    /// Region size in MiB (default 64, 8 with --short).
    #[arg(long)]
    mib: Option<u64>,
    /// CPUs (default 256 busy, 8 friendly).
    #[arg(long)]
    cpus: Option<u32>,
    /// Rounds (the best of each measurement is reported; default 5, 3
    /// with --short).
    #[arg(long)]
    runs: Option<u32>,
    /// Keep the trail and System.map in this directory (e.g. to profile
    /// `hangtrail decode` on them).
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Fail if decode takes more than this many times the baseline.
    #[arg(long)]
    max_decode_ratio: Option<f64>,
    /// Fail if decode+text takes more than this many times the baseline.
    #[arg(long)]
    max_text_ratio: Option<f64>,
}

const SLIDE: u64 = busy_trail::SLIDE;

/// The first benchmark's trail: pcs inside random functions, no points.
fn friendly_trail(funcs: &[(u64, String)], region: u64, cpus: u32) -> Vec<u8> {
    let panic_addr = funcs
        .iter()
        .find(|(_, n)| n == "panic")
        .map(|(a, _)| *a)
        .expect("the System.map has panic");
    let ring = ring_records_for(region, cpus).expect("region large enough");
    let mut b = TrailBuilder::new(Arch::X86_64, cpus, ring);
    b.release("6.12.0-bench");
    b.reference("panic", panic_addr + SLIDE);
    let panic_pt = b.point("panic", Role::PanicEntry, panic_addr + SLIDE);
    let mut rng = Rng::new(7);
    let total = u64::from(ring) * u64::from(cpus);
    b.step_ns = 1_000;
    for i in 0..total {
        let cpu = (i % u64::from(cpus)) as u32;
        let f = rng.below(funcs.len() as u64 - 1) as usize;
        let size = (funcs[f + 1].0 - funcs[f].0).max(1);
        let pc = funcs[f].0 + SLIDE + rng.below(size);
        match i % 16 {
            0 => b.record(cpu, Kind::Return, funcs[f].0 + SLIDE, 0, 0, NO_POINT),
            1 => b.record(cpu, Kind::Frame, pc, i % 8, 0, NO_POINT),
            _ => b.record(cpu, Kind::Probe, pc, i, 0, NO_POINT),
        };
        if i % 4096 == 0 {
            let flags = if i % 3 == 0 { REC_IDLE } else { 0 };
            b.sample(cpu, pc, 1000 + u64::from(cpu), flags);
        }
    }
    b.probe(0, panic_pt, 0, REC_CRASH_PHASE);
    b.build()
}

/// Valid records by checksum alone: the baseline pass.
fn checksum_pass(bytes: &[u8]) -> usize {
    let t = Trail::parse(bytes).expect("header");
    let start = t.header.samples_offset(0);
    let end = t.header.used_size().min(bytes.len());
    bytes[start..end]
        .chunks_exact(RECORD_SIZE)
        .filter(|b| {
            let b: &[u8; RECORD_SIZE] = (*b).try_into().expect("record size");
            Record::from_bytes(b).is_valid()
        })
        .count()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mib = args.mib.unwrap_or(if args.short { 8 } else { 64 });
    let runs = args.runs.unwrap_or(if args.short { 3 } else { 5 }).max(1);
    let cpus = args.cpus.unwrap_or(match args.case {
        Case::Busy => 256,
        Case::Friendly => 8,
    });
    let dir = args.keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("hangtrail-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).expect("temp dir");

    // Symbols, and the map file.
    let gen = match (&args.system_map, args.case) {
        (Some(_), _) => None,
        (None, Case::Busy) => {
            let m = KernelMap::generate(0xffff_ffff_8100_0000, 120_000, 42);
            Some((m.funcs, m.system_map))
        }
        (None, Case::Friendly) => {
            let m = SymbolMap::generated(0xffff_ffff_8100_0000, 100_000, 42);
            let text = m.system_map();
            Some((m.funcs, text))
        }
    };
    let (map_path, funcs, map_text) = match gen {
        Some((funcs, text)) => {
            let p = dir.join("System.map");
            std::fs::write(&p, &text).expect("writes System.map");
            (p, funcs, text)
        }
        None => {
            let p = args.system_map.clone().expect("given");
            let text = std::fs::read_to_string(&p).expect("reads --system-map");
            let t = SymbolTable::parse(&text, Source::SystemMap).expect("parses --system-map");
            let funcs = t.functions().map(|(a, n)| (a, n.to_string())).collect();
            (p, funcs, text)
        }
    };
    let region = mib << 20;
    let img = match args.case {
        Case::Busy => {
            let mut m = KernelMap {
                funcs,
                system_map: String::new(),
                text_symbols: 0,
                lines: 0,
            };
            // A real map's functions end where the next one's __pfx_ starts.
            if args.system_map.is_some() {
                m.funcs.retain(|(_, n)| !n.starts_with("__pfx_"));
            }
            busy_trail::build(&m, region, cpus, 9).image
        }
        Case::Friendly => friendly_trail(&funcs, region, cpus),
    };
    let trail_path = dir.join("trail.bin");
    std::fs::write(&trail_path, &img).expect("writes trail");
    drop(img);

    let decode_once = |p: &Path| -> Decoded {
        let bytes = input::open(p).expect("opens trail");
        let text = std::fs::read(&map_path).expect("reads map");
        let t = SymbolTable::parse_bytes(&text, Source::SystemMap).expect("map");
        let opts = Options {
            symbols: Some(&t),
            ..Options::default()
        };
        decode(&bytes, &opts).expect("decodes")
    };

    // What the trail holds.
    let d = decode_once(&trail_path);
    let n = d.counts.valid as usize;
    let names = d.records.iter().filter(|r| r.kind == Kind::Name).count();
    let probes = d
        .records
        .iter()
        .filter(|r| matches!(r.kind, Kind::Probe | Kind::Return))
        .count();
    let unnamed = d
        .records
        .iter()
        .chain(&d.samples)
        .filter(|r| r.sym.is_none() && !r.has(REC_USER))
        .filter(|r| {
            !matches!(
                r.kind,
                Kind::Name | Kind::Start | Kind::StopMap | Kind::KexecImage
            )
        })
        .count();
    let table = SymbolTable::parse(&map_text, Source::SystemMap).expect("map");
    println!(
        "trail: {:.1} MiB, {} CPUs x {} ring records, {} valid records ({:.0}% probe hits and returns, \
         {:.0}% name chunks), {} points; System.map: {} lines, {} text symbols, {} KiB; \
         verdict: {}",
        d.input_len as f64 / f64::from(1 << 20),
        d.header.nr_cpus,
        d.header.ring_records,
        n,
        100.0 * probes as f64 / n as f64,
        100.0 * names as f64 / n as f64,
        d.points.len(),
        map_text.lines().count(),
        table.len(),
        map_text.len() >> 10,
        d.verdict.summary,
    );
    assert!(
        unnamed <= 4 + d.records.len() / 1000,
        "{unnamed} pcs not symbolized"
    );
    drop((d, table, map_text));

    // Rounds: every measurement once per round, so that a change in the
    // machine's load hits them alike; the best of each.
    let mut out = Vec::new();
    let mut best = [Duration::MAX; 4];
    let mut sizes = [0usize; 4];
    for round in 0..=runs {
        let mut time = |i: usize, f: &mut dyn FnMut() -> usize| {
            let t = Instant::now();
            let s = f();
            let e = t.elapsed();
            // Round 0 warms up (page cache, allocator).
            if round > 0 {
                best[i] = best[i].min(e);
                sizes[i] = s;
            }
        };
        time(0, &mut || {
            let bytes = input::open(&trail_path).expect("opens trail");
            let valid = checksum_pass(&bytes);
            assert_eq!(valid, n, "baseline counts the valid records");
            valid
        });
        time(1, &mut || decode_once(&trail_path).records.len());
        time(2, &mut || {
            out.clear();
            render::text(&decode_once(&trail_path), "bench", &mut out).expect("renders");
            out.len()
        });
        time(3, &mut || {
            out.clear();
            render::json(&decode_once(&trail_path), &mut out).expect("renders");
            out.len()
        });
    }
    let [base, dec, text, json] = best;

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let ratio = |d: Duration| d.as_secs_f64() / base.as_secs_f64();
    println!(
        "{:<14} {:>10} {:>14} {:>12}",
        "", "time", "records/s", "vs baseline"
    );
    for (name, d) in [
        ("baseline", base),
        ("decode", dec),
        ("decode+text", text),
        ("decode+json", json),
    ] {
        println!(
            "{:<14} {:>8.1}ms {:>12.2}M {:>11.2}x",
            name,
            d.as_secs_f64() * 1e3,
            rate(d) / 1e6,
            ratio(d)
        );
    }
    println!(
        "(best of {runs} rounds; text {} MiB, JSON {} MiB)",
        sizes[2] >> 20,
        sizes[3] >> 20
    );

    // End to end through the binary, if built (target/release/hangtrail).
    let exe = std::env::current_exe().ok().and_then(|e| {
        let p = e.parent()?.parent()?.join("hangtrail");
        p.exists().then_some(p)
    });
    if let (Some(exe), false) = (exe, args.short) {
        let run = |json: bool| {
            let mut b = Duration::MAX;
            for _ in 0..runs.min(3) {
                let mut c = Command::new(&exe);
                c.arg("decode");
                if json {
                    c.arg("--json");
                }
                let t = Instant::now();
                let st = c
                    .arg("--system-map")
                    .arg(&map_path)
                    .arg(&trail_path)
                    .stdout(Stdio::null())
                    .status()
                    .expect("runs hangtrail");
                b = b.min(t.elapsed());
                // Exit 0, or 1.. for a verdict the CLI reports by code.
                assert!(st.code().is_some_and(|c| c < 3), "{st}");
            }
            b
        };
        let (t, j) = (run(false), run(true));
        println!(
            "CLI {}: text {:.1}ms ({:.2}M records/s, {:.2}x baseline), --json {:.1}ms ({:.2}x baseline)",
            exe.display(),
            t.as_secs_f64() * 1e3,
            rate(t) / 1e6,
            ratio(t),
            j.as_secs_f64() * 1e3,
            ratio(j)
        );
    }
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }

    println!("decoder records/s decode: {:.0}", rate(dec));
    println!("decoder records/s text: {:.0}", rate(text));
    println!("decoder ratio decode/baseline: {:.2}", ratio(dec));
    println!("decoder ratio text/baseline: {:.2}", ratio(text));
    let mut ok = true;
    for (what, got, bound) in [
        ("decode", ratio(dec), args.max_decode_ratio),
        ("text", ratio(text), args.max_text_ratio),
    ] {
        if let Some(b) = bound {
            if got > b {
                eprintln!("bench: {what}/baseline {got:.2} is above the bound {b}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
