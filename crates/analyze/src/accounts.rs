//! Persistence and access by configuration: `/etc/ld.so.preload`, SSH keys shipped in the
//! image, a weakened `sshd_config`, sudoers rules without passwords, PAM stacks that let
//! anyone in, extra uid-0 accounts and empty passwords.
//!
//! Each file is parsed the way the program that reads it does (first value wins in
//! `sshd_config`, tags carry over in sudoers command lists, bracketed PAM controls), so
//! commented defaults and Debian's own files stay clean.

use base64::Engine as _;
use customs_core::{Confidence, Finding, Severity};
use customs_image::walk::{FileContent, FileEntry};
use sha2::{Digest as _, Sha256};

use crate::clip;
use crate::executables::dropper_location;
use crate::{FileAnalyzer, Rule, Wants};

const PRELOAD: Rule = Rule {
    id: "ld-so-preload",
    title: "/etc/ld.so.preload loads a library into every program",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1574.006"],
    description: "The dynamic linker loads every library listed in /etc/ld.so.preload into \
        every dynamically linked program, root's included. User-mode rootkits use it to hide \
        files and processes; no distribution ships the file. Benign uses (a memory allocator, \
        a time faker) are rare in images: check the library.",
};

const PRELOAD_DROPPER: Rule = Rule {
    id: "ld-so-preload-untrusted-path",
    title: "/etc/ld.so.preload loads a library from a dropper's place",
    severity: Severity::Critical,
    confidence: Confidence::High,
    attack: &["T1574.006"],
    description: "/etc/ld.so.preload names a library in a temporary or hidden directory, \
        outside every library directory, or by a relative path. Installed libraries never \
        live there; this is how LD_PRELOAD rootkits are installed.",
};

const KEYS_ROOT: Rule = Rule {
    id: "authorized-keys-root",
    title: "SSH key authorized for root shipped in the image",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1098.004"],
    description: "/root/.ssh/authorized_keys ships with the image: whoever holds the private \
        key can log in as root to every container or machine started from it. Keys belong in \
        runtime configuration, not in images.",
};

const KEYS_USER: Rule = Rule {
    id: "authorized-keys-user",
    title: "SSH authorized key shipped in the image",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &["T1098.004"],
    description: "An authorized_keys file with keys ships with the image: whoever holds the \
        private key can log in as that user to everything started from it.",
};

const SSHD_ROOT: Rule = Rule {
    id: "sshd-permit-root-login",
    title: "sshd allows root to log in with a password",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &["T1021.004", "T1098.004"],
    description: "`PermitRootLogin yes` while password (or keyboard-interactive) \
        authentication is on: root can log in over SSH with a password. OpenSSH and Debian \
        default to `prohibit-password`.",
};

const SSHD_EMPTY: Rule = Rule {
    id: "sshd-permit-empty-passwords",
    title: "sshd accepts empty passwords",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1021.004", "T1078.003"],
    description: "`PermitEmptyPasswords yes`: accounts without a password can log in over SSH \
        with none. No default configuration does this.",
};

const SSHD_KEYS_FILE: Rule = Rule {
    id: "sshd-authorized-keys-location",
    title: "sshd reads authorized keys from an unusual place",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &["T1098.004"],
    description: "`AuthorizedKeysFile` names one file shared by every account, a temporary or \
        hidden location, or a file outside `~/.ssh`; or `AuthorizedKeysCommand` runs a \
        program from a temporary or hidden location. Backdoors add a key file of their own \
        this way, where nobody looks.",
};

const SSHD_PORT: Rule = Rule {
    id: "sshd-nondefault-port",
    title: "sshd listens on a non-default port",
    severity: Severity::Info,
    confidence: Confidence::Low,
    attack: &["T1571"],
    description: "sshd is configured to listen on a port other than 22. Common hardening \
        folklore, also used to hide a backdoor listener; noted for context.",
};

const SUDO_ANYONE: Rule = Rule {
    id: "sudo-nopasswd-all-users",
    title: "sudo lets every user run anything without a password",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1548.003"],
    description: "A sudoers rule gives `ALL` users every command as root without a password \
        (`ALL ALL=(ALL) NOPASSWD: ALL` or `Defaults !authenticate`): any process that gets a \
        shell in the container is root.",
};

