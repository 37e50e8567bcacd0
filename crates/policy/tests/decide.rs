//! The decision function: verdicts, scores, the gate, fail-closed errors, and which findings
//! are named as the verdict's drivers.

use customs_core::{Confidence, Finding, Severity, Verdict};
use customs_policy::{Decision, Policy, ScanState, Threshold, decide, run_exit_code};

fn f(severity: Severity, confidence: Confidence) -> Finding {
    Finding {
        rule: format!("{severity}-{confidence}"),
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

const OK: ScanState = ScanState {
    errors: 0,
    skipped: 0,
};

#[test]
fn verdicts() {
    let p = Policy::default();
    assert_eq!(decide(&p, &[], &OK).verdict, Verdict::Clean);
    let d = decide(&p, &vec![f(Severity::Low, Confidence::High); 10], &OK);
    assert_eq!((d.verdict, d.score, d.exit_code()), (Verdict::Clean, 20, 0));
    let d = decide(&p, &[f(Severity::Medium, Confidence::Medium)], &OK);
    assert_eq!((d.verdict, d.exit_code()), (Verdict::Suspicious, 0));
    let d = decide(&p, &[f(Severity::High, Confidence::Low)], &OK);
    assert_eq!((d.verdict, d.exit_code()), (Verdict::Suspicious, 1));
    let d = decide(&p, &[f(Severity::Critical, Confidence::High)], &OK);
    assert_eq!(
        (d.verdict, d.score, d.exit_code()),
        (Verdict::Malicious, 100, 1)
    );
}

#[test]
fn thresholds_come_from_the_policy() {
    let strict = Policy {
        malicious: Threshold {
            severity: Severity::Critical,
            confidence: Confidence::High,
        },
        suspicious: Threshold {
            severity: Severity::High,
            confidence: Confidence::Medium,
        },
        ..Policy::default()
    };
    let high = [f(Severity::High, Confidence::High)];
    assert_eq!(decide(&strict, &high, &OK).verdict, Verdict::Suspicious);
    assert_eq!(
        decide(&Policy::default(), &high, &OK).verdict,
        Verdict::Malicious
    );
    let medium = [f(Severity::Medium, Confidence::High)];
    assert_eq!(decide(&strict, &medium, &OK).verdict, Verdict::Clean);
}

#[test]
fn fail_closed() {
    let p = Policy::default();
    let incomplete = ScanState {
        errors: 0,
        skipped: 2,
    };
    let d = decide(&p, &[], &incomplete);
    assert_eq!((d.verdict, d.exit_code()), (Verdict::Error, 2));
    assert_eq!(d.drivers.skipped, [0, 1]);
    let lenient = Policy {
        allow_incomplete: true,
        ..p.clone()
    };
    let d = decide(&lenient, &[], &incomplete);
    assert_eq!((d.verdict, d.exit_code()), (Verdict::Clean, 0));
    assert!(d.drivers.skipped.is_empty());
    let broken = ScanState {
        errors: 1,
        skipped: 0,
    };
    let d = decide(
        &lenient,
        &[f(Severity::Critical, Confidence::High)],
        &broken,
    );
    assert_eq!((d.verdict, d.exit_code()), (Verdict::Error, 2));
    assert_eq!(d.drivers.errors, [0]);
    let low_gate = Policy {
        fail_on: Severity::Low,
        ..p
    };
    assert_eq!(
        decide(&low_gate, &[f(Severity::Low, Confidence::Low)], &OK).exit_code(),
        1
    );
}

#[test]
fn drivers_are_the_worst_findings_that_set_the_verdict() {
    let p = Policy::default();
    let findings = [
        f(Severity::Critical, Confidence::High),
        f(Severity::High, Confidence::High),
        f(Severity::Critical, Confidence::High),
        f(Severity::Low, Confidence::High),
    ];
    let d = decide(&p, &findings, &OK);
    assert_eq!(d.drivers.findings, [0, 2]);
    assert!(d.drivers.errors.is_empty() && d.drivers.skipped.is_empty());

    // critical/low and medium/high weigh 50 and are only suspicious; high/medium (64) is
    // the one malicious finding and the one driver.
    let findings = [
        f(Severity::Critical, Confidence::Low),
        f(Severity::High, Confidence::Medium),
        f(Severity::Medium, Confidence::High),
    ];
    assert_eq!(decide(&p, &findings, &OK).drivers.findings, [1]);

    // With a policy whose malicious bar is confidence high, a heavier finding that misses
    // the bar does not drive a malicious verdict; the one that reaches it does.
    let picky = Policy {
        malicious: Threshold {
            severity: Severity::Medium,
            confidence: Confidence::High,
        },
        ..p.clone()
    };
    let findings = [
        f(Severity::Critical, Confidence::Medium),
        f(Severity::Medium, Confidence::High),
    ];
    let d = decide(&picky, &findings, &OK);
    assert_eq!((d.verdict, d.score), (Verdict::Malicious, 80));
    assert_eq!(d.drivers.findings, [1]);

    // Clean: low findings set the score, and are named; info findings weigh nothing.
    let d = decide(&p, &[f(Severity::Info, Confidence::High)], &OK);
    assert!(d.drivers.findings.is_empty());
    let d = decide(
        &p,
        &[
            f(Severity::Info, Confidence::High),
            f(Severity::Low, Confidence::Medium),
        ],
        &OK,
    );
    assert_eq!(
        (d.verdict, d.drivers.findings.as_slice()),
        (Verdict::Clean, &[1][..])
    );
}

#[test]
fn run_takes_the_worst() {
    let d = |verdict, fails_gate, error| Decision {
        verdict,
        score: 0,
        fails_gate,
        error,
        drivers: Default::default(),
    };
    let a = d(Verdict::Clean, false, false);
    let b = d(Verdict::Malicious, true, false);
    let c = d(Verdict::Error, false, true);
    assert_eq!(run_exit_code(&[a.clone(), b.clone()]), 1);
    assert_eq!(run_exit_code(&[b, c, a]), 2);
    assert_eq!(run_exit_code(&[]), 0);
}
