"""Training and collective benchmark: the wall time of a few projections and collectives.

Run ``python -m benchmarks.training``. Figures, not a timed test: each should stay
under 2 s on a 2-core machine so the app can recompute while a slider moves.
"""
from __future__ import annotations

import time

from sim_core.cli.main import main

CASES = [
    ("train GPT-3 175B, 1,024 A100s (tp 8, pp 8)",
     "train --arch dgx-a100 --nodes 128 --model gpt3-175b --tp 8 --pp 8 --tokens 300e9 --json --quiet"),
    ("train GPT-3 175B, wafer preset (weight streaming)",
     "train --arch wafer-wse2 --model gpt3-175b --tokens 300e9 --json --quiet"),
    ("collective 4 GB all-reduce, 64 GPUs (auto)",
     "collective --arch dgx-a100 --nodes 8 --op allreduce --algo auto --bytes 4e9 --json"),
    ("collective 4 GB all-reduce, 64 GPUs (flat ring)",
     "collective --arch dgx-a100 --nodes 8 --op allreduce --algo ring --bytes 4e9 --json"),
]


def run() -> list[dict]:
    rows = []
    for label, cmd in CASES:
        t0 = time.perf_counter()
        rc = main(cmd.split())
        rows.append({"case": label, "command": "python -m sim_core " + cmd, "wall_s": time.perf_counter() - t0, "rc": rc})
    return rows


if __name__ == "__main__":
    rows = run()
    print()
    for r in rows:
        print(f"{r['wall_s']:7.2f} s  {r['case']}\n           {r['command']}")
