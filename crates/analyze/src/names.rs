//! Look-alike image names: a name one typo away from a Docker Official Image, drawn with
//! look-alike characters, put under a namespace that claims to be official or a verified
//! publisher's, or pulled from a host that imitates a well-known registry (ATT&CK T1036.005,
//! the way T1204.003 images get pulled).
//!
//! The names it protects are data in `content/names/` (format in `content/names/README.md`),
//! parsed as strictly as the IOC lists. How matching works, and why each threshold is what
//! it is, is in `docs/names.md`.
//!
//! ```
//! use customs_analyze::names::NameChecker;
//! let checker = NameChecker::from_bundle(&customs_content::Bundle::embedded().unwrap()).unwrap();
//! let hits = checker.check("docker.io/library/ngnix:latest");
//! assert_eq!(hits[0].rule, "name-typosquat-official");
//! assert_eq!(hits[0].imitates, "nginx");
//! assert!(checker.check("nginx:1.27").is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use customs_content::list::{list_error, parse_list as parse_lines};
use customs_content::{Bundle, ContentError};
use customs_core::{Confidence, Finding, Severity, attack};
use unicode_script::UnicodeScript;
use unicode_security::{MixedScript, skeleton};

use crate::{ImageAnalysis, ImageAnalyzer, ImageView, Rule, miner};

/// The Docker Official Images built today (rewritten by `customs names import-official`).
pub const OFFICIAL_IMAGES: &str = "names/official-images.txt";
/// Official images that are deprecated but still served; edited by hand.
pub const OFFICIAL_DEPRECATED: &str = "names/official-images-deprecated.txt";
/// Verified publishers' namespaces (`NS/*`) and repositories (`NS/REPO`).
pub const PUBLISHERS: &str = "names/publishers.txt";
/// Well-known registry hosts (`HOST` or `*.DOMAIN`).
pub const REGISTRIES: &str = "names/registries.txt";

/// Where Docker Official Images live on Docker Hub.
const LIBRARY: &str = "library";
/// The names Docker Hub answers to.
const HUB_HOSTS: &[&str] = &[
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "registry.hub.docker.com",
];
/// Registries that serve the official images under a fixed path prefix: a typo there is a
/// typo of an official image just as on Docker Hub.
const OFFICIAL_MIRRORS: &[(&str, &[&str])] = &[
    ("mirror.gcr.io", &["library"]),
    ("public.ecr.aws", &["docker", "library"]),
];
/// Words a namespace uses to claim it is Docker's own or the official one (matched after
/// separators are removed and digits read as letters, so `0fficial` and `docker-official`
/// count). `offical` is the common misspelling squatters register too.
const CLAIMS: &[&str] = &[
    "official",
    "offical",
    "library",
    "libary",
    "verified",
    "dockerhub",
    "dockerinc",
    "dockerteam",
];
/// Top-level labels of names that never resolve on the public internet: a registry there is
/// private however it is spelled (`registry.k8s.local`, `docker.io.internal`).
const PRIVATE_TLDS: &[&str] = &[
    "local",
    "localhost",
    "localdomain",
    "lan",
    "internal",
    "intranet",
    "corp",
    "home",
    "arpa",
    "test",
    "example",
    "invalid",
    "private",
    "svc",
];
/// Digits squatters put for the letters they resemble.
const DIGIT_FOR_LETTER: &[(char, &[char])] = &[
    ('0', &['o']),
    ('1', &['l', 'i']),
    ('3', &['e']),
    ('4', &['a']),
    ('5', &['s']),
    ('6', &['b', 'g']),
    ('7', &['t']),
    ('8', &['b']),
    ('9', &['g', 'q']),
];
/// Names longer than this are not compared: no listed name is near one, and edit distance
/// is quadratic.
const MAX_COMPARED: usize = 128;

/// One line of a names list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameEntry {
    /// The value as written.
    pub value: String,
    /// What it is.
    pub note: String,
    /// The public page that states it.
    pub source: String,
    /// The list it came from (path inside the bundle).
    pub file: String,
    /// Line number, from 1.
    pub line: usize,
}

/// A look-alike found in a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameMatch {
    /// Rule id (`name-typosquat-official`, …).
    pub rule: &'static str,
    /// The legitimate name it imitates: an official image (`nginx`), a publisher's
    /// repository (`bitnami/redis`) or a registry host (`docker.io`).
    pub imitates: String,
    /// Which part of the name imitates it (`repository `ngnix``).
    pub part: String,
    /// Why it counts as a look-alike (`letters `gn` swapped`).
    pub why: String,
    /// From the kind of match.
    pub severity: Severity,
    /// From the kind of match.
    pub confidence: Confidence,
}

#[derive(Default, Debug)]
struct Publisher {
    /// `NS/*` is listed: every repository under it is the publisher's.
    whole: bool,
    repos: BTreeSet<String>,
}

#[derive(Debug)]
struct Host {
    /// The host, or the domain of a `*.DOMAIN` entry.
    name: String,
    wildcard: bool,
}

/// The look-alike matcher over the bundle's name lists.
#[derive(Debug)]
pub struct NameChecker {
    /// Every official name, current and deprecated, sorted.
    official: BTreeSet<String>,
    /// Skeleton key → official name.
    official_keys: HashMap<String, String>,
    publishers: BTreeMap<String, Publisher>,
    publisher_keys: HashMap<String, String>,
    hosts: Vec<Host>,
    host_keys: HashMap<String, String>,
    /// Domains whose every host belongs to a listed registry's operator.
    owned: Vec<String>,
}

/// Parses `VALUE | NOTE | SOURCE` lines; `check` says what is wrong with a value.
fn parse_list(
    path: &str,
    bytes: &[u8],
    check: fn(&str) -> Result<(), String>,
) -> Result<Vec<NameEntry>, ContentError> {
    parse_lines(path, bytes, "VALUE", str::to_string)?
        .into_iter()
        .map(|l| {
            check(l.value).map_err(|why| list_error(path, l.line, why))?;
            Ok(NameEntry {
                value: l.value.to_string(),
                note: l.note.to_string(),
                source: l.source.to_string(),
                file: path.to_string(),
                line: l.line,
            })
        })
        .collect()
}

