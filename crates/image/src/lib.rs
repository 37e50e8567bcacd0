//! Reads container images as untrusted data: OCI layouts and archives, `docker save`
//! archives, unpacked root filesystems and registries all become [`Image`]s, whose layers
//! the [`walk`] module streams entry by entry without ever unpacking them to disk.
//!
//! ```no_run
//! use customs_image::{OpenOptions, Target, open};
//! let target: Target = "oci:/tmp/layout:latest".parse().unwrap();
//! for image in open(&target, &OpenOptions::default()).unwrap() {
//!     println!("{} layers", image.layers.len());
//! }
//! ```
#![deny(missing_docs)]

pub mod blob;
pub mod cosign;
mod dir;
mod docker_archive;
mod error;
mod file_digests;
mod hash_stage;
pub mod manifest;
mod md5_block;
mod md5_lanes;
mod oci;
pub mod registry;
mod target;
mod tarindex;
pub mod walk;

use std::path::PathBuf;
use std::sync::Arc;

use customs_core::{Digest, Platform};

pub use blob::{BlobKey, BlobStore};
pub use error::ImageError;
pub use manifest::{ConfigFile, PlatformChoice};
pub use registry::RegistryOptions;
pub use target::Target;

/// One image of one platform, ready to walk.
pub struct Image {
    /// The name it is known by, if the source says.
    pub name: Option<String>,
    /// Further names the source gives it (the other `RepoTags` of a `docker save` archive).
    /// Name checks look at every one: an archive can carry a harmless first tag and a
    /// look-alike second one.
    pub other_names: Vec<String>,
    /// Manifest digest, where there is a manifest.
    pub manifest_digest: Option<Digest>,
    /// Platform, from the config or the index.
    pub platform: Option<Platform>,
    /// The parsed config; absent for a plain directory.
    pub config: Option<ConfigFile>,
    /// Layers, base first.
    pub layers: Vec<Layer>,
    /// Where the layer blobs come from.
    pub store: Arc<dyn BlobStore>,
}

impl Image {
    /// `name` and then `other_names`.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.name
            .iter()
            .chain(self.other_names.iter())
            .map(String::as_str)
    }
}

/// One layer of an image.
#[derive(Clone, Debug)]
pub struct Layer {
    /// What reports call it: the blob digest, else the diff id, else a path.
    pub id: String,
    /// Digest of the blob as stored (verified while reading).
    pub blob_digest: Option<Digest>,
    /// Digest of the uncompressed tar (verified when there is no blob digest).
    pub diff_id: Option<Digest>,
    /// Media type from the manifest.
    pub media_type: String,
    /// Declared blob size.
    pub size: Option<u64>,
    /// The build step that made it.
    pub created_by: Option<String>,
    /// How to read it.
    pub content: LayerContent,
}

/// Where a layer's files come from.
#[derive(Clone, Debug)]
pub enum LayerContent {
    /// A tar blob (maybe compressed) from the image's store.
    Blob(BlobKey),
    /// A directory on the local disk, read without following links.
    Directory(PathBuf),
}

/// How to open targets.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Which platform(s) to take from multi-platform images.
    pub platform: PlatformChoice,
    /// Registry access.
    pub registry: RegistryOptions,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            platform: PlatformChoice::One(Platform::host()),
            registry: RegistryOptions::default(),
        }
    }
}

/// Opens a target and returns its images (several with `--platform all`).
pub fn open(target: &Target, opts: &OpenOptions) -> Result<Vec<Image>, ImageError> {
    match target {
        Target::Oci { path, tag } => oci::open_layout(path, tag.as_deref(), &opts.platform),
        Target::OciArchive { path, tag } => oci::open_archive(path, tag.as_deref(), &opts.platform),
        Target::DockerArchive { path } => docker_archive::open(path, &opts.platform),
        Target::Dir { path } => dir::open(path),
        Target::Registry(r) => registry::open(r, &opts.registry, &opts.platform),
        Target::Path(path) => open(&target::sniff(path)?, opts),
    }
}
