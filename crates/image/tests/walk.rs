//! The layer walker on hostile and broken layers, driven directly with in-memory blobs so
//! every byte of the input is under the test's control.

use std::collections::HashMap;
use std::io::{Cursor, Read, Write};
use std::sync::Arc;

use customs_image::blob::{BlobKey, BlobStore, sha256};
use customs_image::walk::{
    Anomaly, DigestChoice, ExtraDigests, FileContent, FileEntry, LayerWalk, Limits, NoProgress,
    Visitor, walk_layer,
};
use customs_image::{Image, ImageError, Layer, LayerContent};
use customs_test_support::fixtures::{EICAR, Entry, LayerSpec, layer_tar};

struct Blobs(HashMap<String, Vec<u8>>);

impl BlobStore for Blobs {
    fn open(&self, key: &BlobKey) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let BlobKey::Path(p) = key else {
            unreachable!()
        };
        Ok(Box::new(Cursor::new(self.0[p].clone())))
    }
}

/// An image of one layer whose blob is exactly `blob`, verified against `digest`.
fn image(blob: Vec<u8>, digest: Option<customs_core::Digest>) -> Image {
    let mut m = HashMap::new();
    m.insert("l".to_string(), blob);
    Image {
        name: None,
        other_names: Vec::new(),
        manifest_digest: None,
        platform: None,
        config: None,
        layers: vec![Layer {
            id: "layer-under-test".into(),
            blob_digest: digest,
            diff_id: None,
            media_type: String::new(),
            size: None,
            created_by: None,
            content: LayerContent::Blob(BlobKey::Path("l".into())),
        }],
        store: Arc::new(Blobs(m)),
    }
}

#[derive(Default)]
struct Seen {
    files: Vec<(String, Vec<u8>, Option<String>)>,
    others: Vec<String>,
    anomalies: Vec<(String, Anomaly)>,
}

impl Visitor for Seen {
    fn content_cap(&mut self, _e: &FileEntry) -> usize {
        1 << 20
    }
    fn file(&mut self, e: &FileEntry, c: FileContent<'_>) {
        self.files.push((
            e.path.clone(),
            c.data.to_vec(),
            c.sha256.map(|d| d.to_string()),
        ));
    }
    fn other(&mut self, e: &FileEntry) {
        self.others.push(e.path.clone());
    }
    fn anomaly(&mut self, e: &FileEntry, a: Anomaly) {
        self.anomalies.push((e.path.clone(), a));
    }
}

fn walk(img: &Image, limits: &Limits) -> (Result<LayerWalk, ImageError>, Seen) {
    let mut seen = Seen::default();
    let r = walk_layer(img, 0, limits, &NoProgress, &mut seen);
    (r, seen)
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[test]
fn hostile_entries_are_data() {
    let tar = layer_tar(&LayerSpec::new(vec![
        Entry::RawName {
            name: b"../../../../tmp/customs-escape-test".to_vec(),
            data: EICAR.to_vec(),
        },
        Entry::RawName {
            name: b"/etc/cron.d/abs".to_vec(),
            data: b"* * * * * root true\n".to_vec(),
        },
        Entry::RawSymlink {
            name: b"app/passwd".to_vec(),
            target: b"../../../../etc/passwd".to_vec(),
        },
        Entry::symlink("bin/sh", "/bin/busybox"),
        Entry::CharDevice {
            path: "tmp/mem".into(),
            major: 1,
            minor: 1,
        },
        Entry::file("app/x", b"first".to_vec()),
        Entry::file("app/x", b"second".to_vec()),
        Entry::hardlink("app/y", "app/x"),
        Entry::Fifo {
            path: "app/fifo".into(),
        },
    ]));
    let img = image(tar.clone(), Some(sha256(&tar)));
    let (r, seen) = walk(&img, &Limits::default());
    let w = r.expect("hostile entries are read, not fatal");
    let kinds: Vec<(&str, &Anomaly)> = seen
        .anomalies
        .iter()
        .map(|(p, a)| (p.as_str(), a))
        .collect();
    assert!(kinds.contains(&(
        "tmp/customs-escape-test",
        &Anomaly::PathEscapesRoot {
            raw: "../../../../tmp/customs-escape-test".into()
        }
    )));
    assert!(kinds.contains(&(
        "etc/cron.d/abs",
        &Anomaly::AbsolutePath {
            raw: "/etc/cron.d/abs".into()
        }
    )));
    assert!(kinds.contains(&(
        "app/passwd",
        &Anomaly::LinkEscapesRoot {
            target: "../../../../etc/passwd".into()
        }
    )));
    assert!(kinds.contains(&("tmp/mem", &Anomaly::DeviceNode)));
    assert!(kinds.contains(&("app/x", &Anomaly::DuplicateEntry)));
    // An absolute symlink stays inside the root in a container: not an anomaly.
    assert!(!kinds.iter().any(|(p, _)| *p == "bin/sh"));
    assert_eq!(seen.anomalies.len(), 5, "{:?}", seen.anomalies);
    // Both copies of the duplicate are read; the escaping file is read as data.
    let names: Vec<&str> = seen.files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "tmp/customs-escape-test",
            "etc/cron.d/abs",
            "app/x",
            "app/x"
        ]
    );
    assert_eq!(seen.files[0].1, EICAR);
    assert_eq!(
        seen.files[0].2.as_deref(),
        Some(sha256(EICAR).to_string().as_str())
    );
    assert!(seen.others.contains(&"app/fifo".to_string()));
    assert_eq!(w.files, 4);
    assert!(
        !std::path::Path::new("/tmp/customs-escape-test").exists(),
        "nothing is ever written"
    );
}

