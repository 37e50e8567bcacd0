//! The hashing thread of a blob layer, between the reader and the visitor: digests every
//! file as its chunks go by. Hashing is about as much work as decompressing (MD5 for dpkg,
//! SHA-1 for apk, sha256 for everything), so it gets a thread of its own.
//!
//! MD5 is the costly one: one stream of it runs at about 490 MB/s, and a Debian image has it
//! computed over nearly every file. So small files that need MD5 are held back a moment,
//! with their events, and their MD5s computed eight at a time (`md5_lanes`); sha256 still
//! runs as the chunks arrive. Other small files between them wait in the batch too, since
//! the visitor must see every event in tar order. A large file, or a full batch, sends the
//! batch on first; so does the end of a file when little is left queued for the visitor,
//! since with one layer at a time the visitor is the slowest stage, and a batch that waits
//! to fill would leave it idle.

use std::sync::mpsc;

use md5::Digest as _;

use crate::file_digests::{Digests, Hashers};
use crate::md5_lanes::md5_many;
use crate::walk::{
    Budget, DigestChoice, Event, ExtraDigests, FileEntry, PIPE_BYTES, PIPE_CHUNK, RECYCLED,
};

/// Files up to this size wait in a batch; a larger one streams through alone. Measured on
/// the benchmark image against 1 MiB and 2 MiB: the scan's CPU 2-3% lower, RSS 3 MB higher.
const BATCHED_FILE: u64 = 4 << 20;
/// Chunk bytes (by capacity, as the pipe's budget counts them) a batch holds at most:
/// three quarters of the pipe, so the reader can still run ahead while a batch waits for
/// its last file, and a batch has room for several files of the largest batched size.
const BATCH_BYTES: usize = PIPE_BYTES / 4 * 3;

/// Below this many content bytes queued for the visitor (beyond the batch), a batch is
/// sent on as soon as a file in it ends: the visitor is about to wait for it.
const VISITOR_LOW: usize = 1 << 20;

/// Runs the hashing stage until the reader is done or the visitor has gone.
pub(crate) fn hash_stage(
    from: mpsc::Receiver<Vec<Event>>,
    to: mpsc::SyncSender<Vec<Event>>,
    budget: &Budget,
    sha256: bool,
    choose: DigestChoice,
) {
    let mut stage = Stage {
        to,
        budget,
        sha256,
        batch: Batch::default(),
        open: None,
        out: Vec::new(),
    };
    for packet in from {
        for event in packet {
            stage.take(event, choose);
        }
        if stage.deliver().is_err() {
            // The visiting side is gone; dropping `from` stops the reader too.
            return;
        }
    }
    stage.flush();
    let _ = stage.deliver();
}

/// The visitor stopped listening.
struct Gone;

struct Stage<'b> {
    to: mpsc::SyncSender<Vec<Event>>,
    /// The pipe's byte count, to see when the visitor runs short of work.
    budget: &'b Budget,
    sha256: bool,
    batch: Batch,
    open: Option<OpenFile>,
    /// Events ready for the visitor, sent as one packet per packet taken.
    out: Vec<Event>,
}

/// Events held back, in order, and which of them are files whose MD5 the batch computes.
#[derive(Default)]
struct Batch {
    events: Vec<Event>,
    /// Index of each batched file's `Begin`, and of its `End` once it came.
    files: Vec<(usize, Option<usize>)>,
    /// Capacity of the chunks held.
    bytes: usize,
}

/// The file whose chunks are going by.
enum OpenFile {
    /// Every digest it needs computed as the chunks go by.
    Streamed(Hashers),
    /// sha256 as the chunks go by; MD5 with the batch, or, if the batch had to leave before
    /// the file ended, from then on as the chunks go by.
    Batched {
        others: Hashers,
        md5: Option<Box<md5::Md5>>,
    },
}

