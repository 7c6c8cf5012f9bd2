#!/usr/bin/env bash
# The main job, the service way: zerod daemons on 2 ranks under mpirun, a training job
# of the embedded tiny Llama on the shipped corpus submitted with zeroctl and watched to
# its end, the per-rank memory table, a checkpoint, then the daemons shut down.
# Installs what it needs, builds; safe to re-run.   STEPS=300 RANKS=2 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh
zerod_build zerod zeroctl

mkdir -p build/demo
build/bin/zerod --prepare-data --bytes --input data/corpus/vim_user_manual.txt \
  --output build/demo/corpus.bin
# On CPU the float32 variant of the config (float16 matrix products are ~10x slower
# than float32 on x86 cores); otherwise the DeepSpeed config as users have it.
config=configs/ds_zero3_offload_cpu.json
export ZEROD_ADDR=127.0.0.1:${PORT:-7070}
ctl=build/bin/zeroctl

echo "demo: starting ${RANKS:-2} zerod daemons (mpirun) on $ZEROD_ADDR; log in build/demo/daemons.log"
mpirun -np "${RANKS:-2}" build/bin/zerod --listen "$ZEROD_ADDR" >build/demo/daemons.log 2>&1 &
daemons=$!
trap '$ctl shutdown >/dev/null 2>&1 || kill $daemons 2>/dev/null; wait $daemons 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  $ctl health >/dev/null 2>&1 && break
  kill -0 $daemons 2>/dev/null || { cat build/demo/daemons.log; exit 1; }
  sleep 0.5
done
$ctl health

echo "demo: zeroctl submit (configs/models/tiny-llama, $config, ${STEPS:-300} steps)"
job=$($ctl submit --model configs/models/tiny-llama --ds-config "$config" \
  --data build/demo/corpus.bin --steps "${STEPS:-300}" --seq-len 128 --name demo)
$ctl watch "$job"
$ctl memory
$ctl checkpoint "$job" --dir build/demo/checkpoint
$ctl list
$ctl shutdown
wait $daemons
trap - EXIT
echo "demo: done; the daemons' log (with the DeepSpeed-style initialization block) is build/demo/daemons.log"
