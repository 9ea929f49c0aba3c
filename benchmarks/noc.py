"""NoC engine benchmark: ``python -m benchmarks.noc [--json]``.

Uniform random traffic at half the saturation bound (2/k flits/node/cycle) on k x k
meshes. Each size runs in its own process so peak memory is that size's own. Times are
steady state: the network is filled for ``warmup`` cycles first, then ``measure`` cycles
are timed. Prints simulated cycles per second, node-cycles per second, flit-hops per
second and peak resident memory.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

SIZES = ((16, 2000, 4000), (64, 600, 1500), (256, 700, 200))  # (k, warmup, measure)


def one(k: int, warmup: int, measure: int) -> dict:
    from sim_core.engine.core import Engine
    from sim_core.workloads.noc import CYCLE_S, FLIT_BYTES
    from sim_core.fabric.build import build_mesh_fabric
    from sim_core.workloads.traffic import SyntheticTraffic

    fab = build_mesh_fabric(k, bandwidth_Bps=FLIT_BYTES / CYCLE_S)
    eng = Engine(fab, chunk_bytes=FLIT_BYTES, buffer_chunks=8, seed=1, max_chunks_per_message=1, history=16)
    eng.attach_traffic(SyntheticTraffic(fab, "uniform", 2.0 / k, flit_bytes=FLIT_BYTES, cycle_s=CYCLE_S))
    dt = 32 * CYCLE_S
    eng.run_until(warmup * CYCLE_S, dt)
    hops0 = int(eng.link_bytes_total.sum()) // FLIT_BYTES
    t0 = time.perf_counter()
    eng.run_until((warmup + measure) * CYCLE_S, dt)
    wall = time.perf_counter() - t0
    hops = int(eng.link_bytes_total.sum()) // FLIT_BYTES - hops0
    return {
        "mesh": f"{k}x{k}", "rate_flits_per_node_cycle": 2.0 / k, "cycles_measured": measure,
        "wall_s": round(wall, 3),
        "cycles_per_s": round(measure / wall, 1),
        "node_cycles_per_s": round(measure * k * k / wall),
        "flit_hops_per_s": round(hops / wall),
        "chunks_in_flight": len(eng.c_buf),
        "peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.noc", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--one", nargs=3, type=int, metavar=("K", "WARMUP", "MEASURE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(*args.one)))
        return 0
    rows = []
    for k, w, m in SIZES:
        out = subprocess.run([sys.executable, "-m", "benchmarks.noc", "--one", str(k), str(w), str(m)],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout)
        rows.append(row)
        if not args.json:
            print(f"{row['mesh']:>8}: {row['cycles_per_s']:>9,.1f} cycles/s  {row['node_cycles_per_s']:>12,} node-cycles/s  "
                  f"{row['flit_hops_per_s']:>12,} flit-hops/s  peak {row['peak_rss_MB']:>7.1f} MB  "
                  f"({row['chunks_in_flight']:,} flits in flight)", flush=True)
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
