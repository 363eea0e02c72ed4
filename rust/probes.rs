// SPDX-License-Identifier: GPL-2.0

//! Kprobes and kretprobes on the plan's points, and their handlers.
//!
//! The default path of a handler is: find the point, write one record, count
//! the hit. No allocation, no lock, no printk (unless `printk=1`). A few
//! roles add a record (`CrashLoaded`, `KexecImage`, `StopContext`,
//! `StopMap`) or set this CPU's phase (`phase.rs`); the arm64 cache
//! routines are only counted outside a kexec load and the crash path.

use crate::bindings;
use crate::format::{self, Kind, Point, Role, NO_POINT, POINT_NAME_LEN};
use crate::format::Header;
use crate::phase;
use crate::plan::{self, Spec};
use crate::region::{Crumb, Region, Writer};
use crate::softlockup;
use crate::hardlockup;
use crate::stop;
use core::ffi::c_int;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use kernel::prelude::*;

/// One probe point: the kprobe (and kretprobe) the kernel holds, plus what
/// the handler needs. `repr(C)` with `kp` first: a handler's `*mut kprobe`
/// is a `*const Probe`.
#[repr(C)]
pub(crate) struct Probe {
    kp: bindings::kprobe,
    krp: bindings::kretprobe,
    /// NUL-terminated symbol, what `kp.symbol_name` points at.
    symbol: [u8; POINT_NAME_LEN],
    /// As in the point table.
    pub(crate) point: Point,
    index: u16,
    role: Role,
    stall: bool,
    kp_registered: bool,
    krp_registered: bool,
    hits: AtomicU64,
}

/// Everything the handlers reach: published in `LIVE` while probes are
/// registered.
pub(crate) struct Live {
    /// The trail being written.
    pub(crate) writer: Writer,
    /// Point table; `nr` used.
    pub(crate) probes: [Probe; format::MAX_POINTS],
    /// Points in use.
    pub(crate) nr: usize,
    /// `printk=1`.
    pub(crate) printk: bool,
    notifier: bindings::notifier_block,
    notifier_registered: bool,
}

// SAFETY: the C structs inside are handed to the kernel once, registered and
// unregistered from module init/exit only; handlers share `Live` read-only
// through atomics and the region's volatile stores.
unsafe impl Send for Live {}
// SAFETY: as above.
unsafe impl Sync for Live {}

/// The live trail, or null. Set before the first registration, cleared after
/// the last unregistration (which waits for running handlers).
static LIVE: AtomicPtr<Live> = AtomicPtr::new(core::ptr::null_mut());

/// The live trail, if any. For handlers.
pub(crate) fn live() -> Option<&'static Live> {
    // SAFETY: a non-null `LIVE` points at a `Live` that stays allocated until
    // after `LIVE` is cleared and every probe is unregistered (`Live::stop`).
    unsafe { LIVE.load(Ordering::Acquire).as_ref() }
}

impl Live {
    /// Starts a fresh trail in `region` and returns the state around it. It
    /// is large (probes, counters): built in place on the heap, never on the
    /// stack.
    pub(crate) fn new(region: Region, header: Header, printk: bool) -> Result<KVBox<Self>> {
        let mut b = KVBox::<Self>::new_uninit(GFP_KERNEL)?;
        let p = b.as_mut_ptr();
        // SAFETY: every field of `Live` is valid when all-zero (C structs,
        // integers, atomics, bools, `Role::User` = 0) except the writer's
        // region and header, which `start_at` writes, before `assume_init`.
        let mut live = unsafe {
            core::ptr::write_bytes(p, 0, 1);
            Writer::start_at(core::ptr::addr_of_mut!((*p).writer), region, header);
            b.assume_init()
        };
        live.printk = printk;
        Ok(live)
    }

    /// Publishes `self` to the handlers. `self` must not move (it is boxed)
    /// and must `stop` before it is dropped.
    pub(crate) fn publish(&mut self) {
        LIVE.store(self, Ordering::Release);
    }

    /// Adds the point spelled `spec` and registers it; `stall` makes it spin
    /// after recording (`inject_stall`). Returns whether kprobes took it; a
    /// point that did not is kept in the table, marked missing or refused.
    pub(crate) fn add(&mut self, role: Role, spec: Spec<'_>, kretprobe: bool, stall: bool) -> Result<bool> {
        if self.nr == format::MAX_POINTS {
            pr_err!("more than {} points\n", format::MAX_POINTS);
            return Err(EINVAL);
        }
        let p = &mut self.probes[self.nr];
        format::copy_padded(&mut p.symbol, spec.symbol);
        p.point.name = plan::point_name(spec);
        p.point.role = role as u8;
        p.point.offset = spec.offset;
        p.point.kretprobe = kretprobe as u8;
        p.index = self.nr as u16;
        p.role = role;
        p.stall = stall;
        let ok = p.register();
        self.nr += 1;
        Ok(ok)
    }

