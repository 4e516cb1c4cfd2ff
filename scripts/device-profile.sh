#!/usr/bin/env bash
# Where a decode step's time goes: ncu per kernel (duration, DRAM and SM throughput) for a few bench configs.
# Usage (device machine, project root, after `source .devcarry/activate`):
#   scripts/device-profile.sh KERNEL CONFIGS        e.g. hopper2 0,12,28      output under $OUT (or ./out)
set -uo pipefail
k=${1:?kernel}; configs=${2:?configs}
out=${OUT:-out}; mkdir -p "$out"
timeout 300 ncu --clock-control none --kernel-name regex:'mla_' \
  --metrics gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__throughput.avg.pct_of_peak_sustained_elapsed,launch__registers_per_thread \
  node dist/src/cli.js bench --kernel "$k" --configs "$configs" --iters 2 --warmup 1 --check-samples 0 --reference none > "$out/ncu-$k.txt" 2>&1
echo "ncu rc=$?"
# one line per kernel launch: name, duration, dram %, sm %
awk '/mla_[a-z0-9_]+/ && /\(/ {name=$1} /gpu__time_duration.sum/ {d=$NF} /dram__throughput/ {dr=$NF} /sm__throughput/ {print name, "us=" d, "dram%=" dr, "sm%=" $NF}' "$out/ncu-$k.txt" | uniq -c | head -60
