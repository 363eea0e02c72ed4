//! `hangtrail save`: keeps the previous boot's trail on disk, decoded, and
//! says its verdict in the journal. Run once per boot by
//! `hangtrail-save.service` (dist/), before anything can reload the module.
//!
//! `DIR/ID/` gets `previous.bin` (the raw trail), `decode.json` and
//! `decode.txt`. `ID` is the trail's `boot_id` (random per module load, 32
//! hex digits like journald's boot IDs): the same trail is saved once, a
//! second run finds it and does nothing. A trail whose header does not parse
//! is still kept, raw, under `unparsed-HASH`. Every directory is written
//! under a temporary name and renamed into place, so a `DIR/ID` that exists
//! is complete; nothing that exists is ever overwritten.
//!
//! A trail that cannot be written ([`Failure::Write`]) leaves nothing on
//! disk, but its verdict still goes to the journal, with the error
//! (`HANGTRAIL_SAVE_ERROR`): [`Unsaved::on_record`] says whether it got
//! there. A trail that does not parse gets the module's own verdict line
//! from the kernel log (`HANGTRAIL_DMESG`, [`crate::kmsg`]). Whether to
//! release the trail is the caller's policy (`hangtrail save` releases it
//! once its verdict is on record: on disk, or in the journal).

use std::fmt;
use std::fs::{self, DirBuilder, File};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::decode::{decode, Decoded, Error, Options};
use crate::journal::Entry;
use crate::kmsg;
use crate::render;
use crate::symbols::{Source, SymbolTable};
use crate::verdict_core::State;

/// Where hangtrail.ko exposes the trail it found at load.
pub const PREVIOUS: &str = "/sys/kernel/debug/hangtrail/previous";
/// hangtrail.ko's `release` parameter: reads `held`, `released` or `none`;
/// `release` written to it releases a held trail.
pub const RELEASE: &str = "/sys/module/hangtrail/parameters/release";
/// Where trails are kept.
pub const STATE_DIR: &str = "/var/lib/hangtrail";
/// Symbols of the running kernel.
pub const KALLSYMS: &str = "/proc/kallsyms";
/// `MESSAGE_ID` of the journal entry (one per saved trail).
pub const MESSAGE_ID: &str = "2c74ffa988ab48559b0f0484357b5783";
/// A `previous` larger than this is not a trail copy (regions are MiBs).
pub const MAX_TRAIL: u64 = 1 << 32;

/// What to read and where to write.
#[derive(Clone, Debug)]
pub struct Config {
    /// The trail (`PREVIOUS`).
    pub previous: PathBuf,
    /// Where saved trails go (`STATE_DIR`).
    pub state_dir: PathBuf,
    /// Symbols to decode with, if readable (`KALLSYMS`).
    pub kallsyms: Option<PathBuf>,
    /// journald's native socket, or none for no entry.
    pub journal: Option<PathBuf>,
    /// The kernel log (`/dev/kmsg`), for the module's verdict line of a
    /// trail that does not parse; none: not read.
    pub kmsg: Option<PathBuf>,
}

/// What `save` did.
#[derive(Debug)]
pub enum Saved {
    /// The trail was decoded and saved in `dir`.
    New {
        /// `STATE_DIR/ID`.
        dir: PathBuf,
        /// The journal entry (sent or not: see `journal_error`).
        entry: Entry,
        /// The verdict line.
        line: String,
        /// Why the symbols were not used, if they were not.
        symbols_note: Option<String>,
        /// Why the journal entry was not sent.
        journal_error: Option<String>,
    },
    /// `dir` already holds this trail: nothing done.
    Already {
        /// The existing directory.
        dir: PathBuf,
    },
    /// The trail does not parse; its raw bytes are in `dir` (new or not).
    Unparsed {
        /// `STATE_DIR/unparsed-HASH`.
        dir: PathBuf,
        /// Why it does not parse.
        why: String,
        /// Whether `dir` was written now.
        new: bool,
        /// Why the journal entry was not sent.
        journal_error: Option<String>,
    },
}

/// Why nothing was saved.
#[derive(Debug)]
pub enum Failure {
    /// No trail to save (no `previous`, empty, or unreadable).
    NoTrail(String),
    /// Writing the trail failed: nothing of it is on disk.
    Write(Unsaved),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTrail(m) => f.write_str(m),
            Self::Write(u) => write!(f, "{}: {}", u.path.display(), u.error),
        }
    }
}

