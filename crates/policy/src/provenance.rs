//! The `[provenance]` section of the policy file: where an image may come from, whether it
//! must be pinned by digest and signed, and how young it may be; and the pure check that
//! turns those rules into findings.
//!
//! The check is a function of the image's name, its config `created`, the signature
//! verification the caller did (the registry client fetches and verifies cosign
//! signatures), and "now": no I/O, no clock, so every component gives the same answer.

use std::path::PathBuf;

use customs_core::{Confidence, Finding, ImageRef, Severity, attack};
use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;

use crate::PolicyError;
use crate::date::parse_duration;

/// ATT&CK Subvert Trust Controls: a signature that does not hold.
const SUBVERT_TRUST_CONTROLS: &str = "T1553";

/// A `created` this far ahead of "now" is clock skew, not a forged date.
const FUTURE_SKEW_SECS: i64 = 300;

/// Before this (1990-01-01), a `created` is a reproducible-build placeholder (`1970-01-01`,
/// `0001-01-01`), not a build date.
const PLACEHOLDER_BEFORE_UNIX: i64 = 631_152_000;

/// The `[provenance]` rules. Every key is optional; an empty section checks nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    /// Registry hosts (glob) images may come from; empty: any.
    pub allowed_registries: Vec<Pattern>,
    /// Namespaces (`registry/path`, glob) images may come from; empty: any.
    pub allowed_namespaces: Vec<Pattern>,
    /// The name must carry `@sha256:…`.
    pub require_digest: bool,
    /// An image without a valid signature by one of [`Provenance::keys`] is a finding.
    pub require_signature: bool,
    /// Cosign public keys (PEM files), as written in the policy file: relative paths are
    /// relative to the policy file's directory, which the caller resolves.
    pub keys: Vec<PathBuf>,
    /// An image whose `created` is less than this many seconds old is "newly built".
    pub newly_built_secs: Option<u64>,
    /// 1-based line of the section, for messages.
    pub line: usize,
}

/// A glob over registry hosts or repository names, keeping the text it was written as.
#[derive(Clone, Debug)]
pub struct Pattern {
    text: String,
    /// `None` for a literal: a literal namespace also covers everything below it.
    glob: Option<GlobMatcher>,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.text == other.text
    }
}
impl Eq for Pattern {}

