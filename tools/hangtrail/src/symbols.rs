//! Symbol tables (`/proc/kallsyms`, `System.map`, or a vmlinux symtab) and
//! `pc -> symbol+0xoff` resolution with the KASLR slide undone.

use std::fmt;
use std::sync::Arc;

/// A pc further than this past its nearest symbol is left unresolved: no
/// kernel function is that large, so the pc is in something the table lacks.
pub const MAX_SYMBOL_SPAN: u64 = 1 << 20;

/// A resolved location: `name+0xoffset [module]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sym {
    /// Symbol name.
    pub name: Arc<str>,
    /// Bytes past the symbol's start.
    pub offset: u64,
    /// Module the symbol belongs to, if not vmlinux.
    pub module: Option<Arc<str>>,
}

impl Sym {
    /// A vmlinux symbol.
    pub fn new(name: &str, offset: u64) -> Self {
        Self {
            name: name.into(),
            offset,
            module: None,
        }
    }

    /// Parses `%pS`-style text: `name+0xOFF[/0xSIZE][ [module]]`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::parse_sized(text).map(|(s, _)| s)
    }

    /// Like [`Self::parse`], also returning the symbol size if given.
    pub fn parse_sized(text: &str) -> Option<(Self, Option<u64>)> {
        let text = text.trim();
        let (main, module) = match text.split_once(" [") {
            Some((main, rest)) => {
                let m = rest.strip_suffix(']')?;
                if m.is_empty()
                    || m.contains(|c: char| c.is_whitespace() || c.is_control() || c == '[')
                {
                    return None;
                }
                (main, Some(m))
            }
            None => (text, None),
        };
        let (name, off) = main.rsplit_once('+')?;
        let hex = |h: &str| u64::from_str_radix(h.strip_prefix("0x")?, 16).ok();
        let (offset, size) = match off.split_once('/') {
            Some((o, z)) => (hex(o)?, Some(hex(z)?)),
            None => (hex(off)?, None),
        };
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let sym = Self {
            name: name.into(),
            offset,
            module: module.map(Into::into),
        };
        Some((sym, size))
    }
}

impl fmt::Display for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:#x}", self.name, self.offset)?;
        if let Some(m) = &self.module {
            write!(f, " [{m}]")?;
        }
        Ok(())
    }
}

/// Where a symbol table came from: decides which columns to expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `/proc/kallsyms`: runtime addresses, optional `[module]` column.
    Kallsyms,
    /// `System.map`: link-time addresses, vmlinux only.
    SystemMap,
    /// The ELF symbol table of a vmlinux.
    Vmlinux,
}

impl Source {
    /// `kallsyms`, `system-map` or `vmlinux` (as in the JSON output).
    pub fn name(self) -> &'static str {
        match self {
            Self::Kallsyms => "kallsyms",
            Self::SystemMap => "system-map",
            Self::Vmlinux => "vmlinux",
        }
    }
}

/// Why a symbol file cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SymbolError {
    /// No text symbols at all.
    NoTextSymbols,
    /// Every address is zero: kallsyms read without privileges.
    ZeroAddresses,
    /// The header's reference symbol is not in the file.
    MissingRef(String),
    /// The file does not describe the kernel that wrote the trail.
    Mismatch(String),
}

impl fmt::Display for SymbolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTextSymbols => write!(f, "no text symbols (not a kallsyms/System.map file?)"),
            Self::ZeroAddresses => write!(
                f,
                "all symbol addresses are zero (kallsyms read without root? see kptr_restrict)"
            ),
            Self::MissingRef(name) => write!(
                f,
                "reference symbol `{name}` from the trail header is not in the symbol file, \
                 so the KASLR slide cannot be computed"
            ),
            Self::Mismatch(why) => write!(
                f,
                "does not belong to this trail: {why} (--force-symbols decodes anyway, \
                 every name from it marked `?`)"
            ),
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    addr: u64,
    /// The name: `arena[name_off..name_off + name_len]`.
    name_off: usize,
    name_len: usize,
    module: Option<Arc<str>>,
    /// Lower wins among symbols at the same address: T, t, W, w.
    rank: u8,
    /// Bytes (ELF `st_size`; 0 = unknown, as in kallsyms/System.map).
    size: u64,
}

/// Every symbol name, one after the other: a table of 240k symbols holds
/// one string, not 240k allocations. A name becomes an `Arc<str>` (shared
/// by every `Sym` of that symbol) the first time a lookup returns it.
#[derive(Clone, Debug, Default)]
struct Arena(String);

