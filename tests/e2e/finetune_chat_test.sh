#!/usr/bin/env bash
# A chat fine-tune as a user runs it (issue 24), both ways, on the demo chat model
# (configs/models/tiny-chat) and its conversations (data/chats, "messages" jsonl):
#   one-shot   mpirun -np 2 zerod --train ... --data train.jsonl --eval-data eval.jsonl
#              --eval-every 10 --epochs 2 --tensorboard --export-hf
#   service    zerod daemons, zeroctl submit (the same job) --wait, zeroctl report --html
# and checks: the dataset is prepared once (the second run reuses it), the evaluation loss
# is in the step log, TensorBoard (read by tensorboard's own reader) and the report, it
# falls over training, and the export loads in transformers with its tokenizer and chat
# template and generates a reply.
#   tests/e2e/finetune_chat_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$(cd "$1" && pwd); src=$(cd "$2" && pwd)
py=$src/.venv/bin/python
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp "$src"/data/chats/*.jsonl "$work/"  # the prepared files go beside the dataset
run_mpi() { mpirun --oversubscribe --allow-run-as-root -np 2 "$@"; }
common=(--model "$src/configs/models/tiny-chat" --ds-config "$src/configs/ds_zero3_finetune_cpu.json"
        --seq-len 128 --eval-every 10 --epochs 2)

echo "== one-shot"
run_mpi "$bin/zerod" --train "${common[@]}" --data "$work/train.jsonl" --eval-data "$work/eval.jsonl" \
  --tensorboard "$work/tb" --export-hf "$work/hf" --log-format json >"$work/oneshot.log" 2>&1 ||
  { tail -30 "$work/oneshot.log"; exit 1; }
grep -E "prepared into|Num rows|Total optimization" "$work/oneshot.log"
ls "$work"/train.jsonl.zerod-*.bin.samples >/dev/null
"$py" - "$work/oneshot.log" <<'PY'
import json, sys
evals = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{") and "eval_loss" in l]
assert len(evals) >= 3, f"evaluations in the log: {len(evals)}"
print("eval_loss by step:", [(e["step"], round(e["eval_loss"], 3)) for e in evals])
assert evals[-1]["eval_loss"] < evals[0]["eval_loss"] - 0.5, "the evaluation loss did not fall"
PY
"$py" "$src/tests/tools/read_tensorboard.py" "$work/tb" | "$py" -c '
import json, sys
s = json.load(sys.stdin)["scalars"]
assert "Eval/loss" in s, sorted(s)
print("TensorBoard Eval/loss:", [(p[0], round(p[1], 3)) for p in s["Eval/loss"]])'
"$py" - "$work/hf" <<'PY'
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
model = AutoModelForCausalLM.from_pretrained(sys.argv[1])
messages = [{"role": "user", "content": "What is 12 + 7?"}]
ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                              return_dict=True)
out = model.generate(**ids, max_new_tokens=16, do_sample=False,
                     eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"))
reply = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
print("export loaded by transformers; reply to 'What is 12 + 7?':", repr(reply))
assert reply.strip(), "no reply"
PY

echo "== service"
export ZEROD_ADDR=127.0.0.1:$((20000 + RANDOM % 20000))
ctl=$bin/zeroctl
run_mpi "$bin/zerod" --listen "$ZEROD_ADDR" >"$work/daemons.log" 2>&1 &
daemons=$!
trap '$ctl shutdown >/dev/null 2>&1 || kill $daemons 2>/dev/null; wait $daemons 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 120); do $ctl health >/dev/null 2>&1 && break; sleep 0.5; done
job=$($ctl submit "${common[@]}" --data "$work/train.jsonl" --eval-data "$work/eval.jsonl" \
  --name chat --export-hf "$work/hf2" --wait | tail -1) || { tail -30 "$work/daemons.log"; exit 1; }
grep -q "prepared before" "$work/daemons.log" && echo "the dataset's preparation was reused"
job=$($ctl list --json | "$py" -c 'import json,sys; print([json.loads(l) for l in sys.stdin][-1]["job_id"])')
$ctl report "$job" --html "$work/report.html"
grep -q "eval" "$work/report.html" && echo "the report shows the evaluation"
$ctl status "$job"
test -f "$work/hf2/model.safetensors"
echo "finetune_chat: ok"
