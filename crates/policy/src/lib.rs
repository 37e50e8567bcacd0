//! The one decision function customs uses everywhere (CLI, webhook, event correlation), so
//! the same image always gets the same verdict. Pure: no I/O.
//!
//! ```
//! use customs_core::{Confidence, Finding, Severity, Verdict};
//! use customs_policy::{Policy, ScanState, decide};
//! let f = Finding {
//!     rule: "eicar-test-file".into(), title: "EICAR".into(),
//!     severity: Severity::High, confidence: Confidence::High,
//!     attack: vec!["T1204.003".into()], layer: None, deleted_in: None,
//!     path: Some("eicar.com".into()), evidence: String::new(), description: String::new(),
//! };
//! let d = decide(&Policy::default(), &[f], &ScanState::default());
//! assert_eq!(d.verdict, Verdict::Malicious);
//! assert!(d.fails_gate);
//! ```
#![deny(missing_docs)]

use customs_core::{Confidence, Finding, Severity, Verdict};

/// Thresholds. (Allow lists and provenance rules join this in later versions.)
#[derive(Clone, Debug)]
pub struct Policy {
    /// Findings at or above this fail the gate (`--fail-on`).
    pub fail_on: Severity,
    /// Skipped content does not make the verdict `error` (`--allow-incomplete`).
    pub allow_incomplete: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            fail_on: Severity::High,
            allow_incomplete: false,
        }
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
fn weight(f: &Finding) -> u32 {
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
/// not one high one.
pub fn decide(policy: &Policy, findings: &[Finding], state: &ScanState) -> Decision {
    let error = state.errors > 0 || (state.skipped > 0 && !policy.allow_incomplete);
    let malicious = findings
        .iter()
        .any(|f| f.severity >= Severity::High && f.confidence >= Confidence::Medium);
    let suspicious = findings.iter().any(|f| f.severity >= Severity::Medium);
    let verdict = if error {
        Verdict::Error
    } else if malicious {
        Verdict::Malicious
    } else if suspicious {
        Verdict::Suspicious
    } else {
        Verdict::Clean
    };
    Decision {
        verdict,
        score: findings.iter().map(weight).max().unwrap_or(0),
        fails_gate: findings.iter().any(|f| f.severity >= policy.fail_on),
        error,
    }
}

/// The exit code of a run over several images: the worst of them.
pub fn run_exit_code(decisions: &[Decision]) -> i32 {
    decisions.iter().map(Decision::exit_code).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(severity: Severity, confidence: Confidence) -> Finding {
        Finding {
            rule: "r".into(),
            title: "t".into(),
            severity,
            confidence,
            attack: vec![],
            layer: None,
            deleted_in: None,
            path: None,
            evidence: String::new(),
            description: String::new(),
        }
    }

    #[test]
    fn verdicts() {
        let p = Policy::default();
        let ok = ScanState::default();
        assert_eq!(decide(&p, &[], &ok).verdict, Verdict::Clean);
        let d = decide(&p, &vec![f(Severity::Low, Confidence::High); 10], &ok);
        assert_eq!((d.verdict, d.score, d.exit_code()), (Verdict::Clean, 20, 0));
        let d = decide(&p, &[f(Severity::Medium, Confidence::Medium)], &ok);
        assert_eq!((d.verdict, d.exit_code()), (Verdict::Suspicious, 0));
        let d = decide(&p, &[f(Severity::High, Confidence::Low)], &ok);
        assert_eq!((d.verdict, d.exit_code()), (Verdict::Suspicious, 1));
        let d = decide(&p, &[f(Severity::Critical, Confidence::High)], &ok);
        assert_eq!(
            (d.verdict, d.score, d.exit_code()),
            (Verdict::Malicious, 100, 1)
        );
    }

    #[test]
    fn fail_closed() {
        let p = Policy::default();
        let incomplete = ScanState {
            errors: 0,
            skipped: 1,
        };
        assert_eq!(decide(&p, &[], &incomplete).verdict, Verdict::Error);
        assert_eq!(decide(&p, &[], &incomplete).exit_code(), 2);
        let lenient = Policy {
            allow_incomplete: true,
            ..p.clone()
        };
        assert_eq!(decide(&lenient, &[], &incomplete).exit_code(), 0);
        let broken = ScanState {
            errors: 1,
            skipped: 0,
        };
        assert_eq!(decide(&lenient, &[], &broken).exit_code(), 2);
        let low_gate = Policy {
            fail_on: Severity::Low,
            ..p
        };
        assert_eq!(
            decide(
                &low_gate,
                &[f(Severity::Low, Confidence::Low)],
                &ScanState::default()
            )
            .exit_code(),
            1
        );
    }

    #[test]
    fn run_takes_the_worst() {
        let a = Decision {
            verdict: Verdict::Clean,
            score: 0,
            fails_gate: false,
            error: false,
        };
        let b = Decision {
            verdict: Verdict::Malicious,
            score: 100,
            fails_gate: true,
            error: false,
        };
        let c = Decision {
            verdict: Verdict::Error,
            score: 0,
            fails_gate: false,
            error: true,
        };
        assert_eq!(run_exit_code(&[a.clone(), b.clone()]), 1);
        assert_eq!(run_exit_code(&[b, c, a]), 2);
        assert_eq!(run_exit_code(&[]), 0);
    }
}
