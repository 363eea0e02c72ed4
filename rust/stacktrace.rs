// SPDX-License-Identifier: GPL-2.0

//! Caller frames from the kernel's own unwinder.
//!
//! `stack_trace_save` (exported; `stack_trace_save_regs` is not) walks up
//! from the handler that calls it, through everything the kernel crossed to
//! get there: the kprobe (int3, ftrace or BRK) entry, the hrtimer, the IRQ or
//! NMI entry and the switch from the IRQ/NMI stack back to the task stack.
//! It uses whatever unwinder the kernel has: ORC or frame pointers on x86_64,
//! frame records on arm64 (whose unwinder strips PAC from return addresses
//! itself). Where the walk crosses an exception boundary it reports the pc
//! saved in the entry's `pt_regs`, so a context interrupted at `pc` shows up
//! as `pc` itself followed by its callers: `callers_of(pc)` skips everything
//! before it (hangtrail, kprobes, hrtimer, IRQ entry).
//!
//! On arm64 a leaf function that did not push a frame record leaves its
//! caller out of the walk (the return address is only in x30): the first
//! frame is then its caller's caller. On an ORC kernel the walk from a
//! kprobe handler stops at an *optimized* kprobe's trampoline (no ORC data
//! for it): it crosses int3 and ftrace-based kprobes (a function's entry on
//! a kernel with ftrace, as `add_taint`), IRQ and NMI entries.

use crate::bindings;

/// Entries of one walk, kept on the handler's stack (320 bytes): enough for
/// hangtrail, kprobes, the hrtimer and IRQ entry, and a few callers.
const DEPTH: usize = 40;

/// One walk of the current stack, from the caller of `here`.
pub(crate) struct Walk {
    entries: [usize; DEPTH],
    len: usize,
}

impl Walk {
    /// Walks the stack now. Safe in any context, NMI included (it is what
    /// the kernel's own backtraces use there); allocates nothing.
    pub(crate) fn here() -> Self {
        let mut w = Self {
            entries: [0; DEPTH],
            len: 0,
        };
        // SAFETY: stores at most `DEPTH` entries into `w.entries`.
        let n = unsafe { bindings::stack_trace_save(w.entries.as_mut_ptr(), DEPTH as u32, 0) };
        w.len = (n as usize).min(DEPTH);
        w
    }

    /// Every address the walk found, nearest first.
    pub(crate) fn entries(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries[..self.len].iter().map(|&a| a as u64)
    }

    /// The callers of the context interrupted at `pc`: the return addresses
    /// after the first `pc` in the walk, nearest first. Empty when the walk
    /// did not reach that context (an unwinder that stopped early).
    pub(crate) fn callers_of(&self, pc: u64) -> impl Iterator<Item = u64> + '_ {
        let start = self
            .entries()
            .position(|a| a == pc)
            .map_or(self.len, |i| i + 1);
        self.entries[start..self.len].iter().map(|&a| a as u64)
    }
}
