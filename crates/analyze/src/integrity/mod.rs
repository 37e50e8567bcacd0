//! Package integrity: the files of an image checked against its own package databases.
//!
//! A trojaned `/bin/ps` carries no miner string; only the package database that installed
//! it knows it is not the file the distribution shipped. The check is cross-layer, so it
//! runs in two steps:
//!
//! 1. during each layer's single walk, [`LayerFacts`] keeps what the check needs of that
//!    layer: for regular files under the package trees their mode, whether they are ELF or
//!    scripts, and the digests package databases use (MD5 for dpkg, sha256 for rpm; SHA-1
//!    for apk only when a database asks for it, by reading the layers again); symlinks
//!    (for `/bin -> usr/bin`); and the bytes of the database files. The layer cache keeps
//!    the facts with the layer's findings.
//! 2. after all layers, [`check`] applies the layers in order (last layer wins, whiteouts
//!    and opaque directories delete), reads dpkg, apk and rpm (SQLite) databases from that
//!    merged filesystem, and compares.
//!
//! It finds package files whose digest differs (`package-file-modified`, severity by what
//! the file is; `package-conffile-modified` for configuration), executables in system
//! directories that no package owns (`package-unowned-executable`), and a database whose
//! record of a file changed in a later layer while the package's version did not
//! (`package-db-tampered`): that is how an attacker makes the database vouch for a
//! replaced file, and it is not what `apt-get install` or an upgrade does. Databases it can
//! not read are reported, never taken as clean.

mod apk;
mod dpkg;
mod rpm;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use customs_core::{Confidence, Finding, Severity, Skipped};
use customs_image::walk::{
    EntryKind, ExtraDigests, FileContent, FileEntry, LayerRecord, normalize_path,
};
use serde::{Deserialize, Serialize};

use crate::Rule;

/// Id of the check, for cache keys.
pub(crate) const ID: &str = "package-integrity";
/// Bumped whenever its findings for the same image change.
pub(crate) const VERSION: u32 = 1;

/// Largest database file read whole; a larger one is listed in `coverage.skipped`.
const DB_MAX: u64 = 64 << 20;
/// Most symlinks followed while resolving one path (loops end here).
const MAX_HOPS: usize = 16;

const MODIFIED: Rule = Rule {
    id: "package-file-modified",
    title: "A file differs from what its package installed",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1554", "T1036.005", "T1204.003"],
    description: "The image's own package database records a digest for this file and the \
        file in the image has another. Replacing a system binary or library in place \
        (T1554, Compromise Host Software Binary) keeps its trusted name and location \
        (T1036.005) while running other code; no content rule sees it. Severity follows \
        what the file is: programs in /bin, /sbin, /usr/bin, /usr/sbin, libraries and \
        everything under /lib* and /usr/lib*, sshd and PAM modules are high; other \
        executables medium; other data low. A legitimate cause is a build step that \
        patches a packaged file (sed on a packaged script, a hand-built binary copied over \
        the packaged one): rebuild the package or move the file out of the package's path.",
};

const CONFFILE: Rule = Rule {
    id: "package-conffile-modified",
    title: "A package's configuration file was changed",
    severity: Severity::Info,
    confidence: Confidence::High,
    attack: &["T1204.003"],
    description: "A file the package marks as configuration (dpkg conffile, rpm %config) \
        differs from what the package installed. Administrators and image builds edit \
        configuration routinely, so this is context; the configuration analyzers judge \
        what the file now says.",
};

const UNOWNED: Rule = Rule {
    id: "package-unowned-executable",
    title: "An executable in a system directory belongs to no package",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &["T1036.005", "T1204.003"],
    description: "An ELF file, or a script with an execute bit, sits in /bin, /sbin, \
        /usr/bin, /usr/sbin or a library directory, and no package in the image's database \
        installed it. Droppers put their tools where system programs live so they look \
        like one (T1036.005). Legitimate causes: a build step that copies a program there \
        instead of /usr/local or /opt, or a maintainer script that generates it. \
        /usr/local, Python byte-code caches and policy-rc.d are not flagged.",
};

const TAMPERED: Rule = Rule {
    id: "package-db-tampered",
    title: "A later layer rewrote a package's recorded digest without changing its version",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1554", "T1070", "T1204.003"],
    description: "A layer changed the digest the package database records for a file, \
        while the package's name and version stayed the same. Installing, upgrading or \
        reinstalling a package never does that: the same version ships the same bytes. It \
        is how a replaced file is made to match the database, hiding the replacement from \
        verification (T1070). The file the database now vouches for is not the one the \
        distribution built.",
};

