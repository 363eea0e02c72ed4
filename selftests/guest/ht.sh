# SPDX-License-Identifier: GPL-2.0
#
# Helpers for scenario scripts (sourced by /init). Everything the host runner
# reads from the console is a line starting with HT-.

HT_CONTROL=$((HT_REGION_ADDR + HT_REGION_SIZE))	# one page after the region

ht_control_read() {	# word index -> hex value
	devmem $((HT_CONTROL + 8 * $1)) 64
}

ht_control_write() {	# word index, value
	devmem $((HT_CONTROL + 8 * $1)) 64 "$2"
}

ht_fail() {
	echo "HT-FAIL $*"
	ht_end
}

# Ends the boot: the runner waits for HT-END, then for QEMU to exit.
ht_end() {
	echo "HT-END"
	sync
	poweroff -f
	sleep 3600
}

# Sends a file to the host over the file channel ($HT_CHANNEL, a serial
# port the kernel does not print to): gzip + base64 between markers, with
# its md5; then announces it on the console. The file is copied first: a
# live one (`current`, /proc/kallsyms) may change between two reads.
ht_send() {	# path, name
	[ -e "$1" ] || { echo "HT-NOFILE $2"; return 1; }
	cat "$1" > /tmp/ht-send || { echo "HT-NOFILE $2"; return 1; }
	md5=$(md5sum < /tmp/ht-send | cut -d' ' -f1)
	stty -F "$HT_CHANNEL" raw -echo
	# Closing the tty waits until the UART has sent everything.
	{
		echo "HT-FILE-BEGIN $2"
		gzip -c < /tmp/ht-send | base64
		echo "HT-FILE-END $2 $md5"
	} > "$HT_CHANNEL"
	rm -f /tmp/ht-send
	echo "HT-FILE $2 $md5"
}

# Loads hangtrail.ko on the run's region, with the run's parameters ($@ adds
# more, before the run's own so --params wins). Prints HT-INSMOD rc.
ht_insmod() {
	# shellcheck disable=SC2086
	insmod /lib/modules/hangtrail.ko mem_address=$HT_REGION_ADDR \
		mem_size=$HT_REGION_SIZE "$@" $HT_PARAMS
	rc=$?
	echo "HT-INSMOD $rc"
	return $rc
}

# One load that must be refused: prints HT-CASE name rc last-hangtrail-dmesg-line.
ht_refused() {	# name, insmod args...
	name=$1; shift
	dmesg -c >/dev/null
	insmod /lib/modules/hangtrail.ko "$@" 2>/dev/null
	rc=$?
	echo "HT-CASE $name $rc $(dmesg | grep 'hangtrail:' | tail -n 1 | sed 's/^\[[^]]*\] //')"
}

# Loads the kdump crash kernel: the same image, with the crash initramfs;
# with kexec_file_load (-s) where the kernel has it (HT_KEXEC_SYSCALL).
# Said through printk: a crash may follow at once, and tty output still
# queued then is lost (see ht_triggered).
ht_kdump_load() {
	# shellcheck disable=SC2086 # HT_KEXEC_SYSCALL is -s or empty
	kexec -p $HT_KEXEC_SYSCALL /kernel --initrd=/crash.cpio --append="$HT_CRASH_APPEND" ||
		ht_fail "kexec -p failed"
	echo "HT-KDUMP-LOADED $(cat /sys/kernel/kexec_crash_loaded)" > /dev/kmsg
}

# The trail the module found at load, the dmesg summary, and kallsyms.
ht_send_results() {
	ht_send /sys/kernel/debug/hangtrail/previous previous.bin
	dmesg | grep 'hangtrail:' | sed 's/^/HT-DMESG /'
}

# This boot's /proc/kallsyms, its text symbols only (T, t, W, w: the
# decoder reads no others): half the bytes, which on x86_64's UART took
# about 30 s of a run for the whole file.
ht_send_kallsyms() {	# name
	grep -E '^[0-9a-f]+ [TtWw] ' /proc/kallsyms > /tmp/kallsyms.text
	ht_send /tmp/kallsyms.text "$1"
}

# The usual start of a first boot: the shell on CPU 0, hangtrail loaded,
# this boot's kallsyms sent (the decoder's symbols for the trail).
ht_prepare() {
	ht_pin0
	ht_insmod || ht_fail "insmod"
	ht_send_kallsyms kallsyms
}

# The usual end of a later boot (crash kernel, or after the warm reset):
# hangtrail keeps the trail as `previous`; send it with the dmesg summary.
# With an argument, this boot should not have happened: fail with it.
ht_collect() {
	ht_insmod || ht_fail "insmod"
	ht_send_results
	[ -z "${1:-}" ] || ht_fail "$1"
	ht_end
}

# Pins this shell (and so what it starts) to CPU 0, so that a CPU locked up
# with interrupts off cannot be the one that must run the trigger.
ht_pin0() {
	taskset -p 1 $$ >/dev/null
}

# Tells the runner the trigger is next: from here the guest either reaches
# the crash kernel or hangs until the runner resets it. Said through printk
# (/dev/kmsg), not the tty, so that it reaches the console before the
# panic's own lines: tty output can still be queued when the kernel panics.
ht_triggered() {
	echo "HT-TRIGGERED $*" > /dev/kmsg
}

ht_wait_forever() {
	while :; do sleep 60; done
}

# The first boot of a crash-path scenario: hangtrail and the crash kernel
# loaded, then a sysrq crash on CPU 0. The crash kernel, or a warm reset
# after a hang, follows.
ht_sysrq_crash_kdump() {
	ht_prepare
	ht_kdump_load
	ht_triggered "sysrq crash on CPU 0"
	echo c > /proc/sysrq-trigger
	ht_wait_forever
}
