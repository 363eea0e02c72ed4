//! Test support, not installed: what the e2e tests (scripts/htvm.py,
//! selftests/e2e.py) need from a trail's bytes, taken from the one
//! definition of the layout (`hangtrail::format`), so that no Python knows
//! an offset.
//!
//! ```text
//! cargo run --release --example trailkit -- slots FILE
//! cargo run --release --example trailkit -- edit [--release TEXT] [--add-flags MASK] FILE > OUT
//! ```
//!
//! `slots` prints one JSON document: `record_size` and `slots`, every record
//! slot whose `seq` is non-zero (valid or not), in region order, as
//! `{"offset", "area": "samples" | "ring", "cpu", "slot", "seq", "kind": name
//! | null, "valid", "payload": hex}`. `edit` writes the trail with its header
//! changed and resealed (over its own version's header size): `--release`
//! rewrites the kernel release, `--add-flags` sets header flag bits. FILE
//! `-` is standard input. A file that is not a trail (or is cut short in its
//! header) is an error (exit 1), never a panic.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hangtrail::format::{self, Kind, Record, Slot, Trail, RECORD_SIZE, RELEASE_LEN};
use serde::Serialize;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the written slots (non-zero seq) as JSON.
    Slots {
        /// The trail (`-`: standard input).
        file: PathBuf,
    },
    /// Write the trail with its header changed and resealed to stdout.
    Edit {
        /// New kernel release (`uname -r`).
        #[arg(long)]
        release: Option<String>,
        /// Header flag bits to set (hex with 0x, or decimal).
        #[arg(long, value_name = "MASK", value_parser = parse_u32)]
        add_flags: Option<u32>,
        /// The trail (`-`: standard input).
        file: PathBuf,
    },
}

fn parse_u32(s: &str) -> Result<u32, String> {
    match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("`{s}`: {e}"))
}

#[derive(Serialize)]
struct SlotJson {
    offset: usize,
    area: &'static str,
    cpu: u32,
    slot: u32,
    seq: u64,
    kind: Option<&'static str>,
    valid: bool,
    payload: String,
}

#[derive(Serialize)]
struct Slots {
    record_size: usize,
    slots: Vec<SlotJson>,
}

/// The written slots of `bytes`, in region order (samples, then rings).
fn slots(bytes: &[u8]) -> Result<Slots, String> {
    let t = Trail::parse(bytes).map_err(|e| e.message().to_string())?;
    let h = t.header;
    let mut out = Vec::new();
    for (area, per) in [("samples", h.samples_per_cpu), ("ring", h.ring_records)] {
        for cpu in 0..h.nr_cpus {
            for slot in 0..per {
                let (base, class) = if area == "ring" {
                    (h.ring_offset(cpu), t.ring_slot(cpu, slot))
                } else {
                    (h.samples_offset(cpu), t.sample_slot(cpu, slot))
                };
                let offset = base + slot as usize * RECORD_SIZE;
                let Some(b) = bytes.get(offset..).and_then(|b| b.first_chunk()) else {
                    continue;
                };
                let r = Record::from_bytes(b);
                if r.seq == 0 {
                    continue;
                }
                out.push(SlotJson {
                    offset,
                    area,
                    cpu,
                    slot,
                    seq: r.seq,
                    kind: Kind::from_u8(r.kind).map(Kind::name),
                    valid: matches!(class, Slot::Valid(_)),
                    payload: r.payload.iter().map(|b| format!("{b:02x}")).collect(),
                });
            }
        }
    }
    Ok(Slots {
        record_size: RECORD_SIZE,
        slots: out,
    })
}

/// `bytes` with the header's release and flags changed, resealed.
fn edit(mut bytes: Vec<u8>, release: Option<&str>, add_flags: u32) -> Result<Vec<u8>, String> {
    let mut h = Trail::parse(&bytes)
        .map_err(|e| e.message().to_string())?
        .header;
    if let Some(r) = release {
        if r.len() >= RELEASE_LEN {
            return Err(format!("release longer than {} bytes", RELEASE_LEN - 1));
        }
        format::copy_padded(&mut h.release, r.as_bytes());
    }
    h.flags |= add_flags;
    // `parse` checked that the header area, `header_size` bytes, is there.
    format::reseal(&mut bytes[..h.header_size as usize], &h);
    Ok(bytes)
}

fn read(file: &PathBuf) -> io::Result<Vec<u8>> {
    if file.as_os_str() == "-" {
        let mut v = Vec::new();
        io::stdin().lock().read_to_end(&mut v)?;
        Ok(v)
    } else {
        std::fs::read(file)
    }
}

fn main() -> ExitCode {
    let (file, out) = match Cli::parse().command {
        Command::Slots { file } => {
            let out = read(&file).map_err(|e| e.to_string()).and_then(|b| {
                let s = slots(&b)?;
                serde_json::to_vec(&s).map_err(|e| e.to_string())
            });
            (file, out)
        }
        Command::Edit {
            release,
            add_flags,
            file,
        } => {
            let out = read(&file)
                .map_err(|e| e.to_string())
                .and_then(|b| edit(b, release.as_deref(), add_flags.unwrap_or(0)));
            (file, out)
        }
    };
    match out.and_then(|o| io::stdout().write_all(&o).map_err(|e| e.to_string())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trailkit: error: {}: {e}", file.display());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let p = format!(
            "{}/tests/fixtures/{name}/trail.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(p).expect("fixture")
    }

    #[test]
    fn edit_reseals_what_it_changes() {
        for name in ["guest-report-hang-x86_64", "guest-v2-no-kdump-x86_64"] {
            let before = fixture(name);
            let after = edit(before.clone(), Some("6.1.0-other"), 1 << 3).expect("edits");
            let (a, b) = (
                Trail::parse(&before).unwrap().header,
                Trail::parse(&after).expect("still a trail").header,
            );
            assert_eq!(format::cstr(&b.release), b"6.1.0-other");
            assert_eq!(b.flags, a.flags | 1 << 3);
            assert_eq!(before.len(), after.len());
            let same = edit(before.clone(), None, 0).unwrap();
            assert_eq!(same, before, "{name}: resealing as is changes nothing");
        }
    }

    #[test]
    fn slots_are_the_written_ones() {
        let b = fixture("guest-v2-no-kdump-x86_64");
        let s = slots(&b).expect("parses");
        assert!(s.slots.iter().all(|x| x.seq != 0));
        assert!(s.slots.iter().any(|x| x.area == "samples"));
        assert!(s.slots.windows(2).all(|w| w[0].offset < w[1].offset));
        let t = Trail::parse(&b).unwrap();
        for x in &s.slots {
            let r = Record::from_bytes(b[x.offset..].first_chunk().unwrap());
            assert_eq!((r.seq, r.cpu), (x.seq, x.cpu));
            if x.area == "ring" && x.valid {
                assert_eq!(t.ring_slot(x.cpu, x.slot), Slot::Valid(r));
            }
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let b = fixture("guest-v2-no-kdump-x86_64");
        for cut in [0, 7, 100, 4096, 20479] {
            assert!(slots(&b[..cut]).is_err(), "cut at {cut}");
            assert!(
                edit(b[..cut].to_vec(), Some("x"), 0).is_err(),
                "cut at {cut}"
            );
        }
        let mut bad = b.clone();
        bad[100] ^= 1;
        assert!(slots(&bad).is_err());
        assert!(edit(b.clone(), Some(&"x".repeat(RELEASE_LEN)), 0).is_err());
        // Cut among the records: the slots that are there.
        assert!(slots(&b[..b.len() / 2]).is_ok());
    }
}
