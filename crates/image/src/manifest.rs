//! Manifests, indexes and image configs (OCI and Docker schema 2), read leniently: images
//! in the wild omit fields the specs call required, and a scanner must still read them.

use std::collections::BTreeMap;
use std::sync::Arc;

use customs_core::{Digest, ImageConfigSummary, Platform};
use serde::Deserialize;

use crate::blob::{BlobKey, BlobStore, METADATA_LIMIT, read_verified};
use crate::{Image, ImageError, Layer, LayerContent};

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The four manifest types customs reads, for an `Accept` header.
pub const ACCEPTED_MANIFESTS: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// A content descriptor.
#[derive(Clone, Debug, Deserialize)]
pub struct Descriptor {
    /// Media type; may be missing in the wild.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// Digest string, parsed when used so a bad one gives a clear error.
    pub digest: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<i64>,
    /// Platform of an index entry.
    #[serde(default)]
    pub platform: Option<DescriptorPlatform>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// The parsed digest.
    pub fn digest(&self) -> Result<Digest, ImageError> {
        self.digest
            .parse()
            .map_err(|e| ImageError::format(format!("descriptor: {e}")))
    }

    /// The declared size, if believable.
    pub fn size(&self) -> Option<u64> {
        self.size.and_then(|s| u64::try_from(s).ok())
    }

    /// The tag named by `org.opencontainers.image.ref.name`, if any.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations
            .get("org.opencontainers.image.ref.name")
            .map(String::as_str)
    }
}

/// `platform` of an index entry.
#[derive(Clone, Debug, Deserialize)]
pub struct DescriptorPlatform {
    /// OS.
    #[serde(default)]
    pub os: String,
    /// Architecture.
    #[serde(default)]
    pub architecture: String,
    /// Variant.
    #[serde(default)]
    pub variant: Option<String>,
}

impl DescriptorPlatform {
    fn to_platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
        }
    }
}

/// Either an index or a manifest, told apart by media type or by shape.
#[derive(Debug, Deserialize)]
struct AnyManifest {
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<i64>,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// The image configuration blob.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConfigFile {
    /// Architecture.
    #[serde(default)]
    pub architecture: Option<String>,
    /// OS.
    #[serde(default)]
    pub os: Option<String>,
    /// Variant.
    #[serde(default)]
    pub variant: Option<String>,
    /// Creation time, RFC 3339.
    #[serde(default)]
    pub created: Option<String>,
    /// What the container runs.
    #[serde(default)]
    pub config: Option<RunConfig>,
    /// Uncompressed layer digests.
    #[serde(default)]
    pub rootfs: Option<RootFs>,
    /// Build history.
    #[serde(default)]
    pub history: Vec<History>,
}

/// `config.config`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// User.
    #[serde(default)]
    pub user: Option<String>,
    /// Environment.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// Entrypoint.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Command.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// Working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// Exposed ports (keys only matter).
    #[serde(default)]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// Healthcheck.
    #[serde(default)]
    pub healthcheck: Option<serde_json::Value>,
    /// ONBUILD triggers.
    #[serde(default)]
    pub on_build: Option<Vec<String>>,
}

/// `config.rootfs`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RootFs {
    /// Uncompressed digests, one per layer.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// One build step.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct History {
    /// The command that made the step.
    #[serde(default)]
    pub created_by: Option<String>,
    /// True when the step made no layer.
    #[serde(default)]
    pub empty_layer: Option<bool>,
    /// When.
    #[serde(default)]
    pub created: Option<String>,
    /// Comment.
    #[serde(default)]
    pub comment: Option<String>,
}

impl ConfigFile {
    /// Parses a config blob.
    pub fn parse(bytes: &[u8]) -> Result<ConfigFile, ImageError> {
        serde_json::from_slice(bytes)
            .map_err(|e| ImageError::format(format!("image config is not valid JSON: {e}")))
    }

