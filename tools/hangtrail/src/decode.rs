//! Region bytes -> [`Decoded`]: every slot classified, valid records sorted
//! by seq and symbolized, and the facts the verdict is built from.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::debuginfo::DebugInfo;
use crate::format::{
    cstr, Arch, Header, HeaderError, Kind, Point, Record, Role, Trail, CLASS_EMPTY, CLASS_INVALID,
    CLASS_TORN, CLASS_VALID, HEADER_SIZE, POINT_MISSING, POINT_REFUSED, POINT_REGISTERED,
    RECORD_SIZE, REC_CRASH_PHASE, REC_IDLE, REC_IRQS_OFF, REC_LOAD_PHASE, REC_STOPPED, REC_USER,
};
use crate::symbols::{Resolver, Source, Sym, SymbolError, SymbolTable, MAX_SYMBOL_SPAN};
use crate::verdict::{self, CpuView, SoftLockup, StaleCpu, Stuck, Verdict};

/// Which part of the region a slot is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// A CPU's breadcrumb ring.
    Ring,
    /// A CPU's watchdog sample slots.
    Samples,
}

impl Area {
    /// `"ring"` or `"samples"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ring => "ring",
            Self::Samples => "samples",
        }
    }
}

/// `file:line` and instruction of a pc, from `--vmlinux`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DebugLine {
    /// `file:line`.
    pub location: Option<String>,
    /// Disassembled instruction at the pc.
    pub insn: Option<String>,
    /// The inline chain there, innermost first (`addr2line -i`):
    /// `(function, file:line)`; empty when nothing is inlined.
    pub inlined: Vec<(Option<String>, Option<String>)>,
}

/// A valid record with what the decoder made of it.
#[derive(Clone, Debug)]
pub struct Rec {
    /// The record as read (checksum verified).
    pub raw: Record,
    /// Its kind.
    pub kind: Kind,
    /// Where it was found.
    pub area: Area,
    /// Slot index within its CPU's area.
    pub slot: u32,
    /// Index into the point table, if the record names a point in use.
    pub point: Option<u16>,
    /// Where `pc` is.
    pub sym: Option<Sym>,
    /// `--vmlinux` facts about `pc`.
    pub debug: Option<Arc<DebugLine>>,
    /// `sym` came from a symbol file that failed the check against the
    /// trail (`--force-symbols`): shown with a `?`.
    pub unverified: bool,
}

impl Rec {
    /// Sequence number.
    pub fn seq(&self) -> u64 {
        self.raw.seq
    }
    /// CPU that wrote it.
    pub fn cpu(&self) -> u32 {
        self.raw.cpu
    }
    /// Program counter.
    pub fn pc(&self) -> u64 {
        self.raw.pc
    }
    /// Kind-specific argument.
    pub fn arg(&self) -> u64 {
        self.raw.arg
    }
    /// `REC_*` flags.
    pub fn flags(&self) -> u8 {
        self.raw.flags
    }
    /// Whether `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.raw.flags & flag != 0
    }
    /// A breadcrumb a person would call "where it was".
    pub fn is_breadcrumb(&self) -> bool {
        crate::format::is_breadcrumb(&self.raw)
    }
    /// Non-idle, non-user sample.
    pub fn is_busy_kernel(&self) -> bool {
        !self.has(REC_IDLE) && !self.has(REC_USER)
    }
    /// `symbol+0xoff [module]` (`?symbol...` if unverified), or the raw pc.
    pub fn location(&self) -> String {
        match &self.sym {
            Some(s) if self.unverified => format!("?{s}"),
            Some(s) => s.to_string(),
            None => format!("{:#x}", self.pc()),
        }
    }
}

