"""What the mesh view draws, computed from what the engine's view API answers. Pure numpy: no Qt here.

The view asks three questions each frame: which links go in which colour bucket
(``link_levels``), where every chunk is (``particle_positions``, from the engine's
``chunk_state()``), and how busy each chip is when the view is too far out to draw
cores (``chip_load``, ``shade_groups``). All answers are arrays,
so they are tested without a display (tests/test_app_render_model.py).

Coordinates are the fabric's drawing coordinates (one tile pitch = 1.0). Directed links
are drawn on two lanes, offset to the right of their direction, so both directions of a
cable and the chunks on them stay visible.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# RGB per link kind, in sim_core.LINK_KINDS order: noc, nvlink, pcie, infiniband,
# ethernet, ici, wafer-io, upi. Chosen to stay apart for common colour blindness.
KIND_RGB = np.array([
    (120, 140, 170),  # noc: slate
    (118, 185, 0),    # nvlink: NVIDIA green
    (255, 152, 0),    # pcie: orange
    (206, 80, 220),   # infiniband: violet
    (255, 221, 51),   # ethernet: yellow
    (0, 200, 220),    # ici: cyan
    (255, 90, 110),   # wafer-io: rose
    (160, 120, 80),   # upi: brown
], dtype=np.uint8)

# Particles: one colour per tensor / shard (tag modulo the palette length).
TAG_RGB = np.array([
    (255, 255, 255), (255, 196, 0), (0, 220, 255), (255, 90, 200), (120, 255, 120), (255, 140, 60),
    (170, 150, 255), (255, 255, 120), (90, 200, 255), (255, 120, 120), (160, 255, 220), (220, 180, 255),
], dtype=np.uint8)

# Utilization levels: bucket edges (share of the step the link spent serializing).
LEVEL_EDGES = np.array([0.02, 0.30, 0.70])
N_LEVELS = len(LEVEL_EDGES) + 1
LEVEL_WIDTH_ONCHIP = (1.0, 1.5, 2.5, 3.5)
LEVEL_WIDTH_OFFCHIP = (2.5, 3.5, 5.0, 7.0)

LANE_ONCHIP = 0.09
LANE_OFFCHIP = 0.18
QUEUE_SPACING = 0.11
QUEUE_MAX_DRAWN = 45
QUEUE_MAX_SHARE = 0.9  # a tail fills at most this share of the link it sits on


@dataclass(frozen=True)
class LinkGeometry:
    """Lane-offset segment of every directed link, (L,) float64 each, plus kind and
    whether the link leaves a chip (L,) bool."""

    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    kind: np.ndarray
    offchip: np.ndarray
    # Derived once per fabric, so a frame gathers them per chunk instead of recomputing:
    # the segment's vector, its length and unit direction.
    dx: np.ndarray = field(init=False, repr=False, compare=False)
    dy: np.ndarray = field(init=False, repr=False, compare=False)
    seg_length: np.ndarray = field(init=False, repr=False, compare=False)
    ux: np.ndarray = field(init=False, repr=False, compare=False)
    uy: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        dx, dy = self.x1 - self.x0, self.y1 - self.y0
        seg = np.hypot(dx, dy)
        norm = np.maximum(seg, 1e-12)
        for name, v in (("dx", dx), ("dy", dy), ("seg_length", seg), ("ux", dx / norm), ("uy", dy / norm)):
            object.__setattr__(self, name, v)

    @property
    def length(self) -> np.ndarray:
        return self.seg_length


def link_geometry(node_x, node_y, link_src, link_dst, link_kind) -> LinkGeometry:
    """Segments of every directed link, shifted to the right of their direction."""
    ax, ay = node_x[link_src], node_y[link_src]
    bx, by = node_x[link_dst], node_y[link_dst]
    dx, dy = bx - ax, by - ay
    n = np.maximum(np.hypot(dx, dy), 1e-12)
    offchip = np.asarray(link_kind) != 0
    lane = np.where(offchip, LANE_OFFCHIP, LANE_ONCHIP)
    # right-hand normal of (dx, dy) is (dy, -dx)
    ox, oy = dy / n * lane, -dx / n * lane
    return LinkGeometry(ax + ox, ay + oy, bx + ox, by + oy, np.asarray(link_kind, dtype=np.int64), offchip)


def link_levels(util: np.ndarray) -> np.ndarray:
    """(L,) int64 utilization level 0..N_LEVELS-1 of each link."""
    return np.searchsorted(LEVEL_EDGES, util, side="right").astype(np.int64)


def bucket_segments(geom: LinkGeometry, levels: np.ndarray, kind: int, level: int,
                    visible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved (2M,) x and y of the links of one (kind, level) bucket, for connect='pairs'."""
    sel = (geom.kind == kind) & (levels == level)
    if visible is not None:
        sel &= visible
    idx = np.flatnonzero(sel)
    x = np.empty(2 * idx.size)
    y = np.empty(2 * idx.size)
    x[0::2], x[1::2] = geom.x0[idx], geom.x1[idx]
    y[0::2], y[1::2] = geom.y0[idx], geom.y1[idx]
    return x, y


