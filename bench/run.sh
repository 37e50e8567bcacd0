#!/usr/bin/env bash
# Scanner benchmark: a real Debian root filesystem (debootstrap, about 460 MB with python3,
# git, gcc, perl, openssh-server, curl), packed as a 3-layer gzip OCI image and scanned with
# every analyzer and all shipped content. Prints, all measured in this one run:
#   - the decompression floor (flate2 gunzip to nowhere), 1 and 2 threads;
#   - customs (library, in a child process) with 1 and 2 jobs: MB/s, ratio to the floor,
#     peak RSS;
#   - Debian's `yara` CLI with the same rule files over the same files unpacked on disk;
#   - the `customs` binary end to end: cold (empty layer cache) and warm (same image again).
# Needs root (debootstrap) and Debian's package mirror on first run.
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
command -v yara >/dev/null || { apt-get install -y -qq yara || true; }
# One release build of the whole workspace (one feature set, so yara-x is built once).
cargo build --release --workspace --bins --examples -q
target/release/examples/bench "$work/rootfs" "$work"

# The binary end to end, with the layer cache: cold, then warm. Best of three each.
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
now() { date +%s.%N; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
# Exit 1 (findings at or above --fail-on) is a result, not a failure of the benchmark.
scan() {
  target/release/customs scan --quiet --format json --cache-dir "$cache" "oci:$work/layout" \
    >/dev/null || [ $? -eq 1 ]
}
cold=() warm=()
for _ in 1 2 3; do
  rm -rf "${cache:?}"/*
  t0=$(now)
  scan
  t1=$(now)
  scan
  t2=$(now)
  cold+=("$(awk "BEGIN{print $t1 - $t0}")") warm+=("$(awk "BEGIN{print $t2 - $t1}")")
done
printf 'customs binary, end to end, 1 image: cold cache %.2f s, warm rescan %.3f s\n' \
  "$(best "${cold[@]}")" "$(best "${warm[@]}")"