/// Text from the region for display: invalid UTF-8 replaced, control
/// characters escaped as `\xNN` (a corrupt name must not drive a terminal).
pub fn printable(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for c in String::from_utf8_lossy(b).chars() {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Names of the `REC_*` flags set in `flags`, in a stable order.
pub fn flag_names(flags: u8) -> impl Iterator<Item = &'static str> {
    [
        (REC_LOAD_PHASE, "load"),
        (REC_CRASH_PHASE, "crash"),
        (REC_IDLE, "idle"),
        (REC_USER, "user"),
        (REC_STOPPED, "stopped"),
        (REC_IRQS_OFF, "irqs-off"),
    ]
    .into_iter()
    .filter(move |(f, _)| flags & f != 0)
    .map(|(_, n)| n)
}

/// One entry of the header's point table.
#[derive(Clone, Debug)]
pub struct PointInfo {
    /// Index in the table.
    pub index: u16,
    /// `symbol` or `symbol+0xoff`.
    pub name: String,
    /// Runtime address probed (0 unless registered).
    pub addr: u64,
    /// Role, if known.
    pub role: Option<Role>,
    /// Raw role byte.
    pub role_raw: u8,
    /// `POINT_*` status.
    pub status: u8,
    /// Negative errno when refused.
    pub errno: i32,
    /// Offset into the symbol.
    pub offset: u32,
    /// Also a kretprobe.
    pub kretprobe: bool,
}

impl PointInfo {
    fn new(index: u16, p: &Point) -> Self {
        Self {
            index,
            name: printable(cstr(&p.name)),
            addr: p.addr,
            role: Role::from_u8(p.role),
            role_raw: p.role,
            status: p.status,
            errno: p.errno,
            offset: p.offset,
            kretprobe: p.kretprobe != 0,
        }
    }

    /// The symbol part of the name (before `+`).
    pub fn symbol(&self) -> &str {
        self.name.split_once('+').map_or(&self.name, |(s, _)| s)
    }

    /// `"registered"`, `"missing"`, `"refused"` or `"unknown"`.
    pub fn status_name(&self) -> &'static str {
        match self.status {
            POINT_REGISTERED => "registered",
            POINT_MISSING => "missing",
            POINT_REFUSED => "refused",
            _ => "unknown",
        }
    }

    /// Role name, or `role<N>` for an unknown role byte.
    pub fn role_name(&self) -> String {
        match self.role {
            Some(r) => r.name().to_string(),
            None => format!("role{}", self.role_raw),
        }
    }

    /// Whether kprobes accepted it.
    pub fn registered(&self) -> bool {
        self.status == POINT_REGISTERED
    }
}

/// A slot that held something, but not a valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadSlot {
    /// CPU whose area it is in.
    pub cpu: u32,
    /// Ring or samples.
    pub area: Area,
    /// Index in that CPU's area.
    pub slot: u32,
    /// `"torn"` or `"invalid"`.
    pub reason: &'static str,
}

/// How the slots of the region were classified.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotCounts {
    /// Valid records.
    pub valid: u64,
    /// Never-written slots.
    pub empty: u64,
    /// Torn records (seq 0, body not zero).
    pub torn: u64,
    /// Checksum, CPU or kind mismatches.
    pub invalid: u64,
    /// Slots past the end of the input.
    pub missing: u64,
}

/// Everything the decoder found in a region.
pub struct Decoded {
    /// The (checksummed) header.
    pub header: Header,
    /// Bytes of input.
    pub input_len: usize,
    /// The point table.
    pub points: Vec<PointInfo>,
    /// Valid breadcrumb-ring records, by seq.
    pub records: Vec<Rec>,
    /// Valid sample-slot records, by seq.
    pub samples: Vec<Rec>,
    /// Torn and invalid slots, in region order.
    pub invalid: Vec<BadSlot>,
    /// Slot counts.
    pub counts: SlotCounts,
    /// Kind of the symbol file used, if any.
    pub symbol_source: Option<Source>,
    /// KASLR slide applied to pcs before lookup, if symbols were given.
    pub slide: Option<u64>,
    /// The last soft lockup report.
    pub softlockup: Option<SoftLockup>,
    /// Every CPU the trail says something about, as reconstructed.
    pub cpus: Vec<CpuView>,
    /// CPUs still online after the CPU stop that were never seen stopped.
    pub stale_cpus: Vec<StaleCpu>,
    /// CPUs whose last samples sit in one function.
    pub stuck: Vec<Stuck>,
    /// Where the machine hung.
    pub verdict: Verdict,
    /// Things the reader should know (not errors).
    pub warnings: Vec<String>,
}

