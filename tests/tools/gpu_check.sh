#!/usr/bin/env bash
# On the GPU machine, in one call (its device time is scarce), on NP GPUs (default: all
# visible): builds the CUDA configuration; runs the GPU tests (the ZeRO-3 invariant over
# NCCL against plain LibTorch, every placement of the plan, the HF fixtures against
# transformers) at world 1 and NP, one GPU per rank; has transformers load zerod's exports
# (hf_compare); starts the service as deploy/slurm/run.slurm does (mpirun standing in for
# srun) and trains, watches, checkpoints, exports (loaded by transformers) and shuts down;
# then kills and stops a rank mid-training (gpu_faults.sh). Logs under $OUT/check.
#   source .gpu-deps/env.sh; NP=2 bash tests/tools/gpu_check.sh
set -uo pipefail
out=${OUT:-/tmp/gpu_check}/check
mkdir -p "$out"
np=${NP:-$(nvidia-smi -L | wc -l)}
bash bench/gpu_build.sh >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
bin=build-gpu/bin
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
# hf_compare runs .venv/bin/python; here the machine's python has torch and transformers.
# (a wrapper, not a symlink: through a symlink python3 does not find its site-packages).
rm -rf .venv && mkdir -p .venv/bin && printf '#!/bin/sh\nexec python3 "$@"\n' >.venv/bin/python
chmod +x .venv/bin/python
failures=0
note() {  # name rc: one line per check
  echo "$1: $([ "$2" -eq 0 ] && echo ok || echo "FAILED (rc $2)")"
  [ "$2" -eq 0 ] || failures=$((failures + 1))
}
for n in $(printf '%s\n' 1 "$np" | sort -un); do
  timeout 300 mpirun -np "$n" --bind-to none -x OMP_NUM_THREADS=$(($(nproc) / n)) \
    "$bin/zerod_mpi_tests" --gtest_filter='*Gpu*' >"$out/gpu_tests_w$n.log" 2>&1
  note "GPU tests at world $n" $?
  grep -E "^\[  (PASSED|FAILED)|OK \]|FAILED \]|SKIPPED \]" "$out/gpu_tests_w$n.log" | head -20
done
timeout 420 bash tests/tools/hf_compare_test.sh "$bin" . >"$out/hf_compare.log" 2>&1
note "hf_compare" $?
tail -4 "$out/hf_compare.log"

# The service as run.slurm starts it, on np GPUs: the 0.94B model, auto config.
work=$(mktemp -d)
ZEROD_LAUNCH="mpirun -np $np --bind-to none -x OMP_NUM_THREADS=$(($(nproc) / np))" \
  ZEROD_BIN_DIR=$bin MODEL=bench/models/llama-0.94b DS_CONFIG=configs/ds_zero3_auto.json \
  STEPS=20 SEQ_LEN=2048 SAVE_DIR=$work/ckpt EXPORT_DIR=$work/hf \
  timeout 300 bash deploy/slurm/run.slurm >"$out/slurm.log" 2>&1
note "run.slurm on $np GPUs" $?
grep -E "run.slurm|rank|GPU" "$out/slurm.log" | tail -12
timeout 120 python3 tests/tools/compare_hf_export.py "$bin" "$work/hf" >>"$out/slurm.log" 2>&1
note "its export loaded by transformers" $?
tail -1 "$out/slurm.log"
rm -rf "$work"

# Checkpoint files on this machine's LibTorch (whose std::filesystem symbols once crashed
# zerod, engine/util/files.h): periodic saves pruned to the newest, then the same save
# directory again by a resumed job (its Publish replaces the old checkpoint and keeps the
# periodic one inside).
work=$(mktemp -d)
"$bin/zerod" --prepare-data --bytes --input data/corpus/vim_user_manual.txt --output "$work/c.bin" >/dev/null
ckpt() {
  timeout 120 mpirun -np "$np" --bind-to none "$bin/zerod" --train --model configs/models/tiny-llama \
    --ds-config configs/ds_zero3_offload_cpu.json --data "$work/c.bin" --seq-len 64 --save-dir "$work/ck" \
    --save-every 2 --keep-checkpoints 1 "$@" >>"$out/checkpoints.log" 2>&1
}
ckpt --steps 6 && ckpt --steps 8 --resume "$work/ck" &&
  [ "$(ls "$work/ck" | grep -c '^step_')" -eq 1 ] && [ -d "$work/ck/step_00000004" ] &&
  grep -q '"step": 8' "$work/ck/zerod_checkpoint.json" && [ ! -e "$work/ck.old" ]
note "checkpoints (periodic, pruned, resumed, replaced) on $np GPUs" $?
ls "$work/ck"
rm -rf "$work"

[ "$np" -gt 1 ] && { timeout 400 bash tests/tools/gpu_faults.sh "$bin" "$np" "$out/faults"; note "faults" $?; }
echo "gpu_check: $failures failed"
exit $((failures > 0))
