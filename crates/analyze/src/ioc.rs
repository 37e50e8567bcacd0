//! Indicator lists from `content/ioc/` (mining pool domains, stratum ports, known-bad file
//! hashes, known malicious image repositories) and the analyzers that look them up.
//!
//! The lists are data with a public source per entry; the format is in
//! `content/ioc/README.md`. They are parsed strictly: a malformed or duplicate line is a
//! [`ContentError::Invalid`] naming the file and line, so broken content fails CI instead of
//! silently matching nothing.

use std::collections::HashMap;
use std::sync::Arc;

use customs_content::list::{list_error, parse_list as parse_lines};
use customs_content::{Bundle, ContentError};
use customs_core::{Confidence, Finding, ImageRef, Severity, attack};
use customs_image::walk::{FileContent, FileEntry};

use crate::miner::{self, PoolMatcher};
use crate::{FileAnalyzer, ImageAnalysis, ImageAnalyzer, ImageView, Rule, Wants};

/// Where each list lives in the bundle.
const POOL_DOMAINS: &str = "ioc/pool-domains.txt";
const STRATUM_PORTS: &str = "ioc/stratum-ports.txt";
const BAD_HASHES: &str = "ioc/bad-hashes.txt";
const MALICIOUS_IMAGES: &str = "ioc/malicious-images.txt";

/// sha256 of zero bytes.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// How much of a file the pool-domain search reads. Pool addresses sit in configs, scripts
/// and the data section of miner binaries; whole-file string matching is the YARA rules' job.
const POOL_SEARCH_BYTES: usize = 1 << 20;

/// One line of an indicator list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IocEntry {
    /// The indicator, as written (a domain, a port, a sha256, an image repository).
    pub value: String,
    /// What it is.
    pub note: String,
    /// The public report or page that states it.
    pub source: String,
    /// The list it came from (path inside the bundle).
    pub file: String,
    /// Line number in that list, from 1.
    pub line: usize,
}

/// Every indicator list of a bundle, checked and indexed.
#[derive(Debug)]
pub struct Iocs {
    pool_domains: Vec<IocEntry>,
    stratum_ports: Vec<IocEntry>,
    bad_hashes: HashMap<String, IocEntry>,
    images: Vec<IocEntry>,
    pools: PoolMatcher,
}

#[derive(Clone, Copy)]
enum Kind {
    Domain,
    Port,
    Sha256,
    Image,
}

/// Parses one list (`content/ioc/README.md`) and checks each value for its list's shape.
fn parse_list(path: &str, bytes: &[u8], kind: Kind) -> Result<Vec<IocEntry>, ContentError> {
    parse_lines(path, bytes, "VALUE", str::to_string)?
        .into_iter()
        .map(|l| {
            check_value(kind, l.value).map_err(|why| list_error(path, l.line, why))?;
            Ok(IocEntry {
                value: l.value.to_string(),
                note: l.note.to_string(),
                source: l.source.to_string(),
                file: path.to_string(),
                line: l.line,
            })
        })
        .collect()
}