impl Pattern {
    fn new(text: &str, what: &str) -> Result<Pattern, String> {
        let text = normalize_name(text.trim());
        if text.is_empty() {
            return Err(format!("an empty entry in `{what}`"));
        }
        let glob = if text.contains(['*', '?', '[', '{']) {
            // `*` stays within one path component, `**` crosses them, as in .customsignore.
            let g = GlobBuilder::new(&text)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("bad glob `{text}` in `{what}`: {}", e.kind()))?;
            Some(g.compile_matcher())
        } else {
            None
        };
        Ok(Pattern { text, glob })
    }

    /// The entry as written (lowercased, Docker Hub aliases folded).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a registry host matches: literally or by glob.
    fn matches_host(&self, host: &str) -> bool {
        match &self.glob {
            Some(g) => g.is_match(host),
            None => self.text == host,
        }
    }

    /// Whether a repository's full name (`host/path/name`) is in this namespace: a literal
    /// covers itself and everything below it (`ghcr.io/org` covers `ghcr.io/org/app`, not
    /// `ghcr.io/org-evil/app`); a glob must match the whole name.
    fn matches_repository(&self, full: &str) -> bool {
        match &self.glob {
            Some(g) => g.is_match(full),
            None => {
                full == self.text
                    || full
                        .strip_prefix(self.text.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
        }
    }
}

/// Docker Hub answers to three host names; the policy and the references use one.
fn normalize_name(s: &str) -> String {
    let s = s.to_ascii_lowercase();
    for alias in [
        "index.docker.io",
        "registry-1.docker.io",
        "registry.hub.docker.com",
    ] {
        if s == alias {
            return "docker.io".into();
        }
        if let Some(rest) = s.strip_prefix(alias)
            && rest.starts_with('/')
        {
            return format!("docker.io{rest}");
        }
    }
    s
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProvenance {
    allowed_registries: Option<Vec<String>>,
    allowed_namespaces: Option<Vec<String>>,
    require_digest: Option<bool>,
    require_signature: Option<bool>,
    keys: Option<Vec<String>>,
    newly_built: Option<String>,
}

impl Provenance {
    pub(crate) fn from_raw(raw: RawProvenance, line: usize) -> Result<Provenance, PolicyError> {
        let invalid = |message: String| PolicyError::Invalid { line, message };
        let patterns = |list: Option<Vec<String>>, what: &str| {
            list.unwrap_or_default()
                .iter()
                .map(|s| Pattern::new(s, what))
                .collect::<Result<Vec<_>, _>>()
        };
        let allowed_registries =
            patterns(raw.allowed_registries, "allowed_registries").map_err(invalid)?;
        if let Some(p) = allowed_registries.iter().find(|p| p.text.contains('/')) {
            return Err(invalid(format!(
                "`allowed_registries` takes registry hosts, not repositories: `{}` (put \
                 repositories in `allowed_namespaces`)",
                p.text
            )));
        }
        let allowed_namespaces =
            patterns(raw.allowed_namespaces, "allowed_namespaces").map_err(invalid)?;
        // `library/nginx` would silently never match `docker.io/library/nginx`.
        if let Some(p) = allowed_namespaces.iter().find(|p| {
            let host = p.text.split('/').next().unwrap_or_default();
            !p.text.contains('/')
                || !(host.contains(['.', ':', '*', '?', '[', '{']) || host == "localhost")
        }) {
            return Err(invalid(format!(
                "`allowed_namespaces` entry `{}` does not start with a registry host; write \
                 it in full, e.g. `docker.io/library` or `ghcr.io/myorg/*`",
                p.text
            )));
        }
        let keys: Vec<PathBuf> = raw
            .keys
            .unwrap_or_default()
            .into_iter()
            .map(|k| {
                if k.trim().is_empty() {
                    Err(invalid("an empty path in `keys`".into()))
                } else {
                    Ok(PathBuf::from(k))
                }
            })
            .collect::<Result<_, _>>()?;
        let require_signature = raw.require_signature.unwrap_or(false);
        if require_signature && keys.is_empty() {
            return Err(invalid(
                "`require_signature = true` needs `keys`: the cosign public keys (PEM) a \
                 signature must verify with (keyless signatures are not supported)"
                    .into(),
            ));
        }
        let newly_built_secs = raw
            .newly_built
            .map(|s| match parse_duration(&s) {
                Ok(0) => Err(invalid(format!(
                    "bad `newly_built`: `{s}` is zero: leave `newly_built` out to check nothing"
                ))),
                Ok(n) => Ok(n),
                Err(m) => Err(invalid(format!("bad `newly_built`: {m}"))),
            })
            .transpose()?;
        Ok(Provenance {
            allowed_registries,
            allowed_namespaces,
            require_digest: raw.require_digest.unwrap_or(false),
            require_signature,
            keys,
            newly_built_secs,
            line,
        })
    }

    /// Whether signatures need to be looked up at all.
    pub fn wants_signatures(&self) -> bool {
        !self.keys.is_empty()
    }
}

/// What the caller learnt about the image's cosign signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureState {
    /// No keys configured: nothing was looked up.
    NotChecked,
    /// Could not be looked up for this image (not from a registry, or `--offline`); why.
    Unavailable(String),
    /// The registry holds no signature for the image's digest.
    Unsigned,
    /// A signature verified with a configured key.
    Verified {
        /// The key file that verified it.
        key: String,
        /// The manifest digest the signature is for.
        digest: String,
    },
    /// Signatures exist; none verified with any configured key. One reason each.
    Invalid(Vec<String>),
}

/// Everything the provenance check looks at.
#[derive(Clone, Debug)]
pub struct ProvenanceInput<'a> {
    /// The name the image is deployed under (registry reference, `--name`, RepoTags).
    pub name: Option<&'a str>,
    /// The config's `created`, RFC 3339.
    pub created: Option<&'a str>,
    /// Now, seconds since the Unix epoch.
    pub now_unix: i64,
    /// The signature lookup's outcome.
    pub signature: SignatureState,
}

fn finding(
    rule: &str,
    title: &str,
    severity: Severity,
    confidence: Confidence,
    attack: &[&str],
    evidence: String,
    description: &str,
) -> Finding {
    Finding {
        rule: rule.into(),
        title: title.into(),
        severity,
        confidence,
        attack: attack.iter().map(|s| s.to_string()).collect(),
        layer: None,
        deleted_in: None,
        path: None,
        evidence,
        description: description.into(),
    }
}

