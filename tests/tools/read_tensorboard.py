"""Reads a TensorBoard log directory the way TensorBoard does and prints what it holds.

Used by the end-to-end monitor test (tests/e2e/monitor_test.cpp) to check zerod's event
files with the `tensorboard` package's own reader rather than with zerod's code. Prints one
JSON object: {"scalars": {tag: [[step, value], ...]}}, the points in the order TensorBoard
keeps them.

usage: .venv/bin/python tests/tools/read_tensorboard.py LOGDIR
"""

import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    # size_guidance 0: keep every point (the default samples scalars down to 10,000).
    acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
    acc.Reload()
    scalars = {
        tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]
    }
    json.dump({"scalars": scalars}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
