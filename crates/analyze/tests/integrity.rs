//! The package integrity check on real and hand-built package databases.
//!
//! - dpkg: the real database and files of the Debian roots that `tools/make-clean-rootfs.sh`
//!   builds with debootstrap (`customs_test_support::clean_roots`): the whole roots must
//!   give nothing at medium or above; images built from their real `var/lib/dpkg` and the
//!   real files of `procps` and `dash` carry a trojaned `ps`, an unowned binary, a
//!   rewritten md5sums file, and the legitimate later layers that must stay clean.
//! - apk and rpm: HAND-BUILT in this file from the documented formats (apk's `installed`
//!   text database with `Q1` SHA-1 checksums; rpm's SQLite `Packages` table of header
//!   blobs, written here by our own header writer), one clean and one trojaned each.
//! - Corrupt databases give a `package-db-corrupt` finding, never a panic or silence.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use customs_analyze::{Analyzers, LayerCache, ScanOptions, ScanOutcome, scan_image};
use customs_core::{ContentInfo, Finding, Severity};
use customs_image::walk::NoProgress;
use customs_image::{OpenOptions, Target, open};
use customs_test_support::fixtures::{Entry, ImageSpec, LayerSpec, write_oci_layout};
use sha2::Digest as _;

const RULES: &[&str] = &[
    "package-file-modified",
    "package-conffile-modified",
    "package-unowned-executable",
    "package-db-tampered",
    "package-db-corrupt",
    "package-db-unverifiable",
];

/// No file analyzers: the integrity check runs in the scan driver for every image.
fn analyzers() -> Analyzers {
    Analyzers::new(
        vec![],
        vec![],
        ContentInfo {
            version: "test".into(),
            digest: "sha256:00".into(),
        },
    )
}

fn scan_target(target: &Target, opts: &ScanOptions) -> ScanOutcome {
    let images = open(target, &OpenOptions::default()).expect("open");
    assert_eq!(images.len(), 1);
    let out = scan_image(&images[0], &analyzers(), opts, &NoProgress);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out
}

/// An OCI layout of `layers` written under `dir`, as a target; also the layer ids, base
/// first.
fn oci(dir: &Path, layers: Vec<Vec<Entry>>) -> (Target, Vec<String>) {
    let spec = ImageSpec::new(layers.into_iter().map(LayerSpec::new).collect());
    let info = write_oci_layout(dir, &[("latest", &spec)]).unwrap();
    let target = Target::Oci {
        path: dir.to_path_buf(),
        tag: None,
    };
    (target, info.layer_digests[0].clone())
}

/// Scans an OCI layout of `layers`; also returns the layer ids, base first.
fn scan(layers: Vec<Vec<Entry>>) -> (ScanOutcome, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let (target, ids) = oci(dir.path(), layers);
    (scan_target(&target, &ScanOptions::default()), ids)
}

fn ours(out: &ScanOutcome) -> Vec<&Finding> {
    out.findings
        .iter()
        .filter(|f| RULES.contains(&f.rule.as_str()))
        .collect()
}

fn hits(out: &ScanOutcome) -> Vec<(String, String)> {
    ours(out)
        .iter()
        .map(|f| (f.rule.clone(), f.path.clone().unwrap_or_default()))
        .collect()
}

/// Scans `target` again with the cache `opts` holds: every layer must come from the cache
/// and give the findings `first` gave.
fn rescan_from_cache(target: &Target, opts: &ScanOptions, first: &ScanOutcome) -> ScanOutcome {
    let second = scan_target(target, opts);
    assert!(
        second
            .cache
            .iter()
            .all(|c| *c == customs_analyze::CacheUse::Hit)
    );
    assert_eq!(hits(first), hits(&second));
    second
}

fn busybox() -> Vec<u8> {
    std::fs::read("/bin/busybox")
        .expect("/bin/busybox is missing: apt-get install busybox-static (see README)")
}

fn md5_hex(b: &[u8]) -> String {
    hex::encode(<md5::Md5 as md5::Digest>::digest(b))
}

// ---------------------------------------------------------------- dpkg, real databases

/// A clean Debian root that has `procps` installed (the `services` root).
fn procps_root() -> PathBuf {
    customs_test_support::real_inputs::clean_roots()
        .into_iter()
        .find(|r| r.join("var/lib/dpkg/info/procps.list").is_file())
        .expect("no clean root with procps: run `tools/make-clean-rootfs.sh target/fp`")
}

fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// The base layer: the root's top-level symlinks (`bin -> usr/bin`), its whole dpkg
/// database (status, diversions, every md5sums and list file), and the real files of
/// `packages` at their physical paths. Files of the other packages are absent, as docs
/// are in slim images: absent files are not findings.
fn dpkg_base(root: &Path, packages: &[&str]) -> Vec<Entry> {
    let mut entries = Vec::new();
    for top in ["bin", "sbin", "lib", "lib64"] {
        if let Ok(t) = std::fs::read_link(root.join(top)) {
            entries.push(Entry::symlink(top, t.to_string_lossy()));
        }
    }
    let dpkg = root.join("var/lib/dpkg");
    for name in ["status", "diversions"] {
        entries.push(Entry::file(
            format!("var/lib/dpkg/{name}"),
            std::fs::read(dpkg.join(name)).unwrap(),
        ));
    }
    let mut info: Vec<_> = std::fs::read_dir(dpkg.join("info"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md5sums") || n.ends_with(".list"))
        .collect();
    info.sort();
    for n in info {
        entries.push(Entry::file(
            format!("var/lib/dpkg/info/{n}"),
            std::fs::read(dpkg.join("info").join(&n)).unwrap(),
        ));
    }
    let canon_root = std::fs::canonicalize(root).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for pkg in packages {
        let list = std::fs::read_to_string(dpkg.join(format!("info/{pkg}.list"))).unwrap();
        for line in list.lines() {
            let rel = line.trim_start_matches('/');
            let Some((parent, name)) = rel.rsplit_once('/') else {
                continue;
            };
            let Ok(parent) = std::fs::canonicalize(root.join(parent)) else {
                continue;
            };
            let phys = parent.join(name);
            let rel = phys
                .strip_prefix(&canon_root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let Ok(meta) = std::fs::symlink_metadata(&phys) else {
                continue;
            };
            if !seen.insert(rel.clone()) {
                continue;
            }
            if meta.is_file() {
                entries.push(Entry::File {
                    path: rel,
                    data: std::fs::read(&phys).unwrap(),
                    mode: mode_of(&phys),
                });
            } else if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&phys).unwrap();
                entries.push(Entry::symlink(rel, t.to_string_lossy()));
            }
        }
    }
    entries
}

#[test]
fn real_debian_roots_verify_clean() {
    for root in customs_test_support::real_inputs::clean_roots() {
        let out = scan_target(&Target::Dir { path: root.clone() }, &ScanOptions::default());
        let all = ours(&out);
        let serious: Vec<_> = all
            .iter()
            .filter(|f| f.severity >= Severity::Medium)
            .collect();
        let count = |rule: &str| all.iter().filter(|f| f.rule == rule).count();
        eprintln!(
            "{}: {} files read, {} verified by the package database, {} modified, {} conffiles modified, {} unowned executables, {} at medium+",
            root.display(),
            out.coverage.files,
            out.coverage.verified_by_package_db,
            count("package-file-modified"),
            count("package-conffile-modified"),
            count("package-unowned-executable"),
            serious.len()
        );
        for f in &all {
            eprintln!(
                "  {} {} {} {}",
                f.severity,
                f.rule,
                f.path.as_deref().unwrap_or(""),
                f.evidence
            );
        }
        assert!(serious.is_empty(), "{serious:#?}");
        assert!(
            out.coverage.verified_by_package_db > 3000,
            "only {} files verified under {}",
            out.coverage.verified_by_package_db,
            root.display()
        );
    }
}

#[test]
fn dpkg_image_from_real_files_is_clean() {
    let root = procps_root();
    let (out, _) = scan(vec![dpkg_base(&root, &["procps", "dash"])]);
    assert_eq!(hits(&out), Vec::<(String, String)>::new());
    // procps' and dash's files that are in md5sums, found through `bin -> usr/bin`.
    assert!(
        out.coverage.verified_by_package_db >= 20,
        "{}",
        out.coverage.verified_by_package_db
    );
}

#[test]
fn trojaned_ps_in_a_later_layer_is_flagged() {
    let root = procps_root();
    let bb = busybox();
    let (out, layers) = scan(vec![
        dpkg_base(&root, &["procps", "dash"]),
        vec![Entry::exec("usr/bin/ps", bb.clone())],
    ]);
    let f = ours(&out);
    assert_eq!(
        hits(&out),
        [("package-file-modified".into(), "usr/bin/ps".into())]
    );
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[0].layer.as_deref(), Some(layers[1].as_str()));
    assert!(
        f[0].evidence.contains("package procps"),
        "{}",
        f[0].evidence
    );
    assert!(f[0].evidence.contains(&md5_hex(&bb)), "{}", f[0].evidence);
    assert!(f[0].attack.contains(&"T1554".to_string()));

    // Near miss: the same bytes as the packaged ps, written again by a later layer.
    let ps = std::fs::read(root.join("usr/bin/ps")).unwrap();
    let (out, _) = scan(vec![
        dpkg_base(&root, &["procps", "dash"]),
        vec![Entry::exec("usr/bin/ps", ps)],
    ]);
    assert_eq!(hits(&out), Vec::<(String, String)>::new());
}

