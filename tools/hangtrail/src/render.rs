//! [`Decoded`] as text for people and as JSON for tools. The JSON schema is
//! documented in Documentation/decoder.rst: keep the two in step.

use std::fmt::{self, Write as _};
use std::io::{self, Write};

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

use crate::decode::{flag_names, Decoded, Rec};
use crate::format::{
    Kind, HDR_CRASH_KERNEL_REACHED, HDR_CRASH_MARKS, HDR_ENDED, HDR_NMI_REACHES_IRQS_OFF,
    HDR_POST_NOTIFIERS, HDR_RELEASED,
};
use crate::verdict::CpuView;

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

fn timeline_line(out: &mut impl Write, line: &mut Vec<u8>, d: &Decoded, r: &Rec) -> io::Result<()> {
    line.clear();
    timeline_line_into(line, d, r)?;
    out.write_all(line)
}

/// Decimal digits of `v` into the end of `buf`, two at a time; returns
/// where they start.
fn dec_digits(mut v: u64, buf: &mut [u8; 20]) -> usize {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut i = buf.len();
    while v >= 100 {
        let p = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[p..p + 2]);
    }
    if v >= 10 {
        let p = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[p..p + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    i
}

/// `{v:#x}`, a byte (two digits) at a time.
fn push_hex(line: &mut Vec<u8>, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 18];
    let mut i = buf.len();
    let mut x = v;
    while x >= 0x10 {
        let b = (x & 0xff) as usize;
        i -= 2;
        buf[i] = HEX[b >> 4];
        buf[i + 1] = HEX[b & 0xf];
        x >>= 8;
    }
    // One digit left (the pairs stop below 0x10, so a pair written last
    // has no leading zero), or none; `0` is one digit.
    if x != 0 || i == buf.len() {
        i -= 1;
        buf[i] = HEX[x as usize];
    }
    buf[i - 2..i].copy_from_slice(b"0x");
    line.extend_from_slice(&buf[i - 2..]);
}

/// `{v:>width}` for a decimal `v`.
fn push_dec(line: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = [0u8; 20];
    let i = dec_digits(v, &mut buf);
    for _ in buf.len() - i..width {
        line.push(b' ');
    }
    line.extend_from_slice(&buf[i..]);
}

/// `{seq:>9}  {Secs(ns):>12}  {kind:<14}  ` into `p` (all spaces, at least
/// 20 + 2 + 29 + 2 + 14 + 2 bytes); returns its length.
fn line_prefix(p: &mut [u8; 80], seq: u64, ns: i128, kind: &str) -> usize {
    let mut buf = [0u8; 20];
    let i = dec_digits(seq, &mut buf);
    let nd = buf.len() - i;
    let mut n = nd.max(9);
    p[n - nd..n].copy_from_slice(&buf[i..]);
    n += 2;
    // The difference of two u64 timestamps: its magnitude fits a u64.
    let a = u64::try_from(ns.unsigned_abs()).unwrap_or(u64::MAX);
    let (int, frac) = (a / 1_000_000_000, a % 1_000_000_000 / 1000);
    let i = dec_digits(int, &mut buf);
    let ni = buf.len() - i;
    n += 12usize.saturating_sub(ni + 8);
    p[n] = if ns < 0 { b'-' } else { b'+' };
    p[n + 1..n + 1 + ni].copy_from_slice(&buf[i..]);
    n += 1 + ni;
    p[n] = b'.';
    // Six digits, zero-padded: 1_000_000 + frac has seven, drop the 1.
    let j = dec_digits(frac + 1_000_000, &mut buf);
    p[n + 1..n + 7].copy_from_slice(&buf[j + 1..]);
    n += 9;
    let kind = &kind.as_bytes()[..kind.len().min(16)];
    p[n..n + kind.len()].copy_from_slice(kind);
    n + kind.len().max(14) + 2
}

