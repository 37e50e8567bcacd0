//! The report contracts, checked on the real binary's output: every `--format json` line
//! against `docs/schemas/report.schema.json`, and every `--format sarif` log against the
//! official SARIF 2.1.0 schema (shipped in the source of the `serde-sarif` dev-dependency)
//! and by deserializing it with `serde_sarif`'s types.

#[path = "golden/images.rs"]
mod images;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use customs_core::{
    Confidence, ContentInfo, Coverage, Drivers, ExpiredIgnore, Finding, ImageConfigSummary,
    ImageInfo, LayerInfo, MachineImageInfo, REPORT_SCHEMA, Report, Severity, Skipped, Suppressed,
    Verdict,
};
use serde_json::{Value, json};

fn report_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas/report.schema.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("can not read `{}`: {e}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("`{}` is not JSON: {e}", path.display()))
    })
}

fn report_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        jsonschema::options()
            .should_validate_formats(true)
            .build(report_schema())
            .unwrap_or_else(|e| panic!("docs/schemas/report.schema.json does not compile: {e}"))
    })
}

/// Where cargo unpacked serde-sarif 0.8.0, whose `src/schema.json` is the official SARIF
/// 2.1.0 schema (OASIS `sarif-schema-2.1.0.json`).
fn sarif_schema_path() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(cargo_home) = cargo_home else {
        panic!("can not find the SARIF 2.1.0 schema: neither CARGO_HOME nor HOME is set");
    };
    let registry = cargo_home.join("registry/src");
    let found = std::fs::read_dir(&registry).ok().and_then(|dirs| {
        dirs.filter_map(Result::ok)
            .map(|d| d.path().join("serde-sarif-0.8.0/src/schema.json"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "can not find the official SARIF 2.1.0 schema at `{}/*/serde-sarif-0.8.0/src/schema.json`. \
             It comes with the source of the serde-sarif dev-dependency: run `cargo fetch` (and set \
             CARGO_HOME if cargo keeps its registry elsewhere).",
            registry.display()
        )
    })
}

fn sarif_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let path = sarif_schema_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("can not read `{}`: {e}", path.display()));
        let mut schema: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("`{}` is not JSON: {e}", path.display()));
        let fixed = fix_language_pattern(&mut schema);
        assert_eq!(fixed, 2, "the SARIF schema's two `language` patterns were not found as expected");
        assert_eq!(
            schema["$id"],
            "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json",
            "`{}` is not the SARIF 2.1.0 schema",
            path.display()
        );
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("the SARIF schema `{}` does not compile: {e}", path.display()))
    })
}

/// The official schema's `language` pattern, `^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`,
/// has an unbalanced `]`. ECMA-262 (which JSON Schema patterns follow) reads a lone `]` as a
/// literal, Rust's regex engines refuse to compile it. Escaping it keeps the ECMA meaning.
/// Returns how many patterns were rewritten.
fn fix_language_pattern(v: &mut Value) -> usize {
    const BROKEN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    const ESCAPED: &str = r"^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\]?$";
    match v {
        Value::Object(m) => {
            let mut n = 0;
            for (k, child) in m.iter_mut() {
                if k == "pattern" && child == BROKEN {
                    *child = Value::from(ESCAPED);
                    n += 1;
                } else {
                    n += fix_language_pattern(child);
                }
            }
            n
        }
        Value::Array(a) => a.iter_mut().map(fix_language_pattern).sum(),
        _ => 0,
    }
}

/// Every error the validator finds, one per line, with where it is.
fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect()
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errs = errors(v, instance);
    assert!(
        errs.is_empty(),
        "{what} does not match its schema:\n  {}\ninstance: {}",
        errs.join("\n  "),
        serde_json::to_string_pretty(instance).unwrap()
    );
}

/// Runs `customs scan --quiet --format FORMAT ARGS…`; returns stdout and the exit code.
fn scan(format: &str, args: &[&str]) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_customs"))
        .args(["scan", "--quiet", "--format", format])
        .args(args)
        .output()
        .expect("run customs");
    let code = out.status.code().expect("customs exits normally");
    let stdout = String::from_utf8(out.stdout).expect("the report is UTF-8");
    assert!(
        !stdout.is_empty(),
        "no report from customs {args:?}; stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (stdout, code)
}

/// The targets every check scans: clean, EICAR deleted by a later layer (as a docker
/// archive), hostile, two platforms of one index (two reports), and one that can not be
/// opened (an `error` report).
struct Targets {
    _dir: tempfile::TempDir,
    list: Vec<String>,
    eicar: String,
}

