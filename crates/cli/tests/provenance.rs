//! The policy's `[provenance]` section through the real binary, against a real
//! `docker-registry` on loopback with images signed in the test (cosign simple signing).

use customs_test_support::cli::CliRun;
use std::path::Path;
use std::process::Command;

use customs_test_support::cosign::{Signer, payload};
use customs_test_support::fixtures::{self, Entry, ImageSpec, LayerSpec};
use customs_test_support::registry::{Front, Registry};
use serde_json::Value;

struct Run {
    code: i32,
    report: Value,
    stderr: String,
}

fn scan(dir: &Path, policy: &str, target: &str) -> Run {
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, format!("schema = 1\n{policy}")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_customs"))
        .current_dir(dir)
        .args([
            "scan",
            "--quiet",
            "--no-cache",
            "--no-ignore",
            "--format",
            "json",
        ])
        .arg("--policy")
        .arg(&policy_path)
        .arg(target)
        .env("DOCKER_CONFIG", dir.join("no-docker-config"))
        .env_remove("CUSTOMS_LOG")
        .output()
        .expect("customs runs");
    let run = CliRun::from_output(out);
    Run {
        code: run.code,
        // A run that fails with an error writes no report.
        report: run.reports().into_iter().next().unwrap_or(Value::Null),
        stderr: run.stderr,
    }
}

fn rules(r: &Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["rule"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn finding<'a>(r: &'a Value, rule: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} in {r}"))
}

struct Setup {
    reg: Registry,
    dir: tempfile::TempDir,
    key: Signer,
    /// The manifest digest of `app:signed`.
    signed: String,
}

/// `app:signed` signed with `key` (written to `keys/cosign.pub`), `app:unsigned` not, and
/// the OCI layout they came from at `layout` (tag `v1`).
fn setup() -> Setup {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let spec = ImageSpec::new(vec![LayerSpec::new(vec![Entry::file(
        "etc/motd", "hello\n",
    )])]);
    fixtures::write_oci_layout(&layout, &[("v1", &spec)]).unwrap();
    let other = ImageSpec::new(vec![LayerSpec::new(vec![Entry::file("etc/motd", "bye\n")])]);
    let other_layout = dir.path().join("other");
    fixtures::write_oci_layout(&other_layout, &[("v1", &other)]).unwrap();
    let signed = reg.push_oci(&layout, "v1", "app:signed", None, None);
    reg.push_oci(&other_layout, "v1", "app:unsigned", None, None);
    let key = Signer::generate();
    let body = payload(&format!("{}/app", reg.addr()), &signed);
    key.push_signature(&reg, "app", &signed, &[(body.clone(), key.sign(&body))]);
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/cosign.pub"), key.public_pem()).unwrap();
    Setup {
        reg,
        dir,
        key,
        signed,
    }
}

const REQUIRE: &str = "[provenance]\nrequire_signature = true\nkeys = [\"keys/cosign.pub\"]\n";

#[test]
fn signed_images_pass_and_unsigned_ones_fail_the_gate() {
    let s = setup();
    let signed = format!("{}/app:signed", s.reg.addr());
    let r = scan(s.dir.path(), REQUIRE, &signed);
    assert_eq!(r.code, 0, "{}\n{}", r.report, r.stderr);
    assert!(rules(&r.report).is_empty(), "{}", r.report);
    assert_eq!(r.report["verdict"], "clean");

    let r = scan(
        s.dir.path(),
        REQUIRE,
        &format!("{}/app:unsigned", s.reg.addr()),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.report, r.stderr);
    assert_eq!(rules(&r.report), ["provenance-unsigned"]);
    let f = finding(&r.report, "provenance-unsigned");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["attack"], serde_json::json!(["T1204.003", "T1553"]));
    assert!(
        f["evidence"].as_str().unwrap().contains("keys/cosign.pub"),
        "{f}"
    );
}

