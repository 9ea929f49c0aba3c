"""Servers and the network between them: the cluster half of the fabric builder.

Every server is built at once: ``_Servers`` holds one server's nodes and links as columns
over all servers ((S, m) arrays), laid out in the order one server adds them, so the ids
and link order are those of building server after server (node ids and link ids decide
arbitration order in the engine, so they are part of the result).
"""
from __future__ import annotations

import math

import numpy as np

from sim_core.fabric.arrays import HOST, HUB, KIND_CODE, NIC, SWITCH


class _Servers:
    """One server's off-chip nodes and links, for all S servers at once.

    ``nodes`` adds m nodes to every server ((S, m) x, y, chip; S x m labels) and returns
    their (m,) offsets inside a server's block; ``link`` joins offsets of the same server.
    ``emit`` appends everything to the fabric builder, server after server."""

    def __init__(self, n_servers: int):
        self.S = n_servers
        self.size = 0
        self.kind, self.x, self.y, self.chip, self.labels = [], [], [], [], []
        self.links = []  # (u offsets, v offsets, kind code, bw, lat)

    def nodes(self, kind: int, x: np.ndarray, y: np.ndarray, labels: list[list[str]], chip=None) -> np.ndarray:
        m = x.shape[1]
        local = self.size + np.arange(m)
        self.size += m
        self.kind.append(np.full(m, kind))
        self.x.append(x)
        self.y.append(y)
        self.chip.append(np.full((self.S, m), -1) if chip is None else chip)
        self.labels.append(labels)
        return local

    def x_of(self, local) -> np.ndarray:
        """(S, m) x of the nodes at these offsets in every server."""
        return np.concatenate(self.x, axis=1)[:, local]

    def link(self, u, v, spec_link) -> None:
        kind, bw, lat = spec_link
        self.links.append((np.atleast_1d(u), np.atleast_1d(v), KIND_CODE[kind], bw, lat))

    def emit(self, g) -> np.ndarray:
        """Add every server's nodes, then every server's links; returns the (S,) id of each
        server's first node."""
        S = self.S
        base = g.next_id + np.arange(S) * self.size
        srv = np.broadcast_to(np.arange(S)[:, None], (S, self.size))
        labels = [lab for s in range(S) for piece in self.labels for lab in piece[s]]
        g.nodes_of(np.tile(np.concatenate(self.kind), S), np.concatenate(self.x, axis=1).ravel(),
                   np.concatenate(self.y, axis=1).ravel(), np.concatenate(self.chip, axis=1).ravel(),
                   srv.ravel(), labels)
        u = np.concatenate([lk[0] for lk in self.links])
        v = np.concatenate([lk[1] for lk in self.links])
        attr = [np.concatenate([np.full(lk[0].size, lk[k], dtype=float) for lk in self.links]) for k in (2, 3, 4)]
        flat = lambda a: np.broadcast_to(a, (S, a.size)).ravel()  # noqa: E731
        g.links_of((base[:, None] + u).ravel(), (base[:, None] + v).ravel(), flat(attr[0]).astype(np.int64),
                   flat(attr[1]), flat(attr[2]))
        return base


