# SPDX-License-Identifier: GPL-2.0
# hangtrail.ko itself: bad parameters are refused with a clear message and
# leave the region alone; a good load probes the plan and a probes= point,
# records in order on the right CPU; rmmod with probes firing is safe; a
# reload and a warm reset both find the earlier trail in `previous`.

D=/sys/kernel/debug/hangtrail

first() {
	A=$HT_REGION_ADDR S=$HT_REGION_SIZE
	# A pattern at the region's start: every refused load must leave it.
	devmem "$A" 64 "$HT_PATTERN"
	ht_refused no-params
	ht_refused zero-size mem_address="$A" mem_size=0
	ht_refused unaligned mem_address=$((A + 8)) mem_size="$S"
	ht_refused system-ram mem_address="$HT_RAM_ADDR" mem_size="$S"
	ht_refused claimed mem_address="$HT_RAMOOPS_ADDR" mem_size=0x10000
	ht_refused too-small mem_address="$A" mem_size=0x1000
	ht_refused mem-type mem_address="$A" mem_size="$S" mem_type=7
	ht_refused probes-syntax mem_address="$A" mem_size="$S" probes=ksys_sync+zz
	ht_refused probes-empty-symbol mem_address="$A" mem_size="$S" probes=+4
	ht_refused stall-syntax mem_address="$A" mem_size="$S" inject_stall=ksys_sync+0x
	echo "HT-REGION-WORD $(devmem "$A" 64)"
	echo "HT-OOPS $(dmesg | grep -cE 'Oops|BUG:|Unable to handle|general protection')"

	# A symbol too long for a point name: skipped with a warning, not fatal.
	long=$(printf 'a%.0s' $(seq 1 213))
	dmesg -c >/dev/null
	ht_insmod inject_stall="$long" >/dev/null && rmmod hangtrail
	echo "HT-LONG-STALL $(dmesg | grep 'hangtrail: inject_stall point' | sed 's/^\[[^]]*\] //')"

	# A good load, with a point that does not exist (skipped, not fatal),
	# two that `sync` runs, in this order: ksys_sync calls iterate_supers; a
	# long symbol (probed), and one too long for a point name (skipped).
	ht_insmod probes=no_such_function_ht,ksys_sync,iterate_supers,ZSTD_DCtx_loadDictionary_byReference,$long ||
		ht_fail "insmod"
	dmesg | grep 'hangtrail:' | sed 's/^/HT-DMESG /'
	sed 's/^/HT-PROBE /' $D/probes
	# What the kernel's own kprobe events say of the same points.
	mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
	for sym in caches_clean_inval_pou dcache_clean_inval_poc machine_kexec; do
		if echo "p:ht_$sym $sym" >> /sys/kernel/tracing/kprobe_events 2>/dev/null; then
			echo "HT-KPROBE-EVENT $sym accepted"
		else
			echo "HT-KPROBE-EVENT $sym refused"
		fi
	done
	echo > /sys/kernel/tracing/kprobe_events
	ht_kdump_load
	taskset 2 sync
	taskset 2 sync
	sed 's/^/HT-PROBE /' $D/probes
	ht_send $D/current current.bin
	ht_send_kallsyms kallsyms

	# rmmod while a point fires on both CPUs, then load again: the trail just
	# written is `previous` now.
	(while :; do sync; done) &
	loop=$!
	taskset -p 2 $loop >/dev/null
	sleep 1
	rmmod hangtrail || ht_fail "rmmod"
	kill $loop
	echo "HT-OOPS-RMMOD $(dmesg | grep -cE 'Oops|BUG:|Unable to handle|general protection')"
	dmesg -c >/dev/null
	# Reload uncached (device memory on arm64: reads must stay aligned),
	# with printk=1.
	ht_insmod probes=ksys_sync,iterate_supers mem_type=1 printk=1 || ht_fail "reload"
	echo "HT-RELOAD-SUMMARY $(dmesg | grep 'previous boot stopped' | sed 's/^\[[^]]*\] //')"
	[ -e $D/previous ] && echo "HT-RELOAD-PREVIOUS yes"
	taskset 2 sync
	dmesg | grep 'hangtrail: probe ksys_sync' | tail -n 1 | sed 's/^\[[^]]*\] /HT-PRINTK /'
	ht_send $D/current current-uncached.bin
	echo "HT-RESET-ME"
	ht_wait_forever
}

again() {
	# The host's decoder reading the region through /dev/mem (x86_64 guests
	# carry it), before the module starts a new trail there.
	if [ -x /bin/hangtrail ]; then
		hangtrail decode --json --devmem "$HT_REGION_ADDR:$HT_REGION_SIZE" > /tmp/devmem.json
		echo "HT-DEVMEM-EXIT $?"
		ht_send /tmp/devmem.json devmem.json
	fi
	# A load that fails after it started a fresh trail (the point table
	# overflows: MAX_POINTS probes= points plus the built-in ones) must put the
	# trail it found back. overwrite=1: that trail is a reset boot's, which
	# the overwrite guard would keep without starting one.
	ht_refused too-many-points mem_address="$HT_REGION_ADDR" mem_size="$HT_REGION_SIZE" overwrite=1 \
		probes="$(seq 1 "$HT_MAX_POINTS" | sed 's/^/ksys_sync+/' | paste -sd, -)"
	ht_insmod || ht_fail "insmod after reset"
	echo "HT-SUMMARY $(dmesg | grep 'previous boot stopped' | sed 's/^\[[^]]*\] //')"
	ht_send $D/previous previous.bin
	ht_send_kallsyms kallsyms-again
	ht_end
}
