//! Deterministic mutation fuzzing of [`crate::decode::decode`], for
//! `examples/fuzz.rs` and a quick `#[test]` (cargo-fuzz needs nightly).
//!
//! Inputs are mutated trails: bit flips, byte sets, truncations, splices,
//! header field edits with the header checksum fixed up (so the records
//! behind a weird header get decoded), and record edits with the record
//! checksum fixed up (so weird but valid records reach the verdict logic).
//! Every input is decoded (with and without symbols), rendered as text and
//! JSON, and checked against the invariants in [`check`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::{fix_header_csum, fix_record_csum, scenarios, Rng};
use crate::decode::{decode, Area, Decoded, Options};
use crate::format::{
    Kind, Record, Slot, Trail, HEADER_SIZE, MAX_POINTS, POINTS_OFFSET, POINT_NAME_LEN, POINT_SIZE,
    RECORD_SIZE,
};
use crate::render;
use crate::symbols::{Source, SymbolTable};
use crate::verdict::State;

/// `(offset, width)` of the header fields worth tweaking.
const HEADER_FIELDS: &[(usize, usize)] = &[
    (8, 4),   // version
    (12, 4),  // header_size
    (16, 8),  // region_size
    (32, 4),  // record_size
    (36, 4),  // nr_cpus
    (40, 4),  // ring_records
    (44, 4),  // samples_per_cpu
    (48, 4),  // flags
    (52, 4),  // arch
    (144, 8), // ref_name (first bytes)
    (176, 8), // ref_addr
    (184, 8), // start_ns
    (192, 4), // nr_points
    (196, 4), // online_cpus
    (208, 8), // sample_period_ns
    (216, 4), // panic_timeout
];

/// `(offset, width)` of a point's fields, relative to the point.
const POINT_FIELDS: &[(usize, usize)] = &[
    (0, 8),
    (POINT_NAME_LEN, 8),
    (POINT_NAME_LEN + 8, 1),
    (POINT_NAME_LEN + 9, 1),
    (POINT_NAME_LEN + 10, 1),
    (POINT_NAME_LEN + 12, 4),
    (POINT_NAME_LEN + 16, 4),
];

/// `(offset, width)` of a record's fields.
const RECORD_FIELDS: &[(usize, usize)] = &[
    (0, 8),  // seq
    (8, 8),  // ts_ns
    (16, 8), // pc
    (24, 8), // arg
    (32, 4), // cpu
    (36, 1), // kind
    (37, 1), // flags
    (38, 2), // point
    (40, 8), // payload
    (56, 4), // payload tail
];

/// A failed input.
#[derive(Debug)]
pub struct Failure {
    /// Iteration it was found at.
    pub iteration: u64,
    /// The input.
    pub input: Vec<u8>,
    /// What went wrong.
    pub message: String,
}

/// The fuzzer state: a corpus, symbol tables, and the PRNG.
pub struct Fuzzer {
    rng: Rng,
    corpus: Vec<Vec<u8>>,
    tables: Vec<SymbolTable>,
    /// Inputs that decoded (passed the header checks).
    pub decoded: u64,
    /// Valid records seen in decoded inputs.
    pub records: u64,
    /// An input that takes longer than this to decode and render fails
    /// (default 1 s).
    pub max_input_time: Duration,
    /// The slowest input so far.
    pub slowest: Duration,
}

