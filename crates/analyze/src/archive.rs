//! Archives found as files inside layers, expanded in memory so that every member is
//! analyzed as if it were a file of the layer.
//!
//! Formats are recognized by their magic bytes, never by name: zip (and so jar, war, ear,
//! apk, whl, docx…), tar, and the single-stream compressors gzip, zstd, xz and bzip2. A
//! compressed stream holding a tar (`.tar.gz`, `.tgz`, `.tar.zst`…) is one archive whose
//! members sit directly under it (`app.tgz!/bin/x`), the way tar tools see it; any other
//! compressed stream holds one member named after it (`a.json.gz!/a.json`, else
//! `x!/<stream>`). Members that are archives are expanded in turn, down to [`BOUNDS`]`.depth`
//! levels: `opt/app.war!/WEB-INF/lib/x.jar!/a/B.class` is at level 2.
//!
//! Member names are hostile: they are normalized like tar member names in layers, and a
//! name that climbs out with `..` is a finding. Directories and links inside archives are
//! skipped, never followed. Nothing is written to disk; member bytes are held one member per
//! nesting level, bounded by [`Bounds`]; every bound hit is listed in `coverage.partial`, and
//! a decompression ratio past the bound is also an `archive-bomb` finding.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::rc::Rc;

use customs_core::{Confidence, Digest, Finding, Severity, attack};
use customs_image::walk::{EntryKind, FileContent, FileEntry, LayerRecord, normalize_path};
use sha2::{Digest as _, Sha256};

use crate::Rule;

/// Id and version, listed with the analyzers' (cache keys): expansion decides which members
/// the file analyzers see.
pub(crate) const ID: &str = "archive";
pub(crate) const VERSION: u32 = 1;

/// Bounds on the work one archive found in a layer may cause, all nesting levels together.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    /// Deepest level of members analyzed (the members of a layer file are at level 1); an
    /// archive found at this level is listed, not expanded.
    pub depth: usize,
    /// Most members read, all levels together.
    pub members: u64,
    /// Most bytes decompressed, all levels together.
    pub expanded: u64,
    /// Most leading bytes of one member held for analysis (the rest is hashed, not held).
    /// Also what the scan driver reads of every layer file, so archives up to this size can
    /// be expanded: the same size as the largest content analyzer reads.
    pub member_bytes: usize,
    /// Most member bytes held at once along one chain of nested archives.
    pub held: usize,
    /// Most decompressed bytes per compressed byte of one stream or zip member ...
    pub ratio: u64,
    /// ... checked once this many bytes came out (small files legitimately compress well).
    pub ratio_after: u64,
}

/// The bounds in force. A zip bomb of 1 GiB of zeros (about 1,000:1) stops after 16 MiB.
pub(crate) const BOUNDS: Bounds = Bounds {
    depth: 4,
    members: 100_000,
    expanded: 512 << 20,
    member_bytes: 32 << 20,
    held: 64 << 20,
    ratio: 200,
    // Not 1 MiB: Go's source tree, which golang images ship, holds a 156-byte test bzip2
    // of a tar with a 1 MiB header. Nothing under 16 MiB exhausts anything.
    ratio_after: 16 << 20,
};

/// zstd frames asking for a larger window are refused rather than allocated: 2^25 (32 MiB)
/// covers every level up to `--ultra -20`; `--long` archives are listed as not expanded.
const ZSTD_WINDOW_LOG_MAX: u32 = 25;
/// The xz dictionary (plus decoder state) we allocate at most: enough for every preset,
/// `-9e` included (64 MiB dictionary); a hostile header asking for GiBs is refused.
const XZ_MEM_LIMIT_KIB: u32 = 80 << 10;

const BOMB: Rule = Rule {
    id: "archive-bomb",
    title: "Decompression bomb inside the image",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    // T1499 (Endpoint Denial of Service): a bomb's only effect is to exhaust the memory,
    // disk or time of whatever unpacks it: scanners, CI jobs, the application itself.
    attack: &[attack::MALICIOUS_IMAGE, "T1499"],
    description: "An archive or compressed file inside a layer expands to more than 200 \
        times its compressed size past its first 16 MiB: the shape of a decompression bomb, made \
        to exhaust whatever unpacks it or to make scanners give up. customs stopped expanding \
        it; what lies past that point was not analyzed.",
};

