#!/usr/bin/env bash
# One GPU-machine session for a decode kernel: SASS, GPU suite, sanitizer, sweep bench against another kernel.
# Usage (device machine, project root, after `source .devcarry/activate`):
#   scripts/device-check.sh KERNEL BASELINE [bench configs]     outputs under $OUT (or ./out)
set -uo pipefail
k=${1:?kernel}; base=${2:?baseline kernel}; configs=${3:-sweep}
out=${OUT:-out}; mkdir -p "$out"
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu --format=csv,noheader
for c in dist/kernels/*.sm_90a.cubin; do cuobjdump -sass "$c" > "$out/$(basename "$c" .cubin).sass" 2>/dev/null; done
echo "== GPU suite ($k)"
FLASH_MLA_REQUIRE_GPU=1 FLASH_MLA_TEST_KERNELS=$k timeout 200 node --test --test-concurrency=1 dist/test/gpu-decode.test.js dist/test/strided-decode.test.js > "$out/suite-$k.log" 2>&1
rc=$?; echo "suite rc=$rc"; grep -E "^# (pass|fail)|cuda decode:|not ok|Error|✖" "$out/suite-$k.log" | head -20
[ "$rc" = 124 ] && { echo "suite timed out: a hang; stopping"; tail -5 "$out/suite-$k.log"; exit 1; }
echo "== sanitizer ($k)"
for tool in memcheck racecheck; do extra=""; [ "$tool" = racecheck ] && extra="--racecheck-report hazard"
  FLASH_MLA_GPU_CASES=sanitize FLASH_MLA_REQUIRE_GPU=1 FLASH_MLA_TEST_KERNELS=$k timeout 100 compute-sanitizer --tool $tool --print-limit 5 $extra node --test --test-name-pattern="decode" dist/test/gpu-decode.test.js > "$out/san-$tool-$k.log" 2>&1
  echo "$tool rc=$?: $(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$out/san-$tool-$k.log" | tr '\n' ' ')"
done
echo "== bench $base,$k ($configs)"
timeout 180 node dist/src/cli.js bench --kernel "$base,$k" --configs "$configs" --iters 30 --json "$out/bench-$k.json" > "$out/bench-$k.txt" 2>&1
echo "bench rc=$?"; cat "$out/bench-$k.txt" | tail -45
