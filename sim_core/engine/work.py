"""The message pool both time-advance policies share: adding work, dependencies, ids, answers.

A mixin. The engine class provides the per-message arrays (``m_src``, ``m_dst``, ``m_size``,
``m_kind``, ``m_state``, ``m_tag``, ``m_retain``, ``m_deps``, ``m_delay``, ``m_duration``,
``m_ready``, ``m_created``, ``m_release``, ``m_finish``: (Mc,) each), the free list
``m_free`` with ``m_count`` / ``m_cap`` / ``_grow_messages``, ``router``, ``now_s``, the
list ``_new`` of ids added since the last advance, and two hooks for what differs between
policies: ``_fresh_messages(ids)`` (its own per-message fields) and ``_store_edges(before,
after)`` (its dependency store). Messages and compute tasks share the pool; a compute task
is a message from a node to itself that keeps the node busy for ``m_duration``.
"""
from __future__ import annotations

import numpy as np

FREE, WAITING, SCHEDULED, ACTIVE, DONE = range(5)
KIND_MESSAGE, KIND_COMPUTE = 0, 1


def _as_slice(ids: np.ndarray):
    """``ids`` as a slice when they are consecutive (as fresh ids are), else ``ids`` itself."""
    if ids.size and ids[-1] - ids[0] == ids.size - 1 and (ids.size < 3 or bool((np.diff(ids) == 1).all())):
        return slice(int(ids[0]), int(ids[-1]) + 1)
    return ids