fn targets() -> Targets {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let eicar = images::docker_archive(
        &d.join("eicar.tar"),
        "schemas/eicar:1",
        &images::eicar_deleted(),
    );
    let list = vec![
        images::oci(&d.join("clean"), &images::clean()),
        eicar.clone(),
        images::oci(&d.join("hostile"), &images::hostile()),
        images::multiplatform(&d.join("multi")),
        images::missing(d),
    ];
    Targets {
        _dir: dir,
        list,
        eicar,
    }
}

/// Parses JSON Lines: one report object per line, nothing else.
fn lines(stdout: &str) -> Vec<Value> {
    assert!(
        stdout.ends_with('\n'),
        "the last JSON line is not terminated"
    );
    stdout
        .lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("line {} is not one JSON value: {e}\n{l}", i + 1))
        })
        .collect()
}

#[test]
fn report_schema_is_a_valid_schema() {
    if let Err(e) = jsonschema::meta::validate(report_schema()) {
        panic!(
            "report.schema.json is not a valid JSON Schema: at {}: {e}",
            e.instance_path()
        );
    }
    assert_eq!(
        report_schema()["properties"]["schema"]["const"],
        REPORT_SCHEMA
    );
}

#[test]
fn json_lines_match_the_report_schema() {
    let t = targets();
    let args: Vec<&str> = ["--platform", "all"]
        .into_iter()
        .chain(t.list.iter().map(String::as_str))
        .collect();
    let (stdout, code) = scan("json", &args);
    assert_eq!(
        code, 2,
        "a run with a target that can not be opened exits 2"
    );
    let reports = lines(&stdout);
    // clean, eicar, hostile, two platforms, missing.
    assert_eq!(reports.len(), 6, "one line per scanned image:\n{stdout}");
    for (i, r) in reports.iter().enumerate() {
        assert_valid(report_validator(), r, &format!("JSON line {}", i + 1));
        // The schema and the Rust type agree both ways.
        let back: Report = serde_json::from_value(r.clone())
            .unwrap_or_else(|e| panic!("line {} does not deserialize as a Report: {e}", i + 1));
        assert_eq!(&serde_json::to_value(&back).unwrap(), r);
    }
    let verdicts: Vec<&str> = reports
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        [
            "clean",
            "malicious",
            "malicious",
            "clean",
            "malicious",
            "error"
        ],
        "verdicts in target order"
    );
    let missing = &reports[5];
    assert!(missing["image"].is_null() && !missing["errors"].as_array().unwrap().is_empty());
    let eicar = &reports[1]["findings"][0];
    assert_eq!(eicar["rule"], "eicar-test-file");
    assert!(
        eicar["deleted_in"].is_string(),
        "the EICAR file is deleted by a later layer: {eicar}"
    );
}

#[test]
fn incomplete_scan_matches_the_report_schema() {
    // A file limit below the EICAR file's size: the scan is incomplete (skipped item with
    // its layer), so the verdict is `error`, and the report must still match.
    let t = targets();
    let (stdout, code) = scan(
        "json",
        &[
            "--platform",
            "linux/amd64",
            "--max-file-size",
            "16",
            &t.eicar,
        ],
    );
    assert_eq!(code, 2);
    let reports = lines(&stdout);
    assert_eq!(reports.len(), 1);
    assert_valid(report_validator(), &reports[0], "the incomplete report");
    let skipped = reports[0]["coverage"]["skipped"].as_array().unwrap();
    assert!(!skipped.is_empty(), "{stdout}");
    assert!(skipped.iter().all(|s| s["layer"].is_string()), "{stdout}");
    assert_eq!(reports[0]["verdict"], "error");
}

