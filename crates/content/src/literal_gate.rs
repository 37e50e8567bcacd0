//! Literal gates: one of our rule files whose every public rule can not match without one of
//! a few literals is scanned only on data that holds one of them.
//!
//! yara-x looks for every pattern of every rule in one pass over the data, so each rule's
//! atoms cost on every file, whether or not the rule could ever match there. The miner
//! executable rules (`yara/miners.yar`) were 40% of the main set's time over the benchmark's
//! 456 MB and matched none of it; each of them needs a name or an option text ("lolMiner",
//! "--donate-level") that a SIMD literal search rules out in a fraction of the time.
//!
//! The literals are proven from each rule's condition (the AST from `yara-x-parser`), never
//! declared by the rule's author:
//!
//! - `$a` (anchored or not) needs `$a`'s text, if `$a` is a plain text pattern of at least
//!   [`MIN_LITERAL`] bytes (no `nocase`, `wide`, `xor` or `base64`);
//! - `x and y` needs what either needs (the cheaper of the two);
//! - `x or y` needs what both need, together;
//! - `N of (...)` needs one of its items' literals when N is more than the number of items
//!   that prove nothing.
//!
//! Anything else proves nothing, and a file with one public rule that proves nothing stays in
//! the main set. A file is gated on the union of its rules' literals: where none of them
//! occurs, none of its rules can match, so gating changes when rules run, never what they
//! find. `docs/yara-engine.md` says how to write rules that get a gate.
//!
//! When every public rule also tests the first bytes (`uint32(0) == 0x464c457f`, an ELF
//! file), the gate tests them first, and data that starts otherwise costs no search at all:
//! on the benchmark image that is 41% of the bytes.

use yara_x_parser::ast::{
    AST, Expr, Item, OfItems, Pattern, PatternModifier, PatternSet, Quantifier, Rule, RuleFlags,
};

/// Shorter literals are no gate: they occur in most files.
const MIN_LITERAL: usize = 4;
/// More literals per file and the gate's searches (one per cover substring, about 20 ms per
/// 456 MB each) would cost more than most rule files they spare.
const MAX_LITERALS: usize = 16;

/// Literals one of which a condition can not be true without; empty is never returned.
type Needs = Vec<Vec<u8>>;

/// The literals one of which every public rule of `source` needs, or `None` when some public
/// rule proves none (or the file does not parse, includes another, or has no public rule).
pub(crate) fn necessary_literals(source: &str) -> Option<Vec<Vec<u8>>> {
    let ast = AST::from(source);
    let rules = public_rules(&ast)?;
    let mut all: Needs = Vec::new();
    for rule in &rules {
        let texts = plain_texts(rule.patterns.as_deref().unwrap_or(&[]));
        all.extend(needs(&rule.condition, &texts)?);
    }
    all.sort();
    all.dedup();
    (!rules.is_empty() && all.len() <= MAX_LITERALS).then_some(all)
}

/// The bytes data must start with for every public rule of `source` to be able to match, when
/// all of them test the same ones (`uint32(0) == 0x464c457f` and the like, under `and`).
pub(crate) fn necessary_prefix(source: &str) -> Option<Vec<u8>> {
    let ast = AST::from(source);
    let mut common: Option<Vec<u8>> = None;
    for rule in public_rules(&ast)? {
        let prefix = needs_prefix(&rule.condition)?;
        match &common {
            Some(c) if *c != prefix => return None,
            _ => common = Some(prefix),
        }
    }
    common
}

/// The public rules of a parsed file, or `None` when it does not parse or includes another
/// (what an include brings in is not in this text). A private rule makes no finding, and a
/// public rule that uses one proves nothing through it (an identifier is not analyzed), so
/// leaving private rules out is sound.
fn public_rules<'a>(ast: &'a AST<'a>) -> Option<Vec<&'a Rule<'a>>> {
    if !ast.errors().is_empty() {
        return None;
    }
    let mut rules = Vec::new();
    for item in &ast.items {
        match item {
            Item::Import(_) => {}
            Item::Include(_) => return None,
            Item::Rule(rule) if rule.flags.contains(RuleFlags::Private) => {}
            Item::Rule(rule) => rules.push(rule),
        }
    }
    Some(rules)
}

/// The bytes data must start with for `expr` to be true, if that is proven.
fn needs_prefix(expr: &Expr<'_>) -> Option<Vec<u8>> {
    match expr {
        Expr::Eq(e) => read_at_zero(&e.lhs, &e.rhs).or_else(|| read_at_zero(&e.rhs, &e.lhs)),
        Expr::And(e) => e.operands().find_map(needs_prefix),
        Expr::Or(e) => {
            let mut operands = e.operands().map(needs_prefix);
            let first = operands.next()??;
            operands
                .all(|p| p.as_ref() == Some(&first))
                .then_some(first)
        }
        _ => None,
    }
}