impl Fuzzer {
    /// A fuzzer over `corpus` (the synthetic scenarios are always added).
    pub fn new(seed: u64, mut corpus: Vec<Vec<u8>>) -> Self {
        let mut tables = Vec::new();
        for s in scenarios::all() {
            corpus.push(s.trail);
            if let Ok(t) = SymbolTable::parse(&s.system_map, Source::SystemMap) {
                if !tables.iter().any(|x: &SymbolTable| x.len() == t.len()) {
                    tables.push(t);
                }
            }
        }
        Self {
            rng: Rng::new(seed),
            corpus,
            tables,
            decoded: 0,
            records: 0,
            max_input_time: Duration::from_secs(1),
            slowest: Duration::ZERO,
        }
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.rng.below(v.len() as u64) as usize]
    }

    fn interesting(&mut self, width: usize, current: u64) -> u64 {
        let max = if width >= 8 {
            u64::MAX
        } else {
            (1u64 << (width * 8)) - 1
        };
        let v = match self.rng.below(10) {
            0 => 0,
            1 => 1,
            2 => max,
            3 => max >> 1,
            4 => current.wrapping_add(1),
            5 => current.wrapping_sub(1),
            6 => self.rng.below(64),
            7 => current ^ (1 << self.rng.below(width as u64 * 8)),
            8 => current.wrapping_mul(2),
            _ => self.rng.next_u64(),
        };
        v & max
    }

    fn set_field(&mut self, buf: &mut [u8], off: usize, width: usize) {
        let Some(field) = buf.get_mut(off..off + width) else {
            return;
        };
        let mut cur = [0u8; 8];
        cur[..width].copy_from_slice(field);
        let v = self.interesting(width, u64::from_le_bytes(cur));
        field.copy_from_slice(&v.to_le_bytes()[..width]);
    }

    /// A record-aligned offset past the header, inside `len`.
    fn record_offset(&mut self, len: usize) -> Option<usize> {
        let n = len.checked_sub(HEADER_SIZE)? / RECORD_SIZE;
        (n > 0).then(|| HEADER_SIZE + self.rng.below(n as u64) as usize * RECORD_SIZE)
    }

    fn mutate_once(&mut self, buf: &mut Vec<u8>) {
        let len = buf.len();
        if len == 0 {
            return;
        }
        match self.rng.below(100) {
            // Bit flip, mostly in the records.
            0..=14 => {
                let off = self.rng.below(len as u64) as usize;
                buf[off] ^= 1 << self.rng.below(8);
            }
            // Byte set.
            15..=29 => {
                let off = self.rng.below(len as u64) as usize;
                let random = self.rng.next_u64() as u8;
                buf[off] = *self.pick(&[0, 0xff, 0x7f, 0x80, 1, random]);
            }
            // Truncation.
            30..=34 => {
                let keep = self.rng.below(len as u64 + 1) as usize;
                buf.truncate(keep);
            }
            // Splice a chunk of another corpus input.
            35..=44 => {
                let other = self.rng.below(self.corpus.len() as u64) as usize;
                let src_len = self.corpus[other].len();
                if src_len == 0 {
                    return;
                }
                let from = self.rng.below(src_len as u64) as usize;
                let n = (self.rng.below(512) as usize + 1).min(src_len - from);
                let to = self.rng.below(len as u64) as usize;
                let n = n.min(len - to);
                let chunk = self.corpus[other][from..from + n].to_vec();
                buf[to..to + n].copy_from_slice(&chunk);
                if self.rng.below(2) == 0 {
                    fix_header_csum(buf);
                }
            }
            // Header field, checksum fixed.
            45..=64 => {
                if self.rng.below(3) == 0 {
                    let p = POINTS_OFFSET + self.rng.below(MAX_POINTS as u64) as usize * POINT_SIZE;
                    let &(o, w) = self.pick(POINT_FIELDS);
                    self.set_field(buf, p + o, w);
                } else {
                    let &(o, w) = self.pick(HEADER_FIELDS);
                    self.set_field(buf, o, w);
                }
                fix_header_csum(buf);
            }
            // Record field, checksum fixed.
            65..=89 => {
                let Some(r) = self.record_offset(len) else {
                    return;
                };
                let &(o, w) = self.pick(RECORD_FIELDS);
                self.set_field(buf, r + o, w);
                if self.rng.below(8) != 0 {
                    fix_record_csum(buf, r);
                }
            }
            // Copy a slot over another (duplicate seqs, wrong CPU).
            _ => {
                let (Some(a), Some(b)) = (self.record_offset(len), self.record_offset(len)) else {
                    return;
                };
                let rec = buf[a..a + RECORD_SIZE].to_vec();
                buf[b..b + RECORD_SIZE].copy_from_slice(&rec);
            }
        }
    }

    /// The next input: a corpus entry with 1 to 4 mutations.
    pub fn next_input(&mut self) -> Vec<u8> {
        let i = self.rng.below(self.corpus.len() as u64) as usize;
        let mut buf = self.corpus[i].clone();
        for _ in 0..=self.rng.below(4) {
            self.mutate_once(&mut buf);
        }
        buf
    }

    /// Runs until `iterations` inputs were tried or `deadline` passed,
    /// whichever comes first. Returns the iterations done.
    pub fn run(&mut self, iterations: u64, deadline: Option<Instant>) -> Result<u64, Failure> {
        for i in 0..iterations {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(i);
            }
            let input = self.next_input();
            let table = match self.rng.below(self.tables.len() as u64 + 1) as usize {
                0 => None,
                t => self.tables.get(t - 1),
            };
            let t0 = Instant::now();
            let r = check(&input, table);
            let mut took = t0.elapsed();
            if took > self.max_input_time && r.is_ok() {
                // Once more: a shared machine can stall any process for a
                // moment; a slow input is slow every time.
                let t1 = Instant::now();
                let _ = check(&input, table);
                took = took.min(t1.elapsed());
            }
            self.slowest = self.slowest.max(took);
            let r = match r {
                Ok(_) if took > self.max_input_time => Err(format!(
                    "took {took:?} to decode and render, twice (limit {:?})",
                    self.max_input_time
                )),
                r => r,
            };
            match r {
                Ok(Some(n)) => {
                    self.decoded += 1;
                    self.records += n;
                }
                Ok(None) => {}
                Err(message) => {
                    return Err(Failure {
                        iteration: i,
                        input,
                        message,
                    })
                }
            }
        }
        Ok(iterations)
    }
}

