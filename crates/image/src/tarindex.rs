//! An index of a tar file's members, built once, so blobs can be read by seeking instead of
//! unpacking the archive.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::ImageError;
use crate::blob::{BlobKey, BlobStore};
use crate::walk::normalize_path;

/// Most members an outer archive may have before it is treated as hostile.
const MAX_MEMBERS: usize = 1_000_000;

/// Regular-file members of a tar, by normalized path.
pub(crate) struct TarIndex {
    path: PathBuf,
    members: HashMap<String, (u64, u64)>,
}

impl TarIndex {
    pub(crate) fn build(path: &Path) -> Result<TarIndex, ImageError> {
        let f = File::open(path).map_err(|e| ImageError::io(path, e))?;
        let mut archive = tar::Archive::new(f);
        let mut members = HashMap::new();
        let entries = archive
            .entries_with_seek()
            .map_err(|e| ImageError::io(path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| bad(path, e))?;
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind == tar::EntryType::Continuous) {
                continue;
            }
            let name = normalize_path(&entry.path_bytes()).path;
            let pos = (entry.raw_file_position(), entry.size());
            if members.insert(name.clone(), pos).is_some() {
                return Err(ImageError::format(format!(
                    "`{}` has the member `{name}` twice; refusing to guess which one counts",
                    path.display()
                )));
            }
            if members.len() > MAX_MEMBERS {
                return Err(ImageError::format(format!(
                    "`{}` has more than {MAX_MEMBERS} members",
                    path.display()
                )));
            }
        }
        Ok(TarIndex {
            path: path.to_path_buf(),
            members,
        })
    }

    pub(crate) fn get(&self, name: &str) -> Option<(u64, u64)> {
        self.members.get(name).copied()
    }

    pub(crate) fn open_member(&self, name: &str) -> Result<Box<dyn Read + Send>, ImageError> {
        let (pos, size) = self.get(name).ok_or_else(|| {
            ImageError::NotFound(format!("`{name}` in `{}`", self.path.display()))
        })?;
        let mut f = File::open(&self.path).map_err(|e| ImageError::io(&self.path, e))?;
        f.seek(SeekFrom::Start(pos))
            .map_err(|e| ImageError::io(&self.path, e))?;
        Ok(Box::new(f.take(size)))
    }
}

fn bad(path: &Path, e: std::io::Error) -> ImageError {
    ImageError::format(format!(
        "`{}` is not a readable tar archive: {e}",
        path.display()
    ))
}

/// Blobs of an archived OCI layout or Docker ≥ 25 save: `blobs/ALG/HEX`, or any member by
/// path for legacy `docker save` layers.
impl BlobStore for TarIndex {
    fn open(&self, key: &BlobKey) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        match key {
            BlobKey::Digest(d) => self.open_member(&format!("blobs/{}/{}", d.algorithm(), d.hex())),
            BlobKey::Path(p) => self.open_member(&normalize_path(p.as_bytes()).path),
        }
    }
}
