"""The bounded record of completed messages, shared by both time-advance policies."""
from __future__ import annotations

import numpy as np


class CompletionLog:
    """Completed messages (src, dst, size, created, release, finish, tag, kind), bounded ring.

    Each field is an array of up to ``capacity`` records, grown by doubling as records come
    (an engine that completes a few hundred messages allocates for a few hundred, not for
    the whole ring); ``since(counter)`` returns the records appended after that counter
    (those still in the ring), oldest first.
    """

    FIELDS = ("src", "dst", "size", "created", "release", "finish", "tag", "kind")
    DTYPES = (np.int64, np.int64, np.int64, np.float64, np.float64, np.float64, np.int64, np.int8)
    FIRST = 1024

    def __init__(self, capacity: int = 1 << 18):
        self.cap = capacity
        self.total = 0
        self._alloc(min(capacity, self.FIRST))
        self._last = 0.0

    def _alloc(self, n: int) -> None:
        # only while the ring has not wrapped (total <= allocated < cap): records sit at 0..total
        for name, dtype in zip(self.FIELDS, self.DTYPES):
            old = getattr(self, name, None)
            new = np.zeros(n, dtype=dtype)
            if old is not None:
                new[:self.total] = old[:self.total]
            setattr(self, name, new)

    def append(self, eng, ids: np.ndarray) -> None:
        n = ids.size
        if n == 0:
            return
        have = self.src.size
        if have < self.cap and self.total + n > have:
            self._alloc(min(self.cap, max(2 * have, self.total + n)))
        pos = (self.total + np.arange(n)) % self.cap
        self.src[pos] = eng.m_src[ids]
        self.dst[pos] = eng.m_dst[ids]
        self.size[pos] = eng.m_size[ids]
        self.created[pos] = eng.m_created[ids]
        self.release[pos] = eng.m_release[ids]
        self.finish[pos] = eng.m_finish[ids]
        self.tag[pos] = eng.m_tag[ids]
        self.kind[pos] = eng.m_kind[ids]
        self._last = max(self._last, float(eng.m_finish[ids].max()))
        self.total += n

    def since(self, start: int) -> dict:
        """Records appended since counter ``start`` (those still in the ring)."""
        start = max(start, self.total - self.cap)
        pos = np.arange(start, self.total) % self.cap
        return {name: getattr(self, name)[pos] for name in self.FIELDS}

    def last_finish(self) -> float:
        return self._last

    def snapshot(self) -> dict:
        # Only the counters: entries past ``total`` are rewritten identically on replay.
        return {"total": self.total, "last": self._last}

    def restore(self, snap: dict) -> None:
        self.total, self._last = snap["total"], snap["last"]
