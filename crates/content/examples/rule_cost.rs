//! What each bundled YARA rule costs to scan, so a rule author can see which rule's atoms
//! are weak. Every rule of the embedded bundle is compiled on its own (with its file's
//! imports) and scanned over the same files; the whole bundle is measured too.
//!
//! ```text
//! cargo run --release --example rule_cost -- FILES_ROOT [MAX_MB] [RULES_DIR]
//! ```
//!
//! Also prints, for the ten rules whose atoms occur most, how often they occur: each
//! occurrence starts a verification.
//!
//! RULES_DIR: measure the `.yar` files in it instead of the embedded bundle's (to try a
//! rewrite before it goes into `content/yara/`). Without it, the engine as shipped is timed
//! first (gates included), then the rules of the main set one by one; the rules under
//! `yara/gated/` run only on files their gate admits and are left out of that table, and so
//! are the files that get a literal gate (`docs/yara-engine.md`).
//!
//! FILES_ROOT: regular files under it are read into memory first (links not followed), each
//! cut at 32 MiB like the analyzer does, at most MAX_MB (default 300) in all. Prints one
//! line per rule, slowest first: MB/s alone, and the time it adds over an empty rule.

use std::path::Path;
use std::time::{Duration, Instant};

use customs_content::Bundle;
use customs_content::yara::YaraRules;

const MAX_SCAN: usize = 32 << 20;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next() else {
        eprintln!("usage: rule_cost FILES_ROOT [MAX_MB]");
        std::process::exit(2);
    };
    let max_mb: usize = args.next().map_or(300, |a| a.parse().expect("MAX_MB"));
    let rules_dir = args.next();
    let mut data = Vec::new();
    read_files(Path::new(&root), &mut data, max_mb << 20);
    let bytes: usize = data.iter().map(Vec::len).sum();
    println!(
        "data: {} files, {:.1} MB under {root}",
        data.len(),
        bytes as f64 / 1e6
    );

    let sources: Vec<(String, String)> = match rules_dir {
        Some(dir) => {
            let mut v: Vec<(String, String)> = std::fs::read_dir(&dir)
                .expect("RULES_DIR")
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yar"))
                .map(|p| {
                    let src = std::fs::read_to_string(&p).expect("rule file");
                    (p.display().to_string(), src)
                })
                .collect();
            v.sort();
            v
        }
        None => {
            let bundle = Bundle::embedded().expect("embedded bundle");
            let shipped = YaraRules::compile(&bundle).expect("rules");
            let mut scanner = shipped.scanner();
            let t = Instant::now();
            for d in &data {
                scanner.scan(d).expect("scan");
            }
            println!(
                "the engine as shipped (main set, and the gated sets where their gate \
                 admits a file): {:.0} MB/s",
                mbps(bytes, t.elapsed())
            );
            // Gated rules run apart, on few files; the bundle below is the main set.
            let main = YaraRules::main_set(&bundle).expect("rules");
            for (path, _) in bundle.files("yara/", &[".yar", ".yara"]) {
                if !main.iter().any(|(p, _)| *p == path) {
                    println!("gated, not in the table: {path}");
                }
            }
            main.into_iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect()
        }
    };
    let mut rules: Vec<(String, String)> = Vec::new();
    let mut whole: Vec<String> = Vec::new();
    for (path, src) in sources {
        let (imports, split) = split_rules(&src);
        for (name, text) in split {
            rules.push((format!("{path}:{name}"), format!("{imports}\n{text}")));
        }
        whole.push(src);
    }

    atom_hits(&whole, &data);

    let empty = time(&["rule never { condition: false }".to_string()], &data);
    let all = time(&whole, &data);
    println!(
        "empty rule: {:.0} MB/s; whole bundle ({} rules): {:.0} MB/s",
        mbps(bytes, empty),
        rules.len(),
        mbps(bytes, all)
    );
    // Alone, a rule with a few strings gets yara-x's SIMD literal search and looks free;
    // what it costs in the bundle is the bundle's time with it minus without it.
    let mut costs: Vec<(Duration, Duration, String)> = rules
        .iter()
        .enumerate()
        .map(|(i, (name, src))| {
            let rest: Vec<String> = rules
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (_, s))| s.clone())
                .collect();
            let without = time(&rest, &data);
            (
                all.saturating_sub(without),
                time(std::slice::from_ref(src), &data),
                name.clone(),
            )
        })
        .collect();
    costs.sort_by_key(|c| std::cmp::Reverse(c.0));
    println!("| rule | seconds it adds to the bundle | MB/s alone |");
    println!("|---|---|---|");
    for (added, alone, name) in costs {
        println!(
            "| {name} | {:.3} | {:.0} |",
            added.as_secs_f64(),
            mbps(bytes, alone)
        );
    }
}

