//! Fetches the cosign signatures of an image from its registry (see [`crate::cosign`]).

use customs_core::{Digest, ImageRef};
use serde::Deserialize;

use super::{RegistryOptions, RegistryStore};
use crate::ImageError;
use crate::blob::{BlobKey, BlobStore, METADATA_LIMIT, read_verified};
use crate::cosign::{
    self, MAX_SIGNATURES, PAYLOAD_LIMIT, PublicKey, SIGNATURE_ANNOTATION, SignatureLayer,
    Verification,
};
use crate::manifest::Descriptor;

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// Looks up and verifies the cosign signatures of the image `r` names, of which the
/// manifest `scanned` was scanned.
///
/// A signature may be on `scanned` itself or on the index `r` resolves to (cosign signs
/// what the tag points at, the index for a multi-platform image). The index counts only if
/// it lists `scanned`: a tag moved since the scan must not lend its signature to another
/// image. A missing signature tag is [`Verification::Unsigned`]; a registry that can not be
/// asked is an error (fail closed).
pub fn cosign_signatures(
    r: &ImageRef,
    opts: &RegistryOptions,
    scanned: &Digest,
    keys: &[PublicKey],
) -> Result<Verification, ImageError> {
    let store = RegistryStore::connect(r, opts)?;
    let mut candidates = vec![scanned.clone()];
    let (root, bytes) = store.fetch_manifest(&r.reference(), r.digest.as_ref(), METADATA_LIMIT)?;
    if &root != scanned {
        let listed = serde_json::from_slice::<Manifest>(&bytes)
            .map(|m| {
                m.manifests
                    .iter()
                    .any(|d| d.digest().ok().as_ref() == Some(scanned))
            })
            .unwrap_or(false);
        if listed {
            candidates.insert(0, root);
        } else {
            tracing::debug!(%root, %scanned, "The reference no longer resolves to the scanned image; its signature is not used.");
        }
    }
    let mut outcome = Verification::Unsigned;
    for d in &candidates {
        let layers = match signature_layers(&store, d)? {
            Some(l) => l,
            None => continue,
        };
        outcome = outcome.merge(cosign::verify(&layers, keys, d));
        if matches!(outcome, Verification::Verified { .. }) {
            break;
        }
    }
    Ok(outcome)
}

/// The layers of `signed`'s `.sig` manifest with their payloads, or `None` if there is no
/// such tag.
fn signature_layers(
    store: &RegistryStore,
    signed: &Digest,
) -> Result<Option<Vec<SignatureLayer>>, ImageError> {
    let tag = cosign::signature_tag(signed);
    let bytes = match store.fetch_manifest(&tag, None, METADATA_LIMIT) {
        Ok((_, b)) => b,
        Err(ImageError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        ImageError::format(format!("signature manifest `{tag}` is not a manifest: {e}"))
    })?;
    if m.layers.len() > MAX_SIGNATURES {
        return Err(ImageError::format(format!(
            "signature manifest `{tag}` has {} layers, more than the {MAX_SIGNATURES} looked at",
            m.layers.len()
        )));
    }
    let mut out = Vec::with_capacity(m.layers.len());
    for d in &m.layers {
        let digest = d.digest()?;
        // The payload must be the bytes the descriptor names: read_verified checks the
        // digest, so a registry can not swap a payload under a valid signature.
        let raw = store.open(&BlobKey::Digest(digest.clone()))?;
        let payload = read_verified(
            raw,
            &digest,
            PAYLOAD_LIMIT,
            &format!("signature payload {digest} of `{tag}`"),
        )?;
        out.push(SignatureLayer {
            media_type: d.media_type.clone(),
            payload,
            signature: d.annotations.get(SIGNATURE_ANNOTATION).cloned(),
        });
    }
    Ok(Some(out))
}
