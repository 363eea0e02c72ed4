// SPDX-License-Identifier: GPL-2.0

//! The benchmark's own kprobe, one at a time: an empty pre-handler (the
//! floor of any kprobe tool), a printk breadcrumb (what the real reports did
//! by hand), or a stall with interrupts masked (to hang the peers' crash
//! path where hangtrail's `inject_stall` would).

use crate::bindings;
use core::cell::UnsafeCell;
use core::ffi::c_int;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::prelude::*;

/// What the pre-handler does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Empty,
    Printk,
    Stall,
}

impl Mode {
    pub(crate) fn parse(s: &[u8]) -> Option<Self> {
        match s {
            b"empty" => Some(Self::Empty),
            b"printk" => Some(Self::Printk),
            b"stall" => Some(Self::Stall),
            _ => None,
        }
    }
}

const SYMBOL_LEN: usize = 128;

struct Slot {
    kp: UnsafeCell<bindings::kprobe>,
    symbol: UnsafeCell<[u8; SYMBOL_LEN]>,
}

// SAFETY: only `arm`/`disarm` write the slot, under `BUSY`; the kernel reads
// the kprobe while it is registered, and nothing else touches it then.
unsafe impl Sync for Slot {}

static SLOT: Slot = Slot {
    // SAFETY: all-zero is a valid, unregistered `struct kprobe`.
    kp: UnsafeCell::new(unsafe { core::mem::MaybeUninit::zeroed().assume_init() }),
    symbol: UnsafeCell::new([0; SYMBOL_LEN]),
};
static BUSY: AtomicBool = AtomicBool::new(false);
static ARMED: AtomicBool = AtomicBool::new(false);

/// Holds `BUSY` (one writer of the slot at a time).
struct Guard;

impl Guard {
    fn take() -> Result<Self> {
        BUSY.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .map(|_| Guard)
            .map_err(|_| EBUSY)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        BUSY.store(false, Ordering::Release);
    }
}

/// Registers the kprobe on `symbol`+`offset` with `mode`'s handler, in place
/// of any earlier one.
pub(crate) fn arm(mode: Mode, symbol: &[u8], offset: u32) -> Result {
    let _g = Guard::take()?;
    disarm_locked();
    if symbol.is_empty() || symbol.len() >= SYMBOL_LEN {
        return Err(EINVAL);
    }
    // SAFETY: not registered (disarmed above) and we hold `BUSY`: nothing
    // else reads or writes the slot.
    let err = unsafe {
        let sym = &mut *SLOT.symbol.get();
        sym.fill(0);
        sym[..symbol.len()].copy_from_slice(symbol);
        let kp = &mut *SLOT.kp.get();
        *kp = core::mem::MaybeUninit::zeroed().assume_init();
        kp.symbol_name = sym.as_ptr();
        kp.offset = offset;
        kp.pre_handler = Some(match mode {
            Mode::Empty => empty,
            Mode::Printk => printk,
            Mode::Stall => stall,
        });
        bindings::register_kprobe(kp)
    };
    if err != 0 {
        pr_err!("htbench: register_kprobe {}+{:#x}: {}\n",
            core::str::from_utf8(symbol).unwrap_or("?"), offset, err);
        return Err(Error::from_errno(err));
    }
    ARMED.store(true, Ordering::Relaxed);
    Ok(())
}

/// Unregisters the kprobe, if any.
pub(crate) fn disarm() -> Result {
    let _g = Guard::take()?;
    disarm_locked();
    Ok(())
}

fn disarm_locked() {
    if ARMED.swap(false, Ordering::Relaxed) {
        // SAFETY: registered by `arm`; unregistering waits for handlers still
        // running.
        unsafe { bindings::unregister_kprobe(SLOT.kp.get()) };
    }
}

/// Whether kprobes put a probe on `symbol`'s entry through ftrace (the
/// entry is an ftrace site and the arch has KPROBES_ON_FTRACE).
pub(crate) fn on_ftrace_site(symbol: &core::ffi::CStr) -> Result<bool> {
    // SAFETY: all-zero is a valid, unregistered `struct kprobe`.
    let mut kp: bindings::kprobe = unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
    kp.symbol_name = symbol.as_ptr().cast();
    kp.pre_handler = Some(empty);
    // SAFETY: `kp` stays put until unregistered below, before it goes.
    let err = unsafe { bindings::register_kprobe(&mut kp) };
    if err != 0 {
        return Err(Error::from_errno(err));
    }
    let ftrace = kp.flags & bindings::KPROBE_FLAG_FTRACE != 0;
    // SAFETY: registered above.
    unsafe { bindings::unregister_kprobe(&mut kp) };
    Ok(ftrace)
}

unsafe extern "C" fn empty(_kp: *mut bindings::kprobe, _regs: *mut bindings::pt_regs) -> c_int {
    0
}

unsafe extern "C" fn printk(kp: *mut bindings::kprobe, _regs: *mut bindings::pt_regs) -> c_int {
    // SAFETY: the kprobe being handled, registered by `arm`.
    let addr = unsafe { (*kp).addr } as usize;
    pr_info!("htbench: breadcrumb pc={:#x}\n", addr);
    0
}

unsafe extern "C" fn stall(_kp: *mut bindings::kprobe, _regs: *mut bindings::pt_regs) -> c_int {
    // SAFETY: masking interrupts on this CPU is the point; nothing is held.
    unsafe { bindings::htbench_irq_disable() };
    loop {
        core::hint::spin_loop();
    }
}
