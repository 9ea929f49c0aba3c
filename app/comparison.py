"""The same workload on every preset: one simulated round each (run off the GUI thread).

For a collective, each preset gets the same number of devices (or the nearest its
topology allows) and runs ``sim_core.collectives.run_collective`` with the algorithm NCCL
would pick; for a training round, compute time (6 x parameters x tokens at the chip's
sustained rate) is added in front. A wafer holds its whole mesh on one device: its
collective is run over a row of cores of the wafer, so the comparison stays like for like
in bytes.
"""
from __future__ import annotations

import math

from sim_core import build_fabric, collectives, load_architecture, preset_ids


def _fabric_for(spec, devices: int):
    topo = spec.topology
    if topo.kind == "cluster":
        return build_fabric(spec, nodes=max(1, math.ceil(devices / topo.chips_per_node)))
    if topo.kind == "torus":
        side = max(2, round(devices ** (1 / 3)))
        dims = [side, side, side] if side ** 3 == devices else [min(64, max(2, devices))]
        return build_fabric(spec, dims=dims)
    return build_fabric(spec, wafers=1, tiles=(16, 16))


def _ranks(fab, devices: int) -> list[int]:
    if fab.n_chips >= 2:
        return [fab.device_node(d) for d in range(min(devices, fab.n_chips))]
    per = fab.tile_cols
    row = fab.tile_rows // 2
    k = min(devices, per)
    return [row * per + int(c) for c in range(0, per, max(1, per // k))][:k]


def compare(workload_kind: str, params: dict, devices: int, progress=None) -> list[dict]:
    """Rows ``label``, ``id``, ``compute_s``, ``comm_s``, ``kind``, ``algo`` for every preset."""
    rows = []
    ids = preset_ids()
    nbytes = float(params.get("nbytes", 8e6))
    op = params.get("op", "allreduce")
    tokens = float(params.get("tokens_per_device", 2048))
    n_params = float(params.get("params", 125e6))
    if workload_kind == "training":
        nbytes, op = 2.0 * n_params, "allreduce"
    if op not in collectives.OPS:
        op = "allreduce"
    for i, pid in enumerate(ids):
        if progress:
            progress(i, len(ids), pid)
        spec = load_architecture(pid)
        fab = _fabric_for(spec, devices)
        ranks = _ranks(fab, devices)
        compute = 0.0
        if workload_kind == "training":
            compute = 6.0 * n_params * tokens / (spec.chip.peak_flops * spec.chip.compute_efficiency)
        if len(ranks) < 2:
            rows.append(dict(label=spec.name, id=pid, compute_s=compute, comm_s=0.0, kind=None, algo="-"))
            continue
        res = collectives.run_collective(fab, op, "auto", ranks, nbytes)
        rows.append(dict(label=spec.name, id=pid, compute_s=compute, comm_s=res["time_s"],
                         kind=res["bottleneck_link_kind"], algo=res["algo"], devices=len(ranks)))
    if progress:
        progress(len(ids), len(ids), "")
    return rows
