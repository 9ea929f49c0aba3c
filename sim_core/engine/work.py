"""Compute tasks and mixed batches of work, on top of ``add_messages`` (both policies).

A mixin: the engine class provides ``add_messages`` and the ``m_kind`` / ``m_duration``
arrays; these methods add compute tasks alone or interleaved with messages in one call
(a collective's sends and reductions, laid out as arrays by
``sim_core.workloads.collectives.layout``).
"""
from __future__ import annotations

import numpy as np

KIND_COMPUTE = 1


class WorkAdding:
    def add_compute(self, node, duration_s, *, at_s=None, tag=0) -> np.ndarray:
        """Compute tasks: ``node[i]`` is busy for ``duration_s[i]`` once released."""
        node = np.atleast_1d(np.asarray(node, dtype=np.int64))
        return self.add_work(node, node, 0, duration_s=duration_s, is_compute=True, at_s=at_s, tag=tag)

    def add_work(self, src, dst, size_bytes, *, duration_s, is_compute, at_s=None, delay_s=0.0, tag=0) -> np.ndarray:
        """Messages and compute tasks in one call; ids ((n,) int64) in the order given.

        Entry ``i`` is a compute task of ``duration_s[i]`` seconds on node ``src[i]`` where
        ``is_compute[i]`` (its ``dst`` and ``size_bytes`` are ignored), else a message
        ``src[i] -> dst[i]`` of ``size_bytes[i]``. ``at_s``, ``delay_s``: as ``add_messages``.
        """
        src = np.atleast_1d(np.asarray(src, dtype=np.int64))
        comp = np.broadcast_to(np.asarray(is_compute, dtype=bool), src.shape)
        dur = np.broadcast_to(np.asarray(duration_s, dtype=np.float64), src.shape)
        if not np.all(np.isfinite(dur[comp])) or (dur[comp] < 0).any():
            raise ValueError("compute durations must be finite and >= 0 s")
        dst = np.where(comp, src, np.broadcast_to(np.asarray(dst, dtype=np.int64), src.shape))
        size = np.where(comp, 0.0, np.broadcast_to(np.asarray(size_bytes, dtype=np.float64), src.shape))
        ids = self.add_messages(src, dst, size, at_s=at_s, delay_s=delay_s, tag=tag)
        self.m_kind[ids[comp]] = KIND_COMPUTE
        self.m_duration[ids[comp]] = dur[comp]
        return ids
