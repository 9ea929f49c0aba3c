"""The training-time model: a parallelism plan, roofline compute and simulated communication.

What is simulated (on the real fabric, with ``collectives.schedule_collective``)
--------------------------------------------------------------------------------
* ``tp``: one tensor-parallel all-reduce of one microbatch's activations
  (``b s h`` x 2 bytes) on the first TP group (GPUs of one server / one torus line).
* ``pp``: one microbatch's activations crossing every pipeline-stage boundary at once, for
  every TP rank (Megatron's scatter-gather: ``b s h x 2 / tp`` bytes each), so pairs that
  share network links contend.
* ``dp``: the gradient all-reduce (fp16, 2 bytes per local parameter) of every TP rank of
  the first pipeline stage at once: the concurrent rings share NICs, leaves and spines.
  Groups of more than 32 replicas use recursive halving/doubling (2 lg p steps, the same
  bandwidth term as a ring's 2(p-1) steps), which keeps big runs fast to simulate.
* wafer, weight streaming: one layer's fp16 weights streamed in over the I/O link while
  the previous layer's gradients stream out, on every wafer at once.
* wafer, pipelined: one microbatch's activations moving between two wafer regions on-chip.

What is composed (formulas, per iteration)
------------------------------------------
``t_mb = compute + memory stall + layers/pp x n_ar x t_tp + 2 t_pp`` per microbatch and
stage (``n_ar`` = 6 TP all-reduces a layer with recomputation, 4 without);
iteration ``= (m + pp - 1) t_mb + exposed dp + optimizer`` (1F1B: the bubble is
``(pp - 1) t_mb``, a share ``(pp-1)/m`` of the ideal ``m t_mb``). Gradients go in buckets
overlapped with the last microbatch's backward pass: exposed dp ``= max(t_dp - t_bwd,
t_dp / buckets)``. Compute is a roofline: ``max(FLOPs / (peak x efficiency), bytes /
memory bandwidth)``; the excess of the memory time is the memory stall. The optimizer is
memory-bound (Adam reads and writes 16 bytes a parameter... sharded by ZeRO). Weight
streaming overlaps streaming with compute: exposed ``max(0, stream - compute)``.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from sim_core.cancel import check as check_cancelled
from sim_core.workloads.collectives.algorithms import collective_engine, schedule_collective
from sim_core.errors import SpecError
from sim_core.spec.loader import load_architecture
from sim_core.spec.models import ModelSpec, load_model
from sim_core.spec.schema import LINK_KINDS, ArchitectureSpec
from sim_core.fabric.build import sized_fabric

BYTES_PER_PARAM = {"weights": 2.0, "grads": 2.0, "optimizer": 12.0}
"""Mixed-precision Adam: fp16 weights and gradients, fp32 master weights, m and v."""
OPTIMIZER_TRAFFIC_BYTES = 32.0
"""Bytes of memory traffic per parameter of an Adam step (read and write 16 bytes of state)."""


@dataclass(frozen=True)
class Plan:
    """How a model is split. ``dp`` defaults to devices / (tp x pp).

    ``zero``: 0 none, 1 optimizer state, 2 + gradients, 3 + weights sharded over dp.
    ``wafer_mode``: ``auto`` (pipelined if it fits on the wafer, else weight streaming),
    ``pipelined`` (layers across wafer regions, ``pp`` regions) or ``weight-streaming``.
    ``free_comm``: communication costs nothing (for the closed-form checks).
    """

    tp: int = 1
    pp: int = 1
    dp: int | None = None
    microbatch: int | None = None
    zero: int = 0
    recompute: bool = True
    wafer_mode: str = "auto"
    bucket_bytes: float = 25e6
    free_comm: bool = False


def _bad(field, value, allowed):
    return SpecError("plan", field, value, allowed)


def _layout(spec: ArchitectureSpec, model: ModelSpec, plan: Plan, n: int) -> Plan:
    """Check the plan against the device count and the model; fill dp and microbatch."""
    for name in ("tp", "pp"):
        v = getattr(plan, name)
        if not isinstance(v, int) or v < 1:
            raise _bad(name, v, "a whole number >= 1")
    if plan.zero not in (0, 1, 2, 3):
        raise _bad("zero", plan.zero, "0, 1, 2 or 3")
    wafer = spec.topology.kind == "wafer"
    if not model.is_transformer and (plan.tp > 1 or plan.pp > 1):
        raise _bad("tp", (plan.tp, plan.pp), f"{model.id} is a CNN: data parallel only (tp = pp = 1)")
    if plan.pp > model.layers:
        raise _bad("pp", plan.pp, f"at most {model.layers} stages (the model's layers)")
    if wafer and plan.tp != 1:
        raise _bad("tp", plan.tp, "1 on a wafer (tensors are split across cores inside the wafer)")
    used = plan.tp * (1 if wafer else plan.pp)
    dp = plan.dp if plan.dp is not None else n // used
    if dp < 1 or used * dp != n:
        what = "tp" if wafer else "tp x pp"
        raise _bad("dp", plan.dp, f"{what} x dp must equal the {n} devices ({what} = {used})")
    if dp > model.batch:
        raise _bad("dp", dp, f"at most the global batch ({model.batch}) replicas")
    mb = plan.microbatch if plan.microbatch is not None else 1
    if mb < 1 or mb * dp > model.batch:
        raise _bad("microbatch", mb, f"1 to batch / dp = {model.batch // dp}")
    return replace(plan, dp=dp, microbatch=mb)


# ---------------------------------------------------------------------------- memory
def memory_per_device_bytes(model: ModelSpec, plan: Plan, params_local: float) -> dict:
    """Bytes per device: weights, gradients, optimizer state (ZeRO-sharded), activations.

    Activations follow Korthikanti et al. 2022 (arXiv 2205.05198): a layer keeps
    ``34 s b h / tp + 5 a s^2 b / tp`` bytes; with full recomputation only each layer's
    input (``2 s b h``) is kept, for the ``min(pp, m)`` microbatches 1F1B holds in flight.
    """
    dp, z = plan.dp, plan.zero
    w = params_local * BYTES_PER_PARAM["weights"] / (dp if z >= 3 else 1)
    g = params_local * BYTES_PER_PARAM["grads"] / (dp if z >= 2 else 1)
    o = params_local * BYTES_PER_PARAM["optimizer"] / (dp if z >= 1 else 1)
    b = plan.microbatch
    if model.is_transformer:
        s, h, a = model.seq, model.hidden, model.heads
        layers = math.ceil(model.layers / plan.pp)
        m = math.ceil(model.batch / (dp * b))
        flight = min(plan.pp, m)
        full = 34 * s * b * h / plan.tp + 5 * a * s * s * b / plan.tp
        act = (2 * s * b * h * layers * flight + full) if plan.recompute else full * layers * flight
    else:
        act = model.activation_bytes_per_sample() * b
    return {"weights": w, "grads": g, "optimizer": o, "activations": act, "total": w + g + o + act}


def check_memory(spec, model, plan, params_local, where: str = "per device") -> dict:
    mem = memory_per_device_bytes(model, plan, params_local)
    cap = spec.chip.memory_bytes
    if mem["total"] > cap:
        raise SpecError("plan", "memory", f"{mem['total'] / 1e9:.1f} GB",
                        f"{model.id} needs {mem['total'] / 1e9:.1f} GB {where} with this plan but "
                        f"{spec.chip.name} has {cap / 1e9:.1f} GB: {(mem['total'] - cap) / 1e9:.1f} GB too much "
                        f"(raise tp, pp or zero, or lower the microbatch)")
    return mem


# ---------------------------------------------------------------------------- compute
def roofline_s(spec: ArchitectureSpec, flops: float, mem_bytes: float, share: float = 1.0) -> tuple[float, float]:
    """(compute seconds, memory stall seconds) of ``flops`` touching ``mem_bytes`` on
    ``share`` of one chip: peak x the preset's efficiency against memory bandwidth."""
    c = spec.chip
    t_flop = flops / (c.peak_flops * c.compute_efficiency * share)
    t_mem = mem_bytes / (c.memory_bandwidth_Bps * share)
    return t_flop, max(0.0, t_mem - t_flop)


