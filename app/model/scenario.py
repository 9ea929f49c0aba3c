"""Scenarios: what to simulate (architecture, size, workload) and how fast to show it.

A ``Scenario`` is plain data; ``build_simulation`` turns it into a fabric, an engine and
a workload. Built-in scenarios are registered by name (``--scene default``); scene files
(``app.scenes``) map onto the same dataclass.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from sim_core import Engine, SpecError, build_fabric, load_architecture
from sim_core.engine.view import playback_rate_s

from app.model.workloads import WORKLOAD_KINDS, make_workload


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
        Scenario("cluster4096", "One 64 MB tensor across a 4,096-GPU DGX A100 cluster (512 servers, fat tree)",
                 architecture="dgx-a100", size=512, tiles=(1, 1), workload="transfer",
                 params={"src": 0, "dst": 4095, "nbytes": 64e6}, chunk_bytes=1 << 20, sim_rate_s=2e-3),
        Scenario("pod4096", "All-reduce of 8 MB over a whole TPU v4 pod: 16x16x16 chips, 2x2 cores each",
                 architecture="tpu-v4", dims=(16, 16, 16), tiles=(2, 2), workload="collective", chunk_bytes=1 << 18,
                 params={"op": "allreduce", "algo": "torus", "nbytes": 8e6, "channels": 0}, sim_rate_s=100e-6),
        Scenario("transfer", "One 8 MB tensor from GPU 0 to GPU 15, across InfiniBand",
                 architecture="dgx-a100", size=2, tiles=(4, 8), workload="transfer",
                 params={"src": 0, "dst": 15, "nbytes": 8e6}, sim_rate_s=5e-6),
    )
}


SOURCE_QUEUE_LIMIT = 256  # chunks per injection queue; past it synthetic packets are refused (constant memory)

# Workload parameter -> (low, high, integer?, why). Checked before anything is built, so
# a typed-in 1e308 or NaN ends in one message instead of an overflow deep in a schedule.
PARAM_LIMITS = {
    "rate": (0.0, 1.0, False, "flits per core per cycle"),
    "packet_flits": (1, 1024, True, "flits per packet"),
    "src": (0, 1 << 24, True, "a device index"),
    "dst": (0, 1 << 24, True, "a device index"),
    "nbytes": (1.0, 1e12, False, "1 B to 1 TB per tensor"),
    "channels": (0, 64, True, "parallel channels; 0: device hubs as ranks"),
    "params": (1.0, 1e13, False, "model parameters, up to 10 trillion"),
    "tokens_per_device": (1, 1 << 24, True, "tokens per device per iteration"),
}
TEXT_PARAMS = ("pattern", "op", "algo")


def check_params(source: str, params: dict, prefix: str = "params") -> None:
    """Raise ``SpecError(source, f"{prefix}.{key}", ...)`` for a parameter of the wrong type or range."""
    for key, value in params.items():
        where = f"{prefix}.{key}"
        if key in TEXT_PARAMS:
            if not isinstance(value, str):
                raise SpecError(source, where, value, "a name (text)")
            continue
        if key not in PARAM_LIMITS:
            continue  # unknown keys are the schema's business; workloads ignore them
        lo, hi, integer, why = PARAM_LIMITS[key]
        if key == "dst" and value is None:
            continue
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            raise SpecError(source, where, value, f"{'an integer' if integer else 'a number'} {lo:g} to {hi:g} ({why})")
        if not (math.isfinite(value) and lo <= value <= hi):
            raise SpecError(source, where, value, f"{lo:g} to {hi:g} ({why})")


LIVE_MAX_CHIPS = 256  # training: an iteration over 256 GPUs is ~39 M messages (a 40 s build in the background)
LIVE_MAX_CHIPS_COLLECTIVE = 512  # the app's ring over 512 GPUs: 0.8 M messages, built in 0.4 s, first step 50 ms
LIVE_MAX_CHIPS_TORUS = 4096  # dimension-wise torus collectives: O(chips x side) messages, a whole TPU v4 pod
LIVE_MAX_CHIPS_LIGHT = 8192  # one transfer or NoC traffic: cheap to schedule, so the whole cluster
LIVE_MAX_CORES = 262_144  # 512 x 512: one step of 1024 x 1024 cores takes ~4 s, far past a 16 ms frame


def live_limit_message(scenario: "Scenario", spec) -> str | None:
    """Why ``scenario`` cannot be shown live (a one-line message naming the limit), or None.

    Cheap: counts chips and cores from the spec without building anything.
    """
    from sim_core.fabric.arrays import MAX_TILES
    from sim_core.fabric.size import FabricSize
    topo = spec.topology
    chips = FabricSize(nodes=scenario.size if topo.kind == "cluster" else None,
                       dims=tuple(scenario.dims) if topo.kind == "torus" and scenario.dims else None,
                       wafers=scenario.size if topo.kind == "wafer" else None).chips(spec)
    rows, cols = scenario.tiles or spec.chip.default_tiles
    cores = chips * rows * cols
    if cores > MAX_TILES:
        return (f"{chips:,} chips x {rows}x{cols} cores = {cores:,} cores: over the fabric limit of "
                f"{MAX_TILES:,} (sim_core.fabric.MAX_TILES); lower the chip count or the mesh resolution")
    # A collective or a training step over every chip is what gets slow; one tensor or NoC
    # traffic stays cheap, so those may show a whole 4,096-GPU cluster.
    heavy = scenario.workload in ("collective", "training")
    limit = (LIVE_MAX_CHIPS_COLLECTIVE if scenario.workload == "collective" else LIVE_MAX_CHIPS) if heavy else \
        LIVE_MAX_CHIPS_LIGHT
    if scenario.workload == "collective" and topo.kind == "torus" and scenario.params.get("algo") == "torus":
        limit = LIVE_MAX_CHIPS_TORUS
    if chips > limit:
        why = ("scheduling a collective or a training step over more takes seconds per step and would freeze "
               "the window" if heavy else "drawing more would not fit the frame budget")
        return (f"{chips:,} chips: the live view shows at most {limit:,} for a {scenario.workload} ({why}); "
                f"`python -m sim_core` simulates more")
    if cores > LIVE_MAX_CORES:
        return (f"{cores:,} cores: the live view draws at most {LIVE_MAX_CORES:,} (512x512); one step of a "
                f"1024x1024 mesh takes ~4 s against a 16 ms frame budget")
    return None


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
    check_params(src, scenario.params)
    eng = Engine(fab, chunk_bytes=scenario.chunk_bytes, buffer_chunks=scenario.buffer_chunks,
                 seed=scenario.seed, history=4096, source_queue_limit=SOURCE_QUEUE_LIMIT)
    try:
        workload = make_workload(fab, scenario.workload, scenario.params)
    except (ValueError, TypeError, OverflowError) as exc:
        raise SpecError(src, f"params ({scenario.workload})", scenario.params, str(exc)) from exc
    eng.attach_traffic(workload)
    if hasattr(workload, "schedule_round"):
        workload(eng, 0.0, 0.0)  # the first round is scheduled here (a worker thread), not in the first frame
    rate = scenario.sim_rate_s or playback_rate_s(fab, scenario.chunk_bytes)
    return Simulation(scenario, spec, fab, eng, workload, step_s=rate / 60.0, sim_rate_s=rate)


def scenario_by_name(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise SpecError("--scene", "scene", name, f"one of {', '.join(SCENARIOS)}")
    return SCENARIOS[name]
