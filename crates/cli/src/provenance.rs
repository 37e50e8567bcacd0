//! Wires the policy's `[provenance]` section into `customs scan`: reads the cosign keys it
//! names, asks the registry for signatures, and runs the pure check of `customs-policy`.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use customs_core::Finding;
use customs_image::cosign::{PublicKey, Verification};
use customs_image::registry::cosign_signatures;
use customs_image::{Image, RegistryOptions, Target};
use customs_policy::{Policy, Provenance, ProvenanceInput, SignatureState, check_provenance};

/// The provenance rules of a run and the keys they name.
pub struct ProvenanceCheck {
    rules: Provenance,
    keys: Vec<PublicKey>,
}

/// What the check found for one image, and what it could not do.
pub struct Outcome {
    /// Findings to add to the image's.
    pub findings: Vec<Finding>,
    /// Errors (a registry that could not be asked for signatures): the scan is incomplete.
    pub errors: Vec<String>,
}

impl ProvenanceCheck {
    /// `None` without a `[provenance]` section. Keys are read now, relative to the policy
    /// file's directory, so a bad key stops the run before any scan.
    pub fn load(policy: &Policy, policy_path: Option<&Path>) -> Result<Option<ProvenanceCheck>> {
        let Some(rules) = &policy.provenance else {
            return Ok(None);
        };
        let base = policy_path
            .and_then(Path::parent)
            .unwrap_or_else(|| Path::new(""));
        let mut keys = Vec::new();
        for k in &rules.keys {
            let path = base.join(k);
            let pem = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "can not read the cosign key `{}` named in the policy file",
                    path.display()
                )
            })?;
            keys.push(PublicKey::from_pem(&k.display().to_string(), &pem)?);
        }
        Ok(Some(ProvenanceCheck {
            rules: rules.clone(),
            keys,
        }))
    }

    /// Checks one image scanned from `target` and known as `name`.
    pub fn run(
        &self,
        target: Option<&Target>,
        image: &Image,
        name: Option<&str>,
        registry: &RegistryOptions,
    ) -> Outcome {
        let mut errors = Vec::new();
        let signature = if !self.rules.wants_signatures() {
            SignatureState::NotChecked
        } else {
            match (target, &image.manifest_digest) {
                (Some(Target::Registry(r)), Some(digest)) => {
                    match cosign_signatures(r, registry, digest, &self.keys) {
                        Ok(Verification::Unsigned) => SignatureState::Unsigned,
                        Ok(Verification::Verified { key, digest, .. }) => {
                            SignatureState::Verified {
                                key,
                                digest: digest.to_string(),
                            }
                        }
                        Ok(Verification::Invalid(reasons)) => SignatureState::Invalid(reasons),
                        Err(e) => {
                            // Fail closed: a signature that could not be looked up is not
                            // "unsigned", it is an incomplete scan.
                            errors.push(format!("can not check the image's signatures: {e}"));
                            SignatureState::NotChecked
                        }
                    }
                }
                (Some(Target::Registry(_)), None) => {
                    SignatureState::Unavailable("the image has no manifest digest".into())
                }
                _ => SignatureState::Unavailable(
                    "not scanned from a registry; cosign signatures live in the image's \
                     registry"
                        .into(),
                ),
            }
        };
        let input = ProvenanceInput {
            name,
            created: image.config.as_ref().and_then(|c| c.created.as_deref()),
            now_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            signature,
        };
        Outcome {
            findings: check_provenance(&self.rules, &input),
            errors,
        }
    }
}
