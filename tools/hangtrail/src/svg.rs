//! [`Decoded`] as a one-page SVG picture (`decode --svg FILE`): each CPU's
//! last seconds before the trail's end, and the verdict.
//!
//! Self-contained: no scripts, no external fonts, stylesheets or images
//! (the generic `monospace` and `sans-serif` families); any browser or
//! image viewer shows it. Layout, top to bottom: the verdict line as the
//! title, a line about the trail, the time axis, a lane per CPU, a legend.
//!
//! The time axis is *time before the trail's end* (the newest timestamp of
//! any record), logarithmic: the crash path runs in microseconds, the
//! watchdog samples before it are seconds apart, and both must be
//! readable on one page. It spans the last [`WINDOW_NS`] (30 s), or less
//! when the trail is shorter; records older than that are counted in their
//! lane's label, not drawn. The last 10 µs before the end are the strip
//! marked `end` (linear).
//!
//! In a lane: a tick per point record (red: the `crash` flag, blue: the
//! `load` flag), a diamond per report (soft lockup, stop context, stop map,
//! hard lockup, ...), a dot per sample under the line (filled: busy in the
//! kernel, hollow: idle, grey: user mode, orange: the CPU's stuck run), a
//! shaded bar over a silent CPU's silence, and labels (`symbol+0xoff`)
//! where they fit, the verdict's record first. Every mark has a tooltip
//! (`<title>`) with the record: seq, time, kind, where, flags, details.
//! Marks at the same pixel are drawn once (the tooltip counts them).

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::decode::{flag_names, Decoded, Rec};
use crate::format::{Kind, REC_CRASH_PHASE, REC_IDLE, REC_LOAD_PHASE, REC_USER};
use crate::render::Detail;
use crate::trace_event::{event_name, is_span};
use crate::verdict::CpuView;

/// How far back the picture goes: the last 30 s before the trail's end.
pub const WINDOW_NS: u64 = 30_000_000_000;
/// The shortest time the log axis shows; younger is the `end` strip.
const MIN_AGE_NS: u64 = 10_000;

const WIDTH: f64 = 1200.0;
/// Left edge of the plot (the CPU labels are left of it).
const X0: f64 = 200.0;
/// Right edge of the plot (age 0).
const X1: f64 = 1170.0;
/// Width of the `end` strip (ages below [`MIN_AGE_NS`]).
const END_STRIP: f64 = 36.0;
/// Label text: 11 px monospace, about this wide per character.
const LABEL_CHAR: f64 = 6.7;
const LABEL_ROW: f64 = 13.0;
/// Title: 14 px monospace.
const TITLE_CHAR: f64 = 8.5;

/// Text for XML character data and attribute values: markup characters
/// escaped, characters XML 1.0 cannot hold at all (control characters
/// other than tab and newline) as `\xNN`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Age (ns before the end) to x.
#[derive(Clone, Copy, Debug)]
struct Scale {
    /// The oldest age shown, ns.
    max_age: u64,
}

impl Scale {
    /// For records as old as `oldest` (ns before the end).
    fn new(oldest: u64) -> Self {
        // A little room left of the oldest record; at least 1 ms.
        let max_age = oldest
            .saturating_add(oldest / 10)
            .clamp(MIN_AGE_NS * 100, WINDOW_NS);
        Self { max_age }
    }

    fn x(self, age: u64) -> f64 {
        let log_x1 = X1 - END_STRIP;
        if age < MIN_AGE_NS {
            return X1 - END_STRIP * age as f64 / MIN_AGE_NS as f64;
        }
        let lo = (MIN_AGE_NS as f64).log10();
        let hi = (self.max_age as f64).log10();
        let f = ((age as f64).log10() - lo) / (hi - lo);
        log_x1 - f.min(1.0) * (log_x1 - X0)
    }

