// SPDX-License-Identifier: GPL-2.0

//! hangtrail: crash-path pc breadcrumbs in a reserved region that survives a
//! warm reset, for when kdump produces no vmcore.
//!
//! Module entry. On load:
//! - in a kdump crash kernel: mark the trail found in the region "crash
//!   kernel reached" first (no allocation before it), then copy its used
//!   part out as `previous` (best effort); record nothing;
//! - otherwise: keep any trail found (`previous`, and one dmesg line saying
//!   where it stopped); if it is a crashed boot's that nobody released,
//!   hold it (the overwrite guard, `guard.rs`: record nothing, probe
//!   nothing) unless `overwrite=1`; else start a fresh trail and probe the
//!   plan's points.
//!
//! See Documentation/hangtrail.rst.

use kernel::prelude::*;

mod bindings;
mod debugfs;
// Shared with the decoder, which uses all of it.
#[allow(dead_code, unreachable_pub)]
mod format;
mod guard;
mod knobs;
mod params;
mod phase;
mod plan;
mod probes;
mod region;
mod reserve;
mod softlockup;
mod stop;
// Shared with the decoder (the one verdict implementation).
#[allow(dead_code, unreachable_pub)]
mod verdict;
mod hardlockup;
mod kernel_compat;
mod stacktrace;

use format::{Header, HeaderArea, Kind, Role, Trail};
use plan::{Spec, SpecError};
use probes::Live;
use region::{Crumb, MemType, Region};

module! {
    type: HangTrail,
    name: "hangtrail",
    description: "Crash-path pc breadcrumbs in a reserved region that survives a warm reset",
    license: "GPL",
}

/// A copy of the trail found in the region at load (vmalloc'd: it can be
/// large).
struct Previous(VVec<u8>);

