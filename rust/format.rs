// SPDX-License-Identifier: GPL-2.0

//! The hangtrail region layout: the one definition both `hangtrail.ko` and the
//! userspace decoder build from.
//!
//! Plain `no_std` Rust with no dependencies: the module includes it as a
//! submodule, the decoder crate as `hangtrail::format`. Everything is
//! little-endian (both supported architectures are), fixed-size and
//! `#[repr(C)]`, so the bytes in the region are exactly these structs.
//!
//! ```text
//! offset 0              Header, then at POINTS_OFFSET the point table: HEADER_SIZE bytes
//! HEADER_SIZE           sample slots:     nr_cpus * SAMPLES_PER_CPU records
//! samples_offset()+...  breadcrumb rings: nr_cpus * ring_records   records
//! ```
//!
//! Version 2 (written now) differs from version 1 only in the header area
//! (`HEADER_SIZE` 20 KiB, 256-byte point entries that hold a long symbol
//! name) and in what records say (new kinds, roles and per-CPU flags). The
//! decoder still reads version 1: `V1_*` describe its header area.
//!
//! A record is valid when its `seq` is non-zero and its checksum matches. The
//! writer clears `seq`, writes the body and checksum, and writes `seq` last,
//! with write barriers in between, so a record torn by a reset is never valid.
//! See Documentation/format.rst.

/// `b"HANGTRL1"` read as a little-endian u64.
pub const MAGIC: u64 = u64::from_le_bytes(*b"HANGTRL1");
/// Bumped on any incompatible change. A decoder refuses newer versions.
pub const VERSION: u32 = 2;
/// Oldest version a decoder still reads.
pub const MIN_VERSION: u32 = 1;
/// Bytes before the first record: fixed header plus the point table.
pub const HEADER_SIZE: usize = 20480;
/// Offset of the point table in the header area.
pub const POINTS_OFFSET: usize = 4096;
/// Bytes of one point-table entry.
pub const POINT_SIZE: usize = 256;
/// Version 1: bytes before the first record.
pub const V1_HEADER_SIZE: usize = 4096;
/// Version 1: offset of the point table.
pub const V1_POINTS_OFFSET: usize = 1024;
/// Version 1: bytes of one point-table entry (`name[40]` first).
pub const V1_POINT_SIZE: usize = 64;
/// Version 1: bytes of a point's name.
pub const V1_POINT_NAME_LEN: usize = 40;
/// Version 1: entries in the point table.
pub const V1_MAX_POINTS: usize = 48;
/// CPUs a trail can describe (rings for CPUs `0..MAX_CPUS`); a header with
/// more is invalid. The module drops records of CPUs beyond it.
pub const MAX_CPUS: u32 = 1024;
/// Size of every record.
pub const RECORD_SIZE: usize = 64;
/// Watchdog sample slots per CPU (a small ring of their own, so samples never
/// push breadcrumbs out).
pub const SAMPLES_PER_CPU: usize = 8;
/// Entries in the point table.
pub const MAX_POINTS: usize = 64;
/// Bytes of a point's name (`symbol` or `symbol+0xoff`), NUL-padded. A
/// symbol of up to `POINT_NAME_LEN - 12` bytes fits with any offset.
pub const POINT_NAME_LEN: usize = 224;
/// Bytes of kernel release (`uname -r`), NUL-padded.
pub const RELEASE_LEN: usize = 65;
/// Payload bytes in a record.
pub const PAYLOAD_LEN: usize = 20;
/// Fewest breadcrumb records per CPU a region must hold.
pub const MIN_RING_RECORDS: usize = 16;
/// `Record::point` when the record is not tied to a probe point.
pub const NO_POINT: u16 = u16::MAX;

/// Header flag: a kdump crash kernel loaded hangtrail and found this trail.
pub const HDR_CRASH_KERNEL_REACHED: u32 = 1 << 0;
/// Header flag (v2): an NMI can reach a CPU that masked interrupts, so the
/// hard-lockup backtrace and the crash stop can record its context (x86_64
/// always; arm64 only with pseudo-NMI in use).
pub const HDR_NMI_REACHES_IRQS_OFF: u32 = 1 << 1;
/// Header flag (v2): `crash_kexec_post_notifiers` was set (the panic
/// notifiers run before `__crash_kexec`).
pub const HDR_POST_NOTIFIERS: u32 = 1 << 2;
/// Header flag: someone released the trail (a root write to debugfs
/// `release` after saving `previous`): the next system-kernel load may
/// record over it. Any version: v1 trails carry it the same way.
pub const HDR_RELEASED: u32 = 1 << 3;
/// Header flag: the trail ended in order, not in a crash: `hangtrail.ko` was
/// unloaded, or the kernel began an orderly reboot, halt, power-off or
/// `kexec -e` (the reboot notifier chain ran). The next system-kernel load
/// records over it. A trail with neither this flag nor `HDR_RELEASED` is a
/// crashed boot's: the next load keeps it (the overwrite guard).
pub const HDR_ENDED: u32 = 1 << 4;
/// Header flag: loaded with `crash_marks=1`: the crash kernel loads
/// hangtrail too (the kdump initramfs hook is installed), so it marks its
/// arrival (`HDR_CRASH_KERNEL_REACHED`). A trail that reached
/// `machine_kexec` with the crash image and has no mark is then a hang, not
/// an unconfirmed handoff.
pub const HDR_CRASH_MARKS: u32 = 1 << 5;

/// Record flag: written by a task inside a kexec load (`kexec -p` time).
/// v2: only records written while the loading task is current carry it
/// (from `machine_kexec_post_load` entry to its return, or to the load
/// syscall's return if that kretprobe was missed).
pub const REC_LOAD_PHASE: u8 = 1 << 0;
/// Record flag: written after the crash path began. v1: on any CPU after
/// any panic entry; v2: on a CPU that itself entered the crash path
/// (`panic`, `__crash_kexec` or the panic notifier ran there), from then on.
pub const REC_CRASH_PHASE: u8 = 1 << 1;
/// Record flag (samples, contexts): the interrupted context was the idle task.
pub const REC_IDLE: u8 = 1 << 2;
/// Record flag (samples, contexts): the interrupted context was user mode.
pub const REC_USER: u8 = 1 << 3;
/// Record flag (v2): written by a CPU that the crash path stopped (from its
/// crash-stop handler, or after it): a CPU other than the one that sent the
/// stop (`__crash_kexec`'s, or the `CpuStop` point's CPU).
pub const REC_STOPPED: u8 = 1 << 4;
/// Record flag (v2, samples and contexts): the interrupted context had
/// interrupts masked.
pub const REC_IRQS_OFF: u8 = 1 << 5;

