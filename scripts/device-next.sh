#!/usr/bin/env bash
# What the 2026-12-01 sessions built but could not run on a GPU, in the order to run it (docs/perf-log.md; the
# closing note of issue 8–12's session). Usage (device machine, project root, `dist/` built on the workstation with
# `npm run build`, carried with .devcarry; after `source .devcarry/activate`):
#   scripts/device-next.sh STEP        outputs under $OUT (or ./out)
# Steps (each one device command):
#   verify    ~3 min: correctness of everything not yet run — the combine's PTX path, the decode-loop example under
#             generic-small, the metadata kernel against the cpu scheduler, the padded-stride FP8 append, the
#             soak with its fixed checks, the bench's timer/ceilings behind the DeviceMeasure facet, the new
#             dense layouts (then behind FLASH_MLA_PREVIEW=layouts; they passed on 2026-12-01 and are on by default since)
#   sanitize  ≤ 10 min: scripts/device-campaign.sh sanitize (memcheck, racecheck, synccheck, initcheck)
set -uo pipefail
step=${1:?step: verify | sanitize}
out=${OUT:-out}; mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv,noheader
gpu() { FLASH_MLA_REQUIRE_GPU=1 "$@"; }
summary() { grep -aE "^ℹ (tests|pass|fail)|^# (tests|pass|fail) |^✖|^not ok|launch shapes match|cuda decode:" "$1" | head -20; }

case $step in
  verify)
    s=$(date +%s); FLASH_MLA_FORCE_PTX=1 gpu timeout 120 node --test --test-concurrency=1 dist/test/combine-gpu.test.js > "$out/v-combine-ptx.log" 2>&1
    echo "combine from PTX rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/v-combine-ptx.log"
    s=$(date +%s); FLASH_MLA_DECODE_KERNEL=generic-small timeout 60 node dist/examples/decode-loop.js --backend cuda > "$out/v-loop-small.log" 2>&1 &&
      FLASH_MLA_DECODE_KERNEL=generic-small timeout 60 node dist/examples/decode-loop.js --backend cuda --graph >> "$out/v-loop-small.log" 2>&1
    echo "decode-loop under generic-small rc=$? ($(( $(date +%s) - s )) s)"; grep -aE "check:|steps/s" "$out/v-loop-small.log" | head -4
    s=$(date +%s); gpu timeout 120 node --test --test-name-pattern="metadata" dist/test/gpu-decode.test.js > "$out/v-metadata.log" 2>&1
    echo "metadata kernel vs cpu scheduler rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/v-metadata.log"
    s=$(date +%s); gpu timeout 90 node --test --test-name-pattern="padded-stride" dist/test/fp8-sparse-gpu.test.js > "$out/v-fp8.log" 2>&1
    echo "fp8 padded-stride append rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/v-fp8.log"
    s=$(date +%s); timeout 90 node dist/src/cli.js bench --configs serving:S1,S4 --iters 20 --reference h200 > "$out/v-bench.txt" 2>&1
    echo "bench through the DeviceMeasure facet rc=$? ($(( $(date +%s) - s )) s)"; grep -aE "ceiling|^S1 |^S4 " "$out/v-bench.txt" | cut -c1-150
    s=$(date +%s); timeout 90 node --expose-gc dist/test/soak/soak.js --json "$out/soak.json" > "$out/v-soak.log" 2>&1
    echo "soak rc=$? ($(( $(date +%s) - s )) s)"; grep -aE "calls in|FAILED|soak:" "$out/v-soak.log" | head -8
    ;;
  sanitize) SAN_CASES=${SAN_CASES:-2} scripts/device-campaign.sh sanitize ;;
  *) echo "unknown step '$step'"; exit 2 ;;
esac
