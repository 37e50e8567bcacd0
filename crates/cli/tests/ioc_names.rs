//! Known malicious image names through the real binary: an image saved under a repository
//! that public reports name as malicious fails the gate however clean its files are.

use std::process::Command;

use customs_test_support::fixtures::{Entry, ImageSpec, LayerSpec, write_docker_archive_legacy};
use serde_json::Value;

fn scan(archive: &std::path::Path) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_customs"))
        .args(["scan", "--format", "json", "--no-cache"])
        .arg(format!("docker-archive:{}", archive.display()))
        .output()
        .expect("customs runs");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

#[test]
fn reported_repository_names_fail_the_gate() {
    let spec = ImageSpec::new(vec![LayerSpec::new(vec![
        Entry::dir("etc"),
        Entry::file("etc/os-release", "ID=fixture\n"),
    ])]);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.tar");
    let good = dir.path().join("good.tar");
    write_docker_archive_legacy(&bad, &["pocosow/centos:7.6.1810"], &spec).unwrap();
    write_docker_archive_legacy(&good, &["centos:7.6.1810"], &spec).unwrap();

    let (code, r) = scan(&bad);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "malicious", "{r:#}");
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "ioc-known-malicious-image-name")
        .unwrap_or_else(|| panic!("no name finding in {r:#}"));
    assert_eq!(f["severity"], "critical");
    assert!(f["evidence"].as_str().unwrap().contains("unit42"), "{f:#}");

    let (code, r) = scan(&good);
    assert_eq!(code, 0, "{r:#}");
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] != "ioc-known-malicious-image-name"),
        "{r:#}"
    );
}
