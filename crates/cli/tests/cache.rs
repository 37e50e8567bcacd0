//! The layer cache through the real binary, on a real SQLite file in a temporary directory:
//! a base layer shared by two images is analyzed once, the cache never changes a report,
//! damage is a miss with one warning, two processes can share it, and only complete,
//! digest-named layers are stored.

#[path = "golden/images.rs"]
mod images;

use customs_test_support::cli::CliRun;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use customs_test_support::fixtures::{Entry, ImageSpec, LayerSpec, write_oci_layout};
use rusqlite::Connection;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

fn customs(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_customs"));
    c.args(["scan", "--quiet", "--format", "json"])
        .args(args)
        .env_remove("CUSTOMS_CACHE_DIR")
        .env_remove("CUSTOMS_LOG");
    c
}

struct Run {
    code: i32,
    reports: Vec<Value>,
    stderr: String,
}

fn run(mut c: Command) -> Run {
    finish(c.output().expect("customs runs"))
}

fn finish(out: Output) -> Run {
    let run = CliRun::from_output(out);
    Run {
        code: run.code,
        reports: run.reports(),
        stderr: run.stderr,
    }
}

/// Scans `targets` with the cache in `cache` (or none), verbosely.
fn scan(cache: Option<&Path>, targets: &[String]) -> Run {
    let mut args: Vec<String> = vec!["--verbose".into(), "--platform".into(), "all".into()];
    match cache {
        Some(dir) => args.extend(["--cache-dir".into(), dir.display().to_string()]),
        None => args.push("--no-cache".into()),
    }
    args.extend(targets.iter().cloned());
    run(customs(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ))
}

/// `layer N/M DIGEST: what` lines of `--verbose`, as (digest, what).
fn cache_lines(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter(|l| l.starts_with("customs: cache: "))
        .map(|l| {
            let (head, what) = l.rsplit_once(": ").unwrap();
            let digest = head.rsplit(' ').next().unwrap();
            (digest.to_string(), what.to_string())
        })
        .collect()
}

/// The reports without what may differ between two scans of the same images.
fn comparable(reports: &[Value]) -> Vec<Value> {
    reports
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("duration_ms");
            r
        })
        .collect()
}

#[test]
fn a_base_layer_shared_by_two_images_is_analyzed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    // Both images start with the same base layer (same bytes, same digest).
    let clean = images::oci(&tmp.path().join("clean"), &images::clean());
    let eicar = images::oci(&tmp.path().join("eicar"), &images::eicar_deleted());

    let first = scan(Some(&cache), std::slice::from_ref(&clean));
    assert_eq!(first.code, 0, "{}", first.stderr);
    let base = first.reports[0]["image"]["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(cache_lines(&first.stderr), [(base.clone(), "miss".into())]);
    assert!(cache.join("cache.sqlite3").is_file());

    let second = scan(Some(&cache), std::slice::from_ref(&eicar));
    assert_eq!(second.code, 1, "{}", second.stderr);
    let layers: Vec<&str> = second.reports[0]["image"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        layers[0], base,
        "the fixture images no longer share their base layer"
    );
    assert_eq!(
        cache_lines(&second.stderr),
        [
            (base.clone(), "hit".into()),
            (layers[1].to_string(), "miss".into()),
            (layers[2].to_string(), "miss".into()),
        ]
    );
    // The deleted EICAR file is still found and attributed, from analyzed layers.
    let f = &second.reports[0]["findings"][0];
    assert_eq!(f["rule"], "eicar-test-file");
    assert_eq!(f["layer"], layers[1]);
    assert_eq!(f["deleted_in"], layers[2]);

    // Third time, everything is a hit and the report is the same.
    let third = scan(Some(&cache), std::slice::from_ref(&eicar));
    assert!(
        cache_lines(&third.stderr).iter().all(|(_, w)| w == "hit"),
        "{}",
        third.stderr
    );
    assert_eq!(comparable(&third.reports), comparable(&second.reports));
}

/// Targets covering every kind of layer the cache sees: blob digests (gzip, zstd,
/// uncompressed), diff ids (legacy docker save), several platforms, hostile entries, and a
/// directory (never cached).
fn all_kinds(dir: &Path) -> Vec<String> {
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("app")).unwrap();
    std::fs::write(
        rootfs.join("app/eicar.com"),
        customs_test_support::fixtures::EICAR,
    )
    .unwrap();
    vec![
        images::oci(&dir.join("clean"), &images::clean()),
        images::docker_archive(
            &dir.join("eicar.tar"),
            "cache/eicar:1",
            &images::eicar_deleted(),
        ),
        images::oci(&dir.join("hostile"), &images::hostile()),
        images::multiplatform(&dir.join("multi")),
        format!("dir:{}", rootfs.display()),
    ]
}

