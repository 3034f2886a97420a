#!/usr/bin/env bash
# Training throughput of revbench against PyTorch on this machine: whole training steps at
# batch 100 (revbench `bench step`, PyTorch the peers' `torch_cifar.py bench`, both images/s
# from the median step), interleaved in one sitting and at each thread count, because the
# machines are shared and noisy and only side-by-side ratios mean anything. The order of the
# two programs alternates between rounds, so a drift in load favours neither.
#
# PyTorch runs the peers' script from the project machines' shared folder
# (../shared/peers/torch_cifar.py; not part of this project) with Debian's python3-torch;
# without either, only revbench runs and the ratios are left out.
#
# Usage: scripts/compare-pytorch.sh [ROUNDS (default 2)] [THREADS (default "1 2")] [STEPS (default 5)]
#   e.g. scripts/compare-pytorch.sh 3 "2"      three rounds at 2 threads only
# OPENBLAS_CORETYPE is taken as it is set (and printed); run the script once with it unset
# and once with it set as the machine sets it (e.g. OPENBLAS_CORETYPE=Haswell) to see both.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
threads_list=${2:-"1 2"}
steps=${3:-5}
rb=build/revbench
[ -x "$rb" ] || { echo "build first: make" >&2; exit 1; }
peer="$(cd .. && pwd)/shared/peers/torch_cifar.py"
have_torch=0
if [ -f "$peer" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then have_torch=1; fi

# revbench arch, mode | PyTorch model, mode
configs=("resnet-32 standard resnet32 autograd"
         "revnet-38 standard revnet38 autograd"
         "revnet-38 reversible revnet38 reversible"
         "resnet-110 standard resnet110 autograd"
         "revnet-110 reversible revnet110 reversible")

torch_version=none
[ "$have_torch" = 1 ] && torch_version=$(/usr/bin/python3 -c 'import torch; print(torch.__version__)')
echo "# $(date -u +%FT%TZ) OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; threads: $threads_list;" \
     "rounds $rounds; batch 100; revbench $steps steps, PyTorch $steps iterations, each after" \
     "its warm-up; PyTorch $torch_version"
# The CPU model, ISA, backends and library versions, as every run records them.
"$rb" --version | grep -v '^$' | sed 's/^/# /'
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"

results=$(mktemp)
trap 'rm -f "$results"' EXIT

run_revbench() { # arch mode threads
  "$rb" bench step --arch "$1" --mode "$2" --threads "$3" --steps "$steps" --no-breakdown --json |
    sed -n 's/.*"images_per_sec":\([0-9.]*\).*/\1/p'
}
run_torch() { # model mode threads
  OMP_NUM_THREADS=$3 /usr/bin/python3 "$peer" bench --model "$1" --mode "$2" --threads "$3" \
    --iters "$steps" --warmup 2 2>/dev/null | sed -n 's/.*"train_img_s": *\([0-9.]*\).*/\1/p' | tail -1
}

printf '%-7s %-5s %-10s %-11s %-10s %9s %9s %7s\n' threads round net backward first \
       revbench pytorch ratio
for t in $threads_list; do
  for r in $(seq 1 "$rounds"); do
    for cfg in "${configs[@]}"; do
      set -- $cfg
      ips=0 tps=0
      if [ $((r % 2)) = 1 ] || [ "$have_torch" = 0 ]; then
        first=revbench
        ips=$(run_revbench "$1" "$2" "$t")
        [ "$have_torch" = 1 ] && tps=$(run_torch "$3" "$4" "$t")
      else
        first=pytorch
        tps=$(run_torch "$3" "$4" "$t")
        ips=$(run_revbench "$1" "$2" "$t")
      fi
      ratio=$(awk -v a="${ips:-0}" -v b="${tps:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
      printf '%-7s %-5s %-10s %-11s %-10s %9.1f %9.1f %7s\n' "$t" "$r" "$1" "$2" "$first" \
             "${ips:-0}" "${tps:-0}" "$ratio"
      echo "$t $1 $2 ${ips:-0} ${tps:-0}" >> "$results"
    done
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Medians over the rounds, the ratio of the medians, and the scaling from the fewest to the
# most threads asked for.
echo
echo "# summary: median images/s over $rounds rounds"
awk -v tl="$threads_list" '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { key = $2 " " $3; rb[$1, key] = rb[$1, key] " " $4; pt[$1, key] = pt[$1, key] " " $5
    if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
  END {
    nt = split(tl, ts, " ")
    printf "%-7s %-10s %-11s %9s %9s %7s\n", "threads", "net", "backward", "revbench", "pytorch", "ratio"
    for (k = 1; k <= n; k++) for (i = 1; i <= nt; i++) {
      split(order[k], f, " ")
      a = median(rb[ts[i], order[k]]); b = median(pt[ts[i], order[k]])
      med_rb[ts[i], order[k]] = a; med_pt[ts[i], order[k]] = b
      printf "%-7s %-10s %-11s %9.1f %9.1f %7s\n", ts[i], f[1], f[2], a, b, (b > 0 ? sprintf("%.2f", a / b) : "-")
    }
    if (nt < 2) exit
    lo = ts[1]; hi = ts[nt]
    printf "\n# scaling from %s to %s threads (median images/s at %s / at %s)\n", lo, hi, hi, lo
    printf "%-10s %-11s %9s %9s\n", "net", "backward", "revbench", "pytorch"
    for (k = 1; k <= n; k++) {
      split(order[k], f, " ")
      a0 = med_rb[lo, order[k]]; a1 = med_rb[hi, order[k]]
      b0 = med_pt[lo, order[k]]; b1 = med_pt[hi, order[k]]
      printf "%-10s %-11s %9s %9s\n", f[1], f[2], (a0 > 0 ? sprintf("%.2fx", a1 / a0) : "-"), (b0 > 0 ? sprintf("%.2fx", b1 / b0) : "-")
    }
  }' "$results"

# The ceiling: a step cannot be faster than its convolution work (counted by `bench step`, the
# same for any implementation of the network that does not cut FLOPs, e.g. with Winograd) at the
# machine's FMA peak measured now (`bench peak`). ceiling = images/s at that bound; the last
# column is how far above PyTorch that bound lies, i.e. the largest ratio any direct-convolution
# implementation could reach here.
echo
echo "# ceiling: the convolutions' work per step at the FMA peak (bench peak, measured now)"
printf '%-7s %-10s %-11s %11s %9s %9s %9s %9s\n' threads net backward "conv GFLOP" "peak" \
       ceiling "rb/ceil" "ceil/pt"
for t in $threads_list; do
  peak=$("$rb" bench peak --threads "$t" --json | sed -n 's/.*"peak_gflops":\([0-9.]*\).*/\1/p')
  for cfg in "${configs[@]}"; do
    set -- $cfg
    work=$("$rb" bench step --arch "$1" --mode "$2" --threads "$t" --steps 1 --json |
           sed -n 's/.*"conv_gflop_per_step":\([0-9.]*\).*/\1/p')
    awk -v t="$t" -v net="$1" -v mode="$2" -v work="$work" -v peak="$peak" '
      function median(list,   n, a, i, j, x) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      }
      $1 == t && $2 == net && $3 == mode { rb = rb " " $4; pt = pt " " $5 }
      END {
        ceil = 100 * peak / work
        a = median(rb); b = median(pt)
        printf "%-7s %-10s %-11s %11.2f %9.1f %9.1f %9s %9s\n", t, net, mode, work, peak, ceil,
               sprintf("%.2f", a / ceil), (b > 0 ? sprintf("%.2f", ceil / b) : "-")
      }' "$results"
  done
done
