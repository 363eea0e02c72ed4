# SPDX-License-Identifier: GPL-2.0
# 4. probes= points mid-function, offsets taken from the guest kernel's own
# disassembly (HT_PARAMS, computed by the runner), with inject_stall on one.
# arm64: inside the cache maintenance that `kexec -p` runs on 6.12
# (dcache_clean_inval_poc's `dc civac` loop), plus the `dc cvau`/`ic ivau`
# of caches_clean_inval_pou; x86_64: inside machine_kexec.

first() {
	ht_prepare
	sed 's/^/HT-PROBE /' /sys/kernel/debug/hangtrail/probes
	if [ "$HT_ARCH" = arm64 ]; then
		ht_triggered "kexec -p (cache maintenance at load)"
		ht_kdump_load
	else
		ht_kdump_load
		ht_triggered "sysrq crash on CPU 0"
		echo c > /proc/sysrq-trigger
	fi
	ht_wait_forever
}

again() {
	ht_collect
}

crash() {
	ht_collect "the crash kernel was reached: the stall did not happen"
}
