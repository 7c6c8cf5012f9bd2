#!/usr/bin/env bash
# zerod and its peers on the GPU machine, in one run: the same Llama shapes, batch
# (4 x 2048 tokens per GPU), bf16, gradient clipping 1.0. zerod's step lines, its plan
# (`zerod --plan`, the prediction beside each measured peak) and the peers' JSON go to
# $OUT/bench.jsonl; bench/summarize.py prints the table RESULTS.md records.
#   OUT=$OUT bench/gpu_bench.sh SECTION...
# Sections (in the order given):
#   adam       CpuAdam variants + host bandwidth (zerod_cpu_adam_bench), torch fused CPU AdamW
#   z094seed   zerod 0.94B, the seed's config (both offloads, ratio 1), no checkpointing
#   z674seed   zerod 6.74B, the seed's config, checkpointing
#   z674auto   zerod 6.74B, configs/ds_zero3_auto.json, checkpointing
#   z13auto    zerod 13B, auto config, checkpointing
#   z674ac / z13ac / z155ac / zolmoeac  the same shapes with --activation-checkpointing auto:
#              the plan recomputes only the layers memory requires
#   z674base / z13base  those shapes as before both: every unit recomputed, 16-bit shards
#              kept ("zerod_derived_weights": false)
#   z155auto   zerod 15.5B (the largest Llama shape --plan fits with kept host shards), auto
#              config, checkpointing
#   z168ac / z181ac  zerod 16.83B (52 layers) and 18.09B (56 layers, the largest the plan fits on
#              one H200 + 128 GiB once host shards are made from their masters), auto, ckpt auto
#   z674seed_delay / z13ac_delay  z674seed and z13ac with "zerod_delayed_update" (the opt-in
#              mode that changes the math: host units a step late after 1 exact step)
#   z094curve / z094curve_delay  zerod 0.94B, the seed's config, 250 steps (BENCH_STEPS does
#              not apply), exact and delayed: the loss curves to compare
#   z13seed    zerod 13B, the seed's config: --plan refuses it at world 1 (exit 1)
#   z674seed_noclip / z674seed_noclip_noearly  without clipping: host units updated during
#              the backward (Note [early update]) and, to compare, not
#   z674seed_spec  z674seed with "zerod_speculative_update": true (host units updated during
#              the backward into spare arrays, dropped and updated again when the clip triggers)
#   z674seed_dhost  z674seed with every host shard made from its master at each gather
#              ("zerod_derived_host_weights": true: twice the uploads, no 16-bit write by CpuAdam)
#   z674seed_{nospec,noclip,noclip_nospec} / z13auto_{nospec,noclip}  the same runs with
#              "zerod_speculative_update": false and/or "gradient_clipping": 0 (issue 26:
#              host updates during the backward, undone when the clip triggers)
#   z30auto    zerod 32.5B (LLaMA-30B shape), auto config at micro-batch 1 (2 GPUs: what fits)
#   zq3_14b    zerod, a Qwen3-14B shape (q/k norms, vocab 151936), auto config, checkpointing
#   zg3_12b    zerod, a Gemma-3-12B shape (window 1024 on 5 of 6 layers, vocab 262208), auto
#   zmis4k / zmis8k  zerod, a Mistral-7B shape with window 4096 at --seq-len 4096 / 8192
#              (micro-batch 1): the GPU peak should grow linearly with the sequence
#   fsdpq3 / dsq3 / fsdpg3 / dsg3  FSDP2 + CPUOffloadPolicy and DeepSpeed on those shapes,
#              built by transformers from the same config.json
#   zolmoe     zerod, an OLMoE-1B-7B shape (16 layers, hidden 2048, 64 experts of 1024, top 8,
#              vocab 50304; 6.92B, 1.28B active), auto config, checkpointing
#   zq3moe     zerod, Qwen3-30B-A3B's layer cut to 24 of its 48 layers (128 experts of 768,
#              top 8, vocab 151936; 15.3B, 2.0B active), auto config, checkpointing
#   zdolmoe / zdq3moe  zerod, the dense models with those shapes' active parameters (the
#              experts' top 8 as one MLP of 8 x their width): the MoE targets are half
#              their TFLOP/s
#   zq3_30b_plan  zerod --plan of Qwen3-30B-A3B whole (48 layers) at world 2 (the plan only)
#   plainolmoe / fsdpolmoe / dsolmoe, plainq3moe / fsdpq3moe / dsq3moe  the peers on the
#              MoE shapes (transformers' own modeling; FLOPs on active parameters)
#   plain7b    peer_bench.py gpu7b: plain PyTorch, 6.74B all on the GPU, checkpointing
#   fsdp094 / fsdp7b / fsdp13b   peer_bench.py fsdp / big / big13 (FSDP2 + CPUOffloadPolicy)
#   ds094 / ds7b / ds13b         ds_bench.py 1b / 7b --ckpt / 13b --ckpt (DeepSpeed, both offloads)
#   NP (default 1): ranks, one per GPU. zerod runs under mpirun -np NP, FSDP2 under torchrun
#   (bench/fsdp_world.py) and DeepSpeed under torchrun, each process with nproc/NP OpenMP
#   threads; tags get _wNP. Tokens per step: 4 x 2048 per GPU (z30auto: 1 x 2048).
#   ZEROD_HOST_MEMORY: the host memory to plan for, where MemTotal understates it (the
#   multi-GPU machines' memory grows as it is used: set 256GiB on nvidia-h200-x2).
#   BENCH_DEADLINE (seconds since the epoch): every section's timeout is cut to end before
#   it, and a section with less than 20 s left is skipped. BENCH_STEPS: zerod's steps per
#   run. Logs go to $LOGS (default
#   $OUT/logs); bench.jsonl and summary.txt to $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/zerod-bench}; mkdir -p "$OUT"
LOGS=${LOGS:-$OUT/logs}; mkdir -p "$LOGS"
limit_for() {  # wanted-seconds -> what the deadline allows (0: skip)
  local want=$1
  [ -z "${BENCH_DEADLINE:-}" ] && { echo "$want"; return; }
  local left=$((BENCH_DEADLINE - $(date +%s) - 5))
  [ "$left" -lt 20 ] && { echo 0; return; }
  echo $((want < left ? want : left))
}
BIN=${BIN:-build-gpu/bin}
SEED=configs/ds_zero3_offload_bf16.json  # the seed's file with bf16 and a batch of 4
AUTO=configs/ds_zero3_auto.json
DATA=$LOGS/corpus.bin
[ -f "$DATA" ] || "$BIN/zerod" --prepare-data --bytes --input data/corpus/vim_user_manual.txt \
  --output "$DATA" >/dev/null
