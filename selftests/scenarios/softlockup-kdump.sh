# SPDX-License-Identifier: GPL-2.0
# 1. A real soft lockup (test_lockup, preemption off on CPU 1) panics with
# softlockup_panic=1 and kdump works: the crash kernel reads the trail.

first() {
	ht_prepare
	ht_kdump_load
	ht_triggered "soft lockup on CPU 1"
	taskset 2 insmod /lib/modules/test_lockup.ko time_secs=15 disable_preempt=1
	ht_wait_forever
}

crash() {
	ht_collect
}

again() {
	ht_collect "warm reset: the crash kernel was not reached"
}
