//! The `accounts` analyzer on images built by the fixture code: for every rule one sample
//! that must match and one near miss that must not, scanned through the real driver.

use base64::Engine as _;
use customs_analyze::{Analyzers, ScanOptions, scan_image};
use customs_core::{Finding, Severity};
use customs_image::walk::NoProgress;
use customs_image::{OpenOptions, Target, open};
use customs_test_support::fixtures::{Entry, ImageSpec, LayerSpec, write_oci_layout};
use sha2::{Digest as _, Sha256};

/// Every rule of the analyzer, so other analyzers' findings don't interfere.
const RULES: &[&str] = &[
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

/// The analyzer's findings on a one-layer image holding `files`.
fn scan(files: &[(&str, &str)]) -> Vec<Finding> {
    let files: Vec<(&str, Vec<u8>)> = files
        .iter()
        .map(|(p, d)| (*p, d.as_bytes().to_vec()))
        .collect();
    scan_bytes(&files)
}

fn scan_bytes(files: &[(&str, Vec<u8>)]) -> Vec<Finding> {
    let entries = files
        .iter()
        .map(|(p, d)| Entry::file(*p, d.clone()))
        .collect();
    let spec = ImageSpec::new(vec![LayerSpec::new(entries)]);
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &[("latest", &spec)]).unwrap();
    let target = Target::Oci {
        path: dir.path().to_path_buf(),
        tag: None,
    };
    let images = open(&target, &OpenOptions::default()).unwrap();
    let analyzers = Analyzers::builtin().unwrap();
    let outcome = scan_image(&images[0], &analyzers, &ScanOptions::default(), &NoProgress);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    outcome
        .findings
        .into_iter()
        .filter(|f| RULES.contains(&f.rule.as_str()))
        .collect()
}

fn rules(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule.as_str()).collect()
}

fn only<'a>(findings: &'a [Finding], rule: &str) -> &'a Finding {
    assert_eq!(rules(findings), [rule], "{findings:#?}");
    &findings[0]
}

#[test]
fn ld_so_preload() {
    let f = scan(&[(
        "etc/ld.so.preload",
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n",
    )]);
    let f = only(&f, "ld-so-preload");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.attack, ["T1574.006"]);
    assert!(f.evidence.contains("libjemalloc.so.2"), "{}", f.evidence);
    // Near miss: an empty file (comments only) preloads nothing.
    assert!(scan(&[("etc/ld.so.preload", "# nothing\n\n")]).is_empty());
}

#[test]
fn ld_so_preload_from_a_dropper_place() {
    for entry in [
        "/tmp/.x/libhide.so",
        "/dev/shm/l.so",
        "/etc/libx.so",
        "libx.so",
    ] {
        let f = scan(&[("etc/ld.so.preload", &format!("{entry}\n"))]);
        let f = only(&f, "ld-so-preload-untrusted-path");
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.evidence.contains(entry), "{}", f.evidence);
    }
    // Near miss: the same name in a library directory is only the plain preload rule, and a
    // file of the same name elsewhere is not read by the linker at all.
    let f = scan(&[("etc/ld.so.preload", "/usr/local/lib/libhide.so")]);
    only(&f, "ld-so-preload");
    assert!(scan(&[("usr/share/doc/x/ld.so.preload", "/tmp/x.so\n")]).is_empty());
}

/// A well-formed ssh-ed25519 public key blob (type string, then 32 key bytes), base64.
fn ed25519_key() -> (String, String) {
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    blob.extend_from_slice(&[0x5a; 32]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&blob);
    let fp = base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(&blob));
    (b64, format!("SHA256:{fp}"))
}

#[test]
fn authorized_keys_for_root() {
    let (key, fp) = ed25519_key();
    let f = scan(&[(
        "root/.ssh/authorized_keys",
        &format!("# added\nssh-ed25519 {key} mallory@example.org\n"),
    )]);
    let f = only(&f, "authorized-keys-root");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.attack, ["T1098.004"]);
    assert!(f.evidence.contains(&fp), "{}", f.evidence);
    assert!(f.evidence.contains("mallory@example.org"), "{}", f.evidence);
    assert!(
        !f.evidence.contains(&key),
        "the key itself leaked: {}",
        f.evidence
    );
    // Near miss: comments only, or a key that does not decode, is no authorized key.
    assert!(scan(&[("root/.ssh/authorized_keys", "# keys go here\n")]).is_empty());
    assert!(scan(&[("root/.ssh/authorized_keys", "ssh-ed25519 not*base64 x\n")]).is_empty());
}

