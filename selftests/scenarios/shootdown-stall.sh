# SPDX-License-Identifier: GPL-2.0
# x86_64: the crash CPU hangs after the NMI shootdown returned, in the
# LAPIC shutdown native_machine_crash_shutdown runs next (inject_stall on
# lapic_shutdown), while CPU 1 was stopped by the NMI and ran
# crash_save_cpu. The runner warm-resets the guest; the next boot finds the
# trail.

first() {
	ht_prepare
	ht_kdump_load
	ht_triggered "sysrq crash on CPU 0, stall after the NMI shootdown"
	echo c > /proc/sysrq-trigger
	ht_wait_forever
}

again() {
	ht_collect
}

crash() {
	ht_collect "the crash kernel was reached: the stall did not happen"
}