    /// Forgets the last point added, if it did not register (to try the next
    /// alias of a built-in point in its place).
    pub(crate) fn forget_last_missing(&mut self) {
        if let Some(p) = self.nr.checked_sub(1).map(|i| &mut self.probes[i]) {
            if p.point.status == format::POINT_MISSING {
                // SAFETY: all-zero is a valid `Probe` (see `new`); it is not
                // registered, so the kernel holds no pointer into it.
                unsafe { core::ptr::write_bytes(p as *mut Probe, 0, 1) };
                self.nr -= 1;
            }
        }
    }

    /// Whether the point spelled `spec` is in the table.
    pub(crate) fn has(&self, spec: Spec<'_>) -> bool {
        self.probes().iter().any(|p| format::cstr(&p.symbol) == spec.symbol && p.point.offset == spec.offset)
    }

    /// Registers the panic notifier (the non-kdump path's record), a
    /// pseudo-point of its own (role `PanicNotifier`, no kprobe). Returns
    /// whether it registered.
    pub(crate) fn register_notifier(&mut self) -> Result<bool> {
        if self.nr == format::MAX_POINTS {
            pr_err!("more than {} points\n", format::MAX_POINTS);
            return Err(EINVAL);
        }
        self.notifier.notifier_call = Some(panic_notifier);
        // SAFETY: the notifier block lives in `self`, which outlives the
        // registration (`stop` unregisters it).
        let err = unsafe {
            bindings::atomic_notifier_chain_register(
                core::ptr::addr_of_mut!(bindings::panic_notifier_list),
                &mut self.notifier,
            )
        };
        self.notifier_registered = err == 0;
        let p = &mut self.probes[self.nr];
        format::copy_padded(&mut p.point.name, b"panic_notifier_list");
        p.point.role = Role::PanicNotifier as u8;
        p.role = Role::PanicNotifier;
        p.index = self.nr as u16;
        if err == 0 {
            p.point.status = format::POINT_REGISTERED;
            p.point.addr = panic_notifier as *const () as usize as u64;
        } else {
            p.point.status = format::POINT_REFUSED;
            p.point.errno = err;
        }
        self.nr += 1;
        Ok(err == 0)
    }

    /// Unregisters everything and unpublishes `self`. After this returns no
    /// handler runs or will run with a reference to `self`.
    pub(crate) fn stop(&mut self) {
        hardlockup::stop();
        if self.notifier_registered {
            // SAFETY: registered in `start`; unregistering waits (RCU) for
            // running callbacks.
            unsafe {
                bindings::atomic_notifier_chain_unregister(
                    core::ptr::addr_of_mut!(bindings::panic_notifier_list),
                    &mut self.notifier,
                )
            };
            self.notifier_registered = false;
        }
        // In two batches (kretprobes, then kprobes): one RCU grace period
        // (and one optimizer flush) each instead of one per point: an
        // unload takes a fraction of the time (e2e load-unload).
        let mut kps = [core::ptr::null_mut::<bindings::kprobe>(); format::MAX_POINTS];
        let mut krps = [core::ptr::null_mut::<bindings::kretprobe>(); format::MAX_POINTS];
        let (mut nk, mut nkr) = (0, 0);
        for p in &mut self.probes[..self.nr] {
            if p.krp_registered {
                krps[nkr] = &mut p.krp;
                nkr += 1;
                p.krp_registered = false;
            }
            if p.kp_registered {
                kps[nk] = &mut p.kp;
                nk += 1;
                p.kp_registered = false;
            }
        }
        // SAFETY: each was registered by `Probe::register` and is in `self`;
        // unregistering waits for handlers still running on other CPUs.
        unsafe {
            if nkr > 0 {
                bindings::unregister_kretprobes(krps.as_mut_ptr(), nkr as i32);
            }
            if nk > 0 {
                bindings::unregister_kprobes(kps.as_mut_ptr(), nk as i32);
            }
        }
        LIVE.store(core::ptr::null_mut(), Ordering::Release);
    }

    /// The point table as stored in the header.
    pub(crate) fn points(&self) -> impl Iterator<Item = &Point> {
        self.probes[..self.nr].iter().map(|p| &p.point)
    }

