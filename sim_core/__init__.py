"""Meshscope's simulation core: fabrics, routing and the step engine. Never imports Qt.

Typical use::

    from sim_core import load_architecture, build_fabric, Engine
    fabric = build_fabric(load_architecture("dgx-a100"), nodes=2)
    eng = Engine(fabric, chunk_bytes=1 << 20, seed=0)
    m = eng.send(fabric.device_node(0), fabric.device_node(8), 1e9)
    eng.run_until_idle()
    release_s, finish_s = eng.message_times([m])
"""
from sim_core.engine.core import Engine
from sim_core.errors import SpecError
from sim_core.fabric.arrays import DIRS, NODE_KINDS, Fabric
from sim_core.spec.loader import architecture_to_toml, load_architecture, preset_ids
from sim_core.fabric.routing import Router
from sim_core.spec.link_kinds import LINK_KIND_NAMES, LINK_KINDS
from sim_core.spec.schema import ArchitectureSpec
from sim_core.fabric.build import build_fabric, build_mesh_fabric

from sim_core.version import __version__

__all__ = [
    "Engine", "SpecError", "Fabric", "NODE_KINDS", "DIRS", "LINK_KINDS", "LINK_KIND_NAMES", "ArchitectureSpec", "Router",
    "load_architecture", "preset_ids", "architecture_to_toml", "build_fabric", "build_mesh_fabric",
]


def __getattr__(name):
    """``sim_core.sweep(grid)`` and ``sim_core.plan(...)``, loaded on first use (they bring Dask and pandas)."""
    if name in ("sweep", "plan"):
        import importlib

        module = importlib.import_module("sim_core.sweep")
        return module if name == "sweep" else module.plan
    raise AttributeError(f"module 'sim_core' has no attribute {name!r}")
