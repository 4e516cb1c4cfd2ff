#!/usr/bin/env bash
# The device runs of the perf log (docs/perf-log.md, "Next session"): what a session built but could not yet run on a
# GPU, the reusable runners, and every earlier step (history). Usage (device machine, project root, after `source
# .devcarry/activate`; anything a step needs built on the workstation is said in the step):
#   scripts/device-next.sh STEP        outputs under $OUT (or /tmp/device-next-out: not in the tree, whose folders the README must name)
# Each step is one device command; every command inside is bounded by `timeout`.
# Queue (end of session 43): empty — every step built so far has run. Session 43 ran s42all and s42ab (H100), then
# s43 (= s42h + hopvar of sx / lzepmb + s42s) and s42h twice (H200); sx and lzepmb were removed, their switches with
# them. The perf log's "Next session" lists what to build next. Built but not run (the budget ran out): s43n.
# Session 48: s47s and s46r ran (H100); s48h's first form ran its split-cost A/B (`s48o`, H100). Queued: s48h (on an
# H200 the README's run, then on any card s48e's quick form), or s48e alone on any card.
# Ran on an H100 in session 48: s48h's sanitizers and s48c (the combine's W,C), s48d. Session 49: s48e ran (H100;
# c4pair not taken, its switch removed: rebuild it from commit a388047 with -DMLA_EXPERIMENT_P16_STAGE16), s49r
# (1152-byte p16 rows: kept), s49c (ncu of the C = 4 merge), s49s (FP8 tests + memcheck of those rows). Session 50:
# s49q ran (H100; qpf not taken, its switch removed: rebuild it from commit 5c50705), then s46r (H100, the README's
# H100 paragraph), s50r (rawb: the raw batch taken at 2 CTAs). Queued: s50g (the decode + combine GPU tests on the
# raw-batch combine, any card), s50b (the p16 C = 2 batch at 12 / 16 splits, any card; carry .variants/c2b12, c2b16),
# s48h (the README's run, an H200). Session 51: s50g (40/40) and s50b (c2b not taken, its switch removed: rebuild the
# variants from commit 97fa19c) ran on an H100, then s51s (memcheck, clean) and s46r (the README's H100 run).
# Queued: s51n = s48h on an H200, then s51b (4 / 6 splits a p16 C = 2 batch, any card). Session 52: s51b ran (H100; not
# taken: S9 +1.0 / −1.1 % in its two runs). Queued: s48h (the README's run, an H200). Session 53: s53f ran (H100; fsa
# not taken: 0.999× the time, its switch removed — rebuild it from commit fda44e4). Queued: s48h (an H200).
# Session 54: s54n and s54m ran on H100s (their s54q / s54e halves: qlate and qearly not taken, their switches removed;
# the item change's ablation measured). Queued: s48h (the README's run, an H200).
# Session 61: s61a ran (H100; `npm run test:gpu` one file at a time ran out of 420 s: its cause, the 28 non-GPU files
# serialized, fixed by scripts/test-gpu.mjs); no machine after it. Queued: s61g (the whole suite as test:gpu now runs
# it), s61e (s61d: the plain-after-+md question, with the metadata kernel alone between; then s60l), s46r or s47h.
# Session 66: s66a, s66c (s65e inside), s66d, s63b ran (H100); device time spent. Queued: s66e (the 16-row FP8 entries
# with one barrier less per block, built from SRC_REV=cd4cc9e), s66f (cold code under ncu), then on an H200 s48h (the
# README's run) and s64p.
# Session 67 (no device): queued s67a (the interop GPU test and its memcheck, then s66e and s67b: the g32 entry's
# one-bulk-copy gather), s66f, then on an H200 s48h and s64p.
# Outputs past a few files come back as one files.tgz (below).
# Reusable runners: hopvar (HOPPER_VARIANTS), ab_rounds (a function), spab, fp8ab, s37b (per-iteration stamps),
#   release, small|race, sanitize, vartrace / intercept / spread (trace builds).
# History (ran; kept so that the perf log's step names resolve — the -D switches and host variables they name are
# mostly gone, see git history):
#   s43       (ran, session 43, H200) s42h, then hopvar of sx / lzepmb (built on the workstation), then s42s
#   s42all    (ran, session 43, H100) the correctness half of s41c, s41a and s42p
#   s42ab     (ran, session 43, H100) the A/B halves of s41c (tight 0 / 5) and s42p (portable kernels old / new)
#   s42h      (ran, session 43, H200, twice) the sweep and the serving set for docs/runs/ and the README
#   s42s      (ran, session 43, H200) S6 taken apart, with CTA (0, 0)'s stamps of S6, sweep#9, sweep#8
#   s41b      (ran as part of s43; sx / lzepmb removed since)
#   s41c, s42p, s41a (their halves ran in s42all / s42ab)
#   s40t      ~3 min: the tight payload (host-computed schedules) on S7, S8, S9 and the var sweep rows, off/on
#   s40e      ~4 min: the scheduler's even-split rule (FLASH_MLA_EXPERIMENT_EVEN_SPLIT=2): decode GPU test, S8 + 4 shapes off/on
#   s40m      ~6 min: mb (the mask as a branch), pd (P·V descriptors by adding), mbpd — built on the device — through
#             hopvar, then mbpd's FP8 / sparse rows
#   s40x      ~3 min: sx (store_p's offsets by XOR) through hopvar
#   s40s      ~2 min: memcheck and racecheck on 10 'hopper' property cases, the lz build
#   s40b      ~5 min: the threshold row max as the default: gpu-property ×3, decode and cache tests, sweep + serving (JSON)
#   s40a      ~5 min: the threshold row max's GPU tests and its dense FP8 / sparse rows against the session-39 build
#   mc, mcl   (ran, session 35, on an H100: the cluster entries 1.28–1.47× slower; removed with them, see git history)
#   s39a      (ran, session 39) ~2 min: the loop-mix probe (scripts/loop-mix-probe.cu: the compute-bound loop's wgmma + TMA mix without its
#             softmax and handoffs) beside the shipped loop's per-block stamps (.variants/bf16trace) on S6 and sweep#12
#   s38g      (ran, session 39 on an H100; switches removed since) ~4 min: obulk2 (-DMLA_EXPERIMENT_O_BULK=2: obulk in every 16-bit entry) and qtma on the memory-bound rows
#             (var rows, whose split items' epilogues cost them ~4 µs per part, and S3 / S5 / S7 / S12), two A/B rounds
#   s38f      (ran, session 39 on an H100; switches removed since) ~6 min: qtma (-DMLA_EXPERIMENT_Q_TMA=1, run with FLASH_MLA_EXPERIMENT_Q_TMA=1: the 16-bit entries load Q by
#             TMA from one thread, q's tensor map a third argument), obulk (-DMLA_EXPERIMENT_O_BULK=1: a whole item's
#             rows staged in K1 and sent by bulk stores) and qtob (both): SASS, decode GPU tests, the S6 item-change
#             traces (.variants/qtmatrace, obulktrace: with -DMLA_SM90_SPARSE_TRACE), two A/B rounds
#   s38e      (ran, session 38; MLA_EXPERIMENT_Q_AFTER_STORES removed since, in git history) CTA (0, 0)'s item changes, shipped and qas (-DMLA_EXPERIMENT_Q_AFTER_STORES=1: the next Q loaded after
#             the row stores), S6 and sweep#12; then qas through hopvar
#   s38d      (ran, session 38; nse's switch removed since) CTA (0, 0)'s stamps with the item changes (slots 5–7), shipped and nse1, on S6, sweep#12, S8
#   s38c      (ran, session 38; switch removed since) s38b again with nse rebuilt (its S waited before the item loop's back edge: ptxas had injected a
#             wait right after the issue, C7517), then CTA (0, 0)'s stamps of S6 and sweep#14, shipped and nse1
#             (.variants/bf16trace, .variants/nsetrace: -DMLA_SM90_SPARSE_TRACE [-DMLA_EXPERIMENT_NEXT_S_EARLY=1])
#   s38b      (ran, session 38; MLA_EXPERIMENT_NEXT_S_EARLY removed since, in git history) nse1 / nse2 (-DMLA_EXPERIMENT_NEXT_S_EARLY=1 / 2: the compute-bound entries issue S of the next
#             item's first blocks between the epilogue's two rows of stores; nse2 loads the next Q at each loop's end)
#   s38a      (ran, session 38; MLA_EXPERIMENT_WG1_EARLY_EXP, MLA_EXPERIMENT_BF16_EARLY_P0 removed since) wee2 (s37f's) and ep2 / ep3 (-DMLA_EXPERIMENT_BF16_EARLY_P0=2 / 3: the 16-bit entries on the FP8
#             seesaw — P0 published against block j's max, WG1's P0·V0R right after Scale0, K0.B refilled once it
#             retires; ep3 in the compute-bound entries with P1 announced after P1·V1R) through hopvar
#   s37f      (superseded by s38a) wee1 / wee2 (-DMLA_EXPERIMENT_WG1_EARLY_EXP=1 / 2: warpgroup 1 exponentiates S of block j+1 before
#             WG0's max arrives, in the compute-bound entries / every 16-bit entry) through hopvar; .variants/wee1, wee2
#   s37e      (ran, session 37; the switch MLA_EXPERIMENT_S3_AFTER_S2 removed since, in git history) s3s2_1 through
#             hopvar on the compute-bound rows
#   s37d      ~5 min: the build with 'hopper' the 16-bit default for 17–32 rows: the sweep and the serving set (round 1
#             checked against the oracle; JSON for docs/runs/), then 'hopper-small' against 'hopper' at ≤ 16 rows
#   s37c      (ran, session 37; its host switch FLASH_MLA_EXPERIMENT_DECODE_CLUSTER removed since) the 16-bit 'hopper'
#             decode launched as 2-CTA clusters of one part's m-blocks against the plain grid, three rounds
#   s37b      ~1 min: per-iteration stamps of both math warpgroups of the 16-bit 'hopper' entries (.variants/bf16trace:
#             scripts/build-variant.sh bf16trace mla_decode_sm90 sm_90a -DMLA_SM90_SPARSE_TRACE, copied from dist/kv-…)
#             on sweep#28, #12, #8 and S6, S8
#   s37a      ~3 min: 'hopper' against 'hopper-small' on the 17–32-row sweep rows and S7 (two rounds)
#   s37s      ~2 min: the default build with k1am merged: memcheck and racecheck on 10 'hopper' property cases
#   s36d      ~3 min: k1am / k1aa (-DMLA_EXPERIMENT_K1A_EARLY=1 / 2: warpgroup 0 refills K1.A before S of block j+2,
#             in the memory-bound entries / every 16-bit entry) through hopvar; pack .variants/pack/k1a.tgz
#   s36c      ~5 min: the default build with k0a merged: memcheck and racecheck on 10 'hopper' property cases, then the
#             whole sweep and the serving set (one run each, round 1 checked against the oracle)
#   s36b      ~7 min: ptxas --register-usage-level 0 and 10 (FlashMLA builds with 10) against the default 5: SASS, the
#             decode GPU test under rul10, two rounds of the compute-bound rows, hopper-small rows, --kv fp8
#   s36a      ~4 min: (not run: s36b carried its FP8 against bf16) the default build (mrp on): FP8 against bf16, hopper rows
#   s34b      ~7 min: pwh (the power-of-two dequantisation per step), mr (raw requests by warpgroup 0), mrp (both) —
#             FP8 GPU tests, A/B against shipped / pwo2, per-block traces of the dense FP8 entry (session 34's queue, first)
#   s34c      ~5 min: pwh's sanitizers, pws (the paired sparse producer too) tests + sparse#9/#11, dense-as-sparse at 64/128 rows
#   s34       (ran, session 34) s33v + pw/pwo A/B + FP8 against bf16
#   s29final  ~5 min: session 29's tree — small-row sparse GPU tests, sanitizers, the sparse set, ncu of sparse#7
#   g32       ~5 min: dense 17–32 FP8 rows on the 32-column gather body (FLASH_MLA_EXPERIMENT_DENSE_G32=1) — tests, sanitizers, A/B
#   das       ~2 min: dense work as sparse decodes (scripts/dense-as-sparse.json) against the dense FP8 entries
#   sp32x     ~3 min: scripts/sp32-crossover.json with the 32-column sparse entry off and on
#   sp32      ~5 min: the 32-column sparse entry (FLASH_MLA_EXPERIMENT_SPARSE_R32=1) — its GPU tests, sanitizers, sparse#3-7 A/B
#   spab      ~2 min: a 'hopper' sparse variant (SPAB_VARIANT=NAME, .variants/NAME) against the shipped build
#   mdmode    ~3 min: sweep#30's slow mode behind the metadata kernel — part clock, span and SMs (.variants/trace4 and
#             trace5: scripts/build-variant.sh traceN mla_decode_sm90 sm_90a -DMLA_SM90_TRACE=N), with and without it
#   mdcap     ~3 min: metadata kernel variants (MD_VARIANTS, default mdcap) against the shipped one — queued: mdcap
#             (branch s16-metadata-runcap: SRC_REV=s16-metadata-runcap scripts/build-variant.sh mdcap mla_metadata sm_90,
#             cubin into .variants/mdcap) and mdfloor (branch s16-metadata-floor, which also changes the host's shared-
#             memory size: cubin likewise, and its compiled JS as .variants/mdfloor-js, see the step) — each one's GPU
#             golden test, then two rounds of `+md ms` on the serving set and the var sweep rows
#   fp8ab     ~3 min: a hopper-small FP8 variant (.variants/NAME, FP8_VARIANT=NAME) against the shipped build: its FP8 GPU
#             tests, then two rounds of the 16-row FP8 rows (session 16 ran the staggered FP8 start this way as `sfp8`)
#   stagger   ~2 min: memcheck and racecheck on the small set through hopper and hopper-small, then REL_QUICK=1 release
#   vartrace  ~1 min: per-item phases and timeline of the var 'hopper' rows against their fixed twins (.variants/trace1,
#             trace4), then the scheduler's split cost 5 / 3 / 2 on the var rows
#   varcomb   ~1 min: the combine's W,C (FLASH_MLA_COMBINE) on the var 'hopper' rows
#   whole     ~3 min: the scheduler keeping equal-length batches whole (FLASH_MLA_EXPERIMENT_WHOLE_SLACK=3) against the default
#   spread    ~2 min: per-SM part durations of equally loaded rows (.variants/trace5) and sweep#30's run-to-run modes
#   hopvar    ~2 min: 'hopper' loop variants (.variants/NAME, HOPPER_VARIANTS=...) against the default build
#   intercept ~4 min: the memory-bound 'hopper' rows' fixed cost — traces (.variants/trace1-4: scripts/build-variant.sh
#             traceN mla_decode_sm90 sm_90a -DMLA_SM90_TRACE=N) and the call's floor on sweep rows 6, 8, 22, 24, 12, S5, S6
#   fdab      ~4 min: FP8 dequantisation variants of 'hopper' (FD_VARIANTS) — tests, memcheck, sparse and --kv fp8 rows
#   bound     ~2 min: timing-bound variants of the FP8 'hopper' kernel (BOUND_VARIANTS) on sparse and --kv fp8 rows
#   sptrace   ~1 min: per-block producer and math event times of a 'hopper' sparse decode (.variants/sptrace)
#   spprof    ~3 min: ncu (full set, SASS stall samples) of the sparse kernels (sparse#11 hopper, sparse#3 hopper-small) and
#             hopper-small's dense FP8 entry (sweep#16 --kv fp8)
#   prof90    ~2 min: ncu (full set, SASS stall samples) of the bf16 'hopper' kernel on sweep#30 and S6
#   cpre      ~3 min: the combine's first batch beside its LSEs for C ≤ 2 (dist/kernels) against .variants/combold
#             (SRC_REV=2a06032 scripts/build-variant.sh combold mla_combine sm_90, then copy its cubin into
#             .variants/combold): combine and decode GPU tests (CPRE_DECODE=0: not the decode one), memcheck, the
#             CPRE_SETS rows (default: serving + var sweep rows)
#   sparsefinal ~2 min: the default build's Hopper sparse GPU tests, memcheck + racecheck on them, the sparse set (JSON)
#   pair      ~5 min: the paired sparse entry (2-CTA clusters) — Hopper sparse GPU tests, memcheck, racecheck, sparse rows pair off/on
#   pair2     ~3 min: the paired entry as built against PAIR2_VARIANTS (default .variants/v5: SRC_REV=5694577) — tests, sanitizers, two rounds, trace
#   spab2     ~6 min: SPAB_VARIANTS="A B": each sparse variant's Hopper sparse GPU tests, memcheck + racecheck on the
#             first, two rounds of sparse:4-11 against the shipped build
#   race-probe ~1 min: racecheck on each pattern of scripts/race-probe.cu (race-free named-barrier handoffs)
#   race90    ~2 min: racecheck with a device backtrace on S1's 'hopper' decode, the SASS at the reported offsets, then
#             racecheck on 10 sanitize property cases of the shipped build
#   launch    ~4 min: a call's fixed cost and its combine's share (FLASH_MLA_EXPERIMENT_LAUNCH=empty: every kernel
#             launched with b = 0; =nocombine: no combine launch) on the serving shapes and four sweep rows, two rounds
#   splitcost ~3 min: the scheduler's split cost 5 / 8 on the serving shapes it changes and var sweep rows
#   nostore   ~3 min: the 'hopper' kernel with its O stores predicated off (.variants/nostore; timing bound only)
#   traceepi  ~2 min: the 'hopper' kernel's per-item phases (.variants/trace1) and its epilogue split (.variants/trace2,
#             -DMLA_SM90_TRACE=2; TRACE_MODES=3: the first item's start, .variants/trace3) on serving and sweep
#   cexit     ~3 min: the combine's unsplit rows leaving before the PDL wait against .variants/combold (serving, sweep rows)
#   f16chk    ~2 min: hopper-small's FP8 f16 entry as merged: its GPU tests, memcheck and racecheck on its f16 tests
#   sched     ~3 min: the scheduler's split cost 5 (FlashMLA's) against 3 and 2 (FLASH_MLA_EXPERIMENT_SPLIT_OVERHEAD)
#   combshape ~3 min: the combine's W,C on eight serving shapes (FLASH_MLA_COMBINE), two rounds
#   comb      ~2 min: the combine kernel as built against .variants/comb-old and .variants/comb16 (scripts/build-variant.sh
#             builds): its GPU test, the split-heavy serving shapes and var sweep rows, two rounds
#   sparse4   ~4 min: hopper-small's sparse entry (mla_decode_sm90_small_fp8_sparse_bf16, level 4; on the f16
#             datapath since session 9's `sparsef16`) — its FP8/sparse GPU tests (the oracle, with and without K
#             spread 2^±3; and the Hopper sparse ones beside them), memcheck and racecheck on its tests, then the
#             sparse grid on hopper vs hopper-small (h_q 16 rows; h_q 32 rows were skipped then: hopper-small took h_q ≤ 16
#             until session 28)
#   r32       ~5 min: hopper-small's 32-row entry (mla_decode_sm90_small_r32_bf16, not yet run on a GPU) — GPU property
#             cases hopper-small takes (bf16, h_q·s_q ≤ 32), memcheck and racecheck on sanitize cases and on the tiny
#             config (h_q 16 s_q 2: the 32-row entry for sure), then the 32-row sweep rows and serving S7 against
#             'hopper' with the 16-row rows 0,16 beside them
#   sparse2   ~3 min: the sparse kernel as built — GPU tests naming hopper, sanitizers, the sparse grid vs .variants/fp8-v1u4
#   fp8var    ~2 min: FP8 variants in .variants/fp8-*/ against the shipped build (dense rows, checked)
#   sparsepad ~3 min: the Hopper sparse kernel for any h_q (padded m-blocks) — its GPU tests, memcheck, the sparse grid
#   fp8prof   ~2 min: ncu (full, SASS stalls) of the dense FP8 Hopper kernel and bf16 hopper on sweep#16
#   smallfp8  ~4 min: hopper-small's FP8 entry (the f16 datapath) — its FP8 GPU tests (the oracle, with and without
#             K magnitudes spread per block, token and group), bench of sweep rows 0,1,16,17 --kv fp8 hopper vs hopper-small
#             (outputs checked) for dist/kernels and each .variants/small-fp8-*/ build, bf16 of the same rows for the
#             ratio; memcheck and racecheck on its FP8 GPU tests
#   pf        ~6 min: hopper-small's L2 prefetch of the block after next — bf16 and FP8 rows 0,1,16,17 against
#             .variants/small-nopf (the build without it), then the whole GPU suite (`npm run test:gpu`) as built
#   release   ~6 min: the sweep (32) and serving (12) sets on the default kernels (JSON + SVG for docs/runs/), the FP8
#             memory-bound sweep rows against bf16 of the same run, then the GPU files that decode through the default
#             kernels and the decode-loop example
# Reruns (each ran in session 5 or 6):
#   fp8h      ~2 min: the Hopper FP8 kernel — its GPU tests, speed vs bf16 hopper and the portable kernel, memcheck, racecheck
#   small     ~6 min: generic-small forced for the whole GPU suite (`npm run test:gpu` with
#             FLASH_MLA_DECODE_KERNEL=generic-small), then racecheck on generic-small's flagged seed — of dist/kernels
#             and, if present, of .variants/gsm-*/ builds (scripts/build-variant.sh) — and on generic
#   race      ~2 min: `small` without the suite: the FP8/sparse and layout GPU tests under the narrowing, then the racechecks
#   fp8       ~1 min: FP8 and sparse decode on the portable kernel: bench --kv fp8 and bf16 on four sweep rows,
#             --configs sparse and sparse-small
#   sanitize  ≤ 10 min: scripts/device-campaign.sh sanitize (memcheck, racecheck, synccheck, initcheck)
set -uo pipefail
step=${1:?step: s43n | hopvar | s42h | s42s | … (the list above)}
out=${OUT:-/tmp/device-next-out}; mkdir -p "$out"
# The device tool brings back only a few files of $OUT (session 43 lost a run's JSON and the step's log past that
# limit): when the outermost step ends — also on `timeout`'s TERM — every file but main.log (the caller's log) goes
# into one files.tgz once there are more than DEVICE_NEXT_MAX_FILES (default 6). Unpack with
# `tar xzf …/files.tgz -C DIR`.
if [ -z "${DEVICE_NEXT_NESTED:-}" ]; then
  export DEVICE_NEXT_NESTED=1
  pack_outputs() {
    local n; n=$(find "$out" -type f ! -name main.log ! -name files.tgz | wc -l)
    [ "$n" -gt "${DEVICE_NEXT_MAX_FILES:-6}" ] || return 0
    tar czf "$out/../files.$$.tgz" -C "$out" --exclude=./main.log --exclude=./files.tgz . &&
      find "$out" -mindepth 1 ! -name main.log ! -name files.tgz -delete && mv "$out/../files.$$.tgz" "$out/files.tgz" &&
      echo "(device-next: $n output files packed into $out/files.tgz)"
  }
  trap pack_outputs EXIT
  trap 'exit 143' TERM INT
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv,noheader
gpu() { FLASH_MLA_REQUIRE_GPU=1 "$@"; }
summary() { grep -aE "^ℹ (tests|pass|fail)|^# (tests|pass|fail) |^✖|^not ok|launch shapes match|cuda decode:" "$1" | head -20; }
# fp8_tests NAME PATTERN LIMIT: the FP8/sparse GPU tests whose names match PATTERN, under LIMIT seconds, into
# $out/NAME-suite.log; a timeout (a kernel that hangs) stops the step
fp8_tests() {
  local s rc; s=$(date +%s)
  gpu timeout "$3" node --test --test-name-pattern="$2" dist/test/fp8-sparse-gpu.test.js > "$out/$1-suite.log" 2>&1
  rc=$?; echo "FP8/sparse GPU tests matching '$2' rc=$rc ($(( $(date +%s) - s )) s)"; summary "$out/$1-suite.log"
  grep -aE "^ *not ok" "$out/$1-suite.log" | head -8
  [ "$rc" = 124 ] && { echo "timed out: a hang? stopping"; exit 1; }
  return 0
}
# kernel_dir DIR: a kernel directory for FLASH_MLA_KERNEL_DIR — dist/kernels itself, or a copy of it with the cubins
# of a variant folder (.variants/NAME, scripts/build-variant.sh) laid over it
# fp8_variant TAG VARIANT TESTS [SANITIZE [SWEEP [SPARSE]]]: a hopper-small FP8 build (.variants/VARIANT) — its FP8 GPU
# tests matching TESTS, memcheck and racecheck on those matching SANITIZE, then two rounds of the SWEEP rows (--kv fp8)
# and of the SPARSE rows against the shipped build (an empty argument skips its part)
fp8_variant() {
  local kd; kd=$(kernel_dir ".variants/$2")
  FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests "$1" "$3" 200
  [ -n "${4:-}" ] && FLASH_MLA_KERNEL_DIR=$kd/ sanitize_fp8_tests "$1" "$4" 240
  [ -n "${5:-}" ] && AB_EXTRA="--kv fp8 --kernel hopper-small" ab_rounds "$1" "$5" dist/kernels ".variants/$2"
  [ -n "${6:-}" ] && ab_rounds "$1" "$6" dist/kernels ".variants/$2"
  return 0
}
# env_variant TAG VARIANT VAR=value TESTS SANITIZE SETS [BASE]: a hopper-small build the host must launch differently
# (VAR=value set for it): its FP8/sparse GPU tests matching TESTS, memcheck and racecheck on those matching SANITIZE,
# two rounds of SETS against BASE (a kernel directory or variant folder; default the tree's dist/kernels)
env_variant() {
  local kd; kd=$(kernel_dir ".variants/$2")
  ( export "$3"; FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests "$1" "$4" 300 ) || exit 1  # (a hang stops the step)
  ( export "$3"; FLASH_MLA_KERNEL_DIR=$kd/ sanitize_fp8_tests "$1" "$5" 240 )
  ab_rounds "$1" "$6" "${7:-dist/kernels}" ".variants/$2@$3"
}
# sparse_variant TAG VARIANT: a hopper-small sparse build — its sparse GPU tests, memcheck and racecheck on them, two
# rounds of sparse#0-3 against the shipped build
sparse_variant() { fp8_variant "$1" "$2" "sparse FP8 entry" "sparse FP8 entry.*" "" "sparse:0,1,2,3"; }
# fp8_tables: the whole sparse set, then bf16 vs FP8 of the 16/32-row sweep rows, FP8 checked (JSON for docs/runs/)
# sparse_set: the whole sparse set on the default kernels, outputs checked ($out/sparse.json and .txt, for docs/runs/)
sparse_set() {
  timeout 90 node dist/src/cli.js bench --configs sparse --iters 30 --reference h200 --json "$out/sparse.json" > "$out/sparse.txt" 2>&1
  echo "sparse rc=$?"; grep -aE "^sparse#" "$out/sparse.txt" | cut -c1-150
}
fp8_tables() {
  sparse_set
  fp8_vs_bf16 sweep:0,1,16,17,4,5,20,21
}
# e4m3_probe: scripts/e4m3-wgmma-probe.cu built and run (the e4m3 wgmma's fragment layouts; $out/e4m3-probe.txt)
e4m3_probe() {
  nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -I kernels -I scripts -o /tmp/e4m3 scripts/e4m3-wgmma-probe.cu > "$out/e4m3-build.log" 2>&1
  timeout 40 /tmp/e4m3 2>&1 | tee "$out/e4m3-probe.txt"
}
kernel_dir() {
  [ "$1" = dist/kernels ] && { echo "$PWD/dist/kernels"; return; }
  local kd=$PWD/dist/kv-$(basename "$1"); rm -rf "$kd"; cp -r dist/kernels "$kd"; cp "$1"/* "$kd"/; echo "$kd"
}

# r16_ab: one round of the ≤ 16-row rows on 'hopper-small' and 'hopper' (s37d)
r16_ab() {
  local set
  for set in sweep:0,1,16,17 serving:S2,S4,S10,S11; do
    timeout 100 node dist/src/cli.js bench --configs $set --kernel hopper-small,hopper --reference h200 --iters 30 --check-samples 0 > "$out/r16h-${set%%:*}.txt" 2>&1
    echo "== $set rc=$?"; grep -aE "^(sweep#|S[0-9])" "$out/r16h-${set%%:*}.txt" | cut -c1-130
  done
}
# sanitize_hopper_property NAME SEED: memcheck, then racecheck, on 10 sanitize-sized 'hopper' property cases (seed
# SEED) into $out/NAME-TOOL.log, with the tool's summary, the tests' counts and the race classes reported
sanitize_hopper_property() {
  local tool s
  for tool in memcheck racecheck; do
    s=$(date +%s)
    FLASH_MLA_SEED=$2 FLASH_MLA_TEST_KERNELS=hopper FLASH_MLA_GPU_PROPERTY_SANITIZE=1 FLASH_MLA_GPU_PROPERTY_CASES=10 \
      gpu timeout 110 compute-sanitizer --tool $tool --print-limit 4 node --test-reporter=tap dist/test/gpu-property.test.js > "$out/$1-$tool.log" 2>&1
    echo "$tool property rc=$? ($(( $(date +%s) - s )) s): $(grep -aE 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/$1-$tool.log" | tail -1)"; grep -aE "^# (pass|fail)" "$out/$1-$tool.log" | tr '\n' ' '; echo
    grep -a "Race reported between" "$out/$1-$tool.log" | sed -E 's/\+0x[0-9a-f]+//g' | sort | uniq -c | head -6
  done
}
# variant_decode_test TAG DIR: the decode GPU test on the build of DIR (a variant's cubins over dist/kernels), into
# $out/TAG-decode.log, with its summary
variant_decode_test() {
  local s; s=$(date +%s)
  FLASH_MLA_KERNEL_DIR="$(kernel_dir "$2")/" gpu timeout 100 node --test dist/test/gpu-decode.test.js > "$out/$1-decode.log" 2>&1
  echo "GPU decode test on $(basename "$2") rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/$1-decode.log" | tail -4
}
# readme_run_then STEP START_BY LIMIT: on an H200 the README's run (s48h), then STEP (under LIMIT seconds) if fewer than
# START_BY seconds have passed
readme_run_then() {
  local t0; t0=$(date +%s)
  nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200 && timeout 420 "$0" s48h
  [ $(( $(date +%s) - t0 )) -lt "$2" ] && timeout "$3" "$0" "$1"
  echo "total $(( $(date +%s) - t0 )) s"
}
# portable_tests NAME LIMIT: the decode GPU test on 'generic' and 'generic-small' and the layout kernel's tests (each
# under LIMIT seconds), into $out/NAME-*.log (session 42 moved the portable kernels' tile math into one header)
portable_tests() {
  local k s
  for k in generic generic-small; do
    s=$(date +%s); FLASH_MLA_DECODE_KERNEL=$k gpu timeout "$2" node --test dist/test/gpu-decode.test.js > "$out/$1-$k.log" 2>&1
    echo "GPU decode test on '$k' rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/$1-$k.log" | tail -4
  done
  s=$(date +%s); gpu timeout "$2" node --test dist/test/dense-layouts-gpu.test.js > "$out/$1-layouts.log" 2>&1
  echo "layout GPU tests rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/$1-layouts.log" | tail -4
}
# portable_ab: the portable kernels' rows, the session-41 cubins (.variants/portold) against this build, two rounds
portable_ab() {
  AB_CHECK=0 AB_EXTRA="--kernel generic,generic-small" ab_rounds s42pgen "sweep:8,12" .variants/portold dist/kernels
  AB_CHECK=0 AB_EXTRA="--kernel generic --kv fp8" ab_rounds s42pfp8 "sweep:8 sparse:3" .variants/portold dist/kernels
}
# sanitize_fp8_tests NAME PATTERN LIMIT: memcheck, then racecheck, on the FP8/sparse GPU tests whose names match
# PATTERN (each under LIMIT seconds), into $out/NAME-TOOL.log, with the tool's summary and the tests' counts
sanitize_fp8_tests() {
  local tool s
  for tool in memcheck racecheck; do
    s=$(date +%s); FLASH_MLA_REQUIRE_GPU=1 timeout "$3" compute-sanitizer --tool $tool --print-limit 6 node --test --test-name-pattern="$2" dist/test/fp8-sparse-gpu.test.js > "$out/$1-$tool.log" 2>&1
    echo "$tool ('$2' cases) rc=$? ($(( $(date +%s) - s )) s): $(grep -aE 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/$1-$tool.log" | tail -1)"; grep -aE "^# (pass|fail|skip)" "$out/$1-$tool.log" | tr '\n' ' '; echo
  done
}
# fp8_vs_bf16 SET: bf16 of the configs (JSON, the reference), then two rounds over the FP8 cache against it, FP8 checked
# against the oracle on round 1 ($out/bf16.*, $out/fp8-ROUND.*: for docs/runs/)
fp8_vs_bf16() {
  timeout 100 node dist/src/cli.js bench --configs "$1" --iters 40 --check-samples 0 --reference h200 --json "$out/bf16.json" > "$out/bf16.txt" 2>&1
  echo "== bf16 rc=$?"; grep -aE "^sweep#" "$out/bf16.txt" | cut -c1-80
  local round
  for round in 1 2; do
    timeout 100 node dist/src/cli.js bench --configs "$1" --kv fp8 --iters 40 --check-samples $((round == 1 ? 2 : 0)) --reference "$out/bf16.json" --json "$out/fp8-$round.json" > "$out/fp8-$round.txt" 2>&1
    echo "== fp8 $round rc=$?"; grep -aE "^sweep#" "$out/fp8-$round.txt" | cut -c1-150
  done
}
# ab_rounds TAG "SET …" VARIANT…: two rounds of `bench` over each config set for each variant — a kernel directory
# (kernel_dir: dist/kernels or a .variants/NAME folder) or an environment assignment NAME=VALUE on the shipped kernels
# (VALUE empty: the variable unset), or DIR@NAME=VALUE (that build with that variable; label DIR's name-VALUE) —
# outputs checked against the oracle on round 1, into $out/TAG-LABEL-SET-ROUND.txt
ab_rounds() {
  local tag=$1 sets=$2; shift 2
  local round v set label f
  for round in 1 2; do
    for v in "$@"; do
      for set in $sets; do
        if [[ $v == *=* && $v != *@* ]]; then
          label=${v#*=}; label=${label:-off}; f="$out/$tag-$label-$(basename "${set%%:*}")-$round.txt"
          env "$v" timeout 100 node dist/src/cli.js bench --configs $set ${AB_EXTRA:-} --iters 40 --check-samples $((round == 1 && ${AB_CHECK:-1} ? 1 : 0)) --reference h200 > "$f" 2>&1
        else
          # (DIR@VAR=value: that build with that variable set, e.g. a variant that the host must launch differently)
          local dir=${v%%@*} extra=; [[ $v == *@* ]] && extra=${v#*@}
          label=$(basename "$dir")${extra:+-${extra#*=}}; f="$out/$tag-$label-$(basename "${set%%:*}")-$round.txt"
          env ${extra:+"$extra"} FLASH_MLA_KERNEL_DIR="$(kernel_dir "$dir")/" timeout 100 node dist/src/cli.js bench --configs $set ${AB_EXTRA:-} --iters 40 --check-samples $((round == 1 && ${AB_CHECK:-1} ? 1 : 0)) --reference h200 > "$f" 2>&1
        fi
        echo "== $round $label $set rc=$?"; grep -aE "^(sweep#|sparse#|S[0-9]|[A-Za-z0-9_.-]+#[0-9])" "$f" | cut -c1-64,118-150
      done
    done
  done
  # the perf log's table of it (scripts/ab-table.mjs: both rounds per build, the mean against the first build)
  local labels=()
  for v in "$@"; do
    if [[ $v == *=* && $v != *@* ]]; then label=${v#*=}; labels+=("${label:-off}"); else label=$(basename "${v%%@*}"); [[ $v == *@* ]] && label+="-${v#*@*=}"; labels+=("$label"); fi
  done
  node scripts/ab-table.mjs "$out" "$tag" "${labels[@]}" 2>&1 | tee "$out/$tag-table.md"
}

# Session 57's packed-order steps. pack_test TAG NAME LIMIT FILE [PATTERN]: a GPU test file (tests matching PATTERN) with
# the fifth rule on (FLASH_MLA_EXPERIMENT_PACK=3), into $out/TAG-NAME.log
pack_test() {
  local s pat=(); s=$(date +%s); [ -n "${5:-}" ] && pat=(--test-name-pattern="$5")
  FLASH_MLA_EXPERIMENT_PACK=3 gpu timeout "$3" node --test "${pat[@]}" "dist/test/$4.test.js" > "$out/$1-$2.log" 2>&1
  echo "$2 (pack 3) rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/$1-$2.log" | tail -4; grep -aE "^ *not ok" "$out/$1-$2.log" | head -4
}
# metadata_ncu TAG GREP [SECTION…]: ncu on mla_metadata for sweep#9 with the rule off and on (into $out/TAG-ncu-0|3.txt)
metadata_ncu() {
  local tag=$1 pat=$2 pk sec=(); shift 2
  for x in SpeedOfLight "$@"; do sec+=(--section "$x"); done
  for pk in 0 3; do
    FLASH_MLA_EXPERIMENT_PACK=$pk timeout 150 ncu --clock-control none -k regex:mla_metadata -c 1 "${sec[@]}" \
      node dist/src/cli.js bench --configs sweep:9 --iters 1 --warmup 0 --check-samples 0 --reference none > "$out/$tag-ncu-$pk.txt" 2>&1
    echo "ncu pack $pk rc=$?"; grep -aE "$pat" "$out/$tag-ncu-$pk.txt" | head -30
  done
}
# pack_ab TAG SETS: the session-start decode kernels (.variants/maink, unpacked here), this build on batch-order
# schedules, this build with the rule on; two rounds, round 1 checked
pack_ab() {
  (cd .variants/maink && tar -xJf maink.tar.xz)
  AB_CHECK=1 ab_rounds "$1" "$2" .variants/maink dist/kernels dist/kernels@FLASH_MLA_EXPERIMENT_PACK=3
}

case $step in
  small|race)
    if [ "$step" = small ]; then
      s=$(date +%s); FLASH_MLA_DECODE_KERNEL=generic-small timeout 420 npm run test:gpu > "$out/small-suite.log" 2>&1
      echo "GPU suite with generic-small forced rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/small-suite.log"
    else
      # the suite's one failure on 2026-12-01 (session 5): an FP8 decode asking for 'generic' under the narrowing
      s=$(date +%s); FLASH_MLA_DECODE_KERNEL=generic-small gpu timeout 150 node --test dist/test/fp8-sparse-gpu.test.js dist/test/dense-layouts-gpu.test.js > "$out/small-fp8.log" 2>&1
      echo "FP8/sparse + layouts GPU tests with generic-small forced rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/small-fp8.log"
    fi
    for d in dist/kernels .variants/gsm-*; do
      [ -d "$d" ] || continue
      kd=$(kernel_dir "$d")
      # seed 232495263: the two cases racecheck flagged on 2026-12-01 (16 and 256 query rows)
      FLASH_MLA_SEED=232495263 FLASH_MLA_KERNEL_DIR=$kd/ FLASH_MLA_GPU_PROPERTY_SANITIZE=1 FLASH_MLA_GPU_PROPERTY_CASES=2 FLASH_MLA_TEST_KERNELS=generic-small \
        gpu timeout 90 compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 4 node --test-reporter=tap dist/test/gpu-property.test.js > "$out/race-$(basename "$d").log" 2>&1
      echo "racecheck generic-small ($d) rc=$?: $(grep -aE 'RACECHECK SUMMARY' "$out/race-$(basename "$d").log")"
    done
    # the same cases on generic (no padding-group skip): a report there would point below the source
    FLASH_MLA_SEED=232495263 FLASH_MLA_GPU_PROPERTY_SANITIZE=1 FLASH_MLA_GPU_PROPERTY_CASES=2 FLASH_MLA_TEST_KERNELS=generic \
      gpu timeout 90 compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 4 node --test-reporter=tap dist/test/gpu-property.test.js > "$out/race-generic.log" 2>&1
    echo "racecheck generic (same seed) rc=$?: $(grep -aE 'RACECHECK SUMMARY' "$out/race-generic.log")"
    ;;
  fp8)
    for kv in bf16 fp8; do
      timeout 150 node dist/src/cli.js bench --configs 0,16,28,30 --kv $kv --iters 30 --reference h200 --json "$out/fp8-$kv.json" > "$out/fp8-$kv.txt" 2>&1
      echo "dense --kv $kv rc=$?"; grep -aE "^sweep#" "$out/fp8-$kv.txt" | cut -c1-120
    done
    for set in sparse sparse-small; do
      timeout 200 node dist/src/cli.js bench --configs $set --iters 20 --reference h200 --json "$out/$set.json" > "$out/$set.txt" 2>&1
      echo "$set rc=$?"; grep -aE "^sparse" "$out/$set.txt" | cut -c1-140
    done
    ;;
  fp8h)
    # the Hopper FP8 kernel (mla_decode_sm90_fp8_bf16): the FP8/sparse GPU file (the cpu oracle; bit-identical to
    # bf16 hopper over the dequantised cache), compute-sanitizer on its cases, then the speed against bf16 hopper
    # the tests that name 'hopper' first, under a short limit: a kernel that hangs stops the step here
    fp8_tests fp8h hopper "${FP8H_TEST_S:-75}"
    rows=${FP8H_ROWS:-0,4,8,12,16,20,24,28,30,1,17}
    timeout 100 node dist/src/cli.js bench --configs $rows --kernel hopper --iters 30 --check-samples 1 --reference h200 --json "$out/fp8h-bf16.json" > "$out/fp8h-bf16.txt" 2>&1
    echo "bf16 hopper rc=$?"
    timeout 150 node dist/src/cli.js bench --configs $rows --kv fp8 --kernel hopper,generic --iters 30 --check-samples 1 --reference "$out/fp8h-bf16.json" --json "$out/fp8h-fp8.json" > "$out/fp8h-fp8.txt" 2>&1
    echo "fp8 hopper + generic vs bf16 hopper rc=$?"; grep -aE "^sweep#|geomean|vs " "$out/fp8h-fp8.txt" | cut -c1-150 | head -40
    timeout 60 node dist/src/cli.js bench --configs serving --kv fp8 --kernel hopper --iters 30 --check-samples 1 --json "$out/fp8h-serving.json" > "$out/fp8h-serving.txt" 2>&1
    echo "fp8 hopper serving rc=$?"; grep -aE "^S[0-9]" "$out/fp8h-serving.txt" | cut -c1-110
    sanitize_fp8_tests fp8h "hopper" "${FP8H_SAN_S:-90}"
    ;;
  sparse4)
    # hopper-small's sparse entry: its GPU tests (a hang stops the step), then the Hopper sparse kernel's (unchanged,
    # as a control), memcheck and racecheck on hopper-small's sparse tests, the sparse grid hopper vs hopper-small
    fp8_tests sparse4 "small-row kernel's sparse" 150
    fp8_tests sparse4-hopper "Hopper sparse" 150
    sanitize_fp8_tests sparse4 "small-row kernel's sparse" 150
    timeout 200 node dist/src/cli.js bench --configs sparse --kernel hopper,hopper-small --iters 20 --check-samples 1 --json "$out/sparse4.json" > "$out/sparse4.txt" 2>&1
    echo "sparse bench rc=$? (h_q 32 rows: hopper-small took h_q ≤ 16 then)"; grep -aE "^sparse|skip" "$out/sparse4.txt" | cut -c1-160
    ;;
  sparsepad)
    # the Hopper sparse kernel for any h_q (each token's heads padded to whole m-blocks): its GPU tests (h_q 1, 3, 16,
    # 100 and the old cases), memcheck, then the sparse grid (h_q 16/32/128) on 'hopper' against 'generic'
    fp8_tests sparsepad "Hopper sparse|hopper' by default" 120
    FLASH_MLA_REQUIRE_GPU=1 timeout 100 compute-sanitizer --tool memcheck --print-limit 4 node --test --test-name-pattern="Hopper sparse" dist/test/fp8-sparse-gpu.test.js > "$out/sparsepad-memcheck.log" 2>&1
    echo "memcheck rc=$?: $(grep -aE 'ERROR SUMMARY' "$out/sparsepad-memcheck.log" | tail -1)"
    timeout 200 node dist/src/cli.js bench --configs sparse --kernel hopper,generic --iters 20 --check-samples 1 --json "$out/sparsepad.json" > "$out/sparsepad.txt" 2>&1
    echo "sparse bench rc=$?"; grep -aE "^sparse" "$out/sparsepad.txt" | cut -c1-140
    ;;
  fp8prof)
    # where the dense FP8 Hopper kernel's time goes: ncu (full set, SASS-level stalls) on sweep#16 (b 128, 8192, h_q 16)
    # for the FP8 kernel and bf16 hopper; details and the SASS page written as text under $out
    for kv in fp8 bf16; do
      timeout 150 ncu --clock-control none --kernel-name regex:'mla_decode_sm90' --launch-skip 2 --launch-count 1 --set full --import-source yes -f -o "$out/prof-$kv" \
        node dist/src/cli.js bench --configs ${PROF_ROW:-16} --kv $kv --kernel hopper --iters 3 --warmup 1 --check-samples 0 --reference none > "$out/prof-$kv.log" 2>&1
      echo "ncu $kv rc=$?"
      ncu -i "$out/prof-$kv.ncu-rep" --page details > "$out/prof-$kv-details.txt" 2>&1
      ncu -i "$out/prof-$kv.ncu-rep" --page source --csv --print-source sass > "$out/prof-$kv-sass.csv" 2>&1
      grep -aE "Duration|DRAM Throughput|Compute \(SM\) Throughput|Issue Slots Busy|No Eligible|Active Warps Per Scheduler|Eligible Warps" "$out/prof-$kv-details.txt" | head -12
    done
    ;;
  fp8var)
    # FP8 producer/math variants (.variants/fp8-NAME/ cubins from scripts/build-variant.sh, moved there to travel
    # light) against the shipped build and bf16 hopper: dense FP8 rows, each row's output checked against the oracle
    rows=${FP8H_ROWS:-0,16,24,30}
    timeout 60 node dist/src/cli.js bench --configs $rows --kernel hopper --iters 30 --check-samples 1 --json "$out/fp8var-bf16.json" > /dev/null 2>&1
    for d in dist/kernels .variants/fp8-*; do
      [ -d "$d" ] || continue
      name=$(basename "$d"); kd=$(kernel_dir "$d")
      FLASH_MLA_KERNEL_DIR=$kd/ timeout 60 node dist/src/cli.js bench --configs $rows --kv fp8 --kernel hopper --iters 30 --check-samples 2 --reference "$out/fp8var-bf16.json" --json "$out/fp8var-$name.json" > "$out/fp8var-$name.txt" 2>&1
      echo "== $name rc=$?"; grep -aE "^sweep#|hopper vs ref" "$out/fp8var-$name.txt" | cut -c1-130
    done
    ;;
  sparse2)
    # the Hopper sparse kernel as built (2026-12-01 session 6: the gather in cp.async 16-byte copies, RoPE placed
    # swizzled): the FP8/sparse GPU tests naming hopper under a short limit (a hang stops the step), sanitizers, then
    # the sparse grid against the build in .variants/fp8-v1u4 (the sparse kernel with per-token bulk copies)
    fp8_tests sparse2 "hopper|Hopper" "${FP8H_TEST_S:-120}"
    sanitize_fp8_tests sparse2 "Hopper sparse" 100
    for d in dist/kernels .variants/fp8-v1u4; do
      [ -d "$d" ] || continue
      name=$(basename "$d"); kd=$(kernel_dir "$d")
      FLASH_MLA_KERNEL_DIR=$kd/ timeout 120 node dist/src/cli.js bench --configs sparse --kernel hopper --iters 20 --check-samples 1 --json "$out/sparse2-$name.json" > "$out/sparse2-$name.txt" 2>&1
      echo "== sparse grid, $name rc=$?"; grep -aE "^sparse" "$out/sparse2-$name.txt" | cut -c1-120
    done
    ;;
  r32)
    s=$(date +%s); FLASH_MLA_TEST_KERNELS=hopper-small FLASH_MLA_GPU_PROPERTY_CASES=${R32_CASES:-300} gpu timeout 150 node --test dist/test/gpu-property.test.js > "$out/r32-property.log" 2>&1
    rc=$?; echo "GPU property, hopper-small rc=$rc ($(( $(date +%s) - s )) s)"; grep -aE "hopper-small .* runs|failure|^# (pass|fail)" "$out/r32-property.log" | head -8
    [ "$rc" = 124 ] && { echo "timed out: a hang? stopping"; exit 1; }
    for tool in memcheck racecheck; do
      # ~1 in 10 sanitize cases is a bf16 one of 17–32 rows; the tiny config (b 2, h_q 16, s_q 2, causal) runs the 32-row entry
      s=$(date +%s); FLASH_MLA_TEST_KERNELS=hopper-small FLASH_MLA_GPU_PROPERTY_SANITIZE=1 FLASH_MLA_GPU_PROPERTY_CASES=${R32_SAN_CASES:-24} \
        gpu timeout 100 compute-sanitizer --tool $tool --print-limit 6 node --test-reporter=tap dist/test/gpu-property.test.js > "$out/r32-$tool.log" 2>&1
      echo "$tool hopper-small property rc=$? ($(( $(date +%s) - s )) s): $(grep -aE 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/r32-$tool.log" | tail -1); $(grep -aE 'hopper-small .* runs' "$out/r32-$tool.log" | head -1)"
      s=$(date +%s); timeout 60 compute-sanitizer --tool $tool --print-limit 6 node dist/src/cli.js bench --configs tiny --kernel hopper-small --iters 1 --warmup 0 --check-samples 1 > "$out/r32-$tool-tiny.log" 2>&1
      echo "$tool hopper-small tiny rc=$? ($(( $(date +%s) - s )) s): $(grep -aE 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/r32-$tool-tiny.log" | tail -1)"
    done
    for set in "0,2,4,16,18,20,3,5,19,21" "serving:S7"; do
      name=r32-${set//[:,]/-}
      timeout 150 node dist/src/cli.js bench --configs $set --kernel hopper,hopper-small --iters 50 --check-samples 2 --reference h200 --json "$out/$name.json" > "$out/$name.txt" 2>&1
      echo "bench $set rc=$?"; grep -aE "^(sweep#|S[0-9])|geomean" "$out/$name.txt" | cut -c1-170
    done
    ;;
  pf)
    for kv in bf16 fp8; do
      for d in dist/kernels .variants/small-nopf; do
        name=$(basename "$d"); kd=$(kernel_dir "$d")
        FLASH_MLA_KERNEL_DIR=$kd/ timeout 90 node dist/src/cli.js bench --configs 0,1,16,17 --kv $kv --iters 40 --check-samples 1 --reference h200 > "$out/pf-$kv-$name.txt" 2>&1
        echo "== $kv $name rc=$?"; grep -aE "^sweep#" "$out/pf-$kv-$name.txt" | cut -c1-100
      done
    done
    s=$(date +%s); timeout ${PF_SUITE_S:-330} npm run test:gpu > "$out/pf-suite.log" 2>&1
    echo "GPU suite rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/pf-suite.log"; grep -aE "^✖|not ok" "$out/pf-suite.log" | head -10; tail -4 "$out/pf-suite.log"
    ;;
  release)
    # REL_NO_BENCH=1: the GPU files and the example only (a build whose speed an A/B already measured)
    [ -n "${REL_NO_BENCH:-}" ] || {
    timeout 150 node dist/src/cli.js bench --configs sweep --iters 50 --reference h200 --json "$out/sweep.json" --svg "$out/sweep.svg" > "$out/sweep.txt" 2>&1
    echo "sweep rc=$?"; grep -aE "^sweep#|geomean|best" "$out/sweep.txt" | tail -40 | cut -c1-190
    timeout 60 node dist/src/cli.js bench --configs serving --iters 50 --reference h200 --json "$out/serving.json" > "$out/serving.txt" 2>&1
    echo "serving rc=$?"; grep -aE "^S[0-9]|geomean" "$out/serving.txt" | cut -c1-190
    # REL_QUICK=1 (a session's last run when only the bf16 decode changed): no FP8/sparse benches, no FP8/sparse GPU file
    if [ -z "${REL_QUICK:-}" ]; then
      timeout 50 node dist/src/cli.js bench --configs 0,1,2,4,8,16,17,18,20,24 --kv fp8 --iters 30 --reference "$out/sweep.json" --json "$out/fp8.json" > "$out/fp8.txt" 2>&1
      echo "fp8 vs bf16 (same run) rc=$?"; grep -aE "^sweep#|geomean" "$out/fp8.txt" | cut -c1-190
      timeout 90 node dist/src/cli.js bench --configs sparse --iters 20 --reference h200 --json "$out/sparse.json" > "$out/sparse.txt" 2>&1
      echo "sparse (default kernels) rc=$?"; grep -aE "^sparse#" "$out/sparse.txt" | cut -c1-150
    fi
    }
    [ -n "${REL_NO_TESTS:-}" ] && exit 0
    # the GPU files that decode through the default kernels (hopper-small for ≤ 16 rows since session 7), the example
    s=$(date +%s); FLASH_MLA_GPU_PROPERTY_CASES=${REL_CASES:-150} gpu timeout ${REL_TEST_S:-150} node --test --test-concurrency=1 dist/test/gpu-decode.test.js dist/test/gpu-property.test.js \
      dist/test/strided-decode.test.js dist/test/kvcache-gpu.test.js $([ -z "${REL_QUICK:-}" ] && echo dist/test/fp8-sparse-gpu.test.js) > "$out/release-tests.log" 2>&1
    echo "GPU tests rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/release-tests.log"; grep -aE "^✖|^not ok|# fail" "$out/release-tests.log" | head -8
    timeout 40 node dist/examples/decode-loop.js --backend cuda > "$out/release-example.log" 2>&1; echo "decode-loop example rc=$?"; tail -3 "$out/release-example.log"
    ;;
  smallfp8)
    fp8_tests smallfp8 "hopper-small" "${SMALLFP8_TEST_S:-120}"
    rows=${SMALLFP8_ROWS:-0,1,16,17}
    timeout 60 node dist/src/cli.js bench --configs $rows --kernel hopper,hopper-small --iters 30 --check-samples 1 --reference h200 --json "$out/smallfp8-bf16.json" > "$out/smallfp8-bf16.txt" 2>&1
    echo "== bf16 rc=$?"; grep -aE "^sweep#|geomean" "$out/smallfp8-bf16.txt" | cut -c1-170
    for d in dist/kernels .variants/small-fp8-*; do
      [ -d "$d" ] || continue
      name=$(basename "$d"); kd=$(kernel_dir "$d")
      FLASH_MLA_KERNEL_DIR=$kd/ timeout 60 node dist/src/cli.js bench --configs $rows --kv fp8 --kernel hopper,hopper-small --iters 30 --check-samples 2 --reference h200 --json "$out/smallfp8-fp8-$name.json" > "$out/smallfp8-fp8-$name.txt" 2>&1
      echo "== fp8 $name rc=$?"; grep -aE "^sweep#|geomean" "$out/smallfp8-fp8-$name.txt" | cut -c1-170
    done
    sanitize_fp8_tests smallfp8 "hopper-small" 100
    ;;
  f16chk)
    # hopper-small's dense FP8 entry (the f16 datapath) as merged: the FP8/sparse GPU tests of the small-row kernel and
    # the default-kernel test, then memcheck and racecheck on its f16 tests alone (session 8's racecheck of a wider
    # pattern also ran the 'hopper' FP8 kernel, whose zero-tail reports are a known false class)
    fp8_tests f16chk "small-row|hopper-small" 150
    sanitize_fp8_tests f16chk "f16 datapath" 100
    ;;
  sched)
    # the scheduler's split cost (FLASH_MLA_EXPERIMENT_SPLIT_OVERHEAD: the cpu schedule, the API's metadata check and
    # the metadata kernel's argument; FlashMLA's 5 by default) at 3 and 2: variable-length sweep rows, their fixed twins
    # and serving shapes, each row checked against the oracle
    for ov in ${SCHED_VALUES:-5 3 2}; do
      for set in "1,3,5,9,17,19,25,0,16" "serving:S3,S4,S5,S6,S7,S9,S11,S12"; do
        FLASH_MLA_EXPERIMENT_SPLIT_OVERHEAD=$ov timeout 100 node dist/src/cli.js bench --configs $set --iters 30 --check-samples 1 --reference h200 > "$out/sched-$ov-${set%%:*}.txt" 2>&1
        echo "== overhead $ov $set rc=$?"; grep -aE "^(sweep#|S[0-9])" "$out/sched-$ov-${set%%:*}.txt" | cut -c1-64,118-150
      done
    done
    ;;
  combshape)
    # the combine's shape rule (src/cuda/combine-shape.ts, fitted in session 5 with 8 loads in flight) after combine v3:
    # each serving shape under its rule's W,C and the next larger ones (FLASH_MLA_COMBINE=W,C), two rounds
    for round in 1 2; do
      for cw in ${COMBSHAPE_SETS:-"S7 1,4 2,4 4,4 8,4" "S9 1,2 1,4 2,4 4,4" "S12 2,4 4,4 8,4" "S8 1,1 1,2 1,4" "S6 1,1 1,2" "S5 1,1 1,2" "S1 4,4 8,4" "S3 4,4 8,4"}; do
        set -- $cw; cfg=$1; shift
        for wc in "$@"; do
          r=$(FLASH_MLA_COMBINE=$wc timeout 60 node dist/src/cli.js bench --configs serving:$cfg --iters 40 --check-samples $((round == 1 && ${AB_CHECK:-1} ? 1 : 0)) --reference h200 2>&1 | grep -aE "^S[0-9]" | awk '{print $8, $NF}')
          echo "$round $cfg W,C=$wc: $r"
        done
      done
    done
    ;;
  comb)
    # the combine with each row's split LSEs loaded once into registers (dist/kernels) against the shipped one
    # (.variants/comb-old) and the same with 16 loads in flight (.variants/comb16): its GPU test, then the split-heavy
    # serving shapes, S5 (no splits) and var sweep rows, checked against the oracle
    s=$(date +%s); gpu timeout 100 node --test dist/test/combine-gpu.test.js > "$out/comb-test.log" 2>&1
    echo "combine GPU test rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/comb-test.log"
    ab_rounds comb "serving:S1,S2,S3,S5,S7,S9,S12 sweep:9,25,1" dist/kernels ${COMB_VARIANTS:-.variants/comb-old .variants/comb16}
    ;;
  cexit)
    # The combine's unsplit rows leaving before the PDL wait (dist/kernels) against the combine as it was
    # (.variants/combold): its GPU test, then every serving shape and sweep rows with few or many split rows, two rounds
    s=$(date +%s); gpu timeout 100 node --test dist/test/combine-gpu.test.js > "$out/cexit-test.log" 2>&1
    echo "combine GPU test rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/cexit-test.log"
    ab_rounds cexit "serving sweep:9,12,25,28,30" dist/kernels .variants/combold
    ;;
  splitcost)
    # The scheduler's split cost (FLASH_MLA_EXPERIMENT_SPLIT_OVERHEAD, in blocks; FlashMLA's 5 ships) at 5 and 8: serving
    # shapes whose schedule changes (S4 at 8: no request split, no combine work; S1 32 items instead of 52) and two
    # var-length sweep rows (their largest part grows by 3 blocks), two rounds
    ab_rounds splitcost "serving:S1,S4,S7,S9 sweep:1,9" FLASH_MLA_EXPERIMENT_SPLIT_OVERHEAD=5 FLASH_MLA_EXPERIMENT_SPLIT_OVERHEAD=8
    ;;
  nostore)
    # What the 'hopper' kernel's O stores cost (.variants/nostore: -DMLA_EXPERIMENT_NO_O_STORE — every output value and
    # shuffle computed, the global stores of O and of the fp32 partials predicated off at run time; LSEs stored): the
    # upper bound of any epilogue-store change, on the serving shapes and the multi-item sweep rows. Outputs are wrong
    # by construction: no value check (AB_CHECK=0)
    AB_CHECK=0 ab_rounds nostore "serving:S1,S3,S5,S6,S8,S9,S12 sweep:12,25,28,30" dist/kernels .variants/nostore
    ;;
  traceepi)
    # Where the 'hopper' kernel's per-item epilogue goes (.variants/trace2: -DMLA_SM90_TRACE=2 — loop end → past the
    # row-sum barrier, the next Q's issue, the stores, per item) beside the phase trace (.variants/trace1), on the serving
    # shapes and the sweep; cycles at the 1.75 GHz the SM runs at under wgmma load (session 9's ncu durations)
    # (TRACE_MODES="3": only the first-item split, .variants/trace3: -DMLA_SM90_TRACE=3; "4": the parts' timeline — clock,
    # start skew, span — .variants/trace4: -DMLA_SM90_TRACE=4)
    for m in ${TRACE_MODES:-1 2}; do
      for set in serving sweep; do
        FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/trace$m)/ timeout 90 node scripts/trace-sm90.mjs $set 1.75 $([ $m = 2 ] && echo epi; [ $m = 3 ] && echo first; [ $m = 4 ] && echo timeline) > "$out/trace$m-$set.txt" 2>&1
        echo "== trace mode $m $set rc=$?"; cat "$out/trace$m-$set.txt"
      done
    done
    ;;
  race90)
    # Where the racecheck hazards on S1's 'hopper' decode are (session 11: st.shared.f32 of sScale1 by warpgroup 1 and
    # of sL, against loads behind the Scale1 and SumReady barriers): the device backtrace and the SASS at the offsets
    timeout 150 compute-sanitizer --tool racecheck --show-backtrace device --print-limit 4 node dist/src/cli.js bench --configs serving:S1 --kernel hopper --iters 1 --warmup 0 --check-samples 1 > "$out/race-s1.log" 2>&1
    echo "racecheck S1 (hopper) rc=$?: $(grep -aE 'RACECHECK SUMMARY' "$out/race-s1.log")"; grep -aE "Race reported|Write access|Read access|#[0-9]+ 0x|\.cu:|\.cuh:" "$out/race-s1.log" | head -60
    cuobjdump -sass -fun mla_decode_sm90_bf16 dist/kernels/mla_decode_sm90.sm_90a.cubin > "$out/sass.txt" 2>&1; echo "sass lines $(wc -l < "$out/sass.txt")"
    for off in ${RACE_OFFSETS:-8a00 8a90 fdc0 fdf0 13b50 13b60 14610 16770}; do echo "== $off"; grep -n -B3 -A1 "/\*$off\*/" "$out/sass.txt" | head -6; done
    # racecheck on the sanitize property cases (session 12: the reports are racecheck's reading of the bar.arrive
    # handoffs — scripts/race-probe.cu, step race-probe; the discriminator build is gone, in git history)
    FLASH_MLA_SEED=424242 FLASH_MLA_TEST_KERNELS=hopper FLASH_MLA_GPU_PROPERTY_SANITIZE=1 FLASH_MLA_GPU_PROPERTY_CASES=10 \
      gpu timeout 80 compute-sanitizer --tool racecheck --print-limit 3 node --test-reporter=tap dist/test/gpu-property.test.js > "$out/race90.log" 2>&1
    echo "racecheck property rc=$?: $(grep -aE 'RACECHECK SUMMARY' "$out/race90.log")"; grep -aE "Race reported|Read access" "$out/race90.log" | head -4
    ;;
  cpre)
    # the combine with the first batch of partials loaded beside the LSEs for C ≤ 2 (dist/kernels) against the
    # combine before it (.variants/combold): the combine and decode GPU tests, memcheck on the first, then every
    # serving shape and the var sweep rows (every command bounded: session 12 lost a whole call to an unbounded one)
    gpu timeout 90 node --test dist/test/combine-gpu.test.js > "$out/combine-gpu.log" 2>&1; echo "combine GPU test rc=$?"; summary "$out/combine-gpu.log"
    [ "${CPRE_DECODE:-1}" = 1 ] && { gpu timeout 150 node --test dist/test/gpu-decode.test.js > "$out/gpu-decode.log" 2>&1; echo "decode GPU test rc=$?"; summary "$out/gpu-decode.log"; }
    FLASH_MLA_REQUIRE_GPU=1 timeout 90 compute-sanitizer --tool memcheck --print-limit 4 node --test dist/test/combine-gpu.test.js > "$out/combine-memcheck.log" 2>&1
    echo "memcheck combine GPU test rc=$?: $(grep -aE 'ERROR SUMMARY' "$out/combine-memcheck.log" | tail -1)"
    ab_rounds cpre "${CPRE_SETS:-serving sweep:9,13,25}" dist/kernels .variants/combold
    ;;
  s40a)
    # (~5 min) the threshold row max (next_row_max, the default build) against the session-39 build (.variants/shipped:
    # HEAD~ kernels/mla_decode_sm90.cu, no -lineinfo): the decode, property, FP8/sparse, combine and cache GPU tests, then
    # two rounds of the dense FP8 rows and the paired sparse rows
    s=$(date +%s)
    gpu timeout 360 node --test --test-concurrency=1 dist/test/gpu-decode.test.js dist/test/gpu-property.test.js dist/test/fp8-sparse-gpu.test.js dist/test/combine-gpu.test.js dist/test/kvcache-gpu.test.js > "$out/s40a-suite.log" 2>&1
    echo "GPU tests rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s40a-suite.log"
    AB_EXTRA="--kv fp8" ab_rounds s40fp8 "sweep:8,12,24,28 sparse:8-11" dist/kernels .variants/shipped
    ;;
  s40b)
    # (~5 min) the threshold row max as the default with the u·spread bound (src/check/compare.ts): gpu-property three
    # times (fresh seeds), the decode and cache GPU tests, then the sweep and the serving set (round 1 checked; JSON)
    for r in 1 2 3; do
      gpu timeout 120 node --test dist/test/gpu-property.test.js > "$out/s40b-property-$r.log" 2>&1
      echo "gpu-property round $r rc=$?"; grep -aE "base seed|^#   (hopper|generic)|^# (pass|fail) " "$out/s40b-property-$r.log" | head -8
    done
    gpu timeout 150 node --test --test-concurrency=1 dist/test/gpu-decode.test.js dist/test/kvcache-gpu.test.js > "$out/s40b-decode.log" 2>&1
    echo "decode + cache GPU tests rc=$?"; summary "$out/s40b-decode.log"
    timeout 200 node dist/src/cli.js bench --reference h200 --iters 40 --check-samples 1 --json "$out/sweep.json" > "$out/sweep.txt" 2>&1
    echo "sweep rc=$?"; tail -n 45 "$out/sweep.txt"
    timeout 100 node dist/src/cli.js bench --configs serving --reference h200 --iters 40 --check-samples 1 --json "$out/serving.json" > "$out/serving.txt" 2>&1
    echo "serving rc=$?"; tail -n 20 "$out/serving.txt"
    ;;
  hopvar)
    # 'hopper' loop variants against the shipped build (scripts/build-variant.sh NAME mla_decode_sm90 sm_90a FLAGS, cubin
    # copied into .variants/NAME; HOPPER_VARIANTS names them — session 14 ran rq8 and s0early this way): where each
    # one's spills are (SASS), the decode GPU test under each, then two rounds
    vs=""
    for v in ${HOPPER_VARIANTS:?HOPPER_VARIANTS: the .variants/NAME folders to time}; do
      [ -d .variants/$v ] || { echo "no .variants/$v: skipped"; continue; }
      cuobjdump -sass -fun mla_decode_sm90_bf16 .variants/$v/mla_decode_sm90.sm_90a.cubin > "$out/$v-sass.txt" 2>&1
      echo "$v bf16 SASS: $(grep -c HGMMA "$out/$v-sass.txt") HGMMA, spill ops at lines: $(grep -nE "STL|LDL" "$out/$v-sass.txt" | cut -d: -f1 | tr '\n' ' ')"
      echo "  HGMMA line range: $(grep -n HGMMA "$out/$v-sass.txt" | head -1 | cut -d: -f1)-$(grep -n HGMMA "$out/$v-sass.txt" | tail -1 | cut -d: -f1); loop branches: $(grep -nE "BRA" "$out/$v-sass.txt" | wc -l)"
      FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/$v)/ gpu timeout 150 node --test dist/test/gpu-decode.test.js > "$out/$v-gpu-decode.log" 2>&1
      echo "decode GPU test ($v) rc=$?"; summary "$out/$v-gpu-decode.log" | tail -4
      vs="$vs .variants/$v"
    done
    ab_rounds hopvar "${HOPVAR_SETS:-sweep:8,12,14,28,30 serving:S5,S6,S8,S9}" dist/kernels $vs
    ;;
  s36d)
    # (~3 min) k1am / k1aa: warpgroup 0 waits for its P·V1L and refills K1.A (block j+3's slabs 0–3) before it issues S
    # of block j+2 — whose slab waits used to hold that refill back — in the memory-bound entries (k1am:
    # -DMLA_EXPERIMENT_K1A_EARLY=1) or every 16-bit entry (k1aa: =2). Pack: tar czf .variants/pack/k1a.tgz
    # .variants/k1am .variants/k1aa
    HOPPER_VARIANTS="k1am k1aa" HOPVAR_SETS="sweep:6,8,12,24,28 serving:S3,S5,S6,S9,S12" "$0" hopvar
    ;;
  s37c)
    # (~3 min) does the bimodal sweep#30 (0.89 or 0.97 ms run to run) depend on where a part's m-blocks land? The same
    # kernel launched plain and as clusters of two consecutive m-blocks (one GPC each), alternating, three rounds
    for r in 1 2 3; do
      for c in 1 2; do
        FLASH_MLA_EXPERIMENT_DECODE_CLUSTER=$c timeout 100 node dist/src/cli.js bench --configs sweep:12,14,30 --kernel hopper --iters 30 --check-samples $(( r == 1 ? 1 : 0 )) --reference h200 > "$out/s37c-sweep-$c-$r.txt" 2>&1
        echo "== round $r cluster $c sweep rc=$?"; grep -aE "^sweep#" "$out/s37c-sweep-$c-$r.txt" | cut -c1-120
        FLASH_MLA_EXPERIMENT_DECODE_CLUSTER=$c timeout 60 node dist/src/cli.js bench --configs serving:S6,S8,S9 --kernel hopper --iters 30 --check-samples $(( r == 1 ? 1 : 0 )) --reference h200 > "$out/s37c-serving-$c-$r.txt" 2>&1
        echo "== round $r cluster $c serving rc=$?"; grep -aE "^S[0-9]" "$out/s37c-serving-$c-$r.txt" | cut -c1-120
      done
    done
    ;;
  s37b)
    # (~1 min) where the compute-bound loop waits: CTA (0, 0)'s per-iteration stamps (scripts/trace-sparse.mjs bf16:…)
    kd=$(kernel_dir .variants/bf16trace)
    for r in 28 12 8 S6 S8; do
      FLASH_MLA_KERNEL_DIR=$kd/ timeout 60 node scripts/trace-sparse.mjs bf16:$r 1.755 > "$out/bf16trace-$r.txt" 2>&1
      echo "== bf16:$r rc=$?"; grep -aE "steady|per iteration|cross|Error" "$out/bf16trace-$r.txt"
    done
    ;;
  s39a)
    nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
    nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -O3 -I kernels -o /tmp/mixprobe scripts/loop-mix-probe.cu && timeout 60 /tmp/mixprobe | tee "$out/mixprobe.txt"
    kd=$(kernel_dir .variants/bf16trace)
    for r in S6 12; do
      FLASH_MLA_KERNEL_DIR=$kd/ timeout 60 node scripts/trace-sparse.mjs bf16:$r 1.755 > "$out/bf16trace-$r.txt" 2>&1
      echo "== bf16trace bf16:$r rc=$?"; grep -aE "steady|per iteration|cross|Error" "$out/bf16trace-$r.txt"
    done
    timeout 60 /tmp/mixprobe | tee "$out/mixprobe-2.txt"
    ;;
  s38g)
    # (~4 min) the memory-bound entries' item changes: obulk2 stages every item's rows in K1 (free there: a next item's
    # block 1 is loaded at its top) and sends them by bulk stores; qtma's Q load as in s38f
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/obulk2)/ gpu timeout 150 node --test dist/test/gpu-decode.test.js > "$out/obulk2-gpu-decode.log" 2>&1
    echo "decode GPU test (obulk2) rc=$?"; summary "$out/obulk2-gpu-decode.log" | tail -4
    ab_rounds mb "sweep:3,9,25 serving:S3,S5,S7,S12" dist/kernels .variants/obulk2 ".variants/qtma@FLASH_MLA_EXPERIMENT_Q_TMA=1"
    ;;
  s38f)
    # (~3 min) the next Q's 18 cp.async per thread take ~0.8 µs of every item change (s38e's trace); one thread's TMA
    for v in qtma obulk qtob; do
      cuobjdump -sass -fun mla_decode_sm90_bf16 .variants/$v/mla_decode_sm90.sm_90a.cubin > "$out/$v-sass.txt" 2>&1
      echo "$v bf16 SASS: $(grep -c HGMMA "$out/$v-sass.txt") HGMMA, $(grep -c UTMALDG "$out/$v-sass.txt") UTMALDG, $(grep -c UBLKCP "$out/$v-sass.txt") UBLKCP, spill ops: $(grep -cE "STL|LDL" "$out/$v-sass.txt")"
      FLASH_MLA_EXPERIMENT_Q_TMA=$([ $v = obulk ] && echo 0 || echo 1) FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/$v)/ gpu timeout 150 node --test dist/test/gpu-decode.test.js > "$out/$v-gpu-decode.log" 2>&1
      echo "decode GPU test ($v) rc=$?"; summary "$out/$v-gpu-decode.log" | tail -4
    done
    for v in bf16trace qtmatrace obulktrace; do
      kd=$(kernel_dir .variants/$v); e=FLASH_MLA_EXPERIMENT_Q_TMA=0; [ $v = qtmatrace ] && e=FLASH_MLA_EXPERIMENT_Q_TMA=1
      env $e FLASH_MLA_KERNEL_DIR=$kd/ timeout 60 node scripts/trace-sparse.mjs bf16:S6 1.755 > "$out/$v-S6.txt" 2>&1
      echo "== $v bf16:S6 rc=$?"; grep -aE "steady|Error|item (start|end)" "$out/$v-S6.txt" | head -12
    done
    ab_rounds qtma "sweep:12,14 serving:S5,S6,S8,S9" dist/kernels ".variants/qtma@FLASH_MLA_EXPERIMENT_Q_TMA=1" .variants/obulk ".variants/qtob@FLASH_MLA_EXPERIMENT_Q_TMA=1"
    ;;
  s38e)
    for v in bf16trace qastrace; do
      kd=$(kernel_dir .variants/$v)
      for r in S6 12; do
        FLASH_MLA_KERNEL_DIR=$kd/ timeout 60 node scripts/trace-sparse.mjs bf16:$r 1.755 > "$out/$v-$r.txt" 2>&1
        echo "== $v bf16:$r rc=$?"; grep -aE "steady|Error|item (start|end)" "$out/$v-$r.txt" | head -12
      done
    done
    HOPPER_VARIANTS="qas" HOPVAR_SETS="sweep:8,12,14 serving:S5,S6,S9" "$0" hopvar
    ;;
  s38d)
    for v in bf16trace nsetrace; do
      kd=$(kernel_dir .variants/$v)
      for r in S6 12 S8; do
        FLASH_MLA_KERNEL_DIR=$kd/ timeout 60 node scripts/trace-sparse.mjs bf16:$r 1.755 > "$out/$v-$r.txt" 2>&1
        echo "== $v bf16:$r rc=$?"; grep -aE "steady|per iteration|cross|Error|item (start|end)" "$out/$v-$r.txt" | head -24
      done
    done
    ;;
  s38c)
    "$0" s38b
    for v in bf16trace nsetrace; do
      kd=$(kernel_dir .variants/$v)
      for r in S6 14; do
        FLASH_MLA_KERNEL_DIR=$kd/ timeout 60 node scripts/trace-sparse.mjs bf16:$r 1.755 > "$out/$v-$r.txt" 2>&1
        echo "== $v bf16:$r rc=$?"; grep -aE "steady|per iteration|cross|Error" "$out/$v-$r.txt"
      done
    done
    ;;
  s38b)
    # (~3 min) an item change costs the compute-bound rows ~6–8 µs (s37b: S6 CTA (0, 0) 56.1 → 63.8 µs), the S of the
    # next item's first two blocks (~1.3 µs of tensor work) after all the stores; nse issues them between the rows
    HOPPER_VARIANTS="nse1 nse2" HOPVAR_SETS="sweep:12,14,28 serving:S6,S8,S9" "$0" hopvar
    ;;
  s38a)
    # (~4 min) wee2: WG1's exponentials before the Scale0 handoff (every 16-bit entry; its compute-bound entry is wee1's);
    # ep2: early P0 in every 16-bit entry (its compute-bound entry is ep1's); ep3: the compute-bound entries, P1 late
    HOPPER_VARIANTS="wee2 ep2 ep3" HOPVAR_SETS="sweep:8,12,14,28 serving:S5,S6,S8,S9" "$0" hopvar
    ;;
  s37f)
    # (~3 min) s37b's trace: per pair of blocks the tensor pipe idles in the softmax handoffs; wee takes warpgroup 1's
    # exponentials off the chain Scale0 → P1·V1R (its P corrected by exp2(m_loc − m1) after the handoff)
    HOPPER_VARIANTS="wee1 wee2" HOPVAR_SETS="sweep:8,12,14,28 serving:S5,S6,S8,S9" "$0" hopvar
    ;;
  s37e)
    # (~2 min) the s37b trace (sweep#12: WG1's S(j+3) issued 0.26 µs before S(j+2)'s B half, the two finishing together)
    # says the two S interleave in the tensor pipe; s3s2_1 orders them (.variants/s3s2_1)
    HOPPER_VARIANTS="s3s2_1" HOPVAR_SETS="sweep:12,14,28,30 serving:S6,S8,S9" "$0" hopvar
    ;;
  s37d)
    # (~5 min) session 37's build ('hopper' the default for 17–32 rows over the 16-bit cache, k1am): the whole sweep and
    # the serving set, then one round of the ≤ 16-row rows on both kernels (is 'hopper' ahead there too?)
    # (S37D_PARTS: which parts, in this order; default all three)
    for part in ${S37D_PARTS:-serving r16 sweep}; do
      case $part in
        sweep)
          timeout 200 node dist/src/cli.js bench --reference h200 --iters 40 --check-samples 1 --json "$out/sweep.json" > "$out/sweep.txt" 2>&1
          echo "sweep rc=$?"; grep -aE "^sweep#|geomean|correctness" "$out/sweep.txt" | cut -c1-150 ;;
        serving)
          timeout 100 node dist/src/cli.js bench --configs serving --reference h200 --iters 40 --check-samples 1 --json "$out/serving.json" > "$out/serving.txt" 2>&1
          echo "serving rc=$?"; grep -aE "^S[0-9]|geomean|correctness" "$out/serving.txt" | cut -c1-150 ;;
        r16) r16_ab ;;
      esac
    done
    ;;
  s40t)
    # (~3 min) the tight payload (FLASH_MLA_EXPERIMENT_TIGHT_PAYLOAD=1: the smallest payload the walk still completes
    # with; the host computes the schedules, so +md ms means nothing here and graph capture refuses it): two rounds
    # (round 1 checked against the oracle) of the shapes it changes — S7, S8, S9 and the var sweep rows 7, 9, 11, 29
    ab_rounds tight "serving:S7,S8,S9 sweep:7,9,11,29" FLASH_MLA_EXPERIMENT_TIGHT_PAYLOAD= FLASH_MLA_EXPERIMENT_TIGHT_PAYLOAD=1
    ;;
  s40e)
    # (~4 min) the scheduler's even-split rule (src/mla/schedule.ts evenSplitMinSplits, FLASH_MLA_EXPERIMENT_EVEN_SPLIT=2;
    # off by default): the decode GPU test with it on (the metadata kernel against the cpu schedule on the golden and
    # even-split sets, decodes through those schedules), then two rounds of S8 and scripts/even-split-configs.json,
    # off against on
    FLASH_MLA_EXPERIMENT_EVEN_SPLIT=2 gpu timeout 150 node --test dist/test/gpu-decode.test.js > "$out/even-gpu-decode.log" 2>&1
    echo "decode GPU test (even split on) rc=$?"; summary "$out/even-gpu-decode.log" | tail -4
    ab_rounds even "serving:S8 scripts/even-split-configs.json" FLASH_MLA_EXPERIMENT_EVEN_SPLIT= FLASH_MLA_EXPERIMENT_EVEN_SPLIT=2
    ;;
  s41c)
    # (~5 min) the fourth scheduler rule (the tight payload) in the metadata kernel, with mb and the even-split rule merged:
    # the decode GPU test (with the metadata kernel against the cpu schedule on the tight sets), S8 / S9 / sweep#29 with
    # the rule off (0) and on (5), then memcheck and racecheck on 10 'hopper' property cases
    gpu timeout 150 node --test dist/test/gpu-decode.test.js > "$out/s41c-gpu-decode.log" 2>&1
    echo "decode GPU test rc=$?"; summary "$out/s41c-gpu-decode.log" | tail -4
    ab_rounds s41c "serving:S8,S9 sweep:29" FLASH_MLA_EXPERIMENT_TIGHT_PAYLOAD=0 FLASH_MLA_EXPERIMENT_TIGHT_PAYLOAD=5
    sanitize_hopper_property s41c 414141
    ;;
  s42all)
    t0=$(date +%s)
    gpu timeout 150 node --test dist/test/gpu-decode.test.js > "$out/s42all-gpu-decode.log" 2>&1
    echo "decode GPU test rc=$? ($(( $(date +%s) - t0 )) s)"; summary "$out/s42all-gpu-decode.log" | tail -4
    s=$(date +%s); gpu timeout 170 node --test dist/test/fp8-sparse-gpu.test.js > "$out/s42all-fp8-sparse.log" 2>&1
    echo "FP8 / sparse GPU tests rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s42all-fp8-sparse.log" | tail -4
    grep -aE "^ *not ok" "$out/s42all-fp8-sparse.log" | head -6
    sanitize_hopper_property s42all 424242
    portable_tests s42all 100
    echo "total $(( $(date +%s) - t0 )) s"
    ;;
  s45w)
    # (~2 min, session 45; carry .variants/nostore) where the var rows' partials go: ncu (caches as they are, clocks
    # free) of the decode kernel on sweep#8 / #9 — duration, DRAM bytes read and written, L2 write sectors — shipped
    # against nostore (s45p / s45l: nostore −5.8 % on sweep#9, bf16 partials −1.2 %, L2-kept partials −0.6 %)
    for v in dist/kernels .variants/nostore; do
      FLASH_MLA_KERNEL_DIR=$(kernel_dir $v)/ timeout 100 ncu --cache-control none --clock-control none -k regex:mla_decode_sm90 \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sectors_op_write.sum --csv \
        node dist/src/cli.js bench --configs sweep:8,9 --iters 2 --warmup 1 --check-samples 0 > "$out/s45w-$(basename $v).csv" 2> "$out/s45w-$(basename $v).err"
      echo "== $(basename $v) rc=$?"
      python3 - "$out/s45w-$(basename $v).csv" <<'PY'
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1])))
h = [i for i, r in enumerate(rows) if r and r[0] == 'ID']
if not h: print('no ncu rows'); sys.exit()
hd = rows[h[0]]; ki, mi, vi, ii = hd.index('Kernel Name'), hd.index('Metric Name'), hd.index('Metric Value'), hd.index('ID')
by = collections.OrderedDict()
for r in rows[h[0] + 1:]:
    if len(r) > vi: by.setdefault(r[ii], {})[r[mi]] = r[vi]
