//! The layer walker: streams one layer's tar once and tells a [`Visitor`] about every entry,
//! as data. Nothing is extracted, no link is followed, no name is trusted.
//!
//! Bytes flow: blob → digest check → decompression (sniffed) → limits → tar → visitor. The
//! blob is read to its end even after the tar ends, so its digest is always checked.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use customs_core::{Digest, Skipped};

use crate::blob::{BlobKey, Compression, Mismatch, VerifyingReader, decompress};
use crate::file_digests::{Digests, Hashers};
use crate::hash_stage::hash_stage;
use crate::{Image, ImageError, LayerContent};

/// A tar member path made safe: relative, `.` and `..` resolved inside the image root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalizedPath {
    /// The path, no leading `/`, no `.` or `..` components; empty for the root itself.
    pub path: String,
    /// The raw name was absolute.
    pub absolute: bool,
    /// A `..` tried to climb above the root (clamped there, as a chroot would).
    pub escapes: bool,
}

/// Normalizes a raw tar member name. Invalid UTF-8 is replaced, never trusted.
pub fn normalize_path(raw: &[u8]) -> NormalizedPath {
    let s = String::from_utf8_lossy(raw);
    let absolute = s.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    let mut escapes = false;
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    escapes = true;
                }
            }
            c => parts.push(c),
        }
    }
    NormalizedPath {
        path: parts.join("/"),
        absolute,
        escapes,
    }
}

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Hard link to an earlier entry.
    Hardlink,
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// Named pipe.
    Fifo,
    /// Anything else (sockets, unknown tar types).
    Other,
}

/// One entry of one layer.
#[derive(Clone, Debug)]
pub struct FileEntry {
    /// Normalized path (see [`normalize_path`]).
    pub path: String,
    /// Kind.
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Content size in bytes.
    pub size: u64,
    /// Link target as written (symlinks) or normalized (hard links).
    pub link: Option<String>,
    /// Index of the layer in the image, base first.
    pub layer: usize,
}

/// The content of a regular file as the visitor sees it.
pub struct FileContent<'a> {
    /// The first bytes, as many as the visitor asked for.
    pub data: &'a [u8],
    /// Whether `data` is the whole file.
    pub complete: bool,
    /// sha256 of the whole file (when hashing is on).
    pub sha256: Option<Digest>,
    /// MD5 of the whole file, when the visitor asked for it ([`Visitor::extra_digests`]).
    pub md5: Option<[u8; 16]>,
    /// SHA-1 of the whole file, when the visitor asked for it.
    pub sha1: Option<[u8; 20]>,
}

/// Digests besides sha256 a visitor wants of one file. Package databases name files by
/// these (dpkg by MD5, apk by SHA-1), and the walk is the only time the bytes go by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtraDigests {
    /// MD5 of the whole file.
    pub md5: bool,
    /// SHA-1 of the whole file.
    pub sha1: bool,
}

/// Chooses the digests besides sha256 one regular file gets.
pub type DigestChoice = fn(&FileEntry) -> ExtraDigests;

/// The default [`DigestChoice`]: sha256 only.
pub fn no_extra_digests(_entry: &FileEntry) -> ExtraDigests {
    ExtraDigests::default()
}

/// Entries that are hostile or odd, reported as data for analyzers to judge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anomaly {
    /// A name whose `..` climbs above the root (`../../etc/cron.d/x`).
    PathEscapesRoot {
        /// The raw name.
        raw: String,
    },
    /// An absolute name (`/etc/passwd`); normalized, but not what image builders write.
    AbsolutePath {
        /// The raw name.
        raw: String,
    },
    /// A link whose target climbs above the root.
    LinkEscapesRoot {
        /// The raw target.
        target: String,
    },
    /// A device node.
    DeviceNode,
    /// A second entry with the same path in the same layer.
    DuplicateEntry,
}

