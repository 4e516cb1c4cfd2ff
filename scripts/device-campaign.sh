#!/usr/bin/env bash
# Issue 11's reliability campaign on a GPU (H200/H100): the GPU property test, compute-sanitizer on a sample of its
# cases, and the leak/soak run. Each step fits one 10-minute device command and leaves at most 5 files under $OUT.
# Usage (device machine, project root, dist/ built on the workstation and carried, after `source .devcarry/activate`):
#   scripts/device-campaign.sh STEP [args]      outputs under $OUT (or ./out)
# Steps:
#   property [N]          N random cases (default 2000) on every decode kernel the GPU runs, each against the
#                         float64 reference (dist/test/gpu-property.test.js); ~2-4 min     → property.log
#   sanitize [KERNELS]    memcheck, racecheck, synccheck, initcheck, each over SAN_CASES (default 3) small property
#                         cases per kernel (default "hopper generic"; e.g. `sanitize generic-small`), SAN_TIMEOUT s
#                         per run (default 70): ~8 runs, ≤ 10 min                                → sanitize-TOOL.log
#   soak [flags]          dist/test/soak/soak.js: 10 000 eager calls, 10 000 graph replays, 100 000 checked
#                         replays with memory sampled (flags pass through, e.g. `soak --long 20000`); ~1-2 min
#                                                                                                → soak.log, soak.json
set -uo pipefail
step=${1:?step: property | sanitize | soak}; shift
out=${OUT:-out}; mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv,noheader
node dist/src/cli.js info 2>&1 | grep -E "kernel|driver" | head -8

case $step in
  property)
    n=${1:-2000}
    start=$(date +%s)
    FLASH_MLA_REQUIRE_GPU=1 FLASH_MLA_GPU_PROPERTY_CASES=$n timeout 570 node --test --test-reporter=spec dist/test/gpu-property.test.js > "$out/property.log" 2>&1
    rc=$?
    echo "property ($n cases) rc=$rc in $(( $(date +%s) - start )) s"
    grep -aE "gpu property:|^ +(hopper|generic|generic-small) |coverage:|^ +[0-9]+ cases, " "$out/property.log" | sed 's/^ *//' | head -30
    [ "$rc" = 124 ] && { echo "property timed out (a hang, or too slow: rerun with fewer cases)"; tail -5 "$out/property.log"; }
    [ "$rc" != 0 ] && grep -aE "failure\(s\)|^ *(hopper|generic|generic-small|metadata): |rerun alone|Error" "$out/property.log" | head -40
    ;;
  sanitize)
    kernels=${1:-hopper generic}
    sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    [ -x "$sanitizer" ] || { echo "compute-sanitizer not found (PATH, /usr/local/cuda/bin)"; exit 1; }
    for tool in memcheck racecheck synccheck initcheck; do
      log="$out/sanitize-$tool.log"; : > "$log"
      extra=""; [ "$tool" = racecheck ] && extra="--racecheck-report hazard"
      for k in $kernels; do
        echo "===== $tool $k" >> "$log"
        start=$(date +%s)
        FLASH_MLA_REQUIRE_GPU=1 FLASH_MLA_GPU_PROPERTY_SANITIZE=1 FLASH_MLA_GPU_PROPERTY_CASES=${SAN_CASES:-3} FLASH_MLA_TEST_KERNELS=$k \
          timeout "${SAN_TIMEOUT:-70}" "$sanitizer" --tool "$tool" --print-limit 10 --error-exitcode 86 $extra \
          node --test-reporter=tap dist/test/gpu-property.test.js >> "$log" 2>&1
        rc=$?
        case $rc in 0) why="clean";; 86) why="sanitizer errors";; 124) why="timed out";; *) why="the test failed";; esac
        run=$(awk -v m="===== $tool $k" '$0 == m { f = 1 } f' "$log")  # this run's part of the log
        verdict=$(grep -aE "^# (pass|fail) " <<< "$run" | tr '\n' ' ')
        summary=$(grep -aE "(ERROR|RACECHECK) SUMMARY" <<< "$run" | sed 's/^=* *//' | tr '\n' ' ')
        echo "$tool $k: rc=$rc ($why) in $(( $(date +%s) - start )) s; ${summary:-no summary}; test: ${verdict:-no verdict}"
      done
    done
    ;;
  soak)
    start=$(date +%s)
    timeout 570 node --expose-gc dist/test/soak/soak.js --json "$out/soak.json" "$@" > "$out/soak.log" 2>&1
    rc=$?
    echo "soak rc=$rc in $(( $(date +%s) - start )) s"
    grep -av "^soak-json " "$out/soak.log" | tail -60
    [ "$rc" = 124 ] && echo "soak timed out (a hang, or too slow: fewer --long replays)"
    ;;
  *) echo "unknown step '$step'"; exit 2 ;;
esac
