//! Decoder throughput on a large synthetic trail.
//!
//! ```text
//! cargo run --release --example bench -- [--system-map F] [--mib 64] [--cpus 8] [--runs 5]
//! ```
//!
//! Builds a trail filling a `--mib` region (64 MiB: just over 1M records)
//! with pcs inside the functions of a System.map (a synthetic one with 100k
//! text symbols unless `--system-map` names a real one), writes both to a
//! temporary directory, then times, best of `--runs`:
//!
//! * read: `std::fs::read` of the trail alone;
//! * decode: read + parse the System.map + decode + symbolize (what
//!   `hangtrail decode` does before printing);
//! * decode+json: the same plus rendering the JSON document into memory;
//! * decode+text: the same plus rendering the text report into memory;
//! * CLI: `hangtrail decode [--json] --system-map` end to end, output to
//!   /dev/null (if the release binary has been built).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use hangtrail::decode::{decode, Options};
use hangtrail::format::{ring_records_for, Arch, Kind, Role, NO_POINT, REC_CRASH_PHASE, REC_IDLE};
use hangtrail::render;
use hangtrail::symbols::{Source, SymbolTable};
use hangtrail::synth::{Rng, SymbolMap, TrailBuilder};

#[derive(Parser)]
struct Args {
    /// Use this System.map's text symbols instead of synthetic ones.
    #[arg(long)]
    system_map: Option<PathBuf>,
    /// Region size in MiB.
    #[arg(long, default_value_t = 64)]
    mib: u64,
    /// CPUs.
    #[arg(long, default_value_t = 8)]
    cpus: u32,
    /// Timed runs per measurement (the best is reported).
    #[arg(long, default_value_t = 5)]
    runs: u32,
}

const SLIDE: u64 = 0x1e00_0000;

fn best(runs: u32, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut out = 0;
    f(); // warm up
    for _ in 0..runs {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
    }
    (best, out)
}

