"""The step engine: chunks queue, serialize and fly over links; bottlenecks emerge.

Model
-----
A message (a tensor going from one node to another) is cut into chunks. Every link has a
receive buffer of ``slots`` chunks at its far end, and every link has an unbounded
injection queue at its near end for chunks that start there. Both are FIFO: only the head
of a buffer may leave, so a blocked head blocks what is behind it (head-of-line blocking).

A chunk may start on link ``l`` at ``s = max(ready, head_since, link_free, slot_free)``:
it has arrived, it is the head of its buffer, the link has finished the previous chunk
and a slot at the far end is free (credit flow control, so backpressure travels
upstream). A buffer is read out at its link's rate: the chunk behind a departing head
becomes the head once the departing one has been read. A chunk occupies the link for
``size / bandwidth`` and arrives ``latency`` after its last byte left (with
``forward_bytes``, a chunk larger than that unit moves cut-through: it may go on once its
first unit is in, and cannot finish leaving before its last byte is in). Chunks competing
for a link are served round-robin over the buffers they wait in. On torus rings a chunk
entering a ring needs two free slots (bubble flow control), which keeps wrap-around
routes from deadlocking. Compute tasks occupy a node for their duration; a message with
dependencies is released ``delay_s`` after the last of them completes.

Time
----
Simulated seconds only, in one of two named policies (``policy=``):

* ``"events"`` (this class): a compiled event loop (``sim_core.engine.kernel``) takes
  every event in (time, kind, id) order. ``step(dt)`` processes every event with
  ``t < now + dt``, so results are bit-identical for every step size, and the cost grows
  with events, not with simulated time: idle time costs nothing and a 1 ns mesh hop
  beside a 5 us network hop is no slower than either alone. ``advance(until_s,
  max_events=N)`` bounds the work of one call (a budget in events, never wall clock).
* ``"rounds"`` (``sim_core.engine.rounds.RoundsEngine``): vectorized rounds up to a
  global safe horizon, which suits one busy mesh of equal links (the NoC laboratory).
* ``"auto"`` (default): rounds for a lone mesh (one chip, no off-chip traffic) larger than
  32 x 32, events everywhere else (``ROUNDS_MIN_TILES``).
"""
from __future__ import annotations

import math

import numpy as np

from sim_core.cancel import check as check_cancelled
from sim_core.engine import kernel as K
from sim_core.engine.trains import plan as plan_trains
from sim_core.engine.metrics import Metrics
from sim_core.engine.work import DONE, FREE, WAITING, WorkAdding, sorted_counts
from sim_core.engine.queries import EngineQueries
from sim_core.engine.state import EDGE_DTYPE, EngineState
from sim_core.fabric.arrays import Fabric
from sim_core.fabric.routing import Router

INF = np.inf
POLICIES = ("auto", "events", "rounds")
_CALL_EVENTS = 1 << 22  # events per compiled call between cancellation checks
_GEN_SPAN_MIN_S = 1e-12  # the first and shortest slice of traffic a bounded advance generates ahead


def run_in_steps(eng, dt_s: float) -> float:
    """Run ``eng`` (either policy) to idle in steps of exactly ``dt_s``; returns the time the
    last event completed. Stretches with no event are crossed in whole multiples of
    ``dt_s``; a deadlock or a dependency cycle raises as ``run_until_idle`` does. Results
    equal ``run_until_idle``'s (the step-size guarantee), which this lets a user check.
    """
    if not (dt_s > 0 and math.isfinite(dt_s)):
        raise ValueError("dt_s must be a finite number > 0")
    while True:
        eng._admit_new()
        ahead = eng.next_event_s - eng.now_s
        if eng.idle() or not math.isfinite(ahead):
            break
        check_cancelled()
        eng.step(dt_s * max(1.0, math.floor(ahead / dt_s)) if ahead > dt_s else dt_s)
    return eng.run_until_idle(dt_s=dt_s)


ROUNDS_MIN_TILES = 1024
"""A lone mesh larger than this (32 x 32) runs on the rounds policy. Measured with the NoC
laboratory (results are the same bit for bit on either policy): uniform traffic near
saturation on 16 x 16 takes 0.9 s on events against 2.1 s on rounds; on 32 x 32 at half
the bound they tie; on 64 x 64 rounds does 2.96 M node-cycles/s against 1.25 M."""


