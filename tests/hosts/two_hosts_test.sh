#!/usr/bin/env bash
# zerod across two hosts, simulated on one machine: Open MPI with a hostfile of two names,
# `hosta` and `hostb` (2 ranks each), and a launch agent (host_agent.sh) that starts each
# host's ranks in their own UTS and mount namespaces: their own hostname, private /tmp and
# /dev/shm, MPI between them over TCP, the activity board over UDP. Checks:
#   1. 4 steps across the two hosts give the losses of 4 ranks on one host (the reference
#      trains 8), and save a checkpoint on the shared path;
#   2. resumed across the two hosts, steps 5-8 give the reference's losses;
#   3. a save directory on node-local storage (/tmp) is refused, naming the host that does
#      not see rank 0's file;
#   4. a rank on the other host blocked outside MPI (ZEROD_TEST_STALL) is named with its
#      host, in one report, and every rank is gone within the timeout + 10 s;
#   5. SIGKILL of the other host's ranks ends every rank;
#   6. an error found before MPI starts is printed by rank 0 and by the other host's first
#      rank (one line per host).
# Usage: two_hosts_test.sh BIN_DIR SOURCE_DIR. Skips (exit 77) where unshare is not allowed.
set -euo pipefail
bin=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
agent=$src/tests/hosts/host_agent.sh
if ! unshare --uts --mount --fork true 2>/dev/null; then
  echo "two_hosts_test: SKIPPED: unshare of UTS and mount namespaces is not allowed here" >&2
  exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# The shared path: not under /tmp, which each simulated host has its own of.
work=$(mktemp -d "${ZEROD_SHARED_DIR:-$bin/..}/two-hosts.XXXXXX")
pids_file=$work/pids
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "two_hosts_test: FAILED: $*" >&2; exit 1; }

printf 'hosta slots=2\nhostb slots=2\n' >"$work/hostfile"
"$bin/zerod" --prepare-data --bytes --input "$src/data/corpus/vim_user_manual.txt" \
  --output "$work/corpus.bin" >/dev/null
cat >"$work/ds.json" <<'JSON'
{"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2, "gradient_clipping": 1.0,
 "optimizer": {"type": "AdamW", "params": {"lr": 2e-3}},
 "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},
                       "offload_optimizer": {"device": "cpu"}}}
JSON
train="$bin/zerod --train --model $src/configs/models/tiny-llama --ds-config $work/ds.json \
  --data $work/corpus.bin --seq-len 16 --log-format json"
one_host() { timeout 120 mpirun -np 4 -x OMP_NUM_THREADS=1 "$@"; }
two_hosts() {
  timeout 120 mpirun --hostfile "$work/hostfile" --mca plm_rsh_agent "$agent" \
    --mca plm_rsh_no_tree_spawn 1 -np 4 -x OMP_NUM_THREADS=1 "$@"
}
# step -> loss of a run's JSON step lines, one per line.
losses() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        j = json.loads(line)
        if "step" in j and "loss" in j: print(j["step"], repr(j["loss"]))' "$1"; }
