# SPDX-License-Identifier: GPL-2.0
# The probe-side benchmark (Documentation/bench.rst, scripts/bench): one
# boot times htbench_target (htbench.ko) unprobed, under an empty kprobe,
# under hangtrail (mem_type 0, 1, 2), a printk breadcrumb, a kprobe event
# into the persistent ring buffer and pstore/ftrace, on one CPU and on every
# CPU at once; then an exec-heavy loop with and without hangtrail's built-in
# plan. Prints HT-BENCH* lines; the host computes the ratios.
#
# The point is htbench.ko's `point` (x86_64: past the ftrace site, where
# kprobes can be optimized). Sizes: HT_BENCH_ITERS, HT_BENCH_REPEAT,
# HT_BENCH_BUDGET_NS, HT_BENCH_PRINTK_ITERS, HT_BENCH_EXEC (execs per
# round), HT_BENCH_EXEC_ROUNDS, HT_BENCH_ROUNDS.

B=/sys/kernel/debug/htbench
T=/sys/kernel/tracing
OPT=/proc/sys/debug/kprobes-optimization

bench_one() {	# name: this CPU, min and median ps/call
	v=$(cat $B/one) || ht_fail "measuring $1"
	echo "HT-BENCH $1 $v"
}

bench_all() {	# name: every CPU at once
	v=$(cat $B/all) || ht_fail "measuring $1 on all CPUs"
	echo "HT-BENCH-ALL $1 $v"
}

# What kprobes made of the point (OPTIMIZED, FTRACE or a plain int3/brk).
bench_kprobes() {	# name
	sleep 1	# the optimizer runs from a delayed work
	grep htbench_target /sys/kernel/debug/kprobes/list | sed "s/^/HT-BENCH-KPROBES $1 /"
}

bench_hangtrail() {	# insmod args...
	ht_insmod "$@" >/dev/null || ht_fail "insmod hangtrail $*"
}

# Wall time (ms) of HT_BENCH_EXEC execs: of /bin/true (the same binary: its
# pages stay clean in the page cache), or of a fresh copy each time (new
# page-cache pages: arm64 cleans each one to the PoU on its first
# executable mapping, where the built-in plan's cache points fire).
bench_exec() {	# name, same|fresh
	t0=$(cat $B/now)
	i=0
	while [ $i -lt "$HT_BENCH_EXEC" ]; do
		if [ "$2" = fresh ]; then
			cp /bin/busybox /tmp/bb && /tmp/bb true && rm /tmp/bb
		else
			/bin/true
		fi
		i=$((i + 1))
	done
	t1=$(cat $B/now)
	echo "HT-BENCH-EXEC $1-$2 $(((t1 - t0) / 1000000))"
}

