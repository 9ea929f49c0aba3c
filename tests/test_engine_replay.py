"""Recorded rounds replayed: the same work from a later start, bit for bit."""
import numpy as np

from sim_core import Engine, build_fabric, load_architecture
from sim_core.workloads.collectives.algorithms import schedule_collective


def _round(eng, ranks):
    h = schedule_collective(eng, "allreduce", "auto", ranks, 4e6, joins=True)
    return h.message_ids


def test_a_replayed_round_is_the_round_planned_again():
    fab = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(2, 2))
    ranks = [fab.device_node(d) for d in range(fab.n_chips)]
    engines = [Engine(fab, chunk_bytes=1 << 18) for _ in range(2)]
    times = []
    for replay, eng in zip((False, True), engines):
        with eng.record_work() as rec:
            ids = _round(eng, ranks)
        tpl = rec.template(ids)
        assert tpl is not None and tpl.messages >= ids.size
        eng.run_until_idle()
        eng.forget(ids)
        eng.step(1e-6)  # the next round starts later, from an empty fabric
        ids2 = eng.replay_work(tpl) if replay else _round(eng, ranks)
        eng.run_until_idle()
        times.append((ids2, eng.message_times(ids2)[1]))
    (a_ids, a), (b_ids, b) = times
    assert np.array_equal(a_ids, b_ids) and np.array_equal(a, b)


def test_work_that_waits_on_earlier_work_is_not_replayable():
    fab = build_fabric(load_architecture("dgx-a100"), nodes=1, tiles=(1, 1))
    eng = Engine(fab)
    first = eng.send(fab.device_node(0), fab.device_node(1), 1e6)
    with eng.record_work() as rec:
        later = eng.send(fab.device_node(1), fab.device_node(2), 1e6, after=[first])
    assert rec.template([later]) is None
