//! The human-readable report: a header per image, findings grouped by severity (worst
//! first, the ones that set the verdict marked `*`), a summary line with the verdict, then
//! everything that was not read, every error, and every finding an ignore entry removed,
//! so a verdict of `error` always shows its reason and nothing disappears silently.
//!
//! Paths, evidence and names come from hostile images: every string taken from a report is
//! passed through [`clean`], so a file name can not move the cursor, clear the screen or
//! reorder text. No line ends in whitespace.

use std::fmt::Write as _;
use std::io::{self, Write};

use customs_core::{Finding, Report, Severity, Verdict};

/// ANSI SGR sequences, only written when colour is on.
mod sgr {
    pub const RESET: &str = "\x1b[0m";
    pub const BOLD: &str = "\x1b[1m";
    pub const DIM: &str = "\x1b[2m";
    pub const RED_BOLD: &str = "\x1b[1;31m";
    pub const RED: &str = "\x1b[31m";
    pub const GREEN: &str = "\x1b[32m";
    pub const YELLOW: &str = "\x1b[33m";
    pub const CYAN: &str = "\x1b[36m";
}

/// Severities worst first, the order findings are listed in.
const WORST_FIRST: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

/// Verdicts in the order the total line counts them.
const VERDICTS: [Verdict; 4] = [
    Verdict::Malicious,
    Verdict::Suspicious,
    Verdict::Error,
    Verdict::Clean,
];

/// Width of the header labels (`platform` is the longest).
const LABEL: usize = 10;

pub(super) fn write(reports: &[Report], w: &mut dyn Write, color: bool) -> io::Result<()> {
    let mut out = Out {
        w,
        color,
        line: String::new(),
    };
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            out.end()?;
        }
        report(&mut out, r)?;
    }
    if reports.len() > 1 {
        out.end()?;
        total(&mut out, reports)?;
    }
    Ok(())
}

/// Builds one line at a time, so trailing whitespace can be cut before it is written.
struct Out<'a> {
    w: &'a mut dyn Write,
    color: bool,
    line: String,
}

impl Out<'_> {
    fn text(&mut self, s: &str) -> &mut Self {
        self.line.push_str(s);
        self
    }

    /// Appends `s` in the given style (when colour is on).
    fn styled(&mut self, style: &str, s: &str) -> &mut Self {
        if self.color {
            self.line.push_str(style);
            self.line.push_str(s);
            self.line.push_str(sgr::RESET);
        } else {
            self.line.push_str(s);
        }
        self
    }

    /// Writes the line built so far.
    fn end(&mut self) -> io::Result<()> {
        let line = std::mem::take(&mut self.line);
        self.w.write_all(line.trim_end().as_bytes())?;
        self.w.write_all(b"\n")
    }
}

fn report(out: &mut Out<'_>, r: &Report) -> io::Result<()> {
    header(out, r)?;
    out.end()?;
    for sev in WORST_FIRST {
        let group: Vec<(usize, &Finding)> = r
            .findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.severity == sev)
            .collect();
        if group.is_empty() {
            continue;
        }
        let head = format!("{} ({})", sev.as_str().to_uppercase(), group.len());
        out.styled(severity_style(sev), &head).end()?;
        for (i, f) in group {
            finding(out, f, r.drivers.findings.contains(&i))?;
        }
        out.end()?;
    }
    summary(out, r)?;
    for s in &r.coverage.skipped {
        out.text("  skipped  ").text(&clean(&s.path));
        if let Some(layer) = &s.layer {
            out.text(&format!(" (layer {})", short_digest(layer)));
        }
        out.text(": ").text(&clean(&s.reason)).end()?;
    }
    for e in &r.errors {
        out.text("  ")
            .styled(sgr::RED, "error")
            .text("    ")
            .text(&clean(e))
            .end()?;
    }
    for s in &r.suppressed {
        out.text("  ignored  ")
            .text(&clean(&s.rule))
            .text(&format!(" ({}) ", s.severity))
            .text(&s.path.as_deref().map_or("(image)".into(), clean));
        if let Some(layer) = &s.layer {
            out.text(&format!(" (layer {})", short_digest(layer)));
        }
        out.text(": ").text(&clean(&s.reason)).end()?;
    }
    for e in &r.ignored_expired {
        let mut what = Vec::new();
        for (k, v) in [("rule", &e.rule), ("path", &e.path), ("image", &e.image)] {
            if let Some(v) = v {
                what.push(format!("{k} {}", clean(v)));
            }
        }
        out.text("  ")
            .styled(sgr::YELLOW, "expired")
            .text(&format!(
                "  ignore entry ({}) expired on {}, its findings are listed again: {}",
                what.join(", "),
                clean(&e.expires),
                clean(&e.reason)
            ))
            .end()?;
    }
    Ok(())
}

