//! The `executables` and `packed-elf` analyzers on images built by the fixture code, with
//! the real busybox binary (Debian's busybox-static) and a real UPX-packed copy of it; and
//! the false-positive harness: every file of a real Debian root filesystem, with its real
//! modes, through both these analyzers and `accounts`.

use std::path::{Path, PathBuf};
use std::process::Command;

use customs_analyze::{Analyzers, ScanOptions, scan_image};
use customs_core::{Finding, Severity};
use customs_image::walk::NoProgress;
use customs_image::{OpenOptions, Target, open};
use customs_test_support::fixtures::{Entry, ImageSpec, LayerSpec, write_oci_layout};
use sha2::Digest as _;

const EXECUTABLE_RULES: &[&str] = &[
    "elf-in-temp-dir",
    "elf-hidden",
    "elf-in-hidden-dir",
    "kernel-thread-name",
    "daemon-name-out-of-place",
    "setuid-known",
    "setuid-shell",
    "setuid-temp-or-hidden",
    "setuid-unlisted",
    "setuid-unusual-path",
    "elf-upx-packed",
    "elf-packed-high-entropy",
];

/// The rules of the `accounts` analyzer, for the false-positive harness.
const ACCOUNT_RULES: &[&str] = &[
    "ld-so-preload",
    "ld-so-preload-untrusted-path",
    "authorized-keys-root",
    "authorized-keys-user",
    "sshd-permit-root-login",
    "sshd-permit-empty-passwords",
    "sshd-authorized-keys-location",
    "sshd-nondefault-port",
    "sudo-nopasswd-all-users",
    "sudo-nopasswd-all",
    "pam-module-outside-libdir",
    "pam-permit-auth",
    "pam-exec-untrusted-path",
    "pam-exec-expose-authtok",
    "passwd-extra-uid0",
    "account-empty-password",
];

fn busybox() -> Vec<u8> {
    std::fs::read("/bin/busybox")
        .expect("/bin/busybox is missing: apt-get install busybox-static (see README)")
}

fn file(path: &str, data: &[u8], mode: u32) -> Entry {
    Entry::File {
        path: path.into(),
        data: data.to_vec(),
        mode,
    }
}

fn scan_target(target: &Target) -> (Vec<Finding>, u64) {
    let images = open(target, &OpenOptions::default()).unwrap();
    let analyzers = Analyzers::builtin().unwrap();
    let outcome = scan_image(&images[0], &analyzers, &ScanOptions::default(), &NoProgress);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    (outcome.findings, outcome.coverage.files)
}

/// The executables rules' findings on a one-layer image holding `entries`.
fn scan(entries: Vec<Entry>) -> Vec<Finding> {
    let spec = ImageSpec::new(vec![LayerSpec::new(entries)]);
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &[("latest", &spec)]).unwrap();
    let (findings, _) = scan_target(&Target::Oci {
        path: dir.path().to_path_buf(),
        tag: None,
    });
    findings
        .into_iter()
        .filter(|f| EXECUTABLE_RULES.contains(&f.rule.as_str()))
        .collect()
}

/// `(rule, path)` of every finding, sorted.
fn hits(findings: &[Finding]) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f.rule.as_str(), f.path.as_deref().unwrap_or("")))
        .collect();
    v.sort();
    v
}

fn find<'a>(findings: &'a [Finding], rule: &str, path: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.rule == rule && f.path.as_deref() == Some(path))
        .unwrap_or_else(|| panic!("no {rule} on {path}: {findings:#?}"))
}

