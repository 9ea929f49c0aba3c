"""Lay collective programs onto an engine as arrays: one call adds every send and reduction.

The rule (``schedule``'s module docstring): a rank's send in step k waits for everything
the rank received since its previous send (after the reduction of it, if any) and for its
own previous sends. Each independent piece (a channel lane, an NVLS segment) follows it
on its own. Per (piece, rank) the ids a next send waits for are kept as *entries*
(key = piece x P + rank, ref); a step joins its sends to their keys' entries, drops them,
and adds its sends (and its receipts, or the reductions of them) as new entries.

Pieces of the same shape (sizes of every step, reductions) are laid out together, step
by step over all of them at once, so a ring over 8 rails x 8 slots costs one pass over
its steps, not 64. Ids are assigned as if the pieces were laid out one after another
(each step's sends, then its reductions), so the engine's tie-breaking by id is that of
laying one piece at a time.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim_core.fabric.arrays import SWITCH
from sim_core.workloads.collectives.protocols import link_class, step_delay_s
from sim_core.workloads.collectives.reduction import exposed_bytes

EMPTY = np.zeros(0, dtype=np.int64)
REF_DTYPE = np.int32  # edge refs and positions (a pod's round has ~20 M edges; ids < 2**31)


@dataclass
class Piece:
    """One independent program: ``steps`` (``programs.Step`` list), ``nodes`` ((P,) int64
    engine nodes of its local ranks), ``first`` (per local rank, refs its first send waits
    for: see ``ext``), ``timed`` (its steps wait the protocol's delays and the launch)."""

    steps: list
    nodes: np.ndarray
    first: list
    timed: bool = True


def ext(ids) -> np.ndarray:
    """Refs of engine ids that already exist (refs >= 0 are positions in this layout)."""
    return -1 - np.asarray(ids, dtype=np.int64)


class _Plan:
    """Every entry of the layout by position: what ``Engine.add_work`` takes, and the edges."""

    def __init__(self, total: int):
        self.src = np.zeros(total, dtype=np.int64)
        self.dst = np.zeros(total, dtype=np.int64)
        self.size = np.zeros(total)
        self.delay = np.zeros(total)
        self.compute = np.zeros(total, dtype=bool)
        self.duration = np.zeros(total)
        self.before: list[np.ndarray] = []  # refs, REF_DTYPE
        self.after: list[np.ndarray] = []  # positions, REF_DTYPE

    def add_edges(self, before: np.ndarray, after: np.ndarray) -> None:
        """``after[i]`` waits for ``before[i]`` (refs, positions), kept as ``REF_DTYPE``."""
        self.before.append(before.astype(REF_DTYPE))
        self.after.append(after.astype(REF_DTYPE))


def _shape(piece: Piece) -> tuple:
    """(P, timed, ((K, J, reduce) per non-empty step)): pieces of one shape go together."""
    sig = []
    for st in piece.steps:
        if st.src.size:
            # a set, not np.unique: thousands of steps of a few ranks each (ring on 64 GPUs: 0.1 s)
            sig.append((st.src.size, len(set(st.dst.tolist())) if st.reduce else 0, bool(st.reduce)))
    return (piece.nodes.size, piece.timed, tuple(sig))


def lay_out(eng, pieces: list[Piece], *, algo: str, protocol: str, eff: float, sl, launch: float,
            gamma, tag: int, start: float, chain: bool = False):
    """Add ``pieces`` to ``eng``. Returns (ids (T,) int64 in piece order, per piece the
    (P,) int64 id of each local rank's first send or -1, and the ids each local rank's
    parts end with (its last sends and every receipt after them) as ``(rank, id)``: two
    (n,) int64 arrays sorted by local rank, then piece, then entry).

    ``gamma(nodes)``: reduction seconds per byte of each node. ``chain``: each piece's
    ``first`` is replaced by the previous piece's first sends (NVLS segments follow one
    another on each rank's uplink).
    """
    shapes = [_shape(pc) for pc in pieces]
    sizes = [sum(k + j for k, j, _ in sh[2]) for sh in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    plan = _Plan(int(offsets[-1]))
    first_pos: list = [None] * len(pieces)  # (P,) positions (or -1) per piece
    if chain:
        groups = [[g] for g in range(len(pieces))]
    else:
        by_shape: dict = {}
        for g, sh in enumerate(shapes):
            by_shape.setdefault(sh, []).append(g)
        groups = list(by_shape.values())
    tail_piece, tail_rank, tail_ref = [], [], []
    for gs in groups:
        g0 = gs[0]
        if chain and g0 > 0:  # the previous segment is added: wait on its first sends by id
            ids = _add(eng, plan, tag, start, upto=int(offsets[g0]))
            pieces[g0].first = [ext([ids[m]]) if m >= 0 else EMPTY for m in first_pos[g0 - 1]]
        f, (key, ref) = _lay_group(eng, plan, [pieces[g] for g in gs], offsets[gs], algo, protocol, eff, sl, launch,
                                   gamma)
        P = pieces[g0].nodes.size
        for i, g in enumerate(gs):
            first_pos[g] = f[i]
        tail_piece.append(np.asarray(gs, dtype=np.int64)[key // P])
        tail_rank.append(key % P)
        tail_ref.append(ref)
    ids = _add(eng, plan, tag, start, upto=int(offsets[-1]))
    firsts = [np.where(f >= 0, ids[np.maximum(f, 0)], -1) for f in first_pos]
    piece, rank, ref = (np.concatenate(a) if a else EMPTY for a in (tail_piece, tail_rank, tail_ref))
    order = np.lexsort((np.arange(rank.size), piece, rank))  # by rank, then piece, then entry
    return ids, firsts, (rank[order], _resolve(ids, ref[order]))


def _resolve(ids: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """Engine ids of refs (positions >= 0 in ``ids``; ``ext`` refs < 0): a new (n,) int64
    array, built with one temporary (a round of a pod-sized collective has ~20 M refs)."""
    out = np.maximum(refs, 0).astype(np.int64, copy=False)
    np.take(ids, out, out=out)
    neg = refs < 0
    out[neg] = -1 - refs[neg]
    return out


_BLOCK = 1 << 20  # refs resolved per pass: temporaries of a few MB, not of every edge


def _resolve_in_place(ids: np.ndarray, refs: np.ndarray) -> None:
    """``refs`` ((n,) integers, owned by the caller) overwritten with ``_resolve(ids, refs)``."""
    for lo in range(0, refs.size, _BLOCK):
        part = refs[lo:lo + _BLOCK]
        part[...] = _resolve(ids, part)


def _gather_in_place(ids: np.ndarray, pos: np.ndarray) -> None:
    """``pos`` ((n,) integer positions, owned by the caller) overwritten with ``ids[pos]``."""
    for lo in range(0, pos.size, _BLOCK):
        part = pos[lo:lo + _BLOCK]
        part[...] = ids[part]


def _add(eng, plan: _Plan, tag: int, start: float, upto: int) -> np.ndarray:
    """Add the plan's entries up to position ``upto`` not yet added (and their edges whose
    ends are added); returns the ids of every position added so far."""
    done = getattr(plan, "ids", EMPTY)
    lo = done.size
    if upto > lo:
        sl = slice(lo, upto)
        at = np.where(plan.compute[sl], eng.now_s, start)  # reductions: from now, as add_compute
        new = eng.add_work(plan.src[sl], plan.dst[sl], plan.size[sl], duration_s=plan.duration[sl],
                           is_compute=plan.compute[sl], at_s=at, delay_s=plan.delay[sl], tag=tag)
        done = np.concatenate([done, new])
        plan.ids = done
    if plan.before:
        # drop each list's parts as soon as they are joined (tens of millions of edges)
        before = plan.before[0] if len(plan.before) == 1 else np.concatenate(plan.before)
        plan.before = []
        after = plan.after[0] if len(plan.after) == 1 else np.concatenate(plan.after)
        plan.after = []
        ready = (after < done.size) & (before < done.size)
        if ready.all():  # the last call: every edge at once, resolved in place, no copies
            _resolve_in_place(done, before)
            _gather_in_place(done, after)
            eng.add_dependencies(before, after, give=True)
            del before, after
            plan.before, plan.after = [], []
        else:
            if ready.any():
                eng.add_dependencies(_resolve(done, before[ready]), done[after[ready]])
            plan.before, plan.after = [before[~ready]], [after[~ready]]
    return done


def _lay_group(eng, plan: _Plan, pieces: list[Piece], offsets: np.ndarray, algo, protocol, eff, sl, launch, gamma):
    """Plan G pieces of one shape at once; returns ((G, P) first-send positions or -1, and
    the refs each (piece, local rank) ends with as (key = piece x P + rank, ref), sorted by
    key, in entry order within a key)."""
    fab = eng.f
    G, P = len(pieces), pieces[0].nodes.size
    nodes = np.stack([pc.nodes for pc in pieces]).astype(np.int64)  # (G, P)
    flat_nodes = nodes.ravel()
    gam = np.asarray(gamma(flat_nodes), dtype=np.float64)
    timed = pieces[0].timed
    gi = np.arange(G)[:, None]
    firsts = [r for pc in pieces for r in pc.first]
    keys0 = np.concatenate([g * P + np.arange(len(pc.first), dtype=np.int64) for g, pc in enumerate(pieces)] or [EMPTY])
    ent_key = np.repeat(keys0, [len(r) for r in firsts])
    ent_ref = np.concatenate([np.asarray(r, dtype=np.int64) for r in firsts] or [EMPTY])
    started = np.zeros(G * P, dtype=bool)
    first = np.full(G * P, -1, dtype=np.int64)
    at = 0  # position within a piece
    nonempty = [[st for st in pc.steps if st.src.size] for pc in pieces]
    for steps in zip(*nonempty):
        src_l = np.stack([st.src for st in steps])
        dst_l = np.stack([st.dst for st in steps])
        nb = np.stack([st.nbytes for st in steps]).ravel()
        K = src_l.shape[1]
        pos = (offsets[:, None] + at + np.arange(K)[None, :]).ravel()
        keys = (gi * P + src_l).ravel()
        dkeys = (gi * P + dst_l).ravel()
        srcn, dstn = flat_nodes[keys], flat_nodes[dkeys]
        delay = step_delay_s(algo, protocol, link_class(fab, srcn, dstn)) if timed else np.zeros(keys.size)
        # ranks wait the launch latency before their first send; a reducing switch does not
        delay = delay + np.where(started[keys] | (fab.node_kind[srcn] == SWITCH), 0.0, launch if timed else 0.0)
        plan.src[pos], plan.dst[pos] = srcn, dstn
        plan.size[pos] = np.floor(nb / eff + 0.5)  # whole bytes, the total kept for fractional shares
        plan.delay[pos] = delay
        fresh = ~started[keys]
        first[keys[fresh]] = pos[fresh]
        started[keys] = True
        # each send waits for its rank's entries (receipts since its last send, and that send);
        # keys are small integers (< G x P), so counting replaces searching and set tests
        order = np.argsort(ent_key, kind="stable")
        sr = ent_ref[order]
        per_key = np.bincount(ent_key, minlength=G * P)
        lo, cnt = (np.cumsum(per_key) - per_key)[keys], per_key[keys]
        n_edges = int(cnt.sum())
        if n_edges:
            idx = np.repeat(lo, cnt) + np.arange(n_edges) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            plan.add_edges(sr[idx], np.repeat(pos, cnt))
        sending = np.zeros(G * P, dtype=bool)
        sending[keys] = True
        keep = ~sending[ent_key]
        ent_key, ent_ref = np.concatenate([ent_key[keep], keys]), np.concatenate([ent_ref[keep], pos])
        if steps[0].reduce:
            got = np.bincount(dkeys, weights=exposed_bytes(nb, sl), minlength=G * P)
            recv = np.flatnonzero(np.bincount(dkeys, minlength=G * P))  # by piece, then by rank
            J = recv.size // G
            jobs = (offsets[:, None] + at + K + np.arange(J)[None, :]).ravel()
            plan.src[jobs] = plan.dst[jobs] = flat_nodes[recv]
            plan.compute[jobs] = True
            plan.duration[jobs] = got[recv] * gam[recv]
            job_of = np.empty(G * P, dtype=np.int64)  # each receiving key's reduction
            job_of[recv] = jobs
            plan.add_edges(pos, job_of[dkeys])
            ent_key, ent_ref = np.concatenate([ent_key, recv]), np.concatenate([ent_ref, jobs])
            at += K + J
        else:
            ent_key, ent_ref = np.concatenate([ent_key, dkeys]), np.concatenate([ent_ref, pos])
            at += K
    order = np.argsort(ent_key, kind="stable")
    return first.reshape(G, P), (ent_key[order], ent_ref[order])