#[test]
fn a_changed_conffile_is_info_only() {
    let root = procps_root();
    let (out, _) = scan(vec![
        dpkg_base(&root, &["procps"]),
        vec![Entry::file("etc/sysctl.conf", "kernel.panic = 3\n")],
    ]);
    let f = ours(&out);
    assert_eq!(
        hits(&out),
        [("package-conffile-modified".into(), "etc/sysctl.conf".into())]
    );
    assert_eq!(f[0].severity, Severity::Info);
}

#[test]
fn unowned_binary_in_usr_sbin_is_flagged() {
    let root = procps_root();
    let bb = busybox();
    let (out, layers) = scan(vec![
        dpkg_base(&root, &["procps", "dash"]),
        vec![
            Entry::exec("usr/sbin/sshd-helper", bb.clone()),
            // Near misses: /usr/local is the administrator's; byte-code caches and a text
            // file without an execute bit are not executables.
            Entry::exec("usr/local/sbin/tool", bb.clone()),
            Entry::file(
                "usr/lib/python3/dist-packages/__pycache__/x.cpython-311.pyc",
                "x",
            ),
            Entry::file("usr/sbin/README", "not a program\n"),
        ],
    ]);
    let f = ours(&out);
    assert_eq!(
        hits(&out),
        [(
            "package-unowned-executable".into(),
            "usr/sbin/sshd-helper".into()
        )]
    );
    assert_eq!(f[0].severity, Severity::Medium);
    assert_eq!(f[0].layer.as_deref(), Some(layers[1].as_str()));
}

