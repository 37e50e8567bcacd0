//! The YARA engine: every `.yar`/`.yara` file of a [`Bundle`] compiled once with yara-x,
//! rule metadata checked, and scanners that turn matches into what findings need.
//!
//! Our rules (bundle paths outside `user/`) must carry `id`, `title`, `severity`,
//! `confidence`, `attack` and `description` metadata, and may carry `reference`; a missing
//! or invalid field, or any compiler warning, is a content error so CI catches it. User
//! rules (`--rules DIR`) may omit metadata and get defaults. See `docs/yara-engine.md`.
//!
//! ```
//! use std::collections::BTreeMap;
//! use customs_content::{Bundle, yara::YaraRules};
//! let mut files = BTreeMap::new();
//! files.insert("manifest.toml".to_string(), b"schema = 1\nversion = \"t\"".to_vec());
//! files.insert("user/0/mine.yar".to_string(), b"rule marker { strings: $a = \"zqx-marker\" condition: $a }".to_vec());
//! let rules = YaraRules::compile(&Bundle::from_files(files).unwrap()).unwrap();
//! let found = rules.scanner().scan(b"... zqx-marker ...").unwrap();
//! assert_eq!(found[0].rule, "yara-user-marker");
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use customs_core::{Confidence, Severity, attack};
use yara_x::{Compiler, MetaValue, ScanError, Scanner, SourceCode};

use crate::gates::Gate;
use crate::literal_gate::{self, LiteralGate};
use crate::{Bundle, ContentError};

/// How long one scan may run before it is abandoned and reported as an error.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// ATT&CK id given to user rules that name none: a match in an image is what T1204.003 is.
const USER_ATTACK: &str = attack::MALICIOUS_IMAGE;

/// How many matched patterns, and how many bytes of each, go into the evidence.
const EVIDENCE_PATTERNS: usize = 3;
const EVIDENCE_BYTES: usize = 48;

/// What a finding needs from a rule, read from its metadata once at compile time.
#[derive(Clone, Debug)]
struct RuleMeta {
    id: String,
    title: String,
    severity: Severity,
    confidence: Confidence,
    attack: Vec<String>,
    description: String,
    reference: Option<String>,
}

/// Compiled rules; compile once, share between threads, make one [`YaraScanner`] per
/// thread.
pub struct YaraRules {
    /// Every rule that no gate holds back.
    main: yara_x::Rules,
    /// Rule sets run only on data their gate admits.
    gated: Vec<(SetGate, yara_x::Rules)>,
    /// namespace (the bundle path) → rule identifier → metadata.
    meta: HashMap<String, HashMap<String, RuleMeta>>,
    count: usize,
}

/// What lets a gated rule set run on some data. Either way a necessary condition of every
/// rule in the set, so gating changes when rules run, never what they find.
enum SetGate {
    /// The rules under `yara/gated/<gate>/` (see [`crate::gates`]).
    Named(Gate),
    /// Our rule files whose every public rule is proven to need one of a few literals
    /// (see [`crate::literal_gate`]).
    Literals(LiteralGate),
}

impl SetGate {
    fn admits(&self, data: &[u8]) -> bool {
        match self {
            SetGate::Named(g) => g.admits(data),
            SetGate::Literals(l) => l.admits(data),
        }
    }
}

/// Which set each rule file of a bundle goes in.
struct Routes<'b> {
    main: Vec<(&'b str, &'b str)>,
    /// Our files with a literal gate, every literal they need, and the first bytes each
    /// needs (if its rules prove any).
    literal: Vec<(&'b str, &'b str)>,
    literals: Vec<Vec<u8>>,
    prefixes: Vec<Option<Vec<u8>>>,
    by_gate: Vec<(Gate, Vec<(&'b str, &'b str)>)>,
}

impl<'b> Routes<'b> {
    /// The first bytes every literal-gated file needs, if they all need the same.
    fn prefix(&self) -> Option<Vec<u8>> {
        let (first, rest) = self.prefixes.split_first()?;
        rest.iter().all(|p| p == first).then(|| first.clone())?
    }

