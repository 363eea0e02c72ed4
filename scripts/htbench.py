# SPDX-License-Identifier: GPL-2.0
"""The probe-side benchmark's host side: the guest scenario's settings, and
its HT-BENCH* console lines turned into a table and ratios.

Shared by scripts/bench (`make bench`, the full run) and selftests/e2e.py
(the short run of `make check`). Figures are picoseconds per call of
htbench_target as the guest's local_clock() saw them; a configuration's cost
is its minimum minus the unprobed baseline's minimum (on a shared host the
minimum over many short loops is the least disturbed one; medians are in the
table), and only ratios of costs from one boot are reported
(Documentation/bench.rst says why).
"""

import dataclasses

import htvm

# Sizes of the short run (make check); scripts/bench passes larger ones.
# Many short loops rather than a few long ones: on a loaded host the minimum
# of many is the loop that ran undisturbed.
# (htbench.ko sizes each loop to HT_BENCH_BUDGET_NS, at most HT_BENCH_ITERS calls.)
SHORT = {"HT_BENCH_ITERS": 2000, "HT_BENCH_BUDGET_NS": 300000, "HT_BENCH_REPEAT": 21,
         "HT_BENCH_PRINTK_ITERS": 20, "HT_BENCH_EXEC": 10, "HT_BENCH_EXEC_ROUNDS": 2, "HT_BENCH_ROUNDS": 1}
FULL = {"HT_BENCH_ITERS": 5000, "HT_BENCH_BUDGET_NS": 300000, "HT_BENCH_REPEAT": 41,
        "HT_BENCH_PRINTK_ITERS": 100, "HT_BENCH_EXEC": 10, "HT_BENCH_EXEC_ROUNDS": 8, "HT_BENCH_ROUNDS": 3}

# Where ramoops (pstore/ftrace) goes: RAM inside each arch's reserved range,
# past hangtrail's region and control page.
RAMOOPS_OFFSET = 0x180000
RAMOOPS_SIZE = 0x80000


def cmdline(arch):
    """Kernel args of a benchmark boot: a persistent ring buffer instance
    `htbench` in memory reserve_mem= sets aside, and ramoops with an ftrace
    zone."""
    ramoops = arch.region + RAMOOPS_OFFSET
    # x86_64: a TCG guest on a loaded host can fail the boot-time IO-APIC
    # timer check ("IO-APIC + timer doesn't work!") and panic.
    quirk = "no_timer_check " if arch.name == "x86_64" else ""
    return (f"{quirk}reserve_mem=2M:4096:htbench trace_instance=htbench@htbench "
            f"ramoops.mem_address={ramoops:#x} ramoops.mem_size={RAMOOPS_SIZE:#x} "
            f"ramoops.ftrace_size={RAMOOPS_SIZE // 2:#x} ramoops.record_size=0x10000")


htvm.SCENARIOS["bench"] = htvm.Scenario(timeout=900, append_fn=cmdline, conf=SHORT)
# The peer check: stall-reset with the kernel's persistent tools.
htvm.SCENARIOS["bench-peers"] = htvm.Scenario(append_fn=cmdline, silence=htvm.STALL_SILENCE)


