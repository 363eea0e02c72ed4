# SPDX-License-Identifier: GPL-2.0
# Not a test: a Debian image's first boot (htvm.first_boot), as a host's
# after the install. kdump-tools' service made its initramfs at this boot
# (in the image build's chroot its hook leaves it to the system) and loaded
# the crash kernel; say what that initramfs holds, then power off. The
# runner keeps the disk for the tests.
# Run by selftests/guest/debian-run.

first() {
	ht_kdump_loaded
	lsinitramfs "/var/lib/kdump/initrd.img-$(uname -r)" |
		grep -E 'hangtrail|/virtio_blk\.ko|/ext4\.ko' |
		while read -r f; do ht_say "HT-KDUMP-INITRD $f"; done
	ht_end
}

again() {
	ht_fail "the first boot booted twice"
}