for k, m in by.items(): print(k, '  '.join(f"{n.split('__')[1]}={v}" for n, v in m.items()))
PY
    done
    ;;
  s46w)
    # (~3 min; session 46; carry .variants/cwait: scripts/build-variant.sh cwait mla_combine sm_90
    # -DMLA_EXPERIMENT_COMBINE_WAIT_ONLY && mkdir -p .variants/cwait && cp dist/kv-cwait/mla_combine.sm_90.cubin
    # .variants/cwait/) what the combine's time on the split shapes is: its launch and grid wait (cwait: every split row
    # waits, then returns — outputs wrong, unchecked) against the whole combine and no combine at all
    AB_CHECK=0 ab_rounds s46w "serving:S1,S3,S7,S8,S9,S12 sweep:9,13,25" dist/kernels .variants/cwait FLASH_MLA_EXPERIMENT_LAUNCH=nocombine
    ;;
  s46c)
    # (~1.5 min) the combine's shape on the shapes with one long request among short ones (S7: W 1, C 4 by the rule;
    # s46w: its merge is 8.7 µs for 8.5 MB of partials, latency-bound) under forced wider shapes
    AB_CHECK=0 ab_rounds s46c "serving:S3,S7,S12" FLASH_MLA_COMBINE= FLASH_MLA_COMBINE=2,4 FLASH_MLA_COMBINE=4,4 FLASH_MLA_COMBINE=8,4
    ;;
  s49)
    # (session 49) on an H200 the README's run (s48h: s47h's two rounds and the sparse set); on any card then s49s
    # (s49r and s49c ran on an H100 in session 49; s49s follows them)
    readme_run_then s49s 380 200
    ;;
  s50r)
    # (ran in session 50 on an H100: rawb2 taken — the raw form is the default now, the switch removed; rebuild the
    # variants from commit 845f889^, where the switch -DMLA_EXPERIMENT_RAW_BATCH=N is)
    # (~1.5 min, session 50; carry .variants/rawb2, rawb3, rawb4: mla_combine.sm_90.cubin built with
    # -DMLA_EXPERIMENT_RAW_BATCH=2 / 3 / 4 — `nvcc -cubin -O3 -std=c++17 -gencode arch=compute_90,code=sm_90
    # --use_fast_math -I kernels -DMLA_EXPERIMENT_RAW_BATCH=N -o .variants/rawbN/mla_combine.sm_90.cubin
    # kernels/mla_combine.cu`) the combine's C <= 2 batches over 16-bit partials held as raw 8-byte loads (2 registers a
    # load, not 4), and the p16 C = 2 entries asked for N resident CTAs: 2 = the shipped bound (106 registers instead
    # of 128: the representation alone), 3 (80, 16 B of spill), 4 (64, ~100–200 B of spill). S9's combine (p16 W 1 C 2,
    # 512 CTAs) runs in two waves at 2 CTAs per SM and in one at 4. Two rounds against the shipped build, round 1
    # checked; S12 is a control (its shape, C = 4, is unchanged)
    AB_CHECK=1 ab_rounds s50r "serving:S8,S9,S12 sweep:9,13,25,29" dist/kernels .variants/rawb2 .variants/rawb3 .variants/rawb4
    ;;
  s51n)
    # (session 51's next step, ~1.5 min on an H100, ~6–8 on an H200; carry .variants/c2b4, c2b6 as s51b says) on an H200
    # the README's run (s48h), then on any card s51b
    readme_run_then s51b 420 120
    ;;
  s56p)
    # (~4–5 min on an H100; carry .devcarry, .variants/devdist with this session's src/bench JS) the batch order against
    # the pack order (src/bench/pack-order.ts, FLASH_MLA_EXPERIMENT_PACK_ORDER = a split piece's cost in blocks): every
    # variable-length row of the sweep and the serving set, shipped kernels, two rounds, round 1 checked; the walk over
    # the packed order cuts fewer requests (sweep#9 227 → 137 pieces, #13 124 → 22, #31 60 → 20)
    ab_rounds s56p "sweep:1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31 serving:S3,S7,S9,S12" FLASH_MLA_EXPERIMENT_PACK_ORDER= FLASH_MLA_EXPERIMENT_PACK_ORDER=3
    ;;
  s57f)
    # (~3 min on an H100; carry as s57a) the default path's cost in the kernels that read the order table in every entry
    # (the small-row kernel's 16-bit and FP8 entries, 'hopper''s FP8 entry): maink against this build on batch-order
    # schedules, the 16-bit small-row rows and the FP8 rows (--kv fp8), two rounds, round 1 checked
    (cd .variants/maink && tar -xJf maink.tar.xz)
    AB_CHECK=1 ab_rounds s57f "sweep:0,1,16,17 serving:S2,S4,S10,S11" .variants/maink dist/kernels
    AB_CHECK=1 AB_EXTRA="--kv fp8" ab_rounds s57g "sweep:0,1,8,9,12,13 serving:S1,S9" .variants/maink dist/kernels
    ;;
  s58a)
    # (~3.5 min on an H100, ~10.5 on an H200; carry .devcarry, .variants/devdist, .variants/maink) s58h (the host loop),
    # the tie rule's schedules, on an H200 with S58A_README=1 the README's run (s48h), s58m (the fused packing step's
    # metadata time), then s57h (the default path's cost in the kernels
    # that read the order table in their one entry)
    t0=$(date +%s)
    timeout 120 "$0" s58h
    # the GPU test of outputs in reused blocks (every row whole; rows split over every part)
    gpu timeout 120 node --test --test-name-pattern="reused from the cache" dist/test/gpu-decode.test.js > "$out/s58r.log" 2>&1
    echo "== reused blocks GPU test rc=$?"; summary "$out/s58r.log"
    # the tie rule (PACK_TIE_PIECES_EIGHTHS): with the rule on, S7 / S9 now keep the batch order, sweep#7 / #9 pack; the
    # decode's value check compares the device metadata with the cpu schedule on every call
    for set in serving:S7,S9 sweep:7,9; do
      FLASH_MLA_EXPERIMENT_PACK=3 timeout 60 node dist/src/cli.js bench --configs $set --iters 30 --check-samples 1 --reference none > "$out/s58t-${set%%:*}.txt" 2>&1
      echo "== packed $set rc=$?"; grep -aE "^(sweep#|S[0-9])" "$out/s58t-${set%%:*}.txt" | awk '{print $1, $8}' | tr '\n' ' '; echo; grep -aE "correctness" "$out/s58t-${set%%:*}.txt"
    done
    [ -n "${S58A_README:-}" ] && nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200 && timeout 400 "$0" s48h
    timeout 100 "$0" s58m
    [ $(( $(date +%s) - t0 )) -lt 470 ] && timeout 110 "$0" s57h
    echo "total $(( $(date +%s) - t0 )) s"
    ;;
  s58m)
    # (~1 min, any card) the packing's fused step (the head asked beside each fit: one step fewer per part): ncu's
    # mla_metadata duration on sweep#9 with the rule off / on (s57d: 20.6 / 74.8 µs on an H100)
    metadata_ncu s58m "Duration|Executed Instructions  " InstructionStats
    ;;
  s59a)
    # (~5 min on an H100; carry as s58a) s59p (is the slow mode the power limit?), then s58a
    timeout 150 "$0" s59p
    timeout 420 "$0" s58a
    ;;
  s59b)
    # (~4 min, any card; carry as s58a) the short form of s59a for a small budget: s59p, the reused-blocks GPU test,
    # s58m (hstep's metadata time), s58h (the host loop, cache on / off, now with the checked mode) while time is left
    t0=$(date +%s)
    timeout 120 "$0" s59p
    gpu timeout 90 node --test --test-name-pattern="reused from the cache" dist/test/gpu-decode.test.js > "$out/s58r.log" 2>&1
    echo "== reused blocks GPU test rc=$?"; summary "$out/s58r.log"
    [ $(( $(date +%s) - t0 )) -lt 230 ] && timeout 90 "$0" s58m
    [ $(( $(date +%s) - t0 )) -lt 270 ] && timeout 100 "$0" s58h
    echo "total $(( $(date +%s) - t0 )) s"
    ;;
  s60a)
    # (~4 min, any card; carry as s60c) s60c, then what session 60's first call measured unpacked (from session 57 to 60
    # the bench passed packOrder: false without --pack-order and so ignored FLASH_MLA_EXPERIMENT_PACK): the tie rule's
    # rows with the rule on (checked; the JSON's schedule says packed or not) and s58m (the fused packing step's
    # metadata time, rule off / on: s57d had 20.6 / 74.8 µs, s58m's prediction ~60 µs on)
    t0=$(date +%s)
    timeout 260 "$0" s60c
    for set in serving:S7,S9 sweep:7,9; do
      for pk in 0 3; do
        FLASH_MLA_EXPERIMENT_PACK=$pk timeout 60 node dist/src/cli.js bench --configs $set --iters 30 --check-samples 1 --reference none --json "$out/s60t-${set%%:*}-$pk.json" > "$out/s60t-${set%%:*}-$pk.txt" 2>&1
        echo "== pack $pk $set rc=$?"; grep -aE "correctness" "$out/s60t-${set%%:*}-$pk.txt"
        node -e 'for (const r of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).rows) console.log(" ", r.id, r.ms.toFixed(4), "+md", r.mdMs.toFixed(4), JSON.stringify(r.schedule))' "$out/s60t-${set%%:*}-$pk.json"
      done
    done
    [ $(( $(date +%s) - t0 )) -lt 380 ] && timeout 100 "$0" s58m
    # the checked call with its reads queued into page-locked staging (one wait; session 60): s60a's first run had
    # +77–83 µs per checked call on the small shapes, +154 on b 128 4096 h_q 64 (prediction: −20 … −40 µs each)
    [ $(( $(date +%s) - t0 )) -lt 440 ] && SHAPES=0,1,3 timeout 60 "$0" s58h
    # the staged reads under the GPU decode tests' value checks and read-backs
    if [ $(( $(date +%s) - t0 )) -lt 470 ]; then
      gpu timeout 60 node --test --test-name-pattern="vs float64 reference|device metadata kernel|reused from the cache" dist/test/gpu-decode.test.js > "$out/s60g.log" 2>&1
      echo "== GPU decode tests (staged reads) rc=$?"; summary "$out/s60g.log"
    fi
    echo "total $(( $(date +%s) - t0 )) s"
    ;;
  s60m)
    # (~2 min, any card; carry .devcarry, .variants/devdist, .variants/maink, .variants/prehstep) hstep A/B: s60a's ncu
    # had the metadata kernel with the rule on at 82.9 µs (sweep#9; 168 320 instructions) where s57d, before hstep, had
    # 74.8 µs on another H100 — hstep's prediction was 57–61 µs. ncu of this build against b4043f7~1's metadata kernel,
    # same card, sweep#9 and #13 with the rule on (and #9 off as the control). Then the FP8 rows of s57h in two rounds
    # (S1 over FP8 was +4.0 % in s60a's one round): maink against this build.
    kd=$(kernel_dir .variants/prehstep)
    for v in "$PWD/dist/kernels" "$kd"; do
      for c in 9:3 13:3 9:0; do
        FLASH_MLA_KERNEL_DIR=$v/ FLASH_MLA_EXPERIMENT_PACK=${c#*:} timeout 100 ncu --clock-control none -k regex:mla_metadata -c 1 --section SpeedOfLight --section InstructionStats \
          node dist/src/cli.js bench --configs sweep:${c%%:*} --iters 1 --warmup 0 --check-samples 0 --reference none > "$out/s60m-$(basename $v)-${c/:/-}.txt" 2>&1
        echo "== $(basename $v) sweep#${c%%:*} pack ${c#*:} rc=$?" $(grep -aE "SM Frequency|Duration|Executed Instructions  " "$out/s60m-$(basename $v)-${c/:/-}.txt" | awk '{print $1, $(NF)}' | tr '\n' ' ')
      done
    done
    (cd .variants/maink && tar -xJf maink.tar.xz)
    AB_CHECK=0 AB_EXTRA="--kv fp8" ab_rounds s60f "serving:S1,S9 sweep:0,8" .variants/maink dist/kernels
    ;;
  s60e)
    # (~2.5 min, any card; carry .devcarry, .variants/devdist, .variants/maink, .variants/fp8one) 'hopper''s FP8 entry
    # split in two (session 60): the batch-order one without the order table, a table-reading twin for packed schedules.
    # s60m: the one entry for both cost batch-order schedules 0.8 % against maink (S1 +1.6 %, sweep#8 +1.2 %).
    # maink / fp8one (the build before the split) / this build, FP8 rows, two rounds, round 1 checked; then a packed
    # FP8 schedule on the twin, checked. Prediction: this build = maink ± 0.3 %, fp8one ~0.8 % slower.
    (cd .variants/maink && tar -xJf maink.tar.xz)
    xz -dc .variants/fp8one/mla_decode_sm90.sm_90a.cubin.xz > .variants/fp8one/mla_decode_sm90.sm_90a.cubin && rm .variants/fp8one/*.xz
    AB_CHECK=1 AB_EXTRA="--kv fp8" ab_rounds s60e "serving:S1,S9 sweep:8,12,13" .variants/maink .variants/fp8one dist/kernels
    FLASH_MLA_EXPERIMENT_PACK=3 timeout 60 node dist/src/cli.js bench --configs sweep:9,13 --kv fp8 --iters 20 --check-samples 1 --reference none --json "$out/s60e-packed.json" > "$out/s60e-packed.txt" 2>&1
    echo "== packed FP8 rc=$?"; grep -aE "correctness" "$out/s60e-packed.txt"
    node -e 'for (const r of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).rows) console.log(" ", r.id, r.kernel, r.ms.toFixed(4), JSON.stringify(r.schedule))' "$out/s60e-packed.json"
    ;;
  s60s)
    # (~1 min, any card; carry .devcarry, .variants/devdist, .variants/trace4) S1 in s46r (session 60, H100) ran
    # bimodal — 28.9 µs, then 32–34 (p25 29.7, p75 34.3; iqr 0.14) — where session 51's card had a tight 28.5 with the same
    # kernels: the per-run SM clock and the parts' spread and span, ms and +md in turn (as the bench times them since
    # session 59), then plain runs only, then the bench's S1 alone
    rm -rf dist/kv-trace4 && cp -r dist/kernels dist/kv-trace4 && xz -dc .variants/trace4/mla_decode_sm90.sm_90a.cubin.xz > dist/kv-trace4/mla_decode_sm90.sm_90a.cubin
    for po in 0 1; do
      PLAIN_ONLY=$po FLASH_MLA_KERNEL_DIR=$PWD/dist/kv-trace4/ gpu timeout 60 node scripts/clock-drift.mjs S1,S9 200 > "$out/s60s-$po.txt" 2>&1
      echo "== clock-drift S1,S9 plain-only $po rc=$?"; cut -c1-420 "$out/s60s-$po.txt"
    done
    timeout 60 node dist/src/cli.js bench --configs serving:S1,S9 --iters 100 --check-samples 0 --reference none --json "$out/s60s.json" > "$out/s60s.txt" 2>&1
    node -e 'for (const x of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).rows) { const s = [...x.timesMs].sort((a, b) => a - b); console.log(x.id, "ms", x.ms.toFixed(4), "min/p25/p75", [0, 0.25, 0.75].map((f) => (s[Math.floor(f * (s.length - 1))] * 1000).toFixed(1)).join("/"), "+md", x.mdMs.toFixed(4)); }' "$out/s60s.json"
    ;;
  s61a)
    # (~6 min, any card) session 61: the whole GPU suite on this build (the FP8 entry split, the reverted metadata
    # kernel and the staged read-backs had run only through the bench's checked rows), then s60l
    s=$(date +%s); timeout 420 npm run test:gpu > "$out/s61a-suite.log" 2>&1
    echo "GPU suite rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s61a-suite.log"; grep -aE "^ *not ok" "$out/s61a-suite.log" | head -8
    DEVICE_NEXT_NESTED=1 "$0" s60l
    ;;
  s66a)
    # (≤ 9.5 min; carry .devcarry, .variants/devdist, .variants/s66 — each build's cubin .xz'd: unxz them first) session
    # 66's first call. On an H200 the README's run (s48h). On any other card: the conversion-rate probe, then issue 10's
    # FP8 16-row entry with part of its e4m3 → f16 conversions on the integer pipe (kernels/mla_sm90_small_fp8.cuh
    # MLA_EXPERIMENT_F16_INT_S / _PV: scale-group masks; i5s: S groups 0, 2; i5p: P·V groups 0, 2; i55: both; iall:
    # every group both — session 23's `regaint` control): the FP8 GPU tests under iall, then two rounds at the math's
    # rate (--kv fp8 --kv-pages 256) of sweep#0, #1, #16, #17. Prediction: if F2FP runs at a quarter of the ALU's rate
    # (≤ 16 per cycle per SM), i55 −8 … −15 % on sweep#16 (the conversions ~70 % of a block's cycles, now split over two
    # pipes), iall slower than i55; if F2FP runs at half rate or more, every variant within ±2 % or slower
    if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then timeout 560 "$0" s48h
    else
      nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -O3 -o /tmp/cvtrate scripts/cvt-rate-probe.cu && timeout 60 /tmp/cvtrate | tee "$out/s66a-cvtrate.txt"
      FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/s66/iall)/ gpu timeout 170 node --test dist/test/fp8-sparse-gpu.test.js > "$out/s66a-iall-fp8.log" 2>&1
      echo "FP8/sparse GPU tests (iall) rc=$?"; summary "$out/s66a-iall-fp8.log"; grep -aE "^ *not ok" "$out/s66a-iall-fp8.log" | head -8
      AB_EXTRA="--kv fp8 --kv-pages 256" ab_rounds s66fp8 "sweep:0,1,16,17" dist/kernels .variants/s66/i5s .variants/s66/i5p .variants/s66/i55 .variants/s66/iall
    fi
    ;;
  s66d)
    # (~5 min, any card; carry as s66a) issue 10's FP8 16-row entry with the lazy rescale (MLA_EXPERIMENT_LAZY_RESCALE:
    # the column max moves only when a block's maximum passes it by more than 2^8 / 2^5 — lazy8, lazy5 — the groups'
    # reference scales only when a block's maximum leaves [r / 2^8, r · 2^6], Oᵀ's 80 multiplies skipped where no factor
    # moved): the FP8 GPU tests under lazy8, then two rounds at the math's rate (--kv fp8 --kv-pages 256) of sweep#0, #1,
    # #16, #17. Prediction: −3 … −5 % (ncu, s66: 154 FMUL of ~1 190 instructions per warp and block; the kernel issues
    # every 2.2 cycles per scheduler, latency-bound, so fewer independent FMULs save less than their share)
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/s66/lazy8)/ gpu timeout 170 node --test dist/test/fp8-sparse-gpu.test.js > "$out/s66d-lazy8-fp8.log" 2>&1
    echo "FP8/sparse GPU tests (lazy8) rc=$?"; summary "$out/s66d-lazy8-fp8.log"; grep -aE "^ *not ok" "$out/s66d-lazy8-fp8.log" | head -8
    AB_EXTRA="--kv fp8 --kv-pages 256" ab_rounds s66lazy "sweep:0,1,16,17" dist/kernels .variants/s66/lazy8 .variants/s66/lazy5
    ;;
  s67a)
    # (~4 min, any card; carry .devcarry, .variants/devdist rebuilt in session 67, .variants/s66) session 67's interop
    # with other CUDA code on the real driver: test/interop-gpu.test.ts (Tensor.fromDevicePointer over cuMemAlloc'd
    # buffers whole, inside, past the end, at no allocation; a decode between two copies on another stream ordered by
    # waitForStream / makeStreamWait only, bit for bit the owned decode, 'hopper-small' and 'hopper') and its memcheck;
    # then s66e and s67b (~11 min in all: split it over two calls if the budget asks). Prediction: both pass, memcheck
    # 0 errors (fake driver and emulator passed)
    gpu timeout 60 node --test dist/test/interop-gpu.test.js > "$out/s67a-interop.log" 2>&1
    echo "interop GPU test rc=$?"; summary "$out/s67a-interop.log"; grep -aE "^ *not ok" -A12 "$out/s67a-interop.log" | head -30
    gpu timeout 120 compute-sanitizer --tool memcheck --print-limit 6 node --test dist/test/interop-gpu.test.js > "$out/s67a-memcheck.log" 2>&1
    echo "memcheck rc=$?: $(grep -aE 'ERROR SUMMARY' "$out/s67a-memcheck.log" | tail -1)"; grep -aE "^# (pass|fail)" "$out/s67a-memcheck.log" | tr '\n' ' '; echo
    DEVICE_NEXT_NESTED=1 timeout 300 "$0" s66e
    DEVICE_NEXT_NESTED=1 timeout 300 "$0" s67b
    ;;
  s67b)
    # (~4 min, any card; carry .devcarry, .variants/devdist, .variants/s67 — its g32bulk cubin built in session 67:
    # `scripts/build-variant.sh g32bulk mla_decode_sm90_small sm_90a -DMLA_EXPERIMENT_G32_BULK=1`, only the g32 entry
    # differs) the dense 32-row FP8 gather entry (mla_decode_sm90_small_fp8_g32_bf16) copying a block's rows in one bulk
    # copy when they lie end to end (k_row_stride 656) instead of one per token (s45's ncu: 31 % of the gather warps'
    # samples in the 64 copy-issue loops per block): the FP8/sparse GPU tests on it, then two rounds --kv fp8 on the 32-row
    # rows (h_q 16 s_q 2, h_q 32; fixed and variable lengths) against the shipped cubin. Prediction: −0.5 … −2 % (the
    # gather issues ~4 % of the SM's instructions; the math chain is the bound)
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/s67/g32bulk)/ gpu timeout 150 node --test dist/test/fp8-sparse-gpu.test.js > "$out/s67b-fp8.log" 2>&1
    echo "FP8/sparse GPU tests (g32bulk) rc=$?"; summary "$out/s67b-fp8.log"; grep -aE "^ *not ok" "$out/s67b-fp8.log" | head -8
    AB_CHECK=1 AB_EXTRA="--kv fp8" ab_rounds s67gb "sweep:2,4,5,18,20,21" dist/kernels .variants/s67/g32bulk
    ;;
  s66e)
    # (~3 min, any card; carry as s66a, .variants/s66/nobarb: `SRC_REV=cd4cc9e scripts/build-variant.sh nobarb
    # mla_decode_sm90_small sm_90a`, its cubin copied there — built in session 66, the device time ran out) the 16-row FP8
    # entries' per-block maxima out of slab 8 (SM90S_F8_OFF_MAXW / SM90S_F8SP_OFF_MAXW), so the warpgroup barrier that
    # kept the Pᵀ copies from overwriting them goes (4 → 3 per block): the FP8/sparse GPU tests under it, two rounds at
    # the math's rate (--kv fp8 --kv-pages 256) against the shipped cubin, then racecheck on the 16-row FP8 cases.
    # Prediction: −1 … −3 % (ncu s66: barrier stalls 0.40 of 4.48 cycles per instruction, one of four barriers)
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/s66/nobarb)/ gpu timeout 100 node --test dist/test/fp8-sparse-gpu.test.js > "$out/s66e-nobarb-fp8.log" 2>&1
    echo "FP8/sparse GPU tests (nobarb) rc=$?"; summary "$out/s66e-nobarb-fp8.log"; grep -aE "^ *not ok" "$out/s66e-nobarb-fp8.log" | head -8
    AB_CHECK=0 AB_EXTRA="--kv fp8 --kv-pages 256" ab_rounds s66nb "sweep:0,16" dist/kernels .variants/s66/nobarb
    FLASH_MLA_KERNEL_DIR=$PWD/dist/kv-nobarb/ FLASH_MLA_REQUIRE_GPU=1 timeout 60 compute-sanitizer --tool racecheck --print-limit 6 node --test --test-name-pattern="FP8, h_q 3, s_q 4|sparse h_q (1|3|9|16), s_q 1" dist/test/fp8-sparse-gpu.test.js > "$out/s66e-racecheck.log" 2>&1
    echo "racecheck rc=$?: $(grep -aE 'RACECHECK SUMMARY' "$out/s66e-racecheck.log" | tail -1)"; grep -aE "^# (pass|fail|skip)" "$out/s66e-racecheck.log" | tr '\n' ' '; echo
    ;;
  s66f)
    # (~6 min, any card; carry as s66a) why cold code costs the 'hopper' rows +7 … +16 % and the 'hopper-small' rows nothing (s66): ncu
    # on the decode kernel of S9 ('hopper') and S4 ('hopper-small'), warm and --cold-code, application replay with the
    # caches left alone (the bench's own flush and eviction run before each launch): time, the no-instruction stalls per
    # issued instruction, instructions issued. Prediction: S9 cold shows no_instruction stalls that warm does not (the
    # +9 µs), S4 none in either
    for c in S9 S4; do
      for mode in warm cold; do
        extra=; [ $mode = cold ] && extra=--cold-code
        timeout 120 ncu --clock-control none --cache-control none --replay-mode application -k regex:mla_decode_sm90 --launch-skip 6 -c 1 \
          --metrics gpu__time_duration.sum,smsp__inst_executed.sum,smsp__average_warps_issue_stalled_no_instruction_per_issue_active.ratio,smsp__average_warps_issue_stalled_branch_resolving_per_issue_active.ratio,smsp__average_warp_latency_per_inst_issued.ratio \
          node dist/src/cli.js bench --configs serving:$c --iters 4 --warmup 2 --check-samples 0 --reference none $extra > "$out/s66f-$c-$mode.txt" 2>&1
        echo "== $c $mode rc=$?"; grep -aE "^    [a-z]" "$out/s66f-$c-$mode.txt"
      done
    done
    # then one copy of 'hopper''s row store for both rows (.variants/s66/epi1: SRC_REV=85e4998 scripts/build-variant.sh
    # epi1 mla_decode_sm90 sm_90a -DMLA_EXPERIMENT_EPI_ROLLED=1; the membound bf16 entry 118 → 103 KB of code) against the
    # shipped cubin, cold then warm. Prediction: if code size is the cause, cold −1 … −3 µs on S5 / S6 / S9, warm ±0.5 %
    AB_CHECK=0 AB_EXTRA=--cold-code ab_rounds s66epicold "serving:S1,S5,S6,S9" dist/kernels .variants/s66/epi1
    AB_CHECK=0 ab_rounds s66epiwarm "serving:S1,S5,S6,S9" dist/kernels .variants/s66/epi1
    ;;
  s66c)
    # (~6 min, any card; carry as s66a) s65e (cold code against warm, the cvt rates), then packloops
    # (-DMLA_EXPERIMENT_PACK_LOOPS=1: a store loop per kind of row instead of both conversions and a select; 8 bytes of
    # spill in the memory-bound bf16 entry) against the shipped build, cold, on the rows where the epilogue's once-run
    # code counts. Prediction: cold −0.5 … −1.5 µs on S1 / S4 / S9 (~2 KB less code per row store fetched once per item)
    DEVICE_NEXT_NESTED=1 timeout 330 "$0" s65e
    AB_CHECK=0 AB_EXTRA=--cold-code ab_rounds s66cold "serving:S1,S4,S9,S11 sweep:0,16" dist/kernels .variants/s66/packloops
    ;;
  s65e)
    # (~3 min, any card; carry .devcarry, .variants/devdist rebuilt with kernels/code_evict.cu) session 65: bench
    # --cold-code against the warm default on S1, S4, S9, sweep#0, #16 (prediction, from s62c's harness on an H100:
    # S1 +2–3 µs, S9 +8–9 µs, the long rows +1–3 %), then the conversion-rate probe (s65d's first half)
    timeout 80 node dist/src/cli.js bench --configs serving:S1,S4,S9 --iters 50 --json "$out/s65e-warm.json" > "$out/s65e-warm.txt" 2>&1; echo "== warm rc=$?"
    timeout 80 node dist/src/cli.js bench --configs serving:S1,S4,S9 --iters 50 --cold-code --reference "$out/s65e-warm.json" --json "$out/s65e-cold.json" > "$out/s65e-cold.txt" 2>&1; echo "== cold rc=$?"
    grep -aE "^S[0-9]+ |^L2|all ok|FAIL" "$out/s65e-warm.txt" "$out/s65e-cold.txt" | cut -c1-200
    timeout 80 node dist/src/cli.js bench --configs 0,16 --iters 30 --json "$out/s65e-warm-sweep.json" > "$out/s65e-warm-sweep.txt" 2>&1; echo "== warm sweep rc=$?"
    timeout 80 node dist/src/cli.js bench --configs 0,16 --iters 30 --cold-code --reference "$out/s65e-warm-sweep.json" > "$out/s65e-cold-sweep.txt" 2>&1; echo "== cold sweep rc=$?"
    grep -aE "^sweep#" "$out/s65e-warm-sweep.txt" "$out/s65e-cold-sweep.txt" | cut -c1-200
    nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -O3 -o /tmp/cvtrate scripts/cvt-rate-probe.cu && timeout 60 /tmp/cvtrate | tee "$out/s65e-cvtrate.txt"
    ;;
  s65d)
    # (~7 min, any card; carry .devcarry, .variants/devdist) session 65: the conversion-rate probe
    # (scripts/cvt-rate-probe.cu: cvt.rn.f16x2.e4m3x2 against integer ops, per SM and cycle; prediction: F2FP at a
    # quarter of the ALU's rate or less, ~16 thread-ops per cycle), then the GPU suite on this build (s63b)
    nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -O3 -o /tmp/cvtrate scripts/cvt-rate-probe.cu && cuobjdump -sass /tmp/cvtrate | grep -oE "F2FP[.A-Z0-9_]*|PRMT|LOP3[.A-Z]*|HMUL2[.A-Z0-9]*" | sort | uniq -c
    timeout 60 /tmp/cvtrate | tee "$out/s65d-cvtrate.txt"
    DEVICE_NEXT_NESTED=1 S63B_S=470 "$0" s63b
    ;;
  s65a)
    # (≤ 9.5 min, any card; carry .devcarry, .variants/devdist rebuilt in session 65: schedules in one copy, --kv-pages)
    # On an H200 the README's run (s48h), then s65b as the second call. On any other card: s64c (the SASS with source
    # lines), s65b, then s64p against the H100 anchors.
    if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then timeout 560 "$0" s48h
    else timeout 60 "$0" s64c; DEVICE_NEXT_NESTED=1 timeout 240 "$0" s65b; DEVICE_NEXT_NESTED=1 S64P_REF=h100 timeout 240 "$0" s64p; fi
    ;;
  s65b)
    # (~3.5 min, any card) session 65: (1) scripts/host-writes.mjs — a host-made schedule written by one copy into one
    # allocation (PagedKvCache.metadata's buffers) against two. Prediction: −5 … −7 µs of host per call (one pageable
    # copy less; s64a: ~6 µs each). (2) The L2-resident probe (--kv-pages 256: KV from 256 distinct pages, 19 MB bf16 /
    # 11 MB FP8) on the 16-, 32- and 64-row rows, bf16 and --kv fp8: the math-bound rate of each entry, which an
    # H200 (same SMs, 1.4× the DRAM rate) shows on its memory-bound rows. Prediction on an H100: FP8 sweep#16 ~0.20 ms
    # (the H200's measured 0.2015: compute-bound there), bf16 sweep#16 below the H200's 0.2892 (DRAM-bound there).
    timeout 90 node scripts/host-writes.mjs > "$out/s65b-host-writes.txt" 2>&1; echo "== host-writes rc=$?"; cat "$out/s65b-host-writes.txt"
    for kv in bf16 fp8; do
      timeout 70 node dist/src/cli.js bench --configs sweep:0,4,8,16,20,24 --kv $kv --kv-pages 256 --iters 30 --json "$out/s65b-pages-$kv.json" > "$out/s65b-pages-$kv.txt" 2>&1
      echo "== --kv-pages 256 --kv $kv rc=$?"; grep -aE "^sweep#|all ok|FAIL" "$out/s65b-pages-$kv.txt" | cut -c1-140
    done
    ;;
  s64x)
    # (≤ 9.5 min, any card; carry .devcarry, .variants/devdist) the first call of session 65: on an H200 the README's H200
    # run (s48h: two rounds of sweep + serving, --kv fp8, sparse; none lent since session 43), then s64p as the second
    # call; on any other card s64c (the SASS with source lines) and s64p against the H100 anchors
    if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then timeout 560 "$0" s48h
    else timeout 60 "$0" s64c; DEVICE_NEXT_NESTED=1 S64P_REF=h100 timeout 300 "$0" s64p; fi
    ;;
  s64p)
    # (~2.5 min, any card) what a PagedKvCache server gets since session 64 — the schedule made on the host, packed where
    # the batch can pack (--metadata host --pack-order) — on the sweep's var rows and the serving set, against the H200
    # anchors (the var rows against the H100 anchors with S64P_REF=h100; no H100 serving anchors ship). Prediction on an H200: the var rows 1–5 % faster than the batch-order run
    # beside them (s48h's sweep), each within 3 % of its fixed twin where the batch order was 9–11 % behind (issue 8)
    ref=${S64P_REF:-h200}
    timeout 150 node dist/src/cli.js bench --configs var --reference $ref --metadata host --pack-order --json "$out/s64p-var.json" > "$out/s64p-var.txt" 2>&1
    echo "== var --metadata host --pack-order rc=$?"; grep -aE "^sweep#|^default vs" "$out/s64p-var.txt" | cut -c1-150
    timeout 80 node dist/src/cli.js bench --configs serving --reference h200 --metadata host --pack-order --json "$out/s64p-serving.json" > "$out/s64p-serving.txt" 2>&1
    echo "== serving --metadata host --pack-order rc=$?"; grep -aE "^S[0-9]+ " "$out/s64p-serving.txt" | cut -c1-150
    ;;
  s64c)
    # (~20 s, any card) the SASS of 'hopper''s 16-bit entries with the source line of every instruction (nvdisasm -g; the
    # shipped cubins carry -lineinfo), for attributing the code a cold SM fetches to the kernel's source (session 64)
    which nvdisasm; nvdisasm --version | tail -1
    nvdisasm -g -c dist/kernels/mla_decode_sm90.sm_90a.cubin | xz -6 > "$out/s64c-sm90-lineinfo.sass.xz"; echo "nvdisasm rc=$? $(stat -c %s "$out/s64c-sm90-lineinfo.sass.xz") B"
    ;;
  s64b)
    # (~5 min, any card; carry as s62d, .variants/devdist rebuilt after the defaults changed) session 64's new defaults:
    # the README's cuda examples (the serving one takes cache.metadata, now packed where the batch can pack); the
    # decode-loop example with its defaults (host metadata, packed where it can) against --batch-order, graph B 32 and
    # B 128 of 1..4096, two rounds, and eager B 32; then the whole sweep and the serving set with the schedule a
    # PagedKvCache server now gets (--metadata host --pack-order) against the H100 anchors. Prediction: the example
    # within noise at B 32 (its packing rarely fires there), B 128 −1 … −4 % per layer-step; the sweep 32 of 32 at or
    # above the better peer (s63m: the var rows 1.03–1.10×; the fixed rows as session 62's run), serving as s63m's host run.
    # First scripts/host-writes.mjs with the write ring (writes ≤ 256 KiB from page-locked memory; session 64 ran it once
    # and reverted it: each such copy cost the GPU ~4 µs more than a pageable one — perf log): Tensor.write 1 KB ~4–5 µs
    # idle and busy (s64a: 6.5 / 13.8), 64 KB ≤ 10 µs (15–31), getMlaMetadata from host lengths ~8–10 µs at b ≤ 128 (12–18)
    timeout 60 node scripts/host-writes.mjs > "$out/s64b-host-writes.txt" 2>&1; echo "== host-writes rc=$?"; cat "$out/s64b-host-writes.txt"
    DEVICE_NEXT_NESTED=1 "$0" s55g
    for r in 1 2; do
      for cfg in "--batch 32" "--batch 128 --max-prefill 4096"; do
        for o in "" --batch-order; do
          f="$out/s64b-loop-$r-$(echo "$cfg" | tr -d ' -')${o:+-batchorder}.txt"
          timeout 60 node dist/examples/decode-loop.js --backend cuda --steps 64 $cfg --graph $o > "$f" 2>&1
          echo "== r$r $cfg --graph $o rc=$?: $(grep -aoE "[0-9.]+ µs per layer-step" "$f") | $(grep -aoE "worst error/bound [0-9.]+: [A-Z]+" "$f")"
        done
      done
    done
    timeout 60 node dist/examples/decode-loop.js --backend cuda --steps 64 > "$out/s64b-loop-eager.txt" 2>&1; echo "== B 32 eager (defaults) rc=$?: $(grep -aoE "[0-9.]+ µs per layer-step" "$out/s64b-loop-eager.txt") | $(grep -aoE "worst error/bound [0-9.]+: [A-Z]+" "$out/s64b-loop-eager.txt")"
    timeout 200 node dist/src/cli.js bench --reference h100 --metadata host --pack-order --json "$out/s64b-sweep.json" > "$out/s64b-sweep.txt" 2>&1
    echo "== sweep --metadata host --pack-order rc=$?"; grep -aE "^sweep#" "$out/s64b-sweep.txt" | cut -c1-150; grep -aE "^default vs" "$out/s64b-sweep.txt"
    timeout 60 node dist/src/cli.js bench --configs serving --reference h200 --metadata host --pack-order --json "$out/s64b-serving.json" > "$out/s64b-serving.txt" 2>&1
    echo "== serving --metadata host --pack-order rc=$?"; grep -aE "^S[0-9]+ " "$out/s64b-serving.txt" | cut -c1-120
    ;;
  s64a)
    # (~2 min, any card; carry as s62d) session 64: does a host→device write wait for the GPU (scripts/host-writes.mjs:
    # pageable Tensor.write and page-locked copies, getMlaMetadata from host lengths, idle against a busy stream)? Then
    # the decode-loop example at B 32, device against host metadata, alternated (graph three rounds, eager two), each
    # run's whole output kept; and the SASS of three decode entries (their code's make-up: the cold-code candidate)
    timeout 120 node scripts/host-writes.mjs > "$out/s64a-host-writes.txt" 2>&1; echo "== host-writes rc=$?"; cat "$out/s64a-host-writes.txt"
    for r in 1 2 3; do
      for g in --graph ""; do
        [ -z "$g" ] && [ $r = 3 ] && continue
        for m in device host; do
          f="$out/s64a-loop-$r-$m${g:+-graph}.txt"
          timeout 60 node dist/examples/decode-loop.js --backend cuda --steps 64 --batch 32 --metadata $m $g > "$f" 2>&1
          echo "== r$r B 32 --metadata $m $g rc=$?: $(grep -aoE "[0-9.]+ µs per layer-step" "$f") | $(grep -aoE "time split.*" "$f" | cut -c1-260)"
        done
      done
    done
    for fn in mla_decode_sm90_membound_bf16 mla_decode_sm90_bf16; do
      cuobjdump -sass -fun $fn dist/kernels/mla_decode_sm90.sm_90a.cubin | xz -6 > "$out/s64a-sass-$fn.txt.xz"; echo "sass $fn rc=$? $(stat -c %s "$out/s64a-sass-$fn.txt.xz") B"
    done
    cuobjdump -sass -fun mla_decode_sm90_small_bf16 dist/kernels/mla_decode_sm90_small.sm_90a.cubin | xz -6 > "$out/s64a-sass-small.txt.xz"; echo "sass small rc=$?"
    ;;
  s63x)
    # (≤ 9.5 min, any card; carry as s62d) the first call of a session: on an H200 the README's H200 run (s48h: two
    # rounds of sweep + serving, --kv fp8, sparse; none lent since session 43), on any other card s63a
    if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then timeout 560 "$0" s48h; else timeout 560 "$0" s63a; fi
    ;;
  s63a)
    # (~5 min, any card; carry as s62d) s62d, then s63m
    timeout 200 "$0" s62d
    DEVICE_NEXT_NESTED=1 "$0" s63m
    ;;
  s63m)
    # (~2 min, any card) the bench's metadata from the device (the metadata kernel) against the host (`--metadata
    # host`: getMlaMetadata of host lengths, as PagedKvCache.metadata; no kernel), the serving set and the sweep's
    # variable-length rows, and those rows packed (--pack-order, host: the packing in host time only). Prediction: ms
    # equal (same schedules: host = kernel bit for bit); +md ms − ms: device ~7–13 µs, host ~2–4 µs (two small copies and
    # no cold code after the metadata kernel: s62b's +2 … +6 µs gone); md host µs 4–10 (b ≤ 132), ~45–50 with the packing
    # at b 128; packed var rows −1 … −4 % ms against the batch order (s57e), #11 / #13 then above FA3 on the H100 anchors
    for m in device host; do
      timeout 60 node dist/src/cli.js bench --configs serving --reference h200 --metadata $m --json "$out/s63m-serving-$m.json" > "$out/s63m-serving-$m.txt" 2>&1
      echo "== serving --metadata $m rc=$?"; grep -aE "^S[0-9]+ " "$out/s63m-serving-$m.txt" | cut -c1-110
    done
    for a in "device" "host" "host --pack-order"; do
      n=$(echo "$a" | tr -d ' -'); timeout 80 node dist/src/cli.js bench --configs var --reference h100 --metadata $a --json "$out/s63m-var-$n.json" > "$out/s63m-var-$n.txt" 2>&1
      echo "== sweep var --metadata $a rc=$?"; grep -aE "^sweep#" "$out/s63m-var-$n.txt" | cut -c1-150; grep -aE "^default vs" "$out/s63m-var-$n.txt"
    done
    ;;
  s63b)
    # (~6 min, any card; carry as s62d) the GPU files and the examples as `npm run test:gpu` runs them (s62e's second
    # half: --gpu-only, --skip readme-examples.test.js — the device has no typescript; s55g runs those blocks)
    s=$(date +%s); timeout ${S63B_S:-500} node scripts/test-gpu.mjs --gpu-only --skip readme-examples.test.js > "$out/s63b-suite.log" 2>&1
    echo "test-gpu --gpu-only rc=$? ($(( $(date +%s) - s )) s)"; grep -aE "^== test-gpu|^test-gpu:|^ℹ (tests|pass|fail|skipped)" "$out/s63b-suite.log"; grep -aE "^ *✖|^ *not ok" "$out/s63b-suite.log" | head -8
    ;;
  s62e)
    # (~8.5 min, any card; carry as s62d) s62d, then the GPU files and the examples as `npm run test:gpu` runs them
    # (--gpu-only: npm test ran the rest here; --skip readme-examples.test.js: the device has no typescript — s62d's
    # s55g ran the README's cuda blocks). S62E_S: the suite's limit (default 340)
    timeout 200 "$0" s62d
    s=$(date +%s); timeout ${S62E_S:-340} node scripts/test-gpu.mjs --gpu-only --skip readme-examples.test.js > "$out/s62e-suite.log" 2>&1
    echo "test-gpu --gpu-only rc=$? ($(( $(date +%s) - s )) s)"; grep -aE "^== test-gpu|^test-gpu:|^ℹ (tests|pass|fail|skipped)" "$out/s62e-suite.log"; grep -aE "^ *✖|^ *not ok" "$out/s62e-suite.log" | head -8
    ;;
  s62d)
    # (~3 min, any card; carry as s62b, .variants/devdist rebuilt at edf55ac+) the README examples (s55g: the serving
    # one now takes cache.metadata), s62c, then the decode-loop example with the
    # metadata from the device (a metadata kernel per step) against the host (PagedKvCache.metadata: no kernel, the
    # schedule written before the step), batch order and packed, as a graph (and B 32 eager), two rounds. Prediction:
    # host = device − the metadata kernel (~7–10 µs a step at B 32) and its cold-code cost on the first decode (2–6 µs);
    # packed: B 128 of 1..4096 −1 … −4 % per layer-step (the sweep's var rows: −2.6 … −4.8 %)
    DEVICE_NEXT_NESTED=1 "$0" s55g; DEVICE_NEXT_NESTED=1 "$0" s62c
    for r in 1 2; do
      for cfg in "--batch 32" "--batch 128 --max-prefill 4096"; do
        for m in device host "device --pack-order" "host --pack-order"; do
          for g in --graph ""; do
            [ -z "$g" ] && [ "$cfg" != "--batch 32" ] && continue
            [ -z "$g" ] && [ "$m" != device ] && [ "$m" != host ] && continue
            timeout 60 node dist/examples/decode-loop.js --backend cuda --steps 64 $cfg --metadata $m $g > "$out/s62d-$r.txt" 2>&1
            echo "== r$r $cfg --metadata $m $g rc=$?: $(grep -aoE "[0-9.]+ µs per layer-step" "$out/s62d-$r.txt") | $(grep -aoE "attention [0-9.]+ % \([0-9.]+ µs per layer" "$out/s62d-$r.txt") | $(grep -aoE "worst error/bound [0-9.]+: [A-Z]+" "$out/s62d-$r.txt")"
          done
        done
      done
    done
    ;;
  s62c)
    # (~1 min, any card; carry as s62b) s62b with every SM cold: the odd slots' one-block decodes 132 of them
    # (CLOCK_DRIFT_TINY_B=132), as a model's other kernels leave the SMs between two attention calls; idle and plain
    # again beside them. s62b (one or two SMs ran the odd slot): tinyfp8 / mdonly S1 +2 µs, S9 +6 µs; tinysame S9 +3
    rm -rf dist/kv-trace4 && cp -r dist/kernels dist/kv-trace4 && xz -dc .variants/trace4/mla_decode_sm90.sm_90a.cubin.xz > dist/kv-trace4/mla_decode_sm90.sm_90a.cubin
    for m in idle tinysame tinyfp8 plain; do
      CLOCK_DRIFT_TINY_B=132 CLOCK_DRIFT_MODE=$m FLASH_MLA_KERNEL_DIR=$PWD/dist/kv-trace4/ gpu timeout 60 node scripts/clock-drift.mjs S1,S9 100 > "$out/s62c-$m.txt" 2>&1
      echo "== clock-drift S1,S9 $m (tiny b 132) rc=$?"; grep -aE "^  |Error" "$out/s62c-$m.txt" | cut -c1-200
    done
    ;;
  s62b)
    # (~1.5 min, any card; carry .devcarry, .variants/devdist, .variants/trace4) what slows a plain run that follows the
    # metadata kernel even across the 256 MiB flush (s62a's mdonly: S1 span 21–22 µs against 19, S9 53–54 against 47):
    # its code or its data? The odd slots hold nothing (idle), the same 'hopper' entry on a one-block request
    # (tinysame), the FP8 entry on one (tinyfp8: ~100 KB of other code), the metadata kernel (mdonly), or the row's
    # decode (plain). Prediction if it is the SMs' instruction caches: idle and tinysame 19 / 47, tinyfp8 and mdonly
    # 21+ / 53
    rm -rf dist/kv-trace4 && cp -r dist/kernels dist/kv-trace4 && xz -dc .variants/trace4/mla_decode_sm90.sm_90a.cubin.xz > dist/kv-trace4/mla_decode_sm90.sm_90a.cubin
    for m in idle tinysame tinyfp8 mdonly plain; do
      CLOCK_DRIFT_MODE=$m FLASH_MLA_KERNEL_DIR=$PWD/dist/kv-trace4/ gpu timeout 60 node scripts/clock-drift.mjs S1,S9 100 > "$out/s62b-$m.txt" 2>&1
      echo "== clock-drift S1,S9 $m rc=$?"; grep -aE "^  |Error" "$out/s62b-$m.txt" | cut -c1-200
    done
    ;;
  s62a)
    # (~7 min, any card; carry .devcarry, .variants/devdist with its compute_80 PTX, .variants/trace4) what s61g left
    # (it passed every GPU test but these two: the device dist had no PTX, the device no typescript): the driver JIT of
    # every shipped PTX (portable-gpu), the README's examples on the GPU (s55g); then s61e and the README's H100 run (s46r)
    s=$(date +%s); gpu timeout 90 node --test --test-reporter=spec dist/test/portable-gpu.test.js > "$out/s62a-portable.log" 2>&1
    echo "portable-gpu rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s62a-portable.log" | tail -4
    DEVICE_NEXT_NESTED=1 "$0" s55g; DEVICE_NEXT_NESTED=1 "$0" s61e; DEVICE_NEXT_NESTED=1 "$0" s46r
    ;;
  s61g)
    # (~7–9 min, any card; session 61's change, never run on a GPU yet) the whole suite as `npm run test:gpu` now runs
    # it (scripts/test-gpu.mjs: the 28 files without the GPU side by side, the 12 GPU files one at a time, both
    # examples). s61a's one-file-at-a-time form ran out of 420 s inside fp8-sparse-gpu. S61G_S: the limit (default 560)
    s=$(date +%s); timeout ${S61G_S:-560} node scripts/test-gpu.mjs > "$out/s61g-suite.log" 2>&1
    echo "test-gpu rc=$? ($(( $(date +%s) - s )) s)"; grep -aE "^== test-gpu|^test-gpu:|^ℹ (tests|pass|fail|skipped)" "$out/s61g-suite.log"; grep -aE "^ *✖|^ *not ok" "$out/s61g-suite.log" | head -8
    ;;
  s61e)
    # (~1.5 min, any card; carry .devcarry, .variants/devdist, .variants/trace4) s61d, then s60l
    DEVICE_NEXT_NESTED=1 "$0" s61d; DEVICE_NEXT_NESTED=1 "$0" s60l
    ;;
  s61d)
    # (~1 min, any card; carry .devcarry, .variants/devdist, .variants/trace4) the open question of session 60: S1's
    # plain runs in turn with +md runs spanned 25 µs against 19 in a loop of plain runs, at the same SM clock. Here
    # the plain runs in turn with the metadata kernel alone (CLOCK_DRIFT_MODE=mdonly), beside turn and plain again.
    # If mdonly's plain spans are 25 µs, running the metadata kernel between two decodes slows the second (something
    # it leaves: caches a 256 MiB memset does not reach, e.g. instructions or constants); if 19, the +md decode does
    rm -rf dist/kv-trace4 && cp -r dist/kernels dist/kv-trace4 && xz -dc .variants/trace4/mla_decode_sm90.sm_90a.cubin.xz > dist/kv-trace4/mla_decode_sm90.sm_90a.cubin
    for m in turn mdonly plain; do
      CLOCK_DRIFT_MODE=$m FLASH_MLA_KERNEL_DIR=$PWD/dist/kv-trace4/ gpu timeout 60 node scripts/clock-drift.mjs S1,S9 100 > "$out/s61d-$m.txt" 2>&1
      echo "== clock-drift S1,S9 $m rc=$?"; cut -c1-330 "$out/s61d-$m.txt"
    done
    ;;
  s61c)
    # (~3–4 min, any card) session 61, when the budget is short of s61b: the tests of what changed since the last GPU
    # suite — the FP8 'hopper' entry split (the dense FP8 tests of fp8-sparse-gpu), the reverted metadata kernel and
    # the decode (gpu-decode), the params layouts, then the decode-loop example
    s=$(date +%s); gpu timeout ${S61C_FP8_S:-150} node --test --test-timeout=120000 --test-reporter=spec --test-name-pattern="Hopper FP8 kernel|dense decode over the FP8 cache" dist/test/fp8-sparse-gpu.test.js > "$out/s61c-fp8.log" 2>&1
    echo "fp8-sparse-gpu (dense FP8) rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s61c-fp8.log"; grep -aE "^ *✖|^ *not ok" "$out/s61c-fp8.log" | head -8
    s=$(date +%s); gpu timeout ${S61C_REST_S:-90} node --test --test-timeout=90000 --test-reporter=spec --test-concurrency=1 dist/test/gpu-decode.test.js dist/test/params-layout.test.js > "$out/s61c-rest.log" 2>&1
    echo "gpu-decode, params-layout rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s61c-rest.log"; grep -aE "^ *✖|^ *not ok" "$out/s61c-rest.log" | head -8
    timeout 40 node dist/examples/decode-loop.js --backend cuda > "$out/s61c-example.log" 2>&1; echo "decode-loop rc=$?"; tail -2 "$out/s61c-example.log"
    ;;
  s61b)
    # (~8 min, any card) session 61: s61a's `npm run test:gpu` ran out of its 420 s inside fp8-sparse-gpu (the cpu files
    # take ~190 s there at concurrency 1). Here the GPU files only, the FP8/sparse file alone with a per-test limit (a hang
    # shows as that test's failure), then the rest (S61B_REST: a shorter list), the example (S61B_L=1: then s60l)
    s=$(date +%s); gpu timeout ${S61B_FP8_S:-300} node --test --test-timeout=150000 --test-reporter=spec dist/test/fp8-sparse-gpu.test.js > "$out/s61b-fp8.log" 2>&1
    echo "fp8-sparse-gpu rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s61b-fp8.log"; grep -aE "^ *✖|^ *not ok" "$out/s61b-fp8.log" | head -8
    grep -aE "^ *✔ .*\(([0-9]{5,})\.[0-9]+ms\)" "$out/s61b-fp8.log" | cut -c1-140 | head
    s=$(date +%s); gpu timeout ${S61B_REST_S:-200} node --test --test-timeout=120000 --test-reporter=spec --test-concurrency=1 ${S61B_REST:-dist/test/gpu-decode.test.js dist/test/gpu-property.test.js \
      dist/test/strided-decode.test.js dist/test/kvcache-gpu.test.js dist/test/combine-gpu.test.js dist/test/dense-layouts-gpu.test.js dist/test/portable-gpu.test.js \
      dist/test/params-layout.test.js dist/test/cuda-driver.test.js dist/test/readme-examples.test.js dist/test/bench.test.js} > "$out/s61b-rest.log" 2>&1
    echo "other GPU files rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s61b-rest.log"; grep -aE "^ *✖|^ *not ok" "$out/s61b-rest.log" | head -8
    for g in "" --graph; do timeout 40 node dist/examples/decode-loop.js --backend cuda $g > "$out/s61b-example.log" 2>&1; echo "decode-loop $g rc=$?"; tail -2 "$out/s61b-example.log"; done
    [ -n "${S61B_L:-}" ] && DEVICE_NEXT_NESTED=1 "$0" s60l
    ;;
  s60l)
    # (~40 s, any card) the bench's loops back to plain first, then +md (session 60): S1 ran 0.0332 ms bimodal with the
    # two timed in turn (s46r, s60s), 28–29 µs in plain runs alone; prediction: S1 ~0.0287 again, the rest ±1 %
    for set in serving:S1,S7,S9 sweep:9,13; do
      n=s60l-${set%%:*}
      timeout 80 node dist/src/cli.js bench --configs $set --iters 100 --check-samples 0 --reference h100 --json "$out/$n.json" > "$out/$n.txt" 2>&1
      echo "bench $set rc=$?"
      node -e 'for (const x of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).rows) { const s = [...x.timesMs].sort((a, b) => a - b); console.log(x.id, "ms", x.ms.toFixed(4), "min/p25/p75", [0, 0.25, 0.75].map((f) => (s[Math.floor(f * (s.length - 1))] * 1000).toFixed(1)).join("/"), "+md", x.mdMs.toFixed(4)); }' "$out/$n.json"
    done
    ;;
  s60c)
    # (~1.5 min, any card; carry .devcarry, .variants/devdist, .variants/trace4 — the 'hopper' cubin built with
    # -DMLA_SM90_TRACE=4, xz-packed) the SM clock of every run, read by the kernel itself (cycles / global ns per part),
    # beside the run's event time: sweep#30 / #28 / #14 / #8, 200 runs each, plain and +md in turn (scripts/clock-drift.mjs).
    # s59p (H100, session 60) saw sweep#30's plain runs drift 855 → 930 µs while nvidia-smi's sampled clock read
    # 1950–1980 MHz most of the time with the SW power cap active, and +md − ms stay 37 µs in turn. Prediction if the
    # clock is the cause: GHz falls as ms rises, ms × GHz constant within ~1 %; if not, ms × GHz grows with the drift.
    rm -rf dist/kv-trace4 && cp -r dist/kernels dist/kv-trace4 && xz -dc .variants/trace4/mla_decode_sm90.sm_90a.cubin.xz > dist/kv-trace4/mla_decode_sm90.sm_90a.cubin
    nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.limit --format=csv,noheader
    FLASH_MLA_KERNEL_DIR=$PWD/dist/kv-trace4/ gpu timeout 240 node scripts/clock-drift.mjs ${S60C_ROWS:-30,28,14,8} ${S60C_RUNS:-200} > "$out/s60c.txt" 2>&1
    echo "clock-drift rc=$?"; cat "$out/s60c.txt" | cut -c1-400
    ;;
  s59p)
    # (~1.5 min, any card) whether the compute-bound rows' "slow mode" is the GPU's power limit: the SM clock, power
    # draw and clock-event reasons every 10 ms (nvidia-smi) while the bench times sweep#30, #28, #14 and #8 (a
    # memory-bound control) with 100 iterations — ms and +md ms now in turn (timeEach). Prediction: sweep#30's plain
    # runs start at ~0.856 ms and settle near 0.92 as the clock falls below ~1.75 GHz with the SW power cap active;
    # #8 at the full clock; +md ms − ms now 5–15 µs on every row (it was 40–84 µs on #14 / #28 / #30, session 43).
    nvidia-smi --query-gpu=power.limit,clocks.max.sm --format=csv
    ev=clocks_event_reasons; nvidia-smi --query-gpu=$ev.sw_power_cap --format=csv,noheader > /dev/null 2>&1 || ev=clocks_throttle_reasons
    nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu,$ev.sw_power_cap,$ev.hw_slowdown,$ev.sw_thermal_slowdown \
      --format=csv,noheader -lms 10 > "$out/s59p-smi.csv" 2>&1 &
    smi=$!
    timeout 150 node dist/src/cli.js bench --configs sweep:30,28,14,8 --iters 100 --check-samples 0 --reference none --json "$out/s59p.json" > "$out/s59p.txt" 2>&1
    echo "bench rc=$?"; kill $smi 2>/dev/null; wait $smi 2>/dev/null
    grep -aE "^sweep#" "$out/s59p.txt" | cut -c1-120
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const q = (a, f) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(f * (s.length - 1))]; };
      for (const row of r.rows) {
        const t = row.timesMs.map((x) => (x * 1000).toFixed(0)), m = row.mdTimesMs.map((x) => (x * 1000).toFixed(0));
        console.log(row.id, "ms p10/50/90", [0.1, 0.5, 0.9].map((f) => (q(row.timesMs, f) * 1000).toFixed(1)).join("/"),
          "+md", [0.1, 0.5, 0.9].map((f) => (q(row.mdTimesMs, f) * 1000).toFixed(1)).join("/"), "| first", t.slice(0, 8).join(" "), "| last", t.slice(-4).join(" "), "| md first", m.slice(0, 4).join(" "));
      }' "$out/s59p.json"
    # the clock and power while loaded (samples with power above half the limit), and how often the power cap was active
    head -2 "$out/s59p-smi.csv"
    awk -F', *' '{ p = $3 + 0; if (p > 0) { n++; c[int($2 / 25) * 25]++; if ($5 == "Active") cap++; if ($6 == "Active") hw++; if (p > pm) pm = p; ps += p } }
      END { printf "samples %d, power mean %.0f W max %.0f W, sw power cap active in %d, hw slowdown in %d\n", n, ps / (n ? n : 1), pm, cap, hw;
            for (k in c) printf "  sm %d MHz: %d samples\n", k, c[k] }' "$out/s59p-smi.csv"
    # the time line while the bench ran: one line per 100 ms (clock, power, power cap)
    awk -F', *' 'NR % 10 == 1 { printf "%s %s %s %s\n", $1, $2, $3, $5 }' "$out/s59p-smi.csv" | tail -60
    ;;
  s58h)
    # (~30 s, any card) the host side of a decode loop without graphs (scripts/host-loop.mjs: 61 calls per step, wall
    # clock and GPU time per call), outputs preallocated or allocated per call, with the cache of freed device blocks
    # (the default) and without (FLASH_MLA_CUDA_CACHE_BYTES=0)
    for c in "" 0; do
      FLASH_MLA_CUDA_CACHE_BYTES=$c timeout 55 node scripts/host-loop.mjs > "$out/s58h-cache${c:-on}.txt" 2>&1
      echo "== host loop, cache ${c:-on}: rc=$?"; cat "$out/s58h-cache${c:-on}.txt" | tail -12
    done
    ;;
  s57h)
    # (~1.5 min on an H100; carry as s57a) s57f cut to one round each (a short budget): maink / this build on batch order
    (cd .variants/maink && tar -xJf maink.tar.xz)
    for v in .variants/maink dist/kernels; do
      for a in "sweep:0,1,16,17" "serving:S2,S4,S10,S11" "--kv fp8 sweep:0,1,8,12" "--kv fp8 serving:S1,S9"; do
        set -- $a; cfg=${!#}; extra=${a% *}; [ "$extra" = "$a" ] && extra=
        f="$out/s57h-$(basename $v)-$(echo "$a" | tr ' :,' '___').txt"
        FLASH_MLA_KERNEL_DIR="$(kernel_dir "$v")/" timeout 60 node dist/src/cli.js bench --configs $cfg $extra --iters 40 --check-samples 1 --reference none > "$f" 2>&1
        echo "== $(basename $v) $a rc=$?"; grep -aE "^(sweep#|S[0-9])" "$f" | awk '{print $1, $8}' | tr '\n' ' '; echo; grep -aE "correctness" "$f"
      done
    done
    ;;
  s57e)
    # (~4 min on an H100; carry as s57a) after s57d (batch order still 1.005× on the serving shapes with no table load):
    # 'hopper' has separate entries for packed schedules and its batch-order entries compile to the session-start code
    # instruction for instruction (the host picks by the metadata: src/cuda/mla.ts). The decode GPU file with the rule
    # on, then maink / this build / this build packed, two rounds, round 1 checked
    pack_test s57e gpu-decode 150 gpu-decode
    pack_ab s57e "sweep:1,9,13,25,29 serving:S1,S2,S3,S5,S6,S8,S9,S12"
    ;;
  s57d)
    # (~4 min on an H100; carry as s57a) after s57c (the table-reading kernels cost 1.009× on batch order: a table load at
    # every part's start): a packed schedule's busy rows carry their first request in int 4's high bits and a batch-order
    # schedule has none, so request_at loads nothing in batch order; the rule is now getMlaMetadata's packOrder option
    # (FLASH_MLA_EXPERIMENT_PACK=3 turns it on for the bench). The decode GPU file with it on (metadata bit for bit,
    # decodes against the oracle), ncu's mla_metadata duration on sweep#9 off / on, then maink / this build / this build
    # packed, two rounds, round 1 checked
    pack_test s57d gpu-decode 150 gpu-decode
    metadata_ncu s57d "Duration"
    pack_ab s57d "sweep:1,9,13,25,29 serving:S1,S3,S5,S6,S7,S8,S9,S12"
    ;;
  s57c)
    # (~4 min on an H100; carry as s57a) s57b's builds after s57p (the packing step's blocks-above-threshold mask as a
    # tree — a running count had compiled to a 24-instruction dependent chain — and the first fit by two warp reductions,
    # redux.sync min/max, instead of ballot → find-first → shuffles; the head only at a part's end): ncu's duration of mla_metadata on sweep#9
    # with the rule off and on, then maink / this build / this build with the rule on over the var rows and the serving
    # shapes (the table-reading kernels' cost on batch order), two rounds, round 1 checked
    metadata_ncu s57c "Duration|Warp Cycles Per Issued|Executed Instructions  " WarpStateStats InstructionStats
    cuobjdump -sass dist/kernels/mla_metadata.sm_90.cubin > "$out/s57c-metadata.sass" 2>&1
    pack_ab s57c "sweep:1,9,13,25,29 serving:S1,S3,S5,S6,S7,S8,S9,S12"
    ;;
  s57p)
    # (~1.5 min, any card; carry as s57a) where the metadata kernel's packing spends its time (s57b: ~50 µs more on b 128
    # over 132 parts): ncu on mla_metadata for sweep#9 with the rule off and on (duration, warp states, the source
    # counters' top stall locations), and the SASS of its sm_90 cubin
    metadata_ncu s57p "Duration|Warp Cycles Per Issued|Issued Warp Per Scheduler|Executed Instructions  |Stall" WarpStateStats SchedulerStats SourceCounters InstructionStats
    cuobjdump -sass dist/kernels/mla_metadata.sm_90.cubin > "$out/s57p-metadata.sass" 2>&1; echo "sass rc=$? $(wc -l < "$out/s57p-metadata.sass") lines"
    ;;
  s57b)
    # (~5.5 min on an H100; carry as s57a) s57a again after s57a's lessons: request_at one load (an entry of 0 = the
    # position itself, no flag), the dense FP8 16-row entry reading the table too (the rule for every row count), the
    # packing faster (rest-only parts in closed form, no shared load on the packing chain); the Hopper FP8 GPU tests by
    # name (s57a's "dense" pattern ran past 120 s), then the same three builds two rounds each (round 1 checked)
    pack_test s57b gpu-decode 150 gpu-decode
    pack_test s57b fp8 150 fp8-sparse-gpu "Hopper FP8 kernel|small-row Hopper kernel over the FP8"
    pack_ab s57b "sweep:1,8,9,12,13,24,25,29 serving:S3,S6,S9"
    ;;
  s57a)
    # (~4 min on an H100; carry .devcarry, .variants/devdist — a slim copy of this build's dist, used as dist — and
    # .variants/maink: the session-start decode kernels (mla_decode_sm90, mla_decode_sm90_small sm_90a cubins built with
    # `SRC_REV=835f0a3 scripts/build-variant.sh …`) in maink.tar.xz) the packed order on the device, rebuilt in session 57
    # (the metadata kernel packs in one pass, mla_metadata_pack.cuh): the decode GPU file with the rule on (its
    # metadata test compares the device kernel with the cpu schedule bit for bit, pack sets included; its decodes the oracle),
    # the layout and dense FP8 GPU tests with it on, then three builds two rounds each (round 1 checked): the session-
    # start decode kernels on batch-order schedules, this build's (order-table reading) on batch order, this build's
    # with the rule on (FLASH_MLA_EXPERIMENT_PACK=3); the +md column shows the metadata kernel's cost
    pack_test s57a gpu-decode 150 gpu-decode
    pack_test s57a layouts 120 dense-layouts-gpu
    pack_test s57a fp8 120 fp8-sparse-gpu dense
    pack_ab s57a "sweep:8,9,12,13,24,25,29 serving:S3,S6,S9"
    ;;
  s56v)
    # (~5 min on an H100; carry .devcarry, .variants/devdist-pk — a slim dist of branch pack-order-kernels, used as
    # dist: its kernels/ the branch's dist/kernels files named as in .variants/devdist/kernels, its src/ test/ examples/
    # the branch's dist/ ones without .map / .d.ts, readme-examples/ from .variants/devdist — and .variants/maink,
    # main's mla_decode_sm90 and mla_decode_sm90_small sm_90a cubins in maink.tar.xz) the packed order on the device:
    # the GPU files that check the metadata kernel against the cpu schedule bit for bit and the decode kernels against
    # the oracle, then three builds two rounds each (round 1 checked): main's decode kernels on batch-order schedules,
    # the branch's (order-table reading) kernels on batch-order schedules, the branch's on packed schedules
    (cd .variants/maink && tar -xJf maink.tar.xz)
    for t in gpu-decode dense-layouts-gpu; do
      s=$(date +%s); gpu timeout 150 node --test dist/test/$t.test.js > "$out/s56v-$t.log" 2>&1
      echo "$t rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s56v-$t.log" | tail -4; grep -aE "^ *not ok" "$out/s56v-$t.log" | head -4
    done
    s=$(date +%s); gpu timeout 150 node --test --test-name-pattern="dense" dist/test/fp8-sparse-gpu.test.js > "$out/s56v-fp8.log" 2>&1
    echo "fp8 dense GPU tests rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s56v-fp8.log" | tail -4
    AB_CHECK=1 ab_rounds s56v "sweep:1,3,7,8,9,11,12,13,19,23,24,25,27,28,29 serving:S1,S3,S6,S7,S8,S9,S12" \
      .variants/maink@FLASH_MLA_EXPERIMENT_PACK=0 dist/kernels@FLASH_MLA_EXPERIMENT_PACK=0 dist/kernels
    ;;
  s56w)
    # (~3 min on an H100; carry as s56v) s56v cut to what a short budget allows: the decode GPU file (the metadata
    # kernel bit for bit with the cpu schedule, the decodes against the oracle), then the three builds on sweep#9, #13,
    # #24 (fixed twin of #25), #25, #29 and S6 / S9, two rounds, round 1 checked
    (cd .variants/maink && tar -xJf maink.tar.xz)
    s=$(date +%s); gpu timeout 150 node --test dist/test/gpu-decode.test.js > "$out/s56w-gpu-decode.log" 2>&1
    echo "gpu-decode rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s56w-gpu-decode.log" | tail -4; grep -aE "^ *not ok" "$out/s56w-gpu-decode.log" | head -4
    AB_CHECK=1 ab_rounds s56w "sweep:9,13,24,25,29 serving:S6,S9" \
      .variants/maink@FLASH_MLA_EXPERIMENT_PACK=0 dist/kernels@FLASH_MLA_EXPERIMENT_PACK=0 dist/kernels
    ;;
  s56k)
    # (~2.5 min on an H100; carry .variants/pk: mla_decode_sm90.sm_90a.cubin built from branch pack-order-kernels with
    # `SRC_REV=pack-order-kernels scripts/build-variant.sh pk mla_decode_sm90 sm_90a`, copied from dist/kv-pk) the
    # 'hopper' entries that read each item's request through the order table (255 registers, from 254) on batch-order
    # metadata: the decode GPU test on them, two A/B rounds against the shipped build (round 1 checked)
    variant_decode_test s56k .variants/pk
    AB_CHECK=1 ab_rounds s56k "sweep:8,9,12,13,24,25,28,29 serving:S1,S3,S6,S8,S9,S12" dist/kernels .variants/pk
    ;;
  s56a)
    # (~5 min on an H100, ~8 on an H200) on an H200 the README's run (s48h), then on any card s56p
    readme_run_then s56p 300 290
    ;;
  s55g)
    # (~1 min, any card; carry .variants/devdist as dist with readme-examples/ in it: the README's blocks that name
    # 'cuda', transpiled on the workstation by `node scripts/readme-examples-js.mjs .variants/devdist/readme-examples`
    # — the device has no typescript) the README's examples as written on a GPU
    # (test/readme-examples.test.ts runs them so under `npm run test:gpu`; the CUDA-graph example runs nowhere else)
    for f in dist/readme-examples/*-cuda.js; do
      s=$(date +%s); timeout 120 node "$f" > "$out/$(basename "$f" .js).log" 2>&1
      echo "$f rc=$? ($(( $(date +%s) - s )) s)"; tail -5 "$out/$(basename "$f" .js).log"
    done
    ;;
  s55a)
    # (~1 min on an H100, ~8 on an H200; carry .devcarry, .variants/devdist) on an H200 the README's run (s48h), then
    # on any card s55g (the README's examples as written on the GPU)
    readme_run_then s55g 480 110
    ;;
  s54m)
    # (ran in session 54 on an H100: its s54e half, below) (~2.5 min on an H100, ~8–9 on an H200; carry
    # .variants/s54pack, unpacked first with `tar -xJf .variants/s54pack/v.tar.xz`: .variants/qearly1, noq, noqst as
    # s54e says) on an H200 the README's run (s48h), then on any card s54e
    readme_run_then s54e 380 200
    ;;
  s54e)
    # (ran in session 54 on an H100: qearly1 1.003× the time, not taken, its switch removed — build it with
    # SRC_REV=24d5542 in front of its command below; noq needs no SRC_REV: MLA_EXPERIMENT_NO_NEXT_Q stays, an ablation)
    # (~2 min, session 54, any card; carry .variants/qearly1, noq, noqst: each mla_decode_sm90.sm_90a.cubin built with
    # `scripts/build-variant.sh NAME mla_decode_sm90 sm_90a FLAGS`, FLAGS -DMLA_EXPERIMENT_Q_EARLY=1 / -DMLA_EXPERIMENT_NO_NEXT_Q
    # / -DMLA_EXPERIMENT_NO_NEXT_Q -DMLA_EXPERIMENT_NO_O_STORE, then copied there) qearly1: warpgroup 1 loads the next
    # item's Q in its last iteration (the compute-bound 16-bit entries) instead of both warpgroups after the row sums'
    # barrier — the decode GPU test on it, two A/B rounds against the shipped build (round 1 checked; S3 the control);
    # then the item change's ablation, unchecked: the next item keeps the old Q (noq), and also no O stores (noqst)
    variant_decode_test s54e .variants/qearly1
    AB_CHECK=1 ab_rounds s54e "serving:S3,S5,S6,S8,S9,S12 sweep:12,13,28" dist/kernels .variants/qearly1
    AB_CHECK=0 ab_rounds s54a "serving:S5,S6,S8,S9 sweep:12,28" dist/kernels .variants/noq .variants/noqst
    ;;
  s54n)
    # (ran in session 54 on an H100: its s54q half, above) (~2.5 min on an H100, ~8–9 on an H200) on an H200 the
    # README's run (s48h), then on any card s54q (carry .variants/qlate4, qlate8, qlate16 as s54q says; packed into one
    # tar.xz they fit the carry limit beside .devcarry and .variants/devdist)
    readme_run_then s54q 380 200
    ;;
  s54q)
    # (ran in session 54 on an H100: 1.004 / 1.010 / 1.009× the time, not taken, the switch removed — build the
    # variants with SRC_REV=5e2df42 in front of the command below)
    # (~2.5 min, session 54, any card; carry .variants/qlate4, qlate8, qlate16: each mla_decode_sm90.sm_90a.cubin built
    # with `scripts/build-variant.sh qlateN mla_decode_sm90 sm_90a -DMLA_EXPERIMENT_QPF_LATE=N`, then copied there) the
    # compute-bound 16-bit entries prefetch the next item's Q rows into L2 (prefetch.global.L2, warpgroup 1, 2 lines a
    # thread) N blocks before the item's end, so that the item change's Q cp.asyncs read L2 and not DRAM all at once:
    # the decode GPU test on qlate8, then two A/B rounds against the shipped build (round 1 checked). S3 (the
    # memory-bound entry, unchanged machine code) is the control
    variant_decode_test s54q .variants/qlate8
    AB_CHECK=1 ab_rounds s54q "serving:S3,S5,S6,S8,S9,S12 sweep:12,28,30" dist/kernels .variants/qlate4 .variants/qlate8 .variants/qlate16
    ;;
  s53f)
    # (ran in session 53 on an H100: 0.999× the time, not taken, the switch removed — build the variant with
    # SRC_REV=fda44e4 in front of the command below)
    # (~1 min, session 53, any card; carry .variants/fsa: mla_decode_sm90.sm_90a.cubin built with
    # `scripts/build-variant.sh fsa mla_decode_sm90 sm_90a -DMLA_EXPERIMENT_FIRST_S_ALONE`, then copied there) the
    # compute-bound 16-bit entries' first S of an item one warpgroup at a time (warpgroup 1's S of block 1 after
    # warpgroup 0's S of block 0 is done): the decode GPU test on it, then two A/B rounds against the shipped build
    # (round 1 checked). S3 (the memory-bound entry, unchanged machine code) is the control
    variant_decode_test s53f .variants/fsa
    AB_CHECK=1 ab_rounds s53f "serving:S1,S3,S6,S8,S9,S12 sweep:12,13,28" dist/kernels .variants/fsa
    ;;
  s51b)
    # (~1 min, session 51; carry .variants/c2b4, c2b6: mla_combine.sm_90.cubin built from commit 97fa19c's
    # kernels/mla_combine.cu with -DMLA_EXPERIMENT_P16_C2_BATCH=4 / 6 — `git show 97fa19c:kernels/mla_combine.cu >
    # /tmp/c.cu; nvcc -cubin -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 --use_fast_math -I kernels
    # -DMLA_EXPERIMENT_P16_C2_BATCH=N -o .variants/c2bN/mla_combine.sm_90.cubin /tmp/c.cu`) c2b's other direction: s50b
    # found 12 / 16 splits a p16 C = 2 batch 1.4–1.7 % slower on S9 (more loads queued ahead of the LSE loads); with 4 /
    # 6 fewer are queued, and rows of more splits take another round. Two A/B runs of two rounds, round 1 checked
    AB_CHECK=1 ab_rounds s51b "serving:S9,S8" dist/kernels .variants/c2b4 .variants/c2b6
    AB_CHECK=0 ab_rounds s51b2 "serving:S9,S8" dist/kernels .variants/c2b4 .variants/c2b6
    ;;
  s51s)
    # (~4 min, session 51, any card) memcheck on the raw-batch combine (rawb, session 50: the C <= 2 batches over 16-bit
    # partials held as raw loads): 10 'hopper' property cases (split rows, the combine shapes the rule picks), then the
    # combine's own GPU file (every W x C launch shape over long split rows)
    s=$(date +%s)
    FLASH_MLA_SEED=515151 FLASH_MLA_TEST_KERNELS=hopper FLASH_MLA_GPU_PROPERTY_SANITIZE=1 FLASH_MLA_GPU_PROPERTY_CASES=10 \
      gpu timeout 110 compute-sanitizer --tool memcheck --print-limit 4 node --test-reporter=tap dist/test/gpu-property.test.js > "$out/s51s-property.log" 2>&1
    echo "memcheck property rc=$? ($(( $(date +%s) - s )) s): $(grep -aE 'ERROR SUMMARY' "$out/s51s-property.log" | tail -1)"; grep -aE "^# (pass|fail)" "$out/s51s-property.log" | tr '\n' ' '; echo
    s=$(date +%s)
    gpu timeout 150 compute-sanitizer --tool memcheck --print-limit 4 node --test-reporter=tap dist/test/combine-gpu.test.js > "$out/s51s-combine.log" 2>&1
    echo "memcheck combine file rc=$? ($(( $(date +%s) - s )) s): $(grep -aE 'ERROR SUMMARY' "$out/s51s-combine.log" | tail -1)"; grep -aE "^# (pass|fail)" "$out/s51s-combine.log" | tr '\n' ' '; echo
    grep -aE "^ *not ok|Invalid|out of bounds" "$out/s51s-combine.log" "$out/s51s-property.log" | head -6
    ;;
  s50b)
    # (ran in session 51 on an H100: S9 1.4–1.7 % slower with 12 / 16 — not taken, the switch removed; build the
    # variants from commit 97fa19c)
    # (~1 min, session 50; carry .variants/c2b12, c2b16: mla_combine.sm_90.cubin built with -DMLA_EXPERIMENT_P16_C2_BATCH=12
    # / 16 — `nvcc -cubin -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 --use_fast_math -I kernels
    # -DMLA_EXPERIMENT_P16_C2_BATCH=N -o .variants/c2bN/mla_combine.sm_90.cubin kernels/mla_combine.cu`) the p16 C = 2
    # batch at 12 / 16 splits instead of 8 (118 / 128 registers, no spills, still 2 CTAs per SM since the raw batch):
    # S9's rows of 9–14 splits merge in one round after their LSEs instead of two. Two A/B runs of two rounds, the
    # first round checked; S8 / S1 are controls (their shapes are not C = 2)
    AB_CHECK=1 ab_rounds s50b "serving:S9,S8,S1" dist/kernels .variants/c2b12 .variants/c2b16
    AB_CHECK=0 ab_rounds s50b2 "serving:S9,S8,S1" dist/kernels .variants/c2b12 .variants/c2b16
    ;;
  s50g)
    # (ran in session 51 on an H100: 40/40)
    # (~1–2.5 min, session 50) the decode + combine GPU files on the raw-batch combine (its benches' checked rows passed
    # as the rawb2 variant; the files had not run on it yet)
    s=$(date +%s); gpu timeout 200 node --test --test-concurrency=1 dist/test/gpu-decode.test.js dist/test/combine-gpu.test.js > "$out/s50g-tests.log" 2>&1
    echo "decode + combine GPU tests rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s50g-tests.log"; grep -aE "^ *not ok" "$out/s50g-tests.log" | head -6
    grep -ahsE "^ *# cos diffs" "$out/s50g-tests.log" | head -4
    ;;
  s49q)
    # (ran in session 50 on an H100: 1.007 / 1.027 / 1.038× the time — not taken, the switch removed; build the
    # variants from commit 5c50705)
    # (~2.5 min, session 49; carry .variants/qpf1, qpf2, qpf3: mla_decode_sm90.sm_90a.cubin built with
    # -DMLA_EXPERIMENT_QPF=1 / 2 / 3 — `nvcc -cubin -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a --use_fast_math
    # -I kernels -DMLA_EXPERIMENT_QPF=N -o .variants/qpfN/mla_decode_sm90.sm_90a.cubin kernels/mla_decode_sm90.cu`) the
    # compute-bound entries prefetching the next item's Q rows (=2: and its first two K blocks; =3: =2 in the
    # memory-bound entries too) into L2 with evict_last at an item's top (s42s: at S6's item change the next Q lands
    # 4.75 µs after it is issued — every SM reading its next Q from DRAM at once), two rounds against the shipped
    # build, round 1 checked. S4 / S5 / S11 / sweep#9 / #25 are memory-bound rows with item changes (only qpf3 touches them)
    AB_CHECK=1 ab_rounds s49q "serving:S4,S5,S6,S8,S9,S11,S12 sweep:9,12,13,25,28,30" dist/kernels .variants/qpf1 .variants/qpf2 .variants/qpf3
    ;;
  s49s)
    # (~3 min, session 49) the 1152-byte 16-bit split rows where s49r did not look: the Hopper FP8 kernel's GPU tests
    # (its dense entry writes the same rows; incl. its split-row accuracy tests), then memcheck on 10 'hopper' property
    # cases (split and unsplit rows, every combine shape the rule picks for them)
    fp8_tests s49f "the Hopper FP8 kernel" 170
    grep -ahsE "^ *# cos diffs" "$out/s49f-suite.log" | head -4
    s=$(date +%s)
    FLASH_MLA_SEED=494949 FLASH_MLA_TEST_KERNELS=hopper FLASH_MLA_GPU_PROPERTY_SANITIZE=1 FLASH_MLA_GPU_PROPERTY_CASES=10 \
      gpu timeout 110 compute-sanitizer --tool memcheck --print-limit 4 node --test-reporter=tap dist/test/gpu-property.test.js > "$out/s49s-memcheck.log" 2>&1
    echo "memcheck property rc=$? ($(( $(date +%s) - s )) s): $(grep -aE 'ERROR SUMMARY' "$out/s49s-memcheck.log" | tail -1)"; grep -aE "^# (pass|fail)" "$out/s49s-memcheck.log" | tr '\n' ' '; echo
    ;;
  s49r)
    # (~3.5 min, session 49; carry .variants/p16row1040: the decode + combine cubins of the build before — copy
    # dist/kernels/mla_decode_sm90.sm_90a.cubin and mla_combine.sm_90.cubin of commit 2ff7e1a's build) scaled fp16
    # split rows of 1152 bytes (every row on a 128-byte line) instead of 1040 (16-byte aligned: a warp's 256 columns
    # read 9 sectors / 3 lines instead of 8 / 2, a quad's 64-byte store 3 sectors): the decode + combine GPU files on
    # the new build, then two rounds against the 1040-byte rows (round 1 checked)
    s=$(date +%s); gpu timeout 150 node --test --test-concurrency=1 dist/test/gpu-decode.test.js dist/test/combine-gpu.test.js > "$out/s49r-tests.log" 2>&1
    echo "decode + combine GPU tests rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s49r-tests.log"; grep -aE "^ *not ok" "$out/s49r-tests.log" | head -6
    grep -ahsE "^ *# cos diffs" "$out/s49r-tests.log" | head -4
    AB_CHECK=1 ab_rounds s49r "serving:S1,S3,S7,S8,S9,S12 sweep:9,13,25,29" .variants/p16row1040 dist/kernels
    ;;
  s49c)
    # (~2.5 min, session 49; carry .variants/fp32p: mla_decode_sm90.sm_90a.cubin built with -DMLA_EXPERIMENT_FP32_PARTIALS —
    # `nvcc -cubin -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a --use_fast_math -I kernels
    # -DMLA_EXPERIMENT_FP32_PARTIALS -o .variants/fp32p/mla_decode_sm90.sm_90a.cubin kernels/mla_decode_sm90.cu`) why the
    # C = 4 combine over scaled fp16 rows is slower than over fp32 rows (s48d: S12 7.4 → 10.4 µs, S3 6.3 → 7.7; c4pair's
    # 16-byte copies did not help, s48e): ncu (caches as they are, clocks free, one launch after two) of the combine on
    # S12 and S3, both partial formats — duration, grid, registers, occupancy, L2 / DRAM traffic, warp stall reasons
    for cfg in S12 S3; do
      for v in p16 fp32; do
        if [ $v = fp32 ]; then kd=$(kernel_dir .variants/fp32p); ex=fp32; else kd=$PWD/dist/kernels; ex=; fi
        FLASH_MLA_EXPERIMENT_PARTIALS=$ex FLASH_MLA_KERNEL_DIR=$kd/ timeout 75 ncu --cache-control none --clock-control none -k regex:mla_combine \
          --launch-skip 2 --launch-count 1 --set full -f -o "$out/s49c-$cfg-$v" \
          node dist/src/cli.js bench --configs serving:$cfg --iters 3 --warmup 1 --check-samples 0 --reference none > "$out/s49c-$cfg-$v.log" 2>&1
        echo "== $cfg $v rc=$?"
        ncu -i "$out/s49c-$cfg-$v.ncu-rep" --page details > "$out/s49c-$cfg-$v-details.txt" 2>&1
        grep -aE "mla_combine|Duration|Grid Size|Block Size|Registers Per|Achieved Occupancy|Theoretical Occupancy|Memory Throughput|L2 Hit|DRAM Throughput|L1/TEX Hit|Issue Slots Busy|No Eligible|Eligible Warps|Active Warps Per" "$out/s49c-$cfg-$v-details.txt" | head -20
        ncu -i "$out/s49c-$cfg-$v.ncu-rep" --page raw --csv --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio' > "$out/s49c-$cfg-$v-stalls.csv" 2>&1
        python3 - "$out/s49c-$cfg-$v-stalls.csv" <<'PY'
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if r]
h = next((i for i, r in enumerate(rows) if 'Kernel Name' in r), None)
if h is None: print('no stall rows'); sys.exit()
names, vals = rows[h], rows[-1]
st = []
for n, v in zip(names, vals):
    if 'issue_stalled' in n:
        try: st.append((float(v.replace(',', '')), n.split('stalled_')[1].split('_per')[0]))
        except ValueError: pass
print('stalls per issue:', '  '.join(f'{k}={x:.2f}' for x, k in sorted(st, reverse=True)[:8]))
PY
      done
    done
    ;;
  s48h)
    # (~5–9 min, session 48) on an H200: s47h's two rounds (the README's run of the scaled-fp16-partials build) and the
    # sparse set (s48e's c4pair, which followed here, ran in session 49: not taken). S48H_SANITIZE=1 also reruns
    # memcheck + racecheck of the scaled fp16 split rows and s48c
    # (both ran in session 48, as did the split cost 3 / 4 / 5 / 6: perf log `s48o`)
    t0=$(date +%s)
    if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
      timeout 200 "$0" s47h
      echo "== sparse"; timeout 60 node dist/src/cli.js bench --configs sparse --iters 30 --reference h200 --json "$out/sparse.json" > "$out/sparse.txt" 2>&1
      echo "sparse rc=$?"; grep -aE "^sparse#" "$out/sparse.txt" | cut -c1-150
      S47H_ROUND=2 timeout 150 "$0" s47h
      echo "README runs done at $(( $(date +%s) - t0 )) s"
    fi
    # (the sanitizers and s48c ran on an H100 in session 48: S48H_SANITIZE=1 runs them again)
    if [ -n "${S48H_SANITIZE:-}" ]; then
      sanitize_hopper_property s48p 484848
      sanitize_fp8_tests s48f "h_q 128, s_q 2, causal, long and short requests: the oracle and" 100
      timeout 170 "$0" s48c
    fi
    # (s48d ran on an H100 in session 48; its follow-up, c4pair, ran as s48e in session 49: not taken)
    echo "total $(( $(date +%s) - t0 )) s"
    ;;
  s48e)
    # (ran in session 49 on an H100: not taken, the switch removed — build the variant from commit a388047)
    # (~3 min, session 48; carry .variants/c4pair: mla_combine.sm_90.cubin built with -DMLA_EXPERIMENT_P16_STAGE16 —
    # `nvcc -cubin -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 --use_fast_math -I kernels
    # -DMLA_EXPERIMENT_P16_STAGE16 -o .variants/c4pair/mla_combine.sm_90.cubin kernels/mla_combine.cu`) the C = 4
    # combine over 16-bit partials copying each split's 256 B with 16-byte cp.async.cg by half a warp instead of 8-byte
    # cp.async.ca per lane (s48d: S3 / S12 lost 1.5–2.4 % to fp32 partials in the combine alone): the decode + combine
    # GPU files and (unless S48E_QUICK) the FP8 split-row accuracy tests on the variant, then two rounds against the
    # shipped combine (round 1 checked)
    kd=$(kernel_dir .variants/c4pair)
    s=$(date +%s); FLASH_MLA_KERNEL_DIR=$kd/ gpu timeout 150 node --test --test-concurrency=1 dist/test/gpu-decode.test.js dist/test/combine-gpu.test.js > "$out/s48e-tests.log" 2>&1
    echo "decode + combine GPU tests (c4pair) rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s48e-tests.log"; grep -aE "^ *not ok" "$out/s48e-tests.log" | head -6
    [ -z "${S48E_QUICK:-}" ] && FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests s48e-fp8 "split over every SM part" 120
    grep -ahsE "^ *# cos diffs" "$out/s48e-tests.log" "$out/s48e-fp8-suite.log" | head -6
    AB_CHECK=1 ab_rounds s48e "serving:S1,S2,S3,S7,S12 sweep:9,29" dist/kernels .variants/c4pair
    ;;
  s48d)
    # (~1.5 min, session 48; carry .variants/fp32p) where S3 / S12 lose 1.7–1.9 % to fp32 partials with the scaled
    # fp16 rows (s47s): both builds as shipped and without the combine launch (FLASH_MLA_EXPERIMENT_LAUNCH=nocombine,
    # outputs unchecked) — the decode's share is the nocombine difference, the combine's the rest
    AB_CHECK=0 ab_rounds s48d "serving:S1,S3,S8,S12 sweep:9,28" .variants/fp32p@FLASH_MLA_EXPERIMENT_PARTIALS=fp32 dist/kernels
    FLASH_MLA_EXPERIMENT_LAUNCH=nocombine AB_CHECK=0 ab_rounds s48n "serving:S1,S3,S8,S12 sweep:9,28" .variants/fp32p@FLASH_MLA_EXPERIMENT_PARTIALS=fp32 dist/kernels
    ;;
  s48c)
    # (~2 min, session 48) the combine's launch shape over the scaled fp16 split rows (1 KB a row; the rule,
    # combine-shape.ts, was fitted on fp32 rows): the rule against forced W,C on the split-heavy shapes, outputs checked
    # in round 1
    AB_CHECK=1 ab_rounds s48c "serving:S3,S7,S8,S9,S12 sweep:9,13" FLASH_MLA_COMBINE= FLASH_MLA_COMBINE=1,1 FLASH_MLA_COMBINE=1,2 FLASH_MLA_COMBINE=2,1 FLASH_MLA_COMBINE=2,2 FLASH_MLA_COMBINE=1,4
    ;;
  s47h)
    # (~6 min, an H200; session 47) the README's H200 run of the session-46 build (16-bit split partials): the sweep and
    # the serving set against the H200 anchors (round 1 checked, JSON + SVG for docs/runs/), then the --kv fp8 rows
    # against this run's bf16 sweep. S47H_ROUND=2: the sweep and the serving set again, unchecked (the second round)
    nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
    r=${S47H_ROUND:-1}; chk=$(( r == 1 ? 1 : 0 ))
    timeout 230 node dist/src/cli.js bench --reference h200 --iters 40 --check-samples $chk --json "$out/sweep-$r.json" --svg "$out/sweep-$r.svg" > "$out/sweep-$r.txt" 2>&1
    echo "sweep rc=$?"; tail -n 45 "$out/sweep-$r.txt" | cut -c1-200
    timeout 100 node dist/src/cli.js bench --configs serving --reference h200 --iters 40 --check-samples $chk --json "$out/serving-$r.json" > "$out/serving-$r.txt" 2>&1
    echo "serving rc=$?"; tail -n 22 "$out/serving-$r.txt" | cut -c1-200
    if [ "$r" = 1 ]; then
      timeout 60 node dist/src/cli.js bench --configs 0,1,2,4,8,16,17,18,20,24 --kv fp8 --iters 30 --reference "$out/sweep-1.json" --json "$out/fp8.json" > "$out/fp8.txt" 2>&1
      echo "fp8 vs bf16 (same run) rc=$?"; grep -aE "^sweep#|geomean" "$out/fp8.txt" | cut -c1-190
    fi
    ;;
  s47f)
    # (~4 min, session 47; carry .variants/fp8old: the decode cubin before the FP8 entry's 16-bit partials) the FP8 GPU
    # tests on the new build, then the 64-row FP8 entry (mla_decode_sm90_fp8_bf16) with 16-bit split partials against
    # the fp32 ones, --kv fp8, two rounds
    # (S47F_TESTS_ONLY=1: the tests only; the file takes ~150–200 s on these machines)
    s=$(date +%s); gpu timeout ${S47F_TEST_S:-330} node --test --test-concurrency=1 dist/test/fp8-sparse-gpu.test.js > "$out/fp8-tests.log" 2>&1
    echo "FP8/sparse GPU tests rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/fp8-tests.log"; grep -aE "^✖|^ *not ok|# fail" "$out/fp8-tests.log" | head -8
    [ -n "${S47F_TESTS_ONLY:-}" ] && exit 0
    AB_EXTRA="--kv fp8" ab_rounds s47f "sweep:8,9,12,13,24,25,29 serving:S1,S5,S8,S9,S12" .variants/fp8old@FLASH_MLA_EXPERIMENT_FP8_PARTIALS=fp32 dist/kernels
    ;;
  s47s)
    # (~8 min, session 47; carry .variants/fp32p and .variants/packloops) scaled fp16 split partials
    # (PARTIAL16_ROW_ELEMS: each 256-column half by its power of two): the GPU files that run 'hopper''s dense entries
    # and the combine (with the split-row accuracy tests, test/util/split-accuracy.ts), the bf16 entries' F2FP count,
    # then two rounds against fp32 partials (and a loop per kind of row) on the shapes the 16-bit partials sped up (s46e)
    s=$(date +%s); gpu timeout 240 node --test --test-concurrency=1 dist/test/gpu-decode.test.js dist/test/combine-gpu.test.js > "$out/s47s-tests.log" 2>&1
    echo "decode + combine GPU tests rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s47s-tests.log"; grep -aE "^ *not ok" "$out/s47s-tests.log" | head -6
    fp8_tests s47s-fp8 "Hopper FP8 kernel" 180
    echo "== the split-row accuracy tests"; grep -ahE "^ *# cos diffs|^ *not ok.*20000" "$out/s47s-tests.log" "$out/s47s-fp8-suite.log" | head -8
    # the bf16 entries' store loop: F2FP per entry (both conversions executed for every pair?), this build and the
    # variant with a loop per kind of row (.variants/packloops, -DMLA_EXPERIMENT_PACK_LOOPS), if carried
    for c in dist/kernels/mla_decode_sm90.sm_90a.cubin .variants/fp32p/mla_decode_sm90.sm_90a.cubin .variants/packloops/mla_decode_sm90.sm_90a.cubin; do
      [ -f "$c" ] && cuobjdump -sass "$c" | awk -v f="$c" '/Function :/ {fn=$3} /F2FP/ {n[fn]++} END {for (k in n) if (k ~ /sm90_(bf16|fp16|fp8_bf16)$/) print f, k, "F2FP", n[k]}'
    done
    builds=(.variants/fp32p@FLASH_MLA_EXPERIMENT_PARTIALS=fp32 dist/kernels)
    [ -d .variants/packloops ] && builds+=(.variants/packloops)
    AB_CHECK=1 ab_rounds s47s "serving:S1,S3,S8,S9,S12 sweep:9,13,28" "${builds[@]}"
    ;;
  s47a)
    # (~4 min, session 47; carry .variants/fp32p: mla_decode_sm90 built with -DMLA_EXPERIMENT_FP32_PARTIALS) the
    # accuracy of 16-bit split partials over many seeds on shapes whose one request is split over every SM part
    # (scripts/partials-accuracy.mjs): this build, then the same with fp32 split partials
    echo "== 16-bit partials (this build)"; timeout 150 node scripts/partials-accuracy.mjs ${S47A_SEEDS:-8}
    echo "== fp32 partials"; FLASH_MLA_EXPERIMENT_PARTIALS=fp32 FLASH_MLA_KERNEL_DIR="$(kernel_dir .variants/fp32p)/" timeout 150 node scripts/partials-accuracy.mjs ${S47A_SEEDS:-8}
    ;;
  s46r)
    # (~3–4 min) the README's H100 run of the session-46 build (16-bit split partials): the sweep against the H100
    # anchors and the serving set, every row checked
    timeout 200 node dist/src/cli.js bench --configs sweep --reference h100 --json "$out/sweep.json" > "$out/sweep.txt" 2>&1; echo "sweep rc=$?"; tail -12 "$out/sweep.txt"
    timeout 90 node dist/src/cli.js bench --configs serving --reference h200 --json "$out/serving.json" > "$out/serving.txt" 2>&1; echo "serving rc=$?"; grep -aE "^S[0-9]" "$out/serving.txt" | cut -c1-80
    ;;
  e4m3probe)
    # (~1 min) the e4m3 wgmma probes (session 45 on an H100: layouts as CUTLASS's ALayout_64x32, accumulation ~10 bits,
    # rate twice f16's): scripts/e4m3-wgmma-probe.cu and the rate probe's shapes
    e4m3_probe
    nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -I kernels -I scripts -o /tmp/wgrate scripts/wgmma-rate-probe.cu > "$out/wgrate-build.log" 2>&1
    timeout 60 /tmp/wgrate 2>&1 | tee "$out/wgrate.txt"
    ;;
  s44c)
    # (~4 min, session 44; carry .variants/nostore) s43n, then where S5/S6/S8/S9/S12 and two var rows spend a call on
    # this card: as shipped, without the combine launch, and every CTA returning at once (FLASH_MLA_EXPERIMENT_LAUNCH;
    # outputs unchecked)
    timeout 90 "$0" s43n
    AB_CHECK=0 ab_rounds s44l "serving:S5,S6,S8,S9,S12 sweep:9,13" FLASH_MLA_EXPERIMENT_LAUNCH= FLASH_MLA_EXPERIMENT_LAUNCH=nocombine FLASH_MLA_EXPERIMENT_LAUNCH=empty
    ;;
  s43n)
    # (~1 min) what the split partials' stores cost the var rows against their fixed twins (issue 8: var within 3 %):
    # nostore (-DMLA_EXPERIMENT_NO_O_STORE: every value computed, the global O / partial stores predicated off; built on
    # the workstation into .variants/nostore) against the shipped build, unchecked (its outputs are wrong on purpose)
    AB_CHECK=0 ab_rounds s43n "sweep:8,9,24,25 serving:S5,S6,S7" dist/kernels .variants/nostore
    ;;
  s43)
    # (≤ 9.5 min, one call; session 43: after s42all / s42ab ran on an H100) on an H200 first s42h (the README's run),
    # then on any card s41b's hopvar of sx / lzepmb (built on the workstation: carry .variants/sx, .variants/lzepmb)
    # and s42s (carry .variants/bf16trace for its stamps)
    t0=$(date +%s)
    if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then timeout 330 "$0" s42h; fi
    HOPPER_VARIANTS="sx lzepmb" HOPVAR_SETS="sweep:8,12,14,28 serving:S5,S6,S8,S9,S12" timeout 150 "$0" hopvar
    echo "hopvar done at $(( $(date +%s) - t0 )) s"
    timeout $(( 560 - ($(date +%s) - t0) )) "$0" s42s
    echo "total $(( $(date +%s) - t0 )) s"
    ;;
  s42ab)
    # (~4 min, after s42all, which ran the tests of both) the tight payload off / on (s41c's A/B) and the portable
    # kernels against the session-41 cubins (s42p's A/B; .variants/portold)
    ab_rounds s41c "serving:S8,S9 sweep:29" FLASH_MLA_EXPERIMENT_TIGHT_PAYLOAD=0 FLASH_MLA_EXPERIMENT_TIGHT_PAYLOAD=5
    [ -d .variants/portold ] || { echo "s42ab: carry .variants/portold for the portable A/B"; exit 1; }
    portable_ab
    ;;
  s42h)
    # (~5 min, an H200) the sweep and the serving set on the shipped build (round 1 checked; JSON for docs/runs/ and the
    # README): mb, even and tight have been measured on H100s only
    nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
    timeout 230 node dist/src/cli.js bench --reference h200 --iters 40 --check-samples 1 --json "$out/sweep.json" --svg "$out/sweep.svg" > "$out/sweep.txt" 2>&1
    echo "sweep rc=$?"; tail -n 45 "$out/sweep.txt"
    timeout 100 node dist/src/cli.js bench --configs serving --reference h200 --iters 40 --check-samples 1 --json "$out/serving.json" > "$out/serving.txt" 2>&1
    echo "serving rc=$?"; tail -n 22 "$out/serving.txt"
    ;;
  s42s)
    # (~1.5 min) what makes S6's blocks slower than sweep#12's (1.946 against 1.834 µs per block, s37b; the H100 stamps
    # of s39: its second item's pairs 3.55–3.6 µs against 3.3–3.45 in the first item's second half, the extra in WG0's
    # waits for K slabs). Every busy part holds 64 blocks: S6 (4 m-blocks, 2 items), 32 × 4096 (4 m-blocks, 1 item),
    # 128 × 2048 h64 s2 (2 m-blocks, 2 items), 64 × 4096 h64 s2 (2 m-blocks, 1 item). Item count: the 1-item rows are
    # faster than their 2-item twins by more than one item change (~5.5 µs) if the second item's loop is the loss
    AB_EXTRA= ab_rounds s42s "scripts/s6-anatomy-configs.json sweep:12,14" dist/kernels
    # then, if .variants/bf16trace travelled (workstation: scripts/build-variant.sh bf16trace mla_decode_sm90 sm_90a
    # -DMLA_SM90_SPARSE_TRACE; mkdir -p .variants/bf16trace; cp dist/kv-bf16trace/mla_decode_sm90.sm_90a.cubin
    # .variants/bf16trace/), CTA (0, 0)'s per-iteration stamps: are an item's first iterations after an item change
    # slower than the previous item's last (S6; the var row sweep#9, whose 'loop per block' is 7 % above its fixed twin
    # sweep#8's: vartrace)?
    if [ -d .variants/bf16trace ]; then
      kd=$(kernel_dir .variants/bf16trace)
      for r in S6 9 8; do
        FLASH_MLA_KERNEL_DIR=$kd/ timeout 60 node scripts/trace-sparse.mjs bf16:$r 1.755 > "$out/s42s-trace-$r.txt" 2>&1
        echo "== bf16:$r rc=$?"; grep -aE "item (start|end)|steady|Error" "$out/s42s-trace-$r.txt" | head -12
      done
    fi
    ;;
  s42pbuild)
    # (workstation, ~30 s) .variants/portold: the four portable kernels' sm_90 cubins from f997d28 (session 41), whose
    # .text is the shipped build's before session 42's row-group refactor
    src=$(mktemp -d); git archive f997d28 kernels | tar x -C "$src" && mkdir -p .variants/portold || exit 1
    for f in mla_decode_generic mla_decode_fp8 mla_decode_generic_small mla_decode_generic_layout; do
      nvcc -cubin -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 --use_fast_math -I "$src/kernels" \
        -o .variants/portold/$f.sm_90.cubin "$src/kernels/$f.cu" || exit 1
    done
    rm -rf "$src"; ls -la .variants/portold
    ;;
  s42p)
    # (~5 min) session 42 moved the tile math of the four portable kernels (generic, generic-small, the layout kernel,
    # the FP8 kernel) onto mla_generic_rowgroup.cuh: same registers, no spills, the emulator's 'proven-kernels',
    # 'layouts-*' and new 'portable-fp8' scenarios pass, but the machine code changed. Their GPU tests, then their
    # bench rows against the session-41 cubins (.variants/portold: built on the workstation from f997d28's sources,
    # .text identical to the shipped ones; carry it)
    [ -d .variants/portold ] || { echo "s42p: carry .variants/portold"; exit 1; }
    portable_tests s42p 150
    fp8_tests s42pfp8 "generic|portable" 150
    s=$(date +%s); gpu timeout 90 node --test dist/test/portable-gpu.test.js > "$out/s42p-ptx.log" 2>&1
    echo "portable PTX (JIT) tests rc=$? ($(( $(date +%s) - s )) s)"; summary "$out/s42p-ptx.log" | tail -4
    [ -n "${S42P_TESTS_ONLY:-}" ] && exit 0  # (the A/B below: ~2 min)
    portable_ab
    ;;
  s41a)
    # (~2 min, after s41c, which runs the decode test and the sanitizers on this build) the FP8 / sparse GPU tests: the
    # sparse entries' mask_and_row_max<true> comes from the function mb restructured
    gpu timeout 200 node --test dist/test/fp8-sparse-gpu.test.js > "$out/s41a-fp8-sparse.log" 2>&1
    echo "FP8 / sparse GPU tests rc=$?"; summary "$out/s41a-fp8-sparse.log" | tail -4
    ;;
  s41b)
    # (~4 min) on the merged build: sx (store_p's offsets by XOR) and lzepmb (-DMLA_EXPERIMENT_BF16_EARLY_P0=1: session
    # 38's `ep` on top of lz and mb, the 16-bit compute-bound entries on the FP8 seesaw), both built here, through hopvar
    # without sweep#30 (bimodal)
    for v in "sx -DMLA_EXPERIMENT_STORE_P_XOR=1" "lzepmb -DMLA_EXPERIMENT_BF16_EARLY_P0=1"; do
      set -- $v; mkdir -p .variants/$1
      nvcc -cubin -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a --use_fast_math -I kernels "${@:2}" \
        -o .variants/$1/mla_decode_sm90.sm_90a.cubin kernels/mla_decode_sm90.cu || exit 1
    done
    HOPPER_VARIANTS="sx lzepmb" HOPVAR_SETS="sweep:8,12,14,28 serving:S5,S6,S8,S9,S12" "$0" hopvar
    ;;
  s40m)
    # (~5 min) mb (-DMLA_EXPERIMENT_MASK_BRANCH=1, built here: the blocks no row's end reaches skip the mask's predicated
    # ISETP / FSEL / LOP3, ~80 instructions per block and warp that lz1's SASS executes on every block) against the
    # default: SASS, the decode GPU test, two rounds of the 16-bit rows, then the dense FP8 and sparse rows
    # pd (-DMLA_EXPERIMENT_PV_DESC=1: one descriptor per P·V operand, the steps by adding; 72 instructions fewer per
    # entry) and mbpd (both) beside it
    for v in "mb -DMLA_EXPERIMENT_MASK_BRANCH=1" "pd -DMLA_EXPERIMENT_PV_DESC=1" "mbpd -DMLA_EXPERIMENT_MASK_BRANCH=1 -DMLA_EXPERIMENT_PV_DESC=1"; do
      set -- $v; mkdir -p .variants/$1
      nvcc -cubin -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a --use_fast_math -I kernels "${@:2}" \
        -o .variants/$1/mla_decode_sm90.sm_90a.cubin kernels/mla_decode_sm90.cu || exit 1
    done
    HOPPER_VARIANTS="mb pd mbpd" HOPVAR_SETS="sweep:8,12,14,24,28 serving:S5,S6,S8,S9,S12" "$0" hopvar
    AB_EXTRA="--kv fp8" ab_rounds s40mfp8 "sweep:8,12 sparse:9,11" dist/kernels .variants/mbpd
    ;;
  s40x)
    # (~3 min, after s40m) sx (-DMLA_EXPERIMENT_STORE_P_XOR=1: store_p's four swizzled offsets from one by XOR; its
    # entries grow by 208 instructions: ptxas allocates the loop differently) through hopvar
    mkdir -p .variants/sx
    nvcc -cubin -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a --use_fast_math -I kernels -DMLA_EXPERIMENT_STORE_P_XOR=1 \
      -o .variants/sx/mla_decode_sm90.sm_90a.cubin kernels/mla_decode_sm90.cu || exit 1
    HOPPER_VARIANTS=sx HOPVAR_SETS="sweep:12,14,28 serving:S6,S8,S9" "$0" hopvar
    ;;
  s40s)
    # (~2 min) the shipped build with the threshold row max (lz): memcheck and racecheck on 10 sanitize-sized 'hopper'
    # property cases
    sanitize_hopper_property s40s 404040
    ;;
  s37s)
    # (~2 min) the shipped build with k1am merged (cubin byte-identical to s36d's .variants/k1am, whose decode GPU test
    # passed): memcheck and racecheck on 10 sanitize-sized 'hopper' property cases
    sanitize_hopper_property s37s 373737
    ;;
  s37a)
    # (~3 min) 'hopper' (64-row m-blocks, half of them padding here) against 'hopper-small' (the default for ≤ 32 rows
    # since session 8) on the 32-row sweep rows and S7, two rounds
    for r in 1 2; do
      for set in sweep:2,3,4,5,18,19,20,21 serving:S7; do
        timeout 150 node dist/src/cli.js bench --configs $set --kernel hopper-small,hopper --reference h200 --iters 40 --check-samples $(( r == 1 ? 1 : 0 )) --json "$out/r32h-${set%%:*}-$r.json" > "$out/r32h-${set%%:*}-$r.txt" 2>&1
        echo "== round $r $set rc=$?"; grep -aE "^(sweep#|S7)" "$out/r32h-${set%%:*}-$r.txt" | cut -c1-130
      done
    done
    ;;
  s36c)
    # (~5 min) the shipped build with k0a merged (cubin byte-identical to s36b's .variants/k0a, whose decode GPU test
    # passed): memcheck and racecheck on 10 sanitize-sized 'hopper' property cases, then the sweep and the serving set
    sanitize_hopper_property s36c 363636
    timeout 200 node dist/src/cli.js bench --reference h200 --iters 40 --check-samples 1 --json "$out/sweep.json" > "$out/sweep.txt" 2>&1
    echo "sweep rc=$?"; grep -aE "^sweep#|geomean|correctness" "$out/sweep.txt" | cut -c1-150
    timeout 100 node dist/src/cli.js bench --configs serving --reference h200 --iters 40 --check-samples 1 --json "$out/serving.json" > "$out/serving.txt" 2>&1
    echo "serving rc=$?"; grep -aE "^S[0-9]|geomean|correctness" "$out/serving.txt" | cut -c1-150
    ;;
  s36b)
    # (~8 min) the same sources under ptxas --register-usage-level 0 (.variants/rul0: mla_decode_sm90 only; hopper-small
    # spills 4 B there) and 10 (.variants/rul10: mla_decode_sm90 and mla_decode_sm90_small; 6–10 give one code, 0–3
    # another, 4–5 the default's): nvcc … -Xptxas --register-usage-level=N, 0 spills. Pack: tar czf
    # .variants/pack/rul.tgz .variants/rul0 .variants/rul10 .variants/k0a. Most needed first: the A/B, then s36a's FP8 against bf16
    # (fewer rows), then the decode GPU test under rul10
    for v in rul0 rul10; do
      cuobjdump -sass -fun mla_decode_sm90_bf16 .variants/$v/mla_decode_sm90.sm_90a.cubin > "$out/$v-sass.txt" 2>&1
      echo "$v bf16 SASS: $(grep -cE '^ +/\*[0-9a-f]{4}\*/' "$out/$v-sass.txt") instructions, $(grep -c HGMMA "$out/$v-sass.txt") HGMMA, local memory ops: $(grep -cE 'STL|LDL' "$out/$v-sass.txt")"
    done
    # (k0a: -DMLA_EXPERIMENT_K0A_EARLY=1 at session 36, warpgroup 0 refilling K0.A right after its P·V0L; the default since)
    ab_rounds rul "sweep:8,12,14,28,30 serving:S5,S6,S8,S9" dist/kernels .variants/rul0 .variants/rul10 .variants/k0a
    AB_EXTRA="--kv fp8" ab_rounds rulf "sweep:8,30" dist/kernels .variants/rul0 .variants/rul10
    fp8_vs_bf16 sweep:8,12,24,28,30
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/rul10)/ gpu timeout 150 node --test dist/test/gpu-decode.test.js > "$out/rul10-gpu-decode.log" 2>&1
    echo "decode GPU test (rul10) rc=$?"; summary "$out/rul10-gpu-decode.log" | tail -4
    ;;
  s36a)
    # (~4 min) the shipped build with MLA_SM90_FP8_POW2_DEQUANT and MLA_SM90_FP8_MATH_RAW on (session 36; its cubin
    # byte-identical to s34b's mrp, whose tests and sanitizers passed): its Hopper FP8 GPU tests once more as shipped,
    # then FP8 against bf16 on the rows 'hopper' takes (JSON for docs/runs/)
    fp8_tests s36 "Hopper FP8 kernel" 120
    fp8_vs_bf16 sweep:6,8,10,12,14,22,24,26,28,30
    ;;
  s34b)
    # (~7 min) session 34's dense FP8 producer experiments, built and emulated: pwh (-DMLA_SM90_FP8_POW2_DEQUANT=1: e4m3 →
    # bf16 without the conversion unit for power-of-two scales, chosen per thread and step), mr (-DMLA_SM90_FP8_MATH_RAW=1:
    # blocks j ≥ 2's raw bytes requested by warpgroup 0 at its release of group A of block j − 2), mrp (both); pwo2 (pwh
    # plus -DMLA_EXPERIMENT_POW2_ONLY=1, the fast path whatever the scale: a bound). mrp's and pwh's Hopper FP8 GPU tests
    # (K-spread cases against the oracle, out's absolute tolerance scaled by V's magnitude), two rounds against the
    # shipped build, then the per-block trace of CTA (0, 0) of the dense FP8 entry (fp8trace: -DMLA_SM90_SPARSE_TRACE;
    # pwtrace, mrtrace: with pwh's / mr's switch) on sweep#8 and #24 --kv fp8.
    # Pack: tar czf .variants/pack/pv.tgz .variants/{pwh,pwo2,pws,mr,mrp,fp8trace,pwtrace,mrtrace}
    # first: is the power-of-two conversion bit for bit the cvt path on the GPU (every code × 2^-117 … 2^7)?
    nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -I kernels -o /tmp/pow2 scripts/pow2-dequant-probe.cu && timeout 30 /tmp/pow2 | tail -10
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/mrp)/ fp8_tests mrp "Hopper FP8 kernel" 120
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/pwh)/ fp8_tests pwh "Hopper FP8 kernel" 120
    AB_EXTRA="--kv fp8" ab_rounds s34b "sweep:8,24,30" dist/kernels .variants/pwh .variants/pwo2 .variants/mr .variants/mrp
    for v in fp8trace pwtrace mrtrace; do
      kd=$(kernel_dir .variants/$v)
      for r in 8 24; do
        FLASH_MLA_KERNEL_DIR=$kd/ timeout 60 node scripts/trace-sparse.mjs dense:$r 1.75 > "$out/$v-$r.txt" 2>&1
        echo "trace $v sweep#$r rc=$?"; tail -5 "$out/$v-$r.txt"
      done
    done
    ;;
  s34c)
    # (~5 min; SANITIZE_VARIANT=mrp to take that one if s34b kept it) pwh under memcheck and racecheck; pws (pwh plus the same in the paired sparse producer,
    # -DMLA_EXPERIMENT_POW2_SPARSE=1): its sparse tests, two rounds of sparse#9/#11; a probe: dense work at 64 / 128
    # rows as sparse decodes (the sparse entries' gather, the pair's halved dequantisation at 128) against the dense
    # FP8 entry, shipped build, two rounds
    sv=${SANITIZE_VARIANT:-pwh}
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/$sv)/ sanitize_fp8_tests $sv "Hopper FP8 kernel" 120
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/pws)/ fp8_tests pws "Hopper sparse|paired entry" 120
    ab_rounds s34bs "sparse:9,11" dist/kernels .variants/pws
    for r in 1 2; do
      timeout 90 node dist/src/cli.js bench --configs scripts/dense-as-sparse-64.json --iters 30 --check-samples 0 --reference none > "$out/das64-sparse-$r.txt" 2>&1
      timeout 90 node dist/src/cli.js bench --configs sweep:24,28 --kv fp8 --iters 30 --check-samples 0 --reference none > "$out/das64-fp8-$r.txt" 2>&1
      grep -ahE "^(file|sweep)#" "$out/das64-sparse-$r.txt" "$out/das64-fp8-$r.txt" | cut -c1-100
    done
    ;;
  s34)
    # session 34 in one call, most needed first: s33v (the shipped dense FP8 build's Hopper FP8 GPU tests and sanitizers),
    # then the power-of-two dequantisation (pw: -DMLA_SM90_FP8_POW2_DEQUANT=1; pwo: its fast path only, a timing bound)
    # under the Hopper FP8 / sparse GPU tests and timed on the rows its producers serve, its SASS mix, then FP8 against
    # bf16 on the rows 'hopper' takes
    fp8_tests fv "Hopper FP8 kernel" 90
    sanitize_fp8_tests fv "Hopper FP8 kernel" 90
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/pw)/ fp8_tests pw "Hopper FP8 kernel|Hopper sparse|paired entry" 150
    for v in dist/kernels .variants/pw; do
      cuobjdump -sass -fun mla_decode_sm90_fp8_bf16 "$v/mla_decode_sm90.sm_90a.cubin" | grep -oE '^ +/\*[0-9a-f]{4}\*/ +(@!?U?P[0-9T] )?[A-Z0-9_]+' | awk '{print $NF}' | sort | uniq -c | sort -rn | head -16 | tr '\n' ' ' > "$out/sass-$(basename "$v").txt"
      echo "SASS mix $(basename "$v"): $(cat "$out/sass-$(basename "$v").txt")"
    done
    AB_EXTRA="--kv fp8" ab_rounds s34 "sweep:8,24" dist/kernels .variants/pw .variants/pwo
    ab_rounds s34sp "sparse:9,11" dist/kernels .variants/pw
    fp8_vs_bf16 sweep:6,8,10,12,14,22,24,26,28,30
    ;;
  s33v)
    # session 33's merged dense FP8 entry (seesaw + early raw TMA), in little device time: its Hopper FP8 GPU tests,
    # memcheck and racecheck on them, FP8 against bf16 on the rows 'hopper' takes (33–128 rows; JSON for docs/runs/)
    fp8_tests fv "Hopper FP8 kernel" 90
    sanitize_fp8_tests fv "Hopper FP8 kernel" 90
    fp8_vs_bf16 sweep:6,8,10,12,14,22,24,26,28,30
    ;;
  s33)
    # (its variants' switches are gone: build them with SRC_REV=7991057 scripts/build-variant.sh NAME mla_decode_sm90
    # sm_90a -DSWITCH — er: MLA_EXPERIMENT_FP8_EARLY_RAW=1, pf1: MLA_EXPERIMENT_FP8_PF_NEXT=1, sbd / sbs:
    # MLA_EXPERIMENT_S_B_FIRST=1 / 2, nodq: MLA_EXPERIMENT_FP8_NO_DEQUANT — and copy each cubin into .variants/NAME)
    # session 33 in one call, most needed first: the merged dense FP8 seesaw's GPU tests and sanitizers, then the dense
    # producer experiments (er, pf1, sbd; nodq as the timing bound), FP8 against bf16 for the README, WG0's S B-first on
    # the sparse rows (sbs)
    fp8_tests fs "Hopper FP8 kernel|Hopper sparse|paired entry" 150
    sanitize_fp8_tests fs "Hopper FP8 kernel" 150
    AB_EXTRA="--kv fp8" ab_rounds s33 "sweep:8,24" dist/kernels .variants/er .variants/pf1 .variants/sbd
    AB_CHECK=0 AB_EXTRA="--kv fp8" ab_rounds fp8bound "sweep:8" dist/kernels .variants/nodq
    fp8_vs_bf16 sweep:6,8,22,24,30
    ab_rounds spsb "sparse:9,11" dist/kernels .variants/sbs
    ;;
  fp8seesaw)
    # session 33's dense FP8 seesaw as merged (the sparse entries' early P0, P0·V0R before S of block j+1): the Hopper
    # FP8 and sparse GPU tests, memcheck and racecheck on the dense ones, then FP8 against bf16 on the rows 'hopper'
    # takes (JSON for docs/runs/)
    fp8_tests fs "Hopper FP8 kernel|Hopper sparse|paired entry" 200
    sanitize_fp8_tests fs "Hopper FP8 kernel" 240
    fp8_vs_bf16 sweep:6,8,10,12,14,22,24,26,28,30
    ;;
  pv0)
    # (its variants' switches are gone: SRC_REV=023420d scripts/build-variant.sh … with the -D flags below)
    # session 33: warpgroup 1's P0·V0R and K0.B release before S of block j+1 (.variants/pv1: -DMLA_SM90_SPARSE_PV0_FIRST=1;
    # pv1l: + the sparse producers' L2 prefetch of the next block, -DMLA_SM90_SPARSE_PREFETCH_NEXT=1) — pv1's Hopper
    # sparse GPU tests, two rounds of the sparse rows on 'hopper'; dense FP8 with the sparse seesaw (fp8e0:
    # -DMLA_SM90_FP8_EARLY_P0=1; fp8e: + PV0 first) on the 33–64-row and h_q 128 rows; the per-block trace of sparse#11
    # as shipped and with PV0 first (.variants/sptrace0, sptrace1: -DMLA_SM90_SPARSE_TRACE)
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/pv1)/ fp8_tests pv1 "Hopper sparse|paired entry" 150
    ab_rounds pv0 "sparse:4,5,6,7,8,9,10,11" dist/kernels .variants/pv1 .variants/pv1l
    AB_EXTRA="--kv fp8" ab_rounds pv0d "sweep:6,8,22,24,30" dist/kernels .variants/fp8e0 .variants/fp8e
    for n in sptrace0 sptrace1; do
      FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/$n)/ timeout 60 node scripts/trace-sparse.mjs 11 1.75 > "$out/$n-11.txt" 2>&1
      echo "trace $n sparse#11 rc=$?"; tail -12 "$out/$n-11.txt"
    done
    ;;
  pv2)
    # (its variants' switches are gone: SRC_REV=023420d scripts/build-variant.sh … with the -D flags below)
    # session 33, second run: warpgroup 1's S of block j+1 queued right behind its P0·V0R, K0.B released between
    # (-DMLA_SM90_SPARSE_PV0_FIRST=2: .variants/pv2; pv2l: + the next block's L2 prefetch) on the 'hopper' sparse rows;
    # dense FP8 with the sparse seesaw: fp8e0 (EARLY_P0), fp8e (+ PV0_FIRST=1), fp8e2 (+ PV0_FIRST=2)
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/pv2)/ fp8_tests pv2 "Hopper sparse|paired entry" 150
    ab_rounds pv2 "sparse:8,9,10,11" dist/kernels .variants/pv2 .variants/pv2l
    AB_EXTRA="--kv fp8" ab_rounds pv2d "sweep:6,8,22,24,30" .variants/fp8e0 .variants/fp8e .variants/fp8e2
    ;;
  spab)
    # a 'hopper' sparse variant (.variants/NAME, SPAB_VARIANT=NAME: scripts/build-variant.sh NAME mla_decode_sm90 sm_90a)
    # against the shipped build: its Hopper sparse GPU tests and memcheck on them, then two rounds of the sparse rows
    # the 'hopper' kernel takes (h_q 32 and 128)
    v=.variants/${SPAB_VARIANT:?SPAB_VARIANT: the .variants/NAME folder to time}
    FLASH_MLA_KERNEL_DIR=$(kernel_dir $v)/ fp8_tests spab "Hopper sparse" 150
    FLASH_MLA_KERNEL_DIR=$(kernel_dir $v)/ FLASH_MLA_REQUIRE_GPU=1 timeout 120 compute-sanitizer --tool memcheck --print-limit 6 node --test --test-name-pattern="Hopper sparse" dist/test/fp8-sparse-gpu.test.js > "$out/spab-memcheck.log" 2>&1
    echo "memcheck rc=$?: $(grep -aE 'ERROR SUMMARY' "$out/spab-memcheck.log" | tail -1)"
    ab_rounds spab "sparse:4,5,6,7,8,9,10,11" dist/kernels $v
    ;;
  sparsefinal)
    # the default kernels after a sparse change is merged: the Hopper sparse GPU tests, memcheck and racecheck on them,
    # then the whole sparse set (JSON for docs/runs/)
    fp8_tests sf "Hopper sparse" 150
    sanitize_fp8_tests sf "Hopper sparse" 200
    sparse_set
    ;;
  pair)
    # the paired sparse entry (mla_decode_sm90_fp8_sparse_pair_bf16: 2-CTA clusters, ceil(h_q / 64) even): the Hopper
    # sparse GPU tests (the pair where h_q allows; one test compares it bit for bit with the single-CTA entry),
    # memcheck and racecheck on them, then two rounds of the sparse rows with the pair off and on
    fp8_tests pair "Hopper sparse|paired entry" 150
    sanitize_fp8_tests pair "Hopper sparse|paired entry" 200
    ab_rounds pair "sparse:4,5,6,7,8,9,10,11" FLASH_MLA_EXPERIMENT_SPARSE_PAIR=0 FLASH_MLA_EXPERIMENT_SPARSE_PAIR=1
    ;;
  pair2)
    # the paired sparse entry as built (session 22: the P0-free barrier; an even block's producer issues the next
    # block's raw rows) — its Hopper sparse GPU tests, memcheck, racecheck, then two rounds of the sparse rows
    # against .variants/v5 (session 21's merged form: SRC_REV=5694577 scripts/build-variant.sh v5 mla_decode_sm90 sm_90a),
    # then the per-block trace of the new form (.variants/sptrace)
    fp8_tests pair2 "Hopper sparse|paired entry" 150
    sanitize_fp8_tests pair2 "Hopper sparse|paired entry" 200
    ab_rounds pair2 "sparse:4,5,6,7,8,9,10,11" dist/kernels ${PAIR2_VARIANTS:-.variants/v5}
    kd=$(kernel_dir .variants/sptrace)
    for r in 11 9; do
      FLASH_MLA_KERNEL_DIR=$kd/ timeout 60 node scripts/trace-sparse.mjs $r 1.75 > "$out/sptrace-$r.txt" 2>&1
      echo "trace sparse#$r rc=$?"; tail -4 "$out/sptrace-$r.txt"
    done
    ;;
  spab2)
    # several 'hopper' sparse variants (SPAB_VARIANTS="A B …", each .variants/NAME) against the shipped build: per variant
    # its Hopper sparse GPU tests, then memcheck and racecheck on them for the first one (the candidate), then two rounds
    # of the sparse rows the 'hopper' kernel takes (h_q 32 and 128); for dense FP8 rows beside them use fdab
    first=1
    for n in ${SPAB_VARIANTS:?SPAB_VARIANTS: the .variants/NAME folders to time}; do
      FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/$n)/ fp8_tests spab2-$n "Hopper sparse" 150
      if [ $first = 1 ]; then
        FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/$n)/ sanitize_fp8_tests spab2-$n "Hopper sparse" 200
        first=0
      fi
    done
    vs=(); for n in $SPAB_VARIANTS; do vs+=(.variants/$n); done
    ab_rounds spab2 "sparse:4,5,6,7,8,9,10,11" dist/kernels "${vs[@]}"
    ;;
  mdcap)
    # metadata kernel variants against the shipped one: MD_VARIANTS names .variants/NAME folders (the cubin, from
    # SRC_REV=BRANCH scripts/build-variant.sh NAME mla_metadata sm_90); a variant whose host code differs also brings
    # its branch's compiled JS as .variants/NAME-js (git worktree add /tmp/wt BRANCH; ln -s $PWD/node_modules
    # /tmp/wt/; (cd /tmp/wt && npx tsc -p tsconfig.json); cp -r /tmp/wt/dist .variants/NAME-js) and runs its CLI.
    # Per variant its GPU golden test, then two rounds of `+md ms` on the serving set and the var sweep rows.
    for v in ${MD_VARIANTS:-mdcap}; do
      kd=$(kernel_dir .variants/$v); js=dist; [ -d .variants/$v-js ] && js=.variants/$v-js
      FLASH_MLA_KERNEL_DIR=$kd/ FLASH_MLA_REQUIRE_GPU=1 timeout 120 node --test --test-name-pattern="metadata" $js/test/gpu-decode.test.js > "$out/$v-golden.log" 2>&1
      echo "metadata golden test ($v, $js) rc=$?"; summary "$out/$v-golden.log"
    done
    for round in 1 2; do
      for v in shipped ${MD_VARIANTS:-mdcap}; do
        kd=$PWD/dist/kernels; js=dist
        [ $v != shipped ] && { kd=$(kernel_dir .variants/$v); [ -d .variants/$v-js ] && js=.variants/$v-js; }
        for set in serving sweep:1,3,9,17,19,25,0,16; do
          f="$out/md-$v-${set%%:*}-$round.txt"
          FLASH_MLA_KERNEL_DIR=$kd/ timeout 100 node $js/src/cli.js bench --configs $set --iters 30 --check-samples 0 --reference none > "$f" 2>&1
          echo "== $round $v $set rc=$? (config ms +md)"; grep -aE "^(sweep#|S[0-9])" "$f" | awk '{print $1, $8, $9}' | tr '\n' ';'; echo
        done
      done
    done
    ;;
  rega)
    # hopper-small's dense FP8 entry on the register-A datapath (dist, session 23) against the f16 datapath it replaces
    # (.variants/f16dp: SRC_REV=221bdfc scripts/build-variant.sh f16dp mla_decode_sm90_small sm_90a -DMLA_SM90S_FP8_REGA=0 —
    # the f16 copy of K was deleted in session 32, so it builds from the last commit that has it): the FP8 GPU
    # tests naming hopper-small, memcheck and racecheck on them, the 16-row configs in bf16 (the reference for `vs ref`),
    # then two rounds of them over the FP8 cache with both builds (REGA_VARIANTS: other .variants/NAME folders instead)
    fp8_tests rega "hopper-small" 150
    sanitize_fp8_tests rega "hopper-small" 200
    sets="sweep:0,1,16,17,2,18 serving:S2,S4,S10,S11"
    for set in $sets; do
      timeout 100 node dist/src/cli.js bench --configs $set --iters 40 --check-samples 0 --reference h200 --json "$out/bf16-${set%%:*}.json" > "$out/bf16-${set%%:*}.txt" 2>&1
      echo "== bf16 $set rc=$?"; grep -aE "^(sweep#|S[0-9])" "$out/bf16-${set%%:*}.txt" | cut -c1-80
    done
    for round in 1 2; do
      for v in dist/kernels ${REGA_VARIANTS:-.variants/f16dp}; do
        for set in $sets; do
          f="$out/rega-$(basename $v)-${set%%:*}-$round.txt"
          FLASH_MLA_KERNEL_DIR=$(kernel_dir $v)/ timeout 100 node dist/src/cli.js bench --configs $set --kv fp8 --iters 40 --check-samples $((round == 1 ? 1 : 0)) --reference "$out/bf16-${set%%:*}.json" > "$f" 2>&1
          echo "== $round $(basename $v) $set rc=$?"; grep -aE "^(sweep#|S[0-9])" "$f" | cut -c1-150
        done
      done
    done
    ;;
  fp8ab)
    # a hopper-small FP8 variant (scripts/build-variant.sh NAME mla_decode_sm90_small sm_90a FLAGS, cubin copied into
    # .variants/NAME): its FP8 GPU tests under the variant, then two rounds of the 16-row FP8 rows (sweep 0, 1, 16, 17
    # and serving S2, S4, S10, S11 over the FP8 cache) against the shipped build
    fv=.variants/${FP8_VARIANT:?FP8_VARIANT: the .variants/NAME folder to time}
    kd=$(kernel_dir $fv)
    FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests fp8ab "hopper-small" 150
    for round in 1 2; do
      for v in dist/kernels $fv; do
        for set in sweep:0,1,16,17 serving:S2,S4,S10,S11; do
          f="$out/fp8ab-$(basename $v)-${set%%:*}-$round.txt"
          FLASH_MLA_KERNEL_DIR=$(kernel_dir $v)/ timeout 100 node dist/src/cli.js bench --configs $set --kv fp8 --iters 40 --check-samples $((round == 1 ? 1 : 0)) --reference h200 > "$f" 2>&1
          echo "== $round $(basename $v) $set rc=$?"; grep -aE "^(sweep#|S[0-9])" "$f" | cut -c1-80
        done
      done
    done
    ;;
  stagger)
    # the staggered first loads as merged (hopper-small's 16-bit entries; 'hopper''s memory-bound entries for ≤ 64 rows):
    # memcheck and racecheck on the small set (b 4, 512 tokens) through both kernels (h_q 16: hopper-small, and the
    # memory-bound entry of hopper), then the release run without the FP8/sparse parts
    for tool in memcheck racecheck; do
      s=$(date +%s); timeout 150 compute-sanitizer --tool $tool --print-limit 6 node dist/src/cli.js bench --configs small --kernel hopper,hopper-small --iters 1 --warmup 0 --check-samples 1 > "$out/stagger-$tool.log" 2>&1
      echo "$tool rc=$? ($(( $(date +%s) - s )) s): $(grep -aE 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/stagger-$tool.log" | tail -1)"; grep -aE "^(tiny|small)#" "$out/stagger-$tool.log" | cut -c1-100 | head -4
    done
    REL_QUICK=1 REL_CASES=${REL_CASES:-40} REL_TEST_S=${REL_TEST_S:-200} "$0" release
    ;;
  vartrace)
    # where the variable-length 'hopper' rows lose against their fixed twins: the per-item phase sums (.variants/trace1)
    # and the parts' timeline (.variants/trace4) on sweep rows 6–9, then the scheduler's split cost 5 / 3 / 2
    # (FLASH_MLA_EXPERIMENT_SPLIT_OVERHEAD) in two rounds on the var rows, their fixed twins and the split-heavy serving shapes
    for t in "trace1 -" "trace4 timeline"; do
      read -r v mode <<< "$t"
      FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/$v)/ TRACE_ROWS=${VARTRACE_ROWS:-6,7,8,9} timeout 90 node scripts/trace-sm90.mjs sweep 1.75 $([ "$mode" = - ] || echo $mode) > "$out/vartrace-$v.txt" 2>&1
      echo "== $v rc=$?"; cat "$out/vartrace-$v.txt" | cut -c1-200
    done
    ab_rounds vsched "${VSCHED_SETS:-sweep:1,3,5,7,9,11,13,0,2,8 serving:S3,S4,S7,S9,S12}" FLASH_MLA_EXPERIMENT_SPLIT_OVERHEAD= FLASH_MLA_EXPERIMENT_SPLIT_OVERHEAD=3 FLASH_MLA_EXPERIMENT_SPLIT_OVERHEAD=2
    ;;
  varcomb)
    # the combine's W,C (FLASH_MLA_COMBINE) on the var 'hopper' rows (session 15 also timed hopper-small's fold against
    # the combine kernel here, with a host switch since removed: perf log `varcomb`)
    ab_rounds varwc "${VARWC_SETS:-sweep:7,9,11,13 serving:S9}" FLASH_MLA_COMBINE= FLASH_MLA_COMBINE=1,2 FLASH_MLA_COMBINE=2,1
    ;;
  whole)
    # the scheduler keeping equal-length batches whole (FLASH_MLA_EXPERIMENT_WHOLE_SLACK=3: ceil(b / parts) requests per
    # part when that payload is within 3 split costs of the split schedule's; changes sweep#14, #26, #28, #30): the
    # decode GPU test under it (device metadata = cpu schedule), then two rounds against the default on the fixed
    # compute-bound rows it changes and some it leaves alone
    FLASH_MLA_EXPERIMENT_WHOLE_SLACK=3 gpu timeout 150 node --test dist/test/gpu-decode.test.js > "$out/whole-gpu-decode.log" 2>&1
    echo "decode GPU test (whole slack 3) rc=$?"; summary "$out/whole-gpu-decode.log" | tail -4
    ab_rounds whole "${WHOLE_SETS:-sweep:14,26,28,30,10,12 serving:S5,S6}" FLASH_MLA_EXPERIMENT_WHOLE_SLACK= FLASH_MLA_EXPERIMENT_WHOLE_SLACK=3
    ;;
  mdmode)
    # sweep#30's slow mode behind the metadata kernel (perf log, session 16: +md 33–146 µs above ms with PDL, 20–27
    # without): the part clock and span (.variants/trace4) and the parts' SMs (.variants/trace5), decode alone against
    # metadata + decode (TRACE_WITH_MD=1), three rounds each; then the same with FLASH_MLA_NO_PDL=1 once
    for round in 1 2 3; do
      for md in 0 1; do
        FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/trace4)/ TRACE_WITH_MD=$md TRACE_ROWS=30 timeout 90 node scripts/trace-sm90.mjs sweep 1.75 timeline > "$out/mdmode-t4-$md-$round.txt" 2>&1
        echo "== timeline md=$md round $round rc=$?"; grep -aE "^sweep#" "$out/mdmode-t4-$md-$round.txt"
      done
    done
    for md in 0 1; do
      FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/trace5)/ TRACE_WITH_MD=$md TRACE_ROWS=30 timeout 90 node scripts/trace-sm90.mjs sweep 1.75 smid > "$out/mdmode-t5-$md.txt" 2>&1
      echo "== smid md=$md rc=$?"; grep -aE "^sweep#|slowest|fastest" "$out/mdmode-t5-$md.txt" | cut -c1-400
      FLASH_MLA_NO_PDL=1 FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/trace4)/ TRACE_WITH_MD=$md TRACE_ROWS=30 timeout 90 node scripts/trace-sm90.mjs sweep 1.75 timeline > "$out/mdmode-nopdl-$md.txt" 2>&1
      echo "== timeline, no PDL, md=$md rc=$?"; grep -aE "^sweep#" "$out/mdmode-nopdl-$md.txt"
    done
    ;;
  spread)
    # which SMs the slow parts of an equally loaded memory-bound row ran on (.variants/trace5: -DMLA_SM90_TRACE=5, each
    # part's duration by %smid), twice per set to see whether the slow SMs are the same ones; then sweep#30's two modes
    # (0.90 / 0.93 ms from run to run): the timeline (.variants/trace4: SM clock, spread) three times
    for round in 1 2; do
      for set in "sweep 8,24" "serving -"; do
        read -r name rows <<< "$set"
        FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/trace5)/ TRACE_ROWS=$rows timeout 90 node scripts/trace-sm90.mjs $name 1.75 smid > "$out/spread-$name-$round.txt" 2>&1
        echo "== smid $name round $round rc=$?"; grep -aE "^(sweep#|S5 |S6 |S1 )|slowest|fastest" "$out/spread-$name-$round.txt" | cut -c1-400
      done
    done
    for round in 1 2 3; do
      FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/trace4)/ TRACE_ROWS=30,28 timeout 90 node scripts/trace-sm90.mjs sweep 1.75 timeline > "$out/modes-$round.txt" 2>&1
      echo "== timeline sweep#30/#28 round $round rc=$?"; grep -aE "^sweep#" "$out/modes-$round.txt"
    done
    ;;
  intercept)
    # where the memory-bound 'hopper' rows' fixed cost goes (session 14: sweep#8 = 0.1677 ms against 64 blocks x 2.22 µs
    # = 142 µs of steady stream; FA3's 4096/8192 pair puts its fixed cost at ~7 µs): the phase, epilogue, first-start
    # and timeline traces (.variants/trace1-4) on sweep rows 6, 8, 22, 24, 12 and S5/S6, then the call's floor and the
    # combine's share (FLASH_MLA_EXPERIMENT_LAUNCH) on the same rows
    for m in ${TRACE_MODES:-4 3 1 2}; do
      for set in sweep serving; do
        FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/trace$m)/ TRACE_ROWS=${TRACE_ROWS:-6,8,22,24,12} timeout 90 node scripts/trace-sm90.mjs $set 1.75 $([ $m = 2 ] && echo epi; [ $m = 3 ] && echo first; [ $m = 4 ] && echo timeline) > "$out/trace$m-$set.txt" 2>&1
        echo "== trace mode $m $set rc=$?"; grep -aE "^(config|sweep|S5|S6|S1 )" "$out/trace$m-$set.txt"
      done
    done
    AB_CHECK=0 ab_rounds launch "sweep:6,8,22,24 serving:S5,S6" FLASH_MLA_EXPERIMENT_LAUNCH= FLASH_MLA_EXPERIMENT_LAUNCH=nocombine FLASH_MLA_EXPERIMENT_LAUNCH=empty
    ;;
  fdab)
    # FP8 dequantisation variants of the 'hopper' kernel (FD_VARIANTS: .variants/NAME folders, scripts/build-variant.sh
    # NAME mla_decode_sm90 sm_90a -DSWITCH; session 18 ran MLA_FP8_FAST_DEQUANT, in git history at 32a2f01): each one's Hopper FP8/sparse GPU tests (bit for bit against
    # bf16 'hopper' over the dequantised cache where they compare so), memcheck on the first one's Hopper sparse cases,
    # then two rounds of the sparse rows 'hopper' takes and of dense FP8 rows it takes (--kv fp8)
    vs=""
    # (FD_TEST_FIRST=1: the GPU tests for the first variant only; the others' outputs are checked by round 1's bench)
    for v in ${FD_VARIANTS:?FD_VARIANTS: .variants folders}; do
      [ "${FD_TEST_FIRST:-0}" = 1 ] && [ -n "$vs" ] || FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/$v)/ fp8_tests fd-$v "Hopper" 200
      vs="$vs .variants/$v"
    done
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/${FD_VARIANTS%% *})/ FLASH_MLA_REQUIRE_GPU=1 timeout 120 compute-sanitizer --tool memcheck --print-limit 6 node --test --test-name-pattern="Hopper sparse" dist/test/fp8-sparse-gpu.test.js > "$out/fdab-memcheck.log" 2>&1
    echo "memcheck rc=$?: $(grep -aE 'ERROR SUMMARY' "$out/fdab-memcheck.log" | tail -1)"
    ab_rounds fdab "sparse:4,5,6,7,8,9,10,11" dist/kernels $vs
    AB_EXTRA="--kv fp8" ab_rounds fdab-kv "sweep:8,24,30" dist/kernels $vs
    ;;
  bound)
    # timing-bound variants of the 'hopper' FP8 kernel (outputs wrong by construction, not checked; BOUND_VARIANTS:
    # .variants folders — session 18's switches MLA_EXPERIMENT_F16_BOUND, _NO_CONVERT, _EARLY_B_RELEASE and
    # _EARLY_A_RELEASE are in git history at 83d8a8c, see the perf log): two rounds of the sparse rows and --kv fp8 rows
    # 'hopper' takes, then the same dense rows over the bf16 cache
    vs=""; for v in ${BOUND_VARIANTS:?BOUND_VARIANTS: .variants folders}; do vs="$vs .variants/$v"; done
    AB_CHECK=0 ab_rounds bound "sparse:5,7,9,11" dist/kernels $vs
    AB_CHECK=0 AB_EXTRA="--kv fp8" ab_rounds bound-kv "sweep:8,24,30" dist/kernels $vs
    timeout 60 node dist/src/cli.js bench --configs sweep:8,24,30 --kernel hopper --iters 40 --check-samples 0 --reference none > "$out/bound-bf16.txt" 2>&1
    echo "== bf16 rc=$?"; grep -aE "^sweep#" "$out/bound-bf16.txt" | cut -c1-64
    ;;
  sptrace)
    # per-block event times of a 'hopper' sparse decode (CTA (0, 0)): .variants/sptrace (scripts/build-variant.sh sptrace
    # mla_decode_sm90 sm_90a -DMLA_SM90_SPARSE_TRACE), scripts/trace-sparse.mjs on sparse#11 and #7
    kd=$(kernel_dir .variants/sptrace)
    for r in ${SPTRACE_ROWS:-11 7}; do
      FLASH_MLA_KERNEL_DIR=$kd/ timeout 60 node scripts/trace-sparse.mjs $r 1.75 > "$out/sptrace-$r.txt" 2>&1
      echo "trace sparse#$r rc=$?"; tail -4 "$out/sptrace-$r.txt"
    done
    ;;
  r32final)
    # the 32-row FP8 entry as merged (session 24: blocks split for S, channels for P·V): its FP8 GPU tests, memcheck
    # and racecheck on two 32-row cases, then bf16 and FP8 of the 17–32-row sweep rows, FP8 checked (JSON for docs/runs/)
    fp8_tests r32f "f16 datapath" 200
    sanitize_fp8_tests r32f "(h_q 32, s_q 1|h_q 16, s_q 2, causal, one).*f16 datapath" 240
    fp8_vs_bf16 sweep:2,3,4,5,18,19,20,21
    ;;
  smallsparsea)
    # hopper-small's sparse entry on the register-A datapath (.variants/sparsea: scripts/build-variant.sh sparsea
    # mla_decode_sm90_small sm_90a -DMLA_SM90S_SPARSE_REGA=1) against the shipped f16 datapath: its GPU tests, memcheck
    # and racecheck on them, then two rounds of the sparse h_q 16 rows (sparse#0–3, checked on round 1)
    v=.variants/sparsea; kd=$(kernel_dir $v)
    FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests spa "sparse FP8 entry" 150
    FLASH_MLA_KERNEL_DIR=$kd/ sanitize_fp8_tests spa "sparse FP8 entry" 200
    ab_rounds spa "sparse:0,1,2,3" dist/kernels $v
    ;;
  sppitch)
    # the register-A sparse entry's stage row pitch (16-byte-aligned 528 and 560: no ldmatrix bank conflicts; 544:
    # 32-aligned, 2-way; 512: 512-aligned, 8-way) against the shipped f16 datapath, two rounds of sparse#1 and #3;
    # then ncu (details) of the f16 datapath and of sparsea on sparse#3
    ab_rounds spp "sparse:1,3" dist/kernels .variants/sparsea .variants/sp512 .variants/sp544 .variants/sp560
    for v in dist/kernels .variants/sparsea; do
      n=$(basename $v)
      FLASH_MLA_KERNEL_DIR=$(kernel_dir $v)/ timeout 150 ncu --clock-control none --kernel-name regex:'mla_decode_sm90' --launch-skip 2 --launch-count 1 --set full -f -o "$out/prof-$n" \
        node dist/src/cli.js bench --configs sparse:3 --kernel hopper-small --iters 3 --warmup 1 --check-samples 0 --reference none > "$out/prof-$n.log" 2>&1
      echo "ncu $n rc=$?"
      timeout 60 ncu -i "$out/prof-$n.ncu-rep" --page details > "$out/prof-$n-details.txt" 2>&1
      rm -f "$out/prof-$n.ncu-rep"
      grep -aE "Duration|DRAM Throughput|L1/TEX Hit|Mem Pipes Busy|Issue Slots Busy|No Eligible|Eligible Warps|Registers Per" "$out/prof-$n-details.txt" | head -12
    done
    ;;
  spearly)
    # hopper-small's sparse entry with the next block's RoPE row (1) and scales (2) loaded a block ahead of their use
    # (MLA_SM90S_SPARSE_EARLY) on the f16 datapath (.variants/fe1, fe2) and the register-A one (.variants/ea1, ea2;
    # sparsea: register-A as loaded before) against the shipped build: the GPU tests of fe2 and ea2, memcheck and
    # racecheck on them, then two rounds of sparse#1 and #3
    for n in fe2 ea2; do
      kd=$(kernel_dir .variants/$n)
      FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests $n "sparse FP8 entry" 150
      FLASH_MLA_KERNEL_DIR=$kd/ sanitize_fp8_tests $n "sparse FP8 entry" 200
    done
    ab_rounds spe "sparse:1,3" dist/kernels .variants/fe1 .variants/fe2 .variants/sparsea .variants/ea1 .variants/ea2
    ;;
  spbound)
    # timing bounds of hopper-small's sparse entry (outputs wrong; MLA_SM90S_SPARSE_BOUND): bnd1 each token's whole
    # 656-byte row in its bulk copy, bnd2 no RoPE or scale loads, bnd3 both (f16 datapath); rb3 both on the register-A
    # datapath; against the shipped build, two rounds of sparse#1 and #3, unchecked
    AB_CHECK=0 ab_rounds spb "sparse:1,3" dist/kernels .variants/bnd1 .variants/bnd2 .variants/bnd3 .variants/sparsea .variants/rb3
    ;;
  spwhole)
    # hopper-small's sparse entry on the register-A datapath with whole 656-byte rows per bulk copy (.variants/wr:
    # -DMLA_SM90S_SPARSE_REGA=1; scales and RoPE from the stage, no global side loads) against the shipped f16
    # datapath: its GPU tests, memcheck and racecheck, then two rounds of the sparse h_q 16 rows (checked on round 1)
    sparse_variant spw wr
    ;;
  spris)
    # the whole-row register-A sparse entry (.variants/wr, the new default) with its RoPE copy and scale reads moved
    # behind S's four groups (.variants/ris: -DMLA_SM90S_SPARSE_ROPE_IN_S=1): ris's GPU tests, memcheck, racecheck;
    # two rounds of sparse#1, #3 (f16 datapath = dist/kernels beside them); then the timing bound of the dense FP8
    # entries without their scale loads (.variants/dsb, outputs wrong) against wr on sweep#16 (16 rows) and #20 (32 rows)
    kd=$(kernel_dir .variants/ris)
    FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests ris "sparse FP8 entry" 150
    FLASH_MLA_KERNEL_DIR=$kd/ sanitize_fp8_tests ris "sparse FP8 entry" 200
    ab_rounds sri "sparse:1,3" dist/kernels .variants/wr .variants/ris
    AB_CHECK=0 AB_EXTRA="--kv fp8 --kernel hopper-small" ab_rounds dsb "sweep:16,20" .variants/wr .variants/dsb
    ;;
  s25final)
    # session 25's tree: the dense FP8 entries' scales by TMA with the raw stage (the default) — their GPU tests,
    # memcheck and racecheck on the 16- and 32-row cases — and against global loads (.variants/gl:
    # SRC_REV=8474600 … -DMLA_SM90S_SCALES_TMA=0: the switch and its global-load form were removed in session 32),
    # two rounds of the 16/32-row sweep rows; then the whole sparse set and bf16 vs FP8 of
    # the 16/32-row sweep rows, FP8 checked (JSON for docs/runs/)
    fp8_tests s25 "f16 datapath" 150
    sanitize_fp8_tests s25 "(h_q 32, s_q 1|h_q 16, s_q 1|h_q 16, s_q 2, causal, one).*f16 datapath" 200
    AB_EXTRA="--kv fp8 --kernel hopper-small" ab_rounds sct "sweep:0,16,4,20" dist/kernels .variants/gl
    fp8_tables
    ;;
  gwg)
    # hopper-small's sparse entry with a gather warpgroup (.variants/gwg: scripts/build-variant.sh gwg
    # mla_decode_sm90_small sm_90a -DMLA_SM90S_SPARSE_GATHER_WG=1; launched with 384 threads:
    # FLASH_MLA_EXPERIMENT_SPARSE_GATHER_WG=1) against the shipped build: its sparse GPU tests, memcheck and racecheck
    # on them, two rounds of sparse#0-3
    env_variant gwg gwg FLASH_MLA_EXPERIMENT_SPARSE_GATHER_WG=1 "sparse FP8 entry" "sparse FP8 entry.*" "sparse:0,1,2,3"
    ;;
  gwgdiag)
    # gwg's two open questions: racecheck on the race-free mbarrier stage handoff alone (race-probe mbar_st, mbar_bulk:
    # is its hazard class the tool's?), and where b 2 (sparse#0) loses its time — ncu kernel durations, both builds
    PROBE_PATTERNS="mbar_st mbar_bulk arrive" "$0" race-probe
    kd=$(kernel_dir .variants/gwg)
    for v in base gwg; do
      for c in sparse:0 sparse:3; do
        if [ $v = gwg ]; then e="FLASH_MLA_EXPERIMENT_SPARSE_GATHER_WG=1 FLASH_MLA_KERNEL_DIR=$kd/"; else e=; fi
        env $e timeout 90 ncu --clock-control none --kernel-name regex:'mla' --metrics gpu__time_duration.sum,launch__block_size,launch__grid_size,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active \
          node dist/src/cli.js bench --configs $c --kernel hopper-small --iters 3 --warmup 1 --check-samples 0 --reference none > "$out/ncu-$v-${c/:/-}.log" 2>&1
        echo "== ncu $v $c rc=$?"; grep -aE "^  [a-z_]+.*\(|gpu__time_duration|launch__(block|grid)_size" "$out/ncu-$v-${c/:/-}.log" | tail -16
      done
    done
    ;;
  gwgpdl)
    # gwg's b 2 (sparse#0): 0.022 → 0.056–0.063 ms in the bench, yet ncu times its decode 15.2 µs (base 16.7): with and
    # without PDL, both builds; then b 2 … 16 to see where the loss fades
    kd=$(kernel_dir .variants/gwg)
    for pdl in 0 1; do
      for v in base gwg; do
        if [ $v = gwg ]; then e="FLASH_MLA_EXPERIMENT_SPARSE_GATHER_WG=1 FLASH_MLA_KERNEL_DIR=$kd/"; else e=; fi
        [ $pdl = 1 ] && e="$e FLASH_MLA_NO_PDL=1"
        env $e timeout 60 node dist/src/cli.js bench --configs sparse:0,1 --iters 40 --check-samples 0 --reference none > "$out/pdl-$v-$pdl.txt" 2>&1
        echo "== no_pdl=$pdl $v rc=$?: $(grep -aE '^sparse#' "$out/pdl-$v-$pdl.txt" | awk '{printf "%s ", $10}')"
      done
    done
    which nsys || true
    ;;
  gwgseed)
    # the first `gwg` run's slow b 2 rows (seeds 141631250, 359778664) replayed, with the base's seeds beside them
    kd=$(kernel_dir .variants/gwg)
    for seed in 141631250 359778664 939977390 434772490; do
      for v in base gwg; do
        if [ $v = gwg ]; then e="FLASH_MLA_EXPERIMENT_SPARSE_GATHER_WG=1 FLASH_MLA_KERNEL_DIR=$kd/"; else e=; fi
        env $e timeout 60 node dist/src/cli.js bench --configs sparse:0 --seed $seed --iters 40 --check-samples 1 --reference none > "$out/seed-$v-$seed.txt" 2>&1
        echo "== seed $seed $v rc=$?: $(grep -aE '^sparse#' "$out/seed-$v-$seed.txt" | awk '{printf "%s %s ", $10, $NF}')"
      done
    done
    ;;
  gwga)
    # racecheck's WAR class on gwg: race-probe mbar_all (every reading lane arrives: does the tool then take the
    # handoff?), and .variants/gwga (gwg with every math thread arriving on "stage free": -DMLA_SM90S_SPARSE_FREE_ALL=1):
    # its sparse tests, memcheck, racecheck, two rounds against gwg and the shipped build
    PROBE_PATTERNS="mbar_all mbar_bulk" "$0" race-probe
    kd=$(kernel_dir .variants/gwga)
    FLASH_MLA_EXPERIMENT_SPARSE_GATHER_WG=1 FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests gwga "sparse FP8 entry" 200
    FLASH_MLA_EXPERIMENT_SPARSE_GATHER_WG=1 FLASH_MLA_KERNEL_DIR=$kd/ sanitize_fp8_tests gwga "sparse FP8 entry.*" 240
    ab_rounds gwga "sparse:0,1,2,3" dist/kernels .variants/gwg@FLASH_MLA_EXPERIMENT_SPARSE_GATHER_WG=1 .variants/gwga@FLASH_MLA_EXPERIMENT_SPARSE_GATHER_WG=1
    ;;
  gwgab)
    # gwg's A/B again as `gwg` ran it (b 2 was 2.5× slower there, not in `gwgpdl`), then the same with --reference none
    ab_rounds gwg "sparse:0,1,2,3" dist/kernels .variants/gwg@FLASH_MLA_EXPERIMENT_SPARSE_GATHER_WG=1
    kd=$(kernel_dir .variants/gwg)
    for v in base gwg base gwg; do
      if [ $v = gwg ]; then e="FLASH_MLA_EXPERIMENT_SPARSE_GATHER_WG=1 FLASH_MLA_KERNEL_DIR=$kd/"; else e=; fi
      env $e timeout 60 node dist/src/cli.js bench --configs sparse:0,1,2,3 --iters 40 --check-samples 0 --reference none > "$out/none-$v.txt" 2>&1
      echo "== reference none $v rc=$?: $(grep -aE '^sparse#' "$out/none-$v.txt" | awk '{printf "%s ", $10}')"
    done
    ;;
  sl)
    # the 32-row FP8 entry with its token scales read and turned into factors after S's first ldmatrix (.variants/sl:
    # -DMLA_SM90S_R32_SCALES_LATE=1): its FP8 GPU tests, two rounds of sweep#4, #20
    # (--kv fp8) against the shipped build (.variants/base: its cubin)
    kd=$(kernel_dir .variants/sl)
    FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests sl "f16 datapath" 150
    AB_EXTRA="--kv fp8 --kernel hopper-small" ab_rounds sl "sweep:4,20" .variants/base .variants/sl
    ;;
  ma)
    # the 16-row register-A entries (dense FP8, sparse) with the block's maxima outside slab 8 and one warpgroup barrier
    # less per block (.variants/ma: -DMLA_SM90S_MAXIMA_APART=1): their FP8 GPU tests, memcheck and racecheck on the
    # dense 16-row and sparse cases, two rounds of sweep#0, #16 (--kv fp8) and sparse#0-3 against the shipped build
    fp8_variant ma ma "f16 datapath|sparse FP8 entry" "(h_q 16, s_q 1|h_q 16, s_q 2, causal, one).*f16 datapath|sparse FP8 entry.*" "sweep:0,16" "sparse:0,1,2,3"
    ;;
  hg)
    # (session 28: measured, then made the default — the step s28 runs the shipped build) sparse h_q 17–32 on
    # hopper-small as two 16-head CTAs per query token, against 'hopper' (.variants/hg: the build with the switch,
    # FLASH_MLA_EXPERIMENT_SPARSE_HEAD_GROUPS=1 on the host)
    env_variant hg hg FLASH_MLA_EXPERIMENT_SPARSE_HEAD_GROUPS=1 "." "sparse.*" "sparse:4,5,6,7,0,3"
    ;;
  s28)
    # the shipped tree with sparse h_q 17–32 on hopper-small by default: the sparse GPU tests, memcheck and racecheck
    # on the small-row sparse entry's cases (h_q 32 and 20 among them), the whole sparse set (JSON for docs/runs/)
    fp8_tests s28 "sparse" 240
    sanitize_fp8_tests s28 "small-row kernel's sparse FP8 entry.*" 200
    sparse_set
    ;;
  s30final)
    # (session 30) the shipped tree: the gather warpgroup's walk shared by both sparse bodies and the 32-column dense
    # entry (gather_walk; machine code of those three entries changed) against the build measured before it
    # (.variants/head, commit 4178848): two rounds of sparse#3, #7 and sweep#4, #20 --kv fp8; the small-row sparse and FP8
    # GPU tests, the decode-loop example, the sparse set and the FP8 rows against bf16 (JSON for docs/runs/); then
    # memcheck and racecheck on the small-row sparse tests
    ab_rounds s30c "sparse:3,7" .variants/head dist/kernels
    AB_EXTRA="--kv fp8" ab_rounds s30cd "sweep:4,20" .variants/head dist/kernels
    fp8_tests s30c "small-row kernel's sparse" 200
    fp8_tests s30cd "small-row Hopper kernel over the FP8 cache" 150
    timeout 40 node dist/examples/decode-loop.js --backend cuda > "$out/decode-loop.log" 2>&1; echo "decode-loop example rc=$?"; tail -2 "$out/decode-loop.log"
    sparse_set
    fp8_vs_bf16 sweep:0,1,2,3,4,5,16,17,18,19,20,21
    sanitize_fp8_tests s30c "small-row kernel's sparse FP8 entry.*" 150
    ;;
  s30b)
    # (session 30, measured: late ±0, cols +5–7 %, not kept; the switches and bounds are gone) the 32-column body
    # (dist/kernels: the shipped build, `pvroll` + S_rope first): the token ratios
    # computed behind S_rope's issue (late, -DMLA_SM90S_R32_SCALES_LATE=1), the pair's maxima column-major with v4 reads
    # (cols, -DMLA_SM90S_R32_MAX_COLS=1), both (lc): two rounds of sparse#5, #7 and sweep#4, #20 --kv fp8; then timing
    # bounds (outputs wrong, unchecked) of sparse#7 without S's ratio multiplies (bs, -DMLA_SM90S_R32_BOUND=1) and
    # without V's (bv, =2)
    ab_rounds s30b "sparse:5,7" dist/kernels .variants/late .variants/cols .variants/lc
    AB_EXTRA="--kv fp8" ab_rounds s30bd "sweep:4,20" dist/kernels .variants/late .variants/cols .variants/lc
    AB_CHECK=0 ab_rounds s30bb "sparse:7" dist/kernels .variants/bs .variants/bv
    ;;
  s30a)
    # (session 30, measured: ±0.5 %, not kept; the switches are gone) the 16-column sparse entry: S_rope issued before S's code groups (.variants/srf,
    # -DMLA_SM90S_SPARSE_ROPE_FIRST=1), a stage freed once P·V's codes are in registers (.variants/sef,
    # -DMLA_SM90S_SPARSE_EARLY_FREE=1), both (.variants/sboth): two rounds of the h_q 16 sparse rows against the shipped
    # build; then the small-row sparse and FP8 GPU tests on the shipped build (the 32-column body with `pvroll` and
    # S_rope first) and the small-row sparse tests on sboth
    ab_rounds s30a "sparse:0,1,2,3" dist/kernels .variants/srf .variants/sef .variants/sboth
    fp8_tests s30a "small-row kernel's sparse" 200
    fp8_tests s30ad "small-row Hopper kernel over the FP8 cache" 150
    FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/sboth)/ fp8_tests s30a-sboth "small-row kernel's sparse" 200
    ;;
  staged|staged2|stagedtests|stagedbuild)
    # (session 31, built and emulated; session 32, timed: every form slower than the shipped pair, best +10 % — perf log
    # `staged`; the code was removed, so the builds come from commit ef6a33f, SRC_REV) the paired sparse entry's gather staged in
    # registers (MLA_SM90_PAIR_STAGED=1: each producer thread loads its token's code chunks and scales from the cache
    # into registers a block ahead; group A converted and stored once released, group B loaded, converted and stored
    # around its own release; no raw rows in shared memory). Variants — NAME EARLY BPRE PUSH AFIRST LOCAL_ASYNC L2:
    #   stgb2 / stgb0: two / none of B's four chunks converted before B's wait, the next block's gather after B's
    #                  stores, the peer's half of the codes by st.async per 16-byte chunk;
    #   stge2 / stge0: the same with the next block's gather right after A's stores (MLA_SM90_PAIR_STAGED_EARLY=1;
    #                  B's proxy fence may then wait for those loads: session 19's MEMBAR finding);
    #   stgp1 / stgp0: one / none of B's chunks early, the peer's half of the codes as one bulk push per slab half
    #                  (MLA_SM90_PAIR_STAGED_PUSH=1: session 19 found st.async slower per 16 bytes than st.shared);
    #   stgb2a / stgp1a: stgb2 / stgp1 with warpgroup 1's S of odd blocks on group A first (MLA_SM90_SPARSE_S1_AFIRST=1,
    #                  both sparse entries, so the pair stays bit for bit the single entry): A is now written first;
    #   stga2e / stga1e: this CTA's own half of both groups / of group B by st.async as well (LOCAL_ASYNC 2 / 1: no proxy
    #                  fence or producer barrier there, so EARLY's loads stay in flight), EARLY, BPRE 0;
    #   stgb2l, stgb0l, stge0l, stge2l, stga2el (session 32): stgb2, stgb0, stge0, stge2, stga2e with block j + 1's rows
    #                  prefetched into L2 at block j's top (MLA_SM90_PAIR_STAGED_L2=1: the gather's two dependent loads
    #                  per block then come from L2, not DRAM).
    # Builds: .variants/NAME, or gzipped in .variants/gz/NAME/ (the first eight) and .variants/gz2/NAME/ (the other
    # seven); a missing one the step needs is built here with nvcc (~15 s). `stagedbuild` (on the workstation: .variants/
    # does not survive a session) builds all fifteen and gzips them there, nothing else. Fifteen fit neither one
    # 10-minute device call nor the 64 MiB carry, so: `staged` (carry ".variants/gz") times the first eight, `staged2`
    # (carry ".variants/gz2") the other seven — two rounds of the h_q 128 sparse rows each against the shipped build,
    # outputs checked against the oracle on round 1, ~4 min per call; STAGED_VARIANTS picks others. `stagedtests`: the
    # Hopper sparse GPU tests of STAGED_VARIANTS (default stgb2), memcheck and racecheck on the first's.
    group1="stgb2 stgb0 stge2 stge0 stgp1 stgp0 stgb2a stgp1a" group2="stga2e stga1e stgb2l stgb0l stge0l stge2l stga2el"
    # (stagedbuild starts clean: builds left from an older tree would be timed as if they were this one's)
    [ "$step" = stagedbuild ] && rm -rf .variants/stg* .variants/gz .variants/gz2
    for f in .variants/gz/*/*.gz .variants/gz2/*/*.gz; do [ -e "$f" ] || continue; d=.variants/$(basename "$(dirname "$f")"); mkdir -p "$d"; gunzip -c "$f" > "$d/$(basename "$f" .gz)"; done
    case $step in staged) want=${STAGED_VARIANTS:-$group1} ;; staged2) want=${STAGED_VARIANTS:-$group2} ;; stagedtests) want=${STAGED_VARIANTS:-stgb2} ;; *) want="$group1 $group2" ;; esac
    for v in "stgb2 0 2 0 0 0 0" "stgb0 0 0 0 0 0 0" "stge2 1 2 0 0 0 0" "stge0 1 0 0 0 0 0" "stgp1 0 1 1 0 0 0" "stgp0 0 0 1 0 0 0" "stgb2a 0 2 0 1 0 0" "stgp1a 0 1 1 1 0 0" "stga2e 1 0 0 0 2 0" "stga1e 1 0 0 0 1 0" \
             "stgb2l 0 2 0 0 0 1" "stgb0l 0 0 0 0 0 1" "stge0l 1 0 0 0 0 1" "stge2l 1 2 0 0 0 1" "stga2el 1 0 0 0 2 1"; do
      set -- $v
      [[ " $want " == *" $1 "* ]] || continue
      [ -e .variants/$1/mla_decode_sm90.sm_90a.cubin ] && continue
      SRC_REV=${STAGED_REV:-ef6a33f} scripts/build-variant.sh "$1" mla_decode_sm90 sm_90a -DMLA_SM90_PAIR_STAGED=1 -DMLA_SM90_PAIR_STAGED_EARLY=$2 -DMLA_SM90_PAIR_STAGED_BPRE=$3 -DMLA_SM90_PAIR_STAGED_PUSH=$4 -DMLA_SM90_SPARSE_S1_AFIRST=$5 -DMLA_SM90_PAIR_STAGED_LOCAL_ASYNC=$6 -DMLA_SM90_PAIR_STAGED_L2=$7 | grep -E 'built|[1-9][0-9]* bytes spill|C75'
      mkdir -p .variants/$1; cp dist/kv-$1/mla_decode_sm90.sm_90a.cubin .variants/$1/; rm -rf dist/kv-$1
    done
    if [ "$step" = stagedbuild ]; then
      for d in .variants/stg*; do
        [ -e "$d/mla_decode_sm90.sm_90a.cubin" ] || continue
        n=$(basename "$d"); g=gz; [[ " $group2 " == *" $n "* ]] && g=gz2
        mkdir -p ".variants/$g/$n"; gzip -9 -c "$d/mla_decode_sm90.sm_90a.cubin" > ".variants/$g/$n/mla_decode_sm90.sm_90a.cubin.gz"; rm -rf "$d"
      done
      du -sh .variants/gz .variants/gz2
    elif [ "$step" = staged ] || [ "$step" = staged2 ]; then
      vs=(); for n in $want; do vs+=(.variants/$n); done
      ab_rounds "$step" "sparse:8,9,10,11" dist/kernels "${vs[@]}"
    else
      names=$want
      for n in $names; do FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/$n)/ fp8_tests staged-$n "Hopper sparse|paired entry" 150; done
      first=${names%% *}
      FLASH_MLA_KERNEL_DIR=$(kernel_dir .variants/$first)/ sanitize_fp8_tests staged-$first "Hopper sparse|paired entry" 200
    fi
    ;;
  pvroll)
    # (session 30, measured and merged: both changes kept, the old forms gone — commit a675c1b has them; the variant
    # folders are not kept) the 32-column body's P·V as one rolling pipeline over the pair's four units
    # (MLA_SM90S_PV_ROLL=1, dist/kernels as built) and S_rope issued before S's code quarters (.variants/rf: both;
    # .variants/rfonly: S_rope first alone), against session 29's build (.variants/noroll, byte-identical to it): two
    # rounds of the sparse h_q 32 rows and the 32-row sweep rows --kv fp8, then the small-row sparse and FP8 GPU tests on
    # the default build, memcheck and racecheck on the sparse ones
    ab_rounds pvroll "sparse:4,5,6,7" .variants/noroll dist/kernels .variants/rf .variants/rfonly
    AB_EXTRA="--kv fp8" ab_rounds pvrolld "sweep:4,20,21" .variants/noroll dist/kernels .variants/rf .variants/rfonly
    fp8_tests pvroll "small-row kernel's sparse" 200
    fp8_tests pvrolld "small-row Hopper kernel over the FP8 cache" 150
    ;;
  sp32)
    # (session 29, built and emulated) the 32-column sparse entry (17–32 heads of a query token per CTA, one gather and
    # one conversion per block for all 32 heads; FLASH_MLA_EXPERIMENT_SPARSE_R32=1, dist/kernels as built): the small-row
    # sparse GPU tests with it (its h_q 17–32 cases run on it), memcheck and racecheck on them, then two rounds of the
    # sparse h_q 32 rows (sparse#4-7) against the head groups (the default), h_q 16's b 128 beside them
    ( export FLASH_MLA_EXPERIMENT_SPARSE_R32=1; fp8_tests sp32 "small-row kernel's sparse" 300 ) || exit 1
    ( export FLASH_MLA_EXPERIMENT_SPARSE_R32=1; sanitize_fp8_tests sp32 "small-row kernel's sparse FP8 entry.*" 240 )
    ab_rounds sp32 "sparse:3,4,5,6,7" FLASH_MLA_EXPERIMENT_SPARSE_R32=0 FLASH_MLA_EXPERIMENT_SPARSE_R32=1
    ;;
  s29final)
    # (session 29) the shipped tree (h_q 17–32 on the 32-column sparse entry when the batch has work enough): the
    # small-row sparse GPU tests by default, memcheck and racecheck on them, the whole sparse set (JSON), then ncu of the
    # 32-column entry on sparse#7 (b 128, h_q 32)
    fp8_tests s29 "small-row kernel's sparse" 300
    sanitize_fp8_tests s29 "small-row kernel's sparse FP8 entry.*" 240
    sparse_set
    PROF_SPECS="sparse:7 hopper-small" "$0" spprof
    ;;
  g32)
    # (session 29, built and emulated) dense decode of 17–32 rows over the FP8 cache on the 32-column gather body
    # (FLASH_MLA_EXPERIMENT_DENSE_G32=1: mla_decode_sm90_small_fp8_g32_bf16): the small-row FP8 GPU tests with it, memcheck
    # and racecheck on them, two rounds of the 32-row sweep rows --kv fp8 against the 32-row FP8 entry, bf16 of the rows
    ( export FLASH_MLA_EXPERIMENT_DENSE_G32=1; fp8_tests g32 "small-row Hopper kernel over the FP8 cache" 300 ) || exit 1
    ( export FLASH_MLA_EXPERIMENT_DENSE_G32=1; sanitize_fp8_tests g32 "small-row Hopper kernel over the FP8 cache.*" 240 )
    AB_EXTRA="--kv fp8" ab_rounds g32 "sweep:2,3,4,5,18,19,20,21" FLASH_MLA_EXPERIMENT_DENSE_G32=0 FLASH_MLA_EXPERIMENT_DENSE_G32=1
    timeout 100 node dist/src/cli.js bench --configs sweep:2,3,4,5,18,19,20,21 --iters 40 --check-samples 0 --reference h200 > "$out/g32-bf16.txt" 2>&1
    grep -aE "^sweep#" "$out/g32-bf16.txt" | cut -c1-100
    ;;
  s29files)
    # (session 29) the whole FP8/sparse GPU file on the shipped defaults (the gather entry for 17–32 dense FP8 rows, the
    # 32-column sparse entry for h_q 17–32 with work enough), then the decode-loop example
    fp8_tests s29files "." 300
    timeout 40 node dist/examples/decode-loop.js --backend cuda > "$out/decode-loop.log" 2>&1; echo "decode-loop example rc=$?"; tail -3 "$out/decode-loop.log"
    ;;
  g32pa)
    # (session 29, measured: +0.1 … +0.4 %, not kept; the switch was not committed) the dense gather loading each block's
    # page a block ahead (.variants/g32pa: scripts/build-variant.sh g32pa mla_decode_sm90_small sm_90a
    # -DMLA_SM90S_G32_PAGE_AHEAD=1): its small-row FP8 GPU tests, two rounds of the 32-row sweep rows --kv fp8 against
    # the shipped build
    kd=$(kernel_dir .variants/g32pa)
    FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests g32pa "small-row Hopper kernel over the FP8 cache" 200
    AB_EXTRA="--kv fp8" ab_rounds g32pa "sweep:2,3,4,5,18,19,20,21" dist/kernels .variants/g32pa
    ;;
  g32small)
    # (session 29) the 32-column gather body's dense entry at small batches (scripts/g32-small.json) and serving S7 over
    # the FP8 cache, against the 32-row FP8 entry, two rounds
    AB_EXTRA="--kv fp8" ab_rounds g32s "scripts/g32-small.json serving:S7" FLASH_MLA_EXPERIMENT_DENSE_G32=0 FLASH_MLA_EXPERIMENT_DENSE_G32=1
    ;;
  das)
    # (session 29) dense decode's work run as a sparse decode (scripts/dense-as-sparse.json: b 128, every one of 8192
    # tokens indexed, h_q 16 and 32, s_q 1) on the sparse entries, against the dense FP8 entries (sweep#16 / #20 --kv
    # fp8) and bf16 of the same rows: is the gather warpgroup's pipeline faster per block than the dense entries'?
    for r in 1 2; do
      timeout 90 node dist/src/cli.js bench --configs scripts/dense-as-sparse.json --iters 30 --check-samples 0 --reference none > "$out/das-sparse-$r.txt" 2>&1
      timeout 90 node dist/src/cli.js bench --configs sweep:16,20 --kv fp8 --iters 30 --check-samples 0 --reference none > "$out/das-fp8-$r.txt" 2>&1
      grep -ahE "^(file|sweep)#" "$out/das-sparse-$r.txt" "$out/das-fp8-$r.txt" | cut -c1-100
    done
    timeout 90 node dist/src/cli.js bench --configs sweep:16,20 --iters 30 --check-samples 0 --reference none > "$out/das-bf16.txt" 2>&1
    grep -aE "^sweep#" "$out/das-bf16.txt" | cut -c1-100
    ;;
  sp32x)
    # (session 29) where the 32-column sparse entry overtakes the head groups: two rounds of scripts/sp32-crossover.json
    # (h_q 32 s_q 2 at b 4–48, h_q 20 / 24 at b 16 / 64 / 128, h_q 32 s_q 1) with FLASH_MLA_EXPERIMENT_SPARSE_R32 off and on
    ab_rounds sp32x "scripts/sp32-crossover.json" FLASH_MLA_EXPERIMENT_SPARSE_R32=0 FLASH_MLA_EXPERIMENT_SPARSE_R32=1
    ;;
  sfold)
    # (session 29, measured: 1–12 % slower, not kept; the code is gone — commit cba2324 has it) the sparse entry merging its own splits (.variants/fold:
    # scripts/build-variant.sh fold mla_decode_sm90_small sm_90a -DMLA_SM90S_SPARSE_FOLD=1; the host:
    # FLASH_MLA_EXPERIMENT_SPARSE_FOLD=1, which folds when b · 4 ≥ the SM parts): the small-row sparse GPU tests (the
    # b 40 case folds), memcheck and racecheck on them, two rounds of sparse#0-7 against the shipped build (b 2 does not
    # fold: its rows must not move; b 64 / 74 / 128 do — session 28's split: the combine took 4.9 µs of b 64's 77)
    env_variant sfold fold FLASH_MLA_EXPERIMENT_SPARSE_FOLD=1 "small-row kernel's sparse" "small-row kernel's sparse FP8 entry.*" "sparse:0,1,2,3,4,5,6,7"
    ;;
  pairvr)
    # (session 28, measured: racecheck 0, +0.8 % — vra's half was kept) the paired sparse entry with per-thread
    # arrivals on its validity words' barriers (each producer warp's writer lane on "validity written", count 4; every
    # reading math thread on a "validity read", count 128 — waited by the writer lane before the next fill's word;
    # dist/kernels then, now SRC_REV=90c740b scripts/build-variant.sh … -DMLA_SM90_PAIR_VALID_READ=1): the Hopper sparse
    # GPU tests, memcheck and racecheck on them (sessions 21–27: 6 validity-word hazards), then two rounds of
    # sparse#8-11 against the build before it (.variants/pv0: SRC_REV=ffb26a9 scripts/build-variant.sh pv0 mla_decode_sm90 sm_90a)
    fp8_tests pairvr "Hopper sparse FP8 kernel" 200
    sanitize_fp8_tests pairvr "Hopper sparse FP8 kernel.*" 240
    ab_rounds pairvr "sparse:8,9,10,11" .variants/pv0 dist/kernels
    ;;
  pairvr2)
    # (session 28, measured: vra kept — the shipped form) pairvr's two halves apart (.variants/vra: the writers'
    # arrivals only, today's tree; vrb: SRC_REV=90c740b … -DMLA_SM90_PAIR_VALID_READ=1 -DMLA_SM90_PAIR_VALID_WAIT_ALL=1,
    # every producer thread waits on "validity read" with its group B waits; scripts/build-variant.sh NAME
    # mla_decode_sm90 sm_90a FLAGS): each one's Hopper sparse GPU tests and racecheck, then
    # two rounds of sparse#8-11 against the build before pairvr (.variants/pv0) and pairvr's (dist/kernels)
    for v in vra vrb; do
      kd=$(kernel_dir .variants/$v)
      FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests $v "Hopper sparse FP8 kernel" 120
      s=$(date +%s); FLASH_MLA_KERNEL_DIR=$kd/ FLASH_MLA_REQUIRE_GPU=1 timeout 150 compute-sanitizer --tool racecheck --print-limit 6 node --test --test-name-pattern="Hopper sparse FP8 kernel.*" dist/test/fp8-sparse-gpu.test.js > "$out/$v-racecheck.log" 2>&1
      echo "$v racecheck rc=$? ($(( $(date +%s) - s )) s): $(grep -aE 'RACECHECK SUMMARY' "$out/$v-racecheck.log" | tail -1)"
    done
    ab_rounds pairvr2 "sparse:8,9,10,11" .variants/pv0 .variants/vra .variants/vrb dist/kernels
    ;;
  s28final)
    # session 28's shipped tree (hopper-small takes sparse h_q ≤ 32; the paired sparse entry's validity words with
    # per-writer arrivals, vra's form without the unused barriers): the sparse GPU tests, memcheck and racecheck on the
    # Hopper sparse cases, two rounds of sparse#8-11 against the build before (.variants/pv0), the whole sparse set
    fp8_tests s28f "sparse" 200
    sanitize_fp8_tests s28f "Hopper sparse FP8 kernel.*" 200
    ab_rounds s28f "sparse:8,9,10,11" .variants/pv0 dist/kernels
    sparse_set
    ;;
  gw4)
    # (session 27, measured and reverted: the source is commit a00d9f8) two gather warpgroups (.variants/gw4: -DMLA_SM90S_SPARSE_GATHER_WARPS=4, 512 threads with
    # FLASH_MLA_EXPERIMENT_SPARSE_GATHER_THREADS=512; each warp 16 positions of a block: 16 serial copy rounds, not 32)
    # against the shipped build (.variants/b32): sparse GPU tests, memcheck, racecheck, two rounds of sparse#0-3
    env_variant gw4 gw4 FLASH_MLA_EXPERIMENT_SPARSE_GATHER_THREADS=512 "sparse FP8 entry" "sparse FP8 entry.*" "sparse:0,1,2,3" .variants/b32
    ;;
  s27sp)
    # the shipped tree at session 27's end (gather warpgroup, setmaxnreg 232 / 32): the FP8/sparse GPU tests (all of
    # the file), memcheck and racecheck on the sparse cases, then the whole sparse set (JSON for docs/runs/)
    fp8_tests s27e "." 300
    sanitize_fp8_tests s27e "sparse FP8 entry.*" 200
    sparse_set
    ;;
  cpa)
    # the gather warpgroup copying by 16-byte cp.asyncs (.variants/cpa32: -DMLA_SM90S_SPARSE_GATHER_CPASYNC=1, setmaxnreg
    # 232 / 32) against the shipped build (.variants/gwga: bulk copies, 240 / 24) and the bulk copies at 232 / 32
    # (.variants/b32): its sparse GPU tests, memcheck and racecheck, two rounds of sparse#0-3
    kd=$(kernel_dir .variants/cpa32)
    FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests cpa "sparse FP8 entry" 200
    FLASH_MLA_KERNEL_DIR=$kd/ sanitize_fp8_tests cpa "sparse FP8 entry.*" 240
    ab_rounds cpa "sparse:0,1,2,3" .variants/gwga .variants/b32 .variants/cpa32
    ;;
  tl)
    # (session 27, measured and reverted: the source is commit 9112b19) hopper-small's sparse entry walking its query tokens (the tree: tok += gridDim.x; the host launches s_q CTAs per
    # part, or one with FLASH_MLA_EXPERIMENT_SPARSE_TOKEN_LOOP=1): sparse GPU tests both ways, memcheck and racecheck
    # with the loop, two rounds of sparse#0-3 against the committed entry (.variants/gwga)
    fp8_tests tlg "sparse FP8 entry" 200
    FLASH_MLA_EXPERIMENT_SPARSE_TOKEN_LOOP=1 fp8_tests tl "sparse FP8 entry" 200
    FLASH_MLA_EXPERIMENT_SPARSE_TOKEN_LOOP=1 sanitize_fp8_tests tl "sparse FP8 entry.*" 240
    ab_rounds tl "sparse:0,1,2,3" .variants/gwga dist/kernels FLASH_MLA_EXPERIMENT_SPARSE_TOKEN_LOOP=1
    ;;
  s27final)
    # session 27's tree (the sparse entry's gather warpgroup merged): hopper-small's FP8 GPU tests (dense 16/32 rows,
    # sparse), memcheck and racecheck on the sparse cases and the 16/32-row dense ones; then the whole sparse set and
    # bf16 vs FP8 of the 16/32-row sweep rows, FP8 checked (JSON for docs/runs/)
    fp8_tests s27 "f16 datapath|sparse FP8 entry" 200
    sanitize_fp8_tests s27sp "sparse FP8 entry.*" 200
    sanitize_fp8_tests s27 "(h_q 32, s_q 1|h_q 16, s_q 1|h_q 16, s_q 2, causal, one).*f16 datapath" 200
    fp8_tables
    ;;
  s26final)
    # session 26's tree (S's codes a group ahead, S_rope from the sparse stage): hopper-small's FP8 GPU tests (dense
    # 16/32 rows, sparse), memcheck and racecheck on the 16- and 32-row dense cases; then the whole sparse set and bf16
    # vs FP8 of the 16/32-row sweep rows, FP8 checked (JSON for docs/runs/)
    fp8_tests s26 "f16 datapath|sparse FP8 entry" 200
    sanitize_fp8_tests s26 "(h_q 32, s_q 1|h_q 16, s_q 1|h_q 16, s_q 2, causal, one).*f16 datapath" 200
    fp8_tables
    ;;
  rrsfinal)
    # the merged build (S_rope from the stage, racecheck's barrier padding without the RoPE barrier): its sparse GPU
    # tests, memcheck and racecheck, two rounds of sparse#0-3 against the build before (.variants/prev)
    fp8_tests rrsf "sparse FP8 entry" 200
    sanitize_fp8_tests rrsf "sparse FP8 entry.*" 200
    ab_rounds rrsf "sparse:0,1,2,3" dist/kernels .variants/prev  # (sparse_variant's order reversed: the tree is the candidate)
    ;;
  rrs)
    # hopper-small's sparse entry with S_rope's A fragments by ldmatrix from the stage (.variants/rrs:
    # -DMLA_SM90S_SPARSE_ROPE_RS=1; no RoPE copy into slab 8, no fence or warpgroup barrier) against the shipped
    # build: its sparse GPU tests, memcheck and racecheck on them, two rounds of sparse#0-3
    sparse_variant rrs rrs
    ;;
  gis)
    # hopper-small's sparse entry with block n + 1's gather issued inside block n's S, behind its wgmmas
    # (.variants/gis: -DMLA_SM90S_SPARSE_GATHER_IN_S=1) against the shipped build (gathered at block n − 1's end): its
    # sparse GPU tests, memcheck and racecheck on the h_q 16 topk 2048 cases, two rounds of sparse#0-3
    sparse_variant gis gis
    ;;
  iss)
    # hopper-small's sparse gather with lane 0 of each warp issuing the warp's 16 per-token bulk copies, unrolled
    # (.variants/iss: -DMLA_SM90S_SPARSE_ISSUE=1) against the shipped build (the compiler's ELECT / R2UR / UBLKCP /
    # BRA.U.ANY loop, 18 % of the stall samples at sparse#3): its sparse GPU tests, the SASS of the issue, two rounds
    # of sparse#0-3
    kd=$(kernel_dir .variants/iss)
    FLASH_MLA_KERNEL_DIR=$kd/ fp8_tests iss "sparse FP8 entry" 200
    cuobjdump -sass -fun mla_decode_sm90_small_fp8_sparse_bf16 .variants/iss/mla_decode_sm90_small.sm_90a.cubin > "$out/iss-sparse.sass" 2>&1
    echo "UBLKCP: $(grep -c UBLKCP "$out/iss-sparse.sass"), BRA.U.ANY: $(grep -c 'BRA.U.ANY' "$out/iss-sparse.sass"), ELECT: $(grep -c ELECT "$out/iss-sparse.sass")"
    ab_rounds iss "sparse:0,1,2,3" dist/kernels .variants/iss
    ;;
  l2b)
    # timing bound (outputs wrong; .variants/l2b: -DMLA_SM90S_L2_BOUND=1): hopper-small's FP8 entries read every block
    # from 16 pages (dense) or 1024 cache slots (sparse), all in L2 — how much of each row's time is waiting for DRAM;
    # two rounds of sweep#0, #16, #4, #20 (--kv fp8) and sparse#0, #1, #3 against the shipped build, unchecked
    AB_CHECK=0 AB_EXTRA="--kv fp8 --kernel hopper-small" ab_rounds l2b "sweep:0,16,4,20" dist/kernels .variants/l2b
    AB_CHECK=0 ab_rounds l2b "sparse:0,1,3" dist/kernels .variants/l2b
    ;;
  ldpipe)
    # S's codes loaded one group ahead in f16r_scores (.variants/ldpipe: scripts/build-variant.sh ldpipe
    # mla_decode_sm90_small sm_90a -DMLA_SM90S_REGA_LDPIPE=1; dense FP8 16 rows and sparse h_q 16) against the shipped
    # build (the 32-row entry's r32_scores too: a quarter ahead): its FP8 GPU tests (dense 16/32 rows, sparse), memcheck
    # and racecheck on a few, then two rounds of sweep#0, #16, #4, #20 (--kv fp8) and sparse#1, #3
    fp8_variant ldp ldpipe "f16 datapath|sparse FP8 entry" "(h_q 16, s_q 1|h_q 32, s_q 1|h_q 16, s_q 2, topk 2048).*" "sweep:0,16,4,20" "sparse:1,3"
    ;;
  regafinal)
    # the register-A build as merged: racecheck on hopper-small's dense FP8 tests alone ('f16 datapath': the pattern
    # 'hopper-small' also runs the test that takes the 'hopper' FP8 kernel, whose zero-tail reports are the known false
    # class), then bf16 and FP8 of the README's rows (JSON for docs/runs/), two rounds of the FP8 rows
    s=$(date +%s); FLASH_MLA_REQUIRE_GPU=1 timeout 120 compute-sanitizer --tool racecheck --print-limit 6 node --test --test-name-pattern="f16 datapath" dist/test/fp8-sparse-gpu.test.js > "$out/regafinal-racecheck.log" 2>&1
    echo "racecheck ('f16 datapath' cases) rc=$? ($(( $(date +%s) - s )) s): $(grep -aE 'RACECHECK SUMMARY' "$out/regafinal-racecheck.log" | tail -1)"; grep -aE "^# (pass|fail|skip)" "$out/regafinal-racecheck.log" | tr '\n' ' '; echo
    fp8_vs_bf16 sweep:0,1,16,17,18,20
    ;;
  regaprof)
    # ncu (full set, SASS stall samples) of hopper-small's dense FP8 entry on sweep#16 --kv fp8 (b 128, 8192, h_q 16),
    # the shipped build (session 23: the register-A datapath); details and the SASS page as gzipped CSV under $out
    n=sweep16-fp8
    timeout 150 ncu --clock-control none --kernel-name regex:'mla_decode_sm90_small' --launch-skip 2 --launch-count 1 --set full --import-source yes -f -o "$out/prof-$n" \
      node dist/src/cli.js bench --configs sweep:16 --kernel hopper-small --kv fp8 --iters 3 --warmup 1 --check-samples 0 --reference none > "$out/prof-$n.log" 2>&1
    echo "ncu rc=$?"
    timeout 60 ncu -i "$out/prof-$n.ncu-rep" --page details > "$out/prof-$n-details.txt" 2>&1
    timeout 60 ncu -i "$out/prof-$n.ncu-rep" --page source --csv --print-source sass 2>&1 | gzip > "$out/prof-$n-sass.csv.gz"
    rm -f "$out/prof-$n.ncu-rep"
    grep -aE "Duration|DRAM Throughput|L1/TEX Hit|Mem Pipes Busy|L1/TEX Cache Throughput|Compute \(SM\) Throughput|Issue Slots Busy|No Eligible|Active Warps Per Scheduler|Eligible Warps|SM Frequency|Executed Ipc" "$out/prof-$n-details.txt" | head -20
    ;;
  spprof)
    # where the sparse kernels' time goes: ncu (full set, SASS-level stall samples) of 'hopper' on sparse#11 (b 128,
    # h_q 128), 'hopper-small' on sparse#3 (b 128, h_q 16) and hopper-small's dense FP8 entry on sweep#16 (--kv fp8);
    # details, the SASS page as gzipped CSV under $out
    # (PROF_SPECS: other "configs kernel [--kv fp8]" specs, separated by ';')
    IFS=';' read -ra specs <<< "${PROF_SPECS:-sparse:11 hopper;sparse:3 hopper-small;sweep:16 hopper-small --kv fp8}"
    for spec in "${specs[@]}"; do
      set -- $spec; n=${1//:/-}-$2
      timeout 150 ncu --clock-control none --kernel-name regex:'mla_decode_sm90' --launch-skip 2 --launch-count 1 --set full --import-source yes -f -o "$out/prof-$n" \
        node dist/src/cli.js bench --configs $1 --kernel $2 ${3:+$3 $4} --iters 3 --warmup 1 --check-samples 0 --reference none > "$out/prof-$n.log" 2>&1
      echo "ncu $spec rc=$?"
      timeout 60 ncu -i "$out/prof-$n.ncu-rep" --page details > "$out/prof-$n-details.txt" 2>&1
      timeout 60 ncu -i "$out/prof-$n.ncu-rep" --page source --csv --print-source sass 2>&1 | gzip > "$out/prof-$n-sass.csv.gz"
      rm -f "$out/prof-$n.ncu-rep"
      grep -aE "Duration|DRAM Throughput|Compute \(SM\) Throughput|Issue Slots Busy|No Eligible|Active Warps Per Scheduler|Eligible Warps|SM Frequency" "$out/prof-$n-details.txt" | head -14
    done
    ;;
  prof90)
    # where the bf16 'hopper' kernel's loop time goes at compute-bound shapes: ncu (full set, SASS-level stall samples)
    # on sweep#30 (8192, h_q 128, s_q 2) and serving S6; details and the SASS page as text under $out
    for row in ${PROF_ROWS:-sweep:30 serving:S6}; do
      n=${row//:/-}
      timeout 150 ncu --clock-control none --kernel-name regex:'mla_decode_sm90' --launch-skip 2 --launch-count 1 --set full --import-source yes -f -o "$out/prof-$n" \
        node dist/src/cli.js bench --configs $row --kernel hopper --iters 3 --warmup 1 --check-samples 0 --reference none > "$out/prof-$n.log" 2>&1
      echo "ncu $row rc=$?"
      timeout 60 ncu -i "$out/prof-$n.ncu-rep" --page details > "$out/prof-$n-details.txt" 2>&1
      timeout 60 ncu -i "$out/prof-$n.ncu-rep" --page source --csv --print-source sass > "$out/prof-$n-sass.csv" 2>&1
      grep -aE "Duration|DRAM Throughput|Compute \(SM\) Throughput|Issue Slots Busy|No Eligible|Active Warps Per Scheduler|Eligible Warps|SM Frequency" "$out/prof-$n-details.txt" | head -14
    done
    ;;
  race-probe)
    # does racecheck understand a named-barrier handoff? scripts/race-probe.cu: race-free patterns, one run each
    # (the first version deadlocked its both-sides-sync pattern and ran into the call's limit: everything is bounded)
    nvcc -arch=sm_90a -o /tmp/race-probe scripts/race-probe.cu && timeout 15 /tmp/race-probe
    for k in ${PROBE_PATTERNS:-syncthreads sync arrive arrive_local sync_local mbar_st mbar_bulk mbar_all}; do
      timeout 60 compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 2 /tmp/race-probe $k > "$out/race-probe-$k.log" 2>&1
      echo "racecheck race-probe $k rc=$?: $(grep -aE 'RACECHECK SUMMARY' "$out/race-probe-$k.log") $(grep -aoE '(RAW|WAR|WAW) hazard' "$out/race-probe-$k.log" | sort | uniq -c | tr '\n' ' ')"
      grep -aE "Thread \(" "$out/race-probe-$k.log" | head -2
    done
    ;;
  launch)
    # timing bounds only: outputs are wrong by construction (AB_CHECK=0)
    AB_CHECK=0 ab_rounds launch "serving sweep:0,9,12,30" FLASH_MLA_EXPERIMENT_LAUNCH= FLASH_MLA_EXPERIMENT_LAUNCH=nocombine FLASH_MLA_EXPERIMENT_LAUNCH=empty
    ;;
  sanitize) SAN_CASES=${SAN_CASES:-2} scripts/device-campaign.sh sanitize ;;
  *) echo "unknown step '$step'"; exit 2 ;;
esac
