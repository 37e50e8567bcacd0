//! Every check on a sample that must match and a near miss that must not.

use serde_json::{Value, json};

use super::*;

/// 2024-03-20T12:00:00Z
const NOW: i64 = 1_710_936_000;
const CANONICAL: &str = "099720109477";
const JAMMY: &str = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-";

fn publishers() -> Publishers {
    Publishers::from_bundle(&customs_content::Bundle::embedded().unwrap()).unwrap()
}

/// An AMI as `describe-images` prints it, with the fields that matter overridden.
fn ami(id: &str, name: &str, owner: &str, created: &str, extra: Value) -> Value {
    let mut v = json!({
        "Architecture": "x86_64",
        "CreationDate": created,
        "ImageId": id,
        "ImageLocation": format!("{owner}/{name}"),
        "ImageType": "machine",
        "Public": true,
        "OwnerId": owner,
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "State": "available",
        "BlockDeviceMappings": [{"DeviceName": "/dev/sda1", "Ebs": {"DeleteOnTermination": true,
            "SnapshotId": "snap-0123456789abcdef0", "VolumeSize": 8, "VolumeType": "gp2",
            "Encrypted": false}}],
        "EnaSupport": true,
        "Hypervisor": "xen",
        "Name": name,
        "RootDeviceName": "/dev/sda1",
        "RootDeviceType": "ebs",
        "SriovNetSupport": "simple",
        "VirtualizationType": "hvm",
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

fn aws(images: Vec<Value>) -> Vec<MachineImage> {
    let text = serde_json::to_vec(&json!({ "Images": images })).unwrap();
    let list = parse_list(&text).unwrap();
    assert_eq!(list.cloud, Some(Cloud::Aws));
    list.entries.into_iter().map(Result::unwrap).collect()
}

fn rules(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule.as_str()).collect()
}

fn find<'a>(findings: &'a [Finding], rule: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} in {:?}", rules(findings)))
}

#[test]
fn canonical_images_are_clean_and_a_community_one_is_not() {
    let images = aws(vec![
        ami(
            "ami-0e001c9271cf7f3b9",
            &format!("{JAMMY}20240301"),
            CANONICAL,
            "2024-03-01T06:55:14.000Z",
            json!({}),
        ),
        ami(
            "ami-03c983f9003cb9cd1",
            "hardened-nginx-base-2023-11",
            "444455556666",
            "2023-11-02T10:00:00.000Z",
            json!({}),
        ),
    ]);
    let f = check(&images, &publishers(), &CheckOptions::new(NOW));
    assert!(f[0].is_empty(), "{:?}", f[0]);
    assert_eq!(rules(&f[1]), ["ami-owner-not-allowed"]);
    let o = find(&f[1], "ami-owner-not-allowed");
    assert_eq!(
        (o.severity, o.confidence),
        (Severity::High, Confidence::Low)
    );
    assert!(
        o.evidence.contains("444455556666") && o.evidence.contains("public"),
        "{}",
        o.evidence
    );
    assert_eq!(o.attack, ["T1204.003"]);
}

#[test]
fn whoami_impersonator_is_flagged_and_the_real_image_beside_it_is_clean() {
    let images = aws(vec![
        ami(
            "ami-0e001c9271cf7f3b9",
            &format!("{JAMMY}20240301"),
            CANONICAL,
            "2024-03-01T06:55:14.000Z",
            json!({}),
        ),
        ami(
            "ami-0b8b1f2a3c4d5e6f7",
            &format!("{JAMMY}20240207"),
            CANONICAL,
            "2024-02-07T07:10:01.000Z",
            json!({}),
        ),
        // Same series, newest in the list, from an account nobody knows.
        ami(
            "ami-0f1e2d3c4b5a69788",
            &format!("{JAMMY}20240320"),
            "210987654321",
            "2024-03-20T07:12:00.000Z",
            json!({}),
        ),
        // An older copy from another unknown account: imitation, but not what a most-recent
        // lookup picks.
        ami(
            "ami-0a9b8c7d6e5f40312",
            &format!("{JAMMY}20240115"),
            "333344445555",
            "2024-01-15T00:00:00.000Z",
            json!({}),
        ),
    ]);
    let f = check(&images, &publishers(), &CheckOptions::new(NOW));
    assert!(f[0].is_empty() && f[1].is_empty(), "{:?} {:?}", f[0], f[1]);
    let who = find(&f[2], "ami-name-impersonation");
    assert_eq!(
        (who.severity, who.confidence),
        (Severity::High, Confidence::High)
    );
    assert!(
        who.evidence.contains("whoAMI") && who.evidence.contains(CANONICAL),
        "{}",
        who.evidence
    );
    assert_eq!(who.attack, ["T1036.005", "T1204.003"]);
    assert!(rules(&f[2]).contains(&"ami-newly-published"));
    assert!(rules(&f[2]).contains(&"ami-owner-not-allowed"));
    let old = find(&f[3], "ami-name-impersonation");
    assert_eq!(old.confidence, Confidence::Medium);
    assert!(!old.evidence.contains("whoAMI"));
    assert!(!rules(&f[3]).contains(&"ami-newly-published"));
}

