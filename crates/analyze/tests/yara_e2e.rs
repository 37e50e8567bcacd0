//! The `yara` analyzer end to end: a fixture image scanned by `scan_image` with the real
//! analyzer list, a user rule added the way `--rules DIR` adds it.

use customs_analyze::{Analyzers, ScanOptions, scan_image};
use customs_content::Bundle;
use customs_core::Severity;
use customs_image::walk::NoProgress;
use customs_image::{Image, OpenOptions, Target, open};
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

/// The shipped analyzers with [`RULE`] added the way `--rules DIR` adds it.
fn with_marker_rule() -> Analyzers {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("mine.yar"), RULE).unwrap();
    let bundle = Bundle::embedded()
        .unwrap()
        .with_user_dir(rules.path())
        .unwrap();
    Analyzers::from_bundle(&bundle).unwrap()
}

/// `spec` written as an OCI layout and opened: the directory (keep it while scanning), the
/// image and its layer digests.
fn image_of(spec: &ImageSpec) -> (tempfile::TempDir, Image, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let info = write_oci_layout(dir.path(), &[("v1", spec)]).unwrap();
    let target: Target = format!("oci:{}", dir.path().display()).parse().unwrap();
    let image = open(&target, &OpenOptions::default()).unwrap().remove(0);
    (dir, image, info.layer_digests[0].clone())
}

#[test]
fn rules_see_shared_objects_and_files_deleted_later() {
    let analyzers = with_marker_rule();
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
    let (_dir, image, layers) = image_of(&spec);
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

/// A layer that writes the same bytes again (what `RUN chown -R` does to every file it
/// touches) and a copy under another path: the analyzer scans the content once and reuses
/// its matches, and each copy is still a finding of its own, in its own layer.
#[test]
fn copies_of_a_file_are_each_reported_in_their_layer() {
    let analyzers = with_marker_rule();
    // Large enough to be remembered by content.
    let mut so = b"\x7fELF\x02\x01\x01".to_vec();
    so.resize(64 << 10, 0);
    so[40_000..40_022].copy_from_slice(b"zq-customs-yara-marker");
    let spec = ImageSpec::new(vec![
        LayerSpec::new(vec![
            Entry::dir("usr"),
            Entry::dir("usr/lib"),
            Entry::exec("usr/lib/x.so", so.clone()),
        ]),
        LayerSpec::new(vec![
            Entry::dir("usr"),
            Entry::dir("usr/lib"),
            Entry::exec("usr/lib/x.so", so.clone()),
            Entry::dir("opt"),
            Entry::exec("opt/copy.so", so),
        ]),
    ]);
    let (_dir, image, layers) = image_of(&spec);
    for jobs in [1, 2] {
        let opts = ScanOptions {
            jobs,
            ..ScanOptions::default()
        };
        let outcome = scan_image(&image, &analyzers, &opts, &NoProgress);
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        let mut hits: Vec<(&str, &str, &str)> = outcome
            .findings
            .iter()
            .filter(|f| f.rule == "zq-test-marker")
            .map(|f| {
                (
                    f.layer.as_deref().unwrap(),
                    f.path.as_deref().unwrap(),
                    f.evidence.as_str(),
                )
            })
            .collect();
        hits.sort();
        let evidence = "rule Zq_Marker: $m at 0x9c40 \"zq-customs-yara-marker\"";
        let mut want = vec![
            (layers[0].as_str(), "usr/lib/x.so", evidence),
            (layers[1].as_str(), "opt/copy.so", evidence),
            (layers[1].as_str(), "usr/lib/x.so", evidence),
        ];
        want.sort();
        assert_eq!(hits, want, "jobs {jobs}");
    }
}

/// Layers are read on threads of their own (and `jobs` at a time); the result must not
/// depend on how many run at once. Every rule sample of `tests/rules/` (matches and near
/// misses) is spread over four layers, some deleted again in a later one, and the image is
/// scanned with 1 and with 4 jobs.
#[test]
fn findings_do_not_depend_on_the_number_of_jobs() {
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules");
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for rule in std::fs::read_dir(&samples).unwrap() {
        for kind in ["match", "nomatch"] {
            if let Ok(dir) = std::fs::read_dir(rule.as_ref().unwrap().path().join(kind)) {
                files.extend(dir.map(|e| e.unwrap().path()));
            }
        }
    }
    files.sort();
    assert!(files.len() > 60, "only {} samples", files.len());
    let mut layers: Vec<Vec<Entry>> = vec![vec![Entry::dir("srv")]; 4];
    for (i, f) in files.iter().enumerate() {
        let rel = f.strip_prefix(&samples).unwrap().display().to_string();
        let name = format!("srv/{}", rel.replace('/', "_"));
        layers[i % 3].push(Entry::exec(&name, std::fs::read(f).unwrap()));
        if i % 7 == 0 {
            layers[3].push(Entry::Whiteout(name));
        }
    }
    let spec = ImageSpec::new(layers.into_iter().map(LayerSpec::new).collect());
    let (_dir, image, _) = image_of(&spec);
    let analyzers = Analyzers::from_bundle(&Bundle::embedded().unwrap()).unwrap();
    let scan = |jobs| {
        let opts = ScanOptions {
            jobs,
            ..ScanOptions::default()
        };
        let o = scan_image(&image, &analyzers, &opts, &NoProgress);
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        (
            format!("{:?}", o.findings),
            o.coverage.files,
            o.coverage.bytes,
        )
    };
    let one = scan(1);
    assert!(
        one.0.contains("toolkit-kinsing"),
        "the samples were not scanned"
    );
    assert!(
        one.0.contains("deleted_in: Some"),
        "no finding was deleted later"
    );
    assert_eq!(one.1 as usize, files.len());
    assert_eq!(scan(4), one);
    assert_eq!(scan(4), one);
}
