//! A real-size `System.map` for the benchmark: what a distribution x86_64
//! 6.12 kernel's looks like, not 100k `fn_<i>` lines.
//!
//! Every function has its `__pfx_` padding symbol 16 bytes before it
//! (`CONFIG_CALL_PADDING`), names are built from kernel-like words (with
//! duplicates among local symbols, `.cold`/`.isra.0`/`.constprop.0`
//! clones, weak symbols), data, rodata, bss and absolute symbols are mixed
//! in, and the crash-path functions hangtrail probes are somewhere in the
//! middle. [`KernelMap::generate`] with 120,000 functions gives ~255,000
//! lines (~240,000 text symbols, 10 MB), the size of a Debian 6.12 kernel's.

use super::Rng;

/// Functions the benchmark's trail needs by name (the built-in plan's
/// points and the crash path).
pub const NAMED: &[&str] = &[
    "panic",
    "__crash_kexec",
    "native_machine_crash_shutdown",
    "nmi_shootdown_cpus",
    "crash_save_cpu",
    "machine_kexec",
    "kdump_nmi_callback",
    "watchdog_timer_fn",
    "softlockup_fn",
    "add_taint",
    "kernel_restart",
    "emergency_restart",
    "kernel_power_off",
    "kernel_kexec",
    "nmi_trigger_cpumask_backtrace",
    "queued_spin_lock_slowpath",
    "do_idle",
    "ksys_sync",
    "sysrq_handle_crash",
];

const SUBSYS: &[&str] = &[
    "ext4",
    "btrfs",
    "xfs",
    "nfs",
    "tcp",
    "udp",
    "ip6",
    "inet",
    "sock",
    "skb",
    "netif",
    "nf",
    "bridge",
    "vlan",
    "mm",
    "page",
    "folio",
    "vma",
    "kmem",
    "slab",
    "sched",
    "rcu",
    "irq",
    "kvm",
    "drm",
    "i915",
    "amdgpu",
    "nvme",
    "blk",
    "scsi",
    "ata",
    "usb",
    "pci",
    "acpi",
    "cgroup",
    "bpf",
    "perf",
    "trace",
    "ftrace",
    "kprobe",
    "crypto",
    "sysfs",
    "debugfs",
    "proc",
    "tty",
    "serial",
    "virtio",
    "dma",
    "iommu",
    "x86",
    "cpu",
    "timer",
    "hrtimer",
    "clock",
    "workqueue",
    "kthread",
    "mutex",
    "rwsem",
    "futex",
    "signal",
    "dentry",
    "inode",
    "vfs",
    "pipe",
    "epoll",
    "io_uring",
    "audit",
    "security",
    "selinux",
    "apparmor",
    "netlink",
    "dev",
    "xhci",
    "snd",
    "hid",
    "input",
];

const VERB: &[&str] = &[
    "init", "exit", "alloc", "free", "get", "put", "read", "write", "open", "release", "start",
    "stop", "handle", "process", "submit", "complete", "queue", "update", "lookup", "insert",
    "remove", "flush", "sync", "map", "unmap", "attach", "detach", "probe", "reset", "enable",
    "disable", "show", "store", "commit", "prepare", "check", "validate", "parse", "copy", "move",
    "merge", "split", "lock", "unlock", "wait", "wake", "notify", "register",
];

const NOUN: &[&str] = &[
    "page", "buffer", "request", "entry", "node", "table", "state", "ctx", "work", "event", "msg",
    "data", "range", "cache", "pool", "list", "tree", "ops", "desc", "mask", "info", "bio", "sg",
    "rq", "fd", "vec", "slot", "chunk", "extent", "block", "fence", "ring",
];

const CLONES: &[&str] = &[".cold", ".isra.0", ".constprop.0", ".part.0"];

/// A generated kernel image's symbols.
pub struct KernelMap {
    /// `(link address, name)` of every function (not the `__pfx_` ones),
    /// by address.
    pub funcs: Vec<(u64, String)>,
    /// The `System.map` text.
    pub system_map: String,
    /// Text symbols in it (`__pfx_` included).
    pub text_symbols: usize,
    /// Lines in it.
    pub lines: usize,
}

