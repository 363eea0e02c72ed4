# SPDX-License-Identifier: GPL-2.0
# 3. A CPU that will not stop: CPU 1 spins with interrupts disabled while
# CPU 0 panics. On arm64 without pseudo-NMI the stop IPI is never taken
# ("failed to stop secondary CPUs"); on x86_64 the NMI stop works.

first() {
	ht_prepare
	ht_kdump_load
	# x86_64: the TSC clocksource switch needs every CPU; let it happen first.
	while [ "$(cut -d. -f1 /proc/uptime)" -lt 10 ]; do sleep 1; done
	# Said before CPU 1 masks interrupts: console output through the tty may
	# need an interrupt that CPU 1 then never takes.
	ht_triggered "sysrq crash on CPU 0, CPU 1 spinning with IRQs off"
	taskset 2 insmod /lib/modules/test_lockup.ko time_secs=60 disable_irq=1 &
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
