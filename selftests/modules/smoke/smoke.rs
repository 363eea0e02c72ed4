// SPDX-License-Identifier: GPL-2.0

//! The guest loop's smoke test: the smallest out-of-tree Rust module.

use kernel::prelude::*;

module! {
    type: Smoke,
    name: "smoke",
    author: "hangtrail developers",
    description: "hangtrail guest-loop smoke test",
    license: "GPL",
}

struct Smoke;

impl kernel::Module for Smoke {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("hangtrail smoke: Rust module loaded\n");
        Ok(Smoke)
    }
}
