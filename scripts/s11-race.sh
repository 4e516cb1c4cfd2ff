#!/bin/bash
# racecheck on S1 with the shipped kernels and a backtrace, SASS around the reported offsets
source .devcarry/activate
out=${OUT:-/tmp/o5}; mkdir -p $out
timeout 150 compute-sanitizer --tool racecheck --show-backtrace device --print-limit 4 node dist/src/cli.js bench --configs serving:S1 --kernel hopper --iters 1 --warmup 0 --check-samples 1 > $out/race-s1.log 2>&1
echo "racecheck S1 rc=$?"; grep -aE "RACECHECK SUMMARY" $out/race-s1.log; grep -aE "Race reported|Write access|Read access|#[0-9]+ 0x|mla_decode|\.cu:" $out/race-s1.log | head -60
cuobjdump -sass -fun mla_decode_sm90_bf16 dist/kernels/mla_decode_sm90.sm_90a.cubin > $out/sass.txt 2>&1; echo "sass lines $(wc -l < $out/sass.txt)"
for off in 8a00 8a90 fdc0 fdf0 13b50 13b60 14610 16770; do echo "== $off"; grep -n -B3 -A1 "/\*$(printf '%04x' 0x$off)\*/" $out/sass.txt | head -6; done
for v in "FLASH_MLA_COMBINE=" "FLASH_MLA_COMBINE=tasks" "FLASH_MLA_COMBINE=tasks FLASH_MLA_EXPERIMENT_CARVEOUT=100" "FLASH_MLA_COMBINE=tasks FLASH_MLA_EXPERIMENT_CARVEOUT=0"; do
  for set in serving:S5,S6,S7,S9,S3 sweep:9; do
    env $v timeout 100 node dist/src/cli.js bench --configs $set --iters 40 --check-samples 0 --reference h200 > $out/cv.txt 2>&1
    echo "== $v $set rc=$?"; grep -aE "^(sweep#|S[0-9])" $out/cv.txt | cut -c1-64
  done
done
