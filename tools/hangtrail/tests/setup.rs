//! `hangtrail setup --root DIR`: the files it writes and the refusals, on
//! firmware memory maps of real machines (`tests/firmware-maps/*.e820`, the
//! kernel's `BIOS-e820:` boot lines, each file saying where it came from)
//! turned into a `sys/firmware/memmap` tree, and on a hand-made one for the
//! edge cases.

mod common;
use common::{hangtrail, stderr};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

/// An empty root directory for this test, under the target dir.
fn root(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("setup")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("creates root");
    dir
}

/// The firmware map's type string (`e820_type_to_string()` in
/// arch/x86/kernel/e820.c) for the name the boot log prints
/// (`e820_print_type()`; 7.x kernels print "System RAM" and "device
/// reserved").
fn sysfs_type(printed: &str) -> &'static str {
    match printed {
        "usable" | "System RAM" => "System RAM",
        "reserved" | "device reserved" => "Reserved",
        "ACPI data" => "ACPI Tables",
        "ACPI NVS" => "ACPI Non-volatile Storage",
        "unusable" => "Unusable memory",
        other => panic!("no sysfs type for {other:?}"),
    }
}

/// `ROOT/sys/firmware/memmap/N/{start,end,type}` as
/// drivers/firmware/memmap.c shows them, from `tests/firmware-maps/MAP`: one
/// entry per `BIOS-e820: [mem START-END] TYPE` line, numbered in order.
fn firmware_map(root: &Path, map: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/firmware-maps")
        .join(map);
    let text = fs::read_to_string(&path).expect("reads the map");
    let mut n = 0;
    for line in text.lines() {
        let Some(rest) = line.split("BIOS-e820: [mem ").nth(1) else {
            continue;
        };
        let (range, kind) = rest.split_once(']').expect("a range");
        let (start, end) = range.split_once('-').expect("start-end");
        let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex");
        let dir = root.join("sys/firmware/memmap").join(n.to_string());
        fs::create_dir_all(&dir).expect("creates entry");
        fs::write(dir.join("start"), format!("{:#x}\n", hex(start))).expect("writes");
        fs::write(dir.join("end"), format!("{:#x}\n", hex(end))).expect("writes");
        fs::write(dir.join("type"), format!("{}\n", sysfs_type(kind.trim()))).expect("writes");
        n += 1;
    }
    assert!(n > 0, "{map}: no BIOS-e820 lines");
}

