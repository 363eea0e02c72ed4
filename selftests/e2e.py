#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""hangtrail's end-to-end tests: scenarios in real QEMU guests, both arches.

Output is KTAP-style (kselftest): one `ok`/`not ok` line per scenario and
arch, `# ` diagnostics for each failed assertion, and a closing
`N passed, N failed, N skipped` line. The two arches run side by side.

  selftests/e2e.py [-k SUBSTRING] [--arch x86_64|arm64|arm64-pnmi]...

Each scenario runs on the guest kernels it lists (htvm.SCENARIOS: x86_64 and
arm64, and arm64-pnmi, the arm64 kernel with pseudo-NMI, where it matters).
Results go to $HANGTRAIL_E2E_OUT (default /tmp/hangtrail-e2e)/SCENARIO-ARCH.
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import htvm  # noqa: E402

ERRNO = {"EINVAL": 22, "EBUSY": 16}
# The point table's size, from the format the module is built from.
MAX_POINTS = int(re.search(r"pub const MAX_POINTS: usize = (\d+);",
                           (htvm.TOP / "rust" / "format.rs").read_text()).group(1))


class Check:
    """Collects assertion failures of one test instead of stopping at the first."""

    def __init__(self):
        self.failures = []

    def that(self, cond, what):
        if not cond:
            self.failures.append(what)
        return cond

    def eq(self, got, want, what):
        return self.that(got == want, f"{what}: got {got!r}, want {want!r}")


def records(d, **match):
    """Decoded records whose fields equal `match`."""
    return [r for r in d["records"] if all(r.get(k) == v for k, v in match.items())]


# --- checks, one per scenario -------------------------------------------------


def check_smoke(r, c):
    c.that(r.has("hangtrail smoke: Rust module loaded"), "smoke.ko message on the console")
    c.eq(r.boots, ["first", "again", "crash"], "boots")
    c.eq(r.value("HT-PATTERN"), r.conf["HT_PATTERN"], "value read back after the warm reset")
    c.that(r.value("HT-KDUMP-LOADED") == "1", "kdump crash kernel loaded")
    crash = r.value("HT-CRASH-KERNEL") or ""
    c.that(crash.startswith("6.12"), f"crash kernel reached (HT-CRASH-KERNEL {crash!r})")


BAD_PARAMS = {
    "no-params": ("EINVAL", "mem_address and mem_size are required"),
    "zero-size": ("EINVAL", "mem_address and mem_size are required"),
    "unaligned": ("EINVAL", "must be page-aligned"),
    "system-ram": ("EINVAL", "overlaps System RAM"),
    "claimed": ("EBUSY", "is already claimed"),
    "too-small": ("EINVAL", "is too small for 2 CPUs"),
    "mem-type": ("EINVAL", "mem_type must be 0 (write-combine), 1 (uncached) or 2 (cached)"),
    "probes-syntax": ("EINVAL", "bad probes entry 'ksys_sync+zz'"),
    "probes-empty-symbol": ("EINVAL", "bad probes entry '+4'"),
    "stall-syntax": ("EINVAL", "bad inject_stall 'ksys_sync+0x'"),
    # After the warm reset, with a trail in the region: the trail must survive.
    "too-many-points": ("EINVAL", f"more than {MAX_POINTS} points"),
}