/// `uint32(0) == V` and the other integer reads at offset 0: the bytes V is made of.
fn read_at_zero(call: &Expr<'_>, value: &Expr<'_>) -> Option<Vec<u8>> {
    let (Expr::FuncCall(f), Expr::LiteralInteger(v)) = (call, value) else {
        return None;
    };
    let [Expr::LiteralInteger(offset)] = &f.args[..] else {
        return None;
    };
    if f.object.is_some() || offset.value != 0 || v.is_unsigned {
        return None;
    }
    let v = u64::try_from(v.value).ok()?;
    let (width, big_endian) = match f.identifier.name {
        "uint8" => (1, false),
        "uint16" => (2, false),
        "uint32" => (4, false),
        "uint16be" => (2, true),
        "uint32be" => (4, true),
        _ => return None,
    };
    // A value wider than the read is never equal to it: no prefix to prove.
    if width < 8 && v >> (8 * width) != 0 {
        return None;
    }
    let le = v.to_le_bytes();
    let mut bytes = le[..width].to_vec();
    if big_endian {
        bytes.reverse();
    }
    Some(bytes)
}

/// Each pattern identifier, with its literal when the pattern is plain text that long.
fn plain_texts<'a>(patterns: &'a [Pattern<'a>]) -> Vec<(&'a str, Option<&'a [u8]>)> {
    patterns
        .iter()
        .map(|p| {
            let plain = match p {
                Pattern::Text(t) => {
                    let only_plain = t.modifiers.iter().all(|m| {
                        matches!(
                            m,
                            PatternModifier::Ascii { .. }
                                | PatternModifier::Private { .. }
                                | PatternModifier::Fullword { .. }
                        )
                    });
                    let bytes: &[u8] = t.text.value.as_ref();
                    (only_plain && bytes.len() >= MIN_LITERAL).then_some(bytes)
                }
                Pattern::Hex(_) | Pattern::Regexp(_) => None,
            };
            (p.identifier().name, plain)
        })
        .collect()
}

/// What `expr` can not be true without, if anything is proven.
fn needs(expr: &Expr<'_>, texts: &[(&str, Option<&[u8]>)]) -> Option<Needs> {
    match expr {
        Expr::PatternMatch(m) => texts
            .iter()
            .find(|(name, _)| *name == m.identifier.name)
            .and_then(|(_, lit)| *lit)
            .map(|lit| vec![lit.to_vec()]),
        Expr::And(e) => e
            .operands()
            .filter_map(|o| needs(o, texts))
            .min_by_key(|n| (n.len(), std::cmp::Reverse(shortest(n)))),
        Expr::Or(e) => {
            let mut all = Vec::new();
            for o in e.operands() {
                all.extend(needs(o, texts)?);
            }
            Some(all)
        }
        Expr::Of(of) => {
            let items: Vec<Option<Needs>> = match &of.items {
                OfItems::PatternSet(PatternSet::Them { .. }) => texts
                    .iter()
                    .map(|(_, lit)| lit.map(|l| vec![l.to_vec()]))
                    .collect(),
                // One item per pattern each set item names, so a pattern named twice
                // (`2 of ($r, $r, $a)`) counts twice, as the engine may count it.
                OfItems::PatternSet(PatternSet::Set(set)) => set
                    .iter()
                    .flat_map(|item| {
                        texts.iter().filter(move |(name, _)| {
                            if item.wildcard {
                                name.starts_with(item.identifier)
                            } else {
                                *name == item.identifier
                            }
                        })
                    })
                    .map(|(_, lit)| lit.map(|l| vec![l.to_vec()]))
                    .collect(),
                OfItems::BoolExprTuple(exprs) => exprs.iter().map(|e| needs(e, texts)).collect(),
            };
            let at_least = match &of.quantifier {
                Quantifier::Any { .. } => 1,
                Quantifier::All { .. } => items.len(),
                Quantifier::Expr(Expr::LiteralInteger(i)) if !i.is_unsigned && i.value >= 1 => {
                    usize::try_from(i.value).ok()?
                }
                _ => return None,
            };
            let unproven = items.iter().filter(|i| i.is_none()).count();
            // Of any `at_least` true items, at least one proves something.
            if items.is_empty() || at_least <= unproven {
                return None;
            }
            Some(items.into_iter().flatten().flatten().collect())
        }
        _ => None,
    }
}

