//! customs' detection content bundle: the files under `content/` embedded in the binary,
//! plus directories users add (`--rules DIR`), with one digest over all of it that goes into
//! every report and cache key.
//!
//! ```
//! let bundle = customs_content::Bundle::embedded().unwrap();
//! assert!(bundle.info().digest.starts_with("sha256:"));
//! assert!(bundle.file("manifest.toml").is_some());
//! ```
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use customs_core::{ContentInfo, Digest};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

mod gates;
pub mod list;
mod literal_gate;
pub mod yara;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Everything that can be wrong with content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// A user directory could not be read.
    #[error("can not read content `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `manifest.toml` is missing or malformed.
    #[error("content manifest: {0}")]
    Manifest(String),
    /// A content file is malformed (a rule that does not compile, a bad list line).
    #[error("content `{path}`: {message}")]
    Invalid {
        /// Path inside the bundle.
        path: String,
        /// What is wrong, with line numbers where possible.
        message: String,
    },
    /// A scan with compiled content failed (a YARA timeout or engine error).
    #[error("{0}")]
    Scan(String),
}

#[derive(Deserialize)]
struct Manifest {
    schema: u32,
    version: String,
}

/// The supported manifest schema.
pub const SCHEMA: u32 = 1;

/// A set of content files with a version and a digest.
#[derive(Clone, Debug)]
pub struct Bundle {
    version: String,
    /// Path inside the bundle (`yara/miners.yar`, `user/0/x.yar`) → bytes.
    files: BTreeMap<String, Vec<u8>>,
    digest: Digest,
}

impl Bundle {
    /// The content shipped inside this binary.
    pub fn embedded() -> Result<Bundle, ContentError> {
        let files = embedded::EMBEDDED
            .iter()
            .map(|(p, b)| (p.to_string(), b.to_vec()))
            .collect();
        Bundle::from_files(files)
    }

    /// A bundle from files in memory (tests, or content loaded from elsewhere).
    pub fn from_files(files: BTreeMap<String, Vec<u8>>) -> Result<Bundle, ContentError> {
        let raw = files
            .get("manifest.toml")
            .ok_or_else(|| ContentError::Manifest("no manifest.toml".into()))?;
        let text = std::str::from_utf8(raw)
            .map_err(|_| ContentError::Manifest("manifest.toml is not UTF-8".into()))?;
        let m: Manifest =
            toml::from_str(text).map_err(|e| ContentError::Manifest(e.to_string()))?;
        if m.schema != SCHEMA {
            return Err(ContentError::Manifest(format!(
                "schema {} is not supported (this customs reads schema {SCHEMA})",
                m.schema
            )));
        }
        let digest = digest_of(&files);
        Ok(Bundle {
            version: m.version,
            files,
            digest,
        })
    }

    /// Adds every regular file under `dir` (a user's rules or lists) as `user/N/…`, where N
    /// counts the directories added so far. Links are not followed.
    pub fn with_user_dir(mut self, dir: &Path) -> Result<Bundle, ContentError> {
        let n = self
            .files
            .keys()
            .filter_map(|k| {
                k.strip_prefix("user/")?
                    .split('/')
                    .next()?
                    .parse::<u32>()
                    .ok()
            })
            .max()
            .map_or(0, |m| m + 1);
        let mut found = Vec::new();
        read_tree(dir, dir, &mut found)?;
        if found.is_empty() {
            return Err(ContentError::Io {
                path: dir.into(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no files in it"),
            });
        }
        for (rel, bytes) in found {
            self.files.insert(format!("user/{n}/{rel}"), bytes);
        }
        self.digest = digest_of(&self.files);
        Ok(self)
    }

    /// The bundle version from `manifest.toml`, with `+user` when user files were added.
    pub fn version(&self) -> String {
        if self.files.keys().any(|k| k.starts_with("user/")) {
            format!("{}+user", self.version)
        } else {
            self.version.clone()
        }
    }

    /// Digest over every path and byte of the bundle.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// What reports say about the content.
    pub fn info(&self) -> ContentInfo {
        ContentInfo {
            version: self.version(),
            digest: self.digest.to_string(),
        }
    }

    /// One file.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Files whose path starts with `prefix` and ends with one of `extensions` (all when
    /// empty), in path order. User files are matched by the part after `user/N/`, so a
    /// user's `x.yar` counts as a YARA file wherever it sits.
    pub fn files<'a>(
        &'a self,
        prefix: &'a str,
        extensions: &'a [&'a str],
    ) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.files.iter().filter_map(move |(p, b)| {
            let logical = p
                .strip_prefix("user/")
                .and_then(|r| r.split_once('/').map(|(_, rest)| rest));
            let ext_ok = extensions.is_empty() || extensions.iter().any(|e| p.ends_with(e));
            let prefix_ok = p.starts_with(prefix) || (logical.is_some() && prefix == "yara/");
            (ext_ok && prefix_ok).then_some((p.as_str(), b.as_slice()))
        })
    }
}

fn digest_of(files: &BTreeMap<String, Vec<u8>>) -> Digest {
    let mut h = Sha256::new();
    for (p, b) in files {
        // Length-prefixed, so no two different bundles hash the same byte stream.
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    }
    Digest::sha256_from_bytes(&h.finalize())
}

fn read_tree(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), ContentError> {
    let io = |path: &Path, source| ContentError::Io {
        path: path.into(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| io(dir, e))?;
    entries.sort();
    for p in entries {
        let meta = std::fs::symlink_metadata(&p).map_err(|e| io(&p, e))?;
        if meta.is_dir() {
            read_tree(root, &p, out)?;
        } else if meta.is_file() {
            let rel = p
                .strip_prefix(root)
                .expect("below root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read(&p).map_err(|e| io(&p, e))?));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_bundle_has_a_manifest_and_a_stable_digest() {
        let a = Bundle::embedded().unwrap();
        let b = Bundle::embedded().unwrap();
        assert_eq!(a.digest(), b.digest());
        assert!(!a.version().is_empty());
        assert!(!a.version().ends_with("+user"));
    }

    #[test]
    fn user_dirs_change_the_digest_and_are_listed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(
            d.path().join("sub/mine.yar"),
            b"rule x { condition: false }",
        )
        .unwrap();
        let base = Bundle::embedded().unwrap();
        let with = base.clone().with_user_dir(d.path()).unwrap();
        assert_ne!(base.digest(), with.digest());
        assert!(with.version().ends_with("+user"));
        let yara: Vec<&str> = with.files("yara/", &[".yar"]).map(|(p, _)| p).collect();
        assert!(yara.contains(&"user/0/sub/mine.yar"), "{yara:?}");
        let empty = tempfile::tempdir().unwrap();
        assert!(base.with_user_dir(empty.path()).is_err());
    }

    #[test]
    fn bad_manifests_are_refused() {
        let mut files = BTreeMap::new();
        assert!(Bundle::from_files(files.clone()).is_err());
        files.insert(
            "manifest.toml".into(),
            b"schema = 99\nversion = \"x\"".to_vec(),
        );
        assert!(
            matches!(Bundle::from_files(files), Err(ContentError::Manifest(m)) if m.contains("99"))
        );
    }
}
