"""Each distinct communication of a schedule, simulated once on the real fabric.

Every operation runs with the groups that run it at the same time, so they contend for
the links they share:

* TP collectives: every TP group of the first server at once (one group per server at
  tp 8 on an 8-GPU server).
* pipeline sends: one microbatch's activations (``b s h x 2 / tp`` bytes, Megatron's
  scatter-gather) across every stage boundary at once, for every TP rank of the first
  replica; each boundary keeps its own time (an NVLink hop is not an InfiniBand hop).
* data-parallel buckets and ZeRO-3 gathers: every TP rank of the first stage at once
  over its data-parallel replicas, so concurrent rings share NICs, leaves and spines
  (on wafers, every stage's ranks: all of a wafer's regions share its I/O links).

``estimate`` composes these times by the schedule; no engine runs once per layer.

A ring over more than ``RING_SAMPLE_RANKS`` replicas is simulated on that many of them,
evenly strided over the group (so its rings still cross the same switch levels), with
every concurrent group and the same bytes per step (``n / p``); its ``p - 1`` steps (``2
(p - 1)`` for an all-reduce) are identical, so the time scales by ``(p - 1) / (G - 1)``.
The result says so (``sampled_ranks``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim_core.spec.schema import LINK_KINDS
from sim_core.workloads.collectives.algorithms import choose_algorithm, collective_engine, schedule_collective
from sim_core.workloads.training.plan import Plan, rank_node

RING_SAMPLE_RANKS = 8
"""Ranks a long ring is simulated on (see the module docstring)."""

CHUNKS_PER_MESSAGE = 8
"""Default resolution of a projection's simulations: each message cut into this many chunks."""


@dataclass(frozen=True)
class Resolution:
    """How finely a projection's communication is simulated (``train --chunk-bytes --dt``):
    ``chunk_bytes`` (None: ``CHUNKS_PER_MESSAGE`` chunks a message) and ``dt_s`` (None:
    event to event; any step gives the same result)."""

    chunk_bytes: int | None = None
    dt_s: float | None = None


DEFAULT_RESOLUTION = Resolution()


def resolution_engine(fab, nbytes: float, p: int, res: Resolution):
    if res.chunk_bytes is not None:
        return collective_engine(fab, nbytes, p, chunk_bytes=res.chunk_bytes)
    return collective_engine(fab, nbytes, p, chunks_per_message=CHUNKS_PER_MESSAGE)


def run_engine(eng, res: Resolution) -> None:
    if res.dt_s:
        from sim_core.engine.core import run_in_steps
        run_in_steps(eng, res.dt_s)
    else:
        eng.run_until_idle(dt_s=1.0)


def simulate_groups(fab, op: str, groups: list[list[int]], nbytes: float, algo: str = "auto",
                    res: Resolution = DEFAULT_RESOLUTION) -> dict:
    """Run ``op`` over every rank list of ``groups`` at once on one engine.

    Returns ``time_s`` (the slowest group), ``group_times_s`` (each group's), ``link_kind``
    (of the busiest link) and ``algo``.
    """
    p = 2 if op == "sendrecv" else max(len(g) for g in groups)
    eng = resolution_engine(fab, nbytes, p, res)
    handles = [schedule_collective(eng, op, algo, g, nbytes) for g in groups]
    run_engine(eng, res)
    busy = eng.link_busy_total_s
    kind = LINK_KINDS[fab.link_kind[int(np.argmax(busy))]] if busy.size and busy.max() > 0 else "none"
    times = [h.time_s(eng) or 0.0 for h in handles]
    return {"time_s": max(times), "link_kind": kind, "algo": handles[0].algo, "group_times_s": times}


def simulate_sends(fab, boundaries: list[list[int]], nbytes: float, res: Resolution = DEFAULT_RESOLUTION) -> dict:
    """Point-to-point sends of ``nbytes`` for every (src, dst) pair of every boundary at once,
    as plain engine messages (what ``schedule_iteration`` sends); a time per boundary."""
    eng = resolution_engine(fab, nbytes, 2, res)
    pairs = np.array([b for b in boundaries], dtype=np.int64).reshape(len(boundaries), -1, 2)
    ids = eng.add_messages(pairs[..., 0].ravel(), pairs[..., 1].ravel(), np.full(pairs[..., 0].size, float(nbytes)))
    run_engine(eng, res)
    rel, fin = eng.message_times(ids)
    per = (fin - rel).reshape(len(boundaries), -1).max(axis=1)
    busy = eng.link_busy_total_s
    kind = LINK_KINDS[fab.link_kind[int(np.argmax(busy))]] if busy.size and busy.max() > 0 else "none"
    return {"time_s": float(per.max()), "link_kind": kind, "algo": "direct", "group_times_s": [float(x) for x in per]}


def simulate_sampled(fab, op: str, groups: list[list[int]], nbytes: float, res: Resolution = DEFAULT_RESOLUTION) -> dict:
    """``simulate_groups``, on ``RING_SAMPLE_RANKS`` strided ranks when the op is a long ring."""
    p, G = len(groups[0]), RING_SAMPLE_RANKS
    if op == "sendrecv":
        return simulate_sends(fab, groups, nbytes, res)
    if p <= G or choose_algorithm(fab, op, nbytes, groups[0]) != "ring":
        return simulate_groups(fab, op, groups, nbytes, res=res)
    idx = np.unique(np.linspace(0, p - 1, G).round().astype(int))
    out = simulate_groups(fab, op, [[g[i] for i in idx] for g in groups], nbytes * idx.size / p, algo="ring", res=res)
    out["time_s"] *= (p - 1) / (idx.size - 1)
    out["sampled_ranks"] = int(idx.size)
    return out


