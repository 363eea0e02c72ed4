# SPDX-License-Identifier: GPL-2.0
# Sourced (sh): crash_options prints the hangtrail.ko options the crash
# kernel must load with: this kernel's (every `options hangtrail` line
# modprobe.d gives, in modprobe's order), except that a region found by name
# (mem_name=, a reserve_mem= region the kernel placed at boot) becomes the
# address it has in this boot (mem_address= mem_size=, from the loaded
# module's debugfs `region`): a crash kernel would find its own reserve_mem=
# region by that name, not this one. Fails (status 1, a line on stderr) when
# that address cannot be read. Used by the initramfs hook, which puts the
# options in kdump-tools' initramfs, and by kdump-initrd-check at each boot.
crash_options() {
	_opts=$(modprobe -c 2>/dev/null | sed -n 's/^options hangtrail //p' | tr '\n' ' ')
	case " $_opts " in
	*" mem_name="*)
		_region=$(cat /sys/kernel/debug/hangtrail/region 2>/dev/null) || {
			echo "hangtrail: mem_name= in modprobe.d and no loaded hangtrail.ko to say where the region is (debugfs hangtrail/region)" >&2
			return 1
		}
		# In its place: `mem_name=N crash_marks=1` gives
		# `mem_address=A mem_size=S crash_marks=1`.
		_opts=$(printf ' %s ' "$_opts" | sed "s/ mem_name=[^ ]*/ $_region/")
		;;
	esac
	# One space between options, none around.
	echo $_opts
}
