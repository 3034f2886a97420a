#!/usr/bin/env bash
# fetch-cifar.sh: put the official CIFAR-10 and CIFAR-100 binary files into DIR, checked.
#
#   scripts/fetch-cifar.sh [--download] [--only cifar-10|cifar-100] [DIR]     (DIR default: data)
#
# Writes DIR/cifar-10-batches-bin/ (data_batch_1..5.bin, test_batch.bin) and
# DIR/cifar-100-binary/ (train.bin, test.bin), the layout librevnet reads (include/revnet/data.h); then run
# with REVBENCH_DATA=DIR, or with DIR = ./data, from the folder that holds it.
#
# Where the files come from:
#   1. Files already in DIR whose sha256 matches the official one are kept (nothing to do).
#   2. On the project machines, the shared copy ../shared/data/restore-cifar (relative to the
#      repository root) rebuilds the official files byte for byte, offline, in ~10 s.
#   3. Otherwise (or with --download) the official archives are downloaded with curl from
#      https://www.cs.toronto.edu/~kriz/ (override with CIFAR_BASE_URL for a mirror), their md5
#      checked against the values published on that page, and unpacked into DIR.
# Every unpacked file is then checked against its official sha256 (below). Exit status: 0 all
# files present and verified; 1 a download, checksum or unpack failed; 2 bad usage or a missing
# tool. Nothing is left half-written: archives go to DIR/.fetch-cifar/ and are removed after use.
set -euo pipefail

prog=fetch-cifar.sh
die() { echo "$prog: $1" >&2; exit "${2:-1}"; }

repo_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
shared_restore="$(cd "$repo_root/.." && pwd)/shared/data/restore-cifar"
base_url=${CIFAR_BASE_URL:-https://www.cs.toronto.edu/~kriz}

force_download=0
only=""
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --download) force_download=1 ;;
    --only)
      [ $# -ge 2 ] || die "--only needs cifar-10 or cifar-100" 2
      only=$2; shift ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" 2 ;;
    *) [ -z "$dir" ] || die "only one DIR may be given" 2; dir=$1 ;;
  esac
  shift
done
dir=${dir:-data}
case "$only" in
  "") sets="cifar-10 cifar-100" ;;
  cifar-10|cifar-100) sets=$only ;;
  *) die "--only takes cifar-10 or cifar-100, not '$only'" 2 ;;
esac

# sha256 of the official uncompressed files (the public checksums of the files inside the
# official archives; the same list is in /work/shared/data/README.md).
sums_cifar_10="\
cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5  cifar-10-batches-bin/data_batch_1.bin
a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed  cifar-10-batches-bin/data_batch_2.bin
bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67  cifar-10-batches-bin/data_batch_3.bin
014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48  cifar-10-batches-bin/data_batch_4.bin
755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add  cifar-10-batches-bin/data_batch_5.bin
8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b  cifar-10-batches-bin/test_batch.bin"
sums_cifar_100="\
f31298fc616915fa142368359df1c4ca2ae984d6915ca468b998a5ec6aeebf29  cifar-100-binary/train.bin
d8b1e6b7b3bee4020055f0699b111f60b1af1e262aeb93a0b659061746f8224a  cifar-100-binary/test.bin"

# md5 of the official archives, as published on https://www.cs.toronto.edu/~kriz/cifar.html.
archive_cifar_10=cifar-10-binary.tar.gz
md5_cifar_10=c32a1d4ab5d03f1284b67883e8d87530
archive_cifar_100=cifar-100-binary.tar.gz
md5_cifar_100=03b5dce01913d631647c71ecec9e9cb8

sums_of() { if [ "$1" = cifar-10 ]; then echo "$sums_cifar_10"; else echo "$sums_cifar_100"; fi; }

command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (package coreutils)" 2

# verify SET: 0 when every file of SET in DIR matches; otherwise prints what is wrong.
verify() {
  local out
  if out=$(cd "$dir" 2>/dev/null && sums_of "$1" | sha256sum --check --strict 2>&1); then
    return 0
  fi
  printf '%s\n' "$out" | grep -v -e ': OK$' -e '^sha256sum:' | sed "s|^|  $dir/|" >&2 || true
  return 1
}

download_set() {
  local set=$1 archive md5 url got
  if [ "$set" = cifar-10 ]; then archive=$archive_cifar_10; md5=$md5_cifar_10
  else archive=$archive_cifar_100; md5=$md5_cifar_100; fi
  for tool in curl md5sum tar; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found; install it, or copy the data by hand" 2
  done
  local work="$dir/.fetch-cifar"
  mkdir -p "$work"
  url="$base_url/$archive"
  echo "$prog: downloading $url" >&2
  if ! curl -fL --progress-bar --retry 3 --connect-timeout 20 -o "$work/$archive.part" "$url"; then
    rm -f "$work/$archive.part"; rmdir "$work" 2>/dev/null || true
    die "download of $url failed (no network?). Download $archive by hand from
  https://www.cs.toronto.edu/~kriz/cifar.html, unpack it into $dir, and run this script again
  to verify; or set CIFAR_BASE_URL to a mirror."
  fi
  got=$(md5sum "$work/$archive.part" | cut -d' ' -f1)
  if [ "$got" != "$md5" ]; then
    rm -f "$work/$archive.part"; rmdir "$work" 2>/dev/null || true
    die "$archive from $url has md5 $got, but the official page publishes $md5:
  the download is damaged or not the official file; try again or use another mirror."
  fi
  mv "$work/$archive.part" "$work/$archive"
  echo "$prog: $archive md5 OK; unpacking into $dir" >&2
  if ! tar -xzf "$work/$archive" -C "$dir"; then
    die "unpacking $work/$archive into $dir failed (disk full? permissions?)"
  fi
  rm -f "$work/$archive"
  rmdir "$work" 2>/dev/null || true
}

mkdir -p "$dir" || die "cannot create $dir" 1
status=0
for set in $sets; do
  if verify "$set" 2>/dev/null; then
    echo "$prog: $set already present and verified in $dir" >&2
    continue
  fi
  if [ "$force_download" = 0 ] && [ -x "$shared_restore" ]; then
    echo "$prog: restoring $set from the shared copy ($shared_restore)" >&2
    "$shared_restore" --only "$set" "$dir" >&2 || {
      echo "$prog: the shared restore of $set failed; see its message above" >&2
      status=1; continue; }
  else
    download_set "$set"
  fi
  if verify "$set"; then
    echo "$prog: $set verified (sha256 of every file matches the official one)" >&2
  else
    echo "$prog: $set in $dir does not match the official checksums (files listed above);" \
         "delete them and run again" >&2
    status=1
  fi
done
if [ "$status" = 0 ]; then
  echo "$prog: done; use the data with REVBENCH_DATA=$(cd "$dir" && pwd)" >&2
fi
exit "$status"
