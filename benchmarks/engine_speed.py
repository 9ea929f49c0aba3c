"""Engine speed: ``python -m benchmarks.engine_speed [--only NAME ...] [--policy events|rounds] [--json]``.

Prints wall time, events processed and events per second (and, for collectives, how many
messages ran as trains: ``sim_core.engine.trains``) for:

* ``ring64``: flat ring all-reduce of 4 GB on 64 GPUs (8 DGX A100 servers);
* ``ring256``: flat ring all-reduce of 1 GB on 256 GPUs (32 servers);
* ``auto1024``: the default algorithm's all-reduce of 1 GB on 1,024 GPUs (128 servers);
* ``app``: the app's default workload (2 DGX A100 servers, 4x8 tiles per GPU, 8 MB ring
  all-reduce over 8 channels, 8192 B chunks) for 1 ms of simulated time, in 10 us steps;
* ``idle``: one idle step on a mesh of about a million links (500 x 500 tiles);
* ``routes``: off-chip routes from every node towards every GPU of 512 DGX A100 servers
  (4,096 GPUs): build time, bytes stored, exceptions a destination, and the bytes a dense
  int32 table of every node x destination would take;
* ``compile``: the first call of the compiled event loop in a fresh process (with the
  on-disk cache as it is; delete ``sim_core/engine/__pycache__`` to see a cold compile).

Wall times are of this process on a shared machine: noisy, figures not assertions.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CASES = ("compile", "ring64", "ring256", "auto1024", "app", "idle", "routes")


def _collective(nodes: int, nbytes: float, algo: str) -> dict:
    import importlib

    from sim_core.fabric.build import sized_fabric
    from sim_core.spec.loader import load_architecture

    try:
        mod = importlib.import_module("sim_core.workloads.collectives.run")
    except ImportError:
        mod = importlib.import_module("sim_core.workloads.collectives.algorithms")
    spec = load_architecture("dgx-a100")
    fab = sized_fabric(spec, nodes=nodes, source="benchmark")
    ranks = [fab.device_node(d) for d in range(fab.n_chips)]
    made = []
    real = mod.collective_engine

    def spy(*a, **k):  # keep the engine to read its event count
        made.append(real(*a, **k))
        return made[-1]

    mod.collective_engine = spy
    try:
        t0 = time.perf_counter()
        out = mod.run_collective(fab, "allreduce", algo, ranks, nbytes)
        wall = time.perf_counter() - t0
    finally:
        mod.collective_engine = real
    eng = made[-1]
    events = int(getattr(eng, "events_total", 0))
    return {"wall_s": wall, "events": events, "simulated_s": out["time_s"], "algo": out["algo"],
            "protocol": out.get("protocol"), "policy": eng.policy, "chunk_bytes": eng.chunk_bytes,
            "chunks": int(eng.chunks_created), "trains": int(getattr(eng, "trains_total", 0))}


def _app() -> dict:
    from app.model.scenario import SCENARIOS, build_simulation

    sim = build_simulation(SCENARIOS["default"])
    eng = sim.engine
    t0 = time.perf_counter()
    eng.run_until(1e-3, 10e-6)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "events": int(getattr(eng, "events_total", 0)), "simulated_s": eng.now_s,
            "policy": eng.policy, "chunk_bytes": eng.chunk_bytes}


def _idle() -> dict:
    from sim_core.engine.core import Engine
    from sim_core.fabric.build import build_mesh_fabric

    fab = build_mesh_fabric(500)
    eng = Engine(fab, chunk_bytes=64, policy=_POLICY[0])
    eng.step(1e-9)
    walls = []
    for _ in range(20):
        t0 = time.perf_counter()
        eng.step(1e-9)
        walls.append(time.perf_counter() - t0)
    walls.sort()
    return {"wall_s": walls[len(walls) // 2], "events": 0, "links": fab.n_links, "policy": eng.policy}


def _routes() -> dict:
    from sim_core.fabric.build import build_fabric
    from sim_core.fabric.routing import Router
    from sim_core.spec.loader import load_architecture

    fab = build_fabric(load_architecture("dgx-a100"), nodes=512, tiles=(1, 1))
    r = Router(fab)
    t0 = time.perf_counter()
    r.ensure(fab.chip_hub)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "events": 0, "route_bytes": r.route_bytes, "destinations": r.n_columns,
            "exceptions_per_destination": round(r.exc_key.size / r.n_columns, 1),
            "dense_table_bytes": len(r.off_nodes) * r.n_columns * 4}


def _compile() -> dict:
    code = ("import time; t=time.perf_counter(); from sim_core import Engine, build_fabric, load_architecture;"
            "f=build_fabric(load_architecture('dgx-a100'), nodes=2, tiles=(1,2)); e=Engine(f);"
            "e.send(f.device_node(0), f.device_node(9), 1e6); t1=time.perf_counter(); e.run_until_idle();"
            "print(time.perf_counter()-t1, t1-t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return {"wall_s": float(out[0]), "import_s": float(out[1]), "events": 0}


_POLICY = ["auto"]
RUNNERS = {
    "compile": _compile,
    "ring64": lambda: _collective(8, 4e9, "ring"),
    "ring256": lambda: _collective(32, 1e9, "ring"),
    "auto1024": lambda: _collective(128, 1e9, "auto"),
    "app": _app,
    "idle": _idle,
    "routes": _routes,
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.engine_speed", description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", choices=CASES, help="cases to run (default: all)")
    p.add_argument("--policy", choices=["auto", "events", "rounds"], default="auto",
                   help="force a time-advance policy for every engine built (rounds: the previous engine)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.policy != "auto":
        import sim_core.engine.core as core
        core.auto_policy = lambda fabric: args.policy
        _POLICY[0] = args.policy
    rows = {}
    for name in args.only or CASES:
        r = RUNNERS[name]()
        r["events_per_s"] = r["events"] / r["wall_s"] if r["events"] and r["wall_s"] > 0 else None
        rows[name] = r
        if not args.json:
            eps = f"{r['events_per_s']:,.0f} events/s" if r["events_per_s"] else ""
            extra = ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("wall_s", "events", "events_per_s"))
            print(f"{name:9s} {r['wall_s'] * 1e3:10.3f} ms  {r['events']:>11,} events  {eps:>22s}  {extra}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
