"""Trains (messages alone on their route, computed whole at release) give the chunk-by-chunk
loop's results bit for bit, and only where nothing else shares the route."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_core import Engine, build_fabric, build_mesh_fabric, load_architecture
from sim_core.engine import kernel as K
from sim_core.engine.trains import plan


def _fabric(kind):
    if kind == "line":
        return build_mesh_fabric(1, cols=4, bandwidth_Bps=1e9, latency_s=1e-7)
    if kind == "torus":
        return build_mesh_fabric(3, torus=True, bandwidth_Bps=2e9, latency_s=1e-8)
    if kind == "dgx":
        return build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(1, 2))
    return build_fabric(load_architecture("tpu-v4"), dims=(2, 2, 2), tiles=(1, 1))


def _endpoints(fab, kind):
    if kind in ("line", "torus"):
        return list(range(fab.n_tiles))
    return [int(fab.device_node(d)) for d in range(fab.n_chips)]


@st.composite
def ring_workloads(draw):
    """Ring steps (each endpoint to the next, each step after the last), some stray
    messages that break some rings' exclusivity, compute tasks, dependencies and times."""
    kind = draw(st.sampled_from(["line", "torus", "dgx", "tpu"]))
    fab = _fabric(kind)
    nodes = _endpoints(fab, kind)
    steps = draw(st.integers(1, 4))
    msgs, edges = [], []
    for s in range(steps):
        for i, a in enumerate(nodes):
            b = nodes[(i + 1) % len(nodes)]
            msgs.append((a, b, draw(st.integers(1, 9000)), draw(st.sampled_from([None, 0.0, 3e-7, 2e-6]))))
            if s:
                edges.append((len(msgs) - 1 - len(nodes), len(msgs) - 1))
    for _ in range(draw(st.integers(0, 3))):
        msgs.append((draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes)), draw(st.integers(0, 9000)),
                     draw(st.sampled_from([None, 1e-6]))))
    computes = [(draw(st.sampled_from(nodes)), draw(st.floats(0, 2e-6))) for _ in range(draw(st.integers(0, 2)))]
    chunk = draw(st.sampled_from([100, 1000, 4096]))
    forward = draw(st.sampled_from([None, None, 64, 500]))
    return fab, msgs, computes, edges, (chunk, forward), draw(st.sampled_from([0, 1, 3]))


def _engine(fab, resolution, trains):
    chunk, forward = resolution
    return Engine(fab, chunk_bytes=chunk, policy="events", forward_bytes=forward, trains=trains)


def _load(eng, msgs, computes, edges):
    ids = []
    for src, dst, size, at in msgs:
        ids.append(int(eng.add_messages([src], [dst], [size], at_s=at, delay_s=5e-8)[0]))
    for node, dur in computes:
        ids.append(int(eng.add_compute([node], [dur])[0]))
    if edges:
        eng.add_dependencies([ids[a] for a, _ in edges], [ids[b] for _, b in edges])
    return ids


def _figures(eng, ids):
    rel, fin = eng.message_times(ids)
    return rel, fin, eng.busy_s.copy(), eng.link_bytes_total.copy(), eng.bytes_delivered, eng.chunks_delivered


def _play(fab, msgs, computes, edges, resolution, trains, step_first=0):
    eng = _engine(fab, resolution, trains)
    ids = _load(eng, msgs, computes, edges)
    for _ in range(step_first):  # some chunks on the fabric before the headless run
        eng.step(4e-7)
    eng.run_until_idle()
    return eng, _figures(eng, ids)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ring_workloads())
def test_trains_give_the_chunk_by_chunk_times_bit_for_bit(w):
    fab, msgs, computes, edges, resolution, step_first = w
    eng_t, with_trains = _play(fab, msgs, computes, edges, resolution, True, step_first)
    eng_c, chunk_by_chunk = _play(fab, msgs, computes, edges, resolution, False, step_first)
    for a, b in zip(with_trains, chunk_by_chunk):
        assert np.array_equal(a, b)
    assert eng_c.trains_total == 0
    assert eng_t.events_total <= eng_c.events_total


