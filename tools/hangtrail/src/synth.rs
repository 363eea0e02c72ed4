//! Builds trails with the real [`crate::format`] types, for tests, the
//! benchmark and the fuzzer. Not used by the decoder itself.
//!
//! [`TrailBuilder`] writes records the way the module does: one global seq,
//! each CPU's ring and sample slots filled round-robin (old records are
//! overwritten), checksums from [`Record::compute_csum`] and
//! [`Header::compute_csum`].

pub mod busy_trail;
pub mod fuzz;
pub mod kernel_map;
pub mod scenarios;

use crate::format::{
    copy_padded, reseal, ring_records_for, Arch, Header, HeaderArea, Kind, Point, Record, Role,
    HEADER_SIZE, MAGIC, NO_POINT, PAYLOAD_LEN, POINT_REGISTERED, RECORD_SIZE, SAMPLES_PER_CPU,
    VERSION,
};

/// Writes a trail into a region image.
pub struct TrailBuilder {
    /// The header area (header and point table); fields may be edited
    /// freely before [`Self::build`], which seals it.
    pub area: HeaderArea,
    rings: Vec<Vec<Record>>,
    ring_next: Vec<usize>,
    samples: Vec<Vec<Record>>,
    sample_next: Vec<usize>,
    next_seq: u64,
    /// Timestamp of the next record.
    pub now_ns: u64,
    /// Added to `now_ns` after each record.
    pub step_ns: u64,
    /// Bytes of the image as laid out by `new` (header edits do not move
    /// the records).
    image_len: usize,
}

impl TrailBuilder {
    /// An empty trail for `nr_cpus` CPUs with `ring_records` records each.
    /// The region size is exactly what that needs.
    pub fn new(arch: Arch, nr_cpus: u32, ring_records: u32) -> Self {
        let region_size = (HEADER_SIZE
            + nr_cpus as usize * SAMPLES_PER_CPU * RECORD_SIZE
            + nr_cpus as usize * ring_records as usize * RECORD_SIZE)
            as u64;
        let mut area = HeaderArea::zeroed();
        let h = &mut area.header;
        h.magic = MAGIC;
        h.version = VERSION;
        h.header_size = HEADER_SIZE as u32;
        h.region_size = region_size;
        h.phys_addr = 0x8100_0000;
        h.record_size = RECORD_SIZE as u32;
        h.nr_cpus = nr_cpus;
        h.ring_records = ring_records;
        h.samples_per_cpu = SAMPLES_PER_CPU as u32;
        h.arch = arch as u32;
        h.boot_id = *b"\x5e\xed\x00\x01synthetic\x00\x00\x00";
        h.online_cpus = nr_cpus;
        h.start_ns = 1_000_000_000;
        debug_assert!(ring_records_for(region_size, nr_cpus).is_some_and(|n| n >= ring_records));
        Self {
            area,
            rings: vec![vec![Record::default(); ring_records as usize]; nr_cpus as usize],
            ring_next: vec![0; nr_cpus as usize],
            samples: vec![vec![Record::default(); SAMPLES_PER_CPU]; nr_cpus as usize],
            sample_next: vec![0; nr_cpus as usize],
            next_seq: 1,
            now_ns: 1_000_000_000,
            step_ns: 1_000,
            image_len: region_size as usize,
        }
    }

    /// Sets `uname -r`.
    pub fn release(&mut self, release: &str) -> &mut Self {
        copy_padded(&mut self.area.header.release, release.as_bytes());
        self
    }

    /// Sets the reference symbol and its runtime address.
    pub fn reference(&mut self, name: &str, runtime_addr: u64) -> &mut Self {
        copy_padded(&mut self.area.header.ref_name, name.as_bytes());
        self.area.header.ref_addr = runtime_addr;
        self
    }

    /// Adds a registered point (`name` is `sym` or `sym+0xoff`) and returns
    /// its index.
    pub fn point(&mut self, name: &str, role: Role, addr: u64) -> u16 {
        let offset = name
            .split_once("+0x")
            .and_then(|(_, o)| u32::from_str_radix(o, 16).ok())
            .unwrap_or(0);
        self.point_with(name, role, addr, offset, POINT_REGISTERED, 0)
    }

    /// Adds a point with every field given.
    pub fn point_with(
        &mut self,
        name: &str,
        role: Role,
        addr: u64,
        offset: u32,
        status: u8,
        errno: i32,
    ) -> u16 {
        let i = self.area.header.nr_points as usize;
        assert!(i < self.area.points.len(), "too many points");
        let mut p = Point {
            name: [0; crate::format::POINT_NAME_LEN],
            addr,
            role: role as u8,
            status,
            kretprobe: 0,
            _pad: 0,
            errno,
            offset,
            _pad2: 0,
            _pad3: [0; 8],
        };
        copy_padded(&mut p.name, name.as_bytes());
        self.area.points[i] = p;
        self.area.header.nr_points += 1;
        i as u16
    }

    /// Marks point `i` as also having a kretprobe.
    pub fn kretprobe(&mut self, i: u16) -> &mut Self {
        self.area.points[usize::from(i)].kretprobe = 1;
        self
    }

