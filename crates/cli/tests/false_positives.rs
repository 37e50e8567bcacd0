//! False positives on real, clean Debian root filesystems built from Debian's packages by
//! `tools/make-clean-rootfs.sh` (CI runs it): every analyzer and all shipped content, through
//! the real binary. A clean image must get verdict `clean` with no finding at medium or above.
//!
//! The roots come from `customs_test_support::real_inputs::clean_roots` (`target/fp/{minbase,services}`,
//! or `CUSTOMS_FP_ROOTFS`); a missing one fails the test with the command that builds it.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn check(root: &Path) {
    let name = root.display();
    let out = Command::new(env!("CARGO_BIN_EXE_customs"))
        .args(["scan", "--format", "json", "--quiet"])
        .arg(format!("dir:{}", root.display()))
        .output()
        .expect("customs runs");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let r: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    let files = r["coverage"]["files"].as_u64().unwrap();
    let findings = r["findings"].as_array().unwrap();
    let scored: Vec<&Value> = findings
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    let serious: Vec<String> = findings
        .iter()
        .filter(|f| ["medium", "high", "critical"].contains(&f["severity"].as_str().unwrap()))
        .map(|f| {
            format!(
                "{} {} {} {}",
                f["severity"], f["rule"], f["path"], f["evidence"]
            )
        })
        .collect();
    eprintln!(
        "{name}: {files} files, {} findings above info = {:.2} per 10,000 files; {} at medium+; verdict {}",
        scored.len(),
        scored.len() as f64 * 10_000.0 / files.max(1) as f64,
        serious.len(),
        r["verdict"]
    );
    for f in &scored {
        eprintln!(
            "  {} {} {} {}",
            f["severity"], f["rule"], f["path"], f["evidence"]
        );
    }
    assert!(
        files > 1000,
        "{name}: only {files} files read: {:#}",
        r["coverage"]
    );
    assert!(
        serious.is_empty(),
        "{name}: false positives at medium+:\n{}",
        serious.join("\n")
    );
    assert_eq!(r["verdict"], "clean", "{name}: {:#}", r["errors"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn clean_debian_roots_are_clean() {
    for root in customs_test_support::real_inputs::clean_roots() {
        check(&root);
    }
}