#[test]
fn the_cache_never_changes_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let targets = all_kinds(tmp.path());
    let cache = tmp.path().join("cache");
    let uncached = scan(None, &targets);
    assert!(
        cache_lines(&uncached.stderr).is_empty(),
        "{}",
        uncached.stderr
    );
    let cold = scan(Some(&cache), &targets);
    let warm = scan(Some(&cache), &targets);
    assert_eq!(uncached.code, 1);
    assert_eq!((cold.code, warm.code), (uncached.code, uncached.code));
    assert_eq!(uncached.reports.len(), 6, "one report per image");
    assert_eq!(comparable(&cold.reports), comparable(&uncached.reports));
    assert_eq!(comparable(&warm.reports), comparable(&uncached.reports));

    let cold_use = cache_lines(&cold.stderr);
    let warm_use = cache_lines(&warm.stderr);
    // Cold: a layer is a hit exactly when an earlier image of the same run had it (the
    // amd64 image of the index shares the clean image's layer).
    let mut seen = std::collections::HashSet::new();
    for (digest, what) in &cold_use {
        let expected = if digest.starts_with("dir:") {
            "not cacheable"
        } else if seen.insert(digest) {
            "miss"
        } else {
            "hit"
        };
        assert_eq!(what, expected, "{digest}\n{}", cold.stderr);
    }
    assert!(cold_use.iter().any(|(_, w)| w == "hit"), "{}", cold.stderr);
    // Warm: every layer with a digest is a hit; the directory is never cached.
    for (digest, what) in &warm_use {
        let expected = if digest.starts_with("dir:") {
            "not cacheable"
        } else {
            "hit"
        };
        assert_eq!(what, expected, "{digest}\n{}", warm.stderr);
    }
    assert!(warm_use.iter().any(|(d, _)| d.starts_with("dir:")));
    assert!(warm_use.iter().filter(|(_, w)| w == "hit").count() >= 6);
}

/// Overwrites every cached value in the database with `value`, fixing up the checksum only
/// when `fix_checksum`.
fn damage(db: &Path, value: &[u8], fix_checksum: bool) -> usize {
    let c = Connection::open(db).unwrap();
    let sum = Sha256::digest(value).to_vec();
    let n = if fix_checksum {
        c.execute(
            "UPDATE layer_cache_v1 SET value = ?1, sha256 = ?2",
            (value, sum),
        )
    } else {
        c.execute("UPDATE layer_cache_v1 SET value = ?1", (value,))
    };
    n.unwrap()
}

#[test]
fn a_damaged_cache_is_a_miss_with_one_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let db = cache.join("cache.sqlite3");
    let eicar = images::oci(&tmp.path().join("eicar"), &images::eicar_deleted());
    let targets = [eicar];
    let good = scan(Some(&cache), &targets);
    assert_eq!(good.code, 1);

    // Values that fail their checksum, then values that pass it but are not a layer result.
    for (value, fixed, says) in [
        (&b"\x00garbage"[..], false, "damaged entry"),
        (&b"{\"findings\": 7}"[..], true, "does not decode"),
    ] {
        assert_eq!(damage(&db, value, fixed), 3, "three layers were cached");
        let r = scan(Some(&cache), &targets);
        assert_eq!(r.code, good.code);
        assert_eq!(comparable(&r.reports), comparable(&good.reports));
        let warnings: Vec<&str> = r.stderr.lines().filter(|l| l.contains("warning")).collect();
        assert_eq!(warnings.len(), 1, "one warning per run:\n{}", r.stderr);
        assert!(warnings[0].contains(says), "{}", r.stderr);
        assert!(
            cache_lines(&r.stderr).iter().all(|(_, w)| w == "miss"),
            "{}",
            r.stderr
        );
        // The damaged entries were replaced: the next scan hits, silently.
        let healed = scan(Some(&cache), &targets);
        assert!(cache_lines(&healed.stderr).iter().all(|(_, w)| w == "hit"));
        assert!(!healed.stderr.contains("warning"), "{}", healed.stderr);
        assert_eq!(comparable(&healed.reports), comparable(&good.reports));
    }

    // A file that is not a database at all: scan without the cache, say so once.
    std::fs::write(&db, vec![0x5a; 10_000]).unwrap();
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(cache.join(format!("cache.sqlite3{ext}")));
    }
    let r = scan(Some(&cache), &targets);
    assert_eq!(r.code, good.code);
    assert_eq!(comparable(&r.reports), comparable(&good.reports));
    assert!(
        r.stderr.contains("scanning without the layer cache"),
        "{}",
        r.stderr
    );
    assert!(cache_lines(&r.stderr).is_empty());
}

