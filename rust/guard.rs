// SPDX-License-Identifier: GPL-2.0

//! The overwrite guard: the trail of a boot that crashed is never recorded
//! over until someone released it.
//!
//! At load the header in the region is checked ([`region_header`]). A valid
//! trail with neither `HDR_ENDED` nor `HDR_RELEASED` is a crashed boot's: the
//! module holds it ([`hold`]): it claims the region, exposes the copy as
//! `previous`, probes nothing, and lets root release it ([`release`], the
//! `release` module parameter in sysfs). A trail ends in order when the module is
//! unloaded or when the kernel starts an orderly reboot, halt, power-off or
//! `kexec -e` (the reboot notifier, [`watch_reboot`]); both set `HDR_ENDED`.
//! Flags are set in place ([`set_flags`]): the header area is resealed
//! without allocating, so the crash kernel's "reached" mark uses it too.
//! See Documentation/hangtrail.rst ("The overwrite guard").

use crate::bindings;
use crate::format::{self, Header};
use crate::probes;
use crate::region::Region;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use kernel::prelude::*;

/// The header of the trail in the region if it checks out (magic, version,
/// checksum, geometry), read without copying the header area. Says in one
/// dmesg line why a region holds no usable trail.
pub(crate) fn region_header(region: &Region) -> Option<Header> {
    let mut fixed = [0u8; format::HEADER_FIXED];
    region.copy_out(0, &mut fixed);
    let mut first = [0u8; format::V1_HEADER_SIZE];
    first[..format::HEADER_FIXED].copy_from_slice(&fixed);
    let h = Header::from_bytes(&first);
    let size = match h.version {
        _ if h.magic != format::MAGIC => {
            pr_info!("region holds no trail (no hangtrail magic)\n");
            return None;
        }
        1 => format::V1_HEADER_SIZE,
        format::VERSION => format::HEADER_SIZE,
        v => {
            pr_warn!("region holds a trail of unknown format version {}\n", v);
            return None;
        }
    };
    let sum = format::header_checksum_by(size, |off, buf| region.copy_out(off, buf));
    let geometry_ok = h.header_size as usize == size
        && h.record_size as usize == format::RECORD_SIZE
        && h.samples_per_cpu as usize == format::SAMPLES_PER_CPU
        && h.ring_records as usize >= format::MIN_RING_RECORDS
        && size <= region.size()
        && h.used_size() <= region.size()
        && format::ring_records_for_header(size, h.region_size, h.nr_cpus).is_some_and(|n| n >= h.ring_records);
    if sum != h.csum || !geometry_ok {
        let why = if sum != h.csum { "header checksum mismatch" } else { "header sizes are inconsistent" };
        pr_warn!("region holds no usable trail: {}\n", why);
        return None;
    }
    Some(h)
}

/// Whether a found trail is a crashed boot's that the next load must keep.
pub(crate) fn must_hold(h: &Header) -> bool {
    h.flags & (format::HDR_ENDED | format::HDR_RELEASED) == 0
}

/// Sets `flags` in the header of the trail in the region, in place,
/// resealing its header area (of the trail's own version's size) without
/// allocating. Returns the new header; `None` (nothing written) if the
/// region holds no valid trail.
pub(crate) fn set_flags(region: &Region, flags: u32) -> Option<Header> {
    let mut h = region_header(region)?;
    if h.flags & flags == flags {
        return Some(h);
    }
    h.flags |= flags;
    h.csum = 0;
    let size = h.header_size as usize;
    let fixed = *h.as_bytes();
    h.csum = format::header_checksum_by(size, |off, buf| {
        region.copy_out(off, buf);
        for (i, b) in buf.iter_mut().enumerate() {
            if let Some(&v) = fixed.get(off + i) {
                *b = v;
            }
        }
    });
    region.copy_in(0, h.as_bytes());
    region.persist(0, format::HEADER_FIXED);
    Some(h)
}

/// The region of a held trail, for `release`; null when none is held.
static HELD: AtomicPtr<Region> = AtomicPtr::new(core::ptr::null_mut());

