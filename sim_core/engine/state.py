"""The event engine's struct-of-arrays state: allocation, growth, snapshots, per-step accounting.

Arrays (L links, NB = 2L buffers: ``b < L`` the receive buffer at the far end of link
``b``, ``L + l`` the injection queue of link ``l``; Cc chunk slots in the pool; Mc message
slots)
-------------------------------------------------------------------------------------
link_free (L,) f8 end of the last start; rr_last (L,) i8 buffer served last; slot_free
(S,) f8 when each receive-buffer slot frees (inf while held); slot_next (L,) i8 next slot
of each link; busy_s (L,) f8 serializing seconds committed; link_bytes_total (L,) i8;
b_first, b_last (NB,) i8 the chunks at each buffer's head and tail (-1: empty); b_head,
b_tail (NB,) i8 departures and arrivals counted; b_since (NB,) f8 when the head may leave;
w_link, w_next, w_prev (NB,) i8 and w_first (L,) i8: per link, the list of buffers whose
head chunk takes it next (what its arbitration scans);
p_msg, p_dst, p_buf, p_seq, p_nxt, p_start, p_ready, p_size, p_slot, p_after, p_tail (Cc,):
the chunk pool (``p_nxt == -2``: a free slot; ``p_after``: the next chunk in its buffer;
``p_ready``: when it may leave where it is, ``p_tail``: when its last byte got there);
ih_heap, ih_pos, ih_t (2L,): the indexed heap of fabric events (``ih_t`` by heap position);
mh_t, mh_k (Mc,): the heap of message events; si (N_SI,) i8 counters (see ``kernel``); sf (2,) f8.
"""
from __future__ import annotations

import numpy as np

from sim_core.engine import kernel as K
from sim_core.engine.log import CompletionLog
from sim_core.engine.trains import NO_TRAINS
from sim_core.spec.schema import LINK_KINDS

INF = np.inf
_OUT = 1 << 16
STORE_AND_FORWARD = 1 << 62  # the forwarding unit when there is none: no chunk is larger
EDGE_DTYPE = np.int32
"""Message ids in the dependency store (``e_from``, ``e_to`` and the CSR's targets): a pod's
round has tens of millions of edges, and 2**31 messages would take hundreds of GB anyway
(``_grow_messages`` refuses more)."""
_M_FIELDS = ("m_src", "m_dst", "m_size", "m_kind", "m_state", "m_tag", "m_retain", "m_deps", "m_left",
             "m_delay", "m_duration", "m_ready", "m_created", "m_release", "m_finish", "mh_t", "mh_k")
_M_DTYPES = dict(m_src=np.int64, m_dst=np.int64, m_size=np.int64, m_kind=np.int8, m_state=np.int8,
                 m_tag=np.int64, m_retain=bool, m_deps=np.int64, m_left=np.int64, m_delay=float,
                 m_duration=float, m_ready=float, m_created=float, m_release=float, m_finish=float,
                 mh_t=float, mh_k=np.int64)
_P_FIELDS = ("p_msg", "p_dst", "p_buf", "p_seq", "p_nxt", "p_start", "p_ready", "p_size", "p_slot", "p_after", "p_tail",
             "p_free")
_DYN = ("link_free", "rr_last", "slot_free", "slot_next", "busy_s", "link_bytes_total", "pick", "touched", "tflag",
        "tbase", "busy_step", "b_first", "b_last", "b_head", "b_tail", "b_since", "w_link", "w_next", "w_prev",
        "w_first", "ih_heap", "ih_pos", "ih_t",
        "si", "sf", "node_busy_step", "busy_nodes", "run_ids", "run_end", "carry", "e_from", "e_to", "m_free")
_SCALARS = ("now_s", "step_count", "m_cap", "m_count", "_gen_until", "_gen_span_s")


def _fill(name):
    return np.nan if name in ("m_release", "m_finish") else (True if name == "m_retain" else 0)