fn check_value(kind: Kind, v: &str) -> Result<(), String> {
    match kind {
        Kind::Domain => {
            let labels: Vec<&str> = v.split('.').collect();
            let label_ok = |l: &&str| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            };
            let tld_ok = labels
                .last()
                .is_some_and(|t| t.bytes().all(|b| b.is_ascii_lowercase()));
            if labels.len() < 2 || !labels.iter().all(label_ok) || !tld_ok {
                return Err(format!(
                    "`{v}` is not a lowercase domain name with at least two labels"
                ));
            }
        }
        Kind::Port => {
            let ok = !v.starts_with('0')
                && v.bytes().all(|b| b.is_ascii_digit())
                && v.parse::<u16>().is_ok_and(|p| p > 0);
            if !ok {
                return Err(format!("`{v}` is not a port number (1-65535)"));
            }
        }
        Kind::Sha256 => {
            if v.len() != 64 || !v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(format!("`{v}` is not a sha256 in 64 lowercase hex digits"));
            }
            // Public hash lists do carry it (a sandbox saw an empty file); listed, it would
            // flag every empty file of every image as a known payload.
            if v == EMPTY_SHA256 {
                return Err(format!(
                    "`{v}` is the sha256 of an empty file, which no payload list may hold"
                ));
            }
        }
        Kind::Image => {
            let (name, any_repo) = match v.strip_suffix("/*") {
                Some(ns) => (format!("{ns}/x"), true),
                None => (v.to_string(), false),
            };
            let explicit_registry = v
                .split('/')
                .next()
                .is_some_and(|h| h.contains('.') || h.contains(':') || h == "localhost");
            let r: ImageRef = name
                .parse()
                .map_err(|e| format!("`{v}` is not an image repository: {e}"))?;
            // `r.name()` adds `library/` and drops tags, so a round trip proves the value
            // is written out in full, without tag or digest.
            let canonical = r.name() == name && r.tag.as_deref() == Some("latest");
            // A wildcard covers one account, never every official image.
            let account_ok =
                !any_repo || r.repository.contains('/') && !r.repository.starts_with("library/");
            if !explicit_registry || !canonical || !account_ok {
                return Err(format!(
                    "`{v}` must be written REGISTRY/PATH or REGISTRY/NAMESPACE/*, with no tag or \
                     digest (e.g. `docker.io/library/nginx`)"
                ));
            }
        }
    }
    Ok(())
}

impl Iocs {
    /// Reads the lists of `bundle`. A list the bundle does not carry is empty.
    pub fn from_bundle(bundle: &Bundle) -> Result<Iocs, ContentError> {
        let list = |path: &str, kind| match bundle.file(path) {
            Some(bytes) => parse_list(path, bytes, kind),
            None => Ok(Vec::new()),
        };
        let pool_domains = list(POOL_DOMAINS, Kind::Domain)?;
        let stratum_ports = list(STRATUM_PORTS, Kind::Port)?;
        let bad_hashes = list(BAD_HASHES, Kind::Sha256)?
            .into_iter()
            .map(|e| (e.value.clone(), e))
            .collect();
        let images = list(MALICIOUS_IMAGES, Kind::Image)?;
        let ports = stratum_ports
            .iter()
            .map(|e| e.value.parse().expect("checked when parsed"))
            .collect();
        let pools = PoolMatcher::new(&pool_domains, ports);
        Ok(Iocs {
            pool_domains,
            stratum_ports,
            bad_hashes,
            images,
            pools,
        })
    }

    /// Mining pool domains.
    pub fn pool_domains(&self) -> &[IocEntry] {
        &self.pool_domains
    }

    /// Stratum ports.
    pub fn stratum_ports(&self) -> &[IocEntry] {
        &self.stratum_ports
    }

    /// Known malicious image repositories.
    pub fn malicious_images(&self) -> &[IocEntry] {
        &self.images
    }

    /// The entry for a file hash given as `sha256:<hex>` or bare hex, if it is known bad.
    pub fn bad_hash(&self, sha256: &str) -> Option<&IocEntry> {
        let hex = sha256.strip_prefix("sha256:").unwrap_or(sha256);
        self.bad_hashes.get(&hex.to_ascii_lowercase())
    }

    /// The entry for an image name (`pocosow/centos:7.6.1810`,
    /// `docker.io/alpineos/dockerapi@sha256:…`), if a public report names its repository or
    /// its whole account as malicious. Names are normalized as Docker does; a name that is
    /// not a valid reference matches nothing.
    pub fn known_malicious_image(&self, name: &str) -> Option<&IocEntry> {
        let r: ImageRef = name.trim().parse().ok()?;
        let registry = match r.registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
            other => other,
        };
        let full = format!("{registry}/{}", r.repository);
        self.images
            .iter()
            .find(|e| match e.value.strip_suffix('*') {
                Some(account) => full.starts_with(account) && !full[account.len()..].is_empty(),
                None => e.value == full,
            })
    }

    /// The pool-domain matcher (shared with the config analyzer).
    pub(crate) fn pools(&self) -> &PoolMatcher {
        &self.pools
    }
}

