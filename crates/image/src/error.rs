use std::path::PathBuf;

use customs_core::Digest;

/// Everything that can go wrong while opening an image or reading its blobs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// A local file could not be read.
    #[error("can not read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A stream broke while being read.
    #[error("reading {what}: {source}")]
    Read {
        /// What was being read.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The image's own metadata is not what the format requires.
    #[error("invalid image: {0}")]
    Format(String),
    /// Bytes did not hash to the digest that names them.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was read.
        what: String,
        /// The digest the metadata promised.
        expected: Digest,
        /// The digest of what was read.
        actual: Digest,
    },
    /// The tag or platform asked for is not there.
    #[error("not found: {0}")]
    NotFound(String),
    /// Several images match and none was chosen.
    #[error("{what} holds several images; choose one: {choices}")]
    Ambiguous {
        /// The layout or archive.
        what: String,
        /// The tags or platforms to choose from.
        choices: String,
    },
    /// A registry answered with an error, or not at all.
    #[error("registry {registry}: {message}")]
    Registry {
        /// Host.
        registry: String,
        /// What went wrong, with the registry's own error code where there is one.
        message: String,
    },
    /// Metadata too large to be believable (a manifest of hundreds of MB is an attack).
    #[error("{what} is larger than the {limit}-byte limit")]
    TooLarge {
        /// What was read.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// The target string names no source customs knows.
    #[error("{0}")]
    Target(String),
}

impl ImageError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ImageError {
        ImageError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(msg: impl Into<String>) -> ImageError {
        ImageError::Format(msg.into())
    }
}
