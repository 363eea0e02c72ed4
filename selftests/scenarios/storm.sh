# SPDX-License-Identifier: GPL-2.0
# A storm: every CPU hits two points as fast as it can (dd, byte by byte,
# from /dev/zero to /dev/null: read_zero and write_null, which nothing else
# in the guest runs) for HT_STORM_SECONDS, in a region small enough
# (HT_STORM_SIZE) that every ring wraps many times. Then, quiet, `current`
# is read once and sent with the probes file (hits) and the oops count.
# Through the cached mapping (mem_type=2): the most code on the write path.

D=/sys/kernel/debug/hangtrail

# Prints the hits of point $1 from the probes file.
ht_hits() {
	sed -n "s/^[0-9]* $1 .* hits=\([0-9]*\) .*/\1/p" $D/probes
}

# One dd per CPU, each pinned, for $1 seconds; prints the storm's figures.
ht_storm() {
	r0=$(ht_hits read_zero) w0=$(ht_hits write_null)
	t0=$(cut -d' ' -f1 /proc/uptime)
	i=0
	while [ $i -lt "$HT_CPUS" ]; do
		taskset $((1 << i)) timeout "$1" dd if=/dev/zero of=/dev/null bs=1 2>/dev/null &
		i=$((i + 1))
	done
	wait
	t1=$(cut -d' ' -f1 /proc/uptime)
	r1=$(ht_hits read_zero) w1=$(ht_hits write_null)
	echo "HT-STORM hits=$((r1 - r0 + w1 - w0)) seconds=$(echo "$t1 $t0 - p" | dc)"
}

first() {
	ht_pin0
	# mem_type=2: the cached mapping, where each record is cleaned with
	# arch_wb_cache_pmem. A point there fires inside hangtrail's own
	# handler, so kprobes counts each of those calls as a miss.
	ht_insmod mem_size="$HT_STORM_SIZE" mem_type=2 \
		probes=read_zero,write_null,arch_wb_cache_pmem || ht_fail "insmod"
	ht_send_kallsyms kallsyms
	ht_storm "$HT_STORM_SECONDS"
	cat $D/current > /tmp/current.bin
	sed 's/^/HT-PROBE /' $D/probes
	echo "HT-OOPS $(dmesg | grep -cE 'Oops|BUG:|WARNING:|Unable to handle|general protection|Call trace')"
	ht_send /tmp/current.bin current.bin
	ht_end
}
