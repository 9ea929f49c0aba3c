"""Collectives on the engine: closed-form identities, NCCL's choice and mechanisms.

The closed forms run with ``protocol="none"`` (the engine's raw messages). No contention: ranks hang off one crossbar switch (every GPU pair two equal NVLink hops,
each rank's up- and down-link carries one transfer per step) built from the dgx-a100
preset with up to 64 GPUs per node, or ride one torus ring (neighbours one ICI hop).
The engine stores and forwards each chunk, so a message over h hops of bandwidth B
costs ``(h-1) c / B`` on top of ``S / B + h L``: the effective alpha below is the path
latency plus that term (c = the first chunk of the message).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from sim_core import build_fabric, load_architecture
from sim_core.workloads.collectives.algorithms import (ALGORITHMS, OPS, SUPPORTED, choose_algorithm, collective_engine,
                                                       run_collective, schedule_collective)
from sim_core.workloads.collectives.forms import crossbar, gamma_s_per_byte, message_s
from sim_core.errors import SpecError

CPM = 16  # chunks per message in these runs


def step_time(fab, src, dst, m: float, eng) -> float:
    return message_s(fab, eng, src, dst, m)


def gamma(fab) -> float:
    return gamma_s_per_byte(fab)


def simulate(fab, ranks, op, algo, n):
    eng = collective_engine(fab, n, len(ranks), chunks_per_message=CPM)
    h = schedule_collective(eng, op, algo, ranks, n, protocol="none")
    eng.run_until_idle(dt_s=1.0)
    return h.time_s(eng), eng


CASES = [(2, 1e3), (2, 4e9), (3, 1e6), (4, 1e9), (8, 1e3), (8, 4e9), (16, 1e6), (32, 1e9), (64, 1e3), (64, 4e9)]


@pytest.mark.parametrize("p,n", CASES)
def test_ring_allreduce_matches_closed_form(p, n):
    fab, ranks = crossbar(p)
    t, eng = simulate(fab, ranks, "allreduce", "ring", n)
    expect = 2 * (p - 1) * step_time(fab, ranks[0], ranks[1], n / p, eng) + (p - 1) / p * n * gamma(fab)
    assert t == pytest.approx(expect, rel=0.02)


@pytest.mark.parametrize("p,n", [c for c in CASES if c[0] & (c[0] - 1) == 0])
def test_rhd_allreduce_matches_rabenseifner(p, n):
    fab, ranks = crossbar(p)
    t, eng = simulate(fab, ranks, "allreduce", "rhd", n)
    lg = int(math.log2(p))
    sizes = [n / 2 ** (k + 1) for k in range(lg)]
    expect = 2 * sum(step_time(fab, ranks[0], ranks[1], m, eng) for m in sizes) + (p - 1) / p * n * gamma(fab)
    assert t == pytest.approx(expect, rel=0.02)


@pytest.mark.parametrize("p,n", [c for c in CASES if c[0] & (c[0] - 1) == 0])
def test_tree_allreduce_matches_binomial_form(p, n):
    fab, ranks = crossbar(p)
    t, eng = simulate(fab, ranks, "allreduce", "tree", n)
    lg = int(math.log2(p))
    expect = 2 * lg * step_time(fab, ranks[0], ranks[1], n / 2, eng) + lg * n / 2 * gamma(fab)
    assert t == pytest.approx(expect, rel=0.02)


@pytest.mark.parametrize("p,n", [(4, 1e6), (64, 1e9)])
def test_tree_broadcast_and_ring_allgather(p, n):
    fab, ranks = crossbar(p)
    t, eng = simulate(fab, ranks, "broadcast", "tree", n)
    assert t == pytest.approx(math.log2(p) * step_time(fab, ranks[0], ranks[1], n, eng), rel=0.02)
    t, eng = simulate(fab, ranks, "allgather", "ring", n)
    assert t == pytest.approx((p - 1) * step_time(fab, ranks[0], ranks[1], n / p, eng), rel=0.02)


@pytest.mark.parametrize("p", [5, 64])
def test_ring_on_a_torus_ring_matches(p):
    fab = build_fabric(load_architecture("tpu-v4"), dims=[p])
    ranks = [fab.device_node(d) for d in range(p)]
    t, eng = simulate(fab, ranks, "reduce-scatter", "ring", 1e9)
    expect = (p - 1) * step_time(fab, ranks[0], ranks[1], 1e9 / p, eng) + (p - 1) / p * 1e9 * gamma(fab)
    assert t == pytest.approx(expect, rel=0.02)


def test_busbw_is_nccls_definition():
    fab, ranks = crossbar(8)
    r = run_collective(fab, "allreduce", "ring", ranks, 1e9)
    assert (r["algo"], r["protocol"], r["channels"]) == ("ring", "Simple", 12)
    assert r["busbw_GBps"] == pytest.approx(r["algbw_GBps"] * 2 * 7 / 8)
    assert r["algbw_GBps"] == pytest.approx(1e9 / r["time_s"] / 1e9)
    assert r["bottleneck_link_kind"] == "nvlink"


def test_every_supported_pair_runs_and_finishes():
    fab = build_fabric(load_architecture("dgx-a100"), nodes=2)
    ranks = [fab.device_node(d) for d in range(16)]
    for op, algos in SUPPORTED.items():
        assert op in OPS
        for algo in algos:
            assert algo in ALGORITHMS
            if algo in ("torus", "nvls", "collnet"):
                continue
            r = run_collective(fab, op, algo, ranks, 1e6)
            assert r["time_s"] > 0, (op, algo)


def test_torus_and_wafer_dimension_by_dimension():
    fab = build_fabric(load_architecture("tpu-v4"), dims=[4, 4])
    ranks = [fab.device_node(d) for d in range(16)]
    assert choose_algorithm(fab, "allreduce", 1e9, ranks) == "torus"
    torus = run_collective(fab, "allreduce", "torus", ranks, 1e9)
    ring = run_collective(fab, "allreduce", "ring", ranks, 1e9)
    assert torus["time_s"] < ring["time_s"]
    wafer = build_fabric(load_architecture("wafer-wse2"), tiles=(4, 4))
    tiles = list(range(16))
    r = run_collective(wafer, "allreduce", "torus", tiles, 1e9)
    assert r["bottleneck_link_kind"] == "noc"


def test_in_switch_reduction_is_an_option_where_the_switch_has_it():
    fab = build_fabric(load_architecture("dgx-h100"), nodes=1, tiles=(1, 1))
    ranks = [fab.device_node(d) for d in range(8)]
    assert choose_algorithm(fab, "allreduce", 1e9, ranks) == "nvls"
    sharp = run_collective(fab, "allreduce", "nvls", ranks, 1e9)
    ring = run_collective(fab, "allreduce", "ring", ranks, 1e9)
    assert sharp["busbw_GBps"] > 1.2 * ring["busbw_GBps"]
    a100 = build_fabric(load_architecture("dgx-a100"), nodes=1, tiles=(1, 1))
    with pytest.raises(SpecError, match="in-switch"):
        run_collective(a100, "allreduce", "nvls", [a100.device_node(d) for d in range(8)], 1e9)


def test_reduction_costs_core_time():
    fab, ranks = crossbar(4)
    with_red = run_collective(fab, "reduce-scatter", "ring", ranks, 1e9, protocol="none")
    without = run_collective(fab, "reduce-scatter", "ring", ranks, 1e9, protocol="none", gamma_s_per_byte=0.0)
    assert with_red["time_s"] - without["time_s"] == pytest.approx(3 / 4 * 1e9 * gamma(fab), rel=0.01)


def test_auto_choice_by_size_and_topology():
    fab = build_fabric(load_architecture("dgx-a100"), nodes=4, tiles=(1, 1))
    ranks = [fab.device_node(d) for d in range(32)]
    assert choose_algorithm(fab, "allreduce", 1e9, ranks) == "ring"  # ring across many servers
    assert choose_algorithm(fab, "allreduce", 1e9, ranks[:16]) == "tree"  # tree on two
    assert choose_algorithm(fab, "allreduce", 1e9, ranks[:8]) == "ring"
    assert choose_algorithm(fab, "alltoall", 1e9, ranks) == "direct"


def test_pcie_is_slower_than_nvlink_and_wafer_beats_off_chip():
    def ar(arch, **kw):
        fab = build_fabric(load_architecture(arch), **kw)
        ranks = [fab.device_node(d) for d in range(8)]
        return run_collective(fab, "allreduce", "ring", ranks, 1e9)["time_s"]
    nv, pcie = ar("dgx-a100", nodes=1), ar("pcie-a100", nodes=1)
    assert pcie > nv
    # Eight wafer regions (tiles of a 2 x 4 drawing) each hold n bytes, like eight GPUs.
    wafer = build_fabric(load_architecture("wafer-wse2"), tiles=(2, 4))
    tiles = list(range(8))
    on_wafer = run_collective(wafer, "allreduce", "auto", tiles, 1e9)["time_s"]
    tpu = build_fabric(load_architecture("tpu-v4"), dims=[2, 2, 2])
    t_tpu = run_collective(tpu, "allreduce", "auto", [tpu.device_node(d) for d in range(8)], 1e9)["time_s"]
    assert on_wafer < min(nv, pcie, t_tpu)


@pytest.mark.parametrize("bad", [dict(op="gather"), dict(algo="nope"), dict(nbytes=-1.0), dict(ranks=[5])])
def test_bad_input_is_one_clear_error(bad):
    fab, ranks = crossbar(4)
    args = dict(op="allreduce", algo="ring", ranks=ranks, nbytes=1e6)
    args.update(bad)
    eng = collective_engine(fab, 1e6, 4)
    with pytest.raises(SpecError):
        schedule_collective(eng, args["op"], args["algo"], args["ranks"], args["nbytes"])


def test_handle_reports_progress_for_the_app():
    fab, ranks = crossbar(4)
    eng = collective_engine(fab, 1e8, 4)
    h = schedule_collective(eng, "allreduce", "auto", ranks, 1e8, tag=7)
    assert (h.algo, h.protocol) == ("ring", "Simple")
    assert not h.done(eng) and h.time_s(eng) is None
    eng.run_until_idle(dt_s=1e-3)
    assert h.done(eng) and h.time_s(eng) > 0
    assert np.all(eng.message_info(h.message_ids).tag == 7)


def test_like_for_like_gives_every_preset_the_same_ranks_or_a_row_of_wafer_cores():
    from sim_core import load_architecture, preset_ids
    from sim_core.workloads.collectives import like_for_like

    for pid in preset_ids():
        spec = load_architecture(pid)
        fab, ranks = like_for_like(spec, 16)
        assert len(ranks) == 16 and len(set(ranks)) == 16
        if fab.n_chips >= 2:
            assert ranks == [fab.device_node(d) for d in range(16)]
        else:  # one wafer: evenly spaced cores of its middle row
            row = fab.tile_rows // 2
            assert all(r // fab.tile_cols == row for r in ranks)