impl Arena {
    fn push(&mut self, name: &str) -> (usize, usize) {
        let off = self.0.len();
        self.0.push_str(name);
        (off, name.len())
    }

    fn get(&self, off: usize, len: usize) -> &str {
        &self.0[off..off + len]
    }

    fn entry(
        &mut self,
        addr: u64,
        name: &str,
        module: Option<Arc<str>>,
        rank: u8,
        size: u64,
    ) -> Entry {
        let (name_off, name_len) = self.push(name);
        Entry {
            addr,
            name_off,
            name_len,
            module,
            rank,
            size,
        }
    }
}

/// Text symbols, split into vmlinux and module symbols, each sorted by
/// address with one entry per address.
#[derive(Clone, Debug)]
pub struct SymbolTable {
    /// Which kind of file this was.
    pub source: Source,
    arena: Arena,
    kernel: Sorted,
    modules: Sorted,
    /// vmlinux symbol name -> its addresses and ranks (aliases at one
    /// address included).
    names: Names,
}

/// A name's slot in a table of `1 << bits` slots: FNV-1a-like over 8
/// bytes at a time, then a multiply whose high bits are the slot (the low
/// bits of a product see only the low input bits: `fn_1..`, `fn_2..` would
/// crowd into a few slots).
fn name_slot(bytes: &[u8], bits: u32) -> usize {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 29;
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize
}

/// Every address of each vmlinux name: an open-addressing table over the
/// arena's names; a slot holds a name's newest entry, each entry the one
/// before it of the same name (`u32::MAX`: none). No allocation per name.
#[derive(Clone, Debug, Default)]
struct Names {
    /// Entry index + 1 of a name's newest entry; 0 = free.
    slots: Vec<u32>,
    /// `(address, rank, previous entry of the same name, name)`.
    entries: Vec<(u64, u8, u32, (usize, usize))>,
}

impl Names {
    fn build(arena: &Arena, kernel: &[Entry]) -> Self {
        let size = (kernel.len() * 2).next_power_of_two().max(16);
        let mut n = Self {
            slots: vec![0; size],
            entries: Vec::with_capacity(kernel.len()),
        };
        let mask = size - 1;
        let bits = size.trailing_zeros();
        for e in kernel {
            let name = arena.get(e.name_off, e.name_len);
            let new = n.entries.len() as u32;
            let mut i = name_slot(name.as_bytes(), bits);
            let prev = loop {
                match n.slots[i] {
                    0 => {
                        n.slots[i] = new + 1;
                        break u32::MAX;
                    }
                    s => {
                        let (o, l) = n.entries[s as usize - 1].3;
                        if arena.get(o, l) == name {
                            n.slots[i] = new + 1;
                            break s - 1;
                        }
                    }
                }
                i = (i + 1) & mask;
            };
            n.entries
                .push((e.addr, e.rank, prev, (e.name_off, e.name_len)));
        }
        n
    }

    /// `(address, rank)` of every entry named `name`, in file order.
    fn get(&self, arena: &Arena, name: &str) -> Option<Vec<(u64, u8)>> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = name_slot(name.as_bytes(), self.slots.len().trailing_zeros());
        let head = loop {
            match self.slots[i] {
                0 => return None,
                s => {
                    let (o, l) = self.entries[s as usize - 1].3;
                    if arena.get(o, l) == name {
                        break s - 1;
                    }
                }
            }
            i = (i + 1) & mask;
        };
        let mut v = Vec::new();
        let mut i = head;
        while let Some(&(a, r, prev, _)) = self.entries.get(i as usize) {
            v.push((a, r));
            i = prev;
        }
        v.reverse();
        Some(v)
    }
}

/// Entries sorted by address, one per address, with the addresses alone in
/// their own array and a bucket index over them: a lookup reads one bucket
/// and binary-searches the few addresses in it, instead of ~17 cache-missing
/// steps over 100k symbols.
#[derive(Clone, Debug, Default)]
struct Sorted {
    addrs: Vec<u64>,
    entries: Vec<Entry>,
    /// Each entry's name as an `Arc<str>`, made on first use.
    arcs: Vec<std::sync::OnceLock<Arc<str>>>,
    /// Lowest address.
    base: u64,
    /// Bucket `b` covers `[base + (b << shift), base + ((b + 1) << shift))`.
    shift: u32,
    /// `buckets[b]`: index of the first address in bucket `b` or later;
    /// one extra entry at the end (= `addrs.len()`).
    buckets: Vec<u32>,
}