/// A repository path component as the distribution grammar allows it: lowercase letters
/// and digits, separated by `.`, `_`, `__` or runs of `-`.
pub fn is_repo_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || b.len() > 255 || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    if !b.iter().all(|&x| alnum(x) || b"._-".contains(&x)) {
        return false;
    }
    // Separators between alphanumerics: `.` and `_` at most `__`, no mixed runs.
    b.windows(2).all(|w| match (w[0], w[1]) {
        (b'.', y) | (y, b'.') if !alnum(y) => false,
        (b'_', b'-') | (b'-', b'_') => false,
        _ => true,
    }) && !c.contains("___")
}

fn check_official(v: &str) -> Result<(), String> {
    if is_repo_component(v) {
        Ok(())
    } else {
        Err(format!(
            "`{v}` is not an image name (lowercase letters, digits, `.`, `_`, `-`)"
        ))
    }
}

fn check_publisher(v: &str) -> Result<(), String> {
    let ok = match v.split_once('/') {
        Some((ns, repo)) => is_repo_component(ns) && (repo == "*" || is_repo_component(repo)),
        None => false,
    };
    if ok && !v.starts_with("library/") {
        Ok(())
    } else {
        Err(format!(
            "`{v}` must be NAMESPACE/REPOSITORY or NAMESPACE/* on Docker Hub, not under `library/`"
        ))
    }
}

