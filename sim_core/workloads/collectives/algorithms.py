"""Collective operations decomposed into engine messages with dependencies.

An algorithm is a *program*: a list of steps, each a set of transfers
``(src rank, dst rank, bytes)`` and whether the receiver reduces what it got. The
program is laid onto an ``Engine`` with one rule for every algorithm: a rank's send
in step k waits for everything the rank received since its previous send (after the
reduction of it, if any) and for its own previous send. Contention with other
traffic, the slowest link and the store-and-forward of chunks then show up by
themselves, because every transfer is a real engine message on the real route.

Reduction arithmetic costs time on the rank that does it: a compute task of
``bytes x gamma_s_per_byte`` on the rank's node, with ``gamma = 3 / memory bandwidth``
(read both operands, write the sum: a memory-bound kernel). In-switch reduction
(``switch``, NVLink SHARP style) reduces in the switch at line rate, with no core time.

Closed forms (Thakur, Rabenseifner and Gropp 2005; ``hardware.md``) that the tests
check without contention, with ``a`` the per-message latency, ``b`` seconds per byte
and ``g`` = gamma: ring all-reduce ``2(p-1) a + 2(p-1)/p n b + (p-1)/p n g``;
Rabenseifner (``rhd``) ``2 lg p a + 2 (p-1)/p n b + (p-1)/p n g``; ``tree``
(two binomial trees, half the data each) ``2 lg p (a + n/2 b) + lg p n/2 g``.
Because the engine stores and forwards each chunk, one message over h hops costs
``(h-1) c / B`` more than ``S/B + h L``: the effective ``a`` is the path latency plus
that term (c = the message's chunk size).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim_core.errors import SpecError
from sim_core.fabric.arrays import HUB, SWITCH, TILE
from sim_core.spec.schema import LINK_KINDS

OPS = {
    "allreduce": "every rank ends with the sum of all ranks' n bytes",
    "reduce-scatter": "every rank ends with its 1/p share of the sum of n bytes",
    "allgather": "every rank ends with all ranks' shares (n bytes in total)",
    "broadcast": "rank 0's n bytes reach every rank",
    "alltoall": "every rank sends a distinct n/p bytes to every other rank",
    "sendrecv": "point to point: rank 2i sends n bytes to rank 2i+1 (pipeline stages)",
}

ALGORITHMS = {
    "ring": "p-1 neighbour steps of n/p per phase: bandwidth-optimal, latency grows with p",
    "tree": "two complementary binomial trees, half the data each (NCCL's double-tree idea): lg p steps",
    "rhd": "recursive halving then doubling (Rabenseifner): lg p steps, bandwidth-optimal",
    "torus": "dimension by dimension on a 2D/3D torus or mesh (TPU pods): rings along each axis",
    "hierarchical": "reduce-scatter inside each server, all-reduce across servers, all-gather inside",
    "switch": "in-switch reduction (NVLink SHARP): ranks send to the switch, it reduces and multicasts",
    "direct": "every transfer at once, straight to its destination",
}

SUPPORTED = {
    "allreduce": ("ring", "tree", "rhd", "torus", "hierarchical", "switch"),
    "reduce-scatter": ("ring", "rhd", "torus"),
    "allgather": ("ring", "rhd", "torus"),
    "broadcast": ("tree", "ring"),
    "alltoall": ("direct",),
    "sendrecv": ("direct",),
}

IN_SWITCH_REDUCTION = {"dgx-h100": "third-generation NVSwitch reduces in the switch (NVLink SHARP, hardware.md)"}
"""Presets whose node switch can reduce; keyed by architecture id."""

SWITCH_SEGMENTS = 16
RING_BROADCAST_SEGMENTS = 16


# ---------------------------------------------------------------------------- programs
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


def ring_phase(p: int, n: float, reduce: bool, reverse: bool = False) -> list[Step]:
    """p-1 steps, rank r sends n/p to r+1 (r-1 if ``reverse``)."""
    r = np.arange(p)
    return [_step(r, (r + (-1 if reverse else 1)) % p, n / p, reduce) for _ in range(p - 1)]


def ring(op: str, p: int, n: float, bidir: bool = False) -> list[Step]:
    """Ring reduce-scatter / all-gather / all-reduce; ``bidir``: two rings, half each."""
    if bidir and p > 2:
        return _merge(ring(op, p, n / 2), _reverse(ring(op, p, n / 2)))
    rs, ag = ring_phase(p, n, True), ring_phase(p, n, False)
    return {"reduce-scatter": rs, "allgather": ag, "allreduce": rs + ag}[op]


def _reverse(program: list[Step]) -> list[Step]:
    """The same ring steps going the other way round (r -> r-1)."""
    out = []
    for s in program:
        p = int(max(s.src.max(initial=0), s.dst.max(initial=0))) + 1
        out.append(Step(s.src, (2 * s.src - s.dst) % p, s.nbytes, s.reduce))
    return out


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


def torus(op: str, grid: tuple[int, ...], n: float, bidir: bool) -> list[Step]:
    """Reduce-scatter along each axis in turn, then all-gather back (Ying et al. 2018).

    Ranks are numbered x fastest over ``grid``; every line of an axis runs its ring at once.
    """
    idx = np.arange(int(np.prod(grid))).reshape(grid[::-1])  # [..., y, x]
    rs_steps, ag_steps = [], []
    share = n
    for axis in range(len(grid)):
        d = grid[axis]
        if d < 2:
            continue
        lines = np.moveaxis(idx, len(grid) - 1 - axis, -1).reshape(-1, d)
        rs = _merge(*[_remap(ring("reduce-scatter", d, share, bidir), line) for line in lines])
        ag = _merge(*[_remap(ring("allgather", d, share, bidir), line) for line in lines])
        rs_steps.append(rs)
        ag_steps.append(ag)
        share /= d
    rs_all = [s for prog in rs_steps for s in prog]
    ag_all = [s for prog in reversed(ag_steps) for s in prog]
    return {"reduce-scatter": rs_all, "allgather": ag_all, "allreduce": rs_all + ag_all}[op]


def hierarchical(p: int, n: float, groups: list[np.ndarray]) -> list[Step]:
    """Ring reduce-scatter in every group, ring all-reduce across groups per local index
    on n/g, ring all-gather in every group (all groups the same size g)."""
    g = len(groups[0])
    rs = _merge(*[_remap(ring("reduce-scatter", g, n), grp) for grp in groups])
    cross = _merge(*[_remap(ring("allreduce", len(groups), n / g), [grp[i] for grp in groups])
                     for i in range(g)])
    ag = _merge(*[_remap(ring("allgather", g, n), grp) for grp in groups])
    return rs + cross + ag


# ---------------------------------------------------------------------------- handles
@dataclass
class CollectiveHandle:
    """What ``schedule_collective`` added: ``message_ids`` (messages and compute tasks)."""

    op: str
    algo: str
    ranks: list[int]
    nbytes: float
    start_s: float
    message_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def done(self, eng) -> bool:
        """True once every message and reduction of the collective has finished."""
        _, fin = eng.message_times(self.message_ids)
        return bool(np.all(np.isfinite(fin)))

    def time_s(self, eng) -> float | None:
        """Seconds from the collective's start to its last completion (None while running)."""
        if self.message_ids.size == 0:
            return 0.0
        if not self.done(eng):
            return None
        _, fin = eng.message_times(self.message_ids)
        return float(fin.max() - self.start_s)


