//! customs' analyzers and the driver that runs them over every layer of an image.
//!
//! Every analyzer has an id and a version and declares what it wants; [`Analyzers::builtin`]
//! is the one list of them. [`scan_image`] walks the layers in parallel, feeds each file to
//! the analyzers that want it, and attributes every finding to the layer that added the
//! file and the one that deleted it.
//!
//! ```no_run
//! use customs_analyze::{Analyzers, ScanOptions, scan_image};
//! use customs_image::{OpenOptions, Target, open, walk::NoProgress};
//! let target: Target = "oci:/tmp/layout".parse().unwrap();
//! let analyzers = Analyzers::builtin().unwrap();
//! for image in open(&target, &OpenOptions::default()).unwrap() {
//!     let outcome = scan_image(&image, &analyzers, &ScanOptions::default(), &NoProgress);
//!     println!("{} findings", outcome.findings.len());
//! }
//! ```
#![deny(missing_docs)]

mod accounts;
mod anomaly;
mod archive;
mod config;
mod credential_table;
mod eicar;
mod executables;
mod integrity;
pub mod ioc;
pub mod machine_images;
mod miner;
pub mod names;
mod persistence;
mod scan;
mod shell;
mod yara;

use customs_content::{Bundle, ContentError};
use customs_core::{ContentInfo, Finding, ImageConfigSummary};
use customs_image::Image;
use customs_image::walk::{FileContent, FileEntry};
use globset::{Glob, GlobSet, GlobSetBuilder};

pub use anomaly::anomaly_finding;
pub use scan::{CacheUse, LayerCache, ScanOptions, ScanOutcome, scan_image};

/// What a file analyzer wants to see. Declared, so the driver can skip reading content
/// nobody wants and so the declaration can be part of cache keys.
#[derive(Clone, Debug, Default)]
pub struct Wants {
    /// Path globs (no leading `/`); empty means every path.
    pub paths: Vec<&'static str>,
    /// Files larger than this are not what the analyzer looks for (a property of what it
    /// finds, not a limit: the EICAR file is at most 128 bytes by definition).
    pub max_size: Option<u64>,
    /// How many leading bytes it needs.
    pub bytes: usize,
    /// It looks at whole files: a larger file is analyzed on its first `bytes` only, and
    /// that is listed in `coverage.partial`.
    pub whole: bool,
}

/// Looks at regular files, one at a time.
pub trait FileAnalyzer: Send + Sync {
    /// Stable id.
    fn id(&self) -> &'static str;
    /// Bumped whenever the findings it gives for the same input change.
    fn version(&self) -> u32;
    /// What it wants.
    fn wants(&self) -> Wants;
    /// Analyzes one file; `content.data` holds at most `wants().bytes` leading bytes.
    fn analyze(&self, entry: &FileEntry, content: &FileContent<'_>, out: &mut Vec<Finding>);
}

/// What an image analyzer gets to see.
pub struct ImageView<'a> {
    /// The image.
    pub image: &'a Image,
}

/// Looks at the image as a whole: config, history, name.
pub trait ImageAnalyzer: Send + Sync {
    /// Stable id.
    fn id(&self) -> &'static str;
    /// Bumped whenever its findings for the same input change.
    fn version(&self) -> u32;
    /// Analyzes the image; may also describe it for the report.
    fn analyze(&self, view: &ImageView<'_>, out: &mut ImageAnalysis);
}

/// What image analyzers produce.
#[derive(Default)]
pub struct ImageAnalysis {
    /// Findings (no layer unless one is known).
    pub findings: Vec<Finding>,
    /// The config summary for the report.
    pub config: Option<ImageConfigSummary>,
}

struct Compiled {
    analyzer: Box<dyn FileAnalyzer>,
    paths: Option<GlobSet>,
    max_size: Option<u64>,
    bytes: usize,
    whole: bool,
}

/// The analyzers of a scan, with their wants compiled.
pub struct Analyzers {
    file: Vec<Compiled>,
    image: Vec<Box<dyn ImageAnalyzer>>,
    content: ContentInfo,
}

impl Analyzers {
    /// Every analyzer customs ships, fed by the embedded content bundle.
    pub fn builtin() -> Result<Analyzers, ContentError> {
        Analyzers::from_bundle(&Bundle::embedded()?)
    }