const SUDO_USER: Rule = Rule {
    id: "sudo-nopasswd-all",
    title: "sudo lets a user run anything without a password",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &["T1548.003"],
    description: "A sudoers rule gives a user or group other than root every command without \
        a password (`NOPASSWD: ALL`). Development images do this for convenience; backdoors \
        do it for the account they add. Check that the account is expected.",
};

const PAM_OUTSIDE: Rule = Rule {
    id: "pam-module-outside-libdir",
    title: "PAM loads a module from outside the PAM module directories",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1556.003"],
    description: "A PAM configuration line names a module by a path outside the system's PAM \
        module directories (`/lib/*/security`, `/usr/lib/*/security`, …). Packaged modules are \
        named relative to those; a module elsewhere sees every password typed at login.",
};

const PAM_PERMIT: Rule = Rule {
    id: "pam-permit-auth",
    title: "PAM lets anyone authenticate (pam_permit sufficient)",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1556.003"],
    description: "`pam_permit.so` always succeeds; as a `sufficient` (or `success=done`) \
        module in an `auth` stack it lets any password, or none, through. Debian uses it only \
        as `required` after `pam_deny`, where it changes nothing.",
};

const PAM_EXEC_TEMP: Rule = Rule {
    id: "pam-exec-untrusted-path",
    title: "PAM runs a program from a temporary or hidden place",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1556.003"],
    description: "`pam_exec.so` runs a program in a temporary or hidden directory at every \
        login or password change, as root. No package configures this.",
};

const PAM_EXEC_AUTHTOK: Rule = Rule {
    id: "pam-exec-expose-authtok",
    title: "PAM hands passwords to a program",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &["T1556.003"],
    description: "`pam_exec.so expose_authtok` gives the password being typed to a program on \
        its standard input. Rarely needed; a simple way to harvest credentials.",
};

const UID0: Rule = Rule {
    id: "passwd-extra-uid0",
    title: "Account other than root with uid 0",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1136.001", "T1078.003"],
    description: "An account other than root has uid 0 in /etc/passwd: it is root under \
        another name, a classic backdoor account. Debian, Alpine and Fedora ship none.",
};

const EMPTY_PASSWORD: Rule = Rule {
    id: "account-empty-password",
    title: "Account with an empty password",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1078.003"],
    description: "An account's password field is empty (not `*`, `!` or `x`, which lock it \
        or defer to /etc/shadow): anyone may log in as it, or `su` to it, with no password \
        (Debian's PAM allows empty passwords with `nullok`). In /etc/passwd only accounts \
        with a login shell are flagged; /etc/shadow does not name the shell, so every empty \
        hash is.",
};

/// Line-oriented configuration files are small; a larger one is read on its first MiB and
/// listed as partial in the report.
const CONFIG_BYTES: usize = 1 << 20;

/// Accounts, SSH, sudo, PAM and preload configuration.
pub(crate) struct Accounts;