/// A trail that could not be written, and the journal entry that says so.
#[derive(Debug)]
pub struct Unsaved {
    /// What could not be written.
    pub path: PathBuf,
    /// Why.
    pub error: io::Error,
    /// Why the trail does not parse, if it does not (then its raw copy is
    /// what failed).
    pub unparsed: Option<String>,
    /// The entry: the verdict (if known) and `HANGTRAIL_SAVE_ERROR`.
    pub entry: Entry,
    /// Whether `entry` carries a verdict: the decoder's, or, for a trail
    /// that does not parse, the module's line from the kernel log.
    pub has_verdict: bool,
    /// `Ok`: the journal took `entry`; `Err`: why not (no journal socket
    /// configured is an `Err` too).
    pub journal: Result<(), String>,
}

impl Unsaved {
    /// Whether the trail's verdict is on record despite the failure: in an
    /// entry the journal took.
    pub fn on_record(&self) -> bool {
        self.has_verdict && self.journal.is_ok()
    }
}

/// A write error of `store`: what, and why.
type WriteError = (PathBuf, io::Error);

/// 32 lowercase hex digits, as the decoder prints the boot id.
pub fn boot_id_hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// FNV-1a, 64 bit: names a trail whose header (and boot id) is unusable.
fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Journal priority of a verdict: a hang is an error, a crash that did not
/// reach or confirm the crash kernel a warning, a kdump that was reached a
/// notice, anything else information.
pub fn priority(state: State) -> u8 {
    match state {
        State::Hung => 3,
        State::Unconfirmed | State::NoKdump => 4,
        State::Handoff => 5,
        State::Empty | State::Rebooted | State::NoCrash => 6,
    }
}

fn read_previous(path: &Path) -> Result<Vec<u8>, Failure> {
    let none = |m: String| Failure::NoTrail(format!("{}: {m}", path.display()));
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let dir = path.parent().filter(|d| d.is_dir());
            return Err(none(if dir.is_some() {
                "no previous trail (hangtrail.ko found none at load)".into()
            } else {
                "no previous trail (hangtrail.ko not loaded, or debugfs not mounted)".into()
            }));
        }
        Err(e) => return Err(none(e.to_string())),
    };
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut io::Read::take(f, MAX_TRAIL + 1), &mut bytes)
        .map_err(|e| none(e.to_string()))?;
    if bytes.is_empty() {
        return Err(none("empty: no previous trail".into()));
    }
    if bytes.len() as u64 > MAX_TRAIL {
        return Err(none(format!("larger than {MAX_TRAIL} bytes: not a trail")));
    }
    Ok(bytes)
}

