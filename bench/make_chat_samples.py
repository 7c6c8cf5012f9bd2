#!/usr/bin/env python3
"""Writes a synthetic chat fine-tuning set as a prepared sample file (engine/data/sample_file.h)
for bench/packing_bench.sh: N conversations whose lengths follow a long tail (log-normal,
median about 300 tokens, a few past 2048), each a prompt part (not trained) then a response
(trained), random ids under VOCAB. Only the lengths matter to packing and to the speed.
  python3 bench/make_chat_samples.py OUT.bin [N] [VOCAB]
"""
import random
import struct
import sys


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    vocab = int(sys.argv[3]) if len(sys.argv) > 3 else 32000
    rng = random.Random(26)
    lengths, trained_from = [], []
    for _ in range(n):
        length = max(16, min(6000, int(rng.lognormvariate(5.7, 0.9))))
        lengths.append(length)
        trained_from.append(int(length * rng.uniform(0.2, 0.7)))
    total = sum(lengths)
    with open(out, "wb") as f:
        for length in lengths:
            f.write(struct.pack(f"<{length}H", *(rng.randrange(vocab) for _ in range(length))))
    with open(out + ".samples", "wb") as f:
        f.write(b"ZSAMPLE1" + struct.pack("<IIqqq", 1, 2, vocab, n, total))
        offset = 0
        f.write(struct.pack("<q", 0))
        for length in lengths:
            offset += length
            f.write(struct.pack("<q", offset))
        for length, start in zip(lengths, trained_from):
            f.write(bytes([0] * start + [1] * (length - start)))
    print(f"{n} samples, {total} tokens, median {sorted(lengths)[n // 2]}, "
          f"longest {max(lengths)}, over 2049: {sum(l > 2049 for l in lengths)}")


if __name__ == "__main__":
    main()
