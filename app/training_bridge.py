"""One training iteration of a model on a preset: ``sim_core.training`` when it exists.

``sim_core.training.estimate`` (built in the training issue) is the reference. Until it
is importable, ``iteration`` uses a stand-in made of the same parts, each labelled:

- compute: the model's FLOPs per iteration (``sim_core.models``: Megatron's equation 2,
  or 6 x parameters x tokens) / (devices x peak x efficiency) -- a closed form on the
  preset's figures;
- communication: the data-parallel gradient all-reduce (2 bytes per parameter) over the
  devices, *simulated* by ``sim_core.collectives.run_collective``; clusters of more than
  one server run it over one GPU per server with 1/8 of the bytes (one of the 8 rails of
  a hierarchical all-reduce, the part that crosses InfiniBand); a wafer streams its
  weights in and its gradients out over the wafer I/O link (weight streaming), simulated
  as one transfer each way.
"""
from __future__ import annotations

import math

from sim_core import Engine, build_fabric, collectives, load_architecture

RAILS = 8


def _training():
    try:
        from sim_core import training  # noqa: F401
        return training
    except ImportError:
        return None


def backend() -> str:
    return "sim_core.training" if _training() is not None else "stand-in (app/training_bridge.py)"


def model_figures(model: str) -> tuple[float, float, float, str]:
    """(parameters, FLOPs per iteration, tokens or samples per iteration, name) of a model id."""
    from sim_core import models
    m = models.load_model(model)
    return m.parameters(), m.flops_per_iteration(), float(m.batch * (m.seq if m.is_transformer else 1)), m.name or m.id


def torus_dims(devices: int) -> list[int]:
    """Three torus dimensions whose product is ``devices`` (at least 2 each), as cubic as possible."""
    dims = [1, 1, 1]
    n = max(8, devices)
    f = 2
    while n > 1:
        while n % f:
            f += 1
        n //= f
        dims[dims.index(min(dims))] *= f
    return sorted((max(2, d) for d in dims), reverse=True)


def _devices_fabric(spec, devices: int):
    topo = spec.topology
    if topo.kind == "cluster":
        per = topo.chips_per_node
        nodes = max(1, math.ceil(devices / per))
        return build_fabric(spec, nodes=nodes, tiles=(1, 1)), nodes, per
    if topo.kind == "torus":
        dims = torus_dims(devices)
        return build_fabric(spec, dims=dims, tiles=(1, 1)), math.prod(dims), 1
    return build_fabric(spec, wafers=1, tiles=(4, 4)), 1, 1


def _comm_s(spec, fab, nodes: int, per: int, grad_bytes: float) -> float:
    kind = spec.topology.kind
    if kind == "wafer":  # weights in, gradients out over the only way off the wafer
        eng = Engine(fab, chunk_bytes=1 << 22)
        hub = int(fab.chip_hub[0])
        host = int(next(i for i in range(fab.n_nodes) if fab.node_kind[i] == 4))
        a = eng.send(host, hub, grad_bytes)
        b = eng.send(hub, host, grad_bytes)
        eng.run_until_idle(dt_s=1.0)
        rel, fin = eng.message_times([a, b])
        return float(fin.max() - rel.min())
    if kind == "cluster" and nodes > 1:
        ranks = [fab.device_node(per * n) for n in range(nodes)]
        return collectives.run_collective(fab, "allreduce", "ring", ranks, grad_bytes / min(RAILS, per),
                                          chunks_per_message=4)["time_s"]
    ranks = [fab.device_node(d) for d in range(fab.n_chips)]
    if len(ranks) < 2:
        return 0.0
    return collectives.run_collective(fab, "allreduce", "auto", ranks, grad_bytes, chunks_per_message=4)["time_s"]


def iteration(preset: str, model: str, devices: int) -> dict:
    """One iteration: ``compute_s``, ``comm_s``, ``iteration_s``, ``devices``, ``tflops_per_device``,
    ``fits`` (weights + Adam state in device memory), ``why`` (where each number comes from)."""
    spec = load_architecture(preset)
    params, flops, _, name = model_figures(model)
    fab, nodes, per = _devices_fabric(spec, devices)
    n = fab.n_chips if spec.topology.kind != "wafer" else 1
    chip = spec.chip
    compute = flops / (n * chip.peak_flops * chip.compute_efficiency)
    comm = _comm_s(spec, fab, nodes, per, 2.0 * params)
    it = compute + comm
    return {
        "preset": preset, "name": spec.name, "model": name, "devices": n, "compute_s": compute, "comm_s": comm,
        "iteration_s": it, "tflops_per_device": flops / it / n / 1e12,
        "share_of_peak": flops / it / n / chip.peak_flops,
        "fits": 16.0 * params / (1 if spec.topology.kind == "wafer" else n) <= chip.memory_bytes
        or spec.topology.kind == "wafer",
        "why": {"compute_s": f"closed form: model FLOPs / ({n} x {chip.peak_flops / 1e12:g} TFLOP/s x "
                             f"{chip.compute_efficiency:g}), preset {preset}",
                "comm_s": "simulated: " + ("weights in + gradients out over wafer I/O" if spec.topology.kind == "wafer"
                                           else "gradient all-reduce (2 B/parameter)")},
    }
