"""``Router.next_link`` for one chunk, compiled for the event loop.

The same rules as ``sim_core.fabric.routing.Router`` (dimension order on a chip's tiles,
column to the bottom row and into the hub, the off-chip next-hop function), read from the
router's arrays: ``Router.compiled_tables()`` returns the tuple ``R`` taken here.

``next_link`` is inlined into its callers: a compiled call passes every array of ``R``
field by field (over a hundred arguments), 410-560 ns a call on this 2-core machine
against 40-70 ns inlined (random hops on 128 DGX A100 servers).
"""
from __future__ import annotations

from sim_core.compiled import njit

# R = (dims, tile_link, tile_to_hub, hub_to_tile, chip_hub, off_index, col_of, exc_ptr,
#      torus_coords, torus_dims, hub_torus_link, node_chip, use_torus,
#      exc_key, exc_link, far_ptr, far_link, col_spread)
# dims: (T, per, C, R, on_chip_torus, n_off) int64


@njit(cache=True)
def _dor(r, c, tr, tc, C, R, torus):
    if torus:  # a ring of two has no wrap link: its one link each way is the direct one
        dx, dy = (tc - c) % C, (tr - r) % R
        xdir = 1 if (dx > C - dx if C > 2 else tc < c) else 0
        ydir = 3 if (dy > R - dy if R > 2 else tr < r) else 2
    else:
        dx, dy = tc - c, tr - r
        xdir = 1 if dx < 0 else 0
        ydir = 3 if dy < 0 else 2
    return xdir if dx != 0 else ydir


@njit(cache=True, inline="always")
def _off_chip(R, u, d_off):
    """Next link from off-chip node ``u`` towards off-chip node ``d_off``."""
    coords, tdims, htl, node_chip, use_torus = R[8], R[9], R[10], R[11], R[12]
    if use_torus[u] and use_torus[d_off]:
        a, b = node_chip[u], node_chip[d_off]
        for k in range(tdims.shape[0]):
            n = tdims[k]
            dd = (coords[b, k] - coords[a, k]) % n
            if dd != 0:
                return htl[a, k, 0 if dd <= n - dd else 1]
        return -1
    return _stored(R, R[5][u], R[6][d_off])


@njit(cache=True, inline="always")
def _stored(R, row, j):
    """The stored route at off-chip ``row`` in column ``j``: the column's exception there
    (a binary search over its few, rows ascending), else the node's usual rule."""
    exc_ptr, exc_key, exc_link, far_ptr, far_link = R[7], R[13], R[14], R[15], R[16]
    key = j * R[0][5] + row
    lo, hi = exc_ptr[j], exc_ptr[j + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if exc_key[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    if lo < exc_ptr[j + 1] and exc_key[lo] == key:
        return exc_link[lo]
    k = far_ptr[row + 1] - far_ptr[row]
    if k == 1:  # most nodes: no division
        return far_link[far_ptr[row]]
    return far_link[far_ptr[row] + R[17][j] % k] if k > 0 else -1


@njit(cache=True, inline="always")
def next_link(R, cur, dst):
    """Link to take from node ``cur`` towards node ``dst``; -1 where it has arrived."""
    dims = R[0]
    T, per, C, Rr, torus = dims[0], dims[1], dims[2], dims[3], dims[4]
    if cur == dst:
        return -1
    if cur < T:
        chip = cur // per
        r, c = (cur % per) // C, cur % C
        if dst < T and dst // per == chip:
            tr, tc = (dst % per) // C, dst % C
        else:
            tr, tc = 0, c
        if r == tr and c == tc:
            return R[2][chip, c]
        return R[1][cur, _dor(r, c, tr, tc, C, Rr, torus)]
    if dst < T:
        dchip = dst // per
        d_off = R[4][dchip]
        if cur == d_off:
            return R[3][dchip, dst % C]
    else:
        d_off = dst
    return _off_chip(R, cur, d_off)
