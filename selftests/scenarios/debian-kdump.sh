# SPDX-License-Identifier: GPL-2.0
# A Debian guest's own kdump: kdump-tools' service loaded the crash kernel
# at boot; sysrq-c; in the crash kernel kdump-tools-dump.service saves the
# vmcore under /var/crash and reboots. The runner reads the disk afterwards.
# Run by selftests/guest/debian-run.

first() {
	ht_kdump_loaded
	ht_triggered "sysrq crash"
	echo c > /proc/sysrq-trigger
	sleep 3600
}

again() {
	for f in /var/crash/*/*; do
		[ -f "$f" ] && ht_say "HT-CRASH-FILE ${f#/var/crash/} $(stat -c %s "$f")"
	done
	ht_end
}