def check_module(r, c):
    cases = {v.split()[0]: v.split(maxsplit=2)[1:] for v in r.values("HT-CASE")}
    for name, (err, msg) in BAD_PARAMS.items():
        rc, line = (cases.get(name, ["?", ""]) + [""])[:2]
        c.eq(rc, str(ERRNO[err]), f"insmod {name}: exit code")
        c.that(line.startswith("hangtrail: ") and msg in line,
               f"insmod {name}: dmesg says {msg!r} (got {line!r})")
    c.eq(r.value("HT-REGION-WORD"), r.conf["HT_PATTERN"], "refused loads left the region alone")
    c.eq(r.value("HT-OOPS"), "0", "no oops after refused loads")
    c.eq(r.value("HT-OOPS-RMMOD"), "0", "no oops after rmmod with a point firing")

    probes = {ln.split()[1]: ln.split() for ln in r.values("HT-PROBE") if ln[0].isdigit()}
    c.that(probes.get("no_such_function_ht", [""] * 4)[3] == "missing",
           "an unknown probes= symbol is listed as missing, and the load goes on")
    for sym in ("panic", "__crash_kexec", "machine_kexec", "crash_save_cpu", "ksys_sync"):
        c.that(probes.get(sym, [""] * 4)[3] == "registered", f"{sym} registered")
    if r.arch == "arm64":
        # The asm cache routines: kprobe events refuse them, hangtrail probes them.
        events = dict(v.split() for v in r.values("HT-KPROBE-EVENT"))
        for sym in ("caches_clean_inval_pou", "dcache_clean_inval_poc"):
            c.eq(events.get(sym), "refused", f"kprobe_events on {sym}")
            c.that(probes.get(sym, [""] * 4)[3] == "registered", f"hangtrail probes {sym}")
        c.eq(events.get("machine_kexec"), "accepted", "kprobe_events on machine_kexec")
        c.that(probes.get("crash_smp_send_stop", [""] * 4)[3] == "registered",
               "arm64 CPU stop point")
    else:
        c.that(probes.get("native_machine_crash_shutdown", [""] * 4)[3] == "registered",
               "x86_64 CPU stop point")

    # `current`: `taskset 2 sync` twice: ksys_sync then iterate_supers, on CPU 1.
    cur = r.decode("current.bin")
    syncs = records(cur, kind="probe", symbol="ksys_sync")
    supers = records(cur, kind="probe", symbol="iterate_supers", cpu=1)
    c.that(len(syncs) == 2 and all(x["cpu"] == 1 for x in syncs),
           f"two ksys_sync records on CPU 1 (got {[(x['seq'], x['cpu']) for x in syncs]})")
    c.that(syncs and supers and syncs[0]["seq"] < min(x["seq"] for x in supers),
           "ksys_sync recorded before the iterate_supers it calls")
    if r.arch == "arm64":
        load = [x for x in cur["records"] if "load" in x["flags"]]
        c.that(any(x["symbol"] == "dcache_clean_inval_poc" for x in load),
               "kexec -p load ran dcache_clean_inval_poc, recorded in the load phase")

    # Reload in the same boot, then after a warm reset: `previous` and the line.
    c.that(r.value("HT-RELOAD-PREVIOUS") == "yes", "previous exists after a reload")
    for key in ("HT-RELOAD-SUMMARY", "HT-SUMMARY"):
        line = r.value(key) or ""
        c.that("previous boot stopped after iterate_supers on CPU 1; no crash" in line,
               f"{key}: dmesg summary names the last point (got {line!r})")
    # previous.bin is read after the failed too-many-points load: still the
    # trail of the boot before the reset.
    d = r.json()
    c.eq(d["verdict"]["state"], "no-crash", "verdict of the trail read after the warm reset")
    c.eq((d["verdict"]["last"] or {}).get("symbol"), "iterate_supers", "verdict.last")

    # printk=1 logs each breadcrumb; mem_type=1 (uncached) records and reads back.
    c.that((r.value("HT-PRINTK") or "").startswith("hangtrail: probe ksys_sync pc=0x"),
           f"printk=1 logs breadcrumbs (got {r.value('HT-PRINTK')!r})")
    unc = r.decode("current-uncached.bin")
    c.that(records(unc, kind="probe", symbol="ksys_sync", cpu=1),
           "a record written through an uncached mapping, read back via current")
    c.eq(d["header"]["boot_id"], unc["header"]["boot_id"],
         "the trail after the reset is the one the uncached reload wrote")

    if r.arch == "x86_64":
        # `hangtrail decode --devmem` in the guest, on the region itself.
        c.eq(r.value("HT-DEVMEM-EXIT"), "0", "hangtrail decode --devmem exit code")
        if "devmem.json" in r.files:
            dm = r.json("devmem.json")
            c.eq(dm["header"]["boot_id"], d["header"]["boot_id"], "--devmem read the same trail")
            c.eq((dm["verdict"]["last"] or {}).get("symbol"), "iterate_supers",
                 "--devmem verdict.last (named from the point table, no symbols)")
        else:
            c.that(False, "devmem.json sent by the guest")

    # modinfo lists every parameter, with its type.
    ko = htvm.prepare(r.arch).modules / "hangtrail.ko"
    parms = htvm.sh(["modinfo", "-F", "parm", ko])
    for p, t in (("mem_address", "ulong"), ("mem_size", "ulong"), ("mem_type", "uint"),
                 ("probes", "charp"), ("printk", "bool"), ("inject_stall", "charp")):
        c.that(any(ln.startswith(p + ":") and ln.endswith(f"({t})") for ln in parms.splitlines()),
               f"modinfo lists {p} ({t})")


