#!/usr/bin/env bash
# gpu-check.sh: everything revbench can check on a machine with an NVIDIA GPU, in one go.
#
#   scripts/gpu-check.sh            (from anywhere; OUT=DIR for the output folder, default ./gpu-out)
#
# Steps, each run under a time limit and recorded (status, seconds) whether it passes or not;
# a failing step never stops the ones after it:
#   1. nvidia-smi (the GPU, driver, memory in use) into $OUT/nvidia-smi.txt
#   2. configure build-gpu with the CUDA backend for sm_90 only (REVBENCH_CUDA_ARCHS, default 90;
#      the full list is only needed for a portable build) and build it with -j$(nproc)
#   3. tests/test_cuda (every CUDA op against the CPU) and tests/test_cuda_model (a training
#      step against the CPU, the revnet-38 reconstruction angle, planned == measured memory,
#      checkpoint == standard gradients), then the rest of ctest
#   4. gpu_probe: one tiny revbench step on the GPU; if it fails (no GPU, driver too old) the
#      harness steps below are recorded as skipped with its message instead of each failing
#   5. revbench bench conv --device cuda --json
#   6. revbench mem --device cuda --batch 100 --steps 5 --json for resnet-32/110/164 (standard,
#      checkpoint) and revnet-38/110/164 (standard, reversible); revbench angle on revnet-38
#   7. revbench train --device cuda --steps 300 for resnet-32 and revnet-38 on CIFAR-10 into
#      $OUT/gpu.db (data: $REVBENCH_DATA, else restored from the shared copy into a temp dir)
#   8. CPU against GPU, for scale: revbench mem on resnet-32 on the CPU (all cores, 3 steps),
#      and where PyTorch is installed the same ResNet-32 step in PyTorch on the GPU and on the
#      CPU (batch 100, FP32 without TF32 like revbench's default)
# Outputs under $OUT: gpu-check.log (everything), summary.tsv (step, status, seconds), one
# <step>.json per JSON-producing step, logs/<step>.out|err, gpu.db, nvidia-smi*.txt.
# The whole run is meant to fit in about 8 minutes on an H200 (GPU_CHECK_BUDGET_S, default 470);
# a step that would start past the budget is recorded as skipped. Exit status: 0 if every step
# that ran passed, 1 otherwise.
set -uo pipefail

repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
OUT=${OUT:-./gpu-out}
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
BUILD=${BUILD:-$repo/build-gpu}
ARCHS=${REVBENCH_CUDA_ARCHS:-90}
JOBS=${JOBS:-$(nproc)}
BUDGET=${GPU_CHECK_BUDGET_S:-470}
LOG=$OUT/gpu-check.log
SUMMARY=$OUT/summary.tsv
RB=$BUILD/revbench
start=$(date +%s)
failures=0

: >"$LOG"
printf 'step\tstatus\tseconds\n' >"$SUMMARY"
say() { echo "[gpu-check +$(($(date +%s) - start))s] $*" | tee -a "$LOG"; }

# step NAME LIMIT_S [--json] CMD...: runs CMD with a time limit (cut to what is left of the
# budget); stdout to $OUT/NAME.json with --json, else to logs/NAME.out; stderr to logs/NAME.err;
# both (but not the JSON) appended to the log afterwards. Records the outcome; returns CMD's
# status.
step() {
    local name=$1 limit=$2 json=0
    shift 2
    if [ "${1:-}" = --json ]; then json=1; shift; fi
    local left=$((BUDGET - ($(date +%s) - start)))
    if [ "$left" -lt 15 ]; then
        say "SKIP $name: time budget spent"
        printf '%s\tskipped (time)\t0\n' "$name" >>"$SUMMARY"
        return 0
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    say "RUN  $name (limit ${limit}s): $*"
    local t0 rc
    t0=$(date +%s)
    local out=$OUT/logs/$name.out
    [ "$json" = 1 ] && out=$OUT/$name.json
    timeout --kill-after=10 "$limit" "$@" >"$out" 2>"$OUT/logs/$name.err"
    rc=$?
    [ "$json" = 1 ] || cat "$out" >>"$LOG"
    cat "$OUT/logs/$name.err" >>"$LOG"
    local dt=$(($(date +%s) - t0)) status=ok
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        status="timeout"
    elif [ "$rc" -ne 0 ]; then
        status="failed (exit $rc)"
    fi
    [ "$rc" -ne 0 ] && failures=$((failures + 1))
    say "$(printf '%-4s' "${status%% *}") $name (${dt}s)"
    printf '%s\t%s\t%s\n' "$name" "$status" "$dt" >>"$SUMMARY"
    return "$rc"
}

