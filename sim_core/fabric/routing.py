"""Routing: which link a chunk takes next, for a whole array of chunks at once.

* Tiles of one chip: dimension-order routing (x first, then y); on a torus the shorter
  way round (ties go the positive way).
* Leaving a chip: straight down the tile's column to the bottom row, then into the hub.
  Entering a chip: hub to the bottom-row tile of the destination's column, then up.
* Off-chip (hubs, NICs, switches, hosts): on a chip torus (TPU) dimension order with the
  shorter way round, computed from chip coordinates (no table). Elsewhere a next hop per
  destination, computed on first use: a shortest path in hops where equal-cost choices are
  spread deterministically by destination (a hash of ``d`` mod k, as fat trees route), so
  flows to different GPUs use different spines while one flow never reorders.

Those routes are stored sparsely. Most nodes take the same equal-cost links towards most
destinations (a GPU its NIC, a leaf its spines), so each node keeps a usual rule (its usual
links, the destination's spread mod k) and each destination only the nodes that route
otherwise (31 of 288 nodes towards a GPU of 16 DGX A100 servers, 73 of 9,152 on 512): memory
grows with destinations times the few nodes that route to them differently, not with
destinations times nodes.

Routes are a function of the topology alone, so every engine and program builder on one
fabric shares its router (``Router.of``): a destination's column is searched once per
fabric, not once per engine (a projection runs an engine per communication).
"""
from __future__ import annotations

import os
import threading

import numpy as np
from sim_core.compiled import njit

from sim_core.fabric.arrays import HUB, TILE, Fabric
from sim_core.parallel import thread_map

PARALLEL_COLUMNS = 64
"""From this many new destinations at once, their columns are computed on every core (the
compiled searches release the GIL); each column is computed alone, so the routes are the
same whichever thread computes it."""

USUAL_SAMPLES = 7
"""Destinations whose routes set each node's usual rule (``Router._usual_rule``)."""


@njit(cache=True, inline="always")
def _bfs_hops(d0, relay, every_node_relays, in_ptr, in_src, dist, queue):
    """Hops from every node to ``d0`` over links ``in_src[in_ptr[x]:in_ptr[x+1]] -> x``,
    expanding only ``d0`` and ``relay`` nodes (all of them when ``every_node_relays``),
    into ``dist`` ((n,) int64, -1 where unreachable); ``queue`` (n,) int64 is scratch."""
    n = relay.shape[0]
    for i in range(n):
        dist[i] = -1
    dist[d0] = 0
    queue[0] = d0
    head, tail = 0, 1
    while head < tail:
        x = queue[head]
        head += 1
        if x != d0 and not (every_node_relays or relay[x]):
            continue
        for k in range(in_ptr[x], in_ptr[x + 1]):
            s = in_src[k]
            if dist[s] < 0:
                dist[s] = dist[x] + 1
                queue[tail] = s
                tail += 1


@njit(cache=True, inline="always")
def _good_links(d0, relay, in_ptr, in_src, l_src, l_dst, strict, loose, queue, good, counts):
    """``good[i]``: link ``i`` (given sorted by source) lies on a shortest route to ``d0``
    by ``Router._bfs_column``'s rule; ``counts[x]``: how many of node x's links are.
    ``strict``, ``loose`` and ``queue`` are scratch."""
    m = l_src.shape[0]
    _bfs_hops(d0, relay, False, in_ptr, in_src, strict, queue)
    need_loose = False  # only sources the relays cannot reach route through hubs
    for i in range(m):
        if strict[l_src[i]] < 0:
            need_loose = True
            break
    if need_loose:
        _bfs_hops(d0, relay, True, in_ptr, in_src, loose, queue)
    for x in range(relay.shape[0]):
        counts[x] = 0
    for i in range(m):
        s, x = l_src[i], l_dst[i]
        use_strict = strict[s] >= 0
        here = strict[s] if use_strict else loose[s]
        nxt = strict[x] if use_strict else loose[x]
        ok = (not use_strict) or x == d0 or relay[x]
        g = nxt >= 0 and nxt == here - 1 and ok
        good[i] = g
        if g:
            counts[s] += 1