def groups_for(fab, plan: Plan, group: str) -> tuple[str, list[list[int]]] | None:
    """The concurrent rank lists of a ``tp``, ``pp`` or ``dp`` communication (None: no peers)."""
    def node(j, i, k):
        return rank_node(fab, plan, j, i, k)

    tp, pp, dp = plan.tp, plan.pp, plan.dp
    if group == "tp":
        if tp < 2:
            return None
        per_node = max(1, getattr(fab.spec.topology, "chips_per_node", tp) // tp) if fab.spec.topology.kind == "cluster" else 1
        reps = [(i, k) for k in range(pp) for i in range(dp)][:per_node]
        return "groups", [[node(j, i, k) for j in range(tp)] for i, k in reps]
    if group == "pp":  # one rank list of (src, dst) pairs per stage boundary, k -> k + 1
        if pp < 2:
            return None
        bounds = range(pp if plan.virtual_stages > 1 else pp - 1)  # interleaving also sends last -> first
        return "pairs", [[x for j in range(tp) for x in (node(j, 0, k), node(j, 0, (k + 1) % pp))]
                         for k in bounds]
    if dp < 2:
        return None
    # a wafer's stages all leave through the same wafer I/O: their buckets contend there
    stages = range(pp) if fab.spec.topology.kind == "wafer" else range(1)
    return "groups", [[node(j, i, k) for i in range(dp)] for k in stages for j in range(tp)]


def simulate_ops(fab, plan: Plan, ops: dict, keys, progress, cache: dict | None = None,
                 res: Resolution = DEFAULT_RESOLUTION) -> dict:
    """``key -> {time_s, link_kind, algo}`` for the ``keys`` of ``ops`` the schedule uses."""
    out = {}
    cache = {} if cache is None else cache
    for key in keys:
        group, op, nbytes = ops[key]
        g = groups_for(fab, plan, group)
        if plan.free_comm or g is None or nbytes <= 0:
            out[key] = {"time_s": 0.0, "link_kind": "none", "algo": None}
            continue
        memo = (id(fab), plan.tp, plan.pp, plan.dp, group, op, nbytes, res)
        if memo in cache:
            out[key] = cache[memo]
            continue
        _, ranks = g
        progress(f"simulating {op} of {nbytes / 1e6:.3g} MB ({key}) over {len(ranks)} concurrent "
                 f"{'stage boundaries' if group == 'pp' else group + ' groups'}")
        out[key] = simulate_sampled(fab, op, ranks, nbytes, res)
        cache[memo] = out[key]
    return out


def simulate_tails(fab, plan: Plan, sched, times, last_start_s, res: Resolution = DEFAULT_RESOLUTION):
    """Every stage's end of iteration on one engine, as ``schedule_iteration`` runs it:
    gradient buckets launched as the stage's last backward pass (started at
    ``last_start_s[k]``, from ``schedule.pipeline_run``) produces them, one after another,
    then the optimizer step and, with a sharded optimizer, the weights' all-gathers. Stages
    run at once, so where they share links (a wafer's regions share its I/O) they contend
    as they overlap. Returns per stage (end of its last bucket, end of its tail), seconds.
    """
    from sim_core.workloads.training.schedule import bucket_ops, bucket_ready_s

    bucket_bytes = max(g / n for g, n in zip(sched.stage_grad_bytes, sched.buckets) if n)
    eng = resolution_engine(fab, bucket_bytes, plan.dp, res)
    stages = []
    for k in range(plan.pp):
        items, n_b = sched.backward[k], sched.buckets[k]
        groups = [[rank_node(fab, plan, j, i, k) for i in range(plan.dp)] for j in range(plan.tp)]
        ops = bucket_ops(plan, sched.stage_grad_bytes[k])
        carried = sched.stage_grad_bytes[k] - sum(it.grad_bytes for it in items)
        early, length = bucket_ready_s(items, times, n_b, carried)
        pass_end = last_start_s[k] + length
        ready = early + [length] * (n_b - len(early)) if n_b else []
        prev = [[[] for _ in g] for g in groups]
        grad = []
        for t in ready:
            hs = [schedule_collective(eng, ops["dp_grad"][1], "auto", g, ops["dp_grad"][2], at_s=last_start_s[k] + t,
                                      after=p, joins=True) for g, p in zip(groups, prev)]
            grad = [h.rank_done_ids for h in hs]
            prev = [[[x] for x in ids] for ids in grad]
        nodes = [x for g in groups for x in g]
        opt = eng.add_compute(nodes, sched.optimizer_s[k], at_s=pass_end)
        if grad:
            done = np.concatenate([np.asarray(ids, dtype=np.int64) for ids in grad])
            eng.add_dependencies(done, opt)
        tail = [opt]
        prev = [[[int(x)] for x in opt[n * plan.dp:(n + 1) * plan.dp]] for n in range(len(groups))]
        for _ in range(n_b if "dp_param" in ops else 0):
            hs = [schedule_collective(eng, ops["dp_param"][1], "auto", g, ops["dp_param"][2], after=p, joins=True)
                  for g, p in zip(groups, prev)]
            ids = [h.rank_done_ids for h in hs]
            tail.append(np.concatenate([np.asarray(x, dtype=np.int64) for x in ids]))
            prev = [[[x] for x in r] for r in ids]
        stages.append((pass_end, grad, tail))
    run_engine(eng, res)
    out = []
    for pass_end, grad, tail in stages:
        g_end = max([float(eng.message_times(np.asarray(ids, dtype=np.int64))[1].max()) for ids in grad] or [pass_end])
        t_end = float(eng.message_times(np.concatenate(tail))[1].max())
        out.append((g_end, t_end))
    return out
