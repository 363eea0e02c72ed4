# SPDX-License-Identifier: GPL-2.0
#
#   make [KDIR=<kernel build dir>]     build hangtrail.ko (default: the running kernel)
#   make sign [KEY=... CERT=...]       sign it (default: KDIR's own certs/signing_key.*)
#   make install [DESTDIR=] [KDIR=] [ARCH=] [CLI=] [KO=]
#                                      the module, the CLI, the boot unit and the
#                                      kdump initramfs hooks (scripts/install)
#   make install-dkms [DESTDIR=]       the same with the module's sources for DKMS
#   make dkms-modules [KDIR=]          what DKMS runs: make, with the Rust metadata
#                                      a distribution kernel's headers lack
#                                      (scripts/rust-metadata)
#   make deb [DEB_ARCH="amd64 arm64"]  the Debian packages hangtrail-dkms and
#                                      hangtrail, into deb/ (scripts/deb), and
#                                      on amd64 hangtrail-rust-metadata-RELEASE
#                                      for the stock trixie-backports kernel
#                                      (scripts/stock-kernel); installs what it
#                                      needs first (scripts/build-deps)
#   make demo                          the arm64 stall-and-reset demo
#   make check                         everything CI runs
#
# KDIR is a Rust-enabled kernel's build dir or installed headers package
# (/lib/modules/$(uname -r)/build). The compiler (LLVM=... or CC=...), rustc
# and bindgen follow that kernel's own configuration (scripts/kernel-toolchain
# reads them from KDIR/include/config/auto.conf); set LLVM=, CC=, RUSTC= or
# BINDGEN= to override. The demo and tests build their own 6.12 guest kernels
# (scripts/build-kernel).

KDIR ?= /lib/modules/$(shell uname -r)/build
KEY ?= $(KDIR)/certs/signing_key.pem
CERT ?= $(KDIR)/certs/signing_key.x509

# Evaluated in the recipes only: demo and check need no KDIR.
kbuild = +tc=$$(scripts/kernel-toolchain $(KDIR)) && $(MAKE) -C $(KDIR) M=$(CURDIR) $$tc

modules:
	$(kbuild) modules

# DKMS's build (dist/dkms.conf): KDIR's headers, or for a distribution
# kernel whose headers lack the Rust metadata, the build dir
# scripts/rust-metadata makes from its source package.
dkms-modules:
	+kdir=$$(scripts/rust-metadata $(KDIR)) && $(MAKE) KDIR="$$kdir" modules

clean:
	$(kbuild) clean
	rm -f rust/bindings_generated.rs

sign: modules
	scripts/sign-module $(KDIR) $(KEY) $(CERT) hangtrail.ko

deb:
	scripts/build-deps
	+out=$$(scripts/deb $(DEB_ARCH)) && mkdir -p deb && cp "$$out"/*.deb deb/
	+if [ "$$(dpkg --print-architecture)" = amd64 ] && echo " $(or $(DEB_ARCH),amd64) " | grep -q ' amd64 '; then \
		st=$$(scripts/stock-kernel x86_64 | tail -n 1) && cp "$$st"/hangtrail-rust-metadata-*.deb deb/; fi
	ls deb/*.deb

demo:
	scripts/demo

check:
	scripts/check

check-host-kernel:
	scripts/check-host-kernel

bench:
	scripts/bench

# The variables reach scripts/install through the environment.
install:
	DESTDIR="$(DESTDIR)" KDIR="$(KDIR)" ARCH="$(ARCH)" CLI="$(CLI)" KO="$(KO)" scripts/install

install-dkms:
	DESTDIR="$(DESTDIR)" ARCH="$(ARCH)" CLI="$(CLI)" scripts/install --dkms

.PHONY: modules dkms-modules clean sign deb demo check check-host-kernel bench install install-dkms
