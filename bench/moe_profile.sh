#!/usr/bin/env bash
# Where an MoE step's time goes, on the GPU machine in one call: one step of zerod on the
# OLMoE-1B-7B shape (auto config, checkpointing; ZEROD_PROFILE_STEP, engine/train/
# step_profile.h) and of plain PyTorch on transformers' own OLMoE (bench/profile_plain.py),
# each summarised by bench/trace_summary.py; then the same for zerod's dense model of the
# same active parameters. Traces (gzip) and summaries under $OUT/profile.
#   source .gpu-deps/env.sh; bash bench/gpu_build.sh && OUT=$OUT bash bench/moe_profile.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/zerod-profile}/profile
mkdir -p "$out"
bin=build-gpu/bin
data=$out/corpus.bin
"$bin/zerod" --prepare-data --bytes --input data/corpus/vim_user_manual.txt --output "$data" >/dev/null
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
profile_zerod() {  # tag model timeout
  echo "== zerod $1 ($(date +%T))"
  ZEROD_PROFILE_STEP=3 ZEROD_PROFILE_TRACE="$out/$1.trace.json" timeout "$3" "$bin/zerod" --train \
    --model "bench/models/$2" --ds-config configs/ds_zero3_auto.json --data "$data" --seq-len 2048 \
    --steps 4 --activation-checkpointing --log-format json >"$out/$1.log" 2>&1
  echo "   exit $? ($(date +%T))"; grep '^{' "$out/$1.log" | tail -2 | cut -c1-400
  summarise "$1"
}
summarise() {
  [ -f "$out/$1.trace.json" ] || return
  python3 bench/trace_summary.py "$out/$1.trace.json" >"$out/$1.summary.txt" 2>&1
  cat "$out/$1.summary.txt"
  gzip -f "$out/$1.trace.json"
}
profile_zerod zolmoe olmoe-1b-7b 240
echo "== plain olmoe ($(date +%T))"
timeout 200 python3 bench/profile_plain.py bench/models/olmoe-1b-7b "$out/plainolmoe.trace.json" \
  >"$out/plainolmoe.log" 2>&1
echo "   exit $? ($(date +%T))"; tail -2 "$out/plainolmoe.log"
summarise plainolmoe
profile_zerod zdolmoe llama-1.28b-olmoe-active 120
