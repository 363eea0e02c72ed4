//! [`Decoded`] as text for people and as JSON for tools. The JSON schema is
//! documented in Documentation/decoder.rst: keep the two in step.

use std::fmt::{self, Write as _};
use std::io::{self, Write};

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

use crate::decode::{flag_names, Decoded, Rec};
use crate::format::{Kind, HDR_CRASH_KERNEL_REACHED};
use crate::verdict::State;

/// Bad slots listed one by one in the text output; the rest are counted.
const MAX_BAD_SLOTS_SHOWN: usize = 20;

/// `ts_ns - start_ns`, signed.
fn rel_ns(d: &Decoded, ts_ns: u64) -> i128 {
    i128::from(ts_ns) - i128::from(d.header.start_ns)
}

/// Nanoseconds as `+S.ffffff` seconds, right-aligned to the width asked
/// for (written in place: the timeline has a line per record).
struct Secs(i128);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let a = self.0.unsigned_abs();
        let (int, frac) = (a / 1_000_000_000, a % 1_000_000_000 / 1000);
        let len = int.checked_ilog10().unwrap_or(0) as usize + 9;
        for _ in len..f.width().unwrap_or(0) {
            f.write_char(' ')?;
        }
        write!(f, "{sign}{int}.{frac:06}")
    }
}

/// Nanoseconds as `S.mmm` seconds (durations).
fn duration(ns: u64) -> String {
    format!(
        "{}.{:03}",
        ns / 1_000_000_000,
        ns % 1_000_000_000 / 1_000_000
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---------------------------------------------------------------- text --

/// Runs of more alike probe records than this are collapsed in the timeline.
const COLLAPSE_RUN: usize = 4;

/// Same probe point, same place, same phase.
fn alike(a: &Rec, b: &Rec) -> bool {
    a.kind == Kind::Probe
        && b.kind == Kind::Probe
        && a.raw.point == b.raw.point
        && a.raw.pc == b.raw.pc
        && a.flags() == b.flags()
}

fn timeline_line(out: &mut impl Write, d: &Decoded, r: &Rec) -> io::Result<()> {
    writeln!(
        out,
        "{:>9}  {:>12}  {:<14}  {}{}{}{}",
        r.seq(),
        Secs(rel_ns(d, r.raw.ts_ns)),
        r.kind.name(),
        Where(r),
        Marks(r.flags()),
        Detail(r),
        DebugSuffix(r)
    )
}

/// ` [load] [crash]`...
struct Marks(u8);

impl fmt::Display for Marks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        flag_names(self.0).try_for_each(|n| write!(f, " [{n}]"))
    }
}

/// What the record's `arg` (and payload) mean, with two leading spaces.
struct Detail<'a>(&'a Rec);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        match r.kind {
            Kind::Probe => write!(f, "  arg0={:#x}", r.arg()),
            Kind::Return => write!(f, "  ret={:#x}", r.arg()),
            Kind::SoftLockup => {
                let p = &r.raw.payload;
                write!(
                    f,
                    "  stuck {} s, comm \"{}\" pid {}",
                    duration(r.arg()),
                    crate::decode::printable(crate::format::cstr(&p[..16])),
                    u32::from_le_bytes([p[16], p[17], p[18], p[19]])
                )
            }
            Kind::Frame => write!(f, "  #{}", r.arg()),
            Kind::StopResult => write!(f, "  others still online: {}", r.arg()),
            Kind::StillOnline => write!(f, "  CPU {} still online", r.arg()),
            Kind::Start => write!(f, "  points={}", r.arg()),
            Kind::Sample => write!(f, "  pid {}", r.arg()),
            Kind::CrashLoaded => write!(f, "  crash image loaded: {}", r.arg() != 0),
            Kind::KexecImage => write!(f, "  image type {}", r.arg()),
            Kind::StopContext | Kind::LockupContext => write!(f, "  sp={:#x}", r.arg()),
            Kind::StopMap => write!(f, "  CPUs {}.. mask {:#x}", r.arg(), r.pc()),
            Kind::HardLockup => write!(f, "  CPU {} hard-locked", r.arg()),
            Kind::Name | Kind::PanicNotifier => Ok(()),
        }
    }
}

