"""The step engine: conservation, closed forms, fairness, step-size invariance, determinism."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_core import Engine, Router, build_fabric, build_mesh_fabric, load_architecture
from sim_core.workloads.noc import CYCLE_S, FLIT_BYTES
from sim_core.workloads.traffic import SyntheticTraffic


def _check_conservation(eng):
    assert eng.bytes_injected == eng.bytes_delivered + eng.bytes_in_flight
    assert eng.chunks_created == eng.chunks_delivered + len(eng.c_buf)
    assert (eng.m_left[:eng.m_count] >= 0).all(), "a chunk was delivered twice"


@st.composite
def scenarios(draw):
    kind = draw(st.sampled_from(["mesh", "torus", "dgx", "tpu"]))
    if kind in ("mesh", "torus"):
        k = draw(st.integers(2, 5))
        fab = build_mesh_fabric(k, torus=kind == "torus", bandwidth_Bps=draw(st.sampled_from([1e9, 3e10])),
                                latency_s=draw(st.sampled_from([0.0, 1e-9, 5e-7])))
        nodes = np.arange(k * k)
    elif kind == "dgx":
        fab = build_fabric(load_architecture("dgx-a100"), nodes=draw(st.integers(1, 2)), tiles=(1, 2))
        nodes = np.concatenate([np.arange(fab.n_tiles), fab.chip_hub])
    else:
        fab = build_fabric(load_architecture("tpu-v4"), dims=[draw(st.integers(2, 4)), 2], tiles=(1, 2))
        nodes = np.concatenate([np.arange(fab.n_tiles), fab.chip_hub])
    n = draw(st.integers(1, 25))
    src = draw(st.lists(st.sampled_from(list(nodes)), min_size=n, max_size=n))
    dst = draw(st.lists(st.sampled_from(list(nodes)), min_size=n, max_size=n))
    size = draw(st.lists(st.integers(0, 200_000), min_size=n, max_size=n))
    at = draw(st.lists(st.floats(0, 2e-5), min_size=n, max_size=n))
    chunk = draw(st.sampled_from([64, 1000, 4096, 65536]))
    depth = draw(st.integers(1, 4))
    dt = draw(st.sampled_from([1e-8, 3e-7, 2e-6, 5e-5]))
    return fab, np.array(src), np.array(dst), np.array(size), np.array(at), chunk, depth, dt


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_byte_lost_or_duplicated(sc):
    fab, src, dst, size, at, chunk, depth, dt = sc
    eng = Engine(fab, chunk_bytes=chunk, buffer_chunks=depth)
    ids = eng.add_messages(src, dst, size, at_s=at)
    for _ in range(100_000):
        eng.step(dt)
        _check_conservation(eng)
        if eng.idle():
            break
    assert eng.idle(), "work never finished"
    assert eng.bytes_delivered == size.sum()
    assert eng.messages_done == len(ids)
    rel, fin = eng.message_times(ids)
    assert np.all(fin >= rel) and np.all(rel >= at - 1e-18)


def test_conservation_under_random_noc_traffic_every_step():
    fab = build_mesh_fabric(6, bandwidth_Bps=FLIT_BYTES / CYCLE_S)
    eng = Engine(fab, chunk_bytes=FLIT_BYTES, buffer_chunks=2, max_chunks_per_message=4)
    eng.attach_traffic(SyntheticTraffic(fab, "hotspot", 0.5, packet_flits=4, flit_bytes=FLIT_BYTES, cycle_s=CYCLE_S))
    for _ in range(300):
        eng.step(3 * CYCLE_S)
        _check_conservation(eng)
    assert eng.chunks_delivered > 1000


@pytest.mark.parametrize("S,c,B,h,L", [
    (100_000, 1000, 1e9, 5, 1e-6), (1_048_576, 65536, 25e9, 3, 2e-6), (4096, 4096, 1e10, 7, 1e-9), (64_000, 1000, 3e9, 1, 0.0),
    (123_457, 1000, 3e9, 4, 1e-7),
])
def test_lone_message_matches_pipelined_closed_form(S, c, B, h, L):
    fab = build_mesh_fabric(1, cols=h + 1, bandwidth_Bps=B, latency_s=L)
    eng = Engine(fab, chunk_bytes=c, buffer_chunks=2)
    m = eng.send(fab.tile_id(0, 0, 0), fab.tile_id(0, 0, h), S)
    eng.run_until_idle(dt_s=1e-5)
    rel, fin = eng.message_times([m])
    expect = S / B + (h - 1) * c / B + h * L
    if S % c == 0:
        assert fin[0] - rel[0] == pytest.approx(expect, rel=1e-12)
    else:  # a short last chunk waits for the full one ahead of it to be read out of each buffer
        assert expect <= fin[0] - rel[0] <= expect + h * (c - S % c) / B + 1e-15


def test_two_equal_flows_share_a_link_evenly():
    fab = build_mesh_fabric(1, cols=3, bandwidth_Bps=1e9, latency_s=1e-7)
    eng = Engine(fab, chunk_bytes=1000, buffer_chunks=4)
    a = eng.send(fab.tile_id(0, 0, 0), fab.tile_id(0, 0, 2), 1_000_000)
    b = eng.send(fab.tile_id(0, 0, 1), fab.tile_id(0, 0, 2), 1_000_000)
    eng.run_until_idle(dt_s=1e-4)
    _, fin = eng.message_times([a, b])
    both = 2_000_000 / 1e9
    assert fin == pytest.approx([both, both], rel=0.005)  # each got half the shared link
    assert abs(fin[0] - fin[1]) <= 2 * 1000 / 1e9 + 1e-7


def test_mesh_zero_load_latency_is_hops_times_hop_delay_plus_serialization():
    hop_cycles, P = 3, 5
    fab = build_mesh_fabric(6, bandwidth_Bps=FLIT_BYTES / CYCLE_S, latency_s=(hop_cycles - 1) * CYCLE_S)
    eng = Engine(fab, chunk_bytes=FLIT_BYTES, max_chunks_per_message=P)
    r = Router(fab)
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, 36, size=(20, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    for i, (s, d) in enumerate(pairs):  # one at a time: nothing contends
        m = eng.send(int(s), int(d), P * FLIT_BYTES, at_s=i * 1000 * CYCLE_S)
        eng.run_until_idle(dt_s=64 * CYCLE_S)
        rel, fin = eng.message_times([m])
        H = len(r.path(int(s), int(d)))
        assert (fin[0] - rel[0]) / CYCLE_S == pytest.approx(H * hop_cycles + (P - 1))


def _noc_run(dt_cycles, seed=7, rate=0.45, cycles=1500):
    fab = build_mesh_fabric(6, torus=True, bandwidth_Bps=FLIT_BYTES / CYCLE_S, latency_s=CYCLE_S)
    eng = Engine(fab, chunk_bytes=FLIT_BYTES, buffer_chunks=4, seed=seed, max_chunks_per_message=3)
    eng.attach_traffic(SyntheticTraffic(fab, "uniform", rate, packet_flits=3, flit_bytes=FLIT_BYTES, cycle_s=CYCLE_S))
    eng.run_until(cycles * CYCLE_S, dt_cycles * CYCLE_S)
    rec = eng.log.since(0)
    return eng, rec["finish"] - rec["created"]


def test_results_do_not_depend_on_the_step_size():
    _, lat_big = _noc_run(10)
    _, lat_small = _noc_run(1)
    assert len(lat_big) == len(lat_small)
    assert lat_big.mean() == pytest.approx(lat_small.mean(), rel=0.01)


def test_cluster_transfers_do_not_depend_on_the_step_size():
    fab = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(2, 4))
    out = []
    for dt in (1e-4, 1e-5):
        eng = Engine(fab, chunk_bytes=1 << 18)
        ids = [eng.send(fab.device_node(0), fab.device_node(9), 3e8),
               eng.send(fab.tile_id(1, 1, 2), fab.device_node(8), 5e7, at_s=1e-4),
               eng.send(fab.device_node(2), fab.device_node(8), 2e8, at_s=3e-5)]
        eng.run_until_idle(dt_s=dt)
        out.append(eng.message_times(ids)[1])
    assert out[0] == pytest.approx(out[1], rel=0.01)


def test_same_seed_same_result_bit_for_bit():
    a, la = _noc_run(4, seed=11)
    b, lb = _noc_run(4, seed=11)
    assert np.array_equal(la, lb)
    assert np.array_equal(a.link_busy_total_s, b.link_busy_total_s)
    _, lc = _noc_run(4, seed=12)
    assert not np.array_equal(la[:len(lc)], lc[:len(la)])


def test_snapshot_restore_replays_identically():
    fab = build_mesh_fabric(5, bandwidth_Bps=FLIT_BYTES / CYCLE_S)
    eng = Engine(fab, chunk_bytes=FLIT_BYTES, seed=3)
    eng.attach_traffic(SyntheticTraffic(fab, "uniform", 0.4, flit_bytes=FLIT_BYTES, cycle_s=CYCLE_S))
    eng.run_until(200 * CYCLE_S, 2 * CYCLE_S)
    snap = eng.snapshot()
    eng.run_until(400 * CYCLE_S, 2 * CYCLE_S)
    first = (eng.bytes_delivered, eng.link_busy_total_s.copy(), eng.c_ready.copy())
    eng.restore(snap)
    assert eng.now_s == 200 * CYCLE_S
    eng.run_until(400 * CYCLE_S, 2 * CYCLE_S)
    assert eng.bytes_delivered == first[0]
    assert np.array_equal(eng.link_busy_total_s, first[1]) and np.array_equal(eng.c_ready, first[2])


def test_dependencies_and_compute_tasks_chain_in_order():
    fab = build_mesh_fabric(1, cols=3, bandwidth_Bps=1e9, latency_s=0.0)
    eng = Engine(fab, chunk_bytes=1000)
    a = eng.send(0, 2, 1e6)
    (c,) = eng.add_compute([2], [5e-4])
    eng.add_dependencies([a], [c])
    b = eng.send(2, 0, 1e6, after=[int(c)], delay_s=1e-4)
    eng.run_until_idle(dt_s=1e-4)
    rel, fin = eng.message_times([a, c, b])
    assert rel[1] == pytest.approx(fin[0]) and fin[1] == pytest.approx(fin[0] + 5e-4)
    assert rel[2] == pytest.approx(fin[1] + 1e-4)
    assert fin[2] - rel[2] == pytest.approx(1e6 / 1e9 + 1000 / 1e9)


def test_utilization_is_a_share_and_queues_show_where_links_are_slow():
    fab = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(2, 4))
    eng = Engine(fab, chunk_bytes=1 << 18)
    for i in range(8):
        eng.send(fab.device_node(i), fab.device_node(8 + i), 1e9)
    eng.step(2e-3)
    u = eng.link_utilization()
    assert 0 <= u.min() and u.max() <= 1 and u.max() > 0.99
    q = eng.link_queue()
    ib = fab.links_of_kind("pcie")
    assert q[ib].sum() > 0, "chunks queue where the off-chip link is slower than the NVLink feeding it"


@pytest.mark.parametrize("bad", [
    dict(src=[0], dst=[99], size_bytes=[1]), dict(src=[0], dst=[1], size_bytes=[-1]),
    dict(src=[0], dst=[1], size_bytes=[np.nan]),
])
def test_bad_messages_are_refused(bad):
    eng = Engine(build_mesh_fabric(3))
    with pytest.raises(ValueError):
        eng.add_messages(**bad)


def test_bad_steps_are_refused():
    eng = Engine(build_mesh_fabric(3))
    for dt in (0, -1, np.inf, np.nan):
        with pytest.raises(ValueError):
            eng.step(dt)


def test_repeating_work_keeps_constant_memory_with_forget():
    fab = build_mesh_fabric(1, cols=3, bandwidth_Bps=1e9, latency_s=0.0)
    eng = Engine(fab, chunk_bytes=1000)
    sizes = []
    for _ in range(200):
        a = eng.send(0, 2, 1e4)
        b = eng.send(2, 0, 1e4, after=[a])
        eng.run_until_idle(dt_s=1e-4)
        eng.forget([a, b])
        sizes.append((eng.m_count, eng.e_from.size))
    assert sizes[-1] == sizes[10], "message pool and edges stop growing once ids are recycled"
    with pytest.raises(ValueError):
        eng.forget([eng.send(0, 2, 1e4)])


def test_a_source_queue_limit_keeps_a_saturated_mesh_bounded_and_conserving():
    fab = build_mesh_fabric(4, bandwidth_Bps=FLIT_BYTES / CYCLE_S)
    sizes = {}
    for limit in (None, 16):
        eng = Engine(fab, chunk_bytes=FLIT_BYTES, seed=2, source_queue_limit=limit)
        eng.attach_traffic(SyntheticTraffic(fab, "hotspot", 1.0, flit_bytes=FLIT_BYTES, cycle_s=CYCLE_S))
        for _ in range(300):
            eng.step(4 * CYCLE_S)
            _check_conservation(eng)
        sizes[limit] = len(eng.c_buf)
    assert sizes[16] <= 16 * 4 * 16 + 64  # at most `limit` per injection queue, plus the network
    assert sizes[None] > 3 * sizes[16]
    assert eng.messages_refused > 0 and eng.bytes_refused > 0
