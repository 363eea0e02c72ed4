// SPDX-License-Identifier: GPL-2.0

//! The probe plan: which points hangtrail probes, resolved at load.
//!
//! Built-in points are logical: each has name aliases tried in order, so the
//! names in the real (4.18–5.10) reports work where they exist and their 6.x
//! successors elsewhere. `probes=` adds `symbol[+offset]` points.

use crate::format::{Role, MAX_POINTS, POINT_NAME_LEN};
use kernel::prelude::*;

/// One built-in logical point.
pub(crate) struct Builtin {
    /// What the point means on the crash path.
    pub(crate) role: Role,
    /// Names to try, first that resolves wins.
    pub(crate) aliases: &'static [&'static str],
    /// Also record the function's return (kretprobe).
    pub(crate) kretprobe: bool,
}

const fn point(role: Role, aliases: &'static [&'static str], kretprobe: bool) -> Builtin {
    Builtin { role, aliases, kretprobe }
}

/// Points on every architecture, in crash-path order.
const COMMON: &[Builtin] = &[
    point(Role::PanicEntry, &["panic", "vpanic"], false),
    point(Role::CrashKexec, &["__crash_kexec", "crash_kexec"], false),
    point(Role::CrashShutdown, &["machine_crash_shutdown"], false),
    point(Role::CrashSaveCpu, &["crash_save_cpu"], false),
    point(Role::MachineKexec, &["machine_kexec"], false),
    // How a path ends without a crash kernel: `kexec -e`, an orderly
    // reboot, the `panic=N` timeout (and sysrq-b), a halt or power-off.
    point(Role::KernelKexec, &["kernel_kexec"], false),
    point(Role::Restart, &["kernel_restart"], false),
    point(Role::Restart, &["machine_restart"], false),
    point(Role::EmergencyRestart, &["emergency_restart"], false),
    point(Role::PowerOff, &["kernel_power_off"], false),
    point(Role::PowerOff, &["kernel_halt"], false),
    // The soft lockup hook (softlockup.rs).
    point(Role::WatchdogTimer, &["watchdog_timer_fn"], false),
    point(Role::WatchdogTouch, &["softlockup_fn"], false),
    point(Role::SoftLockupTaint, &["add_taint"], false),
    // The hard-lockup detector's backtrace request (hardlockup.rs).
    point(
        Role::HardLockupCheck,
        &["nmi_trigger_cpumask_backtrace", "arch_trigger_cpumask_backtrace"],
        false,
    ),
];

/// x86_64: `machine_crash_shutdown` calls `native_machine_crash_shutdown`
/// through `machine_ops`; it stops the others with `nmi_shootdown_cpus`
/// (`crash_smp_send_stop` is inlined into it), whose return means "the
/// others stopped or the 1 s wait ran out"; each stopped CPU runs
/// `kdump_nmi_callback` in the NMI (called through a pointer: never
/// inlined). What hangs after the return (virtualization, IOAPIC, LAPIC,
/// HPET shutdown) is after the `Return` record.
#[cfg(CONFIG_X86_64)]
const ARCH: &[Builtin] = &[
    point(Role::CrashShutdown, &["native_machine_crash_shutdown"], false),
    point(Role::CpuStop, &["nmi_shootdown_cpus"], true),
    point(Role::StopHandler, &["kdump_nmi_callback"], false),
];

/// arm64: the CPU stop, and the kexec cache maintenance the real report hung
/// in. Since 5.x/6.x that maintenance runs when the crash kernel is loaded
/// (`machine_kexec_post_load`), under its newer names. The load syscalls'
/// returns end the load window even when the `machine_kexec_post_load`
/// kretprobe was missed.
#[cfg(CONFIG_ARM64)]
const ARCH: &[Builtin] = &[
    point(Role::CpuStop, &["crash_smp_send_stop", "smp_send_stop"], true),
    point(Role::KexecPostLoad, &["machine_kexec_post_load"], true),
    point(Role::KexecLoad, &["__arm64_sys_kexec_file_load"], true),
    point(Role::KexecLoad, &["__arm64_sys_kexec_load"], true),
    point(Role::CacheDcache, &["__flush_dcache_area", "dcache_clean_inval_poc"], false),
    point(
        Role::CacheIcache,
        &["flush_icache_range", "__flush_icache_range", "caches_clean_inval_pou"],
        false,
    ),
    point(Role::CacheIcache, &["icache_inval_pou"], false),
];