    /// Every analyzer customs ships, fed by `bundle`. This is the one list of analyzers:
    /// add new ones here.
    pub fn from_bundle(bundle: &Bundle) -> Result<Analyzers, ContentError> {
        let iocs = std::sync::Arc::new(ioc::Iocs::from_bundle(bundle)?);
        let file: Vec<Box<dyn FileAnalyzer>> = vec![
            Box::new(eicar::Eicar),
            Box::new(ioc::IocFiles::new(iocs.clone())),
            Box::new(accounts::Accounts),
            Box::new(executables::Executables),
            Box::new(executables::PackedElf),
            Box::new(yara::Yara::from_bundle(bundle)?),
            Box::new(credential_table::CredentialTable::from_bundle(bundle)?),
            Box::new(persistence::Persistence),
            Box::new(persistence::Scripts),
        ];
        let image: Vec<Box<dyn ImageAnalyzer>> = vec![
            Box::new(config::ConfigHistory::new(iocs.clone())),
            Box::new(ioc::IocNames::new(iocs)),
            Box::new(names::Names::from_bundle(bundle)?),
        ];
        Ok(Analyzers::new(file, image, bundle.info()))
    }

    /// A custom set (tests, embedding).
    pub fn new(
        file: Vec<Box<dyn FileAnalyzer>>,
        image: Vec<Box<dyn ImageAnalyzer>>,
        content: ContentInfo,
    ) -> Analyzers {
        let file = file
            .into_iter()
            .map(|analyzer| {
                let w = analyzer.wants();
                let paths = (!w.paths.is_empty()).then(|| {
                    let mut b = GlobSetBuilder::new();
                    for p in &w.paths {
                        b.add(Glob::new(p).unwrap_or_else(|e| {
                            panic!("analyzer {} declares a bad glob `{p}`: {e}", analyzer.id())
                        }));
                    }
                    b.build().expect("globs compile")
                });
                Compiled {
                    analyzer,
                    paths,
                    max_size: w.max_size,
                    bytes: w.bytes,
                    whole: w.whole,
                }
            })
            .collect();
        Analyzers {
            file,
            image,
            content,
        }
    }

    /// `id@version` of every analyzer, in order; part of cache keys.
    pub fn versions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .file
            .iter()
            .map(|c| format!("{}@{}", c.analyzer.id(), c.analyzer.version()))
            .chain(
                self.image
                    .iter()
                    .map(|a| format!("{}@{}", a.id(), a.version())),
            )
            .collect();
        v.push(format!("{}@{}", anomaly::ID, anomaly::VERSION));
        v.push(format!("{}@{}", archive::ID, archive::VERSION));
        v.push(format!("{}@{}", integrity::ID, integrity::VERSION));
        v
    }

    /// What the report's `content` field says: the bundle's version and digest.
    pub fn content_info(&self) -> ContentInfo {
        self.content.clone()
    }

    fn wanting<'a>(&'a self, entry: &'a FileEntry) -> impl Iterator<Item = &'a Compiled> + 'a {
        self.file.iter().filter(move |c| {
            c.max_size.is_none_or(|m| entry.size <= m)
                && c.paths.as_ref().is_none_or(|g| g.is_match(&entry.path))
        })
    }
}

/// Text from a hostile image for evidence and messages: control characters (terminal escape
/// sequences hidden in file names) escaped, and cut at `max` bytes with `…`.
pub(crate) fn escaped(s: &str, max: usize) -> String {
    let mut out: String = s.chars().flat_map(char::escape_debug).collect();
    if out.len() > max {
        let mut end = max;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

/// [`escaped`] at the length most evidence uses.
pub(crate) fn clip(s: &str) -> String {
    escaped(s, 120)
}

/// Bytes a searcher transforms at once (lowercased, XOR-differenced): small, so the copy
/// stays in cache.
pub(crate) const SEARCH_CHUNK: usize = 64 << 10;

/// `0..len` cut into windows that start every [`SEARCH_CHUNK`] bytes and reach `overlap`
/// bytes into the next, so a needle of at most `overlap` bytes across a boundary lies
/// whole in one window (it may be seen in two).
pub(crate) fn search_windows(
    len: usize,
    overlap: usize,
) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..len)
        .step_by(SEARCH_CHUNK)
        .map(move |start| start..(start + SEARCH_CHUNK + overlap).min(len))
}