/// Decodes and renders `input`, catching panics, and checks the
/// invariants. `Ok(Some(valid records))` if it decoded, `Ok(None)` if it is
/// not a trail; `Err` says what broke.
pub fn check(input: &[u8], table: Option<&SymbolTable>) -> Result<Option<u64>, String> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        // Forced: a table from another scenario still symbolizes (marked
        // unverified), so the renderers see names on mismatched input too.
        let opts = Options {
            symbols: table,
            debug: None,
            force_symbols: true,
        };
        match decode(input, &opts) {
            Ok(d) => invariants(input, &d).map(|()| Some(d.counts.valid)),
            Err(_) => Ok(None),
        }
    }));
    match r {
        Ok(r) => r,
        Err(p) => Err(format!(
            "panic: {}",
            p.downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string payload)")
        )),
    }
}

fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(msg())
    }
}

fn invariants(input: &[u8], d: &Decoded) -> Result<(), String> {
    let h = &d.header;
    let trail =
        Trail::parse(input).map_err(|e| format!("decoded but Trail::parse fails: {e:?}"))?;
    for (list, area) in [(&d.records, Area::Ring), (&d.samples, Area::Samples)] {
        let mut prev = 0;
        for r in list.iter() {
            let what = || {
                format!(
                    "{} seq {} cpu {} slot {}",
                    area.name(),
                    r.seq(),
                    r.cpu(),
                    r.slot
                )
            };
            ensure(r.area == area, || format!("{}: wrong area", what()))?;
            ensure(r.raw.is_valid(), || {
                format!("{}: reported valid, checksum mismatch", what())
            })?;
            ensure(r.raw.csum == r.raw.compute_csum(), || {
                format!("{}: bad csum", what())
            })?;
            ensure(Kind::from_u8(r.raw.kind) == Some(r.kind), || {
                format!("{}: kind", what())
            })?;
            ensure(r.seq() >= prev, || format!("{}: not sorted by seq", what()))?;
            prev = r.seq();
            ensure(r.cpu() < h.nr_cpus, || {
                format!("{}: cpu out of range", what())
            })?;
            let (off, per_cpu, slot) = match area {
                Area::Ring => (
                    h.ring_offset(r.cpu()),
                    h.ring_records,
                    trail.ring_slot(r.cpu(), r.slot),
                ),
                Area::Samples => (
                    h.samples_offset(r.cpu()),
                    h.samples_per_cpu,
                    trail.sample_slot(r.cpu(), r.slot),
                ),
            };
            ensure(r.slot < per_cpu, || {
                format!("{}: slot out of range", what())
            })?;
            let at = off + r.slot as usize * RECORD_SIZE;
            let bytes = input.get(at..at + RECORD_SIZE);
            ensure(bytes == Some(&r.raw.as_bytes()[..]), || {
                format!("{}: not the bytes in the slot", what())
            })?;
            ensure(slot == Slot::Valid(r.raw), || {
                format!("{}: format says {slot:?}", what())
            })?;
        }
    }
    for b in &d.invalid {
        let s = match b.area {
            Area::Ring => trail.ring_slot(b.cpu, b.slot),
            Area::Samples => trail.sample_slot(b.cpu, b.slot),
        };
        let ok = match b.reason {
            "torn" => s == Slot::Torn,
            "invalid" => {
                s == Slot::Invalid || matches!(s, Slot::Valid(r) if Kind::from_u8(r.kind).is_none())
            }
            _ => false,
        };
        ensure(ok, || format!("bad slot {b:?} but format says {s:?}"))?;
        if let Slot::Valid(r) = s {
            ensure(Record::from_bytes(r.as_bytes()) == r, || {
                "record round trip".into()
            })?;
        }
    }
    let c = &d.counts;
    ensure(
        c.valid == (d.records.len() + d.samples.len()) as u64,
        || "valid count".into(),
    )?;
    ensure(c.torn + c.invalid == d.invalid.len() as u64, || {
        "bad slot count".into()
    })?;
    let total =
        u128::from(h.nr_cpus) * (u128::from(h.ring_records) + u128::from(h.samples_per_cpu));
    let counted = u128::from(c.valid)
        + u128::from(c.empty)
        + u128::from(c.torn)
        + u128::from(c.invalid)
        + u128::from(c.missing);
    ensure(total == counted, || {
        format!("{counted} slots counted, {total} in the region")
    })?;
    let empty = d.records.is_empty() && d.samples.is_empty();
    ensure((d.verdict.state == State::Empty) == empty, || {
        "empty verdict".into()
    })?;
    ensure(d.verdict.cpu.is_none_or(|c| c < h.nr_cpus), || {
        "verdict CPU out of range".into()
    })?;
    ensure(
        !d.verdict.summary.is_empty() && d.verdict.line.starts_with("verdict: "),
        || "no summary line".into(),
    )?;
    ensure(d.cpus.windows(2).all(|w| w[0].cpu < w[1].cpu), || {
        "per-CPU views out of order".into()
    })?;
    if let Some(l) = &d.verdict.last {
        let known = d
            .records
            .iter()
            .chain(&d.samples)
            .any(|r| r.seq() == l.seq() && r.raw == l.raw);
        ensure(known, || {
            "verdict names a record that was not decoded".into()
        })?;
    }

    let mut text = Vec::new();
    render::text(d, "fuzz", &mut text).map_err(|e| e.to_string())?;
    ensure(
        String::from_utf8_lossy(&text)
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("verdict: ")),
        || "text report does not end with the verdict".into(),
    )?;
    let mut json = Vec::new();
    render::json(d, &mut json).map_err(|e| e.to_string())?;
    let v: serde_json::Value =
        serde_json::from_slice(&json).map_err(|e| format!("bad JSON: {e}"))?;
    ensure(
        v["records"].as_array().map(Vec::len) == Some(d.records.len()),
        || "JSON record count".into(),
    )?;
    let mut trace = Vec::new();
    crate::trace_event::write(d, &mut trace).map_err(|e| e.to_string())?;
    let t: serde_json::Value =
        serde_json::from_slice(&trace).map_err(|e| format!("bad trace-event JSON: {e}"))?;
    ensure(t["traceEvents"].is_array(), || "no traceEvents".into())?;
    let mut svg = Vec::new();
    crate::svg::write(d, &mut svg).map_err(|e| e.to_string())?;
    ensure(svg.ends_with(b"</svg>\n"), || "SVG not closed".into())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_2000_iterations() {
        let mut f = Fuzzer::new(0x4a4e_4754, Vec::new());
        match f.run(2000, None) {
            Ok(n) => {
                assert_eq!(n, 2000);
                // v2's 20 KiB header area takes most of the mutations of
                // the small synthetic trails: fewer pass the header checks.
                assert!(f.decoded > 800, "only {} inputs decoded", f.decoded);
            }
            Err(e) => panic!(
                "iteration {}: {} (input {} bytes)",
                e.iteration,
                e.message,
                e.input.len()
            ),
        }
    }

    #[test]
    fn invariants_catch_a_lie() {
        let s = scenarios::handoff();
        assert_eq!(check(&s.trail, None), Ok(Some(21)));
        assert_eq!(
            check(&[0xa5; 5000], None),
            Ok(None),
            "garbage is just not a trail"
        );
        let mut d = decode(&s.trail, &Options::default()).expect("decodes");
        d.records[3].raw.pc ^= 1;
        let e = invariants(&s.trail, &d).unwrap_err();
        assert!(e.contains("checksum mismatch"), "{e}");
    }
}
