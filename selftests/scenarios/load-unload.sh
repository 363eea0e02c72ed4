# SPDX-License-Identifier: GPL-2.0
# HT_LOADS x insmod/rmmod on CPU 0 while every other CPU hits two of the
# points (dd byte by byte, /dev/zero to /dev/null: read_zero and write_null)
# without pause. Each load must record (the trail the rmmod before ended is
# not held) and claim the region in /proc/iomem; each rmmod must release it.
# Kernel messages are checked every 10 loads (the log buffer is small).

D=/sys/kernel/debug/hangtrail
OOPS='Oops|BUG:|WARNING:|Unable to handle|general protection|Call trace|lockdep|KASAN|KFENCE'

first() {
	ht_pin0
	i=1
	while [ $i -lt "$HT_CPUS" ]; do
		taskset $((1 << i)) dd if=/dev/zero of=/dev/null bs=1 2>/dev/null &
		i=$((i + 1))
	done
	points=read_zero,write_null
	n=0 recorded=0 claimed=0 released=0 held=0 oops=0 hits=0
	t0=$(cut -d' ' -f1 /proc/uptime)
	dmesg -c >/dev/null
	while [ $n -lt "$HT_LOADS" ]; do
		n=$((n + 1))
		ht_insmod mem_size="$HT_STORM_SIZE" probes="$points" >/dev/null ||
			ht_fail "insmod $n"
		grep -q ' : hangtrail$' /proc/iomem && claimed=$((claimed + 1))
		[ -e $D/current ] && recorded=$((recorded + 1))
		h=$(sed -n 's/^[0-9]* read_zero[+0-9a-fx]* .* hits=\([0-9]*\) .*/\1/p' $D/probes)
		hits=$((hits + ${h:-0}))
		rmmod hangtrail || ht_fail "rmmod $n"
		grep -q ' : hangtrail$' /proc/iomem || released=$((released + 1))
		if [ $((n % 10)) = 0 ]; then
			dmesg -c > /tmp/log
			held=$((held + $(grep -c 'holding the trail' /tmp/log)))
			oops=$((oops + $(grep -cE "$OOPS" /tmp/log)))
			grep -E "$OOPS" /tmp/log | head -n 20 | sed 's/^/HT-SPLAT /'
		fi
	done
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "HT-LOADS n=$n recorded=$recorded claimed=$claimed released=$released held=$held oops=$oops hits=$hits seconds=$(echo "$t1 $t0 - p" | dc)"
	ht_end
}

again() {
	ht_fail "a reset: nothing here resets"
}

crash() {
	ht_fail "a crash kernel boot: nothing here crashes"
}
