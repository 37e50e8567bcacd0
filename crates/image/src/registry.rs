//! OCI Distribution API v2 client: pulls manifests and streams blobs of one repository.
//!
//! HTTPS by default. Plain HTTP only for loopback hosts and hosts listed as insecure, and
//! for those only after HTTPS failed, as Docker does. Auth is anonymous first; a `401`
//! challenge is answered with Basic credentials or a Bearer token from the challenge's
//! realm. Credentials come from [`RegistryOptions`] or from Docker's `config.json`.
//!
//! The client is synchronous: layer readers run on plain threads, several at a time, and
//! share one connection pool and one cached token.

mod auth;
mod signatures;

use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use customs_core::{Digest, ImageRef};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, WWW_AUTHENTICATE,
};
use serde::Deserialize;

use self::auth::{Challenge, Credentials, Stored};
use crate::blob::{BlobKey, BlobStore, METADATA_LIMIT, digest_of, read_limited, sha256};
use crate::manifest::{self, ACCEPTED_MANIFESTS, Fetched};
use crate::{Image, ImageError, PlatformChoice};

pub use self::signatures::cosign_signatures;

/// How to reach registries.
#[derive(Clone, Default)]
pub struct RegistryOptions {
    /// Hosts (`host` or `host:port`) that may be reached over plain HTTP besides loopback.
    pub insecure: Vec<String>,
    /// Directory holding Docker's `config.json`; default `$DOCKER_CONFIG`, else `~/.docker`.
    pub docker_config: Option<PathBuf>,
    /// User name; used instead of `config.json` when given with a password.
    pub username: Option<String>,
    /// Password or access token for `username`.
    pub password: Option<String>,
    /// Limit for connecting and for each wait on the network; default 10 s to connect and
    /// 60 s per read.
    pub timeout: Option<Duration>,
}

