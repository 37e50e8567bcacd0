//! Persistence: what an image sets up to run again by itself (cron, at, systemd units,
//! init scripts, shell start-up files, `/etc/environment`), and shell scripts anywhere.
//!
//! An entry is not a finding for existing: Debian ships cron jobs, units and profile
//! scripts. It becomes one when what it runs trips a shell check of medium or more, runs
//! from a temporary or hidden directory, or runs something named like a kernel thread or a
//! miner. Shell checks on files without a shell shebang (crontabs, units, profile files) are
//! reported here; files with one get them from [`Scripts`], so nothing is reported twice.

use customs_core::{Confidence, Finding, Severity};
use customs_image::walk::{FileContent, FileEntry};

use crate::shell::{self, Run, ShellHit};
use crate::{FileAnalyzer, Rule, Wants};

/// Scripts and start-up files larger than this are analyzed on their first MiB (listed in
/// `coverage.partial` for persistence files).
const MAX_BYTES: usize = 1 << 20;

static CRON: Rule = Rule {
    id: "persistence-cron",
    title: "Cron job runs something malicious",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1053.003"],
    description: "A cron entry (crontab, cron.d, cron.hourly…monthly, anacrontab) runs a \
        command that trips a shell check, runs from a temporary or hidden directory, or runs \
        a program named like a kernel thread or a miner: mining malware re-installs itself \
        this way.",
};

static AT: Rule = Rule {
    id: "persistence-at",
    title: "at job runs something malicious",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1053.002"],
    description: "A queued at job shipped in the image runs a suspicious command (see \
        persistence-cron for what counts).",
};

static SYSTEMD: Rule = Rule {
    id: "persistence-systemd-service",
    title: "systemd unit runs something malicious",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1543.002"],
    description: "An `Exec*=` line of a systemd unit (system or user) runs a suspicious \
        command: from a temporary or hidden directory, named like a kernel thread or a miner, \
        or tripping a shell check.",
};

static INIT: Rule = Rule {
    id: "persistence-init-script",
    title: "Init or rc script runs something malicious",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1037.004"],
    description: "An init.d script or rc.local runs a suspicious command at boot.",
};

static SHELL_RC: Rule = Rule {
    id: "persistence-shell-rc",
    title: "Shell start-up file runs something malicious",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1546.004"],
    description: "A profile or rc file (`/etc/profile`, `profile.d`, `bash.bashrc`, a user's \
        `.bashrc`/`.profile`/`.zshrc`, `/etc/skel`) runs a suspicious command at every login \
        or shell start.",
};

static LD_PRELOAD: Rule = Rule {
    id: "persistence-ld-preload-env",
    title: "LD_PRELOAD set for every process",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1574.006"],
    description: "`/etc/environment`, a crontab or a shell start-up file sets LD_PRELOAD, so \
        a library is injected into every program: the classic user-mode rootkit hook. Known \
        allocators (jemalloc, tcmalloc, mimalloc) in system library directories are not \
        flagged.",
};

/// Every persistence rule, for documentation and tests.
#[cfg(test)]
pub(crate) static RULES: &[&Rule] = &[&CRON, &AT, &SYSTEMD, &INIT, &SHELL_RC, &LD_PRELOAD];

/// How a persistence file is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `/etc/crontab`, `/etc/cron.d/*`: five time fields, a user, the command.
    SystemCrontab,
    /// `/var/spool/cron/crontabs/USER`: no user field.
    UserCrontab,
    /// `/etc/anacrontab`: period, delay, job id, command.
    Anacrontab,
    /// run-parts directories: each file is a script.
    CronScript,
    /// at spool: each file is a script.
    At,
    /// systemd unit files and drop-ins.
    Systemd,
    /// init.d, rc.local.
    Init,
    /// Shell start-up files.
    ShellRc,
    /// `/etc/environment`.
    Environment,
}