    /// The platform it declares, if complete.
    pub fn platform(&self) -> Option<Platform> {
        match (&self.os, &self.architecture) {
            (Some(os), Some(arch)) if !os.is_empty() && !arch.is_empty() => Some(Platform {
                os: os.clone(),
                architecture: arch.clone(),
                variant: self.variant.clone().filter(|v| !v.is_empty()),
            }),
            _ => None,
        }
    }

    /// Parsed diff ids; a malformed one is an error.
    pub fn diff_ids(&self) -> Result<Vec<Digest>, ImageError> {
        self.rootfs
            .iter()
            .flat_map(|r| r.diff_ids.iter())
            .map(|d| {
                d.parse()
                    .map_err(|e| ImageError::format(format!("rootfs.diff_ids: {e}")))
            })
            .collect()
    }

    /// `created_by` of each history step that made a layer, in order, when the history
    /// accounts for exactly `layers` layers; otherwise nothing is attributed.
    pub fn layer_history(&self, layers: usize) -> Vec<Option<String>> {
        let steps: Vec<Option<String>> = self
            .history
            .iter()
            .filter(|h| h.empty_layer != Some(true))
            .map(|h| h.created_by.clone())
            .collect();
        if steps.len() == layers {
            steps
        } else {
            vec![None; layers]
        }
    }

    /// The report's view of what the image runs.
    pub fn summary(&self) -> ImageConfigSummary {
        let c = self.config.clone().unwrap_or_default();
        ImageConfigSummary {
            entrypoint: c.entrypoint,
            cmd: c.cmd,
            env: c.env.unwrap_or_default(),
            user: c.user,
            working_dir: c.working_dir,
            exposed_ports: c.exposed_ports.unwrap_or_default().into_keys().collect(),
            labels: c.labels.unwrap_or_default(),
            history: self
                .history
                .iter()
                .filter_map(|h| h.created_by.clone())
                .collect(),
        }
    }
}

/// Which platforms to take from a multi-platform index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformChoice {
    /// This one (variant optional). A single-image index is taken whatever it says.
    One(Platform),
    /// Every image in the index.
    All,
}

/// A manifest or index that has been fetched and verified.
pub struct Fetched {
    /// Its digest.
    pub digest: Digest,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The platform the parent index gave it.
    pub platform: Option<Platform>,
}

/// Turns a root manifest or index into images, fetching children and configs from `store`.
pub fn resolve(
    store: Arc<dyn BlobStore>,
    root: Fetched,
    choice: &PlatformChoice,
    name: Option<String>,
) -> Result<Vec<Image>, ImageError> {
    let mut manifests = Vec::new();
    collect_manifests(store.as_ref(), root, &mut manifests, 0)?;
    let candidates: Vec<&(Fetched, AnyManifest)> = manifests.iter().collect();
    let chosen: Vec<&(Fetched, AnyManifest)> = match choice {
        PlatformChoice::All => candidates,
        PlatformChoice::One(want) if candidates.len() > 1 => {
            let hit: Vec<_> = candidates
                .iter()
                .copied()
                .filter(|(f, _)| f.platform.as_ref().is_some_and(|p| want.accepts(p)))
                .collect();
            if hit.is_empty() {
                let have: Vec<String> = candidates
                    .iter()
                    .map(|(f, _)| {
                        f.platform
                            .as_ref()
                            .map_or("unknown".into(), |p| p.to_string())
                    })
                    .collect();
                return Err(ImageError::NotFound(format!(
                    "no image for platform {want}; the index has {} (use --platform)",
                    have.join(", ")
                )));
            }
            hit.into_iter().take(1).collect()
        }
        PlatformChoice::One(_) => candidates,
    };
    chosen
        .into_iter()
        .map(|(f, m)| build_image(store.clone(), f, m, name.clone()))
        .collect()
}

