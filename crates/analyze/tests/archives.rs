//! Archives inside layers, through the real scan driver on images built by the fixture code:
//! every format expanded and its members analyzed under their nested path, in the layer that
//! added the archive (deleted or not); bombs stopped early with bounded memory; the depth
//! limit; hostile member names; corrupt archives; a near miss.

use std::io::{Cursor, Write};

use customs_analyze::{Analyzers, FileAnalyzer, ScanOptions, ScanOutcome, Wants, scan_image};
use customs_core::{Finding, Severity};
use customs_image::walk::{FileContent, FileEntry, NoProgress};
use customs_image::{OpenOptions, Target, open};
use customs_test_support::fixtures::{
    Compression, EICAR, Entry, ImageSpec, LayerSpec, sha256_digest, write_oci_layout,
};

struct Scanned {
    outcome: ScanOutcome,
    /// Layer ids, base first.
    layers: Vec<String>,
}

fn scan(layers: Vec<LayerSpec>) -> Scanned {
    scan_with(&Analyzers::builtin().unwrap(), layers)
}

fn scan_with(analyzers: &Analyzers, layers: Vec<LayerSpec>) -> Scanned {
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &[("latest", &ImageSpec::new(layers))]).unwrap();
    let target = Target::Oci {
        path: dir.path().to_path_buf(),
        tag: None,
    };
    let images = open(&target, &OpenOptions::default()).unwrap();
    let outcome = scan_image(&images[0], analyzers, &ScanOptions::default(), &NoProgress);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(
        outcome.coverage.skipped.is_empty(),
        "{:?}",
        outcome.coverage.skipped
    );
    Scanned {
        outcome,
        layers: images[0].layers.iter().map(|l| l.id.clone()).collect(),
    }
}

fn with_rule<'a>(s: &'a Scanned, rule: &str) -> Vec<&'a Finding> {
    s.outcome
        .findings
        .iter()
        .filter(|f| f.rule == rule)
        .collect()
}

fn paths(findings: &[&Finding]) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .map(|f| f.path.clone().unwrap_or_default())
        .collect();
    v.sort();
    v
}

/// The partial-coverage reasons listed for `path`.
fn partial<'a>(s: &'a Scanned, path: &str) -> Vec<&'a str> {
    s.outcome
        .coverage
        .partial
        .iter()
        .filter(|p| p.path == path)
        .map(|p| p.reason.as_str())
        .collect()
}

fn zip_with(members: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(members, zip::CompressionMethod::Deflated)
}

fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut e =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn eicar_is_found_inside_every_format_under_its_nested_path() {
    let jar = zip(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
        ("eicar.com", EICAR),
    ]);
    let war = zip(&[
        ("WEB-INF/web.xml", b"<web-app/>"),
        ("WEB-INF/lib/lib.jar", &jar),
    ]);
    let inner_tar = tar(&[("bin/eicar.com", EICAR)]);
    // A zip behind a launcher script, as executable Spring Boot jars are: found by its end.
    let launcher = [
        b"#!/bin/sh\nexec java -jar \"$0\" \"$@\"\n".to_vec(),
        zip(&[("eicar.com", EICAR)]),
    ]
    .concat();
    let s = scan(vec![LayerSpec::new(vec![
        Entry::dir("opt"),
        Entry::file(
            "opt/app.zip",
            zip(&[("readme.txt", b"hello"), ("eicar.com", EICAR)]),
        ),
        Entry::file("opt/app.war", war),
        Entry::file("opt/app.tgz", gzip(&inner_tar)),
        Entry::file("opt/app.tar.zst", zstd(&inner_tar)),
        Entry::file("opt/plain.tar", inner_tar.clone()),
        Entry::file("opt/eicar.com.xz", xz(EICAR)),
        Entry::file("opt/eicar.bz2", bzip2(EICAR)),
        Entry::file("opt/blob", gzip(EICAR)),
        Entry::file("opt/picture.png", launcher),
        Entry::file(
            "opt/stored.zip",
            zip_with(&[("x/eicar.com", EICAR)], zip::CompressionMethod::Stored),
        ),
    ])]);
    let eicar = with_rule(&s, "eicar-test-file");
    assert_eq!(
        paths(&eicar),
        [
            "opt/app.tar.zst!/bin/eicar.com",
            "opt/app.tgz!/bin/eicar.com",
            "opt/app.war!/WEB-INF/lib/lib.jar!/eicar.com",
            "opt/app.zip!/eicar.com",
            "opt/blob!/<stream>",
            "opt/eicar.bz2!/eicar",
            "opt/eicar.com.xz!/eicar.com",
            "opt/picture.png!/eicar.com",
            "opt/plain.tar!/bin/eicar.com",
            "opt/stored.zip!/x/eicar.com",
        ]
    );
    let sha = sha256_digest(EICAR);
    for f in &eicar {
        assert_eq!(f.layer.as_deref(), Some(s.layers[0].as_str()));
        assert_eq!(f.deleted_in, None);
        // Members are hashed, so hash lists match files inside archives too.
        assert!(f.evidence.contains(&sha), "{}", f.evidence);
    }
    assert!(
        s.outcome.coverage.partial.is_empty(),
        "{:?}",
        s.outcome.coverage.partial
    );
    // Members are not counted as files of the image.
    assert_eq!(s.outcome.coverage.files, 10);
}

