# SPDX-License-Identifier: GPL-2.0
# A Debian guest's own kdump: kdump-tools' service loaded the crash kernel
# at boot; sysrq-c; in the crash kernel hangtrail.ko, loaded from
# kdump-tools' initramfs, marks the trail "crash kernel reached",
# hangtrail-save.service keeps it (it runs before kdump-tools-dump.service)
# and kdump-tools-dump.service saves the vmcore under /var/crash and
# reboots. The runner reads the disk afterwards.
# Run by selftests/guest/debian-run.

first() {
	ht_kdump_loaded
	[ "$HT_HANGTRAIL" = 0 ] || ht_hangtrail_loaded
	ht_triggered "sysrq crash"
	echo c > /proc/sysrq-trigger
	sleep 3600
}

again() {
	if [ "$HT_HANGTRAIL" = 1 ]; then
		ht_hangtrail_loaded
		ht_saved
	fi
	for f in /var/crash/*/*; do
		[ -f "$f" ] && ht_say "HT-CRASH-FILE ${f#/var/crash/} $(stat -c %s "$f")"
	done
	ht_end
}