/// `symbol+0xoff [module]`, the pc, or `-` for no pc.
struct Where<'a>(&'a Rec);

impl fmt::Display for Where<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.sym {
            Some(s) => s.fmt(f),
            None if self.0.pc() == 0 => f.write_str("-"),
            None => write!(f, "{:#x}", self.0.pc()),
        }
    }
}

/// `  at file:line  | insn` from `--vmlinux`.
struct DebugSuffix<'a>(&'a Rec);

impl fmt::Display for DebugSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(d) = &self.0.debug else {
            return Ok(());
        };
        if let Some(l) = &d.location {
            write!(f, "  at {l}")?;
        }
        if let Some(i) = &d.insn {
            write!(f, "  | {i}")?;
        }
        Ok(())
    }
}

/// `sym+0xoff (seq N)` for a record mentioned in prose.
fn brief(r: &Rec) -> String {
    format!("{} (seq {}, {})", r.location(), r.seq(), r.kind.name())
}

fn verdict_line(d: &Decoded) -> String {
    let v = &d.verdict;
    let cpu = v.cpu.map_or_else(|| "?".to_string(), |c| c.to_string());
    let last = v.last.as_ref().map(Rec::location);
    match v.state {
        State::Empty => "verdict: empty trail".into(),
        State::Handoff => match last {
            Some(l) => format!("verdict: handoff: crash kernel reached after {l} on CPU {cpu}"),
            None => "verdict: handoff: crash kernel reached".into(),
        },
        State::Hung => {
            let next = v
                .next_expected
                .as_ref()
                .map_or_else(String::new, |n| format!(" (next expected: {n})"));
            let last = last.unwrap_or_else(|| "?".into());
            format!("verdict: hung on CPU {cpu} after {last}{next}; crash kernel not reached")
        }
        State::NoCrash => match last {
            Some(l) => format!("verdict: no crash recorded (last: {l} on CPU {cpu})"),
            None => "verdict: no crash recorded (no breadcrumbs)".into(),
        },
    }
}

