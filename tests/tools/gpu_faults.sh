#!/usr/bin/env bash
# A rank that dies (SIGKILL) or stalls (SIGSTOP) in the middle of GPU training, where the
# ranks spend their time in NCCL collectives (a 0.94B model wholly on the GPUs): every rank
# must end within the collective timeout plus 10 s (20 s here), mpirun must exit non-zero,
# no zerod process may be left, and the output must name the rank. One line per case and
# round, then a count; logs in OUT_DIR.
#   bash tests/tools/gpu_faults.sh BIN_DIR [NP] [OUT_DIR]
# (MODEL, DS_CONFIG and SEQ_LEN override the model: the tiny one tries the script on a CPU.
# CASES, default "KILL:1 STOP:1 KILL:0 STOP:0", are signal:rank; ROUNDS, default 1, repeats
# them; MPIRUN_FLAGS go to mpirun.)
set -uo pipefail
bin=$(cd "$1" && pwd) np=${2:-2} out=${3:-/tmp/gpu_faults}
mine="^$bin/zerod --train"  # this script's ranks only, not another checkout's
mkdir -p "$out"
data=$out/corpus.bin
"$bin/zerod" --prepare-data --bytes --input data/corpus/vim_user_manual.txt --output "$data" >/dev/null

rank_pid() {  # the pid of MPI rank $1 among the running zerod processes
  local p
  for p in $(pgrep -f "$mine"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && echo "$p"
  done
}

failures=0 runs=0
for round in $(seq 1 "${ROUNDS:-1}"); do
for case in ${CASES:-KILL:1 STOP:1 KILL:0 STOP:0}; do
  sig=${case%:*} victim=${case#*:} runs=$((runs + 1))
  log=$out/fault_${sig}_rank${victim}_$round.log
  # shellcheck disable=SC2086  # MPIRUN_FLAGS: e.g. "--oversubscribe --allow-run-as-root" on a CPU
  mpirun -np "$np" --bind-to none ${MPIRUN_FLAGS:-} "$bin/zerod" --train --model "${MODEL:-bench/models/llama-0.94b}" \
    --ds-config "${DS_CONFIG:-configs/ds_zero3_auto.json}" --data "$data" --seq-len "${SEQ_LEN:-2048}" --steps 100000 \
    --collective-timeout 10 >"$log" 2>&1 &
  launcher=$!
  # Step 5 or later (a small model logs every 10th step).
  for _ in $(seq 1 1200); do grep -qE "^step ([5-9]|[1-9][0-9]+)/" "$log" && break; sleep 0.1; done
  pid=$(rank_pid "$victim")
  if [ -z "$pid" ]; then
    echo "FAIL round $round $sig rank $victim: never reached step 5"; failures=$((failures + 1))
    kill "$launcher"; wait; continue
  fi
  start=$(date +%s.%N)
  kill "-$sig" "$pid"
  for _ in $(seq 1 600); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; done
  seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  if kill -0 "$launcher" 2>/dev/null; then
    echo "FAIL round $round $sig rank $victim: still running after 60 s (a hang)"
    failures=$((failures + 1))
    pkill -9 -f "$mine"; kill -9 "$launcher"; wait "$launcher"
    continue
  fi
  wait "$launcher"; rc=$?
  left=$(pgrep -f "$mine" | wc -l)  # every rank must be gone with mpirun
  pkill -9 -f "$mine" 2>/dev/null
  named=$(grep -m1 -o -E "rank $victim [^.:]*|process rank $victim[^.]*" "$log")
  verdict=ok
  if [ "$rc" -eq 0 ] || [ -z "$named" ] || [ "$left" -ne 0 ] ||
     awk -v s="$seconds" 'BEGIN { exit !(s > 20) }'; then
    verdict=FAIL; failures=$((failures + 1))
  fi
  printf '%s round %d %s rank %s: mpirun exit %d after %.1f s, %d zerod left; says "%s"\n' \
    "$verdict" "$round" "$sig" "$victim" "$rc" "$seconds" "$left" "$named"
done
done
echo "faults: $((runs - failures)) of $runs cases ok"
exit $((failures > 0))
