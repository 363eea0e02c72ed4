# SPDX-License-Identifier: GPL-2.0
# A device tree node compatible with "hangtrail" that reserves no memory (no
# reg): a load with no region parameter is refused with a message naming the
# node, and maps nothing; a region given by address still loads (the node is
# consulted only when no region is given).

first() {
	devmem "$HT_REGION_ADDR" 64 "$HT_PATTERN"
	ht_refused dt-no-reg
	echo "HT-LOADED $(grep -c '^hangtrail ' /proc/modules)"
	echo "HT-OOPS $(dmesg | grep -cE 'Oops|BUG:|Unable to handle|general protection')"
	echo "HT-REGION-WORD $(devmem "$HT_REGION_ADDR" 64)"
	ht_insmod || ht_fail "insmod with mem_address"
	ht_end
}