impl Previous {
    /// Copies the region's first `len` bytes out.
    fn copy(region: &Region, len: usize) -> Result<Self> {
        let mut v = VVec::from_elem(0u8, len, GFP_KERNEL)?;
        region.copy_out(0, &mut v);
        Ok(Self(v))
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

struct HangTrail {
    // Dropped in field order: debugfs first (no reader left), then the live
    // trail (probes unregistered in `Drop for HangTrail`), then `previous`.
    dir: Option<debugfs::Dir>,
    live: Option<KVBox<Live>>,
    // In a crash kernel, or holding a crashed boot's trail: the region
    // stays claimed and mapped while loaded (boxed: `release` points at it).
    _claimed: Option<KBox<Region>>,
    previous: Option<Previous>,
    // The live trail started: unload marks it ended (`HDR_ENDED`).
    started: bool,
}

impl kernel::Module for HangTrail {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let Some(mem_type) = MemType::from_param(params::mem_type.get()) else {
            pr_err!("mem_type must be 0 (write-combine), 1 (uncached) or 2 (cached)\n");
            return Err(EINVAL);
        };
        // Check every parameter before touching the region.
        let stall = match params::inject_stall.as_bytes() {
            [] => None,
            s => match Spec::parse(s) {
                Ok(spec) => Some(spec),
                Err(SpecError::TooLong) => {
                    warn_too_long("inject_stall", s);
                    None
                }
                Err(SpecError::Syntax) => {
                    pr_err!("bad inject_stall '{}': want symbol[+offset]\n", show(s));
                    return Err(EINVAL);
                }
            },
        };
        let users = plan::user_points(params::probes.as_bytes()).map_err(|bad| {
            pr_err!("bad probes entry '{}': want symbol[+offset], at most {} points\n",
                show(bad), format::MAX_POINTS);
            EINVAL
        })?;
        for long in plan::too_long(params::probes.as_bytes()) {
            warn_too_long("probes", long);
        }
        // SAFETY: no preconditions.
        let in_crash_kernel = unsafe { bindings::hangtrail_is_kdump_kernel() };
        let found = reserve::find(in_crash_kernel)?;
        let region = reserve::open(&found, mem_type)?;
        let (phys, size) = (found.phys, found.size);
        if found.source != reserve::Source::Address {
            // The address a crash kernel (which cannot look the region up:
            // its own reserve_mem= would be another one) must be given.
            pr_info!("region {:#x}+{:#x} from {}: a crash kernel needs mem_address={:#x} mem_size={:#x}\n",
                phys, size, found.source.describe(), phys, size);
        }
        if in_crash_kernel {
            // Marked before anything that can fail: a crash kernel short of
            // memory still says it was reached.
            let found = mark_reached(&region);
            let previous = found.and_then(|len| keep_copy(&region, len));
            let dir = debugfs::Dir::create(previous.as_ref().map(Previous::bytes), false, &region)?;
            let claimed = Some(KBox::new(region, GFP_KERNEL)?);
            return Ok(Self { dir: Some(dir), live: None, _claimed: claimed, previous, started: false });
        }
        let nr_cpus = nr_cpus();
        let Some(ring_records) = format::ring_records_for(size as u64, nr_cpus) else {
            pr_err!("mem_size {:#x} is too small for {} CPUs\n", size, nr_cpus);
            return Err(EINVAL);
        };

        let found = guard::region_header(&region);
        let previous = match found {
            Some(h) => Some(keep_previous(&region, &h)?),
            None => None,
        };
        if let Some(h) = found.filter(guard::must_hold) {
            if !params::overwrite.get() {
                return hold(region, phys, &h, previous);
            }
            pr_warn!("overwrite=1: recording over a crashed boot's trail nobody released (its copy stays in previous until unload)\n");
        }

        let header = new_header(phys, size, nr_cpus, ring_records);
        let mut this = Self { dir: None, live: None, _claimed: None, previous, started: false };
        let live = this.live.insert(Live::new(region, header, params::printk.get())?);
        live.publish();
        let previous = this.previous.as_ref().map(Previous::bytes);
        let started = start(live, users, stall)
            .and_then(|n| Ok((n, debugfs::Dir::create(previous, true, live.writer.region())?)));
        let registered = match started {
            Ok((n, dir)) => {
                this.dir = Some(dir);
                n
            }
            Err(e) => {
                // A failed load loses nothing: the trail found at load goes
                // back where it was (the fresh one overwrote it).
                live.stop();
                if let Some(p) = &this.previous {
                    live.writer.region().restore(p.bytes());
                }
                return Err(e);
            }
        };
        guard::watch_reboot();
        this.started = true;
        pr_info!(
            "recording to {:#x}+{:#x} ({} CPUs x {} records), {} of {} points probed\n",
            phys, size, nr_cpus, ring_records, registered, live.nr
        );
        Ok(this)
    }
}

/// The overwrite guard: keeps the region claimed with the crashed boot's
/// trail in it untouched, `previous` in debugfs, `release` in sysfs, no
/// probes.
fn hold(region: Region, phys: u64, h: &Header, previous: Option<Previous>) -> Result<HangTrail> {
    let region = KBox::new(region, GFP_KERNEL)?;
    let dir = debugfs::Dir::create(previous.as_ref().map(Previous::bytes), false, &region)?;
    guard::hold(&region);
    pr_warn!(
        "holding the trail of a boot that did not end in order (crash, hang, reset) at {:#x}+{:#x}, not recording: save /sys/kernel/debug/hangtrail/previous, then `echo release > /sys/module/hangtrail/parameters/release` and reload (or load with overwrite=1)\n",
        phys, h.used_size()
    );
    Ok(HangTrail { dir: Some(dir), live: None, _claimed: Some(region), previous, started: false })
}

/// Probes the plan, completes the header and writes the start record.
/// Returns how many points registered; none is an error.
fn start<'a>(
    live: &mut Live,
    users: impl Iterator<Item = Spec<'a>>,
    stall: Option<Spec<'a>>,
) -> Result<usize> {
    let mut registered = add_points(live, users, stall)?;
    if registered == 0 {
        pr_err!("no point could be probed\n");
        return Err(ENOENT);
    }
    registered += live.register_notifier()? as usize;
    if !hardlockup::start() {
        pr_warn!("no hard-lockup context hook: a hard lockup names the CPU only\n");
    }
    write_points(live)?;
    live.writer.write(&Crumb::new(Kind::Start, format::NO_POINT, 0, registered as u64));
    Ok(registered)
}

