#!/usr/bin/env bash
# Training throughput of revbench against PyTorch on this machine, interleaved in one sitting
# (the machines are shared and noisy: only side-by-side ratios mean anything). PyTorch runs the
# peers' script from the project machines' shared folder (../shared/peers/torch_cifar.py),
# which is not part of this project; without it, or without python3-torch, only revbench runs.
# Usage: scripts/compare-pytorch.sh [ROUNDS (default 2)] [THREADS (default 2)]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
threads=${2:-2}
rb=build/revbench
[ -x "$rb" ] || { echo "build first: make" >&2; exit 1; }
peer="$(cd .. && pwd)/shared/peers/torch_cifar.py"
have_torch=0
if [ -f "$peer" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then have_torch=1; fi

echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) threads=$threads" \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} load=$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-10s %-11s %-8s %10s\n' round program net backward img_per_s
for r in $(seq 1 "$rounds"); do
  for cfg in "resnet-32 standard resnet32 autograd" "revnet-38 standard revnet38 autograd" \
             "revnet-38 reversible revnet38 reversible"; do
    set -- $cfg
    ips=$("$rb" mem --arch "$1" --mode "$2" --steps 8 --threads "$threads" --json |
          sed -n 's/.*"images_per_sec":\([0-9.]*\).*/\1/p')
    printf '%-6s %-10s %-11s %-8s %10.1f\n' "$r" revbench "$1" "$2" "$ips"
    if [ "$have_torch" = 1 ]; then
      tps=$(OMP_NUM_THREADS=$threads /usr/bin/python3 "$peer" bench --model "$3" --mode "$4" \
            --threads "$threads" --iters 20 2>/dev/null |
            sed -n 's/.*"train_img_s": *\([0-9.]*\).*/\1/p' | tail -1)
      printf '%-6s %-10s %-11s %-8s %10.1f\n' "$r" pytorch "$1" "$4" "${tps:-0}"
    fi
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