def auto_policy(fabric: Fabric) -> str:
    """``rounds`` for a lone mesh of more than ``ROUNDS_MIN_TILES`` tiles (the NoC
    laboratory at scale), ``events`` otherwise."""
    lone_mesh = fabric.n_chips == 1 and fabric.n_nodes == fabric.n_tiles + 1
    return "rounds" if lone_mesh and fabric.n_tiles > ROUNDS_MIN_TILES else "events"


class Engine(EngineState, EngineQueries, WorkAdding):
    """Simulate traffic on a ``Fabric``.

    Parameters
    ----------
    fabric : Fabric
    chunk_bytes : int
        Chunk size (a resolution knob: bulk results converge as chunks shrink). Messages
        larger than ``max_chunks_per_message`` chunks use larger chunks
        (``message_chunk_bytes``); the default keeps chunks as asked for any realistic size.
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
        (``retain=False``) messages. None (default): unbounded.
    policy : str
        Time-advance policy, one of ``POLICIES`` (see the module docstring).
    forward_bytes : int or None
        Cut-through unit: a node passes a chunk on once this many of its bytes have arrived
        (what the traffic really forwards at once: a protocol's unit, a switch's packet).
        Chunks larger than it are then a resolution, not a change of physics: alone on its
        path, a chunk of k units arrives exactly when k chunks of one unit stored and
        forwarded would (the tandem-queue identity; tested), and results converge as
        chunks shrink towards the unit. None (default): every chunk is stored and forwarded
        whole. Events policy only.
    trains : bool
        Let ``run_until_idle`` compute a message alone on its route whole at its release
        (``sim_core.engine.trains``): the same times bit for bit, far fewer events. False
        runs every chunk through the loop (for comparison).
    """

    policy = "events"

    def __new__(cls, fabric=None, *args, policy: str = "auto", **kwargs):
        if policy not in POLICIES:
            raise ValueError(f"policy {policy!r}: allowed {', '.join(POLICIES)}")
        if cls is Engine and fabric is not None and (policy == "rounds" or (policy == "auto" and auto_policy(fabric) == "rounds"
                                                                and kwargs.get("forward_bytes") is None)):
            from sim_core.engine.rounds import RoundsEngine
            return RoundsEngine(fabric, *args, **kwargs)
        return super().__new__(cls)

    def __init__(self, fabric: Fabric, *, chunk_bytes: int = 1 << 20, buffer_chunks: int = 4,
                 seed: int = 0, max_chunks_per_message: int = 1 << 20, history: int = 4096,
                 source_queue_limit: int | None = None, policy: str = "auto", forward_bytes: int | None = None,
                 trains: bool = True):
        if chunk_bytes < 1 or buffer_chunks < 1:
            raise ValueError("chunk_bytes and buffer_chunks must be >= 1")
        if forward_bytes is not None and not 1 <= forward_bytes:
            raise ValueError("forward_bytes must be >= 1 (or None: store and forward whole chunks)")
        self.forward_bytes = None if forward_bytes is None else int(forward_bytes)
        self.use_trains = bool(trains)
        self.f = fabric
        self.router = Router.of(fabric)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.chunk_bytes = int(chunk_bytes)
        self.buffer_chunks = int(buffer_chunks)
        self.max_chunks_per_message = int(max_chunks_per_message)
        self.source_queue_limit = source_queue_limit
        self.L = fabric.n_links
        self._build_topology()
        self._traffic = []
        self.metrics = Metrics(history, self)
        self.reset()

    # ------------------------------------------------------------------ adding work
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
        self.m_retain[ids] = True
        self.m_free = np.concatenate([self.m_free, ids])
        self._prune_edges()

    def _fresh_messages(self, ids) -> None:
        self.m_left[ids] = 0

    def _store_edges(self, before, after):
        """Keep a batch of edges (as ``EDGE_DTYPE``: half the memory of int64); returns
        the arrays kept, so a recording can hold those instead of a second copy."""
        kept = (before.astype(EDGE_DTYPE, copy=False), after.astype(EDGE_DTYPE, copy=False))
        self._edges.append(kept)
        return kept

    def attach_traffic(self, generator) -> None:
        """``generator(engine, t0_s, t1_s)`` is called once for every stretch of time advanced."""
        self._traffic.append(generator)

    def message_chunk_bytes(self, size_bytes) -> np.ndarray:
        """Chunk size used for messages of these sizes (bytes, int64)."""
        size = np.asarray(size_bytes, dtype=np.int64)
        return np.maximum(self.chunk_bytes, -(-size // self.max_chunks_per_message))

    # ------------------------------------------------------------------ running
    def step(self, dt_s: float) -> None:
        """Advance simulated time by ``dt_s`` seconds (every event with t < now + dt_s)."""
        if not (dt_s > 0 and math.isfinite(dt_s)):
            raise ValueError("dt_s must be a finite number > 0")
        self._advance(self.now_s + dt_s, None)

    def advance(self, until_s: float, max_events: int | None = None) -> float:
        """Advance towards ``until_s`` doing at most ``max_events`` events; returns the
        simulated time reached.

        Every event before the returned time has been processed, so a caller with a
        frame budget (the app's controller) can keep each call short and learn how far
        the simulation got. The budget counts events, never wall clock, so the result is
        reproducible. (The ``rounds`` policy does not split a step: it reaches ``until_s``.)
        """
        if not (until_s >= self.now_s and until_s < INF):
            raise ValueError("until_s must be finite and not in the simulated past")
        if max_events is not None and max_events < 1:
            raise ValueError("max_events must be >= 1")
        if until_s > self.now_s:
            self._advance(until_s, max_events)
        return self.now_s

    def advance_quiet(self, until_s: float, max_events: int | None = None) -> float:
        """Advance over a span where nothing moves; returns the simulated time reached.

        Processes events (compute tasks ending, dependencies releasing work) towards
        ``until_s``, at most ``max_events``, and stops right after the first release that
        puts chunks on the fabric (at that release's time), or at the last event when
        everything has finished. Traffic generators are not called: nothing is injected
        into a skipped span. With chunks live or work just added it does nothing. A view
        jumps its display to the time returned (``app.ui.controller``); the events are the
        ones ``advance`` would process, in the same order.
        """
        if not (until_s >= self.now_s and until_s < INF):
            raise ValueError("until_s must be finite and not in the simulated past")
        if self.si[K.C_LIVE] or self._new or not self.si[K.MH_N] or until_s == self.now_s:
            return self.now_s
        t0 = self.now_s
        self._begin_step(t0)
        self._stop_on_motion = True
        try:
            status = self._process(until_s, _CALL_EVENTS if max_events is None else max(1, int(max_events)))
        finally:
            self._stop_on_motion = False
        if status == K.ST_TIME and not self.si[K.MH_N] and not self.si[K.C_LIVE]:
            reached = max(t0, float(self.sf[0]))  # everything finished: stop at the last event
        elif status == K.ST_TIME:
            reached = until_s
        else:
            reached = min(until_s, self.next_event_s)
        self._end_step(t0, reached)
        return self.now_s

    def run_until(self, t_s: float, dt_s: float | None = None) -> None:
        """Step until ``now_s >= t_s`` (in steps of ``dt_s``, default one step)."""
        while self.now_s < t_s:
            self.step(min(dt_s or (t_s - self.now_s), t_s - self.now_s))

    def idle(self) -> bool:
        """Nothing in flight, nothing scheduled, nothing running, nothing new."""
        return self.si[K.C_LIVE] == 0 and self.si[K.MH_N] == 0 and not self._new

    def run_until_idle(self, dt_s: float = 1e-3, max_time_s: float = 1e12) -> float:
        """Process every event until all work is done; returns the time the last event completed.

        Time jumps from event to event (the step size plays no part in the result).
        Raises RuntimeError on a deadlock (chunks wait for buffers that never free) or when
        messages remain that can never be released (a dependency cycle or a dependency on
        work that never completes).
        """
        if not (dt_s > 0 and math.isfinite(dt_s)):
            raise ValueError("dt_s must be a finite number > 0")
        self._admit_new()
        if self.use_trains and self._trains is None:
            self._trains = plan_trains(self)
        while True:  # a cancelled run keeps its plan: calling again finishes it exactly
            self._admit_new()
            if self.idle() or self.next_event_s == INF:
                break
            if self.next_event_s > max_time_s:
                raise RuntimeError(f"work did not finish within {max_time_s:g} simulated seconds")
            check_cancelled()
            t0 = self.now_s
            self._begin_step(t0)
            self._process(INF, _CALL_EVENTS)
            self._end_step(t0, max(self.sf[0], t0))
        self._trains = None  # every train has arrived: the loop is chunk by chunk again
        if self.si[K.C_LIVE]:
            raise RuntimeError(f"deadlock: {int(self.si[K.C_LIVE])} chunks wait for buffers that never free "
                               f"(simulated time {self.now_s:.6g} s)")
        waiting = np.flatnonzero(self.m_state[:self.m_count] == WAITING)
        if waiting.size:
            raise RuntimeError(f"{waiting.size} messages wait on dependencies that never complete")
        done = self.m_finish[:self.m_count]
        last = self.now_s
        if np.isfinite(done).any():
            last = max(last, float(np.nanmax(done)))
        return max(last, self.log.last_finish())

    @property
    def next_event_s(self) -> float:
        """Time of the earliest pending event (inf when none)."""
        t = INF
        if self.si[K.MH_N]:
            t = float(self.mh_t[0])
        if self.si[K.IH_N]:
            t = min(t, float(self.ih_t[0]))  # times by heap position
        return t

    # ------------------------------------------------------------------ internals
    def _advance(self, t1: float, budget: int | None) -> None:
        t0 = at = self.now_s
        self._begin_step(t0)
        left = budget
        while True:
            check_cancelled()
            tg = self._generate(at, t1, budget is not None)
            n = _CALL_EVENTS if left is None else min(left, _CALL_EVENTS)
            before = int(self.si[K.EVENTS])
            status = self._process(tg, n)
            if left is not None:
                left -= int(self.si[K.EVENTS]) - before
            spent = left is not None and left <= 0
            if status == K.ST_TIME and tg < t1:
                at = tg  # the generated slice is done: generate the next, a longer one
                self._gen_span_s *= 2.0
                if not spent:
                    continue
            elif spent and self._traffic:
                self._gen_span_s = max(self._gen_span_s / 2.0, _GEN_SPAN_MIN_S)
            if status in (K.ST_TIME, K.ST_MOTION) or spent:
                break
        reached = tg if status == K.ST_TIME else min(tg, self.next_event_s)
        self._end_step(t0, reached)

    def _generate(self, at: float, t1: float, bounded: bool) -> float:
        """Run the traffic generators ahead of simulated time ``at``; returns how far the
        next ``_process`` may go (every packet created before it exists).

        Unbounded (``step``), they fill the whole span to ``t1``. Bounded (``advance`` with
        ``max_events``), they fill a slice of ``_gen_span_s`` past ``at``, doubled each
        time a slice is done and halved when the budget ran out first: traffic is created
        as fast as the engine consumes it, never a frame's span at 10,000x at once (on a
        64x64 wafer: 0.8 M packets a frame, growing without end, 12 GB). Generators make
        the same packets however their spans are cut (``SyntheticTraffic``).
        """
        if not self._traffic:
            return t1
        tg = t1
        if bounded:
            if not self._gen_span_s > 0:
                self._gen_span_s = _GEN_SPAN_MIN_S  # doubled up to what a budget covers: ~30 slices at most
            tg = min(t1, max(self._gen_until, at + self._gen_span_s))
        if tg > self._gen_until:
            for gen in self._traffic:
                gen(self, max(at, self._gen_until), tg)
            self._gen_until = tg
        return tg

    def _process(self, t1: float, max_events: int) -> int:
        """Run the compiled loop until ``t1`` or ``max_events``, growing pools it asks for."""
        self._admit_new()
        start = int(self.si[K.EVENTS])
        while True:
            left = max_events - (int(self.si[K.EVENTS]) - start)
            status, need = K.run(t1, max(left, 0), *self._kernel_args())
            self._drain()
            if status == K.ST_CHUNKS:
                self._grow_chunks(need)
            elif status != K.ST_OUT:
                return status
