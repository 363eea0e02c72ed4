//! [`Decoded`] as Chrome trace-event JSON (`decode --trace-event FILE`), for
//! Perfetto's UI (ui.perfetto.dev, "Open trace file") and `chrome://tracing`.
//!
//! The JSON Object Format: `{"displayTimeUnit": "ns", "otherData": {...},
//! "traceEvents": [...]}`. One process (pid 1, the machine), one thread per
//! CPU (tid = CPU number, named `CPU N`). Timestamps are the records'
//! `local_clock` times in microseconds (what dmesg's `[    1.529989]` shows),
//! so the picture lines up with the kernel log. Per CPU:
//!
//! * a record at a point (`probe`, `return`, `panic-notifier`,
//!   `crash-loaded`, `kexec-image`, `start`) opens a complete event (`X`)
//!   that lasts until the CPU's next such record; the CPU's last one lasts
//!   until the trail's end (the newest timestamp of any record): where a
//!   hung CPU sat;
//! * every other ring record (soft lockup and its frames, stop results and
//!   maps, still-online, stop and lockup contexts, hard lockup, name
//!   chunks) and every sample is a thread-scoped instant (`i`, `s: "t"`);
//! * the verdict is a global instant (`s: "g"`) at its record's time (the
//!   trail's end if it names none), named by the verdict line.
//!
//! Every record's fields are in its event's `args` (`seq`, `cpu`, `ts_ns`,
//! `kind`, `pc`, `arg`, symbol, flags, ...): the JSON holds each valid
//! record once, as `decode --json` lists them. Addresses are `"0x..."`
//! strings: JavaScript loses precision above 2^53.

use std::io::{self, Write};

use serde::Serialize;

use crate::decode::{flag_names, Decoded, Rec};
use crate::format::Kind;
use crate::render::{lr, Detail};

/// The one process id: the machine the trail is from.
pub const PID: u32 = 1;

/// Whether a record is at a point the CPU passed: it opens a span.
pub fn is_span(r: &Rec) -> bool {
    matches!(
        r.kind,
        Kind::Probe
            | Kind::Return
            | Kind::PanicNotifier
            | Kind::CrashLoaded
            | Kind::KexecImage
            | Kind::Start
    )
}

/// `ns` as trace-event microseconds.
fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// The event name of a record: where it was, after its kind unless it is
/// a probe hit (`panic+0x0`, `return machine_kexec_post_load+0x0`,
/// `sample default_idle+0x16`, `stop-map`).
pub fn event_name(r: &Rec) -> String {
    let at = (r.sym.is_some() || r.pc() != 0).then(|| r.location());
    match (r.kind, at) {
        (Kind::Probe, Some(at)) => at,
        (k, Some(at)) => format!("{} {at}", k.name()),
        (k, None) => k.name().to_string(),
    }
}

/// The event category: the record's class, then its flags
/// (`point,crash`, `sample,idle`), so a viewer can filter on either.
fn category(r: &Rec) -> String {
    let class = match r.kind {
        Kind::Sample => "sample",
        Kind::Name => "name",
        _ if is_span(r) => "point",
        _ => "report",
    };
    let mut c = class.to_string();
    for f in flag_names(r.flags()) {
        c.push(',');
        c.push_str(f);
    }
    c
}

/// `"0x..."`.
fn hex(v: u64) -> String {
    format!("{v:#x}")
}

/// A record's fields.
#[derive(Serialize)]
struct Args<'a> {
    seq: u64,
    cpu: u32,
    ts_ns: u64,
    kind: &'static str,
    pc: String,
    arg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    lr: Option<String>,
    symbol: Option<&'a str>,
    offset: Option<u64>,
    module: Option<&'a str>,
    unverified: bool,
    flags: Vec<&'static str>,
    point: Option<&'a str>,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    insn: Option<&'a str>,
    /// The span runs to the trail's end: nothing later on this CPU.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    until_end: bool,
}

impl<'a> Args<'a> {
    fn new(d: &'a Decoded, r: &'a Rec, until_end: bool) -> Self {
        let dbg = r.debug.as_deref();
        Self {
            seq: r.seq(),
            cpu: r.cpu(),
            ts_ns: r.raw.ts_ns,
            kind: r.kind.name(),
            pc: hex(r.pc()),
            arg: hex(r.arg()),
            lr: matches!(r.kind, Kind::StopContext | Kind::LockupContext).then(|| hex(lr(r))),
            symbol: r.sym.as_ref().map(|s| &*s.name),
            offset: r.sym.as_ref().map(|s| s.offset),
            module: r.sym.as_ref().and_then(|s| s.module.as_deref()),
            unverified: r.unverified,
            flags: flag_names(r.flags()).collect(),
            point: d.point(r).map(|p| p.name.as_str()),
            detail: Detail(r).to_string().trim_start().to_string(),
            location: dbg.and_then(|x| x.location.as_deref()),
            insn: dbg.and_then(|x| x.insn.as_deref()),
            until_end,
        }
    }
}

