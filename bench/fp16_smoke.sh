#!/usr/bin/env bash
# fp16 on the GPU with the DeepSpeed config as users have it (dynamic loss scaling):
# the tiny Llama on the demo corpus. Run on the GPU machine after bench/gpu_build.sh.
set -euo pipefail
OUT=${OUT:-/tmp}
build-gpu/bin/zerod --prepare-data --bytes --input data/corpus/vim_user_manual.txt --output "$OUT/corpus.bin" >/dev/null
mpirun -np 1 --bind-to none build-gpu/bin/zerod --train --model configs/models/tiny-llama \
  --ds-config configs/ds_zero3_offload.json --data "$OUT/corpus.bin" --steps 60 --seq-len 128 "$@"
