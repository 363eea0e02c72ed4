# SPDX-License-Identifier: GPL-2.0
# A Debian guest's own kdump, then a hang on the same machine. Boot 1: the
# region moves to the command line's reserve_mem= (mem_name=); reboot.
# Boot 2: kdump-tools' initramfs made again with that region's address
# (hangtrail-save.service's kdump-initrd-check); sysrq-c. In the
# crash kernel hangtrail.ko, loaded from kdump-tools' initramfs, marks the
# trail "crash kernel reached", hangtrail-save.service keeps it (it runs
# before kdump-tools-dump.service) and kdump-tools-dump.service saves the
# vmcore under /var/crash and reboots. The next boot finds the trail kept,
# then reloads hangtrail.ko with inject_stall=machine_kexec (modprobe adds
# it to the modprobe.d options) and crashes again: the crash path hangs in
# machine_kexec, the runner warm-resets the guest keeping RAM. The last
# boot: hangtrail-save.service keeps that trail, logs its verdict, releases
# it and reloads the module. The runner reads the disk afterwards.
# Run by selftests/guest/debian-run.

# Boot 1: the image's region (by address); hangtrail is moved to the
# reserve_mem= region of the command line, by name, as `hangtrail setup
# --reserve-mem` sets it, and the machine reboots.
first() {
	ht_kdump_loaded
	ht_hangtrail_loaded
	ht_say "HT-KDUMP-INITRD-OPTIONS $(ht_kdump_initrd_options)"
	echo 'options hangtrail mem_name=hangtrail crash_marks=1' >/etc/modprobe.d/hangtrail.conf
	touch "$state/named"
	sync
	systemctl reboot
	sleep 3600
}

# Boot 2: hangtrail found its region by name; hangtrail-save.service's check
# had kdump-tools make its initramfs again, with that region's address.
named() {
	rm -f "$state/named"
	ht_hangtrail_loaded
	ht_say "HT-REGION $(cat /sys/kernel/debug/hangtrail/region 2>/dev/null)"
	ht_say "HT-KDUMP-INITRD-OPTIONS $(ht_kdump_initrd_options)"
	journalctl -b -u hangtrail-save.service -o cat | while read -r l; do ht_say "HT-SAVE-LOG $l"; done
	ht_kdump_loaded
	ht_triggered "sysrq crash"
	echo c > /proc/sysrq-trigger
	sleep 3600
}

again() {
	if [ -e "$state/stalled" ]; then
		stalled
	fi
	if [ -e "$state/named" ]; then
		named
	fi
	ht_hangtrail_loaded
	ht_saved
	ht_crash_files
	# The crash kernel is loaded again at this boot (kdump-tools.service).
	ht_kdump_loaded
	ht_stall_crash
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