DELAY_LOOP = {"x86_64": "delay_tsc", "arm64": "__delay"}


def kernel_call_trace(lines, after):
    """Function names of the first call trace the kernel printed after the
    line containing `after`: its reliable entries only (not `? name`), in
    the task context (after <TASK> on x86_64)."""
    start = next((i for i, ln in enumerate(lines) if after in ln), None)
    if start is None:
        return []
    names, inside = [], False
    for ln in lines[start:]:
        text = ln.split("] ", 1)[-1].strip()
        if text.lower().startswith("call trace:"):
            inside = True
            continue
        if not inside or text == "<TASK>" or text.startswith("? "):
            continue
        if text.startswith("<") or "+0x" not in text or " " in text.split("+")[0]:
            break
        names.append(text.split("+")[0])
    return names


def base_arch(r):
    """x86_64 or arm64, for a run on any guest kernel."""
    return htvm.ARCHES[r.arch].arch


def by_seq(d, pred):
    """Seq of the first record satisfying pred, or None."""
    return next((r["seq"] for r in d["records"] if pred(r)), None)


def point_is(name):
    return lambda r: r.get("point") == name and r["kind"] == "probe"


def check_crash_path_order(d, c, first):
    """first, panic entry, __crash_kexec, stop result, machine_kexec: in order."""
    steps = [
        ("the first record", first),
        ("panic entry", point_is("panic")),
        ("__crash_kexec", point_is("__crash_kexec")),
        ("stop result", lambda r: r["kind"] == "stop-result"),
        ("machine_kexec", point_is("machine_kexec")),
    ]
    seqs = [(name, by_seq(d, f)) for name, f in steps]
    missing = [n for n, q in seqs if q is None]
    c.that(not missing, f"crash path records missing: {missing}")
    if not missing:
        order = [q for _, q in seqs]
        c.that(order == sorted(order), f"crash path out of order: {seqs}")


def check_softlockup_kdump(r, c):
    c.eq(r.boots, ["first", "crash"], "boots: the crash kernel started")
    d = r.json()
    c.eq(d["verdict"]["state"], "handoff", "verdict")
    sl = d["softlockup"] or {}
    c.eq(sl.get("cpu"), 1, "soft lockup CPU (test_lockup ran on CPU 1)")
    c.eq(sl.get("symbol"), DELAY_LOOP[r.arch], "stuck pc is in the delay loop")
    c.that(sl.get("duration_ns", 0) > 3e9, f"stuck for longer than the threshold: {sl.get('duration_ns')}")
    c.eq(sl.get("comm"), "insmod", "comm of the stuck task")
    frames = [(f["symbol"], f["module"]) for f in sl.get("frames", [])]
    c.that(("test_wait", "test_lockup") in frames,
           f"test_wait [test_lockup] among the caller frames: {frames}")
    # The kernel's unwinder (ORC on x86_64) from the kprobe in the hrtimer
    # interrupt: hangtrail, kprobes, hrtimer and IRQ entry skipped, the
    # frames are the interrupted context's callers, nearest first: the same
    # as in the kernel's own soft lockup report (less the stuck function,
    # which arm64 prints first).
    kernel = kernel_call_trace(r.lines, "watchdog: BUG: soft lockup - CPU#1")
    while kernel and kernel[0] == sl.get("symbol"):
        kernel.pop(0)
    c.that(len(frames) >= 4, f"at least 4 caller frames: {frames}")
    c.eq([f[0] for f in frames], kernel[:len(frames)],
         "caller frames = the kernel's own call trace of the soft lockup")
    c.eq([f["arg"] for f in sl.get("frames", [])], list(range(len(frames))), "frame depths")
    check_crash_path_order(d, c, lambda x: x["kind"] == "softlockup")
    c.that(r.has("watchdog: BUG: soft lockup - CPU#1"), "the kernel's own soft lockup report")


