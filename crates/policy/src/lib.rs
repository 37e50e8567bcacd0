//! The one decision function customs uses everywhere (CLI, webhook, event correlation), so
//! the same image always gets the same verdict, and the two files that tune it: the policy
//! file (thresholds) and the ignore file (accepted findings). Pure: no I/O; files are
//! parsed from text the caller read, and "today" is passed in.
//!
//! ```
//! use customs_core::{Confidence, Finding, Severity, Verdict};
//! use customs_policy::{Date, IgnoreList, Policy, ScanState, decide};
//! let f = Finding {
//!     rule: "eicar-test-file".into(), title: "EICAR".into(),
//!     severity: Severity::High, confidence: Confidence::High,
//!     attack: vec!["T1204.003".into()], layer: None, deleted_in: None,
//!     path: Some("eicar.com".into()), evidence: String::new(), description: String::new(),
//! };
//! let policy = Policy::from_toml("schema = 1\n[thresholds]\nfail_on = \"critical\"\n").unwrap();
//! let d = decide(&policy, &[f.clone()], &ScanState::default());
//! assert_eq!(d.verdict, Verdict::Malicious);
//! assert_eq!(d.drivers.findings, [0]);
//! assert!(!d.fails_gate);
//!
//! let ignore = IgnoreList::parse(
//!     "[[ignore]]\nrule = \"eicar-test-file\"\nreason = \"AV test image\"\n",
//! ).unwrap();
//! let applied = ignore.apply(vec![f], None, Date::new(2026, 1, 1).unwrap());
//! assert!(applied.findings.is_empty());
//! assert_eq!(applied.suppressed[0].reason, "AV test image");
//! ```
#![deny(missing_docs)]

mod date;
mod ignore;
mod machine_images;
mod provenance;

use customs_core::{Confidence, Drivers, Finding, Severity, Verdict};
use serde::Deserialize;
use toml::Spanned;

pub use date::{Date, parse_duration};
pub use ignore::{Applied, IGNORE_SCHEMA, IgnoreEntry, IgnoreList};
pub use machine_images::MachineImagePolicy;
pub use provenance::{
    Pattern, Provenance, ProvenanceInput, SignatureState, check as check_provenance, parse_rfc3339,
};

/// The policy-file format this customs reads.
pub const POLICY_SCHEMA: u32 = 1;

/// A policy or ignore file that can not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not TOML, an unknown key, or a value of the wrong type.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Well-formed, but not a usable setting.
    #[error("line {line}: {message}")]
    Invalid {
        /// 1-based line of the offending entry.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// What a finding must reach to count for a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    /// Lowest severity that counts.
    pub severity: Severity,
    /// Lowest confidence that counts.
    pub confidence: Confidence,
}

impl Threshold {
    /// Whether `f` reaches the threshold.
    pub fn is_met_by(&self, f: &Finding) -> bool {
        f.severity >= self.severity && f.confidence >= self.confidence
    }
}

/// Thresholds. (Provenance rules join this in later versions, as new sections.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Findings at or above this fail the gate (`--fail-on`).
    pub fail_on: Severity,
    /// What makes the verdict `malicious`.
    pub malicious: Threshold,
    /// What makes the verdict `suspicious`.
    pub suspicious: Threshold,
    /// Skipped content does not make the verdict `error` (`--allow-incomplete`).
    pub allow_incomplete: bool,
    /// `[machine_images]`: what `customs ami check` accepts.
    pub machine_images: MachineImagePolicy,
    /// The `[provenance]` section, if the file has one.
    pub provenance: Option<Provenance>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            fail_on: Severity::High,
            malicious: Threshold {
                severity: Severity::High,
                confidence: Confidence::Medium,
            },
            suspicious: Threshold {
                severity: Severity::Medium,
                confidence: Confidence::Low,
            },
            allow_incomplete: false,
            machine_images: MachineImagePolicy::default(),
            provenance: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    schema: u32,
    thresholds: Option<Spanned<RawThresholds>>,
    machine_images: Option<Spanned<machine_images::RawMachineImages>>,
    provenance: Option<Spanned<provenance::RawProvenance>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    fail_on: Option<Severity>,
    malicious: Option<RawThreshold>,
    suspicious: Option<RawThreshold>,
    allow_incomplete: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThreshold {
    severity: Severity,
    confidence: Option<Confidence>,
}

impl From<RawThreshold> for Threshold {
    fn from(r: RawThreshold) -> Threshold {
        Threshold {
            severity: r.severity,
            confidence: r.confidence.unwrap_or(Confidence::Low),
        }
    }
}