def _gamma_s_per_byte(fabric, node: int) -> float:
    """Reduction cost per byte on ``node``: 3 bytes of memory traffic per byte reduced."""
    spec = fabric.spec
    if spec is None:
        return 0.0
    bw = spec.chip.memory_bandwidth_Bps
    if fabric.node_kind[node] == TILE:
        bw /= fabric.tile_rows * fabric.tile_cols
    return 3.0 / bw


def _switch_of(fabric, ranks) -> int | None:
    """The one switch every rank hangs off directly (a node's NVSwitch), else None."""
    common = None
    for r in ranks:
        nbrs = set(fabric.link_dst[fabric.link_src == r].tolist())
        sw = {x for x in nbrs if fabric.node_kind[x] == SWITCH}
        common = sw if common is None else common & sw
    return min(common) if common else None


def _groups(fabric, ranks) -> list[np.ndarray] | None:
    server = fabric.node_server[np.asarray(ranks)]
    keys = list(dict.fromkeys(server.tolist()))
    groups = [np.flatnonzero(server == k) for k in keys]
    if len(groups) < 2 or len({len(g) for g in groups}) != 1 or len(groups[0]) < 2 or -1 in keys:
        return None
    return groups


def rank_grid(fabric, ranks) -> tuple[int, ...] | None:
    """The grid (x fastest) the ranks form: a whole chip torus or one chip's whole tile mesh."""
    ranks = list(ranks)
    if fabric.torus_dims and ranks == [fabric.device_node(d) for d in range(fabric.n_chips)]:
        return tuple(d for d in fabric.torus_dims)
    R, C = fabric.tile_rows, fabric.tile_cols
    if len(ranks) == R * C and ranks[0] < fabric.n_tiles and ranks == list(range(ranks[0], ranks[0] + R * C)) \
            and ranks[0] % (R * C) == 0:
        return (C, R)
    return None


