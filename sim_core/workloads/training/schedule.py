"""One training iteration as a schedule: the operations every device runs, in order.

This module is the one definition of the iteration. ``estimate`` times it (simulating
each distinct communication once and composing by these lists) and
``schedule_iteration`` lays the same lists onto an engine for animation, so both see the
same tensor-parallel collectives per layer, the same pipeline sends and the same
gradient buckets (``schedule_counts`` counts them).

A *pass* is one model chunk's forward or backward for one microbatch on one pipeline
stage: a list of ``Item``s. Per layer, with ``tp > 1``: two TP all-reduces in the forward
(after attention and after the MLP, Megatron-LM's ``g`` operator), two in the backward
(``f``), and two more when full recomputation re-runs the forward; sequence parallelism
turns each all-reduce into a reduce-scatter and an all-gather of the same bytes
(Korthikanti et al. 2022, arXiv 2205.05198). ZeRO-3 gathers a layer's weights before its
forward and before its backward and reduce-scatters its gradients after the backward
(Rajbhandari et al. 2020, arXiv 1910.02054). Compute items between two communications
are one engine task; a layer's backward ends with an item that carries the gradient bytes
it produced, so data-parallel buckets start while the backward still runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim_core.workloads.training.efficiency import CNN_SHARE_OF_CEILING, cnn_pass_s, layer_pass_s, output_layer_s, \
    wafer_stage_s
from sim_core.workloads.training.plan import Plan, stage_layers

OPTIMIZER_TRAFFIC_BYTES = 32.0
"""Bytes of memory traffic per parameter of an Adam step (read and write 16 bytes of state)."""


@dataclass
class Item:
    """One operation of a pass: ``compute`` (``seconds``, ``grad_bytes`` produced) or a
    communication named by ``key`` (a key of ``comm_ops``)."""

    kind: str
    seconds: float = 0.0
    key: str = ""
    grad_bytes: float = 0.0


@dataclass
class Schedule:
    """Every pass of one iteration. ``forward[c]`` / ``backward[c]``: item lists of model
    chunk ``c`` (``pp x v`` chunks in pipeline order; chunk ``c`` runs on stage ``c % pp``).
    ``ops``: the distinct communications, ``key -> (group, op, bytes)``.
    """

    plan: Plan
    microbatches: int
    forward: list[list[Item]]
    backward: list[list[Item]]
    ops: dict
    stage_grad_bytes: list[float]
    optimizer_s: list[float]
    buckets: list[int] = field(default_factory=list)

    @property
    def chunks(self) -> int:
        return len(self.forward)


def _merge(items: list[Item]) -> list[Item]:
    out: list[Item] = []
    for it in items:
        if it.kind == "compute" and out and out[-1].kind == "compute":
            out[-1] = Item("compute", out[-1].seconds + it.seconds, grad_bytes=out[-1].grad_bytes + it.grad_bytes)
        else:
            out.append(it)
    return out


def _tp_items(plan: Plan) -> list[Item]:
    if plan.tp == 1:
        return []
    return [Item("comm", key="tp_rs"), Item("comm", key="tp_ag")] if plan.sequence_parallel else [Item("comm", key="tp_ar")]


def _layer(model, plan, t, grad_bytes) -> tuple[list[Item], list[Item]]:
    """(forward items, backward items) of one transformer layer on one TP rank."""
    (af, ab), (mf, mb) = t["attention"], t["mlp"]
    tp = _tp_items(plan)
    z3 = plan.zero >= 3 and plan.dp > 1
    fwd = [Item("compute", af), *tp, Item("compute", mf), *tp]
    bwd = [Item("comm", key="z3_ag")] if z3 else []
    if plan.recompute_mode == "full":
        bwd += fwd
    extra = t["core_attention"] if plan.recompute_mode == "selective" else 0.0
    bwd += [Item("compute", mb), *tp, Item("compute", ab + extra, grad_bytes=grad_bytes), *tp]
    if z3:
        bwd.append(Item("comm", key="z3_rs"))
        fwd = [Item("comm", key="z3_ag"), *fwd]
    return _merge(fwd), _merge(bwd)


def build_schedule(spec, model, plan: Plan, microbatches: int, *, fit: dict | None = None) -> Schedule:
    """The schedule of one iteration of ``model`` under a laid-out ``plan`` on ``spec``'s chips."""
    chip = spec.chip
    fit = dict(fit or {})
    cnn_share = fit.pop("cnn_share", CNN_SHARE_OF_CEILING)
    k = plan.pp * plan.virtual_stages
    forward, backward = [], []
    grads = [0.0] * plan.pp
    params_stage = [0.0] * plan.pp
    share = 1.0  # of a chip's memory bandwidth each stage has (a wafer's region: 1 / stages)
    if spec.topology.kind == "wafer":
        forward, backward, params_stage = _wafer_passes(chip, model, plan)
        share = 1.0 / k
    elif model.is_transformer:
        tokens = plan.microbatch * model.seq
        t = layer_pass_s(chip, model, tokens, plan.tp, sequence_parallel=plan.sequence_parallel, fit=fit)
        out = output_layer_s(chip, model, tokens, plan.tp, fit=fit)
        layer_params = model.layer_parameters() / plan.tp
        for c, n_layers in enumerate(stage_layers(model, plan)):
            f_items, b_items = _layer(model, plan, t, 2.0 * layer_params)
            fwd = f_items * n_layers
            bwd = b_items * n_layers
            if c == k - 1:  # the output layer joins the last layer's first and last compute
                fwd = f_items * (n_layers - 1) + _merge(f_items + [Item("compute", out["forward"])])
                bwd = _merge([Item("compute", out["backward"])] + b_items) + b_items * (n_layers - 1)
            forward.append(fwd)
            backward.append(bwd)
            params_stage[c % plan.pp] += layer_params * n_layers
        params_stage[0] += (model.vocab + model.seq) * model.hidden / plan.tp
    else:
        p = cnn_pass_s(chip, model, plan.microbatch, share=cnn_share, ceiling=fit.get("ceiling"))
        L = max(1, model.layers)
        params_stage[0] = model.parameters()
        forward.append([Item("compute", p["forward"])])
        backward.append([Item("compute", p["backward"] / L, grad_bytes=2.0 * params_stage[0] / L) for _ in range(L)])
    for c in range(k):
        grads[c % plan.pp] += sum(it.grad_bytes for it in backward[c])
    shard = plan.dp if plan.zero >= 1 else 1
    opt = [p / shard * OPTIMIZER_TRAFFIC_BYTES / (chip.memory_bandwidth_Bps * share) for p in params_stage]
    sched = Schedule(plan, microbatches, forward, backward, comm_ops(model, plan), grads, opt)
    sched.buckets = [bucket_count(plan, g) for g in grads]
    return sched


