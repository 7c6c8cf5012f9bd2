#!/usr/bin/env bash
# deploy/slurm/run.slurm under a real single-node Slurm: start munged, slurmctld and
# slurmd (tests/slurm/local_slurm.sh), `sbatch` the script with the tiny model on CPU
# on one node of 2 tasks (its multi-node paths are the two-host test's: tests/hosts/); no GPUs
# (SBATCH_GPUS_PER_NODE=0), wait for COMPLETED, check the log, stop
# everything by PID. Usage: slurm_test.sh SOURCE_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "slurm_test: slurm-wlm and munge are not installed (scripts/bootstrap.sh installs them)" >&2
  exit 1
fi
work=$(mktemp -d /tmp/zerod-slurm-test.XXXXXX)
source "$src/tests/slurm/local_slurm.sh"
trap 'slurm_down; rm -rf "$work"' EXIT
slurm_up "$work/slurm"

mkdir -p "$work/job/logs"
cat >"$work/job/ds.json" <<'JSON'
{"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2, "gradient_clipping": 1.0,
 "optimizer": {"type": "AdamW", "params": {"lr": 2e-3}},
 "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu", "pin_memory": true},
                       "offload_optimizer": {"device": "cpu", "pin_memory": true}}}
JSON
cd "$work/job"
jid=$(SBATCH_GPUS_PER_NODE=0 ZEROD_ROOT=$src OMP_NUM_THREADS=1 sbatch --parsable --nodes=1 --ntasks-per-node=2 \
  "$src/deploy/slurm/run.slurm" --steps 8 --seq-len 32 --deepspeed_config "$work/job/ds.json" \
  --save-dir "$work/job/ckpt")
echo "slurm_test: submitted batch job $jid"
for _ in $(seq 1 600); do
  [ -z "$(squeue -h -j "$jid" 2>/dev/null)" ] && break
  sleep 0.5
done
info=$(scontrol show job "$jid")
log=$(ls "$work"/job/logs/zerod_"$jid"_*.out 2>/dev/null || true)
if [ -z "$log" ]; then
  # The job never started: say why (its state and reason, the node, Slurm's own logs).
  echo "slurm_test: FAILED: batch job $jid wrote no log" >&2
  grep -o 'JobState=[A-Z]* Reason=[^ ]*' <<<"$info" >&2 || true
  sinfo -N -o '%N %t %E' >&2 || true
  tail -n 20 "$work"/slurm/log/slurmctld.log "$work"/slurm/log/slurmd.log >&2 || true
  exit 1
fi
echo "----- $log"
cat "$log"
echo "-----"
fail() { echo "slurm_test: FAILED: $*" >&2; exit 1; }
grep -q "JobState=COMPLETED" <<<"$info" || fail "job state: $(grep -o 'JobState=[A-Z]*' <<<"$info")"
grep -q "ExitCode=0:0" <<<"$info" || fail "exit code: $(grep -o 'ExitCode=[0-9:]*' <<<"$info")"
grep -q "launched by srun" "$log" || fail "the daemons were not launched by srun"
grep -q "DeepSpeed ZeRO-3 Initialization Complete" "$log" || fail "no initialization block"
grep -q "World size: 2" "$log" || fail "not 2 ranks"
grep -q "SUCCEEDED" "$log" || fail "the training job did not succeed"
grep -q "zerod: shut down" "$log" || fail "the daemons did not shut down"
grep -q "from a login node: ssh -N -L" "$log" || fail "no coordinator address with how to tunnel it"
ls -d "$work"/job/.zerod_run_* >/dev/null 2>&1 && fail "the run's shared files were left behind"
[ -f "$work/job/ckpt/zerod_checkpoint.json" ] || fail "no checkpoint in $work/job/ckpt"
echo "slurm_test: batch job $jid COMPLETED, exit 0:0"

# Preemption as --signal=USR1@120 delivers it, sent at once: Slurm signals the job step
# (the daemons under srun); the running job saves to --save-dir and ends PREEMPTED, and
# the daemons shut down.
jid2=$(SBATCH_GPUS_PER_NODE=0 ZEROD_ROOT=$src OMP_NUM_THREADS=1 sbatch --parsable --nodes=1 --ntasks-per-node=2 \
  "$src/deploy/slurm/run.slurm" --steps 100000 --seq-len 32 --deepspeed_config "$work/job/ds.json" \
  --save-dir "$work/job/ckpt2")
echo "slurm_test: submitted batch job $jid2 (to be signalled)"
log2=""
for _ in $(seq 1 600); do
  log2=$(ls "$work"/job/logs/zerod_"$jid2"_*.out 2>/dev/null || true)
  [ -n "$log2" ] && grep -q " step 3/" "$log2" && break
  sleep 0.5
done
scancel --signal=USR1 "$jid2"
for _ in $(seq 1 600); do
  [ -z "$(squeue -h -j "$jid2" 2>/dev/null)" ] && break
  sleep 0.5
done
echo "----- $log2"
tail -n 12 "$log2"
echo "-----"
grep -q "ended PREEMPTED: stopped by SIGUSR1 after step" "$log2" || fail "the job was not PREEMPTED"
grep -q "zerod: shut down" "$log2" || fail "the daemons did not shut down after the signal"
[ -f "$work/job/ckpt2/zerod_checkpoint.json" ] || fail "no checkpoint in $work/job/ckpt2"
echo "slurm_test: PASSED (batch job $jid COMPLETED, exit 0:0; batch job $jid2 PREEMPTED with a checkpoint)"
