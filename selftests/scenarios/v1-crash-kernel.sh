# SPDX-License-Identifier: GPL-2.0
# A v1 trail (written by an older hangtrail.ko: a golden fixture put in the
# region word by word) and a kdump crash: the crash kernel's hangtrail.ko
# marks it "crash kernel reached", resealing its 4 KiB v1 header, and keeps
# its used part as `previous`, unchanged otherwise.

first() {
	ht_pin0
	while read -r off val; do
		devmem $((HT_REGION_ADDR + off)) 64 "$val"
	done < /v1.words
	echo "HT-V1-WRITTEN $(wc -l < /v1.words)"
	ht_kdump_load
	ht_triggered "sysrq crash on CPU 0, no hangtrail.ko loaded"
	echo c > /proc/sysrq-trigger
	ht_wait_forever
}

crash() {
	ht_collect
}

again() {
	ht_collect "warm reset: the crash kernel was not reached"
}
