"""How far to trust the numbers: every closed-form check, run on the engine.

``python -m sim_core validate [--json]`` prints one row per case with the expected value
(a closed form or a published bound), the simulated value and the relative
error. Cases:

* transfers: one tensor over each preset's paths. With chunks of c bytes over links of
  bandwidth B_i and latency L_i the first chunk pays every hop and the rest follow at the
  slowest link: ``sum(c/B_i + L_i) + (n - 1) c / min(B)``; for equal links this is the
  textbook ``S/B + (h-1)c/B + hL``.
* two equal flows sharing one link: each finishes at ``2S/B``.
* NoC zero-load latency: ``hops x hop_cycles + (packet_flits - 1)`` cycles.
* NoC mean latency at low uniform load: the mean hop count ``2(k^2-1)/(3k)`` (Dally and
  Towles; destinations exclude the source, hence the factor N/(N-1)).
* NoC bisection bound: uniform saturation throughput at most ``4/k`` (mesh), ``8/k``
  (torus), and not far below it.
* collectives and the pipeline bubble (added by ``collective_cases`` and
  ``training_cases`` when those modules are present).
"""
from __future__ import annotations

import numpy as np

from sim_core.engine.core import Engine
from sim_core.spec.loader import load_architecture, preset_ids
from sim_core.workloads.noc import CYCLE_S, FLIT_BYTES, mean_hops_uniform, run_noc, throughput_bound
from sim_core.fabric.routing import Router
from sim_core.fabric.build import build_fabric, build_mesh_fabric


def case(name: str, expected: float, simulated: float, *, tolerance: float = 0.02, kind: str = "equal",
         unit: str = "s", source: str = "") -> dict:
    """One row. ``kind``: ``equal`` (within tolerance) or ``at-most`` (a bound; error is the shortfall)."""
    err = (simulated - expected) / expected if expected else 0.0
    ok = abs(err) <= tolerance if kind == "equal" else simulated <= expected * (1 + 1e-9)
    return {"name": name, "expected": expected, "simulated": simulated, "error": err, "unit": unit,
            "kind": kind, "tolerance": tolerance, "ok": bool(ok), "source": source}


def pipelined_transfer_s(fabric, path, size_bytes: int, chunk_bytes: int) -> float:
    """Closed form of one message over ``path`` (link ids) with nothing else on the fabric."""
    B = fabric.link_bandwidth_Bps[path]
    L = fabric.link_latency_s[path]
    n = -(-int(size_bytes) // int(chunk_bytes))
    return float(np.sum(chunk_bytes / B + L) + (n - 1) * chunk_bytes / B.min())


def transfer_cases() -> list[dict]:
    rows = []
    for pid in preset_ids():
        spec = load_architecture(pid)
        fab = build_fabric(spec, tiles=(2, 2))
        pairs = [(fab.tile_id(0, 0, 0), fab.tile_id(0, 1, 1), "core to core on chip 0")]
        if fab.n_chips > 1:
            pairs.append((fab.device_node(0), fab.device_node(1), "device 0 to device 1"))
            pairs.append((fab.device_node(0), fab.device_node(fab.n_chips - 1), f"device 0 to device {fab.n_chips - 1}"))
        for src, dst, what in pairs:
            eng = Engine(fab, chunk_bytes=1 << 20)
            path = eng.router.path(src, dst)
            size = 1 << 28
            m = eng.send(src, dst, size)
            eng.run_until_idle(dt_s=1e-3)
            rel, fin = eng.message_times([m])
            rows.append(case(f"transfer 256 MiB, {pid}, {what}", pipelined_transfer_s(fab, path, size, 1 << 20),
                             float(fin[0] - rel[0]), tolerance=1e-9,
                             source="pipelined store-and-forward: sum(c/B_i + L_i) + (n-1) c/min(B)"))
    return rows


def sharing_case() -> dict:
    fab = build_mesh_fabric(1, cols=3, bandwidth_Bps=1e9, latency_s=1e-7)
    eng = Engine(fab, chunk_bytes=1000)
    ids = [eng.send(0, 2, 1_000_000), eng.send(1, 2, 1_000_000)]
    eng.run_until_idle(dt_s=1e-4)
    _, fin = eng.message_times(ids)
    return case("two equal flows share one link: each finishes at 2S/B", 2e6 / 1e9, float(fin.max()),
                tolerance=0.01, source="fair round-robin sharing")


def noc_cases(k: int = 8) -> list[dict]:
    rows = []
    hop_cycles, P = 2, 4
    fab = build_mesh_fabric(k, bandwidth_Bps=FLIT_BYTES / CYCLE_S, latency_s=(hop_cycles - 1) * CYCLE_S)
    eng = Engine(fab, chunk_bytes=FLIT_BYTES, max_chunks_per_message=P)
    router = Router(fab)
    src, dst = 0, k * k - 1
    m = eng.send(src, dst, P * FLIT_BYTES)
    eng.run_until_idle(dt_s=64 * CYCLE_S)
    rel, fin = eng.message_times([m])
    H = len(router.path(src, dst))
    rows.append(case(f"NoC zero-load latency corner to corner, {k}x{k}, {P}-flit packet", H * hop_cycles + P - 1,
                     float((fin[0] - rel[0]) / CYCLE_S), tolerance=1e-9, unit="cycles",
                     source="hops x hop delay + serialization (Dally and Towles)"))
    low = run_noc(k, "uniform", 0.005, cycles=6000, warmup=500, seed=1)
    rows.append(case(f"NoC mean latency at low uniform load, {k}x{k}", mean_hops_uniform(k) * k * k / (k * k - 1),
                     low["avg_latency_cycles"], tolerance=0.03, unit="cycles",
                     source="mean hop count 2(k^2-1)/(3k) under uniform traffic"))
    for torus in (False, True):
        bound = throughput_bound(k, torus)
        # Saturation throughput: the most the mesh carries over a sweep of offered loads
        # (past the knee, throughput falls back under dimension-order routing).
        sat = max(run_noc(k, "uniform", min(1.0, f * bound), cycles=2500, warmup=600, torus=torus, seed=2)["accepted_rate"]
                  for f in (0.6, 0.7, 0.8, 0.9, 1.0))
        rows.append(case(f"NoC uniform saturation throughput, {k}x{k} {'torus' if torus else 'mesh'} "
                         f"(bound {'8' if torus else '4'}/k)", bound, sat, kind="at-most", unit="flits/node/cycle",
                         source="bisection bound (Dally and Towles)"))
    return rows


def all_cases(progress=None) -> list[dict]:
    """Every validation case; ``progress(message)`` is told what runs (for stderr)."""
    from sim_core.validation.extra import extra_groups  # here: those modules import `case` from this one
    groups = [("transfers", transfer_cases), ("link sharing", lambda: [sharing_case()]), ("NoC", noc_cases)]
    groups += extra_groups()
    rows = []
    for name, fn in groups:
        if progress:
            progress(f"validating {name} ...")
        rows += fn()
    return rows