    /// Runtime address of point `i`.
    pub fn point_addr(&self, i: u16) -> u64 {
        self.area.points[usize::from(i)].addr
    }

    /// Appends `r` to its CPU's ring (`r.cpu`), filling in seq, timestamp
    /// and checksum; returns the seq.
    pub fn push(&mut self, mut r: Record) -> u64 {
        r.seq = self.next_seq;
        r.ts_ns = self.now_ns;
        r.csum = r.compute_csum();
        self.next_seq += 1;
        self.now_ns += self.step_ns;
        let cpu = r.cpu as usize;
        let n = self.rings[cpu].len();
        let i = self.ring_next[cpu];
        self.rings[cpu][i % n] = r;
        self.ring_next[cpu] = i + 1;
        r.seq
    }

    /// Appends a breadcrumb to `cpu`'s ring and returns its seq.
    pub fn record(
        &mut self,
        cpu: u32,
        kind: Kind,
        pc: u64,
        arg: u64,
        flags: u8,
        point: u16,
    ) -> u64 {
        self.push(Record {
            cpu,
            kind: kind as u8,
            pc,
            arg,
            flags,
            point,
            ..Record::default()
        })
    }

    /// A `Probe` record at point `point` (pc = the point's address).
    pub fn probe(&mut self, cpu: u32, point: u16, arg: u64, flags: u8) -> u64 {
        let pc = self.point_addr(point);
        self.record(cpu, Kind::Probe, pc, arg, flags, point)
    }

    /// A `SoftLockup` record.
    pub fn softlockup(
        &mut self,
        cpu: u32,
        pc: u64,
        stuck_ns: u64,
        comm: &str,
        pid: u32,
        flags: u8,
    ) -> u64 {
        let mut payload = [0u8; PAYLOAD_LEN];
        copy_padded(&mut payload[..16], comm.as_bytes());
        payload[16..].copy_from_slice(&pid.to_le_bytes());
        self.push(Record {
            cpu,
            kind: Kind::SoftLockup as u8,
            pc,
            arg: stuck_ns,
            flags,
            point: NO_POINT,
            payload,
            ..Record::default()
        })
    }

    /// A `StopContext` or `LockupContext` record: interrupted `pc`, `sp`
    /// in `arg`, `lr` in the payload.
    pub fn context(&mut self, cpu: u32, kind: Kind, pc: u64, sp: u64, lr: u64, flags: u8) -> u64 {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..8].copy_from_slice(&lr.to_le_bytes());
        self.push(Record {
            cpu,
            kind: kind as u8,
            pc,
            arg: sp,
            flags,
            point: NO_POINT,
            payload,
            ..Record::default()
        })
    }

    /// A `StopMap` record: CPUs `first..first + 64` in `mask` online and not
    /// seen stopped; `unknown` stop-handler runs skipped, `total` not seen.
    pub fn stop_map(
        &mut self,
        cpu: u32,
        first: u64,
        mask: u64,
        unknown: u32,
        total: u32,
        flags: u8,
    ) -> u64 {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..4].copy_from_slice(&unknown.to_le_bytes());
        payload[4..8].copy_from_slice(&total.to_le_bytes());
        self.push(Record {
            cpu,
            kind: Kind::StopMap as u8,
            pc: mask,
            arg: first,
            flags,
            point: NO_POINT,
            payload,
            ..Record::default()
        })
    }

    /// `Name` chunks carrying `text` for record `owner`. Like the module,
    /// always ends with a NUL: a text filling its last chunk exactly gets an
    /// all-NUL chunk after it.
    pub fn name(&mut self, cpu: u32, owner: u64, text: &str, flags: u8) {
        let bytes = text.as_bytes();
        let chunks = (bytes.len() + PAYLOAD_LEN) / PAYLOAD_LEN;
        for i in 0..chunks {
            let mut payload = [0u8; PAYLOAD_LEN];
            let start = (i * PAYLOAD_LEN).min(bytes.len());
            copy_padded(&mut payload, &bytes[start..]);
            self.push(Record {
                cpu,
                kind: Kind::Name as u8,
                arg: owner,
                flags,
                point: i as u16,
                payload,
                ..Record::default()
            });
        }
    }

    /// A watchdog sample in `cpu`'s sample slots.
    pub fn sample(&mut self, cpu: u32, pc: u64, pid: u64, flags: u8) -> u64 {
        let mut r = Record {
            seq: self.next_seq,
            ts_ns: self.now_ns,
            pc,
            arg: pid,
            cpu,
            kind: Kind::Sample as u8,
            flags,
            point: NO_POINT,
            ..Record::default()
        };
        r.csum = r.compute_csum();
        self.next_seq += 1;
        self.now_ns += self.step_ns;
        let c = cpu as usize;
        let i = self.sample_next[c];
        self.samples[c][i % SAMPLES_PER_CPU] = r;
        self.sample_next[c] = i + 1;
        r.seq
    }

    /// Byte offset of ring slot `slot` of `cpu` in the built image.
    pub fn ring_slot_offset(&self, cpu: u32, slot: u32) -> usize {
        let ring = self.rings.first().map_or(0, Vec::len);
        HEADER_SIZE
            + (self.rings.len() * SAMPLES_PER_CPU + cpu as usize * ring + slot as usize)
                * RECORD_SIZE
    }

    /// Byte offset of sample slot `slot` of `cpu`.
    pub fn sample_slot_offset(&self, cpu: u32, slot: u32) -> usize {
        HEADER_SIZE + (cpu as usize * SAMPLES_PER_CPU + slot as usize) * RECORD_SIZE
    }

    /// The ring slot a record with sequence number `seq` went to.
    pub fn slot_of(&self, seq: u64) -> Option<(u32, u32)> {
        for (cpu, ring) in self.rings.iter().enumerate() {
            if let Some(i) = ring.iter().position(|r| r.seq == seq) {
                return Some((cpu as u32, i as u32));
            }
        }
        None
    }

    /// The region image, with the header checksum filled in. Records are
    /// laid out as for the geometry given to [`Self::new`], whatever the
    /// header says now.
    pub fn build(&self) -> Vec<u8> {
        let mut area = self.area;
        area.seal();
        let mut out = Vec::with_capacity(self.image_len);
        out.extend_from_slice(area.as_bytes());
        for s in &self.samples {
            for r in s {
                out.extend_from_slice(r.as_bytes());
            }
        }
        for ring in &self.rings {
            for r in ring {
                out.extend_from_slice(r.as_bytes());
            }
        }
        out.resize(self.image_len, 0);
        out
    }
}

