//! The policy file, the ignore file and the verdict's drivers through the real binary.

#[path = "golden/images.rs"]
mod images;

use customs_test_support::cli::CliRun as Run;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs `customs scan` in `cwd` (where `.customsignore` is looked up), without the cache.
fn scan(cwd: &Path, format: &str, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_customs"))
        .current_dir(cwd)
        .args(["scan", "--quiet", "--no-cache", "--format", format])
        .args(args)
        .env_remove("CUSTOMS_LOG")
        .output()
        .expect("customs runs");
    Run::from_output(out)
}

fn rules(r: &Value) -> Vec<&str> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

/// An OCI layout of the image whose EICAR file a later layer deletes, and the findings
/// it gives without any ignore file.
struct Fixture {
    dir: tempfile::TempDir,
    target: String,
    plain: Value,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let target = images::oci(&dir.path().join("eicar"), &images::eicar_deleted());
    let run = scan(dir.path(), "json", &[&target]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let plain = run.report();
    assert_eq!(plain["verdict"], "malicious");
    assert_eq!(rules(&plain), ["eicar-test-file"]);
    Fixture { dir, target, plain }
}

impl Fixture {
    fn ignore(&self, text: &str) {
        std::fs::write(self.dir.path().join(".customsignore"), text).unwrap();
    }