def sorted_counts(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values ascending, how often each occurs) of int64 ``a``, by sorting (numpy's
    hash-based ``unique`` takes seconds on millions of ids)."""
    a = np.sort(a)  # equal values are interchangeable: any sort will do
    if a.size == 0:
        return a, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], a[1:] != a[:-1]]))
    return a[starts], np.diff(np.concatenate([starts, [a.size]]))


def add_counts(total: np.ndarray, ids: np.ndarray) -> None:
    """``total[i] += (ids == i).sum()`` for every ``i``: what ``np.add.at(total, ids, 1)``
    does. ``ids``: (n,) non-negative integers below ``total.size``. Where they are dense in
    their span (a collective's dependencies: millions over consecutive fresh ids) a bincount
    of the span (linear) replaces the sort of ``sorted_counts``."""
    if ids.size == 0:
        return
    lo, hi = int(ids.min()), int(ids.max())
    if hi - lo < 4 * ids.size:
        total[lo:hi + 1] += np.bincount((ids - lo).astype(np.intp, copy=False), minlength=hi - lo + 1)
    else:
        targets, counts = sorted_counts(ids.astype(np.int64, copy=False))
        total[targets] += counts


class WorkAdding:
    # ------------------------------------------------------------------ adding work
    def add_messages(self, src, dst, size_bytes, *, at_s=None, delay_s=0.0, tag=0, retain: bool = True) -> np.ndarray:
        """Queue messages ``src[i] -> dst[i]`` of ``size_bytes[i]``, released at ``at_s[i]``
        (default: now) or, if dependencies are added before the next step, ``delay_s``
        after the last of them completes. Returns their ids ((n,) int64).

        ``retain=False`` recycles the id once the message completes (streams of synthetic
        packets); its record then lives only in ``self.log``.
        """
        if getattr(self, "_trains", None) is not None:  # their routes are planned as nobody else's
            raise RuntimeError("a cancelled run_until_idle still has trains in flight: call run_until_idle() "
                               "to finish them (or reset()) before adding work")
        src = np.atleast_1d(np.asarray(src, dtype=np.int64))
        n = src.size
        dst = np.broadcast_to(np.asarray(dst, dtype=np.int64), (n,))
        size = np.broadcast_to(np.asarray(size_bytes), (n,))
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        N = self.f.n_nodes
        if (src < 0).any() or (src >= N).any() or (dst < 0).any() or (dst >= N).any():
            raise ValueError(f"node ids must be in 0..{N - 1}")
        if not np.all(np.isfinite(size)) or (size < 0).any():
            raise ValueError("message sizes must be finite and >= 0 bytes")
        at = np.broadcast_to(np.asarray(self.now_s if at_s is None else at_s, dtype=np.float64), (n,))
        if not np.all(np.isfinite(at)) or (at < self.now_s).any():
            raise ValueError("messages cannot be released in the simulated past (or at a non-finite time)")
        delay = np.broadcast_to(np.asarray(delay_s, dtype=np.float64), (n,))
        if not np.all(np.isfinite(delay)) or (delay < 0).any():
            raise ValueError("delay_s must be finite and >= 0")
        ids = self._take_ids(n)
        sel = _as_slice(ids)  # fresh ids are a run: slices write far faster than index arrays
        self.m_src[sel], self.m_dst[sel] = src, dst
        self.m_size[sel] = np.round(size).astype(np.int64)
        self.m_kind[sel] = KIND_MESSAGE
        self.m_state[sel] = WAITING
        self.m_tag[sel] = tag
        self.m_retain[sel] = retain
        self.m_deps[sel] = 0
        self.m_delay[sel] = delay
        self.m_duration[sel] = 0.0
        self.m_ready[sel] = at
        self.m_created[sel] = at
        self.m_release[sel] = np.nan
        self.m_finish[sel] = np.nan
        self._fresh_messages(sel)
        self.router.ensure(dst)
        self._new.append(ids)
        return ids

    def send(self, src: int, dst: int, size_bytes: float, *, at_s=None, delay_s=0.0, tag=0, after=()) -> int:
        """One message; ``after``: ids it waits for. Returns its id."""
        mid = self.add_messages(src, dst, size_bytes, at_s=at_s, delay_s=delay_s, tag=tag)
        if len(after):
            self.add_dependencies(np.asarray(after, dtype=np.int64), np.repeat(mid, len(after)))
        return int(mid[0])

    def add_compute(self, node, duration_s, *, at_s=None, tag=0) -> np.ndarray:
        """Compute tasks: ``node[i]`` is busy for ``duration_s[i]`` once released."""
        node = np.atleast_1d(np.asarray(node, dtype=np.int64))
        dur = np.broadcast_to(np.asarray(duration_s, dtype=np.float64), node.shape)
        if not np.all(np.isfinite(dur)) or (dur < 0).any():
            raise ValueError("compute durations must be finite and >= 0 s")
        ids = self.add_messages(node, node, 0, at_s=at_s, tag=tag)
        sel = _as_slice(ids)
        self.m_kind[sel] = KIND_COMPUTE
        self.m_duration[sel] = dur
        return ids

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

    def add_dependencies(self, before, after, *, give: bool = False) -> None:
        """``after[i]`` is released only once ``before[i]`` has completed.

        ``give``: the caller hands over the two int64 arrays (it will not touch them again),
        so the engine keeps them instead of copies (a round of a pod-sized collective has
        tens of millions of edges).
        """
        before, after = (np.asarray(a).ravel() for a in (before, after))
        before, after = (a if a.dtype.kind in "iu" else a.astype(np.int64) for a in (before, after))
        if not give:  # given arrays are kept as they are (int32 halves a pod's tens of millions)
            before, after = before.copy(), after.copy()
        if before.size != after.size:
            raise ValueError("before and after must have the same length")
        if before.size == 0:
            return
        if (self.m_state[after] != WAITING).any():
            raise ValueError("dependencies can only be added to messages not yet released")
        if not self.m_retain[before].all():
            raise ValueError("only retained messages can be depended on")
        done = self.m_state[before] == DONE
        if done.any():
            np.maximum.at(self.m_ready, after[done], self.m_finish[before[done]])
            live = ~done
            before, after = before[live], after[live]
        add_counts(self.m_deps, after)
        kept = self._store_edges(before, after)
        rec = getattr(self, "_recording", None)
        if rec is not None:
            rec.edges.append((*kept, bool(done.any())))

    def _take_ids(self, n: int) -> np.ndarray:
        """``n`` message ids: recycled ones first, then fresh ones (growing the arrays)."""
        reuse = self.m_free[:n]
        self.m_free = self.m_free[n:]
        rest = n - len(reuse)
        if self.m_count + rest > self.m_cap:
            self._grow_messages(rest)
        fresh = np.arange(self.m_count, self.m_count + rest, dtype=np.int64)
        self.m_count += rest
        ids = np.concatenate([reuse, fresh])
        rec = getattr(self, "_recording", None)
        if rec is not None:
            rec.ids.append(ids)
        return ids

    # ------------------------------------------------------------------ repeating work
    def record_work(self):
        """A context manager that records the work added inside it as a ``RoundTemplate``
        (``sim_core.engine.replay``): ``with eng.record_work() as rec: ids = add(...)``,
        then ``rec.template(ids)`` (None when the work depends on anything outside it)."""
        from sim_core.engine.replay import Recording
        return Recording(self)

    def replay_work(self, template, reuse=None) -> np.ndarray:
        """Add the recorded work again, shifted to start now: the same messages, compute
        tasks and dependencies, with ids taken as the recorded adds took theirs. Returns
        the ids in the order ``template`` was made with.

        ``reuse``: the ids the previous round of this template returned, all completed;
        they are forgotten first, as ``forget`` would. When the pool would then hand the
        same ids back in the same order and the dependency store still holds exactly that
        round's edges, the messages are rearmed in place instead (``_rearm``): the same
        state as forgetting and adding them again, without rebuilding tens of millions of
        dependencies (a pod-sized round's turnover, 1 s -> tens of ms).
        """
        t = template
        if reuse is not None:
            ids = self._rearm(t, reuse)
            if ids is not None:
                self._rearm_out = ids[t.out]  # the caller hands this very array back next round
                return self._rearm_out
            self.forget(reuse)
        ids = self.add_messages(t.src, t.dst, t.size, at_s=self.now_s + t.at_rel, delay_s=t.delay, tag=t.tag)
        comp = np.flatnonzero(t.compute)
        self.m_kind[ids[comp]] = KIND_COMPUTE
        self.m_duration[ids[comp]] = t.duration[comp]
        # what add_dependencies would do, its checks passed when the work was recorded: every
        # edge joins two of these fresh messages, so none is done and the counts are known
        self.m_deps[ids] = t.deps
        self._store_edges(ids[t.before], ids[t.after])
        self._note_rearmable(t, ids, stored=True)
        self._rearm_out = ids[t.out]
        return self._rearm_out

    def _note_rearmable(self, template, ids: np.ndarray, stored: bool = False) -> None:
        """Remember that the dependency store now holds exactly ``template``'s edges over
        ``ids`` (position order), if it does; ``_rearm`` checks nothing changed since.
        ``stored``: as ``_adopt_edges``."""
        self._rearmable = None
        gen = getattr(self, "_edge_gen", None)
        if gen is None or ids.size == 0:
            return
        ascending = ids.size < 2 or bool((ids[1:] > ids[:-1]).all())
        if not (ascending and self._adopt_edges(template.before, template.after, ids, stored)):
            return
        whole = template.out.size == ids.size and bool(np.array_equal(np.sort(template.out), np.arange(ids.size)))
        if whole:
            roots = ids[np.asarray(template.deps) == 0]  # what _admit_new would release at once
            self._rearmable = (template, ids, self._edge_gen, _as_slice(ids), roots)

    def _rearm(self, template, reuse: np.ndarray):
        """The ids of ``template``'s previous round rearmed in place, or None when forgetting
        and replaying could give anything else (other ids in the pool, other dependencies
        since, a recording in progress, messages not all completed)."""
        token = getattr(self, "_rearmable", None)
        if token is None or token[0] is not template or getattr(self, "_recording", None) is not None:
            return None
        _, ids, gen, sel, roots = token
        if gen != self._edge_gen or self._edges or self.m_free.size or ids[-1] >= self.m_count:
            return None
        if reuse is not getattr(self, "_rearm_out", None) and not np.array_equal(reuse, ids[template.out]):
            return None
        if not ((self.m_state[sel] == DONE).all() and self.m_retain[sel].all()):
            return None
        at = self.now_s + template.at_rel
        # exactly the fields forget + add_messages + replay would write; the rest (src, dst,
        # size, kind, duration, delay, tag) are this template's already
        self.m_state[sel] = WAITING
        self.m_deps[sel] = template.deps
        self.m_ready[sel] = at
        self.m_created[sel] = at
        self.m_release[sel] = np.nan
        self.m_finish[sel] = np.nan
        self._fresh_messages(sel)
        self._new.append(roots)  # the others wait for dependencies: the kernel releases them
        return ids

    # ------------------------------------------------------------------ answers about messages
    def message_info(self, ids):
        """Retained messages ``ids`` as a ``view.MessageInfo`` (copies)."""
        from sim_core.engine.view import MessageInfo
        ids = np.asarray(ids, dtype=np.int64)
        return MessageInfo(src=self.m_src[ids].copy(), dst=self.m_dst[ids].copy(), size_bytes=self.m_size[ids].copy(),
                           tag=self.m_tag[ids].copy(), is_compute=self.m_kind[ids] == KIND_COMPUTE,
                           release_s=self.m_release[ids].copy(), finish_s=self.m_finish[ids].copy())

    def message_path(self, msg: int) -> list[int]:
        """Link ids message ``msg`` takes from its source to its destination."""
        return self.router.path(int(self.m_src[msg]), int(self.m_dst[msg]))

    def completed(self, ids) -> np.ndarray:
        """(n,) bool: which of these retained messages (or compute tasks) have completed."""
        return self.m_state[np.asarray(ids, dtype=np.int64)] == DONE

    def last_finish_s(self, ids) -> float:
        """When the last of these retained messages finished (nan if none has)."""
        ids = np.asarray(ids, dtype=np.int64)
        finish = self.m_finish[_as_slice(ids)]
        return float(np.nanmax(finish)) if ids.size and not np.isnan(finish).all() else float("nan")

    def message_times(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """(release_s, finish_s) of retained messages (nan while not yet known)."""
        ids = np.asarray(ids, dtype=np.int64)
        return self.m_release[ids].copy(), self.m_finish[ids].copy()