impl Sorted {
    fn new(mut v: Vec<Entry>) -> Self {
        v.sort_by_key(|e| (e.addr, e.rank));
        v.dedup_by_key(|e| e.addr);
        let addrs: Vec<u64> = v.iter().map(|e| e.addr).collect();
        let (Some(&base), Some(&last)) = (addrs.first(), addrs.last()) else {
            return Self::default();
        };
        // At most ~2 buckets per symbol.
        let span = last - base;
        let limit = 2 * addrs.len() as u64;
        let mut shift = 0;
        while (span >> shift) >= limit {
            shift += 1;
        }
        let nb = (span >> shift) as usize + 1;
        let mut buckets = Vec::with_capacity(nb + 1);
        let mut j = 0;
        for b in 0..nb {
            let start = u128::from(base) + ((b as u128) << shift);
            while j < addrs.len() && u128::from(addrs[j]) < start {
                j += 1;
            }
            buckets.push(j as u32);
        }
        buckets.push(addrs.len() as u32);
        Self {
            addrs,
            arcs: vec![std::sync::OnceLock::new(); v.len()],
            entries: v,
            base,
            shift,
            buckets,
        }
    }

    /// The entry with the largest address <= `addr`, if close enough.
    fn lookup(&self, addr: u64) -> Option<usize> {
        let off = addr.checked_sub(self.base)?;
        let nb = self.buckets.len().checked_sub(1)?;
        let b = usize::try_from(off >> self.shift).unwrap_or(usize::MAX);
        let i = if b >= nb {
            self.addrs.len()
        } else {
            let (lo, hi) = (self.buckets[b] as usize, self.buckets[b + 1] as usize);
            lo + self.addrs[lo..hi].partition_point(|&a| a <= addr)
        };
        let i = i.checked_sub(1)?;
        let e = self.entries.get(i)?;
        let span = if e.size > 0 {
            e.size - 1
        } else {
            MAX_SYMBOL_SPAN
        };
        (addr - e.addr <= span).then_some(i)
    }

    /// Entry `i`'s name, shared.
    fn name(&self, arena: &Arena, i: usize) -> Arc<str> {
        let e = &self.entries[i];
        self.arcs[i]
            .get_or_init(|| Arc::from(arena.get(e.name_off, e.name_len)))
            .clone()
    }
}

fn text_rank(ty: &str) -> Option<u8> {
    match ty {
        "T" => Some(0),
        "t" => Some(1),
        "W" => Some(2),
        "w" => Some(3),
        _ => None,
    }
}

/// The common System.map/kallsyms line, `HEX TYPE NAME` with single spaces,
/// printable ASCII, no module column: `(addr, rank, name)` if it is a text
/// symbol, `Some(None)` if it is another symbol, `None` if the line is
/// anything else (the general parser decides).
fn fast_line(text: &str) -> Option<Option<(u64, u8, &str)>> {
    let line = text.as_bytes();
    if line.len() < 5 || line.len() > 512 {
        return None;
    }
    let mut addr = 0u64;
    let mut i = 0;
    while i < line.len() && i <= 16 {
        let d = match line[i] {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'f' => c - b'a' + 10,
            c @ b'A'..=b'F' => c - b'A' + 10,
            b' ' => break,
            _ => return None,
        };
        addr = addr << 4 | u64::from(d);
        i += 1;
    }
    if i == 0 || i > 16 || line.get(i) != Some(&b' ') || line.get(i + 2) != Some(&b' ') {
        return None;
    }
    let ty = line[i + 1];
    let name = &line[i + 3..];
    // Printable ASCII without spaces: one field, no control characters.
    if name.is_empty() || !name.iter().all(|&c| (0x21..0x7f).contains(&c)) {
        return None;
    }
    let rank = match ty {
        b'T' => 0,
        b't' => 1,
        b'W' => 2,
        b'w' => 3,
        c if c.is_ascii_graphic() => return Some(None),
        _ => return None,
    };
    // ASCII checked above: `i + 3` is a character boundary.
    Some(Some((addr, rank, text.get(i + 3..)?)))
}

