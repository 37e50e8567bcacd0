//! `docker save` archives: the legacy layout (`<id>/layer.tar`) and Docker ≥ 25's OCI layout
//! with a `manifest.json` beside it. Both are read through `manifest.json`, which is the
//! only part that carries `RepoTags`.

use std::path::Path;
use std::sync::Arc;

use customs_core::Digest;
use serde::Deserialize;

use crate::blob::{BlobKey, BlobStore, METADATA_LIMIT, read_limited, read_verified};
use crate::manifest::ConfigFile;
use crate::tarindex::TarIndex;
use crate::walk::normalize_path;
use crate::{Image, ImageError, Layer, LayerContent, PlatformChoice};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
    #[serde(default)]
    layer_sources: Option<std::collections::BTreeMap<String, crate::manifest::Descriptor>>,
}

/// `blobs/sha256/HEX` or `HEX.json` name their content; a legacy `ID/layer.tar` does not.
fn digest_in_name(name: &str) -> Option<Digest> {
    let p = normalize_path(name.as_bytes()).path;
    if let Some(rest) = p.strip_prefix("blobs/")
        && let Some((alg, hex)) = rest.split_once('/')
    {
        return format!("{alg}:{hex}").parse().ok();
    }
    p.strip_suffix(".json")
        .filter(|h| !h.contains('/'))
        .and_then(|h| format!("sha256:{h}").parse().ok())
}

pub(crate) fn open(path: &Path, _choice: &PlatformChoice) -> Result<Vec<Image>, ImageError> {
    let what = path.display().to_string();
    let tar = Arc::new(TarIndex::build(path)?);
    let raw = read_limited(
        tar.open_member("manifest.json")?,
        METADATA_LIMIT,
        "manifest.json",
    )?;
    let entries: Vec<Entry> = serde_json::from_slice(&raw).map_err(|e| {
        ImageError::format(format!(
            "manifest.json of `{what}` is not what docker save writes: {e}"
        ))
    })?;
    if entries.is_empty() {
        return Err(ImageError::format(format!(
            "manifest.json of `{what}` lists no image"
        )));
    }
    let mut images = Vec::new();
    for e in entries {
        let config_bytes = match digest_in_name(&e.config) {
            Some(d) => read_verified(
                tar.open(&BlobKey::Path(e.config.clone()))?,
                &d,
                METADATA_LIMIT,
                &format!("config {}", e.config),
            )?,
            None => read_limited(
                tar.open(&BlobKey::Path(e.config.clone()))?,
                METADATA_LIMIT,
                &e.config,
            )?,
        };
        let config = ConfigFile::parse(&config_bytes)?;
        let platform = config.platform();
        // docker save holds one image per entry; it is scanned whatever its platform.
        let diff_ids = config.diff_ids()?;
        if diff_ids.len() != e.layers.len() {
            return Err(ImageError::format(format!(
                "`{what}`: config lists {} diff ids for {} layers",
                diff_ids.len(),
                e.layers.len()
            )));
        }
        let history = config.layer_history(e.layers.len());
        let mut layers = Vec::new();
        for (i, l) in e.layers.iter().enumerate() {
            let blob_digest = digest_in_name(l);
            let source = e
                .layer_sources
                .as_ref()
                .and_then(|s| blob_digest.as_ref().and_then(|d| s.get(&d.to_string())));
            let size = tar.get(&normalize_path(l.as_bytes()).path).map(|(_, s)| s);
            let id = blob_digest.as_ref().unwrap_or(&diff_ids[i]).to_string();
            layers.push(Layer {
                id,
                blob_digest,
                diff_id: Some(diff_ids[i].clone()),
                media_type: source.map_or_else(
                    || "application/vnd.docker.image.rootfs.diff.tar".to_string(),
                    |d| d.media_type.clone(),
                ),
                size,
                created_by: history[i].clone(),
                content: LayerContent::Blob(BlobKey::Path(l.clone())),
            });
        }
        let mut tags = e.repo_tags.unwrap_or_default().into_iter();
        images.push(Image {
            name: tags.next(),
            other_names: tags.collect(),
            manifest_digest: None,
            platform,
            config: Some(config),
            layers,
            store: tar.clone(),
        });
    }
    Ok(images)
}