fn shortest(n: &Needs) -> usize {
    n.iter().map(Vec::len).min().unwrap_or(0)
}

/// Cover substrings shorter than this are not chosen (a literal shorter than it is its own
/// cover): five bytes such as "Miner" still occur in few files.
const COVER_MIN: usize = 5;

/// The scan-time half: whether data holds one of the gate's literals.
///
/// Each literal is looked for on its own with memchr's `memmem`, which anchors on the
/// needle's rarest bytes and runs at about 20 GB/s here. One multi-literal search (Teddy)
/// was tried first: it fingerprints each literal by its first bytes, "use" and "don" occur
/// everywhere, and it ran at 450 MB/s, slower than the rules it was to spare. So the number
/// of searches matters, and the gate searches for a few substrings that together occur in
/// every literal ("Miner" in "lolMiner", "GMiner" and three more), not for each literal.
pub(crate) struct LiteralGate {
    /// What the data must start with, if every gated rule says so.
    prefix: Option<Vec<u8>>,
    finders: Vec<memchr::memmem::Finder<'static>>,
}

impl LiteralGate {
    pub(crate) fn new(literals: &[Vec<u8>], prefix: Option<Vec<u8>>) -> LiteralGate {
        LiteralGate {
            prefix,
            finders: cover(literals)
                .iter()
                .map(|c| memchr::memmem::Finder::new(c).into_owned())
                .collect(),
        }
    }

    /// Whether the gated rules can match `data`.
    pub(crate) fn admits(&self, data: &[u8]) -> bool {
        self.prefix.as_ref().is_none_or(|p| data.starts_with(p))
            && self.finders.iter().any(|f| f.find(data).is_some())
    }
}