/// The timeline line of `r` (what `"{:>9}  {:>12}  {:<14}  {}{}{}{}"` of
/// seq, time, kind, [`Where`], [`Marks`], [`Detail`], [`DebugSuffix`]
/// gives), built without the formatting machinery for the common parts:
/// one line per record, a million of them in a large trail.
fn timeline_line_into(line: &mut Vec<u8>, d: &Decoded, r: &Rec) -> io::Result<()> {
    let name_len = r.sym.as_ref().map_or(0, |s| {
        s.name.len() + s.module.as_ref().map_or(0, |m| m.len())
    });
    line.reserve(192 + name_len);
    let mut p = [b' '; 80];
    let n = line_prefix(&mut p, r.seq(), rel_ns(d, r.raw.ts_ns), r.kind.name());
    line.extend_from_slice(&p[..n]);
    match &r.sym {
        Some(s) => {
            if r.unverified {
                line.push(b'?');
            }
            line.extend_from_slice(s.name.as_bytes());
            line.push(b'+');
            push_hex(line, s.offset);
            if let Some(m) = &s.module {
                line.extend_from_slice(b" [");
                line.extend_from_slice(m.as_bytes());
                line.push(b']');
            }
        }
        None if r.pc() == 0 => line.push(b'-'),
        None => push_hex(line, r.pc()),
    }
    if r.flags() != 0 {
        for n in flag_names(r.flags()) {
            line.extend_from_slice(b" [");
            line.extend_from_slice(n.as_bytes());
            line.push(b']');
        }
    }
    match r.kind {
        Kind::Probe => {
            line.extend_from_slice(b"  arg0=");
            push_hex(line, r.arg());
        }
        Kind::Return => {
            line.extend_from_slice(b"  ret=");
            push_hex(line, r.arg());
        }
        Kind::Frame => {
            line.extend_from_slice(b"  #");
            push_dec(line, r.arg(), 0);
        }
        _ => write!(line, "{}", Detail(r))?,
    }
    if r.debug.is_some() {
        write!(line, "{}", DebugSuffix(r))?;
    }
    line.push(b'\n');
    Ok(())
}

/// ` [load] [crash]`...
struct Marks(u8);

impl fmt::Display for Marks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        flag_names(self.0).try_for_each(|n| write!(f, " [{n}]"))
    }
}

