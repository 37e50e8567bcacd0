use std::fmt;
use std::str::FromStr;

use crate::Digest;

/// The registry Docker Hub references resolve to when no host is named.
pub const DOCKER_HUB: &str = "docker.io";

/// A registry image reference, normalized the way Docker normalizes it:
/// `nginx` is `docker.io/library/nginx:latest`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// Registry host, with port if one was given (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Repository path (`library/nginx`, `o/r`).
    pub repository: String,
    /// Tag, if any. A reference with neither tag nor digest gets `latest`.
    pub tag: Option<String>,
    /// Digest, if pinned.
    pub digest: Option<Digest>,
}

/// Why a string is not an image reference.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceError {
    /// Empty string.
    #[error("empty image reference")]
    Empty,
    /// A path component with characters a registry does not accept.
    #[error("invalid image reference `{reference}`: {why}")]
    Invalid {
        /// The input.
        reference: String,
        /// What is wrong.
        why: String,
    },
    /// A bad digest after `@`.
    #[error("invalid digest in image reference: {0}")]
    Digest(#[from] crate::DigestError),
}

impl ImageRef {
    /// The host to talk to: Docker Hub's API lives on another name than its references.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// The tag or digest to ask the registry for (the digest wins when both are given).
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

fn invalid(reference: &str, why: impl Into<String>) -> ReferenceError {
    ReferenceError::Invalid {
        reference: reference.to_string(),
        why: why.into(),
    }
}

fn is_path_component(c: &str) -> bool {
    // [a-z0-9]+ separated by one of `.`, `_`, `__`, `-`+ (the distribution grammar).
    if c.is_empty() || c.len() > 255 {
        return false;
    }
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    b.iter()
        .all(|&x| alnum(x) || x == b'.' || x == b'_' || x == b'-')
}

/// A registry host: a name or a bracketed IPv6 address, then maybe `:port`. A port that is
/// not a number is refused here, so `rootfs:dir/x` is not taken for host `rootfs` on port
/// `dir` and sent to the network.
fn check_host(host: &str) -> Result<(), String> {
    // (the name when it is not an IPv6 address, the port if one is given)
    let (name, port) = match host.strip_prefix('[') {
        Some(v6) => {
            let (addr, after) = v6.split_once(']').ok_or("`[` without `]`")?;
            if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
                return Err(format!("`{addr}` is not an IPv6 address"));
            }
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or("text after `]`")?),
            };
            (None, port)
        }
        None => match host.split_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(host), None),
        },
    };
    if let Some(n) = name
        && (n.is_empty()
            || !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b)))
    {
        return Err("letters, digits, `.` and `-` only before the port".into());
    }
    if let Some(p) = port
        && !(p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n > 0))
    {
        return Err(format!("port `{p}` is not a number from 1 to 65535"));
    }
    Ok(())
}

fn is_domain(c: &str) -> bool {
    c.contains('.')
        || c.contains(':')
        || c == "localhost"
        || c.bytes().any(|b| b.is_ascii_uppercase())
}

impl FromStr for ImageRef {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if s.len() > 4096 {
            return Err(invalid(&s[..64], "longer than 4096 characters"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d.parse::<Digest>()?)),
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && (t.as_bytes()[0].is_ascii_alphanumeric() || t.starts_with('_'))
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(invalid(s, format!("bad tag `{t}`")));
            }
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let registry = if parts.len() > 1 && is_domain(parts[0]) {
            let host = parts.remove(0);
            check_host(host)
                .map_err(|why| invalid(s, format!("bad registry host `{host}`: {why}")))?;
            host.to_string()
        } else {
            DOCKER_HUB.to_string()
        };
        if let Some(bad) = parts.iter().find(|p| !is_path_component(p)) {
            return Err(invalid(
                s,
                format!(
                    "bad repository path component `{bad}` (lowercase letters, digits and . _ - only)"
                ),
            ));
        }
        let mut repository = parts.join("/");
        if registry == DOCKER_HUB && parts.len() == 1 {
            repository = format!("library/{repository}");
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ImageRef {
        s.parse().unwrap()
    }

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(p("nginx").to_string(), "docker.io/library/nginx:latest");
        assert_eq!(p("o/r:1").to_string(), "docker.io/o/r:1");
        let r = p("127.0.0.1:5000/app:1");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("127.0.0.1:5000", "app")
        );
        let d = format!("sha256:{}", "b".repeat(64));
        let r = p(&format!("ghcr.io/o/r@{d}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.reference(), d);
        let r = p("localhost/x/y:tag");
        assert_eq!(r.registry, "localhost");
        assert_eq!(r.api_host(), "localhost");
        assert_eq!(p("nginx").api_host(), "registry-1.docker.io");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "Nginx",
            "a//b",
            "a:",
            "a:b c",
            "-a",
            "a@sha256:zz",
            "a/../b",
            "rootfs:target/fp/minbase",
            "host:0/x",
            "host:65536/x",
            "host:5000:1/x",
            ":5000/x",
            "[::1/x",
            "[zz]:5000/x",
            "[::1]x/y",
        ] {
            assert!(bad.parse::<ImageRef>().is_err(), "{bad} should not parse");
        }
        let e = "rootfs:target/x"
            .parse::<ImageRef>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("port `target`"), "{e}");
    }

    #[test]
    fn accepts_hosts_with_ports_and_ipv6() {
        for (good, host) in [
            ("127.0.0.1:5000/app", "127.0.0.1:5000"),
            ("[::1]:5000/app:1", "[::1]:5000"),
            ("[fe80::1]/app", "[fe80::1]"),
            (
                "registry.example.com:65535/o/app",
                "registry.example.com:65535",
            ),
            ("localhost:1/app", "localhost:1"),
        ] {
            assert_eq!(p(good).registry, host, "{good}");
        }
    }
}
