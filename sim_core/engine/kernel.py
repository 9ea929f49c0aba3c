"""The compiled event loop: every event in (time, kind, id) order, no Python per event.

Events
------
* message events (a binary heap keyed ``(t, 2 * id + kind)``): a message or compute task
  is released (kind 1: its chunks join the injection queue of its first link) or a
  compute task ends (kind 0);
* fabric events (an indexed heap over ``2L`` entries, keyed ``(t, entry)``): entry
  ``b < L`` is the delivery of the head chunk of receive buffer ``b`` at its destination,
  entry ``L + l`` is the next start on link ``l`` (the candidate chosen by arbitration).

At equal times message events come first, then deliveries, then starts, each by id. The
order is a function of the events alone, never of where a caller's step ends, so the
result is bit-identical for every step size. A link's next start is recomputed whenever
something it depends on changes (a new head in a buffer feeding it, its own last start,
a slot freed in its receive buffer), so a start is committed with the state at its time.

All state lives in NumPy arrays owned by ``sim_core.engine.core.Engine`` and passed in as
tuples (see ``Engine._kernel_args``); compiled once and cached on disk (``cache=True``).
"""
from __future__ import annotations

import numpy as np
from sim_core.compiled import njit

from sim_core.engine import cache_guard
from sim_core.engine.heaps import borrow, ih_remove, ih_remove_call, ih_set, ih_set_call, mh_pop, mh_push, mh_push_many  # noqa: F401,E501 (re-export)

from sim_core.engine.routes import next_link

cache_guard.check()  # before any compiled function below loads from the cache

INF = np.inf
FREE, WAITING, SCHEDULED, ACTIVE, DONE = 0, 1, 2, 3, 4
KIND_COMPUTE = 1
# integer scalars (Engine.si)
IH_N, MH_N, C_NFREE, N_DONE, N_STARTED, N_REFUSED, B_INJ, B_DEL, C_MADE, C_DEL, M_DONE, M_REF, B_REF, \
    N_TOUCH, C_LIVE, EVENTS, C_DEL_STEP, TRAINS, N_SI = range(19)
# status of a call
ST_TIME, ST_BUDGET, ST_CHUNKS, ST_OUT, ST_MOTION = 0, 1, 2, 3, 4


@njit(cache=True, inline="always")
def recompute_link(l, T, D, B, C, H, si, now):
    """Choose link ``l``'s next start (earliest; ties round-robin over buffers) and (re)schedule it.

    Only the buffers whose head wants ``l`` compete: its want list (``_want``), not every
    buffer into its source node."""
    link_src, link_dst, bw, lat, ring, slots, slot_base, in_ptr, in_link = T
    link_free, rr_last, slot_free, slot_next, busy, lbytes, pick, touched, tflag, tbase = D
    b_first, b_last, b_head, b_tail, b_since, w_link, w_next, w_prev, w_first = B
    c_ready = C[6]
    L = link_src.shape[0]
    NB = 2 * L + 1
    occ = b_tail[l] - b_head[l]
    nxt = slot_next[l]
    st1 = slot_free[nxt]
    nxt2 = nxt + 1  # the slot after (a bubble needs two); no modulo: integer division is slow
    if nxt2 - slot_base[l] == slots[l]:
        nxt2 = slot_base[l]
    st2 = slot_free[nxt2]
    rr = rr_last[l]
    base_s = max(link_free[l], st1)
    best_s = INF
    best_b = -1
    best_tb = NB
    b = w_first[l]
    while b >= 0:
        h = b_first[b]
        bubble = 0
        if ring[l] >= 0 and (b >= L or ring[b] != ring[l]):
            bubble = 1
        if occ + 1 + bubble <= slots[l]:
            s = max(max(c_ready[h], b_since[b]), base_s)
            if bubble:
                s = max(s, st2)
            tb = b - rr - 1  # round-robin distance after the last winner, (b - rr - 1) mod NB
            if tb < 0:
                tb += NB
            if s < best_s or (s == best_s and tb < best_tb):
                best_s, best_b, best_tb = s, b, tb
        b = w_next[b]
    if best_b < 0:
        ih_remove(H, si, L + l)
    else:
        pick[l] = best_b
        ih_set(H, si, L + l, max(best_s, now))


