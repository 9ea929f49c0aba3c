"""What views may ask an engine: read-only, plain arrays, no engine internals.

The app draws, plots and inspects through these functions only, so the engine is free to
store its state however its time-advance policy needs. Every array is a fresh copy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChunkState:
    """Every live chunk (C of them; delivered chunks are gone), arrays of shape (C,).

    link : int64, the link the chunk is on, or has crossed and waits after (``on_link``), or
        whose injection queue it waits in (not ``on_link``)
    on_link : bool, True once the chunk started on ``link``
    next_link : int64, the link it takes next (-1: it has reached its destination)
    start_s, ready_s : float64, when it started on ``link`` and when it is wholly across
        (for a chunk in an injection queue: its release time, twice)
    queue_pos : int64, its place in the buffer it sits in (smaller leaves first)
    msg, tag : int64, its message and that message's tag (the colour class)
    """

    link: np.ndarray
    on_link: np.ndarray
    next_link: np.ndarray
    start_s: np.ndarray
    ready_s: np.ndarray
    queue_pos: np.ndarray
    msg: np.ndarray
    tag: np.ndarray

    def __len__(self) -> int:
        return int(self.link.size)


@dataclass(frozen=True)
class MessageInfo:
    """Retained messages (or compute tasks), arrays of shape (n,): src, dst node ids (int64),
    size_bytes (int64), tag (int64), is_compute (bool), release_s and finish_s (float64,
    nan while unknown)."""

    src: np.ndarray
    dst: np.ndarray
    size_bytes: np.ndarray
    tag: np.ndarray
    is_compute: np.ndarray
    release_s: np.ndarray
    finish_s: np.ndarray


class UtilizationMeter:
    """Mean utilization of every link between two samples (what a heatmap shows).

    On-chip links are 10-100x faster than the off-chip port, so a chunk crosses them in a
    sliver of one step: the last step's utilization is mostly zero. The busy time
    accumulated since the previous sample is what the links actually did.
    """

    def __init__(self):
        self._prev: tuple[np.ndarray, float] | None = None

    def reset(self) -> None:
        self._prev = None

    def sample(self, engine) -> np.ndarray:
        """(L,) float64 in [0, 1]: busy share since the last sample (the last step's on the first)."""
        busy, now = engine.link_busy_total_s, engine.now_s
        prev, self._prev = self._prev, (busy.copy(), now)
        if prev is None or prev[0].shape != busy.shape or now <= prev[1]:
            return engine.link_utilization()
        return np.clip((busy - prev[0]) / (now - prev[1]), 0.0, 1.0)


def link_average_utilization(engine) -> np.ndarray:
    """(L,) float64: share of the time since reset each link spent serializing."""
    if engine.now_s <= 0:
        return np.zeros(engine.L)
    return np.clip(engine.link_busy_total_s / engine.now_s, 0.0, 1.0)


PLAYBACK_CROSSING_WALL_S = 0.2
"""At 1x a chunk crosses the slowest off-chip link in this much wall time (``playback_rate_s``)."""


def playback_rate_s(fabric, chunk_bytes: int) -> float:
    """Simulated seconds per wall second at 1x: a chunk of ``chunk_bytes`` crosses the
    fabric's slowest off-chip link (serialization plus latency; any link on a lone mesh) in
    ``PLAYBACK_CROSSING_WALL_S`` of wall time, so the slowest hop is just visible."""
    off = fabric.link_kind != 0
    bw = fabric.link_bandwidth_Bps[off] if off.any() else fabric.link_bandwidth_Bps
    lat = fabric.link_latency_s[off] if off.any() else fabric.link_latency_s
    return float(np.max(chunk_bytes / bw + lat)) / PLAYBACK_CROSSING_WALL_S
