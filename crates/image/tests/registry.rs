//! The registry client against a real `docker-registry` on loopback, images pushed with
//! skopeo, and a proxy front for token auth, redirects and corrupted bytes.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use customs_core::{ImageRef, Platform};
use customs_image::blob::{Mismatch, VerifyingReader};
use customs_image::registry::{RegistryOptions, open};
use customs_image::{Image, ImageError, LayerContent, PlatformChoice};
use customs_test_support::fixtures::{self, Compression, Entry, ImageSpec, LayerSpec};
use customs_test_support::registry::{Front, FrontAuth, FrontOptions, Registry, TOKEN_SERVICE};
use tempfile::TempDir;

fn spec(arch: &str) -> ImageSpec {
    ImageSpec::new(vec![
        LayerSpec {
            entries: vec![Entry::file("etc/hello", b"hi".to_vec())],
            compression: Compression::Gzip,
            created_by: None,
        },
        LayerSpec {
            entries: vec![Entry::file(format!("opt/{arch}"), arch.as_bytes().to_vec())],
            compression: Compression::Gzip,
            created_by: Some(format!("COPY {arch} /opt/")),
        },
    ])
    .platform("linux", arch, None)
}

/// An OCI layout holding tag `v1`, one image or an index of several.
fn layout(archs: &[&str]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let specs: Vec<ImageSpec> = archs.iter().map(|a| spec(a)).collect();
    if let [one] = specs.as_slice() {
        fixtures::write_oci_layout(dir.path(), &[("v1", one)]).unwrap();
    } else {
        let refs: Vec<&ImageSpec> = specs.iter().collect();
        fixtures::write_oci_multiplatform(dir.path(), "v1", &refs).unwrap();
    }
    dir
}

/// Options that never read the developer's own Docker login.
fn opts(scratch: &Path) -> RegistryOptions {
    RegistryOptions {
        docker_config: Some(scratch.join("no-docker-config")),
        ..RegistryOptions::default()
    }
}

fn with_creds(scratch: &Path, user: &str, pass: &str) -> RegistryOptions {
    RegistryOptions {
        username: Some(user.into()),
        password: Some(pass.into()),
        ..opts(scratch)
    }
}

fn reference(s: &str) -> ImageRef {
    s.parse().unwrap()
}

fn amd64() -> PlatformChoice {
    PlatformChoice::One(platform("amd64"))
}

fn platform(arch: &str) -> Platform {
    Platform {
        os: "linux".into(),
        architecture: arch.into(),
        variant: None,
    }
}

/// Reads every layer blob through a [`VerifyingReader`], as the walker does.
fn read_layers(image: &Image) -> Result<u64, std::io::Error> {
    let mut total = 0;
    for layer in &image.layers {
        let LayerContent::Blob(key) = &layer.content else {
            panic!("registry layer is not a blob: {layer:?}");
        };
        let raw = image.store.open(key).expect("open blob");
        let digest = layer
            .blob_digest
            .clone()
            .expect("registry layers have digests");
        total += std::io::copy(
            &mut VerifyingReader::new(raw, digest, layer.size),
            &mut std::io::sink(),
        )?;
    }
    Ok(total)
}

fn registry_message(e: ImageError) -> String {
    match e {
        ImageError::Registry { message, .. } => message,
        other => panic!("expected a registry error, got {other:?}"),
    }
}

#[test]
fn anonymous_oci_manifest() {
    let reg = Registry::start();
    let dir = layout(&["amd64"]);
    let digest = reg.push_oci(dir.path(), "v1", "app:v1", None, None);
    let name = format!("{}/app:v1", reg.addr());
    let images = open(&reference(&name), &opts(dir.path()), &amd64()).unwrap();
    assert_eq!(images.len(), 1);
    let img = &images[0];
    assert_eq!(img.name.as_deref(), Some(name.as_str()));
    assert_eq!(img.manifest_digest.as_ref().unwrap().to_string(), digest);
    assert_eq!(img.platform, Some(platform("amd64")));
    assert_eq!(img.layers.len(), 2);
    assert!(
        img.layers
            .iter()
            .all(|l| l.media_type.starts_with("application/vnd.oci.image.layer"))
    );
    assert_eq!(
        img.layers[1].created_by.as_deref(),
        Some("COPY amd64 /opt/")
    );
    assert!(read_layers(img).unwrap() > 0);
}

