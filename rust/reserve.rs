// SPDX-License-Identifier: GPL-2.0

//! Where the region is: the reservation the user made, in one of three ways.
//!
//! - `mem_address=` + `mem_size=`: a range the kernel does not use as RAM
//!   (x86 `memmap=SIZE$ADDR`, arm64 `mem=`, a `no-map` reserved-memory node,
//!   or the crashed kernel's region seen from the crash kernel);
//! - `mem_name=NAME`: the kernel command line's `reserve_mem=SIZE:ALIGN:NAME`,
//!   System RAM that memblock set aside at boot (as ramoops' `mem_name`);
//! - neither: a device tree `reserved-memory` node with
//!   `compatible = "hangtrail"` (as ramoops' `"ramoops"` node), if any.
//!
//! A region found by name or in the device tree may be System RAM (the kernel
//! vouches that it is reserved); one given by address may not (a typo must not
//! write over the kernel).

use crate::bindings;
use crate::params;
use crate::region::{self, MemType, Region};
use core::ffi::CStr;
use kernel::prelude::*;

/// The device tree `compatible` of a reserved-memory node for hangtrail.
const COMPATIBLE: &CStr = c"hangtrail";

/// How the region was found.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `mem_address=` and `mem_size=`.
    Address,
    /// `mem_name=`: a `reserve_mem=` region.
    Name,
    /// A device tree reserved-memory node.
    DeviceTree,
}

/// A found region, not yet mapped.
pub(crate) struct Found {
    pub(crate) phys: u64,
    pub(crate) size: usize,
    pub(crate) source: Source,
}

/// Finds the region from the module parameters (or the device tree when
/// none names one). Checks only how it was given; `open` checks the range.
/// `in_crash_kernel`: a `reserve_mem=` region there is the crash kernel's
/// own fresh one, never the crashed kernel's trail.
pub(crate) fn find(in_crash_kernel: bool) -> Result<Found> {
    let phys = params::mem_address.get() as u64;
    let size = params::mem_size.get();
    let name = params::mem_name.as_bytes();
    if !name.is_empty() {
        if phys != 0 || size != 0 {
            pr_err!(
                "mem_name and mem_address/mem_size are mutually exclusive: reserve_mem= gives the address and size\n"
            );
            return Err(EINVAL);
        }
        if in_crash_kernel {
            pr_err!(
                "mem_name='{}' in a crash kernel would find its own reserve_mem= region, not the crashed kernel's: give the crashed kernel's mem_address= and mem_size= (its dmesg line, or debugfs hangtrail/region)\n",
                show(name)
            );
            return Err(EINVAL);
        }
        return by_name(name);
    }
    if phys == 0 && size == 0 {
        return match device_tree()? {
            Some(found) => Ok(found),
            None => {
                pr_err!(
                    "no region given: mem_address= and mem_size=, mem_name= (a reserve_mem= name), or a device tree reserved-memory node compatible with \"hangtrail\"\n"
                );
                Err(EINVAL)
            }
        };
    }
    Ok(Found { phys, size, source: Source::Address })
}

/// The `reserve_mem=` region called `name`.
fn by_name(name: &[u8]) -> Result<Found> {
    let (mut start, mut size): (bindings::phys_addr_t, bindings::phys_addr_t) = (0, 0);
    // SAFETY: `mem_name` is the parameter's NUL-terminated string (kept by
    // the kernel while the module is loaded); the outputs are locals.
    let found = unsafe {
        bindings::reserve_mem_find_by_name(params::mem_name.get().cast_const(), &mut start, &mut size)
    };
    if found == 0 {
        pr_err!(
            "no reserve_mem= region named '{}': boot with reserve_mem=SIZE:4096:{} (or fix mem_name)\n",
            show(name),
            show(name)
        );
        return Err(ENOENT);
    }
    let Ok(size) = usize::try_from(size) else { return Err(EINVAL) };
    if start % 4096 != 0 || size % 4096 != 0 {
        pr_err!(
            "reserve_mem= region '{}' at {:#x}+{:#x} is not page-aligned: give it a size in pages and an ALIGN of 4096\n",
            show(name),
            start,
            size
        );
        return Err(EINVAL);
    }
    Ok(Found { phys: start as u64, size, source: Source::Name })
}

/// The reserved-memory node with hangtrail's `compatible`, if the device
/// tree has one. A node the kernel did not reserve memory for (no `reg` or
/// `size`, or not under `/reserved-memory`) is an error.
fn device_tree() -> Result<Option<Found>> {
    // SAFETY: a static NUL-terminated string; without CONFIG_OF this is a
    // stub returning null.
    let np = unsafe { bindings::hangtrail_of_find_compatible(COMPATIBLE.as_ptr().cast()) };
    if np.is_null() {
        return Ok(None);
    }
    // SAFETY: `np` is a node reference taken above, put below.
    let rmem = unsafe { bindings::hangtrail_of_reserved_mem_lookup(np) };
    let found = if rmem.is_null() {
        // SAFETY: `np` is held; its name lives as long as the node.
        let node = unsafe { bindings::hangtrail_of_node_name(np) };
        let node = if node.is_null() {
            "?"
        } else {
            // SAFETY: a NUL-terminated string owned by the held node.
            show(unsafe { CStr::from_ptr(node.cast()) }.to_bytes())
        };
        pr_err!(
            "device tree node {} (compatible \"hangtrail\") reserves no memory: give it reg = <address size> under /reserved-memory\n",
            node
        );
        Err(EINVAL)
    } else {
        // SAFETY: `rmem` points into the kernel's static table of reserved
        // regions, filled at boot and never freed.
        let (base, size) = unsafe { ((*rmem).base, (*rmem).size) };
        usize::try_from(size)
            .map(|size| Some(Found { phys: base as u64, size, source: Source::DeviceTree }))
            .map_err(|_| EINVAL)
    };
    // SAFETY: drops the reference `hangtrail_of_find_compatible` took.
    unsafe { bindings::hangtrail_of_node_put(np) };
    found
}

/// Maps the found region. One given by address must not be System RAM
/// (`Region::claim` refuses it); one found by name or in the device tree is
/// mapped as reserved RAM when it is RAM, and claimed otherwise (`no-map`,
/// or the crashed kernel's RAM seen from a crash kernel).
pub(crate) fn open(found: &Found, mem_type: MemType) -> Result<Region> {
    if found.source == Source::Address {
        return Region::claim(found.phys, found.size, mem_type);
    }
    if region::system_ram(found.phys, found.size) == bindings::REGION_DISJOINT as i32 {
        Region::claim(found.phys, found.size, mem_type)
    } else {
        Region::map_reserved_ram(found.phys, found.size, mem_type)
    }
}

impl Source {
    /// How the dmesg line names the source.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Source::Address => "mem_address",
            Source::Name => "reserve_mem",
            Source::DeviceTree => "device tree reserved-memory",
        }
    }
}

/// Bytes for a log line.
fn show(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("<non-utf8>")
}
