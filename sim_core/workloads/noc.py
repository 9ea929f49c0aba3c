"""The network-on-chip laboratory: one k x k mesh (or torus) under synthetic traffic.

Units: a cycle is ``CYCLE_S = 2**-30`` s (about 0.93 ns, a ~1.07 GHz clock) so every
timestamp is an exact binary fraction; a link moves one flit per cycle; a hop costs
``hop_cycles`` cycles for one flit (one cycle of serialization plus ``hop_cycles - 1``
of router and wire latency).

Zero-load latency of a P-flit packet over H hops is ``H * hop_cycles + (P - 1)``: the
closed form ``S/B + (h-1)c/B + hL`` of pipelined store-and-forward with flit-sized chunks.
"""
from __future__ import annotations

import time

import numpy as np

from sim_core.engine.core import Engine
from sim_core.fabric.build import build_mesh_fabric
from sim_core.workloads.traffic import SyntheticTraffic

CYCLE_S = 2.0 ** -30
FLIT_BYTES = 16


def throughput_bound(k: int, torus: bool) -> float:
    """Uniform-traffic capacity in flits/node/cycle with one-flit-per-cycle channels (Dally & Towles)."""
    return (8.0 if torus else 4.0) / k


def mean_hops_uniform(k: int) -> float:
    """Mean hop count on a k x k mesh under uniform traffic (self included): 2(k^2-1)/(3k)."""
    return 2.0 * (k * k - 1) / (3.0 * k)


def run_noc(k: int, traffic: str = "uniform", rate: float = 0.1, *, packet_flits: int = 1, hop_cycles: int = 1,
            buffer_flits: int = 8, cycles: int = 20000, warmup: int = 2000, seed: int = 1, torus: bool = False,
            cycles_per_step: int = 8, hotspot_fraction: float = 0.2, progress=None) -> dict:
    """Run one load point; returns the CLI's JSON fields (rates in flits/node/cycle).

    ``progress(done_cycles, total_cycles)`` is called about every two seconds of wall time.
    """
    if not 2 <= k <= 1024:
        raise ValueError(f"--k {k}: allowed 2 to 1024")
    if hop_cycles < 1 or buffer_flits < 1 or packet_flits < 1:
        raise ValueError("--hop-cycles, --buffer-flits and --packet-flits must be >= 1")
    if not 0 <= warmup < cycles:
        raise ValueError(f"--warmup {warmup}: allowed 0 to cycles-1 ({cycles - 1})")
    wall0 = time.perf_counter()
    fab = build_mesh_fabric(k, torus=torus, bandwidth_Bps=FLIT_BYTES / CYCLE_S, latency_s=(hop_cycles - 1) * CYCLE_S)
    eng = Engine(fab, chunk_bytes=FLIT_BYTES, buffer_chunks=buffer_flits, seed=seed,
                 max_chunks_per_message=packet_flits, history=16)
    gen = SyntheticTraffic(fab, traffic, rate, packet_flits=packet_flits, flit_bytes=FLIT_BYTES,
                           cycle_s=CYCLE_S, hotspot_fraction=hotspot_fraction)
    eng.attach_traffic(gen)
    N = k * k
    dt = cycles_per_step * CYCLE_S
    last = [time.perf_counter()]

    def run_to(cycle: int) -> None:
        while eng.now_s < cycle * CYCLE_S:
            eng.step(min(dt, cycle * CYCLE_S - eng.now_s))
            if progress and time.perf_counter() - last[0] > 2.0:
                last[0] = time.perf_counter()
                progress(round(eng.now_s / CYCLE_S), cycles)

    run_to(warmup)
    gen_w, deliv_w, log_w = gen.generated_flits, eng.bytes_delivered, eng.log.total
    backlog_w = len(eng.c_buf)
    run_to(cycles)
    window = cycles - warmup
    offered = (gen.generated_flits - gen_w) / (N * window)
    accepted = (eng.bytes_delivered - deliv_w) / FLIT_BYTES / (N * window)
    rec = eng.log.since(log_w)
    measured = rec["created"] >= warmup * CYCLE_S - 1e-15
    lat = (rec["finish"][measured] - rec["created"][measured]) / CYCLE_S
    backlog_growth = len(eng.c_buf) - backlog_w
    saturated = bool(offered > 0 and (accepted < 0.95 * offered or backlog_growth > 0.05 * offered * N * window))
    return {
        "k": k, "torus": torus, "traffic": traffic, "packet_flits": packet_flits, "hop_cycles": hop_cycles,
        "buffer_flits": buffer_flits, "seed": seed,
        "offered_rate": round(offered, 6),
        "accepted_rate": round(accepted, 6),
        "avg_latency_cycles": round(float(lat.mean()), 4) if lat.size else None,
        "p99_latency_cycles": round(float(np.percentile(lat, 99)), 4) if lat.size else None,
        "packets_measured": int(lat.size),
        "saturated": saturated,
        "throughput_bound": throughput_bound(k, torus),
        "cycles": cycles,
        "warmup": warmup,
        "wall_s": round(time.perf_counter() - wall0, 3),
    }
