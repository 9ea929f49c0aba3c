"""Heaps for the event loop (compiled): an indexed heap of fabric events and a binary heap
of message events, both ordered by (time, key); and ``borrow``, which hands arrays to
compiled callees without reference counting.

Indexed heap ``H = (heap, pos, t)``: ``heap`` (E,) int64 entries by position, ``pos`` (E,)
int64 position of each entry (-1: absent), ``t`` (E,) float64 the time at each position
(entry ``e``'s time is ``t[pos[e]]``); ties go to the smaller entry. Message heap
``M = (t, key)``: (cap,) float64 and int64. Sizes live in ``si[IH_N]`` and ``si[MH_N]``.
"""
from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from sim_core.compiled import njit

IH_N, MH_N = 0, 1


@intrinsic
def borrow(typingctx, tup):
    """The same tuple of arrays without their reference counts (meminfo NULL).

    Every call between compiled functions would otherwise add and drop a reference to
    each array it passes (an atomic operation each, most of the loop's time); the arrays
    stay alive in the caller for the whole ``run``.
    """
    if not isinstance(tup, types.BaseTuple):
        return None

    def codegen(context, builder, signature, args):
        items = cgutils.unpack_tuple(builder, args[0])
        out = []
        for ty, val in zip(tup.types, items):
            if isinstance(ty, types.Array):
                src = context.make_array(ty)(context, builder, value=val)
                dst = context.make_array(ty)(context, builder)
                for name in ("nitems", "itemsize", "data", "shape", "strides"):
                    setattr(dst, name, getattr(src, name))
                dst.meminfo = cgutils.get_null_value(dst.meminfo.type)
                dst.parent = cgutils.get_null_value(dst.parent.type)
                val = dst._getvalue()
            out.append(val)
        return context.make_tuple(builder, tup, out)
    return tup(tup), codegen


@njit(cache=True, inline="always")
def _ih_before(ta, ea, tb, eb):
    return ta < tb or (ta == tb and ea < eb)


@njit(cache=True, inline="always")
def _ih_sift(heap, pos, t, i, n, e, te):
    """Place entry ``e`` with time ``te`` at position ``i`` and restore the heap property
    (up, then down). Times are kept by position, beside the entries, so a comparison reads
    two neighbouring slots instead of following each entry to its time."""
    while i > 0:
        p = (i - 1) >> 1
        if _ih_before(te, e, t[p], heap[p]):
            heap[i] = heap[p]
            t[i] = t[p]
            pos[heap[i]] = i
            i = p
        else:
            break
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and _ih_before(t[c + 1], heap[c + 1], t[c], heap[c]):
            c += 1
        if _ih_before(t[c], heap[c], te, e):
            heap[i] = heap[c]
            t[i] = t[c]
            pos[heap[i]] = i
            i = c
        else:
            break
    heap[i] = e
    t[i] = te
    pos[e] = i


@njit(cache=True, inline="always")
def ih_set(H, si, e, time):
    heap, pos, t = H
    if pos[e] < 0:
        n = si[IH_N]
        si[IH_N] = n + 1
        _ih_sift(heap, pos, t, n, n + 1, e, time)
    else:
        _ih_sift(heap, pos, t, pos[e], si[IH_N], e, time)


@njit(cache=True)
def ih_set_call(H, si, e, time):
    """``ih_set`` out of line: once a message (trains), where another inlined copy of the
    sift would cost seconds of compiling and a call of four arguments costs nanoseconds."""
    ih_set(H, si, e, time)


@njit(cache=True, inline="always")
def ih_remove(H, si, e):
    heap, pos, t = H
    i = pos[e]
    if i < 0:
        return
    n = si[IH_N] - 1
    si[IH_N] = n
    pos[e] = -1
    if i < n:
        _ih_sift(heap, pos, t, i, n, heap[n], t[n])


@njit(cache=True, inline="always")
def _mh_less(t, k, a, b):
    return t[a] < t[b] or (t[a] == t[b] and k[a] < k[b])


@njit(cache=True, inline="always")
def mh_push(M, si, time, key):
    t, k = M
    i = si[MH_N]
    si[MH_N] = i + 1
    while i > 0:
        p = (i - 1) >> 1
        if t[p] > time or (t[p] == time and k[p] > key):
            t[i] = t[p]
            k[i] = k[p]
            i = p
        else:
            break
    t[i] = time
    k[i] = key


@njit(cache=True)
def mh_push_many(M, si, times, keys):
    for i in range(times.shape[0]):
        mh_push(M, si, times[i], keys[i])


@njit(cache=True, inline="always")
def mh_pop(M, si):
    t, k = M
    n = si[MH_N] - 1
    si[MH_N] = n
    lt, lk = t[n], k[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and (t[c + 1] < t[c] or (t[c + 1] == t[c] and k[c + 1] < k[c])):
            c += 1
        if t[c] < lt or (t[c] == lt and k[c] < lk):
            t[i] = t[c]
            k[i] = k[c]
            i = c
        else:
            break
    if n > 0:
        t[i] = lt
        k[i] = lk


@njit(cache=True)
def ih_remove_call(H, si, e):
    """``ih_remove`` out of line (see ``ih_set_call``)."""
    ih_remove(H, si, e)