impl Kind {
    fn of(path: &str) -> Option<Kind> {
        let name = path.rsplit('/').next().unwrap_or(path);
        if name.starts_with(".wh.") || name == ".placeholder" {
            return None;
        }
        Some(match path {
            "etc/crontab" => Kind::SystemCrontab,
            "etc/anacrontab" => Kind::Anacrontab,
            "etc/environment" => Kind::Environment,
            "etc/rc.local" | "etc/rc.d/rc.local" => Kind::Init,
            "etc/profile" | "etc/bash.bashrc" | "etc/bashrc" | "etc/zshrc" | "etc/zprofile"
            | "etc/zshenv" | "etc/zlogin" | "etc/zsh/zshrc" | "etc/zsh/zprofile"
            | "etc/zsh/zshenv" | "etc/zsh/zlogin" | "etc/csh.cshrc" | "etc/csh.login" => {
                Kind::ShellRc
            }
            p if p.starts_with("etc/cron.d/") => Kind::SystemCrontab,
            p if p.starts_with("var/spool/cron/atjobs/") || p.starts_with("var/spool/at/") => {
                if name.starts_with('.') || p.starts_with("var/spool/at/spool/") {
                    return None;
                }
                Kind::At
            }
            p if p.starts_with("var/spool/cron/") => {
                if name.starts_with('.') || p.starts_with("var/spool/cron/atspool/") {
                    return None;
                }
                Kind::UserCrontab
            }
            p if ["hourly", "daily", "weekly", "monthly", "yearly"]
                .iter()
                .any(|d| p.starts_with(&format!("etc/cron.{d}/"))) =>
            {
                Kind::CronScript
            }
            p if p.starts_with("etc/init.d/") || p.starts_with("etc/rc.d/init.d/") => Kind::Init,
            p if p.starts_with("etc/profile.d/") => Kind::ShellRc,
            p if is_unit_dir(p) => {
                let unit = [
                    ".service", ".socket", ".timer", ".path", ".mount", ".conf", ".target",
                ];
                if !unit.iter().any(|s| name.ends_with(s)) {
                    return None;
                }
                Kind::Systemd
            }
            p if is_home_rc(p) => Kind::ShellRc,
            _ => return None,
        })
    }

    fn rule(self) -> &'static Rule {
        match self {
            Kind::SystemCrontab | Kind::UserCrontab | Kind::Anacrontab | Kind::CronScript => &CRON,
            Kind::At => &AT,
            Kind::Systemd => &SYSTEMD,
            Kind::Init => &INIT,
            Kind::ShellRc | Kind::Environment => &SHELL_RC,
        }
    }

    /// How the evidence names the mechanism.
    fn label(self) -> &'static str {
        match self {
            Kind::SystemCrontab | Kind::UserCrontab => "cron entry",
            Kind::Anacrontab => "anacron entry",
            Kind::CronScript => "cron script",
            Kind::At => "at job",
            Kind::Systemd => "systemd unit",
            Kind::Init => "init script",
            Kind::ShellRc => "shell start-up file",
            Kind::Environment => "environment file",
        }
    }
}

const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system/",
    "etc/systemd/user/",
    "lib/systemd/system/",
    "lib/systemd/user/",
    "usr/lib/systemd/system/",
    "usr/lib/systemd/user/",
    "usr/local/lib/systemd/system/",
    "run/systemd/system/",
];

fn is_unit_dir(p: &str) -> bool {
    UNIT_DIRS.iter().any(|d| p.starts_with(d))
        || ((p.starts_with("root/") || p.starts_with("home/"))
            && p.contains("/.config/systemd/user/"))
}

const HOME_RC: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
    ".kshrc",
    ".mkshrc",
    ".cshrc",
    ".tcshrc",
    ".login",
];

/// `root/.bashrc`, `home/USER/.profile`, `etc/skel/.bashrc` (copied into every new home).
fn is_home_rc(p: &str) -> bool {
    let parts: Vec<&str> = p.split('/').collect();
    let home = matches!(
        parts.as_slice(),
        ["root", _] | ["home", _, _] | ["etc", "skel", _]
    );
    home && HOME_RC.contains(parts.last().unwrap_or(&""))
}