/// A cloud machine image has an id and an owner instead of a digest and layers.
fn machine_image_header(
    out: &mut Out<'_>,
    field: impl Fn(&mut Out<'_>, &str, &str) -> io::Result<()>,
    image: &customs_core::ImageInfo,
    m: &customs_core::MachineImageInfo,
) -> io::Result<()> {
    field(out, "id", &format!("{} {}", clean(&m.cloud), clean(&m.id)))?;
    let mut owner = clean(&m.owner);
    if let Some(a) = &m.owner_alias {
        owner.push_str(&format!(" (alias {})", clean(a)));
    }
    match m.public {
        Some(true) => owner.push_str(", public"),
        Some(false) => owner.push_str(", private"),
        None => {}
    }
    field(out, "owner", &owner)?;
    let platform = image
        .platform
        .as_ref()
        .map_or("-".into(), |p| clean(&p.to_string()));
    field(out, "platform", &platform)?;
    field(
        out,
        "created",
        &image.created.as_deref().map_or("-".into(), clean),
    )
}

fn header(out: &mut Out<'_>, r: &Report) -> io::Result<()> {
    let field = |out: &mut Out<'_>, label: &str, value: &str| {
        out.styled(sgr::BOLD, &format!("{label:<LABEL$}"))
            .text(value)
            .end()
    };
    field(out, "target", &clean(&r.target))?;
    let Some(image) = &r.image else {
        return field(out, "image", "(not opened)");
    };
    field(
        out,
        "image",
        &image.name.as_deref().map_or("-".into(), clean),
    )?;
    if let Some(m) = &image.machine_image {
        return machine_image_header(out, field, image, m);
    }
    let digest = image.digest.as_deref().map_or("-".into(), |d| {
        let (alg, _) = d.split_once(':').unwrap_or(("", d));
        if alg.is_empty() {
            short_digest(d)
        } else {
            format!("{}:{}", clean(alg), short_digest(d))
        }
    });
    field(out, "digest", &digest)?;
    let platform = image
        .platform
        .as_ref()
        .map_or("-".into(), |p| clean(&p.to_string()));
    field(out, "platform", &platform)?;
    field(out, "layers", &image.layers.len().to_string())?;
    field(
        out,
        "created",
        &image.created.as_deref().map_or("-".into(), clean),
    )
}

/// One finding: severity, rule and where on the first line, what matched on the second. A
/// finding that set the verdict is marked `*`.
fn finding(out: &mut Out<'_>, f: &Finding, driver: bool) -> io::Result<()> {
    let sev = f.severity.as_str();
    out.text(if driver { "* " } else { "  " })
        .styled(severity_style(f.severity), sev)
        .text(&" ".repeat(9 - sev.len()))
        .text(&clean(&f.rule))
        .text("  ")
        .text(&f.path.as_deref().map_or("(image)".into(), clean));
    let mut place = Vec::new();
    if let Some(layer) = &f.layer {
        place.push(format!("layer {}", short_digest(layer)));
    }
    if let Some(d) = &f.deleted_in {
        place.push(format!("deleted in {}", short_digest(d)));
    }
    if !place.is_empty() {
        out.text("  ")
            .styled(sgr::DIM, &format!("[{}]", place.join(", ")));
    }
    out.end()?;
    let mut what = clean(&f.title);
    if !f.evidence.is_empty() {
        let _ = write!(what, ": {}", clean(&f.evidence));
    }
    out.text(&" ".repeat(11)).text(&what).end()
}

fn summary(out: &mut Out<'_>, r: &Report) -> io::Result<()> {
    out.text("verdict: ")
        .styled(verdict_style(r.verdict), r.verdict.as_str())
        .text(&format!(" (score {}{})", r.score, set_by(r)))
        .text(" · ")
        .text(&severity_counts(r.findings.iter()))
        .text(&format!(
            " · {} files, {} read, {} skipped",
            r.coverage.files,
            human_bytes(r.coverage.bytes),
            r.coverage.skipped.len()
        ));
    if !r.errors.is_empty() {
        let n = r.errors.len();
        out.text(&format!(", {n} error{}", if n == 1 { "" } else { "s" }));
    }
    if !r.suppressed.is_empty() {
        out.text(&format!(", {} ignored", r.suppressed.len()));
    }
    out.text(&format!(" · {} ms", r.duration_ms)).end()
}