/// One trace event.
#[derive(Serialize)]
struct Event<A: Serialize> {
    name: String,
    cat: String,
    ph: &'static str,
    ts: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<f64>,
    /// Instant scope: `t` (thread) or `g` (global).
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<&'static str>,
    pid: u32,
    tid: u32,
    args: A,
}

#[derive(Serialize)]
struct NameArg {
    name: String,
}

#[derive(Serialize)]
struct SortArg {
    sort_index: u32,
}

#[derive(Serialize)]
struct VerdictArgs<'a> {
    state: &'static str,
    reason: Option<&'static str>,
    cpu: Option<u32>,
    /// The seq of the verdict's record (its event carries the record).
    last_seq: Option<u64>,
    last: Option<String>,
    next_expected: Option<&'a str>,
    summary: &'a str,
}

#[derive(Serialize)]
struct OtherData<'a> {
    source: &'static str,
    arch: Option<&'static str>,
    release: String,
    boot_id: String,
    nr_cpus: u32,
    start_ns: u64,
    end_ns: u64,
    verdict: &'a str,
}

/// The complete event of a point record lasting until `until`.
fn span<'a>(d: &'a Decoded, r: &'a Rec, until: u64, last: bool) -> Event<Args<'a>> {
    Event {
        name: event_name(r),
        cat: category(r),
        ph: "X",
        ts: us(r.raw.ts_ns),
        // A corrupt clock may go backwards: never a negative duration.
        dur: Some(us(until.saturating_sub(r.raw.ts_ns))),
        s: None,
        pid: PID,
        tid: r.cpu(),
        args: Args::new(d, r, last),
    }
}

/// The thread-scoped instant of a report, name chunk or sample.
fn instant<'a>(d: &'a Decoded, r: &'a Rec) -> Event<Args<'a>> {
    Event {
        name: event_name(r),
        cat: category(r),
        ph: "i",
        ts: us(r.raw.ts_ns),
        dur: None,
        s: Some("t"),
        pid: PID,
        tid: r.cpu(),
        args: Args::new(d, r, false),
    }
}

/// Writes the events of `d` as one JSON document, an event per line.
pub fn write(d: &Decoded, out: &mut impl Write) -> io::Result<()> {
    let end = d.verdict.core.facts.end_ns;
    let h = &d.header;
    let boot_id: String = h.boot_id.iter().map(|b| format!("{b:02x}")).collect();
    let other = OtherData {
        source: "hangtrail decode --trace-event",
        arch: d.arch().map(|a| a.name()),
        release: d.release(),
        boot_id: boot_id.clone(),
        nr_cpus: h.nr_cpus,
        start_ns: h.start_ns,
        end_ns: end,
        verdict: &d.verdict.line,
    };
    out.write_all(b"{\"displayTimeUnit\":\"ns\",\"otherData\":")?;
    serde_json::to_writer(&mut *out, &other)?;
    out.write_all(b",\n\"traceEvents\":[\n")?;
    let mut first = true;
    let mut emit = |out: &mut dyn Write, e: &dyn erased::Ser| -> io::Result<()> {
        if !first {
            out.write_all(b",\n")?;
        }
        first = false;
        e.write_to(out)
    };

    // Tracks: every CPU the reconstruction knows, and any with a record.
    let mut cpus: Vec<u32> = d.cpus.iter().map(|c| c.cpu).collect();
    cpus.extend(d.records.iter().chain(&d.samples).map(Rec::cpu));
    cpus.sort_unstable();
    cpus.dedup();
    let arch = d.arch().map_or("unknown arch", |a| a.name());
    emit(
        out,
        &Event {
            name: "process_name".into(),
            cat: "__metadata".into(),
            ph: "M",
            ts: 0.0,
            dur: None,
            s: None,
            pid: PID,
            tid: 0,
            args: NameArg {
                name: format!("hangtrail: {} {arch}, boot {boot_id}", d.release()),
            },
        },
    )?;
    for &cpu in &cpus {
        emit(
            out,
            &Event {
                name: "thread_name".into(),
                cat: "__metadata".into(),
                ph: "M",
                ts: 0.0,
                dur: None,
                s: None,
                pid: PID,
                tid: cpu,
                args: NameArg {
                    name: format!("CPU {cpu}"),
                },
            },
        )?;
        emit(
            out,
            &Event {
                name: "thread_sort_index".into(),
                cat: "__metadata".into(),
                ph: "M",
                ts: 0.0,
                dur: None,
                s: None,
                pid: PID,
                tid: cpu,
                args: SortArg { sort_index: cpu },
            },
        )?;
    }

    // Spans: each CPU's open point until its next one. CPUs are dense
    // small numbers (below the header's nr_cpus).
    let mut open: Vec<Option<&Rec>> = vec![None; cpus.last().map_or(0, |&c| c as usize + 1)];
    for r in &d.records {
        if !is_span(r) {
            emit(out, &instant(d, r))?;
            continue;
        }
        let slot = &mut open[r.cpu() as usize];
        if let Some(prev) = slot.replace(r) {
            emit(out, &span(d, prev, r.raw.ts_ns, false))?;
        }
    }
    for r in open.into_iter().flatten() {
        emit(out, &span(d, r, end.max(r.raw.ts_ns), true))?;
    }
    for r in &d.samples {
        emit(out, &instant(d, r))?;
    }

    let v = &d.verdict;
    emit(
        out,
        &Event {
            name: v.line.clone(),
            cat: "verdict".into(),
            ph: "i",
            ts: us(v.last.as_ref().map_or(end, |r| r.raw.ts_ns)),
            dur: None,
            s: Some("g"),
            pid: PID,
            tid: v.cpu.unwrap_or(0),
            args: VerdictArgs {
                state: v.state.name(),
                reason: v.reason.map(|r| r.name()),
                cpu: v.cpu,
                last_seq: v.last.as_ref().map(Rec::seq),
                last: v.last.as_ref().map(Rec::location),
                next_expected: v.next_expected.as_deref(),
                summary: &v.summary,
            },
        },
    )?;
    out.write_all(b"\n]}\n")
}