/// Any line: `addr type name [module]` split at ASCII whitespace, a text
/// symbol without control characters (a module column only in kallsyms).
fn general_line(line: &str, source: Source) -> Option<(u64, u8, &str, Option<&str>)> {
    let mut it = line.split_ascii_whitespace();
    let (Some(addr), Some(ty), Some(name)) = (it.next(), it.next(), it.next()) else {
        return None;
    };
    let rank = text_rank(ty)?;
    if line.contains(|c: char| c.is_control() && c != '\t') {
        return None;
    }
    let addr = u64::from_str_radix(addr, 16).ok()?;
    let module = match it.next() {
        Some(m) if source == Source::Kallsyms => {
            match m.strip_prefix('[').and_then(|m| m.strip_suffix(']')) {
                Some(m) if !m.is_empty() => Some(m),
                _ => return None,
            }
        }
        _ => None,
    };
    Some((addr, rank, name, module))
}

impl SymbolTable {
    /// [`Self::parse`] of a file's bytes (invalid UTF-8 replaced, which
    /// only a corrupt file has: the check is a fast pass when it is valid).
    pub fn parse_bytes(bytes: &[u8], source: Source) -> Result<Self, SymbolError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::parse(text, source),
            Err(_) => Self::parse(&String::from_utf8_lossy(bytes), source),
        }
    }

    /// Parses `addr type name [module]` lines. Lines that do not parse are
    /// skipped; a file with no text symbols is an error.
    pub fn parse(text: &str, source: Source) -> Result<Self, SymbolError> {
        let mut kernel = Vec::new();
        let mut modules = Vec::new();
        let mut arena = Arena(String::with_capacity(text.len() / 2));
        let mut nonzero = false;
        for line in text.lines() {
            // The usual line, without splitting it into strings first.
            match fast_line(line) {
                Some(Some((addr, rank, name))) => {
                    nonzero |= addr != 0;
                    kernel.push(arena.entry(addr, name, None, rank, 0));
                    continue;
                }
                Some(None) => continue,
                None => {}
            }
            let Some((addr, rank, name, module)) = general_line(line, source) else {
                continue;
            };
            nonzero |= addr != 0;
            let e = arena.entry(addr, name, module.map(Arc::from), rank, 0);
            if e.module.is_some() {
                modules.push(e);
            } else {
                kernel.push(e);
            }
        }
        if kernel.is_empty() && modules.is_empty() {
            return Err(SymbolError::NoTextSymbols);
        }
        if !nonzero {
            return Err(SymbolError::ZeroAddresses);
        }
        Ok(Self::from_entries(source, arena, kernel, modules))
    }

    fn from_entries(source: Source, arena: Arena, kernel: Vec<Entry>, modules: Vec<Entry>) -> Self {
        let names = Names::build(&arena, &kernel);
        Self {
            source,
            kernel: Sorted::new(kernel),
            modules: Sorted::new(modules),
            names,
            arena,
        }
    }

    /// Every address of vmlinux text symbol `name`.
    pub fn addresses_of(&self, name: &str) -> impl Iterator<Item = u64> + '_ {
        self.names
            .get(&self.arena, name)
            .into_iter()
            .flat_map(|v| v.into_iter().map(|(a, _)| a))
    }

    /// A table from `(address, name, global, size)` text symbols (a vmlinux
    /// symtab; size 0 = unknown). A pc past a sized symbol's end does not
    /// resolve to it.
    pub fn from_functions(syms: impl IntoIterator<Item = (u64, String, bool, u64)>) -> Self {
        let mut arena = Arena::default();
        let kernel = syms
            .into_iter()
            .filter(|(addr, name, _, _)| *addr != 0 && !name.is_empty())
            .map(|(addr, name, global, size)| {
                arena.entry(addr, &name, None, if global { 0 } else { 1 }, size)
            })
            .collect();
        Self::from_entries(Source::Vmlinux, arena, kernel, Vec::new())
    }

    /// `(address, name)` of every vmlinux text symbol, by address.
    pub fn functions(&self) -> impl Iterator<Item = (u64, &str)> {
        self.kernel
            .entries
            .iter()
            .map(|e| (e.addr, self.arena.get(e.name_off, e.name_len)))
    }

    /// Number of text symbols (vmlinux and modules).
    pub fn len(&self) -> usize {
        self.kernel.entries.len() + self.modules.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Address of vmlinux text symbol `name` (a global one if there are
    /// several).
    pub fn address_of(&self, name: &str) -> Option<u64> {
        let v = self.names.get(&self.arena, name)?;
        v.iter()
            .min_by_key(|&&(a, rank)| (rank, a))
            .map(|&(a, _)| a)
    }

    /// A resolver for a trail whose reference symbol `ref_name` was at
    /// runtime address `ref_addr`. An empty `ref_name` means the writer did
    /// not record one: the slide is taken as 0.
    pub fn resolver(&self, ref_name: &str, ref_addr: u64) -> Result<Resolver<'_>, SymbolError> {
        let slide = if ref_name.is_empty() {
            0
        } else {
            let addr = self
                .address_of(ref_name)
                .ok_or_else(|| SymbolError::MissingRef(ref_name.to_string()))?;
            ref_addr.wrapping_sub(addr)
        };
        Ok(Resolver {
            table: self,
            slide,
            use_modules: slide == 0,
        })
    }
}