/// Globs for everything [`Kind::of`] knows.
const PATHS: &[&str] = &[
    "etc/crontab",
    "etc/anacrontab",
    "etc/cron.*/**",
    "var/spool/cron/**",
    "var/spool/at/**",
    "etc/systemd/**",
    "lib/systemd/system/**",
    "lib/systemd/user/**",
    "usr/lib/systemd/system/**",
    "usr/lib/systemd/user/**",
    "usr/local/lib/systemd/system/**",
    "run/systemd/system/**",
    "root/.config/systemd/user/**",
    "home/*/.config/systemd/user/**",
    "etc/init.d/*",
    "etc/rc.d/**",
    "etc/rc.local",
    "etc/environment",
    "etc/profile",
    "etc/profile.d/*",
    "etc/bash.bashrc",
    "etc/bashrc",
    "etc/zshrc",
    "etc/zprofile",
    "etc/zshenv",
    "etc/zlogin",
    "etc/zsh/*",
    "etc/csh.cshrc",
    "etc/csh.login",
    // Listed by name: `*` crosses `/` in these globs, and `root/.*` would read caches.
    "{root,etc/skel}/{.bashrc,.bash_profile,.bash_login,.bash_logout,.profile,.zshrc,.zprofile,.zshenv,.zlogin,.kshrc,.mkshrc,.cshrc,.tcshrc,.login}",
    "home/*/{.bashrc,.bash_profile,.bash_login,.bash_logout,.profile,.zshrc,.zprofile,.zshenv,.zlogin,.kshrc,.mkshrc,.cshrc,.tcshrc,.login}",
];

/// The persistence analyzer.
pub(crate) struct Persistence;

impl FileAnalyzer for Persistence {
    fn id(&self) -> &'static str {
        "persistence"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self) -> Wants {
        Wants {
            paths: PATHS.to_vec(),
            max_size: None,
            bytes: MAX_BYTES,
            whole: true,
        }
    }
    fn analyze(&self, entry: &FileEntry, content: &FileContent<'_>, out: &mut Vec<Finding>) {
        let Some(kind) = Kind::of(&entry.path) else {
            return;
        };
        let text = String::from_utf8_lossy(content.data);
        analyze_file(&entry.path, kind, &text, out);
    }
}

/// One command a persistence file runs.
struct Job<'a> {
    line: usize,
    /// The whole entry as written (for evidence).
    entry: &'a str,
    /// The command part.
    command: String,
}

fn analyze_file(path: &str, kind: Kind, text: &str, out: &mut Vec<Finding>) {
    let scripted = matches!(
        kind,
        Kind::CronScript | Kind::At | Kind::Init | Kind::ShellRc
    );
    if scripted {
        let shebang = shell_shebang(text.as_bytes());
        let hits = shell::analyze_script(text);
        if !shebang {
            for h in &hits {
                out.push(h.rule.finding(
                    Some(path),
                    format!("{} line {}: {}", kind.label(), h.line, h.evidence),
                ));
            }
        }
        let mut reasons: Vec<(usize, String)> = hits
            .iter()
            .filter(|h| h.rule.severity >= Severity::Medium)
            .map(|h| (h.line, format!("{} ({})", h.evidence, h.rule.id)))
            .collect();
        for e in shell::executed_paths(text) {
            if let Some(why) = suspicious_path(&e.path, e.run, kind == Kind::ShellRc) {
                reasons.push((e.line, format!("{} {why}", shell::evidence(&e.path))));
            }
        }
        reasons.sort();
        if let Some((line, why)) = reasons.first() {
            let more = match reasons.len() {
                1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            };
            out.push(kind.rule().finding(
                Some(path),
                format!("{} line {line}: {why}{more}", kind.label()),
            ));
        }
        if kind == Kind::ShellRc {
            ld_preload_lines(path, text, out);
        }
        return;
    }
    if kind == Kind::Environment {
        ld_preload_lines(path, text, out);
        return;
    }
    let jobs = match kind {
        Kind::Systemd => unit_jobs(text),
        _ => cron_jobs(kind, text),
    };
    if matches!(
        kind,
        Kind::SystemCrontab | Kind::UserCrontab | Kind::Anacrontab
    ) {
        ld_preload_lines(path, text, out);
    }
    // One finding per rule per file, naming the first entry: a hostile crontab of a
    // million lines gives a handful of findings.
    let mut shell_hits: Vec<(ShellHit, usize, usize)> = Vec::new();
    let mut flagged: Option<(usize, String)> = None;
    let mut more = 0usize;
    for job in jobs {
        let hits = shell::analyze_script(&job.command);
        let mut why: Vec<String> = hits
            .iter()
            .filter(|h| h.rule.severity >= Severity::Medium)
            .map(|h| format!("trips {}", h.rule.id))
            .collect();
        for h in hits {
            match shell_hits
                .iter_mut()
                .find(|(f, _, _)| std::ptr::eq(f.rule, h.rule))
            {
                Some((_, _, n)) => *n += 1,
                None => shell_hits.push((h, job.line, 0)),
            }
        }
        for e in shell::executed_paths(&job.command) {
            if let Some(w) = suspicious_path(&e.path, e.run, false) {
                why.push(format!("{} {w}", shell::evidence(&e.path)));
            }
        }
        why.dedup();
        if why.is_empty() {
            continue;
        }
        if flagged.is_some() {
            more += 1;
            continue;
        }
        flagged = Some((
            job.line,
            format!(
                "{} line {}: {} — {}",
                kind.label(),
                job.line,
                shell::evidence(job.entry),
                why.join("; ")
            ),
        ));
    }
    for (h, line, n) in shell_hits {
        out.push(h.rule.finding(
            Some(path),
            format!(
                "{} line {line}: {}{}",
                kind.label(),
                h.evidence,
                more_entries(n)
            ),
        ));
    }
    if let Some((_, evidence)) = flagged {
        out.push(
            kind.rule()
                .finding(Some(path), format!("{evidence}{}", more_entries(more))),
        );
    }
}