@njit(cache=True, inline="always")
def _want(B, C, b):
    """Keep buffer ``b`` in the want list of the link its head chunk goes to next (none
    when empty or when the head is delivered here): doubly linked lists, one per link."""
    b_first, w_link, w_next, w_prev, w_first = B[0], B[5], B[6], B[7], B[8]
    h = b_first[b]
    t = C[4][h] if h >= 0 else -1
    if t < 0:
        t = -1
    old = w_link[b]
    if old == t:
        return
    if old >= 0:
        p, n = w_prev[b], w_next[b]
        if p >= 0:
            w_next[p] = n
        else:
            w_first[old] = n
        if n >= 0:
            w_prev[n] = p
    if t >= 0:
        n = w_first[t]
        w_next[b] = n
        w_prev[b] = -1
        if n >= 0:
            w_prev[n] = b
        w_first[t] = b
    w_link[b] = t


@njit(cache=True, inline="always")
def _pop_head(B, C, b):
    b_first, b_last, b_head = B[0], B[1], B[2]
    c = b_first[b]
    nx = C[9][c]
    b_first[b] = nx
    if nx < 0:
        b_last[b] = -1
    b_head[b] += 1
    return c


@njit(cache=True, inline="always")
def _push_tail(B, C, b, c):
    b_first, b_last, b_tail = B[0], B[1], B[3]
    C[9][c] = -1
    C[3][c] = b_tail[b]
    b_tail[b] += 1
    if b_last[b] < 0:
        b_first[b] = c
    else:
        C[9][b_last[b]] = c
    b_last[b] = c


@njit(cache=True, inline="always")
def _new_head(b, h, L, c_nxt, c_ready, b_since, H, si, now):
    """Buffer ``b`` has head ``h`` (or none, -1): schedule its delivery, or return the link
    the head wants next (whose start must be recomputed; -1 if none).

    Inlined at one call site only, in ``run``: events hand it their new heads as (buffer,
    head) pairs. Three inlined copies ran faster still but doubled the cold compile."""
    if h < 0:
        if b < L:
            ih_remove(H, si, b)
        return -1
    nl = c_nxt[h]
    if nl < 0:
        ih_set(H, si, b, max(max(c_ready[h], b_since[b]), now))
        return -1
    if b < L:
        ih_remove(H, si, b)
    return nl


@njit(cache=True, inline="always")
def commit(l, s, T, D, B, C, H, R, si, t_step0, unit):
    """The head of ``pick[l]`` starts on link ``l`` at ``s``. Returns what changed, for
    ``run`` to finish: ``(l, b, nb0, h0, nb1, h1)``, the links whose next start may have
    changed (``l``; the buffer ``b`` it left, -1 unless that may free a waiting link) and
    up to two buffers with a new head ``h`` (``nb`` -1: none) whose ``_new_head`` adds the
    link that head wants. ``run`` recomputes the links once the state is final
    (``recompute_link`` only reads the state, so it may run after every change).

    Chunks larger than ``unit`` bytes move cut-through: a node passes a chunk on once its
    first ``unit`` bytes have arrived (its ready time), and the chunk cannot finish
    leaving before its last byte has arrived (its tail) plus one unit on the way out. A
    chunk of at most ``unit`` bytes is stored and forwarded whole, as before."""
    link_src, link_dst, bw, lat, ring, slots, slot_base, in_ptr, in_link = T
    link_free, rr_last, slot_free, slot_next, busy, lbytes, pick, touched, tflag, tbase = D
    c_msg, c_dst, c_buf, c_seq, c_nxt, c_start, c_ready, c_size, c_slot, c_after, c_tail = C
    L = link_src.shape[0]
    b = pick[l]
    # link b (feeding this buffer) waits for a slot only when its buffer is (nearly) full
    b_blocked = b < L and B[3][b] - B[2][b] >= slots[b] - 1
    c = _pop_head(B, C, b)
    _want(B, C, b)
    size = c_size[c]
    ser = size / bw[l]
    cut = size > unit
    if cut and b < L:  # still arriving over link b: the tail bounds when it has left
        trickle = (c_tail[c] - s) + unit / bw[l]
        if trickle > ser:
            ser = trickle
    if b < L:  # one read port at the incoming link's rate; the slot frees once the chunk left
        B[4][b] = s + size / bw[b]
        slot_free[c_slot[c]] = s + ser
    else:
        B[4][b] = s
    slot = slot_next[l]
    slot_free[slot] = INF
    c_slot[c] = slot
    slot_next[l] = slot_base[l] if slot + 1 - slot_base[l] == slots[l] else slot + 1
    end = s + ser
    c_buf[c] = l
    c_start[c] = s
    c_tail[c] = end + lat[l]
    c_nxt[c] = next_link(R, link_dst[l], c_dst[c])
    # the next link may start once the first unit is here; the destination takes it whole
    c_ready[c] = s + unit / bw[l] + lat[l] if cut and c_nxt[c] >= 0 else end + lat[l]
    _push_tail(B, C, l, c)
    _want(B, C, l)
    if not tflag[l]:  # busy seconds up to the start of this step, for per-step utilization
        tflag[l] = True
        tbase[l] = busy[l] - max(0.0, link_free[l] - t_step0)
        touched[si[N_TOUCH]] = l
        si[N_TOUCH] += 1
    busy[l] += ser
    lbytes[l] += size
    link_free[l] = end
    rr_last[l] = b
    # the new heads of both buffers, for run's one inlined _new_head (-1: no new head of l)
    return l, b if b_blocked else -1, b, B[0][b], l if B[0][l] == c else -1, c


