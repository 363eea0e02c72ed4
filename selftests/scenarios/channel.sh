# SPDX-License-Identifier: GPL-2.0
# The harness's own file channel: large files cross while the kernel floods
# the console with messages no loglevel silences (KERN_EMERG through
# /dev/kmsg, and a sysrq task dump); every byte must arrive (md5).

first() {
	ht_pin0
	head -c 131072 /dev/urandom > /tmp/random.bin
	# On CPU 1, the shell's builtin echo: one printk per line, no fork.
	(
		i=0
		while :; do
			i=$((i + 1))
			echo "<0>ht-flood $i: a kernel message during a file transfer" > /dev/kmsg
		done
	) &
	flood=$!
	taskset -p 2 $flood >/dev/null
	sleep 1
	echo t > /proc/sysrq-trigger
	for f in /tmp/random.bin /proc/kallsyms; do
		# Through printk: a tty line can be split by the flood.
		echo "HT-SENDING ${f##*/}" > /dev/kmsg
		ht_send "$f" "${f##*/}"
	done
	kill $flood
	ht_end
}