#[test]
fn whiteouts_are_recorded_not_reported_as_files() {
    let tar = layer_tar(&LayerSpec::new(vec![
        Entry::Whiteout("etc/miner".into()),
        Entry::Opaque("opt".into()),
        Entry::file("opt/new", b"n".to_vec()),
    ]));
    let img = image(tar, None);
    let (r, seen) = walk(&img, &Limits::default());
    let w = r.unwrap();
    assert_eq!(w.record.whiteouts, ["etc/miner"]);
    assert_eq!(w.record.opaque_dirs, ["opt"]);
    assert_eq!(seen.files.len(), 1);
}

#[test]
fn missing_end_of_archive_is_read() {
    // Old umoci wrote layers without the two zero blocks at the end.
    let tar = layer_tar(&LayerSpec::new(vec![Entry::file("a", b"abc".to_vec())]));
    let cut = tar[..tar.len() - 1024].to_vec();
    assert!(cut.len() >= 1024);
    let img = image(gzip(&cut), None);
    let (r, seen) = walk(&img, &Limits::default());
    r.expect("a tar without its footer still reads");
    assert_eq!(seen.files.len(), 1);
}

#[test]
fn truncated_inside_an_entry_is_an_error() {
    let tar = layer_tar(&LayerSpec::new(vec![Entry::file("a", vec![7u8; 5000])]));
    let img = image(tar[..2048].to_vec(), None);
    let (r, _) = walk(&img, &Limits::default());
    let e = r.expect_err("a cut entry is an error");
    assert!(e.to_string().contains("layer-under-test"), "{e}");
}

#[test]
fn corrupt_gzip_is_an_error() {
    let tar = layer_tar(&LayerSpec::new(vec![Entry::file("a", vec![1u8; 100_000])]));
    let mut gz = gzip(&tar);
    let mid = gz.len() / 2;
    gz[mid] ^= 0xff;
    gz[mid + 1] ^= 0xff;
    let (r, _) = walk(&image(gz, None), &Limits::default());
    assert!(r.is_err());
}

#[test]
fn digest_mismatch_is_an_error_even_after_a_clean_tar() {
    let tar = layer_tar(&LayerSpec::new(vec![Entry::file("a", b"abc".to_vec())]));
    let wrong = sha256(b"not this");
    let (r, _) = walk(&image(gzip(&tar), Some(wrong)), &Limits::default());
    assert!(matches!(r, Err(ImageError::DigestMismatch { .. })), "{r:?}");
    // Bytes after the end of the tar are covered by the digest too.
    let mut padded = tar.clone();
    padded.extend_from_slice(&[0u8; 4096]);
    padded.extend_from_slice(b"smuggled");
    let (r, _) = walk(&image(padded, Some(sha256(&tar))), &Limits::default());
    assert!(matches!(r, Err(ImageError::DigestMismatch { .. })), "{r:?}");
}

