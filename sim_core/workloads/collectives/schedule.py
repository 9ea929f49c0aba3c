"""Lay a collective onto an ``Engine``: messages with dependencies, delays and reductions.

One rule for every program: a rank's send in step k waits for everything the rank received
since its previous send (after the reduction of it, if any) and for its own previous send.
Independent pieces (one per channel lane, one per NVLS segment) each follow the rule on
their own, so they overlap as NCCL's channels do. Each message carries the protocol's wire
bytes (payload / ``wire_efficiency``) and waits the protocol's per-step delay once its
dependencies are met; the first step also waits the launch latency. Contention with other
traffic, the slowest link and the store-and-forward of chunks then show up by themselves,
because every transfer is a real engine message on the real route.

A reduction is compute work on the receiving rank for the bytes whose reduction is
exposed (``reduction.exposed_bytes``: one slice under NCCL, which reduces while data
streams; the whole message without a library). NVLS reduces in the switch: no core time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim_core.errors import SpecError
from sim_core.workloads.collectives import layout
from sim_core.workloads.collectives import programs as prog
from sim_core.workloads.collectives import tuning
from sim_core.workloads.collectives.catalogue import NO_PROTOCOL
from sim_core.workloads.collectives.protocols import (launch_delay_s, slice_bytes,
                                                      wire_efficiency)
from sim_core.workloads.collectives.reduction import reduction_s_per_byte
from sim_core.workloads.collectives.selection import Choice, choose_for
from sim_core.fabric.routing import Router
from sim_core.workloads.collectives.topology import (rail_rings, rank_grid, reducing_switch, server_groups,
                                                     switch_of)

NVLS_MAX_SEGMENTS = 128
"""NVLS runs as pipelined segments of at least one round of NCCL's NVLS chunks over all its
channels (``NVLS_CHUNK_BYTES x NVLS_CHANNELS`` per rank), at most this many: the pipeline
fill, one segment's upload, then stays under 1% of the time."""


@dataclass
class CollectiveHandle:
    """What ``schedule_collective`` added: ``message_ids`` (messages and reductions) and
    the choice it ran (``algo``, ``protocol``, NCCL ``channels``, simulated ``lanes``)."""

    op: str
    algo: str
    ranks: list[int]
    nbytes: float
    start_s: float
    message_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    protocol: str = NO_PROTOCOL
    channels: int = 1
    lanes: int = 1
    predicted_s: float | None = None
    rank_done_ids: np.ndarray | None = None
    """(p,) int64: per rank, a join that completes once everything of the collective on
    that rank has (``schedule_collective(..., joins=True)``); None without joins."""

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


def fabric_router(fabric) -> Router:
    """The fabric's router, for looking up paths while building programs (the engines on
    the fabric share it: ``Router.of``)."""
    return Router.of(fabric)


def in_flight(protocol: str) -> int:
    """Transfers of one channel in flight at once: NCCL_STEPS buffer slots under NCCL (the
    engine runs that many interleaved copies of a lane's program, each with its share of
    the bytes, so one copy's store-and-forward hides behind the others as NCCL's slices
    do). LL and LL128 forward line by line, so their small chunks already pipeline: one
    copy; one without a library."""
    return tuning.NCCL_STEPS if protocol == "Simple" else 1


