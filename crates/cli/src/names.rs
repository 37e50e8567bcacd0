//! `customs names`: refreshes the bundled name lists from local files, with no network.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use customs_analyze::names::{read_official_names, render_official_list};

/// Subcommands of `customs names`.
#[derive(Subcommand, Debug)]
pub enum NamesCommand {
    /// Rewrite the Docker Official Images list from a local file: the `library/` directory
    /// of a docker-library/official-images checkout (one file per image), or a text file
    /// with one name per line.
    ImportOfficial {
        /// The `library/` directory, or a text list.
        #[arg(value_name = "SOURCE")]
        source: PathBuf,
        /// Where to write the list.
        #[arg(
            long,
            short,
            value_name = "FILE",
            default_value = "content/names/official-images.txt"
        )]
        output: PathBuf,
    },
}

/// Runs the subcommand; exit code 0 on success.
pub fn run(cmd: NamesCommand) -> Result<u8> {
    match cmd {
        NamesCommand::ImportOfficial { source, output } => {
            let names = read_official_names(&source).with_context(|| {
                format!(
                    "can not import official image names from `{}`",
                    source.display()
                )
            })?;
            let text = render_official_list(&names);
            // Write beside the target and rename, so a failed write never leaves half a list.
            let tmp = output.with_extension("txt.tmp");
            std::fs::write(&tmp, text)
                .with_context(|| format!("can not write `{}`", tmp.display()))?;
            std::fs::rename(&tmp, &output)
                .with_context(|| format!("can not write `{}`", output.display()))?;
            eprintln!(
                "customs: wrote {} official image names to {}; bump `version` in content/manifest.toml",
                names.len(),
                output.display()
            );
            Ok(0)
        }
    }
}