/// Symbols from `path` if it is readable and usable (`/proc/kallsyms` as
/// root); why not otherwise.
fn symbols(path: &Path) -> Result<SymbolTable, String> {
    let text = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    SymbolTable::parse_bytes(&text, Source::Kallsyms)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Decodes with `kallsyms` if they fit the trail, else without: a trail of
/// another kernel build must still be saved.
fn decode_best(bytes: &[u8], kallsyms: Option<&Path>) -> Result<(Decoded, Option<String>), Error> {
    let table = kallsyms.map(symbols);
    if let Some(Ok(t)) = &table {
        let opts = Options {
            symbols: Some(t),
            ..Options::default()
        };
        match decode(bytes, &opts) {
            Ok(d) => return Ok((d, None)),
            Err(e @ Error::Header(_)) => return Err(e),
            Err(e) => {
                let p = kallsyms.map_or_else(String::new, |p| p.display().to_string());
                let note = format!("{p}: {e}; decoded without symbols");
                return decode(bytes, &Options::default()).map(|d| (d, Some(note)));
            }
        }
    }
    let note = match table {
        Some(Err(e)) => Some(format!("{e}; decoded without symbols")),
        _ => None,
    };
    decode(bytes, &Options::default()).map(|d| (d, note))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let w = |e| (path.to_path_buf(), e);
    let mut f = File::create_new(path).map_err(w)?;
    f.write_all(bytes).map_err(w)?;
    f.sync_all().map_err(w)
}

/// Writes `files` into a new directory `state_dir/id`: into a temporary
/// directory first, renamed into place. `Ok(false)`: `id` exists already.
fn store(state_dir: &Path, id: &str, files: &[(&str, &[u8])]) -> Result<bool, WriteError> {
    let dest = state_dir.join(id);
    if dest.exists() {
        return Ok(false);
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(|e| (state_dir.to_path_buf(), e))?;
    let tmp = state_dir.join(format!(".{id}.tmp{}", std::process::id()));
    // A leftover of an interrupted run of this pid: never a saved trail.
    let _ = fs::remove_dir_all(&tmp);
    DirBuilder::new()
        .mode(0o700)
        .create(&tmp)
        .map_err(|e| (tmp.clone(), e))?;
    let result = files
        .iter()
        .try_for_each(|(name, bytes)| write_file(&tmp.join(name), bytes))
        .and_then(|()| match fs::rename(&tmp, &dest) {
            Ok(()) => Ok(true),
            // Saved meanwhile by another run: rename() never replaces a
            // non-empty directory.
            Err(_) if dest.join("previous.bin").exists() => Ok(false),
            Err(e) => Err((dest.clone(), e)),
        });
    if !matches!(result, Ok(true)) {
        let _ = fs::remove_dir_all(&tmp);
    }
    if let Ok(true) = result {
        // The rename, durable.
        if let Ok(d) = File::open(state_dir) {
            let _ = d.sync_all();
        }
    }
    result
}

fn send(entry: &Entry, socket: Option<&Path>) -> Option<String> {
    let s = socket?;
    entry
        .send(s)
        .err()
        .map(|e| format!("journal {}: {e}", s.display()))
}

/// Sends an entry that must arrive: no socket is an error too.
fn send_required(entry: &Entry, socket: Option<&Path>) -> Result<(), String> {
    match socket {
        Some(_) => send(entry, socket).map_or(Ok(()), Err),
        None => Err("no journal: --no-journal".into()),
    }
}

/// What the kernel log says of the previous boot: the last line of the
/// module's containing this (it prints one per load that found a trail).
const DMESG_VERDICT: &str = "hangtrail: previous boot stopped: ";

/// The module's verdict line in the kernel log at `kmsg`, without
/// `hangtrail: ` (`previous boot stopped: ...`); none if there is none or
/// the log cannot be read.
fn dmesg_verdict(kmsg: Option<&Path>) -> Option<String> {
    let line = kmsg::last_in(kmsg?, DMESG_VERDICT)?;
    line.strip_prefix("hangtrail: ").map(str::to_string)
}

/// The verdict line with the decoder's names, without `verdict: `.
pub fn verdict_line(d: &Decoded) -> &str {
    let l = &d.verdict.line;
    l.strip_prefix("verdict: ").unwrap_or(l)
}

/// The journal entry for a decoded trail saved in `dir`.
pub fn entry(d: &Decoded, dir: &Path) -> Entry {
    let message = format!("hangtrail: previous boot stopped: {}", verdict_line(d));
    verdict_entry(d, &message, priority(d.verdict.state), Some(dir), None)
}

/// The journal entry for a decoded trail that could not be written: the
/// fields of [`entry`] but `HANGTRAIL_DIR`, with `HANGTRAIL_SAVE_ERROR`;
/// at least an error (priority 3).
pub fn unsaved_entry(d: &Decoded, path: &Path, error: &io::Error) -> Entry {
    let save_error = format!("{}: {error}", path.display());
    let message = format!(
        "hangtrail: previous boot stopped: {}; the trail was not saved: {save_error}",
        verdict_line(d)
    );
    let prio = priority(d.verdict.state).min(3);
    verdict_entry(d, &message, prio, None, Some(&save_error))
}

fn verdict_entry(
    d: &Decoded,
    message: &str,
    prio: u8,
    dir: Option<&Path>,
    save_error: Option<&str>,
) -> Entry {
    let v = &d.verdict;
    let mut e = Entry::new();
    let mut add = |k: &str, v: &str| {
        // The names are this file's constants: valid.
        let _ = e.add(k, v);
    };
    add("MESSAGE", message);
    add("MESSAGE_ID", MESSAGE_ID);
    add("PRIORITY", &prio.to_string());
    add("SYSLOG_IDENTIFIER", "hangtrail");
    add("HANGTRAIL_VERDICT", v.state.name());
    if let Some(r) = v.reason {
        add("HANGTRAIL_REASON", r.name());
    }
    if let Some(c) = v.cpu {
        add("HANGTRAIL_CPU", &c.to_string());
    }
    if let Some(r) = &v.last {
        add("HANGTRAIL_PC", &format!("{:#x}", r.pc()));
        if let Some(s) = &r.sym {
            add("HANGTRAIL_SYMBOL", &s.to_string());
        }
        add("HANGTRAIL_LOCATION", &r.location());
    }
    if let Some(n) = &v.next_expected {
        add("HANGTRAIL_NEXT_EXPECTED", n);
    }
    add("HANGTRAIL_SUMMARY", &v.summary);
    add("HANGTRAIL_BOOT_ID", &boot_id_hex(&d.header.boot_id));
    add("HANGTRAIL_RELEASE", &d.release());
    if let Some(dir) = dir {
        add("HANGTRAIL_DIR", &dir.display().to_string());
    }
    if let Some(s) = save_error {
        add("HANGTRAIL_SAVE_ERROR", s);
    }
    e
}

/// Saves the trail at `cfg.previous` (see the module documentation).
pub fn save(cfg: &Config) -> Result<Saved, Failure> {
    let bytes = read_previous(&cfg.previous)?;
    let (d, symbols_note) = match decode_best(&bytes, cfg.kallsyms.as_deref()) {
        Ok(x) => x,
        Err(e) => return save_unparsed(cfg, &bytes, e.to_string()),
    };
    let id = boot_id_hex(&d.header.boot_id);
    let dir = cfg.state_dir.join(&id);
    if dir.exists() {
        return Ok(Saved::Already { dir });
    }
    let source = cfg.previous.display().to_string();
    let mut json = Vec::new();
    let mut text = Vec::new();
    // Into memory: cannot fail.
    let _ = render::json(&d, &mut json);
    let _ = render::text(&d, &source, &mut text);
    let files: [(&str, &[u8]); 3] = [
        ("previous.bin", &bytes),
        ("decode.json", &json),
        ("decode.txt", &text),
    ];
    match store(&cfg.state_dir, &id, &files) {
        Ok(true) => {}
        Ok(false) => return Ok(Saved::Already { dir }),
        Err((path, error)) => {
            let entry = unsaved_entry(&d, &path, &error);
            let journal = send_required(&entry, cfg.journal.as_deref());
            return Err(Failure::Write(Unsaved {
                path,
                error,
                unparsed: None,
                entry,
                has_verdict: true,
                journal,
            }));
        }
    }
    let entry = entry(&d, &dir);
    let journal_error = send(&entry, cfg.journal.as_deref());
    Ok(Saved::New {
        line: verdict_line(&d).to_string(),
        dir,
        entry,
        symbols_note,
        journal_error,
    })
}

/// Once the trail's verdict is on record: releases it if hangtrail.ko
/// holds it (its `release` parameter, [`RELEASE`]), so that the next load
/// records again.
/// `Ok(false)`: nothing held (the module is not loaded, or reads `none`);
/// `Ok(true)`: released now, or already by this load.
pub fn release_held(file: &Path) -> io::Result<bool> {
    let state = match fs::read(file) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match state.trim_ascii_end() {
        b"none" => Ok(false),
        b"released" => Ok(true),
        b"held" => {
            fs::OpenOptions::new()
                .write(true)
                .open(file)?
                .write_all(b"release\n")?;
            Ok(true)
        }
        other => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "reads {:?}, not held, released or none",
                String::from_utf8_lossy(other)
            ),
        )),
    }
}