/// Architecture of the kernel that wrote the region.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// x86_64.
    X86_64 = 1,
    /// arm64 (aarch64).
    Arm64 = 2,
}

impl Arch {
    /// Decodes the header's `arch` word.
    pub fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::X86_64),
            2 => Some(Self::Arm64),
            _ => None,
        }
    }

    /// The arch the code is being compiled for, if supported.
    pub const fn native() -> Option<Self> {
        if cfg!(target_arch = "x86_64") {
            Some(Self::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Self::Arm64)
        } else {
            None
        }
    }

    /// Name as used by the kernel's `ARCH=`.
    pub fn name(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }
}

/// What a record says.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A probe point was hit: `pc` is the probed address, `arg` its first
    /// argument register.
    Probe = 1,
    /// A kretprobe's function returned: `pc` is the function, `arg` its return
    /// value.
    Return = 2,
    /// The soft lockup detector fired on this CPU: `pc` is the interrupted pc,
    /// `arg` how long the CPU was stuck in ns (0 if unknown); payload holds
    /// `comm` (16 bytes) and pid (u32).
    SoftLockup = 3,
    /// A caller frame of the preceding `SoftLockup` record: `pc` is the
    /// return address, `arg` the depth (0 = nearest caller).
    Frame = 4,
    /// The text of a symbol for the record whose seq is `arg`: `point` is the
    /// chunk index, the payload the next `PAYLOAD_LEN` bytes of
    /// `name+0xoff/0xsize [module]`, NUL-padded in the last chunk.
    Name = 5,
    /// The panic notifier ran (the non-kdump path, or before `__crash_kexec`
    /// with `crash_kexec_post_notifiers`): `pc` is `panic`'s address (the
    /// notifier chain's caller). v1: `point` is the panic-entry point; v2:
    /// the `PanicNotifier` pseudo-point.
    PanicNotifier = 6,
    /// v1 only: the CPU stop returned, `arg` is the number of other CPUs
    /// still online. v2 writes `StopMap` instead.
    StopResult = 7,
    /// v1 only: after the CPU stop, CPU `arg` was still online (at most 64).
    StillOnline = 8,
    /// A watchdog hrtimer sample (in the sample slots): `pc` interrupted pc,
    /// `arg` pid of the interrupted task.
    Sample = 9,
    /// hangtrail started this trail: `arg` is the number of registered points.
    Start = 10,
    /// v2, at crash-path entry (`__crash_kexec`, just before its `Probe`
    /// record): `point` that point, `pc` its address, `arg` 1 if a crash
    /// image is loaded (`kexec_crash_loaded()`), else 0.
    CrashLoaded = 11,
    /// v2, at `machine_kexec` (just before its `Probe` record): `point` that
    /// point, `pc` the `struct kimage` pointer, `arg` its type
    /// (`KEXEC_IMAGE_DEFAULT` for `kexec -e`, `KEXEC_IMAGE_CRASH`).
    KexecImage = 12,
    /// v2, at `crash_save_cpu` (just after its `Probe` record): the context
    /// whose registers the kernel saves for the vmcore (its `NT_PRSTATUS`
    /// note). On a stopped CPU (`REC_STOPPED`) the context its stop
    /// interrupted; on the crash CPU its own, from `crash_setup_regs`.
    /// `pc` the pc, `arg` the sp, payload bytes 0..8 `lr` (u64 LE, the
    /// return address: arm64 x30 with any pointer-authentication code
    /// stripped; x86_64 the word above the frame pointer, `[rbp + 8]`, in
    /// kernel mode with frame pointers, else 0). Flags `REC_USER`,
    /// `REC_IDLE`, `REC_IRQS_OFF` describe that context.
    StopContext = 13,
    /// v2, when the CPU stop returned (its kretprobe), on the CPU that sent
    /// it: the other CPUs still online and not seen stopped (no
    /// `crash_save_cpu` from them), 64 per record: `arg` the first CPU of
    /// the word, `pc` the bit mask; only words with a bit set, or one record
    /// with mask 0 (`arg` 0) when none. Payload: u32 LE `unknown`, how many
    /// `crash_save_cpu` hits kprobes skipped since the stop began (its
    /// `nmissed` delta: that many CPUs may have stopped unseen, so they are
    /// unknown, not stale); u32 LE the total CPUs not seen stopped. On
    /// arm64 a stopped CPU also marks itself offline; on x86_64 it stays
    /// online, and only the bitmap tells.
    StopMap = 14,
    /// v2, the hard-lockup detector found CPU `arg` stuck with interrupts
    /// masked (written on the detecting CPU).
    HardLockup = 15,
    /// v2, the stuck CPU's own context, from the backtrace NMI the hard-lockup
    /// detector sent it: `pc`, `arg` = sp, payload `lr` as in `StopContext`.
    LockupContext = 16,
}

/// `KexecImage::arg`: the image of `kexec -l` / `kexec -e`.
pub const KEXEC_IMAGE_DEFAULT: u64 = 0;
/// `KexecImage::arg`: the kdump crash image (`kexec -p`).
pub const KEXEC_IMAGE_CRASH: u64 = 1;

impl Kind {
    /// Decodes a record's kind byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Probe,
            2 => Self::Return,
            3 => Self::SoftLockup,
            4 => Self::Frame,
            5 => Self::Name,
            6 => Self::PanicNotifier,
            7 => Self::StopResult,
            8 => Self::StillOnline,
            9 => Self::Sample,
            10 => Self::Start,
            11 => Self::CrashLoaded,
            12 => Self::KexecImage,
            13 => Self::StopContext,
            14 => Self::StopMap,
            15 => Self::HardLockup,
            16 => Self::LockupContext,
            _ => return None,
        })
    }

    /// Stable lower-case name used in the decoder's output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Probe => "probe",
            Self::Return => "return",
            Self::SoftLockup => "softlockup",
            Self::Frame => "frame",
            Self::Name => "name",
            Self::PanicNotifier => "panic-notifier",
            Self::StopResult => "stop-result",
            Self::StillOnline => "still-online",
            Self::Sample => "sample",
            Self::Start => "start",
            Self::CrashLoaded => "crash-loaded",
            Self::KexecImage => "kexec-image",
            Self::StopContext => "stop-context",
            Self::StopMap => "stop-map",
            Self::HardLockup => "hard-lockup",
            Self::LockupContext => "lockup-context",
        }
    }
}