fn more_entries(n: usize) -> String {
    match n {
        0 => String::new(),
        n => format!(" (+{n} more entries)"),
    }
}

/// Whether `data` starts with a shell shebang: `#!/bin/sh`, `#!/usr/bin/env bash`,
/// `#!/bin/busybox sh`, with or without options.
pub(crate) fn shell_shebang(data: &[u8]) -> bool {
    let Some(rest) = data.strip_prefix(b"#!") else {
        return false;
    };
    let end = rest
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(rest.len())
        .min(256);
    let line = String::from_utf8_lossy(&rest[..end]);
    let mut parts = line.split_whitespace();
    let Some(first) = parts.next() else {
        return false;
    };
    let is_sh = |p: &str| {
        matches!(
            p.rsplit('/').next().unwrap_or(p),
            "sh" | "bash" | "dash" | "ash" | "zsh" | "ksh" | "mksh" | "yash"
        )
    };
    match first.rsplit('/').next().unwrap_or(first) {
        "env" | "busybox" => parts.find(|p| !p.starts_with('-')).is_some_and(is_sh),
        _ => is_sh(first),
    }
}

/// Directories under a home that tool managers own; runs from them are ordinary.
const TOOL_DOT_DIRS: &[&str] = &[
    ".cargo",
    ".rustup",
    ".nvm",
    ".rbenv",
    ".pyenv",
    ".sdkman",
    ".local",
    ".deno",
    ".bun",
    ".volta",
    ".asdf",
    ".opam",
    ".ghcup",
    ".config",
    ".npm",
    ".yarn",
    ".gem",
    ".poetry",
    ".jenv",
    ".goenv",
    ".nodenv",
    ".tfenv",
    ".dotnet",
    ".bash_it",
    ".oh-my-zsh",
    ".zinit",
    ".fzf",
    ".linuxbrew",
    ".nix-profile",
    ".pixi",
    ".juliaup",
    ".krew",
    ".rvm",
    ".conda",
    ".miniconda3",
    ".pulumi",
    ".fly",
    ".vscode-server",
    ".composer",
    ".cabal",
    ".elan",
];

/// Kernel thread names: no program on disk is legitimately called this.
const KERNEL_THREADS: &[&str] = &[
    "kworker",
    "kthreadd",
    "ksoftirqd",
    "kswapd0",
    "kswapd",
    "kdevtmpfs",
    "kdevtmpfsi",
    "migration",
    "rcu_sched",
    "rcu_preempt",
    "kblockd",
    "khugepaged",
    "kcompactd0",
    "kauditd",
    "kintegrityd",
    "kthrotld",
    "watchdogd",
    "kworkerds",
    "kthreaddi",
    "khugepageds",
    "kerberods",
];