    fn scan(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.push(&self.target);
        scan(self.dir.path(), "json", &all)
    }
}

#[test]
fn drivers_name_what_set_the_verdict() {
    let fx = fixture();
    assert_eq!(fx.plain["drivers"]["findings"], serde_json::json!([0]));
    assert_eq!(fx.plain["drivers"]["errors"], serde_json::json!([]));
    assert_eq!(fx.plain["score"], 80);

    // SARIF marks the driving result and carries the drivers in the run's properties.
    let sarif = scan(fx.dir.path(), "sarif", &[&fx.target]);
    let log: Value = serde_json::from_str(&sarif.stdout).unwrap();
    let run = &log["runs"][0];
    assert_eq!(run["results"][0]["properties"]["driver"], true);
    assert_eq!(run["properties"]["drivers"], fx.plain["drivers"]);
    // The table marks it with `*`.
    let table = scan(fx.dir.path(), "table", &[&fx.target]).stdout;
    assert!(
        table.contains("* high     eicar-test-file  app/eicar.com"),
        "{table}"
    );
    assert!(
        table.contains("(score 80, set by the finding marked *)"),
        "{table}"
    );

    // An error: the error is the driver, and no finding is.
    let missing = images::missing(fx.dir.path());
    let r = scan(fx.dir.path(), "json", &[&missing]).report();
    assert_eq!(r["verdict"], "error");
    assert_eq!(r["drivers"]["errors"], serde_json::json!([0]));
    // An incomplete scan: the skipped item is the driver.
    let r = fx.scan(&["--max-file-size", "16"]).report();
    assert_eq!(r["verdict"], "error");
    let skipped = r["coverage"]["skipped"].as_array().unwrap().len();
    assert!(skipped > 0);
    assert_eq!(
        r["drivers"]["skipped"],
        serde_json::json!((0..skipped).collect::<Vec<_>>())
    );
    let r = fx
        .scan(&["--max-file-size", "16", "--allow-incomplete"])
        .report();
    assert_eq!(r["verdict"], "clean");
    assert_eq!(r["drivers"]["skipped"], serde_json::json!([]));
}

#[test]
fn customsignore_in_the_current_directory_removes_and_lists() {
    let fx = fixture();
    fx.ignore(
        "[[ignore]]\nrule = \"eicar-test-file\"\npath = \"/app/*.com\"\nreason = \"AV test fixture, see TEST-1\"\n",
    );
    let run = fx.scan(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.report();
    assert_eq!(r["verdict"], "clean");
    assert_eq!(r["score"], 0);
    assert!(rules(&r).is_empty());
    assert_eq!(r["drivers"]["findings"], serde_json::json!([]));
    let s = &r["suppressed"][0];
    assert_eq!(s["rule"], "eicar-test-file");
    assert_eq!(s["severity"], "high");
    assert_eq!(s["path"], "app/eicar.com");
    assert_eq!(s["layer"], fx.plain["findings"][0]["layer"]);
    assert_eq!(s["reason"], "AV test fixture, see TEST-1");
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let table = scan(fx.dir.path(), "table", &[&fx.target]).stdout;
    assert!(
        table.contains("  ignored  eicar-test-file (high) app/eicar.com"),
        "{table}"
    );

    // --no-ignore reads no file; --ignore-file names another one.
    let r = fx.scan(&["--no-ignore"]).report();
    assert_eq!(rules(&r), ["eicar-test-file"]);
    let other = fx.dir.path().join("other.toml");
    std::fs::write(&other, "").unwrap();
    let r = fx
        .scan(&["--ignore-file", &other.display().to_string()])
        .report();
    assert_eq!(rules(&r), ["eicar-test-file"]);
    assert_eq!(r["suppressed"], serde_json::json!([]));
}

#[test]
fn entries_by_manifest_and_layer_digest() {
    let fx = fixture();
    let manifest = fx.plain["image"]["digest"].as_str().unwrap().to_string();
    let added_in = fx.plain["findings"][0]["layer"]
        .as_str()
        .unwrap()
        .to_string();
    let deleted_in = fx.plain["findings"][0]["deleted_in"]
        .as_str()
        .unwrap()
        .to_string();
    for (digest, removed) in [(&manifest, true), (&added_in, true), (&deleted_in, false)] {
        fx.ignore(&format!(
            "[[ignore]]\nimage = \"{digest}\"\nreason = \"r\"\n"
        ));
        let run = fx.scan(&[]);
        let r = run.report();
        assert_eq!(rules(&r).is_empty(), removed, "{digest}: {}", run.stdout);
        // An entry that covers nothing says so: a stale allow-list entry.
        assert_eq!(
            run.stderr.contains("line 1: the ignore entry for image")
                && run.stderr.contains("matched no finding"),
            !removed,
            "{}",
            run.stderr
        );
    }
}

#[test]
fn expired_entries_warn_and_no_longer_apply() {
    let fx = fixture();
    fx.ignore(
        "# accepted until the fixture is replaced\n\n[[ignore]]\nrule = \"eicar-test-file\"\nreason = \"until 1.0\"\nexpires = \"2000-01-31\"\n\n[[ignore]]\nrule = \"eicar-test-file\"\nreason = \"still valid\"\nexpires = \"2999-12-31\"\n",
    );
    let run = fx.scan(&[]);
    let r = run.report();
    // The live entry still applies; the expired one is listed and warned about.
    assert!(rules(&r).is_empty());
    assert_eq!(r["suppressed"][0]["reason"], "still valid");
    assert_eq!(r["ignored_expired"][0]["expires"], "2000-01-31");
    assert_eq!(r["ignored_expired"][0]["rule"], "eicar-test-file");
    assert!(
        run.stderr
            .contains("`.customsignore` line 3: the ignore entry for rule `eicar-test-file` expired on 2000-01-31"),
        "{}",
        run.stderr
    );

    fx.ignore("[[ignore]]\nrule = \"eicar-test-file\"\nreason = \"until 1.0\"\nexpires = \"2000-01-31\"\n");
    let run = fx.scan(&[]);
    assert_eq!(run.code, 1);
    let r = run.report();
    assert_eq!(rules(&r), ["eicar-test-file"]);
    assert_eq!(r["verdict"], "malicious");
    assert_eq!(r["ignored_expired"][0]["reason"], "until 1.0");
    assert!(run.stderr.contains("expired"), "{}", run.stderr);
    // An expired entry is not also called unmatched.
    assert!(!run.stderr.contains("matched no finding"), "{}", run.stderr);
}

#[test]
fn an_ignore_entry_can_not_hide_an_error() {
    let fx = fixture();
    fx.ignore("[[ignore]]\npath = \"**\"\nreason = \"everything\"\n");
    // The EICAR file is over the limit: skipped, so the scan is incomplete.
    let run = fx.scan(&["--max-file-size", "16"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let r = run.report();
    assert_eq!(r["verdict"], "error");
    assert!(!r["coverage"]["skipped"].as_array().unwrap().is_empty());
    let missing = images::missing(fx.dir.path());
    let run = scan(fx.dir.path(), "json", &[&missing]);
    assert_eq!(run.code, 2);
    assert_eq!(run.report()["verdict"], "error");
}

#[test]
fn bad_ignore_files_stop_the_run() {
    let fx = fixture();
    for (text, says) in [
        (
            "[[ignore]]\nrule = \"eicar-test-file\"\n",
            "line 1: ignore entry has no `reason`",
        ),
        (
            "[[ignore]]\nrule = \"x\"\nreason = \"r\"\nexpire = \"2027-01-01\"\n",
            "unknown field `expire`",
        ),
        (
            "[[ignore]]\nrule = \"x\"\nreason = \"r\"\nexpires = \"2027-02-30\"\n",
            "not a day of the calendar",
        ),
    ] {
        fx.ignore(text);
        let run = fx.scan(&[]);
        assert_eq!(run.code, 2, "{text}");
        assert!(
            run.stdout.is_empty(),
            "no report from a run that did not start"
        );
        assert!(
            run.stderr
                .contains("can not use the ignore file `.customsignore`")
                && run.stderr.contains(says),
            "{text}: {}",
            run.stderr
        );
    }
    let run = fx.scan(&["--ignore-file", "no-such-file.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no-such-file.toml"), "{}", run.stderr);
}

#[test]
fn policy_file_sets_thresholds_and_flags_win() {
    let fx = fixture();
    let policy = fx.dir.path().join("policy.toml");
    let p = policy.display().to_string();
    // EICAR is high/high: below a critical malicious bar, so suspicious; below a critical
    // gate, so exit 0.
    std::fs::write(
        &policy,
        "schema = 1\n[thresholds]\nfail_on = \"critical\"\nmalicious = { severity = \"critical\" }\nsuspicious = { severity = \"high\" }\n",
    )
    .unwrap();
    let run = fx.scan(&["--policy", &p]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.report();
    assert_eq!(r["verdict"], "suspicious");
    assert_eq!(r["drivers"]["findings"], serde_json::json!([0]));
    // --fail-on on the command line beats the file.
    let run = fx.scan(&["--policy", &p, "--fail-on", "high"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.report()["verdict"], "suspicious");

    // allow_incomplete in the file; --allow-incomplete would say the same.
    std::fs::write(
        &policy,
        "schema = 1\n[thresholds]\nallow_incomplete = true\n",
    )
    .unwrap();
    let r = fx.scan(&["--policy", &p, "--max-file-size", "16"]).report();
    assert_eq!(r["verdict"], "clean");

    // Mistakes stop the run, naming the file and the line.
    for (text, says) in [
        ("schema = 1\n[thresholds]\nfail_on = \"severe\"\n", "line 3"),
        (
            "schema = 1\n\n[admission]\nrequire = true\n",
            "unknown field `admission`",
        ),
        (
            "[thresholds]\nfail_on = \"low\"\n",
            "missing field `schema`",
        ),
    ] {
        std::fs::write(&policy, text).unwrap();
        let run = fx.scan(&["--policy", &p]);
        assert_eq!(run.code, 2, "{text}");
        assert!(run.stdout.is_empty());
        assert!(
            run.stderr.contains("can not use the policy file") && run.stderr.contains(says),
            "{text}: {}",
            run.stderr
        );
    }
}