/// What the record's `arg` (and payload) mean, with two leading spaces.
pub(crate) struct Detail<'a>(pub(crate) &'a Rec);

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
            Some(s) if self.0.unverified => write!(f, "?{s}"),
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
        // addr2line -i: the inlined function and each caller it sits in.
        for (n, (func, loc)) in d.inlined.iter().enumerate() {
            let sep = if n == 0 { "  [inlined: " } else { " <- " };
            write!(
                f,
                "{sep}{} at {}",
                func.as_deref().unwrap_or("??"),
                loc.as_deref().unwrap_or("??")
            )?;
        }
        if !d.inlined.is_empty() {
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// `sym+0xoff (seq N)` for a record mentioned in prose.
fn brief(r: &Rec) -> String {
    format!("{} (seq {}, {})", r.location(), r.seq(), r.kind.name())
}

/// Records grouped by CPU (in CPU order), each group in the given order:
/// one counting pass (CPUs are few), not a sort or a pass per CPU.
fn by_cpu<'a>(recs: impl Iterator<Item = &'a Rec>) -> Vec<Vec<&'a Rec>> {
    let recs: Vec<&Rec> = recs.collect();
    let mut count: Vec<usize> = Vec::new();
    for r in &recs {
        let c = r.cpu() as usize;
        if c >= count.len() {
            count.resize(c + 1, 0);
        }
        count[c] += 1;
    }
    let mut groups: Vec<Vec<&Rec>> = count.iter().map(|&n| Vec::with_capacity(n)).collect();
    for r in recs {
        groups[r.cpu() as usize].push(r);
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// `where (seq N, A s before the end)`.
fn aged(d: &Decoded, r: &Rec) -> String {
    let end = d.verdict.core.facts.end_ns;
    format!(
        "{} (seq {}, {} s before the end)",
        r.location(),
        r.seq(),
        duration(end.saturating_sub(r.raw.ts_ns))
    )
}

/// One line per CPU: what the core reconstructed.
fn cpu_line(d: &Decoded, c: &CpuView) -> String {
    let s = &c.state;
    let v = &d.verdict.core;
    let mut parts = Vec::new();
    if v.crash_cpu == Some(c.cpu) {
        parts.push(format!(
            "crash CPU, furthest step {}{}",
            s.furthest.name(),
            c.entry
                .as_ref()
                .map_or_else(String::new, |e| format!(", entered at {}", brief(e)))
        ));
    } else if s.entered() {
        parts.push(format!(
            "entered the crash path (later panic){}",
            c.entry
                .as_ref()
                .map_or_else(String::new, |e| format!(" at {}", brief(e)))
        ));
    }
    if let Some(r) = &c.last {
        parts.push(format!("last {}", aged(d, r)));
    }
    if let Some(r) = &c.stop {
        let ctx = if r.kind == Kind::StopContext {
            format!(" sp={:#x} lr={:#x}", r.arg(), lr(r))
        } else {
            String::new()
        };
        parts.push(format!("stopped at {}{ctx}", aged(d, r)));
    }
    if let Some(r) = &c.context {
        parts.push(format!(
            "own context {} sp={:#x} lr={:#x}",
            aged(d, r),
            r.arg(),
            lr(r)
        ));
    }
    if let Some(r) = &c.lockup {
        parts.push(format!("hard-lockup context {}", aged(d, r)));
    }
    if let Some(r) = &c.last_sample {
        parts.push(format!("sample {}{}", aged(d, r), Marks(r.flags())));
    }
    if s.silent() {
        parts.push(format!("silent for {} s", duration(s.silent_ns)));
    }
    if s.stuck > 0 {
        parts.push(format!("stuck: last {} samples", s.stuck));
    }
    if s.stale {
        parts.push("failed to stop".into());
    }
    if s.stop_unknown {
        parts.push("stop unknown (stop handler runs went unrecorded)".into());
    }
    if s.hard_lockup.seq != 0 {
        parts.push("hard lockup detected".into());
    }
    if unreachable(d, c) {
        parts.push(
            "its pc is out of reach: no NMI gets to a CPU with interrupts masked here".into(),
        );
    }
    format!("  CPU {}: {}", c.cpu, parts.join("; "))
}

/// A v2 trail says no NMI reaches a CPU with interrupts masked (arm64
/// without pseudo-NMI), and this CPU needed one: it failed to stop or hard
/// locked up, and no context of it was recorded.
fn unreachable(d: &Decoded, c: &CpuView) -> bool {
    let s = &c.state;
    d.header.version >= 2
        && d.header.flags & HDR_NMI_REACHES_IRQS_OFF == 0
        && (s.stale || s.stop_unknown || s.hard_lockup.seq != 0)
        && c.stop.is_none()
        && c.lockup.is_none()
}

/// The `lr` in a context record's payload.
pub(crate) fn lr(r: &Rec) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&r.raw.payload[..8]);
    u64::from_le_bytes(b)
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
    let flags = header_flag_names(h.flags);
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
    let groups = by_cpu(d.records.iter().filter(|r| r.kind != Kind::Name));
    if groups.is_empty() {
        writeln!(out, "  (no breadcrumbs)")?;
    }
    for recs in groups {
        writeln!(out, "CPU {}:", recs[0].cpu())?;
        writeln!(out, "{:>9}  {:>12}  {:<14}  where", "seq", "time", "kind")?;
        // A run of probe hits at one place (text patching, module loads
        // through the cache routines) shows as first, count, last.
        let mut line = Vec::with_capacity(256);
        let mut i = 0;
        while i < recs.len() {
            // Far apart in memory: ask for one a few lines ahead.
            if let Some(&r) = recs.get(i + 12) {
                crate::prefetch::prefetch(r);
            }
            let run = recs[i..]
                .iter()
                .take_while(|r| alike(r, recs[i]))
                .count()
                .max(1);
            if run > COLLAPSE_RUN {
                timeline_line(out, &mut line, d, recs[i])?;
                let (a, b) = (recs[i + 1].seq(), recs[i + run - 2].seq());
                writeln!(
                    out,
                    "{:>9}  {:>12}  {} more alike, seq {a}..{b}",
                    "...",
                    "",
                    run - 2
                )?;
                timeline_line(out, &mut line, d, recs[i + run - 1])?;
            } else {
                for r in &recs[i..i + run] {
                    timeline_line(out, &mut line, d, r)?;
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
    let groups = by_cpu(d.samples.iter());
    if groups.is_empty() {
        writeln!(out, "  (no samples)")?;
    }
    for recs in groups {
        let cpu = recs[0].cpu();
        let stuck = d
            .stuck
            .binary_search_by_key(&cpu, |s| s.cpu)
            .ok()
            .map(|i| &d.stuck[i]);
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
        for r in recs {
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

    if !d.cpus.is_empty() {
        writeln!(out)?;
        let f = &d.verdict.core.facts;
        writeln!(
            out,
            "CPUs (sample period {} s from {}; silence measured up to {}):",
            duration(f.period_ns),
            f.period_source.name(),
            Secs(rel_ns(d, d.verdict.core.ref_ns))
        )?;
        for c in &d.cpus {
            writeln!(out, "{}", cpu_line(d, c))?;
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
    writeln!(out, "{}", d.verdict.line)
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

/// Version of the JSON document's schema (`"schema"`): bumped when a key
/// changes meaning or goes away.
pub const JSON_SCHEMA: u32 = 2;

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
    released: bool,
    ended: bool,
    nmi_reaches_irqs_off: bool,
    post_notifiers: bool,
    crash_marks: bool,
    sample_period_ns: u64,
    panic_timeout: i32,
    ref_name: String,
    ref_addr: u64,
    ref_addr_hex: Hex,
    nr_points: u32,
    input_len: u64,
    symbols: Option<&'static str>,
    slide: Option<u64>,
    slide_hex: Option<Hex>,
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
    age_ns: u64,
    kind: &'static str,
    pc: u64,
    pc_hex: Hex,
    arg: u64,
    arg_hex: Hex,
    lr: Option<u64>,
    lr_hex: Option<Hex>,
    symbol: Option<&'a str>,
    offset: Option<u64>,
    module: Option<&'a str>,
    unverified: bool,
    flags: Flags,
    point: Option<&'a str>,
    location: Option<&'a str>,
    insn: Option<&'a str>,
    inlined: Vec<JInline<'a>>,
}

#[derive(Serialize)]
struct JInline<'a> {
    function: Option<&'a str>,
    location: Option<&'a str>,
}

impl<'a> JRec<'a> {
    fn new(d: &'a Decoded, r: &'a Rec) -> Self {
        let dbg = r.debug.as_deref();
        let lr = matches!(r.kind, Kind::StopContext | Kind::LockupContext).then(|| lr(r));
        Self {
            seq: r.seq(),
            cpu: r.cpu(),
            ts_ns: r.raw.ts_ns,
            rel_ns: rel_ns(d, r.raw.ts_ns).clamp(i64::MIN.into(), i64::MAX.into()) as i64,
            age_ns: d.verdict.core.facts.end_ns.saturating_sub(r.raw.ts_ns),
            kind: r.kind.name(),
            pc: r.pc(),
            pc_hex: Hex(r.pc()),
            arg: r.arg(),
            arg_hex: Hex(r.arg()),
            lr,
            lr_hex: lr.map(Hex),
            symbol: r.sym.as_ref().map(|s| &*s.name),
            offset: r.sym.as_ref().map(|s| s.offset),
            module: r.sym.as_ref().and_then(|s| s.module.as_deref()),
            unverified: r.unverified,
            flags: Flags(r.flags()),
            point: d.point(r).map(|p| p.name.as_str()),
            location: dbg.and_then(|x| x.location.as_deref()),
            insn: dbg.and_then(|x| x.insn.as_deref()),
            inlined: dbg.map_or_else(Vec::new, |x| {
                x.inlined
                    .iter()
                    .map(|(f, l)| JInline {
                        function: f.as_deref(),
                        location: l.as_deref(),
                    })
                    .collect()
            }),
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
    line: &'a str,
    summary: &'a str,
    crash_cpu: Option<u32>,
    furthest: &'static str,
    later_panic: Option<u32>,
    crash_loaded: Option<bool>,
    reboot: Option<JRec<'a>>,
    end_ns: u64,
    ref_ns: u64,
    sample_period_ns: u64,
    sample_period_source: &'static str,
    stale_cpus: Vec<u32>,
    stop_unknown_cpus: Vec<u32>,
    stop_unknown: u32,
    silent_cpus: Vec<u32>,
    stuck_cpus: Vec<u32>,
    hard_lockup_cpus: Vec<u32>,
}

#[derive(Serialize)]
struct JCpu<'a> {
    cpu: u32,
    crash_cpu: bool,
    entered: bool,
    furthest: &'static str,
    stopped: bool,
    still_online: bool,
    stale: bool,
    stop_unknown: bool,
    silent: bool,
    silent_ns: u64,
    stuck: u32,
    stuck_pc_lo: u64,
    stuck_pc_lo_hex: Hex,
    stuck_pc_hi: u64,
    stuck_pc_hi_hex: Hex,
    hard_lockup: bool,
    pc_unreachable: bool,
    records: u32,
    samples: u32,
    entry: Option<JRec<'a>>,
    last: Option<JRec<'a>>,
    stop: Option<JRec<'a>>,
    context: Option<JRec<'a>>,
    lockup: Option<JRec<'a>>,
    last_sample: Option<JRec<'a>>,
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
    cpu: u32,
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
    count: u64,
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
    schema: u32,
    header: JHeader,
    points: Vec<JPoint<'a>>,
    verdict: JVerdict<'a>,
    cpus: Vec<JCpu<'a>>,
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

fn rec<'a>(d: &'a Decoded, r: &'a Option<Rec>) -> Option<JRec<'a>> {
    r.as_ref().map(|r| JRec::new(d, r))
}

fn cpus_where(d: &Decoded, want: impl Fn(&CpuView) -> bool) -> Vec<u32> {
    d.cpus.iter().filter(|c| want(c)).map(|c| c.cpu).collect()
}

fn doc(d: &Decoded) -> JDoc<'_> {
    let h = &d.header;
    let v = &d.verdict;
    let core = &v.core;
    JDoc {
        schema: JSON_SCHEMA,
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
            released: h.flags & HDR_RELEASED != 0,
            ended: h.flags & HDR_ENDED != 0,
            nmi_reaches_irqs_off: h.flags & HDR_NMI_REACHES_IRQS_OFF != 0,
            post_notifiers: h.flags & HDR_POST_NOTIFIERS != 0,
            crash_marks: h.flags & HDR_CRASH_MARKS != 0,
            sample_period_ns: h.sample_period_ns,
            panic_timeout: h.panic_timeout,
            ref_name: d.ref_name(),
            ref_addr: h.ref_addr,
            ref_addr_hex: Hex(h.ref_addr),
            nr_points: h.nr_points,
            input_len: d.input_len as u64,
            symbols: d.symbol_source.map(|s| s.name()),
            slide: d.slide,
            slide_hex: d.slide.map(Hex),
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
            last: rec(d, &v.last),
            next_expected: v.next_expected.as_deref(),
            line: &v.line,
            summary: &v.summary,
            crash_cpu: core.crash_cpu,
            furthest: core.furthest.name(),
            later_panic: core.later_panic,
            crash_loaded: core.crash_loaded,
            reboot: crate::verdict::find(d, &core.reboot).map(|r| JRec::new(d, r)),
            end_ns: core.facts.end_ns,
            ref_ns: core.ref_ns,
            sample_period_ns: core.facts.period_ns,
            sample_period_source: core.facts.period_source.name(),
            stale_cpus: cpus_where(d, |c| c.state.stale),
            stop_unknown_cpus: cpus_where(d, |c| c.state.stop_unknown),
            stop_unknown: core.facts.stop_unknown,
            silent_cpus: cpus_where(d, |c| c.state.silent()),
            stuck_cpus: cpus_where(d, |c| c.state.stuck > 0),
            hard_lockup_cpus: cpus_where(d, |c| c.state.hard_lockup.seq != 0),
        },
        cpus: d
            .cpus
            .iter()
            .map(|c| {
                let s = &c.state;
                JCpu {
                    cpu: c.cpu,
                    crash_cpu: core.crash_cpu == Some(c.cpu),
                    entered: s.entered(),
                    furthest: s.furthest.name(),
                    stopped: s.stopped(),
                    still_online: s.still_online,
                    stale: s.stale,
                    stop_unknown: s.stop_unknown,
                    silent: s.silent(),
                    silent_ns: s.silent_ns,
                    stuck: s.stuck,
                    stuck_pc_lo: s.stuck_pc_lo,
                    stuck_pc_lo_hex: Hex(s.stuck_pc_lo),
                    stuck_pc_hi: s.stuck_pc_hi,
                    stuck_pc_hi_hex: Hex(s.stuck_pc_hi),
                    hard_lockup: s.hard_lockup.seq != 0,
                    pc_unreachable: unreachable(d, c),
                    records: s.records,
                    samples: s.samples,
                    entry: rec(d, &c.entry),
                    last: rec(d, &c.last),
                    stop: rec(d, &c.stop),
                    context: rec(d, &c.context),
                    lockup: rec(d, &c.lockup),
                    last_sample: rec(d, &c.last_sample),
                }
            })
            .collect(),
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
                last: rec(d, &s.last),
                last_sample: rec(d, &s.last_sample),
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
                count: s.count as u64,
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

/// The header's flags as words: what the crash kernel, the overwrite guard
/// and the module at load said about the trail.
fn header_flag_names(flags: u32) -> String {
    const NAMES: [(u32, &str); 6] = [
        (HDR_CRASH_KERNEL_REACHED, "crash kernel reached"),
        (
            HDR_CRASH_MARKS,
            "crash kernel marks its arrival (crash_marks=1)",
        ),
        (HDR_NMI_REACHES_IRQS_OFF, "NMI reaches interrupts-off CPUs"),
        (HDR_POST_NOTIFIERS, "crash_kexec_post_notifiers"),
        (HDR_ENDED, "ended in order (unload or orderly reboot)"),
        (HDR_RELEASED, "released"),
    ];
    let mut words: Vec<String> = NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let known = NAMES.iter().fold(0, |a, (bit, _)| a | bit);
    if flags & !known != 0 {
        words.push(format!("unknown {:#x}", flags & !known));
    }
    if flags & HDR_CRASH_KERNEL_REACHED == 0 {
        words.push("crash kernel not reached".to_string());
    }
    if flags & (HDR_ENDED | HDR_RELEASED) == 0 {
        words.push("held by the next load (a crash's, not released)".to_string());
    }
    words.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_numbers_format_as_std_does() {
        let mut vals = vec![
            0u64,
            1,
            9,
            10,
            99,
            100,
            101,
            999_999,
            u64::MAX,
            u64::MAX - 1,
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            vals.push(x >> (x % 64));
        }
        for v in vals {
            let mut line = Vec::new();
            push_dec(&mut line, v, 9);
            push_hex(&mut line, v);
            for ns in [
                i128::from(v) - i128::from(u64::MAX / 2),
                i128::from(v),
                -i128::from(v),
            ] {
                let mut p = [b' '; 80];
                let n = line_prefix(&mut p, v, ns, "stop-context");
                line.extend_from_slice(&p[..n]);
            }
            let w = |ns: i128| format!("{v:>9}  {:>12}  {:<14}  ", Secs(ns), "stop-context");
            let want = format!(
                "{v:>9}{v:#x}{}{}{}",
                w(i128::from(v) - i128::from(u64::MAX / 2)),
                w(i128::from(v)),
                w(-i128::from(v))
            );
            assert_eq!(String::from_utf8(line).unwrap(), want, "{v}");
        }
    }
}
