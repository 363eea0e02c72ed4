# SPDX-License-Identifier: GPL-2.0
# Secure Boot: the Debian guest booted by OVMF through shim and GRUB, with a
# machine owner key enrolled (DKMS's kind) and hangtrail.ko signed with it.
# Boot 1: Secure Boot is on and the kernel locked down (integrity); the
# signed module was loaded at boot (modules-load.d) and taints nothing but
# out-of-tree; lockdown refuses a debugfs file
# with a write bit and /dev/mem, while hangtrail's debugfs files read. An
# unsigned copy is refused; one signed with a key in the firmware's db loads
# (Debian's kernel trusts the platform keyring for modules). Then sysrq-c.
# Where kdump-tools loaded the crash kernel under lockdown (x86_64: through
# kexec_file_load, whose image signature the kernel checks), hangtrail.ko is
# reloaded first with inject_stall=machine_kexec: the crash path hangs in
# machine_kexec. Where it could not (Debian's arm64 kernel has no
# kexec_file_load, and lockdown refuses kexec_load), the panic finds no
# crash kernel and stays in panic(). Either way the runner warm-resets the
# guest, which boots through the firmware again. Boot 2:
# hangtrail-save.service kept the trail and released it through the
# `release` parameter (lockdown allows it), the module records again. Run by
# selftests/guest/debian-run.

first() {
	sb=$(od -An -tu1 -j4 -N1 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c 2>/dev/null | tr -d ' ')
	ht_say "HT-SECURE-BOOT ${sb:-absent}"
	ht_say "HT-LOCKDOWN $(cat /sys/kernel/security/lockdown 2>&1)"
	kdump=$(cat /sys/kernel/kexec_crash_loaded)
	ht_say "HT-KDUMP-LOADED $kdump"
	journalctl -b -u kdump-tools.service -o cat --no-pager 2>/dev/null | grep -E 'kexec|fail' |
		while read -r l; do ht_say "HT-KDUMP-SAID $l"; done
	dmesg | grep -E "Loaded X.509 cert 'DKMS module signing key" | while read -r l; do ht_say "HT-MOK ${l#*] }"; done
	ht_hangtrail_loaded
	ht_say "HT-TAINT $(cat /proc/sys/kernel/tainted)"
	ht_say "HT-SIGNER $(modinfo -F signer hangtrail)"
	if echo 1 2>/tmp/err > /sys/kernel/debug/clear_warn_once; then
		ht_say "HT-DEBUGFS-WRITE accepted"
	else
		ht_say "HT-DEBUGFS-WRITE refused: $(cat /tmp/err)"
	fi
	if dd if=/dev/mem of=/dev/null bs=4096 count=1 2>/tmp/err; then
		ht_say "HT-DEVMEM read"
	else
		ht_say "HT-DEVMEM refused: $(head -n 1 /tmp/err)"
	fi
	ht_say "HT-REGION $(cat /sys/kernel/debug/hangtrail/region 2>&1)"
	ht_say "HT-RELEASE-STATE $(cat /sys/module/hangtrail/parameters/release 2>&1)"
	touch "$state/stalled"
	sync
	modprobe -r hangtrail || ht_fail "modprobe -r hangtrail"
	# Which keys the kernel takes for modules: not none (unsigned), the MOK
	# (above), and Debian's kernel also a key in the firmware's db (the
	# platform keyring; Debian's patch "KEYS: Make use of platform keyring
	# for module signature verify").
	region="mem_address=$HT_REGION_ADDR mem_size=$HT_REGION_SIZE"
	for k in unsigned db; do
		# shellcheck disable=SC2086 # two parameters
		if insmod /usr/local/lib/hangtrail-test/hangtrail-$k.ko $region 2>/tmp/err; then
			ht_say "HT-INSMOD-$k loaded"
			rmmod hangtrail
		else
			ht_say "HT-INSMOD-$k refused: $(cat /tmp/err)"
		fi
	done
	dmesg | grep -E "Loaded X.509 cert 'hangtrail test db key" | while read -r l; do ht_say "HT-DB-KEY ${l#*] }"; done
	if [ "$kdump" = 1 ]; then
		modprobe hangtrail inject_stall=machine_kexec || ht_fail "modprobe hangtrail inject_stall=machine_kexec"
		ht_say "HT-STALL-ARMED $(cat /sys/module/hangtrail/parameters/inject_stall 2>/dev/null)"
		ht_triggered "sysrq crash, hangtrail stalls it in machine_kexec"
	else
		modprobe hangtrail || ht_fail "modprobe hangtrail"
		ht_triggered "sysrq crash, no crash kernel loaded"
	fi
	echo c > /proc/sysrq-trigger
	sleep 3600
}

# Boot 2, after the warm reset.
again() {
	[ -e "$state/stalled" ] || ht_fail "a second boot without the stall"
	sb=$(od -An -tu1 -j4 -N1 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c 2>/dev/null | tr -d ' ')
	ht_say "HT-SECURE-BOOT-2 ${sb:-absent} $(cat /sys/kernel/security/lockdown 2>&1)"
	ht_hangtrail_loaded
	ht_saved
	ht_say "HT-RELEASE-STATE-2 $(cat /sys/module/hangtrail/parameters/release 2>&1)"
	ht_say "HT-RECORDING $(test -e /sys/kernel/debug/hangtrail/current && echo yes || echo no)"
	ht_end
}