/// procps' md5sums with `usr/bin/ps`'s line carrying `md5`.
fn procps_md5sums_with(root: &Path, md5: &str) -> String {
    let text = std::fs::read_to_string(root.join("var/lib/dpkg/info/procps.md5sums")).unwrap();
    let mut changed = 0;
    let out: String = text
        .lines()
        .map(|l| {
            if l.ends_with("  bin/ps") || l.ends_with("  usr/bin/ps") {
                changed += 1;
                format!("{md5}  {}\n", l.split_once("  ").unwrap().1)
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_eq!(changed, 1, "procps.md5sums lists ps once");
    out
}

#[test]
fn md5sums_rewritten_to_match_a_trojan_are_flagged() {
    let root = procps_root();
    let bb = busybox();
    let (out, layers) = scan(vec![
        dpkg_base(&root, &["procps", "dash"]),
        vec![
            Entry::exec("usr/bin/ps", bb.clone()),
            Entry::file(
                "var/lib/dpkg/info/procps.md5sums",
                procps_md5sums_with(&root, &md5_hex(&bb)),
            ),
        ],
    ]);
    let f = ours(&out);
    // The database now vouches for the trojan, so only the rewrite itself gives it away.
    assert_eq!(
        hits(&out),
        [(
            "package-db-tampered".into(),
            "var/lib/dpkg/info/procps.md5sums".into()
        )]
    );
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[0].layer.as_deref(), Some(layers[1].as_str()));
    assert!(f[0].evidence.contains("procps"), "{}", f[0].evidence);
}

/// Appends a package to a status file, as dpkg does on install.
fn status_with(root: &Path, extra: &str) -> String {
    let mut s = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    s.push_str(extra);
    s
}

#[test]
fn apt_get_install_and_upgrade_in_later_layers_are_clean() {
    let root = procps_root();
    let bb = busybox();
    // Install: a new package's status stanza, md5sums, list and files in one layer.
    let stanza = "\nPackage: hello-tool\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: 1.0-1\nDescription: test\n";
    let (out, _) = scan(vec![
        dpkg_base(&root, &["procps", "dash"]),
        vec![
            Entry::file("var/lib/dpkg/status", status_with(&root, stanza)),
            Entry::file(
                "var/lib/dpkg/info/hello-tool.md5sums",
                format!("{}  usr/bin/hello-tool\n", md5_hex(&bb)),
            ),
            Entry::file(
                "var/lib/dpkg/info/hello-tool.list",
                "/.\n/usr\n/usr/bin\n/usr/bin/hello-tool\n",
            ),
            Entry::exec("usr/bin/hello-tool", bb.clone()),
        ],
    ]);
    assert_eq!(hits(&out), Vec::<(String, String)>::new());

    // Upgrade: procps' version changes together with its md5sums and its files. (An
    // attacker who also bumps the version looks the same: see docs/integrity.md.)
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    let stanza_start = status.find("Package: procps\n").unwrap();
    let version_line = status[stanza_start..]
        .lines()
        .find(|l| l.starts_with("Version: "))
        .unwrap()
        .to_string();
    let bumped = format!("{version_line}+upgrade1");
    // Only procps' own stanza: other packages (libproc2-0) share its version string.
    let stanza_end = status[stanza_start..]
        .find("\n\n")
        .map_or(status.len(), |e| stanza_start + e);
    let upgraded = format!(
        "{}{}{}",
        &status[..stanza_start],
        status[stanza_start..stanza_end].replacen(&version_line, &bumped, 1),
        &status[stanza_end..]
    );
    assert_ne!(upgraded, status);
    let (out, _) = scan(vec![
        dpkg_base(&root, &["procps", "dash"]),
        vec![
            Entry::file("var/lib/dpkg/status", upgraded),
            Entry::file(
                "var/lib/dpkg/info/procps.md5sums",
                procps_md5sums_with(&root, &md5_hex(&bb)),
            ),
            Entry::exec("usr/bin/ps", bb.clone()),
        ],
    ]);
    assert_eq!(hits(&out), Vec::<(String, String)>::new());
}

#[test]
fn whiteouts_remove_files_from_the_check() {
    let root = procps_root();
    let bb = busybox();
    // A trojan added and then deleted is not in the merged filesystem; other analyzers
    // still see it in its layer. A deleted package file is not a finding either.
    let (out, _) = scan(vec![
        dpkg_base(&root, &["procps", "dash"]),
        vec![Entry::exec("usr/sbin/dropper", bb.clone())],
        vec![
            Entry::Whiteout("usr/sbin/dropper".into()),
            Entry::Whiteout("usr/bin/ps".into()),
        ],
    ]);
    assert_eq!(hits(&out), Vec::<(String, String)>::new());
}

#[test]
fn distroless_status_d_is_read() {
    let root = procps_root();
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    let start = status.find("Package: procps\n").unwrap();
    let end = status[start..]
        .find("\n\n")
        .map_or(status.len(), |e| start + e + 1);
    let stanza = status[start..end].to_string();
    let sums = std::fs::read_to_string(root.join("var/lib/dpkg/info/procps.md5sums")).unwrap();
    let mut base: Vec<Entry> = dpkg_base(&root, &["procps"])
        .into_iter()
        .filter(|e| !matches!(e, Entry::File { path, .. } if path.starts_with("var/lib/dpkg/")))
        .collect();
    base.push(Entry::file("var/lib/dpkg/status.d/procps", stanza));
    base.push(Entry::file("var/lib/dpkg/status.d/procps.md5sums", sums));
    let (out, _) = scan(vec![base.clone()]);
    assert_eq!(hits(&out), Vec::<(String, String)>::new());
    assert!(out.coverage.verified_by_package_db >= 10);
    let (out, _) = scan(vec![base, vec![Entry::exec("usr/bin/ps", busybox())]]);
    assert_eq!(
        hits(&out),
        [("package-file-modified".into(), "usr/bin/ps".into())]
    );
}

#[test]
fn truncated_status_is_reported_not_clean() {
    let root = procps_root();
    let mut base = dpkg_base(&root, &["procps"]);
    let status = std::fs::read(root.join("var/lib/dpkg/status")).unwrap();
    for e in &mut base {
        if let Entry::File { path, data, .. } = e
            && path == "var/lib/dpkg/status"
        {
            // Cut in the middle of a line, as a partial copy leaves it.
            *data = status[..status.len() / 2 + 7].to_vec();
        }
    }
    let (out, _) = scan(vec![base, vec![Entry::exec("usr/sbin/dropper", busybox())]]);
    let f = ours(&out);
    assert_eq!(
        hits(&out),
        [("package-db-corrupt".into(), "var/lib/dpkg/status".into())],
        "an incomplete database must not make every binary look unowned either"
    );
    assert!(f[0].evidence.contains("truncated"), "{}", f[0].evidence);
    assert!(f[0].severity >= Severity::Medium);
}

// ---------------------------------------------------------------- apk, hand-built

fn q1(b: &[u8]) -> String {
    format!(
        "Q1{}",
        base64::engine::general_purpose::STANDARD.encode(<sha1::Sha1 as sha1::Digest>::digest(b))
    )
}

/// A HAND-BUILT apk `installed` database (format: apk-tools' documented one-letter fields).
fn apk_installed(tool: &[u8], profile: &[u8]) -> String {
    format!(
        "C:Q1aaaaaaaaaaaaaaaaaaaaaaaaaaa=\nP:tool\nV:1.2.3-r0\nA:x86_64\nS:100\nI:200\nT:a tool\n\
         F:usr\nF:usr/bin\nR:tool\na:0:0:755\nZ:{}\n\n\
         P:alpine-baselayout\nV:3.6.5-r0\nA:x86_64\nF:etc\nR:profile\nZ:{}\nF:bin\nR:sh\na:0:0:777\nZ:Q1SLkS9hBidUvKNHmU4Qf2VyAvRJA=\n\n",
        q1(tool),
        q1(profile)
    )
}

fn apk_base(tool: &[u8]) -> Vec<Entry> {
    vec![
        Entry::file(
            "lib/apk/db/installed",
            apk_installed(tool, b"export PATH\n"),
        ),
        Entry::exec("usr/bin/tool", tool.to_vec()),
        Entry::file("etc/profile", "export PATH\n"),
        Entry::symlink("bin/sh", "/bin/busybox"),
    ]
}

#[test]
fn apk_clean_and_trojaned() {
    let tool = busybox();
    let (out, _) = scan(vec![apk_base(&tool)]);
    assert_eq!(hits(&out), Vec::<(String, String)>::new());
    assert_eq!(out.coverage.verified_by_package_db, 2);

    let mut trojan = tool.clone();
    trojan.extend_from_slice(b"appended payload");
    let (out, layers) = scan(vec![
        apk_base(&tool),
        vec![
            Entry::exec("usr/bin/tool", trojan),
            Entry::exec("bin/kworkerd", tool.clone()),
        ],
    ]);
    assert_eq!(
        hits(&out),
        [
            ("package-file-modified".into(), "usr/bin/tool".into()),
            ("package-unowned-executable".into(), "bin/kworkerd".into()),
        ]
    );
    let f = ours(&out);
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[0].layer.as_deref(), Some(layers[1].as_str()));
    assert!(
        f[0].evidence.contains("apk package tool 1.2.3-r0"),
        "{}",
        f[0].evidence
    );

    // The database rewritten in a later layer for the same version.
    let (out, _) = scan(vec![
        apk_base(&tool),
        vec![Entry::file(
            "lib/apk/db/installed",
            apk_installed(b"other bytes", b"export PATH\n"),
        )],
    ]);
    let rules: Vec<String> = hits(&out).into_iter().map(|(r, _)| r).collect();
    assert!(rules.contains(&"package-db-tampered".into()), "{rules:?}");
}

/// SHA-1 is only apk's, so the first read leaves it out and the layers are read again for
/// it once an apk database turns up: here in a later layer than the files it lists, one of
/// them a hard link, and through the layer cache (which then keeps the SHA-1). Only the
/// layer with files the database lists is read again, not a layer of other packages'
/// files nor the database's own.
#[test]
fn apk_sha1_is_read_again_when_the_database_turns_up() {
    let tool = busybox();
    let mut trojan = tool.clone();
    trojan.extend_from_slice(b"appended payload");
    let dir = tempfile::tempdir().unwrap();
    let (target, _) = oci(
        dir.path(),
        vec![
            vec![
                // The database lists usr/bin/tool, which is a hard link here.
                Entry::exec("usr/bin/tool-real", trojan),
                Entry::hardlink("usr/bin/tool", "usr/bin/tool-real"),
                Entry::file("etc/profile", "export PATH\n"),
            ],
            vec![Entry::file(
                "usr/lib/python3/site-packages/app.py",
                "print('not an apk file')\n",
            )],
            vec![Entry::file(
                "lib/apk/db/installed",
                apk_installed(&tool, b"export PATH\n"),
            )],
        ],
    );
    let cache = Arc::new(MemCache::default());
    let opts = ScanOptions {
        cache: Some(cache.clone()),
        ..ScanOptions::default()
    };
    let first = scan_target(&target, &opts);
    let modified: Vec<(String, String)> = hits(&first)
        .into_iter()
        .filter(|(r, _)| r == "package-file-modified")
        .collect();
    assert_eq!(
        modified,
        [("package-file-modified".into(), "usr/bin/tool".into())]
    );
    // etc/profile is verified by its SHA-1.
    assert_eq!(first.coverage.verified_by_package_db, 1);
    let stored = cache.entries();
    let layer_with = |path: &str| -> &String {
        let v: Vec<&String> = stored.iter().filter(|v| v.contains(path)).collect();
        assert_eq!(v.len(), 1, "{path}");
        v[0]
    };
    assert!(
        layer_with("etc/profile").contains("\"sha1\":true"),
        "the files' layer is stored again with its SHA-1"
    );
    assert!(layer_with("site-packages/app.py").contains("\"sha1\":false"));
    assert!(layer_with("\"lib/apk/db/installed\"").contains("\"sha1\":false"));
    let second = rescan_from_cache(&target, &opts, &first);
    assert_eq!(second.coverage.verified_by_package_db, 1);
}

/// Serves each blob once; the second open of the same blob fails, as a registry that went
/// away between the two reads would.
struct OnceStore {
    inner: Arc<dyn customs_image::BlobStore>,
    opened: Mutex<Vec<customs_image::BlobKey>>,
}

impl customs_image::BlobStore for OnceStore {
    fn open(
        &self,
        key: &customs_image::BlobKey,
    ) -> Result<Box<dyn std::io::Read + Send + '_>, customs_image::ImageError> {
        let mut opened = self.opened.lock().unwrap();
        if opened.contains(key) {
            return Err(customs_image::ImageError::Io {
                path: PathBuf::from("blob opened twice"),
                source: std::io::Error::other("gone"),
            });
        }
        opened.push(key.clone());
        self.inner.open(key)
    }
}