#[test]
fn official_names_pass_for_their_publishers_and_for_aws_vouched_or_allowed_owners() {
    let images = aws(vec![
        ami(
            "ami-0a1",
            "al2023-ami-2023.4.20240319.1-kernel-6.1-x86_64",
            "137112412989",
            "2024-03-19T20:00:00.000Z",
            json!({"ImageOwnerAlias": "amazon"}),
        ),
        ami(
            "ami-0a2",
            "Windows_Server-2022-English-Full-Base-2024.03.13",
            "801119661308",
            "2024-03-13T08:00:00.000Z",
            json!({"ImageOwnerAlias": "amazon", "Platform": "windows"}),
        ),
        // A Marketplace seller's Ubuntu-based listing: AWS vouches for the seller.
        ami(
            "ami-0a3",
            &format!("{JAMMY}20240301-prod-abc123"),
            "679593333241",
            "2024-03-02T00:00:00.000Z",
            json!({"ImageOwnerAlias": "aws-marketplace"}),
        ),
        // The team's own copy, under an account the policy names.
        ami(
            "ami-0a4",
            &format!("{JAMMY}20240301"),
            "123456789012",
            "2024-03-19T00:00:00.000Z",
            json!({"Public": false}),
        ),
        // Debian's own naming from Debian.
        ami(
            "ami-0a5",
            "debian-12-amd64-20240311-1684",
            "136693071363",
            "2024-03-11T00:00:00.000Z",
            json!({}),
        ),
    ]);
    let opts = CheckOptions {
        allowed_owners: vec!["123456789012".into()],
        ..CheckOptions::new(NOW)
    };
    for (i, f) in check(&images, &publishers(), &opts).iter().enumerate() {
        assert!(f.is_empty(), "image {i}: {f:?}");
    }
    assert_eq!(
        images[1].platform.as_ref().unwrap().to_string(),
        "windows/amd64"
    );
}

#[test]
fn allowed_amis_semantics_when_official_publishers_are_off() {
    let images = aws(vec![
        ami(
            "ami-0b1",
            "al2023-ami-2023.4.20240319.1-kernel-6.1-x86_64",
            "137112412989",
            "2024-01-19T20:00:00.000Z",
            json!({"ImageOwnerAlias": "amazon"}),
        ),
        ami(
            "ami-0b2",
            &format!("{JAMMY}20240301"),
            CANONICAL,
            "2024-03-01T06:55:14.000Z",
            json!({}),
        ),
        ami(
            "ami-0b3",
            "vendor-appliance-7.2",
            "679593333241",
            "2024-01-02T00:00:00.000Z",
            json!({"ImageOwnerAlias": "aws-marketplace"}),
        ),
    ]);
    let opts = CheckOptions {
        allowed_owners: vec!["amazon".into()],
        official_publishers: false,
        ..CheckOptions::new(NOW)
    };
    let f = check(&images, &publishers(), &opts);
    assert!(f[0].is_empty(), "{:?}", f[0]);
    let c = find(&f[1], "ami-owner-not-allowed");
    assert!(
        c.evidence.contains("official_publishers = false"),
        "{}",
        c.evidence
    );
    assert_eq!(rules(&f[2]), ["ami-owner-not-allowed"]);
    // With the default, Marketplace listings are allowed like the official publishers.
    let f = check(&images, &publishers(), &CheckOptions::new(NOW));
    assert!(f.iter().all(Vec::is_empty), "{f:?}");
}

#[test]
fn newly_published_follows_the_threshold() {
    let images = aws(vec![
        ami(
            "ami-0c1",
            "gpu-trainer-base",
            "555566667777",
            "2024-03-20T10:00:00.000Z",
            json!({}),
        ),
        ami(
            "ami-0c2",
            "gpu-trainer-base-old",
            "555566667777",
            "2024-03-18T10:00:00.000Z",
            json!({}),
        ),
        // New, but from an official publisher: publishers release every day.
        ami(
            "ami-0c3",
            &format!("{JAMMY}20240320"),
            CANONICAL,
            "2024-03-20T09:00:00.000Z",
            json!({}),
        ),
    ]);
    let f = check(&images, &publishers(), &CheckOptions::new(NOW));
    let n = find(&f[0], "ami-newly-published");
    assert!(n.evidence.contains("2 h old"), "{}", n.evidence);
    assert!(!rules(&f[1]).contains(&"ami-newly-published"));
    assert!(f[2].is_empty(), "{:?}", f[2]);
    let three_days = CheckOptions {
        newly_published_secs: 72 * 3600,
        ..CheckOptions::new(NOW)
    };
    let f = check(&images, &publishers(), &three_days);
    assert!(rules(&f[1]).contains(&"ami-newly-published"));
}

