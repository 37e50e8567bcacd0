//! The official publishers of cloud machine images, from `content/machine-images/`: who
//! they are on each cloud (AWS account ids and aliases, GCP projects, Azure publisher ids)
//! and how they name their images. Parsed strictly, like the indicator lists: a malformed
//! line fails with the file and line.

use std::collections::BTreeSet;

use customs_content::list::{list_error as invalid, parse_list};
use customs_content::{Bundle, ContentError};
use globset::{GlobBuilder, GlobMatcher};

use super::Cloud;

const FILES: [(Cloud, &str, &str); 3] = [
    (
        Cloud::Aws,
        "machine-images/aws-owners.txt",
        "machine-images/aws-names.txt",
    ),
    (
        Cloud::Gcp,
        "machine-images/gcp-projects.txt",
        "machine-images/gcp-names.txt",
    ),
    (
        Cloud::Azure,
        "machine-images/azure-publishers.txt",
        "machine-images/azure-offers.txt",
    ),
];

/// One owner of an official publisher.
#[derive(Clone, Debug)]
pub struct Owner {
    /// Publisher key (`canonical`), shared by its entries on every cloud.
    pub publisher: String,
    /// Account id, alias, project or publisher id, as written.
    pub owner: String,
    /// What the source says it publishes.
    pub note: String,
    /// The public page that states it.
    pub source: String,
}

/// One naming pattern of an official publisher.
#[derive(Clone, Debug)]
pub struct NamePattern {
    /// Publisher key.
    pub publisher: String,
    /// The glob as written.
    pub glob: String,
    matcher: GlobMatcher,
}

impl NamePattern {
    /// Whether `name` follows this pattern (case-insensitively).
    pub fn matches(&self, name: &str) -> bool {
        self.matcher.is_match(name)
    }
}

/// Every official publisher of one cloud.
#[derive(Clone, Debug, Default)]
pub struct CloudPublishers {
    /// Owners, in file order.
    pub owners: Vec<Owner>,
    /// Naming patterns, in file order.
    pub names: Vec<NamePattern>,
}

impl CloudPublishers {
    /// The entry for `owner`, compared as the cloud compares (Azure ignores case).
    pub fn owner(&self, cloud: Cloud, owner: &str) -> Option<&Owner> {
        self.owners
            .iter()
            .find(|o| same_owner(cloud, &o.owner, owner))
    }

    /// Every owner of `publisher`.
    pub fn owners_of<'a>(&'a self, publisher: &'a str) -> impl Iterator<Item = &'a Owner> + 'a {
        self.owners.iter().filter(move |o| o.publisher == publisher)
    }
}

/// Whether two owner names are the same owner on `cloud`.
pub fn same_owner(cloud: Cloud, a: &str, b: &str) -> bool {
    match cloud {
        Cloud::Azure => a.eq_ignore_ascii_case(b),
        Cloud::Aws | Cloud::Gcp => a == b,
    }
}

/// The official publishers of every cloud.
#[derive(Clone, Debug, Default)]
pub struct Publishers {
    aws: CloudPublishers,
    gcp: CloudPublishers,
    azure: CloudPublishers,
}

impl Publishers {
    /// Loads and checks the lists of `bundle`. A list missing from a bundle is empty.
    pub fn from_bundle(bundle: &Bundle) -> Result<Publishers, ContentError> {
        let mut p = Publishers::default();
        for (cloud, owners_path, names_path) in FILES {
            let owners = match bundle.file(owners_path) {
                Some(b) => parse_owners(owners_path, b, cloud)?,
                None => Vec::new(),
            };
            let known: BTreeSet<&str> = owners.iter().map(|o| o.publisher.as_str()).collect();
            let names = match bundle.file(names_path) {
                Some(b) => parse_names(names_path, b, &known)?,
                None => Vec::new(),
            };
            *p.cloud_mut(cloud) = CloudPublishers { owners, names };
        }
        Ok(p)
    }

    /// The publishers of one cloud.
    pub fn cloud(&self, cloud: Cloud) -> &CloudPublishers {
        match cloud {
            Cloud::Aws => &self.aws,
            Cloud::Gcp => &self.gcp,
            Cloud::Azure => &self.azure,
        }
    }

    fn cloud_mut(&mut self, cloud: Cloud) -> &mut CloudPublishers {
        match cloud {
            Cloud::Aws => &mut self.aws,
            Cloud::Gcp => &mut self.gcp,
            Cloud::Azure => &mut self.azure,
        }
    }
}

/// One line of a `publisher:VALUE | NOTE | SOURCE` list.
struct Entry {
    line: usize,
    publisher: String,
    value: String,
    note: String,
    source: String,
}

/// Every entry of a list; the same value twice (whatever its publisher, in any case) is an
/// error naming both lines.
fn entries(path: &str, bytes: &[u8]) -> Result<Vec<Entry>, ContentError> {
    let value_part = |v: &str| v.split_once(':').map_or(v, |(_, v)| v).to_ascii_lowercase();
    parse_list(path, bytes, "PUBLISHER:VALUE", value_part)?
        .into_iter()
        .map(|l| {
            let Some((publisher, value)) = l.value.split_once(':') else {
                return Err(invalid(
                    path,
                    l.line,
                    format!("`{}` is not `publisher:value`", l.value),
                ));
            };
            if publisher.is_empty()
                || !publisher
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(invalid(
                    path,
                    l.line,
                    format!("publisher `{publisher}` is not lowercase letters, digits and `-`"),
                ));
            }
            if value.is_empty() {
                return Err(invalid(path, l.line, "empty value or note"));
            }
            Ok(Entry {
                line: l.line,
                publisher: publisher.into(),
                value: value.into(),
                note: l.note.into(),
                source: l.source.into(),
            })
        })
        .collect()
}

