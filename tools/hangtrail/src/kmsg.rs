//! The kernel log, read from `/dev/kmsg` (the kernel's
//! Documentation/ABI/testing/dev-kmsg): every `read()` returns one record,
//! `PRIO,SEQ,TS,FLAGS[,...];TEXT\n`, followed by continuation lines that
//! start with a space (`SUBSYSTEM=...`); non-printable bytes and `\` in
//! `TEXT` are escaped as `\xNN`. Opened `O_NONBLOCK`, a read with no record
//! left fails with `EAGAIN`: the end. A regular file holding the same lines
//! reads the same way (a read returning 0 is the end), which is what the
//! tests give.
//!
//! `hangtrail save` uses it for one thing: the module's own verdict line
//! (`hangtrail: previous boot stopped: ...`) for a trail the decoder cannot
//! parse.

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The kernel log device.
pub const KMSG: &str = "/dev/kmsg";

/// `O_NONBLOCK` (no libc dependency): 0o4000 on x86, arm, riscv, powerpc,
/// s390 and loongarch; mips and sparc differ.
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
const O_NONBLOCK: i32 = 0x80;
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
const O_NONBLOCK: i32 = 0x4000;
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
const O_NONBLOCK: i32 = 0o4000;

/// One read: larger than any record (`/dev/kmsg` refuses a read too small
/// for the next record with `EINVAL`; records are at most a few KiB).
const READ_SIZE: usize = 64 << 10;
/// A line longer than this is skipped (no record is this long; a file that
/// is not a log must not fill memory).
const MAX_LINE: usize = 64 << 10;
/// No more than this is read in all (a device that never ends).
const MAX_TOTAL: u64 = 256 << 20;

/// The text of a kernel record line (`PRIO,SEQ,TS,FLAGS...;TEXT`), escapes
/// undone; `None` for a continuation line, a line that is not a record, or
/// a record not from the kernel (facility 0: `PRIO` below 8; what userspace
/// writes to `/dev/kmsg` has another facility).
pub fn kernel_text(line: &[u8]) -> Option<String> {
    let semi = line.iter().position(|&c| c == b';')?;
    let prefix = &line[..semi];
    let mut fields = prefix.split(|&c| c == b',');
    let prio = fields.next()?;
    // PRIO, SEQ, TS and FLAGS at least; more may follow.
    if fields.count() < 3 || prio.is_empty() || !prio.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let prio: u32 = std::str::from_utf8(prio).ok()?.parse().ok()?;
    if prio >> 3 != 0 {
        return None;
    }
    Some(String::from_utf8_lossy(&unescape(&line[semi + 1..])).into_owned())
}

/// Undoes the kernel's `\xNN` escapes; anything else is kept as it is.
fn unescape(t: &[u8]) -> Vec<u8> {
    let hex = |c: u8| char::from(c).to_digit(16);
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        if t[i] == b'\\' && t.get(i + 1) == Some(&b'x') {
            if let (Some(h), Some(l)) = (
                t.get(i + 2).copied().and_then(hex),
                t.get(i + 3).copied().and_then(hex),
            ) {
                // Two hex digits: at most 0xff.
                out.push((h * 16 + l) as u8);
                i += 4;
                continue;
            }
        }
        out.push(t[i]);
        i += 1;
    }
    out
}

/// The last kernel record whose text contains `needle`: its text from
/// `needle` on. Reads `source` to its end (`EAGAIN`, or a read of 0);
/// records overwritten while reading (`EPIPE`) are skipped. A read error
/// ends the search with what was found so far.
pub fn last_containing(source: &mut impl Read, needle: &str) -> Option<String> {
    let mut found = None;
    let mut line: Vec<u8> = Vec::new();
    let mut skipping = false;
    let mut buf = vec![0u8; READ_SIZE];
    let mut total = 0u64;
    let take = |line: &[u8], found: &mut Option<String>| {
        if let Some(text) = kernel_text(line) {
            if let Some(at) = text.find(needle) {
                *found = Some(text[at..].to_string());
            }
        }
    };
    while total < MAX_TOTAL {
        let n = match source.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Overwritten while reading: the next read has the next record.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => continue,
            // WouldBlock (EAGAIN: no more records), or a real error.
            Err(_) => break,
        };
        total += n as u64;
        let mut chunk = &buf[..n];
        while let Some(nl) = chunk.iter().position(|&c| c == b'\n') {
            if !skipping && line.len() + nl <= MAX_LINE {
                line.extend_from_slice(&chunk[..nl]);
                take(&line, &mut found);
            }
            line.clear();
            skipping = false;
            chunk = &chunk[nl + 1..];
        }
        if !skipping {
            if line.len() + chunk.len() > MAX_LINE {
                line.clear();
                skipping = true;
            } else {
                line.extend_from_slice(chunk);
            }
        }
    }
    // A last line without its newline (a file cut short) counts too.
    if !skipping && !line.is_empty() {
        take(&line, &mut found);
    }
    found
}