/// `hangtrail setup --root ROOT ARGS...`.
fn setup(root: &Path, args: &[&str]) -> Output {
    let mut all = vec!["setup", "--root", root.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    hangtrail(&all)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const GRUB: &str = "etc/default/grub.d/zz-hangtrail.cfg";
const CONF: &str = "etc/modprobe.d/hangtrail-region.conf";

fn read(root: &Path, rel: &str) -> Option<String> {
    fs::read_to_string(root.join(rel)).ok()
}

/// The files under `root/etc`, relative to `root`.
fn written(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd {
            let p = e.expect("lists").path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .expect("under root")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join("etc"), root, &mut out);
    out.sort();
    out
}

/// A refusal: exit code `code`, this one line on stderr, nothing on
/// stdout, no panic.
fn assert_refused(o: &Output, code: i32, line: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
    assert_eq!(stderr(o), format!("{line}\n"));
    assert_eq!(stdout(o), "");
}

const GRUB_MEMMAP_4G: &str = r#"# Written by hangtrail setup; running it again replaces this file.
# The hangtrail region and the crash kernel's memory on the kernel command
# line: update-grub writes them into grub.cfg, the next boot uses them.
# The name sorts last: grub-mkconfig sources /etc/default/grub.d/*.cfg in
# glob order, so this comes after kdump-tools.cfg and its crashkernel= is the
# last one on the command line, the one the kernel takes.
# memmap=SIZE%ADDR-1+2 turns the usable RAM (e820 type 1) of [ADDR, ADDR+SIZE)
# into reserved (type 2). It has no "$" (memmap=SIZE$ADDR has one), which
# kdump-config's eval of the crash kernel's command line would expand.
GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT memmap=64M%0x100000000-1+2 crashkernel=512M"
"#;

const CONF_MEMMAP_4G: &str = r#"# Written by hangtrail setup; running it again replaces this file.
# hangtrail.ko's region, which /etc/default/grub.d/zz-hangtrail.cfg reserves:
# memmap=64M%0x100000000-1+2
# For the load at boot and in the crash kernel (the kdump initramfs copies
# /etc/modprobe.d/*.conf). Set the region in no other file there: modprobe
# merges every "options hangtrail" line.
options hangtrail mem_address=0x100000000 mem_size=0x4000000 crash_marks=1
"#;

/// The stdout of a successful run.
fn success(root: &Path, region: &str, kernel: &str, options: &str) -> String {
    format!(
        "hangtrail: setup: region {region}\n\
         hangtrail: setup: wrote {}: {kernel}\n\
         hangtrail: setup: wrote {}: {options}\n\
         hangtrail: setup: no hardware watchdog (/sys/class/watchdog): a hang stays hung until the BMC or someone resets the machine (load its driver, e.g. iTCO_wdt, ipmi_watchdog, sbsa_gwdt, and run setup again)\n\
         next: update-grub\n\
         then reboot: the new command line and module options take effect at the next boot\n",
        root.join(GRUB).display(),
        root.join(CONF).display()
    )
}

#[test]
fn q35_4g_picks_the_ram_above_4g() {
    for map in ["q35-4g-seabios.e820", "q35-4g-ovmf.e820"] {
        let r = root(&format!("pick-{map}"));
        firmware_map(&r, map);
        let o = setup(&r, &[]);
        assert_eq!(o.status.code(), Some(0), "{map}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{map}");
        assert_eq!(
            stdout(&o),
            success(
                &r,
                "0x100000000-0x103ffffff (64M), inside \"System RAM\" 0x100000000-0x17fffffff of the firmware's memory map",
                "memmap=64M%0x100000000-1+2 crashkernel=512M",
                "options hangtrail mem_address=0x100000000 mem_size=0x4000000 crash_marks=1"
            ),
            "{map}"
        );
        assert_eq!(read(&r, GRUB).as_deref(), Some(GRUB_MEMMAP_4G), "{map}");
        assert_eq!(read(&r, CONF).as_deref(), Some(CONF_MEMMAP_4G), "{map}");
        assert_eq!(written(&r), [GRUB, CONF], "{map}: no temporary files left");

        // The whole 2 GiB above 4 GiB fits; 4G does not.
        let o = setup(&r, &["--size", "2G", "--crashkernel", "1G", "--dry-run"]);
        assert_eq!(o.status.code(), Some(0), "{map}: {}", stderr(&o));
        assert!(stdout(&o).contains(
            "\nGRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT memmap=2G%0x100000000-1+2 crashkernel=1G\"\n"
        ));
        assert!(stdout(&o).contains(
            "\noptions hangtrail mem_address=0x100000000 mem_size=0x80000000 crash_marks=1\n"
        ));
        let o = setup(&r, &["--size", "4G"]);
        assert_refused(
            &o,
            1,
            &format!(
                "hangtrail: setup: no \"System RAM\" entry at or above 4 GiB in the firmware's memory map ({}) can hold 4G (below 4 GiB, UEFI firmware and the boot loader allocate memory at every boot, so a region there could be overwritten at the next warm reset): give --address to choose a range inside one \"System RAM\" entry yourself",
                r.join("sys/firmware/memmap").display()
            ),
        );
        // The refused runs changed nothing.
        assert_eq!(read(&r, GRUB).as_deref(), Some(GRUB_MEMMAP_4G), "{map}");
    }
}

#[test]
fn q35_1g_has_no_ram_above_4g() {
    for map in ["q35-1g-seabios.e820", "q35-1g-ovmf.e820"] {
        let r = root(&format!("low-{map}"));
        firmware_map(&r, map);
        let o = setup(&r, &[]);
        assert_refused(
            &o,
            1,
            &format!(
                "hangtrail: setup: no \"System RAM\" entry at or above 4 GiB in the firmware's memory map ({}) can hold 64M (below 4 GiB, UEFI firmware and the boot loader allocate memory at every boot, so a region there could be overwritten at the next warm reset): give --address to choose a range inside one \"System RAM\" entry yourself",
                r.join("sys/firmware/memmap").display()
            ),
        );
        assert_eq!(written(&r), Vec::<String>::new(), "{map}");

        // The tests' own region (memmap=2M$0x30000000) is RAM in both, with
        // a warning: below 4 GiB.
        let o = setup(&r, &["--address", "0x30000000", "--size", "2M"]);
        assert_eq!(o.status.code(), Some(0), "{map}: {}", stderr(&o));
        assert_eq!(
            stderr(&o),
            "hangtrail: warning: 0x30000000 is below 4 GiB, where UEFI firmware and the boot loader allocate memory at every boot: the region could be overwritten at the next warm reset\n"
        );
        let within = if map.contains("ovmf") {
            "\"System RAM\" 0x1710000-0x3e3a5fff"
        } else {
            "\"System RAM\" 0x100000-0x3ffdefff"
        };
        assert_eq!(
            stdout(&o),
            success(
                &r,
                &format!(
                    "0x30000000-0x301fffff (2M), inside {within} of the firmware's memory map"
                ),
                "memmap=2M%0x30000000-1+2 crashkernel=512M",
                "options hangtrail mem_address=0x30000000 mem_size=0x200000 crash_marks=1"
            )
        );
        assert!(read(&r, GRUB).is_some_and(|t| t.ends_with(
            "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT memmap=2M%0x30000000-1+2 crashkernel=512M\"\n"
        )));
    }
}

#[test]
fn ranges_that_are_not_ram() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // OVMF's own memory below 4 GiB.
        (
            "q35-1g-ovmf.e820",
            "0x3e400000",
            "2M",
            "0x3e400000-0x3e5fffff is not usable RAM in the firmware's memory map (MAP): in \"Reserved\" 0x3e3a6000-0x3e76bfff",
        ),
        (
            "q35-4g-ovmf.e820",
            "0x7ec00000",
            "16M",
            "0x7ec00000-0x7fbfffff is not usable RAM in the firmware's memory map (MAP): across entries \"System RAM\" 0x7ec00000-0x7f6ecfff, \"Reserved\" 0x7f6ed000-0x7f96cfff, \"ACPI Tables\" 0x7f96d000-0x7f97efff, \"ACPI Non-volatile Storage\" 0x7f97f000-0x7f9fefff, \"System RAM\" 0x7f9ff000-0x7fe51fff",
        ),
        // The PCI hole.
        (
            "q35-4g-seabios.e820",
            "0xc0000000",
            "64M",
            "0xc0000000-0xc3ffffff is not usable RAM in the firmware's memory map (MAP): in no entry",
        ),
        // Past the end of RAM.
        (
            "q35-4g-seabios.e820",
            "0x17e000000",
            "64M",
            "0x17e000000-0x181ffffff is not usable RAM in the firmware's memory map (MAP): partly in \"System RAM\" 0x100000000-0x17fffffff, partly in no entry",
        ),
        (
            "edges.e820",
            "0xb0000000",
            "2M",
            "0xb0000000-0xb01fffff is not usable RAM in the firmware's memory map (MAP): in \"Reserved\" 0xb0000000-0xbfffffff",
        ),
        (
            "edges.e820",
            "0x13fe00000",
            "4M",
            "0x13fe00000-0x1401fffff is not usable RAM in the firmware's memory map (MAP): across entries \"System RAM\" 0x100000000-0x13fffffff, \"Reserved\" 0x140000000-0x140100fff, \"System RAM\" 0x140101000-0x17fffffff",
        ),
        (
            "edges.e820",
            "0x180000000",
            "2M",
            "0x180000000-0x1801fffff is not usable RAM in the firmware's memory map (MAP): in no entry",
        ),
        // RAM, but below its own size: the boot code's KASLR limit.
        (
            "edges.e820",
            "0x1000000",
            "64M",
            "0x1000000-0x4ffffff starts below its own size (64M): the x86 boot code's KASLR reads memmap=64M%... as a memory limit of 64M and may decompress the kernel there; give an --address at or above 0x4000000",
        ),
    ];
    for &(map, address, size, line) in cases {
        let r = root("not-ram");
        firmware_map(&r, map);
        let o = setup(&r, &["--address", address, "--size", size]);
        let map_dir = r.join("sys/firmware/memmap");
        let line = line.replace("MAP", &map_dir.display().to_string());
        assert_refused(&o, 1, &format!("hangtrail: setup: {line}"));
        assert_eq!(written(&r), Vec::<String>::new(), "{map} {address}");
    }
}

