# SPDX-License-Identifier: GPL-2.0
# The boot side of `make install` in a guest: a hang in the crash path
# (inject_stall=lapic_shutdown, as shootdown-stall), the warm reset, then
# `hangtrail save` with its defaults, as hangtrail-save.service runs it:
# debugfs `previous`, /proc/kallsyms, /var/lib/hangtrail, and journald's
# socket, where socat stands in for journald and keeps the datagram. A
# second run, with --release as hangtrail-save.service runs it, must find
# the trail saved, send nothing and release the held trail: the next load
# records, and still shows the crashed trail as `previous`.

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
	d=/sys/kernel/debug/hangtrail
	rel=/sys/module/hangtrail/parameters/release
	echo "HT-HELD $(cat $rel) $(test -e $d/current && echo recording || echo idle)"
	hangtrail save > /tmp/save.out 2>&1
	echo "HT-SAVE1-RC $?"
	sed "s/^/HT-SAVE1 /" /tmp/save.out
	hangtrail save --release > /tmp/save.out 2>&1
	echo "HT-SAVE2-RC $?"
	sed "s/^/HT-SAVE2 /" /tmp/save.out
	# As the unit's ExecStartPost.
	if [ "$(cat $rel)" = released ]; then rmmod hangtrail && ht_insmod; fi
	echo "HT-RELOADED $(cat $rel) $(test -e $d/current && echo recording || echo idle)"
	cp $d/previous /tmp/previous-after.bin
	sleep 1
	kill "$journal"
	dir=$(ls /var/lib/hangtrail)
	echo "HT-SAVED $dir"
	ls -l "/var/lib/hangtrail/$dir" | sed 's/^/HT-SAVED-LS /'
	ht_send "/var/lib/hangtrail/$dir/previous.bin" saved-previous.bin
	ht_send "/var/lib/hangtrail/$dir/decode.json" saved-decode.json
	ht_send "/var/lib/hangtrail/$dir/decode.txt" saved-decode.txt
	ht_send /tmp/journal.bin journal.bin
	ht_send /tmp/previous-after.bin previous-after-release.bin
	ht_end
}

crash() {
	ht_collect "the crash kernel was reached: the stall did not happen"
}
