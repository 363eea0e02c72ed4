# SPDX-License-Identifier: GPL-2.0
# 1. A real soft lockup (test_lockup, preemption off on CPU 1) panics with
# softlockup_panic=1 and kdump works: the crash kernel reads the trail, and
# sends the start of /proc/vmcore (ELF headers and the merged note segment:
# the NT_PRSTATUS registers crash_save_cpu saved for each CPU), the oracle
# for hangtrail's per-CPU stop contexts.

first() {
	ht_prepare
	ht_kdump_load
	ht_triggered "soft lockup on CPU 1"
	taskset 2 insmod /lib/modules/test_lockup.ko time_secs=15 disable_preempt=1
	ht_wait_forever
}

crash() {
	dd if=/proc/vmcore of=/tmp/vmcore-head bs=4096 count=16 2>/dev/null
	ht_send /tmp/vmcore-head vmcore-head.bin
	ht_collect
}

again() {
	ht_collect "warm reset: the crash kernel was not reached"
}
