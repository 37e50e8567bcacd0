//! A real registry on loopback for tests: Debian's `docker-registry` (the CNCF
//! distribution server) with filesystem storage in a temp dir, optionally behind
//! htpasswd Basic auth; images are pushed into it with `skopeo`.
//!
//! [`Front`] is a small HTTP proxy in front of it for what the registry itself can not
//! be made to do without a certificate chain or a fault: a Bearer token service, a blob
//! served with wrong bytes, blobs redirected to another host name.
//!
//! Everything listens on and talks to 127.0.0.1 only, and every wait is bounded.
//!
//! ```no_run
//! use customs_test_support::registry::{Front, Registry};
//! let reg = Registry::start();
//! // reg.push_oci(layout_dir, "v1", "app:v1", None, None);
//! let front = Front::token(&reg, "alice", "secret");
//! println!("pull from {}/app:v1", front.addr());
//! ```

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const START_TIMEOUT: Duration = Duration::from_secs(10);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const PUSH_TIMEOUT: Duration = Duration::from_secs(120);
/// The `service` the token front names in its challenges.
pub const TOKEN_SERVICE: &str = "test-registry";

/// A running `docker-registry`, stopped when dropped.
pub struct Registry {
    child: Child,
    addr: String,
    auth: Option<(String, String)>,
    dir: tempfile::TempDir,
    pushes: AtomicU64,
}

impl Registry {
    /// Starts an open registry (anyone may push and pull).
    pub fn start() -> Registry {
        Registry::launch(None)
    }

    /// Starts a registry that wants `user`/`pass` over Basic auth for everything.
    pub fn start_with_basic_auth(user: &str, pass: &str) -> Registry {
        Registry::launch(Some((user.to_string(), pass.to_string())))
    }

