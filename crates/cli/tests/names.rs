//! Look-alike image names through the real binary: `--name`, a `docker save` archive's
//! `RepoTags` and an OCI layout's `ref.name` reach the name checks; and the official-image
//! list is refreshed from local files by `customs names import-official`.

use std::path::Path;
use std::process::Command;

use customs_test_support::fixtures::{
    Entry, ImageSpec, LayerSpec, write_docker_archive_legacy, write_oci_layout,
};
use serde_json::Value;

fn spec() -> ImageSpec {
    ImageSpec::new(vec![LayerSpec::new(vec![
        Entry::dir("etc"),
        Entry::file("etc/os-release", "ID=fixture\n"),
    ])])
}

fn scan(target: &str, extra: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_customs"))
        .args(["scan", "--format", "json", "--no-cache", "--no-ignore"])
        .args(extra)
        .arg(target)
        .output()
        .expect("customs runs");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

fn name_findings(r: &Value) -> Vec<&Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("name-"))
        .collect()
}

#[test]
fn name_flag_reaches_the_name_checks() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("app.tar");
    write_docker_archive_legacy(&archive, &["fixture/app:1"], &spec()).unwrap();
    let target = format!("docker-archive:{}", archive.display());

    let (code, r) = scan(&target, &["--name", "docker.io/library/ngnix:latest"]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "malicious", "{r:#}");
    assert_eq!(r["image"]["name"], "docker.io/library/ngnix:latest");
    let f = name_findings(&r);
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(f[0]["rule"], "name-typosquat-official");
    assert_eq!(f[0]["severity"], "high");
    assert_eq!(
        f[0]["attack"],
        serde_json::json!(["T1036.005", "T1204.003"])
    );
    let evidence = f[0]["evidence"].as_str().unwrap();
    assert!(evidence.contains("imitates `nginx`"), "{evidence}");

    // The near miss: the real name, and the archive's own innocent name.
    let (code, r) = scan(&target, &["--name", "nginx"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"], "clean", "{r:#}");
    assert!(name_findings(&r).is_empty(), "{r:#}");
    let (code, r) = scan(&target, &[]);
    assert_eq!(code, 0, "{r:#}");
    assert!(name_findings(&r).is_empty(), "{r:#}");
}

#[test]
fn repo_tags_and_oci_ref_names_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.tar");
    let good = dir.path().join("good.tar");
    write_docker_archive_legacy(&bad, &["d0cker.io/library/nginx:1.27"], &spec()).unwrap();
    write_docker_archive_legacy(&good, &["docker.io/library/nginx:1.27"], &spec()).unwrap();

    let (code, r) = scan(&format!("docker-archive:{}", bad.display()), &[]);
    assert_eq!(code, 1, "{r:#}");
    let f = name_findings(&r);
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(f[0]["rule"], "name-registry-lookalike");
    assert!(
        f[0]["evidence"]
            .as_str()
            .unwrap()
            .contains("imitates `docker.io`"),
        "{r:#}"
    );
    let (code, r) = scan(&format!("docker-archive:{}", good.display()), &[]);
    assert_eq!(code, 0, "{r:#}");
    assert!(name_findings(&r).is_empty(), "{r:#}");

    // A harmless first tag does not hide a look-alike second one; two good tags stay clean.
    let second = dir.path().join("second.tar");
    write_docker_archive_legacy(
        &second,
        &["nginx:1.27", "docker.io/library/ngnix:1.27"],
        &spec(),
    )
    .unwrap();
    let (code, r) = scan(&format!("docker-archive:{}", second.display()), &[]);
    assert_eq!(code, 1, "{r:#}");
    let f = name_findings(&r);
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(f[0]["rule"], "name-typosquat-official", "{r:#}");
    assert!(
        f[0]["evidence"].as_str().unwrap().contains("ngnix"),
        "{r:#}"
    );
    let two_good = dir.path().join("two-good.tar");
    write_docker_archive_legacy(&two_good, &["nginx:1.27", "nginx:latest"], &spec()).unwrap();
    let (code, r) = scan(&format!("docker-archive:{}", two_good.display()), &[]);
    assert_eq!(code, 0, "{r:#}");
    assert!(name_findings(&r).is_empty(), "{r:#}");

    let layout = dir.path().join("layout");
    write_oci_layout(&layout, &[("docker.io/bitnmai/redis:7", &spec())]).unwrap();
    let (code, r) = scan(&format!("oci:{}", layout.display()), &[]);
    assert_eq!(code, 1, "{r:#}");
    let f = name_findings(&r);
    assert_eq!(f[0]["rule"], "name-typosquat-publisher", "{r:#}");
    assert!(
        f[0]["evidence"]
            .as_str()
            .unwrap()
            .contains("`bitnami/redis`"),
        "{r:#}"
    );
}

fn import(source: &Path, output: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_customs"))
        .args(["names", "import-official"])
        .arg(source)
        .arg("--output")
        .arg(output)
        .output()
        .expect("customs runs")
}

#[test]
fn import_official_reads_a_library_checkout_or_a_list() {
    let dir = tempfile::tempdir().unwrap();
    // A checkout's `library/` directory: one file per image, plus files that are not images.
    let library = dir.path().join("library");
    std::fs::create_dir(&library).unwrap();
    for name in ["nginx", "redis", "hello-world", "rocket.chat"] {
        std::fs::write(
            library.join(name),
            "Maintainers: x\nGitRepo: https://example.org\n",
        )
        .unwrap();
    }
    std::fs::write(library.join(".gitattributes"), "").unwrap();
    std::fs::create_dir(library.join(".github")).unwrap();
    let out = dir.path().join("official-images.txt");
    let run = import(&library, &out);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert_eq!(
        lines,
        [
            "hello-world | Docker Official Image | https://github.com/docker-library/official-images/blob/master/library/hello-world",
            "nginx | Docker Official Image | https://github.com/docker-library/official-images/blob/master/library/nginx",
            "redis | Docker Official Image | https://github.com/docker-library/official-images/blob/master/library/redis",
            "rocket.chat | Docker Official Image | https://github.com/docker-library/official-images/blob/master/library/rocket.chat",
        ]
    );

    // A plain list gives the same file; the shipped list imported again is unchanged.
    let list = dir.path().join("names.txt");
    std::fs::write(
        &list,
        "# names\nredis\n\nnginx\nrocket.chat\nhello-world\nnginx\n",
    )
    .unwrap();
    let out2 = dir.path().join("again.txt");
    assert!(import(&list, &out2).status.success());
    assert_eq!(std::fs::read_to_string(&out2).unwrap(), text);
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../content/names/official-images.txt");
    let out3 = dir.path().join("shipped.txt");
    assert!(import(&shipped, &out3).status.success());
    assert_eq!(
        std::fs::read_to_string(&out3).unwrap(),
        std::fs::read_to_string(&shipped).unwrap()
    );

    // A name a registry would refuse is an error naming it, and nothing is written.
    std::fs::write(library.join("Bad_Name"), "").unwrap();
    let out4 = dir.path().join("bad.txt");
    let run = import(&library, &out4);
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("Bad_Name"), "{err}");
    assert!(!out4.exists());
    // An empty source and a missing one are errors too.
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "# nothing\n").unwrap();
    assert_eq!(import(&empty, &out4).status.code(), Some(2));
    assert_eq!(
        import(&dir.path().join("missing"), &out4).status.code(),
        Some(2)
    );
}
