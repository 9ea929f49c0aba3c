"""The rounds policy: every link's best candidate per round, committed up to a safe horizon.

Model
-----
A message (a tensor going from one node to another) is cut into chunks. Every link has a
receive buffer of ``link_slots`` chunks at its far end, and every link has an unbounded
injection queue at its near end for chunks that start there. Both are FIFO: only the head
of a buffer may leave, so a blocked head blocks what is behind it (head-of-line blocking).

A chunk may start on link ``l`` at time ``s = max(ready, head_since, link_free, slot_free)``:
it has arrived, it is the head of its buffer, the link has finished the previous chunk and
a slot at the far end is free (credit flow control, so backpressure travels upstream).
A buffer is read out at its link's rate: the chunk behind a departing head becomes the head
once the departing one has been read. It then occupies the link for ``size / bandwidth`` and arrives ``latency`` after its last
byte left (store-and-forward per chunk, pipelined across chunks). Chunks competing for a
link are served round-robin over the buffers they wait in. On torus rings, a chunk entering
a ring needs two free slots (bubble flow control), which keeps wrap-around routes from
deadlocking.

Time
----
Simulated seconds only. ``step(dt)`` processes every event in ``[now, now + dt)`` with its
exact timestamp, in rounds. Each round takes, for each link, the best waiting candidate;
it commits those starting before the safe horizon ``H``: the earliest moment any chunk
started this round could arrive somewhere (``s + size / bandwidth + latency``), and the
earliest completion that releases dependent work. Nothing earlier than ``H`` can appear
later, so the order of events does not depend on ``dt``: a 1 ns mesh hop and a 20 us
Ethernet hop coexist, and a chunk can cross many short hops in one step.

State is struct-of-arrays. No Python loop runs over chunks, links or cores: only over
rounds within a step.
"""
from __future__ import annotations

import math

import numpy as np

from sim_core.cancel import check as check_cancelled
from sim_core.fabric.arrays import Fabric
from sim_core.engine.log import CompletionLog
from sim_core.engine.metrics import Metrics
from sim_core.engine.work import ACTIVE, DONE, FREE, KIND_COMPUTE, SCHEDULED, WAITING, WorkAdding, sorted_counts
from sim_core.fabric.routing import Router

INF = np.inf


