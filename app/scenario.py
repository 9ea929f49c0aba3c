"""Scenarios: what to simulate (architecture, size, workload) and how fast to show it.

A ``Scenario`` is plain data; ``build_simulation`` turns it into a fabric, an engine and
a workload. Built-in scenarios are registered by name (``--scene default``); a later
issue maps TOML scene files onto the same dataclass.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from sim_core import Engine, SpecError, build_fabric, load_architecture

from .workloads import WORKLOAD_KINDS, make_workload


@dataclass(frozen=True)
class Scenario:
    """One thing to watch.

    ``size`` is the topology's count: servers (cluster), wafers (wafer); ``dims`` the
    torus shape. ``None`` keeps the architecture's default. ``sim_rate_s`` is simulated
    seconds shown per wall-clock second at speed 1x (0: pick from the slowest link).
    """

    name: str
    title: str
    architecture: str = "dgx-a100"
    size: int | None = None
    dims: tuple[int, ...] | None = None
    tiles: tuple[int, int] | None = None
    offchip_bandwidth_scale: float = 1.0
    offchip_latency_scale: float = 1.0
    chunk_bytes: int = 8192
    buffer_chunks: int = 4
    workload: str = "collective"
    params: dict = field(default_factory=dict)
    seed: int = 0
    sim_rate_s: float = 0.0
    speed: float = 1.0

    def replace(self, **changes) -> "Scenario":
        return dataclasses.replace(self, **changes)


SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (
        Scenario("default", "Ring all-reduce of 8 MB over 2 DGX A100 servers (16 GPUs)",
                 architecture="dgx-a100", size=2, tiles=(4, 8), workload="collective",
                 params={"op": "allreduce", "algo": "ring", "nbytes": 8e6}, sim_rate_s=10e-6),
        Scenario("wafer", "Uniform traffic on a 64x64 wafer-scale mesh",
                 architecture="wafer-wse2", size=1, tiles=(64, 64), chunk_bytes=64, workload="noc",
                 params={"pattern": "uniform", "rate": 0.008}, sim_rate_s=150e-9),
        Scenario("wafer-hotspot", "Hotspot traffic on a 64x64 wafer: links near the hot core saturate",
                 architecture="wafer-wse2", size=1, tiles=(64, 64), chunk_bytes=64, workload="noc",
                 params={"pattern": "hotspot", "rate": 0.006}, sim_rate_s=150e-9),
        Scenario("dgx16", "Ring all-reduce over 16 DGX A100 servers, 8x16 cores per GPU",
                 architecture="dgx-a100", size=16, tiles=(8, 16), workload="collective",
                 params={"op": "allreduce", "algo": "ring", "nbytes": 64e6}, chunk_bytes=32768, sim_rate_s=50e-6),
        Scenario("h100", "Ring all-reduce of 8 MB over 2 DGX H100 servers",
                 architecture="dgx-h100", size=2, tiles=(4, 8), workload="collective",
                 params={"op": "allreduce", "algo": "ring", "nbytes": 8e6}, sim_rate_s=10e-6),
        Scenario("pcie", "Ring all-reduce of 8 MB over 2 PCIe A100 servers on Ethernet-class links",
                 architecture="pcie-a100", size=2, tiles=(4, 8), workload="collective",
                 params={"op": "allreduce", "algo": "ring", "nbytes": 8e6}, sim_rate_s=10e-6),
        Scenario("tpu", "Ring all-reduce over a 4x4x4 TPU v4 torus",
                 architecture="tpu-v4", dims=(4, 4, 4), workload="collective",
                 params={"op": "allreduce", "algo": "ring", "nbytes": 8e6, "channels": 2}, sim_rate_s=10e-6),
        Scenario("cpu", "Ring all-reduce of 8 MB over 4 two-socket CPU servers on 100 GbE",
                 architecture="cpu-cluster", size=4, workload="collective",
                 params={"op": "allreduce", "algo": "ring", "nbytes": 8e6}, sim_rate_s=20e-6),
        Scenario("transfer", "One 8 MB tensor from GPU 0 to GPU 15, across InfiniBand",
                 architecture="dgx-a100", size=2, tiles=(4, 8), workload="transfer",
                 params={"src": 0, "dst": 15, "nbytes": 8e6}, sim_rate_s=5e-6),
    )
}


@dataclass
class Simulation:
    """A scenario brought to life: its spec, fabric, engine and workload."""

    scenario: Scenario
    spec: object
    fabric: object
    engine: Engine
    workload: object
    step_s: float
    sim_rate_s: float


def auto_rate(fabric, chunk_bytes: int) -> float:
    """Simulated seconds per wall second so a chunk crosses the slowest off-chip link in ~0.2 s."""
    off = fabric.link_kind != 0
    bw = fabric.link_bandwidth_Bps[off] if off.any() else fabric.link_bandwidth_Bps
    lat = fabric.link_latency_s[off] if off.any() else fabric.link_latency_s
    slowest = float(np.max(chunk_bytes / bw + lat))
    return slowest / 0.2


def build_simulation(scenario: Scenario) -> Simulation:
    """Load, build and wire up ``scenario``. Raises ``SpecError`` naming the bad field."""
    spec = load_architecture(scenario.architecture)
    kind = spec.topology.kind
    kw = {}
    if kind == "torus" and scenario.dims is not None:
        kw["dims"] = list(scenario.dims)
    elif kind == "cluster" and scenario.size is not None:
        kw["nodes"] = scenario.size
    elif kind == "wafer" and scenario.size is not None:
        kw["wafers"] = scenario.size
    fab = build_fabric(spec, tiles=scenario.tiles, offchip_bandwidth_scale=scenario.offchip_bandwidth_scale,
                       offchip_latency_scale=scenario.offchip_latency_scale, **kw)
    src = f"scenario {scenario.name}"
    if scenario.workload not in WORKLOAD_KINDS:
        raise SpecError(src, "workload", scenario.workload, f"one of {', '.join(WORKLOAD_KINDS)}")
    if not (1 <= scenario.chunk_bytes <= 1 << 30):
        raise SpecError(src, "chunk_bytes", scenario.chunk_bytes, "1 B to 1 GiB")
    if not (1 <= scenario.buffer_chunks <= 1024):
        raise SpecError(src, "buffer_chunks", scenario.buffer_chunks, "1 to 1024 chunks")
    eng = Engine(fab, chunk_bytes=scenario.chunk_bytes, buffer_chunks=scenario.buffer_chunks,
                 seed=scenario.seed, history=4096)
    try:
        workload = make_workload(fab, scenario.workload, scenario.params)
    except ValueError as exc:
        raise SpecError(src, f"params ({scenario.workload})", scenario.params, str(exc)) from exc
    eng.attach_traffic(workload)
    rate = scenario.sim_rate_s or auto_rate(fab, scenario.chunk_bytes)
    return Simulation(scenario, spec, fab, eng, workload, step_s=rate / 60.0, sim_rate_s=rate)


def scenario_by_name(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise SpecError("--scene", "scene", name, f"one of {', '.join(SCENARIOS)}")
    return SCENARIOS[name]