impl Decoded {
    /// The decoded architecture, if known.
    pub fn arch(&self) -> Option<Arch> {
        Arch::from_u32(self.header.arch)
    }

    /// The point a record refers to.
    pub fn point(&self, r: &Rec) -> Option<&PointInfo> {
        self.points.get(usize::from(r.point?))
    }

    /// The role of the point a record refers to.
    pub fn role(&self, r: &Rec) -> Option<Role> {
        self.point(r)?.role
    }

    /// Header reference symbol name.
    pub fn ref_name(&self) -> String {
        printable(cstr(&self.header.ref_name))
    }

    /// Kernel release of the writer.
    pub fn release(&self) -> String {
        printable(cstr(&self.header.release))
    }
}

/// Why a region could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// Not a trail, or a corrupt header.
    Header(HeaderError),
    /// The `--kallsyms`/`--system-map` file cannot be used with this trail.
    Symbols(SymbolError),
    /// The `--vmlinux` file cannot be used with this trail.
    Vmlinux(SymbolError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(HeaderError::NewerVersion(v)) => write!(
                f,
                "{} (version {v}, this decoder reads up to {})",
                HeaderError::NewerVersion(*v).message(),
                crate::format::VERSION
            ),
            Self::Header(e) => f.write_str(e.message()),
            Self::Symbols(e) | Self::Vmlinux(e) => e.fmt(f),
        }
    }
}

/// What to symbolize with.
#[derive(Clone, Copy, Default)]
pub struct Options<'a> {
    /// `--kallsyms` or `--system-map`.
    pub symbols: Option<&'a SymbolTable>,
    /// `--vmlinux`.
    pub debug: Option<&'a DebugInfo>,
    /// Use symbols that fail the check against the trail (names marked).
    pub force_symbols: bool,
}

/// KASLR moves the kernel by multiples of this: x86_64
/// `CONFIG_PHYSICAL_ALIGN` (2 MiB, the minimum on 64-bit); arm64 at least
/// 64 KiB (`MIN_KIMG_ALIGN` for the random part, the EFI stub's 64 KiB
/// placement for the physical part).
pub fn kaslr_align(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => 2 << 20,
        Arch::Arm64 => 64 << 10,
    }
}

/// Where the kernel may put a kprobe asked for at `offset` into a function,
/// past the address `offset` names: x86_64 kernels with indirect branch
/// tracking (`CONFIG_X86_KERNEL_IBT`, Debian's stock kernels) start
/// functions with a 4-byte `endbr64`, and `arch_adjust_kprobe_addr()` moves
/// a probe at +0 past it (+4). 0 elsewhere.
pub fn entry_adjust(arch: Option<Arch>, offset: u32) -> &'static [u64] {
    match (arch, offset) {
        (Some(Arch::X86_64), 0) => &[0, 4],
        _ => &[0],
    }
}

/// Checks a symbol table against the trail: the slide is a multiple of the
/// arch's KASLR alignment, and every registered point whose symbol the
/// table has sits at that symbol (+ its offset, + where the kernel moved
/// it: [`entry_adjust`]) under the slide. Returns what is wrong, if
/// anything.
pub fn check_symbols(
    table: &SymbolTable,
    slide: u64,
    arch: Option<Arch>,
    points: &[PointInfo],
) -> Option<String> {
    if let Some(a) = arch {
        if !slide.is_multiple_of(kaslr_align(a)) {
            return Some(format!(
                "the KASLR slide {slide:#x} is not a multiple of {:#x}, as on {}",
                kaslr_align(a),
                a.name()
            ));
        }
    }
    for p in points.iter().filter(|p| p.registered() && p.addr != 0) {
        let mut addrs = table.addresses_of(p.symbol()).peekable();
        if addrs.peek().is_none() {
            continue;
        }
        let want = p.addr.wrapping_sub(slide).wrapping_sub(u64::from(p.offset));
        let mut seen = None;
        for a in addrs {
            if entry_adjust(arch, p.offset)
                .iter()
                .any(|&d| a.wrapping_add(d) == want)
            {
                seen = None;
                break;
            }
            seen = Some(a);
        }
        if let Some(a) = seen {
            return Some(format!(
                "point `{}` ran at {:#x}, but the file puts `{}` at {a:#x} + slide {slide:#x}",
                p.name,
                p.addr,
                p.symbol()
            ));
        }
    }
    None
}

