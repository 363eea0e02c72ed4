# SPDX-License-Identifier: GPL-2.0
# A Debian guest's own kdump, then a hang on the same machine. Boot 1:
# kdump-tools' service loaded the crash kernel at boot; sysrq-c. In the
# crash kernel hangtrail.ko, loaded from kdump-tools' initramfs, marks the
# trail "crash kernel reached", hangtrail-save.service keeps it (it runs
# before kdump-tools-dump.service) and kdump-tools-dump.service saves the
# vmcore under /var/crash and reboots. Boot 2 finds the trail kept, then
# reloads hangtrail.ko with inject_stall=machine_kexec (modprobe adds it
# to the modprobe.d options) and crashes again: the crash path hangs in
# machine_kexec, the runner warm-resets the guest keeping RAM. Boot 3:
# hangtrail-save.service keeps that trail, logs its verdict, releases it and
# reloads the module. The runner reads the disk afterwards.
# Run by selftests/guest/debian-run.

first() {
	ht_kdump_loaded
	ht_hangtrail_loaded
	ht_triggered "sysrq crash"
	echo c > /proc/sysrq-trigger
	sleep 3600
}

again() {
	if [ -e "$state/stalled" ]; then
		stalled
	fi
	ht_hangtrail_loaded
	ht_saved
	for f in /var/crash/*/*; do
		[ -f "$f" ] && ht_say "HT-CRASH-FILE ${f#/var/crash/} $(stat -c %s "$f")"
	done
	# The crash kernel is loaded again at this boot (kdump-tools.service).
	ht_kdump_loaded
	modprobe -r hangtrail || ht_fail "modprobe -r hangtrail"
	modprobe hangtrail inject_stall=machine_kexec || ht_fail "modprobe hangtrail inject_stall=..."
	ht_say "HT-STALL-ARMED $(cat /sys/module/hangtrail/parameters/inject_stall 2>/dev/null)"
	touch "$state/stalled"
	sync
	ht_triggered "sysrq crash, hangtrail stalls it in machine_kexec"
	echo c > /proc/sysrq-trigger
	sleep 3600
}

# Boot 3, after the warm reset.
stalled() {
	ht_hangtrail_loaded
	ht_saved
	# The load at boot held the crashed trail (the overwrite guard); the unit
	# saved it, released it and reloaded the module, which now records.
	ht_say "HT-RECORDING $(test -e /sys/kernel/debug/hangtrail/current && echo yes || echo no)"
	ht_end
}
