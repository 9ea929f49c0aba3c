"""Build a ``Fabric`` from an ``ArchitectureSpec``: meshes, hubs, NICs, switches, layout.

Tile meshes are built vectorized (``fabric.mesh_links``): a 4,096-GPU cluster or a
1,024 x 1,024 wafer has millions of tiles. Everything off-chip (hubs, NICs, switches,
hosts) goes into columns (``_OffChip``), a whole set of servers, torus lines or switch
levels per call (nothing needed a graph library, and not importing one saves 60-120 ms of
every process's start), is checked for connectivity, then compiled into the same arrays.
"""
from __future__ import annotations

import math

import numpy as np

from sim_core.errors import SpecError
from sim_core.fabric.arrays import (HOST, HUB, KIND_CODE, MAX_LINKS, MAX_TILES, SWITCH, Fabric,
                     MeshParams, mesh_links)
from sim_core.fabric.cluster import build_cluster
from sim_core.spec.schema import ArchitectureSpec, ChipSpec


class _OffChip:
    """Off-chip nodes and directed links with dense ids after the tiles, as columns in the
    order they were added (node ids, link ids): per node its kind, x, y, chip, server,
    label and the latency its switch adds to every link out of it; per directed link its
    kind, bandwidth, latency and ring. ``edges`` maps (u, v) to the link's index."""

    def __init__(self, first_id: int):
        self.first_id = first_id
        self.next_id = first_id
        self.kind: list[int] = []
        self.x: list[float] = []
        self.y: list[float] = []
        self.chip: list[int] = []
        self.server: list[int] = []
        self.labels: list[str] = []
        self.switch_latency_s: list[float] = []
        self.edges: dict[tuple[int, int], int] = {}
        self.e_src: list[int] = []
        self.e_dst: list[int] = []
        self.e_kind: list[int] = []
        self.e_bw: list[float] = []
        self.e_lat: list[float] = []
        self.e_ring: list[int] = []
        self._switch_latency = None  # switch_latency_s as an array, until the next node

    def node(self, kind: int, x: float, y: float, chip: int = -1, server: int = -1, label: str = "",
             switch_latency_s: float = 0.0) -> int:
        return int(self.nodes_of(kind, np.array([x]), np.array([y]), np.array([chip]), np.array([server]),
                                 [label], switch_latency_s)[0])

    def nodes_of(self, kind: int, x: np.ndarray, y: np.ndarray, chip: np.ndarray, server: np.ndarray,
                 labels: list[str], switch_latency_s: float = 0.0) -> np.ndarray:
        """``node`` for every element of the (n,) arrays at once; returns the (n,) ids.
        ``kind`` and ``switch_latency_s`` are scalars or (n,) arrays."""
        n = len(labels)
        ids = self.next_id + np.arange(n)
        self.next_id += n
        self.kind += np.broadcast_to(kind, n).tolist()
        self.x += np.asarray(x, dtype=np.float64).tolist()
        self.y += np.asarray(y, dtype=np.float64).tolist()
        self.chip += np.broadcast_to(chip, n).tolist()
        self.server += np.broadcast_to(server, n).tolist()
        self.labels += labels
        self.switch_latency_s += np.broadcast_to(np.asarray(switch_latency_s, dtype=np.float64), n).tolist()
        self._switch_latency = None
        return ids

    def x_of(self, ids) -> np.ndarray:
        return np.asarray(self.x)[np.asarray(ids) - self.first_id]

    def y_of(self, ids) -> np.ndarray:
        return np.asarray(self.y)[np.asarray(ids) - self.first_id]

    def link(self, u: int, v: int, kind: str, bw: float, lat: float, rings=(-1, -1)) -> None:
        self._link(u, v, KIND_CODE[kind], bw, lat, rings)

    def _link(self, u: int, v: int, code: int, bw: float, lat: float, rings) -> None:
        for a, b, ring in ((u, v, rings[0]), (v, u, rings[1])):
            i = self.edges.get((a, b))
            if i is not None:  # parallel cables: one link of the summed bandwidth
                self.e_bw[i] += bw
                continue
            self.edges[(a, b)] = len(self.e_src)
            self.e_src.append(a)
            self.e_dst.append(b)
            self.e_kind.append(code)
            self.e_bw.append(bw)
            self.e_lat.append(lat + self.switch_latency_s[a - self.first_id])
            self.e_ring.append(ring)

    def links_of(self, u: np.ndarray, v: np.ndarray, kind, bw, lat, ring_uv=-1, ring_vu=-1) -> None:
        """``link`` for every element of the (n,) arrays, in order; ``kind`` (a link kind or
        an (n,) array of kind codes), ``bw``, ``lat`` and the rings are scalars or (n,) arrays.
        Added as a whole when every pair is new; otherwise one at a time (parallel cables
        summed), so the result is ``link``'s either way."""
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        n = u.size
        code = np.broadcast_to(KIND_CODE[kind] if isinstance(kind, str) else kind, n)
        bw, lat = np.broadcast_to(np.asarray(bw, dtype=np.float64), n), np.broadcast_to(np.asarray(lat, dtype=np.float64), n)
        ring_uv, ring_vu = np.broadcast_to(ring_uv, n), np.broadcast_to(ring_vu, n)

        def both(p, q):  # each link's two directions, one after the other
            return np.stack([p, q], axis=1).ravel()

        a, b = both(u, v), both(v, u)
        pairs = list(zip(a.tolist(), b.tolist()))
        if len(set(pairs)) < len(pairs) or not self.edges.keys().isdisjoint(pairs):
            for args in zip(u.tolist(), v.tolist(), code.tolist(), bw.tolist(), lat.tolist(),
                            ring_uv.tolist(), ring_vu.tolist()):
                self._link(*args[:5], args[5:])
            return
        first = len(self.e_src)
        self.edges.update(zip(pairs, range(first, first + len(pairs))))
        self.e_src += a.tolist()
        self.e_dst += b.tolist()
        self.e_kind += both(code, code).tolist()
        self.e_bw += both(bw, bw).tolist()
        if self._switch_latency is None:
            self._switch_latency = np.asarray(self.switch_latency_s)
        self.e_lat += (both(lat, lat) + self._switch_latency[a - self.first_id]).tolist()
        self.e_ring += both(ring_uv, ring_vu).tolist()

    def connected(self) -> bool:
        """Whether every off-chip node reaches every other, links taken both ways: labels
        spread to the smallest id over the links (with pointer jumping) until they settle."""
        n = self.next_id - self.first_id
        if n <= 1:
            return True
        src = np.asarray(self.e_src, dtype=np.int64) - self.first_id
        dst = np.asarray(self.e_dst, dtype=np.int64) - self.first_id
        label = np.arange(n)
        while True:
            low = np.minimum(label[src], label[dst])
            new = label.copy()
            np.minimum.at(new, src, low)
            np.minimum.at(new, dst, low)
            new = new[new]  # a label's own label: halves the remaining distance
            if np.array_equal(new, label):
                return bool((label == 0).all())
            label = new


