//! `customs ami check` through the real binary, on image lists shaped like what `aws ec2
//! describe-images`, `gcloud compute images list --format=json` and `az vm image list -o
//! json` print (fixtures in `tests/fixtures/machine-images/`, written by hand with the
//! fields the real commands print).

use customs_test_support::cli::CliRun as Run;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// 2024-03-20T12:00:00Z: the fixtures' images are dated relative to this.
const NOW: &str = "2024-03-20T12:00:00Z";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/machine-images")
        .join(name)
}

fn ami(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_customs"))
        .args(["ami", "check", "--now", NOW])
        .args(args)
        .env_remove("CUSTOMS_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("customs runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    Run::from_output(child.wait_with_output().unwrap())
}

fn json(file: &str, extra: &[&str]) -> Run {
    let path = fixture(file);
    let mut args = vec!["--format", "json", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    ami(&args, None)
}

fn rules(r: &Value) -> Vec<&str> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

fn by_id<'a>(reports: &'a [Value], id: &str) -> &'a Value {
    reports
        .iter()
        .find(|r| r["image"]["machine_image"]["id"] == id)
        .unwrap_or_else(|| panic!("no report for {id}"))
}

#[test]
fn official_amazon_and_marketplace_images_pass() {
    let run = json("aws-allowed.json", &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let reports = run.reports();
    assert_eq!(reports.len(), 4, "one report per image");
    for r in &reports {
        assert_eq!(r["verdict"], "clean", "{r}");
        assert!(rules(r).is_empty(), "{r}");
        assert_eq!(r["image"]["machine_image"]["cloud"], "aws");
    }
    let canonical = by_id(&reports, "ami-0e001c9271cf7f3b9");
    assert_eq!(canonical["image"]["machine_image"]["owner"], "099720109477");
    assert_eq!(canonical["image"]["platform"], "linux/amd64");
    assert_eq!(canonical["image"]["created"], "2024-03-01T06:55:14.000Z");
    let windows = by_id(&reports, "ami-0f9c44e98edf38a2b");
    assert_eq!(windows["image"]["machine_image"]["owner_alias"], "amazon");
    assert_eq!(windows["image"]["platform"], "windows/amd64");
}

#[test]
fn whoami_community_new_and_deprecated_images_are_flagged() {
    let run = json("aws-community.json", &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let reports = run.reports();
    assert_eq!(reports.len(), 6);
    // The real Canonical images beside the impersonator stay clean.
    for id in ["ami-0e001c9271cf7f3b9", "ami-0c7217cdde317cfec"] {
        let r = by_id(&reports, id);
        assert_eq!(r["verdict"], "clean", "{r}");
        assert!(rules(r).is_empty(), "{r}");
    }
    let who = by_id(&reports, "ami-0f1e2d3c4b5a69788");
    assert_eq!(who["verdict"], "malicious", "{who}");
    let w = &who["findings"][0];
    assert_eq!(w["rule"], "ami-name-impersonation");
    assert_eq!(w["confidence"], "high");
    assert!(w["evidence"].as_str().unwrap().contains("whoAMI"), "{w}");
    assert!(rules(who).contains(&"ami-newly-published"));
    assert!(rules(who).contains(&"ami-owner-not-allowed"));
    assert_eq!(who["drivers"]["findings"], serde_json::json!([0]));

    let community = by_id(&reports, "ami-03c983f9003cb9cd1");
    assert_eq!(rules(community), ["ami-owner-not-allowed"]);
    assert_eq!(community["verdict"], "suspicious");

    let new = by_id(&reports, "ami-0a7c3b9e1d2f40561");
    assert!(rules(new).contains(&"ami-newly-published"), "{new}");
    assert!(!rules(new).contains(&"ami-name-impersonation"), "{new}");

    let old_debian = by_id(&reports, "ami-0ab1c2d3e4f506172");
    assert_eq!(rules(old_debian), ["ami-deprecated"]);
    assert_eq!(
        old_debian["verdict"], "clean",
        "a low finding alone is not suspicious"
    );
}

#[test]
fn the_policy_sets_owners_and_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "schema = 1\n[machine_images]\nallowed_owners = [\"444455556666\", \"555566667777\"]\n\
         newly_published = \"1h\"\n",
    )
    .unwrap();
    let run = json(
        "aws-community.json",
        &["--policy", policy.to_str().unwrap()],
    );
    let reports = run.reports();
    assert!(rules(by_id(&reports, "ami-03c983f9003cb9cd1")).is_empty());
    assert!(rules(by_id(&reports, "ami-0a7c3b9e1d2f40561")).is_empty());
    // Still an impersonation, and 4 h 48 min old is not newer than 1 h.
    let who = rules(by_id(&reports, "ami-0f1e2d3c4b5a69788"));
    assert!(
        who.contains(&"ami-name-impersonation") && !who.contains(&"ami-newly-published"),
        "{who:?}"
    );

    // Allowed-AMIs style: only Amazon's own; Canonical and the Marketplace now fail.
    std::fs::write(
        &policy,
        "schema = 1\n[machine_images]\nallowed_owners = [\"amazon\"]\nofficial_publishers = false\n",
    )
    .unwrap();
    let run = json("aws-allowed.json", &["--policy", policy.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    let reports = run.reports();
    assert!(rules(by_id(&reports, "ami-051f8a213df8bc089")).is_empty());
    assert_eq!(
        rules(by_id(&reports, "ami-0e001c9271cf7f3b9")),
        ["ami-owner-not-allowed"]
    );
    assert_eq!(
        rules(by_id(&reports, "ami-0d191299f2822b1fa")),
        ["ami-owner-not-allowed"]
    );

    // A typo in the section is refused, not ignored.
    std::fs::write(
        &policy,
        "schema = 1\n[machine_images]\nallowed_owner = [\"amazon\"]\n",
    )
    .unwrap();
    let run = json("aws-allowed.json", &["--policy", policy.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("allowed_owner"), "{}", run.stderr);
    std::fs::write(
        &policy,
        "schema = 1\n[machine_images]\nallowed_owners = [\"none\"]\n",
    )
    .unwrap();
    let run = json("aws-allowed.json", &["--policy", policy.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("12-digit account id"), "{}", run.stderr);
}

#[test]
fn gcloud_and_az_lists_have_one_good_and_one_bad_image() {
    for (file, good, bad, bad_rules) in [
        (
            "gcp.json",
            "projects/debian-cloud/global/images/debian-12-bookworm-v20240312",
            "projects/ops-sandbox-4821/global/images/debian-12-bookworm-v20240319",
            &[
                "ami-name-impersonation",
                "ami-owner-not-allowed",
                "ami-newly-published",
            ][..],
        ),
        (
            "azure.json",
            "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:22.04.202403130",
            "CanonicaI:0001-com-ubuntu-server-jammy:22_04-lts-gen2:22.04.202403190",
            &[
                "ami-name-impersonation",
                "ami-owner-not-allowed",
                "ami-owner-lookalike",
            ][..],
        ),
    ] {
        let run = json(file, &[]);
        assert_eq!(run.code, 1, "{file}: {}{}", run.stdout, run.stderr);
        let reports = run.reports();
        assert_eq!(reports.len(), 2, "{file}");
        assert!(rules(by_id(&reports, good)).is_empty(), "{file}");
        let mut got = rules(by_id(&reports, bad));
        got.sort();
        let mut want = bad_rules.to_vec();
        want.sort();
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn malformed_and_unknown_json_exit_2_with_a_clear_message() {
    for (file, want) in [
        ("truncated.json", "not JSON"),
        ("not-an-image-list.json", "without `Images`"),
    ] {
        let run = json(file, &[]);
        assert_eq!(run.code, 2, "{file}: {}", run.stdout);
        assert!(run.stderr.contains(want), "{file}: {}", run.stderr);
        let reports = run.reports();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0]["verdict"], "error");
        assert!(reports[0]["errors"][0].as_str().unwrap().contains(want));
    }
    let missing = ami(&["/nonexistent/images.json"], None);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("can not read"),
        "{}",
        missing.stderr
    );
    // One unusable entry is an error for that entry; the others are still checked.
    let run = ami(
        &["--format", "json", "-"],
        Some(
            br#"{"Images": [{"ImageId": "ami-1", "OwnerId": "099720109477"},
                {"ImageId": "ami-2", "OwnerId": "444455556666", "Name": "x",
                 "CreationDate": "2023-01-01T00:00:00.000Z", "Public": true}]}"#,
        ),
    );
    assert_eq!(run.code, 2);
    let reports = run.reports();
    assert_eq!(reports[0]["verdict"], "error");
    assert!(
        reports[0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("image 1: no `CreationDate`")
    );
    assert_eq!(rules(&reports[1]), ["ami-owner-not-allowed"]);
}

#[test]
fn table_and_sarif_carry_the_same_findings() {
    let path = fixture("aws-community.json");
    let table = ami(&[path.to_str().unwrap()], None);
    assert_eq!(table.code, 1);
    for want in [
        "ami-name-impersonation",
        "ami-0f1e2d3c4b5a69788",
        "210987654321",
        "whoAMI",
    ] {
        assert!(
            table.stdout.contains(want),
            "{want} not in\n{}",
            table.stdout
        );
    }
    let sarif = ami(&["--format", "sarif", path.to_str().unwrap()], None);
    assert_eq!(sarif.code, 1);
    let log: Value = serde_json::from_str(&sarif.stdout).unwrap();
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6);
    let mut categories: Vec<&str> = runs
        .iter()
        .map(|r| r["automationDetails"]["id"].as_str().unwrap())
        .collect();
    categories.sort();
    categories.dedup();
    assert_eq!(
        categories.len(),
        6,
        "every image keeps its own SARIF category"
    );
}
