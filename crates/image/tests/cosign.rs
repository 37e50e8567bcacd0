//! Cosign public-key signatures against a real `docker-registry` on loopback: the image is
//! pushed with skopeo, signed in the test with a fresh key pair following cosign's
//! simple-signing format (see customs_test_support::cosign), and verified by the registry
//! client. Each rejection is the same setup with one thing wrong.

use std::path::Path;

use customs_core::{Digest, ImageRef, Platform};
use customs_image::PlatformChoice;
use customs_image::cosign::{PublicKey, Verification};
use customs_image::registry::{RegistryOptions, cosign_signatures, open};
use customs_test_support::cosign::{Signer, payload, push_signature_manifest};
use customs_test_support::fixtures::{self, Entry, ImageSpec, LayerSpec};
use customs_test_support::registry::Registry;
use tempfile::TempDir;

fn spec(arch: &str, text: &str) -> ImageSpec {
    ImageSpec::new(vec![LayerSpec::new(vec![Entry::file("etc/motd", text)])])
        .platform("linux", arch, None)
}

fn opts(scratch: &Path) -> RegistryOptions {
    RegistryOptions {
        docker_config: Some(scratch.join("no-docker-config")),
        ..RegistryOptions::default()
    }
}

fn amd64() -> PlatformChoice {
    PlatformChoice::One(Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    })
}

/// A registry holding `app:v1` (one image) and `app:v2` (another), and the scratch dir.
struct Setup {
    reg: Registry,
    dir: TempDir,
    v1: String,
    v2: String,
}

fn setup() -> Setup {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let l1 = dir.path().join("l1");
    let l2 = dir.path().join("l2");
    fixtures::write_oci_layout(&l1, &[("v1", &spec("amd64", "one"))]).unwrap();
    fixtures::write_oci_layout(&l2, &[("v2", &spec("amd64", "two"))]).unwrap();
    let v1 = reg.push_oci(&l1, "v1", "app:v1", None, None);
    let v2 = reg.push_oci(&l2, "v2", "app:v2", None, None);
    Setup { reg, dir, v1, v2 }
}

impl Setup {
    fn repo(&self) -> String {
        format!("{}/app", self.reg.addr())
    }

    fn verify(&self, reference: &str, keys: &[&Signer]) -> Verification {
        let r: ImageRef = reference.parse().unwrap();
        let images = open(&r, &opts(self.dir.path()), &amd64()).unwrap();
        let scanned = images[0].manifest_digest.clone().unwrap();
        let keys: Vec<PublicKey> = keys
            .iter()
            .enumerate()
            .map(|(i, s)| PublicKey::from_pem(&format!("key{i}.pub"), &s.public_pem()).unwrap())
            .collect();
        cosign_signatures(&r, &opts(self.dir.path()), &scanned, &keys).unwrap()
    }
}

fn reasons(v: Verification) -> String {
    match v {
        Verification::Invalid(r) => r.join("; "),
        other => panic!("expected an invalid signature, got {other:?}"),
    }
}

#[test]
fn a_signed_image_verifies() {
    let s = setup();
    let key = Signer::generate();
    let body = payload(&s.repo(), &s.v1);
    key.push_signature(&s.reg, "app", &s.v1, &[(body.clone(), key.sign(&body))]);
    let v = s.verify(&format!("{}:v1", s.repo()), &[&key]);
    assert_eq!(
        v,
        Verification::Verified {
            key: "key0.pub".into(),
            digest: s.v1.parse::<Digest>().unwrap(),
            docker_reference: s.repo(),
        }
    );
    // By digest too, and with a second, unrelated key configured beside the right one.
    let other = Signer::generate();
    let pinned = format!("{}@{}", s.repo(), s.v1);
    assert!(matches!(
        s.verify(&pinned, &[&other, &key]),
        Verification::Verified { key, .. } if key == "key1.pub"
    ));
    // The near miss: the other tag of the same repository has no signature.
    assert_eq!(
        s.verify(&format!("{}:v2", s.repo()), &[&key]),
        Verification::Unsigned
    );
}

#[test]
fn an_unsigned_image_is_unsigned() {
    let s = setup();
    let key = Signer::generate();
    assert_eq!(
        s.verify(&format!("{}:v1", s.repo()), &[&key]),
        Verification::Unsigned
    );
}

#[test]
fn a_tampered_payload_is_rejected() {
    let s = setup();
    let key = Signer::generate();
    let body = payload(&s.repo(), &s.v1);
    let sig = key.sign(&body);
    // Same claims, one byte of whitespace more: the signature no longer covers the bytes.
    let mut tampered = body.clone();
    tampered.insert(1, b' ');
    key.push_signature(&s.reg, "app", &s.v1, &[(tampered, sig)]);
    let why = reasons(s.verify(&format!("{}:v1", s.repo()), &[&key]));
    assert!(why.contains("does not verify with key0.pub"), "{why}");
}

