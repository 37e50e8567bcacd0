//! The policy file: what it sets, what it leaves at the defaults, and that every mistake is
//! an error naming its line rather than a silent default.

use customs_core::{Confidence, Severity};
use customs_policy::{Policy, PolicyError, Threshold};

#[test]
fn full_file() {
    let p = Policy::from_toml(
        r#"
schema = 1

[thresholds]
fail_on = "medium"
malicious = { severity = "critical", confidence = "high" }
suspicious = { severity = "high" }
allow_incomplete = true
"#,
    )
    .unwrap();
    assert_eq!(
        p,
        Policy {
            fail_on: Severity::Medium,
            malicious: Threshold {
                severity: Severity::Critical,
                confidence: Confidence::High
            },
            suspicious: Threshold {
                severity: Severity::High,
                confidence: Confidence::Low
            },
            allow_incomplete: true,
            ..Policy::default()
        }
    );
}

#[test]
fn unset_keys_keep_the_defaults() {
    assert_eq!(Policy::from_toml("schema = 1").unwrap(), Policy::default());
    let p = Policy::from_toml("schema = 1\n[thresholds]\nfail_on = \"low\"\n").unwrap();
    assert_eq!(
        p,
        Policy {
            fail_on: Severity::Low,
            ..Policy::default()
        }
    );
}

fn err(text: &str) -> (usize, String) {
    match Policy::from_toml(text) {
        Ok(p) => panic!("accepted {text:?} as {p:?}"),
        Err(PolicyError::Syntax { line, message, .. })
        | Err(PolicyError::Invalid { line, message }) => (line, message),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn mistakes_are_errors_with_lines() {
    // A typo in a key.
    let (line, msg) = err("schema = 1\n[thresholds]\nfail_onn = \"low\"\n");
    assert_eq!(line, 3, "{msg}");
    assert!(msg.contains("fail_onn"), "{msg}");
    // A section this version does not know yet.
    let (line, msg) = err("schema = 1\n\n[admission]\nrequire_signature = true\n");
    assert_eq!(line, 3, "{msg}");
    assert!(msg.contains("admission"), "{msg}");
    // A value that is not a severity, and one in the wrong case.
    let (line, msg) = err("schema = 1\n[thresholds]\nfail_on = \"severe\"\n");
    assert_eq!(line, 3, "{msg}");
    assert!(err("schema = 1\n[thresholds]\nfail_on = \"HIGH\"\n").0 == 3);
    // A key unknown inside a threshold table.
    let (line, msg) =
        err("schema = 1\n[thresholds]\nmalicious = { severity = \"high\", conf = \"high\" }\n");
    assert_eq!(line, 3, "{msg}");
    // The schema is required and must be one this customs reads.
    let (_, msg) = err("[thresholds]\nfail_on = \"low\"\n");
    assert!(msg.contains("schema"), "{msg}");
    let (line, msg) = err("schema = 2\n");
    assert_eq!(line, 1);
    assert!(msg.contains("schema 2 is not supported"), "{msg}");
    // Not TOML at all.
    let (line, _) = err("schema = 1\nfail_on high\n");
    assert_eq!(line, 2);
}

#[test]
fn malicious_must_not_be_below_suspicious() {
    let (line, msg) = err(
        "schema = 1\n\n[thresholds]\nmalicious = { severity = \"medium\" }\nsuspicious = { severity = \"high\" }\n",
    );
    assert_eq!(line, 3, "{msg}");
    assert!(msg.contains("below"), "{msg}");
    let (_, msg) = err(
        "schema = 1\n[thresholds]\nmalicious = { severity = \"high\", confidence = \"low\" }\nsuspicious = { severity = \"medium\", confidence = \"medium\" }\n",
    );
    assert!(msg.contains("below"), "{msg}");
}
