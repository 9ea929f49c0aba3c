"""Plan search: every tensor/pipeline/data split, microbatch, ZeRO stage and recomputation
setting of one model on one machine, run as a sweep of ``train`` points and ranked.

Candidates are the splits whose degrees multiply to the device count: ``tp`` a power of
two up to 64, ``pp`` any divisor of the rest up to the model's layers, ``dp`` what is
left; microbatches 1, 2, 4 and 8 (up to batch / dp); ZeRO 0 to 3 (0 alone when dp = 1,
where there is nothing to shard); recomputation on and off. The ``train`` command itself decides what fits: a plan it refuses (memory, degrees,
batch) is ruled out with its message; the others are kept and ranked by ``iteration_s``.
"""
from __future__ import annotations

from sim_core.sweep.grid import parse_grid

TP_MAX = 64
MICROBATCHES = (1, 2, 4, 8)
ZERO_STAGES = (0, 1, 2, 3)
PLAN_COLUMNS = ("tp", "pp", "dp", "microbatch", "zero", "no-recompute")
BOOKKEEPING = ("point", "command", "wall_s", "error", "arch", "model", "nodes", "batch", "out.arch", "out.model")


def device_count(arch: str, nodes: int | None) -> int:
    """Devices (chips) of ``arch`` at ``nodes`` servers, as the ``train`` command builds it."""
    from sim_core.fabric.build import sized_fabric
    from sim_core.spec.loader import load_architecture

    return sized_fabric(load_architecture(arch), nodes=nodes, tiles=(1, 1), source="--nodes").n_chips


def _model(model: str, batch: int | None):
    from sim_core.spec.models import load_model

    return load_model({"base": model, "batch": batch} if batch is not None else model)


def candidates(n: int, layers: int, batch: int) -> list[dict]:
    """Every plan searched on ``n`` devices (see the module docstring), as option dicts."""
    out = []
    tps = [t for t in (2 ** i for i in range(TP_MAX.bit_length())) if t <= TP_MAX and n % t == 0]
    for tp in tps:
        rest = n // tp
        for pp in (d for d in range(1, min(rest, layers) + 1) if rest % d == 0):
            dp = rest // pp
            for mb in (m for m in MICROBATCHES if m * dp <= batch or m == 1):
                for zero in ZERO_STAGES if dp > 1 else (0,):  # ZeRO shards over dp: with one replica, nothing
                    for no_recompute in (False, True):
                        out.append({"tp": tp, "pp": pp, "dp": dp, "microbatch": mb, "zero": zero,
                                    "no-recompute": no_recompute})
    return out


def plan_grid(arch: str, nodes: int | None, model: str, batch: int | None = None):
    """The grid of ``train`` points searched for ``model`` on ``arch`` at ``nodes``."""
    spec_model = _model(model, batch)
    n = device_count(arch, nodes)
    fixed = {"arch": arch, "model": model}
    if nodes is not None:
        fixed["nodes"] = nodes
    if batch is not None:
        fixed["batch"] = batch
    doc = {"schema_version": 1, "command": "train", "fixed": fixed,
           "points": candidates(n, spec_model.layers, spec_model.batch)}
    return parse_grid(doc, "plan search")


def rank(rows: list[dict], memory_GB: float) -> list[dict]:
    """Kept plans by iteration time (ties by inputs), then ruled-out ones, each with a reason."""
    kept = sorted((r for r in rows if r.get("error") is None), key=lambda r: r["iteration_s"])
    out = []
    best = kept[0]["iteration_s"] if kept else None
    for i, r in enumerate(kept, 1):
        versus = "the fastest" if i == 1 else f"{r['iteration_s'] / best:.3g}x the best iteration time"
        why = f"kept: fits in memory ({r['memory_per_device_GB']:.3g} of {memory_GB:.3g} GB per device); {versus}"
        out.append(_entry(r, i, True, why))
    for r in rows:
        if r.get("error") is not None:
            out.append(_entry(r, None, False, "ruled out: " + r["error"]))
    return out


def _entry(row: dict, rank_: int | None, kept: bool, reason: str) -> dict:
    plan = {k: row[k] for k in PLAN_COLUMNS}
    plan["recompute"] = not plan.pop("no-recompute")
    outputs = {k: v for k, v in row.items()
               if k not in BOOKKEEPING and k not in PLAN_COLUMNS and v is not None and not k.startswith("plan.")}
    return {"rank": rank_, **plan, "kept": kept, "reason": reason, **(outputs if kept else {})}


def memory_GB(arch: str) -> float:
    from sim_core.spec.loader import load_architecture

    return load_architecture(arch).chip.memory_bytes / 1e9