/// Told about every entry of a layer.
pub trait Visitor {
    /// How many leading bytes of this regular file the visitor wants to see (0 for none).
    fn content_cap(&mut self, entry: &FileEntry) -> usize;
    /// Which digests besides sha256 each regular file gets (none by default). A plain
    /// function of the entry, because the reading thread computes them.
    fn extra_digests(&self) -> DigestChoice {
        no_extra_digests
    }
    /// A regular file, after its content was read (and hashed).
    fn file(&mut self, entry: &FileEntry, content: FileContent<'_>);
    /// Any entry that is not a regular file.
    fn other(&mut self, _entry: &FileEntry) {}
    /// Something hostile or odd about an entry.
    fn anomaly(&mut self, entry: &FileEntry, anomaly: Anomaly);
}

#[cfg(test)]
impl FileEntry {
    /// An entry of layer 0 owned by root, for the crate's tests.
    pub(crate) fn test(path: &str, kind: EntryKind, size: u64) -> FileEntry {
        FileEntry {
            path: path.into(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            link: None,
            layer: 0,
        }
    }
}

/// Paths a layer adds and deletes, to tell later which layer deleted a file.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct LayerRecord {
    /// Every path the layer writes (any kind).
    pub paths: HashSet<String>,
    /// Paths whited out (`.wh.NAME`).
    pub whiteouts: Vec<String>,
    /// Directories made opaque (`.wh..wh..opq`).
    pub opaque_dirs: Vec<String>,
}

impl LayerRecord {
    /// Whether this layer hides or replaces `path` written by a lower layer.
    pub fn hides(&self, path: &str) -> bool {
        if self.paths.contains(path) {
            return true;
        }
        let under = |dir: &str| {
            dir.is_empty() || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
        };
        self.whiteouts.iter().any(|w| w == path || under(w))
            || self.opaque_dirs.iter().any(|d| under(d))
    }
}

/// Which later layer, if any, deleted or replaced `path` added by layer `added`.
pub fn deleted_in(records: &[LayerRecord], added: usize, path: &str) -> Option<usize> {
    (added + 1..records.len()).find(|&j| records[j].hides(path))
}

/// What walking a layer found out, besides what the visitor was told.
#[derive(Debug, Default)]
pub struct LayerWalk {
    /// Paths added and deleted.
    pub record: LayerRecord,
    /// Regular files read.
    pub files: u64,
    /// Bytes of regular-file content read.
    pub bytes: u64,
    /// What was not fully read; non-empty means the layer was not fully scanned.
    pub skipped: Vec<Skipped>,
    /// How the blob was compressed.
    pub compression: Option<Compression>,
}

/// Bounds on the work one layer may cause. Hitting one is recorded, never silent.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Larger regular files are neither hashed nor analyzed.
    pub max_file_size: u64,
    /// Most uncompressed bytes read from one layer.
    pub max_layer_bytes: u64,
    /// Most entries in one layer.
    pub max_entries: u64,
    /// Most uncompressed bytes per compressed byte, checked once `ratio_after` bytes are out.
    pub max_ratio: u64,
    /// When the ratio check starts.
    pub ratio_after: u64,
    /// Hash every regular file with sha256.
    pub hash_files: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_size: 4 << 30,
            max_layer_bytes: 32 << 30,
            max_entries: 1_000_000,
            max_ratio: 1000,
            ratio_after: 1 << 30,
            hash_files: true,
        }
    }
}

/// Progress callbacks; called from worker threads.
pub trait Progress: Send + Sync {
    /// `n` more bytes of blob were read.
    fn blob_bytes(&self, _n: u64) {}
}

/// Reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// The error a limit reader returns; the walker turns it into a coverage note.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct LimitHit(String);

struct Counting<'p, R> {
    inner: R,
    count: Arc<AtomicU64>,
    progress: &'p dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        self.progress.blob_bytes(n as u64);
        Ok(n)
    }
}

/// Stops a decompressed stream that grows past the layer limit or the ratio limit.
struct Bounded<R> {
    inner: R,
    out: u64,
    compressed: Arc<AtomicU64>,
    limits: Limits,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        if self.out > self.limits.max_layer_bytes {
            return Err(io::Error::other(LimitHit(format!(
                "layer is larger than {} bytes uncompressed (limit)",
                self.limits.max_layer_bytes
            ))));
        }
        if self.out > self.limits.ratio_after {
            let c = self.compressed.load(Ordering::Relaxed).max(1);
            if self.out / c > self.limits.max_ratio {
                return Err(io::Error::other(LimitHit(format!(
                    "decompression ratio above {}:1 after {} bytes (likely a decompression bomb)",
                    self.limits.max_ratio, self.out
                ))));
            }
        }
        Ok(n)
    }
}

fn limit_hit(e: &io::Error) -> Option<String> {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<LimitHit>())
        .map(|l| l.0.clone())
}

fn mismatch(e: &io::Error) -> Option<&Mismatch> {
    e.get_ref().and_then(|i| i.downcast_ref::<Mismatch>())
}