def mesh_params(chip: ChipSpec, rows: int, cols: int, torus: bool = False) -> MeshParams:
    """Tile-mesh bandwidth and latency that keep bisection and hop latency of the chip."""
    f_r = chip.core_rows / rows
    f_c = chip.core_cols / cols
    x_bw = chip.noc_bandwidth_Bps * f_r
    y_bw = chip.noc_bandwidth_Bps * f_c
    return MeshParams(rows, cols, x_bw, y_bw, chip.noc_hop_latency_s * f_c, chip.noc_hop_latency_s * f_r,
                      torus=torus, hub_bandwidth_Bps=max(chip.memory_bandwidth_Bps / cols, x_bw, y_bw),
                      hub_latency_s=chip.noc_hop_latency_s)


def _check_size(source: str, field: str, value, n_tiles: int, n_links: int) -> None:
    if n_tiles > MAX_TILES or n_links > MAX_LINKS:
        raise SpecError(source, field, value,
                        f"at most {MAX_TILES:,} tiles and {MAX_LINKS:,} links in one fabric "
                        f"(this asks for {n_tiles:,} tiles); lower the mesh resolution or the chip count")


def sized_fabric(spec: ArchitectureSpec, *, nodes=None, dims=None, wafers=None, tiles=None,
                 source: str = "size") -> Fabric:
    """``build_fabric`` with the size knob that fits the topology, refusing the others
    (``sim_core.fabric.size.FabricSize.of`` says how)."""
    from sim_core.fabric.size import FabricSize
    return FabricSize.of(spec, nodes=nodes, dims=dims, wafers=wafers, tiles=tiles, source=source).build(spec)