# record NAME STATUS: a step decided without running anything (e.g. a missing prerequisite).
record() {
    say "SKIP $1: $2"
    printf '%s\t%s\t0\n' "$1" "$2" >>"$SUMMARY"
}

say "repository $repo, output $OUT, build $BUILD, archs $ARCHS, jobs $JOBS, budget ${BUDGET}s"
say "git revision $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"

# 1. The GPU as the driver sees it.
if command -v nvidia-smi >/dev/null; then
    step nvidia-smi 20 bash -c "nvidia-smi >'$OUT/nvidia-smi.txt' 2>&1 && nvidia-smi \
        --query-gpu=name,driver_version,memory.total,memory.used,clocks.max.sm,power.limit \
        --format=csv >>'$OUT/nvidia-smi.txt'"
else
    record nvidia-smi "skipped (no nvidia-smi)"
fi

# 2. Configure and build. The configure output must say the CUDA backend is on, or nothing after
# it tests the GPU. When the whole build fails (work in progress elsewhere), the CUDA test and
# the revbench command are still built on their own, so one broken file does not hide the rest.
built_all=0 built_test=0 built_rb=0
if step configure 120 cmake -S "$repo" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DREVBENCH_CUDA=ON \
        "-DREVBENCH_CUDA_ARCHS=$ARCHS"; then
    if grep -q "revbench: CUDA backend ON" "$OUT/logs/configure.out"; then
        if step build 300 cmake --build "$BUILD" -j "$JOBS"; then
            built_all=1 built_test=1 built_rb=1
        else
            step build_test_cuda 200 cmake --build "$BUILD" -j "$JOBS" --target test_cuda &&
                built_test=1
            step build_revbench 200 cmake --build "$BUILD" -j "$JOBS" --target revbench &&
                built_rb=1
        fi
    else
        record build "failed (CMake did not enable the CUDA backend: nvcc or cuDNN not found)"
        failures=$((failures + 1))
    fi
fi

# 3. Tests: the CUDA ops first (the reason this script exists), then everything else.
if [ "$built_test" = 1 ]; then
    step test_cuda 180 "$BUILD/tests/test_cuda" --jobs 1 --verbose "--json=$OUT/test_cuda_report.json"
    if [ "$built_all" = 1 ]; then
        step test_cuda_model 180 "$BUILD/tests/test_cuda_model" --jobs 1 --verbose \
            "--json=$OUT/test_cuda_model_report.json"
    else
        record test_cuda_model "skipped (the full build failed)"
    fi
else
    record test_cuda "skipped (not built)"
fi
if [ "$built_all" = 1 ]; then
    step ctest 240 bash -c "cd '$BUILD' && OMP_NUM_THREADS=1 ctest --output-on-failure \
        -j '$JOBS' -E '^test_cuda(_model)?\$' --timeout 200"
else
    record ctest "skipped (the full build failed)"
fi

# 4. Can revbench use the GPU at all? One tiny step; its error message says why not.
gpu_ok=0
if [ "$built_rb" = 1 ]; then
    step gpu_probe 60 "$RB" mem --arch resnet-basic-1 --batch 2 --steps 1 --device cuda && gpu_ok=1
fi

# 5-7. The harness on the GPU. Commands as documented in DESIGN.md and `revbench CMD --help`.
if [ "$built_rb" = 1 ] && [ "$gpu_ok" = 0 ]; then
    why=$(tail -n 1 "$OUT/logs/gpu_probe.err" 2>/dev/null | tr '\t' ' ')
    record harness_gpu "skipped (no usable GPU: ${why:-see logs/gpu_probe.err})"
