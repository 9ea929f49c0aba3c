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

from sim_core.workloads import training
from sim_core.spec.models import load_model

from app.model import training_studies as ts
from app.model.studies_noc import congestion

AI_COMPUTE_SOURCE = "Amodei and Hernandez, 'AI and Compute', OpenAI blog, May 2018"
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
    side: list[dict] = field(default_factory=list)  # a small second table, another unit (scene 7's days)
    side_title: str = ""
    fit: dict = field(default_factory=dict)  # a fitted line the chart draws (scene 7)

    def add(self, label: str, value: float, why: str, group: str = "", **extra) -> None:
        self.rows.append(dict(label=label, value=float(value), unit=self.unit, why=why, group=group, **extra))

    def put(self, name: str, value: float, why: str) -> None:
        self.values[name] = float(value)
        self.value_why[name] = why


LADDER_NAMES = {  # short labels for a projector; the full path is in each bar's tooltip
    "neighbouring cores on the wafer": "next core, on-chip mesh",
    "GPU to GPU over NVLink (NVSwitch)": "next GPU, NVLink",
    "GPU to GPU over PCIe (PCIe switch)": "next GPU, PCIe",
    "GPU to GPU across InfiniBand": "other server, InfiniBand",
    "GPU to GPU across Ethernet": "other server, Ethernet",
}


def latency_ladder(p: dict, fast: bool) -> StudyResult:
    nbytes = float(p.get("nbytes", 4.0))
    r = StudyResult(f"One {nbytes:g}-byte tensor over each kind of hop", "s",
                    note="time from send to last byte delivered, simulated by the engine")
    rows = experiments.latency_ladder(nbytes)
    for row in rows:
        r.add(LADDER_NAMES.get(row["path"], row["path"]), row["time_s"], f"simulated, {row['path']} ({row['architecture']}: {' > '.join(row['link_kinds'])}); "
              f"{row['times_on_chip']:,.0f}x the on-chip hop", ratio=row["times_on_chip"])
    on = rows[0]["time_s"]
    off = [x["time_s"] for x in rows[1:]]
    r.put("min_offchip_over_onchip", min(off) / on, "simulated: fastest off-chip hop / on-chip hop")
    r.put("max_offchip_over_onchip", max(off) / on, "simulated: slowest off-chip hop / on-chip hop")
    r.put("orders_of_magnitude", math.log10(max(off) / on), "simulated: log10(slowest / fastest)")
    return r


PATTERN_NAMES = {"neighbor": "neighbour", "uniform": "all-to-all"}  # as the beats say them, not the pattern ids


def bisection(p: dict, fast: bool) -> StudyResult:
    ks = [4, 8] if fast else list(p.get("ks", [4, 8, 16]))
    r = StudyResult("Whole-mesh throughput as the mesh grows", "flits/cycle",
                    note="neighbour traffic grows with k^2 cores; all-to-all with k (the bisection)")
    rows = experiments.bisection_scaling(tuple(ks), cycles=900 if fast else 1200, warmup=300)
    for row in rows:
        name = PATTERN_NAMES.get(row["pattern"], row["pattern"])
        r.add(f"{row['k']}x{row['k']} {name}", row["total_flits_per_cycle"],
              f"simulated; closed-form bound {row['bound_per_core'] * row['k'] ** 2:g} flits/cycle "
              f"({'1 per core' if row['pattern'] == 'neighbor' else '4/k per core, Dally & Towles'})",
              group=name)
    big = max(ks)
    tot = {row["pattern"]: row["total_flits_per_cycle"] for row in rows if row["k"] == big}
    r.put("uniform_share_of_neighbour", tot["uniform"] / tot["neighbor"],
          f"simulated at {big}x{big}: all-to-all / nearest-neighbour throughput")
    return r