def check_stall_reset(r, c):
    c.eq(r.boots, ["first", "again"], "boots: warm reset, no crash kernel")
    c.eq(r.resets, 1, "warm resets")
    d = r.json()
    v = d["verdict"]
    c.eq(v["state"], "hung", "verdict")
    c.eq(v["cpu"], 0, "verdict CPU (the shell that crashed ran on CPU 0)")
    c.eq((v["last"] or {}).get("symbol"), "machine_kexec", "verdict names the injected point")
    c.eq(v["next_expected"], "crash kernel handoff", "next expected")
    summary = " ".join(r.values("HT-DMESG"))
    c.that("previous boot stopped after machine_kexec on CPU 0; crash kernel not reached"
           in summary, f"dmesg summary line: {summary!r}")
    check_crash_path_order(d, c, point_is("panic"))
    # With the guest's vmlinux: file:line and the instruction at the stall.
    vm = r.decode("previous.bin", "--vmlinux", htvm.prepare(r.arch).kdir / "vmlinux")
    last = vm["verdict"]["last"] or {}
    src = {"x86_64": "arch/x86/kernel/machine_kexec_64.c:", "arm64": "arch/arm64/kernel/machine_kexec.c:"}
    c.that(src[r.arch] in (last.get("location") or ""), f"--vmlinux location: {last.get('location')!r}")
    c.that(last.get("insn"), f"--vmlinux instruction: {last.get('insn')!r}")


def check_stale_cpu(r, c):
    c.eq(r.boots, ["first", "crash"], "boots: the crash kernel started")
    d = r.json()
    c.eq(d["verdict"]["state"], "handoff", "verdict")
    stale = [s["cpu"] for s in d["stale_cpus"]]
    saved = {x["cpu"] for x in d["records"] if x.get("point") == "crash_save_cpu"}
    if r.arch == "arm64":
        # No pseudo-NMI: the IRQs-off CPU never takes the stop IPI.
        c.that(r.has("SMP: failed to stop secondary CPUs 1"), "the kernel's 'failed to stop'")
        c.that(r.has("Some CPUs may be stale, kdump will be unreliable"), "the kernel's warning")
        c.eq(stale, [1], "stale_cpus")
        c.that(d["stale_cpus"] and d["stale_cpus"][0].get("last"), "stale CPU's last breadcrumb")
        c.that(1 not in saved, "CPU 1 never ran crash_save_cpu")
    else:
        # x86_64 stops every CPU with an NMI, IRQs off or not.
        c.that(not r.has("failed to stop"), "no 'failed to stop' on x86_64")
        c.eq(stale, [], "stale_cpus (the NMI stopped CPU 1)")
        c.that(1 in saved, "CPU 1 ran crash_save_cpu from the NMI")


def check_user_points(r, c):
    c.eq(r.boots, ["first", "again"], "boots: warm reset, no crash kernel")
    params = dict(p.split("=", 1) for p in r.conf["HT_PARAMS"].split())
    points = params["probes"].split(",")
    stall = params["inject_stall"]
    sym = stall.split("+")[0]
    offs = sorted(int(p.split("+")[1], 16) for p in points if p.startswith(sym + "+"))
    stall_off = int(stall.split("+")[1], 16)
    nxt = next(o for o in offs if o > stall_off)
    v = r.json()["verdict"]
    c.eq(v["state"], "hung", "verdict")
    c.eq(((v["last"] or {}).get("symbol"), (v["last"] or {}).get("offset")), (sym, stall_off),
         "verdict: after the stalled point")
    c.eq(v["next_expected"], f"{sym}+{nxt:#x}", "verdict: before the next point")
    d = r.json()
    if r.arch == "arm64":
        c.eq(v["cpu"], 0, "kexec -p ran on CPU 0")
        load = {(x["symbol"], x["offset"]) for x in d["records"] if "load" in x["flags"]}
        c.that(("dcache_clean_inval_poc", stall_off) in load, "the stall is a kexec -p load record")
        hit = {(x["symbol"], x["offset"]) for x in d["records"]}
        for p in points:
            if p.startswith("caches_clean_inval_pou+"):
                c.that(("caches_clean_inval_pou", int(p.split("+")[1], 16)) in hit,
                       f"{p} (dc cvau / ic ivau) recorded: the loops ran on cortex-a57")
    else:
        check_crash_path_order(d, c, point_is("panic"))


