//! The ignore file: matching by rule, path glob, image and layer digest; reasons and expiry;
//! what is listed instead of disappearing; strict parsing with line numbers.

use customs_core::{Confidence, Finding, Severity};
use customs_policy::{Date, IgnoreList, PolicyError};

const MANIFEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const LAYER_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const LAYER_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn f(rule: &str, path: Option<&str>, layer: Option<&str>) -> Finding {
    Finding {
        rule: rule.into(),
        title: "t".into(),
        severity: Severity::High,
        confidence: Confidence::High,
        attack: vec![],
        layer: layer.map(str::to_string),
        deleted_in: None,
        path: path.map(str::to_string),
        evidence: String::new(),
        description: String::new(),
    }
}

fn today() -> Date {
    Date::new(2026, 6, 15).unwrap()
}

fn sample() -> Vec<Finding> {
    vec![
        f("eicar-test-file", Some("app/eicar.com"), Some(LAYER_A)),
        f("eicar-test-file", Some("srv/eicar.com"), Some(LAYER_B)),
        f("setuid-file", Some("usr/bin/passwd"), Some(LAYER_A)),
        f("setuid-file", Some("usr/local/bin/x/y"), Some(LAYER_B)),
        f("config-remote-add", None, None),
    ]
}

fn kept(list: &IgnoreList, image: Option<&str>) -> Vec<String> {
    list.apply(sample(), image, today())
        .findings
        .iter()
        .map(|f| format!("{}:{}", f.rule, f.path.as_deref().unwrap_or("-")))
        .collect()
}

#[test]
fn by_rule_path_and_digest() {
    let by_rule = IgnoreList::parse(
        "[[ignore]]\nrule = \"eicar-test-file\"\nreason = \"anti-virus test image\"\n",
    )
    .unwrap();
    assert_eq!(
        kept(&by_rule, None),
        [
            "setuid-file:usr/bin/passwd",
            "setuid-file:usr/local/bin/x/y",
            "config-remote-add:-"
        ]
    );

    // `*` stays inside one directory, `**` crosses them; a leading `/` is allowed.
    let by_path = IgnoreList::parse(
        "[[ignore]]\npath = \"/usr/*/passwd\"\nreason = \"r\"\n[[ignore]]\npath = \"srv/**\"\nreason = \"r\"\n",
    )
    .unwrap();
    assert_eq!(
        kept(&by_path, None),
        [
            "eicar-test-file:app/eicar.com",
            "setuid-file:usr/local/bin/x/y",
            "config-remote-add:-"
        ]
    );
    let shallow = IgnoreList::parse("[[ignore]]\npath = \"usr/*/y\"\nreason = \"r\"\n").unwrap();
    assert_eq!(kept(&shallow, None).len(), 5, "`*` must not cross `/`");

    // Fields combine: this rule, in this layer only.
    let both = IgnoreList::parse(&format!(
        "[[ignore]]\nrule = \"setuid-file\"\nimage = \"{LAYER_B}\"\nreason = \"r\"\n"
    ))
    .unwrap();
    assert_eq!(
        kept(&both, None),
        [
            "eicar-test-file:app/eicar.com",
            "eicar-test-file:srv/eicar.com",
            "setuid-file:usr/bin/passwd",
            "config-remote-add:-"
        ]
    );

    // A manifest digest covers every finding of that image, image-level ones included,
    // and nothing of another image.
    let image = IgnoreList::parse(&format!(
        "[[ignore]]\nimage = \"{MANIFEST}\"\nreason = \"r\"\n"
    ))
    .unwrap();
    assert!(kept(&image, Some(MANIFEST)).is_empty());
    assert_eq!(kept(&image, None).len(), 5);
}

#[test]
fn suppressed_findings_are_listed_with_the_reason() {
    let list = IgnoreList::parse(
        "[[ignore]]\nrule = \"eicar-test-file\"\npath = \"app/*\"\nreason = \"the AV test fixture\"\n\
         [[ignore]]\nrule = \"eicar-test-file\"\nreason = \"second reason\"\n\
         [[ignore]]\nrule = \"no-such-rule\"\nreason = \"stale\"\n",
    )
    .unwrap();
    let a = list.apply(sample(), None, today());
    assert_eq!(a.findings.len(), 3);
    assert_eq!(a.suppressed.len(), 2);
    assert_eq!(a.suppressed[0].rule, "eicar-test-file");
    assert_eq!(a.suppressed[0].path.as_deref(), Some("app/eicar.com"));
    assert_eq!(a.suppressed[0].layer.as_deref(), Some(LAYER_A));
    assert_eq!(a.suppressed[0].severity, Severity::High);
    // The first entry that covers a finding gives the reason.
    assert_eq!(a.suppressed[0].reason, "the AV test fixture");
    assert_eq!(a.suppressed[1].reason, "second reason");
    // Every live entry that covers a finding counts it, so only the third is stale.
    assert_eq!(a.matched, [1, 2, 0]);
    assert_eq!(list.entries()[2].line, 8);
}