const CORRUPT: Rule = Rule {
    id: "package-db-corrupt",
    title: "The package database can not be read",
    severity: Severity::Medium,
    confidence: Confidence::High,
    attack: &["T1070", "T1204.003"],
    description: "A package database in the image is truncated or malformed, so its files \
        could not (all) be verified against it. Package managers never leave it like that; \
        breaking it is a cheap way to avoid verification. What could be read was checked.",
};

const UNVERIFIABLE: Rule = Rule {
    id: "package-db-unverifiable",
    title: "rpm database in a format customs can not read; rpm files not verified",
    severity: Severity::Info,
    confidence: Confidence::High,
    attack: &["T1204.003"],
    description: "The image keeps its rpm database in Berkeley DB (`Packages`, rpm before \
        4.16) or ndb (`Packages.db`, openSUSE) format. customs reads only the SQLite format \
        (`rpmdb.sqlite`): the files of these rpm packages were not verified.",
};

/// Every rule this analyzer gives, for the checks in `lib.rs`.
#[cfg(test)]
pub(crate) const RULES: &[&Rule] = &[
    &MODIFIED,
    &CONFFILE,
    &UNOWNED,
    &TAMPERED,
    &CORRUPT,
    &UNVERIFIABLE,
];

/// What a package database says a file's digest is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    Md5([u8; 16]),
    Sha1([u8; 20]),
    Sha256([u8; 32]),
    /// Listed without a digest we can check (a directory, a link, an unknown algorithm).
    None,
}

impl Expected {
    /// The digest's name and hex, for evidence.
    fn show(&self) -> (&'static str, String) {
        match self {
            Expected::Md5(d) => ("md5", hex::encode(d)),
            Expected::Sha1(d) => ("sha1", hex::encode(d)),
            Expected::Sha256(d) => ("sha256", hex::encode(d)),
            Expected::None => ("none", String::new()),
        }
    }

    /// The same digest of the file, when the walk computed it.
    fn actual(&self, f: &FileFact) -> Option<String> {
        match self {
            Expected::Md5(_) => f.md5.clone(),
            Expected::Sha1(_) => f.sha1.clone(),
            Expected::Sha256(_) => f.sha256.clone(),
            Expected::None => None,
        }
    }
}

/// A file a package lists with its digest.
#[derive(Clone, Debug)]
struct OwnedFile {
    /// Where the package put it (no leading `/`), before following directory symlinks.
    path: String,
    expected: Expected,
    /// Configuration the administrator may edit.
    config: bool,
    /// The database file that lists it.
    listed_in: String,
}

/// One installed package.
#[derive(Clone, Debug)]
struct Package {
    name: String,
    version: String,
    files: Vec<OwnedFile>,
    /// Every path it owns (directories and links included), before following symlinks.
    owned: Vec<String>,
}

/// One package database as read from the merged filesystem.
#[derive(Clone, Debug)]
struct PkgDb {
    kind: &'static str,
    packages: Vec<Package>,
    /// Paths owned by no package but by the database itself (diverted files).
    extra_owned: Vec<String>,
    /// Why parts of it could not be read; non-empty means ownership is incomplete.
    problems: Vec<String>,
}

impl PkgDb {
    fn new(kind: &'static str) -> PkgDb {
        PkgDb {
            kind,
            packages: Vec::new(),
            extra_owned: Vec::new(),
            problems: Vec::new(),
        }
    }
}

/// A database path made relative and normalized like the walker's paths.
fn clean_path(p: &str) -> String {
    normalize_path(p.as_bytes()).path
}

/// What kind of executable a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Exec {
    Elf,
    Script,
    No,
}

/// One regular file of a layer, as the check needs it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFact {
    path: String,
    mode: u32,
    exec: Exec,
    md5: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
}

/// A database file's bytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DbFile {
    path: String,
    #[serde(with = "base64_bytes")]
    data: Vec<u8>,
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

/// What one layer's walk gathered for the check; cached with the layer's result.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LayerFacts {
    files: Vec<FileFact>,
    /// Symlinks: path and target as written.
    links: Vec<(String, String)>,
    dbs: Vec<DbFile>,
    /// Database files too large to read whole.
    too_large: Vec<String>,
    /// Databases in formats the check can not read.
    unreadable: Vec<String>,
    /// Whether `files` carry SHA-1 (see [`LayerFacts::extra_digests`]). Absent in cache
    /// entries written before it existed, which then get their SHA-1 read again if needed.
    #[serde(default)]
    sha1: bool,
    /// Index of `files` by path, for hard links.
    #[serde(skip)]
    by_path: HashMap<String, usize>,
}

