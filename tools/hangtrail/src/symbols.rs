//! Symbol tables (`/proc/kallsyms`, `System.map`, or a vmlinux symtab) and
//! `pc -> symbol+0xoff` resolution with the KASLR slide undone.

use std::collections::HashMap;
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
    name: Arc<str>,
    module: Option<Arc<str>>,
    /// Lower wins among symbols at the same address: T, t, W, w.
    rank: u8,
    /// Bytes (ELF `st_size`; 0 = unknown, as in kallsyms/System.map).
    size: u64,
}

/// Text symbols, split into vmlinux and module symbols, each sorted by
/// address with one entry per address.
#[derive(Clone, Debug)]
pub struct SymbolTable {
    /// Which kind of file this was.
    pub source: Source,
    kernel: Sorted,
    modules: Sorted,
    /// vmlinux symbol name -> its addresses and ranks (aliases at one
    /// address included).
    names: HashMap<Arc<str>, Vec<(u64, u8)>>,
}

/// Entries sorted by address, one per address, with the addresses alone in
/// their own array and a bucket index over them: a lookup reads one bucket
/// and binary-searches the few addresses in it, instead of ~17 cache-missing
/// steps over 100k symbols.
#[derive(Clone, Debug, Default)]
struct Sorted {
    addrs: Vec<u64>,
    entries: Vec<Entry>,
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
            entries: v,
            base,
            shift,
            buckets,
        }
    }

    /// The entry with the largest address <= `addr`, if close enough.
    fn lookup(&self, addr: u64) -> Option<&Entry> {
        let off = addr.checked_sub(self.base)?;
        let nb = self.buckets.len().checked_sub(1)?;
        let b = usize::try_from(off >> self.shift).unwrap_or(usize::MAX);
        let i = if b >= nb {
            self.addrs.len()
        } else {
            let (lo, hi) = (self.buckets[b] as usize, self.buckets[b + 1] as usize);
            lo + self.addrs[lo..hi].partition_point(|&a| a <= addr)
        };
        let e = self.entries.get(i.checked_sub(1)?)?;
        let span = if e.size > 0 {
            e.size - 1
        } else {
            MAX_SYMBOL_SPAN
        };
        (addr - e.addr <= span).then_some(e)
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

impl SymbolTable {
    /// Parses `addr type name [module]` lines. Lines that do not parse are
    /// skipped; a file with no text symbols is an error.
    pub fn parse(text: &str, source: Source) -> Result<Self, SymbolError> {
        let mut kernel = Vec::new();
        let mut modules = Vec::new();
        let mut nonzero = false;
        for line in text.lines() {
            let mut it = line.split_ascii_whitespace();
            let (Some(addr), Some(ty), Some(name)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let Some(rank) = text_rank(ty) else { continue };
            if line.contains(|c: char| c.is_control() && c != '\t') {
                continue;
            }
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            let module = match it.next() {
                Some(m) if source == Source::Kallsyms => {
                    match m.strip_prefix('[').and_then(|m| m.strip_suffix(']')) {
                        Some(m) if !m.is_empty() => Some(Arc::from(m)),
                        _ => continue,
                    }
                }
                _ => None,
            };
            nonzero |= addr != 0;
            let e = Entry {
                addr,
                name: name.into(),
                module: module.clone(),
                rank,
                size: 0,
            };
            if module.is_some() {
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
        Ok(Self::from_entries(source, kernel, modules))
    }

    fn from_entries(source: Source, kernel: Vec<Entry>, modules: Vec<Entry>) -> Self {
        let mut names: HashMap<Arc<str>, Vec<(u64, u8)>> = HashMap::new();
        for e in &kernel {
            names
                .entry(e.name.clone())
                .or_default()
                .push((e.addr, e.rank));
        }
        Self {
            source,
            kernel: Sorted::new(kernel),
            modules: Sorted::new(modules),
            names,
        }
    }

    /// Every address of vmlinux text symbol `name`.
    pub fn addresses_of(&self, name: &str) -> impl Iterator<Item = u64> + '_ {
        self.names
            .get(name)
            .into_iter()
            .flat_map(|v| v.iter().map(|&(a, _)| a))
    }

    /// A table from `(address, name, global, size)` text symbols (a vmlinux
    /// symtab; size 0 = unknown). A pc past a sized symbol's end does not
    /// resolve to it.
    pub fn from_functions(syms: impl IntoIterator<Item = (u64, String, bool, u64)>) -> Self {
        let kernel = syms
            .into_iter()
            .filter(|(addr, name, _, _)| *addr != 0 && !name.is_empty())
            .map(|(addr, name, global, size)| Entry {
                addr,
                name: name.into(),
                module: None,
                rank: if global { 0 } else { 1 },
                size,
            })
            .collect();
        Self::from_entries(Source::Vmlinux, kernel, Vec::new())
    }

    /// `(address, name)` of every vmlinux text symbol, by address.
    pub fn functions(&self) -> impl Iterator<Item = (u64, &str)> {
        self.kernel.entries.iter().map(|e| (e.addr, &*e.name))
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
        let v = self.names.get(name)?;
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
        let e = match (k, m) {
            (Some(k), Some(m)) => {
                if m.addr > k.addr {
                    m
                } else {
                    k
                }
            }
            (k, m) => k.or(m)?,
        };
        Some(Sym {
            name: e.name.clone(),
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
}