const MINERS: &[&str] = &[
    "xmrig",
    "xmr-stak",
    "xmr-stak-cpu",
    "minerd",
    "cpuminer",
    "cpuminer-opt",
    "lolminer",
    "nbminer",
    "t-rex",
    "srbminer",
    "srbminer-multi",
    "gminer",
    "phoenixminer",
    "ethminer",
    "xmrig-notls",
    "xmrig-cuda",
];

/// Why running `path` from a persistence entry is suspicious, if it is. `home_rc`: the
/// entry is a shell start-up file, where sourcing dot-files of the home is normal.
fn suspicious_path(path: &str, run: Run, home_rc: bool) -> Option<&'static str> {
    let p = path.trim_matches(['"', '\'']);
    if p.is_empty() || matches!(p, "." | "source") {
        return None;
    }
    for tmp in ["/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/"] {
        if p.starts_with(tmp) {
            return Some("runs from a temporary directory");
        }
    }
    if p.starts_with("/dev/") && !matches!(p, "/dev/null" | "/dev/stdin") {
        return Some("runs from /dev");
    }
    let parts: Vec<&str> = p.split('/').collect();
    let (last, dirs) = parts.split_last()?;
    let in_home = parts
        .first()
        .is_some_and(|f| matches!(*f, "~" | "$HOME" | "${HOME}" | "\"$HOME\""))
        || p.starts_with("/root/")
        || p.starts_with("/home/");
    for d in dirs {
        if d.starts_with('.') && !matches!(*d, "." | "..") {
            let allowed = in_home && TOOL_DOT_DIRS.contains(d);
            if !allowed {
                return Some("runs from a hidden directory");
            }
        }
    }
    if last.starts_with('.') && last.len() > 1 && run != Run::Sourced {
        return Some("runs a hidden file");
    }
    if last.starts_with('.') && run == Run::Sourced && !(home_rc && (in_home || dirs.is_empty())) {
        return Some("sources a hidden file");
    }
    let base = last.to_ascii_lowercase();
    if run == Run::Program {
        let stem = base.split(['/', ':']).next().unwrap_or(&base);
        if KERNEL_THREADS.contains(&stem) || base.starts_with("[k") {
            return Some("is named like a kernel thread");
        }
        if MINERS.contains(&base.as_str()) {
            return Some("runs a cryptominer");
        }
    }
    None
}

/// Crontab, user crontab and anacrontab entries.
fn cron_jobs(kind: Kind, text: &str) -> Vec<Job<'_>> {
    let mut jobs = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || env_line(line).is_some() {
            continue;
        }
        let fields = match (kind, line.starts_with('@')) {
            // `@reboot [user] cmd`; anacron `@monthly delay id cmd`.
            (Kind::Anacrontab, _) => 3,
            (Kind::SystemCrontab, true) => 2,
            (Kind::SystemCrontab, false) => 6,
            (_, true) => 1,
            (_, false) => 5,
        };
        let Some(rest) = skip_fields(line, fields) else {
            continue;
        };
        jobs.push(Job {
            line: n + 1,
            entry: line,
            command: cron_command(rest),
        });
    }
    jobs
}

/// `NAME=value` lines of a crontab (the name may be followed by spaces).
fn env_line(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once('=')?;
    let name = name.trim_end();
    let name = name.strip_prefix("export ").unwrap_or(name).trim();
    (!name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit())
    .then(|| (name, value.trim()))
}

/// What follows the first `n` whitespace-separated fields.
fn skip_fields(line: &str, n: usize) -> Option<&str> {
    let mut rest = line;
    for _ in 0..n {
        rest = rest.trim_start();
        let end = rest.find([' ', '\t'])?;
        rest = &rest[end..];
    }
    let rest = rest.trim();
    (!rest.is_empty()).then_some(rest)
}

/// The shell command of a crontab entry: cron turns the first unescaped `%` into the start
/// of standard input, and `\%` into `%`.
fn cron_command(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'%') => {
                out.push('%');
                chars.next();
            }
            '%' => break,
            c => out.push(c),
        }
    }
    out
}

