//! apk's database, `lib/apk/db/installed` (`usr/lib/apk/db/installed` with apk-tools 3):
//! blank-line separated packages of one-letter fields; `P:` name, `V:` version, `F:` a
//! folder, `R:` a file in the last folder, `Z:` the file's checksum, `Q1` + base64 of its
//! SHA-1 (for a symlink, of the link target).

use base64::Engine as _;

use super::{Expected, OwnedFile, Package, PkgDb, clean_path};

/// Where apk keeps its database.
pub(super) const PATHS: [&str; 2] = ["lib/apk/db/installed", "usr/lib/apk/db/installed"];

/// Whether `path` is an apk database file the check reads.
pub(super) fn is_db_file(path: &str) -> bool {
    PATHS.contains(&path)
}

/// Parses one `installed` file.
pub(super) fn read(path: &str, bytes: &[u8]) -> PkgDb {
    let mut db = PkgDb::new("apk");
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            db.problems.push(format!("{path}: not UTF-8 text ({e})"));
            return db;
        }
    };
    if !text.is_empty() && !text.ends_with('\n') {
        db.problems
            .push(format!("{path}: does not end with a newline (truncated?)"));
    }
    let mut pkg: Option<Package> = None;
    let mut folder = String::new();
    let finish = |pkg: &mut Option<Package>, db: &mut PkgDb| {
        if let Some(p) = pkg.take() {
            db.packages.push(p);
        }
    };
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            finish(&mut pkg, &mut db);
            folder.clear();
            continue;
        }
        let Some((key, value)) = line.split_once(':').filter(|(k, _)| k.len() == 1) else {
            db.problems.push(format!(
                "{path} line {}: `{}` is not a `K:value` field",
                n + 1,
                line.chars().take(60).collect::<String>()
            ));
            // One bad line makes every later entry doubtful: stop here, loudly.
            break;
        };
        let p = pkg.get_or_insert_with(|| Package {
            name: String::new(),
            version: String::new(),
            files: Vec::new(),
            owned: Vec::new(),
        });
        match key {
            "P" => p.name = value.to_string(),
            "V" => p.version = value.to_string(),
            "F" => {
                folder = clean_path(value);
                p.owned.push(folder.clone());
            }
            "R" => {
                let file = if folder.is_empty() {
                    clean_path(value)
                } else {
                    format!("{folder}/{}", clean_path(value))
                };
                p.owned.push(file.clone());
                p.files.push(OwnedFile {
                    path: file,
                    expected: Expected::None,
                    config: false,
                    listed_in: path.to_string(),
                });
            }
            "Z" => {
                let Some(last) = p.files.last_mut() else {
                    continue;
                };
                match value
                    .strip_prefix("Q1")
                    .map(|b| base64::engine::general_purpose::STANDARD.decode(b))
                {
                    Some(Ok(d)) if d.len() == 20 => {
                        let mut sha1 = [0u8; 20];
                        sha1.copy_from_slice(&d);
                        last.expected = Expected::Sha1(sha1);
                    }
                    // `Q2` (SHA-256) is documented but not written by apk-tools 2: leave
                    // it unverified rather than guess.
                    Some(_) | None if !value.starts_with("Q1") => {}
                    _ => db.problems.push(format!(
                        "{path} line {}: bad checksum `{}`",
                        n + 1,
                        value.chars().take(60).collect::<String>()
                    )),
                }
            }
            _ => {}
        }
    }
    finish(&mut pkg, &mut db);
    for p in &db.packages {
        if p.name.is_empty() {
            db.problems
                .push(format!("{path}: a package entry has no `P:` name"));
            break;
        }
    }
    db
}