#[test]
fn an_archive_deleted_by_a_later_layer_still_names_both_layers() {
    let s = scan(vec![
        LayerSpec::new(vec![
            Entry::dir("opt"),
            Entry::file("opt/app.zip", zip(&[("eicar.com", EICAR)])),
            Entry::file("opt/kept.tgz", gzip(&tar(&[("eicar.com", EICAR)]))),
        ]),
        LayerSpec::new(vec![Entry::Whiteout("opt/app.zip".into())]),
    ]);
    let eicar = with_rule(&s, "eicar-test-file");
    let deleted = eicar
        .iter()
        .find(|f| f.path.as_deref() == Some("opt/app.zip!/eicar.com"))
        .expect("found in the deleted archive");
    assert_eq!(deleted.layer.as_deref(), Some(s.layers[0].as_str()));
    assert_eq!(deleted.deleted_in.as_deref(), Some(s.layers[1].as_str()));
    let kept = eicar
        .iter()
        .find(|f| f.path.as_deref() == Some("opt/kept.tgz!/eicar.com"))
        .expect("found in the kept archive");
    assert_eq!(kept.deleted_in, None);
}

#[test]
fn nesting_deeper_than_four_levels_is_listed_not_expanded() {
    // z0.zip (the layer file) holds eicar.com and z1.zip, which holds eicar.com and z2.zip…
    // down to z5.zip; each eicar.com sits one level deeper than the last.
    let mut inner = zip(&[("eicar.com", EICAR)]);
    for k in (1..=4).rev() {
        inner = zip(&[("eicar.com", EICAR), (&format!("z{}.zip", k + 1), &inner)]);
    }
    let s = scan(vec![LayerSpec::new(vec![Entry::file(
        "z0.zip",
        zip(&[("eicar.com", EICAR), ("z1.zip", &inner)]),
    )])]);
    assert_eq!(
        paths(&with_rule(&s, "eicar-test-file")),
        [
            "z0.zip!/eicar.com",
            "z0.zip!/z1.zip!/eicar.com",
            "z0.zip!/z1.zip!/z2.zip!/eicar.com",
            "z0.zip!/z1.zip!/z2.zip!/z3.zip!/eicar.com",
        ]
    );
    let deepest = "z0.zip!/z1.zip!/z2.zip!/z3.zip!/z4.zip";
    let reasons = partial(&s, deepest);
    assert!(
        reasons.iter().any(|r| r.contains("not expanded (limit 4)")),
        "{:?}",
        s.outcome.coverage.partial
    );
}

#[test]
fn hostile_member_names_never_leave_the_archive_and_are_reported() {
    let evil = zip(&[
        ("../../etc/passwd", b"root::0:0::/root:/bin/sh\n"),
        ("../../../../eicar.com", EICAR),
        ("/abs/eicar.com", EICAR),
    ]);
    let s = scan(vec![LayerSpec::new(vec![
        Entry::dir("opt"),
        Entry::file("opt/evil.zip", evil),
    ])]);
    for f in &s.outcome.findings {
        let p = f.path.as_deref().unwrap_or("");
        assert!(p.starts_with("opt/evil.zip!/"), "{f:#?}");
    }
    let traversal = with_rule(&s, "archive-path-traversal");
    assert_eq!(
        paths(&traversal),
        ["opt/evil.zip!/eicar.com", "opt/evil.zip!/etc/passwd"]
    );
    assert!(
        traversal
            .iter()
            .any(|f| f.evidence.contains("`../../etc/passwd`")),
        "{traversal:#?}"
    );
    assert!(traversal.iter().all(|f| f.severity == Severity::Low));
    assert_eq!(
        paths(&with_rule(&s, "eicar-test-file")),
        ["opt/evil.zip!/abs/eicar.com", "opt/evil.zip!/eicar.com"]
    );
}