#[test]
fn busybox_in_its_place_is_clean() {
    let bb = busybox();
    let f = scan(vec![
        file("bin/busybox", &bb, 0o755),
        file("usr/sbin/sshd", &bb, 0o755),
        file("usr/lib/systemd/systemd-journald", &bb, 0o755),
        // Debian's detached debug symbols live under a dot-directory, not executable.
        file("usr/lib/debug/.build-id/ab/cdef.debug", &bb, 0o644),
        // A script that merely shares a daemon's name.
        file("etc/init.d/cron", b"#!/bin/sh\nexit 0\n", 0o755),
    ]);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn hidden_elf() {
    let bb = busybox();
    let f = scan(vec![
        file("tmp/.x/kworker", &bb, 0o755),
        file("usr/local/bin/.helper", &bb, 0o644),
        file("usr/lib/.sys/agent", &bb, 0o755),
    ]);
    assert_eq!(
        hits(&f),
        [
            ("elf-hidden", "tmp/.x/kworker"),
            ("elf-hidden", "usr/lib/.sys/agent"),
            ("elf-hidden", "usr/local/bin/.helper"),
            ("kernel-thread-name", "tmp/.x/kworker"),
        ]
    );
    let h = find(&f, "elf-hidden", "tmp/.x/kworker");
    assert_eq!(
        (h.severity, h.attack.as_slice()),
        (Severity::High, &["T1564.001".to_string()][..])
    );
    assert!(h.evidence.contains("`/tmp/.x`"), "{}", h.evidence);
    // Near miss: a tool in a home directory's hidden tree is only noted (info), and a
    // non-executable copy there is not.
    let f = scan(vec![
        file("root/.cargo/bin/tool", &bb, 0o755),
        file("root/.cargo/registry/blob", &bb, 0o644),
        file(".venv/bin/ruff", &bb, 0o755),
    ]);
    assert_eq!(
        hits(&f),
        [
            ("elf-in-hidden-dir", ".venv/bin/ruff"),
            ("elf-in-hidden-dir", "root/.cargo/bin/tool")
        ]
    );
    assert!(f.iter().all(|f| f.severity == Severity::Info), "{f:#?}");
}

#[test]
fn elf_in_temp_dir() {
    let bb = busybox();
    let f = scan(vec![file("var/tmp/build/a.out", &bb, 0o755)]);
    assert_eq!(hits(&f), [("elf-in-temp-dir", "var/tmp/build/a.out")]);
    assert_eq!(f[0].severity, Severity::Medium);
    assert!(f[0].evidence.contains("in /var/tmp"), "{}", f[0].evidence);
    // Near miss: an executable script in /tmp, and an ELF in a directory that only starts
    // like one.
    let f = scan(vec![
        file("tmp/run.sh", b"#!/bin/sh\necho hi\n", 0o755),
        file("tmpl/a.out", &bb, 0o755),
    ]);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn kernel_thread_names() {
    let bb = busybox();
    let f = scan(vec![
        file("usr/bin/kdevtmpfsi", &bb, 0o755),
        file("opt/[kswapd0]", b"#!/bin/sh\n", 0o755),
    ]);
    assert_eq!(
        hits(&f),
        [
            ("kernel-thread-name", "opt/[kswapd0]"),
            ("kernel-thread-name", "usr/bin/kdevtmpfsi"),
        ]
    );
    let k = find(&f, "kernel-thread-name", "usr/bin/kdevtmpfsi");
    assert_eq!(k.severity, Severity::High);
    assert_eq!(k.attack, ["T1036.004", "T1036.005"]);
    // Near miss: a real daemon whose name starts with a k, and a data file named kworker.
    let f = scan(vec![
        file("usr/sbin/kerneloops", &bb, 0o755),
        file("etc/kworker", b"threads=4\n", 0o644),
    ]);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn daemon_names_out_of_place() {
    let bb = busybox();
    let f = scan(vec![
        file("var/lib/sshd", &bb, 0o755),
        file("etc/systemd-update", &bb, 0o755),
    ]);
    assert_eq!(
        hits(&f),
        [
            ("daemon-name-out-of-place", "etc/systemd-update"),
            ("daemon-name-out-of-place", "var/lib/sshd"),
        ]
    );
    assert_eq!(f[0].attack, ["T1036.005"]);
    // Near miss: in the directories packages use (see busybox_in_its_place_is_clean too).
    let f = scan(vec![
        file("usr/local/sbin/sshd", &bb, 0o755),
        file("lib/systemd/systemd-udevd", &bb, 0o755),
        file("usr/lib/openssh/sshd-session", &bb, 0o755),
    ]);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn setuid_files() {
    let bb = busybox();
    let f = scan(vec![
        file("usr/bin/passwd", &bb, 0o4755),
        file("usr/sbin/unix_chkpwd", &bb, 0o2755),
        file("usr/bin/bash", &bb, 0o4755),
        file("usr/bin/python3.11", &bb, 0o4755),
        file("tmp/.s/su", &bb, 0o4755),
        file("usr/lib/foo/helper", &bb, 0o4755),
        file("home/app/bin/tool", &bb, 0o6755),
        // Near misses: the same names without the bits.
        file("usr/bin/su", &bb, 0o755),
        file("usr/bin/sh", &bb, 0o755),
    ]);
    assert_eq!(
        hits(&f),
        [
            ("elf-hidden", "tmp/.s/su"),
            ("setuid-known", "usr/bin/passwd"),
            ("setuid-known", "usr/sbin/unix_chkpwd"),
            ("setuid-shell", "usr/bin/bash"),
            ("setuid-shell", "usr/bin/python3.11"),
            ("setuid-temp-or-hidden", "tmp/.s/su"),
            ("setuid-unlisted", "usr/lib/foo/helper"),
            ("setuid-unusual-path", "home/app/bin/tool"),
        ]
    );
    let sev = |rule, path| find(&f, rule, path).severity;
    assert_eq!(sev("setuid-known", "usr/bin/passwd"), Severity::Info);
    assert_eq!(sev("setuid-shell", "usr/bin/bash"), Severity::High);
    assert_eq!(sev("setuid-temp-or-hidden", "tmp/.s/su"), Severity::High);
    assert_eq!(sev("setuid-unlisted", "usr/lib/foo/helper"), Severity::Low);
    assert_eq!(
        sev("setuid-unusual-path", "home/app/bin/tool"),
        Severity::Medium
    );
    let e = &find(&f, "setuid-known", "usr/sbin/unix_chkpwd").evidence;
    assert!(e.starts_with("setgid, mode 2755"), "{e}");
    let e = &find(&f, "setuid-unusual-path", "home/app/bin/tool").evidence;
    assert!(e.starts_with("setuid and setgid, mode 6755"), "{e}");
}

#[test]
fn archive_members_are_placed_by_their_inner_path() {
    // A root filesystem tarball holds Debian's setuid programs: not a finding while packed.
    let bb = busybox();
    let mut tar = tar::Builder::new(Vec::new());
    for (path, mode) in [
        ("usr/bin/passwd", 0o4755),
        ("home/app/tool", 0o4755),
        ("usr/sbin/sshd", 0o755),
        ("usr/bin/bash", 0o4755),
        ("tmp/.x/kworker", 0o755),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(bb.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        tar.append_data(&mut h, path, &bb[..]).unwrap();
    }
    let tar = tar.into_inner().unwrap();
    let f = scan(vec![file("root/rootfs.tar", &tar, 0o644)]);
    // What is suspicious wherever the tarball is unpacked is still found.
    assert_eq!(
        hits(&f),
        [
            ("elf-hidden", "root/rootfs.tar!/tmp/.x/kworker"),
            ("kernel-thread-name", "root/rootfs.tar!/tmp/.x/kworker"),
            ("setuid-shell", "root/rootfs.tar!/usr/bin/bash"),
        ]
    );
}

/// The upx tool: the copy `tools/fetch-test-binaries.sh` puts in target/test-binaries (from
/// bookworm-backports' upx-ucl), else one on PATH.
fn upx_tool() -> Option<PathBuf> {
    let fetched = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-binaries/upx");
    [fetched, "upx".into(), "upx-ucl".into()]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// `upx` from Debian's upx-ucl package packs a copy of busybox; `None` when skipped.
fn upx_packed_busybox() -> Option<Vec<u8>> {
    let Some(upx) = upx_tool() else {
        if std::env::var_os("CUSTOMS_SKIP_UPX").is_some() {
            eprintln!("SKIPPED: no upx (CUSTOMS_SKIP_UPX is set)");
            return None;
        }
        panic!(
            "no `upx`: run tools/fetch-test-binaries.sh (or install Debian's upx-ucl), or set CUSTOMS_SKIP_UPX=1"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let (plain, packed) = (dir.path().join("bb"), dir.path().join("bb.upx"));
    std::fs::write(&plain, busybox()).unwrap();
    // upx refuses files without an execute bit.
    std::fs::set_permissions(&plain, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new(upx)
        .args(["-q", "-o"])
        .arg(&packed)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(std::fs::read(&packed).unwrap())
}

#[test]
fn upx_packed() {
    let Some(packed) = upx_packed_busybox() else {
        return;
    };
    let f = scan(vec![file("usr/local/bin/tool", &packed, 0o755)]);
    assert_eq!(hits(&f), [("elf-upx-packed", "usr/local/bin/tool")]);
    assert_eq!(
        (f[0].severity, f[0].attack.as_slice()),
        (Severity::Medium, &["T1027.002".to_string()][..])
    );
    assert!(
        f[0].evidence.contains("after the program headers"),
        "{}",
        f[0].evidence
    );
    // Near miss: the upx tool itself holds `UPX!` strings in its data but is not packed.
    let tool = upx_tool()
        .and_then(|p| std::fs::read(which(&p)).ok())
        .expect("upx ran, so its binary is there");
    let f = scan(vec![file("usr/bin/upx-ucl", &tool, 0o755)]);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn upx_section_names() {
    // Packers derived from UPX name their sections UPX0/UPX1; rename busybox's section-name
    // table entry `.shstrtab` to `UPX0` to get one.
    let mut bb = busybox();
    let at = bb
        .windows(10)
        .position(|w| w == b".shstrtab\0")
        .expect("busybox has section headers");
    bb[at..at + 5].copy_from_slice(b"UPX0\0");
    let f = scan(vec![file("usr/local/bin/tool", &bb, 0o755)]);
    assert_eq!(hits(&f), [("elf-upx-packed", "usr/local/bin/tool")]);
    assert!(
        f[0].evidence.contains("UPX section names UPX0"),
        "{}",
        f[0].evidence
    );
    // Near miss: the same bytes elsewhere in the file (a string in the data) are no section.
    let mut bb = busybox();
    bb.extend_from_slice(b"UPX0 UPX1 UPX!");
    bb.extend_from_slice(&[0u8; 100]);
    let f = scan(vec![file("usr/local/bin/tool", &bb, 0o755)]);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn packed_without_markers() {
    let Some(mut packed) = upx_packed_busybox() else {
        return;
    };
    // What miners do to stop `upx -d` and marker checks: overwrite every `UPX!`.
    let mut scrubbed = 0;
    for i in 0..packed.len().saturating_sub(3) {
        if &packed[i..i + 4] == b"UPX!" {
            packed[i..i + 4].copy_from_slice(b"\0\0\0\0");
            scrubbed += 1;
        }
    }
    assert!(scrubbed >= 2, "upx wrote its markers");
    let f = scan(vec![file("usr/local/bin/tool", &packed, 0o755)]);
    assert_eq!(
        hits(&f),
        [("elf-packed-high-entropy", "usr/local/bin/tool")]
    );
    assert_eq!(f[0].severity, Severity::Medium);
    assert!(
        f[0].evidence
            .contains("no section headers, 0 dynamic symbols"),
        "{}",
        f[0].evidence
    );
    // Near miss: an ELF with its section headers intact and compressed data appended (as
    // self-extracting archives and gconv tables have) is not flagged, however random.
    let mut bb = busybox();
    let mut state = [7u8; 32];
    while bb.len() < 12 << 20 {
        state = sha2::Sha256::digest(state).into();
        bb.extend_from_slice(&state);
    }
    let f = scan(vec![file("usr/local/bin/sfx", &bb, 0o755)]);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn debian_rootfs_has_no_findings_at_medium_or_above() {
    for root in customs_test_support::real_inputs::clean_roots() {
        let (findings, files) = scan_target(&Target::Dir { path: root.clone() });
        let ours: Vec<&Finding> = findings
            .iter()
            .filter(|f| {
                EXECUTABLE_RULES.contains(&f.rule.as_str())
                    || ACCOUNT_RULES.contains(&f.rule.as_str())
            })
            .collect();
        let line = |f: &&Finding| {
            format!(
                "{} {} {} {}",
                f.severity,
                f.rule,
                f.path.as_deref().unwrap_or(""),
                f.evidence
            )
        };
        let serious: Vec<String> = ours
            .iter()
            .filter(|f| f.severity >= Severity::Medium)
            .map(line)
            .collect();
        eprintln!(
            "{}: {files} files, {} findings of these analyzers, {} at medium+",
            root.display(),
            ours.len(),
            serious.len()
        );
        for f in &ours {
            eprintln!("  {}", line(f));
        }
        assert!(
            files > 1000,
            "only {files} files read under {}",
            root.display()
        );
        // The harness sees real modes: Debian's setuid programs are there, and known.
        let passwd = root.join("usr/bin/passwd");
        if passwd.is_file() {
            assert!(
                ours.iter().any(
                    |f| f.rule == "setuid-known" && f.path.as_deref() == Some("usr/bin/passwd")
                ),
                "usr/bin/passwd was not seen as setuid"
            );
        }
        assert!(
            serious.is_empty(),
            "false positives at medium+ under {}:\n{}",
            root.display(),
            serious.join("\n")
        );
    }
}

/// A command name resolved along PATH; a path is returned as is.
fn which(p: &Path) -> PathBuf {
    if p.components().count() > 1 {
        return p.to_path_buf();
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(p))
        .find(|c| c.is_file())
        .unwrap_or_else(|| p.to_path_buf())
}