/// Whether a path is where packages install files (and so worth the extra digests).
/// `/usr/local` is the administrator's by policy; no package installs there.
fn in_package_tree(path: &str) -> bool {
    let top = path.split('/').next().unwrap_or("");
    (matches!(top, "bin" | "sbin" | "etc" | "opt" | "boot") || top.starts_with("lib"))
        && path.contains('/')
        || (top == "usr" && !path.starts_with("usr/local/"))
}

fn is_db_file(path: &str) -> bool {
    dpkg::is_db_file(path) || apk::is_db_file(path) || rpm::is_db_file(path)
}

fn hex_opt<const N: usize>(d: Option<[u8; N]>) -> Option<String> {
    d.map(hex::encode)
}

impl LayerFacts {
    /// How many leading bytes of this file the check needs: database files whole.
    pub(crate) fn content_cap(entry: &FileEntry) -> usize {
        if is_db_file(&entry.path) {
            entry.size.min(DB_MAX) as usize
        } else {
            // ELF magic or `#!`.
            4
        }
    }

    /// The digests the first read gives files where packages install: MD5, for dpkg (and
    /// old rpm). SHA-1 is apk's (and rare rpm's), and costs 5% of a Debian image's scan for
    /// nothing: when the check finds a database naming a file by SHA-1 it lacks
    /// ([`Outcome::lacks_sha1`]), the scan reads the layers whose files lack it again, for
    /// SHA-1 alone ([`LayerFacts::sha1_only`]), and checks again.
    pub(crate) fn extra_digests(entry: &FileEntry) -> ExtraDigests {
        ExtraDigests {
            md5: in_package_tree(&entry.path),
            sha1: false,
        }
    }

    /// The digests of the second read: SHA-1 of files where packages install.
    pub(crate) fn sha1_only(entry: &FileEntry) -> ExtraDigests {
        ExtraDigests {
            md5: false,
            sha1: in_package_tree(&entry.path),
        }
    }

    /// Whether this layer's SHA-1 was not computed yet.
    pub(crate) fn lacks_sha1(&self) -> bool {
        !self.sha1
    }

    /// Takes the SHA-1 of each file from the second read (by path; hard links by their
    /// target), and marks the layer as having them.
    pub(crate) fn set_sha1(&mut self, by_path: &HashMap<String, [u8; 20]>) {
        for f in &mut self.files {
            f.sha1 = by_path.get(&f.path).map(hex::encode);
        }
        self.sha1 = true;
    }

    /// Records one regular file of the layer.
    pub(crate) fn file(&mut self, entry: &FileEntry, content: &FileContent<'_>) {
        if is_db_file(&entry.path) {
            if content.complete && entry.size <= DB_MAX {
                self.dbs.push(DbFile {
                    path: entry.path.clone(),
                    data: content.data.to_vec(),
                });
            } else {
                self.too_large.push(entry.path.clone());
            }
        }
        if rpm::UNREADABLE.contains(&entry.path.as_str()) {
            self.unreadable.push(entry.path.clone());
        }
        if !in_package_tree(&entry.path) {
            return;
        }
        let exec = if content.data.starts_with(b"\x7fELF") {
            Exec::Elf
        } else if content.data.starts_with(b"#!") {
            Exec::Script
        } else {
            Exec::No
        };
        self.by_path.insert(entry.path.clone(), self.files.len());
        self.files.push(FileFact {
            path: entry.path.clone(),
            mode: entry.mode,
            exec,
            md5: hex_opt(content.md5),
            sha1: hex_opt(content.sha1),
            sha256: content.sha256.as_ref().map(|d| d.hex().to_string()),
        });
    }

    /// Records links: symlinks for path resolution, hard links as copies of their target.
    pub(crate) fn other(&mut self, entry: &FileEntry) {
        match entry.kind {
            EntryKind::Symlink => {
                if let Some(t) = &entry.link {
                    self.links.push((entry.path.clone(), t.clone()));
                }
            }
            EntryKind::Hardlink => {
                let Some(&i) = entry.link.as_ref().and_then(|t| self.by_path.get(t)) else {
                    return;
                };
                if !in_package_tree(&entry.path) {
                    return;
                }
                let mut copy = self.files[i].clone();
                copy.path = entry.path.clone();
                self.by_path.insert(entry.path.clone(), self.files.len());
                self.files.push(copy);
            }
            _ => {}
        }
    }
}