/// A layer that can not be read again for SHA-1 is a scan error, and its apk-listed files
/// are not counted as verified: never a silent pass.
#[test]
fn a_layer_that_fails_its_second_read_is_a_scan_error() {
    let tool = busybox();
    let dir = tempfile::tempdir().unwrap();
    let (target, _) = oci(dir.path(), vec![apk_base(&tool)]);
    let mut images = open(&target, &OpenOptions::default()).expect("open");
    let mut image = images.remove(0);
    image.store = Arc::new(OnceStore {
        inner: image.store.clone(),
        opened: Mutex::new(Vec::new()),
    });
    let out = scan_image(&image, &analyzers(), &ScanOptions::default(), &NoProgress);
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert!(
        out.errors[0].contains("reading it again for the SHA-1"),
        "{}",
        out.errors[0]
    );
    assert_eq!(out.coverage.verified_by_package_db, 0);
}

/// A dpkg image is read once: its cached facts carry MD5 and no SHA-1.
#[test]
fn a_dpkg_image_is_not_read_again_for_sha1() {
    let root = procps_root();
    let dir = tempfile::tempdir().unwrap();
    let (target, _) = oci(dir.path(), vec![dpkg_base(&root, &["procps"])]);
    let cache = Arc::new(MemCache::default());
    let opts = ScanOptions {
        cache: Some(cache.clone()),
        ..ScanOptions::default()
    };
    let out = scan_target(&target, &opts);
    assert!(out.coverage.verified_by_package_db > 0);
    let stored = cache.entries();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].contains("\"sha1\":false"));
    assert!(!stored[0].contains("\"sha1\":\""), "a file got a SHA-1");
    assert!(stored[0].contains("\"md5\":\""));
}

