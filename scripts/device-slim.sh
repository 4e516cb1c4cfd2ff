#!/usr/bin/env bash
# Slims dist/ for a device call on a Hopper card, whose carry (dist + .devcarry + the tracked files) must stay under
# 64 MiB: removes the source maps (~1.4 MB), the sm_80 cubins (~5.4 MB) and the compute_80 PTX (~3.2 MB), which an
# sm_90 card never loads (context.ts chooseBinary picks the sm_90 / sm_90a cubins). Not for calls that run the PTX
# path or force sm_80 binaries (test/portable-gpu.test.ts, the portable steps of scripts/device-next.sh).
# `npm run build` puts everything back.
set -euo pipefail
cd "$(dirname "$0")/.."
before=$(du -sb dist | cut -f1)
find dist -name '*.map' -delete
rm -f dist/kernels/*.sm_80.cubin dist/kernels/*.compute_80.ptx
rm -rf dist/kv-*
echo "device-slim: dist $((before / 1048576)) → $(( $(du -sb dist | cut -f1) / 1048576 )) MiB"