impl FileAnalyzer for Accounts {
    fn id(&self) -> &'static str {
        "accounts"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self) -> Wants {
        Wants {
            paths: vec![
                "etc/ld.so.preload",
                "etc/passwd",
                "etc/shadow",
                "etc/ssh/sshd_config",
                "etc/ssh/sshd_config.d/*",
                "etc/sudoers",
                "etc/sudoers.d/*",
                "etc/pam.conf",
                "etc/pam.d/*",
                "**/authorized_keys",
                "**/authorized_keys2",
            ],
            max_size: None,
            bytes: CONFIG_BYTES,
            whole: true,
        }
    }
    fn analyze(&self, entry: &FileEntry, content: &FileContent<'_>, out: &mut Vec<Finding>) {
        let text = String::from_utf8_lossy(content.data);
        let path = entry.path.as_str();
        let name = path.rsplit('/').next().unwrap_or(path);
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        let found = match (dir, name) {
            ("etc", "ld.so.preload") => preload(&text),
            ("etc", "passwd") => passwd(&text),
            ("etc", "shadow") => shadow(&text),
            ("etc/ssh", "sshd_config") => sshd(&text),
            // Debian's `Include /etc/ssh/sshd_config.d/*.conf` reads only these.
            ("etc/ssh/sshd_config.d", n) if n.ends_with(".conf") => sshd(&text),
            ("etc", "sudoers") => sudoers(&text),
            // sudo's @includedir skips names that contain a dot or end in `~`.
            ("etc/sudoers.d", n) if !n.contains('.') && !n.ends_with('~') => sudoers(&text),
            ("etc", "pam.conf") => pam(&text, true),
            ("etc/pam.d", _) => pam(&text, false),
            (_, "authorized_keys" | "authorized_keys2") => authorized_keys(path, &text),
            _ => Vec::new(),
        };
        out.extend(
            found
                .into_iter()
                .map(|(rule, evidence)| rule.finding(Some(path), evidence)),
        );
    }
}

type Found = Vec<(&'static Rule, String)>;

/// Lines without `#` comments and blanks, numbered from 1.
fn config_lines(text: &str) -> Vec<(usize, String)> {
    logical_lines(text, false)
        .into_iter()
        .filter(|(_, l)| !l.starts_with('#'))
        .collect()
}

/// Non-blank lines, numbered from 1, backslash continuations joined when asked.
fn logical_lines(text: &str, continuation: bool) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (n, mut line) = match pending.take() {
            Some((n, mut acc)) => {
                acc.push(' ');
                acc.push_str(raw.trim());
                (n, acc)
            }
            None => (i + 1, raw.trim().to_string()),
        };
        if continuation && line.ends_with('\\') {
            line.pop();
            pending = Some((n, line));
            continue;
        }
        if !line.is_empty() {
            out.push((n, line));
        }
    }
    out.extend(pending.filter(|(_, l)| !l.is_empty()));
    out
}

fn preload(text: &str) -> Found {
    // glibc splits the file on whitespace and colons.
    let entries: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == ':'))
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() {
        return Vec::new();
    }
    let bad: Vec<String> = entries
        .iter()
        .filter_map(|e| {
            dropper_location(e)
                .or_else(|| (!in_library_dir(e)).then(|| "outside library directories".into()))
                .map(|why| format!("`{}` ({why})", clip(e)))
        })
        .collect();
    let all = entries
        .iter()
        .take(5)
        .map(|e| format!("`{}`", clip(e)))
        .collect::<Vec<_>>()
        .join(", ");
    if bad.is_empty() {
        vec![(
            &PRELOAD,
            format!("{} entr{}: {all}", entries.len(), plural_y(entries.len())),
        )]
    } else {
        vec![(&PRELOAD_DROPPER, format!("preloads {}", bad.join(", ")))]
    }
}

fn plural_y(n: usize) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}

/// Whether an absolute library path lies in a directory the dynamic linker or packages use
/// for libraries.
fn in_library_dir(path: &str) -> bool {
    let p = path.trim_start_matches('/');
    [
        "lib/",
        "lib32/",
        "lib64/",
        "libx32/",
        "usr/lib/",
        "usr/lib32/",
        "usr/lib64/",
    ]
    .iter()
    .chain(&["usr/libx32/", "usr/local/lib/", "opt/"])
    .any(|d| p.starts_with(d))
}

fn passwd(text: &str) -> Found {
    let mut found = Found::new();
    for (n, line) in config_lines(text) {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || f[0].starts_with(['+', '-']) {
            continue;
        }
        let (user, pw, uid, shell) = (f[0], f[1], f[2].trim(), f[6].trim());
        if user != "root" && uid.parse::<u64>() == Ok(0) {
            found.push((
                &UID0,
                format!("line {n}: account `{}` has uid 0", clip(user)),
            ));
        }
        if pw.is_empty() && login_shell(shell) {
            found.push((
                &EMPTY_PASSWORD,
                format!(
                    "line {n}: account `{}` has an empty password field and shell `{}`",
                    clip(user),
                    clip(if shell.is_empty() { "/bin/sh" } else { shell })
                ),
            ));
        }
    }
    found
}