fn is_domain(v: &str) -> bool {
    let labels: Vec<&str> = v.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

fn check_registry(v: &str) -> Result<(), String> {
    if is_domain(v.strip_prefix("*.").unwrap_or(v)) {
        Ok(())
    } else {
        Err(format!(
            "`{v}` is not a lowercase host name or `*.DOMAIN` with at least two labels"
        ))
    }
}

/// The UTS #39 skeleton, case-folded: two strings with the same key look the same.
/// Skeleton first keeps `I` (which looks like `l`) apart from `i`; folding and a second
/// skeleton then let `NGINX` meet `nginx`.
fn key(s: &str) -> String {
    let first: String = skeleton(s).collect::<String>().to_lowercase();
    skeleton(&first).collect()
}

/// The last two labels: a stand-in for the registrable domain (no public suffix list; the
/// registry list marks multi-label suffixes with `*.` entries instead).
fn last_two(labels: &[&str]) -> String {
    labels[labels.len().saturating_sub(2)..].join(".")
}

impl NameChecker {
    /// Reads the name lists of `bundle`. A list the bundle does not carry is empty.
    pub fn from_bundle(bundle: &Bundle) -> Result<NameChecker, ContentError> {
        let list = |path: &str, check| match bundle.file(path) {
            Some(bytes) => parse_list(path, bytes, check),
            None => Ok(Vec::new()),
        };
        let mut official = BTreeSet::new();
        for e in list(OFFICIAL_IMAGES, check_official)?
            .into_iter()
            .chain(list(OFFICIAL_DEPRECATED, check_official)?)
        {
            official.insert(e.value);
        }
        let mut publishers: BTreeMap<String, Publisher> = BTreeMap::new();
        for e in list(PUBLISHERS, check_publisher)? {
            let (ns, repo) = e.value.split_once('/').expect("checked");
            let p = publishers.entry(ns.to_string()).or_default();
            if repo == "*" {
                p.whole = true;
            } else {
                p.repos.insert(repo.to_string());
            }
        }
        let hosts: Vec<Host> = list(REGISTRIES, check_registry)?
            .into_iter()
            .map(|e| match e.value.strip_prefix("*.") {
                Some(d) => Host {
                    name: d.to_string(),
                    wildcard: true,
                },
                None => Host {
                    name: e.value,
                    wildcard: false,
                },
            })
            .collect();
        let mut owned: Vec<String> = hosts
            .iter()
            .map(|h| {
                if h.wildcard {
                    h.name.clone()
                } else {
                    last_two(&h.name.split('.').collect::<Vec<_>>())
                }
            })
            .collect();
        owned.sort();
        owned.dedup();
        let keys = |names: &mut dyn Iterator<Item = &String>| {
            names
                .map(|n| (key(n), n.clone()))
                .collect::<HashMap<_, _>>()
        };
        Ok(NameChecker {
            official_keys: keys(&mut official.iter()),
            publisher_keys: keys(&mut publishers.keys()),
            host_keys: keys(&mut hosts.iter().map(|h| &h.name)),
            official,
            publishers,
            hosts,
            owned,
        })
    }

    /// Whether `name` is a listed official image (current or deprecated).
    pub fn is_official(&self, name: &str) -> bool {
        self.official.contains(name)
    }

    /// Every look-alike in an image name (a reference with or without registry, tag and
    /// digest, as `--name`, `RepoTags` or an OCI annotation give it). Empty when the name
    /// imitates nothing; names that do not parse as references are still examined, since
    /// look-alike characters are exactly what a registry would refuse.
    pub fn check(&self, name: &str) -> Vec<NameMatch> {
        let name = name.trim();
        let name = name.strip_prefix("docker://").unwrap_or(name);
        if name.is_empty() || name.len() > 4096 {
            return Vec::new();
        }
        let without_digest = name.split('@').next().unwrap_or(name);
        let mut comps: Vec<&str> = without_digest.split('/').collect();
        if let Some(last) = comps.last_mut()
            && let Some(i) = last.find(':')
        {
            *last = &last[..i];
        }
        let first = comps[0];
        let explicit_host = comps.len() > 1
            && (first.contains('.')
                || first.contains(':')
                || first.eq_ignore_ascii_case("localhost"));
        let host = explicit_host.then(|| comps.remove(0));
        let path: Vec<&str> = comps.into_iter().filter(|c| !c.is_empty()).collect();

        let mut out = Vec::new();
        // Parts already explained, so the generic homoglyph pass does not repeat them.
        let mut explained: HashSet<usize> = HashSet::new();
        let mut hub = host.is_none();
        let mut official_prefix: Option<&[&str]> = hub.then_some(&[LIBRARY][..]);
        let mut host_explained = false;
        if let Some(h) = host {
            match self.host_status(h) {
                HostStatus::Known(canonical) => {
                    if HUB_HOSTS.contains(&canonical.as_str()) {
                        hub = true;
                        official_prefix = Some(&[LIBRARY]);
                    } else if let Some((_, p)) =
                        OFFICIAL_MIRRORS.iter().find(|(m, _)| *m == canonical)
                    {
                        official_prefix = Some(p);
                    }
                    host_explained = true;
                }
                HostStatus::Other => {}
                HostStatus::Lookalike(m) => {
                    // A fake Docker Hub is read as Docker Hub: what it pretends to serve
                    // is checked too.
                    if HUB_HOSTS.contains(&m.imitates.as_str()) {
                        hub = true;
                        official_prefix = Some(&[LIBRARY]);
                    }
                    out.push(m);
                    host_explained = true;
                }
            }
        }

        // The repository of an official image: `nginx`, `library/nginx`, or the same under
        // a mirror's prefix.
        if let Some(prefix) = official_prefix {
            let repo_at = if hub && path.len() == 1 {
                Some(0)
            } else if path.len() == prefix.len() + 1
                && path[..prefix.len()].iter().zip(prefix).all(|(a, b)| a == b)
            {
                Some(prefix.len())
            } else {
                None
            };
            if let Some(i) = repo_at
                && let Some(m) = self.official_lookalike(path[i])
            {
                out.push(m);
                explained.insert(i);
            }
        }
        if hub
            && path.len() == 2
            && path[0] != LIBRARY
            && let Some(m) = self.namespace_lookalike(path[0], path[1])
        {
            out.push(m);
            explained.insert(0);
        }

        // Look-alike characters anywhere else (a private registry's `team/ngіnx` with a
        // Cyrillic `і` is no less deceptive), and scripts mixed within one part.
        let parts = host
            .filter(|_| !host_explained)
            .into_iter()
            .map(|h| ("registry host", h))
            .chain(
                path.iter()
                    .enumerate()
                    .filter(|(i, _)| !explained.contains(i))
                    .map(|(_, p)| ("path component", *p)),
            );
        for (what, part) in parts {
            if part.is_ascii() {
                continue;
            }
            let k = key(part);
            let hit = self
                .official_keys
                .get(&k)
                .cloned()
                .or_else(|| self.publisher_keys.get(&k).map(|n| format!("{n}/*")))
                .or_else(|| self.host_keys.get(&k).cloned());
            if let Some(imitates) = hit {
                out.push(NameMatch {
                    rule: HOMOGLYPH.id,
                    why: format!("look-alike characters: {}", describe_chars(part)),
                    part: format!("{what} `{}`", shown(part)),
                    imitates,
                    severity: Severity::High,
                    confidence: Confidence::High,
                });
            } else if !part.is_single_script() {
                out.push(NameMatch {
                    rule: MIXED_SCRIPT.id,
                    why: format!("letters of several scripts: {}", describe_chars(part)),
                    part: format!("{what} `{}`", shown(part)),
                    // What it reads as, in plain letters.
                    imitates: k,
                    severity: Severity::Medium,
                    confidence: Confidence::Medium,
                });
            }
        }
        out
    }

    /// The repository of an official image's path (`ngnix`): a typo or look-alike of one.
    fn official_lookalike(&self, repo: &str) -> Option<NameMatch> {
        if self.official.contains(repo) {
            return None;
        }
        let (target, like) = best(self.official.iter().map(String::as_str), |t| {
            likeness(repo, t, 4)
        })?;
        let (rule, severity, confidence) = match &like {
            Likeness::Homoglyph(_) => (HOMOGLYPH.id, Severity::High, Confidence::High),
            Likeness::Digit(_) => (TYPOSQUAT_OFFICIAL.id, Severity::High, Confidence::High),
            Likeness::Typo { distance: 1, .. } if target.chars().count() >= 5 => {
                (TYPOSQUAT_OFFICIAL.id, Severity::High, Confidence::Medium)
            }
            Likeness::Typo { .. } => (TYPOSQUAT_OFFICIAL.id, Severity::Medium, Confidence::Low),
        };
        Some(NameMatch {
            rule,
            imitates: target.to_string(),
            part: format!("repository `{}`", shown(repo)),
            why: format!("{} of Docker Official Image `{target}`", like.why()),
            severity,
            confidence,
        })
    }

    /// A Docker Hub `NAMESPACE/REPO` whose namespace claims to be official, or imitates a
    /// verified publisher's.
    fn namespace_lookalike(&self, ns: &str, repo: &str) -> Option<NameMatch> {
        if self.publishers.contains_key(ns) {
            return None;
        }
        let official_repo: Option<String> = if self.official.contains(repo) {
            Some(repo.to_string())
        } else {
            self.official_lookalike(repo).map(|m| m.imitates)
        };
        let publisher_repo = self
            .publishers
            .iter()
            .find(|(_, p)| p.repos.contains(repo))
            .map(|(n, _)| format!("{n}/{repo}"));
        let shown_ns = shown(ns);

        // 1. The namespace claims to be the library, Docker's or the official one.
        let library_like = likeness(ns, LIBRARY, 4);
        let claim = claim_in(ns);
        if library_like.is_some() || claim.is_some() {
            let folded = fold(ns);
            let contained = |name: &str, min: usize| {
                name.len() >= min && folded.iter().any(|f| f.contains(name))
            };
            // The most specific thing the name carries: a publisher's own repository
            // under a namespace wrapping that publisher's name, an official image, any
            // publisher's repository, an official or publisher name inside the namespace.
            let listing_publisher = self
                .publishers
                .iter()
                .filter(|(p, pub_)| contained(p, 5) && pub_.repos.contains(repo))
                .map(|(p, _)| format!("{p}/{repo}"))
                .max_by_key(String::len);
            let contained_official = self
                .official
                .iter()
                .filter(|o| contained(o, 4))
                .max_by_key(|o| o.len())
                .cloned();
            let contained_publisher = self
                .publishers
                .keys()
                .filter(|p| contained(p, 5))
                .max_by_key(|p| p.len())
                .map(|p| format!("{p}/{repo}"));
            let imitates = listing_publisher
                .or(official_repo.clone())
                .or(publisher_repo.clone())
                .or(contained_official)
                .or(contained_publisher)?;
            let claim_why = match (&library_like, claim) {
                (Some(l), _) => format!("{} of `library`, where official images live", l.why()),
                (None, Some(c)) => format!("it claims to be `{c}`"),
                (None, None) => unreachable!("checked above"),
            };
            return Some(NameMatch {
                rule: NAMESPACE.id,
                imitates: imitates.clone(),
                part: format!("namespace `{shown_ns}`"),
                why: format!("{claim_why}, and the name carries `{imitates}`"),
                severity: Severity::High,
                confidence: Confidence::High,
            });
        }

        // 2. A typo or look-alike of a publisher's namespace. Four-letter namespaces
        // (`prom`, `cimg`) have many innocent neighbours: they count only with one of the
        // publisher's own repositories.
        let found = best(self.publishers.keys().map(String::as_str), |p| {
            let like = likeness(ns, p, 4)?;
            let repo_listed = self.publishers[p].repos.contains(repo);
            match like {
                Likeness::Typo { .. } if p.chars().count() < 5 && !repo_listed => None,
                l => Some(l),
            }
        });
        if let Some((p, like)) = found {
            let (rule, severity, confidence) = match like {
                Likeness::Homoglyph(_) => (HOMOGLYPH.id, Severity::High, Confidence::High),
                Likeness::Digit(_) => (TYPOSQUAT_PUBLISHER.id, Severity::High, Confidence::High),
                Likeness::Typo { distance: 1, .. } => {
                    (TYPOSQUAT_PUBLISHER.id, Severity::High, Confidence::Medium)
                }
                Likeness::Typo { .. } => {
                    (TYPOSQUAT_PUBLISHER.id, Severity::Medium, Confidence::Low)
                }
            };
            return Some(NameMatch {
                rule,
                imitates: format!("{p}/{repo}"),
                part: format!("namespace `{shown_ns}`"),
                why: format!("{} of publisher namespace `{p}`", like.why()),
                severity,
                confidence,
            });
        }

        // 3. A publisher's namespace with something added (`bitnami2`, `nginxinc-team`),
        // publishing one of that publisher's own repositories.
        let ns_lower = ns.to_lowercase();
        let (p, _) = self.publishers.iter().find(|(p, pub_)| {
            p.len() >= 5 && ns_lower.contains(p.as_str()) && pub_.repos.contains(repo)
        })?;
        Some(NameMatch {
            rule: NAMESPACE.id,
            imitates: format!("{p}/{repo}"),
            part: format!("namespace `{shown_ns}`"),
            why: format!(
                "it wraps publisher namespace `{p}` and carries that publisher's repository `{repo}`"
            ),
            severity: Severity::High,
            confidence: Confidence::Medium,
        })
    }

    fn host_status(&self, raw: &str) -> HostStatus {
        let lower = raw.to_lowercase();
        if lower.starts_with('[') {
            return HostStatus::Other;
        }
        let host = lower.split(':').next().unwrap_or(&lower);
        if host == "localhost" || host.parse::<std::net::IpAddr>().is_ok() {
            return HostStatus::Other;
        }
        if let Some(h) = self.known_host(host) {
            return HostStatus::Known(h);
        }
        let labels: Vec<&str> = host.split('.').collect();
        let lookalike = |imitates: &str, why: String, confidence| {
            HostStatus::Lookalike(NameMatch {
                rule: REGISTRY.id,
                imitates: imitates.to_string(),
                part: format!("registry host `{}`", shown(host)),
                why,
                severity: Severity::High,
                confidence,
            })
        };
        if !host.is_ascii() {
            return match self.host_keys.get(&key(host)) {
                Some(h) => lookalike(
                    h,
                    format!("look-alike characters: {}", describe_chars(host)),
                    Confidence::High,
                ),
                None => HostStatus::Other,
            };
        }
        if labels
            .last()
            .is_some_and(|tld| PRIVATE_TLDS.contains(tld) || tld.is_empty())
        {
            return HostStatus::Other;
        }
        // Typos of a listed host; for `*.DOMAIN` entries, of the domain part.
        for h in &self.hosts {
            let n = h.name.split('.').count();
            let tail = if h.wildcard {
                if labels.len() <= n {
                    continue;
                }
                labels[labels.len() - n..].join(".")
            } else {
                host.to_string()
            };
            if let Some(like) = likeness(&tail, &h.name, 6) {
                return lookalike(&h.name, like.why(), like.confidence());
            }
            // Two edits inside one long label: `mcr.micorsfot.com`.
            let theirs: Vec<&str> = h.name.split('.').collect();
            let ours: Vec<&str> = tail.split('.').collect();
            if ours.len() == theirs.len() {
                let differing: Vec<usize> =
                    (0..ours.len()).filter(|&i| ours[i] != theirs[i]).collect();
                if let [i] = differing[..]
                    && theirs[i].len() >= 7
                    && strsim::damerau_levenshtein(ours[i], theirs[i]) <= 2
                {
                    return lookalike(
                        &h.name,
                        format!("label `{}` is two edits from `{}`", ours[i], theirs[i]),
                        Confidence::Medium,
                    );
                }
            }
        }
        // A listed host spelled inside another domain: `docker.io.evil.com`,
        // `quay.io-mirror.net`, `registry-k8s.io`.
        let normalized: Vec<&str> = host.split(['.', '-']).collect();
        for h in &self.hosts {
            let theirs: Vec<&str> = h.name.split('.').collect();
            if theirs.len() >= 2
                && normalized
                    .windows(theirs.len())
                    .any(|w| w == theirs.as_slice())
            {
                return lookalike(
                    &h.name,
                    format!("it spells `{}` inside another domain", h.name),
                    Confidence::High,
                );
            }
        }
        // The same labels under another top-level domain (`gcr.com`, `registry.k8s.dev`),
        // or an operator's name under a domain it does not own (`quay.net`).
        for h in &self.hosts {
            let theirs: Vec<&str> = h.name.split('.').collect();
            let n = theirs.len();
            if labels.len() >= n
                && labels[labels.len() - n..labels.len() - 1] == theirs[..n - 1]
                && (!h.wildcard || labels.len() > n)
            {
                return lookalike(
                    &h.name,
                    format!(
                        "`{}` under another top-level domain",
                        theirs[..n - 1].join(".")
                    ),
                    Confidence::High,
                );
            }
        }
        if labels.len() >= 2 {
            let brand = labels[labels.len() - 2];
            if brand.len() >= 4
                && let Some(d) = self
                    .owned
                    .iter()
                    .find(|d| d.split('.').next() == Some(brand))
            {
                return lookalike(
                    d,
                    format!("`{brand}` under a domain that is not `{d}`"),
                    Confidence::Medium,
                );
            }
        }
        HostStatus::Other
    }

    /// The listed host (or owned domain) `host` belongs to.
    fn known_host(&self, host: &str) -> Option<String> {
        if let Some(h) = self.hosts.iter().find(|h| !h.wildcard && h.name == host) {
            return Some(h.name.clone());
        }
        self.owned
            .iter()
            .find(|d| host == d.as_str() || host.ends_with(&format!(".{d}")))
            .cloned()
    }
}

enum HostStatus {
    /// A listed registry (its canonical listed name or owned domain).
    Known(String),
    /// Private or unknown, and not a look-alike.
    Other,
    Lookalike(NameMatch),
}

/// How one name resembles another.
#[derive(Clone, Debug)]
enum Likeness {
    /// Same skeleton: renders the same.
    Homoglyph(String),
    /// Digits for the letters they resemble.
    Digit(String),
    /// Small edit distance, with the kind of typo.
    Typo { why: String, distance: usize },
}

impl Likeness {
    fn why(&self) -> String {
        match self {
            Likeness::Homoglyph(w) | Likeness::Digit(w) => w.clone(),
            Likeness::Typo { why, .. } => why.clone(),
        }
    }
    fn rank(&self) -> usize {
        match self {
            Likeness::Homoglyph(_) => 0,
            Likeness::Digit(_) => 1,
            Likeness::Typo { distance, .. } => 1 + distance,
        }
    }
    fn confidence(&self) -> Confidence {
        match self {
            Likeness::Homoglyph(_) | Likeness::Digit(_) => Confidence::High,
            Likeness::Typo { distance: 1, .. } => Confidence::High,
            Likeness::Typo { .. } => Confidence::Medium,
        }
    }
}

/// The closest target by [`Likeness::rank`]; the first in order wins ties.
fn best<'a>(
    targets: impl Iterator<Item = &'a str>,
    mut like: impl FnMut(&'a str) -> Option<Likeness>,
) -> Option<(&'a str, Likeness)> {
    let mut found: Option<(&str, Likeness)> = None;
    for t in targets {
        if let Some(l) = like(t)
            && found.as_ref().is_none_or(|(_, f)| l.rank() < f.rank())
        {
            found = Some((t, l));
        }
    }
    found
}

/// Whether `candidate` imitates `target` (a listed, lowercase ASCII name), and how.
/// Edit distance 1 counts for targets of at least `min_len` characters, distance 2 from 8:
/// shorter names have too many innocent neighbours.
fn likeness(candidate: &str, target: &str, min_len: usize) -> Option<Likeness> {
    if candidate == target
        || candidate.len() > MAX_COMPARED * 4
        || candidate.chars().count() > MAX_COMPARED
    {
        return None;
    }
    if candidate.is_ascii() && candidate.to_ascii_lowercase() == target {
        // Only the case differs: a registry refuses it, nobody is fooled.
        return None;
    }
    let c: Vec<char> = candidate.chars().collect();
    let t: Vec<char> = target.chars().collect();
    if candidate.is_ascii() && c.len() == t.len() {
        let diffs: Vec<(char, char)> = c
            .iter()
            .zip(&t)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| (*a, *b))
            .collect();
        let digit_for_letter = |(d, l): &(char, char)| {
            DIGIT_FOR_LETTER
                .iter()
                .any(|(dd, ls)| dd == d && ls.contains(l))
        };
        if !diffs.is_empty() && diffs.iter().all(digit_for_letter) {
            let list: Vec<String> = diffs
                .iter()
                .map(|(d, l)| format!("`{d}` for `{l}`"))
                .collect();
            return Some(Likeness::Digit(format!(
                "digit for letter ({})",
                list.join(", ")
            )));
        }
    }
    if key(candidate) == key(target) {
        let why = if candidate.is_ascii() {
            format!(
                "letters that render like `{target}` (`{}` reads as `{target}`)",
                shown(candidate)
            )
        } else {
            format!("look-alike characters: {}", describe_chars(candidate))
        };
        return Some(Likeness::Homoglyph(why));
    }
    if !candidate.is_ascii() || t.len() < min_len {
        return None;
    }
    let distance = strsim::damerau_levenshtein(candidate, target);
    match distance {
        1 => Some(Likeness::Typo {
            why: classify(&c, &t),
            distance,
        }),
        2 if t.len() >= 8 => Some(Likeness::Typo {
            why: "two typos".into(),
            distance,
        }),
        _ => None,
    }
}

