// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/debug/hangtrail/`: `previous` (the trail found at load, raw,
//! root-only), `current` (the live region, raw, root-only) and `probes` (one
//! line per point: index, name, role, status, address, hits, kprobe misses;
//! then `dropped=N`, records lost to CPUs beyond `region::MAX_CPUS`;
//! root-only too: it holds kernel addresses), and `region`
//! (`mem_address=0x... mem_size=0x...`: the parameters a crash kernel loads
//! hangtrail.ko with, however this kernel found the region; root-only).
//! Every file is read-only: lockdown (Secure Boot) refuses debugfs files
//! with a write bit, so releasing a held trail is a module parameter
//! (`params.rs`).

use crate::bindings;
use crate::format::{self, Role};
use crate::plan::Writer as Text;
use crate::probes;
use crate::region::Region;
use bindings::ctypes::c_char;
use kernel::prelude::*;

/// A `file_operations` that may live in a `static`.
#[repr(transparent)]
struct Fops(bindings::file_operations);

// SAFETY: read-only after initialisation; the kernel only reads it.
unsafe impl Sync for Fops {}

const fn fops(
    read: unsafe extern "C" fn(*mut bindings::file, *mut c_char, usize, *mut i64) -> isize,
) -> Fops {
    // SAFETY: all-zero is a valid `file_operations` (every member is a
    // nullable pointer or an integer).
    let mut f: bindings::file_operations = unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
    f.read = Some(read);
    Fops(f)
}

static CURRENT_FOPS: Fops = fops(read_current);
static PROBES_FOPS: Fops = fops(read_probes);

/// The directory and what its files point at; removed on drop.
pub(crate) struct Dir {
    dir: *mut bindings::dentry,
    previous: Option<KBox<bindings::debugfs_blob_wrapper>>,
    region: Option<KBox<RegionText>>,
}

/// The `region` file: its text, and the blob that points at it.
struct RegionText {
    text: [u8; 64],
    blob: bindings::debugfs_blob_wrapper,
}

// SAFETY: the dentry is only passed back to debugfs; the blob is read-only.
unsafe impl Send for Dir {}
// SAFETY: as above.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates the directory with `region`, `probes` and `current` if a
    /// trail is live, and `previous` if one was found. debugfs failing is not
    /// fatal.
    pub(crate) fn create(previous: Option<&[u8]>, live: bool, region: &Region) -> Result<Self> {
        // SAFETY: a static name; a null parent means the debugfs root.
        let dir = unsafe { bindings::debugfs_create_dir(c"hangtrail".as_ptr().cast(), core::ptr::null_mut()) };
        let mut this = Self { dir, previous: None, region: None };
        let mut r = KBox::new(
            RegionText { text: [0; 64], blob: bindings::debugfs_blob_wrapper::default() },
            GFP_KERNEL,
        )?;
        let mut w = Text { buf: &mut r.text, len: 0 };
        w.put(b"mem_address=0x");
        w.hex(region.phys());
        w.put(b" mem_size=0x");
        w.hex(region.size() as u64);
        w.put(b"\n");
        let len = w.len;
        r.blob = bindings::debugfs_blob_wrapper { data: r.text.as_mut_ptr().cast(), size: len as _ };
        let r = this.region.insert(r);
        // SAFETY: the box (text and blob) outlives the file: the directory is
        // removed in `drop`, before the box is freed.
        unsafe { bindings::debugfs_create_blob(c"region".as_ptr().cast(), 0o400, dir, &mut r.blob) };
        if live {
            this.file(c"current", 0o400, &CURRENT_FOPS);
            this.file(c"probes", 0o400, &PROBES_FOPS);
        }
        if let Some(bytes) = previous {
            let blob = KBox::new(
                bindings::debugfs_blob_wrapper { data: bytes.as_ptr() as *mut _, size: bytes.len() as _ },
                GFP_KERNEL,
            )?;
            let blob = this.previous.insert(blob);
            // SAFETY: `blob` and the bytes it points at outlive the file: the
            // directory is removed in `drop`, before either is freed.
            unsafe {
                bindings::debugfs_create_blob(c"previous".as_ptr().cast(), 0o400, dir, &mut **blob)
            };
        }
        Ok(this)
    }

    fn file(&self, name: &core::ffi::CStr, mode: u16, fops: &'static Fops) {
        // SAFETY: `fops` is static; the read functions take their data from
        // `probes::live()`, not from the file.
        unsafe {
            bindings::hangtrail_debugfs_create_file(
                name.as_ptr().cast(),
                mode,
                self.dir,
                core::ptr::null_mut(),
                &fops.0,
            )
        };
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: removes what `create` made; it waits for readers in flight.
        unsafe { bindings::debugfs_remove(self.dir) };
    }
}

