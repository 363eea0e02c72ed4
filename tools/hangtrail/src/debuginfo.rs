//! `--vmlinux`: `file:line` through addr2line, the instruction at a pc
//! through a yaxpeax disassembler, and the ELF symbol table.

use std::fs::File;
use std::path::Path;

use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};
use yaxpeax_arch::{Decoder, U8Reader};

use crate::format::Arch;
use crate::symbols::SymbolTable;

/// An executable section: where its bytes are in the file.
struct TextSection {
    addr: u64,
    size: u64,
    file_offset: u64,
}

/// A vmlinux opened for line and instruction lookups.
pub struct DebugInfo {
    lines: Option<addr2line::Loader>,
    map: memmap2::Mmap,
    text: Vec<TextSection>,
    /// The ELF's function symbols.
    pub symbols: SymbolTable,
    /// The ELF's architecture, if one hangtrail knows.
    pub arch: Option<Arch>,
}

impl DebugInfo {
    /// Opens and indexes `path`. Errors are one-line messages.
    pub fn open(path: &Path) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        // SAFETY: the mapping is read-only; like every tool that maps an ELF
        // file we assume nobody truncates the vmlinux while we read it.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| e.to_string())?;
        let obj = object::File::parse(&*map).map_err(|e| format!("not an ELF file: {e}"))?;
        let arch = match obj.architecture() {
            object::Architecture::X86_64 => Some(Arch::X86_64),
            object::Architecture::Aarch64 => Some(Arch::Arm64),
            _ => None,
        };
        let mut text = Vec::new();
        for s in obj.sections() {
            if s.kind() != SectionKind::Text {
                continue;
            }
            if let Some((file_offset, size)) = s.file_range() {
                text.push(TextSection {
                    addr: s.address(),
                    size: size.min(s.size()),
                    file_offset,
                });
            }
        }
        // Functions, and untyped symbols in executable sections (assembly
        // entry points such as `cpu_soft_restart`), like addr2line; not the
        // arm64 mapping symbols (`$x`, `$d`) nor local labels.
        let text_sections: Vec<_> = obj
            .sections()
            .filter(|s| s.kind() == SectionKind::Text)
            .map(|s| s.index())
            .collect();
        let funcs = obj
            .symbols()
            .filter(|s| match s.kind() {
                SymbolKind::Text => s.is_definition(),
                SymbolKind::Unknown => s
                    .section_index()
                    .is_some_and(|i| text_sections.contains(&i)),
                _ => false,
            })
            .filter_map(|s| {
                let name = s.name().ok()?;
                if name.starts_with('$') || name.starts_with(".L") {
                    return None;
                }
                Some((s.address(), name.to_string(), s.is_global(), s.size()))
            });
        let symbols = SymbolTable::from_functions(funcs);
        if symbols.is_empty() {
            return Err("no function symbols (stripped vmlinux?)".into());
        }
        // A vmlinux without DWARF still gives symbols and instructions.
        let lines = addr2line::Loader::new(path).ok();
        Ok(Self {
            lines,
            map,
            text,
            symbols,
            arch,
        })
    }

    /// Whether DWARF line information could be loaded.
    pub fn has_lines(&self) -> bool {
        self.lines.is_some()
    }

    /// `file:line` of link-time address `addr`.
    pub fn location(&self, addr: u64) -> Option<String> {
        let loc = self.lines.as_ref()?.find_location(addr).ok()??;
        let file = loc.file?;
        Some(match loc.line {
            Some(line) => format!("{file}:{line}"),
            None => file.to_string(),
        })
    }

    /// The inline chain at link-time address `addr`, innermost first, like
    /// `addr2line -i`: `(function, file:line)` per frame. Empty unless
    /// something is inlined there (fewer than two frames).
    pub fn inline_frames(&self, addr: u64) -> Vec<(Option<String>, Option<String>)> {
        let Some(l) = self.lines.as_ref() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Ok(mut it) = l.find_frames(addr) {
            while let Ok(Some(f)) = it.next() {
                let func = f
                    .function
                    .as_ref()
                    .and_then(|n| n.demangle().ok())
                    .map(|n| n.into_owned());
                let loc = f.location.as_ref().and_then(|loc| {
                    let file = loc.file?;
                    Some(match loc.line {
                        Some(line) => format!("{file}:{line}"),
                        None => file.to_string(),
                    })
                });
                out.push((func, loc));
                if out.len() >= 64 {
                    break;
                }
            }
        }
        if out.len() < 2 {
            out.clear();
        }
        out
    }

    /// The bytes at link-time address `addr` (up to 16), if it is in an
    /// executable section.
    pub fn bytes_at(&self, addr: u64) -> Option<&[u8]> {
        let s = self
            .text
            .iter()
            .find(|s| addr >= s.addr && addr - s.addr < s.size)?;
        let start = usize::try_from(s.file_offset.checked_add(addr - s.addr)?).ok()?;
        let end = usize::try_from(s.file_offset.checked_add(s.size)?).ok()?;
        self.map.get(start..end.min(start.saturating_add(16)))
    }

    /// The instruction at link-time address `addr`, disassembled for `arch`.
    pub fn instruction(&self, arch: Arch, addr: u64) -> Option<String> {
        disassemble(arch, self.bytes_at(addr)?)
    }
}

/// The first instruction in `bytes`, in the disassembler's syntax.
pub fn disassemble(arch: Arch, bytes: &[u8]) -> Option<String> {
    match arch {
        Arch::X86_64 => {
            let decoder = yaxpeax_x86::amd64::InstDecoder::default();
            decoder.decode_slice(bytes).ok().map(|i| i.to_string())
        }
        Arch::Arm64 => {
            let decoder = yaxpeax_arm::armv8::a64::InstDecoder::default();
            let mut reader = U8Reader::new(bytes);
            decoder.decode(&mut reader).ok().map(|i| i.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disassembles_both_arches() {
        // push %rbp
        assert_eq!(
            disassemble(Arch::X86_64, &[0x55]).as_deref(),
            Some("push rbp")
        );
        // stp x29, x30, [sp, #-16]!
        let s = disassemble(Arch::Arm64, &0xa9bf7bfdu32.to_le_bytes()).expect("decodes");
        assert!(s.starts_with("stp x29, x30, [sp"), "{s}");
        assert_eq!(disassemble(Arch::Arm64, &[0xfd, 0x7b]), None, "short input");
        assert_eq!(disassemble(Arch::X86_64, &[]), None);
    }
}
