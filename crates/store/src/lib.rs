//! customs' embedded store. Today it holds the layer cache: analysis results keyed by a
//! digest the caller computes (layer digest, analyzer versions, content digest, limits), so
//! a base layer shared by many images is analyzed once.
//!
//! The cache is one SQLite file (by default `$XDG_CACHE_HOME/customs/cache.sqlite3`, else
//! `~/.cache/customs/cache.sqlite3`). It is opened in WAL mode with a busy timeout, so
//! several `customs scan` processes can read and write it at once without corrupting it;
//! every value is stored with its sha256 and checked on read, so a damaged entry is reported
//! as [`Lookup::Corrupt`] instead of being trusted. Entries unused for
//! [`LayerCache::MAX_IDLE_DAYS`] days are removed when the cache is opened.
//!
//! Why `rusqlite` (bundled SQLite) and not `sqlx`: the layer cache is local, synchronous
//! and embedded (a scan worker asks for one row and waits), which is all rusqlite does; it
//! needs no async runtime, compiles its own SQLite (no system library), and builds in about
//! a fifth of sqlx's time (8 s against 44 s in dev builds, notes/dependencies.md). DESIGN.md
//! allows it where only the embedded cache is needed. `sqlx` is for the store that must
//! also speak PostgreSQL (several `customs serve` replicas), a later component with its own
//! schema; nothing here would carry over to it but the idea of the key.
//!
//! ```
//! use customs_store::{LayerCache, Lookup};
//! let dir = tempfile::tempdir().unwrap();
//! let cache = LayerCache::open(&dir.path().join("cache.sqlite3")).unwrap();
//! let key = [7u8; 32];
//! assert!(matches!(cache.get(&key).unwrap(), Lookup::Miss));
//! cache.put(&key, b"result").unwrap();
//! assert!(matches!(cache.get(&key).unwrap(), Lookup::Hit(v) if v == b"result"));
//! ```
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest as _, Sha256};

/// The file name inside the cache directory.
pub const CACHE_FILE: &str = "cache.sqlite3";

/// Everything that can go wrong with the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The cache directory could not be created.
    #[error("can not create the cache directory `{path}`: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database could not be opened or set up (not a database, locked too long, no
    /// permission, disk full).
    #[error("can not open the cache `{path}`: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// A read or write failed.
    #[error("cache `{path}`: {source}")]
    Query {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
}

/// What the cache holds for a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The stored bytes, checked against their sha256.
    Hit(Vec<u8>),
    /// Nothing stored.
    Miss,
    /// Something is stored but it is damaged; the caller should recompute and `put` again.
    Corrupt(String),
}

/// The layer cache: a SQLite table of opaque values under 32-byte keys.
#[derive(Debug)]
pub struct LayerCache {
    // rusqlite connections are Send but not Sync; scan workers share this one.
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// How long a writer waits for another process's write to finish before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often opening sets the cache up again after an immediate SQLITE_BUSY (about 4 s in
/// all, with the growing sleeps).
const SETUP_RETRIES: u64 = 20;

/// SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock just now.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Seconds in a day.
const DAY: i64 = 86_400;

impl LayerCache {
    /// Entries not used for this many days are removed when the cache is opened.
    pub const MAX_IDLE_DAYS: i64 = 30;

    /// The default cache directory: `$XDG_CACHE_HOME/customs`, else `$HOME/.cache/customs`;
    /// `None` when neither variable is set to an absolute path.
    pub fn default_dir() -> Option<PathBuf> {
        let abs = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
        std::env::var_os("XDG_CACHE_HOME")
            .and_then(abs)
            .or_else(|| {
                std::env::var_os("HOME")
                    .and_then(abs)
                    .map(|h| h.join(".cache"))
            })
            .map(|d| d.join("customs"))
    }

    /// Opens (creating it and its directory if needed) the cache at `path`.
    pub fn open(path: &Path) -> Result<LayerCache, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: dir.into(),
                source,
            })?;
        }
        let open_err = |source| StoreError::Open {
            path: path.into(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // Several processes opening a new cache at once race on switching it to WAL and
        // creating the table; SQLite answers some of those lock conflicts with SQLITE_BUSY
        // at once, without waiting in the busy handler. Setting up again is harmless, so it
        // is retried for a bounded time.
        let mut tries = 0;
        loop {
            match Self::set_up(&conn) {
                Ok(()) => break,
                Err(e) if tries < SETUP_RETRIES && is_busy(&e) => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20 * tries));
                }
                Err(e) => return Err(open_err(e)),
            }
        }
        Ok(LayerCache {
            conn: Mutex::new(conn),
            path: path.into(),
        })
    }

    /// WAL mode, the table, and the removal of entries idle too long.
    fn set_up(conn: &Connection) -> rusqlite::Result<()> {
        // WAL lets readers go on while another process writes; NORMAL sync cannot corrupt
        // a WAL database, it can only lose the last entries on power loss, which for a
        // cache means recomputing them.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // The table name carries the format version: a customs with another format uses
        // another table and never misreads this one.
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS layer_cache_v1 (
                 key BLOB PRIMARY KEY NOT NULL,
                 value BLOB NOT NULL,
                 sha256 BLOB NOT NULL,
                 created INTEGER NOT NULL,
                 last_used INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS layer_cache_v1_last_used ON layer_cache_v1 (last_used);",
        )?;
        conn.execute(
            "DELETE FROM layer_cache_v1 WHERE last_used < ?1",
            params![now() - Self::MAX_IDLE_DAYS * DAY],
        )?;
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Looks `key` up. A value whose stored sha256 does not match is [`Lookup::Corrupt`].
    pub fn get(&self, key: &[u8; 32]) -> Result<Lookup, StoreError> {
        let conn = self.lock();
        let row = conn
            .prepare_cached("SELECT value, sha256, last_used FROM layer_cache_v1 WHERE key = ?1")
            .and_then(|mut s| {
                s.query_row(params![&key[..]], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()
            });
        let (value, sum, last_used) = match row {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(Lookup::Miss),
            // A value of the wrong type in a column: damage, not a failure of the store.
            Err(rusqlite::Error::FromSqlConversionFailure(..))
            | Err(rusqlite::Error::InvalidColumnType(..)) => {
                return Ok(Lookup::Corrupt(
                    "a cache row has the wrong column types".into(),
                ));
            }
            Err(source) => return Err(self.query_err(source)),
        };
        if Sha256::digest(&value).as_slice() != sum.as_slice() {
            return Ok(Lookup::Corrupt(format!(
                "a cached value of {} bytes does not match its checksum",
                value.len()
            )));
        }
        let now = now();
        // Touch at most once a day: a hit should not cost a write every time.
        if last_used < now - DAY {
            conn.execute(
                "UPDATE layer_cache_v1 SET last_used = ?2 WHERE key = ?1",
                params![&key[..], now],
            )
            .map_err(|e| self.query_err(e))?;
        }
        Ok(Lookup::Hit(value))
    }

    /// Stores `value` under `key`, replacing what was there.
    pub fn put(&self, key: &[u8; 32], value: &[u8]) -> Result<(), StoreError> {
        let now = now();
        self.lock()
            .prepare_cached(
                "INSERT OR REPLACE INTO layer_cache_v1 (key, value, sha256, created, last_used)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    &key[..],
                    value,
                    Sha256::digest(value).as_slice(),
                    now
                ])
            })
            .map(|_| ())
            .map_err(|e| self.query_err(e))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock can not leave SQLite half-written: every
        // statement is atomic, so the connection is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn query_err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Query {
            path: self.path.clone(),
            source,
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
