//! `customs ami check`: cloud machine images from the JSON the clouds' CLIs print, checked
//! offline against the official publishers and the policy's `[machine_images]`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use customs_analyze::machine_images::{
    CheckOptions, MachineImage, Publishers, check, parse_list, parse_rfc3339,
};
use customs_content::Bundle;
use customs_core::{ContentInfo, Coverage, ImageInfo, REPORT_SCHEMA, Report};
use customs_policy::{Policy, ScanState, decide, run_exit_code};

use crate::report;
use crate::scan::{ReportArgs, load_policy, open_output};

/// `customs ami …`
#[derive(Subcommand, Debug)]
pub enum AmiCommand {
    /// Check the images of an image list: the JSON that `aws ec2 describe-images`, `gcloud
    /// compute images list --format=json` or `az vm image list -o json` printed. Offline.
    /// Exit 0: nothing at or above --fail-on; 1: findings at or above it; 2: an error.
    Check(AmiCheckArgs),
}

/// Arguments of `customs ami check`.
#[derive(Args, Debug)]
pub struct AmiCheckArgs {
    /// The image list, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: String,
    #[command(flatten)]
    pub report: ReportArgs,
    /// A policy file (TOML; see docs/policy.md): its `[machine_images]` section sets the
    /// allowed owners and the newly-published threshold; `[thresholds]` the verdicts.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The time images' ages are measured from, RFC 3339 (`2024-05-01T12:00:00Z`)
    /// [default: now]. For reproducible runs over a saved list.
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    pub now: Option<i64>,
}

fn parse_now(s: &str) -> Result<i64, String> {
    parse_rfc3339(s)
}

/// Runs `customs ami …` and returns the exit code.
pub fn run(cmd: AmiCommand) -> Result<u8> {
    match cmd {
        AmiCommand::Check(args) => check_list(args),
    }
}

fn check_list(args: AmiCheckArgs) -> Result<u8> {
    let started = Instant::now();
    let policy = load_policy(args.policy.as_deref(), args.report.fail_on)?;
    let now = match args.now {
        Some(t) => t,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("the system clock is before 1970")?
            .as_secs() as i64,
    };
    // Open the output first: a report that can not be written must fail before the work.
    let (mut out, color) = open_output(args.report.output.as_deref())?;

    let bundle = Bundle::embedded().context("the embedded content bundle is broken")?;
    let publishers =
        Publishers::from_bundle(&bundle).context("can not load the machine-image publishers")?;
    let content = bundle.info();
    let opts = CheckOptions {
        allowed_owners: policy.machine_images.allowed_owners.clone(),
        official_publishers: policy.machine_images.official_publishers,
        newly_published_secs: policy.machine_images.newly_published_secs,
        now_unix: now,
    };

    let mut reports = Vec::new();
    let mut decisions = Vec::new();
    let error_report = |msg: String| {
        let decision = decide(
            &policy,
            &[],
            &ScanState {
                errors: 1,
                skipped: 0,
            },
        );
        let report = Report {
            schema: REPORT_SCHEMA.into(),
            target: args.file.clone(),
            image: None,
            verdict: decision.verdict,
            score: decision.score,
            findings: vec![],
            coverage: Coverage::default(),
            content: content.clone(),
            errors: vec![msg],
            duration_ms: started.elapsed().as_millis() as u64,
            drivers: decision.drivers.clone(),
            suppressed: vec![],
            ignored_expired: vec![],
        };
        (report, decision)
    };

    match read_input(&args.file).and_then(|bytes| {
        parse_list(&bytes).with_context(|| format!("`{}` can not be checked", args.file))
    }) {
        Err(e) => {
            // The whole list is unusable: say so on stderr too, since the report may be
            // going to a file.
            eprintln!("customs: error: {e:#}");
            let (r, d) = error_report(format!("{e:#}"));
            reports.push(r);
            decisions.push(d);
        }
        Ok(list) => {
            if list.entries.is_empty() {
                eprintln!("customs: warning: `{}` lists no images", args.file);
            }
            let mut images: Vec<MachineImage> = Vec::new();
            let mut slots = Vec::new();
            for entry in list.entries {
                match entry {
                    Ok(img) => {
                        slots.push(Ok(images.len()));
                        images.push(img);
                    }
                    Err(msg) => slots.push(Err(msg)),
                }
            }
            let findings = check(&images, &publishers, &opts);
            for slot in slots {
                match slot {
                    Err(msg) => {
                        let (r, d) = error_report(msg);
                        reports.push(r);
                        decisions.push(d);
                    }
                    Ok(i) => {
                        let report = image_report(
                            &args.file,
                            &images[i],
                            findings[i].clone(),
                            &policy,
                            &content,
                            started,
                        );
                        decisions.push(report.1);
                        reports.push(report.0);
                    }
                }
            }
        }
    }
    report::write(args.report.format, &reports, &mut out, color)
        .context("can not write the report")?;
    out.flush().context("can not write the report")?;
    Ok(run_exit_code(&decisions) as u8)
}

/// The file, or standard input for `-`.
fn read_input(file: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if file == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("can not read standard input")?;
    } else {
        bytes = std::fs::read(file).with_context(|| format!("can not read `{file}`"))?;
    }
    Ok(bytes)
}

fn image_report(
    target: &str,
    img: &MachineImage,
    findings: Vec<customs_core::Finding>,
    policy: &Policy,
    content: &ContentInfo,
    started: Instant,
) -> (Report, customs_policy::Decision) {
    let decision = decide(policy, &findings, &ScanState::default());
    let report = Report {
        schema: REPORT_SCHEMA.into(),
        target: target.into(),
        image: Some(ImageInfo {
            name: Some(img.name.clone()),
            digest: None,
            platform: img.platform.clone(),
            created: img.created.clone(),
            layers: vec![],
            config: None,
            machine_image: Some(img.info()),
        }),
        verdict: decision.verdict,
        score: decision.score,
        findings,
        coverage: Coverage::default(),
        content: content.clone(),
        errors: vec![],
        duration_ms: started.elapsed().as_millis() as u64,
        drivers: decision.drivers.clone(),
        suppressed: vec![],
        ignored_expired: vec![],
    };
    (report, decision)
}
