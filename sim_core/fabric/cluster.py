"""Servers and the network between them: the cluster half of the fabric builder."""
from __future__ import annotations

import math

import numpy as np

from sim_core.fabric.arrays import HOST, HUB, NIC, SWITCH


def build_cluster(spec, n_nodes, g, origins, hubs, servers, cw, chh, C, L, scale_lat):
    """Servers (hubs, their switch, PCIe tree or sockets, NICs) into ``g``, then the network."""
    topo = spec.topology
    cpn = topo.chips_per_node
    per_row_chips = min(cpn, 4)
    chip_rows = math.ceil(cpn / per_row_chips)
    node_w, node_h = per_row_chips * cw + 1.0, chip_rows * chh + 4.0
    nodes_per_row = max(1, math.ceil(math.sqrt(n_nodes * node_h / node_w)))
    nics = []  # (node id, server, rail)
    for s in range(n_nodes):
        nx0 = (s % nodes_per_row) * (node_w + 3.0)
        ny0 = -(s // nodes_per_row) * (node_h + 3.0)
        cx = nx0 + node_w / 2
        for i in range(cpn):
            d = s * cpn + i
            ox = nx0 + 1.0 + (i % per_row_chips) * cw
            oy = ny0 + 4.5 + (i // per_row_chips) * chh
            origins[d] = (ox, oy)
            servers[d] = s
            hubs[d] = g.node(HUB, ox + (C - 1) / 2, oy - 1.5, chip=d, server=s, label=f"{spec.chip.name} #{d} (node {s})")
        chip_hubs = hubs[s * cpn:(s + 1) * cpn]
        if topo.intra_node == "switch":
            sw = g.node(SWITCH, cx, ny0 + 2.0, server=s, label=f"node {s} {spec.links[topo.intra_link].kind} switch")
            for h in chip_hubs:
                g.link(int(h), sw, *L(topo.intra_link))
            attach = [int(chip_hubs[j * cpn // topo.nics_per_node]) for j in range(topo.nics_per_node)]
        elif topo.intra_node == "pcie-tree":
            host = g.node(HOST, cx, ny0 + 0.9, server=s, label=f"node {s} host CPU")
            n_sw = math.ceil(cpn / topo.chips_per_pcie_switch)
            for j in range(n_sw):
                members = chip_hubs[j * topo.chips_per_pcie_switch:(j + 1) * topo.chips_per_pcie_switch]
                px = float(np.mean([g.nodes[int(h)]["x"] for h in members]))
                p = g.node(SWITCH, px, ny0 + 2.3, server=s, label=f"node {s} PCIe switch {j}")
                for h in members:
                    g.link(int(h), p, *L(topo.intra_link))
                g.link(p, host, *L(topo.host_link))
            attach = [host] * topo.nics_per_node
        else:  # host: chips are CPU sockets joined pairwise
            for a in range(cpn):
                for b in range(a + 1, cpn):
                    g.link(int(chip_hubs[a]), int(chip_hubs[b]), *L(topo.intra_link))
            attach = [int(chip_hubs[j % cpn]) for j in range(topo.nics_per_node)]
        for j, a in enumerate(attach):
            x = g.nodes[a]["x"] if topo.nics_per_node == cpn else nx0 + node_w - 1.5 - j
            nic = g.node(NIC, x, ny0 + 0.4, server=s, label=f"node {s} NIC {j}")
            g.link(a, nic, *L(topo.host_link))
            nics.append((nic, s, j))
    build_fat_tree(spec, g, nics, n_nodes, L, scale_lat)


def build_fat_tree(spec, g, nics, n_nodes, L, scale_lat):
    """Leaf switches under the NICs, then spines; a third (core) level once the leaves
    outnumber a spine's ports (Leiserson's fat tree as a folded Clos, the Selene design).

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
    xs = [g.nodes[n]["x"] for n, _, _ in nics]
    ymin = min(g.nodes[n]["y"] for n, _, _ in nics)
    x_lo, x_hi = min(xs), max(xs)
    if rails > 1:
        blocks = math.ceil(n_nodes / down)
        keys = [(rail, b) for b in range(blocks) for rail in range(rails)]
        key_of_nic = [(j, s // down) for _, s, j in nics]
    else:
        keys = list(range(math.ceil(len(nics) / down)))
        key_of_nic = [i // down for i in range(len(nics))]
    kind, bw, lat = L(topo.network_link)
    sw_lat = topo.switch_latency_s * scale_lat

    def switch(x, y, label):
        sw = g.node(SWITCH, x, y, label=label)
        g.nodes[sw]["switch_latency_s"] = sw_lat
        return sw

    def spread(i, n):
        return x_lo + (x_hi - x_lo) * (i + 0.5) / n

    leaf_of = {key: switch(spread(i, len(keys)), ymin - 5.0, f"leaf switch {i} ({kind})") for i, key in enumerate(keys)}
    for (nic, _, _), key in zip(nics, key_of_nic):
        g.link(nic, leaf_of[key], kind, bw, lat)
    leaves = list(leaf_of.values())
    if len(leaves) < 2:
        return
    if len(leaves) <= spine_radix:
        _join(g, leaves, [switch(spread(i, min(down, len(leaves))), ymin - 11.0, f"spine switch {i} ({kind})")
                          for i in range(min(down, len(leaves)))], down, kind, bw, lat)
        return
    per_pod = max(1, spine_radix // 2)
    pods = [leaves[i:i + per_pod] for i in range(0, len(leaves), per_pod)]
    n_core = max(1, spine_radix // 2)
    cores = [switch(spread(i, n_core), ymin - 17.0, f"core switch {i} ({kind})") for i in range(n_core)]
    for k, pod in enumerate(pods):
        spines = [switch(spread(k * down + i, len(pods) * down), ymin - 11.0, f"pod {k} spine switch {i} ({kind})")
                  for i in range(down)]
        _join(g, pod, spines, down, kind, bw, lat)
        _join(g, spines, cores, spine_radix // 2, kind, bw, lat)


def _join(g, lower, upper, ports_up, kind, bw, lat):
    """Every lower switch to every upper one, its ``ports_up`` uplinks shared evenly."""
    bundle = ports_up / len(upper)
    for a in lower:
        for b in upper:
            g.link(a, b, kind, bw * bundle, lat)
