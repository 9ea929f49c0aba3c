"""The fabric as struct-of-arrays: nodes with drawing coordinates and directed links.

Node ids are laid out so routing can be arithmetic: the tiles of every chip come first,
chip-major and row-major (tile id = chip * R * C + row * C + col), then the off-chip
nodes (chip hubs, NICs, switches, hosts) in the order the builder adds them.

Mesh resolution. A chip's physical core mesh (``core_rows`` x ``core_cols``) is drawn
and simulated as ``R x C`` tiles. Each tile stands for ``f_r x f_c`` cores with
``f_r = core_rows / R`` and ``f_c = core_cols / C``. A vertical cut crosses ``core_rows``
physical x-links or ``R`` tile x-links, so tile x-links carry ``f_r`` times a physical
link's bandwidth (y-links ``f_c`` times): bisection bandwidth is unchanged. A tile x-hop
spans ``f_c`` physical hops, so its latency is ``f_c`` hop latencies (y: ``f_r``): the
zero-load latency corner to corner is unchanged. The resolution changes what is drawn,
not the physics of the preset.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim_core.spec.schema import LINK_KINDS

NODE_KINDS = ("tile", "hub", "nic", "switch", "host")
TILE, HUB, NIC, SWITCH, HOST = range(5)
DIRS = ("+x", "-x", "+y", "-y")
KIND_CODE = {k: i for i, k in enumerate(LINK_KINDS)}

MAX_TILES = 1_100_000
MAX_LINKS = 5_000_000


@dataclass(eq=False)
class Fabric:
    """Nodes and directed links of one architecture instance.

    Attributes (N nodes, L links, CH chips, T = CH * R * C tiles)
    ----------
    node_kind : (N,) int8, index into ``NODE_KINDS``
    node_x, node_y : (N,) float64, drawing coordinates (one tile pitch = 1.0)
    node_chip : (N,) int32, chip (device) of a tile or hub, -1 elsewhere
    node_server : (N,) int32, server (node) index, -1 for network switches
    link_src, link_dst : (L,) int32 node ids
    link_kind : (L,) int8, index into ``specs.LINK_KINDS``
    link_bandwidth_Bps : (L,) float64, payload bytes per second (line rate x efficiency)
    link_latency_s : (L,) float64, time of flight after the last byte leaves
    link_ring : (L,) int32, torus ring the link belongs to (-1: not on a ring)
    tile_link : (T, 4) int32, link leaving each tile towards +x, -x, +y, -y (-1: none)
    chip_hub : (CH,) int32, the chip's I/O hub node (memory and off-chip ports)
    hub_to_tile, tile_to_hub : (CH, C) int32, links between the hub and bottom-row tiles
    """

    name: str
    n_chips: int
    tile_rows: int
    tile_cols: int
    on_chip_torus: bool
    node_kind: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray
    node_chip: np.ndarray
    node_server: np.ndarray
    link_src: np.ndarray
    link_dst: np.ndarray
    link_kind: np.ndarray
    link_bandwidth_Bps: np.ndarray
    link_latency_s: np.ndarray
    link_ring: np.ndarray
    tile_link: np.ndarray
    chip_hub: np.ndarray
    hub_to_tile: np.ndarray
    tile_to_hub: np.ndarray
    node_labels: dict[int, str] = field(default_factory=dict)
    torus_dims: tuple[int, ...] = ()
    hub_torus_link: np.ndarray | None = None  # (CH, ndim, 2) int32 for torus presets
    spec: object | None = None

    @property
    def n_nodes(self) -> int:
        return len(self.node_kind)

    @property
    def n_links(self) -> int:
        return len(self.link_src)

    @property
    def n_tiles(self) -> int:
        return self.n_chips * self.tile_rows * self.tile_cols

    def tile_id(self, chip: int, row: int, col: int) -> int:
        return (chip * self.tile_rows + row) * self.tile_cols + col

    def device_node(self, device: int) -> int:
        """The endpoint of device (chip) ``device``: its hub. Devices are numbered node-major."""
        if not 0 <= device < self.n_chips:
            raise IndexError(f"device {device} outside 0..{self.n_chips - 1}")
        return int(self.chip_hub[device])

    def node_label(self, node: int) -> str:
        node = int(node)
        if node < self.n_tiles:
            per = self.tile_rows * self.tile_cols
            chip, local = divmod(node, per)
            r, c = divmod(local, self.tile_cols)
            return f"chip {chip} tile ({r},{c})"
        return self.node_labels.get(node, f"{NODE_KINDS[self.node_kind[node]]} {node}")

    def link_label(self, link: int) -> str:
        link = int(link)
        return (f"{LINK_KINDS[self.link_kind[link]]}: {self.node_label(self.link_src[link])}"
                f" -> {self.node_label(self.link_dst[link])}")

    def _replace_name(self, name: str, torus: bool) -> "Fabric":
        self.name = name
        self.on_chip_torus = torus
        return self

    def links_of_kind(self, kind: str) -> np.ndarray:
        return np.flatnonzero(self.link_kind == KIND_CODE[kind])


@dataclass
class MeshParams:
    """On-chip mesh of one chip, at the drawn resolution."""

    rows: int
    cols: int
    x_bandwidth_Bps: float
    y_bandwidth_Bps: float
    x_latency_s: float
    y_latency_s: float
    torus: bool = False
    hub_bandwidth_Bps: float = 0.0
    hub_latency_s: float = 0.0


def mesh_links(n_chips: int, m: MeshParams, ring_base: int = 0):
    """Directed links of ``n_chips`` identical R x C meshes (tori if ``m.torus``), vectorized.

    Returns (src, dst, bw, lat, ring, tile_link) with tile_link of shape (T, 4).
    """
    R, C = m.rows, m.cols
    per = R * C
    tiles = np.arange(n_chips * per, dtype=np.int64).reshape(n_chips, R, C)
    parts = []  # (src, dst, dir, bw, lat, ring)
    rings = ring_base
    for axis, (d_pos, d_neg, bw, lat, size) in enumerate(
        ((0, 1, m.x_bandwidth_Bps, m.x_latency_s, C), (2, 3, m.y_bandwidth_Bps, m.y_latency_s, R))
    ):
        if size < 2:
            continue
        wrap = m.torus and size > 2
        a = tiles if axis == 0 else tiles.transpose(0, 2, 1)  # (..., line, position)
        nxt = np.roll(a, -1, axis=2)
        if not wrap:
            a_, n_ = a[:, :, :-1], nxt[:, :, :-1]
        else:
            a_, n_ = a, nxt
        lines = a_.shape[0] * a_.shape[1]
        ring_pos = (np.arange(lines).reshape(a_.shape[0], a_.shape[1], 1) * 2 + rings) if wrap else None
        for src, dst, d, off in ((a_, n_, d_pos, 0), (n_, a_, d_neg, 1)):
            ring = np.broadcast_to(ring_pos + off, src.shape) if wrap else np.full(src.shape, -1)
            parts.append((src.ravel(), dst.ravel(), np.full(src.size, d), bw, lat, ring.ravel()))
        if wrap:
            rings += 2 * lines
    T = n_chips * per
    tile_link = np.full((T, 4), -1, dtype=np.int32)
    if not parts:
        empty = np.zeros(0)
        return empty.astype(np.int32), empty.astype(np.int32), empty, empty, empty.astype(np.int32), tile_link, rings
    src = np.concatenate([p[0] for p in parts]).astype(np.int32)
    dst = np.concatenate([p[1] for p in parts]).astype(np.int32)
    dirs = np.concatenate([p[2] for p in parts])
    bw = np.concatenate([np.full(len(p[0]), p[3], dtype=np.float64) for p in parts])
    lat = np.concatenate([np.full(len(p[0]), p[4], dtype=np.float64) for p in parts])
    ring = np.concatenate([p[5] for p in parts]).astype(np.int32)
    tile_link[src, dirs] = np.arange(len(src), dtype=np.int32)
    return src, dst, bw, lat, ring, tile_link, rings
