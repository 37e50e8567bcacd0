#!/usr/bin/env bash
# Builds the real, clean Debian root filesystems that the false-positive tests scan:
#   DIR/minbase   debootstrap --variant=minbase bookworm
#   DIR/services  minbase plus python3, php, nginx, openssh-server, cron, netcat, curl
# Each is built once and reused (delete it to rebuild). Needs root and Debian's mirror.
set -euo pipefail
dir=${1:-target/fp}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$dir"
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
build() { # build NAME [INCLUDE]
  local name=$1 include=${2:-}
  if [ -f "$dir/$name.complete" ]; then return; fi
  rm -rf "${dir:?}/$name"
  debootstrap --variant=minbase ${include:+--include=$include} bookworm "$dir/$name" "$mirror" \
    >"$dir/$name.log" 2>&1 || { tail -20 "$dir/$name.log" >&2; exit 1; }
  # What a container image build leaves out: package caches and lists.
  rm -rf "$dir/$name"/var/cache/apt/archives/*.deb "$dir/$name"/var/lib/apt/lists/*
  touch "$dir/$name.complete"
}
build minbase
build services python3,php-cli,nginx,openssh-server,cron,netcat-openbsd,curl
echo "clean root filesystems ready in $dir: minbase services"
