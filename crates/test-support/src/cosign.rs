//! Cosign signatures made the way `cosign sign --key` makes them, written from cosign's
//! documented "simple signing" format (cosign itself is not installable on the test
//! machines): an ECDSA P-256 key pair, the JSON payload naming the signed manifest digest,
//! the base64 DER signature in the layer annotation, and the `sha256-H.sig` manifest
//! pushed to a [`Registry`] over the distribution API.
//!
//! ```no_run
//! use customs_test_support::cosign::{Signer, payload};
//! use customs_test_support::registry::Registry;
//! let reg = Registry::start();
//! let signer = Signer::generate();
//! let digest = "sha256:...";
//! let body = payload(&format!("{}/app", reg.addr()), digest);
//! signer.push_signature(&reg, "app", digest, &[(body.clone(), signer.sign(&body))]);
//! ```

use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey as _, LineEnding};

use crate::fixtures::{MEDIA_OCI_CONFIG, MEDIA_OCI_MANIFEST, sha256_digest};
use crate::registry::Registry;

/// Media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation carrying the signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// An ECDSA P-256 key pair, fresh from the OS's random source.
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    /// A new random key pair.
    pub fn generate() -> Signer {
        loop {
            let mut seed = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut seed))
                .expect("read /dev/urandom");
            // A seed at or above the group order (chance about 2^-32) is not a key.
            if let Ok(key) = SigningKey::from_slice(&seed) {
                return Signer { key };
            }
        }
    }

    /// The public key as `cosign.pub` holds it (SubjectPublicKeyInfo PEM).
    pub fn public_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("encode public key")
    }

    /// Base64 of the ASN.1 DER ECDSA-SHA256 signature over `payload`.
    pub fn sign(&self, payload: &[u8]) -> String {
        let sig: Signature = self.key.sign(payload);
        STANDARD.encode(sig.to_der().as_bytes())
    }

    /// Pushes `signatures` (payload, base64 signature) as the `.sig` tag of `digest` in
    /// `repo`. Returns the signature manifest's digest.
    pub fn push_signature(
        &self,
        reg: &Registry,
        repo: &str,
        digest: &str,
        signatures: &[(Vec<u8>, String)],
    ) -> String {
        push_signature_manifest(reg, repo, digest, signatures)
    }
}

/// The simple-signing payload cosign signs for `digest` pushed as `docker_reference`.
pub fn payload(docker_reference: &str, digest: &str) -> Vec<u8> {
    format!(
        "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"{docker_reference}\"}},\
         \"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\
         \"type\":\"cosign container image signature\"}},\"optional\":null}}"
    )
    .into_bytes()
}

/// The tag cosign keeps the signatures of `digest` under: `sha256-HEX.sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// Pushes a `.sig` manifest for `digest` whose layers are `signatures` (payload, base64
/// signature; an empty signature string leaves the annotation out).
pub fn push_signature_manifest(
    reg: &Registry,
    repo: &str,
    digest: &str,
    signatures: &[(Vec<u8>, String)],
) -> String {
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for (payload, sig) in signatures {
        let d = reg.push_blob(repo, payload);
        let mut annotations = serde_json::Map::new();
        if !sig.is_empty() {
            annotations.insert(SIGNATURE_ANNOTATION.into(), sig.clone().into());
        }
        layers.push(serde_json::json!({
            "mediaType": SIMPLE_SIGNING,
            "size": payload.len(),
            "digest": d,
            "annotations": annotations,
        }));
        diff_ids.push(d);
    }
    // cosign's config: an empty image whose "layers" are the payloads.
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    }))
    .expect("config serializes");
    let config_digest = reg.push_blob(repo, &config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "config": {"mediaType": MEDIA_OCI_CONFIG, "size": config.len(), "digest": config_digest},
        "layers": layers,
    }))
    .expect("manifest serializes");
    reg.put_manifest(repo, &signature_tag(digest), MEDIA_OCI_MANIFEST, &manifest);
    sha256_digest(&manifest)
}
