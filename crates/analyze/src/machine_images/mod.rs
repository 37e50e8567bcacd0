//! Cloud machine images, offline: `customs ami check` reads the image lists that `aws ec2
//! describe-images`, `gcloud compute images list` and `az vm image list` print, and flags
//! images a launch should not trust:
//!
//! - `ami-owner-not-allowed`: the owner is neither an official publisher (bundled in
//!   `content/machine-images/`) nor in the policy's `allowed_owners` (AWS "Allowed AMIs"
//!   semantics: the aliases `amazon`, `aws-marketplace`, `aws-backup-vault`, and account ids);
//! - `ami-name-impersonation`: the name follows an official publisher's naming but the owner
//!   is not that publisher; with high confidence when it is the newest image of its name in
//!   the list, which a "most recent image named ubuntu-*" lookup picks (the whoAMI pattern);
//! - `ami-owner-lookalike`: a GCP project or Azure publisher named like an official one;
//! - `ami-newly-published`: a public image from an owner not allowed, created less than the
//!   policy's `newly_published` before now;
//! - `ami-deprecated`: an image its publisher has deprecated.
//!
//! ```
//! use customs_analyze::machine_images::{CheckOptions, Publishers, check, parse_list};
//! let bundle = customs_content::Bundle::embedded().unwrap();
//! let publishers = Publishers::from_bundle(&bundle).unwrap();
//! let list = parse_list(br#"{"Images": [{"ImageId": "ami-0a1b2c3d4e5f60718",
//!     "Name": "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240501",
//!     "OwnerId": "111122223333", "Public": true,
//!     "CreationDate": "2024-05-02T03:00:00.000Z"}]}"#).unwrap();
//! let images: Vec<_> = list.entries.into_iter().map(Result::unwrap).collect();
//! let now = 1_714_640_400; // 2024-05-02T09:00:00Z
//! let findings = check(&images, &publishers, &CheckOptions::new(now));
//! let rules: Vec<&str> = findings[0].iter().map(|f| f.rule.as_str()).collect();
//! assert!(rules.contains(&"ami-name-impersonation"));
//! assert!(rules.contains(&"ami-owner-not-allowed"));
//! assert!(rules.contains(&"ami-newly-published"));
//! ```

mod list;
mod publishers;
mod time;

use std::collections::HashMap;

use customs_core::{Confidence, Finding, MachineImageInfo, Platform, Severity, attack};

use crate::Rule;

pub use list::{ImageList, parse_list};
pub use publishers::{CloudPublishers, NamePattern, Owner, Publishers};
pub use time::parse_rfc3339;

/// The version of these checks; bumped when their findings for the same input change.
pub const VERSION: u32 = 1;

/// Owner aliases AWS sets itself (an account can not choose them), as "Allowed AMIs" names
/// them.
pub const AWS_ALIASES: [&str; 3] = ["amazon", "aws-marketplace", "aws-backup-vault"];

/// Implant Internal Image: an image placed in, or shared into, the victim's own account.
const IMPLANT_INTERNAL_IMAGE: &str = "T1525";

/// A list that can not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MachineImageError {
    /// Not JSON.
    #[error("not JSON (line {line}, column {column}): {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// JSON, but not one of the three lists.
    #[error(
        "not the JSON of `aws ec2 describe-images`, `gcloud compute images list --format=json` \
         or `az vm image list -o json`: {0}"
    )]
    UnknownShape(String),
}

/// Which cloud an image list comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cloud {
    /// Amazon EC2 (AMIs).
    Aws,
    /// Google Compute Engine.
    Gcp,
    /// Azure Marketplace.
    Azure,
}

impl Cloud {
    /// `aws`, `gcp` or `azure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Gcp => "gcp",
            Cloud::Azure => "azure",
        }
    }
}

