"""Plans, comparisons and scaling studies built on ``estimate``.

``auto_plan`` follows Megatron-LM's rule of thumb: tensor parallelism inside a server
(only if the model needs it), the fewest pipeline stages that fit in memory, data
parallelism over the rest. ``compare`` runs one workload on every preset at equal chip
power; ``scaling`` grows the chip count at a fixed global batch.
"""
from __future__ import annotations

import numpy as np

from sim_core.cancel import check as check_cancelled
from sim_core.errors import SpecError
from sim_core.spec.loader import load_architecture
from sim_core.spec.models import load_model
from sim_core.workloads.training.estimate import estimate
from sim_core.workloads.training.memory import BYTES_PER_PARAM, memory_per_device_bytes
from sim_core.workloads.training.plan import Plan, fabric_for

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
            mem = memory_per_device_bytes(model, plan)
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
