//! Files `hangtrail decode` writes besides its report (`--trace-event`,
//! `--svg`): checked before anything is decoded, written whole or not at
//! all.
//!
//! An existing regular file is replaced (like a compiler's `-o`): the new
//! content goes to a temporary file beside it, which is renamed over it
//! once complete, so a failure leaves the old file as it was and no
//! half-written one. Refused, with nothing written: a directory (or
//! anything else that is not a regular file, such as a device or a FIFO),
//! a path whose directory does not exist, `-`, and a file that is one of
//! the inputs (the trail, a symbol file: the evidence is never overwritten).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Whether `a` and `b` are the same file (device and inode).
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Why `path` cannot be written as an output, if it cannot: see the
/// module documentation. `inputs` are the files read.
pub fn check(path: &Path, inputs: &[&Path]) -> Result<(), String> {
    if path.as_os_str() == "-" {
        return Err("write to a file: standard output carries the report".into());
    }
    if path.as_os_str().is_empty() || path.file_name().is_none() {
        return Err("not a file name".into());
    }
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => return Err("is a directory".into()),
        Ok(m) if !m.is_file() => return Err("exists and is not a regular file".into()),
        Ok(m) => {
            for i in inputs {
                if fs::metadata(i).is_ok_and(|im| same_file(&m, &im)) {
                    return Err(format!(
                        "is the input {}: refusing to overwrite it",
                        i.display()
                    ));
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.to_string()),
    }
    let dir = parent(path);
    match fs::metadata(&dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("{} is not a directory", dir.display())),
        Err(e) => Err(format!("directory {}: {e}", dir.display())),
    }
}

/// The directory `path` is in.
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A file being written: complete it with [`Pending::commit`], or drop it
/// to remove the temporary file.
pub struct Pending {
    tmp: PathBuf,
    path: PathBuf,
    file: Option<BufWriter<File>>,
}

impl Pending {
    /// Starts writing `path` (checked with [`check`]) through a new
    /// temporary file beside it.
    pub fn create(path: &Path) -> io::Result<Self> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::other("not a file name"))?;
        let mut n = 0u32;
        loop {
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".hangtrail-{}-{n}.tmp", std::process::id()));
            let tmp = parent(path).join(tmp_name);
            match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(f) => {
                    return Ok(Self {
                        tmp,
                        path: path.to_path_buf(),
                        file: Some(BufWriter::with_capacity(1 << 20, f)),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Where the content goes.
    pub fn writer(&mut self) -> &mut impl Write {
        self.file.as_mut().expect("open until committed")
    }

    /// Flushes the content to disk and renames it into place.
    pub fn commit(mut self) -> io::Result<()> {
        let mut w = self.file.take().expect("open until committed");
        w.flush()?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&self.tmp, &self.path)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.file = None;
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("hangtrail-output-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("creates");
        d
    }

    #[test]
    fn refusals() {
        let d = scratch("refuse");
        let input = d.join("trail.bin");
        fs::write(&input, b"trail").expect("writes");
        let link = d.join("link.bin");
        fs::hard_link(&input, &link).expect("links");
        assert!(check(&d, &[]).unwrap_err().contains("is a directory"));
        assert!(check(Path::new("-"), &[]).is_err());
        assert!(check(&d.join("no/such/dir/x.svg"), &[])
            .unwrap_err()
            .contains("directory"));
        assert!(check(&input, &[&input]).unwrap_err().contains("the input"));
        assert!(check(&link, &[&input]).unwrap_err().contains("the input"));
        assert_eq!(check(&d.join("new.svg"), &[&input]), Ok(()));
        assert_eq!(check(&input, &[]), Ok(()), "another file is replaced");
        assert!(check(Path::new("/dev/null"), &[]).is_err());
        fs::remove_dir_all(&d).expect("cleans");
    }

    #[test]
    fn replaced_whole_or_not_at_all() {
        let d = scratch("write");
        let p = d.join("out.json");
        fs::write(&p, b"old").expect("writes");
        // Dropped before commit: the old file stays, no temporary is left.
        let mut w = Pending::create(&p).expect("creates");
        w.writer().write_all(b"half").expect("writes");
        drop(w);
        assert_eq!(fs::read(&p).expect("reads"), b"old");
        assert_eq!(fs::read_dir(&d).expect("lists").count(), 1);
        let mut w = Pending::create(&p).expect("creates");
        w.writer().write_all(b"new").expect("writes");
        w.commit().expect("commits");
        assert_eq!(fs::read(&p).expect("reads"), b"new");
        assert_eq!(fs::read_dir(&d).expect("lists").count(), 1);
        fs::remove_dir_all(&d).expect("cleans");
    }
}
