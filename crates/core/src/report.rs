use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Finding, Severity};

/// The value of the report's `schema` field; bumped only with a contract change.
pub const REPORT_SCHEMA: &str = "customs.report/v1";

/// An OS/architecture pair, written `os/arch[/variant]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// GOARCH spelling: `amd64`, `arm64`, …
    pub architecture: String,
    /// `v7`, `v8`, …
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of the machine running customs, in GOARCH spelling.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// Whether `self`, as a requested platform, accepts `candidate`. A request without a
    /// variant accepts any variant.
    pub fn accepts(&self, candidate: &Platform) -> bool {
        self.os == candidate.os
            && self.architecture == candidate.architecture
            && (self.variant.is_none() || self.variant == candidate.variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok =
            |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if ok(os) && ok(arch) && ok(v) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(format!(
                "bad platform `{s}` (expected os/arch or os/arch/variant)"
            )),
        }
    }
}

impl Serialize for Platform {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Platform {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What the scan concluded about one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// At least one finding proves malice.
    Malicious,
    /// Findings that need a human.
    Suspicious,
    /// Every byte was read and nothing at medium or above was found.
    Clean,
    /// Something could not be read: never reported as clean.
    Error,
}

impl Verdict {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Malicious => "malicious",
            Verdict::Suspicious => "suspicious",
            Verdict::Clean => "clean",
            Verdict::Error => "error",
        }
    }
}

/// One layer as the report lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Blob digest (or the uncompressed diff id where the source has no blob digest).
    pub digest: String,
    /// Media type as the manifest gives it.
    pub media_type: String,
    /// Blob size in bytes.
    pub size: u64,
    /// The history `created_by` of the build step that made this layer.
    pub created_by: Option<String>,
}

/// The parts of the image configuration that say what the image runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfigSummary {
    /// `Entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`.
    pub cmd: Option<Vec<String>>,
    /// `Env`.
    pub env: Vec<String>,
    /// `User`; empty means root.
    pub user: Option<String>,
    /// `WorkingDir`.
    pub working_dir: Option<String>,
    /// `ExposedPorts` keys.
    pub exposed_ports: Vec<String>,
    /// `Labels`.
    pub labels: BTreeMap<String, String>,
    /// Every history entry's `created_by`, including empty layers, in build order.
    pub history: Vec<String>,
}

/// What was scanned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// The name the image is known by (reference, RepoTags, annotation or `--name`).
    pub name: Option<String>,
    /// Manifest digest, where there is a manifest.
    pub digest: Option<String>,
    /// Platform from the config.
    pub platform: Option<Platform>,
    /// `created` from the config.
    pub created: Option<String>,
    /// Layers, base first.
    pub layers: Vec<LayerInfo>,
    /// What the image runs.
    pub config: Option<ImageConfigSummary>,
    /// The cloud machine image this entry describes (`customs ami check`); null for
    /// container images.
    #[serde(default)]
    pub machine_image: Option<MachineImageInfo>,
}

/// A cloud machine image as its cloud's image list describes it: an AWS AMI, a Google
/// Compute Engine image or an Azure Marketplace image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineImageInfo {
    /// `aws`, `gcp` or `azure`.
    pub cloud: String,
    /// The image's id: `ami-…`, the GCE image's self link path, or the Azure URN.
    pub id: String,
    /// Who published it: the AWS account id, the GCP project or the Azure publisher.
    pub owner: String,
    /// AWS `ImageOwnerAlias` (`amazon`, `aws-marketplace`, …), set by AWS, never by the owner.
    pub owner_alias: Option<String>,
    /// Whether anyone may launch it; null where the list does not say.
    pub public: Option<bool>,
}

/// Something not fully read, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Path inside the image, or a layer digest when a whole layer was cut short.
    pub path: String,
    /// Why it was not fully read.
    pub reason: String,
    /// The layer it was in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// How much of the image was read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Regular files read (every layer, deleted ones included).
    pub files: u64,
    /// Bytes of file content read.
    pub bytes: u64,
    /// What was not fully read. Anything here makes the scan incomplete.
    pub skipped: Vec<Skipped>,
    /// Files read and hashed whole, but larger than what a content analyzer looks at
    /// (YARA reads the first `--max-scan-size` bytes). Listed, not an incomplete scan.
    #[serde(default)]
    pub partial: Vec<Skipped>,
    /// Package-owned files whose digest matched the image's own package database (dpkg,
    /// apk, rpm): the file is the one the distribution shipped.
    #[serde(default)]
    pub verified_by_package_db: u64,
}

/// Which detection content produced the findings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentInfo {
    /// Content bundle version.
    pub version: String,
    /// Digest over the whole bundle.
    pub digest: String,
}

/// What set the verdict and the score, as indices into the report's own arrays, so every
/// verdict can be traced to the items that caused it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drivers {
    /// Indices into `findings`: the findings at the worst weight among those that count for
    /// the verdict (for `malicious` and `suspicious`, those meeting that verdict's
    /// threshold; otherwise every finding, and none when the worst weight is 0).
    pub findings: Vec<usize>,
    /// Indices into `errors`; each one alone makes the verdict `error`.
    pub errors: Vec<usize>,
    /// Indices into `coverage.skipped` that made the verdict `error` (an incomplete scan);
    /// empty when incomplete scans are allowed.
    pub skipped: Vec<usize>,
}

/// A finding an ignore entry removed from `findings`, listed so nothing disappears silently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppressed {
    /// The finding's rule id.
    pub rule: String,
    /// The finding's severity.
    pub severity: Severity,
    /// The finding's path, if it had one.
    pub path: Option<String>,
    /// The layer that added the file, if known.
    pub layer: Option<String>,
    /// The ignore entry's reason.
    pub reason: String,
}

/// An ignore entry past its expiry date that matches findings of this image: it no longer
/// applies, so those findings are in `findings` again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiredIgnore {
    /// The entry's rule id.
    pub rule: Option<String>,
    /// The entry's path glob.
    pub path: Option<String>,
    /// The entry's image or layer digest.
    pub image: Option<String>,
    /// The entry's reason.
    pub reason: String,
    /// The day it expired after (`YYYY-MM-DD`).
    pub expires: String,
}

/// The result of scanning one image (one target, one platform).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// The target as given on the command line.
    pub target: String,
    /// What was scanned; absent when the target could not even be opened.
    pub image: Option<ImageInfo>,
    /// The conclusion.
    pub verdict: Verdict,
    /// 0 (nothing) to 100 (certainly malicious), from the worst finding.
    pub score: u32,
    /// Findings, worst first.
    pub findings: Vec<Finding>,
    /// How much was read.
    pub coverage: Coverage,
    /// Detection content in use.
    pub content: ContentInfo,
    /// Errors that made the verdict `error`.
    pub errors: Vec<String>,
    /// Wall time of this scan.
    pub duration_ms: u64,
    /// What set the verdict and the score.
    #[serde(default)]
    pub drivers: Drivers,
    /// Findings removed by ignore entries, with their reasons.
    #[serde(default)]
    pub suppressed: Vec<Suppressed>,
    /// Expired ignore entries that would have removed findings of this image.
    #[serde(default)]
    pub ignored_expired: Vec<ExpiredIgnore>,
}

impl Report {
    /// The worst severity among the findings.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_round_trip() {
        let p: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert!("linux".parse::<Platform>().is_err());
        let req: Platform = "linux/arm".parse().unwrap();
        assert!(req.accepts(&p));
        assert!(!p.accepts(&"linux/arm/v6".parse().unwrap()));
    }
}
