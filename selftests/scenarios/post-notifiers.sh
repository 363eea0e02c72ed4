# SPDX-License-Identifier: GPL-2.0
# crash_kexec_post_notifiers on the command line: panic stops the other CPUs
# and runs the panic notifiers before __crash_kexec. A stall in
# machine_kexec (inject_stall) as in stall-reset: the crash kernel never
# starts; the runner warm-resets the guest and the next boot finds the trail.

first() {
	ht_prepare
	ht_kdump_load
	ht_triggered "sysrq crash on CPU 0, crash_kexec_post_notifiers"
	echo c > /proc/sysrq-trigger
	ht_wait_forever
}

again() {
	ht_collect
}

crash() {
	ht_collect "the crash kernel was reached: the stall did not happen"
}