/// The logical role of a probe point: what the decoder expects after it.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A `probes=` point given by the user.
    User = 0,
    /// `panic()` entry.
    PanicEntry = 1,
    /// `__crash_kexec` / `crash_kexec`.
    CrashKexec = 2,
    /// `machine_crash_shutdown`.
    CrashShutdown = 3,
    /// Stopping the other CPUs (arm64 `crash_smp_send_stop`, x86_64
    /// `native_machine_crash_shutdown`/`nmi_shootdown_cpus`).
    CpuStop = 4,
    /// `crash_save_cpu`: runs on every CPU that stopped, and the panic CPU.
    CrashSaveCpu = 5,
    /// `machine_kexec`: the hand-off to the crash kernel.
    MachineKexec = 6,
    /// `machine_kexec_post_load` (arm64, at `kexec -p` time).
    KexecPostLoad = 7,
    /// arm64 D-cache maintenance (`__flush_dcache_area`/`dcache_clean_inval_poc`).
    CacheDcache = 8,
    /// arm64 I-cache maintenance (`flush_icache_range`, `caches_clean_inval_pou`,
    /// `icache_inval_pou`).
    CacheIcache = 9,
    /// The soft lockup report's taint (`add_taint(TAINT_SOFTLOCKUP)`).
    SoftLockupTaint = 10,
    /// The soft lockup detector's per-CPU hrtimer (`watchdog_timer_fn`).
    WatchdogTimer = 11,
    /// The soft lockup detector's stopper work (`softlockup_fn`): the CPU was
    /// not stuck.
    WatchdogTouch = 12,
    /// v2: hangtrail's own panic notifier (a pseudo-point: its address is the
    /// notifier function).
    PanicNotifier = 13,
    /// v2: the per-CPU crash-stop handler (x86_64 `kdump_nmi_callback`, run in
    /// the shootdown NMI; arm64 has none to probe: `crash_save_cpu` on a
    /// non-crash CPU plays the part).
    StopHandler = 14,
    /// v2: an orderly reboot (`kernel_restart`, `machine_restart`).
    Restart = 15,
    /// v2: `emergency_restart` (the `panic=N` timeout, sysrq-b).
    EmergencyRestart = 16,
    /// v2: `kernel_halt` / `kernel_power_off` / `machine_power_off`.
    PowerOff = 17,
    /// v2: `kernel_kexec`, the `kexec -e` reboot into a loaded kernel.
    KernelKexec = 18,
    /// v2: the hard-lockup detector asking a CPU for its backtrace
    /// (`nmi_trigger_cpumask_backtrace`).
    HardLockupCheck = 19,
    /// v2: a kexec load syscall (`kexec_file_load`, `kexec_load`; arm64).
    /// Its return ends the load window (`REC_LOAD_PHASE`) even when the
    /// `machine_kexec_post_load` kretprobe was refused or missed.
    KexecLoad = 20,
}

impl Role {
    /// Decodes a point's role byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::User,
            1 => Self::PanicEntry,
            2 => Self::CrashKexec,
            3 => Self::CrashShutdown,
            4 => Self::CpuStop,
            5 => Self::CrashSaveCpu,
            6 => Self::MachineKexec,
            7 => Self::KexecPostLoad,
            8 => Self::CacheDcache,
            9 => Self::CacheIcache,
            10 => Self::SoftLockupTaint,
            11 => Self::WatchdogTimer,
            12 => Self::WatchdogTouch,
            13 => Self::PanicNotifier,
            14 => Self::StopHandler,
            15 => Self::Restart,
            16 => Self::EmergencyRestart,
            17 => Self::PowerOff,
            18 => Self::KernelKexec,
            19 => Self::HardLockupCheck,
            20 => Self::KexecLoad,
            _ => return None,
        })
    }

    /// Stable name used in the decoder's output.
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::PanicEntry => "panic-entry",
            Self::CrashKexec => "crash-kexec",
            Self::CrashShutdown => "crash-shutdown",
            Self::CpuStop => "cpu-stop",
            Self::CrashSaveCpu => "crash-save-cpu",
            Self::MachineKexec => "machine-kexec",
            Self::KexecPostLoad => "kexec-post-load",
            Self::CacheDcache => "cache-dcache",
            Self::CacheIcache => "cache-icache",
            Self::SoftLockupTaint => "softlockup-taint",
            Self::WatchdogTimer => "watchdog-timer",
            Self::WatchdogTouch => "watchdog-touch",
            Self::PanicNotifier => "panic-notifier",
            Self::StopHandler => "stop-handler",
            Self::Restart => "restart",
            Self::EmergencyRestart => "emergency-restart",
            Self::PowerOff => "power-off",
            Self::KernelKexec => "kernel-kexec",
            Self::HardLockupCheck => "hardlockup-check",
            Self::KexecLoad => "kexec-load",
        }
    }
}

/// Point status: registered with kprobes.
pub const POINT_REGISTERED: u8 = 1;
/// Point status: the symbol did not resolve on this kernel.
pub const POINT_MISSING: u8 = 2;
/// Point status: kprobes refused it (`errno` says why).
pub const POINT_REFUSED: u8 = 3;

/// One probe point, as the module resolved it at load. v1 entries (64
/// bytes, a 40-byte name) are read into this shape by `Trail::point`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Point {
    /// `symbol` or `symbol+0xoff`, NUL-padded.
    pub name: [u8; POINT_NAME_LEN],
    /// Runtime address probed (0 unless registered).
    pub addr: u64,
    /// `Role` as u8.
    pub role: u8,
    /// `POINT_*` status.
    pub status: u8,
    /// Non-zero: also a kretprobe on the function.
    pub kretprobe: u8,
    /// Reserved, zero.
    pub _pad: u8,
    /// Negative errno when refused, else 0.
    pub errno: i32,
    /// Offset into the symbol.
    pub offset: u32,
    /// Reserved, zero.
    pub _pad2: u32,
    /// Reserved, zero.
    pub _pad3: [u8; POINT_SIZE - POINT_NAME_LEN - 24],
}

