// SPDX-License-Identifier: GPL-2.0

//! The reserved region: claiming and mapping it, and writing records into it
//! (the layout itself is `format.rs`).
//!
//! Writing is lock-free and allocation-free, safe from any context including
//! NMI and a panicking CPU: a global atomic sequence number, a per-CPU atomic
//! slot counter (an NMI that interrupts a write takes the next slot), and
//! volatile stores ordered by `wmb()` so that a reset at any instant leaves
//! either the old record, or one whose `seq` is 0, never a torn valid one.
//! Through a cached mapping every record (and header) is also cleaned to
//! memory (`arch_wb_cache_pmem`: arm64 `dc cvap`/`dc cvac`, x86
//! `clwb`/`clflushopt`/`clflush`) before the barrier.

use crate::bindings;
use crate::format::{self, Header, Record, RECORD_SIZE, SAMPLES_PER_CPU};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;

/// CPUs beyond this many are not recorded (counted in `dropped`): the
/// format's `MAX_CPUS`, as an array length.
pub(crate) const MAX_CPUS: usize = format::MAX_CPUS as usize;

/// How the region is mapped (`mem_type`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemType {
    /// Write-combine: stores reach memory in order at each `wmb()`.
    WriteCombine,
    /// Uncached (device memory).
    Uncached,
    /// Cached (write-back), each record cleaned to memory after it is
    /// written: needs a kernel with `CONFIG_ARCH_HAS_PMEM_API`.
    Cached,
}

impl MemType {
    /// From the `mem_type` parameter.
    pub(crate) fn from_param(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::WriteCombine),
            1 => Some(Self::Uncached),
            2 => Some(Self::Cached),
            _ => None,
        }
    }
}

/// The page size the region's address and size are multiples of.
const PAGE: usize = 4096;

/// What every region must be, however it was found: checked before it is
/// mapped.
fn check(phys: u64, size: usize, mem_type: MemType) -> Result {
    // SAFETY: no preconditions.
    if mem_type == MemType::Cached && !unsafe { bindings::hangtrail_can_clean_cache() } {
        pr_err!(
            "mem_type=2 (cached) needs a kernel with CONFIG_ARCH_HAS_PMEM_API (arm64: CONFIG_ARM64_PMEM) to clean records to memory\n"
        );
        return Err(EINVAL);
    }
    if size == 0 || phys == 0 {
        pr_err!("mem_address and mem_size are required\n");
        return Err(EINVAL);
    }
    if phys % PAGE as u64 != 0 || size % PAGE != 0 {
        pr_err!("mem_address and mem_size must be page-aligned\n");
        return Err(EINVAL);
    }
    if phys.checked_add(size as u64).is_none() {
        pr_err!("mem_address + mem_size overflows\n");
        return Err(EINVAL);
    }
    Ok(())
}

/// The claimed and mapped region.
pub(crate) struct Region {
    base: *mut u8,
    size: usize,
    phys: u64,
    mem_type: MemType,
    /// The `/proc/iomem` claim; null for reserved System RAM (vmapped).
    res: *mut bindings::resource,
}