/// The human-readable report. `source` names the input.
pub fn text(d: &Decoded, source: &str, out: &mut impl Write) -> io::Result<()> {
    let h = &d.header;
    writeln!(out, "hangtrail: {source} ({} bytes)", d.input_len)?;
    writeln!(out, "header:")?;
    writeln!(out, "  format:      v{}", h.version)?;
    let arch = d
        .arch()
        .map_or_else(|| format!("unknown ({})", h.arch), |a| a.name().to_string());
    writeln!(out, "  arch:        {arch}")?;
    writeln!(out, "  kernel:      {}", d.release())?;
    writeln!(out, "  boot id:     {}", hex(&h.boot_id))?;
    writeln!(
        out,
        "  CPUs:        {} (online at start: {})",
        h.nr_cpus, h.online_cpus
    )?;
    writeln!(
        out,
        "  region:      phys {:#018x}, {} bytes",
        h.phys_addr, h.region_size
    )?;
    writeln!(
        out,
        "  ring:        {} records per CPU, {} sample slots per CPU",
        h.ring_records, h.samples_per_cpu
    )?;
    writeln!(out, "  started at:  {} ns (local_clock)", h.start_ns)?;
    let flags = if h.flags & HDR_CRASH_KERNEL_REACHED != 0 {
        "crash kernel reached".to_string()
    } else if h.flags == 0 {
        "none (crash kernel not reached)".to_string()
    } else {
        format!("{:#x}", h.flags)
    };
    writeln!(out, "  flags:       {flags}")?;
    let slide = match (d.slide, d.symbol_source) {
        (Some(s), Some(src)) => format!(" (KASLR slide {s:#x} against {})", src.name()),
        _ => String::new(),
    };
    writeln!(
        out,
        "  reference:   {} at {:#x}{slide}",
        d.ref_name(),
        h.ref_addr
    )?;
    let c = &d.counts;
    let chunks = d.records.iter().filter(|r| r.kind == Kind::Name).count();
    writeln!(
        out,
        "  slots:       {} valid ({} name chunks), {} empty, {} torn, {} invalid, {} missing",
        c.valid, chunks, c.empty, c.torn, c.invalid, c.missing
    )?;
    for w in &d.warnings {
        writeln!(out, "warning: {w}")?;
    }

    writeln!(out)?;
    writeln!(out, "points ({}):", d.points.len())?;
    if !d.points.is_empty() {
        writeln!(
            out,
            "  {:>3}  {:<36}  {:<16}  {:<15}  address",
            "#", "name", "role", "status"
        )?;
    }
    for p in &d.points {
        let status = if p.status_name() == "refused" {
            format!("refused ({})", p.errno)
        } else {
            p.status_name().to_string()
        };
        let addr = if p.addr == 0 {
            "-".to_string()
        } else {
            format!("{:#x}", p.addr)
        };
        let ret = if p.kretprobe { " +kretprobe" } else { "" };
        writeln!(
            out,
            "  {:>3}  {:<36}  {:<16}  {:<15}  {addr}{ret}",
            p.index,
            p.name,
            p.role_name(),
            status
        )?;
    }

    writeln!(out)?;
    writeln!(out, "timeline (seconds since trail start):")?;
    let mut cpus: Vec<u32> = d.records.iter().map(Rec::cpu).collect();
    cpus.sort_unstable();
    cpus.dedup();
    if cpus.is_empty() {
        writeln!(out, "  (no breadcrumbs)")?;
    }
    for cpu in cpus {
        writeln!(out, "CPU {cpu}:")?;
        writeln!(out, "{:>9}  {:>12}  {:<14}  where", "seq", "time", "kind")?;
        let recs: Vec<&Rec> = d
            .records
            .iter()
            .filter(|r| r.cpu() == cpu && r.kind != Kind::Name)
            .collect();
        // A run of probe hits at one place (text patching, module loads
        // through the cache routines) shows as first, count, last.
        let mut i = 0;
        while i < recs.len() {
            let run = recs[i..]
                .iter()
                .take_while(|r| alike(r, recs[i]))
                .count()
                .max(1);
            if run > COLLAPSE_RUN {
                timeline_line(out, d, recs[i])?;
                let (a, b) = (recs[i + 1].seq(), recs[i + run - 2].seq());
                writeln!(
                    out,
                    "{:>9}  {:>12}  {} more alike, seq {a}..{b}",
                    "...",
                    "",
                    run - 2
                )?;
                timeline_line(out, d, recs[i + run - 1])?;
            } else {
                for r in &recs[i..i + run] {
                    timeline_line(out, d, r)?;
                }
            }
            i += run;
        }
    }

    if let Some(sl) = &d.softlockup {
        writeln!(out)?;
        writeln!(out, "soft lockup:")?;
        writeln!(
            out,
            "  CPU {} stuck for {} s in {}, task \"{}\" (pid {}), reported at seq {}",
            sl.rec.cpu(),
            duration(sl.duration_ns),
            sl.rec.location(),
            sl.comm,
            sl.pid,
            sl.rec.seq()
        )?;
        if !sl.frames.is_empty() {
            writeln!(out, "  call trace:")?;
        }
        for f in &sl.frames {
            writeln!(
                out,
                "    #{:<2} {}{}",
                f.arg(),
                f.location(),
                DebugSuffix(f)
            )?;
        }
    }

    writeln!(out)?;
    writeln!(out, "samples (newest last):")?;
    let mut scpus: Vec<u32> = d.samples.iter().map(Rec::cpu).collect();
    scpus.sort_unstable();
    scpus.dedup();
    if scpus.is_empty() {
        writeln!(out, "  (no samples)")?;
    }
    for cpu in scpus {
        let stuck = d.stuck.iter().find(|s| s.cpu == cpu);
        match stuck {
            Some(s) => writeln!(
                out,
                "CPU {cpu}: stuck: last {} samples in {} (pid {})",
                s.count,
                s.sym.as_ref().map_or_else(
                    || format!("{:#x}", s.pc),
                    |y| match &y.module {
                        Some(m) => format!("{} [{m}]", y.name),
                        None => y.name.to_string(),
                    }
                ),
                s.pid
            )?,
            None => writeln!(out, "CPU {cpu}:")?,
        }
        for r in d.samples.iter().filter(|r| r.cpu() == cpu) {
            writeln!(
                out,
                "{:>9}  {:>12}  pid {:<7}  {}{}{}",
                r.seq(),
                Secs(rel_ns(d, r.raw.ts_ns)),
                r.arg(),
                Where(r),
                Marks(r.flags()),
                DebugSuffix(r)
            )?;
        }
    }

    if !d.stale_cpus.is_empty() {
        writeln!(out)?;
        writeln!(out, "CPUs that failed to stop:")?;
        for s in &d.stale_cpus {
            let last = s.last.as_ref().map_or_else(|| "none".into(), brief);
            let sample = s.last_sample.as_ref().map_or_else(
                || "none".into(),
                |r| format!("{} (pid {})", r.location(), r.arg()),
            );
            writeln!(
                out,
                "  CPU {}: last breadcrumb {last}; last sample {sample}",
                s.cpu
            )?;
        }
    }

    if !d.invalid.is_empty() {
        writeln!(out)?;
        writeln!(out, "bad slots ({}):", d.invalid.len())?;
        for b in d.invalid.iter().take(MAX_BAD_SLOTS_SHOWN) {
            writeln!(
                out,
                "  CPU {} {} slot {}: {}",
                b.cpu,
                b.area.name(),
                b.slot,
                b.reason
            )?;
        }
        if d.invalid.len() > MAX_BAD_SLOTS_SHOWN {
            writeln!(
                out,
                "  ... and {} more",
                d.invalid.len() - MAX_BAD_SLOTS_SHOWN
            )?;
        }
    }

    writeln!(out)?;
    writeln!(out, "{}", verdict_line(d))
}

