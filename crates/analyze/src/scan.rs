//! Runs the analyzers over every layer of one image, layers in parallel.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use customs_core::{Coverage, Finding, ImageConfigSummary, Skipped};
use customs_image::walk::{
    Anomaly, FileContent, FileEntry, LayerRecord, LayerWalk, Limits, Progress, Visitor, deleted_in,
    walk_layer,
};
use customs_image::{Image, ImageError};

use crate::{Analyzers, ImageAnalysis, ImageView, anomaly_finding};

/// How to scan.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Work bounds per layer.
    pub limits: Limits,
    /// Layers walked at once.
    pub jobs: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            limits: Limits::default(),
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
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
}

/// Collects one layer's findings.
struct LayerVisitor<'a> {
    analyzers: &'a Analyzers,
    findings: Vec<Finding>,
    partial: Vec<Skipped>,
}

impl Visitor for LayerVisitor<'_> {
    fn content_cap(&mut self, entry: &FileEntry) -> usize {
        self.analyzers
            .wanting(entry)
            .map(|c| c.bytes)
            .max()
            .unwrap_or(0)
    }

    fn file(&mut self, entry: &FileEntry, content: FileContent<'_>) {
        let mut partial_by: Vec<&str> = Vec::new();
        for c in self.analyzers.wanting(entry) {
            if c.whole && entry.size > c.bytes as u64 {
                partial_by.push(c.analyzer.id());
            }
            let view = FileContent {
                data: &content.data[..content.data.len().min(c.bytes)],
                complete: content.complete && content.data.len() <= c.bytes,
                sha256: content.sha256.clone(),
            };
            c.analyzer.analyze(entry, &view, &mut self.findings);
        }
        if !partial_by.is_empty() {
            let cap = self.content_cap(entry);
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

    fn anomaly(&mut self, entry: &FileEntry, anomaly: Anomaly) {
        self.findings.push(anomaly_finding(entry, &anomaly));
    }
}

struct LayerResult {
    walk: Result<LayerWalk, ImageError>,
    findings: Vec<Finding>,
    partial: Vec<Skipped>,
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
                    let mut v = LayerVisitor {
                        analyzers,
                        findings: Vec::new(),
                        partial: Vec::new(),
                    };
                    let walk = walk_layer(image, i, &opts.limits, progress, &mut v);
                    let r = LayerResult {
                        walk,
                        findings: v.findings,
                        partial: v.partial,
                    };
                    results.lock().expect("no worker panics while holding it")[i] = Some(r);
                }
            });
        }
    });
    let results = results.into_inner().expect("workers are done");

    let mut out = ScanOutcome::default();
    let mut records: Vec<LayerRecord> = Vec::with_capacity(n);
    let mut per_layer: Vec<Vec<Finding>> = Vec::with_capacity(n);
    for (i, r) in results.into_iter().enumerate() {
        let r = r.expect("every layer index was taken by a worker");
        let layer = &image.layers[i];
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
    for (i, findings) in per_layer.into_iter().enumerate() {
        for mut f in findings {
            f.layer = Some(image.layers[i].id.clone());
            if let Some(p) = &f.path {
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
