"""What a collective needs to know about where its ranks sit: servers, switches, grids, rails."""
from __future__ import annotations

import numpy as np

from sim_core.fabric.arrays import SWITCH


def switch_of(fabric, ranks) -> int | None:
    """The one switch every rank hangs off directly (a node's NVSwitch), else None."""
    common = None
    for r in ranks:
        nbrs = set(fabric.link_dst[fabric.link_src == r].tolist())
        sw = {x for x in nbrs if fabric.node_kind[x] == SWITCH}
        common = sw if common is None else common & sw
    return min(common) if common else None


def server_groups(fabric, ranks) -> list[np.ndarray] | None:
    """Indices into ``ranks`` per server, in first-seen order; None unless there are 2+
    servers with the same number (2+) of ranks each."""
    server = fabric.node_server[np.asarray(ranks)]
    keys = list(dict.fromkeys(server.tolist()))
    groups = [np.flatnonzero(server == k) for k in keys]
    if len(groups) < 2 or len({len(g) for g in groups}) != 1 or len(groups[0]) < 2 or -1 in keys:
        return None
    return groups


def n_servers(fabric, ranks) -> int:
    """Distinct servers the ranks sit in (1 for a tori or wafer without servers)."""
    server = fabric.node_server[np.asarray(ranks)]
    return max(1, len(set(server.tolist()) - {-1}))


def rank_grid(fabric, ranks) -> tuple[int, ...] | None:
    """The grid (x fastest) the ranks form: a whole chip torus or one chip's whole tile mesh."""
    ranks = list(ranks)
    if fabric.torus_dims and ranks == [fabric.device_node(d) for d in range(fabric.n_chips)]:
        return tuple(d for d in fabric.torus_dims)
    R, C = fabric.tile_rows, fabric.tile_cols
    if len(ranks) == R * C and ranks[0] < fabric.n_tiles and ranks == list(range(ranks[0], ranks[0] + R * C)) \
            and ranks[0] % (R * C) == 0:
        return (C, R)
    return None


def rails(fabric, ranks) -> int:
    """Rings that can leave a server in parallel: its NICs when every GPU has its own NIC
    (one rail each), else 1. Only for ranks spread evenly over 2+ servers."""
    spec = fabric.spec
    groups = server_groups(fabric, ranks)
    if spec is None or groups is None or spec.topology.kind != "cluster":
        return 1
    topo = spec.topology
    if topo.nics_per_node != topo.chips_per_node:
        return 1
    return max(1, min(topo.nics_per_node, len(groups[0])))


def rail_rings(groups: list[np.ndarray], lanes: int) -> list[np.ndarray]:
    """One ring order (indices into the ranks) per lane, rail-aligned between servers.

    Lane c enters even servers at local rank c and leaves at c-1; odd servers are walked
    backwards (enter at c-1, leave at c), so every hop between servers joins two GPUs of
    the same rail and stays under that rail's leaf switch (NCCL's rail-aligned rings).
    """
    rings = []
    for c in range(lanes):
        order = []
        for s, grp in enumerate(groups):
            local = np.roll(np.asarray(grp), -c)
            order.extend((local if s % 2 == 0 else local[::-1]).tolist())
        rings.append(np.asarray(order, dtype=np.int64))
    return rings


def reducing_switch(fabric, router, nodes) -> int:
    """The network switch where ``nodes`` (one GPU per server) meet: the switch every route
    from the first node to the others passes (their rail's leaf), else the highest switch on
    the route to the last node (a spine or core)."""
    nodes = [int(x) for x in nodes]
    common = None
    top = []
    for other in nodes[1:]:
        path = router.path(nodes[0], other)
        sw = [int(fabric.link_dst[l]) for l in path
              if fabric.node_kind[fabric.link_dst[l]] == SWITCH and fabric.node_server[fabric.link_dst[l]] < 0]
        common = set(sw) if common is None else common & set(sw)
        top = sw
    if common:
        return min(common)
    return top[len(top) // 2]


COMPARISON_WAFER_TILES = (16, 16)
"""A wafer in a like-for-like comparison is drawn as this many tiles (its ranks are cores)."""


def like_for_like(spec, devices: int):
    """A fabric of ``spec`` and ``devices`` ranks on it, for the same collective on every preset:
    the smallest instance with that many chips (``FabricSize.at_least``: whole servers, a
    cube or a line of chips) and its first ``devices`` chips; a wafer holds its whole mesh
    on one device, so its ranks are evenly spaced cores of the middle row of one wafer's
    mesh (the same bytes per rank). Returns (fabric, list of node ids)."""
    from sim_core.fabric.size import FabricSize
    wafer = spec.topology.kind == "wafer"
    fab = FabricSize.at_least(spec, devices, tiles=COMPARISON_WAFER_TILES if wafer else None).build(spec)
    if fab.n_chips >= 2:
        return fab, [fab.device_node(d) for d in range(min(devices, fab.n_chips))]
    per = fab.tile_cols
    row = fab.tile_rows // 2
    k = min(devices, per)
    return fab, [row * per + int(c) for c in range(0, per, max(1, per // k))][:k]
