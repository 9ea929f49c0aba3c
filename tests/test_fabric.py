"""Fabric construction and routing: numbering, resolution invariants, the routes themselves."""
import numpy as np
import pytest

from sim_core import LINK_KINDS, Router, build_fabric, build_mesh_fabric, load_architecture
from sim_core.fabric.arrays import SWITCH, TILE


def kinds(fab, path):
    return [LINK_KINDS[fab.link_kind[l]] for l in path]


def test_devices_are_numbered_node_major():
    fab = build_fabric(load_architecture("dgx-a100"), nodes=3, tiles=(1, 1))
    assert fab.n_chips == 24
    servers = fab.node_server[fab.chip_hub]
    assert list(servers) == [d // 8 for d in range(24)]


@pytest.mark.parametrize("tiles", [(8, 8), (16, 16), (64, 64)])
def test_resolution_keeps_bisection_and_corner_latency(tiles):
    spec = load_architecture("wafer-wse2")
    fab = build_fabric(spec, tiles=tiles)
    R, C = tiles
    col = np.arange(fab.n_tiles) % C
    noc = (fab.link_src < fab.n_tiles) & (fab.link_dst < fab.n_tiles)
    crossing = noc & (col[np.minimum(fab.link_src, fab.n_tiles - 1)] == C // 2 - 1) & \
        (col[np.minimum(fab.link_dst, fab.n_tiles - 1)] == C // 2)
    bisection = fab.link_bandwidth_Bps[crossing].sum()
    assert bisection == pytest.approx(spec.chip.core_rows * spec.chip.noc_bandwidth_Bps)
    r = Router(fab)
    path = r.path(fab.tile_id(0, 0, 0), fab.tile_id(0, R - 1, C - 1))
    corner = fab.link_latency_s[path].sum()
    physical = (spec.chip.core_rows - spec.chip.core_rows / R + spec.chip.core_cols - spec.chip.core_cols / C)
    assert corner == pytest.approx(physical * spec.chip.noc_hop_latency_s)


def test_mesh_routing_is_dimension_order():
    fab = build_mesh_fabric(5)
    r = Router(fab)
    path = r.path(fab.tile_id(0, 0, 0), fab.tile_id(0, 3, 2))
    steps = [(fab.link_dst[l] - fab.link_src[l]) for l in path]
    assert steps == [1, 1, 5, 5, 5]  # x first (+1 per hop), then y (+cols per hop)


def test_torus_takes_the_short_way_round():
    fab = build_mesh_fabric(8, torus=True)
    r = Router(fab)
    path = r.path(fab.tile_id(0, 0, 1), fab.tile_id(0, 0, 7))
    assert len(path) == 2  # 1 -> 0 -> 7 through the wrap link, not 6 hops east


def test_hierarchical_route_leaves_the_chip_through_its_hub():
    fab = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(4, 8))
    r = Router(fab)
    path = r.path(fab.tile_id(0, 2, 3), fab.tile_id(9, 3, 5))
    ks = kinds(fab, path)
    assert ks[:3] == ["noc"] * 3  # down the column to the bottom row, then into the hub
    assert fab.node_kind[fab.link_dst[path[2]]] != TILE
    assert "infiniband" in ks and ks[-1] == "noc"
    assert fab.link_dst[path[-1]] == fab.tile_id(9, 3, 5)


def test_fat_tree_spreads_flows_over_spines_deterministically():
    fab = build_fabric(load_architecture("pcie-a100"), nodes=60, tiles=(1, 1))
    r = Router(fab)
    spines = set()
    for d in range(48 * 8, 60 * 8, 8):
        path = r.path(fab.device_node(0), fab.device_node(d))
        spines |= {fab.link_dst[l] for l in path if "spine" in fab.node_label(fab.link_dst[l])}
    assert len(spines) > 1
    assert r.path(fab.device_node(0), fab.device_node(400)) == Router(fab).path(fab.device_node(0), fab.device_node(400))


@pytest.mark.parametrize("pid,expect", [
    ("dgx-a100", "nvlink"), ("pcie-a100", "pcie"), ("tpu-v4", "ici"), ("cpu-cluster", "upi"), ("wafer-wse2", None),
])
def test_every_preset_routes_between_its_first_two_chips(pid, expect):
    fab = build_fabric(load_architecture(pid))
    r = Router(fab)
    if fab.n_chips == 1:
        path = r.path(fab.tile_id(0, 0, 0), fab.tile_id(0, 1, 1))
        assert set(kinds(fab, path)) == {"noc"}
        return
    path = r.path(fab.device_node(0), fab.device_node(1))
    assert expect in kinds(fab, path)


@pytest.mark.parametrize("pid", ["dgx-a100", "dgx-h100", "pcie-a100", "cpu-cluster"])
def test_switched_fabrics_have_no_cyclic_buffer_dependencies(pid):
    """Dally and Seitz: routing is deadlock-free if the channel dependency graph is acyclic.

    Every device-to-device and core-to-core route on 3 servers is added; the torus preset
    is left out on purpose (its wrap-around rings are made safe by bubble flow control).
    """
    import networkx as nx

    fab = build_fabric(load_architecture(pid), nodes=3, tiles=(2, 2))
    r = Router(fab)
    ends = list(fab.chip_hub) + [fab.tile_id(c, 1, 1) for c in range(fab.n_chips)]
    cdg = nx.DiGraph()
    for a in ends:
        for b in ends:
            if a != b:
                path = r.path(int(a), int(b))
                cdg.add_edges_from(zip(path[:-1], path[1:]))
    assert nx.is_directed_acyclic_graph(cdg), nx.find_cycle(cdg)


def _small_radix(pid, **topo):
    spec = load_architecture(pid)
    return spec.model_copy(update={"topology": spec.topology.model_copy(update=topo)})


def _switch_levels(fab):
    labels = [fab.node_label(n) for n in range(fab.n_tiles, fab.n_nodes)]
    return {lvl for lvl in ("leaf", "spine", "core") if any(f"{lvl} switch" in s for s in labels)}


def test_fat_tree_grows_a_core_level_past_the_spine_radix():
    two = build_fabric(load_architecture("dgx-a100"), nodes=4, tiles=(1, 1))
    assert _switch_levels(two) == {"leaf", "spine"}
    spec = _small_radix("dgx-a100", switch_radix=4, spine_radix=4)
    three = build_fabric(spec, nodes=6, tiles=(1, 1))
    assert _switch_levels(three) == {"leaf", "spine", "core"}
    r = Router(three)
    far = r.path(three.device_node(0), three.device_node(6 * 8 - 1))
    assert any("core switch" in three.node_label(int(three.link_dst[l])) for l in far)
    # a server's uplink bandwidth is kept at every level: leaf up = leaf down = spine up
    leaf = [n for n in range(three.n_tiles, three.n_nodes) if "leaf switch" in three.node_label(n)][0]
    down_bw = three.link_bandwidth_Bps[(three.link_dst == leaf) & (three.node_kind[three.link_src] != SWITCH)].sum()
    up_bw = three.link_bandwidth_Bps[(three.link_src == leaf) & (three.node_kind[three.link_dst] == SWITCH)].sum()
    assert up_bw == pytest.approx(down_bw)


def test_rail_optimized_leaves_are_an_option():
    rails = build_fabric(load_architecture("dgx-a100"), nodes=2, tiles=(1, 1))
    shared = build_fabric(_small_radix("dgx-a100", rail_optimized=False), nodes=2, tiles=(1, 1))
    path = Router(rails).path(rails.device_node(3), rails.device_node(11))  # GPU 3 to GPU 3 of server 1
    assert sum("leaf switch" in rails.node_label(int(rails.link_dst[l])) for l in path) == 1
    n_leaves = lambda f: sum("leaf switch" in f.node_label(n) for n in range(f.n_tiles, f.n_nodes))  # noqa: E731
    assert n_leaves(rails) == 8 and n_leaves(shared) == 1


def test_three_level_fat_tree_routes_are_deadlock_free():
    import networkx as nx

    fab = build_fabric(_small_radix("dgx-a100", switch_radix=4, spine_radix=4), nodes=6, tiles=(1, 1))
    r = Router(fab)
    ends = [int(h) for h in fab.chip_hub]
    cdg = nx.DiGraph()
    for a in ends:
        for b in ends:
            if a != b:
                path = r.path(a, b)
                cdg.add_edges_from(zip(path[:-1], path[1:]))
    assert nx.is_directed_acyclic_graph(cdg), nx.find_cycle(cdg)


def _columns(g):
    return (g.e_src, g.e_dst, g.e_kind, g.e_bw, g.e_lat, g.e_ring, g.next_id)


def test_links_added_as_a_whole_are_those_added_one_by_one():
    # a switch that adds latency, parallel cables (summed into one link) and rings: the
    # vectorized path and the fallback agree with ``link`` called in the same order
    from sim_core.fabric.build import _OffChip

    def fresh():
        g = _OffChip(10)
        g.nodes_of(SWITCH, np.zeros(4), np.zeros(4), -1, -1, list("abcd"), np.array([0.0, 2e-7, 0.0, 0.0]))
        return g

    u, v = np.array([10, 11, 12, 10]), np.array([11, 12, 13, 11])  # 10-11 twice: parallel cables
    one = fresh()
    for a, b, r in zip(u.tolist(), v.tolist(), [0, 1, 2, 3]):
        one.link(a, b, "infiniband", 25e9, 1e-6, rings=(r, r + 10))
    whole = fresh()
    whole.links_of(u, v, "infiniband", 25e9, 1e-6, np.arange(4), np.arange(4) + 10)
    assert _columns(whole) == _columns(one)
    assert one.e_bw[0] == 50e9 and len(one.e_src) == 6
    assert one.e_lat[one.edges[(11, 12)]] == 1e-6 + 2e-7  # leaving the switch costs its latency
    new = fresh()
    new.links_of(u[1:], v[1:], "infiniband", 25e9, 1e-6, np.arange(1, 4), np.arange(1, 4) + 10)  # all new pairs
    ref = fresh()
    for a, b, r in zip(u[1:].tolist(), v[1:].tolist(), [1, 2, 3]):
        ref.link(a, b, "infiniband", 25e9, 1e-6, rings=(r, r + 10))
    assert _columns(new) == _columns(ref)
