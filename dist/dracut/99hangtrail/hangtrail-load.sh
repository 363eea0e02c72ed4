#!/bin/sh
# dracut pre-udev hook (sourced by dracut's init: no exit): loads
# hangtrail.ko in a crash kernel, where it marks the previous trail "crash
# kernel reached" and records nothing.
if [ -e /proc/vmcore ]; then
	modprobe hangtrail || echo "hangtrail: modprobe hangtrail failed in the crash kernel" >&2
fi