/// Builds a finding from the fields every rule fills in the same way.
pub(crate) struct Rule {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: customs_core::Severity,
    pub confidence: customs_core::Confidence,
    pub attack: &'static [&'static str],
    pub description: &'static str,
}

impl Rule {
    pub(crate) fn finding(&self, path: Option<&str>, evidence: String) -> Finding {
        Finding {
            rule: self.id.into(),
            title: self.title.into(),
            severity: self.severity,
            confidence: self.confidence,
            attack: self.attack.iter().map(|s| s.to_string()).collect(),
            layer: None,
            deleted_in: None,
            path: path.map(str::to_string),
            evidence,
            description: self.description.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule of every analyzer (YARA rules are checked against their own metadata in
    /// `tests/rules.rs`).
    fn all_rules() -> Vec<&'static Rule> {
        [
            accounts::RULES,
            anomaly::RULES,
            archive::RULES,
            config::RULES,
            credential_table::RULES,
            eicar::RULES,
            executables::RULES,
            ioc::RULES,
            persistence::RULES,
            shell::RULES,
            yara::RULES,
        ]
        .concat()
    }

    /// `docs/detection.md` is the contract users read: each rule has a row with the
    /// severity, confidence and ATT&CK ids the code gives it, and ids are unique.
    #[test]
    fn every_rule_is_documented_with_its_metadata() {
        let docs = include_str!("../../../docs/detection.md");
        let mut seen = std::collections::BTreeSet::new();
        for rule in all_rules() {
            assert!(seen.insert(rule.id), "rule id {} used twice", rule.id);
            let row = docs
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", rule.id)))
                .unwrap_or_else(|| panic!("{} has no row in docs/detection.md", rule.id));
            let cells: Vec<&str> = row.split(" | ").collect();
            assert_eq!(cells[1], rule.severity.as_str(), "{}", rule.id);
            assert_eq!(cells[2], rule.confidence.as_str(), "{}", rule.id);
            assert_eq!(cells[3], rule.attack.join(", "), "{}", rule.id);
            for a in rule.attack {
                assert!(customs_core::attack::is_valid(a), "{}: {a}", rule.id);
            }
        }
        assert!(seen.len() > 60, "only {} rules", seen.len());
    }

    /// The analyzers whose rows state a severity range (it depends on what matched) are
    /// held to the weaker contract: a row in the docs, and ATT&CK ids on every finding.
    #[test]
    fn every_rule_carries_attack_ids_and_a_docs_row() {
        let docs = include_str!("../../../docs/detection.md");
        // Within one of these analyzers, variants of a rule share its id (the private-image
        // form of `ami-owner-not-allowed`); across analyzers an id is never reused.
        let ranged = [integrity::RULES, machine_images::RULES, names::RULES];
        let strict: std::collections::BTreeSet<&str> = all_rules().iter().map(|r| r.id).collect();
        let mut analyzer_of = std::collections::BTreeMap::new();
        for (i, rules) in ranged.iter().enumerate() {
            for r in *rules {
                assert!(!strict.contains(r.id), "rule id {} used twice", r.id);
                let first = *analyzer_of.entry(r.id).or_insert(i);
                assert_eq!(first, i, "rule id {} used by two analyzers", r.id);
            }
        }
        for rule in all_rules().into_iter().chain(ranged.concat()) {
            assert!(!rule.attack.is_empty(), "{} has no ATT&CK id", rule.id);
            for a in rule.attack {
                assert!(customs_core::attack::is_valid(a), "{}: {a}", rule.id);
            }
            assert!(
                docs.contains(&format!("| `{}` |", rule.id)),
                "{} has no row in docs/detection.md",
                rule.id
            );
        }
    }
}
