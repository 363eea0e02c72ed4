# SPDX-License-Identifier: GPL-2.0
# The debugfs files hold kernel addresses and raw trails: root-only, and
# read-only (lockdown refuses debugfs files with a write bit); `release`, the
# module parameter that writes, is root-only too. A
# non-root user (nobody, through su) cannot read them, even with the debugfs
# root opened up so that only the files' own modes stand in the way; the
# control: nobody reads a world-readable file and lists the directory.

D=/sys/kernel/debug/hangtrail

as_nobody() {	# command line
	su nobody -s /bin/sh -c "$*"
}

first() {
	ht_insmod probes=ksys_sync || ht_fail "insmod"
	sync
	# A reload, so that there is a `previous` too.
	rmmod hangtrail || ht_fail "rmmod"
	ht_insmod probes=ksys_sync || ht_fail "reload"
	# debugfs mounts 0700: open its root, the files' modes must do the work.
	chmod 755 /sys/kernel/debug
	echo "HT-NOBODY-ID $(as_nobody id -u)"
	echo "HT-NOBODY-LS $(as_nobody ls $D | sort | paste -sd, -)"
	echo public > /tmp/public
	chmod 444 /tmp/public
	echo "HT-NOBODY-CONTROL $(as_nobody cat /tmp/public)"
	for p in $D/previous $D/current $D/probes $D/region /sys/module/hangtrail/parameters/release; do
		if as_nobody cat $p > /tmp/out 2> /tmp/err; then
			user="read $(wc -c < /tmp/out) bytes"
		else
			user="refused: $(cat /tmp/err)"
		fi
		echo "HT-PERM ${p##*/} $(stat -c '%a %U' $p) $(wc -c < $p) $user"
	done
	ht_end
}