def build_program(fabric, op: str, algo: str, ranks, nbytes: float) -> list[Step]:
    """The steps of ``algo`` for ``op`` over ``ranks`` (indices into ``ranks``)."""
    p = len(ranks)
    if op not in OPS:
        raise SpecError("collective", "op", op, "one of " + ", ".join(OPS))
    if algo not in SUPPORTED[op]:
        raise SpecError("collective", "algo", algo, f"for {op}: auto, " + ", ".join(SUPPORTED[op]))
    if op == "sendrecv":
        if p % 2:
            raise SpecError("collective", "ranks", p, "sendrecv needs pairs (an even number of ranks)")
        return [_step(np.arange(0, p, 2), np.arange(1, p, 2), nbytes)]
    if op == "alltoall":
        a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
        off = a != b
        return [_step(a[off], b[off], nbytes / p)]
    if algo == "ring":
        return ring_broadcast(p, nbytes) if op == "broadcast" else ring(op, p, nbytes)
    if algo == "tree":
        return tree(op, p, nbytes)
    if algo == "rhd":
        return rhd(op, p, nbytes)
    if algo == "torus":
        grid = rank_grid(fabric, ranks)
        if grid is None:
            raise SpecError("collective", "algo", algo, "torus needs the ranks of a whole chip torus or of one chip's tile mesh")
        wraps = bool(fabric.torus_dims) if ranks[0] >= fabric.n_tiles else fabric.on_chip_torus
        return torus(op, grid, nbytes, bidir=wraps)
    if algo == "hierarchical":
        groups = _groups(fabric, ranks)
        if groups is None:
            raise SpecError("collective", "algo", algo, "hierarchical needs ranks on 2+ servers, the same number (2+) on each")
        return hierarchical(p, nbytes, groups)
    raise SpecError("collective", "algo", algo, "switch is scheduled separately")  # pragma: no cover


def schedule_collective(eng, op: str, algo: str, ranks, nbytes: float, *, tag: int = 0,
                        at_s: float | None = None, gamma_s_per_byte: float | None = None,
                        after=()) -> CollectiveHandle:
    """Add collective ``op`` over endpoint nodes ``ranks`` to ``eng`` as messages with dependencies.

    Parameters
    ----------
    eng : Engine
    op : str
        A key of ``OPS``.
    algo : str
        A key of ``ALGORITHMS`` supported for ``op`` (``SUPPORTED``), or ``"auto"``.
    ranks : list of int
        Endpoint node ids (device hubs or tiles), in rank order; distinct except for
        ``sendrecv``, whose pairs (ranks[2i], ranks[2i+1]) may share nodes (a pipeline chain).
    nbytes : float
        Bytes of the operation as NCCL counts them (the whole buffer for all-reduce,
        all-gather output, reduce-scatter input; per pair for sendrecv).
    tag : int
        Tag of every message (for colouring in the app).
    at_s : float, optional
        Release time of the first step (default: the engine's now).
    gamma_s_per_byte : float, optional
        Reduction cost per byte (default ``3 / memory bandwidth`` of the rank's core).
    after : sequence of int
        Engine ids (messages or compute tasks) every rank's first send waits for.
    """
    ranks = [int(r) for r in ranks]
    if len(ranks) < 2:
        raise SpecError("collective", "ranks", len(ranks), "at least 2 ranks")
    if op != "sendrecv" and len(set(ranks)) != len(ranks):
        raise SpecError("collective", "ranks", ranks[:8], "distinct nodes")
    if not (math.isfinite(nbytes) and nbytes >= 0):
        raise SpecError("collective", "bytes", nbytes, "a finite number of bytes >= 0")
    fab = eng.f
    if algo == "auto":
        algo = choose_algorithm(fab, op, nbytes, ranks)
    start = eng.now_s if at_s is None else float(at_s)
    if algo == "switch":
        ids = _schedule_switch(eng, op, ranks, nbytes, tag, start, [int(a) for a in np.ravel(after)])
    else:
        program = build_program(fab, op, algo, ranks, nbytes)
        ids = _lay_out(eng, program, np.asarray(ranks, dtype=np.int64), tag, start, gamma_s_per_byte, [int(a) for a in np.ravel(after)])
    return CollectiveHandle(op, algo, ranks, float(nbytes), start, ids)


