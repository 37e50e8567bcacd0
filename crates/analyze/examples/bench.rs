//! Throughput and memory benchmark of the scanning core (see `bench/README.md`).
//!
//! `bench ROOTFS WORKDIR` packs ROOTFS into a three-layer gzip OCI image under WORKDIR
//! (reused when present), measures the decompression floor (flate2, the same decoder the
//! scanner uses, one thread, output to nowhere), then runs full scans (every analyzer,
//! every regular file hashed) in child processes with 1 and 2 jobs, and prints MB/s, the
//! ratio to the floor and each child's peak RSS; then the same for the files packed as one
//! layer (`WORKDIR/layout-1`). Every figure is the best of several runs,
//! all measured in this one run, because these machines are noisy.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use customs_analyze::{Analyzers, ScanOptions, scan_image};
use customs_image::walk::NoProgress;
use customs_image::{OpenOptions, Target, open};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const RUNS: usize = 3;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(&args[2], args[3].parse().expect("jobs"));
        return;
    }
    let (Some(rootfs), Some(work)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: bench ROOTFS WORKDIR");
        std::process::exit(2);
    };
    let layout = PathBuf::from(work).join("layout");
    let blobs = packed(Path::new(rootfs), &layout, &THREE_LAYERS);
    let compressed: u64 = blobs.iter().map(|b| b.metadata().unwrap().len()).sum();
    let (floor_secs, tar_bytes) = floor(&blobs);
    let mb = tar_bytes as f64 / 1e6;
    println!(
        "image: {} layers, {:.1} MB compressed, {:.1} MB uncompressed",
        blobs.len(),
        compressed as f64 / 1e6,
        mb
    );
    println!(
        "decompression floor (flate2 zlib-rs, 1 thread): {:.1} MB/s",
        mb / floor_secs
    );
    // The same floor with two threads, one layer each: how far this machine's two cores
    // scale at all, to judge the scanner's own scaling against.
    let mut floor2_secs = f64::MAX;
    for _ in 0..RUNS {
        let t = Instant::now();
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    while let Some(b) =
                        blobs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        gunzip_to_sink(b);
                    }
                });
            }
        });
        floor2_secs = floor2_secs.min(t.elapsed().as_secs_f64());
    }
    println!(
        "decompression floor, 2 threads (one layer each): {:.1} MB/s = {:.2}x one thread",
        mb / floor2_secs,
        floor_secs / floor2_secs
    );
    let exe = std::env::current_exe().unwrap();
    let mut j1 = 0.0;
    let mut times = Vec::new();
    for jobs in [1usize, 2] {
        let Child { best, hwm, files } = child_runs(&exe, &layout, jobs);
        times.push(best);
        let rate = mb / best;
        if jobs == 1 {
            j1 = rate;
        }
        // Wall time against both floors: a job reads one layer on three threads (one
        // decompresses, one hashes, one analyzes), so even one job uses several cores.
        println!(
            "customs scan, {jobs} job(s), every file hashed, all analyzers: {rate:.1} MB/s; wall time {:.2}x the 1-thread floor, {:.2}x the 2-thread floor{}; {files} files; peak RSS {:.1} MB",
            best / floor_secs,
            best / floor2_secs,
            if jobs > 1 {
                format!("; {:.2}x one job", rate / j1)
            } else {
                String::new()
            },
            hwm as f64 / 1024.0
        );
    }
    for (threads, label, ours) in [
        (Some(1), "1 thread", times[0]),
        (None, "default threads", times[1]),
    ] {
        match yara_cli(rootfs, threads) {
            Some(t) => println!(
                "Debian yara CLI, same rules, files unpacked on disk, {label}: {t:.2} s; customs end to end (decompression included, {} job(s)): {ours:.2} s = {:.1}x faster",
                if threads == Some(1) { 1 } else { 2 },
                t / ours
            ),
            None => println!(
                "Debian yara CLI: not run (apt-get install yara, and rules in content/yara/)"
            ),
        }
    }
    one_layer(Path::new(rootfs), Path::new(work), &exe);
}

