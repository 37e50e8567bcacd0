//! dpkg's database: `var/lib/dpkg/status` (RFC 822-style stanzas), `info/PKG[:ARCH].md5sums`
//! (`MD5  path`, paths relative to `/`), `info/PKG[:ARCH].list` (every path the package
//! installed, directories included), `diversions` (three lines per diversion: the path, where
//! it was moved to, the diverting package), and the distroless layout where each package is
//! one stanza file in `var/lib/dpkg/status.d/` with a sibling `NAME.md5sums`.

use std::collections::BTreeMap;

use super::{Expected, OwnedFile, Package, PkgDb, clean_path};
use crate::escaped;

/// The database files as the merged filesystem has them: path -> bytes.
pub(super) type Files<'a> = BTreeMap<&'a str, &'a [u8]>;

const ROOT: &str = "var/lib/dpkg/";

/// Whether `path` is a dpkg database file the check reads.
pub(super) fn is_db_file(path: &str) -> bool {
    let Some(rest) = path.strip_prefix(ROOT) else {
        return false;
    };
    rest == "status"
        || rest == "diversions"
        || rest
            .strip_prefix("info/")
            .is_some_and(|n| !n.contains('/') && (n.ends_with(".md5sums") || n.ends_with(".list")))
        || rest
            .strip_prefix("status.d/")
            .is_some_and(|n| !n.is_empty() && !n.contains('/'))
}

/// One stanza's fields (continuation lines joined with `\n`).
fn stanzas(text: &str) -> Result<Vec<BTreeMap<String, String>>, String> {
    let mut out = Vec::new();
    let mut cur: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            last = None;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let Some(k) = &last else {
                return Err(format!("line {}: continuation line outside a field", n + 1));
            };
            let v = cur.get_mut(k).expect("the field was just inserted");
            v.push('\n');
            v.push_str(line.trim());
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(format!(
                "line {}: `{}` is not a field",
                n + 1,
                escaped(line, 60)
            ));
        };
        cur.insert(k.to_string(), v.trim().to_string());
        last = Some(k.to_string());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// Parses `MD5  path` lines.
fn md5sums(name: &str, text: &str) -> Result<Vec<(String, [u8; 16])>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let parsed = line.split_once(' ').and_then(|(hex, path)| {
            let mut d = [0u8; 16];
            hex::decode_to_slice(hex, &mut d).ok()?;
            let path = path.trim_start_matches(' ');
            (!path.is_empty()).then(|| (clean_path(path), d))
        });
        match parsed {
            Some(p) => out.push(p),
            None => {
                return Err(format!(
                    "{name} line {}: `{}` is not `MD5  path`",
                    n + 1,
                    escaped(line, 60)
                ));
            }
        }
    }
    Ok(out)
}

