"""Independent simulations on threads give the serial results, in order, and stay cancellable."""
import numpy as np
import pytest

from sim_core import load_architecture
from sim_core.cancel import CancelToken, Cancelled, cancellable
from sim_core.fabric.build import build_fabric
from sim_core.parallel import thread_map
from sim_core.workloads.collectives.run import run_collective


def _ring(nbytes):
    fab = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(2, 2))
    ranks = [fab.device_node(d) for d in range(fab.n_chips)]
    return run_collective(fab, "allreduce", "ring", ranks, nbytes)["time_s"]


def test_threads_give_the_serial_results_in_order():
    sizes = [1e6, 4e6, 2e6, 8e6]
    assert thread_map(_ring, sizes, max_workers=2) == [_ring(s) for s in sizes]


def test_a_cancelled_caller_stops_its_threads():
    token = CancelToken()
    token.cancel()
    with cancellable(token), pytest.raises(Cancelled):
        thread_map(_ring, [1e8, 1e8], max_workers=2)


def test_one_item_or_one_worker_runs_in_the_caller():
    assert thread_map(lambda x: x * 2, [3]) == [6]
    assert thread_map(lambda x: x + 1, np.arange(3), max_workers=1) == [1, 2, 3]