elif [ "$built_rb" = 1 ]; then
    step bench_conv 60 --json "$RB" bench conv --device cuda --json
    for spec in resnet-32:standard resnet-32:checkpoint resnet-110:standard resnet-110:checkpoint \
                resnet-164:standard resnet-164:checkpoint revnet-38:standard revnet-38:reversible \
                revnet-110:standard revnet-110:reversible revnet-164:standard \
                revnet-164:reversible; do
        arch=${spec%%:*} mode=${spec##*:}
        step "mem_${arch}_${mode}" 45 --json "$RB" mem --arch "$arch" --mode "$mode" \
            --device cuda --batch 100 --steps 5 --json
    done
    step angle_revnet-38 45 --json "$RB" angle --arch revnet-38 --device cuda --json

    # CIFAR-10: $REVBENCH_DATA if set; else the shared packed copy, restored into a temp dir.
    data_ok=0
    if [ -n "${REVBENCH_DATA:-}" ]; then
        data_ok=1
    else
        restore=""
        for c in "$repo/../shared/data/restore-cifar" "$repo/shared/data/restore-cifar"; do
            [ -x "$c" ] && restore=$c && break
        done
        if [ -n "$restore" ]; then
            tmp_data=$(mktemp -d)
            trap 'rm -rf "$tmp_data"' EXIT
            step restore_cifar 90 "$restore" --only cifar-10 "$tmp_data" &&
                export REVBENCH_DATA=$tmp_data && data_ok=1
        else
            record restore_cifar "skipped (REVBENCH_DATA unset and no shared/data/restore-cifar)"
        fi
    fi
    if [ "$data_ok" = 1 ]; then
        for arch in resnet-32 revnet-38; do
            step "train_$arch" 100 --json "$RB" train --arch "$arch" --dataset cifar10 \
                --device cuda --steps 300 --db "$OUT/gpu.db" --json
        done
    else
        record train "skipped (no CIFAR-10 data)"
    fi
else
    record revbench "skipped (revbench not built)"
fi
command -v nvidia-smi >/dev/null && nvidia-smi >"$OUT/nvidia-smi-after.txt" 2>&1

# 8. CPU against GPU, for scale. revbench's own CPU number (resnet-32, batch 100, every core)
# beside its GPU number from mem_resnet-32_standard; then PyTorch on both devices where it is
# installed (a CPU-only PyTorch gives the CPU row alone). CIFAR ResNet-32 (3 stages of 5 basic
# blocks, 16/32/64 channels), batch 100, random data, FP32 without TF32 like revbench's
# default; the GPU times the last 30 of 40 steps, the CPU the last 3 of 5.
if [ "$built_rb" = 1 ]; then
    step cpu_mem_resnet-32_standard 90 --json "$RB" mem --arch resnet-32 --mode standard \
        --device cpu --threads "$JOBS" --batch 100 --steps 3 --json
fi
if python3 -c 'import torch' >/dev/null 2>&1; then
    cat >"$OUT/torch_resnet32.py" <<'PY'
import json, sys, time, torch, torch.nn as nn, torch.nn.functional as F

torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.benchmark = True


class Basic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.stride, self.pad = stride, (cout - cin) // 2

    def forward(self, x):
        h = self.c2(F.relu(self.bn2(self.c1(F.relu(self.bn1(x))))))
        if self.stride > 1:
            x = F.avg_pool2d(x, 2)
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, self.pad, self.pad))
        return x + h


class ResNet32(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(5):
                blocks.append(Basic(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.blocks, self.bn, self.fc = nn.Sequential(*blocks), nn.BatchNorm2d(64), nn.Linear(64, 10)

    def forward(self, x):
        h = F.relu(self.bn(self.blocks(self.stem(x))))
        return self.fc(h.mean((2, 3)))


device, batch = sys.argv[1], 100
warm, timed = (10, 30) if device == "cuda" else (2, 3)
dev = torch.device(device)
sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
model = ResNet32().to(dev)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
x = torch.randn(batch, 3, 32, 32, device=dev)
y = torch.randint(0, 10, (batch,), device=dev)
for i in range(warm + timed):
    if i == warm:
        sync()
        t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    opt.step()
sync()
dt = (time.perf_counter() - t0) / timed
out = {"framework": "pytorch", "torch": torch.__version__, "device": device,
       "threads": torch.get_num_threads(), "arch": "resnet-32", "batch": batch, "tf32": False,
       "ms_per_step": round(dt * 1e3, 3), "img_s": round(batch / dt, 1)}
if device == "cuda":
    out.update(cudnn=torch.backends.cudnn.version(), gpu=torch.cuda.get_device_name(0),
               max_memory_allocated_bytes=torch.cuda.max_memory_allocated())
print(json.dumps(out))
PY
    if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
            >/dev/null 2>&1; then
        step torch_resnet32_cuda 120 --json python3 "$OUT/torch_resnet32.py" cuda
    else
        record torch_resnet32_cuda "skipped (PyTorch sees no GPU)"
    fi
    step torch_resnet32_cpu 90 --json python3 "$OUT/torch_resnet32.py" cpu
else
    record torch_resnet32 "skipped (no PyTorch)"
fi

say "done in $(($(date +%s) - start))s; $failures step(s) failed; summary:"
if command -v column >/dev/null; then
    column -t -s $'\t' "$SUMMARY" | tee -a "$LOG"
else
    tee -a "$LOG" <"$SUMMARY"
fi
[ "$failures" -eq 0 ]