const TRAVERSAL: Rule = Rule {
    id: "archive-path-traversal",
    title: "Archive member name climbs out of the extraction directory",
    severity: Severity::Low,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE],
    description: "A member of an archive inside a layer is named with `..` components that \
        climb above the directory it is extracted to (\"zip slip\"): extracting it with a \
        naive tool overwrites files elsewhere. customs read it as data, under the archive's \
        path. Archive libraries ship such files as test data, hence the low severity.",
};

/// Every rule this analyzer gives, for the documentation check in `lib.rs`.
#[cfg(test)]
pub(crate) const RULES: &[&Rule] = &[&BOMB, &TRAVERSAL];

/// Where expansion sends what it finds.
pub(crate) trait Members {
    /// Analyzes one member exactly as a regular file of the layer.
    fn file(&mut self, entry: &FileEntry, content: &FileContent<'_>);
    /// A finding about an archive or a member.
    fn finding(&mut self, finding: Finding);
    /// Something that was not fully expanded or analyzed, and why.
    fn partial(&mut self, path: &str, reason: String);
}

/// Expands `entry` if its content is an archive, telling `out` about every member.
pub(crate) fn expand(entry: &FileEntry, content: &FileContent<'_>, out: &mut dyn Members) {
    expand_with(&BOUNDS, entry, content.data, content.complete, out);
}

fn expand_with(
    bounds: &Bounds,
    entry: &FileEntry,
    data: &[u8],
    complete: bool,
    out: &mut dyn Members,
) {
    let Some(format) = sniff(data, complete) else {
        return;
    };
    let mut x = Expander {
        bounds: *bounds,
        out,
        root: &entry.path,
        layer: entry.layer,
        spent: Rc::new(Cell::new(0)),
        members: 0,
        held: 0,
    };
    let outer = Meta {
        mode: entry.mode,
        uid: entry.uid,
        gid: entry.gid,
        size: entry.size,
    };
    // A bound that stops everything was already listed where it was hit.
    let _ = x.archive(format, &entry.path, data, complete, outer, 0);
}

/// The path a later layer deletes to remove what `path` names: `path` itself when the layer
/// wrote it, else the layer file of the outermost archive holding it (`a.zip!/x` → `a.zip`).
pub(crate) fn layer_path<'p>(path: &'p str, record: &LayerRecord) -> &'p str {
    if record.paths.contains(path) {
        return path;
    }
    let mut at = 0;
    while let Some(i) = path[at..].find("!/") {
        let outer = &path[..at + i];
        if record.paths.contains(outer) {
            return outer;
        }
        at += i + 2;
    }
    path
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Zip,
    Tar,
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Gzip => "gzip",
            Format::Zstd => "zstd",
            Format::Xz => "xz",
            Format::Bzip2 => "bzip2",
        })
    }
}

/// Which archive format `data` starts with, by magic bytes.
fn sniff(data: &[u8], complete: bool) -> Option<Format> {
    let at = |i: usize, m: &[u8]| data.get(i..i + m.len()) == Some(m);
    if at(0, b"PK\x03\x04") || at(0, b"PK\x05\x06") || at(0, b"PK\x07\x08") {
        return Some(Format::Zip);
    }
    if is_tar(data) {
        return Some(Format::Tar);
    }
    // gzip: magic, deflate, no reserved flag bits.
    if at(0, b"\x1f\x8b\x08") && data.get(3).is_some_and(|f| f & 0xe0 == 0) {
        return Some(Format::Gzip);
    }
    if at(0, b"\x28\xb5\x2f\xfd") {
        return Some(Format::Zstd);
    }
    if at(0, b"\xfd7zXZ\x00") {
        return Some(Format::Xz);
    }
    // bzip2: "BZh", block size 1-9, then a block or the end-of-stream magic.
    if at(0, b"BZh")
        && data.get(3).is_some_and(|b| (b'1'..=b'9').contains(b))
        && (at(4, b"\x31\x41\x59\x26\x53\x59") || at(4, b"\x17\x72\x45\x38\x50\x90"))
    {
        return Some(Format::Bzip2);
    }
    // A zip with something in front (a launcher script, as in executable Spring Boot jars,
    // or bytes added to dodge a check of the first bytes) is still read by unzip and Java.
    if complete && zip_end(data).is_some() {
        return Some(Format::Zip);
    }
    None
}

fn is_tar(data: &[u8]) -> bool {
    data.get(257..262) == Some(b"ustar")
}