fn main() {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("hangtrail-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    // Symbols: (link address, name) of text symbols, and the map file.
    let (map_path, funcs) = match &args.system_map {
        Some(p) => {
            let text = std::fs::read_to_string(p).expect("reads --system-map");
            let t = SymbolTable::parse(&text, Source::SystemMap).expect("parses --system-map");
            let funcs: Vec<(u64, String)> =
                t.functions().map(|(a, n)| (a, n.to_string())).collect();
            (p.clone(), funcs)
        }
        None => {
            let m = SymbolMap::generated(0xffff_ffff_8100_0000, 100_000, 42);
            let p = dir.join("System.map");
            std::fs::write(&p, m.system_map()).expect("writes System.map");
            (p, m.funcs)
        }
    };
    let panic_addr = funcs
        .iter()
        .find(|(_, n)| n == "panic")
        .map(|(a, _)| *a)
        .expect("the System.map has panic");

    // The trail: every ring slot written, pcs inside random functions.
    let region = args.mib << 20;
    let ring = ring_records_for(region, args.cpus).expect("region large enough");
    let mut b = TrailBuilder::new(Arch::X86_64, args.cpus, ring);
    b.release("6.12.0-bench");
    b.reference("panic", panic_addr + SLIDE);
    let panic_pt = b.point("panic", Role::PanicEntry, panic_addr + SLIDE);
    let mut rng = Rng::new(7);
    let total = u64::from(ring) * u64::from(args.cpus);
    b.step_ns = 1_000;
    for i in 0..total {
        let cpu = (i % u64::from(args.cpus)) as u32;
        let f = rng.below(funcs.len() as u64 - 1) as usize;
        let size = (funcs[f + 1].0 - funcs[f].0).max(1);
        let pc = funcs[f].0 + SLIDE + rng.below(size);
        match i % 16 {
            0 => b.record(cpu, Kind::Return, funcs[f].0 + SLIDE, 0, 0, NO_POINT),
            1 => b.record(cpu, Kind::Frame, pc, i % 8, 0, NO_POINT),
            _ => b.record(cpu, Kind::Probe, pc, i, 0, NO_POINT),
        };
        if i % 4096 == 0 {
            b.sample(
                cpu,
                pc,
                1000 + u64::from(cpu),
                if i % 3 == 0 { REC_IDLE } else { 0 },
            );
        }
    }
    b.probe(0, panic_pt, 0, REC_CRASH_PHASE);
    let img = b.build();
    let trail_path = dir.join("trail.bin");
    std::fs::write(&trail_path, &img).expect("writes trail");
    let map_bytes = std::fs::metadata(&map_path).map(|m| m.len()).unwrap_or(0);
    println!(
        "trail: {} MiB, {} CPUs x {} records = {} ring slots; System.map: {} text symbols, {} KiB",
        img.len() >> 20,
        args.cpus,
        ring,
        total,
        funcs.len(),
        map_bytes >> 10
    );
    drop(img);

    let decode_once = |p: &Path| {
        let bytes = std::fs::read(p).expect("reads trail");
        let text = std::fs::read(&map_path).expect("reads map");
        let t =
            SymbolTable::parse(&String::from_utf8_lossy(&text), Source::SystemMap).expect("map");
        let opts = Options {
            symbols: Some(&t),
            ..Options::default()
        };
        decode(&bytes, &opts).expect("decodes")
    };

    let (read, _) = best(args.runs, || {
        std::fs::read(&trail_path).expect("reads").len()
    });
    let (dec, n) = best(args.runs, || {
        let d = decode_once(&trail_path);
        assert!(
            d.records.iter().all(|r| r.sym.is_some()),
            "every pc symbolized"
        );
        (d.counts.valid) as usize
    });
    let mut out = Vec::new();
    let (json, json_len) = best(args.runs, || {
        out.clear();
        render::json(&decode_once(&trail_path), &mut out).expect("renders");
        out.len()
    });
    let (text, text_len) = best(args.runs, || {
        out.clear();
        render::text(&decode_once(&trail_path), "bench", &mut out).expect("renders");
        out.len()
    });

    let rate = |d: Duration| n as f64 / d.as_secs_f64() / 1e6;
    let ratio = |d: Duration| d.as_secs_f64() / read.as_secs_f64();
    println!(
        "{:<14} {:>10} {:>14} {:>10}",
        "", "time", "records/s", "vs read"
    );
    println!(
        "{:<14} {:>8.1}ms {:>12.1}M {:>9.1}x",
        "read",
        read.as_secs_f64() * 1e3,
        rate(read),
        1.0
    );
    for (name, d) in [
        ("decode", dec),
        ("decode+json", json),
        ("decode+text", text),
    ] {
        println!(
            "{:<14} {:>8.1}ms {:>12.1}M {:>9.1}x",
            name,
            d.as_secs_f64() * 1e3,
            rate(d),
            ratio(d)
        );
    }
    println!(
        "({} valid records; JSON {} MiB, text {} MiB)",
        n,
        json_len >> 20,
        text_len >> 20
    );

    // End to end through the binary, if built (target/release/hangtrail).
    let exe = std::env::current_exe().ok().and_then(|e| {
        let p = e.parent()?.parent()?.join("hangtrail");
        p.exists().then_some(p)
    });
    if let Some(exe) = exe {
        let run = |json: bool| {
            best(args.runs.min(3), || {
                let mut c = Command::new(&exe);
                c.arg("decode");
                if json {
                    c.arg("--json");
                }
                let st = c
                    .arg("--system-map")
                    .arg(&map_path)
                    .arg(&trail_path)
                    .stdout(Stdio::null())
                    .status()
                    .expect("runs hangtrail");
                assert!(st.success());
                0
            })
            .0
        };
        let (j, t) = (run(true), run(false));
        println!(
            "CLI {}: --json {:.1}ms ({:.1}x read), text {:.1}ms ({:.1}x read)",
            exe.display(),
            j.as_secs_f64() * 1e3,
            ratio(j),
            t.as_secs_f64() * 1e3,
            ratio(t)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