/// Events of different argument types through one emitter.
mod erased {
    use std::io::{self, Write};

    pub trait Ser {
        fn write_to(&self, out: &mut dyn Write) -> io::Result<()>;
    }

    impl<T: serde::Serialize> Ser for T {
        fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
            serde_json::to_writer(out, self).map_err(io::Error::other)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, Options};
    use crate::synth::scenarios;
    use serde_json::Value;

    fn render(trail: &[u8]) -> (Decoded, Value) {
        let d = decode(trail, &Options::default()).expect("decodes");
        let mut out = Vec::new();
        write(&d, &mut out).expect("writes");
        let v = serde_json::from_slice(&out).expect("JSON");
        (d, v)
    }

    /// Every synthetic scenario: one event per record, spans per CPU in
    /// time order without overlap, and one global verdict marker.
    #[test]
    fn every_record_once_and_spans_do_not_overlap() {
        for s in scenarios::all() {
            let (d, v) = render(&s.trail);
            let events = v["traceEvents"].as_array().expect("events");
            let recs: Vec<&Value> = events
                .iter()
                .filter(|e| e["args"]["seq"].is_u64())
                .collect();
            assert_eq!(recs.len(), d.records.len() + d.samples.len(), "{}", s.name);
            let mut seqs: Vec<u64> = recs
                .iter()
                .map(|e| e["args"]["seq"].as_u64().expect("seq"))
                .collect();
            seqs.sort_unstable();
            let mut want: Vec<u64> = d.records.iter().chain(&d.samples).map(Rec::seq).collect();
            want.sort_unstable();
            assert_eq!(seqs, want, "{}", s.name);
            for cpu in 0..d.header.nr_cpus {
                let mut spans: Vec<(f64, f64)> = recs
                    .iter()
                    .filter(|e| e["ph"] == "X" && e["tid"] == cpu)
                    .map(|e| {
                        let ts = e["ts"].as_f64().expect("ts");
                        (ts, ts + e["dur"].as_f64().expect("dur"))
                    })
                    .collect();
                spans.sort_by(|a, b| a.0.total_cmp(&b.0));
                for w in spans.windows(2) {
                    assert!(w[0].1 <= w[1].0 + 1e-6, "{}: {w:?}", s.name);
                }
            }
            let verdicts: Vec<&Value> = events.iter().filter(|e| e["cat"] == "verdict").collect();
            assert_eq!(verdicts.len(), 1, "{}", s.name);
            assert_eq!(verdicts[0]["s"], "g");
            assert_eq!(verdicts[0]["name"], d.verdict.line.as_str());
        }
    }

    /// The last point of each CPU lasts until the trail's end.
    #[test]
    fn last_span_runs_to_the_end() {
        let s = scenarios::stale_cpu();
        let (d, v) = render(&s.trail);
        let end = d.verdict.core.facts.end_ns as f64 / 1000.0;
        let last = v["traceEvents"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["ph"] == "X" && e["args"]["until_end"] == true)
            .count();
        assert!(last >= 1);
        for e in v["traceEvents"].as_array().expect("events") {
            if e["args"]["until_end"] == true {
                let stop = e["ts"].as_f64().expect("ts") + e["dur"].as_f64().expect("dur");
                assert!((stop - end).abs() < 1e-3, "{e}");
            }
        }
    }

    #[test]
    fn names() {
        let s = scenarios::handoff();
        let d = decode(&s.trail, &Options::default()).expect("decodes");
        for r in d.records.iter().chain(&d.samples) {
            let n = event_name(r);
            assert!(!n.is_empty());
            if r.kind != Kind::Probe {
                assert!(n.starts_with(r.kind.name()), "{n}");
            }
            let c = category(r);
            assert!(
                ["point", "report", "sample", "name"]
                    .iter()
                    .any(|k| c.split(',').next() == Some(k)),
                "{c}"
            );
        }
    }
}