    fn of(bundle: &'b Bundle) -> Result<Routes<'b>, ContentError> {
        let mut r = Routes {
            main: Vec::new(),
            literal: Vec::new(),
            literals: Vec::new(),
            prefixes: Vec::new(),
            by_gate: Vec::new(),
        };
        for (path, bytes) in bundle.files("yara/", &[".yar", ".yara"]) {
            let text = std::str::from_utf8(bytes).map_err(|e| ContentError::Invalid {
                path: path.to_string(),
                message: format!("not UTF-8: {e}"),
            })?;
            match gate_of(path)? {
                Some(gate) => match r.by_gate.iter_mut().find(|(g, _)| *g == gate) {
                    Some((_, files)) => files.push((path, text)),
                    None => r.by_gate.push((gate, vec![(path, text)])),
                },
                None => match literal_gate::necessary_literals(text).filter(|_| !is_user(path)) {
                    Some(needed) => {
                        r.literal.push((path, text));
                        r.literals.extend(needed);
                        r.prefixes.push(literal_gate::necessary_prefix(text));
                    }
                    None => r.main.push((path, text)),
                },
            }
        }
        Ok(r)
    }
}

/// One rule that matched, with everything a finding needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YaraMatch {
    /// Stable kebab-case rule id (meta `id`).
    pub rule: String,
    /// One-line title.
    pub title: String,
    /// From meta `severity`.
    pub severity: Severity,
    /// From meta `confidence`.
    pub confidence: Confidence,
    /// ATT&CK technique ids.
    pub attack: Vec<String>,
    /// Why it matters.
    pub description: String,
    /// Where the facts behind the rule come from.
    pub reference: Option<String>,
    /// The rule identifier and the first matched strings (identifier, offset, data),
    /// printable and clipped.
    pub evidence: String,
}

/// A scanner bound to one [`YaraRules`]; not shareable between threads, reusable.
pub struct YaraScanner<'r> {
    rules: &'r YaraRules,
    inner: Scanner<'r>,
    gated: Vec<(&'r SetGate, Scanner<'r>)>,
}

impl YaraRules {
    /// Compiles every `.yar`/`.yara` file of `bundle` (ours under `yara/`, users' under
    /// `user/N/`), one namespace per file, and checks the metadata of every public rule.
    /// Files under `yara/gated/<gate>/` are compiled apart, one set per gate, and so are
    /// our files that get a literal gate.
    pub fn compile(bundle: &Bundle) -> Result<YaraRules, ContentError> {
        let routes = Routes::of(bundle)?;
        let main_rules = compile_files(&routes.main)?;
        let mut gated = Vec::new();
        if !routes.literal.is_empty() {
            gated.push((
                SetGate::Literals(LiteralGate::new(&routes.literals, routes.prefix())),
                compile_files(&routes.literal)?,
            ));
        }
        for (gate, files) in &routes.by_gate {
            gated.push((SetGate::Named(*gate), compile_files(files)?));
        }
        let sources: Vec<(&str, &str)> = routes
            .main
            .iter()
            .chain(&routes.literal)
            .chain(routes.by_gate.iter().flat_map(|(_, f)| f))
            .copied()
            .collect();
        let mut meta: HashMap<String, HashMap<String, RuleMeta>> = HashMap::new();
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut count = 0;
        let all = std::iter::once(&main_rules).chain(gated.iter().map(|(_, r)| r));
        for rule in all.flat_map(|r| r.iter()) {
            if rule.is_private() {
                continue;
            }
            count += 1;
            let ns = rule.namespace();
            let ident = rule.identifier();
            let m = rule_meta(ns, ident, rule.metadata()).map_err(|message| {
                let line = sources
                    .iter()
                    .find(|(p, _)| *p == ns)
                    .and_then(|(_, text)| line_of_rule(text, ident));
                ContentError::Invalid {
                    path: ns.to_string(),
                    message: match line {
                        Some(l) => format!("line {l}: rule `{ident}`: {message}"),
                        None => format!("rule `{ident}`: {message}"),
                    },
                }
            })?;
            if let Some(first) = ids.insert(m.id.clone(), format!("{ns}:{ident}")) {
                return Err(ContentError::Invalid {
                    path: ns.to_string(),
                    message: format!("rule `{ident}`: id `{}` is already used by {first}", m.id),
                });
            }
            meta.entry(ns.to_string())
                .or_default()
                .insert(ident.to_string(), m);
        }
        Ok(YaraRules {
            main: main_rules,
            gated,
            meta,
            count,
        })
    }