def check_report_hang(r, c):
    c.eq(r.boots, ["first", "again"], "boots: warm reset, no panic, no crash kernel")
    d = r.json()
    v = d["verdict"]
    c.eq(v["state"], "hung", "verdict")
    c.eq(v["cpu"], 1, "verdict CPU: the stuck one")
    c.eq((v["last"] or {}).get("symbol"), "print_modules", "last breadcrumb: the stalled report")
    c.eq(d["softlockup"], None, "no soft lockup record (the report never finished)")
    c.that(by_seq(d, point_is("panic")) is None, "no panic")
    stuck = {s["cpu"]: s for s in d["stuck_samples"]}
    c.eq((stuck.get(1) or {}).get("symbol"), DELAY_LOOP[r.arch], "samples: CPU 1 stuck in the delay loop")
    c.that((stuck.get(1) or {}).get("count", 0) >= 3, "at least 3 samples on the same function")


HDR_NMI_REACHES_IRQS_OFF = 1 << 1


def nmi_reaches_irqs_off(r):
    """x86_64 always; arm64 only on the pseudo-NMI kernel."""
    return r.arch != "arm64"


def check_hard_lockup(r, c):
    c.eq(r.boots, ["first", "again"], "boots: warm reset, no panic, no crash kernel")
    c.that(r.has("Watchdog detected hard LOCKUP on cpu 1"), "the kernel's own hard lockup report")
    d = r.json()
    flag = bool(d["header"]["flags"] & HDR_NMI_REACHES_IRQS_OFF)
    c.eq(flag, nmi_reaches_irqs_off(r), "header: an NMI reaches a CPU with interrupts masked")
    hl = records(d, kind="hard-lockup")
    c.that(hl, "a hard-lockup record")
    c.eq(sorted({(x["cpu"], x["arg"]) for x in hl}), [(0, 1)],
         "hard-lockup records: CPU 0 (the buddy) found CPU 1 stuck")
    c.that(all(x["point"] == "nmi_trigger_cpumask_backtrace" for x in hl),
           f"hard-lockup records at the backtrace request: {[x['point'] for x in hl]}")
    # sysrq-l came first: a backtrace request of its own, not a hard lockup.
    req = [x for x in records(d, kind="probe") if x["point"] == "nmi_trigger_cpumask_backtrace"]
    c.that(req and hl and req[0]["seq"] < hl[0]["seq"],
           "sysrq-l's backtrace request recorded as a plain probe hit, before the lockup")
    ctx = records(d, kind="lockup-context")
    if nmi_reaches_irqs_off(r):
        c.that(r.has("NMI backtrace for cpu 1"), "the kernel's own backtrace of CPU 1 still printed")
        # One: sysrq-l's and the RCU stall's NMIs to CPU 1 record nothing.
        c.eq(len(ctx), 1, "lockup-context records (CPU 1's own, from the detector's backtrace NMI)")
        c.eq(sorted({x["cpu"] for x in ctx}), [1], "lockup-context written by CPU 1")
        c.eq({x["symbol"] for x in ctx}, {DELAY_LOOP[base_arch(r)]}, "CPU 1 stuck in the delay loop")
        c.that(all("irqs-off" in x["flags"] for x in ctx), "the stuck context had interrupts masked")
        c.that(all(x["arg"] for x in ctx), "lockup-context carries the stuck sp")
        c.that(hl and ctx and hl[0]["seq"] < ctx[0]["seq"], "request recorded before the answer")
    else:
        # No pseudo-NMI: the backtrace IPI waits until CPU 1 unmasks
        # interrupts; what it would show then is not the stuck context.
        c.eq(ctx, [], "no lockup-context without an NMI that reaches CPU 1")


# The mod branch's per-CPU stop records (StopContext at crash_save_cpu):
# asserted once the module writes them.
RECORDS_STOP_CONTEXT = any(
    "Kind::StopContext" in p.read_text() for p in (htvm.TOP / "rust").glob("*.rs") if p.name != "format.rs")


