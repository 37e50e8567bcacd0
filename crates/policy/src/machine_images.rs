//! `[machine_images]`: which cloud machine images `customs ami check` accepts. Owners follow
//! AWS "Allowed AMIs" image-provider semantics (the aliases `amazon`, `aws-marketplace` and
//! `aws-backup-vault`, and 12-digit account ids); the same list also names GCP projects and
//! Azure publishers, which can not be confused with AWS values.

use serde::Deserialize;

use crate::PolicyError;
use crate::date::parse_duration;

/// What `customs ami check` accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineImagePolicy {
    /// Owners whose images are allowed besides the bundled official publishers: AWS aliases
    /// and account ids, GCP projects, Azure publishers.
    pub allowed_owners: Vec<String>,
    /// Whether the bundled official publishers (`content/machine-images/`) are allowed too.
    pub official_publishers: bool,
    /// A public image created less than this many seconds ago is "newly published".
    pub newly_published_secs: u64,
}

impl Default for MachineImagePolicy {
    fn default() -> Self {
        MachineImagePolicy {
            allowed_owners: Vec::new(),
            official_publishers: true,
            newly_published_secs: 24 * 3600,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMachineImages {
    allowed_owners: Option<Vec<String>>,
    official_publishers: Option<bool>,
    newly_published: Option<String>,
}

impl RawMachineImages {
    /// Checks every value; `line` is where the section starts, for messages.
    pub(crate) fn into_policy(self, line: usize) -> Result<MachineImagePolicy, PolicyError> {
        let invalid = |message: String| PolicyError::Invalid { line, message };
        let mut p = MachineImagePolicy::default();
        for owner in self.allowed_owners.unwrap_or_default() {
            check_owner(&owner)
                .map_err(|m| invalid(format!("machine_images.allowed_owners: {m}")))?;
            p.allowed_owners.push(owner);
        }
        p.official_publishers = self.official_publishers.unwrap_or(p.official_publishers);
        if let Some(d) = self.newly_published {
            p.newly_published_secs = parse_duration(&d)
                .map_err(|m| invalid(format!("machine_images.newly_published: {m}")))?;
        }
        Ok(p)
    }
}

fn check_owner(owner: &str) -> Result<(), String> {
    match owner {
        "" => Err("an empty owner".into()),
        // AWS's `none` means "my own account", which an offline check can not know.
        "none" | "self" => Err(format!(
            "`{owner}` can not be checked offline: write your 12-digit account id instead"
        )),
        _ if owner.bytes().all(|b| b.is_ascii_digit()) && owner.len() != 12 => Err(format!(
            "`{owner}` is not an AWS account id (12 digits) nor a name"
        )),
        _ if !owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
        {
            Err(format!(
                "`{owner}` is not an account id, alias, GCP project or Azure publisher name"
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(86_400));
        assert_eq!(parse_duration("90m"), Ok(5_400));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("0s"), Ok(0));
        for bad in [
            "",
            "h",
            "24",
            "24 h",
            "1.5h",
            "-1h",
            "24hours",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn owners() {
        for good in [
            "amazon",
            "aws-marketplace",
            "099720109477",
            "debian-cloud",
            "Canonical",
        ] {
            assert!(check_owner(good).is_ok(), "{good}");
        }
        for bad in ["", "none", "self", "12345", "a b", "x/y"] {
            assert!(check_owner(bad).is_err(), "{bad}");
        }
    }
}