    /// Public rules compiled (private helper rules never produce findings).
    pub fn rule_count(&self) -> usize {
        self.count
    }

    /// The rule files of `bundle` that go in the main set, run on every file (for measuring
    /// what each costs; the gated files are left out).
    pub fn main_set(bundle: &Bundle) -> Result<Vec<(&str, &str)>, ContentError> {
        Routes::of(bundle).map(|r| r.main)
    }

    /// A scanner for one thread, with the [`DEFAULT_TIMEOUT`].
    pub fn scanner(&self) -> YaraScanner<'_> {
        let new = |rules| {
            let mut s = Scanner::new(rules);
            s.set_timeout(DEFAULT_TIMEOUT);
            // Evidence shows the first match of a string; later ones are not worth the time.
            s.fast_scan(true);
            s
        };
        YaraScanner {
            rules: self,
            inner: new(&self.main),
            gated: self.gated.iter().map(|(g, r)| (g, new(r))).collect(),
        }
    }
}

impl YaraScanner<'_> {
    /// Changes the per-scan timeout (whole seconds; yara-x checks it about once a second).
    pub fn set_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.inner.set_timeout(timeout);
        for (_, s) in &mut self.gated {
            s.set_timeout(timeout);
        }
        self
    }

    /// Scans `data`; a timeout or engine error is returned, never a panic.
    pub fn scan(&mut self, data: &[u8]) -> Result<Vec<YaraMatch>, ContentError> {
        let mut out = Vec::new();
        collect(self.rules, self.inner.scan(data), &mut out)?;
        for (gate, scanner) in &mut self.gated {
            if gate.admits(data) {
                collect(self.rules, scanner.scan(data), &mut out)?;
            }
        }
        Ok(out)
    }
}

/// The matching public rules of one scan, with their metadata.
fn collect(
    rules: &YaraRules,
    results: Result<yara_x::ScanResults<'_, '_>, ScanError>,
    out: &mut Vec<YaraMatch>,
) -> Result<(), ContentError> {
    let results = results.map_err(|e| match e {
        ScanError::Timeout => ContentError::Scan("yara scan timed out".into()),
        e => ContentError::Scan(format!("yara scan failed: {e}")),
    })?;
    for rule in results.matching_rules() {
        let Some(m) = rules
            .meta
            .get(rule.namespace())
            .and_then(|n| n.get(rule.identifier()))
        else {
            continue;
        };
        out.push(YaraMatch {
            rule: m.id.clone(),
            title: m.title.clone(),
            severity: m.severity,
            confidence: m.confidence,
            attack: m.attack.clone(),
            description: m.description.clone(),
            reference: m.reference.clone(),
            evidence: evidence(&rule),
        });
    }
    Ok(())
}

/// Compiles one set of rule files, each its own namespace. Our files (not `user/`) may not
/// have slow patterns or compiler warnings.
fn compile_files(files: &[(&str, &str)]) -> Result<yara_x::Rules, ContentError> {
    let mut compiler = Compiler::new();
    // Content comes from memory; an include would read the working directory.
    compiler.enable_includes(false);
    for &(path, text) in files {
        let invalid = |message: String| ContentError::Invalid {
            path: path.to_string(),
            message,
        };
        let ours = !is_user(path);
        // Slow patterns cost every file of every scan; ours must not have them.
        compiler
            .error_on_slow_pattern(ours)
            .error_on_slow_loop(ours);
        let warned = compiler.warnings().len();
        compiler.new_namespace(path);
        compiler
            .add_source(SourceCode::from(text).with_origin(path))
            .map_err(|e| invalid(e.to_string()))?;
        if ours && let Some(w) = compiler.warnings().get(warned) {
            return Err(invalid(format!(
                "warnings are errors in customs' own rules:\n{w}"
            )));
        }
    }
    Ok(compiler.build())
}

