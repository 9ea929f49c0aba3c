"""The same workload on every preset (run off the GUI thread; results cached per process).

A collective: the row of the machine on screen is the round the window animates
(``animated_round``: the scenario's own workload, same ranks, algorithm and chunking, on a
fresh build of the same fabric), so the chart and the animation agree. Every other preset
gets the same number of ranks (or the nearest its topology allows) and runs
``sim_core.collectives.run_collective`` with the algorithm NCCL would pick. A wafer holds
its whole mesh on one device: its collective is run over a row of cores of the wafer, so
the comparison stays like for like in bytes.

Training: ``training_comparison`` estimates the current machine with the animated plan
(``sim_core.training.estimate``, communication simulated on the same fabric) and every
preset at equal chip power (``training.compare``), with the projected time to train.
Rows carry ``segments``: (part, seconds) pairs that sum to the iteration.
"""
from __future__ import annotations

import threading

import numpy as np

from sim_core import LINK_KINDS, build_fabric, load_architecture, preset_ids
from sim_core.engine.view import link_average_utilization
from sim_core.fabric.size import FabricSize
from sim_core.workloads import collectives, training

from app.model.training_studies import budget, split

_CACHE: dict[tuple, dict] = {}
_LOCK = threading.Lock()


def compare(workload_kind: str, params: dict, devices: int, progress=None, skip: tuple = ()) -> list[dict]:
    """Rows ``label``, ``id``, ``compute_s``, ``comm_s``, ``kind``, ``algo`` for every preset not in ``skip``."""
    rows = []
    ids = [p for p in preset_ids() if p not in skip]
    nbytes = float(params.get("nbytes", 8e6))
    op = params.get("op", "allreduce")
    if op not in collectives.OPS:
        op = "allreduce"
    devices = max(2, int(devices))
    for i, pid in enumerate(ids):
        if progress:
            progress(i, len(ids), pid)
        spec = load_architecture(pid)
        fab, ranks = collectives.like_for_like(spec, devices)
        res = collectives.run_collective(fab, op, "auto", ranks, nbytes)
        rows.append(dict(label=ranks_label(spec, fab, len(ranks)), id=pid, name=spec.name, compute_s=0.0, comm_s=res["time_s"],
                         kind=res["bottleneck_link_kind"], algo=res["algo"], devices=len(ranks)))
    if progress:
        progress(len(ids), len(ids), "")
    return rows


def animated_round(scenario) -> dict:
    """The first round of ``scenario``'s own workload on a fresh build: the round the window animates.

    Returns a comparison row (``label``, ``id``, ``compute_s`` 0, ``comm_s`` = the round,
    ``kind`` = the link kind with the busiest link, ``algo``, ``devices``). The engine's
    results do not depend on its step size, so stepping in growing steps is exact.
    """
    from app.model.scenario import build_simulation
    sim = build_simulation(scenario)
    eng, wl = sim.engine, sim.workload
    dt = sim.step_s
    while wl.last_round_s() is None:
        if hasattr(eng, "advance"):
            eng.advance(eng.now_s + dt)
        else:
            eng.step(dt)
        dt *= 1.25
    n = ranks_of(wl, sim.fabric)
    return dict(label=ranks_label(sim.spec, sim.fabric, n), id=scenario.architecture, name=sim.spec.name,
                compute_s=0.0, comm_s=float(wl.last_round_s()), kind=busiest_kind(eng),
                algo=str(getattr(wl, "algo_used", "")), devices=n)


def ranks_label(spec, fabric, n: int) -> str:
    """A bar's label: '16 x A100 SXM4 80GB', or 'WSE-2, 8 cores' when the ranks are cores of one chip."""
    if fabric.n_chips >= 2:
        return f"{n:,} x {spec.chip.name}"
    return f"{spec.chip.name}, {n:,} cores"


def busiest_kind(eng) -> str | None:
    """Name of the link kind whose busiest link was busiest on average (the round's bottleneck)."""
    util = link_average_utilization(eng)
    kinds = np.asarray(eng.f.link_kind)
    if util.size == 0:
        return None
    peak = np.zeros(len(LINK_KINDS))
    np.maximum.at(peak, kinds, util)
    return LINK_KINDS[int(np.argmax(peak))]


def ranks_of(workload, fabric) -> int:
    """How many ranks one lane of the animated collective has (its devices, or cores on a wafer)."""
    lanes = getattr(workload, "lanes", None)
    return int(len(lanes[0])) if lanes else int(fabric.n_chips)


def segments(breakdown: dict) -> list[tuple[str, float]]:
    """``breakdown_s`` -> [(part, s)]: compute, memory, pipeline bubble, then comm per link kind."""
    parts = split(breakdown)
    out = [(k, parts[k]) for k in ("compute", "memory", "pipeline bubble")]
    out += [(k[5:], v) for k, v in breakdown.items() if k.startswith("comm_") and v > 0]
    return [(k, float(v)) for k, v in out if v > 0 or k == "compute"]


def _row(est: dict, label: str) -> dict:
    return dict(label=label, id=est["arch"], iteration_s=est["iteration_s"], segments=segments(est["breakdown_s"]),
                days=est.get("time_to_train_days"), plan=est["plan"], devices=est["devices"])


def _size_kw(sim) -> dict:
    return FabricSize.of_fabric(sim.fabric).kwargs()


def training_key(sim) -> tuple:
    """What a training comparison depends on (its cache key)."""
    sc, wl = sim.scenario, sim.workload
    return (sc.architecture, repr(_size_kw(sim)), sc.offchip_bandwidth_scale,
            sc.offchip_latency_scale, wl.model.id, wl.plan)


def training_comparison(sim, progress=None) -> dict:
    """``{"current": row, "rows": [row per preset], "power_W", "model", "budget"}`` for a training sim.

    Equal chip power: the current machine's, but at least one of every preset's chips (a
    wafer), so every architecture is on the chart. Thread-safe; cached by ``training_key``.
    """
    key = training_key(sim)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    spec, sc, wl = sim.spec, sim.scenario, sim.workload
    fab = build_fabric(spec, tiles=(2, 2) if spec.topology.kind == "wafer" else (1, 1),
                       offchip_bandwidth_scale=sc.offchip_bandwidth_scale,
                       offchip_latency_scale=sc.offchip_latency_scale, **_size_kw(sim))
    b = budget(wl.model)
    est = training.estimate(spec, wl.model, wl.plan, fabric=fab, **b)
    power = max(fab.n_chips * spec.chip.power_W, max(load_architecture(p).chip.power_W for p in preset_ids()))
    ids = preset_ids()
    rows = []
    for i, pid in enumerate(ids):
        if progress:
            progress(i, len(ids), pid)
        row = training.compare(wl.model, power_W=power, presets=[pid], **b)[0]
        rows.append(_row(row, f"{row['devices']:,} x {load_architecture(pid).chip.name}") if "error" not in row
                    else dict(label=load_architecture(pid).chip.name, id=pid, error=row["error"], segments=[]))
    if progress:
        progress(len(ids), len(ids), "")
    out = {"current": _row(est, f"this machine: {fab.n_chips:,} x {spec.chip.name}"), "rows": rows,
           "power_W": power, "model": wl.model.name or wl.model.id, "budget": b}
    with _LOCK:
        _CACHE[key] = out
    return out
