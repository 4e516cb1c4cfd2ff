#!/usr/bin/env bash
# Time builds of one kernel side by side: each variant is a cubin folder dist/kv-NAME (FLASH_MLA_KERNEL_DIR).
# Usage: scripts/device-variants.sh KERNEL CONFIGS NAME...      prints one table per variant, then ms per config
set -uo pipefail
k=${1:?kernel}; configs=${2:?configs}; shift 2
tmp=$(mktemp -d)  # per-variant results stay on the machine; the table is printed
for round in 1 2; do
  for v in "$@"; do
    FLASH_MLA_KERNEL_DIR=$PWD/dist/kv-$v/ timeout 120 node dist/src/cli.js bench --kernel "$k" --configs "$configs" --iters 50 --check-samples ${CHECK:-1} --reference none --json "$tmp/var-$v-$round.json" > "$tmp/var-$v-$round.txt" 2>&1 || echo "$v failed: $(tail -3 "$tmp/var-$v-$round.txt")"
  done
done
node -e '
const fs=require("fs"); const out=process.argv[1]; const vs=process.argv.slice(2);
const rows={}; for (const v of vs) for (const r of [1,2]) { const j=JSON.parse(fs.readFileSync(`${out}/var-${v}-${r}.json`,"utf8")); for (const row of j.rows) { const key=`${row.config.s} h${row.config.h_q} s${row.config.s_q} ${row.config.varlen?"var":"fix"}`; ((rows[key]??={})[v]??=[]).push(row.ms); } }
console.log(["config".padEnd(20), ...vs.map(v=>v.padStart(16))].join(" "));
for (const [k,o] of Object.entries(rows)) console.log([k.padEnd(20), ...vs.map(v=>(o[v]||[]).map(x=>x.toFixed(4)).join("/").padStart(16))].join(" "));
' "$tmp" "$@"
