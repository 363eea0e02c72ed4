//! Mutation fuzzer for the decoder (the stable-toolchain stand-in for a
//! cargo-fuzz target).
//!
//! ```text
//! cargo run --release --example fuzz -- [--seconds N] [--seed S] [--iterations N] [CORPUS_DIR]
//! ```
//!
//! The corpus is every file under CORPUS_DIR (default: every `trail.bin`
//! under tests/fixtures), plus the synthetic scenarios. Exits 1 on a panic or
//! a broken invariant, or on an input that takes longer than `--max-ms`
//! (default 1000) to decode and render, saving the input as
//! `fuzz-failure-<seed>-<iter>.bin`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use hangtrail::synth::fuzz::Fuzzer;

#[derive(Parser)]
struct Args {
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// PRNG seed: the same seed and corpus give the same inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after this many inputs.
    #[arg(long, default_value_t = u64::MAX)]
    iterations: u64,
    /// An input slower than this (decode + render, ms) is a failure.
    #[arg(long, default_value_t = 1000)]
    max_ms: u64,
    /// Corpus directory (files read recursively).
    corpus: Option<PathBuf>,
}

fn collect(dir: &Path, only_trails: bool, out: &mut Vec<Vec<u8>>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, only_trails, out)?;
        } else if !only_trails || p.file_name().is_some_and(|n| n == "trail.bin") {
            out.push(std::fs::read(&p)?);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut corpus = Vec::new();
    let r = match &args.corpus {
        Some(dir) => collect(dir, false, &mut corpus),
        None => collect(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
            true,
            &mut corpus,
        ),
    };
    if let Err(e) = r {
        eprintln!("fuzz: corpus: {e}");
        return ExitCode::from(2);
    }
    let n_files = corpus.len();
    let mut f = Fuzzer::new(args.seed, corpus);
    f.max_input_time = Duration::from_millis(args.max_ms);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    match f.run(args.iterations, Some(deadline)) {
        Ok(n) => {
            let secs = start.elapsed().as_secs_f64();
            println!(
                "fuzz: {n} iterations in {secs:.1} s ({:.0}/s), {n_files} corpus files + synthetic, \
                 {} decoded, {} valid records checked, slowest input {:.1} ms, seed {}: no failures",
                n as f64 / secs,
                f.decoded,
                f.records,
                f.slowest.as_secs_f64() * 1000.0,
                args.seed
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            let path = format!("fuzz-failure-{}-{}.bin", args.seed, e.iteration);
            let saved = std::fs::write(&path, &e.input)
                .map_or_else(|err| format!("(not saved: {err})"), |()| path);
            eprintln!(
                "fuzz: FAILED at iteration {} (seed {}): {}\nfuzz: input saved as {saved}",
                e.iteration, args.seed, e.message
            );
            ExitCode::FAILURE
        }
    }
}
