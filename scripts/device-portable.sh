#!/usr/bin/env bash
# Issue 12 on a Hopper GPU (H200/H100): every portable path forced in turn, with the whole GPU suite
# (`npm run test:gpu`: every dist/test/*.test.js with FLASH_MLA_REQUIRE_GPU=1, plus the decode-loop example).
# Usage (device machine, project root, dist/ built on the workstation and carried, after `source .devcarry/activate`):
#   scripts/device-portable.sh STEP      outputs under $OUT (or ./out); each step fits one 10-minute command
# Steps:
#   info    `flash-mla info` plain and under each forced path (what runs, in which binary form, why)
#   small   the GPU suite with FLASH_MLA_DECODE_KERNEL=generic-small (sm_90 cubin; PDL on)
#   ptx     the GPU suite with FLASH_MLA_FORCE_PTX=1 (generic and generic-small from compute_80 PTX; PDL off)
#   bench   sweep: hopper vs generic vs generic-small (cubins), then generic and generic-small from PTX
# Sanitizers and the generic-small vs hopper sweep: scripts/device-check.sh generic-small hopper sweep
set -uo pipefail
step=${1:?step: info | small | ptx | bench}
out=${OUT:-out}; mkdir -p "$out"; day=$(date +%F)
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv,noheader

suite() {  # name, then VAR=value… for the environment
  local name=$1; shift
  env "$@" FLASH_MLA_REQUIRE_GPU=1 timeout 560 npm run -s test:gpu > "$out/suite-$name.log" 2>&1
  local rc=$?
  echo "suite $name ($*) rc=$rc"
  grep -E "^# (tests|pass|fail|skipped)|^not ok|cuda decode:|loaded .* as|JIT [0-9]+ ms|→ cc" "$out/suite-$name.log" | head -40
  [ "$rc" = 124 ] && { echo "suite $name timed out"; tail -5 "$out/suite-$name.log"; }
}

case $step in
  info)
    node dist/src/cli.js info | tee "$out/info.txt"
    echo "--- FLASH_MLA_FORCE_PTX=1"; FLASH_MLA_FORCE_PTX=1 node dist/src/cli.js info | tee "$out/info-ptx.txt"
    echo "--- FLASH_MLA_DECODE_KERNEL=generic-small"; FLASH_MLA_DECODE_KERNEL=generic-small node dist/src/cli.js info | tee "$out/info-small.txt"
    ;;
  small) suite small FLASH_MLA_DECODE_KERNEL=generic-small ;;
  ptx) suite ptx FLASH_MLA_FORCE_PTX=1 ;;
  bench)
    timeout 250 node dist/src/cli.js bench --kernel hopper,generic,generic-small --iters 30 --json "$out/$day-portable-cubin.json" > "$out/$day-portable-cubin.txt" 2>&1
    echo "bench cubins rc=$?"; tail -30 "$out/$day-portable-cubin.txt"
    FLASH_MLA_FORCE_PTX=1 timeout 250 node dist/src/cli.js bench --kernel generic,generic-small --iters 30 --json "$out/$day-portable-ptx.json" > "$out/$day-portable-ptx.txt" 2>&1
    echo "bench PTX rc=$?"; tail -30 "$out/$day-portable-ptx.txt"
    ;;
  *) echo "unknown step '$step'"; exit 2 ;;
esac
