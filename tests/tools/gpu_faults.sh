#!/usr/bin/env bash
# A rank that dies (SIGKILL) or stalls (SIGSTOP) in the middle of GPU training, where the
# ranks spend their time in NCCL collectives (a 0.94B model wholly on the GPUs): every rank
# must end within the collective timeout (10 s here), mpirun must exit non-zero, and the
# output must name the rank. One line per case; logs in OUT_DIR.
#   bash tests/tools/gpu_faults.sh BIN_DIR [NP] [OUT_DIR]
# (MODEL, DS_CONFIG and SEQ_LEN override the model: the tiny one tries the script on a CPU.)
set -uo pipefail
bin=$1 np=${2:-2} out=${3:-/tmp/gpu_faults}
mkdir -p "$out"
data=$out/corpus.bin
"$bin/zerod" --prepare-data --bytes --input data/corpus/vim_user_manual.txt --output "$data" >/dev/null

rank_pid() {  # the pid of MPI rank $1 among the running zerod processes
  local p
  for p in $(pgrep -f "$bin/zerod --train"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && echo "$p"
  done
}

failures=0
for case in KILL:1 STOP:1 STOP:0; do
  sig=${case%:*} victim=${case#*:}
  log=$out/fault_${sig}_rank$victim.log
  mpirun -np "$np" --bind-to none "$bin/zerod" --train --model "${MODEL:-bench/models/llama-0.94b}" \
    --ds-config "${DS_CONFIG:-configs/ds_zero3_auto.json}" --data "$data" --seq-len "${SEQ_LEN:-2048}" --steps 100000 \
    --collective-timeout 10 >"$log" 2>&1 &
  launcher=$!
  for _ in $(seq 1 1200); do grep -q "step 5/" "$log" && break; sleep 0.1; done
  pid=$(rank_pid "$victim")
  if [ -z "$pid" ]; then echo "FAIL $sig rank $victim: never reached step 5"; failures=$((failures + 1)); kill "$launcher"; wait; continue; fi
  start=$(date +%s.%N)
  kill "-$sig" "$pid"
  for _ in $(seq 1 600); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; done
  seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  if kill -0 "$launcher" 2>/dev/null; then
    echo "FAIL $sig rank $victim: still running after 60 s (a hang)"; failures=$((failures + 1))
    pkill -9 -f "$bin/zerod --train"; kill -9 "$launcher"
  fi
  wait "$launcher"; rc=$?
  pkill -9 -f "$bin/zerod --train" 2>/dev/null  # a stopped rank mpirun could not end
  named=$(grep -m1 -o -E "rank $victim [^.:]*|process rank $victim[^.]*" "$log")
  verdict=ok
  if [ "$rc" -eq 0 ] || [ -z "$named" ] || awk -v s="$seconds" 'BEGIN { exit !(s > 30) }'; then
    verdict=FAIL; failures=$((failures + 1))
  fi
  printf '%s %s rank %s: mpirun exit %d after %.1f s; says "%s"\n' "$verdict" "$sig" "$victim" \
    "$rc" "$seconds" "$named"
done
exit $((failures > 0))
