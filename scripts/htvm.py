# SPDX-License-Identifier: GPL-2.0
"""hangtrail's QEMU runner: build what a guest needs, boot it, drive a scenario.

A run boots one guest (x86_64 or arm64, TCG) with a reserved region, a
crashkernel= reservation and an initramfs holding busybox, kexec, the modules,
the kernel image (for kdump) and the scenario script. The guest's /init
(selftests/guest/init) talks to this runner through console lines starting
with HT-:

  HT-BOOT first|again|crash   which boot of the run this is
  HT-RESET-ME                 warm-reset me now (keeping RAM); also via printk
  HT-RESET-RANDOM             warm-reset me after a random delay (the
                              scenario's reset_delay range, seconds)
  HT-TRIGGERED                (via printk) the failure is being triggered: the
                              guest reaches the crash kernel or hangs; after
                              `silence` seconds without console output the
                              runner warm-resets it, as one would a hung box
  HT-FILE name md5            a file went over the file channel (below)
  HT-END                      done (the guest powers off)
  HT-FAIL why                 the scenario failed inside the guest

Files travel on a channel of their own, a second serial port (x86_64
ttyS1, arm64 ttyAMA1 -- QEMU's virt board gives a second PL011 to a second
-serial) that the kernel never prints to: no kernel message can interleave
with a file, whatever the loglevel. The runner keeps it in channel.log;
each file is a block

  HT-FILE-BEGIN name
  gzip+base64 lines
  HT-FILE-END name md5

Every run has a timeout; a failure says what failed and shows the last
console lines.

The Debian guests (stock-kdump, stock-stall; run_debian) boot a Debian 13
disk image scripts/build-rootfs made, with Debian's own kernel and systemd
as init: their driver
(selftests/guest/debian-run) says the same HT- lines through /dev/kmsg,
and the runner reads the results off the disk image once QEMU has exited.
"""

import base64
import dataclasses
import fcntl
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
SCRIPTS = TOP / "scripts"
CACHE = Path(os.environ.get("HANGTRAIL_CACHE", "/var/cache/hangtrail"))
ENV = dict(os.environ, PATH=f"/usr/lib/llvm-19/bin:{Path.home()}/.cargo/bin:{os.environ['PATH']}")


class RunError(Exception):
    """A run failed; the message says why (with the console tail)."""


@dataclasses.dataclass
class Arch:
    name: str  # the guest kernel's name for scripts/build-kernel
    qemu: list
    console: str
    channel: str  # the second serial port: the file channel
    region: int  # physical address of the hangtrail region
    reserve: str  # kernel args reserving region + control page + ramoops
    image: str  # kernel image, relative to the build dir
    ram: int  # an address inside System RAM (for a refused-load test)
    ramoops: int  # where the module test puts ramoops, which claims it
    boot_args: str = ""  # every kernel of a run, crash kernel too
    base: str = ""  # a variant's arch (x86_64, arm64); "" = name
    append: str = ""  # kernel args every run of this kernel needs
    kernel: str = ""  # scripts/build-kernel's name for its kernel; "" = name

    @property
    def arch(self):
        """x86_64 or arm64: what the guest runs on."""
        return self.base or self.name


REGION_SIZE = 0x100000
# After the region: the control page (the run's nonce, values kept across a
# warm reset); see selftests/guest/ht.sh.

ARCHES = {
    "x86_64": Arch(
        "x86_64",
        ["qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-m", "1G"],
        "ttyS0",
        "ttyS1",
        0x30000000,
        "memmap=2M$0x30000000",
        "arch/x86/boot/bzImage",
        0x1000000,
        # Above RAM: ramoops claims (request_mem_region) only what has no
        # struct page; memmap= ranges have them.
        0x70000000,
        # The IO-APIC timer check counts ticks over a delay: on a loaded host
        # TCG misses them and the kernel panics at boot ("IO-APIC + timer
        # doesn't work!"), seen after a warm reset during a storm.
        "no_timer_check",
    ),
    "arm64": Arch(
        "arm64",
        ["qemu-system-aarch64", "-M", "virt,gic-version=3", "-accel", "tcg", "-m", "1G"],
        "ttyAMA0",
        "ttyAMA1",
        0x78000000,
        "mem=768M",
        "arch/arm64/boot/Image",
        0x41000000,
        0x78110000,
    ),
}
# arm64 with pseudo-NMI in use: the crash stop and the hard-lockup backtrace
# reach a CPU with interrupts masked. The same kernel (built with
# ARM64_PSEUDO_NMI, as distributions build theirs), booted with it on.
ARCHES["arm64-pnmi"] = dataclasses.replace(
    ARCHES["arm64"], name="arm64-pnmi", base="arm64", kernel="arm64",
    append="irqchip.gicv3_pseudo_nmi=1")
# Debian's own binary kernel (trixie-backports, Rust-enabled), downloaded, with
# hangtrail.ko built against it as a Debian 13 host builds it
# (scripts/stock-kernel): the guests' initramfs and region, the stock image.
for _a in ("x86_64", "arm64"):
    ARCHES[f"{_a}-stock"] = dataclasses.replace(ARCHES[_a], name=f"{_a}-stock", base=_a,
                                                image="vmlinuz")


def is_stock(arch_name):
    """Whether a guest kernel name is a stock distribution kernel's."""
    return arch_name.endswith("-stock")


def has_kexec_file(build):
    """Whether the build's kernel has kexec_file_load (CONFIG_KEXEC_FILE)."""
    config = build.kdir / ("config" if is_stock(build.arch.name) else ".config")
    return "CONFIG_KEXEC_FILE=y" in config.read_text().splitlines()


@dataclasses.dataclass
class Scenario:
    """Host-side settings of a scenario; the guest side is
    selftests/scenarios/NAME.sh."""

    cpus: int = 2
    params: str = ""  # hangtrail.ko parameters of the scenario
    append: str = ""  # extra kernel args; {ramoops} is the ramoops address
    # Seconds without output after HT-TRIGGERED = hung; a tuple: the Nth
    # trigger of the run takes the Nth value (the last for any later one).
    silence: object = 25
    timeout: int = 300
    cpu: dict = dataclasses.field(default_factory=dict)  # arch -> -cpu model
    qemu: dict = dataclasses.field(default_factory=dict)  # arch -> extra QEMU args
    conf: dict = dataclasses.field(default_factory=dict)  # extra HT_* settings
    # hangtrail.ko parameters computed from the built kernel (disassembly).
    params_fn: object = None
    reset_delay: tuple = (0.5, 4.0)  # HT-RESET-RANDOM: uniform, seconds
    # Extra files in the guest's root: name -> function(build) -> bytes.
    files: dict = dataclasses.field(default_factory=dict)
    # Host binaries copied into the guest's /bin with the libraries ldd
    # names (x86_64 guests: the host's userspace).
    bins: tuple = ()
    script: str = ""  # selftests/scenarios/SCRIPT.sh; "" = the scenario's name
    # Guest kernels (ARCHES keys) the scenario runs on by default.
    arches: tuple = ("x86_64", "arm64")
    # Guest kernels it runs on only when asked (selftests/e2e.py --arch).
    on_request: tuple = ()
    # Extra kernel args computed from the Arch (addresses).
    append_fn: object = None
    # The kallsyms of the kernel that wrote previous.bin, if not the run's:
    # function(build) -> path.
    kallsyms_fn: object = None
    # A Debian guest (see run_debian): the disk image scripts/build-rootfs
    # makes, systemd as init; "hangtrail" = with hangtrail installed by
    # `make install`, "plain" = without.
    debian: str = ""
    # Extra QEMU args computed from the run: function(build, cmd, out) -> list
    # (cmd: the QEMU command so far; out: the run's output dir).
    qemu_fn: object = None
    # Kernel args reserving the region and control page, if not the Arch's.
    reserve: str = None
    # Guest kernels (ARCHES keys) run with all vCPUs on one host thread
    # (`-accel tcg,thread=single`, round-robin TCG) instead of one thread
    # each: see load-unload.
    one_thread: tuple = ()
    # A Debian guest booted by UEFI firmware with Secure Boot enforcing,
    # through shim and GRUB (secure_boot_qemu), instead of -kernel.
    secure_boot: bool = False


# The point table's size and the header flags, from their one definition
# (format.rs).
_FORMAT_RS = (TOP / "rust" / "format.rs").read_text()
MAX_POINTS = int(re.search(r"pub const MAX_POINTS: usize = (\d+);", _FORMAT_RS).group(1))
HDR = {m.group(1): 1 << int(m.group(2))
       for m in re.finditer(r"pub const (HDR_\w+): u32 = 1 << (\d+);", _FORMAT_RS)}

LOCKUP = "watchdog_thresh=3 softlockup_panic=1"
# The reserve_mem= name the reserve-mem scenarios give the region.
RESERVE_NAME = "hangtrail"
# A second reserve_mem= region, not whole pages (64-byte aligned): refused.
RESERVE_ODD = "reserve_mem=65600:64:htodd"
# dt-reserved's region: System RAM below mem=768M, clear of the kernel
# (0x40200000), the initrd (0x48000000) and crashkernel= (the top 256M).
DT_ADDR = 0x58000000
DT_NODE = (f"hangtrail@{DT_ADDR:x} {{ compatible = \"hangtrail\"; "
           f"reg = <0x0 {DT_ADDR:#x} 0x0 0x100000>; }};")
DT_NODE_NO_REG = 'hangtrail { compatible = "hangtrail"; };'
# Scenario.silence of a hang injected on the crash path (inject_stall at
# machine_kexec or lapic_shutdown): the trails put 5-30 ms of guest time
# between the panic, the kernel's last console line, and the stall, and a
# crash kernel that did start prints within a few seconds. The stalled CPU
# spins on a host core the whole time, slowing the other lane's guest too.
STALL_SILENCE = 10