/// `Exec*=` lines of a unit file, continuation lines joined.
fn unit_jobs(text: &str) -> Vec<Job<'_>> {
    let mut jobs = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut n = 0;
    while n < lines.len() {
        let start = n;
        let raw = lines[n].trim();
        n += 1;
        let Some((key, value)) = raw.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !key.starts_with("Exec") || key == "ExecSearchPath" || key == "ExecPaths" {
            continue;
        }
        let mut value = value.trim().to_string();
        let mut entry_end = start;
        while value.ends_with('\\') && n < lines.len() {
            value.pop();
            value.push(' ');
            value.push_str(lines[n].trim());
            entry_end = n;
            n += 1;
        }
        // Prefixes: `-` ignore failure, `@` argv0, `:` no substitution, `+`/`!`/`!!` privileges.
        let cmd = value.trim_start_matches(['-', '@', ':', '+', '!']);
        if cmd.is_empty() {
            continue;
        }
        let entry = if entry_end == start {
            raw
        } else {
            lines[start].trim()
        };
        jobs.push(Job {
            line: start + 1,
            entry,
            command: cmd.to_string(),
        });
    }
    jobs
}

/// Allocators commonly preloaded on purpose.
const ALLOCATORS: &[&str] = &["libjemalloc", "libtcmalloc", "libmimalloc"];

/// `LD_PRELOAD=…` lines (`/etc/environment`, crontab variables, `export LD_PRELOAD=…`); one
/// finding per file, naming the first.
fn ld_preload_lines(path: &str, text: &str, out: &mut Vec<Finding>) {
    let mut found: Vec<(usize, &str)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') {
            continue;
        }
        let preloads = line.split([';', '&']).map(str::trim).any(|st| {
            let st = st.strip_prefix("export ").unwrap_or(st).trim();
            let Some(value) = st.strip_prefix("LD_PRELOAD=") else {
                return false;
            };
            let value = value.trim().trim_matches(['"', '\'']);
            let libs: Vec<&str> = value.split([' ', ':']).filter(|l| !l.is_empty()).collect();
            let benign = libs.iter().all(|l| {
                let base = l.rsplit('/').next().unwrap_or(l);
                ALLOCATORS.iter().any(|a| base.starts_with(a))
                    && (l.starts_with("/usr/lib/") || l.starts_with("/lib/") || !l.contains('/'))
            });
            !benign
        });
        if preloads {
            found.push((n + 1, line));
        }
    }
    if let Some((line, text)) = found.first() {
        let more = match found.len() {
            1 => String::new(),
            n => format!(" (+{} more lines)", n - 1),
        };
        out.push(LD_PRELOAD.finding(
            Some(path),
            format!("line {line}: {}{more}", shell::evidence(text)),
        ));
    }
}

/// Shell checks on every file with a shell shebang, wherever it is (entrypoints,
/// `/usr/local/bin/start.sh`, maintainer scripts, init scripts).
pub(crate) struct Scripts;