#[test]
fn corrupt_archives_are_listed_without_failing_the_scan() {
    let good = zip(&[
        ("a.txt", b"some text to compress, some text to compress"),
        ("eicar.com", EICAR),
    ]);
    // Garbage over the central directory, keeping the end record.
    let mut bad_cd = good.clone();
    let cd = bad_cd.len() - 22 - 2 * 46;
    bad_cd[cd..cd + 30].fill(0xee);
    let truncated = good[..good.len() / 2].to_vec();
    let mut bad_gzip = gzip(&[b"x".repeat(4096), EICAR.to_vec()].concat());
    let mid = bad_gzip.len() / 2;
    bad_gzip[10..mid].fill(0x55);
    let s = scan(vec![LayerSpec::new(vec![
        Entry::file("bad-cd.zip", bad_cd),
        Entry::file("truncated.jar", truncated),
        Entry::file("bad.gz", bad_gzip),
    ])]);
    for path in ["bad-cd.zip", "truncated.jar"] {
        let r = partial(&s, path);
        assert!(
            r.iter()
                .any(|r| r.starts_with("zip archive could not be read")),
            "{path}: {:?}",
            s.outcome.coverage.partial
        );
    }
    assert!(
        partial(&s, "bad.gz")
            .iter()
            .any(|r| r.starts_with("gzip stream could not be read")),
        "{:?}",
        s.outcome.coverage.partial
    );
}

#[test]
fn a_document_quoting_the_test_string_inside_a_zip_is_clean() {
    let doc = [
        b"The test string is: ".to_vec(),
        EICAR.to_vec(),
        b"\n".to_vec(),
    ]
    .concat();
    let quoted = [EICAR.to_vec(), b" is the test string\n".to_vec()].concat();
    let s = scan(vec![LayerSpec::new(vec![Entry::file(
        "usr/share/doc/av/examples.zip",
        zip(&[("README.txt", &doc), ("eicar.txt", &quoted)]),
    )])]);
    assert!(s.outcome.findings.is_empty(), "{:#?}", s.outcome.findings);
    assert!(s.outcome.coverage.partial.is_empty());
}

#[test]
fn archives_larger_than_what_is_read_are_expanded_only_where_the_format_allows() {
    let pad = vec![0u8; 40 << 20];
    let big_tar = tar(&[("eicar.com", EICAR), ("pad.bin", &pad)]);
    let big_zip = zip_with(
        &[("eicar.com", EICAR), ("pad.bin", &pad)],
        zip::CompressionMethod::Stored,
    );
    let s = scan(vec![
        LayerSpec::new(vec![
            Entry::file("big.tar", big_tar),
            Entry::file("big.zip", big_zip),
        ])
        .compression(Compression::None),
    ]);
    assert_eq!(
        paths(&with_rule(&s, "eicar-test-file")),
        ["big.tar!/eicar.com"]
    );
    assert!(
        partial(&s, "big.tar")
            .iter()
            .any(|r| r.contains("only what its first 33554432 bytes hold was expanded")),
        "{:?}",
        s.outcome.coverage.partial
    );
    assert!(
        partial(&s, "big.zip")
            .iter()
            .any(|r| r.contains("not expanded: its central directory lies past")),
        "{:?}",
        s.outcome.coverage.partial
    );
}

/// 1 GiB of zeros, compressed on the fly so the test itself stays small.
fn zeros_into(w: &mut impl Write) {
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        w.write_all(&chunk).unwrap();
    }
}

const BOMB_CHILD: &str = "CUSTOMS_ARCHIVE_BOMB_CHILD";