class RoundsEngine(WorkAdding):
    """Simulate traffic on a ``Fabric`` in vectorized rounds (the NoC laboratory's policy).

    Parameters
    ----------
    fabric : Fabric
    chunk_bytes : int
        Chunk size. Messages larger than ``max_chunks_per_message`` chunks use larger
        chunks (``message_chunk_bytes``) so memory stays bounded.
    buffer_chunks : int
        Receive-buffer depth of every link, in chunks. Links get at least enough slots to
        cover their bandwidth-delay product for ``chunk_bytes`` chunks, as real links are
        provisioned, so one flow can run at line rate.
    seed : int
        Seeds ``self.rng``, the only source of randomness (used by traffic generators).
    history : int
        Steps of metrics kept (a ring buffer).
    source_queue_limit : int or None
        Chunks an injection queue may hold before it refuses new synthetic
        (``retain=False``) messages. None (default): unbounded, as open-loop NoC
        measurement needs; the app sets a limit so a saturated scene keeps constant memory.

    Chunk state (C chunks in flight, arrays of shape (C,))
    ------------------------------------------------------
    c_msg int64 message; c_dst int64 final node; c_buf int64 buffer it sits in
    (``l < L``: receive buffer of link l, i.e. on or after link l; ``L + l``: injection
    queue of link l); c_seq int64 position in that buffer; c_nxt int64 next link (-1: at
    its destination); c_start float64 when it started on its current link; c_ready
    float64 when it is wholly in its current buffer; c_size int64 bytes; c_slot int64 the
    receive-buffer slot it holds (an index into ``slot_free``, -1 in an injection queue).
    """

    def __init__(self, fabric: Fabric, *, chunk_bytes: int = 1 << 20, buffer_chunks: int = 4,
                 seed: int = 0, max_chunks_per_message: int = 1 << 20, history: int = 4096,
                 source_queue_limit: int | None = None, forward_bytes: int | None = None, trains: bool = True):
        # trains (sim_core.engine.trains) are the event loop's: rounds move every chunk, the
        # same times either way, so the flag asks nothing of this policy
        if chunk_bytes < 1 or buffer_chunks < 1:
            raise ValueError("chunk_bytes and buffer_chunks must be >= 1")
        if forward_bytes is not None:
            raise ValueError("the rounds policy stores and forwards whole chunks: forward_bytes needs policy='events'")
        self.forward_bytes = None
        self.f = fabric
        self.router = Router.of(fabric)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.chunk_bytes = int(chunk_bytes)
        self.buffer_chunks = int(buffer_chunks)
        self.max_chunks_per_message = int(max_chunks_per_message)
        self.source_queue_limit = source_queue_limit
        L = fabric.n_links
        self.L = L
        self.NB = 2 * L + 1
        self.SENTINEL = 2 * L
        self.bw = fabric.link_bandwidth_Bps
        self.lat = fabric.link_latency_s
        self.link_dst = fabric.link_dst.astype(np.int64)
        ser = self.chunk_bytes / self.bw
        bdp = np.ceil(self.lat / ser).astype(np.int64) + 2
        slots = np.maximum(self.buffer_chunks, np.minimum(bdp, 4096))
        slots = np.where(fabric.link_ring >= 0, np.maximum(slots, 3), slots)
        self.slots = slots.astype(np.int64)
        self.slot_base = np.concatenate([[0], np.cumsum(self.slots)[:-1]]).astype(np.int64)
        self.buf_ring = np.concatenate([fabric.link_ring, np.full(L + 1, -1)]).astype(np.int64)
        self._has_rings = bool((fabric.link_ring >= 0).any())
        self._traffic = []
        self.metrics = Metrics(history, self)
        self._scr_f = np.full(L, INF)
        self._scr_i = np.full(L, np.iinfo(np.int64).max, dtype=np.int64)
        self.reset()

    # ------------------------------------------------------------------ state
    policy = "rounds"

    def reset(self) -> None:
        """Back to time zero with an empty fabric; traffic generators stay attached."""
        L, NB = self.L, self.NB
        self.now_s = 0.0
        self.step_count = 0
        self.rng = np.random.default_rng(self.seed)
        self.b_head = np.zeros(NB, dtype=np.int64)
        self.b_tail = np.zeros(NB, dtype=np.int64)
        self.b_head[self.SENTINEL] = -7
        self.b_since = np.zeros(NB)
        self.link_free = np.zeros(L)
        self.rr_last = np.zeros(L, dtype=np.int64)
        self.slot_free = np.zeros(int(self.slots.sum()))
        self.busy_step = np.zeros(L)
        self.busy_carry = np.zeros(L)
        self.link_busy_total_s = np.zeros(L)
        self.link_bytes_total = np.zeros(L, dtype=np.int64)
        self.node_busy_step = np.zeros(self.f.n_nodes)
        z_i, z_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        self.c_msg, self.c_dst, self.c_buf, self.c_seq, self.c_nxt = z_i, z_i, z_i, z_i, z_i
        self.c_start, self.c_ready, self.c_size = z_f, z_f, z_i
        self.c_slot = z_i
        self.b_slot_next = self.slot_base.copy()  # (L,) absolute index of each link's next slot
        self._alloc_messages(1024)
        self.e_from = z_i
        self.e_to = z_i
        self._csr = None
        self._new = []
        self.sched_ids, self.sched_t = z_i, z_f
        self.run_ids, self.run_t = z_i, z_f
        self.bytes_injected = 0
        self.bytes_delivered = 0
        self.chunks_created = 0
        self.chunks_delivered = 0
        self.messages_refused = 0
        self.bytes_refused = 0
        self.chunks_delivered_step = 0
        self.messages_done = 0
        self.log = CompletionLog()
        self.metrics.clear()
        self._has_dependents = False
        self.rounds_total = 0
        self._recycle = []
        self._finished_compute = []
        self.next_event_s = 0.0
        self._quiet = False

    def _alloc_messages(self, cap: int) -> None:
        self.m_cap = cap
        self.m_count = 0
        self.m_free = np.zeros(0, dtype=np.int64)
        self.m_src = np.zeros(cap, dtype=np.int64)
        self.m_dst = np.zeros(cap, dtype=np.int64)
        self.m_size = np.zeros(cap, dtype=np.int64)
        self.m_kind = np.zeros(cap, dtype=np.int8)
        self.m_state = np.zeros(cap, dtype=np.int8)
        self.m_tag = np.zeros(cap, dtype=np.int64)
        self.m_retain = np.ones(cap, dtype=bool)
        self.m_has_dep = np.zeros(cap, dtype=bool)
        self.m_deps = np.zeros(cap, dtype=np.int64)
        self.m_left = np.zeros(cap, dtype=np.int64)
        self.m_delay = np.zeros(cap)
        self.m_duration = np.zeros(cap)
        self.m_ready = np.zeros(cap)
        self.m_created = np.zeros(cap)
        self.m_release = np.full(cap, np.nan)
        self.m_finish = np.full(cap, np.nan)

    _M_FIELDS = ("m_src", "m_dst", "m_size", "m_kind", "m_state", "m_tag", "m_retain", "m_has_dep",
                 "m_deps", "m_left", "m_delay", "m_duration", "m_ready", "m_created", "m_release", "m_finish")
    _C_FIELDS = ("c_msg", "c_dst", "c_buf", "c_seq", "c_nxt", "c_start", "c_ready", "c_size", "c_slot")

    def _grow_messages(self, need: int) -> None:
        new_cap = max(self.m_cap * 2, self.m_count + need)
        for name in self._M_FIELDS:
            old = getattr(self, name)
            fill = np.nan if name in ("m_release", "m_finish") else (True if name == "m_retain" else 0)
            arr = np.full(new_cap, fill, dtype=old.dtype)
            arr[:self.m_cap] = old
            setattr(self, name, arr)
        self.m_cap = new_cap

    # ------------------------------------------------------------------ adding work (the pool: engine.work)
    def _fresh_messages(self, ids) -> None:
        self.m_has_dep[ids] = False

    def _store_edges(self, before, after) -> None:
        self.m_has_dep[before] = True
        self._has_dependents = self._has_dependents or bool(before.size)
        self.e_from = np.concatenate([self.e_from, before])
        self.e_to = np.concatenate([self.e_to, after])
        self._csr = None
        return before, after

    def forget(self, ids) -> None:
        """Hand completed retained messages back to the pool (their times are then gone).

        Repeating workloads call this for rounds they have measured, so a long run keeps
        constant memory. Raises ValueError for a message that has not completed.
        """
        ids = sorted_counts(np.asarray(ids, dtype=np.int64).ravel())[0]
        if ids.size == 0:
            return
        if (self.m_state[ids] != DONE).any():
            raise ValueError("only completed messages can be forgotten")
        self.m_state[ids] = FREE
        self.m_has_dep[ids] = False
        self.m_retain[ids] = True
        self.m_free = np.concatenate([self.m_free, ids])
        self._prune_edges()

    def _prune_edges(self) -> None:
        """Drop dependency edges whose source has completed: they have done their work."""
        if self.e_from.size == 0:
            return
        live = (self.m_state[self.e_from] != DONE) & (self.m_state[self.e_from] != FREE)
        if not live.all():
            self.e_from, self.e_to = self.e_from[live], self.e_to[live]
            self._csr = None

    def attach_traffic(self, generator) -> None:
        """``generator(engine, t0_s, t1_s)`` is called at the start of every step."""
        self._traffic.append(generator)

    # ------------------------------------------------------------------ running
    def step(self, dt_s: float) -> None:
        """Advance simulated time by ``dt_s`` seconds."""
        if not (dt_s > 0 and math.isfinite(dt_s)):
            raise ValueError("dt_s must be a finite number > 0")
        t0 = self.now_s
        t1 = t0 + dt_s
        for gen in self._traffic:
            gen(self, t0, t1)
        self._admit_new()
        if self._quiet and self.idle() and not self.sched_ids.size:
            self._quiet_step(t1, dt_s)  # nothing anywhere: O(link kinds), not O(links)
            return
        take = np.minimum(self.busy_carry, dt_s)
        self.busy_step[:] = take
        self.busy_carry -= take
        self.node_busy_step[:] = 0.0
        self.chunks_delivered_step = 0
        rounds = 0
        while self._round(t1):
            rounds += 1
            if rounds > 50_000_000:
                raise RuntimeError("engine made no progress within a step (internal error)")
        self.rounds_total += rounds
        self._account_compute(t0, t1)
        self.now_s = t1
        self.step_count += 1
        self._compact()
        self.link_busy_total_s += self.busy_step
        self.metrics.record(self, dt_s)
        self._quiet = self.idle() and not self.busy_carry.any() and not self.busy_step.any() \
            and not self.node_busy_step.any()

    def _quiet_step(self, t1: float, dt_s: float) -> None:
        """A step with no chunk, message, compute task or busy link anywhere: time moves, nothing else."""
        self.now_s = t1
        self.step_count += 1
        self.chunks_delivered_step = 0
        K = self.metrics.K
        self.metrics._write(self, dt_s, np.zeros(K), np.zeros(K), 0, 0)

    def run_until(self, t_s: float, dt_s: float | None = None) -> None:
        """Step until ``now_s >= t_s`` (in steps of ``dt_s``, default one step)."""
        while self.now_s < t_s:
            self.step(min(dt_s or (t_s - self.now_s), t_s - self.now_s))

    def idle(self) -> bool:
        """Nothing in flight, nothing scheduled, nothing running, nothing new."""
        return len(self.c_buf) == 0 and len(self.sched_ids) == 0 and len(self.run_ids) == 0 and not self._new

    def run_until_idle(self, dt_s: float = 1e-3, max_time_s: float = 1e12) -> float:
        """Step until all work is done; returns the time the last event completed.

        Steps are ``dt_s`` long, or longer when nothing happens before the next event
        (results do not depend on the step size, so idle time is skipped, which keeps a
        1 B/s link or a 1 s latency as fast to simulate as any other).
        Raises RuntimeError if messages remain that can never be released (a dependency
        cycle or a dependency on work that never completes).
        """
        last = self.now_s
        stalled = 0
        while True:
            self._admit_new()
            if self.idle():
                break
            if self.now_s > max_time_s:
                raise RuntimeError(f"work did not finish within {max_time_s:g} simulated seconds")
            ahead = self.next_event_s - self.now_s
            check_cancelled()
            before = (self.chunks_delivered, self.messages_done, self.rounds_total)
            self.step(max(dt_s, ahead * 1.000001) if math.isfinite(ahead) and ahead > 0 else dt_s)
            moved = (self.chunks_delivered, self.messages_done, self.rounds_total) != before
            stalled = 0 if moved or math.isfinite(self.next_event_s) else stalled + 1
            if stalled >= 3:
                raise RuntimeError(f"deadlock: {len(self.c_buf)} chunks wait for buffers that never free "
                                   f"(simulated time {self.now_s:.6g} s)")
        waiting = np.flatnonzero(self.m_state[:self.m_count] == WAITING)
        if waiting.size:
            raise RuntimeError(f"{waiting.size} messages wait on dependencies that never complete")
        done = self.m_finish[:self.m_count]
        if np.isfinite(done).any():
            last = max(last, float(np.nanmax(done)))
        return max(last, self.log.last_finish())

    # ------------------------------------------------------------------ internals
    def _admit_new(self) -> None:
        if not self._new:
            return
        ids = np.concatenate(self._new)
        self._new = []
        ids = ids[(self.m_state[ids] == WAITING) & (self.m_deps[ids] == 0)]
        self._schedule(ids, self.m_ready[ids] + self.m_delay[ids])

    def _schedule(self, ids: np.ndarray, t: np.ndarray) -> None:
        if ids.size == 0:
            return
        self.m_state[ids] = SCHEDULED
        self.m_release[ids] = t
        self.sched_ids = np.concatenate([self.sched_ids, ids])
        self.sched_t = np.concatenate([self.sched_t, t])

    def _materialize_due(self, t1: float) -> bool:
        if self.sched_ids.size == 0:
            return False
        due = self.sched_t < t1
        if not due.any():
            return False
        ids, t = self.sched_ids[due], self.sched_t[due]
        self.sched_ids, self.sched_t = self.sched_ids[~due], self.sched_t[~due]
        self.m_state[ids] = ACTIVE
        comp = self.m_kind[ids] == KIND_COMPUTE
        if comp.any():
            self.run_ids = np.concatenate([self.run_ids, ids[comp]])
            self.run_t = np.concatenate([self.run_t, t[comp] + self.m_duration[ids[comp]]])
        ids, t = ids[~comp], t[~comp]
        local = (self.m_size[ids] == 0) | (self.m_src[ids] == self.m_dst[ids])
        if local.any():
            self.bytes_injected += int(self.m_size[ids[local]].sum())
            self.bytes_delivered += int(self.m_size[ids[local]].sum())
            self._complete(ids[local], t[local])
        ids, t = ids[~local], t[~local]
        if ids.size and self.source_queue_limit is not None:
            ids, t = self._refuse_at_full_sources(ids, t)
        if ids.size:
            self._make_chunks(ids, t)
        return True

    def _refuse_at_full_sources(self, ids: np.ndarray, t: np.ndarray):
        """Drop synthetic (non-retained) messages whose injection queue is already full.

        Open-loop traffic past saturation would grow source queues without bound; a
        visualizer left running must keep constant memory, so a full source refuses new
        packets (counted in ``messages_refused`` / ``bytes_refused``, never injected).
        """
        first = self.router.next_link(self.m_src[ids], self.m_dst[ids]).astype(np.int64)
        q = self.L + first
        full = ((self.b_tail[q] - self.b_head[q]) >= self.source_queue_limit) & ~self.m_retain[ids]
        if full.any():
            gone = ids[full]
            self.messages_refused += gone.size
            self.bytes_refused += int(self.m_size[gone].sum())
            self.m_state[gone] = FREE
            self.m_free = np.concatenate([self.m_free, gone])
        return ids[~full], t[~full]

    def message_chunk_bytes(self, size_bytes) -> np.ndarray:
        """Chunk size used for messages of these sizes (bytes, int64)."""
        size = np.asarray(size_bytes, dtype=np.int64)
        return np.maximum(self.chunk_bytes, -(-size // self.max_chunks_per_message))

    def _make_chunks(self, ids: np.ndarray, t: np.ndarray) -> None:
        size = self.m_size[ids]
        cb = self.message_chunk_bytes(size)
        n = -(-size // cb)
        first = self.router.next_link(self.m_src[ids], self.m_dst[ids]).astype(np.int64)
        self.m_left[ids] = n
        self.bytes_injected += int(size.sum())
        self.chunks_created += int(n.sum())
        rep = np.repeat(np.arange(ids.size), n)
        k = np.arange(rep.size) - np.repeat(np.cumsum(n) - n, n)
        csize = np.where(k == n[rep] - 1, size[rep] - (n[rep] - 1) * cb[rep], cb[rep])
        q = self.L + first[rep]
        rel = t[rep]
        order = np.lexsort((k, ids[rep], rel, q))
        q_sorted = q[order]
        starts = np.flatnonzero(np.r_[True, q_sorted[1:] != q_sorted[:-1]])
        counts = np.diff(np.r_[starts, q_sorted.size])
        rank = np.arange(q_sorted.size) - np.repeat(starts, counts)
        seq = np.empty(q.size, dtype=np.int64)
        seq[order] = self.b_tail[q_sorted] + rank
        uq = q_sorted[starts]
        self.b_tail[uq] += counts
        self.c_msg = np.concatenate([self.c_msg, ids[rep]])
        self.c_dst = np.concatenate([self.c_dst, self.m_dst[ids][rep]])
        self.c_buf = np.concatenate([self.c_buf, q])
        self.c_seq = np.concatenate([self.c_seq, seq])
        self.c_nxt = np.concatenate([self.c_nxt, first[rep]])
        self.c_start = np.concatenate([self.c_start, rel])
        self.c_ready = np.concatenate([self.c_ready, rel])
        self.c_size = np.concatenate([self.c_size, csize])
        self.c_slot = np.concatenate([self.c_slot, np.full(csize.size, -1, dtype=np.int64)])

    def _round(self, t1: float) -> bool:
        progressed = self._materialize_due(t1)
        H = t1
        nxt = INF  # earliest thing that will happen at or after t1 (for idle skipping)
        if self.run_ids.size:
            dep = self.m_has_dep[self.run_ids]
            if dep.any():
                H = min(H, float(self.run_t[dep].min()))
        head = self.c_seq == self.b_head[self.c_buf]
        cand = np.flatnonzero(head)
        nl = self.c_nxt[cand]
        buf = self.c_buf[cand]
        early = np.maximum(self.c_ready[cand], self.b_since[buf])
        isdel = nl < 0
        d_idx, d_t = cand[isdel], early[isdel]
        if d_idx.size and self._has_dependents:
            dep = self.m_has_dep[self.c_msg[d_idx]]
            if dep.any():
                H = min(H, float(d_t[dep].min()))
        if d_idx.size:
            # An ejected chunk is read out of its buffer at the link's rate: the chunk behind
            # it can move no earlier than that, so no start may be committed past it.
            due = d_t < t1
            if due.any():
                rd = d_t[due] + self.c_size[d_idx[due]] / self.bw[buf[isdel][due]]
                H = min(H, float(rd.min()))
        mv = ~isdel
        k, l, e, b = cand[mv], nl[mv], early[mv], buf[mv]
        win = np.zeros(0, dtype=np.int64)
        frees = np.zeros(0, dtype=bool)
        if k.size:
            s = self._start_times(k, l, e, b)
            if s.size:
                nxt = min(nxt, float(s.min()))
            if self._has_rings and d_idx.size:
                # On a ring a chunk entering needs two free slots, one continuing needs one:
                # a delivery that frees a slot in the buffer of a link with a blocked entrant
                # can let it start (and win the round-robin) at the delivery's time, so no
                # start on any link is committed past that delivery before it is processed.
                blocked = np.zeros(self.L, dtype=bool)
                blocked[l[np.isinf(s)]] = True
                dbuf = buf[isdel]
                frees = (dbuf < self.L) & blocked[np.minimum(dbuf, self.L - 1)] & (d_t < t1)
                if frees.any():
                    H = min(H, float(d_t[frees].min()))
            win = self._arbitrate(l, s, b)
            if win.size:
                lw = l[win]
                size = self.c_size[k[win]]
                ser = size / self.bw[lw]
                # What a start at s changes, at the earliest: the slot it leaves frees at
                # s + ser, the buffer's next head can be read from s + size / bw_in, and the
                # chunk itself arrives at s + ser + latency. Commit nothing beyond that.
                bo = b[win]
                read = np.where(bo < self.L, size / self.bw[np.minimum(bo, self.L - 1)], ser)
                H = min(H, float((s[win] + np.minimum(ser, read)).min()))
                go = s[win] < H
                if go.any():
                    self._commit(k[win[go]], lw[go], s[win[go]], ser[go], b[win[go]], t1)
                    progressed = True
        if d_idx.size:
            nxt = min(nxt, float(d_t.min()))
            ok = d_t < H  # same window as starts, so same-time events see the same state
            if frees.size:
                ok |= frees & (d_t <= H)
            if self._has_dependents:
                ok |= (d_t <= H) & self.m_has_dep[self.c_msg[d_idx]]
            if ok.any():
                self._deliver(d_idx[ok], d_t[ok])
                progressed = True
        if self.run_ids.size:
            fin = (self.run_t < t1) & ((self.run_t <= H) | ~self.m_has_dep[self.run_ids])
            if fin.any():
                ids, t = self.run_ids[fin], self.run_t[fin]
                self.run_ids, self.run_t = self.run_ids[~fin], self.run_t[~fin]
                self._finished_compute.append((ids, t))
                self._complete(ids, t)
                progressed = True
        if not progressed:
            pending = [nxt]
            if self.run_ids.size:
                pending.append(float(self.run_t.min()))
            if self.sched_t.size:
                pending.append(float(self.sched_t.min()))
            self.next_event_s = min(pending)
        return progressed

    def _start_times(self, k, l, e, b) -> np.ndarray:
        """Earliest start of candidate chunk k on link l (inf where the far buffer is full)."""
        tail = self.b_tail[l]
        occ = tail - self.b_head[l]
        slots = self.slots[l]
        nxt_slot = self.b_slot_next[l]
        st = self.slot_free[nxt_slot]
        if self._has_rings:
            ring_next = self.buf_ring[l]
            bubble = (ring_next >= 0) & (self.buf_ring[b] != ring_next)
            full = occ + 1 + bubble > slots
            if bubble.any():
                base = self.slot_base[l]
                st2 = self.slot_free[base + (nxt_slot - base + 1) % slots]
                st = np.where(bubble, np.maximum(st, st2), st)
        else:
            full = occ >= slots
        s = np.maximum(np.maximum(e, self.link_free[l]), st)
        s[full] = INF
        return s

    def _arbitrate(self, l, s, b) -> np.ndarray:
        """Per link, the candidate that can start first; ties round-robin over buffers."""
        mins = self._scr_f
        np.minimum.at(mins, l, s)
        best_s = mins[l]
        mins[l] = INF
        sub = np.flatnonzero((s == best_s) & (s < INF))
        if sub.size == 0:
            return sub
        ls = l[sub]
        tb = (b[sub] - self.rr_last[ls] - 1) % self.NB
        best = self._scr_i
        np.minimum.at(best, ls, tb)
        pick = tb == best[ls]
        best[ls] = np.iinfo(np.int64).max
        return sub[pick]

    def _commit(self, cw, lw, sw, ser, old, t1) -> None:
        L = self.L
        self.b_head[old] += 1
        size = self.c_size[cw]
        # A buffer has one read port running at its link's rate: the next head can leave
        # once this chunk has been read out (injection queues feed one link, no limit).
        rb = old < L
        self.b_since[old] = sw
        if rb.any():
            ob = old[rb]
            self.b_since[ob] = sw[rb] + size[rb] / self.bw[ob]
            self.slot_free[self.c_slot[cw[rb]]] = sw[rb] + ser[rb]
        ns = self.b_tail[lw]
        self.b_tail[lw] = ns + 1
        slot = self.b_slot_next[lw]
        self.slot_free[slot] = INF
        self.c_slot[cw] = slot
        base = self.slot_base[lw]
        self.b_slot_next[lw] = np.where(slot + 1 - base == self.slots[lw], base, slot + 1)
        end = sw + ser
        self.c_buf[cw] = lw
        self.c_seq[cw] = ns
        self.c_start[cw] = sw
        self.c_ready[cw] = end + self.lat[lw]
        self.c_nxt[cw] = self.router.next_link(self.link_dst[lw], self.c_dst[cw])
        self.link_free[lw] = end
        self.rr_last[lw] = old
        if end.max() <= t1:
            self.busy_step[lw] += ser
        else:
            self.busy_step[lw] += np.minimum(end, t1) - sw
            self.busy_carry[lw] += np.maximum(end - t1, 0.0)
        self.link_bytes_total[lw] += size

    def _deliver(self, dd, t) -> None:
        bd = self.c_buf[dd]
        self.slot_free[self.c_slot[dd]] = t
        self.b_head[bd] += 1
        self.b_since[bd] = t + self.c_size[dd] / self.bw[bd]
        self.c_buf[dd] = self.SENTINEL
        self.c_seq[dd] = -1
        self.c_nxt[dd] = -2
        self.bytes_delivered += int(self.c_size[dd].sum())
        self.chunks_delivered_step += dd.size
        self.chunks_delivered += dd.size
        msg = self.c_msg[dd]
        fin = self.m_finish
        fin_now = np.where(np.isnan(fin[msg]), -INF, fin[msg])
        fin[msg] = fin_now  # nan -> -inf so maximum.at works
        np.maximum.at(fin, msg, t)
        np.subtract.at(self.m_left, msg, 1)
        um = np.unique(msg)
        done = um[self.m_left[um] == 0]
        if done.size:
            self._complete(done, fin[done])

    def _complete(self, ids: np.ndarray, t: np.ndarray) -> None:
        """Messages (or compute tasks) ``ids`` finished at ``t``: log them, release dependents."""
        self.m_state[ids] = DONE
        self.m_finish[ids] = t
        self.messages_done += ids.size
        self.log.append(self, ids)
        if self._has_dependents:
            hd = ids[self.m_has_dep[ids]]
            if hd.size:
                self._release_dependents(hd)
        rec = ids[~self.m_retain[ids]]
        if rec.size:
            self._recycle.append(rec)

    def _release_dependents(self, ids: np.ndarray) -> None:
        if self._csr is None:
            order = np.argsort(self.e_from, kind="stable")
            self._csr = (self.e_from[order], self.e_to[order])
        frm, to = self._csr
        lo = np.searchsorted(frm, ids, side="left")
        hi = np.searchsorted(frm, ids, side="right")
        cnt = hi - lo
        if cnt.sum() == 0:
            return
        pos = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())
        dep_to = to[pos]
        dep_t = np.repeat(self.m_finish[ids], cnt)
        np.maximum.at(self.m_ready, dep_to, dep_t)
        np.subtract.at(self.m_deps, dep_to, 1)
        u = np.unique(dep_to)
        ready = u[(self.m_deps[u] == 0) & (self.m_state[u] == WAITING)]
        self._schedule(ready, self.m_ready[ready] + self.m_delay[ready])

    def _account_compute(self, t0: float, t1: float) -> None:
        """Per-node busy seconds of compute tasks overlapping this step."""
        parts = [(self.run_ids, self.run_t)] + self._finished_compute
        self._finished_compute = []
        ids = np.concatenate([p[0] for p in parts])
        if ids.size == 0:
            return
        end = np.concatenate([p[1] for p in parts])
        start = end - self.m_duration[ids]
        overlap = np.clip(np.minimum(end, t1) - np.maximum(start, t0), 0.0, None)
        np.add.at(self.node_busy_step, self.m_src[ids], overlap)

    def _compact(self) -> None:
        if self.e_from.size > 4096 and self.step_count % 64 == 0:
            self._prune_edges()
        alive = self.c_nxt != -2
        if not alive.all():
            for name in self._C_FIELDS:
                setattr(self, name, getattr(self, name)[alive])
        if self._recycle:
            ids = np.concatenate(self._recycle)
            self._recycle = []
            self.m_state[ids] = FREE
            self.m_free = np.concatenate([self.m_free, ids])

    # ------------------------------------------------------------------ what views ask
    @property
    def bytes_in_flight(self) -> int:
        """Bytes released into the fabric and not yet delivered."""
        return int(self.c_size.sum())

    def link_utilization(self, dt_s: float | None = None) -> np.ndarray:
        """(L,) float64, share of the last step each link spent serializing, in [0, 1]."""
        dt = dt_s or self.metrics.last_dt() or 1.0
        return np.clip(self.busy_step / dt, 0.0, 1.0)

    def link_queue(self) -> np.ndarray:
        """(L,) int64, chunks that have arrived somewhere and wait to start on each link."""
        waiting = (self.c_nxt >= 0) & (self.c_ready <= self.now_s)
        return np.bincount(self.c_nxt[waiting], minlength=self.L)

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
        on_link = self.c_buf < self.L
        link = np.where(on_link, self.c_buf, self.c_buf - self.L)
        link = np.clip(link, 0, self.L - 1)
        a, z = f.link_src[link], f.link_dst[link]
        dur = np.maximum(self.c_ready - self.c_start, 1e-300)
        frac = np.clip((t - self.c_start) / dur, 0.0, 1.0)
        frac = np.where(on_link, frac, 0.0)
        x = f.node_x[a] + (f.node_x[z] - f.node_x[a]) * frac
        y = f.node_y[a] + (f.node_y[z] - f.node_y[a]) * frac
        moving = on_link & (frac < 1.0)
        return x, y, moving, self.c_msg

    def chunk_state(self):
        """Every live chunk as a ``view.ChunkState`` (copies; see ``sim_core.engine.view``)."""
        from sim_core.engine.view import ChunkState
        live = self.c_nxt != -2
        buf = self.c_buf[live]
        on_link = buf < self.L
        return ChunkState(link=np.where(on_link, buf, buf - self.L), on_link=on_link,
                          next_link=self.c_nxt[live].copy(), start_s=self.c_start[live].copy(),
                          ready_s=self.c_ready[live].copy(), queue_pos=self.c_seq[live].copy(),
                          msg=self.c_msg[live].copy(), tag=self.m_tag[self.c_msg[live]])

    # ------------------------------------------------------------------ snapshots
    _SCALARS = ("now_s", "step_count", "bytes_injected", "bytes_delivered", "chunks_created", "chunks_delivered",
                "messages_refused", "bytes_refused",
                "messages_done", "m_cap",
                "m_count", "_has_dependents", "rounds_total", "chunks_delivered_step", "_quiet")
    _ARRAYS = ("b_head", "b_tail", "b_since", "b_slot_next", "link_free", "rr_last", "slot_free", "busy_step", "busy_carry",
               "link_busy_total_s", "link_bytes_total", "node_busy_step", "e_from", "e_to", "sched_ids",
               "sched_t", "run_ids", "run_t", "m_free") + _C_FIELDS + _M_FIELDS

    def snapshot(self) -> dict:
        """A copy of the whole dynamic state; ``restore`` replays from it identically.

        Message arrays are copied up to ``m_count`` only (the pool's capacity is slack).
        """
        self._admit_new()
        snap = {name: getattr(self, name).copy() for name in self._ARRAYS if name not in self._M_FIELDS}
        snap.update({name: getattr(self, name)[:self.m_count].copy() for name in self._M_FIELDS})
        snap.update({name: getattr(self, name) for name in self._SCALARS})
        snap["rng"] = self.rng.bit_generator.state
        snap["log"] = self.log.snapshot()
        snap["metrics"] = self.metrics.snapshot()
        return snap

    def restore(self, snap: dict) -> None:
        for name in self._ARRAYS:
            if name not in self._M_FIELDS:
                setattr(self, name, snap[name].copy())
        cap = snap["m_cap"]
        for name in self._M_FIELDS:
            part = snap[name]
            fill = np.nan if name in ("m_release", "m_finish") else (True if name == "m_retain" else 0)
            arr = np.full(cap, fill, dtype=part.dtype)
            arr[:len(part)] = part
            setattr(self, name, arr)
        for name in self._SCALARS:
            setattr(self, name, snap[name])
        self.rng.bit_generator.state = snap["rng"]
        self.log.restore(snap["log"])
        self.metrics.restore(snap["metrics"])
        self._csr = None
        self._new = []
        self._recycle = []
        self._finished_compute = []