impl fmt::Debug for RegistryOptions {
    // A derived Debug would print the password into logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryOptions")
            .field("insecure", &self.insecure)
            .field("docker_config", &self.docker_config)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_REDIRECTS: usize = 10;
/// Error bodies and token answers are small; more is not worth reading.
const SMALL_BODY_LIMIT: u64 = 1 << 20;

/// Resolves `r` on its registry into images.
pub fn open(
    r: &ImageRef,
    opts: &RegistryOptions,
    choice: &PlatformChoice,
) -> Result<Vec<Image>, ImageError> {
    let store = Arc::new(RegistryStore::connect(r, opts)?);
    let (digest, bytes) =
        store.fetch_manifest(&r.reference(), r.digest.as_ref(), METADATA_LIMIT)?;
    tracing::debug!(registry = %r.registry, %digest, "Fetched root manifest.");
    let root = Fetched {
        digest,
        bytes,
        platform: None,
    };
    manifest::resolve(store, root, choice, Some(r.to_string()))
}

/// One repository on one registry, as a [`BlobStore`].
struct RegistryStore {
    http: Client,
    /// The registry as the reference names it, for messages.
    registry: String,
    repo: String,
    /// `https://host` or `http://host`, settled when connecting.
    base: String,
    insecure: Vec<String>,
    explicit: Option<Credentials>,
    docker_config: Option<PathBuf>,
    /// `config.json`, read on the first challenge only: anonymous pulls never need it.
    stored: OnceLock<Result<Stored, String>>,
    /// The `Authorization` value every request carries once a challenge was answered.
    auth: Mutex<Option<HeaderValue>>,
    timeout: Duration,
}

impl RegistryStore {
    fn connect(r: &ImageRef, opts: &RegistryOptions) -> Result<RegistryStore, ImageError> {
        let err = |message: String| ImageError::Registry {
            registry: r.registry.clone(),
            message,
        };
        let explicit = match (&opts.username, &opts.password) {
            (Some(user), Some(pass)) => Some(Credentials::Basic {
                user: user.clone(),
                pass: pass.clone(),
            }),
            (None, None) => None,
            _ => return Err(err("a user name needs a password and vice versa".into())),
        };
        let host = r.api_host();
        let plain_ok = plain_http_allowed(host, &opts.insecure);
        let timeout = opts.timeout.unwrap_or(READ_TIMEOUT);
        let insecure = opts.insecure.clone();
        // reqwest drops Authorization on redirects to another host, port or scheme; what
        // remains to refuse is a downgrade to plain HTTP towards a host not allowed it.
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if attempt.url().scheme() == "http"
                && !plain_http_allowed(&host_port(attempt.url()), &insecure)
            {
                let msg = format!("refusing redirect to plain HTTP: {}", attempt.url());
                attempt.error(msg)
            } else {
                attempt.follow()
            }
        });
        let mut builder = Client::builder()
            .user_agent(concat!("customs/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(opts.timeout.unwrap_or(CONNECT_TIMEOUT))
            .timeout(timeout)
            .redirect(policy);
        if is_loopback(host) {
            // A proxy can not reach our loopback.
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| err(format!("can not set up HTTP client: {}", chain(&e))))?;
        let https = format!("https://{host}");
        let base = match ping(&http, &https) {
            Ok(()) => https,
            Err(e) if plain_ok => {
                let plain = format!("http://{host}");
                match ping(&http, &plain) {
                    Ok(()) => plain,
                    Err(e2) => {
                        let (https, http) = (
                            describe_transport(&e, timeout),
                            describe_transport(&e2, timeout),
                        );
                        return Err(err(if https == http {
                            format!("{http} (over HTTPS and plain HTTP)")
                        } else {
                            format!("{http} (over plain HTTP); over HTTPS: {https}")
                        }));
                    }
                }
            }
            Err(e) => return Err(err(describe_transport(&e, timeout))),
        };
        tracing::debug!(registry = %r.registry, %base, "Connected to registry.");
        Ok(RegistryStore {
            http,
            registry: r.registry.clone(),
            repo: r.repository.clone(),
            base,
            insecure: opts.insecure.clone(),
            explicit,
            docker_config: opts.docker_config.clone(),
            stored: OnceLock::new(),
            auth: Mutex::new(None),
            timeout,
        })
    }

    fn err(&self, message: impl Into<String>) -> ImageError {
        ImageError::Registry {
            registry: self.registry.clone(),
            message: message.into(),
        }
    }

    /// Fetches a manifest by tag or digest and checks it against every digest it claims.
    fn fetch_manifest(
        &self,
        reference: &str,
        expected: Option<&Digest>,
        limit: u64,
    ) -> Result<(Digest, Vec<u8>), ImageError> {
        let what = format!("manifest `{reference}` of `{}`", self.repo);
        let resp = self.get(
            &format!("manifests/{reference}"),
            Some(&ACCEPTED_MANIFESTS.join(", ")),
            &what,
        )?;
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(ImageError::TooLarge { what, limit });
        }
        let claimed = match resp.headers().get("docker-content-digest") {
            Some(v) => Some(
                v.to_str()
                    .ok()
                    .and_then(|s| s.trim().parse::<Digest>().ok())
                    .ok_or_else(|| {
                        self.err(format!(
                            "{what}: invalid Docker-Content-Digest header {v:?}"
                        ))
                    })?,
            ),
            None => None,
        };
        let bytes = read_limited(resp, limit, &what)?;
        let digest = match expected {
            Some(d) => d.clone(),
            None => sha256(&bytes),
        };
        for want in std::iter::once(&digest).chain(&claimed) {
            let actual = digest_of(want, &bytes);
            if &actual != want {
                return Err(ImageError::DigestMismatch {
                    what: format!("{what} on registry {}", self.registry),
                    expected: want.clone(),
                    actual,
                });
            }
        }
        Ok((digest, bytes))
    }