fn list(patterns: &[Pattern]) -> String {
    patterns
        .iter()
        .map(|p| format!("`{}`", p.text))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The provenance findings for one image. An empty policy gives none.
pub fn check(p: &Provenance, input: &ProvenanceInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let wants_name =
        !p.allowed_registries.is_empty() || !p.allowed_namespaces.is_empty() || p.require_digest;
    let parsed = input.name.map(|n| (n, n.parse::<ImageRef>()));
    match parsed {
        None if wants_name => out.push(finding(
            "provenance-origin-unknown",
            "Image origin unknown",
            Severity::Medium,
            Confidence::High,
            &[attack::MALICIOUS_IMAGE],
            "the image has no name (no registry reference, RepoTags or annotation); give \
             --name with the reference it is deployed under"
                .into(),
            "The policy restricts where images come from or requires digest pinning, and \
             this image carries no name to check. Scan it by its registry reference or pass \
             --name.",
        )),
        Some((n, Err(e))) if wants_name => out.push(finding(
            "provenance-origin-unknown",
            "Image origin unknown",
            Severity::Medium,
            Confidence::High,
            &[attack::MALICIOUS_IMAGE],
            format!("the image name `{n}` is not an image reference: {e}"),
            "The policy restricts where images come from or requires digest pinning, and \
             this image's name can not be read as a reference.",
        )),
        Some((_, Ok(r))) => check_name(p, &r, &mut out),
        _ => {}
    }
    check_signature(p, &input.signature, &mut out);
    if let Some(window) = p.newly_built_secs {
        check_age(window, input.created, input.now_unix, &mut out);
    }
    out
}

fn check_name(p: &Provenance, r: &ImageRef, out: &mut Vec<Finding>) {
    let host = normalize_name(&r.registry);
    let full = normalize_name(&r.name());
    if !p.allowed_registries.is_empty()
        && !p.allowed_registries.iter().any(|a| a.matches_host(&host))
    {
        out.push(finding(
            "provenance-registry-not-allowed",
            "Image from a registry the policy does not allow",
            Severity::High,
            Confidence::High,
            &[attack::MALICIOUS_IMAGE],
            format!(
                "registry `{host}` of `{r}` is not in allowed_registries ({})",
                list(&p.allowed_registries)
            ),
            "Images may only come from the registries the policy lists. Pull the image from \
             an allowed registry, or add the registry to `allowed_registries` if it is trusted.",
        ));
    }
    if !p.allowed_namespaces.is_empty()
        && !p
            .allowed_namespaces
            .iter()
            .any(|a| a.matches_repository(&full))
    {
        out.push(finding(
            "provenance-namespace-not-allowed",
            "Image from a namespace the policy does not allow",
            Severity::High,
            Confidence::High,
            &[attack::MALICIOUS_IMAGE, attack::MATCH_LEGITIMATE_NAME],
            format!(
                "repository `{full}` is in none of allowed_namespaces ({})",
                list(&p.allowed_namespaces)
            ),
            "Images may only come from the namespaces the policy lists. A look-alike \
             namespace (`myorg-evil` beside `myorg`) is a common way to get an image pulled; \
             check who publishes this one.",
        ));
    }
    if p.require_digest && r.digest.is_none() {
        out.push(finding(
            "provenance-not-pinned",
            "Image reference not pinned by digest",
            Severity::High,
            Confidence::High,
            &[attack::MALICIOUS_IMAGE],
            format!("`{r}` names a tag, not a digest"),
            "The policy requires references pinned by digest (`name@sha256:…`): a tag can be \
             moved to another image after it was vetted.",
        ));
    }
}

fn check_signature(p: &Provenance, s: &SignatureState, out: &mut Vec<Finding>) {
    let keys = || {
        p.keys
            .iter()
            .map(|k| format!("`{}`", k.display()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match s {
        SignatureState::NotChecked | SignatureState::Verified { .. } => {}
        SignatureState::Unavailable(why) if p.require_signature => out.push(finding(
            "provenance-unsigned",
            "No verifiable signature",
            Severity::High,
            Confidence::High,
            &[attack::MALICIOUS_IMAGE, SUBVERT_TRUST_CONTROLS],
            format!("signature required, but it could not be looked up: {why}"),
            "The policy requires a cosign signature by one of its keys; signatures are \
             looked up in the image's registry, which was not possible for this image.",
        )),
        SignatureState::Unsigned if p.require_signature => out.push(finding(
            "provenance-unsigned",
            "Image not signed",
            Severity::High,
            Confidence::High,
            &[attack::MALICIOUS_IMAGE, SUBVERT_TRUST_CONTROLS],
            format!(
                "no cosign signature for the image's digest in its registry; required by \
                 keys {}",
                keys()
            ),
            "The policy requires a cosign signature by one of its keys, and the registry \
             holds none for this image's digest.",
        )),
        SignatureState::Invalid(reasons) => out.push(finding(
            "provenance-signature-invalid",
            "Image signature does not verify",
            Severity::High,
            Confidence::High,
            &[attack::MALICIOUS_IMAGE, SUBVERT_TRUST_CONTROLS],
            format!(
                "{} signature(s), none valid for keys {}: {}",
                reasons.len(),
                keys(),
                reasons.join("; ")
            ),
            "The registry holds cosign signatures for this image, but none verifies with the \
             policy's keys for this digest: a tampered payload, a signature copied from \
             another image, or a signer the policy does not trust.",
        )),
        SignatureState::Unavailable(_) | SignatureState::Unsigned => {}
    }
}

fn check_age(window: u64, created: Option<&str>, now: i64, out: &mut Vec<Finding>) {
    let missing = |evidence: String| {
        finding(
            "provenance-created-missing",
            "Image build date unknown",
            Severity::Low,
            Confidence::Medium,
            &[attack::MALICIOUS_IMAGE],
            evidence,
            "The policy flags newly built images, and this image's config gives no usable \
             `created` date, so its age can not be judged. Reproducible builds set a fixed \
             placeholder date on purpose.",
        )
    };
    let Some(text) = created else {
        out.push(missing("the config has no `created`".into()));
        return;
    };
    let Some(t) = parse_rfc3339(text) else {
        out.push(missing(format!(
            "`created` is not an RFC 3339 time: `{text}`"
        )));
        return;
    };
    if t < PLACEHOLDER_BEFORE_UNIX {
        out.push(missing(format!(
            "`created` is `{text}`, a placeholder rather than a build date"
        )));
    } else if t > now + FUTURE_SKEW_SECS {
        out.push(finding(
            "provenance-created-future",
            "Image build date in the future",
            Severity::Medium,
            Confidence::Medium,
            &[attack::MALICIOUS_IMAGE],
            format!("`created` is `{text}`, {} after now", human(t - now)),
            "An image cannot have been built in the future: the date was set by hand, or the \
             builder's clock is wrong. Either way its age tells nothing.",
        ));
    } else if now - t < window as i64 {
        out.push(finding(
            "provenance-newly-built",
            "Newly built image",
            Severity::Medium,
            Confidence::Medium,
            &[attack::MALICIOUS_IMAGE],
            format!(
                "`created` is `{text}`, {} ago; the policy's newly_built window is {}",
                human((now - t).max(0)),
                human(window as i64)
            ),
            "Newly built, unvetted images are what ATT&CK's detection advice for T1204.003 \
             says to watch: check who published it before running it.",
        ));
    }
}

/// `3d 4h`, `2h 5m`, `40s`: two largest units.
fn human(secs: i64) -> String {
    let units = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)];
    let mut parts = Vec::new();
    let mut rest = secs;
    for (u, n) in units {
        if rest >= n || (parts.is_empty() && n == 1) {
            parts.push(format!("{}{u}", rest / n));
            rest %= n;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

/// Seconds since the Unix epoch of an RFC 3339 date-time (`2024-01-01T00:00:00Z`,
/// fractions and `±hh:mm` offsets allowed; a space for `T` too, as Go's zero time prints).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let date: crate::Date = s[..10].parse().ok()?;
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let ob = rest.as_bytes();
            if ob.len() != 6 || !matches!(ob[0], b'+' | b'-') || ob[3] != b':' {
                return None;
            }
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            let o = oh * 3600 + om * 60;
            if ob[0] == b'-' { -o } else { o }
        }
    };
    Some(date.unix_days() * 86_400 + h * 3600 + m * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-01-01T00:00:00Z"), Some(1_704_067_200));
        assert_eq!(
            parse_rfc3339("2024-01-01T01:00:00.123456789+01:00"),
            Some(1_704_067_200)
        );
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), Some(-62_135_596_800));
        for bad in [
            "",
            "2024-01-01",
            "2024-01-01T00:00:00",
            "2024-02-30T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+0100",
            "2024-01-01T0a:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(86_400));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("90s"), Ok(90));
        for bad in ["", "24", "h", "1.5h", "-1h", "24 h", "3y"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(0), "0s");
        assert_eq!(human(3 * 3600 + 5 * 60 + 7), "3h 5m");
        assert_eq!(human(86_400 * 2 + 7), "2d 7s");
    }
}