/// Fixed header, at offset 0 of the region. Small on purpose: the kernel
/// side keeps copies on its stack.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Header {
    /// `MAGIC`.
    pub magic: u64,
    /// `VERSION`.
    pub version: u32,
    /// `HEADER_SIZE`.
    pub header_size: u32,
    /// Bytes of the whole region.
    pub region_size: u64,
    /// Physical address of the region.
    pub phys_addr: u64,
    /// `RECORD_SIZE`.
    pub record_size: u32,
    /// CPUs with rings (`nr_cpu_ids`, capped).
    pub nr_cpus: u32,
    /// Breadcrumb records per CPU.
    pub ring_records: u32,
    /// Sample slots per CPU.
    pub samples_per_cpu: u32,
    /// `HDR_*` flags.
    pub flags: u32,
    /// `Arch` as u32.
    pub arch: u32,
    /// Random per trail (a new one on every module load).
    pub boot_id: [u8; 16],
    /// `uname -r` of the writing kernel, NUL-padded.
    pub release: [u8; RELEASE_LEN],
    /// Reserved, zero.
    pub _pad: [u8; 7],
    /// Name of the reference symbol, NUL-padded (`panic`).
    pub ref_name: [u8; 32],
    /// Runtime address of the reference symbol: the decoder subtracts its
    /// System.map address to undo KASLR.
    pub ref_addr: u64,
    /// `local_clock()` when the trail started.
    pub start_ns: u64,
    /// Points in use in `points`.
    pub nr_points: u32,
    /// CPUs online when the trail started.
    pub online_cpus: u32,
    /// Checksum of the whole header area (`HEADER_SIZE` bytes, point table
    /// included) with this field zero.
    pub csum: u32,
    /// Reserved, zero.
    pub _pad2: u32,
    /// v2: period of the watchdog hrtimer that writes the samples, ns (0 if
    /// unknown, and in v1), read at load: how long a silent CPU has been
    /// silent is read against it, unless the samples' own steady period
    /// disagrees (`watchdog_thresh` changed at run time).
    pub sample_period_ns: u64,
    /// v2: `panic_timeout` when the trail started (`panic=N`: reboot N s
    /// after a panic; 0 waits forever; negative reboots at once).
    pub panic_timeout: i32,
    /// Reserved, zero.
    pub _pad3: u32,
}

/// One record: a breadcrumb, a sample, or a piece of one.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Record {
    /// Global sequence number from 1; 0 = empty or being written. Written last.
    pub seq: u64,
    /// `local_clock()` in ns.
    pub ts_ns: u64,
    /// Program counter the record is about.
    pub pc: u64,
    /// Kind-specific argument.
    pub arg: u64,
    /// CPU that wrote it.
    pub cpu: u32,
    /// `Kind` as u8.
    pub kind: u8,
    /// `REC_*` flags.
    pub flags: u8,
    /// Index into the point table, or `NO_POINT`.
    pub point: u16,
    /// Kind-specific bytes.
    pub payload: [u8; PAYLOAD_LEN],
    /// `checksum` of the first 60 bytes (with the final `seq`).
    pub csum: u32,
}

const _: () = assert!(core::mem::size_of::<Record>() == RECORD_SIZE);
const _: () = assert!(core::mem::size_of::<Point>() == POINT_SIZE);
const _: () = assert!(core::mem::size_of::<Header>() == HEADER_FIXED);
const _: () = assert!(core::mem::size_of::<HeaderArea>() == HEADER_SIZE);
const _: () = assert!(core::mem::offset_of!(HeaderArea, points) == POINTS_OFFSET);

/// Bytes of `Header`.
pub const HEADER_FIXED: usize = 224;
const HEADER_CSUM_OFFSET: usize = core::mem::offset_of!(Header, csum);

/// The whole header area as written: `Header`, reserved zeros, the point
/// table. `HEADER_SIZE` (20 KiB): the kernel builds it on the heap.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct HeaderArea {
    /// The fixed header.
    pub header: Header,
    /// Reserved, zero.
    pub _gap: [u8; POINTS_OFFSET - HEADER_FIXED],
    /// The probe points, `header.nr_points` used.
    pub points: [Point; MAX_POINTS],
    /// Reserved, zero.
    pub _tail: [u8; HEADER_SIZE - POINTS_OFFSET - MAX_POINTS * POINT_SIZE],
}
const _: () = assert!(core::mem::offset_of!(Record, csum) == RECORD_SIZE - 4);

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// FNV-1a steps over the low `n` bytes of `w`, lowest first: the same as
/// `fnv` over those bytes, without a load and a bounds check per byte.
#[inline(always)]
const fn fnv_word(mut h: u32, w: u64, n: u32) -> u32 {
    let mut k = 0;
    while k < n {
        h ^= ((w >> (8 * k)) & 0xff) as u32;
        h = h.wrapping_mul(FNV_PRIME);
        k += 1;
    }
    h
}

/// FNV-1a over `bytes`, eight bytes per load (the value of the byte-at-a-time
/// definition: xor the byte, multiply by the prime).
const fn fnv(mut h: u32, bytes: &[u8]) -> u32 {
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let w = u64::from_le_bytes([
            bytes[i],
            bytes[i + 1],
            bytes[i + 2],
            bytes[i + 3],
            bytes[i + 4],
            bytes[i + 5],
            bytes[i + 6],
            bytes[i + 7],
        ]);
        h = fnv_word(h, w, 8);
        i += 8;
    }
    while i < bytes.len() {
        h ^= bytes[i] as u32;
        h = h.wrapping_mul(FNV_PRIME);
        i += 1;
    }
    h
}

/// `checksum` of the first `RECORD_SIZE - 4` bytes (what `csum` covers) of
/// `N` records at once: `N` independent multiply chains in lockstep, which
/// the CPU overlaps, where one record's 60 dependent multiplies would wait
/// on each other. For the decoder's pass over every slot; same values as
/// `Record::compute_csum`.
#[inline]
pub fn record_checksums<const N: usize>(recs: [&[u8; RECORD_SIZE]; N]) -> [u32; N] {
    let word = |r: &[u8; RECORD_SIZE], o: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&r[o..o + 8]);
        u64::from_le_bytes(w)
    };
    let mut h = [FNV_OFFSET; N];
    for o in (0..RECORD_SIZE - 8).step_by(8) {
        let mut w = [0u64; N];
        for l in 0..N {
            w[l] = word(recs[l], o);
        }
        for k in 0..8 {
            for l in 0..N {
                h[l] = fnv_word(h[l], w[l] >> (8 * k), 1);
            }
        }
    }
    // Bytes 56..60; 60..64 are the checksum itself.
    for l in 0..N {
        h[l] = nonzero(fnv_word(h[l], word(recs[l], RECORD_SIZE - 8), 4));
    }
    h
}

