#!/usr/bin/env bash
# Installs what revbench needs on Debian 12. As root it runs apt-get; otherwise it prints the
# command to run and exits 1. With --check it only reports whether anything is missing (exit 1
# if so), which is what the make targets call before building.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libopenblas-dev          # CPU GEMM
  libdnnl-dev              # oneDNN: the fast CPU backend's convolutions
  libsqlite3-dev sqlite3   # results database and the plots' queries
  libcriterion-dev         # tests
  clang libclang-rt-14-dev libomp-dev  # make fuzz: libFuzzer, and OpenMP for clang
  libinih-dev              # experiment files
  libcjson-dev             # reading `revbench mem --json` in `revbench run`
  zlib1g-dev               # Fashion-MNIST .gz files
  gnuplot-nox              # plots
  dataset-fashion-mnist    # a small real dataset that needs no download
  webp python3             # restoring CIFAR from the project machines' shared copy
  curl ca-certificates     # fetching CIFAR from the official site elsewhere
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${1:-}" = "--check" ]; then
  [ ${#missing[@]} -eq 0 ] && exit 0
  echo "revbench: missing Debian packages: ${missing[*]}" >&2
  exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "revbench: all dependencies are installed"
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "revbench: missing packages; as root, run:" >&2
  echo "  apt-get update && $cmd" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
$cmd