    /// Axis ticks: `(age, label)` at each decade inside the window.
    fn ticks(self) -> Vec<(u64, String)> {
        let mut v = Vec::new();
        let mut a = MIN_AGE_NS;
        while a <= self.max_age {
            v.push((a, age_label(a)));
            a = match a.checked_mul(10) {
                Some(n) => n,
                None => break,
            };
        }
        v
    }
}

/// `10 µs`, `100 ms`, `10 s`.
fn age_label(ns: u64) -> String {
    match ns {
        n if n >= 1_000_000_000 => format!("{} s", n / 1_000_000_000),
        n if n >= 1_000_000 => format!("{} ms", n / 1_000_000),
        n if n >= 1_000 => format!("{} µs", n / 1_000),
        n => format!("{n} ns"),
    }
}

/// Seconds, 6 decimals.
fn secs(ns: i128) -> String {
    let sign = if ns < 0 { "-" } else { "+" };
    let a = ns.unsigned_abs();
    format!(
        "{sign}{}.{:06}",
        a / 1_000_000_000,
        a % 1_000_000_000 / 1000
    )
}

/// A record's tooltip: what the text report's timeline line says.
fn describe(d: &Decoded, r: &Rec) -> String {
    let mut s = format!(
        "seq {} at {} s, {} before the end: {} {}",
        r.seq(),
        secs(i128::from(r.raw.ts_ns) - i128::from(d.header.start_ns)),
        age_text(d.verdict.core.facts.end_ns.saturating_sub(r.raw.ts_ns)),
        r.kind.name(),
        if r.sym.is_some() || r.pc() != 0 {
            r.location()
        } else {
            "-".into()
        }
    );
    for f in flag_names(r.flags()) {
        let _ = write!(s, " [{f}]");
    }
    let _ = write!(s, "{}", Detail(r));
    if let Some(l) = r.debug.as_ref().and_then(|x| x.location.as_deref()) {
        let _ = write!(s, " at {l}");
    }
    s
}

/// A duration for people: `1.234 s`, `12.3 ms`, `45 µs`.
fn age_text(ns: u64) -> String {
    if ns >= 1_000_000_000 {
        format!("{:.3} s", ns as f64 / 1e9)
    } else if ns >= 1_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else {
        format!("{} µs", ns / 1000)
    }
}

/// What a mark is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Point,
    Report,
    Sample,
}

/// One mark: the newest record at a pixel column of a class.
struct Mark<'a> {
    x: f64,
    class: Class,
    rec: &'a Rec,
    /// Records at this pixel (drawn once).
    count: usize,
    /// The newest samples of a stuck CPU.
    stuck: bool,
}

/// A label placed in a lane's rows.
struct Placed {
    row: usize,
    /// Text start (`text-anchor` start) or end.
    x: f64,
    anchor_end: bool,
    tick_x: f64,
    /// Where its leader line ends: the top of the tick or sample dot.
    to_y: f64,
    text: String,
    verdict: bool,
}

/// Greedy label rows: each label goes into the lowest row where it does not
/// touch another; labels that fit nowhere are left out.
struct Rows {
    used: Vec<Vec<(f64, f64)>>,
}

impl Rows {
    fn new(n: usize) -> Self {
        Self {
            used: vec![Vec::new(); n],
        }
    }

    /// The row for `[a, b]`, reserved; `None` if it fits in no row.
    fn place(&mut self, a: f64, b: f64) -> Option<usize> {
        const GAP: f64 = 6.0;
        for (i, row) in self.used.iter_mut().enumerate() {
            if row.iter().all(|&(x, y)| b + GAP <= x || a >= y + GAP) {
                row.push((a, b));
                return Some(i);
            }
        }
        None
    }
}

/// Where a label of `text` for a mark at `x` goes: right of it, or left
/// of it near the right edge.
fn label_extent(x: f64, text: &str) -> (f64, f64, bool) {
    let w = text.chars().count() as f64 * LABEL_CHAR;
    if x + 3.0 + w <= WIDTH - 4.0 {
        (x + 3.0, x + 3.0 + w, false)
    } else {
        (x - 3.0 - w, x - 3.0, true)
    }
}