/// Sorts `(seq, slot)` keys by seq, stably (equal seqs stay in slot
/// order): an LSD radix sort, 11 bits a pass, skipping the passes where
/// every key has the same digit (a trail's seqs span ~21 bits: 2 passes).
fn sort_keys(keys: &mut Vec<(u64, u32)>) {
    const BITS: u32 = 11;
    const BUCKETS: usize = 1 << BITS;
    if keys.len() < 64 {
        keys.sort_by_key(|k| k.0);
        return;
    }
    let mut tmp = vec![(0u64, 0u32); keys.len()];
    let mut shift = 0;
    while shift < 64 {
        let digit = |k: &(u64, u32)| ((k.0 >> shift) as usize) & (BUCKETS - 1);
        let mut count = vec![0usize; BUCKETS];
        for k in keys.iter() {
            count[digit(k)] += 1;
        }
        if count[digit(&keys[0])] != keys.len() {
            let mut at = 0;
            for c in count.iter_mut() {
                (*c, at) = (at, at + *c);
            }
            for k in keys.iter() {
                let d = digit(k);
                tmp[count[d]] = *k;
                count[d] += 1;
            }
            std::mem::swap(keys, &mut tmp);
        }
        shift += BITS;
    }
}

/// Classifies every slot from `classes` (`Trail::classify`, one per slot
/// present in `bytes`), and makes the valid ones into records sorted by
/// (seq, cpu, slot): the keys are sorted, each record is built once, in
/// place.
fn classify(
    trail: &Trail<'_>,
    classes: &[u8],
    bytes: &[u8],
    records: &mut Vec<Rec>,
    samples: &mut Vec<Rec>,
    invalid: &mut Vec<BadSlot>,
    counts: &mut SlotCounts,
) {
    let h = &trail.header;
    let nr_points = h.nr_points;
    let base = h.header_size as usize;
    let nsamples = h.nr_cpus as usize * h.samples_per_cpu as usize;
    let mut keys = [Vec::new(), Vec::with_capacity(records.capacity())];
    counts.missing += (trail.slot_count() - classes.len()) as u64;
    let mut i = 0;
    for (a, area) in [Area::Samples, Area::Ring].into_iter().enumerate() {
        let per_cpu = match area {
            Area::Samples => h.samples_per_cpu,
            Area::Ring => h.ring_records,
        };
        'cpus: for cpu in 0..h.nr_cpus {
            for slot in 0..per_cpu {
                let Some(&class) = classes.get(i) else {
                    break 'cpus;
                };
                let reason = match class {
                    CLASS_VALID => {
                        counts.valid += 1;
                        let off = base + i * RECORD_SIZE;
                        let mut seq = [0u8; 8];
                        seq.copy_from_slice(&bytes[off..off + 8]);
                        keys[a].push((u64::from_le_bytes(seq), i as u32));
                        i += 1;
                        continue;
                    }
                    CLASS_EMPTY => {
                        counts.empty += 1;
                        i += 1;
                        continue;
                    }
                    CLASS_TORN => {
                        counts.torn += 1;
                        "torn"
                    }
                    CLASS_INVALID => {
                        counts.invalid += 1;
                        "invalid"
                    }
                    _ => {
                        counts.missing += 1;
                        i += 1;
                        continue;
                    }
                };
                invalid.push(BadSlot {
                    cpu,
                    area,
                    slot,
                    reason,
                });
                i += 1;
            }
        }
    }
    for (a, out) in [samples, records].into_iter().enumerate() {
        sort_keys(&mut keys[a]);
        out.reserve(keys[a].len());
        for (k, &(_, i)) in keys[a].iter().enumerate() {
            // Seq order jumps between CPUs' rings: ask for a slot ahead.
            if let Some(b) = keys[a]
                .get(k + 16)
                .and_then(|&(_, j)| bytes.get(base + j as usize * RECORD_SIZE))
            {
                crate::prefetch::prefetch(b);
            }
            let i = i as usize;
            let (area, cpu, slot) = if i < nsamples {
                let spc = h.samples_per_cpu as usize;
                (Area::Samples, i / spc, i % spc)
            } else {
                let ring = h.ring_records as usize;
                (Area::Ring, (i - nsamples) / ring, (i - nsamples) % ring)
            };
            let off = base + i * RECORD_SIZE;
            let Some(b) = bytes
                .get(off..)
                .and_then(|b| b.first_chunk::<RECORD_SIZE>())
            else {
                continue;
            };
            let raw = Record::from_bytes(b);
            // A valid class means a known kind.
            let Some(kind) = Kind::from_u8(raw.kind) else {
                continue;
            };
            debug_assert_eq!(raw.cpu as usize, cpu);
            let point =
                (kind != Kind::Name && u32::from(raw.point) < nr_points).then_some(raw.point);
            out.push(Rec {
                raw,
                kind,
                area,
                slot: slot as u32,
                point,
                sym: None,
                debug: None,
                unverified: false,
            });
        }
    }
}