/// Names the single edit between `c` and `t` (Damerau-Levenshtein distance 1).
fn classify(c: &[char], t: &[char]) -> String {
    let first_diff = c.iter().zip(t).position(|(a, b)| a != b);
    if c.len() == t.len() + 1 {
        let i = first_diff.unwrap_or(t.len());
        let x = c[i];
        if (i > 0 && c[i - 1] == x) || c.get(i + 1) == Some(&x) {
            return format!("doubled letter `{x}`");
        }
        if is_separator(x) {
            return format!("extra separator `{x}`");
        }
        let near = [i.checked_sub(1).map(|j| c[j]), c.get(i + 1).copied()]
            .into_iter()
            .flatten()
            .find(|n| keyboard_adjacent(x, *n));
        return match near {
            Some(n) => format!("extra key `{x}` next to `{n}` on the keyboard"),
            None => format!("extra letter `{x}`"),
        };
    }
    if c.len() + 1 == t.len() {
        let i = first_diff.unwrap_or(c.len());
        return format!("dropped letter `{}`", t[i]);
    }
    let i = first_diff.unwrap_or(0);
    if i + 1 < c.len() && c[i] == t[i + 1] && c[i + 1] == t[i] {
        return format!("letters `{}{}` swapped", t[i], t[i + 1]);
    }
    let (x, y) = (c[i], t[i]);
    if is_separator(x) && is_separator(y) {
        format!("separator `{x}` for `{y}`")
    } else if keyboard_adjacent(x, y) {
        format!("`{x}` for `{y}`, its neighbour on the keyboard")
    } else {
        format!("`{x}` for `{y}`")
    }
}

