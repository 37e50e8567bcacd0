//! Runs the analyzers over every layer of one image, layers in parallel, taking a layer's
//! result from the layer cache when one is given and it holds that layer.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use customs_core::{Coverage, Finding, ImageConfigSummary, Skipped};
use customs_image::walk::{
    Anomaly, DigestChoice, EntryKind, FileContent, FileEntry, LayerRecord, LayerWalk, Limits,
    NoProgress, Progress, Visitor, deleted_in, walk_layer,
};
use customs_image::{Image, ImageError, Layer, LayerContent};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::integrity::{self, LayerFacts};
use crate::{Analyzers, ImageAnalysis, ImageView, anomaly_finding, archive};

/// How to scan.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Work bounds per layer.
    pub limits: Limits,
    /// Layers walked at once.
    pub jobs: usize,
    /// Where layer results are kept between scans; `None` analyzes every layer.
    pub cache: Option<Arc<dyn LayerCache>>,
}

/// Keeps layer results between scans. Implementations must never fail a scan: a cache that
/// can not answer answers `None`, one that can not store drops the value.
pub trait LayerCache: Send + Sync + fmt::Debug {
    /// The bytes stored under `key`, if any.
    fn get(&self, key: &[u8; 32]) -> Option<Vec<u8>>;
    /// Stores `value` under `key`, replacing what was there.
    fn put(&self, key: &[u8; 32], value: &[u8]);
    /// What `get` returned for `key` does not decode as a layer result (`why`); the layer
    /// is analyzed again and the entry replaced.
    fn corrupt(&self, key: &[u8; 32], why: &str);
}

/// What the cache did for one layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// The result came from the cache; the layer was not read.
    Hit,
    /// The layer was analyzed (and its result stored when the walk was complete).
    Miss,
    /// The layer can not be cached: a directory, or no digest vouches for its bytes.
    Uncacheable,
}

/// Bumped whenever [`CachedLayer`] or the key derivation changes.
const CACHE_FORMAT: &str = "customs-layer-cache/2";

/// One layer's analysis result as the cache keeps it: findings before layer attribution,
/// and the layer's record so `deleted_in` can be computed for any image that shares it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CachedLayer {
    findings: Vec<Finding>,
    partial: Vec<Skipped>,
    files: u64,
    bytes: u64,
    record: LayerRecord,
    integrity: LayerFacts,
}

/// [`CachedLayer`] by reference, for writing without copying.
#[derive(Serialize)]
struct CachedLayerRef<'a> {
    findings: &'a [Finding],
    partial: &'a [Skipped],
    files: u64,
    bytes: u64,
    record: &'a LayerRecord,
    integrity: &'a LayerFacts,
}

/// The cache key of a layer: sha256 over the digest that vouches for its bytes, every
/// analyzer's id, version and declared wants, the content bundle, and the limits (which
/// include whether files are hashed). `None` for layers that are not cacheable: a `dir:`
/// layer has no digest, and a blob without a digest has nothing that names its content.
fn cache_key(layer: &Layer, analyzers: &Analyzers, limits: &Limits) -> Option<[u8; 32]> {
    if !matches!(layer.content, LayerContent::Blob(_)) {
        return None;
    }
    // The blob digest is verified while reading when there is one; else the diff id is.
    let digest = layer.blob_digest.as_ref().or(layer.diff_id.as_ref())?;
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &str| {
        // Length-prefixed, so no two different field lists hash the same byte stream.
        for part in [name, value] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
    };
    field("format", CACHE_FORMAT);
    field("customs-analyze", env!("CARGO_PKG_VERSION"));
    field("layer", &digest.to_string());
    for v in analyzers.versions() {
        field("analyzer", &v);
    }
    for c in &analyzers.file {
        field(
            "wants",
            &format!("{}: {:?}", c.analyzer.id(), c.analyzer.wants()),
        );
    }
    let content = analyzers.content_info();
    field(
        "content",
        &format!("{} {}", content.version, content.digest),
    );
    field("limits", &format!("{limits:?}"));
    Some(h.finalize().into())
}