/// Whether a passwd shell lets the account log in (an empty field means `/bin/sh`).
fn login_shell(shell: &str) -> bool {
    let name = shell.rsplit('/').next().unwrap_or(shell);
    !matches!(name, "nologin" | "false" | "sync" | "shutdown" | "halt")
}

fn shadow(text: &str) -> Found {
    config_lines(text)
        .into_iter()
        .filter_map(|(n, line)| {
            let mut f = line.split(':');
            let user = f.next()?;
            let hash = f.next()?;
            hash.is_empty().then(|| {
                (
                    &EMPTY_PASSWORD,
                    format!(
                        "line {n}: account `{}` has an empty password hash",
                        clip(user)
                    ),
                )
            })
        })
        .collect()
}

/// The first value of each keyword in one section of sshd_config (the global part, or one
/// `Match` block): sshd keeps the first value it reads.
#[derive(Default)]
struct SshdSection {
    label: Option<String>,
    values: Vec<(String, usize, String)>,
}

impl SshdSection {
    fn get(&self, key: &str) -> Option<(usize, &str)> {
        self.values
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, n, v)| (*n, v.as_str()))
    }
}

fn sshd(text: &str) -> Found {
    let mut sections = vec![SshdSection::default()];
    let mut ports = Vec::new();
    for (n, line) in config_lines(text) {
        // A word starting with `#` starts a comment.
        let line = match line.find(" #") {
            Some(i) => line[..i].trim_end().to_string(),
            None => line,
        };
        let (key, value) = match line.split_once(|c: char| c.is_whitespace() || c == '=') {
            Some((k, v)) => (
                k.to_ascii_lowercase(),
                v.trim_start_matches(|c: char| c.is_whitespace() || c == '=')
                    .trim(),
            ),
            None => (line.to_ascii_lowercase(), ""),
        };
        let value = value.to_string();
        if key == "match" {
            sections.push(SshdSection {
                label: Some(value),
                values: Vec::new(),
            });
            continue;
        }
        if key == "port" && sections.len() == 1 {
            ports.push((n, value.clone()));
        }
        let section = sections
            .last_mut()
            .expect("the global section is always there");
        if section.get(&key).is_none() {
            section.values.push((key, n, value));
        }
    }
    let global = &sections[0];
    let mut found = Found::new();
    for s in &sections {
        let within = s
            .label
            .as_ref()
            .map_or(String::new(), |l| format!(" (in `Match {}`)", clip(l)));
        let get = |key: &str| s.get(key).or_else(|| global.get(key));
        let word = |v: &str, w: &str| {
            v.split_whitespace()
                .next()
                .is_some_and(|x| x.eq_ignore_ascii_case(w))
        };
        let yes = |v: &str| word(v, "yes");
        if let Some((n, v)) = s.get("permitrootlogin").filter(|(_, v)| yes(v)) {
            let password = get("passwordauthentication");
            let kbd = get("kbdinteractiveauthentication")
                .or_else(|| get("challengeresponseauthentication"));
            let password_on = password.is_none_or(|(_, v)| !word(v, "no"));
            if password_on || kbd.is_some_and(|(_, v)| yes(v)) {
                let how = match (password_on, password, kbd) {
                    (true, Some((m, p)), _) => {
                        format!("PasswordAuthentication {} (line {m})", clip(p))
                    }
                    (true, None, _) => {
                        "PasswordAuthentication not set (OpenSSH default: yes)".into()
                    }
                    (_, _, Some((m, k))) => {
                        format!("KbdInteractiveAuthentication {} (line {m})", clip(k))
                    }
                    (false, _, None) => unreachable!("keyboard-interactive is on"),
                };
                found.push((
                    &SSHD_ROOT,
                    format!("line {n}: PermitRootLogin {}{within}; {how}", clip(v)),
                ));
            }
        }
        if let Some((n, v)) = s.get("permitemptypasswords").filter(|(_, v)| yes(v)) {
            found.push((
                &SSHD_EMPTY,
                format!("line {n}: PermitEmptyPasswords {}{within}", clip(v)),
            ));
        }
        if let Some((n, v)) = s.get("authorizedkeysfile") {
            let odd: Vec<String> = v
                .split_whitespace()
                .filter_map(|f| odd_keys_file(f).map(|why| format!("`{}` ({why})", clip(f))))
                .collect();
            if !odd.is_empty() {
                found.push((
                    &SSHD_KEYS_FILE,
                    format!("line {n}: AuthorizedKeysFile {}{within}", odd.join(", ")),
                ));
            }
        }
        if let Some((n, v)) = s.get("authorizedkeyscommand") {
            let program = v.split_whitespace().next().unwrap_or("");
            if let Some(why) = dropper_location(program).filter(|_| program != "none") {
                found.push((
                    &SSHD_KEYS_FILE,
                    format!(
                        "line {n}: AuthorizedKeysCommand `{}` ({why}){within}",
                        clip(program)
                    ),
                ));
            }
        }
    }
    for (n, port) in ports {
        if port != "22" {
            found.push((&SSHD_PORT, format!("line {n}: Port {}", clip(&port))));
        }
    }
    found
}