/// Reads the database from the merged files. `None` when the image has no dpkg database.
pub(super) fn read(files: &Files<'_>) -> Option<PkgDb> {
    let status = files.get("var/lib/dpkg/status");
    let status_d: Vec<(&str, &[u8])> = files
        .range("var/lib/dpkg/status.d/"..)
        .take_while(|(p, _)| p.starts_with("var/lib/dpkg/status.d/"))
        .map(|(p, b)| (*p, *b))
        .collect();
    if status.is_none() && status_d.is_empty() {
        return None;
    }
    let mut db = PkgDb::new("dpkg");
    // (stanza, the file it came from, where its md5sums live)
    let mut entries: Vec<(BTreeMap<String, String>, String, Vec<String>)> = Vec::new();
    if let Some(bytes) = status {
        let path = "var/lib/dpkg/status";
        match parse_text(path, bytes) {
            Ok(list) => {
                for s in list {
                    let name = s.get("Package").cloned().unwrap_or_default();
                    let arch = s.get("Architecture").cloned().unwrap_or_default();
                    let info = |ext: &str| {
                        vec![
                            format!("{ROOT}info/{name}:{arch}.{ext}"),
                            format!("{ROOT}info/{name}.{ext}"),
                        ]
                    };
                    entries.push((s, path.to_string(), info("md5sums")));
                }
            }
            Err(e) => db.problems.push(e),
        }
    }
    for (path, bytes) in &status_d {
        if path.ends_with(".md5sums") {
            continue;
        }
        match parse_text(path, bytes) {
            Ok(list) => {
                for s in list {
                    entries.push((s, path.to_string(), vec![format!("{path}.md5sums")]));
                }
            }
            Err(e) => db.problems.push(e),
        }
    }
    let diversions = files
        .get("var/lib/dpkg/diversions")
        .map(|b| diversions(&String::from_utf8_lossy(b)))
        .unwrap_or_default();
    for (s, from, sums) in entries {
        let Some(name) = s.get("Package").filter(|n| !n.is_empty()) else {
            db.problems
                .push(format!("{from}: a stanza has no `Package` field"));
            continue;
        };
        // Packages removed but not purged keep a stanza and own no files but conffiles;
        // distroless stanzas may carry no Status at all.
        let status = s
            .get("Status")
            .map(String::as_str)
            .unwrap_or("install ok installed");
        if !status.ends_with(" installed") && !status.ends_with(" unpacked") {
            continue;
        }
        let version = s.get("Version").cloned().unwrap_or_default();
        let mut pkg = Package {
            name: name.clone(),
            version,
            files: Vec::new(),
            owned: Vec::new(),
        };
        let mut conffiles: BTreeMap<String, [u8; 16]> = BTreeMap::new();
        for line in s.get("Conffiles").map(String::as_str).unwrap_or("").lines() {
            let mut it = line.split_whitespace();
            if let (Some(p), Some(h)) = (it.next(), it.next()) {
                let mut d = [0u8; 16];
                if hex::decode_to_slice(h, &mut d).is_ok() {
                    conffiles.insert(clean_path(p), d);
                }
            }
        }
        let sums = sums
            .iter()
            .find_map(|p| files.get(p.as_str()).map(|b| (p, *b)));
        if let Some((sums_path, bytes)) = sums {
            match md5sums(sums_path, &String::from_utf8_lossy(bytes)) {
                Ok(list) => {
                    for (path, d) in list {
                        pkg.files.push(OwnedFile {
                            path: divert(&diversions, &path, name),
                            expected: Expected::Md5(d),
                            config: conffiles.contains_key(&path),
                            listed_in: sums_path.clone(),
                        });
                    }
                }
                Err(e) => db.problems.push(e),
            }
        }
        for (path, d) in &conffiles {
            pkg.files.push(OwnedFile {
                path: divert(&diversions, path, name),
                expected: Expected::Md5(*d),
                config: true,
                listed_in: from.clone(),
            });
        }
        let arch = s.get("Architecture").cloned().unwrap_or_default();
        for list in [
            format!("{ROOT}info/{name}:{arch}.list"),
            format!("{ROOT}info/{name}.list"),
        ] {
            if let Some(b) = files.get(list.as_str()) {
                for line in String::from_utf8_lossy(b).lines() {
                    if !line.is_empty() {
                        pkg.owned.push(divert(&diversions, &clean_path(line), name));
                    }
                }
                break;
            }
        }
        pkg.owned.extend(pkg.files.iter().map(|f| f.path.clone()));
        db.packages.push(pkg);
    }
    // Whoever diverted a path owns the diverted copy's new name too.
    for (_, to, _) in &diversions {
        db.extra_owned.push(to.clone());
    }
    Some(db)
}

/// A status file must be text that ends with a newline (dpkg always writes one): one that
/// does not was cut short.
fn parse_text(path: &str, bytes: &[u8]) -> Result<Vec<BTreeMap<String, String>>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("{path}: not UTF-8 text ({e})"))?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(format!("{path}: does not end with a newline (truncated?)"));
    }
    stanzas(text).map_err(|e| format!("{path}: {e}"))
}

/// `(from, to, package)` triples; a package's own diversion does not apply to itself.
fn diversions(text: &str) -> Vec<(String, String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks_exact(3)
        .map(|c| (clean_path(c[0]), clean_path(c[1]), c[2].to_string()))
        .collect()
}

/// Where the file a package lists at `path` really is, after diversions by other packages.
fn divert(diversions: &[(String, String, String)], path: &str, package: &str) -> String {
    diversions
        .iter()
        .find(|(from, _, by)| from == path && by != package)
        .map_or_else(|| path.to_string(), |(_, to, _)| to.clone())
}
