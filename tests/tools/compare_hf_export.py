"""A directory zerod exported (--export-hf), loaded by transformers as a user would: the class
its config.json's architectures names (Gemma3ForCausalLM reads a composite config's
text_config), else AutoModelForCausalLM: no missing or unexpected keys, and the same logits
as zerod computes from it.
  python3 tests/tools/compare_hf_export.py BUILD_BIN_DIR EXPORT_DIR
Prints one JSON line; exits non-zero on a missing key or a logit difference over 1e-4."""
import json, os, subprocess, sys
import torch
import transformers

bin_dir, export = sys.argv[1], sys.argv[2]
ids = [1, 5, 9, 42, 7, 100, 3, 17, 100, 64, 31, 8]
out = json.loads(subprocess.run([f"{bin_dir}/zerod_logits", export, *map(str, ids)], check=True,
                                capture_output=True, text=True).stdout)
zerod = torch.tensor(out["logits"]).view(*out["shape"])
with open(os.path.join(export, "config.json")) as f:
    arch = (json.load(f).get("architectures") or ["AutoModelForCausalLM"])[0]
cls = getattr(transformers, arch, transformers.AutoModelForCausalLM)
model, info = cls.from_pretrained(export, output_loading_info=True, dtype=torch.float32,
                                  attn_implementation="eager")
with torch.no_grad():
    hf = model.eval()(torch.tensor([ids])).logits[0].float()
missing = sorted(set(info["missing_keys"]) | set(info["unexpected_keys"]))
diff = (zerod - hf).abs().max().item()
print(json.dumps({"what": "zerod_export_loaded_by_transformers", "architecture": type(model).__name__,
                  "missing_or_unexpected": missing, "logits_max_abs": diff}))
sys.exit(1 if diff > 1e-4 or missing else 0)
