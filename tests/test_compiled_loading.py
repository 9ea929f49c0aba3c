"""Cached compiled code loads without numba's registry refresh, and gives the same results."""
import json
import subprocess
import sys

import pytest

from sim_core import compiled

# One engine run in a fresh process; "numba" puts numba's own cache loader back first.
RUN = r"""
import json, sys
from numba.core import caching
original = caching.Cache.load_overload
import sim_core.compiled
if sys.argv[1] == "numba":
    caching.Cache.load_overload = original
from sim_core.engine.core import Engine
from sim_core.fabric.build import build_fabric
from sim_core.spec.loader import load_architecture
fab = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(2, 2))
eng = Engine(fab, chunk_bytes=1 << 14, policy="events")
ids = [eng.send(fab.device_node(i), fab.device_node(15 - i), 1 << 18, at_s=i * 1e-7) for i in range(16)]
eng.run_until_idle()
refreshed = "numba.np.linalg" in sys.modules  # imported by the registry refresh only
import numpy as np
norm = sim_core.compiled.njit(lambda a: np.sqrt(np.sum(a * a)))  # compiling after a lean load
print(json.dumps({"times": eng.message_times(ids)[1].tolist(), "refreshed": refreshed,
                  "norm": norm(np.array([3.0, 4.0]))}))
"""


def _run(loader: str) -> dict:
    out = subprocess.run([sys.executable, "-c", RUN, loader], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_versions_outside_the_checked_range_load_as_numba_does():
    assert compiled.lean_loading_supported("0.68.1")
    assert not compiled.lean_loading_supported("0.67.0")
    assert not compiled.lean_loading_supported("0.69.0rc1")
    assert not compiled.lean_loading_supported("1.0.0")


@pytest.mark.skipif(not compiled.lean_loading_supported(), reason="this numba loads its cache its own way")
def test_lean_cache_load_gives_the_same_times_and_compiling_still_works():
    reference = _run("numba")  # also fills the cache if it was empty
    lean = _run("lean")
    assert lean["times"] == reference["times"]
    assert not lean["refreshed"]  # the cached event loop loaded without the refresh
    assert reference["refreshed"]
    assert lean["norm"] == 5.0