/// One machine image as its cloud's list describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineImage {
    /// Its cloud.
    pub cloud: Cloud,
    /// `ami-…`, `projects/P/global/images/N`, or the Azure URN.
    pub id: String,
    /// AWS `Name`, GCE `name`, Azure `offer:sku`.
    pub name: String,
    /// AWS `OwnerId`, the GCP project, the Azure publisher.
    pub owner: String,
    /// AWS `ImageOwnerAlias`.
    pub owner_alias: Option<String>,
    /// AWS `Public`; `None` where the list does not say (GCP).
    pub public: Option<bool>,
    /// The creation time as the list gives it.
    pub created: Option<String>,
    /// The creation time in Unix seconds.
    pub created_unix: Option<i64>,
    /// AWS `DeprecationTime` in Unix seconds.
    pub deprecated_unix: Option<i64>,
    /// GCE `deprecated.state` (`DEPRECATED`, `OBSOLETE`, `DELETED`).
    pub deprecated_state: Option<String>,
    /// OS and architecture, where the list gives a known architecture.
    pub platform: Option<Platform>,
    /// GCE image family.
    pub family: Option<String>,
}

impl MachineImage {
    /// What the report says about it.
    pub fn info(&self) -> MachineImageInfo {
        MachineImageInfo {
            cloud: self.cloud.as_str().into(),
            id: self.id.clone(),
            owner: self.owner.clone(),
            owner_alias: self.owner_alias.clone(),
            public: self.public,
        }
    }

    /// The part of the name that official naming patterns describe: the Azure offer, else
    /// the name.
    fn pattern_name(&self) -> &str {
        match self.cloud {
            Cloud::Azure => self.name.split(':').next().unwrap_or(&self.name),
            Cloud::Aws | Cloud::Gcp => &self.name,
        }
    }

    /// The name with every run of digits as `#`: images of one series built on different
    /// days (`…-server-20240501`, `…-server-20240523`) share it.
    fn series(&self) -> String {
        let mut out = String::with_capacity(self.name.len());
        let mut in_digits = false;
        for c in self.pattern_name().chars() {
            if c.is_ascii_digit() {
                if !in_digits {
                    out.push('#');
                }
                in_digits = true;
            } else {
                out.push(c.to_ascii_lowercase());
                in_digits = false;
            }
        }
        out
    }
}

/// What the checks accept; the CLI fills it from the policy's `[machine_images]`.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Allowed owners besides the official publishers: AWS aliases and account ids, GCP
    /// projects, Azure publishers.
    pub allowed_owners: Vec<String>,
    /// Whether the bundled official publishers are allowed.
    pub official_publishers: bool,
    /// Public images younger than this (seconds) from owners not allowed are "newly published".
    pub newly_published_secs: u64,
    /// "Now", in Unix seconds.
    pub now_unix: i64,
}

impl CheckOptions {
    /// The defaults (official publishers allowed, 24 h) at `now_unix`.
    pub fn new(now_unix: i64) -> CheckOptions {
        CheckOptions {
            allowed_owners: Vec::new(),
            official_publishers: true,
            newly_published_secs: 24 * 3600,
            now_unix,
        }
    }

    fn explicitly_allowed(&self, image: &MachineImage) -> bool {
        self.allowed_owners.iter().any(|a| {
            publishers::same_owner(image.cloud, a, &image.owner)
                || (image.cloud == Cloud::Aws && image.owner_alias.as_deref() == Some(a.as_str()))
        })
    }
}

const OWNER_NOT_ALLOWED: Rule = Rule {
    id: "ami-owner-not-allowed",
    title: "Machine image from an owner that is not allowed",
    severity: Severity::High,
    confidence: Confidence::Low,
    attack: &[attack::MALICIOUS_IMAGE],
    description: "Anyone can publish a public machine image under any name. This one's owner \
        is neither an official publisher customs knows nor in the policy's \
        `[machine_images] allowed_owners` (AWS \"Allowed AMIs\" semantics). Launch only images \
        from owners you have vetted; add the owner to `allowed_owners` once you have.",
};

const OWNER_NOT_ALLOWED_PRIVATE: Rule = Rule {
    id: "ami-owner-not-allowed",
    title: "Private machine image from an owner that is not allowed",
    severity: Severity::Medium,
    confidence: Confidence::Low,
    attack: &[attack::MALICIOUS_IMAGE, IMPLANT_INTERNAL_IMAGE],
    description: "The image is not public: it belongs to your account or another account shared \
        it with yours, and its owner is not in `[machine_images] allowed_owners`. Put your own \
        account ids there; an image shared by an account you do not know is how an implanted \
        image reaches a launch template.",
};

