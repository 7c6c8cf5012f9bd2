#!/usr/bin/env bash
# The mixture-of-experts benchmark of issue 25 in one call on one H200 (+128 GiB host):
# zerod on the OLMoE-1B-7B and Qwen3-MoE (24 layers) shapes and on the dense models with
# their active parameters, the peers (plain PyTorch, FSDP2 + CPUOffloadPolicy, DeepSpeed)
# on the MoE shapes, and Qwen3-30B-A3B's plan at world 2; batch 4 x 2048, bf16, auto
# config, checkpointing. Sections in priority order under one deadline (gpu_bench.sh's
# BENCH_DEADLINE), so a short call still measures the most important ones first.
#   source .gpu-deps/env.sh; bench/gpu_build.sh && OUT=$OUT bench/moe_bench.sh [SECONDS]
# SECONDS (default 540): the whole run's budget from now.
set -uo pipefail
cd "$(dirname "$0")/.."
export BENCH_DEADLINE=$(( $(date +%s) + ${1:-540} ))
export BENCH_STEPS=${BENCH_STEPS:-5}
exec bench/gpu_bench.sh zq3_30b_plan zolmoe zdolmoe plainolmoe fsdpolmoe zq3moe zdq3moe \
  dsolmoe plainq3moe fsdpq3moe dsq3moe
