//! The `yara` analyzer end to end: a fixture image scanned by `scan_image` with the real
//! analyzer list, a user rule added the way `--rules DIR` adds it.

use customs_analyze::{Analyzers, ScanOptions, scan_image};
use customs_content::Bundle;
use customs_core::Severity;
use customs_image::walk::NoProgress;
use customs_image::{OpenOptions, Target, open};
use customs_test_support::fixtures::{Entry, ImageSpec, LayerSpec, write_oci_layout};

const RULE: &str = r#"
rule Zq_Marker {
  meta:
    id = "zq-test-marker"
    severity = "high"
    confidence = "high"
    attack = "T1204.003, T1496"
  strings:
    $m = "zq-customs-yara-marker"
  condition:
    $m
}
"#;

#[test]
fn rules_see_shared_objects_and_files_deleted_later() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("mine.yar"), RULE).unwrap();
    let bundle = Bundle::embedded()
        .unwrap()
        .with_user_dir(rules.path())
        .unwrap();
    let analyzers = Analyzers::from_bundle(&bundle).unwrap();
    assert!(analyzers.versions().contains(&"yara@1".to_string()));

    let so = [
        b"\x7fELF\x02\x01\x01".as_slice(),
        &[0; 64],
        b"zq-customs-yara-marker\0",
    ]
    .concat();
    let spec = ImageSpec::new(vec![
        LayerSpec::new(vec![
            Entry::dir("usr"),
            Entry::dir("usr/lib"),
            Entry::exec("usr/lib/x.so", so),
            Entry::dir("tmp"),
            Entry::file("tmp/payload", "prefix zq-customs-yara-marker suffix"),
            // The near miss: one character off, in the same layer.
            Entry::file("tmp/near", "prefix zq-customs-yara-markex suffix"),
        ]),
        LayerSpec::new(vec![Entry::Whiteout("tmp/payload".into())]),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let info = write_oci_layout(dir.path(), &[("v1", &spec)]).unwrap();
    let target: Target = format!("oci:{}", dir.path().display()).parse().unwrap();
    let image = open(&target, &OpenOptions::default()).unwrap().remove(0);
    let outcome = scan_image(&image, &analyzers, &ScanOptions::default(), &NoProgress);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);

    let mut hits: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.rule == "zq-test-marker")
        .collect();
    hits.sort_by_key(|f| f.path.clone());
    let paths: Vec<_> = hits.iter().map(|f| f.path.as_deref().unwrap()).collect();
    assert_eq!(paths, ["tmp/payload", "usr/lib/x.so"]);
    let layers = &info.layer_digests[0];
    for f in &hits {
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.attack, ["T1204.003", "T1496"]);
        assert_eq!(f.layer.as_deref(), Some(layers[0].as_str()));
    }
    assert_eq!(hits[0].deleted_in.as_deref(), Some(layers[1].as_str()));
    assert_eq!(hits[1].deleted_in, None);
    assert_eq!(
        hits[1].evidence,
        "rule Zq_Marker: $m at 0x47 \"zq-customs-yara-marker\""
    );
    assert!(
        !outcome
            .findings
            .iter()
            .any(|f| f.rule.starts_with("yara-scan")),
        "{:?}",
        outcome.findings
    );
}
