#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""hangtrail's end-to-end tests: scenarios in real QEMU guests, both arches.

Output is KTAP-style (kselftest): one `ok`/`not ok` line per scenario and
arch, `# ` diagnostics for each failed assertion, and a closing
`N passed, N failed, N skipped` line. The two arches run side by side.

  selftests/e2e.py [-k SUBSTRING] [--arch x86_64|arm64]
"""

import argparse
import concurrent.futures
import hashlib
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import htvm  # noqa: E402

ERRNO = {"EINVAL": 22, "EBUSY": 16}
MAX_POINTS = htvm.MAX_POINTS


class Check:
    """Collects assertion failures of one test instead of stopping at the first,
    and notes (figures worth reporting, shown as diagnostics either way)."""

    def __init__(self):
        self.failures = []
        self.notes = []

    def note(self, text):
        self.notes.append(text)

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


def check_channel(r, c):
    # The run itself fails on a file whose md5 does not match.
    for name in ("random.bin", "kallsyms"):
        if not c.that(name in r.files, f"{name} arrived"):
            continue
        # The flood really overlapped this transfer on the console.
        # Console lines can be split by the flood: look inside them.
        start = next((i for i, ln in enumerate(r.lines) if f"HT-SENDING {name}" in ln), None)
        if not c.that(start is not None, f"HT-SENDING {name} on the console"):
            continue
        end = next((i for i, ln in enumerate(r.lines) if i > start and
                    f"HT-FILE {name}" in ln), len(r.lines))
        flood = sum("ht-flood" in ln for ln in r.lines[start:end])
        c.that(flood >= 20, f"kernel messages on the console during {name}'s transfer: {flood}")


def check_permissions(r, c):
    # The test means something only if nobody could otherwise get in.
    c.eq(r.value("HT-NOBODY-ID"), "65534", "su nobody runs as uid 65534")
    c.eq(r.value("HT-NOBODY-CONTROL"), "public", "nobody reads a world-readable file")
    c.eq(r.value("HT-NOBODY-LS"), "current,previous,probes", "nobody lists the directory")
    perms = {v.split()[0]: v.split(maxsplit=4)[1:] for v in r.values("HT-PERM")}
    for name in ("previous", "current", "probes"):
        mode, owner, size, user = (perms.get(name, []) + ["?"] * 4)[:4]
        c.eq((mode, owner), ("400", "root"), f"{name}: mode and owner")
        c.that(size.isdigit() and int(size) > 0, f"{name}: root reads it ({size} bytes)")
        c.that(user.startswith("refused:") and "Permission denied" in user,
               f"{name}: a non-root read fails (got {user!r})")


def ring_slots(path, d):
    """{cpu: [seq in slot order]} of the decoder's valid ring records: each
    is found in the raw trail by its (seq, pc, cpu) at a 64-byte boundary,
    so the order is the ring's own, not the decoder's."""
    return {cpu: [seq for _, seq in v] for cpu, v in ring_offsets(path, d).items()}


def ring_offsets(path, d):
    """As ring_slots, with each record's byte offset: {cpu: [(offset, seq)]}."""
    raw = Path(path).read_bytes()
    want = {(x["seq"], x["pc"], x["cpu"]) for x in d["records"]}
    rings = {}
    for off in range(0, len(raw) - 63, 64):
        seq, pc, cpu = (int.from_bytes(raw[off:off + 8], "little"),
                        int.from_bytes(raw[off + 16:off + 24], "little"),
                        int.from_bytes(raw[off + 32:off + 36], "little"))
        if (seq, pc, cpu) in want:
            rings.setdefault(cpu, []).append((off, seq))
    return rings


def ring_base(d, cpu):
    """Byte offset of CPU `cpu`'s ring in a v2 trail (format.rs's layout;
    HEADER_SIZE read from there, its one definition)."""
    src = (htvm.TOP / "rust" / "format.rs").read_text()
    header_size = int(re.search(r"pub const HEADER_SIZE: usize = (\d+);", src).group(1))
    h = d["header"]
    return header_size + (h["nr_cpus"] * h["samples_per_cpu"] + cpu * h["ring_records"]) * 64