def build_fabric(spec: ArchitectureSpec, *, nodes: int | None = None, dims: list[int] | None = None,
                 wafers: int | None = None, tiles: tuple[int, int] | None = None,
                 offchip_bandwidth_scale: float = 1.0, offchip_latency_scale: float = 1.0) -> Fabric:
    """Instantiate ``spec`` at a size: ``nodes`` (cluster), ``dims`` (torus), ``wafers``.

    ``tiles`` = (rows, cols) of each chip's drawn mesh (default: the preset's).
    The off-chip scales multiply every off-chip link's bandwidth / latency (what-if knobs).
    """
    topo = spec.topology
    src_name = f"architecture {spec.id}"
    R, C = tiles or spec.chip.default_tiles
    if not (1 <= R <= 2048 and 1 <= C <= 2048):
        raise SpecError(src_name, "tiles", (R, C), "rows and columns from 1 to 2048")
    for name, val in (("offchip_bandwidth_scale", offchip_bandwidth_scale), ("offchip_latency_scale", offchip_latency_scale)):
        if not (math.isfinite(val) and val > 0):
            raise SpecError(src_name, name, val, "a finite number > 0")
    if topo.kind == "cluster":
        n_nodes = nodes if nodes is not None else topo.nodes
        if not 1 <= n_nodes <= 100_000:
            raise SpecError(src_name, "topology.nodes", n_nodes, "1 to 100,000 nodes")
        n_chips = n_nodes * topo.chips_per_node
    elif topo.kind == "torus":
        dims = list(dims if dims is not None else topo.dims)
        if not (1 <= len(dims) <= 3 and all(1 <= d <= 64 for d in dims)):
            raise SpecError(src_name, "topology.dims", dims, "1 to 3 dimensions of 1 to 64 chips")
        n_chips = int(np.prod(dims))
    else:
        n_chips = wafers if wafers is not None else topo.wafers
        if not 1 <= n_chips <= 1024:
            raise SpecError(src_name, "topology.wafers", n_chips, "1 to 1,024 wafers")
    _check_size(src_name, "tiles", (R, C), n_chips * R * C, n_chips * R * C * 4)

    mesh = mesh_params(spec.chip, R, C)
    m_src, m_dst, m_bw, m_lat, m_ring, tile_link, n_rings = mesh_links(n_chips, mesh)
    T = n_chips * R * C
    g = _OffChip(T)
    scale_bw, scale_lat = offchip_bandwidth_scale, offchip_latency_scale

    def L(name: str):
        ls = spec.links[name]
        return ls.kind, ls.payload_Bps * scale_bw, ls.latency_s * scale_lat

    cw, chh = C + 3.0, R + 4.5
    origins = np.zeros((n_chips, 2))
    hubs = np.zeros(n_chips, dtype=np.int64)
    servers = np.full(n_chips, -1)
    torus_table = None

    if topo.kind == "cluster":
        build_cluster(spec, n_nodes, g, origins, hubs, servers, cw, chh, C, L, scale_lat)
    elif topo.kind == "torus":
        torus_table, n_rings = _build_torus(dims, g, origins, hubs, servers, cw, chh, C, L(topo.torus_link), n_rings)
    else:
        _build_wafer(spec, n_chips, g, origins, hubs, cw, C, L, src_name)

    if not g.connected():
        raise SpecError(src_name, "topology", topo.kind, "a connected topology (some chips cannot reach others)")
    return _compile(spec, g, n_chips, R, C, mesh, origins, hubs, servers,
                    (m_src, m_dst, m_bw, m_lat, m_ring, tile_link), torus_table, dims if topo.kind == "torus" else ())


MAX_STRIP_ASPECT = 4.0
"""Widest a chip torus's row of z layers is drawn, relative to its height (see _build_torus)."""


