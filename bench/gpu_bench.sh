#!/usr/bin/env bash
# zerod against PyTorch on the GPU machine, in one run: the same Llama shapes, batch
# (4 x 2048 tokens) and bf16, timed by zerod's own step log and by peer_bench.py
# (plain PyTorch on the GPU, FSDP2 with CPUOffloadPolicy). Writes JSON lines to
# $OUT/bench.jsonl and prints a summary with ratios.
#   bench/gpu_bench.sh [adam] [small] [big] [peers] [peers-big]
set -uo pipefail
OUT=${OUT:-/tmp/zerod-bench}; mkdir -p "$OUT"
BIN=build-gpu/bin
# Text the loss can fall on: the demo corpus as byte tokens (valid ids of a 32000 vocab).
DATA=$OUT/corpus.bin
"$BIN/zerod" --prepare-data --bytes --input data/corpus/vim_user_manual.txt --output "$DATA" >/dev/null
sections=${*:-adam small big peers peers-big}
run_zerod() {  # tag model extra-flags...
  local tag=$1 model=$2; shift 2
  echo "== zerod $tag"
  mpirun -np 1 "$BIN/zerod" --train --model "bench/models/$model" \
    --ds-config configs/ds_zero3_offload_bf16.json --data "$DATA" --seq-len 2048 \
    --log-format json "$@" 2>&1 | tee "$OUT/zerod_$tag.log" | grep -v '^{' | tail -20
  grep '^{' "$OUT/zerod_$tag.log" | sed "s/^{/{\"tag\": \"$tag\", /" >> "$OUT/bench.jsonl"
}
for s in $sections; do
  case $s in
    adam) "$BIN/zerod_cpu_adam_bench" | tee -a "$OUT/bench.jsonl"
          python3 .gpu-deps/peer_bench.py adam ;;
    small) run_zerod zerod_0.94b llama-0.94b --steps 8 ;;
    big) run_zerod zerod_6.74b_ckpt llama-6.74b --steps 10 --activation-checkpointing ;;
    peers) python3 .gpu-deps/peer_bench.py gpu fsdp ;;
    peers-big) python3 .gpu-deps/peer_bench.py big ;;
  esac
done
[ -f "$OUT/anchor_bench.jsonl" ] && cat "$OUT/anchor_bench.jsonl" >> "$OUT/bench.jsonl"
python3 bench/summarize.py "$OUT/bench.jsonl"
