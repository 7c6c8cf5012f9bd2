#!/usr/bin/env bash
# The main job: a small ZeRO-3 training run of the embedded tiny Llama on the shipped
# corpus, 2 ranks under mpirun. Installs what it needs, builds, trains; safe to re-run.
#   STEPS=300 RANKS=2 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh
zerod_build zerod

mkdir -p build/demo
build/bin/zerod --prepare-data --bytes --input data/corpus/vim_user_manual.txt \
  --output build/demo/corpus.bin
# On CPU the float32 variant of the config (float16 matrix products are ~10x slower
# than float32 on x86 cores); otherwise the DeepSpeed config as users have it.
config=configs/ds_zero3_offload_cpu.json
echo "demo: training configs/models/tiny-llama with ${RANKS:-2} ranks on CPU ($config)"
mpirun -np "${RANKS:-2}" build/bin/zerod --train \
  --model configs/models/tiny-llama --ds-config "$config" \
  --data build/demo/corpus.bin --steps "${STEPS:-300}" --seq-len 128
