"""What the event engine answers about itself: counters, live chunks, per-link figures.

A mixin of ``sim_core.engine.core.Engine``; every array returned is a fresh copy.
"""
from __future__ import annotations

import numpy as np

from sim_core.engine import kernel as K


def _counter(index: int, doc: str):
    return property(lambda self: int(self.si[index]), doc=doc)


class EngineQueries:
    bytes_injected = _counter(K.B_INJ, "bytes released into the fabric (or completed locally) since reset")
    bytes_delivered = _counter(K.B_DEL, "bytes delivered since reset")
    chunks_created = _counter(K.C_MADE, "chunks cut from messages since reset")
    chunks_delivered = _counter(K.C_DEL, "chunks delivered since reset")
    chunks_delivered_step = _counter(K.C_DEL_STEP, "chunks delivered during the last step")
    messages_done = _counter(K.M_DONE, "messages and compute tasks completed since reset")
    messages_refused = _counter(K.M_REF, "synthetic messages refused at a full injection queue")
    bytes_refused = _counter(K.B_REF, "bytes of refused messages")
    events_total = _counter(K.EVENTS, "events processed since reset")
    trains_total = _counter(K.TRAINS, "messages computed whole at their release (``sim_core.engine.trains``)")

    # ------------------------------------------------------------------ live chunks, (C,) arrays
    def _live(self) -> np.ndarray:
        return np.flatnonzero(self.p_nxt != -2)

    @property
    def c_msg(self):
        return self.p_msg[self._live()]

    @property
    def c_buf(self):
        return self.p_buf[self._live()]

    @property
    def c_nxt(self):
        return self.p_nxt[self._live()]

    @property
    def c_ready(self):
        return self.p_ready[self._live()]

    @property
    def c_start(self):
        return self.p_start[self._live()]

    @property
    def c_size(self):
        return self.p_size[self._live()]

    # ------------------------------------------------------------------ figures
    @property
    def link_busy_total_s(self) -> np.ndarray:
        """(L,) float64, seconds each link spent serializing since reset (up to now)."""
        return self.busy_s - np.maximum(self.link_free - self.now_s, 0.0)

    @property
    def bytes_in_flight(self) -> int:
        """Bytes released into the fabric and not yet delivered."""
        return int(self.p_size[self.p_nxt != -2].sum()) if self.si[K.C_LIVE] else 0

    def queued_chunks(self) -> int:
        """Chunks that have arrived somewhere and wait to start on a link."""
        return int(K.waiting_chunks(self.p_nxt, self.p_ready, self.now_s)) if self.si[K.C_LIVE] else 0

    def quiet_until_s(self) -> float:
        """Until when nothing moves: ``now_s`` while chunks are live or work was added since
        the last advance, else the earliest pending event (a release, a compute task's end;
        inf when nothing is pending). A view may jump there: nothing is drawn moving before."""
        if self.si[K.C_LIVE] or self._new:
            return float(self.now_s)
        return max(self.next_event_s, float(self.now_s))

    @property
    def compute_running(self) -> int:
        """Compute tasks running at ``now_s``."""
        return int(np.count_nonzero(self.run_end > self.now_s)) if self.run_ids.size else 0

    def link_utilization(self, dt_s: float | None = None) -> np.ndarray:
        """(L,) float64, share of the last step each link spent serializing, in [0, 1]."""
        dt = dt_s or self.metrics.last_dt() or 1.0
        return np.clip(self.busy_step / dt, 0.0, 1.0)

    def link_queue(self) -> np.ndarray:
        """(L,) int64, chunks that have arrived somewhere and wait to start on each link."""
        live = self._live()
        nxt, ready = self.p_nxt[live], self.p_ready[live]
        waiting = (nxt >= 0) & (ready <= self.now_s)
        return np.bincount(nxt[waiting], minlength=self.L)

    def node_busy_fraction(self, dt_s: float | None = None) -> np.ndarray:
        """(N,) float64, share of the last step each node spent computing."""
        dt = dt_s or self.metrics.last_dt() or 1.0
        return np.clip(self.node_busy_step / dt, 0.0, 1.0)

    def chunk_positions(self, t_s: float | None = None):
        """Where every live chunk is at time ``t_s`` (default now), for drawing.

        Returns (x, y, moving, msg) arrays of shape (C,): chunks on a link are
        interpolated along it by the share of its flight done; waiting chunks sit at the
        node they wait in. ``moving`` is True for chunks on a wire.
        """
        t = self.now_s if t_s is None else t_s
        f = self.f
        live = self._live()
        buf, start, ready = self.p_buf[live], self.p_start[live], self.p_ready[live]
        on_link = buf < self.L
        link = np.clip(np.where(on_link, buf, buf - self.L), 0, self.L - 1)
        a, z = f.link_src[link], f.link_dst[link]
        frac = np.clip((t - start) / np.maximum(ready - start, 1e-300), 0.0, 1.0)
        frac = np.where(on_link, frac, 0.0)
        x = f.node_x[a] + (f.node_x[z] - f.node_x[a]) * frac
        y = f.node_y[a] + (f.node_y[z] - f.node_y[a]) * frac
        return x, y, on_link & (frac < 1.0), self.p_msg[live]

    def chunk_state(self):
        """Every live chunk as a ``view.ChunkState`` (copies; see ``sim_core.engine.view``)."""
        from sim_core.engine.view import ChunkState
        live = self._live()
        buf = self.p_buf[live]
        on_link = buf < self.L
        msg = self.p_msg[live]
        return ChunkState(link=np.where(on_link, buf, buf - self.L), on_link=on_link, next_link=self.p_nxt[live],
                          start_s=self.p_start[live], ready_s=self.p_ready[live], queue_pos=self.p_seq[live],
                          msg=msg, tag=self.m_tag[msg])