/// How often each rule's atoms occur in the files. yara-x verifies a pattern wherever one
/// of its atoms occurs, and a rule sharing a costly pattern with another rule looks free in
/// the leave-one-out table, so this is where a pattern without a literal shows (the Monero
/// address regex: two-byte atoms, 1.6 million occurrences in 456 MB). `Pattern::atoms` is
/// a doc-hidden yara-x API; this example is its only user.
fn atom_hits(sources: &[String], data: &[Vec<u8>]) {
    let mut c = yara_x::Compiler::new();
    for s in sources {
        c.add_source(s.as_str()).expect("rule compiles");
    }
    let rules = c.build();
    let mut atoms: Vec<Vec<u8>> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    let mut names: Vec<(String, usize)> = Vec::new();
    for rule in rules.iter() {
        let before = atoms.len();
        for p in rule.patterns().include_private(true) {
            atoms.extend(p.atoms().map(|a| a.as_slice().to_vec()));
        }
        owner.extend(std::iter::repeat_n(names.len(), atoms.len() - before));
        names.push((rule.identifier().to_string(), atoms.len() - before));
    }
    let ac = aho_corasick::AhoCorasick::new(&atoms).expect("atoms");
    let mut hits = vec![0u64; names.len()];
    for d in data {
        for m in ac.find_overlapping_iter(d.as_slice()) {
            hits[owner[m.pattern().as_usize()]] += 1;
        }
    }
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(hits[i]));
    println!(
        "atoms: {} in all, {} occurrences in the files",
        atoms.len(),
        hits.iter().sum::<u64>()
    );
    println!("| rule | atoms | occurrences of its atoms |");
    println!("|---|---|---|");
    for i in order.into_iter().take(10) {
        println!("| {} | {} | {} |", names[i].0, names[i].1, hits[i]);
    }
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

/// Best of two scans of every file with the rules compiled from `sources`.
fn time(sources: &[String], data: &[Vec<u8>]) -> Duration {
    let mut c = yara_x::Compiler::new();
    for s in sources {
        c.add_source(s.as_str()).expect("rule compiles");
    }
    let rules = c.build();
    let mut scanner = yara_x::Scanner::new(&rules);
    (0..2)
        .map(|_| {
            let t = Instant::now();
            for d in data {
                let _ = scanner.scan(d);
            }
            t.elapsed()
        })
        .min()
        .expect("two runs")
}

/// The file's `import` lines, and each rule's text by name. Our rule files start every
/// rule at the first column with `rule NAME` or `private rule NAME`.
fn split_rules(src: &str) -> (String, Vec<(String, String)>) {
    let mut imports = String::new();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in src.lines() {
        let head = line.strip_prefix("private ").unwrap_or(line);
        if line.starts_with("import ") {
            imports.push_str(line);
            imports.push('\n');
        } else if let Some(rest) = head.strip_prefix("rule ") {
            let name = rest.split([' ', '{', ':']).next().unwrap_or("").to_string();
            out.push((name, String::new()));
        }
        if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    (imports, out)
}

fn read_files(dir: &Path, out: &mut Vec<Vec<u8>>, budget: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let used: usize = out.iter().map(Vec::len).sum();
        if used >= budget {
            return;
        }
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            read_files(&e.path(), out, budget);
        } else if ft.is_file()
            && let Ok(mut d) = std::fs::read(e.path())
        {
            d.truncate(MAX_SCAN.min(budget - used));
            out.push(d);
        }
    }
}