/// Why an `AuthorizedKeysFile` entry is unusual. Relative entries and `%h/` are relative to
/// the home directory; absolute ones are fine when they name a per-user file.
fn odd_keys_file(f: &str) -> Option<String> {
    if f.eq_ignore_ascii_case("none") {
        return None;
    }
    let in_home = f.strip_prefix("%h/").or((!f.starts_with('/')).then_some(f));
    if let Some(rel) = in_home {
        return (!rel.starts_with(".ssh/")).then(|| "outside ~/.ssh".into());
    }
    // `.ssh` directories are where keys belong; any other hidden or temporary place is not.
    let without_ssh = f.replace("/.ssh/", "/ssh/");
    if let Some(why) = dropper_location(&without_ssh) {
        return Some(why);
    }
    (!["%u", "%U", "%h"].iter().any(|t| f.contains(t))).then(|| "one file for every account".into())
}

const SUDO_TAGS: &[&str] = &[
    "NOPASSWD",
    "PASSWD",
    "NOEXEC",
    "EXEC",
    "SETENV",
    "NOSETENV",
    "LOG_INPUT",
    "NOLOG_INPUT",
    "LOG_OUTPUT",
    "NOLOG_OUTPUT",
    "MAIL",
    "NOMAIL",
    "FOLLOW",
    "NOFOLLOW",
    "INTERCEPT",
    "NOINTERCEPT",
];

fn sudoers(text: &str) -> Found {
    let mut found = Found::new();
    for (n, line) in logical_lines(text, true) {
        let line = strip_sudo_comment(&line);
        let word = line.split_whitespace().next().unwrap_or("");
        if let Some(scope) = word.strip_prefix("Defaults") {
            // `Defaults[:users] !authenticate` turns passwords off for those users.
            let off = line[word.len()..]
                .split(',')
                .any(|o| o.trim() == "!authenticate");
            // Scopes: `:users`, `@hosts`, `>runas`, `!commands`; only a user scope narrows
            // who gets in.
            if off && scope.starts_with(':') {
                if !only_root(&scope[1..]) {
                    found.push((&SUDO_USER, format!("line {n}: `{}`", clip(line))));
                }
            } else if off && !scope.starts_with('!') {
                found.push((&SUDO_ANYONE, format!("line {n}: `{}`", clip(line))));
            }
            continue;
        }
        if word.starts_with('@')
            || word.ends_with("_Alias")
            || word == "Cmd_Alias"
            || !line.contains('=')
        {
            continue;
        }
        let (who, rest) = line.split_once('=').expect("checked above");
        // `alice, bob  ALL = …`: users, then hosts.
        let who = who.replace(", ", ",").replace(" ,", ",");
        let users = who.split_whitespace().next().unwrap_or("");
        if only_root(users) || !nopasswd_all(rest) {
            continue;
        }
        let rule = if users.split(',').any(|u| u.trim() == "ALL") {
            &SUDO_ANYONE
        } else {
            &SUDO_USER
        };
        found.push((rule, format!("line {n}: `{}`", clip(line))));
    }
    found
}