def allreduce_algorithms(p: dict, fast: bool) -> StudyResult:
    grids = [[2, 4], [4, 4]] if fast else [list(g) for g in p.get("grids", [[4, 4], [4, 4, 4]])]
    nbytes = float(p.get("nbytes", 64e6))
    spec = load_architecture(str(p.get("architecture", "tpu-v4")))
    r = StudyResult(f"All-reduce of {nbytes / 1e6:g} MB on TPU v4 tori: time and bus bandwidth", "s",
                    note="bus bandwidth = bytes / time x 2(p-1)/p (nccl-tests); simulated chunk by chunk")
    best = {}
    for g in grids:
        fab = build_fabric(spec, dims=g, tiles=(1, 1))
        ranks = [fab.device_node(d) for d in range(fab.n_chips)]
        for algo in ("ring", "tree", "rhd", "torus"):
            res = collectives.run_collective(fab, "allreduce", algo, ranks, nbytes, chunks_per_message=4 if fast else 16)
            r.add(f"{'x'.join(map(str, g))} {ALGO_NAMES.get(res['algo'], res['algo'])}", res["time_s"],
                  f"simulated ({res['algo']}); bus bandwidth {res['busbw_GBps']:.0f} GB/s; busiest link: "
                  f"{res['bottleneck_link_kind']}", group=ALGO_NAMES.get(algo, algo), busbw_GBps=res["busbw_GBps"])
            best[(len(ranks), algo)] = res["time_s"]
    n = max(k[0] for k in best)
    r.put("ring_over_torus_at_largest", best[(n, "ring")] / best[(n, "torus")], f"simulated at {n} chips")
    r.put("torus_busbw_at_largest_GBps", max(row["busbw_GBps"] for row in r.rows if row["group"] == "torus"),
          f"simulated at {n} chips")
    return r


ALGO_NAMES = {"ring": "ring", "tree": "tree", "rhd": "halving/doubling", "torus": "torus"}


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
    """The landmark runs (year, PF/s-days), the least-squares doubling time of the points shown,
    and what AlphaGo Zero's compute takes on a few presets (days, a separate table)."""
    r = StudyResult("Compute of landmark training runs", "PF/s-days", note=AI_COMPUTE_SOURCE)
    for name, pfd, year in sorted(AI_COMPUTE, key=lambda a: a[2]):
        r.add(name, pfd, f"{AI_COMPUTE_SOURCE}; date approximate", x=year)
    slope, icpt = fit_doubling([row["x"] for row in r.rows], [row["value"] for row in r.rows])
    r.put("doubling_months", 12.0 / slope, "least-squares fit of log2(compute) against year, every run shown")
    r.fit = {"slope_log2_per_year": slope, "intercept_log2": icpt}
    big = max(r.rows, key=lambda row: row["value"])
    first = next(row for row in r.rows if row["label"] == "AlexNet")
    r.put("growth_2012_2018", big["value"] / first["value"], f"{big['label']} / {first['label']}, {AI_COMPUTE_SOURCE}")
    r.put("moore_growth_same_years", 2 ** ((big["x"] - first["x"]) / 2), "doubling every 2 years over the same span")
    r.put("fit_over_moore_rate", slope / 0.5, "fitted doublings per year / Moore's law's 0.5 per year")
    for pre, dev in zip(p.get("presets", ["dgx-a100", "tpu-v4", "wafer-wse2"]), p.get("devices", [64, 64, 1])):
        spec = load_architecture(pre)
        rate = dev * spec.chip.peak_flops * spec.chip.compute_efficiency
        r.side.append(dict(label=f"{dev:,} x {spec.chip.name}", value=big["value"] * PFS_DAY_FLOP / rate / 86400,
                           unit="days", why=f"{big['label']}'s FLOPs / (devices x peak x efficiency), preset {pre}"))
    r.side_title = f"{big['label']}'s compute would take"
    return r


def fit_doubling(years, values) -> tuple[float, float]:
    """Least-squares line through (year, log2 value): (doublings per year, intercept)."""
    slope, icpt = np.polyfit(np.asarray(years, float), np.log2(np.asarray(values, float)), 1)
    return float(slope), float(icpt)


def none(p: dict, fast: bool) -> StudyResult:
    return StudyResult("", "")


STUDIES = {
    "none": none, "latency_ladder": latency_ladder, "bisection": bisection,
    "allreduce_algorithms": allreduce_algorithms, "congestion": congestion, "training_compare": training_compare,
    "scaling_out": scaling_out, "equal_power": equal_power, "ai_compute": ai_compute,
}


_CACHE: dict[tuple, StudyResult] = {}


PANE_STUDIES = {"congestion"}  # studies that run the scene's own first pane


def run_study(name: str, params: dict, fast: bool = False, panes=()) -> StudyResult:
    """The study's result; studies are deterministic, so each (name, params, fast, panes) runs once a process."""
    panes = tuple(panes) if name in PANE_STUDIES else ()
    key = (name, repr(sorted(params.items())), fast, repr(panes))
    if key not in _CACHE:
        fn = STUDIES[name]
        _CACHE[key] = fn(dict(params), fast, panes) if panes else fn(dict(params), fast)
    return copy.deepcopy(_CACHE[key])