#[test]
fn two_processes_share_one_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let targets = all_kinds(tmp.path());
    let cache = tmp.path().join("cache");
    let expected = comparable(&scan(None, &targets).reports);
    let spawn = || {
        let mut args: Vec<String> = vec![
            "--platform".into(),
            "all".into(),
            "--cache-dir".into(),
            cache.display().to_string(),
        ];
        args.extend(targets.iter().cloned());
        customs(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    for _ in 0..2 {
        let (a, b) = (spawn(), spawn());
        for child in [a, b] {
            let r = finish(child.wait_with_output().expect("customs runs"));
            assert_eq!(r.code, 1, "{}", r.stderr);
            assert!(!r.stderr.contains("warning"), "{}", r.stderr);
            assert_eq!(comparable(&r.reports), expected);
        }
    }
    let check: String = Connection::open(cache.join("cache.sqlite3"))
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn only_complete_layers_are_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let layout = tmp.path().join("big");
    let spec = ImageSpec::new(vec![
        LayerSpec::new(vec![Entry::file("small", b"ok\n".to_vec())]),
        LayerSpec::new(vec![Entry::file("big", vec![b'x'; 4096])]),
    ]);
    write_oci_layout(&layout, &[("v1", &spec)]).unwrap();
    let target = format!("oci:{}:v1", layout.display());
    let limited = |c: &Path| {
        run(customs(&[
            "--verbose",
            "--max-file-size",
            "1024",
            "--cache-dir",
            &c.display().to_string(),
            &target,
        ]))
    };
    let first = limited(&cache);
    assert_eq!(first.code, 2, "a limit makes the scan incomplete");
    let second = limited(&cache);
    let uses: Vec<String> = cache_lines(&second.stderr)
        .into_iter()
        .map(|(_, w)| w)
        .collect();
    // The complete layer is reused; the cut-short one is read again, and still skipped.
    assert_eq!(uses, ["hit", "miss"], "{}", second.stderr);
    assert_eq!(comparable(&second.reports), comparable(&first.reports));
    // Other limits are another key: nothing is reused across them.
    let other = run(customs(&[
        "--verbose",
        "--max-file-size",
        "8192",
        "--cache-dir",
        &cache.display().to_string(),
        &target,
    ]));
    assert_eq!(other.code, 0, "{}", other.stderr);
    let uses: Vec<String> = cache_lines(&other.stderr)
        .into_iter()
        .map(|(_, w)| w)
        .collect();
    assert_eq!(uses, ["miss", "miss"], "{}", other.stderr);
}

#[test]
fn where_the_cache_lives() {
    let tmp = tempfile::tempdir().unwrap();
    let target = images::oci(&tmp.path().join("clean"), &images::clean());
    let xdg = tmp.path().join("xdg");
    let home = tmp.path().join("home");

    let r = run({
        let mut c = customs(&[&target]);
        c.env("XDG_CACHE_HOME", &xdg).env("HOME", &home);
        c
    });
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(xdg.join("customs/cache.sqlite3").is_file());
    assert!(!home.join(".cache").exists());

    let r = run({
        let mut c = customs(&[&target]);
        c.env_remove("XDG_CACHE_HOME").env("HOME", &home);
        c
    });
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(home.join(".cache/customs/cache.sqlite3").is_file());

    // CUSTOMS_CACHE_DIR is --cache-dir; --no-cache writes nothing anywhere.
    let env_dir = tmp.path().join("env");
    let r = run({
        let mut c = customs(&[&target]);
        c.env("CUSTOMS_CACHE_DIR", &env_dir);
        c
    });
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(env_dir.join("cache.sqlite3").is_file());
    let none = tmp.path().join("none");
    let r = run({
        let mut c = customs(&[
            "--no-cache",
            "--cache-dir",
            &none.display().to_string(),
            &target,
        ]);
        c.env("XDG_CACHE_HOME", &none).env("HOME", &none);
        c
    });
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!none.exists());
}
