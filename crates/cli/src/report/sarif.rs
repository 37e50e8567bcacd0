//! SARIF 2.1.0: one log, one run per scanned image, so code-scanning tools (GitHub, GitLab,
//! IDE viewers) can show customs findings next to other tools'.
//!
//! Mapping, documented for users in docs/report-schema.md:
//! - a rule per distinct finding rule id, with its severity as `defaultConfiguration.level`
//!   and `security-severity`, its confidence as `precision`, ATT&CK ids as tags;
//! - a result per finding; the path inside the image is the artifact location, relative to
//!   the base id `IMAGEROOT`, and the layer is a logical location;
//! - verdict, score, drivers, coverage, content and what ignore entries removed go in the
//!   run's property bag, and a result whose finding set the verdict has `driver: true`;
//!   errors and skipped items become tool execution notifications, and an `error` verdict
//!   marks the invocation as failed.

use std::collections::BTreeMap;
use std::io::{self, Write};

use customs_core::{
    Confidence, ContentInfo, Coverage, Drivers, ExpiredIgnore, Finding, Report, Severity,
    Suppressed, Verdict,
};
use serde::Serialize;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/customs-scanner/customs";
/// The base id every artifact location is relative to: the image's root filesystem.
const IMAGE_ROOT: &str = "IMAGEROOT";
/// The `partialFingerprints` key; bump its version if the hashed fields ever change.
const FINGERPRINT_KEY: &str = "customs/v1";

pub(super) fn write(reports: &[Report], w: &mut dyn Write) -> io::Result<()> {
    let mut runs: Vec<Run<'_>> = reports.iter().map(run).collect();
    // Entries that could not be read (an unreadable image of a machine-image list) can share
    // a category; number the repeats so every run keeps its own.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in &mut runs {
        let n = seen.entry(r.automation_details.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            r.automation_details.id.push_str(&format!("{n}/"));
        }
    }
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs,
    };
    serde_json::to_writer_pretty(&mut *w, &log)?;
    w.write_all(b"\n")
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    automation_details: AutomationDetails,
    original_uri_base_ids: BTreeMap<&'static str, BaseUri>,
    invocations: Vec<Invocation<'a>>,
    results: Vec<SarifResult<'a>>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    information_uri: &'static str,
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule<'a> {
    id: &'a str,
    name: String,
    short_description: Text<'a>,
    full_description: Text<'a>,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Text<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct OwnedText {
    text: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<String>,
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
    precision: &'static str,
}

#[derive(Serialize)]
struct AutomationDetails {
    id: String,
}

#[derive(Serialize)]
struct BaseUri {
    uri: &'static str,
    description: Text<'static>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation<'a> {
    execution_successful: bool,
    tool_execution_notifications: Vec<Notification<'a>>,
}

#[derive(Serialize)]
struct Notification<'a> {
    level: &'static str,
    message: OwnedText,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<&'a customs_core::Skipped>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: OwnedText,
    locations: Vec<Location<'a>>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<PhysicalLocation>,
    logical_locations: Vec<LogicalLocation<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    uri_base_id: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation<'a> {
    name: &'a str,
    kind: &'static str,
}

#[derive(Serialize)]
struct ResultProperties<'a> {
    severity: Severity,
    confidence: Confidence,
    attack: &'a [String],
    layer: Option<&'a str>,
    deleted_in: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    driver: bool,
}

#[derive(Serialize)]
struct RunProperties<'a> {
    target: &'a str,
    image: Option<ImageProperties<'a>>,
    verdict: Verdict,
    score: u32,
    coverage: &'a Coverage,
    content: &'a ContentInfo,
    errors: &'a [String],
    drivers: &'a Drivers,
    suppressed: &'a [Suppressed],
    ignored_expired: &'a [ExpiredIgnore],
}

#[derive(Serialize)]
struct ImageProperties<'a> {
    name: Option<&'a str>,
    digest: Option<&'a str>,
    platform: Option<String>,
}

