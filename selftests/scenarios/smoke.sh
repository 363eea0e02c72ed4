# SPDX-License-Identifier: GPL-2.0
# Smoke: proves the guest loop. A trivial out-of-tree Rust module loads; a
# value written to the reserved control page survives a warm reset; kdump
# reaches the crash kernel.

first() {
	insmod /lib/modules/smoke.ko || ht_fail "insmod smoke.ko"
	ht_control_write 1 "$HT_PATTERN"
	echo "HT-RESET-ME"
	ht_wait_forever
}

again() {
	echo "HT-PATTERN $(ht_control_read 1)"
	ht_control_write 1 0
	ht_kdump_load
	ht_triggered sysrq-c
	echo c > /proc/sysrq-trigger
	ht_wait_forever
}

crash() {
	echo "HT-CRASH-KERNEL $(uname -r) vmcore=$(stat -c %s /proc/vmcore)"
	ht_end
}
