# SPDX-License-Identifier: GPL-2.0
# 5. The soft lockup report itself hangs (as in the reports stuck in
# console_unlock): inject_stall on print_modules, which the report runs
# before it taints and panics. No soft lockup record, no panic: only the
# watchdog samples show CPU 1 stuck in the delay loop.

first() {
	ht_prepare
	ht_triggered "soft lockup on CPU 1, report stalls in print_modules"
	taskset 2 insmod /lib/modules/test_lockup.ko time_secs=30 disable_preempt=1
	ht_wait_forever
}

again() {
	ht_collect
}

crash() {
	ht_fail "a crash kernel boot: none was loaded"
}
