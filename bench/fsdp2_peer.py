"""FSDP2 with CPUOffloadPolicy on N GPUs: the peer for zerod's multi-GPU figures.

    torchrun --nproc-per-node N bench/fsdp2_peer.py --model bench/models/llama-6.74b \
        --steps 10 --batch 4 --seq-len 2048 [--no-offload] [--checkpointing]

Same shapes as zerod's run (config.json through transformers' LlamaForCausalLM, random
init), bf16 compute with float32 gradients reduced, AdamW; `--batch` sequences per rank.
Rank 0 prints one JSON line per step and a summary line (median step time, tokens/s,
the largest peak GPU memory over ranks).

Written for issue 6 (several GPUs); not yet run on a multi-GPU machine.
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.distributed as dist
from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, fully_shard
from transformers import LlamaConfig, LlamaForCausalLM


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="directory with config.json")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch", type=int, default=4, help="sequences per rank")
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--no-offload", action="store_true")
    p.add_argument("--checkpointing", action="store_true")
    return p.parse_args()


def build(args, device):
    config = LlamaConfig.from_pretrained(args.model)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    if args.checkpointing:
        model.gradient_checkpointing_enable()
    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    offload = None if args.no_offload else CPUOffloadPolicy()
    kwargs = {"mp_policy": mp}
    if offload is not None:
        kwargs["offload_policy"] = offload
    for layer in model.model.layers:
        fully_shard(layer, **kwargs)
    fully_shard(model, **kwargs)
    model.to_empty(device="cpu" if offload is not None else device)
    # transformers' init: normal(0, initializer_range), norms at one (each rank its shard).
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            else:
                p.normal_(0.0, config.initializer_range)
    model.model.rotary_emb.to(device)  # buffers, not parameters: left on meta otherwise
    return model, config


def main():
    args = parse_args()
    dist.init_process_group("cpu:gloo,cuda:nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    torch.cuda.set_device(device)
    torch.manual_seed(1234 + rank)
    model, config = build(args, device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
    times = []
    for step in range(1, args.steps + 1):
        ids = torch.randint(0, config.vocab_size, (args.batch, args.seq_len), device=device)
        torch.cuda.synchronize()
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        if rank == 0:
            print(json.dumps({"peer": "fsdp2", "step": step, "loss": loss.item(),
                              "step_s": times[-1]}), flush=True)
    peak = torch.tensor([torch.cuda.max_memory_allocated(device)], device=device)
    dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    if rank == 0:
        median = statistics.median(times[2:] if len(times) > 3 else times)
        tokens = args.batch * args.seq_len * world
        print(json.dumps({"peer": "fsdp2_cpu_offload" if not args.no_offload else "fsdp2",
                          "world_size": world, "step_s_median": median,
                          "tokens_per_s": tokens / median,
                          "peak_gpu_gib": peak.item() / 2**30}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