/// Walks layer `index` of `image`, telling `visitor` about every entry.
///
/// A blob layer is read in three stages on three threads: one verifies, decompresses and
/// splits the tar, one hashes every file, and the visitor runs on this one. Most images are
/// one large base layer, and the three cost about the same, so one layer keeps several
/// cores busy. Up to 16 MiB of content may wait between the stages, so the reader runs
/// ahead of one slow file. The visitor sees the entries in tar order, as if it were read
/// on one thread.
pub fn walk_layer(
    image: &Image,
    index: usize,
    limits: &Limits,
    progress: &dyn Progress,
    visitor: &mut dyn Visitor,
) -> Result<LayerWalk, ImageError> {
    let layer = &image.layers[index];
    let key = match &layer.content {
        LayerContent::Directory(p) => return walk_dir(p, index, limits, visitor),
        LayerContent::Blob(k) => k,
    };
    let (events, unhashed) = mpsc::sync_channel(PIPE_DEPTH);
    let (hashed, received) = mpsc::sync_channel(PIPE_DEPTH);
    let (recycle, spare) = mpsc::sync_channel(PIPE_SPARES);
    let digests = visitor.extra_digests();
    let budget = Budget::new();
    std::thread::scope(|s| {
        let budget = &budget;
        let reader = s.spawn(move || {
            let mut pipe = Pipe {
                packets: events,
                pending: Vec::new(),
                pending_bytes: 0,
                spare,
                budget,
            };
            let walked = walk_blob(image, index, key, limits, progress, &mut pipe);
            // What was found before an error goes on too; if the other side is gone, so
            // is whoever would read it.
            let _ = pipe.flush();
            walked
        });
        s.spawn(move || hash_stage(unhashed, hashed, budget, limits.hash_files, digests));
        let close = CloseOnDrop(budget);
        consume(&received, &recycle, budget, visitor);
        drop(close);
        // Whatever the reader ends with, this thread has seen every event it sent.
        drop(received);
        reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Reads, verifies and decompresses one blob layer and sends its tar entries down `pipe`.
fn walk_blob(
    image: &Image,
    index: usize,
    key: &BlobKey,
    limits: &Limits,
    progress: &dyn Progress,
    pipe: &mut Pipe<'_>,
) -> Result<LayerWalk, ImageError> {
    let layer = &image.layers[index];
    let what = format!("layer {}", layer.id);
    let read_err = |source: io::Error| -> ImageError {
        if let Some(m) = mismatch(&source) {
            return ImageError::DigestMismatch {
                what: what.clone(),
                expected: m.expected.clone(),
                actual: m.actual.clone(),
            };
        }
        ImageError::Read {
            what: what.clone(),
            source,
        }
    };
    let raw = image.store.open(key)?;
    let compressed = Arc::new(AtomicU64::new(0));
    let counted = Counting {
        inner: raw,
        count: compressed.clone(),
        progress,
    };
    let mut blob: Box<dyn Read + Send + '_> = match &layer.blob_digest {
        Some(d) => Box::new(VerifyingReader::new(counted, d.clone(), layer.size)),
        None => Box::new(counted),
    };
    let mut walk = LayerWalk::default();
    {
        let (compression, decoded) = decompress(&mut blob).map_err(read_err)?;
        walk.compression = Some(compression);
        let bounded = Bounded {
            inner: decoded,
            out: 0,
            compressed,
            limits: limits.clone(),
        };
        // Without a blob digest (legacy docker save), the uncompressed diff id is the only
        // thing that vouches for the bytes.
        let tar_stream: Box<dyn Read + Send + '_> = match (&layer.blob_digest, &layer.diff_id) {
            (None, Some(d)) => Box::new(VerifyingReader::new(bounded, d.clone(), None)),
            _ => Box::new(bounded),
        };
        let mut archive = tar::Archive::new(tar_stream);
        let outcome = walk_tar(&mut archive, index, limits, pipe, &mut walk);
        let mut rest = archive.into_inner();
        let drained = match outcome {
            Ok(true) => io::copy(&mut rest, &mut io::sink()),
            Ok(false) => Ok(0),
            Err(e) => Err(e),
        };
        match drained {
            Ok(_) => {}
            Err(e) => match limit_hit(&e) {
                Some(reason) => {
                    walk.skipped.push(Skipped {
                        path: layer.id.clone(),
                        reason: format!("rest of layer not read: {reason}"),
                        layer: Some(layer.id.clone()),
                    });
                    return Ok(walk);
                }
                None => return Err(read_err(e)),
            },
        }
    }
    if !walk.skipped.iter().any(|s| s.path == layer.id) {
        // Read the compressed stream to its very end so its digest is checked even when
        // the decoder stops early.
        io::copy(&mut blob, &mut io::sink()).map_err(read_err)?;
    }
    Ok(walk)
}

/// Returns Ok(true) when the tar ended normally, Ok(false) when a limit stopped it early.
fn walk_tar<R: Read>(
    archive: &mut tar::Archive<R>,
    layer: usize,
    limits: &Limits,
    pipe: &mut Pipe<'_>,
    walk: &mut LayerWalk,
) -> io::Result<bool> {
    let mut count = 0u64;
    for entry in archive.entries()? {
        let mut entry = entry?;
        count += 1;
        if count > limits.max_entries {
            walk.skipped.push(Skipped {
                path: String::new(),
                reason: format!(
                    "more than {} entries in one layer; the rest were not read",
                    limits.max_entries
                ),
                layer: None,
            });
            return Ok(false);
        }
        let header = entry.header();
        let raw = entry.path_bytes().into_owned();
        let norm = normalize_path(&raw);
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                EntryKind::File
            }
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::Hardlink,
            tar::EntryType::Char => EntryKind::CharDevice,
            tar::EntryType::Block => EntryKind::BlockDevice,
            tar::EntryType::Fifo => EntryKind::Fifo,
            _ => EntryKind::Other,
        };
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned());
        let mut fe = FileEntry {
            path: norm.path.clone(),
            kind,
            mode: header.mode().unwrap_or(0),
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            size: entry.size(),
            link: link.clone(),
            layer,
        };
        let name = norm.path.rsplit('/').next().unwrap_or("");
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let parent = norm.path.rsplit_once('/').map_or("", |(p, _)| p);
            if hidden == ".wh..opq" {
                walk.record.opaque_dirs.push(parent.to_string());
            } else if !hidden.starts_with(".wh.") {
                walk.record.whiteouts.push(if parent.is_empty() {
                    hidden.to_string()
                } else {
                    format!("{parent}/{hidden}")
                });
            }
            continue;
        }
        let raw_s = String::from_utf8_lossy(&raw).into_owned();
        if norm.escapes {
            pipe.anomaly(&fe, Anomaly::PathEscapesRoot { raw: raw_s })?;
        } else if norm.absolute {
            pipe.anomaly(&fe, Anomaly::AbsolutePath { raw: raw_s })?;
        }
        if !norm.path.is_empty()
            && !walk.record.paths.insert(norm.path.clone())
            && kind != EntryKind::Dir
        {
            pipe.anomaly(&fe, Anomaly::DuplicateEntry)?;
        }
        match kind {
            EntryKind::Symlink | EntryKind::Hardlink => {
                let target = link.unwrap_or_default();
                let escapes = if kind == EntryKind::Hardlink || !target.starts_with('/') {
                    let base = if kind == EntryKind::Hardlink {
                        String::new()
                    } else {
                        norm.path
                            .rsplit_once('/')
                            .map_or(String::new(), |(p, _)| p.to_string())
                    };
                    normalize_path(format!("{base}/{target}").as_bytes()).escapes
                } else {
                    false
                };
                if kind == EntryKind::Hardlink {
                    fe.link = Some(normalize_path(target.as_bytes()).path);
                }
                if escapes {
                    pipe.anomaly(&fe, Anomaly::LinkEscapesRoot { target })?;
                }
                pipe.other(&fe)?;
            }
            EntryKind::CharDevice | EntryKind::BlockDevice => {
                pipe.anomaly(&fe, Anomaly::DeviceNode)?;
                pipe.other(&fe)?;
            }
            EntryKind::File => {
                if fe.size > limits.max_file_size {
                    walk.skipped.push(Skipped {
                        path: fe.path.clone(),
                        reason: format!(
                            "file is {} bytes, over the {}-byte file limit",
                            fe.size, limits.max_file_size
                        ),
                        layer: None,
                    });
                    continue;
                }
                pipe.file(&fe, &mut entry)?;
                walk.files += 1;
                walk.bytes += fe.size;
            }
            _ => pipe.other(&fe)?,
        }
    }
    Ok(true)
}