def build_pieces(fabric, op: str, choice: Choice, ranks: list[int], nbytes: float):
    """Independent programs of the chosen algorithm: a list of (steps, node ids)."""
    algo, p = choice.algo, len(ranks)
    nodes = np.asarray(ranks, dtype=np.int64)
    groups = server_groups(fabric, ranks)
    if op in ("sendrecv", "alltoall"):
        return [(prog.point_to_point(op, p, nbytes, groups), nodes)]
    if algo == "nvls":
        sw = switch_of(fabric, ranks)
        unit = tuning.NVLS_CHUNK_BYTES * tuning.NVLS_CHANNELS
        segs = int(min(NVLS_MAX_SEGMENTS, max(1, nbytes // unit)))
        with_switch = np.append(nodes, sw)
        return [(prog.nvls(p, nbytes / segs), with_switch) for _ in range(segs)]
    if algo == "ring" and op == "broadcast":
        return [(prog.ring_broadcast(p, nbytes), nodes)]
    if algo == "ring":
        orders = rail_rings(groups, choice.lanes) if choice.lanes > 1 else [np.arange(p)]
        g = in_flight(choice.protocol)
        share = nbytes / (len(orders) * g)
        return [(prog.remap(prog.ring(op, p, share), order), nodes) for order in orders for _ in range(g)]
    if algo == "tree" and op == "allreduce" and choice.protocol != NO_PROTOCOL and groups is not None:
        g = in_flight(choice.protocol)
        share = nbytes / (2 * choice.lanes * g)
        return [(prog.server_tree(groups, c, share, mirrored), nodes)
                for c in range(choice.lanes) for mirrored in (False, True) for _ in range(g)]
    if algo == "tree":
        return [(prog.tree(op, p, nbytes), nodes)]
    if algo == "rhd":
        return [(prog.rhd(op, p, nbytes), nodes)]
    if algo == "torus":
        grid = rank_grid(fabric, ranks)
        if grid is None:
            raise SpecError("collective", "algo", algo, "torus needs the ranks of a whole chip torus or of one chip's tile mesh")
        wraps = bool(fabric.torus_dims) if ranks[0] >= fabric.n_tiles else fabric.on_chip_torus
        return [(prog.torus(op, grid, nbytes, bidir=wraps), nodes)]
    if algo == "hierarchical":
        if groups is None:
            raise SpecError("collective", "algo", algo, "hierarchical needs ranks on 2+ servers, the same number (2+) on each")
        return [(prog.hierarchical(p, nbytes, groups), nodes)]
    if algo == "collnet" and groups is not None:
        router = fabric_router(fabric)
        sws = [reducing_switch(fabric, router, nodes[np.stack(groups)[:, i]]) for i in range(len(groups[0]))]
        g = in_flight(choice.protocol)
        with_switches = np.concatenate([nodes, np.asarray(sws, dtype=np.int64)])
        return [(prog.collnet(groups, nbytes / g), with_switches) for _ in range(g)]
    raise SpecError("collective", "algo", algo, "collnet needs the same number (2+) of ranks on 2+ servers")


def schedule_collective(eng, op: str, algo: str, ranks, nbytes: float, *, protocol: str = "auto", tag: int = 0,
                        at_s: float | None = None, gamma_s_per_byte: float | None = None,
                        after=(), joins: bool = False) -> CollectiveHandle:
    """Add collective ``op`` over endpoint nodes ``ranks`` to ``eng`` as messages with dependencies.

    Parameters
    ----------
    eng : Engine
    op : str
        A key of ``OPS``.
    algo, protocol : str
        An algorithm supported for ``op`` and an NCCL protocol (LL, LL128, Simple), or
        ``"auto"`` for NCCL's choice (``selection.choose``).
    ranks : list of int
        Endpoint node ids (device hubs or tiles), in rank order; distinct except for
        ``sendrecv``, whose pairs (ranks[2i], ranks[2i+1]) may share nodes (a pipeline chain).
    nbytes : float
        Bytes of the operation as NCCL counts them (the whole buffer for all-reduce,
        all-gather output, reduce-scatter input; per pair for sendrecv).
    tag : int
        Tag of every message (for colouring in the app).
    at_s : float, optional
        Start of the collective (default: the engine's now); the first step waits the launch latency.
    gamma_s_per_byte : float, optional
        Reduction cost per byte (default ``reduction.reduction_s_per_byte`` of each rank).
    after : sequence of int, or a list of p sequences
        Engine ids (messages or compute) every rank's first send waits for; a list of one
        sequence per rank gives each rank its own (a rank starts when its own stream has
        finished what came before, as a CUDA stream does).
    joins : bool
        Also add, per rank, a join (a 0-byte message from the rank to itself) released
        once the rank's last send and every receipt after it have completed: what the
        rank's next work waits for, as one id instead of every message of the collective.
    """
    ranks = [int(r) for r in ranks]
    if len(ranks) < 2:
        raise SpecError("collective", "ranks", len(ranks), "at least 2 ranks")
    if op != "sendrecv" and len(set(ranks)) != len(ranks):
        raise SpecError("collective", "ranks", ranks[:8], "distinct nodes")
    if not (math.isfinite(nbytes) and nbytes >= 0):
        raise SpecError("collective", "bytes", nbytes, "a finite number of bytes >= 0")
    fab = eng.f
    choice = choose_for(fab, op, nbytes, ranks, algo, protocol)
    start = eng.now_s if at_s is None else float(at_s)
    gen = getattr(getattr(fab.spec, "chip", None), "gpu_generation", "")
    eff = wire_efficiency(choice.algo, choice.protocol, gen)
    sl = None if choice.protocol == NO_PROTOCOL else slice_bytes(choice.algo, choice.protocol)
    launch = launch_delay_s(choice.algo, choice.protocol)
    per_rank = _per_rank_after(after, len(ranks))
    gam_by_node: dict = {}

    def gamma(nodes):
        for n in set(nodes.tolist()) - gam_by_node.keys():
            gam_by_node[n] = reduction_s_per_byte(fab, n) if gamma_s_per_byte is None else gamma_s_per_byte
        return [gam_by_node[n] for n in nodes.tolist()]

    nvls = choice.algo == "nvls"
    pieces = []
    rank_first = [layout.ext(a) for a in per_rank]  # shared by the pieces, never written
    for k, (steps, nodes) in enumerate(build_pieces(fab, op, choice, ranks, nbytes)):
        # the ranks come first in every piece's nodes (switches, if any, after them)
        first = rank_first[:len(nodes)] + [layout.EMPTY] * (len(nodes) - len(ranks))
        # NVLS pays its latency once: later segments are pipelined behind the first
        pieces.append(layout.Piece(steps, np.asarray(nodes, dtype=np.int64), first, timed=not nvls or k == 0))
    ids, _, (tail_rank, tail_id) = layout.lay_out(eng, pieces, algo=choice.algo, protocol=choice.protocol, eff=eff,
                                                  sl=sl, launch=launch, gamma=gamma, tag=tag, start=start, chain=nvls)
    ids = [ids]
    rank_done = None
    if joins:
        mine = tail_rank < len(ranks)  # ranks come first in a piece's nodes; switches after them
        rank_done = _join(eng, np.asarray(ranks, dtype=np.int64), tail_rank[mine], tail_id[mine], tag, start)
        ids.append(rank_done)
    message_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    return CollectiveHandle(op, choice.algo, ranks, float(nbytes), start, message_ids, choice.protocol,
                            choice.channels, choice.lanes, choice.predicted_s, rank_done)


def _per_rank_after(after, p: int) -> list[np.ndarray]:
    """``after`` as one int64 array per rank (a flat sequence applies to every rank)."""
    if isinstance(after, (list, tuple)) and len(after) == p and p and all(np.ndim(a) == 1 for a in after):
        return [np.asarray(a, dtype=np.int64) for a in after]
    flat = np.asarray(after, dtype=np.int64).ravel()
    return [flat] * p


def _join(eng, nodes: np.ndarray, tail_rank: np.ndarray, tail_id: np.ndarray, tag: int, start: float):
    """One 0-byte self message per rank, released once the ids its parts end with
    (``tail_id[tail_rank == r]``: its last sends and the receipts after them; for a rank
    with no traffic, what the collective waited for on it) have completed: (p,) int64 ids."""
    ids = eng.add_messages(nodes, nodes, 0, at_s=start, tag=tag)
    eng.add_dependencies(tail_id, ids[tail_rank])
    return ids