#[test]
fn apk_garbage_line_is_corrupt() {
    let tool = busybox();
    let mut base = apk_base(&tool);
    base[0] = Entry::file(
        "lib/apk/db/installed",
        format!(
            "{}this is not a field\n",
            apk_installed(&tool, b"export PATH\n")
        ),
    );
    let (out, _) = scan(vec![base]);
    assert_eq!(
        hits(&out),
        [("package-db-corrupt".into(), "lib/apk/db/installed".into())]
    );
}

// ---------------------------------------------------------------- rpm, hand-built

const RPM_STRING: u32 = 6;
const RPM_STRING_ARRAY: u32 = 8;
const RPM_INT16: u32 = 3;
const RPM_INT32: u32 = 4;

fn strings(v: &[&str]) -> Vec<u8> {
    v.iter().flat_map(|s| s.bytes().chain([0])).collect()
}

/// A HAND-BUILT rpm header blob, written from rpm's documented header format (index count,
/// data length, 16-byte big-endian index entries, data store; no magic in the database).
fn rpm_header(name: &str, files: &[(&str, &str, &[u8], u16, u32)]) -> Vec<u8> {
    rpm_header_with(name, files, 8)
}

/// An rpm header whose file digests use `algo` (FILEDIGESTALGO: 1 MD5, 2 SHA-1, 8 SHA-256).
fn rpm_header_with(name: &str, files: &[(&str, &str, &[u8], u16, u32)], algo: u32) -> Vec<u8> {
    let mut dirs: Vec<&str> = Vec::new();
    let mut dirindexes = Vec::new();
    let mut bases = Vec::new();
    let mut digests = Vec::new();
    let mut modes = Vec::new();
    let mut flags = Vec::new();
    for (dir, base, content, mode, flag) in files {
        let i = dirs.iter().position(|d| d == dir).unwrap_or_else(|| {
            dirs.push(dir);
            dirs.len() - 1
        });
        dirindexes.extend_from_slice(&(i as u32).to_be_bytes());
        bases.push(*base);
        digests.push(match algo {
            1 => md5_hex(content),
            2 => hex::encode(<sha1::Sha1 as sha1::Digest>::digest(content)),
            _ => hex::encode(sha2::Sha256::digest(content)),
        });
        modes.extend_from_slice(&mode.to_be_bytes());
        flags.extend_from_slice(&flag.to_be_bytes());
    }
    let digests: Vec<&str> = digests.iter().map(String::as_str).collect();
    let n = files.len() as u32;
    let entries: Vec<(u32, u32, Vec<u8>, u32)> = vec![
        (1000, RPM_STRING, strings(&[name]), 1),
        (1001, RPM_STRING, strings(&["1.0"]), 1),
        (1002, RPM_STRING, strings(&["1.fc40"]), 1),
        (1030, RPM_INT16, modes, n),
        (1035, RPM_STRING_ARRAY, strings(&digests), n),
        (1037, RPM_INT32, flags, n),
        (1116, RPM_INT32, dirindexes, n),
        (1117, RPM_STRING_ARRAY, strings(&bases), n),
        (1118, RPM_STRING_ARRAY, strings(&dirs), dirs.len() as u32),
        (5011, RPM_INT32, algo.to_be_bytes().to_vec(), 1),
    ];
    let mut index = Vec::new();
    let mut data = Vec::new();
    for (tag, ty, bytes, count) in entries {
        let align = match ty {
            RPM_INT32 => 4,
            RPM_INT16 => 2,
            _ => 1,
        };
        while data.len() % align != 0 {
            data.push(0);
        }
        for v in [tag, ty, data.len() as u32, count] {
            index.extend_from_slice(&v.to_be_bytes());
        }
        data.extend_from_slice(&bytes);
    }
    let mut blob = Vec::new();
    blob.extend_from_slice(&(index.len() as u32 / 16).to_be_bytes());
    blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
    blob.extend_from_slice(&index);
    blob.extend_from_slice(&data);
    blob
}

