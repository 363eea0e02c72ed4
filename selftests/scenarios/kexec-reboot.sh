# SPDX-License-Identifier: GPL-2.0
# A normal `kexec -e` reboot into the same kernel while hangtrail records:
# kernel_kexec, then machine_kexec with the default (not the crash) image.
# The new kernel boots this run's initramfs again and finds the trail.

first() {
	ht_prepare
	kexec -l -s /kernel --initrd=/crash.cpio --reuse-cmdline || ht_fail "kexec -l failed"
	echo "HT-KEXEC-LOADED $(cat /sys/kernel/kexec_loaded)"
	ht_triggered "kexec -e"
	kexec -e
	ht_fail "kexec -e returned"
}

again() {
	ht_collect
}

crash() {
	ht_fail "a crash kernel boot: kexec -e should boot a normal kernel"
}