#[test]
fn authorized_keys_for_a_user() {
    let (key, fp) = ed25519_key();
    let line = format!("command=\"/bin/sh -c 'id'\",no-pty ssh-ed25519 {key}\n");
    let f = scan(&[("home/deploy/.ssh/authorized_keys2", &line)]);
    let f = only(&f, "authorized-keys-user");
    assert_eq!(f.severity, Severity::Medium);
    assert!(f.evidence.contains(&fp), "{}", f.evidence);
    assert!(f.evidence.contains("command="), "{}", f.evidence);
    // A home directory backup in the image still ships the key, with root's severity.
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(line.len() as u64);
    h.set_mode(0o600);
    h.set_cksum();
    tar.append_data(&mut h, "root/.ssh/authorized_keys", line.as_bytes())
        .unwrap();
    let tar = tar.into_inner().unwrap();
    let spec_files = [("var/backups/home.tar", tar)];
    let f = scan_bytes(&spec_files);
    assert_eq!(
        only(&f, "authorized-keys-root").path.as_deref(),
        Some("var/backups/home.tar!/root/.ssh/authorized_keys")
    );
    // Near miss: a file of that name that sshd never reads (test data in a package).
    assert!(
        scan(&[(
            "usr/lib/python3/dist-packages/x/tests/authorized_keys",
            &line
        )])
        .is_empty()
    );
}

/// The directive lines of Debian bookworm's openssh-server `sshd_config`, with some of its
/// commented-out defaults (the FP harness scans the real file).
const DEBIAN_SSHD: &str = "Include /etc/ssh/sshd_config.d/*.conf\n\
    #Port 22\n\
    #PermitRootLogin prohibit-password\n\
    #AuthorizedKeysFile\t.ssh/authorized_keys .ssh/authorized_keys2\n\
    #PasswordAuthentication yes\n\
    #PermitEmptyPasswords no\n\
    KbdInteractiveAuthentication no\n\
    UsePAM yes\n\
    X11Forwarding yes\n\
    PrintMotd no\n\
    AcceptEnv LANG LC_*\n\
    Subsystem\tsftp\t/usr/lib/openssh/sftp-server\n";

#[test]
fn sshd_root_login() {
    assert!(scan(&[("etc/ssh/sshd_config", DEBIAN_SSHD)]).is_empty());
    let weak = format!("{DEBIAN_SSHD}PermitRootLogin yes\n");
    let f = scan(&[("etc/ssh/sshd_config", &weak)]);
    let f = only(&f, "sshd-permit-root-login");
    assert_eq!(f.severity, Severity::Medium);
    assert!(
        f.evidence.contains("line 13: PermitRootLogin yes"),
        "{}",
        f.evidence
    );
    // Near misses: passwords off, or an earlier value that sshd keeps.
    let keys_only = format!("PasswordAuthentication no\n{weak}");
    assert!(scan(&[("etc/ssh/sshd_config", &keys_only)]).is_empty());
    let first_wins = format!("PermitRootLogin prohibit-password\n{weak}");
    assert!(scan(&[("etc/ssh/sshd_config", &first_wins)]).is_empty());
}

#[test]
fn sshd_empty_passwords() {
    let f = scan(&[(
        "etc/ssh/sshd_config.d/10-x.conf",
        "PermitEmptyPasswords yes\n",
    )]);
    assert_eq!(
        only(&f, "sshd-permit-empty-passwords").severity,
        Severity::High
    );
    // Near miss: not included by `sshd_config.d/*.conf`, or commented out.
    assert!(
        scan(&[(
            "etc/ssh/sshd_config.d/10-x.conf.off",
            "PermitEmptyPasswords yes\n"
        )])
        .is_empty()
    );
    assert!(
        scan(&[(
            "etc/ssh/sshd_config.d/10-x.conf",
            "#PermitEmptyPasswords yes\n"
        )])
        .is_empty()
    );
}

#[test]
fn sshd_authorized_keys_location() {
    let f = scan(&[(
        "etc/ssh/sshd_config",
        "AuthorizedKeysFile .ssh/authorized_keys /var/tmp/.k\n",
    )]);
    let f = only(&f, "sshd-authorized-keys-location");
    assert!(f.evidence.contains("/var/tmp/.k"), "{}", f.evidence);
    let f = scan(&[(
        "etc/ssh/sshd_config",
        "AuthorizedKeysCommand /dev/shm/keys %u\nAuthorizedKeysCommandUser nobody\n",
    )]);
    only(&f, "sshd-authorized-keys-location");
    // Near miss: the defaults, and per-user files under /etc/ssh.
    for ok in [
        "AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2\n",
        "AuthorizedKeysFile /etc/ssh/authorized_keys/%u %h/.ssh/authorized_keys\n",
        "AuthorizedKeysCommand /usr/share/ec2-instance-connect/eic_run_authorized_keys %u %f\n",
    ] {
        assert!(scan(&[("etc/ssh/sshd_config", ok)]).is_empty(), "{ok}");
    }
}

