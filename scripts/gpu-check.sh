#!/usr/bin/env bash
# gpu-check.sh: everything revbench measures and checks on an NVIDIA GPU, in one run of about
# five minutes, from a folder built elsewhere (`make gpu-bundle`, scripts/gpu-bundle.sh), so that
# the GPU machine needs no compiler, no build dependencies and no data.
#
#   scripts/gpu-check.sh [--bundle DIR] [--archive FILE] [--torch-script PATH] [--budget S]
#
#   --bundle DIR         the carried folder (default: gpu-bundle/ in the repository)
#   --archive FILE       where every output goes (default: $OUT/gpu-out.tar.gz when OUT is set,
#                        as on the device tool's machine, else ./gpu-out.tar.gz)
#   --torch-script PATH  the PyTorch peers script (default: the bundle's peers/torch_cifar.py,
#                        else ../shared/peers/torch_cifar.py); when absent, the PyTorch step
#                        says so and the rest goes on
#   --budget S           seconds for the whole run (default 330, or GPU_CHECK_BUDGET_S)
#
# Steps, in order of importance; each has its own time limit (cut to what is left of the budget,
# less a reserve for the archive) and a failing step never stops the ones after it:
#   preflight    one line listing whatever is missing (bundle files, the driver, cuDNN, cuBLAS,
#                nvidia-smi, shared libraries), then versions.txt: bundle manifest, driver,
#                the library folders chosen, what every binary resolves to
#   nvidia-smi   the GPU as the driver sees it (again at the end: clocks and memory after)
#   gpu_probe    one tiny revbench step on the GPU; if it fails, the harness steps are recorded
#                as skipped with its message (the tests still run: they say why in detail)
#   test_cuda_algo, test_cuda, test_cuda_numerics, test_cuda_model
#                the GPU tests with REVBENCH_REQUIRE_GPU=1 (no GPU fails them) and
#                CUDA_LAUNCH_BLOCKING=1 (a kernel fault names its launch): CPU against GPU for
#                every op forward and backward, BN accuracy, 64-bit indexing, a training step
#                against the CPU, the reversible-vs-stored gradient angle, planned == measured
#                memory, the deterministic algorithm policy
#   angle        revbench angle: revnet-38's reversible vs stored gradient angle on the GPU
#   speed        revbench mem (random CIFAR-shaped data, 12 steps, median after the first):
#                training images/s of resnet-32, revnet-38 (standard and reversible),
#                resnet-110, revnet-110 (standard and reversible) at batch 100 and 128
#   torch        the same networks and batches in PyTorch on the same GPU from the peers
#                script's models (FP32 without TF32, cudnn.benchmark on), where python3 has
#                PyTorch with CUDA
#   determinism  two processes under REVBENCH_CUDNN_ALGO=deterministic must choose the same
#                cuDNN algorithms
#   sweep        experiments/cifar-memory.ini on the GPU into gpu.db: planned and measured
#                memory and step time of the six networks in every mode, batch 100
# Outputs, all in the archive (written by an EXIT trap, so also after a failure or an
# interruption): gpu-check.log (everything), summary.tsv (step, status, seconds, note),
# results.txt (the figures), json/<step>.json, logs/<step>.out|err, gpu.db, nvidia-smi*.txt,
# versions.txt. Exit status 0 when every step that ran passed, 1 otherwise.
set -uo pipefail

repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
bundle=$repo/gpu-bundle
archive=${OUT:+$OUT/}gpu-out.tar.gz
torch_script=""
budget=${GPU_CHECK_BUDGET_S:-330}
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
        --bundle) bundle=${2:?--bundle needs a folder}; shift 2 ;;
        --archive) archive=${2:?--archive needs a file}; shift 2 ;;
        --torch-script) torch_script=${2:?--torch-script needs a path}; shift 2 ;;
        --budget) budget=${2:?--budget needs seconds}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu-check: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