/// `, set by the finding marked *`, `, set by 1 error and 2 skipped items`, or nothing.
fn set_by(r: &Report) -> String {
    let d = &r.drivers;
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut causes = Vec::new();
    match d.findings.len() {
        0 => {}
        1 => causes.push("the finding marked *".to_string()),
        n => causes.push(format!("the {n} findings marked *")),
    }
    if !d.errors.is_empty() {
        causes.push(plural(d.errors.len(), "error", "errors"));
    }
    if !d.skipped.is_empty() {
        causes.push(plural(d.skipped.len(), "skipped item", "skipped items"));
    }
    if causes.is_empty() {
        String::new()
    } else {
        format!(", set by {}", causes.join(" and "))
    }
}

/// `3 images: 1 malicious, 2 clean · 1 high, 2 low` over the whole run.
fn total(out: &mut Out<'_>, reports: &[Report]) -> io::Result<()> {
    out.text(&format!("total: {} images: ", reports.len()));
    let mut first = true;
    for v in VERDICTS {
        let n = reports.iter().filter(|r| r.verdict == v).count();
        if n == 0 {
            continue;
        }
        if !first {
            out.text(", ");
        }
        first = false;
        out.text(&format!("{n} "))
            .styled(verdict_style(v), v.as_str());
    }
    let counts = severity_counts(reports.iter().flat_map(|r| &r.findings));
    out.text(" · ").text(&counts).end()
}

/// `1 high, 2 low`, worst first, or `no findings`.
fn severity_counts<'a>(findings: impl Iterator<Item = &'a Finding>) -> String {
    let mut n = [0usize; 5];
    for f in findings {
        n[f.severity as usize] += 1;
    }
    let parts: Vec<String> = WORST_FIRST
        .iter()
        .filter(|s| n[**s as usize] > 0)
        .map(|s| format!("{} {}", n[*s as usize], s.as_str()))
        .collect();
    if parts.is_empty() {
        "no findings".into()
    } else {
        parts.join(", ")
    }
}

fn severity_style(s: Severity) -> &'static str {
    match s {
        Severity::Critical => sgr::RED_BOLD,
        Severity::High => sgr::RED,
        Severity::Medium => sgr::YELLOW,
        Severity::Low => sgr::CYAN,
        Severity::Info => sgr::DIM,
    }
}

fn verdict_style(v: Verdict) -> &'static str {
    match v {
        Verdict::Malicious | Verdict::Error => sgr::RED_BOLD,
        Verdict::Suspicious => sgr::YELLOW,
        Verdict::Clean => sgr::GREEN,
    }
}

/// The first 12 hex digits of `algorithm:hex`, as Docker shows ids; anything that is not a
/// digest (a `dir:` layer) is shown whole, escaped.
fn short_digest(d: &str) -> String {
    match d.split_once(':') {
        Some((_, hex)) if hex.len() >= 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            hex[..12].to_string()
        }
        _ => clean(d),
    }
}

/// `s` with every character that could drive a terminal escaped (`\u{1b}`, `\n`, …): C0
/// and C1 controls, DEL, and the invisible format characters that reorder or hide text
/// (bidirectional overrides, zero-width characters).
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || is_invisible_format(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00ad}'
        | '\u{061c}'
        | '\u{180e}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}')
}

