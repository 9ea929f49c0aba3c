"""Recorded work, added again: a repeating workload's next round without re-planning it.

Planning a collective over thousands of chips (its programs, its layout) takes seconds of
Python; adding the same arrays again takes a fraction of that. ``Engine.record_work``
captures what a round added (messages and compute tasks in the order their ids were
taken, their release offsets from the time of recording, and the dependencies between
them); ``Engine.replay_work`` adds it again at the current time. Ids are taken the way
the recorded adds took them, so a replayed round is the round planned afresh, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim_core.engine.edge_sort import sort_edges_by_source
from sim_core.engine.work import KIND_COMPUTE


@dataclass(frozen=True)
class RoundTemplate:
    """Work in the order its ids were taken ((n,) arrays; nodes and positions int32 where
    they fit): ``src``, ``dst``, ``size`` (bytes, int64), ``at_rel`` (release offset from
    the recording's start, s), ``delay`` (s), ``tag``, ``compute`` (bool) and
    ``duration`` (s); dependencies ``before`` -> ``after`` as (k,) positions, sorted by
    source, and ``deps`` (n,) how many each waits for; ``out`` (m,) the positions of the
    ids the recorded code returned, in its order."""

    src: np.ndarray
    dst: np.ndarray
    size: np.ndarray
    at_rel: np.ndarray
    delay: np.ndarray
    tag: np.ndarray
    compute: np.ndarray
    duration: np.ndarray
    before: np.ndarray
    after: np.ndarray
    deps: np.ndarray
    out: np.ndarray

    @property
    def messages(self) -> int:
        return int(self.src.size)


class Recording:
    """What ``Engine.record_work`` returns; collects ids and edges while active."""

    def __init__(self, eng):
        self.eng = eng
        self.ids: list[np.ndarray] = []
        self.edges: list[tuple] = []
        self.t0 = eng.now_s

    def __enter__(self):
        if getattr(self.eng, "_recording", None) is not None:
            raise RuntimeError("already recording")
        self.eng._recording = self
        return self

    def __exit__(self, *exc):
        self.eng._recording = None
        return False

    def template(self, returned) -> RoundTemplate | None:
        """The template of the recorded work, with ``returned`` (ids the recorded code
        returned) as its output order; None when the work cannot be replayed alone (a
        dependency on earlier work, a message not retained, ids returned it did not add)."""
        if self.edges is None:
            raise RuntimeError("a recording's template is taken once (its edges are handed on with it)")
        e = self.eng
        ids = np.concatenate(self.ids) if self.ids else np.zeros(0, dtype=np.int64)
        small = np.int32 if ids.size < 2 ** 31 and e.f.n_nodes < 2 ** 31 else np.int64  # tens of M edges: halve them
        pos = np.full(e.m_cap, -1, dtype=small)  # gathers through it come out small: no int64 copies
        pos[ids] = np.arange(ids.size, dtype=small)
        returned = np.asarray(returned, dtype=np.int64)
        if any(d for _, _, d in self.edges) or not e.m_retain[ids].all() or (pos[returned] < 0).any():
            return None
        empty = np.zeros(0, dtype=small)

        def gathered(k):
            parts = [pos[edge[k]] for edge in self.edges]
            return parts[0] if len(parts) == 1 else (np.concatenate(parts) if parts else empty)
        before, after = gathered(0), gathered(1)
        self.edges = None  # the engine may hold these very arrays: let them go with its copy
        if (before < 0).any() or (after < 0).any():
            return None
        # edges by source position (stable: a source's dependents keep their order), so a
        # replay whose ids ascend with position hands the engine edges already sorted by id
        if before.size > 1 and not bool((before[1:] >= before[:-1]).all()):
            before, after = sort_edges_by_source(before, after, ids.size)
        kind = e.m_kind[ids]
        tpl = RoundTemplate(src=e.m_src[ids].astype(small), dst=e.m_dst[ids].astype(small), size=e.m_size[ids].copy(),
                             at_rel=e.m_created[ids] - self.t0, delay=e.m_delay[ids].copy(), tag=e.m_tag[ids].copy(),
                             compute=kind == KIND_COMPUTE, duration=e.m_duration[ids].copy(),
                             before=before, after=after,
                             deps=np.bincount(after, minlength=ids.size).astype(small), out=pos[returned].astype(np.int64))
        e._note_rearmable(tpl, ids)  # the next round may reuse these very messages
        e._rearm_out = None  # the caller's returned ids are compared by value
        return tpl
