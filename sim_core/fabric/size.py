"""How big an architecture instance is: the one place a chip count, a power budget or a
"size" becomes topology arguments.

A cluster is sized in servers (``nodes``), a torus by its ``dims``, a wafer system in
``wafers``; ``tiles`` is the drawn mesh of each chip (a resolution, not a size). Every
caller (command line, training projections, comparisons, the app's scenarios) resolves
sizes here, so the same request gives the same fabric everywhere and a request that does
not fit the topology is one ``SpecError`` with the same wording.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sim_core.errors import SpecError

TORUS_MAX_SIDE = 64


@dataclass(frozen=True)
class FabricSize:
    """One size knob per topology kind (the others None) and the drawn tiles per chip."""

    nodes: int | None = None
    dims: tuple[int, ...] | None = None
    wafers: int | None = None
    tiles: tuple[int, int] | None = None

    # ------------------------------------------------------------------ resolving requests
    @classmethod
    def of(cls, spec, *, nodes=None, dims=None, wafers=None, tiles=None, source: str = "size") -> "FabricSize":
        """The size asked for with explicit knobs; a knob for another topology kind, or a
        count below 1, is refused naming ``source``. Unset knobs keep the preset's default."""
        kind = spec.topology.kind
        for name, value, wanted in (("nodes", nodes, "cluster"), ("dims", dims, "torus"), ("wafers", wafers, "wafer")):
            if value is None:
                continue
            if kind != wanted:
                raise SpecError(source, name, value, f"only for {wanted} presets; {spec.id} is a {kind}")
            values = list(value) if name == "dims" else [value]
            if any((not isinstance(v, int)) or isinstance(v, bool) or v < 1 for v in values):
                raise SpecError(source, name, value, "whole numbers of at least 1 (zero chips cannot run anything)")
        if tiles is not None:
            tiles = tuple(int(t) for t in tiles)
            if len(tiles) != 2:
                raise SpecError(source, "tiles", tiles, "ROWSxCOLS, e.g. 4x8")
        return cls(nodes=nodes, dims=tuple(dims) if dims is not None else None, wafers=wafers, tiles=tiles)

    @classmethod
    def of_count(cls, spec, count: int | None = None, dims=None, tiles=None, source: str = "size") -> "FabricSize":
        """A single "size" number as the topology reads it: servers of a cluster, wafers of a
        wafer system (a torus takes ``dims``; ``count`` is ignored there)."""
        kind = spec.topology.kind
        return cls.of(spec, nodes=count if kind == "cluster" else None, wafers=count if kind == "wafer" else None,
                      dims=dims if kind == "torus" else None, tiles=tiles, source=source)

    @classmethod
    def for_chips(cls, spec, chips: int, tiles=None, source: str = "chips") -> "FabricSize":
        """Exactly ``chips`` devices: whole servers, a torus of at most 4 x 16 x 64 (x fastest),
        or that many wafers; other counts are refused with what is allowed."""
        topo = spec.topology
        if chips < 1:
            raise SpecError(source, "chips", chips, "at least 1 chip")
        if topo.kind == "cluster":
            if chips % topo.chips_per_node:
                raise SpecError(source, "chips", chips, f"a multiple of {topo.chips_per_node} (whole servers)")
            return cls(nodes=chips // topo.chips_per_node, tiles=tiles)
        if topo.kind == "torus":
            dims, rest = [], chips
            for cap in (4, 16, TORUS_MAX_SIDE):
                d = min(cap, rest)
                dims.append(d)
                rest //= d
                if rest <= 1:
                    break
            if math.prod(dims) != chips:
                raise SpecError(source, "chips", chips, "a torus of at most 4 x 16 x 64 (powers of two)")
            return cls(dims=tuple(dims), tiles=tiles)
        return cls(wafers=chips, tiles=tiles)

    @classmethod
    def for_power(cls, spec, power_W: float, source: str = "power") -> "FabricSize":
        """The most chips whose power is at most ``power_W``: whole servers (a multiple of 8
        from 16 servers up, so plans can split them), tori as 4 x 16 x k, whole wafers."""
        n = int(power_W // spec.chip.power_W)
        topo = spec.topology
        if n < 1:
            raise SpecError(source, "power", power_W, f"at least one {spec.chip.name} ({spec.chip.power_W:.0f} W)")
        if topo.kind == "cluster":
            nodes = max(1, n // topo.chips_per_node)
            return cls(nodes=nodes - nodes % 8 if nodes >= 16 else nodes)
        if topo.kind == "torus":
            return cls(dims=(4, 16, max(1, min(TORUS_MAX_SIDE, n // 64))) if n >= 64 else (max(1, n),))
        return cls(wafers=max(1, min(1024, n)))

    @classmethod
    def at_least(cls, spec, devices: int, tiles=None) -> "FabricSize":
        """The smallest instance with at least ``devices`` chips that the topology builds
        naturally (whole servers; a cube or a line of chips; one wafer holds its own mesh)."""
        topo = spec.topology
        if topo.kind == "cluster":
            return cls(nodes=max(1, math.ceil(devices / topo.chips_per_node)), tiles=tiles)
        if topo.kind == "torus":
            side = max(2, round(devices ** (1 / 3)))
            return cls(dims=(side,) * 3 if side ** 3 == devices else (min(TORUS_MAX_SIDE, max(2, devices)),), tiles=tiles)
        return cls(wafers=1, tiles=tiles)

    @classmethod
    def of_fabric(cls, fabric) -> "FabricSize":
        """The size a built fabric has (its spec's kind decides which knob)."""
        kind = fabric.spec.topology.kind
        if kind == "cluster":
            return cls(nodes=fabric.n_chips // fabric.spec.topology.chips_per_node)
        if kind == "torus":
            return cls(dims=tuple(fabric.torus_dims))
        return cls(wafers=fabric.n_chips)

    # ------------------------------------------------------------------ using a size
    def chips(self, spec) -> int:
        """How many devices this size gives on ``spec`` (the preset's default where unset)."""
        topo = spec.topology
        if topo.kind == "cluster":
            return (self.nodes or topo.nodes) * topo.chips_per_node
        if topo.kind == "torus":
            return math.prod(self.dims or topo.dims)
        return self.wafers or topo.wafers

    def kwargs(self) -> dict:
        """Keyword arguments of ``build_fabric`` (only the knobs that are set)."""
        out = {}
        if self.nodes is not None:
            out["nodes"] = self.nodes
        if self.dims is not None:
            out["dims"] = list(self.dims)
        if self.wafers is not None:
            out["wafers"] = self.wafers
        return out

    def with_tiles(self, tiles) -> "FabricSize":
        return FabricSize(self.nodes, self.dims, self.wafers, tuple(tiles) if tiles is not None else None)

    def build(self, spec, **physics):
        """The fabric of ``spec`` at this size; ``physics``: build_fabric's what-if scales."""
        from sim_core.fabric.build import build_fabric
        return build_fabric(spec, tiles=self.tiles, **self.kwargs(), **physics)

    def describe(self, spec) -> str:
        """``"2 servers (16 chips)"``, ``"4x4x4 torus (64 chips)"``, ``"1 wafer"``: singular and plural right."""
        n = self.chips(spec)
        chips = f"{n:,} chip{'s' if n != 1 else ''}"
        topo = spec.topology
        if topo.kind == "cluster":
            k = self.nodes or topo.nodes
            return f"{k:,} server{'s' if k != 1 else ''} ({chips})"
        if topo.kind == "torus":
            return f"{'x'.join(map(str, self.dims or topo.dims))} torus ({chips})"
        k = self.wafers or topo.wafers
        return f"{k:,} wafer{'s' if k != 1 else ''}"
