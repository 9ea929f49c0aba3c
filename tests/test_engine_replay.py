"""Recorded rounds replayed (the same work from a later start, bit for bit), and the compiled kernel's cache kept in step with its sources."""
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


def test_a_stale_compiled_kernel_is_dropped_when_its_helpers_change(tmp_path):
    from sim_core.engine import cache_guard
    (tmp_path / "kernel.run-1.py311.nbi").write_bytes(b"old")
    assert cache_guard.check(tmp_path) is True  # no stamp yet: the cache cannot be trusted
    assert not list(tmp_path.glob("kernel.*.nbi"))
    (tmp_path / "kernel.run-1.py311.nbi").write_bytes(b"new")
    assert cache_guard.check(tmp_path) is False  # same sources: kept
    stamp = tmp_path / "kernel.sources.sha256"
    stamp.write_text("0" * 64)  # as if routes.py had changed since
    assert cache_guard.check(tmp_path) is True and not list(tmp_path.glob("kernel.*.nbi"))


def test_the_apps_replayed_rounds_equal_rounds_planned_afresh():
    # a repeating workload records its first round and replays the rest
    from app.model.scenario import SCENARIOS, build_simulation

    def durations(replay):
        sim = build_simulation(SCENARIOS["default"])
        wl = sim.workload
        for _ in range(100_000):
            if len(wl.log.durations) >= 3:
                break
            if not replay:
                wl._template = None  # plan every round again
            sim.engine.step(sim.step_s)
        assert len(wl.log.durations) >= 3
        return np.array(wl.log.durations[:3])

    assert np.array_equal(durations(True), durations(False))


def _rounds(reuse: bool, disturb: bool = False, n: int = 4):
    """Finish times of ``n`` rounds of one recorded collective, replayed either by handing
    the previous round back (``reuse``: rearmed in place where that is exact) or by
    forgetting it and replaying; ``disturb`` adds unrelated dependent work between rounds."""
    fab = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(2, 2))
    ranks = [fab.device_node(d) for d in range(fab.n_chips)]
    eng = Engine(fab, chunk_bytes=1 << 18)
    with eng.record_work() as rec:
        ids = _round(eng, ranks)
    tpl = rec.template(ids)
    out, stores = [], []
    for k in range(n):
        eng.run_until_idle()
        out.append((ids.copy(), eng.message_times(ids)[1]))
        if disturb and k == 1:
            a = eng.send(ranks[0], ranks[1], 1e5)
            eng.send(ranks[1], ranks[2], 1e5, after=[a])
            eng.run_until_idle()
        eng.step(1e-6)
        if reuse:
            ids = eng.replay_work(tpl, reuse=ids)
        else:
            eng.forget(ids)
            ids = eng.replay_work(tpl)
        stores.append(eng._edge_gen)  # bumped whenever the dependency store is rebuilt
    return out, stores


def test_a_round_handed_back_is_rearmed_in_place_and_equals_forgetting_and_replaying():
    (rearmed, stores), (replayed, _) = _rounds(True), _rounds(False)
    for (a_ids, a), (b_ids, b) in zip(rearmed, replayed):
        assert np.array_equal(a_ids, b_ids) and np.array_equal(a, b)
    # the dependency store was kept, not rebuilt, from the first replay on
    assert len(set(stores)) == 1


def test_rearming_falls_back_when_other_work_changed_the_dependencies():
    (rearmed, stores), (replayed, _) = _rounds(True, disturb=True), _rounds(False, disturb=True)
    for (a_ids, a), (b_ids, b) in zip(rearmed, replayed):
        assert np.array_equal(a_ids, b_ids) and np.array_equal(a, b)
    assert len(set(stores)) > 1  # the disturbed round was forgotten and replayed
