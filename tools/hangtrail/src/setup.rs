//! `hangtrail setup`: the administrator's part of reserving the region on a
//! Debian server with GRUB and kdump-tools. Two files, under a root
//! directory (`/` on the host):
//!
//! - [`GRUB_FILE`]: appends the region's reservation and `crashkernel=` to
//!   `GRUB_CMDLINE_LINUX_DEFAULT`. Named to sort last: `grub-mkconfig`
//!   sources `/etc/default/grub.d/*.cfg` in glob order, so it comes after
//!   kdump-tools' `kdump-tools.cfg` (which appends `crashkernel=512M-:192M`),
//!   and the kernel takes the last `crashkernel=`.
//! - [`MODPROBE_FILE`]: hangtrail.ko's options for that region.
//! - [`WATCHDOG_FILE`], when the machine has a hardware watchdog
//!   (`ROOT/sys/class/watchdog/watchdogN`) and `--no-watchdog` is not
//!   given: systemd's `RuntimeWatchdogSec=`, so that a machine whose crash
//!   path hangs (every CPU stopped or spinning with interrupts masked:
//!   nothing else can reset it) is reset by the watchdog, keeping RAM, and
//!   the next boot finds the trail. The crash kernel's systemd reads the
//!   same file and keeps pinging through the dump.
//!
//! The region is reserved one of two ways:
//!
//! - memmap (x86_64: `ROOT/sys/firmware/memmap` exists):
//!   `memmap=SIZE%ADDR-1+2`, the e820 type conversion of
//!   `arch/x86/kernel/e820.c` `parse_memmap_one()`: the usable RAM (type 1)
//!   of `[ADDR, ADDR+SIZE)` becomes reserved (type 2). Unlike
//!   `memmap=SIZE$ADDR` it has no `$`, which kdump-config's `eval` of the
//!   crash kernel's command line (and GRUB) would expand. The range must lie
//!   inside one "System RAM" entry of the firmware's memory map
//!   (`/sys/firmware/memmap`: the e820 table as the boot loader passed it,
//!   before `memmap=` changed it; `drivers/firmware/memmap.c`).
//! - reserve-mem (`--reserve-mem`, or no firmware map, e.g. arm64 UEFI/ACPI
//!   servers): `reserve_mem=SIZE:2M:hangtrail`, the kernel picks the address
//!   at boot, and the module finds it with `mem_name=hangtrail`.
//!
//! Each file is written whole or not at all ([`crate::output::Pending`]: a
//! temporary file beside it, synced, renamed), and a file of that name is
//! replaced only if its first line is [`MARKER`].

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::output::Pending;

/// The GRUB snippet, under the root.
pub const GRUB_FILE: &str = "etc/default/grub.d/zz-hangtrail.cfg";
/// hangtrail.ko's options, under the root.
pub const MODPROBE_FILE: &str = "etc/modprobe.d/hangtrail-region.conf";
/// systemd's hardware watchdog setting, under the root.
pub const WATCHDOG_FILE: &str = "etc/systemd/system.conf.d/zz-hangtrail-watchdog.conf";
/// Where the kernel lists watchdog devices, under the root.
pub const WATCHDOG_CLASS: &str = "sys/class/watchdog";
/// Default `RuntimeWatchdogSec=`, seconds: the crash kernel must reach its
/// systemd (which pets the watchdog) within about twice this, less the half
/// that may have passed since the last ping; 60 s was too short for a crash
/// kernel under TCG on a loaded host (quickstart/x86_64 in CI).
pub const DEFAULT_WATCHDOG: &str = "120";
/// The directory whose `*.conf` files modprobe reads, under the root.
pub const MODPROBE_DIR: &str = "etc/modprobe.d";
/// The firmware's memory map, under the root.
pub const FIRMWARE_MAP: &str = "sys/firmware/memmap";
/// How every file setup writes begins: a file of the same name is replaced
/// only if its first line starts with this.
pub const MARKER: &str = "# Written by hangtrail setup";
/// The `reserve_mem=` name (and `mem_name=`).
pub const RESERVE_MEM_NAME: &str = "hangtrail";
/// Default region size.
pub const DEFAULT_SIZE: &str = "64M";
/// Default `crashkernel=`.
pub const DEFAULT_CRASHKERNEL: &str = "512M";
/// The firmware map's type of usable RAM (`e820_type_to_string()`).
pub const SYSTEM_RAM: &str = "System RAM";

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// Sizes and addresses are multiples of this (a huge page; also the
/// `reserve_mem=` alignment).
pub const ALIGN: u64 = 2 * MIB;
/// A region picked without `--address` starts at or above this.
pub const LOW_LIMIT: u64 = 4 * GIB;

