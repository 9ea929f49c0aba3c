"""Studies: the named experiments that give each scene its numbers, computed at run time.

``run_study(name, params, fast)`` -> ``StudyResult``. Every row carries the number the
chart draws and ``why``: "simulated", a closed form, or the source of a figure. The
``values`` dict holds the named numbers a scene's ``check`` tests. ``fast`` trims sizes
(tests); the numbers are still computed by the engine.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from sim_core import build_fabric, load_architecture
from sim_core.workloads import collectives, experiments
from sim_core.workloads.noc import run_noc, throughput_bound

from sim_core.workloads import training
from sim_core.spec.models import load_model

from app.model import training_studies as ts

AI_COMPUTE_SOURCE = "Amodei and Hernandez, 'AI and Compute', OpenAI 2018 (hardware.md)"
# (name, petaflop/s-days, year as decimal: publication month, approximate)
AI_COMPUTE = [
    ("Dropout", 0.0021, 2012.5), ("AlexNet", 0.0058, 2012.75), ("Visualizing CNNs", 0.0062, 2013.85),
    ("DQN", 0.000027, 2013.95), ("Seq2Seq", 0.085, 2014.7), ("VGG", 0.098, 2014.7), ("ResNets", 0.117, 2015.9),
    ("DeepSpeech2", 0.30, 2015.95), ("NMT", 79.0, 2016.7), ("Xception", 5.0, 2016.8), ("NAS", 22.0, 2016.85),
    ("AlphaGo Zero", 1862.0, 2017.8), ("AlphaZero", 420.0, 2017.95),
]
PFS_DAY_FLOP = 1e15 * 86400


@dataclass
class StudyResult:
    """Rows to draw (``label``, ``value``, ``unit``, ``why``, ``group``) and named values to check."""

    title: str
    unit: str
    rows: list[dict] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)
    value_why: dict[str, str] = field(default_factory=dict)
    note: str = ""

    def add(self, label: str, value: float, why: str, group: str = "", **extra) -> None:
        self.rows.append(dict(label=label, value=float(value), unit=self.unit, why=why, group=group, **extra))

    def put(self, name: str, value: float, why: str) -> None:
        self.values[name] = float(value)
        self.value_why[name] = why


def latency_ladder(p: dict, fast: bool) -> StudyResult:
    nbytes = float(p.get("nbytes", 4.0))
    r = StudyResult(f"One {nbytes:g}-byte tensor over each kind of hop", "s",
                    note="time from send to last byte delivered, simulated by the engine")
    rows = experiments.latency_ladder(nbytes)
    for row in rows:
        r.add(row["path"], row["time_s"], f"simulated ({row['architecture']}: {' > '.join(row['link_kinds'])})",
              times=row["times_on_chip"])
    on = rows[0]["time_s"]
    off = [x["time_s"] for x in rows[1:]]
    r.put("min_offchip_over_onchip", min(off) / on, "simulated: fastest off-chip hop / on-chip hop")
    r.put("orders_of_magnitude", math.log10(max(off) / on), "simulated: log10(slowest / fastest)")
    return r


def bisection(p: dict, fast: bool) -> StudyResult:
    ks = [4, 8] if fast else list(p.get("ks", [4, 8, 16]))
    r = StudyResult("Whole-mesh throughput as the mesh grows", "flits/cycle",
                    note="neighbour traffic grows with k^2 cores; all-to-all with k (the bisection)")
    rows = experiments.bisection_scaling(tuple(ks), cycles=1200 if fast else 2000, warmup=300)
    for row in rows:
        r.add(f"{row['k']}x{row['k']} {row['pattern']}", row["total_flits_per_cycle"],
              f"simulated; closed-form bound {row['bound_per_core'] * row['k'] ** 2:g} flits/cycle "
              f"({'1 per core' if row['pattern'] == 'neighbor' else '4/k per core, Dally & Towles'})",
              group=row["pattern"])
    big = max(ks)
    tot = {row["pattern"]: row["total_flits_per_cycle"] for row in rows if row["k"] == big}
    r.put("uniform_share_of_neighbour", tot["uniform"] / tot["neighbor"],
          f"simulated at {big}x{big}: all-to-all / nearest-neighbour throughput")
    return r


def allreduce_algorithms(p: dict, fast: bool) -> StudyResult:
    grids = [[2, 4], [4, 4]] if fast else [list(g) for g in p.get("grids", [[2, 4], [4, 4], [4, 4, 4]])]
    nbytes = float(p.get("nbytes", 64e6))
    spec = load_architecture(str(p.get("architecture", "tpu-v4")))
    r = StudyResult(f"All-reduce of {nbytes / 1e6:g} MB: time per algorithm", "s",
                    note="busbw = algbw x 2(p-1)/p (nccl-tests); simulated chunk by chunk")
    best = {}
    for g in grids:
        fab = build_fabric(spec, dims=g, tiles=(1, 1))
        ranks = [fab.device_node(d) for d in range(fab.n_chips)]
        for algo in ("ring", "tree", "rhd", "torus"):
            res = collectives.run_collective(fab, "allreduce", algo, ranks, nbytes, chunks_per_message=4 if fast else 16)
            r.add(f"{len(ranks)} chips {algo}", res["time_s"],
                  f"simulated; bus bandwidth {res['busbw_GBps']:.0f} GB/s", group=algo, busbw=res["busbw_GBps"])
            best[(len(ranks), algo)] = res["time_s"]
    n = max(k[0] for k in best)
    r.put("ring_over_torus_at_largest", best[(n, "ring")] / best[(n, "torus")], f"simulated at {n} chips")
    return r


def congestion(p: dict, fast: bool) -> StudyResult:
    k = int(p.get("k", 8))
    rates = [0.1, 0.2] if fast else list(p.get("rates", [0.05, 0.1, 0.15, 0.2, 0.25, 0.3]))
    patterns = list(p.get("patterns", ["uniform", "hotspot", "transpose"]))
    cycles = 1200 if fast else 2500
    r = StudyResult(f"Latency vs offered load on a {k}x{k} mesh", "cycles",
                    note=f"closed-form uniform capacity 4/k = {throughput_bound(k, False):g} flits/core/cycle")
    lat = {}
    for pat in patterns:
        for rate in rates:
            res = run_noc(k, pat, rate, cycles=cycles, warmup=300, packet_flits=1)
            lat[(pat, rate)] = res["avg_latency_cycles"] or 0.0
            r.add(f"{pat} @ {rate:g}", lat[(pat, rate)], f"simulated; accepted {res['accepted_rate']:.3f} of "
                  f"{res['offered_rate']:.3f} offered", group=pat, x=rate)
    at = float(p.get("compare_at", 0.2))
    r.put("hotspot_over_uniform_latency", lat[("hotspot", at)] / lat[("uniform", at)],
          f"simulated at {at:g} flits/core/cycle")
    return r


def training_compare(p: dict, fast: bool) -> StudyResult:
    """The same model on each preset at the sizes given (servers, wafers or torus dims)."""
    presets = list(p.get("presets", ["wafer-wse2", "dgx-a100"]))
    sizes = list(p.get("sizes", [1] * len(presets)))
    model = str(p.get("model", "bert-large"))
    ests = [ts.estimate_on(pre, model, size) for pre, size in zip(presets, sizes)]
    m = load_model(model)
    r = StudyResult(f"One training iteration of {m.name or m.id} ({m.parameters() / 1e6:,.0f} M parameters, "
                    f"batch {m.batch})", "s", note=ts.SIMULATED)
    for est in ests:
        ts.add_breakdown(r, ts.arch_label(est), est)
    t = {pre: est["iteration_s"] for pre, est in zip(presets, ests)}
    base = presets[0]
    for pre, est in zip(presets, ests):
        r.put(f"{pre}.iteration_s", est["iteration_s"], ts.SIMULATED)
        r.put(f"{pre}.chip_power_kW", est["devices"] * load_architecture(pre).chip.power_W / 1e3,
              f"preset {pre}: devices x chip power")
        if "time_to_train_days" in est:
            r.put(f"{pre}.days_to_train", est["time_to_train_days"], f"{ts.SIMULATED}; budget {est['budget']}")
    for pre in presets[1:]:
        r.put(f"{pre}_over_{base}", t[pre] / t[base], "sim_core.training: iteration time ratio")
    r.put("slowest_over_fastest", max(t.values()) / min(t.values()), "sim_core.training: iteration time ratio")
    return r


def equal_power(p: dict, fast: bool) -> StudyResult:
    """``training.compare``: every preset with the chips a fixed power budget buys, time to train."""
    model = str(p.get("fast_model" if fast else "model", p.get("model", "gpt3-175b")))
    power = float(p.get("fast_power_W" if fast else "power_W", p.get("power_W", 409600.0)))
    presets = list(p.get("presets", ["cpu-cluster", "pcie-a100", "dgx-a100", "dgx-h100", "tpu-v4", "wafer-wse2"]))
    rows = [row for row in training.compare(model, power_W=power, presets=presets, **ts.budget(model))
            if "error" not in row]
    m = load_model(model)
    r = StudyResult(f"{m.name or m.id}: one iteration at equal chip power ({power / 1e3:,.1f} kW)", "s",
                    note=f"{ts.SIMULATED}; each preset gets the chips {power / 1e3:,.1f} kW of chip power buys")
    for row in rows:
        ts.add_breakdown(r, ts.arch_label(row), row)
    days = {row["arch"]: row["time_to_train_days"] for row in rows}
    for arch, d in days.items():
        r.put(f"{arch}.days_to_train", d, f"{ts.SIMULATED}; budget {rows[0]['budget']}")
    slow = max(rows, key=lambda row: row["iteration_s"])
    fastest = min(rows, key=lambda row: row["iteration_s"])
    why = f"sim_core.training at {power / 1e3:,.1f} kW: {slow['arch']} / {fastest['arch']}"
    r.put("slowest_over_fastest", slow["time_to_train_s"] / fastest["time_to_train_s"], "time to train, " + why)
    for part, share in ts.add_gap(r, slow, fastest).items():
        r.put(f"gap_share_{part.replace(' ', '_')}", share, f"share of the iteration-time gap, {why}")
    return r


def scaling_out(p: dict, fast: bool) -> StudyResult:
    """``training.scaling``: a fixed model and global batch on more and more GPUs."""
    gpus = list(p.get("fast_gpus", [8, 16, 32, 64, 128])) if fast else list(p.get("gpus", [8, 64, 512]))
    preset, model = str(p.get("preset", "dgx-a100")), str(p.get("model", "bert-large"))
    rows = [row for row in training.scaling(preset, model, gpus) if "error" not in row]
    spec, m = load_architecture(preset), load_model(model)
    r = StudyResult(f"{m.name or m.id} (batch {m.batch}) on {spec.name}: one iteration as GPUs are added", "s",
                    note=f"{ts.SIMULATED}; global batch fixed, auto_plan's split at each size")
    for row in rows:
        est = {**row, "arch": preset, "devices": row["chips"]}
        ts.add_breakdown(r, f"{row['chips']:,} GPUs", est, x=row["chips"])
    shares = [ts.split(row["breakdown_s"])["communication"] / row["iteration_s"] for row in rows]
    comm_over = [ts.split(row["breakdown_s"]) for row in rows]
    cross = next((row["chips"] for row, s in zip(rows, comm_over) if s["communication"] >= s["compute"]), 0)
    r.put("efficiency_at_largest", rows[-1]["efficiency"],
          f"sim_core.training.scaling: samples/s per GPU at {rows[-1]['chips']} vs {rows[0]['chips']} GPUs")
    r.put("comm_share_at_largest", shares[-1], f"sim_core.training: exposed communication share at "
          f"{rows[-1]['chips']} GPUs")
    r.put("max_comm_share", max(shares), "sim_core.training: largest exposed communication share")
    r.put("comm_dominates_at", float(cross), "sim_core.training: fewest GPUs where exposed communication "
          "exceeds compute (0: never in this range)")
    r.put("speedup_at_largest", rows[0]["iteration_s"] / rows[-1]["iteration_s"],
          "sim_core.training: iteration time at the smallest / at the largest count")
    return r


def ai_compute(p: dict, fast: bool) -> StudyResult:
    r = StudyResult("Compute of landmark training runs", "PF/s-days", note=AI_COMPUTE_SOURCE)
    for name, pfd, year in AI_COMPUTE:
        r.add(name, pfd, f"{AI_COMPUTE_SOURCE}; date approximate", x=year)
    years = np.array([a[2] for a in AI_COMPUTE])
    logs = np.log2([a[1] for a in AI_COMPUTE])
    # the trend of the largest runs: fit the running maximum, as the chart's line does
    top = np.maximum.accumulate(logs[np.argsort(years)])
    slope = np.polyfit(np.sort(years), top, 1)[0]
    r.put("doubling_months", 12.0 / slope, "closed form: least-squares fit of log2(compute) of the largest runs")
    r.put("growth_2012_2018", 1862.0 / 0.0058, "AlphaGo Zero / AlexNet, " + AI_COMPUTE_SOURCE)
    r.put("moore_growth_same_years", 2 ** ((2017.8 - 2012.75) / 2), "closed form: doubling every 2 years")
    for pre, dev in zip(p.get("presets", ["dgx-a100", "tpu-v4", "wafer-wse2"]), p.get("devices", [64, 64, 1])):
        spec = load_architecture(pre)
        rate = dev * spec.chip.peak_flops * spec.chip.compute_efficiency
        r.add(f"AlphaGo Zero on {dev} x {spec.chip.name}", 1862.0 * PFS_DAY_FLOP / rate / 86400, "closed form: "
              f"FLOPs / (devices x peak x efficiency), preset {pre}", group="days", unit_override="days")
    return r


def none(p: dict, fast: bool) -> StudyResult:
    return StudyResult("", "")


STUDIES = {
    "none": none, "latency_ladder": latency_ladder, "bisection": bisection,
    "allreduce_algorithms": allreduce_algorithms, "congestion": congestion, "training_compare": training_compare,
    "scaling_out": scaling_out, "equal_power": equal_power, "ai_compute": ai_compute,
}


_CACHE: dict[tuple, StudyResult] = {}


def run_study(name: str, params: dict, fast: bool = False) -> StudyResult:
    """The study's result; studies are deterministic, so each (name, params, fast) runs once a process."""
    key = (name, repr(sorted(params.items())), fast)
    if key not in _CACHE:
        _CACHE[key] = STUDIES[name](dict(params), fast)
    return copy.deepcopy(_CACHE[key])