/// A HAND-BUILT rpmdb.sqlite: rpm 4.16's `Packages(hnum, blob)` table holding `headers`.
fn rpmdb(headers: &[Vec<u8>]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rpmdb.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
        )
        .unwrap();
        for h in headers {
            conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [h])
                .unwrap();
        }
    }
    std::fs::read(&path).unwrap()
}

fn rpm_base(tool: &[u8]) -> Vec<Entry> {
    let conf = b"color=auto\n";
    let header = rpm_header(
        "tool",
        &[
            ("/usr/bin/", "tool", tool, 0o100755, 0),
            ("/etc/", "tool.conf", conf, 0o100644, 1),
            ("/usr/share/doc/tool/", "README", b"docs", 0o100644, 0),
        ],
    );
    vec![
        Entry::file("var/lib/rpm/rpmdb.sqlite", rpmdb(&[header])),
        Entry::exec("usr/bin/tool", tool.to_vec()),
        Entry::file("etc/tool.conf", conf.to_vec()),
    ]
}

/// rpm may name files by SHA-1 too: the SHA-1 read again serves it like apk.
#[test]
fn rpm_sha1_digests_are_read_again_too() {
    let tool = busybox();
    let header = rpm_header_with("tool", &[("/usr/bin/", "tool", &tool, 0o100755, 0)], 2);
    let base = vec![
        Entry::exec("usr/bin/tool", tool.clone()),
        Entry::file("var/lib/rpm/rpmdb.sqlite", rpmdb(&[header])),
    ];
    let (out, _) = scan(vec![base.clone()]);
    assert_eq!(hits(&out), Vec::<(String, String)>::new());
    assert_eq!(out.coverage.verified_by_package_db, 1);
    let mut trojan = tool.clone();
    trojan.extend_from_slice(b"appended payload");
    let (out, _) = scan(vec![base, vec![Entry::exec("usr/bin/tool", trojan)]]);
    assert_eq!(
        hits(&out),
        [("package-file-modified".into(), "usr/bin/tool".into())]
    );
}