def build_cluster(spec, n_nodes, g, origins, hubs, servers, cw, chh, C, L, scale_lat):
    """Servers (hubs, their switch, PCIe tree or sockets, NICs) into ``g``, then the network."""
    topo = spec.topology
    cpn, n_nics = topo.chips_per_node, topo.nics_per_node
    per_row_chips = min(cpn, 4)
    chip_rows = math.ceil(cpn / per_row_chips)
    node_w, node_h = per_row_chips * cw + 1.0, chip_rows * chh + 4.0
    nodes_per_row = max(1, math.ceil(math.sqrt(n_nodes * node_h / node_w)))
    s = np.arange(n_nodes)
    col = s[:, None]  # (S, 1): one row per server
    nx0 = ((s % nodes_per_row) * (node_w + 3.0))[:, None]
    ny0 = ((-(s // nodes_per_row)) * (node_h + 3.0))[:, None]
    cx = nx0 + node_w / 2
    i = np.arange(cpn)
    d = col * cpn + i  # (S, cpn) chip ids
    ox = nx0 + 1.0 + (i % per_row_chips) * cw
    oy = ny0 + 4.5 + (i // per_row_chips) * chh
    origins[d.ravel()] = np.stack([ox.ravel(), oy.ravel()], axis=1)
    servers[d.ravel()] = np.repeat(s, cpn)
    blk = _Servers(n_nodes)

    def per_server(fmt, m=1):  # S x m labels
        return [[fmt(int(a), j) for j in range(m)] for a in s]

    chip_name = spec.chip.name
    hub = blk.nodes(HUB, ox + (C - 1) / 2, oy - 1.5,
                    [[f"{chip_name} #{a * cpn + j} (node {a})" for j in range(cpn)] for a in s], chip=d)
    one = np.ones((n_nodes, 1))
    if topo.intra_node == "switch":
        kind = spec.links[topo.intra_link].kind
        sw = blk.nodes(SWITCH, cx * one, (ny0 + 2.0) * one, per_server(lambda a, _: f"node {a} {kind} switch"))
        blk.link(hub, np.repeat(sw, cpn), L(topo.intra_link))
        attach = hub[[j * cpn // n_nics for j in range(n_nics)]]
    elif topo.intra_node == "pcie-tree":
        host = blk.nodes(HOST, cx * one, (ny0 + 0.9) * one, per_server(lambda a, _: f"node {a} host CPU"))
        per = topo.chips_per_pcie_switch
        hub_x = blk.x_of(hub)
        for j in range(math.ceil(cpn / per)):
            members = hub[j * per:(j + 1) * per]
            cols = np.arange(j * per, j * per + members.size)
            px = np.array([[float(np.mean(row[cols]))] for row in hub_x])  # as one server's np.mean
            p = blk.nodes(SWITCH, px, (ny0 + 2.3) * one, per_server(lambda a, _, j=j: f"node {a} PCIe switch {j}"))
            blk.link(members, np.repeat(p, members.size), L(topo.intra_link))
            blk.link(p, host, L(topo.host_link))
        attach = np.repeat(host, n_nics)
    else:  # host: chips are CPU sockets joined pairwise
        a, b = np.triu_indices(cpn, k=1)
        if a.size:
            blk.link(hub[a], hub[b], L(topo.intra_link))
        attach = hub[[j % cpn for j in range(n_nics)]]
    j = np.arange(n_nics)
    nic_x = blk.x_of(attach) if n_nics == cpn else nx0 + node_w - 1.5 - j
    nic = blk.nodes(NIC, nic_x * np.ones((n_nodes, n_nics)), (ny0 + 0.4) * np.ones((n_nodes, n_nics)),
                    per_server(lambda a, k: f"node {a} NIC {k}", n_nics))
    blk.link(attach, nic, L(topo.host_link))
    base = blk.emit(g)
    hubs[d.ravel()] = (base[:, None] + hub).ravel()
    nic_ids = (base[:, None] + nic).ravel()  # server after server, NIC j within
    build_fat_tree(spec, g, nic_ids, np.repeat(s, n_nics), np.tile(j, n_nodes), n_nodes, L, scale_lat)


def build_fat_tree(spec, g, nic_ids, nic_server, nic_rail, n_nodes, L, scale_lat):
    """Leaf switches under the NICs ((n,) ids with their servers and rails), then spines;
    a third (core) level once the leaves outnumber a spine's ports (Leiserson's fat tree as
    a folded Clos, the Selene design).

    A leaf has ``switch_radix / 2`` ports down and as many up. With one NIC per chip and
    ``rail_optimized``, NIC i of every server joins rail i's leaves, so rail-aligned rings
    never leave their leaf. Two levels: every leaf joins every spine (``spine_radix`` leaves
    at most). Three levels: pods of ``spine_radix / 2`` leaves with their own spines, and
    every pod spine joins every core switch with its other half of ports.
    """
    topo = spec.topology
    down = max(1, topo.switch_radix // 2)
    spine_radix = topo.spine_radix or topo.switch_radix
    one_per_chip = topo.nics_per_node == topo.chips_per_node and topo.nics_per_node > 1
    rails = topo.nics_per_node if (one_per_chip and topo.rail_optimized) else 1
    xs = g.x_of(nic_ids)
    ymin = float(g.y_of(nic_ids).min())
    x_lo, x_hi = float(xs.min()), float(xs.max())
    if rails > 1:
        n_keys = math.ceil(n_nodes / down) * rails  # (block, rail), rail fastest
        key_of_nic = (nic_server // down) * rails + nic_rail
    else:
        n_keys = math.ceil(len(nic_ids) / down)
        key_of_nic = np.arange(len(nic_ids)) // down
    kind, bw, lat = L(topo.network_link)
    sw_lat = topo.switch_latency_s * scale_lat

    def switches(positions, n, y, labels):
        x = x_lo + (x_hi - x_lo) * (np.asarray(positions) + 0.5) / n
        return g.nodes_of(SWITCH, x, np.full(len(labels), y), -1, -1, labels, sw_lat)

    leaves = switches(np.arange(n_keys), n_keys, ymin - 5.0, [f"leaf switch {i} ({kind})" for i in range(n_keys)])
    g.links_of(nic_ids, leaves[key_of_nic], kind, bw, lat)
    if len(leaves) < 2:
        return
    if len(leaves) <= spine_radix:
        m = min(down, len(leaves))
        _join(g, leaves, switches(np.arange(m), m, ymin - 11.0, [f"spine switch {i} ({kind})" for i in range(m)]),
              down, kind, bw, lat)
        return
    per_pod = max(1, spine_radix // 2)
    pods = [leaves[i:i + per_pod] for i in range(0, len(leaves), per_pod)]
    n_core = max(1, spine_radix // 2)
    cores = switches(np.arange(n_core), n_core, ymin - 17.0, [f"core switch {i} ({kind})" for i in range(n_core)])
    for k, pod in enumerate(pods):
        spines = switches(k * down + np.arange(down), len(pods) * down, ymin - 11.0,
                          [f"pod {k} spine switch {i} ({kind})" for i in range(down)])
        _join(g, pod, spines, down, kind, bw, lat)
        _join(g, spines, cores, spine_radix // 2, kind, bw, lat)


def _join(g, lower, upper, ports_up, kind, bw, lat):
    """Every lower switch to every upper one, its ``ports_up`` uplinks shared evenly."""
    bundle = ports_up / len(upper)
    g.links_of(np.repeat(lower, len(upper)), np.tile(upper, len(lower)), kind, bw * bundle, lat)