#[test]
fn a_signature_by_another_key_is_rejected() {
    let s = setup();
    let ours = Signer::generate();
    let theirs = Signer::generate();
    let body = payload(&s.repo(), &s.v1);
    theirs.push_signature(&s.reg, "app", &s.v1, &[(body.clone(), theirs.sign(&body))]);
    let why = reasons(s.verify(&format!("{}:v1", s.repo()), &[&ours]));
    assert!(why.contains("does not verify"), "{why}");
    // The same signature verifies with the key that made it: the rejection is the key's.
    assert!(matches!(
        s.verify(&format!("{}:v1", s.repo()), &[&theirs]),
        Verification::Verified { .. }
    ));
}

#[test]
fn a_signature_for_another_digest_is_rejected() {
    let s = setup();
    let key = Signer::generate();
    // A valid signature of v2's digest, copied under v1's signature tag.
    let body = payload(&s.repo(), &s.v2);
    push_signature_manifest(&s.reg, "app", &s.v1, &[(body.clone(), key.sign(&body))]);
    let why = reasons(s.verify(&format!("{}:v1", s.repo()), &[&key]));
    assert!(why.contains("for another image"), "{why}");
    assert!(why.contains(&s.v2), "{why}");
}

#[test]
fn broken_signature_layers_are_rejected_not_errors() {
    let s = setup();
    let key = Signer::generate();
    let body = payload(&s.repo(), &s.v1);
    push_signature_manifest(
        &s.reg,
        "app",
        &s.v1,
        &[
            (body.clone(), String::new()),
            (body.clone(), "%%% not base64".into()),
            (body.clone(), "AAAA".into()),
        ],
    );
    let why = reasons(s.verify(&format!("{}:v1", s.repo()), &[&key]));
    assert!(
        why.contains("no `dev.cosignproject.cosign/signature` annotation"),
        "{why}"
    );
    assert!(why.contains("not base64"), "{why}");
    assert!(why.contains("not an ECDSA P-256 signature"), "{why}");
}

#[test]
fn one_valid_signature_among_bad_ones_is_enough() {
    let s = setup();
    let key = Signer::generate();
    let other = Signer::generate();
    let body = payload(&s.repo(), &s.v1);
    push_signature_manifest(
        &s.reg,
        "app",
        &s.v1,
        &[
            (body.clone(), other.sign(&body)),
            (body.clone(), key.sign(&body)),
        ],
    );
    assert!(matches!(
        s.verify(&format!("{}:v1", s.repo()), &[&key]),
        Verification::Verified { .. }
    ));
}

#[test]
fn a_multi_platform_index_signature_covers_its_images() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (spec("amd64", "x"), spec("arm64", "y"));
    fixtures::write_oci_multiplatform(dir.path(), "v1", &[&a, &b]).unwrap();
    let index = reg.push_oci(dir.path(), "v1", "multi:v1", None, None);
    let key = Signer::generate();
    let repo = format!("{}/multi", reg.addr());
    let body = payload(&repo, &index);
    key.push_signature(&reg, "multi", &index, &[(body.clone(), key.sign(&body))]);
    let r: ImageRef = format!("{repo}:v1").parse().unwrap();
    let images = open(&r, &opts(dir.path()), &amd64()).unwrap();
    let scanned = images[0].manifest_digest.clone().unwrap();
    assert_ne!(scanned.to_string(), index);
    let pk = PublicKey::from_pem("k.pub", &key.public_pem()).unwrap();
    let v = cosign_signatures(&r, &opts(dir.path()), &scanned, std::slice::from_ref(&pk)).unwrap();
    assert!(
        matches!(&v, Verification::Verified { digest, .. } if digest.to_string() == index),
        "{v:?}"
    );
    // The near miss: the same platform manifest reached through a tag of another image
    // is not covered by that index's signature.
    let single = dir.path().join("single");
    fixtures::write_oci_layout(&single, &[("v9", &spec("amd64", "z"))]).unwrap();
    reg.push_oci(&single, "v9", "multi:v9", None, None);
    let moved: ImageRef = format!("{repo}:v9").parse().unwrap();
    assert_eq!(
        cosign_signatures(&moved, &opts(dir.path()), &scanned, &[pk]).unwrap(),
        Verification::Unsigned
    );
}

#[test]
fn keys_that_are_not_p256_are_refused() {
    for bad in [
        "",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        // An Ed25519 SubjectPublicKeyInfo.
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n",
    ] {
        let e = PublicKey::from_pem("bad.pub", bad).unwrap_err().to_string();
        assert!(e.contains("`bad.pub` is not a cosign public key"), "{e}");
    }
    let good = Signer::generate().public_pem();
    assert!(good.starts_with("-----BEGIN PUBLIC KEY-----"));
    PublicKey::from_pem("good.pub", &good).unwrap();
}