/// sudoers comments start at `#` unless it begins a uid (`#0`) or an `#include` directive.
fn strip_sudo_comment(line: &str) -> &str {
    if line.starts_with("#include") {
        return "";
    }
    let b = line.as_bytes();
    let cut = (0..b.len()).find(|&i| b[i] == b'#' && !b.get(i + 1).is_some_and(u8::is_ascii_digit));
    line[..cut.unwrap_or(b.len())].trim()
}

fn only_root(users: &str) -> bool {
    users
        .split(',')
        .map(str::trim)
        .all(|u| u == "root" || u == "#0")
}

/// Whether a command spec list (after `=`) grants `ALL` with the `NOPASSWD` tag in force.
/// Tags carry over to the following commands of the list until another tag overrides them.
fn nopasswd_all(specs: &str) -> bool {
    let mut nopasswd = false;
    for spec in specs.split(',') {
        let mut s = spec.trim();
        if s.starts_with('(') {
            s = s.split_once(')').map_or("", |(_, r)| r).trim_start();
        }
        loop {
            if let Some((tag, rest)) = s.split_once(':')
                && SUDO_TAGS.contains(&tag.trim())
            {
                match tag.trim() {
                    "NOPASSWD" => nopasswd = true,
                    "PASSWD" => nopasswd = false,
                    _ => {}
                }
                s = rest.trim_start();
                continue;
            }
            // Per-command options (`CWD=*`, `ROLE=x`, `TIMEOUT=5m` …) come before tags.
            if let Some((opt, rest)) = s.split_once(char::is_whitespace)
                && opt.contains('=')
                && opt.split('=').next().is_some_and(|k| {
                    k.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !k.is_empty()
                })
            {
                s = rest.trim_start();
                continue;
            }
            break;
        }
        if nopasswd && s == "ALL" {
            return true;
        }
    }
    false
}

/// Where packaged PAM modules live; modules named without a path are looked up there.
fn pam_module_dir(dir: &str) -> bool {
    const DIRS: &[&str] = &[
        "lib/security",
        "lib32/security",
        "lib64/security",
        "usr/lib/security",
        "usr/lib32/security",
        "usr/lib64/security",
        "usr/local/lib/security",
    ];
    DIRS.contains(&dir)
        || ["lib/", "usr/lib/"].iter().any(|p| {
            dir.strip_prefix(p)
                .and_then(|r| r.strip_suffix("/security"))
                .is_some_and(|t| !t.contains('/'))
        })
}

/// pam_exec.so options; the first other argument is the program.
const PAM_EXEC_OPTIONS: &[&str] = &[
    "debug",
    "expose_authtok",
    "quiet",
    "quiet_log",
    "seteuid",
    "stdout",
];

