# SPDX-License-Identifier: GPL-2.0
# A panic with no crash kernel loaded (the most common reason for "no
# vmcore"), panic=1: __crash_kexec finds no image, the panic notifiers run
# and after 1 s the kernel reboots itself (emergency_restart), a warm reset
# that keeps RAM. The next boot finds the trail.

first() {
	ht_prepare
	[ "$(cat /sys/kernel/kexec_crash_loaded)" = 0 ] || ht_fail "a crash kernel is loaded"
	ht_triggered "sysrq crash on CPU 0, no crash kernel, panic=1"
	echo c > /proc/sysrq-trigger
	ht_wait_forever
}

again() {
	ht_collect
}

crash() {
	ht_fail "a crash kernel boot: none was loaded"
}
