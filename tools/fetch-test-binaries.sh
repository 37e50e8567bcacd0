#!/usr/bin/env bash
# Fetches real binaries the tests need from Debian's archive into target/test-binaries/
# (never committed, never installed system-wide):
#   xmrig  ./usr/bin/xmrig from trixie's `xmrig` package (bookworm has none). A sample: the
#          tests only read it, never run it.
#   upx    ./usr/bin/upx-ucl from bookworm-backports' `upx-ucl` (bookworm main has none). A
#          tool: the executables tests run it on busybox to get a real UPX-packed ELF.
# Uses a private apt configuration under target/test-binaries/apt (its own sources list,
# lists and cache), so the system's apt sources and state are left alone.
# Idempotent: a binary already in place is kept. Needs Debian's mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/test-binaries
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
a=$PWD/$out/apt
mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/deb"
cat >"$a/sources.list" <<LIST
deb $mirror trixie main
deb $mirror bookworm-backports main
LIST
apt_private=(
  -o Dir::Etc::SourceList="$a/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o Dir::State::Lists="$a/lists" -o Dir::Cache="$a/cache" -o APT::Sandbox::User=root
)
updated=

# fetch NAME PACKAGE SUITE VERSION SHA256 PATH_IN_DEB MODE
# Pinned version and digest; a newer build is accepted with a warning when the pinned one
# has left the archive, since the tests must hold for it too.
fetch() {
  local name=$1 pkg=$2 suite=$3 version=$4 sha=$5 path=$6 mode=$7
  if [ -s "$out/$name" ]; then
    echo "fetch-test-binaries: $out/$name already present"
    return
  fi
  if [ -z "$updated" ]; then
    apt-get "${apt_private[@]}" update -qq
    updated=1
  fi
  rm -f "$a"/deb/"${pkg}"_*.deb
  (cd "$a/deb" && {
    apt-get "${apt_private[@]}" download -qq "$pkg=$version" 2>/dev/null ||
      apt-get "${apt_private[@]}" download -qq "$pkg/$suite"
  })
  local deb got
  deb=$(ls "$a"/deb/"${pkg}"_*_amd64.deb | head -1)
  got=$(sha256sum "$deb" | cut -c1-64)
  if [ "$got" != "$sha" ]; then
    case "$deb" in
    *"_${version/+/%2b}_"* | *"_${version}_"*)
      echo "fetch-test-binaries: $deb has sha256 $got, pinned $sha" >&2
      exit 1
      ;;
    *) echo "fetch-test-binaries: warning: pinned $pkg $version is gone, using $(basename "$deb")" >&2 ;;
    esac
  fi
  rm -rf "$a/x"
  dpkg-deb -x "$deb" "$a/x"
  install -m "$mode" "$a/x/$path" "$out/$name.tmp"
  mv "$out/$name.tmp" "$out/$name"
  rm -rf "$a/x"
  echo "fetch-test-binaries: $out/$name from $(basename "$deb") (sha256 $got)"
}

fetch xmrig xmrig trixie 6.22.2+dfsg-2 \
  7573217eea797369158d0ed88d132715343948dc6d9b0bf1867a6db04362b0a6 usr/bin/xmrig 0644
fetch upx upx-ucl bookworm-backports 4.2.2-3~bpo12+1 \
  ed91556b8fb4f899e968cc9f3dd314414ce9e195f9acb945c7f12a660e60ad34 usr/bin/upx-ucl 0755