def level_rgb(kind: int, level: int) -> tuple[int, int, int]:
    """A link's colour: its kind's hue, dim when idle, brightening towards white-hot."""
    base = KIND_RGB[kind].astype(float)
    if level == 0:
        rgb = base * 0.45
    else:
        heat = (level - 1) / (N_LEVELS - 2)
        rgb = base + (np.array([255.0, 255.0, 235.0]) - base) * 0.55 * heat
    return tuple(int(v) for v in np.clip(rgb, 0, 255))


@dataclass(frozen=True)
class Particles:
    """Drawn chunks, (P,) each: position, colour class, whether on a wire."""

    x: np.ndarray
    y: np.ndarray
    color: np.ndarray  # int64 index into TAG_RGB
    moving: np.ndarray  # bool
    msg: np.ndarray  # int64 message id
    ux: np.ndarray  # unit direction of the link the chunk is on or waits for
    uy: np.ndarray


def particle_positions(geom: LinkGeometry, chunks, now_s: float) -> Particles:
    """Where every live chunk of ``chunks`` (a ``sim_core.engine.view.ChunkState``) is drawn at ``now_s``.

    Chunks on a wire are interpolated along their link's lane by the share of their
    flight done. Waiting chunks form a tail inside the link they sit on: a chunk that has
    crossed its link and waits for the next one stacks backwards from that link's far
    end; a chunk in an injection queue stacks forwards from the start of its link. Tails
    grow ``QUEUE_SPACING`` per chunk and stop at ``QUEUE_MAX_SHARE`` of the link's
    length, so a saturated queue never sticks out of a chip or past a wafer.
    """
    n = len(chunks)
    if n == 0 or geom.x0.size == 0:
        z = np.zeros(0)
        zi = np.zeros(0, dtype=np.int64)
        return Particles(z, z, zi, np.zeros(0, dtype=bool), zi, z, z)
    link = np.clip(np.asarray(chunks.link, dtype=np.int64), 0, geom.x0.size - 1)
    on_link = np.asarray(chunks.on_link, dtype=bool)
    start, ready = np.asarray(chunks.start_s, dtype=float), np.asarray(chunks.ready_s, dtype=float)
    frac = np.clip((now_s - start) / np.maximum(ready - start, 1e-300), 0.0, 1.0)
    moving = on_link & (frac < 1.0)
    # pos: the share of its link's lane at which each chunk is drawn
    pos = frac
    wait = np.flatnonzero(~moving)
    if wait.size:
        wl = link[wait]
        rank = _rank_within(wl, ready[wait], np.asarray(chunks.queue_pos)[wait])
        length = geom.seg_length[wl]
        dist = np.minimum(np.minimum(rank + 1, QUEUE_MAX_DRAWN) * QUEUE_SPACING, QUEUE_MAX_SHARE * length)
        share = dist / np.maximum(length, 1e-12)
        # arrived chunks: back from the far end; never-started chunks: on from the start
        pos[wait] = np.where(on_link[wait], 1.0 - share, share)
    x = geom.x0[link] + geom.dx[link] * pos
    y = geom.y0[link] + geom.dy[link] * pos
    color = np.asarray(chunks.tag, dtype=np.int64) % len(TAG_RGB)
    return Particles(x, y, color, moving, np.asarray(chunks.msg, dtype=np.int64), geom.ux[link], geom.uy[link])


