//! Cosign image signatures with a public key ("simple signing"), verified offline.
//!
//! cosign stores the signatures of the manifest with digest `sha256:H` as the tag
//! `sha256-H.sig` in the image's own repository. That tag's manifest has one layer per
//! signature: a small JSON payload (media type [`SIMPLE_SIGNING`]) naming the signed
//! manifest digest, with the base64 ASN.1 DER ECDSA signature over the payload bytes in the
//! annotation [`SIGNATURE_ANNOTATION`]. The registry client fetches those layers
//! ([`crate::registry::cosign_signatures`]); this module judges them.
//!
//! Only ECDSA P-256 with SHA-256 keys are supported, the kind `cosign generate-key-pair`
//! writes. Keyless signatures (Fulcio certificates, Rekor transparency-log entries) need
//! the Sigstore trust root and the network, and are not verified here.
//!
//! ```
//! use customs_image::cosign::{PublicKey, signature_tag};
//! let d = "sha256:0000000000000000000000000000000000000000000000000000000000000000".parse().unwrap();
//! assert_eq!(signature_tag(&d), format!("sha256-{}.sig", "0".repeat(64)));
//! assert!(PublicKey::from_pem("k.pub", "not a key").is_err());
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use customs_core::Digest;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use serde::Deserialize;

/// Media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of a cosign payload.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";
/// Largest signature payload believed (real ones are a few hundred bytes).
pub const PAYLOAD_LIMIT: u64 = 1 << 20;
/// Most signature layers looked at on one `.sig` tag.
pub const MAX_SIGNATURES: usize = 64;

/// The tag cosign stores the signatures of `digest` under.
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}-{}.sig", digest.algorithm(), digest.hex())
}

/// A public key that can not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a PEM `PUBLIC KEY`, or not an ECDSA P-256 one.
    #[error(
        "`{name}` is not a cosign public key (PEM, ECDSA P-256; RSA, Ed25519 and keyless \
         are not supported): {why}"
    )]
    Unusable {
        /// The key's name (its file).
        name: String,
        /// What the parser said.
        why: String,
    },
}

/// A cosign public key and the name (file) it was read from.
#[derive(Clone, Debug)]
pub struct PublicKey {
    /// Where it came from, for reports.
    pub name: String,
    key: VerifyingKey,
}

impl PublicKey {
    /// Reads a `-----BEGIN PUBLIC KEY-----` PEM (SubjectPublicKeyInfo), as in `cosign.pub`.
    pub fn from_pem(name: &str, pem: &str) -> Result<PublicKey, KeyError> {
        let key =
            VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| KeyError::Unusable {
                name: name.to_string(),
                why: e.to_string(),
            })?;
        Ok(PublicKey {
            name: name.to_string(),
            key,
        })
    }

    fn verifies(&self, payload: &[u8], sig: &Signature) -> bool {
        // Both (r, s) and (r, n-s) are valid ECDSA signatures; try the low-s form too.
        self.key.verify(payload, sig).is_ok()
            || sig
                .normalize_s()
                .is_some_and(|low| self.key.verify(payload, &low).is_ok())
    }
}

/// One signature layer of a `.sig` manifest, its payload already read and checked against
/// the layer descriptor's digest.
#[derive(Clone, Debug)]
pub struct SignatureLayer {
    /// The layer's media type.
    pub media_type: String,
    /// The payload blob.
    pub payload: Vec<u8>,
    /// The [`SIGNATURE_ANNOTATION`] value, if present.
    pub signature: Option<String>,
}

/// What the signatures of one image come to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// No signature tag.
    Unsigned,
    /// A signature verified with a key and names the image's digest.
    Verified {
        /// The key's name.
        key: String,
        /// The signed manifest digest.
        digest: Digest,
        /// The payload's `docker-reference`.
        docker_reference: String,
    },
    /// Signatures exist, none is valid; one reason each.
    Invalid(Vec<String>),
}

impl Verification {
    /// Combines the outcomes for several digests that stand for the same image (its index
    /// and its platform manifest): any valid signature wins, then any invalid one.
    pub fn merge(self, other: Verification) -> Verification {
        match (self, other) {
            (v @ Verification::Verified { .. }, _) | (_, v @ Verification::Verified { .. }) => v,
            (Verification::Invalid(mut a), Verification::Invalid(b)) => {
                a.extend(b);
                Verification::Invalid(a)
            }
            (v @ Verification::Invalid(_), Verification::Unsigned)
            | (Verification::Unsigned, v @ Verification::Invalid(_)) => v,
            (Verification::Unsigned, Verification::Unsigned) => Verification::Unsigned,
        }
    }
}

#[derive(Deserialize)]
struct Payload {
    critical: Critical,
}

#[derive(Deserialize)]
struct Critical {
    identity: Identity,
    image: PayloadImage,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Deserialize)]
struct PayloadImage {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// Judges the signature layers found under `signed`'s `.sig` tag: valid when one layer's
/// signature verifies with one of `keys` and its payload names `signed` itself.
pub fn verify(layers: &[SignatureLayer], keys: &[PublicKey], signed: &Digest) -> Verification {
    if layers.is_empty() {
        return Verification::Invalid(vec![format!(
            "the signature tag `{}` holds no signature layer",
            signature_tag(signed)
        )]);
    }
    let mut reasons = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        match verify_one(layer, keys, signed) {
            Ok(v) => return v,
            Err(why) => reasons.push(format!("signature {} for {}: {why}", i + 1, signed.short())),
        }
    }
    Verification::Invalid(reasons)
}

fn verify_one(
    layer: &SignatureLayer,
    keys: &[PublicKey],
    signed: &Digest,
) -> Result<Verification, String> {
    if layer.media_type != SIMPLE_SIGNING {
        return Err(format!(
            "layer media type `{}` is not {SIMPLE_SIGNING}",
            layer.media_type
        ));
    }
    let b64 = layer
        .signature
        .as_deref()
        .ok_or_else(|| format!("no `{SIGNATURE_ANNOTATION}` annotation"))?;
    let raw = STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("the signature is not base64: {e}"))?;
    let sig = Signature::from_der(&raw)
        .or_else(|_| Signature::from_slice(&raw))
        .map_err(|_| "the signature is not an ECDSA P-256 signature".to_string())?;
    let key = keys
        .iter()
        .find(|k| k.verifies(&layer.payload, &sig))
        .ok_or_else(|| {
            let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
            format!(
                "does not verify with {} (signed by another key, or the payload was altered)",
                names.join(", ")
            )
        })?;
    // Claims are read only once the signature holds: unsigned JSON says nothing.
    let payload: Payload = serde_json::from_slice(&layer.payload)
        .map_err(|e| format!("the signed payload is not a cosign payload: {e}"))?;
    if payload.critical.kind != SIGNATURE_TYPE {
        return Err(format!(
            "the signed payload's type is `{}`, not `{SIGNATURE_TYPE}`",
            payload.critical.kind
        ));
    }
    let claimed = &payload.critical.image.docker_manifest_digest;
    if claimed.parse::<Digest>().ok().as_ref() != Some(signed) {
        return Err(format!(
            "valid signature by {}, but for another image: it signs `{claimed}`",
            key.name
        ));
    }
    Ok(Verification::Verified {
        key: key.name.clone(),
        digest: signed.clone(),
        docker_reference: payload.critical.identity.docker_reference,
    })
}