@njit(cache=True, inline="always")
def complete(m, t, Mg, M, O, si):
    """Message (or compute task) ``m`` finished at ``t``: record it, release its dependents."""
    (m_src, m_dst, m_size, m_kind, m_state, m_retain, m_deps, m_left, m_delay, m_duration,
     m_ready, m_release, m_finish, dep_ptr, dep_to) = Mg
    m_state[m] = DONE
    m_finish[m] = t
    si[M_DONE] += 1
    O[0][si[N_DONE]] = m
    si[N_DONE] += 1
    if m + 1 < dep_ptr.shape[0]:
        for k in range(dep_ptr[m], dep_ptr[m + 1]):
            d = dep_to[k]
            if t > m_ready[d]:
                m_ready[d] = t
            m_deps[d] -= 1
            if m_deps[d] == 0 and m_state[d] == WAITING:
                m_state[d] = SCHEDULED
                m_release[d] = m_ready[d] + m_delay[d]
                mh_push(M, si, m_release[d], 2 * d + 1)


@njit(cache=True, inline="always")
def deliver(b, t, T, D, B, C, H, Mg, M, O, si, unit):
    """The head chunk of buffer ``b`` arrives at its destination at ``t``; returns what
    changed (as ``commit``): link ``b`` only when it may be waiting for the slot, and
    buffer ``b``'s new head; and the message that chunk completes (-1: none)."""
    b_blocked = B[3][b] - B[2][b] >= T[5][b] - 1
    c = _pop_head(B, C, b)
    _want(B, C, b)
    size = C[7][c]
    D[2][C[8][c]] = t
    # ejection, one read port at the link's rate: the next chunk is read after this one's
    # last unit (a cut-through chunk was read as its units came in; reading it again whole
    # would hold back the chunk behind it by its full size)
    B[4][b] = t + min(size, unit) / T[2][b]
    si[B_DEL] += size
    si[C_DEL] += 1
    si[C_DEL_STEP] += 1
    si[C_LIVE] -= 1
    m = C[0][c]
    fin = Mg[12]
    if np.isnan(fin[m]) or t > fin[m]:
        fin[m] = t
    Mg[7][m] -= 1
    C[4][c] = -2
    C[2][c] = -1
    O[3][si[C_NFREE]] = c
    si[C_NFREE] += 1
    # the message it completes (-1: none), for run's one call of complete
    return (b if b_blocked else -1, -1, b, B[0][b], -1, -1), m if Mg[7][m] == 0 else -1


