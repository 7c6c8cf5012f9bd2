#!/usr/bin/env python3
"""Where one profiled step's time went (the Chrome trace ZEROD_PROFILE_STEP writes,
engine/train/step_profile.h): the GPU's busy time against the step's span, each stream's,
the kernels by total time, the CUDA runtime calls that wait (synchronisations), and the
longest stretches with no kernel or copy running, with the CPU operators under way then.

  python3 bench/trace_summary.py TRACE.json[.gz] [--top 25] [--gaps 12]
"""
import argparse
import collections
import gzip
import json
import re

GPU_CATS = {"kernel", "gpu_memcpy", "gpu_memset"}


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return [e for e in json.load(f)["traceEvents"] if e.get("ph") == "X"]


def union(intervals):
    """Sorted, merged [begin, end) intervals."""
    merged = []
    for b, e in sorted(intervals):
        if merged and b <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([b, e])
    return merged


def total(intervals):
    return sum(e - b for b, e in intervals)


def short(name, width=90):
    name = re.sub(r"<.*>", "<...>", name)  # template arguments say little and run long
    return name if len(name) <= width else name[: width - 3] + "..."


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--gaps", type=int, default=12)
    a = ap.parse_args()
    events = load(a.trace)
    gpu = [e for e in events if e.get("cat") in GPU_CATS]
    cpu_ops = [e for e in events if e.get("cat") == "cpu_op"]
    runtime = [e for e in events if e.get("cat") == "cuda_runtime"]
    begin = min(e["ts"] for e in events)
    end = max(e["ts"] + e["dur"] for e in events)
    print(f"span {(end - begin) / 1e3:.1f} ms, {len(gpu)} GPU events, {len(cpu_ops)} CPU ops")
    busy = union([(e["ts"], e["ts"] + e["dur"]) for e in gpu])
    if busy:
        first, last = busy[0][0], busy[-1][1]
        print(f"GPU busy {total(busy) / 1e3:.1f} ms of {(last - first) / 1e3:.1f} ms "
              f"from its first to its last event ({100 * total(busy) / (last - first):.0f}%)")
    by_stream = collections.defaultdict(list)
    for e in gpu:
        by_stream[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
    for key, iv in sorted(by_stream.items(), key=lambda kv: -total(union(kv[1]))):
        print(f"  stream {key[1]} (device {key[0]}): busy {total(union(iv)) / 1e3:.1f} ms, "
              f"{len(iv)} events")

    kernels = collections.defaultdict(lambda: [0.0, 0])
    for e in gpu:
        k = kernels[(e["cat"], short(e["name"]))]
        k[0] += e["dur"]
        k[1] += 1
    print(f"\ntop {a.top} GPU events by total time (ms, count, category, name):")
    for (cat, name), (dur, n) in sorted(kernels.items(), key=lambda kv: -kv[1][0])[: a.top]:
        print(f"  {dur / 1e3:8.2f} {n:6d}  {cat:10s} {name}")

    waits = collections.defaultdict(lambda: [0.0, 0])
    for e in runtime:
        if "Synchronize" in e["name"] or e["name"] in ("cudaMemcpy", "cudaMemcpyAsync"):
            w = waits[e["name"]]
            w[0] += e["dur"]
            w[1] += 1
    print("\nCUDA runtime calls that can wait (ms, count):")
    for name, (dur, n) in sorted(waits.items(), key=lambda kv: -kv[1][0]):
        print(f"  {dur / 1e3:8.2f} {n:6d}  {name}")

    gaps = [(b2 - e1, e1, b2) for (_, e1), (b2, _) in zip(busy, busy[1:])]
    idle = sum(g for g, _, _ in gaps)
    print(f"\nGPU idle between its first and last event: {idle / 1e3:.1f} ms in {len(gaps)} gaps; "
          f"gaps over 50 us: {sum(g for g, _, _ in gaps if g > 50) / 1e3:.1f} ms")
    print(f"the {a.gaps} longest (ms, at ms from the span's start, CPU ops running then):")
    for g, b, e in sorted(gaps, reverse=True)[: a.gaps]:
        during = collections.Counter(
            short(o["name"], 40) for o in cpu_ops if o["ts"] < e and o["ts"] + o["dur"] > b)
        ops = ", ".join(f"{n} x{c}" if c > 1 else n for n, c in during.most_common(6))
        print(f"  {g / 1e3:7.2f} at {(b - begin) / 1e3:8.1f}: {ops}")


if __name__ == "__main__":
    main()