@njit(cache=True, nogil=True)
def _good_mask(d0, relay, in_ptr, in_src, l_src, l_dst, work):
    """``_good_links`` towards one destination, into ``work``'s mask (returned)."""
    strict, loose, queue, counts, seen, good, col = work
    _good_links(d0, relay, in_ptr, in_src, l_src, l_dst, strict, loose, queue, good, counts)
    return good


@njit(cache=True, inline="always")
def _default_link(far_ptr, far_link, x, spread):
    """Node ``x``'s next link by its usual rule: its usual equal-cost links, ``spread`` mod k."""
    k = far_ptr[x + 1] - far_ptr[x]
    if k == 1:  # most nodes (a GPU's NIC, a NIC's leaf): no division
        return far_link[far_ptr[x]]
    return far_link[far_ptr[x] + spread % k] if k > 0 else -1


@njit(cache=True, nogil=True)
def _next_hops_many(d0s, spreads, relay, in_ptr, in_src, l_src, l_dst, l_id, far_ptr, far_link,
                    exc_row, exc_link, exc_count, work):
    """Next link from every node towards each destination ``d0s[j]`` (``Router._bfs_column``'s
    rule), kept only where it differs from the node's usual rule (``_default_link``): rows
    ascending into ``exc_row``/``exc_link``, their number into ``exc_count[j]``.

    Returns how many destinations were done: it stops before one whose exceptions might not
    fit (a column has at most n). Links are given sorted by (source, link id); ``work``
    holds scratch arrays from ``_scratch``, so nothing is allocated here."""
    strict, loose, queue, counts, seen, good, col = work
    n, m = relay.shape[0], l_src.shape[0]
    pos = 0
    for j in range(d0s.shape[0]):
        if pos + n > exc_row.shape[0]:
            return j
        d0, spread = d0s[j], spreads[j]
        _good_links(d0, relay, in_ptr, in_src, l_src, l_dst, strict, loose, queue, good, counts)
        for x in range(n):
            seen[x] = 0
            col[x] = -1
        for i in range(m):
            if good[i]:
                s = l_src[i]
                if seen[s] == spread % counts[s]:
                    col[s] = l_id[i]
                seen[s] += 1
        first = pos
        for x in range(n):
            if col[x] != _default_link(far_ptr, far_link, x, spread):
                exc_row[pos] = x
                exc_link[pos] = col[x]
                pos += 1
        exc_count[j] = pos - first
    return d0s.shape[0]


def _scratch(n: int, m: int) -> tuple:
    """Scratch arrays of ``_next_hops_many`` for n nodes and m links (one set per thread)."""
    return (np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64),
            np.empty(n, np.int64), np.empty(m, np.bool_), np.empty(n, np.int64))


def _spread(off: np.ndarray) -> np.ndarray:
    """Which of the equal-cost next links a destination takes (d mod k on a hash of its
    off-chip index ``off``: raw ids often share a stride): (K,) int64. The index counts
    off-chip nodes only, so routes do not depend on the mesh drawn inside each chip (by
    node id, a tree over 1,024 GPUs took 6.67, 6.39 or 6.97 ms with 1x1, 2x2 or 4x8 cores
    a GPU: other core switches)."""
    return ((off.astype(np.int64) * 2654435761) % 4294967296) >> 16


_SHARED_ATTR = "_shared_router"
_SHARED_LOCK = threading.Lock()


