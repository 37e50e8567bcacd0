//! Bad and hostile input through the real binary: each gives a clear error or a coverage
//! note and a non-zero exit; none panics, none reports clean.

use std::path::Path;
use std::process::{Command, Output};

use customs_test_support::fixtures::{EICAR, Entry, ImageSpec, LayerSpec, write_oci_layout};
use serde_json::Value;

fn scan(args: &[&str]) -> (i32, Vec<Value>, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_customs"))
        .arg("scan")
        .arg("--format")
        .arg("json")
        .args(args)
        .output()
        .expect("customs runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "customs panicked: {stderr}");
    let reports = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap(), reports, stderr)
}

fn error_of(r: &[Value]) -> String {
    assert_eq!(r[0]["verdict"], "error", "{:#}", r[0]);
    r[0]["errors"][0].as_str().unwrap().to_string()
}

fn blob_path(layout: &Path, digest: &str) -> std::path::PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

fn one_layer(entries: Vec<Entry>) -> ImageSpec {
    ImageSpec::new(vec![LayerSpec::new(entries)])
}

#[test]
fn tampered_layer_blob_fails_closed() {
    let d = tempfile::tempdir().unwrap();
    let info = write_oci_layout(
        d.path(),
        &[("v1", &one_layer(vec![Entry::file("a", vec![b'x'; 10_000])]))],
    )
    .unwrap();
    let p = blob_path(d.path(), &info.layer_digests[0][0]);
    let mut b = std::fs::read(&p).unwrap();
    let n = b.len();
    b[n - 9] ^= 0x01; // inside the gzip trailer: the tar still reads, only the digest says no
    std::fs::write(&p, b).unwrap();
    let (code, r, _) = scan(&[&d.path().display().to_string()]);
    assert_eq!(code, 2);
    let e = error_of(&r);
    assert!(e.contains("digest mismatch") || e.contains("crc"), "{e}");
}

#[test]
fn missing_blob_and_bad_json_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let info = write_oci_layout(
        d.path(),
        &[("v1", &one_layer(vec![Entry::file("a", b"a".to_vec())]))],
    )
    .unwrap();
    std::fs::remove_file(blob_path(d.path(), &info.layer_digests[0][0])).unwrap();
    let (code, r, _) = scan(&[&d.path().display().to_string()]);
    assert_eq!(code, 2);
    assert!(error_of(&r).contains("not found"), "{}", error_of(&r));

    std::fs::write(d.path().join("index.json"), b"{\"manifests\": [").unwrap();
    let (code, r, _) = scan(&[&d.path().display().to_string()]);
    assert_eq!(code, 2);
    assert!(error_of(&r).contains("not valid JSON"), "{}", error_of(&r));

    std::fs::write(
        d.path().join("index.json"),
        br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../../etc/passwd","size":1}]}"#,
    )
    .unwrap();
    let (code, r, _) = scan(&[&d.path().display().to_string()]);
    assert_eq!(code, 2);
    assert!(
        error_of(&r).contains("not lowercase hex"),
        "{}",
        error_of(&r)
    );
}

#[test]
fn blob_that_is_a_symlink_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let info = write_oci_layout(
        d.path(),
        &[("v1", &one_layer(vec![Entry::file("a", b"a".to_vec())]))],
    )
    .unwrap();
    let p = blob_path(d.path(), &info.config_digests[0]);
    let real = d.path().join("elsewhere");
    std::fs::rename(&p, &real).unwrap();
    std::os::unix::fs::symlink(&real, &p).unwrap();
    let (code, r, _) = scan(&[&d.path().display().to_string()]);
    assert_eq!(code, 2);
    assert!(
        error_of(&r).contains("not a regular file"),
        "{}",
        error_of(&r)
    );
}

#[test]
fn garbage_files_are_not_images() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("random.bin");
    std::fs::write(&f, vec![0x5au8; 4096]).unwrap();
    let (code, r, _) = scan(&[&f.display().to_string()]);
    assert_eq!(code, 2);
    assert!(error_of(&r).contains("neither"), "{}", error_of(&r));
    let q = d.path().join("disk.qcow2");
    std::fs::write(&q, b"QFI\xfb\0\0\0\x03rest").unwrap();
    let (code, r, _) = scan(&[&q.display().to_string()]);
    assert_eq!(code, 2);
    assert!(error_of(&r).contains("qcow2"), "{}", error_of(&r));
    let (code, r, _) = scan(&["docker-archive:/nonexistent.tar"]);
    assert_eq!(code, 2);
    assert!(
        error_of(&r).contains("/nonexistent.tar"),
        "{}",
        error_of(&r)
    );
}

#[test]
fn hostile_tar_entries_become_findings() {
    let d = tempfile::tempdir().unwrap();
    let img = one_layer(vec![
        Entry::RawName {
            name: b"../../../../tmp/customs-hostile-e2e".to_vec(),
            data: EICAR.to_vec(),
        },
        Entry::RawSymlink {
            name: b"app/shadow".to_vec(),
            target: b"../../../etc/shadow".to_vec(),
        },
        Entry::CharDevice {
            path: "usr/share/sda".into(),
            major: 8,
            minor: 0,
        },
        Entry::CharDevice {
            path: "dev/null".into(),
            major: 1,
            minor: 3,
        },
    ]);
    write_oci_layout(d.path(), &[("v1", &img)]).unwrap();
    let (code, r, _) = scan(&[&d.path().display().to_string()]);
    assert_eq!(code, 1);
    let rules: Vec<(&str, &str, &str)> = r[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap(),
                f["path"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        rules.contains(&("tar-path-traversal", "tmp/customs-hostile-e2e", "high")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("eicar-test-file", "tmp/customs-hostile-e2e", "high")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("tar-link-escapes-root", "app/shadow", "medium")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("tar-device-node", "usr/share/sda", "medium")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("tar-device-node-dev", "dev/null", "info")),
        "{rules:?}"
    );
    assert!(!Path::new("/tmp/customs-hostile-e2e").exists());
}

#[test]
fn limits_make_the_scan_incomplete_unless_allowed() {
    let d = tempfile::tempdir().unwrap();
    let img = one_layer(vec![
        Entry::file("big", vec![0u8; 2 << 20]),
        Entry::file("app/eicar.com", EICAR.to_vec()),
    ]);
    write_oci_layout(d.path(), &[("v1", &img)]).unwrap();
    let t = d.path().display().to_string();
    let (code, r, _) = scan(&[&t, "--max-file-size", "1000000"]);
    assert_eq!(code, 2, "a limit that stops reading fails closed");
    assert_eq!(r[0]["verdict"], "error");
    let skipped = &r[0]["coverage"]["skipped"][0];
    assert_eq!(skipped["path"], "big");
    assert!(skipped["layer"].as_str().unwrap().starts_with("sha256:"));
    let (code, r, _) = scan(&[&t, "--max-file-size", "1000000", "--allow-incomplete"]);
    assert_eq!(code, 1, "the EICAR file after the big one is still found");
    assert_eq!(r[0]["verdict"], "malicious");
    let (code, r, _) = scan(&[&t, "--max-layer-size", "100000"]);
    assert_eq!(code, 2);
    assert!(
        r[0]["coverage"]["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("larger than")
    );
}
