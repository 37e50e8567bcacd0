//! `customs scan`.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use customs_analyze::{Analyzers, CacheUse, LayerCache, ScanOptions, scan_image};
use customs_content::Bundle;
use customs_core::{Coverage, ImageInfo, LayerInfo, Platform, REPORT_SCHEMA, Report, Severity};
use customs_image::walk::Limits;
use customs_image::{Image, OpenOptions, PlatformChoice, RegistryOptions, Target, open};
use customs_policy::{Applied, Date, IgnoreList, Policy, ScanState, decide, run_exit_code};
use customs_store::Lookup;
use sha2::{Digest as _, Sha256};

use crate::progress::Bar;
use crate::report::{self, Format};

/// Arguments of `customs scan`.
/// Where the report goes and when the exit code says "failed"; shared by `scan` and
/// `ami check`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity [default: the policy file's, else high].
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// What to scan: oci:PATH[:TAG], oci-archive:PATH[:TAG], docker-archive:PATH, dir:PATH,
    /// registry:REF or a bare reference (nginx:1.27, 127.0.0.1:5000/app@sha256:…), or a
    /// bare path whose kind is sniffed.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub report: ReportArgs,
    /// A policy file (TOML; see docs/policy.md): what makes a verdict malicious or
    /// suspicious, --fail-on, incomplete scans. Flags given on the command line win.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The ignore file of accepted findings [default: .customsignore in the current
    /// directory, when there is one].
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,
    /// Read no ignore file: report every finding.
    #[arg(long, conflicts_with = "ignore_file")]
    pub no_ignore: bool,
    /// Directory of the layer cache [default: $XDG_CACHE_HOME/customs, else ~/.cache/customs].
    #[arg(long, value_name = "DIR", env = "CUSTOMS_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Analyze every layer; neither read nor write the layer cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Say on stderr what the layer cache did for each layer.
    #[arg(long, short)]
    pub verbose: bool,
    /// The name the image is deployed under (for local images; overrides what the source says).
    #[arg(long, value_name = "REF")]
    pub name: Option<String>,
    /// Platform to scan in a multi-platform image: os/arch[/variant], or `all`. Default: this machine's.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// A directory of extra detection content (YARA rules, IOC lists) used beside the
    /// shipped content; repeatable. Shipped files are never edited.
    #[arg(long, value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Refuse to use the network: registry targets are an error.
    #[arg(long)]
    pub offline: bool,
    /// A registry host[:port] that may be reached over plain HTTP (loopback always may).
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registry: Vec<String>,
    /// Registry user name (else ~/.docker/config.json).
    #[arg(long, env = "CUSTOMS_REGISTRY_USERNAME", hide_env_values = true)]
    pub username: Option<String>,
    /// Registry password or token.
    #[arg(long, env = "CUSTOMS_REGISTRY_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Do not turn an incomplete scan (a limit was hit) into verdict `error` and exit 2.
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Layers read at once (default: number of CPUs, at most 4; each layer uses three threads).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Files larger than this many bytes are not read (recorded as skipped).
    #[arg(long, value_name = "BYTES")]
    pub max_file_size: Option<u64>,
    /// Most uncompressed bytes read from one layer.
    #[arg(long, value_name = "BYTES")]
    pub max_layer_size: Option<u64>,
    /// Most entries in one layer.
    #[arg(long, value_name = "N")]
    pub max_entries: Option<u64>,
    /// Most uncompressed bytes per compressed byte (checked after the first GiB).
    #[arg(long, value_name = "N")]
    pub max_ratio: Option<u64>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

