# SPDX-License-Identifier: GPL-2.0
# Shared by the scripts in this directory: paths, logging, toolchain environment.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Heavy builds (guest kernels, initramfs inputs) live outside the repo, keyed
# by what they depend on, so a fresh clone reuses them.
CACHE=${HANGTRAIL_CACHE:-/var/cache/hangtrail}
mkdir -p "$CACHE"

export HOME=${HOME:-/root}
export PATH=/usr/lib/llvm-19/bin:$HOME/.cargo/bin:$PATH

log() { printf 'hangtrail: %s\n' "$*" >&2; }
die() { printf 'hangtrail: error: %s\n' "$*" >&2; exit 1; }

# Guest kernel names: an arch (x86_64, arm64), or ARCH-VARIANT, the arch's
# kernel with selftests/kconfig/ARCH-VARIANT.config on top (arm64-pnmi:
# pseudo-NMI). Prints the kernel ARCH value of a name.
kernel_arch() {
	case "$1" in
	x86_64|arm64) echo "$1" ;;
	x86_64-*|arm64-*)
		[ -f "$TOP/selftests/kconfig/$1.config" ] ||
			die "unknown kernel variant '$1' (no selftests/kconfig/$1.config)"
		echo "${1%%-*}" ;;
	*) die "unknown arch '$1' (x86_64, arm64, or ARCH-VARIANT)" ;;
	esac
}

# The unpacked linux-source-6.12 tree, one per package version, shared by
# every build (guest kernels, host kernels, both arches); unpacked once under
# a lock. Prints its path. Builds use it read-only, out of tree (O=).
kernel_source() {
	local tarball=/usr/src/linux-source-6.12.tar.xz srcver src
	[ -f "$tarball" ] || die "$tarball missing: run scripts/install-deps"
	srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	src=$CACHE/src/linux-$srcver
	mkdir -p "$CACHE/src"
	(
		flock 9
		if [ ! -f "$src/.done" ]; then
			log "unpacking linux-source $srcver"
			rm -rf "$src" && mkdir -p "$src"
			tar -xf "$tarball" -C "$src" --strip-components=1
			touch "$src/.done"
		fi
	) 9>"$CACHE/src/.lock"
	echo "$src"
}

# The config fragments of a kernel name, base first: a later one wins.
kernel_frags() {
	local arch
	arch=$(kernel_arch "$1") || exit 1
	echo "$TOP/selftests/kconfig/common.config"
	echo "$TOP/selftests/kconfig/$arch.config"
	[ "$1" = "$arch" ] || echo "$TOP/selftests/kconfig/$1.config"
}

# Cache dir prefix of a kernel name: a variant's is ARCH_VARIANT, so that an
# ARCH-* glob never takes it for a build of the plain arch.
kernel_cache_name() {
	echo "${1//-/_}"
}