def _build_torus(dims, g, origins, hubs, servers, cw, chh, C, link, ring_base):
    nd = len(dims)
    shape = list(dims) + [1] * (3 - nd)
    n = int(np.prod(shape))
    coords = np.stack(np.unravel_index(np.arange(n), shape[::-1])[::-1], axis=1)  # x fastest
    # drawing only: z layers side by side, folded into rows (a snake, so layer z and z + 1
    # always sit next to each other, and the last under the first) once the strip would be
    # over MAX_STRIP_ASPECT times wider than high: a 16x16x16 pod is 2 rows of 8 layers
    layer_w, layer_h = shape[0] * cw + 4.0, shape[1] * chh + 6.0
    rows = 1
    while shape[2] > rows and np.ceil(shape[2] / rows) * layer_w > MAX_STRIP_ASPECT * rows * layer_h:
        rows += 1
    per_row = int(np.ceil(shape[2] / rows))
    x, y, z = coords[:, 0], coords[:, 1], coords[:, 2]
    row, k = np.divmod(z, per_row)
    col = np.where(row % 2 == 0, k, per_row - 1 - k)
    origins[:, 0] = col * layer_w + x * cw
    origins[:, 1] = row * layer_h + y * chh
    servers[:] = np.arange(n) // 4
    labels = [f"TPU chip #{d} ({a},{b},{c})" for d, (a, b, c) in enumerate(coords.tolist())]
    hubs[:] = g.nodes_of(HUB, origins[:, 0] + (C - 1) / 2, origins[:, 1] - 1.5, np.arange(n), servers, labels)
    table = np.full((n, nd, 2), -1, dtype=np.int64)
    ring = ring_base
    strides = [1, shape[0], shape[0] * shape[1]]
    for dim in range(nd):
        size = shape[dim]
        if size < 2:
            continue
        # every line of this axis (chips with coordinate 0 on it, in order), each link of
        # the line in turn; a line longer than two wraps round and is a ring of its own
        starts = np.flatnonzero(coords[:, dim] == 0)
        wrap = size > 2
        steps = np.arange(size if wrap else 1)
        a = (starts[:, None] + steps[None, :] * strides[dim]).ravel()
        b = (starts[:, None] + ((steps + 1) % size)[None, :] * strides[dim]).ravel()
        if wrap:
            line_ring = np.repeat(ring + 2 * np.arange(starts.size), steps.size)
            ring_ab, ring_ba = line_ring, line_ring + 1
            ring += 2 * starts.size
        else:
            ring_ab = ring_ba = np.full(a.size, -1)
        g.links_of(hubs[a], hubs[b], *link, ring_ab, ring_ba)
        table[a, dim, 0] = -2  # resolved to link ids at compile time
    return (table, coords), ring


def _build_wafer(spec, n, g, origins, hubs, cw, C, L, src_name):
    topo = spec.topology
    hosts = []
    for w in range(n):
        ox = w * (cw + 10.0)
        origins[w] = (ox, 0.0)
        hubs[w] = g.node(HUB, ox + (C - 1) / 2, -1.5, chip=w, server=w, label=f"wafer {w} I/O")
        host = g.node(HOST, ox + (C - 1) / 2, -7.0, server=w, label=f"wafer {w} host / external memory")
        g.link(int(hubs[w]), host, *L(topo.io_link))
        hosts.append(host)
    if n > 1:
        if not topo.network_link:
            raise SpecError(src_name, "topology.network_link", "", "a link name: several wafers need a network to join them")
        kind, bw, lat = L(topo.network_link)
        sw = g.node(SWITCH, (n - 1) * (cw + 10.0) / 2 + C / 2, -13.0, label="wafer network switch")
        for h in hosts:
            g.link(h, sw, kind, bw, lat)


