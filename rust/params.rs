// SPDX-License-Identifier: GPL-2.0

//! Module parameters for a 6.12 kernel, whose `module!` has no `params` key,
//! and `release`, the one that is written at run time.
//!
//! [`module_param!`] emits what C's `module_param()` + `MODULE_PARM_DESC()`
//! emit: a `struct kernel_param` in the `__param` section, pointing at the
//! storage and at one of the kernel's own `param_ops_*`, and the `.modinfo`
//! strings `parmtype=NAME:TYPE` and `parm=NAME:DESC` that `modinfo` lists. The
//! kernel parses the values before `init` runs and, for `charp`, owns (and
//! frees) the string.

use crate::bindings;
use core::cell::UnsafeCell;

/// Storage for one parameter's value, written by the kernel's parser.
#[repr(transparent)]
pub(crate) struct Param<T>(UnsafeCell<T>);

// SAFETY: the kernel writes the value while loading the module, before `init`
// and before any other code of this module runs; the permissions
// `module_param!` gives are read-only (0444), so sysfs never writes it
// afterwards.
unsafe impl<T> Sync for Param<T> {}

impl<T: Copy> Param<T> {
    /// A parameter with this default.
    pub(crate) const fn new(default: T) -> Self {
        Self(UnsafeCell::new(default))
    }

    /// The value the module was loaded with.
    pub(crate) fn get(&self) -> T {
        // SAFETY: see the `Sync` impl: no writer exists once module code runs.
        unsafe { *self.0.get() }
    }

    /// Where the kernel's parser stores the value.
    pub(crate) const fn as_ptr(&self) -> *mut core::ffi::c_void {
        self.0.get().cast()
    }
}

impl Param<*mut u8> {
    /// The string value of a `charp` parameter (empty when unset).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        let p = self.get();
        if p.is_null() {
            return &[];
        }
        // SAFETY: `param_ops_charp` stores a NUL-terminated string that the
        // kernel keeps until the module is unloaded, after `self` is last used.
        unsafe { core::ffi::CStr::from_ptr(p.cast()) }.to_bytes()
    }
}

/// A `struct kernel_param` that may live in a `static`.
#[repr(transparent)]
pub(crate) struct KernelParam(pub bindings::kernel_param);

// SAFETY: the kernel only reads the entry (its pointers are to statics and to
// `__this_module`), and never from two contexts that would race on a write.
unsafe impl Sync for KernelParam {}

/// `s` as a NUL-free byte array of length `N` (for `.modinfo` strings built
/// with `concat!`).
pub(crate) const fn bytes<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = b[i];
        i += 1;
    }
    out
}

/// Declares a module parameter: `module_param!(NAME: TYPE = DEFAULT, OPS,
/// "modinfo type", "description")`, where OPS is one of the kernel's
/// `param_ops_*`. Creates `static NAME: Param<TYPE>`, read-only in sysfs.
macro_rules! module_param {
    ($name:ident: $ty:ty = $default:expr, $ops:ident, $kind:literal, $desc:literal) => {
        #[allow(non_upper_case_globals)]
        pub(crate) static $name: $crate::params::Param<$ty> =
            $crate::params::Param::new($default);

        kernel_param!(
            $name,
            // SAFETY: the address of the kernel's static ops; only taken.
            unsafe { core::ptr::addr_of!($crate::bindings::$ops) },
            0o444,
            $name.as_ptr(),
            $kind,
            $desc
        );
    };
}

/// Emits the `struct kernel_param` and the `.modinfo` strings of parameter
/// `$name`: `$ops` (a `*const kernel_param_ops`), sysfs mode `$perm`, and
/// `$arg`, the pointer `$ops` is handed.
macro_rules! kernel_param {
    ($name:ident, $ops:expr, $perm:expr, $arg:expr, $kind:literal, $desc:literal) => {
        const _: () = {
            use $crate::bindings;
            use $crate::params::{bytes, KernelParam};

            #[link_section = "__param"]
            #[used(compiler)]
            // Taking an extern static's address needs `unsafe` before Rust 1.82.
            #[allow(unused_unsafe)]
            static PARAM: KernelParam = KernelParam(bindings::kernel_param {
                name: concat!(stringify!($name), "\0").as_ptr(),
                // SAFETY: `__this_module` is defined by modpost for this module
                // and lives as long as the module; only its address is taken.
                mod_: unsafe { core::ptr::addr_of!(bindings::__this_module) as *mut _ },
                ops: $ops,
                perm: $perm,
                level: -1,
                flags: 0,
                __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 { arg: $arg },
            });

            const TYPE: &str = concat!("parmtype=", stringify!($name), ":", $kind, "\0");
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE: [u8; TYPE.len()] = bytes(TYPE);

            const DESC: &str = concat!("parm=", stringify!($name), ":", $desc, "\0");
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM: [u8; DESC.len()] = bytes(DESC);
        };
    };
}