/// The built-in points for this architecture.
pub(crate) fn builtins() -> impl Iterator<Item = &'static Builtin> {
    Iterator::chain(COMMON.iter(), ARCH.iter())
}

/// A point spelled `symbol` or `symbol+offset`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spec<'a> {
    /// The symbol.
    pub(crate) symbol: &'a [u8],
    /// Byte offset into it.
    pub(crate) offset: u32,
}

/// Why a `symbol[+offset]` spelling is not a point.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpecError {
    /// Not `symbol[+offset]`: the load fails.
    Syntax,
    /// The symbol is longer than a point-table name holds with any offset
    /// (`POINT_NAME_LEN - 12`): the point is skipped with a warning.
    TooLong,
}

/// Longest symbol a point can have.
pub(crate) const MAX_SYMBOL_LEN: usize = POINT_NAME_LEN - 12;

impl<'a> Spec<'a> {
    /// Parses `symbol[+offset]`, offset decimal or `0x` hex. The result fits
    /// a point-table name (`symbol+0xoff` < `POINT_NAME_LEN`).
    pub(crate) fn parse(s: &'a [u8]) -> core::result::Result<Self, SpecError> {
        let (symbol, off) = match s.iter().position(|&c| c == b'+') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let ident = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'$');
        if symbol.is_empty() || !symbol.iter().all(ident) {
            return Err(SpecError::Syntax);
        }
        let offset = match off {
            None => 0,
            Some(o) => parse_u32(o).ok_or(SpecError::Syntax)?,
        };
        if symbol.len() > MAX_SYMBOL_LEN {
            return Err(SpecError::TooLong);
        }
        Ok(Self { symbol, offset })
    }
}

fn parse_u32(s: &[u8]) -> Option<u32> {
    let (digits, radix) = match s {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 16),
        _ => (s, 10),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u32 = 0;
    for &c in digits {
        let d = (c as char).to_digit(radix)?;
        v = v.checked_mul(radix)?.checked_add(d)?;
    }
    Some(v)
}

/// Splits `probes=` into specs, or names the first bad entry. Entries whose
/// symbol is too long are left out (see `too_long`).
pub(crate) fn user_points(list: &[u8]) -> Result<impl Iterator<Item = Spec<'_>>, &[u8]> {
    if let Some(bad) = entries(list).find(|e| Spec::parse(e) == Err(SpecError::Syntax)) {
        return Err(bad);
    }
    if entries(list).count() > MAX_POINTS {
        return Err(list);
    }
    Ok(entries(list).filter_map(|e| Spec::parse(e).ok()))
}

/// The `probes=` entries skipped because their symbol is too long.
pub(crate) fn too_long(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    entries(list).filter(|e| Spec::parse(e) == Err(SpecError::TooLong))
}

fn entries(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&c| c == b',').filter(|e| !e.is_empty())
}

/// `symbol+0xoff` (or `symbol` for offset 0) into a NUL-padded point name.
pub(crate) fn point_name(spec: Spec<'_>) -> [u8; POINT_NAME_LEN] {
    let mut name = [0u8; POINT_NAME_LEN];
    let mut w = Writer { buf: &mut name, len: 0 };
    w.put(spec.symbol);
    if spec.offset != 0 {
        w.put(b"+0x");
        w.hex(spec.offset as u64);
    }
    name
}

/// A bounded, non-allocating byte writer (for names and text files).
pub(crate) struct Writer<'a> {
    /// Destination.
    pub(crate) buf: &'a mut [u8],
    /// Bytes written.
    pub(crate) len: usize,
}

impl Writer<'_> {
    /// Appends `s`, truncating at the end of the buffer.
    pub(crate) fn put(&mut self, s: &[u8]) {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    /// Appends `v` in lower-case hex, no prefix.
    pub(crate) fn hex(&mut self, v: u64) {
        let mut digits = [0u8; 16];
        let mut i = digits.len();
        let mut v = v;
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdef"[(v & 0xf) as usize];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }

    /// Appends `v` in decimal.
    pub(crate) fn dec(&mut self, v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = v;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }
}
