//! Mirai's telnet brute-force credential table in an ELF file, plain or XOR-encoded.
//!
//! Mirai stores the table XOR-encoded with one byte (0x22 in the published source) and its
//! descendants change the key. Searching each credential under all 256 keys is what a YARA
//! `xor` string does, and it cost more than any other rule of the bundle (2,816 patterns).
//! Here the search runs on the XOR of neighbouring bytes instead, which a one-byte key
//! cancels out of: one pass finds every credential under every key, the first byte of a hit
//! gives its key, and a table is only reported when four credentials share one key, as the
//! entries of one table do.

use std::cell::RefCell;
use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use customs_content::list::{list_error, parse_list};
use customs_content::{Bundle, ContentError};
use customs_core::{Confidence, Finding, Severity, attack};
use customs_image::walk::{FileContent, FileEntry};

use crate::{FileAnalyzer, Rule, Wants, search_windows};

/// The credential list in the bundle.
pub(crate) const CREDENTIALS: &str = "ioc/mirai-credentials.txt";
/// Credentials under one key that make a table.
const MIN_ENTRIES: usize = 4;
/// Credentials named in the evidence.
const SHOWN: usize = 6;

const RULE: Rule = Rule {
    id: "toolkit-mirai",
    title: "Mirai-family IoT bot",
    severity: Severity::Critical,
    confidence: Confidence::High,
    attack: &["T1110.001", "T1498", attack::MALICIOUS_IMAGE],
    description: "An ELF file holding Mirai's telnet brute-force credential table (default \
        IoT passwords such as xc3511, vizxv, 7ujMko0admin), plain or XOR-encoded with any \
        one-byte key as Mirai and its descendants store it. The evidence gives the key.",
};

/// Every rule this analyzer gives, for the documentation check in `lib.rs`.
#[cfg(test)]
pub(crate) const RULES: &[&Rule] = &[&RULE];

pub(crate) struct CredentialTable {
    credentials: Vec<String>,
    /// Finds the credentials' neighbour differences; `None` when the list is empty.
    finder: Option<Finder>,
    /// The longest credential's differences, the overlap between chunks.
    longest: usize,
}