// ---------------------------------------------------------------- json --

/// An address as a `"0x..."` string.
struct Hex(u64);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:#x}", self.0))
    }
}

/// `REC_*` flags as a list of names.
struct Flags(u8);

impl Serialize for Flags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for f in flag_names(self.0) {
            seq.serialize_element(f)?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct JHeader {
    format_version: u32,
    arch: Option<&'static str>,
    arch_id: u32,
    release: String,
    boot_id: String,
    nr_cpus: u32,
    online_cpus: u32,
    phys_addr: u64,
    phys_addr_hex: Hex,
    region_size: u64,
    ring_records: u32,
    samples_per_cpu: u32,
    start_ns: u64,
    flags: u32,
    crash_kernel_reached: bool,
    ref_name: String,
    ref_addr: u64,
    ref_addr_hex: Hex,
    nr_points: u32,
    input_len: usize,
    symbols: Option<&'static str>,
    slide: Option<u64>,
}

#[derive(Serialize)]
struct JPoint<'a> {
    index: u16,
    name: &'a str,
    role: String,
    status: &'static str,
    errno: i32,
    addr: u64,
    addr_hex: Hex,
    offset: u32,
    kretprobe: bool,
}

#[derive(Serialize)]
struct JRec<'a> {
    seq: u64,
    cpu: u32,
    ts_ns: u64,
    rel_ns: i64,
    kind: &'static str,
    pc: u64,
    pc_hex: Hex,
    arg: u64,
    symbol: Option<&'a str>,
    offset: Option<u64>,
    module: Option<&'a str>,
    flags: Flags,
    point: Option<&'a str>,
    location: Option<&'a str>,
    insn: Option<&'a str>,
}

impl<'a> JRec<'a> {
    fn new(d: &'a Decoded, r: &'a Rec) -> Self {
        let dbg = r.debug.as_deref();
        Self {
            seq: r.seq(),
            cpu: r.cpu(),
            ts_ns: r.raw.ts_ns,
            rel_ns: rel_ns(d, r.raw.ts_ns).clamp(i64::MIN.into(), i64::MAX.into()) as i64,
            kind: r.kind.name(),
            pc: r.pc(),
            pc_hex: Hex(r.pc()),
            arg: r.arg(),
            symbol: r.sym.as_ref().map(|s| &*s.name),
            offset: r.sym.as_ref().map(|s| s.offset),
            module: r.sym.as_ref().and_then(|s| s.module.as_deref()),
            flags: Flags(r.flags()),
            point: d.point(r).map(|p| p.name.as_str()),
            location: dbg.and_then(|x| x.location.as_deref()),
            insn: dbg.and_then(|x| x.insn.as_deref()),
        }
    }
}