/// Offset of the zip end-of-central-directory record: its signature, then 18 bytes, then a
/// comment whose length, its last field, ends the data exactly.
fn zip_end(data: &[u8]) -> Option<usize> {
    const SIG: &[u8] = b"PK\x05\x06";
    let from = data.len().saturating_sub(22 + 0xffff);
    let tail = &data[from..];
    // The last signature that fits, found going forwards: every file's tail is searched
    // here, and memchr's forward search is SIMD while its reverse one is not (0.8% of a
    // scan's CPU with `rfind`).
    memchr::memmem::find_iter(tail, SIG)
        .filter(|&i| {
            tail.get(i + 20..i + 22).is_some_and(|len| {
                i + 22 + usize::from(u16::from_le_bytes([len[0], len[1]])) == tail.len()
            })
        })
        .last()
        .map(|i| from + i)
}

/// How many members a zip's end record declares (zip64 included), to refuse a central
/// directory too large to index before the zip reader allocates for it.
fn zip_declared_members(data: &[u8]) -> Option<u64> {
    let eocd = zip_end(data)?;
    let n = u16::from_le_bytes([data[eocd + 10], data[eocd + 11]]);
    if n != 0xffff {
        return Some(n.into());
    }
    let loc = eocd.checked_sub(20)?;
    if data.get(loc..loc + 4) != Some(b"PK\x06\x07") {
        return Some(n.into());
    }
    let off = u64::from_le_bytes(data[loc + 8..loc + 16].try_into().ok()?);
    let rec = usize::try_from(off).ok()?;
    let count = data.get(rec + 32..rec + 40)?;
    Some(u64::from_le_bytes(count.try_into().ok()?))
}

/// The one member of a compressed stream: its name minus the compression suffix.
fn stream_member_name(path: &str) -> String {
    const SUFFIXES: &[(&str, &str)] = &[
        (".gz", ""),
        (".z", ""),
        (".zst", ""),
        (".zstd", ""),
        (".xz", ""),
        (".bz2", ""),
        (".tgz", ".tar"),
        (".tzst", ".tar"),
        (".txz", ".tar"),
        (".tbz2", ".tar"),
        (".tbz", ".tar"),
    ];
    let name = path.rsplit('/').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    SUFFIXES
        .iter()
        .find(|(s, _)| lower.ends_with(s) && lower.len() > s.len())
        .map_or_else(
            || "<stream>".to_string(),
            |(s, r)| format!("{}{r}", &name[..name.len() - s.len()]),
        )
}

/// Stops everything left of the outermost archive; already listed in `coverage.partial`.
struct Halt;

/// What a member read left of its container.
enum Flow {
    Next,
    /// The stream under the member broke: nothing after it can be read.
    Broken,
}

#[derive(Clone, Copy, Default)]
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    /// The size the archive declares (a hint, may lie; 0 when unknown).
    size: u64,
}

/// A bound hit while reading, carried through `io::Error` from deep inside decoders.
#[derive(Debug)]
enum Limit {
    Expanded,
    Ratio {
        format: Format,
        path: String,
        out: u64,
        input: u64,
    },
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Expanded => f.write_str("expansion limit reached"),
            Limit::Ratio { format, path, .. } => write!(f, "{format} `{path}` is a bomb"),
        }
    }
}

impl std::error::Error for Limit {}

fn limit_of(e: &io::Error) -> Option<&Limit> {
    e.get_ref().and_then(|i| i.downcast_ref::<Limit>())
}

/// Counts the compressed bytes a decoder pulls (what a zip member declares may lie).
struct Counted<R> {
    inner: R,
    n: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n.set(self.n.get() + n as u64);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counted<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Charges decompressed bytes to the outermost archive's budget and stops a stream whose
/// ratio says bomb, before its output is held or hashed.
struct Meter<R> {
    inner: R,
    out: u64,
    input: Rc<Cell<u64>>,
    spent: Rc<Cell<u64>>,
    bounds: Bounds,
    format: Format,
    path: String,
}

impl<R: Read> Read for Meter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        self.spent.set(self.spent.get() + n as u64);
        if self.spent.get() > self.bounds.expanded {
            return Err(io::Error::other(Limit::Expanded));
        }
        let input = self.input.get();
        if self.out > self.bounds.ratio_after && self.out / input.max(1) > self.bounds.ratio {
            return Err(io::Error::other(Limit::Ratio {
                format: self.format,
                path: self.path.clone(),
                out: self.out,
                input,
            }));
        }
        Ok(n)
    }
}

