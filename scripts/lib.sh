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

# Guest kernel names: x86_64, arm64 (the kernel's ARCH value). Prints it.
kernel_arch() {
	case "$1" in
	x86_64|arm64) echo "$1" ;;
	*) die "unknown arch '$1' (x86_64 or arm64)" ;;
	esac
}

# hangtrail.ko's sources, relative to $TOP, one per line: what a module
# build, its cache keys and the DKMS tree take. Not what an in-tree build
# leaves beside them (rust/bindings_generated.rs, objects): a `make` in the
# checkout must not change a key.
module_sources() {
	(cd "$TOP" && for f in Kbuild Makefile rust/*.rs rust/*.c rust/*.h rust/bindgen_parameters; do
		[ "$f" = rust/bindings_generated.rs ] || echo "$f"
	done)
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

# The config fragments of a guest kernel, base first: a later one wins.
kernel_frags() {
	local arch
	arch=$(kernel_arch "$1") || exit 1
	echo "$TOP/selftests/kconfig/common.config"
	echo "$TOP/selftests/kconfig/$arch.config"
}

# Runs a command in a chroot of $1 with /proc, /sys and /dev mounted in a
# private mount namespace (nothing stays mounted on the host).
in_chroot() {
	local root=$1
	shift
	unshare --mount --propagation private -- sh -ec '
		r=$1; shift
		mount -t proc proc "$r/proc"
		mount -t sysfs sys "$r/sys"
		mount --rbind /dev "$r/dev"
		exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
			LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' sh "$root" "$@"
}

# The URI of the host's Debian archive: the one its bookworm apt source names
# (deb822 or one-line form). Other suites (trixie, trixie-backports) come
# from the same archive.
debian_mirror() {
	local uri
	uri=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1)
	[ -n "$uri" ] || uri=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) bookworm .*/\2/p' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1)
	[ -n "$uri" ] || die "no Debian apt source on this host to take the archive's address from"
	echo "$uri"
}
