// SPDX-License-Identifier: GPL-2.0

//! One module source for both kernel lines it is built for, 6.12 LTS (the
//! self-built kernel, the QEMU guests) and 7.x (Debian's stock kernels).
//! What differs between their `kernel` crates and C APIs, and where each
//! difference is absorbed; nothing else in the module knows the version:
//!
//! - `module!`'s author key is `author: "..."` in 6.12 and `authors: [...]`
//!   in 7.x, and neither accepts the other's. The module gives neither;
//!   [`AUTHOR`] below is the `.modinfo` string both would emit.
//! - `debugfs_create_file()` is a function in 6.12 and a `_Generic` macro in
//!   7.x: Rust calls the C wrapper `hangtrail_debugfs_create_file`
//!   (`helpers.c`), which compiles against either.
//! - The GCC-only C flags libclang rejects: 7.x filters more of them from
//!   bindgen's command line than 6.12 (the list in `Kbuild` is the union).
//! - `module_param!` (`params.rs`) builds `struct kernel_param` from the
//!   target kernel's own headers through bindgen, so the parameter ABI needs
//!   no version switch; 7.x's own `params` key is not used.

const AUTHOR_INFO: &str = "author=hangtrail developers\0";

/// `modinfo`'s author line, as `module!` emits it.
#[link_section = ".modinfo"]
#[used(compiler)]
static AUTHOR: [u8; AUTHOR_INFO.len()] = crate::params::bytes(AUTHOR_INFO);
