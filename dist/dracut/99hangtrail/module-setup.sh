#!/bin/bash
# dracut module: hangtrail.ko and its options in the kdump initramfs of
# RHEL/Fedora kdump (kdump-utils' mkdumprd exports IN_KDUMP=1 around dracut,
# as its kdumpbase module checks). Not in other initramfs images unless
# asked for (`dracut --add hangtrail`).

check() {
	[ "${IN_KDUMP:-}" = 1 ] && return 0
	return 255
}

depends() {
	return 0
}

installkernel() {
	hostonly='' instmods hangtrail
}

install() {
	local f found=
	# The modprobe.d files that set hangtrail's options.
	for f in /etc/modprobe.d/*.conf; do
		if grep -qs '^[[:space:]]*options[[:space:]][[:space:]]*hangtrail[[:space:]]' "$f"; then
			inst_simple "$f"
			found=1
		fi
	done
	[ -n "$found" ] ||
		dwarn "hangtrail: no 'options hangtrail' in /etc/modprobe.d/*.conf: the crash kernel cannot load it without mem_address= and mem_size="
	inst_hook pre-udev 00 "$moddir/hangtrail-load.sh"
}