fn run(r: &Report) -> Run<'_> {
    // Rules sorted by id, so the same findings always give the same rule indexes.
    let mut by_id: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &r.findings {
        by_id.entry(f.rule.as_str()).or_default().push(f);
    }
    let index: BTreeMap<&str, usize> = by_id.keys().enumerate().map(|(i, id)| (*id, i)).collect();
    let rules = by_id.iter().map(|(id, fs)| rule(id, fs)).collect();

    let image_name = r.image.as_ref().and_then(|i| i.name.as_deref());
    let platform = r
        .image
        .as_ref()
        .and_then(|i| i.platform.as_ref())
        .map(ToString::to_string);
    let results = r
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut res = result(f, index[f.rule.as_str()], image_name.unwrap_or(&r.target));
            res.properties.driver = r.drivers.findings.contains(&i);
            res
        })
        .collect();

    let mut notifications: Vec<Notification<'_>> = r
        .errors
        .iter()
        .map(|e| Notification {
            level: "error",
            message: OwnedText { text: e.clone() },
            properties: None,
        })
        .collect();
    notifications.extend(r.coverage.skipped.iter().map(|s| Notification {
        level: "warning",
        message: OwnedText {
            text: format!("not fully read: {}: {}", s.path, s.reason),
        },
        properties: Some(s),
    }));

    // A category per target and platform, so code scanning keeps the runs of one log apart
    // (it refuses several runs of one tool under one category).
    let mut category = format!("customs/{}", r.target);
    if let Some(p) = &platform {
        category.push('/');
        category.push_str(p);
    }
    // The images of one machine-image list share their target: the id keeps them apart.
    if let Some(m) = r.image.as_ref().and_then(|i| i.machine_image.as_ref()) {
        category.push('/');
        category.push_str(&m.id);
    }
    category.push('/');

    Run {
        tool: Tool {
            driver: Driver {
                name: "customs",
                version: env!("CARGO_PKG_VERSION"),
                semantic_version: env!("CARGO_PKG_VERSION"),
                information_uri: INFORMATION_URI,
                rules,
            },
        },
        automation_details: AutomationDetails { id: category },
        original_uri_base_ids: BTreeMap::from([(
            IMAGE_ROOT,
            BaseUri {
                uri: "file:///",
                description: Text {
                    text: "The root of the scanned image's filesystem, all layers together.",
                },
            },
        )]),
        invocations: vec![Invocation {
            execution_successful: r.verdict != Verdict::Error,
            tool_execution_notifications: notifications,
        }],
        results,
        properties: RunProperties {
            target: &r.target,
            image: r.image.as_ref().map(|i| ImageProperties {
                name: i.name.as_deref(),
                digest: i.digest.as_deref(),
                platform: platform.clone(),
            }),
            verdict: r.verdict,
            score: r.score,
            coverage: &r.coverage,
            content: &r.content,
            errors: &r.errors,
            drivers: &r.drivers,
            suppressed: &r.suppressed,
            ignored_expired: &r.ignored_expired,
        },
    }
}