def check_pseudo_nmi(r, c):
    c.eq(r.boots, ["first", "crash"], "boots: the crash kernel started")
    c.that(r.has("irqchip.gicv3_pseudo_nmi=1"), "booted with pseudo-NMI requested")
    c.that(r.has("GICv3: Pseudo-NMIs enabled"), "the kernel uses pseudo-NMIs")
    c.that(not r.has("failed to stop secondary CPUs"), "no 'failed to stop secondary CPUs'")
    c.that(not r.has("Some CPUs may be stale"), "no 'Some CPUs may be stale'")
    d = r.json()
    c.eq(d["verdict"]["state"], "handoff", "verdict")
    c.that(d["header"]["flags"] & HDR_NMI_REACHES_IRQS_OFF, "header: an NMI reaches CPU 1")
    c.eq([s["cpu"] for s in d["stale_cpus"]], [], "stale_cpus (the NMI stopped CPU 1)")
    saved = {x["cpu"] for x in d["records"] if x.get("point") == "crash_save_cpu"}
    c.that(1 in saved, "CPU 1 ran crash_save_cpu from the stop NMI")
    if RECORDS_STOP_CONTEXT:
        stop = records(d, kind="stop-context", cpu=1)
        c.that(stop, "a stop-context record of CPU 1")
        c.eq({x["symbol"] for x in stop}, {DELAY_LOOP["arm64"]},
             "CPU 1's interrupted pc at the stop: the test_lockup delay loop")


TESTS = [
    ("smoke", check_smoke),
    ("module", check_module),
    ("softlockup-kdump", check_softlockup_kdump),
    ("stall-reset", check_stall_reset),
    ("stale-cpu", check_stale_cpu),
    ("user-points", check_user_points),
    ("report-hang", check_report_hang),
    ("hard-lockup", check_hard_lockup),
    ("pseudo-nmi", check_pseudo_nmi),
]

# --- runner ---------------------------------------------------------------------


# Run through the documented command line (scripts/run-scenario), not the
# library, so its interface and exit code are tested too.
VIA_CLI = {"stall-reset"}


def run_cli(scenario, arch, out):
    p = subprocess.run([htvm.SCRIPTS / "run-scenario", scenario, "--arch", arch, "--out", out],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise htvm.RunError(f"run-scenario exit {p.returncode}:\n{p.stderr[-3000:]}")
    return htvm.Result.load(Path(out))


def run_test(arch, scenario, check):
    c = Check()
    t0 = time.monotonic()
    out = f"{os.environ.get('HANGTRAIL_E2E_OUT', '/tmp/hangtrail-e2e')}/{scenario}-{arch}"
    try:
        if scenario in VIA_CLI:
            res = run_cli(scenario, arch, out)
        else:
            res = htvm.run(scenario, arch, out=out)
        check(res, c)
    except htvm.RunError as e:
        c.failures.append(str(e))
    except Exception:  # noqa: BLE001 - a broken check is a failed test, with its trace
        c.failures.append(traceback.format_exc())
    return c.failures, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="", help="only tests whose name contains this")
    ap.add_argument("--arch", action="append", choices=sorted(htvm.ARCHES))
    a = ap.parse_args()
    plan = [(f"{sc}/{arch}", arch, sc, fn) for sc, fn in TESTS
            for arch in htvm.SCENARIOS[sc].arches
            if a.k in f"{sc}/{arch}" and (not a.arch or arch in a.arch)]
    arches = sorted({p[1] for p in plan})
    print("TAP version 13")
    print(f"1..{len(plan)}")
    sys.stdout.flush()
    # Build both arches first (in parallel), so a build error is one clear failure.
    with concurrent.futures.ThreadPoolExecutor(max(1, len(arches))) as ex:
        for f in [ex.submit(htvm.prepare, arch) for arch in arches]:
            f.result()
    results = {}
    # One guest at a time per arch: a variant's runs (arm64-pnmi) follow its
    # arch's.
    groups = sorted({htvm.ARCHES[arch].arch for arch in arches})
    with concurrent.futures.ThreadPoolExecutor(max(1, len(groups))) as ex:
        futs = {}
        for g in groups:
            mine = [p for p in plan if htvm.ARCHES[p[1]].arch == g]
            futs[g] = ex.submit(lambda m: [(p[0], run_test(*p[1:])) for p in m], mine)
        for g, f in futs.items():
            results.update(dict(f.result()))
    passed = failed = 0
    for n, (name, *_rest) in enumerate(plan, 1):
        failures, secs = results[name]
        if failures:
            failed += 1
            print(f"not ok {n} {name}")
            for fl in failures:
                for ln in str(fl).splitlines():
                    print(f"# {ln}")
        else:
            passed += 1
            print(f"ok {n} {name} # {secs:.0f}s")
    print(f"e2e: {passed} passed, {failed} failed, 0 skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
