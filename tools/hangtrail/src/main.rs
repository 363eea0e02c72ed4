//! `hangtrail decode`: says where a machine hung from a hangtrail region;
//! `hangtrail save`: keeps the previous boot's trail, decoded, and logs its
//! verdict; `hangtrail setup`: reserves the region (GRUB snippet, module
//! options). See Documentation/decoder.rst.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use hangtrail::debuginfo::DebugInfo;
use hangtrail::decode::{decode, Error, Options};
use hangtrail::input::{self, Input};
use hangtrail::output::{self, Pending};
use hangtrail::render;
use hangtrail::save::{self, Failure, Saved};
use hangtrail::setup;
use hangtrail::symbols::{Source, SymbolTable};

/// Exit code: input unreadable or not a trail.
const EXIT_INPUT: u8 = 3;
/// Exit code: symbol file or vmlinux unreadable or unusable.
const EXIT_SYMBOLS: u8 = 4;
/// Exit code: a `--trace-event` or `--svg` file cannot be written.
const EXIT_OUTPUT: u8 = 5;
/// `save` exit code: no previous trail to save.
const EXIT_NO_TRAIL: u8 = 3;
/// `save` exit code: the trail does not parse (kept raw all the same, and
/// released).
const EXIT_UNPARSED: u8 = 4;
/// `save` exit code: writing the saved trail failed (released if its
/// verdict reached the journal), or `--release` was refused.
const EXIT_WRITE: u8 = 5;
/// `save --reload` exit code: the trail is saved and released, but
/// reloading hangtrail.ko failed.
const EXIT_RELOAD: u8 = 6;
/// `setup` exit code: refused (the range, a file in the way, I/O).
const EXIT_REFUSED: u8 = 1;
/// `setup` exit code: bad arguments (as clap's own usage errors).
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "hangtrail",
    version,
    about = "Decode hangtrail crash-path breadcrumbs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a region and say where the machine hung.
    Decode(DecodeArgs),
    /// Save the previous boot's trail, decoded, under DIR/BOOT-ID/ and log
    /// its verdict to the journal (once per trail).
    Save(SaveArgs),
    /// Reserve the region (Debian, GRUB, kdump-tools): write
    /// /etc/default/grub.d/zz-hangtrail.cfg,
    /// /etc/modprobe.d/hangtrail-region.conf and, with a hardware watchdog,
    /// /etc/systemd/system.conf.d/zz-hangtrail-watchdog.conf.
    Setup(SetupArgs),
}

#[derive(Args)]
struct SetupArgs {
    /// Region size: 64M, 1G, 0x4000000 or decimal; a multiple of 2 MiB.
    #[arg(long, value_name = "SIZE", default_value = setup::DEFAULT_SIZE)]
    size: String,
    /// Region address (2 MiB aligned), checked against the firmware's memory
    /// map; default: the lowest address of the highest System RAM entry at
    /// or above 4 GiB that can hold it.
    #[arg(long, value_name = "ADDR")]
    address: Option<String>,
    /// The crash kernel's memory (`crashkernel=`), a multiple of 2 MiB.
    #[arg(long, value_name = "SIZE", default_value = setup::DEFAULT_CRASHKERNEL)]
    crashkernel: String,
    /// Reserve with reserve_mem= (the kernel picks the address at boot)
    /// instead of memmap=; the default where there is no
    /// /sys/firmware/memmap (arm64).
    #[arg(long = "reserve-mem")]
    reserve_mem: bool,
    /// systemd's RuntimeWatchdogSec= for the machine's hardware watchdog
    /// (/sys/class/watchdog), seconds: a hang is reset, keeping RAM.
    #[arg(long, value_name = "SECONDS", default_value = setup::DEFAULT_WATCHDOG)]
    watchdog: String,
    /// Leave the hardware watchdog alone.
    #[arg(long = "no-watchdog")]
    no_watchdog: bool,
    /// The system's root directory: files are read and written under it.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Print what would be written; write nothing.
    #[arg(long = "dry-run")]
    dry_run: bool,
}