fn pam(text: &str, with_service: bool) -> Found {
    let mut found = Found::new();
    for (n, line) in logical_lines(text, true) {
        // Linux-PAM ends a line at `#` wherever it appears.
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut rest = line;
        if with_service {
            rest = rest
                .split_once(char::is_whitespace)
                .map_or("", |(_, r)| r)
                .trim_start();
        }
        let Some((kind, r)) = rest.split_once(char::is_whitespace) else {
            continue;
        };
        let kind = kind.trim_start_matches('-').to_ascii_lowercase();
        if !matches!(kind.as_str(), "auth" | "account" | "password" | "session") {
            continue;
        }
        let r = r.trim_start();
        let (control, r) = if r.starts_with('[') {
            match r.split_once(']') {
                Some((c, r)) => (&c[1..], r),
                None => continue,
            }
        } else {
            r.split_once(char::is_whitespace).unwrap_or((r, ""))
        };
        let mut words = r.split_whitespace();
        let Some(module) = words.next() else {
            continue;
        };
        let args: Vec<&str> = words.collect();
        let base = module.rsplit('/').next().unwrap_or(module);
        let shown = clip(line);
        if module.starts_with('/') {
            let clean = module.trim_start_matches('/').replace("/$ISA", "");
            let dir = clean.rsplit_once('/').map_or("", |(d, _)| d);
            if !pam_module_dir(dir) || module.contains("/../") {
                found.push((&PAM_OUTSIDE, format!("line {n}: `{shown}`")));
            }
        } else if module.split('/').any(|c| c == "..") {
            found.push((&PAM_OUTSIDE, format!("line {n}: `{shown}`")));
        }
        let control = control.to_ascii_lowercase();
        if kind == "auth"
            && base == "pam_permit.so"
            && (control == "sufficient" || control.split_whitespace().any(|c| c == "success=done"))
        {
            found.push((&PAM_PERMIT, format!("line {n}: `{shown}`")));
        }
        if base == "pam_exec.so" {
            let program = args
                .iter()
                .find(|a| !PAM_EXEC_OPTIONS.contains(*a) && !a.contains('='));
            if let Some(why) = program.and_then(|p| dropper_location(p)) {
                found.push((&PAM_EXEC_TEMP, format!("line {n}: `{shown}` ({why})")));
            } else if args.contains(&"expose_authtok") {
                found.push((&PAM_EXEC_AUTHTOK, format!("line {n}: `{shown}`")));
            }
        }
    }
    found
}

/// OpenSSH public key algorithms (`ssh -Q key`), certificates included.
fn ssh_key_type(t: &str) -> bool {
    t.starts_with("ssh-") || t.starts_with("ecdsa-sha2-") || t.starts_with("sk-")
}

/// One key line: (options, type, base64 blob, comment). Options may hold quoted spaces.
fn split_key_line(line: &str) -> Option<(&str, &str, &str, &str)> {
    let mut options = "";
    let mut rest = line;
    let first = line.split_whitespace().next()?;
    if !ssh_key_type(first) {
        let mut quoted = false;
        let end = line
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                c.is_whitespace() && !quoted
            })
            .map(|(i, _)| i)?;
        options = &line[..end];
        rest = line[end..].trim_start();
    }
    let mut parts = rest.splitn(3, char::is_whitespace);
    let kind = parts.next().filter(|k| ssh_key_type(k))?;
    let blob = parts.next()?.trim();
    let comment = parts.next().unwrap_or("").trim();
    Some((options, kind, blob, comment))
}

fn authorized_keys(path: &str, text: &str) -> Found {
    // Inside an archive (`backup.tgz!/root/.ssh/authorized_keys`) the path inside counts.
    let path = path.rsplit_once("!/").map_or(path, |(_, inner)| inner);
    // Files of that name elsewhere (documentation, test data) are not read by sshd unless
    // AuthorizedKeysFile points there, which is its own finding.
    if !(path.contains("/.ssh/") || path.starts_with(".ssh/") || path.starts_with("etc/ssh/")) {
        return Vec::new();
    }
    let keys: Vec<String> = config_lines(text)
        .iter()
        .filter_map(|(_, l)| {
            let (options, kind, blob, comment) = split_key_line(l)?;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(blob)
                .ok()?;
            let fp = base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(&raw));
            let mut s = format!("{kind} SHA256:{fp}");
            if !comment.is_empty() {
                s.push_str(&format!(" `{}`", clip(comment)));
            }
            if !options.is_empty() {
                s.push_str(&format!(" options `{}`", clip(options)));
            }
            Some(s)
        })
        .collect();
    if keys.is_empty() {
        return Vec::new();
    }
    let rule = if path.starts_with("root/.ssh/") {
        &KEYS_ROOT
    } else {
        &KEYS_USER
    };
    let mut evidence = format!(
        "{} key{}: ",
        keys.len(),
        if keys.len() == 1 { "" } else { "s" }
    );
    evidence.push_str(&keys.iter().take(3).cloned().collect::<Vec<_>>().join("; "));
    if keys.len() > 3 {
        evidence.push_str(&format!("; and {} more", keys.len() - 3));
    }
    vec![(rule, evidence)]
}