#[test]
fn private_images_of_unknown_owners_are_medium_implants() {
    let images = aws(vec![ami(
        "ami-0d1",
        "app-golden-2024-03-19",
        "123456789012",
        "2024-03-19T00:00:00.000Z",
        json!({"Public": false}),
    )]);
    let f = check(&images, &publishers(), &CheckOptions::new(NOW));
    assert_eq!(
        rules(&f[0]),
        ["ami-owner-not-allowed"],
        "private images are never newly published"
    );
    let o = &f[0][0];
    assert_eq!(o.severity, Severity::Medium);
    assert_eq!(o.attack, ["T1204.003", "T1525"]);
}

#[test]
fn deprecation_is_reported_once_it_has_passed() {
    let images = aws(vec![
        ami(
            "ami-0e1",
            "debian-11-amd64-20230601-1398",
            "136693071363",
            "2023-06-01T00:00:00.000Z",
            json!({"DeprecationTime": "2024-01-01T00:00:00.000Z"}),
        ),
        ami(
            "ami-0e2",
            "debian-12-amd64-20240311-1684",
            "136693071363",
            "2024-03-11T00:00:00.000Z",
            json!({"DeprecationTime": "2026-03-11T00:00:00.000Z"}),
        ),
    ]);
    let f = check(&images, &publishers(), &CheckOptions::new(NOW));
    assert_eq!(rules(&f[0]), ["ami-deprecated"]);
    assert_eq!(f[0][0].severity, Severity::Low);
    assert!(f[1].is_empty());
}