/// `512 B`, `3.4 KiB`, `1.2 GiB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use customs_core::{Confidence, ContentInfo, Coverage, REPORT_SCHEMA, Skipped};

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            schema: REPORT_SCHEMA.into(),
            target: "oci:/x".into(),
            image: None,
            verdict: Verdict::Malicious,
            score: 80,
            findings,
            coverage: Coverage {
                files: 3,
                bytes: 3_565_158,
                skipped: vec![Skipped {
                    path: "big\x1b[2J".into(),
                    reason: "too big".into(),
                    layer: Some(format!("sha256:{}", "ab".repeat(32))),
                }],
                partial: vec![],
                verified_by_package_db: 0,
            },
            content: ContentInfo {
                version: "builtin".into(),
                digest: "sha256:00".into(),
            },
            errors: vec![],
            duration_ms: 120,
            drivers: Default::default(),
            suppressed: vec![],
            ignored_expired: vec![],
        }
    }

    fn finding(sev: Severity, path: &str, evidence: &str) -> Finding {
        Finding {
            rule: "r".into(),
            title: "T".into(),
            severity: sev,
            confidence: Confidence::High,
            attack: vec![],
            layer: Some(format!("sha256:{}", "0123456789abcdef".repeat(4))),
            deleted_in: None,
            path: Some(path.into()),
            evidence: evidence.into(),
            description: String::new(),
        }
    }

    fn render(reports: &[Report], color: bool) -> String {
        let mut buf = Vec::new();
        write(reports, &mut buf, color).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn hostile_names_can_not_reach_the_terminal() {
        let f = finding(
            Severity::High,
            "a\x1b]0;pwned\x07\nb\u{202e}c",
            "x\x1b[2J\r\u{9b}",
        );
        let text = render(&[report(vec![f])], true);
        // The only escape sequences left are our own SGR colours.
        let without_sgr = text.split('\x1b').skip(1).all(|rest| {
            rest.starts_with('[') && rest[1..].starts_with(|c: char| c.is_ascii_digit())
        });
        assert!(without_sgr, "{text:?}");
        assert!(text.contains(r"a\u{1b}]0;pwned\u{7}\nb\u{202e}c"), "{text}");
        assert!(text.contains(r"x\u{1b}[2J\r\u{9b}"), "{text}");
        assert!(text.contains(r"big\u{1b}[2J"), "{text}");
        assert!(!text.contains('\r') && !text.contains('\u{9b}') && !text.contains('\u{202e}'));
        let plain = render(&[report(vec![])], false);
        assert!(!plain.contains('\x1b'), "{plain}");
    }

    #[test]
    fn groups_worst_first_and_summarises() {
        let r = report(vec![
            finding(Severity::Low, "l", ""),
            finding(Severity::Critical, "c", "e"),
            finding(Severity::Low, "l2", "e "),
        ]);
        let text = render(&[r.clone(), r], false);
        let crit = text.find("CRITICAL (1)").unwrap();
        let low = text.find("LOW (2)").unwrap();
        assert!(crit < low, "{text}");
        assert!(
            text.contains(
                "verdict: malicious (score 80) · 1 critical, 2 low · 3 files, 3.4 MiB read, 1 skipped · 120 ms"
            ),
            "{text}"
        );
        assert!(text.contains("[layer 0123456789ab]"), "{text}");
        assert!(
            text.ends_with("total: 2 images: 2 malicious · 2 critical, 4 low\n"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.trim_end() == l), "{text}");
    }

    #[test]
    fn marks_drivers_and_lists_what_was_ignored() {
        use customs_core::{Drivers, ExpiredIgnore, Suppressed};
        let mut r = report(vec![
            finding(Severity::Critical, "c", "e"),
            finding(Severity::Low, "l", ""),
        ]);
        r.drivers = Drivers {
            findings: vec![0],
            errors: vec![],
            skipped: vec![0],
        };
        r.suppressed = vec![Suppressed {
            rule: "r\x1b[2J".into(),
            severity: Severity::High,
            path: Some("usr/bin/x".into()),
            layer: Some(format!("sha256:{}", "cd".repeat(32))),
            reason: "vendor tool\x07".into(),
        }];
        r.ignored_expired = vec![ExpiredIgnore {
            rule: Some("r".into()),
            path: None,
            image: None,
            reason: "until 1.2".into(),
            expires: "2020-01-01".into(),
        }];
        let text = render(&[r], false);
        assert!(
            text.contains("* critical r  c  [layer 0123456789ab]"),
            "{text}"
        );
        assert!(text.contains("\n  low      r  l"), "{text}");
        assert!(
            text.contains("(score 80, set by the finding marked * and 1 skipped item)"),
            "{text}"
        );
        assert!(text.contains("1 skipped, 1 ignored · 120 ms"), "{text}");
        assert!(
            text.contains(
                r"  ignored  r\u{1b}[2J (high) usr/bin/x (layer cdcdcdcdcdcd): vendor tool\u{7}"
            ),
            "{text}"
        );
        assert!(
            text.contains("  expired  ignore entry (rule r) expired on 2020-01-01, its findings are listed again: until 1.2"),
            "{text}"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