# Compares step losses of two files over the steps of the second (relative 1e-5: MPI's
# reductions over TCP and over shared memory may add in another order).
same_losses() { python3 -c '
import sys
ref = dict(l.split() for l in open(sys.argv[1]))
got = dict(l.split() for l in open(sys.argv[2]))
assert got, "no steps in " + sys.argv[2]
for s, v in got.items():
    r = float(ref[s]); d = abs(float(v) - r) / max(abs(r), 1e-12)
    print(f"step {s}: one host {r:.7f}, two hosts {float(v):.7f}, relative {d:.1e}")
    assert d < 1e-5, f"step {s} differs"' "$1" "$2"; }

echo "== 1. the same losses as one host at world 4, and a checkpoint on the shared path"
one_host $train --steps 8 >"$work/one.log" 2>&1 || { cat "$work/one.log"; fail "one-host run"; }
two_hosts $train --steps 4 --save-dir "$work/ckpt" >"$work/two.log" 2>&1 ||
  { cat "$work/two.log"; fail "two-host run"; }
grep -q "World size: 4" "$work/two.log" || fail "not 4 ranks"
losses "$work/one.log" >"$work/one.losses"
losses "$work/two.log" >"$work/two.losses"
same_losses "$work/one.losses" "$work/two.losses" || fail "two hosts' losses differ from one host's"
[ -f "$work/ckpt/rank_00003_of_00004.safetensors" ] || fail "no rank 3 shard in the checkpoint"

echo "== 2. resumed across the two hosts: steps 5-8 as the uninterrupted run"
two_hosts $train --steps 8 --resume "$work/ckpt" >"$work/resume.log" 2>&1 ||
  { cat "$work/resume.log"; fail "resumed run"; }
losses "$work/resume.log" >"$work/resume.losses"
same_losses "$work/one.losses" "$work/resume.losses" || fail "the resumed losses differ"

echo "== 3. a node-local save directory is refused naming the host"
if two_hosts $train --steps 2 --save-dir /tmp/zerod-node-local >"$work/local.log" 2>&1; then
  fail "a save directory in node-local /tmp was accepted"
fi
grep -q "does not see the file rank 0 wrote" "$work/local.log" || { cat "$work/local.log"; fail "no shared-path error"; }
grep -q "(host hostb)" "$work/local.log" || { cat "$work/local.log"; fail "the host is not named"; }
grep "does not see" "$work/local.log" | head -1

echo "== 4. a rank on the other host blocked outside MPI is named, with its host"
start=$(date +%s.%N)
set +e
two_hosts -x ZEROD_TEST_STALL=3:3 $train --steps 1000 --collective-timeout 5 >"$work/stall.log" 2>&1
rc=$?
set -e
end=$(date +%s.%N)
seconds=$(python3 -c "print(round($end - $start, 1))")
[ "$rc" -ne 0 ] || fail "the stalled run exited 0"
grep -q "ZEROD_TEST_STALL: blocking" "$work/stall.log" || { cat "$work/stall.log"; fail "the hook did not block"; }
reports=$(grep -c "collective timeout:\|watchdog:" "$work/stall.log" || true)
[ "$reports" -eq 1 ] || { cat "$work/stall.log"; fail "$reports reports, not one"; }
grep -E "watchdog: rank 3 \(host hostb\)|rank 3 did not arrive \(on host hostb" "$work/stall.log" ||
  { cat "$work/stall.log"; fail "rank 3 on hostb is not named"; }
echo "stalled run ended after $seconds s (start-up included)"

echo "== 5. SIGKILL of the other host's ranks ends every rank"
set +e
two_hosts -x ZEROD_TEST_TAG=kill$$ $train --steps 1000 >"$work/kill.log" 2>&1 &
run=$!
set -e
for _ in $(seq 1 600); do grep -q '"step":3,' "$work/kill.log" && break; sleep 0.1; done
victims=()
for p in $(pgrep -x zerod); do
  env=$( { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null || true)
  grep -q "^ZEROD_TEST_TAG=kill$$" <<<"$env" || continue
  # hostb's ranks: their UTS namespace's hostname.
  [ "$(nsenter -t "$p" -u hostname 2>/dev/null)" = hostb ] && victims+=("$p")
done
[ "${#victims[@]}" -eq 2 ] || fail "found ${#victims[@]} ranks on hostb, not 2"
kill -9 "${victims[@]}"
killed=$(date +%s)
set +e
wait "$run"
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "mpirun exited 0 after hostb's ranks were killed"
left=$(for p in $(pgrep -x zerod); do
  { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -q "^ZEROD_TEST_TAG=kill$$" && echo "$p"
done || true)
[ -z "$left" ] || fail "ranks still running: $left"
echo "every rank gone $(( $(date +%s) - killed )) s after the kill (mpirun exit $rc)"
gone=$(( $(date +%s) - killed ))
[ "$gone" -le 15 ] || fail "the last rank went $gone s after the kill"

echo "== 6. an error before MPI is printed by the other host too, naming its rank and host"
if two_hosts "$bin/zerod" --listen 127.0.0.1:0 --token-file /tmp/zerod-no-such-token \
  >"$work/usage.log" 2>&1; then
  fail "a missing --token-file was accepted"
fi
grep -q "^zerod: error: --token-file" "$work/usage.log" || { cat "$work/usage.log"; fail "rank 0 said nothing"; }
grep "zerod: error (rank 2, host hostb): --token-file" "$work/usage.log" ||
  { cat "$work/usage.log"; fail "hostb's first rank said nothing"; }
[ "$(grep -c "zerod: error" "$work/usage.log")" -eq 2 ] || { cat "$work/usage.log"; fail "not one line per host"; }
echo "two_hosts_test: PASSED"