#[derive(Args)]
struct SaveArgs {
    /// The trail to save.
    #[arg(long, value_name = "F", default_value = save::PREVIOUS)]
    previous: PathBuf,
    /// Where saved trails go (one directory per trail).
    #[arg(long, value_name = "DIR", default_value = save::STATE_DIR)]
    dir: PathBuf,
    /// Symbols to decode with, used only if readable and matching the
    /// trail.
    #[arg(long, value_name = "F", default_value = save::KALLSYMS)]
    kallsyms: PathBuf,
    /// Decode without symbols.
    #[arg(long = "no-kallsyms")]
    no_kallsyms: bool,
    /// journald's native-protocol socket.
    #[arg(long = "journal-socket", value_name = "F", default_value = hangtrail::journal::SOCKET)]
    journal_socket: PathBuf,
    /// Send no journal entry.
    #[arg(long = "no-journal")]
    no_journal: bool,
    /// The kernel log, read for hangtrail.ko's verdict line when the trail
    /// does not parse (none there, or unreadable: no line).
    #[arg(long, value_name = "F", default_value = hangtrail::kmsg::KMSG)]
    kmsg: PathBuf,
    /// Once the trail's verdict is on record (the trail on disk, or, if it
    /// could not be written, its verdict in the journal), release it if
    /// hangtrail.ko holds it (RELEASE_FILE reads `held`), so that its next
    /// load records.
    #[arg(long)]
    release: bool,
    /// hangtrail.ko's `release` parameter.
    #[arg(long = "release-file", value_name = "F", default_value = save::RELEASE)]
    release_file: PathBuf,
    /// After a release, reload hangtrail.ko (`modprobe -r`, `modprobe`) so
    /// that this boot records: the load that held the trail records nothing.
    #[arg(long, requires = "release")]
    reload: bool,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["file", "devmem"]))]
struct DecodeArgs {
    /// Print one JSON document instead of the report.
    #[arg(long)]
    json: bool,
    /// A copy of /proc/kallsyms (from any boot of the same kernel build).
    #[arg(long, value_name = "F", conflicts_with = "system_map")]
    kallsyms: Option<PathBuf>,
    /// The kernel's System.map.
    #[arg(long = "system-map", value_name = "F")]
    system_map: Option<PathBuf>,
    /// The kernel's vmlinux (with debug info): adds file:line and the
    /// instruction at each pc.
    #[arg(long, value_name = "F")]
    vmlinux: Option<PathBuf>,
    /// Use a symbol file (or vmlinux) even if it does not match the trail's
    /// points or KASLR alignment; every name from it is marked `?`.
    #[arg(long = "force-symbols")]
    force_symbols: bool,
    /// Also write the trail as Chrome trace-event JSON to F (open it in
    /// Perfetto's UI or chrome://tracing). An existing file is replaced.
    #[arg(long = "trace-event", value_name = "F")]
    trace_event: Option<PathBuf>,
    /// Also write a one-page SVG picture of each CPU's last seconds and the
    /// verdict to F. An existing file is replaced.
    #[arg(long, value_name = "F")]
    svg: Option<PathBuf>,
    /// Region bytes: a copy of /sys/kernel/debug/hangtrail/{previous,current}
    /// or a dump of the reserved memory; `-` reads standard input. No more
    /// than the region size the header gives is read.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Read SIZE bytes at physical ADDR from /dev/mem (hex with 0x or
    /// decimal; SIZE may end in K, M or G).
    #[arg(long, value_name = "ADDR:SIZE", value_parser = parse_devmem)]
    devmem: Option<(u64, u64)>,
}

fn parse_num(s: &str) -> Result<u64, String> {
    setup::parse_number(s).map_err(|e| format!("`{}`: {e}", s.trim()))
}

fn parse_devmem(s: &str) -> Result<(u64, u64), String> {
    let (a, z) = s
        .split_once(':')
        .ok_or_else(|| "expected ADDR:SIZE".to_string())?;
    let addr = parse_num(a)?;
    let size = parse_num(z)?;
    if size == 0 {
        return Err("SIZE must not be 0".into());
    }
    if size > 1 << 32 {
        return Err("SIZE larger than 4G".into());
    }
    Ok((addr, size))
}

fn fail(what: &Path, msg: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("hangtrail: error: {}: {msg}", what.display());
    ExitCode::from(code)
}

/// The `--trace-event` and `--svg` files asked for, with their writers.
type View = fn(&hangtrail::Decoded, &mut dyn io::Write) -> io::Result<()>;

fn views(a: &DecodeArgs) -> Vec<(&Path, View)> {
    let mut v: Vec<(&Path, View)> = Vec::new();
    if let Some(p) = &a.trace_event {
        v.push((p, |d, mut w| hangtrail::trace_event::write(d, &mut w)));
    }
    if let Some(p) = &a.svg {
        v.push((p, |d, mut w| hangtrail::svg::write(d, &mut w)));
    }
    v
}