def test_a_ring_all_reduce_runs_as_trains_with_the_same_times():
    fab = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(1, 1))
    nodes = _endpoints(fab, "dgx")
    msgs, edges = [], []
    for s in range(2 * (len(nodes) - 1)):
        for i, a in enumerate(nodes):
            msgs.append((a, nodes[(i + 1) % len(nodes)], 250_000, None))
            if s:
                edges.append((len(msgs) - 1 - len(nodes), len(msgs) - 1))
    eng_t, with_trains = _play(fab, msgs, [], edges, (10240, None), True)
    eng_c, chunk_by_chunk = _play(fab, msgs, [], edges, (10240, None), False)
    for a, b in zip(with_trains, chunk_by_chunk):
        assert np.array_equal(a, b)
    assert eng_t.trains_total == len(msgs)  # every rank's route to its neighbour is its own
    assert eng_t.events_total * 10 < eng_c.events_total


def test_a_route_shared_by_two_sources_is_not_a_train():
    fab = build_mesh_fabric(1, cols=3, bandwidth_Bps=1e9, latency_s=0.0)
    eng = Engine(fab, chunk_bytes=100, policy="events")
    a = eng.send(0, 2, 1000)      # 0 -> 1 -> 2
    b = eng.send(1, 2, 1000)      # 1 -> 2 also: link 1->2 has two feeders
    c = eng.send(2, 0, 1000)      # alone on 2 -> 1 -> 0
    eng._admit_new()
    p = plan(eng)
    assert p is not None
    m_pair = p[0]
    assert m_pair[a] == -1 and m_pair[b] == -1 and m_pair[c] >= 0


def test_stepping_keeps_every_chunk_on_the_fabric():
    fab = build_mesh_fabric(1, cols=3, bandwidth_Bps=1e9, latency_s=0.0)
    eng = Engine(fab, chunk_bytes=100, policy="events")
    eng.send(0, 2, 1000)
    eng.step(5e-7)
    assert eng.trains_total == 0 and eng.si[K.C_LIVE] > 0


def test_the_rounds_policy_takes_the_flag_and_moves_every_chunk():
    fab = build_mesh_fabric(1, cols=4, bandwidth_Bps=1e9, latency_s=0.0)
    times = []
    for policy, trains in (("rounds", True), ("rounds", False), ("events", True)):
        eng = Engine(fab, chunk_bytes=100, policy=policy, trains=trains)
        ids = [eng.send(0, 3, 1000), eng.send(3, 0, 700, at_s=1e-7)]
        eng.run_until_idle()
        times.append(eng.message_times(ids)[1])
    assert np.array_equal(times[0], times[1]) and np.array_equal(times[0], times[2])


def test_a_cancelled_run_finishes_exactly_and_refuses_new_work_until_then():
    from sim_core.cancel import CancelToken, Cancelled, cancellable
    fab = build_mesh_fabric(1, cols=3, bandwidth_Bps=1e9, latency_s=0.0)
    ref = Engine(fab, chunk_bytes=100, policy="events", trains=False)
    eng = Engine(fab, chunk_bytes=100, policy="events")
    for e in (ref, eng):
        e.send(0, 2, 1000)
        e.send(2, 0, 1000, at_s=5e-6)
    token = CancelToken()
    calls = []
    real = eng._process

    def process_then_cancel(t1, n):  # cancelled after the first train is released
        calls.append(t1)
        status = real(t1, 1)
        token.cancel()
        return status

    eng._process = process_then_cancel
    with cancellable(token), pytest.raises(Cancelled):
        eng.run_until_idle()
    assert eng.trains_total == 1 and eng.si[K.C_LIVE] == 10
    with pytest.raises(RuntimeError, match="trains in flight"):
        eng.send(0, 1, 100)
    eng._process = real
    eng.run_until_idle()
    ref.run_until_idle()
    assert np.array_equal(eng.message_times([0, 1])[1], ref.message_times([0, 1])[1])
    eng.send(0, 1, 100)  # finished: work is welcome again