class EngineState:
    """Mixin of ``Engine``: the arrays the compiled loop works on."""

    def _build_topology(self) -> None:
        f, L = self.f, self.L
        self.bw = f.link_bandwidth_Bps.astype(np.float64)
        self.lat = f.link_latency_s.astype(np.float64)
        self.link_dst = f.link_dst.astype(np.int64)
        self.link_src = f.link_src.astype(np.int64)
        ser = self.chunk_bytes / self.bw
        bdp = np.ceil(self.lat / ser).astype(np.int64) + 2
        slots = np.maximum(self.buffer_chunks, np.minimum(bdp, 4096))
        slots = np.where(f.link_ring >= 0, np.maximum(slots, 3), slots)
        self.slots = slots.astype(np.int64)
        self.slot_base = np.concatenate([[0], np.cumsum(self.slots)[:-1]]).astype(np.int64)
        ring = np.concatenate([f.link_ring, np.full(L, -1)]).astype(np.int64)
        order = np.argsort(self.link_dst, kind="stable")
        in_ptr = np.searchsorted(self.link_dst[order], np.arange(f.n_nodes + 1)).astype(np.int64)
        self._T = (self.link_src, self.link_dst, self.bw, self.lat, ring, self.slots, self.slot_base,
                   in_ptr, order.astype(np.int64))
        self.link_kind = f.link_kind.astype(np.int64)
        self.kind_count = np.bincount(self.link_kind, minlength=len(LINK_KINDS))

    def reset(self) -> None:
        """Back to time zero with an empty fabric; traffic generators stay attached."""
        L, NB = self.L, 2 * self.L
        self.now_s = 0.0
        self.step_count = 0
        self._gen_until = 0.0
        self._gen_span_s = 0.0  # a bounded advance's traffic slice (core._generate); 0: not yet sized
        self.rng = np.random.default_rng(self.seed)
        self.link_free, self.busy_s, self.tbase, self.busy_step = (np.zeros(L) for _ in range(4))
        self.rr_last, self.pick, self.link_bytes_total, self.touched = (np.zeros(L, dtype=np.int64) for _ in range(4))
        self.tflag = np.zeros(L, dtype=bool)
        self.slot_free = np.zeros(int(self.slots.sum()))
        self.slot_next = self.slot_base.copy()
        self.b_first, self.b_last = np.full(NB, -1, dtype=np.int64), np.full(NB, -1, dtype=np.int64)
        self.b_head, self.b_tail = np.zeros(NB, dtype=np.int64), np.zeros(NB, dtype=np.int64)
        self.b_since = np.zeros(NB)
        # want lists: per link, the buffers whose head chunk takes it next (kernel._want)
        self.w_link, self.w_next, self.w_prev = (np.full(NB, -1, dtype=np.int64) for _ in range(3))
        self.w_first = np.full(L, -1, dtype=np.int64)
        self.ih_heap, self.ih_pos = np.zeros(NB, dtype=np.int64), np.full(NB, -1, dtype=np.int64)
        self.ih_t = np.full(NB, INF)
        self.si = np.zeros(K.N_SI, dtype=np.int64)
        self.sf = np.zeros(2)
        self.node_busy_step = np.zeros(self.f.n_nodes)
        self.busy_nodes = np.zeros(0, dtype=np.int64)
        self.run_ids, self.run_end = np.zeros(0, dtype=np.int64), np.zeros(0)
        self.carry = np.zeros(0, dtype=np.int64)
        self.out_done, self.out_started, self.out_refused = (np.zeros(_OUT, dtype=np.int64) for _ in range(3))
        self._alloc_chunks(0)
        self._alloc_messages(1024)
        self.e_from, self.e_to = np.zeros(0, dtype=EDGE_DTYPE), np.zeros(0, dtype=EDGE_DTYPE)
        self._edges = []
        self._csr = None
        self._edge_gen = getattr(self, "_edge_gen", 0) + 1  # bumped whenever the edge set changes
        self._rearmable = None
        self._new = []
        self._stop_on_motion = False
        self._trains = None  # messages computed as trains in this run_until_idle (sim_core.engine.trains)
        self.log = CompletionLog()
        self.metrics.clear()

    # ------------------------------------------------------------------ pools
    def _alloc_chunks(self, cap: int) -> None:
        self.p_msg, self.p_dst, self.p_buf, self.p_seq, self.p_slot, self.p_after = (
            np.full(cap, -1, dtype=np.int64) for _ in range(6))
        self.p_nxt = np.full(cap, -2, dtype=np.int64)
        self.p_size = np.zeros(cap, dtype=np.int64)
        self.p_start, self.p_ready, self.p_tail = np.zeros(cap), np.zeros(cap), np.zeros(cap)
        self.p_free = np.arange(cap - 1, -1, -1, dtype=np.int64)
        self.si[K.C_NFREE] = cap

    def _grow_chunks(self, need: int) -> None:
        old = len(self.p_msg)
        new = max(2 * old, old + int(need), 4096)
        for name in _P_FIELDS[:-1]:
            a = getattr(self, name)
            fill = -2 if name == "p_nxt" else (0 if a.dtype == np.float64 or name == "p_size" else -1)
            b = np.full(new, fill, dtype=a.dtype)
            b[:old] = a
            setattr(self, name, b)
        nfree = int(self.si[K.C_NFREE])
        free = np.empty(new, dtype=np.int64)
        free[:new - old] = np.arange(new - 1, old - 1, -1)
        free[new - old:new - old + nfree] = self.p_free[:nfree]
        self.p_free = free
        self.si[K.C_NFREE] = nfree + new - old

    def _alloc_messages(self, cap: int) -> None:
        self.m_cap, self.m_count = cap, 0
        self.m_free = np.zeros(0, dtype=np.int64)
        for name in _M_FIELDS:
            setattr(self, name, np.full(cap, _fill(name), dtype=_M_DTYPES[name]))

    def _grow_messages(self, need: int) -> None:
        new_cap = max(self.m_cap * 2, self.m_count + need)
        if new_cap >= np.iinfo(EDGE_DTYPE).max:
            raise MemoryError(f"{new_cap:,} messages at once: more than the engine's ids hold")
        for name in _M_FIELDS:
            old = getattr(self, name)
            arr = np.full(new_cap, _fill(name), dtype=old.dtype)
            arr[:self.m_cap] = old
            setattr(self, name, arr)
        self.m_cap = new_cap
        self._csr = None

    # ------------------------------------------------------------------ dependencies
    def _prune_edges(self) -> None:
        """Drop dependency edges whose source has completed: they have done their work."""
        self._merge_edges()
        if self.e_from.size == 0:
            return
        live = (self.m_state[self.e_from] != K.DONE) & (self.m_state[self.e_from] != K.FREE)
        if not live.all():
            self.e_from, self.e_to = self.e_from[live], self.e_to[live]
            self._csr = None
            self._edge_gen += 1

    def _merge_edges(self) -> None:
        if self._edges:
            if self.e_from.size == 0 and len(self._edges) == 1:  # one batch: keep it, no copy
                self.e_from, self.e_to = (np.asarray(a, dtype=EDGE_DTYPE) for a in self._edges[0])
            else:
                self.e_from = np.concatenate([self.e_from] + [e[0] for e in self._edges], dtype=EDGE_DTYPE)
                self.e_to = np.concatenate([self.e_to] + [e[1] for e in self._edges], dtype=EDGE_DTYPE)
            self._edges = []
            self._csr = None
            self._edge_gen += 1

    def _adopt_edges(self, before: np.ndarray, after: np.ndarray, ids: np.ndarray, stored: bool = False) -> bool:
        """If the store holds exactly ``before.size`` edges, they are the recorded ones:
        take them as ``ids[before] -> ids[after]`` (sorted by source when ``before`` is and
        ``ids`` ascend), which spares the CSR its sort (three copies of tens of millions of
        edges at once). ``stored``: they were just stored in that form (a replay), so keep
        them. Returns whether the store holds them now."""
        pending = self.e_from.size + sum(int(e[0].size) for e in self._edges)
        if pending != before.size:
            return False
        if stored:
            self._merge_edges()
            return True
        self._edges = []
        self.e_from = self.e_to = None  # let the unsorted copies go before the sorted ones exist
        if ids.size and ids[-1] - ids[0] == ids.size - 1:  # a run of fresh ids: an offset
            self.e_from = before.astype(EDGE_DTYPE) + EDGE_DTYPE(ids[0])
            self.e_to = after.astype(EDGE_DTYPE) + EDGE_DTYPE(ids[0])
        else:
            self.e_from, self.e_to = ids[before].astype(EDGE_DTYPE), ids[after].astype(EDGE_DTYPE)
        self._csr = None
        self._edge_gen += 1
        return True

    def _dependency_csr(self):
        """(ptr (Mc+1,) int64, to (E,) ``EDGE_DTYPE``): the dependents of each message, rebuilt
        only after a change."""
        self._merge_edges()
        if self._csr is None:
            if self.e_from.size > 4096 and self.step_count % 64 == 0:
                self._prune_edges()
            f = self.e_from
            if not (f.size and bool((f[1:] >= f[:-1]).all())):  # a replayed round's edges come sorted
                # keep the edges sorted by source from now on: the CSR shares them, no copy
                order = np.argsort(f, kind="stable")
                self.e_from, self.e_to = f[order], self.e_to[order]
                del order, f
            ptr = np.searchsorted(self.e_from, np.arange(self.m_cap + 1)).astype(np.int64)
            self._csr = (ptr, self.e_to)
        return self._csr

    def _admit_new(self) -> None:
        if not self._new:
            return
        ids = np.concatenate(self._new)
        self._new = []
        ids = ids[(self.m_state[ids] == K.WAITING) & (self.m_deps[ids] == 0)]
        if ids.size:
            t = self.m_ready[ids] + self.m_delay[ids]
            self.m_state[ids] = K.SCHEDULED
            self.m_release[ids] = t
            K.mh_push_many((self.mh_t, self.mh_k), self.si, t, 2 * ids + 1)

    # ------------------------------------------------------------------ calls
    def _kernel_args(self):
        ptr, to = self._dependency_csr()
        limit = -1 if self.source_queue_limit is None else int(self.source_queue_limit)
        D = (self.link_free, self.rr_last, self.slot_free, self.slot_next, self.busy_s, self.link_bytes_total,
             self.pick, self.touched, self.tflag, self.tbase)
        B = (self.b_first, self.b_last, self.b_head, self.b_tail, self.b_since, self.w_link, self.w_next, self.w_prev,
             self.w_first)
        C = (self.p_msg, self.p_dst, self.p_buf, self.p_seq, self.p_nxt, self.p_start, self.p_ready, self.p_size,
             self.p_slot, self.p_after, self.p_tail)
        Mg = (self.m_src, self.m_dst, self.m_size, self.m_kind, self.m_state, self.m_retain, self.m_deps, self.m_left,
              self.m_delay, self.m_duration, self.m_ready, self.m_release, self.m_finish, ptr, to)
        O = (self.out_done, self.out_started, self.out_refused, self.p_free)
        unit = STORE_AND_FORWARD if self.forward_bytes is None else self.forward_bytes
        cfg = (np.int64(self.chunk_bytes), np.int64(self.max_chunks_per_message), np.int64(limit),
               np.int64(self._stop_on_motion), np.int64(unit))
        return (self._T, D, B, C, (self.ih_heap, self.ih_pos, self.ih_t), self.router.compiled_tables(), Mg,
                (self.mh_t, self.mh_k), O, self.si, self.sf, cfg, self._trains or NO_TRAINS)

    def _drain(self) -> None:
        """Log completed messages, recycle synthetic ones, note compute tasks that started."""
        si = self.si
        n = int(si[K.N_DONE])
        if n:
            ids = self.out_done[:n].copy()
            self.log.append(self, ids)
            rec = ids[~self.m_retain[ids]]
            if rec.size:
                self.m_state[rec] = K.FREE
                self.m_free = np.concatenate([self.m_free, rec])
        n_ref = int(si[K.N_REFUSED])
        if n_ref:
            self.m_free = np.concatenate([self.m_free, self.out_refused[:n_ref]])
        n_st = int(si[K.N_STARTED])
        if n_st:
            ids = self.out_started[:n_st].copy()
            self.run_ids = np.concatenate([self.run_ids, ids])
            self.run_end = np.concatenate([self.run_end, self.m_release[ids] + self.m_duration[ids]])
        si[K.N_DONE] = si[K.N_REFUSED] = si[K.N_STARTED] = 0

    # ------------------------------------------------------------------ per-step accounting
    def _begin_step(self, t0: float) -> None:
        """Links still serializing at ``t0`` count as touched from the start of the step."""
        prev = self.touched[:int(self.si[K.N_TOUCH])]
        self.tflag[prev] = False
        self.busy_step[prev] = 0.0
        c = self.carry
        self.touched[:c.size] = c
        self.tflag[c] = True
        self.tbase[c] = self.busy_s[c] - np.maximum(self.link_free[c] - t0, 0.0)
        self.si[K.N_TOUCH] = c.size
        self.si[K.C_DEL_STEP] = 0
        self.sf[1] = t0

    def _end_step(self, t0: float, t1: float) -> None:
        """Busy time of the links touched in [t0, t1), compute time per node, metrics: O(touched)."""
        self.now_s = t1
        dt = t1 - t0
        if dt <= 0:
            return
        tl = self.touched[:int(self.si[K.N_TOUCH])]
        lf = self.link_free[tl]
        self.busy_step[tl] = (self.busy_s[tl] - np.maximum(lf - t1, 0.0)) - self.tbase[tl]
        self.carry = tl[lf > t1]
        self.node_busy_step[self.busy_nodes] = 0.0
        self.busy_nodes = np.unique(self.m_src[self.run_ids])
        if self.run_ids.size:
            start = self.run_end - self.m_duration[self.run_ids]
            overlap = np.clip(np.minimum(self.run_end, t1) - np.maximum(start, t0), 0.0, None)
            np.add.at(self.node_busy_step, self.m_src[self.run_ids], overlap)
            keep = self.run_end > t1
            self.run_ids, self.run_end = self.run_ids[keep], self.run_end[keep]
        self.step_count += 1
        self.metrics.record_kinds(self, dt, tl, self.busy_step[tl])

    # ------------------------------------------------------------------ snapshots
    def snapshot(self) -> dict:
        """A copy of the whole dynamic state; ``restore`` replays from it identically."""
        self._admit_new()
        self._merge_edges()
        snap = {name: getattr(self, name).copy() for name in _DYN + _P_FIELDS}
        snap.update({name: getattr(self, name)[:self.m_count].copy() for name in _M_FIELDS if not name.startswith("mh")})
        snap.update({name: getattr(self, name).copy() for name in ("mh_t", "mh_k")})
        snap.update({name: getattr(self, name) for name in _SCALARS})
        snap["rng"] = self.rng.bit_generator.state
        snap["log"] = self.log.snapshot()
        snap["metrics"] = self.metrics.snapshot()
        return snap

    def restore(self, snap: dict) -> None:
        for name in _DYN + _P_FIELDS + ("mh_t", "mh_k"):
            setattr(self, name, snap[name].copy())
        for name in _SCALARS:
            setattr(self, name, snap[name])
        for name in _M_FIELDS:
            if not name.startswith("mh"):
                arr = np.full(self.m_cap, _fill(name), dtype=_M_DTYPES[name])
                arr[:len(snap[name])] = snap[name]
                setattr(self, name, arr)
        self.rng.bit_generator.state = snap["rng"]
        self.log.restore(snap["log"])
        self.metrics.restore(snap["metrics"])
        self._csr = None
        self._edges = []
        self._edge_gen += 1
        self._rearmable = None
        self._new = []
