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
	if [ -f /etc/modprobe.d/hangtrail.conf ]; then
		inst_simple /etc/modprobe.d/hangtrail.conf
	else
		dwarn "hangtrail: /etc/modprobe.d/hangtrail.conf missing: hangtrail needs mem_address= and mem_size= in the crash kernel"
	fi
	inst_hook pre-udev 00 "$moddir/hangtrail-load.sh"
}