    /// GETs `/v2/<repo>/<path>`, answering one auth challenge, and returns a successful
    /// response or the registry's error.
    fn get(&self, path: &str, accept: Option<&str>, what: &str) -> Result<Response, ImageError> {
        let url = format!("{}/v2/{}/{path}", self.base, self.repo);
        let mut auth = self
            .auth
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut answered = false;
        loop {
            let mut req = self.http.get(&url);
            if let Some(a) = accept {
                req = req.header(ACCEPT, a);
            }
            if let Some(h) = &auth {
                req = req.header(AUTHORIZATION, h.clone());
            }
            let resp = req.send().map_err(|e| self.transport(&e))?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                return self.check(resp, what);
            }
            if answered {
                return Err(self.refused()?);
            }
            answered = true;
            auth = Some(self.authenticate(resp.headers(), auth.as_ref())?);
        }
    }

    /// Explicit credentials, else `config.json`'s, plus the credential helper it names.
    fn credentials(&self) -> Result<(Option<Credentials>, Option<String>), ImageError> {
        if let Some(c) = &self.explicit {
            return Ok((Some(c.clone()), None));
        }
        let stored = self.stored.get_or_init(|| {
            match self.docker_config.clone().or_else(auth::default_config_dir) {
                Some(dir) => auth::lookup(&dir, &self.registry),
                None => Ok(Stored::default()),
            }
        });
        match stored {
            Ok(s) => Ok((s.creds.clone(), s.helper.clone())),
            Err(e) => Err(self.err(e.clone())),
        }
    }

    /// The error for a request still refused after its challenge was answered.
    fn refused(&self) -> Result<ImageError, ImageError> {
        Ok(match self.credentials()? {
            (Some(c), _) => self.err(format!("authentication failed for {}", c.who())),
            (None, helper) => self.auth_required(helper.as_deref()),
        })
    }

    fn auth_required(&self, helper: Option<&str>) -> ImageError {
        let hint = match helper {
            Some(h) => {
                format!("no credentials: {h}, a helper customs does not run; give them explicitly")
            }
            None => "no credentials: give them explicitly or log in with `docker login`".into(),
        };
        self.err(format!(
            "authentication required for `{}`: {hint}",
            self.repo
        ))
    }

    /// Answers the challenges in `headers` and caches the resulting `Authorization` for
    /// every request of this store. `used` is what the refused request carried: when
    /// another thread has replaced it meanwhile, its newer value is taken instead of
    /// asking the token service again.
    fn authenticate(
        &self,
        headers: &HeaderMap,
        used: Option<&HeaderValue>,
    ) -> Result<HeaderValue, ImageError> {
        // Held across the token request so concurrent blob readers fetch one token.
        let mut current = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = current.as_ref()
            && Some(c) != used
        {
            return Ok(c.clone());
        }
        let challenges: Vec<Challenge> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(auth::parse_challenges)
            .collect();
        let (creds, helper) = self.credentials()?;
        let value = if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer") {
            format!(
                "Bearer {}",
                self.fetch_token(c, creds.as_ref(), helper.as_deref())?
            )
        } else if challenges.iter().any(|c| c.scheme == "basic") {
            match creds.as_ref().and_then(Credentials::basic_header) {
                Some(h) => h,
                None => return Err(self.auth_required(helper.as_deref())),
            }
        } else if challenges.is_empty() {
            return Err(self.err("answered 401 without an authentication challenge"));
        } else {
            let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
            return Err(self.err(format!(
                "asks for unsupported authentication ({})",
                schemes.join(", ")
            )));
        };
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| self.err("the token service gave a token that is not a header value"))?;
        value.set_sensitive(true);
        *current = Some(value.clone());
        Ok(value)
    }

    /// Gets a pull token for this repository from a Bearer challenge's realm.
    fn fetch_token(
        &self,
        ch: &Challenge,
        creds: Option<&Credentials>,
        helper: Option<&str>,
    ) -> Result<String, ImageError> {
        let realm = ch
            .params
            .get("realm")
            .ok_or_else(|| self.err("bearer challenge without a realm"))?;
        let mut url = reqwest::Url::parse(realm)
            .map_err(|e| self.err(format!("bearer realm `{realm}` is not a URL: {e}")))?;
        let safe = match url.scheme() {
            "https" => true,
            "http" => plain_http_allowed(&host_port(&url), &self.insecure),
            _ => false,
        };
        if !safe {
            return Err(self.err(format!(
                "refusing token service `{realm}`: only HTTPS, or plain HTTP to loopback and \
                 insecure hosts"
            )));
        }
        // Our own scope, not the challenge's: a challenge from /v2/ or from another
        // repository's redirect must not decide what we ask for.
        let scope = format!("repository:{}:pull", self.repo);
        let service = ch.params.get("service");
        let req = match creds {
            Some(Credentials::IdentityToken(token)) => {
                // `docker login` identity tokens are OAuth2 refresh tokens.
                let mut form = reqwest::Url::parse("http://form/").expect("static URL");
                form.query_pairs_mut()
                    .append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", token)
                    .append_pair("client_id", "customs")
                    .append_pair("scope", &scope)
                    .extend_pairs(service.map(|s| ("service", s)));
                self.http
                    .post(url)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.query().unwrap_or_default().to_string())
            }
            _ => {
                url.query_pairs_mut()
                    .extend_pairs(service.map(|s| ("service", s)))
                    .append_pair("scope", &scope);
                let req = self.http.get(url);
                match creds {
                    Some(Credentials::Basic { user, pass }) => req.basic_auth(user, Some(pass)),
                    _ => req,
                }
            }
        };
        let resp = req.send().map_err(|e| {
            self.err(format!(
                "token service `{realm}`: {}",
                describe_transport(&e, self.timeout)
            ))
        })?;
        let status = resp.status();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(match creds {
                Some(c) => self.err(format!(
                    "authentication failed for {}: token service `{realm}` answered {status}",
                    c.who()
                )),
                None => self.auth_required(helper),
            });
        }
        let ctype = content_type(resp.headers());
        let body = read_limited(resp, SMALL_BODY_LIMIT, "token service answer")?;
        if !status.is_success() {
            return Err(self.err(format!(
                "token service `{realm}` answered {status}: {}",
                describe_error_body(&body, &ctype)
            )));
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            self.err(format!(
                "token service `{realm}` answered with something other than JSON ({ctype}): {e}"
            ))
        })?;
        answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.err(format!("token service `{realm}` answered without a token")))
    }

    /// Passes a success through; turns anything else into an error naming `what`.
    fn check(&self, resp: Response, what: &str) -> Result<Response, ImageError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let ctype = content_type(resp.headers());
        // A broken error body should not hide the status, so read errors are ignored.
        let mut body = Vec::new();
        let _ = resp.take(64 << 10).read_to_end(&mut body);
        let detail = describe_error_body(&body, &ctype);
        if status == StatusCode::NOT_FOUND {
            return Err(ImageError::NotFound(format!(
                "registry {}: {what}: {detail}",
                self.registry
            )));
        }
        Err(self.err(format!("{what}: {status}: {detail}")))
    }

    fn transport(&self, e: &reqwest::Error) -> ImageError {
        self.err(describe_transport(e, self.timeout))
    }
}

