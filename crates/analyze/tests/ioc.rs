//! The indicator lists of content/ioc and the analyzers that use them, through the public
//! API: strict parsing with line numbers, known-bad hashes, pool domains in files, and
//! known malicious image names.

use std::collections::BTreeMap;

use customs_analyze::ioc::Iocs;
use customs_analyze::{Analyzers, ScanOptions, scan_image};
use customs_content::{Bundle, ContentError};
use customs_core::{Finding, Severity};
use customs_image::walk::NoProgress;
use customs_image::{OpenOptions, Target, open};
use customs_test_support::fixtures::{
    Entry, ImageSpec, LayerSpec, sha256_digest, write_docker_archive_legacy, write_oci_layout,
};

/// The shipped bundle with some files replaced.
fn bundle_with(overrides: &[(&str, &str)]) -> Result<Bundle, ContentError> {
    let shipped = Bundle::embedded().unwrap();
    let mut files: BTreeMap<String, Vec<u8>> = shipped
        .files("", &[])
        .map(|(p, b)| (p.to_string(), b.to_vec()))
        .collect();
    for (p, body) in overrides {
        files.insert(p.to_string(), body.as_bytes().to_vec());
    }
    Bundle::from_files(files)
}

fn scan(spec: &ImageSpec, analyzers: &Analyzers) -> Vec<Finding> {
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &[("t", spec)]).unwrap();
    let target: Target = format!("oci:{}", dir.path().display()).parse().unwrap();
    let images = open(&target, &OpenOptions::default()).unwrap();
    let outcome = scan_image(&images[0], analyzers, &ScanOptions::default(), &NoProgress);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    outcome.findings
}

fn of<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

#[test]
fn malformed_lists_fail_loading_with_file_and_line() {
    let cases = [
        (
            "ioc/pool-domains.txt",
            "# pools\nsupportxmr.com | SupportXMR | https://supportxmr.com/\nc3pool.com | C3Pool\n",
            "line 3",
        ),
        (
            "ioc/stratum-ports.txt",
            "3333 | a | https://x.example/\n99999 | b | https://x.example/\n",
            "line 2",
        ),
        (
            "ioc/bad-hashes.txt",
            "\n\nnot-a-hash | x | https://x.example/\n",
            "line 3",
        ),
        (
            "ioc/malicious-images.txt",
            "gakeaws/nginx | x | https://x.example/\n",
            "line 1",
        ),
    ];
    for (path, body, line) in cases {
        let bundle = bundle_with(&[(path, body)]).unwrap();
        match Analyzers::from_bundle(&bundle) {
            Err(ContentError::Invalid { path: p, message }) => {
                assert_eq!(p, path);
                assert!(message.starts_with(line), "{path}: {message}");
            }
            Err(e) => panic!("{path}: wrong error {e}"),
            Ok(_) => panic!("{path}: a malformed list was accepted"),
        }
    }
}

#[test]
fn known_bad_hash_is_critical_and_names_the_file() {
    let payload = b"#!/bin/sh\n# stand-in for a reported payload\nexit 0\n".to_vec();
    let hex = sha256_digest(&payload)
        .trim_start_matches("sha256:")
        .to_string();
    let list = format!("{hex} | Stand-in payload for this test | https://example.org/report\n");
    let analyzers =
        Analyzers::from_bundle(&bundle_with(&[("ioc/bad-hashes.txt", &list)]).unwrap()).unwrap();

    let mut near = payload.clone();
    near.push(b'\n');
    let spec = ImageSpec::new(vec![
        LayerSpec::new(vec![
            Entry::dir("usr"),
            Entry::exec("usr/bin/.cache-update", payload),
        ]),
        LayerSpec::new(vec![
            Entry::exec("usr/bin/near", near),
            Entry::Whiteout("usr/bin/.cache-update".into()),
        ]),
    ]);
    let f = scan(&spec, &analyzers);
    let hits = of(&f, "ioc-known-bad-hash");
    assert_eq!(hits.len(), 1, "{f:#?}");
    let h = hits[0];
    assert_eq!(h.severity, Severity::Critical);
    assert_eq!(h.path.as_deref(), Some("usr/bin/.cache-update"));
    assert!(
        h.deleted_in.is_some(),
        "a payload deleted later is still found"
    );
    assert!(
        h.evidence.contains(&hex) && h.evidence.contains("https://example.org/report"),
        "{}",
        h.evidence
    );

    // The shipped list does not know this stand-in.
    let f = scan(&spec, &Analyzers::builtin().unwrap());
    assert!(of(&f, "ioc-known-bad-hash").is_empty());
}