/// Why setup did nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// Bad arguments (exit code 2).
    Usage(String),
    /// Refused: the range is not usable RAM, a file is in the way, an I/O
    /// error (exit code 1).
    Refused(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Refused(m) => f.write_str(m),
        }
    }
}

fn refused(what: &Path, e: impl fmt::Display) -> Error {
    Error::Refused(format!("{}: {e}", what.display()))
}

/// A byte count or address: decimal, or hex with `0x`, optionally ending in
/// `K`, `M` or `G` (powers of 1024).
pub fn parse_number(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, mult) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], MIB),
        Some((i, 'G' | 'g')) => (&s[..i], GIB),
        _ => (s, 1),
    };
    let (digits, radix) = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(h) => (h, 16),
        None => (digits, 10),
    };
    // from_str_radix alone would take a sign.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err("not a number (64M, 1G, 0x4000000 or decimal)".into());
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .and_then(|v| v.checked_mul(mult))
        .ok_or_else(|| "too large".to_string())
}

/// `64M`, `1G`: a multiple of 2 MiB as the kernel's `memparse()` reads it.
pub fn human(n: u64) -> String {
    if n.is_multiple_of(GIB) {
        format!("{}G", n / GIB)
    } else if n.is_multiple_of(MIB) {
        format!("{}M", n / MIB)
    } else {
        format!("{n:#x}")
    }
}

/// A `--size` or `--crashkernel` value: not 0, a multiple of 2 MiB.
fn size_arg(flag: &str, s: &str) -> Result<u64, Error> {
    let usage = |m: &str| Error::Usage(format!("{flag} {s}: {m}"));
    let v = parse_number(s).map_err(|e| usage(&e))?;
    if v == 0 {
        return Err(usage("must not be 0"));
    }
    if !v.is_multiple_of(ALIGN) {
        return Err(usage("not a multiple of 2 MiB"));
    }
    Ok(v)
}

/// An `--address`: 2 MiB aligned, and `[ADDR, ADDR+SIZE)` inside the 64-bit
/// address space.
fn address_arg(s: &str, size: u64) -> Result<u64, Error> {
    let usage = |m: &str| Error::Usage(format!("--address {s}: {m}"));
    let v = parse_number(s).map_err(|e| usage(&e))?;
    if !v.is_multiple_of(ALIGN) {
        return Err(usage("not 2 MiB aligned"));
    }
    if v.checked_add(size - 1).is_none() {
        return Err(usage(&format!(
            "with --size {}, the range passes the end of the 64-bit address space",
            human(size)
        )));
    }
    Ok(v)
}

/// The region and how the kernel reserves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// `memmap=SIZE%ADDR-1+2`, `mem_address=ADDR mem_size=SIZE`.
    Memmap {
        /// Physical address.
        address: u64,
        /// Bytes.
        size: u64,
    },
    /// `reserve_mem=SIZE:2M:hangtrail`, `mem_name=hangtrail`.
    ReserveMem {
        /// Bytes.
        size: u64,
    },
}

impl Region {
    /// The kernel command line argument that reserves it.
    pub fn kernel_arg(&self) -> String {
        match *self {
            Region::Memmap { address, size } => {
                format!("memmap={}%{address:#x}-1+2", human(size))
            }
            Region::ReserveMem { size } => format!(
                "reserve_mem={}:{}:{RESERVE_MEM_NAME}",
                human(size),
                human(ALIGN)
            ),
        }
    }

    /// The `options hangtrail` line.
    pub fn options_line(&self) -> String {
        let region = match *self {
            Region::Memmap { address, size } => {
                format!("mem_address={address:#x} mem_size={size:#x}")
            }
            Region::ReserveMem { .. } => format!("mem_name={RESERVE_MEM_NAME}"),
        };
        format!("options hangtrail {region} crash_marks=1")
    }
}

/// `GRUB_FILE`'s content.
pub fn grub_snippet(region: &Region, crashkernel: u64) -> String {
    let how = match region {
        Region::Memmap { .. } => {
            "# memmap=SIZE%ADDR-1+2 turns the usable RAM (e820 type 1) of [ADDR, ADDR+SIZE)\n\
             # into reserved (type 2). It has no \"$\" (memmap=SIZE$ADDR has one), which\n\
             # kdump-config's eval of the crash kernel's command line would expand.\n"
        }
        Region::ReserveMem { .. } => {
            "# reserve_mem=SIZE:2M:hangtrail sets SIZE bytes of RAM aside at boot, at an\n\
             # address the kernel picks; hangtrail.ko finds it by name (mem_name=hangtrail).\n"
        }
    };
    format!(
        "{MARKER}; running it again replaces this file.\n\
         # The hangtrail region and the crash kernel's memory on the kernel command\n\
         # line: update-grub writes them into grub.cfg, the next boot uses them.\n\
         # The name sorts last: grub-mkconfig sources /etc/default/grub.d/*.cfg in\n\
         # glob order, so this comes after kdump-tools.cfg and its crashkernel= is the\n\
         # last one on the command line, the one the kernel takes.\n\
         {how}\
         GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT {} crashkernel={}\"\n",
        region.kernel_arg(),
        human(crashkernel)
    )
}

