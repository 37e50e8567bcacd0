use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a finding is, from rule metadata; never from counting matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context for an analyst; never fails a gate by default.
    Info,
    /// Worth a look.
    Low,
    /// Suspicious.
    Medium,
    /// Very likely malicious.
    High,
    /// Malicious beyond reasonable doubt.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lowercase name used in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown severity `{s}` (info, low, medium, high, critical)"))
    }
}

/// How sure the rule is that a match means what it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Often matches benign content too.
    Low,
    /// Usually right.
    Medium,
    /// Rarely wrong.
    High,
}

impl Confidence {
    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// MITRE ATT&CK technique ids used by the shipped analyzers.
pub mod attack {
    /// User Execution: Malicious Image.
    pub const MALICIOUS_IMAGE: &str = "T1204.003";
    /// Masquerading: Match Legitimate Name or Location.
    pub const MATCH_LEGITIMATE_NAME: &str = "T1036.005";
    /// Resource Hijacking (cryptomining).
    pub const RESOURCE_HIJACKING: &str = "T1496";
    /// Exploitation for Privilege Escalation (container escape through extraction bugs).
    pub const EXPLOIT_PRIV_ESC: &str = "T1068";
    /// Escape to Host.
    pub const ESCAPE_TO_HOST: &str = "T1611";
    /// Obfuscated Files or Information.
    pub const OBFUSCATED_FILES: &str = "T1027";

    /// Whether `id` has the shape of a technique or sub-technique id (`T1234` / `T1234.001`).
    pub fn is_valid(id: &str) -> bool {
        let b = id.as_bytes();
        let main_ok = b.len() >= 5 && b[0] == b'T' && b[1..5].iter().all(u8::is_ascii_digit);
        match b.len() {
            5 => main_ok,
            9 => main_ok && b[5] == b'.' && b[6..9].iter().all(u8::is_ascii_digit),
            _ => false,
        }
    }
}

/// One thing an analyzer found, with everything needed to act on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id, e.g. `eicar-test-file`.
    pub rule: String,
    /// One-line title.
    pub title: String,
    /// From rule metadata.
    pub severity: Severity,
    /// From rule metadata.
    pub confidence: Confidence,
    /// ATT&CK technique ids.
    pub attack: Vec<String>,
    /// Digest of the layer that added the file (absent for image-level findings).
    pub layer: Option<String>,
    /// Digest of the later layer that deleted or replaced the file, if any.
    pub deleted_in: Option<String>,
    /// Path inside the image (no leading `/`), absent for image-level findings.
    pub path: Option<String>,
    /// What matched, short and printable.
    pub evidence: String,
    /// Why it matters and what to do.
    pub description: String,
}

impl Finding {
    /// Sort key that puts the worst first and keeps output stable.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            std::cmp::Reverse(self.severity),
            std::cmp::Reverse(self.confidence),
            &self.rule,
            &self.path,
            &self.layer,
            &self.evidence,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_order_and_parse() {
        assert!(Severity::Critical > Severity::High);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("severe".parse::<Severity>().is_err());
    }

    #[test]
    fn attack_ids() {
        assert!(attack::is_valid("T1204.003"));
        assert!(attack::is_valid("T1496"));
        assert!(!attack::is_valid("T12"));
        assert!(!attack::is_valid("T1204.3"));
        assert!(!attack::is_valid("X1204"));
    }
}