def check_ring_order(path, d, c, what):
    """Per CPU, going round the ring from its oldest record, seqs increase:
    at most one descent (newest -> oldest) in the circular slot order."""
    rings = ring_slots(path, d)
    c.eq(sum(map(len, rings.values())), len(d["records"]), f"{what}: records found in the raw rings")
    for cpu, seqs in sorted(rings.items()):
        descents = sum(a > b for a, b in zip(seqs, seqs[1:] + seqs[:1]))
        c.that(descents <= 1, f"{what}: CPU {cpu}'s ring out of seq order ({descents} descents)")


def check_storm(r, c):
    c.eq(r.value("HT-OOPS"), "0", "no oops, BUG or warning in dmesg")
    d = r.decode("current.bin")
    h = d["header"]
    ring, cpus = h["ring_records"], h["nr_cpus"]
    c.eq(cpus, 4, "CPUs in the trail")
    storm = dict(kv.split("=") for kv in (r.value("HT-STORM") or "").split())
    hits = {ln.split()[1]: int(ln.split("hits=")[1].split()[0])
            for ln in r.values("HT-PROBE") if "hits=" in ln}
    c.that(int(storm.get("hits", 0)) >= 20 * ring * cpus,
           f"every ring wrapped many times: {storm.get('hits')} hits, {ring} x {cpus} slots")
    bad = [x for x in d["invalid"] if x["reason"] != "torn"]
    c.eq(bad, [], "every slot valid or torn (no invalid record)")
    for cpu in range(cpus):
        valid = [x for x in d["records"] if x["cpu"] == cpu]
        torn = [x for x in d["invalid"] if x["cpu"] == cpu and x["area"] == "ring"]
        c.eq(len(valid) + len(torn), ring, f"CPU {cpu}'s ring is full")
        for point in ("read_zero", "write_null"):
            c.that(any(x.get("point") == point for x in valid), f"CPU {cpu} recorded {point}")
    for point in ("read_zero", "write_null"):
        n = len(records(d, point=point))
        c.that(0 < n <= hits.get(point, 0), f"{point}: {n} valid records <= {hits.get(point)} hits")
    check_ring_order(r.files["current.bin"], d, c, "current")
    c.that(not d["warnings"], f"decoder warnings: {d['warnings']}")
    # mem_type=2: every record was cleaned to memory (each clean is a kprobe
    # miss on arch_wb_cache_pmem: it runs inside hangtrail's handler). arm64
    # counts every one; x86_64 counted 0.4% fewer misses than records in a
    # run (not every nested hit reaches the miss counter there), so 95%.
    missed = {ln.split()[1]: int(ln.split("missed=")[1].split()[0])
              for ln in r.values("HT-PROBE") if "missed=" in ln}
    stormed = hits.get("read_zero", 0) + hits.get("write_null", 0)
    c.that(missed.get("arch_wb_cache_pmem", 0) >= 0.95 * stormed,
           f"mem_type=2 cleans every record: {missed.get('arch_wb_cache_pmem')} "
           f"arch_wb_cache_pmem calls from the handler, {stormed} storm records")


