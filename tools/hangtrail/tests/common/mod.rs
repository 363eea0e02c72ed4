//! Helpers the CLI's integration tests (`cli.rs`, `views.rs`) share.

use std::process::{Command, Output};

/// Runs the built `hangtrail` binary with `args`.
pub fn hangtrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hangtrail"))
        .args(args)
        .output()
        .expect("runs")
}

/// A run's standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
