// SPDX-License-Identifier: GPL-2.0

//! hangtrail: crash-path pc breadcrumbs in a reserved region that survives a
//! warm reset, for when kdump produces no vmcore.
//!
//! Module entry. On load:
//! - in a kdump crash kernel: mark the trail found in the region "crash
//!   kernel reached" and expose it as `previous`; record nothing;
//! - otherwise: keep any trail found (`previous`, and one dmesg line saying
//!   where it stopped), start a fresh one, and probe the plan's points.
//!
//! See Documentation/hangtrail.rst.

use kernel::prelude::*;

mod bindings;
mod debugfs;
// Shared with the decoder, which uses all of it.
#[allow(dead_code, unreachable_pub)]
mod format;
mod params;
mod plan;
mod probes;
mod region;
mod softlockup;
mod hardlockup;
mod stacktrace;

use format::{Header, HeaderArea, Kind, Role, Trail};
use plan::Spec;
use probes::Live;
use region::{Crumb, MemType, Region};

module! {
    type: HangTrail,
    name: "hangtrail",
    author: "hangtrail developers",
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
    // In a crash kernel: the region stays claimed and mapped while loaded.
    _claimed: Option<Region>,
    previous: Option<Previous>,
}

impl kernel::Module for HangTrail {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let phys = params::mem_address.get() as u64;
        let size = params::mem_size.get();
        let Some(mem_type) = MemType::from_param(params::mem_type.get()) else {
            pr_err!("mem_type must be 0 (write-combine), 1 (uncached) or 2 (cached)\n");
            return Err(EINVAL);
        };
        // Check every parameter before touching the region.
        let stall = match params::inject_stall.as_bytes() {
            [] => None,
            s => Some(Spec::parse(s).ok_or_else(|| {
                pr_err!("bad inject_stall '{}': want symbol[+offset]\n", show(s));
                EINVAL
            })?),
        };
        let users = plan::user_points(params::probes.as_bytes()).map_err(|bad| {
            pr_err!("bad probes entry '{}': want symbol[+offset], at most {} points\n",
                show(bad), format::MAX_POINTS);
            EINVAL
        })?;
        let region = Region::claim(phys, size, mem_type)?;
        let nr_cpus = nr_cpus();
        let Some(ring_records) = format::ring_records_for(size as u64, nr_cpus) else {
            pr_err!("mem_size {:#x} is too small for {} CPUs\n", size, nr_cpus);
            return Err(EINVAL);
        };

        let previous = keep_previous(&region)?;
        // SAFETY: no preconditions.
        if unsafe { bindings::hangtrail_is_kdump_kernel() } {
            let dir = debugfs::Dir::create(previous.as_ref().map(Previous::bytes), false)?;
            return Ok(Self { dir: Some(dir), live: None, _claimed: Some(region), previous });
        }

        let header = new_header(phys, size, nr_cpus, ring_records);
        let mut this = Self { dir: None, live: None, _claimed: None, previous };
        let live = this.live.insert(Live::new(region, header, params::printk.get())?);
        live.publish();
        let previous = this.previous.as_ref().map(Previous::bytes);
        let started = start(live, users, stall)
            .and_then(|n| Ok((n, debugfs::Dir::create(previous, true)?)));
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
        pr_info!(
            "recording to {:#x}+{:#x} ({} CPUs x {} records), {} of {} points probed\n",
            phys, size, nr_cpus, ring_records, registered, live.nr
        );
        Ok(this)
    }
}

/// Probes the plan, completes the header and writes the start record.
/// Returns how many points registered; none is an error.
fn start<'a>(
    live: &mut Live,
    users: impl Iterator<Item = Spec<'a>>,
    stall: Option<Spec<'a>>,
) -> Result<usize> {
    let registered = add_points(live, users, stall)?;
    if registered == 0 {
        pr_err!("no point could be probed\n");
        return Err(ENOENT);
    }
    live.register_notifier();
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
        if let Some(live) = self.live.as_mut() {
            live.stop();
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

/// Copies out a valid trail found in the region, says where it stopped, and
/// in a crash kernel marks it "crash kernel reached" (in the region and the
/// copy).
fn keep_previous(region: &Region) -> Result<Option<Previous>> {
    let mut copy = Previous::copy(region, region.size())?;
    let header = match Trail::parse(copy.bytes()) {
        Ok(t) => t.header,
        Err(format::HeaderError::BadMagic) => return Ok(None),
        Err(e) => {
            pr_warn!("region holds no usable trail: {}\n", e.message());
            return Ok(None);
        }
    };
    // SAFETY: no preconditions.
    if unsafe { bindings::hangtrail_is_kdump_kernel() } {
        let mut h = header;
        h.flags |= format::HDR_CRASH_KERNEL_REACHED;
        let area = copy.0.first_chunk_mut::<{ format::HEADER_SIZE }>().ok_or(EINVAL)?;
        format::reseal(area, &h);
        region.write_header(area);
    }
    if let Ok(t) = Trail::parse(copy.bytes()) {
        summarize(&t);
    }
    Ok(Some(copy))
}

/// The one dmesg line about the previous trail.
fn summarize(t: &Trail<'_>) {
    let reached = t.header.flags & format::HDR_CRASH_KERNEL_REACHED != 0;
    let outcome = if reached { "crash kernel reached" } else { "crash kernel not reached" };
    let Some(last) = t.last_record(format::is_breadcrumb) else {
        pr_info!("previous trail has no breadcrumbs ({})\n", outcome);
        return;
    };
    let mut name = [0u8; 96];
    let n = describe(t, &last, &mut name);
    let lockup = t.last_record(|r| r.kind == Kind::SoftLockup as u8);
    let crashed = last.flags & format::REC_CRASH_PHASE != 0;
    match lockup {
        Some(l) => {
            let mut at = [0u8; 96];
            let m = describe(t, &l, &mut at);
            pr_info!(
                "previous boot stopped after {} on CPU {} (soft lockup on CPU {} at {}); {}\n",
                show(&name[..n]), last.cpu, l.cpu, show(&at[..m]), if crashed { outcome } else { "no crash" }
            );
        }
        None => pr_info!(
            "previous boot stopped after {} on CPU {}; {}\n",
            show(&name[..n]), last.cpu, if crashed { outcome } else { "no crash" }
        ),
    }
}

/// Names a record: its point, or the symbol text stored with it.
fn describe(t: &Trail<'_>, r: &format::Record, out: &mut [u8]) -> usize {
    let mut w = plan::Writer { buf: out, len: 0 };
    if r.kind == Kind::SoftLockup as u8 || r.point == format::NO_POINT {
        let n = t.name_text(r.seq, w.buf);
        if n > 0 {
            return n;
        }
        w.put(b"pc 0x");
        w.hex(r.pc);
    } else if let Some(p) = t.point(r.point as usize) {
        w.put(format::cstr(&p.name));
        if r.kind == Kind::Return as u8 {
            w.put(b" (returned)");
        }
    }
    w.len
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
    h
}

fn nr_cpus() -> u32 {
    // SAFETY: an exported variable set at boot.
    let n = unsafe { bindings::nr_cpu_ids };
    (n as usize).min(region::MAX_CPUS) as u32
}

/// Bytes for a log line.
fn show(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("<non-utf8>")
}