/// Copies `src` from `*ppos` to the user buffer, as `simple_read_from_buffer`.
///
/// # Safety
///
/// `buf` is a user pointer of `count` bytes and `ppos` a valid position, as
/// handed to a `read` file operation.
unsafe fn to_user(buf: *mut c_char, count: usize, ppos: *mut i64, src: &[u8]) -> isize {
    // SAFETY: the caller's contract; `src` is a valid kernel buffer.
    unsafe { bindings::simple_read_from_buffer(buf.cast(), count, ppos, src.as_ptr().cast(), src.len()) }
}

/// `current`: the live region, read with aligned word loads (the mapping may
/// be device memory, where the usual unaligned copy faults).
unsafe extern "C" fn read_current(
    _f: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    ppos: *mut i64,
) -> isize {
    let Some(live) = probes::live() else { return ENODEV.to_errno() as isize };
    let region = live.writer.region();
    // SAFETY: `ppos` is valid for a read file operation.
    let pos = unsafe { *ppos };
    if pos < 0 || pos as usize >= region.size() {
        return 0;
    }
    // Copy the 512-byte window that holds `pos` (the region is page-sized,
    // so the window is whole words).
    let mut bounce = [0u8; 512];
    let win = pos as usize & !(bounce.len() - 1);
    let len = bounce.len().min(region.size() - win);
    region.copy_out(win, &mut bounce[..len]);
    let mut local = pos - win as i64;
    // SAFETY: forwarding the read's own buffer; `local` is a valid position.
    let n = unsafe { to_user(buf, count, &mut local, &bounce[..len]) };
    if n > 0 {
        // SAFETY: as above.
        unsafe { *ppos += n as i64 };
    }
    n
}

/// `probes`: a text table of the points.
unsafe extern "C" fn read_probes(
    _f: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    ppos: *mut i64,
) -> isize {
    let Some(live) = probes::live() else { return 0 };
    let Ok(mut text) = KVec::from_elem(0u8, 128 * format::MAX_POINTS, GFP_KERNEL) else {
        return ENOMEM.to_errno() as isize;
    };
    let mut w = Text { buf: &mut text, len: 0 };
    for (i, p) in live.probes().iter().enumerate() {
        let pt = &p.point;
        w.dec(i as u64);
        w.put(b" ");
        w.put(format::cstr(&pt.name));
        w.put(b" ");
        w.put(Role::from_u8(pt.role).map_or("?", Role::name).as_bytes());
        match pt.status {
            format::POINT_REGISTERED => {
                w.put(b" registered 0x");
                w.hex(pt.addr);
            }
            format::POINT_MISSING => w.put(b" missing -"),
            _ => {
                w.put(b" refused(-");
                w.dec(pt.errno.unsigned_abs() as u64);
                w.put(b") -");
            }
        }
        if pt.kretprobe != 0 {
            w.put(b" +ret");
        }
        w.put(b" hits=");
        w.dec(p.hits());
        w.put(b" missed=");
        w.dec(p.nmissed());
        w.put(b"\n");
    }
    w.put(b"dropped=");
    w.dec(live.writer.dropped());
    w.put(b"\n");
    let len = w.len;
    // SAFETY: the read's own arguments; `text[..len]` is initialised.
    unsafe { to_user(buf, count, ppos, &text[..len]) }
}