fn is_separator(c: char) -> bool {
    matches!(c, '-' | '_' | '.')
}

/// Neighbours on a QWERTY keyboard, rows staggered as on real keyboards.
fn keyboard_adjacent(a: char, b: char) -> bool {
    const ROWS: [(&str, f32); 4] = [
        ("1234567890-", 0.0),
        ("qwertyuiop", 0.5),
        ("asdfghjkl", 0.75),
        ("zxcvbnm", 1.25),
    ];
    let pos = |c: char| {
        ROWS.iter()
            .enumerate()
            .find_map(|(r, (keys, off))| keys.find(c).map(|col| (r as f32, col as f32 + off)))
    };
    match (pos(a), pos(b)) {
        (Some((ra, ca)), Some((rb, cb))) => {
            a != b && (ra - rb).abs() <= 1.0 && (ca - cb).abs() <= 1.0
        }
        _ => false,
    }
}

/// Lowercase, separators removed, digits read as the letters they resemble (`1` both as
/// `l` and `i`): the spellings a claim word is searched in.
fn fold(s: &str) -> Vec<String> {
    let base: String = s
        .to_lowercase()
        .chars()
        .filter(|c| !is_separator(*c))
        .collect();
    [0usize, 1]
        .iter()
        .map(|&alt| {
            base.chars()
                .map(|c| {
                    DIGIT_FOR_LETTER
                        .iter()
                        .find(|(d, _)| *d == c)
                        .map_or(c, |(_, ls)| ls[alt.min(ls.len() - 1)])
                })
                .collect()
        })
        .collect()
}

