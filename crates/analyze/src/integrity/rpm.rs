//! rpm's SQLite database (`rpmdb.sqlite`, rpm 4.16 and later): table `Packages(hnum, blob)`,
//! each blob one package header in rpm's documented header format without the 8-byte
//! magic: index count and data length (big-endian u32), then that many 16-byte index
//! entries (tag, type, offset, count), then the data store.
//!
//! Berkeley DB (`Packages`) and ndb (`Packages.db`) databases have no pure-Rust reader we
//! can trust: their presence is reported as not verified, never as clean.

use std::io::Write as _;

use super::{Expected, OwnedFile, Package, PkgDb};

/// Where rpm keeps its SQLite database (the sysimage path on Fedora 36+ and openSUSE).
pub(super) const SQLITE: [&str; 2] = [
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
];

/// Databases in formats this check can not read.
pub(super) const UNREADABLE: [&str; 3] = [
    "var/lib/rpm/Packages",
    "var/lib/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages.db",
];

/// Whether `path` is an rpm database file the check reads (the SQLite file and its
/// write-ahead log, which may hold the newest pages).
pub(super) fn is_db_file(path: &str) -> bool {
    SQLITE
        .iter()
        .any(|p| path == *p || path.strip_prefix(p) == Some("-wal"))
}

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_FILEMODES: u32 = 1030;
const TAG_FILEDIGESTS: u32 = 1035;
const TAG_FILEFLAGS: u32 = 1037;
const TAG_DIRINDEXES: u32 = 1116;
const TAG_BASENAMES: u32 = 1117;
const TAG_DIRNAMES: u32 = 1118;
const TAG_FILEDIGESTALGO: u32 = 5011;

const TYPE_INT16: u32 = 3;
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// `%config` files may be edited by the administrator.
const RPMFILE_CONFIG: u32 = 1 << 0;
/// `%ghost` files are not in the package payload; their digest means nothing.
const RPMFILE_GHOST: u32 = 1 << 6;
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;

/// Reads the SQLite database `bytes` (and its write-ahead log) found at `path`.
pub(super) fn read(path: &str, bytes: &[u8], wal: Option<&[u8]>) -> PkgDb {
    let mut db = PkgDb::new("rpm");
    match blobs(bytes, wal) {
        Ok(blobs) => {
            for (hnum, blob) in blobs {
                match header(&blob) {
                    Ok(p) => db.packages.push(p.into_package(path)),
                    Err(e) => db
                        .problems
                        .push(format!("{path}: package header {hnum}: {e}")),
                }
            }
        }
        Err(e) => db.problems.push(format!("{path}: {e}")),
    }
    db
}

/// Every `(hnum, blob)` of the `Packages` table. SQLite opens files only, so the bytes go to
/// a private temporary directory first.
fn blobs(bytes: &[u8], wal: Option<&[u8]>) -> Result<Vec<(i64, Vec<u8>)>, String> {
    let dir =
        tempfile::tempdir().map_err(|e| format!("can not make a temporary directory: {e}"))?;
    let file = dir.path().join("rpmdb.sqlite");
    let write = |p: &std::path::Path, b: &[u8]| {
        std::fs::File::create(p)
            .and_then(|mut f| f.write_all(b))
            .map_err(|e| format!("can not copy the database to `{}`: {e}", p.display()))
    };
    write(&file, bytes)?;
    if let Some(w) = wal {
        write(&dir.path().join("rpmdb.sqlite-wal"), w)?;
    }
    let conn = rusqlite::Connection::open_with_flags(
        &file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("not an SQLite database: {e}"))?;
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(|e| format!("no readable `Packages` table: {e}"))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .map_err(|e| format!("can not read `Packages`: {e}"))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("can not read `Packages`: {e}"))
}

/// The parts of one header the check needs.
#[derive(Default)]
struct Header {
    name: String,
    version: String,
    release: String,
    basenames: Vec<String>,
    dirnames: Vec<String>,
    dirindexes: Vec<u32>,
    digests: Vec<String>,
    modes: Vec<u32>,
    flags: Vec<u32>,
    algo: Option<u32>,
}

impl Header {
    fn into_package(self, listed_in: &str) -> Package {
        let mut pkg = Package {
            name: self.name,
            version: format!("{}-{}", self.version, self.release),
            files: Vec::new(),
            owned: Vec::new(),
        };
        for (i, base) in self.basenames.iter().enumerate() {
            let dir = self
                .dirindexes
                .get(i)
                .and_then(|&d| self.dirnames.get(d as usize))
                .map_or("", String::as_str);
            let path = super::clean_path(&format!("{dir}{base}"));
            pkg.owned.push(path.clone());
            let mode = self.modes.get(i).copied().unwrap_or(0);
            let flags = self.flags.get(i).copied().unwrap_or(0);
            let digest = self.digests.get(i).map_or("", String::as_str);
            if mode & S_IFMT != S_IFREG || flags & RPMFILE_GHOST != 0 || digest.is_empty() {
                continue;
            }
            // No FILEDIGESTALGO means MD5 (rpm before 4.6).
            let expected = match self.algo.unwrap_or(1) {
                1 => decode::<16>(digest).map(Expected::Md5),
                2 => decode::<20>(digest).map(Expected::Sha1),
                8 => decode::<32>(digest).map(Expected::Sha256),
                _ => None,
            }
            .unwrap_or(Expected::None);
            pkg.files.push(OwnedFile {
                path,
                expected,
                config: flags & RPMFILE_CONFIG != 0,
                listed_in: listed_in.to_string(),
            });
        }
        pkg
    }
}