const KNOWN_BAD_HASH: Rule = Rule {
    id: "ioc-known-bad-hash",
    title: "File is a publicly reported malicious payload",
    severity: Severity::Critical,
    confidence: Confidence::High,
    attack: &[attack::MALICIOUS_IMAGE],
    description: "The file's sha256 is on customs' list of files that public reports name as \
        malicious container payloads. The evidence names the report. Do not run the image.",
};

const POOL_DOMAIN: Rule = Rule {
    id: "ioc-mining-pool-domain",
    title: "File mentions a cryptocurrency mining pool",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE, attack::RESOURCE_HIJACKING],
    description: "The file names a public mining pool's domain. Images that are not meant to \
        mine have no reason to know pool addresses; check what reads this file.",
};

const POOL_ADDRESS: Rule = Rule {
    id: "ioc-mining-pool-address",
    title: "File configures a cryptocurrency mining pool",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &[attack::MALICIOUS_IMAGE, attack::RESOURCE_HIJACKING],
    description: "The file names a public mining pool as a connection target: with a stratum \
        scheme, a stratum port, or next to miner settings (pool URL, user, algorithm, donate \
        level). That is a miner configuration; an image that was not built to mine is \
        hijacking whoever runs it.",
};

const KNOWN_IMAGE: Rule = Rule {
    id: "ioc-known-malicious-image-name",
    title: "Image name is a publicly reported malicious repository",
    severity: Severity::Critical,
    confidence: Confidence::High,
    attack: &[attack::MALICIOUS_IMAGE],
    description: "The image's name is a repository, or belongs to an account, that public \
        reports name as distributing malicious images. The evidence names the report.",
};

/// Every rule this analyzer gives, for the documentation check in `lib.rs`.
#[cfg(test)]
pub(crate) const RULES: &[&Rule] = &[&KNOWN_BAD_HASH, &POOL_DOMAIN, &POOL_ADDRESS, &KNOWN_IMAGE];

/// Looks up every regular file's sha256 in the known-bad list and searches its first MiB
/// for mining pool domains.
pub(crate) struct IocFiles {
    iocs: Arc<Iocs>,
}

impl IocFiles {
    pub(crate) fn new(iocs: Arc<Iocs>) -> IocFiles {
        IocFiles { iocs }
    }
}

impl FileAnalyzer for IocFiles {
    fn id(&self) -> &'static str {
        "ioc-files"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self) -> Wants {
        Wants {
            paths: vec![],
            max_size: None,
            bytes: if self.iocs.pool_domains.is_empty() {
                0
            } else {
                POOL_SEARCH_BYTES
            },
            whole: false,
        }
    }
    fn analyze(&self, entry: &FileEntry, content: &FileContent<'_>, out: &mut Vec<Finding>) {
        if let Some(bad) = content
            .sha256
            .as_ref()
            .and_then(|d| self.iocs.bad_hash(&d.to_string()))
        {
            out.push(KNOWN_BAD_HASH.finding(
                Some(&entry.path),
                format!(
                    "sha256 {}: {} ({})",
                    bad.value,
                    miner::printable(&bad.note, 120),
                    bad.source
                ),
            ));
        }
        // One finding per file: the strongest use of any pool it names.
        let mut mention: Option<String> = None;
        for hit in self.iocs.pools.find(content.data) {
            let context = miner::pool_context(content.data, &hit, &self.iocs.pools);
            let shown = miner::printable(&hit.address(), 100);
            if let Some(why) = context {
                out.push(POOL_ADDRESS.finding(
                    Some(&entry.path),
                    format!("{shown} at byte {} ({why}); {}", hit.start, hit.entry.note),
                ));
                return;
            }
            mention.get_or_insert_with(|| {
                format!("{shown} at byte {}; {}", hit.start, hit.entry.note)
            });
        }
        if let Some(evidence) = mention {
            out.push(POOL_DOMAIN.finding(Some(&entry.path), evidence));
        }
    }
}

