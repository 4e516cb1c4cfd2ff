#!/usr/bin/env bash
# The wide combine (FLASH_MLA_COMBINE=wide) against the default: GPU suite with it, then the serving set and a few
# sweep configs with each, two rounds. Usage (device machine, after `source .devcarry/activate`):
#   scripts/device-combine.sh
set -uo pipefail
echo "== GPU suite with FLASH_MLA_COMBINE=wide (hopper)"
FLASH_MLA_COMBINE=wide FLASH_MLA_REQUIRE_GPU=1 FLASH_MLA_TEST_KERNELS=hopper timeout 200 node --test --test-concurrency=1 dist/test/gpu-decode.test.js dist/test/strided-decode.test.js > /tmp/suite-wide.log 2>&1
echo "suite rc=$?"; grep -E "^# (pass|fail)|cuda decode:|not ok" /tmp/suite-wide.log | head
tmp=$(mktemp -d)
for round in 1 2; do
  for v in serial wide; do
    FLASH_MLA_COMBINE=$v timeout 100 node dist/src/cli.js bench --configs serving --iters 50 --check-samples 2 --reference none --json "$tmp/$v-s-$round.json" > /dev/null 2>&1 || echo "$v serving failed"
    FLASH_MLA_COMBINE=$v timeout 100 node dist/src/cli.js bench --configs 0,12,16,28,30 --iters 50 --check-samples 1 --reference none --json "$tmp/$v-w-$round.json" > /dev/null 2>&1 || echo "$v sweep failed"
  done
done
node -e '
const fs=require("fs"); const d=process.argv[1]; const rows={};
for (const v of ["serial","wide"]) for (const r of [1,2]) for (const k of ["s","w"]) { const f=`${d}/${v}-${k}-${r}.json`; if (!fs.existsSync(f)) continue;
  for (const row of JSON.parse(fs.readFileSync(f,"utf8")).rows) { const key=row.id; ((rows[key]??={})[v]??=[]).push(row.ms); } }
console.log("config      serial ms        wide ms");
for (const [k,o] of Object.entries(rows)) console.log(k.padEnd(10), (o.serial||[]).map(x=>x.toFixed(4)).join("/").padStart(16), (o.wide||[]).map(x=>x.toFixed(4)).join("/").padStart(16));
' "$tmp"
