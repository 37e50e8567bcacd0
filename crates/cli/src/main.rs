//! The `customs` command: a thin layer over the library crates.

mod ami;
mod demo;
mod names;
mod progress;
mod provenance;
mod report;
mod scan;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// customs stops malicious container images (MITRE ATT&CK T1204.003).
#[derive(Parser)]
#[command(name = "customs", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan images layer by layer. Exit 0: nothing at or above --fail-on; 1: findings at or
    /// above it; 2: an error or an incomplete scan.
    Scan(Box<scan::ScanArgs>),
    /// Build sample images offline (one clean, one carrying the EICAR test file in a layer
    /// that a later layer deletes, one set up like a cryptojacking image) and scan them, to
    /// see the gate work end to end.
    Demo(demo::DemoArgs),
    /// Cloud machine images (AWS AMIs, GCE and Azure images), checked offline from the
    /// JSON image lists the clouds' CLIs print.
    #[command(subcommand)]
    Ami(ami::AmiCommand),
    /// Maintain the bundled image-name lists (see docs/names.md).
    #[command(subcommand)]
    Names(names::NamesCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CUSTOMS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let result = match cli.command {
        Command::Scan(args) => scan::run(*args),
        Command::Demo(args) => demo::run(args),
        Command::Ami(cmd) => ami::run(cmd),
        Command::Names(cmd) => names::run(cmd),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("customs: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
