// SPDX-License-Identifier: GPL-2.0

//! Kernel settings the trail's header records that 6.12 does not export to
//! modules, read at load from their sysctl / parameter files:
//! - `watchdog_thresh` (and `soft_watchdog`): the watchdog hrtimer period
//!   is `watchdog_thresh * 2 / 5` s (`kernel/watchdog.c`,
//!   `NUM_SAMPLE_PERIODS` = 5);
//! - `crash_kexec_post_notifiers`, a `core_param`.
//!
//! `panic_timeout` is exported and read directly. Anything unreadable reads
//! as unknown (`None`); the load goes on.

use crate::bindings;

/// Reads up to 32 bytes of the file at `path` (NUL-terminated).
fn read_small(path: &core::ffi::CStr, buf: &mut [u8; 32]) -> Option<usize> {
    // SAFETY: a NUL-terminated path; `filp_open` returns a file or an
    // ERR_PTR, checked below.
    let f = unsafe { bindings::filp_open(path.as_ptr().cast(), bindings::O_RDONLY as i32, 0) };
    if f.is_null() || (f as usize) >= (-4095isize) as usize {
        return None;
    }
    let mut pos: i64 = 0;
    // SAFETY: `f` is an open file; `buf` has `buf.len()` writable bytes.
    let n = unsafe { bindings::kernel_read(f, buf.as_mut_ptr().cast(), buf.len(), &mut pos) };
    // SAFETY: closes the file opened above.
    unsafe { bindings::filp_close(f, core::ptr::null_mut()) };
    (n > 0).then_some(n as usize)
}

/// A decimal integer file (`watchdog_thresh`), or `None`.
fn read_u64(path: &core::ffi::CStr) -> Option<u64> {
    let mut buf = [0u8; 32];
    let n = read_small(path, &mut buf)?;
    let digits = buf[..n].iter().take_while(|c| c.is_ascii_digit());
    let mut v: u64 = 0;
    let mut any = false;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
        any = true;
    }
    any.then_some(v)
}

/// The watchdog hrtimer period in ns (what `watchdog_timer_fn` runs at), or
/// 0 if unknown or the soft lockup detector is off.
pub(crate) fn sample_period_ns() -> u64 {
    if read_u64(c"/proc/sys/kernel/soft_watchdog") == Some(0) {
        return 0;
    }
    read_u64(c"/proc/sys/kernel/watchdog_thresh").map_or(0, |t| t.saturating_mul(2_000_000_000) / 5)
}

/// Whether `crash_kexec_post_notifiers` is set (`Y`).
pub(crate) fn post_notifiers() -> bool {
    let mut buf = [0u8; 32];
    read_small(c"/sys/module/kernel/parameters/crash_kexec_post_notifiers", &mut buf)
        .is_some_and(|n| n > 0 && buf[0] == b'Y')
}

/// `panic_timeout` (`panic=N`).
pub(crate) fn panic_timeout() -> i32 {
    // SAFETY: an exported `int`, read once.
    unsafe { core::ptr::addr_of!(bindings::panic_timeout).read_volatile() }
}