def _wafer_passes(chip, model, plan: Plan):
    """A wafer pipelining the model over ``pp`` regions: one compute item a pass, the
    roofline of ``efficiency.wafer_stage_s`` scaled by the chunk's share of the layers;
    a backward pass produces its layers' fp16 gradients."""
    k = plan.pp * plan.virtual_stages
    f, b = wafer_stage_s(chip, model, plan.microbatch, plan.recompute_mode, k)
    layers = stage_layers(model, plan) if model.is_transformer else [1]
    total = sum(layers)
    forward, backward, params_stage = [], [], [0.0] * plan.pp
    for c, n in enumerate(layers):
        share = k * n / total  # of one even stage's work
        p = model.parameters() * n / total
        forward.append([Item("compute", f * share)])
        backward.append([Item("compute", b * share, grad_bytes=2.0 * p)])
        params_stage[c % plan.pp] += p
    return forward, backward, params_stage


def bucket_ready_s(items, times, n_buckets: int, carried_bytes: float = 0.0) -> tuple[list[float], float]:
    """When a stage's last backward pass ``items`` has produced its gradient buckets.

    Bucket ``i`` of ``n_buckets`` equal ones is ready once the pass (with
    ``carried_bytes`` produced by the stage's earlier passes) has produced ``i + 1``
    buckets' bytes. Returns (the seconds from the pass's start at which buckets become
    ready before its end, the pass's length); the buckets not listed are ready at its end.
    ``times``: ``key -> {"time_s"}`` of the pass's communications.
    """
    total = carried_bytes + sum(it.grad_bytes for it in items)
    size = total / n_buckets if n_buckets else 0.0
    t, acc, ready = 0.0, carried_bytes, []
    for it in items:
        t += it.seconds if it.kind == "compute" else times[it.key]["time_s"]
        acc += it.grad_bytes
        while len(ready) < n_buckets - 1 and acc >= (len(ready) + 1) * size * (1 - 1e-12):
            ready.append(t)
    return ready, t


def bucket_count(plan: Plan, grad_bytes: float) -> int:
    """Gradient buckets of one stage (none under ZeRO-3, which reduce-scatters per layer)."""
    if plan.dp <= 1 or plan.zero >= 3 or grad_bytes <= 0:
        return 0
    return max(1, math.ceil(grad_bytes / plan.bucket_bytes))


def comm_ops(model, plan: Plan) -> dict:
    """The distinct communications: ``key -> (group, op, bytes per rank as NCCL counts it)``."""
    act = 2.0 * plan.microbatch * model.seq * model.hidden if model.is_transformer else 0.0
    layer_w = 2.0 * model.layer_parameters() / plan.tp if model.is_transformer else 2.0 * model.parameters()
    ops = {"tp_ar": ("tp", "allreduce", act), "tp_rs": ("tp", "reduce-scatter", act),
           "tp_ag": ("tp", "allgather", act), "pp": ("pp", "sendrecv", act / plan.tp),
           "z3_ag": ("dp", "allgather", layer_w), "z3_rs": ("dp", "reduce-scatter", layer_w)}
    return ops