impl ScanArgs {
    /// Default arguments for the given targets, as `customs demo` scans.
    pub fn for_demo(targets: Vec<String>, format: Format) -> ScanArgs {
        ScanArgs {
            targets,
            report: ReportArgs {
                format,
                output: None,
                fail_on: None,
            },
            policy: None,
            // The demo is the same every time: no user ignore file, no cache to fill.
            ignore_file: None,
            no_ignore: true,
            cache_dir: None,
            no_cache: true,
            verbose: false,
            name: None,
            platform: None,
            offline: true,
            insecure_registry: vec![],
            rules: vec![],
            username: None,
            password: None,
            allow_incomplete: false,
            jobs: None,
            max_file_size: None,
            max_layer_size: None,
            max_entries: None,
            max_ratio: None,
            quiet: true,
        }
    }
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

/// Runs the scan and returns the exit code.
pub fn run(args: ScanArgs) -> Result<u8> {
    let platform = match args.platform.as_deref() {
        None => PlatformChoice::One(Platform::host()),
        Some("all") => PlatformChoice::All,
        Some(p) => PlatformChoice::One(p.parse::<Platform>().map_err(anyhow::Error::msg)?),
    };
    let open_opts = OpenOptions {
        platform,
        registry: RegistryOptions {
            insecure: args.insecure_registry.clone(),
            username: args.username.clone(),
            password: args.password.clone(),
            ..RegistryOptions::default()
        },
    };
    let defaults = Limits::default();
    let scan_opts = ScanOptions {
        limits: Limits {
            max_file_size: args.max_file_size.unwrap_or(defaults.max_file_size),
            max_layer_bytes: args.max_layer_size.unwrap_or(defaults.max_layer_bytes),
            max_entries: args.max_entries.unwrap_or(defaults.max_entries),
            max_ratio: args.max_ratio.unwrap_or(defaults.max_ratio),
            ..defaults
        },
        jobs: args
            .jobs
            .unwrap_or_else(|| ScanOptions::default().jobs)
            .max(1),
        cache: open_cache(&args),
    };
    let mut policy = load_policy(args.policy.as_deref(), args.report.fail_on)?;
    if args.allow_incomplete {
        policy.allow_incomplete = true;
    }
    let provenance = crate::provenance::ProvenanceCheck::load(&policy, args.policy.as_deref())?;
    let today = today();
    let ignore = load_ignore(&args)?;
    if let Some((path, list)) = &ignore {
        for e in list.entries().iter().filter(|e| e.is_expired(today)) {
            eprintln!(
                "customs: warning: `{}` line {}: the ignore entry for {} expired on {} and no \
                 longer applies (its reason: {})",
                path.display(),
                e.line,
                e.describe(),
                e.expires.map(|d| d.to_string()).unwrap_or_default(),
                e.reason
            );
        }
    }
    let mut matched = vec![0usize; ignore.as_ref().map_or(0, |(_, l)| l.entries().len())];
    // Open the output first: a report that can not be written must fail before the work.
    let (mut out, color) = open_output(args.report.output.as_deref())?;
    let show_progress = !args.quiet && std::io::stderr().is_terminal();

    let mut bundle = Bundle::embedded().context("the embedded content bundle is broken")?;
    for dir in &args.rules {
        bundle = bundle
            .with_user_dir(dir)
            .with_context(|| format!("can not load --rules {}", dir.display()))?;
    }
    let analyzers = Analyzers::from_bundle(&bundle).context("can not load detection content")?;
    let mut reports = Vec::new();
    let mut decisions = Vec::new();
    let mut images_scanned = 0usize;
    for t in &args.targets {
        let started = Instant::now();
        let images = parse_target(t, args.offline)
            .and_then(|target| open(&target, &open_opts).map_err(anyhow::Error::from));
        let images = match images {
            Ok(i) => i,
            Err(e) => {
                let decision = decide(
                    &policy,
                    &[],
                    &ScanState {
                        errors: 1,
                        skipped: 0,
                    },
                );
                // ImageError messages already carry their cause; `{e:#}` would print it twice.
                let r = error_report(t, &analyzers, e.to_string(), started, &decision);
                decisions.push(decision);
                reports.push(r);
                continue;
            }
        };
        for mut image in images {
            // --name is the name the image is deployed under: the name checks see it too.
            if let Some(n) = &args.name {
                image.name = Some(n.clone());
                image.other_names.clear();
            }
            let bar = show_progress.then(|| Bar::new(t, &image));
            let outcome = match &bar {
                Some(b) => scan_image(&image, &analyzers, &scan_opts, b),
                None => scan_image(
                    &image,
                    &analyzers,
                    &scan_opts,
                    &customs_image::walk::NoProgress,
                ),
            };
            if let Some(b) = bar {
                b.finish();
            }
            if args.verbose {
                say_cache_use(t, &image, &outcome.cache);
            }
            let mut outcome = outcome;
            if let Some(check) = &provenance {
                let target = parse_target(t, args.offline).ok();
                let name = args.name.as_deref().or(image.name.as_deref());
                let p = check.run(target.as_ref(), &image, name, &open_opts.registry);
                outcome.findings.extend(p.findings);
                outcome.errors.extend(p.errors);
                outcome
                    .findings
                    .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
            }
            let state = ScanState {
                errors: outcome.errors.len(),
                skipped: outcome.coverage.skipped.len(),
            };
            let digest = image.manifest_digest.as_ref().map(ToString::to_string);
            let applied = match &ignore {
                Some((_, list)) => list.apply(outcome.findings, digest.as_deref(), today),
                None => Applied {
                    findings: outcome.findings,
                    ..Applied::default()
                },
            };
            for (m, n) in matched.iter_mut().zip(&applied.matched) {
                *m += n;
            }
            images_scanned += 1;
            let decision = decide(&policy, &applied.findings, &state);
            reports.push(Report {
                schema: REPORT_SCHEMA.into(),
                target: t.clone(),
                image: Some(image_info(&image, args.name.as_deref(), outcome.config)),
                verdict: decision.verdict,
                score: decision.score,
                findings: applied.findings,
                coverage: outcome.coverage,
                content: analyzers.content_info(),
                errors: outcome.errors,
                duration_ms: started.elapsed().as_millis() as u64,
                drivers: decision.drivers.clone(),
                suppressed: applied.suppressed,
                ignored_expired: applied.expired,
            });
            decisions.push(decision);
        }
    }
    // Like an allow-list that outlived its reason: say so, so the list stays short. Only
    // when something was scanned, or every entry would look stale.
    if let Some((path, list)) = &ignore
        && images_scanned > 0
    {
        for (e, _) in list
            .entries()
            .iter()
            .zip(&matched)
            .filter(|(e, n)| **n == 0 && !e.is_expired(today))
        {
            eprintln!(
                "customs: warning: `{}` line {}: the ignore entry for {} matched no finding; \
                 remove it if it is no longer needed",
                path.display(),
                e.line,
                e.describe()
            );
        }
    }
    report::write(args.report.format, &reports, &mut out, color)
        .context("can not write the report")?;
    out.flush().context("can not write the report")?;
    Ok(run_exit_code(&decisions) as u8)
}

/// The policy file (or the defaults), with `--fail-on` applied over it.
pub(crate) fn load_policy(path: Option<&Path>, fail_on: Option<Severity>) -> Result<Policy> {
    let mut policy = match path {
        Some(p) => Policy::from_toml(&read_text(p)?)
            .with_context(|| format!("can not use the policy file `{}`", p.display()))?,
        None => Policy::default(),
    };
    if let Some(s) = fail_on {
        policy.fail_on = s;
    }
    Ok(policy)
}

/// Where the report goes (`--output FILE`, else stdout), and whether to colour it (only a
/// terminal on stdout).
pub(crate) fn open_output(path: Option<&Path>) -> Result<(Box<dyn Write>, bool)> {
    Ok(match path {
        Some(p) => (
            Box::new(BufWriter::new(
                File::create(p).with_context(|| format!("can not create `{}`", p.display()))?,
            )),
            false,
        ),
        None => (
            Box::new(BufWriter::new(std::io::stdout().lock())),
            std::io::stdout().is_terminal(),
        ),
    })
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("can not read `{}`", path.display()))
}

