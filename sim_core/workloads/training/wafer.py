"""A wafer-scale engine: layers pipelined across wafer regions, or weights streamed in.

Pipelined: ``pp`` regions of the wafer each hold a share of the layers (stage ``k`` on a
tile of the wafer, ``plan.rank_node``). This is the schedule every other machine runs
(``schedule.build_schedule``, timed by ``estimate.estimate_devices`` and animated by
``schedule_iteration``): 1F1B passes, one microbatch's activations crossing the
on-wafer mesh at each stage boundary (simulated), gradient buckets between wafers.
Compute is a roofline (``efficiency.wafer_stage_s``): a wafer has no GEMM kernels to fit.
Weight streaming: layer by layer, the fp16 weights stream in over the I/O links and
the gradients stream out, overlapped with compute two layers deep (``streaming``: one
chain, timed by its recurrence with the simulated stream times and animated as the same
dependencies).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from sim_core.errors import SpecError
from sim_core.spec.schema import LINK_KINDS
from sim_core.workloads.training.comm import DEFAULT_RESOLUTION, resolution_engine, run_engine, simulate_groups
from sim_core.workloads.training.memory import BYTES_PER_PARAM, check_memory, memory_per_device_bytes
from sim_core.workloads.training.plan import bad as _bad, layout as _layout, microbatch_count
from sim_core.workloads.training.estimate import result
from sim_core.workloads.training.streaming import chain_end_s, layer_bytes, layer_passes


def streaming_hosts(fab) -> list[int]:
    """The node each wafer's weights stream from: the far end of its hub's last link (its I/O)."""
    return [int(fab.link_dst[(fab.link_src == fab.device_node(w))][-1]) for w in range(fab.n_chips)]


def _streaming_comm(fab, model, plan, progress, res=DEFAULT_RESOLUTION) -> dict:
    """Weight streaming, simulated: one layer's weights in (``in``) and gradients out
    (``out``) on every wafer at once, and the gradient all-reduce across wafers (``dp``):
    (seconds, link kind) each."""
    out = {"in": (0.0, "none"), "out": (0.0, "none"), "dp": (0.0, "none")}
    if plan.free_comm:
        return out
    nbytes = layer_bytes(model)
    progress("simulating one layer's weights streaming in and gradients out on every wafer")
    hosts = streaming_hosts(fab)
    eng = resolution_engine(fab, nbytes, 1, res)
    ins = [eng.send(hosts[w], fab.device_node(w), nbytes) for w in range(fab.n_chips)]
    outs = [eng.send(fab.device_node(w), hosts[w], nbytes) for w in range(fab.n_chips)]
    run_engine(eng, res)
    kind = LINK_KINDS[fab.link_kind[int(np.argmax(eng.link_busy_total_s))]]
    for key, ids in (("in", ins), ("out", outs)):
        rel, fin = eng.message_times(ids)
        out[key] = (float(np.nanmax(fin - rel)), kind)
    if fab.n_chips > 1:
        progress(f"simulating the gradient all-reduce across {fab.n_chips} wafers")
        r = simulate_groups(fab, "allreduce", [[fab.device_node(w) for w in range(fab.n_chips)]], 2.0 * model.parameters(),
                            res=res)
        out["dp"] = (r["time_s"], r["link_kind"])
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
    act = memory_per_device_bytes(model, replace(plan, pp=1, dp=1, virtual_stages=1), layer)["activations"]
    mem = {"weights": 2 * 2.0 * layer, "grads": 2 * 2.0 * layer, "optimizer": 0.0, "activations": act}
    mem["total"] = sum(mem.values())
    if check and mem["total"] > spec.chip.memory_bytes:
        cap = spec.chip.memory_bytes
        raise SpecError("plan", "memory", f"{mem['total'] / 1e9:.1f} GB",
                        f"{model.id} needs {mem['total'] / 1e9:.1f} GB on the wafer while streaming weights: "
                        f"{(mem['total'] - cap) / 1e9:.1f} GB more than its {cap / 1e9:.0f} GB (lower the microbatch)")
    return mem


def wafer_plan(spec, model, plan, n: int):
    """The plan laid out on ``n`` wafers, with its mode: pipelined over one region per
    layer unless ``plan.pp`` says (a CNN, data parallel only, runs as one stage), or
    weight streaming with the largest microbatch that fits."""
    mode = _wafer_mode(spec, model, plan)
    if mode == "pipelined":
        pp = plan.pp if plan.pp > 1 or not model.is_transformer else model.layers
        return _layout(spec, model, replace(plan, pp=pp, wafer_mode=mode), n)
    user_mb = plan.microbatch
    plan = _layout(spec, model, replace(plan, pp=1, wafer_mode=mode), n)
    return replace(plan, microbatch=_streaming_microbatch(spec, model, replace(plan, microbatch=user_mb)))


def estimate_wafer(fab, spec, model, plan, progress, resolution=None) -> dict:
    plan = wafer_plan(spec, model, plan, fab.n_chips)
    if plan.wafer_mode == "pipelined":
        from sim_core.workloads.training.estimate import estimate_devices
        mem = check_memory(spec, model, replace(plan, pp=1), model.parameters(), where="on the wafer")
        return estimate_devices(fab, spec, model, plan, progress, resolution=resolution, memory=mem,
                                extra={"wafer_mode": plan.wafer_mode})
    mem = _streaming_memory(spec, model, plan)
    n = fab.n_chips
    m = microbatch_count(model, plan, n)
    comm = _streaming_comm(fab, model, plan, progress, resolution or DEFAULT_RESOLUTION)
    secs, back = layer_passes(spec, model, plan, m)
    end, out_end = chain_end_s(secs, back, comm["in"][0], comm["out"][0])
    compute = float(secs.sum())
    breakdown = {"compute": compute, "pipeline_bubble": 0.0,
                 f"comm_{comm['in'][1]}": max(end, out_end) - compute}  # streaming compute could not hide
    if comm["dp"][0] > 0:
        breakdown[f"comm_{comm['dp'][1]}"] = breakdown.get(f"comm_{comm['dp'][1]}", 0.0) + comm["dp"][0]
    # weights are updated in the external memory units as gradients stream out (overlapped)
    breakdown["optimizer"] = 0.0
    iteration = max(end, out_end) + comm["dp"][0]
    sim = {k: {"time_s": v[0], "link_kind": v[1]} for k, v in comm.items() if v[0] > 0}
    return result(spec, model, plan, n, iteration, breakdown, mem,
                  {"microbatches": m, "wafer_mode": plan.wafer_mode, "simulated": sim,
                   "compute_model": "roofline of each layer pass on the whole wafer (efficiency.wafer_stage_s)",
                   "schedule": "weight streaming: every layer pass waits for its weights (two layers on the wafer)"})