    /// The probes in use, for the `probes` debugfs file.
    pub(crate) fn probes(&self) -> &[Probe] {
        &self.probes[..self.nr]
    }

    /// The index of the first registered point with `role`.
    pub(crate) fn point_of(&self, role: Role) -> u16 {
        self.probes()
            .iter()
            .find(|p| p.role == role && p.point.status == format::POINT_REGISTERED)
            .map_or(NO_POINT, |p| p.index)
    }
}

impl Probe {
    fn register(&mut self) -> bool {
        self.kp.symbol_name = self.symbol.as_ptr();
        self.kp.offset = self.point.offset;
        self.kp.pre_handler = Some(pre_handler);
        // SAFETY: `kp` is zero-initialised apart from the fields set above and
        // lives in `Live`, which stays put until `unregister`.
        let err = unsafe { bindings::register_kprobe(&mut self.kp) };
        if err != 0 {
            self.point.status = if err == ENOENT.to_errno() {
                format::POINT_MISSING
            } else {
                format::POINT_REFUSED
            };
            self.point.errno = err;
            return false;
        }
        self.kp_registered = true;
        self.point.status = format::POINT_REGISTERED;
        self.point.addr = self.kp.addr as u64;
        if self.point.kretprobe != 0 {
            self.krp.kp.symbol_name = self.symbol.as_ptr();
            self.krp.handler = Some(match self.role {
                Role::CpuStop => stop_returned,
                Role::KexecLoad => load_syscall_returned,
                _ => load_returned,
            });
            // SAFETY: as for `kp`.
            let err = unsafe { bindings::register_kretprobe(&mut self.krp) };
            if err == 0 {
                self.krp_registered = true;
            } else {
                self.point.kretprobe = 0;
                pr_warn!("no return probe on {}: error {}\n",
                    core::str::from_utf8(format::cstr(&self.symbol)).unwrap_or("?"), err);
            }
        }
        true
    }

    /// Times the point was hit.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Times kprobes skipped the handler (re-entry).
    pub(crate) fn nmissed(&self) -> u64 {
        // SAFETY: kprobes updates these counters from any CPU; a volatile
        // read of an aligned word is what a racing reader can do in C.
        unsafe {
            let kp = core::ptr::addr_of!(self.kp.nmissed).read_volatile();
            let krp = core::ptr::addr_of!(self.krp.kp.nmissed).read_volatile();
            (kp + krp) as u64
        }
    }
}

/// The phase flags of a record written now, on this CPU (`phase.rs`).
pub(crate) fn phase() -> u8 {
    phase::flags()
}

/// Writes `c` as a breadcrumb, and logs it if `printk=1` (not the symbol
/// text chunks, whose `point` is a chunk index).
pub(crate) fn record(live: &Live, c: &Crumb) -> u64 {
    let seq = live.writer.write(c);
    if live.printk && c.kind != Kind::Name {
        let name = live.probes.get(c.point as usize).map_or(&[][..], |p| format::cstr(&p.point.name));
        pr_info!(
            "{} {} pc={:#x} arg={:#x} seq={}\n",
            c.kind.name(),
            core::str::from_utf8(name).unwrap_or("?"),
            c.pc,
            c.arg,
            seq
        );
    }
    seq
}