/// A name chunk: `(owner seq, chunk index, chunk seq, index of its record)`.
type Chunk = (u64, u16, u64, u32);

/// Every name chunk, sorted by (owner, index, seq): an owner's chunks are
/// one run, found by binary search (no map of owner to a list).
fn collect_chunks(records: &[Rec]) -> Vec<Chunk> {
    let mut chunks: Vec<Chunk> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == Kind::Name)
        .map(|(i, r)| (r.arg(), r.raw.point, r.seq(), i as u32))
        .collect();
    chunks.sort_unstable();
    chunks
}

/// Joins an owner's name chunks (sorted by index, then seq: 0, 1, 2, ...
/// without gaps; the first copy of a duplicated index wins) and parses the
/// text.
fn assemble(chunks: &[Chunk], records: &[Rec]) -> Option<(Sym, Option<u64>)> {
    let mut text = Vec::new();
    let mut next = 0u16;
    for &(_, idx, _, at) in chunks {
        if idx < next {
            continue;
        }
        if idx != next {
            break;
        }
        let payload = &records[at as usize].raw.payload;
        let part = cstr(payload);
        text.extend_from_slice(part);
        next += 1;
        if part.len() < payload.len() {
            break;
        }
    }
    Sym::parse_sized(std::str::from_utf8(&text).ok()?)
}

/// The name of a probe record from its point: `symbol`, offset
/// `Point.offset + (pc - Point.addr)` when that is sane, else `Point.offset`.
fn point_sym(p: &PointInfo, name: &Option<Arc<str>>, pc: u64) -> Option<Sym> {
    let name = name.as_ref()?;
    let base = u64::from(p.offset);
    let offset = if p.addr == 0 {
        base
    } else {
        let off = i128::from(base) + i128::from(pc) - i128::from(p.addr);
        match u64::try_from(off) {
            Ok(o) if o <= MAX_SYMBOL_SPAN => o,
            _ => base,
        }
    };
    Some(Sym {
        name: name.clone(),
        offset,
        module: None,
    })
}

/// A function learned from a name chunk's `name+0xoff/0xsize`: other pcs
/// of the same boot inside it (samples, frames) get its name too.
struct Learned {
    start: u64,
    end: u64,
    sym: Sym,
}

