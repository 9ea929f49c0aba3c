"""Per-step metrics, declared once and recorded into preallocated ring arrays.

Plots and CSV export read the same numbers (Mesa's DataCollector idea).
"""
from __future__ import annotations

import numpy as np

from sim_core.spec.schema import LINK_KINDS

SERIES = {
    "time_s": "simulated time at the end of the step (s)",
    "dt_s": "length of the step (s)",
    "bytes_in_flight": "bytes released and not yet delivered (B)",
    "bytes_delivered": "bytes delivered since reset (B)",
    "chunks_delivered": "chunks delivered during the step",
    "messages_done": "messages completed since reset",
    "queued_chunks": "chunks waiting for a link at the end of the step",
}


class Metrics:
    """Ring buffer of the last ``capacity`` steps.

    Scalars: one (capacity,) float64 array per name in ``SERIES``. Per link kind:
    ``util_mean`` and ``util_max``, (capacity, K) float64, the mean and the busiest
    utilization of the links of each kind in ``LINK_KINDS`` during the step.
    """

    def __init__(self, capacity: int, eng):
        self.cap = max(2, int(capacity))
        self.kind = eng.f.link_kind.astype(np.int64)
        self.K = len(LINK_KINDS)
        self.kind_count = np.bincount(self.kind, minlength=self.K)
        self.data = {name: np.zeros(self.cap) for name in SERIES}
        self.util_mean = np.zeros((self.cap, self.K))
        self.util_max = np.zeros((self.cap, self.K))
        self.n = 0

    def clear(self) -> None:
        self.n = 0

    def record(self, eng, dt_s: float) -> None:
        """One step from every link's busy time (O(links): the rounds policy's recording)."""
        util = np.clip(eng.busy_step / dt_s, 0.0, 1.0)
        mean = np.bincount(self.kind, weights=util, minlength=self.K) / np.maximum(self.kind_count, 1)
        mx = np.zeros(self.K)
        np.maximum.at(mx, self.kind, util)
        queued = int(((eng.c_nxt >= 0) & (eng.c_ready <= eng.now_s)).sum())
        self._write(eng, dt_s, mean, mx, queued, eng.bytes_in_flight)

    def record_kinds(self, eng, dt_s: float, links: np.ndarray, busy_s: np.ndarray) -> None:
        """One step from the links that were busy in it only (O(those links + link kinds)).

        ``links`` (n,) int64 and ``busy_s`` (n,) float64: every link with nonzero busy time
        in the step and its busy seconds; all other links were idle (utilization 0).
        """
        util = np.clip(busy_s / dt_s, 0.0, 1.0)
        kind = self.kind[links]
        mean = np.bincount(kind, weights=util, minlength=self.K) / np.maximum(self.kind_count, 1)
        mx = np.zeros(self.K)
        np.maximum.at(mx, kind, util)
        self._write(eng, dt_s, mean, mx, eng.queued_chunks(), eng.bytes_injected - eng.bytes_delivered)

    def _write(self, eng, dt_s, util_mean, util_max, queued, in_flight) -> None:
        i = self.n % self.cap
        d = self.data
        d["time_s"][i] = eng.now_s
        d["dt_s"][i] = dt_s
        d["bytes_in_flight"][i] = in_flight
        d["bytes_delivered"][i] = eng.bytes_delivered
        d["chunks_delivered"][i] = eng.chunks_delivered_step
        d["messages_done"][i] = eng.messages_done
        d["queued_chunks"][i] = queued
        self.util_mean[i] = util_mean
        self.util_max[i] = util_max
        self.n += 1

    def __len__(self) -> int:
        return min(self.n, self.cap)

    def _order(self) -> np.ndarray:
        n = len(self)
        return (np.arange(self.n - n, self.n)) % self.cap

    def series(self, name: str) -> np.ndarray:
        """Oldest-first copy of one recorded series."""
        if name == "util_mean":
            return self.util_mean[self._order()]
        if name == "util_max":
            return self.util_max[self._order()]
        return self.data[name][self._order()]

    def last_dt(self) -> float:
        return float(self.data["dt_s"][(self.n - 1) % self.cap]) if self.n else 0.0

    def to_csv(self) -> str:
        """All recorded series as CSV text (header + one row per step)."""
        cols = list(SERIES)
        header = cols + [f"util_mean_{k}" for k in LINK_KINDS] + [f"util_max_{k}" for k in LINK_KINDS]
        table = np.column_stack([self.series(c) for c in cols] + [self.series("util_mean"), self.series("util_max")])
        lines = [",".join(header)] + [",".join(f"{v:.9g}" for v in row) for row in table]
        return "\n".join(lines) + "\n"

    def snapshot(self) -> dict:
        return {"n": self.n}

    def restore(self, snap: dict) -> None:
        self.n = snap["n"]