/// A list of records, serialized without building a second list.
struct JRecs<'a>(&'a Decoded, &'a [Rec]);

impl Serialize for JRecs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.1.iter().map(|r| JRec::new(self.0, r)))
    }
}

#[derive(Serialize)]
struct JVerdict<'a> {
    state: &'static str,
    reason: Option<&'static str>,
    cpu: Option<u32>,
    last: Option<JRec<'a>>,
    next_expected: Option<&'a str>,
    line: String,
}

#[derive(Serialize)]
struct JSoftLockup<'a> {
    seq: u64,
    cpu: u32,
    pc: u64,
    pc_hex: Hex,
    symbol: Option<&'a str>,
    offset: Option<u64>,
    module: Option<&'a str>,
    duration_ns: u64,
    comm: &'a str,
    pid: u32,
    frames: JRecs<'a>,
}

#[derive(Serialize)]
struct JStale<'a> {
    cpu: u64,
    last: Option<JRec<'a>>,
    last_sample: Option<JRec<'a>>,
}

#[derive(Serialize)]
struct JStuck<'a> {
    cpu: u32,
    symbol: Option<&'a str>,
    offset: Option<u64>,
    module: Option<&'a str>,
    pc: u64,
    pc_hex: Hex,
    pid: u64,
    count: usize,
}

#[derive(Serialize)]
struct JBad {
    cpu: u32,
    area: &'static str,
    slot: u32,
    reason: &'static str,
}

#[derive(Serialize)]
struct JCounts {
    valid: u64,
    empty: u64,
    torn: u64,
    invalid: u64,
    missing: u64,
}

#[derive(Serialize)]
struct JDoc<'a> {
    header: JHeader,
    points: Vec<JPoint<'a>>,
    verdict: JVerdict<'a>,
    records: JRecs<'a>,
    softlockup: Option<JSoftLockup<'a>>,
    stale_cpus: Vec<JStale<'a>>,
    stuck_samples: Vec<JStuck<'a>>,
    samples: JRecs<'a>,
    invalid: Vec<JBad>,
    missing_slots: u64,
    slots: JCounts,
    warnings: &'a [String],
}

