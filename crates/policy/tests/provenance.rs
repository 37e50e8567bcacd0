//! The `[provenance]` section: parsing, and the pure check with a match and a near miss
//! for every rule.

use customs_core::Finding;
use customs_policy::{
    Policy, PolicyError, Provenance, ProvenanceInput, SignatureState, check_provenance,
};

/// 2024-06-01T12:00:00Z.
const NOW: i64 = 1_717_243_200;

fn rules(section: &str) -> Provenance {
    Policy::from_toml(&format!("schema = 1\n[provenance]\n{section}"))
        .unwrap_or_else(|e| panic!("{section}: {e}"))
        .provenance
        .expect("section parsed")
}

fn input(name: Option<&str>) -> ProvenanceInput<'_> {
    ProvenanceInput {
        name,
        created: Some("2024-01-01T00:00:00Z"),
        now_unix: NOW,
        signature: SignatureState::NotChecked,
    }
}

fn ids(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|f| f.rule.as_str()).collect()
}

fn check(p: &Provenance, name: &str) -> Vec<String> {
    check_provenance(p, &input(Some(name)))
        .into_iter()
        .map(|f| f.rule)
        .collect()
}

#[test]
fn no_section_changes_nothing() {
    assert_eq!(Policy::from_toml("schema = 1").unwrap().provenance, None);
    let empty = rules("");
    assert!(check_provenance(&empty, &input(None)).is_empty());
    assert!(check_provenance(&empty, &input(Some("evil.example/x/y:latest"))).is_empty());
}

#[test]
fn allowed_registries() {
    let p = rules("allowed_registries = [\"docker.io\", \"*.corp.example\", \"127.0.0.1:5000\"]\n");
    for ok in [
        "nginx",
        "docker.io/library/nginx:1.27",
        "index.docker.io/library/nginx",
        "registry.corp.example/team/app:v1",
        "127.0.0.1:5000/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        assert!(check(&p, ok).is_empty(), "{ok}: {:?}", check(&p, ok));
    }
    for (bad, why) in [
        ("ghcr.io/org/app:v1", "another registry"),
        ("docker.io.evil.example/library/nginx", "a look-alike host"),
        ("corp.example/app", "the bare domain is not *.corp.example"),
        ("127.0.0.1:5001/app", "another port"),
    ] {
        assert_eq!(
            check(&p, bad),
            ["provenance-registry-not-allowed"],
            "{bad}: {why}"
        );
    }
    let f = &check_provenance(&p, &input(Some("ghcr.io/org/app:v1")))[0];
    assert!(f.evidence.contains("`ghcr.io`"), "{}", f.evidence);
    assert!(f.attack.contains(&"T1204.003".to_string()));
}

#[test]
fn allowed_namespaces() {
    let p = rules(
        "allowed_namespaces = [\"docker.io/library\", \"ghcr.io/myorg/*\", \"quay.io/team\"]\n",
    );
    for ok in [
        "alpine:3.20",
        "docker.io/library/redis",
        "ghcr.io/myorg/app:v1",
        "quay.io/team/app",
        "quay.io/team/sub/app",
    ] {
        assert!(check(&p, ok).is_empty(), "{ok}: {:?}", check(&p, ok));
    }
    for bad in [
        "ghcr.io/myorg-evil/x",
        "ghcr.io/myorg/team/app",
        "ghcr.io/myorgx/app",
        "docker.io/libraryx/nginx",
        "bitnami/nginx",
        "quay.io/teams/app",
        "ghcr.io/library/nginx",
    ] {
        assert_eq!(
            check(&p, bad),
            ["provenance-namespace-not-allowed"],
            "{bad}"
        );
    }
    let f = &check_provenance(&p, &input(Some("ghcr.io/myorg-evil/x")))[0];
    assert!(f.attack.contains(&"T1036.005".to_string()));
    assert!(
        f.evidence.contains("ghcr.io/myorg-evil/x"),
        "{}",
        f.evidence
    );
}

#[test]
fn digest_pinning() {
    let p = rules("require_digest = true\n");
    let pinned =
        "ghcr.io/o/a@sha256:1111111111111111111111111111111111111111111111111111111111111111";
    assert!(check(&p, pinned).is_empty());
    let both =
        "ghcr.io/o/a:v1@sha256:1111111111111111111111111111111111111111111111111111111111111111";
    assert!(check(&p, both).is_empty());
    assert_eq!(check(&p, "ghcr.io/o/a:v1"), ["provenance-not-pinned"]);
    assert_eq!(check(&p, "ghcr.io/o/a"), ["provenance-not-pinned"]);
}

#[test]
fn origin_unknown_only_when_the_name_matters() {
    let p = rules("require_digest = true\n");
    assert_eq!(
        ids(&check_provenance(&p, &input(None))),
        ["provenance-origin-unknown"]
    );
    assert_eq!(
        ids(&check_provenance(&p, &input(Some("Not A Name")))),
        ["provenance-origin-unknown"]
    );
    let age_only = rules("newly_built = \"24h\"\n");
    assert!(check_provenance(&age_only, &input(None)).is_empty());
}