/// Resolves runtime pcs against a [`SymbolTable`].
#[derive(Clone, Copy, Debug)]
pub struct Resolver<'a> {
    table: &'a SymbolTable,
    /// Runtime address minus symbol-file address.
    pub slide: u64,
    /// Module symbols are only trusted when the file is from the same boot
    /// (slide 0): modules load at different addresses on every boot.
    pub use_modules: bool,
}

impl Resolver<'_> {
    /// The symbol table this resolves against.
    pub fn table(&self) -> &SymbolTable {
        self.table
    }

    /// `symbol+0xoff [module]` of runtime address `pc`.
    pub fn lookup(&self, pc: u64) -> Option<Sym> {
        let addr = pc.wrapping_sub(self.slide);
        let k = self.table.kernel.lookup(addr);
        let m = if self.use_modules {
            self.table.modules.lookup(addr)
        } else {
            None
        };
        let t = self.table;
        let (sorted, i) = match (k, m) {
            (Some(k), Some(m)) => {
                if t.modules.entries[m].addr > t.kernel.entries[k].addr {
                    (&t.modules, m)
                } else {
                    (&t.kernel, k)
                }
            }
            (Some(k), None) => (&t.kernel, k),
            (None, m) => (&t.modules, m?),
        };
        let e = &sorted.entries[i];
        Some(Sym {
            name: sorted.name(&t.arena, i),
            offset: addr - e.addr,
            module: e.module.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "\
ffff800080000000 T _text
ffff800080010000 T _stext
ffff800080010000 t __el1_sync
ffff800080020000 T machine_kexec
ffff800080020100 t crash_helper
ffff800080020200 W weak_fn
ffff800080020300 D some_data
ffff800080030000 T panic
ffff800080031000 T _etext
";

    #[test]
    fn parse_parses_text_symbols_only() {
        let t = SymbolTable::parse(MAP, Source::SystemMap).expect("parses");
        assert_eq!(
            t.len(),
            7,
            "data symbol dropped, duplicate address kept once"
        );
        assert_eq!(t.address_of("panic"), Some(0xffff800080030000));
        assert_eq!(t.address_of("some_data"), None);
    }

    #[test]
    fn lookup_prefers_global_symbol_at_same_address() {
        let t = SymbolTable::parse(MAP, Source::SystemMap).expect("parses");
        let r = t.resolver("panic", 0xffff800080030000).expect("ref");
        assert_eq!(r.slide, 0);
        let s = r.lookup(0xffff800080010004).expect("resolves");
        assert_eq!(s.to_string(), "_stext+0x4");
    }

    #[test]
    fn slide_is_subtracted() {
        let t = SymbolTable::parse(MAP, Source::SystemMap).expect("parses");
        let r = t
            .resolver("panic", 0xffff800080030000 + 0x1234_0000)
            .expect("ref");
        assert_eq!(r.slide, 0x1234_0000);
        let s = r
            .lookup(0xffff800080020108 + 0x1234_0000)
            .expect("resolves");
        assert_eq!(s.to_string(), "crash_helper+0x8");
        let s = r
            .lookup(0xffff800080020200 + 0x1234_0000)
            .expect("resolves");
        assert_eq!(s.to_string(), "weak_fn+0x0");
    }

    #[test]
    fn out_of_range_pcs_do_not_resolve() {
        let t = SymbolTable::parse(MAP, Source::SystemMap).expect("parses");
        let r = t.resolver("panic", 0xffff800080030000).expect("ref");
        assert_eq!(r.lookup(0x1000), None);
        assert_eq!(r.lookup(0xffff800080031000 + MAX_SYMBOL_SPAN + 1), None);
    }

    #[test]
    fn missing_ref_is_an_error() {
        let t = SymbolTable::parse(MAP, Source::SystemMap).expect("parses");
        let e = t.resolver("no_such_fn", 1).unwrap_err();
        assert_eq!(e, SymbolError::MissingRef("no_such_fn".into()));
        assert!(e.to_string().contains("no_such_fn"));
    }

    #[test]
    fn empty_ref_name_means_no_slide() {
        let t = SymbolTable::parse(MAP, Source::SystemMap).expect("parses");
        assert_eq!(t.resolver("", 0x5555).expect("ok").slide, 0);
    }

    #[test]
    fn kallsyms_modules_used_only_without_slide() {
        let text = "\
ffffffff81000000 T _text
ffffffff81100000 T panic
ffffffff81200000 T _etext
ffffffffc0001000 t test_wait\t[test_lockup]
ffffffffc0001080 t test_init\t[test_lockup]
ffffffffc0002000 d test_data\t[test_lockup]
";
        let t = SymbolTable::parse(text, Source::Kallsyms).expect("parses");
        assert_eq!(t.len(), 5);
        let same = t.resolver("panic", 0xffffffff81100000).expect("ref");
        assert!(same.use_modules);
        let s = same.lookup(0xffffffffc000102c).expect("module pc");
        assert_eq!(s.to_string(), "test_wait+0x2c [test_lockup]");
        let other = t
            .resolver("panic", 0xffffffff81100000 + 0x20_0000)
            .expect("ref");
        assert!(!other.use_modules);
        assert_eq!(other.lookup(0xffffffffc000102c + 0x20_0000), None);
        let s = other
            .lookup(0xffffffff81100010 + 0x20_0000)
            .expect("vmlinux pc");
        assert_eq!(s.to_string(), "panic+0x10");
    }

    #[test]
    fn system_map_ignores_module_column() {
        // A System.map has no module column; a fourth field is ignored.
        let text = "ffffffff81100000 T panic\nffffffffc0001000 t foo [bar]\n";
        let t = SymbolTable::parse(text, Source::SystemMap).expect("parses");
        let r = t.resolver("panic", 0xffffffff81100000).expect("ref");
        assert_eq!(r.lookup(0xffffffffc0001004).expect("resolves").module, None);
    }

    #[test]
    fn kallsyms_without_privileges_is_an_error() {
        let text = "0000000000000000 T _text\n0000000000000000 T panic\n";
        assert_eq!(
            SymbolTable::parse(text, Source::Kallsyms).unwrap_err(),
            SymbolError::ZeroAddresses
        );
        assert_eq!(
            SymbolTable::parse("garbage\n\x00\x01", Source::Kallsyms).unwrap_err(),
            SymbolError::NoTextSymbols
        );
    }

    #[test]
    fn bucket_index_matches_a_plain_search() {
        let mut rng = crate::synth::Rng::new(3);
        for n in [1usize, 2, 3, 10, 1000] {
            // Clustered addresses with big gaps, like .text vs .init.text.
            let mut addrs: Vec<u64> = (0..n)
                .map(|_| {
                    let cluster = rng.below(3) << 40;
                    0xffff_0000_0000_0000 + cluster + rng.below(1 << 24)
                })
                .collect();
            addrs.sort_unstable();
            addrs.dedup();
            let text: String = addrs.iter().map(|a| format!("{a:x} T f{a:x}\n")).collect();
            let t = SymbolTable::parse(&text, Source::SystemMap).expect("parses");
            let r = t.resolver("", 0).expect("resolver");
            for _ in 0..2000 {
                let probe = if rng.below(2) == 0 {
                    addrs[rng.below(addrs.len() as u64) as usize] + rng.below(64)
                } else {
                    0xffff_0000_0000_0000 + (rng.below(4) << 40) + rng.below(1 << 25)
                };
                let want = addrs
                    .iter()
                    .rev()
                    .find(|&&a| a <= probe && probe - a <= MAX_SYMBOL_SPAN)
                    .map(|a| format!("f{a:x}"));
                assert_eq!(
                    r.lookup(probe).map(|s| s.name.to_string()),
                    want,
                    "{probe:#x}"
                );
            }
            assert_eq!(r.lookup(0), None);
            assert!(r.lookup(u64::MAX).is_none());
        }
    }

    #[test]
    fn sized_symbols_end_where_they_end() {
        let t = SymbolTable::from_functions([
            (0x1000, "sized".to_string(), true, 0x40),
            (0x2000, "unsized_asm".to_string(), false, 0),
        ]);
        let r = t.resolver("", 0).expect("resolver");
        assert_eq!(
            r.lookup(0x103f).map(|s| s.to_string()).as_deref(),
            Some("sized+0x3f")
        );
        assert_eq!(r.lookup(0x1040), None, "past its size: not in it");
        assert_eq!(
            r.lookup(0x2fff).map(|s| s.to_string()).as_deref(),
            Some("unsized_asm+0xfff")
        );
    }

    #[test]
    fn parse_symbol_text() {
        let s = Sym::parse("test_wait+0x2c/0x50 [test_lockup]").expect("parses");
        assert_eq!(&*s.name, "test_wait");
        assert_eq!(s.offset, 0x2c);
        assert_eq!(s.module.as_deref(), Some("test_lockup"));
        let s = Sym::parse("do_idle+0x1f0/0x2a0").expect("parses");
        assert_eq!((&*s.name, s.offset, s.module), ("do_idle", 0x1f0, None));
        assert_eq!(Sym::parse("0xffffffffc0001000"), None);
        assert_eq!(Sym::parse("foo+0x2c [mod"), None);
        assert_eq!(Sym::parse("+0x2c"), None);
        assert_eq!(Sym::parse("foo+zz"), None);
        assert_eq!(Sym::parse("foo+0x1/zz"), None);
        let (s, size) = Sym::parse_sized("foo+0x10/0x40").expect("parses");
        assert_eq!((s.offset, size), (0x10, Some(0x40)));
    }

    #[test]
    fn fast_lines_parse_as_any_line() {
        let lines = [
            "ffffffff81000000 T foo",
            "ffffffff81000000 t foo.cold",
            "ffffffff81000000 W weak",
            "ffffffff81000000 w weak2",
            "ffffffff81000000 D data",
            "ffffffff81000000 T",
            "ffffffff81000000  T two_spaces",
            "ffffffff81000000\tT tab",
            "+fff T plus",
            "0000000000000000ffff T twenty_digits",
            "10000000000000000 T overflow",
            "ffffffff8100000g T badhex",
            "ffffffff81000000 T ctl\u{1}",
            "ffffffff81000000 T del\u{7f}",
            "ffffffff81000000 T utf8_\u{e9}",
            "ffffffff81000000 T c1_\u{85}",
            "ffffffff81000000 T name [module]",
            "ffffffff81000000 TT long_type",
            "ffffffff81000000 T name trailing ",
            " ffffffff81000000 T leading",
            "1 T one_digit",
            "",
        ];
        for src in [Source::SystemMap, Source::Kallsyms] {
            for l in lines {
                let general = general_line(l, src).filter(|g| g.3.is_none());
                match fast_line(l) {
                    Some(Some((a, r, n))) => {
                        assert_eq!(general, Some((a, r, n, None)), "{l:?}");
                    }
                    Some(None) => assert_eq!(general, None, "{l:?}"),
                    None => {}
                }
            }
        }
    }

    #[test]
    fn name_index_finds_every_name_and_alias() {
        let mut text = String::new();
        for i in 0..5000u64 {
            text.push_str(&format!(
                "{:016x} t fn_{i}\n",
                0xffff_ffff_8100_0000 + i * 64
            ));
        }
        text.push_str("ffffffff82000000 t dup\nffffffff82000100 T dup\nffffffff82000200 t dup\n");
        let t = SymbolTable::parse(&text, Source::SystemMap).expect("parses");
        for i in [0u64, 1, 999, 4321, 4999] {
            let want = 0xffff_ffff_8100_0000 + i * 64;
            assert_eq!(t.address_of(&format!("fn_{i}")), Some(want));
        }
        assert_eq!(t.address_of("fn_5000"), None);
        assert_eq!(t.address_of("fn_"), None);
        let all: Vec<u64> = t.addresses_of("dup").collect();
        assert_eq!(
            all,
            [
                0xffff_ffff_8200_0000,
                0xffff_ffff_8200_0100,
                0xffff_ffff_8200_0200
            ]
        );
        assert_eq!(
            t.address_of("dup"),
            Some(0xffff_ffff_8200_0100),
            "the global one"
        );
    }
}