impl Drop for HangTrail {
    fn drop(&mut self) {
        self.dir = None;
        params::locked(guard::unhold);
        if let Some(live) = self.live.as_mut() {
            if self.started {
                guard::unwatch_reboot();
            }
            live.stop();
            if self.started {
                guard::set_flags(live.writer.region(), format::HDR_ENDED);
            }
        }
    }
}

/// Registers the built-in plan (first alias that resolves), the `probes=`
/// points, and the `inject_stall` point. Returns how many registered.
fn add_points<'a>(
    live: &mut Live,
    users: impl Iterator<Item = Spec<'a>>,
    stall: Option<Spec<'a>>,
) -> Result<usize> {
    let mut ok = 0;
    let is_stall = |spec: Spec<'_>| stall == Some(spec);
    for b in plan::builtins() {
        let mut done = false;
        for (i, alias) in b.aliases.iter().enumerate() {
            let spec = Spec { symbol: alias.as_bytes(), offset: 0 };
            done = live.add(b.role, spec, b.kretprobe, is_stall(spec))?;
            if done || i + 1 == b.aliases.len() {
                break;
            }
            live.forget_last_missing();
        }
        if done {
            ok += 1;
        } else {
            report_skipped(live);
        }
    }
    for spec in users.chain(stall) {
        if live.has(spec) {
            continue;
        }
        if live.add(Role::User, spec, false, is_stall(spec))? {
            ok += 1;
        } else {
            report_skipped(live);
        }
    }
    Ok(ok)
}

fn warn_too_long(param: &str, entry: &[u8]) {
    pr_warn!("{} point '{}' not probed: symbol longer than {} bytes\n",
        param, show(entry), plan::MAX_SYMBOL_LEN);
}

fn report_skipped(live: &Live) {
    if let Some(p) = live.points().last() {
        let why = if p.status == format::POINT_MISSING { "no such symbol" } else { "refused by kprobes" };
        pr_warn!("point {} not probed: {} ({})\n", show(format::cstr(&p.name)), why, p.errno);
    }
}

/// Rewrites the header with the point table, now that addresses are known.
fn write_points(live: &mut Live) -> Result {
    let mut area = KBox::<HeaderArea>::new_uninit(GFP_KERNEL)?;
    // SAFETY: all-zero is a valid `HeaderArea` (integers only).
    let mut area = unsafe {
        core::ptr::write_bytes(area.as_mut_ptr(), 0, 1);
        area.assume_init()
    };
    area.header = *live.writer.header();
    for (slot, p) in area.points.iter_mut().zip(live.points()) {
        *slot = *p;
    }
    area.header.nr_points = live.nr as u32;
    area.seal();
    live.writer.region().write_header(area.as_bytes());
    Ok(())
}

/// Copies out the valid trail found in the region (its used part) and says
/// in dmesg where it stopped, and what is unusual about it.
fn keep_previous(region: &Region, h: &Header) -> Result<Previous> {
    let copy = Previous::copy(region, h.used_size())?;
    if let Ok(t) = Trail::parse(copy.bytes()) {
        summarize(&t);
        describe(&t);
    }
    Ok(copy)
}

/// One dmesg line for each thing about a found trail that its reader must
/// know: an older format, another kernel release, damaged records.
fn describe(t: &Trail<'_>) {
    let h = &t.header;
    if h.version != format::VERSION {
        pr_info!("previous trail is format version {} (an older hangtrail.ko); kept as written\n", h.version);
    }
    // SAFETY: as in `new_header`.
    let release = unsafe { &(*core::ptr::addr_of!(bindings::init_uts_ns)).name.release };
    let ours = format::cstr(release);
    let theirs = format::cstr(&h.release);
    if theirs != ours {
        pr_info!("previous trail was written by kernel {} (this is {}): decode it with that kernel's symbols\n",
            show(theirs), show(ours));
    }
    let (mut damaged, mut torn, mut valid) = (0u64, 0u64, 0u64);
    let mut count = |slot| match slot {
        format::Slot::Invalid => damaged += 1,
        format::Slot::Torn => torn += 1,
        format::Slot::Valid(_) => valid += 1,
        _ => {}
    };
    for cpu in 0..h.nr_cpus {
        for i in 0..h.ring_records {
            count(t.ring_slot(cpu, i));
        }
        for i in 0..h.samples_per_cpu {
            count(t.sample_slot(cpu, i));
        }
    }
    if damaged > 0 {
        pr_warn!("previous trail: {} records damaged (checksum or CPU mismatch), {} torn, {} intact\n",
            damaged, torn, valid);
    }
}

