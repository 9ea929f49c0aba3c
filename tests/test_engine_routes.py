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


@pytest.mark.parametrize("arch", ["dgx-a100", "cpu-cluster", "pcie-a100"])
def test_columns_computed_in_batches_and_on_threads_are_those_computed_one_by_one(arch):
    from sim_core.fabric import routing
    fab = build_fabric(load_architecture(arch), nodes=40, tiles=(1, 1))
    r = Router(fab)
    dsts = np.concatenate([fab.chip_hub[::-1], r.off_nodes[-9:]])  # more than PARALLEL_COLUMNS, switches too
    assert np.unique(dsts).size >= routing.PARALLEL_COLUMNS
    r.ensure(dsts[:5])  # a small batch on one thread, then the rest on every core
    r.ensure(dsts)
    for d in dsts:
        assert np.array_equal(r.table[:, r.col_of[d]], r._bfs_column(int(d))), d
