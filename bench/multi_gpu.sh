#!/usr/bin/env bash
# Issue 6 in one call on a machine with N >= 2 GPUs (nvidia-h200-x2/-x4/-x8), after
# `source .gpu-deps/env.sh`:   OUT=... bash bench/multi_gpu.sh [invariant] [memory] [scaling] [service]
#   invariant  the GPU tests (ZeRO-3 invariant on CUDA vs plain LibTorch, offload on/off)
#              at world sizes 1, 2 and N, one GPU per rank, NCCL across GPUs
#   memory     the 0.94B model at world 1, 2, N: rank 0's parameter / gradient /
#              optimizer shard bytes (they should fall as 1/world)
#   scaling    the 6.74B model with both offloads at world 1 and 2 (and N), 4 x 2048
#              tokens per rank, against FSDP2 + CPUOffloadPolicy on the same GPUs
#   service    N daemons as run.slurm starts them (mpirun standing in for srun), a job
#              submitted and watched with zeroctl, memory for every rank
# Written for issue 6; not yet run (no multi-GPU machine has been lent so far).
set -uo pipefail
OUT=${OUT:-/tmp/zerod-multi}; mkdir -p "$OUT"
BIN=build-gpu/bin
N=${GPUS:-$(nvidia-smi -L | wc -l)}
[ -x "$BIN/zerod" ] || bash bench/gpu_build.sh || exit 1
worlds=$(printf '%s\n' 1 2 "$N" | sort -nu | tr '\n' ' ')
DATA=$OUT/corpus.bin
"$BIN/zerod" --prepare-data --bytes --input data/corpus/vim_user_manual.txt --output "$DATA" >/dev/null
# The bf16 config without train_batch_size: 4 sequences per GPU whatever the world size.
python3 - "$OUT/ds_per_gpu.json" <<'PY'
import json, sys
c = json.load(open("configs/ds_zero3_offload_bf16.json"))
c.pop("train_batch_size")
c["gradient_accumulation_steps"] = 1
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
zerod_train() {  # world tag model steps [flags...]
  local np=$1 tag=$2 model=$3 steps=$4; shift 4
  echo "== zerod $tag world $np"
  mpirun -np "$np" "$BIN/zerod" --train --model "bench/models/$model" --ds-config "$OUT/ds_per_gpu.json" \
    --data "$DATA" --seq-len 2048 --steps "$steps" --log-format json "$@" >"$OUT/$tag.w$np.log" 2>&1
  echo "rc=$?"; grep -v '^{' "$OUT/$tag.w$np.log" | tail -4
  grep '^{' "$OUT/$tag.w$np.log" | sed "s/^{/{\"tag\": \"$tag\", \"world_size\": $np, /" >>"$OUT/multi.jsonl"
}
for section in ${*:-invariant memory scaling service}; do
  case $section in
    invariant)
      for np in $worlds; do
        echo "== GPU tests, world $np"
        mpirun -np "$np" "$BIN/zerod_mpi_tests" --gtest_filter='*Gpu*' >"$OUT/gpu_tests.w$np.log" 2>&1
        echo "rc=$?"; grep -E "OK \]|FAILED|PASSED|SKIPPED" "$OUT/gpu_tests.w$np.log" | sort | uniq -c
      done ;;
    memory)
      for np in $worlds; do zerod_train "$np" mem_0.94b llama-0.94b 3; done
      grep -h "rank 0 keeps" "$OUT"/mem_0.94b.w*.log ;;
    scaling)
      for np in $worlds; do
        zerod_train "$np" zerod_6.74b llama-6.74b 10 --activation-checkpointing
        echo "== FSDP2 + CPU offload, world $np"
        torchrun --nproc-per-node "$np" bench/fsdp2_peer.py --model bench/models/llama-6.74b \
          --steps 10 --batch 4 --seq-len 2048 --checkpointing >"$OUT/fsdp2_6.74b.w$np.log" 2>&1
        echo "rc=$?"; tail -1 "$OUT/fsdp2_6.74b.w$np.log" | tee -a "$OUT/multi.jsonl"
      done ;;
    service)
      echo "== service: $N daemons"
      export ZEROD_ADDR=127.0.0.1:7070 ZEROD_LAUNCH="mpirun -np $N"
      $ZEROD_LAUNCH "$BIN/zerod" --listen "$ZEROD_ADDR" >"$OUT/daemons.log" 2>&1 &
      for _ in $(seq 1 300); do "$BIN/zeroctl" health >/dev/null 2>&1 && break; sleep 0.5; done
      "$BIN/zeroctl" health
      job=$("$BIN/zeroctl" submit --model bench/models/llama-0.94b --ds-config "$OUT/ds_per_gpu.json" \
        --data "$DATA" --steps 5 --seq-len 2048)
      "$BIN/zeroctl" watch "$job"; echo "watch rc=$?"
      "$BIN/zeroctl" memory | tee "$OUT/service_memory.txt"
      "$BIN/zeroctl" shutdown; wait; echo "daemons rc=$?" ;;
  esac
done
echo "records: $OUT/multi.jsonl"