impl Policy {
    /// Parses a policy file. Every key not described in docs/policy.md is an error, so a
    /// typo never silently falls back to a default; what is not set keeps its default.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        if raw.schema != POLICY_SCHEMA {
            return Err(PolicyError::Invalid {
                line: 1,
                message: format!(
                    "schema {} is not supported (this customs reads schema {POLICY_SCHEMA})",
                    raw.schema
                ),
            });
        }
        let mut p = Policy::default();
        if let Some(m) = raw.machine_images {
            let line = line_of(text, m.span().start);
            p.machine_images = m.into_inner().into_policy(line)?;
        }
        if let Some(section) = raw.provenance {
            let line = line_of(text, section.span().start);
            p.provenance = Some(Provenance::from_raw(section.into_inner(), line)?);
        }
        let Some(t) = raw.thresholds else {
            return Ok(p);
        };
        let line = line_of(text, t.span().start);
        let t = t.into_inner();
        p.fail_on = t.fail_on.unwrap_or(p.fail_on);
        p.malicious = t.malicious.map_or(p.malicious, Threshold::from);
        p.suspicious = t.suspicious.map_or(p.suspicious, Threshold::from);
        p.allow_incomplete = t.allow_incomplete.unwrap_or(p.allow_incomplete);
        // A finding that proves malice must also be suspicious; the reverse order is a typo.
        if p.malicious.severity < p.suspicious.severity
            || p.malicious.confidence < p.suspicious.confidence
        {
            return Err(PolicyError::Invalid {
                line,
                message: format!(
                    "the `malicious` threshold ({}/{}) is below the `suspicious` one ({}/{})",
                    p.malicious.severity,
                    p.malicious.confidence,
                    p.suspicious.severity,
                    p.suspicious.confidence
                ),
            });
        }
        Ok(p)
    }
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn toml_error(text: &str, e: &toml::de::Error) -> PolicyError {
    let start = e.span().map_or(0, |s| s.start).min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    PolicyError::Syntax {
        line: line_of(text, start),
        column: text[line_start..start].chars().count() + 1,
        message: e.message().trim_end().to_string(),
    }
}

/// What the scan could and could not do.
#[derive(Clone, Debug, Default)]
pub struct ScanState {
    /// Errors: something could not be read or verified.
    pub errors: usize,
    /// Items in `coverage.skipped`.
    pub skipped: usize,
}

/// The outcome for one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Verdict.
    pub verdict: Verdict,
    /// 0–100.
    pub score: u32,
    /// Whether the gate fails on findings (exit 1); errors are separate (exit 2).
    pub fails_gate: bool,
    /// Whether the scan is unusable as a verdict (exit 2).
    pub error: bool,
    /// What set the verdict and the score.
    pub drivers: Drivers,
}

impl Decision {
    /// The process exit code for this image alone: 2 error, 1 gate failed, 0 pass.
    pub fn exit_code(&self) -> i32 {
        if self.error {
            2
        } else if self.fails_gate {
            1
        } else {
            0
        }
    }
}

/// One finding's weight: severity scaled by confidence. Never a count of matches.
pub fn weight(f: &Finding) -> u32 {
    let base = match f.severity {
        Severity::Info => 0,
        Severity::Low => 20,
        Severity::Medium => 50,
        Severity::High => 80,
        Severity::Critical => 100,
    };
    let pct = match f.confidence {
        Confidence::Low => 50,
        Confidence::Medium => 80,
        Confidence::High => 100,
    };
    base * pct / 100
}

/// Decides. The worst single finding sets the verdict and the score: ten low findings are
/// not one high one. `findings` are the ones left after ignore entries; the indices in
/// [`Decision::drivers`] point into this slice.
pub fn decide(policy: &Policy, findings: &[Finding], state: &ScanState) -> Decision {
    let incomplete = state.skipped > 0 && !policy.allow_incomplete;
    let error = state.errors > 0 || incomplete;
    let verdict = if error {
        Verdict::Error
    } else if findings.iter().any(|f| policy.malicious.is_met_by(f)) {
        Verdict::Malicious
    } else if findings.iter().any(|f| policy.suspicious.is_met_by(f)) {
        Verdict::Suspicious
    } else {
        Verdict::Clean
    };
    let counts = |f: &Finding| match verdict {
        Verdict::Malicious => policy.malicious.is_met_by(f),
        Verdict::Suspicious => policy.suspicious.is_met_by(f),
        Verdict::Clean | Verdict::Error => true,
    };
    let worst = findings.iter().filter(|f| counts(f)).map(weight).max();
    let driving = match (worst, verdict) {
        (Some(w), Verdict::Malicious | Verdict::Suspicious) => Some(w),
        (Some(w), _) if w > 0 => Some(w),
        _ => None,
    };
    let drivers = Drivers {
        findings: driving.map_or_else(Vec::new, |w| {
            (0..findings.len())
                .filter(|&i| counts(&findings[i]) && weight(&findings[i]) == w)
                .collect()
        }),
        errors: (0..state.errors).collect(),
        skipped: if incomplete {
            (0..state.skipped).collect()
        } else {
            Vec::new()
        },
    };
    Decision {
        verdict,
        score: findings.iter().map(weight).max().unwrap_or(0),
        fails_gate: findings.iter().any(|f| f.severity >= policy.fail_on),
        error,
        drivers,
    }
}

/// The exit code of a run over several images: the worst of them.
pub fn run_exit_code(decisions: &[Decision]) -> i32 {
    decisions.iter().map(Decision::exit_code).max().unwrap_or(0)
}
