//! Target strings, in skopeo's transport syntax, and sniffing of bare paths.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use customs_core::ImageRef;

use crate::ImageError;
use crate::tarindex::TarIndex;

/// What to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `oci:PATH[:TAG]`, an OCI image layout directory.
    Oci {
        /// Layout directory.
        path: PathBuf,
        /// Tag (`org.opencontainers.image.ref.name`).
        tag: Option<String>,
    },
    /// `oci-archive:PATH[:TAG]`, a tar of an OCI layout.
    OciArchive {
        /// Archive file.
        path: PathBuf,
        /// Tag.
        tag: Option<String>,
    },
    /// `docker-archive:PATH`, what `docker save` writes.
    DockerArchive {
        /// Archive file.
        path: PathBuf,
    },
    /// `dir:PATH`, an unpacked root filesystem.
    Dir {
        /// Root directory.
        path: PathBuf,
    },
    /// `registry:REF` or a bare reference.
    Registry(ImageRef),
    /// A bare path whose kind is decided by looking at it.
    Path(PathBuf),
}

/// `PATH[:TAG]`: the tag is what follows the last `:` unless that leaves a path that does
/// not exist while the whole string does (a path with a colon in it).
fn split_tag(s: &str) -> (PathBuf, Option<String>) {
    if let Some((p, t)) = s.rsplit_once(':')
        && !t.contains('/')
        && !p.is_empty()
        && (!Path::new(s).exists() || Path::new(p).exists())
    {
        return (PathBuf::from(p), Some(t.to_string()));
    }
    (PathBuf::from(s), None)
}

impl FromStr for Target {
    type Err = ImageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad_ref = |e: customs_core::ReferenceError| ImageError::Target(e.to_string());
        if let Some(rest) = s.strip_prefix("oci:") {
            let (path, tag) = split_tag(rest);
            return Ok(Target::Oci { path, tag });
        }
        if let Some(rest) = s.strip_prefix("oci-archive:") {
            let (path, tag) = split_tag(rest);
            return Ok(Target::OciArchive { path, tag });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            // skopeo allows docker-archive:PATH:REF to pick an image; customs reads the
            // archive's manifest.json, which names its own tags.
            return Ok(Target::DockerArchive {
                path: PathBuf::from(rest),
            });
        }
        if let Some(rest) = s.strip_prefix("dir:") {
            return Ok(Target::Dir {
                path: PathBuf::from(rest),
            });
        }
        if let Some(rest) = s
            .strip_prefix("registry:")
            .or_else(|| s.strip_prefix("docker://"))
        {
            return rest.parse().map(Target::Registry).map_err(bad_ref);
        }
        if Path::new(s).exists() {
            return Ok(Target::Path(PathBuf::from(s)));
        }
        s.parse().map(Target::Registry).map_err(|e| {
            // `rootfs:/x`, `tar:./x`: a kind customs does not have, in front of a path.
            let unknown_kind = s.split_once(':').is_some_and(|(kind, rest)| {
                !kind.is_empty()
                    && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                    && rest.contains('/')
            });
            ImageError::Target(format!(
                "`{s}` is not an existing path and not an image reference ({e}){}",
                if unknown_kind {
                    "; the target kinds are oci:, oci-archive:, docker-archive:, dir: and registry:"
                } else {
                    ""
                }
            ))
        })
    }
}

/// Decides what a bare path is.
pub(crate) fn sniff(path: &Path) -> Result<Target, ImageError> {
    let meta = std::fs::metadata(path).map_err(|e| ImageError::io(path, e))?;
    if meta.is_dir() {
        if path.join("index.json").is_file() && path.join("oci-layout").is_file() {
            return Ok(Target::Oci {
                path: path.into(),
                tag: None,
            });
        }
        return Ok(Target::Dir { path: path.into() });
    }
    let mut head = [0u8; 512];
    let mut f = File::open(path).map_err(|e| ImageError::io(path, e))?;
    let n = read_full(&mut f, &mut head).map_err(|e| ImageError::io(path, e))?;
    let head = &head[..n];
    let kind = if head.starts_with(b"QFI\xfb") {
        Some("a qcow2 disk image")
    } else if head.starts_with(b"KDMV") || head.starts_with(b"# Disk DescriptorFile") {
        Some("a VMDK disk image")
    } else if head.starts_with(b"vhdxfile") {
        Some("a VHDX disk image")
    } else if head.starts_with(b"conectix") {
        Some("a VHD disk image")
    } else if head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("a compressed file (decompress a compressed `docker save` archive first)")
    } else {
        None
    };
    if let Some(kind) = kind {
        return Err(ImageError::Target(format!(
            "`{}` is {kind}, which customs can not scan yet",
            path.display()
        )));
    }
    if n < 512 || &head[257..262] != b"ustar" {
        return Err(ImageError::Target(format!(
            "`{}` is neither an image directory nor a tar archive customs knows",
            path.display()
        )));
    }
    let index = TarIndex::build(path)?;
    if index.get("manifest.json").is_some() {
        Ok(Target::DockerArchive { path: path.into() })
    } else if index.get("index.json").is_some() {
        Ok(Target::OciArchive {
            path: path.into(),
            tag: None,
        })
    } else {
        Err(ImageError::Target(format!(
            "`{}` is a tar archive but has neither manifest.json (docker save) nor index.json (OCI layout); to scan a root filesystem tar, unpack it and use dir:",
            path.display()
        )))
    }
}

fn read_full(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transports() {
        assert_eq!(
            "oci:/x/layout:v1".parse::<Target>().unwrap(),
            Target::Oci {
                path: "/x/layout".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            "oci-archive:a.tar".parse::<Target>().unwrap(),
            Target::OciArchive {
                path: "a.tar".into(),
                tag: None
            }
        );
        assert!(matches!(
            "nginx:1.27".parse::<Target>().unwrap(),
            Target::Registry(r) if r.repository == "library/nginx"
        ));
        assert!(matches!(
            "registry:127.0.0.1:5000/app:1".parse::<Target>().unwrap(),
            Target::Registry(r) if r.registry == "127.0.0.1:5000"
        ));
        assert!("/no/such/Path".parse::<Target>().is_err());
    }

    /// A kind customs does not have is an error that lists the kinds, not a registry host
    /// with a port named like a directory.
    #[test]
    fn an_unknown_kind_in_front_of_a_path_is_refused_with_the_kinds() {
        for bad in [
            "rootfs:/no/such/dir",
            "rootfs:target/fp/minbase",
            "tar:./x/y",
        ] {
            let e = bad.parse::<Target>().unwrap_err().to_string();
            assert!(e.contains("the target kinds are oci:"), "{bad}: {e}");
        }
        // A bad reference without a path gets no such hint.
        let e = "nginx:bad tag".parse::<Target>().unwrap_err().to_string();
        assert!(!e.contains("target kinds"), "{e}");
    }
}