/// Reads a file's content: the first `cap` bytes into `buf`, the rest only through the
/// hashers, so memory stays bounded by the cap whatever the file's size.
fn read_file(
    r: &mut impl Read,
    cap: usize,
    mut hashers: Hashers,
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
    then: impl FnOnce(FileContent<'_>),
) -> io::Result<()> {
    let mut kept = Kept::new(cap, buf);
    loop {
        let n = r.read(chunk)?;
        if n == 0 {
            break;
        }
        hashers.update(&chunk[..n]);
        kept.extend(buf, &chunk[..n]);
    }
    then(kept.content(buf, hashers.finish()));
    Ok(())
}

/// The leading bytes of a file kept for the visitor: at most `cap`.
struct Kept {
    cap: usize,
    complete: bool,
}

impl Kept {
    fn new(cap: usize, buf: &mut Vec<u8>) -> Kept {
        buf.clear();
        Kept {
            cap,
            complete: true,
        }
    }

    fn extend(&mut self, buf: &mut Vec<u8>, bytes: &[u8]) {
        let room = self.cap.saturating_sub(buf.len());
        if bytes.len() > room {
            self.complete = false;
        }
        buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn content(self, buf: &[u8], digests: Digests) -> FileContent<'_> {
        FileContent {
            data: buf,
            complete: self.complete,
            sha256: digests.sha256,
            md5: digests.md5,
            sha1: digests.sha1,
        }
    }
}

/// What the reading thread tells the visiting thread, in tar order.
pub(crate) enum Event {
    Anomaly(FileEntry, Anomaly),
    Other(FileEntry),
    /// A regular file starts; its bytes follow as `Data`, then `End` with its digests. A
    /// file without its `End` (the reader failed inside it) is never shown to the visitor.
    Begin(FileEntry),
    Data(Vec<u8>),
    End(Digests),
}

/// Bytes per `Data` event.
pub(crate) const PIPE_CHUNK: usize = 256 << 10;
/// Events go between the threads in packets of up to this many, or up to [`PACKET_BYTES`]
/// of content: one channel operation (and maybe one wake-up) per packet instead of per
/// event.
const PACKET_EVENTS: usize = 64;
const PACKET_BYTES: usize = 256 << 10;
/// Packets in flight, so at most 8192 events (entries without content, such as
/// directories, cost no bytes).
const PIPE_DEPTH: usize = 8192 / PACKET_EVENTS;
/// Content bytes in flight per layer. Bounded by bytes, not events: the reader must be
/// able to run ahead of one slow file (a 32 MiB binary under the YARA rules) through many
/// small ones, or the two threads take turns instead of working at once.
pub(crate) const PIPE_BYTES: usize = 16 << 20;

/// Chunks at least this large are reused rather than allocated.
pub(crate) const RECYCLED: usize = 64 << 10;
/// Reusable chunks kept at most (4 MiB).
const PIPE_SPARES: usize = 16;

/// Counts the content bytes between a layer's reading thread and its visiting thread.
pub(crate) struct Budget {
    /// Bytes in flight, and whether the visiting side is gone.
    state: std::sync::Mutex<(usize, bool)>,
    freed: std::sync::Condvar,
}

impl Budget {
    pub(crate) fn new() -> Budget {
        Budget {
            state: std::sync::Mutex::new((0, false)),
            freed: std::sync::Condvar::new(),
        }
    }

    /// Waits until `n` more bytes fit (a chunk always fits when nothing is in flight).
    pub(crate) fn take(&self, n: usize) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while Budget::must_wait(*s, n) {
            s = self.freed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.0 += n;
    }

    /// Whether taking `n` more bytes waits: while the visiting side is there, something is
    /// in flight, and `n` more would not fit.
    fn must_wait((in_flight, closed): (usize, bool), n: usize) -> bool {
        !closed && in_flight > 0 && in_flight + n > PIPE_BYTES
    }

    /// Takes `n` bytes if that needs no wait.
    fn try_take(&self, n: usize) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if Budget::must_wait(*s, n) {
            return false;
        }
        s.0 += n;
        true
    }

    /// Bytes taken and not yet given back.
    pub(crate) fn in_flight(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    fn give(&self, n: usize) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.0 = s.0.saturating_sub(n);
        self.freed.notify_one();
    }

    /// The visiting side stopped (done or unwinding): never make the reader wait again.
    fn close(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.freed.notify_all();
    }
}

