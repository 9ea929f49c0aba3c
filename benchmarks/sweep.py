"""Sweep benchmark: ``python -m benchmarks.sweep [--points N] [--json]``.

A GPT-3 175B ``train`` sweep over cluster architectures x node counts x tensor and
pipeline degrees (4 x 10 x 5 x 5 = 1,000 points; ``--points N`` runs a fixed, seeded
sample of N of them, the same N every time). It runs three times, each on a cluster
started and warmed up beforehand (start-up is reported apart): one local worker process, two local
worker processes, and two ``dask worker`` processes joined to a ``dask scheduler``
on 127.0.0.1. Prints wall seconds, points per second, parallel efficiency (speed-up
over one worker / workers) and whether every run produced the same rows.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ARCHS = ("dgx-a100", "dgx-h100", "pcie-a100", "cpu-cluster")
NODES = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256)
TP = (1, 2, 4, 8, 16)
PP = (1, 2, 4, 8, 16)
ROOT = Path(__file__).resolve().parents[1]


def grid_doc(points: int, seed: int = 0) -> dict:
    """The 1,000-point grid, or a seeded sample of ``points`` of it as explicit points."""
    every = [{"arch": a, "nodes": n, "tp": t, "pp": p} for a, n, t, p in itertools.product(ARCHS, NODES, TP, PP)]
    if points < len(every):
        keep = np.sort(np.random.default_rng(seed).choice(len(every), size=points, replace=False))
        every = [every[i] for i in keep]
    return {"schema_version": 1, "command": "train", "fixed": {"model": "gpt3-175b"}, "points": every}


def timed(grid, client) -> tuple[float, object]:
    from sim_core.sweep import driver
    from sim_core.sweep.worker import warm_up

    client.run(warm_up)
    t0 = time.perf_counter()
    run = driver.run_grid(grid, None, client=client, progress=True)
    return time.perf_counter() - t0, run


def local_run(grid, workers: int) -> dict:
    import logging

    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(workers)
        start = time.perf_counter() - t0
        wall, run = timed(grid, client)
    return _figures(f"LocalCluster, {workers} worker process(es)", workers, start, wall, run)


def distributed_run(grid, workers: int) -> dict:
    """``dask scheduler`` + ``workers`` x ``dask worker`` on 127.0.0.1, stopped afterwards."""
    from distributed import Client

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        info = Path(folder) / "scheduler.json"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        quiet = dict(cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                   "--port", "0", "--dashboard-address", "127.0.0.1:0",
                                   "--scheduler-file", str(info)], **quiet)]
        try:
            while not (info.exists() and info.stat().st_size):
                time.sleep(0.1)
            address = json.loads(info.read_text())["address"]
            procs += [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                        "--no-nanny", "--host", "127.0.0.1", "--no-dashboard"], **quiet)
                      for _ in range(workers)]
            with Client(address, timeout=60, set_as_default=False) as client:
                client.wait_for_workers(workers, timeout=120)
                start = time.perf_counter() - t0
                wall, run = timed(grid, client)
        finally:
            for p in reversed(procs):  # workers first: a worker without its scheduler keeps retrying
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    return _figures(f"dask scheduler + {workers} dask worker(s) on 127.0.0.1", workers, start, wall, run)


def _figures(name, workers, start, wall, run) -> dict:
    return {"cluster": name, "workers": workers, "startup_s": round(start, 2), "wall_s": round(wall, 2),
            "points": len(run.rows), "refused": run.refused, "points_per_s": round(len(run.rows) / wall, 2),
            "_rows": [{k: v for k, v in r.items() if k != "wall_s"} for r in run.rows]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=1000, help="points of the 1,000-point grid to run (seeded sample)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from sim_core.sweep.grid import load_grid

    grid = load_grid(grid_doc(args.points), confirmed=True)
    runs = [local_run(grid, 1), local_run(grid, args.workers), distributed_run(grid, args.workers)]
    base = runs[0]["wall_s"]
    for r in runs:
        r["parallel_efficiency"] = round(base / r["wall_s"] / r["workers"], 3)
    same = all(r["_rows"] == runs[0]["_rows"] for r in runs)
    for r in runs:
        del r["_rows"]
    out = {"grid": f"GPT-3 175B train: {len(ARCHS)} archs x {len(NODES)} node counts x {len(TP)} tp x {len(PP)} pp",
           "points": grid.size, "cores": os.cpu_count(), "runs": runs, "rows_identical": same}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"{out['grid']}: {grid.size} points on {out['cores']} cores; rows identical across runs: {same}")
        for r in runs:
            print(f"  {r['cluster']:48s} start {r['startup_s']:6.2f} s  wall {r['wall_s']:8.2f} s  "
                  f"{r['points_per_s']:7.2f} points/s  efficiency {r['parallel_efficiency']:.0%}  "
                  f"({r['refused']} refused)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
