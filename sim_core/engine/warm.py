"""``python -m sim_core.engine.warm``: compile the engine's event loop into numba's on-disk cache.

``make install`` runs it, so the first launch after an install loads the compiled code
(a fraction of a second) instead of compiling it (several seconds). Running it again
costs only the load.
"""
from __future__ import annotations

import time


def warm() -> float:
    """Run one message through the event loop and one off-chip route, count the chunks
    waiting mid-way, run one train (routes found, ``kernel.train_release``), sort two
    recorded edges; returns seconds taken."""
    t0 = time.perf_counter()
    from sim_core.engine.core import Engine
    from sim_core.fabric.build import build_fabric
    from sim_core.spec.loader import load_architecture

    fab = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(1, 1))
    eng = Engine(fab, chunk_bytes=1 << 16, policy="events")
    eng.send(fab.device_node(0), fab.device_node(fab.n_chips - 1), 1 << 18)
    eng.add_compute([fab.device_node(0)], 1e-6)
    eng.step(2e-7)
    eng.queued_chunks()  # the app asks this every frame while chunks move
    eng.send(fab.device_node(1), fab.device_node(2), 1 << 18)  # alone on its route: a train
    eng.run_until_idle()
    assert eng.trains_total == 1
    import numpy as np
    from sim_core.engine.edge_sort import sort_edges_by_source
    sort_edges_by_source(np.array([1, 0], np.int32), np.array([0, 1], np.int32), 2)  # a recorded round's edges
    return time.perf_counter() - t0


if __name__ == "__main__":
    print(f"engine compiled and cached ({warm():.1f} s)")
