//! Gates: cheap tests that decide whether a group of YARA rules can match a file at all.
//!
//! yara-x finds every rule's patterns in one pass, anchored on short literals ("atoms") taken
//! from the patterns. A pattern with no literal in it, like a wallet address made of
//! character classes, gets two-byte atoms that occur every few hundred bytes of any file, and
//! each occurrence starts a regex check. Rules under `yara/gated/<gate>/` are compiled apart
//! and run only on files their gate admits. A gate must admit every file on which any of its
//! rules could match (it is a necessary condition of the rules, never a guess), so gating
//! changes what is scanned when, not what is found; the tests check that against the engine.

/// A necessary condition shared by the rules in `yara/gated/<name>/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// A word (maximal run of ASCII letters, digits and `_`) of exactly 95 or 106 bytes that
    /// starts with `4` or `8`: what `\b[48][0-9AB][base58]{93}\b` and the 106-byte
    /// integrated address need.
    MoneroAddress,
}

impl Gate {
    /// Every gate.
    pub(crate) const ALL: &'static [Gate] = &[Gate::MoneroAddress];

    /// Its directory name under `yara/gated/`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Gate::MoneroAddress => "monero-address",
        }
    }

    /// The gate named by a bundle directory, if there is one.
    pub(crate) fn from_name(name: &str) -> Option<Gate> {
        Gate::ALL.iter().copied().find(|g| g.name() == name)
    }

    /// Whether the gated rules can match `data`.
    pub(crate) fn admits(self, data: &[u8]) -> bool {
        match self {
            Gate::MoneroAddress => has_word_of_len(data, &[95, 106], b"48"),
        }
    }
}

const fn word_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    t
}

/// The bytes regex `\b` counts as word characters.
static WORD: [bool; 256] = word_table();

/// Whether `data` holds a word whose length is one of `lens` and whose first byte is one of
/// `first`.
///
/// Any run of at least `stride` bytes covers a multiple of `stride`, so with the shortest
/// length as the stride only the bytes at its multiples are tested until one is a word
/// byte; then that word is measured. Each byte is read at most once more than sampled, and
/// a stride over 64 reads one byte of fewer than every cache line.
fn has_word_of_len(data: &[u8], lens: &[usize], first: &[u8]) -> bool {
    let Some(&stride) = lens.iter().min() else {
        return false;
    };
    // Words that end before `done` were measured already.
    let mut done = 0;
    let mut at = 0;
    while at < data.len() {
        if !WORD[data[at] as usize] {
            at += stride;
            continue;
        }
        let mut start = at;
        while start > done && WORD[data[start - 1] as usize] {
            start -= 1;
        }
        let mut end = at + 1;
        while end < data.len() && WORD[data[end] as usize] {
            end += 1;
        }
        if lens.contains(&(end - start)) && first.contains(&data[start]) {
            return true;
        }
        done = end;
        // The next multiple of the stride past this word.
        at = (end / stride + 1) * stride;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    /// An address of the standard shape made up here: `4`, `A`, 93 base58 bytes.
    fn address() -> Vec<u8> {
        let mut a = b"4A".to_vec();
        a.extend((0..93).map(|i| BASE58[(i * 11 + 5) % BASE58.len()]));
        a
    }

    /// The address at every offset around two strides, between separators and at the ends.
    #[test]
    fn admits_an_address_anywhere() {
        for offset in 0..300 {
            for sep in [b' ', b'"', b'\n', b'.', 0u8, 0xff] {
                let mut data = vec![sep; offset];
                data.extend_from_slice(&address());
                assert!(Gate::MoneroAddress.admits(&data), "offset {offset} at end");
                data.push(sep);
                data.extend_from_slice(&[b'x'; 40]);
                assert!(
                    Gate::MoneroAddress.admits(&data),
                    "offset {offset} sep {sep}"
                );
            }
        }
    }

    #[test]
    fn refuses_words_of_other_lengths_and_starts() {
        for len in [1, 63, 64, 94, 96, 105, 107, 300] {
            let mut word = vec![b'4'];
            word.extend(std::iter::repeat_n(b'A', len - 1));
            for offset in [0, 1, 63, 64, 94, 95, 96] {
                let mut data = vec![b' '; offset];
                data.extend_from_slice(&word);
                data.push(b' ');
                assert!(
                    !Gate::MoneroAddress.admits(&data),
                    "len {len} offset {offset}"
                );
            }
        }
        let addr = address();
        assert!(Gate::MoneroAddress.admits(&addr));
        let mut wrong_start = addr.clone();
        wrong_start[0] = b'5';
        assert!(!Gate::MoneroAddress.admits(&wrong_start));
        // Glued to a word byte on either side, it is one longer word.
        for glue in [b"_".as_slice(), b"0", b"z"] {
            assert!(!Gate::MoneroAddress.admits(&[glue, &addr].concat()));
            assert!(!Gate::MoneroAddress.admits(&[&addr, glue].concat()));
        }
        assert!(!Gate::MoneroAddress.admits(b""));
    }

    /// The gate must admit every buffer the gated patterns match: checked against yara-x
    /// itself on words of every length near 95 and 106, with every first byte class, at
    /// offsets that put stride boundaries everywhere in and around them.
    #[test]
    fn admits_everything_the_gated_patterns_match() {
        let mut c = yara_x::Compiler::new();
        c.add_source(
            r#"rule a {
                 strings:
                   $addr = /\b[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93}\b/
                   $integrated = /\b4[0-9AB][1-9A-HJ-NP-Za-km-z]{104}\b/
                 condition: any of them
               }"#,
        )
        .unwrap();
        let rules = c.build();
        let mut scanner = yara_x::Scanner::new(&rules);
        let mut x: u32 = 0x2545_f491;
        let mut matched = 0;
        for len in (90..=100).chain(101..=110) {
            for offset in [0usize, 1, 30, 64, 94, 95, 96, 189, 190] {
                for first in [b'4', b'8', b'5'] {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let mut word = vec![first, b"0123456789AB"[(x % 12) as usize]];
                    word.extend((0..len - 2).map(|i| BASE58[(x as usize + i * 7) % BASE58.len()]));
                    let mut data = vec![b'-'; offset];
                    data.extend_from_slice(&word);
                    data.extend_from_slice(b" tail");
                    let yara = scanner.scan(&data).unwrap().matching_rules().len() > 0;
                    matched += usize::from(yara);
                    if yara {
                        assert!(
                            Gate::MoneroAddress.admits(&data),
                            "len {len} offset {offset}"
                        );
                    }
                }
            }
        }
        // Both address lengths and both first bytes were produced and matched.
        assert!(matched >= 3 * 9, "only {matched} buffers matched");
    }
}