fn doc(d: &Decoded) -> JDoc<'_> {
    let h = &d.header;
    let v = &d.verdict;
    JDoc {
        header: JHeader {
            format_version: h.version,
            arch: d.arch().map(|a| a.name()),
            arch_id: h.arch,
            release: d.release(),
            boot_id: hex(&h.boot_id),
            nr_cpus: h.nr_cpus,
            online_cpus: h.online_cpus,
            phys_addr: h.phys_addr,
            phys_addr_hex: Hex(h.phys_addr),
            region_size: h.region_size,
            ring_records: h.ring_records,
            samples_per_cpu: h.samples_per_cpu,
            start_ns: h.start_ns,
            flags: h.flags,
            crash_kernel_reached: h.flags & HDR_CRASH_KERNEL_REACHED != 0,
            ref_name: d.ref_name(),
            ref_addr: h.ref_addr,
            ref_addr_hex: Hex(h.ref_addr),
            nr_points: h.nr_points,
            input_len: d.input_len,
            symbols: d.symbol_source.map(|s| s.name()),
            slide: d.slide,
        },
        points: d
            .points
            .iter()
            .map(|p| JPoint {
                index: p.index,
                name: &p.name,
                role: p.role_name(),
                status: p.status_name(),
                errno: p.errno,
                addr: p.addr,
                addr_hex: Hex(p.addr),
                offset: p.offset,
                kretprobe: p.kretprobe,
            })
            .collect(),
        verdict: JVerdict {
            state: v.state.name(),
            reason: v.reason.map(|r| r.name()),
            cpu: v.cpu,
            last: v.last.as_ref().map(|r| JRec::new(d, r)),
            next_expected: v.next_expected.as_deref(),
            line: verdict_line(d),
        },
        records: JRecs(d, &d.records),
        softlockup: d.softlockup.as_ref().map(|s| JSoftLockup {
            seq: s.rec.seq(),
            cpu: s.rec.cpu(),
            pc: s.rec.pc(),
            pc_hex: Hex(s.rec.pc()),
            symbol: s.rec.sym.as_ref().map(|y| &*y.name),
            offset: s.rec.sym.as_ref().map(|y| y.offset),
            module: s.rec.sym.as_ref().and_then(|y| y.module.as_deref()),
            duration_ns: s.duration_ns,
            comm: &s.comm,
            pid: s.pid,
            frames: JRecs(d, &s.frames),
        }),
        stale_cpus: d
            .stale_cpus
            .iter()
            .map(|s| JStale {
                cpu: s.cpu,
                last: s.last.as_ref().map(|r| JRec::new(d, r)),
                last_sample: s.last_sample.as_ref().map(|r| JRec::new(d, r)),
            })
            .collect(),
        stuck_samples: d
            .stuck
            .iter()
            .map(|s| JStuck {
                cpu: s.cpu,
                symbol: s.sym.as_ref().map(|y| &*y.name),
                offset: s.sym.as_ref().map(|y| y.offset),
                module: s.sym.as_ref().and_then(|y| y.module.as_deref()),
                pc: s.pc,
                pc_hex: Hex(s.pc),
                pid: s.pid,
                count: s.count,
            })
            .collect(),
        samples: JRecs(d, &d.samples),
        invalid: d
            .invalid
            .iter()
            .map(|b| JBad {
                cpu: b.cpu,
                area: b.area.name(),
                slot: b.slot,
                reason: b.reason,
            })
            .collect(),
        missing_slots: d.counts.missing,
        slots: JCounts {
            valid: d.counts.valid,
            empty: d.counts.empty,
            torn: d.counts.torn,
            invalid: d.counts.invalid,
            missing: d.counts.missing,
        },
        warnings: &d.warnings,
    }
}

/// Objects nested deeper than this, and arrays nested deeper than one more,
/// are written on one line: the document's sections are indented, lists
/// have one element (record, point, frame, ...) per line.
const PRETTY_DEPTH: usize = 2;

/// A `serde_json` formatter that indents like `PrettyFormatter` near the top
/// of the document and writes deeper containers compactly.
#[derive(Default)]
struct ShallowPretty {
    /// Per open container: is it indented?
    open: Vec<bool>,
    has_value: bool,
}

impl ShallowPretty {
    fn pretty(&self) -> bool {
        self.open.last().copied().unwrap_or(false)
    }

    fn open<W: ?Sized + Write>(&mut self, w: &mut W, b: &[u8], limit: usize) -> io::Result<()> {
        let depth = self.open.len() + 1;
        self.open
            .push(depth <= limit && self.open.iter().all(|&p| p));
        self.has_value = false;
        w.write_all(b)
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, b: &[u8]) -> io::Result<()> {
        let pretty = self.open.pop().unwrap_or(false);
        if pretty && self.has_value {
            w.write_all(b"\n")?;
            self.indent(w, self.open.len())?;
        }
        w.write_all(b)
    }

    fn indent<W: ?Sized + Write>(&self, w: &mut W, n: usize) -> io::Result<()> {
        for _ in 0..n {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn item<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if self.pretty() {
            w.write_all(if first { b"\n" } else { b",\n" })?;
            self.indent(w, self.open.len())
        } else if first {
            Ok(())
        } else {
            w.write_all(b",")
        }
    }
}

impl serde_json::ser::Formatter for ShallowPretty {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[", PRETTY_DEPTH + 1)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{", PRETTY_DEPTH)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(if self.pretty() { b": " } else { b":" })
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// The JSON document, newline-terminated: top-level sections and lists
/// indented, each record (point, bad slot, ...) on one line.
pub fn json(d: &Decoded, out: &mut impl Write) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, ShallowPretty::default());
    doc(d).serialize(&mut ser).map_err(io::Error::other)?;
    writeln!(out)
}
