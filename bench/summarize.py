"""Summarises bench.jsonl from gpu_bench.sh: zerod's median step (after 2 warm-up
steps) beside each peer's, as ratios. TFLOP/s counts 6 x params + 12 x layers x hidden
x seq per token, as peer_bench.py does."""
import json, statistics, sys

SHAPES = {"0.94b": (2048, 16, 5504), "6.74b": (4096, 32, 11008)}


def params(hidden, layers, mlp, vocab=32000):
    return 2 * vocab * hidden + layers * (4 * hidden * hidden + 3 * hidden * mlp + 2 * hidden) + hidden


rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
zerod = {}
for r in rows:
    if r.get("tag", "").startswith("zerod_") and "step" in r:
        zerod.setdefault(r["tag"], []).append(r)
peers = {r["tag"]: r for r in rows if r.get("what") == "train"}
for r in rows:
    if "Mparams_per_s" in r.get("what", ""):
        print(f"{r['what']:40s} {r.get('mode', r.get('bf16_copy', ''))!s:8s} {r['value']:10.1f} M params/s")
seq, batch = 2048, 4
for tag, steps in zerod.items():
    size = tag.split("_")[1]
    hidden, layers, mlp = SHAPES[size]
    n = params(hidden, layers, mlp)
    step_s = statistics.median(s["step_time_s"] for s in steps[2:]) if len(steps) > 2 else steps[-1]["step_time_s"]
    tok = batch * seq / step_s
    tflops = (6 * n + 12 * layers * hidden * seq) * batch * seq / step_s / 1e12
    peak = max(s.get("gpu_peak_GiB", 0) for s in steps)
    print(f"{tag}: {step_s:.3f} s/step, {tok/1e3:.2f}k tok/s, {tflops:.1f} TFLOP/s, peak {peak:.1f} GiB, "
          f"loss {steps[0]['loss']:.3f} -> {steps[-1]['loss']:.3f}")
    for ptag, p in peers.items():
        peer_size = "0.94b" if "_1b" in ptag else "6.74b" if "_7b" in ptag else None
        if peer_size == size:
            print(f"   vs {ptag}: {p['step_s']:.3f} s/step, {p['tokens_per_s']/1e3:.2f}k tok/s, "
                  f"peak {p['peak_gpu_GiB']:.1f} GiB -> zerod speed ratio {p['step_s']/step_s:.2f}x")
