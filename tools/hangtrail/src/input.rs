//! Reading a trail: a file (mapped), standard input, or physical memory
//! through /dev/mem. Never more than the region size its header gives.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;
use std::path::Path;

use crate::format::{Trail, HEADER_SIZE};

/// The bytes of a trail: a read-only mapping of a regular file, or a copy.
pub enum Input {
    /// A mapped regular file, and how many of its bytes are the trail.
    Mapped(memmap2::Mmap, usize),
    /// Read or copied.
    Owned(Vec<u8>),
}

impl Deref for Input {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Mapped(m, len) => &m[..*len],
            Self::Owned(v) => v,
        }
    }
}

/// Bytes of the trail that `header` (the first bytes of an input) starts:
/// its region size if the header checks out, else what was given.
pub fn trail_len(header: &[u8], available: u64) -> u64 {
    match Trail::parse(header) {
        Ok(t) => t.header.region_size.min(available),
        Err(_) => available.min(header.len() as u64),
    }
}

/// Reads a trail: the header area, then up to the region size it gives.
pub fn read_bounded(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.by_ref().take(HEADER_SIZE as u64).read_to_end(&mut buf)?;
    let want = trail_len(&buf, u64::MAX);
    if want > buf.len() as u64 {
        r.take(want - buf.len() as u64).read_to_end(&mut buf)?;
    }
    Ok(buf)
}

/// Opens a trail file: a regular file is mapped read-only (no copy of a
/// 64 MiB region), anything else (a pipe, a debugfs file, which cannot be
/// mapped) is read.
///
/// A mapped file that another process truncates while it is decoded makes
/// this process fault (SIGBUS): decode saved copies, not files being
/// written.
pub fn open(path: &Path) -> io::Result<Input> {
    let mut f = File::open(path)?;
    let meta = f.metadata()?;
    if meta.is_file() && meta.len() >= HEADER_SIZE as u64 {
        // SAFETY: a private read-only mapping of a regular file; nothing in
        // this process writes it (see above for other processes).
        if let Ok(map) = unsafe { memmap2::Mmap::map(&f) } {
            // What `read_bounded` would read: the header area, then the
            // region size it gives.
            let header = &map[..map.len().min(HEADER_SIZE)];
            let len = trail_len(header, map.len() as u64) as usize;
            return Ok(Input::Mapped(map, len));
        }
    }
    read_bounded(&mut f).map(Input::Owned)
}

/// Copies `src[from..to]` into `out` with aligned volatile reads: the
/// mapping may be device memory, where arm64 faults on unaligned loads.
fn copy_mapped(src: &memmap2::Mmap, from: usize, to: usize, out: &mut Vec<u8>) {
    let p = src.as_ptr();
    let mut i = from;
    while i < to {
        // SAFETY: `i < to <= src.len()`: inside the mapping, which lives
        // as long as `src`; the u64 read is only done 8-byte aligned and
        // whole inside it.
        unsafe {
            if (p as usize + i).is_multiple_of(8) && i + 8 <= to {
                let w = std::ptr::read_volatile(p.add(i).cast::<u64>());
                out.extend_from_slice(&w.to_ne_bytes());
                i += 8;
            } else {
                out.push(std::ptr::read_volatile(p.add(i)));
                i += 1;
            }
        }
    }
}

/// Maps `size` bytes of physical memory at `addr` from /dev/mem (`read()`
/// of /dev/mem outside System RAM fails on arm64) and copies the trail out.
pub fn read_devmem(addr: u64, size: u64) -> io::Result<Vec<u8>> {
    let f = File::open("/dev/mem")?;
    let len = usize::try_from(size).map_err(io::Error::other)?;
    // SAFETY: a read-only shared mapping of /dev/mem; nothing in this
    // process writes it, and it is only read through `copy_mapped`.
    let map = unsafe { memmap2::MmapOptions::new().offset(addr).len(len).map(&f)? };
    let mut out = Vec::new();
    copy_mapped(&map, 0, len.min(HEADER_SIZE), &mut out);
    let want = trail_len(&out, size) as usize;
    copy_mapped(&map, out.len(), want.max(out.len()), &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Arch, Kind, NO_POINT};
    use crate::synth::TrailBuilder;

    #[test]
    fn files_mapped_up_to_the_region_size() {
        let mut b = TrailBuilder::new(Arch::X86_64, 2, 16);
        b.record(1, Kind::Probe, 0x1234, 0, 0, NO_POINT);
        let img = b.build();
        let dir = std::env::temp_dir().join(format!("hangtrail-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Trailing bytes past the region are not part of the trail.
        let p = dir.join("trail.bin");
        let mut long = img.clone();
        long.extend_from_slice(&[0xaa; 1000]);
        std::fs::write(&p, &long).unwrap();
        let got = open(&p).unwrap();
        assert!(matches!(got, Input::Mapped(..)));
        assert_eq!(&*got, &img[..]);
        // Shorter than a header: read, as given.
        let q = dir.join("short.bin");
        std::fs::write(&q, &img[..100]).unwrap();
        let got = open(&q).unwrap();
        assert!(matches!(got, Input::Owned(_)));
        assert_eq!(&*got, &img[..100]);
        // Not a trail: the header's bytes only, as read_bounded does.
        let r = dir.join("junk.bin");
        std::fs::write(&r, vec![0x55; HEADER_SIZE * 3]).unwrap();
        assert_eq!(open(&r).unwrap().len(), HEADER_SIZE);
        assert_eq!(
            read_bounded(&mut &vec![0x55; HEADER_SIZE * 3][..])
                .unwrap()
                .len(),
            HEADER_SIZE
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