impl BlobStore for RegistryStore {
    fn open(&self, key: &BlobKey) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let BlobKey::Digest(digest) = key else {
            return Err(ImageError::format(format!(
                "registry blobs are named by digest, not {key:?}"
            )));
        };
        let resp = self.get(
            &format!("blobs/{digest}"),
            None,
            &format!("blob {digest} of `{}`", self.repo),
        )?;
        // Streamed as it arrives; the caller's VerifyingReader judges the bytes.
        Ok(Box::new(resp))
    }

    fn manifest(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>, ImageError> {
        Ok(self
            .fetch_manifest(&digest.to_string(), Some(digest), limit)?
            .1)
    }
}

/// Whether anything answers HTTP at `base`; any status will do.
fn ping(http: &Client, base: &str) -> Result<(), reqwest::Error> {
    http.get(format!("{base}/v2/")).send().map(drop)
}

/// `host` or `host:port` of a URL, as `insecure` lists them.
fn host_port(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// The host name of `host`, `host:port`, `[v6]` or `[v6]:port`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn is_loopback(host: &str) -> bool {
    let name = host_name(host);
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Loopback, or listed in `insecure` with or without its port.
fn plain_http_allowed(host: &str, insecure: &[String]) -> bool {
    is_loopback(host)
        || insecure
            .iter()
            .any(|i| i.eq_ignore_ascii_case(host) || i.eq_ignore_ascii_case(host_name(host)))
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type")
        .to_string()
}

/// `CODE (message)` from a registry error body, or a short, printable excerpt of
/// whatever else came back (an HTML login page, a proxy's error).
fn describe_error_body(body: &[u8], ctype: &str) -> String {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(b) = serde_json::from_slice::<Body>(body)
        && !b.errors.is_empty()
    {
        let parts: Vec<String> = b
            .errors
            .iter()
            .map(|e| format!("{} ({})", e.code, e.message))
            .collect();
        return parts.join("; ");
    }
    let text = String::from_utf8_lossy(body);
    let excerpt: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if excerpt.is_empty() {
        "no error details".into()
    } else {
        format!("not a registry error answer ({ctype}): {excerpt}")
    }
}

/// The causes of an error on one line. reqwest and hyper wrap the useful part (refused,
/// TLS alert, DNS) in generic messages that are left out.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let msg = err.to_string();
        let generic = msg.starts_with("error sending request") || msg.starts_with("client error (");
        if !generic && !parts.iter().any(|p| p.contains(&msg)) {
            parts.push(msg);
        }
        next = err.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

fn describe_transport(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("timed out ({}s limit): {}", timeout.as_secs_f32(), chain(e))
    } else if e.is_connect() {
        format!("can not connect: {}", chain(e))
    } else {
        format!("request failed: {}", chain(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_and_insecure() {
        let insecure = vec!["reg.lan".to_string(), "other.lan:5000".to_string()];
        for ok in [
            "127.0.0.1:5000",
            "127.8.9.1",
            "localhost:1",
            "[::1]:5000",
            "[::1]",
            "reg.lan:443",
            "other.lan:5000",
        ] {
            assert!(plain_http_allowed(ok, &insecure), "{ok}");
        }
        for no in [
            "ghcr.io",
            "other.lan:5001",
            "10.0.0.1:5000",
            "localhost.evil.com",
            "128.0.0.1",
        ] {
            assert!(!plain_http_allowed(no, &insecure), "{no}");
        }
        let u = reqwest::Url::parse("http://[::1]:8080/token").unwrap();
        assert_eq!(host_port(&u), "[::1]:8080");
        assert!(plain_http_allowed(&host_port(&u), &[]));
    }

    #[test]
    fn describes_error_bodies() {
        let b = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        assert_eq!(
            describe_error_body(b, "application/json"),
            "MANIFEST_UNKNOWN (manifest unknown)"
        );
        let html = b"<html>\n<body>\x1b[31mSign in\tplease</body></html>";
        assert_eq!(
            describe_error_body(html, "text/html"),
            "not a registry error answer (text/html): <html> <body>[31mSign in please</body></html>"
        );
        assert_eq!(
            describe_error_body(b"{}", "application/json"),
            "not a registry error answer (application/json): {}"
        );
        assert_eq!(describe_error_body(b"", "text/plain"), "no error details");
    }

    #[test]
    fn options_debug_hides_password() {
        let o = RegistryOptions {
            username: Some("u".into()),
            password: Some("hunter2".into()),
            ..RegistryOptions::default()
        };
        assert!(!format!("{o:?}").contains("hunter2"));
    }
}