/// Closes the budget when the visiting side leaves, however it leaves.
struct CloseOnDrop<'b>(&'b Budget);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The reading thread's end of the pipe: where the tar walk sends what it finds.
struct Pipe<'b> {
    packets: mpsc::SyncSender<Vec<Event>>,
    /// Events not sent yet, and their content bytes.
    pending: Vec<Event>,
    pending_bytes: usize,
    /// Buffers the visiting thread is done with, reused so chunks are not reallocated.
    spare: mpsc::Receiver<Vec<u8>>,
    budget: &'b Budget,
}

impl Pipe<'_> {
    fn send(&mut self, event: Event) -> io::Result<()> {
        if let Event::Data(chunk) = &event {
            self.pending_bytes += chunk.len();
        }
        self.pending.push(event);
        if self.pending.len() >= PACKET_EVENTS || self.pending_bytes >= PACKET_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.pending_bytes = 0;
        self.packets
            .send(std::mem::take(&mut self.pending))
            .map_err(|_| io::Error::other("the visiting thread stopped"))
    }

    fn anomaly(&mut self, entry: &FileEntry, anomaly: Anomaly) -> io::Result<()> {
        self.send(Event::Anomaly(entry.clone(), anomaly))
    }

    fn other(&mut self, entry: &FileEntry) -> io::Result<()> {
        self.send(Event::Other(entry.clone()))
    }

    /// A regular file, its content read from `r` in chunks.
    fn file(&mut self, entry: &FileEntry, r: &mut dyn Read) -> io::Result<()> {
        self.send(Event::Begin(entry.clone()))?;
        let mut left = entry.size;
        loop {
            // Sized by what the header says is left, so a small file costs a small buffer;
            // at least one byte, to see the end even if the header lied.
            let want = (left.min(PIPE_CHUNK as u64) as usize).max(1);
            // Large chunks are reused (allocating them maps fresh pages every time); a
            // small one is allocated to fit, so a big spare never carries a few bytes.
            let mut chunk = if want >= RECYCLED {
                self.spare.try_recv().unwrap_or_default()
            } else {
                Vec::with_capacity(want)
            };
            // Not cleared first: a reused chunk's old bytes are overwritten by the read and
            // cut off by `truncate` below, and zeroing them again cost 1.5% of a scan.
            chunk.resize(want, 0);
            let mut filled = 0;
            while filled < want {
                match r.read(&mut chunk[filled..])? {
                    0 => break,
                    n => filled += n,
                }
            }
            if filled == 0 {
                break;
            }
            chunk.truncate(filled);
            left = left.saturating_sub(filled as u64);
            // Counted by capacity: that is the memory the chunk holds. Before waiting for
            // room, the events held here go on: the room may be waiting for them.
            if !self.budget.try_take(chunk.capacity()) {
                self.flush()?;
                self.budget.take(chunk.capacity());
            }
            self.send(Event::Data(chunk))?;
        }
        if left > 0 {
            // A stream cut inside a file: the tar reader gives a short file, not an error.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} ends {left} bytes before its recorded size of {}",
                    entry.path, entry.size
                ),
            ));
        }
        // The hashing thread fills in the digests.
        self.send(Event::End(Digests::NONE))
    }
}