# ---------------------------------------------------------------------------- simulation
def _device(plan: Plan, tp_rank: int, dp_rank: int, stage: int) -> int:
    """Megatron's order: tp fastest, then dp, then pipeline stage."""
    return tp_rank + plan.tp * (dp_rank + plan.dp * stage)


def _simulate(fab, groups: list[tuple[str, list[int], float]], op="allreduce", algo="auto") -> dict:
    """Run ``groups`` (name, ranks, bytes) concurrently on one engine; per name: (time, link kind)."""
    total = max((b for _, _, b in groups), default=1.0)
    p = max((len(r) for _, r, _ in groups), default=2)
    eng = collective_engine(fab, total, p, chunks_per_message=8)
    handles = [(name, schedule_collective(eng, op, algo, ranks, nbytes)) for name, ranks, nbytes in groups]
    eng.run_until_idle(dt_s=1.0)
    busy = eng.link_busy_total_s
    kind = LINK_KINDS[fab.link_kind[int(np.argmax(busy))]] if busy.max() > 0 else "none"
    out = {}
    for name, h in handles:
        t = h.time_s(eng)
        out[name] = max(out.get(name, 0.0), t)
    return {"times": out, "kind": kind, "algo": handles[0][1].algo if handles else None}


def _comm_times(fab, spec, model, plan, progress) -> dict:
    """Simulated seconds and bottleneck link kind of one TP all-reduce, one PP send, the DP all-reduce."""
    b, tp, pp, dp = plan.microbatch, plan.tp, plan.pp, plan.dp
    act = 2.0 * b * model.seq * model.hidden if model.is_transformer else 0.0
    params_local = model.parameters() / (tp * pp)
    hub = fab.device_node
    out = {"tp": (0.0, "none"), "pp": (0.0, "none"), "dp": (0.0, "none")}
    if plan.free_comm:
        return out
    if tp > 1:
        progress("simulating one tensor-parallel all-reduce")
        r = _simulate(fab, [("tp", [hub(_device(plan, j, 0, 0)) for j in range(tp)], act)])
        out["tp"] = (r["times"]["tp"], r["kind"])
    if pp > 1:
        progress(f"simulating pipeline sends across {pp - 1} stage boundaries x {tp} TP ranks")
        pairs = [x for k in range(pp - 1) for j in range(tp)
                 for x in (hub(_device(plan, j, 0, k)), hub(_device(plan, j, 0, k + 1)))]
        r = _simulate(fab, [("pp", pairs, act / tp)], op="sendrecv", algo="direct")
        out["pp"] = (r["times"]["pp"], r["kind"])
    if dp > 1:
        progress(f"simulating {tp} concurrent data-parallel all-reduces over {dp} replicas")
        groups = [("dp", [hub(_device(plan, j, i, 0)) for i in range(dp)], 2.0 * params_local) for j in range(tp)]
        r = _simulate(fab, groups, algo=_dp_algo(fab, groups[0][1], 2.0 * params_local))
        out["dp"] = (r["times"]["dp"], r["kind"])
    return out