/// Never 0, so that all-zero memory cannot pass.
const fn nonzero(h: u32) -> u32 {
    if h == 0 {
        1
    } else {
        h
    }
}

/// FNV-1a over `bytes`: cheap enough for a probe handler, and enough to tell
/// a record from stale or random memory.
pub const fn checksum(bytes: &[u8]) -> u32 {
    nonzero(fnv(FNV_OFFSET, bytes))
}

/// Writes `h` into a header area (of its version's size) and seals it
/// (fills in the checksum): for a header changed after the fact, e.g. the
/// crash kernel's flag.
pub fn reseal(area: &mut [u8], h: &Header) {
    let mut h = *h;
    h.csum = 0;
    area[..HEADER_FIXED].copy_from_slice(h.as_bytes());
    h.csum = header_checksum(area);
    area[..HEADER_FIXED].copy_from_slice(h.as_bytes());
}

/// `header_checksum` of an area holding `h` and only zeros after it (no
/// points yet), without building the 20 KiB area.
pub fn header_checksum_no_points(h: &Header) -> u32 {
    let mut h = *h;
    h.csum = 0;
    let mut sum = fnv(FNV_OFFSET, h.as_bytes());
    for _ in HEADER_FIXED..HEADER_SIZE {
        sum = fnv(sum, &[0]);
    }
    nonzero(sum)
}

/// `header_checksum` of a header area of `size` bytes read piecewise:
/// `read(off, buf)` fills `buf` with the area's bytes at `off` (at most 256
/// at a time, `off` and the length multiples of 8 when `size` is). For the
/// kernel, which reseals a trail's header without copying the area.
pub fn header_checksum_by(size: usize, mut read: impl FnMut(usize, &mut [u8])) -> u32 {
    let mut h = FNV_OFFSET;
    let mut buf = [0u8; 256];
    let mut off = 0;
    while off < size {
        let n = buf.len().min(size - off);
        let chunk = &mut buf[..n];
        read(off, chunk);
        for (i, b) in chunk.iter_mut().enumerate() {
            if (HEADER_CSUM_OFFSET..HEADER_CSUM_OFFSET + 4).contains(&(off + i)) {
                *b = 0;
            }
        }
        h = fnv(h, chunk);
        off += n;
    }
    nonzero(h)
}

/// The checksum of a header area (`HEADER_SIZE` bytes for v2,
/// `V1_HEADER_SIZE` for v1), reading its `csum` field as zero.
pub fn header_checksum(area: &[u8]) -> u32 {
    let h = fnv(FNV_OFFSET, &area[..HEADER_CSUM_OFFSET]);
    let h = fnv(h, &[0; 4]);
    nonzero(fnv(h, &area[HEADER_CSUM_OFFSET + 4..]))
}

impl Point {
    /// Reads a (v2) point-table entry.
    pub fn from_bytes(b: &[u8; POINT_SIZE]) -> Self {
        // SAFETY: `Point` is `repr(C)`, `POINT_SIZE` bytes (asserted above),
        // of integers and integer arrays: any bytes are a valid value;
        // `read_unaligned` takes any alignment.
        unsafe { core::ptr::read_unaligned(b.as_ptr() as *const Self) }
    }

    /// Reads a v1 point-table entry: `name[40]`, then the same fields.
    pub fn from_v1_bytes(b: &[u8; V1_POINT_SIZE]) -> Self {
        let mut v2 = [0u8; POINT_SIZE];
        v2[..V1_POINT_NAME_LEN].copy_from_slice(&b[..V1_POINT_NAME_LEN]);
        v2[POINT_NAME_LEN..POINT_NAME_LEN + 24].copy_from_slice(&b[V1_POINT_NAME_LEN..]);
        Self::from_bytes(&v2)
    }
}

impl HeaderArea {
    /// An all-zero area, to be filled in.
    pub const fn zeroed() -> Self {
        // SAFETY: integers and arrays of integers only: all-zero is valid.
        unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    }

    /// The area's bytes, as they sit in the region.
    pub fn as_bytes(&self) -> &[u8; HEADER_SIZE] {
        // SAFETY: `repr(C)`, exactly `HEADER_SIZE` bytes (asserted above), and
        // every field is packed to its alignment, so no padding.
        unsafe { &*(self as *const Self as *const [u8; HEADER_SIZE]) }
    }

    /// Fills in `header.csum`: call after the last change.
    pub fn seal(&mut self) {
        self.header.csum = 0;
        self.header.csum = header_checksum(self.as_bytes());
    }
}

impl Record {
    /// The record's bytes, as they sit in the region.
    pub fn as_bytes(&self) -> &[u8; RECORD_SIZE] {
        // SAFETY: `Record` is `repr(C)`, exactly `RECORD_SIZE` bytes (asserted
        // above) and has no padding: every field is packed to its alignment.
        unsafe { &*(self as *const Self as *const [u8; RECORD_SIZE]) }
    }

    /// Reads a record from `RECORD_SIZE` bytes (any alignment).
    pub fn from_bytes(b: &[u8; RECORD_SIZE]) -> Self {
        let u64_at = |o: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(w)
        };
        let mut payload = [0u8; PAYLOAD_LEN];
        payload.copy_from_slice(&b[40..40 + PAYLOAD_LEN]);
        Self {
            seq: u64_at(0),
            ts_ns: u64_at(8),
            pc: u64_at(16),
            arg: u64_at(24),
            cpu: u32::from_le_bytes([b[32], b[33], b[34], b[35]]),
            kind: b[36],
            flags: b[37],
            point: u16::from_le_bytes([b[38], b[39]]),
            payload,
            csum: u32::from_le_bytes([b[60], b[61], b[62], b[63]]),
        }
    }

    /// The checksum this record should carry.
    pub fn compute_csum(&self) -> u32 {
        checksum(&self.as_bytes()[..RECORD_SIZE - 4])
    }

    /// Non-empty and the checksum matches: written whole.
    pub fn is_valid(&self) -> bool {
        self.seq != 0 && self.csum == self.compute_csum()
    }
}

impl Header {
    /// An all-zero header, to be filled in.
    pub const fn zeroed() -> Self {
        // SAFETY: every field is an integer or an array of integers, for which
        // all-zero bytes are a valid value.
        unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    }

