//! End-to-end: the real `customs` binary on real image formats built by the test-support
//! crate. Every target form, every flavour, and the exit-code contract.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use customs_test_support::fixtures::{
    self, Compression, EICAR, Entry, ImageSpec, LayerSpec, write_docker_archive_legacy,
    write_docker_archive_oci, write_oci_archive, write_oci_layout, write_oci_multiplatform,
};
use serde_json::Value;

fn customs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_customs"))
        .args(args)
        .env_remove("CUSTOMS_REGISTRY_USERNAME")
        .env_remove("CUSTOMS_REGISTRY_PASSWORD")
        .output()
        .expect("customs runs")
}

/// Runs a JSON scan and returns (exit code, one parsed report per line, stderr).
fn scan_json(args: &[&str]) -> (i32, Vec<Value>, String) {
    let mut all = vec!["scan", "--format", "json"];
    all.extend_from_slice(args);
    let out = customs(&all);
    let stdout = String::from_utf8(out.stdout).expect("utf-8 report");
    let reports = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect();
    (
        out.status.code().expect("exit code"),
        reports,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rules(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

fn finding<'a>(report: &'a Value, rule: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} finding in {report:#}"))
}

fn base_layer() -> LayerSpec {
    LayerSpec::new(vec![
        Entry::dir("etc"),
        Entry::file("etc/os-release", b"ID=fixture\n".to_vec()),
        Entry::dir("app"),
        Entry::file("app/run.sh", b"#!/bin/sh\necho hello\n".to_vec()),
    ])
    .created_by("COPY . /app # buildkit")
}

/// EICAR added in layer 1 and deleted in layer 2: shipped, but gone from the final rootfs.
fn hidden_eicar(c: Compression) -> ImageSpec {
    ImageSpec::new(vec![
        base_layer().compression(c),
        LayerSpec::new(vec![Entry::file("app/eicar.com", EICAR.to_vec())]).compression(c),
        LayerSpec::new(vec![Entry::Whiteout("app/eicar.com".into())]).compression(c),
    ])
    .entrypoint(&["/app/run.sh"])
}

fn clean() -> ImageSpec {
    ImageSpec::new(vec![base_layer()]).cmd(&["/app/run.sh"])
}

fn assert_hidden_eicar(report: &Value) {
    assert_eq!(report["verdict"], "malicious", "{report:#}");
    let layers = report["image"]["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    let f = finding(report, "eicar-test-file");
    assert_eq!(f["path"], "app/eicar.com");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["confidence"], "high");
    assert_eq!(f["attack"][0], "T1204.003");
    assert_eq!(f["layer"], layers[1]["digest"], "added in the second layer");
    assert_eq!(
        f["deleted_in"], layers[2]["digest"],
        "deleted by the third layer"
    );
    assert!(report["coverage"]["files"].as_u64().unwrap() >= 3);
    assert_eq!(report["coverage"]["skipped"].as_array().unwrap().len(), 0);
    assert_eq!(report["errors"].as_array().unwrap().len(), 0);
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn oci_layout_every_compression() {
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let d = tmp();
        write_oci_layout(d.path(), &[("v1", &hidden_eicar(c))]).unwrap();
        let (code, reports, stderr) = scan_json(&[&format!("oci:{}:v1", s(d.path()))]);
        assert_eq!(code, 1, "{c:?}: {stderr}");
        assert_eq!(reports.len(), 1);
        assert_hidden_eicar(&reports[0]);
    }
}

#[test]
fn clean_image_exits_zero_with_config_in_report() {
    let d = tmp();
    write_oci_layout(d.path(), &[("v1", &clean())]).unwrap();
    let (code, reports, stderr) = scan_json(&[&format!("oci:{}", s(d.path()))]);
    assert_eq!(code, 0, "{stderr}");
    let r = &reports[0];
    assert_eq!(r["schema"], "customs.report/v1");
    assert_eq!(r["verdict"], "clean");
    assert_eq!(r["score"], 0);
    assert_eq!(r["image"]["platform"], "linux/amd64");
    assert_eq!(r["image"]["created"], fixtures::CREATED);
    assert_eq!(r["image"]["config"]["cmd"][0], "/app/run.sh");
    assert_eq!(
        r["image"]["layers"][0]["created_by"],
        "COPY . /app # buildkit"
    );
    assert!(
        r["image"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(r["coverage"]["files"], 2);
    assert_eq!(r["coverage"]["bytes"], 11 + 21);
    assert!(
        r["content"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
}

#[test]
fn oci_archive_and_bare_path_sniffing() {
    let d = tmp();
    let archive = d.path().join("image.tar");
    write_oci_archive(&archive, &[("v1", &hidden_eicar(Compression::Gzip))]).unwrap();
    for target in [format!("oci-archive:{}:v1", s(&archive)), s(&archive)] {
        let (code, reports, stderr) = scan_json(&[&target]);
        assert_eq!(code, 1, "{target}: {stderr}");
        assert_hidden_eicar(&reports[0]);
    }
    let layout = d.path().join("layout");
    write_oci_layout(&layout, &[("v1", &hidden_eicar(Compression::Zstd))]).unwrap();
    let (code, reports, _) = scan_json(&[&s(&layout)]);
    assert_eq!(code, 1);
    assert_hidden_eicar(&reports[0]);
}

#[test]
fn docker_archives_both_flavours() {
    let d = tmp();
    let legacy = d.path().join("legacy.tar");
    write_docker_archive_legacy(
        &legacy,
        &["fixture/app:1"],
        &hidden_eicar(Compression::None),
    )
    .unwrap();
    let modern = d.path().join("modern.tar");
    write_docker_archive_oci(
        &modern,
        &["fixture/app:2"],
        &hidden_eicar(Compression::None),
    )
    .unwrap();
    let modern_gz = d.path().join("modern-gz.tar");
    write_docker_archive_oci(
        &modern_gz,
        &["fixture/app:3"],
        &hidden_eicar(Compression::Gzip),
    )
    .unwrap();
    let modern_zst = d.path().join("modern-zst.tar");
    write_docker_archive_oci(
        &modern_zst,
        &["fixture/app:4"],
        &hidden_eicar(Compression::Zstd),
    )
    .unwrap();
    for (path, tag) in [
        (&legacy, "1"),
        (&modern, "2"),
        (&modern_gz, "3"),
        (&modern_zst, "4"),
    ] {
        for target in [format!("docker-archive:{}", s(path)), s(path)] {
            let (code, reports, stderr) = scan_json(&[&target]);
            assert_eq!(code, 1, "{target}: {stderr}");
            assert_hidden_eicar(&reports[0]);
            assert_eq!(reports[0]["image"]["name"], format!("fixture/app:{tag}"));
        }
    }
}

#[test]
fn dir_target_reads_links_as_links() {
    let d = tmp();
    let root = d.path().join("rootfs");
    let outside = d.path().join("outside");
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root.join("app/eicar.com"), EICAR).unwrap();
    std::fs::write(outside.join("eicar.com"), EICAR).unwrap();
    std::fs::write(root.join("app/readme"), b"hello").unwrap();
    // A link out of the root must not be followed: the EICAR file it points at is not
    // part of the image.
    std::os::unix::fs::symlink(outside.join("eicar.com"), root.join("app/link.com")).unwrap();
    std::os::unix::fs::symlink("../../outside/eicar.com", root.join("app/rel.com")).unwrap();
    for target in [format!("dir:{}", s(&root)), s(&root)] {
        let (code, reports, stderr) = scan_json(&[&target]);
        assert_eq!(code, 1, "{stderr}");
        let r = &reports[0];
        let eicars: Vec<&Value> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "eicar-test-file")
            .collect();
        assert_eq!(eicars.len(), 1, "{r:#}");
        assert_eq!(eicars[0]["path"], "app/eicar.com");
        assert_eq!(finding(r, "tar-link-escapes-root")["path"], "app/rel.com");
        assert_eq!(r["coverage"]["files"], 2);
    }
}

fn multi(d: &Path) -> PathBuf {
    let amd = clean();
    let arm = ImageSpec::new(vec![
        base_layer(),
        LayerSpec::new(vec![Entry::file("usr/lib/eicar.so", EICAR.to_vec())])
            .compression(Compression::Zstd),
    ])
    .platform("linux", "arm64", Some("v8"));
    let p = d.join("multi");
    write_oci_multiplatform(&p, "v1", &[&amd, &arm]).unwrap();
    p
}

#[test]
fn multi_platform_choice() {
    let d = tmp();
    let p = multi(d.path());
    let t = format!("oci:{}:v1", s(&p));
    let (code, reports, _) = scan_json(&[&t, "--platform", "linux/amd64"]);
    assert_eq!((code, reports.len()), (0, 1));
    assert_eq!(reports[0]["image"]["platform"], "linux/amd64");

    let (code, reports, _) = scan_json(&[&t, "--platform", "linux/arm64"]);
    assert_eq!((code, reports.len()), (1, 1));
    assert_eq!(reports[0]["image"]["platform"], "linux/arm64/v8");
    assert_eq!(
        finding(&reports[0], "eicar-test-file")["path"],
        "usr/lib/eicar.so"
    );

    // The payload only in a non-default platform is still caught with --platform all.
    let (code, reports, _) = scan_json(&[&t, "--platform", "all"]);
    assert_eq!((code, reports.len()), (1, 2));
    let verdicts: Vec<&str> = reports
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["clean", "malicious"]);

    let (code, reports, _) = scan_json(&[&t, "--platform", "linux/s390x"]);
    assert_eq!(code, 2);
    let err = reports[0]["errors"][0].as_str().unwrap();
    assert!(
        err.contains("linux/arm64/v8") && err.contains("linux/amd64"),
        "{err}"
    );
}

#[test]
fn ambiguous_layout_names_its_tags() {
    let d = tmp();
    write_oci_layout(d.path(), &[("one", &clean()), ("two", &clean())]).unwrap();
    let (code, reports, _) = scan_json(&[&format!("oci:{}", s(d.path()))]);
    assert_eq!(code, 2);
    assert_eq!(reports[0]["verdict"], "error");
    let err = reports[0]["errors"][0].as_str().unwrap();
    assert!(err.contains("one") && err.contains("two"), "{err}");
    let (code, _, _) = scan_json(&[&format!("oci:{}:two", s(d.path()))]);
    assert_eq!(code, 0);
    let (code, reports, _) = scan_json(&[&format!("oci:{}:three", s(d.path()))]);
    assert_eq!(code, 2);
    assert!(reports[0]["errors"][0].as_str().unwrap().contains("three"));
}

#[test]
fn several_targets_one_report_each_worst_exit_code() {
    let d = tmp();
    let a = d.path().join("a");
    let b = d.path().join("b");
    write_oci_layout(&a, &[("v1", &clean())]).unwrap();
    write_oci_layout(&b, &[("v1", &hidden_eicar(Compression::Gzip))]).unwrap();
    let (code, reports, _) = scan_json(&[&s(&a), &s(&b)]);
    assert_eq!((code, reports.len()), (1, 2));
    let (code, reports, _) = scan_json(&[&s(&a), "oci:/nonexistent/layout", &s(&b)]);
    assert_eq!((code, reports.len()), (2, 3));
    assert_eq!(reports[1]["verdict"], "error");
    assert_eq!(reports[1]["image"], Value::Null);
    assert_eq!(
        reports[2]["verdict"], "malicious",
        "one bad target does not stop the run"
    );
}

#[test]
fn fail_on_threshold_and_output_file() {
    let d = tmp();
    write_oci_layout(d.path(), &[("v1", &hidden_eicar(Compression::Gzip))]).unwrap();
    let t = s(d.path());
    let (code, _, _) = scan_json(&[&t, "--fail-on", "critical"]);
    assert_eq!(code, 0, "a high finding passes a critical gate");
    let (code, _, _) = scan_json(&[&t, "--fail-on", "medium"]);
    assert_eq!(code, 1);
    let out = d.path().join("report.json");
    let o = customs(&["scan", "--format", "json", "--output", &s(&out), &t]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        o.stdout.is_empty(),
        "stdout carries nothing when --output is given"
    );
    let r: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(r["verdict"], "malicious");
    let o = customs(&["scan", "--fail-on", "severe", &t]);
    assert_eq!(o.status.code(), Some(2), "bad flag value is an error");
}

#[test]
fn name_override_and_offline() {
    let d = tmp();
    write_oci_layout(d.path(), &[("v1", &clean())]).unwrap();
    let (code, reports, _) = scan_json(&[&s(d.path()), "--name", "docker.io/library/nginx:1.27"]);
    assert_eq!(code, 0);
    assert_eq!(reports[0]["image"]["name"], "docker.io/library/nginx:1.27");
    let (code, reports, _) = scan_json(&["--offline", "nginx:1.27"]);
    assert_eq!(code, 2);
    assert!(
        reports[0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("--offline")
    );
}

#[test]
fn table_is_default_and_stdout_only_has_the_report() {
    let d = tmp();
    write_oci_layout(d.path(), &[("v1", &hidden_eicar(Compression::Gzip))]).unwrap();
    let o = customs(&["scan", &s(d.path())]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("eicar-test-file"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    assert!(
        o.stderr.is_empty(),
        "no progress when stderr is not a terminal: {:?}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn demo_runs_offline_and_passes() {
    let d = tmp();
    let o = customs(&["demo", "--keep", &s(d.path())]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("eicar-test-file"), "{text}");
    // The cryptojacking sample is caught by its configuration, its persistence and its
    // start command, each by its own rule.
    let (code, reports, _) = scan_json(&[&s(&d.path().join("miner"))]);
    assert_eq!(code, 1);
    for rule in [
        "miner-config-xmrig-json",
        "persistence-cron",
        "config-download-exec",
    ] {
        finding(&reports[0], rule);
    }
    // What it kept can be scanned again by hand.
    let (code, reports, _) = scan_json(&[&s(&d.path().join("eicar"))]);
    assert_eq!(code, 1);
    assert_eq!(
        finding(&reports[0], "eicar-test-file")["path"],
        "app/eicar.com"
    );
}

#[test]
fn long_pax_names_are_read_whole() {
    let d = tmp();
    let deep = format!("opt/{}/eicar.com", "a-very-long-directory-name".repeat(12));
    let img = ImageSpec::new(vec![LayerSpec::new(vec![Entry::file(
        deep.clone(),
        EICAR.to_vec(),
    )])]);
    write_oci_layout(d.path(), &[("v1", &img)]).unwrap();
    let (code, reports, _) = scan_json(&[&s(d.path())]);
    assert_eq!(code, 1);
    assert_eq!(
        finding(&reports[0], "eicar-test-file")["path"],
        deep.as_str()
    );
}

#[test]
fn near_miss_eicar_is_clean() {
    let d = tmp();
    let quoted = [b"The test string is: ".as_slice(), EICAR].concat();
    let img = ImageSpec::new(vec![LayerSpec::new(vec![Entry::file(
        "doc/av.txt",
        quoted,
    )])]);
    write_oci_layout(d.path(), &[("v1", &img)]).unwrap();
    let (code, reports, _) = scan_json(&[&s(d.path())]);
    assert_eq!(code, 0);
    assert!(rules(&reports[0]).is_empty());
}