def particle_segments(p: Particles, length: float, sel: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved (2S,) x, y of short streaks ending at the selected particles (indices,
    or a slice such as ``slice(None)`` for all), pointing the way they travel: drawn as one
    line batch, far cheaper than per-point symbols."""
    px, py = p.x[sel], p.y[sel]
    x = np.empty(2 * px.size)
    y = np.empty(2 * py.size)
    x[0::2], x[1::2] = px - p.ux[sel] * length, px
    y[0::2], y[1::2] = py - p.uy[sel] * length, py
    return x, y


def _rank_within(group: np.ndarray, t: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Position of each item within its group, ordered by (t, seq); items equal in all
    three keep their input order (the ranks of ``np.lexsort((seq, t, group))``).

    ``group`` and ``seq`` are integers. Items alone in their group (every queue of a pod's
    lock-step all-reduce) are rank 0 without sorting; the others are sorted once, on one
    int64 key built from group, the dense rank of t and seq, instead of a three-key lexsort.
    """
    group = np.asarray(group, dtype=np.int64)
    seq = np.asarray(seq, dtype=np.int64)
    rank = np.zeros(group.size, dtype=np.int64)
    if group.size < 2:
        return rank
    g0 = int(group.min())
    g = group - g0
    shared = np.flatnonzero(np.bincount(g)[g] > 1)
    if shared.size == 0:
        return rank
    g, ts, sq = g[shared], np.asarray(t)[shared], seq[shared]
    t_rank = np.unique(ts, return_inverse=True)[1].reshape(-1)
    n_t = int(t_rank.max()) + 1
    s0 = int(sq.min())
    span = int(sq.max()) - s0 + 1
    if (int(g.max()) + 1) * n_t * span < 2 ** 62:
        order = np.argsort((g * n_t + t_rank) * span + (sq - s0), kind="stable")
    else:  # keys too wide for one int64
        order = np.lexsort((sq, ts, g))
    gs = g[order]
    starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
    counts = np.diff(np.r_[starts, gs.size])
    rank[shared[order]] = np.arange(gs.size) - np.repeat(starts, counts)
    return rank


def chip_boxes(node_x, node_y, node_chip, n_tiles: int, n_chips: int, pad: float = 0.5) -> np.ndarray:
    """(CH, 4) float64 bounding box x0, y0, x1, y1 of each chip's tiles."""
    chip = np.asarray(node_chip[:n_tiles], dtype=np.int64)
    x, y = node_x[:n_tiles], node_y[:n_tiles]
    box = np.empty((n_chips, 4))
    box[:, 0] = np.full(n_chips, np.inf)
    box[:, 1] = np.full(n_chips, np.inf)
    box[:, 2] = np.full(n_chips, -np.inf)
    box[:, 3] = np.full(n_chips, -np.inf)
    np.minimum.at(box[:, 0], chip, x)
    np.minimum.at(box[:, 1], chip, y)
    np.maximum.at(box[:, 2], chip, x)
    np.maximum.at(box[:, 3], chip, y)
    return box + np.array([-pad, -pad, pad, pad])


def box_segments(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved (8B,) x, y outline segments of (B, 4) boxes, for connect='pairs'."""
    x0, y0, x1, y1 = boxes.T
    xs = np.stack([x0, x1, x1, x1, x1, x0, x0, x0], axis=1).ravel()
    ys = np.stack([y0, y0, y0, y1, y1, y1, y1, y0], axis=1).ravel()
    return xs, ys


def chip_load(util: np.ndarray, link_src, link_kind, node_chip, n_chips: int) -> np.ndarray:
    """(CH,) mean utilization of each chip's on-chip links (what a zoomed-out chip shows)."""
    return chip_load_of(util, chip_link_index(link_src, link_kind, node_chip, n_chips))


def chip_link_index(link_src, link_kind, node_chip, n_chips: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What ``chip_load`` needs of a fabric, once per fabric: (on-chip links with a chip,
    their chip, on-chip link count per chip (CH,))."""
    onchip = np.flatnonzero(np.asarray(link_kind) == 0)
    chip = np.asarray(node_chip)[np.asarray(link_src)[onchip]]
    ok = chip >= 0
    links, chip = onchip[ok], chip[ok]
    return links, chip, np.bincount(chip, minlength=n_chips)


def chip_load_of(util: np.ndarray, index: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """``chip_load`` from a ``chip_link_index``: the same numbers, without redoing the fabric's part."""
    links, chip, count = index
    total = np.bincount(chip, weights=util[links], minlength=count.size)
    return total / np.maximum(count, 1)


def tile_load(util: np.ndarray, tile_link: np.ndarray, chip: int, rows: int, cols: int) -> np.ndarray:
    """(rows, cols) mean utilization of the mesh links leaving each tile of one chip."""
    per = rows * cols
    tl = tile_link[chip * per:(chip + 1) * per]
    u = np.where(tl >= 0, util[np.maximum(tl, 0)], 0.0)
    n = np.maximum((tl >= 0).sum(axis=1), 1)
    return (u.sum(axis=1) / n).reshape(rows, cols)


def nearest_segment(geom: LinkGeometry, px: float, py: float, candidates: np.ndarray) -> tuple[int, float]:
    """(link id, distance) of the candidate link segment closest to point (px, py); (-1, inf) if none."""
    if candidates.size == 0:
        return -1, np.inf
    x0, y0 = geom.x0[candidates], geom.y0[candidates]
    dx, dy = geom.x1[candidates] - x0, geom.y1[candidates] - y0
    ll = np.maximum(dx * dx + dy * dy, 1e-24)
    t = np.clip(((px - x0) * dx + (py - y0) * dy) / ll, 0.0, 1.0)
    d = np.hypot(x0 + t * dx - px, y0 + t * dy - py)
    i = int(np.argmin(d))
    return int(candidates[i]), float(d[i])


def format_time(t_s: float) -> str:
    """Simulated time in sensible units: '0 s', '850 ns', '12.4 us', '3.07 ms', '1.25 s'."""
    a = abs(t_s)
    if a == 0:
        return "0 s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if a >= scale:
            return f"{t_s / scale:.3g} {unit}"
    return f"{t_s / 1e-12:.3g} ps"


def format_bytes(n: float) -> str:
    """Bytes with a decimal prefix: '512 B', '64 kB', '1.5 GB'."""
    a = abs(n)
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if a >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def format_rate(bps: float) -> str:
    """Bandwidth in bytes per second: '25 GB/s'."""
    return format_bytes(bps) + "/s"


SHADE_LEVELS = 9


def shade_levels(load: np.ndarray) -> np.ndarray:
    """(CH,) int64 shade 0..SHADE_LEVELS-1 of each chip from its mean mesh load in [0, 1]."""
    return np.minimum((np.asarray(load) * (SHADE_LEVELS - 1)).astype(np.int64), SHADE_LEVELS - 1)


def shade_rgb(level: int) -> tuple[int, int, int]:
    """Fill colour of a chip at shade ``level``: slate when idle, warming towards amber when busy."""
    return (40 + 20 * level, 48 + 10 * level, 64 - 3 * level)


def format_speed(speed: float) -> str:
    """A playback rate in plain numbers: '1/1000x', '1/20x', '0.5x', '1x', '2.5x', '64x', '10,000x'."""
    if not np.isfinite(speed) or speed <= 0:
        return "0x"
    if speed < 0.095:
        return f"1/{1.0 / speed:.0f}x"
    if speed < 10:
        return f"{float(f'{speed:.2g}'):g}x"
    return f"{speed:,.0f}x"


def time_unit(t_max_s: float) -> tuple[float, str]:
    """(scale, unit) for an axis of simulated time up to ``t_max_s``: divide by scale, label with unit."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if t_max_s >= scale:
            return scale, unit
    return 1e-9, "ns"


def bytes_unit(n_max: float) -> tuple[float, str]:
    """(scale, unit) for an axis of bytes up to ``n_max``: 'B', 'kB', 'MB', 'GB', 'TB'."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_max >= scale:
            return scale, unit
    return 1.0, "B"


def count_unit(n_max: float) -> tuple[float, str]:
    """(scale, word) for an axis of counts up to ``n_max``: '', 'thousand', 'million', 'billion'."""
    for word, scale in (("billion", 1e9), ("million", 1e6), ("thousand", 1e3)):
        if n_max >= scale:
            return scale, word
    return 1.0, ""


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 chip', '2 chips', '4,096 chips' (``words``: an irregular plural)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