/// Writes each view to its file (all complete, then each renamed into
/// place): nothing is replaced unless every file was written.
fn write_views(d: &hangtrail::Decoded, views: &[(&Path, View)]) -> Result<(), ExitCode> {
    let mut done = Vec::new();
    for &(p, view) in views {
        let mut f = Pending::create(p).map_err(|e| fail(p, e, EXIT_OUTPUT))?;
        view(d, f.writer()).map_err(|e| fail(p, e, EXIT_OUTPUT))?;
        done.push((p, f));
    }
    for (p, f) in done {
        f.commit().map_err(|e| fail(p, e, EXIT_OUTPUT))?;
    }
    Ok(())
}

fn run(a: DecodeArgs) -> ExitCode {
    // Output files are checked before anything is read: a refusal writes
    // nothing.
    let views = views(&a);
    if let (Some(t), Some(s)) = (&a.trace_event, &a.svg) {
        if t == s {
            return fail(t, "given to both --trace-event and --svg", EXIT_OUTPUT);
        }
    }
    let inputs: Vec<&Path> = [&a.file, &a.kallsyms, &a.system_map, &a.vmlinux]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
        .collect();
    for &(p, _) in &views {
        if let Err(e) = output::check(p, &inputs) {
            return fail(p, e, EXIT_OUTPUT);
        }
    }
    let (source, bytes) = match (&a.file, a.devmem) {
        (Some(p), _) if p.as_os_str() == "-" => (
            PathBuf::from("<stdin>"),
            input::read_bounded(&mut io::stdin().lock()).map(Input::Owned),
        ),
        (Some(p), _) => (p.clone(), input::open(p)),
        (None, Some((addr, size))) => (
            PathBuf::from(format!("/dev/mem@{addr:#x}+{size:#x}")),
            input::read_devmem(addr, size).map(Input::Owned),
        ),
        (None, None) => unreachable!("clap requires an input"),
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => return fail(&source, e, EXIT_INPUT),
    };

    let sym_file = match (&a.kallsyms, &a.system_map) {
        (Some(p), _) => Some((p, Source::Kallsyms)),
        (None, Some(p)) => Some((p, Source::SystemMap)),
        (None, None) => None,
    };
    let table = match sym_file {
        Some((p, kind)) => {
            let text = match std::fs::read(p) {
                Ok(t) => t,
                Err(e) => return fail(p, e, EXIT_SYMBOLS),
            };
            match SymbolTable::parse_bytes(&text, kind) {
                Ok(t) => Some(t),
                Err(e) => return fail(p, e, EXIT_SYMBOLS),
            }
        }
        None => None,
    };
    let debug = match &a.vmlinux {
        Some(p) => match DebugInfo::open(p) {
            Ok(d) => Some(d),
            Err(e) => return fail(p, e, EXIT_SYMBOLS),
        },
        None => None,
    };

    let opts = Options {
        symbols: table.as_ref(),
        debug: debug.as_ref(),
        force_symbols: a.force_symbols,
    };
    let d = match decode(&bytes, &opts) {
        Ok(d) => d,
        Err(e @ Error::Header(_)) => return fail(&source, e, EXIT_INPUT),
        Err(e @ Error::Symbols(_)) => {
            let p = sym_file.map_or(source.as_path(), |(p, _)| p.as_path());
            return fail(p, e, EXIT_SYMBOLS);
        }
        Err(e @ Error::Vmlinux(_)) => {
            let p = a.vmlinux.as_deref().unwrap_or(source.as_path());
            return fail(p, e, EXIT_SYMBOLS);
        }
    };

    if let Err(code) = write_views(&d, &views) {
        return code;
    }

    let stdout = io::stdout();
    // A large trail's report is tens of MiB: 1 MiB writes, not 8 KiB ones.
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let r = if a.json {
        render::json(&d, &mut out)
    } else {
        render::text(&d, &source.display().to_string(), &mut out)
    };
    let r = r.and_then(|()| out.flush());
    // The process exits next: freeing a million records one by one (and
    // unmapping their pages) is work for nothing.
    std::mem::forget(d);
    match r {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not an error worth a message.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hangtrail: error: stdout: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_save(a: SaveArgs) -> ExitCode {
    let cfg = save::Config {
        previous: a.previous,
        state_dir: a.dir,
        kallsyms: (!a.no_kallsyms).then_some(a.kallsyms),
        journal: (!a.no_journal).then_some(a.journal_socket),
        kmsg: Some(a.kmsg.clone()),
    };
    let warn = |e: Option<String>| {
        if let Some(e) = e {
            eprintln!("hangtrail: warning: {e}");
        }
    };
    let release_file = a.release.then_some(a.release_file.as_path());
    // The policy: the trail is released once its verdict is on record
    // (saved, kept raw, or in the journal entry saying it could not be
    // written); the exit code is the save's failure's even then.
    match save::save(&cfg) {
        Ok(Saved::New {
            dir,
            line,
            symbols_note,
            journal_error,
            ..
        }) => {
            warn(symbols_note);
            warn(journal_error);
            println!("hangtrail: saved {}: {line}", dir.display());
            report(release(release_file, a.reload))
        }
        Ok(Saved::Already { dir }) => {
            println!(
                "hangtrail: {} already holds this trail; nothing to do",
                dir.display()
            );
            report(release(release_file, a.reload))
        }
        Ok(Saved::Unparsed {
            dir,
            why,
            new,
            journal_error,
        }) => {
            warn(journal_error);
            let kept = if new {
                "kept raw in"
            } else {
                "already kept in"
            };
            eprintln!(
                "hangtrail: error: {}: {why}; {kept} {}",
                cfg.previous.display(),
                dir.display()
            );
            // Kept raw: on record. A failed release says so, but the exit
            // code stays this one.
            report(release(release_file, a.reload));
            ExitCode::from(EXIT_UNPARSED)
        }
        Err(e @ Failure::NoTrail(_)) => {
            eprintln!("hangtrail: {e}");
            ExitCode::from(EXIT_NO_TRAIL)
        }
        Err(Failure::Write(u)) => {
            let what = match &u.unparsed {
                Some(why) => format!("{}: {why}; could not keep it raw", cfg.previous.display()),
                None => "could not save the trail".into(),
            };
            let head = format!(
                "hangtrail: error: {what} ({}: {})",
                u.path.display(),
                u.error
            );
            if u.on_record() {
                let tail = match release(release_file, a.reload) {
                    Release::NotAsked | Release::NothingHeld => String::new(),
                    Release::Released => ": released, hangtrail.ko's next load records".into(),
                    Release::Reloaded => ": released, this boot records".into(),
                    Release::ReloadFailed(e) => {
                        format!(": released, but reloading hangtrail.ko: {e}")
                    }
                    Release::Failed(e) => format!(", but releasing it failed ({e})"),
                };
                eprintln!("{head}; its verdict is in the journal{tail}");
            } else {
                let why = match &u.journal {
                    Err(e) => format!("the journal did not take it either ({e})"),
                    Ok(()) => format!(
                        "its journal entry has no verdict (the trail does not parse, and {} \
                         has no `hangtrail: previous boot stopped:` line)",
                        a.kmsg.display()
                    ),
                };
                let held = if save::is_held(&a.release_file) {
                    format!(
                        ": the trail stays held, nothing records until it is saved or \
                         released (echo release > {})",
                        a.release_file.display()
                    )
                } else {
                    String::new()
                };
                eprintln!("{head}; {why}{held}");
            }
            ExitCode::from(EXIT_WRITE)
        }
    }
}

/// What `--release` (and `--reload`) did.
enum Release {
    /// No `--release`.
    NotAsked,
    /// Nothing held (the module not loaded, or `release` reads `none`).
    NothingHeld,
    /// Released (or already by this load): the module's next load records.
    Released,
    /// Released and reloaded: this boot records.
    Reloaded,
    /// Released, but the reload failed: why.
    ReloadFailed(String),
    /// The release failed: why (`FILE: error`).
    Failed(String),
}

/// `save --release` once the trail's verdict is on record.
fn release(file: Option<&Path>, reload: bool) -> Release {
    let Some(file) = file else {
        return Release::NotAsked;
    };
    match save::release_held(file) {
        Ok(true) if !reload => Release::Released,
        Ok(true) => match save::reload_module() {
            Ok(()) => Release::Reloaded,
            Err(e) => Release::ReloadFailed(e),
        },
        Ok(false) => Release::NothingHeld,
        Err(e) => Release::Failed(format!("{}: {e}", file.display())),
    }
}

/// Says what a release after a save did: a trail that cannot be released
/// is still saved, but the module keeps holding it (exit code 5); a failed
/// reload is exit code 6.
fn report(r: Release) -> ExitCode {
    match r {
        Release::NotAsked | Release::NothingHeld => ExitCode::SUCCESS,
        Release::Released => {
            println!("hangtrail: released the held trail: hangtrail.ko's next load records");
            ExitCode::SUCCESS
        }
        Release::Reloaded => {
            println!("hangtrail: released the held trail and reloaded hangtrail.ko: recording");
            ExitCode::SUCCESS
        }
        Release::ReloadFailed(e) => {
            eprintln!("hangtrail: error: released the held trail, but reloading hangtrail.ko: {e}");
            ExitCode::from(EXIT_RELOAD)
        }
        Release::Failed(e) => {
            eprintln!("hangtrail: error: {e}");
            ExitCode::from(EXIT_WRITE)
        }
    }
}

fn run_setup(a: SetupArgs) -> ExitCode {
    let req = setup::Request {
        size: &a.size,
        address: a.address.as_deref(),
        crashkernel: &a.crashkernel,
        reserve_mem: a.reserve_mem,
        watchdog: (!a.no_watchdog).then_some(a.watchdog.as_str()),
        root: &a.root,
    };
    let result = setup::plan(&req).and_then(|plan| {
        if !a.dry_run {
            setup::write(&plan)?;
        }
        Ok(plan)
    });
    let plan = match result {
        Ok(p) => p,
        Err(e) => {
            eprintln!("hangtrail: setup: {e}");
            return ExitCode::from(match e {
                setup::Error::Usage(_) => EXIT_USAGE,
                setup::Error::Refused(_) => EXIT_REFUSED,
            });
        }
    };
    let region = match (&plan.region, &plan.within) {
        (setup::Region::Memmap { address, size }, Some(e)) => format!(
            "{address:#x}-{:#x} ({}), inside {e} of the firmware's memory map",
            address + (size - 1),
            setup::human(*size)
        ),
        (r, _) => format!("{} (the kernel picks the address at boot)", r.kernel_arg()),
    };
    println!("hangtrail: setup: region {region}");
    if let setup::Region::Memmap { address, .. } = plan.region {
        if address < setup::LOW_LIMIT {
            eprintln!("hangtrail: warning: {address:#x} is below 4 GiB, where UEFI firmware and the boot loader allocate memory at every boot: the region could be overwritten at the next warm reset");
        }
    }
    if a.dry_run {
        for (path, content) in &plan.files {
            println!("would write {}:", path.display());
            print!("{content}");
        }
        println!("hangtrail: setup: dry run: nothing written");
        return ExitCode::SUCCESS;
    }
    let kernel = format!(
        "{} crashkernel={}",
        plan.region.kernel_arg(),
        setup::human(plan.crashkernel)
    );
    let (grub, conf) = (&plan.files[0].0, &plan.files[1].0);
    println!("hangtrail: setup: wrote {}: {kernel}", grub.display());
    println!(
        "hangtrail: setup: wrote {}: {}",
        conf.display(),
        plan.region.options_line()
    );
    match (&plan.watchdog, plan.files.get(2)) {
        (Some((dev, secs)), Some((path, _))) => println!(
            "hangtrail: setup: wrote {}: RuntimeWatchdogSec={secs}s ({dev})",
            path.display()
        ),
        _ if a.no_watchdog => {}
        _ => println!("hangtrail: setup: no hardware watchdog (/sys/class/watchdog): a hang stays hung until the BMC or someone resets the machine (load its driver, e.g. iTCO_wdt, ipmi_watchdog, sbsa_gwdt, and run setup again)"),
    }
    println!("next: update-grub");
    println!("then reboot: the new command line and module options take effect at the next boot");
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Decode(a) => run(a),
        Command::Save(a) => run_save(a),
        Command::Setup(a) => run_setup(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devmem_argument() {
        assert_eq!(parse_devmem("0x81000000:1M"), Ok((0x8100_0000, 1 << 20)));
        assert_eq!(parse_devmem("4096:0x2000"), Ok((4096, 0x2000)));
        assert_eq!(parse_devmem("0x1000:64k"), Ok((0x1000, 65536)));
        assert!(parse_devmem("0x1000").is_err());
        assert!(parse_devmem("0x1000:0").is_err());
        assert!(parse_devmem("zz:1M").is_err());
        assert!(parse_devmem("0x1000:99999999999G").is_err());
    }
}