def bucket_ops(plan: Plan, grad_bytes: float) -> dict:
    """Bucket communications of a stage: the gradient reduction (all-reduce, or a
    reduce-scatter with a sharded optimizer) and the updated weights' all-gather (ZeRO 1-2)."""
    n = bucket_count(plan, grad_bytes)
    if n == 0:
        return {}
    size = grad_bytes / n
    ops = {"dp_grad": ("dp", "allreduce" if plan.zero == 0 else "reduce-scatter", size)}
    if plan.zero in (1, 2):
        ops["dp_param"] = ("dp", "allgather", size)
    return ops


def pass_order(plan: Plan, stage: int, m: int) -> list[tuple[str, int, int]]:
    """1F1B order on ``stage``: ``(F or B, chunk, microbatch)``; with ``v`` virtual stages,
    Megatron-LM's interleaved order (groups of ``pp`` microbatches chunk by chunk)."""
    pp, v = plan.pp, plan.virtual_stages
    total = m * v

    def unit(i: int, forward: bool) -> tuple[int, int]:
        group, r = divmod(i, pp * v)
        ch = r // pp
        return (ch if forward else v - 1 - ch), group * pp + r % pp

    warm = min(total, (pp - stage - 1) * 2 + (v - 1) * pp if v > 1 else pp - stage - 1)
    order, f, b = [], 0, 0
    for _ in range(warm):
        order.append(("F", *unit(f, True)))
        f += 1
    while b < total:
        if f < total:
            order.append(("F", *unit(f, True)))
            f += 1
        order.append(("B", *unit(b, False)))
        b += 1
    return [(d, c * pp + stage, u) for d, c, u in order]


def schedule_counts(spec, model, plan: Plan, microbatches: int) -> dict:
    """Operations of one iteration on the whole machine (``plan`` laid out): ``compute_tasks``
    (one per device per compute item, plus one optimizer step per device),
    ``tp_collectives``, ``zero3_collectives``, ``pp_sends`` (one per TP rank per stage
    crossing) and ``dp_collectives`` (per TP rank, stage and bucket)."""
    s = build_schedule(spec, model, plan, microbatches)
    m, tp, dp, pp = microbatches, plan.tp, plan.dp, plan.pp
    n = {"compute_tasks": 0, "tp_collectives": 0, "zero3_collectives": 0, "pp_sends": 0, "dp_collectives": 0}
    for items in s.forward + s.backward:
        n["compute_tasks"] += m * tp * dp * sum(it.kind == "compute" for it in items)
        n["tp_collectives"] += m * dp * sum(it.key.startswith("tp_") for it in items)
        n["zero3_collectives"] += m * tp * sum(it.key.startswith("z3_") for it in items)
    n["compute_tasks"] += tp * dp * pp
    n["pp_sends"] = 2 * m * (s.chunks - 1) * tp * dp
    for k in range(pp):
        n["dp_collectives"] += tp * s.buckets[k] * len(bucket_ops(plan, s.stage_grad_bytes[k]))
    return n


def pipeline_run(plan: Plan, m: int, forward_s: list[float], backward_s: list[float], send_s):
    """Times of the 1F1B passes when each lasts ``forward_s[c]`` / ``backward_s[c]`` and a
    pipeline send from stage ``k`` to the next ``send_s[k]`` (either way): each stage runs
    its ``pass_order`` one pass after another, a pass starting once its stage is free and
    its input has arrived (what the engine does with the same schedule). Returns
    ``(end_s, last_start_s)`` per stage. A loop over passes (a small table), not over chunks.
    """
    pp, last = plan.pp, len(forward_s) - 1
    orders = [pass_order(plan, k, m) for k in range(pp)]
    nan = float("nan")
    end = {"F": [[nan] * m for _ in forward_s], "B": [[nan] * m for _ in forward_s]}
    pos, free, start = [0] * pp, [0.0] * pp, [0.0] * pp
    moved = True
    while moved:
        moved = False
        for k in range(pp):
            order, t, i = orders[k], free[k], pos[k]
            while i < len(order):
                d, c, u = order[i]
                if d == "F":
                    ready = 0.0 if c == 0 else end["F"][c - 1][u] + send_s[(c - 1) % pp]
                    dur = forward_s[c]
                else:  # boundary k -> k + 1 carries the gradient back to stage k
                    ready = 0.0 if c == last else end["B"][c + 1][u] + send_s[k]
                    dur = backward_s[c]
                if ready != ready:  # its input is not computed yet (nan)
                    break
                start[k] = t = max(t, ready)
                t += dur
                end[d][c][u] = t
                i += 1
            moved |= i != pos[k]
            pos[k], free[k] = i, t
    return free, start