/// The visiting thread: keeps each file's leading bytes and tells `visitor`, until the
/// reader is done.
fn consume(
    packets: &mpsc::Receiver<Vec<Event>>,
    recycle: &mpsc::SyncSender<Vec<u8>>,
    budget: &Budget,
    visitor: &mut dyn Visitor,
) {
    // A file of one chunk: the chunk itself becomes the content, uncopied.
    let mut one: Vec<u8> = Vec::new();
    // A file kept beyond one chunk is gathered here. It keeps its allocation from file to
    // file, so the next large file does not map (and fault in) fresh pages.
    let mut many: Vec<u8> = Vec::new();
    let mut open: Option<(FileEntry, Kept)> = None;
    for event in packets.iter().flatten() {
        match event {
            Event::Anomaly(entry, anomaly) => visitor.anomaly(&entry, anomaly),
            Event::Other(entry) => visitor.other(&entry),
            Event::Begin(entry) => {
                let cap = visitor.content_cap(&entry).min(entry.size as usize);
                let kept = if gathered(cap) {
                    // Grown once to the size kept, not doubled (and copied) chunk by chunk.
                    let kept = Kept::new(cap, &mut many);
                    many.reserve(cap);
                    kept
                } else {
                    Kept::new(cap, &mut one)
                };
                open = Some((entry, kept));
            }
            Event::Data(mut chunk) => {
                budget.give(chunk.capacity());
                if let Some((_, kept)) = &mut open {
                    if gathered(kept.cap) {
                        kept.extend(&mut many, &chunk);
                    } else if one.is_empty() && chunk.len() <= kept.cap {
                        std::mem::swap(&mut one, &mut chunk);
                    } else {
                        kept.extend(&mut one, &chunk);
                    }
                }
                // Only chunk-sized buffers go back, and only while the reader wants more;
                // the reader may be gone already. Anything else is simply dropped.
                if (RECYCLED..=PIPE_CHUNK).contains(&chunk.capacity()) {
                    let _ = recycle.try_send(chunk);
                }
            }
            Event::End(digests) => {
                if let Some((entry, kept)) = open.take() {
                    let buf = if gathered(kept.cap) { &many } else { &one };
                    visitor.file(&entry, kept.content(buf, digests));
                }
            }
        }
    }
}

/// Whether a file kept up to `cap` bytes is gathered in the visiting thread's large buffer
/// (more than one chunk) rather than kept as its one chunk.
fn gathered(cap: usize) -> bool {
    cap > PIPE_CHUNK
}

