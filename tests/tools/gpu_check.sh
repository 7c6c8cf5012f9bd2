#!/usr/bin/env bash
# On the GPU machine, in one call (its device time is scarce): builds the CUDA
# configuration, runs the GPU tests of the model fixtures and the engine, has
# transformers load zerod's exports (hf_compare), and runs the service on the GPU with
# zeroctl. Logs under $OUT.   source .gpu-deps/env.sh; bash tests/tools/gpu_check.sh
set -uo pipefail
out=${OUT:-/tmp/gpu_check}
mkdir -p "$out"
bash bench/gpu_build.sh >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
bin=build-gpu/bin
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
# hf_compare runs .venv/bin/python; here the machine's python has torch and transformers.
# (a wrapper, not a symlink: through a symlink python3 does not find its site-packages).
rm -rf .venv && mkdir -p .venv/bin && printf '#!/bin/sh\nexec python3 "$@"\n' >.venv/bin/python
chmod +x .venv/bin/python
timeout 120 "$bin/zerod_mpi_tests" --gtest_filter='*Gpu*' >"$out/gpu_tests.log" 2>&1
echo "gpu tests rc=$?"; grep -E "^\[  (PASSED|FAILED)|OK \]|FAILED \]" "$out/gpu_tests.log" | head -20
timeout 120 bash tests/tools/hf_compare_test.sh "$bin" . >"$out/hf_compare.log" 2>&1
echo "hf_compare rc=$?"; cat "$out/hf_compare.log" | tail -12
# The service on the GPU: one daemon, a job in fp16 with the DeepSpeed config, memory.
"$bin/zerod" --prepare-data --bytes --input data/corpus/vim_user_manual.txt --output /tmp/corpus.bin >/dev/null
"$bin/zerod" --listen 127.0.0.1:7070 >"$out/daemon.log" 2>&1 &
for _ in $(seq 1 100); do "$bin/zeroctl" health >/dev/null 2>&1 && break; sleep 0.2; done
timeout 120 "$bin/zeroctl" submit --model configs/models/tiny-llama --ds-config configs/ds_zero3_offload.json \
  --data /tmp/corpus.bin --steps 30 --seq-len 128 --wait >"$out/service.log" 2>&1
echo "service job rc=$?"; tail -3 "$out/service.log"
"$bin/zeroctl" memory
"$bin/zeroctl" shutdown; wait
tail -3 "$out/daemon.log"