    /// The header's bytes, as they sit at the start of the region.
    pub fn as_bytes(&self) -> &[u8; HEADER_FIXED] {
        // SAFETY: `repr(C)`, exactly `HEADER_FIXED` bytes (asserted above),
        // every field packed to its alignment, so no padding.
        unsafe { &*(self as *const Self as *const [u8; HEADER_FIXED]) }
    }

    /// Reads the header from the start of a header area (any version: v1
    /// has zeros where v2 added fields).
    pub fn from_bytes(b: &[u8; V1_HEADER_SIZE]) -> Self {
        let mut h = Self::zeroed();
        // SAFETY: as in `zeroed`, any bytes are a valid `Header`; the source
        // has at least `HEADER_FIXED` bytes and does not overlap `h`.
        unsafe {
            core::ptr::copy_nonoverlapping(b.as_ptr(), &mut h as *mut Self as *mut u8, HEADER_FIXED)
        };
        h
    }

    /// Offset of CPU `cpu`'s sample slots.
    pub fn samples_offset(&self, cpu: u32) -> usize {
        self.header_size as usize + cpu as usize * self.samples_per_cpu as usize * RECORD_SIZE
    }

    /// Offset of CPU `cpu`'s breadcrumb ring.
    pub fn ring_offset(&self, cpu: u32) -> usize {
        self.samples_offset(self.nr_cpus)
            + cpu as usize * self.ring_records as usize * RECORD_SIZE
    }

    /// Bytes the layout described by this header occupies.
    pub fn used_size(&self) -> usize {
        self.ring_offset(self.nr_cpus)
    }
}

/// Breadcrumb records per CPU that a region of `region_size` bytes holds for
/// `nr_cpus` CPUs, or `None` if fewer than `MIN_RING_RECORDS`.
pub const fn ring_records_for(region_size: u64, nr_cpus: u32) -> Option<u32> {
    ring_records_for_header(HEADER_SIZE, region_size, nr_cpus)
}

/// As `ring_records_for`, for a header area of `header_size` bytes.
pub const fn ring_records_for_header(header_size: usize, region_size: u64, nr_cpus: u32) -> Option<u32> {
    let fixed = header_size as u64 + nr_cpus as u64 * (SAMPLES_PER_CPU * RECORD_SIZE) as u64;
    if nr_cpus == 0 || nr_cpus > MAX_CPUS || region_size < fixed {
        return None;
    }
    let per_cpu = (region_size - fixed) / (nr_cpus as u64 * RECORD_SIZE as u64);
    if per_cpu < MIN_RING_RECORDS as u64 || per_cpu > u32::MAX as u64 {
        None
    } else {
        Some(per_cpu as u32)
    }
}

/// The NUL-terminated prefix of `b`.
pub fn cstr(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

/// Copies `src` into `dst`, truncating, NUL-padding the rest.
pub fn copy_padded(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len());
    dst[..n].copy_from_slice(&src[..n]);
    for b in &mut dst[n..] {
        *b = 0;
    }
}

/// Why a region cannot be decoded at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Shorter than a header.
    Truncated,
    /// No `MAGIC`: not a hangtrail region (or never written).
    BadMagic,
    /// Written by a newer, incompatible format version.
    NewerVersion(u32),
    /// The header checksum does not match.
    BadChecksum,
    /// Sizes in the header contradict each other or the format.
    BadGeometry,
}

impl HeaderError {
    /// One-line description.
    pub fn message(self) -> &'static str {
        match self {
            Self::Truncated => "shorter than a hangtrail header",
            Self::BadMagic => "no hangtrail magic (not a trail, or never written)",
            Self::NewerVersion(_) => "written by a newer hangtrail format version",
            Self::BadChecksum => "header checksum mismatch (corrupt header)",
            Self::BadGeometry => "header sizes are inconsistent",
        }
    }
}

/// What a record slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Never written (all zero).
    Empty,
    /// Written whole.
    Valid(Record),
    /// Being written when the region was captured, or torn by a reset: `seq`
    /// is 0 but the body is not.
    Torn,
    /// Checksum mismatch, wrong CPU for its ring, or unknown kind.
    Invalid,
    /// Past the end of the captured bytes.
    Missing,
}

/// `Trail::classify` codes, one byte per slot: past the end of the input.
pub const CLASS_MISSING: u8 = 0;
/// `Trail::classify`: `Slot::Empty`.
pub const CLASS_EMPTY: u8 = 1;
/// `Trail::classify`: `Slot::Valid`.
pub const CLASS_VALID: u8 = 2;
/// `Trail::classify`: `Slot::Torn`.
pub const CLASS_TORN: u8 = 3;
/// `Trail::classify`: `Slot::Invalid`.
pub const CLASS_INVALID: u8 = 4;

/// A region whose header checked out.
pub struct Trail<'a> {
    /// The header.
    pub header: Header,
    bytes: &'a [u8],
    /// Slot classes from `classify`, or empty: check each slot when read.
    classes: &'a [u8],
}

/// The class of slot bytes `b` in CPU `cpu`'s area, given the checksum its
/// first 60 bytes have: what `Trail::slot_at` decides.
fn class_of(b: &[u8; RECORD_SIZE], cpu: u32, csum: u32) -> u8 {
    let word = |o: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[o..o + 8]);
        u64::from_le_bytes(w)
    };
    if word(0) == 0 {
        let mut any = 0;
        for o in (8..RECORD_SIZE).step_by(8) {
            any |= word(o);
        }
        return if any == 0 { CLASS_EMPTY } else { CLASS_TORN };
    }
    let stored = u32::from_le_bytes([b[60], b[61], b[62], b[63]]);
    let rcpu = u32::from_le_bytes([b[32], b[33], b[34], b[35]]);
    if stored != csum || rcpu != cpu || Kind::from_u8(b[36]).is_none() {
        CLASS_INVALID
    } else {
        CLASS_VALID
    }
}