#[test]
fn limits_are_recorded_as_skipped() {
    let tar = layer_tar(&LayerSpec::new(vec![
        Entry::file("big", vec![0u8; 3 << 20]),
        Entry::file("small", b"s".to_vec()),
        Entry::file("third", b"t".to_vec()),
    ]));
    let img = image(gzip(&tar), None);

    let (r, seen) = walk(
        &img,
        &Limits {
            max_file_size: 1 << 20,
            ..Limits::default()
        },
    );
    let w = r.unwrap();
    assert_eq!(w.skipped.len(), 1);
    assert_eq!(w.skipped[0].path, "big");
    assert_eq!(seen.files.len(), 2, "the rest is still read");

    let (r, seen) = walk(
        &img,
        &Limits {
            max_entries: 2,
            ..Limits::default()
        },
    );
    let w = r.unwrap();
    assert_eq!(w.skipped.len(), 1);
    assert!(w.skipped[0].reason.contains("entries"), "{:?}", w.skipped);
    assert_eq!(seen.files.len(), 2);

    let (r, _) = walk(
        &img,
        &Limits {
            max_layer_bytes: 1 << 20,
            ..Limits::default()
        },
    );
    let w = r.unwrap();
    assert!(
        w.skipped[0].reason.contains("larger than"),
        "{:?}",
        w.skipped
    );
}

#[test]
fn decompression_bomb_is_stopped_early() {
    // 64 MiB of zeros compress about 1000:1 with zstd; the ratio check stops it long
    // before the layer byte limit would.
    let tar = layer_tar(&LayerSpec::new(vec![Entry::file(
        "zeros",
        vec![0u8; 64 << 20],
    )]));
    let z = zstd::encode_all(&tar[..], 19).unwrap();
    assert!(tar.len() / z.len() > 1000, "ratio {}", tar.len() / z.len());
    let limits = Limits {
        max_ratio: 100,
        ratio_after: 1 << 20,
        ..Limits::default()
    };
    let (r, seen) = walk(&image(z, None), &limits);
    let w = r.unwrap();
    assert!(w.skipped[0].reason.contains("ratio"), "{:?}", w.skipped);
    assert!(seen.files.is_empty());
}

#[test]
fn files_are_hashed_whole_beyond_the_cap() {
    struct Small(Vec<(Vec<u8>, bool, String)>);
    impl Visitor for Small {
        fn content_cap(&mut self, _e: &FileEntry) -> usize {
            4
        }
        fn file(&mut self, _e: &FileEntry, c: FileContent<'_>) {
            self.0
                .push((c.data.to_vec(), c.complete, c.sha256.unwrap().to_string()));
        }
        fn anomaly(&mut self, _e: &FileEntry, _a: Anomaly) {}
    }
    let data = b"0123456789".repeat(100_000);
    let tar = layer_tar(&LayerSpec::new(vec![
        Entry::file("long", data.clone()),
        Entry::file("short", b"abc".to_vec()),
    ]));
    let img = image(tar, None);
    let mut v = Small(vec![]);
    walk_layer(&img, 0, &Limits::default(), &NoProgress, &mut v).unwrap();
    assert_eq!(v.0[0], (b"0123".to_vec(), false, sha256(&data).to_string()));
    assert_eq!(v.0[1], (b"abc".to_vec(), true, sha256(b"abc").to_string()));
}

/// Logs what a visitor is told: each file with its kept length, whether that is the whole
/// file, and its digests. Extra digests for the paths `extra` picks.
struct DigestLog {
    cap: usize,
    extra: DigestChoice,
    lines: Vec<String>,
}

impl DigestLog {
    fn new(cap: usize, extra: DigestChoice) -> DigestLog {
        DigestLog {
            cap,
            extra,
            lines: Vec::new(),
        }
    }

    /// The line a file of `data` at `path` must give.
    fn expected(&self, path: &str, data: &[u8]) -> String {
        use md5::Digest as _;
        let fe = FileEntry {
            path: path.into(),
            kind: customs_image::walk::EntryKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: data.len() as u64,
            link: None,
            layer: 0,
        };
        let extra = (self.extra)(&fe);
        format!(
            "file {path} {} {} {} {:?} {:?}",
            data.len().min(self.cap),
            data.len() <= self.cap,
            sha256(data),
            extra.md5.then(|| hex(&md5::Md5::digest(data))),
            extra.sha1.then(|| hex(&sha1::Sha1::digest(data)))
        )
    }
}

