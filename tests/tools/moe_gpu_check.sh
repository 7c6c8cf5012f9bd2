#!/usr/bin/env bash
# The mixtures of experts on the GPU machine, in one call: builds the CUDA configuration;
# runs the MoE kernel tests (bf16 grouped GEMMs against the reference path, forward and
# backward), the HF fixtures on the GPU (every family, the MoE ones included) and the
# ZeRO-3 invariant on the GPU; trains the OLMoE-1B-7B shape a few steps in bf16 with the
# auto config (the grouped GEMMs, expert units, offload) and prints Qwen3-30B-A3B's plan
# at world 2. Logs under $OUT/moe.
#   source .gpu-deps/env.sh; OUT=$OUT bash tests/tools/moe_gpu_check.sh
#   MOE_DEADLINE (seconds since the epoch, default now + 460): each step's timeout is cut
#   to end before it.
set -uo pipefail
out=${OUT:-/tmp/moe_gpu_check}/moe
mkdir -p "$out"
start=$(date +%s)
deadline=${MOE_DEADLINE:-$((start + 460))}
left() {  # wanted-seconds -> what the deadline allows (at least 1)
  local l=$((deadline - $(date +%s) - 5))
  [ "$l" -lt 1 ] && l=1
  echo $(($1 < l ? $1 : l))
}
timeout "$(left 300)" bash bench/gpu_build.sh >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
bin=build-gpu/bin
note() { echo "$1: $([ "$2" -eq 0 ] && echo ok || echo "FAILED (rc $2)")"; }
timeout "$(left 60)" "$bin/zerod_unit_tests" --gtest_filter='Moe*' >"$out/unit.log" 2>&1
note "MoE kernel tests (MoeTest, MoeGpuTest)" $?
grep -E "OK \]|FAILED \]|SKIPPED \]" "$out/unit.log"
if [ -n "${MOE_CPU_TESTS:-}" ]; then  # the CPU tests too, where the CPU build is slow
  timeout "$(left 60)" "$bin/zerod_unit_tests" --gtest_filter='HfConfig*' >>"$out/unit.log" 2>&1
  note "config.json tests" $?
  timeout "$(left 30)" "$bin/zerod_plan_tests" >>"$out/unit.log" 2>&1
  note "plan tests" $?
  grep -E "FAILED \]" "$out/unit.log" | head
  timeout "$(left 100)" mpirun -np 2 --bind-to none -x OMP_NUM_THREADS=4 "$bin/zerod_mpi_tests" \
    --gtest_filter='HfFixtureTest.LogitsLoss*:HfFixtureTest.RouterAux*:HfFixtureTest.ExpertsInUnits*:HfFixtureTest.ExportRoundTrip*:ZeroInvariantTest.SameLossesForEveryMixtureOfExpertsFamily' \
    >"$out/cpu_mpi_w2.log" 2>&1
  note "CPU fixture tests and the MoE invariant at world 2" $?
  grep -E "moe|mixtral|olmoe|OK \]|FAILED \]|Failure|error" "$out/cpu_mpi_w2.log" | head -60
fi
corpus=$(mktemp -d)/c.bin
"$bin/zerod" --prepare-data --bytes --input data/corpus/vim_user_manual.txt --output "$corpus" >/dev/null
"$bin/zerod" --plan --model bench/models/olmoe-1b-7b --ds-config configs/ds_zero3_auto.json \
  --seq-len 2048 --activation-checkpointing --log-format json >"$out/plans.txt" 2>/dev/null
timeout "$(left 200)" mpirun -np 1 --bind-to none -x OMP_NUM_THREADS=$(nproc) "$bin/zerod" --train \
  --model bench/models/olmoe-1b-7b --ds-config configs/ds_zero3_auto.json --data "$corpus" \
  --seq-len 2048 --steps "${STEPS:-6}" --activation-checkpointing --log-format json \
  >"$out/olmoe_train.log" 2>&1
note "OLMoE-1B-7B shape, bf16, auto config, 4 x 2048" $?
grep -v '^{' "$out/olmoe_train.log" | tail -6
grep '^{' "$out/olmoe_train.log" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
for r in rows:
    print(f"step {r[\"step\"]}: {r[\"step_time_s\"]:.3f} s, {r[\"tokens_per_s\"]:.0f} tok/s, loss {r[\"loss\"]:.4f}, "
          f"router_aux {r.get(\"router_aux_loss\", float(\"nan\")):.4f}, GPU peak {r[\"gpu_peak_GiB\"]:.1f} GiB, "
          f"fwd {r[\"forward_s\"]:.2f} bwd {r[\"backward_s\"]:.2f} opt {r[\"optimizer_s\"]:.2f}")
active = 1.28e9
if len(rows) > 2:
    s = sorted(r["step_time_s"] for r in rows[2:])[len(rows[2:]) // 2]
    print(f"median after warm-up: {s:.3f} s/step, {8192 / s:.0f} tok/s, "
          f"{(6 * active + 12 * 16 * 2048 * 2048) * 8192 / s / 1e12:.1f} TFLOP/s on active parameters")'
python3 -c "import json; p=json.load(open('$out/plans.txt')); print('plan: GPU', round(p['ranks'][0]['gpu_bytes']/2**30,1), 'GiB, host', round(p['ranks'][0]['host_bytes']/2**30,1), 'GiB, ratio', p['optimizer_ratio'])" 2>/dev/null
"$bin/zerod" --plan --model bench/models/qwen3-30b-a3b --ds-config configs/ds_zero3_auto.json \
  --seq-len 2048 --world-size 2 --ranks-per-host 2 --host-memory 256GiB --gpu-memory 141GiB \
  --activation-checkpointing >"$out/plan_q3.txt" 2>&1
note "Qwen3-30B-A3B plan at world 2" $?
head -40 "$out/plan_q3.txt"; cat "$out/plan_q3.txt" >>"$out/plans.txt"; rm -f "$out/plan_q3.txt"
timeout "$(left 120)" mpirun -np 1 --bind-to none "$bin/zerod_mpi_tests" \
  --gtest_filter='HfFixtureGpuTest*:ZeroInvariantGpuTest.SameLossesAsPlainTrainingOnTheGpu' \
  >"$out/gpu_tests.log" 2>&1
note "GPU fixture and invariant tests" $?
grep -E "mixtral|moe|olmoe|OK \]|FAILED \]" "$out/gpu_tests.log" | head -30