/// `MODPROBE_FILE`'s content.
pub fn modprobe_conf(region: &Region) -> String {
    format!(
        "{MARKER}; running it again replaces this file.\n\
         # hangtrail.ko's region, which /etc/default/grub.d/zz-hangtrail.cfg reserves:\n\
         # {}\n\
         # For the load at boot and in the crash kernel (the kdump initramfs copies\n\
         # /etc/modprobe.d/*.conf). Set the region in no other file there: modprobe\n\
         # merges every \"options hangtrail\" line.\n\
         {}\n",
        region.kernel_arg(),
        region.options_line()
    )
}

/// One entry of the firmware's memory map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapEntry {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive, as the map has it).
    pub end: u64,
    /// `System RAM`, `Reserved`, `ACPI Tables`, ...
    pub kind: String,
}

impl fmt::Display for MapEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" {:#x}-{:#x}", self.kind, self.start, self.end)
    }
}

impl MapEntry {
    fn is_ram(&self) -> bool {
        self.kind == SYSTEM_RAM
    }
}

/// `/sys/firmware/memmap/N/{start,end,type}` as `drivers/firmware/memmap.c`
/// writes them: `0x%llx\n`, `0x%llx\n` (the last byte), the type and `\n`.
/// Sorted by address. Any entry that is not so is an error naming its file.
pub fn read_firmware_map(dir: &Path) -> Result<Vec<MapEntry>, Error> {
    let mut map = Vec::new();
    for d in fs::read_dir(dir).map_err(|e| refused(dir, e))? {
        let d = d.map_err(|e| refused(dir, e))?;
        let name = d.file_name();
        // The kernel names entries by number ("%d"); nothing else is one.
        if !name
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let entry = d.path();
        let read = |f: &str| -> Result<(PathBuf, String), Error> {
            let p = entry.join(f);
            let text = fs::read_to_string(&p).map_err(|e| refused(&p, e))?;
            let text = text.strip_suffix('\n').unwrap_or(&text).to_string();
            if text.is_empty() {
                return Err(refused(&p, "empty"));
            }
            Ok((p, text))
        };
        let hex = |(p, text): (PathBuf, String)| -> Result<u64, Error> {
            text.strip_prefix("0x")
                .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .ok_or_else(|| refused(&p, format!("{text:?} is not a hex address (0x...)")))
        };
        let start = hex(read("start")?)?;
        let end = hex(read("end")?)?;
        let (_, kind) = read("type")?;
        if end < start {
            return Err(refused(
                &entry,
                format!("end {end:#x} is below start {start:#x}"),
            ));
        }
        map.push(MapEntry { start, end, kind });
    }
    if map.is_empty() {
        return Err(refused(dir, "no entries"));
    }
    map.sort_by_key(|e| (e.start, e.end));
    Ok(map)
}

/// Whether `[address, last]` lies inside one "System RAM" entry and in no
/// other kind; if not, where it falls. `map` is sorted by start, as
/// [`read_firmware_map`] returns it.
pub fn check_range(map: &[MapEntry], address: u64, last: u64) -> Result<&MapEntry, String> {
    let over: Vec<&MapEntry> = map
        .iter()
        .filter(|e| e.start <= last && e.end >= address)
        .collect();
    let inside = over
        .iter()
        .find(|e| e.is_ram() && e.start <= address && e.end >= last);
    if let Some(e) = inside {
        if over.iter().all(|e| e.is_ram()) {
            return Ok(e);
        }
    }
    // Is every byte in some entry? `next`: the first byte not yet seen in
    // one (None: past the top of the address space); `over` is sorted.
    let mut next = Some(address);
    for e in &over {
        match next {
            Some(n) if e.start <= n => next = e.end.checked_add(1).map(|after| after.max(n)),
            _ => break,
        }
    }
    let covered = next.is_none_or(|n| n > last);
    let list = over
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Err(match (over.len(), covered) {
        (0, _) => "in no entry".to_string(),
        (1, true) => format!("in {list}"),
        (_, true) => format!("across entries {list}"),
        (_, false) => format!("partly in {list}, partly in no entry"),
    })
}