impl FileAnalyzer for Scripts {
    fn id(&self) -> &'static str {
        "script"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self) -> Wants {
        // Not `whole`: every large binary would be listed as partially read, yet only files
        // starting with a shell shebang are analyzed, on their first MiB.
        Wants {
            paths: vec![],
            max_size: None,
            bytes: MAX_BYTES,
            whole: false,
        }
    }
    fn analyze(&self, entry: &FileEntry, content: &FileContent<'_>, out: &mut Vec<Finding>) {
        if !shell_shebang(content.data) {
            return;
        }
        let text = String::from_utf8_lossy(content.data);
        for h in shell::analyze_script(&text) {
            out.push(h.rule.finding(
                Some(&entry.path),
                format!("line {}: {}", h.line, h.evidence),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_path() {
        assert_eq!(
            Kind::of("etc/cron.d/e2scrub_all"),
            Some(Kind::SystemCrontab)
        );
        assert_eq!(
            Kind::of("var/spool/cron/crontabs/root"),
            Some(Kind::UserCrontab)
        );
        assert_eq!(Kind::of("var/spool/cron/root"), Some(Kind::UserCrontab));
        assert_eq!(Kind::of("var/spool/cron/atjobs/a0001"), Some(Kind::At));
        assert_eq!(Kind::of("var/spool/cron/atjobs/.SEQ"), None);
        assert_eq!(Kind::of("etc/cron.daily/dpkg"), Some(Kind::CronScript));
        assert_eq!(
            Kind::of("lib/systemd/system/ssh.service"),
            Some(Kind::Systemd)
        );
        assert_eq!(
            Kind::of("lib/systemd/system/ssh.service.d/x.conf"),
            Some(Kind::Systemd)
        );
        assert_eq!(Kind::of("lib/systemd/system-generators/x"), None);
        assert_eq!(
            Kind::of("home/u/.config/systemd/user/a.service"),
            Some(Kind::Systemd)
        );
        assert_eq!(Kind::of("root/.bashrc"), Some(Kind::ShellRc));
        assert_eq!(Kind::of("home/u/.profile"), Some(Kind::ShellRc));
        assert_eq!(Kind::of("home/u/.ssh/config"), None);
        assert_eq!(Kind::of("etc/skel/.bashrc"), Some(Kind::ShellRc));
        assert_eq!(Kind::of("etc/environment"), Some(Kind::Environment));
        assert_eq!(Kind::of("etc/init.d/ssh"), Some(Kind::Init));
    }

    #[test]
    fn shebangs() {
        assert!(shell_shebang(b"#!/bin/sh\n"));
        assert!(shell_shebang(b"#! /bin/bash -e\n"));
        assert!(shell_shebang(b"#!/usr/bin/env bash\n"));
        assert!(shell_shebang(b"#!/usr/bin/env -S bash -eu\n"));
        assert!(shell_shebang(b"#!/bin/busybox sh"));
        assert!(!shell_shebang(b"#!/usr/bin/python3\n"));
        assert!(!shell_shebang(b"#!/usr/bin/env perl\n"));
        assert!(!shell_shebang(b"echo hi\n"));
        assert!(!shell_shebang(b"\x7fELF"));
    }

    #[test]
    fn crontab_fields_and_percent() {
        let jobs = cron_jobs(
            Kind::SystemCrontab,
            "SHELL=/bin/sh\n# c\n17 * * * * root cd / && run-parts /etc/cron.hourly\n@reboot root /tmp/x\n*/5 * * * * root date +\\%s %stdin\n",
        );
        let cmds: Vec<&str> = jobs.iter().map(|j| j.command.as_str()).collect();
        assert_eq!(
            cmds,
            ["cd / && run-parts /etc/cron.hourly", "/tmp/x", "date +%s "]
        );
        assert_eq!(jobs[0].line, 3);
        let user = cron_jobs(Kind::UserCrontab, "* * * * * /tmp/.x/m\n");
        assert_eq!(user[0].command, "/tmp/.x/m");
        let ana = cron_jobs(
            Kind::Anacrontab,
            "1 5 cron.daily run-parts /etc/cron.daily\n",
        );
        assert_eq!(ana[0].command, "run-parts /etc/cron.daily");
    }

    #[test]
    fn unit_exec_lines() {
        let jobs = unit_jobs(
            "[Service]\nExecStartPre=-/usr/sbin/sshd -t\nExecStart=/bin/sh -c 'a \\\n  b'\nExecReload=/bin/kill -HUP $MAINPID\nExecSearchPath=/x\n",
        );
        let cmds: Vec<&str> = jobs.iter().map(|j| j.command.as_str()).collect();
        assert_eq!(
            cmds,
            [
                "/usr/sbin/sshd -t",
                "/bin/sh -c 'a  b'",
                "/bin/kill -HUP $MAINPID"
            ]
        );
    }

    #[test]
    fn suspicious_paths() {
        assert!(suspicious_path("/tmp/.x/kworker", Run::Program, false).is_some());
        assert!(suspicious_path("/usr/bin/.sshd", Run::Program, false).is_some());
        assert!(suspicious_path("/root/.configrc/a/upd", Run::Program, false).is_some());
        assert!(suspicious_path("/usr/local/bin/kworker", Run::Program, false).is_some());
        assert!(suspicious_path("/opt/xmrig", Run::Program, false).is_some());
        assert!(suspicious_path("/usr/sbin/logrotate", Run::Program, false).is_none());
        assert!(suspicious_path("$HOME/.cargo/env", Run::Sourced, true).is_none());
        assert!(suspicious_path("~/.bash_aliases", Run::Sourced, true).is_none());
        assert!(suspicious_path("/root/.local/bin/poetry", Run::Program, false).is_none());
        assert!(suspicious_path("/etc/.hidden/x", Run::Sourced, true).is_some());
    }
}