case $budget in ''|*[!0-9]*) echo "gpu-check: --budget must be whole seconds" >&2; exit 2 ;; esac
bundle=$(cd "$bundle" 2>/dev/null && pwd || echo "$bundle")
case $archive in /*) ;; *) archive=$PWD/$archive ;; esac
[ -n "$torch_script" ] || for c in "$bundle/peers/torch_cifar.py" \
                                  "$repo/../shared/peers/torch_cifar.py"; do
    [ -f "$c" ] && torch_script=$c && break
done

work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
mkdir -p "$work/logs" "$work/json"
LOG=$work/gpu-check.log
SUMMARY=$work/summary.tsv
RESULTS=$work/results.txt
RESERVE=15 # seconds kept for the final nvidia-smi and the archive
start=$(date +%s)
failures=0
: >"$LOG"
: >"$RESULTS"
printf 'step\tstatus\tseconds\tnote\n' >"$SUMMARY"
say() { echo "[gpu-check +$(($(date +%s) - start))s] $*" | tee -a "$LOG"; }
result() { echo "$*" | tee -a "$LOG" >>"$RESULTS"; }

# The archive so far, replaced atomically: written after every step, so that even a SIGKILL
# (no trap runs) leaves the outputs up to the last finished step.
snapshot() {
    tar -czf "$archive.part" -C "$work" . 2>/dev/null && mv -f "$archive.part" "$archive"
}

# The archive, whatever happened: a summary on stdout (the device tool returns the tail of it)
# and everything in one file.
finish() {
    local rc=$?
    trap - EXIT INT TERM
    command -v nvidia-smi >/dev/null &&
        timeout 10 nvidia-smi >"$work/nvidia-smi-after.txt" 2>&1
    say "done in $(($(date +%s) - start))s, $failures failed step(s)"
    { echo "== summary"; column -t -s $'\t' "$SUMMARY" 2>/dev/null || cat "$SUMMARY"
      echo "== results"; cat "$RESULTS"; } | tee -a "$LOG"
    if tar -czf "$archive" -C "$work" . 2>>"$LOG"; then
        echo "gpu-check: wrote $archive ($(du -k "$archive" | cut -f1) KiB)"
    else
        echo "gpu-check: could not write $archive; outputs left in $work" >&2
        exit 1
    fi
    rm -rf "$work"
    [ "$rc" -eq 0 ] && [ "$failures" -eq 0 ] && exit 0
    exit 1
}
child="" current=""
trap finish EXIT
# A signal stops the running step too (steps run in the background and are waited for, so the
# trap runs at once rather than after the step).
trap 'say "interrupted"; failures=$((failures + 1))
      if [ -n "$child" ]; then
          kill -TERM "$child" 2>/dev/null
          printf "%s\tinterrupted\t\t\n" "$current" >>"$SUMMARY"
      fi
      exit 1' INT TERM

# step NAME LIMIT [--json] CMD...: CMD under min(LIMIT, budget left) seconds; stdout to
# json/NAME.json with --json, else logs/NAME.out; stderr to logs/NAME.err; both appended to the
# log (not the JSON). Records status and time in summary.tsv; returns CMD's status.
step() {
    local name=$1 limit=$2 json=0
    shift 2
    if [ "${1:-}" = --json ]; then json=1; shift; fi
    local left=$((budget - RESERVE - ($(date +%s) - start)))
    if [ "$left" -lt 5 ]; then
        record "$name" "skipped" "time budget spent"
        return 125
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    say "RUN  $name (limit ${limit}s)"
    echo "    $*" >>"$LOG"
    local out=$work/logs/$name.out t0 rc
    [ "$json" = 1 ] && out=$work/json/$name.json
    t0=$(date +%s)
    timeout --kill-after=5 "$limit" "$@" >"$out" 2>"$work/logs/$name.err" </dev/null &
    child=$! current=$name
    wait "$child"
    rc=$?
    child=""
    [ "$json" = 1 ] || cat "$out" >>"$LOG"
    cat "$work/logs/$name.err" >>"$LOG"
    local dt=$(($(date +%s) - t0)) status=ok note=""
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        status=timeout note="killed after ${limit}s"
    elif [ "$rc" -ne 0 ]; then
        status=failed note="exit $rc: $(tail -n 1 "$work/logs/$name.err" | cut -c1-160)"
    fi
    [ "$rc" -ne 0 ] && failures=$((failures + 1))
    say "$(printf '%-7s' "$status") $name (${dt}s) $note"
    printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$dt" "$note" >>"$SUMMARY"
    snapshot
    return "$rc"
}

# record NAME STATUS NOTE: a step decided without running anything.
record() {
    say "$(printf '%-7s' "$2") $1: $3"
    printf '%s\t%s\t0\t%s\n' "$1" "$2" "$3" >>"$SUMMARY"
}

# A JSON number field of a one-line document: json_num FILE KEY.
json_num() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" "$1" 2>/dev/null | head -n 1; }

# speed_result FILE LABEL: images/s, activation peak, and planned against measured peak bytes
# (the plan is exact: any difference is a bug) of one `revbench mem --json` document.
speed_result() {
    local planned measured
    planned=$(json_num "$1" planned_peak_bytes)
    measured=$(json_num "$1" measured_peak_bytes)
    result "revbench $2: $(json_num "$1" images_per_sec) img/s," \
        "activation peak $(json_num "$1" activation_peak_bytes) B, planned peak $planned B," \
        "measured $measured B ($([ -n "$planned" ] && [ "$planned" = "$measured" ] &&
        echo equal || echo DIFFERENT)), device in use $(json_num "$1" device_in_use_bytes) B"
}

say "repository $repo; bundle $bundle; archive $archive; budget ${budget}s"

# ------------------------------------------------------------------ preflight
# The folders holding the GPU libraries: the driver's, the CUDA toolkit's, the system's, and the
# nvidia-* Python wheels (PyTorch's cuDNN and cuBLAS) when python3 has them.
# CUDA_LIB_DIRS (colon-separated) goes first, for a machine that keeps them elsewhere.
IFS=: read -ra lib_dirs <<<"${CUDA_LIB_DIRS:-}"
lib_dirs+=(/usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/local/cuda/lib64 /usr/local/cuda/lib
           /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/lib)
if command -v python3 >/dev/null; then
    while IFS= read -r d; do lib_dirs+=("$d"); done < <(timeout 20 python3 - 2>/dev/null <<'PY'
import glob, os, sys
for p in sys.path:
    for d in sorted(glob.glob(os.path.join(p, "nvidia", "*", "lib"))):
        print(d)
PY
    )
fi
# find_lib SONAME: the first folder holding it, else what ldconfig knows, else nothing.
find_lib() {
    local d
    for d in "${lib_dirs[@]}"; do [ -e "$d/$1" ] && { echo "$d"; return; }; done
    ldconfig -p 2>/dev/null | awk -v s="$1" '$1 == s { print $NF; exit }' | xargs -r dirname
}
missing=()
gpu_path=""
for need in "libcuda.so.1:the NVIDIA driver" "libcudnn.so.9:cuDNN 9" "libcublas.so.13:cuBLAS 13" \
            "libcublasLt.so.13:cuBLASLt 13"; do
    so=${need%%:*}
    d=$(find_lib "$so")
    if [ -z "$d" ]; then
        missing+=("$so (${need#*:})")
    else
        case ":$gpu_path:" in *":$d:"*) ;; *) gpu_path+=${gpu_path:+:}$d ;; esac
    fi
done
LIBPATH=$bundle/lib${gpu_path:+:$gpu_path}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Our binaries get the bundle's libraries; nothing else does (PyTorch keeps its own).
RB=(env "LD_LIBRARY_PATH=$LIBPATH" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1)
bins=(revbench test_cuda test_cuda_numerics test_cuda_model test_cuda_algo)
for b in "${bins[@]}"; do [ -x "$bundle/bin/$b" ] || missing+=("bin/$b (make gpu-bundle)"); done
for l in librevnet.so librevnet_cuda.so; do
    [ -f "$bundle/lib/$l" ] || missing+=("lib/$l (make gpu-bundle)")
done
command -v nvidia-smi >/dev/null || missing+=("nvidia-smi")
if [ -d "$bundle/bin" ]; then
    unresolved=$(LD_LIBRARY_PATH=$LIBPATH ldd "$bundle"/bin/* "$bundle"/lib/librevnet*.so \
                 2>/dev/null | awk '/not found/ { print $1 }' | sort -u)
    for so in $unresolved; do
        case " ${missing[*]} " in *" $so "*) ;; *) missing+=("$so") ;; esac
    done
fi
[ -f "$torch_script" ] || note_torch="absent (no --torch-script and no peers/torch_cifar.py)"
if [ ${#missing[@]} -eq 0 ]; then
    say "preflight: nothing missing"
    printf 'preflight\tok\t0\t\n' >>"$SUMMARY"
else
    say "preflight: MISSING: ${missing[*]}"
    printf 'preflight\tfailed\t0\tmissing: %s\n' "${missing[*]}" >>"$SUMMARY"
    failures=$((failures + 1))
fi
{
    echo "date: $(date -u +%FT%TZ)"; echo "host: $(uname -a)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    echo "library path for revbench: $LIBPATH"
    echo "torch script: ${torch_script:-absent}"
    echo "== bundle manifest"; cat "$bundle/MANIFEST" 2>&1
    echo "== resolved libraries"
    LD_LIBRARY_PATH=$LIBPATH ldd "$bundle"/bin/revbench "$bundle"/lib/librevnet_cuda.so 2>&1
    echo "== python"; timeout 30 python3 -c 'import sys, torch; print(sys.version); \
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", \
torch.backends.cudnn.version(), "gpu", torch.cuda.is_available())' 2>&1
} >"$work/versions.txt" 2>&1

# ------------------------------------------------------------------ the GPU
if command -v nvidia-smi >/dev/null; then
    step nvidia-smi 15 bash -c "nvidia-smi && nvidia-smi --query-gpu=name,driver_version,\
memory.total,memory.used,clocks.sm,clocks.max.sm,power.limit --format=csv" &&
        cp "$work/logs/nvidia-smi.out" "$work/nvidia-smi.txt"
fi
gpu_ok=0
if [ -x "$bundle/bin/revbench" ]; then
    step gpu_probe 40 --json "${RB[@]}" "$bundle/bin/revbench" mem --arch resnet-basic-1 \
        --batch 2 --steps 1 --device cuda --threads 1 --json && gpu_ok=1
fi
why_no_gpu=$(tail -n 1 "$work/logs/gpu_probe.err" 2>/dev/null | cut -c1-200)

# ------------------------------------------------------------------ tests
TESTENV=("${RB[@]}" REVBENCH_REQUIRE_GPU=1 CUDA_LAUNCH_BLOCKING=1)
for t in test_cuda_algo:20 test_cuda:120 test_cuda_numerics:60 test_cuda_model:150; do
    name=${t%%:*}
    [ -x "$bundle/bin/$name" ] || { record "$name" skipped "not in the bundle"; continue; }
    step "$name" "${t##*:}" "${TESTENV[@]}" "$bundle/bin/$name" --jobs 1 --verbose \
        "--json=$work/json/$name.report.json"
    result "$name: $(grep -h 'Synthesis' "$work/logs/$name.out" "$work/logs/$name.err" \
        2>/dev/null | tail -n 1 | sed 's/.*Synthesis: //')"
done

# ------------------------------------------------------------------ measurements
if [ "$gpu_ok" = 1 ]; then
    if step angle_revnet-38 40 --json "${RB[@]}" "$bundle/bin/revbench" angle --arch revnet-38 \
            --batch 100 --device cuda --threads 1 --json; then
        result "angle revnet-38 batch 100 (reversible vs stored gradients, degrees):" \
            "$(json_num "$work/json/angle_revnet-38.json" angle_deg)"
    fi
    for batch in 100 128; do
        for spec in resnet-32:standard revnet-38:standard revnet-38:reversible \
                    resnet-110:standard revnet-110:standard revnet-110:reversible; do
            arch=${spec%%:*} mode=${spec##*:} name=speed_${spec%%:*}_${spec##*:}_b$batch
            step "$name" 30 --json "${RB[@]}" "$bundle/bin/revbench" mem --arch "$arch" \
                --mode "$mode" --batch "$batch" --steps 12 --device cuda --threads 1 --json &&
                speed_result "$work/json/$name.json" "$arch $mode batch $batch"
        done
    done
else
    record measurements skipped "no usable GPU: ${why_no_gpu:-revbench missing}"
fi

# PyTorch on the same GPU, the peers script's models. Its own process and libraries.
if [ -z "$torch_script" ] || [ ! -f "$torch_script" ]; then
    record torch skipped "${note_torch:-absent}"
elif ! timeout 60 python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
        >/dev/null 2>&1; then
    record torch skipped "python3 has no PyTorch that sees a GPU"
else
    cat >"$work/torch_gpu.py" <<'PY'
# The peers script's ResNet/RevNet on the GPU: median training step of 20 after 5 warm-ups,
# FP32 without TF32 (revbench's default), cudnn.benchmark on, random CIFAR-shaped batches.
import importlib.util, json, statistics, sys, time, torch
spec = importlib.util.spec_from_file_location("torch_cifar", sys.argv[1])
tc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tc)
torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.benchmark = True
for batch in (100, 128):
    for model, mode in (("resnet32", "autograd"), ("revnet38", "autograd"),
                        ("revnet38", "reversible"), ("resnet110", "autograd"),
                        ("revnet110", "autograd"), ("revnet110", "reversible")):
        torch.manual_seed(0)
        net, name = tc.build(model, None, mode)
        net = net.cuda().train()
        opt = tc.make_opt(net)
        x = torch.randn(batch, 3, 32, 32, device="cuda")
        y = torch.randint(0, 10, (batch,), device="cuda")
        torch.cuda.reset_peak_memory_stats()
        ts = []
        for i in range(25):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            tc.train_step(net, opt, x, y)  # ends in loss.item(): synchronizes
            if i >= 5:
                ts.append(time.perf_counter() - t0)
        med = statistics.median(ts)
        print(json.dumps(dict(framework="pytorch", torch=torch.__version__,
                              cudnn=torch.backends.cudnn.version(),
                              gpu=torch.cuda.get_device_name(0), model=name, mode=mode,
                              batch=batch, ms_per_step=round(med * 1e3, 3),
                              images_per_sec=round(batch / med, 1),
                              max_memory_allocated=torch.cuda.max_memory_allocated())),
              flush=True)
        del net, opt
        torch.cuda.empty_cache()
PY
    step torch 100 --json env PYTHONUNBUFFERED=1 python3 "$work/torch_gpu.py" "$torch_script"
    while IFS= read -r line; do
        result "pytorch $(echo "$line" | sed -n 's/.*"model": "\([^"]*\)", "mode": "\([^"]*\)", "batch": \([0-9]*\).*"images_per_sec": \([0-9.]*\).*/\1 \2 batch \3: \4 img\/s/p')"
    done <"$work/json/torch.json"