@njit(cache=True, inline="always")
def message_chunks(size, chunk_bytes, max_chunks):
    cb = max(chunk_bytes, -(-size // max_chunks))
    return cb, -(-size // cb)


@njit(cache=True, inline="always")
def release(m, t, T, D, B, C, H, R, Mg, M, O, si, cfg):
    """Message ``m`` is released at ``t``: compute starts, local work completes, chunks queue.
    Returns what changed (as ``commit``): the first link, if its queue was empty."""
    (m_src, m_dst, m_size, m_kind, m_state, m_retain, m_deps, m_left, m_delay, m_duration,
     m_ready, m_release, m_finish, dep_ptr, dep_to) = Mg
    chunk_bytes, max_chunks, queue_limit = cfg[0], cfg[1], cfg[2]
    L = T[0].shape[0]
    m_state[m] = ACTIVE
    if m_kind[m] == KIND_COMPUTE:
        O[1][si[N_STARTED]] = m
        si[N_STARTED] += 1
        mh_push(M, si, t + m_duration[m], 2 * m)
        return -1, -1, -1, -1, -1, -1
    size = m_size[m]
    if size == 0 or m_src[m] == m_dst[m]:
        si[B_INJ] += size
        si[B_DEL] += size
        complete(m, t, Mg, M, O, si)
        return -1, -1, -1, -1, -1, -1
    first = next_link(R, m_src[m], m_dst[m])
    q = L + first
    if queue_limit >= 0 and not m_retain[m] and B[3][q] - B[2][q] >= queue_limit:
        si[M_REF] += 1
        si[B_REF] += size
        m_state[m] = FREE
        O[2][si[N_REFUSED]] = m
        si[N_REFUSED] += 1
        return -1, -1, -1, -1, -1, -1
    cb, n = message_chunks(size, chunk_bytes, max_chunks)
    m_left[m] = n
    si[B_INJ] += size
    si[C_MADE] += n
    si[C_LIVE] += n
    was_empty = B[0][q] < 0
    for k in range(n):
        si[C_NFREE] -= 1
        c = O[3][si[C_NFREE]]
        C[0][c] = m
        C[1][c] = m_dst[m]
        C[2][c] = q
        C[4][c] = first
        C[5][c] = t
        C[6][c] = t
        C[7][c] = size - (n - 1) * cb if k == n - 1 else cb
        C[8][c] = -1
        C[10][c] = t  # every byte is at its source
        _push_tail(B, C, q, c)
    _want(B, C, q)
    return first if was_empty else -1, -1, -1, -1, -1, -1


@njit(cache=True, inline="always")
def train_release(m, t, bw, lat, ring, slots, slot_base, link_free, rr_last, slot_free, slot_next, busy, lbytes,
                  touched, tflag, tbase, b_since, m_size, m_state, m_left, P, H, si, chunk_bytes, max_chunks, unit,
                  t_step0):
    """Message ``m`` rides an exclusive path (``sim_core.engine.trains``): every chunk's
    start on every link and its delivery, computed now, chunk after chunk and hop after hop,
    with the arithmetic of ``recompute_link``, ``commit`` and ``deliver``. Nothing else uses
    these links and buffers, and in a FIFO line a chunk's times depend only on the chunks
    ahead of it, all computed already, so these are the times the event loop would reach.
    The message then completes in one event: its last buffer's delivery entry at the time
    its last chunk arrives (``train_arrive``), where the loop would deliver that chunk.

    Inlined (a compiled call passes every array field by field: 250 ns a message); its
    one heap update is a call (another inlined sift costs seconds of compiling)."""
    m_pair, tr_ptr, tr_link, buf_pair, q_head, q_tail, m_qnext, m_qtime, F, I = P
    L = slots.shape[0]
    size = m_size[m]
    m_state[m] = ACTIVE
    cb, n = message_chunks(size, chunk_bytes, max_chunks)
    m_left[m] = 0
    si[B_INJ] += size
    si[C_MADE] += n
    si[C_LIVE] += n
    si[TRAINS] += 1
    p = m_pair[m]
    a, z = tr_ptr[p], tr_ptr[p + 1]
    h = z - a
    last = tr_link[z - 1]
    # Each hop's state in the scratch rows F[j] (float) and I[j] (int), copied back at the
    # end: the chunk loop then reads small contiguous rows instead of the link arrays through
    # the route, 3.4 times faster with the same arithmetic. F[j]: 0 link free, 1 read port of
    # the buffer hop j leaves (row h: the last buffer's, at delivery), 2 and 3 a full chunk's
    # serialization and read, 4 latency, 5 busy seconds, 6 and 7 the link's and the buffer's
    # bandwidth; I[j]: 0 next slot, 1 first slot, 2 end of the slots, 3 bubble needed.
    for j in range(h):
        l = tr_link[a + j]
        b = L + l if j == 0 else tr_link[a + j - 1]
        if not tflag[l]:  # busy seconds up to the start of this step, as commit does
            tflag[l] = True
            tbase[l] = busy[l] - max(0.0, link_free[l] - t_step0)
            touched[si[N_TOUCH]] = l
            si[N_TOUCH] += 1
        lbytes[l] += size
        rr_last[l] = b
        F[j, 0] = link_free[l]
        F[j, 1] = b_since[b]
        F[j, 2] = cb / bw[l]
        F[j, 3] = cb / bw[b] if b < L else 0.0
        F[j, 4] = lat[l]
        F[j, 5] = busy[l]
        F[j, 6] = bw[l]
        F[j, 7] = bw[b] if b < L else 1.0
        I[j, 0] = slot_next[l]
        I[j, 1] = slot_base[l]
        I[j, 2] = slot_base[l] + slots[l]
        I[j, 3] = 1 if ring[l] >= 0 and (b >= L or ring[b] != ring[l]) else 0
    F[h, 1] = b_since[last]
    F[h, 6] = bw[last]
    fin = t
    for k in range(n):
        csize = size - (n - 1) * cb if k == n - 1 else cb
        full = csize == cb
        cut = csize > unit
        ready = t  # as release: every byte is at its source, in the injection queue
        tail = t
        held = -1  # the slot the chunk holds in the buffer it is in
        for j in range(h):
            # recompute_link with one candidate (the occupancy test is implied: the slot's
            # last holder left before slot_free, and so did the one after it)
            nxt = I[j, 0]
            nx1 = nxt + 1
            if nx1 == I[j, 2]:
                nx1 = I[j, 1]
            s = max(max(ready, F[j, 1]), max(F[j, 0], slot_free[nxt]))
            if I[j, 3]:
                s = max(s, slot_free[nx1])
            # commit
            ser = F[j, 2] if full else csize / F[j, 6]
            if cut and j > 0:
                trickle = (tail - s) + unit / F[j, 6]
                if trickle > ser:
                    ser = trickle
            if j > 0:
                F[j, 1] = s + (F[j, 3] if full else csize / F[j, 7])
                slot_free[held] = s + ser
            else:
                F[j, 1] = s
            held = nxt
            I[j, 0] = nx1
            end = s + ser
            tail = end + F[j, 4]
            ready = s + unit / F[j, 6] + F[j, 4] if cut and j < h - 1 else tail
            F[j, 5] += ser
            F[j, 0] = end
        # deliver, from the last link's buffer
        td = max(ready, F[h, 1])
        slot_free[held] = td
        F[h, 1] = td + min(csize, unit) / F[h, 6]
        if td > fin:
            fin = td
    for j in range(h):
        l = tr_link[a + j]
        link_free[l] = F[j, 0]
        b_since[L + l if j == 0 else tr_link[a + j - 1]] = F[j, 1]
        slot_next[l] = I[j, 0]
        busy[l] = F[j, 5]
    b_since[last] = F[h, 1]
    m_qtime[m] = fin
    m_qnext[m] = -1
    if q_tail[p] < 0:
        q_head[p] = m
        ih_set_call(H, si, last, fin)
    else:
        m_qnext[q_tail[p]] = m
    q_tail[p] = m


@njit(cache=True, inline="always")
def train_arrive(e, t, m_size, m_finish, P, H, si, chunk_bytes, max_chunks):
    """The last chunk of the train at the head of buffer ``e``'s queue arrives: returns the
    message it completes, having moved the counters a delivery of each of its chunks would."""
    m_pair, tr_ptr, tr_link, buf_pair, q_head, q_tail, m_qnext, m_qtime, F, I = P
    p = buf_pair[e]
    m = q_head[p]
    nx = m_qnext[m]
    q_head[p] = nx
    if nx < 0:
        q_tail[p] = -1
        ih_remove_call(H, si, e)
    else:
        ih_set_call(H, si, e, m_qtime[nx])
    size = m_size[m]
    cb, n = message_chunks(size, chunk_bytes, max_chunks)
    si[B_DEL] += size
    si[C_DEL] += n
    si[C_DEL_STEP] += n
    si[C_LIVE] -= n
    m_finish[m] = t
    return m


@njit(cache=True, nogil=True)  # nogil: independent engines run side by side on threads (sim_core.parallel)
def run(t_end, max_events, T, D, B, C, H, R, Mg, M, O, si, sf, cfg, P):
    """Process events with t < ``t_end``, at most ``max_events``. Returns (status, need).

    ``cfg``: (chunk bytes, max chunks per message, source queue limit, stop on motion,
    forwarding unit in bytes): with stop on motion set, the loop returns ST_MOTION right
    after a release puts chunks on the fabric; chunks larger than the unit move cut-through
    (``commit``).

    ``sf[0]`` is the time of the last processed event; ``sf[1]`` the start of the caller's
    step (for per-step busy time). ``need``: chunks wanted when the status is ST_CHUNKS.
    ``P``: the trains of ``sim_core.engine.trains`` (``m_pair`` empty: none).
    """
    T, D, B, C, H, R, Mg, M, O, P = borrow(T), borrow(D), borrow(B), borrow(C), borrow(H), borrow(R), \
        borrow(Mg), borrow(M), borrow(O), borrow(P)
    si, sf = borrow((si, sf))  # the counters too: each use would otherwise take and drop a reference
    n_pair = P[0].shape[0]
    trains = P[3].shape[0] > 0
    ih_t, ih_heap = H[2], H[0]
    mh_t, mh_k = M
    L = T[0].shape[0]
    out_cap = O[0].shape[0]
    done = 0
    while True:
        tm = mh_t[0] if si[MH_N] > 0 else INF
        ti = ih_t[0] if si[IH_N] > 0 else INF
        t = min(tm, ti)
        if not t < t_end:
            return ST_TIME, 0
        if done >= max_events:
            return ST_BUDGET, 0
        if si[N_DONE] >= out_cap or si[N_STARTED] >= out_cap or si[N_REFUSED] >= out_cap:
            return ST_OUT, 0
        sf[0] = t
        motion = False
        cm = -1  # the message this event completes: one inlined complete for every kind of event
        if tm <= ti:
            key = mh_k[0]
            m = key >> 1
            if key & 1:
                if Mg[4][m] != SCHEDULED:
                    mh_pop(M, si)
                    continue
                if m < n_pair and P[0][m] >= 0:
                    mh_pop(M, si)
                    train_release(m, t, T[2], T[3], T[4], T[5], T[6], D[0], D[1], D[2], D[3], D[4], D[5], D[7], D[8],
                                  D[9], B[4], Mg[2], Mg[4], Mg[7], P, H, si, cfg[0], cfg[1], cfg[4], sf[1])
                    done += 1
                    si[EVENTS] += 1
                    continue
                if Mg[3][m] != KIND_COMPUTE and Mg[2][m] > 0:
                    cb, n = message_chunks(Mg[2][m], cfg[0], cfg[1])
                    if n > si[C_NFREE]:
                        return ST_CHUNKS, n
                mh_pop(M, si)
                r = release(m, t, T, D, B, C, H, R, Mg, M, O, si, cfg)
                motion = cfg[3] and si[C_LIVE] > 0  # asked to stop once something moves (Engine.advance_quiet)
            else:
                mh_pop(M, si)
                cm = m  # a compute task ends
                r = (-1, -1, -1, -1, -1, -1)
        else:
            # The entry stays in the heap: the event itself re-keys or removes it (a
            # commit recomputes its link, a delivery its buffer's next head), one sift
            # instead of a removal and a re-insertion; pops depend on the keys alone.
            e = ih_heap[0]
            if trains and e < L and P[3][e] >= 0:
                cm = train_arrive(e, t, Mg[2], Mg[12], P, H, si, cfg[0], cfg[1])
                r = (-1, -1, -1, -1, -1, -1)
            elif e < L:
                r, cm = deliver(e, t, T, D, B, C, H, Mg, M, O, si, cfg[4])
            else:
                r = commit(e - L, t, T, D, B, C, H, R, si, sf[1], cfg[4])
        # the one inlined copy of _new_head, for the (buffer, head) pairs the event left
        r2, r3 = -1, -1
        for j in range(2):
            nb = r[2] if j == 0 else r[4]
            if nb >= 0:
                x = _new_head(nb, r[3] if j == 0 else r[5], L, C[4], C[6], B[4], H, si, t)
                if j == 0:
                    r2 = x
                else:
                    r3 = x
        # the one inlined copy of recompute_link, for every link an event touched, each once
        r0, r1 = r[0], r[1]
        for i in range(4):
            x = r0 if i == 0 else (r1 if i == 1 else (r2 if i == 2 else r3))
            if x >= 0 and (i < 1 or x != r0) and (i < 2 or x != r1) and (i < 3 or x != r2):
                recompute_link(x, T, D, B, C, H, si, t)
        if cm >= 0:  # its finish is the time of its last chunk's delivery, or of this event
            complete(cm, Mg[12][cm] if Mg[3][cm] != KIND_COMPUTE else t, Mg, M, O, si)
        done += 1
        si[EVENTS] += 1
        if motion:
            return ST_MOTION, 0


@njit(cache=True)
def waiting_chunks(c_nxt, c_ready, now):
    """Chunks that have arrived somewhere and wait for their next link."""
    n = 0
    for i in range(c_nxt.shape[0]):
        if c_nxt[i] >= 0 and c_ready[i] <= now:
            n += 1
    return n
