//! `.customsignore`: findings a team has looked at and accepted, each with a reason and
//! optionally an expiry date. Parsed strictly from text (the CLI reads the file).

use customs_core::{Digest, ExpiredIgnore, Finding, Suppressed};
use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use toml::Spanned;

use crate::{Date, PolicyError, line_of, toml_error};

/// The ignore-file format this customs reads.
pub const IGNORE_SCHEMA: u32 = 1;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    schema: Option<u32>,
    #[serde(default)]
    ignore: Vec<Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    rule: Option<String>,
    path: Option<String>,
    image: Option<String>,
    reason: Option<String>,
    expires: Option<RawDate>,
}

/// `expires` as written: a string (`"2027-01-31"`) or a TOML local date (`2027-01-31`).
struct RawDate(Result<Date, String>);

impl<'de> Deserialize<'de> for RawDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawDate;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a date, YYYY-MM-DD")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RawDate, E> {
                Ok(RawDate(s.parse()))
            }
            // TOML dates reach serde as a one-entry map that `Datetime` knows how to read.
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawDate, A::Error> {
                let dt = toml::value::Datetime::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(RawDate(match (dt.date, dt.time, dt.offset) {
                    (Some(d), None, None) => Date::new(i32::from(d.year), d.month, d.day)
                        .ok_or_else(|| format!("`{dt}` is not a day of the calendar")),
                    _ => Err(format!("`{dt}` is not a date of the form YYYY-MM-DD")),
                }))
            }
        }
        d.deserialize_any(V)
    }
}

/// One `[[ignore]]` entry. Every field given must match; at least one of `rule`, `path`
/// and `image` is given.
#[derive(Clone, Debug)]
pub struct IgnoreEntry {
    /// Rule id, matched exactly.
    pub rule: Option<String>,
    /// Path glob, as written.
    pub path: Option<String>,
    /// A manifest digest (every finding of that image) or a layer digest (findings in
    /// files that layer added).
    pub image: Option<String>,
    /// Why the finding is accepted; required.
    pub reason: String,
    /// The last day the entry applies (UTC).
    pub expires: Option<Date>,
    /// Line of the entry in the file, for messages.
    pub line: usize,
    glob: Option<GlobMatcher>,
}

impl IgnoreEntry {
    /// Whether `today` is past the expiry date.
    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|e| today > e)
    }

    /// Whether the entry covers `finding` of the image whose manifest digest is `image`,
    /// expiry aside.
    pub fn matches(&self, finding: &Finding, image: Option<&str>) -> bool {
        self.rule.as_ref().is_none_or(|r| *r == finding.rule)
            && self.glob.as_ref().is_none_or(|g| {
                finding
                    .path
                    .as_deref()
                    .is_some_and(|p| g.is_match(p.trim_start_matches('/')))
            })
            && self
                .image
                .as_deref()
                .is_none_or(|d| image == Some(d) || finding.layer.as_deref() == Some(d))
    }

    /// `rule `x`, path `y`` for messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = &self.rule {
            parts.push(format!("rule `{r}`"));
        }
        if let Some(p) = &self.path {
            parts.push(format!("path `{p}`"));
        }
        if let Some(i) = &self.image {
            parts.push(format!("image `{i}`"));
        }
        parts.join(", ")
    }

    fn expired_record(&self) -> ExpiredIgnore {
        ExpiredIgnore {
            rule: self.rule.clone(),
            path: self.path.clone(),
            image: self.image.clone(),
            reason: self.reason.clone(),
            expires: self.expires.map(|d| d.to_string()).unwrap_or_default(),
        }
    }
}

/// The entries of one ignore file, in file order.
#[derive(Clone, Debug, Default)]
pub struct IgnoreList {
    entries: Vec<IgnoreEntry>,
}

/// What applying an ignore list to one image's findings did.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// The findings no live entry covers, in their original order.
    pub findings: Vec<Finding>,
    /// The findings removed, each with the reason of the first entry that covers it.
    pub suppressed: Vec<Suppressed>,
    /// Expired entries that cover at least one finding (which is therefore kept).
    pub expired: Vec<ExpiredIgnore>,
    /// For each entry, how many findings it covered (live entries only), to find entries
    /// that match nothing over a whole run.
    pub matched: Vec<usize>,
}