#[test]
fn every_field_matches_the_report_schema() {
    // Beyond what the fixtures produce: every optional field set, then every one unset.
    let full = Report {
        schema: REPORT_SCHEMA.into(),
        target: "oci:x".into(),
        image: Some(ImageInfo {
            name: Some("docker.io/library/app:1".into()),
            digest: Some(format!("sha256:{}", "a".repeat(64))),
            platform: Some("linux/arm/v7".parse().unwrap()),
            created: Some("2024-01-01T00:00:00Z".into()),
            layers: vec![LayerInfo {
                digest: format!("sha512:{}", "b".repeat(128)),
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                size: u64::MAX,
                created_by: Some("RUN x".into()),
            }],
            config: Some(ImageConfigSummary {
                entrypoint: Some(vec!["/bin/sh".into()]),
                cmd: Some(vec![]),
                env: vec!["A=b".into()],
                user: Some("1000".into()),
                working_dir: Some("/app".into()),
                exposed_ports: vec!["80/tcp".into()],
                labels: [("k".to_string(), "v".to_string())].into(),
                history: vec!["RUN x".into()],
            }),
            machine_image: Some(MachineImageInfo {
                cloud: "aws".into(),
                id: "ami-0123456789abcdef0".into(),
                owner: "099720109477".into(),
                owner_alias: Some("amazon".into()),
                public: Some(true),
            }),
        }),
        verdict: Verdict::Suspicious,
        score: 100,
        findings: Severity::ALL
            .iter()
            .map(|s| Finding {
                rule: "r".into(),
                title: "t".into(),
                severity: *s,
                confidence: Confidence::Medium,
                attack: vec!["T1204.003".into(), "T1496".into()],
                layer: Some("dir:/x".into()),
                deleted_in: Some("dir:/y".into()),
                path: Some("a/b".into()),
                evidence: "e".into(),
                description: "d".into(),
            })
            .collect(),
        coverage: Coverage {
            files: 1,
            bytes: 2,
            skipped: vec![
                Skipped {
                    path: "p".into(),
                    reason: "r".into(),
                    layer: Some("sha256:1".into()),
                },
                Skipped {
                    path: "q".into(),
                    reason: "r".into(),
                    layer: None,
                },
            ],
            partial: vec![],
            verified_by_package_db: 3,
        },
        content: ContentInfo {
            version: "builtin".into(),
            digest: format!("sha256:{}", "c".repeat(64)),
        },
        errors: vec!["e".into()],
        duration_ms: 1,
        drivers: Drivers {
            findings: vec![0, 1],
            errors: vec![0],
            skipped: vec![0, 1],
        },
        suppressed: vec![Suppressed {
            rule: "r".into(),
            severity: Severity::Critical,
            path: Some("a/b".into()),
            layer: Some(format!("sha256:{}", "d".repeat(64))),
            reason: "accepted".into(),
        }],
        ignored_expired: vec![ExpiredIgnore {
            rule: Some("r".into()),
            path: Some("a/**".into()),
            image: Some(format!("sha256:{}", "e".repeat(64))),
            reason: "until the fix".into(),
            expires: "2020-01-31".into(),
        }],
    };
    assert_valid(
        report_validator(),
        &serde_json::to_value(&full).unwrap(),
        "a report with every field set",
    );
    let mut bare = full.clone();
    bare.image = Some(ImageInfo {
        name: None,
        digest: None,
        platform: None,
        created: None,
        layers: vec![],
        config: None,
        machine_image: Some(MachineImageInfo {
            cloud: "gcp".into(),
            id: "projects/debian-cloud/global/images/debian-12-bookworm-v20240312".into(),
            owner: "debian-cloud".into(),
            owner_alias: None,
            public: None,
        }),
    });
    for f in &mut bare.findings {
        (f.layer, f.deleted_in, f.path) = (None, None, None);
        f.attack.clear();
    }
    bare.drivers = Drivers::default();
    for s in &mut bare.suppressed {
        (s.path, s.layer) = (None, None);
    }
    for e in &mut bare.ignored_expired {
        (e.rule, e.path, e.image) = (None, None, None);
    }
    assert_valid(
        report_validator(),
        &serde_json::to_value(&bare).unwrap(),
        "a report with every option unset",
    );
    bare.image = None;
    assert_valid(
        report_validator(),
        &serde_json::to_value(&bare).unwrap(),
        "a report without image",
    );
}

/// Breaks a valid report in one way.
type Mutation = fn(&mut Value);

