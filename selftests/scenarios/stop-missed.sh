# SPDX-License-Identifier: GPL-2.0
# x86_64: a CPU whose stop handler kprobes skip. CPU 1 spins with interrupts
# masked inside a hangtrail handler (inject_stall on ksys_sync, run by
# `sync` on CPU 1) when CPU 0 panics: the shootdown NMI still stops CPU 1,
# but kprobes do not re-enter a running handler, so its kdump_nmi_callback
# and crash_save_cpu hits are missed (nmissed). The stop map must count it
# as unknown, not stale. kdump works: the crash kernel reads the trail.

first() {
	ht_prepare
	ht_kdump_load
	# The TSC clocksource switch needs every CPU; let it happen first.
	while [ "$(cut -d. -f1 /proc/uptime)" -lt 10 ]; do sleep 1; done
	ht_triggered "sysrq crash on CPU 0, CPU 1 stalled inside a kprobe handler"
	taskset 2 sync &
	sleep 3
	echo c > /proc/sysrq-trigger
	ht_wait_forever
}

crash() {
	ht_collect
}

again() {
	ht_collect "warm reset: the crash kernel was not reached"
}