#[test]
fn rpm_sqlite_clean_and_trojaned() {
    let tool = busybox();
    let (out, _) = scan(vec![rpm_base(&tool)]);
    assert_eq!(hits(&out), Vec::<(String, String)>::new());
    assert_eq!(out.coverage.verified_by_package_db, 2);

    let mut trojan = tool.clone();
    trojan[100] ^= 1;
    let (out, layers) = scan(vec![
        rpm_base(&tool),
        vec![
            Entry::exec("usr/bin/tool", trojan),
            Entry::file("etc/tool.conf", "color=never\n"),
        ],
    ]);
    assert_eq!(
        hits(&out),
        [
            ("package-file-modified".into(), "usr/bin/tool".into()),
            ("package-conffile-modified".into(), "etc/tool.conf".into()),
        ]
    );
    let f = ours(&out);
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[0].layer.as_deref(), Some(layers[1].as_str()));
    assert!(f[0].evidence.contains("sha256"), "{}", f[0].evidence);

    // The trojan and a database rewritten to match it, same package version: only the
    // rewrite gives it away.
    let mut trojan = tool.clone();
    trojan[100] ^= 1;
    let forged = rpm_header(
        "tool",
        &[
            ("/usr/bin/", "tool", &trojan, 0o100755, 0),
            ("/etc/", "tool.conf", b"color=auto\n", 0o100644, 1),
        ],
    );
    let (out, layers) = scan(vec![
        rpm_base(&tool),
        vec![
            Entry::exec("usr/bin/tool", trojan),
            Entry::file("var/lib/rpm/rpmdb.sqlite", rpmdb(&[forged])),
        ],
    ]);
    assert_eq!(
        hits(&out),
        [(
            "package-db-tampered".into(),
            "var/lib/rpm/rpmdb.sqlite".into()
        )]
    );
    assert_eq!(ours(&out)[0].layer.as_deref(), Some(layers[1].as_str()));
}

#[test]
fn rpm_garbage_sqlite_and_berkeley_db_are_reported() {
    let (out, _) = scan(vec![vec![
        Entry::file(
            "var/lib/rpm/rpmdb.sqlite",
            b"SQLite format 3\0 but then garbage".repeat(200),
        ),
        Entry::exec("usr/bin/tool", busybox()),
    ]]);
    assert_eq!(
        hits(&out),
        [(
            "package-db-corrupt".into(),
            "var/lib/rpm/rpmdb.sqlite".into()
        )]
    );
    // A header whose offsets point outside its data store.
    let mut bad = rpm_header("tool", &[("/usr/bin/", "tool", b"x", 0o100755, 0)]);
    bad[8 + 16 + 8..8 + 16 + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    let (out, _) = scan(vec![vec![Entry::file(
        "var/lib/rpm/rpmdb.sqlite",
        rpmdb(&[bad]),
    )]]);
    let f = ours(&out);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].rule, "package-db-corrupt");
    assert!(f[0].evidence.contains("out of range"), "{}", f[0].evidence);

    let (out, _) = scan(vec![vec![
        Entry::file("var/lib/rpm/Packages", vec![0u8; 4096]),
        Entry::exec("usr/bin/tool", busybox()),
    ]]);
    let f = ours(&out);
    assert_eq!(
        hits(&out),
        [(
            "package-db-unverifiable".into(),
            "var/lib/rpm/Packages".into()
        )]
    );
    assert_eq!(f[0].severity, Severity::Info);
}

// ---------------------------------------------------------------- layer cache

#[derive(Debug, Default)]
struct MemCache(Mutex<HashMap<[u8; 32], Vec<u8>>>);

impl LayerCache for MemCache {
    fn get(&self, key: &[u8; 32]) -> Option<Vec<u8>> {
        self.0.lock().unwrap().get(key).cloned()
    }
    fn put(&self, key: &[u8; 32], value: &[u8]) {
        self.0.lock().unwrap().insert(*key, value.to_vec());
    }
    fn corrupt(&self, _key: &[u8; 32], why: &str) {
        panic!("cache entry does not decode: {why}");
    }
}

impl MemCache {
    /// Every stored entry, as text.
    fn entries(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .values()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    }
}

#[test]
fn cached_layers_carry_the_facts() {
    let root = procps_root();
    let dir = tempfile::tempdir().unwrap();
    let (target, _) = oci(
        dir.path(),
        vec![
            dpkg_base(&root, &["procps", "dash"]),
            vec![Entry::exec("usr/bin/ps", busybox())],
        ],
    );
    let opts = ScanOptions {
        cache: Some(Arc::new(MemCache::default())),
        ..ScanOptions::default()
    };
    let first = scan_target(&target, &opts);
    let second = rescan_from_cache(&target, &opts, &first);
    assert_eq!(
        hits(&second),
        [("package-file-modified".into(), "usr/bin/ps".into())]
    );
    assert_eq!(
        first.coverage.verified_by_package_db,
        second.coverage.verified_by_package_db
    );
}
