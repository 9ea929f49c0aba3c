"""Congestion study: the scene's own mesh pane run at every (pattern, offered load).

Each point builds the pane's simulation (``build_simulation`` of the pane's ``Scenario``
with the point's pattern and rate: the same fabric, packet size, buffers and seed the
pane animates) and runs it for the scene beat's length. A beat that sets a pattern and a
rate rebuilds the pane from time zero with the same seed, so what the audience watches
is one of the chart's runs.

Latency is measured with Little's law over the window after warm-up: mean bytes in
flight divided by the delivery rate, both recorded by the engine every step. With
single-flit packets this is the mean packet latency (release to delivery).
"""
from __future__ import annotations

import numpy as np

from sim_core.parallel import thread_map
from sim_core.workloads.noc import CYCLE_S, mean_hops_uniform, throughput_bound

NOC_STEP_CYCLES = 8  # the engine step while measuring; traffic is drawn per cycle whatever the step


def little_latency_s(engine, warmup_s: float) -> float | None:
    """Mean time from release to delivery over the steps after ``warmup_s`` (Little's law).

    Returns None before any byte was delivered in that window.
    """
    m = engine.metrics
    t, dt = m.series("time_s"), m.series("dt_s")
    inflight, delivered = m.series("bytes_in_flight"), m.series("bytes_delivered")
    after = t > warmup_s + 1e-18
    if after.sum() < 2 or (~after).sum() < 1:
        return None
    t0, d0 = t[~after][-1], delivered[~after][-1]
    rate_Bps = (delivered[after][-1] - d0) / (t[after][-1] - t0)
    if rate_Bps <= 0:
        return None
    mean_inflight = float((inflight[after] * dt[after]).sum() / dt[after].sum())
    return mean_inflight / rate_Bps


def run_point(scenario, pattern: str, rate: float, window_s: float, warmup_s: float) -> dict:
    """One load point on the pane's mesh: latency (cycles), accepted load, busiest link, longest queue."""
    from app.model.scenario import build_simulation
    sim = build_simulation(scenario.replace(params={**scenario.params, "pattern": pattern, "rate": rate}))
    eng = sim.engine
    dt = NOC_STEP_CYCLES * CYCLE_S
    while eng.now_s < window_s - 1e-18:
        eng.step(min(dt, window_s - eng.now_s))
    lat = little_latency_s(eng, warmup_s)
    n = sim.fabric.n_tiles
    m = eng.metrics
    t, delivered = m.series("time_s"), m.series("bytes_delivered")
    after = t > warmup_s
    accepted = (delivered[after][-1] - delivered[~after][-1]) / 16 / n / ((t[after][-1] - t[~after][-1]) / CYCLE_S)
    return {"latency_cycles": (lat or 0.0) / CYCLE_S, "accepted": float(accepted),
            "max_queue_chunks": int(np.max(eng.link_queue())), "refused": int(eng.messages_refused)}


def congestion(p: dict, fast: bool, panes=()) -> "StudyResult":
    from app.model.studies import StudyResult
    if not panes:
        raise ValueError("the congestion study runs the scene's first pane (a mesh with NoC traffic)")
    sc = panes[0]
    rates = list(p.get("fast_rates", [0.05, 0.12])) if fast else list(p.get("rates", [0.02, 0.05, 0.08, 0.12, 0.2]))
    patterns = list(p.get("patterns", ["uniform", "hotspot", "transpose"]))
    window_s, warmup_s = float(p.get("window_s", 560e-9)), float(p.get("warmup_s", 190e-9))
    k = int(sc.tiles[0]) if sc.tiles else 16
    r = StudyResult(f"Mean latency vs offered load on the {k}x{k} mesh", "cycles",
                    note=f"each point is the pane run for {window_s * 1e9:.0f} ns at that load (same mesh, "
                         f"seed and packets); latency by Little's law after {warmup_s * 1e9:.0f} ns of warm-up; "
                         f"uniform capacity 4/k = {throughput_bound(k, False):g} flits/core/cycle (Dally & Towles)")
    lat = {}
    points = [(pat, rate) for pat in patterns for rate in rates]
    runs = thread_map(lambda pr: run_point(sc, pr[0], pr[1], window_s, warmup_s), points)  # one engine each
    for (pat, rate), res in zip(points, runs):
        lat[(pat, rate)] = res["latency_cycles"]
        r.add(f"{pat} at {rate:g}", res["latency_cycles"],
              f"simulated on the pane's mesh; accepted {res['accepted']:.3f} of {rate:g} flits/core/cycle "
              f"offered; longest queue {res['max_queue_chunks']} flits", group=pat, x=rate)
    at = float(p.get("compare_at", 0.12 if not fast else rates[-1]))
    at = min(rates, key=lambda x: abs(x - at))
    r.put("hotspot_over_uniform_latency", lat[("hotspot", at)] / lat[("uniform", at)],
          f"simulated at {at:g} flits/core/cycle on the pane's mesh")
    r.put("uniform_low_load_over_zero_load", lat[("uniform", rates[0])] / (2 * mean_hops_uniform(k)),
          f"simulated at {rates[0]:g} against the zero-load 2 cycles x {mean_hops_uniform(k):.2f} mean hops")
    return r