/// The lowest 2 MiB-aligned address, at or above `size` (see
/// [`kaslr_limit`]), of the highest "System RAM" entry that starts at or
/// above 4 GiB and can hold `size` bytes there.
pub fn pick_address(map: &[MapEntry], size: u64) -> Option<(u64, &MapEntry)> {
    if size == 0 {
        return None;
    }
    map.iter()
        .filter(|e| e.is_ram() && e.start >= LOW_LIMIT)
        .filter_map(|e| {
            let a = e.start.checked_next_multiple_of(ALIGN)?.max(size);
            let last = a.checked_add(size - 1)?;
            (last <= e.end && check_range(map, a, last).is_ok()).then_some((a, e))
        })
        .max_by_key(|(_, e)| e.start)
}

/// Why a `memmap=` region may not start below its own size: the x86 boot
/// decompressor's KASLR (`arch/x86/boot/compressed/kaslr.c`,
/// `parse_memmap()`) knows the `@ # $ !` forms only and takes any other
/// `memmap=SIZE...` as a memory limit of SIZE, so it places the kernel image
/// below SIZE (or, with no room there, where the boot loader put it).
fn kaslr_limit(address: u64, last: u64, size: u64) -> Result<(), Error> {
    if address >= size {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "{address:#x}-{last:#x} starts below its own size ({}): the x86 boot code's KASLR reads memmap={}%... as a memory limit of {} and may decompress the kernel there; give an --address at or above {size:#x}",
        human(size),
        human(size),
        human(size)
    )))
}

/// `--watchdog SECONDS`: 10 to 3600 (a watchdog that fires before a busy
/// machine's next ping resets a healthy one; drivers cap their timeouts).
fn watchdog_arg(s: &str) -> Result<u64, Error> {
    let n = s
        .trim()
        .parse::<u64>()
        .map_err(|_| Error::Usage(format!("--watchdog {}: not a number of seconds", s.trim())))?;
    if !(10..=3600).contains(&n) {
        return Err(Error::Usage(format!(
            "--watchdog {n}: give 10 to 3600 seconds"
        )));
    }
    Ok(n)
}

/// The first hardware watchdog the kernel lists (`watchdogN`, lowest N:
/// systemd opens `/dev/watchdog0`), as `watchdogN (IDENTITY)`; `None` if
/// there is none.
fn find_watchdog(root: &Path) -> Result<Option<String>, Error> {
    let class = root.join(WATCHDOG_CLASS);
    let entries = match fs::read_dir(&class) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refused(&class, e)),
    };
    let mut found: Vec<(u32, String)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name.strip_prefix("watchdog")?.parse().ok()?;
            Some((n, name))
        })
        .collect();
    found.sort();
    Ok(found.into_iter().next().map(|(_, name)| {
        let id = fs::read_to_string(class.join(&name).join("identity")).unwrap_or_default();
        match id.trim() {
            "" => name,
            id => format!("{name} ({id})"),
        }
    }))
}

/// `WATCHDOG_FILE`'s content.
pub fn watchdog_conf(device: &str, secs: u64) -> String {
    format!(
        "{MARKER}; running it again replaces this file.
# systemd pings the hardware watchdog ({device}) every {half} s. If the
# machine hangs on its way to the crash kernel (CPUs stopped or spinning with
# interrupts masked: no panic=N, no sysrq-b), nobody pings it and it resets
# the machine, keeping RAM (a warm reset: the next boot finds hangtrail's
# trail) {secs} s later, or twice that for two-stage timers (iTCO_wdt,
# i6300esb). The crash kernel's systemd reads this file too and pings it
# through the dump. hangtrail setup --no-watchdog leaves it out.
[Manager]
RuntimeWatchdogSec={secs}s
",
        half = secs / 2
    )
}

/// What `hangtrail setup` was asked for (the arguments as given).
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// `--size`.
    pub size: &'a str,
    /// `--address`.
    pub address: Option<&'a str>,
    /// `--crashkernel`.
    pub crashkernel: &'a str,
    /// `--reserve-mem`.
    pub reserve_mem: bool,
    /// `--watchdog` (seconds), or `None` for `--no-watchdog`.
    pub watchdog: Option<&'a str>,
    /// `--root`.
    pub root: &'a Path,
}