NP=${NP:-1}
W=$([ "$NP" -gt 1 ] && echo "_w$NP")
if [ "$NP" -gt 1 ]; then  # the seed's batch is per GPU: train_batch_size grows with the ranks
  python3 -c "import json; d=json.load(open('$SEED')); d['train_batch_size'] *= $NP; \
json.dump(d, open('$LOGS/seed_w$NP.json', 'w'), indent=1)"
  SEED=$LOGS/seed_w$NP.json
fi
# torchrun would give each process one thread: the peers' CPU optimizers need the cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(($(nproc) / NP))}

variant() {  # base-config suffix -> a copy with the suffix's keys changed, its path
  local out=$LOGS/$(basename "$1" .json)_$2.json
  python3 -c "import json; d=json.load(open('$1')); s='$2'
if 'nospec' in s: d['zero_optimization']['zerod_speculative_update'] = False
elif 'spec' in s: d['zero_optimization']['zerod_speculative_update'] = True
if 'noearly' in s: d['zero_optimization']['zerod_early_update'] = False
if 'noclip' in s: d['gradient_clipping'] = 0
if 'kept' in s: d['zero_optimization']['zerod_derived_weights'] = False
if 'dhost' in s: d['zero_optimization']['zerod_derived_host_weights'] = True
if 'pcpu' in s: d['zero_optimization']['offload_param']['device'] = 'cpu'
if 'pnone' in s: d['zero_optimization']['offload_param']['device'] = 'none'
if 'delay' in s: d['zero_optimization']['zerod_delayed_update'] = True
if 'delayfast' in s: d['zero_optimization']['zerod_delayed_update_warmup_steps'] = 1
json.dump(d, open('$out', 'w'), indent=1)"
  echo "$out"
}
run_zerod() {  # tag model config steps timeout extra-flags...
  local tag=$1$W model=$2 config=$3 steps=${FIXED_STEPS:-${BENCH_STEPS:-$4}} limit; limit=$(limit_for "$5"); shift 5
  [ "$limit" -eq 0 ] && { echo "== zerod $tag skipped (deadline)"; return; }
  echo "== zerod $tag ($(date +%T))"
  "$BIN/zerod" --plan --model "bench/models/$model" --ds-config "$config" --seq-len "${SEQ:-2048}" \
    --world-size "$NP" --ranks-per-host "$NP" --host-memory "${ZEROD_HOST_MEMORY:-auto}" \
    --log-format json "$@" \
    > "$LOGS/plan_$tag.json" 2> "$LOGS/plan_$tag.err"
  python3 -c "import json,sys; p=json.load(open('$LOGS/plan_$tag.json')); \
print(json.dumps({'tag': '$tag', 'model': 'bench/models/$model', 'world': $NP, 'batch': json.load(open('$config'))['train_micro_batch_size_per_gpu'], \
'parameters': p['parameters'], 'plan': {k: p.get(k) for k in ('fits','optimizer_ratio','activation_checkpointing','recomputed_layers','layers')}, \
'plan_gpu_bytes': p['ranks'][0]['gpu_bytes'], 'plan_host_bytes': p['ranks'][0]['host_bytes']}))" \
    >> "$OUT/bench.jsonl" 2>/dev/null
  timeout "$limit" mpirun -np "$NP" --bind-to none -x OMP_NUM_THREADS "$BIN/zerod" --train --model "bench/models/$model" \
    --ds-config "$config" --data "$DATA" --seq-len "${SEQ:-2048}" --steps "$steps" --log-format json "$@" \
    > "$LOGS/zerod_$tag.log" 2>&1
  echo "   exit $? ($(date +%T))"; grep -v '^{' "$LOGS/zerod_$tag.log" | tail -4
  grep '^{' "$LOGS/zerod_$tag.log" | sed "s/^{/{\"tag\": \"$tag\", /" >> "$OUT/bench.jsonl"
}
peer() {  # tag timeout command...
  local tag=$1$W limit; limit=$(limit_for "$2"); shift 2
  [ "$limit" -eq 0 ] && { echo "== $tag skipped (deadline)"; return; }
  echo "== $tag ($(date +%T), up to ${limit}s)"
  timeout "$limit" "$@" > "$LOGS/$tag.log" 2>&1; local rc=$?
  echo "   exit $rc ($(date +%T))"; tail -3 "$LOGS/$tag.log"
  grep '^{' "$LOGS/$tag.log" | sed "s/^{/{\"tag\": \"$tag\", \"exit\": $rc, /" >> "$OUT/bench.jsonl"
  [ "$rc" -ne 0 ] && echo "{\"tag\": \"$tag\", \"failed\": true, \"exit\": $rc, \"why\": $(tail -c 300 "$LOGS/$tag.log" | python3 -c 'import json,sys;print(json.dumps(sys.stdin.read()))')}" >> "$OUT/bench.jsonl"
  dmesg 2>/dev/null | grep -i -E "killed process|out of memory" | tail -2
}
ds_ready() {
  [ -n "${DS_READY:-}" ] && return
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu-deps/whl/*.whl && DS_READY=1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
}

for s in "$@"; do
  case $s in
    adam) "$BIN/zerod_cpu_adam_bench" | tee -a "$OUT/bench.jsonl"
          python3 .gpu-deps/peer_bench.py adam hostbw | tee -a "$OUT/bench.jsonl" ;;
    z094seed) run_zerod z094seed llama-0.94b "$SEED" 8 300 ;;
    z674seed) run_zerod z674seed llama-6.74b "$SEED" 8 420 --activation-checkpointing ;;
    z674auto) run_zerod z674auto llama-6.74b "$AUTO" 8 420 --activation-checkpointing ;;
    z13auto) run_zerod z13auto llama-13b "$AUTO" 7 540 --activation-checkpointing ;;
    # The same with the plan choosing which layers to recompute (Checkpointing::kAuto).
    z674ac) run_zerod z674ac llama-6.74b "$AUTO" 8 420 --activation-checkpointing auto ;;
    # Before the plan chose checkpointing and derived the 16-bit shards: the baselines.
    z674base) run_zerod z674base llama-6.74b "$(variant "$AUTO" kept)" 8 420 --activation-checkpointing on ;;
    z13base) run_zerod z13base llama-13b "$(variant "$AUTO" kept)" 7 540 --activation-checkpointing on ;;
    z674ac_pcpu|z674ac_pnone)  # the plan's choice with the 16-bit shards' place fixed
      run_zerod "$s" llama-6.74b "$(variant "$AUTO" "${s#z674ac_}")" 8 420 --activation-checkpointing auto ;;
    z13ac) run_zerod z13ac llama-13b "$AUTO" 7 540 --activation-checkpointing auto ;;
    z155ac) run_zerod z155ac llama-15.5b "$AUTO" 6 580 --activation-checkpointing auto ;;
    z168ac) run_zerod z168ac llama-16.8b "$AUTO" 5 580 --activation-checkpointing auto ;;
    z181ac) run_zerod z181ac llama-18.1b "$AUTO" 5 580 --activation-checkpointing auto ;;
    zolmoeac) run_zerod zolmoeac olmoe-1b-7b "$AUTO" 6 420 --activation-checkpointing auto ;;
    z155auto) run_zerod z155auto llama-15.5b "$AUTO" 6 580 --activation-checkpointing ;;
    z674seed_delay) run_zerod z674seed_delay llama-6.74b "$(variant "$SEED" delayfast)" 8 420 --activation-checkpointing ;;
    z13ac_delay) run_zerod z13ac_delay llama-13b "$(variant "$AUTO" delayfast)" 7 540 --activation-checkpointing auto ;;
    z094curve) FIXED_STEPS=250 run_zerod z094curve llama-0.94b "$SEED" 250 240 ;;
    z094curve_delay) FIXED_STEPS=250 run_zerod z094curve_delay llama-0.94b "$(variant "$SEED" delay)" 250 240 ;;
    z13seed) run_zerod z13seed llama-13b "$SEED" 6 300 --activation-checkpointing ;;
    z674seed_*) run_zerod "$s" llama-6.74b "$(variant "$SEED" "${s#z674seed_}")" 8 420 \
                  --activation-checkpointing ;;
    z13auto_*) run_zerod "$s" llama-13b "$(variant "$AUTO" "${s#z13auto_}")" 7 540 \
                 --activation-checkpointing ;;
    z30auto) run_zerod z30auto llama-30b bench/configs/ds_zero3_auto_mb1.json 5 560 \
               --activation-checkpointing ;;
    zq3_14b) run_zerod zq3_14b qwen3-14b "$AUTO" 6 420 --activation-checkpointing ;;
    zg3_12b) run_zerod zg3_12b gemma3-12b "$AUTO" 6 420 --activation-checkpointing ;;
    zmis4k) SEQ=4096 run_zerod zmis4k mistral-7b bench/configs/ds_zero3_auto_mb1.json 4 300 \
              --activation-checkpointing ;;
    zmis8k) SEQ=8192 run_zerod zmis8k mistral-7b bench/configs/ds_zero3_auto_mb1.json 4 300 \
              --activation-checkpointing ;;
    fsdpq3) peer fsdpq3 150 python3 .gpu-deps/peer_bench.py fsdp=bench/models/qwen3-14b ;;
    fsdpg3) peer fsdpg3 150 python3 .gpu-deps/peer_bench.py fsdp=bench/models/gemma3-12b ;;
    dsq3) ds_ready; peer dsq3 150 torchrun --nproc-per-node "$NP" .gpu-deps/ds_bench.py \
            bench/models/qwen3-14b --ckpt ;;
    dsg3) ds_ready; peer dsg3 150 torchrun --nproc-per-node "$NP" .gpu-deps/ds_bench.py \
            bench/models/gemma3-12b --ckpt ;;
    zolmoe) run_zerod zolmoe olmoe-1b-7b "$AUTO" 6 420 --activation-checkpointing ;;
    zq3moe) run_zerod zq3moe qwen3-moe-15b "$AUTO" 6 480 --activation-checkpointing ;;
    zdolmoe) run_zerod zdolmoe llama-1.28b-olmoe-active "$AUTO" 8 240 --activation-checkpointing ;;
    zdq3moe) run_zerod zdq3moe qwen3-2b-moe-active "$AUTO" 8 240 --activation-checkpointing ;;
    zq3_30b_plan) "$BIN/zerod" --plan --model bench/models/qwen3-30b-a3b --ds-config "$AUTO" \
                    --seq-len 2048 --world-size 2 --ranks-per-host 2 \
                    --host-memory "${ZEROD_HOST_MEMORY:-256GiB}" --activation-checkpointing \
                    | tee "$LOGS/plan_q3_30b_w2.txt" ;;
    plainolmoe) peer plainolmoe 200 python3 .gpu-deps/peer_bench.py plain=bench/models/olmoe-1b-7b ;;
    fsdpolmoe) peer fsdpolmoe 200 python3 .gpu-deps/peer_bench.py fsdp=bench/models/olmoe-1b-7b ;;
    dsolmoe) ds_ready; peer dsolmoe 200 torchrun --nproc-per-node "$NP" .gpu-deps/ds_bench.py \
               bench/models/olmoe-1b-7b --ckpt ;;
    plainq3moe) peer plainq3moe 150 python3 .gpu-deps/peer_bench.py plain=bench/models/qwen3-moe-15b ;;
    fsdpq3moe) peer fsdpq3moe 200 python3 .gpu-deps/peer_bench.py fsdp=bench/models/qwen3-moe-15b ;;
    dsq3moe) ds_ready; peer dsq3moe 200 torchrun --nproc-per-node "$NP" .gpu-deps/ds_bench.py \
               bench/models/qwen3-moe-15b --ckpt ;;
    plain7b) peer plain7b 150 python3 .gpu-deps/peer_bench.py gpu7b ;;
    fsdp094) peer fsdp094 300 python3 .gpu-deps/peer_bench.py fsdp ;;
    fsdp7b) if [ "$NP" -eq 1 ]; then peer fsdp7b 200 python3 .gpu-deps/peer_bench.py big
            else peer fsdp7b 300 torchrun --nproc-per-node "$NP" bench/fsdp_world.py 7b; fi ;;
    fsdp13b) if [ "$NP" -eq 1 ]; then peer fsdp13b 420 python3 .gpu-deps/peer_bench.py big13
             else peer fsdp13b 420 torchrun --nproc-per-node "$NP" bench/fsdp_world.py 13b; fi ;;
    ds094) ds_ready; peer ds094 420 torchrun --nproc-per-node "$NP" .gpu-deps/ds_bench.py 1b ;;
    ds7b) ds_ready; peer ds7b 300 torchrun --nproc-per-node "$NP" .gpu-deps/ds_bench.py 7b --ckpt ;;
    ds13b) ds_ready; peer ds13b 300 torchrun --nproc-per-node "$NP" .gpu-deps/ds_bench.py 13b --ckpt ;;
    *) echo "unknown section $s" ;;
  esac
done
python3 bench/summarize.py "$OUT/bench.jsonl" | tee "$OUT/summary.txt"
