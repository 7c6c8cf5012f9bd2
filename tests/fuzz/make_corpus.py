#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora, tests/fuzz/corpus/<target>/seed_*, from the tree's
real files (configs, fixtures) and a few small hand-made inputs. Run it again when the
formats change; it only rewrites seed_* files, never the crash_* regression inputs kept
beside them. Needs protoc (the JobSpec seeds are text-format messages, serialized).

    python3 tests/fuzz/make_corpus.py
"""
import json
import pathlib
import shutil
import struct
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests/fuzz/corpus"


def target_dir(name):
    d = CORPUS / name
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("seed_*"):
        old.unlink()
    return d


def copy_seeds(name, paths, seed_name=lambda rel: "_".join(rel.parts)):
    d = target_dir(name)
    for p in paths:
        shutil.copyfile(p, d / ("seed_" + seed_name(p.relative_to(ROOT))))
    return d


def ds_config():
    real = sorted(ROOT.glob("configs/*.json")) + sorted(ROOT.glob("bench/configs/*.json"))
    real += sorted(ROOT.glob("tests/fixtures/ds_configs/*.json"))  # as found in the wild
    real += [ROOT / "tests/fixtures/models/ds_adamw.json"]
    # A Hugging Face config.json too: a common mistake is passing one for the other.
    real += [ROOT / "configs/models/tiny-llama/config.json"]
    d = copy_seeds("ds_config", real)
    # What the tests cover that no config file shows: "auto" batch arithmetic, bf16, a
    # static loss scale, the WarmupDecayLR schedule, placement "auto".
    inline = {
        "auto_batch": {"train_batch_size": 24, "gradient_accumulation_steps": "auto",
                       "train_micro_batch_size_per_gpu": "auto",
                       "zero_optimization": {"stage": 3}},
        "bf16_decay": {"train_batch_size": 8, "bf16": {"enabled": True},
                       "scheduler": {"type": "WarmupDecayLR",
                                     "params": {"warmup_min_lr": 0, "warmup_max_lr": 1e-3,
                                                "warmup_num_steps": 10,
                                                "total_num_steps": 100}},
                       "zero_optimization": {"stage": 3,
                                             "offload_optimizer": {"device": "auto",
                                                                   "ratio": 0.5}}},
        "fp16_static": {"train_batch_size": 2, "fp16": {"enabled": True, "loss_scale": 128},
                        "optimizer": {"type": "Adam", "params": {"adam_w_mode": False}},
                        "zero_optimization": {"stage": 3}},
    }
    for name, cfg in inline.items():
        (d / f"seed_{name}.json").write_text(json.dumps(cfg, indent=1))


def safetensors_file(tensors, metadata=None):
    """tensors: [(name, dtype, shape)]; the layout SafetensorsPrologue writes, zero data."""
    size = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I32": 4, "I64": 8, "U8": 1}
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape in tensors:
        n = size[dtype]
        for s in shape:
            n *= s
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + bytes(offset)


def safetensors():
    d = target_dir("safetensors")
    seeds = {
        "llama_like": safetensors_file(
            [("model.embed_tokens.weight", "F32", [8, 4]),
             ("model.layers.0.self_attn.q_proj.weight", "BF16", [4, 4]),
             ("model.norm.weight", "F32", [4])], {"format": "pt"}),
        "all_dtypes": safetensors_file(
            [(f"t_{t}", t, [2]) for t in ("F32", "F16", "BF16", "F64", "I32", "I64", "U8")]),
        "checksum": safetensors_file([("w", "BF16", [2, 2])],
                                     {"format": "pt", "zerod_data_crc32c": "00000000"}),
        "empty_and_scalar": safetensors_file([("empty", "F32", [0, 3]), ("scalar", "F64", [])]),
    }
    for name, blob in seeds.items():
        (d / f"seed_{name}.safetensors").write_bytes(blob)
    # A real file's header (transformers wrote it) without its 90 KB of data: the tensors
    # then point past the end, the truncated-download case.
    real = (ROOT / "tests/fixtures/models/qwen2_tied/model.safetensors").read_bytes()
    (d / "seed_qwen2_tied_header_only.safetensors").write_bytes(
        real[:8 + struct.unpack("<Q", real[:8])[0]])


def tokenizer():
    copy_seeds("tokenizer", sorted(ROOT.glob("tests/fixtures/tokenizers/*/tokenizer.json")),
               lambda rel: rel.parts[-2] + ".json")


def checkpoint_meta():
    d = target_dir("checkpoint_meta")
    meta = {"format": 1, "step": 120, "lr_iteration": 118, "world_size": 2,
            "num_parameters": 1048576, "dtype": "float16",
            "loss_scaler": {"scale": 32768.0, "hysteresis_left": 2, "iteration": 120,
                            "last_overflow_iteration": 17}}
    (d / "seed_fp16.json").write_text(json.dumps(meta, indent=2) + "\n")  # as WriteMeta does
    meta.update(dtype="bfloat16", step=0, lr_iteration=0, world_size=1)
    meta["loss_scaler"] = {"scale": 1.0, "hysteresis_left": 0, "iteration": 0,
                           "last_overflow_iteration": -1}
    (d / "seed_bf16_fresh.json").write_text(json.dumps(meta, indent=2) + "\n")


def job_spec():
    d = target_dir("job_spec")
    # Paths are relative to the checkout: fuzz.sh runs the fuzzers from its root.
    specs = {
        "minimal": 'model_dir: "configs/models/tiny-llama" '
                   'ds_config_path: "configs/ds_zero3_offload.json" '
                   'data_path: "README.md" steps: 10',
        "inline_config": 'model_dir: "configs/models/tiny-llama" '
                         'ds_config_json: "{\\"train_batch_size\\": 2, '
                         '\\"zero_optimization\\": {\\"stage\\": 3}}" '
                         'data_path: "README.md" data_dtype: "uint32" steps: 1000 '
                         'seq_len: 256 seed: 7 name: "fuzz seed" start_paused: true',
        "outputs": 'model_dir: "tests/fixtures/models/llama_gqa" '
                   'ds_config_path: "tests/fixtures/models/ds_adamw.json" '
                   'data_path: "README.md" steps: 5 activation_checkpointing: "on" '
                   'save_dir: "build-fuzz/job_spec_save" export_hf_dir: "build-fuzz/job_spec_hf" '
                   'resume_from: "tests/fixtures/models/gpt2_tied"',
        "hub_id": 'model_dir: "meta-llama/Llama-2-7b-hf" '
                  'ds_config_path: "configs/ds_zero3_auto.json" data_path: "README.md" steps: 3',
    }
    for name, text in specs.items():
        blob = subprocess.run(
            ["protoc", "--encode=zerod.v1.JobSpec", "-I", str(ROOT / "proto"), "zerod.proto"],
            input=text.encode(), capture_output=True, check=True).stdout
        (d / f"seed_{name}.pb").write_bytes(blob)


def chat_template():
    # The test families' templates, and the language cases of the transformers fixtures.
    d = copy_seeds("chat_template", sorted(ROOT.glob("tests/fixtures/chat_templates/*.jinja")))
    fixtures = json.loads((ROOT / "tests/fixtures/chat_fixtures.json").read_text())
    for i, case in enumerate(fixtures["language"]):
        (d / f"seed_case{i:03d}.jinja").write_text(case["template"])


if __name__ == "__main__":
    ds_config()
    safetensors()
    tokenizer()
    checkpoint_meta()
    job_spec()
    chat_template()
    for d in sorted(CORPUS.iterdir()):
        print(f"{d.relative_to(ROOT)}: {len(list(d.iterdir()))} files")