/// Layers read at once by default, at most. Each layer already uses three threads
/// (decompress, hash, analyze) and holds up to ~50 MB (content in flight, the largest
/// file's leading 32 MiB, a YARA scanner), so more jobs buy little and cost memory.
const MAX_DEFAULT_JOBS: usize = 4;

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            limits: Limits::default(),
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_DEFAULT_JOBS)),
            cache: None,
        }
    }
}

/// Everything a scan of one image found.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    /// Findings, worst first, each attributed to its layer.
    pub findings: Vec<Finding>,
    /// What was read and what was not.
    pub coverage: Coverage,
    /// Errors that make the scan unusable as a verdict (unreadable or tampered layers).
    pub errors: Vec<String>,
    /// The config summary from the config analyzer.
    pub config: Option<ImageConfigSummary>,
    /// Wall time.
    pub duration_ms: u64,
    /// What the layer cache did for each layer, in layer order; empty without a cache.
    pub cache: Vec<CacheUse>,
}

/// Collects one layer's findings.
struct LayerVisitor<'a> {
    analyzers: &'a Analyzers,
    findings: Vec<Finding>,
    partial: Vec<Skipped>,
    /// What the package integrity check needs of this layer.
    facts: LayerFacts,
}

impl Visitor for LayerVisitor<'_> {
    fn content_cap(&mut self, entry: &FileEntry) -> usize {
        // Any file may be an archive to expand (told by its bytes, not its name).
        self.analyzers
            .wanting(entry)
            .map(|c| c.bytes)
            .max()
            .unwrap_or(0)
            .max(archive::BOUNDS.member_bytes)
            .max(LayerFacts::content_cap(entry))
    }

    fn extra_digests(&self) -> DigestChoice {
        LayerFacts::extra_digests
    }

    fn file(&mut self, entry: &FileEntry, content: FileContent<'_>) {
        self.facts.file(entry, &content);
        self.analyze(entry, &content);
        archive::expand(entry, &content, self);
    }

    fn other(&mut self, entry: &FileEntry) {
        self.facts.other(entry);
    }

    fn anomaly(&mut self, entry: &FileEntry, anomaly: Anomaly) {
        self.findings.push(anomaly_finding(entry, &anomaly));
    }
}

impl LayerVisitor<'_> {
    /// Runs the file analyzers on one file of the layer, or one member of an archive in it.
    fn analyze(&mut self, entry: &FileEntry, content: &FileContent<'_>) {
        let mut partial_by: Vec<&str> = Vec::new();
        let mut cap = 0;
        for c in self.analyzers.wanting(entry) {
            if c.whole && entry.size > c.bytes as u64 {
                partial_by.push(c.analyzer.id());
                cap = cap.max(c.bytes);
            }
            let view = FileContent {
                data: &content.data[..content.data.len().min(c.bytes)],
                complete: content.complete && content.data.len() <= c.bytes,
                sha256: content.sha256.clone(),
                md5: content.md5,
                sha1: content.sha1,
            };
            c.analyzer.analyze(entry, &view, &mut self.findings);
        }
        if !partial_by.is_empty() {
            self.partial.push(Skipped {
                path: entry.path.clone(),
                reason: format!(
                    "{} bytes; {} read the first {} only",
                    entry.size,
                    partial_by.join(", "),
                    cap
                ),
                layer: None,
            });
        }
    }
}

impl archive::Members for LayerVisitor<'_> {
    fn file(&mut self, entry: &FileEntry, content: &FileContent<'_>) {
        self.analyze(entry, content);
    }
    fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
    fn partial(&mut self, path: &str, reason: String) {
        self.partial.push(Skipped {
            path: path.to_string(),
            reason,
            layer: None,
        });
    }
}

struct LayerResult {
    walk: Result<LayerWalk, ImageError>,
    findings: Vec<Finding>,
    partial: Vec<Skipped>,
    facts: LayerFacts,
    cache: Option<CacheUse>,
    /// Where the layer cache keeps it, if it is cacheable and a cache is in use.
    key: Option<[u8; 32]>,
}

