# SPDX-License-Identifier: GPL-2.0
# The overwrite guard: a crashed boot's trail survives later loads until root
# releases it. Boot 1 records and hangs (inject_stall on ksys_sync, CPU 1
# spins with interrupts masked) and is warm-reset. Boot 2 loads three times
# (rmmod/insmod in between): each load holds the trail (no `current`, no
# probes, the same `previous` bytes); nobody cannot release it, a wrong word
# does not; root's `release` (the module parameter, read `held` then
# `released`) does, and the next load records. The defeats:
# that boot is reset while recording (held again) but boot 3 loads with
# overwrite=1 (records over it); boot 3 reboots in order (reboot -f) and
# boot 4's load is not held; nor is a load after rmmod; `release` given at
# load is refused.

D=/sys/kernel/debug/hangtrail
R=/sys/module/hangtrail/parameters/release

# Prints the files of the debugfs directory, comma-separated.
ht_files() {
	ls $D | sort | paste -sd, -
}

OOPS='Oops|BUG:|WARNING:|Unable to handle|general protection|Call trace'

# One load: its exit code, what it made, and the md5 of `previous`; first,
# the oops count of the kernel messages since the last load.
load() {	# tag, insmod args...
	tag=$1; shift
	echo "HT-OOPS $(dmesg -c | grep -cE "$OOPS")"
	ht_insmod probes=ksys_sync "$@" >/dev/null
	rc=$?
	echo "HT-LOAD $tag rc=$rc files=$(ht_files) md5=$(md5sum < $D/previous | cut -d' ' -f1) state=$(cat $R)"
	dmesg | grep 'hangtrail:' | sed "s/^\[[^]]*\] /HT-DMESG-$tag /"
}

first() {
	ht_pin0
	ht_insmod probes=ksys_sync inject_stall=ksys_sync || ht_fail "insmod"
	ht_send_kallsyms kallsyms
	ht_control_write 1 1
	ht_triggered "sync on CPU 1 stalls in ksys_sync"
	taskset 2 sync &
	sleep 1
	echo "HT-RESET-ME" > /dev/kmsg
	ht_wait_forever
}

again() {
	ht_pin0
	n=$(ht_control_read 1)
	case $n in
	0x0000000000000001) held ;;
	0x0000000000000002) overwritten ;;
	0x0000000000000003) clean ;;
	*) ht_fail "unexpected boot count $n" ;;
	esac
}

# Boot 2: the crashed boot's trail is held.
held() {
	load held-1
	ht_send $D/previous previous.bin
	rmmod hangtrail || ht_fail "rmmod 1"
	load held-2
	rmmod hangtrail || ht_fail "rmmod 2"
	load held-3
	# Only root may release.
	if su nobody -s /bin/sh -c "echo release > $R" 2>/tmp/err; then
		echo "HT-NOBODY-RELEASE accepted"
	else
		echo "HT-NOBODY-RELEASE refused: $(cat /tmp/err)"
	fi
	if echo nope > $R 2>/dev/null; then
		echo "HT-BAD-WORD accepted"
	else
		echo "HT-BAD-WORD refused"
	fi
	rmmod hangtrail || ht_fail "rmmod 3"
	load after-refused
	echo release > $R
	rc=$?
	echo "HT-RELEASE rc=$rc md5=$(md5sum < $D/previous | cut -d' ' -f1) state=$(cat $R)"
	dmesg | grep 'hangtrail: trail released' | sed 's/^\[[^]]*\] /HT-DMESG-release /'
	rmmod hangtrail || ht_fail "rmmod 4"
	load released
	ht_send $D/previous previous-released.bin
	# This boot's trail, reset while recording: a crash's, held next boot.
	taskset 2 sync
	ht_control_write 1 2
	echo "HT-RESET-ME"
	ht_wait_forever
}

# Boot 3: overwrite=1 records over the held trail; then an orderly reboot.
overwritten() {
	load overwrite overwrite=1
	ht_send $D/previous previous-overwritten.bin
	taskset 2 sync
	ht_control_write 1 3
	echo "HT-REBOOTING"
	reboot -f
	ht_wait_forever
}

# Boot 4: the orderly reboot's trail is not held, nor is one after rmmod.
clean() {
	load clean
	ht_send $D/previous previous-clean.bin
	rmmod hangtrail || ht_fail "rmmod 5"
	load unloaded
	ht_send $D/previous previous-unloaded.bin
	rmmod hangtrail || ht_fail "rmmod 6"
	ht_insmod probes=ksys_sync release=release >/dev/null 2>&1
	echo "HT-LOAD-RELEASE rc=$? loaded=$(test -d /sys/module/hangtrail && echo yes || echo no)"
	echo "HT-OOPS $(dmesg -c | grep -cE "$OOPS")"
	ht_end
}

crash() {
	ht_fail "a crash kernel boot: none was loaded"
}
