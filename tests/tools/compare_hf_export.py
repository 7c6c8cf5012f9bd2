"""A directory zerod exported (--export-hf), loaded by transformers as a user would: the class
its config.json's architectures names (Gemma3ForCausalLM reads a composite config's
text_config), else AutoModelForCausalLM: no missing or unexpected keys, and the same logits
as zerod computes from it.
  python3 tests/tools/compare_hf_export.py BUILD_BIN_DIR EXPORT_DIR...
Prints one JSON line per directory (several in one process: transformers is imported once);
exits non-zero if any has a missing key or a logit difference over 1e-4."""
import json, os, subprocess, sys
import torch
import transformers

bin_dir = sys.argv[1]
ids = [1, 5, 9, 42, 7, 100, 3, 17, 100, 64, 31, 8]


def check(export):
    """One exported directory: True when it loads with every key and zerod's logits."""
    out = json.loads(subprocess.run([f"{bin_dir}/zerod_logits", export, *map(str, ids)],
                                    check=True, capture_output=True, text=True).stdout)
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
    print(json.dumps({"what": "zerod_export_loaded_by_transformers",
                      "architecture": type(model).__name__,
                      "missing_or_unexpected": missing, "logits_max_abs": diff}), flush=True)
    return diff <= 1e-4 and not missing


results = [check(d) for d in sys.argv[2:]]
sys.exit(0 if results and all(results) else 1)