def _lay_out(eng, program: list[Step], nodes: np.ndarray, tag: int, start: float, gamma, after) -> np.ndarray:
    """Messages for every step; deps: receipts since the rank's last send, and that send."""
    fab = eng.f
    p = len(nodes)
    pending: list[list[int]] = [list(after) for _ in range(p)]
    last: list[list[int]] = [[] for _ in range(p)]
    gam = np.array([_gamma_s_per_byte(fab, int(n)) if gamma is None else gamma for n in nodes])
    all_ids = []
    for st in program:
        if st.src.size == 0:
            continue
        sizes = _split_bytes(st.nbytes)
        ids = eng.add_messages(nodes[st.src], nodes[st.dst], sizes, at_s=start, tag=tag)
        before, after = [], []
        for i, r in enumerate(st.src.tolist()):
            deps = pending[r] + last[r]
            before += deps
            after += [int(ids[i])] * len(deps)
        for r in set(st.src.tolist()):
            pending[r] = []
            last[r] = []
        for i, r in enumerate(st.src.tolist()):
            last[r].append(int(ids[i]))
        if before:
            eng.add_dependencies(before, after)
        all_ids.append(ids)
        if st.reduce:
            got = np.bincount(st.dst, weights=sizes, minlength=p)
            recv = np.unique(st.dst)
            tasks = eng.add_compute(nodes[recv], got[recv] * gam[recv], tag=tag)
            pos = {int(r): int(t) for r, t in zip(recv, tasks)}
            eng.add_dependencies(ids, [pos[int(d)] for d in st.dst])
            for r, t in pos.items():
                pending[r].append(t)
            all_ids.append(tasks)
        else:
            for i, d in enumerate(st.dst.tolist()):
                pending[d].append(int(ids[i]))
    return np.concatenate(all_ids) if all_ids else np.zeros(0, dtype=np.int64)


def _split_bytes(nbytes: np.ndarray) -> np.ndarray:
    """Whole bytes; a fractional share rounds so the total is kept (e.g. 1000 B over 64 ranks)."""
    return np.floor(nbytes + 0.5)


def _schedule_switch(eng, op: str, ranks: list[int], nbytes: float, tag: int, start: float, after) -> np.ndarray:
    """In-switch all-reduce in segments: up to the switch, reduced there, multicast down."""
    fab = eng.f
    if op != "allreduce":
        raise SpecError("collective", "algo", "switch", "in-switch reduction is for allreduce only")
    spec_id = getattr(fab.spec, "id", None)
    sw = _switch_of(fab, ranks)
    if spec_id not in IN_SWITCH_REDUCTION or sw is None:
        allowed = ", ".join(IN_SWITCH_REDUCTION)
        raise SpecError("collective", "algo", "switch",
                        f"in-switch reduction needs ranks on one switch that reduces (presets: {allowed})")
    seg = nbytes / SWITCH_SEGMENTS
    ids = []
    for _ in range(SWITCH_SEGMENTS):
        up = eng.add_messages(ranks, sw, np.floor(seg + 0.5), at_s=start, tag=tag)
        down = eng.add_messages(np.full(len(ranks), sw), ranks, np.floor(seg + 0.5), at_s=start, tag=tag)
        eng.add_dependencies(np.repeat(up, len(down)), np.tile(down, len(up)))
        if after:
            eng.add_dependencies(np.repeat(after, len(up)), np.tile(up, len(after)))
        ids += [up, down]
    return np.concatenate(ids)