/// The gate of a file under `yara/gated/<gate>/`; an unknown gate is a content error, so a
/// typo cannot silently put rules in the main set or drop them.
fn gate_of(path: &str) -> Result<Option<Gate>, ContentError> {
    let Some(rest) = path.strip_prefix("yara/gated/") else {
        return Ok(None);
    };
    let name = rest.split_once('/').map_or("", |(n, _)| n);
    Gate::from_name(name)
        .map(Some)
        .ok_or_else(|| ContentError::Invalid {
            path: path.to_string(),
            message: format!(
                "`{name}` is not a gate; rules under yara/gated/ go in a directory named after \
                 one of: {}",
                Gate::ALL
                    .iter()
                    .map(|g| g.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

fn is_user(path: &str) -> bool {
    path.starts_with("user/")
}

/// `rule IDENT: $a at 0x10 "text", ...`: the first match of the first few strings.
fn evidence(rule: &yara_x::Rule<'_, '_>) -> String {
    let mut s = format!("rule {}", rule.identifier());
    let mut shown = 0;
    let mut more = 0;
    for p in rule.patterns() {
        let Some(m) = p.matches().next() else {
            continue;
        };
        if shown == EVIDENCE_PATTERNS {
            more += 1;
            continue;
        }
        s.push_str(if shown == 0 { ": " } else { ", " });
        let _ = write!(
            s,
            "{} at {:#x} \"{}\"",
            p.identifier(),
            m.range().start,
            printable(m.data(), EVIDENCE_BYTES)
        );
        shown += 1;
    }
    if shown == 0 {
        s.push_str(": condition matched");
    }
    if more > 0 {
        let _ = write!(s, " (+{more} more)");
    }
    s
}

/// Printable ASCII kept, everything else `\xNN`, clipped to `max` input bytes.
pub(crate) fn printable(data: &[u8], max: usize) -> String {
    let mut s = String::new();
    for &b in &data[..data.len().min(max)] {
        match b {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(b as char);
            }
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    if data.len() > max {
        s.push_str("...");
    }
    s
}

/// The metadata customs reads, checked: required in our content, defaulted for users.
fn rule_meta(
    ns: &str,
    ident: &str,
    metadata: yara_x::Metadata<'_, '_>,
) -> Result<RuleMeta, String> {
    let user = is_user(ns);
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for (key, value) in metadata {
        if !matches!(
            key,
            "id" | "title" | "severity" | "confidence" | "attack" | "description" | "reference"
        ) {
            continue;
        }
        let MetaValue::String(v) = value else {
            return Err(format!("meta `{key}` must be a string"));
        };
        if fields.insert(key, v.trim()).is_some() {
            return Err(format!("meta `{key}` is given twice"));
        }
    }
    let field = |key: &str| -> Result<Option<&str>, String> {
        match fields.get(key) {
            Some(&"") => Err(format!("meta `{key}` is empty")),
            Some(v) => Ok(Some(v)),
            None if user => Ok(None),
            None => Err(format!("meta `{key}` is missing")),
        }
    };
    let id = match field("id")? {
        Some(id) => id.to_string(),
        None => format!("yara-user-{}", ident.to_ascii_lowercase().replace('_', "-")),
    };
    if !is_kebab(&id) {
        return Err(format!(
            "id `{id}` is not kebab-case (lowercase letters, digits, single hyphens)"
        ));
    }
    let severity = match field("severity")? {
        Some(s) => s.parse::<Severity>()?,
        None => Severity::Medium,
    };
    let confidence = match field("confidence")? {
        Some(c) => parse_confidence(c)?,
        None => Confidence::Medium,
    };
    let attack = match field("attack")? {
        Some(a) => {
            let ids: Vec<String> = a.split(',').map(|s| s.trim().to_string()).collect();
            if let Some(bad) = ids.iter().find(|i| !attack::is_valid(i)) {
                return Err(format!(
                    "attack `{bad}` is not an ATT&CK technique id (T1234 or T1234.001)"
                ));
            }
            ids
        }
        None => vec![USER_ATTACK.to_string()],
    };
    Ok(RuleMeta {
        id,
        title: field("title")?.unwrap_or(ident).to_string(),
        severity,
        confidence,
        attack,
        description: match field("description")? {
            Some(d) => d.to_string(),
            None => format!("User rule {ns}:{ident}"),
        },
        reference: fields.get("reference").map(|r| r.to_string()),
    })
}

fn parse_confidence(s: &str) -> Result<Confidence, String> {
    [Confidence::Low, Confidence::Medium, Confidence::High]
        .into_iter()
        .find(|c| c.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("unknown confidence `{s}` (low, medium, high)"))
}

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// 1-based line of `rule IDENT` in `text`, for error messages.
fn line_of_rule(text: &str, ident: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let mut words = l.split_whitespace();
            let mut w = words.next();
            while matches!(w, Some("private" | "global")) {
                w = words.next();
            }
            w == Some("rule")
                && words
                    .next()
                    .is_some_and(|n| n.trim_end_matches(['{', ':']) == ident)
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const MANIFEST: &[u8] = b"schema = 1\nversion = \"test\"";

    fn bundle(files: &[(&str, &str)]) -> Bundle {
        let mut map: BTreeMap<String, Vec<u8>> = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect();
        map.insert("manifest.toml".into(), MANIFEST.to_vec());
        Bundle::from_files(map).unwrap()
    }

    fn compile(files: &[(&str, &str)]) -> Result<YaraRules, ContentError> {
        YaraRules::compile(&bundle(files))
    }

    fn invalid(r: Result<YaraRules, ContentError>) -> (String, String) {
        match r {
            Err(ContentError::Invalid { path, message }) => (path, message),
            Err(e) => panic!("expected an invalid-content error, got {e}"),
            Ok(_) => panic!("expected an invalid-content error, it compiled"),
        }
    }

    /// A rule of ours with full metadata; `extra` goes into the meta section.
    fn ours(ident: &str, id: &str, skip: &str, strings: &str, condition: &str) -> String {
        let mut meta = String::new();
        for (k, v) in [
            ("id", id),
            ("title", "Test marker"),
            ("severity", "high"),
            ("confidence", "medium"),
            ("attack", "T1204.003, T1496"),
            ("description", "A harmless marker used by tests."),
            ("reference", "https://example.org/marker"),
        ] {
            if k != skip {
                meta.push_str(&format!("    {k} = \"{v}\"\n"));
            }
        }
        format!(
            "rule {ident} {{\n  meta:\n{meta}  strings:\n{strings}\n  condition:\n    {condition}\n}}\n"
        )
    }

    /// A condition that compiles with a warning (an integer used as a boolean).
    const WARNED: &str = "all of them and 1";

    const MARKER: &str = "    $a = \"customs-selftest-marker\"\n    $b = { 7a 71 78 00 ?? 01 }";

    #[test]
    fn our_rule_matches_the_sample_and_not_the_near_miss() {
        let r = compile(&[(
            "yara/test.yar",
            &ours("selftest", "selftest-marker", "", MARKER, "$a and $b"),
        )])
        .unwrap();
        assert_eq!(r.rule_count(), 1);
        let mut s = r.scanner();
        let hits = s
            .scan(b"xx customs-selftest-marker yy zqx\x00\xff\x01 end")
            .unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        let m = &hits[0];
        assert_eq!(m.rule, "selftest-marker");
        assert_eq!(m.title, "Test marker");
        assert_eq!(
            (m.severity, m.confidence),
            (Severity::High, Confidence::Medium)
        );
        assert_eq!(m.attack, ["T1204.003", "T1496"]);
        assert_eq!(m.reference.as_deref(), Some("https://example.org/marker"));
        assert_eq!(
            m.evidence,
            "rule selftest: $a at 0x3 \"customs-selftest-marker\", $b at 0x1e \"zqx\\x00\\xff\\x01\""
        );
        // One string short of the condition, or the marker with one byte changed: no match.
        assert!(s.scan(b"xx customs-selftest-marker yy").unwrap().is_empty());
        assert!(
            s.scan(b"customs-selftest-markex zqx\x00\xff\x01")
                .unwrap()
                .is_empty()
        );
    }

    /// A rule under `yara/gated/monero-address/` runs only where the gate admits the file; the
    /// main rules run everywhere, and metadata and ids are checked across both sets.
    #[test]
    fn gated_rules_run_only_where_their_gate_admits() {
        let r = compile(&[
            (
                "yara/gated/monero-address/t.yar",
                &ours("gated", "gated-marker", "", MARKER, "$a or $b"),
            ),
            (
                "yara/main.yar",
                &ours("main", "main-marker", "", "    $m = \"zqx-main\"", "$m"),
            ),
        ])
        .unwrap();
        assert_eq!(r.rule_count(), 2);
        let mut s = r.scanner();
        let ids = |s: &mut YaraScanner<'_>, data: &[u8]| -> Vec<String> {
            let mut v: Vec<String> = s.scan(data).unwrap().into_iter().map(|m| m.rule).collect();
            v.sort();
            v
        };
        let addr: String = std::iter::once('4')
            .chain(std::iter::repeat_n('B', 94))
            .collect();
        assert_eq!(
            ids(&mut s, b"customs-selftest-marker zqx-main"),
            ["main-marker"]
        );
        let admitted = format!("customs-selftest-marker zqx-main {addr}.");
        assert_eq!(
            ids(&mut s, admitted.as_bytes()),
            ["gated-marker", "main-marker"]
        );
        // The same id in both sets is refused like any duplicate.
        let dup = compile(&[
            (
                "yara/gated/monero-address/t.yar",
                &ours("a", "same-id", "", MARKER, "$a or $b"),
            ),
            (
                "yara/main.yar",
                &ours("b", "same-id", "", MARKER, "$a or $b"),
            ),
        ]);
        assert!(invalid(dup).1.contains("already used"));
    }

    /// Our file whose every rule needs a literal is compiled apart and runs only where one
    /// occurs; our file with a rule that proves none, and users' files, stay in the main set.
    /// The gated set tests the first bytes only when every file in it needs the same ones:
    /// the shipped miner rules all need an ELF header; one file without it drops the test.
    #[test]
    fn the_literal_gate_tests_the_first_bytes_only_when_every_gated_file_needs_them() {
        let shipped = Bundle::embedded().unwrap();
        assert_eq!(
            Routes::of(&shipped).unwrap().prefix(),
            Some(b"\x7fELF".to_vec())
        );
        let elf = ours(
            "elf",
            "elf-marker",
            "",
            "    $a = \"zqx-literal\"",
            "uint32(0) == 0x464c457f and $a",
        );
        let any = ours(
            "plain",
            "plain-marker",
            "",
            "    $b = \"zqy-literal\"",
            "$b",
        );
        let both = bundle(&[("yara/elf.yar", &elf), ("yara/any.yar", &any)]);
        let routes = Routes::of(&both).unwrap();
        assert_eq!(routes.literal.len(), 2);
        assert_eq!(routes.prefix(), None);
        let one = bundle(&[("yara/elf.yar", &elf)]);
        assert_eq!(
            Routes::of(&one).unwrap().prefix(),
            Some(b"\x7fELF".to_vec())
        );
        // And the engine agrees: the ELF rule's literal outside an ELF file finds nothing.
        let r = YaraRules::compile(&one).unwrap();
        let mut s = r.scanner();
        assert!(s.scan(b"#!/bin/sh zqx-literal").unwrap().is_empty());
        let found: Vec<String> = s
            .scan(b"\x7fELF zqx-literal")
            .unwrap()
            .into_iter()
            .map(|m| m.rule)
            .collect();
        assert_eq!(found, ["elf-marker"]);
    }

    #[test]
    fn literal_gated_files_run_only_where_a_literal_occurs() {
        let r = compile(&[
            (
                "yara/literal.yar",
                &ours(
                    "lit",
                    "lit-marker",
                    "",
                    "    $a = \"zqx-literal\"\n    $r = /zq[0-9]x/",
                    "$a and $r",
                ),
            ),
            (
                "yara/open.yar",
                &ours("open", "open-marker", "", "    $r = /zq[0-9]x/", "$r"),
            ),
            (
                "user/0/u.yar",
                "rule u { strings: $u = \"zqx-user\" condition: $u }",
            ),
        ])
        .unwrap();
        let namespaces = |rules: &yara_x::Rules| -> Vec<String> {
            let mut v: Vec<String> = rules.iter().map(|r| r.namespace().to_string()).collect();
            v.sort();
            v
        };
        let literal: Vec<&yara_x::Rules> = r
            .gated
            .iter()
            .filter(|(g, _)| matches!(g, SetGate::Literals(_)))
            .map(|(_, rules)| rules)
            .collect();
        assert_eq!(literal.len(), 1, "one literal-gated set");
        assert_eq!(namespaces(literal[0]), ["yara/literal.yar"]);
        assert_eq!(namespaces(&r.main), ["user/0/u.yar", "yara/open.yar"]);
        assert_eq!(r.rule_count(), 3);
        let mut s = r.scanner();
        let mut ids = |data: &[u8]| -> Vec<String> {
            let mut v: Vec<String> = s.scan(data).unwrap().into_iter().map(|m| m.rule).collect();
            v.sort();
            v
        };
        assert_eq!(
            ids(b"zq1x zqx-literal zqx-user"),
            ["lit-marker", "open-marker", "yara-user-u"]
        );
        assert_eq!(ids(b"zq1x zqx-litera1"), ["open-marker"]);
    }

    #[test]
    fn an_unknown_gate_is_a_content_error() {
        for path in ["yara/gated/monero/t.yar", "yara/gated/t.yar"] {
            let (p, message) = invalid(compile(&[(
                path,
                &ours("g", "g-id", "", MARKER, "$a or $b"),
            )]));
            assert_eq!(p, path);
            assert!(message.contains("monero-address"), "{message}");
        }
    }

    #[test]
    fn compile_errors_name_the_file_and_line() {
        let (path, message) = invalid(compile(&[
            (
                "yara/good.yar",
                &ours("good", "good-rule", "", MARKER, "$a and $b"),
            ),
            (
                "yara/bad.yar",
                "rule bad {\n  strings:\n    $a = \"x\"\n  condition:\n    $a and\n}\n",
            ),
        ]));
        assert_eq!(path, "yara/bad.yar");
        assert!(message.contains("yara/bad.yar:6"), "{message}");
    }

    #[test]
    fn our_metadata_is_required_and_checked() {
        for (skip, field) in [("severity", "severity"), ("id", "id"), ("attack", "attack")] {
            let (path, message) = invalid(compile(&[(
                "yara/x.yar",
                &format!("\n\n{}", ours("marker", "m-1", skip, MARKER, "all of them")),
            )]));
            assert_eq!(path, "yara/x.yar");
            assert_eq!(
                message,
                format!("line 3: rule `marker`: meta `{field}` is missing")
            );
        }
        let bad = |rule: String, needle: &str| {
            let (_, message) = invalid(compile(&[("yara/x.yar", &rule)]));
            assert!(message.contains(needle), "{message}");
        };
        let good = ours("m", "m-1", "", MARKER, "all of them");
        bad(good.replace("m-1", "Not_Kebab"), "not kebab-case");
        bad(
            good.replace("\"high\"", "\"severe\""),
            "unknown severity `severe`",
        );
        bad(good.replace("T1496", "T14"), "attack `T14`");
        bad(
            good.replace("\"medium\"", "3"),
            "meta `confidence` must be a string",
        );
        // A warning is an error in our content, not in users'.
        let warned = ours("m", "m-1", "", MARKER, WARNED);
        bad(warned.clone(), "warnings are errors");
        assert!(compile(&[("user/0/x.yar", &warned)]).is_ok());
        assert!(compile(&[("yara/x.yar", &good)]).is_ok());
    }

    #[test]
    fn ids_are_unique_across_files() {
        let (path, message) = invalid(compile(&[
            (
                "yara/a.yar",
                &ours("one", "same-id", "", MARKER, "$a and $b"),
            ),
            (
                "yara/b.yar",
                &ours("two", "same-id", "", MARKER, "$a and $b"),
            ),
        ]));
        assert_eq!(path, "yara/b.yar");
        assert!(
            message.contains("already used by yara/a.yar:one"),
            "{message}"
        );
    }

    #[test]
    fn user_rules_without_metadata_get_defaults() {
        let r = compile(&[(
            "user/0/sub/mine.yara",
            "rule My_Marker { strings: $m = \"zqx-user\" condition: $m }\n\
             private rule helper { condition: true }",
        )])
        .unwrap();
        assert_eq!(r.rule_count(), 1);
        let hits = r.scanner().scan(b"..zqx-user..").unwrap();
        assert_eq!(
            hits,
            [YaraMatch {
                rule: "yara-user-my-marker".into(),
                title: "My_Marker".into(),
                severity: Severity::Medium,
                confidence: Confidence::Medium,
                attack: vec!["T1204.003".into()],
                description: "User rule user/0/sub/mine.yara:My_Marker".into(),
                reference: None,
                evidence: "rule My_Marker: $m at 0x2 \"zqx-user\"".into(),
            }]
        );
        // A field a user does give is checked like ours.
        let (path, message) = invalid(compile(&[(
            "user/0/x.yar",
            "rule u { meta: severity = \"urgent\" condition: true }",
        )]));
        assert_eq!(path, "user/0/x.yar");
        assert!(message.contains("unknown severity `urgent`"), "{message}");
    }

    #[test]
    fn a_timeout_is_an_error_value() {
        // Quadratic in the file size on purpose: about 10^10 steps on 100 KB.
        let r = compile(&[(
            "user/0/slow.yar",
            "rule slow { condition: for all i in (0..filesize) : \
             ( for all j in (0..filesize) : ( uint8(i) != uint8(j) + 1 or i >= 0 ) ) }",
        )])
        .unwrap();
        let mut s = r.scanner();
        s.set_timeout(Duration::from_secs(1));
        let started = std::time::Instant::now();
        let err = s.scan(&vec![0u8; 100_000]).unwrap_err();
        assert!(
            matches!(&err, ContentError::Scan(m) if m.contains("timed out")),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        // The scanner is still usable afterwards.
        assert!(s.scan(b"").unwrap().len() <= 1);
    }

    #[test]
    fn evidence_is_printable_and_clipped() {
        assert_eq!(printable(b"a\"b\\c\n\x00", 10), "a\\\"b\\\\c\\x0a\\x00");
        assert_eq!(printable(&[b'x'; 60], 4), "xxxx...");
    }

    #[test]
    fn finds_rule_lines() {
        let text = "// c\nprivate rule a { condition: true }\nrule b: tag {\n}\nrule c{";
        assert_eq!(line_of_rule(text, "a"), Some(2));
        assert_eq!(line_of_rule(text, "b"), Some(3));
        assert_eq!(line_of_rule(text, "c"), Some(5));
        assert_eq!(line_of_rule(text, "d"), None);
    }

    #[test]
    fn embedded_rules_compile() {
        let r = YaraRules::compile(&Bundle::embedded().unwrap()).unwrap();
        let n = Bundle::embedded()
            .unwrap()
            .files("yara/", &[".yar", ".yara"])
            .count();
        assert!(n == 0 || r.rule_count() > 0);
    }
}