unsafe extern "C" fn pre_handler(kp: *mut bindings::kprobe, regs: *mut bindings::pt_regs) -> c_int {
    let Some(live) = live() else { return 0 };
    // SAFETY: every kprobe we register is the first field of a `Probe`
    // (`repr(C)`) inside `live`.
    let p = unsafe { &*(kp as *const Probe) };
    p.hits.fetch_add(1, Ordering::Relaxed);
    // SAFETY: `regs` is the probed context's register set, valid for the call.
    let arg = unsafe { bindings::hangtrail_regs_arg0(regs) } as u64;
    let addr = p.kp.addr as u64;
    match p.role {
        Role::WatchdogTimer => return softlockup::on_timer(live, regs),
        Role::WatchdogTouch => return softlockup::on_touch(),
        Role::SoftLockupTaint => return softlockup::on_taint(live, p.index, regs),
        Role::HardLockupCheck if hardlockup::on_trigger(live, p.index, p.point.addr, regs) => return 0,
        Role::PanicEntry => phase::enter_crash(),
        Role::CrashKexec => {
            phase::enter_stopper();
            // SAFETY: no preconditions (reads the crash image pointer).
            let loaded = unsafe { bindings::kexec_crash_loaded() } != 0;
            let mut c = Crumb::new(Kind::CrashLoaded, p.index, addr, loaded as u64);
            c.flags = phase();
            record(live, &c);
        }
        Role::CrashShutdown => phase::enter_stopper(),
        Role::CpuStop => {
            phase::enter_stopper();
            stop::begin(live);
        }
        // A stopped CPU's stop handler, or its crash_save_cpu (arm64 has no
        // stop handler to probe): marked stopped before its record, so the
        // record says so too.
        Role::StopHandler | Role::CrashSaveCpu => {
            if phase::is_stopped_cpu() {
                phase::mark_stopped();
            }
        }
        Role::MachineKexec if arg != 0 => {
            // SAFETY: `machine_kexec`'s argument is the `struct kimage *`
            // being started, non-null (checked) and live for the call.
            let ty = unsafe { bindings::hangtrail_kimage_type(arg as usize as *mut _) };
            let mut c = Crumb::new(Kind::KexecImage, p.index, arg, ty as u64);
            c.flags = phase();
            record(live, &c);
        }
        Role::KexecPostLoad => phase::load_begin(),
        // Off the 6.12 crash path they run on every executable page fault
        // and module load: counted (`hits`), recorded only when they matter.
        Role::CacheDcache | Role::CacheIcache
            if phase() & (format::REC_LOAD_PHASE | format::REC_CRASH_PHASE) == 0 =>
        {
            return 0;
        }
        _ => {}
    }
    let mut c = Crumb::new(Kind::Probe, p.index, addr, arg);
    c.flags = phase();
    record(live, &c);
    if p.role == Role::CrashSaveCpu {
        stop::on_save_cpu(live, p.index, regs);
    }
    if p.stall {
        stall();
    }
    0
}

/// Records the return of the kretprobe behind `ri`; returns its point.
fn on_return(ri: *mut bindings::kretprobe_instance, regs: *mut bindings::pt_regs) -> Option<(&'static Live, u16)> {
    let live = live()?;
    // SAFETY: `ri` is the running instance of one of our kretprobes; its
    // kretprobe is the `krp` field of a `Probe` inside `live` (`repr(C)`).
    let p = unsafe {
        let krp = bindings::hangtrail_kretprobe_of(ri);
        &*krp.cast::<u8>().sub(core::mem::offset_of!(Probe, krp)).cast::<Probe>()
    };
    p.hits.fetch_add(1, Ordering::Relaxed);
    // SAFETY: `regs` is the returning context's register set.
    let ret = unsafe { bindings::hangtrail_regs_return_value(regs) } as u64;
    let mut c = Crumb::new(Kind::Return, p.index, p.point.addr, ret);
    c.flags = phase();
    record(live, &c);
    Some((live, p.index))
}

/// The CPU stop returned: record which other CPUs were not seen stopping.
unsafe extern "C" fn stop_returned(
    ri: *mut bindings::kretprobe_instance,
    regs: *mut bindings::pt_regs,
) -> c_int {
    if let Some((live, point)) = on_return(ri, regs) {
        stop::record_map(live, point);
    }
    0
}

/// `machine_kexec_post_load` returned: this task's load window is over.
unsafe extern "C" fn load_returned(
    ri: *mut bindings::kretprobe_instance,
    regs: *mut bindings::pt_regs,
) -> c_int {
    on_return(ri, regs);
    phase::load_end();
    0
}

/// A kexec load syscall returned: the window ends here at the latest.
unsafe extern "C" fn load_syscall_returned(
    ri: *mut bindings::kretprobe_instance,
    regs: *mut bindings::pt_regs,
) -> c_int {
    on_return(ri, regs);
    phase::load_end();
    0
}

unsafe extern "C" fn panic_notifier(
    _nb: *mut bindings::notifier_block,
    _event: bindings::ctypes::c_ulong,
    _data: *mut core::ffi::c_void,
) -> c_int {
    if let Some(live) = live() {
        phase::enter_crash();
        let point = live.point_of(Role::PanicNotifier);
        if let Some(p) = live.probes.get(point as usize) {
            p.hits.fetch_add(1, Ordering::Relaxed);
        }
        let mut c = Crumb::new(Kind::PanicNotifier, point, bindings::panic as *const () as usize as u64, 0);
        c.flags = phase();
        record(live, &c);
    }
    0 // NOTIFY_DONE
}

/// `inject_stall`: the hang of the real reports, interrupts masked, forever.
fn stall() -> ! {
    // SAFETY: masking interrupts on this CPU is the point; nothing is held.
    unsafe { bindings::hangtrail_local_irq_disable() };
    loop {
        core::hint::spin_loop();
    }
}