/// Whether hangtrail.ko holds a trail: `file` ([`RELEASE`]) reads `held`.
/// Only reads.
pub fn is_held(file: &Path) -> bool {
    fs::read(file).is_ok_and(|s| s.trim_ascii_end() == b"held")
}

/// After a release: `modprobe -r hangtrail`, then `modprobe hangtrail` (its
/// options from modprobe.d), so that this boot records: the load that held
/// the trail probes nothing, and only a new load records.
pub fn reload_module() -> Result<(), String> {
    for args in [&["-r", "hangtrail"][..], &["hangtrail"][..]] {
        let status = std::process::Command::new("modprobe")
            .args(args)
            .status()
            .map_err(|e| format!("modprobe: {e}"))?;
        if !status.success() {
            return Err(format!("modprobe {} failed ({status})", args.join(" ")));
        }
    }
    Ok(())
}

/// The journal entry for a trail that does not parse (`why`), kept raw in
/// `dir` or not written (`Err`: what, and why), with the module's verdict
/// line `dmesg` (`previous boot stopped: ...`) if the kernel log has one.
fn unparsed_entry(
    why: &str,
    kept: Result<&Path, (&Path, &io::Error)>,
    dmesg: Option<&str>,
) -> Entry {
    let head = match dmesg {
        Some(l) => format!("hangtrail: {l}; the trail does not parse ({why})"),
        None => format!("hangtrail: previous trail does not parse ({why})"),
    };
    let (tail, save_error) = match kept {
        Ok(dir) => (format!("raw copy in {}", dir.display()), None),
        Err((p, e)) => {
            let s = format!("{}: {e}", p.display());
            (format!("the trail was not saved: {s}"), Some(s))
        }
    };
    let message = format!("{head}; {tail}");
    let mut e = Entry::new();
    let mut add = |k: &str, v: &str| {
        // The names are this file's constants: valid.
        let _ = e.add(k, v);
    };
    add("MESSAGE", &message);
    add("MESSAGE_ID", MESSAGE_ID);
    // A warning; an error when the trail is not on disk.
    add("PRIORITY", if kept.is_ok() { "4" } else { "3" });
    add("SYSLOG_IDENTIFIER", "hangtrail");
    add("HANGTRAIL_VERDICT", "unparsed");
    if let Some(l) = dmesg {
        add("HANGTRAIL_DMESG", l);
    }
    if let Ok(dir) = kept {
        add("HANGTRAIL_DIR", &dir.display().to_string());
    }
    if let Some(s) = &save_error {
        add("HANGTRAIL_SAVE_ERROR", s);
    }
    e
}