impl KernelMap {
    /// `functions` functions from `base` (x86_64 `_text`), every name in
    /// [`NAMED`] among them once, from `seed`.
    pub fn generate(base: u64, functions: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let pick =
            |rng: &mut Rng, words: &[&'static str]| words[rng.below(words.len() as u64) as usize];
        let mut named: Vec<usize> = (0..NAMED.len())
            .map(|i| (i + 1) * functions / (NAMED.len() + 2))
            .collect();
        named.reverse();
        let mut funcs = Vec::with_capacity(functions);
        let mut text = String::with_capacity(functions * 2 * 44);
        let mut data_lines = Vec::new();
        let mut text_symbols = 0;
        let mut lines = 0;
        let line = |text: &mut String, addr: u64, ty: char, name: &str| {
            use std::fmt::Write;
            let _ = writeln!(text, "{addr:016x} {ty} {name}");
        };
        line(&mut text, base, 'T', "_text");
        line(&mut text, base, 'T', "_stext");
        lines += 2;
        text_symbols += 2;
        let mut addr = base + 0x1000;
        for i in 0..functions {
            let name = if named.last() == Some(&i) {
                named.pop();
                NAMED[NAMED.len() - 1 - named.len()].to_string()
            } else {
                let mut n = String::with_capacity(40);
                match rng.below(10) {
                    0 => n.push_str("__"),
                    1 => n.push_str("__x64_sys_"),
                    _ => {}
                }
                n.push_str(pick(&mut rng, SUBSYS));
                n.push('_');
                n.push_str(pick(&mut rng, VERB));
                n.push('_');
                n.push_str(pick(&mut rng, NOUN));
                if rng.below(4) == 0 {
                    n.push('_');
                    n.push_str(pick(&mut rng, NOUN));
                }
                if rng.below(12) == 0 {
                    n.push_str(pick(&mut rng, CLONES));
                }
                n
            };
            // Globals, locals and a few weak symbols, as in a real map.
            let ty = match rng.below(16) {
                0 => 'W',
                1..=7 => 't',
                _ => 'T',
            };
            let pfx = format!("__pfx_{name}");
            line(&mut text, addr, if ty == 'W' { 'T' } else { ty }, &pfx);
            line(&mut text, addr + 16, ty, &name);
            lines += 2;
            text_symbols += 2;
            funcs.push((addr + 16, name));
            // Sizes of 32 bytes to a few KiB, mostly small, 16-aligned.
            let size = match rng.below(8) {
                0 => 1024 + rng.below(6144),
                1..=2 => 256 + rng.below(768),
                _ => 32 + rng.below(224),
            };
            addr += 16 + ((size + 15) & !15);
            // Data symbols: one for every ~3.5 functions.
            if rng.below(7) < 2 {
                let ty = ['d', 'D', 'b', 'B', 'r', 'R'][rng.below(6) as usize];
                data_lines.push((
                    ty,
                    format!("{}_{}", pick(&mut rng, SUBSYS), pick(&mut rng, NOUN)),
                ));
            }
        }
        line(&mut text, addr, 'T', "_etext");
        lines += 1;
        text_symbols += 1;
        // Data after the text, page-aligned, then a few absolute symbols.
        let mut daddr = (addr + 0x20_0000) & !0x1f_ffff;
        for (ty, name) in &data_lines {
            line(&mut text, daddr, *ty, name);
            daddr += 8 << rng.below(6);
            lines += 1;
        }
        for (i, name) in ["__per_cpu_start", "__per_cpu_end", "__init_begin"]
            .iter()
            .enumerate()
        {
            line(&mut text, i as u64 * 0x4000, 'A', name);
            lines += 1;
        }
        Self {
            funcs,
            system_map: text,
            text_symbols,
            lines,
        }
    }

    /// Link address of function `name` (the first one of that name).
    pub fn addr(&self, name: &str) -> u64 {
        self.funcs
            .iter()
            .find(|(_, n)| n == name)
            .map(|(a, _)| *a)
            .unwrap_or_else(|| panic!("generated symbol {name} not defined"))
    }

    /// Size of function `i` (up to the next one's `__pfx_`).
    pub fn size(&self, i: usize) -> u64 {
        match self.funcs.get(i + 1) {
            Some(&(next, _)) => next - 16 - self.funcs[i].0,
            None => 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbols::{Source, SymbolTable};

    #[test]
    fn real_size_and_parses() {
        let m = KernelMap::generate(0xffff_ffff_8100_0000, 120_000, 1);
        assert!(m.lines > 250_000, "{} lines", m.lines);
        let t = SymbolTable::parse(&m.system_map, Source::SystemMap).expect("parses");
        assert!(t.len() > 200_000, "{} text symbols", t.len());
        for n in NAMED {
            assert_eq!(t.address_of(n), Some(m.addr(n)), "{n}");
        }
        let (a, n) = &m.funcs[777];
        let r = t.resolver("", 0).expect("resolver");
        let s = r.lookup(a + 5).expect("resolves");
        assert_eq!((&*s.name, s.offset), (n.as_str(), 5));
    }
}