const NAME_IMPERSONATION: Rule = Rule {
    id: "ami-name-impersonation",
    title: "Machine image named like an official publisher's, from another owner",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &[attack::MATCH_LEGITIMATE_NAME, attack::MALICIOUS_IMAGE],
    description: "The image's name follows an official publisher's naming, but its owner is not \
        that publisher. A lookup that filters on the name alone and takes the most recent image \
        (Terraform `most_recent = true` without `owners`, `describe-images` sorted by date) \
        launches whatever the newest same-named image is: the whoAMI attack. Always filter on \
        the publisher's owner id.",
};

const NAME_IMPERSONATION_NEWEST: Rule = Rule {
    confidence: Confidence::High,
    ..NAME_IMPERSONATION
};

const OWNER_LOOKALIKE: Rule = Rule {
    id: "ami-owner-lookalike",
    title: "Image publisher named like an official one",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &[attack::MATCH_LEGITIMATE_NAME, attack::MALICIOUS_IMAGE],
    description: "The GCP project or Azure publisher that owns this image is not an official \
        publisher, but its name is one or two edits away from one, or contains one. Check who \
        really publishes it before launching.",
};

const NEWLY_PUBLISHED: Rule = Rule {
    id: "ami-newly-published",
    title: "Newly published machine image from an owner that is not allowed",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE],
    description: "A public image created moments ago by an owner nobody vetted: ATT&CK's \
        detection advice for malicious images is to watch for newly built, unvetted ones. The \
        threshold is `[machine_images] newly_published` (default 24h).",
};

const DEPRECATED: Rule = Rule {
    id: "ami-deprecated",
    title: "Machine image deprecated by its publisher",
    severity: Severity::Low,
    confidence: Confidence::High,
    // Launching an image nobody maintains any more is the user-execution step of
    // T1204.003, even when the publisher is trusted.
    attack: &[attack::MALICIOUS_IMAGE],
    description: "Its publisher has deprecated the image: it no longer gets fixes and may be \
        removed. Use the publisher's current image.",
};

/// Every rule this analyzer gives, for the checks in `lib.rs`.
#[cfg(test)]
pub(crate) const RULES: &[&Rule] = &[
    &OWNER_NOT_ALLOWED,
    &OWNER_NOT_ALLOWED_PRIVATE,
    &NAME_IMPERSONATION,
    &NAME_IMPERSONATION_NEWEST,
    &OWNER_LOOKALIKE,
    &NEWLY_PUBLISHED,
    &DEPRECATED,
];

/// Checks every image of one list; returns each image's findings, in list order. Images are
/// checked together because "the newest image of this name" is a property of the list.
pub fn check(
    images: &[MachineImage],
    publishers: &Publishers,
    opts: &CheckOptions,
) -> Vec<Vec<Finding>> {
    // The newest creation time of each name series, for the whoAMI test.
    let mut newest: HashMap<(Cloud, String), (i64, usize)> = HashMap::new();
    for img in images {
        if let Some(t) = img.created_unix {
            let e = newest.entry((img.cloud, img.series())).or_insert((t, 0));
            e.0 = e.0.max(t);
            e.1 += 1;
        }
    }
    images
        .iter()
        .map(|img| check_one(img, publishers.cloud(img.cloud), opts, &newest))
        .collect()
}

fn owner_label(img: &MachineImage) -> String {
    match &img.owner_alias {
        Some(a) => format!("{} (alias {a})", img.owner),
        None => img.owner.clone(),
    }
}

