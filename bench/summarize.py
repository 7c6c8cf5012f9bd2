"""Summarises bench.jsonl from gpu_bench.sh: for each zerod run, the median step after two
warm-up steps, tokens/s, TFLOP/s, the step's parts, the measured GPU peak and host RSS
beside the plan's prediction; then the peers from the same run, as ratios of tokens/s at
the same world size. Runs at world N have tags ending _wN and 4 x 2048 tokens per GPU
(the plan record gives each run's world size and micro-batch).
TFLOP/s counts 6 x params + 12 x layers x hidden x seq per token, as peer_bench.py does."""
import json, statistics, sys

SHAPES = {"0.94b": (2048, 16, 5504), "6.74b": (4096, 32, 11008), "13b": (5120, 40, 13824),
          "15.5b": (5120, 48, 13824), "30b": (6656, 60, 17920)}
TAG_SIZE = {"z094": "0.94b", "z674": "6.74b", "z13": "13b", "z155": "15.5b", "z30": "30b"}
PEER_SIZE = {"_1b": "0.94b", "_7b": "6.74b", "_13b": "13b"}
GiB = 2 ** 30
SEQ, BATCH = 2048, 4


def params(hidden, layers, mlp, vocab=32000):
    return 2 * vocab * hidden + layers * (4 * hidden * hidden + 3 * hidden * mlp + 2 * hidden) + hidden


def active_from_config(path):
    """(active parameters, layers, heads x head_dim) of a decoder config.json, mixtures of
    experts counted on the k of E experts a token uses (as peer_bench.py counts)."""
    c = json.load(open(path + "/config.json"))
    h, L, V = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"]
    heads = c["num_attention_heads"]
    hd = c.get("head_dim") or h // heads
    kv = c.get("num_key_value_heads") or heads
    attn = 2 * h * heads * hd + 2 * h * kv * hd
    E = c.get("num_experts") or c.get("num_local_experts") or 0
    k = c.get("num_experts_per_tok", 0)
    mlp = 3 * h * c["intermediate_size"]
    if E:
        fe = c.get("moe_intermediate_size") or c["intermediate_size"]
        mlp = 3 * h * fe * k + E * h + 3 * h * c.get("shared_expert_intermediate_size", 0)
    return 2 * V * h + L * (attn + mlp), L, heads * hd


def med(xs):
    return statistics.median(xs) if xs else float("nan")


rows = []
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass
for r in rows:
    if "Mparams_per_s" in r.get("what", "") or "GBps" in r.get("what", ""):
        extra = {k: v for k, v in r.items() if k not in ("what", "value", "tag")}
        print(f"{r['what']:40s} {r['value']:10.1f}  {extra}")

runs, plans = {}, {}
for r in rows:
    tag = r.get("tag", "")
    if tag.startswith("z") and "step" in r:
        runs.setdefault(tag, []).append(r)
    if "plan_gpu_bytes" in r:
        plans[tag] = r
zerod_speed = {}
for tag, steps in runs.items():
    known = next((k for k in TAG_SIZE if tag.startswith(k)), None)
    if known is None:  # the new families: FLOPs from the config.json (MoE: active parameters)
        p = plans.get(tag, {})
        step_s = med([s['step_time_s'] for s in steps[2:] or steps])
        line = f"\n{tag}: {len(steps)} steps, median {step_s:.3f} s/step"
        if "model" in p:
            n, L, qw = active_from_config(p["model"])
            tokens = p.get("batch", BATCH) * SEQ * p.get("world", 1)
            tflops = (6 * n + 12 * L * qw * SEQ) * tokens / step_s / 1e12 / p.get("world", 1)
            gpu_peak = max(s.get("gpu_peak_GiB", 0) for s in steps)
            line += (f", {tokens / step_s / 1e3:.2f}k tok/s, {tflops:.1f} TFLOP/s per GPU on "
                     f"{n / 1e9:.2f}B active, GPU peak {gpu_peak:.1f} GiB "
                     f"(plan {p['plan_gpu_bytes'] / GiB:.1f})")
        print(line)
        continue
    size = TAG_SIZE[known]
    hidden, layers, mlp = SHAPES[size]
    n = params(hidden, layers, mlp)
    timed = steps[2:] if len(steps) > 2 else steps[-1:]
    step_s = med([s["step_time_s"] for s in timed])
    world = plans.get(tag, {}).get("world", 1)
    tokens = plans.get(tag, {}).get("batch", BATCH) * SEQ * world
    tflops = (6 * n + 12 * layers * hidden * SEQ) * tokens / step_s / 1e12
    zerod_speed.setdefault((size, world), {})[tag] = tokens / step_s
    gpu_peak = max(s.get("gpu_peak_GiB", 0) for s in steps)
    rss_peak = max(s.get("host_peak_rss_GiB", 0) for s in steps)
    print(f"\n{tag} ({size}, {n/1e9:.2f}B, world {world}): {step_s:.3f} s/step, {tokens/step_s/1e3:.2f}k tok/s, "
          f"{tflops / world:.1f} TFLOP/s per GPU, loss {steps[0]['loss']:.3f} -> {steps[-1]['loss']:.3f} over {len(steps)} steps")
    parts = ["forward_s", "backward_s", "optimizer_s", "optimizer_cpu_s", "optimizer_gpu_s",
             "transfer_wait_s", "optimizer_wait_s"]
    print("   parts (median): " + ", ".join(f"{p[:-2]} {med([s.get(p, 0) for s in timed]):.3f}" for p in parts))
    p = plans.get(tag)
    if p:
        pg, ph = p["plan_gpu_bytes"] / GiB, p["plan_host_bytes"] / GiB
        print(f"   GPU peak {gpu_peak:.1f} GiB (plan {pg:.1f}, {100*(pg-gpu_peak)/max(gpu_peak,1e-9):+.0f}%), "
              f"host peak RSS {rss_peak:.1f} GiB (plan {ph:.1f}, {100*(ph-rss_peak)/max(rss_peak,1e-9):+.0f}%), "
              f"ratio {p['plan']['optimizer_ratio']:.2f}")
    else:
        print(f"   GPU peak {gpu_peak:.1f} GiB, host peak RSS {rss_peak:.1f} GiB")
for tag, p in plans.items():
    if tag not in runs:
        print(f"\n{tag}: no step ran; plan fits={p['plan']['fits']}")

print("\npeers:")
for r in rows:
    tag = r.get("tag", "")
    if r.get("what") == "train":
        size = next((v for k, v in PEER_SIZE.items() if r["tag"].endswith(k) or k + "_" in r["tag"]), None)
        world = r.get("world_size", 1)
        line = f"  {r['tag']} (world {world}): {r['step_s']:.3f} s/step, {r['tokens_per_s']/1e3:.2f}k tok/s, " \
               f"{r.get('tflops', 0):.1f} TFLOP/s, peak GPU {r['peak_gpu_GiB']:.1f} GiB"
        for ztag, ztok in zerod_speed.get((size, world), {}).items():
            line += f" | {ztag} is {ztok/r['tokens_per_s']:.2f}x its speed"
        print(line)
    elif r.get("failed") or "error" in r:
        print(f"  {tag:10s} FAILED (exit {r.get('exit')}): {str(r.get('why', r.get('error', '')))[-200:]!r}")