/// A rule's metadata from its findings. Severity and confidence come from rule metadata, so
/// all findings of a rule agree; should they not, the worst is described.
fn rule<'a>(id: &'a str, findings: &[&'a Finding]) -> Rule<'a> {
    let first = findings[0];
    let severity = findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(first.severity);
    let confidence = findings
        .iter()
        .map(|f| f.confidence)
        .max()
        .unwrap_or(first.confidence);
    let mut tags = vec!["security".to_string()];
    for f in findings {
        for a in &f.attack {
            if !tags.contains(a) {
                tags.push(a.clone());
            }
        }
    }
    Rule {
        id,
        name: camel_case(id),
        short_description: Text { text: &first.title },
        full_description: Text {
            text: &first.description,
        },
        default_configuration: Configuration {
            level: level(severity),
        },
        properties: RuleProperties {
            tags,
            security_severity: security_severity(severity),
            precision: confidence.as_str(),
        },
    }
}

fn result<'a>(f: &'a Finding, rule_index: usize, image: &'a str) -> SarifResult<'a> {
    let location = match &f.path {
        Some(path) => Location {
            physical_location: Some(PhysicalLocation {
                artifact_location: ArtifactLocation {
                    uri: path_to_uri(path),
                    uri_base_id: IMAGE_ROOT,
                },
            }),
            logical_locations: f
                .layer
                .iter()
                .map(|l| LogicalLocation {
                    name: l,
                    kind: "module",
                })
                .collect(),
        },
        None => Location {
            physical_location: None,
            logical_locations: vec![LogicalLocation {
                name: image,
                kind: "module",
            }],
        },
    };
    let text = if f.evidence.is_empty() {
        f.title.clone()
    } else {
        format!("{}: {}", f.title, f.evidence)
    };
    SarifResult {
        rule_id: &f.rule,
        rule_index,
        level: level(f.severity),
        message: OwnedText { text },
        locations: vec![location],
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, fingerprint(f))]),
        properties: ResultProperties {
            severity: f.severity,
            confidence: f.confidence,
            attack: &f.attack,
            layer: f.layer.as_deref(),
            deleted_in: f.deleted_in.as_deref(),
            driver: false,
        },
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning reads this (a number as a string, 0.0–10.0) to rank security alerts:
/// over 9.0 is critical, 7.0–8.9 high, 4.0–6.9 medium, 0.1–3.9 low.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// `eicar-test-file` → `EicarTestFile`, the form SARIF suggests for a rule's name.
fn camel_case(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|h| h.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A relative URI reference for a path inside the image: every byte outside the unreserved
/// set and `/` is percent-encoded (so `:`, `?`, `#`, `%`, spaces, controls and non-ASCII
/// can not change how the URI parses), `.` and `..` segments are encoded so that resolving
/// against `IMAGEROOT` can not climb out, and a leading `/` is encoded so the reference
/// can not become network- or root-relative.
fn path_to_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut leading = true;
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push_str(if leading { "%2F" } else { "/" });
        }
        leading &= seg.is_empty();
        if seg == "." || seg == ".." {
            out.push_str(&"%2E".repeat(seg.len()));
            continue;
        }
        for b in seg.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// A stable fingerprint of what the finding is about (rule, path, layer), so a viewer can
/// follow the same finding across scans even when its message changes. FNV-1a (128-bit) is
/// defined by its constants, so it never changes between Rust versions or platforms.
fn fingerprint(f: &Finding) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;
    let mut h = OFFSET;
    let parts = [
        f.rule.as_str(),
        f.path.as_deref().unwrap_or(""),
        f.layer.as_deref().unwrap_or(""),
    ];
    for (i, p) in parts.iter().enumerate() {
        // A separator that can not occur in the parts keeps ("a", "bc") apart from ("ab", "c").
        let bytes = p.bytes().chain((i + 1 < parts.len()).then_some(0));
        for b in bytes {
            h ^= u128::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    format!("{h:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_stay_inside_the_image() {
        assert_eq!(path_to_uri("app/eicar.com"), "app/eicar.com");
        assert_eq!(path_to_uri("c:x/a b#?%"), "c%3Ax/a%20b%23%3F%25");
        assert_eq!(path_to_uri("../etc/./x"), "%2E%2E/etc/%2E/x");
        assert_eq!(path_to_uri("/abs"), "%2Fabs");
        assert_eq!(path_to_uri("//host/x"), "%2F%2Fhost/x");
        assert_eq!(path_to_uri("é\x1b"), "%C3%A9%1B");
    }

    #[test]
    fn names_and_fingerprints() {
        assert_eq!(camel_case("eicar-test-file"), "EicarTestFile");
        assert_eq!(camel_case("tar-device-node-dev"), "TarDeviceNodeDev");
        let f = Finding {
            rule: "r".into(),
            title: "t".into(),
            severity: Severity::Low,
            confidence: Confidence::Low,
            attack: vec![],
            layer: Some("sha256:1".into()),
            deleted_in: None,
            path: Some("a".into()),
            evidence: "one".into(),
            description: String::new(),
        };
        let g = Finding {
            evidence: "two".into(),
            ..f.clone()
        };
        let h = Finding {
            path: Some("b".into()),
            ..f.clone()
        };
        assert_eq!(fingerprint(&f), fingerprint(&g));
        assert_ne!(fingerprint(&f), fingerprint(&h));
        assert_eq!(fingerprint(&f).len(), 32);
    }
}