/// Every rule of the module, for the docs check.
#[cfg(test)]
pub(crate) const RULES: &[&Rule] = &[
    &PRELOAD,
    &PRELOAD_DROPPER,
    &KEYS_ROOT,
    &KEYS_USER,
    &SSHD_ROOT,
    &SSHD_EMPTY,
    &SSHD_KEYS_FILE,
    &SSHD_PORT,
    &SUDO_ANYONE,
    &SUDO_USER,
    &PAM_OUTSIDE,
    &PAM_PERMIT,
    &PAM_EXEC_TEMP,
    &PAM_EXEC_AUTHTOK,
    &UID0,
    &EMPTY_PASSWORD,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(f: &Found) -> Vec<&'static str> {
        f.iter().map(|(r, _)| r.id).collect()
    }

    #[test]
    fn sudo_tags_carry_over() {
        assert!(nopasswd_all(" (ALL) NOPASSWD: /bin/ls, ALL"));
        assert!(nopasswd_all(" (ALL:ALL) NOPASSWD:ALL"));
        assert!(nopasswd_all(" NOPASSWD: SETENV: ALL"));
        assert!(nopasswd_all(" CWD=* NOPASSWD: ALL"));
        assert!(!nopasswd_all(" (ALL) NOPASSWD: /bin/ls, PASSWD: ALL"));
        assert!(!nopasswd_all(" (ALL:ALL) ALL"));
        assert!(!nopasswd_all(" NOPASSWD: /usr/bin/apt"));
    }

    #[test]
    fn sudo_comments_and_uids() {
        assert_eq!(
            strip_sudo_comment("#0 ALL=(ALL) NOPASSWD: ALL # root"),
            "#0 ALL=(ALL) NOPASSWD: ALL"
        );
        assert!(ids(&sudoers("#0 ALL=(ALL) NOPASSWD: ALL\n")).is_empty());
        assert_eq!(
            ids(&sudoers("#1000 ALL=(ALL) NOPASSWD: ALL\n")),
            ["sudo-nopasswd-all"]
        );
        assert_eq!(
            ids(&sudoers("alice, bob ALL = \\\n (ALL) NOPASSWD: ALL\n")),
            ["sudo-nopasswd-all"]
        );
        assert_eq!(
            ids(&sudoers("Defaults !authenticate\n")),
            ["sudo-nopasswd-all-users"]
        );
        assert_eq!(
            ids(&sudoers("Defaults:root !authenticate\n")),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn sshd_first_value_wins() {
        assert!(ids(&sshd("PermitRootLogin no\nPermitRootLogin yes\n")).is_empty());
        assert_eq!(
            ids(&sshd("PermitRootLogin=yes\n")),
            ["sshd-permit-root-login"]
        );
        assert!(ids(&sshd("PasswordAuthentication no\nPermitRootLogin yes\n")).is_empty());
        assert_eq!(
            ids(&sshd(
                "PasswordAuthentication no\nMatch User x\n PermitRootLogin yes\n PasswordAuthentication yes\n"
            )),
            ["sshd-permit-root-login"]
        );
    }

    #[test]
    fn keys_files() {
        assert_eq!(odd_keys_file(".ssh/authorized_keys"), None);
        assert_eq!(odd_keys_file("%h/.ssh/authorized_keys"), None);
        assert_eq!(odd_keys_file("/etc/ssh/authorized_keys/%u"), None);
        assert_eq!(odd_keys_file("/home/%u/.ssh/authorized_keys"), None);
        assert!(odd_keys_file("/etc/ssh/keys").is_some());
        assert!(odd_keys_file("/tmp/%u").is_some());
        assert!(odd_keys_file(".config/k").is_some());
        assert!(odd_keys_file("/var/lib/.k/%u").is_some());
    }

    #[test]
    fn key_lines() {
        let (o, k, _, c) =
            split_key_line(r#"command="echo a b",no-pty ssh-ed25519 AAAA x@y"#).unwrap();
        assert_eq!(
            (o, k, c),
            (r#"command="echo a b",no-pty"#, "ssh-ed25519", "x@y")
        );
        assert!(split_key_line("hello world").is_none());
    }
}
