# SPDX-License-Identifier: GPL-2.0
# README.md's quickstart, as a kernel engineer follows it on a Debian 13
# server (booted by its UEFI firmware, shim and GRUB; kdump-tools at its
# defaults): the README's own command blocks (steps/NN.sh, in order, taken
# from README.md by htvm.readme_steps), run as root in /root, each as one
# `bash -e -o pipefail` script; a step that ends in `reboot` goes on at the
# next boot with the next step. The harness gives only what a server with
# no network lacks, a package source (Debian's packages and `make deb`'s,
# on a disk of its own; `make deb`'s copied to /root as the README has the
# user copy them), and the triggers. Then:
#   - what the steps set up, as the kernel sees it (HT- lines the runner
#     checks: the command lines, kdump-tools' kexec command, the crash
#     kernel's size, the region, the kdump initramfs);
#   - sysrq-c: kdump-tools' kdump; hangtrail's handoff (the crash kernel
#     marks the trail, hangtrail-save.service keeps it there);
#   - hangtrail.ko reloaded with inject_stall=machine_kexec, sysrq-c: the
#     crash path hangs; the hardware watchdog `hangtrail setup` armed resets
#     the machine (QEMU's i6300esb; the runner waits longer); at the next
#     boot /var/lib/hangtrail is full (a 1 MiB tmpfs): hangtrail-save.service
#     cannot keep the trail, says its verdict in the journal and releases it.
# Run by selftests/guest/debian-run.

steps=$dir/steps
repo=/srv/hangtrail-repo
logs=/var/log/hangtrail-test

# The package source: the harness's disk, for apt (trixie and
# trixie-backports, as the archive names them) instead of the network.
package_source() {
	mkdir -p "$repo"
	mount -o ro LABEL=HT-REPO "$repo" || ht_fail "mount the package source (LABEL=HT-REPO)"
	rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
	cat >/etc/apt/sources.list.d/hangtrail-test.sources <<EOF
Types: deb
URIs: file:$repo
Suites: trixie trixie-backports
Components: main
Trusted: yes
EOF
	cp "$repo"/*.deb /root/
	ht_say "HT-DEBS $(cd /root && ls *.deb | tr '\n' ' ')"
}

# The README's steps from the one after the last started, until one ends in
# a reboot (this boot ends) or none is left (returns).
run_steps() {
	mkdir -p "$logs"
	n=$(cat "$state/step" 2>/dev/null || echo 1)
	while f=$steps/$(printf %02d "$n").sh && [ -f "$f" ]; do
		echo $((n + 1)) >"$state/step"
		sync
		ht_say "HT-STEP $n"
		# A step that ends in `reboot` runs up to it; the driver says how it
		# went, then reboots.
		last=$(grep -v '^[[:space:]]*\(#.*\)\{0,1\}$' "$f" | tail -n 1)
		if [ "$last" = reboot ]; then
			sed '$d' "$f" >/tmp/step.sh
		else
			cp "$f" /tmp/step.sh
		fi
		(cd /root && bash -e -o pipefail -x /tmp/step.sh) >"$logs/step-$n.log" 2>&1
		rc=$?
		ht_say "HT-STEP-RC $n $rc"
		if [ "$rc" != 0 ]; then
			tail -n 25 "$logs/step-$n.log" | while read -r l; do ht_say "HT-LOG $l"; done
			ht_fail "README quickstart step $n failed (exit $rc): $(head -c 200 "$f" | tr '\n' ';')"
		fi
		if [ "$last" = reboot ]; then
			reboot
			sleep 900
			ht_fail "step $n's reboot did not come"
		fi
		n=$((n + 1))
	done
}

# What the steps set up, as the running kernel sees it; then the kdump.
set_up() {
	ht_say "HT-CMDLINE $(cat /proc/cmdline)"
	ht_kdump_loaded
	ht_say "HT-CRASH-SIZE $(cat /sys/kernel/kexec_crash_size)"
	ht_hangtrail_loaded
	ht_say "HT-REGION $(cat /sys/kernel/debug/hangtrail/region 2>/dev/null)"
	ht_say "HT-RECORDING $(test -e /sys/kernel/debug/hangtrail/current && echo yes || echo no)"
	ht_say "HT-IOMEM $(grep -i -m 1 'hangtrail' /proc/iomem | tr -s ' ')"
	ht_say "HT-SYSCTL $(sysctl -n kernel.softlockup_panic)"
	ht_say "HT-WATCHDOG $(cat /sys/class/watchdog/watchdog0/identity 2>/dev/null) $(systemctl show -p RuntimeWatchdogUSec --value)"
	# The hangtrail options in kdump-tools' initramfs for this kernel.
	ht_say "HT-KDUMP-INITRD-OPTIONS $(ht_kdump_initrd_options)"
	ht_say "HT-KDUMP-INITRD-KO $(find /tmp/kdump-initrd -name 'hangtrail.ko*' | wc -l)"
	touch "$state/crashed"
	sync
	ht_triggered "sysrq crash"
	echo c >/proc/sysrq-trigger
	sleep 3600
}

# After kdump-tools' kdump: the trail kept; then the crash path hangs.
after_kdump() {
	rm -f "$state/crashed"
	ht_hangtrail_loaded
	ht_saved
	ht_crash_files
	ht_kdump_loaded
	# The next save finds its disk full: /var/lib/hangtrail a 1 MiB tmpfs
	# from the next boot on (a 64 MiB trail does not fit).
	echo 'tmpfs /var/lib/hangtrail tmpfs size=1M,mode=0700 0 0' >>/etc/fstab
	ht_stall_crash
}

# After the watchdog's reset, on a full /var/lib/hangtrail.
stalled() {
	ht_say "HT-WATCHDOG-BOOTSTATUS $(cat /sys/class/watchdog/watchdog0/bootstatus 2>/dev/null)"
	ht_say "HT-STATE-FS $(findmnt -n -o FSTYPE,SIZE /var/lib/hangtrail)"
	ht_hangtrail_loaded
	ht_saved
	ht_say "HT-RECORDING $(test -e /sys/kernel/debug/hangtrail/current && echo yes || echo no)"
	ht_say "HT-RELEASE $(cat /sys/module/hangtrail/parameters/release 2>/dev/null)"
	journalctl -b -u hangtrail-save.service -o cat | while read -r l; do ht_say "HT-SAVE-LOG $l"; done
	ht_end
}

first() {
	package_source
	run_steps
	set_up
}

again() {
	[ ! -e "$state/stalled" ] || stalled
	[ ! -e "$state/crashed" ] || after_kdump
	run_steps
	set_up
}
