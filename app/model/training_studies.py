"""Training studies: scenes 5, 6 and 8 get their numbers from ``sim_core.training``.

Every number is ``training.estimate`` / ``compare`` / ``scaling``: a roofline for
compute composed with communication *simulated* on the preset's fabric (the model the
app animates with ``training.schedule_iteration``). Each architecture contributes the
same four rows, so a scene's ``reveal`` counts stay predictable:

====================  ==========================================================
``compute``           FLOPs at the chip's sustained rate (roofline)
``memory``            memory stalls (bytes over memory bandwidth beyond the FLOP time)
                      and the memory-bound Adam step
``communication``     exposed communication, labelled by link kind (simulated)
``pipeline bubble``   ``(pp - 1)`` microbatch times of idle pipeline stages
====================  ==========================================================
"""
from __future__ import annotations

from sim_core import LINK_KINDS, load_architecture
from sim_core.workloads import training
from sim_core.spec.models import load_model

ROWS_PER_ARCH = 4
SIMULATED = "sim_core.training: roofline compute + communication simulated on the fabric"


def budget(model) -> dict:
    """The model's own training budget as ``estimate`` keywords (tokens for LLMs, else epochs)."""
    m = load_model(model)
    if m.tokens is not None:
        return {"tokens": m.tokens}
    return {"epochs": m.epochs} if m.epochs is not None and m.dataset_samples is not None else {}


def split(breakdown: dict) -> dict[str, float]:
    """``breakdown_s`` -> compute, memory, communication, pipeline bubble (s); sums to the iteration."""
    comm = sum(v for k, v in breakdown.items() if k.startswith("comm_"))
    return {"compute": breakdown.get("compute", 0.0),
            "memory": breakdown.get("memory_stall", 0.0) + breakdown.get("optimizer", 0.0),
            "communication": comm, "pipeline bubble": breakdown.get("pipeline_bubble", 0.0)}


def comm_kinds(breakdown: dict) -> list[str]:
    """Link kinds with exposed communication, largest first."""
    kinds = [(v, k[5:]) for k, v in breakdown.items() if k.startswith("comm_") and v > 0]
    return [k for _, k in sorted(kinds, reverse=True)]


def plan_text(est: dict) -> str:
    p = est["plan"]
    mode = f", {est['wafer_mode']}" if est.get("wafer_mode") else ""
    return f"tp {p['tp']} x pp {p['pp']} x dp {p['dp']}{mode}"


def add_breakdown(r, label: str, est: dict, group_prefix: str = "", x=None) -> None:
    """Append the four rows of one estimate to the ``StudyResult`` ``r``."""
    parts = split(est["breakdown_s"])
    kinds = comm_kinds(est["breakdown_s"])
    days = est.get("time_to_train_days")
    tail = f"; {days:,.1f} days to train" if days is not None else ""
    extra = {"bar": label, "bar_total_s": est["iteration_s"], "days_to_train": days,
             "budget": est.get("budget", "")}
    if x is not None:
        extra["x"] = x
    for part, value in parts.items():
        shown = part
        why = f"{SIMULATED}; plan {plan_text(est)}{tail}"
        if part == "communication":
            names = ", ".join(LINK_KINDS_NAMES.get(k, k) for k in kinds) or "none exposed"
            shown = f"communication ({names})"
            why = f"simulated on the fabric, exposed part ({names}); plan {plan_text(est)}"
        elif part == "compute":
            rate = f"; {est['tflops_per_device']:.0f} TFLOP/s per device achieved" if "tflops_per_device" in est else ""
            why = f"roofline: FLOPs / (peak x efficiency){rate}{tail}"
        elif part == "memory":
            shown = "memory (stalls + optimizer)"
            why = "roofline: bytes / memory bandwidth beyond the FLOP time, and Adam's 32 B per parameter"
        r.add(f"{label}: {shown}", value, why, group=group_prefix + part, **extra)


LINK_KINDS_NAMES = {"noc": "on-chip mesh", "nvlink": "NVLink", "pcie": "PCIe", "infiniband": "InfiniBand",
                    "ethernet": "Ethernet", "ici": "ICI", "wafer-io": "wafer I/O", "upi": "UPI"}
assert set(LINK_KINDS_NAMES) == set(LINK_KINDS)


def arch_label(est: dict) -> str:
    """``"1,024 x A100 SXM4 80GB"``: the devices an estimate ran on."""
    return f"{est['devices']:,} x {load_architecture(est['arch']).chip.name}"


def add_gap(r, slow: dict, fast: dict) -> dict[str, float]:
    """Rows splitting the iteration-time gap between two estimates by part; returns the shares."""
    a, b = split(slow["breakdown_s"]), split(fast["breakdown_s"])
    shares = gap_shares(slow, fast)
    who = f"{arch_label(slow)} vs {arch_label(fast)}"
    # A part the fastest spends longer on (its pipeline bubble, say) cannot be a stacked segment:
    # the bar draws the parts the slowest spends longer on, and says how much the others take back.
    less = {part: b[part] - a[part] for part in a if b[part] > a[part]}
    for part in ("compute", "memory", "communication"):
        r.add(f"extra time from {part} ({who})", max(0.0, a[part] - b[part]),
              f"sim_core.training: {part} time difference, {shares[part]:.0%} of the iteration-time gap",
              group=part, bar="extra time of the slowest over the fastest",
              bar_total_s=max(0.0, slow["iteration_s"] - fast["iteration_s"]), gap=True, less=less)
    if a["pipeline bubble"] > b["pipeline bubble"]:
        r.add(f"extra time from pipeline bubble ({who})", a["pipeline bubble"] - b["pipeline bubble"],
              f"sim_core.training: pipeline bubble difference, {shares['pipeline bubble']:.0%} of the gap",
              group="pipeline bubble", bar="extra time of the slowest over the fastest",
              bar_total_s=max(0.0, slow["iteration_s"] - fast["iteration_s"]), gap=True, less=less)
    return shares


def _size_kw(spec, size) -> dict:
    kind = spec.topology.kind
    if kind == "cluster":
        return {"nodes": int(size)}
    if kind == "wafer":
        return {"wafers": int(size)}
    return {"dims": list(size) if isinstance(size, list) else [int(size)]}


def estimate_on(preset: str, model: str, size) -> dict:
    """``training.estimate`` with ``auto_plan``'s split on ``size`` servers / wafers / torus dims."""
    spec = load_architecture(preset)
    fab = training.fabric_for(spec, **_size_kw(spec, size))
    plan = training.auto_plan(spec, model, fab.n_chips)
    return training.estimate(spec, model, plan, fabric=fab, **budget(model))


def gap_shares(slow: dict, fast: dict) -> dict[str, float]:
    """Share of the iteration-time gap ``slow - fast`` each part explains (sums to 1)."""
    a, b = split(slow["breakdown_s"]), split(fast["breakdown_s"])
    gap = slow["iteration_s"] - fast["iteration_s"]
    return {k: (a[k] - b[k]) / gap for k in a} if gap > 0 else {k: 0.0 for k in a}