#[test]
fn edges_pick_the_highest_entry_that_fits() {
    let r = root("edges-pick");
    firmware_map(&r, "edges.e820");
    // The top entry (16M at 0x1c0000000) holds 16M but not 64M.
    let o = setup(&r, &["--size", "16M", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("hangtrail: setup: region 0x1c0000000-0x1c0ffffff (16M), inside \"System RAM\" 0x1c0000000-0x1c0ffffff of the firmware's memory map\n"));
    let o = setup(&r, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        success(
            &r,
            "0x140200000-0x1441fffff (64M), inside \"System RAM\" 0x140101000-0x17fffffff of the firmware's memory map",
            "memmap=64M%0x140200000-1+2 crashkernel=512M",
            "options hangtrail mem_address=0x140200000 mem_size=0x4000000 crash_marks=1"
        )
    );
}

#[test]
fn reserve_mem_without_a_firmware_map() {
    let r = root("reserve-mem");
    let o = setup(&r, &["--size", "0x100000000"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_eq!(
        stdout(&o),
        success(
            &r,
            "reserve_mem=4G:2M:hangtrail (the kernel picks the address at boot)",
            "reserve_mem=4G:2M:hangtrail crashkernel=512M",
            "options hangtrail mem_name=hangtrail crash_marks=1"
        )
    );
    assert_eq!(
        read(&r, GRUB).as_deref(),
        Some(
            r#"# Written by hangtrail setup; running it again replaces this file.
# The hangtrail region and the crash kernel's memory on the kernel command
# line: update-grub writes them into grub.cfg, the next boot uses them.
# The name sorts last: grub-mkconfig sources /etc/default/grub.d/*.cfg in
# glob order, so this comes after kdump-tools.cfg and its crashkernel= is the
# last one on the command line, the one the kernel takes.
# reserve_mem=SIZE:2M:hangtrail sets SIZE bytes of RAM aside at boot, at an
# address the kernel picks; hangtrail.ko finds it by name (mem_name=hangtrail).
GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT reserve_mem=4G:2M:hangtrail crashkernel=512M"
"#
        )
    );
    assert_eq!(
        read(&r, CONF).as_deref(),
        Some(
            r#"# Written by hangtrail setup; running it again replaces this file.
# hangtrail.ko's region, which /etc/default/grub.d/zz-hangtrail.cfg reserves:
# reserve_mem=4G:2M:hangtrail
# For the load at boot and in the crash kernel (the kdump initramfs copies
# /etc/modprobe.d/*.conf). Set the region in no other file there: modprobe
# merges every "options hangtrail" line.
options hangtrail mem_name=hangtrail crash_marks=1
"#
        )
    );

    // --address needs the map to check it against.
    let o = setup(&r, &["--address", "0x100000000"]);
    assert_refused(
        &o,
        1,
        &format!(
            "hangtrail: setup: --address 0x100000000: there is no firmware memory map ({}) to check it against; without --address, setup reserves the region with reserve_mem= (the kernel picks the address at boot)",
            r.join("sys/firmware/memmap").display()
        ),
    );

    // --reserve-mem where there is a map.
    let r = root("reserve-mem-x86");
    firmware_map(&r, "q35-4g-ovmf.e820");
    let o = setup(&r, &["--reserve-mem"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(read(&r, CONF)
        .is_some_and(|t| t.ends_with("\noptions hangtrail mem_name=hangtrail crash_marks=1\n")));
    assert!(read(&r, GRUB)
        .is_some_and(|t| t.ends_with(" reserve_mem=64M:2M:hangtrail crashkernel=512M\"\n")));
}

#[test]
fn usage_errors_exit_2() {
    let r = root("usage");
    firmware_map(&r, "q35-4g-seabios.e820");
    let cases: &[(&[&str], &str)] = &[
        (&["--size", "0"], "--size 0: must not be 0"),
        (&["--size", "63M"], "--size 63M: not a multiple of 2 MiB"),
        (&["--size", "1048576"], "--size 1048576: not a multiple of 2 MiB"),
        (&["--size", "big"], "--size big: not a number (64M, 1G, 0x4000000 or decimal)"),
        (&["--size", "99999999999G"], "--size 99999999999G: too large"),
        (&["--crashkernel", "0"], "--crashkernel 0: must not be 0"),
        (&["--crashkernel", "511M"], "--crashkernel 511M: not a multiple of 2 MiB"),
        (&["--address", "0x100100000"], "--address 0x100100000: not 2 MiB aligned"),
        (&["--address=-1"], "--address -1: not a number (64M, 1G, 0x4000000 or decimal)"),
        (
            &["--address", "0xfffffffffc000000", "--size", "128M"],
            "--address 0xfffffffffc000000: with --size 128M, the range passes the end of the 64-bit address space",
        ),
        (
            &["--reserve-mem", "--address", "4G"],
            "--address cannot be used with --reserve-mem: with reserve_mem= the kernel picks the address at boot",
        ),
    ];
    for (args, line) in cases {
        let o = setup(&r, args);
        assert_refused(&o, 2, &format!("hangtrail: setup: {line}"));
    }
    // clap's own.
    let o = setup(&r, &["--bogus"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(written(&r), Vec::<String>::new());
}

#[test]
fn dry_run_writes_nothing() {
    let r = root("dry-run");
    firmware_map(&r, "q35-4g-ovmf.e820");
    let o = setup(&r, &["--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "hangtrail: setup: region 0x100000000-0x103ffffff (64M), inside \"System RAM\" 0x100000000-0x17fffffff of the firmware's memory map\n\
             would write {}:\n{GRUB_MEMMAP_4G}would write {}:\n{CONF_MEMMAP_4G}hangtrail: setup: dry run: nothing written\n",
            r.join(GRUB).display(),
            r.join(CONF).display()
        )
    );
    assert_eq!(written(&r), Vec::<String>::new());
}

#[test]
fn files_in_the_way() {
    let r = root("in-the-way");
    firmware_map(&r, "q35-4g-seabios.e820");

    // Someone else's file of the same name: refused, nothing written.
    fs::create_dir_all(r.join("etc/default/grub.d")).expect("creates");
    fs::write(r.join(GRUB), "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n").expect("writes");
    let o = setup(&r, &[]);
    assert_refused(
        &o,
        1,
        &format!(
            "hangtrail: setup: {}: exists and was not written by hangtrail setup (its first line is not \"# Written by hangtrail setup...\"): move it away, then run setup again",
            r.join(GRUB).display()
        ),
    );
    assert_eq!(
        read(&r, GRUB).as_deref(),
        Some("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n")
    );
    assert_eq!(read(&r, CONF), None);

    // Its own files are replaced.
    fs::write(r.join(GRUB), "# Written by hangtrail setup; old\n").expect("writes");
    fs::create_dir_all(r.join("etc/modprobe.d")).expect("creates");
    fs::write(
        r.join(CONF),
        "# Written by hangtrail setup; old\noptions hangtrail mem_address=0x1\n",
    )
    .expect("writes");
    // The example file `make install` puts there sets nothing.
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/modprobe.d/hangtrail.conf"),
        r.join("etc/modprobe.d/hangtrail.conf"),
    )
    .expect("copies");
    fs::write(
        r.join("etc/modprobe.d/other.conf"),
        "options hangtrail_x mem_address=0x1\n",
    )
    .expect("writes");
    let o = setup(&r, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(read(&r, GRUB).as_deref(), Some(GRUB_MEMMAP_4G));
    assert_eq!(read(&r, CONF).as_deref(), Some(CONF_MEMMAP_4G));
    // Again: the same files.
    let o = setup(&r, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        written(&r),
        [
            "etc/default/grub.d/zz-hangtrail.cfg",
            "etc/modprobe.d/hangtrail-region.conf",
            "etc/modprobe.d/hangtrail.conf",
            "etc/modprobe.d/other.conf"
        ]
    );

    // Another modprobe.d file that sets the region: refused, naming it.
    fs::remove_file(r.join(GRUB)).expect("removes");
    fs::remove_file(r.join(CONF)).expect("removes");
    fs::write(
        r.join("etc/modprobe.d/hangtrail.conf"),
        "# by hand\noptions hangtrail mem_address=0x100000000 mem_size=0x4000000\n",
    )
    .expect("writes");
    let o = setup(&r, &["--reserve-mem"]);
    assert_refused(
        &o,
        1,
        &format!(
            "hangtrail: setup: {}: already sets the region (`options hangtrail mem_address=0x100000000 mem_size=0x4000000`), and modprobe merges every `options hangtrail` line: remove it there, then run setup again",
            r.join("etc/modprobe.d/hangtrail.conf").display()
        ),
    );
    assert_eq!(read(&r, GRUB), None);
    assert_eq!(read(&r, CONF), None);
}

#[test]
fn malformed_firmware_maps() {
    let r = root("malformed");
    firmware_map(&r, "q35-4g-seabios.e820");
    let entry = r.join("sys/firmware/memmap/8");
    fs::write(entry.join("start"), "4294967296\n").expect("writes");
    let o = setup(&r, &[]);
    assert_refused(
        &o,
        1,
        &format!(
            "hangtrail: setup: {}: \"4294967296\" is not a hex address (0x...)",
            entry.join("start").display()
        ),
    );
    fs::write(entry.join("start"), "0x100000000\n").expect("writes");
    fs::remove_file(entry.join("end")).expect("removes");
    let o = setup(&r, &["--address", "4G"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!(
            "hangtrail: setup: {}: ",
            entry.join("end").display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // A map that is a file, not a directory.
    let r = root("map-file");
    fs::create_dir_all(r.join("sys/firmware")).expect("creates");
    fs::write(r.join("sys/firmware/memmap"), "").expect("writes");
    let o = setup(&r, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!(
            "hangtrail: setup: {}: ",
            r.join("sys/firmware/memmap").display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(written(&r), Vec::<String>::new());
}

const WATCHDOG: &str = "etc/systemd/system.conf.d/zz-hangtrail-watchdog.conf";

#[test]
fn a_hardware_watchdog_gets_systemd_to_ping_it() {
    let r = root("wdog-ping");
    firmware_map(&r, "q35-4g-ovmf.e820");
    for (n, id) in [("watchdog1", "second"), ("watchdog0", "i6300ESB timer")] {
        let d = r.join("sys/class/watchdog").join(n);
        fs::create_dir_all(&d).expect("creates");
        fs::write(d.join("identity"), format!("{id}\n")).expect("writes");
    }
    let o = setup(&r, &["--watchdog", "30"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "\nhangtrail: setup: wrote {}: RuntimeWatchdogSec=30s (watchdog0 (i6300ESB timer))\n",
            r.join(WATCHDOG).display()
        )),
        "{}",
        stdout(&o)
    );
    let conf = read(&r, WATCHDOG).expect("written");
    assert!(conf.starts_with("# Written by hangtrail setup;"), "{conf}");
    assert!(
        conf.contains("hardware watchdog (watchdog0 (i6300ESB timer)) every 15 s"),
        "{conf}"
    );
    assert!(
        conf.ends_with("\n[Manager]\nRuntimeWatchdogSec=30s\n"),
        "{conf}"
    );
    assert_eq!(written(&r), [GRUB, CONF, WATCHDOG]);

    // Run again with --no-watchdog: the file stays as it is (setup removes
    // nothing), and says nothing of a watchdog.
    let o = setup(&r, &["--no-watchdog"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        !stdout(&o).contains("Watchdog") && !stdout(&o).contains("hardware watchdog"),
        "{}",
        stdout(&o)
    );
    assert_eq!(read(&r, WATCHDOG).as_deref(), Some(conf.as_str()));

    // A file of that name not written by setup is refused, whole.
    fs::write(r.join(WATCHDOG), "[Manager]\nRuntimeWatchdogSec=5min\n").expect("writes");
    let o = setup(&r, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(WATCHDOG), "{}", stderr(&o));
    assert_eq!(
        read(&r, WATCHDOG).as_deref(),
        Some("[Manager]\nRuntimeWatchdogSec=5min\n")
    );

    for bad in ["5", "3601", "1m", ""] {
        let o = setup(&r, &["--watchdog", bad, "--dry-run"]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(
            stderr(&o).starts_with("hangtrail: setup: --watchdog"),
            "{bad:?}: {}",
            stderr(&o)
        );
    }
}