class Router:
    """Vectorized next-hop function over a ``Fabric``.

    Thread-safe: ``ensure`` and ``compiled_tables`` hold the router's lock, and a new
    column replaces ``col_of`` instead of writing into it, so a compiled loop running on
    another thread keeps reading the consistent tables it was handed."""

    @classmethod
    def of(cls, fabric: Fabric) -> "Router":
        """The router shared by everything simulated on ``fabric`` (made on first use and
        kept on the fabric: routes depend only on its nodes and links, which never change)."""
        with _SHARED_LOCK:
            router = fabric.__dict__.get(_SHARED_ATTR)
            if router is None:
                router = cls(fabric)
                fabric.__dict__[_SHARED_ATTR] = router
            return router

    def __init__(self, fabric: Fabric):
        self._lock = threading.RLock()
        self.f = fabric
        self.T = fabric.n_tiles
        self.per = fabric.tile_rows * fabric.tile_cols
        N = fabric.n_nodes
        self.off_nodes = np.arange(self.T, N)
        self.off_index = np.full(N, -1, dtype=np.int64)
        self.off_index[self.off_nodes] = np.arange(len(self.off_nodes))
        off_links = np.flatnonzero(fabric.link_src >= self.T)
        off_links = off_links[fabric.link_dst[off_links] >= self.T]
        self.off_links = off_links
        self.col_of = np.full(N, -1, dtype=np.int64)
        # Off-chip routes, stored sparsely: a node's usual rule (its usual equal-cost links,
        # the destination's spread mod k), and per destination column the nodes that differ.
        self.col_spread = np.zeros(0, dtype=np.int64)      # (k,) spread of each column
        self.exc_ptr = np.zeros(1, dtype=np.int64)         # (k + 1,) column j's exceptions
        self.exc_key = np.zeros(0, dtype=np.int64)         # (E,) j * n_off + node, ascending
        self.exc_link = np.zeros(0, dtype=np.int64)        # (E,) the link taken there
        self.far_ptr = self.far_link = None                # (n_off + 1,), (F,): the usual rule
        self._hub_coords = None
        self._tile_rc = None
        if fabric.hub_torus_link is not None:
            dims = list(fabric.torus_dims) + [1] * (3 - len(fabric.torus_dims))
            n = fabric.n_chips
            self._hub_coords = np.stack(np.unravel_index(np.arange(n), dims[::-1])[::-1], axis=1)
            self._dims = np.array(dims[:len(fabric.torus_dims)])
        # A pure torus (every off-chip node a chip hub) routes arithmetically: no table at all.
        self._pure_torus = self._hub_coords is not None and bool((fabric.node_kind[self.off_nodes] == HUB).all())

    # ---------------------------------------------------------------- off-chip tables
    @property
    def n_columns(self) -> int:
        """Destinations with routes so far."""
        return int(self.col_spread.size)

    @property
    def route_bytes(self) -> int:
        """Memory held by the off-chip routes."""
        arrays = [self.col_spread, self.exc_ptr, self.exc_key, self.exc_link]
        if self.far_ptr is not None:
            arrays += [self.far_ptr, self.far_link]
        return int(sum(a.nbytes for a in arrays))

    def ensure(self, dst_nodes: np.ndarray) -> None:
        """Make sure next-hop columns exist for these final destinations (any node ids)."""
        dst_nodes = np.asarray(dst_nodes, dtype=np.int64)
        if dst_nodes.size == 0 or self._pure_torus:
            return
        with self._lock:
            self._ensure(dst_nodes)

    def _ensure(self, dst_nodes: np.ndarray) -> None:
        is_tile = dst_nodes < self.T
        off = np.where(is_tile, self.f.chip_hub[np.minimum(dst_nodes // max(self.per, 1), self.f.n_chips - 1)], dst_nodes)
        need = np.unique(off[self.col_of[off] < 0])
        if need.size == 0:
            return
        self._usual_rule()
        torus = np.zeros(need.size, dtype=bool) if self._hub_coords is None else \
            (self.f.node_kind[need] != TILE) & (self.f.node_chip[need] >= 0)
        if torus.any():  # dimension order, compressed like any column
            hubs = need[torus]
            parts = [self._compress(self._torus_column(int(d)), int(sp)) for d, sp in zip(hubs, _spread(self.off_index[hubs]))]
            self._append(hubs, *(np.concatenate([p[i] for p in parts]) for i in range(3)))
        if not torus.all():
            self._append(need[~torus], *self._bfs_columns(need[~torus]))

    def _append(self, dsts: np.ndarray, counts: np.ndarray, rows: np.ndarray, links: np.ndarray) -> None:
        """New columns for ``dsts`` ((K,) node ids): their exceptions to the usual rule,
        ``counts`` (K,) a column, ``rows`` and ``links`` (E,) column by column, rows ascending."""
        start = self.n_columns
        cols = np.repeat(np.arange(start, start + dsts.size, dtype=np.int64), counts)
        self.exc_key = np.concatenate([self.exc_key, cols * len(self.off_nodes) + rows])
        self.exc_link = np.concatenate([self.exc_link, links])
        self.exc_ptr = np.concatenate([self.exc_ptr, self.exc_ptr[-1] + np.cumsum(counts)])
        self.col_spread = np.concatenate([self.col_spread, _spread(self.off_index[dsts])])
        col_of = self.col_of.copy()  # a new array: tables already handed out stay consistent
        col_of[dsts] = start + np.arange(dsts.size)
        self.col_of = col_of

    def column(self, dst: int) -> np.ndarray:
        """Next link from every off-chip node towards off-chip node ``dst`` (after
        ``ensure``): (n_off,) int64, -1 where there is none."""
        with self._lock:
            j = int(self.col_of[dst])
            if j < 0:
                raise KeyError(f"no routes towards node {dst}: call ensure first")
            lo, hi = self.exc_ptr[j], self.exc_ptr[j + 1]
            col = self._usual(np.arange(len(self.off_nodes)), int(self.col_spread[j]))
            col[self.exc_key[lo:hi] - j * len(self.off_nodes)] = self.exc_link[lo:hi]
            return col

    def _usual(self, rows: np.ndarray, spread) -> np.ndarray:
        """The usual rule's link at off-chip ``rows`` for a destination's ``spread`` (scalar
        or per row): (K,) int64, -1 where a node has no usual link."""
        k = self.far_ptr[rows + 1] - self.far_ptr[rows]
        pick = self.far_ptr[rows] + np.asarray(spread) % np.maximum(k, 1)
        return np.where(k > 0, self.far_link[np.minimum(pick, self.far_link.size - 1)], -1) \
            if self.far_link.size else np.full(rows.shape, -1, dtype=np.int64)

    def _compress(self, col: np.ndarray, spread: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A dense column's exceptions to the usual rule, as ``_bfs_columns`` gives them:
        (counts (1,), rows, links), rows ascending."""
        rows = np.flatnonzero(col != self._usual(np.arange(col.size), spread))
        return np.array([rows.size], np.int64), rows.astype(np.int64), col[rows].astype(np.int64)

    def _usual_rule(self) -> None:
        """Each node's usual equal-cost links: the most common of its shortest-route link sets
        towards up to ``USUAL_SAMPLES`` destinations spread over the fabric (chip hubs where
        there are some). Only how sparse the routes are depends on this choice; every
        column keeps the exceptions to it, so the routes are exact whatever it is."""
        if self.far_ptr is not None:
            return
        self._link_lists()
        n, (l_src, l_dst, l_id) = len(self.off_nodes), self._by_src
        pool = self.off_index[self.f.chip_hub] if self.f.n_chips else np.arange(n)
        refs = np.unique(pool[np.linspace(0, pool.size - 1, min(USUAL_SAMPLES, pool.size)).astype(np.int64)]) \
            if pool.size else np.zeros(0, np.int64)
        work = _scratch(n, l_src.size)
        goods = np.array([_good_mask(np.int64(d), self._relay, self._in_ptr, self._in_src, l_src, l_dst, work).copy()
                          for d in refs]).reshape(refs.size, l_src.size)
        if refs.size:
            # a set's signature per node: a sum of random 64-bit words of its links (a collision
            # only makes the routes less sparse, never wrong)
            word = np.random.default_rng(0).integers(0, 1 << 62, l_src.size, dtype=np.int64)
            start = np.searchsorted(l_src, np.arange(n))
            has = np.bincount(l_src, minlength=n) > 0
            sig = np.stack([np.add.reduceat(np.append(np.where(g, word, 0), 0), start) * has for g in goods])
            votes = (sig[:, None, :] == sig[None, :, :]).sum(axis=1)    # (refs, n)
            best = votes.argmax(axis=0)                                   # first of the most common
            chosen = goods[best[l_src], np.arange(l_src.size)]
        else:
            chosen = np.zeros(l_src.size, dtype=bool)
        self.far_link = l_id[chosen].astype(np.int64)
        self.far_ptr = np.concatenate([[0], np.cumsum(np.bincount(l_src[chosen], minlength=n))]).astype(np.int64)

    def _bfs_columns(self, dsts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``_bfs_column`` of each of ``dsts`` as exceptions to the usual rule: (counts (K,),
        rows (E,), links (E,)), column by column, rows ascending. Compiled batches, on every
        core from ``PARALLEL_COLUMNS`` destinations (each column is computed alone, so the
        result is the same whichever thread computes it)."""
        self._usual_rule()  # shared by the threads: built before any of them reads it
        d0s = self.off_index[dsts].astype(np.int64)
        spreads = _spread(d0s)
        args = (self._relay, self._in_ptr, self._in_src, *self._by_src, self.far_ptr, self.far_link)
        n, m = len(self.off_nodes), self._by_src[0].size

        def batch(ab):
            a, b = ab
            work, parts, cap = _scratch(n, m), [], max(4 * n, 64 * (b - a))
            while a < b:
                rows, links, counts = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(b - a, np.int64)
                done = int(_next_hops_many(d0s[a:b], spreads[a:b], *args, rows, links, counts, work))
                used = int(counts[:done].sum())
                parts.append((counts[:done], rows[:used], links[:used]))
                a += done
                cap *= 2
            return parts

        if dsts.size < PARALLEL_COLUMNS:
            parts = batch((0, dsts.size))
        else:
            cuts = np.linspace(0, dsts.size, (os.cpu_count() or 1) + 1).astype(np.int64)
            parts = [p for ps in thread_map(batch, list(zip(cuts[:-1], cuts[1:]))) for p in ps]
        return tuple(np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, np.int64) for i in range(3))

    def _link_lists(self) -> None:
        """The off-chip links by destination and by source, built on first use."""
        if hasattr(self, "_by_src"):
            return
        f = self.f
        self._off_src = self.off_index[f.link_src[self.off_links]]
        self._off_dst = self.off_index[f.link_dst[self.off_links]]
        self._relay = f.node_kind[self.off_nodes] != HUB
        order = np.argsort(self._off_dst, kind="stable")  # links into each node, for the searches
        self._in_src = self._off_src[order].astype(np.int64)
        counts = np.bincount(self._off_dst, minlength=len(self.off_nodes))
        self._in_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        order = np.lexsort((self.off_links, self._off_src))
        self._by_src = (self._off_src[order].astype(np.int64), self._off_dst[order].astype(np.int64),
                        self.off_links[order].astype(np.int64))

    def _bfs_column(self, dst: int) -> np.ndarray:
        """Next link from every off-chip node towards ``dst``: shortest hops, d-mod-k spread.

        Chip hubs relay traffic only when there is no other way (CPU sockets behind a
        socket that owns the NIC): GPUs forwarding for each other at both ends of a path
        would close a cycle of buffer dependencies through the switches, and finite
        buffers can then deadlock. Switches, NICs and hosts route up/down as fabrics do.
        Dense, (n_off,) int64, computed afresh (``column`` reads the stored routes).
        """
        counts, rows, links = self._bfs_columns(np.array([dst], dtype=np.int64))
        col = self._usual(np.arange(len(self.off_nodes)), int(_spread(self.off_index[[dst]])[0]))
        col[rows] = links
        return col

    def _torus_column(self, dst: int) -> np.ndarray:
        """Dimension-order routing on the chip torus towards hub ``dst`` (shorter way round)."""
        f = self.f
        n_off = len(self.off_nodes)
        col = np.full(n_off, -1, dtype=np.int64)
        hubs = f.chip_hub
        target = self._hub_coords[f.node_chip[dst]]
        here = self._hub_coords[:, :len(self._dims)]
        tgt = target[:len(self._dims)]
        delta = (tgt[None, :] - here) % self._dims[None, :]
        moving = delta != 0
        first = np.where(moving.any(axis=1), moving.argmax(axis=1), -1)
        rows = np.flatnonzero(first >= 0)
        dim = first[rows]
        dd = delta[rows, dim]
        size = self._dims[dim]
        direction = np.where(dd <= size - dd, 0, 1)  # ties go the positive way
        col[self.off_index[hubs[rows]]] = f.hub_torus_link[rows, dim, direction]
        # non-hub off-chip nodes (none on a pure torus) fall back to BFS
        rest = np.ones(n_off, dtype=bool)
        rest[self.off_index[hubs]] = False
        if rest.any():
            col[rest] = self._bfs_column(dst)[rest]
        return col

    def compiled_tables(self) -> tuple:
        """The arrays ``sim_core.engine.routes.next_link`` reads (int64 unless noted):
        dims (T, tiles per chip, C, R, on-chip torus, n_off), tile_link (T, 4), tile_to_hub
        and hub_to_tile (CH, C), chip_hub (CH,), off_index and col_of (N,), exc_ptr (k + 1,),
        torus chip coordinates (CH, 3), torus dims (ndim,), hub_torus_link (CH, ndim, 2),
        node_chip (N,), use_torus (N,) bool (hubs routed arithmetically), exc_key and
        exc_link (E,), far_ptr (n_off + 1,) and far_link (F,) (the usual rule), col_spread (k,)."""
        with self._lock:
            return self._compiled_tables()

    def _compiled_tables(self) -> tuple:
        key = (self.n_columns, self.far_ptr is not None)
        if getattr(self, "_compiled_key", None) != key:
            f = self.f
            i64 = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
            N, CH, n_off = f.n_nodes, f.n_chips, len(self.off_nodes)
            dims = i64([self.T, max(self.per, 1), max(f.tile_cols, 1), max(f.tile_rows, 1), int(f.on_chip_torus), n_off])
            if self._hub_coords is not None:
                coords, tdims, htl = i64(self._hub_coords), i64(self._dims), i64(f.hub_torus_link)
                use = np.zeros(N, dtype=bool)
                use[f.chip_hub] = True  # hub to hub: dimension order, computed (the Router's torus rule)
            else:
                coords, tdims, htl = np.zeros((CH, 3), np.int64), np.zeros(0, np.int64), np.zeros((CH, 1, 2), np.int64)
                use = np.zeros(N, dtype=bool)
            far_ptr = np.zeros(n_off + 1, np.int64) if self.far_ptr is None else self.far_ptr
            far_link = np.zeros(0, np.int64) if self.far_link is None else self.far_link
            self._compiled = (dims, i64(f.tile_link), i64(f.tile_to_hub), i64(f.hub_to_tile), i64(f.chip_hub),
                              i64(self.off_index), i64(self.col_of), i64(self.exc_ptr),
                              coords, tdims, htl, i64(f.node_chip), use,
                              i64(self.exc_key), i64(self.exc_link), i64(far_ptr), i64(far_link), i64(self.col_spread))
            self._compiled_key = key
        return self._compiled

    # ---------------------------------------------------------------- the hot path
    def next_link(self, cur: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Link to take from ``cur`` towards ``dst`` (both (K,) node ids); -1 where cur == dst.

        Destinations must have been passed to ``ensure`` first.
        """
        f = self.f
        T, per, C = self.T, self.per, f.tile_cols
        out = np.full(cur.shape, -1, dtype=np.int64)
        if f.n_chips == 1 and cur.size and cur.max() < T and dst.max() < T:
            return self._mesh_only(cur, dst, out)
        cur_tile = cur < T
        dst_tile = dst < T
        # --- on a tile
        k = np.flatnonzero(cur_tile & (cur != dst))
        if k.size:
            u, d = cur[k], dst[k]
            chip = u // per
            r, c = (u % per) // C, u % C
            same = dst_tile[k] & (d // per == chip)
            tr = np.where(same, (d % per) // C, 0)
            tc = np.where(same, d % C, c)
            at = (r == tr) & (c == tc)
            out[k[at]] = f.tile_to_hub[chip[at], c[at]]
            mv = ~at
            if mv.any():
                km = k[mv]
                direction, _ = self._dor(r[mv], c[mv], tr[mv], tc[mv])
                out[km] = f.tile_link[cur[km], direction]
        # --- off-chip
        k = np.flatnonzero(~cur_tile)
        if k.size:
            u, d = cur[k], dst[k]
            dt = dst_tile[k]
            dchip = np.where(dt, d // max(per, 1), 0)
            d_off = np.where(dt, f.chip_hub[dchip], d)
            home = u == d_off
            enter = home & dt
            out[k[enter]] = f.hub_to_tile[dchip[enter], d[enter] % C]
            go = ~home
            if go.any() and self._pure_torus:
                out[k[go]] = self._torus_next(u[go], d_off[go])
            elif go.any():
                with self._lock:  # the column map and its exceptions from the same moment
                    out[k[go]] = self._stored(self.off_index[u[go]], self.col_of[d_off[go]])
        return out

    def _stored(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The stored route at off-chip ``rows`` in columns ``cols`` ((K,) each): the column's
        exception there if it has one, else the node's usual rule."""
        key = cols * len(self.off_nodes) + rows
        i = np.minimum(np.searchsorted(self.exc_key, key), max(self.exc_key.size - 1, 0))
        hit = self.exc_key[i] == key if self.exc_key.size else np.zeros(key.shape, dtype=bool)
        return np.where(hit, self.exc_link[i] if self.exc_key.size else -1, self._usual(rows, self.col_spread[cols]))

    def _torus_next(self, u: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Dimension order between hubs ``u`` and ``d`` ((K,) node ids, u != d), shorter way round."""
        f = self.f
        a, b = f.node_chip[u], f.node_chip[d]
        nd = len(self._dims)
        delta = (self._hub_coords[b, :nd] - self._hub_coords[a, :nd]) % self._dims[None, :]
        dim = (delta != 0).argmax(axis=1)
        dd = delta[np.arange(u.size), dim]
        size = self._dims[dim]
        return f.hub_torus_link[a, dim, np.where(dd <= size - dd, 0, 1)].astype(np.int64)

    def _mesh_only(self, cur, dst, out):
        """Fast path for one chip with tile-to-tile traffic only (the NoC laboratory)."""
        f = self.f
        C = f.tile_cols
        if self._tile_rc is None:  # gathers beat integer division on the hot path
            self._tile_rc = np.divmod(np.arange(self.T, dtype=np.int64), C)
            self._tile_link_flat = f.tile_link.astype(np.int64).ravel()
        rows, cols = self._tile_rc
        direction, arrived = self._dor(rows[cur], cols[cur], rows[dst], cols[dst])
        out = self._tile_link_flat[cur * 4 + direction]
        out[arrived] = -1
        return out

    def _dor(self, r, c, tr, tc):
        """Dimension-order step from tile (r, c) towards (tr, tc): x first, then y; on a torus
        the shorter way round (ties positive). Returns (direction index into DIRS, arrived)."""
        f = self.f
        C, R = f.tile_cols, f.tile_rows
        if f.on_chip_torus:  # a ring of two has no wrap link: its one link each way is the direct one
            dx, dy = (tc - c) % C, (tr - r) % R
            xdir = (dx > C - dx) if C > 2 else (tc < c)          # 0: +x, 1: -x
            ydir = 2 + ((dy > R - dy) if R > 2 else (tr < r))    # 2: +y, 3: -y
        else:
            dx, dy = tc - c, tr - r
            xdir = dx < 0
            ydir = 2 + (dy < 0)
        return np.where(dx != 0, xdir, ydir), (dx == 0) & (dy == 0)

    def path(self, src: int, dst: int) -> list[int]:
        """The links one message takes (for inspection, CLI and tests; not used per step)."""
        self.ensure(np.array([dst]))
        links = []
        cur = np.array([src])
        d = np.array([dst])
        for _ in range(10 * (self.f.n_nodes + 1)):
            nl = int(self.next_link(cur, d)[0])
            if nl < 0:
                return links
            links.append(nl)
            cur = np.array([self.f.link_dst[nl]])
        raise RuntimeError(f"routing loop from {src} to {dst}")