#[test]
fn docker_schema2_manifest() {
    let reg = Registry::start();
    let dir = layout(&["amd64"]);
    let digest = reg.push_oci(dir.path(), "v1", "app:v2s2", Some("v2s2"), None);
    let r = reference(&format!("{}/app:v2s2", reg.addr()));
    let images = open(&r, &opts(dir.path()), &amd64()).unwrap();
    assert_eq!(images.len(), 1);
    let img = &images[0];
    assert_eq!(img.manifest_digest.as_ref().unwrap().to_string(), digest);
    for l in &img.layers {
        assert_eq!(
            l.media_type,
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
    }
    read_layers(img).unwrap();
}

#[test]
fn multi_platform_index() {
    let reg = Registry::start();
    let dir = layout(&["amd64", "arm64"]);
    reg.push_oci(dir.path(), "v1", "multi:v1", None, None);
    let r = reference(&format!("{}/multi:v1", reg.addr()));

    let arm = open(
        &r,
        &opts(dir.path()),
        &PlatformChoice::One(platform("arm64")),
    )
    .unwrap();
    assert_eq!(arm.len(), 1);
    assert_eq!(arm[0].platform, Some(platform("arm64")));
    let files: Vec<_> = arm[0].layers.iter().map(|l| l.created_by.clone()).collect();
    assert_eq!(files[1].as_deref(), Some("COPY arm64 /opt/"));

    let all = open(&r, &opts(dir.path()), &PlatformChoice::All).unwrap();
    let mut archs: Vec<String> = all
        .iter()
        .map(|i| i.platform.as_ref().unwrap().architecture.clone())
        .collect();
    archs.sort();
    assert_eq!(archs, ["amd64", "arm64"]);
    for img in &all {
        read_layers(img).unwrap();
    }

    let err = open(
        &r,
        &opts(dir.path()),
        &PlatformChoice::One(platform("s390x")),
    )
    .err()
    .unwrap();
    assert!(matches!(err, ImageError::NotFound(_)), "{err}");
}

#[test]
fn basic_auth() {
    let reg = Registry::start_with_basic_auth("alice", "s3cret");
    let dir = layout(&["amd64"]);
    reg.push_oci(dir.path(), "v1", "private:v1", None, None);
    let r = reference(&format!("{}/private:v1", reg.addr()));

    let images = open(&r, &with_creds(dir.path(), "alice", "s3cret"), &amd64()).unwrap();
    read_layers(&images[0]).unwrap();

    let msg = registry_message(
        open(&r, &with_creds(dir.path(), "alice", "wrong"), &amd64())
            .err()
            .unwrap(),
    );
    assert_eq!(msg, "authentication failed for user `alice`");

    let err = open(&r, &opts(dir.path()), &amd64()).err().unwrap();
    assert!(
        err.to_string().starts_with(&format!(
            "registry {}: authentication required for `private`",
            reg.addr()
        )),
        "{err}"
    );

    // The same credentials from Docker's config.json, filed under the host.
    let config = dir.path().join("docker");
    std::fs::create_dir_all(&config).unwrap();
    let auth = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
    };
    std::fs::write(
        config.join("config.json"),
        serde_json::json!({"auths": {reg.addr(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let from_config = RegistryOptions {
        docker_config: Some(config.clone()),
        ..RegistryOptions::default()
    };
    let images = open(&r, &from_config, &amd64()).unwrap();
    read_layers(&images[0]).unwrap();

    // A credential helper we do not run is named in the error.
    std::fs::write(
        config.join("config.json"),
        serde_json::json!({"credHelpers": {reg.addr(): "pass"}}).to_string(),
    )
    .unwrap();
    let msg = registry_message(open(&r, &from_config, &amd64()).err().unwrap());
    assert!(msg.contains("`docker-credential-pass`"), "{msg}");
}

#[test]
fn bearer_token_flow() {
    let reg = Registry::start();
    let dir = layout(&["amd64", "arm64"]);
    reg.push_oci(dir.path(), "v1", "team/app:v1", None, None);
    let front = Front::token(&reg, "bob", "pw");
    let r = reference(&format!("{}/team/app:v1", front.addr()));

    let images = open(
        &r,
        &with_creds(dir.path(), "bob", "pw"),
        &PlatformChoice::All,
    )
    .unwrap();
    assert_eq!(images.len(), 2);
    // Blob readers on several threads share the one token.
    std::thread::scope(|s| {
        for img in &images {
            s.spawn(|| read_layers(img).unwrap());
        }
    });
    assert_eq!(
        front.token_requests(),
        [customs_test_support::registry::TokenRequest {
            service: Some(TOKEN_SERVICE.into()),
            scope: Some("repository:team/app:pull".into()),
            user: Some("bob".into()),
        }]
    );

    let msg = registry_message(
        open(&r, &with_creds(dir.path(), "bob", "nope"), &amd64())
            .err()
            .unwrap(),
    );
    assert!(
        msg.starts_with("authentication failed for user `bob`: token service"),
        "{msg}"
    );
    let msg = registry_message(open(&r, &opts(dir.path()), &amd64()).err().unwrap());
    assert!(
        msg.starts_with("authentication required for `team/app`"),
        "{msg}"
    );
}

#[test]
fn anonymous_token_and_cross_host_redirect() {
    let reg = Registry::start();
    let dir = layout(&["amd64"]);
    reg.push_oci(dir.path(), "v1", "app:v1", None, None);
    let front = Front::start(
        &reg,
        FrontOptions {
            auth: FrontAuth::AnonymousToken,
            redirect_blobs: true,
            ..FrontOptions::default()
        },
    );
    let r = reference(&format!("{}/app:v1", front.addr()));
    let images = open(&r, &opts(dir.path()), &amd64()).unwrap();
    read_layers(&images[0]).unwrap();
    assert_eq!(front.token_requests().len(), 1);
    assert_eq!(front.token_requests()[0].user, None);
    // Config and two layers went to `localhost`, which must not see our token.
    assert_eq!(front.redirected_authorizations(), vec![None; 3]);
}

#[test]
fn corrupted_blob_fails_verification() {
    let reg = Registry::start();
    let dir = layout(&["amd64"]);
    reg.push_oci(dir.path(), "v1", "app:v1", None, None);
    let name = format!("{}/app:v1", reg.addr());
    let good = open(&reference(&name), &opts(dir.path()), &amd64()).unwrap();
    let layer = good[0].layers[0].blob_digest.clone().unwrap();

    let front = Front::corrupting(&reg, &layer.to_string());
    let r = reference(&format!("{}/app:v1", front.addr()));
    let images = open(&r, &opts(dir.path()), &amd64()).unwrap();
    let err = read_layers(&images[0]).unwrap_err();
    let mismatch = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<Mismatch>())
        .unwrap_or_else(|| panic!("not a digest mismatch: {err}"));
    assert_eq!(mismatch.expected, layer);
}

#[test]
fn corrupted_manifest_fails_verification() {
    let reg = Registry::start();
    let dir = layout(&["amd64"]);
    let digest = reg.push_oci(dir.path(), "v1", "app:v1", None, None);
    // By tag: only the Docker-Content-Digest header can tell.
    let front = Front::corrupting(&reg, "v1");
    let r = reference(&format!("{}/app:v1", front.addr()));
    let err = open(&r, &opts(dir.path()), &amd64()).err().unwrap();
    assert!(
        matches!(&err, ImageError::DigestMismatch { expected, .. } if expected.to_string() == digest),
        "{err}"
    );
    // By digest: the reference itself is the check.
    let front = Front::corrupting(&reg, &digest);
    let r = reference(&format!("{}/app@{digest}", front.addr()));
    let err = open(&r, &opts(dir.path()), &amd64()).err().unwrap();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
}

#[test]
fn missing_tag_and_repository() {
    let reg = Registry::start();
    let dir = layout(&["amd64"]);
    reg.push_oci(dir.path(), "v1", "app:v1", None, None);
    // docker-registry 2.8 says MANIFEST_UNKNOWN for a missing repository too; it keeps
    // NAME_UNKNOWN for tag lists.
    for name in ["app:nope", "nothing:v1"] {
        let r = reference(&format!("{}/{name}", reg.addr()));
        match open(&r, &opts(dir.path()), &amd64()) {
            Err(ImageError::NotFound(msg)) => {
                assert!(
                    msg.contains(&reg.addr()) && msg.contains("MANIFEST_UNKNOWN"),
                    "{msg}"
                )
            }
            Err(other) => panic!("{name}: expected NotFound, got {other}"),
            Ok(_) => panic!("{name}: found"),
        }
    }
}

#[test]
fn stopped_registry_can_not_connect() {
    let addr = Registry::start().addr();
    let r = reference(&format!("{addr}/app:v1"));
    let err = open(&r, &RegistryOptions::default(), &amd64())
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("registry {addr}: can not connect: ")),
        "{text}"
    );
    assert!(text.contains("Connection refused"), "{text}");
}

#[test]
fn silent_registry_times_out() {
    // The kernel completes connections to a listener nobody accepts from; nothing answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let r = reference(&format!("{}/app:v1", silent.local_addr().unwrap()));
    let o = RegistryOptions {
        timeout: Some(Duration::from_secs(1)),
        ..RegistryOptions::default()
    };
    let start = Instant::now();
    let msg = registry_message(open(&r, &o, &amd64()).err().unwrap());
    assert!(msg.starts_with("timed out (1s limit)"), "{msg}");
    // HTTPS, then HTTP: two waits, not more.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn digest_pinned_reference() {
    let reg = Registry::start();
    let dir = layout(&["amd64", "arm64"]);
    let index = reg.push_oci(dir.path(), "v1", "app:v1", None, None);
    let r = reference(&format!("{}/app@{index}", reg.addr()));
    let images = open(&r, &opts(dir.path()), &PlatformChoice::All).unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0].name.as_deref(), Some(r.to_string().as_str()));

    // Tag and digest: the digest decides, so a stale digest fails even though the tag exists.
    let wrong = format!("sha256:{}", "0".repeat(64));
    let r = reference(&format!("{}/app:v1@{wrong}", reg.addr()));
    match open(&r, &opts(dir.path()), &PlatformChoice::All) {
        Err(ImageError::NotFound(msg)) => assert!(msg.contains("MANIFEST_UNKNOWN"), "{msg}"),
        Err(other) => panic!("expected NotFound, got {other}"),
        Ok(_) => panic!("a wrong digest was accepted"),
    }
}