impl Stage<'_> {
    fn take(&mut self, event: Event, choose: DigestChoice) {
        match event {
            Event::Begin(entry) => self.begin(entry, choose),
            Event::Data(chunk) => {
                match &mut self.open {
                    Some(OpenFile::Streamed(h)) => h.update(&chunk),
                    Some(OpenFile::Batched { others, md5 }) => {
                        others.update(&chunk);
                        if let Some(m) = md5 {
                            m.update(&chunk);
                        }
                    }
                    None => {}
                }
                if self.batch.events.is_empty() {
                    self.send(Event::Data(chunk));
                    return;
                }
                self.batch.bytes += chunk.capacity();
                self.batch.events.push(Event::Data(chunk));
                if self.batch.bytes > BATCH_BYTES {
                    // Only when a file was larger than its header said.
                    self.flush();
                }
            }
            Event::End(_) => {
                let (digests, in_batch) = match self.open.take() {
                    None => (Digests::NONE, false),
                    Some(OpenFile::Streamed(h)) => (h.finish(), false),
                    Some(OpenFile::Batched { others, md5 }) => {
                        let mut digests = others.finish();
                        let in_batch = md5.is_none();
                        digests.md5 = md5.map(|m| m.finalize().into());
                        (digests, in_batch)
                    }
                };
                if self.batch.events.is_empty() {
                    self.send(Event::End(digests));
                    return;
                }
                if in_batch && let Some((_, end)) = self.batch.files.last_mut() {
                    *end = Some(self.batch.events.len());
                }
                self.batch.events.push(Event::End(digests));
                if self.budget.in_flight().saturating_sub(self.batch.bytes) < VISITOR_LOW {
                    self.flush();
                }
            }
            other => self.pass(other),
        }
    }

    fn begin(&mut self, entry: FileEntry, choose: DigestChoice) {
        let extra = choose(&entry);
        let small = entry.size <= BATCHED_FILE;
        if !small || self.batch.bytes + most_held(entry.size) > BATCH_BYTES {
            self.flush();
        }
        if small && extra.md5 && !extra.sha1 {
            self.open = Some(OpenFile::Batched {
                others: Hashers::new(self.sha256, ExtraDigests::default()),
                md5: None,
            });
            self.batch.files.push((self.batch.events.len(), None));
            self.batch.events.push(Event::Begin(entry));
            return;
        }
        self.open = Some(OpenFile::Streamed(Hashers::new(self.sha256, extra)));
        self.pass(Event::Begin(entry));
    }

    /// An event that needs no hashing: behind the batch if there is one.
    fn pass(&mut self, event: Event) {
        if self.batch.events.is_empty() {
            self.send(event);
        } else {
            self.batch.events.push(event);
        }
    }

    fn send(&mut self, event: Event) {
        self.out.push(event);
    }

    /// Sends the events ready for the visitor.
    fn deliver(&mut self) -> Result<(), Gone> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.to
            .send(std::mem::take(&mut self.out))
            .map_err(|_| Gone)
    }

    /// Computes the MD5s of the batch's ended files, sends its events on, and empties it. A
    /// batched file still open carries on with MD5 of its own.
    fn flush(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        let mut events = batch.events;
        let pieces = |begin: usize, end: usize| -> Vec<&[u8]> {
            events[begin + 1..end]
                .iter()
                .filter_map(|e| match e {
                    Event::Data(chunk) => Some(chunk.as_slice()),
                    _ => None,
                })
                .collect()
        };
        let ended: Vec<(usize, usize)> = batch
            .files
            .iter()
            .filter_map(|&(begin, end)| Some((begin, end?)))
            .collect();
        let md5s = md5_many(
            &ended
                .iter()
                .map(|&(begin, end)| pieces(begin, end))
                .collect::<Vec<_>>(),
        );
        if let Some(&(begin, None)) = batch.files.last()
            && let Some(OpenFile::Batched { md5, .. }) = &mut self.open
        {
            let mut m = md5::Md5::new();
            for piece in pieces(begin, events.len()) {
                m.update(piece);
            }
            *md5 = Some(Box::new(m));
        }
        for ((_, end), md5) in ended.into_iter().zip(md5s) {
            if let Event::End(digests) = &mut events[end] {
                digests.md5 = Some(md5);
            }
        }
        self.out.extend(events);
    }
}

/// The most chunk capacity a file of `size` bytes can hold in the pipe: a small file's one
/// chunk is allocated to fit, a larger file's chunks may be reused whole ones.
fn most_held(size: u64) -> usize {
    let size = usize::try_from(size).unwrap_or(usize::MAX).max(1);
    if size < RECYCLED {
        size
    } else {
        size.div_ceil(PIPE_CHUNK).saturating_mul(PIPE_CHUNK)
    }
}