module_param!(mem_address: usize = 0, param_ops_ulong, "ulong",
    "Physical address of the reserved region (or mem_name, or a DT node)");
module_param!(mem_size: usize = 0, param_ops_ulong, "ulong",
    "Size of the reserved region in bytes (with mem_address)");
module_param!(mem_name: *mut u8 = core::ptr::null_mut(), param_ops_charp, "charp",
    "Name of a reserve_mem=SIZE:ALIGN:NAME region (instead of mem_address and mem_size)");
module_param!(mem_type: u32 = 0, param_ops_uint, "uint",
    "Mapping: 0 = write-combine (default), 1 = uncached, 2 = cached");
module_param!(probes: *mut u8 = core::ptr::null_mut(), param_ops_charp, "charp",
    "Extra points: comma-separated symbol or symbol+offset (decimal or 0x hex)");
module_param!(printk: bool = false, param_ops_bool, "bool",
    "Also printk each breadcrumb (off: printk can be what hangs)");
module_param!(overwrite: bool = false, param_ops_bool, "bool",
    "Record over a crashed boot's trail found at load even if nobody released it (default: keep it, record nothing)");
module_param!(crash_marks: bool = false, param_ops_bool, "bool",
    "The crash kernel loads hangtrail too (kdump initramfs hook): no arrival mark after machine_kexec = hung");
module_param!(inject_stall: *mut u8 = core::ptr::null_mut(), param_ops_charp, "charp",
    "TEST AID: symbol[+offset]; after recording it, spin forever with IRQs masked");

/// A `struct kernel_param_ops` that may live in a `static`.
#[repr(transparent)]
struct ParamOps(bindings::kernel_param_ops);

// SAFETY: read-only; the kernel only reads it.
unsafe impl Sync for ParamOps {}

static RELEASE_OPS: ParamOps = ParamOps(bindings::kernel_param_ops {
    flags: 0,
    set: Some(set_release),
    get: Some(get_release),
    free: None,
});

// `/sys/module/hangtrail/parameters/release`, root-only (0600): reads `held`
// (a crashed boot's trail is held), `released` (it was, and root released it:
// the next load records) or `none`; writing `release` releases the held trail.
// A module parameter rather than a debugfs file because lockdown (Secure Boot)
// refuses debugfs files with a write bit, and not one of the `hwparam` kind
// that lockdown refuses. Given at load it is refused: nothing is held yet.
kernel_param!(
    release,
    &RELEASE_OPS.0,
    0o600,
    core::ptr::null_mut(),
    "string",
    "Write `release` once the held trail is saved (read: held, released or none)"
);

/// Runs `f` under this module's parameter lock, which every `release` read
/// and write holds: once it returns, no write is in flight.
pub(crate) fn locked<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: `__this_module` is this module; the lock is a mutex, taken in
    // process context (module init or exit) and released below.
    unsafe { bindings::kernel_param_lock(core::ptr::addr_of_mut!(bindings::__this_module)) };
    let r = f();
    // SAFETY: taken above.
    unsafe { bindings::kernel_param_unlock(core::ptr::addr_of_mut!(bindings::__this_module)) };
    r
}

/// `release`'s write: `release` (a trailing newline allowed) marks the held
/// trail released; anything else is `EINVAL`, nothing held `ENODEV`.
unsafe extern "C" fn set_release(val: *const bindings::ctypes::c_char, _kp: *const bindings::kernel_param) -> i32 {
    // SAFETY: the kernel passes a NUL-terminated string (sysfs's page or the
    // load's arguments) valid for the call.
    let word = unsafe { core::ffi::CStr::from_ptr(val.cast()) }.to_bytes();
    let word = word.strip_suffix(b"\n").unwrap_or(word);
    if word != b"release" {
        return kernel::error::code::EINVAL.to_errno();
    }
    match crate::guard::release() {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `release`'s read: the guard's state and a newline.
unsafe extern "C" fn get_release(buffer: *mut bindings::ctypes::c_char, _kp: *const bindings::kernel_param) -> i32 {
    let state = crate::guard::state();
    // SAFETY: sysfs hands a page-sized buffer; the state is a few bytes.
    unsafe {
        core::ptr::copy_nonoverlapping(state.as_ptr(), buffer.cast(), state.len());
        *buffer.add(state.len()) = b'\n' as _;
    }
    state.len() as i32 + 1
}
