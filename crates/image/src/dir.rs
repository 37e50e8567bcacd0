//! `dir:` — an unpacked root filesystem on the local disk, seen as a one-layer image.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::blob::{BlobKey, BlobStore};
use crate::{Image, ImageError, Layer, LayerContent};

struct NoBlobs;

impl BlobStore for NoBlobs {
    fn open(&self, _key: &BlobKey) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        Err(ImageError::format("a directory target has no blobs"))
    }
}

pub(crate) fn open(path: &Path) -> Result<Vec<Image>, ImageError> {
    let meta = std::fs::metadata(path).map_err(|e| ImageError::io(path, e))?;
    if !meta.is_dir() {
        return Err(ImageError::Target(format!(
            "dir:{} is not a directory",
            path.display()
        )));
    }
    Ok(vec![Image {
        name: None,
        other_names: Vec::new(),
        manifest_digest: None,
        platform: None,
        config: None,
        layers: vec![Layer {
            id: format!("dir:{}", path.display()),
            blob_digest: None,
            diff_id: None,
            media_type: "inode/directory".into(),
            size: None,
            created_by: None,
            content: LayerContent::Directory(path.to_path_buf()),
        }],
        store: Arc::new(NoBlobs),
    }])
}