/// The ignore file named by --ignore-file (which must exist), else `.customsignore` in the
/// current directory if there is one.
fn load_ignore(args: &ScanArgs) -> Result<Option<(PathBuf, IgnoreList)>> {
    if args.no_ignore {
        return Ok(None);
    }
    let path = match &args.ignore_file {
        Some(p) => p.clone(),
        None => {
            let p = PathBuf::from(".customsignore");
            if !p.exists() {
                return Ok(None);
            }
            p
        }
    };
    let list = IgnoreList::parse(&read_text(&path)?)
        .with_context(|| format!("can not use the ignore file `{}`", path.display()))?;
    Ok(Some((path, list)))
}

/// Today in UTC, for ignore-entry expiry.
fn today() -> Date {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Date::from_unix_days(secs.div_euclid(86_400))
}

/// The layer cache, unless --no-cache. A cache that can not be opened is said once and the
/// scan goes on without it: the cache only ever saves time.
fn open_cache(args: &ScanArgs) -> Option<Arc<dyn LayerCache>> {
    if args.no_cache {
        return None;
    }
    let Some(dir) = args
        .cache_dir
        .clone()
        .or_else(customs_store::LayerCache::default_dir)
    else {
        eprintln!(
            "customs: warning: no cache directory (neither XDG_CACHE_HOME nor HOME is set; \
             see --cache-dir); scanning without the layer cache"
        );
        return None;
    };
    match customs_store::LayerCache::open(&dir.join(customs_store::CACHE_FILE)) {
        Ok(store) => Some(Arc::new(StoreCache {
            store,
            build: build_identity(),
            warned: AtomicBool::new(false),
        })),
        Err(e) => {
            eprintln!("customs: warning: {e}; scanning without the layer cache");
            None
        }
    }
}