    fn launch(auth: Option<(String, String)>) -> Registry {
        require(REGISTRY_BIN, "docker-registry");
        let dir = tempfile::tempdir().expect("temp dir for the registry");
        let mut auth_yaml = String::new();
        if let Some((user, pass)) = &auth {
            // Cost 4 is bcrypt's minimum: the registry checks the hash on every request.
            let hash = bcrypt::hash(pass, 4).expect("bcrypt hash");
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n")).expect("write htpasswd");
            auth_yaml = format!(
                "auth:\n  htpasswd:\n    realm: {TOKEN_SERVICE}\n    path: {}\n",
                yaml_str(&htpasswd)
            );
        }
        let log = dir.path().join("registry.log");
        // The port is found by binding :0 and letting go, so another process may take it
        // before the registry binds; a registry that exits at once gets another port.
        let mut last_log = String::new();
        for _ in 0..3 {
            let addr = format!("127.0.0.1:{}", free_port());
            let config = dir.path().join("config.yml");
            let yaml = format!(
                "version: 0.1\n\
                 log:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 \x20 maintenance:\n    uploadpurging:\n      enabled: false\n\
                 http:\n  addr: {addr}\n  secret: customs-test-secret\n\
                 {auth_yaml}",
                yaml_str(&dir.path().join("data")),
            );
            std::fs::write(&config, yaml).expect("write registry config");
            let out = std::fs::File::create(&log).expect("registry log");
            let mut child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                // REGISTRY_* variables would override the config file.
                .env_clear()
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("log handle"))
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("can not start {REGISTRY_BIN}: {e}"));
            if wait_ready(&mut child, &addr) {
                return Registry {
                    child,
                    addr,
                    auth,
                    dir,
                    pushes: AtomicU64::new(0),
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("docker-registry did not come up on 127.0.0.1; its log:\n{last_log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// The registry's own log (warnings and errors), for failing tests to show.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Pushes tag `tag` of the OCI layout at `layout` to `repo_tag` (`repo:tag`) with
    /// `skopeo copy --all`, so an index arrives with all its images. `format` is passed as
    /// `--format` (`"v2s2"` converts to Docker schema 2). `creds` default to the
    /// registry's own Basic credentials. Returns the digest of what was pushed (the index
    /// for a multi-platform image). Panics with skopeo's output if the push fails.
    pub fn push_oci(
        &self,
        layout: &Path,
        tag: &str,
        repo_tag: &str,
        format: Option<&str>,
        creds: Option<(&str, &str)>,
    ) -> String {
        require("/usr/bin/skopeo", "skopeo");
        let n = self.pushes.fetch_add(1, Ordering::Relaxed);
        let digest_file = self.dir.path().join(format!("push-{n}.digest"));
        let tmp = self.dir.path().join("skopeo-tmp");
        std::fs::create_dir_all(&tmp).expect("skopeo temp dir");
        let mut cmd = Command::new("skopeo");
        // --insecure-policy: the host's /etc/containers/policy.json is none of our business.
        cmd.arg("--insecure-policy")
            .arg("--tmpdir")
            .arg(&tmp)
            .args(["copy", "--all", "--quiet", "--dest-tls-verify=false"])
            .arg("--digestfile")
            .arg(&digest_file);
        if let Some(f) = format {
            cmd.args(["--format", f]);
        }
        let own = self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        match creds.or(own) {
            Some((u, p)) => cmd.args(["--dest-creds", &format!("{u}:{p}")]),
            // Without this skopeo would look for the developer's own login files.
            None => cmd.arg("--dest-no-creds"),
        };
        cmd.arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repo_tag}", self.addr));
        let out = run_bounded(cmd, PUSH_TIMEOUT);
        assert!(
            out.0,
            "skopeo push of {}:{tag} to {repo_tag} failed:\n{}\nregistry log:\n{}",
            layout.display(),
            out.1,
            self.log()
        );
        std::fs::read_to_string(&digest_file)
            .expect("skopeo wrote the digest file")
            .trim()
            .to_string()
    }
}

impl Registry {
    /// An HTTP client for the distribution API, with the registry's own credentials.
    fn api(&self, req: reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder {
        match &self.auth {
            Some((u, p)) => req.basic_auth(u, Some(p)),
            None => req,
        }
    }

    fn http() -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(IO_TIMEOUT)
            .build()
            .expect("HTTP client")
    }

    /// Uploads `bytes` as a blob of `repo` (a monolithic upload: POST, then PUT with the
    /// digest) and returns its digest.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = crate::fixtures::sha256_digest(bytes);
        let http = Registry::http();
        let base = format!("http://{}", self.addr);
        let resp = self
            .api(http.post(format!("{base}/v2/{repo}/blobs/uploads/")))
            .send()
            .expect("start blob upload");
        assert_eq!(
            resp.status().as_u16(),
            202,
            "blob upload start: {:?}",
            resp.text()
        );
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("upload location")
            .to_string();
        let mut url = if location.starts_with('/') {
            format!("{base}{location}")
        } else {
            location
        };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("digest={digest}"));
        let resp = self
            .api(http.put(url))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .expect("finish blob upload");
        assert_eq!(
            resp.status().as_u16(),
            201,
            "blob upload: {:?}",
            resp.text()
        );
        digest
    }

