//! Measures the two Rust YARA engines, yara-x and boreal, on the same rules and files, one
//! thread each: compile time, MB/s over every file, files/s over the small ones, and how
//! many (file, rule) matches each reports. See `docs/yara-engine.md` for figures.
//!
//! ```text
//! engines [--set NAME=DIR]... [--synthetic N] [--max-mb MB] FILES_ROOT
//! ```
//!
//! Rule sets: `ours` (the embedded bundle's `yara/`), every `--set` directory (`.yar`/`.yara`
//! files, recursively), and with `--synthetic N` a generated set of N rules shaped like the
//! big public collections. A file either engine refuses is left out of both and counted.
//! Data: the regular files under FILES_ROOT, read into memory first (links not followed),
//! each cut at 32 MiB like the analyzer does, at most `--max-mb` in all.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use customs_content::Bundle;

/// The analyzer hands at most this much of a file to the engine.
const MAX_SCAN: usize = 32 << 20;
/// Files at most this large make the files/s figure (most files of an image are small).
const SMALL: usize = 4096;

struct RuleSet {
    name: String,
    /// (namespace, source)
    files: Vec<(String, String)>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut sets = Vec::new();
    let mut synthetic = 0usize;
    let mut max_mb = usize::MAX;
    let mut root = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--set" => {
                let v = it.next().expect("--set NAME=DIR");
                let (name, dir) = v.split_once('=').expect("--set NAME=DIR");
                sets.push(RuleSet {
                    name: name.into(),
                    files: read_rules(Path::new(dir)),
                });
            }
            "--synthetic" => synthetic = it.next().expect("--synthetic N").parse().unwrap(),
            "--max-mb" => max_mb = it.next().expect("--max-mb MB").parse().unwrap(),
            _ => root = Some(PathBuf::from(a)),
        }
    }
    let Some(root) = root else {
        eprintln!("usage: engines [--set NAME=DIR]... [--synthetic N] [--max-mb MB] FILES_ROOT");
        std::process::exit(2);
    };
    let bundle = Bundle::embedded().expect("embedded bundle");
    let ours = RuleSet {
        name: "ours".into(),
        files: bundle
            .files("yara/", &[".yar", ".yara"])
            .map(|(p, b)| (p.to_string(), String::from_utf8_lossy(b).into_owned()))
            .collect(),
    };
    sets.insert(0, ours);
    if synthetic > 0 {
        sets.push(RuleSet {
            name: format!("synthetic-{synthetic}"),
            files: vec![("synthetic".into(), synthetic_rules(synthetic))],
        });
    }

    let mut data = Vec::new();
    read_files(&root, &mut data, max_mb.saturating_mul(1 << 20));
    let bytes: usize = data.iter().map(Vec::len).sum();
    let small: Vec<&[u8]> = data
        .iter()
        .filter(|d| d.len() <= SMALL)
        .map(Vec::as_slice)
        .collect();
    println!(
        "data: {} files, {:.1} MB, {} files of at most {SMALL} bytes ({:.1} MB) under {}",
        data.len(),
        bytes as f64 / 1e6,
        small.len(),
        small.iter().map(|d| d.len()).sum::<usize>() as f64 / 1e6,
        root.display()
    );
    println!(
        "| rule set | engine | files | rules | compile s | MB/s (all files) | files/s (<= 4 KiB) | matches |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for set in &sets {
        let (kept, dropped) = common_files(set);
        let mut rules = 0;
        for engine in [Engine::YaraX, Engine::Boreal] {
            let r = engine.measure(&kept, &data, &small);
            // Both engines compiled the same sources; yara-x counts the rules.
            rules = rules.max(r.rules);
            println!(
                "| {} | {} | {}{} | {} | {:.2} | {:.1} | {:.0} | {} |",
                set.name,
                engine.name(),
                kept.len(),
                if dropped.is_empty() {
                    String::new()
                } else {
                    format!(" ({} refused: {})", dropped.len(), dropped.join(", "))
                },
                rules,
                r.compile.as_secs_f64(),
                bytes as f64 / 1e6 / r.scan_all.as_secs_f64(),
                small.len() as f64 / r.scan_small.as_secs_f64(),
                r.matches
            );
        }
    }
}

#[derive(Clone, Copy)]
enum Engine {
    YaraX,
    Boreal,
}

