"""Small, named experiments on the engine that scenes and the CLI show as numbers.

Each function builds the fabrics it needs, runs the engine and returns plain data; no
number here is written down, every one is simulated.
"""
from __future__ import annotations

import numpy as np

from sim_core.engine.core import Engine
from sim_core.spec.loader import load_architecture
from sim_core.workloads.noc import run_noc, throughput_bound
from sim_core.spec.schema import LINK_KINDS
from sim_core.fabric.build import build_fabric, build_mesh_fabric


def _one_transfer(fab, src: int, dst: int, nbytes: float, chunk_bytes: int) -> tuple[float, list[str]]:
    eng = Engine(fab, chunk_bytes=chunk_bytes)
    path = eng.router.path(src, dst)
    m = eng.send(src, dst, nbytes)
    eng.run_until_idle(dt_s=1e-3)
    rel, fin = eng.message_times([m])
    return float(fin[0] - rel[0]), [LINK_KINDS[fab.link_kind[l]] for l in path]


def latency_ladder(nbytes: float = 4.0) -> list[dict]:
    """The same tensor sent over each kind of hop; one row per path, fastest first.

    On-chip: two neighbouring cores of the wafer at core resolution (one physical mesh
    link). Off-chip: GPU to GPU through NVSwitch (dgx-a100), through a PCIe switch
    (pcie-a100), across InfiniBand (dgx-a100, next server) and across Ethernet (pcie-a100,
    next server). Each row: ``path``, ``architecture``, ``link_kinds``, ``time_s`` and
    ``times_on_chip`` (how many times the on-chip hop).
    """
    wafer = load_architecture("wafer-wse2").chip
    mesh = build_mesh_fabric(2, bandwidth_Bps=wafer.noc_bandwidth_Bps, latency_s=wafer.noc_hop_latency_s)
    rows = [("neighbouring cores on the wafer", "wafer-wse2", mesh, 0, 1)]
    dgx = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(1, 1))
    pcie = build_fabric(load_architecture("pcie-a100"), nodes=2, tiles=(1, 1))
    rows += [
        ("GPU to GPU over NVLink (NVSwitch)", "dgx-a100", dgx, dgx.device_node(0), dgx.device_node(1)),
        ("GPU to GPU over PCIe (PCIe switch)", "pcie-a100", pcie, pcie.device_node(0), pcie.device_node(1)),
        ("GPU to GPU across InfiniBand", "dgx-a100", dgx, dgx.device_node(0), dgx.device_node(8)),
        ("GPU to GPU across Ethernet", "pcie-a100", pcie, pcie.device_node(0), pcie.device_node(8)),
    ]
    out = []
    for name, arch, fab, a, b in rows:
        t, kinds = _one_transfer(fab, a, b, nbytes, chunk_bytes=max(1, int(min(nbytes, 1 << 20))))
        out.append({"path": name, "architecture": arch, "link_kinds": kinds, "bytes": nbytes, "time_s": t})
    base = out[0]["time_s"]
    for row in out:
        row["times_on_chip"] = row["time_s"] / base
    return sorted(out, key=lambda r: r["time_s"])


def bisection_scaling(ks=(4, 8, 16), cycles: int = 2500, warmup: int = 500) -> list[dict]:
    """Saturation throughput of nearest-neighbour vs all-to-all traffic as the mesh grows.

    Nearest-neighbour traffic never crosses the middle of the mesh, so the whole mesh's
    throughput grows with the number of cores (k^2). Uniform all-to-all traffic sends half
    its packets across the bisection, k channels each way, so the whole mesh's throughput
    grows only with k: per core it falls as 4/k. Rows per (k, pattern): offered load past
    the bound, ``accepted_rate`` per core, ``total_flits_per_cycle`` for the mesh and the
    ``bound`` per core.
    """
    out = []
    for k in ks:
        for pattern, offered in (("neighbor", 1.0), ("uniform", min(1.0, 1.4 * throughput_bound(k, False)))):
            r = run_noc(k, pattern, offered, cycles=cycles, warmup=warmup, seed=1)
            bound = 1.0 if pattern == "neighbor" else throughput_bound(k, False)
            out.append({"k": k, "pattern": pattern, "offered_rate": r["offered_rate"],
                        "accepted_rate": r["accepted_rate"], "total_flits_per_cycle": r["accepted_rate"] * k * k,
                        "bound_per_core": bound})
    return out