#[test]
fn newly_built_and_odd_dates() {
    let p = rules("newly_built = \"24h\"\n");
    let at = |created: Option<&str>| {
        let mut i = input(None);
        i.created = created;
        ids(&check_provenance(&p, &i))
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    // 23 hours old: new. 25 hours old: not.
    assert_eq!(at(Some("2024-05-31T13:00:00Z")), ["provenance-newly-built"]);
    assert!(at(Some("2024-05-31T11:00:00Z")).is_empty());
    // The same instant with an offset.
    assert_eq!(
        at(Some("2024-05-31T15:00:00+02:00")),
        ["provenance-newly-built"]
    );
    // A minute ahead is clock skew; a day ahead is not.
    assert_eq!(at(Some("2024-06-01T12:01:00Z")), ["provenance-newly-built"]);
    assert_eq!(
        at(Some("2024-06-02T12:00:00Z")),
        ["provenance-created-future"]
    );
    assert_eq!(at(None), ["provenance-created-missing"]);
    assert_eq!(at(Some("yesterday")), ["provenance-created-missing"]);
    // Reproducible builds' placeholders are not build dates.
    assert_eq!(
        at(Some("1970-01-01T00:00:00Z")),
        ["provenance-created-missing"]
    );
    assert_eq!(
        at(Some("0001-01-01T00:00:00Z")),
        ["provenance-created-missing"]
    );
    let week = rules("newly_built = \"7d\"\n");
    let mut i = input(None);
    i.created = Some("2024-05-28T00:00:00Z");
    assert_eq!(
        ids(&check_provenance(&week, &i)),
        ["provenance-newly-built"]
    );
    let f = &check_provenance(&week, &i)[0];
    assert!(f.evidence.contains("4d 12h ago"), "{}", f.evidence);
}

#[test]
fn signatures() {
    let required = rules("require_signature = true\nkeys = [\"cosign.pub\"]\n");
    let optional = rules("keys = [\"cosign.pub\"]\n");
    let with = |p: &Provenance, s: SignatureState| {
        let mut i = input(None);
        i.signature = s;
        check_provenance(p, &i)
            .into_iter()
            .map(|f| f.rule)
            .collect::<Vec<_>>()
    };
    let verified = SignatureState::Verified {
        key: "cosign.pub".into(),
        digest: "sha256:1".into(),
    };
    let invalid = SignatureState::Invalid(vec!["signed by another key".into()]);
    assert!(with(&required, verified.clone()).is_empty());
    assert!(with(&optional, verified).is_empty());
    assert_eq!(
        with(&required, SignatureState::Unsigned),
        ["provenance-unsigned"]
    );
    assert!(with(&optional, SignatureState::Unsigned).is_empty());
    assert_eq!(
        with(&required, SignatureState::Unavailable("local".into())),
        ["provenance-unsigned"]
    );
    assert!(with(&optional, SignatureState::Unavailable("local".into())).is_empty());
    assert_eq!(
        with(&required, invalid.clone()),
        ["provenance-signature-invalid"]
    );
    assert_eq!(
        with(&optional, invalid.clone()),
        ["provenance-signature-invalid"]
    );
    let mut i = input(None);
    i.signature = invalid;
    let f = &check_provenance(&required, &i)[0];
    assert!(f.attack.contains(&"T1553".to_string()));
    assert!(
        f.evidence.contains("signed by another key"),
        "{}",
        f.evidence
    );
}

#[test]
fn full_section() {
    let p = rules(
        "allowed_registries = [\"ghcr.io\"]\nallowed_namespaces = [\"ghcr.io/myorg\"]\n\
         require_digest = true\nrequire_signature = true\nkeys = [\"k/a.pub\", \"/etc/b.pub\"]\n\
         newly_built = \"2w\"\n",
    );
    assert!(p.require_digest && p.require_signature);
    assert_eq!(p.keys.len(), 2);
    assert_eq!(p.newly_built_secs, Some(14 * 86_400));
    assert_eq!(p.line, 2);
    assert_eq!(p.allowed_namespaces[0].as_str(), "ghcr.io/myorg");
}

fn err(section: &str) -> (usize, String) {
    let text = format!("schema = 1\n\n[provenance]\n{section}");
    match Policy::from_toml(&text) {
        Ok(p) => panic!("accepted {section:?} as {p:?}"),
        Err(PolicyError::Syntax { line, message, .. })
        | Err(PolicyError::Invalid { line, message }) => (line, message),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn mistakes_are_errors() {
    let (line, m) = err("allowed_registry = [\"docker.io\"]\n");
    assert_eq!(line, 4);
    assert!(m.contains("unknown field `allowed_registry`"), "{m}");
    let (line, m) = err("require_signature = true\n");
    assert_eq!(line, 3);
    assert!(m.contains("needs `keys`"), "{m}");
    let (_, m) = err("newly_built = \"1 day\"\n");
    assert!(m.contains("bad `newly_built`"), "{m}");
    let (_, m) = err("newly_built = \"0h\"\n");
    assert!(m.contains("zero"), "{m}");
    let (_, m) = err("allowed_namespaces = [\"library\"]\n");
    assert!(m.contains("does not start with a registry host"), "{m}");
    let (_, m) = err("allowed_namespaces = [\"myorg/app\"]\n");
    assert!(m.contains("does not start with a registry host"), "{m}");
    let (_, m) = err("allowed_registries = [\"ghcr.io/myorg\"]\n");
    assert!(m.contains("not repositories"), "{m}");
    let (_, m) = err("allowed_registries = [\"\"]\n");
    assert!(m.contains("empty entry"), "{m}");
    let (_, m) = err("allowed_namespaces = [\"ghcr.io/[x\"]\n");
    assert!(m.contains("bad glob"), "{m}");
    let (_, m) = err("keys = [\" \"]\n");
    assert!(m.contains("empty path"), "{m}");
    let (_, m) = err("require_digest = \"yes\"\n");
    assert!(m.contains("invalid type"), "{m}");
}