/// Teddy (SIMD) where the CPU has it: on the differences of machine code a general
/// Aho-Corasick automaton finds no good prefilter and runs at ~430 MB/s, Teddy at ~4 GB/s.
enum Finder {
    Teddy(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

impl Finder {
    /// Every (credential, offset) found in `hay`, leftmost first.
    fn each(&self, hay: &[u8], mut found: impl FnMut(usize, usize)) {
        match self {
            Finder::Teddy(s) => s
                .find_iter(hay)
                .for_each(|m| found(m.pattern().as_usize(), m.start())),
            Finder::Automaton(a) => a
                .find_iter(hay)
                .for_each(|m| found(m.pattern().as_usize(), m.start())),
        }
    }
}

/// `b[i] ^ b[i + 1]` for every `i`: the same for a text and for the text XOR any one byte.
fn differences(b: &[u8], out: &mut Vec<u8>) {
    out.clear();
    if b.is_empty() {
        return;
    }
    out.extend(b.iter().zip(&b[1..]).map(|(x, y)| x ^ y));
}

thread_local! {
    /// The differences of the file being analyzed, reused from file to file.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl CredentialTable {
    pub(crate) fn from_bundle(bundle: &Bundle) -> Result<CredentialTable, ContentError> {
        let mut credentials = Vec::new();
        if let Some(bytes) = bundle.file(CREDENTIALS) {
            for l in parse_list(CREDENTIALS, bytes, "CREDENTIAL", str::to_string)? {
                if !(5..=64).contains(&l.value.len())
                    || !l.value.bytes().all(|b| b.is_ascii_graphic())
                {
                    return Err(list_error(
                        CREDENTIALS,
                        l.line,
                        format!(
                            "`{}` is not 5 to 64 printable ASCII characters",
                            l.value.escape_debug()
                        ),
                    ));
                }
                credentials.push(l.value.to_string());
            }
        }
        Ok(CredentialTable::build(credentials, true))
    }

    /// `teddy: false` forces the general automaton (the fallback on CPUs without SIMD).
    fn build(credentials: Vec<String>, teddy: bool) -> CredentialTable {
        let mut scratch = Vec::new();
        let patterns: Vec<Vec<u8>> = credentials
            .iter()
            .map(|c| {
                differences(c.as_bytes(), &mut scratch);
                scratch.clone()
            })
            .collect();
        let finder = (!patterns.is_empty()).then(|| {
            let mut packed = aho_corasick::packed::Config::new().builder();
            packed.extend(&patterns);
            match packed.build().filter(|_| teddy) {
                Some(s) => Finder::Teddy(s),
                None => Finder::Automaton(
                    AhoCorasickBuilder::new()
                        .match_kind(MatchKind::LeftmostFirst)
                        .build(&patterns)
                        .expect("a few short patterns always build"),
                ),
            }
        });
        CredentialTable {
            longest: patterns.iter().map(Vec::len).max().unwrap_or(0),
            credentials,
            finder,
        }
    }

    /// The key under which at least `MIN_ENTRIES` credentials occur, with each credential
    /// found under it and its first offset.
    fn table(&self, data: &[u8]) -> Option<(u8, BTreeMap<usize, usize>)> {
        let finder = self.finder.as_ref()?;
        SCRATCH.with_borrow_mut(|d| {
            // key -> credential index -> first offset
            let mut by_key: BTreeMap<u8, BTreeMap<usize, usize>> = BTreeMap::new();
            // Chunks overlap by the longest pattern, so a credential across a boundary is
            // seen; one seen twice is only recorded once.
            for window in search_windows(data.len(), self.longest) {
                let start = window.start;
                differences(&data[window], d);
                finder.each(d, |i, at| {
                    let at = start + at;
                    let key = data[at] ^ self.credentials[i].as_bytes()[0];
                    by_key.entry(key).or_default().entry(i).or_insert(at);
                });
            }
            by_key
                .into_iter()
                .filter(|(_, found)| found.len() >= MIN_ENTRIES)
                .max_by_key(|(key, found)| (found.len(), std::cmp::Reverse(*key)))
        })
    }
}

impl FileAnalyzer for CredentialTable {
    fn id(&self) -> &'static str {
        "credential-table"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self) -> Wants {
        Wants {
            paths: vec![],
            max_size: None,
            // What the YARA rules read of a file, so this rule sees what it saw there.
            bytes: crate::yara::MAX_SCAN,
            whole: true,
        }
    }
    fn analyze(&self, entry: &FileEntry, content: &FileContent<'_>, out: &mut Vec<Finding>) {
        if !content.data.starts_with(b"\x7fELF") {
            return;
        }
        let Some((key, found)) = self.table(content.data) else {
            return;
        };
        let how = if key == 0 {
            "in plain text".to_string()
        } else {
            format!("XOR-encoded with key 0x{key:02x}")
        };
        let shown: Vec<String> = found
            .iter()
            .take(SHOWN)
            .map(|(&i, &at)| format!("{} at 0x{at:x}", self.credentials[i]))
            .collect();
        out.push(RULE.finding(
            Some(&entry.path),
            format!(
                "{} of the {} Mirai credentials {how}: {}{}",
                found.len(),
                self.credentials.len(),
                shown.join(", "),
                if found.len() > SHOWN { ", …" } else { "" }
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzer() -> CredentialTable {
        CredentialTable::from_bundle(&Bundle::embedded().unwrap()).unwrap()
    }

    fn elf(body: &[u8]) -> Vec<u8> {
        let mut v = b"\x7fELF\x02\x01\x01\0".to_vec();
        v.extend(std::iter::repeat_n(0u8, 120));
        v.extend_from_slice(body);
        v
    }

    /// A table of `creds`, NUL-separated, every byte of each XORed with its key.
    fn table(creds: &[(&str, u8)]) -> Vec<u8> {
        let mut v = Vec::new();
        for (c, key) in creds {
            v.extend(c.bytes().map(|b| b ^ key));
            v.push(0);
        }
        v
    }

    fn findings(path: &str, data: &[u8]) -> Vec<Finding> {
        let entry = FileEntry {
            path: path.into(),
            kind: customs_image::walk::EntryKind::File,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: data.len() as u64,
            link: None,
            layer: 0,
        };
        let content = FileContent {
            data,
            complete: true,
            sha256: None,
            md5: None,
            sha1: None,
        };
        let mut out = Vec::new();
        analyzer().analyze(&entry, &content, &mut out);
        out
    }

    const FOUR: [&str; 4] = ["xc3511", "vizxv", "juantech", "7ujMko0admin"];

    #[test]
    fn a_table_under_any_one_key_is_found_with_its_key() {
        for key in [0x00u8, 0x22, 0x5a, 0xa5, 0xff] {
            let creds: Vec<(&str, u8)> = FOUR.iter().map(|c| (*c, key)).collect();
            let f = findings("usr/bin/dvrHelper", &elf(&table(&creds)));
            assert_eq!(f.len(), 1, "key {key:#x}");
            assert_eq!(f[0].rule, "toolkit-mirai");
            let how = if key == 0 {
                "in plain text".to_string()
            } else {
                format!("XOR-encoded with key 0x{key:02x}")
            };
            assert!(
                f[0].evidence
                    .starts_with(&format!("4 of the 11 Mirai credentials {how}: ")),
                "{}",
                f[0].evidence
            );
            assert!(f[0].evidence.contains("xc3511 at 0x"), "{}", f[0].evidence);
        }
    }

    #[test]
    fn the_fallback_automaton_finds_the_same() {
        let a = analyzer();
        let fallback = CredentialTable::build(a.credentials.clone(), false);
        assert!(matches!(fallback.finder, Some(Finder::Automaton(_))));
        let creds: Vec<(&str, u8)> = FOUR.iter().map(|c| (*c, 0xa5)).collect();
        let data = elf(&table(&creds));
        let (key, found) = fallback.table(&data).expect("a table");
        assert_eq!((key, found.len()), (0xa5, 4));
        assert_eq!(a.table(&data).map(|(k, f)| (k, f.len())), Some((0xa5, 4)));
        let three: Vec<(&str, u8)> = FOUR[..3].iter().map(|c| (*c, 0xa5)).collect();
        assert!(fallback.table(&elf(&table(&three))).is_none());
    }

    #[test]
    fn a_table_across_a_chunk_boundary_is_found() {
        let creds: Vec<(&str, u8)> = FOUR.iter().map(|c| (*c, 0x22)).collect();
        let t = table(&creds);
        // Every offset that puts a boundary inside one of the credentials.
        for shift in 0..t.len() {
            let mut data = elf(&[]);
            data.resize(crate::SEARCH_CHUNK - shift, 0x90);
            data.extend_from_slice(&t);
            data.extend(std::iter::repeat_n(0x90u8, 100));
            let f = findings("a", &data);
            assert_eq!(f.len(), 1, "shift {shift}");
            assert!(
                f[0].evidence.starts_with("4 of the 11"),
                "shift {shift}: {}",
                f[0].evidence
            );
        }
    }

    #[test]
    fn near_misses_are_not_a_table() {
        // Three credentials only.
        let three: Vec<(&str, u8)> = FOUR[..3].iter().map(|c| (*c, 0x22)).collect();
        assert!(findings("a", &elf(&table(&three))).is_empty());
        // Four, but under two keys: not the entries of one table.
        let mixed = [
            (FOUR[0], 0x22),
            (FOUR[1], 0x22),
            (FOUR[2], 0x37),
            (FOUR[3], 0x37),
        ];
        assert!(findings("a", &elf(&table(&mixed))).is_empty());
        // A wordlist in a text file, not a bot.
        let plain: Vec<(&str, u8)> = FOUR.iter().map(|c| (*c, 0)).collect();
        assert!(findings("share/wordlist.txt", &table(&plain)).is_empty());
        // One character off in each.
        let off: Vec<(&str, u8)> = ["xc3512", "vizxw", "juantecg", "7ujMko0admim"]
            .iter()
            .map(|c| (*c, 0x22))
            .collect();
        assert!(findings("a", &elf(&table(&off))).is_empty());
    }

    /// The sample files kept with the other rule samples.
    #[test]
    fn sample_files() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mirai");
        for (kind, want) in [("match", 1), ("nomatch", 0)] {
            let mut n = 0;
            for e in std::fs::read_dir(dir.join(kind)).unwrap() {
                let p = e.unwrap().path();
                let f = findings("x", &std::fs::read(&p).unwrap());
                assert_eq!(f.len(), want, "{}: {f:?}", p.display());
                n += 1;
            }
            assert!(n >= 2, "{kind}: {n} samples");
        }
    }

    /// Real binaries that must stay quiet: busybox and the system's own ELF files.
    #[test]
    fn real_binaries_are_not_a_table() {
        let mut read = 0;
        for p in ["/bin/busybox", "/usr/bin/ls", "/usr/bin/bash"] {
            if let Ok(b) = std::fs::read(p) {
                assert!(b.starts_with(b"\x7fELF"), "{p} is not an ELF file");
                assert!(findings(p, &b).is_empty(), "{p}");
                read += 1;
            }
        }
        // ls and bash are on every Debian system; busybox comes with `.ci/run`.
        assert!(read >= 2, "only {read} of the binaries could be read");
    }

    #[test]
    fn a_bad_list_line_fails_loading() {
        let mut files = BTreeMap::new();
        files.insert(
            "manifest.toml".to_string(),
            b"schema = 1\nversion = \"t\"".to_vec(),
        );
        files.insert(
            CREDENTIALS.to_string(),
            b"ab c | x | https://e.org/\n".to_vec(),
        );
        let e = CredentialTable::from_bundle(&Bundle::from_files(files).unwrap())
            .err()
            .expect("a credential with a space is refused");
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