/// What setup will write, every check passed.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The region.
    pub region: Region,
    /// The firmware map's entry the region lies in (memmap).
    pub within: Option<MapEntry>,
    /// `crashkernel=` bytes.
    pub crashkernel: u64,
    /// The hardware watchdog systemd will ping (its name and `identity`)
    /// and the timeout, if [`WATCHDOG_FILE`] is written.
    pub watchdog: Option<(String, u64)>,
    /// Each file (under the root) and its content.
    pub files: Vec<(PathBuf, String)>,
}

/// Checks the request and the system under its root; nothing is written.
pub fn plan(req: &Request) -> Result<Plan, Error> {
    let size = size_arg("--size", req.size)?;
    let crashkernel = size_arg("--crashkernel", req.crashkernel)?;
    let address = req.address.map(|a| address_arg(a, size)).transpose()?;
    if req.reserve_mem && address.is_some() {
        return Err(Error::Usage(
            "--address cannot be used with --reserve-mem: with reserve_mem= the kernel picks the address at boot".into(),
        ));
    }
    let map_dir = req.root.join(FIRMWARE_MAP);
    let has_map = match fs::metadata(&map_dir) {
        Ok(_) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(refused(&map_dir, e)),
    };
    let (region, within) = if req.reserve_mem || !has_map {
        if let Some(a) = address {
            return Err(Error::Refused(format!(
                "--address {a:#x}: there is no firmware memory map ({}) to check it against; without --address, setup reserves the region with reserve_mem= (the kernel picks the address at boot)",
                map_dir.display()
            )));
        }
        (Region::ReserveMem { size }, None)
    } else {
        let map = read_firmware_map(&map_dir)?;
        let (address, within) = match address {
            Some(a) => {
                let last = a + (size - 1);
                let e = check_range(&map, a, last).map_err(|at| {
                    Error::Refused(format!(
                        "{a:#x}-{last:#x} is not usable RAM in the firmware's memory map ({}): {at}",
                        map_dir.display()
                    ))
                })?;
                kaslr_limit(a, last, size)?;
                (a, e.clone())
            }
            None => {
                let (a, e) = pick_address(&map, size).ok_or_else(|| {
                    Error::Refused(format!(
                        "no \"{SYSTEM_RAM}\" entry at or above 4 GiB in the firmware's memory map ({}) can hold {} (below 4 GiB, UEFI firmware and the boot loader allocate memory at every boot, so a region there could be overwritten at the next warm reset): give --address to choose a range inside one \"{SYSTEM_RAM}\" entry yourself",
                        map_dir.display(),
                        human(size)
                    ))
                })?;
                (a, e.clone())
            }
        };
        (Region::Memmap { address, size }, Some(within))
    };
    check_modprobe_d(req.root)?;
    let watchdog = match req.watchdog {
        Some(t) => {
            let secs = watchdog_arg(t)?;
            find_watchdog(req.root)?.map(|dev| (dev, secs))
        }
        None => None,
    };
    let mut files = vec![
        (req.root.join(GRUB_FILE), grub_snippet(&region, crashkernel)),
        (req.root.join(MODPROBE_FILE), modprobe_conf(&region)),
    ];
    if let Some((dev, secs)) = &watchdog {
        files.push((req.root.join(WATCHDOG_FILE), watchdog_conf(dev, *secs)));
    }
    for (p, _) in &files {
        check_replaceable(p)?;
    }
    Ok(Plan {
        region,
        within,
        crashkernel,
        watchdog,
        files,
    })
}

