"""The compiled next hop equals the Router's; the torus routes without a table."""
import numpy as np
import pytest

from sim_core import Router, build_fabric, build_mesh_fabric, load_architecture
from sim_core.engine.routes import next_link


def _fabrics():
    yield build_mesh_fabric(4, torus=True)
    yield build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(2, 4))
    yield build_fabric(load_architecture("tpu-v4"), dims=[4, 2, 3], tiles=(2, 2))
    yield build_fabric(load_architecture("cpu-cluster"), nodes=2, tiles=(1, 2))
    yield build_fabric(load_architecture("pcie-a100"), nodes=2, tiles=(1, 2))


@pytest.mark.parametrize("fab", list(_fabrics()), ids=lambda f: f.name)
def test_compiled_next_hop_equals_the_router(fab):
    r = Router(fab)
    rng = np.random.default_rng(0)
    cur = rng.integers(0, fab.n_nodes, 3000)
    dst = rng.integers(0, fab.n_nodes, 3000)
    r.ensure(dst)
    want = r.next_link(cur, dst)
    R = r.compiled_tables()
    got = np.array([next_link(R, int(c), int(d)) for c, d in zip(cur, dst)])
    assert np.array_equal(got, want)


def test_the_torus_routes_by_arithmetic_as_its_dimension_order_table_did():
    fab = build_fabric(load_architecture("tpu-v4"), dims=[4, 4, 4], tiles=(1, 1))
    r = Router(fab)
    r.ensure(fab.chip_hub)
    assert r.table.size == 0, "no per-destination table on a torus"
    hubs = fab.chip_hub
    for d in hubs[::7]:
        col = r._torus_column(int(d))
        here = hubs[hubs != d]
        got = r.next_link(here, np.full(here.size, d))
        assert np.array_equal(got, col[r.off_index[here]])