struct Expander<'a> {
    bounds: Bounds,
    out: &'a mut dyn Members,
    root: &'a str,
    layer: usize,
    /// Bytes decompressed so far, all levels together.
    spent: Rc<Cell<u64>>,
    members: u64,
    /// Member bytes held by the archives being expanded along the current chain.
    held: usize,
}

impl Expander<'_> {
    /// Expands the archive at `path` (at nesting `level`) whose first bytes are `data`.
    fn archive(
        &mut self,
        format: Format,
        path: &str,
        data: &[u8],
        complete: bool,
        meta: Meta,
        level: usize,
    ) -> Result<(), Halt> {
        let size = meta.size;
        if !complete && format == Format::Zip {
            let reason = format!(
                "zip archive of {size} bytes not expanded: its central directory lies past \
                 the first {} bytes read",
                data.len()
            );
            self.out.partial(path, reason);
            return Ok(());
        }
        if !complete {
            let reason = format!(
                "{format} archive of {size} bytes: only what its first {} bytes hold was \
                 expanded",
                data.len()
            );
            self.out.partial(path, reason);
        }
        match format {
            Format::Zip => self.zip(path, data, level),
            Format::Tar => self.tar(&mut &data[..], path, level, !complete),
            _ => self.stream(format, path, data, meta, level, !complete),
        }
    }

    fn zip(&mut self, path: &str, data: &[u8], level: usize) -> Result<(), Halt> {
        let left = self.bounds.members.saturating_sub(self.members);
        if let Some(n) = zip_declared_members(data).filter(|&n| n > left) {
            self.out.partial(
                path,
                format!(
                    "zip archive declares {n} members, over the {} left of the {}-member \
                     limit; not expanded",
                    left, self.bounds.members
                ),
            );
            return Ok(());
        }
        let pulled = Rc::new(Cell::new(0));
        let src = Counted {
            inner: Cursor::new(data),
            n: pulled.clone(),
        };
        let mut zip = match zip::ZipArchive::new(src) {
            Ok(z) => z,
            Err(e) => {
                self.out
                    .partial(path, format!("zip archive could not be read: {e}"));
                return Ok(());
            }
        };
        if zip.has_duplicate_names() {
            self.out.partial(
                path,
                "zip archive names a member twice; only the last of each name was read".into(),
            );
        }
        for i in 0..zip.len() {
            self.count()?;
            // Named before opening: an error keeps the archive borrowed.
            let name = zip
                .name_for_index(i)
                .and_then(Result::ok)
                .map_or_else(|| format!("#{i}"), |n| normalize_path(n.as_bytes()).path);
            pulled.set(0);
            let mut f = match zip.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    self.out.partial(
                        &format!("{path}!/{name}"),
                        format!("zip member not analyzed: {e}"),
                    );
                    continue;
                }
            };
            if f.is_dir() || f.is_symlink() {
                continue;
            }
            let member = self.member_path(path, f.name_raw());
            let meta = Meta {
                mode: f.unix_mode().map_or(0o644, |m| m & 0o7777),
                size: f.size(),
                ..Meta::default()
            };
            let mut r = self.meter(&mut f, pulled.clone(), Format::Zip, &member);
            // Members are independent: one that fails leaves the others readable.
            self.member(&mut r, member, meta, level + 1, false)?;
        }
        Ok(())
    }

    fn tar(
        &mut self,
        r: &mut dyn Read,
        path: &str,
        level: usize,
        truncated: bool,
    ) -> Result<(), Halt> {
        let mut tar = tar::Archive::new(r);
        let entries = match tar.entries() {
            Ok(e) => e,
            Err(e) => return self.broken(path, "tar archive", &e, truncated),
        };
        for entry in entries {
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => return self.broken(path, "tar archive", &e, truncated),
            };
            self.count()?;
            let h = entry.header();
            if !matches!(
                h.entry_type(),
                tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse
            ) {
                continue;
            }
            let meta = Meta {
                mode: h.mode().map_or(0o644, |m| m & 0o7777),
                uid: h.uid().unwrap_or(0),
                gid: h.gid().unwrap_or(0),
                size: entry.size(),
            };
            let member = self.member_path(path, &entry.path_bytes());
            if let Flow::Broken = self.member(&mut entry, member, meta, level + 1, truncated)? {
                return Ok(());
            }
        }
        Ok(())
    }

    fn stream(
        &mut self,
        format: Format,
        path: &str,
        data: &[u8],
        meta: Meta,
        level: usize,
        truncated: bool,
    ) -> Result<(), Halt> {
        let n = Rc::new(Cell::new(0));
        let src = Counted {
            inner: data,
            n: n.clone(),
        };
        let decoder: io::Result<Box<dyn Read + '_>> = match format {
            Format::Gzip => Ok(Box::new(flate2::read::MultiGzDecoder::new(src))),
            Format::Zstd => zstd::stream::read::Decoder::new(src).and_then(|mut d| {
                d.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
                Ok(Box::new(d) as Box<dyn Read + '_>)
            }),
            // lzma-rust2, pure Rust: about 0.7x liblzma's speed here (38 vs 52 MB/s on
            // /usr/bin), with a memory limit checked before the dictionary is allocated,
            // and the decoder the zip crate already uses for xz members.
            Format::Xz => Ok(Box::new(lzma_rust2::XzReader::new_mem_limit(
                src,
                true,
                XZ_MEM_LIMIT_KIB,
            ))),
            // libbz2-rs-sys, the bzip2 crate's default backend: pure Rust.
            Format::Bzip2 => Ok(Box::new(bzip2::read::MultiBzDecoder::new(src))),
            Format::Zip | Format::Tar => unreachable!("not a stream format"),
        };
        let decoder = match decoder {
            Ok(d) => d,
            Err(e) => return self.broken(path, &format!("{format} stream"), &e, truncated),
        };
        let mut r = self.meter(decoder, n, format, path);
        // The first 512 bytes tell a compressed tar from one compressed file.
        let mut head = Vec::with_capacity(512);
        if let Err(e) = (&mut r).take(512).read_to_end(&mut head) {
            return self.broken(path, &format!("{format} stream"), &e, truncated);
        }
        let tar = is_tar(&head);
        let mut r = Cursor::new(head).chain(r);
        if tar {
            return self.tar(&mut r, path, level, truncated);
        }
        self.count()?;
        let member = format!("{path}!/{}", stream_member_name(path));
        // gzip ends with the uncompressed size (mod 2^32) of its last member: a hint for
        // the buffer, so it is not grown by doubling (and copied) a dozen times. A lying
        // hint costs a wrong first size, nothing more; the member cap still bounds it.
        let size = match format {
            Format::Gzip if !truncated => data
                .last_chunk::<4>()
                .map_or(0, |b| u64::from(u32::from_le_bytes(*b))),
            _ => 0,
        };
        let meta = Meta { size, ..meta };
        self.member(&mut r, member, meta, level + 1, truncated)
            .map(|_| ())
    }

    /// Reads one member, analyzes it, and expands it if it is an archive itself.
    fn member(
        &mut self,
        r: &mut dyn Read,
        path: String,
        meta: Meta,
        level: usize,
        truncated: bool,
    ) -> Result<Flow, Halt> {
        let cap = self
            .bounds
            .member_bytes
            .min(self.bounds.held.saturating_sub(self.held));
        // Sized once when the archive says how big the member is: growing by doubling
        // would briefly hold the old and the new copy.
        let mut buf = Vec::with_capacity(cap.min(usize::try_from(meta.size).unwrap_or(cap)));
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        let read = read_member(r, cap, &mut buf, &mut hasher, &mut total);
        let complete = read.is_ok() && total == buf.len() as u64;
        let entry = FileEntry {
            path,
            kind: EntryKind::File,
            mode: meta.mode,
            uid: meta.uid,
            gid: meta.gid,
            size: total,
            link: None,
            layer: self.layer,
        };
        let content = FileContent {
            data: &buf,
            complete,
            sha256: read
                .is_ok()
                .then(|| Digest::sha256_from_bytes(&hasher.finalize())),
            md5: None,
            sha1: None,
        };
        self.out.file(&entry, &content);
        if read.is_ok() && !complete && cap < self.bounds.member_bytes {
            self.out.partial(
                &entry.path,
                format!(
                    "{total} bytes; only the first {cap} were held for analysis: nested \
                     archives hold at most {} bytes at once",
                    self.bounds.held
                ),
            );
        }
        let flow = match &read {
            Ok(()) => Flow::Next,
            Err(e) => {
                self.broken(&entry.path, "member", e, truncated)?;
                Flow::Broken
            }
        };
        if let Some(format) = sniff(&buf, complete) {
            if level >= self.bounds.depth {
                self.out.partial(
                    &entry.path,
                    format!(
                        "{format} archive nested {level} levels deep, not expanded (limit {})",
                        self.bounds.depth
                    ),
                );
            } else {
                self.held += buf.len();
                let meta = Meta {
                    size: total,
                    ..meta
                };
                let r = self.archive(format, &entry.path, &buf, complete, meta, level);
                self.held -= buf.len();
                r?;
            }
        }
        Ok(flow)
    }

    fn meter<R: Read>(
        &self,
        inner: R,
        input: Rc<Cell<u64>>,
        format: Format,
        path: &str,
    ) -> Meter<R> {
        Meter {
            inner,
            out: 0,
            input,
            spent: self.spent.clone(),
            bounds: self.bounds,
            format,
            path: path.to_string(),
        }
    }

    fn count(&mut self) -> Result<(), Halt> {
        self.members += 1;
        if self.members > self.bounds.members {
            self.out.partial(
                self.root,
                format!(
                    "more than {} archive members; the rest were not expanded",
                    self.bounds.members
                ),
            );
            return Err(Halt);
        }
        Ok(())
    }

    /// `outer!/name`, the name normalized; a name climbing out with `..` is a finding.
    fn member_path(&mut self, outer: &str, raw: &[u8]) -> String {
        let norm = normalize_path(raw);
        let name = if norm.path.is_empty() {
            "<unnamed>"
        } else {
            &norm.path
        };
        let path = format!("{outer}!/{name}");
        if norm.escapes {
            let raw = crate::escaped(&String::from_utf8_lossy(raw), 300);
            self.out
                .finding(TRAVERSAL.finding(Some(&path), format!("member name `{raw}`")));
        }
        path
    }

    /// Lists why the archive or member at `path` could not be read to its end; a bound
    /// that stops everything is passed up.
    fn broken(
        &mut self,
        path: &str,
        what: &str,
        e: &io::Error,
        truncated: bool,
    ) -> Result<(), Halt> {
        match limit_of(e) {
            Some(Limit::Expanded) => {
                self.out.partial(
                    self.root,
                    format!(
                        "expansion stopped after {} decompressed bytes (limit); the rest of \
                         the archive was not analyzed",
                        self.bounds.expanded
                    ),
                );
                Err(Halt)
            }
            Some(Limit::Ratio {
                format,
                path,
                out,
                input,
            }) => {
                let evidence = format!(
                    "{format} data expanded to {out} bytes from {input} compressed bytes \
                     (over {}:1)",
                    self.bounds.ratio
                );
                self.out.finding(BOMB.finding(Some(path), evidence.clone()));
                self.out.partial(
                    path,
                    format!("{evidence}; expansion stopped (likely a decompression bomb)"),
                );
                Ok(())
            }
            // The first bytes of a larger file end mid-archive: listed once already.
            None if truncated => Ok(()),
            None => {
                self.out
                    .partial(path, format!("{what} could not be read to its end: {e}"));
                Ok(())
            }
        }
    }
}

