"""Trains: messages alone on their route, computed whole when they are released.

A route is exclusive when every link on it is entered from one buffer only and its
receive buffer passes chunks to one place only (the next link, or the destination), and
no message already moving uses it. Every message on such a route then has the same source
and destination (following the one feeder back leads to one injection queue, following
the one successor on leads to one destination), so the route is a FIFO line of its own:
no arbitration, no other flow, and a chunk's times depend only on the chunks ahead of it.
The compiled loop therefore computes all of a message's chunk starts and deliveries at its
release, with its own arithmetic (``kernel.train_release``), and completes the message as
one event at the time and heap position where it would deliver the last chunk
(``kernel.train_arrive``). The message times are those of the chunk-by-chunk loop, bit for
bit (tested over random workloads and step sizes); only the event count drops. A flat ring
collective is all trains: every rank sends to one neighbour over links no one else uses.

Headless runs only (``Engine.run_until_idle``): a step-driven run keeps every chunk on the
fabric, where views and snapshots see it. A run cancelled part way keeps its plan: calling
``run_until_idle`` again finishes it exactly, and adding work before that is refused (the
plan's routes would no longer be exclusive).
"""
from __future__ import annotations

import numpy as np

from sim_core.engine.work import ACTIVE, KIND_MESSAGE, SCHEDULED, WAITING

NO_TRAINS = tuple(np.full(0, -1, dtype=np.int64) if i != 7 else np.zeros(0) for i in range(8)) + (
    np.zeros((1, 8)), np.zeros((0, 4), dtype=np.int64))
"""``P`` for a loop without trains: ``m_pair`` empty, so no message is one."""


def _route_csr(router, link_dst: np.ndarray, src: np.ndarray, dst: np.ndarray, max_hops: int):
    """The links from ``src[i]`` to ``dst[i]`` ((P,) int64 each): (ptr (P+1,), links (H,)),
    or None where a route is longer than ``max_hops`` (a loop). One vectorized next hop of
    every unfinished route per pass (a compiled walk would cost 8 s of first compiling)."""
    cur = src.copy()
    alive = np.flatnonzero(cur != dst)
    got_pair, got_link = [], []
    for _ in range(max_hops):
        if alive.size == 0:
            break
        nl = router.next_link(cur[alive], dst[alive])
        go = nl >= 0
        alive, nl = alive[go], nl[go]
        got_pair.append(alive)
        got_link.append(nl)
        cur[alive] = link_dst[nl]
        alive = alive[cur[alive] != dst[alive]]
    else:
        if alive.size:
            return None
    pair = np.concatenate(got_pair) if got_pair else np.zeros(0, dtype=np.int64)
    links = np.concatenate(got_link) if got_link else np.zeros(0, dtype=np.int64)
    order = np.argsort(pair, kind="stable")  # route by route, hops in order
    ptr = np.concatenate([[0], np.cumsum(np.bincount(pair, minlength=src.size))]).astype(np.int64)
    return ptr, links[order].astype(np.int64)


def _distinct_per_row(rows: np.ndarray, cols: np.ndarray, n_rows: int) -> np.ndarray:
    """How many distinct ``cols`` each row has ((n_rows,) int64), from (row, col) pairs."""
    span = int(cols.max()) + 2  # cols are >= -1
    return np.bincount(np.unique(rows * span + (cols + 1)) // span, minlength=n_rows)


def plan(eng) -> tuple | None:
    """The trains among the engine's messages not yet released: ``P`` for the compiled
    loop, or None when there are none.

    ``P = (m_pair (Mc,), tr_ptr (K+1,), tr_link (H,), buf_pair (L,), q_head (K,), q_tail (K,),
    m_qnext (Mc,), m_qtime (Mc,) float64, F (H+1, 8) float64, I (H, 4))``, int64 unless noted:
    each message's route (-1: not a train), the K exclusive routes' links, the route whose
    last link each buffer is (-1: none), per route the FIFO of its released messages waiting
    for their last chunk (the time it arrives in ``m_qtime``), and scratch rows for the hops
    of the longest route (``kernel.train_release``)."""
    if eng.source_queue_limit is not None:  # a bounded injection queue refuses by occupancy
        return None
    n, L = eng.m_count, eng.L
    state, kind = eng.m_state[:n], eng.m_kind[:n]
    src, dst, size = eng.m_src[:n], eng.m_dst[:n], eng.m_size[:n]
    moving = (kind == KIND_MESSAGE) & (size > 0) & (src != dst)
    waiting = moving & ((state == WAITING) | (state == SCHEDULED))
    moving &= state == ACTIVE
    if not waiting.any():
        return None
    ids = np.flatnonzero(waiting | moving)
    N = eng.f.n_nodes
    key = src[ids] * N + dst[ids]
    pairs = np.unique(key)  # hashed, then the few distinct pairs sorted: far faster than an inverse's sort
    inv = np.searchsorted(pairs, key)
    routes = _route_csr(eng.router, eng.link_dst, pairs // N, pairs % N, 10 * (N + 1))
    if routes is None:
        return None  # a routing loop: the chunk-by-chunk loop reports it where it happens
    ptr, links = routes
    K = pairs.size
    hops = np.diff(ptr)
    pair_of_hop = np.repeat(np.arange(K), hops)
    first = np.zeros(links.size, dtype=bool)
    first[ptr[:-1]] = True
    lastmask = np.zeros(links.size, dtype=bool)
    lastmask[ptr[1:] - 1] = True
    pred = np.where(first, L + links, np.roll(links, 1))        # the buffer a hop leaves from
    succ = np.where(lastmask, -1, np.roll(links, -1))           # where the link's buffer passes it
    simple = (_distinct_per_row(links, pred, L) == 1) & (_distinct_per_row(links, succ, L) == 1)
    busy = np.zeros(L, dtype=bool)  # links of routes with a message already on the fabric
    moving_pair = np.zeros(K, dtype=bool)
    moving_pair[inv[moving[ids]]] = True
    busy[links[moving_pair[pair_of_hop]]] = True
    blocked_hops = np.bincount(pair_of_hop, weights=~(simple[links] & ~busy[links]), minlength=K)
    ok = (blocked_hops == 0) & (hops > 0) & ~moving_pair
    if not ok.any():
        return None
    # the trains' routes, renumbered 0..K'-1
    new = np.full(K, -1, dtype=np.int64)
    new[ok] = np.arange(int(ok.sum()))
    keep = ok[pair_of_hop]
    tr_link = links[keep]
    tr_ptr = np.concatenate([[0], np.cumsum(hops[ok])]).astype(np.int64)
    m_pair = np.full(eng.m_cap, -1, dtype=np.int64)
    m_pair[ids] = new[inv]  # a moving message's route is never a train's
    buf_pair = np.full(L, -1, dtype=np.int64)
    buf_pair[tr_link[tr_ptr[1:] - 1]] = np.arange(tr_ptr.size - 1)
    k = tr_ptr.size - 1
    return (m_pair, tr_ptr, tr_link, buf_pair, np.full(k, -1, dtype=np.int64), np.full(k, -1, dtype=np.int64),
            np.full(eng.m_cap, -1, dtype=np.int64), np.zeros(eng.m_cap),
            np.zeros((int(hops[ok].max()) + 1, 8)), np.zeros((int(hops[ok].max()), 4), dtype=np.int64))
