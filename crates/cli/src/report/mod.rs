//! Report writers. Every writer takes all reports of a run at once (SARIF puts them in one
//! log) and writes nothing but the report to its output.

mod json;
mod sarif;
mod table;

use std::io::{self, Write};

use customs_core::Report;

/// Output format (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable, grouped by severity, with a summary line.
    Table,
    /// `customs.report/v1`, one JSON object per line, one line per scanned image.
    Json,
    /// SARIF 2.1.0, one run per scanned image.
    Sarif,
}

/// Writes `reports` in `format`. `color` is only used by the table writer.
pub fn write(format: Format, reports: &[Report], w: &mut dyn Write, color: bool) -> io::Result<()> {
    match format {
        Format::Table => table::write(reports, w, color),
        Format::Json => json::write(reports, w),
        Format::Sarif => sarif::write(reports, w),
    }
}