fn check_one(
    img: &MachineImage,
    official: &CloudPublishers,
    opts: &CheckOptions,
    newest: &HashMap<(Cloud, String), (i64, usize)>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let official_owner = official.owner(img.cloud, &img.owner).or_else(|| {
        // AWS's own aliases vouch for the account (`amazon`, `aws-marketplace`).
        img.owner_alias
            .as_deref()
            .and_then(|a| official.owner(img.cloud, a))
    });
    let explicitly = opts.explicitly_allowed(img);
    let allowed = explicitly || (opts.official_publishers && official_owner.is_some());
    let kind = match img.public {
        Some(false) => "private",
        Some(true) => "public",
        None => "listed",
    };

    if !allowed {
        let why = if official_owner.is_some() {
            "an official publisher, but the policy sets official_publishers = false"
        } else {
            "not an official publisher"
        };
        let rule = if img.public == Some(false) {
            &OWNER_NOT_ALLOWED_PRIVATE
        } else {
            &OWNER_NOT_ALLOWED
        };
        out.push(rule.finding(
            None,
            format!(
                "{kind} {} {} `{}` owned by {}: {why}, and not in allowed_owners",
                img.cloud.as_str(),
                img.id,
                img.name,
                owner_label(img)
            ),
        ));
    }

    // An owner the policy names, or one AWS vouches for with its own alias, is not an
    // impersonator whatever it calls its images.
    let vouched = img.cloud == Cloud::Aws
        && img
            .owner_alias
            .as_deref()
            .is_some_and(|a| AWS_ALIASES.contains(&a));
    if !explicitly && !vouched {
        let name = img.pattern_name();
        let imitated = official.names.iter().find(|p| {
            p.matches(name)
                && !official
                    .owners_of(&p.publisher)
                    .any(|o| publishers::same_owner(img.cloud, &o.owner, &img.owner))
        });
        if let Some(p) = imitated {
            let owners: Vec<&str> = official
                .owners_of(&p.publisher)
                .map(|o| o.owner.as_str())
                .collect();
            let series = newest.get(&(img.cloud, img.series()));
            let is_newest =
                matches!((img.created_unix, series), (Some(t), Some((n, _))) if t >= *n);
            let (rule, how) = match series {
                Some((_, count)) if is_newest => (
                    &NAME_IMPERSONATION_NEWEST,
                    format!(
                        "; it is the newest of the {count} image(s) of this name in the list, so a \
                         most-recent lookup by name picks it (whoAMI)"
                    ),
                ),
                _ => (&NAME_IMPERSONATION, String::new()),
            };
            out.push(rule.finding(
                None,
                format!(
                    "`{name}` follows {}'s naming `{}`, but the owner is {}, not {} ({}){how}",
                    p.publisher,
                    p.glob,
                    owner_label(img),
                    p.publisher,
                    owners.join(", ")
                ),
            ));
        }
    }

    if !allowed
        && official_owner.is_none()
        && img.cloud != Cloud::Aws
        && let Some(o) = lookalike_owner(&img.owner, official)
    {
        out.push(OWNER_LOOKALIKE.finding(
            None,
            format!(
                "{} `{}` is named like {}'s `{}`",
                if img.cloud == Cloud::Gcp {
                    "project"
                } else {
                    "publisher"
                },
                img.owner,
                o.publisher,
                o.owner
            ),
        ));
    }

    if !allowed
        && img.public != Some(false)
        && let Some(t) = img.created_unix
    {
        let age = opts.now_unix - t;
        if age < opts.newly_published_secs as i64 {
            out.push(NEWLY_PUBLISHED.finding(
                None,
                format!(
                    "created {} ({}), newer than the {} s threshold",
                    img.created.as_deref().unwrap_or("?"),
                    time::human_age(age),
                    opts.newly_published_secs
                ),
            ));
        }
    }

    let deprecated = match (img.deprecated_unix, img.deprecated_state.as_deref()) {
        (Some(t), _) if t <= opts.now_unix => Some("its DeprecationTime has passed".to_string()),
        (_, Some(s)) if ["DEPRECATED", "OBSOLETE", "DELETED"].contains(&s) => {
            Some(format!("deprecated.state is {s}"))
        }
        _ => None,
    };
    if let Some(why) = deprecated {
        out.push(DEPRECATED.finding(None, format!("{} `{}`: {why}", img.id, img.name)));
    }
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    out
}

/// The official owner that `owner` imitates: one or two edits away, or containing it, after
/// folding case and dropping separators. Short names (`SUSE`) only match at one edit, so
/// unrelated short publishers are not caught.
fn lookalike_owner<'a>(owner: &str, official: &'a CloudPublishers) -> Option<&'a Owner> {
    let fold = |s: &str| -> Vec<char> {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let mine = fold(owner);
    official.owners.iter().find(|o| {
        let theirs = fold(&o.owner);
        if theirs.is_empty() {
            return false;
        }
        // Reached only for owners that are not official: the same letters with other
        // separators or case (`Canonical_`) are a look-alike.
        if mine == theirs {
            return true;
        }
        let limit = if theirs.len() >= 8 { 2 } else { 1 };
        let contains =
            theirs.len() >= 6 && mine.windows(theirs.len()).any(|w| w == theirs.as_slice());
        contains || edit_distance(&mine, &theirs) <= limit
    })
}

/// Edit distance where swapping two neighbours counts as one edit (`Debain`).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests;
