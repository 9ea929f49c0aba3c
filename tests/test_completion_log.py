"""The completion log: grows as records come, then keeps the last ``capacity`` as a ring."""
from types import SimpleNamespace

import numpy as np

from sim_core.engine.log import CompletionLog


def _engine(n):
    ids = np.arange(n)
    return SimpleNamespace(m_src=ids, m_dst=ids + 1, m_size=ids * 10, m_created=ids * 0.5, m_release=ids * 0.5,
                           m_finish=ids * 1.0, m_tag=ids, m_kind=(ids % 3).astype(np.int8))


def test_records_survive_growth_and_the_ring_keeps_the_newest():
    eng = _engine(5000)
    log = CompletionLog(capacity=4096)
    assert log.src.size < 4096  # a small engine does not allocate the whole ring
    for lo, hi in ((0, 3), (3, 1500), (1500, 3000)):
        log.append(eng, np.arange(lo, hi))
    got = log.since(0)
    assert np.array_equal(got["src"], np.arange(3000)) and np.array_equal(got["finish"], np.arange(3000.0))
    assert got["kind"].dtype == np.int8 and np.array_equal(got["kind"], np.arange(3000) % 3)
    log.append(eng, np.arange(3000, 5000))  # past the capacity: the oldest are overwritten
    assert log.src.size == 4096 and log.total == 5000
    assert np.array_equal(log.since(0)["src"], np.arange(5000 - 4096, 5000))
    assert np.array_equal(log.since(4990)["size"], np.arange(4990, 5000) * 10)
    assert log.last_finish() == 4999.0