/// Names every record: its name chunks, else its probe point, else a
/// function learned from other records' name chunks, else the symbol file.
fn symbolize(
    recs: &mut [Rec],
    points: &[PointInfo],
    resolver: Option<&Resolver<'_>>,
    unverified: bool,
) {
    let chunks = collect_chunks(recs);
    let mut learned = Vec::new();
    if !chunks.is_empty() {
        // `recs` is runs of increasing seq (ring, then samples): a cursor
        // into the chunks follows it, searching only where a run starts.
        let (mut lo, mut last) = (0, 0);
        for i in 0..recs.len() {
            let r = &recs[i];
            if r.kind == Kind::Name {
                continue;
            }
            let seq = r.seq();
            if seq < last {
                lo = chunks.partition_point(|c| c.0 < seq);
            }
            last = seq;
            while chunks.get(lo).is_some_and(|c| c.0 < seq) {
                lo += 1;
            }
            let n = chunks[lo..].iter().take_while(|c| c.0 == seq).count();
            if n == 0 {
                continue;
            }
            let Some((sym, size)) = assemble(&chunks[lo..lo + n], recs) else {
                continue;
            };
            let r = &mut recs[i];
            if let (Some(size), Some(start)) = (size, r.pc().checked_sub(sym.offset)) {
                if size <= MAX_SYMBOL_SPAN && r.pc() != 0 {
                    let s = Sym {
                        offset: 0,
                        ..sym.clone()
                    };
                    learned.push(Learned {
                        start,
                        end: start.saturating_add(size),
                        sym: s,
                    });
                }
            }
            r.sym = Some(sym);
        }
    }
    learned.sort_by_key(|l| l.start);
    // One shared name per point, not one allocated per record.
    let point_names: Vec<Option<Arc<str>>> = points
        .iter()
        .map(|p| (!p.symbol().is_empty()).then(|| Arc::from(p.symbol())))
        .collect();
    for r in recs.iter_mut() {
        if r.sym.is_some() || r.kind == Kind::Name || r.has(REC_USER) || r.pc() == 0 {
            continue;
        }
        if matches!(r.kind, Kind::Probe | Kind::Return) {
            if let Some(i) = r.point.map(usize::from).filter(|&i| i < points.len()) {
                r.sym = point_sym(&points[i], &point_names[i], r.pc());
                if r.sym.is_some() {
                    continue;
                }
            }
        }
        let pc = r.pc();
        let i = learned.partition_point(|l| l.start <= pc);
        if let Some(l) = i.checked_sub(1).map(|i| &learned[i]).filter(|l| pc < l.end) {
            r.sym = Some(Sym {
                offset: pc - l.start,
                ..l.sym.clone()
            });
            continue;
        }
        r.sym = resolver.and_then(|res| lookup_pc(res, r));
        r.unverified = unverified && r.sym.is_some();
    }
}

/// Where a caller frame's return address points is the instruction after
/// the call, maybe already the next function: frames are looked up at
/// `pc - 1` (like `addr2line` on a backtrace), their offset still `pc`'s.
fn lookup_addr(r: &Rec) -> u64 {
    if r.kind == Kind::Frame {
        r.pc().wrapping_sub(1)
    } else {
        r.pc()
    }
}

fn lookup_pc(res: &Resolver<'_>, r: &Rec) -> Option<Sym> {
    let mut s = res.lookup(lookup_addr(r))?;
    if r.kind == Kind::Frame {
        s.offset += 1;
    }
    Some(s)
}

