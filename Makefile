# SPDX-License-Identifier: GPL-2.0
#
#   make [KDIR=<kernel build dir>] [LLVM=1]    build hangtrail.ko
#   make demo                                  the arm64 stall-and-reset demo
#   make check                                 everything CI runs
#
# The module builds against any Rust-enabled kernel build dir; the demo and
# tests build their own 6.12 guest kernels (scripts/build-kernel).

KDIR ?= /lib/modules/$(shell uname -r)/build
LLVM ?= 1
RUSTC ?= /usr/bin/rustc
export PATH := /usr/lib/llvm-19/bin:$(HOME)/.cargo/bin:$(PATH)

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM) RUSTC=$(RUSTC) modules

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM) RUSTC=$(RUSTC) clean
	rm -f rust/bindings_generated.rs

demo:
	scripts/demo

check:
	scripts/check

.PHONY: modules clean demo check
