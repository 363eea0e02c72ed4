# SPDX-License-Identifier: GPL-2.0
# Warm resets at random instants of a storm (see storm.sh), HT_RESETS times:
# each later boot sends the trail the reset cut short (previous-N.bin),
# starts a new storm and asks the runner to reset it after a random delay.

D=/sys/kernel/debug/hangtrail

# Every CPU runs dd byte by byte, /dev/zero to /dev/null, until the reset.
storm_until_reset() {
	i=0
	while [ $i -lt "$HT_CPUS" ]; do
		taskset $((1 << i)) dd if=/dev/zero of=/dev/null bs=1 2>/dev/null &
		i=$((i + 1))
	done
	echo "HT-RESET-RANDOM"
	ht_wait_forever
}

first() {
	ht_pin0
	ht_control_write 1 0
	ht_insmod mem_size="$HT_STORM_SIZE" probes=read_zero,write_null || ht_fail "insmod"
	ht_send_kallsyms kallsyms
	storm_until_reset
}

again() {
	ht_pin0
	n=$(($(ht_control_read 1) + 1))
	ht_control_write 1 $n
	# overwrite=1: the reset boot's trail would be held (the overwrite
	# guard); it is sent first, and the next storm records over it.
	ht_insmod mem_size="$HT_STORM_SIZE" probes=read_zero,write_null overwrite=1 || ht_fail "insmod"
	ht_send $D/previous previous-$n.bin
	[ $n -lt "$HT_RESETS" ] && storm_until_reset
	echo "HT-OOPS $(dmesg | grep -cE 'Oops|BUG:|WARNING:|Unable to handle|general protection|Call trace')"
	ht_end
}
