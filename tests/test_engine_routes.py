"""The compiled next hop equals the Router's; the torus routes without a table; stored
routes are sparse and equal to the routing rule computed directly."""
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
    assert r.n_columns == 0 and r.exc_key.size == 0, "no per-destination table on a torus"
    hubs = fab.chip_hub
    for d in hubs[::7]:
        col = r._torus_column(int(d))
        here = hubs[hubs != d]
        got = r.next_link(here, np.full(here.size, d))
        assert np.array_equal(got, col[r.off_index[here]])


def test_torus_columns_stored_sparsely_are_dimension_order():
    """A torus with other off-chip nodes keeps its hubs' dimension-order columns as
    exceptions to the usual rule (the presets' tori are pure: forced here)."""
    fab = build_fabric(load_architecture("tpu-v4"), dims=[4, 3, 2], tiles=(1, 1))
    r = Router(fab)
    r._pure_torus = False
    r.ensure(fab.chip_hub[::-1])
    assert r.n_columns == fab.n_chips
    for d in fab.chip_hub:
        assert np.array_equal(r.column(int(d)), r._torus_column(int(d))), d


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
        assert np.array_equal(r.column(int(d)), r._bfs_column(int(d))), d


def _rule_column(r, d0):
    """The routing rule of ``Router._bfs_column``, computed directly (a Python BFS): the
    reference the stored, sparse routes must equal."""
    r._link_lists()
    n, relay = len(r.off_nodes), r._relay
    l_src, l_dst, l_id = r._by_src

    def hops(every):
        dist = np.full(n, -1)
        dist[d0], queue = 0, [d0]
        for x in queue:
            if x == d0 or every or relay[x]:
                for s in r._in_src[r._in_ptr[x]:r._in_ptr[x + 1]]:
                    if dist[s] < 0:
                        dist[s] = dist[x] + 1
                        queue.append(s)
        return dist

    strict = hops(False)
    loose = hops(True)
    use = strict[l_src] >= 0
    here = np.where(use, strict[l_src], loose[l_src])
    nxt = np.where(use, strict[l_dst], loose[l_dst])
    good = (nxt >= 0) & (nxt == here - 1) & (~use | (l_dst == d0) | relay[l_dst])
    spread = int(((int(d0) * 2654435761) % 4294967296) >> 16)  # by off-chip index, not node id
    col = np.full(n, -1)
    for x in range(n):
        links = l_id[good & (l_src == x)]
        if links.size:
            col[x] = links[spread % links.size]
    return col


@pytest.mark.parametrize("arch,nodes", [("dgx-a100", 6), ("dgx-h100", 3), ("cpu-cluster", 9), ("pcie-a100", 5)])
def test_stored_routes_are_the_routing_rule_towards_every_destination(arch, nodes):
    fab = build_fabric(load_architecture(arch), nodes=nodes, tiles=(1, 1))
    r = Router(fab)
    r.ensure(r.off_nodes[::-1])
    for d in r.off_nodes:
        want = _rule_column(r, int(r.off_index[d]))
        assert np.array_equal(r.column(int(d)), want), d
        got = r.next_link(r.off_nodes, np.full(r.off_nodes.size, d))
        assert np.array_equal(got, want), d


def test_fat_tree_routes_grow_with_destinations_not_with_destinations_times_nodes():
    """Towards every GPU of 16 and 64 DGX A100 servers, each GPU keeps only the nodes that do
    not route by their usual rule: a few dozen, growing far slower than the fabric."""
    per_dest, nodes_off = [], []
    for nodes in (16, 64):
        fab = build_fabric(load_architecture("dgx-a100"), nodes=nodes, tiles=(1, 1))
        r = Router(fab)
        r.ensure(fab.chip_hub)
        per_dest.append(r.exc_key.size / r.n_columns)
        nodes_off.append(len(r.off_nodes))
    dense = nodes_off[1] * r.n_columns * 4  # the int32 table of every node x destination
    assert r.route_bytes < dense / 4, (r.route_bytes, dense)
    assert max(per_dest) < 64, per_dest
    assert per_dest[1] / per_dest[0] < nodes_off[1] / nodes_off[0] / 2, (per_dest, nodes_off)


def test_engines_on_one_fabric_share_its_routes_and_threads_extend_them_consistently():
    """Routes depend on the topology alone: every engine on a fabric shares one router, so a
    destination is searched once. Threads ensuring columns at once (the app's studies run
    engines side by side) give the routes a lone router computes, and a table handed out
    before a new column keeps pointing at its own columns."""
    from sim_core import Engine
    from sim_core.parallel import thread_map
    fab = build_fabric(load_architecture("dgx-a100"), nodes=8, tiles=(1, 1))
    a, b = Engine(fab), Engine(fab)
    assert a.router is b.router is Router.of(fab)
    assert Router.of(build_fabric(load_architecture("dgx-a100"), nodes=8, tiles=(1, 1))) is not a.router
    hubs = fab.chip_hub
    a.router.ensure(hubs[:4])
    before = a.router.compiled_tables()
    cols_before = before[6].copy()
    thread_map(lambda part: a.router.ensure(part), [hubs[4:20], hubs[10:40], hubs[30:], hubs[::3]])
    assert np.array_equal(before[6], cols_before), "a handed-out column map never changes under a running loop"
    alone = Router(fab)
    alone.ensure(hubs)
    for d in hubs:
        assert np.array_equal(a.router.column(int(d)), alone.column(int(d))), d
    assert a.router.n_columns == hubs.size, "each destination searched once"


def test_routes_between_gpus_do_not_depend_on_the_mesh_drawn_inside_each_gpu():
    # 128 DGX A100 servers make a three-level fat tree: equal-cost choices at leaves and
    # spines. Chosen by node id, they moved with the cores drawn per GPU (tile nodes come
    # first), and a tree over 1,024 GPUs took 6.67, 6.39 or 6.97 ms for 1x1, 2x2 or 4x8.
    pairs = [(0, 1000), (8, 515), (1023, 4), (300, 777), (17, 900)]
    seen = []
    for tiles in ((1, 1), (2, 2)):
        fab = build_fabric(load_architecture("dgx-a100"), nodes=128, tiles=tiles)
        r = Router.of(fab)
        seen.append([[fab.link_label(l) for l in r.path(fab.device_node(a), fab.device_node(b))] for a, b in pairs])
    assert seen[0] == seen[1]
    assert any("core switch" in label for path in seen[0] for label in path)  # the choices at the top are covered