// SAFETY: `base` maps memory owned by this `Region` for its lifetime; all
// concurrent access goes through volatile word stores and atomics.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// Claims `[phys, phys + size)` and maps it. Refuses a region that is
    /// empty, unaligned, overlaps System RAM (and so the kernel) or is
    /// already claimed, and a cached mapping on a kernel that cannot clean
    /// it to memory; nothing is written here.
    pub(crate) fn claim(phys: u64, size: usize, mem_type: MemType) -> Result<Self> {
        check(phys, size, mem_type)?;
        let overlap = system_ram(phys, size);
        if overlap != bindings::REGION_DISJOINT as i32 {
            pr_err!(
                "region {:#x}+{:#x} overlaps System RAM: reserve it first (memmap=, reserve_mem= with mem_name=, reserved-memory)\n",
                phys,
                size
            );
            return Err(EINVAL);
        }
        // SAFETY: `iomem_resource` is the kernel's root resource; the name is
        // a static string that outlives the claim.
        let res = unsafe {
            bindings::__request_region(
                core::ptr::addr_of_mut!(bindings::iomem_resource),
                phys,
                size as _,
                c"hangtrail".as_ptr().cast(),
                0,
            )
        };
        if res.is_null() {
            pr_err!("region {:#x}+{:#x} is already claimed (see /proc/iomem)\n", phys, size);
            return Err(EBUSY);
        }
        // SAFETY: the range is ours now (claimed above) and not System RAM.
        let base = unsafe {
            match mem_type {
                MemType::WriteCombine => {
                    bindings::memremap(phys, size, bindings::MEMREMAP_WC as _)
                }
                MemType::Cached => bindings::memremap(phys, size, bindings::MEMREMAP_WB as _),
                MemType::Uncached => bindings::hangtrail_ioremap(phys, size),
            }
        };
        if base.is_null() {
            // SAFETY: releases exactly the claim made above.
            unsafe {
                bindings::__release_region(
                    core::ptr::addr_of_mut!(bindings::iomem_resource),
                    phys,
                    size as _,
                )
            };
            pr_err!("cannot map region {:#x}+{:#x}\n", phys, size);
            return Err(ENOMEM);
        }
        Ok(Self { base: base.cast(), size, phys, mem_type, res })
    }

    /// Maps `[phys, phys + size)`, System RAM that the kernel reserved at
    /// boot for this use (`reserve_mem=`, a reserved-memory node without
    /// `no-map`): the way ramoops maps such memory, a `vmap` of its pages
    /// with the `mem_type` protection (`ioremap` refuses RAM). There is no
    /// `/proc/iomem` claim: the RAM's resource is busy; the reservation is
    /// the claim. The caller vouches for the reservation; this checks only
    /// that every page is RAM with a `struct page`. Nothing is written here.
    pub(crate) fn map_reserved_ram(phys: u64, size: usize, mem_type: MemType) -> Result<Self> {
        check(phys, size, mem_type)?;
        let ram = system_ram(phys, size);
        let first = phys / PAGE as u64;
        let count = size / PAGE;
        let valid = (first..first + count as u64).all(|pfn| {
            // SAFETY: `pfn_valid` has no preconditions.
            unsafe { bindings::hangtrail_pfn_valid(pfn as _) }
        });
        if ram != bindings::REGION_INTERSECTS as i32 || !valid {
            pr_err!("reserved region {:#x}+{:#x} is not wholly System RAM\n", phys, size);
            return Err(EINVAL);
        }
        let mut pages = KVVec::with_capacity(count, GFP_KERNEL)?;
        for pfn in first..first + count as u64 {
            // SAFETY: `pfn` is valid (checked above).
            pages.push(unsafe { bindings::hangtrail_pfn_to_page(pfn as _) }, GFP_KERNEL)?;
        }
        // SAFETY: no preconditions.
        let prot = unsafe {
            match mem_type {
                MemType::WriteCombine => bindings::hangtrail_pgprot_writecombine(),
                MemType::Uncached => bindings::hangtrail_pgprot_noncached(),
                MemType::Cached => bindings::hangtrail_pgprot_kernel(),
            }
        };
        let Ok(n) = u32::try_from(count) else { return Err(EINVAL) };
        // SAFETY: `pages` holds `n` pages of RAM reserved for this use;
        // VM_IOREMAP keeps /proc/kcore readers off the mapping, as ramoops.
        let base = unsafe {
            bindings::vmap(pages.as_mut_ptr(), n, (bindings::VM_MAP | bindings::VM_IOREMAP) as _, prot)
        };
        if base.is_null() {
            pr_err!("cannot map region {:#x}+{:#x}\n", phys, size);
            return Err(ENOMEM);
        }
        Ok(Self { base: base.cast(), size, phys, mem_type, res: core::ptr::null_mut() })
    }

    /// Physical address.
    pub(crate) fn phys(&self) -> u64 {
        self.phys
    }

    /// Size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Reads word `i` (8-byte aligned) of the region.
    /// Out of range reads 0: callers index from a validated geometry, and
    /// nothing on the crash path may panic.
    pub(crate) fn read_u64(&self, i: usize) -> u64 {
        if i >= self.size / 8 {
            return 0;
        }
        // SAFETY: in bounds (checked) and aligned: the mapping is page-aligned.
        unsafe { self.base.cast::<u64>().add(i).read_volatile() }
    }

    /// Writes word `i` (8-byte aligned) of the region.
    /// Out of range is ignored, as for `read_u64`.
    fn write_u64(&self, i: usize, v: u64) {
        if i >= self.size / 8 {
            return;
        }
        // SAFETY: in bounds (checked) and aligned; the region is ours.
        unsafe { self.base.cast::<u64>().add(i).write_volatile(v) }
    }

    /// Copies `dst.len()` bytes from offset `off` with aligned word reads
    /// (device memory faults on unaligned access). `off` and `dst.len()`
    /// must be multiples of 8.
    pub(crate) fn copy_out(&self, off: usize, dst: &mut [u8]) {
        for (k, chunk) in dst.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&self.read_u64(off / 8 + k).to_le_bytes());
        }
    }

    /// Writes `bytes` at offset `off` with aligned word stores (both
    /// multiples of 8).
    pub(crate) fn copy_in(&self, off: usize, bytes: &[u8]) {
        for (k, chunk) in bytes.chunks_exact(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            self.write_u64(off / 8 + k, u64::from_le_bytes(w));
        }
    }

    /// Puts back a copy of the region taken at load (`bytes` from offset 0;
    /// a whole number of words).
    pub(crate) fn restore(&self, bytes: &[u8]) {
        let len = bytes.len().min(self.size) & !7;
        self.copy_in(0, &bytes[..len]);
        self.persist(0, len);
    }

    /// Zeroes `[off, off + len)`.
    pub(crate) fn zero(&self, off: usize, len: usize) {
        for i in off / 8..(off + len) / 8 {
            self.write_u64(i, 0);
        }
    }

    /// Makes the stores so far reach the memory (and leave write-combining
    /// buffers) before the stores after.
    pub(crate) fn barrier(&self) {
        // SAFETY: `wmb()` has no preconditions.
        unsafe { bindings::hangtrail_wmb() };
    }

    /// Makes `[off, off + len)` reach memory: through a cached mapping its
    /// lines are cleaned first (out of range is clipped, as for `read_u64`);
    /// then the barrier.
    pub(crate) fn persist(&self, off: usize, len: usize) {
        if self.mem_type == MemType::Cached && off < self.size {
            // SAFETY: the range is inside the mapping (clipped); cleaning
            // lines changes no data.
            unsafe {
                bindings::hangtrail_clean_cache(self.base.add(off).cast(), len.min(self.size - off))
            };
        }
        self.barrier();
    }

    /// Writes a sealed header area.
    pub(crate) fn write_header(&self, area: &[u8; format::HEADER_SIZE]) {
        self.copy_in(0, area);
        self.persist(0, area.len());
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `base` was returned by the matching map call in `claim` or
        // `map_reserved_ram` and nothing uses it any more (probes are
        // unregistered first: see `Trail`'s field order); the resource is
        // the one claimed there.
        unsafe {
            if self.res.is_null() {
                bindings::vunmap(self.base.cast());
                return;
            }
            if self.mem_type == MemType::Uncached {
                bindings::hangtrail_iounmap(self.base.cast());
            } else {
                bindings::memunmap(self.base.cast());
            }
            bindings::__release_region(
                core::ptr::addr_of_mut!(bindings::iomem_resource),
                self.phys,
                self.size as _,
            );
        }
    }
}

