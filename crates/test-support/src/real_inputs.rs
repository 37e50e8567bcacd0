//! Real inputs that are fetched or built from Debian's packages, never committed: clean
//! Debian root filesystems for the false-positive tests, and binaries from
//! `tools/fetch-test-binaries.sh` (`target/test-binaries/`).
//!
//! `tools/make-clean-rootfs.sh target/fp` (CI runs it) builds `target/fp/minbase` and
//! `target/fp/services` from Debian's packages. `CUSTOMS_FP_ROOTFS` replaces that list
//! (several roots joined by `:`, relative ones taken from the workspace root). A missing root
//! fails the test with the command that builds it, unless `CUSTOMS_SKIP_FP=1` is set: a
//! false-positive test that silently checks nothing would pass on anything.

use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The clean roots to scan; every one exists and has `usr/bin`. Panics on a missing root
/// unless skipping is allowed, in which case it is left out with a `SKIPPED` line.
pub fn clean_roots() -> Vec<PathBuf> {
    let ws = workspace_root();
    let roots: Vec<PathBuf> = match std::env::var_os("CUSTOMS_FP_ROOTFS") {
        Some(v) => std::env::split_paths(&v).map(|p| ws.join(p)).collect(),
        None => ["minbase", "services"]
            .iter()
            .map(|n| ws.join("target/fp").join(n))
            .collect(),
    };
    let skip = std::env::var_os("CUSTOMS_SKIP_FP").is_some_and(|v| v == "1");
    roots
        .into_iter()
        .filter(|root| {
            if root.join("usr/bin").is_dir() {
                return true;
            }
            if skip {
                eprintln!("SKIPPED: no clean root filesystem at {} (CUSTOMS_SKIP_FP=1)", root.display());
                return false;
            }
            panic!(
                "no clean root filesystem at {}: run `tools/make-clean-rootfs.sh target/fp` (root, Debian mirror), point CUSTOMS_FP_ROOTFS at Debian roots, or set CUSTOMS_SKIP_FP=1",
                root.display()
            )
        })
        .collect()
}

/// A binary fetched by `tools/fetch-test-binaries.sh` (`xmrig`, `upx`), read whole. A missing
/// one fails the test with the command that fetches it, unless
/// `CUSTOMS_SKIP_NETWORK_FIXTURES=1` is set (then `None`, with a `SKIPPED` line).
pub fn fetched_binary(name: &str) -> Option<Vec<u8>> {
    let path = workspace_root().join("target/test-binaries").join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(_) if std::env::var_os("CUSTOMS_SKIP_NETWORK_FIXTURES").is_some_and(|v| v == "1") => {
            eprintln!(
                "SKIPPED: {} is missing and CUSTOMS_SKIP_NETWORK_FIXTURES=1",
                path.display()
            );
            None
        }
        Err(e) => panic!(
            "{}: {e}; run tools/fetch-test-binaries.sh (or set CUSTOMS_SKIP_NETWORK_FIXTURES=1 to skip)",
            path.display()
        ),
    }
}
