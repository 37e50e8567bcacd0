//! The fixture writers checked by a third-party reader: the real `skopeo` reads every
//! format we write and must report the digests, layers and platforms we say we wrote, so our
//! writers and our readers cannot share a misunderstanding of the formats.
//!
//! skopeo is required (`apt-get install skopeo`); with `CUSTOMS_SKIP_SKOPEO=1` a machine
//! without it skips these tests instead of failing.

use std::path::Path;
use std::process::{Command, Output};

use customs_test_support::fixtures::{
    Compression, Entry, ImageSpec, LayerSpec, build_image, busybox_layer, sha256_digest,
    write_docker_archive_legacy, write_docker_archive_oci, write_oci_archive, write_oci_layout,
    write_oci_multiplatform,
};
use serde_json::{Value, json};

fn skopeo_available() -> bool {
    match Command::new("skopeo").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ if std::env::var("CUSTOMS_SKIP_SKOPEO").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: skopeo is not installed and CUSTOMS_SKIP_SKOPEO=1");
            false
        }
        Ok(o) => panic!(
            "`skopeo --version` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!(
            "skopeo is needed to check the fixture writers ({e}): run `apt-get install skopeo` \
             (or set CUSTOMS_SKIP_SKOPEO=1 to skip)"
        ),
    }
}

fn run(args: &[&str]) -> Output {
    // --insecure-policy: `copy` must not depend on the machine's /etc/containers/policy.json.
    Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("run skopeo")
}

fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = run(args);
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn skopeo_json(args: &[&str]) -> Value {
    serde_json::from_slice(&skopeo(args))
        .unwrap_or_else(|e| panic!("skopeo {args:?}: not JSON: {e}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().into())
        .collect()
}

/// An image exercising all three layer compressions and a full run config.
fn app() -> ImageSpec {
    let mut spec = ImageSpec::new(vec![
        busybox_layer(),
        LayerSpec::new(vec![
            Entry::dir("etc"),
            Entry::file("etc/motd", "hi\n"),
            Entry::exec("entry.sh", "#!/bin/sh\n"),
        ])
        .compression(Compression::Zstd)
        .created_by("COPY . /"),
        LayerSpec::new(vec![
            Entry::Whiteout("etc/motd".into()),
            Entry::Opaque("tmp".into()),
        ])
        .compression(Compression::None),
    ])
    .entrypoint(&["/entry.sh"])
    .cmd(&["sh"])
    .label("org.opencontainers.image.title", "app");
    spec.env = vec!["PATH=/bin".into(), "A=b".into()];
    spec.user = Some("1000:1000".into());
    spec.extra_history = vec!["/bin/sh -c #(nop)  CMD [\"sh\"]".into()];
    spec
}

fn small(arch: &str, variant: Option<&str>, content: &str) -> ImageSpec {
    ImageSpec::new(vec![LayerSpec::new(vec![Entry::file("arch", content)])])
        .platform("linux", arch, variant)
}

/// We omit empty `Env`/`Labels` from configs, and skopeo reports absent ones as `null`.
fn empty_is_null(v: Value) -> Value {
    match &v {
        Value::Array(a) if a.is_empty() => Value::Null,
        Value::Object(o) if o.is_empty() => Value::Null,
        _ => v,
    }
}

fn diff_ids(spec: &ImageSpec) -> Vec<String> {
    build_image(spec)
        .layers
        .into_iter()
        .map(|l| l.diff_id)
        .collect()
}

/// `skopeo inspect`, `inspect --raw` and `inspect --config [--raw]` agree with what we built.
fn check_image(reference: &str, spec: &ImageSpec) {
    let img = build_image(spec);
    assert_eq!(
        skopeo(&["inspect", "--raw", reference]),
        img.manifest,
        "{reference}: manifest bytes"
    );
    let i = skopeo_json(&["inspect", reference]);
    assert_eq!(i["Digest"], img.manifest_digest.as_str(), "{reference}");
    assert_eq!(
        strings(&i["Layers"]),
        img.layers
            .iter()
            .map(|l| l.digest.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(i["Architecture"], spec.architecture.as_str());
    assert_eq!(i["Os"], spec.os.as_str());
    assert_eq!(i["Created"], spec.created.as_str());
    assert_eq!(i["Labels"], empty_is_null(json!(spec.labels)));
    assert_eq!(
        skopeo(&["inspect", "--config", "--raw", reference]),
        img.config,
        "{reference}: config bytes"
    );
    let c = skopeo_json(&["inspect", "--config", reference]);
    assert_eq!(strings(&c["rootfs"]["diff_ids"]), diff_ids(spec));
    assert_eq!(c["config"]["Entrypoint"], json!(spec.entrypoint));
    assert_eq!(c["config"]["Cmd"], json!(spec.cmd));
    assert_eq!(c["config"]["User"], json!(spec.user));
    assert_eq!(c["config"]["Env"], empty_is_null(json!(spec.env)));
    assert_eq!(
        c["history"].as_array().unwrap().len(),
        spec.layers.len() + spec.extra_history.len()
    );
}

#[test]
fn oci_layout_reads_back() {
    if !skopeo_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("oci");
    let (a, b) = (app(), small("arm64", Some("v8"), "arm64"));
    let info = write_oci_layout(&dir, &[("app", &a), ("other", &b)]).unwrap();
    let d = dir.display();
    check_image(&format!("oci:{d}:app"), &a);
    check_image(&format!("oci:{d}:other"), &b);
    let raw = skopeo(&["inspect", "--raw", &format!("oci:{d}:other")]);
    assert_eq!(sha256_digest(&raw), info.index_digest_of_each[1]);
    assert_eq!(info.config_digests[0], build_image(&a).config_digest);
}

#[test]
fn multiplatform_layout_reads_back() {
    if !skopeo_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let specs = [
        small("amd64", None, "amd64"),
        small("arm64", Some("v8"), "arm64"),
        small("arm", Some("v7"), "armv7"),
    ];
    let refs: Vec<&ImageSpec> = specs.iter().collect();
    let info = write_oci_multiplatform(tmp.path(), "multi", &refs).unwrap();
    let reference = format!("oci:{}:multi", tmp.path().display());

    let raw = skopeo(&["inspect", "--raw", &reference]);
    assert_eq!(
        sha256_digest(&raw),
        info.index_digest_of_each[0],
        "--raw shows the nested index"
    );
    let index: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let listed: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().into())
        .collect();
    assert_eq!(listed, info.manifest_digests);
    assert_eq!(
        index["manifests"][2]["platform"],
        json!({"architecture": "arm", "os": "linux", "variant": "v7"})
    );

    for (i, (arch, variant)) in [("amd64", ""), ("arm64", ""), ("arm", "v7")]
        .into_iter()
        .enumerate()
    {
        let mut args = vec!["--override-os", "linux", "--override-arch", arch];
        if !variant.is_empty() {
            args.extend(["--override-variant", variant]);
        }
        let mut inspect = args.clone();
        inspect.extend(["inspect", &reference]);
        let got = skopeo_json(&inspect);
        assert_eq!(got["Architecture"], arch);
        assert_eq!(
            strings(&got["Layers"]),
            info.layer_digests[i],
            "{arch}{variant} picks manifest {i}"
        );
        // skopeo quirk: for an index `Digest` is the index's digest, not the chosen manifest's.
        assert_eq!(got["Digest"], info.index_digest_of_each[0].as_str());
        inspect.splice(inspect.len() - 1..inspect.len() - 1, ["--config", "--raw"]);
        assert_eq!(sha256_digest(&skopeo(&inspect)), info.config_digests[i]);
    }
}

#[test]
fn oci_archive_reads_back() {
    if !skopeo_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("app.oci.tar");
    let spec = app();
    write_oci_archive(
        &path,
        &[("app", &spec), ("small", &small("amd64", None, "x"))],
    )
    .unwrap();
    check_image(&format!("oci-archive:{}:app", path.display()), &spec);
    copy_to_dir(
        &format!("oci-archive:{}:app", path.display()),
        &tmp.path().join("out"),
    );
}

fn check_docker_archive(path: &Path, tags: &[&str], spec: &ImageSpec) {
    let reference = format!("docker-archive:{}", path.display());
    let img = build_image(spec);
    let diff_ids = diff_ids(spec);
    // skopeo synthesises a Docker v2s2 manifest whose layers are named by diff_id whatever
    // the stored blobs are, so `Digest` is skopeo's, not ours; the config must be ours.
    let i = skopeo_json(&["inspect", &reference]);
    assert_eq!(strings(&i["Layers"]), diff_ids, "{reference}");
    assert_eq!(i["Architecture"], spec.architecture.as_str());
    assert_eq!(i["Labels"], empty_is_null(json!(spec.labels)));
    let raw = skopeo_json(&["inspect", "--raw", &reference]);
    assert_eq!(raw["config"]["digest"], img.config_digest.as_str());
    assert_eq!(
        skopeo(&["inspect", "--config", "--raw", &reference]),
        img.config
    );
    // `inspect` leaves RepoTags empty for archives; `list-tags` reads manifest.json's RepoTags.
    assert_eq!(
        strings(&skopeo_json(&["list-tags", &reference])["Tags"]),
        tags
    );
    for tag in tags {
        let by_tag = skopeo_json(&["inspect", &format!("{reference}:{tag}")]);
        assert_eq!(strings(&by_tag["Layers"]), diff_ids, "{reference}:{tag}");
    }
    // Copying reads every layer (decompressing stored gzip/zstd blobs) and checks it
    // against its diff_id.
    let out = path.with_extension("dir");
    copy_to_dir(&reference, &out);
    for d in &diff_ids {
        let blob = std::fs::read(out.join(&d[7..])).unwrap();
        assert_eq!(&sha256_digest(&blob), d);
    }
}

#[test]
fn docker_archives_read_back() {
    if !skopeo_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = app();
    let mut plain = spec.clone();
    plain
        .layers
        .iter_mut()
        .for_each(|l| l.compression = Compression::None);
    let tags = ["fixture/app:latest", "app:2"];

    let legacy = tmp.path().join("legacy.tar");
    write_docker_archive_legacy(&legacy, &tags, &spec).unwrap();
    check_docker_archive(&legacy, &tags, &spec);

    let d25 = tmp.path().join("docker25.tar");
    write_docker_archive_oci(&d25, &tags, &plain).unwrap();
    check_docker_archive(&d25, &tags, &plain);

    // The containerd-store flavour keeps the gzip and zstd blobs.
    let containerd = tmp.path().join("containerd.tar");
    write_docker_archive_oci(&containerd, &tags[..1], &spec).unwrap();
    check_docker_archive(&containerd, &tags[..1], &spec);
}

fn copy_to_dir(reference: &str, out: &Path) {
    skopeo(&[
        "copy",
        "--quiet",
        reference,
        &format!("dir:{}", out.display()),
    ]);
}

#[test]
fn copy_round_trip_verifies_blob_digests() {
    if !skopeo_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = app();
    let layout = tmp.path().join("oci");
    let info = write_oci_layout(&layout, &[("app", &spec)]).unwrap();
    let out = tmp.path().join("out");
    copy_to_dir(&format!("oci:{}:app", layout.display()), &out);
    assert_eq!(
        std::fs::read(out.join("manifest.json")).unwrap(),
        build_image(&spec).manifest
    );
    for d in info.layer_digests[0].iter().chain(&info.config_digests) {
        assert_eq!(
            &sha256_digest(&std::fs::read(out.join(&d[7..])).unwrap()),
            d
        );
    }

    // Negative control: the round trip above means something only if skopeo does check.
    let last = info.layer_digests[0].last().unwrap();
    let blob = layout.join("blobs/sha256").join(&last[7..]);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[600] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    let bad = run(&[
        "copy",
        "--quiet",
        &format!("oci:{}:app", layout.display()),
        &format!("dir:{}", tmp.path().join("bad").display()),
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("Digest did not match"),
        "{bad:?}"
    );
}