/// Where records go: the live region and its geometry. One per module.
pub(crate) struct Writer {
    region: Region,
    header: Header,
    seq: AtomicU64,
    heads: [AtomicU32; MAX_CPUS],
    sample_heads: [AtomicU32; MAX_CPUS],
    dropped: AtomicU64,
}

/// What a record says, before the writer numbers and places it.
#[derive(Clone, Copy)]
pub(crate) struct Crumb {
    /// `format::Kind`.
    pub(crate) kind: format::Kind,
    /// `REC_*` flags.
    pub(crate) flags: u8,
    /// Point index or `NO_POINT`.
    pub(crate) point: u16,
    /// Program counter.
    pub(crate) pc: u64,
    /// Kind-specific word.
    pub(crate) arg: u64,
    /// Kind-specific bytes.
    pub(crate) payload: [u8; format::PAYLOAD_LEN],
}

impl Crumb {
    /// A crumb with an empty payload.
    pub(crate) const fn new(kind: format::Kind, point: u16, pc: u64, arg: u64) -> Self {
        Self { kind, flags: 0, point, pc, arg, payload: [0; format::PAYLOAD_LEN] }
    }
}

impl Writer {
    /// Starts a fresh trail in `region` at `place`: zeroes every record slot
    /// and writes `header` (with no points yet). The writer is 8 KiB: it is
    /// built where it will live, not on the stack.
    ///
    /// # Safety
    ///
    /// `place` is valid for writes and zero-filled (all-zero counters are
    /// the valid initial state); `region` and `header` are moved in.
    pub(crate) unsafe fn start_at(place: *mut Self, region: Region, header: Header) {
        region.zero(0, header.used_size());
        // The point table is still zero.
        let mut sealed = header;
        sealed.csum = format::header_checksum_no_points(&header);
        region.copy_in(0, sealed.as_bytes());
        region.persist(0, header.used_size());
        // SAFETY: the caller's contract.
        unsafe {
            core::ptr::addr_of_mut!((*place).region).write(region);
            core::ptr::addr_of_mut!((*place).header).write(header);
        }
    }