fn parse_any(bytes: &[u8], what: &str) -> Result<AnyManifest, ImageError> {
    let m: AnyManifest = serde_json::from_slice(bytes)
        .map_err(|e| ImageError::format(format!("{what} is not valid JSON: {e}")))?;
    if m.schema_version == Some(1) {
        return Err(ImageError::format(format!(
            "{what} is a Docker schema 1 manifest, which is deprecated and not supported"
        )));
    }
    Ok(m)
}

fn is_index(m: &AnyManifest) -> bool {
    match m.media_type.as_deref() {
        Some(OCI_INDEX | DOCKER_LIST) => true,
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
        _ => m.manifests.is_some() && m.layers.is_none(),
    }
}

fn is_attestation(d: &Descriptor) -> bool {
    d.annotations
        .get("vnd.docker.reference.type")
        .is_some_and(|t| t == "attestation-manifest")
        || d.platform
            .as_ref()
            .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
}

const MAX_INDEX_DEPTH: usize = 4;
const MAX_MANIFESTS: usize = 256;

fn collect_manifests(
    store: &dyn BlobStore,
    node: Fetched,
    out: &mut Vec<(Fetched, AnyManifest)>,
    depth: usize,
) -> Result<(), ImageError> {
    let what = format!("manifest {}", node.digest);
    let m = parse_any(&node.bytes, &what)?;
    if !is_index(&m) {
        out.push((node, m));
        return Ok(());
    }
    if depth >= MAX_INDEX_DEPTH {
        return Err(ImageError::format(format!(
            "image indexes nested deeper than {MAX_INDEX_DEPTH}"
        )));
    }
    for child in m.manifests.unwrap_or_default() {
        if is_attestation(&child) {
            continue;
        }
        if out.len() >= MAX_MANIFESTS {
            return Err(ImageError::format(format!(
                "more than {MAX_MANIFESTS} manifests in one index"
            )));
        }
        let digest = child.digest()?;
        let bytes = store.manifest(&digest, METADATA_LIMIT)?;
        let platform = child
            .platform
            .as_ref()
            .map(DescriptorPlatform::to_platform)
            .or(node.platform.clone());
        collect_manifests(
            store,
            Fetched {
                digest,
                bytes,
                platform,
            },
            out,
            depth + 1,
        )?;
    }
    Ok(())
}

fn build_image(
    store: Arc<dyn BlobStore>,
    f: &Fetched,
    m: &AnyManifest,
    name: Option<String>,
) -> Result<Image, ImageError> {
    let what = format!("manifest {}", f.digest);
    let config_desc = m
        .config
        .as_ref()
        .ok_or_else(|| ImageError::format(format!("{what} has no config")))?;
    let config_digest = config_desc.digest()?;
    let raw = store.open(&BlobKey::Digest(config_digest.clone()))?;
    let config_bytes = read_verified(
        raw,
        &config_digest,
        METADATA_LIMIT,
        &format!("config {config_digest}"),
    )?;
    let config = ConfigFile::parse(&config_bytes)?;
    let descs = m.layers.clone().unwrap_or_default();
    let diff_ids = config.diff_ids()?;
    let history = config.layer_history(descs.len());
    let mut layers = Vec::with_capacity(descs.len());
    for (i, d) in descs.iter().enumerate() {
        let digest = d.digest()?;
        layers.push(Layer {
            id: digest.to_string(),
            blob_digest: Some(digest.clone()),
            diff_id: diff_ids.get(i).cloned(),
            media_type: d.media_type.clone(),
            size: d.size(),
            created_by: history[i].clone(),
            content: LayerContent::Blob(BlobKey::Digest(digest)),
        });
    }
    let name = name.or_else(|| {
        m.annotations
            .get("org.opencontainers.image.ref.name")
            .cloned()
    });
    Ok(Image {
        name,
        other_names: Vec::new(),
        manifest_digest: Some(f.digest.clone()),
        platform: config.platform().or(f.platform.clone()),
        config: Some(config),
        layers,
        store,
    })
}