impl TrailBuilder {
    /// Only the header (checksummed), for headers describing regions too
    /// large to build.
    pub fn build_header_only(&self) -> Vec<u8> {
        let mut area = self.area;
        area.seal();
        area.as_bytes().to_vec()
    }
}

/// Rewrites the header checksum of an image in place (after editing header
/// bytes). Does nothing if the image is shorter than a header.
pub fn fix_header_csum(image: &mut [u8]) {
    let Some(fixed) = image.first_chunk::<{ crate::format::V1_HEADER_SIZE }>() else {
        return;
    };
    let h = Header::from_bytes(fixed);
    // The checksum covers the header area of the trail's own version.
    let size = if h.version == 1 {
        crate::format::V1_HEADER_SIZE
    } else {
        HEADER_SIZE
    };
    if let Some(area) = image.get_mut(..size) {
        reseal(area, &h);
    }
}

/// Rewrites the checksum of the record at `offset` (after editing it).
pub fn fix_record_csum(image: &mut [u8], offset: usize) {
    let Some(b) = image
        .get(offset..)
        .and_then(|b| b.first_chunk::<RECORD_SIZE>())
    else {
        return;
    };
    let mut r = Record::from_bytes(b);
    r.csum = r.compute_csum();
    image[offset..offset + RECORD_SIZE].copy_from_slice(r.as_bytes());
}

/// A synthetic kernel image: function addresses and a `System.map` for them.
pub struct SymbolMap {
    /// `(link address, name)`, sorted.
    pub funcs: Vec<(u64, String)>,
}

impl SymbolMap {
    /// `names` laid out from `base`, each `size` bytes apart.
    pub fn new(base: u64, size: u64, names: &[&str]) -> Self {
        Self {
            funcs: names
                .iter()
                .enumerate()
                .map(|(i, n)| (base + i as u64 * size, n.to_string()))
                .collect(),
        }
    }

    /// `count` functions `fn_<i>` of pseudo-random sizes (16..4096 bytes)
    /// from `base`, plus `panic`.
    pub fn generated(base: u64, count: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut addr = base;
        let mut funcs = Vec::with_capacity(count + 1);
        for i in 0..count {
            let name = if i == count / 2 {
                "panic".to_string()
            } else {
                format!("fn_{i}")
            };
            funcs.push((addr, name));
            addr += (16 + rng.next_u64() % 4080) & !0xf;
        }
        Self { funcs }
    }

    /// Link address of `name`.
    pub fn addr(&self, name: &str) -> u64 {
        self.funcs
            .iter()
            .find(|(_, n)| n == name)
            .map(|(a, _)| *a)
            .unwrap_or_else(|| panic!("synthetic symbol {name} not defined"))
    }

    /// The `System.map` text (`addr T name`), with a data symbol mixed in
    /// every 16 functions like the real thing.
    pub fn system_map(&self) -> String {
        let mut s = String::with_capacity(self.funcs.len() * 40);
        for (i, (a, n)) in self.funcs.iter().enumerate() {
            let ty = if n.starts_with("__") || i % 7 == 3 {
                't'
            } else {
                'T'
            };
            s.push_str(&format!("{a:016x} {ty} {n}\n"));
            if i % 16 == 15 {
                s.push_str(&format!("{:016x} d __data_{i}\n", a + 8));
            }
        }
        s
    }
}

/// A small deterministic PRNG (xorshift64*), so synthetic data and fuzzing
/// are reproducible without a dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator (a zero seed is replaced).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