#[test]
fn a_signature_by_another_key_fails_the_gate() {
    let s = setup();
    let stranger = Signer::generate();
    std::fs::write(
        s.dir.path().join("keys/stranger.pub"),
        stranger.public_pem(),
    )
    .unwrap();
    let policy = "[provenance]\nrequire_signature = true\nkeys = [\"keys/stranger.pub\"]\n";
    let r = scan(
        s.dir.path(),
        policy,
        &format!("{}/app:signed", s.reg.addr()),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.report, r.stderr);
    assert_eq!(rules(&r.report), ["provenance-signature-invalid"]);
    // With both keys configured, our own signature is enough.
    let both = "[provenance]\nrequire_signature = true\n\
                keys = [\"keys/stranger.pub\", \"keys/cosign.pub\"]\n";
    let r = scan(s.dir.path(), both, &format!("{}/app:signed", s.reg.addr()));
    assert_eq!(r.code, 0, "{}", r.report);
    drop(s.key);
}

#[test]
fn registries_namespaces_and_pinning() {
    let s = setup();
    let addr = s.reg.addr();
    let signed = format!("{addr}/app:signed");
    let policy = "[provenance]\nallowed_registries = [\"127.0.0.1:*\"]\n\
                  allowed_namespaces = [\"127.0.0.1:*/app\"]\n";
    let r = scan(s.dir.path(), policy, &signed);
    assert_eq!(r.code, 0, "{}", r.report);
    let policy = "[provenance]\nallowed_registries = [\"ghcr.io\"]\n\
                  allowed_namespaces = [\"127.0.0.1:*/myorg/*\"]\nrequire_digest = true\n";
    let r = scan(s.dir.path(), policy, &signed);
    assert_eq!(r.code, 1, "{}", r.report);
    let mut got = rules(&r.report);
    got.sort();
    assert_eq!(
        got,
        [
            "provenance-namespace-not-allowed",
            "provenance-not-pinned",
            "provenance-registry-not-allowed"
        ]
    );
    assert_eq!(r.report["verdict"], "malicious");
}

#[test]
fn a_local_image_can_not_show_a_signature() {
    let s = setup();
    let target = format!("oci:{}:v1", s.dir.path().join("layout").display());
    let r = scan(s.dir.path(), REQUIRE, &target);
    assert_eq!(r.code, 1, "{}", r.report);
    let f = finding(&r.report, "provenance-unsigned");
    assert!(
        f["evidence"]
            .as_str()
            .unwrap()
            .contains("not scanned from a registry"),
        "{f}"
    );
    // Without the requirement, the key alone asks for nothing a local image can not give.
    let r = scan(
        s.dir.path(),
        "[provenance]\nkeys = [\"keys/cosign.pub\"]\n",
        &target,
    );
    assert_eq!(r.code, 0, "{}", r.report);
    assert!(rules(&r.report).is_empty());
}

#[test]
fn a_bad_key_file_stops_the_run() {
    let s = setup();
    std::fs::write(s.dir.path().join("keys/bad.pub"), "not a key").unwrap();
    let target = format!("{}/app:signed", s.reg.addr());
    for (keys, msg) in [
        ("keys/missing.pub", "can not read the cosign key"),
        ("keys/bad.pub", "is not a cosign public key"),
    ] {
        let policy = format!("[provenance]\nrequire_signature = true\nkeys = [\"{keys}\"]\n");
        let policy_path = s.dir.path().join("policy.toml");
        std::fs::write(&policy_path, format!("schema = 1\n{policy}")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_customs"))
            .args(["scan", "--quiet", "--no-cache", "--no-ignore", "--policy"])
            .arg(&policy_path)
            .arg(&target)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(msg), "{stderr}");
    }
}

#[test]
fn a_signature_that_can_not_be_read_is_an_error_not_unsigned() {
    let s = setup();
    // The signature payload blob served with one byte changed: its digest no longer holds.
    let body = payload(&format!("{}/app", s.reg.addr()), &s.signed);
    let front = Front::corrupting(&s.reg, &fixtures::sha256_digest(&body));
    let r = scan(
        s.dir.path(),
        REQUIRE,
        &format!("{}/app:signed", front.addr()),
    );
    assert_eq!(r.code, 2, "{}\n{}", r.report, r.stderr);
    assert_eq!(r.report["verdict"], "error");
    let errors = r.report["errors"].to_string();
    assert!(
        errors.contains("can not check the image's signatures"),
        "{errors}"
    );
    assert!(errors.contains("digest mismatch"), "{errors}");
    assert!(rules(&r.report).is_empty(), "{}", r.report);
    // The same registry without the fault: verified.
    let r = scan(
        s.dir.path(),
        REQUIRE,
        &format!("{}/app:signed", s.reg.addr()),
    );
    assert_eq!(r.code, 0, "{}", r.report);
}
