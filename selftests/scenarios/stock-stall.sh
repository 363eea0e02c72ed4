# SPDX-License-Identifier: GPL-2.0
# stall-reset in a Debian guest: hangtrail loaded at boot (modules-load.d,
# its region from modprobe.d, hangtrail.inject_stall=machine_kexec on the
# command line); sysrq-c hangs in machine_kexec, the crash kernel never
# starts, the runner warm-resets the guest keeping RAM. At the next boot
# hangtrail-save.service keeps the trail under /var/lib/hangtrail/, logs
# its verdict to the journal, releases the trail the load at boot held and
# reloads the module, which records; the runner reads the files and the
# journal off the disk.
# Run by selftests/guest/debian-run.

first() {
	ht_kdump_loaded
	ht_hangtrail_loaded
	ht_triggered "sysrq crash, hangtrail stalls it in machine_kexec"
	echo c > /proc/sysrq-trigger
	sleep 3600
}

again() {
	ht_hangtrail_loaded
	ht_saved
	# The load at boot held the crashed trail (the overwrite guard); the unit
	# saved it, released it and reloaded the module, which now records.
	ht_say "HT-RECORDING $(test -e /sys/kernel/debug/hangtrail/current && echo yes || echo no)"
	ht_end
}
