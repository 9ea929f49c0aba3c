"""Synthetic traffic: Bernoulli packet injection with the classic NoC patterns.

Each node of the tile grid injects a packet in each cycle with probability
``rate / packet_flits`` (so ``rate`` is flits per node per cycle). The random numbers
for a whole step come from one call to the engine's generator with shape
(cycles, nodes, 3), so the stream, and the traffic, do not depend on how cycles are
grouped into steps.
"""
from __future__ import annotations

import math

import numpy as np

PATTERNS = {
    "uniform": "every packet to a node chosen uniformly among the others",
    "transpose": "node (r, c) sends to (c, r); diagonal nodes stay silent",
    "bit-complement": "node (r, c) sends to (R-1-r, C-1-c)",
    "tornado": "half-way round each dimension: (r + ceil(R/2) - 1, c + ceil(C/2) - 1) mod size",
    "neighbor": "node (r, c) sends to its right-hand neighbour (r, c+1 mod C)",
    "hotspot": "a share of packets (hotspot_fraction) go to the centre node, the rest uniform",
}


def pattern_destinations(pattern: str, rows: int, cols: int, hotspot: int | None = None) -> np.ndarray | None:
    """(N,) int64 fixed destination per source for deterministic patterns, None for random ones."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    if pattern == "transpose":
        return (c % rows) * cols + (r % cols)
    if pattern == "bit-complement":
        return (rows - 1 - r) * cols + (cols - 1 - c)
    if pattern == "tornado":
        return ((r + math.ceil(rows / 2) - 1) % rows) * cols + (c + math.ceil(cols / 2) - 1) % cols
    if pattern == "neighbor":
        return r * cols + (c + 1) % cols
    if pattern in ("uniform", "hotspot"):
        return None
    raise ValueError(f"traffic pattern {pattern!r}: allowed: {', '.join(PATTERNS)}")


_BLOCK_DRAWS = 1 << 18  # (cycle, node) draws a block: 3 doubles each


class SyntheticTraffic:
    """A traffic generator for ``Engine.attach_traffic`` over the tiles of one chip.

    Parameters
    ----------
    rate : float, flits per node per cycle, in [0, 1]
    packet_flits, flit_bytes : packet length
    cycle_s : clock period; packets are created on cycle boundaries
    """

    def __init__(self, fabric, pattern: str = "uniform", rate: float = 0.1, *, packet_flits: int = 1,
                 flit_bytes: int = 16, cycle_s: float = 2.0 ** -30, chip: int = 0,
                 hotspot_fraction: float = 0.2, tag: int = 1):
        if not (0.0 <= rate <= 1.0) or not math.isfinite(rate):
            raise ValueError(f"rate {rate}: allowed 0 to 1 flits per node per cycle")
        if packet_flits < 1:
            raise ValueError("packet_flits must be >= 1")
        self.pattern = pattern
        self.rate = float(rate)
        self.packet_flits = int(packet_flits)
        self.flit_bytes = int(flit_bytes)
        self.cycle_s = float(cycle_s)
        self.hotspot_fraction = float(hotspot_fraction)
        self.tag = tag
        R, C = fabric.tile_rows, fabric.tile_cols
        self.N = R * C
        self.base = chip * self.N
        self.hot = (R // 2) * C + C // 2
        self.fixed = pattern_destinations(pattern, R, C)
        self.generated_flits = 0

    def __call__(self, eng, t0: float, t1: float) -> None:
        c0 = math.ceil(t0 / self.cycle_s - 1e-9)
        c1 = math.ceil(t1 / self.cycle_s - 1e-9)
        if c1 <= c0 or self.N < 2 or self.rate == 0:
            return
        # blocks of cycles keep the random numbers to ~6 MB a call (a 64x64 mesh drew 2.6 GB
        # for one frame at 10,000x); the stream fills them in order, so the packets are the same
        block = max(1, _BLOCK_DRAWS // self.N)
        parts = [self._block(eng, c, min(c + block, c1)) for c in range(c0, c1, block)]
        cyc = np.concatenate([p[0] for p in parts])
        if cyc.size == 0:
            return
        src, dst = (np.concatenate([p[i] for p in parts]) for i in (1, 2))
        self.generated_flits += src.size * self.packet_flits
        eng.add_messages(self.base + src, self.base + dst, self.packet_flits * self.flit_bytes,
                         at_s=cyc * self.cycle_s, tag=self.tag, retain=False)

    def _block(self, eng, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The packets created in cycles [c0, c1): (cycle, source, destination), (n,) int64
        each, cycle-major."""
        u = eng.rng.random((c1 - c0, self.N, 3))
        inject = u[:, :, 0] < self.rate / self.packet_flits
        cyc, src = np.nonzero(inject)
        if self.fixed is not None:
            dst = self.fixed[src]
        else:
            dst = np.floor(u[cyc, src, 1] * (self.N - 1)).astype(np.int64)
            dst += dst >= src
            if self.pattern == "hotspot":
                hot = (u[cyc, src, 2] < self.hotspot_fraction) & (src != self.hot)
                dst = np.where(hot, self.hot, dst)
        keep = dst != src
        return c0 + cyc[keep], src[keep], dst[keep]
