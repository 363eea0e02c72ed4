//! One structured journal entry, sent with journald's native protocol: a
//! datagram to `/run/systemd/journal/socket` holding `KEY=value\n` fields,
//! or, for a value with a newline in it, `KEY\n`, its length as a
//! little-endian u64, the value and `\n` (systemd's
//! `sd_journal_sendv()`, documented in systemd's "Native Journal Protocol").
//! No libsystemd: the protocol is small and stable, and the decoder stays
//! one static-enough binary.

use std::fmt;
use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// journald's socket for native-protocol datagrams.
pub const SOCKET: &str = "/run/systemd/journal/socket";

/// A field name journald refused to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadField(pub String);

impl fmt::Display for BadField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a journal field name", self.0)
    }
}

impl std::error::Error for BadField {}

/// Whether journald accepts `name` from a client: `A-Z`, `0-9` and `_`,
/// not starting with `_` (trusted fields) or a digit, at most 64 bytes.
pub fn valid_field(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && !b[0].is_ascii_digit()
        && b[0] != b'_'
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// The fields of one entry, in order.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    fields: Vec<(String, Vec<u8>)>,
}

impl Entry {
    /// An empty entry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field (journald keeps repeated fields as several values).
    pub fn add(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<&mut Self, BadField> {
        if !valid_field(name) {
            return Err(BadField(name.to_string()));
        }
        self.fields
            .push((name.to_string(), value.as_ref().to_vec()));
        Ok(self)
    }

    /// The fields added so far.
    pub fn fields(&self) -> &[(String, Vec<u8>)] {
        &self.fields
    }

    /// The datagram: `NAME=value\n`, or `NAME\n<u64 le length>value\n` for
    /// a value holding a newline.
    pub fn to_datagram(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in &self.fields {
            out.extend_from_slice(name.as_bytes());
            if value.contains(&b'\n') {
                out.push(b'\n');
                out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            } else {
                out.push(b'=');
            }
            out.extend_from_slice(value);
            out.push(b'\n');
        }
        out
    }

    /// Sends the entry to the journal listening on `socket`.
    pub fn send(&self, socket: &Path) -> io::Result<()> {
        let s = UnixDatagram::unbound()?;
        let d = self.to_datagram();
        let n = s.send_to(&d, socket)?;
        if n != d.len() {
            return Err(io::Error::other(format!(
                "journal took {n} of {} bytes",
                d.len()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// journald's side of the protocol (`journal_file_append_entry`'s
    /// input parser, `server_process_native_message`), for the tests.
    fn parse(mut d: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut out = Vec::new();
        while !d.is_empty() {
            let nl = d.iter().position(|&c| c == b'\n').ok_or("no newline")?;
            let line = &d[..nl];
            if let Some(eq) = line.iter().position(|&c| c == b'=') {
                let name = String::from_utf8(line[..eq].to_vec()).map_err(|e| e.to_string())?;
                out.push((name, line[eq + 1..].to_vec()));
                d = &d[nl + 1..];
            } else {
                let name = String::from_utf8(line.to_vec()).map_err(|e| e.to_string())?;
                let rest = &d[nl + 1..];
                let len: [u8; 8] = rest
                    .get(..8)
                    .ok_or("short length")?
                    .try_into()
                    .map_err(|_| "length")?;
                let len = usize::try_from(u64::from_le_bytes(len)).map_err(|e| e.to_string())?;
                let value = rest.get(8..8 + len).ok_or("short value")?;
                if rest.get(8 + len) != Some(&b'\n') {
                    return Err("no newline after a binary value".into());
                }
                out.push((name, value.to_vec()));
                d = &rest[8 + len + 1..];
            }
        }
        Ok(out)
    }

    #[test]
    fn field_names() {
        for ok in ["MESSAGE", "HANGTRAIL_PC", "A", "X9_", &"A".repeat(64)] {
            assert!(valid_field(ok), "{ok}");
        }
        for bad in [
            "",
            "_PID",
            "9A",
            "message",
            "A-B",
            "A=B",
            "A\nB",
            &"A".repeat(65),
        ] {
            assert!(!valid_field(bad), "{bad:?}");
            assert_eq!(Entry::new().add(bad, "x").err(), Some(BadField(bad.into())));
        }
    }

    #[test]
    fn datagram_forms() {
        let mut e = Entry::new();
        e.add("MESSAGE", "one line").unwrap();
        e.add("TEXT", "two\nlines").unwrap();
        e.add("EMPTY", "").unwrap();
        let d = e.to_datagram();
        let mut want = b"MESSAGE=one line\nTEXT\n".to_vec();
        want.extend_from_slice(&9u64.to_le_bytes());
        want.extend_from_slice(b"two\nlines\nEMPTY=\n");
        assert_eq!(d, want);
        assert_eq!(parse(&d).unwrap(), e.fields());
        // The parser is strict: a truncated datagram does not parse.
        for cut in [d.len() - 1, 30, 25] {
            assert!(parse(&d[..cut]).is_err(), "cut at {cut}");
        }
    }

    /// A real datagram socket standing in for journald: what arrives is
    /// exactly what was sent, and parses back to the fields, binary form
    /// included (a value with a newline, one with `=` and a NUL byte).
    #[test]
    fn sent_to_a_socket() {
        let dir = std::env::temp_dir().join(format!("hangtrail-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("socket");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).unwrap();
        let mut e = Entry::new();
        e.add("MESSAGE", "hangtrail: hung on CPU 0\nsecond line")
            .unwrap()
            .add("PRIORITY", "3")
            .unwrap()
            .add("HANGTRAIL_X", b"a=b\0c")
            .unwrap();
        e.send(&path).unwrap();
        let mut buf = vec![0u8; 65536];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], e.to_datagram());
        let got = parse(&buf[..n]).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].1, b"hangtrail: hung on CPU 0\nsecond line");
        assert_eq!(got[1], ("PRIORITY".to_string(), b"3".to_vec()));
        assert_eq!(got[2].1, b"a=b\0c");
        drop(rx);
        // Nobody listening: an error, not a hang or a panic.
        std::fs::remove_file(&path).unwrap();
        assert!(e.send(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
