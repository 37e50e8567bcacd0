//! OCI image layouts, as a directory (`oci:`) or a tar of one (`oci-archive:`).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::blob::{BlobKey, BlobStore, METADATA_LIMIT, read_limited, sha256};
use crate::manifest::{Fetched, OCI_INDEX, resolve};
use crate::tarindex::TarIndex;
use crate::{Image, ImageError, PlatformChoice};

/// Blobs of a layout directory. A blob that is a symlink is refused: following it could
/// read files outside the layout.
struct LayoutDir {
    root: PathBuf,
}

impl BlobStore for LayoutDir {
    fn open(&self, key: &BlobKey) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let BlobKey::Digest(d) = key else {
            return Err(ImageError::format(
                "an OCI layout names blobs by digest only",
            ));
        };
        // Digest guarantees the hex part is hex only, so this path stays inside blobs/.
        let path = self.root.join("blobs").join(d.algorithm()).join(d.hex());
        let meta = std::fs::symlink_metadata(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ImageError::NotFound(format!("blob {d} in `{}`", self.root.display()))
            } else {
                ImageError::io(&path, e)
            }
        })?;
        if !meta.is_file() {
            return Err(ImageError::format(format!(
                "blob `{}` is not a regular file",
                path.display()
            )));
        }
        Ok(Box::new(
            File::open(&path).map_err(|e| ImageError::io(&path, e))?,
        ))
    }
}

pub(crate) fn open_layout(
    path: &Path,
    tag: Option<&str>,
    choice: &PlatformChoice,
) -> Result<Vec<Image>, ImageError> {
    let index_path = path.join("index.json");
    let meta =
        std::fs::symlink_metadata(&index_path).map_err(|e| ImageError::io(&index_path, e))?;
    if !meta.is_file() {
        return Err(ImageError::format(format!(
            "`{}` is not a regular file",
            index_path.display()
        )));
    }
    let f = File::open(&index_path).map_err(|e| ImageError::io(&index_path, e))?;
    let index = read_limited(f, METADATA_LIMIT, "index.json")?;
    let store = Arc::new(LayoutDir { root: path.into() });
    open_index(store, &index, tag, choice, &path.display().to_string())
}

pub(crate) fn open_archive(
    path: &Path,
    tag: Option<&str>,
    choice: &PlatformChoice,
) -> Result<Vec<Image>, ImageError> {
    let tar = TarIndex::build(path)?;
    let index = read_limited(tar.open_member("index.json")?, METADATA_LIMIT, "index.json")?;
    open_index(
        Arc::new(tar),
        &index,
        tag,
        choice,
        &path.display().to_string(),
    )
}

/// The name an index entry gives its image: containerd's full name, or a ref.name that is
/// a whole reference rather than a bare tag.
fn entry_name(d: &Value) -> Option<String> {
    let ann = d.get("annotations")?;
    if let Some(n) = ann.get("io.containerd.image.name").and_then(Value::as_str) {
        return Some(n.to_string());
    }
    ann.get("org.opencontainers.image.ref.name")
        .and_then(Value::as_str)
        .filter(|n| n.contains('/') || n.contains(':'))
        .map(str::to_string)
}

fn ref_name(d: &Value) -> Option<&str> {
    d.get("annotations")?
        .get("org.opencontainers.image.ref.name")?
        .as_str()
}

/// Whether an index entry's ref.name is the tag asked for (a full reference ending in
/// `:tag` counts, as containerd writes them).
fn has_tag(d: &Value, tag: &str) -> bool {
    ref_name(d).is_some_and(|n| {
        n == tag
            || n.strip_suffix(tag)
                .is_some_and(|p| p.ends_with(':') && !p.contains('@'))
    })
}

/// Picks the entries of a layout's `index.json` that the tag selects, and resolves them.
pub(crate) fn open_index(
    store: Arc<dyn BlobStore>,
    index: &[u8],
    tag: Option<&str>,
    choice: &PlatformChoice,
    what: &str,
) -> Result<Vec<Image>, ImageError> {
    let v: Value = serde_json::from_slice(index).map_err(|e| {
        ImageError::format(format!("index.json of `{what}` is not valid JSON: {e}"))
    })?;
    let entries = v
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or_else(|| ImageError::format(format!("index.json of `{what}` has no manifests")))?;
    let chosen: Vec<&Value> = match tag {
        Some(t) => entries.iter().filter(|d| has_tag(d, t)).collect(),
        None => entries.iter().collect(),
    };
    if chosen.is_empty() {
        let tags: Vec<&str> = entries.iter().filter_map(ref_name).collect();
        return Err(ImageError::NotFound(format!(
            "{} in `{what}`; it has: {}",
            tag.map_or("any image".to_string(), |t| format!("tag `{t}`")),
            if tags.is_empty() {
                "no tags".to_string()
            } else {
                tags.join(", ")
            }
        )));
    }
    let mut tags: Vec<&str> = chosen.iter().filter_map(|d| ref_name(d)).collect();
    tags.sort_unstable();
    tags.dedup();
    if tag.is_none() && tags.len() > 1 {
        return Err(ImageError::Ambiguous {
            what: format!("`{what}`"),
            choices: tags.join(", "),
        });
    }
    let name = chosen.iter().find_map(|d| entry_name(d));
    // The chosen entries become one synthetic index, so tags that name several platforms
    // (as containerd exports them) go through the same platform choice as a real index.
    let synthetic = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": chosen,
    }))
    .expect("JSON values serialize");
    let root = Fetched {
        digest: sha256(&synthetic),
        bytes: synthetic,
        platform: None,
    };
    resolve(store, root, choice, name)
}
