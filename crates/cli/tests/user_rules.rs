//! `--rules DIR` through the real binary: a user's YARA rule is compiled beside ours, fires,
//! and the report says the content was extended.

use std::process::{Command, Output};

use customs_test_support::fixtures::{Entry, ImageSpec, LayerSpec, write_oci_layout};
use serde_json::Value;

fn customs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_customs"))
        .args(args)
        .output()
        .expect("customs runs")
}

fn image(dir: &std::path::Path) -> String {
    let spec = ImageSpec::new(vec![LayerSpec::new(vec![
        Entry::dir("opt"),
        Entry::file("opt/tool.bin", "header zq-user-rule-marker trailer"),
    ])]);
    write_oci_layout(dir, &[("v1", &spec)]).unwrap();
    format!("oci:{}", dir.display())
}

fn report(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "bad report ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn rule_ids(report: &Value) -> Vec<&str> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

#[test]
fn a_user_rule_fires_and_marks_the_content_version() {
    let img = tempfile::tempdir().unwrap();
    let target = image(img.path());
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(
        rules.path().join("mine.yar"),
        "rule Zq_User_Marker { strings: $m = \"zq-user-rule-marker\" condition: $m }",
    )
    .unwrap();

    let without = customs(&["scan", "--format", "json", &target]);
    let without = report(&without);
    assert!(!rule_ids(&without).contains(&"yara-user-zq-user-marker"));
    assert!(
        !without["content"]["version"]
            .as_str()
            .unwrap()
            .ends_with("+user")
    );

    let dir = rules.path().display().to_string();
    let out = customs(&["scan", "--format", "json", "--rules", &dir, &target]);
    let with = report(&out);
    assert!(
        with["content"]["version"]
            .as_str()
            .unwrap()
            .ends_with("+user")
    );
    assert_ne!(with["content"]["digest"], without["content"]["digest"]);
    let f = with["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "yara-user-zq-user-marker")
        .unwrap_or_else(|| panic!("no user finding: {with}"));
    assert_eq!(f["path"], "opt/tool.bin");
    assert_eq!(f["severity"], "medium");
    assert_eq!(f["attack"], serde_json::json!(["T1204.003"]));
    assert_eq!(with["verdict"], "suspicious");
    // Default gate is `high`: a medium user finding does not fail it.
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_broken_user_rule_stops_the_scan_naming_the_file() {
    let img = tempfile::tempdir().unwrap();
    let target = image(img.path());
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("broken.yar"), "rule x { condition: }\n").unwrap();
    let dir = rules.path().display().to_string();
    let out = customs(&["scan", "--format", "json", "--rules", &dir, &target]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("user/0/broken.yar"), "{stderr}");
    assert!(out.stdout.is_empty());
}
