//! Authentication pieces that need no network: `WWW-Authenticate` challenges and
//! credentials from Docker's `config.json`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// One challenge of a `WWW-Authenticate` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Challenge {
    /// Lowercased scheme (`basic`, `bearer`).
    pub scheme: String,
    /// Parameters, names lowercased.
    pub params: BTreeMap<String, String>,
}

/// Parses every challenge of one header value. Several challenges may share a header
/// (`Basic realm="a", Bearer realm="b",service="c"`) and quoted values may hold commas,
/// `=` and escaped quotes, so this tokenizes instead of splitting on commas.
pub(super) fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut s = header.trim_start();
    loop {
        s = s.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if s.is_empty() {
            return out;
        }
        let end = s
            .find(|c: char| c == ',' || c == '=' || c.is_whitespace())
            .unwrap_or(s.len());
        let token = &s[..end];
        s = s[end..].trim_start();
        if token.is_empty() {
            // A stray `=`: skip it rather than loop forever.
            s = &s[1..];
            continue;
        }
        let Some(rest) = s.strip_prefix('=') else {
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
            continue;
        };
        let (value, rest) = parse_value(rest.trim_start());
        s = rest;
        // A parameter before any scheme (or a token68) has no challenge to belong to.
        if let Some(c) = out.last_mut() {
            c.params.insert(token.to_ascii_lowercase(), value);
        }
    }
}

/// A quoted string (with `\` escapes) or a bare token; returns it and the rest.
fn parse_value(s: &str) -> (String, &str) {
    let Some(quoted) = s.strip_prefix('"') else {
        let end = s
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(s.len());
        return (s[..end].to_string(), &s[end..]);
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, &quoted[i + 1..]),
            '\\' => {
                if let Some((_, e)) = chars.next() {
                    value.push(e);
                }
            }
            c => value.push(c),
        }
    }
    // Unterminated: take what there is.
    (value, "")
}

/// What to log in with.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Credentials {
    /// User name and password (or a personal access token used as one).
    Basic {
        /// User.
        user: String,
        /// Password.
        pass: String,
    },
    /// An OAuth2 refresh token that `docker login` stored as `identitytoken`.
    IdentityToken(String),
}

impl Credentials {
    /// The `Authorization` value for a Basic challenge, if these credentials fit one.
    pub fn basic_header(&self) -> Option<String> {
        match self {
            Credentials::Basic { user, pass } => Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{user}:{pass}"))
            )),
            Credentials::IdentityToken(_) => None,
        }
    }

    /// Who, for messages (never the secret).
    pub fn who(&self) -> String {
        match self {
            Credentials::Basic { user, .. } => format!("user `{user}`"),
            Credentials::IdentityToken(_) => "the stored identity token".into(),
        }
    }
}

impl fmt::Debug for Credentials {
    // Secrets must not reach logs through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { user, .. } => write!(f, "Basic({user}, <redacted>)"),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// What Docker's `config.json` says about one registry.
#[derive(Debug, Default)]
pub(super) struct Stored {
    /// Credentials found inline in `auths`.
    pub creds: Option<Credentials>,
    /// A credential helper the file names for this registry (`credHelpers` or
    /// `credsStore`), which customs does not run.
    pub helper: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(rename = "credsStore", default)]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The directory Docker keeps `config.json` in: `$DOCKER_CONFIG`, else `~/.docker`.
pub(super) fn default_config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".docker"))
}

/// The names `config.json` may file a registry under. Docker Hub is stored under its
/// legacy v1 URL by `docker login`.
fn aliases(registry: &str) -> Vec<String> {
    let r = registry.to_ascii_lowercase();
    if matches!(
        r.as_str(),
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) {
        vec![
            "docker.io".into(),
            "index.docker.io".into(),
            "registry-1.docker.io".into(),
        ]
    } else {
        vec![r]
    }
}

/// `https://host/v1/` → `host`: keys are written by several tools in several shapes.
fn normalize_key(key: &str) -> String {
    let k = key.trim();
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    k.split('/').next().unwrap_or("").to_ascii_lowercase()
}