SCENARIOS = {
    "smoke": Scenario(),
    "channel": Scenario(timeout=240),
    "permissions": Scenario(timeout=180),
    # 4 CPUs, a 64 KiB region: rings of 168 records, wrapped hundreds of times.
    "storm": Scenario(cpus=4, timeout=240,
                      conf={"HT_STORM_SECONDS": 6, "HT_STORM_SIZE": "0x10000"}),
    "random-reset": Scenario(cpus=2, timeout=300,
                             conf={"HT_RESETS": 3, "HT_STORM_SIZE": "0x10000"}),
    # Four boots: a hang, then loads that hold its trail until released;
    # overwrite=1; an orderly reboot's trail, not held.
    "overwrite-guard": Scenario(timeout=300),
    # A region holding what a load must not trust blindly, one case per load.
    "wrong-region": Scenario(timeout=300, files={"wrong.words": lambda b: wrong_region_words(b)}),
    # 100 loads and unloads while the other CPU hits points without pause.
    # x86_64 on one-thread TCG: x86 patches kernel text live (text_poke)
    # while the other vCPU runs it, and multi-threaded TCG now and then
    # keeps running a translation of the unpatched bytes, which oopses the
    # guest with or without hangtrail.ko (testing.rst, "What load-unload
    # found on x86_64"). arm64 patches under stop_machine: multi-threaded.
    "load-unload": Scenario(timeout=600, conf={"HT_LOADS": 100, "HT_STORM_SIZE": "0x10000"},
                            one_thread=("x86_64",)),
    "module": Scenario(
        timeout=240,
        # The too-many-points case: this many probes= points + the plan's.
        conf={"HT_MAX_POINTS": MAX_POINTS},
        append="ramoops.mem_address={ramoops} ramoops.mem_size=0x10000 "
        "ramoops.record_size=0x4000 ramoops.console_size=0x4000",
    ),
    # Also the cached mapping (mem_type=2): QEMU keeps no cache to lose.
    "softlockup-kdump": Scenario(append=LOCKUP, params="mem_type=2"),
    # arm64 (`make demo`) as Documentation/hangtrail.rst sets a host up: the
    # crash kernel loads hangtrail too (this guest's crash initramfs does), so
    # crash_marks=1 and a missing arrival mark is a hang; the other kernels
    # without it: the trail alone cannot tell, unconfirmed.
    # On Debian's stock kernels (hangtrail.ko from scripts/stock-kernel) when
    # asked: stock-kdump and stock-stall run this hang there in Debian guests.
    "stall-reset": Scenario(params="inject_stall=machine_kexec", silence=STALL_SILENCE,
                            params_fn=lambda b: "crash_marks=1" if b.arch.name == "arm64" else "",
                            on_request=("x86_64-stock", "arm64-stock")),
    "stale-cpu": Scenario(append="watchdog_thresh=3", silence=40),
    "user-points": Scenario(cpu={"arm64": "cortex-a57"}, params_fn=lambda b: user_points(b)),
    "report-hang": Scenario(append=LOCKUP, params="inject_stall=print_modules"),
    "no-kdump": Scenario(append="panic=1"),
    # arm64 `kexec -l`: with LPA2 the old kernel oopses in
    # trans_pgd_create_copy; without it the new one hangs at GICv3 ITS init.
    "kexec-reboot": Scenario(cpu={"arm64": "max,pauth-impdef=on,lpa2=off"},
                             qemu={"arm64": ["-M", "its=off"]}),
    # stall-reset with crash_kexec_post_notifiers: panic stops the other CPUs
    # and runs the panic notifiers before __crash_kexec.
    "post-notifiers": Scenario(append="crash_kexec_post_notifiers", script="stall-reset",
                               params="inject_stall=machine_kexec", silence=STALL_SILENCE),
    # x86_64 (the NMI shootdown has no arm64 twin): stall-reset with the
    # crash CPU hung after the shootdown returned, in the LAPIC shutdown
    # native_machine_crash_shutdown runs next, while CPU 1 was stopped by
    # the NMI and ran crash_save_cpu.
    "shootdown-stall": Scenario(params="inject_stall=lapic_shutdown", script="stall-reset",
                                silence=STALL_SILENCE,
                                arches=("x86_64",)),
    # shootdown-stall, then `hangtrail save` after the warm reset as
    # hangtrail-save.service runs it, socat standing in for journald's
    # socket (x86_64: the guest runs the host-built decoder).
    "save-reset": Scenario(params="inject_stall=lapic_shutdown", arches=("x86_64",),
                           silence=STALL_SILENCE,
                           bins=("/usr/bin/socat",)),
    # The trail in the region is a fixture's, from another boot: decoded
    # with the fixture's kallsyms (the symbol check refuses the run's).
    "v1-crash-kernel": Scenario(files={"v1.words": lambda b: v1_words(b)},
                                kallsyms_fn=lambda b: TOP / V1_FIXTURE.format(
                                    arch=b.arch.arch).replace("trail.bin", "kallsyms")),
    # A handler that kprobes skip stays unknown only where an NMI stops the
    # CPU (on arm64 without pseudo-NMI the masked CPU never stops: stale-cpu).
    "stop-missed": Scenario(params="inject_stall=ksys_sync", silence=40, arches=("x86_64",)),
    # No panic: the run ends with a warm reset once the lockup is over.
    "hard-lockup": Scenario(append="watchdog_thresh=3", arches=("x86_64", "arm64", "arm64-pnmi"),
                            timeout=360),
    # stale-cpu on the pseudo-NMI kernel: the stop reaches CPU 1.
    # The stop waits 1 s of udelay for the normal IPI before the NMI retry:
    # tens of seconds under TCG on a busy host.
    # The region from reserve_mem= by name (System RAM): the crash kernel is
    # given its address, the first kernel finds it again after a warm reset.
    # x86_64 without KASLR: the decompressor may put the kernel image where
    # the region was (about one placement in fifty with this layout), and
    # reserve_mem= then picks another range: a random failure here, a
    # documented limit on a host (Documentation/hangtrail.rst).
    "reserve-mem": Scenario(append=f"reserve_mem=1M:4096:{RESERVE_NAME} {RESERVE_ODD}",
                            append_fn=lambda a: "nokaslr" if a.arch == "x86_64" else "",
                            conf={"HT_NAME": RESERVE_NAME, "HT_SOURCE": "name"}, timeout=360),
    # The same with a device tree reserved-memory node (no parameter names
    # the region), in System RAM (no no-map); its crash kernel finds the node
    # in the device tree kexec gives it.
    "dt-reserved": Scenario(qemu_fn=lambda b, cmd, out: dtb_with_node(b, cmd, out, DT_NODE),
                            conf={"HT_SOURCE": "dt"}, script="reserve-mem", timeout=360,
                            arches=("arm64",)),
    # reserve-mem on arm64 booted the way servers boot: UEFI firmware
    # (Debian's AAVMF) starting the kernel's EFI stub, ACPI instead of a
    # device tree; the crash kernel too. The firmware rewrites the top of RAM
    # on every boot (measured: 0x71f00000 up, where it loads the 75 MB
    # initramfs and the kernel), the control page included: the harness
    # moves it to 0x70100000, above mem=768M (the trail is in the
    # reserve_mem= region, below).
    "uefi-acpi": Scenario(append=f"acpi=force reserve_mem=1M:4096:{RESERVE_NAME} {RESERVE_ODD}",
                          conf={"HT_NAME": RESERVE_NAME, "HT_SOURCE": "name",
                                "HT_REGION_ADDR": "0x70000000",
                                "HT_CRASH_APPEND": "console=ttyAMA0 acpi=force maxcpus=1 reset_devices"},
                          qemu_fn=lambda b, cmd, out: uefi_firmware(b, cmd, out),
                          script="reserve-mem", timeout=600,
                          arches=("arm64",)),
    # dt-reserved with the node marked no-map: out of the linear map, not
    # System RAM: claimed (/proc/iomem) and mapped with memremap.
    "dt-no-map": Scenario(qemu_fn=lambda b, cmd, out: dtb_with_node(
                              b, cmd, out, DT_NODE.replace("; };", "; no-map; };")),
                          conf={"HT_SOURCE": "dt", "HT_NOMAP": 1}, script="reserve-mem",
                          timeout=360, arches=("arm64",)),
    # A hangtrail node that reserves nothing (no reg): refused.
    "dt-no-reg": Scenario(qemu_fn=lambda b, cmd, out: dtb_with_node(b, cmd, out, DT_NODE_NO_REG),
                          arches=("arm64",), timeout=180),
    "pseudo-nmi": Scenario(append="watchdog_thresh=3", silence=120, timeout=420, script="stale-cpu",
                           arches=("arm64-pnmi",)),
    # Debian 13 guests on Debian's own kernel: systemd, kdump-tools' own
    # service loads the crash kernel, hangtrail installed by `make install`
    # with the module built against that kernel. stock-kdump: sysrq-c,
    # hangtrail.ko in kdump-tools' initramfs marks the trail,
    # hangtrail-save.service keeps it there, kdump-tools dumps (see
    # check_stock_kdump) and reboots; hangtrail-save.service at the next
    # boot finds it kept. That boot then reloads hangtrail.ko with
    # inject_stall=machine_kexec and crashes again: the hang, the warm reset
    # and the save at the boot after it (stock-stall's case, in the same
    # run: a Debian boot costs 1-2 minutes under TCG). Before all that, the
    # region moves to one the kernel reserves at boot (reserve_mem=, as on
    # an arm64 UEFI/ACPI server) and a reboot: at that boot
    # hangtrail-save.service has kdump-tools make its initramfs again, with
    # the address the crash kernel needs.
    # x86_64 on request: quickstart/x86_64 shows the same on that arch.
    "stock-kdump": Scenario(debian="hangtrail", timeout=1500, silence=(120, STALL_SILENCE),
                            append="reserve_mem=1M:4096:hangtrail",
                            arches=("arm64-stock",), on_request=("x86_64-stock",)),
    # stock-stall: hangtrail loaded at boot stalls the crash path in
    # machine_kexec (its parameter from the command line, as modprobe takes
    # hangtrail.PARAM=); warm reset; hangtrail-save.service at the next boot.
    # Only when asked: stock-kdump's second crash is this case.
    "stock-stall": Scenario(debian="hangtrail", append="hangtrail.inject_stall=machine_kexec",
                            timeout=900, silence=STALL_SILENCE, arches=(),
                            on_request=("x86_64-stock", "arm64-stock")),
    # Secure Boot: the Debian image booted by EDK2 (OVMF, AAVMF; Microsoft's
    # keys, Secure Boot on) through trixie's shim and GRUB, a machine owner
    # key in MokList as a user enrolls DKMS's, the module signed with it
    # (scripts/secure-boot-parts). The kernel is locked down (integrity):
    # the signed module loads, an unsigned one is refused; debugfs reads
    # work, its writes and /dev/mem do not. x86_64: the module stalls the
    # crash path in machine_kexec; arm64: Debian's kernel cannot load a crash
    # kernel under lockdown (no kexec_file_load), the panic stays in
    # panic(). Warm reset through the firmware; hangtrail-save.service keeps
    # the trail and releases it (the module parameter lockdown allows).
    "secure-boot": Scenario(debian="hangtrail", secure_boot=True, timeout=1200,
                            silence=STALL_SILENCE, arches=("x86_64-stock", "arm64-stock")),
    # README.md's quickstart, its own command blocks run in order as root on
    # a Debian 13 server booted by UEFI firmware, shim and GRUB from its
    # disks (build-rootfs --server; install_server), kdump-tools at its
    # defaults; the harness gives only a package source (run_debian:
    # server_repo) and the triggers. Then sysrq-c: kdump-tools' kdump,
    # `handoff`; then a stall in machine_kexec, which the watchdog
    # `hangtrail setup` armed resets (the runner waits 420 s), on a full
    # /var/lib/hangtrail: `hung` in the journal, not on disk.
    "quickstart": Scenario(debian="server", timeout=3000, silence=(400, 420),
                           arches=("x86_64-stock",)),
    # Not a test: the server image's installation (install_server): GRUB
    # and shim into its EFI system partition, the firmware's boot entry.
    "server-install": Scenario(debian="server", timeout=900, silence=120,
                               arches=("x86_64-stock", "arm64-stock")),
    # Not a test: the Debian image's first boot (prepare_debian), where
    # kdump-tools makes its initramfs, as on a host after the install.
    "first-boot": Scenario(debian="hangtrail", timeout=900, silence=120,
                           arches=("x86_64-stock", "arm64-stock")),
}