/// What the check concluded.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Findings with the index of the layer they belong to.
    pub findings: Vec<(usize, Finding)>,
    /// Package files whose digest matched the database.
    pub verified: u64,
    /// Database files not read whole, with their layer.
    pub skipped: Vec<(usize, Skipped)>,
    /// Layers that wrote a file a database names by SHA-1, without its SHA-1 computed (see
    /// [`LayerFacts::extra_digests`]): only these are read again, so a large layer of
    /// Python packages on an Alpine base is not.
    pub lacks_sha1: BTreeSet<usize>,
}

/// The filesystem after some layers, as far as the check cares.
#[derive(Default)]
struct Merged<'a> {
    files: BTreeMap<&'a str, (usize, &'a FileFact)>,
    links: HashMap<&'a str, &'a str>,
    dbs: BTreeMap<&'a str, (usize, &'a [u8])>,
    unreadable: BTreeMap<&'a str, usize>,
}

/// Removes `dir` and everything under it (everything when `dir` is the root).
fn remove_under<V>(map: &mut BTreeMap<&str, V>, dir: &str) {
    if dir.is_empty() {
        map.clear();
        return;
    }
    let prefix = format!("{dir}/");
    let doomed: Vec<&str> = map
        .range(prefix.as_str()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| *k)
        .collect();
    for k in doomed {
        map.remove(k);
    }
    map.remove(dir);
}

impl<'a> Merged<'a> {
    /// Puts layer `i` on top: its whiteouts and opaque directories first (they hide what
    /// lower layers wrote), then every path it writes replaces the lower one.
    fn apply(&mut self, i: usize, facts: &'a LayerFacts, record: &LayerRecord) {
        for gone in record.whiteouts.iter().chain(&record.opaque_dirs) {
            remove_under(&mut self.files, gone);
            remove_under(&mut self.dbs, gone);
            remove_under(&mut self.unreadable, gone);
            let prefix = format!("{gone}/");
            self.links
                .retain(|k, _| !gone.is_empty() && *k != gone && !k.starts_with(&prefix));
        }
        for p in &record.paths {
            self.files.remove(p.as_str());
            self.links.remove(p.as_str());
            self.dbs.remove(p.as_str());
            self.unreadable.remove(p.as_str());
        }
        for f in &facts.files {
            self.files.insert(&f.path, (i, f));
        }
        for (p, t) in &facts.links {
            self.links.insert(p, t);
        }
        for d in &facts.dbs {
            self.dbs.insert(&d.path, (i, &d.data));
        }
        for p in &facts.unreadable {
            self.unreadable.insert(p, i);
        }
    }

    /// Where `path` really is: every directory symlink on the way followed (`bin/ls` is
    /// `usr/bin/ls` on merged-/usr systems); the last component is not followed.
    fn resolve(&self, path: &str) -> String {
        let mut parts: Vec<String> = path.split('/').map(str::to_string).collect();
        let mut hops = 0;
        let mut i = 0;
        while i + 1 < parts.len() {
            let prefix = parts[..=i].join("/");
            if let Some(target) = self.links.get(prefix.as_str()) {
                hops += 1;
                if hops > MAX_HOPS {
                    break;
                }
                let base = if target.starts_with('/') {
                    String::new()
                } else {
                    parts[..i].join("/")
                };
                let joined = format!("{base}/{target}/{}", parts[i + 1..].join("/"));
                parts = normalize_path(joined.as_bytes())
                    .path
                    .split('/')
                    .map(str::to_string)
                    .collect();
                i = 0;
                continue;
            }
            i += 1;
        }
        parts.join("/")
    }

    /// Every database the merged files hold.
    fn databases(&self) -> Vec<(PkgDb, String, usize)> {
        let mut out = Vec::new();
        let dpkg_files: dpkg::Files<'_> = self
            .dbs
            .iter()
            .filter(|(p, _)| dpkg::is_db_file(p))
            .map(|(p, (_, b))| (*p, *b))
            .collect();
        if let Some(db) = dpkg::read(&dpkg_files) {
            let (source, layer) = ["var/lib/dpkg/status"]
                .into_iter()
                .chain(dpkg_files.keys().copied())
                .find_map(|p| self.dbs.get(p).map(|(l, _)| (p.to_string(), *l)))
                .unwrap_or_default();
            out.push((db, source, layer));
        }
        for p in apk::PATHS {
            if let Some((layer, bytes)) = self.dbs.get(p) {
                out.push((apk::read(p, bytes), p.to_string(), *layer));
            }
        }
        for p in rpm::SQLITE {
            if let Some((layer, bytes)) = self.dbs.get(p) {
                let wal = self.dbs.get(format!("{p}-wal").as_str()).map(|(_, b)| *b);
                out.push((rpm::read(p, bytes, wal), p.to_string(), *layer));
            }
        }
        out
    }
}

