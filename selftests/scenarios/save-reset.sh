# SPDX-License-Identifier: GPL-2.0
# The boot side of `make install` in a guest: a hang in the crash path
# (inject_stall=lapic_shutdown, as shootdown-stall), the warm reset, then
# `hangtrail save` with its defaults, as hangtrail-save.service runs it:
# debugfs `previous`, /proc/kallsyms, /var/lib/hangtrail, and journald's
# socket, where socat stands in for journald and keeps the datagram. A
# second run must find the trail saved and send nothing.

first() {
	ht_sysrq_crash_kdump
}

again() {
	ht_insmod || ht_fail "insmod"
	ht_send_results
	mkdir -p /run/systemd/journal /var/lib
	socat -u UNIX-RECV:/run/systemd/journal/socket CREATE:/tmp/journal.bin &
	journal=$!
	i=0
	while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 100 ]; do
		usleep 100000
		i=$((i + 1))
	done
	for n in 1 2; do
		hangtrail save > /tmp/save.out 2>&1
		echo "HT-SAVE$n-RC $?"
		sed "s/^/HT-SAVE$n /" /tmp/save.out
	done
	sleep 1
	kill "$journal"
	dir=$(ls /var/lib/hangtrail)
	echo "HT-SAVED $dir"
	ls -l "/var/lib/hangtrail/$dir" | sed 's/^/HT-SAVED-LS /'
	ht_send "/var/lib/hangtrail/$dir/previous.bin" saved-previous.bin
	ht_send "/var/lib/hangtrail/$dir/decode.json" saved-decode.json
	ht_send "/var/lib/hangtrail/$dir/decode.txt" saved-decode.txt
	ht_send /tmp/journal.bin journal.bin
	ht_end
}

crash() {
	ht_collect "the crash kernel was reached: the stall did not happen"
}