/// Walks a directory tree as one layer, never following a link and never leaving the
/// filesystem it starts on.
fn walk_dir(
    root: &Path,
    layer: usize,
    limits: &Limits,
    visitor: &mut dyn Visitor,
) -> Result<LayerWalk, ImageError> {
    use std::os::unix::fs::MetadataExt;
    let mut walk = LayerWalk::default();
    let root_meta = std::fs::symlink_metadata(root).map_err(|e| ImageError::io(root, e))?;
    let mut stack = vec![(root.to_path_buf(), String::new())];
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 256 << 10];
    let mut count = 0u64;
    while let Some((dir, rel)) = stack.pop() {
        let mut entries = match std::fs::read_dir(&dir) {
            Ok(rd) => rd.collect::<Result<Vec<_>, _>>(),
            Err(e) => Err(e),
        }
        .map_err(|e| ImageError::io(&dir, e))?;
        // Sorted, so the same tree always gives the same report.
        entries.sort_by_key(|e| e.file_name());
        for de in entries {
            count += 1;
            if count > limits.max_entries {
                walk.skipped.push(Skipped {
                    path: rel.clone(),
                    reason: format!(
                        "more than {} entries; the rest were not read",
                        limits.max_entries
                    ),
                    layer: None,
                });
                return Ok(walk);
            }
            let name = de.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let full = de.path();
            let meta = match std::fs::symlink_metadata(&full) {
                Ok(m) => m,
                Err(e) => {
                    walk.skipped.push(Skipped {
                        path,
                        reason: format!("can not stat: {e}"),
                        layer: None,
                    });
                    continue;
                }
            };
            let ft = meta.file_type();
            let kind = if ft.is_file() {
                EntryKind::File
            } else if ft.is_dir() {
                EntryKind::Dir
            } else if ft.is_symlink() {
                EntryKind::Symlink
            } else {
                use std::os::unix::fs::FileTypeExt;
                if ft.is_char_device() {
                    EntryKind::CharDevice
                } else if ft.is_block_device() {
                    EntryKind::BlockDevice
                } else if ft.is_fifo() {
                    EntryKind::Fifo
                } else {
                    EntryKind::Other
                }
            };
            let link = (kind == EntryKind::Symlink)
                .then(|| std::fs::read_link(&full).ok())
                .flatten()
                .map(|l| l.to_string_lossy().into_owned());
            let fe = FileEntry {
                path: path.clone(),
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid().into(),
                gid: meta.gid().into(),
                size: if kind == EntryKind::File {
                    meta.len()
                } else {
                    0
                },
                link: link.clone(),
                layer,
            };
            walk.record.paths.insert(path.clone());
            match kind {
                EntryKind::Dir => {
                    if meta.dev() != root_meta.dev() {
                        walk.skipped.push(Skipped {
                            path,
                            reason: "another filesystem is mounted here; not crossed".into(),
                            layer: None,
                        });
                        continue;
                    }
                    visitor.other(&fe);
                    stack.push((full, path));
                }
                EntryKind::File => {
                    if fe.size > limits.max_file_size {
                        walk.skipped.push(Skipped {
                            path,
                            reason: format!(
                                "file is {} bytes, over the {}-byte file limit",
                                fe.size, limits.max_file_size
                            ),
                            layer: None,
                        });
                        continue;
                    }
                    let f = match std::fs::File::open(&full) {
                        Ok(f) => f,
                        Err(e) => {
                            walk.skipped.push(Skipped {
                                path,
                                reason: format!("can not open: {e}"),
                                layer: None,
                            });
                            continue;
                        }
                    };
                    let cap = visitor.content_cap(&fe).min(fe.size as usize);
                    let hashers = Hashers::new(limits.hash_files, visitor.extra_digests()(&fe));
                    // Read no more than the size seen at stat time: a growing file can't stall us.
                    let mut r = f.take(fe.size);
                    let res = read_file(&mut r, cap, hashers, &mut buf, &mut chunk, |content| {
                        walk.files += 1;
                        walk.bytes += fe.size;
                        visitor.file(&fe, content)
                    });
                    if let Err(e) = res {
                        walk.skipped.push(Skipped {
                            path,
                            reason: format!("read failed: {e}"),
                            layer: None,
                        });
                    }
                }
                EntryKind::Symlink => {
                    let target = link.unwrap_or_default();
                    if !target.starts_with('/') {
                        let base = path.rsplit_once('/').map_or("", |(p, _)| p);
                        if normalize_path(format!("{base}/{target}").as_bytes()).escapes {
                            visitor.anomaly(&fe, Anomaly::LinkEscapesRoot { target });
                        }
                    }
                    visitor.other(&fe);
                }
                EntryKind::CharDevice | EntryKind::BlockDevice => {
                    visitor.anomaly(&fe, Anomaly::DeviceNode);
                    visitor.other(&fe);
                }
                _ => visitor.other(&fe),
            }
        }
    }
    Ok(walk)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `n` bytes of `budget` on a thread of its own; the receiver hears when it got
    /// them. A plain thread, not a scoped one, so a reader that stays blocked fails the
    /// test instead of hanging it.
    fn take_on_a_thread(budget: &Arc<Budget>, n: usize) -> mpsc::Receiver<()> {
        let (done, taken) = mpsc::channel();
        let b = Arc::clone(budget);
        std::thread::spawn(move || {
            b.take(n);
            let _ = done.send(());
        });
        taken
    }

    /// Events the reader holds for its next packet go on before it waits for room in the
    /// pipe: the other side may need them to make that room.
    #[test]
    fn the_reader_sends_what_it_holds_before_waiting_for_room() {
        use std::time::Duration;
        let budget = Budget::new();
        budget.take(PIPE_BYTES);
        let (packets, received) = mpsc::sync_channel(PIPE_DEPTH);
        let (_recycle, spare) = mpsc::sync_channel(PIPE_SPARES);
        let mut pipe = Pipe {
            packets,
            pending: Vec::new(),
            pending_bytes: 0,
            spare,
            budget: &budget,
        };
        let dir = FileEntry::test("etc/", EntryKind::Dir, 0);
        let file = FileEntry::test("etc/big", EntryKind::File, 100_000);
        assert!(pipe.other(&dir).is_ok());
        std::thread::scope(|s| {
            let reader = s.spawn(move || {
                let content = vec![7u8; 100_000];
                pipe.file(&file, &mut content.as_slice())
                    .and_then(|()| pipe.flush())
            });
            let first = received.recv_timeout(Duration::from_secs(5));
            // Room, so the reader finishes even if the assertion below fails.
            budget.give(PIPE_BYTES);
            let first = first.expect("the held events arrive while the reader waits");
            assert!(matches!(&first[..], [Event::Other(e), Event::Begin(_)] if e.path == "etc/"));
            assert!(reader.join().unwrap().is_ok());
        });
        let rest: Vec<Event> = received.try_iter().flatten().collect();
        assert!(matches!(&rest[..], [Event::Data(d), Event::End(_)] if d.len() == 100_000));
    }

    /// The reader waits when the layer's bytes in flight are used up, goes on when the
    /// visiting side frees some, and never waits once that side has gone.
    #[test]
    fn the_byte_budget_holds_the_reader_back_until_freed_or_closed() {
        use std::time::Duration;
        for release in ["give", "close"] {
            let budget = Arc::new(Budget::new());
            budget.take(PIPE_BYTES);
            let taken = take_on_a_thread(&budget, 1);
            assert!(
                taken.recv_timeout(Duration::from_millis(100)).is_err(),
                "{release}: took bytes over the budget"
            );
            match release {
                "give" => budget.give(PIPE_BYTES),
                _ => budget.close(),
            }
            taken
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("{release}: the reader stayed blocked"));
        }
        // An empty pipe always takes one chunk, however large.
        let budget = Arc::new(Budget::new());
        take_on_a_thread(&budget, PIPE_BYTES * 2)
            .recv_timeout(Duration::from_secs(10))
            .expect("an oversized chunk waits on an empty pipe");
    }

    #[test]
    fn normalizes_hostile_names() {
        let n = normalize_path(b"../../etc/cron.d/x");
        assert_eq!(
            (n.path.as_str(), n.escapes, n.absolute),
            ("etc/cron.d/x", true, false)
        );
        let n = normalize_path(b"/usr/./bin//ls");
        assert_eq!(
            (n.path.as_str(), n.escapes, n.absolute),
            ("usr/bin/ls", false, true)
        );
        let n = normalize_path(b"a/b/../../c");
        assert_eq!((n.path.as_str(), n.escapes), ("c", false));
        let n = normalize_path(b"./");
        assert_eq!(n.path, "");
    }

    #[test]
    fn later_layers_hide_paths() {
        let mut upper = LayerRecord::default();
        upper.whiteouts.push("etc/miner".into());
        upper.opaque_dirs.push("opt".into());
        upper.paths.insert("usr/bin/ls".into());
        assert!(upper.hides("etc/miner"));
        assert!(upper.hides("etc/miner/config.json"));
        assert!(!upper.hides("etc/miner2"));
        assert!(upper.hides("opt/x/y"));
        assert!(!upper.hides("opt"));
        assert!(upper.hides("usr/bin/ls"));
        let records = vec![LayerRecord::default(), LayerRecord::default(), upper];
        assert_eq!(deleted_in(&records, 0, "etc/miner"), Some(2));
        assert_eq!(deleted_in(&records, 2, "etc/miner"), None);
    }
}