configurations() {	# one round of every configuration
	echo "HT-BENCH-ROUND $round"
	bench_one baseline
	bench_all baseline

	echo "empty $P" > $B/kprobe || ht_fail "empty kprobe"
	bench_kprobes empty-kprobe
	bench_one empty-kprobe
	bench_all empty-kprobe
	if [ -e $OPT ] && [ "$HT_ARCH" = x86_64 ]; then
		echo 0 > $OPT
		bench_kprobes empty-kprobe-int3
		bench_one empty-kprobe-int3
		echo 1 > $OPT
		# The function entry is its ftrace site: an ftrace-based kprobe,
		# what `probes=SYMBOL` gets on x86_64.
		echo "empty htbench_target" > $B/kprobe || ht_fail "empty kprobe at entry"
		bench_kprobes empty-kprobe-ftrace
		bench_one empty-kprobe-ftrace
	fi
	echo off > $B/kprobe

	for mt in 0 1 2; do
		bench_hangtrail probes=$P mem_type=$mt
		bench_kprobes hangtrail-mt$mt
		bench_one hangtrail-mt$mt
		if [ $mt = 0 ]; then
			bench_all hangtrail-mt0
			if [ -e $OPT ] && [ "$HT_ARCH" = x86_64 ]; then
				echo 0 > $OPT
				bench_kprobes hangtrail-int3
				bench_one hangtrail-int3
				echo 1 > $OPT
			fi
		fi
		rmmod hangtrail || ht_fail "rmmod hangtrail"
	done
	if [ "$HT_ARCH" = x86_64 ]; then
		bench_hangtrail probes=htbench_target
		bench_kprobes hangtrail-ftrace
		bench_one hangtrail-ftrace
		rmmod hangtrail || ht_fail "rmmod hangtrail"
	fi

	# A printk per hit on the serial console, fewer calls (each is a line).
	echo "$HT_BENCH_PRINTK_ITERS" > $B/iters
	dmesg -n 7
	echo "printk $P" > $B/kprobe || ht_fail "printk kprobe"
	v=$(cat $B/one) || ht_fail "measuring printk"
	echo off > $B/kprobe
	dmesg -n 1
	sleep 1	# the console drains before our line
	echo "HT-BENCH printk $v"
	echo "$HT_BENCH_ITERS" > $B/iters

	# A kprobe event, into the top-level buffer and into the persistent
	# instance (reserve_mem= + trace_instance= on the command line).
	[ -d $T/instances/htbench ] || ht_fail "no persistent trace instance htbench"
	echo "p:htb $P" >> $T/kprobe_events || ht_fail "kprobe event on $P"
	echo 1 > $T/events/kprobes/htb/enable
	bench_one kprobe-event
	echo 0 > $T/events/kprobes/htb/enable
	echo 1 > $T/instances/htbench/events/kprobes/htb/enable
	bench_one ringbuffer-kprobe-event
	bench_all ringbuffer-kprobe-event
	echo "HT-BENCH-RINGBUFFER-EVENTS $(grep -c 'htb:' $T/instances/htbench/trace)"
	echo 0 > $T/instances/htbench/events/kprobes/htb/enable
	echo "-:htb" >> $T/kprobe_events

	# pstore/ftrace into ramoops, filtered to the target.
	echo htbench_target > $T/set_ftrace_filter || ht_fail "set_ftrace_filter"
	echo 1 > /sys/kernel/debug/pstore/record_ftrace || ht_fail "pstore record_ftrace"
	bench_one pstore-ftrace
	bench_all pstore-ftrace
	echo 0 > /sys/kernel/debug/pstore/record_ftrace
	echo > $T/set_ftrace_filter
}

first() {
	ht_pin0
	insmod /lib/modules/htbench.ko || ht_fail "insmod htbench.ko"
	P=$(cat $B/point) || ht_fail "no point"
	mount -t tracefs tracefs $T 2>/dev/null
	echo "$HT_BENCH_ITERS" > $B/iters
	echo "$HT_BENCH_REPEAT" > $B/repeat
	echo "$HT_BENCH_BUDGET_NS" > $B/budget_ns
	echo "HT-BENCH-CAPACITY $(tr '\n' ' ' < $B/capacity)"
	echo "HT-BENCH-POINT $P"
	# Before anything floods the log buffer.
	echo "HT-BENCH-RINGBUFFER $(dmesg | grep -m1 'mapped boot instance htbench' | sed 's/^\[[^]]*\] //')"
	# Kernel messages would split the HT-BENCH lines; only the printk
	# configuration wants the console.
	dmesg -n 1
	# Bad input to the kprobe file: refused, nothing armed, no oops.
	for bad in "bogus" "empty" "empty no_such_function_ht" "empty htbench_target+zz"; do
		echo "$bad" > $B/kprobe 2>/dev/null
		echo "HT-BENCH-BAD $? $bad"
	done
	echo "HT-BENCH-BAD-ARMED $(grep -c htbench /sys/kernel/debug/kprobes/list)"

	# Every configuration, HT_BENCH_ROUNDS times over: the host's load
	# drifts, and a round-robin spreads it over all of them.
	round=0
	while [ $round -lt "$HT_BENCH_ROUNDS" ]; do
		configurations
		round=$((round + 1))
	done

	# The built-in plan on an exec-heavy loop (arm64: the cache routines run
	# on executable page faults). Before the evidence issue's filtering.
	# Alternated, many short rounds: the host's load drifts. The cache
	# points' hits are the module load's plus the loop's.
	for kind in same fresh; do
		bench_exec warm-up $kind
		for round in $(seq "$HT_BENCH_EXEC_ROUNDS"); do
			bench_exec none $kind
			bench_hangtrail
			bench_exec hangtrail $kind
			grep cache /sys/kernel/debug/hangtrail/probes | sed "s/^/HT-BENCH-PROBES $kind /"
			rmmod hangtrail
		done
	done
	echo "HT-BENCH-DONE"
	ht_end
}

again() {
	ht_fail "the benchmark boot was reset"
}

crash() {
	ht_fail "the benchmark boot crashed"
}