/// Refuses a file setup did not write.
fn check_replaceable(path: &Path) -> Result<(), Error> {
    match fs::read(path) {
        Ok(bytes) if bytes.starts_with(MARKER.as_bytes()) => Ok(()),
        Ok(_) => Err(refused(
            path,
            "exists and was not written by hangtrail setup (its first line is not \"# Written by hangtrail setup...\"): move it away, then run setup again",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(refused(path, e)),
    }
}

/// The first line (continuations joined) of a modprobe.d file that is an
/// `options hangtrail` line setting `mem_address`, `mem_size` or
/// `mem_name` (`-` and `_` are the same in parameter names).
pub fn region_options(text: &str) -> Option<String> {
    let mut line = String::new();
    for l in text.lines() {
        // kmod joins a line ending in `\` with the next.
        if let Some(head) = l.strip_suffix('\\') {
            line.push_str(head);
            line.push(' ');
            continue;
        }
        line.push_str(l);
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["options", "hangtrail", params @ ..] = words.as_slice() {
            let sets = params.iter().any(|p| {
                let name = p.split('=').next().unwrap_or("").replace('-', "_");
                matches!(name.as_str(), "mem_address" | "mem_size" | "mem_name")
            });
            if sets {
                return Some(words.join(" "));
            }
        }
        line.clear();
    }
    None
}

/// Refuses when another `ROOT/etc/modprobe.d/*.conf` sets the region.
fn check_modprobe_d(root: &Path) -> Result<(), Error> {
    let dir = root.join(MODPROBE_DIR);
    let ours = root.join(MODPROBE_FILE);
    let entries = match fs::read_dir(&dir) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(refused(&dir, e)),
    };
    let mut files = Vec::new();
    for d in entries {
        let p = d.map_err(|e| refused(&dir, e))?.path();
        if p.extension().is_some_and(|x| x == "conf") && p != ours && !p.is_dir() {
            files.push(p);
        }
    }
    files.sort();
    for p in files {
        let bytes = fs::read(&p).map_err(|e| refused(&p, e))?;
        if let Some(line) = region_options(&String::from_utf8_lossy(&bytes)) {
            return Err(refused(
                &p,
                format!("already sets the region (`{line}`), and modprobe merges every `options hangtrail` line: remove it there, then run setup again"),
            ));
        }
    }
    Ok(())
}

/// Writes the plan's files: each whole or not at all.
pub fn write(plan: &Plan) -> Result<(), Error> {
    for (path, content) in &plan.files {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| refused(dir, e))?;
        let mut f = Pending::create(path).map_err(|e| refused(path, e))?;
        f.writer()
            .write_all(content.as_bytes())
            .map_err(|e| refused(path, e))?;
        f.commit().map_err(|e| refused(path, e))?;
        // The rename itself on disk.
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| refused(dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ram(start: u64, end: u64) -> MapEntry {
        entry(start, end, SYSTEM_RAM)
    }

    fn entry(start: u64, end: u64, kind: &str) -> MapEntry {
        MapEntry {
            start,
            end,
            kind: kind.into(),
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hangtrail-setup-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("creates");
        d
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("64M"), Ok(64 << 20));
        assert_eq!(parse_number("1G"), Ok(1 << 30));
        assert_eq!(parse_number("0x4000000"), Ok(0x400_0000));
        assert_eq!(parse_number("0X10m"), Ok(16 << 20));
        assert_eq!(parse_number("67108864"), Ok(64 << 20));
        assert_eq!(parse_number(" 2k "), Ok(2048));
        for bad in [
            "", "M", "0x", "0xM", "+5", "-1", "0x+5", "12T", "1.5G", "zz",
        ] {
            assert_eq!(
                parse_number(bad),
                Err("not a number (64M, 1G, 0x4000000 or decimal)".into()),
                "{bad:?}"
            );
        }
        assert_eq!(parse_number("99999999999G"), Err("too large".into()));
        assert_eq!(parse_number("0x10000000000000000"), Err("too large".into()));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(64 << 20), "64M");
        assert_eq!(human(512 << 20), "512M");
        assert_eq!(human(2 << 30), "2G");
        assert_eq!(human(1536 << 20), "1536M");
    }

    #[test]
    fn sizes_and_addresses() {
        assert_eq!(size_arg("--size", "2M"), Ok(2 << 20));
        let e = |m: &str| Err(Error::Usage(m.into()));
        assert_eq!(size_arg("--size", "0"), e("--size 0: must not be 0"));
        assert_eq!(
            size_arg("--size", "63M"),
            e("--size 63M: not a multiple of 2 MiB")
        );
        assert_eq!(
            size_arg("--crashkernel", "1M"),
            e("--crashkernel 1M: not a multiple of 2 MiB")
        );
        assert_eq!(
            size_arg("--size", "abc"),
            e("--size abc: not a number (64M, 1G, 0x4000000 or decimal)")
        );
        assert_eq!(address_arg("4G", 64 << 20), Ok(1 << 32));
        assert_eq!(address_arg("0", 2 << 20), Ok(0));
        assert_eq!(
            address_arg("0x100100000", 64 << 20),
            e("--address 0x100100000: not 2 MiB aligned")
        );
        assert_eq!(
            address_arg("0xffffffffffe00000", 2 << 20),
            Ok(u64::MAX - (2 << 20) + 1)
        );
        assert_eq!(
            address_arg("0xffffffffffe00000", 4 << 20),
            e("--address 0xffffffffffe00000: with --size 4M, the range passes the end of the 64-bit address space")
        );
    }

    #[test]
    fn rendered_lines() {
        let m = Region::Memmap {
            address: 1 << 32,
            size: 64 << 20,
        };
        assert_eq!(m.kernel_arg(), "memmap=64M%0x100000000-1+2");
        assert_eq!(
            m.options_line(),
            "options hangtrail mem_address=0x100000000 mem_size=0x4000000 crash_marks=1"
        );
        let r = Region::ReserveMem { size: 1 << 30 };
        assert_eq!(r.kernel_arg(), "reserve_mem=1G:2M:hangtrail");
        assert_eq!(
            r.options_line(),
            "options hangtrail mem_name=hangtrail crash_marks=1"
        );
        for text in [grub_snippet(&m, 512 << 20), modprobe_conf(&r)] {
            assert!(text.starts_with(MARKER), "{text}");
            assert!(!text.contains("$0"), "{text}");
        }
        assert!(grub_snippet(&m, 512 << 20).ends_with(
            "\nGRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT memmap=64M%0x100000000-1+2 crashkernel=512M\"\n"
        ));
    }

    #[test]
    fn ranges() {
        let map = vec![
            ram(0, 0x9_fbff),
            entry(0x9_fc00, 0x9_ffff, "Reserved"),
            ram(0x10_0000, 0x7ffd_efff),
            entry(0x7ffd_f000, 0x7fff_ffff, "Reserved"),
            entry(0xb000_0000, 0xbfff_ffff, "Reserved"),
            ram(0x1_0000_0000, 0x1_7fff_ffff),
        ];
        let mib = |n: u64| n << 20;
        assert_eq!(
            check_range(&map, 1 << 32, (1 << 32) + mib(64) - 1),
            Ok(&map[5])
        );
        assert_eq!(check_range(&map, 0x1_7fe0_0000, 0x1_7fff_ffff), Ok(&map[5]));
        assert_eq!(
            check_range(&map, 0xb000_0000, 0xb01f_ffff),
            Err("in \"Reserved\" 0xb0000000-0xbfffffff".into())
        );
        assert_eq!(
            check_range(&map, 0x7fe0_0000, 0x7fff_ffff),
            Err("across entries \"System RAM\" 0x100000-0x7ffdefff, \"Reserved\" 0x7ffdf000-0x7fffffff".into())
        );
        assert_eq!(
            check_range(&map, 0x8000_0000, 0x801f_ffff),
            Err("in no entry".into())
        );
        assert_eq!(
            check_range(&map, 0x1_7fe0_0000, 0x1_801f_ffff),
            Err("partly in \"System RAM\" 0x100000000-0x17fffffff, partly in no entry".into())
        );
        assert_eq!(
            check_range(&map, 0x7fe0_0000, 0x801f_ffff),
            Err("partly in \"System RAM\" 0x100000-0x7ffdefff, \"Reserved\" 0x7ffdf000-0x7fffffff, partly in no entry".into())
        );
        // A gap between two entries that together span the range.
        assert_eq!(
            check_range(&map, 0xbfe0_0000, 0x1_001f_ffff),
            Err("partly in \"Reserved\" 0xb0000000-0xbfffffff, \"System RAM\" 0x100000000-0x17fffffff, partly in no entry".into())
        );
        // An entry that ends at the top of the address space.
        let top = vec![ram(0xffff_ffff_ff00_0000, u64::MAX)];
        assert!(check_range(&top, 0xffff_ffff_ffe0_0000, u64::MAX).is_ok());
        let top = vec![entry(0xffff_ffff_ff00_0000, u64::MAX, "Reserved")];
        assert_eq!(
            check_range(&top, 0xffff_ffff_ffe0_0000, u64::MAX),
            Err("in \"Reserved\" 0xffffffffff000000-0xffffffffffffffff".into())
        );
    }

    #[test]
    fn picks() {
        let mib = |n: u64| n << 20;
        // The highest RAM entry above 4 GiB that can hold it, at its lowest
        // aligned address.
        let map = vec![
            ram(0x10_0000, 0x7fff_ffff),
            ram(0x1_0000_1000, 0x1_7fff_ffff),
            entry(0x1_8000_0000, 0x1_ffff_ffff, "Reserved"),
            ram(0x2_0000_0000, 0x2_00ff_ffff),
        ];
        assert_eq!(pick_address(&map, mib(16)), Some((0x2_0000_0000, &map[3])));
        assert_eq!(pick_address(&map, mib(64)), Some((0x1_0020_0000, &map[1])));
        assert_eq!(pick_address(&map, 4 << 30), None);
        // Never below its own size.
        let big = vec![ram(1 << 32, (12 << 30) - 1)];
        assert_eq!(pick_address(&big, 6 << 30), Some((6 << 30, &big[0])));
        // Only RAM below 4 GiB.
        assert_eq!(pick_address(&map[..1], mib(2)), None);
        // No arithmetic overflow at the top.
        let top = vec![ram(0xffff_ffff_fff0_0000, u64::MAX)];
        assert_eq!(pick_address(&top, mib(2)), None);
    }

    fn write_entry(dir: &Path, n: usize, files: &[(&str, &str)]) {
        let d = dir.join(n.to_string());
        fs::create_dir_all(&d).expect("creates");
        for (name, text) in files {
            fs::write(d.join(name), text).expect("writes");
        }
    }

    #[test]
    fn firmware_map_files() {
        let dir = scratch("map");
        write_entry(
            &dir,
            1,
            &[
                ("start", "0x100000000\n"),
                ("end", "0x17fffffff\n"),
                ("type", "System RAM\n"),
            ],
        );
        write_entry(
            &dir,
            0,
            &[
                ("start", "0x0\n"),
                ("end", "0x9fbff\n"),
                ("type", "System RAM\n"),
            ],
        );
        fs::write(dir.join("README"), "not an entry").expect("writes");
        assert_eq!(
            read_firmware_map(&dir),
            Ok(vec![ram(0, 0x9_fbff), ram(0x1_0000_0000, 0x1_7fff_ffff)])
        );
        let e = |m: String| Err(Error::Refused(m));
        write_entry(
            &dir,
            2,
            &[
                ("start", "0xc0000000\n"),
                ("end", "0xbfffffff\n"),
                ("type", "Reserved\n"),
            ],
        );
        assert_eq!(
            read_firmware_map(&dir),
            e(format!(
                "{}: end 0xbfffffff is below start 0xc0000000",
                dir.join("2").display()
            ))
        );
        write_entry(&dir, 2, &[("start", "c0000000\n")]);
        assert_eq!(
            read_firmware_map(&dir),
            e(format!(
                "{}: \"c0000000\" is not a hex address (0x...)",
                dir.join("2/start").display()
            ))
        );
        write_entry(&dir, 2, &[("start", "0xzz\n")]);
        assert_eq!(
            read_firmware_map(&dir),
            e(format!(
                "{}: \"0xzz\" is not a hex address (0x...)",
                dir.join("2/start").display()
            ))
        );
        write_entry(&dir, 2, &[("start", "0x10000000000000000\n")]);
        assert!(read_firmware_map(&dir).is_err());
        write_entry(
            &dir,
            2,
            &[
                ("start", "0xc0000000\n"),
                ("end", "0xcfffffff\n"),
                ("type", "\n"),
            ],
        );
        assert_eq!(
            read_firmware_map(&dir),
            e(format!("{}: empty", dir.join("2/type").display()))
        );
        fs::remove_file(dir.join("2/type")).expect("removes");
        let err = read_firmware_map(&dir).expect_err("no type");
        assert!(
            err.to_string()
                .starts_with(&format!("{}: ", dir.join("2/type").display())),
            "{err}"
        );
        fs::remove_dir_all(dir.join("2")).expect("removes");
        fs::remove_dir_all(dir.join("1")).expect("removes");
        fs::remove_dir_all(dir.join("0")).expect("removes");
        assert_eq!(
            read_firmware_map(&dir),
            e(format!("{}: no entries", dir.display()))
        );
        fs::remove_dir_all(&dir).expect("cleans");
    }

    #[test]
    fn modprobe_region_lines() {
        let yes = [
            (
                "options hangtrail mem_address=0x1 mem_size=0x2\n",
                "options hangtrail mem_address=0x1 mem_size=0x2",
            ),
            (
                "  options\thangtrail  mem_name=x\n",
                "options hangtrail mem_name=x",
            ),
            (
                "options hangtrail printk=1 mem-size=4\n",
                "options hangtrail printk=1 mem-size=4",
            ),
            (
                "# c\noptions hangtrail \\\n  mem_address=0x1\n",
                "options hangtrail mem_address=0x1",
            ),
        ];
        for (text, line) in yes {
            assert_eq!(region_options(text).as_deref(), Some(line), "{text:?}");
        }
        for text in [
            "#options hangtrail mem_address=0x100000000 mem_size=0x4000000\n",
            "  # options hangtrail mem_name=hangtrail\n",
            "options hangtrail crash_marks=1 printk=1\n",
            "options other mem_address=0x1\n",
            "options hangtrail_x mem_address=0x1\n",
            "install hangtrail mem_address=0x1\n",
            "",
        ] {
            assert_eq!(region_options(text), None, "{text:?}");
        }
        // The example file `make install` puts in /etc/modprobe.d.
        let example = include_str!("../../../dist/modprobe.d/hangtrail.conf");
        assert_eq!(region_options(example), None);
    }
}
