//! Real image formats built in code, byte for byte deterministic.
//!
//! Every tar entry has mtime [`MTIME`], uid/gid 0 and empty user/group names; configs carry
//! the spec's fixed `created` date; JSON is written compactly with a fixed key order. So the
//! same spec always gives the same digests, and tests may hard-code them if they must.
//!
//! Layers are described literally ([`Entry`]): exactly the entries listed are written, in
//! order, and no parent directories are invented (real images sometimes omit them).
//! Hostile names that the `tar` crate refuses to write (`../x`, `/abs`) go through
//! [`Entry::RawName`] and [`Entry::RawSymlink`], whose header bytes are set by hand.
//!
//! ```
//! use customs_test_support::fixtures::{Entry, ImageSpec, LayerSpec, write_oci_layout};
//! let dir = tempfile::tempdir().unwrap();
//! let spec = ImageSpec::new(vec![LayerSpec::new(vec![
//!     Entry::dir("etc"),
//!     Entry::file("etc/motd", "hello\n"),
//!     Entry::Whiteout("etc/shadow".into()),
//! ])]);
//! let info = write_oci_layout(dir.path(), &[("latest", &spec)]).unwrap();
//! assert_eq!(info.layer_digests[0].len(), 1);
//! assert!(dir.path().join("index.json").is_file());
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

mod layer;
mod layout;

pub use layer::{layer_blob, layer_tar};
pub use layout::{
    BuiltImage, BuiltLayer, LayoutInfo, build_image, write_docker_archive_legacy,
    write_docker_archive_oci, write_oci_archive, write_oci_layout, write_oci_multiplatform,
};

/// The mtime of every tar entry we write (2024-01-01T00:00:00Z).
pub const MTIME: u64 = 1_704_067_200;

/// The default `created` date of images and history entries.
pub const CREATED: &str = "2024-01-01T00:00:00Z";

/// OCI image manifest media type.
pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config media type.
pub const MEDIA_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// A plain tar (`application/vnd.oci.image.layer.v1.tar`).
    None,
    /// gzip, what registries mostly hold (`...tar+gzip`).
    #[default]
    Gzip,
    /// zstd (`...tar+zstd`).
    Zstd,
}

impl Compression {
    /// The OCI layer media type for this compression.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// One tar entry of a layer. Paths are relative (`etc/passwd`); normal paths are checked and
/// normalised by the `tar` crate (`./` and `//` disappear, `..` and absolute paths are
/// refused), use the `Raw*` variants to write names verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file.
    File {
        /// Path in the layer.
        path: String,
        /// Contents.
        data: Vec<u8>,
        /// Permission bits (setuid etc. included).
        mode: u32,
    },
    /// A directory (written with a trailing `/`).
    Dir {
        /// Path in the layer.
        path: String,
        /// Permission bits.
        mode: u32,
    },
    /// A symbolic link (mode 0o777).
    Symlink {
        /// Path in the layer.
        path: String,
        /// Link target, written as given (may contain `..` or be absolute).
        target: String,
    },
    /// A hard link to an earlier entry of the same layer.
    Hardlink {
        /// Path in the layer.
        path: String,
        /// Path of the entry linked to.
        target: String,
    },
    /// A whiteout deleting `NAME` from lower layers: written as the empty file
    /// `dir/.wh.base` (`Whiteout("etc/x")` gives `etc/.wh.x`).
    Whiteout(String),
    /// An opaque directory marker: `DIR/.wh..wh..opq` (hides everything lower layers put in
    /// `DIR`).
    Opaque(String),
    /// A character device (mode 0o666).
    CharDevice {
        /// Path in the layer.
        path: String,
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
    /// A named pipe (mode 0o644).
    Fifo {
        /// Path in the layer.
        path: String,
    },
    /// A regular file (mode 0o644) whose header name bytes are written verbatim, for hostile
    /// names like `../../etc/x` or `/abs/path`. Names over 100 bytes get a GNU long-name
    /// record.
    RawName {
        /// Name bytes, as they will appear in the archive.
        name: Vec<u8>,
        /// Contents.
        data: Vec<u8>,
    },
    /// A symlink whose name and target bytes are written verbatim (e.g. a target of
    /// `../../../../etc/passwd`). Over 100 bytes they get GNU long-name/long-link records.
    RawSymlink {
        /// Name bytes.
        name: Vec<u8>,
        /// Target bytes.
        target: Vec<u8>,
    },
}

impl Entry {
    /// A regular file with mode 0o644.
    pub fn file(path: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Entry::File {
            path: path.into(),
            data: data.into(),
            mode: 0o644,
        }
    }

    /// An executable regular file with mode 0o755.
    pub fn exec(path: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Entry::File {
            path: path.into(),
            data: data.into(),
            mode: 0o755,
        }
    }

    /// A directory with mode 0o755.
    pub fn dir(path: impl Into<String>) -> Self {
        Entry::Dir {
            path: path.into(),
            mode: 0o755,
        }
    }

    /// A symbolic link `path -> target`.
    pub fn symlink(path: impl Into<String>, target: impl Into<String>) -> Self {
        Entry::Symlink {
            path: path.into(),
            target: target.into(),
        }
    }