#[test]
fn expired_entries_no_longer_apply_and_are_reported() {
    let list = IgnoreList::parse(
        "[[ignore]]\nrule = \"eicar-test-file\"\nreason = \"until the fix\"\nexpires = \"2026-06-14\"\n\
         [[ignore]]\nrule = \"setuid-file\"\nreason = \"still fine\"\nexpires = \"2026-06-15\"\n\
         [[ignore]]\nrule = \"no-such-rule\"\nreason = \"old\"\nexpires = \"2020-01-01\"\n",
    )
    .unwrap();
    let a = list.apply(sample(), None, today());
    // The expired entry's findings are back; the one expiring today still applies.
    assert_eq!(
        a.findings
            .iter()
            .map(|f| f.rule.as_str())
            .collect::<Vec<_>>(),
        ["eicar-test-file", "eicar-test-file", "config-remote-add"]
    );
    assert_eq!(a.suppressed.len(), 2);
    // Only expired entries that cover a finding of this image are listed with it.
    assert_eq!(a.expired.len(), 1);
    assert_eq!(a.expired[0].rule.as_deref(), Some("eicar-test-file"));
    assert_eq!(a.expired[0].expires, "2026-06-14");
    assert_eq!(a.expired[0].reason, "until the fix");
    assert_eq!(a.matched, [0, 2, 0]);
    assert!(list.entries()[0].is_expired(today()));
    assert!(!list.entries()[1].is_expired(today()));
}

fn err(text: &str) -> (usize, String) {
    match IgnoreList::parse(text) {
        Ok(l) => panic!("accepted {text:?} as {l:?}"),
        Err(PolicyError::Syntax { line, message, .. })
        | Err(PolicyError::Invalid { line, message }) => (line, message),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn strict_parsing_with_line_numbers() {
    let ok = "[[ignore]]\nrule = \"r\"\nreason = \"ok\"\n\n";
    let cases: &[(&str, usize, &str)] = &[
        ("[[ignore]]\nrule = \"r\"\n", 5, "reason"),
        ("[[ignore]]\nrule = \"r\"\nreason = \"  \"\n", 5, "reason"),
        ("[[ignore]]\nreason = \"why\"\n", 5, "at least one"),
        (
            "[[ignore]]\nrule = \"r\"\nreason = \"x\"\nreasn = \"y\"\n",
            8,
            "reasn",
        ),
        ("[[ignore]]\npath = \"a/[b\"\nreason = \"x\"\n", 5, "glob"),
        (
            "[[ignore]]\nimage = \"sha256:abc\"\nreason = \"x\"\n",
            5,
            "image",
        ),
        (
            "[[ignore]]\nrule = \"r\"\nreason = \"x\"\nexpires = \"2027-02-30\"\n",
            5,
            "expires",
        ),
        (
            "[[ignore]]\nrule = \"r\"\nreason = \"x\"\nexpires = \"31/01/2027\"\n",
            5,
            "expires",
        ),
        // TOML dates are dates too, but must be real days without a time.
        (
            "[[ignore]]\nrule = \"r\"\nreason = \"x\"\nexpires = 2027-02-29\n",
            8,
            "invalid date",
        ),
        (
            "[[ignore]]\nrule = \"r\"\nreason = \"x\"\nexpires = 2027-01-31T10:00:00Z\n",
            5,
            "YYYY-MM-DD",
        ),
        (
            "[[ignore]]\nrule = \"r\"\nreason = \"x\"\nexpires = 20270131\n",
            8,
            "a date",
        ),
        ("[[ignore]]\nrule = \"\"\nreason = \"x\"\n", 5, "empty"),
        ("[[ignores]]\nrule = \"r\"\nreason = \"x\"\n", 5, "ignores"),
        ("schema = 7\n", 1, "schema 7"),
    ];
    for (bad, line, word) in cases {
        let text = if bad.starts_with("schema") {
            bad.to_string()
        } else {
            format!("{ok}{bad}")
        };
        let (l, msg) = err(&text);
        assert_eq!(l, *line, "{text:?}: {msg}");
        assert!(
            msg.contains(word),
            "{text:?}: `{msg}` does not mention `{word}`"
        );
    }
    let list = IgnoreList::parse(&format!(
        "{ok}[[ignore]]\nrule = \"r\"\nreason = \"x\"\nexpires = 2027-01-31\n"
    ))
    .unwrap();
    assert_eq!(
        list.entries()[1].expires,
        Some(Date::new(2027, 1, 31).unwrap())
    );
    // An empty file ignores nothing; `schema = 1` is accepted.
    assert!(IgnoreList::parse("").unwrap().entries().is_empty());
    assert_eq!(
        IgnoreList::parse(&format!("schema = 1\n{ok}"))
            .unwrap()
            .entries()
            .len(),
        1
    );
}
