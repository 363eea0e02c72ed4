# SPDX-License-Identifier: GPL-2.0
# 2. A hang inside the crash path (inject_stall, machine_kexec by default):
# the crash kernel never starts; the runner warm-resets the guest keeping
# RAM, and the normal kernel finds the trail. post-notifiers and
# shootdown-stall run this script too, with other parameters (htvm.py).

first() {
	ht_sysrq_crash_kdump
}

again() {
	ht_collect
}

crash() {
	ht_collect "the crash kernel was reached: the stall did not happen"
}
