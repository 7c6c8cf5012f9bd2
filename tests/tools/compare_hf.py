"""zerod's Llama against transformers' on the same weights (run where transformers is
installed, e.g. the GPU machine): builds a small random LlamaForCausalLM with
transformers, saves it, asks zerod_logits for its logits, and compares; then loads a
directory zerod exported (--export-hf) with from_pretrained and compares again.

  python3 tests/tools/compare_hf.py BUILD_BIN_DIR WORK_DIR [ZEROD_EXPORT_DIR]
Prints one JSON line per comparison with the max absolute logit difference, and exits
non-zero when a difference exceeds 1e-4 (float32) or a tensor is missing."""
import json, subprocess, sys
import torch
from transformers import LlamaConfig, LlamaForCausalLM

bin_dir, work = sys.argv[1], sys.argv[2]
ids = [1, 5, 9, 42, 7, 200, 3, 17, 100, 64, 31, 8]


def zerod_logits(model_dir):
    out = subprocess.run([f"{bin_dir}/zerod_logits", model_dir, *map(str, ids)], check=True,
                         capture_output=True, text=True).stdout
    j = json.loads(out)
    return torch.tensor(j["logits"]).view(*j["shape"])


def hf_logits(model):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float()


torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                  tie_word_embeddings=False, attn_implementation="eager")
model = LlamaForCausalLM(cfg).float().eval()
model.save_pretrained(f"{work}/hf_random", safe_serialization=True)
failures = 0
diff = (zerod_logits(f"{work}/hf_random") - hf_logits(model)).abs().max().item()
print(json.dumps({"what": "zerod_vs_transformers_logits_max_abs", "model": "random LlamaForCausalLM GQA", "value": diff}))
failures += diff > 1e-4
if len(sys.argv) > 3:
    exported, info = LlamaForCausalLM.from_pretrained(sys.argv[3], output_loading_info=True, torch_dtype=torch.float32)
    missing = sorted(set(info["missing_keys"]) | set(info["unexpected_keys"]))
    diff = (zerod_logits(sys.argv[3]) - hf_logits(exported.eval())).abs().max().item()
    print(json.dumps({"what": "zerod_export_loaded_by_transformers", "missing_or_unexpected": missing, "logits_max_abs": diff}))
    failures += diff > 1e-4 or bool(missing)
print(f"{2 - failures if len(sys.argv) > 3 else 1 - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
