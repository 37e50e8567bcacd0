//! Data-driven tests of the YARA rules in `content/yara/`.
//!
//! Every rule id in the embedded bundle has a directory `tests/rules/<id>/` with samples under
//! `match/` (each must produce that rule id) and `nomatch/` (near misses that must not). Real
//! binaries: the XMRig executable from Debian's `xmrig` package, fetched by
//! `tools/fetch-test-binaries.sh` (never committed, never run), and the system's busybox.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use customs_content::Bundle;
use customs_content::yara::{YaraMatch, YaraRules};

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn compiled() -> YaraRules {
    YaraRules::compile(&Bundle::embedded().expect("embedded bundle")).expect("our rules compile")
}

/// Rule ids declared in the bundle's own YARA files (`id = "…"` in `meta:`), read from the
/// text so this list does not depend on the engine under test.
fn declared_ids() -> BTreeSet<String> {
    let bundle = Bundle::embedded().unwrap();
    let mut ids = BTreeSet::new();
    for (path, bytes) in bundle.files("yara/", &[".yar", ".yara"]) {
        let text = std::str::from_utf8(bytes).unwrap_or_else(|_| panic!("{path} is not UTF-8"));
        for line in text.lines() {
            let Some(rest) = line.trim().strip_prefix("id = \"") else {
                continue;
            };
            let id = rest
                .strip_suffix('"')
                .unwrap_or_else(|| panic!("{path}: odd id line {line}"));
            assert!(
                ids.insert(id.to_string()),
                "{path}: rule id {id} is declared twice"
            );
        }
    }
    assert!(!ids.is_empty(), "no rule ids found in the bundle");
    ids
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn rule_ids(matches: &[YaraMatch]) -> BTreeSet<&str> {
    matches.iter().map(|m| m.rule.as_str()).collect()
}

fn scan(rules: &YaraRules, bytes: &[u8], what: &Path) -> Vec<YaraMatch> {
    rules
        .scanner()
        .scan(bytes)
        .unwrap_or_else(|e| panic!("scanning {}: {e}", what.display()))
}

#[test]
fn every_rule_has_a_match_and_a_nomatch_sample() {
    let ids = declared_ids();
    let mut missing = Vec::new();
    for id in &ids {
        for kind in ["match", "nomatch"] {
            if files_in(&samples_dir().join(id).join(kind)).is_empty() {
                missing.push(format!("{id}/{kind}"));
            }
        }
    }
    let mut unknown = Vec::new();
    for entry in std::fs::read_dir(samples_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !ids.contains(&name) {
            unknown.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "rules without samples (add files under crates/analyze/tests/rules/<id>/match and nomatch): {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "sample directories for rule ids the bundle does not declare: {unknown:?}"
    );
}

#[test]
fn samples_match_their_rule_and_near_misses_do_not() {
    let rules = compiled();
    let mut failures = Vec::new();
    let mut checked = 0;
    for id in declared_ids() {
        for (kind, want) in [("match", true), ("nomatch", false)] {
            for file in files_in(&samples_dir().join(&id).join(kind)) {
                let matches = scan(&rules, &std::fs::read(&file).unwrap(), &file);
                let got = rule_ids(&matches);
                checked += 1;
                if got.contains(id.as_str()) != want {
                    failures.push(format!("{kind}/{}: got {got:?}", file.display()));
                }
                // Evidence must show what matched, not only that the condition held.
                if let Some(m) = matches
                    .iter()
                    .find(|m| m.rule == id && !m.evidence.contains(" at 0x"))
                {
                    failures.push(format!(
                        "{}: no matched text in {:?}",
                        file.display(),
                        m.evidence
                    ));
                }
            }
        }
    }
    assert!(checked > 0);
    assert!(
        failures.is_empty(),
        "{} of {checked} samples wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_rule_is_documented_with_its_severity_and_confidence() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/detection.md")).unwrap();
    let rules = compiled();
    // Scan one sample per rule to read the metadata the engine reports for it.
    let mut undocumented = Vec::new();
    for id in declared_ids() {
        let file = &files_in(&samples_dir().join(&id).join("match"))[0];
        let matches = scan(&rules, &std::fs::read(file).unwrap(), file);
        let m = matches
            .iter()
            .find(|m| m.rule == id)
            .expect("match sample matches");
        let row = format!("| `{id}` | {} | {} |", m.severity, m.confidence);
        if !doc.contains(&row) {
            undocumented.push(row);
        }
    }
    assert!(
        undocumented.is_empty(),
        "docs/detection.md lacks these rows (or states another severity/confidence): {undocumented:?}"
    );
}

fn fetched_xmrig() -> Option<Vec<u8>> {
    customs_test_support::real_inputs::fetched_binary("xmrig")
}

/// Every occurrence of "xmrig" in any case replaced by a same-length word, as a renamed fork
/// with its name patched out would look.
fn without_its_name(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i + 5 <= out.len() {
        if out[i..i + 5].eq_ignore_ascii_case(b"xmrig") {
            out[i..i + 5].copy_from_slice(b"sysup");
            i += 5;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn the_real_xmrig_binary_matches_even_with_its_name_patched_out() {
    let Some(xmrig) = fetched_xmrig() else { return };
    assert_eq!(
        &xmrig[..4],
        b"\x7fELF",
        "target/test-binaries/xmrig is not an ELF file"
    );
    let rules = compiled();
    let path = Path::new("target/test-binaries/xmrig");
    let original = scan(&rules, &xmrig, path);
    assert!(
        rule_ids(&original).contains("miner-xmrig"),
        "{:?}",
        rule_ids(&original)
    );

    let patched = without_its_name(&xmrig);
    assert!(
        !patched
            .to_ascii_lowercase()
            .windows(5)
            .any(|w| w == b"xmrig")
    );
    let found = scan(&rules, &patched, path);
    assert!(
        rule_ids(&found).contains("miner-xmrig"),
        "{:?}",
        rule_ids(&found)
    );
}

#[test]
fn no_rule_fires_on_the_real_busybox() {
    let path = Path::new("/bin/busybox");
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}; install Debian's busybox-static", path.display()));
    let found = scan(&compiled(), &bytes, path);
    assert!(found.is_empty(), "{:?}", rule_ids(&found));
}

/// Rule ids that every bundled YARA file, compiled as one set with nothing gated, finds in
/// `bytes`: what the engine must find whatever its gates skip.
fn ungated_ids(rules: &yara_x::Rules, bytes: &[u8]) -> BTreeSet<String> {
    let mut scanner = yara_x::Scanner::new(rules);
    let results = scanner.scan(bytes).expect("ungated scan");
    results
        .matching_rules()
        .filter_map(|r| {
            r.metadata().find_map(|(k, v)| match (k, v) {
                ("id", yara_x::MetaValue::String(id)) => Some(id.to_string()),
                _ => None,
            })
        })
        .collect()
}

/// The gates (`yara/gated/<gate>/` and the literal gates the engine proves from our rules'
/// conditions) only decide when a rule set runs: on every sample, near miss and real binary
/// the gated engine finds exactly what all rules in one ungated set find.
#[test]
fn gates_change_no_result_on_any_sample() {
    let bundle = Bundle::embedded().unwrap();
    let mut compiler = yara_x::Compiler::new();
    for (path, bytes) in bundle.files("yara/", &[".yar", ".yara"]) {
        compiler.new_namespace(path);
        compiler
            .add_source(std::str::from_utf8(bytes).unwrap())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let ungated = compiler.build();
    let gated = compiled();
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for id in declared_ids() {
        for kind in ["match", "nomatch"] {
            for file in files_in(&samples_dir().join(&id).join(kind)) {
                let bytes = std::fs::read(&file).unwrap();
                inputs.push((file, bytes));
            }
        }
    }
    if let Some(xmrig) = fetched_xmrig() {
        inputs.push(("xmrig without its name".into(), without_its_name(&xmrig)));
        inputs.push(("xmrig".into(), xmrig));
    }
    inputs.push((
        "/bin/busybox".into(),
        std::fs::read("/bin/busybox").unwrap(),
    ));
    let mut differ = Vec::new();
    let mut found = 0;
    for (what, bytes) in &inputs {
        let want = ungated_ids(&ungated, bytes);
        let got: BTreeSet<String> = scan(&gated, bytes, what)
            .into_iter()
            .map(|m| m.rule)
            .collect();
        found += want.len();
        if got != want {
            differ.push(format!(
                "{}: gated {got:?}, ungated {want:?}",
                what.display()
            ));
        }
    }
    // The samples exercise the gated rules: the match samples of the miner executables and
    // wallets are among them.
    assert!(found >= declared_ids().len(), "only {found} rule hits");
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

/// Our rules stay within what libyara (Debian's `yara` 4.2) also compiles: the benchmark
/// runs them through the `yara` CLI, and users take them to other YARA tools. yara-x accepts
/// more (inline `(?i:...)` groups, for one), so this is checked with libyara itself.
#[test]
fn the_bundled_rules_compile_with_libyara_too() {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut dirs = vec![workspace_root().join("content/yara")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "yar" || x == "yara") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 5, "rule files not found: {files:?}");
    let empty = tempfile::NamedTempFile::new().unwrap();
    // One invocation with every file, as the benchmark runs them; -w: warnings are not errors.
    let out = std::process::Command::new("yara")
        .arg("-w")
        .args(&files)
        .arg(empty.path())
        .output()
        .unwrap_or_else(|e| panic!("running `yara`: {e}; install Debian's yara (.ci/run does)"));
    assert!(
        out.status.success(),
        "libyara refuses the bundled rules:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