    /// The header the trail started with.
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// The live region.
    pub(crate) fn region(&self) -> &Region {
        &self.region
    }

    /// Records that could not be written (CPU beyond `MAX_CPUS`).
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Appends a breadcrumb to this CPU's ring; returns its seq (0 if
    /// dropped). Callable from any context.
    pub(crate) fn write(&self, c: &Crumb) -> u64 {
        self.put(c, false)
    }

    /// Stores a watchdog sample in this CPU's sample slots.
    pub(crate) fn sample(&self, c: &Crumb) {
        self.put(c, true);
    }

    fn put(&self, c: &Crumb, sample: bool) -> u64 {
        // SAFETY: no preconditions; the id may be stale if we migrate, which
        // only picks another CPU's ring (the per-CPU counter is atomic).
        let cpu = unsafe { bindings::hangtrail_cpu() } as u32;
        if cpu >= self.header.nr_cpus {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return 0;
        }
        let (heads, slots, base) = if sample {
            (&self.sample_heads, SAMPLES_PER_CPU as u32, self.header.samples_offset(cpu))
        } else {
            (&self.heads, self.header.ring_records, self.header.ring_offset(cpu))
        };
        let Some(slot) = heads[cpu as usize].fetch_add(1, Ordering::Relaxed).checked_rem(slots) else {
            return 0;
        };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let mut r = Record {
            seq,
            // SAFETY: no preconditions; NMI-safe.
            ts_ns: unsafe { bindings::hangtrail_local_clock() },
            pc: c.pc,
            arg: c.arg,
            cpu,
            kind: c.kind as u8,
            flags: c.flags,
            point: c.point,
            payload: c.payload,
            csum: 0,
        };
        r.csum = r.compute_csum();
        let off = base + slot as usize * RECORD_SIZE;
        // Invalidate, write the body, then publish `seq`. A record is one
        // 64-byte aligned slot: through a cached mapping the three stores
        // reach the line in this order, so whatever part of it is written
        // back early shows as the old record or a torn one, never a valid
        // mix; the line is cleaned once, whole, before the next record.
        self.region.write_u64(off / 8, 0);
        self.region.barrier();
        self.region.copy_in(off + 8, &r.as_bytes()[8..]);
        self.region.barrier();
        self.region.write_u64(off / 8, seq);
        self.region.persist(off, RECORD_SIZE);
        seq
    }
}

/// How `phys..phys + size` lies against System RAM in the resource tree:
/// `REGION_DISJOINT`, `REGION_INTERSECTS` (wholly RAM) or `REGION_MIXED`.
pub(crate) fn system_ram(phys: u64, size: usize) -> i32 {
    // SAFETY: a read-only walk of the resource tree.
    unsafe {
        bindings::region_intersects(
            phys,
            size,
            bindings::IORESOURCE_SYSTEM_RAM as _,
            bindings::IORES_DESC_NONE as _,
        )
    }
}
