"""Studies: the named experiments that give each scene its numbers, computed at run time.

``run_study(name, params, fast)`` -> ``StudyResult``. Every row carries the number the
chart draws and ``why``: "simulated", a closed form, or the source of a figure. The
``values`` dict holds the named numbers a scene's ``check`` tests. ``fast`` trims sizes
(tests); the numbers are still computed by the engine.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim_core import build_fabric, collectives, experiments, load_architecture
from sim_core.noc import run_noc, throughput_bound

from . import training_bridge as tb

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


def _iterations(presets: list[str], model: str, devices: list[int]) -> list[dict]:
    return [tb.iteration(pre, model, d) for pre, d in zip(presets, devices)]


def training_compare(p: dict, fast: bool) -> StudyResult:
    presets = list(p.get("presets", ["wafer-wse2", "dgx-a100"]))
    devices = list(p.get("devices", [1] * len(presets)))
    model = str(p.get("model", "bert-large"))
    its = _iterations(presets, model, devices)
    r = StudyResult(f"One training iteration of {its[0]['model']}", "s",
                    note=f"training backend: {tb.backend()}")
    for it in its:
        label = f"{it['name']} ({it['devices']} devices)"
        r.add(label + " compute", it["compute_s"], it["why"]["compute_s"], group="compute")
        r.add(label + " communication", it["comm_s"], it["why"]["comm_s"], group="communication")
    t = {pre: it["iteration_s"] for pre, it in zip(presets, its)}
    base = presets[0]
    for pre in presets[1:]:
        r.put(f"{pre}_over_{base}", t[pre] / t[base], "simulated + closed form: iteration time ratio")
    r.put("slowest_over_fastest", max(t.values()) / min(t.values()), "iteration time ratio")
    return r


def scaling_out(p: dict, fast: bool) -> StudyResult:
    gpus = [8, 16, 32, 64] if fast else list(p.get("gpus", [8, 16, 32, 64, 128, 256, 512, 1024]))
    preset, model = str(p.get("preset", "dgx-a100")), str(p.get("model", "bert-large"))
    r = StudyResult(f"{model} on {preset}: one iteration as GPUs are added", "s", note=f"backend: {tb.backend()}")
    speed = []
    for n in gpus:
        it = tb.iteration(preset, model, n)
        r.add(f"{n} GPUs compute", it["compute_s"], it["why"]["compute_s"], group="compute", x=n)
        r.add(f"{n} GPUs communication", it["comm_s"], it["why"]["comm_s"], group="communication", x=n)
        speed.append((n, it["iteration_s"], it["comm_s"] / it["iteration_s"]))
    t0 = speed[0][1]
    eff = [(t0 / t) / (n / speed[0][0]) for n, t, _ in speed]
    r.put("efficiency_at_largest", eff[-1], f"simulated: speedup / GPU ratio at {gpus[-1]} GPUs")
    r.put("comm_share_at_largest", speed[-1][2], f"simulated: communication share at {gpus[-1]} GPUs")
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
    "scaling_out": scaling_out, "ai_compute": ai_compute,
}


def run_study(name: str, params: dict, fast: bool = False) -> StudyResult:
    return STUDIES[name](dict(params), fast)