fn gce(project: &str, name: &str, created: &str, extra: Value) -> Value {
    let mut v = json!({
        "architecture": "X86_64",
        "archiveSizeBytes": "1234567890",
        "creationTimestamp": created,
        "description": "image",
        "diskSizeGb": "10",
        "guestOsFeatures": [{"type": "UEFI_COMPATIBLE"}, {"type": "VIRTIO_SCSI_MULTIQUEUE"}],
        "id": "1234567890123456789",
        "kind": "compute#image",
        "licenses": [format!("https://www.googleapis.com/compute/v1/projects/{project}/global/licenses/x")],
        "name": name,
        "selfLink": format!("https://www.googleapis.com/compute/v1/projects/{project}/global/images/{name}"),
        "sourceType": "RAW",
        "status": "READY",
        "storageLocations": ["eu", "us", "asia"],
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

#[test]
fn gcp_lists_read_the_project_from_self_link() {
    let text = serde_json::to_vec(&json!([
        gce(
            "debian-cloud",
            "debian-12-bookworm-v20240312",
            "2024-03-12T14:03:05.123-07:00",
            json!({"family": "debian-12"})
        ),
        gce(
            "ops-sandbox-4821",
            "debian-12-bookworm-v20240319",
            "2024-03-19T23:00:00.000-07:00",
            json!({})
        ),
        gce(
            "debian-cloud-images",
            "bookworm-base",
            "2023-03-19T23:00:00.000-07:00",
            json!({})
        ),
        gce(
            "debian-cloud",
            "debian-10-buster-v20240312",
            "2024-03-12T14:03:05.123-07:00",
            json!({"deprecated": {"state": "DEPRECATED"}})
        ),
        // The team's own image named after the family, without the publisher's date suffix.
        gce(
            "ops-sandbox-4821",
            "debian-12-app",
            "2023-03-19T23:00:00.000-07:00",
            json!({})
        ),
    ]))
    .unwrap();
    let list = parse_list(&text).unwrap();
    assert_eq!(list.cloud, Some(Cloud::Gcp));
    let images: Vec<_> = list.entries.into_iter().map(Result::unwrap).collect();
    assert_eq!(images[0].owner, "debian-cloud");
    assert_eq!(
        images[0].id,
        "projects/debian-cloud/global/images/debian-12-bookworm-v20240312"
    );
    let opts = CheckOptions {
        allowed_owners: vec!["ops-sandbox-4821".into()],
        ..CheckOptions::new(NOW)
    };
    let f = check(&images, &publishers(), &CheckOptions::new(NOW));
    assert!(f[0].is_empty(), "{:?}", f[0]);
    assert!(
        rules(&f[1]).contains(&"ami-name-impersonation"),
        "{:?}",
        f[1]
    );
    assert!(rules(&f[1]).contains(&"ami-newly-published"), "{:?}", f[1]);
    assert!(!rules(&f[1]).contains(&"ami-owner-lookalike"), "{:?}", f[1]);
    assert!(
        find(&f[2], "ami-owner-lookalike")
            .evidence
            .contains("debian-cloud")
    );
    assert_eq!(rules(&f[3]), ["ami-deprecated"]);
    assert_eq!(rules(&f[4]), ["ami-owner-not-allowed"]);
    // Allowed by the policy: its own names are its business.
    let f = check(&images, &publishers(), &opts);
    assert!(f[1].is_empty() && f[4].is_empty(), "{:?} {:?}", f[1], f[4]);
}

#[test]
fn azure_lists_compare_publishers_without_case() {
    let az = |publisher: &str, offer: &str, sku: &str, version: &str| {
        json!({"architecture": "x64", "offer": offer, "publisher": publisher, "sku": sku,
               "urn": format!("{publisher}:{offer}:{sku}:{version}"), "version": version})
    };
    let text = serde_json::to_vec(&json!([
        az(
            "Canonical",
            "0001-com-ubuntu-server-jammy",
            "22_04-lts-gen2",
            "22.04.202403130"
        ),
        az("canonical", "ubuntu-24_04-lts", "server", "24.04.202404230"),
        az(
            "CanonicaI",
            "0001-com-ubuntu-server-jammy",
            "22_04-lts-gen2",
            "22.04.202403190"
        ),
        az("cognosys", "nginx-on-alpine", "nginx", "1.0.0"),
    ]))
    .unwrap();
    let list = parse_list(&text).unwrap();
    assert_eq!(list.cloud, Some(Cloud::Azure));
    let images: Vec<_> = list.entries.into_iter().map(Result::unwrap).collect();
    let f = check(&images, &publishers(), &CheckOptions::new(NOW));
    assert!(f[0].is_empty() && f[1].is_empty(), "{:?} {:?}", f[0], f[1]);
    let r = rules(&f[2]);
    assert!(
        r.contains(&"ami-name-impersonation") && r.contains(&"ami-owner-lookalike"),
        "{r:?}"
    );
    assert_eq!(
        rules(&f[3]),
        ["ami-owner-not-allowed"],
        "an unrelated publisher is not a look-alike"
    );
}

#[test]
fn bad_input_is_refused_or_reported_per_entry() {
    let cases: [(&[u8], &str); 6] = [
        (b"{\"Images\": [ {\"ImageId\": ", "not JSON (line 1"),
        (b"{\"images\": []}", "without `Images`"),
        (b"{\"Images\": {}}", "is not a list"),
        (b"[{\"id\": 1}]", "none of `ImageId`"),
        (b"[1, 2]", "not a JSON object"),
        (b"\"ami-0123\"", "neither"),
    ];
    for (text, want) in cases {
        let e = parse_list(text).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
    assert!(parse_list(b"[]").unwrap().entries.is_empty());
    let list = parse_list(
        br#"{"Images": [
            {"ImageId": "ami-1", "CreationDate": "2024-03-01T00:00:00.000Z"},
            {"ImageId": "ami-2", "OwnerId": "111122223333", "CreationDate": "last week"},
            {"ImageId": "ami-3", "OwnerId": "111122223333", "CreationDate": "2024-03-01T00:00:00.000Z", "Public": "yes"},
            {"ImageId": "ami-4", "OwnerId": "111122223333"},
            "ami-5",
            {"ImageId": "ami-6", "OwnerId": "111122223333", "CreationDate": "2024-03-01T00:00:00.000Z"}
        ]}"#,
    )
    .unwrap();
    let errors: Vec<String> = list
        .entries
        .iter()
        .filter_map(|e| e.as_ref().err().cloned())
        .collect();
    assert_eq!(errors.len(), 5, "{errors:?}");
    for (e, want) in errors.iter().zip([
        "image 1: no `OwnerId`",
        "image 2: `CreationDate`",
        "image 3: invalid type",
        "image 4: no `CreationDate`",
        "image 5: not a JSON object",
    ]) {
        assert!(e.starts_with(want), "{e}");
    }
    assert!(list.entries[5].is_ok());
    let bad_link = parse_list(br#"[{"name": "x", "selfLink": "https://example.com/x", "creationTimestamp": "2024-03-01T00:00:00Z"}]"#).unwrap();
    assert!(
        bad_link.entries[0]
            .as_ref()
            .unwrap_err()
            .contains("selfLink")
    );
}

#[test]
fn lookalike_distance() {
    let p = publishers();
    let azure = p.cloud(Cloud::Azure);
    for (owner, want) in [
        ("RedHatt", true),
        ("Debain", true),
        ("SUSE-Linux", false),
        ("SUSF", true),
        ("Debian-Community", true),
        ("bitnami", false),
        ("MicrosoftWindowsServerr", true),
    ] {
        assert_eq!(lookalike_owner(owner, azure).is_some(), want, "{owner}");
    }
}
