#!/usr/bin/env bash
# The combine's launch shapes (FLASH_MLA_COMBINE=W,C) against the rule (src/cuda/combine-shape.ts): the combine
# GPU test (every shape vs the float64 reference) and the decode suite with the rule, then the serving set and a
# few sweep configs under each forced shape and the rule. Usage (device machine, after `source .devcarry/activate`):
#   scripts/device-combine.sh [VARIANTS]   VARIANTS: space-separated `W,C` (forced shape), `rule`, or `DIR:W,C`
#                                          (cubins from dist/kv-DIR, e.g. a baseline build; `DIR:rule` for its rule)
# COMBINE_SUITE_ALL=1 adds the decode suite (hopper) to the combine test.
set -uo pipefail
shapes=${1:-"rule 1,1 1,2 1,4 2,4 4,4 8,4"}
S=$(date +%s)
FLASH_MLA_REQUIRE_GPU=1 FLASH_MLA_TEST_KERNELS=hopper timeout 200 node --test --test-concurrency=1 dist/test/combine-gpu.test.js ${COMBINE_SUITE_ALL:+dist/test/gpu-decode.test.js} > /tmp/suite-combine.log 2>&1
echo "combine + decode suite rc=$? ($(( $(date +%s)-S )) s)"; grep -E "^# (tests|pass|fail)|not ok|launch shapes match|cuda decode:" /tmp/suite-combine.log | head -12
tmp=$(mktemp -d)
for v in $shapes; do
  dir=; e=$v
  case $v in *:*) dir=$PWD/dist/kv-${v%%:*}/; e=${v#*:} ;; esac
  [ "$e" = rule ] && e=
  env ${dir:+FLASH_MLA_KERNEL_DIR=$dir} FLASH_MLA_COMBINE=$e timeout 60 node dist/src/cli.js bench --configs serving --iters 50 --check-samples 1 --reference none --json "$tmp/$v-s.json" > /dev/null 2>&1 || echo "$v serving failed"
  env ${dir:+FLASH_MLA_KERNEL_DIR=$dir} FLASH_MLA_COMBINE=$e timeout 60 node dist/src/cli.js bench --configs 0,12,16,28,30 --iters 50 --check-samples 1 --reference none --json "$tmp/$v-w.json" > /dev/null 2>&1 || echo "$v sweep failed"
done
node -e '
const fs=require("fs"); const [d, ...vs]=process.argv.slice(1); const rows={};
for (const v of vs) for (const k of ["s","w"]) { const f=`${d}/${v}-${k}.json`; if (!fs.existsSync(f)) continue;
  for (const row of JSON.parse(fs.readFileSync(f,"utf8")).rows) ((rows[(row.config && row.config.name) || row.id] ??= {})[v] = row.ms); }
console.log("config (µs)".padEnd(44) + vs.map(v=>v.padStart(8)).join(""));
for (const [k,o] of Object.entries(rows)) console.log(String(k).slice(0,43).padEnd(44) + vs.map(v=>o[v]===undefined?"       -":(o[v]*1000).toFixed(1).padStart(8)).join(""));
' "$tmp" $shapes
