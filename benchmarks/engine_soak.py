"""Engine soak: ``python -m benchmarks.engine_soak [--steps N] [--json]``.

Runs synthetic traffic on an 8 x 8 mesh for a million steps (by default) and samples the
resident memory and the engine's array sizes along the way. Memory must stay flat: packets
are recycled, chunk arrays are compacted, metrics live in a fixed ring.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def rss_MB() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


def run(steps: int, samples: int = 10) -> dict:
    from sim_core.engine.core import Engine
    from sim_core.workloads.noc import CYCLE_S, FLIT_BYTES
    from sim_core.fabric.build import build_mesh_fabric
    from sim_core.workloads.traffic import SyntheticTraffic

    fab = build_mesh_fabric(8, bandwidth_Bps=FLIT_BYTES / CYCLE_S)
    eng = Engine(fab, chunk_bytes=FLIT_BYTES, seed=1, max_chunks_per_message=2)
    eng.attach_traffic(SyntheticTraffic(fab, "uniform", 0.2, packet_flits=2, flit_bytes=FLIT_BYTES, cycle_s=CYCLE_S))
    rows = []
    t0 = time.perf_counter()
    every = max(1, steps // samples)
    for i in range(1, steps + 1):
        eng.step(CYCLE_S)
        if i % every == 0 or i == 1000:
            rows.append({"step": i, "rss_MB": round(rss_MB(), 1), "message_pool": int(eng.m_cap),
                         "chunks": len(eng.c_buf), "packets_done": int(eng.messages_done)})
    wall = time.perf_counter() - t0
    # The allocator settles during the first half; a leak would keep growing in the second.
    mid = next(r for r in rows if r["step"] >= steps // 2)
    growth = (rows[-1]["rss_MB"] - mid["rss_MB"]) / mid["rss_MB"]
    return {"steps": steps, "wall_s": round(wall, 1), "steps_per_s": round(steps / wall),
            "rss_growth_second_half": round(growth, 4), "samples": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.engine_soak", description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    res = run(args.steps)
    if args.json:
        print(json.dumps(res))
    else:
        for r in res["samples"]:
            print(f"step {r['step']:>9,}: rss {r['rss_MB']:7.1f} MB, message pool {r['message_pool']:>7,}, "
                  f"chunks {r['chunks']:>5}, packets done {r['packets_done']:>10,}")
        print(f"{res['steps']:,} steps in {res['wall_s']} s ({res['steps_per_s']:,}/s); "
              f"memory growth over the second half: {res['rss_growth_second_half']:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