# The v1 trail the v1-crash-kernel scenario puts in the region: a golden
# fixture captured from a real v1 guest run.
V1_FIXTURE = "tools/hangtrail/tests/fixtures/guest-report-hang-{arch}/trail.bin"


def v1_words(build):
    """`offset value` lines for the non-zero 8-byte words of the v1 fixture
    (the guest writes them with devmem into its zeroed region)."""
    b = (TOP / V1_FIXTURE.format(arch=build.arch.arch)).read_bytes()
    lines = [f"{i} 0x{int.from_bytes(b[i:i + 8], 'little'):016x}"
             for i in range(0, len(b), 8) if any(b[i:i + 8])]
    return ("\n".join(lines) + "\n").encode()


# wrong-region: what the guest puts in the region before each load. A real
# v2 trail of the arch (a golden fixture from a guest run; flags 0 or NMI
# only: a crash's, held by a load).
V2_FIXTURE = {"x86_64": "tools/hangtrail/tests/fixtures/guest-v2-no-kdump-x86_64/trail.bin",
              "arm64": "tools/hangtrail/tests/fixtures/guest-v2-stall-reset-arm64/trail.bin"}
OTHER_RELEASE = b"6.1.0-99-other-hangtrail"
FLIPS = 4


def trail_slots(trail):
    """trailkit's `slots` of a trail (bytes, or a file): {"record_size",
    "slots": [{"offset", "area", "cpu", "slot", "seq", "kind", "valid",
    "payload"}]}, every slot whose seq is non-zero, in region order."""
    if isinstance(trail, (bytes, bytearray)):
        return json.loads(trailkit("slots", "-", data=bytes(trail)))
    return json.loads(trailkit("slots", trail))


def wrong_region_cases(arch):
    """[(name, bytes)] in the order the guest loads them: an older format
    (v1), a trail from another kernel release, random bit flips in records of
    a real trail (which records: `flipped` below), garbage with no magic."""
    v1 = bytearray((TOP / V1_FIXTURE.format(arch=arch)).read_bytes())
    v2 = bytearray((TOP / V2_FIXTURE[arch]).read_bytes())
    other = trailkit("edit", "--release", OTHER_RELEASE.decode(), "-", data=bytes(v2))
    flips, _ = flipped(arch, v2)
    rng = random.Random(f"garbage-{arch}")
    garbage = bytearray(rng.randbytes(4096)) + bytearray(len(v2) - 4096)
    return [("v1", bytes(v1)), ("other-release", bytes(other)), ("flips", bytes(flips)),
            ("garbage", bytes(garbage))]