/// The SQLite layer cache behind the scan driver's hook. Whatever goes wrong with it is
/// said once per run, and the layer concerned is analyzed as if there were no cache.
#[derive(Debug)]
struct StoreCache {
    store: customs_store::LayerCache,
    build: [u8; 32],
    warned: AtomicBool,
}

impl StoreCache {
    /// The driver's key, bound to this binary: analyzer versions are bumped by hand, and
    /// a rebuilt customs must not trust results from one whose code differed.
    fn key(&self, key: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.build);
        h.update(key);
        h.finalize().into()
    }

    fn warn(&self, what: std::fmt::Arguments<'_>) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!("customs: warning: {what}; the layers concerned are analyzed afresh");
        }
    }
}

impl LayerCache for StoreCache {
    fn get(&self, key: &[u8; 32]) -> Option<Vec<u8>> {
        match self.store.get(&self.key(key)) {
            Ok(Lookup::Hit(v)) => Some(v),
            Ok(Lookup::Miss) => None,
            Ok(Lookup::Corrupt(why)) => {
                let path = self.store.path().display();
                self.warn(format_args!(
                    "the layer cache `{path}` holds a damaged entry ({why})"
                ));
                None
            }
            Err(e) => {
                self.warn(format_args!("{e}"));
                None
            }
        }
    }

    fn put(&self, key: &[u8; 32], value: &[u8]) {
        if let Err(e) = self.store.put(&self.key(key), value) {
            self.warn(format_args!("{e}"));
        }
    }

    fn corrupt(&self, _key: &[u8; 32], why: &str) {
        let path = self.store.path().display();
        self.warn(format_args!(
            "the layer cache `{path}` holds an entry that does not decode ({why})"
        ));
    }
}

/// This binary: its version, and the size and modification time of its file.
fn build_identity() -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    if let Some(m) = std::env::current_exe()
        .ok()
        .and_then(|exe| std::fs::metadata(exe).ok())
    {
        h.update(m.len().to_le_bytes());
        if let Some(d) = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        {
            h.update(d.as_nanos().to_le_bytes());
        }
    }
    h.finalize().into()
}

/// `--verbose`: one line per layer saying whether its result came from the cache.
fn say_cache_use(target: &str, image: &Image, uses: &[CacheUse]) {
    let platform = image
        .platform
        .as_ref()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    for (i, (layer, u)) in image.layers.iter().zip(uses).enumerate() {
        let what = match u {
            CacheUse::Hit => "hit",
            CacheUse::Miss => "miss",
            CacheUse::Uncacheable => "not cacheable",
        };
        eprintln!(
            "customs: cache: {target}{platform}: layer {}/{} {}: {what}",
            i + 1,
            image.layers.len(),
            layer.id
        );
    }
}

fn parse_target(s: &str, offline: bool) -> Result<Target> {
    let t: Target = s.parse()?;
    if offline && matches!(t, Target::Registry(_)) {
        bail!("`{s}` is a registry reference, and --offline forbids the network");
    }
    Ok(t)
}

fn error_report(
    target: &str,
    analyzers: &Analyzers,
    error: String,
    started: Instant,
    decision: &customs_policy::Decision,
) -> Report {
    Report {
        schema: REPORT_SCHEMA.into(),
        target: target.into(),
        image: None,
        verdict: decision.verdict,
        score: decision.score,
        findings: vec![],
        coverage: Coverage::default(),
        content: analyzers.content_info(),
        errors: vec![error],
        duration_ms: started.elapsed().as_millis() as u64,
        drivers: decision.drivers.clone(),
        suppressed: vec![],
        ignored_expired: vec![],
    }
}

fn image_info(
    image: &Image,
    name: Option<&str>,
    config: Option<customs_core::ImageConfigSummary>,
) -> ImageInfo {
    ImageInfo {
        name: name.map(str::to_string).or_else(|| image.name.clone()),
        digest: image.manifest_digest.as_ref().map(ToString::to_string),
        platform: image.platform.clone(),
        created: image.config.as_ref().and_then(|c| c.created.clone()),
        layers: image
            .layers
            .iter()
            .map(|l| LayerInfo {
                digest: l.id.clone(),
                media_type: l.media_type.clone(),
                size: l.size.unwrap_or(0),
                created_by: l.created_by.clone(),
            })
            .collect(),
        config,
        machine_image: None,
    }
}