#[test]
fn the_report_schema_rejects_drift() {
    let t = targets();
    let (stdout, _) = scan("json", &["--platform", "linux/amd64", &t.eicar]);
    let good = lines(&stdout).remove(0);
    assert_valid(report_validator(), &good, "the EICAR report");
    let mutations: &[(&str, Mutation)] = &[
        ("an unknown severity", |r| {
            r["findings"][0]["severity"] = json!("severe")
        }),
        ("an unknown verdict", |r| r["verdict"] = json!("dirty")),
        ("a malformed ATT&CK id", |r| {
            r["findings"][0]["attack"][0] = json!("T1204.3")
        }),
        ("a field the schema does not know", |r| {
            r["findings"][0]["extra"] = json!(1)
        }),
        ("a missing field", |r| {
            r.as_object_mut().unwrap().remove("coverage");
        }),
        ("an absent option instead of null", |r| {
            r["findings"][0]
                .as_object_mut()
                .unwrap()
                .remove("deleted_in");
        }),
        ("a score over 100", |r| r["score"] = json!(101)),
        ("a platform object instead of a string", |r| {
            r["image"]["platform"] = json!({"os": "linux", "architecture": "amd64"})
        }),
        ("another schema version", |r| {
            r["schema"] = json!("customs.report/v2")
        }),
    ];
    for (what, mutate) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        assert!(
            !report_validator().is_valid(&bad),
            "the report schema accepts {what}: {}",
            serde_json::to_string(&bad).unwrap()
        );
    }
}

#[test]
fn sarif_matches_the_official_schema() {
    let t = targets();
    let args: Vec<&str> = ["--platform", "all"]
        .into_iter()
        .chain(t.list.iter().map(String::as_str))
        .collect();
    let (stdout, code) = scan("sarif", &args);
    assert_eq!(code, 2);
    let log: Value = serde_json::from_str(&stdout).expect("the SARIF log is one JSON document");
    assert_valid(sarif_validator(), &log, "the SARIF log");

    // Second opinion: the SARIF types of serde_sarif read it.
    let typed: serde_sarif::sarif::Sarif = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("serde_sarif can not read the log: {e}"));
    assert_eq!(typed.runs.len(), 6, "one run per scanned image");

    let runs = log["runs"].as_array().unwrap();
    for (i, run) in runs.iter().enumerate() {
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        for res in run["results"].as_array().unwrap() {
            let idx = res["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(
                rules[idx]["id"], res["ruleId"],
                "run {i}: ruleIndex points to its rule"
            );
        }
        let ok = run["invocations"][0]["executionSuccessful"]
            .as_bool()
            .unwrap();
        assert_eq!(ok, run["properties"]["verdict"] != "error", "run {i}");
    }
    // The EICAR run: severity tags and the path relative to the image root.
    let eicar = &runs[1];
    let rule = &eicar["tool"]["driver"]["rules"][0];
    assert_eq!(rule["properties"]["security-severity"], "8.0");
    assert!(
        rule["properties"]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("T1204.003"))
    );
    let loc = &eicar["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(loc["uri"], "app/eicar.com");
    assert_eq!(loc["uriBaseId"], "IMAGEROOT");
    // The error run tells why.
    let missing = &runs[5];
    assert_eq!(
        missing["invocations"][0]["toolExecutionNotifications"][0]["level"],
        "error"
    );
}

#[test]
fn the_sarif_schema_rejects_a_broken_log() {
    let t = targets();
    let (stdout, _) = scan("sarif", &["--platform", "linux/amd64", &t.eicar]);
    let good: Value = serde_json::from_str(&stdout).unwrap();
    assert_valid(sarif_validator(), &good, "the EICAR SARIF log");
    let mut bad = good.clone();
    bad["runs"][0]["results"][0]["level"] = json!("critical");
    assert!(
        !sarif_validator().is_valid(&bad),
        "the SARIF schema accepts level `critical`"
    );
    let mut bad = good.clone();
    bad["runs"][0]["tool"]["driver"]["informationUri"] = json!("not a URI");
    assert!(
        !sarif_validator().is_valid(&bad),
        "the SARIF schema's formats are not checked"
    );
    let mut bad = good;
    bad.as_object_mut().unwrap().remove("version");
    assert!(
        !sarif_validator().is_valid(&bad),
        "the SARIF schema accepts a log without version"
    );
}

#[test]
fn ami_check_reports_match_both_schemas() {
    let list = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/machine-images/aws-community.json");
    let run = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_customs"))
            .args([
                "ami",
                "check",
                "--now",
                "2024-03-20T12:00:00Z",
                "--format",
                format,
            ])
            .arg(&list)
            .output()
            .expect("run customs");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("the report is UTF-8")
    };
    let reports = lines(&run("json"));
    assert_eq!(reports.len(), 6);
    for r in &reports {
        assert_valid(report_validator(), r, "an ami check report");
    }
    let log: Value = serde_json::from_str(&run("sarif")).unwrap();
    assert_valid(sarif_validator(), &log, "the ami check SARIF log");
}
