//! Every detection family end to end, through the real binary and real image formats:
//!
//! - one image per YARA rule, carrying that rule's own match sample and its near miss
//!   (`crates/analyze/tests/rules/<id>/{match,nomatch}/`): the rule must fire on the sample's
//!   path and not on the near miss's;
//! - the real XMRig binary (Debian trixie's `xmrig`, fetched by
//!   `tools/fetch-test-binaries.sh`, never run) hidden the ways attackers hide it: deleted by a
//!   later layer, inside a tar.gz inside the image, in a zstd layer, renamed to a shared
//!   object under `/usr/lib`, and inside a zip; each must still give verdict `malicious`
//!   with the finding's layer, `deleted_in` and inner path right;
//! - the same images without the binary are clean.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use customs_test_support::fixtures::{Compression, Entry, ImageSpec, LayerSpec, write_oci_layout};
use customs_test_support::real_inputs::{fetched_binary, workspace_root};
use serde_json::Value;

/// Scans one image with every analyzer and all shipped content; (exit code, report).
fn scan(layout: &Path) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_customs"))
        .args([
            "scan",
            "--quiet",
            "--no-cache",
            "--no-ignore",
            "--format",
            "json",
        ])
        .arg(format!("oci:{}", layout.display()))
        .output()
        .expect("customs runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    (out.status.code().unwrap(), report)
}

fn image(dir: &Path, name: &str, layers: Vec<LayerSpec>) -> PathBuf {
    let p = dir.join(name);
    write_oci_layout(&p, &[("latest", &ImageSpec::new(layers))]).unwrap();
    p
}

fn findings<'a>(r: &'a Value, rule: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// A sample placed where such files live; ELF files and scripts get an exec bit.
fn entry(path: String, bytes: Vec<u8>) -> Entry {
    if bytes.starts_with(b"\x7fELF") || bytes.starts_with(b"#!") {
        Entry::exec(path, bytes)
    } else {
        Entry::file(path, bytes)
    }
}

#[test]
fn every_content_rule_fires_on_its_sample_inside_an_image_and_not_on_its_near_miss() {
    let rules = workspace_root().join("crates/analyze/tests/rules");
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    // The Mirai credential table is found by a code analyzer, with its samples kept apart.
    let mirai = (
        "toolkit-mirai".to_string(),
        workspace_root().join("crates/analyze/tests/mirai"),
    );
    let dirs = files_in(&rules).into_iter().map(|d| {
        let id = d.file_name().unwrap().to_str().unwrap().to_string();
        (id, d)
    });
    for (id, rule_dir) in dirs.chain([mirai]) {
        let sample = &files_in(&rule_dir.join("match"))[0];
        let near = &files_in(&rule_dir.join("nomatch"))[0];
        let name = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_string();
        let (bad, good) = (
            format!("opt/app/bad/{}", name(sample)),
            format!("opt/app/good/{}", name(near)),
        );
        let layout = image(
            dir.path(),
            &id,
            vec![LayerSpec::new(vec![
                Entry::dir("opt"),
                Entry::dir("opt/app"),
                Entry::dir("opt/app/bad"),
                Entry::dir("opt/app/good"),
                entry(bad.clone(), std::fs::read(sample).unwrap()),
                entry(good.clone(), std::fs::read(near).unwrap()),
            ])],
        );
        let (_, r) = scan(&layout);
        let hits: Vec<&str> = findings(&r, &id)
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(hits, [bad.as_str()], "{id}: {:#}", r["findings"]);
        let f = findings(&r, &id)[0];
        assert!(f["layer"].as_str().unwrap().starts_with("sha256:"), "{id}");
        assert!(!f["attack"].as_array().unwrap().is_empty(), "{id}");
        assert!(!f["evidence"].as_str().unwrap().is_empty(), "{id}");
        checked += 1;
    }
    assert!(checked >= 41, "only {checked} rules have samples");
}

fn tar_gz(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in members {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn base() -> LayerSpec {
    LayerSpec::new(vec![
        Entry::dir("usr"),
        Entry::dir("usr/lib"),
        Entry::dir("usr/lib/x86_64-linux-gnu"),
        Entry::dir("opt"),
        Entry::file("etc/hostname", "app\n"),
    ])
}

#[test]
fn the_real_xmrig_is_found_however_it_is_hidden() {
    let Some(xmrig) = fetched_binary("xmrig") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<LayerSpec>, &str, bool)> = vec![
        (
            "deleted-later",
            vec![
                base(),
                LayerSpec::new(vec![Entry::exec("opt/xmrig", xmrig.clone())]),
                LayerSpec::new(vec![Entry::Whiteout("opt/xmrig".into())]),
            ],
            "opt/xmrig",
            true,
        ),
        (
            "nested-tgz",
            vec![
                base(),
                LayerSpec::new(vec![Entry::file(
                    "opt/tools.tar.gz",
                    tar_gz(&[("bin/sysupdate", &xmrig)]),
                )]),
            ],
            "opt/tools.tar.gz!/bin/sysupdate",
            false,
        ),
        (
            "nested-zip",
            vec![
                base(),
                LayerSpec::new(vec![Entry::file(
                    "opt/plugin.jar",
                    zip(&[("native/libminer.so", &xmrig)]),
                )]),
            ],
            "opt/plugin.jar!/native/libminer.so",
            false,
        ),
        (
            "zstd-layer",
            vec![
                base(),
                LayerSpec::new(vec![Entry::exec("opt/kworker", xmrig.clone())])
                    .compression(Compression::Zstd),
            ],
            "opt/kworker",
            false,
        ),
        (
            "usr-lib-so",
            vec![
                base(),
                LayerSpec::new(vec![Entry::file(
                    "usr/lib/x86_64-linux-gnu/libsystemd-helper.so.0",
                    xmrig.clone(),
                )]),
            ],
            "usr/lib/x86_64-linux-gnu/libsystemd-helper.so.0",
            false,
        ),
    ];
    for (name, layers, path, deleted) in cases {
        let layout = image(dir.path(), name, layers);
        let (code, r) = scan(&layout);
        assert_eq!(
            (code, r["verdict"].as_str()),
            (1, Some("malicious")),
            "{name}"
        );
        let hits = findings(&r, "miner-xmrig");
        let f = hits
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{name}: no miner-xmrig at {path}: {:#}", r["findings"]));
        let layers = r["image"]["layers"].as_array().unwrap();
        assert_eq!(
            f["layer"], layers[1]["digest"],
            "{name}: the layer that added it"
        );
        if deleted {
            assert_eq!(f["deleted_in"], layers[2]["digest"], "{name}");
        } else {
            assert!(f["deleted_in"].is_null(), "{name}");
        }
    }

    // The control: the same image shapes without the binary are clean.
    let layout = image(
        dir.path(),
        "control",
        vec![
            base(),
            LayerSpec::new(vec![Entry::file(
                "opt/tools.tar.gz",
                tar_gz(&[("bin/sysupdate", b"#!/bin/sh\necho update\n")]),
            )])
            .compression(Compression::Zstd),
        ],
    );
    let (code, r) = scan(&layout);
    assert_eq!((code, r["verdict"].as_str()), (0, Some("clean")), "{:#}", r);
}
