"""FSDP2 + CPUOffloadPolicy at any world size, the peer of zerod's multi-GPU runs:
peer_bench.py's own fsdp_offload (the same model, batch 4 x 2048 per GPU, bf16, fused CPU
AdamW; checkpointing for 13b only, as its big / big13), run by every rank of a torchrun job. torchrun gives each process one OpenMP
thread unless OMP_NUM_THREADS is set: set it to the cores per process for a fair figure
(the thread count is in the output).

usage: OMP_NUM_THREADS=16 torchrun --nproc-per-node 2 bench/fsdp_world.py 7b|13b [--steps N]
Prints one JSON line (rank 0): tokens_per_s counts every rank's tokens."""
import contextlib, io, json, os, sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".gpu-deps"))
import peer_bench  # noqa: E402

size = sys.argv[1]
steps = int(sys.argv[sys.argv.index("--steps") + 1]) if "--steps" in sys.argv else 4
dist.init_process_group("cpu:gloo,cuda:nccl")
torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
world, rank = dist.get_world_size(), dist.get_rank()
# peer_bench prints its own per-rank lines (one GPU's tokens): kept out of the log, whose
# JSON lines gpu_bench.sh collects; the summary below is the one line.
with contextlib.redirect_stdout(io.StringIO()):
    peer_bench.fsdp_offload(size, bs=4, seq=2048, steps=steps, ckpt=(size == "13b"))  # as peer_bench's big / big13
train = next(r for r in peer_bench.RES if r.get("what") == "train")
init = next(r for r in peer_bench.RES if r.get("what") == "fsdp_init")
if rank == 0:
    out = dict(train, tag=train["tag"] + ("_ckpt" if size == "13b" else "") + f"_w{world}", world_size=world,
               tokens_per_s=train["tokens_per_s"] * world, tflops=train["tflops"] * world,
               omp_threads=torch.get_num_threads(), init_s=init["init_s"])
    print(json.dumps(out), flush=True)
dist.destroy_process_group()
