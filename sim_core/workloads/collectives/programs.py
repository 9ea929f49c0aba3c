"""Collectives as programs: steps of transfers between ranks, independent of any fabric.

An algorithm is a *program*: a list of steps, each a set of transfers ``(src rank, dst
rank, bytes)`` and whether the receiver reduces what it got. ``schedule`` lays a program
onto the engine. Rank indices run 0..p-1; the NVLS program also uses index p for the
node's switch, which reduces at line rate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim_core.errors import SpecError

RING_BROADCAST_SEGMENTS = 16


@dataclass
class Step:
    """One step of a program: transfers (K,) int64 src, dst ranks and float64 bytes."""

    src: np.ndarray
    dst: np.ndarray
    nbytes: np.ndarray
    reduce: bool = False


def _step(src, dst, nbytes, reduce=False) -> Step:
    src = np.asarray(src, dtype=np.int64).ravel()
    return Step(src, np.asarray(dst, dtype=np.int64).ravel(),
                np.broadcast_to(np.asarray(nbytes, dtype=np.float64), src.shape).copy(), reduce)


def _merge(*programs: list[Step]) -> list[Step]:
    """Run programs side by side (step k of each together); reduce flags must agree."""
    out = []
    for k in range(max((len(p) for p in programs), default=0)):
        parts = [p[k] for p in programs if k < len(p)]
        out.append(Step(np.concatenate([s.src for s in parts]), np.concatenate([s.dst for s in parts]),
                        np.concatenate([s.nbytes for s in parts]), parts[0].reduce))
    return out


def _remap(program: list[Step], ranks) -> list[Step]:
    ranks = np.asarray(ranks, dtype=np.int64)
    return [Step(ranks[s.src], ranks[s.dst], s.nbytes, s.reduce) for s in program]


def ring_lines(op: str, lines, n: float, bidir: bool = False) -> list[Step]:
    """Ring reduce-scatter / all-gather / all-reduce on every line of ``lines`` at once:
    a (K, d) array of rank indices, one ring per row, each of n bytes; ``bidir``: two rings
    per line, half each, the second the other way round (r -> r-1).

    Step k holds every line's transfers, line by line (for each line its forward ring,
    then its reverse one): the programs of the lines run side by side. Built as arrays, so
    the 768 rings of a 16x16x16 torus cost no more than one; the steps share their arrays,
    read-only.
    """
    lines = np.array(lines, dtype=np.int64)  # a copy: the steps keep views of it
    d = lines.shape[1]
    if d < 2:
        return []
    fwd = np.roll(lines, -1, axis=1)  # rank r sends to r + 1
    if bidir and d > 2:
        src = np.concatenate([lines, lines], axis=1).ravel()
        dst = np.concatenate([fwd, np.roll(lines, 1, axis=1)], axis=1).ravel()
        share = n / 2 / d
    else:
        src, dst, share = lines.ravel(), fwd.ravel(), n / d
    nbytes = np.full(src.size, share)
    for a in (src, dst, nbytes):  # shared by every step: a write anywhere would change them all
        a.flags.writeable = False

    def phase(reduce: bool) -> list[Step]:
        return [Step(src, dst, nbytes, reduce) for _ in range(d - 1)]

    if op == "reduce-scatter":
        return phase(True)
    if op == "allgather":
        return phase(False)
    return phase(True) + phase(False)


def ring(op: str, p: int, n: float, bidir: bool = False) -> list[Step]:
    """Ring reduce-scatter / all-gather / all-reduce over ranks 0..p-1 (p-1 steps a
    phase, rank r sends n/p to r+1); ``bidir``: two rings, half each."""
    return ring_lines(op, np.arange(p)[None, :], n, bidir)


def rhd(op: str, p: int, n: float) -> list[Step]:
    """Recursive halving (reduce-scatter) and doubling (all-gather); p not a power of two
    folds the extra ranks into partners first (MPICH) and sends results back at the end."""
    q = 1 << (p.bit_length() - 1)
    extra = p - q
    active = np.array([2 * i + 1 for i in range(extra)] + list(range(2 * extra, p)), dtype=np.int64)
    if extra and op != "allreduce":
        raise SpecError("collective", "ranks", p, f"rhd {op} needs a power-of-two rank count; use ring")
    v = np.arange(q)
    lg = q.bit_length() - 1
    rs = [_step(v, v ^ (q >> (k + 1)), n / 2 ** (k + 1), True) for k in range(lg)]
    ag = [_step(v, v ^ (1 << k), n * 2 ** k / q, False) for k in range(lg)]
    core = _remap({"reduce-scatter": rs, "allgather": ag, "allreduce": rs + ag}[op], active)
    if not extra:
        return core
    e = np.arange(extra)
    return [_step(2 * e, 2 * e + 1, n, True)] + core + [_step(2 * e + 1, 2 * e, n, False)]


def _binomial(p: int, nbytes: float, phase: str) -> list[Step]:
    """Binomial tree rooted at virtual rank 0: ``reduce`` (leaves up) or ``bcast`` (root down)."""
    L = max(1, math.ceil(math.log2(p))) if p > 1 else 0
    v = np.arange(p)
    steps = []
    for k in range(L):
        if phase == "reduce":
            s = v[(v % 2 ** (k + 1)) == 2 ** k]
            steps.append(_step(s, s - 2 ** k, nbytes, True))
        else:
            kk = L - 1 - k
            s = v[((v % 2 ** (kk + 1)) == 0) & (v + 2 ** kk < p)]
            steps.append(_step(s, s + 2 ** kk, nbytes, False))
    return steps


def tree(op: str, p: int, n: float) -> list[Step]:
    """All-reduce on two binomial trees (ranks v and v-1 mod p), n/2 each; broadcast on one."""
    if op == "broadcast":
        return _binomial(p, n, "bcast")
    shift = (np.arange(p) - 1) % p
    a = _binomial(p, n / 2, "reduce") + _binomial(p, n / 2, "bcast")
    b = _remap(a, shift)
    return _merge(a, b)


def ring_broadcast(p: int, n: float, segments: int = RING_BROADCAST_SEGMENTS) -> list[Step]:
    """Pipelined chain 0 -> 1 -> ... -> p-1 in ``segments`` pieces (wavefront steps)."""
    steps = []
    for k in range(segments + p - 2):
        hop = np.arange(p - 1)
        seg = k - hop
        ok = (seg >= 0) & (seg < segments)
        steps.append(_step(hop[ok], hop[ok] + 1, n / segments))
    return steps


def torus(op: str, grid: tuple[int, ...], n: float, bidir: bool, all_axes: bool = True) -> list[Step]:
    """Reduce-scatter along each axis in turn, then all-gather back (Ying et al. 2018).

    Ranks are numbered x fastest over ``grid``; every line of an axis runs its ring at once.
    ``all_axes``: the data is cut into one part per axis and part j starts on axis j (then
    j+1, ...), so every axis's links carry traffic at once instead of one axis at a time.
    """
    axes = [a for a in range(len(grid)) if grid[a] > 1]
    if all_axes and len(axes) > 1:
        parts = [_torus_order(op, grid, n / len(axes), bidir, axes[j:] + axes[:j]) for j in range(len(axes))]
        return _merge(*parts)
    return _torus_order(op, grid, n, bidir, axes)


def _torus_order(op: str, grid: tuple[int, ...], n: float, bidir: bool, order: list[int]) -> list[Step]:
    """Reduce-scatter along the axes in ``order``, all-gather back in reverse."""
    idx = np.arange(int(np.prod(grid))).reshape(grid[::-1])  # [..., y, x]
    rs_steps, ag_steps = [], []
    share = n
    for axis in order:
        d = grid[axis]
        if d < 2:
            continue
        lines = np.moveaxis(idx, len(grid) - 1 - axis, -1).reshape(-1, d)
        rs_steps.append(ring_lines("reduce-scatter", lines, share, bidir))
        ag_steps.append(ring_lines("allgather", lines, share, bidir))
        share /= d
    rs_all = [s for prog in rs_steps for s in prog]
    ag_all = [s for prog in reversed(ag_steps) for s in prog]
    return {"reduce-scatter": rs_all, "allgather": ag_all, "allreduce": rs_all + ag_all}[op]


def hierarchical(p: int, n: float, groups: list[np.ndarray]) -> list[Step]:
    """Ring reduce-scatter in every group, ring all-reduce across groups per local index
    on n/g, ring all-gather in every group (all groups the same size g)."""
    rows = np.stack([np.asarray(grp, dtype=np.int64) for grp in groups])  # (groups, g)
    g = rows.shape[1]
    rs = ring_lines("reduce-scatter", rows, n)
    cross = ring_lines("allreduce", rows.T, n / g)  # local index i of every group, one ring each
    ag = ring_lines("allgather", rows, n)
    return rs + cross + ag


def nvls(p: int, n: float) -> list[Step]:
    """NVLink SHARP all-reduce of n bytes; index ``p`` is the switch (NVIDIA NVLS design).

    Each rank owns 1/p of the buffer. ``multimem.ld_reduce``: the switch reads the owner's
    share from every rank (each rank's uplink carries its whole buffer), reduces it and
    returns it to the owner; ``multimem.st``: the owner writes the sum once and the switch
    multicasts it to every rank. Per rank: n (1 + 1/p) up and as much down, so bus
    bandwidth is ``B 2(p-1)/(p+1)`` at link rate B.
    """
    r = np.arange(p)
    sw = np.full(p, p)
    return [_step(r, sw, n), _step(sw, r, n / p), _step(r, sw, n / p), _step(sw, r, n)]


def point_to_point(op: str, p: int, n: float, groups: list[np.ndarray] | None = None) -> list[Step]:
    """``sendrecv`` (pairs 2i -> 2i+1, n bytes each) or ``alltoall`` (n/p to every other rank;
    ``groups``: rank indices per server, for the order of the sends)."""
    if op == "sendrecv":
        if p % 2:
            raise SpecError("collective", "ranks", p, "sendrecv needs pairs (an even number of ranks)")
        return [_step(np.arange(0, p, 2), np.arange(1, p, 2), n)]
    # Staggered as NCCL posts them: each rank's k-th send goes to a different receiver, also
    # among the peers behind one NIC (server offset first, then local offset), so no receiver
    # is flooded by all senders at once while the others idle.
    server, local = np.zeros(p, dtype=np.int64), np.arange(p)
    ppn, n_srv = p, 1
    if groups is not None:
        ppn, n_srv = len(groups[0]), len(groups)
        for s_i, grp in enumerate(groups):
            server[grp], local[grp] = s_i, np.arange(ppn)
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    off = a != b
    a, b = a[off], b[off]
    key = ((server[b] - server[a]) % n_srv) * ppn + (local[b] - local[a]) % ppn
    order = np.lexsort((a, key))
    return [_step(a[order], b[order], n / p)]


def remap(program: list[Step], ranks) -> list[Step]:
    """The same program on other rank indices: index i becomes ``ranks[i]``."""
    return _remap(program, ranks)


def server_tree(groups: list[np.ndarray], head: int, n: float, mirrored: bool = False) -> list[Step]:
    """NCCL's tree over servers for one channel: a chain inside every server ending at the
    local rank ``head`` (the channel's NIC), a binomial tree between the servers' heads
    (``mirrored``: rooted at the last server, NCCL's second, complementary tree), then back
    down the tree and the chains. Indices are into the ranks; every step carries n bytes."""
    # (servers, ranks per server), column 0 = heads
    chains = np.roll(np.stack([np.asarray(g, dtype=np.int64) for g in groups]), -head, axis=1)
    heads = chains[:, 0][::-1] if mirrored else chains[:, 0]
    g = chains.shape[1]
    up = [_step(chains[:, g - 1 - j], chains[:, g - 2 - j], n, True) for j in range(g - 1)]
    across = _remap(_binomial(len(groups), n, "reduce") + _binomial(len(groups), n, "bcast"), heads)
    down = [_step(chains[:, j], chains[:, j + 1], n) for j in range(g - 1)]
    return up + across + down


def collnet(groups: list[np.ndarray], n: float) -> list[Step]:
    """SHARP all-reduce (NCCL's CollNet Direct): ring reduce-scatter inside every server,
    then local rank i of every server sends its n/g share to network switch i (index
    ``p + i``), which reduces at line rate and returns the sum, then ring all-gather inside
    every server."""
    cols = np.stack([np.asarray(grp, dtype=np.int64) for grp in groups])  # (servers, g)
    g = cols.shape[1]
    p = g * len(groups)
    rs = ring_lines("reduce-scatter", cols, n)
    sw = np.broadcast_to(p + np.arange(g), cols.shape)
    across = [_step(cols.ravel(), sw.ravel(), n / g), _step(sw.ravel(), cols.ravel(), n / g)]
    ag = ring_lines("allgather", cols, n)
    return rs + across + ag