/// Runs in a child process (so the peak RSS is this scan's alone), prints what the parent
/// checks.
fn bomb_child() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    zeros_into(&mut gz);
    let gz = gz.finish().unwrap();
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    z.start_file(
        "zeros.bin",
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true),
    )
    .unwrap();
    zeros_into(&mut z);
    let z = z.finish().unwrap().into_inner();
    // Compiling the rules is not the scan's memory.
    let analyzers = Analyzers::builtin().unwrap();
    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    let s = scan_with(
        &analyzers,
        vec![LayerSpec::new(vec![
            Entry::file("bomb.gz", gz),
            Entry::file("bomb.zip", z),
        ])],
    );
    let ms = started.elapsed().as_millis();
    let bombs = paths(&with_rule(&s, "archive-bomb"));
    let partial: Vec<String> = s
        .outcome
        .coverage
        .partial
        .iter()
        .map(|p| format!("{}: {}", p.path, p.reason))
        .collect();
    println!(
        "BOMB-RESULT before_kib={before} after_kib={} ms={ms} bombs={} partial={}",
        peak_rss_kib(),
        bombs.join(","),
        partial.join(" | ")
    );
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

#[test]
fn decompression_bombs_stop_early_with_bounded_memory() {
    if std::env::var_os(BOMB_CHILD).is_some() {
        return bomb_child();
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "decompression_bombs_stop_early_with_bounded_memory",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(BOMB_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("BOMB-RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no result from the child: {stdout}"));
    let field = |k: &str| {
        line.split(' ')
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(field("bombs"), "bomb.gz,bomb.zip!/zeros.bin", "{line}");
    assert!(line.contains("likely a decompression bomb"), "{line}");
    // Stopped after about 16 MiB of output: nothing near 1 GiB was held, or even expanded
    // (hashing 2 GiB alone would take seconds).
    let after: u64 = field("after_kib").parse().unwrap();
    let before: u64 = field("before_kib").parse().unwrap();
    assert!(
        after.saturating_sub(before) < 64 << 10,
        "peak RSS grew by {} KiB: {line}",
        after.saturating_sub(before)
    );
    eprintln!("{line}");
}

/// Counts the archive members it is given.
struct Members(std::sync::atomic::AtomicU64);

impl FileAnalyzer for Members {
    fn id(&self) -> &'static str {
        "count-members"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self) -> Wants {
        Wants::default()
    }
    fn analyze(&self, entry: &FileEntry, _: &FileContent<'_>, _: &mut Vec<Finding>) {
        if entry.path.contains("!/") {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Every archive of a clean Debian root filesystem (changelogs and man pages in gzip, Python
/// wheels, ...) expands cleanly: members are analyzed, and there is no archive finding at
/// medium or above and no note about an archive that could not be read.
#[test]
fn archives_in_a_clean_debian_rootfs_expand_without_findings_or_notes() {
    for root in customs_test_support::real_inputs::clean_roots() {
        let images = open(&Target::Dir { path: root.clone() }, &OpenOptions::default()).unwrap();
        let counter = std::sync::Arc::new(Members(Default::default()));
        struct Shared(std::sync::Arc<Members>);
        impl FileAnalyzer for Shared {
            fn id(&self) -> &'static str {
                self.0.id()
            }
            fn version(&self) -> u32 {
                self.0.version()
            }
            fn wants(&self) -> Wants {
                self.0.wants()
            }
            fn analyze(&self, e: &FileEntry, c: &FileContent<'_>, out: &mut Vec<Finding>) {
                self.0.analyze(e, c, out)
            }
        }
        let content = Analyzers::builtin().unwrap().content_info();
        let analyzers = Analyzers::new(vec![Box::new(Shared(counter.clone()))], vec![], content);
        let outcome = scan_image(&images[0], &analyzers, &ScanOptions::default(), &NoProgress);
        let members = counter.0.load(std::sync::atomic::Ordering::Relaxed);
        let archive_findings: Vec<&Finding> = outcome
            .findings
            .iter()
            .filter(|f| f.rule.starts_with("archive-"))
            .collect();
        let notes: Vec<String> = outcome
            .coverage
            .partial
            .iter()
            .map(|p| format!("{}: {}", p.path, p.reason))
            .collect();
        eprintln!(
            "{}: {} files, {members} archive members analyzed, {} archive findings, {} notes",
            root.display(),
            outcome.coverage.files,
            archive_findings.len(),
            notes.len()
        );
        for f in &archive_findings {
            eprintln!(
                "  {} {} {} {}",
                f.severity,
                f.rule,
                f.path.as_deref().unwrap_or(""),
                f.evidence
            );
        }
        for n in &notes {
            eprintln!("  note {n}");
        }
        assert!(
            members > 1000,
            "a Debian root filesystem has thousands of gzip files"
        );
        assert!(
            archive_findings
                .iter()
                .all(|f| f.severity < Severity::Medium)
        );
        assert!(notes.is_empty());
    }
}