#[cfg(test)]
mod tests {
    use customs_test_support::noise;
    use sha2::{Digest as _, Sha256};

    use super::*;
    use crate::walk::EntryKind;

    /// A pipe whose visitor has plenty queued, so batches wait until full.
    fn busy() -> Budget {
        let budget = Budget::new();
        budget.take(PIPE_BYTES);
        budget
    }

    fn entry(path: &str, size: u64) -> FileEntry {
        FileEntry::test(path, EntryKind::File, size)
    }

    /// MD5 for files under `md5/`, SHA-1 (and MD5) under `both/`, nothing more elsewhere.
    fn choose(e: &FileEntry) -> ExtraDigests {
        ExtraDigests {
            md5: e.path.starts_with("md5/") || e.path.starts_with("both/"),
            sha1: e.path.starts_with("both/"),
        }
    }

    /// What the visitor can tell apart: every event, with the digests an `End` carries.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Begin(String),
        Data(Vec<u8>),
        End(Option<String>, Option<[u8; 16]>, Option<[u8; 20]>),
        Other(String),
    }

    fn seen(e: &Event) -> Seen {
        match e {
            Event::Begin(entry) => Seen::Begin(entry.path.clone()),
            Event::Data(chunk) => Seen::Data(chunk.clone()),
            Event::End(d) => Seen::End(d.sha256.as_ref().map(|d| d.to_string()), d.md5, d.sha1),
            Event::Other(entry) => Seen::Other(entry.path.clone()),
            Event::Anomaly(entry, _) => Seen::Other(entry.path.clone()),
        }
    }

    /// One input file: its path, the size its header gives, and its bytes.
    struct File {
        path: String,
        header: u64,
        data: Vec<u8>,
    }

    fn file(path: &str, len: usize) -> File {
        File {
            path: path.into(),
            header: len as u64,
            data: noise(len, len as u32 ^ path.len() as u32),
        }
    }

    /// The events the reader would send for `files` (a directory before each), and what the
    /// visitor must see after hashing: the same events, each `End` with the reference
    /// digests. `ended` false cuts the stream inside the last file.
    fn events(files: &[File], ended: bool) -> (Vec<Event>, Vec<Seen>) {
        let (mut input, mut want) = (Vec::new(), Vec::new());
        for (i, f) in files.iter().enumerate() {
            let dir = format!("dir{i}/");
            input.push(Event::Other(entry(&dir, 0)));
            want.push(Seen::Other(dir));
            input.push(Event::Begin(entry(&f.path, f.header)));
            want.push(Seen::Begin(f.path.clone()));
            for chunk in f.data.chunks(PIPE_CHUNK) {
                input.push(Event::Data(chunk.to_vec()));
                want.push(Seen::Data(chunk.to_vec()));
            }
            if !ended && i == files.len() - 1 {
                break;
            }
            let extra = choose(&entry(&f.path, 0));
            let sha256 = customs_core::Digest::sha256_from_bytes(&Sha256::digest(&f.data));
            input.push(Event::End(Digests::NONE));
            want.push(Seen::End(
                Some(sha256.to_string()),
                extra
                    .md5
                    .then(|| <md5::Md5 as md5::Digest>::digest(&f.data).into()),
                extra
                    .sha1
                    .then(|| <sha1::Sha1 as sha1::Digest>::digest(&f.data).into()),
            ));
        }
        (input, want)
    }

    /// The hashing stage over `input`, sent in packets of 1, 3 and 64 events in turn.
    fn run(input: Vec<Event>) -> Vec<Seen> {
        let (tx, from) = mpsc::sync_channel(input.len() + 1);
        let (to, rx) = mpsc::sync_channel(input.len() + 1);
        let mut input = input.into_iter().peekable();
        for size in [1, 3, 64].into_iter().cycle() {
            if input.peek().is_none() {
                break;
            }
            tx.send(input.by_ref().take(size).collect()).unwrap();
        }
        drop(tx);
        hash_stage(from, to, &busy(), true, choose);
        rx.into_iter().flatten().map(|e| seen(&e)).collect()
    }

    fn stage(budget: &Budget) -> (Stage<'_>, mpsc::Receiver<Vec<Event>>) {
        let (to, rx) = mpsc::sync_channel(1000);
        let stage = Stage {
            to,
            budget,
            sha256: true,
            batch: Batch::default(),
            open: None,
            out: Vec::new(),
        };
        (stage, rx)
    }

    /// What the stage has sent on, as events.
    fn sent(stage: &mut Stage<'_>, rx: &mpsc::Receiver<Vec<Event>>) -> Vec<Seen> {
        assert!(stage.deliver().is_ok());
        rx.try_iter().flatten().map(|e| seen(&e)).collect()
    }

    fn check(files: &[File], ended: bool) {
        let (input, want) = events(files, ended);
        let got = run(input);
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "event {i}");
        }
    }

    /// Small MD5 files with other files and directories between them, a large one that
    /// streams through in the middle, SHA-1 files, and more small files than one batch
    /// holds: every event arrives once, in order, with the right digests.
    #[test]
    fn events_keep_their_order_and_get_every_digest() {
        let mut files = Vec::new();
        for i in 0..40 {
            files.push(file(&format!("md5/small{i}"), i * 977));
            if i % 3 == 0 {
                files.push(file(&format!("plain/p{i}"), i * 131));
            }
            if i % 7 == 0 {
                files.push(file(&format!("both/s{i}"), i * 59));
            }
        }
        files.push(file("md5/large", BATCHED_FILE as usize + 1));
        files.push(file("plain/large", BATCHED_FILE as usize + 5));
        // Past one batch's bytes: the batch leaves before a file that would not fit.
        for i in 0..24 {
            files.push(file(&format!("md5/mid{i}"), 700_000 + i * 1000));
        }
        files.push(file("md5/empty", 0));
        check(&files, true);
    }

    /// A header that gives a small size for a file far larger than a batch: the batch
    /// leaves while the file is still open, and its MD5 carries on alone, still right.
    #[test]
    fn a_file_larger_than_its_header_finishes_its_md5_alone() {
        let mut files = vec![file("md5/before", 1000)];
        let mut liar = file("md5/liar", BATCH_BYTES + 3 * PIPE_CHUNK + 17);
        liar.header = 100;
        files.push(liar);
        files.push(file("md5/after", 5000));
        check(&files, true);
        // Held back, the file would hold the pipe's whole budget and stop the reader.
        let busy = busy();
        let (mut stage, _rx) = stage(&busy);
        for e in events(&files, true).0 {
            stage.take(e, choose);
            assert!(stage.batch.bytes <= BATCH_BYTES);
        }
    }

    /// The reader failed inside a file: everything before it arrives with its digests, and
    /// the cut file's events arrive without an `End`.
    #[test]
    fn a_stream_cut_inside_a_batched_file_loses_nothing_before_it() {
        let files: Vec<File> = (0..5)
            .map(|i| file(&format!("md5/f{i}"), 3000 * i))
            .collect();
        check(&files, false);
    }

    /// Small MD5 files are held back as a batch; a file too large for one sends the batch
    /// on before its own events.
    #[test]
    fn small_md5_files_wait_for_a_batch_and_a_large_file_sends_it() {
        let busy = busy();
        let (mut stage, rx) = stage(&busy);
        let (input, _) = events(&[file("md5/a", 10), file("plain/b", 10)], true);
        for e in input {
            stage.take(e, choose);
        }
        // Only the directory before the MD5 file goes on; the file waits.
        assert_eq!(sent(&mut stage, &rx), [Seen::Other("dir0/".into())]);
        assert_eq!(stage.batch.files.len(), 1);
        assert_eq!(stage.batch.events.len(), 7);
        let big = entry("plain/big", BATCHED_FILE + 1);
        stage.take(Event::Begin(big), choose);
        assert!(stage.batch.events.is_empty());
        assert_eq!(sent(&mut stage, &rx).len(), 8);
    }

    /// When little is queued for the visitor, a batch does not wait to fill: it goes on as
    /// soon as a file in it ends, or the visitor would sit idle.
    #[test]
    fn a_visitor_short_of_work_gets_the_batch_when_a_file_ends() {
        let idle = Budget::new();
        let (mut stage, rx) = stage(&idle);
        let (input, want) = events(&[file("md5/a", 10)], true);
        for e in input {
            stage.take(e, choose);
        }
        assert!(stage.batch.events.is_empty());
        assert_eq!(sent(&mut stage, &rx), want);
    }
}