fn parse_owners(path: &str, bytes: &[u8], cloud: Cloud) -> Result<Vec<Owner>, ContentError> {
    let mut out = Vec::new();
    for Entry {
        line,
        publisher,
        value: owner,
        note,
        source,
    } in entries(path, bytes)?
    {
        let ok = match cloud {
            // An account id, or an alias AWS itself sets.
            Cloud::Aws => {
                (owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit()))
                    || super::AWS_ALIASES.contains(&owner.as_str())
            }
            // Project ids: 6–30 lowercase letters, digits and hyphens, starting with a letter.
            Cloud::Gcp => {
                (6..=30).contains(&owner.len())
                    && owner.starts_with(|c: char| c.is_ascii_lowercase())
                    && owner
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            }
            Cloud::Azure => owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
        };
        if !ok {
            return Err(invalid(
                path,
                line,
                format!("`{owner}` is not a {} owner", cloud.as_str()),
            ));
        }
        out.push(Owner {
            publisher,
            owner,
            note,
            source,
        });
    }
    Ok(out)
}

fn parse_names(
    path: &str,
    bytes: &[u8],
    known: &BTreeSet<&str>,
) -> Result<Vec<NamePattern>, ContentError> {
    let mut out = Vec::new();
    for Entry {
        line,
        publisher,
        value: glob,
        ..
    } in entries(path, bytes)?
    {
        if !known.contains(publisher.as_str()) {
            return Err(invalid(
                path,
                line,
                format!("publisher `{publisher}` has no owner in this cloud's owner list"),
            ));
        }
        // A pattern that is all wildcard would make every image an impersonation.
        if glob.chars().filter(|c| c.is_ascii_alphanumeric()).count() < 3 {
            return Err(invalid(
                path,
                line,
                format!("pattern `{glob}` is too broad"),
            ));
        }
        let matcher = GlobBuilder::new(&glob)
            .case_insensitive(true)
            .literal_separator(false)
            .build()
            .map_err(|e| invalid(path, line, format!("pattern `{glob}`: {e}")))?
            .compile_matcher();
        out.push(NamePattern {
            publisher,
            glob,
            matcher,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<Vec<Owner>, ContentError>) -> String {
        match r {
            Ok(v) => panic!("accepted {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let p = "machine-images/aws-owners.txt";
        let m = message(parse_owners(
            p,
            b"# c\ncanonical:12345 | x | https://a.example/",
            Cloud::Aws,
        ));
        assert!(m.contains("line 2") && m.contains("12345"), "{m}");
        let m = message(parse_owners(
            p,
            b"099720109477 | x | https://a.example/",
            Cloud::Aws,
        ));
        assert!(m.contains("publisher:value"), "{m}");
        let m = message(parse_owners(
            p,
            b"canonical:099720109477 | x | not a url",
            Cloud::Aws,
        ));
        assert!(m.contains("http"), "{m}");
        let m = message(parse_owners(
            p,
            b"a:099720109477 | x | https://a.example/\nb:099720109477 | y | https://b.example/",
            Cloud::Aws,
        ));
        assert!(m.contains("line 2") && m.contains("line 1"), "{m}");
        let m = message(parse_owners(
            p,
            b"a:deb | x | https://a.example/",
            Cloud::Gcp,
        ));
        assert!(m.contains("gcp"), "{m}");
        assert_eq!(
            parse_owners(p, b"x:amazon | AWS alias | https://a.example/", Cloud::Aws)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn name_patterns_need_a_known_publisher_and_substance() {
        let p = "machine-images/aws-names.txt";
        let known = BTreeSet::from(["canonical"]);
        let ok = parse_names(
            p,
            b"canonical:ubuntu/images/* | x | https://a.example/",
            &known,
        )
        .unwrap();
        assert!(ok[0].matches("UBUNTU/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240501"));
        assert!(!ok[0].matches("my-ubuntu/images/x"));
        assert!(parse_names(p, b"debian:debian-* | x | https://a.example/", &known).is_err());
        assert!(parse_names(p, b"canonical:*-* | x | https://a.example/", &known).is_err());
    }

    #[test]
    fn shipped_lists_load() {
        let bundle = Bundle::embedded().unwrap();
        let p = Publishers::from_bundle(&bundle).unwrap();
        let aws = p.cloud(Cloud::Aws);
        assert_eq!(
            aws.owner(Cloud::Aws, "099720109477").unwrap().publisher,
            "canonical"
        );
        assert!(aws.owner(Cloud::Aws, "amazon").is_some());
        assert!(
            aws.names
                .iter()
                .any(|n| n.matches("al2023-ami-2023.4.20240513.0-kernel-6.1-x86_64"))
        );
        assert!(
            p.cloud(Cloud::Gcp)
                .owner(Cloud::Gcp, "debian-cloud")
                .is_some()
        );
        assert!(
            p.cloud(Cloud::Azure)
                .owner(Cloud::Azure, "canonical")
                .is_some()
        );
    }
}