impl<'a> Trail<'a> {
    /// Checks the header of `bytes` (a region or a copy of one, possibly cut
    /// short: records past the end read as `Slot::Missing`).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, HeaderError> {
        let Some(fixed) = bytes.first_chunk::<V1_HEADER_SIZE>() else {
            return Err(if bytes.len() >= 8 && bytes[..8] != MAGIC.to_le_bytes() {
                HeaderError::BadMagic
            } else {
                HeaderError::Truncated
            });
        };
        let header = Header::from_bytes(fixed);
        if header.magic != MAGIC {
            return Err(HeaderError::BadMagic);
        }
        if header.version > VERSION {
            return Err(HeaderError::NewerVersion(header.version));
        }
        let size = match header.version {
            1 => V1_HEADER_SIZE,
            VERSION => HEADER_SIZE,
            _ => return Err(HeaderError::BadGeometry),
        };
        let Some(hb) = bytes.get(..size) else {
            return Err(HeaderError::Truncated);
        };
        if header.csum != header_checksum(hb) {
            return Err(HeaderError::BadChecksum);
        }
        let max_points = if header.version == 1 { V1_MAX_POINTS } else { MAX_POINTS };
        let geometry_ok = header.header_size as usize == size
            && header.record_size as usize == RECORD_SIZE
            && header.samples_per_cpu as usize == SAMPLES_PER_CPU
            && header.nr_points as usize <= max_points
            && header.nr_cpus <= MAX_CPUS
            && header.ring_records as usize >= MIN_RING_RECORDS
            && ring_records_for_header(size, header.region_size, header.nr_cpus)
                .is_some_and(|n| n >= header.ring_records);
        if !geometry_ok {
            return Err(HeaderError::BadGeometry);
        }
        Ok(Self { header, bytes, classes: &[] })
    }

    /// Slots the header describes: every CPU's sample slots and ring.
    pub fn slot_count(&self) -> usize {
        let h = &self.header;
        h.nr_cpus as usize * (h.samples_per_cpu as usize + h.ring_records as usize)
    }

    /// Classifies every slot into `out` (one `CLASS_*` byte per slot, in
    /// region order: samples, then rings; at most `slot_count()`), with
    /// four checksums computed at a time. The same answer as
    /// `sample_slot`/`ring_slot` give slot by slot.
    pub fn classify(&self, out: &mut [u8]) {
        let h = &self.header;
        let base = h.header_size as usize;
        let (spc, ring) = (h.samples_per_cpu as usize, h.ring_records as usize);
        let n = self.slot_count().min(out.len());
        let mut i = 0;
        while i < n {
            // This slot's CPU, and where that CPU's area ends.
            let (cpu, end) = if i < h.nr_cpus as usize * spc {
                (i / spc, (i / spc + 1) * spc)
            } else {
                let j = i - h.nr_cpus as usize * spc;
                (j / ring, i - j % ring + ring)
            };
            let end = end.min(n);
            let rec = |k: usize| {
                self.bytes
                    .get(base + k * RECORD_SIZE..)
                    .and_then(|b| b.first_chunk::<RECORD_SIZE>())
            };
            while i + 4 <= end {
                let (Some(a), Some(b), Some(c), Some(d)) = (rec(i), rec(i + 1), rec(i + 2), rec(i + 3))
                else {
                    break;
                };
                let sums = record_checksums([a, b, c, d]);
                for (k, r) in [a, b, c, d].into_iter().enumerate() {
                    out[i + k] = class_of(r, cpu as u32, sums[k]);
                }
                i += 4;
            }
            while i < end {
                out[i] = match rec(i) {
                    Some(r) => class_of(r, cpu as u32, record_checksums([r])[0]),
                    None => CLASS_MISSING,
                };
                i += 1;
            }
        }
    }

    /// This trail, taking slot classes from `classes` (filled by
    /// `classify` from the same bytes) instead of checking each slot
    /// again when it is read.
    pub fn with_classes(self, classes: &'a [u8]) -> Self {
        Self { classes, ..self }
    }

    /// Point `i` of the table, if in use.
    pub fn point(&self, i: usize) -> Option<Point> {
        if i >= self.header.nr_points as usize {
            return None;
        }
        if self.header.version == 1 {
            let off = V1_POINTS_OFFSET + i * V1_POINT_SIZE;
            return self.bytes.get(off..)?.first_chunk::<V1_POINT_SIZE>().map(Point::from_v1_bytes);
        }
        let off = POINTS_OFFSET + i * POINT_SIZE;
        self.bytes.get(off..)?.first_chunk::<POINT_SIZE>().map(Point::from_bytes)
    }

    /// The points in use.
    pub fn points(&self) -> impl Iterator<Item = Point> + '_ {
        (0..self.header.nr_points as usize).filter_map(|i| self.point(i))
    }

    fn slot_at(&self, off: usize, cpu: u32) -> Slot {
        let Some(b) = self.bytes.get(off..).and_then(|b| b.first_chunk::<RECORD_SIZE>()) else {
            return Slot::Missing;
        };
        if let Some(&c) = self.classes.get((off - self.header.header_size as usize) / RECORD_SIZE) {
            return match c {
                CLASS_VALID => Slot::Valid(Record::from_bytes(b)),
                CLASS_EMPTY => Slot::Empty,
                CLASS_TORN => Slot::Torn,
                CLASS_INVALID => Slot::Invalid,
                _ => Slot::Missing,
            };
        }
        let r = Record::from_bytes(b);
        if r.seq == 0 {
            return if b.iter().all(|&x| x == 0) { Slot::Empty } else { Slot::Torn };
        }
        if !r.is_valid() || r.cpu != cpu || Kind::from_u8(r.kind).is_none() {
            return Slot::Invalid;
        }
        Slot::Valid(r)
    }

    /// Breadcrumb slot `i` of CPU `cpu`'s ring.
    pub fn ring_slot(&self, cpu: u32, i: u32) -> Slot {
        self.slot_at(self.header.ring_offset(cpu) + i as usize * RECORD_SIZE, cpu)
    }

    /// Sample slot `i` of CPU `cpu`.
    pub fn sample_slot(&self, cpu: u32, i: u32) -> Slot {
        self.slot_at(self.header.samples_offset(cpu) + i as usize * RECORD_SIZE, cpu)
    }

    /// Assembles the `Name` text stored for record `owner` into `out`;
    /// returns its length (0 if none).
    pub fn name_text(&self, owner: u64, out: &mut [u8]) -> usize {
        let mut len = 0;
        for cpu in 0..self.header.nr_cpus {
            for i in 0..self.header.ring_records {
                let Slot::Valid(r) = self.ring_slot(cpu, i) else { continue };
                if r.kind != Kind::Name as u8 || r.arg != owner {
                    continue;
                }
                let at = r.point as usize * PAYLOAD_LEN;
                let text = cstr(&r.payload);
                if let Some(dst) = out.get_mut(at..at + text.len()) {
                    dst.copy_from_slice(text);
                    len = len.max(at + text.len());
                }
            }
        }
        len
    }

    /// The valid breadcrumb record with the highest seq satisfying `want`.
    pub fn last_record(&self, want: impl Fn(&Record) -> bool) -> Option<Record> {
        let mut best: Option<Record> = None;
        for cpu in 0..self.header.nr_cpus {
            for i in 0..self.header.ring_records {
                if let Slot::Valid(r) = self.ring_slot(cpu, i) {
                    if want(&r) && best.is_none_or(|b| r.seq > b.seq) {
                        best = Some(r);
                    }
                }
            }
        }
        best
    }
}