/// Whether this load released the trail it holds.
static RELEASED: AtomicBool = AtomicBool::new(false);

/// Makes `region` (holding a crashed boot's trail) the one `release` marks.
/// It must stay mapped until [`unhold`].
pub(crate) fn hold(region: &Region) {
    RELEASED.store(false, Ordering::Relaxed);
    HELD.store(region as *const Region as *mut Region, Ordering::Release);
}

/// Forgets the held region: call before it is dropped, under
/// `params::locked` (no `release` write may still be in flight: the
/// parameter outlives the module's exit).
pub(crate) fn unhold() {
    HELD.store(core::ptr::null_mut(), Ordering::Release);
}

/// What `release` reads: `held`, `released` (by this load) or `none`.
pub(crate) fn state() -> &'static [u8] {
    match (HELD.load(Ordering::Acquire).is_null(), RELEASED.load(Ordering::Relaxed)) {
        (true, _) => b"none",
        (false, false) => b"held",
        (false, true) => b"released",
    }
}

/// `release`: marks the held trail released; the next load records over
/// it. Two writers at once set the same bits and write the same header.
pub(crate) fn release() -> Result {
    // SAFETY: a non-null `HELD` points at the region owned by the loaded
    // module; the caller holds the parameter lock, under which `unhold`
    // clears it before the region is dropped.
    let Some(region) = (unsafe { HELD.load(Ordering::Acquire).as_ref() }) else {
        pr_err!("release: no trail is held\n");
        return Err(ENODEV);
    };
    if set_flags(region, format::HDR_RELEASED).is_none() {
        pr_err!("release: the region no longer holds a valid trail; nothing written\n");
        return Err(EINVAL);
    }
    RELEASED.store(true, Ordering::Relaxed);
    pr_info!("trail released: the next load records over it (this load keeps recording nothing)\n");
    Ok(())
}

/// A `notifier_block` that may live in a `static`.
struct Notifier(UnsafeCell<bindings::notifier_block>);

// SAFETY: the block is handed to the kernel only between `watch_reboot` and
// `unwatch_reboot` (module init and exit), which the kernel serialises.
unsafe impl Sync for Notifier {}

static REBOOT: Notifier = Notifier(UnsafeCell::new(bindings::notifier_block {
    notifier_call: Some(on_reboot),
    next: core::ptr::null_mut(),
    // Last in the chain: as late as a notifier can mark the end.
    priority: i32::MIN,
}));
static REBOOT_REGISTERED: AtomicBool = AtomicBool::new(false);

/// Marks the live trail ended when the kernel starts an orderly reboot,
/// halt, power-off or `kexec -e`. Not fatal if it fails (the trail is then
/// held after such a reboot, as after a crash).
pub(crate) fn watch_reboot() {
    // SAFETY: the static block outlives the registration (`unwatch_reboot`
    // runs at module exit).
    let err = unsafe { bindings::register_reboot_notifier(REBOOT.0.get()) };
    if err == 0 {
        REBOOT_REGISTERED.store(true, Ordering::Relaxed);
    } else {
        pr_warn!("no reboot notifier ({}): an orderly reboot's trail will be held as a crash's\n", err);
    }
}

/// Undoes `watch_reboot`; waits for a callback in flight.
pub(crate) fn unwatch_reboot() {
    if REBOOT_REGISTERED.swap(false, Ordering::Relaxed) {
        // SAFETY: registered by `watch_reboot`.
        unsafe { bindings::unregister_reboot_notifier(REBOOT.0.get()) };
    }
}

unsafe extern "C" fn on_reboot(
    _nb: *mut bindings::notifier_block,
    _event: bindings::ctypes::c_ulong,
    _data: *mut core::ffi::c_void,
) -> core::ffi::c_int {
    if let Some(live) = probes::live() {
        set_flags(live.writer.region(), format::HDR_ENDED);
    }
    0 // NOTIFY_DONE
}
