# SPDX-License-Identifier: GPL-2.0
# A region holding what a load must not trust blindly, one case per load
# (the host makes them, scripts/htvm.py wrong_region_cases): an older format
# (v1), a trail from another kernel release, bit flips in records of a real
# trail, garbage. Before each load the guest writes the case's words with
# devmem (the words that differ from the case before: a load that holds a
# trail writes nothing). Each load: its dmesg lines, `previous` (sent), the
# oops count; then rmmod.

D=/sys/kernel/debug/hangtrail
OOPS='Oops|BUG:|WARNING:|Unable to handle|general protection|Call trace'

first() {
	ht_pin0
	for c in v1 other-release flips garbage; do
		grep "^$c " /wrong.words | while read -r _ off val; do
			devmem $((HT_REGION_ADDR + off)) 64 "$val"
		done
		dmesg -c >/dev/null
		ht_insmod probes=ksys_sync >/dev/null
		rc=$?
		echo "HT-LOAD $c rc=$rc files=$(ls $D | sort | paste -sd, -) state=$(cat /sys/module/hangtrail/parameters/release)"
		dmesg | grep 'hangtrail:' | sed "s/^\[[^]]*\] /HT-DMESG-$c /"
		[ -e $D/previous ] && ht_send $D/previous "previous-$c.bin"
		rmmod hangtrail || ht_fail "rmmod after $c"
		echo "HT-OOPS $(dmesg | grep -cE "$OOPS")"
	done
	ht_end
}

again() {
	ht_fail "a reset: nothing here resets"
}

crash() {
	ht_fail "a crash kernel boot: nothing here crashes"
}