def _dp_algo(fab, ranks, nbytes) -> str:
    """NCCL's choice, but recursive halving/doubling where a ring would take over 64 steps."""
    from sim_core.workloads.collectives.algorithms import _groups, choose_algorithm
    algo = choose_algorithm(fab, "allreduce", nbytes, ranks)
    groups = _groups(fab, ranks)
    steps = len(ranks) if algo == "ring" else (len(groups) if algo == "hierarchical" and groups else 0)
    return "rhd" if steps > 32 else algo


def _wafer_comm(fab, spec, model, plan, mode, progress) -> dict:
    """Wafer: one layer's weights in and gradients out over I/O (weight streaming), or one
    activation hop between two regions on the mesh (pipelined)."""
    if plan.free_comm:
        return {"stream": (0.0, "none"), "act": (0.0, "none"), "dp": (0.0, "none")}
    layer_bytes = 2.0 * model.parameters() / model.layers
    out = {"stream": (0.0, "none"), "act": (0.0, "none"), "dp": (0.0, "none")}
    if mode == "weight-streaming":
        progress("simulating one layer's weights streaming in and gradients out on every wafer")
        hosts = [int(fab.link_dst[(fab.link_src == fab.device_node(w))][-1]) for w in range(fab.n_chips)]
        eng = collective_engine(fab, layer_bytes, 1, chunks_per_message=8)
        ids = []
        for w in range(fab.n_chips):
            ids.append(eng.send(hosts[w], fab.device_node(w), layer_bytes))
            ids.append(eng.send(fab.device_node(w), hosts[w], layer_bytes))
        eng.run_until_idle(dt_s=1.0)
        rel, fin = eng.message_times(ids)
        busy = eng.link_busy_total_s
        out["stream"] = (float(np.nanmax(fin - rel)), LINK_KINDS[fab.link_kind[int(np.argmax(busy))]])
    else:
        progress("simulating one microbatch's activations between two wafer regions")
        act = 2.0 * plan.microbatch * model.seq * model.hidden if model.is_transformer else \
            model.activation_bytes_per_sample() * plan.microbatch
        eng = collective_engine(fab, act, 1, chunks_per_message=8)
        mid = eng.send(fab.tile_id(0, 0, 0), fab.tile_id(0, 0, 1), act)
        eng.run_until_idle(dt_s=1.0)
        rel, fin = eng.message_times([mid])
        out["act"] = (float(fin[0] - rel[0]), "noc")
    if fab.n_chips > 1:
        progress(f"simulating the gradient all-reduce across {fab.n_chips} wafers")
        r = _simulate(fab, [("dp", [fab.device_node(w) for w in range(fab.n_chips)], 2.0 * model.parameters())])
        out["dp"] = (r["times"]["dp"], r["kind"])
    return out