/// Decodes `bytes` (a whole region, or a copy cut short after the header).
pub fn decode(bytes: &[u8], opts: &Options<'_>) -> Result<Decoded, Error> {
    let trail = Trail::parse(bytes).map_err(Error::Header)?;
    // Every slot's checksum once (four at a time); the records and the
    // verdict core read the classes instead of checking again.
    let present = (bytes
        .len()
        .saturating_sub(trail.header.header_size as usize)
        / RECORD_SIZE)
        .min(trail.slot_count());
    let mut classes = vec![0u8; present];
    trail.classify(&mut classes);
    let trail = trail.with_classes(&classes);
    let header = trail.header;
    let points: Vec<PointInfo> = trail
        .points()
        .enumerate()
        .map(|(i, p)| PointInfo::new(i as u16, &p))
        .collect();
    let ref_name = printable(cstr(&header.ref_name));
    let mut warnings = Vec::new();

    // Room for every ring slot the input holds (never more than it can).
    let slots = (bytes.len().saturating_sub(HEADER_SIZE) / RECORD_SIZE)
        .min(header.nr_cpus as usize * header.ring_records as usize);
    let mut records = Vec::with_capacity(slots);
    let mut samples = Vec::new();
    let mut invalid = Vec::new();
    let mut counts = SlotCounts::default();
    classify(
        &trail,
        &classes,
        bytes,
        &mut records,
        &mut samples,
        &mut invalid,
        &mut counts,
    );
    if counts.missing > 0 {
        warnings.push(format!(
            "input is {} bytes, the region {}: {} slots missing",
            bytes.len(),
            header.used_size(),
            counts.missing
        ));
    }

    // Symbols: the symbol file if given, else the vmlinux symtab.
    let table = opts.symbols.or(opts.debug.map(|d| &d.symbols));
    let resolver = match table {
        Some(t) => Some(t.resolver(&ref_name, header.ref_addr).map_err(|e| {
            if opts.symbols.is_some() {
                Error::Symbols(e)
            } else {
                Error::Vmlinux(e)
            }
        })?),
        None => None,
    };
    if table.is_some() && ref_name.is_empty() {
        warnings.push("trail header names no reference symbol: assuming no KASLR slide".into());
    }
    let mut unverified = false;
    if let (Some(t), Some(r)) = (table, resolver.as_ref()) {
        if let Some(why) = check_symbols(t, r.slide, Arch::from_u32(header.arch), &points) {
            if !opts.force_symbols {
                let e = SymbolError::Mismatch(why);
                return Err(if opts.symbols.is_some() {
                    Error::Symbols(e)
                } else {
                    Error::Vmlinux(e)
                });
            }
            warnings.push(format!(
                "the symbol file does not belong to this trail ({why}): \
                 decoded anyway (--force-symbols), names from it marked `?`"
            ));
            unverified = true;
        }
    }
    // Symbolize ring and samples together: chunks in the ring may name
    // functions that samples are in.
    let nr_ring = records.len();
    records.append(&mut samples);
    symbolize(&mut records, &points, resolver.as_ref(), unverified);
    samples = records.split_off(nr_ring);

    if let Some(dbg) = opts.debug {
        let slide = dbg
            .symbols
            .resolver(&ref_name, header.ref_addr)
            .map_err(Error::Vmlinux)?
            .slide;
        if !dbg.has_lines() {
            warnings.push("the vmlinux has no usable DWARF: no file:line".into());
        }
        let arch = Arch::from_u32(header.arch).or(dbg.arch);
        if let (Some(a), Some(b)) = (Arch::from_u32(header.arch), dbg.arch) {
            if a != b {
                warnings.push(format!(
                    "trail is from {} but the vmlinux is {}",
                    a.name(),
                    b.name()
                ));
            }
        }
        let mut memo: HashMap<u64, Option<Arc<DebugLine>>> = HashMap::new();
        for r in records.iter_mut().chain(samples.iter_mut()) {
            let in_vmlinux = r.sym.as_ref().is_none_or(|s| s.module.is_none());
            if r.pc() == 0 || !in_vmlinux || matches!(r.kind, Kind::Name | Kind::Start) {
                continue;
            }
            let pc = lookup_addr(r);
            let is_frame = r.kind == Kind::Frame;
            r.debug = memo
                .entry(pc)
                .or_insert_with(|| {
                    let addr = pc.wrapping_sub(slide);
                    // A frame's instruction is the one it returns to.
                    let insn_at = if is_frame { addr.wrapping_add(1) } else { addr };
                    let line = DebugLine {
                        location: dbg.location(addr),
                        insn: arch.and_then(|a| dbg.instruction(a, insn_at)),
                        inlined: dbg.inline_frames(addr),
                    };
                    (line != DebugLine::default()).then(|| Arc::new(line))
                })
                .clone();
        }
    }

    let mut d = Decoded {
        header,
        input_len: bytes.len(),
        points,
        records,
        samples,
        invalid,
        counts,
        symbol_source: table.map(|t| t.source),
        slide: resolver.map(|r| r.slide),
        softlockup: None,
        cpus: Vec::new(),
        stale_cpus: Vec::new(),
        stuck: Vec::new(),
        verdict: Verdict::default(),
        warnings,
    };
    d.softlockup = verdict::softlockup(&d);
    (d.verdict, d.cpus, d.stale_cpus, d.stuck) = verdict::build(&trail, &d);
    Ok(d)
}

#[cfg(test)]
mod tests;