/// The same files as one layer, as most base images are: its decompression cannot be
/// spread over threads, so the 1-thread floor is the floor.
fn one_layer(rootfs: &Path, work: &Path, exe: &Path) {
    let blobs = packed(rootfs, &work.join("layout-1"), &ONE_LAYER);
    let (floor_secs, bytes) = floor(&blobs);
    let mb = bytes as f64 / 1e6;
    let Child { best, hwm, .. } = child_runs(exe, &work.join("layout-1"), 1);
    println!(
        "one-layer image, same files: floor {:.1} MB/s; customs scan {:.1} MB/s = wall time {:.2}x the floor; peak RSS {:.1} MB",
        mb / floor_secs,
        mb / best,
        best / floor_secs,
        hwm as f64 / 1024.0
    );
}

/// The blobs of `layout`, packed from `rootfs` first when it is not there yet.
fn packed(rootfs: &Path, layout: &Path, picks: &[Pick]) -> Vec<PathBuf> {
    if !layout.join("index.json").exists() {
        eprintln!(
            "bench: packing {} into {}",
            rootfs.display(),
            layout.display()
        );
        pack(rootfs, layout, picks).expect("pack the rootfs");
    }
    layer_blobs(layout)
}

/// The decompression floor, one thread, best of `RUNS`: seconds, and uncompressed bytes.
fn floor(blobs: &[PathBuf]) -> (f64, u64) {
    let mut best = f64::MAX;
    let mut bytes = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        bytes = blobs.iter().map(|b| gunzip_to_sink(b)).sum::<u64>();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, bytes)
}

/// What `RUNS` scans in child processes gave: the best wall time, the highest peak RSS
/// (KiB), and the files read.
struct Child {
    best: f64,
    hwm: u64,
    files: u64,
}