def _wafer_mode(spec, model, plan) -> str:
    if plan.wafer_mode not in ("auto", "pipelined", "weight-streaming"):
        raise _bad("wafer_mode", plan.wafer_mode, "auto, pipelined or weight-streaming")
    if plan.wafer_mode != "auto":
        return plan.wafer_mode
    p = model.parameters()
    fits = p * sum(BYTES_PER_PARAM.values()) <= 0.8 * spec.chip.memory_bytes
    return "pipelined" if fits else "weight-streaming"


def _streaming_microbatch(spec, model, plan) -> int:
    """Weight streaming: the most samples whose kept activations fit next to one layer."""
    if plan.microbatch is not None:
        return plan.microbatch
    one = _streaming_memory(spec, model, replace(plan, microbatch=1), check=False)
    room = spec.chip.memory_bytes - one["weights"] - one["grads"]
    return int(max(1, min(model.batch // plan.dp, room // max(one["activations"], 1.0))))


def _streaming_memory(spec, model, plan, check: bool = True) -> dict:
    """On-wafer bytes in weight streaming: two layers of fp16 weights and gradients (one
    in use, one in flight); optimizer state stays off-wafer; activations as with pipelining."""
    layer = model.parameters() / model.layers
    act = memory_per_device_bytes(model, replace(plan, pp=1, dp=1), layer)["activations"]
    mem = {"weights": 2 * 2.0 * layer, "grads": 2 * 2.0 * layer, "optimizer": 0.0, "activations": act}
    mem["total"] = sum(mem.values())
    if check and mem["total"] > spec.chip.memory_bytes:
        cap = spec.chip.memory_bytes
        raise SpecError("plan", "memory", f"{mem['total'] / 1e9:.1f} GB",
                        f"{model.id} needs {mem['total'] / 1e9:.1f} GB on the wafer while streaming weights: "
                        f"{(mem['total'] - cap) / 1e9:.1f} GB more than its {cap / 1e9:.0f} GB (lower the microbatch)")
    return mem


def fabric_for(spec, nodes=None, dims=None, wafers=None, tiles=None):
    """The fabric of ``spec`` at a size; devices are what training needs, so each chip is
    one tile (2 x 2 on a wafer, whose regions talk over the mesh) unless ``tiles`` says."""
    default = (2, 2) if spec.topology.kind == "wafer" else (1, 1)
    return sized_fabric(spec, nodes=nodes, dims=dims, wafers=wafers, tiles=tiles or default)


def estimate(spec, model, plan: Plan | dict | None = None, *, nodes=None, dims=None, wafers=None,
             tokens=None, epochs=None, progress=None, fabric=None) -> dict:
    """One training iteration (and optionally the whole run) of ``model`` on ``spec``.

    Parameters
    ----------
    spec : ArchitectureSpec or str
        Preset id, TOML path or spec.
    model : ModelSpec, str or dict
        See ``models.load_model``.
    plan : Plan or dict
    nodes, dims, wafers : size of the architecture (as ``build_fabric``).
    tokens, epochs : float, optional
        Training budget; adds ``time_to_train_s`` and ``energy_J``.
    progress : callable(str), optional
        Called with a line before each simulation (the CLI prints them on stderr).

    Returns
    -------
    dict with ``iteration_s``, ``breakdown_s`` (seconds by part; they sum to the
    iteration), ``tflops_per_device``, ``share_of_peak``, ``memory_per_device_GB``,
    ``devices``, ``plan`` and, with a budget, ``time_to_train_s``, ``time_to_train_days``,
    ``energy_J`` (chips' power only) and ``energy_MWh``.
    """
    spec = load_architecture(spec) if isinstance(spec, str) else spec
    model = load_model(model)
    plan = Plan(**plan) if isinstance(plan, dict) else (plan or Plan())
    progress = progress or (lambda msg: None)
    fab = fabric if fabric is not None else fabric_for(spec, nodes, dims, wafers)
    n = fab.n_chips
    if n < 1:
        raise SpecError("size", "chips", n, "at least 1 chip")
    if spec.topology.kind == "wafer":
        res = _estimate_wafer(fab, spec, model, plan, progress)
    else:
        res = _estimate_devices(fab, spec, model, plan, progress)
    samples = model.samples_to_train(tokens, epochs) if (tokens or epochs or model.tokens or model.epochs) else None
    res.update({"arch": spec.id, "model": model.id, "devices": n,
                "parameters": model.parameters(),
                "flops_per_iteration": model.flops_per_iteration(recompute=res["plan"]["recompute"])})
    if samples is not None and (tokens is not None or epochs is not None):
        iters = samples / model.batch
        t = float(iters * res["iteration_s"])
        energy = t * n * spec.chip.power_W
        res.update({"iterations": iters, "time_to_train_s": t, "time_to_train_days": t / 86400,
                    "energy_J": energy, "energy_MWh": energy / 3.6e9,
                    "budget": {"tokens": tokens} if tokens is not None else {"epochs": epochs}})
    return res


def _result(spec, model, plan, n_dev, iteration_s, breakdown, mem, extra=None) -> dict:
    """Achieved FLOP/s count the FLOPs the plan executes (with recomputation: Megatron's
    96-coefficient count, as its 8TP/(nX) estimate uses); ``model_tflops_per_device``
    counts without recomputation."""
    per_dev = model.flops_per_iteration(recompute=plan.recompute) / (n_dev * iteration_s)
    per_dev_model = model.flops_per_iteration(recompute=False) / (n_dev * iteration_s)
    iteration_s = float(iteration_s)
    breakdown = {k: float(v) for k, v in breakdown.items()}
    out = {"iteration_s": iteration_s, "model_tflops_per_device": float(per_dev_model / 1e12),
           "breakdown_s": {k: v for k, v in breakdown.items() if v > 0 or k in ("compute", "pipeline_bubble")},
           "tflops_per_device": float(per_dev / 1e12), "share_of_peak": float(per_dev / spec.chip.peak_flops),
           "memory_per_device_GB": mem["total"] / 1e9,
           "memory_detail_GB": {k: v / 1e9 for k, v in mem.items() if k != "total"},
           "plan": {k: v for k, v in asdict(plan).items() if k not in ("bucket_bytes",)}}
    out.update(extra or {})
    return out


def _estimate_devices(fab, spec, model, plan, progress) -> dict:
    plan = _layout(spec, model, plan, fab.n_chips)
    tp, pp, dp, b = plan.tp, plan.pp, plan.dp, plan.microbatch
    params_local = model.parameters() / (tp * pp)
    mem = check_memory(spec, model, plan, params_local)
    m = microbatch_count(model, plan, fab.n_chips)
    flops_mb = model.flops_per_iteration(b, plan.recompute) / (tp * pp)
    passes = 4 if plan.recompute else 3  # weight reads: forward, (recompute), backward x 2
    act_bytes = 2.0 * b * model.seq * model.hidden * 16 / tp if model.is_transformer else 2 * model.activation_bytes_per_sample() * b
    mem_mb = passes * 2.0 * params_local + act_bytes * math.ceil(model.layers / pp)
    t_flop, stall = roofline_s(spec, flops_mb, mem_mb)
    comm = _comm_times(fab, spec, model, plan, progress)
    n_ar = 6 if plan.recompute else 4
    t_tp = math.ceil(model.layers / pp) * n_ar * comm["tp"][0] if model.is_transformer else 0.0
    t_pp = 2 * comm["pp"][0]
    t_mb = t_flop + stall + t_tp + t_pp
    bwd_share = 3 / 4 if plan.recompute else 2 / 3
    buckets = max(1, math.ceil(2 * params_local / plan.bucket_bytes))
    t_dp = comm["dp"][0]
    exposed_dp = max(t_dp - bwd_share * t_flop, t_dp / buckets) if t_dp > 0 else 0.0
    opt_params = params_local / (dp if plan.zero >= 1 else 1)
    t_opt = opt_params * OPTIMIZER_TRAFFIC_BYTES / spec.chip.memory_bandwidth_Bps
    breakdown = {"compute": m * t_flop, "memory_stall": m * stall, "pipeline_bubble": (pp - 1) * t_mb,
                 "optimizer": t_opt}
    for key, t in (("tp", m * t_tp), ("pp", m * t_pp), ("dp", exposed_dp)):
        kind = comm[key][1]
        if t > 0:
            name = f"comm_{kind}"
            breakdown[name] = breakdown.get(name, 0.0) + t
    iteration = sum(breakdown.values())
    sim = {k: {"time_s": v[0], "link_kind": v[1]} for k, v in comm.items() if v[0] > 0}
    return _result(spec, model, plan, fab.n_chips, iteration, breakdown, mem,
                   {"microbatches": m, "simulated": sim,
                    "exposed_comm_s": {"tp": m * t_tp, "pp": m * t_pp, "dp": exposed_dp}})


def _estimate_wafer(fab, spec, model, plan, progress) -> dict:
    mode = _wafer_mode(spec, model, plan)
    n = fab.n_chips
    if mode == "pipelined":
        pp = plan.pp if plan.pp > 1 else model.layers
        plan = _layout(spec, model, replace(plan, pp=pp, wafer_mode=mode), n)
        mem = check_memory(spec, model, replace(plan, pp=1), model.parameters(), where="on the wafer")
    else:
        user_mb = plan.microbatch
        plan = _layout(spec, model, replace(plan, pp=1, wafer_mode=mode), n)
        plan = replace(plan, microbatch=_streaming_microbatch(spec, model, replace(plan, microbatch=user_mb)))
        mem = _streaming_memory(spec, model, plan)
    pp, dp, b = plan.pp, plan.dp, plan.microbatch
    m = microbatch_count(model, plan, n)
    flops_mb = model.flops_per_iteration(b, plan.recompute)
    comm = _wafer_comm(fab, spec, model, plan, mode, progress)
    if mode == "pipelined":
        t_flop, stall = roofline_s(spec, flops_mb / pp, 2.0 * model.parameters() / pp * 4, share=1.0 / pp)
        t_mb = t_flop + stall + 2 * comm["act"][0]
        breakdown = {"compute": m * t_flop, "memory_stall": m * stall, "pipeline_bubble": (pp - 1) * t_mb,
                     "comm_noc": m * 2 * comm["act"][0]}
    else:
        t_flop, stall = roofline_s(spec, flops_mb, 2.0 * model.parameters() * 4)
        stream = m * 2 * model.layers * comm["stream"][0]  # weights in for forward and backward
        breakdown = {"compute": m * t_flop, "memory_stall": m * stall, "pipeline_bubble": 0.0,
                     f"comm_{comm['stream'][1]}": max(0.0, stream - m * (t_flop + stall))}
    if comm["dp"][0] > 0:
        breakdown[f"comm_{comm['dp'][1]}"] = breakdown.get(f"comm_{comm['dp'][1]}", 0.0) + comm["dp"][0]
    # Weight streaming updates weights in the external memory units as gradients stream
    # out (overlapped); pipelined, the wafer's SRAM runs Adam.
    breakdown["optimizer"] = (model.parameters() * OPTIMIZER_TRAFFIC_BYTES / spec.chip.memory_bandwidth_Bps
                              if mode == "pipelined" else 0.0)
    iteration = sum(breakdown.values())
    sim = {k: {"time_s": v[0], "link_kind": v[1]} for k, v in comm.items() if v[0] > 0}
    return _result(spec, model, plan, n, iteration, breakdown, mem,
                   {"microbatches": m, "wafer_mode": mode, "simulated": sim})



# ---------------------------------------------------------------------------- plans, comparison, scaling
def _divisors(k: int) -> list[int]:
    return [d for d in range(1, k + 1) if k % d == 0]


def auto_plan(spec, model, n: int, *, zero: int = 1) -> Plan:
    """Megatron's rule of thumb: tensor parallel inside a server (only if the model needs
    it), the fewest pipeline stages that fit in memory, data parallel over the rest."""
    model = load_model(model)
    if spec.topology.kind == "wafer":
        return Plan(zero=zero)
    if not model.is_transformer:
        return Plan(zero=zero)
    topo = spec.topology
    local = topo.chips_per_node if topo.kind == "cluster" else (topo.dims[0] if topo.kind == "torus" else 1)
    tps = [1] + [t for t in (2, 4, 8) if t <= local and local % t == 0 and n % t == 0]
    if model.parameters() * sum(BYTES_PER_PARAM.values()) > spec.chip.memory_bytes:
        tps = tps[::-1]  # a model that cannot fit one device splits its layers inside the server first
    for tp in tps:
        for pp in _divisors(model.layers):
            if n % (tp * pp) or pp > n:
                continue
            plan = Plan(tp=tp, pp=pp, dp=n // (tp * pp), microbatch=1, zero=zero)
            if plan.dp > model.batch:
                continue
            mem = memory_per_device_bytes(model, plan, model.parameters() / (tp * pp))
            if mem["total"] <= spec.chip.memory_bytes:
                return plan
    raise SpecError("plan", "memory", f"{n} x {spec.chip.name}",
                    f"{model.id} fits no tp/pp/dp split of {n} devices of {spec.chip.memory_bytes / 1e9:.0f} GB")


def size_for_power(spec, power_W: float) -> dict:
    """Fabric size kwargs using at most ``power_W`` of chip power (whole servers, a multiple
    of 8 from 16 servers up so plans can split them; tori as 4 x 16 x k; whole wafers)."""
    n = int(power_W // spec.chip.power_W)
    topo = spec.topology
    if n < 1:
        raise SpecError("compare", "power", power_W, f"at least one {spec.chip.name} ({spec.chip.power_W:.0f} W)")
    if topo.kind == "cluster":
        nodes = max(1, n // topo.chips_per_node)
        return {"nodes": nodes - nodes % 8 if nodes >= 16 else nodes}  # splittable counts
    if topo.kind == "torus":
        return {"dims": [4, 16, max(1, min(64, n // 64))]} if n >= 64 else {"dims": [max(1, n)]}
    return {"wafers": max(1, min(1024, n))}


def compare(model, *, power_W: float | None = None, presets=None, tokens=None, epochs=None, progress=None) -> list[dict]:
    """One row per preset at equal chip power (default: that of 1,024 A100s, 409.6 kW).

    Each preset gets the most whole servers / torus / wafers whose chips draw at most
    ``power_W``, and ``auto_plan``'s split with ZeRO-1. Rows that cannot fit the model say so.
    """
    from sim_core.spec.loader import preset_ids
    model = load_model(model)
    power_W = power_W or 1024 * load_architecture("dgx-a100").chip.power_W
    rows = []
    for pid in presets or preset_ids():
        check_cancelled()
        spec = load_architecture(pid)
        if progress:
            progress(f"{pid}: sizing for {power_W / 1e3:.0f} kW")
        size = size_for_power(spec, power_W)
        row = {"arch": pid, "size": size, "basis": f"equal chip power: {power_W / 1e3:.1f} kW"}
        try:
            fab = fabric_for(spec, **{k: size.get(k) for k in ("nodes", "dims", "wafers")})
            plan = auto_plan(spec, model, fab.n_chips)
            row.update(estimate(spec, model, plan, fabric=fab, tokens=tokens, epochs=epochs, progress=progress))
        except SpecError as exc:
            row["error"] = str(exc)
        rows.append(row)
    return rows


def scaling(spec, model, chips: list[int], *, progress=None) -> list[dict]:
    """Time per iteration and efficiency as the chip count grows (global batch fixed).

    Efficiency = (samples/s per chip) / (that at the smallest count that fits). Each count
    uses ``auto_plan``; counts the model cannot fit report the error.
    """
    spec = load_architecture(spec) if isinstance(spec, str) else spec
    model = load_model(model)
    rows, ref = [], None
    for n in chips:
        check_cancelled()
        if progress:
            progress(f"{n} chips")
        row = {"chips": n}
        try:
            size = _size_for_chips(spec, n)
            fab = fabric_for(spec, **size)
            r = estimate(spec, model, auto_plan(spec, model, fab.n_chips), fabric=fab)
            per_chip = model.batch / r["iteration_s"] / fab.n_chips
            ref = ref or per_chip
            row.update({"chips": fab.n_chips, "iteration_s": r["iteration_s"], "efficiency": per_chip / ref,
                        "samples_per_s": model.batch / r["iteration_s"], "breakdown_s": r["breakdown_s"],
                        "plan": r["plan"]})
        except SpecError as exc:
            row["error"] = str(exc)
        rows.append(row)
    return rows


def _size_for_chips(spec, n: int) -> dict:
    topo = spec.topology
    if n < 1:
        raise SpecError("scaling", "chips", n, "at least 1 chip")
    if topo.kind == "cluster":
        if n < topo.chips_per_node or n % topo.chips_per_node:
            raise SpecError("scaling", "chips", n, f"a multiple of {topo.chips_per_node} (whole servers)")
        return {"nodes": n // topo.chips_per_node}
    if topo.kind == "torus":
        dims, rest = [], n
        for _ in range(3):
            d = min(64, rest) if len(dims) == 2 else min(4 if len(dims) == 0 else 16, rest)
            dims.append(d)
            rest //= d
            if rest <= 1:
                break
        if int(np.prod(dims)) != n:
            raise SpecError("scaling", "chips", n, "a torus of at most 4 x 16 x 64 (powers of two)")
        return {"dims": dims}
    return {"wafers": n}


# ---------------------------------------------------------------------------- one iteration to watch
@dataclass
class IterationHandle:
    """Ids of one scheduled iteration: compute tasks and every collective handle."""

    compute_ids: np.ndarray
    collectives: list
    start_s: float

    @property
    def message_ids(self) -> np.ndarray:
        return np.concatenate([self.compute_ids] + [h.message_ids for h in self.collectives])

    def done(self, eng) -> bool:
        return bool(np.all(np.isfinite(eng.message_times(self.message_ids)[1])))

    def time_s(self, eng) -> float | None:
        if not self.done(eng):
            return None
        return float(eng.message_times(self.message_ids)[1].max() - self.start_s)


def microbatch_count(model, plan: Plan, n_devices: int) -> int:
    """Microbatches each pipeline runs per iteration: ``ceil(batch / (dp x microbatch))``.

    ``dp`` defaults to the devices left over by tp x pp, and the microbatch to 1, as in
    ``schedule_iteration``; an animation that schedules this many shows the iteration that
    ``estimate`` times.
    """
    model = load_model(model)
    dp = plan.dp or max(1, n_devices // (plan.tp * plan.pp))
    return math.ceil(model.batch / (dp * (plan.microbatch or 1)))


def schedule_iteration(eng, spec_or_fabric, model, plan: Plan | dict | None = None, *, tag_base: int = 0,
                       microbatches: int = 4) -> IterationHandle:
    """Add one iteration's compute and communication for the first tp x pp x dp devices.

    A picture of the iteration for animation: ``microbatches`` microbatches in 1F1B order
    on every pipeline stage, a TP all-reduce after each forward and backward, activations
    and gradients sent between stages, then the gradient all-reduce of every TP rank's
    data-parallel group. Durations come from the same roofline as ``estimate``. Tags:
    ``tag_base`` + 0 compute, 1 TP, 2 PP, 3 DP.
    """
    fab = eng.f
    spec = getattr(spec_or_fabric, "spec", None) or spec_or_fabric
    model = load_model(model)
    plan = Plan(**plan) if isinstance(plan, dict) else (plan or Plan())
    tp, pp = plan.tp, plan.pp
    dp = plan.dp or max(1, fab.n_chips // (tp * pp))
    if tp * pp * dp > fab.n_chips:
        raise _bad("dp", dp, f"tp x pp x dp <= {fab.n_chips} devices on this fabric")
    plan = replace(plan, dp=dp, microbatch=plan.microbatch or 1)
    b = plan.microbatch
    flops = model.flops_per_iteration(b, plan.recompute) / (tp * pp)
    t_f, _ = roofline_s(spec, flops / 4, 0.0)
    t_b = 3 * t_f
    act = 2.0 * b * model.seq * model.hidden if model.is_transformer else 1e6
    grads = 2.0 * model.parameters() / (tp * pp)
    start = eng.now_s
    comp, colls = [], []
    dev = lambda j, i, k: fab.device_node(_device(plan, j, i, k))  # noqa: E731
    last = {}  # (j, i, k) -> id of the device's last task
    done_f, done_b = {}, {}
    for i in range(dp):
        for k in range(pp):
            warm = min(pp - k - 1, microbatches)
            order = [("F", u) for u in range(warm)]
            f_next, b_next = warm, 0
            while b_next < microbatches:
                if f_next < microbatches:
                    order.append(("F", f_next))
                    f_next += 1
                order.append(("B", b_next))
                b_next += 1
            for kind, u in order:
                tids = eng.add_compute([dev(j, i, k) for j in range(tp)], t_f if kind == "F" else t_b, tag=tag_base)
                comp += tids.tolist()
                for j in range(tp):
                    if (j, i, k) in last:
                        eng.add_dependencies(np.atleast_1d(last[(j, i, k)]), np.full(np.size(last[(j, i, k)]), tids[j]))
                    (done_f if kind == "F" else done_b)[(j, i, k, u)] = int(tids[j])
                    last[(j, i, k)] = int(tids[j])
                if tp > 1 and model.is_transformer:
                    h = schedule_collective(eng, "allreduce", "auto", [dev(j, i, k) for j in range(tp)], act,
                                            tag=tag_base + 1, after=tids.tolist())
                    colls.append(h)
                    for j in range(tp):
                        last[(j, i, k)] = h.message_ids
    for i in range(dp):
        for k in range(pp):
            for u in range(microbatches):
                for j in range(tp):
                    if k + 1 < pp:
                        s = eng.send(dev(j, i, k), dev(j, i, k + 1), act / tp, tag=tag_base + 2,
                                     after=[done_f[(j, i, k, u)]])
                        eng.add_dependencies([s], [done_f[(j, i, k + 1, u)]])
                        g = eng.send(dev(j, i, k + 1), dev(j, i, k), act / tp, tag=tag_base + 2,
                                     after=[done_b[(j, i, k + 1, u)]])
                        eng.add_dependencies([g], [done_b[(j, i, k, u)]])
                        comp += [s, g]
    if dp > 1:
        for k in range(pp):
            for j in range(tp):
                colls.append(schedule_collective(eng, "allreduce", "auto", [dev(j, i, k) for i in range(dp)], grads,
                                                 tag=tag_base + 3,
                                                 after=np.concatenate([np.atleast_1d(last[(j, i, k)]) for i in range(dp)])))
    return IterationHandle(np.asarray(comp, dtype=np.int64), colls, start)
