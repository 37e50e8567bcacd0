//! The layer cache on a real SQLite file in a temporary directory: round trips, damage
//! detection, pruning, files that are not databases, and several processes writing at once.

use std::path::Path;
use std::process::{Command, Stdio};

use customs_store::{LayerCache, Lookup};
use rusqlite::Connection;

fn key(n: u32) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..4].copy_from_slice(&n.to_le_bytes());
    k
}

fn value(n: u32) -> Vec<u8> {
    format!("value {n} ")
        .repeat(1 + n as usize % 50)
        .into_bytes()
}

#[test]
fn stores_replaces_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    // The directory is created when missing.
    let path = dir.path().join("nested/customs/cache.sqlite3");
    let cache = LayerCache::open(&path).unwrap();
    assert_eq!(cache.get(&key(1)).unwrap(), Lookup::Miss);
    cache.put(&key(1), b"one").unwrap();
    cache.put(&key(2), b"").unwrap();
    assert_eq!(cache.get(&key(1)).unwrap(), Lookup::Hit(b"one".to_vec()));
    assert_eq!(cache.get(&key(2)).unwrap(), Lookup::Hit(vec![]));
    cache.put(&key(1), b"uno").unwrap();
    drop(cache);
    let again = LayerCache::open(&path).unwrap();
    assert_eq!(again.get(&key(1)).unwrap(), Lookup::Hit(b"uno".to_vec()));
    assert_eq!(again.get(&key(3)).unwrap(), Lookup::Miss);
    let mode: String = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn damaged_values_are_reported_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let cache = LayerCache::open(&path).unwrap();
    cache.put(&key(1), b"the real result").unwrap();
    cache.put(&key(2), b"another").unwrap();
    // Another writer (a bit flip, a bug, a hand edit) changes a value but not its checksum.
    let other = Connection::open(&path).unwrap();
    let n = other
        .execute(
            "UPDATE layer_cache_v1 SET value = X'00' WHERE key = ?1",
            [&key(1)[..]],
        )
        .unwrap();
    assert_eq!(n, 1);
    other
        .execute(
            "UPDATE layer_cache_v1 SET sha256 = 'text' WHERE key = ?1",
            [&key(2)[..]],
        )
        .unwrap();
    assert!(matches!(cache.get(&key(1)).unwrap(), Lookup::Corrupt(_)));
    assert!(matches!(cache.get(&key(2)).unwrap(), Lookup::Corrupt(_)));
    // Storing the recomputed result heals the entry.
    cache.put(&key(1), b"the real result").unwrap();
    assert_eq!(
        cache.get(&key(1)).unwrap(),
        Lookup::Hit(b"the real result".to_vec())
    );
}

#[test]
fn unused_entries_are_pruned_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let cache = LayerCache::open(&path).unwrap();
    cache.put(&key(1), b"old").unwrap();
    cache.put(&key(2), b"recent").unwrap();
    let now: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT last_used FROM layer_cache_v1 WHERE key = ?1",
            [&key(2)[..]],
            |r| r.get(0),
        )
        .unwrap();
    let long_ago = now - (LayerCache::MAX_IDLE_DAYS + 1) * 86_400;
    let recently = now - (LayerCache::MAX_IDLE_DAYS - 1) * 86_400;
    let other = Connection::open(&path).unwrap();
    other
        .execute(
            "UPDATE layer_cache_v1 SET last_used = ?2 WHERE key = ?1",
            rusqlite::params![&key(1)[..], long_ago],
        )
        .unwrap();
    other
        .execute(
            "UPDATE layer_cache_v1 SET last_used = ?2 WHERE key = ?1",
            rusqlite::params![&key(2)[..], recently],
        )
        .unwrap();
    drop(cache);
    let cache = LayerCache::open(&path).unwrap();
    assert_eq!(cache.get(&key(1)).unwrap(), Lookup::Miss);
    // A hit on an entry not touched for a day refreshes it.
    assert_eq!(cache.get(&key(2)).unwrap(), Lookup::Hit(b"recent".to_vec()));
    let touched: i64 = other
        .query_row(
            "SELECT last_used FROM layer_cache_v1 WHERE key = ?1",
            [&key(2)[..]],
            |r| r.get(0),
        )
        .unwrap();
    assert!(touched >= now, "{touched} < {now}");
}

#[test]
fn a_file_that_is_not_a_database_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = LayerCache::open(&path).unwrap_err().to_string();
    assert!(err.contains("can not open the cache"), "{err}");
    assert!(err.contains("cache.sqlite3"), "{err}");
    // A directory where the file should be.
    let blocked = dir.path().join("dir.sqlite3");
    std::fs::create_dir(&blocked).unwrap();
    assert!(LayerCache::open(&blocked).is_err());
}

/// Run by [`several_processes_write_at_once`] in child processes: writes keys
/// `id*1000 .. id*1000+ENTRIES` and reads back everything the others wrote so far.
const CHILD_ENV: &str = "CUSTOMS_STORE_TEST_CHILD";
const ENTRIES: u32 = 150;

#[test]
fn child_writer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return; // only meaningful inside a child process
    };
    let (path, id) = spec.rsplit_once('|').unwrap();
    let id: u32 = id.parse().unwrap();
    let cache = LayerCache::open(Path::new(path)).unwrap();
    for i in 0..ENTRIES {
        let n = id * 1000 + i;
        cache.put(&key(n), &value(n)).unwrap();
        // Read something another process may be writing right now.
        let other = ((id + 1) % 4) * 1000 + i;
        match cache.get(&key(other)).unwrap() {
            Lookup::Hit(v) => assert_eq!(v, value(other)),
            Lookup::Miss => {}
            Lookup::Corrupt(why) => panic!("entry {other} is damaged: {why}"),
        }
    }
}

#[test]
fn several_processes_write_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4u32)
        .map(|id| {
            Command::new(&exe)
                .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, format!("{}|{id}", path.display()))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a writer process failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cache = LayerCache::open(&path).unwrap();
    for id in 0..4u32 {
        for i in 0..ENTRIES {
            let n = id * 1000 + i;
            assert_eq!(
                cache.get(&key(n)).unwrap(),
                Lookup::Hit(value(n)),
                "entry {n}"
            );
        }
    }
    let check: String = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
