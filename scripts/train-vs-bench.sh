#!/usr/bin/env bash
# Training throughput of `revbench train` on real CIFAR-10 batches (loader thread, and the
# inline loader) against `revbench bench step` on a fixed random batch, interleaved in one
# sitting: the three should agree when loading and augmentation cost the step nothing.
# train's figure is its logged images_per_sec of the evaluation windows after the first (so
# the first step's start-up cost is left out, as bench step leaves out its warm-up steps);
# bench step's is batch / mean step time, the same kind of average.
# Usage: scripts/train-vs-bench.sh [ARCH (resnet-32)] [ROUNDS (2)] [STEPS (30)] [THREADS (2)]
# Needs CIFAR-10 ($REVBENCH_DATA or data/).
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-resnet-32}
rounds=${2:-2}
steps=${3:-30}
threads=${4:-2}
rb=build/revbench
[ -x "$rb" ] || { echo "build first: make" >&2; exit 1; }
window=$((steps / 3))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "# $(date -u +%FT%TZ) cpu:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) $arch batch 100," \
     "$threads threads, $steps steps, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %-22s %10s\n' round what img_per_s

train_ips() { # loader round
  local db="$tmp/$1-$2.db"
  "$rb" train --arch "$arch" --dataset cifar10 --steps "$steps" --eval-every "$window" \
    --test-subset 100 --checkpoint-every 0 --threads "$threads" --loader "$1" --seed "$2" \
    --db "$db" --checkpoint-dir "$tmp/ckpt" --quiet > /dev/null
  # equal windows: the rate over all of them is the harmonic mean of theirs
  sqlite3 "$db" "SELECT count(*) / sum(1.0 / value) FROM metrics WHERE name = 'images_per_sec' AND step > $window"
}

for r in $(seq 1 "$rounds"); do
  printf '%-5s %-22s %10.1f\n' "$r" "train --loader thread" "$(train_ips thread "$r")"
  ips=$("$rb" bench step --arch "$arch" --threads "$threads" --steps "$((steps / 2))" \
        --no-breakdown --json | sed -n 's/.*"images_per_sec_mean":\([0-9.]*\).*/\1/p')
  printf '%-5s %-22s %10.1f\n' "$r" "bench step (mean)" "$ips"
  printf '%-5s %-22s %10.1f\n' "$r" "train --loader inline" "$(train_ips inline "$r")"
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