/// Whether a record is a breadcrumb a person would call "where it was": not
/// a sample, name chunk, caller frame or the trail's start.
pub fn is_breadcrumb(r: &Record) -> bool {
    matches!(
        Kind::from_u8(r.kind),
        Some(Kind::Probe | Kind::Return | Kind::SoftLockup | Kind::PanicNotifier | Kind::StopResult)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time FNV-1a definition.
    fn fnv_bytewise(bytes: &[u8]) -> u32 {
        let mut h = FNV_OFFSET;
        for &b in bytes {
            h ^= b as u32;
            h = h.wrapping_mul(FNV_PRIME);
        }
        nonzero(h)
    }

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 11
        }
    }

    #[test]
    fn checksums_match_the_bytewise_definition() {
        let mut rng = Lcg(7);
        let mut buf = [0u8; 300];
        for len in 0..buf.len() {
            for b in buf.iter_mut() {
                *b = rng.next() as u8;
            }
            assert_eq!(checksum(&buf[..len]), fnv_bytewise(&buf[..len]), "length {len}");
        }
        let mut recs = [[0u8; RECORD_SIZE]; 4];
        for _ in 0..100 {
            for r in recs.iter_mut() {
                for b in r.iter_mut() {
                    *b = rng.next() as u8;
                }
            }
            let sums = record_checksums([&recs[0], &recs[1], &recs[2], &recs[3]]);
            for (r, s) in recs.iter().zip(sums) {
                assert_eq!(s, fnv_bytewise(&r[..RECORD_SIZE - 4]));
                assert_eq!(s, Record::from_bytes(r).compute_csum());
            }
        }
    }

    #[test]
    fn classify_matches_slot_by_slot() {
        let (cpus, ring) = (3u32, 17u32);
        let mut area = HeaderArea::zeroed();
        let h = &mut area.header;
        h.magic = MAGIC;
        h.version = VERSION;
        h.header_size = HEADER_SIZE as u32;
        h.record_size = RECORD_SIZE as u32;
        h.nr_cpus = cpus;
        h.ring_records = ring;
        h.samples_per_cpu = SAMPLES_PER_CPU as u32;
        h.region_size = (HEADER_SIZE + (cpus * (ring + SAMPLES_PER_CPU as u32)) as usize * RECORD_SIZE) as u64;
        area.seal();
        let mut rng = Lcg(11);
        let mut img = area.as_bytes().to_vec();
        let slots = (cpus * (ring + SAMPLES_PER_CPU as u32)) as usize;
        for i in 0..slots {
            let cpu = if i < (cpus as usize) * SAMPLES_PER_CPU {
                i / SAMPLES_PER_CPU
            } else {
                (i - cpus as usize * SAMPLES_PER_CPU) / ring as usize
            } as u32;
            let mut r = Record {
                seq: 1 + rng.next() % 1000,
                pc: rng.next(),
                cpu,
                kind: 1 + (rng.next() % 16) as u8,
                ..Record::default()
            };
            r.csum = r.compute_csum();
            let mut b = *r.as_bytes();
            match rng.next() % 7 {
                0 => b = [0; RECORD_SIZE],
                1 => b[..8].copy_from_slice(&[0; 8]),
                2 => b[60] ^= 1,
                3 => b[32] ^= 2,
                4 => {
                    b[36] = 99;
                    let mut x = Record::from_bytes(&b);
                    x.csum = x.compute_csum();
                    b = *x.as_bytes();
                }
                5 => b[40 + (rng.next() % 20) as usize] ^= 0x10,
                _ => {}
            }
            img.extend_from_slice(&b);
        }
        for cut in [img.len(), img.len() - 100, HEADER_SIZE + 7 * RECORD_SIZE + 5, HEADER_SIZE] {
            let bytes = &img[..cut];
            let t = Trail::parse(bytes).expect("parses");
            let mut classes = [0xffu8; 200];
            let n = t.slot_count();
            t.classify(&mut classes[..n]);
            let tc = Trail::parse(bytes).expect("parses").with_classes(&classes[..n]);
            let mut i = 0;
            let mut seen = [0usize; 5];
            for (area, per) in [(0, SAMPLES_PER_CPU as u32), (1, ring)] {
                for cpu in 0..cpus {
                    for k in 0..per {
                        let (a, b) = if area == 0 {
                            (t.sample_slot(cpu, k), tc.sample_slot(cpu, k))
                        } else {
                            (t.ring_slot(cpu, k), tc.ring_slot(cpu, k))
                        };
                        assert_eq!(a, b, "slot {i} (cut {cut})");
                        let want = match a {
                            Slot::Missing => CLASS_MISSING,
                            Slot::Empty => CLASS_EMPTY,
                            Slot::Valid(_) => CLASS_VALID,
                            Slot::Torn => CLASS_TORN,
                            Slot::Invalid => CLASS_INVALID,
                        };
                        assert_eq!(classes[i], want, "slot {i} (cut {cut})");
                        seen[want as usize] += 1;
                        i += 1;
                    }
                }
            }
            if cut == img.len() {
                assert!(seen[1..].iter().all(|&n| n > 0), "every class made: {seen:?}");
            }
        }
    }

    #[test]
    fn header_checksum_by_matches_whole_area() {
        let mut area = HeaderArea::zeroed();
        area.header.magic = MAGIC;
        area.header.version = VERSION;
        area.points[3].name[0] = b'x';
        area.seal();
        let bytes = area.as_bytes();
        let by = header_checksum_by(HEADER_SIZE, |off, buf| buf.copy_from_slice(&bytes[off..off + buf.len()]));
        assert_eq!(by, area.header.csum);
        assert_eq!(by, header_checksum(bytes));
        let v1 = &bytes[..V1_HEADER_SIZE];
        let by1 = header_checksum_by(V1_HEADER_SIZE, |off, buf| buf.copy_from_slice(&v1[off..off + buf.len()]));
        assert_eq!(by1, header_checksum(v1));
    }
}
