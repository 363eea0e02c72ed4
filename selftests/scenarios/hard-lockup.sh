# SPDX-License-Identifier: GPL-2.0
# A hard lockup: CPU 1 spins with interrupts masked (test_lockup
# disable_irq=1) and the buddy hard-lockup detector (watchdog_thresh=3, no
# panic) reports it from CPU 0 and asks CPU 1 for a backtrace, by NMI where
# one reaches it. First a sysrq-l backtrace of every CPU, which must not read
# as a hard lockup. Once the detector is done, a warm reset while CPU 1 still
# spins (under TCG its delay loop runs far longer than asked): the next boot
# reads the trail.

first() {
	ht_prepare
	# x86_64: the TSC clocksource switch needs every CPU; let it happen first.
	while [ "$(cut -d. -f1 /proc/uptime)" -lt 10 ]; do sleep 1; done
	echo l > /proc/sysrq-trigger
	sleep 1
	dmesg -c >/dev/null
	ht_triggered "CPU 1 spins with IRQs off"
	taskset 2 insmod /lib/modules/test_lockup.ko time_secs=600 disable_irq=1 &
	# Said through printk from here: the tty may need CPU 1.
	i=0
	while [ $i -lt 120 ] && ! dmesg | grep -q 'hard LOCKUP on cpu 1'; do
		sleep 1; i=$((i + 1))
	done
	# The backtrace request: answered by NMI, or (arm64 without pseudo-NMI)
	# given up by the detector after 10 s.
	sleep 12
	echo "HT-RESET-ME" > /dev/kmsg
	ht_wait_forever
}

again() {
	ht_collect
}

crash() {
	ht_fail "a crash kernel boot: none was loaded"
}