/// Few substrings such that every literal contains one of them (greedy set cover): the
/// substring of at least [`COVER_MIN`] bytes found in the most literals not yet covered,
/// the longest of those, until every literal is covered. Data holding a literal holds its
/// cover, so the gate stays a necessary condition.
fn cover(literals: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut left: Vec<&[u8]> = literals.iter().map(Vec::as_slice).collect();
    let mut out: Vec<Vec<u8>> = Vec::new();
    while !left.is_empty() {
        let mut best: Option<(usize, usize, &[u8])> = None;
        for lit in &left {
            let min = COVER_MIN.min(lit.len());
            for len in min..=lit.len() {
                for sub in lit.windows(len) {
                    let covers = left.iter().filter(|l| contains(l, sub)).count();
                    // Most literals covered, then the longest, then the first in order.
                    let better = best.is_none_or(|(c, n, b)| {
                        (covers, len) > (c, n) || ((covers, len) == (c, n) && sub < b)
                    });
                    if better {
                        best = Some((covers, len, sub));
                    }
                }
            }
        }
        let Some((_, _, chosen)) = best else { break };
        left.retain(|l| !contains(l, chosen));
        out.push(chosen.to_vec());
    }
    out.sort();
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(src: &str) -> Option<Vec<String>> {
        necessary_literals(src).map(|v| {
            v.into_iter()
                .map(|l| String::from_utf8(l).expect("utf-8"))
                .collect()
        })
    }

    fn some(literals: &[&str]) -> Option<Vec<String>> {
        Some(literals.iter().map(|l| l.to_string()).collect())
    }

    fn rule(strings: &str, condition: &str) -> String {
        named("r", strings, condition)
    }

    fn named(name: &str, strings: &str, condition: &str) -> String {
        format!("rule {name} {{ strings: {strings} condition: {condition} }}")
    }

    /// Two public rules, `r` and `q`, with the same strings.
    fn pair(strings: &str, r: &str, q: &str) -> String {
        format!("{}\n{}", rule(strings, r), named("q", strings, q))
    }

    const S: &str = r#"$a = "alpha-lit" $b = "bravo-lit" $c = "charlie" $r = /x[0-9]+y/ $n = "nocase-lit" nocase $w = "wide-lit" wide $s = "abc""#;

    #[test]
    fn a_pattern_needs_its_text() {
        assert_eq!(lits(&rule(S, "$a")), some(&["alpha-lit"]));
        assert_eq!(lits(&rule(S, "$a at 0")), some(&["alpha-lit"]));
        assert_eq!(lits(&rule(S, "$a in (0..100)")), some(&["alpha-lit"]));
    }

    #[test]
    fn what_is_not_plain_text_proves_nothing() {
        for c in [
            "$r",
            "$n",
            "$w",
            "$s",
            "not $a",
            "#a > 0",
            "uint8(0) == 1",
            "true",
        ] {
            assert_eq!(lits(&rule(S, c)), None, "{c}");
        }
        let xor = rule(r#"$x = "xor-literal" xor"#, "$x");
        assert_eq!(lits(&xor), None);
        let b64 = rule(r#"$x = "base64-literal" base64"#, "$x");
        assert_eq!(lits(&b64), None);
        let hex = rule("$h = { 41 42 43 44 45 }", "$h");
        assert_eq!(lits(&hex), None);
    }

    #[test]
    fn and_takes_either_side_or_takes_both() {
        assert_eq!(lits(&rule(S, "$r and $a")), some(&["alpha-lit"]));
        assert_eq!(
            lits(&rule(S, "uint32(0) == 0x464c457f and ($a or $b)")),
            some(&["alpha-lit", "bravo-lit"])
        );
        assert_eq!(
            lits(&rule(S, "$a or ($b and $r)")),
            some(&["alpha-lit", "bravo-lit"])
        );
        // One side of an `or` proves nothing: the rule can match without any literal.
        assert_eq!(lits(&rule(S, "$a or $r")), None);
        assert_eq!(lits(&rule(S, "$a or uint8(0) == 0")), None);
        // Of two proven sides of an `and`, the one with fewer literals.
        assert_eq!(lits(&rule(S, "($a or $b) and $c")), some(&["charlie"]));
    }

    #[test]
    fn n_of_needs_a_literal_only_past_the_unproven_items() {
        // Two items prove nothing ($r, $n), so 3 of these four needs $a or $b...
        let set = "3 of ($a, $b, $r, $n)";
        assert_eq!(lits(&rule(S, set)), some(&["alpha-lit", "bravo-lit"]));
        // ...but 2 of them can be $r and $n.
        assert_eq!(lits(&rule(S, "2 of ($a, $b, $r, $n)")), None);
        assert_eq!(lits(&rule(S, "any of ($a, $r)")), None);
        assert_eq!(lits(&rule(S, "all of ($a, $r)")), some(&["alpha-lit"]));
        let wild = r#"$o1 = "option-one" $o2 = "option-two" $x = /z+/"#;
        assert_eq!(
            lits(&rule(wild, "any of ($o*)")),
            some(&["option-one", "option-two"])
        );
        // `them` counts the regex too: 1 of them can be the regex alone.
        assert_eq!(lits(&rule(wild, "1 of them")), None);
        assert_eq!(
            lits(&rule(wild, "2 of them")),
            some(&["option-one", "option-two"])
        );
        // A pattern named twice counts twice: 2 of these may be $r twice.
        assert_eq!(lits(&rule(S, "2 of ($r, $r, $a)")), None);
        assert_eq!(lits(&rule(S, "3 of ($r, $r, $a)")), some(&["alpha-lit"]));
        assert_eq!(lits(&rule(S, "none of ($a, $b)")), None);
        assert_eq!(lits(&rule(S, "50% of ($a, $b)")), None);
        assert_eq!(lits(&rule(S, "any of ($a, uint8(0) == 1)")), None);
        assert_eq!(
            lits(&rule(S, "any of ($a, $b and $r)")),
            some(&["alpha-lit", "bravo-lit"])
        );
    }

    #[test]
    fn a_file_is_gated_only_if_every_public_rule_is() {
        assert_eq!(
            lits(&pair(S, "$a", "$b")),
            some(&["alpha-lit", "bravo-lit"])
        );
        assert_eq!(lits(&pair(S, "$a", "$r")), None);
        // A private helper rule makes no finding of its own; a public rule using it proves
        // nothing through it.
        let private = format!("private {}\n{}", rule(S, "$r"), named("q", S, "r and $b"));
        assert_eq!(lits(&private), some(&["bravo-lit"]));
        let through = format!("private {}\n{}", rule(S, "$a"), named("q", S, "r"));
        assert_eq!(lits(&through), None);
        assert_eq!(lits("private rule p { condition: true }"), None);
        assert_eq!(lits("rule broken { condition: "), None);
    }

    #[test]
    fn too_many_literals_is_no_gate() {
        let strings: String = (0..=MAX_LITERALS)
            .map(|i| format!("$l{i} = \"literal-{i:02}\" "))
            .collect();
        assert_eq!(lits(&rule(&strings, "any of them")), None);
        let fewer: String = (0..MAX_LITERALS)
            .map(|i| format!("$l{i} = \"literal-{i:02}\" "))
            .collect();
        assert_eq!(
            lits(&rule(&fewer, "any of them")).map(|v| v.len()),
            Some(MAX_LITERALS)
        );
    }

    #[test]
    fn the_gate_admits_data_with_a_literal() {
        let gate = LiteralGate::new(&[b"lolMiner".to_vec(), b"GMiner".to_vec()], None);
        assert!(gate.admits(b"\x7fELF ... GMiner v3 ..."));
        assert!(gate.admits(b"lolMiner"));
        assert!(!gate.admits(b"gminer LOLMINER G-miner"));
        assert!(!gate.admits(b""));
        let elf = LiteralGate::new(&[b"GMiner".to_vec()], Some(b"\x7fELF".to_vec()));
        assert!(elf.admits(b"\x7fELF ... GMiner v3 ..."));
        assert!(!elf.admits(b"#!/bin/sh GMiner"), "not an ELF file");
        assert!(!elf.admits(b"\x7fELF nothing"), "no literal");
        assert!(!elf.admits(b"\x7fEL"));
    }

    #[test]
    fn a_test_of_the_first_bytes_every_rule_makes_is_a_prefix() {
        let elf = Some(b"\x7fELF".to_vec());
        let s = r#"$a = "lolMiner""#;
        assert_eq!(
            necessary_prefix(&rule(s, "uint32(0) == 0x464c457f and $a")),
            elf
        );
        assert_eq!(
            necessary_prefix(&rule(s, "$a and 0x464c457f == uint32(0)")),
            elf
        );
        assert_eq!(
            necessary_prefix(&rule(s, "uint32be(0) == 0x7f454c46 and $a")),
            elf
        );
        assert_eq!(
            necessary_prefix(&rule(s, "uint16(0) == 0x5a4d and $a")),
            Some(b"MZ".to_vec())
        );
        assert_eq!(
            necessary_prefix(&rule(s, "uint8(0) == 0x23 and $a")),
            Some(b"#".to_vec())
        );
        assert_eq!(
            necessary_prefix(&rule(
                s,
                "(uint32(0) == 0x464c457f and $a) or (uint32(0) == 0x464c457f)"
            )),
            elf
        );
        // Two rules, both ELF; and a private rule that is not, which finds nothing.
        let two = format!(
            "{} rule s {{ condition: uint32(0) == 0x464c457f }} private rule p {{ condition: true }}",
            rule(s, "uint32(0) == 0x464c457f and $a")
        );
        assert_eq!(necessary_prefix(&two), elf);
    }

    #[test]
    fn anything_else_proves_no_prefix() {
        let s = r#"$a = "lolMiner""#;
        for condition in [
            "$a",
            "uint32(0) == 0x464c457f or $a",
            "uint32(4) == 0x464c457f and $a",
            "uint32(0) != 0x464c457f and $a",
            "uint16(0) == 0x464c457f and $a",
            "int32(0) == 0x464c457f and $a",
            "uint32(0) == 0x464c457f or uint16(0) == 0x5a4d",
            "not uint32(0) == 0x464c457f and $a",
        ] {
            assert_eq!(necessary_prefix(&rule(s, condition)), None, "{condition}");
        }
        // Two rules with different first bytes, or one without.
        let elf_and = "uint32(0) == 0x464c457f and $a";
        assert_eq!(
            necessary_prefix(&pair(s, elf_and, "uint16(0) == 0x5a4d and $a")),
            None
        );
        assert_eq!(necessary_prefix(&pair(s, elf_and, "$a")), None);
        assert_eq!(necessary_prefix("rule r { condition: uint32(0) == "), None);
    }

    #[test]
    fn the_cover_is_few_substrings_and_covers_every_literal() {
        let literals: Vec<Vec<u8>> = [
            "lolMiner",
            "GMiner",
            "NBMiner",
            "--donate-level",
            "donate level, default",
            "Configurable dev donation level",
            "T-Rex",
            "abcd",
        ]
        .iter()
        .map(|l| l.as_bytes().to_vec())
        .collect();
        let cover = cover(&literals);
        let text: Vec<String> = cover
            .iter()
            .map(|c| String::from_utf8_lossy(c).into())
            .collect();
        assert_eq!(text, ["Miner", "T-Rex", "abcd", "donat"]);
        for lit in &literals {
            assert!(
                cover.iter().any(|c| memchr::memmem::find(lit, c).is_some()),
                "{lit:?} is not covered"
            );
        }
        // Each literal alone is admitted by the gate built from all of them.
        let gate = LiteralGate::new(&literals, None);
        for lit in &literals {
            assert!(gate.admits(lit), "{lit:?}");
        }
        assert!(!gate.admits(b"Mine donaT T-Re abc"));
    }
}
