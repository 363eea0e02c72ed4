# SPDX-License-Identifier: GPL-2.0
# The peer check of the benchmark (Documentation/bench.rst): the stall-reset
# scenario with the kernel's own persistent tools instead of hangtrail. A
# kprobe event per crash-path point into the persistent ring buffer
# instance, and pstore/ftrace (ramoops) filtered to the same functions; the
# crash path hangs in machine_kexec (htbench.ko's stall kprobe, interrupts
# masked, where hangtrail's inject_stall would be); the runner warm-resets;
# the next boot prints what each peer still shows.
#
# kprobes run the newest handler on a point first: the stall goes first so
# that the events on machine_kexec run before it spins.

B=/sys/kernel/debug/htbench
T=/sys/kernel/tracing
I=$T/instances/htbench
POINTS="ksys_sync panic __crash_kexec machine_crash_shutdown crash_save_cpu machine_kexec"
# arm64's asm cache routines (hangtrail's built-in plan probes them).
CACHE_POINTS=
[ "$HT_ARCH" = arm64 ] && CACHE_POINTS="dcache_clean_inval_poc caches_clean_inval_pou"

# Writes each point to a tracefs file: "PREFIX<point> <point>" (or just
# "<point>" without a prefix); prints HT-PEER-LABEL point accepted|refused.
try_points() {	# label, file, [prefix]
	for p in $POINTS $CACHE_POINTS; do
		if echo "${3:+$3$p }$p" >> "$2" 2>/dev/null; then
			echo "HT-PEER-$1 $p accepted"
		else
			echo "HT-PEER-$1 $p refused"
		fi
	done
}

define_events() {
	try_points EVENT $T/kprobe_events p:pe_
}

first() {
	ht_pin0
	insmod /lib/modules/htbench.ko || ht_fail "insmod htbench.ko"
	mount -t tracefs tracefs $T 2>/dev/null
	[ -d $I ] || ht_fail "no persistent trace instance htbench"
	ht_kdump_load
	echo "stall machine_kexec" > $B/kprobe || ht_fail "stall kprobe"
	define_events
	for e in $I/events/kprobes/pe_*; do echo 1 > "$e/enable"; done
	try_points FTRACE $T/set_ftrace_filter
	echo 1 > /sys/kernel/debug/pstore/record_ftrace || ht_fail "pstore record_ftrace"
	sync
	ht_triggered "sysrq crash on CPU 0, machine_kexec stalls"
	echo c > /proc/sysrq-trigger
	ht_wait_forever
}

again() {
	dmesg -n 1	# no kernel line in the middle of ours
	mount -t tracefs tracefs $T 2>/dev/null
	mount -t pstore pstore /sys/fs/pstore 2>/dev/null || mkdir -p /sys/fs/pstore &&
		mount -t pstore pstore /sys/fs/pstore 2>/dev/null
	echo "HT-PEER-PSTORE-FILES $(ls /sys/fs/pstore | tr '\n' ' ')"
	for f in /sys/fs/pstore/ftrace-*; do
		[ -e "$f" ] && sed 's/^/HT-PEER-PSTORE /' "$f"
	done
	# The same event definitions, so that the last boot's event ids print
	# with their names; not enabled (that would write to the buffer).
	define_events >/dev/null
	echo "HT-PEER-LASTBOOT $(tr '\n' ' ' < $I/last_boot_info 2>/dev/null)"
	grep -v '^#' $I/trace | sed 's/^/HT-PEER-RB /'
	ht_end
}

crash() {
	ht_fail "the crash kernel was reached: the stall did not happen"
}