def check_random_reset(r, c):
    want = int(r.conf["HT_RESETS"])
    c.eq(r.boots, ["first"] + ["again"] * want, "boots")
    c.eq(r.resets, want, "warm resets")
    c.eq(r.value("HT-OOPS"), "0", "no oops, BUG or warning in dmesg")
    total = {"records": 0, "torn": 0}
    for n in range(1, want + 1):
        name = f"previous-{n}.bin"
        if not c.that(name in r.files, f"{name} sent"):
            continue
        d = r.decode(name)
        h = d["header"]
        ring = h["ring_records"]
        bad = [x for x in d["invalid"] if x["reason"] != "torn"]
        c.eq(bad, [], f"{name}: no invalid slot (a torn record is never shown as valid)")
        offs = ring_offsets(r.files[name], d)
        c.eq(sum(map(len, offs.values())), len(d["records"]), f"{name}: records found in the raw rings")
        for cpu in range(h["nr_cpus"]):
            valid = offs.get(cpu, [])
            torn = [x for x in d["invalid"] if x["cpu"] == cpu and x["area"] == "ring"]
            c.eq(len(valid) + len(torn), ring, f"{name}: CPU {cpu}'s ring is full")
            c.that(len(torn) <= 1, f"{name}: CPU {cpu}: {len(torn)} torn records, at most 1 in flight")
            if torn and valid:
                newest = max(valid, key=lambda v: v[1])[0]
                slot = (newest - ring_base(d, cpu)) // 64
                c.eq(torn[0]["slot"], (slot + 1) % ring,
                     f"{name}: CPU {cpu}'s torn slot is the one after its newest record")
        check_ring_order(r.files[name], d, c, name)
        total["records"] += len(d["records"])
        total["torn"] += sum(x["reason"] == "torn" for x in d["invalid"])
    c.note(f"resets {r.resets} (after {', '.join(f'{s:.2f}' for s in r.reset_delays)} s of storm); "
           f"records {total['records']}, torn {total['torn']}")


TESTS = [
    ("smoke", check_smoke),
    ("channel", check_channel),
    ("permissions", check_permissions),
    ("storm", check_storm),
    ("random-reset", check_random_reset),
    ("module", check_module),
    ("softlockup-kdump", check_softlockup_kdump),
    ("stall-reset", check_stall_reset),
    ("stale-cpu", check_stale_cpu),
    ("user-points", check_user_points),
    ("report-hang", check_report_hang),
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


# One output tree per checkout: several worktrees run e2e on one machine, and
# a run whose dir another run deletes and refills boots the other's initramfs
# at its next reset (QEMU reloads -initrd from the path).
OUT = Path("/tmp/hangtrail-e2e") / (
    f"{htvm.TOP.name}-{hashlib.sha256(str(htvm.TOP).encode()).hexdigest()[:8]}")


def run_test(arch, scenario, check):
    c = Check()
    t0 = time.monotonic()
    out = OUT / f"{scenario}-{arch}"
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
    return c.failures, c.notes, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="", help="only tests whose name contains this")
    ap.add_argument("--arch", action="append", choices=sorted(htvm.ARCHES))
    a = ap.parse_args()
    arches = a.arch or ["x86_64", "arm64"]
    plan = [(f"{sc}/{arch}", arch, sc, fn) for sc, fn in TESTS for arch in arches
            if a.k in f"{sc}/{arch}"]
    print("TAP version 13")
    print(f"1..{len(plan)}")
    sys.stdout.flush()
    # Build both arches first (in parallel), so a build error is one clear failure.
    with concurrent.futures.ThreadPoolExecutor(len(arches)) as ex:
        for f in [ex.submit(htvm.prepare, arch) for arch in arches]:
            f.result()
    results = {}
    with concurrent.futures.ThreadPoolExecutor(len(arches)) as ex:
        futs = {}
        for arch in arches:
            mine = [p for p in plan if p[1] == arch]
            futs[arch] = ex.submit(lambda m: [(p[0], run_test(*p[1:])) for p in m], mine)
        for arch, f in futs.items():
            results.update(dict(f.result()))
    passed = failed = 0
    for n, (name, *_rest) in enumerate(plan, 1):
        failures, notes, secs = results[name]
        if failures:
            failed += 1
            print(f"not ok {n} {name}")
            for fl in failures:
                for ln in str(fl).splitlines():
                    print(f"# {ln}")
        else:
            passed += 1
            print(f"ok {n} {name} # {secs:.0f}s")
        for note in notes:
            print(f"# {note}")
    print(f"e2e: {passed} passed, {failed} failed, 0 skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
