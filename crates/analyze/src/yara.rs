//! Runs the bundle's YARA rules (ours and the user's) over every regular file of every
//! layer: no path is left out, shared objects and `/usr/lib` included.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use customs_content::yara::{DEFAULT_TIMEOUT, YaraMatch, YaraRules, YaraScanner};
use customs_content::{Bundle, ContentError};
use customs_core::{Confidence, Digest, Finding, Severity, attack};
use customs_image::walk::{FileContent, FileEntry};

use crate::{FileAnalyzer, Rule, Wants};

/// Bytes of each file the rules see; a larger file is scanned on its first 32 MiB and
/// listed in `coverage.partial`.
pub(crate) const MAX_SCAN: usize = 32 << 20;

/// Files at least this large are remembered by content; below it a scan costs about as much
/// as the lookup.
const REMEMBER_FROM: usize = 4 << 10;
/// At most this many contents are remembered (about 150 bytes each); then the memory starts
/// over, so a long-running service stays bounded.
const REMEMBER_AT_MOST: usize = 65_536;

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
    /// The matches of contents already scanned, by sha256. The rules see only the bytes (no
    /// path, no module data), so a copy of a file gets the same matches without a second
    /// scan: the same library in two layers, or every file again in a layer that only
    /// changed owners (`RUN chown -R`). Failed scans are not remembered.
    seen: Mutex<HashMap<Digest, Arc<[YaraMatch]>>>,
    /// Scans the engine ran, for the tests.
    #[cfg(test)]
    scans: AtomicU64,
}

impl Yara {
    /// Compiles the bundle's rules once.
    pub(crate) fn from_bundle(bundle: &Bundle) -> Result<Yara, ContentError> {
        Ok(Yara {
            rules: Arc::new(YaraRules::compile(bundle)?),
            key: NEXT_KEY.fetch_add(1, Ordering::Relaxed),
            timeout: DEFAULT_TIMEOUT,
            seen: Mutex::new(HashMap::new()),
            #[cfg(test)]
            scans: AtomicU64::new(0),
        })
    }
}

impl Yara {
    /// One scan by the engine, with this thread's scanner.
    fn scan(&self, data: &[u8]) -> Result<Vec<YaraMatch>, ContentError> {
        #[cfg(test)]
        self.scans.fetch_add(1, Ordering::Relaxed);
        SCANNER.with_borrow_mut(|slot| {
            if slot.as_ref().is_none_or(|(k, _)| *k != self.key) {
                let s = OwnedScanner::new(self.rules.clone(), |r| {
                    let mut s = r.scanner();
                    s.set_timeout(self.timeout);
                    s
                });
                *slot = Some((self.key, s));
            }
            let (_, s) = slot.as_mut().expect("set above");
            s.with_dependent_mut(|_, scanner| scanner.scan(data))
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
        let key = content
            .sha256
            .as_ref()
            .filter(|_| content.data.len() >= REMEMBER_FROM);
        let known = key.and_then(|k| {
            self.seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(k)
                .cloned()
        });
        let result = match known {
            Some(matches) => Ok(matches),
            None => {
                let result = self.scan(content.data).map(Arc::<[YaraMatch]>::from);
                if let (Some(k), Ok(matches)) = (key, &result) {
                    let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
                    if seen.len() >= REMEMBER_AT_MOST {
                        seen.clear();
                    }
                    seen.insert(k.clone(), matches.clone());
                }
                result
            }
        };
        match result {
            Ok(matches) => out.extend(matches.iter().cloned().map(|m| Finding {
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
        run_hashed(a, path, data, None)
    }

    /// As the walker gives a file: with its sha256 (here any value standing for it).
    fn run_hashed(a: &Yara, path: &str, data: &[u8], sha256: Option<u8>) -> Vec<Finding> {
        let mut out = Vec::new();
        let content = FileContent {
            data,
            complete: true,
            sha256: sha256.map(|b| Digest::sha256_from_bytes(&[b; 32])),
            md5: None,
            sha1: None,
        };
        a.analyze(&entry(path, data.len()), &content, &mut out);
        out
    }

    fn scans(a: &Yara) -> u64 {
        a.scans.load(Ordering::Relaxed)
    }

    #[test]
    fn a_copy_of_a_scanned_file_gets_its_matches_without_a_scan() {
        let a = analyzer(
            "rule Marker { meta: id = \"zq-marker\" strings: $m = \"zq-customs-marker\" condition: $m }",
        );
        let mut data = vec![b'.'; REMEMBER_FROM];
        data[100..117].copy_from_slice(b"zq-customs-marker");
        let marker = |f: Vec<Finding>| -> Vec<(Option<String>, String)> {
            f.into_iter()
                .filter(|f| f.rule == "zq-marker")
                .map(|f| (f.path, f.evidence))
                .collect()
        };
        let first = marker(run_hashed(&a, "usr/lib/a.so", &data, Some(1)));
        assert_eq!(scans(&a), 1);
        // The same content under another path: the same match, on its own path, no scan.
        let copy = marker(run_hashed(&a, "app/a.so", &data, Some(1)));
        assert_eq!(scans(&a), 1);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].0.as_deref(), Some("usr/lib/a.so"));
        assert_eq!(copy, vec![(Some("app/a.so".into()), first[0].1.clone())]);
        // Other content is scanned, and so is a file without a digest or below the size.
        let mut other = data.clone();
        other[100] = b'_';
        assert!(marker(run_hashed(&a, "b", &other, Some(2))).is_empty());
        assert_eq!(scans(&a), 2);
        assert_eq!(marker(run_hashed(&a, "c", &data, None)).len(), 1);
        assert_eq!(scans(&a), 3);
        let small = &data[..REMEMBER_FROM - 1];
        for _ in 0..2 {
            assert_eq!(marker(run_hashed(&a, "d", small, Some(3))).len(), 1);
        }
        assert_eq!(scans(&a), 5);
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
        // Twice with one digest: a scan that failed is not remembered as clean.
        for round in 1..=2 {
            let f = run_hashed(&a, "opt/bomb", &vec![0u8; 100_000], Some(9));
            let f: Vec<_> = f.iter().filter(|f| f.rule == INCOMPLETE.id).collect();
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].severity, Severity::Medium);
            assert!(f[0].evidence.contains("timed out"), "{}", f[0].evidence);
            assert_eq!(scans(&a), round);
        }
    }
}
