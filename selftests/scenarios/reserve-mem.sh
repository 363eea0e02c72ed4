# SPDX-License-Identifier: GPL-2.0
# A region the kernel reserved in System RAM at boot, found without an
# address. HT_SOURCE (htvm.py) says how:
#   name - reserve_mem=SIZE:ALIGN:$HT_NAME, loaded with mem_name=$HT_NAME
#          (reserve-mem; uefi-acpi under UEFI firmware with ACPI);
#   dt   - a device tree reserved-memory node compatible with "hangtrail",
#          loaded with no region parameter (dt-reserved; dt-no-map with
#          HT_NOMAP=1, the node marked no-map).
# Bad uses are refused with nothing touched; a crash reaches the crash
# kernel, which finds the region (name: given the address the first kernel
# printed, mem_address=; dt: the node, which the crash kernel's device tree
# keeps); the crash kernel warm-resets, and the first kernel, booted again
# with the same kernel and command line, finds the same region holding the
# trail.

D=/sys/kernel/debug/hangtrail

# The insmod arguments that find the region.
by_source() {
	[ "$HT_SOURCE" = name ] && echo "mem_name=$HT_NAME"
}

# Loads hangtrail.ko on the reserved region; says where it is.
load_by_name() {
	# shellcheck disable=SC2086
	insmod /lib/modules/hangtrail.ko $(by_source) $HT_PARAMS
	rc=$?
	echo "HT-INSMOD $rc"
	[ $rc = 0 ] || return $rc
	echo "HT-REGION $(cat $D/region)"
}

# mem_address=... mem_size=... -> "address size"
addr_size() {
	echo "$1" | sed 's/mem_address=\([^ ]*\) mem_size=\([^ ]*\)/\1 \2/'
}

first() {
	ht_pin0
	sed 's/^/HT-IOMEM /' /proc/iomem
	load_by_name || ht_fail "insmod $(by_source)"
	# Claimed in /proc/iomem only when it is not System RAM (no-map).
	echo "HT-IOMEM-CLAIM $(grep -c ' : hangtrail$' /proc/iomem)"
	set -- $(addr_size "$(cat $D/region)")
	A=$1 S=$2
	rmmod hangtrail || ht_fail "rmmod"
	# A pattern at the region's start: every refused load must leave it.
	devmem "$A" 64 "$HT_PATTERN"
	if [ "$HT_SOURCE" = name ]; then
		ht_refused unknown-name mem_name=nosuch
		ht_refused name-and-address mem_name="$HT_NAME" mem_address="$A"
		ht_refused name-and-size mem_name="$HT_NAME" mem_size="$S"
		# reserve_mem=65600:64:htodd (htvm.py): not whole pages.
		ht_refused unaligned-name mem_name=htodd
	elif [ "$HT_NOMAP" = 1 ]; then
		:	# not System RAM: an address inside it is as good as the node
	else
		# The node is consulted only when no region is given: an address
		# inside it is System RAM, refused as from any user.
		ht_refused dt-address-ram mem_address="$A" mem_size="$S"
	fi
	echo "HT-REGION-WORD $(devmem "$A" 64)"
	echo "HT-OOPS $(dmesg | grep -cE 'Oops|BUG:|Unable to handle|general protection')"
	dmesg -c >/dev/null
	load_by_name || ht_fail "insmod $(by_source)"
	# The load's dmesg line, on the file channel (no console interleaving).
	dmesg | grep 'hangtrail: region 0x' | sed 's/^\[[^]]*\] //' > /tmp/region-dmesg
	ht_send /tmp/region-dmesg region-dmesg.txt
	ht_send_kallsyms kallsyms
	# For the crash kernel: the first kernel's address, in the control page.
	ht_control_write 2 "$A"
	ht_control_write 3 "$S"
	ht_kdump_load
	ht_triggered "sysrq crash on CPU 0"
	echo c > /proc/sysrq-trigger
	ht_wait_forever
}

crash() {
	if [ "$HT_SOURCE" = name ]; then
		A=$(ht_control_read 2) S=$(ht_control_read 3)
		# mem_name in a crash kernel would find the crash kernel's own region.
		ht_refused crash-mem-name mem_name="$HT_NAME"
		set -- mem_address="$A" mem_size="$S"
	else
		set --	# the device tree node, as in the first kernel
	fi
	dmesg -c >/dev/null
	# shellcheck disable=SC2086
	insmod /lib/modules/hangtrail.ko "$@" $HT_PARAMS
	echo "HT-INSMOD $?"
	dmesg | grep 'hangtrail: region 0x' | tail -n 1 | sed 's/^\[[^]]*\] /HT-CRASH-REGION-DMESG /'
	echo "HT-CRASH-REGION $(cat $D/region)"
	ht_send $D/previous crash-previous.bin
	# The first kernel boots again from here (a warm reset keeps RAM).
	echo "HT-RESET-ME"
	ht_wait_forever
}

again() {
	sed 's/^/HT-IOMEM-AGAIN /' /proc/iomem
	dmesg -c >/dev/null
	load_by_name || ht_fail "insmod $(by_source) after the warm reset"
	ht_send_results
	ht_end
}