fi

# Two processes, the deterministic policy: the same algorithms in both.
if [ "$gpu_ok" = 1 ]; then
    ok=1
    for k in 1 2; do
        step "determinism_$k" 30 --json "${RB[@]}" REVBENCH_CUDNN_ALGO=deterministic \
            "$bundle/bin/revbench" mem --arch resnet-32 --batch 100 --steps 2 --device cuda \
            --threads 1 --json || ok=0
    done
    if [ "$ok" = 1 ]; then
        a=$(sed -n 's/.*| conv algorithms: \([^"]*\)".*/\1/p' "$work/json/determinism_1.json")
        b=$(sed -n 's/.*| conv algorithms: \([^"]*\)".*/\1/p' "$work/json/determinism_2.json")
        if [ -n "$a" ] && [ "$a" = "$b" ]; then
            record determinism ok "both processes chose the same algorithms"
        else
            record determinism failed "the two processes chose differently (json/determinism_*)"
            failures=$((failures + 1))
        fi
    fi
    # The memory sweep of the six networks, into the results database.
    step sweep 90 "${RB[@]}" "$bundle/bin/revbench" run "$repo/experiments/cifar-memory.ini" \
        --db "$work/gpu.db" --device cuda
    # Activation peak against depth, from the database (python3's sqlite3; no sqlite3 CLI
    # needed): flat for the reversible RevNets is the paper's claim.
    if [ -f "$work/gpu.db" ]; then
        timeout 20 python3 - "$work/gpu.db" >>"$RESULTS" 2>>"$LOG" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT r.arch, r.mode, r.batch, r.status, m.planned_bytes, m.peak_bytes "
                  "FROM runs r "
                  "LEFT JOIN memory m ON m.run_id = r.id AND m.category = 'activation_peak' "
                  "ORDER BY r.arch LIKE 'rev%', r.mode, r.id")
for arch, mode, batch, status, planned, peak in rows:
    print(f"sweep {arch} {mode} batch {batch}: {status}, activation peak planned {planned} B, "
          f"measured {peak} B")
PY
    fi
fi
exit 0