impl IgnoreList {
    /// Parses an ignore file. Unknown keys, entries without a reason or without anything to
    /// match, bad globs, bad digests and bad dates are errors naming their line.
    pub fn parse(text: &str) -> Result<IgnoreList, PolicyError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        if let Some(s) = raw.schema
            && s != IGNORE_SCHEMA
        {
            return Err(PolicyError::Invalid {
                line: 1,
                message: format!(
                    "schema {s} is not supported (this customs reads schema {IGNORE_SCHEMA})"
                ),
            });
        }
        let entries = raw
            .ignore
            .into_iter()
            .map(|spanned| {
                let line = line_of(text, spanned.span().start);
                entry(spanned.into_inner(), line)
            })
            .collect::<Result<_, _>>()?;
        Ok(IgnoreList { entries })
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[IgnoreEntry] {
        &self.entries
    }

    /// Removes the findings that live entries cover. `image` is the image's manifest
    /// digest; `today` decides expiry. Errors and skipped content are not findings, so no
    /// entry can hide an `error` verdict.
    pub fn apply(&self, findings: Vec<Finding>, image: Option<&str>, today: Date) -> Applied {
        let mut out = Applied {
            matched: vec![0; self.entries.len()],
            ..Applied::default()
        };
        let expired: Vec<bool> = self.entries.iter().map(|e| e.is_expired(today)).collect();
        let mut expired_hit = vec![false; self.entries.len()];
        for f in findings {
            let mut first = None;
            for (i, e) in self.entries.iter().enumerate() {
                if !e.matches(&f, image) {
                    continue;
                }
                if expired[i] {
                    expired_hit[i] = true;
                } else {
                    out.matched[i] += 1;
                    first.get_or_insert(i);
                }
            }
            match first {
                Some(i) => out.suppressed.push(Suppressed {
                    rule: f.rule,
                    severity: f.severity,
                    path: f.path,
                    layer: f.layer,
                    reason: self.entries[i].reason.clone(),
                }),
                None => out.findings.push(f),
            }
        }
        out.expired = self
            .entries
            .iter()
            .zip(expired_hit)
            .filter(|(_, hit)| *hit)
            .map(|(e, _)| e.expired_record())
            .collect();
        out
    }
}

fn entry(raw: RawEntry, line: usize) -> Result<IgnoreEntry, PolicyError> {
    let invalid = |message: String| PolicyError::Invalid { line, message };
    let reason = raw.reason.unwrap_or_default();
    if reason.trim().is_empty() {
        return Err(invalid(
            "ignore entry has no `reason`: say why the finding is accepted".into(),
        ));
    }
    if raw.rule.is_none() && raw.path.is_none() && raw.image.is_none() {
        return Err(invalid(
            "ignore entry matches everything: give at least one of `rule`, `path`, `image`".into(),
        ));
    }
    if raw.rule.as_deref().is_some_and(str::is_empty) {
        return Err(invalid("ignore entry has an empty `rule`".into()));
    }
    let glob = match &raw.path {
        None => None,
        Some(p) => {
            // Report paths have no leading `/`; people write them with one.
            let pattern = p.trim_start_matches('/');
            if pattern.is_empty() {
                return Err(invalid(format!("ignore entry has an empty `path` (`{p}`)")));
            }
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| invalid(format!("bad path glob `{p}`: {}", e.kind())))?;
            Some(glob.compile_matcher())
        }
    };
    if let Some(d) = &raw.image {
        d.parse::<Digest>()
            .map_err(|e| invalid(format!("bad `image`: {e}")))?;
    }
    let expires = raw
        .expires
        .map(|d| d.0.map_err(|e| invalid(format!("bad `expires`: {e}"))))
        .transpose()?;
    Ok(IgnoreEntry {
        rule: raw.rule,
        path: raw.path,
        image: raw.image,
        reason,
        expires,
        line,
        glob,
    })
}