fn claim_in(ns: &str) -> Option<&'static str> {
    let folded = fold(ns);
    CLAIMS
        .iter()
        .find(|c| folded.iter().any(|f| f.contains(**c)))
        .copied()
}

/// `'а' (U+0430, Cyrillic)` for every character outside ASCII.
fn describe_chars(s: &str) -> String {
    let list: Vec<String> = s
        .chars()
        .filter(|c| !c.is_ascii())
        .take(8)
        .map(|c| format!("`{c}` (U+{:04X}, {})", c as u32, c.script().full_name()))
        .collect();
    if list.is_empty() {
        "none outside ASCII".into()
    } else {
        list.join(", ")
    }
}

fn shown(s: &str) -> String {
    miner::printable(s, 100)
}

const TYPOSQUAT_OFFICIAL: Rule = Rule {
    id: "name-typosquat-official",
    title: "Image name is a typo of a Docker Official Image",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &[attack::MATCH_LEGITIMATE_NAME, attack::MALICIOUS_IMAGE],
    description: "The image's repository is one or two keystrokes (a swapped, doubled, dropped or \
        mistyped letter, or a digit for a look-alike letter) away from a Docker Official Image, \
        where only official images live. Typo names are registered to catch people who mistype \
        the real one. Pull the official image by its exact name, pinned by digest.",
};

const TYPOSQUAT_PUBLISHER: Rule = Rule {
    id: "name-typosquat-publisher",
    title: "Image namespace is a typo of a verified publisher's",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &[attack::MATCH_LEGITIMATE_NAME, attack::MALICIOUS_IMAGE],
    description: "The image's Docker Hub namespace is a typo or digit-for-letter spelling of a \
        verified publisher's or well-known project's namespace (`bitnami`, `linuxserver`, \
        `hashicorp`, …). Anyone can register such a namespace. Use the publisher's own.",
};

const HOMOGLYPH: Rule = Rule {
    id: "name-homoglyph",
    title: "Image name uses look-alike characters",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &[attack::MATCH_LEGITIMATE_NAME, attack::MALICIOUS_IMAGE],
    description: "Part of the image's name renders the same as a Docker Official Image, a \
        verified publisher's namespace or a registry host, but is spelled with other \
        characters: letters of another script (Cyrillic `а` for Latin `a`) or letter pairs \
        that read as one (`rn` as `m`). Nobody writes a name that way by accident.",
};

const MIXED_SCRIPT: Rule = Rule {
    id: "name-mixed-script",
    title: "Image name mixes writing systems",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &[attack::MATCH_LEGITIMATE_NAME],
    description: "A part of the image's name mixes letters of several scripts (Latin with \
        Cyrillic or Greek), the way look-alike names are built; registries accept only \
        lowercase ASCII names, so such a name was written to be read, not pulled.",
};

const NAMESPACE: Rule = Rule {
    id: "name-namespace-impersonation",
    title: "Image namespace impersonates the official library or a publisher",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &[attack::MATCH_LEGITIMATE_NAME, attack::MALICIOUS_IMAGE],
    description: "The image carries an official image's or a verified publisher's name under a \
        Docker Hub namespace that claims to be official (`official`, `library` or a look-alike \
        of it, `dockerhub`, `verified`) or wraps the publisher's own namespace \
        (`nginxinc-official`). Official images live only under `library/` (written without a \
        namespace); publishers' under their own namespace.",
};

const REGISTRY: Rule = Rule {
    id: "name-registry-lookalike",
    title: "Registry host imitates a well-known registry",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &[attack::MATCH_LEGITIMATE_NAME, attack::MALICIOUS_IMAGE],
    description: "The image is named after a registry host that imitates a well-known one: a \
        typo or look-alike spelling (`d0cker.io`, `ghcr.lo`), the real name inside another \
        domain (`docker.io.example.net`, `quay.io-mirror.net`, `registry-k8s.io`), or the \
        same name under another top-level domain. Whoever owns that host serves the image.",
};