/// Reads `dir/config.json` for `registry`. A missing file means no credentials; a broken
/// one is an error, as it is for Docker.
pub(super) fn lookup(dir: &Path, registry: &str) -> Result<Stored, String> {
    let path = dir.join("config.json");
    let mut stored = Stored::default();
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(stored),
        Err(e) => return Err(format!("can not read `{}`: {e}", path.display())),
    };
    let config: DockerConfig = serde_json::from_slice(&text)
        .map_err(|e| format!("`{}` is not valid JSON: {e}", path.display()))?;
    let names = aliases(registry);
    let bad = |why: &str| format!("`{}`: entry for {registry}: {why}", path.display());
    // Exact keys win over URL-shaped ones so that a bare-host entry written later by
    // another tool does not lose to a stale `https://` one.
    let mut entries: Vec<(&String, &AuthEntry)> = config
        .auths
        .iter()
        .filter(|(k, _)| names.contains(&normalize_key(k)))
        .collect();
    entries.sort_by_key(|(k, _)| !names.contains(&k.to_ascii_lowercase()));
    for (_, e) in entries {
        if let Some(tok) = e.identitytoken.as_ref().filter(|t| !t.is_empty()) {
            stored.creds = Some(Credentials::IdentityToken(tok.clone()));
        } else if let Some(auth) = e.auth.as_ref().filter(|a| !a.is_empty()) {
            let raw = STANDARD
                .decode(auth.trim())
                .map_err(|_| bad("`auth` is not base64"))?;
            let text = String::from_utf8(raw).map_err(|_| bad("`auth` is not UTF-8"))?;
            let (user, pass) = text
                .split_once(':')
                .ok_or_else(|| bad("`auth` is not `user:password`"))?;
            stored.creds = Some(Credentials::Basic {
                user: user.into(),
                pass: pass.into(),
            });
        } else if let (Some(user), Some(pass)) = (&e.username, &e.password) {
            stored.creds = Some(Credentials::Basic {
                user: user.clone(),
                pass: pass.clone(),
            });
        }
        if stored.creds.is_some() {
            break;
        }
    }
    stored.helper = config
        .cred_helpers
        .iter()
        .find(|(k, _)| names.contains(&normalize_key(k)))
        .map(|(_, h)| h.clone())
        .or(config.creds_store)
        .filter(|h| !h.is_empty())
        .map(|h| {
            format!(
                "`{}` leaves them to `docker-credential-{h}`",
                path.display()
            )
        });
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn parses_challenges() {
        assert_eq!(
            parse_challenges(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#
            ),
            vec![ch(
                "bearer",
                &[
                    ("realm", "https://auth.docker.io/token"),
                    ("service", "registry.docker.io"),
                    ("scope", "repository:library/nginx:pull")
                ]
            )]
        );
        assert_eq!(
            parse_challenges(
                r#"Basic realm="a, \"quoted\" = x" , BEARER Realm=http://t/tok, Service = "s",error="insufficient_scope""#
            ),
            vec![
                ch("basic", &[("realm", r#"a, "quoted" = x"#)]),
                ch(
                    "bearer",
                    &[
                        ("realm", "http://t/tok"),
                        ("service", "s"),
                        ("error", "insufficient_scope")
                    ]
                ),
            ]
        );
        assert_eq!(parse_challenges("Negotiate"), vec![ch("negotiate", &[])]);
        assert_eq!(parse_challenges(" , = ,"), vec![]);
        assert_eq!(
            parse_challenges(r#"Basic realm="unterminated"#),
            vec![ch("basic", &[("realm", "unterminated")])]
        );
    }

    #[test]
    fn reads_docker_config() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("docker");
        std::fs::create_dir_all(&dir).unwrap();
        let write = |v: serde_json::Value| {
            std::fs::write(dir.join("config.json"), v.to_string()).unwrap();
        };
        let basic = |u: &str, p: &str| {
            Some(Credentials::Basic {
                user: u.into(),
                pass: p.into(),
            })
        };
        write(serde_json::json!({
            "auths": {
                "https://index.docker.io/v1/": {"auth": STANDARD.encode("hub:pw:with:colons")},
                "https://ghcr.io": {"username": "old", "password": "x"},
                "ghcr.io": {"username": "gh", "password": "tok"},
                "quay.io": {"identitytoken": "refresh"},
                "127.0.0.1:5000": {"auth": "!!"}
            },
            "credHelpers": {"gcr.io": "gcloud"}
        }));
        let got = lookup(&dir, "docker.io").unwrap();
        assert_eq!(got.creds, basic("hub", "pw:with:colons"));
        assert_eq!(got.helper, None);
        assert_eq!(lookup(&dir, "GHCR.io").unwrap().creds, basic("gh", "tok"));
        assert_eq!(
            lookup(&dir, "quay.io").unwrap().creds,
            Some(Credentials::IdentityToken("refresh".into()))
        );
        let err = lookup(&dir, "127.0.0.1:5000").unwrap_err();
        assert!(err.contains("not base64"), "{err}");
        let gcr = lookup(&dir, "gcr.io").unwrap();
        assert_eq!(gcr.creds, None);
        assert!(
            gcr.helper
                .unwrap()
                .ends_with("config.json` leaves them to `docker-credential-gcloud`")
        );
        assert_eq!(lookup(&dir, "other.example").unwrap().creds, None);

        write(serde_json::json!({"credsStore": "desktop"}));
        let got = lookup(&dir, "example.com").unwrap();
        assert!(got.helper.unwrap().contains("`docker-credential-desktop`"));

        std::fs::write(dir.join("config.json"), "{not json").unwrap();
        assert!(lookup(&dir, "x.io").unwrap_err().contains("not valid JSON"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(lookup(&dir, "x.io").unwrap().creds.is_none());
        assert!(!format!("{:?}", basic("u", "secret")).contains("secret"));
    }
}
