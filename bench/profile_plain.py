#!/usr/bin/env python3
"""One step of plain PyTorch (transformers' own modeling, all on the GPU, checkpointing,
bf16 autocast over fp32 weights, fused AdamW: peer_bench.py's `plain=DIR`) under
torch.profiler, written as a Chrome trace for bench/trace_summary.py: the peer's side of
a step profiled with ZEROD_PROFILE_STEP.

  python3 bench/profile_plain.py MODEL_DIR TRACE.json [--steps 3]
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".gpu-deps"))
import peer_bench  # noqa: E402  (../shared/device/peer_bench.py, staged into .gpu-deps)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("trace")
    ap.add_argument("--steps", type=int, default=3, help="the last one is profiled")
    a = ap.parse_args()
    cfg = peer_bench.llama_cfg(a.model)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = peer_bench.build(cfg)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    x = torch.randint(0, cfg.vocab_size, (4, 2048), device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()

    for _ in range(a.steps - 1):
        step()
    acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=acts) as prof:
        t = time.perf_counter()
        step()
        print(f"profiled step: {time.perf_counter() - t:.3f} s", flush=True)
    prof.export_chrome_trace(a.trace)


if __name__ == "__main__":
    main()