def flipped(arch, v2):
    """The v2 trail with one random bit flipped in each of FLIPS records
    (seeded: the same every run); returns it and the flipped slots' offsets."""
    rng = random.Random(f"flips-{arch}")
    img = bytearray(v2)
    slots = trail_slots(v2)
    hit = sorted(rng.sample([s["offset"] for s in slots["slots"]], FLIPS))
    for off in hit:
        bit = rng.randrange(slots["record_size"] * 8)
        img[off + bit // 8] ^= 1 << (bit % 8)
    return img, hit


def wrong_region_words(build):
    """`case offset value` lines: for each case, the 8-byte words that differ
    from what the region holds before it (zeros, then the case before; a
    load that holds a trail writes nothing)."""
    lines, before = [], bytes(REGION_SIZE)
    for name, img in wrong_region_cases(build.arch.arch):
        img = img.ljust(REGION_SIZE, b"\0")
        for i in range(0, REGION_SIZE, 8):
            if img[i:i + 8] != before[i:i + 8]:
                lines.append(f"{name} {i} 0x{int.from_bytes(img[i:i + 8], 'little'):016x}")
        before = img
    return ("\n".join(lines) + "\n").encode()


def disasm(build, symbol):
    """[(offset, instruction text)] of `symbol` in the built vmlinux."""
    out = sh(["llvm-objdump", "-d", "--no-show-raw-insn", f"--disassemble-symbols={symbol}",
              build.kdir / "vmlinux"])
    insns, start = [], None
    for ln in out.splitlines():
        if ln.endswith(f"<{symbol}>:") or (start is None and ln.endswith(">:")):
            start = int(ln.split()[0], 16)
            continue
        parts = ln.split(":", 1)
        if start is not None and len(parts) == 2 and parts[1].strip():
            try:
                insns.append((int(parts[0], 16) - start, " ".join(parts[1].split())))
            except ValueError:
                pass
    if not insns:
        raise RunError(f"no disassembly of {symbol} in {build.kdir}/vmlinux")
    return insns


def offset_of(insns, mnemonic, after=0):
    """Offset of the first instruction starting with `mnemonic` past `after`."""
    for off, text in insns:
        if off >= after and text.startswith(mnemonic):
            return off
    raise RunError(f"no '{mnemonic}' instruction in the disassembly")


def user_points(build):
    """Scenario 4's points, from the guest kernel's own disassembly: several
    offsets inside one function, inject_stall on one of them."""
    if build.arch.arch == "arm64":
        # The loop `kexec -p` runs on 6.12 (kexec_segment_flush), as the
        # report's __flush_dcache_area; and the report's own dc cvau / ic ivau,
        # in caches_clean_inval_pou (run by module loads and text patching).
        d = disasm(build, "dcache_clean_inval_poc")
        civac = offset_of(d, "dc civac")
        dsb = offset_of(d, "dsb", civac)
        ret = offset_of(d, "ret", dsb)
        c = disasm(build, "caches_clean_inval_pou")
        pts = [f"dcache_clean_inval_poc+{o:#x}" for o in (0, civac, dsb, ret)]
        pts += [f"caches_clean_inval_pou+{offset_of(c, m):#x}" for m in ("dc cvau", "ic ivau")]
        stall = f"dcache_clean_inval_poc+{civac:#x}"
    else:
        # machine_kexec: its first call (cet_disable) and the instruction after.
        d = disasm(build, "machine_kexec")
        call = offset_of(d, "call")
        nxt = next(o for o, _ in d if o > call)
        pts = [f"machine_kexec+{o:#x}" for o in (0, call, nxt)]
        stall = f"machine_kexec+{call:#x}"
    return f"probes={','.join(pts)} inject_stall={stall}"



def dtb_with_node(build, cmd, out, node):
    """QEMU args booting the guest with the board's own device tree plus a
    /reserved-memory child `node`: the board's DTB dumped by QEMU itself
    (-machine dumpdtb, same machine, CPUs, RAM and serial ports), edited as
    source with dtc. QEMU still sets /chosen (command line, initrd) in it."""
    dumped, dts, dtb = out / "board.dtb", out / "ht.dts", out / "ht.dtb"
    q = [a for a in cmd]
    for i, a in enumerate(q):
        if a in ("-serial", "-monitor"):
            q[i + 1] = "null" if a == "-serial" else "none"
    sh(q + ["-machine", f"dumpdtb={dumped}"])
    src = sh(["dtc", "-q", "-I", "dtb", "-O", "dts", dumped])
    # A second root node merges into the first.
    dts.write_text(src + "\n/ {\n\treserved-memory {\n\t\t#address-cells = <2>;\n"
                   "\t\t#size-cells = <2>;\n\t\tranges;\n\t\t" + node + "\n\t};\n};\n")
    sh(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", dtb, dts])
    return ["-dtb", str(dtb)]


AAVMF = Path("/usr/share/AAVMF")


def uefi_firmware(build, cmd, out):
    """QEMU args booting the arm64 guest through Debian's packaged UEFI
    firmware (qemu-efi-aarch64: AAVMF, edk2's ArmVirtQemu): code read-only,
    a fresh copy of the variable store per run. QEMU hands -kernel, -initrd
    and -append to the firmware, which starts the kernel's EFI stub."""
    if not (AAVMF / "AAVMF_CODE.fd").exists():
        raise RunError(f"{AAVMF}/AAVMF_CODE.fd missing: run scripts/install-deps (qemu-efi-aarch64)")
    shutil.copy2(AAVMF / "AAVMF_VARS.fd", out / "vars.fd")
    return ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={AAVMF / 'AAVMF_CODE.fd'}",
            "-drive", f"if=pflash,format=raw,unit=1,file={out / 'vars.fd'}"]


def log(msg):
    print(f"hangtrail: {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    """Runs a command; on failure raises RunError with its output tail."""
    p = subprocess.run(cmd, env=ENV, text=True, capture_output=True, **kw)
    if p.returncode != 0:
        tail = "\n".join((p.stdout + p.stderr).splitlines()[-25:])
        raise RunError(f"{' '.join(map(str, cmd))} failed (exit {p.returncode}):\n{tail}")
    return p.stdout.strip()


@dataclasses.dataclass
class Build:
    arch: Arch
    kdir: Path
    modules: Path
    decoder: Path


_builds = {}
_build_lock = threading.Lock()


def decoder_path():
    return Path(os.environ.get("CARGO_TARGET_DIR") or TOP / "target") / "release" / "hangtrail"


def trailkit_path():
    """The tests' tool for a trail's bytes (tools/hangtrail/examples/trailkit.rs,
    not installed): what they need of the layout, from format.rs."""
    return decoder_path().parent / "examples" / "trailkit"


def build_decoder():
    """Builds the decoder, and trailkit (apart: an example builds the crate
    with its dev-dependencies' features, the shipped binary must not)."""
    sh(["cargo", "build", "--release", "--quiet", "-p", "hangtrail"], cwd=TOP)
    sh(["cargo", "build", "--release", "--quiet", "-p", "hangtrail", "--example", "trailkit"], cwd=TOP)
    return decoder_path()


def trailkit(*args, data=None):
    """trailkit's output (bytes) for `args`, `data` on its standard input."""
    cmd = [trailkit_path(), *map(str, args)]
    p = subprocess.run(cmd, env=ENV, input=data, capture_output=True)
    if p.returncode != 0:
        raise RunError(f"{' '.join(map(str, cmd))} failed (exit {p.returncode}): "
                       f"{p.stderr.decode(errors='replace').strip()}")
    return p.stdout


def prepare(arch_name):
    """Builds (or finds cached) the kernel, modules and decoder for an arch."""
    with _build_lock:
        if arch_name in _builds:
            return _builds[arch_name]
    arch = ARCHES[arch_name]
    if is_stock(arch_name):
        # The kernel and hangtrail.ko in one dir (no test modules: the stock
        # kernel has no test_lockup, and smoke/htbench are the 6.12 rig's).
        kdir = modules = Path(sh([SCRIPTS / "stock-kernel", arch.arch]).splitlines()[-1])
    else:
        kernel = arch.kernel or arch_name
        kdir = Path(sh([SCRIPTS / "build-kernel", kernel]).splitlines()[-1])
        modules = Path(sh([SCRIPTS / "build-modules", kernel, kdir]).splitlines()[-1])
    with _build_lock:
        decoder = build_decoder()
        _builds[arch_name] = Build(arch, kdir, modules, decoder)
        return _builds[arch_name]


def copy_with_libs(binary, dst, root):
    """Copies a dynamic host binary and every library ldd names into root."""
    shutil.copy2(binary, dst)
    for line in sh(["ldd", binary]).splitlines():
        path = next((p for p in line.split() if p.startswith("/")), None)
        if path:
            lib = root / path.lstrip("/")
            lib.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(path), lib)


def userspace(arch, root, decoder):
    """Copies busybox, kexec and kexec's libraries into root; on x86_64 also
    the decoder, so a guest can run `hangtrail decode --devmem`."""
    if arch.arch == "arm64":
        src = CACHE / "arm64-userspace"
        if not (src / ".done").exists():
            raise RunError("arm64 guest userspace missing: run scripts/install-deps")
        for d in ("bin", "sbin", "lib", "usr"):
            if (src / d).exists():
                shutil.copytree(src / d, root / d, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(root / "usr" / "share", ignore_errors=True)
        return
    (root / "bin").mkdir(parents=True, exist_ok=True)
    (root / "sbin").mkdir(parents=True, exist_ok=True)
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    copy_with_libs("/sbin/kexec", root / "sbin" / "kexec", root)
    copy_with_libs(decoder, root / "bin" / "hangtrail", root)
    sh(["llvm-strip", root / "bin" / "hangtrail"])


def cpio(root, dest):
    files = subprocess.run(
        ["find", "."], cwd=root, capture_output=True, check=True
    ).stdout
    with open(dest, "wb") as f:
        subprocess.run(
            ["cpio", "--quiet", "-o", "-H", "newc"], cwd=root, input=files, stdout=f, check=True
        )


def initramfs(build, sc_name, conf, work):
    """Builds crash.cpio and main.cpio for a run in work/."""
    root = work / "root"
    shutil.rmtree(root, ignore_errors=True)
    for d in ("proc", "sys", "dev", "etc", "lib/modules", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    userspace(build.arch, root, build.decoder)
    for ko in ("hangtrail.ko",) if is_stock(build.arch.name) else (
            "hangtrail.ko", "smoke.ko", "test_lockup.ko", "htbench.ko"):
        shutil.copy2(build.modules / ko, root / "lib" / "modules" / ko)
    shutil.copy2(TOP / "selftests" / "guest" / "init", root / "init")
    os.chmod(root / "init", 0o755)
    shutil.copy2(TOP / "selftests" / "guest" / "ht.sh", root / "lib" / "ht.sh")
    script = SCENARIOS[sc_name].script or sc_name
    shutil.copy2(TOP / "selftests" / "scenarios" / f"{script}.sh", root / "scenario.sh")
    # A non-root user for the tests that need one (su nobody).
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/sh\n"
                                         "nobody:x:65534:65534:nobody:/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    for b in SCENARIOS[sc_name].bins:
        copy_with_libs(b, root / "bin" / Path(b).name, root)
    for name, make in SCENARIOS[sc_name].files.items():
        (root / name).write_bytes(make(build))
    with open(root / "etc" / "ht.conf", "w") as f:
        for k, v in conf.items():
            f.write(f"{k}='{v}'\n")
    cpio(root, work / "crash.cpio")
    shutil.move(work / "crash.cpio", root / "crash.cpio")
    shutil.copy2(build.kdir / build.arch.image, root / "kernel")
    cpio(root, work / "main.cpio")
    shutil.rmtree(root)
    return work / "main.cpio"


class Console:
    """Reads QEMU's serial console into lines and console.log."""

    def __init__(self, stream, logfile):
        self.lines = []
        self.times = []  # time.monotonic() at which each line arrived
        self.last = time.monotonic()
        self._lock = threading.Lock()
        self._log = open(logfile, "w", errors="replace")
        self._t = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._t.start()

    def _read(self, stream):
        buf = b""
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(4096)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            text = [ln.decode("utf-8", "replace").rstrip("\r") for ln in done]
            with self._lock:
                self.lines.extend(text)
                self.last = time.monotonic()
                self.times.extend([self.last] * len(text))
                for ln in text:
                    self._log.write(ln + "\n")
                self._log.flush()
        if buf:
            with self._lock:
                self.lines.append(buf.decode("utf-8", "replace"))

    def since(self, i):
        with self._lock:
            return self.lines[i:]

    def reading(self):
        """Whether the reader has not yet seen the end of QEMU's output."""
        return self._t.is_alive()

    def wait_eof(self, seconds):
        self._t.join(seconds)

    def silent_for(self):
        with self._lock:
            return time.monotonic() - self.last

    def tail(self, n=30):
        with self._lock:
            return "\n".join(self.lines[-n:])

    def close(self):
        self._t.join(timeout=5)
        self._log.close()


PRINTK_TIME = re.compile(r"^\[ *\d+\.\d+\] ")
# An HT- line said through /dev/kmsg, wherever it starts in a console line:
# under systemd a process's own console output ("[  OK  ] ...") can be cut
# by a kernel message, which then starts mid-line.
KMSG_HT = re.compile(r"\[ *\d+\.\d+\] (HT-[A-Z][A-Z-]*(?: .*)?)$")


def ht_line(ln):
    """A console line as the HT- protocol reads it: an HT- message said
    through /dev/kmsg, from its printk timestamp on, or else the line
    without a leading printk timestamp."""
    m = KMSG_HT.search(ln)
    return m.group(1) if m else PRINTK_TIME.sub("", ln, count=1)


@dataclasses.dataclass
class Result:
    out: Path
    lines: list
    boots: list
    resets: int
    files: dict
    arch: str
    scenario: str
    conf: dict
    reset_delays: list = dataclasses.field(default_factory=list)

    @classmethod
    def load(cls, out):
        """A finished run's Result, from the files it left in `out`."""
        meta = json.loads((out / "run.json").read_text())
        lines = (out / "console.log").read_text(errors="replace").splitlines()
        files = {f: out / f for f in meta["files"]}
        return cls(out, lines, meta["boots"], meta["resets"], files, meta["arch"],
                   meta["scenario"], meta["conf"], meta.get("reset_delays", []))

    def has(self, text):
        return any(text in ln for ln in self.lines)

    def value(self, key):
        """The rest of the last console line starting with `key ` (after a
        printk timestamp, for lines said through /dev/kmsg)."""
        vals = self.values(key)
        return vals[-1] if vals else None

    def values(self, key):
        """The rest of every console line starting with `key ` (as above)."""
        lines = (ht_line(ln) for ln in self.lines)
        return [ln[len(key) + 1 :] for ln in lines if ln.startswith(key + " ")]

    def json(self, name="decode.json"):
        return json.loads((self.out / name).read_text())

    def decode(self, trail, *extra):
        """Decodes another trail file of this run (--json)."""
        args = [decoder_path(), "decode", "--json", *extra,
                *symbol_args(self.files, prepare(self.arch).kdir), self.out / trail]
        return json.loads(sh(args))


def extract_files(lines, out):
    """Writes every HT-FILE block of the file channel to out/, checking its
    md5. A block cut short by a reset is dropped (a later one may follow)."""
    files, name, chunks = {}, None, []
    for ln in lines:
        if ln.startswith("HT-FILE-BEGIN "):
            name, chunks = ln.split()[1], []
        elif ln.startswith("HT-FILE-END ") and name:
            _, end_name, md5 = ln.split()
            try:
                data = gzip.decompress(base64.b64decode("".join(chunks)))
            except Exception as e:  # noqa: BLE001 - any decode error means corrupt
                raise RunError(f"file {end_name} arrived corrupt over the file channel: {e}")
            if hashlib.md5(data).hexdigest() != md5:
                raise RunError(f"file {end_name} arrived corrupt over the file channel (md5)")
            (out / end_name).write_bytes(data)
            files[end_name] = out / end_name
            name = None
        elif name:
            chunks.append(ln.strip())
    return files


def check_announced(lines, files):
    """Every file the console announced (HT-FILE name md5) is the one that
    arrived on the channel."""
    for ln in lines:
        parts = ln.split()
        if len(parts) == 3 and parts[0] == "HT-FILE":
            name, md5 = parts[1:]
            if name not in files:
                raise RunError(f"file {name} was sent but never arrived on the file channel")
            if hashlib.md5(files[name].read_bytes()).hexdigest() != md5:
                raise RunError(f"file {name}: the last copy on the file channel is not the "
                               f"one announced (md5 {md5})")


def monitor(sock, cmd, reply=False):
    """Runs a QEMU monitor command; with `reply`, returns what the monitor
    printed (read until it has been quiet for a second)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(sock))
    s.recv(4096)
    s.sendall(cmd.encode() + b"\n")
    time.sleep(0.3)
    out = b""
    if reply:
        s.settimeout(1)
        try:
            while chunk := s.recv(65536):
                out += chunk
        except OSError:
            pass
    s.close()
    return out.decode(errors="replace")


# An x86_64 boot that QEMU stopped: now and then (about 1 in 30 x86 runs
# under load, seen in the busybox and the Debian guests, after a warm reset
# and at the first boot) a boot stops early with no console output and
# every vCPU halted, waiting for an interrupt that never comes; the same
# guest boots again. After BOOT_STALL seconds of silence in a boot that has
# not said HT-BOOT (one the runner reset into, or any kernel's "Linux
# version" line: the crash kernel, the reboot after it), the runner asks QEMU
# whether every vCPU is halted and
# if so fails the run with BOOT_STALL_MARK (selftests/e2e.py runs such a
# test once more). Documentation/testing.rst, "x86_64 boots that stop".
BOOT_STALL = 60
BOOT_STALL_MARK = "boot stopped with every vCPU halted"


def halted_vcpus(sock):
    """(halted, total) vCPUs of an x86 guest, from `info registers -a`."""
    regs = monitor(sock, "info registers -a", reply=True)
    return regs.count("HLT=1"), regs.count("HLT=")


# The guest CPU models. x86_64: qemu64 as Intel's. Linux times each CPU's
# delay loop itself (calibrate_delay_direct, against jiffies) unless the
# TSC is constant, and a vCPU the host stops meanwhile counts too few loops:
# its udelay/mdelay then run short (in one CI run on this 2-core host, 15
# of 27 x86 guests had a CPU below 90% of the boot CPU's loops, one at 1/12:
# its test_lockup lockup of 30 s was over in 2.5 s). TCG offers no
# invariant-TSC flag, but Intel's family 15 from model 3 on has a constant
# TSC (early_init_intel), so every CPU takes the boot CPU's value, timed
# from the TSC's frequency. The test kernel has no CPU mitigations that the
# vendor would switch on.
DEFAULT_CPU = {"x86_64": "qemu64,vendor=GenuineIntel", "arm64": "max,pauth-impdef=on"}


def qemu_base(arch, sc):
    """The arch's QEMU command, on one host thread if the scenario says so."""
    if arch.arch not in sc.one_thread:
        return list(arch.qemu)
    i = arch.qemu.index("-accel")
    return arch.qemu[:i + 1] + ["tcg,thread=single"] + arch.qemu[i + 2:]


def run(sc_name, arch_name, cpus=None, append="", params="", out=None, timeout=None, conf=None):
    """Runs one scenario in a fresh guest; returns a Result or raises RunError."""
    sc = SCENARIOS[sc_name]
    if sc.debian:
        if params or conf:
            raise RunError(f"{sc_name}: a Debian guest takes no --params or conf (its "
                           "hangtrail options are the image's modprobe.d and the command line)")
        return run_debian(sc_name, arch_name, cpus=cpus, append=append, out=out, timeout=timeout)
    build = prepare(arch_name)
    arch = build.arch
    cpus = cpus or sc.cpus
    out = Path(out or Path("/tmp") / f"hangtrail-{sc_name}-{arch_name}")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    timeout = timeout or sc.timeout

    run_conf = {
        "HT_ARCH": arch.arch,
        "HT_KERNEL": arch_name,
        "HT_SCENARIO": sc_name,
        "HT_CPUS": cpus,
        "HT_NONCE": f"0x{random.getrandbits(63) | 1:016X}",
        "HT_PATTERN": f"0x{random.getrandbits(63) | 1:016X}",
        "HT_REGION_ADDR": hex(arch.region),
        "HT_REGION_SIZE": hex(REGION_SIZE),
        "HT_RAM_ADDR": hex(arch.ram),
        "HT_RAMOOPS_ADDR": hex(arch.ramoops),
        # --params comes last: for a repeated parameter the kernel keeps the
        # last value, so the caller's wins over the scenario's.
        "HT_PARAMS": " ".join(
            p for p in (sc.params, sc.params_fn(build) if sc.params_fn else "", params) if p
        ),
        "HT_CRASH_APPEND": " ".join(a for a in (f"console={arch.console}", arch.boot_args,
                                                "maxcpus=1 reset_devices") if a),
        "HT_CHANNEL": f"/dev/{arch.channel}",
        # kexec_file_load where the kernel has it; Debian's arm64 kernel has
        # only kexec_load (no KEXEC_FILE), which kdump-tools uses there too.
        "HT_KEXEC_SYSCALL": "-s" if has_kexec_file(build) else "",
    }
    run_conf.update(sc.conf)
    run_conf.update(conf or {})
    cmdline = " ".join(
        a
        for a in (f"console={arch.console}", arch.boot_args,
                  arch.reserve if sc.reserve is None else sc.reserve, "crashkernel=256M", arch.append,
                  sc.append.format(ramoops=hex(arch.ramoops)),
                  sc.append_fn(arch) if sc.append_fn else "", append)
        if a
    )
    initrd = initramfs(build, sc_name, run_conf, out)
    sock = out / "monitor.sock"
    cpu_model = sc.cpu.get(arch.arch, DEFAULT_CPU[arch.arch])
    cmd = qemu_base(arch, sc) + ["-smp", str(cpus), "-kernel", str(build.kdir / arch.image),
                       "-initrd", str(initrd), "-append", cmdline, "-display", "none",
                       "-serial", "stdio", "-serial", f"file:{out / 'channel.log'}",
                       "-monitor", f"unix:{sock},server,nowait"]
    if cpu_model:
        cmd += ["-cpu", cpu_model]
    cmd += sc.qemu.get(arch.arch, [])
    if sc.qemu_fn:
        cmd += sc.qemu_fn(build, cmd, out)
    (out / "qemu.cmd").write_text(" ".join(f"'{c}'" for c in cmd) + "\n")
    log(f"{sc_name}/{arch_name}: booting ({cpus} CPUs), console: {out}/console.log")
    start = time.monotonic()
    q = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    con = Console(q.stdout, out / "console.log")
    boots, resets, delays, cpu = drive(sc_name, arch_name, q, con, sock, timeout, out)
    lines = con.since(0)
    try:
        channel = (out / "channel.log").read_bytes().decode("ascii", "replace")
        files = extract_files(channel.replace("\r", "").splitlines(), out)
        check_announced(lines, files)
    except RunError as e:
        raise RunError(f"{sc_name}/{arch_name}: {e}") from None
    res = Result(out, lines, boots, resets, files, arch_name, sc_name, run_conf, delays)
    if "previous.bin" in files:
        decode(build, res, sc.kallsyms_fn(build) if sc.kallsyms_fn else None)
    (out / "run.json").write_text(json.dumps(
        {"scenario": sc_name, "arch": arch_name, "cpus": cpus, "boots": boots,
         "resets": resets, "reset_delays": delays, "files": sorted(files),
         "seconds": round(time.monotonic() - start, 1), "cpu_seconds": cpu, "conf": run_conf},
        indent=2) + "\n")
    return res


def cpu_seconds(pid):
    """The host CPU time a process has used so far (user + system, from
    /proc), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(sc_name, arch_name, q, con, sock, timeout, out, end_grace=10):
    """Follows a running guest's console: warm resets it when it asks or
    hangs after its trigger, until HT-END and QEMU's exit (at most
    `end_grace` seconds later, then QEMU is killed). Returns (boots, resets,
    reset delays, host CPU seconds QEMU used, sampled until its end); raises
    RunError with the console's tail."""
    sc = SCENARIOS[sc_name]
    start, seen, resets, boots, triggered, ended = time.monotonic(), 0, 0, [], False, None
    reset_at, delays, drained, cpu = None, [], False, 0.0
    silences = sc.silence if isinstance(sc.silence, tuple) else (sc.silence,)
    silence, triggers = silences[0], 0
    # A boot in progress (not yet HT-BOOT): QEMU's start or the runner's reset.
    booting = True

    def warm_reset():
        nonlocal resets, booting
        monitor(sock, "system_reset")
        resets += 1
        booting = True

    try:
        while True:
            for ln in con.since(seen):
                seen += 1
                # A line said through /dev/kmsg (the Debian guests' way) has
                # the printk timestamp first.
                ln = ht_line(ln)
                if ln.startswith("HT-BOOT "):
                    # The word only: a kernel message can run on in the same
                    # console line ("HT-BOOT first[    1.39] input: ...").
                    boots.append(re.match(r"HT-BOOT ([a-z]+)", ln).group(1))
                    triggered = booting = False
                elif ln.startswith("Linux version ") and not booting:
                    # A kernel starts that the runner did not reset into: the
                    # crash kernel, or the boot after it reboots by itself.
                    booting = True
                elif ln.startswith("HT-RESET-RANDOM"):
                    delays.append(round(random.uniform(*sc.reset_delay), 3))
                    reset_at = time.monotonic() + delays[-1]
                elif "HT-RESET-ME" in ln:  # or via printk, after a timestamp
                    warm_reset()
                elif "HT-TRIGGERED" in ln:  # via printk: after a timestamp
                    triggered = True
                    silence = silences[min(triggers, len(silences) - 1)]
                    triggers += 1
                elif ln.startswith("HT-FAIL"):
                    raise RunError(f"guest: {ln}")
                elif ln.startswith("HT-END"):
                    ended = time.monotonic()
                elif "Kernel panic - not syncing" in ln and not triggered:
                    raise RunError(f"kernel panic outside the scenario's trigger: {ln}")
            if ended is not None and (q.poll() is not None or time.monotonic() - ended > end_grace):
                break
            if q.poll() is not None:
                if con.reading() and not drained:
                    # QEMU's last lines (HT-END among them) may still be on
                    # their way through the reader: take them first.
                    con.wait_eof(5)
                    drained = True
                    continue
                raise RunError(f"QEMU exited ({q.returncode}) before the scenario ended")
            if reset_at is not None and time.monotonic() >= reset_at:
                warm_reset()
                reset_at = None
            if triggered and con.silent_for() > silence:
                log(f"{sc_name}/{arch_name}: no console output for {silence}s after the "
                    f"trigger: hung; warm reset (RAM kept)")
                warm_reset()
                triggered = False
            if booting and ARCHES[arch_name].arch == "x86_64" and con.silent_for() > BOOT_STALL:
                halted, total = halted_vcpus(sock)
                if total and halted == total:
                    raise RunError(f"{BOOT_STALL_MARK} (QEMU): no console output for "
                                   f"{BOOT_STALL}s in boot {len(boots) + 1}, {halted} of "
                                   f"{total} vCPUs halted")
                booting = False  # a busy guest: asked once per boot
            if time.monotonic() - start > timeout:
                raise RunError(f"guest timed out after {timeout}s (boots: {boots})")
            cpu = cpu_seconds(q.pid) or cpu
            time.sleep(0.2)
    except RunError as e:
        raise RunError(f"{sc_name}/{arch_name}: {e}\n--- last console lines ({out}/console.log):\n"
                       f"{con.tail()}") from None
    finally:
        if q.poll() is None:
            q.kill()
        q.wait()
        con.close()
    return boots, resets, delays, round(cpu, 1)


# --- Debian guests ---------------------------------------------------------------


# hangtrail save's journal entry (tools/hangtrail/src/save.rs).
HANGTRAIL_MESSAGE_ID = "2c74ffa988ab48559b0f0484357b5783"


@dataclasses.dataclass
class DebianBuild:
    arch: Arch
    image: Path  # scripts/build-rootfs's dir: disk.img, booted.img, vmlinuz, initrd.img, release
    decoder: Path
    release: str


_debian = {}


def prepare_debian(arch_name, flavour):
    """The cached Debian disk image (scripts/build-rootfs) of an arch,
    booted once (first_boot); flavour "hangtrail" has hangtrail installed
    with the arch's region."""
    key = (arch_name, flavour)
    with _build_lock:
        if key in _debian:
            return _debian[key]
    arch = ARCHES[arch_name]
    args = [SCRIPTS / "build-rootfs", arch.arch]
    if flavour == "hangtrail":
        args += ["--hangtrail", f"{arch.region:#x}:{REGION_SIZE:#x}"]
    elif flavour == "server":
        args += ["--server"]
    t0 = time.monotonic()
    d = Path(sh(args).splitlines()[-1])
    log(f"Debian {arch_name} rootfs ({flavour}): {d} ({time.monotonic() - t0:.0f} s)")
    b = DebianBuild(arch, d, build_decoder(), (d / "release").read_text().strip())
    if flavour == "server":
        install_server(b, arch_name)
    else:
        first_boot(b, arch_name)
    with _build_lock:
        _debian[key] = b
        return b


# What hangtrail's initramfs hook puts in kdump-tools' initramfs, and the
# drivers that initramfs needs to mount the guest's root (modules in
# Debian's kernel; MODULES=dep finds them on the guest itself).
KDUMP_INITRD_FILES = ("updates/hangtrail.ko", "etc/modprobe.d/hangtrail-crash.conf",
                      "scripts/init-top/hangtrail", "/virtio_blk.ko", "/ext4.ko")


def first_boot(db, arch_name):
    """Boots a Debian image once, as a host boots after the install, and
    keeps the disk as DIR/booted.img (cached, under DIR/booted.lock): in a
    chroot kdump-tools leaves its initramfs to this boot (MODULES=dep takes
    the running machine's drivers), where `kdump-config load` makes it.
    Checks that the crash kernel was loaded and that the kdump initramfs has
    hangtrail and the root's drivers."""
    booted = db.image / "booted.img"
    with open(db.image / "booted.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if booted.exists():
            return
        t0 = time.monotonic()
        out = Path(tempfile.mkdtemp(prefix=f"hangtrail-first-boot-{arch_name}-"))
        res = run_debian("first-boot", arch_name, out=out, db=db, disk_src=db.image / "disk.img")
        if res.boots != ["first"] or res.value("HT-KDUMP-LOADED") != "1":
            raise RunError(f"{db.image}: the first boot did not load the crash kernel "
                           f"(boots {res.boots}; console: {out}/console.log)")
        # Debian's modules are xz-compressed (NAME.ko.xz).
        listed = [re.sub(r"\.(xz|zst|gz)$", "", x) for x in res.values("HT-KDUMP-INITRD")]
        missing = [f for f in KDUMP_INITRD_FILES if not any(x.endswith(f) for x in listed)]
        if missing:
            raise RunError(f"{db.image}: the kdump initramfs the first boot made lacks {missing} "
                           f"(console: {out}/console.log)")
        os.replace(out / "disk.img", booted)
        shutil.rmtree(out)
        log(f"Debian {arch_name}: first boot made the kdump initramfs "
            f"({time.monotonic() - t0:.0f} s): {booted}")


# The quickstart's server: UEFI firmware as Debian packages it (no Secure
# Boot: enrolling DKMS's key needs MokManager at the console), its variable
# store kept with the disks, and the RAM: x86_64 q35 puts 2 GiB below 4 GiB
# and the rest from 4 GiB up, where `hangtrail setup` places the region.
SERVER_FIRMWARE = {"x86_64": ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
                   "arm64": ("/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF_VARS.fd")}
SERVER_RAM = "3G"


def server_qemu(db, out, kernel_cmdline=None):
    """QEMU arguments for the server: its firmware and variable store, the
    root disk (vda), the EFI system partition's disk (vdb) and, if there,
    the package source's (vdc, out/repo.img). With `kernel_cmdline` the
    firmware starts the image's kernel itself (install_server: the
    installer's boot); else it boots what its variables say (shim, GRUB)."""
    code, _ = SERVER_FIRMWARE[db.arch.arch]
    args = ["-m", SERVER_RAM,
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
            "-drive", f"if=pflash,format=raw,unit=1,file={out / 'vars.fd'}",
            "-drive", f"file={out / 'disk.img'},format=raw,if=virtio",
            "-drive", f"file={out / 'esp.img'},format=raw,if=virtio"]
    if (out / "repo.img").exists():
        args += ["-drive", f"file={out / 'repo.img'},format=raw,if=virtio,readonly=on"]
    if db.arch.arch == "x86_64":
        # A hardware watchdog, as servers have (Intel's 6300ESB: QEMU resets
        # the machine, keeping RAM, when it fires). QEMU's arm64 virt board
        # has none (sbsa-gwdt is the sbsa-ref board's).
        args += ["-device", "i6300esb"]
    if kernel_cmdline is not None:
        args += ["-kernel", str(db.image / "vmlinuz"), "-initrd", str(db.image / "initrd.img"),
                 "-append", kernel_cmdline]
    return args


def server_disks(db, out, install):
    """The server's EFI system partition disk and variable store in out/:
    for its installation an empty ESP (GPT, FAT, label EFI: the image's
    /etc/fstab names it) and the firmware's empty store; later, copies of
    what the installation left (install_server)."""
    if not install:
        shutil.copy(db.image / "installed-esp.img", out / "esp.img")
        shutil.copy(db.image / "installed-vars.fd", out / "vars.fd")
        return
    esp, mib = out / "esp.img", 1 << 20
    with open(esp, "wb") as f:
        f.truncate(130 * mib)
    subprocess.run(["sfdisk", "-q", esp], check=True, text=True,
                   input="label: gpt\nstart=2048, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n")
    sh(["mkfs.vfat", "-F", "32", "--offset", "2048", "-n", "EFI", esp, str(128 * 1024)])
    shutil.copy(SERVER_FIRMWARE[db.arch.arch][1], out / "vars.fd")


def install_server(db, arch_name):
    """The server's installation, as Debian's installer ends one: an empty
    EFI system partition (GPT, FAT, label EFI: the image's /etc/fstab names
    it), then one boot of the image's kernel from the firmware where
    `grub-install` puts shim and GRUB in it and the firmware's boot entry in
    the variable store, and `update-grub` writes /boot/grub/grub.cfg
    (selftests/scenarios/server-install.sh); kdump-tools makes its
    initramfs. Keeps installed.img, installed-esp.img and
    installed-vars.fd in the image's dir (cached)."""
    done = db.image / "installed.img"
    with open(db.image / "installed.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return
        t0 = time.monotonic()
        out = Path(tempfile.mkdtemp(prefix=f"hangtrail-server-install-{arch_name}-"))
        res = run_debian("server-install", arch_name, out=out, db=db, disk_src=db.image / "disk.img")
        if res.boots != ["first"] or res.value("HT-GRUB-INSTALL") != "0" or res.value("HT-UPDATE-GRUB") != "0":
            raise RunError(f"{db.image}: the server's installation failed (console: {out}/console.log)")
        for src, dst in (("esp.img", "installed-esp.img"), ("vars.fd", "installed-vars.fd"),
                         ("disk.img", "installed.img")):
            os.replace(out / src, db.image / dst)
        shutil.rmtree(out)
        log(f"Debian {arch_name}: server installed ({time.monotonic() - t0:.0f} s): {done}")


# Where README.md's quickstart blocks are: a fenced block right after this
# comment line, which names the arches the block is for.
README_STEP = re.compile(r"^<!-- quickstart step: ([a-z0-9_ ]+) -->\n+```sh\n(.*?)^```$",
                         re.M | re.S)


def readme_steps(arch):
    """README.md's quickstart command blocks for an arch (x86_64, arm64), in
    order: the commands the quickstart test runs, as they are written."""
    text = (TOP / "README.md").read_text()
    steps = [m.group(2) for m in README_STEP.finditer(text) if arch in m.group(1).split()]
    if not steps:
        raise RunError(f"README.md has no quickstart steps for {arch} "
                       f"(blocks after <!-- quickstart step: ARCH... -->)")
    return steps


def server_repo(db, out):
    """The package source the server gets (it has no network), as a disk
    image (out/repo.img, ext4, label HT-REPO): Debian's packages the server's
    image was made with and the kernel's headers (build-rootfs --server),
    split into trixie and trixie-backports suites as the archive has them,
    and `make deb`'s packages with the Rust metadata package of the stock
    kernel (scripts/stock-kernel) in the top directory, which the README has
    the user copy to the server."""
    debarch = {"x86_64": "amd64", "arm64": "arm64"}[db.arch.arch]
    root = out / "repo"
    debs = Path(sh([SCRIPTS / "deb", debarch]).splitlines()[-1])
    stock = Path(sh([SCRIPTS / "stock-kernel", db.arch.arch]).splitlines()[-1])
    for suite in ("trixie", "trixie-backports"):
        (root / "dists" / suite / "main" / f"binary-{debarch}").mkdir(parents=True)
        (root / "pool" / suite).mkdir(parents=True)
    for deb in sorted((db.image / "debs").glob("*.deb")):
        suite = "trixie-backports" if "~bpo" in deb.name else "trixie"
        os.link(deb, root / "pool" / suite / deb.name)
    for deb in [*debs.glob(f"hangtrail_*_{debarch}.deb"), *debs.glob("hangtrail-dkms_*_all.deb"),
                *stock.glob("hangtrail-rust-metadata-*.deb")]:
        shutil.copy(deb, root / deb.name)
    for suite in ("trixie", "trixie-backports"):
        idx = f"main/binary-{debarch}/Packages"
        pk = sh(["dpkg-scanpackages", "-m", f"pool/{suite}"], cwd=root) + "\n"
        (root / "dists" / suite / idx).write_text(pk)
        data = pk.encode()
        (root / "dists" / suite / "Release").write_text(
            f"Origin: Debian\nLabel: Debian\nSuite: {suite}\nCodename: {suite}\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S UTC', time.gmtime())}\n"
            f"Architectures: {debarch}\nComponents: main\n"
            f"SHA256:\n {hashlib.sha256(data).hexdigest()} {len(data)} {idx}\n")
    sh(["mkfs.ext4", "-q", "-F", "-L", "HT-REPO", "-d", root, out / "repo.img",
        f"{sum(f.stat().st_size for f in root.rglob('*') if f.is_file()) // 1000000 + 300}M"])
    shutil.rmtree(root)



def debugfs(image, *commands, write=False):
    """Runs debugfs commands on an ext4 image; raises RunError on any error
    line (debugfs itself exits 0 whatever happens)."""
    p = subprocess.run(["debugfs", *(["-w"] if write else []), "-f", "-", image],
                       input="\n".join(commands) + "\n", text=True, capture_output=True)
    errs = [ln for ln in p.stderr.splitlines()
            if ln.strip() and not ln.startswith("debugfs ") and ": " in ln]
    if p.returncode != 0 or errs:
        raise RunError(f"debugfs on {image} failed: {' / '.join(errs) or p.returncode}")
    return p.stdout


def disk_put(image, files, links=()):
    """Writes files into an ext4 image: {guest path: bytes} (mode 0755 for a
    script, else 0644, owner root), then symlinks [(guest path, target)]; an
    existing file or link is replaced. Missing directories are made. Each
    file is read back and compared."""
    tmp = Path(image).parent / "put"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    dirs = set()
    for path in [*files, *(p for p, _ in links)]:
        parts = Path(path).parent.parts
        dirs.update(str(Path(*parts[:i])) for i in range(2, len(parts) + 1))
    paths = [*files, *(q for q, _ in links)]
    p = subprocess.run(["debugfs", "-f", "-", image], text=True, capture_output=True,
                       input="".join(f'stat "{d}"\n' for d in [*sorted(dirs), *paths]))
    cmds = [f'mkdir "{d}"' for d in sorted(dirs, key=lambda d: d.count("/"))
            if f"{d}: File not found by ext2_lookup" in p.stderr]
    # A file or link that is there is replaced.
    cmds += [f'rm "{f}"' for f in paths if f"{f}: File not found by ext2_lookup" not in p.stderr]
    for n, (path, data) in enumerate(files.items()):
        src = tmp / str(n)
        src.write_bytes(data)
        os.chmod(src, 0o755 if data.startswith(b"#!") else 0o644)
        cmds.append(f'write "{src}" "{path}"')
    cmds += [f'symlink "{path}" "{target}"' for path, target in links]
    debugfs(image, *cmds, write=True)
    for path, data in files.items():
        back = subprocess.run(["debugfs", "-R", f'cat "{path}"', image], capture_output=True)
        if back.stdout != data:
            raise RunError(f"{path} did not arrive in {image} intact")
    shutil.rmtree(tmp)


def disk_get(image, paths, dest):
    """Copies guest dirs out of a disk image (after the run) into dest,
    each as dest/BASENAME; the image's journal is replayed first (e2fsck),
    as the kernel would at the next mount."""
    p = subprocess.run(["e2fsck", "-fy", image], capture_output=True, text=True)
    (Path(dest) / "e2fsck.log").write_text(p.stdout + p.stderr)
    if p.returncode not in (0, 1):  # 1: errors corrected (a journal replayed)
        raise RunError(f"e2fsck {image}: exit {p.returncode}\n{p.stdout[-2000:]}")
    for path in paths:
        subprocess.run(["debugfs", "-R", f'rdump "{path}" "{dest}"', image],
                       capture_output=True, text=True)


DEBIAN_UNIT = """[Unit]
Description=hangtrail test scenario (driven by scripts/htvm.py)
Wants=kdump-tools.service
After=kdump-tools.service hangtrail-save.service systemd-modules-load.service

[Service]
Type=simple
ExecStart=/bin/sh /usr/local/lib/hangtrail-test/run
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
"""

# In the crash kernel, kdump-tools-dump.service is the whole boot.
DEBIAN_CRASH_DROPIN = """[Service]
ExecStartPre=/bin/sh -c 'echo "HT-BOOT crash" > /dev/kmsg; \
    echo "HT-BOOT-ID $(cat /proc/sys/kernel/random/boot_id)" > /dev/kmsg; echo "HT-UNAME $(uname -r)" > /dev/kmsg; \
    echo "HT-CRASH-CMDLINE $(cat /proc/cmdline)" > /dev/kmsg'
"""


def run_debian(sc_name, arch_name, cpus=None, append="", out=None, timeout=None, db=None,
               disk_src=None):
    """Runs a Debian-guest scenario: a copy of the cached disk image (booted
    once: first_boot), booted with root=/dev/vda and systemd as init; the
    runner reads the results off the disk image afterwards. Returns a
    Result."""
    sc = SCENARIOS[sc_name]
    if not is_stock(arch_name):
        raise RunError(f"{sc_name}: the Debian guests run Debian's own kernel: --arch "
                       f"{arch_name}-stock")
    db = db or prepare_debian(arch_name, sc.debian)
    server = sc.debian == "server"
    disk_src = disk_src or db.image / ("installed.img" if server else "booted.img")
    arch = db.arch
    cpus = cpus or sc.cpus
    out = Path(out or Path("/tmp") / f"hangtrail-{sc_name}-{arch_name}")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    timeout = timeout or sc.timeout
    disk = out / "disk.img"
    sh(["cp", "--sparse=always", disk_src, disk])
    run_conf = {
        "HT_ARCH": arch.arch,
        "HT_SCENARIO": sc_name,
        "HT_NONCE": f"0x{random.getrandbits(63) | 1:016X}",
        "HT_REGION_ADDR": hex(arch.region),
        "HT_REGION_SIZE": hex(REGION_SIZE),
    }
    run_conf.update(sc.conf)
    if server and sc_name != "server-install":
        # GRUB boots the server with Debian's `quiet`: the console shows no
        # printk below KERN_ERR, so the driver writes its lines to it directly.
        run_conf["HT_SAY"] = "/dev/console"
    lib = "/usr/local/lib/hangtrail-test"
    units = "/etc/systemd/system"
    script = sc.script or sc_name
    # systemd.show_status=false: fewer lines of systemd's own on the console
    # the runner reads.
    # x86's region as `hangtrail setup` writes it: memmap=SIZE%ADDR-1+2, no
    # `$` for kdump-config's `eval` of the crash kernel's command line (which
    # is /proc/cmdline without crashkernel=, as kdump-tools' defaults make
    # it: the runner sets no KDUMP_CMDLINE).
    reserve = re.sub(r"memmap=(\w+)\$(\w+)", r"memmap=\1%\2-1+2", arch.reserve)
    cmdline = " ".join(a for a in (
        f"console={arch.console}", arch.boot_args, "root=/dev/vda rw", reserve,
        "crashkernel=256M", arch.append, "printk.devkmsg=on systemd.show_status=false",
        sc.append, append) if a)
    kd = "/etc/default/kdump-tools"
    defaults = subprocess.run(["debugfs", "-R", f'cat "{kd}"', disk], capture_output=True).stdout
    if b"USE_KDUMP=1" not in defaults or b"\nKDUMP_CMDLINE=" in defaults:
        raise RunError(f"{disk}: {kd} is not kdump-tools' default (USE_KDUMP=1, no KDUMP_CMDLINE)")
    extra = {}
    if server:
        # The server keeps kdump-tools' defaults; its package source and, for
        # the quickstart, README.md's steps.
        server_disks(db, out, sc_name == "server-install")
        if sc_name == "quickstart":
            server_repo(db, out)
            extra = {f"{lib}/steps/{n:02d}.sh": step.encode()
                     for n, step in enumerate(readme_steps(arch.arch), 1)}
    disk_put(disk, {
        **extra,
        f"{lib}/run": (TOP / "selftests" / "guest" / "debian-run").read_bytes(),
        f"{lib}/scenario.sh": (TOP / "selftests" / "scenarios" / f"{script}.sh").read_bytes(),
        f"{lib}/ht.conf": "".join(f"{k}='{v}'\n" for k, v in run_conf.items()).encode(),
        f"{units}/ht-scenario.service": DEBIAN_UNIT.encode(),
        f"{units}/kdump-tools-dump.service.d/ht-boot.conf":
            DEBIAN_CRASH_DROPIN.replace("/dev/kmsg", run_conf.get("HT_SAY", "/dev/kmsg")).encode(),
    }, links=[(f"{units}/multi-user.target.wants/ht-scenario.service",
               f"{units}/ht-scenario.service"),
              # The console is the runner's: no login prompt on it (its
              # "login: " has no newline, and the next HT- line would
              # follow it on the same line).
              (f"{units}/serial-getty@{arch.console}.service", "/dev/null")])
    sock = out / "monitor.sock"
    if server:
        boot = server_qemu(db, out, cmdline if sc_name == "server-install" else None)
    elif sc.secure_boot:
        boot = secure_boot_qemu(db, disk, cmdline, out)
    else:
        boot = ["-kernel", str(db.image / "vmlinuz"), "-initrd", str(db.image / "initrd.img"),
                "-append", cmdline, "-drive", f"file={disk},format=raw,if=virtio"]
    cmd = qemu_base(arch, sc) + ["-smp", str(cpus), *boot, "-display", "none",
                       "-serial", "stdio", "-serial", f"file:{out / 'channel.log'}",
                       "-monitor", f"unix:{sock},server,nowait"]
    if arch.arch == "arm64":
        cmd += ["-cpu", sc.cpu.get("arm64", "max,pauth-impdef=on")]
    else:
        # The board's "no reboot" strap for the ICH9 TCO watchdog. QEMU's
        # q35 starts the TCO timer at reset and SeaBIOS leaves it running;
        # Debian's iTCO_wdt finds it running and the system kernel keeps it
        # alive, but nothing in Debian's crash kernel does, and it resets the
        # machine 60 s (two 30 s timeouts) after the system kernel's last
        # ping: in the middle of kdump-tools' dump under TCG. Firmware that
        # arms no watchdog, the usual server default; the armed case is in
        # Documentation/hangtrail.rst ("A hardware watchdog during kdump").
        cmd += ["-global", "ICH9-LPC.noreboot=on"]
    (out / "qemu.cmd").write_text(" ".join(f"'{c}'" for c in cmd) + "\n")
    log(f"{sc_name}/{arch_name}: booting Debian ({cpus} CPUs), console: {out}/console.log")
    start = time.monotonic()
    q = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    con = Console(q.stdout, out / "console.log")
    # A clean power-off (systemd stops its units) takes a while under TCG.
    boots, resets, delays, cpu = drive(sc_name, arch_name, q, con, sock, timeout, out,
                                       end_grace=180)
    seconds = round(time.monotonic() - start, 1)
    lines = con.since(0)
    timings = boot_timings(lines, con.times, start)

    # What the guest left on its disk.
    got = out / "rootfs"
    got.mkdir()
    disk_get(disk, ["/var/crash", "/var/lib/hangtrail", "/var/log/journal"], got)
    files = {}
    res = Result(out, lines, boots, resets, files, arch_name, sc_name, run_conf, delays)
    if (got / "journal").is_dir():
        p = subprocess.run(["journalctl", "-D", got / "journal", "-o", "json", "--no-pager"],
                           capture_output=True, text=True)
        (out / "journal.json").write_text(p.stdout)
        files["journal.json"] = out / "journal.json"
    # What hangtrail-save.service kept, each time it logged: the dir its
    # journal entry names, as out/save-N/ (N counts the entries from 1).
    said = journal(res, MESSAGE_ID=HANGTRAIL_MESSAGE_ID)
    for n, entry in enumerate(said, 1):
        if not entry.get("HANGTRAIL_DIR"):
            continue
        saved = got / "hangtrail" / Path(entry["HANGTRAIL_DIR"]).name
        dest = out / f"save-{n}"
        dest.mkdir()
        for name in ("previous.bin", "decode.json", "decode.txt"):
            if (saved / name).exists():
                shutil.copy2(saved / name, dest / name)
                files[f"save-{n}/{name}"] = dest / name
        if (dest / "previous.bin").exists():
            # Without symbols: Debian's System.map is a placeholder (the real
            # one is in the -dbg package); the guest's decode had kallsyms.
            args = [db.decoder, "decode", "--json", dest / "previous.bin"]
            (dest / "host-decode.json").write_text(sh(args) + "\n")
            files[f"save-{n}/host-decode.json"] = dest / "host-decode.json"
    (out / "run.json").write_text(json.dumps(
        {"scenario": sc_name, "arch": arch_name, "cpus": cpus, "boots": boots,
         "resets": resets, "files": sorted(files), "seconds": seconds, "cpu_seconds": cpu,
         "timings": timings,
         "release": db.release, "rootfs": str(db.image), "conf": run_conf},
        indent=2) + "\n")
    return res


def secure_boot_qemu(db, disk, cmdline, out):
    """QEMU arguments that boot a Debian disk as a Secure Boot host boots:
    EDK2's Secure Boot build (OVMF with SMM, AAVMF; its variable store with
    the MOK, from scripts/secure-boot-parts), the root disk (vda, as with
    -kernel) and a second disk with a GPT and an EFI system partition holding
    shim as the removable-media loader (EFI/BOOT/BOOTX64.EFI, BOOTAA64.EFI),
    MokManager and Debian's
    signed GRUB, whose grub.cfg boots the root's /boot kernel and initrd
    with `cmdline`. Also puts the signed module (and an unsigned copy) on
    the root disk."""
    arch = db.arch.arch
    parts = Path(sh([SCRIPTS / "secure-boot-parts", arch]).splitlines()[-1])
    disk_put(disk, {
        f"/usr/lib/modules/{db.release}/updates/hangtrail.ko": (parts / "hangtrail.ko").read_bytes(),
        "/usr/local/lib/hangtrail-test/hangtrail-unsigned.ko":
            (parts / "hangtrail-unsigned.ko").read_bytes(),
        "/usr/local/lib/hangtrail-test/hangtrail-db.ko": (parts / "hangtrail-db.ko").read_bytes(),
    })
    # GRUB expands $ in its command lines: x86's memmap=SIZE$ADDR needs \$.
    grub_cfg = (f"set timeout=0\n"
                f"search --no-floppy --label hangtrail-root --set root\n"
                f"linux /boot/vmlinuz-{db.release} {cmdline.replace('$', chr(92) + '$')}\n"
                f"initrd /boot/initrd.img-{db.release}\n"
                f"boot\n")
    (out / "grub.cfg").write_text(grub_cfg)
    esp = out / "esp.img"
    mib = 1 << 20
    with open(esp, "wb") as f:
        f.truncate(66 * mib)
    subprocess.run(["sfdisk", "-q", esp], check=True, text=True,
                   input="label: gpt\nstart=2048, size=131072, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n")
    sh(["mkfs.vfat", "-F", "16", "--offset", "2048", "-n", "ESP", esp, str(64 * 1024)])
    fat = f"{esp}@@{mib}"
    sh(["mmd", "-i", fat, "::/EFI", "::/EFI/BOOT", "::/EFI/debian"])
    efi = {"x86_64": "x64", "arm64": "aa64"}[arch]
    for src, dst in (("shim.efi", f"EFI/BOOT/BOOT{efi.upper()}.EFI"), ("mm.efi", f"EFI/BOOT/mm{efi}.efi"),
                     ("grub.efi", f"EFI/BOOT/grub{efi}.efi"), (out / "grub.cfg", "EFI/debian/grub.cfg"),
                     (out / "grub.cfg", "EFI/BOOT/grub.cfg")):
        sh(["mcopy", "-i", fat, parts / src, f"::/{dst}"])
    vars_fd = out / "vars.fd"
    shutil.copy(parts / "vars.fd", vars_fd)
    # x86_64: OVMF keeps its variables safe from the OS only in SMM. arm64:
    # AAVMF on the virt board, ACPI (the firmware's tables, as on a server:
    # the kernel sees no device tree), and 2 GiB: the firmware, GRUB and
    # the kernel's EFI stub allocate from the top of RAM down at every boot
    # and in a 1 GiB guest overwrote the region at 0x78000000, 128 MiB below
    # the top (Documentation/hangtrail.rst, "What wipes RAM"). mem=768M
    # still keeps the kernel below the region.
    machine = (["-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on"]
               if arch == "x86_64" else ["-m", "2G"])
    return [*machine,
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={parts / 'code.fd'}",
            "-drive", f"if=pflash,format=raw,unit=1,file={vars_fd}",
            "-drive", f"file={disk},format=raw,if=virtio",
            "-drive", f"file={esp},format=raw,if=virtio"]


def boot_timings(lines, times, start):
    """Seconds from QEMU's start (or the previous mark) to each HT-BOOT and
    HT-TRIGGERED line and to HT-END: how long each boot took under TCG."""
    marks, last = [], start
    for ln, t in zip(lines, times):
        ln = ht_line(ln)
        if ln.startswith(("HT-BOOT ", "HT-TRIGGERED", "HT-END")):
            marks.append([" ".join(ln.split()[:2]), round(t - last, 1)])
            last = t
    return marks


def journal(res, **match):
    """Entries of a Debian run's journal (journal.json) whose fields equal
    `match`."""
    path = res.out / "journal.json"
    if not path.exists():
        return []
    out = []
    for ln in path.read_text().splitlines():
        e = json.loads(ln)
        if all(e.get(k) == v for k, v in match.items()):
            out.append(e)
    return out


def symbol_args(files, kdir):
    """The run's own kallsyms if the guest sent it, else the build's System.map."""
    if "kallsyms" in files:
        return ["--kallsyms", files["kallsyms"]]
    return ["--system-map", kdir / "System.map"]


def decode(build, res, kallsyms=None):
    """Runs the decoder on previous.bin: decode.json and decode.txt (with
    `kallsyms`, when the trail comes from another kernel than the run's),
    and its pictures trace.json (--trace-event) and trail.svg (--svg)."""
    syms = ["--kallsyms", kallsyms] if kallsyms else symbol_args(res.files, build.kdir)
    args = [build.decoder, "decode", *syms, res.files["previous.bin"]]
    pictures = ["--trace-event", res.out / "trace.json", "--svg", res.out / "trail.svg"]
    (res.out / "decode.txt").write_text(sh(args[:2] + pictures + args[2:]) + "\n")
    (res.out / "decode.json").write_text(sh(args[:2] + ["--json"] + args[2:]) + "\n")