/// Every rule this analyzer gives, for the checks in `lib.rs`.
#[cfg(test)]
pub(crate) const RULES: &[&Rule] = &[
    &TYPOSQUAT_OFFICIAL,
    &TYPOSQUAT_PUBLISHER,
    &HOMOGLYPH,
    &MIXED_SCRIPT,
    &NAMESPACE,
    &REGISTRY,
];

/// Every rule of this module, for documentation checks.
pub const RULE_IDS: &[&str] = &[
    TYPOSQUAT_OFFICIAL.id,
    TYPOSQUAT_PUBLISHER.id,
    HOMOGLYPH.id,
    MIXED_SCRIPT.id,
    NAMESPACE.id,
    REGISTRY.id,
];

fn rule(id: &str) -> &'static Rule {
    [
        &TYPOSQUAT_OFFICIAL,
        &TYPOSQUAT_PUBLISHER,
        &HOMOGLYPH,
        &MIXED_SCRIPT,
        &NAMESPACE,
        &REGISTRY,
    ]
    .into_iter()
    .find(|r| r.id == id)
    .expect("every match names a rule of this module")
}

impl NameMatch {
    /// The finding for this match on image name `name`.
    pub fn finding(&self, name: &str) -> Finding {
        let mut f = rule(self.rule).finding(
            None,
            format!(
                "name `{}`: {} imitates `{}`: {}",
                shown(name),
                self.part,
                self.imitates,
                self.why
            ),
        );
        f.severity = self.severity;
        f.confidence = self.confidence;
        f
    }
}

/// Checks the image's name against the bundled official, publisher and registry names.
pub(crate) struct Names {
    checker: NameChecker,
}

impl Names {
    pub(crate) fn from_bundle(bundle: &Bundle) -> Result<Names, ContentError> {
        Ok(Names {
            checker: NameChecker::from_bundle(bundle)?,
        })
    }
}

impl ImageAnalyzer for Names {
    fn id(&self) -> &'static str {
        "names"
    }
    fn version(&self) -> u32 {
        2
    }
    fn analyze(&self, view: &ImageView<'_>, out: &mut ImageAnalysis) {
        for name in view.image.names() {
            for m in self.checker.check(name) {
                out.findings.push(m.finding(name));
            }
        }
    }
}

/// Reads a list of official image names for `customs names import-official`: a directory
/// with one file per image (the `library/` directory of a docker-library/official-images
/// checkout; dot-files and `README*`, `LICENSE*`, `MAINTAINERS` are skipped) or a text file
/// with one name per line (`#` comments and blank lines ignored). Every name is checked;
/// a bad one is an error naming it.
pub fn read_official_names(source: &Path) -> Result<Vec<String>, ContentError> {
    let io_err = |e: std::io::Error| ContentError::Io {
        path: source.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(source).map_err(io_err)?;
    let mut names: Vec<(String, String)> = Vec::new();
    if meta.is_dir() {
        for entry in std::fs::read_dir(source).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let file_name = entry.file_name();
            let name = file_name.to_string_lossy().to_string();
            let skipped = name.starts_with('.')
                || name.starts_with("README")
                || name.starts_with("LICENSE")
                || name == "MAINTAINERS";
            if skipped || !entry.file_type().map_err(io_err)?.is_file() {
                continue;
            }
            names.push((name.clone(), format!("file `{name}`")));
        }
    } else {
        let bytes = std::fs::read(source).map_err(io_err)?;
        let text = String::from_utf8(bytes).map_err(|_| ContentError::Invalid {
            path: source.display().to_string(),
            message: "not UTF-8".into(),
        })?;
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            // A line of an existing list (`nginx | note | source`) gives its name.
            let name = l.split('|').next().unwrap_or(l).trim();
            names.push((name.to_string(), format!("line {}", i + 1)));
        }
    }
    let mut out = BTreeSet::new();
    for (name, at) in names {
        check_official(&name).map_err(|why| ContentError::Invalid {
            path: source.display().to_string(),
            message: format!("{at}: {why}"),
        })?;
        out.insert(name);
    }
    if out.is_empty() {
        return Err(ContentError::Invalid {
            path: source.display().to_string(),
            message: "no image names in it".into(),
        });
    }
    Ok(out.into_iter().collect())
}