/// Runs the check over the layers' facts (base first) and their records (`None` for a layer
/// that could not be read).
pub(crate) fn check(layers: &[&LayerFacts], records: &[Option<&LayerRecord>]) -> Outcome {
    let mut out = Outcome::default();
    let mut merged = Merged::default();
    let mut previous: Vec<(PkgDb, String, usize)> = Vec::new();
    let empty = LayerRecord::default();
    for (i, facts) in layers.iter().enumerate() {
        let record = records.get(i).copied().flatten().unwrap_or(&empty);
        merged.apply(i, facts, record);
        for p in &facts.too_large {
            out.skipped.push((
                i,
                Skipped {
                    path: p.clone(),
                    reason: format!(
                        "package database larger than {DB_MAX} bytes; its packages were not verified"
                    ),
                    layer: None,
                },
            ));
        }
        let touched = !facts.dbs.is_empty()
            || record
                .whiteouts
                .iter()
                .chain(&record.opaque_dirs)
                .any(|w| merged_db_prefix(w));
        if touched {
            let current = merged.databases();
            tampered(&previous, &current, i, &mut out.findings);
            previous = current;
        }
    }
    verify(&merged, &previous, &mut out);
    if !merged.unreadable.is_empty() && !previous.iter().any(|(db, _, _)| db.kind == "rpm") {
        for (p, &layer) in &merged.unreadable {
            out.findings.push((
                layer,
                UNVERIFIABLE.finding(
                    Some(p),
                    format!("{p}: Berkeley DB or ndb rpm database; files of rpm packages were not verified"),
                ),
            ));
        }
    }
    out
}

/// Whether a whiteout or opaque directory may remove database files.
fn merged_db_prefix(w: &str) -> bool {
    [
        "var/lib/dpkg",
        "lib/apk",
        "usr/lib/apk",
        "var/lib/rpm",
        "usr/lib/sysimage/rpm",
    ]
    .iter()
    .any(|d| d.starts_with(w) || w.starts_with(d))
}

/// `package-db-tampered`: a layer changed a recorded digest of a package whose name and
/// version stayed the same.
fn tampered(
    before: &[(PkgDb, String, usize)],
    after: &[(PkgDb, String, usize)],
    layer: usize,
    out: &mut Vec<(usize, Finding)>,
) {
    for (db, _, _) in after {
        let Some((old, _, _)) = before.iter().find(|(o, _, _)| o.kind == db.kind) else {
            continue;
        };
        let mut old_files: HashMap<(&str, &str), HashMap<&str, &Expected>> = HashMap::new();
        for p in &old.packages {
            let m = old_files
                .entry((p.name.as_str(), p.version.as_str()))
                .or_default();
            for f in &p.files {
                m.insert(f.path.as_str(), &f.expected);
            }
        }
        for p in &db.packages {
            let Some(m) = old_files.get(&(p.name.as_str(), p.version.as_str())) else {
                continue;
            };
            for f in &p.files {
                let Some(&&was) = m.get(f.path.as_str()) else {
                    continue;
                };
                if was == Expected::None || f.expected == Expected::None || was == f.expected {
                    continue;
                }
                let (algo, now) = f.expected.show();
                let (_, before) = was.show();
                out.push((
                    layer,
                    TAMPERED.finding(
                        Some(&f.listed_in),
                        format!(
                            "{} package {} {}: /{} was recorded with {algo} {before}; this layer records {now} for the same version",
                            db.kind, p.name, p.version, f.path
                        ),
                    ),
                ));
            }
        }
    }
}

