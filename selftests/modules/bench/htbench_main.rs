// SPDX-License-Identifier: GPL-2.0

//! htbench: the probe-side benchmark of hangtrail (Documentation/bench.rst).
//!
//! `/sys/kernel/debug/htbench/`:
//! - `iters`, `budget_ns`, `repeat`: most calls per timed loop, the time
//!   a loop should take (it sets the calls), loops per measurement;
//! - `one`: reading it measures on this CPU: `MIN MEDIAN` (ps per call);
//! - `all`: every online CPU at once: `MIN MEDIAN CPUS` then each CPU's
//!   median (ps per call; a round's figure is the mean over CPUs);
//! - `kprobe`: write `empty|printk|stall SYMBOL[+OFFSET]` to put the
//!   benchmark's own kprobe there, `off` to remove it;
//! - `point`: where to probe, `htbench_target+OFFSET`: past the ftrace site
//!   when the function starts with one (x86_64: a kprobe there can be
//!   optimized, one on the site is ftrace-based), else the entry;
//! - `now`: `local_clock()` in ns (busybox `date` has no %N);
//! - `capacity`: bytes per breadcrumb and breadcrumbs per CPU in a 1 MiB
//!   region for 2, 64 and 256 CPUs, from hangtrail's own `format.rs`.
//!
//! The probed function is `htbench_target` (target.c). Whatever probes it
//! (hangtrail, kprobe events, pstore/ftrace) is set up from the shell.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::prelude::*;
use kernel::fmt;
use kernel::str::CString;

// hangtrail's FFI wrapper (around this module's own bindgen output) and
// region layout, copied in by scripts/build-modules.
mod bindings;
#[allow(dead_code, unreachable_pub)]
mod format;
mod kprobe;
mod timing;

use bindings::ctypes::c_char;

module! {
    type: HtBench,
    name: "htbench",
    author: "hangtrail developers",
    description: "hangtrail probe-side benchmark (test only)",
    license: "GPL",
}

static ITERS: AtomicU32 = AtomicU32::new(20000);
static BUDGET_NS: AtomicU32 = AtomicU32::new(500_000);
static REPEAT: AtomicU32 = AtomicU32::new(7);

/// A `file_operations` that may live in a `static`.
#[repr(transparent)]
struct Fops(bindings::file_operations);

// SAFETY: read-only after initialisation; the kernel only reads it.
unsafe impl Sync for Fops {}

type ReadFn = unsafe extern "C" fn(*mut bindings::file, *mut c_char, usize, *mut i64) -> isize;
type WriteFn = unsafe extern "C" fn(*mut bindings::file, *const c_char, usize, *mut i64) -> isize;

const fn fops(read: Option<ReadFn>, write: Option<WriteFn>) -> Fops {
    // SAFETY: all-zero is a valid `file_operations` (nullable pointers and
    // integers).
    let mut f: bindings::file_operations = unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
    f.read = read;
    f.write = write;
    Fops(f)
}

static ONE_FOPS: Fops = fops(Some(read_one), None);
static ALL_FOPS: Fops = fops(Some(read_all), None);
static CAPACITY_FOPS: Fops = fops(Some(read_capacity), None);
static POINT_FOPS: Fops = fops(Some(read_point), None);
static NOW_FOPS: Fops = fops(Some(read_now), None);
static KPROBE_FOPS: Fops = fops(None, Some(write_kprobe));

struct HtBench {
    dir: *mut bindings::dentry,
}

// SAFETY: the dentry is only handed back to debugfs.
unsafe impl Send for HtBench {}
// SAFETY: as above.
unsafe impl Sync for HtBench {}

impl kernel::Module for HtBench {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: a static name; a null parent is the debugfs root.
        let dir = unsafe { bindings::debugfs_create_dir(c"htbench".as_ptr().cast(), core::ptr::null_mut()) };
        // SAFETY: static names, fops and counters, which outlive the files
        // (removed in `drop`).
        unsafe {
            bindings::debugfs_create_u32(c"iters".as_ptr().cast(), 0o600, dir, ITERS.as_ptr());
            bindings::debugfs_create_u32(c"budget_ns".as_ptr().cast(), 0o600, dir, BUDGET_NS.as_ptr());
            bindings::debugfs_create_u32(c"repeat".as_ptr().cast(), 0o600, dir, REPEAT.as_ptr());
            for (name, mode, f) in [
                (c"one", 0o400, &ONE_FOPS),
                (c"all", 0o400, &ALL_FOPS),
                (c"capacity", 0o444, &CAPACITY_FOPS),
                (c"point", 0o444, &POINT_FOPS),
                (c"now", 0o444, &NOW_FOPS),
                (c"kprobe", 0o200, &KPROBE_FOPS),
            ] {
                bindings::debugfs_create_file(name.as_ptr().cast(), mode, dir, core::ptr::null_mut(), &f.0);
            }
        }
        Ok(HtBench { dir })
    }
}

impl Drop for HtBench {
    fn drop(&mut self) {
        // SAFETY: removes what `init` made; waits for readers in flight.
        unsafe { bindings::debugfs_remove(self.dir) };
        // Nothing else can hold `BUSY` now: the files are gone.
        let _ = kprobe::disarm();
    }
}

fn knobs() -> (u32, u32, usize) {
    (
        ITERS.load(Ordering::Relaxed).max(1),
        BUDGET_NS.load(Ordering::Relaxed),
        REPEAT.load(Ordering::Relaxed) as usize,
    )
}