/// Checks the image's name against the known malicious repositories.
pub(crate) struct IocNames {
    iocs: Arc<Iocs>,
}

impl IocNames {
    pub(crate) fn new(iocs: Arc<Iocs>) -> IocNames {
        IocNames { iocs }
    }
}

impl ImageAnalyzer for IocNames {
    fn id(&self) -> &'static str {
        "ioc-names"
    }
    fn version(&self) -> u32 {
        2
    }
    fn analyze(&self, view: &ImageView<'_>, out: &mut ImageAnalysis) {
        for name in view.image.names() {
            let Some(e) = self.iocs.known_malicious_image(name) else {
                continue;
            };
            out.findings.push(KNOWN_IMAGE.finding(
                None,
                format!(
                    "name {} is listed as {}: {} ({})",
                    miner::printable(name, 200),
                    e.value,
                    e.note,
                    e.source
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "https://example.org/report";

    fn line(kind: Kind, body: &str) -> Result<Vec<IocEntry>, ContentError> {
        parse_list("ioc/x.txt", body.as_bytes(), kind)
    }

    fn message(r: Result<Vec<IocEntry>, ContentError>) -> String {
        match r {
            Err(ContentError::Invalid { path, message }) => format!("{path}: {message}"),
            other => panic!("expected an invalid-content error, got {other:?}"),
        }
    }

    #[test]
    fn good_lists_parse_with_line_numbers() {
        let body =
            format!("# comment\n\nsupportxmr.com | pool | {SRC}\n  c3pool.com|pool|{SRC}  \n");
        let v = line(Kind::Domain, &body).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].value.as_str(), v[0].line), ("supportxmr.com", 3));
        assert_eq!((v[1].value.as_str(), v[1].line), ("c3pool.com", 4));
        assert_eq!(v[1].source, SRC);
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let cases = [
            (
                Kind::Domain,
                format!("a.com | x | {SRC}\nbad | x | {SRC}\n"),
                "line 2",
            ),
            (Kind::Domain, format!("Pool.COM | x | {SRC}\n"), "line 1"),
            (Kind::Domain, "a.com | x\n".to_string(), "found 2 field"),
            (
                Kind::Domain,
                "a.com | x | see the report\n".to_string(),
                "not one http",
            ),
            (Kind::Domain, format!("a.com |  | {SRC}\n"), "empty"),
            (
                Kind::Port,
                format!("3333 | x | {SRC}\n0 | x | {SRC}\n"),
                "line 2",
            ),
            (Kind::Port, format!("70000 | x | {SRC}\n"), "not a port"),
            (Kind::Port, format!("03333 | x | {SRC}\n"), "not a port"),
            (
                Kind::Sha256,
                format!("{} | x | {SRC}\n", "A".repeat(64)),
                "sha256",
            ),
            (
                Kind::Sha256,
                format!("{} | x | {SRC}\n", "a".repeat(63)),
                "sha256",
            ),
            (
                Kind::Sha256,
                format!("{EMPTY_SHA256} | x | {SRC}\n"),
                "empty file",
            ),
            (
                Kind::Image,
                format!("pocosow/centos | x | {SRC}\n"),
                "REGISTRY/PATH",
            ),
            (
                Kind::Image,
                format!("docker.io/nginx | x | {SRC}\n"),
                "REGISTRY/PATH",
            ),
            (
                Kind::Image,
                format!("docker.io/o/r:1 | x | {SRC}\n"),
                "REGISTRY/PATH",
            ),
            (
                Kind::Image,
                format!("docker.io/* | x | {SRC}\n"),
                "REGISTRY/PATH",
            ),
            (
                Kind::Image,
                format!("docker.io/library/* | x | {SRC}\n"),
                "REGISTRY/PATH",
            ),
            (
                Kind::Image,
                format!("docker.io/O/r | x | {SRC}\n"),
                "not an image",
            ),
            (
                Kind::Domain,
                format!("a.com | x | {SRC}\n# c\na.com | y | {SRC}\n"),
                "line 3: `a.com` is already listed on line 1",
            ),
        ];
        for (kind, body, want) in cases {
            let m = message(line(kind, &body));
            assert!(m.starts_with("ioc/x.txt: line "), "{m}");
            assert!(m.contains(want), "{body:?}: {m}");
        }
    }

    fn iocs(images: &str) -> Iocs {
        let mut files = std::collections::BTreeMap::new();
        files.insert(
            "manifest.toml".to_string(),
            b"schema = 1\nversion = \"t\"".to_vec(),
        );
        files.insert(MALICIOUS_IMAGES.to_string(), images.as_bytes().to_vec());
        Iocs::from_bundle(&Bundle::from_files(files).unwrap()).unwrap()
    }

    #[test]
    fn image_names_are_normalized_before_lookup() {
        let i = iocs(&format!(
            "docker.io/pocosow/centos | g | {SRC}\ndocker.io/docker123321/* | k | {SRC}\n\
             ghcr.io/bad/tool | t | {SRC}\n"
        ));
        for name in [
            "pocosow/centos",
            "pocosow/centos:7.6.1810",
            "docker.io/pocosow/centos:latest",
            "index.docker.io/pocosow/centos",
            &format!("pocosow/centos@sha256:{}", "a".repeat(64)),
            "docker123321/tomcat",
            "docker.io/docker123321/cron:v2",
            "ghcr.io/bad/tool:1",
        ] {
            assert!(i.known_malicious_image(name).is_some(), "{name}");
        }
        for name in [
            "centos",
            "pocosow/centos7",
            "pocosowx/centos",
            "quay.io/pocosow/centos",
            "docker123321",
            "library/docker123321",
            "docker1233210/tomcat",
            "ghcr.io/bad/tool2",
            "ghcr.io/bad",
            "Not A Reference",
            "",
        ] {
            assert!(i.known_malicious_image(name).is_none(), "{name}");
        }
    }

    #[test]
    fn bad_hashes_accept_both_spellings() {
        let mut files = std::collections::BTreeMap::new();
        files.insert(
            "manifest.toml".to_string(),
            b"schema = 1\nversion = \"t\"".to_vec(),
        );
        let h = "ab".repeat(32);
        files.insert(
            BAD_HASHES.to_string(),
            format!("{h} | x | {SRC}\n").into_bytes(),
        );
        let i = Iocs::from_bundle(&Bundle::from_files(files).unwrap()).unwrap();
        assert!(i.bad_hash(&h).is_some());
        assert!(
            i.bad_hash(&format!("sha256:{}", h.to_uppercase()))
                .is_some()
        );
        assert!(i.bad_hash(&"cd".repeat(32)).is_none());
    }

    #[test]
    fn shipped_lists_load() {
        let i = Iocs::from_bundle(&Bundle::embedded().unwrap()).unwrap();
        assert!(i.pool_domains().len() >= 10);
        assert!(i.stratum_ports().iter().any(|e| e.value == "3333"));
        assert!(i.known_malicious_image("gakeaws/nginx:v8.9").is_some());
        assert!(i.known_malicious_image("nginx:1.27").is_none());
        // A Kinsing payload from Lacework Labs' list; looked up as the walker writes digests.
        let kinsing = i
            .bad_hash("sha256:511de8dd7f3cb4c5d88cd5a62150e6826cb2f825fa60607a201a8542524442e2")
            .expect("shipped bad hash");
        assert!(kinsing.note.starts_with("Kinsing") && kinsing.source.contains("lacework"));
        // And one from the other source, Elastic Security's rules, whose notes differ.
        let mirai = i
            .bad_hash("49c94d184d7e387c3efe34ae6f021e011c3046ae631c9733ab0a230d5fe28ead")
            .expect("shipped bad hash");
        assert!(mirai.note.starts_with("Mirai") && mirai.source.contains("Linux_Trojan_Mirai"));
        assert!(i.bad_hash(EMPTY_SHA256).is_none());
    }
}