/// In a crash kernel: marks the trail in the region "crash kernel reached"
/// in place, resealing its header area without allocating. Returns the
/// trail's used size.
fn mark_reached(region: &Region) -> Option<usize> {
    guard::set_flags(region, format::HDR_CRASH_KERNEL_REACHED).map(|h| h.used_size())
}

/// Best effort: a copy of the trail for `previous` (the mark stays if this
/// fails), and the dmesg line.
fn keep_copy(region: &Region, len: usize) -> Option<Previous> {
    match Previous::copy(region, len) {
        Ok(copy) => {
            if let Ok(t) = Trail::parse(copy.bytes()) {
                summarize(&t);
            }
            Some(copy)
        }
        Err(_) => {
            pr_warn!("trail marked crash kernel reached, but no memory to copy its {} bytes\n", len);
            None
        }
    }
}

/// The one dmesg line about the previous trail: the verdict of the shared
/// core (the decoder prints the same line as `verdict.summary`).
fn summarize(t: &Trail<'_>) {
    let Ok(mut cpus) =
        KVVec::from_elem(verdict::CpuState::EMPTY, t.header.nr_cpus as usize, GFP_KERNEL)
    else {
        pr_warn!("previous boot stopped: (no memory for the verdict)\n");
        return;
    };
    let v = verdict::analyze(t, &mut cpus);
    let mut line = verdict::LineBuf::new();
    // A full buffer truncates; nothing else can fail.
    let _ = verdict::summary(t, &v, &cpus, &verdict::TrailNamer(t), &mut line);
    pr_info!("previous boot stopped: {}\n", show(line.as_bytes()));
}

fn new_header(phys: u64, size: usize, nr_cpus: u32, ring_records: u32) -> Header {
    let mut h = Header::zeroed();
    h.magic = format::MAGIC;
    h.version = format::VERSION;
    h.header_size = format::HEADER_SIZE as u32;
    h.region_size = size as u64;
    h.phys_addr = phys;
    h.record_size = format::RECORD_SIZE as u32;
    h.nr_cpus = nr_cpus;
    h.ring_records = ring_records;
    h.samples_per_cpu = format::SAMPLES_PER_CPU as u32;
    h.arch = format::Arch::native().map_or(0, |a| a as u32);
    h.flags |= hardlockup::header_flags();
    // SAFETY: fills the 16 bytes given.
    unsafe { bindings::get_random_bytes(h.boot_id.as_mut_ptr().cast(), h.boot_id.len()) };
    // SAFETY: `init_uts_ns` is the kernel's static; `release` is a
    // NUL-terminated array inside it.
    let release = unsafe { &(*core::ptr::addr_of!(bindings::init_uts_ns)).name.release };
    format::copy_padded(&mut h.release, format::cstr(release));
    format::copy_padded(&mut h.ref_name, b"panic");
    h.ref_addr = bindings::panic as *const () as usize as u64;
    // SAFETY: no preconditions.
    h.start_ns = unsafe { bindings::hangtrail_local_clock() };
    h.online_cpus = (0..nr_cpus)
        // SAFETY: `cpu` < nr_cpu_ids.
        .filter(|&cpu| unsafe { bindings::hangtrail_cpu_online(cpu) })
        .count() as u32;
    h.sample_period_ns = knobs::sample_period_ns();
    h.panic_timeout = knobs::panic_timeout();
    if knobs::post_notifiers() {
        h.flags |= format::HDR_POST_NOTIFIERS;
    }
    if params::crash_marks.get() {
        h.flags |= format::HDR_CRASH_MARKS;
    }
    h
}

fn nr_cpus() -> u32 {
    // SAFETY: an exported variable set at boot.
    let n = unsafe { bindings::nr_cpu_ids };
    n.min(format::MAX_CPUS)
}

/// Bytes for a log line.
fn show(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("<non-utf8>")
}