/// Hands `text` to a read at `*ppos`. Measures only at position 0, so that
/// `cat` (which reads again until 0) runs one measurement.
///
/// # Safety
///
/// The arguments of a `read` file operation.
unsafe fn reply(buf: *mut c_char, count: usize, ppos: *mut i64, text: Result<CString>) -> isize {
    match text {
        // SAFETY: the caller's contract; `t` is a valid kernel buffer.
        Ok(t) => unsafe {
            bindings::simple_read_from_buffer(buf.cast(), count, ppos, t.as_bytes().as_ptr().cast(), t.len())
        },
        Err(e) => e.to_errno() as isize,
    }
}

/// Whether this read starts at 0 (the one that measures).
///
/// # Safety
///
/// `ppos` is a read's valid position.
unsafe fn first_read(ppos: *mut i64) -> bool {
    // SAFETY: the caller's contract.
    unsafe { *ppos == 0 }
}

unsafe extern "C" fn read_one(_f: *mut bindings::file, buf: *mut c_char, count: usize, ppos: *mut i64) -> isize {
    // SAFETY: a read's own arguments.
    if !unsafe { first_read(ppos) } {
        return 0;
    }
    let (iters, budget, repeat) = knobs();
    let f = timing::one_cpu(iters, budget, repeat);
    // SAFETY: a read's own arguments.
    unsafe { reply(buf, count, ppos, CString::try_from_fmt(fmt!("{} {}\n", f.min, f.median))) }
}

unsafe extern "C" fn read_all(_f: *mut bindings::file, buf: *mut c_char, count: usize, ppos: *mut i64) -> isize {
    // SAFETY: a read's own arguments.
    if !unsafe { first_read(ppos) } {
        return 0;
    }
    let (iters, budget, repeat) = knobs();
    let text = timing::all_cpus(iters, budget, repeat).and_then(|a| {
        let mut per_cpu = KVec::new();
        for ps in &a.per_cpu {
            per_cpu.extend_from_slice(CString::try_from_fmt(fmt!(" {}", ps))?.as_bytes(), GFP_KERNEL)?;
        }
        CString::try_from_fmt(fmt!(
            "{} {} {}{}\n",
            a.figure.min,
            a.figure.median,
            a.cpus,
            core::str::from_utf8(&per_cpu).unwrap_or("")
        ))
    });
    // SAFETY: a read's own arguments.
    unsafe { reply(buf, count, ppos, text) }
}

unsafe extern "C" fn read_capacity(
    _f: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    ppos: *mut i64,
) -> isize {
    const MIB: u64 = 1 << 20;
    let per = |cpus| format::ring_records_for(MIB, cpus).unwrap_or(0);
    let text = CString::try_from_fmt(fmt!(
        "record_bytes {}\nrecords_per_cpu_1mib 2:{} 64:{} 256:{}\n",
        format::RECORD_SIZE,
        per(2),
        per(64),
        per(256)
    ));
    // SAFETY: a read's own arguments.
    unsafe { reply(buf, count, ppos, text) }
}

unsafe extern "C" fn read_now(_f: *mut bindings::file, buf: *mut c_char, count: usize, ppos: *mut i64) -> isize {
    // SAFETY: no preconditions.
    let now = unsafe { bindings::htbench_local_clock() };
    // SAFETY: a read's own arguments.
    unsafe { reply(buf, count, ppos, CString::try_from_fmt(fmt!("{}\n", now))) }
}

unsafe extern "C" fn read_point(_f: *mut bindings::file, buf: *mut c_char, count: usize, ppos: *mut i64) -> isize {
    let text = kprobe::on_ftrace_site(c"htbench_target").and_then(|ftrace| {
        // SAFETY: no preconditions.
        let offset = if ftrace { unsafe { bindings::htbench_mcount_insn_size() } } else { 0 };
        CString::try_from_fmt(fmt!("htbench_target+{:#x}\n", offset))
    });
    // SAFETY: a read's own arguments.
    unsafe { reply(buf, count, ppos, text) }
}

/// `MODE SYMBOL[+OFFSET]` or `off`.
fn parse_kprobe(line: &[u8]) -> Result {
    let mut words = line.split(|c| c.is_ascii_whitespace()).filter(|w| !w.is_empty());
    let mode = words.next().ok_or(EINVAL)?;
    if mode == b"off" {
        return kprobe::disarm();
    }
    let mode = kprobe::Mode::parse(mode).ok_or(EINVAL)?;
    let spec = words.next().ok_or(EINVAL)?;
    let (symbol, offset) = match spec.iter().position(|&c| c == b'+') {
        None => (spec, 0),
        Some(i) => (&spec[..i], parse_offset(&spec[i + 1..]).ok_or(EINVAL)?),
    };
    kprobe::arm(mode, symbol, offset)
}

fn parse_offset(s: &[u8]) -> Option<u32> {
    let (digits, radix) = match s {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 16),
        _ => (s, 10),
    };
    u32::from_str_radix(core::str::from_utf8(digits).ok()?, radix).ok()
}

unsafe extern "C" fn write_kprobe(
    _f: *mut bindings::file,
    buf: *const c_char,
    count: usize,
    ppos: *mut i64,
) -> isize {
    let mut line = [0u8; 160];
    if count >= line.len() {
        return EINVAL.to_errno() as isize;
    }
    let mut pos = 0i64;
    // SAFETY: `buf` is the write's user buffer of `count` bytes; `line` has
    // room for them.
    let n = unsafe { bindings::simple_write_to_buffer(line.as_mut_ptr().cast(), line.len(), &mut pos, buf.cast(), count) };
    if n < 0 {
        return n;
    }
    match parse_kprobe(&line[..n as usize]) {
        Ok(()) => {
            // SAFETY: a write's valid position.
            unsafe { *ppos += count as i64 };
            count as isize
        }
        Err(e) => e.to_errno() as isize,
    }
}
