"""The event policy: one answer for every step size, bounded work per call, the rounds policy agrees."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_core import Engine, build_fabric, build_mesh_fabric, load_architecture
from sim_core.engine.core import auto_policy
from sim_core.spec.schema import LINK_KINDS


def _line(n=3):
    return build_mesh_fabric(1, cols=n, bandwidth_Bps=1e9, latency_s=0.0)


def _three_messages(eng):
    z = eng.send(1, 2, 500, at_s=0.0)
    x = eng.send(0, 2, 1000, at_s=0.9e-6)
    y = eng.send(0, 2, 1000, after=[z])
    return [z, x, y]


@pytest.mark.parametrize("dt", [1e-6, 1e-7, 3.3e-8, 2.5e-6])
def test_a_dependency_released_message_is_not_overtaken_by_a_later_release(dt):
    eng = Engine(_line(), chunk_bytes=100, policy="events")
    ids = _three_messages(eng)
    eng.run_until(5e-6, dt)
    rel, fin = eng.message_times(ids)
    # z ends at 0.5 us and releases y, which queues at node 0 before x (0.9 us) arrives:
    # y's 10 chunks cross two 1 GB/s hops pipelined, S/B + c/B after its release.
    assert rel[2] == 0.5e-6
    assert fin[2] == pytest.approx(0.5e-6 + 1000 / 1e9 + 100 / 1e9, rel=1e-12)
    assert fin[1] == pytest.approx(fin[2] + 1000 / 1e9, rel=1e-12)


@st.composite
def workloads(draw):
    kind = draw(st.sampled_from(["line", "torus", "dgx"]))
    if kind == "line":
        fab = build_mesh_fabric(1, cols=draw(st.integers(2, 5)), bandwidth_Bps=1e9, latency_s=draw(st.sampled_from([0.0, 1e-7])))
        nodes = list(range(fab.n_tiles))
    elif kind == "torus":
        fab = build_mesh_fabric(3, torus=True, bandwidth_Bps=2e9, latency_s=1e-8)
        nodes = list(range(fab.n_tiles))
    else:
        fab = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(1, 2))
        nodes = list(range(fab.n_tiles)) + [int(h) for h in fab.chip_hub]
    n = draw(st.integers(1, 12))
    msgs = [(draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes)), draw(st.integers(0, 20_000)),
             draw(st.floats(0, 5e-6)), draw(st.booleans())) for _ in range(n)]
    computes = [(draw(st.sampled_from(nodes)), draw(st.floats(0, 3e-6))) for _ in range(draw(st.integers(0, 3)))]
    total = n + len(computes)
    edges = [(a, b) for a, b in draw(st.lists(st.tuples(st.integers(0, total - 1), st.integers(0, total - 1)), max_size=8))
             if a < b]
    steps = draw(st.lists(st.sampled_from([1e-9, 7e-8, 3e-7, 1e-6, 4e-6]), min_size=1, max_size=4))
    chunk = draw(st.sampled_from([100, 1000, 4096]))
    forward = draw(st.sampled_from([None, None, 64, 500]))  # cut-through below the chunk size, or none
    return fab, msgs, computes, edges, steps, (chunk, forward)


def _play(fab, msgs, computes, edges, resolution, steps=None):
    chunk, forward = resolution if isinstance(resolution, tuple) else (resolution, None)
    eng = Engine(fab, chunk_bytes=chunk, policy="events", forward_bytes=forward)
    ids = []
    for src, dst, size, at, use_at in msgs:
        ids.append(int(eng.add_messages([src], [dst], [size], at_s=at if use_at else None, delay_s=1e-7)[0]))
    for node, dur in computes:
        ids.append(int(eng.add_compute([node], [dur])[0]))
    if edges:
        eng.add_dependencies([ids[a] for a, _ in edges], [ids[b] for _, b in edges])
    if steps is None:
        eng.run_until_idle()
    else:
        i = 0
        while not eng.idle():
            eng.step(steps[i % len(steps)])
            i += 1
    return eng.message_times(ids)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_every_step_size_gives_bit_identical_message_times(w):
    fab, msgs, computes, edges, steps, chunk = w
    rel0, fin0 = _play(fab, msgs, computes, edges, chunk)
    rel1, fin1 = _play(fab, msgs, computes, edges, chunk, steps)
    rel2, fin2 = _play(fab, msgs, computes, edges, chunk, steps[::-1] + [2.5e-7])
    assert np.array_equal(rel0, rel1) and np.array_equal(fin0, fin1)
    assert np.array_equal(rel0, rel2) and np.array_equal(fin0, fin2)
    assert np.isfinite(fin0).all()


def _cluster_engine(policy="events"):
    fab = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(2, 4))
    eng = Engine(fab, chunk_bytes=1 << 16, policy=policy)
    ids = [eng.send(fab.device_node(i), fab.device_node((i + 5) % 16), 4e6, at_s=i * 1e-6) for i in range(16)]
    return eng, ids


def test_advance_does_at_most_its_budget_and_ends_where_one_call_would():
    eng, ids = _cluster_engine()
    reached, calls = 0.0, 0
    while not eng.idle():
        before = eng.events_total
        reached = eng.advance(1.0, max_events=500)
        assert eng.events_total - before <= 500
        assert reached == eng.now_s <= 1.0
        calls += 1
    ref, ref_ids = _cluster_engine()
    ref.run_until_idle()
    assert calls > 10
    assert np.array_equal(eng.message_times(ids)[1], ref.message_times(ref_ids)[1])


def _noc_engine(rate=0.3):
    from sim_core.workloads.traffic import SyntheticTraffic
    fab = build_mesh_fabric(16, bandwidth_Bps=16 / 2.0 ** -30, latency_s=2.0 ** -30)
    eng = Engine(fab, chunk_bytes=16, seed=5)
    gen = SyntheticTraffic(fab, "uniform", rate, packet_flits=1, flit_bytes=16, cycle_s=2.0 ** -30)
    eng.attach_traffic(gen)
    return eng, gen


def test_a_bounded_advance_generates_traffic_only_as_fast_as_it_consumes_it():
    # a frame at 10,000x asks for a millisecond: 77 M packets on this mesh, if made at once
    eng, gen = _noc_engine()
    for _ in range(20):
        eng.advance(1e-3, max_events=2000)
    assert eng.now_s < 1e-5
    assert gen.generated_flits < 50_000
    assert eng._gen_until < eng.now_s + 2e-7  # what is made ahead of the clock stays small


def test_traffic_made_in_slices_is_the_traffic_made_in_steps():
    bounded, gen_b = _noc_engine()
    stepped, gen_s = _noc_engine()
    t = 0.0
    while t < 2e-7:
        t = bounded.advance(2e-7, max_events=300)
    stepped.step(2e-7)
    assert gen_b.generated_flits == gen_s.generated_flits > 0
    a, b = bounded.log.since(0), stepped.log.since(0)
    for key in ("created", "finish"):
        assert np.array_equal(np.sort(a[key]), np.sort(b[key]))


def test_step_back_replays_bounded_advances_with_traffic_exactly():
    eng, _ = _noc_engine()
    for _ in range(5):
        eng.advance(1e-3, max_events=700)
    snap = eng.snapshot()  # the slice of traffic made ahead is part of the state

    def play():
        for _ in range(8):
            eng.advance(1e-3, max_events=700)
        return eng.now_s, eng.bytes_delivered, eng.link_busy_total_s.copy()
    first = play()
    eng.restore(snap)
    again = play()
    assert first[:2] == again[:2] and np.array_equal(first[2], again[2])


def test_traffic_is_the_same_however_its_cycles_are_blocked(monkeypatch):
    import sim_core.workloads.traffic as traffic
    runs = []
    for block in (1 << 18, 300):
        monkeypatch.setattr(traffic, "_BLOCK_DRAWS", block)
        eng, _ = _noc_engine()
        eng.step(1e-7)
        n = eng.m_count
        runs.append((eng.m_src[:n].copy(), eng.m_dst[:n].copy(), eng.m_created[:n].copy()))
    assert runs[0][0].size > 1000
    assert all(np.array_equal(x, y) for x, y in zip(*runs))


def test_advance_refuses_the_past_and_an_empty_budget():
    eng, _ = _cluster_engine()
    eng.advance(1e-6)
    for until, budget in ((0.0, None), (np.inf, None), (np.nan, None), (1.0, 0)):
        with pytest.raises(ValueError):
            eng.advance(until, max_events=budget)


def test_same_inputs_same_result_bit_for_bit():
    a, ia = _cluster_engine()
    b, ib = _cluster_engine()
    a.run_until(3e-4, 1e-5)
    b.run_until(3e-4, 7e-6)
    assert np.array_equal(a.message_times(ia)[1], b.message_times(ib)[1])
    assert np.array_equal(a.link_busy_total_s, b.link_busy_total_s)


def test_kind_metrics_equal_the_per_link_figures():
    eng, _ = _cluster_engine()
    for _ in range(30):
        eng.step(2e-5)
        util = eng.link_utilization()
        kind = eng.f.link_kind
        mean = eng.metrics.series("util_mean")[-1]
        mx = eng.metrics.series("util_max")[-1]
        for k in range(len(LINK_KINDS)):
            sel = kind == k
            if sel.any():
                assert mean[k] == pytest.approx(util[sel].mean(), abs=1e-12)
                assert mx[k] == pytest.approx(util[sel].max(), abs=1e-12)
    busy = eng.link_busy_total_s
    assert busy.max() > 0 and np.all(busy <= eng.now_s * (1 + 1e-12))


def test_a_dependency_cycle_is_one_line_error_not_a_hang():
    eng = Engine(_line(), chunk_bytes=100, policy="events")
    a = eng.send(0, 2, 1000)
    b = eng.send(2, 0, 1000, after=[a])
    eng.add_dependencies([b], [a])
    with pytest.raises(RuntimeError, match="dependencies that never complete"):
        eng.run_until_idle()


def test_snapshot_restore_replays_the_event_core_identically():
    eng, ids = _cluster_engine()
    eng.run_until(5e-5, 1e-5)
    snap = eng.snapshot()
    eng.run_until_idle()
    first = eng.message_times(ids)[1]
    eng.restore(snap)
    assert eng.now_s == 5e-5
    eng.run_until_idle()
    assert np.array_equal(eng.message_times(ids)[1], first)


def test_the_policy_is_chosen_by_fabric_and_by_name():
    mesh = build_mesh_fabric(4)
    assert auto_policy(mesh) == "events" and Engine(mesh).policy == "events"  # small: the event loop wins
    big = build_mesh_fabric(33)
    assert auto_policy(big) == "rounds" and Engine(big).policy == "rounds"
    assert Engine(big, policy="events").policy == "events" and Engine(mesh, policy="rounds").policy == "rounds"
    assert Engine(build_fabric(load_architecture("dgx-a100"), nodes=1, tiles=(1, 2))).policy == "events"
    with pytest.raises(ValueError):
        Engine(mesh, policy="fast")


@st.composite
def mesh_cases(draw):
    k = draw(st.integers(2, 4))
    fab = build_mesh_fabric(k, torus=draw(st.booleans()), bandwidth_Bps=1e9, latency_s=draw(st.sampled_from([0.0, 1e-9])))
    n = draw(st.integers(1, 10))
    nodes = st.integers(0, k * k - 1)
    msgs = [(draw(nodes), draw(nodes), draw(st.integers(1, 5000)), draw(st.sampled_from([0.0, 1e-7, 3e-7, 1e-6])))
            for _ in range(n)]
    return fab, msgs, draw(st.sampled_from([100, 512]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mesh_cases())
def test_rounds_and_events_agree_on_small_meshes(case):
    """The two policies follow the same rules in the same order: message finishes are
    bit-identical. Busy totals are sums taken in a different order (per step in rounds, per
    start in events), so they agree to rounding."""
    fab, msgs, chunk = case
    out = {}
    for policy in ("rounds", "events"):
        eng = Engine(fab, chunk_bytes=chunk, policy=policy)
        ids = [eng.send(s, d, b, at_s=t) for s, d, b, t in msgs]
        eng.run_until_idle(dt_s=1e-6)
        out[policy] = (eng.message_times(ids)[1], eng.link_busy_total_s.copy(), eng.bytes_delivered)
    (fa, ba, da), (fb, bb, db) = out["rounds"], out["events"]
    assert da == db
    assert np.allclose(ba, bb, rtol=1e-9, atol=1e-15)
    assert np.array_equal(fa, fb)


def test_advance_quiet_processes_the_same_events_as_advance():
    """Skipping quiet spans (what the app does during compute phases) changes nothing simulated:
    every message and compute task finishes at the same time, bit for bit."""
    from sim_core import load_architecture
    from sim_core.fabric.build import build_fabric
    from sim_core.workloads.training import schedule_iteration

    fab = build_fabric(load_architecture("dgx-a100"), nodes=1, tiles=(2, 2))
    engines = [Engine(fab, chunk_bytes=4 << 20) for _ in range(2)]
    handles = [schedule_iteration(e, fab, "bert-large") for e in engines]
    plain, skipping = engines
    plain.run_until_idle(dt_s=1e-3)
    jumps = 0
    while not skipping.idle():
        t = skipping.now_s
        if skipping.advance_quiet(t + 0.05) > t:
            jumps += 1
        skipping.advance(skipping.now_s + 1e-4)
    assert jumps > 0
    a = plain.message_times(handles[0].message_ids)
    b = skipping.message_times(handles[1].message_ids)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_rounds_and_events_agree_when_a_delivery_frees_a_ring_entrants_slot():
    # 4x4 torus, three flows into one ring: a delivery frees the second slot an entering
    # chunk needs (bubble flow control) just before a continuing chunk could start; both
    # policies must let the entrant compete at that time (found by random replays)
    fab = build_mesh_fabric(4, torus=True, bandwidth_Bps=1e9, latency_s=1e-9)
    msgs = [(5, 12, 404, 1e-07), (1, 8, 323, 3e-07), (8, 0, 424, 0.0)]
    out = []
    for policy in ("rounds", "events"):
        eng = Engine(fab, chunk_bytes=100, policy=policy)
        ids = [eng.send(s, d, b, at_s=t) for s, d, b, t in msgs]
        eng.run_until_idle(dt_s=1e-6)
        out.append(eng.message_times(ids)[1])
    assert np.array_equal(out[0], out[1])


@pytest.mark.parametrize("arch,nodes", [("dgx-a100", 2), ("pcie-a100", 2), ("tpu-v4", None)])
def test_a_cut_through_chunk_arrives_when_its_units_stored_and_forwarded_would(arch, nodes):
    # The tandem-queue identity: alone on its path, a chunk of k units forwarded cut-through
    # (a node passes it on once its first unit is in) finishes exactly when k one-unit chunks
    # stored and forwarded do, on every path shape (9, 11 and 6 links of mixed rates here).
    spec = load_architecture(arch)
    fab = build_fabric(spec, nodes=nodes, tiles=(2, 2)) if nodes else build_fabric(spec, tiles=(2, 2))
    unit, k, dst = 65536, 16, fab.n_tiles - 1
    finish = []
    for chunk, forward in ((unit, None), (unit * k, unit), (unit * k, None)):
        eng = Engine(fab, chunk_bytes=chunk, policy="events", forward_bytes=forward)
        m = eng.send(0, dst, unit * k)
        eng.run_until_idle()
        finish.append(float(eng.message_times([m])[1][0]))
    units, cut, whole = finish
    assert cut == pytest.approx(units, rel=1e-12)
    assert whole > 2 * units  # stored and forwarded whole, the big chunk waits at every hop


@pytest.mark.parametrize("arch,nodes,far", [("dgx-a100", 2, 1), ("dgx-a100", 2, 9), ("pcie-a100", 2, 5), ("tpu-v4", None, 3)])
def test_messages_of_unequal_cut_through_chunks_arrive_when_their_units_would(arch, nodes, far):
    # The identity for whole messages, device to device: two messages of 5 units back to
    # back, in chunks of 4 units (a 4-unit chunk, then a 1-unit one), finish when messages
    # of one-unit chunks do. The destination reads a cut-through chunk as its units arrive,
    # so the small chunk behind a big one is not held back by the big one's whole size.
    spec = load_architecture(arch)
    fab = build_fabric(spec, nodes=nodes, tiles=(1, 1)) if nodes else build_fabric(spec, tiles=(1, 1))
    unit, src, dst = 65536, int(fab.device_node(0)), int(fab.device_node(far))
    finish = []
    for chunk, forward in ((unit, None), (4 * unit, unit)):
        eng = Engine(fab, chunk_bytes=chunk, policy="events", forward_bytes=forward)
        ids = [eng.send(src, dst, 5 * unit), eng.send(src, dst, 5 * unit)]
        eng.run_until_idle()
        finish.append(eng.message_times(ids)[1])
    assert finish[1] == pytest.approx(finish[0], rel=1e-12)


def test_cut_through_needs_the_event_policy():
    with pytest.raises(ValueError, match="forward_bytes"):
        Engine(build_mesh_fabric(4), chunk_bytes=64, forward_bytes=16, policy="rounds")
    with pytest.raises(ValueError, match="forward_bytes"):
        Engine(build_mesh_fabric(4), chunk_bytes=64, forward_bytes=0)