fn child_runs(exe: &Path, layout: &Path, jobs: usize) -> Child {
    let mut c = Child {
        best: f64::MAX,
        hwm: 0,
        files: 0,
    };
    for _ in 0..RUNS {
        let out = Command::new(exe)
            .args(["--child", &layout.display().to_string(), &jobs.to_string()])
            .output()
            .expect("child runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("child JSON");
        c.best = c.best.min(v["secs"].as_f64().unwrap());
        c.hwm = c.hwm.max(v["hwm_kb"].as_u64().unwrap());
        c.files = v["files"].as_u64().unwrap();
    }
    c
}

/// Debian's `yara` CLI with the same rule files (all of `content/yara/`, the gated ones
/// included) over the same files unpacked on disk, with one thread and with its default
/// threads; None when `yara` is not installed.
fn yara_cli(rootfs: &str, threads: Option<usize>) -> Option<f64> {
    let content = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../content/yara");
    let mut rules: Vec<PathBuf> = Vec::new();
    rule_files(&content, &mut rules);
    rules.sort();
    if rules.is_empty() {
        return None;
    }
    let mut best = f64::MAX;
    for _ in 0..RUNS {
        let mut cmd = Command::new("yara");
        // -r recursive, -N never follow symlinks, -w no warnings; output to nowhere.
        cmd.args(["-r", "-N", "-w"]);
        if let Some(t) = threads {
            cmd.args(["-p", &t.to_string()]);
        }
        cmd.args(&rules)
            .arg(rootfs)
            .stdout(std::process::Stdio::null());
        let t = Instant::now();
        let status = cmd.status().ok()?;
        if !status.success() {
            eprintln!("bench: yara CLI failed ({status}); is every rule libyara-compatible?");
            return None;
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    Some(best)
}

fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for p in std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
    {
        if p.is_dir() {
            rule_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yar") {
            out.push(p);
        }
    }
}

/// One scan, timed, in its own process so its peak RSS is its own.
fn child(layout: &str, jobs: usize) {
    let target: Target = format!("oci:{layout}").parse().unwrap();
    let analyzers = Analyzers::builtin().expect("content");
    let opts = ScanOptions {
        jobs,
        ..ScanOptions::default()
    };
    let t = Instant::now();
    let images = open(&target, &OpenOptions::default()).expect("open");
    let outcome = scan_image(&images[0], &analyzers, &opts, &NoProgress);
    let secs = t.elapsed().as_secs_f64();
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    println!(
        "{}",
        json!({"secs": secs, "files": outcome.coverage.files, "hwm_kb": hwm_kb})
    );
}

/// Gunzips one blob into a 256 KiB buffer, over and over. The buffer matters: `io::copy`'s
/// 8 KiB buffer gives inflate too little room and measured 20% slower, which would make
/// the floor look lower than it is.
fn gunzip_to_sink(p: &Path) -> u64 {
    let f = io::BufReader::with_capacity(256 << 10, File::open(p).unwrap());
    let mut gz = flate2::bufread::MultiGzDecoder::new(f);
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0;
    loop {
        let n = gz.read(&mut buf).unwrap();
        if n == 0 {
            return total;
        }
        total += n as u64;
    }
}

fn layer_blobs(layout: &Path) -> Vec<PathBuf> {
    let index: Value =
        serde_json::from_reader(File::open(layout.join("index.json")).unwrap()).unwrap();
    let m = &index["manifests"][0]["digest"];
    let manifest: Value =
        serde_json::from_reader(File::open(blob(layout, m.as_str().unwrap())).unwrap()).unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| blob(layout, l["digest"].as_str().unwrap()))
        .collect()
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

type Pick = fn(&str) -> bool;

/// Layers: usr/lib, the rest of usr, everything else — three layers of useful sizes, so two
/// jobs have work to share, as in real images.
const THREE_LAYERS: [Pick; 3] = [
    |p| p == "usr" || p == "usr/lib" || p.starts_with("usr/lib/"),
    |p| p == "usr" || (p.starts_with("usr/") && p != "usr/lib" && !p.starts_with("usr/lib/")),
    |p| p != "usr" && !p.starts_with("usr/"),
];

/// Everything in one layer, as a base image is built.
const ONE_LAYER: [Pick; 1] = [|_| true];

fn pack(rootfs: &Path, layout: &Path, picks: &[Pick]) -> io::Result<()> {
    std::fs::create_dir_all(layout.join("blobs/sha256"))?;
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for &pick in picks {
        let mut tar = tar::Builder::new(Vec::new());
        tar.follow_symlinks(false);
        add_tree(&mut tar, rootfs, "", pick)?;
        let tar = tar.into_inner()?;
        diff_ids.push(format!("sha256:{:x}", Sha256::digest(&tar)));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar)?;
        layers.push(write_blob(layout, &gz.finish()?)?);
    }
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/bash"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))?;
    let config_desc = write_blob(layout, &config)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_desc.0, "size": config_desc.1},
        "layers": layers.iter().map(|(d, s)| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s})).collect::<Vec<_>>(),
    }))?;
    let m = write_blob(layout, &manifest)?;
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(
            &json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m.0, "size": m.1}]}),
        )?,
    )
}

fn write_blob(layout: &Path, bytes: &[u8]) -> io::Result<(String, u64)> {
    let hex = format!("{:x}", Sha256::digest(bytes));
    let mut f = BufWriter::new(File::create(layout.join("blobs/sha256").join(&hex))?);
    f.write_all(bytes)?;
    Ok((format!("sha256:{hex}"), bytes.len() as u64))
}

fn add_tree(
    tar: &mut tar::Builder<Vec<u8>>,
    root: &Path,
    rel: &str,
    pick: fn(&str) -> bool,
) -> io::Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut names: Vec<_> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let r = if rel.is_empty() {
            name.to_string_lossy().into_owned()
        } else {
            format!("{rel}/{}", name.to_string_lossy())
        };
        let full = root.join(&r);
        let meta = std::fs::symlink_metadata(&full)?;
        let is_dir = meta.is_dir();
        if pick(&r) && (meta.is_file() || is_dir || meta.file_type().is_symlink()) {
            tar.append_path_with_name(&full, &r)?;
        }
        // Descend wherever a picked path may lie below.
        if is_dir && (pick(&r) || r == "usr") {
            add_tree(tar, root, &r, pick)?;
        }
    }
    Ok(())
}