/// [`last_containing`] of the kernel log at `path` (`/dev/kmsg`, or a file
/// of its lines), opened non-blocking. `None` also when it cannot be
/// opened: no kernel log is no error.
pub fn last_in(path: &Path, needle: &str) -> Option<String> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
        .ok()?;
    last_containing(&mut f, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEEDLE: &str = "hangtrail: previous boot stopped: ";

    #[test]
    fn record_lines() {
        assert_eq!(
            kernel_text(b"6,339,5140900,-;hangtrail: x").as_deref(),
            Some("hangtrail: x")
        );
        // More prefix fields (CONFIG_PRINTK_CALLER), a `;` in the text.
        assert_eq!(
            kernel_text(b"4,2,3,c,caller=T1;a;b").as_deref(),
            Some("a;b")
        );
        // Escapes undone: `\`, a newline, UTF-8; a broken escape kept.
        assert_eq!(
            kernel_text(br"6,1,1,-;a\x5cb\x0ac\xc3\xa9 \xz").as_deref(),
            Some("a\\b\nc\u{e9} \\xz")
        );
        for not in [
            &b" SUBSYSTEM=acpi"[..],
            b"no record",
            b"6,1,-;too few fields",
            b"x,1,1,-;prio not a number",
            b",1,1,-;no prio",
            // Userspace (facility 1, LOG_USER): not the module's.
            b"14,5,6,-;hangtrail: previous boot stopped: forged",
            b"99999999999999999999,1,1,-;overflow",
        ] {
            assert_eq!(kernel_text(not), None, "{}", String::from_utf8_lossy(not));
        }
    }

    /// One record a read, as `/dev/kmsg` gives them, and the same bytes in
    /// arbitrary pieces, as a file gives them: the last match wins, and
    /// continuation lines and other facilities are not records.
    #[test]
    fn last_match() {
        let log = b"6,1,100,-;hangtrail: previous boot stopped: first\n\
            \x20DEVICE=+hangtrail: previous boot stopped: continuation\n\
            6,2,200,-;other: hangtrail: previous boot stopped: hung on CPU 1 after x\n\
            \x20SUBSYSTEM=x\n\
            13,3,300,-;hangtrail: previous boot stopped: from userspace\n\
            6,4,400,-;hangtrail: holding the trail\n";
        struct Pieces<'a>(&'a [u8], usize);
        impl Read for Pieces<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.1.min(self.0.len()).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for size in [1, 2, 7, 64, log.len()] {
            assert_eq!(
                last_containing(&mut Pieces(log, size), NEEDLE).as_deref(),
                Some("hangtrail: previous boot stopped: hung on CPU 1 after x"),
                "pieces of {size}"
            );
        }
        assert_eq!(last_containing(&mut &b""[..], NEEDLE), None);
        assert_eq!(
            last_containing(&mut &b"6,1,1,-;hangtrail: ready\n"[..], NEEDLE),
            None
        );
        // Cut short: the last line counts without its newline.
        assert_eq!(
            last_containing(&mut &log[..49], NEEDLE).as_deref(),
            Some("hangtrail: previous boot stopped: first")
        );
    }

    /// `/dev/kmsg`'s errors: `EPIPE` (records overwritten) is skipped,
    /// `EAGAIN` ends the log, any other error ends the search with what was
    /// found; a line too long is skipped whole.
    #[test]
    fn errors_and_bounds() {
        /// Each item one read's result; a long one takes several reads.
        struct Reads(Vec<io::Result<Vec<u8>>>);
        impl Read for Reads {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Ok(0);
                }
                let mut r = self.0.remove(0)?;
                if r.len() > buf.len() {
                    self.0.insert(0, Ok(r.split_off(buf.len())));
                }
                buf[..r.len()].copy_from_slice(&r);
                Ok(r.len())
            }
        }
        let rec = |s: &str| Ok(format!("6,1,1,-;{NEEDLE}{s}\n").into_bytes());
        let err = |k| Err(io::Error::from(k));
        let mut r = Reads(vec![
            rec("a"),
            err(io::ErrorKind::BrokenPipe),
            err(io::ErrorKind::Interrupted),
            rec("b"),
            err(io::ErrorKind::WouldBlock),
            rec("not read"),
        ]);
        assert_eq!(last_containing(&mut r, NEEDLE), Some(format!("{NEEDLE}b")));
        let mut r = Reads(vec![rec("a"), err(io::ErrorKind::Other), rec("b")]);
        assert_eq!(last_containing(&mut r, NEEDLE), Some(format!("{NEEDLE}a")));
        // A line longer than MAX_LINE, a match at its end: skipped, and
        // the next line is read whole.
        let mut long = format!("6,1,1,-;{}", "x".repeat(MAX_LINE)).into_bytes();
        long.extend_from_slice(format!("{NEEDLE}long\n").as_bytes());
        let mut r = Reads(vec![rec("a"), Ok(long), rec("c")]);
        assert_eq!(last_containing(&mut r, NEEDLE), Some(format!("{NEEDLE}c")));
        let mut long = format!("6,1,1,-;{}", "x".repeat(MAX_LINE)).into_bytes();
        long.extend_from_slice(format!("{NEEDLE}long\n").as_bytes());
        let mut r = Reads(vec![rec("a"), Ok(long)]);
        assert_eq!(last_containing(&mut r, NEEDLE), Some(format!("{NEEDLE}a")));
    }

    #[test]
    fn files() {
        let dir = std::env::temp_dir().join(format!("hangtrail-kmsg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("kmsg");
        std::fs::write(&f, format!("6,1,1,-;{NEEDLE}hung on CPU 1\n SUBSYSTEM=x\n")).unwrap();
        assert_eq!(last_in(&f, NEEDLE), Some(format!("{NEEDLE}hung on CPU 1")));
        // Missing, or a directory (reads fail): nothing, no error.
        assert_eq!(last_in(&dir.join("missing"), NEEDLE), None);
        assert_eq!(last_in(&dir, NEEDLE), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