def choose_algorithm(fabric, op: str, nbytes: float, ranks) -> str:
    """NCCL-like choice by size and topology: latency-bound sizes take trees, large sizes
    rings; multi-server groups go hierarchical, whole tori and meshes dimension by dimension,
    and switches that reduce (NVLink SHARP) take the all-reduce themselves."""
    if op not in OPS:
        raise SpecError("collective", "op", op, "one of " + ", ".join(OPS))
    ranks = list(ranks)
    p = len(ranks)
    small = nbytes < 256 * 1024
    if op in ("alltoall", "sendrecv"):
        return "direct"
    if op == "broadcast":
        return "tree" if small or p <= 2 else "ring"
    if rank_grid(fabric, ranks) is not None and len(ranks) > 2 and not small:
        return "torus"
    if op != "allreduce":
        return "rhd" if small and p & (p - 1) == 0 else "ring"
    if small:
        return "tree"
    if getattr(fabric.spec, "id", None) in IN_SWITCH_REDUCTION and _switch_of(fabric, ranks) is not None:
        return "switch"
    if _groups(fabric, ranks) is not None:
        return "hierarchical"
    return "ring"


BUSBW_FACTOR = {"allreduce": lambda p: 2 * (p - 1) / p, "reduce-scatter": lambda p: (p - 1) / p,
                "allgather": lambda p: (p - 1) / p, "alltoall": lambda p: (p - 1) / p,
                "broadcast": lambda p: 1.0, "sendrecv": lambda p: 1.0}
"""NCCL's bus-bandwidth factors (nccl-tests doc/PERFORMANCE.md)."""


def collective_engine(fabric, nbytes: float, p: int, *, chunks_per_message: int = 16, seed: int = 0):
    """An engine sized for one collective: at most ``chunks_per_message`` chunks a message,
    so the chunk count on the critical path (the engine's cost) stays modest."""
    from sim_core.engine.core import Engine
    share = max(nbytes / max(p, 1), 1.0)
    chunk = int(max(65536, share / chunks_per_message))
    return Engine(fabric, chunk_bytes=chunk, max_chunks_per_message=chunks_per_message, seed=seed)


def run_collective(fabric, op: str, algo: str, ranks, nbytes: float, *, chunks_per_message: int = 16,
                   gamma_s_per_byte: float | None = None) -> dict:
    """Simulate one collective alone on ``fabric`` and report NCCL's figures.

    Returns a dict: ``time_s``, ``algbw_GBps`` (bytes / time), ``busbw_GBps`` (algbw x
    NCCL's factor), ``algo`` (resolved), ``bottleneck_link_kind`` (kind of the link that
    was busy longest), ``bottleneck_link``, ``messages``.
    """
    ranks = [int(r) for r in ranks]
    eng = collective_engine(fabric, nbytes, len(ranks), chunks_per_message=chunks_per_message)
    h = schedule_collective(eng, op, algo, ranks, nbytes, gamma_s_per_byte=gamma_s_per_byte)
    eng.run_until_idle(dt_s=1.0)
    t = h.time_s(eng) or 0.0
    p = len(ranks)
    busy = eng.link_busy_total_s
    top = int(np.argmax(busy)) if busy.size and busy.max() > 0 else -1
    algbw = nbytes / t if t > 0 else float("inf")
    return {
        "op": op, "algo": h.algo, "ranks": p, "bytes": float(nbytes), "time_s": t,
        "algbw_GBps": algbw / 1e9, "busbw_GBps": algbw * BUSBW_FACTOR[op](p) / 1e9,
        "bottleneck_link_kind": LINK_KINDS[fabric.link_kind[top]] if top >= 0 else None,
        "bottleneck_link": fabric.link_label(top) if top >= 0 else None,
        "messages": int(h.message_ids.size),
    }
