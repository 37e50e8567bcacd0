//! The EICAR anti-malware test file, so users can check that their gate really blocks.

use customs_core::{Confidence, Finding, Severity, attack};
use customs_image::walk::{FileContent, FileEntry};

use crate::{FileAnalyzer, Rule, Wants};

/// The standard's string, stored in two halves so this source file is not itself flagged
/// by anti-virus tools that read source trees.
const HEAD: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$";
const TAIL: &[u8] = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
/// The standard allows trailing whitespace up to this total length.
const MAX_LEN: u64 = 128;

const RULE: Rule = Rule {
    id: "eicar-test-file",
    title: "EICAR anti-malware test file",
    severity: Severity::High,
    confidence: Confidence::High,
    attack: &[attack::MALICIOUS_IMAGE],
    description: "The file is the EICAR test file: harmless, but every scanner must treat it \
        as malware. Its presence shows the gate works; remove it from real images.",
};

/// Every rule this analyzer gives, for the documentation check in `lib.rs`.
#[cfg(test)]
pub(crate) const RULES: &[&Rule] = &[&RULE];

pub(crate) struct Eicar;

/// Whether `data` is an EICAR test file as the standard defines it: the 68-byte string at
/// offset 0, then only whitespace (space, tab, CR, LF, Ctrl-Z), 128 bytes at most.
fn is_eicar(data: &[u8]) -> bool {
    let n = HEAD.len() + TAIL.len();
    data.len() as u64 <= MAX_LEN
        && data.len() >= n
        && data.starts_with(HEAD)
        && &data[HEAD.len()..n] == TAIL
        && data[n..]
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x1a))
}

impl FileAnalyzer for Eicar {
    fn id(&self) -> &'static str {
        "eicar"
    }
    fn version(&self) -> u32 {
        1
    }
    fn wants(&self) -> Wants {
        Wants {
            paths: vec![],
            max_size: Some(MAX_LEN),
            bytes: MAX_LEN as usize,
            whole: true,
        }
    }
    fn analyze(&self, entry: &FileEntry, content: &FileContent<'_>, out: &mut Vec<Finding>) {
        if content.complete && is_eicar(content.data) {
            let sha = content
                .sha256
                .as_ref()
                .map_or(String::new(), |d| format!(" ({d})"));
            out.push(RULE.finding(
                Some(&entry.path),
                format!("EICAR test string at offset 0{sha}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eicar() -> Vec<u8> {
        [HEAD, TAIL].concat()
    }

    #[test]
    fn matches_the_standard_file_only() {
        assert!(is_eicar(&eicar()));
        assert!(is_eicar(&[eicar(), b"\r\n \x1a".to_vec()].concat()));
        // Quoted in a document, with trailing text, or cut short: not the test file.
        assert!(!is_eicar(&[b"see: ".to_vec(), eicar()].concat()));
        assert!(!is_eicar(&[eicar(), b" trailing".to_vec()].concat()));
        assert!(!is_eicar(&eicar()[..67]));
        assert!(!is_eicar(&[eicar(), vec![b' '; 61]].concat()));
    }
}
