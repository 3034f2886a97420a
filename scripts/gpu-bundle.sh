#!/usr/bin/env bash
# gpu-bundle.sh BUILD_DIR BUNDLE_DIR: the folder scripts/gpu-check.sh runs from on a GPU machine
# that has neither this project's build dependencies nor its build (`make gpu-bundle` calls it).
#
#   BUNDLE_DIR/bin/    revbench and the GPU test binaries (test_cuda, test_cuda_numerics,
#                      test_cuda_model, test_cuda_algo)
#   BUNDLE_DIR/lib/    librevnet.so, the CUDA plugin librevnet_cuda.so, and every shared library
#                      they need that a GPU machine may lack (OpenBLAS, SQLite, inih, Criterion
#                      and theirs), copied as their sonames
#   BUNDLE_DIR/peers/  the PyTorch peers script, when ../shared/peers/torch_cifar.py (or $PEERS)
#                      exists here: it is not part of the repository and does not travel otherwise
#   BUNDLE_DIR/MANIFEST  revision, build, what the GPU machine must provide, sizes
#
# Not carried, because the GPU machine must have its own and they are far too large (cuDNN's
# engines ~500 MB, cuBLASLt ~540 MB): the driver (libcuda), cuDNN 9 and cuBLAS 13. gpu-check.sh
# finds them there (ldconfig, /usr/local/cuda, or the nvidia-* Python wheels PyTorch installs).
# glibc and the C++ runtime (libstdc++, libgcc_s) are not carried either: a newer one there
# serves our binaries, and an older one of ours would break that machine's cuDNN.
# The CUDA runtime is linked statically into the plugin (lib/CMakeLists.txt).
#
# The device tool carries at most 64 MiB of working tree; the bundle is about 50 MiB (OpenBLAS
# is 36 of it), and this script fails when it passes BUNDLE_LIMIT_MIB (default 58).
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR BUNDLE_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
bundle=$2
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
limit_mib=${BUNDLE_LIMIT_MIB:-58}
bins="revbench tests/test_cuda tests/test_cuda_numerics tests/test_cuda_model tests/test_cuda_algo"
libs="lib/librevnet.so lib/librevnet_cuda.so"

for f in $bins $libs; do
    [ -f "$build/$f" ] || { echo "gpu-bundle: $build/$f is missing (was the CUDA backend" \
        "built? the configure output must say 'revbench: CUDA backend ON')" >&2; exit 1; }
done

rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib"
for f in $bins; do cp "$build/$f" "$bundle/bin/"; done
for f in $libs; do cp "$build/$f" "$bundle/lib/"; done

# The libraries to carry: everything the binaries resolve here, except what the GPU machine
# must provide itself (see above) and what we built.
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|libpthread\.|librt\.|libresolv\.|libutil\.'
skip+='|libstdc\+\+|libgcc_s|libcuda\.|libcudart|libcudnn|libcublas|libnvrtc|librevnet)'
targets=""
for f in $bins; do targets+=" $bundle/bin/$(basename "$f")"; done
for f in $libs; do targets+=" $bundle/lib/$(basename "$f")"; done
# shellcheck disable=SC2086
LD_LIBRARY_PATH="$bundle/lib" ldd $targets 2>/dev/null |
    awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u |
    while read -r soname path; do
        if ! grep -Eq "$skip" <<<"$soname"; then cp -L "$path" "$bundle/lib/$soname"; fi
    done

# Anything the binaries cannot resolve here would not resolve there either.
# shellcheck disable=SC2086
missing=$(LD_LIBRARY_PATH="$bundle/lib" ldd $targets 2>/dev/null | awk '/not found/ { print $1 }' |
          sort -u | tr '\n' ' ')
[ -z "$missing" ] || { echo "gpu-bundle: unresolved here: $missing" >&2; exit 1; }

peers=${PEERS:-$repo/../shared/peers/torch_cifar.py}
if [ -f "$peers" ]; then
    mkdir -p "$bundle/peers"
    cp "$peers" "$bundle/peers/torch_cifar.py"
fi

bytes=$(du -sb "$bundle" | cut -f1)
{
    echo "revbench GPU bundle"
    echo "revision: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
         "$(git -C "$repo" diff --quiet 2>/dev/null || echo '(uncommitted changes)')"
    echo "built: $(date -u +%FT%TZ) on $(uname -srm), $(ldd --version | head -n 1)"
    echo "CUDA archs: $(sed -n 's/^REVBENCH_CUDA_ARCHS:STRING=//p' "$build/CMakeCache.txt")"
    echo "needs on the GPU machine: the NVIDIA driver (libcuda.so.1), cuDNN 9 (libcudnn.so.9 and"
    echo "  its sub-libraries), cuBLAS 13 (libcublas.so.13, libcublasLt.so.13), glibc >= this one"
    echo "peers script: $([ -f "$bundle/peers/torch_cifar.py" ] && echo "peers/torch_cifar.py" ||
                         echo "absent ($peers not found)")"
    echo "size: $((bytes / 1048576)) MiB"
    (cd "$bundle" && find . -type f -printf '%s\t%p\n' | sort -k2)
} >"$bundle/MANIFEST"
echo "gpu-bundle: $bundle, $((bytes / 1048576)) MiB ($(ls "$bundle/lib" | wc -l) libraries)"
if [ "$bytes" -gt $((limit_mib * 1048576)) ]; then
    echo "gpu-bundle: $bundle is over ${limit_mib} MiB: with the repository it would not fit the" \
         "device tool's 64 MiB" >&2
    exit 1
fi
