#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang in $FUZZ_BUILD (default build-fuzz) and
# runs each for SECONDS (default 10), starting from the committed corpus tests/fuzz/corpus/T/.
# Exits non-zero on the first target that crashes, leaks, trips a sanitizer, breaks one of its
# invariants or hangs; the input that did it is kept in $FUZZ_BUILD/fuzz-artifacts/T/.
# New inputs go to $FUZZ_BUILD/fuzz-corpus/T/, never into the committed corpus.
#   scripts/fuzz.sh 600            # ten minutes per target (make fuzz FUZZ_SECONDS=600)
#   FUZZ_TARGETS=fuzz_cifar scripts/fuzz.sh 60
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
build="${FUZZ_BUILD:-build-fuzz}"
targets="${FUZZ_TARGETS:-fuzz_experiment fuzz_cifar fuzz_fashion fuzz_checkpoint}"

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: clang is not installed; as root: apt-get install clang libclang-rt-14-dev libomp-dev" >&2
  exit 1
fi
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DREVBENCH_FUZZ=ON -DREVBENCH_CUDA=OFF >/dev/null
# shellcheck disable=SC2086
if ! cmake --build "$build" -j "${JOBS:-2}" --target $targets >"$build/fuzz-build.log" 2>&1; then
  tail -30 "$build/fuzz-build.log" >&2
  exit 1
fi

# Inputs larger than these reach nothing the smaller ones do not (a CIFAR or Fashion-MNIST
# input describes a whole file; see each target's header comment).
max_len() {
  case "$1" in
    fuzz_experiment) echo 32768 ;;
    fuzz_checkpoint) echo 4096 ;;
    *) echo 16384 ;;
  esac
}

status=0
for t in $targets; do
  work="$build/fuzz-corpus/$t"
  art="$build/fuzz-artifacts/$t"
  mkdir -p "$work" "$art"
  if [ "$t" = fuzz_checkpoint ]; then
    # A valid checkpoint of the format this build writes, whatever the committed seeds hold.
    FUZZ_WRITE_SEED="$work/seed-current" "$build/tests/fuzz/$t" -runs=0 "$work" >/dev/null 2>&1
  fi
  log="$build/fuzz-$t.log"
  echo "fuzz: $t for ${secs}s (log: $log)"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a CIFAR input holds 60 MB.
  if ! "$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$art/" \
      "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    echo "fuzz: $t FAILED; the input is in $art/:" >&2
    grep -E "ERROR|invariant|SUMMARY|Test unit written" "$log" | head -20 >&2 || tail -30 "$log" >&2
    status=1
    continue
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz: $t ok: ${execs:-?} inputs in ${secs}s, corpus $(find "$work" -type f | wc -l) files"
done
exit $status