def _compile(spec, g, n_chips, R, C, mesh, origins, hubs, servers, mesh_arrays, torus_table, dims) -> Fabric:
    m_src, m_dst, m_bw, m_lat, m_ring, tile_link = mesh_arrays
    T = n_chips * R * C
    n_off = g.next_id - T
    N = T + n_off
    kind = np.zeros(N, dtype=np.int8)
    x = np.zeros(N)
    y = np.zeros(N)
    chip = np.full(N, -1, dtype=np.int32)
    server = np.full(N, -1, dtype=np.int32)
    per = R * C
    local = np.arange(T) % per
    tchip = np.arange(T) // per
    x[:T] = origins[tchip, 0] + local % C
    y[:T] = origins[tchip, 1] + local // C
    chip[:T] = tchip
    server[:T] = servers[tchip]
    kind[T:], x[T:], y[T:], chip[T:], server[T:] = g.kind, g.x, g.y, g.chip, g.server
    labels = dict(zip(range(T, N), g.labels))
    # hub <-> bottom-row tiles
    bottom = (np.arange(n_chips)[:, None] * per + np.arange(C)[None, :])  # (CH, C)
    hub_col = np.broadcast_to(hubs[:, None], bottom.shape)
    n_mesh = len(m_src)
    n_hl = bottom.size
    hub_to_tile = (n_mesh + np.arange(n_hl)).reshape(n_chips, C).astype(np.int32)
    tile_to_hub = (n_mesh + n_hl + np.arange(n_hl)).reshape(n_chips, C).astype(np.int32)
    e_src, e_dst = np.array(g.e_src, dtype=np.int32), np.array(g.e_dst, dtype=np.int32)
    noc = KIND_CODE["noc"]
    link_src = np.concatenate([m_src, hub_col.ravel(), bottom.ravel(), e_src]).astype(np.int32)
    link_dst = np.concatenate([m_dst, bottom.ravel(), hub_col.ravel(), e_dst]).astype(np.int32)
    link_kind = np.concatenate([np.full(n_mesh + 2 * n_hl, noc), np.array(g.e_kind, dtype=np.float64)]).astype(np.int8)
    link_bw = np.concatenate([m_bw, np.full(2 * n_hl, mesh.hub_bandwidth_Bps), np.array(g.e_bw, dtype=np.float64)])
    link_lat = np.concatenate([m_lat, np.full(2 * n_hl, mesh.hub_latency_s), np.array(g.e_lat, dtype=np.float64)])
    link_ring = np.concatenate([m_ring, np.full(2 * n_hl, -1), np.array(g.e_ring, dtype=np.float64)]).astype(np.int32)
    hub_torus = None
    if torus_table is not None:
        table, coords = torus_table
        # each hub's link to its neighbour up and down every axis, found by (src, dst) key
        key = e_src.astype(np.int64) * N + e_dst
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]

        def link_id(u, v):
            q = u.astype(np.int64) * N + v
            i = np.minimum(np.searchsorted(sorted_key, q), key.size - 1)
            if not (sorted_key[i] == q).all():
                raise RuntimeError("a torus neighbour without a link")
            return n_mesh + 2 * n_hl + order[i]

        hub_torus = np.full(table.shape, -1, dtype=np.int32)
        shape = list(dims) + [1] * (3 - len(dims))
        strides = [1, shape[0], shape[0] * shape[1]]
        d = np.arange(n_chips)
        for dim in range(table.shape[1]):
            size = shape[dim]
            if size < 2:
                continue
            k = coords[:, dim]
            up = d + ((k + 1) % size - k) * strides[dim]
            dn = d + ((k - 1) % size - k) * strides[dim]
            hub_torus[:, dim, 0] = link_id(hubs, hubs[up])
            hub_torus[:, dim, 1] = link_id(hubs, hubs[dn])
    fab = Fabric(
        name=spec.name if spec is not None else "mesh", n_chips=n_chips, tile_rows=R, tile_cols=C, on_chip_torus=False,
        node_kind=kind, node_x=x, node_y=y, node_chip=chip, node_server=server,
        link_src=link_src, link_dst=link_dst, link_kind=link_kind, link_bandwidth_Bps=link_bw.astype(np.float64),
        link_latency_s=link_lat.astype(np.float64), link_ring=link_ring, tile_link=tile_link,
        chip_hub=hubs.astype(np.int32), hub_to_tile=hub_to_tile, tile_to_hub=tile_to_hub,
        node_labels=labels, torus_dims=tuple(dims), hub_torus_link=hub_torus, spec=spec,
    )
    return fab


def build_mesh_fabric(k: int, *, cols: int | None = None, torus: bool = False, bandwidth_Bps: float = 1.0,
                      latency_s: float = 0.0, name: str = "mesh") -> Fabric:
    """One k x k (or k x cols) mesh or torus of tiles and nothing else: the NoC laboratory.

    With ``bandwidth_Bps = 1`` and 1-byte flits, one second of simulated time is one cycle.
    """
    cols = cols or k
    _check_size("noc", "--k", k, k * cols, k * cols * 4)
    m = MeshParams(k, cols, bandwidth_Bps, bandwidth_Bps, latency_s, latency_s, torus=torus,
                   hub_bandwidth_Bps=bandwidth_Bps, hub_latency_s=latency_s)
    m_src, m_dst, m_bw, m_lat, m_ring, tile_link, _ = mesh_links(1, m)
    T = k * cols
    g = _OffChip(T)
    hub = g.node(HUB, (cols - 1) / 2, -1.5, chip=0, label="chip I/O")
    return _compile(None, g, 1, k, cols, m, np.zeros((1, 2)), np.array([hub]), np.zeros(1, dtype=int),
                    (m_src, m_dst, m_bw, m_lat, m_ring, tile_link), None, ())._replace_name(name, torus)
