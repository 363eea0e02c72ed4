//! Userspace decoder for hangtrail regions.
//!
//! A region (a copy of `/sys/kernel/debug/hangtrail/previous`, or of the
//! reserved memory) is turned into a [`decode::Decoded`] model by
//! [`decode::decode`]; [`render`] prints it as text or JSON, [`trace_event`]
//! and [`svg`] draw it ([`output`] writes those files). The region layout
//! itself lives in [`format`], shared with the kernel module. [`save`] keeps
//! the previous boot's trail on disk and logs its verdict ([`journal`];
//! [`kmsg`] reads the module's own verdict line from the kernel log).

// Formatted with the kernel's rustfmt settings, not this crate's: keep
// `cargo fmt` out of it.
#[rustfmt::skip]
#[path = "../../../rust/format.rs"]
pub mod format;

// The verdict core shared with the module: the decoder's verdict is this
// code's, plus names.
#[rustfmt::skip]
#[path = "../../../rust/verdict.rs"]
pub mod verdict_core;

pub mod debuginfo;
pub mod decode;
pub mod input;
pub mod journal;
pub mod kmsg;
pub mod output;
mod prefetch;
pub mod render;
pub mod save;
pub mod setup;
pub mod svg;
pub mod symbols;
/// Test-only generators (tests, examples, fuzzer): not part of the shipped
/// library, compiled only with the `synth` feature (which the crate's own
/// dev-dependency on itself turns on) or for unit tests.
#[cfg(any(test, feature = "synth"))]
pub mod synth;
pub mod trace_event;
pub mod verdict;

pub use decode::{decode, Decoded, Error};