/// Reads a member: its first `cap` bytes into `buf`, the rest through the hasher only.
fn read_member(
    r: &mut dyn Read,
    cap: usize,
    buf: &mut Vec<u8>,
    hasher: &mut Sha256,
    total: &mut u64,
) -> io::Result<()> {
    let head = (&mut *r).take(cap as u64).read_to_end(buf);
    *total = buf.len() as u64;
    head?;
    hasher.update(&buf[..]);
    let mut chunk = [0u8; 64 << 10];
    loop {
        let n = r.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&chunk[..n]);
        *total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[derive(Default)]
    struct Seen {
        files: Vec<(String, usize, bool, Option<String>)>,
        findings: Vec<Finding>,
        partial: Vec<(String, String)>,
    }

    impl Members for Seen {
        fn file(&mut self, e: &FileEntry, c: &FileContent<'_>) {
            let sha = c.sha256.as_ref().map(|d| d.to_string());
            self.files
                .push((e.path.clone(), c.data.len(), c.complete, sha));
        }
        fn finding(&mut self, f: Finding) {
            self.findings.push(f);
        }
        fn partial(&mut self, path: &str, reason: String) {
            self.partial.push((path.into(), reason));
        }
    }

    fn run(bounds: &Bounds, path: &str, data: &[u8]) -> Seen {
        let entry = FileEntry {
            path: path.into(),
            kind: EntryKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: data.len() as u64,
            link: None,
            layer: 0,
        };
        let mut seen = Seen::default();
        expand_with(bounds, &entry, data, true, &mut seen);
        seen
    }

    fn tar_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, &data[..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Bytes that compress about 10:1: under any ratio bound, so only the budget stops them.
    fn text(n: usize) -> Vec<u8> {
        let mut x: u32 = 1;
        (0..n)
            .map(|i| {
                if i % 8 == 0 {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    b'a' + (x >> 24) as u8 % 26
                } else {
                    b' '
                }
            })
            .collect()
    }

    #[test]
    fn sniffs_magic_bytes_only() {
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        let cases: &[(&[u8], Option<Format>)] = &[
            (b"PK\x03\x04rest", Some(Format::Zip)),
            (b"PK\x05\x06", Some(Format::Zip)),
            (&tar, Some(Format::Tar)),
            (b"\x1f\x8b\x08\x00rest", Some(Format::Gzip)),
            (b"\x1f\x8b\x08\xe0rest", None),
            (b"\x28\xb5\x2f\xfdrest", Some(Format::Zstd)),
            (b"\xfd7zXZ\x00rest", Some(Format::Xz)),
            (b"BZh91AY&SYrest", Some(Format::Bzip2)),
            (b"BZh is how it starts", None),
            (b"PK is not enough", None),
            (b"", None),
        ];
        for (data, want) in cases {
            assert_eq!(
                sniff(data, true),
                *want,
                "{:?}",
                String::from_utf8_lossy(data)
            );
        }
        // An end record is only trusted when its comment length ends the data exactly.
        let mut z = b"#!/bin/sh\n".to_vec();
        z.extend_from_slice(b"PK\x05\x06");
        z.extend_from_slice(&[0; 16]);
        z.extend_from_slice(&[3, 0]);
        z.extend_from_slice(b"abc");
        assert_eq!(sniff(&z, true), Some(Format::Zip));
        assert_eq!(sniff(&z, false), None);
        z.push(b'!');
        assert_eq!(sniff(&z, true), None);
    }

    /// Of several end records, the last one whose comment length ends the data is the one.
    #[test]
    fn the_zip_end_record_is_the_last_that_fits() {
        let record = |comment_len: u16| {
            let mut r = b"PK\x05\x06".to_vec();
            r.extend_from_slice(&[0; 16]);
            r.extend_from_slice(&comment_len.to_le_bytes());
            r
        };
        // A record whose comment holds a second record that also fits: the inner one wins.
        let mut z = b"prefix".to_vec();
        let outer = z.len();
        z.extend(record(22 + 2));
        let inner = z.len();
        z.extend(record(2));
        z.extend_from_slice(b"xy");
        assert_eq!(zip_end(&z), Some(inner));
        // A later signature that does not fit is passed over for the earlier one that does.
        z.truncate(inner);
        z.extend(record(9));
        z.extend_from_slice(b"xy");
        assert_eq!(zip_end(&z), Some(outer));
        z.push(b'!');
        assert_eq!(zip_end(&z), None);
    }

    #[test]
    fn names_the_member_of_a_stream_after_it() {
        assert_eq!(stream_member_name("a/b/conf.json.gz"), "conf.json");
        assert_eq!(stream_member_name("a.zip!/x.TGZ"), "x.tar");
        assert_eq!(stream_member_name("x.tbz2"), "x.tar");
        assert_eq!(stream_member_name("blob"), "<stream>");
        assert_eq!(stream_member_name("dir/.gz"), "<stream>");
    }

    /// The size a gzip trailer gives only sizes the first buffer: a member whose trailer
    /// claims 1 byte or 4 GiB is still read whole, and its bytes are the same.
    #[test]
    fn a_gzip_size_that_lies_only_sizes_the_buffer() {
        let data = text(100_000);
        for claimed in [None, Some(1u32), Some(u32::MAX)] {
            let mut z = gz(&data);
            if let Some(c) = claimed {
                let at = z.len() - 4;
                z[at..].copy_from_slice(&c.to_le_bytes());
            }
            let seen = run(&BOUNDS, "doc/x.gz", &z);
            let [(path, len, complete, _)] = &seen.files[..] else {
                panic!("{claimed:?}: {:?}", seen.files);
            };
            assert_eq!(path, "doc/x.gz!/x");
            assert_eq!(*len, data.len(), "{claimed:?}");
            // flate2 checks the trailer: a lying size is a corrupt stream, as before.
            assert_eq!(*complete, claimed.is_none(), "{claimed:?}");
        }
    }

    #[test]
    fn finds_the_layer_file_holding_a_member() {
        let mut r = LayerRecord::default();
        r.paths.insert("opt/a.zip".into());
        r.paths.insert("odd!/name".into());
        assert_eq!(layer_path("opt/a.zip!/b.jar!/c", &r), "opt/a.zip");
        assert_eq!(layer_path("odd!/name", &r), "odd!/name");
        assert_eq!(layer_path("elsewhere!/x", &r), "elsewhere!/x");
    }

    #[test]
    fn the_expansion_budget_stops_everything_and_is_listed_once() {
        let bounds = Bounds {
            expanded: 4 << 20,
            ..BOUNDS
        };
        let members: Vec<(String, Vec<u8>)> =
            (0..8).map(|i| (format!("f{i}"), text(1 << 20))).collect();
        let members: Vec<(&str, Vec<u8>)> = members
            .iter()
            .map(|(n, d)| (n.as_str(), d.clone()))
            .collect();
        let seen = run(&bounds, "x.tgz", &gz(&tar_of(&members)));
        assert!(seen.findings.is_empty(), "{:?}", seen.findings);
        assert_eq!(
            seen.partial
                .iter()
                .filter(|(p, r)| p == "x.tgz" && r.contains("expansion stopped"))
                .count(),
            1,
            "{:?}",
            seen.partial
        );
        assert!(seen.files.len() < 8, "{:?}", seen.files);
        // Without the budget, all eight are read whole and hashed.
        let seen = run(&BOUNDS, "x.tgz", &gz(&tar_of(&members)));
        assert_eq!(seen.files.len(), 8);
        assert!(seen.files.iter().all(|f| f.2 && f.3.is_some()));
        assert!(seen.partial.is_empty(), "{:?}", seen.partial);
    }

    #[test]
    fn the_member_bound_stops_everything() {
        let bounds = Bounds {
            members: 5,
            ..BOUNDS
        };
        let members: Vec<(String, Vec<u8>)> =
            (0..9).map(|i| (format!("f{i}"), b"x".to_vec())).collect();
        let members: Vec<(&str, Vec<u8>)> = members
            .iter()
            .map(|(n, d)| (n.as_str(), d.clone()))
            .collect();
        let seen = run(&bounds, "x.tar", &tar_of(&members));
        assert_eq!(seen.files.len(), 5);
        assert_eq!(seen.partial.len(), 1, "{:?}", seen.partial);
        assert!(seen.partial[0].1.contains("more than 5 archive members"));
    }

    #[test]
    fn a_bomb_is_a_finding_and_the_stream_stops() {
        let bomb = gz(&vec![0u8; 64 << 20]);
        let seen = run(&BOUNDS, "z.gz", &bomb);
        assert_eq!(seen.findings.len(), 1);
        let f = &seen.findings[0];
        assert_eq!(
            (f.rule.as_str(), f.path.as_deref()),
            ("archive-bomb", Some("z.gz"))
        );
        // The member is analyzed on what came out before the stop, and never hashed.
        assert_eq!(seen.files.len(), 1);
        let (path, held, complete, sha) = &seen.files[0];
        assert_eq!(path, "z.gz!/z");
        let stop = BOUNDS.ratio * bomb.len() as u64 + BOUNDS.ratio_after;
        assert!(
            (*held as u64) < stop && !complete && sha.is_none(),
            "{held}"
        );
        // Past the first 16 MiB only: smaller files that compress well are not bombs.
        let seen = run(&BOUNDS, "small.gz", &gz(&vec![0u8; 12 << 20]));
        assert!(seen.findings.is_empty());
    }

    #[test]
    fn nested_members_hold_bounded_memory() {
        let bounds = Bounds {
            member_bytes: 1 << 20,
            held: (1 << 20) + 1000,
            ..BOUNDS
        };
        let inner = tar_of(&[("big", text(600 << 10))]);
        let outer = tar_of(&[("inner.tar", inner.clone()), ("pad", vec![])]);
        let seen = run(&bounds, "outer.tar", &outer);
        // inner.tar is held whole (1 MiB allowed); its member gets only what is left.
        let big = seen
            .files
            .iter()
            .find(|f| f.0 == "outer.tar!/inner.tar!/big")
            .unwrap();
        assert!(big.1 < 600 << 10 && !big.2 && big.3.is_some(), "{big:?}");
        assert!(
            seen.partial
                .iter()
                .any(|(p, r)| p == "outer.tar!/inner.tar!/big" && r.contains("held")),
            "{:?}",
            seen.partial
        );
    }
}