/// The text of `content/names/official-images.txt` for `names`: a header and one
/// `NAME | Docker Official Image | SOURCE` line per name, sorted, each sourced to its file in
/// docker-library/official-images.
pub fn render_official_list(names: &[String]) -> String {
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut out = String::from(
        "# Docker Official Images: the repositories Docker Hub serves as `library/NAME`, one per file\n\
         # in the `library/` directory of docker-library/official-images.\n\
         # Written by `customs names import-official`; refresh it with that command, not by hand\n\
         # (see content/names/README.md).\n\n",
    );
    for n in sorted {
        out.push_str(&format!(
            "{n} | Docker Official Image | https://github.com/docker-library/official-images/blob/master/library/{n}\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker() -> NameChecker {
        NameChecker::from_bundle(&Bundle::embedded().unwrap()).unwrap()
    }

    #[test]
    fn shipped_lists_load_and_are_canonical() {
        let c = checker();
        assert!(c.official.len() >= 170, "{}", c.official.len());
        assert!(c.is_official("nginx") && c.is_official("centos"));
        assert!(c.publishers["bitnami"].whole);
        assert!(c.hosts.iter().any(|h| h.name == "registry.k8s.io"));
        // The shipped list is exactly what the refresh command writes from its own names.
        let bundle = Bundle::embedded().unwrap();
        let shipped = std::str::from_utf8(bundle.file(OFFICIAL_IMAGES).unwrap()).unwrap();
        let names: Vec<String> = parse_list(OFFICIAL_IMAGES, shipped.as_bytes(), check_official)
            .unwrap()
            .into_iter()
            .map(|e| e.value)
            .collect();
        assert_eq!(render_official_list(&names), shipped);
    }

    #[test]
    fn official_names_never_flag_each_other() {
        let c = checker();
        for n in &c.official {
            assert!(c.check(n).is_empty(), "{n}: {:?}", c.check(n));
            let full = format!("docker.io/library/{n}:latest");
            assert!(c.check(&full).is_empty(), "{full}: {:?}", c.check(&full));
        }
        for (ns, p) in &c.publishers {
            for r in &p.repos {
                let n = format!("{ns}/{r}");
                assert!(c.check(&n).is_empty(), "{n}: {:?}", c.check(&n));
            }
        }
    }

    #[test]
    fn typo_kinds_are_named() {
        let why = |c: &str, t: &str| likeness(c, t, 4).map(|l| l.why());
        assert_eq!(why("ngnix", "nginx").unwrap(), "letters `in` swapped");
        assert_eq!(why("ngiinx", "nginx").unwrap(), "doubled letter `i`");
        assert_eq!(why("ngin", "nginx").unwrap(), "dropped letter `x`");
        assert_eq!(
            why("nginc", "nginx").unwrap(),
            "`c` for `x`, its neighbour on the keyboard"
        );
        assert!(why("p0stgres", "postgres").unwrap().contains("`0` for `o`"));
        assert!(why("rnongo", "mongo").unwrap().contains("render like"));
        assert!(
            why("аlpine", "alpine")
                .unwrap()
                .contains("U+0430, Cyrillic")
        );
        assert!(why("NGINX", "nginx").is_none());
        assert!(why("php", "pgp").is_none(), "three letters are too short");
        assert!(why("mysql", "mariadb").is_none());
    }

    #[test]
    fn malformed_lists_are_errors_with_lines() {
        let bad = [
            (OFFICIAL_IMAGES, "Nginx | x | https://e.org\n", "line 1"),
            (PUBLISHERS, "bitnami | x | https://e.org\n", "NAMESPACE/"),
            (PUBLISHERS, "library/nginx | x | https://e.org\n", "library"),
            (REGISTRIES, "docker | x | https://e.org\n", "host name"),
            (
                REGISTRIES,
                "docker.io | x | https://e.org\ndocker.io | y | https://e.org\n",
                "line 2",
            ),
            (OFFICIAL_IMAGES, "nginx | x | see docs\n", "http"),
        ];
        for (path, body, want) in bad {
            let mut files = BTreeMap::new();
            files.insert(
                "manifest.toml".into(),
                b"schema = 1\nversion = \"t\"".to_vec(),
            );
            files.insert(path.to_string(), body.as_bytes().to_vec());
            let err = NameChecker::from_bundle(&Bundle::from_files(files).unwrap()).unwrap_err();
            let m = err.to_string();
            assert!(m.contains(path) && m.contains(want), "{body:?}: {m}");
        }
    }

    // The names table (`crates/analyze/tests/names-table.txt`) lives with the unit tests:
    // every integration test binary here links yara-x and costs half a gigabyte of disk.
    #[test]
    fn names_table() {
        let checker = checker();
        let table = include_str!("../tests/names-table.txt");
        let (mut lookalikes, mut legit) = (0, 0);
        let (mut true_pos, mut false_neg, mut false_pos, mut wrong) = (0, 0, 0, 0);
        let mut failures = Vec::new();
        for (i, line) in table.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = l.split('|').map(str::trim).collect();
            let hits = checker.check(fields[0]);
            match fields[..] {
                [name, "clean"] => {
                    legit += 1;
                    if !hits.is_empty() {
                        false_pos += 1;
                        failures.push(format!(
                            "line {}: `{name}` is legitimate but got {hits:#?}",
                            i + 1
                        ));
                    }
                }
                [name, rule, imitates] => {
                    lookalikes += 1;
                    if hits.is_empty() {
                        false_neg += 1;
                        failures.push(format!("line {}: `{name}` not flagged", i + 1));
                    } else if hits
                        .iter()
                        .any(|h| h.rule == rule && h.imitates == imitates)
                    {
                        true_pos += 1;
                        // Every finding says what it imitates and why.
                        for h in &hits {
                            assert!(!h.why.is_empty() && !h.part.is_empty(), "{h:?}");
                        }
                    } else {
                        wrong += 1;
                        failures.push(format!(
                            "line {}: `{name}` expected {rule} imitating `{imitates}`, got {hits:#?}",
                            i + 1
                        ));
                    }
                }
                _ => panic!("line {}: malformed table line `{l}`", i + 1),
            }
        }
        println!(
            "names table: {lookalikes} look-alikes, {legit} legitimate; true positives {true_pos}, \
             wrong rule or target {wrong}, missed {false_neg}, false positives {false_pos}"
        );
        assert!(lookalikes >= 60 && legit >= 60, "{lookalikes} / {legit}");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn findings_carry_rule_metadata() {
        let checker = checker();
        let name = "docker.io/library/ngnix:latest";
        let hits = checker.check(name);
        let f = hits[0].finding(name);
        assert_eq!(f.rule, "name-typosquat-official");
        assert_eq!(f.attack, ["T1036.005", "T1204.003"]);
        assert!(f.evidence.contains("`nginx`"), "{}", f.evidence);
        assert!(
            f.evidence.contains("letters `in` swapped"),
            "{}",
            f.evidence
        );
        assert!(f.layer.is_none() && f.path.is_none());
        // A homoglyph is near-certain intent; a typo of a four-letter name is weak.
        let strong = checker.check("аlpine");
        assert_eq!(
            (strong[0].severity, strong[0].confidence),
            (customs_core::Severity::High, customs_core::Confidence::High)
        );
        let weak = checker.check("nodee");
        assert_eq!(
            (weak[0].severity, weak[0].confidence),
            (
                customs_core::Severity::Medium,
                customs_core::Confidence::Low
            )
        );
    }

    #[test]
    fn every_rule_is_documented() {
        let detection = include_str!("../../../docs/detection.md");
        for id in RULE_IDS {
            assert!(
                detection.contains(&format!("| `{id}` |")),
                "{id} is not in docs/detection.md"
            );
        }
    }

    #[test]
    fn hostile_names_do_not_panic() {
        let c = checker();
        for n in [
            "",
            "/",
            "//",
            ":",
            "@",
            "a@b@c",
            ":::/:::",
            "[::1]:5000/nginx",
            "\u{0}",
            "ß/ß:ß",
            "docker.io/",
            "library/",
            &"a".repeat(5000),
            &format!("{}/x", "ä".repeat(300)),
        ] {
            let _ = c.check(n);
        }
    }
}
