"""How long one training iteration takes: the schedule, timed.

Compute comes from the layers' GEMM shapes (``efficiency``); each distinct communication
of the schedule is simulated once on the fabric (``comm``); a pass lasts the sum of its
items, and the passes run in 1F1B order (``schedule.pipeline_run``: each stage one pass after
another, a pass once its input has arrived), which for equal stages and free sends is the
closed form ``(m + (p-1)/v) c``: a bubble of ``(p-1)/(v m)`` of the ideal ``m c``
(Narayanan et al. 2021, section 2.2; ``v`` chunks a stage interleaved).

Gradient buckets start when the last backward pass has produced their bytes and run one
after another; only what outlasts that pass is exposed. Then the optimizer step
(memory-bound) and, with a sharded optimizer, the all-gather of the updated weights.
"""
from __future__ import annotations

from dataclasses import asdict

from sim_core.errors import SpecError
from sim_core.spec.loader import load_architecture
from sim_core.spec.models import load_model
from sim_core.workloads.training.comm import DEFAULT_RESOLUTION, simulate_ops, simulate_tails
from sim_core.workloads.training.memory import check_memory
from sim_core.workloads.training.plan import as_plan, bad, fabric_for, layout, microbatch_count
from sim_core.workloads.training.schedule import bucket_ops, bucket_ready_s, build_schedule, pipeline_run

COMPUTE_MODEL = ("per-layer GEMM shapes, efficiency rising with GEMM size "
                 "(sim_core.workloads.training.efficiency, fitted on Megatron-LM table 1)")
WAFER_COMPUTE_MODEL = ("roofline per wafer region: FLOPs at the preset's efficiency or SRAM bytes, whichever "
                       "is slower (sim_core.workloads.training.efficiency.wafer_stage_s)")