#[test]
fn sshd_port() {
    let f = scan(&[("etc/ssh/sshd_config", "Port 22\nPort 2222\n")]);
    let f = only(&f, "sshd-nondefault-port");
    assert_eq!(f.severity, Severity::Info);
    assert!(f.evidence.contains("2222"), "{}", f.evidence);
    assert!(scan(&[("etc/ssh/sshd_config", "Port 22\n")]).is_empty());
}

/// The directive lines of Debian bookworm's sudo package `/etc/sudoers`.
const DEBIAN_SUDOERS: &str = "Defaults\tenv_reset\n\
    Defaults\tmail_badpass\n\
    Defaults\tsecure_path=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\n\
    Defaults\tuse_pty\n\
    root\tALL=(ALL:ALL) ALL\n\
    %sudo\tALL=(ALL:ALL) ALL\n\
    @includedir /etc/sudoers.d\n";

#[test]
fn sudo_nopasswd_for_everyone() {
    let f = scan(&[
        ("etc/sudoers", DEBIAN_SUDOERS),
        (
            "etc/sudoers.d/README",
            "# Files in this directory are read by sudo.\n#includedir is old syntax\n",
        ),
        ("etc/sudoers.d/zz", "ALL ALL=(ALL) NOPASSWD: ALL\n"),
    ]);
    let f = only(&f, "sudo-nopasswd-all-users");
    assert_eq!(
        (f.severity, f.path.as_deref()),
        (Severity::High, Some("etc/sudoers.d/zz"))
    );
    assert_eq!(f.attack, ["T1548.003"]);
    // Near miss: Debian's own sudoers and README.
    assert!(
        scan(&[
            ("etc/sudoers", DEBIAN_SUDOERS),
            (
                "etc/sudoers.d/README",
                "# Files in this directory are read by sudo.\n"
            ),
        ])
        .is_empty()
    );
}

#[test]
fn sudo_nopasswd_for_a_user() {
    let f = scan(&[(
        "etc/sudoers.d/deploy",
        "deploy ALL=(ALL:ALL) NOPASSWD:ALL\n",
    )]);
    assert_eq!(only(&f, "sudo-nopasswd-all").severity, Severity::Medium);
    let f = scan(&[("etc/sudoers", "%wheel ALL=(ALL) NOPASSWD: /bin/true, ALL\n")]);
    only(&f, "sudo-nopasswd-all");
    // Near misses: one command only, root itself, a password required again, and a file
    // sudo skips because its name has a dot.
    for (path, text) in [
        (
            "etc/sudoers.d/deploy",
            "deploy ALL=(root) NOPASSWD: /usr/bin/systemctl restart app\n",
        ),
        ("etc/sudoers.d/deploy", "root ALL=(ALL) NOPASSWD: ALL\n"),
        (
            "etc/sudoers.d/deploy",
            "deploy ALL=(ALL) NOPASSWD: /bin/ls, PASSWD: ALL\n",
        ),
        (
            "etc/sudoers.d/deploy.dpkg-old",
            "deploy ALL=(ALL) NOPASSWD: ALL\n",
        ),
    ] {
        assert!(scan(&[(path, text)]).is_empty(), "{path}: {text}");
    }
}

/// The directive lines of Debian bookworm's `/etc/pam.d/common-auth` (libpam-runtime).
const DEBIAN_COMMON_AUTH: &str = "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n\
    auth\trequisite\t\t\tpam_deny.so\n\
    auth\trequired\t\t\tpam_permit.so\n";

