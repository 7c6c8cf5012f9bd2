#!/usr/bin/env bash
# CTest entry: zerod against transformers (pinned in .venv by bootstrap.sh). Trains the
# tiny Llama, the GPT-2 fixture and one fixture of every decoder family (mixtures of experts
# included) 3 steps with zerod,
# exports them, and has transformers load each export (compare_hf.py, compare_hf_export.py).
set -euo pipefail
bin=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
"$bin/zerod" --prepare-data --bytes --input "$src/data/corpus/vim_user_manual.txt" --output "$work/corpus.bin" >/dev/null
"$bin/zerod" --train --model "$src/configs/models/tiny-llama" --ds-config "$src/configs/ds_zero3_offload_cpu.json" \
  --data "$work/corpus.bin" --steps 3 --seq-len 64 --export-hf "$work/exported" >/dev/null
"$src/.venv/bin/python" "$src/tests/tools/compare_hf.py" "$bin" "$work" "$work/exported" 2>/dev/null | grep -v '^Loading\|^Writing'
# GPT-2 (tied wte, Conv1D layouts): trained and exported by zerod, read back by transformers.
"$bin/zerod" --train --model "$src/tests/fixtures/models/gpt2_tied" --ds-config "$src/configs/ds_zero3_offload_cpu.json" \
  --data "$work/corpus.bin" --steps 3 --seq-len 64 --export-hf "$work/exported_gpt2" >/dev/null
exports=("$work/exported_gpt2")  # read back by transformers below, with the others
# Every decoder family (the fixtures of tests/fixtures/models, vocabulary 128): trained 3 steps
# by zerod on ids below 128, exported, and read back by transformers.
"$src/.venv/bin/python" -c "import numpy as np; np.random.default_rng(0).integers(0, 128, 20000).astype('<u2').tofile('$work/ids128.bin')"
# The mixtures of experts too: exported in the Hub's per-expert layout (the fused fixture
# included), which transformers 5 fuses on load with no missing or unexpected keys.
for f in qwen3_qk_norm_bias olmo2_post_norms phi3_partial_longrope_window gemma2_softcap_window \
         gemma3_local_rope_nested mistral_window qwen2_window_layers llama_yarn \
         mixtral_moe qwen2_moe_shared_expert qwen3_moe_mlp_only_norm_topk \
         qwen3_moe_sparse_step_fused olmoe; do
  "$bin/zerod" --train --model "$src/tests/fixtures/models/$f" --ds-config "$src/configs/ds_zero3_offload_cpu.json" \
    --data "$work/ids128.bin" --steps 3 --seq-len 32 --export-hf "$work/exported_$f" >/dev/null
  exports+=("$work/exported_$f")
done
# The tiny Llama saved at 2 ranks, exported from the checkpoint by one process (what
# zero_to_fp32.py does for DeepSpeed users), and loaded by transformers.
# (On the CPU: on a one-GPU machine the second rank would have no GPU of its own.)
mpirun --oversubscribe --allow-run-as-root -np 2 -x CUDA_VISIBLE_DEVICES= "$bin/zerod" --train --model "$src/configs/models/tiny-llama" \
  --ds-config "$src/configs/ds_zero3_offload_cpu.json" --data "$work/corpus.bin" --steps 3 --seq-len 64 \
  --save-dir "$work/ckpt" >/dev/null 2>&1
"$bin/zerod" --export-hf --from-checkpoint "$work/ckpt" --output "$work/from_ckpt" | sed 's/^zerod: //'
exports+=("$work/from_ckpt")
# Every export read back by one Python process (transformers imported once, not per model).
"$src/.venv/bin/python" "$src/tests/tools/compare_hf_export.py" "$bin" "${exports[@]}" 2>/dev/null | grep -v '^Loading\|^Writing'
# A model directory with its tokenizer: the export, and the export of a checkpoint, carry
# the tokenizer files, and AutoTokenizer loads each to the same ids as the source.
m="$work/with_tokenizer"
cp -r "$src/tests/fixtures/models/qwen3_qk_norm_bias" "$m"
cp "$src/tests/fixtures/tokenizers/qwen2/tokenizer.json" "$m/"
echo '{"tokenizer_class": "PreTrainedTokenizerFast"}' >"$m/tokenizer_config.json"
"$bin/zerod" --train --model "$m" --ds-config "$src/configs/ds_zero3_offload_cpu.json" \
  --data "$work/ids128.bin" --steps 2 --seq-len 32 --save-dir "$work/ck_tok" \
  --export-hf "$work/exported_tok" >/dev/null
"$bin/zerod" --export-hf --from-checkpoint "$work/ck_tok" --output "$work/from_ck_tok" >/dev/null
"$src/.venv/bin/python" - "$m" "$work/exported_tok" "$work/from_ck_tok" <<'PY' 2>/dev/null
import json, sys
from transformers import AutoTokenizer
text = "zerod exports a whole model directory: Hello, world!"
want = AutoTokenizer.from_pretrained(sys.argv[1])(text).input_ids
for d in sys.argv[2:]:
    got = AutoTokenizer.from_pretrained(d)(text).input_ids
    assert got == want, (d, got, want)
print(json.dumps({"what": "exported_tokenizer_loaded_by_AutoTokenizer", "dirs": len(sys.argv) - 2,
                  "ids": len(want)}))
PY