def estimate(spec, model, plan=None, *, nodes=None, dims=None, wafers=None, tokens=None, epochs=None,
             progress=None, fabric=None, fit: dict | None = None, cache: dict | None = None,
             resolution=None) -> dict:
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
    fit, cache : for the calibration fit: GEMM curve overrides and a memo of simulations.
    resolution : ``comm.Resolution``, optional
        Chunk size and engine step of the communication simulations (default: 8 chunks a
        message, event to event).

    Returns
    -------
    dict with ``iteration_s``, ``breakdown_s`` (seconds by part; they sum to the
    iteration), ``tflops_per_device``, ``share_of_peak``, ``memory_per_device_GB``,
    ``devices``, ``plan``, ``schedule`` (simulated operations and their counts) and, with a
    budget, ``time_to_train_s``, ``time_to_train_days``, ``energy_J`` and ``energy_MWh``.
    """
    spec = load_architecture(spec) if isinstance(spec, str) else spec
    model = load_model(model)
    plan = as_plan(plan)
    progress = progress or (lambda msg: None)
    fab = fabric if fabric is not None else fabric_for(spec, nodes, dims, wafers)
    n = fab.n_chips
    if n < 1:
        raise SpecError("size", "chips", n, "at least 1 chip")
    if spec.topology.kind == "wafer":
        from sim_core.workloads.training.wafer import estimate_wafer
        res = estimate_wafer(fab, spec, model, plan, progress, resolution)
    else:
        res = estimate_devices(fab, spec, model, plan, progress, fit=fit, cache=cache, resolution=resolution)
    recompute = res["plan"]["recompute"]
    res.update({"arch": spec.id, "model": model.id, "devices": n, "parameters": model.parameters(),
                "flops_per_iteration": model.flops_per_iteration(recompute=recompute)})
    if tokens is not None or epochs is not None:
        samples = model.samples_to_train(tokens, epochs)
        iters = samples / model.batch
        t = float(iters * res["iteration_s"])
        energy = t * n * spec.chip.power_W
        res.update({"iterations": iters, "time_to_train_s": t, "time_to_train_days": t / 86400,
                    "energy_J": energy, "energy_MWh": energy / 3.6e9,
                    "budget": {"tokens": tokens} if tokens is not None else {"epochs": epochs}})
    return res


def result(spec, model, plan, n_dev, iteration_s, breakdown, mem, extra=None) -> dict:
    """Achieved FLOP/s count the FLOPs the plan executes (with full recomputation:
    Megatron-LM's 96-coefficient count, as its table 1 reports); ``model_tflops_per_device``
    counts without recomputation."""
    per_dev = model.flops_per_iteration(recompute=plan.recompute) / (n_dev * iteration_s)
    per_dev_model = model.flops_per_iteration(recompute="none") / (n_dev * iteration_s)
    breakdown = {k: float(v) for k, v in breakdown.items()}
    out = {"iteration_s": float(iteration_s), "model_tflops_per_device": float(per_dev_model / 1e12),
           "breakdown_s": {k: v for k, v in breakdown.items() if v > 0 or k in ("compute", "pipeline_bubble")},
           "tflops_per_device": float(per_dev / 1e12), "share_of_peak": float(per_dev / spec.chip.peak_flops),
           "memory_per_device_GB": mem["total"] / 1e9,
           "memory_detail_GB": {k: v / 1e9 for k, v in mem.items() if k not in ("total", "stage")},
           "plan": {k: v for k, v in asdict(plan).items() if k != "bucket_bytes"}}
    out.update(extra or {})
    return out


def _pass_parts(items, times) -> dict:
    """Seconds of a pass by part: ``compute`` and one entry per communication key."""
    parts = {"compute": 0.0}
    for it in items:
        if it.kind == "compute":
            parts["compute"] += it.seconds
        else:
            parts[it.key] = parts.get(it.key, 0.0) + times[it.key]["time_s"]
    return parts


def bucket_exposure_s(items, times, n_buckets: int, t_bucket: float, carried_bytes: float = 0.0) -> float:
    """Seconds the gradient buckets run past the end of the last backward pass ``items``.

    Bucket ``i`` (of equal size) may start once the pass has produced it
    (``schedule.bucket_ready_s``) and after bucket ``i-1``.
    """
    if n_buckets == 0:
        return 0.0
    ready, t = bucket_ready_s(items, times, n_buckets, carried_bytes)
    end = 0.0
    for r in ready:
        end = max(end, r) + t_bucket
    end = max(end, t) + t_bucket * (n_buckets - len(ready))
    return max(0.0, end - t)


def _pass_s(items, times) -> float:
    return sum(it.seconds if it.kind == "compute" else times[it.key]["time_s"] for it in items)


def estimate_devices(fab, spec, model, plan, progress, *, fit=None, cache=None, resolution=None,
                     memory=None, extra=None) -> dict:
    """The schedule of ``plan`` on ``fab``'s devices, timed. ``memory``: the memory model's
    figures when the caller checked them (a wafer's); ``extra``: more result fields."""
    plan = layout(spec, model, plan, fab.n_chips)
    mem = check_memory(spec, model, plan) if memory is None else memory
    m = microbatch_count(model, plan, fab.n_chips)
    pp, v = plan.pp, plan.virtual_stages
    if v > 1 and m % pp:
        raise bad("virtual_stages", v, f"interleaving needs microbatches ({m}) to be a multiple of pp ({pp})")
    sched = build_schedule(spec, model, plan, m, fit=fit)
    ops = dict(sched.ops)
    used = {it.key for items in sched.forward + sched.backward for it in items if it.kind == "comm"}
    used |= {"pp"} if pp > 1 else set()
    for k in range(pp):  # bucket sizes differ by stage when the stages' layers do
        for key, op in bucket_ops(plan, sched.stage_grad_bytes[k]).items():
            ops[f"{key}:{k}"] = op
            used.add(f"{key}:{k}")
    times = simulate_ops(fab, plan, ops, sorted(used), progress, cache, resolution or DEFAULT_RESOLUTION)
    t_pp = times["pp"]["time_s"] if pp > 1 else 0.0
    sends = (list(times["pp"].get("group_times_s") or [t_pp] * pp) + [t_pp] * pp)[:pp] if pp > 1 else [0.0]
    f_s = [_pass_s(items, times) for items in sched.forward]
    b_s = [_pass_s(items, times) for items in sched.backward]
    end, last_start = pipeline_run(plan, m, f_s, b_s, sends)
    pipe = max(end)
    pipe_free_sends = max(pipeline_run(plan, m, f_s, b_s, [0.0] * pp)[0]) if t_pp > 0 else pipe
    finish, tails = [], []
    # A wafer's stages share its I/O links, so their buckets are simulated together as
    # they overlap; a GPU stage's buckets leave through its own NICs, timed alone.
    shared = (spec.topology.kind == "wafer" and plan.dp > 1 and not plan.free_comm and any(sched.buckets))
    if shared:
        progress(f"simulating every stage's gradient buckets across {plan.dp} wafers")
        ends = simulate_tails(fab, plan, sched, times, last_start, resolution or DEFAULT_RESOLUTION)
    for k in range(pp):
        n_b = sched.buckets[k]
        last = sched.backward[k]  # the stage's last pass is its first chunk's backward
        if shared:
            g_end, t_end = ends[k]
            finish.append(max(end[k], t_end))
            tails.append((sched.optimizer_s[k], max(0.0, t_end - max(end[k], g_end) - sched.optimizer_s[k])))
            continue
        carried = sched.stage_grad_bytes[k] - sum(it.grad_bytes for it in last)
        grad_t = times[f"dp_grad:{k}"]["time_s"] if n_b else 0.0
        exposed = bucket_exposure_s(last, times, n_b, grad_t, carried)
        param_t = n_b * times[f"dp_param:{k}"]["time_s"] if f"dp_param:{k}" in times else 0.0
        finish.append(end[k] + exposed + sched.optimizer_s[k] + param_t)
        tails.append((sched.optimizer_s[k], param_t))
    iteration = max(finish)
    # what the slowest stage spends per microbatch, by part, and what the pipeline adds
    stage = [{} for _ in range(pp)]
    for c in range(sched.chunks):
        for items in (sched.forward[c], sched.backward[c]):
            for key, t in _pass_parts(items, times).items():
                stage[c % pp][key] = stage[c % pp].get(key, 0.0) + t
    worst = max(range(pp), key=lambda k: sum(stage[k].values()))
    rest = iteration - pipe
    k_end = max(range(pp), key=lambda k: finish[k])
    t_opt = min(tails[k_end][0], rest)
    breakdown = {"compute": m * stage[worst]["compute"],
                 "pipeline_bubble": pipe_free_sends - m * sum(stage[worst].values()), "optimizer": t_opt}
    exposed = {"pp": pipe - pipe_free_sends, "dp": rest - t_opt}
    for key, t in stage[worst].items():
        if key != "compute":
            exposed[key] = exposed.get(key, 0.0) + m * t
    kinds = {"dp": times.get("dp_grad:0", {}).get("link_kind", "none"), "pp": times.get("pp", {}).get("link_kind")}
    for key, t in exposed.items():
        if t > 1e-12 * iteration:  # not the rounding of a difference of equal sums
            name = f"comm_{kinds.get(key) or times[key]['link_kind']}"
            breakdown[name] = breakdown.get(name, 0.0) + t
    sim = {k: {**v_, "bytes": ops[k][2], "op": ops[k][1]} for k, v_ in times.items() if v_["time_s"] > 0}
    wafer = spec.topology.kind == "wafer"
    return result(spec, model, plan, fab.n_chips, iteration, breakdown, mem,
                  {"microbatches": m, "simulated": sim, "exposed_comm_s": exposed,
                   "compute_model": WAFER_COMPUTE_MODEL if wafer else COMPUTE_MODEL,
                   "memory_stage": mem.get("stage"), "gradient_buckets": sched.buckets[0],
                   "schedule": "1F1B" if v == 1 else f"interleaved 1F1B, {v} chunks a stage", **(extra or {})})