impl Visitor for DigestLog {
    fn content_cap(&mut self, _e: &FileEntry) -> usize {
        self.cap
    }
    fn extra_digests(&self) -> DigestChoice {
        self.extra
    }
    fn file(&mut self, e: &FileEntry, c: FileContent<'_>) {
        self.lines.push(format!(
            "file {} {} {} {} {:?} {:?}",
            e.path,
            c.data.len(),
            c.complete,
            c.sha256.unwrap(),
            c.md5.map(|d| hex(&d)),
            c.sha1.map(|d| hex(&d))
        ));
    }
    fn other(&mut self, e: &FileEntry) {
        self.lines.push(format!("other {}", e.path));
    }
    fn anomaly(&mut self, e: &FileEntry, a: Anomaly) {
        self.lines.push(format!("anomaly {} {a:?}", e.path));
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bytes that do not repeat, so a chunk delivered twice or out of order changes a digest.
fn scrambled(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// The layer is read on one thread and visited on another; what the visitor sees must be
/// what one thread would see: tar order, a cap that falls inside the reader's second chunk,
/// every digest over the whole file, empty files, and nothing of a file cut short.
#[test]
fn the_reading_thread_hands_over_files_whole_and_in_order() {
    let all: DigestChoice = |_| ExtraDigests {
        md5: true,
        sha1: true,
    };
    let big = scrambled((1 << 20) + 7, 0);
    let tar = layer_tar(&LayerSpec::new(vec![
        Entry::file("a/big", big.clone()),
        Entry::file("a/empty", Vec::new()),
        Entry::symlink("a/link", "big"),
        Entry::file("a/big", b"again".to_vec()),
        Entry::file("a/small", b"small".to_vec()),
    ]));
    let img = image(gzip(&tar), None);
    let mut log = DigestLog::new(300 << 10, all);
    walk_layer(&img, 0, &Limits::default(), &NoProgress, &mut log).unwrap();
    assert_eq!(
        log.lines,
        vec![
            log.expected("a/big", &big),
            log.expected("a/empty", b""),
            "other a/link".to_string(),
            "anomaly a/big DuplicateEntry".to_string(),
            log.expected("a/big", b"again"),
            log.expected("a/small", b"small"),
        ]
    );

    // Cut inside the big file's third chunk: an error, and the cut file is never visited.
    let img = image(tar[..700 << 10].to_vec(), None);
    let mut log = DigestLog::new(300 << 10, all);
    let e = walk_layer(&img, 0, &Limits::default(), &NoProgress, &mut log)
        .expect_err("a cut entry is an error");
    assert!(e.to_string().contains("layer-under-test"), "{e}");
    assert!(log.lines.is_empty(), "{:?}", log.lines);
}

/// Files with and without MD5 and SHA-1 side by side, of every size class the hashing
/// thread treats differently (empty, one byte, around a block, several chunks, over 4 MiB),
/// with a link between them: each file keeps its own digests and the tar order.
#[test]
fn files_with_and_without_extra_digests_keep_their_own_digests_and_order() {
    let some: DigestChoice = |e| ExtraDigests {
        md5: e.path.starts_with("p/"),
        sha1: e.path.starts_with("p/"),
    };
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("p/1", scrambled(10, 1)),
        ("p/2", scrambled(300 << 10, 2)),
        ("q/no-md5", scrambled(100, 3)),
        ("p/3", scrambled(300 << 10, 4)),
        ("p/big", scrambled((5 << 20) + 3, 5)),
        ("p/4", scrambled(1, 6)),
        ("p/5", Vec::new()),
        ("p/6", scrambled(64, 7)),
        ("p/7", scrambled(65, 8)),
    ];
    let mut entries: Vec<Entry> = files
        .iter()
        .map(|(p, d)| Entry::file(*p, d.clone()))
        .collect();
    entries.insert(6, Entry::symlink("p/link", "1"));
    let tar = layer_tar(&LayerSpec::new(entries));
    let mut log = DigestLog::new(16, some);
    walk_layer(
        &image(gzip(&tar), None),
        0,
        &Limits::default(),
        &NoProgress,
        &mut log,
    )
    .unwrap();
    let mut want: Vec<String> = files.iter().map(|(p, d)| log.expected(p, d)).collect();
    want.insert(6, "other p/link".to_string());
    assert_eq!(log.lines, want);
}