impl LayerResult {
    fn from_cache(c: CachedLayer, key: [u8; 32]) -> LayerResult {
        LayerResult {
            walk: Ok(LayerWalk {
                record: c.record,
                files: c.files,
                bytes: c.bytes,
                ..LayerWalk::default()
            }),
            findings: c.findings,
            partial: c.partial,
            facts: c.integrity,
            cache: Some(CacheUse::Hit),
            key: Some(key),
        }
    }
}

/// The cached result for `key`, if the cache has one that decodes.
fn cached(cache: &dyn LayerCache, key: &[u8; 32]) -> Option<CachedLayer> {
    let bytes = cache.get(key)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| cache.corrupt(key, &e.to_string()))
        .ok()
}

/// Stores a complete walk's result; an incomplete one (a limit cut it short) or a failed
/// one is never cached, so the next scan reads the layer again.
fn store(cache: &dyn LayerCache, key: &[u8; 32], r: &LayerResult) {
    let Ok(w) = &r.walk else { return };
    if !w.skipped.is_empty() {
        return;
    }
    let value = CachedLayerRef {
        findings: &r.findings,
        partial: &r.partial,
        files: w.files,
        bytes: w.bytes,
        record: &w.record,
        integrity: &r.facts,
    };
    match serde_json::to_vec(&value) {
        Ok(bytes) => cache.put(key, &bytes),
        Err(e) => cache.corrupt(key, &e.to_string()),
    }
}

/// The package integrity check over the layers as read (it is cross-layer: it needs every
/// layer's facts and the merged view).
fn check_integrity(results: &[LayerResult]) -> integrity::Outcome {
    let facts: Vec<&LayerFacts> = results.iter().map(|r| &r.facts).collect();
    let records: Vec<Option<&LayerRecord>> = results
        .iter()
        .map(|r| r.walk.as_ref().ok().map(|w| &w.record))
        .collect();
    integrity::check(&facts, &records)
}

/// Reads again, for SHA-1 alone, `layers`: those that wrote a file a package database
/// names by SHA-1 (see [`LayerFacts::extra_digests`]), and updates their cache entries.
/// Returns what failed: a layer that could not be read again leaves the files it holds
/// unverified, and the error makes the scan's exit code say so.
fn add_sha1(
    image: &Image,
    results: &mut [LayerResult],
    layers: &std::collections::BTreeSet<usize>,
    opts: &ScanOptions,
) -> Vec<String> {
    let limits = Limits {
        hash_files: false,
        ..opts.limits.clone()
    };
    let mut errors = Vec::new();
    for &i in layers {
        let r = &mut results[i];
        // A layer read already (its too-large files have no SHA-1 either way) is not read
        // twice.
        if r.walk.is_err() || !r.facts.lacks_sha1() {
            continue;
        }
        let mut pass = Sha1Pass::default();
        match walk_layer(image, i, &limits, &NoProgress, &mut pass) {
            Ok(_) => {
                r.facts.set_sha1(&pass.sha1);
                if let (Some(c), Some(k)) = (opts.cache.as_deref(), &r.key) {
                    store(c, k, r);
                }
            }
            Err(e) => errors.push(format!(
                "layer {}: reading it again for the SHA-1 digests a package database names \
                 its files by: {e}",
                image.layers[i].id
            )),
        }
    }
    errors
}

/// The second read of a layer: SHA-1 of each package file, by path; a hard link gets its
/// target's.
#[derive(Default)]
struct Sha1Pass {
    sha1: HashMap<String, [u8; 20]>,
}

impl Visitor for Sha1Pass {
    fn content_cap(&mut self, _entry: &FileEntry) -> usize {
        0
    }

    fn extra_digests(&self) -> DigestChoice {
        LayerFacts::sha1_only
    }

    fn file(&mut self, entry: &FileEntry, content: FileContent<'_>) {
        if let Some(d) = content.sha1 {
            self.sha1.insert(entry.path.clone(), d);
        }
    }

    fn other(&mut self, entry: &FileEntry) {
        if entry.kind == EntryKind::Hardlink
            && let Some(d) = entry.link.as_ref().and_then(|t| self.sha1.get(t)).copied()
        {
            self.sha1.insert(entry.path.clone(), d);
        }
    }

    fn anomaly(&mut self, _entry: &FileEntry, _anomaly: Anomaly) {}
}

