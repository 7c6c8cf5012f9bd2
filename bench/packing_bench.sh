#!/usr/bin/env bash
# Packed against padded fine-tuning rows (issue 24) on the GPU machine: a 6.74B Llama shape,
# auto config, checkpointing, --seq-len 2048, batch 4 rows, on a synthetic chat set with a
# long-tailed length distribution (bench/make_chat_samples.py). Prints each run's start
# summary (rows filled) and its median step: seconds, tokens/s over the rows, and trained
# (label) tokens/s, the figure that counts for fine-tuning.
#   OUT=$OUT bash bench/packing_bench.sh [STEPS]
set -uo pipefail
OUT=${OUT:-/tmp/packing-bench}; mkdir -p "$OUT"
BIN=${BIN:-build-gpu/bin}
STEPS=${1:-6}
python3 bench/make_chat_samples.py "$OUT/chats.bin" 4000 32000 | tee "$OUT/data.txt"
for packing in on off; do
  echo "== packing $packing ($(date +%T))"
  timeout 280 mpirun -np 1 --bind-to none "$BIN/zerod" --train --model bench/models/llama-6.74b \
    --ds-config configs/ds_zero3_auto.json --data "$OUT/chats.bin" --seq-len 2048 \
    --steps "$STEPS" --packing "$packing" --activation-checkpointing --log-format json \
    > "$OUT/packing_$packing.log" 2>&1
  echo "   exit $?"
  grep -E "Num rows|Num examples|Truncated|Dropped" "$OUT/packing_$packing.log"
  python3 - "$OUT/packing_$packing.log" <<'PY'
import json, statistics, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{") and '"step"' in l]
steps = steps[1:] or steps  # the first step includes warm-up
if steps:
    s = statistics.median(x["step_time_s"] for x in steps)
    labels = statistics.median(x.get("label_tokens", 0) for x in steps)
    print(f"   median step {s:.3f} s, {4 * 2048 / s:.0f} row tokens/s, "
          f"{labels / s:.0f} trained tokens/s ({labels:.0f} labels a step), "
          f"loss {steps[0]['loss']:.3f} -> {steps[-1]['loss']:.3f}")
PY
done
