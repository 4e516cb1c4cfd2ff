#!/usr/bin/env bash
# A cubin folder for timing a kernel variant against the shipped build: dist/kv-NAME = dist/kernels with one kernel
# file rebuilt under extra nvcc flags (its other architectures and files unchanged). Run on the workstation after
# `npm run build`; on the device, FLASH_MLA_KERNEL_DIR=$PWD/dist/kv-NAME/ selects it (scripts/device-variants.sh).
# Usage: scripts/build-variant.sh NAME FILE ARCH [NVCC FLAGS…]
#   e.g. scripts/build-variant.sh base mla_decode_sm90 sm_90a (the shipped flags), or with -DSOME_SWITCH=1 appended
# SRC_REV=COMMIT takes kernels/ from that commit instead of the working tree: a level kept only in git history, whose
# entry points and launch (arguments, at most the shared memory the host now gives) the current host still fits — e.g.
#   SRC_REV=a74ab5a scripts/build-variant.sh small-fp8-inplace mla_decode_sm90_small sm_90a   (hopper-small level 3a)
set -euo pipefail
name=${1:?name}; file=${2:?kernel file (no .cu)}; arch=${3:?arch, e.g. sm_90a}; shift 3
root=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$root/dist/kernels" ] || { echo "build-variant: run npm run build first (no dist/kernels)" >&2; exit 1; }
src="$root/kernels"
if [ -n "${SRC_REV:-}" ]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  git -C "$root" archive "$SRC_REV" kernels | tar -x -C "$tmp"; src="$tmp/kernels"
fi
out="$root/dist/kv-$name"
rm -rf "$out"; cp -r "$root/dist/kernels" "$out"
nvcc -cubin -O3 -std=c++17 -gencode "arch=compute_${arch#sm_},code=$arch" -Xptxas -v --use_fast_math -lineinfo \
  -I "$src" "$@" -o "$out/$file.$arch.cubin" "$src/$file.cu" 2>&1 | grep -E "registers|spill|warning|error" | sort | uniq -c
echo "built $out/$file.$arch.cubin (${SRC_REV:+kernels/ of $SRC_REV}${SRC_REV:+${*:+, }}$*)"