/// Scans one image: every layer, every file, deleted ones included.
pub fn scan_image(
    image: &Image,
    analyzers: &Analyzers,
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> ScanOutcome {
    let started = Instant::now();
    let n = image.layers.len();
    let results: Mutex<Vec<Option<LayerResult>>> = Mutex::new((0..n).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let workers = opts.jobs.clamp(1, n.max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let cache = opts.cache.as_deref();
                    let key =
                        cache.and_then(|_| cache_key(&image.layers[i], analyzers, &opts.limits));
                    if let (Some(c), Some(k)) = (cache, &key)
                        && let Some(hit) = cached(c, k)
                    {
                        // The bar counts blob bytes; a layer not read still counts as done.
                        progress.blob_bytes(image.layers[i].size.unwrap_or(0));
                        results.lock().expect("no worker panics while holding it")[i] =
                            Some(LayerResult::from_cache(hit, *k));
                        continue;
                    }
                    let mut v = LayerVisitor {
                        analyzers,
                        findings: Vec::new(),
                        partial: Vec::new(),
                        facts: LayerFacts::default(),
                    };
                    let walk = walk_layer(image, i, &opts.limits, progress, &mut v);
                    let r = LayerResult {
                        walk,
                        findings: v.findings,
                        partial: v.partial,
                        facts: v.facts,
                        cache: cache.map(|_| match key {
                            Some(_) => CacheUse::Miss,
                            None => CacheUse::Uncacheable,
                        }),
                        key: cache.and(key),
                    };
                    if let (Some(c), Some(k)) = (cache, &key) {
                        store(c, k, &r);
                    }
                    results.lock().expect("no worker panics while holding it")[i] = Some(r);
                }
            });
        }
    });
    let mut results: Vec<LayerResult> = results
        .into_inner()
        .expect("workers are done")
        .into_iter()
        .map(|r| r.expect("every layer index was taken by a worker"))
        .collect();

    let mut out = ScanOutcome::default();
    let mut checked = check_integrity(&results);
    if !checked.lacks_sha1.is_empty() {
        out.errors
            .extend(add_sha1(image, &mut results, &checked.lacks_sha1, opts));
        checked = check_integrity(&results);
    }
    let mut records: Vec<LayerRecord> = Vec::with_capacity(n);
    let mut per_layer: Vec<Vec<Finding>> = Vec::with_capacity(n);
    for (i, r) in results.into_iter().enumerate() {
        let layer = &image.layers[i];
        out.cache.extend(r.cache);
        match r.walk {
            Ok(w) => {
                out.coverage.files += w.files;
                out.coverage.bytes += w.bytes;
                out.coverage
                    .skipped
                    .extend(w.skipped.into_iter().map(|s| Skipped {
                        layer: Some(layer.id.clone()),
                        ..s
                    }));
                records.push(w.record);
            }
            Err(e) => {
                out.errors.push(e.to_string());
                records.push(LayerRecord::default());
            }
        }
        out.coverage
            .partial
            .extend(r.partial.into_iter().map(|s| Skipped {
                layer: Some(layer.id.clone()),
                ..s
            }));
        per_layer.push(r.findings);
    }
    out.coverage.verified_by_package_db = checked.verified;
    for (i, f) in checked.findings {
        per_layer[i].push(f);
    }
    out.coverage
        .skipped
        .extend(checked.skipped.into_iter().map(|(i, s)| Skipped {
            layer: Some(image.layers[i].id.clone()),
            ..s
        }));
    for (i, findings) in per_layer.into_iter().enumerate() {
        for mut f in findings {
            f.layer = Some(image.layers[i].id.clone());
            if let Some(p) = &f.path {
                let p = archive::layer_path(p, &records[i]);
                f.deleted_in = deleted_in(&records, i, p).map(|j| image.layers[j].id.clone());
            }
            out.findings.push(f);
        }
    }
    let mut analysis = ImageAnalysis::default();
    for a in &analyzers.image {
        a.analyze(&ImageView { image }, &mut analysis);
    }
    out.findings.extend(analysis.findings);
    out.config = analysis.config;
    out.findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    out.duration_ms = started.elapsed().as_millis() as u64;
    out
}
