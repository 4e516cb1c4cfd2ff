#!/usr/bin/env bash
# The release run on a GPU machine: GPU suite (every decode kernel), sanitizer, sweep and serving benches with
# the shipped H200 peers. Usage (device machine, project root, after `source .devcarry/activate`):
#   scripts/device-final.sh            outputs under $OUT (or ./out)
set -uo pipefail
out=${OUT:-out}; mkdir -p "$out"; day=$(date +%F)
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv,noheader
echo "== GPU suite"
FLASH_MLA_REQUIRE_GPU=1 FLASH_MLA_TEST_KERNELS=${FLASH_MLA_TEST_KERNELS:-} timeout 200 node --test --test-concurrency=1 dist/test/gpu-decode.test.js dist/test/strided-decode.test.js dist/test/kvcache-gpu.test.js dist/test/cuda-driver.test.js > "$out/suite.log" 2>&1
echo "suite rc=$?"; grep -E "^# (tests|pass|fail)|cuda decode:|not ok" "$out/suite.log" | head -12
echo "== memcheck (hopper)"
FLASH_MLA_GPU_CASES=sanitize FLASH_MLA_REQUIRE_GPU=1 FLASH_MLA_TEST_KERNELS=hopper timeout 90 compute-sanitizer --tool memcheck node --test --test-name-pattern="decode" dist/test/gpu-decode.test.js > "$out/memcheck.log" 2>&1
echo "memcheck rc=$?: $(grep -E "ERROR SUMMARY" "$out/memcheck.log")"
echo "== sweep"
timeout 120 node dist/src/cli.js bench --reference h200 --iters 50 --json "$out/$day-h200-sweep.json" --svg "$out/$day-h200-sweep.svg" > "$out/$day-h200-sweep.txt" 2>&1
echo "sweep rc=$?"; tail -12 "$out/$day-h200-sweep.txt"
echo "== serving"
timeout 80 node dist/src/cli.js bench --configs serving --reference h200 --iters 50 --json "$out/$day-h200-serving.json" > "$out/$day-h200-serving.txt" 2>&1
echo "serving rc=$?"; cat "$out/$day-h200-serving.txt" | tail -24