/// Short words for a lane's state.
fn cpu_words(d: &Decoded, c: &CpuView) -> Vec<String> {
    let s = &c.state;
    let mut w = Vec::new();
    if d.verdict.core.crash_cpu == Some(c.cpu) {
        w.push(format!("crash CPU ({})", s.furthest.name()));
    } else if s.entered() {
        w.push("later panic".into());
    }
    if s.stopped() {
        w.push("stopped".into());
    }
    if s.stale {
        w.push("failed to stop".into());
    }
    if s.stop_unknown {
        w.push("stop unknown".into());
    }
    if s.hard_lockup.seq != 0 {
        w.push("hard lockup".into());
    }
    if s.stuck > 0 {
        w.push(format!("stuck ({} samples)", s.stuck));
    }
    if s.silent() {
        w.push(format!("silent {}", age_text(s.silent_ns)));
    }
    w
}

/// Wraps `text` into lines of at most `n` characters, at spaces.
fn wrap(text: &str, n: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > n {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// The label of a mark: where it was, the kind first unless a probe hit.
fn label(r: &Rec) -> String {
    event_name(r)
}

/// Writes the picture of `d`.
pub fn write(d: &Decoded, out: &mut impl Write) -> io::Result<()> {
    let mut s = String::with_capacity(64 << 10);
    picture(d, &mut s);
    out.write_all(s.as_bytes())
}

fn picture(d: &Decoded, s: &mut String) {
    let end = d.verdict.core.facts.end_ns;
    let age = |r: &Rec| end.saturating_sub(r.raw.ts_ns);
    let v = &d.verdict;
    let verdict_seq = v.last.as_ref().map(|r| (r.seq(), r.kind == Kind::Sample));

    // Lanes: every CPU the reconstruction knows, and any with a record.
    let mut cpus: Vec<u32> = d.cpus.iter().map(|c| c.cpu).collect();
    cpus.extend(
        d.records
            .iter()
            .chain(&d.samples)
            .filter(|r| r.kind != Kind::Name)
            .map(Rec::cpu),
    );
    cpus.sort_unstable();
    cpus.dedup();

    let drawn = |r: &&Rec| r.kind != Kind::Name && age(r) <= WINDOW_NS;
    let oldest = d
        .records
        .iter()
        .chain(&d.samples)
        .filter(drawn)
        .map(age)
        .max()
        .unwrap_or(0);
    let scale = Scale::new(oldest);

    // Label rows per lane: fewer when there are many CPUs.
    let rows = match cpus.len() {
        0..=8 => 5,
        9..=32 => 2,
        _ => 1,
    };
    let lane_h = rows as f64 * LABEL_ROW + 44.0;

    let title = wrap(&v.line, ((WIDTH - 40.0) / TITLE_CHAR) as usize);
    let top = 24.0 + title.len() as f64 * 19.0 + 22.0;
    let axis_y = top + 18.0;
    let lanes_y = axis_y + 14.0;
    let legend_y = lanes_y + cpus.len().max(1) as f64 * lane_h + 18.0;
    let height = legend_y + 48.0;

    let _ = write!(
        s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {WIDTH} {height:.0}\" font-family=\"monospace\" font-size=\"11\">\n"
    );
    let _ = writeln!(
        s,
        "<title>{}</title>\n<style>\n\
         .lane{{fill:#f6f6f6}} .lane.verdict{{fill:#fdecec}}\n\
         .axis{{stroke:#bbb;stroke-width:1}} .grid{{stroke:#e2e2e2;stroke-width:1}}\n\
         .base{{stroke:#999;stroke-width:1}}\n\
         .point{{stroke:#333;stroke-width:1.5}} .point.crash{{stroke:#c0392b}} .point.load{{stroke:#2e6fb5}}\n\
         .report{{fill:#8e44ad;stroke:#fff;stroke-width:0.5}}\n\
         .sample{{fill:#222;stroke:#222}} .sample.idle{{fill:#fff;stroke:#555}} .sample.user{{fill:#aaa;stroke:#aaa}}\n\
         .sample.stuck{{fill:#e67e22;stroke:#a04000}}\n\
         .silent{{fill:#f5c6c6;opacity:0.6}}\n\
         .leader{{stroke:#bbb;stroke-width:0.7}}\n\
         .mark-verdict{{fill:none;stroke:#d00;stroke-width:2.5}}\n\
         text.verdict-point{{fill:#d00;font-weight:bold}}\n\
         .cpu{{font-family:sans-serif;font-size:13px;font-weight:bold}}\n\
         .note{{fill:#555;font-family:sans-serif;font-size:11px}}\n\
         .title{{font-size:14px;font-weight:bold;fill:#a00}}\n\
         </style>",
        escape(&v.line)
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>");
    for (i, l) in title.iter().enumerate() {
        let _ = writeln!(
            s,
            "<text class=\"title\" x=\"20\" y=\"{:.0}\">{}</text>",
            24.0 + i as f64 * 19.0,
            escape(l)
        );
    }
    let h = &d.header;
    let arch = d.arch().map_or("unknown arch", |a| a.name());
    let boot_id: String = h.boot_id.iter().map(|b| format!("{b:02x}")).collect();
    let _ = writeln!(
        s,
        "<text class=\"note\" x=\"20\" y=\"{:.0}\">{} {}, boot {boot_id}, {} CPUs; the trail ends {} s \
         after its start (local_clock {} s); shown: its last {}, on a log scale.</text>\n\
         <text class=\"note\" x=\"12\" y=\"{:.1}\">before the end:</text>",
        top - 8.0,
        escape(&d.release()),
        arch,
        h.nr_cpus,
        secs(i128::from(end) - i128::from(h.start_ns)),
        secs(i128::from(end)).trim_start_matches('+'),
        age_text(scale.max_age),
        axis_y - 4.0,
    );

    // Axis and grid.
    let grid_bottom = lanes_y + cpus.len().max(1) as f64 * lane_h;
    let _ = writeln!(
        s,
        "<line class=\"axis\" x1=\"{X0}\" y1=\"{axis_y:.1}\" x2=\"{X1}\" y2=\"{axis_y:.1}\"/>"
    );
    let mut ticks = scale.ticks();
    ticks.push((0, "end".into()));
    for (a, text) in &ticks {
        let x = scale.x(*a);
        let _ = writeln!(
            s,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{axis_y:.1}\" x2=\"{x:.1}\" y2=\"{grid_bottom:.1}\"/>\
             <text class=\"note\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            axis_y - 4.0,
            escape(text)
        );
    }
    // Where the crash path started: silence is measured up to it.
    if d.verdict.core.crash_cpu.is_some() && d.verdict.core.ref_ns <= end {
        let x = scale.x(end - d.verdict.core.ref_ns);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{axis_y:.1}\" x2=\"{x:.1}\" y2=\"{grid_bottom:.1}\" \
             stroke=\"#c0392b\" stroke-dasharray=\"4 3\" stroke-width=\"1\"><title>crash path entered \
             (silence is measured up to here)</title></line>"
        );
    }

    if cpus.is_empty() {
        let _ = writeln!(
            s,
            "<text class=\"note\" x=\"{X0}\" y=\"{:.1}\">no records in the trail</text>",
            lanes_y + lane_h / 2.0
        );
    }

    // Records by CPU, in seq order.
    let mut by_cpu: Vec<Vec<&Rec>> = vec![Vec::new(); cpus.len()];
    let lane_of = |cpu: u32| cpus.binary_search(&cpu).ok();
    for r in d.records.iter().chain(&d.samples) {
        if let Some(i) = lane_of(r.cpu()) {
            by_cpu[i].push(r);
        }
    }

    for (lane, &cpu) in cpus.iter().enumerate() {
        let y0 = lanes_y + lane as f64 * lane_h;
        let base = y0 + 10.0 + rows as f64 * LABEL_ROW + 12.0;
        let dots = base + 12.0;
        let view = d.cpus.iter().find(|c| c.cpu == cpu);
        let is_verdict = v.cpu == Some(cpu);
        let _ = writeln!(
            s,
            "<g id=\"cpu{cpu}\">\n<rect class=\"lane{}\" x=\"4\" y=\"{:.1}\" width=\"{}\" height=\"{:.1}\"/>",
            if is_verdict { " verdict" } else { "" },
            y0 + 2.0,
            WIDTH - 8.0,
            lane_h - 4.0
        );
        let _ = writeln!(
            s,
            "<text class=\"cpu\" x=\"12\" y=\"{:.1}\">CPU {cpu}</text>",
            y0 + 20.0
        );
        let recs = &by_cpu[lane];
        let older = recs
            .iter()
            .filter(|r| r.kind != Kind::Name && age(r) > WINDOW_NS)
            .count();
        let mut words = view.map_or_else(Vec::new, |c| cpu_words(d, c));
        if is_verdict {
            words.insert(0, format!("verdict: {}", v.state.name()));
        }
        if older > 0 {
            words.push(format!("{older} older not drawn"));
        }
        for (i, w) in words.iter().take(rows).enumerate() {
            let _ = writeln!(
                s,
                "<text class=\"note\" x=\"12\" y=\"{:.1}\">{}</text>",
                y0 + 34.0 + i as f64 * 12.0,
                escape(w)
            );
        }
        let _ = writeln!(
            s,
            "<line class=\"base\" x1=\"{X0}\" y1=\"{base:.1}\" x2=\"{X1}\" y2=\"{base:.1}\"/>"
        );

        // A silent CPU: its silence, up to the reference time.
        if let Some(c) = view.filter(|c| c.state.silent()) {
            let r = d.verdict.core.ref_ns.min(end);
            let from = r.saturating_sub(c.state.silent_ns);
            let (xa, xb) = (scale.x(end - from), scale.x(end - r));
            let _ = writeln!(
                s,
                "<rect class=\"silent\" x=\"{xa:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\">\
                 <title>CPU {cpu} silent for {}</title></rect>",
                base - 8.0,
                (xb - xa).max(1.0),
                age_text(c.state.silent_ns)
            );
        }

        // Marks, one per pixel column and class (the newest wins).
        let stuck_from = view
            .filter(|c| c.state.stuck > 0)
            .map(|c| c.state.stuck as usize);
        let samples: Vec<&Rec> = recs
            .iter()
            .copied()
            .filter(|r| r.kind == Kind::Sample)
            .collect();
        let stuck_seqs: Vec<u64> = stuck_from.map_or_else(Vec::new, |n| {
            samples.iter().rev().take(n).map(|r| r.seq()).collect()
        });
        let mut marks: Vec<Mark> = Vec::new();
        for r in recs.iter().copied().filter(drawn) {
            let class = match r.kind {
                Kind::Sample => Class::Sample,
                _ if is_span(r) => Class::Point,
                _ => Class::Report,
            };
            let x = scale.x(age(r));
            let stuck = class == Class::Sample && stuck_seqs.contains(&r.seq());
            let px = x.round();
            match marks
                .iter_mut()
                .rev()
                .take(8)
                .find(|m| m.class == class && m.x.round() == px && m.stuck == stuck)
            {
                Some(m) => {
                    m.count += 1;
                    // Newest wins, but the verdict's record always shows.
                    if verdict_seq.map(|(q, _)| q) != Some(m.rec.seq()) {
                        m.rec = r;
                    }
                }
                None => marks.push(Mark {
                    x,
                    class,
                    rec: r,
                    count: 1,
                    stuck,
                }),
            }
        }
        for m in &marks {
            let r = m.rec;
            let mut tip = describe(d, r);
            if m.count > 1 {
                let _ = write!(tip, " (and {} more here)", m.count - 1);
            }
            let tip = escape(&tip);
            match m.class {
                Class::Point => {
                    let mut cls = String::from("point");
                    if r.has(REC_CRASH_PHASE) {
                        cls.push_str(" crash");
                    } else if r.has(REC_LOAD_PHASE) {
                        cls.push_str(" load");
                    }
                    let _ = writeln!(
                        s,
                        "<line class=\"{cls}\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"><title>{tip}</title></line>",
                        base - 7.0,
                        base + 7.0,
                        x = m.x
                    );
                }
                Class::Report => {
                    let (x, y) = (m.x, base);
                    let _ = writeln!(
                        s,
                        "<path class=\"report\" d=\"M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z\"><title>{tip}</title></path>",
                        y - 6.0,
                        x + 5.0,
                        y + 6.0,
                        x - 5.0
                    );
                }
                Class::Sample => {
                    let cls = if m.stuck {
                        "sample stuck"
                    } else if r.has(REC_USER) {
                        "sample user"
                    } else if r.has(REC_IDLE) {
                        "sample idle"
                    } else {
                        "sample"
                    };
                    let _ = writeln!(
                        s,
                        "<circle class=\"{cls}\" cx=\"{:.1}\" cy=\"{dots:.1}\" r=\"3.5\"><title>{tip}</title></circle>",
                        m.x
                    );
                }
            }
        }

        // Labels: the verdict's record, reports, the last point, the
        // crash path, then the rest, newest first.
        let last_point = marks
            .iter()
            .filter(|m| m.class == Class::Point)
            .map(|m| m.rec.seq())
            .max();
        let newest_stuck = stuck_seqs.first().copied();
        let mut cands: Vec<(u8, u64, &Mark)> = marks
            .iter()
            .filter(|m| m.class != Class::Sample || (m.stuck && Some(m.rec.seq()) == newest_stuck))
            .map(|m| {
                let r = m.rec;
                let verdict = verdict_seq.is_some_and(|(q, _)| q == r.seq()) && is_verdict;
                let prio = if verdict {
                    0
                } else if m.class == Class::Report {
                    1
                } else if Some(r.seq()) == last_point {
                    2
                } else if m.stuck {
                    3
                } else if r.has(REC_CRASH_PHASE) {
                    4
                } else {
                    5
                };
                (prio, u64::MAX - r.seq(), m)
            })
            .collect();
        // The verdict's record may be a sample or older than the window:
        // it is marked all the same.
        let verdict_mark;
        if is_verdict {
            if let Some(r) = v.last.as_ref() {
                let x = scale.x(age(r));
                let y = if r.kind == Kind::Sample { dots } else { base };
                let _ = writeln!(
                    s,
                    "<circle class=\"mark-verdict\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"8\"><title>{}</title></circle>",
                    escape(&format!("the verdict's record: {}", describe(d, r)))
                );
                if !cands.iter().any(|c| c.0 == 0) {
                    verdict_mark = Mark {
                        x,
                        class: Class::Point,
                        rec: r,
                        count: 1,
                        stuck: false,
                    };
                    cands.push((0, 0, &verdict_mark));
                }
            }
        }
        cands.sort_by_key(|c| (c.0, c.1));
        let mut placed_rows = Rows::new(rows);
        let mut placed = Vec::new();
        let mut dropped = 0;
        // A name already labelled close by (a run of cache-maintenance
        // hits) is not labelled again.
        const SAME_NAME_PX: f64 = 120.0;
        let mut named: Vec<(String, f64)> = Vec::new();
        for (prio, _, m) in cands {
            let text = if prio == 0 {
                format!("verdict: {}", label(m.rec))
            } else if m.stuck {
                format!("stuck: {}", m.rec.location())
            } else {
                label(m.rec)
            };
            if prio != 0
                && named
                    .iter()
                    .any(|(t, x)| *t == text && (x - m.x).abs() < SAME_NAME_PX)
            {
                continue;
            }
            let (a, b, anchor_end) = label_extent(m.x, &text);
            match placed_rows.place(a, b) {
                Some(row) => {
                    named.push((text.clone(), m.x));
                    placed.push(Placed {
                        row,
                        x: if anchor_end { b } else { a },
                        anchor_end,
                        tick_x: m.x,
                        to_y: if m.class == Class::Sample {
                            dots - 4.0
                        } else {
                            base - 7.0
                        },
                        text,
                        verdict: prio == 0,
                    })
                }
                None => dropped += 1,
            }
        }
        for p in &placed {
            // Row 0 is nearest the line.
            let ty = base - 12.0 - p.row as f64 * LABEL_ROW;
            let _ = writeln!(
                s,
                "<line class=\"leader\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\
                 <text{} x=\"{:.1}\" y=\"{ty:.1}\"{}>{}</text>",
                p.tick_x,
                ty + 2.0,
                p.tick_x,
                p.to_y,
                if p.verdict {
                    " class=\"verdict-point\""
                } else {
                    ""
                },
                p.x,
                if p.anchor_end {
                    " text-anchor=\"end\""
                } else {
                    ""
                },
                escape(&p.text)
            );
        }
        if dropped > 0 {
            let _ = writeln!(
                s,
                "<text class=\"note\" x=\"12\" y=\"{:.1}\">{dropped} more: hover the marks</text>",
                y0 + lane_h - 10.0
            );
        }
        s.push_str("</g>\n");
    }

    // Legend.
    let y = legend_y;
    let _ = writeln!(
        s,
        "<g id=\"legend\">\n\
         <line class=\"point\" x1=\"24\" y1=\"{a:.1}\" x2=\"24\" y2=\"{b:.1}\"/><text class=\"note\" x=\"30\" y=\"{t:.1}\">point</text>\n\
         <line class=\"point crash\" x1=\"84\" y1=\"{a:.1}\" x2=\"84\" y2=\"{b:.1}\"/><text class=\"note\" x=\"90\" y=\"{t:.1}\">crash path</text>\n\
         <line class=\"point load\" x1=\"174\" y1=\"{a:.1}\" x2=\"174\" y2=\"{b:.1}\"/><text class=\"note\" x=\"180\" y=\"{t:.1}\">kexec load</text>\n\
         <path class=\"report\" d=\"M264 {a:.1}L269 {y:.1}L264 {b:.1}L259 {y:.1}Z\"/><text class=\"note\" x=\"274\" y=\"{t:.1}\">report (soft lockup, stop context, stop map, ...)</text>\n\
         <circle class=\"sample\" cx=\"550\" cy=\"{y:.1}\" r=\"3.5\"/><text class=\"note\" x=\"558\" y=\"{t:.1}\">busy sample</text>\n\
         <circle class=\"sample idle\" cx=\"650\" cy=\"{y:.1}\" r=\"3.5\"/><text class=\"note\" x=\"658\" y=\"{t:.1}\">idle</text>\n\
         <circle class=\"sample user\" cx=\"700\" cy=\"{y:.1}\" r=\"3.5\"/><text class=\"note\" x=\"708\" y=\"{t:.1}\">user</text>\n\
         <circle class=\"sample stuck\" cx=\"752\" cy=\"{y:.1}\" r=\"3.5\"/><text class=\"note\" x=\"760\" y=\"{t:.1}\">stuck run</text>\n\
         <rect class=\"silent\" x=\"830\" y=\"{a:.1}\" width=\"20\" height=\"12\"/><text class=\"note\" x=\"856\" y=\"{t:.1}\">silent</text>\n\
         <circle class=\"mark-verdict\" cx=\"912\" cy=\"{y:.1}\" r=\"6\"/><text class=\"note\" x=\"924\" y=\"{t:.1}\">the verdict's record</text>\n\
         <text class=\"note\" x=\"24\" y=\"{n:.1}\">hangtrail decode --svg; every mark has a tooltip with its record (seq, time, kind, where, flags).</text>\n\
         </g>",
        a = y - 6.0,
        b = y + 6.0,
        t = y + 4.0,
        n = y + 24.0
    );
    s.push_str("</svg>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, Options};
    use crate::synth::scenarios;

    fn svg(trail: &[u8]) -> (Decoded, String) {
        let d = decode(trail, &Options::default()).expect("decodes");
        let mut out = Vec::new();
        write(&d, &mut out).expect("writes");
        (d, String::from_utf8(out).expect("UTF-8"))
    }

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"c'\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&apos;\\x01"
        );
        let doc = format!("<t a=\"{0}\">{0}</t>", escape("<&>\"'\u{0}\u{1b}x"));
        let x = roxmltree::Document::parse(&doc).expect("well-formed");
        assert_eq!(x.root_element().text(), Some("<&>\"'\\x00\\x1bx"));
    }

    #[test]
    fn scale_is_monotonic_and_inside_the_plot() {
        for oldest in [0, 5_000, 2_000_000, 1_500_000_000, 90_000_000_000] {
            let sc = Scale::new(oldest);
            let mut prev = f64::INFINITY;
            for age in [
                0,
                1,
                9_999,
                10_000,
                10_001,
                1_000_000,
                999_999_999,
                sc.max_age,
                WINDOW_NS,
            ] {
                let x = sc.x(age);
                assert!((X0..=X1).contains(&x), "{oldest} {age}: {x}");
                assert!(x <= prev, "{oldest} {age}: {x} > {prev}");
                prev = x;
            }
            assert_eq!(sc.x(0), X1);
            assert!((sc.x(sc.max_age) - X0).abs() < 1e-9);
        }
    }

    #[test]
    fn labels_never_overlap_in_a_row() {
        let mut rows = Rows::new(3);
        let mut got = Vec::new();
        for i in 0..40 {
            let a = 200.0 + f64::from(i) * 17.0;
            if let Some(r) = rows.place(a, a + 60.0) {
                got.push((r, a, a + 60.0));
            }
        }
        assert!(got.len() < 40, "some labels are left out");
        for (i, x) in got.iter().enumerate() {
            for y in &got[i + 1..] {
                if x.0 == y.0 {
                    assert!(x.2 <= y.1 || y.2 <= x.1, "{x:?} {y:?}");
                }
            }
        }
    }

    /// Every synthetic scenario: well-formed, a lane per CPU, the verdict
    /// as the title and its record labelled.
    #[test]
    fn every_scenario_draws() {
        for s in scenarios::all() {
            let (d, text) = svg(&s.trail);
            let doc = roxmltree::Document::parse(&text)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", s.name));
            let texts: Vec<String> = doc
                .descendants()
                .filter(|n| n.has_tag_name("text"))
                .map(|n| n.text().unwrap_or_default().to_string())
                .collect();
            for c in &d.cpus {
                assert!(
                    texts.iter().any(|t| *t == format!("CPU {}", c.cpu)),
                    "{}: CPU {}",
                    s.name,
                    c.cpu
                );
            }
            let title = doc
                .descendants()
                .find(|n| n.has_tag_name("title"))
                .and_then(|n| n.text());
            assert_eq!(title, Some(d.verdict.line.as_str()), "{}", s.name);
            if let (Some(r), Some(_)) = (&d.verdict.last, d.verdict.cpu) {
                let want = format!("verdict: {}", label(r));
                let got = doc
                    .descendants()
                    .find(|n| n.attribute("class") == Some("verdict-point"))
                    .and_then(|n| n.text());
                assert_eq!(got, Some(want.as_str()), "{}", s.name);
            }
        }
    }

    #[test]
    fn wraps_at_spaces() {
        let w = wrap("aaa bbb ccc ddd", 7);
        assert_eq!(w, ["aaa bbb", "ccc ddd"]);
        assert_eq!(wrap("", 5), Vec::<String>::new());
        assert_eq!(
            wrap("averyveryverylongword x", 5),
            ["averyveryverylongword", "x"]
        );
    }
}