struct Measured {
    rules: usize,
    compile: Duration,
    scan_all: Duration,
    scan_small: Duration,
    matches: usize,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::YaraX => "yara-x 1.22.1",
            Engine::Boreal => "boreal 1.4.0",
        }
    }

    fn compiles(self, ns: &str, src: &str) -> Result<(), String> {
        match self {
            Engine::YaraX => {
                let mut c = yara_x::Compiler::new();
                c.new_namespace(ns);
                c.add_source(src).map(|_| ()).map_err(|e| e.to_string())
            }
            Engine::Boreal => boreal::Compiler::new()
                .add_rules_str_in_namespace(src, ns)
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
        }
    }

    /// Compiles `files`, then scans every file once (best of two passes) and the small
    /// files once more on their own.
    fn measure(self, files: &[&(String, String)], data: &[Vec<u8>], small: &[&[u8]]) -> Measured {
        match self {
            Engine::YaraX => {
                let t = Instant::now();
                let mut c = yara_x::Compiler::new();
                for (ns, src) in files {
                    c.new_namespace(ns);
                    c.add_source(src.as_str()).expect("checked before");
                }
                let rules = c.build();
                let compile = t.elapsed();
                let mut s = yara_x::Scanner::new(&rules);
                s.fast_scan(true);
                let mut scan = |d: &[u8]| s.scan(d).expect("scan").matching_rules().len();
                let (scan_all, matches) = best_of(|| data.iter().map(|d| scan(d)).sum());
                let (scan_small, _) = best_of(|| small.iter().map(|d| scan(d)).sum());
                Measured {
                    rules: rules.iter().count(),
                    compile,
                    scan_all,
                    scan_small,
                    matches,
                }
            }
            Engine::Boreal => {
                let t = Instant::now();
                let mut c = boreal::Compiler::new();
                for (ns, src) in files {
                    c.add_rules_str_in_namespace(src, ns)
                        .expect("checked before");
                }
                let scanner = c.finalize();
                let compile = t.elapsed();
                let scan = |d: &[u8]| match scanner.scan_mem(d) {
                    Ok(r) => r.rules.len(),
                    Err((e, _)) => panic!("boreal scan: {e:?}"),
                };
                let (scan_all, matches) = best_of(|| data.iter().map(|d| scan(d)).sum());
                let (scan_small, _) = best_of(|| small.iter().map(|d| scan(d)).sum());
                Measured {
                    // boreal does not count its rules without its profiling feature.
                    rules: 0,
                    compile,
                    scan_all,
                    scan_small,
                    matches,
                }
            }
        }
    }
}

fn best_of(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut out = 0;
    for _ in 0..2 {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
    }
    (best, out)
}

/// The files of a set that both engines compile, and the names of the others.
fn common_files(set: &RuleSet) -> (Vec<&(String, String)>, Vec<String>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for f in &set.files {
        let mut ok = true;
        for e in [Engine::YaraX, Engine::Boreal] {
            if let Err(msg) = e.compiles(&f.0, &f.1) {
                let first = msg.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                eprintln!("{}: {} refuses {}: {first}", set.name, e.name(), f.0);
                ok = false;
            }
        }
        if ok {
            kept.push(f);
        } else {
            dropped.push(f.0.clone());
        }
    }
    (kept, dropped)
}

fn read_rules(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("can not read `{}`: {e}", d.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() && p.extension().is_some_and(|e| e == "yar" || e == "yara") {
                let ns = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((
                    ns,
                    String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned(),
                ));
            }
        }
    }
    out
}

fn read_files(dir: &Path, out: &mut Vec<Vec<u8>>, budget: usize) {
    let mut stack = vec![dir.to_path_buf()];
    let mut total = 0usize;
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file()
                && let Ok(mut b) = std::fs::read(&p)
            {
                b.truncate(MAX_SCAN);
                total += b.len();
                out.push(b);
                if total >= budget {
                    return;
                }
            }
        }
    }
}

/// `n` rules shaped like the big public collections (mostly text strings, some `wide` and
/// `nocase`, hex strings with wildcards and jumps, a few regexps with a literal anchor;
/// conditions `any of them`, `N of them`, header checks with filesize bounds). Generated
/// from a fixed seed, so every run measures the same set. Not real detection content.
fn synthetic_rules(n: usize) -> String {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let word = |next: &mut dyn FnMut() -> u64, len: usize| -> String {
        const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.";
        (0..len)
            .map(|_| ALPHA[(next() % ALPHA.len() as u64) as usize] as char)
            .collect()
    };
    let mut out = String::new();
    for i in 0..n {
        let strings = 2 + (next() % 6) as usize;
        out.push_str(&format!(
            "rule synthetic_{i} {{\n  meta:\n    description = \"generated\"\n  strings:\n"
        ));
        for s in 0..strings {
            let kind = next() % 10;
            let len = 8 + (next() % 17) as usize;
            let line = match kind {
                0..=4 => format!("\"{}\"", word(&mut next, len)),
                5 => format!("\"{}\" ascii wide", word(&mut next, len)),
                6 => format!("\"{}\" nocase", word(&mut next, len)),
                7 | 8 => {
                    let mut h = String::from("{ ");
                    for b in 0..len.min(16) {
                        if b == 6 && next() % 2 == 0 {
                            h.push_str(&format!("[{}-{}] ", 1 + next() % 4, 5 + next() % 8));
                        } else if b > 3 && next() % 7 == 0 {
                            h.push_str("?? ");
                        } else {
                            h.push_str(&format!("{:02x} ", next() % 256));
                        }
                    }
                    h.push('}');
                    h
                }
                _ => format!(
                    "/{}[0-9a-f]{{8,32}}\\.(exe|dll|so)/",
                    word(&mut next, 6).replace('.', "\\.")
                ),
            };
            out.push_str(&format!("    $s{s} = {line}\n"));
        }
        let cond = match next() % 4 {
            0 => "any of them".to_string(),
            1 => format!("{} of them", 1 + next() % 2),
            2 => "uint32(0) == 0x464c457f and filesize < 2MB and any of them".to_string(),
            _ => "uint16(0) == 0x5a4d and 2 of them".to_string(),
        };
        out.push_str(&format!("  condition:\n    {cond}\n}}\n"));
    }
    out
}
