#!/usr/bin/env bash
# Scanner benchmark: a real Debian root filesystem (debootstrap, about 460 MB with python3,
# git, gcc, perl, openssh-server, curl), packed as a 3-layer gzip OCI image, scanned by
# customs with every file hashed; figures are printed against the decompression floor
# measured in the same run. Needs root (debootstrap) and Debian's package mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-target/bench}
mkdir -p "$work"
if [ ! -x "$work/rootfs/usr/bin/python3" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
  rm -rf "$work/rootfs" "$work/layout"
  debootstrap --variant=minbase --include=python3,git,curl,openssh-server,gcc,perl \
    bookworm "$work/rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log"
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
fi
cargo run --release -q -p customs-analyze --example bench -- "$work/rootfs" "$work"