/// How much a changed package file matters.
fn modified_severity(path: &str, fact: &FileFact) -> Severity {
    let name = path.rsplit('/').next().unwrap_or(path);
    let top = path.split('/').next().unwrap_or("");
    let system_bin = ["bin/", "sbin/", "usr/bin/", "usr/sbin/", "usr/libexec/"]
        .iter()
        .any(|d| path.starts_with(d));
    let library = top.starts_with("lib")
        || path
            .strip_prefix("usr/")
            .is_some_and(|r| r.starts_with("lib"))
        || name.contains(".so");
    if system_bin
        || library
        || name == "sshd"
        || path.contains("security/pam_")
        || fact.exec == Exec::Elf
    {
        Severity::High
    } else if fact.exec == Exec::Script || fact.mode & 0o111 != 0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Directories where an unowned executable is suspicious, and how much.
fn unowned_severity(path: &str) -> Option<Severity> {
    if ["bin/", "sbin/", "usr/bin/", "usr/sbin/", "usr/libexec/"]
        .iter()
        .any(|d| path.starts_with(d))
    {
        return Some(Severity::Medium);
    }
    let top = path.split('/').next().unwrap_or("");
    if top.starts_with("lib")
        || path
            .strip_prefix("usr/")
            .is_some_and(|r| r.starts_with("lib"))
    {
        return Some(Severity::Low);
    }
    None
}

/// Files made by maintainer scripts or interpreters at install time, owned by no package
/// by design.
fn generated(path: &str) -> bool {
    path.contains("/__pycache__/") || path.ends_with(".pyc") || path == "usr/sbin/policy-rc.d"
}

/// Compares every package file with the merged filesystem; then looks for executables no
/// package owns.
fn verify(merged: &Merged<'_>, dbs: &[(PkgDb, String, usize)], out: &mut Outcome) {
    let mut owned: HashSet<String> = HashSet::new();
    let mut verified: HashSet<String> = HashSet::new();
    let mut complete = !dbs.is_empty();
    for (db, source, layer) in dbs {
        if !db.problems.is_empty() {
            complete = false;
            let shown: Vec<&str> = db.problems.iter().take(5).map(String::as_str).collect();
            out.findings.push((
                *layer,
                CORRUPT.finding(
                    Some(source),
                    format!(
                        "{} database: {}{}",
                        db.kind,
                        shown.join("; "),
                        if db.problems.len() > 5 {
                            format!(" (and {} more)", db.problems.len() - 5)
                        } else {
                            String::new()
                        }
                    ),
                ),
            ));
        }
        for p in &db.packages {
            for o in &p.owned {
                owned.insert(merged.resolve(o));
            }
            for f in &p.files {
                let path = merged.resolve(&f.path);
                let Some(&(layer, fact)) = merged.files.get(path.as_str()) else {
                    // Missing files are normal: slim images drop docs and man pages.
                    continue;
                };
                let Some(actual) = f.expected.actual(fact) else {
                    // SHA-1 is computed only once a database asks for it; the scan reads
                    // the layers again and checks again.
                    if matches!(f.expected, Expected::Sha1(_)) {
                        out.lacks_sha1.insert(layer);
                    }
                    continue;
                };
                let (algo, expected) = f.expected.show();
                if actual == expected {
                    verified.insert(path);
                    continue;
                }
                let evidence = format!(
                    "{} package {} {} lists /{} with {algo} {expected} ({}); the file has {actual}",
                    db.kind, p.name, p.version, f.path, f.listed_in
                );
                let finding = if f.config {
                    CONFFILE.finding(Some(&path), evidence)
                } else {
                    let mut x = MODIFIED.finding(Some(&path), evidence);
                    x.severity = modified_severity(&path, fact);
                    x
                };
                out.findings.push((layer, finding));
            }
        }
        for o in &db.extra_owned {
            owned.insert(merged.resolve(o));
        }
    }
    out.verified = verified.len() as u64;
    // Without a complete ownership list every file would look unowned.
    if !complete || !dbs.iter().any(|(db, _, _)| !db.packages.is_empty()) {
        return;
    }
    for (path, &(layer, fact)) in &merged.files {
        let is_exec = match fact.exec {
            Exec::Elf => true,
            Exec::Script => fact.mode & 0o111 != 0,
            Exec::No => false,
        };
        if !is_exec || generated(path) || owned.contains(*path) {
            continue;
        }
        let Some(severity) = unowned_severity(path) else {
            continue;
        };
        let kinds: Vec<&str> = dbs.iter().map(|(db, _, _)| db.kind).collect();
        let mut f = UNOWNED.finding(
            Some(path),
            format!(
                "{} mode {:o}; no package in the {} database owns /{path}",
                if fact.exec == Exec::Elf {
                    "ELF file"
                } else {
                    "script"
                },
                fact.mode,
                kinds.join(" and ")
            ),
        );
        f.severity = severity;
        out.findings.push((layer, f));
    }
}