#[test]
fn pool_domains_in_files() {
    let xmrig_config = r#"{
    "autosave": true,
    "cpu": {"enabled": true, "huge-pages": true},
    "pools": [
        {"url": "gulf.moneroocean.stream:10128", "user": "x", "pass": "w1", "keepalive": true, "tls": false}
    ]
}"#;
    let blocklist = "# mining pools blocked at this proxy\n0.0.0.0 pool.minexmr.com\n0.0.0.0 xmr-eu1.nanopool.org\n";
    let start = "#!/bin/sh\n./sysupdate -o c3pool.com:13333 -u x --tls &\n";
    let doc = "Unrelated names: notsupportxmr.com, supportxmr.community, c3pool.com.example.org, f2poolx.com\n";
    let spec = ImageSpec::new(vec![LayerSpec::new(vec![
        Entry::dir("etc"),
        Entry::file("etc/.sys/config.json", xmrig_config),
        Entry::file("etc/hosts.blocked", blocklist),
        Entry::exec("etc/start.sh", start),
        Entry::file("etc/notes.txt", doc),
    ])]);
    let f = scan(&spec, &Analyzers::builtin().unwrap());

    let addr = of(&f, "ioc-mining-pool-address");
    let paths: Vec<&str> = addr.iter().filter_map(|f| f.path.as_deref()).collect();
    assert_eq!(paths, ["etc/.sys/config.json", "etc/start.sh"], "{addr:#?}");
    assert!(addr.iter().all(|f| f.severity == Severity::High));
    assert!(
        addr[0]
            .evidence
            .starts_with("gulf.moneroocean.stream:10128"),
        "{}",
        addr[0].evidence
    );
    assert!(addr[0].attack.iter().any(|a| a == "T1496"));

    // A mention without miner settings around it is only medium, once per file.
    let mention = of(&f, "ioc-mining-pool-domain");
    assert_eq!(mention.len(), 1, "{mention:#?}");
    assert_eq!(mention[0].path.as_deref(), Some("etc/hosts.blocked"));
    assert_eq!(mention[0].severity, Severity::Medium);
    assert!(
        mention[0].evidence.starts_with("pool.minexmr.com at byte "),
        "{}",
        mention[0].evidence
    );

    assert!(
        f.iter()
            .all(|f| f.path.as_deref() != Some("etc/notes.txt") || !f.rule.starts_with("ioc-"))
    );
}

#[test]
fn known_malicious_image_names() {
    let iocs = Iocs::from_bundle(&Bundle::embedded().unwrap()).unwrap();
    let e = iocs
        .known_malicious_image("pocosow/centos:7.6.1810")
        .expect("Graboid image");
    assert!(e.source.starts_with("https://"), "{e:?}");
    assert_eq!(e.file, "ioc/malicious-images.txt");
    assert!(
        iocs.known_malicious_image("docker.io/docker123321/tomcat11:latest")
            .is_some()
    );
    assert!(iocs.known_malicious_image("alpineos/dockerapi").is_some());
    for clean in [
        "centos:7",
        "nginx",
        "docker.io/library/alpine:3.20",
        "ghcr.io/pocosow/centos",
        "alpineoss/x",
    ] {
        assert!(iocs.known_malicious_image(clean).is_none(), "{clean}");
    }

    // The image analyzer reads the name a docker save archive gives the image.
    let spec = ImageSpec::new(vec![LayerSpec::new(vec![Entry::dir("etc")])]);
    let dir = tempfile::tempdir().unwrap();
    let scan_named = |tag: &str| {
        let path = dir
            .path()
            .join(format!("{}.tar", tag.replace(['/', ':'], "_")));
        write_docker_archive_legacy(&path, &[tag], &spec).unwrap();
        let target: Target = format!("docker-archive:{}", path.display())
            .parse()
            .unwrap();
        let images = open(&target, &OpenOptions::default()).unwrap();
        scan_image(
            &images[0],
            &Analyzers::builtin().unwrap(),
            &ScanOptions::default(),
            &NoProgress,
        )
        .findings
    };
    let f = scan_named("gakeaws/nginx:v8.9");
    let hit = of(&f, "ioc-known-malicious-image-name");
    assert_eq!(hit.len(), 1, "{f:#?}");
    assert_eq!(hit[0].severity, Severity::Critical);
    assert!(
        hit[0].evidence.contains("docker.io/gakeaws/nginx"),
        "{}",
        hit[0].evidence
    );
    assert!(of(&scan_named("nginx:1.27"), "ioc-known-malicious-image-name").is_empty());
}