    /// A hard link `path` to the earlier entry `target`.
    pub fn hardlink(path: impl Into<String>, target: impl Into<String>) -> Self {
        Entry::Hardlink {
            path: path.into(),
            target: target.into(),
        }
    }
}

/// One layer: its entries (in archive order), compression and history line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayerSpec {
    /// Entries in archive order.
    pub entries: Vec<Entry>,
    /// Blob compression.
    pub compression: Compression,
    /// The history `created_by`; `None` gives `customs-fixture layer N` (N counts from 0).
    pub created_by: Option<String>,
}

impl LayerSpec {
    /// A gzip layer with these entries and the default history line.
    pub fn new(entries: Vec<Entry>) -> Self {
        LayerSpec {
            entries,
            compression: Compression::Gzip,
            created_by: None,
        }
    }

    /// The same layer with another compression.
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }

    /// The same layer with this history `created_by`.
    pub fn created_by(mut self, s: impl Into<String>) -> Self {
        self.created_by = Some(s.into());
        self
    }
}

/// A whole single-platform image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// Layers, base first.
    pub layers: Vec<LayerSpec>,
    /// `os` of the config (and of the index entry in multi-platform layouts).
    pub os: String,
    /// `architecture`, Go-style (`amd64`, `arm64`, `arm`).
    pub architecture: String,
    /// `variant` (`v7`, `v8`), omitted from JSON when `None`.
    pub variant: Option<String>,
    /// RFC 3339 `created` of the config and of every history entry.
    pub created: String,
    /// `config.Entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `config.Cmd`.
    pub cmd: Option<Vec<String>>,
    /// `config.Env` (omitted when empty).
    pub env: Vec<String>,
    /// `config.User`.
    pub user: Option<String>,
    /// `config.Labels` (omitted when empty).
    pub labels: BTreeMap<String, String>,
    /// History steps that made no layer (`empty_layer: true`), written after the layers'
    /// entries, e.g. `/bin/sh -c #(nop)  CMD ["sh"]`.
    pub extra_history: Vec<String>,
}

impl Default for ImageSpec {
    fn default() -> Self {
        ImageSpec::new(Vec::new())
    }
}

impl ImageSpec {
    /// A linux/amd64 image of these layers, created [`CREATED`], with an empty run config.
    pub fn new(layers: Vec<LayerSpec>) -> Self {
        ImageSpec {
            layers,
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
            created: CREATED.into(),
            entrypoint: None,
            cmd: None,
            env: Vec::new(),
            user: None,
            labels: BTreeMap::new(),
            extra_history: Vec::new(),
        }
    }

    /// The same image for another platform.
    pub fn platform(mut self, os: &str, arch: &str, variant: Option<&str>) -> Self {
        self.os = os.into();
        self.architecture = arch.into();
        self.variant = variant.map(Into::into);
        self
    }

    /// The same image with this `Entrypoint`.
    pub fn entrypoint(mut self, args: &[&str]) -> Self {
        self.entrypoint = Some(args.iter().map(|s| s.to_string()).collect());
        self
    }

    /// The same image with this `Cmd`.
    pub fn cmd(mut self, args: &[&str]) -> Self {
        self.cmd = Some(args.iter().map(|s| s.to_string()).collect());
        self
    }

    /// The same image with one more label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The EICAR antivirus test file (68 bytes). The source keeps it reversed so that this file
/// itself is not flagged; the check only triggers on files that *start* with the string.
pub const EICAR: &[u8] =
    &reversed(*b"*H+H$!ELIF-TSET-SURIVITNA-DRADNATS-RACIE$}7)CC7)^P(45XZP\\4[PA@%P!O5X");

const fn reversed<const N: usize>(mut b: [u8; N]) -> [u8; N] {
    let mut i = 0;
    while i < N / 2 {
        let t = b[i];
        b[i] = b[N - 1 - i];
        b[N - 1 - i] = t;
        i += 1;
    }
    b
}

/// A layer with the real `/bin/busybox` (from Debian's `busybox-static`), `bin/` and the
/// applet links `sh`, `ls`, `cat`, `echo` -> `busybox`; gzip, about 1 MB.
///
/// # Panics
/// When `/bin/busybox` is missing: run `apt-get install busybox-static`.
pub fn busybox_layer() -> LayerSpec {
    static BUSYBOX: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let bin = BUSYBOX.get_or_init(|| {
        std::fs::read("/bin/busybox").unwrap_or_else(|e| {
            panic!("can not read `/bin/busybox` ({e}): run `apt-get install busybox-static`")
        })
    });
    let mut entries = vec![Entry::dir("bin"), Entry::exec("bin/busybox", bin.clone())];
    entries
        .extend(["sh", "ls", "cat", "echo"].map(|a| Entry::symlink(format!("bin/{a}"), "busybox")));
    LayerSpec::new(entries).created_by("COPY busybox /bin/ # buildkit")
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    std::fs::write(path, bytes)
        .map_err(|e| io::Error::new(e.kind(), format!("can not write `{}`: {e}", path.display())))
}

#[cfg(test)]
mod tests;
