//! `customs scan`.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use customs_analyze::{Analyzers, ScanOptions, scan_image};
use customs_content::Bundle;
use customs_core::{
    Coverage, ImageInfo, LayerInfo, Platform, REPORT_SCHEMA, Report, Severity, Verdict,
};
use customs_image::walk::Limits;
use customs_image::{Image, OpenOptions, PlatformChoice, RegistryOptions, Target, open};
use customs_policy::{Policy, ScanState, decide, run_exit_code};

use crate::progress::Bar;
use crate::report::{self, Format};

/// Arguments of `customs scan`.
#[derive(Args, Debug)]
pub struct ScanArgs {
    /// What to scan: oci:PATH[:TAG], oci-archive:PATH[:TAG], docker-archive:PATH, dir:PATH,
    /// registry:REF or a bare reference (nginx:1.27, 127.0.0.1:5000/app@sha256:…), or a
    /// bare path whose kind is sniffed.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, default_value = "high", value_parser = parse_severity)]
    pub fail_on: Severity,
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
    /// Layers read at once (default: number of CPUs).
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
            format,
            output: None,
            fail_on: Severity::High,
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
    };
    let policy = Policy {
        fail_on: args.fail_on,
        allow_incomplete: args.allow_incomplete,
    };
    // Open the output first: a report that can not be written must fail before the work.
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("can not create `{}`", p.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let color = args.output.is_none() && std::io::stdout().is_terminal();
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
    for t in &args.targets {
        let started = Instant::now();
        let images = parse_target(t, args.offline)
            .and_then(|target| open(&target, &open_opts).map_err(anyhow::Error::from));
        let images = match images {
            Ok(i) => i,
            Err(e) => {
                // ImageError messages already carry their cause; `{e:#}` would print it twice.
                let r = error_report(t, &analyzers, e.to_string(), started);
                decisions.push(decide(
                    &policy,
                    &[],
                    &ScanState {
                        errors: 1,
                        skipped: 0,
                    },
                ));
                reports.push(r);
                continue;
            }
        };
        for image in images {
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
            let state = ScanState {
                errors: outcome.errors.len(),
                skipped: outcome.coverage.skipped.len(),
            };
            let decision = decide(&policy, &outcome.findings, &state);
            reports.push(Report {
                schema: REPORT_SCHEMA.into(),
                target: t.clone(),
                image: Some(image_info(&image, args.name.as_deref(), outcome.config)),
                verdict: decision.verdict,
                score: decision.score,
                findings: outcome.findings,
                coverage: outcome.coverage,
                content: analyzers.content_info(),
                errors: outcome.errors,
                duration_ms: started.elapsed().as_millis() as u64,
            });
            decisions.push(decision);
        }
    }
    report::write(args.format, &reports, &mut out, color).context("can not write the report")?;
    out.flush().context("can not write the report")?;
    Ok(run_exit_code(&decisions) as u8)
}

fn parse_target(s: &str, offline: bool) -> Result<Target> {
    let t: Target = s.parse()?;
    if offline && matches!(t, Target::Registry(_)) {
        bail!("`{s}` is a registry reference, and --offline forbids the network");
    }
    Ok(t)
}

fn error_report(target: &str, analyzers: &Analyzers, error: String, started: Instant) -> Report {
    Report {
        schema: REPORT_SCHEMA.into(),
        target: target.into(),
        image: None,
        verdict: Verdict::Error,
        score: 0,
        findings: vec![],
        coverage: Coverage::default(),
        content: analyzers.content_info(),
        errors: vec![error],
        duration_ms: started.elapsed().as_millis() as u64,
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
    }
}