#[test]
fn pam_permit_sufficient() {
    let backdoored = format!("auth sufficient pam_permit.so\n{DEBIAN_COMMON_AUTH}");
    let f = scan(&[("etc/pam.d/common-auth", &backdoored)]);
    let f = only(&f, "pam-permit-auth");
    assert_eq!(f.attack, ["T1556.003"]);
    assert!(f.evidence.starts_with("line 1:"), "{}", f.evidence);
    let f = scan(&[(
        "etc/pam.conf",
        "sshd auth [success=done default=die] pam_permit.so\n",
    )]);
    only(&f, "pam-permit-auth");
    // Near miss: Debian's common-auth and common-session use pam_permit harmlessly.
    assert!(
        scan(&[
            ("etc/pam.d/common-auth", DEBIAN_COMMON_AUTH),
            (
                "etc/pam.d/common-session",
                "session\t[default=1]\t\t\tpam_permit.so\n"
            ),
            ("etc/pam.d/su", "auth       sufficient pam_rootok.so\n"),
        ])
        .is_empty()
    );
}

#[test]
fn pam_module_outside_libdir() {
    let f = scan(&[(
        "etc/pam.d/sshd",
        "auth sufficient /usr/share/.cache/pam_unix2.so\n",
    )]);
    assert_eq!(
        only(&f, "pam-module-outside-libdir").severity,
        Severity::High
    );
    let f = scan(&[("etc/pam.d/login", "auth required ../../tmp/pam_x.so\n")]);
    only(&f, "pam-module-outside-libdir");
    // Near miss: absolute paths into the module directories, $ISA included.
    assert!(
        scan(&[(
            "etc/pam.d/sshd",
            "auth required /lib/x86_64-linux-gnu/security/pam_unix.so\n\
         account required /lib/security/$ISA/pam_unix.so\n\
         session optional pam_mail.so standard noenv # [1]\n",
        )])
        .is_empty()
    );
}

#[test]
fn pam_exec() {
    let f = scan(&[(
        "etc/pam.d/common-auth",
        "auth optional pam_exec.so quiet expose_authtok /tmp/.p/log.sh\n",
    )]);
    let f = only(&f, "pam-exec-untrusted-path");
    assert!(f.evidence.contains("in /tmp"), "{}", f.evidence);
    let f = scan(&[(
        "etc/pam.d/common-auth",
        "auth optional pam_exec.so expose_authtok /usr/local/bin/check\n",
    )]);
    assert_eq!(
        only(&f, "pam-exec-expose-authtok").severity,
        Severity::Medium
    );
    // Near miss: pam_exec running an installed program without the password.
    assert!(
        scan(&[(
            "etc/pam.d/sshd",
            "session optional pam_exec.so log=/var/log/x /usr/local/bin/notify\n"
        )])
        .is_empty()
    );
}

/// Debian's base-passwd accounts, as a debootstrap minbase image has them.
const DEBIAN_PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
    daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
    sync:x:4:65534:sync:/bin:/bin/sync\n\
    nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const DEBIAN_SHADOW: &str = "root:*:20784:0:99999:7:::\n\
    daemon:*:20784:0:99999:7:::\n\
    sshd:!:20784::::::\n";

#[test]
fn extra_uid0() {
    let passwd = format!("{DEBIAN_PASSWD}toor:x:0:0::/root:/bin/bash\n");
    let f = scan(&[("etc/passwd", &passwd)]);
    let f = only(&f, "passwd-extra-uid0");
    assert_eq!((f.severity, f.attack.len()), (Severity::High, 2));
    assert!(f.evidence.contains("`toor`"), "{}", f.evidence);
    // Near miss: Debian's own, and a non-root account with a uid that merely starts with 0.
    let passwd = format!("{DEBIAN_PASSWD}app:x:01000:1000::/app:/bin/sh\n");
    assert!(scan(&[("etc/passwd", &passwd), ("etc/shadow", DEBIAN_SHADOW)]).is_empty());
}

#[test]
fn empty_passwords() {
    let passwd = format!("{DEBIAN_PASSWD}guest::1001:1001::/home/guest:/bin/bash\n");
    let f = scan(&[("etc/passwd", &passwd)]);
    assert!(
        only(&f, "account-empty-password")
            .evidence
            .contains("`guest`")
    );
    let shadow = format!("{DEBIAN_SHADOW}guest::19000:0:99999:7:::\n");
    let f = scan(&[("etc/shadow", &shadow)]);
    assert!(
        only(&f, "account-empty-password")
            .evidence
            .contains("line 4")
    );
    // Near miss: an empty field on an account that can not log in; locked hashes.
    let passwd = format!("{DEBIAN_PASSWD}svc::998:998::/:/usr/sbin/nologin\n");
    let shadow = format!("{DEBIAN_SHADOW}svc:!*:19000::::::\nold:!:19000::::::\n");
    assert!(scan(&[("etc/passwd", &passwd), ("etc/shadow", &shadow)]).is_empty());
}
