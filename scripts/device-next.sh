#!/usr/bin/env bash
# What the 2026-12-01 sessions built but could not run on a GPU, in the order to run it (docs/perf-log.md; the
# closing note of issue 8–12's session). Usage (device machine, project root, `dist/` built on the workstation with
# `npm run build && scripts/build-variant.sh base mla_decode_sm90 sm_90a && scripts/build-variant.sh tail
# mla_decode_sm90 sm_90a -DMLA_SM90_TAIL_PREFETCH=1`, carried with .devcarry; after `source .devcarry/activate`):
#   scripts/device-next.sh STEP        outputs under $OUT (or ./out)
# Steps (each one device command):
#   verify    ~3 min: correctness of everything not yet run — the combine's PTX path, the decode-loop example under
#             generic-small, both metadata kernels against the cpu scheduler, the padded-stride FP8 append, the
#             soak with its fixed checks, the bench's timer/ceilings behind the DeviceMeasure facet, the new
#             dense layouts (then behind FLASH_MLA_PREVIEW=layouts; they passed on 2026-12-01 and are on by default since)
#   tail      ~4 min: the hopper tail-prefetch variant (dist/kv-tail): decode suite + 300 property cases, then
#             timed against dist/kv-base on the serving set and six sweep configs
#   metadata  ~1 min: FLASH_MLA_METADATA=warp vs the default, `+md ms` on the serving set and the sweep
#   sanitize  ≤ 10 min: scripts/device-campaign.sh sanitize (memcheck, racecheck, synccheck, initcheck)
set -uo pipefail
step=${1:?step: verify | tail | metadata | sanitize}
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
    echo "metadata kernels vs cpu scheduler rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/v-metadata.log"
    s=$(date +%s); gpu timeout 90 node --test --test-name-pattern="padded-stride" dist/test/fp8-sparse-gpu.test.js > "$out/v-fp8.log" 2>&1
    echo "fp8 padded-stride append rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/v-fp8.log"
    s=$(date +%s); timeout 90 node dist/src/cli.js bench --configs serving:S1,S4 --iters 20 --reference h200 > "$out/v-bench.txt" 2>&1
    echo "bench through the DeviceMeasure facet rc=$? ($(( $(date +%s) - s )) s)"; grep -aE "ceiling|^S1 |^S4 " "$out/v-bench.txt" | cut -c1-150
    s=$(date +%s); timeout 90 node --expose-gc dist/test/soak/soak.js --json "$out/soak.json" > "$out/v-soak.log" 2>&1
    echo "soak rc=$? ($(( $(date +%s) - s )) s)"; grep -aE "calls in|FAILED|soak:" "$out/v-soak.log" | head -8
    ;;
  tail)
    [ -d dist/kv-tail ] && [ -d dist/kv-base ] || { echo "build dist/kv-base and dist/kv-tail first (scripts/build-variant.sh)"; exit 1; }
    s=$(date +%s); FLASH_MLA_KERNEL_DIR=$PWD/dist/kv-tail/ FLASH_MLA_TEST_KERNELS=hopper FLASH_MLA_GPU_PROPERTY_CASES=300 gpu timeout 200 \
      node --test --test-concurrency=1 dist/test/gpu-decode.test.js dist/test/gpu-property.test.js > "$out/tail-suite.log" 2>&1
    rc=$?; echo "tail variant: decode suite + 300 property cases rc=$rc ($(( $(date +%s) - s )) s)"; summary "$out/tail-suite.log"
    [ "$rc" = 0 ] || exit 1
    scripts/device-variants.sh hopper serving base tail | tail -16
    scripts/device-variants.sh hopper 0,10,12,16,28,30 base tail | tail -8
    ;;
  metadata)
    for v in serial warp; do
      FLASH_MLA_METADATA=$v timeout 90 node dist/src/cli.js bench --configs serving --iters 50 --check-samples 1 --reference none --json "$out/md-$v-serving.json" > /dev/null 2>&1 || echo "$v serving failed"
      FLASH_MLA_METADATA=$v timeout 90 node dist/src/cli.js bench --configs 0,12,16,28 --iters 50 --check-samples 1 --reference none --json "$out/md-$v-sweep.json" > /dev/null 2>&1 || echo "$v sweep failed"
    done
    node -e '
      const fs = require("fs"); const d = process.argv[1]; const rows = {};
      for (const v of ["serial", "warp"]) for (const k of ["serving", "sweep"]) { const f = `${d}/md-${v}-${k}.json`; if (!fs.existsSync(f)) continue;
        for (const r of JSON.parse(fs.readFileSync(f, "utf8")).rows) (rows[(r.config && r.config.name) || r.id] ??= {})[v] = r; }
      console.log("config".padEnd(40), "serial ms / +md", "   warp ms / +md   (µs of metadata: +md − ms)");
      for (const [k, o] of Object.entries(rows)) console.log(String(k).slice(0, 39).padEnd(40), ...["serial", "warp"].map((v) => o[v] ? `${(o[v].ms * 1e3).toFixed(1)} / ${(o[v].mdMs * 1e3).toFixed(1)} (${((o[v].mdMs - o[v].ms) * 1e3).toFixed(1)})`.padStart(22) : "-".padStart(22)));
    ' "$out"
    ;;
  sanitize) SAN_CASES=${SAN_CASES:-2} scripts/device-campaign.sh sanitize ;;
  *) echo "unknown step '$step'"; exit 2 ;;
esac