def median(v):
    return sorted(v)[len(v) // 2]


@dataclasses.dataclass
class Bench:
    """One boot's figures."""

    arch: str
    rounds: int
    one: dict  # name -> (min, median) ps/call, this CPU
    all: dict  # name -> (min, median, [per-CPU medians]) ps/call
    kprobes: dict  # name -> what /sys/kernel/debug/kprobes/list said
    exec_: dict  # name-same|fresh -> [ms of each round]
    capacity: str
    lines: list

    @classmethod
    def parse(cls, res):
        """Over rounds: the minimum of the minima, the median of the medians."""
        one, all_, kp, ex = {}, {}, {}, {}
        for v in res.values("HT-BENCH"):
            name, lo, med = v.split()
            one.setdefault(name, []).append((int(lo), int(med)))
        for v in res.values("HT-BENCH-ALL"):
            name, lo, med, _cpus, *per = v.split()
            all_.setdefault(name, []).append((int(lo), int(med), [int(x) for x in per]))
        for d in (one, all_):
            for name, rounds in d.items():
                fig = (min(r[0] for r in rounds), median([r[1] for r in rounds]))
                if d is all_:
                    fig += ([median(list(c)) for c in zip(*(r[2] for r in rounds))],)
                d[name] = fig
        for v in res.values("HT-BENCH-KPROBES"):
            name, rest = v.split(maxsplit=1)
            kp.setdefault(name, rest)
        for v in res.values("HT-BENCH-EXEC"):
            name, ticks = v.split()
            ex.setdefault(name, []).append(int(ticks))
        rounds = len(res.values("HT-BENCH-ROUND"))
        return cls(res.arch, rounds, one, all_, kp, ex, res.value("HT-BENCH-CAPACITY") or "",
                   res.lines)

    def cost(self, name):
        """Per-call cost over the unprobed loop (minima), ps."""
        return self.one[name][0] - self.one["baseline"][0]

    def cost_all(self, name):
        return self.all[name][0] - self.all["baseline"][0]

    def exec_hits(self, kind):
        """Mean cache point hits per exec round with hangtrail loaded."""
        hits = [ln.split() for ln in self.lines if ln.startswith(f"HT-BENCH-PROBES {kind} ")]
        n = sum(int(w[-2].split("=")[1]) for w in hits if w[-2].startswith("hits="))
        return n / max(1, len(self.exec_.get("hangtrail-" + kind, [])))

    def ratios(self):
        """[(figure name, value)]: the lines `make bench` prints."""
        h = self.cost("hangtrail-mt0")
        r = [
            ("hangtrail/empty-kprobe", h / self.cost("empty-kprobe")),
            ("printk/hangtrail", self.cost("printk") / h),
            ("ringbuffer-kprobe-event/hangtrail", self.cost("ringbuffer-kprobe-event") / h),
            ("pstore-ftrace/hangtrail", self.cost("pstore-ftrace") / h),
            ("all-cpus/one-cpu", self.cost_all("hangtrail-mt0") / h),
            ("hangtrail-uncached/hangtrail", self.cost("hangtrail-mt1") / h),
            ("hangtrail-cached/hangtrail", self.cost("hangtrail-mt2") / h),
        ]
        if "empty-kprobe-int3" in self.one:
            r += [("hangtrail-int3/empty-kprobe-int3",
                   self.cost("hangtrail-int3") / self.cost("empty-kprobe-int3")),
                  ("empty-kprobe-int3/empty-kprobe",
                   self.cost("empty-kprobe-int3") / self.cost("empty-kprobe")),
                  ("hangtrail-ftrace/empty-kprobe-ftrace",
                   self.cost("hangtrail-ftrace") / self.cost("empty-kprobe-ftrace"))]
        for kind in ("same", "fresh"):
            if {f"none-{kind}", f"hangtrail-{kind}"} <= self.exec_.keys():
                r.append((f"exec-{kind}-binary hangtrail/none",
                          min(self.exec_[f"hangtrail-{kind}"]) / min(self.exec_[f"none-{kind}"])))
                # The same from the hit count, which the host's load does
                # not blur: hits x hangtrail's cost per recorded hit over the
                # exec time. An upper bound: off the crash path and the load
                # window a cache-point hit traps and is counted, not recorded.
                r.append((f"exec-{kind}-binary estimated-bound hangtrail/none",
                          1 + self.exec_hits(kind) * self.cost("hangtrail-mt0") / 1e9
                          / min(self.exec_[f"none-{kind}"])))
        return r

    def table(self):
        rows = [f"{self.arch}: ns per call of htbench_target, {self.rounds} round(s) in one boot "
                f"(min / median over repeats; cost = min - baseline min)",
                f"  {'configuration':34} {'min':>10} {'median':>10} {'cost':>10}  kprobe"]
        for name, (lo, med) in self.one.items():
            cost = "" if name == "baseline" else f"{self.cost(name) / 1000:10.1f}"
            rows.append(f"  {name:34} {lo / 1000:10.1f} {med / 1000:10.1f} {cost:>10}  "
                        f"{self.kprobes.get(name, '')}")
        for name, (lo, med, per) in self.all.items():
            rows.append(f"  {'all-cpus ' + name:34} {lo / 1000:10.1f} {med / 1000:10.1f} "
                        f"{'' if name == 'baseline' else f'{self.cost_all(name) / 1000:10.1f}':>10}"
                        f"  per CPU: {' '.join(f'{p / 1000:.1f}' for p in per)}")
        if self.exec_:
            rows.append("  exec loop (ms per round): "
                        + ", ".join(f"{k} {' '.join(map(str, v))}" for k, v in self.exec_.items()))
        for kind in ("same", "fresh"):
            rounds = len(self.exec_.get("hangtrail-" + kind, []))
            if rounds:
                rows.append(f"  exec loop ({kind} binary): {self.exec_hits(kind):.0f} cache point "
                            f"hits per round (mean of {rounds}, module load included)")
        rows.append(f"  capacity: {self.capacity}")
        return "\n".join(r.rstrip() for r in rows)


def run(arch, conf, out):
    """One benchmark boot; its Bench."""
    return Bench.parse(htvm.run("bench", arch, out=out, conf=conf))


# The crash path in the order it runs, as the peer check's events name it.
CRASH_PATH = ["ksys_sync", "panic", "__crash_kexec", "machine_crash_shutdown", "crash_save_cpu",
              "machine_kexec"]


@dataclasses.dataclass
class Peers:
    """What the kernel's persistent tools still showed after the warm reset."""

    arch: str
    events: dict  # point -> accepted|refused (kprobe events)
    ftrace: dict  # point -> accepted|refused (set_ftrace_filter)
    ringbuffer: list  # points of the last boot's events, in order
    pstore: list  # the last boot's pstore/ftrace records (ip as printed)

    @classmethod
    def parse(cls, res):
        ev = dict(v.split() for v in res.values("HT-PEER-EVENT"))
        ft = dict(v.split() for v in res.values("HT-PEER-FTRACE"))
        rb = []
        for v in res.values("HT-PEER-RB"):
            name = next((w for w in v.split() if w.startswith("pe_")), "")
            point = name[len("pe_"):].rstrip(":")
            if point and (not rb or rb[-1] != point):
                rb.append(point)
        ps = [v.split()[4] for v in res.values("HT-PEER-PSTORE") if len(v.split()) > 4]
        return cls(res.arch, ev, ft, rb, ps)

    def lines(self):
        refused = sorted(p for p, v in self.events.items() if v == "refused")
        return [
            f"{self.arch} peer ringbuffer-kprobe-event after reset: {' '.join(self.ringbuffer) or '-'}",
            f"{self.arch} peer pstore-ftrace after reset: {len(self.pstore)} records: "
            f"{' '.join(self.pstore) or '-'}",
            f"{self.arch} peer kprobe-event refused: {' '.join(refused) or '-'}",
        ]


def run_peers(arch, out):
    return Peers.parse(htvm.run("bench-peers", arch, out=out))


def fmt_ratio(x):
    return f"{x:.2f}" if x < 10 else f"{x:.0f}"
