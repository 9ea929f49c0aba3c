"""Typed, validated hardware specifications (the architecture file schema).

An architecture is data: a chip, named link types and how chips are joined. Presets
ship as TOML files in ``sim_core/presets`` and load through the same validator as a
user's file, so a preset can never hold what a user file could not.

Units live in field names: ``_Bps`` bytes per second per direction, ``_s`` seconds,
``_bytes`` bytes, ``_flops`` floating-point operations per second, ``_W`` watts.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1

from sim_core.spec.link_kinds import LINK_KINDS  # noqa: E402  (re-exported here)

# Strict types: TOML's ``true`` is not a bandwidth. Upper limits keep values physical, so a
# typo like 1e308 is refused with the limit instead of freezing a simulation.
Bandwidth = Annotated[float, Field(gt=0, le=1e18, allow_inf_nan=False, strict=True,
                                   description="bytes/s per direction, up to 1 EB/s")]
Latency = Annotated[float, Field(gt=0, le=10.0, allow_inf_nan=False, strict=True, description="seconds, up to 10 s")]
Flops = Annotated[float, Field(gt=0, le=1e20, allow_inf_nan=False, strict=True)]
Bytes = Annotated[float, Field(gt=0, le=1e16, allow_inf_nan=False, strict=True)]
Watts = Annotated[float, Field(gt=0, le=1e7, allow_inf_nan=False, strict=True)]
Share = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False, strict=True)]
Count = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
Small = Annotated[int, Field(ge=1, le=64, strict=True)]


class FieldValueError(ValueError):
    """A cross-field rule broken at ``field`` (dotted path) by ``value``."""

    def __init__(self, field: str, value, rule: str):
        super().__init__(rule)
        self.field, self.value, self.rule = field, value, rule


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class ChipSpec(_Strict):
    """One chip (or wafer): its cores laid out as a physical mesh, compute and memory."""

    name: str = Field(description="shown in labels and the inspector")
    cores: Count = Field(description="cores (SMs, TensorCores, CPU cores) on the chip")
    core_rows: Count = Field(description="rows of the physical core mesh")
    core_cols: Count = Field(description="columns of the physical core mesh")
    peak_flops: Flops = Field(description="dense 16-bit peak of the whole chip, FLOP/s")
    compute_efficiency: Share = Field(0.5, description="share of peak a well-tuned kernel reaches")
    memory_bytes: Bytes = Field(description="memory next to the chip (HBM, DRAM or on-wafer SRAM), bytes")
    memory_bandwidth_Bps: Bandwidth = Field(description="memory bandwidth of one chip, bytes/s")
    power_W: Watts = Field(description="power of one chip (or wafer system), for training energy")
    noc_bandwidth_Bps: Bandwidth = Field(description="one physical mesh link, per direction")
    noc_hop_latency_s: Latency = Field(description="one physical mesh hop")
    gpu_generation: Literal["", "volta", "ampere", "hopper", "blackwell"] = Field(
        "", description="NVIDIA GPU architecture: selects NCCL's per-generation tuning rows; empty for other chips")
    default_tiles: Annotated[list[Annotated[int, Field(ge=1, le=2048, strict=True)]], Field(min_length=2, max_length=2)] = Field(
        description="[rows, cols] of the emulated mesh drawn")


class LinkSpec(_Strict):
    """A kind of off-chip link. Bandwidth is per direction, at line rate."""

    kind: Literal["nvlink", "pcie", "infiniband", "ethernet", "ici", "wafer-io", "upi"] = Field(
        description="what the link is: sets its colour and groups it in plots")
    bandwidth_Bps: Bandwidth = Field(description="line rate per direction, bytes/s")
    latency_s: Latency = Field(description="one-way time of flight of one hop, seconds")
    payload_efficiency: Share = Field(1.0, description="share of the line rate left for payload after headers")

    @property
    def payload_Bps(self) -> float:
        return self.bandwidth_Bps * self.payload_efficiency


class ClusterTopology(_Strict):
    """Servers of ``chips_per_node`` chips, joined inside the node and by a fat tree.

    ``intra_node``: ``switch`` (every chip to one switch, NVSwitch-like), ``pcie-tree``
    (chips under PCIe switches under the host) or ``host`` (chips hang off the host, CPU
    sockets joined by ``intra_link``).
    """

    kind: Literal["cluster"]
    nodes: Count = Field(1, description="servers (a size parameter: the app and CLI override it)")
    chips_per_node: Small = Field(description="chips in one server")
    intra_node: Literal["switch", "pcie-tree", "host"] = Field(description="how chips in a server are joined")
    intra_link: str = Field(description="name of the link type joining chips in a server")
    chips_per_pcie_switch: Small = Field(4, description="chips under one PCIe switch (pcie-tree)")
    host_link: str = Field(description="link type from chip or PCIe switch to host / NIC")
    nics_per_node: Small = Field(description="network cards per server (one per GPU on DGX)")
    network_link: str = Field(description="link type of the network between servers")
    switch_radix: Annotated[int, Field(ge=4, le=1024, strict=True)] = Field(40, description="ports per network switch")
    switch_latency_s: Latency = Field(1e-7, description="added to every link leaving a network switch")
    spine_radix: Annotated[int, Field(ge=0, le=1024, strict=True)] = Field(
        0, description="ports per spine and core switch, 4 or more; 0: the same as switch_radix")
    rail_optimized: bool = Field(True, strict=True, description="with one NIC per chip, NIC i of every server joins the "
                                 "leaf switches of rail i (rail-optimized); false: a server's NICs share a leaf")
    switch_reduction: bool = Field(False, strict=True, description="the server's switch reduces in the switch "
                                   "(NVLink SHARP on third-generation NVSwitch): enables the nvls algorithm")
    network_reduction: bool = Field(False, strict=True, description="the network switches reduce in the network "
                                    "(InfiniBand SHARP): enables the collnet algorithm")


    @model_validator(mode="after")
    def _spine_radix(self) -> "ClusterTopology":
        if 0 < self.spine_radix < 4:
            raise FieldValueError("topology.spine_radix", self.spine_radix, "0 (same as switch_radix) or 4 to 1024 ports")
        return self


class TorusTopology(_Strict):
    """Chips on a 2D or 3D torus of direct links (TPU pods)."""

    kind: Literal["torus"]
    dims: Annotated[list[Annotated[int, Field(ge=1, le=64, strict=True)]], Field(min_length=1, max_length=3)] = Field(
        description="chips along each dimension, e.g. [4, 4, 4]")
    torus_link: str = Field(description="link type between neighbouring chips")


class WaferTopology(_Strict):
    """One or more wafers; each talks to its host (and external memory) over ``io_link``."""

    kind: Literal["wafer"]
    wafers: Count = Field(1, description="wafers (a size parameter)")
    io_link: str = Field(description="link type from the wafer to its host and external memory")
    network_link: str = Field("", description="link type joining the hosts of several wafers")


Topology = Annotated[Union[ClusterTopology, TorusTopology, WaferTopology], Field(discriminator="kind")]


class ArchitectureSpec(_Strict):
    """A whole architecture: what a preset or a user's TOML file holds."""

    schema_version: Literal[1] = Field(description="file format version")
    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")] = Field(
        description="short name: lower-case letters, digits, dot, dash, underscore")
    name: Annotated[str, Field(min_length=1, max_length=120)] = Field(description="title shown to users")
    description: str = Field("", description="plain-language explanation for students")
    chip: ChipSpec = Field(description="the chip every device uses")
    links: dict[str, LinkSpec] = Field(description="link types by name, referred to by the topology")
    topology: Topology = Field(description="how chips are joined; kind = cluster, torus or wafer")
    sources: dict[str, str] = Field(default_factory=dict, description="field path -> public source")

    @model_validator(mode="after")
    def _links_exist(self) -> "ArchitectureSpec":
        topo = self.topology
        names = {
            "cluster": ("intra_link", "host_link", "network_link"),
            "torus": ("torus_link",),
            "wafer": ("io_link", "network_link"),
        }[topo.kind]
        for field in names:
            ref = getattr(topo, field)
            if ref == "" and field == "network_link":
                continue
            if ref not in self.links:
                allowed = ", ".join(sorted(self.links)) or "(no links defined)"
                raise FieldValueError(f"topology.{field}", ref, f"names a link that is not defined; defined links: {allowed}")
        if self.chip.cores > self.chip.core_rows * self.chip.core_cols:
            raise FieldValueError("chip.cores", self.chip.cores,
                                  f"at most core_rows x core_cols = {self.chip.core_rows * self.chip.core_cols}")
        return self

    @property
    def chip_count(self) -> int:
        """How many chips (devices) the default topology parameters give."""
        topo = self.topology
        if topo.kind == "cluster":
            return topo.nodes * topo.chips_per_node
        if topo.kind == "torus":
            n = 1
            for d in topo.dims:
                n *= d
            return n
        return topo.wafers
