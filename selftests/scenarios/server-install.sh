# SPDX-License-Identifier: GPL-2.0
# Not a test: the quickstart server's installation (htvm.install_server), as
# Debian's installer ends one on a UEFI machine: GRUB, signed, with shim in
# the EFI system partition (/boot/efi, from /etc/fstab) and the firmware's
# boot entry, then /boot/grub/grub.cfg. This boot's kernel came from the
# firmware itself (the installer's media); every later one comes from GRUB.
# kdump-tools.service made its initramfs at this boot.
# Run by selftests/guest/debian-run.

first() {
	case "$HT_ARCH" in x86_64) target=x86_64-efi ;; arm64) target=arm64-efi ;; esac
	mountpoint -q /boot/efi || mount /boot/efi || ht_fail "mount /boot/efi"
	grub-install --target="$target" --uefi-secure-boot >/var/log/grub-install.log 2>&1
	ht_say "HT-GRUB-INSTALL $?"
	update-grub >/var/log/update-grub.log 2>&1
	ht_say "HT-UPDATE-GRUB $?"
	ht_say "HT-EFI-ENTRY $(efibootmgr | grep -c -i debian)"
	ht_say "HT-ESP $(find /boot/efi -type f | sort | tr '\n' ' ')"
	ht_kdump_loaded
	ht_end
}