    /// Puts a manifest under `reference` (a tag) in `repo`; returns its digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let http = Registry::http();
        let resp = self
            .api(http.put(format!(
                "http://{}/v2/{repo}/manifests/{reference}",
                self.addr
            )))
            .header("content-type", media_type)
            .body(bytes.to_vec())
            .send()
            .expect("put manifest");
        assert_eq!(
            resp.status().as_u16(),
            201,
            "manifest put: {:?}\nregistry log:\n{}",
            resp.text(),
            self.log()
        );
        crate::fixtures::sha256_digest(bytes)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True once `GET /v2/` answers at `addr`; false if the process died or time ran out.
fn wait_ready(child: &mut Child, addr: &str) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if matches!(probe(addr), Some(200 | 401)) {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Panics with the package to install when a tool is missing.
fn require(path: &str, package: &str) {
    if !Path::new(path).exists() {
        panic!("{path} is missing; install it with `apt-get install {package}`");
    }
}

/// Runs `cmd` with its output captured, killing it after `limit`. Returns success and
/// the combined output.
fn run_bounded(mut cmd: Command, limit: Duration) -> (bool, String) {
    let out = tempfile::tempfile().expect("temp file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("handle"))
        .stderr(out.try_clone().expect("handle"))
        .spawn()
        .unwrap_or_else(|e| panic!("can not run {cmd:?}: {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for child") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::new();
    let mut out = out;
    let _ = io::Seek::rewind(&mut out);
    let _ = out.read_to_string(&mut text);
    match status {
        Some(s) => (s.success(), text),
        None => (false, format!("{text}\n(killed after {limit:?})")),
    }
}

fn yaml_str(p: &Path) -> String {
    // A JSON string is a YAML string, with all quoting done.
    serde_json::to_string(&p.display().to_string()).expect("string serializes")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a port on 127.0.0.1")
}

/// The status code `GET /v2/` gets at `addr`, if anything answers.
fn probe(addr: &str) -> Option<u16> {
    let sock: SocketAddr = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(
        format!("GET /v2/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Who may pull through a [`Front`].
#[derive(Clone, Debug, Default)]
pub enum FrontAuth {
    /// Everyone: requests pass straight through.
    #[default]
    Open,
    /// A Bearer token is needed; the token service gives one to anybody, as Docker Hub
    /// does for public images.
    AnonymousToken,
    /// A Bearer token is needed, and the token service wants these Basic credentials.
    Token {
        /// User.
        user: String,
        /// Password.
        pass: String,
    },
}

/// What a [`Front`] does besides passing requests to its registry.
#[derive(Clone, Debug, Default)]
pub struct FrontOptions {
    /// Token auth in front of the (open) registry.
    pub auth: FrontAuth,
    /// Serve the blob or manifest named this (`/blobs/X`, `/manifests/X`; a digest, or a
    /// tag for a manifest) with one byte changed, keeping its length and headers.
    pub corrupt: Option<String>,
    /// Answer blob GETs with a 307 to the same front under the name `localhost`, which a
    /// client must treat as another host (and so not send its `Authorization` to).
    pub redirect_blobs: bool,
}

/// One request the token service got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// `service` query parameter.
    pub service: Option<String>,
    /// `scope` query parameter.
    pub scope: Option<String>,
    /// Basic auth user, if the request had Basic auth.
    pub user: Option<String>,
}

/// An HTTP/1.1 proxy on 127.0.0.1 in front of a [`Registry`], stopped when dropped. The
/// registry must outlive it.
pub struct Front {
    addr: String,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    opts: FrontOptions,
    upstream: String,
    port: u16,
    /// Issued token → the scope it was issued for.
    tokens: Mutex<HashMap<String, String>>,
    token_requests: Mutex<Vec<TokenRequest>>,
    /// The `Authorization` header (or none) of each redirected blob request.
    redirected: Mutex<Vec<Option<String>>>,
    counter: AtomicU64,
}

impl Front {
    /// A token service that wants `user`/`pass`, in front of `upstream`.
    pub fn token(upstream: &Registry, user: &str, pass: &str) -> Front {
        Front::start(
            upstream,
            FrontOptions {
                auth: FrontAuth::Token {
                    user: user.into(),
                    pass: pass.into(),
                },
                ..FrontOptions::default()
            },
        )
    }

    /// Serves the blob or manifest `name` (see [`FrontOptions::corrupt`]) of `upstream`
    /// with one byte changed.
    pub fn corrupting(upstream: &Registry, name: &str) -> Front {
        Front::start(
            upstream,
            FrontOptions {
                corrupt: Some(name.into()),
                ..FrontOptions::default()
            },
        )
    }

    /// Starts a front with any options.
    pub fn start(upstream: &Registry, opts: FrontOptions) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the front on 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared {
            opts,
            upstream: upstream.addr(),
            port,
            tokens: Mutex::new(HashMap::new()),
            token_requests: Mutex::new(Vec::new()),
            redirected: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (shared, stop) = (shared.clone(), stop.clone());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let shared = shared.clone();
                    // Connection threads end on their own: every socket has timeouts.
                    thread::spawn(move || {
                        let _ = serve(conn, &shared);
                    });
                }
            })
        };
        Front {
            addr: format!("127.0.0.1:{port}"),
            shared,
            stop,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// Requests the token service has had so far.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        lock(&self.shared.token_requests).clone()
    }

    /// For each redirected blob request so far, the `Authorization` header it carried.
    pub fn redirected_authorizations(&self) -> Vec<Option<String>> {
        lock(&self.shared.redirected).clone()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so it sees the flag.
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A parsed request head.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    fn query(&self, name: &str) -> Option<String> {
        let q = self.target.split_once('?')?.1;
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| percent_decode(k) == name)
            .map(|(_, v)| percent_decode(v))
    }

    /// The user and password of a Basic `Authorization`.
    fn basic(&self) -> Option<(String, String)> {
        let v = self.header("authorization")?;
        let (scheme, b64) = v.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let raw = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
        let (u, p) = raw.split_once(':')?;
        Some((u.into(), p.into()))
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads up to the blank line after the headers. Returns the head and whatever body
/// bytes came with it.
fn read_head(s: &mut TcpStream) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > 64 << 10 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Status line and headers of a head.
fn parse_head(head: &[u8]) -> Option<(String, Vec<(String, String)>)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let first = lines.next()?.to_string();
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Some((first, headers))
}

fn serve(mut client: TcpStream, shared: &Shared) -> io::Result<()> {
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    client.set_write_timeout(Some(IO_TIMEOUT))?;
    // A TLS ClientHello (clients try HTTPS first) starts with 0x16: hang up at once so
    // the client falls back to HTTP instead of waiting for a ServerHello.
    let mut first = [0u8; 1];
    if client.peek(&mut first)? == 0 || !first[0].is_ascii_uppercase() {
        return Ok(());
    }
    let (head, body_start) = read_head(&mut client)?;
    let Some((line, headers)) = parse_head(&head) else {
        return respond(&mut client, 400, &[], b"bad request");
    };
    let mut parts = line.split_whitespace();
    let req = Request {
        method: parts.next().unwrap_or("").to_string(),
        target: parts.next().unwrap_or("").to_string(),
        headers,
    };
    let path = req.path().to_string();
    if path == "/token" {
        return token(&mut client, &req, shared);
    }
    if let Some(rest) = path.strip_prefix("/_redirected") {
        lock(&shared.redirected).push(req.header("authorization").map(str::to_string));
        let target = req.target.replacen(&path, rest, 1);
        return proxy(&mut client, &req, &target, &body_start, shared);
    }
    if !matches!(shared.opts.auth, FrontAuth::Open) && !authorized(&req, shared) {
        let scope = repository(&path)
            .map(|r| format!(",scope=\"repository:{r}:pull\""))
            .unwrap_or_default();
        let challenge = format!(
            "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"{TOKEN_SERVICE}\"{scope}",
            shared.port
        );
        return respond(
            &mut client,
            401,
            &[("WWW-Authenticate", &challenge), ("Content-Type", "application/json")],
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#,
        );
    }
    if shared.opts.redirect_blobs && req.method == "GET" && path.contains("/blobs/sha") {
        let location = format!("http://localhost:{}/_redirected{}", shared.port, req.target);
        return respond(&mut client, 307, &[("Location", &location)], b"");
    }
    proxy(&mut client, &req, &req.target.clone(), &body_start, shared)
}

/// `REPO` of `/v2/REPO/(manifests|blobs|tags)/...`.
fn repository(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v2/")?;
    ["/manifests/", "/blobs/", "/tags/"]
        .iter()
        .filter_map(|m| rest.rfind(m))
        .min()
        .map(|i| &rest[..i])
}

/// Whether the request carries a token issued for pulling its repository.
fn authorized(req: &Request, shared: &Shared) -> bool {
    let Some(token) = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let Some(scope) = lock(&shared.tokens).get(token.trim()).cloned() else {
        return false;
    };
    match repository(req.path()) {
        // `/v2/` itself: any valid token will do.
        None => true,
        Some(repo) => scope.split(' ').any(|s| {
            s.strip_prefix("repository:")
                .and_then(|s| s.rsplit_once(':'))
                .is_some_and(|(r, actions)| r == repo && actions.split(',').any(|a| a == "pull"))
        }),
    }
}

fn token(client: &mut TcpStream, req: &Request, shared: &Shared) -> io::Result<()> {
    let basic = req.basic();
    lock(&shared.token_requests).push(TokenRequest {
        service: req.query("service"),
        scope: req.query("scope"),
        user: basic.as_ref().map(|(u, _)| u.clone()),
    });
    if let FrontAuth::Token { user, pass } = &shared.opts.auth
        && basic.as_ref() != Some(&(user.clone(), pass.clone()))
    {
        return respond(
            client,
            401,
            &[("Content-Type", "application/json")],
            br#"{"details":"incorrect username or password"}"#,
        );
    }
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    // Unguessable enough for a test and needs no RNG crate.
    let token = format!("tok{n}x{:016x}", RandomState::new().hash_one(n));
    lock(&shared.tokens).insert(token.clone(), req.query("scope").unwrap_or_default());
    let body = format!(r#"{{"token":"{token}","access_token":"{token}","expires_in":300}}"#);
    respond(
        client,
        200,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

fn respond(
    client: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n\
         Docker-Distribution-Api-Version: registry/2.0\r\n",
        reason(status),
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    client.write_all(head.as_bytes())?;
    client.write_all(body)?;
    client.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        _ => "Status",
    }
}

/// Hop-by-hop headers and those the front decides itself.
fn is_own_header(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "authorization",
        "te",
        "upgrade",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// Passes one request to the registry and streams its answer back unchanged, except for
/// the corrupted blob.
fn proxy(
    client: &mut TcpStream,
    req: &Request,
    target: &str,
    body_start: &[u8],
    shared: &Shared,
) -> io::Result<()> {
    if req.header("transfer-encoding").is_some() {
        return respond(
            client,
            501,
            &[],
            b"chunked request bodies are not supported",
        );
    }
    let mut up = TcpStream::connect(&shared.upstream)?;
    up.set_read_timeout(Some(IO_TIMEOUT))?;
    up.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = format!("{} {target} HTTP/1.1\r\n", req.method);
    for (n, v) in &req.headers {
        if !is_own_header(n) {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    let len: u64 = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    up.write_all(body_start)?;
    io::copy(
        &mut (&*client).take(len.saturating_sub(body_start.len() as u64)),
        &mut up,
    )?;

    let (resp_head, resp_start) = read_head(&mut up)?;
    let Some((status_line, resp_headers)) = parse_head(&resp_head) else {
        return respond(client, 502, &[], b"bad upstream answer");
    };
    let mut out = format!("{status_line}\r\n");
    for (n, v) in &resp_headers {
        if !is_own_header(n) {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    client.write_all(out.as_bytes())?;
    // With `Connection: close` on both sides the body is everything until EOF, whatever
    // its framing, so it is copied as is.
    let corrupt = req.method == "GET"
        && status_line.split_whitespace().nth(1) == Some("200")
        && shared.opts.corrupt.as_ref().is_some_and(|d| {
            let p = req.path();
            p.ends_with(&format!("/blobs/{d}")) || p.ends_with(&format!("/manifests/{d}"))
        });
    let mut body = io::Cursor::new(resp_start).chain(up);
    if !corrupt {
        io::copy(&mut body, client)?;
        return client.shutdown(Shutdown::Write);
    }
    // Change the middle byte: the length stays right, only the hash can tell.
    let len: u64 = resp_headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let target_at = len / 2;
    let mut at = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = body.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if (at..at + n as u64).contains(&target_at) {
            buf[(target_at - at) as usize] ^= 0x55;
        }
        at += n as u64;
        client.write_all(&buf[..n])?;
    }
    client.shutdown(Shutdown::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One raw request; returns status, head and body.
    fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, head.to_string(), body.to_string())
    }

    fn basic(u: &str, p: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{u}:{p}")))
    }

    #[test]
    fn registry_starts_and_stops() {
        let reg = Registry::start();
        let addr = reg.addr();
        let (status, head, body) = get(&addr, "/v2/", &[]);
        assert_eq!((status, body.as_str()), (200, "{}"), "{head}");
        let (status, _, body) = get(&addr, "/v2/none/manifests/latest", &[]);
        assert_eq!(status, 404);
        assert!(
            body.contains("NAME_UNKNOWN") || body.contains("MANIFEST_UNKNOWN"),
            "{body}"
        );
        drop(reg);
        assert_eq!(probe(&addr), None, "registry still answers after drop");
    }

    #[test]
    fn basic_auth_registry_checks_the_password() {
        let reg = Registry::start_with_basic_auth("alice", "pw");
        let addr = reg.addr();
        let (status, head, _) = get(&addr, "/v2/", &[]);
        assert_eq!(status, 401);
        assert!(head.contains("Basic realm="), "{head}");
        assert_eq!(
            get(&addr, "/v2/", &[("Authorization", &basic("alice", "no"))]).0,
            401
        );
        assert_eq!(
            get(&addr, "/v2/", &[("Authorization", &basic("alice", "pw"))]).0,
            200
        );
    }

    #[test]
    fn token_front_issues_and_checks_tokens() {
        let reg = Registry::start();
        let front = Front::token(&reg, "bob", "pw");
        let addr = front.addr();
        let (status, head, body) = get(&addr, "/v2/some/repo/manifests/v1", &[]);
        assert_eq!(status, 401);
        assert!(
            head.contains(&format!(
                "Bearer realm=\"http://{addr}/token\",service=\"test-registry\",scope=\"repository:some/repo:pull\""
            )),
            "{head}"
        );
        assert!(body.contains("UNAUTHORIZED"));
        let token_path = "/token?service=test-registry&scope=repository%3Asome%2Frepo%3Apull";
        assert_eq!(
            get(
                &addr,
                token_path,
                &[("Authorization", &basic("bob", "bad"))]
            )
            .0,
            401
        );
        let (status, _, body) = get(&addr, token_path, &[("Authorization", &basic("bob", "pw"))]);
        assert_eq!(status, 200);
        let token = serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        let bearer = format!("Bearer {token}");
        // Proxied: the registry itself answers, with its own headers.
        let (status, head, _) = get(
            &addr,
            "/v2/some/repo/manifests/v1",
            &[("Authorization", &bearer)],
        );
        assert_eq!(status, 404, "{head}");
        assert!(head.contains("Docker-Distribution-Api-Version"), "{head}");
        // The token is for some/repo only.
        assert_eq!(
            get(
                &addr,
                "/v2/other/manifests/v1",
                &[("Authorization", &bearer)]
            )
            .0,
            401
        );
        assert_eq!(get(&addr, "/v2/", &[("Authorization", &bearer)]).0, 200);
        assert_eq!(
            front.token_requests(),
            vec![
                TokenRequest {
                    service: Some("test-registry".into()),
                    scope: Some("repository:some/repo:pull".into()),
                    user: Some("bob".into())
                };
                2
            ]
        );
    }

    #[test]
    fn front_hangs_up_on_tls() {
        let reg = Registry::start();
        let front = Front::start(&reg, FrontOptions::default());
        let mut s = TcpStream::connect(front.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&[0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0]).unwrap();
        // Closed without an answer; unread bytes make the close a reset.
        match s.read_to_end(&mut Vec::new()) {
            Ok(n) => assert_eq!(n, 0),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(percent_decode("a%3Ab%2fc+d%zz%4"), "a:b/c d%zz%4");
        assert_eq!(repository("/v2/a/b/manifests/v1"), Some("a/b"));
        assert_eq!(repository("/v2/a/blobs/sha256:x"), Some("a"));
        assert_eq!(repository("/v2/a/tags/list"), Some("a"));
        assert_eq!(repository("/v2/"), None);
    }
}
