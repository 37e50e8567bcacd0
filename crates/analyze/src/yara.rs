//! Runs the bundle's YARA rules (ours and the user's) over every regular file of every
//! layer: no path is left out, shared objects and `/usr/lib` included.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use customs_content::yara::{DEFAULT_TIMEOUT, YaraRules, YaraScanner};
use customs_content::{Bundle, ContentError};
use customs_core::{Confidence, Finding, Severity, attack};
use customs_image::walk::{FileContent, FileEntry};

use crate::{FileAnalyzer, Rule, Wants};

/// Bytes of each file the rules see; a larger file is scanned on its first 32 MiB and
/// listed in `coverage.partial`.
pub(crate) const MAX_SCAN: usize = 32 << 20;

/// A file the engine could not finish (timeout, engine error). The analyzer interface has
/// findings only, so the file is reported as one: medium, so the image is never called
/// clean, and low confidence, because nothing malicious was seen.
const INCOMPLETE: Rule = Rule {
    id: "yara-scan-incomplete",
    title: "File could not be fully scanned by the YARA rules",
    severity: Severity::Medium,
    confidence: Confidence::Low,
    attack: &[attack::MALICIOUS_IMAGE, attack::OBFUSCATED_FILES],
    description: "The YARA engine gave up on this file (timeout or engine error), so what \
        it holds is unknown. Content crafted to exhaust a scanner is an evasion technique; \
        inspect the file by hand.",
};

/// Every rule this analyzer gives, for the documentation check in `lib.rs`.
#[cfg(test)]
pub(crate) const RULES: &[&Rule] = &[&INCOMPLETE];

self_cell::self_cell!(
    /// A scanner together with the rules it borrows, so a thread can keep it.
    struct OwnedScanner {
        owner: Arc<YaraRules>,
        #[not_covariant]
        dependent: YaraScanner,
    }
);

thread_local! {
    /// One scanner per thread, reused from file to file: yara-x scanners are not `Send`
    /// and cost a wasm instance to create. Tagged with the analyzer it belongs to.
    static SCANNER: RefCell<Option<(u64, OwnedScanner)>> = const { RefCell::new(None) };
}

/// Tells analyzer instances apart (an address could be reused after a drop).
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

pub(crate) struct Yara {
    rules: Arc<YaraRules>,
    key: u64,
    timeout: Duration,
}

impl Yara {
    /// Compiles the bundle's rules once.
    pub(crate) fn from_bundle(bundle: &Bundle) -> Result<Yara, ContentError> {
        Ok(Yara {
            rules: Arc::new(YaraRules::compile(bundle)?),
            key: NEXT_KEY.fetch_add(1, Ordering::Relaxed),
            timeout: DEFAULT_TIMEOUT,
        })
    }
}

impl FileAnalyzer for Yara {
    fn id(&self) -> &'static str {
        "yara"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self) -> Wants {
        Wants {
            paths: vec![],
            max_size: None,
            bytes: MAX_SCAN,
            whole: true,
        }
    }
    fn analyze(&self, entry: &FileEntry, content: &FileContent<'_>, out: &mut Vec<Finding>) {
        let result = SCANNER.with_borrow_mut(|slot| {
            if slot.as_ref().is_none_or(|(k, _)| *k != self.key) {
                let s = OwnedScanner::new(self.rules.clone(), |r| {
                    let mut s = r.scanner();
                    s.set_timeout(self.timeout);
                    s
                });
                *slot = Some((self.key, s));
            }
            let (_, s) = slot.as_mut().expect("set above");
            s.with_dependent_mut(|_, scanner| scanner.scan(content.data))
        });
        match result {
            Ok(matches) => out.extend(matches.into_iter().map(|m| Finding {
                rule: m.rule,
                title: m.title,
                severity: m.severity,
                confidence: m.confidence,
                attack: m.attack,
                layer: None,
                deleted_in: None,
                path: Some(entry.path.clone()),
                evidence: m.evidence,
                description: match m.reference {
                    Some(r) => format!("{} Reference: {r}", m.description),
                    None => m.description,
                },
            })),
            Err(e) => out.push(INCOMPLETE.finding(
                Some(&entry.path),
                format!("{e} ({} bytes given to the engine)", content.data.len()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use customs_image::walk::EntryKind;

    fn entry(path: &str, size: usize) -> FileEntry {
        FileEntry {
            path: path.into(),
            kind: EntryKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: size as u64,
            link: None,
            layer: 0,
        }
    }

    fn analyzer(rule: &str) -> Yara {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.yar"), rule).unwrap();
        let bundle = Bundle::embedded()
            .unwrap()
            .with_user_dir(dir.path())
            .unwrap();
        Yara::from_bundle(&bundle).unwrap()
    }

    fn run(a: &Yara, path: &str, data: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        let content = FileContent {
            data,
            complete: true,
            sha256: None,
            md5: None,
            sha1: None,
        };
        a.analyze(&entry(path, data.len()), &content, &mut out);
        out
    }

    #[test]
    fn a_user_rule_becomes_a_finding_on_its_path() {
        let a = analyzer(
            "rule Marker { meta: id = \"zq-marker\" severity = \"high\" reference = \"https://example.org\" \
             strings: $m = \"zq-customs-marker\" condition: $m }",
        );
        let f = run(&a, "usr/lib/x.so", b"\x7fELF..zq-customs-marker..");
        let f: Vec<_> = f.iter().filter(|f| f.rule == "zq-marker").collect();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].path.as_deref(), Some("usr/lib/x.so"));
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].evidence,
            "rule Marker: $m at 0x6 \"zq-customs-marker\""
        );
        assert!(f[0].description.ends_with("Reference: https://example.org"));
        assert!(
            run(&a, "usr/lib/x.so", b"zq-customs-markex")
                .iter()
                .all(|f| f.rule != "zq-marker")
        );
        // A second analyzer on the same thread gets its own scanner, with its own rules.
        let b = analyzer("rule Other { strings: $m = \"zq-other\" condition: $m }");
        assert!(
            run(&b, "a", b"zq-customs-marker zq-other")
                .iter()
                .any(|f| f.rule == "yara-user-other")
        );
        assert!(
            run(&b, "a", b"zq-customs-marker")
                .iter()
                .all(|f| f.rule != "zq-marker")
        );
        assert_eq!(
            run(&a, "a", b"zq-customs-marker")
                .iter()
                .filter(|f| f.rule == "zq-marker")
                .count(),
            1
        );
    }

    #[test]
    fn a_file_the_engine_gives_up_on_is_reported() {
        let mut a = analyzer(
            "rule slow { condition: for all i in (0..filesize) : \
             ( for all j in (0..filesize) : ( uint8(i) != uint8(j) + 1 or i >= 0 ) ) }",
        );
        a.timeout = Duration::from_secs(1);
        let f = run(&a, "opt/bomb", &vec![0u8; 100_000]);
        let f: Vec<_> = f.iter().filter(|f| f.rule == INCOMPLETE.id).collect();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Medium);
        assert!(f[0].evidence.contains("timed out"), "{}", f[0].evidence);
    }
}