fn decode<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let mut d = [0u8; N];
    hex::decode_to_slice(hex, &mut d).ok().map(|_| d)
}

fn be32(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| format!("cut short at byte {at}"))
}

/// Parses one header blob, checking every offset against the data store.
fn header(blob: &[u8]) -> Result<Header, String> {
    let il = be32(blob, 0)? as usize;
    let dl = be32(blob, 4)? as usize;
    let index_end = il
        .checked_mul(16)
        .and_then(|n| n.checked_add(8))
        .filter(|&n| n <= blob.len())
        .ok_or_else(|| format!("{il} index entries do not fit in {} bytes", blob.len()))?;
    let data = blob
        .get(index_end..index_end.saturating_add(dl))
        .filter(|d| d.len() == dl)
        .ok_or_else(|| format!("data store of {dl} bytes does not fit"))?;
    let mut h = Header::default();
    for i in 0..il {
        let at = 8 + i * 16;
        let (tag, ty, off, count) = (
            be32(blob, at)?,
            be32(blob, at + 4)?,
            be32(blob, at + 8)? as usize,
            be32(blob, at + 12)? as usize,
        );
        let bad = || format!("tag {tag}: type {ty}, offset {off}, count {count} out of range");
        let strings = || -> Result<Vec<String>, String> {
            if !matches!(ty, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
                return Err(bad());
            }
            let mut out = Vec::with_capacity(count.min(1 << 16));
            let mut pos = off;
            for _ in 0..count {
                let rest = data.get(pos..).ok_or_else(bad)?;
                let end = memchr::memchr(0, rest).ok_or_else(bad)?;
                out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
                pos += end + 1;
            }
            Ok(out)
        };
        let ints = |size: usize| -> Result<Vec<u32>, String> {
            let bytes = data
                .get(
                    off..count
                        .checked_mul(size)
                        .and_then(|n| n.checked_add(off))
                        .ok_or_else(bad)?,
                )
                .ok_or_else(bad)?;
            Ok(bytes
                .chunks_exact(size)
                .map(|c| match size {
                    2 => u16::from_be_bytes([c[0], c[1]]) as u32,
                    _ => u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                })
                .collect())
        };
        let int_list = || match ty {
            TYPE_INT16 => ints(2),
            TYPE_INT32 => ints(4),
            _ => Err(bad()),
        };
        let first = |v: Vec<String>| v.into_iter().next().unwrap_or_default();
        match tag {
            TAG_NAME => h.name = first(strings()?),
            TAG_VERSION => h.version = first(strings()?),
            TAG_RELEASE => h.release = first(strings()?),
            TAG_BASENAMES => h.basenames = strings()?,
            TAG_DIRNAMES => h.dirnames = strings()?,
            TAG_FILEDIGESTS => h.digests = strings()?,
            TAG_DIRINDEXES => h.dirindexes = int_list()?,
            TAG_FILEMODES => h.modes = int_list()?,
            TAG_FILEFLAGS => h.flags = int_list()?,
            TAG_FILEDIGESTALGO => h.algo = int_list()?.first().copied(),
            _ => {}
        }
    }
    if h.name.is_empty() {
        return Err("no NAME tag".into());
    }
    if h.dirindexes.len() != h.basenames.len() {
        return Err(format!(
            "{} file names but {} directory indexes",
            h.basenames.len(),
            h.dirindexes.len()
        ));
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with NAME and one BASENAMES/DIRNAMES/DIRINDEXES file, written by hand.
    fn blob() -> Vec<u8> {
        let data: &[u8] = b"tool\0ps\0/usr/bin/\0\0\0\0\0\0\0";
        let entries: [(u32, u32, u32, u32); 4] = [
            (TAG_NAME, TYPE_STRING, 0, 1),
            (TAG_BASENAMES, TYPE_STRING_ARRAY, 5, 1),
            (TAG_DIRNAMES, TYPE_STRING_ARRAY, 8, 1),
            (TAG_DIRINDEXES, TYPE_INT32, 20, 1),
        ];
        let mut b = Vec::new();
        b.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        b.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (t, ty, off, n) in entries {
            for v in [t, ty, off, n] {
                b.extend_from_slice(&v.to_be_bytes());
            }
        }
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn reads_a_header_and_refuses_every_truncation() {
        let b = blob();
        let h = header(&b).unwrap();
        assert_eq!(h.name, "tool");
        let p = h.into_package("db");
        assert_eq!(p.owned, ["usr/bin/ps"]);
        for n in 0..b.len() {
            assert!(
                header(&b[..n]).is_err(),
                "a header cut at {n} bytes was accepted"
            );
        }
        // An index count that would overflow the size computation.
        let mut huge = b.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(header(&huge).is_err());
    }
}