fn save_unparsed(cfg: &Config, bytes: &[u8], why: String) -> Result<Saved, Failure> {
    let id = format!("unparsed-{:016x}", fnv64(bytes));
    let dir = cfg.state_dir.join(&id);
    let new = match store(&cfg.state_dir, &id, &[("previous.bin", bytes)]) {
        Ok(new) => new,
        Err((path, error)) => {
            let dmesg = dmesg_verdict(cfg.kmsg.as_deref());
            let entry = unparsed_entry(&why, Err((&path, &error)), dmesg.as_deref());
            let journal = send_required(&entry, cfg.journal.as_deref());
            return Err(Failure::Write(Unsaved {
                path,
                error,
                unparsed: Some(why),
                entry,
                has_verdict: dmesg.is_some(),
                journal,
            }));
        }
    };
    let mut journal_error = None;
    if new {
        let dmesg = dmesg_verdict(cfg.kmsg.as_deref());
        let e = unparsed_entry(&why, Ok(&dir), dmesg.as_deref());
        journal_error = send(&e, cfg.journal.as_deref());
    }
    Ok(Saved::Unparsed {
        dir,
        why,
        new,
        journal_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::scenarios;
    use std::os::unix::net::UnixDatagram;

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    fn tmp(name: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("hangtrail-save-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
    fn config(t: &Tmp, trail: &[u8]) -> Config {
        let prev = t.0.join("previous");
        fs::write(&prev, trail).unwrap();
        Config {
            previous: prev,
            state_dir: t.0.join("state"),
            kallsyms: None,
            journal: None,
            kmsg: None,
        }
    }
    /// The fields of a datagram with single-line values only.
    fn lines(d: &[u8]) -> Vec<(String, String)> {
        String::from_utf8_lossy(d)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn saves_once_and_logs_once() {
        let t = tmp("once");
        let s = scenarios::handoff();
        let mut cfg = config(&t, &s.trail);
        let map = t.0.join("System.map");
        fs::write(&map, &s.system_map).unwrap();
        cfg.kallsyms = Some(map);
        let sock = t.0.join("journal");
        let rx = UnixDatagram::bind(&sock).unwrap();
        rx.set_nonblocking(true).unwrap();
        cfg.journal = Some(sock);

        let Saved::New {
            dir,
            journal_error,
            symbols_note,
            ..
        } = save(&cfg).unwrap()
        else {
            panic!("not saved")
        };
        assert_eq!(journal_error, None);
        assert_eq!(symbols_note, None);
        assert_eq!(fs::read(dir.join("previous.bin")).unwrap(), s.trail);
        let json: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("decode.json")).unwrap()).unwrap();
        assert_eq!(json["verdict"]["state"], "handoff");
        let id = json["header"]["boot_id"].as_str().unwrap();
        assert_eq!(dir, cfg.state_dir.join(id));
        let text = fs::read_to_string(dir.join("decode.txt")).unwrap();
        assert!(text.lines().last().unwrap().starts_with("verdict: "));

        let mut buf = [0u8; 65536];
        let n = rx.recv(&mut buf).unwrap();
        let f = lines(&buf[..n]);
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("MESSAGE_ID"), Some(MESSAGE_ID));
        assert_eq!(get("HANGTRAIL_VERDICT"), Some("handoff"));
        assert_eq!(get("PRIORITY"), Some("5"));
        assert_eq!(get("HANGTRAIL_BOOT_ID"), Some(id));
        assert_eq!(get("HANGTRAIL_DIR"), Some(dir.to_str().unwrap()));
        let line = json["verdict"]["line"].as_str().unwrap();
        let line = line.strip_prefix("verdict: ").unwrap();
        assert_eq!(
            get("MESSAGE"),
            Some(format!("hangtrail: previous boot stopped: {line}").as_str())
        );
        let cpu = json["verdict"]["cpu"].as_u64().unwrap().to_string();
        assert_eq!(get("HANGTRAIL_CPU"), Some(cpu.as_str()));
        let last = &json["verdict"]["last"];
        assert_eq!(get("HANGTRAIL_PC"), last["pc_hex"].as_str());
        let sym = format!(
            "{}+{:#x}",
            last["symbol"].as_str().unwrap(),
            last["offset"].as_u64().unwrap()
        );
        assert_eq!(get("HANGTRAIL_SYMBOL"), Some(sym.as_str()));

        // Again: nothing written, nothing logged; the files are unchanged
        // even if `previous` now says something else (same boot id).
        fs::write(dir.join("decode.txt"), "edited").unwrap();
        let Saved::Already { dir: d2 } = save(&cfg).unwrap() else {
            panic!("saved twice")
        };
        assert_eq!(d2, dir);
        assert_eq!(fs::read(dir.join("decode.txt")).unwrap(), b"edited");
        assert!(rx.recv(&mut buf).is_err(), "a second journal entry");
        // No temporary directory left behind.
        let names: Vec<_> = fs::read_dir(&cfg.state_dir).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn symbols_that_do_not_fit_are_dropped() {
        let t = tmp("nofit");
        let mut cfg = config(&t, &scenarios::handoff().trail);
        let other = t.0.join("kallsyms");
        fs::write(&other, "ffffffff81000000 T other\n").unwrap();
        cfg.kallsyms = Some(other);
        let Saved::New { symbols_note, .. } = save(&cfg).unwrap() else {
            panic!("not saved")
        };
        assert!(symbols_note.unwrap().contains("decoded without symbols"));
        cfg.kallsyms = Some(t.0.join("missing"));
        cfg.state_dir = t.0.join("state2");
        let Saved::New { symbols_note, .. } = save(&cfg).unwrap() else {
            panic!("not saved")
        };
        assert!(symbols_note.unwrap().contains("No such file"));
    }

    #[test]
    fn no_trail() {
        let t = tmp("none");
        let mut cfg = config(&t, b"");
        for (prev, want) in [
            (cfg.previous.clone(), "empty"),
            (t.0.join("missing"), "found none at load"),
            (t.0.join("nodir/previous"), "not loaded"),
            (t.0.clone(), "Is a directory"),
        ] {
            cfg.previous = prev;
            match save(&cfg) {
                Err(Failure::NoTrail(m)) => assert!(m.contains(want), "{m}"),
                r => panic!("{r:?}"),
            }
        }
        assert!(!cfg.state_dir.exists());
    }

    #[test]
    fn unparsed_kept_raw_once() {
        let t = tmp("unparsed");
        let mut bad = scenarios::handoff().trail;
        bad[80] ^= 1;
        let cfg = config(&t, &bad);
        let Saved::Unparsed { dir, why, new, .. } = save(&cfg).unwrap() else {
            panic!("parsed")
        };
        assert!(new && why.contains("checksum"), "{why}");
        assert_eq!(fs::read(dir.join("previous.bin")).unwrap(), bad);
        assert!(!dir.join("decode.json").exists());
        let Saved::Unparsed { dir: d2, new, .. } = save(&cfg).unwrap() else {
            panic!("parsed")
        };
        assert!(!new);
        assert_eq!(d2, dir);
    }

    #[test]
    fn write_failure_leaves_nothing() {
        let t = tmp("wfail");
        let mut cfg = config(&t, &scenarios::handoff().trail);
        // A file where the state directory should be.
        cfg.state_dir = cfg.previous.join("state");
        assert!(matches!(save(&cfg), Err(Failure::Write(..))));
        let ro = t.0.join("ro");
        fs::create_dir(&ro).unwrap();
        cfg.state_dir = ro.clone();
        let mut p = fs::metadata(&ro).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o500);
        fs::set_permissions(&ro, p).unwrap();
        // root ignores the mode: only a non-root run can see this fail.
        if fs::write(ro.join("probe"), "").is_err() {
            assert!(matches!(save(&cfg), Err(Failure::Write(..))));
            assert_eq!(fs::read_dir(&ro).unwrap().count(), 0);
        }
    }

    /// A journal socket to receive entries on, in `t`.
    fn listen(t: &Tmp, cfg: &mut Config) -> UnixDatagram {
        let sock = t.0.join("journal");
        let _ = fs::remove_file(&sock);
        let rx = UnixDatagram::bind(&sock).unwrap();
        rx.set_nonblocking(true).unwrap();
        cfg.journal = Some(sock);
        rx
    }
    fn recv(rx: &UnixDatagram) -> Vec<(String, String)> {
        let mut buf = [0u8; 65536];
        let n = rx.recv(&mut buf).expect("a journal entry");
        lines(&buf[..n])
    }
    fn get<'a>(f: &'a [(String, String)], k: &str) -> Option<&'a str> {
        f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    /// A trail that cannot be written: nothing on disk, and an entry with
    /// the verdict and the error, at least an error; on record only when
    /// the journal took it.
    #[test]
    fn unsaved_trail_is_logged_with_the_error() {
        let t = tmp("unsaved");
        for (s, prio) in [
            (scenarios::handoff(), "3"),
            (scenarios::kexec_load_hang(), "3"),
        ] {
            let mut cfg = config(&t, &s.trail);
            // A regular file where a directory should be: fails as root too.
            cfg.state_dir = cfg.previous.join("state");
            let rx = listen(&t, &mut cfg);
            let Err(Failure::Write(u)) = save(&cfg) else {
                panic!("written")
            };
            assert!(u.on_record() && u.journal.is_ok() && u.has_verdict);
            assert_eq!(u.unparsed, None);
            assert_eq!(u.path, cfg.state_dir);
            let f = recv(&rx);
            let err = format!("{}: {}", u.path.display(), u.error);
            assert_eq!(get(&f, "HANGTRAIL_SAVE_ERROR"), Some(err.as_str()));
            assert_eq!(get(&f, "HANGTRAIL_DIR"), None);
            assert_eq!(get(&f, "PRIORITY"), Some(prio));
            assert_eq!(get(&f, "MESSAGE_ID"), Some(MESSAGE_ID));
            let d = decode(&s.trail, &Options::default()).unwrap();
            assert_eq!(get(&f, "HANGTRAIL_VERDICT"), Some(d.verdict.state.name()));
            assert_eq!(
                get(&f, "HANGTRAIL_BOOT_ID"),
                Some(boot_id_hex(&d.header.boot_id).as_str())
            );
            assert_eq!(
                get(&f, "HANGTRAIL_SUMMARY"),
                Some(d.verdict.summary.as_str())
            );
            let want = format!(
                "hangtrail: previous boot stopped: {}; the trail was not saved: {err}",
                verdict_line(&d)
            );
            assert_eq!(get(&f, "MESSAGE"), Some(want.as_str()));
            // The same fields as a saved trail's entry, but the directory.
            let saved = entry(&d, Path::new("/x"));
            let names =
                |e: &Entry| -> Vec<String> { e.fields().iter().map(|(k, _)| k.clone()).collect() };
            let mut want = names(&saved);
            want.retain(|k| k != "HANGTRAIL_DIR");
            want.push("HANGTRAIL_SAVE_ERROR".into());
            assert_eq!(names(&u.entry), want);
            assert!(!cfg.state_dir.exists());
        }
        let mut cfg = config(&t, &scenarios::handoff().trail);
        cfg.state_dir = cfg.previous.join("state");
        // No journal, or nobody listening: not on record.
        for journal in [None, Some(t.0.join("no-socket"))] {
            cfg.journal = journal;
            let Err(Failure::Write(u)) = save(&cfg) else {
                panic!("written")
            };
            assert!(u.journal.is_err() && !u.on_record(), "{:?}", u.journal);
        }
        let mut names: Vec<_> = fs::read_dir(&t.0)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["journal", "previous"], "something left on disk");
    }

    /// A trail that does not parse: the module's verdict line from the
    /// kernel log (the last), kept raw or not written.
    #[test]
    fn unparsed_gets_the_dmesg_verdict() {
        let t = tmp("dmesg");
        let mut bad = scenarios::handoff().trail;
        bad[80] ^= 1;
        let mut cfg = config(&t, &bad);
        let rx = listen(&t, &mut cfg);
        let kmsg = t.0.join("kmsg");
        fs::write(
            &kmsg,
            "6,10,1000,-;hangtrail: previous boot stopped: an older load's\n\
             6,11,1100,-;hangtrail: previous boot stopped: hung on CPU 1 after x (next expected: y); crash kernel not reached\n\
             \x20SUBSYSTEM=x\n\
             6,12,1200,-;hangtrail: holding the trail\n",
        )
        .unwrap();
        cfg.kmsg = Some(kmsg.clone());
        let line = "previous boot stopped: hung on CPU 1 after x (next expected: y); crash kernel not reached";

        let Saved::Unparsed { dir, new, why, .. } = save(&cfg).unwrap() else {
            panic!("parsed")
        };
        assert!(new);
        let f = recv(&rx);
        assert_eq!(get(&f, "HANGTRAIL_DMESG"), Some(line));
        assert_eq!(get(&f, "HANGTRAIL_VERDICT"), Some("unparsed"));
        assert_eq!(get(&f, "PRIORITY"), Some("4"));
        assert_eq!(get(&f, "HANGTRAIL_DIR"), Some(dir.to_str().unwrap()));
        assert_eq!(get(&f, "HANGTRAIL_SAVE_ERROR"), None);
        let want = format!(
            "hangtrail: {line}; the trail does not parse ({why}); raw copy in {}",
            dir.display()
        );
        assert_eq!(get(&f, "MESSAGE"), Some(want.as_str()));

        // Not written: the same line, the error, an error's priority.
        cfg.state_dir = cfg.previous.join("state");
        let Err(Failure::Write(u)) = save(&cfg) else {
            panic!("written")
        };
        assert!(u.on_record() && u.unparsed.is_some());
        let f = recv(&rx);
        assert_eq!(get(&f, "HANGTRAIL_DMESG"), Some(line));
        assert_eq!(get(&f, "PRIORITY"), Some("3"));
        assert_eq!(get(&f, "HANGTRAIL_DIR"), None);
        let err = format!("{}: {}", u.path.display(), u.error);
        assert_eq!(get(&f, "HANGTRAIL_SAVE_ERROR"), Some(err.as_str()));
        let want = format!(
            "hangtrail: {line}; the trail does not parse ({why}); the trail was not saved: {err}"
        );
        assert_eq!(get(&f, "MESSAGE"), Some(want.as_str()));

        // No such line, or no kernel log: no field, and then the verdict is
        // not on record, whatever the journal took.
        for k in [Some(t.0.join("missing")), None, Some(cfg.previous.clone())] {
            cfg.kmsg = k;
            let Err(Failure::Write(u)) = save(&cfg) else {
                panic!("written")
            };
            assert!(u.journal.is_ok() && !u.has_verdict && !u.on_record());
            let f = recv(&rx);
            assert_eq!(get(&f, "HANGTRAIL_DMESG"), None);
            assert!(get(&f, "MESSAGE")
                .unwrap()
                .starts_with("hangtrail: previous trail does not parse ("));
        }
    }

    #[test]
    fn journal_unreachable_is_reported_not_fatal() {
        let t = tmp("nojournal");
        let mut cfg = config(&t, &scenarios::kexec_load_hang().trail);
        cfg.journal = Some(t.0.join("no-socket"));
        let Saved::New {
            journal_error,
            dir,
            entry,
            ..
        } = save(&cfg).unwrap()
        else {
            panic!("not saved")
        };
        assert!(journal_error.unwrap().contains("no-socket"));
        assert!(dir.join("decode.txt").exists());
        let v = entry
            .fields()
            .iter()
            .find(|(k, _)| k == "HANGTRAIL_VERDICT");
        assert_eq!(v.map(|(_, v)| v.as_slice()), Some(&b"hung"[..]));
        let p = entry.fields().iter().find(|(k, _)| k == "PRIORITY");
        assert_eq!(p.map(|(_, v)| v.as_slice()), Some(&b"3"[..]));
    }

    #[test]
    fn releases_only_a_held_trail() {
        let t = tmp("release");
        let file = t.0.join("release");
        assert!(
            !release_held(&file).unwrap(),
            "module not loaded: nothing written"
        );
        assert!(!file.exists());
        fs::write(&file, b"none\n").unwrap();
        assert!(!release_held(&file).unwrap(), "nothing held");
        assert_eq!(fs::read(&file).unwrap(), b"none\n", "nothing written");
        fs::write(&file, b"released\n").unwrap();
        assert!(release_held(&file).unwrap(), "released by this load");
        assert_eq!(fs::read(&file).unwrap(), b"released\n", "nothing written");
        fs::write(&file, b"held\n").unwrap();
        assert!(release_held(&file).unwrap());
        // A regular file keeps the write; the kernel's parameter would read
        // `released` after it.
        assert_eq!(fs::read(&file).unwrap(), b"release\n");
        // A state it does not know is an error, and nothing is written.
        fs::write(&file, b"held by someone\n").unwrap();
        assert!(release_held(&file).is_err());
        assert_eq!(fs::read(&file).unwrap(), b"held by someone\n");
        // A file it cannot read (here: a directory) is an error.
        fs::remove_file(&file).unwrap();
        fs::create_dir(&file).unwrap();
        assert!(release_held(&file).is_err());
    }
}
